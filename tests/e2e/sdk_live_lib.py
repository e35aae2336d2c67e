"""Shared driver of the SDK live tests (tests/e2e/test_sdk_*.py).

Each test starts a real `hakgal serve` on a free port with a token file
(a write token, a read token, --read-auth) and a small misbehaving HTTP
server (the "flaky" server: 503/429 with Retry-After, then success; an
endpoint that always answers 503; one that answers too late), then runs
the SDK's own test program with:

  HAKGAL_URL         the real server, e.g. http://127.0.0.1:41234
  HAKGAL_TOKEN       a write token
  HAKGAL_READ_TOKEN  a read-only token
  HAKGAL_FLAKY_URL   the misbehaving server

The program asserts the answers itself and exits non-zero on the first
failure. This driver then checks what only it can see: how many requests
the SDK sent to the flaky server and how long it waited between them.

A language whose toolchain is missing fails the test (exit 1) with the
package to install: SDK tests never skip.
"""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import SRC, TMP, Server  # noqa: E402

WRITE_TOKEN = "sdk-writer-token-0123456789abcdef"
READ_TOKEN = "sdk-reader-token-fedcba9876543210"


class Flaky(http.server.ThreadingHTTPServer):
    """Records (path, time) of every request it gets."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FlakyHandler)
        self.log = []
        self.lock = threading.Lock()

    def hits(self, path):
        with self.lock:
            return [t for p, t in self.log if p == path]


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """GET /v2/stats: 503 (Retry-After: 1), then 429 (no Retry-After),
    then 200 {"facts": 42}. GET /v2/facts/1: always 503 busy
    (Retry-After: 0). GET /v2/facts/2: answers after 3 s."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        srv = self.server
        with srv.lock:
            srv.log.append((path, time.monotonic()))
            n = sum(1 for p, _ in srv.log if p == path)
        auth = self.headers.get("Authorization", "")
        if path == "/v2/stats":
            if auth != "Bearer " + WRITE_TOKEN:
                self.send_json(401, {"error": {"code": "unauthorized",
                                               "message": "no token",
                                               "detail": None}})
            elif n == 1:
                self.send_json(503, {"error": {"code": "busy",
                                               "message": "try later",
                                               "detail": None}},
                               [("Retry-After", "1")])
            elif n == 2:
                self.send_json(429, {"error": {"code": "rate_limited",
                                               "message": "slow down",
                                               "detail": None}})
            else:
                self.send_json(200, {"facts": 42})
        elif path == "/v2/facts/1":
            self.send_json(503, {"error": {"code": "busy",
                                           "message": "KB busy",
                                           "detail": None}},
                           [("Retry-After", "0")])
        elif path == "/v2/facts/2":
            time.sleep(3)
            try:
                self.send_json(404, {"error": {"code": "not_found",
                                               "message": "late",
                                               "detail": None}})
            except OSError:
                pass
        else:
            self.send_json(404, {"error": {"code": "not_found",
                                           "message": "no such route",
                                           "detail": None}})


# Every route and query parameter the SDKs send; checked against the
# server's /openapi.json so that an SDK cannot drift from the contract.
SDK_ROUTES = {
    ("post", "/v2/facts"): [],
    ("post", "/v2/facts/batch"): [],
    ("get", "/v2/facts/{id}"): [],
    ("put", "/v2/facts/{id}"): [],
    ("patch", "/v2/facts/{id}"): [],
    ("delete", "/v2/facts/{id}"): [],
    ("delete", "/v2/facts"): ["statement"],
    ("get", "/v2/facts/{id}/history"): ["limit"],
    ("get", "/v2/query"): ["q", "limit", "cursor"],
    ("post", "/v2/query"): [],
    ("get", "/v2/search"): ["q", "limit", "mode"],
    ("get", "/v2/entities/{name}"): ["limit", "cursor"],
    ("get", "/v2/graph/neighbours"): ["entity", "depth", "fanout",
                                      "max_edges"],
    ("get", "/v2/graph/path"): ["from", "to", "max_len", "k"],
    ("get", "/v2/audit"): ["limit", "before"],
    ("get", "/v2/stats"): [],
}


