#!/usr/bin/env python3
"""Restart to ready of a replicated node or follower that is caught up
or a few commands behind: how long after its process starts it answers
200 on GET /readyz. Compares binaries in one run, alternating, on one
mock cluster.

    HK_KAFKA_MOCK_BIN=build/hk_kafka_mock python3 bench/repl_ready.py \\
        [--mode replicate|follow] [--rounds 7] [--facts 200] \\
        [--prefill N] [--behind K] [--batch B] [--max-lag N] [--plain] \\
        BIN [BIN...]

Setup: a 3-broker mock cluster (tests/helpers/hk_kafka_mock) and a writer
run by the first BIN (`--replicate`, node 1; or `--stream` for --mode
follow) that takes --prefill facts in batches and --facts single facts;
one node per BIN (`--replicate --node-id 2..`, or `--follow`) applies
them and is stopped (SIGTERM). Each round the writer first takes --behind
commands (single facts, or batches of --batch facts; with --mode follow
each fact is one event), then every BIN's node is restarted in turn on
its KB, on a free port, and /readyz is polled every 2 ms from the process
start: the time to the first answer (the listener is up), to the first
200 (and the lag and progress /metrics shows right after it), and until
it applied everything. --plain also restarts a plain `hakgal serve` of
each BIN on a KB of its own (no Kafka). Prints each restart, then per
node the medians and the ratio of its ready median to the first BIN's.
"""
import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from test_replication_follow import Mock  # noqa: E402
import test_server_api  # noqa: E402

TOPIC = "hakgal.replica"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def readyz(port):
    """The status of GET /readyz, or None while nothing listens."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/readyz")
        r = c.getresponse()
        r.read()
        return r.status
    except OSError:
        return None
    finally:
        c.close()


def lag_of(port):
    """(lag, progress) from /metrics: a replicated node's applied offset,
    a follower's events applied by this process."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    m = {}
    for x in text.splitlines():
        if x and not x.startswith("#"):
            k, v = x.rsplit(" ", 1)
            m[k] = float(v)
    if "hakgal_follow_applied_total" in m:  # events this process applied
        return m["hakgal_follow_lag_messages"], \
            m["hakgal_follow_applied_total"] + m["hakgal_follow_skipped_total"]
    return m.get("hakgal_repl_lag_messages"), \
        m.get("hakgal_repl_applied_offset")


def restart(binary, data, args, log, end):
    """Starts binary on data; (s to first answer, s to first 200, s until
    its progress (lag_of) reached end, (lag, progress) at the first 200,
    proc)."""
    port = free_port()
    cmd = [binary, "serve", "--data", data, "--listen",
           "127.0.0.1:%d" % port, "--threads", "2"] + args
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log)
    first = None
    while time.perf_counter() - t0 < 60:
        st = readyz(port)
        now = time.perf_counter() - t0
        if st is not None and first is None:
            first = now
        if st == 200:
            lag0 = lag_of(port) if end else None
            while time.perf_counter() - t0 < 120:
                if end == 0 or lag_of(port)[1] >= end:
                    break
                time.sleep(0.002)
            return first, now, time.perf_counter() - t0, lag0, p
        if p.poll() is not None:
            raise RuntimeError("%s exited %d" % (binary, p.returncode))
        time.sleep(0.002)
    p.kill()
    raise RuntimeError("%s not ready in 60 s" % binary)


