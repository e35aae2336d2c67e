#!/usr/bin/env python3
"""Replicated nodes, rule and vector writes through the log: three nodes
(`serve --replicate`) on the 3-broker mock cluster take, at the same
time, fact writes and a rule through MCP on node 1, rule changes on node 2 (add, replace,
disable, enable, delete, strict mode, reason) and vector writes on node
3 (a fact space with the built-in embedder and its embed batches, an
entity space with entity vectors set and removed, a space dropped). Each
write is one command in the log; at the end every node has equal
`GET /v2/digest` — facts, rule records, vector records and audit head —,
the same rules and derived facts, and the same answers to a vector
search.
"""
import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import TMP, run_tests  # noqa: E402
from test_replication_follow import (MOCK, NodesCase, have_client,  # noqa: E402
                                     token_file)

TOPIC = "hakgal.replica"  # the mock helper creates it with 1 partition
SECRET = "rv-secret-1"
AUTH = {"Authorization": "Bearer " + SECRET}
PEOPLE = ["p%d" % i for i in range(12)]


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class RulesVectors(NodesCase):

    def setUp(self):
        os.makedirs(TMP, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="repl-rv-", dir=TMP)
        self.start_nodes(tokens=token_file(self.dir, "admin", SECRET))

    def tearDown(self):
        self.stop_nodes()

    def req(self, s, method, path, body=None, want=None):
        st, _, b = s.request(method, path, body, headers=AUTH, timeout=60)
        if want is not None:
            self.assertEqual(st, want, "%s %s: %s" % (method, path, b))
        return st, b

    def mcp(self, s, tool, args):
        """Calls tool over MCP HTTP in a session of its own; the result."""
        base = dict(AUTH)
        base["Accept"] = "application/json, text/event-stream"
        base["MCP-Protocol-Version"] = "2025-11-25"
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25",
                           "capabilities": {},
                           "clientInfo": {"name": "t", "version": "1"}}}
        st, h, _ = s.request("POST", "/mcp", init, headers=base, raw=True)
        self.assertEqual(st, 200)
        base["Mcp-Session-Id"] = h["mcp-session-id"]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}
        st, _, data = s.request("POST", "/mcp", call, headers=base, raw=True,
                                timeout=60)
        self.assertEqual(st, 200, data)
        text = data.decode()
        if text.startswith("event:") or text.startswith("data:"):
            text = [x[5:] for x in text.splitlines()
                    if x.startswith("data:")][-1]
        s.request("DELETE", "/mcp", headers=base)
        return json.loads(text)

    def digest(self, s):
        _, d = self.req(s, "GET", "/v2/digest", want=200)
        return d

    def converge(self, timeout=120):
        deadline = time.time() + timeout
        ds = None
        while time.time() < deadline:
            ds = [self.digest(s) for s in self.nodes]
            lags = [self.req(s, "GET", "/v2/stream/status",
                             want=200)[1]["replica"]["lag"]
                    for s in self.nodes]
            if all(d == ds[0] for d in ds) and lags == [0, 0, 0]:
                return ds[0]
            time.sleep(0.1)
        self.fail("no convergence: %s\n%s" %
                  (ds, self.nodes[-1].output()[-3000:]))

    def test_rules_and_vectors_converge(self):
        errors = []

        def guard(fn):
            def run():
                try:
                    fn()
                except BaseException as e:  # reported in the main thread
                    errors.append(e)
            return run

        def facts():  # node 1: the family, in batches and one by one
            s = self.nodes[0]
            items = [{"statement": "Parent(%s, %s)" % (PEOPLE[i],
                                                       PEOPLE[i + 1])}
                     for i in range(0, 10, 2)]
            self.req(s, "POST", "/v2/facts/batch", items, want=200)
            for i in range(1, 11, 2):
                self.req(s, "POST", "/v2/facts",
                         {"statement": "Parent(%s, %s)" % (PEOPLE[i],
                                                           PEOPLE[i + 1])},
                         want=201)
            self.req(s, "POST", "/v2/facts", {"statement": "Likes(p0, tea)"},
                     want=201)
            # a rule through MCP over HTTP (the synchronous write path)
            r = self.mcp(s, "add_rule", {
                "name": "sib",
                "rule": "Sib(?x, ?y) :- Parent(?z, ?x), Parent(?z, ?y), "
                        "?x != ?y."})
            self.assertNotIn("error", r)
            self.assertFalse(r["result"].get("isError"), r)

        def rules():  # node 2: every kind of rule change
            s = self.nodes[1]
            self.req(s, "POST", "/v2/rules",
                     {"name": "gp", "rule": "Grand(?x, ?z) :- "
                      "Parent(?x, ?y), Parent(?y, ?z)."}, want=201)
            self.req(s, "POST", "/v2/rules",
                     {"name": "anc", "rule": "Anc(?x, ?y) :- Parent(?x, ?y)."},
                     want=201)
            self.req(s, "POST", "/v2/rules",  # replace
                     {"name": "anc", "rule": "Anc(?x, ?z) :- "
                      "Parent(?x, ?y), Anc(?y, ?z)."}, want=201)
            self.req(s, "POST", "/v2/rules",
                     {"name": "anc0", "rule": "Anc(?x, ?y) :- Parent(?x, ?y)."},
                     want=201)
            self.req(s, "POST", "/v2/rules",
                     {"name": "tmp", "rule": "Kin(?x) :- Parent(?x, ?y)."},
                     want=201)
            self.req(s, "PATCH", "/v2/rules/gp", {"enabled": False}, want=200)
            self.req(s, "PATCH", "/v2/rules/gp", {"enabled": True}, want=200)
            self.req(s, "DELETE", "/v2/rules/tmp", want=200)
            st, b = self.req(s, "DELETE", "/v2/rules/never")
            self.assertEqual(st, 404, b)
            self.req(s, "PUT", "/v2/reason/strict", {"strict": True},
                     want=200)
            self.req(s, "POST", "/v2/reason", {}, want=200)

        def vectors():  # node 3: spaces, embeddings, entity vectors
            s = self.nodes[2]
            self.req(s, "POST", "/v2/vectors",
                     {"name": "text", "dim": 32, "embedder": "hashed"},
                     want=201)
            self.req(s, "POST", "/v2/vectors",
                     {"name": "people", "dim": 3, "kind": "entity",
                      "metric": "l2"}, want=201)
            self.req(s, "POST", "/v2/vectors",
                     {"name": "gone", "dim": 2}, want=201)
            self.req(s, "DELETE", "/v2/vectors/gone", want=200)
            # entities exist once node 1's facts named them
            deadline = time.time() + 60
            while time.time() < deadline:
                st, b = self.req(s, "POST", "/v2/vectors/people/entities",
                                 {"entities": [
                                     {"entity": p,
                                      "vector": [i * 0.1, 1.0 / (i + 1),
                                                 -i * 0.37]}
                                     for i, p in enumerate(PEOPLE[:11])],
                                  "model": "hand-made"})
                if st == 200:
                    break
                self.assertEqual(st, 404, b)
                time.sleep(0.05)
            self.assertEqual(st, 200, b)
            self.req(s, "POST", "/v2/vectors/people/entities",
                     {"entities": [{"entity": "p3"}], "remove": True},
                     want=200)

        ts = [threading.Thread(target=guard(f))
              for f in (facts, rules, vectors)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        # embed every fact (after the fact writes: all 11 exist)
        s = self.nodes[2]
        after, done = 0, False
        while not done:
            _, b = self.req(s, "POST", "/v2/vectors/text/embed",
                            {"after": after, "limit": 4}, want=200)
            after, done = b.get("last", after), b.get("done", False)

        d = self.converge()
        self.assertEqual(d["facts"], 11)
        self.assertGreater(d["rules"]["records"], 3)
        self.assertGreater(d["vectors"]["records"], 20)

        # the same rules and derived facts everywhere
        views = []
        for n in self.nodes:
            _, rl = self.req(n, "GET", "/v2/rules", want=200)
            _, why = self.req(n, "GET", "/v2/why?statement=Grand(p0%2C%20p2)",
                              want=200)
            _, strict = self.req(n, "GET", "/v2/reason/strict", want=200)
            views.append((rl, why, strict))
        self.assertTrue(all(v == views[0] for v in views), views)
        names = sorted(r["name"] for r in views[0][0]["rules"])
        self.assertEqual(names, ["anc", "anc0", "gp", "sib"])
        self.assertTrue(views[0][2]["strict"])
        # derived: 9 Grand, 55 Anc (a chain of 11 people), no Sib
        self.assertEqual(views[0][0]["derived"], 9 + 55)

        # the same vectors and the same search answers everywhere
        answers = []
        for n in self.nodes:
            _, sp = self.req(n, "GET", "/v2/vectors", want=200)
            _, hits = self.req(n, "POST", "/v2/vectors/text/similar",
                               {"text": "Parent p4", "k": 5}, want=200)
            answers.append((sp, hits))
        self.assertTrue(all(a == answers[0] for a in answers), answers)
        counts = {x["name"]: x["vectors"] for x in answers[0][0]["spaces"]}
        self.assertEqual(counts, {"text": 11, "people": 10})
        self.assertEqual(len(answers[0][1]["hits"]), 5, answers[0][1])


if __name__ == "__main__":
    run_tests(__name__)
