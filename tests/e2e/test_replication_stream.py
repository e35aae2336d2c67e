#!/usr/bin/env python3
"""The change stream end to end: `hakgal serve --stream` against a 3-broker
Kafka mock cluster (tests/helpers/hk_kafka_mock), writes through REST and
the CLI, events read back by examples/stream_consumer.py (a real Kafka
client, confluent-kafka): every committed change arrives once, complete, in
order per fact; rule changes and entity vectors are events too; with
every broker down events wait in the outbox (across a
kill -9 of the server) and drain once the cluster is back; with the
write-ahead log (`--wal`) too, across kills that replay the log, the
events are exactly the KB's changes.
"""
import json
import os
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, SRC, Server, run_tests  # noqa: E402
from test_server_durability import all_statements  # noqa: E402
from write_load import Load, batch_writer, single_writer  # noqa: E402

MOCK = os.environ.get("HK_KAFKA_MOCK_BIN", "")
CONSUMER = os.path.join(SRC, "examples", "stream_consumer.py")
TOPIC = "hakgal.changes"


def have_client():
    r = subprocess.run(["/usr/bin/python3", "-c", "import confluent_kafka"],
                       capture_output=True)
    return r.returncode == 0


class Mock:
    """hk_kafka_mock: 3 brokers; bootstrap address from its first line."""

    def __init__(self):
        self.proc = subprocess.Popen([MOCK, "--topic", TOPIC + ":4"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        assert self.bootstrap, "mock cluster did not start"

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", answer

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def consume(bootstrap, count, group):
    """Every event of the topic from the start, via the example consumer."""
    r = subprocess.run(["/usr/bin/python3", CONSUMER, bootstrap, TOPIC,
                        "--group", group, "--count", str(count),
                        "--idle", "20"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class Stream(unittest.TestCase):

    def setUp(self):
        self.mock = Mock()
        self.url = "kafka://%s/%s" % (self.mock.bootstrap, TOPIC)
        self.s = Server(args=["--stream", self.url])
        self.groups = 0
        self.killed = []  # servers whose root holds the KB still in use

    def tearDown(self):
        rc = self.s.stop()
        out = self.s.output()
        self.s.cleanup()
        for k in self.killed:
            k.cleanup()
        self.mock.stop()
        self.assertEqual(rc, 0, out)

    def status(self):
        st, _, b = self.s.request("GET", "/v2/stream/status")
        self.assertEqual(st, 200, b)
        return b

    def wait_drained(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            b = self.status()
            if b["backlog"] == 0:
                return b
            time.sleep(0.05)
        self.fail("outbox not drained: %s\n%s" % (b, self.s.output()))

    def add(self, stmt):
        st, _, b = self.s.request("POST", "/v2/facts", {"statement": stmt})
        self.assertEqual(st, 201, b)
        return b["id"]

    def cli(self, *args):
        r = subprocess.run([BIN] + list(args) + ["--data", self.s.data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def mcp_calls(self, tools):
        """structuredContent of each tool, called over `hakgal mcp`."""
        msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "2025-11-25",
                            "capabilities": {},
                            "clientInfo": {"name": "t", "version": "1"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"}]
        for i, name in enumerate(tools):
            msgs.append({"jsonrpc": "2.0", "id": 10 + i,
                         "method": "tools/call",
                         "params": {"name": name, "arguments": {}}})
        r = subprocess.run([BIN, "mcp", "--data", self.s.data],
                           input="".join(json.dumps(m) + "\n"
                                         for m in msgs),
                           capture_output=True, text=True, timeout=60)
        answers = {}
        for line in r.stdout.splitlines():
            m = json.loads(line)
            answers[m.get("id")] = m
        out = []
        for i, name in enumerate(tools):
            res = answers[10 + i].get("result")
            self.assertIsNotNone(res, answers[10 + i])
            self.assertFalse(res.get("isError"), res)
            out.append(res["structuredContent"])
        return out

    def events(self, count):
        self.groups += 1
        return consume(self.mock.bootstrap, count, "g%d" % self.groups)

    def check_order(self, events):
        """Event numbers 1..n, each once; per fact in increasing order."""
        numbers = sorted(e["source"]["event"] for e in events)
        self.assertEqual(numbers, list(range(1, len(events) + 1)))
        last = {}
        for e in events:
            f = e["source"]["fact_id"]
            self.assertGreater(e["source"]["event"], last.get(f, 0), e)
            last[f] = e["source"]["event"]

    def test_rest_and_cli_changes_arrive_complete_in_order(self):
        ids = [self.add("Part(p%d, whole)" % i) for i in range(40)]
        st, _, b = self.s.request("PUT", "/v2/facts/%d" % ids[0],
                                  {"statement": "Part(p0, other)"})
        self.assertEqual(st, 200, b)
        st, _, b = self.s.request("PATCH", "/v2/facts/%d" % ids[0],
                                  {"confidence": 0.5, "tags": ["t"]})
        self.assertEqual(st, 200, b)
        st, _, b = self.s.request("DELETE", "/v2/facts/%d" % ids[0])
        self.assertIn(st, (200, 204), b)
        # drained first, so that the server's last commit (the removal of
        # what it published) comes before the CLI's: the CLI's commits
        # are another process's, durable when visible, and go out
        # without a commit of the server after them
        self.wait_drained()
        self.cli("add", "Cli(a)", "Cli(b)")
        self.cli("delete", "Cli(a)")
        want = 40 + 3 + 2 + 1
        b = self.wait_drained()
        self.assertEqual(b["next_event"], want + 1)
        self.assertEqual(b["published_event"], want)
        ev = self.events(want)
        self.assertEqual(len(ev), want)
        self.check_order(ev)
        first = [e for e in ev if e["source"]["fact_id"] == ids[0]]
        self.assertEqual([e["kind"] for e in first],
                         ["add", "update", "meta", "delete"])
        self.assertEqual([e["op"] for e in first], ["c", "u", "u", "d"])
        self.assertIsNone(first[0]["before"])
        self.assertEqual(first[1]["before"]["statement"], "Part(p0, whole)")
        self.assertEqual(first[1]["after"]["statement"], "Part(p0, other)")
        self.assertEqual(first[2]["after"]["confidence"], 0.5)
        self.assertIsNone(first[3]["after"])
        cli = [e for e in ev if (e["after"] or e["before"])["predicate"] ==
               "Cli"]
        self.assertEqual(len(cli), 3)
        self.assertTrue(all(e["source"]["seq"] > 0 for e in ev))
        # the metrics say the same
        st, _, m = self.s.request("GET", "/metrics")
        self.assertIn("hakgal_stream_outbox_backlog 0\n", m)
        self.assertIn("hakgal_stream_events_total %d\n" % want, m)
        # and the CLI
        out = json.loads(self.cli("stream", "status", "--json"))
        self.assertEqual((out["enabled"], out["backlog"]), (True, 0))
        # the digest: REST and CLI agree; the facts are the 40 - 1 + 1
        st, _, d = self.s.request("GET", "/v2/digest")
        self.assertEqual(st, 200, d)
        self.assertEqual(d["facts"], 40)
        self.assertEqual(d, json.loads(self.cli("digest", "--json")))
        # and MCP (stdio): stream_status and kb_digest
        mcp = self.mcp_calls(["stream_status", "kb_digest"])
        self.assertEqual(mcp[0]["backlog"], 0)
        self.assertTrue(mcp[0]["enabled"])
        self.assertEqual(mcp[1], d)

    def test_rule_and_vector_events(self):
        """Rule changes and entity vectors are events with kind rule and
        vector, fact id 0, in the documented shape (the required members
        of docs/STREAM.md's JSON Schema, read from the document)."""
        import re
        with open(os.path.join(SRC, "docs", "STREAM.md")) as f:
            schema = json.loads(re.search(r"### JSON Schema\n\n```json\n"
                                          r"(.*?)```", f.read(), re.S)
                                .group(1))
        self.add("Parent(ann, bob)")
        for method, path, body, want in [
                ("POST", "/v2/rules", {"name": "kin",
                                       "rule": "Kin(?x) :- Parent(?x, ?y)."},
                 201),
                ("PATCH", "/v2/rules/kin", {"enabled": False}, 200),
                ("DELETE", "/v2/rules/kin", None, 200),
                ("POST", "/v2/vectors", {"name": "people", "dim": 2,
                                         "kind": "entity"}, 201),
                ("POST", "/v2/vectors/people/entities",
                 {"entities": [{"entity": "ann", "vector": [1, 0]}]}, 200)]:
            st, _, b = self.s.request(method, path, body)
            self.assertEqual(st, want, b)
        self.wait_drained()
        ev = self.events(5)
        self.assertEqual(len(ev), 5)
        self.check_order(ev)
        # 4 partitions: the fact (key 1) and the rest (key 0) interleave
        # in any way; source.event is the total order
        ev.sort(key=lambda e: e["source"]["event"])
        self.assertEqual([e["kind"] for e in ev],
                         ["add", "rule", "rule", "rule", "vector"])
        self.assertEqual([e["op"] for e in ev], ["c", "c", "u", "d", "u"])
        rule_req = schema["$defs"]["rule"]["oneOf"][0]["required"]
        for e in ev:
            for k in schema["required"]:
                self.assertIn(k, e)
            self.assertIn(e["kind"], schema["properties"]["kind"]["enum"])
        for e in ev[1:]:
            self.assertEqual(e["source"]["fact_id"], 0)
            self.assertGreater(e["source"]["seq"], 0)
        for side in (ev[1]["after"], ev[2]["before"], ev[2]["after"],
                     ev[3]["before"]):
            self.assertEqual(sorted(side), sorted(rule_req))
        self.assertIsNone(ev[1]["before"])
        self.assertIsNone(ev[3]["after"])
        self.assertFalse(ev[2]["after"]["enabled"])
        self.assertEqual(ev[3]["before"]["rule"], "Kin(?x) :- Parent(?x, ?y).")
        self.assertEqual((ev[4]["vector"]["space"], ev[4]["vector"]["entity"]),
                         ("people", "ann"))
        self.assertIsNone(ev[4]["after"])

    def test_cluster_down_events_wait_across_kill_then_drain(self):
        for i in range(5):
            self.add("Early(e%d)" % i)
        self.wait_drained()
        # one broker down for a while: writes go on, events drain after
        self.mock.cmd("down 2")
        for i in range(5, 10):
            self.add("Early(e%d)" % i)
        time.sleep(0.5)
        self.mock.cmd("up 2")
        self.wait_drained()
        self.mock.cmd("down all")
        for i in range(30):
            self.add("Down(d%d)" % i)  # acknowledged: committed locally
        time.sleep(1.0)
        self.assertEqual(self.status()["backlog"], 30)
        st, _, m = self.s.request("GET", "/metrics")
        self.assertIn("hakgal_stream_outbox_backlog 30\n", m)
        # a clean stop while the cluster is down ends in bounded time and
        # leaves the events waiting
        t0 = time.time()
        rc = self.s.stop()
        self.assertEqual(rc, 0, self.s.output())
        self.assertLess(time.time() - t0, 20)
        self.killed.append(self.s)
        # the config file names the stream as well
        conf = os.path.join(self.s.root, "hakgal.conf")
        with open(conf, "w") as f:
            f.write("stream = %s\n" % self.url)
        self.s = Server(args=["--config", conf], data=self.s.data)
        self.assertEqual(self.status()["backlog"], 30)
        self.assertIn("publisher", self.status())
        # kill -9 while events wait, start again (still down): they wait
        self.s.kill()
        self.killed.append(self.s)
        self.s = Server(args=["--stream", self.url], data=self.s.data)
        self.add("AfterKill(x)")
        time.sleep(0.5)
        self.assertEqual(self.status()["backlog"], 31)
        # one broker back, then all
        self.mock.cmd("up 1")
        self.mock.cmd("up all")
        b = self.wait_drained()
        self.assertEqual(b["published_event"], 41)
        ev = self.events(41)
        self.assertEqual(len(ev), 41)
        self.check_order(ev)

    def test_bad_url_is_refused(self):
        r = subprocess.run([BIN, "serve", "--data", self.s.data + "-x",
                            "--listen", "127.0.0.1:0", "--stream",
                            "http://nope/t"], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("kafka://", r.stderr)


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class StreamWal(unittest.TestCase):
    """`--wal --stream`: a commit is visible before the log's sync makes it
    durable; the publisher sends only durable events, and a replay after
    a kill recreates the events of the replayed writes as they were."""

    def test_events_match_the_kb_across_kills(self):
        mock = Mock()
        url = "kafka://%s/%s" % (mock.bootstrap, TOPIC)
        rnd = random.Random(4242)
        s = Server(args=["--wal", "--stream", url])
        servers = [s]
        acked = []
        try:
            for rnd_i in range(3):
                load = Load(s.port, 6, 100 * rnd_i,
                            lambda w: single_writer if w % 3 else
                            batch_writer)
                load.wait_acked(50, 60)
                time.sleep(rnd.random())
                s.kill()
                load.stop()
                self.assertEqual(load.errors, [])
                acked.extend(load.acked)
                s = Server(args=["--wal", "--stream", url], data=s.data)
                servers.append(s)
                self.assertIn("recovered from the write-ahead log",
                              s.output())
            deadline = time.time() + 60
            while time.time() < deadline:
                st, _, b = s.request("GET", "/v2/stream/status")
                self.assertEqual(st, 200, b)
                if b["backlog"] == 0:
                    break
                time.sleep(0.05)
            self.assertEqual(b["backlog"], 0, b)
            have = all_statements(s, "Dur") | all_statements(s, "Bat")
            self.assertEqual([a for a in acked if a not in have], [],
                             "acknowledged writes lost")
            total = b["next_event"] - 1
            self.assertEqual(b["published_event"], total)
            events = consume(mock.bootstrap, total, "wal")
            # every event number once (the consumer drops repeats), and
            # the added facts are exactly the KB's: none that a kill
            # took back, none missing
            self.assertEqual(sorted(e["source"]["event"] for e in events),
                             list(range(1, total + 1)))
            added = {e["after"]["statement"]: e["source"]["fact_id"]
                     for e in events if e["op"] == "c"}
            self.assertEqual(set(added), have)
            self.assertEqual(len(events), len(have))
            st, _, f = s.request("GET", "/v2/facts/%d" % added[acked[0]])
            self.assertEqual(st, 200, f)
            self.assertEqual(f["statement"], acked[0])
            self.assertEqual(s.stop(), 0, s.output())
        finally:
            for x in servers:
                x.kill()
            for x in servers:
                x.cleanup()
            mock.stop()


if __name__ == "__main__":
    run_tests(__name__)
