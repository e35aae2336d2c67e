#!/usr/bin/env python3
"""Replicated batch writes (`serve --replicate`, one command per
`POST /v2/facts/batch`) on the 3-broker mock cluster against the anchor,
one unreplicated `hakgal serve` taking the same batches, in one run.

    HAKGAL_BIN=build/hakgal HK_KAFKA_MOCK_BIN=build/hk_kafka_mock \\
        python3 bench/repl_batch.py [--rounds 3] [--seconds 10] \\
        [--clients 3] [--batch 10000] [--behind 1000000] \\
        [--sync-ms 100] [--phases throughput,lag,catchup]

Measures, each a median over --rounds rounds:
  1. batch throughput: --clients HTTP clients POST batches of --batch new
     facts for --seconds, spread over the 3 replicated nodes (--ack
     applied: answered once applied on the receiving node), and the same
     clients against the anchor; facts acknowledged per second.
  2. lag at --rate facts/s: while a background client sends batches of
     --rate/20 facts every 50 ms to node A, --probes single facts are
     written on A, each timed from its POST until GET on node C finds it
     (A's apply included); p50 and p99.
  3. catch-up: node C stopped while A takes --behind facts in batches,
     then started again; facts applied per second from the process start
     (start-up included) until its lag is 0 and its digest equals A's.
Bodies are built before the clock starts, so the client's JSON encoding
is not measured. Next to each wall rate the CPU time (user + system, from
/proc/PID/stat) of every process over the phase: per fact, it is what
decides the rate on a machine that is not shared (here 3 nodes, the mock
cluster and the clients share 2 cores with other work). --sync-ms is the
nodes' --replicate-sync-ms (0: every apply commit fsyncs).
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from test_replication_follow import Mock  # noqa: E402
from bench_util import lag_probe, metric, post_batch, written  # noqa: E402

TOPIC = "hakgal.replica"


TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """CPU seconds (user + system) process pid used so far."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def minflt(pid):
    """Minor page faults of process pid so far (fresh heap is one per
    4 KiB page touched)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def cpus(servers):
    return [cpu(s.proc.pid) for s in servers]


def facts_of(s):
    conn = s.conn(timeout=60)
    conn.request("GET", "/v2/stats")
    r = conn.getresponse()
    data = json.loads(r.read())
    conn.close()
    return data.get("facts", data.get("total_facts", -1))


def bodies(tag, n, size):
    return [json.dumps([{"statement": "B(%s_%d, x%d)" % (tag, k, i)}
                        for i in range(size)]).encode() for k in range(n)]


def throughput(nodes, clients, seconds, size, tag):
    # enough bodies for the fastest plausible rate
    per = max(4, int(seconds * 400000 / size / clients) + 1)
    pre = [bodies("%s_%d" % (tag, c), per, size) for c in range(clients)]
    count = [0] * clients
    stop = time.time() + seconds

    def run(c):
        conn = nodes[c % len(nodes)].conn(timeout=300)
        for b in pre[c]:
            if time.time() >= stop:
                break
            count[c] += post_batch(conn, b)
        conn.close()
    ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / (time.time() - t0), sum(count)


def lag(a, c, rate, probes, tag):
    stop = threading.Event()
    size = max(1, rate // 20)
    pre = bodies("bg" + tag, int(probes * 2) + 200, size)

    def background():
        conn = a.conn(timeout=300)
        t = time.time()
        for b in pre:
            if stop.is_set():
                break
            post_batch(conn, b)
            t += 0.05
            time.sleep(max(0.0, t - time.time()))
        conn.close()
    bg = threading.Thread(target=background)
    bg.start()
    out = []
    ca, cc = a.conn(), c.conn()
    try:
        for i in range(probes):
            out.append(lag_probe(ca, cc, tag, i))
            time.sleep(0.02)
    finally:
        stop.set()
        bg.join()
        ca.close()
        cc.close()
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]


def repl_lag(s):
    """Commands of the log not applied on s yet (GET /v2/stream/status:
    a short JSON answer, where /metrics formats every metric)."""
    st, _, d = s.request("GET", "/v2/stream/status")
    return d.get("replica", {}).get("lag", -1)


def digest(s):
    st, _, d = s.request("GET", "/v2/digest", timeout=300)
    return d["facts"], d["content"], d["audit"]["hash"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--behind", type=int, default=1000000)
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--sync-ms", type=int, default=100)
    ap.add_argument("--phases", default="throughput,lag,catchup")
    ap.add_argument("--main-bin", default="",
                    help="also run this binary (say, main's) as a second "
                    "unreplicated anchor, before ours in every round")
    ap.add_argument("--catchup-bin", default="",
                    help="restart the catching-up node with this binary in "
                    "odd rounds (even rounds: $HAKGAL_BIN), to compare two "
                    "builds' catch-up in one run")
    ap.add_argument("--single", action="store_true",
                    help="throughput of the unreplicated anchors only")
    a = ap.parse_args()
    phases = set(a.phases.split(","))
    mock = Mock()
    url = "kafka://%s/%s" % (mock.bootstrap, TOPIC)

    def node(n, data=None, wait=True, binary=None):
        if binary:
            import test_server_api
            ours, test_server_api.BIN = test_server_api.BIN, binary
            try:
                return node(n, data, wait)
            finally:
                test_server_api.BIN = ours
        return Server(args=["--replicate", url, "--node-id", str(n),
                            "--replicate-timeout-ms", "60000",
                            "--replicate-max-lag", "4000000000",
                            "--replicate-sync-ms", str(a.sync_ms)],
                      data=data, wait=wait)
    nodes = [] if a.single else [node(1), node(2), node(3)]
    anchor = Server()
    other = None
    if a.main_bin:
        import test_server_api
        ours, test_server_api.BIN = test_server_api.BIN, a.main_bin
        try:
            other = Server()
        finally:
            test_server_api.BIN = ours

    def single(s, r, name):
        c0, w0 = cpu(s.proc.pid), written(s.proc.pid)
        g0 = [metric(s, "hakgal_commit_group_size_" + x, -1.0)
              for x in ("sum", "count")]
        rate, n = throughput([s], a.clients, a.seconds, a.batch,
                             "%s%d" % (name, r))
        us = (cpu(s.proc.pid) - c0) * 1e6 / n
        wb = (written(s.proc.pid) - w0) / n
        g1 = [metric(s, "hakgal_commit_group_size_" + x, -1.0)
              for x in ("sum", "count")]
        print("  round %d %s: %.0f facts/s, %.1f CPU us/fact, %.0f bytes "
              "written/fact, %.2f batches/commit, KB now %d facts, load %.1f" %
              (r, name, rate, us, wb,
               (g1[0] - g0[0]) / max(1.0, g1[1] - g0[1]), facts_of(s),
               os.getloadavg()[0]), flush=True)
        return rate, us, n
    oth, oth_us = [], []
    rep, anc, catch, p50s, p99s = [], [], [], [], []
    anc_us, rep_us, catch_us = [], [], []  # CPU us per fact
    p50 = p99 = rr = ar = -1.0
    try:
        for r in range(a.rounds):
            if "throughput" in phases:
                if other:
                    x, us, _ = single(other, r, "main")
                    oth.append(x)
                    oth_us.append(us)
                ar, us, _ = single(anchor, r, "a")
                anc.append(ar)
                anc_us.append(us)
                if a.single:
                    continue
                c0 = cpus(nodes)
                w0 = [written(x.proc.pid) for x in nodes]
                rr, n = throughput(nodes, a.clients, a.seconds, a.batch,
                                   "r%d" % r)
                rep.append(rr)
                rep_us.append([(x - y) * 1e6 / n
                               for x, y in zip(cpus(nodes), c0)])
                wb = [(written(x.proc.pid) - y) / n
                      for x, y in zip(nodes, w0)]
                print("  round %d replicated: %.0f facts/s; CPU us/fact: "
                      "anchor %.1f; nodes %s (each applies every fact); "
                      "bytes written/fact %s; mock cluster total %.1f s" %
                      (r, rr, anc_us[-1], [round(x, 1) for x in rep_us[-1]],
                       [round(x) for x in wb], cpu(mock.proc.pid)),
                      flush=True)
            if "lag" in phases:
                p50, p99 = lag(nodes[0], nodes[2], a.rate, a.probes,
                               "l%d" % r)
                p50s.append(p50)
                p99s.append(p99)
            if "catchup" not in phases:
                print("round %d: anchor %.0f facts/s, replicated %.0f "
                      "facts/s, lag p50 %.1f ms p99 %.1f ms" %
                      (r, ar, rr, p50, p99), flush=True)
                continue
            c = nodes[2]
            c.stop()
            fill = bodies("c%d" % r, (a.behind + a.batch - 1) // a.batch,
                          a.batch)
            conn = nodes[0].conn(timeout=300)
            for b in fill:
                post_batch(conn, b)
            conn.close()
            want = digest(nodes[0])
            t0 = time.time()
            alt = a.catchup_bin if r % 2 else None
            nodes[2] = node(3, data=c.data, wait=False, binary=alt)
            nodes[2].wait_ready()
            while repl_lag(nodes[2]) != 0:
                time.sleep(0.02)
            took = time.time() - t0
            catch_us.append(cpu(nodes[2].proc.pid) * 1e6 /
                            (len(fill) * a.batch))
            flt = minflt(nodes[2].proc.pid) / (len(fill) * a.batch)
            got = digest(nodes[2])
            if got != want:
                raise RuntimeError("C differs after catch-up: %s %s" %
                                   (got, want))
            catch.append(len(fill) * a.batch / took)
            print("round %d: anchor %.0f facts/s, replicated %.0f facts/s, "
                  "lag p50 %.1f ms p99 %.1f ms, catch-up %d facts in %.2f s "
                  "(%.1f CPU us/fact on C, start-up included; %.3f minor "
                  "faults/fact; C: %s; load %.1f)" %
                  (r, ar, rr, p50, p99, len(fill) * a.batch, took,
                   catch_us[-1], flt, alt or "HAKGAL_BIN",
                   os.getloadavg()[0]),
                  flush=True)
    finally:
        for s in nodes + [anchor] + ([other] if other else []):
            s.stop()
            s.cleanup()
        mock.stop()
    print("load average %.1f %.1f %.1f; --replicate-sync-ms %d" %
          (os.getloadavg() + (a.sync_ms,)))
    if oth:
        print("main-bin anchor batch facts/s:       median %.0f  %s; CPU "
              "us/fact %s" % (statistics.median(oth), [round(x) for x in oth],
                              [round(x, 1) for x in oth_us]))
        print("anchor / main-bin anchor per round: %s" %
              [round(x / y, 2) for x, y in zip(anc, oth)])
    if anc:
        print("anchor (1 node) batch facts/s:       median %.0f  %s; CPU "
              "us/fact %s" % (statistics.median(anc), [round(x) for x in anc],
                              [round(x, 1) for x in anc_us]))
    if rep:
        print("replicated (3 nodes) batch facts/s:  median %.0f  %s" %
              (statistics.median(rep), [round(x) for x in rep]))
        print("ratio replicated/anchor: %.2f" %
              (statistics.median(rep) / statistics.median(anc)))
        print("CPU us/fact: anchor median %.1f; each replicated node "
              "median %.1f" % (statistics.median(anc_us),
                               statistics.median([x for r in rep_us
                                                  for x in r])))
    if p50s:
        print("lag A->C at %d facts/s: p50 median %.1f ms %s, p99 median "
              "%.1f ms %s" % (a.rate, statistics.median(p50s),
                              [round(x, 1) for x in p50s],
                              statistics.median(p99s),
                              [round(x, 1) for x in p99s]))
    if catch:
        print("catch-up facts/s (incl. start-up): median %.0f  %s; CPU "
              "us/fact on C median %.1f" %
              (statistics.median(catch), [round(x) for x in catch],
               statistics.median(catch_us)))


if __name__ == "__main__":
    main()
