#!/usr/bin/env python3
"""Reads that walk `by_arg` on a KB with heavy entities, ours against the
anchor binary side by side, and the store size of both after a compaction.

    HAKGAL_BIN=build/hakgal HK_TEST_TMP=/work/bigdata/x \\
        python3 bench/arg_reads.py --anchor-bin /work/anchor/hakgal \\
        [--hub 50000] [--objects 1000] [--per-object 300] [--rounds 15]

Both servers load the same facts through POST /v2/facts/batch (10,000 per
request):
  HasPart(computer, p_i), PartOf(p_i, computer)   i < --hub: `computer`
      holds 2 x --hub rows, at positions 0 and 1 (hundreds of chunks);
  MadeBy(p_i, m_(i % 100))                        100 makers, --hub/100
      rows each;
  B(t_k, x_j)                                      --objects entities x_j
      with --per-object rows each (the facts of bench/repl_batch.py).
Then every read below is sent --rounds times to each server in turn
(ours, anchor, ours, ...: the shared machine slows both alike) over a
kept-alive connection, and the median wall time per request is reported
with the ratio ours / anchor:
  entity      GET /v2/entities/computer?limit=10 (count of 2 x --hub rows
              and the first page)
  entity.x    GET /v2/entities/x7?limit=100 (a --per-object entity)
  pos.pred    GET /v2/query?q=HasPart(computer, ?x)&limit=100 (planner
              counts, then a (position, predicate) seek)
  pos1.pred   GET /v2/query?q=PartOf(?x, computer)&limit=100 (a seek to
              the middle of the entity's rows)
  pos1.walk   GET /v2/facts?entity=computer&position=1&limit=1000 (1000
              rows from the middle, across chunks)
  join        GET /v2/query?q=HasPart(computer, ?p), MadeBy(?p, ?m)
              &limit=1000 (adjacency walks of the join engine)
  count.m     GET /v2/entities/m5?limit=1 (count of a --hub/100 entity)
  search.p    GET /v2/search?q=p&limit=10 (the token "p" of the light
              symbols p_i: the search gathers the facts of ~1700 of them,
              3 rows each, until its 5000 candidates)
  search.x7   GET /v2/search?q=x7&limit=10 (the tokens "x" and "7": the
              facts of the --per-object entities x_j, heavy, and of the
              light symbols with a token "7")
On a 2-core machine shared with other work, run it under `taskset -c 1`
(the client and both servers on one core): unpinned, where the scheduler
puts each server decides the run (the same binary in both places differed
by x1.3-1.7 from one run to the next; pinned, x0.98-1.06). The two places
are not quite alike either (count.m ~8% slower in the first), so repeat
with the binaries swapped (HAKGAL_BIN <-> --anchor-bin) and take the
median of the runs' ratios.
Last, both servers stop, each KB is compacted by its own binary
(`hakgal compact`) and data.mdb's size is printed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
import test_server_api as tsa  # noqa: E402
from bench_util import post_batch  # noqa: E402


def batches(a):
    facts = []
    for i in range(a.hub):
        facts.append("HasPart(computer, p%d)" % i)
        facts.append("PartOf(p%d, computer)" % i)
        facts.append("MadeBy(p%d, m%d)" % (i, i % 100))
    for k in range(a.per_object):
        for j in range(a.objects):
            facts.append("B(t%d, x%d)" % (k, j))
    for o in range(0, len(facts), 10000):
        yield json.dumps([{"statement": f}
                          for f in facts[o:o + 10000]]).encode()


def start(binary):
    tsa.BIN = binary
    return tsa.Server()


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise AssertionError("%s: %d %s" % (path, r.status, body[:200]))
    return dt, body


def q(text, limit):
    return "/v2/query?q=%s&limit=%d" % (urllib.parse.quote(text), limit)


READS = [
    ("entity", "/v2/entities/computer?limit=10"),
    ("entity.x", "/v2/entities/x7?limit=100"),
    ("pos.pred", q("HasPart(computer, ?x)", 100)),
    ("pos1.pred", q("PartOf(?x, computer)", 100)),
    ("pos1.walk", "/v2/facts?entity=computer&position=1&limit=1000"),
    ("join", q("HasPart(computer, ?p), MadeBy(?p, ?m)", 1000)),
    ("count.m", "/v2/entities/m5?limit=1"),
    ("search.p", "/v2/search?q=p&limit=10"),
    ("search.x7", "/v2/search?q=x7&limit=10"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--anchor-bin", required=True)
    ap.add_argument("--hub", type=int, default=50000)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--per-object", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    ours_bin = os.environ.get("HAKGAL_BIN", "build/hakgal")
    bodies = list(batches(a))
    servers = {"ours": start(ours_bin), "anchor": start(a.anchor_bin)}
    bins = {"ours": ours_bin, "anchor": a.anchor_bin}
    try:
        for name, s in servers.items():
            c = s.conn(timeout=600)
            t0 = time.perf_counter()
            for b in bodies:
                post_batch(c, b)
            print("%s: loaded %d batches in %.1f s" %
                  (name, len(bodies), time.perf_counter() - t0), flush=True)
            c.close()
        conns = {n: s.conn(timeout=600) for n, s in servers.items()}
        # answers must agree (counts, the facts or rows of each page; ids
        # are equal: both servers took the same batches in order)
        for label, path in READS:
            got = {n: json.loads(get(c, path)[1]) for n, c in conns.items()}
            for g in got.values():
                g["facts"] = [(f["id"], f["statement"])
                              for f in g.get("facts") or []]
                if "results" in g:
                    g["results"] = [(h["score"], h["fact"]["id"],
                                     h["fact"]["statement"])
                                    for h in g["results"]]
            for key in ("count", "facts", "rows", "bindings", "results"):
                if got["ours"].get(key) != got["anchor"].get(key):
                    raise AssertionError("%s: %s differs: %.300r / %.300r" % (
                        label, key, got["ours"].get(key),
                        got["anchor"].get(key)))
            n = len(got["ours"].get("facts") or got["ours"].get("rows") or
                    got["ours"].get("results") or [])
            print("%s: %d facts or rows per answer" % (label, n))
        times = {(n, label): [] for n in conns for label, _ in READS}
        for _ in range(a.rounds):
            for label, path in READS:
                for n in ("ours", "anchor"):
                    for _ in range(5):
                        times[(n, label)].append(get(conns[n], path)[0])
        print("| read | ours ms (median) | anchor ms (median) | ours/anchor |")
        print("|---|---|---|---|")
        for label, _ in READS:
            o = statistics.median(times[("ours", label)]) * 1e3
            m = statistics.median(times[("anchor", label)]) * 1e3
            print("| %s | %.3f | %.3f | %.2f |" % (label, o, m, o / m),
                  flush=True)
        for c in conns.values():
            c.close()
    except BaseException:
        for s in servers.values():
            s.stop()
            s.cleanup()
        raise
    finally:
        for s in servers.values():
            s.stop()
    try:
        for name, s in servers.items():
            r = subprocess.run([bins[name], "compact", "--data", s.data],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode:
                raise AssertionError("%s compact: %s" % (name, r.stdout))
            size = os.path.getsize(os.path.join(s.data, "data.mdb"))
            print("%s: data.mdb after compact %d bytes (%.1f MiB)" %
                  (name, size, size / 2**20), flush=True)
    finally:
        for s in servers.values():
            s.cleanup()


if __name__ == "__main__":
    main()
