#!/usr/bin/env python3
"""Replicated batch writes (`serve --replicate`, one command per
`POST /v2/facts/batch`) on the 3-broker mock cluster against the anchor,
one unreplicated `hakgal serve` taking the same batches, in one run.

    HAKGAL_BIN=build/hakgal HK_KAFKA_MOCK_BIN=build/hk_kafka_mock \\
        python3 bench/repl_batch.py [--rounds 3] [--seconds 10] \\
        [--clients 3] [--batch 10000] [--behind 1000000] \\
        [--sync-ms 100] [--phases throughput,lag,catchup] \\
        [--nodes-bin MAIN] [--main-bin MAIN] [--catchup-bin MAIN] [--no-single] \\
        [--prefill 3000000] [--perf-out FILE --perf-round 1]

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
cluster and the clients share 2 cores with other work). Also per thread
group of each node (HTTP loops, apply thread, librdkafka's threads...,
/proc/PID/task), of the mock cluster and of the clients (this process),
and the facts per apply transaction. --sync-ms is the nodes'
--replicate-sync-ms (0: every apply commit fsyncs). --nodes-bin runs a
second cluster of 3 nodes of another binary (main's, say) on its own mock
cluster, each phase alternating with ours, so both KBs grow alike.
--prefill N first writes the same facts to every cluster until its KB
holds N (batches through all 3 nodes, then every node caught up), so a
catch-up-only run measures at N + 1M, N + 2M... with both KBs of one size.
--perf-out records `perf record -g --call-graph dwarf` of the catching-up
node's apply thread (from its start) in round --perf-round, into FILE.ours
(and FILE.main with --nodes-bin).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from test_replication_follow import Mock  # noqa: E402
from bench_util import (lag_probe, metric, post_batch, thread_cpu,  # noqa
                        thread_cpu_diff, thread_id, written)

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
    t0, k0 = time.time(), time.process_time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    throughput.client_cpu = time.process_time() - k0  # bodies not included
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


def with_bin(binary, make):
    """make() with test_server_api's binary set to binary (if any)."""
    if not binary:
        return make()
    import test_server_api
    ours, test_server_api.BIN = test_server_api.BIN, binary
    try:
        return make()
    finally:
        test_server_api.BIN = ours


class Cluster:
    """Three replicated nodes of one binary on a mock cluster of their own,
    and what the rounds measured on them."""

    def __init__(self, name, binary, sync_ms):
        self.name, self.binary, self.sync_ms = name, binary, sync_ms
        self.mock = Mock()
        self.url = "kafka://%s/%s" % (self.mock.bootstrap, TOPIC)
        self.nodes = []
        self.nodes = [self.node(n) for n in (1, 2, 3)]
        self.rep, self.rep_us, self.catch, self.catch_us = [], [], [], []
        self.p50s, self.p99s = [], []

    def node(self, n, data=None, wait=True, binary=None):
        return with_bin(binary or self.binary, lambda: Server(
            args=["--replicate", self.url, "--node-id", str(n),
                  "--replicate-timeout-ms", "60000",
                  "--replicate-max-lag", "4000000000",
                  "--replicate-sync-ms", str(self.sync_ms)],
            data=data, wait=wait))

    def stop(self):
        for s in self.nodes:
            s.stop()
            s.cleanup()
        self.mock.stop()


def apply_txns(s):
    st, _, d = s.request("GET", "/v2/stream/status")
    return d.get("replica", {}).get("apply_txns", -1)


def run_throughput(cl, a, r):
    nodes = cl.nodes
    c0 = cpus(nodes)
    w0 = [written(x.proc.pid) for x in nodes]
    t0 = [thread_cpu(x.proc.pid) for x in nodes]
    x0 = [apply_txns(x) for x in nodes]
    m0 = cpu(cl.mock.proc.pid)
    rr, n = throughput(nodes, a.clients, a.seconds, a.batch,
                       "%s%d" % (cl.name, r))
    m1 = cpu(cl.mock.proc.pid)
    cl.rep.append(rr)
    cl.rep_us.append([(x - y) * 1e6 / n for x, y in zip(cpus(nodes), c0)])
    wb = [(written(x.proc.pid) - y) / n for x, y in zip(nodes, w0)]
    txns = [apply_txns(x) - y for x, y in zip(nodes, x0)]
    for i, x in enumerate(nodes):
        print("  round %d %s node %d CPU us/fact by thread: %s" %
              (r, cl.name, i + 1,
               thread_cpu_diff(thread_cpu(x.proc.pid), t0[i], n)),
              flush=True)
    print("  round %d %s replicated: %.0f facts/s; CPU us/fact: nodes %s "
          "(each applies every fact); mock cluster %.2f, clients (this "
          "process) %.2f; bytes written/fact %s; facts per apply txn %s; "
          "KB now %d facts; load %.1f" %
          (r, cl.name, rr, [round(x, 1) for x in cl.rep_us[-1]],
           (m1 - m0) * 1e6 / n, throughput.client_cpu * 1e6 / n,
           [round(x) for x in wb],
           [round(n / t) if t > 0 else -1 for t in txns],
           facts_of(nodes[0]), os.getloadavg()[0]), flush=True)


