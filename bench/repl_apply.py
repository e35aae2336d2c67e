#!/usr/bin/env python3
"""Apply CPU per replicated fact of two binaries on the same log, as the
KB grows: node A (ours) takes the writes, node B (ours) and node C
(--anchor-bin) only apply them, all three on one mock cluster.

    HAKGAL_BIN=build/hakgal HK_KAFKA_MOCK_BIN=build/hk_kafka_mock \\
        HK_TEST_TMP=DIR python3 bench/repl_apply.py \\
        --anchor-bin MAIN [--points 1000000,3000000,4600000] \\
        [--measure 300000] [--batch 10000] [--clients 2] [--sync-ms 0] \\
        [--perf-at 3000000 --perf-out FILE]

The facts are those of bench/repl_batch.py: `B(t_k, x_i)`, a new subject
per batch and the same --batch objects in every batch. The KB grows to
each point in --points (batches POSTed to A by --clients clients, not
measured), then --measure facts are POSTed and B's and C's CPU (user +
system, /proc/PID/stat, and the apply thread's alone, schedstat) is read
before the first and after both have applied the last. B and C see the
same commands in the same order at the same time, so the difference is
the binaries' apply cost alone (--sync-ms is both nodes'
--replicate-sync-ms; 0: every apply commit fsyncs). With --perf-at, the
measure phase of the first point at or above it runs `perf record -g
--call-graph dwarf` on B's apply thread into --perf-out.
"""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from test_replication_follow import Mock  # noqa: E402
from bench_util import post_batch, thread_cpu, thread_id  # noqa: E402
from repl_batch import bodies, cpu, facts_of, repl_lag, with_bin  # noqa

TOPIC = "hakgal.replica"


def node(url, n, sync_ms, binary=None):
    return with_bin(binary, lambda: Server(
        args=["--replicate", url, "--node-id", str(n),
              "--replicate-timeout-ms", "60000",
              "--replicate-max-lag", "4000000000",
              "--replicate-sync-ms", str(sync_ms)]))


def write(a, facts, size, clients, tag):
    """POSTs facts new facts to a in batches of size, clients at a time."""
    per = max(1, facts // size // clients)
    count = [0] * clients

    def run(c):
        conn = a.conn(timeout=300)
        for k in range(per):
            count[c] += post_batch(conn, bodies("%s_%d_%d" % (tag, c, k), 1,
                                                size)[0])
        conn.close()
    ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count)


def settle(nodes):
    until = time.time() + 600
    while time.time() < until:
        if all(repl_lag(n) == 0 for n in nodes):
            return
        time.sleep(0.02)
    raise RuntimeError("nodes did not catch up")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--anchor-bin", required=True)
    ap.add_argument("--points", default="1000000,3000000,4600000")
    ap.add_argument("--measure", type=int, default=300000)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--sync-ms", type=int, default=0)
    ap.add_argument("--perf-at", type=int, default=0)
    ap.add_argument("--perf-out", default="perf.data")
    a = ap.parse_args()
    mock = Mock()
    url = "kafka://%s/%s" % (mock.bootstrap, TOPIC)
    na = node(url, 1, a.sync_ms)
    nb = node(url, 2, a.sync_ms)
    nc = node(url, 3, a.sync_ms, a.anchor_bin)
    perf_done = False
    try:
        for p in (int(x) for x in a.points.split(",")):
            have = facts_of(na)
            if p > have:
                write(na, p - have, a.batch, a.clients, "g%d" % p)
                settle([na, nb, nc])
            kb = facts_of(nb)
            perf = None
            if a.perf_at and p >= a.perf_at and not perf_done:
                perf = subprocess.Popen(
                    ["perf", "record", "-g", "--call-graph", "dwarf,16384",
                     "-F", "499", "-t",
                     str(thread_id(nb.proc.pid, "hk-repl-apply")), "-o",
                     a.perf_out], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                time.sleep(1)
                perf_done = True
            b0, c0 = cpu(nb.proc.pid), cpu(nc.proc.pid)
            tb0, tc0 = thread_cpu(nb.proc.pid), thread_cpu(nc.proc.pid)
            t0 = time.time()
            n = write(na, a.measure, a.batch, a.clients, "m%d" % p)
            settle([nb, nc])
            wall = time.time() - t0
            b1, c1 = cpu(nb.proc.pid), cpu(nc.proc.pid)
            tb1, tc1 = thread_cpu(nb.proc.pid), thread_cpu(nc.proc.pid)
            if perf:
                perf.send_signal(signal.SIGINT)
                perf.wait(120)

            def us(x1, x0):
                return (x1 - x0) * 1e6 / n

            ab = us(tb1.get("hk-repl-apply", 0), tb0.get("hk-repl-apply", 0))
            ac = us(tc1.get("hk-repl-apply", 0), tc0.get("hk-repl-apply", 0))
            pb, pc = us(b1, b0), us(c1, c0)
            print("KB %d-%d, %d facts in %.1f s: node CPU us/fact anchor "
                  "%.2f ours %.2f (x%.2f); apply thread anchor %.2f ours "
                  "%.2f (x%.2f); load %.1f" %
                  (kb, kb + n, n, wall, pc, pb, pb / pc, ac, ab, ab / ac,
                   os.getloadavg()[0]), flush=True)
    finally:
        for s in (na, nb, nc):
            s.stop()
        mock.stop()


if __name__ == "__main__":
    main()
