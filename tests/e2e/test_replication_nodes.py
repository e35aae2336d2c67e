#!/usr/bin/env python3
"""Replicated nodes (`serve --replicate kafka://B/T --node-id N`) on a
3-broker Kafka mock cluster: every node accepts writes, sends them to the
one-partition log and applies the whole log in order, so that all nodes
end byte-identical (equal `GET /v2/digest`: content AND audit head).

Covered: concurrent writes through three nodes (REST) including conflicting
updates of one fact; read-your-writes; --ack log; malformed and foreign
messages skipped with a log line and a metric; batches; kill -9 of a node at random points of a write load (no
acknowledged write missing anywhere afterwards); a broker down and up, the
whole cluster down (writes fail with 503 after the bound, nothing
acknowledged lost); bootstrap of a fresh node from a backup plus the log.
"""
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server, q, run_tests  # noqa: E402
from test_replication_follow import MOCK, NodesCase, have_client  # noqa: E402
import test_replication_follow  # noqa: E402

SANITIZED = os.environ.get("HK_SANITIZED", "") in ("1", "ON", "TRUE", "true")
TOPIC = "hakgal.replica"  # the mock helper creates it with 1 partition
# kill -9 rounds (HK_REPL_KILLS overrides)
KILLS = int(os.environ.get("HK_REPL_KILLS", "6" if SANITIZED else "20"))


