#!/usr/bin/env python3
"""bench/hk_load.c, the load generator of the seed's load test, measures
what it claims (issue 17, item 7):
  1. against a real `hakgal serve`: it holds every connection it was asked
     for (the server's hakgal_connections_open agrees while it runs), the
     share of writes is the one asked for, every counted write is a new
     fact in the KB, and a healthy server shows no errors;
  2. answers with a non-2xx status are counted as errors, not latencies;
  3. connections refused (no server) are counted as errors.
Small numbers (300 connections, a few seconds): the 10,000-connection run
is a benchmark (bench/load/run.sh), not a test.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from test_server_api import BIN, Server  # noqa: E402

LOAD = os.path.join(os.path.dirname(os.path.abspath(BIN)), "hk_load")
TMP = os.environ.get("HK_TEST_TMP", "/tmp")
passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def hk_load(port, out, *args):
    cmd = [LOAD, "--port", str(port), "--json", out, "--ramp-s", "1",
           "--warmup-s", "0.5"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "hk_load exits 0: " + p.stderr)
    return json.load(open(out)), p.stdout


def metric(srv, name):
    _, _, text = srv.request("GET", "/metrics")
    m = re.search(r"^%s (\S+)$" % name, text, re.M)
    return float(m.group(1)) if m else None


def main():
    if not os.path.exists(LOAD):
        print("FAIL: %s missing (it is built with hakgal)" % LOAD)
        return 1
    os.makedirs(TMP, exist_ok=True)
    srv = Server()
    try:
        for i in range(50):
            srv.request("POST", "/v2/facts", {"statement": "Seed(s%d)" % i})
        before = metric(srv, "hakgal_facts")
        out = os.path.join(srv.root, "run.json")
        seen = []

        def watch():  # the server's view while the load runs
            time.sleep(2.5)
            seen.append(metric(srv, "hakgal_connections_open"))
        w = threading.Thread(target=watch)
        w.start()
        res, text = hk_load(srv.port, out, "--conns", "300", "--duration",
                            "3", "--think-ms", "100", "--write-pct", "20",
                            "--read", "/v2/facts/%u", "--id-max", "50")
        w.join()
        check("p99" in text and "300 connections" in text,
              "summary printed: " + text)
        check(res["open_max"] == 300, "300 connections held (%s)"
              % res["open_max"])
        check(seen and seen[0] is not None and seen[0] >= 300,
              "server counts them open (%s)" % seen)
        check(res["errors"] == 0, "no errors against a healthy server: %s"
              % res)
        total = res["reads"] + res["writes"]
        check(total > 1500, "about 300 x 10 requests/s: %d" % total)
        share = res["writes"] / total if total else 0
        check(0.15 < share < 0.25, "20 %% writes asked, %.3f sent" % share)
        after = metric(srv, "hakgal_facts")
        # Writes sent during ramp/warm-up and the last in flight also add
        # facts, so the KB grew by at least the counted writes.
        check(after - before >= res["writes"],
              "every counted write is a new fact (%d >= %d)"
              % (after - before, res["writes"]))
        p = res["lat_all"]
        check(0 < p["p50_ms"] <= p["p90_ms"] <= p["p99_ms"] <= p["max_ms"],
              "percentiles ordered: %s" % p)

        # ---- closed-loop POSTs of post.lua's shape (bench/writer/cpu.sh) ----
        def subject_facts():
            n = 0
            for u in ("u0", "u1"):
                _, _, e = srv.request("GET", "/v2/entities/%s?limit=1" % u)
                n += e["fact_count"]
            return n
        def settled():  # writes still queued when hk_load left land first
            n = metric(srv, "hakgal_facts")
            for _ in range(100):
                time.sleep(0.2)
                m = metric(srv, "hakgal_facts")
                if m == n:
                    break
                n = m
            return n
        before = settled()
        subj0 = subject_facts()
        res, _ = hk_load(srv.port, out, "--conns", "8", "--duration", "1",
                         "--think-ms", "0", "--write-pct", "100",
                         "--subjects", "2", "--source", "load-test")
        added = settled() - before
        check(res["errors"] == 0 and res["writes"] > 20 and res["reads"] == 0,
              "closed-loop writes without errors: %s" % res)
        check(added >= res["writes"],
              "every write a new fact (%d >= %d)" % (added, res["writes"]))
        check(subject_facts() - subj0 == added,
              "every new fact has subject u0 or u1 (%d of %d)"
              % (subject_facts() - subj0, added))
        _, _, page = srv.request("GET", "/v2/facts?order=newest&limit=5")
        newest = page["facts"]
        check(len(newest) == 5 and
              all(f["source"] == "load-test" for f in newest),
              "the facts carry --source: %s" % newest[:1])
        p = subprocess.run([LOAD, "--port", str(srv.port), "--source",
                            'a"b'], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 1 and "usage" in p.stderr,
              "a --source that needs JSON escaping is refused")

        # ---- status errors ----
        res, _ = hk_load(srv.port, out, "--conns", "20", "--duration", "1",
                         "--think-ms", "20", "--write-pct", "0",
                         "--read", "/v2/facts/999999")
        check(res["ok"] == 0 and res["status_errors"] > 100 and
              res["error_pct"] == 100.0, "404 answers are errors: %s" % res)
        check(srv.stop() == 0, "server stops cleanly")
    finally:
        srv.kill()
        srv.cleanup()

    # ---- refused connections ----
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    res, _ = hk_load(port, os.path.join(TMP, "load-refused-%d.json"
                                        % os.getpid()),
                     "--conns", "5", "--duration", "1", "--ramp-s", "0")
    check(res["ok"] == 0 and res["conn_errors"] >= 5,
          "refused connections are errors: %s" % res)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
