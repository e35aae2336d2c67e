#!/usr/bin/env python3
"""Live test of the TypeScript/JavaScript SDK (sdk/js): index.js is
type-checked (checkJs) and the test program (tests/live_test.ts) is
compiled with tsc --strict against index.d.ts, then run by node against a
real `hakgal serve`. tsc comes from sdk/js's lockfile
(bash scripts/test-setup.sh installs it)."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402

node = lib.need("node", "nodejs")
js = lib.sdk_dir("js")
tsc = os.path.join(js, "node_modules", ".bin", "tsc")
if not os.path.exists(tsc):
    lib.fail("%s missing: run bash scripts/test-setup.sh (npm ci in sdk/js)"
             % tsc)
# One output folder per build tree, inside the package so that the test's
# import of "hakgal-client" resolves to the package itself.
out = os.path.join(js, "build", hashlib.sha256(lib.TMP.encode()).hexdigest()[:12])
lib.run("tsc (index.js)", [tsc, "-p", os.path.join(js, "tsconfig.js.json")])
lib.run("tsc (live test)", [tsc, "-p", os.path.join(js, "tsconfig.json"),
                            "--outDir", out])
lib.live("js", [node, os.path.join(out, "tests", "live_test.js")])
