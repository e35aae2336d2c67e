#!/usr/bin/env python3
"""history_pages.py — GET /v2/facts/{id}/history over HTTP, this build
against an anchor binary, on copies of one KB (built by history_bench).

    history_pages.py ANCHOR_BIN NEW_BIN KB_DIR [REPS]

KB_DIR holds fact 1 with N audit entries (history_bench N KB_DIR). Each
server runs on its own copy (--max-limit 100000). Requests alternate
between the two servers, one connection each, REPS (default 21) rounds;
medians in microseconds of the whole request:

  newest   limit=10 on both (the new route also probes one entry beyond
           the page to decide next_before)
  depth D  a page of 10 entries D entries down: the new server by cursor
           (limit=10&before=SEQ), the anchor by limit=D+10, the only way
           it has; the response bodies' last 10 entries must be equal.
Each measured request follows an unmeasured GET /healthz to its server.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def start(binary, data):
    log = open(data + ".log", "wb")
    p = subprocess.Popen([binary, "serve", "--data", data, "--listen",
                          "127.0.0.1:0", "--threads", "1", "--max-limit",
                          "100000"], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(data + ".log", "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if "listening on" in line:
                    port = int(line.split("listening on ")[1].split()[0]
                               .rsplit(":", 1)[1])
                    return p, http.client.HTTPConnection("127.0.0.1", port,
                                                         timeout=60)
        time.sleep(0.05)
    p.kill()
    raise SystemExit("%s did not start" % binary)


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise SystemExit("%s: %d %s" % (path, r.status, body[:200]))
    return dt * 1e6, json.loads(body)


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    anchor, new, kb = sys.argv[1:4]
    reps = int(sys.argv[4]) if len(sys.argv) == 5 else 21
    copies = []
    procs = []
    try:
        for tag in ("anchor", "new"):
            d = kb.rstrip("/") + "-" + tag
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(kb, d)
            copies.append(d)
        pa, ca = start(anchor, copies[0])
        procs.append(pa)
        pn, cn = start(new, copies[1])
        procs.append(pn)
        _, top = get(cn, "/v2/facts/1/history?limit=1")
        head = top["entries"][0]["seq"]
        print("load average %s" % " ".join(open("/proc/loadavg").read()
                                             .split()[:3]))
        print("%-10s %12s %12s %8s" % ("page", "anchor_us", "new_us",
                                       "ratio"))
        for depth in (0, 1000, 10000):
            ta, tn = [], []
            for i in range(reps):
                if depth == 0:
                    pa_, pn_ = ("/v2/facts/1/history?limit=10",) * 2
                else:
                    pa_ = "/v2/facts/1/history?limit=%d" % (depth + 10)
                    pn_ = ("/v2/facts/1/history?limit=10&before=%d"
                           % (head - depth + 1))
                order = ((ca, pa_, ta), (cn, pn_, tn))
                if i % 2:
                    order = order[::-1]
                bodies = {}
                for conn, path, acc in order:
                    # An unmeasured /healthz to the same server first, for
                    # both: on a loaded 2-core machine the first request
                    # after the other server's long answer otherwise pays
                    # milliseconds of wake-up.
                    get(conn, "/healthz")
                    dt, b = get(conn, path)
                    acc.append(dt)
                    bodies[id(acc)] = b["entries"][-10:]
                if bodies[id(ta)] != bodies[id(tn)]:
                    raise SystemExit("depth %d: the pages differ" % depth)
            ma, mn = statistics.median(ta), statistics.median(tn)
            print("%-10s %12.0f %12.0f %8.2f" % ("newest" if depth == 0
                                                 else "depth %d" % depth,
                                                 ma, mn, ma / mn))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        for d in copies:
            shutil.rmtree(d, ignore_errors=True)
            try:
                os.unlink(d + ".log")
            except OSError:
                pass


if __name__ == "__main__":
    main()