def check_contract(srv):
    """Fails unless /openapi.json declares every route and query parameter
    of SDK_ROUTES."""
    st, _, doc = srv.request("GET", "/openapi.json",
                             headers={"Authorization": "Bearer " +
                                      WRITE_TOKEN})
    if st != 200 or not isinstance(doc, dict):
        fail("GET /openapi.json: %s" % st)
    for (method, path), params in SDK_ROUTES.items():
        op = doc.get("paths", {}).get(path, {}).get(method)
        if op is None:
            fail("the SDKs call %s %s, which /openapi.json does not declare"
                 % (method.upper(), path))
        declared = {p.get("name") for p in
                    op.get("parameters", []) +
                    doc["paths"][path].get("parameters", [])
                    if p.get("in") == "query"}
        missing = [p for p in params if p not in declared]
        if missing:
            fail("%s %s: /openapi.json does not declare query parameter(s) %s"
                 % (method.upper(), path, ", ".join(missing)))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def need(tool, package):
    """The path of a tool, or a loud failure naming its Debian package."""
    path = shutil.which(tool)
    if not path:
        fail("%s not found: install %s (bash scripts/deps.sh)" %
             (tool, package))
    return path


def workdir(name):
    """A fresh directory for build products under $HK_TEST_TMP."""
    d = os.path.join(TMP, "sdk-" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def run(name, cmd, cwd=None, env=None, timeout=600):
    """Runs one build or test command, failing the test when it fails."""
    print("+ " + " ".join(cmd), flush=True)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, env=e, timeout=timeout)
    if p.returncode != 0:
        fail("%s: exit %d" % (name, p.returncode))


def live(name, cmd, cwd=None, env=None):
    """Starts the servers, runs the SDK's test program, checks retries."""
    os.makedirs(TMP, exist_ok=True)
    root = workdir(name + "-srv")
    tokens = os.path.join(root, "tokens.txt")
    with open(tokens, "w") as f:
        for who, role, tok in (("sdkw", "write", WRITE_TOKEN),
                               ("sdkr", "read", READ_TOKEN)):
            f.write("%s %s %s\n" %
                    (who, role, hashlib.sha256(tok.encode()).hexdigest()))
    srv = Server(["--tokens", tokens, "--read-auth"])
    try:
        check_contract(srv)
    except SystemExit:
        srv.kill()
        srv.cleanup()
        raise
    flaky = Flaky()
    t = threading.Thread(target=flaky.serve_forever, daemon=True)
    t.start()
    try:
        e = dict(env or {})
        e.update({
            "HAKGAL_URL": "http://127.0.0.1:%d" % srv.port,
            "HAKGAL_TOKEN": WRITE_TOKEN,
            "HAKGAL_READ_TOKEN": READ_TOKEN,
            "HAKGAL_FLAKY_URL": "http://127.0.0.1:%d" % flaky.server_port,
        })
        run(name + " live test", cmd, cwd=cwd, env=e)
        stats = flaky.hits("/v2/stats")
        if len(stats) != 3:
            fail("expected 3 requests to /v2/stats (503, 429, 200), got %d"
                 % len(stats))
        if stats[1] - stats[0] < 0.9:
            fail("Retry-After: 1 not honoured: retried after %.3f s" %
                 (stats[1] - stats[0]))
        busy = flaky.hits("/v2/facts/1")
        if len(busy) != 3:
            fail("expected 3 requests to /v2/facts/1 (max 2 retries), got %d"
                 % len(busy))
        # 0 when the client gave up before the request was read (a loaded
        # machine), never more than 1
        slow = flaky.hits("/v2/facts/2")
        if len(slow) > 1:
            fail("a timed-out request must not be retried: %d requests" %
                 len(slow))
    finally:
        flaky.shutdown()
        flaky.server_close()
        rc = srv.stop()
        out = srv.output()
        srv.cleanup()
    if rc != 0:
        fail("server exit %d:\n%s" % (rc, out))
    print("PASS: %s SDK live test" % name, flush=True)


def sdk_dir(lang):
    return os.path.join(SRC, "sdk", lang)
