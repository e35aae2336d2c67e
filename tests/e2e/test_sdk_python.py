#!/usr/bin/env python3
"""Live test of the Python SDK (sdk/python) against a real `hakgal serve`:
add, batch, queries with cursors, search, graph, audit, errors, auth,
retries and timeouts (sdk/python/tests/live_test.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402

lib.live("python", [sys.executable, os.path.join(lib.sdk_dir("python"), "tests",
                                     "live_test.py")])