def settle(nodes):
    """Waits until every node has applied the whole log."""
    for s in nodes:
        while repl_lag(s) != 0:
            time.sleep(0.05)


def prefill(cl, a):
    """Writes batches through the 3 nodes until the KB holds a.prefill."""
    have = facts_of(cl.nodes[0])
    need = max(0, a.prefill - have)
    n = (need + a.batch - 1) // a.batch
    pre = bodies("%spf" % cl.name, n, a.batch)
    t0 = time.time()

    def run(c):
        conn = cl.nodes[c % 3].conn(timeout=300)
        for b in pre[c::3]:
            post_batch(conn, b)
        conn.close()
    ts = [threading.Thread(target=run, args=(c,)) for c in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    settle(cl.nodes)
    print("%s: prefilled %d facts in %.1f s; KB now %d facts" %
          (cl.name, n * a.batch, time.time() - t0, facts_of(cl.nodes[0])),
          flush=True)


def run_catchup(cl, a, r):
    nodes = cl.nodes
    c = nodes[2]
    c.stop()
    fill = bodies("%sc%d" % (cl.name, r), (a.behind + a.batch - 1) // a.batch,
                  a.batch)
    conn = nodes[0].conn(timeout=300)
    for b in fill:
        post_batch(conn, b)
    conn.close()
    want = digest(nodes[0])
    t0 = time.time()
    alt = a.catchup_bin if r % 2 else None
    nodes[2] = cl.node(3, data=c.data, wait=False, binary=alt)
    perf = None
    if a.perf_out and r == a.perf_round:
        # the apply thread, as soon as it exists (perf -p would miss the
        # threads started after it)
        tid = None
        while tid is None and time.time() - t0 < 30:
            tid = thread_id(nodes[2].proc.pid, "hk-repl-apply")
            time.sleep(0.005)
        perf = subprocess.Popen(
            ["perf", "record", "-g", "--call-graph", "dwarf,16384", "-F",
             "499", "-t", str(tid), "-o",
             "%s.%s" % (a.perf_out, cl.name)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    nodes[2].wait_ready()
    ready = time.time() - t0
    while repl_lag(nodes[2]) != 0:
        time.sleep(0.02)
    took = time.time() - t0
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(120)
    nf = len(fill) * a.batch
    cl.catch_us.append(cpu(nodes[2].proc.pid) * 1e6 / nf)
    flt = minflt(nodes[2].proc.pid) / nf
    txns = apply_txns(nodes[2])
    print("  round %d %s catch-up CPU us/fact on C by thread (start-up "
          "included): %s; facts per apply txn %s" %
          (r, cl.name, thread_cpu_diff(thread_cpu(nodes[2].proc.pid), {}, nf),
           round(nf / txns) if txns > 0 else -1), flush=True)
    got = digest(nodes[2])
    if got != want:
        raise RuntimeError("C differs after catch-up: %s %s" % (got, want))
    cl.catch.append(nf / took)
    print("round %d %s: catch-up %d facts in %.2f s = %.0f facts/s (ready "
          "after %.2f s; %.1f CPU "
          "us/fact on C, start-up included; %.3f minor faults/fact; C: %s; "
          "KB now %d facts; load %.1f)" %
          (r, cl.name, nf, took, nf / took, ready, cl.catch_us[-1], flt,
           alt or cl.binary or "HAKGAL_BIN", facts_of(nodes[0]),
           os.getloadavg()[0]), flush=True)


def report(cl, a):
    if cl.rep:
        print("%s: replicated (3 nodes) batch facts/s: median %.0f  %s; "
              "CPU us/fact each node median %.1f" %
              (cl.name, statistics.median(cl.rep), [round(x) for x in cl.rep],
               statistics.median([x for r in cl.rep_us for x in r])))
    if cl.p50s:
        print("%s: lag A->C at %d facts/s: p50 median %.1f ms %s, p99 median "
              "%.1f ms %s" % (cl.name, a.rate, statistics.median(cl.p50s),
                              [round(x, 1) for x in cl.p50s],
                              statistics.median(cl.p99s),
                              [round(x, 1) for x in cl.p99s]))
    if cl.catch:
        print("%s: catch-up facts/s (incl. start-up): median %.0f  %s; CPU "
              "us/fact on C median %.1f %s" %
              (cl.name, statistics.median(cl.catch),
               [round(x) for x in cl.catch], statistics.median(cl.catch_us),
               [round(x, 1) for x in cl.catch_us]))


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
    ap.add_argument("--nodes-bin", default="",
                    help="also run 3 replicated nodes of this binary (say, "
                    "main's) on a mock cluster of their own, each phase "
                    "alternating with ours in every round (theirs first)")
    ap.add_argument("--catchup-bin", default="",
                    help="restart the catching-up node with this binary in "
                    "odd rounds (even rounds: $HAKGAL_BIN), to compare two "
                    "builds' catch-up in one run")
    ap.add_argument("--prefill", type=int, default=0,
                    help="fill every cluster's KB to this many facts first")
    ap.add_argument("--perf-out", default="",
                    help="perf record the catching-up node into FILE.NAME")
    ap.add_argument("--perf-round", type=int, default=1)
    ap.add_argument("--single", action="store_true",
                    help="throughput of the unreplicated anchors only")
    ap.add_argument("--no-single", action="store_true",
                    help="no unreplicated anchor")
    a = ap.parse_args()
    phases = set(a.phases.split(","))
    clusters = []
    if not a.single:
        if a.nodes_bin:
            clusters.append(Cluster("main", a.nodes_bin, a.sync_ms))
        clusters.append(Cluster("ours", "", a.sync_ms))
    anchor = None if a.no_single else Server()
    other = with_bin(a.main_bin, Server) if a.main_bin else None

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
    oth, oth_us, anc, anc_us = [], [], [], []
    try:
        if a.prefill:
            for cl in clusters:
                prefill(cl, a)
        for r in range(a.rounds):
            if "throughput" in phases:
                if other:
                    x, us, _ = single(other, r, "main")
                    oth.append(x)
                    oth_us.append(us)
                if anchor:
                    x, us, _ = single(anchor, r, "a")
                    anc.append(x)
                    anc_us.append(us)
                for cl in clusters:
                    run_throughput(cl, a, r)
            if "lag" in phases:
                for cl in clusters:
                    p50, p99 = lag(cl.nodes[0], cl.nodes[2], a.rate,
                                   a.probes, "%sl%d" % (cl.name, r))
                    cl.p50s.append(p50)
                    cl.p99s.append(p99)
                    print("round %d %s: lag p50 %.1f ms p99 %.1f ms" %
                          (r, cl.name, p50, p99), flush=True)
            if "catchup" in phases:
                for cl in clusters:
                    run_catchup(cl, a, r)
    finally:
        for s in [anchor, other]:
            if s:
                s.stop()
                s.cleanup()
        for cl in clusters:
            cl.stop()
    print("load average %.1f %.1f %.1f; --replicate-sync-ms %d" %
          (os.getloadavg() + (a.sync_ms,)))
    if oth:
        print("main-bin anchor batch facts/s:       median %.0f  %s; CPU "
              "us/fact %s" % (statistics.median(oth), [round(x) for x in oth],
                              [round(x, 1) for x in oth_us]))
        if anc:
            print("anchor / main-bin anchor per round: %s" %
                  [round(x / y, 2) for x, y in zip(anc, oth)])
    if anc:
        print("anchor (1 node) batch facts/s:       median %.0f  %s; CPU "
              "us/fact %s" % (statistics.median(anc), [round(x) for x in anc],
                              [round(x, 1) for x in anc_us]))
    for cl in clusters:
        report(cl, a)
    if len(clusters) == 2:
        m, o = clusters
        for what, x, y in (("batch", o.rep, m.rep),
                           ("catch-up", o.catch, m.catch)):
            if x and y:
                print("ours / main, %s, per round: %s" %
                      (what, [round(p / q, 2) for p, q in zip(x, y)]))


if __name__ == "__main__":
    main()
