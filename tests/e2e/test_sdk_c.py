#!/usr/bin/env python3
"""Live test of the C SDK (sdk/c, libhakgal-client): the test program
hkc_live_test, built by CMake next to hakgal (under ASan + UBSan in the
sanitizer build, with leak checking), run against a real `hakgal serve`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402
from test_server_api import BIN  # noqa: E402

prog = os.path.join(os.path.dirname(os.path.abspath(BIN)), "hkc_live_test")
if not os.path.exists(prog):
    lib.fail("%s missing: build the tree (make build)" % prog)
lib.live("c", [prog], env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1"})
