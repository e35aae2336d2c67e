#!/usr/bin/env python3
"""Replicated nodes (`serve --replicate`) on the 3-broker mock cluster
against the anchor, one unreplicated `hakgal serve`, in one run.

    HAKGAL_BIN=build/hakgal HK_KAFKA_MOCK_BIN=build/hk_kafka_mock \\
        python3 bench/repl_nodes.py [--rounds 3] [--seconds 5] \\
        [--clients 8] [--fill 10]

Measures, each a median over --rounds rounds:
  1. single-fact write throughput: --clients HTTP clients POST /v2/facts for
     --seconds, spread over the 3 replicated nodes (--ack applied), and the
     same clients against the anchor; facts acknowledged per second.
  2. end-to-end lag: one fact a time written on node A (--ack log), the
     time until GET /v2/facts/{id} on node C finds it; p50 and p99.
  3. catch-up: node C stopped while A and B take writes for --fill
     seconds, then started again; commands applied per second (from its
     start, start-up included) until its lag is 0.
"""
import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from test_replication_follow import Mock  # noqa: E402
from bench_util import lag_probe, metric  # noqa: E402

TOPIC = "hakgal.replica"


def throughput(nodes, clients, seconds, tag):
    count = [0] * clients
    stop = time.time() + seconds

    def run(c):
        s = nodes[c % len(nodes)]
        conn = s.conn()
        i = 0
        while time.time() < stop:
            body = '{"statement":"T(%s_%d_%d)"}' % (tag, c, i)
            conn.request("POST", "/v2/facts", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status in (200, 201, 202):
                count[c] += 1
            i += 1
        conn.close()
    ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / (time.time() - t0)


def lag(a, c, n, tag):
    out = []
    ca, cc = a.conn(), c.conn()
    for i in range(n):
        out.append(lag_probe(ca, cc, tag, i))
    ca.close()
    cc.close()
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--fill", type=float, default=10,
                    help="seconds of writes while node C is down")
    a = ap.parse_args()
    mock = Mock()
    url = "kafka://%s/%s" % (mock.bootstrap, TOPIC)

    def node(n, data=None, ack="applied"):
        return Server(args=["--replicate", url, "--node-id", str(n),
                            "--ack", ack], data=data)
    nodes = [node(1), node(2), node(3)]
    logn = node(4, ack="log")
    anchor = Server()
    rep, anc, p50s, p99s, catch = [], [], [], [], []
    try:
        for r in range(a.rounds):
            anc.append(throughput([anchor], a.clients, a.seconds, "a%d" % r))
            rep.append(throughput(nodes, a.clients, a.seconds, "r%d" % r))
            p50, p99 = lag(logn, nodes[2], 100, "l%d" % r)
            p50s.append(p50)
            p99s.append(p99)
            # catch-up of C: stopped while A and B take writes for
            # --fill seconds, then started again
            c = nodes[2]
            c.stop()
            throughput(nodes[:2], a.clients, a.fill, "c%d" % r)
            t0 = time.time()
            nodes[2] = node(3, data=c.data)
            while metric(nodes[2], "hakgal_repl_lag_messages", 0.0) > 0:
                time.sleep(0.01)
            done = metric(nodes[2], "hakgal_repl_applied_total", 0.0)
            print("round %d: anchor %.0f/s, replicated %.0f/s, lag p50 %.1f "
                  "ms p99 %.1f ms, catch-up %.0f commands in %.2f s" %
                  (r, anc[-1], rep[-1], p50, p99, done, time.time() - t0),
                  flush=True)
            catch.append(done / (time.time() - t0))
    finally:
        for s in nodes + [logn, anchor]:
            s.stop()
        mock.stop()
    load = os.getloadavg()[0]
    print("load average %.1f" % load)
    print("anchor (1 node, no replication) single-fact writes/s: median "
          "%.0f  %s" % (statistics.median(anc), [round(x) for x in anc]))
    print("replicated (3 nodes) single-fact writes/s:             median "
          "%.0f  %s" % (statistics.median(rep), [round(x) for x in rep]))
    print("ratio replicated/anchor: %.2f" %
          (statistics.median(rep) / statistics.median(anc)))
    print("lag A->C ms: p50 median %.1f, p99 median %.1f" %
          (statistics.median(p50s), statistics.median(p99s)))
    print("catch-up commands/s (incl. start-up): median %.0f  %s" %
          (statistics.median(catch), [round(x) for x in catch]))


if __name__ == "__main__":
    main()