def metric(s, name):
    st, _, m = s.request("GET", "/metrics")
    for x in m.splitlines():
        if x.startswith(name + " "):
            return float(x.split()[1])
    return None


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class Replicated(NodesCase):

    def setUp(self):
        self.start_nodes()

    def tearDown(self):
        self.stop_nodes()

    def digest(self, s):
        st, _, d = s.request("GET", "/v2/digest")
        self.assertEqual(st, 200, d)
        return (d["facts"], d["content"], d["audit"]["seq"],
                d["audit"]["hash"])

    def converge(self, nodes=None, timeout=120, facts=None):
        nodes = nodes or self.nodes
        deadline = time.time() + timeout
        while time.time() < deadline:
            ds = [self.digest(s) for s in nodes]
            lags = [metric(s, "hakgal_repl_lag_messages") for s in nodes]
            if all(x == ds[0] for x in ds) and all(x == 0 for x in lags) \
                    and facts in (None, ds[0][0]):
                return ds[0]
            time.sleep(0.1)
        self.fail("no convergence: %s\n%s" %
                  (ds, nodes[-1].output()[-3000:]))

    def add(self, s, stmt, **meta):
        body = {"statement": stmt}
        body.update(meta)
        st, _, b = s.request("POST", "/v2/facts", body)
        return st, b

    def present(self, s, stmts):
        """Statements of stmts that are facts on s."""
        have = set()
        for pred in {x.split("(")[0] for x in stmts}:
            cur = ""
            while True:
                st, _, b = s.request("GET", "/v2/facts?predicate=%s&limit=1000"
                                     "%s" % (pred, "&cursor=" + q(cur)
                                             if cur else ""))
                self.assertEqual(st, 200, b)
                have.update(f["statement"] for f in b["facts"])
                cur = b.get("next_cursor")
                if not cur:
                    break
        return set(stmts) & have

    def test_concurrent_writes_converge_bad_messages_ack_log(self):
        acked = [[] for _ in self.nodes]

        def writer(i):
            s = self.nodes[i]
            for k in range(30):
                st, b = self.add(s, "W(n%d, k%d)" % (i, k), confidence=0.5,
                                 tags=["t%d" % (k % 3)])
                self.assertIn(st, (200, 201), b)
                # read-your-writes: visible at once on the writing node
                st2, _, f = s.request("GET", "/v2/facts/%d" % b["id"])
                self.assertEqual(st2, 200, f)
                self.assertEqual(f["statement"], "W(n%d, k%d)" % (i, k))
                acked[i].append(b["id"])
        ts = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        d = self.converge()
        self.assertEqual(d[0], 90)
        # ids are the same everywhere: the log's order assigned them
        for s in self.nodes:
            st, _, f = s.request("GET", "/v2/facts/%d" % acked[1][0])
            self.assertEqual(f["statement"], "W(n1, k0)")

        # conflicting updates of one fact through two nodes: log order
        fid = acked[0][0]
        outs = {}

        def upd(i, src):
            outs[i] = self.nodes[i].request("PATCH", "/v2/facts/%d" % fid,
                                            {"source": src})
        ts = [threading.Thread(target=upd, args=(i, "from%d" % i))
              for i in (1, 2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(outs[1][0], 200)
        self.assertEqual(outs[2][0], 200)
        self.converge()
        srcs = {s.request("GET", "/v2/facts/%d" % fid)[2]["source"]
                for s in self.nodes}
        self.assertEqual(len(srcs), 1)
        # delete and replace through different nodes
        st, _, b = self.nodes[2].request("DELETE",
                                         "/v2/facts/%d" % acked[0][1])
        self.assertEqual(st, 200, b)
        st, _, b = self.nodes[0].request("DELETE",
                                         "/v2/facts/%d" % acked[0][1])
        self.assertEqual(st, 404, b)
        st, _, b = self.nodes[1].request("PUT", "/v2/facts/%d" % acked[0][2],
                                         {"statement": "W(moved, x)"})
        self.assertEqual(st, 200, b)
        st, _, b = self.nodes[0].request(
            "DELETE", "/v2/facts?statement=" + q("W(n2, k5)"))
        self.assertEqual(st, 200, b)
        # a batch is replicated too (one command); its one item here has
        # no statement, fails alike everywhere and adds nothing
        st, _, b = self.nodes[0].request(
            "POST", "/v2/facts/batch", {"facts": [{"statement": "B(x)"}]})
        self.assertEqual(st, 200, b)
        self.assertEqual(b["failed"], 1)

        # malformed and foreign messages: skipped on every node (a binary
        # command cut short too); commands in the JSON form (what nodes
        # sent for fact.add and fact.batch before the binary form): applied
        head = '{"hakgal":"hakgal.replicate","v":2,"node":9,"inc":1,'
        opts = ('"opts":{"allow_string":true,"need_statement":true,'
                '"legacy":false,"max_statement":0,"max_args":0}')
        test_replication_follow.produce_raw(
            self.mock.bootstrap,
            ["not json", '{"hakgal":"other"}',
             head + '"seq":1,"op":"fact.add","actor":"x","ts_us":5,"req":{}}',
             '{"source":{"name":"hakgal"},"kind":"add"}',
             "\u0000hkr\u0003\u0009",
             head + '"seq":2,"op":"fact.add","actor":"old","ts_us":5,'
             '"req":{"facts":[{"p":"Old","a":["add"]}]}}',
             head + '"seq":3,"op":"fact.batch","actor":"old","ts_us":6,'
             '"req":{"items":[{"statement":"Old(batch, one)",'
             '"confidence":0.5},"Old(batch, two)",null],'
             '"bad":[null,null,"line 3: invalid JSON"],' + opts +
             ',"label":"old batch"}}'])
        st, b = self.add(self.nodes[1], "After(bad, messages)")
        self.assertEqual(st, 201, b)
        d = self.converge()
        self.assertEqual(d[0], 90 - 2 + 1 + 3)
        for s in self.nodes:
            st, _, b = s.request("GET", "/v2/facts?predicate=Old")
            self.assertEqual(st, 200, b)
            got = {f["statement"]: f["confidence"] for f in b["facts"]}
            self.assertEqual(got, {"Old(add)": 1.0, "Old(batch, one)": 0.5,
                                   "Old(batch, two)": 1.0})
        for s in self.nodes:
            self.assertEqual(metric(s, "hakgal_repl_skipped_total"), 4)
            self.assertIn("skipped message at offset", s.output())
            st, _, b = s.request("GET", "/readyz")
            self.assertEqual(st, 200, b)
            st, _, b = s.request("GET", "/v2/stream/status")
            self.assertEqual(b["replica"]["lag"], 0, b)
            self.assertEqual(b["replica"]["skipped"], 4, b)

        # --ack log: 202 once the log has it, applied soon after; and
        # --replicate-commands json: fact adds as JSON commands, which
        # nodes of a version before the binary form apply too
        self.nodes[2].stop()
        self.dead.append(self.nodes[2])
        # (the settings from a config file this time)
        conf = os.path.join(self.nodes[2].root, "node3.conf")
        with open(conf, "w") as f:
            f.write("replicate = %s\nnode-id = 3\nack = log\n"
                    "replicate-timeout-ms = 8000\n"
                    "replicate-commands = json\n" % self.url)
        self.nodes[2] = Server(args=["--config", conf],
                               data=self.nodes[2].data)
        st, b = self.add(self.nodes[2], "Logged(x)")
        self.assertEqual(st, 202, b)
        self.assertTrue(b["accepted"])
        self.assertGreaterEqual(b["offset"], 0)
        d = self.converge(facts=90 - 2 + 2 + 3)
        msgs = test_replication_follow.consume_raw(self.mock.bootstrap)
        logged = [m for m in msgs if "Logged" in m]
        self.assertEqual(len(logged), 1, logged)
        self.assertTrue(logged[0].startswith('{"hakgal":"hakgal.replicate"'),
                        logged[0][:80])
        self.assertIn('"op":"fact.add"', logged[0])
        # the other nodes' adds went in the binary form
        self.assertTrue(any(m.startswith("\u0000hkr") and "After" in m
                            for m in msgs))

    def test_kill9_brokers_down_and_bootstrap(self):
        rng = random.Random(1313)
        acked = []
        lock = threading.Lock()

        def load(stop, tag):
            i = 0
            while not stop.is_set():
                s = self.nodes[i % 2]  # A and B write; C is killed
                try:
                    st, b = self.add(s, "L(%s, i%d)" % (tag, i))
                except OSError:
                    st = 0
                if st in (200, 201):
                    with lock:
                        acked.append("L(%s, i%d)" % (tag, i))
                i += 1

        for k in range(KILLS):
            stop = threading.Event()
            t = threading.Thread(target=load, args=(stop, "k%d" % k))
            t.start()
            time.sleep(rng.uniform(0.05, 0.8))
            self.nodes[2].kill()
            self.dead.append(self.nodes[2])
            time.sleep(rng.uniform(0.0, 0.3))
            self.nodes[2] = self.node(3, data=self.nodes[2].data)
            stop.set()
            t.join()
        d = self.converge()
        self.assertEqual(d[0], len(acked))
        sample = rng.sample(acked, min(40, len(acked)))
        for s in self.nodes:
            self.assertEqual(self.present(s, sample), set(sample))

        # one broker down and up: the mock cluster elects no new leader,
        # so while the partition's leader is down writes wait and fail with
        # 503 after the bound; the others succeed
        self.assertEqual(self.mock_cmd("down 1"), "ok")
        down1 = []
        for i in range(6):
            st, b = self.add(self.nodes[i % 3], "Down1(i%d)" % i)
            self.assertIn(st, (200, 201, 503), b)
            if st == 503:
                self.assertEqual(b["error"]["code"],
                                 "replication_unavailable")
            else:
                down1.append("Down1(i%d)" % i)
        self.assertEqual(self.mock_cmd("up 1"), "ok")
        # the whole cluster down: writes wait, then 503 after the bound
        self.assertEqual(self.mock_cmd("down all"), "ok")
        t0 = time.time()
        st, b = self.add(self.nodes[0], "AllDown(x)")
        self.assertEqual(st, 503, b)
        self.assertEqual(b["error"]["code"], "replication_unavailable")
        self.assertLess(time.time() - t0, 30)
        self.assertEqual(self.mock_cmd("up all"), "ok")
        # each node's producer reconnects on its own schedule: until it
        # has, a write through that node may still time out with 503
        # (outcome unknown, so the same idempotent add is retried, as a
        # client would); every node is asked, so the writes below find
        # every producer connected
        deadline = time.time() + 60
        for n, node in enumerate(self.nodes):
            stmt = "Up(again%d)" % n
            while True:
                st, b = self.add(node, stmt)
                if st in (200, 201) or time.time() > deadline:
                    break
                self.assertEqual((st, b["error"]["code"]),
                                 (503, "replication_unavailable"), b)
                time.sleep(0.5)
            self.assertIn(st, (200, 201), b)
            acked.append(stmt)
        self.converge()
        want = set(down1 + ["Up(again%d)" % n
                            for n in range(len(self.nodes))])
        for s in self.nodes:
            self.assertEqual(self.present(s, want), want)

        # bootstrap: a backup of C (with its offset) restored on node 4
        bdir = os.path.join(self.nodes[2].root, "backup")
        r = subprocess.run([BIN, "backup", bdir, "--data",
                            self.nodes[2].data],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for i in range(10):
            st, b = self.add(self.nodes[0], "After(backup%d)" % i)
            self.assertEqual(st, 201, b)
        ddata = os.path.join(self.nodes[2].root, "kb-d")
        r = subprocess.run([BIN, "restore", bdir, "--data", ddata],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.nodes.append(self.node(4, data=ddata))
        d = self.converge()
        applied = metric(self.nodes[3], "hakgal_repl_applied_total")
        self.assertLess(applied, 10 + 5)  # only what came after the backup

    def mock_cmd(self, line):
        self.mock.proc.stdin.write(line + "\n")
        self.mock.proc.stdin.flush()
        return self.mock.proc.stdout.readline().strip()


if __name__ == "__main__":
    run_tests(__name__)
