#!/usr/bin/env python3
"""Transitive closure: hakgal's rule engine next to SQLite's WITH RECURSIVE
on the same edges, in the same run (bench/RESULTS.md, "Rules").

For every graph: the edges are written as Edge(nI, nJ) statements and
imported into a fresh KB, and into an indexed SQLite table e(a, b) (file
database, WAL). Then, interleaved, REPS times each:
  sqlite  SELECT count(*) FROM (WITH RECURSIVE c(a, b) AS (SELECT a, b
          FROM e UNION SELECT c.a, e.b FROM c JOIN e ON e.a = c.b)
          SELECT * FROM c)
  hakgal  `hakgal reason --json`: eval_ms is the fixpoint (load the edges
          into memory, semi-naive evaluation) before storage
Both are also given as CPU seconds (SQLite: the Python process's CPU
time around the query; hakgal: the whole `reason` process's user + system
time, which includes opening the KB and the merge pass), since the
machine is shared and wall-clock time is inflated by other load.
The durable materialization (fixpoint, merge into rules.derived and
fsync) is the first `rule add` of the recursive rule into an empty
derived database; bytes per derived fact = growth of data.mdb / derived.
Then, on the same KB, build/rules_bench measures `why` of a depth-10
derived fact (on a 12-node chain KB) and one-edge add/delete with
maintenance.

usage: python3 bench/rules_closure.py [--bin build/hakgal] [--graphs
       chain:2000,random:100000] [--reps 3] [--out bench/out]
Graph specs: chain:N (N+1 nodes, N edges), random:M (M edges on M/2
nodes, each edge from a lower to a higher node at most 40 nodes on).
"""
import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

RULES = ["Path(?x, ?y) :- Edge(?x, ?y).",
         "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z)."]


def edges_of(spec):
    kind, n = spec.split(":")
    n = int(n)
    if kind == "chain":
        return [(i, i + 1) for i in range(n)]
    rnd = random.Random(20261204)
    nodes = max(2, n // 2)
    seen = set()
    while len(seen) < n:
        a = rnd.randrange(nodes - 1)
        b = min(nodes - 1, a + 1 + rnd.randrange(40))
        seen.add((a, b))
    return sorted(seen)


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(bin_, *args):
    t0 = time.time()
    run.c0 = child_cpu()
    p = subprocess.run([bin_] + list(args), capture_output=True, text=True)
    run.cpu = child_cpu() - run.c0
    dt = time.time() - t0
    if p.returncode != 0:
        sys.exit("%s: %s" % (args, p.stderr))
    return p.stdout, dt


def sqlite_closure(path):
    db = sqlite3.connect(path)
    t0, c0 = time.time(), time.process_time()
    n = db.execute("SELECT count(*) FROM (WITH RECURSIVE c(a, b) AS "
                   "(SELECT a, b FROM e UNION SELECT c.a, e.b FROM c "
                   "JOIN e ON e.a = c.b) SELECT * FROM c)").fetchone()[0]
    dt, cpu = time.time() - t0, time.process_time() - c0
    db.close()
    return n, dt, cpu


def load(bin_, edges, root):
    stmts = os.path.join(root, "edges.txt")
    with open(stmts, "w") as f:
        for a, b in edges:
            f.write("Edge(n%d, n%d)\n" % (a, b))
    kb = os.path.join(root, "kb")
    run(bin_, "init", "--data", kb)
    run(bin_, "import", "--data", kb, "--compact", "never", stmts)
    sq = os.path.join(root, "edges.sqlite")
    db = sqlite3.connect(sq)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE e(a INTEGER, b INTEGER)")
    db.executemany("INSERT INTO e VALUES (?, ?)", edges)
    db.execute("CREATE INDEX e_a ON e(a)")
    db.execute("CREATE INDEX e_b ON e(b)")
    db.commit()
    db.close()
    return kb, sq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/hakgal")
    ap.add_argument("--graphs", default="chain:2000,random:100000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    bench = os.path.join(os.path.dirname(a.bin), "rules_bench")
    os.makedirs(a.out, exist_ok=True)
    results = []
    for spec in a.graphs.split(","):
        root = tempfile.mkdtemp(prefix="rules-bench-", dir=a.tmp)
        try:
            edges = edges_of(spec)
            kb, sq = load(a.bin, edges, root)
            mdb = os.path.join(kb, "data.mdb")
            run(a.bin, "rule", "add", "--data", kb, RULES[0])
            size0 = os.path.getsize(mdb)
            out, wall = run(a.bin, "rule", "add", "--json", "--data", kb,
                            RULES[1])
            first_cpu = run.cpu
            first = json.loads(out)
            size1 = os.path.getsize(mdb)
            sq_t, hk_t, sq_c, hk_c, pairs = [], [], [], [], None
            for _ in range(a.reps):
                n, dt, cpu = sqlite_closure(sq)
                sq_t.append(dt)
                sq_c.append(cpu)
                pairs = n
                out, _ = run(a.bin, "reason", "--json", "--data", kb)
                hk_c.append(run.cpu)
                r = json.loads(out)
                hk_t.append(r["eval_ms"] / 1000.0)
            if r["derived"] != pairs:
                sys.exit("%s: hakgal derived %d, SQLite %d pairs" %
                         (spec, r["derived"], pairs))
            toggle = subprocess.run(
                [bench, "--data", kb, "--toggle", "Edge(n0, extra)",
                 "--reps", "11"], capture_output=True, text=True)
            tog = json.loads(toggle.stdout) if toggle.returncode == 0 \
                else None
            res = {
                "graph": spec, "edges": len(edges), "pairs": pairs,
                "sqlite_s": statistics.median(sq_t),
                "hakgal_fixpoint_s": statistics.median(hk_t),
                "ratio": statistics.median(sq_t) / statistics.median(hk_t),
                "sqlite_cpu_s": statistics.median(sq_c),
                "hakgal_reason_cpu_s": statistics.median(hk_c),
                "materialize_wall_s": wall,
                "materialize_eval_s": first["eval_ms"] / 1000.0,
                "materialize_store_s": first["store_ms"] / 1000.0,
                "materialize_cpu_s": first_cpu,
                "derived_per_s": first["derived"] / wall,
                "bytes_per_derived": (size1 - size0) / max(1, first["derived"]),
                "toggle_edge_median_ms": tog["median_ms"] if tog else None,
                "load1": os.getloadavg()[0],
            }
            results.append(res)
            print(json.dumps(res), flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    # why on a depth-10 derivation
    root = tempfile.mkdtemp(prefix="rules-bench-", dir=a.tmp)
    try:
        kb, _ = load(a.bin, edges_of("chain:11"), root)
        for rule in RULES:
            run(a.bin, "rule", "add", "--data", kb, rule)
        p = subprocess.run([bench, "--data", kb, "--why", "Path(n0, n10)",
                            "--reps", "1001"], capture_output=True, text=True)
        why = json.loads(p.stdout)
        print(json.dumps(why), flush=True)
        results.append(why)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    with open(os.path.join(a.out, "rules_closure.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
