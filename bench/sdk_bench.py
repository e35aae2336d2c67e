#!/usr/bin/env python3
"""SDK overhead: each SDK next to a bare client of the same language doing
the same requests, interleaved round by round against one `hakgal serve`.

  python3 bench/sdk_bench.py [--n 100000] [--page 1000] [--gets 2000]
                             [--rounds 5] [--bin build/hakgal]

Loads N facts (batches of 10000), then per round and side: pages through
all N facts (page size --page, every page decoded) and sends --gets
single GET /v2/facts/{id} over one keep-alive connection. Sides: C
(libhakgal-client vs bare libcurl + jansson, build/sdk_bench) and Python
(hakgal_client vs bare http.client + json). Prints medians and SDK/bare
ratios.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "sdk", "python"))
from hakgal_client import Client  # noqa: E402

PATTERN = "HasPart(?x, ?y)"


def start(binary, data):
    log = open(os.path.join(data, "server.log"), "wb")
    p = subprocess.Popen([binary, "serve", "--data", os.path.join(data, "kb"),
                          "--listen", "127.0.0.1:0", "--threads", "2",
                          "--max-limit", "10000"], stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(os.path.join(data, "server.log")) as f:
            for line in f:
                if "listening on" in line:
                    return p, int(line.split("listening on ")[1].split()[0]
                                  .rsplit(":", 1)[1])
        time.sleep(0.05)
    p.kill()
    raise SystemExit("server did not start")


def py_raw(port, page, gets):
    c = http.client.HTTPConnection("127.0.0.1", port)
    n, cursor = 0, None
    t0 = time.perf_counter()
    while True:
        qs = {"q": PATTERN, "limit": page}
        if cursor:
            qs["cursor"] = cursor
        c.request("GET", "/v2/query?" + urllib.parse.urlencode(qs))
        j = json.loads(c.getresponse().read())
        n += len(j["facts"])
        cursor = j["next_cursor"]
        if not cursor:
            break
    tp = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, gets + 1):
        c.request("GET", "/v2/facts/%d" % i)
        assert json.loads(c.getresponse().read())["id"] == i
    tg = time.perf_counter() - t0
    c.close()
    return n, tp, tg


def py_sdk(port, page, gets):
    kb = Client("http://127.0.0.1:%d" % port)
    t0 = time.perf_counter()
    n = sum(1 for _ in kb.query_all(PATTERN, page_size=page))
    tp = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, gets + 1):
        assert kb.get(i).id == i
    tg = time.perf_counter() - t0
    return n, tp, tg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "hakgal"))
    a = ap.parse_args()
    cbench = os.path.join(os.path.dirname(os.path.abspath(a.bin)), "sdk_bench")
    data = tempfile.mkdtemp(prefix="sdk-bench-")
    proc, port = start(a.bin, data)
    try:
        kb = Client("http://127.0.0.1:%d" % port)
        for lo in range(0, a.n, 10000):
            kb.batch(["HasPart(Thing%d, Part%d)" % (i, i % 1000)
                      for i in range(lo, min(a.n, lo + 10000))])
        res = {}
        out = subprocess.run([cbench, "http://127.0.0.1:%d" % port, PATTERN,
                              str(a.page), str(a.gets), str(a.rounds)],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            side, n, tp, tg = line.split()
            res.setdefault(side, []).append((int(n), float(tp), float(tg)))
        for r in range(a.rounds):  # alternating which side goes first
            sides = [("py-raw", py_raw), ("py-sdk", py_sdk)]
            for name, fn in (sides if r % 2 == 0 else sides[::-1]):
                res.setdefault(name, []).append(fn(port, a.page, a.gets))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)
    load = os.getloadavg()[0]
    print("N=%d page=%d gets=%d rounds=%d load1=%.1f" %
          (a.n, a.page, a.gets, a.rounds, load))
    print("%-7s %14s %12s" % ("side", "paged facts/s", "gets/s"))
    med = {}
    for side, rows in res.items():
        assert all(r[0] == a.n for r in rows), (side, rows)
        fps = statistics.median(r[0] / r[1] for r in rows)
        gps = statistics.median(a.gets / r[2] for r in rows)
        med[side] = (fps, gps)
        print("%-7s %14.0f %12.0f" % (side, fps, gps))
    for lang in ("c", "py"):
        s, r = med[lang + "-sdk"], med[lang + "-raw"]
        print("%s SDK/bare: paging %.2fx, gets %.2fx" %
              (lang, s[0] / r[0], s[1] / r[1]))


if __name__ == "__main__":
    main()
