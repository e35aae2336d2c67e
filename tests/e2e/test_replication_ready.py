#!/usr/bin/env python3
"""Readiness of a restarted replicated node (`serve --replicate`) and of a
restarted follower (`serve --follow --follow-max-lag N`) on the 3-broker
Kafka mock cluster (docs/STREAM.md, "Readiness and metrics").

What /readyz must say, checked through what /metrics says right after the
first 200 (the lag only falls while nothing is written, so what /metrics
reads after a 200 bounds what the node knew when it answered):
  - a caught-up node is ready with its log end known and its applied
    offset equal to it (and its applied offset is its KB's from the start,
    not 0 until it applies something);
  - a node a few batch commands behind (within --replicate-max-lag) is
    ready as soon as it knows the log's end, before it applied them: its
    readiness does not wait for the apply of what its first poll brought;
  - a node more commands behind than --replicate-max-lag is not ready
    before at most that many wait;
  - a follower that starts thousands of events behind is not ready before
    it knows how far behind it is and at most --follow-max-lag events
    wait (before the first fetch response its lag is unknown, not 0).
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import Server, run_tests  # noqa: E402
from test_replication_follow import (MOCK, Mock, NodesCase, have_client,  # noqa: E402,E501
                                     stop_servers)

SANITIZED = os.environ.get("HK_SANITIZED", "") in ("1", "ON", "TRUE", "true")
TOPIC = "hakgal.replica"
# Batch commands written while a node is down, each of BATCH facts: enough
# that their apply takes far longer (about 0.7 s here, several s under
# ASan) than the few ms between a 200 from /readyz and the /metrics read
# after it.
BEHIND = 20 if SANITIZED else 40
BATCH = 5000
# A restarted caught-up node answers 200 about 0.1 s after its start on
# this machine (bench/RESULTS.md, "Restart to ready"); the bound only
# catches a node that never gets ready, with room for an ASan build on a
# loaded 2-core machine.
READY_BOUND_S = 60


def metrics(s):
    st, _, text = s.request("GET", "/metrics")
    out = {}
    for x in text.splitlines():
        if x and not x.startswith("#"):
            k, v = x.rsplit(" ", 1)
            out[k] = float(v)
    return out


def first_ready(s):
    """Polls /readyz of s (started with wait=False) from its start until
    the first 200; returns (seconds, /metrics read right after it, the
    statuses seen before)."""
    t0 = time.time()
    seen = []
    while time.time() - t0 < READY_BOUND_S:
        if s.proc.poll() is not None:
            raise AssertionError("node exited:\n" + s.output())
        if s.port is None:
            for line in s.output().splitlines():
                if "listening on" in line:
                    s.port = int(line.split("listening on ")[1]
                                 .split()[0].rsplit(":", 1)[1])
        if s.port is not None:
            try:
                st, _, _ = s.request("GET", "/readyz", timeout=5)
            except OSError:
                st = None
            if st == 200:
                return time.time() - t0, metrics(s), seen
            if st is not None:
                seen.append(st)
        time.sleep(0.005)
    raise AssertionError("not ready within %d s:\n%s" %
                         (READY_BOUND_S, s.output()[-3000:]))


def batch_body(tag, n):
    return "\n".join(json.dumps({"statement": "B(%s, x%d)" % (tag, i)})
                     for i in range(n))


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class ReplicatedReady(NodesCase):

    def setUp(self):
        self.start_nodes(n=2)
        for i in range(20):
            st, _, b = self.nodes[0].request("POST", "/v2/facts",
                                             {"statement": "R(f%d)" % i})
            self.assertEqual(st, 201, b)
        self.wait_applied(self.nodes[1], self.log_end())

    def tearDown(self):
        self.stop_nodes()

    def log_end(self):
        """The log's end as node 1 (the writer, --ack applied) knows it:
        every command it acknowledged is below it."""
        st, _, b = self.nodes[0].request("GET", "/v2/stream/status")
        self.assertEqual(st, 200, b)
        return b["replica"]["log_end"]

    def wait_applied(self, s, end, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if metrics(s)["hakgal_repl_applied_offset"] >= end:
                return
            time.sleep(0.05)
        self.fail("node did not apply up to %d:\n%s" %
                  (end, s.output()[-3000:]))

    def write_batches(self, tag):
        conn = self.nodes[0].conn(timeout=300)
        for k in range(BEHIND):
            conn.request("POST", "/v2/facts/batch",
                         body=batch_body("%s%d" % (tag, k), BATCH),
                         headers={"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
        conn.close()

    def stop_node2(self):
        """Stops node 2; its KB stays for start_again."""
        old = self.nodes[1]
        self.assertEqual(old.stop(), 0, old.output()[-3000:])
        self.dead.append(old)
        return old

    def start_again(self, old, extra=()):
        """Node 2 again on old's KB, not waiting until it is ready."""
        s = Server(args=["--replicate", self.url, "--node-id", "2"] +
                   self.node_extra + list(extra), data=old.data, wait=False)
        self.nodes[1] = s
        return s

    def test_caught_up_node_is_ready_with_the_log_end_known(self):
        end = self.log_end()
        self.assertGreater(end, 0)
        old = self.stop_node2()
        s = self.start_again(old)
        took, m, _ = first_ready(s)
        # ready because it knows the log's end and nothing waits
        self.assertEqual(m["hakgal_repl_log_end_offset"], end)
        self.assertEqual(m["hakgal_repl_applied_offset"], end)
        self.assertEqual(m["hakgal_repl_lag_messages"], 0)
        self.assertEqual(m["hakgal_repl_applied_total"], 0)
        self.assertLess(took, READY_BOUND_S)

    def test_node_within_the_bound_is_ready_before_it_applied(self):
        old = self.stop_node2()
        before = self.log_end()
        self.write_batches("w")
        end = self.log_end()
        self.assertEqual(end - before, BEHIND)
        s = self.start_again(old)
        _, m, _ = first_ready(s)
        # it knew the log's end and the lag counted the waiting commands;
        # its readiness did not wait until it had applied them
        self.assertEqual(m["hakgal_repl_log_end_offset"], end)
        self.assertLess(m["hakgal_repl_applied_offset"], end)
        self.assertEqual(m["hakgal_repl_lag_messages"],
                         end - m["hakgal_repl_applied_offset"])
        self.assertLessEqual(m["hakgal_repl_lag_messages"], 1000)
        self.wait_applied(s, end)
        m = metrics(s)
        self.assertEqual(m["hakgal_repl_lag_messages"], 0)
        st, _, d1 = self.nodes[0].request("GET", "/v2/digest")
        st, _, d2 = s.request("GET", "/v2/digest")
        self.assertEqual(d1, d2)
        self.assertEqual(d2["facts"], 20 + BEHIND * BATCH)

    def test_node_beyond_the_bound_is_not_ready_before_it_caught_up(self):
        old = self.stop_node2()
        self.write_batches("v")
        end = self.log_end()
        s = self.start_again(old, ["--replicate-max-lag", "5"])
        _, m, _ = first_ready(s)
        self.assertGreaterEqual(m["hakgal_repl_applied_offset"], end - 5)
        self.assertLessEqual(m["hakgal_repl_lag_messages"], 5)
        self.assertEqual(m["hakgal_repl_log_end_offset"], end)


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class FollowerReady(unittest.TestCase):

    def setUp(self):
        self.mock = Mock()
        self.url = "kafka://%s/%s" % (self.mock.bootstrap, TOPIC)
        self.a = Server(args=["--stream", self.url])
        self.b = Server(args=["--follow", self.url])
        self.dead = []

    def tearDown(self):
        stop_servers(self, (self.a, self.b), self.dead, self.mock)

    def published(self):
        """Waits until A published every event of its outbox."""
        deadline = time.time() + 120
        while time.time() < deadline:
            st, _, b = self.a.request("GET", "/v2/stream/status")
            if b["backlog"] == 0:
                return
            time.sleep(0.02)
        self.fail("A did not publish its events")

    def test_follower_is_not_ready_before_it_knows_its_lag(self):
        st, _, b = self.a.request("POST", "/v2/facts",
                                  {"statement": "F(first)"})
        self.assertEqual(st, 201, b)
        self.published()
        deadline = time.time() + 60
        while metrics(self.b).get("hakgal_follow_applied_total", 0) < 1:
            self.assertLess(time.time(), deadline, self.b.output())
            time.sleep(0.02)
        old = self.b
        self.assertEqual(old.stop(), 0, old.output()[-3000:])
        self.dead.append(old)
        # 3000 events behind (one per fact of the batch)
        st, _, b = self.a.request("POST", "/v2/facts/batch",
                                  batch_body("f", 3000), headers={
                                      "Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 200, b)
        self.published()
        self.b = Server(args=["--follow", self.url, "--follow-max-lag", "10"],
                        data=old.data, wait=False)
        _, m, _ = first_ready(self.b)
        # it was ready only once at most 10 events waited: it had applied
        # the others already (this process applied them all: none before)
        self.assertLessEqual(m["hakgal_follow_lag_messages"], 10)
        self.assertGreaterEqual(m["hakgal_follow_applied_total"], 3000 - 10)


if __name__ == "__main__":
    run_tests(__name__)
