#!/usr/bin/env python3
"""End-to-end test of vector search over REST and MCP: GET/POST
/v2/vectors, DELETE /v2/vectors/{space}, POST /v2/vectors/{space}/embed,
GET and POST /v2/vectors/{space}/similar (text, vector, fact, predicate
and entity filters, k) with their errors, the routes in /openapi.json,
and the MCP tools vector_spaces and vector_similar over stdio on the same
KB, which answer what the CLI answers.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, q  # noqa: E402

FACTS = ["HasPart(Computer, CPU)", "HasPart(Computer, Memory)",
         "IsA(Laptop, Computer)", "IsA(Cat, Animal)", "Eats(Cat, Fish)",
         "HasPart(Car, Engine)", "LocatedIn(Berlin, Germany)"]


def run(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    if "--json" not in args:
        return p.stdout
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


class VectorApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="vapi-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        run("init", "--data", cls.data)
        run("add", "--data", cls.data, *FACTS)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_rest_then_mcp(self):
        srv = Server(data=self.data)
        try:
            self.rest(srv)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        self.mcp()

    def rest(self, srv):
        r = srv.request
        st, _, b = r("GET", "/v2/vectors")
        self.assertEqual((st, b), (200, {"spaces": []}))
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "words", "dim": 128, "embedder": "hashed"})
        self.assertEqual(st, 201, b)
        self.assertEqual((b["name"], b["dim"], b["metric"], b["vectors"]),
                         ("words", 128, "cosine", 0))
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "pts", "dim": 3, "metric": "l2", "int8": True})
        self.assertEqual(st, 201, b)
        self.assertEqual(b["storage"], "int8")
        st, _, b = r("POST", "/v2/vectors", {"name": "words", "dim": 8})
        self.assertEqual(st, 409, b)
        st, _, b = r("POST", "/v2/vectors", {"name": "Bad!", "dim": 8})
        self.assertIn(st, (400, 422), b)
        st, _, b = r("POST", "/v2/vectors", {"name": "x", "dim": 5000})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["detail"]["field"], "dim")
        st, _, b = r("POST", "/v2/vectors", {"name": "x", "metric": "cos"})
        self.assertEqual(st, 400, b)

        # embed in batches of 3 until done
        after, total = 0, 0
        for _ in range(10):
            st, _, b = r("POST", "/v2/vectors/words/embed",
                         {"after": after, "limit": 3})
            self.assertEqual(st, 200, b)
            total += b["embedded"]
            after = b["last"]
            if b["done"]:
                break
        self.assertEqual(total, len(FACTS))
        st, _, b = r("POST", "/v2/vectors/words/embed")
        self.assertEqual((st, b["embedded"]), (200, 0), b)
        st, _, b = r("POST", "/v2/vectors/pts/embed")
        self.assertNotEqual(st, 200, b)
        st, _, b = r("POST", "/v2/vectors/nope/embed")
        self.assertEqual(st, 404, b)

        st, _, b = r("GET", "/v2/vectors")
        self.assertEqual([(s["name"], s["vectors"]) for s in b["spaces"]],
                         [("pts", 0), ("words", len(FACTS))])

        # similar: GET by text, with filters, by fact; POST by vector
        st, _, b = r("GET", "/v2/vectors/words/similar?text=%s&k=3"
                     % q("computer parts"))
        self.assertEqual(st, 200, b)
        hits = b["hits"]
        self.assertEqual(len(hits), 3)
        self.assertTrue(all("Computer" in h["statement"] for h in hits))
        self.assertTrue(hits[0]["score"] >= hits[1]["score"] >=
                        hits[2]["score"])
        cli = run("similar", "computer parts", "--space", "words", "--k",
                  "3", "--json", "--data", self.data)
        self.assertEqual([h["id"] for h in hits], [h["id"] for h in cli])
        st, _, b = r("GET", "/v2/vectors/words/similar?text=cat"
                     "&predicate=Eats")
        self.assertEqual([h["statement"] for h in b["hits"]],
                         ["Eats(Cat, Fish)"])
        st, _, b = r("POST", "/v2/vectors/words/similar",
                     {"text": "computer", "entity": "Computer", "k": 10})
        self.assertEqual(st, 200, b)
        self.assertEqual(len(b["hits"]), 3)
        self.assertGreater(b["candidates"], 0)
        st, _, b = r("GET", "/v2/vectors/words/similar?fact=1&k=1")
        self.assertEqual(b["hits"][0]["id"], 1)
        self.assertAlmostEqual(b["hits"][0]["score"], 1, places=4)
        st, _, b = r("POST", "/v2/vectors/pts/similar",
                     {"vector": [1, 2, 3]})
        self.assertEqual((st, b["hits"]), (200, []), b)
        # errors
        st, _, b = r("POST", "/v2/vectors/pts/similar",
                     {"vector": [1, 2]})
        self.assertIn(st, (400, 422), b)
        st, _, b = r("POST", "/v2/vectors/pts/similar",
                     {"vector": [1, "x", 3]})
        self.assertEqual(st, 400, b)
        st, _, b = r("GET", "/v2/vectors/words/similar")
        self.assertIn(st, (400, 422), b)
        st, _, b = r("GET", "/v2/vectors/nope/similar?text=x")
        self.assertEqual(st, 404, b)
        st, _, b = r("GET", "/v2/vectors/words/similar?text=x&k=0")
        self.assertEqual(st, 400, b)
        st, _, b = r("GET", "/v2/vectors/words/similar?fact=99")
        self.assertEqual(st, 404, b)

        # drop
        st, _, b = r("DELETE", "/v2/vectors/pts")
        self.assertEqual((st, b), (200, {"name": "pts", "dropped": True}))
        st, _, b = r("DELETE", "/v2/vectors/pts")
        self.assertEqual(st, 404, b)

        st, _, b = r("GET", "/openapi.json")
        for p in ("/v2/vectors", "/v2/vectors/{space}",
                  "/v2/vectors/{space}/embed",
                  "/v2/vectors/{space}/similar"):
            self.assertIn(p, b["paths"])
        self.assertEqual(sorted(b["paths"]["/v2/vectors/{space}/similar"]),
                         ["get", "post"])

    def mcp(self):
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "vector_spaces", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "vector_similar",
                        "arguments": {"space": "words",
                                      "text": "computer parts", "k": 3}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "vector_similar",
                        "arguments": {"space": "words", "text": "cat",
                                      "predicate": "Eats"}}},
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
             "params": {"name": "vector_similar",
                        "arguments": {"space": "words", "fact": 1, "k": 1}}},
            {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
             "params": {"name": "vector_similar",
                        "arguments": {"space": "nope", "text": "x"}}},
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
             "params": {"name": "vector_similar",
                        "arguments": {"space": "words", "k": 0,
                                      "text": "x"}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                a[m["id"]] = m
        sc = a[2]["result"]["structuredContent"]
        self.assertEqual([(s["name"], s["vectors"]) for s in sc["spaces"]],
                         [("words", len(FACTS))])
        cli = run("similar", "computer parts", "--space", "words", "--k",
                  "3", "--json", "--data", self.data)
        sc = a[3]["result"]["structuredContent"]
        self.assertEqual([h["id"] for h in sc["hits"]],
                         [h["id"] for h in cli])
        sc = a[4]["result"]["structuredContent"]
        self.assertEqual([h["statement"] for h in sc["hits"]],
                         ["Eats(Cat, Fish)"])
        sc = a[5]["result"]["structuredContent"]
        self.assertEqual(sc["hits"][0]["id"], 1)
        self.assertTrue(a[6]["result"]["isError"], a[6])
        self.assertIn("no vector space", a[6]["result"]["content"][0]["text"])
        self.assertTrue("error" in a[7] or a[7]["result"].get("isError"),
                        a[7])


if __name__ == "__main__":
    unittest.main()
