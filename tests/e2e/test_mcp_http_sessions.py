"""MCP over HTTP: a session belongs to the principal that created it.

With tokens configured, a session started with alice's bearer token is
unknown (404) to bob, for POST, GET and DELETE, and stays usable by alice.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

BIN = os.environ["HAKGAL_BIN"]
ROOT = os.path.join(os.environ.get("HK_TEST_TMP", "/tmp"),
                    "mcp-sessions-%d" % os.getpid())
shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
passed = 0


def check(cond, msg):
    global passed
    if not cond:
        print("FAIL: " + msg)
        sys.exit(1)
    passed += 1


tokens = os.path.join(ROOT, "tokens")
with open(tokens, "w") as f:
    for name, secret in (("alice", "alice-secret-1"), ("bob", "bob-secret-22")):
        f.write("%s write %s\n" % (name, hashlib.sha256(secret.encode()).hexdigest()))

log = open(os.path.join(ROOT, "serve.log"), "w+")
srv = subprocess.Popen([BIN, "serve", "--data", os.path.join(ROOT, "kb"),
                        "--listen", "127.0.0.1:0", "--tokens", tokens],
                       stderr=log)
try:
    port = None
    for _ in range(100):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    check(port is not None, "server started")

    def call(method, body, secret, sid=None, accept="application/json, text/event-stream"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        h = {"Content-Type": "application/json", "Accept": accept,
             "Authorization": "Bearer " + secret}
        if sid:
            h["Mcp-Session-Id"] = sid
        if body is not None:
            h["MCP-Protocol-Version"] = "2025-11-25"
        c.request(method, "/mcp", body=json.dumps(body) if body is not None else None,
                  headers=h)
        r = c.getresponse()
        data = r.read()
        out = (r.status, r.getheader("Mcp-Session-Id"), data)
        c.close()
        return out

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}}
    st, sid, _ = call("POST", init, "alice-secret-1")
    check(st == 200 and sid, "alice starts a session: %s %s" % (st, sid))
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    st, _, body = call("POST", ping, "bob-secret-22", sid)
    check(st == 404, "bob cannot use alice's session: %s %s" % (st, body))
    st, _, body = call("GET", None, "bob-secret-22", sid, accept="text/event-stream")
    check(st == 404, "bob cannot open alice's stream: %s %s" % (st, body))
    st, _, body = call("DELETE", None, "bob-secret-22", sid)
    check(st == 404, "bob cannot end alice's session: %s %s" % (st, body))
    st, _, body = call("POST", ping, "alice-secret-1", sid)
    check(st == 200 and b'"result"' in body, "alice still can: %s %s" % (st, body))
    st, _, body = call("DELETE", None, "alice-secret-1", sid)
    check(st == 200, "alice ends it: %s %s" % (st, body))
    st, _, body = call("POST", ping, "alice-secret-1", sid)
    check(st == 404, "ended session is gone: %s" % st)
finally:
    srv.terminate()
    srv.wait(timeout=30)
    shutil.rmtree(ROOT, ignore_errors=True)
print("ok: %d checks" % passed)
