#!/usr/bin/env python3
"""Live test of the Go SDK (sdk/go): go vet and go test (malformed answers
from an httptest server), then the live test program
(sdk/go/cmd/livetest) built offline (GOFLAGS=-mod=mod GOPROXY=off, standard
library only) and run against a real `hakgal serve`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_live_lib as lib  # noqa: E402

go = lib.need("go", "golang-go")
src = lib.sdk_dir("go")
out = lib.workdir("go")
env = {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "on",
       "GOCACHE": os.path.join(lib.TMP, "go-cache"),
       "GOPATH": os.path.join(out, "gopath")}
lib.run("go vet", [go, "vet", "./..."], cwd=src, env=env)
lib.run("go test", [go, "test", "-count=1", "./..."], cwd=src, env=env)
binary = os.path.join(out, "livetest")
lib.run("go build", [go, "build", "-o", binary, "./cmd/livetest"], cwd=src,
        env=env)
lib.live("go", [binary])
