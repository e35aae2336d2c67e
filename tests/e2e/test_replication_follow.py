#!/usr/bin/env python3
"""Followers: node A publishes its changes (`serve --stream`) to a topic of
a 3-broker Kafka mock cluster; nodes B and C apply them (`serve --follow`).
Their digests end equal to A's (same facts and metadata; the same number
of audit entries, so nothing was applied twice); a follower killed with
kill -9 at random points of a write load catches up exactly; malformed and
foreign messages on the topic are skipped with a log line and a metric.
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server, run_tests  # noqa: E402

MOCK = os.environ.get("HK_KAFKA_MOCK_BIN", "")
SANITIZED = os.environ.get("HK_SANITIZED", "") in ("1", "ON", "TRUE", "true")
TOPIC = "hakgal.replica"
KILLS = 6 if SANITIZED else 20


def have_client():
    r = subprocess.run(["/usr/bin/python3", "-c", "import confluent_kafka"],
                       capture_output=True)
    return r.returncode == 0


class Mock:
    def __init__(self):
        # one partition: the log order is the order of every change
        self.proc = subprocess.Popen([MOCK, "--topic", TOPIC + ":1"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        assert self.bootstrap, "mock cluster did not start"

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(30)


class NodesCase(unittest.TestCase):
    """Replicated nodes (`serve --replicate`) on a mock cluster of their
    own: start_nodes() in setUp, stop_nodes() in tearDown. Subclasses use
    self.mock, self.url, self.nodes (replaceable in place), self.dead
    (stopped nodes whose directories go at the end) and node()."""

    def start_nodes(self, n=3, timeout_ms=8000, tokens=None, env=None):
        self.node_extra = []
        if timeout_ms:
            self.node_extra += ["--replicate-timeout-ms", str(timeout_ms)]
        if tokens:
            self.node_extra += ["--tokens", tokens]
        self.node_env = env
        self.dead = []
        self.mock = Mock()
        self.url = "kafka://%s/%s" % (self.mock.bootstrap, TOPIC)
        self.nodes = [self.node(i) for i in range(1, n + 1)]

    def node(self, n, data=None, extra=()):
        return Server(args=["--replicate", self.url, "--node-id", str(n)] +
                      self.node_extra + list(extra),
                      env=self.node_env, data=data)

    def stop_nodes(self):
        stop_servers(self, self.nodes, self.dead, self.mock)


def stop_servers(tc, servers, dead, mock, tail=3000):
    """Stops servers and the mock cluster and removes the directories of
    servers and dead; then checks that each server exited with 0 (its last
    `tail` bytes of output in the message, all with tail=None)."""
    outs = []
    for s in servers:
        rc = s.stop()
        outs.append((rc, s.output()))
        s.cleanup()
    for s in dead:
        s.cleanup()
    mock.stop()
    for rc, out in outs:
        tc.assertEqual(rc, 0, out[-tail:] if tail else out)


def token_file(directory, role, secret):
    """A --tokens file with one token `writer` of this role."""
    path = os.path.join(directory, "tokens")
    with open(path, "w") as f:
        f.write("writer %s %s\n" %
                (role, hashlib.sha256(secret.encode()).hexdigest()))
    return path


def produce_raw(bootstrap, values):
    """Messages that no hakgal node wrote, with a real Kafka client."""
    code = ("import sys, json\n"
            "from confluent_kafka import Producer\n"
            "p = Producer({'bootstrap.servers': sys.argv[1]})\n"
            "for v in json.loads(sys.argv[2]):\n"
            "    p.produce(%r, value=v.encode(), key=b'x')\n"
            "assert p.flush(30) == 0\n" % TOPIC)
    r = subprocess.run(["/usr/bin/python3", "-c", code, bootstrap,
                        json.dumps(values)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def consume_raw(bootstrap):
    """Every message of the topic so far (bytes as latin-1 text), with a
    real Kafka client."""
    code = ("import sys, json\n"
            "from confluent_kafka import Consumer, TopicPartition\n"
            "c = Consumer({'bootstrap.servers': sys.argv[1],\n"
            "              'group.id': 'raw', 'enable.auto.commit': False})\n"
            "lo, hi = c.get_watermark_offsets(TopicPartition(%r, 0), 30)\n"
            "c.assign([TopicPartition(%r, 0, lo)])\n"
            "out = []\n"
            "while len(out) < hi - lo:\n"
            "    m = c.poll(30)\n"
            "    assert m is not None and not m.error(), m\n"
            "    out.append(m.value().decode('latin-1'))\n"
            "c.close()\n"
            "print(json.dumps(out))\n" % (TOPIC, TOPIC))
    r = subprocess.run(["/usr/bin/python3", "-c", code, bootstrap],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class Follow(unittest.TestCase):

    def setUp(self):
        self.mock = Mock()
        self.url = "kafka://%s/%s" % (self.mock.bootstrap, TOPIC)
        self.a = Server(args=["--stream", self.url])
        self.b = Server(args=["--follow", self.url])
        self.c = Server(args=["--follow", self.url, "--follow-max-lag",
                              "1000000"])
        self.dead = []

    def tearDown(self):
        stop_servers(self, (self.a, self.b, self.c), self.dead, self.mock,
                     tail=None)

    def add(self, stmt, **meta):
        body = {"statement": stmt}
        body.update(meta)
        st, _, b = self.a.request("POST", "/v2/facts", body)
        self.assertIn(st, (200, 201), b)
        return b["id"]

    def digest(self, s):
        """Content digest, fact count and audit length (the audit hashes
        differ: each node's entries carry its own commit times)."""
        st, _, d = s.request("GET", "/v2/digest")
        self.assertEqual(st, 200, d)
        return (d["facts"], d["content"], d["audit"]["seq"])

    def converge(self, timeout=90):
        """Waits until B and C hold A's content and audit length."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, _, b = self.a.request("GET", "/v2/stream/status")
            da = self.digest(self.a)
            if b["backlog"] == 0:
                db, dc = self.digest(self.b), self.digest(self.c)
                if da == db == dc:
                    return da
            time.sleep(0.1)
        self.fail("no convergence:\nA %s\nB %s\nC %s\n%s" %
                  (da, self.digest(self.b), self.digest(self.c),
                   self.b.output()[-3000:]))

    def workload(self, tag, n):
        ids = [self.add("Part(%s%d, whole)" % (tag, i), confidence=0.9,
                        tags=["t%d" % (i % 3)]) for i in range(n)]
        for i in range(0, n, 5):
            st, _, b = self.a.request("PUT", "/v2/facts/%d" % ids[i],
                                      {"statement": "Part(%s%d, other)" %
                                       (tag, i)})
            self.assertEqual(st, 200, b)
        for i in range(1, n, 5):
            st, _, b = self.a.request("PATCH", "/v2/facts/%d" % ids[i],
                                      {"source": "atlas", "confidence": 0.4})
            self.assertEqual(st, 200, b)
        for i in range(2, n, 5):
            st, _, b = self.a.request("DELETE", "/v2/facts/%d" % ids[i])
            self.assertIn(st, (200, 204), b)

    def test_followers_converge_skip_bad_messages_and_survive_kill9(self):
        self.workload("a", 40)
        r = subprocess.run([BIN, "add", "Cli(x, y)", "--source", "cli",
                            "--data", self.a.data], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.converge()
        self.assertEqual(d[0], 40 - 8 + 1)

        # malformed and foreign messages: skipped, logged, counted
        produce_raw(self.mock.bootstrap,
                    ["not json", '{"source":{"name":"other"},"kind":"add"}',
                     '{"source":{"name":"hakgal"},"kind":"add",'
                     '"after":{"statement":"Bad((("}}'])
        self.workload("b", 10)
        self.converge()
        for s in (self.b, self.c):
            st, _, m = s.request("GET", "/metrics")
            line = [x for x in m.splitlines()
                    if x.startswith("hakgal_follow_skipped_total ")]
            self.assertEqual(line, ["hakgal_follow_skipped_total 3"], m)
            self.assertIn("skipped message at partition 0", s.output())
            self.assertIn("hakgal_follow_lag_messages 0\n", m)
            st, _, b = s.request("GET", "/readyz")
            self.assertEqual(st, 200, b)
            st, _, b = s.request("GET", "/v2/stream/status")
            self.assertEqual(st, 200, b)
            self.assertEqual((b["follower"]["skipped"], b["follower"]["lag"]),
                             (3, 0), b)
            self.assertGreater(b["follower"]["applied"], 50)

        # kill -9 of B at random points of a write load, restart each time
        rng = random.Random(13)
        for k in range(KILLS):
            stop = threading.Event()

            def load(tag="k%d_" % k):
                i = 0
                while not stop.is_set():
                    self.add("Load(%s%d)" % (tag, i))
                    i += 1

            t = threading.Thread(target=load)
            t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            self.b.kill()
            self.dead.append(self.b)
            time.sleep(rng.uniform(0.0, 0.2))
            self.b = Server(args=["--follow", self.url], data=self.b.data)
            stop.set()
            t.join()
        # converged: same content, and as many audit entries as A (each
        # event applied exactly once across the kills)
        self.converge()

        # bootstrap: a backup of C (with its offsets) restored on a fresh
        # node D, which then follows from there while A keeps writing
        bdir = os.path.join(self.c.root, "backup")
        r = subprocess.run([BIN, "backup", bdir, "--data", self.c.data],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.workload("c", 10)
        ddata = os.path.join(self.c.root, "kb-d")
        r = subprocess.run([BIN, "restore", bdir, "--data", ddata],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = Server(args=["--follow", self.url], data=ddata)
        try:
            self.converge()
            want = self.digest(self.a)
            deadline = time.time() + 60
            while self.digest(d) != want and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(self.digest(d), want, d.output()[-2000:])
            st, _, m = d.request("GET", "/metrics")
            applied = [int(x.split()[1]) for x in m.splitlines()
                       if x.startswith("hakgal_follow_applied_total ")]
            self.assertEqual(len(applied), 1)
            # from the backup's offsets: only what came after it
            self.assertLess(applied[0], 10 * 2 + 5)
        finally:
            self.assertEqual(d.stop(), 0, d.output())


if __name__ == "__main__":
    run_tests(__name__)
