#!/usr/bin/env python3
"""Transitive closure: hakgal's rule engine next to SQLite's WITH RECURSIVE
on the same edges, in the same run (bench/RESULTS.md, "Rules").

For every graph: the edges are written as Edge(nI, nJ) statements and
imported into a fresh KB, and into an indexed SQLite table e(a, b) (file
database, WAL). Then, interleaved, REPS times each:
  sqlite  SELECT count(*) FROM (WITH RECURSIVE c(a, b) AS (SELECT a, b
          FROM e UNION SELECT c.a, e.b FROM c JOIN e ON e.a = c.b)
          SELECT * FROM c)
  hakgal  `rules_bench --reason flat`: the fixpoint (load the edges into
          memory, semi-naive evaluation) before storage, in an aborted
          write transaction
Both are also given as CPU seconds (SQLite: the Python process's CPU
time around the query; hakgal: the thread's CPU time around the
fixpoint), since the machine is shared and wall-clock time is inflated by
other load.
The durable materialization (fixpoint, merge into rules.derived and
fsync) is the first `rule add` of the recursive rule into an empty
derived database; bytes per derived fact = growth of data.mdb / derived.
Then, on the same KB, build/rules_bench measures `why` of a depth-10
derived fact (on a 12-node chain KB) and one-edge add/delete with
maintenance.

With --generic, every repetition also runs `rules_bench --reason
generic` (the generic evaluator of rules_fixpoint.c instead of the
id-level one of rules_flat.c), side by side.

usage: python3 bench/rules_closure.py [--bin build/hakgal] [--graphs
       chain:2000,random:100000] [--reps 3] [--out bench/out] [--generic]
       [--toggle-reps 11] [--no-why] [--sqlite-timeout SECONDS]
With --sqlite-timeout, SQLite's query is interrupted after that many wall
seconds: its times (and the ratios) are then lower bounds and "pairs" is
null ("sqlite_timed_out": true).
Graph specs: chain:N (N+1 nodes, N edges), random:M (a sparse random
DAG: M distinct edges between uniformly chosen nodes of 0.54 M, from the
lower to the higher; 300k edges -> 1.57M closure pairs as in the issue's
anchor),
rdfs:C:I (RDFS-style closure: C classes in a random tree, class i > 0
SubClassOf a random class below i, and I instances, each IsA one random
class; the ontology rules SubClassOf:transitive and SubClassOf:IsA derive
the rest; SQLite computes both closures with WITH RECURSIVE).
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
    # a sparse random DAG: M distinct edges between uniformly chosen
    # nodes, from the lower to the higher one, on 0.54 M nodes; the shape
    # of the anchors (300k edges -> 1,574,932 closure pairs, 1M ->
    # 5,271,435; SQLite's anchors: 1.58M and 4.66M)
    rnd = random.Random(20261204)
    nodes = max(2, int(n * 0.54))
    seen = set()
    while len(seen) < n:
        a, b = rnd.randrange(nodes), rnd.randrange(nodes)
        if a != b:
            seen.add((min(a, b), max(a, b)))
    return sorted(seen)


def rdfs_of(spec):
    _, c, i = spec.split(":")
    c, i = int(c), int(i)
    rnd = random.Random(20261204)
    sub = [(k, rnd.randrange(k)) for k in range(1, c)]
    isa = [(k, rnd.randrange(c)) for k in range(i)]
    return sub, isa


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(bin_, *args, env=None):
    t0 = time.time()
    run.c0 = child_cpu()
    p = subprocess.run([bin_] + list(args), capture_output=True, text=True,
                       env=env)
    run.cpu = child_cpu() - run.c0
    dt = time.time() - t0
    if p.returncode != 0:
        sys.exit("%s: %s" % (args, p.stderr))
    return p.stdout, dt


def sqlite_closure(path, timeout=0):
    """The closure count, wall and CPU seconds; with timeout > 0 the query
    is interrupted after that many wall seconds and the count is None
    (the times are then lower bounds)."""
    db = sqlite3.connect(path)
    t0, c0 = time.time(), time.process_time()
    if timeout > 0:
        db.set_progress_handler(
            lambda: 1 if time.time() - t0 > timeout else 0, 1000000)
    try:
        n = db.execute("SELECT count(*) FROM (WITH RECURSIVE c(a, b) AS "
                       "(SELECT a, b FROM e UNION SELECT c.a, e.b FROM c "
                       "JOIN e ON e.a = c.b) SELECT * FROM c)").fetchone()[0]
    except sqlite3.OperationalError:
        n = None
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


def reason_reps(a, kb, sq_fn, reps):
    """REPS interleaved rounds of the SQLite closure (sq_fn), the fixpoint
    of the id-level evaluator (rules_bench --reason flat: hkr_materialize
    in an aborted write txn, wall and thread CPU of the fixpoint, loading
    the facts included) and, with --generic, of the generic one; medians.
    """
    bench = os.path.join(os.path.dirname(a.bin), "rules_bench")
    m = {"sq": [], "sq_cpu": [], "hk": [], "hk_cpu": [], "gen": [],
         "gen_cpu": [], "hk_load_cpu": []}
    pairs = derived = None
    for _ in range(reps):
        pairs, dt, cpu = sq_fn()
        m["sq"].append(dt)
        m["sq_cpu"].append(cpu)
        out, _ = run(bench, "--data", kb, "--reason", "flat", "--reps", "1")
        r = json.loads(out)
        m["hk_cpu"].append(r["eval_cpu_ms"] / 1000.0)
        m["hk_load_cpu"].append(r["load_cpu_ms"] / 1000.0)
        m["hk"].append(r["eval_ms"] / 1000.0)
        derived = r["derived"]
        if a.generic:
            out, _ = run(bench, "--data", kb, "--reason", "generic", "--reps",
                         "1")
            g = json.loads(out)
            m["gen_cpu"].append(g["eval_cpu_ms"] / 1000.0)
            m["gen"].append(g["eval_ms"] / 1000.0)
            if g["derived"] != derived:
                sys.exit("generic derived %d, id-level %d" %
                         (g["derived"], derived))
    med = {k: statistics.median(v) if v else None for k, v in m.items()}
    res = {"pairs": pairs, "derived": derived,
           "sqlite_s": med["sq"], "hakgal_fixpoint_s": med["hk"],
           "ratio": med["sq"] / med["hk"],
           "sqlite_cpu_s": med["sq_cpu"], "hakgal_fixpoint_cpu_s": med["hk_cpu"],
           "ratio_cpu": med["sq_cpu"] / med["hk_cpu"],
           "hakgal_load_cpu_s": med["hk_load_cpu"],
           "ratio_cpu_join_only": med["sq_cpu"] /
           max(1e-6, med["hk_cpu"] - med["hk_load_cpu"])}
    if a.generic:
        res.update({"generic_fixpoint_s": med["gen"],
                    "generic_fixpoint_cpu_s": med["gen_cpu"],
                    "speedup_vs_generic_cpu": med["gen_cpu"] / med["hk_cpu"]})
    return res


def rdfs_case(a, spec):
    root = tempfile.mkdtemp(prefix="rules-bench-", dir=a.tmp)
    try:
        sub, isa = rdfs_of(spec)
        load1 = os.getloadavg()[0]
        stmts = os.path.join(root, "facts.txt")
        with open(stmts, "w") as f:
            for x, c in isa:
                f.write("IsA(i%d, c%d)\n" % (x, c))
            for c, d in sub:
                f.write("SubClassOf(c%d, c%d)\n" % (c, d))
        kb = os.path.join(root, "kb")
        run(a.bin, "init", "--data", kb)
        # the import's commit materializes (the ontology rules are on as
        # soon as a SubClassOf fact is)
        _, imp_wall = run(a.bin, "import", "--data", kb, "--compact", "never",
                          stmts)
        imp_cpu = run.cpu
        sq = os.path.join(root, "rdfs.sqlite")
        db = sqlite3.connect(sq)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE sub(a INTEGER, b INTEGER)")
        db.execute("CREATE TABLE isa(x INTEGER, c INTEGER)")
        db.executemany("INSERT INTO sub VALUES (?, ?)", sub)
        db.executemany("INSERT INTO isa VALUES (?, ?)", isa)
        db.execute("CREATE INDEX sub_a ON sub(a)")
        db.execute("CREATE INDEX isa_c ON isa(c)")
        db.commit()
        db.close()

        def sq_fn():
            db = sqlite3.connect(sq)
            t0, c0 = time.time(), time.process_time()
            n1 = db.execute(
                "SELECT count(*) FROM (WITH RECURSIVE s(a, b) AS (SELECT a, "
                "b FROM sub UNION SELECT s.a, sub.b FROM s JOIN sub ON "
                "sub.a = s.b) SELECT * FROM s)").fetchone()[0]
            n2 = db.execute(
                "SELECT count(*) FROM (WITH RECURSIVE i(x, c) AS (SELECT x, "
                "c FROM isa UNION SELECT i.x, sub.b FROM i JOIN sub ON "
                "sub.a = i.c) SELECT * FROM i)").fetchone()[0]
            dt, cpu = time.time() - t0, time.process_time() - c0
            db.close()
            return n1 + n2 - len(sub) - len(isa), dt, cpu

        res = reason_reps(a, kb, sq_fn, a.reps)
        if res["derived"] != res["pairs"]:
            sys.exit("%s: hakgal derived %d, SQLite %d" %
                     (spec, res["derived"], res["pairs"]))
        res.update({"graph": spec, "classes": len(sub) + 1,
                    "instances": len(isa),
                    "import_with_materialization_wall_s": imp_wall,
                    "import_with_materialization_cpu_s": imp_cpu,
                    "load1_start": load1, "load1": os.getloadavg()[0]})
        print(json.dumps(res), flush=True)
        return res
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/hakgal")
    ap.add_argument("--graphs", default="chain:2000,random:100000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--generic", action="store_true")
    ap.add_argument("--toggle-reps", type=int, default=11)
    ap.add_argument("--no-why", action="store_true")
    ap.add_argument("--sqlite-timeout", type=float, default=0,
                    help="interrupt SQLite's query after this many wall "
                    "seconds: its times become lower bounds")
    a = ap.parse_args()
    bench = os.path.join(os.path.dirname(a.bin), "rules_bench")
    os.makedirs(a.out, exist_ok=True)
    results = []
    for spec in a.graphs.split(","):
        if spec.startswith("rdfs:"):
            results.append(rdfs_case(a, spec))
            continue
        root = tempfile.mkdtemp(prefix="rules-bench-", dir=a.tmp)
        try:
            load1 = os.getloadavg()[0]
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
            res = reason_reps(a, kb,
                              lambda: sqlite_closure(sq, a.sqlite_timeout),
                              a.reps)
            if res["pairs"] is None:
                res["sqlite_timed_out"] = True
            elif res["derived"] != res["pairs"]:
                sys.exit("%s: hakgal derived %d, SQLite %d pairs" %
                         (spec, res["derived"], res["pairs"]))
            tog = None
            if a.toggle_reps > 0:
                toggle = subprocess.run(
                    [bench, "--data", kb, "--toggle", "Edge(n0, extra)",
                     "--reps", str(a.toggle_reps)], capture_output=True,
                    text=True)
                tog = json.loads(toggle.stdout) if toggle.returncode == 0 \
                    else None
            res.update({
                "graph": spec, "edges": len(edges),
                "materialize_wall_s": wall,
                "materialize_eval_s": first["eval_ms"] / 1000.0,
                "materialize_store_s": first["store_ms"] / 1000.0,
                "materialize_cpu_s": first_cpu,
                "derived_per_s": first["derived"] / wall,
                "bytes_per_derived": (size1 - size0) / max(1, first["derived"]),
                "toggle_edge_median_ms": tog["median_ms"] if tog else None,
                "load1_start": load1,
                "load1": os.getloadavg()[0],
            })
            results.append(res)
            print(json.dumps(res), flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    # why on a depth-10 derivation
    if not a.no_why:
        root = tempfile.mkdtemp(prefix="rules-bench-", dir=a.tmp)
        try:
            kb, _ = load(a.bin, edges_of("chain:11"), root)
            for rule in RULES:
                run(a.bin, "rule", "add", "--data", kb, rule)
            p = subprocess.run([bench, "--data", kb, "--why", "Path(n0, n10)",
                                "--reps", "1001"], capture_output=True,
                               text=True)
            why = json.loads(p.stdout)
            print(json.dumps(why), flush=True)
            results.append(why)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    with open(os.path.join(a.out, "rules_closure.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
