#!/usr/bin/env python3
"""Unit tests of the Python SDK (malformed answers, keep-alive connections
closed by the server), then its live test against a real `hakgal serve`:
add, batch, queries with cursors, search, graph, audit, errors, auth,
retries and timeouts (sdk/python/tests/live_test.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402

lib.run("unit tests", [sys.executable, "-m", "unittest", "discover", "-s",
                      os.path.join(lib.sdk_dir("python"), "tests"),
                      "-p", "test_*.py"])
lib.live("python", [sys.executable, os.path.join(lib.sdk_dir("python"), "tests",
                                     "live_test.py")])