def stop(p):
    p.terminate()
    p.wait(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("replicate", "follow"),
                    default="replicate")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--facts", type=int, default=200)
    ap.add_argument("--prefill", type=int, default=0,
                    help="facts written first in batches of 10,000")
    ap.add_argument("--behind", type=int, default=1,
                    help="commands written before each round's restarts")
    ap.add_argument("--batch", type=int, default=1,
                    help="facts per such command (1: POST /v2/facts, "
                    "more: POST /v2/facts/batch)")
    ap.add_argument("--max-lag", type=int, default=0,
                    help="--replicate-max-lag / --follow-max-lag of the "
                    "restarted nodes (0: the default)")
    ap.add_argument("--plain", action="store_true",
                    help="each round also restarts every BIN as a plain "
                    "`hakgal serve` on a KB of its own (no Kafka): the "
                    "start-up that is not replication's")
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    mock = Mock()
    url = "kafka://%s/%s" % (mock.bootstrap, TOPIC)
    test_server_api.BIN = a.bins[0]
    if a.mode == "replicate":
        writer = Server(args=["--replicate", url, "--node-id", "1"])
    else:
        writer = Server(args=["--stream", url])
    nodes = []  # (bin, data, args, log)
    res = {b: ([], [], []) for b in a.bins}
    try:
        conn = writer.conn(timeout=300)
        for k in range(0, a.prefill, 10000):
            body = "\n".join('{"statement":"P(p%d, x%d)"}' % (k, i)
                              for i in range(min(10000, a.prefill - k)))
            conn.request("POST", "/v2/facts/batch", body=body,
                         headers={"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
        for i in range(a.facts):
            conn.request("POST", "/v2/facts",
                         body='{"statement":"R(f%d)"}' % i,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status in (200, 201), r.status
        for k, b in enumerate(a.bins):
            test_server_api.BIN = b
            args = (["--replicate", url, "--node-id", str(k + 2)]
                    if a.mode == "replicate" else ["--follow", url])
            if a.max_lag:
                args += ["--%s-max-lag" % a.mode, str(a.max_lag)]
            s = Server(args=args)
            # caught up: its lag is 0 once it read the writer's facts
            until = time.time() + 60
            while time.time() < until:
                st, _, d = s.request("GET", "/v2/digest")
                if d["facts"] == a.facts + a.prefill:
                    break
                time.sleep(0.05)
            s.stop()
            log = open(os.path.join(s.root, "restarts.log"), "ab")
            nodes.append((b, s.data, args, log, s))
        if a.plain:
            for b in a.bins:
                test_server_api.BIN = b
                s = Server()
                s.stop()
                log = open(os.path.join(s.root, "restarts.log"), "ab")
                nodes.append((b + " (plain)", s.data, [], log, s))
                res[b + " (plain)"] = ([], [], [])
        for r in range(a.rounds):
            # a new connection: the writer closes one left idle while the
            # nodes caught up (a large --prefill)
            conn.close()
            conn = writer.conn(timeout=300)
            for k in range(a.behind):
                if a.batch == 1:
                    body, path = '{"statement":"R(r%d_%d)"}' % (r, k), \
                        "/v2/facts"
                else:
                    body, path = "\n".join(
                        '{"statement":"B(r%d_%d, x%d)"}' % (r, k, i)
                        for i in range(a.batch)), "/v2/facts/batch"
                conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/json" if a.batch == 1
                    else "application/x-ndjson"})
                rr = conn.getresponse()
                rr.read()
                assert rr.status in (200, 201), rr.status
            # every command (event) of the round is in the log
            until = time.time() + 60
            while time.time() < until:
                st, _, d = writer.request("GET", "/v2/stream/status")
                if a.mode == "replicate" or d["backlog"] == 0:
                    break
                time.sleep(0.01)
            end = d["replica"]["log_end"] if a.mode == "replicate" \
                else a.behind
            for b, data, args, log, _ in nodes:
                first, ready, done, lag0, p = restart(
                    b.replace(" (plain)", ""), data, args, log,
                    end if args else 0)
                stop(p)
                res[b][0].append(first)
                res[b][1].append(ready)
                res[b][2].append(done)
                print("round %d %s: listening %.3f s, ready %.3f s ((lag, "
                      "progress) then %s), all applied %.3f s" %
                      (r, b, first, ready, lag0, done), flush=True)
    finally:
        writer.stop()
        for _, _, _, log, s in nodes:
            log.close()
        mock.stop()
    print("mode %s, load average %.2f" % (a.mode, os.getloadavg()[0]))
    base = statistics.median(res[a.bins[0]][1])
    for b in res:
        lis, rdy, done = res[b]
        print("%s: listening median %.3f s, ready median %.3f s (%s), "
              "ratio %.2f; all applied median %.3f s" %
              (b, statistics.median(lis), statistics.median(rdy),
               " ".join("%.2f" % x for x in rdy),
               statistics.median(rdy) / base, statistics.median(done)))
    for _, _, _, _, s in nodes:
        s.cleanup()
    writer.cleanup()


if __name__ == "__main__":
    main()
