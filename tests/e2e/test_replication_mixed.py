#!/usr/bin/env python3
"""Replicated nodes, every kind of fact write through every interface:
three nodes (`serve --replicate`) on the 3-broker mock cluster take, at
the same time, REST batches (a JSON array and NDJSON, with bad items),
single-fact REST writes (POST, PUT, PATCH, DELETE by id and by
statement) and MCP-over-HTTP tool calls (add_fact, update_fact,
delete_fact). Each write is one command in the log; every node ends with
equal `GET /v2/digest` (content and audit head) and the exact set of
facts the writes imply. (Rules and vectors through the log:
test_replication_rules_vectors.py.)
"""
import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import TMP, q, run_tests  # noqa: E402
from test_replication_follow import (MOCK, NodesCase, have_client,  # noqa: E402
                                     token_file)

TOPIC = "hakgal.replica"  # the mock helper creates it with 1 partition
SECRET = "mixed-secret-1"
AUTH = {"Authorization": "Bearer " + SECRET}


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class Mixed(NodesCase):

    def setUp(self):
        os.makedirs(TMP, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="repl-mixed-", dir=TMP)
        self.start_nodes(tokens=token_file(self.dir, "write", SECRET))

    def tearDown(self):
        self.stop_nodes()

    def req(self, s, method, path, body=None, ctype=None):
        h = dict(AUTH)
        if ctype:
            h["Content-Type"] = ctype
        return s.request(method, path, body, headers=h, timeout=60)

    def mcp(self, s, tool, args, ident=[10]):
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
        ident[0] += 1
        call = {"jsonrpc": "2.0", "id": ident[0], "method": "tools/call",
                "params": {"name": tool, "arguments": args}}
        st, _, data = s.request("POST", "/mcp", call, headers=base, raw=True,
                                timeout=60)
        self.assertEqual(st, 200, data)
        text = data.decode()
        if text.startswith("event:") or text.startswith("data:"):
            text = [x[5:] for x in text.splitlines()
                    if x.startswith("data:")][-1]
        r = json.loads(text)
        s.request("DELETE", "/mcp", headers=base)
        # a tool's failure: a JSON-RPC error or a result with isError
        if "error" in r:
            return {"isError": True, "error": r["error"]}
        return r["result"]

    def digest(self, s):
        st, _, d = s.request("GET", "/v2/digest", headers=AUTH)
        self.assertEqual(st, 200, d)
        return (d["facts"], d["content"], d["audit"]["seq"],
                d["audit"]["hash"])

    def converge(self, facts, timeout=120):
        deadline = time.time() + timeout
        ds = None
        while time.time() < deadline:
            ds = [self.digest(s) for s in self.nodes]
            if all(x == ds[0] for x in ds) and ds[0][0] == facts:
                return ds[0]
            time.sleep(0.1)
        self.fail("no convergence: %s\n%s" %
                  (ds, self.nodes[-1].output()[-3000:]))

    def statements(self, s, pred):
        st, _, b = s.request("GET", "/v2/facts?predicate=%s&limit=1000" % pred,
                             headers=AUTH)
        self.assertEqual(st, 200, b)
        return {f["statement"] for f in b["facts"]}

    def test_every_write_through_every_interface(self):
        errors = []

        def guard(fn):
            def run():
                try:
                    fn()
                except BaseException as e:  # reported in the main thread
                    errors.append(e)
            return run

        def batches():  # node 1: REST batches
            s = self.nodes[0]
            for k in range(4):
                items = [{"statement": "Bt(b%d, i%d)" % (k, i),
                          "confidence": 0.5, "tags": ["k%d" % k]}
                         for i in range(50)]
                items.append({"statement": "not a statement"})
                st, _, b = self.req(s, "POST", "/v2/facts/batch", items)
                self.assertEqual(st, 200, b)
                self.assertEqual((b["created"], b["failed"]), (50, 1))
            nd = "\n".join(json.dumps({"statement": "Nd(x%d)" % i})
                           for i in range(30)) + "\n{bad json\n"
            st, _, b = self.req(s, "POST", "/v2/facts/batch", nd,
                                "application/x-ndjson")
            self.assertEqual(st, 200, b)
            self.assertEqual((b["created"], b["failed"]), (30, 1))

        def mcp_writes():  # node 2: MCP over HTTP
            s = self.nodes[1]
            for i in range(8):
                r = self.mcp(s, "add_fact", {"statement": "Mc(m%d)" % i,
                                             "source": "mcp", "tags": ["m"]})
                self.assertFalse(r.get("isError"), r)
            r = self.mcp(s, "update_fact", {"old_statement": "Mc(m0)",
                                            "new_statement": "Mc(moved)"})
            self.assertFalse(r.get("isError"), r)
            r = self.mcp(s, "delete_fact", {"statement": "Mc(m1)"})
            self.assertFalse(r.get("isError"), r)
            r = self.mcp(s, "delete_fact", {"statement": "Mc(never)"})
            self.assertTrue(r.get("isError"), r)

        def rest_writes():  # node 3: single-fact REST writes
            s = self.nodes[2]
            ids = []
            for i in range(10):
                st, _, b = self.req(s, "POST", "/v2/facts",
                                    {"statement": "Rs(r%d)" % i})
                self.assertEqual(st, 201, b)
                ids.append(b["id"])
            st, _, b = self.req(s, "PUT", "/v2/facts/%d" % ids[0],
                                {"statement": "Rs(replaced)"})
            self.assertEqual(st, 200, b)
            st, _, b = self.req(s, "PATCH", "/v2/facts/%d" % ids[1],
                                {"confidence": 0.25, "source": "patched"})
            self.assertEqual(st, 200, b)
            self.assertEqual(b["source"], "patched")
            st, _, b = self.req(s, "DELETE", "/v2/facts/%d" % ids[2])
            self.assertEqual(st, 200, b)
            st, _, b = self.req(s, "DELETE",
                                "/v2/facts?statement=" + q("Rs(r3)"))
            self.assertEqual(st, 200, b)

        ts = [threading.Thread(target=guard(f))
              for f in (batches, mcp_writes, rest_writes)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]

        # 200 + 30 batch facts, 8 - 1 MCP facts, 10 - 2 REST facts
        self.converge(200 + 30 + 7 + 8)
        for s in self.nodes:
            self.assertEqual(self.statements(s, "Mc"),
                             {"Mc(moved)"} | {"Mc(m%d)" % i
                                              for i in range(2, 8)})
            st_rs = self.statements(s, "Rs")
            self.assertIn("Rs(replaced)", st_rs)
            self.assertNotIn("Rs(r2)", st_rs)
            self.assertNotIn("Rs(r3)", st_rs)
            st, _, b = s.request("GET", "/v2/facts?predicate=Rs&limit=1000",
                                 headers=AUTH)
            patched = [f for f in b["facts"] if f["statement"] == "Rs(r1)"]
            self.assertEqual(patched[0]["source"], "patched")



if __name__ == "__main__":
    run_tests(__name__)
