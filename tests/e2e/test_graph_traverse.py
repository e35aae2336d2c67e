#!/usr/bin/env python3
"""End-to-end tests of graph traversal through every interface: the CLI
commands `path` and `neighbours` (text, --json, exit codes), the REST
routes /v2/graph/path and /v2/graph/neighbours, and the MCP tools
graph_path and graph_neighbours over stdio. The same KB answers the same
paths everywhere; shortest path lengths are checked against a plain BFS
written here over the facts the test added.
"""
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, q  # noqa: E402


def run(*args, check=True):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p


class GraphTraverse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="graph-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        rnd = random.Random(9)
        cls.edges = []  # undirected (a, b) of binary facts
        lines = ["Bond(N, H1, H2)", "Link(H2, Far)"]
        for _ in range(150):
            a, b = rnd.randrange(60), rnd.randrange(60)
            if a != b:
                lines.append("Knows(P%d, P%d)" % (a, b))
                cls.edges.append(("P%d" % a, "P%d" % b))
        path = os.path.join(cls.root, "facts.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        run("init", "--data", cls.data)
        run("import", "--data", cls.data, path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def bfs(self, a, b):
        adj = collections.defaultdict(set)
        for x, y in self.edges:
            adj[x].add(y)
            adj[y].add(x)
        dist = {a: 0}
        todo = collections.deque([a])
        while todo:
            u = todo.popleft()
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    todo.append(v)
        return dist.get(b)

    def largest(self):
        """Vertices of the largest weak component (Knows facts only: the
        Bond/Link part has 5 vertices with the fact vertex)."""
        seen, best = set(), 5
        for x, _ in self.edges:
            if x in seen:
                continue
            comp = {x}
            todo = [x]
            while todo:
                u = todo.pop()
                for a, b in self.edges:
                    for p, o in ((a, b), (b, a)):
                        if p == u and o not in comp:
                            comp.add(o)
                            todo.append(o)
            seen |= comp
            best = max(best, len(comp))
        return best

    def test_cli_analyze(self):
        out = json.loads(run("analyze", "components", "--data", self.data,
                             "--json").stdout)
        self.assertEqual(out["top"][0]["size"], self.largest())
        out = json.loads(run("analyze", "pagerank", "--data", self.data,
                             "--top", "5", "--json").stdout)
        self.assertEqual(len(out["top"]), 5)
        self.assertAlmostEqual(sum(r["score"] for r in out["top"][:1]) > 0,
                               True)
        p = run("analyze", "nonsense", "--data", self.data, check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_cli_path_vs_bfs(self):
        rnd = random.Random(4)
        seen = set(x for e in self.edges for x in e)
        names = sorted(seen)
        for _ in range(25):
            a, b = rnd.choice(names), rnd.choice(names)
            out = run("path", "--data", self.data, a, b, "--max-len", "32",
                      "--json").stdout
            got = json.loads(out)["paths"]
            want = self.bfs(a, b)
            if want is None:
                self.assertEqual(got, [])
            else:
                self.assertEqual(len(got), 1)
                self.assertEqual(got[0]["length"], want)
                self.assertEqual(got[0]["nodes"][0], a)
                self.assertEqual(got[0]["nodes"][-1], b)
                self.assertEqual(len(got[0]["facts"]), want)

    def test_cli_nary_k_and_text(self):
        out = json.loads(run("path", "--data", self.data, "N", "Far",
                             "--k", "3", "--json").stdout)
        # N -Bond- H2 -Link- Far; N -Bond- H1 -Bond- H2 would reuse a fact
        self.assertEqual([p["nodes"] for p in out["paths"]],
                         [["N", "H2", "Far"]])
        out = json.loads(run("path", "--data", self.data, "Far", "N",
                             "--directed", "--json").stdout)
        self.assertEqual(out, {"paths": []})
        text = run("path", "--data", self.data, "N", "Far").stdout
        self.assertTrue(text.startswith("2: N -[#"), text)
        hood = json.loads(run("neighbours", "--data", self.data, "H2",
                              "--depth", "2", "--json").stdout)
        ids = {n["id"] for n in hood["nodes"]}
        self.assertTrue({"H2", "N", "H1", "Far"} <= ids, ids)
        self.assertIn("fact", {n["kind"] for n in hood["nodes"]})
        hood = json.loads(run("neighbours", "--data", self.data, "H2",
                              "--deny", "Bond", "--json").stdout)
        self.assertEqual({n["id"] for n in hood["nodes"]}, {"H2", "Far"})

    def test_cli_errors(self):
        p = run("neighbours", "--data", self.data, "Nobody", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Nobody", p.stderr)
        p = run("path", "--data", self.data, "N", check=False)
        self.assertNotEqual(p.returncode, 0)
        p = run("path", "--data", self.data, "N", "Far", "--max-len", "0",
                check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--max-len", p.stderr)

    def test_rest(self):
        srv = Server(data=self.data)
        try:
            st, _, body = srv.request(
                "GET", "/v2/graph/path?from=N&to=Far&k=2")
            self.assertEqual(st, 200, body)
            self.assertEqual(body["paths"][0]["nodes"], ["N", "H2", "Far"])
            st, _, body = srv.request(
                "GET", "/v2/graph/neighbours?entity=%s&direction=out"
                % q("H2"))
            self.assertEqual(st, 200, body)
            self.assertEqual([(e["from"], e["to"]) for e in body["edges"]],
                             [("H2", "Far")])
            st, _, body = srv.request("GET",
                                      "/v2/graph/neighbours?entity=Nobody")
            self.assertEqual(st, 404, body)
            st, _, body = srv.request("GET", "/v2/graph/path?from=N")
            self.assertEqual(st, 400, body)
            self.assertEqual(body["error"]["detail"]["field"], "to")
            st, _, body = srv.request("GET",
                                      "/v2/graph/path?from=N&to=Far&k=0")
            self.assertEqual(st, 400, body)
            st, _, body = srv.request(
                "GET", "/v2/graph/analyze?kind=components&top=1")
            self.assertEqual(st, 200, body)
            self.assertEqual(body["top"][0]["size"], self.largest())
            st, _, body = srv.request("GET", "/v2/graph/analyze?kind=x")
            self.assertEqual(st, 400, body)
            st, _, body = srv.request("GET", "/openapi.json")
            self.assertIn("/v2/graph/path", body["paths"])
            self.assertIn("/v2/graph/neighbours", body["paths"])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()

    def test_mcp_stdio(self):
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "graph_path",
                        "arguments": {"from": "N", "to": "Far"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "graph_neighbours",
                        "arguments": {"entity": "H2", "allow": ["Link"]}}},
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
             "params": {"name": "graph_analyze",
                        "arguments": {"kind": "degrees", "top": 1}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "graph_path",
                        "arguments": {"from": "N", "to": "Far", "k": 0}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        answers = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                answers[m["id"]] = m
        sc = answers[2]["result"]["structuredContent"]
        self.assertEqual(sc["paths"][0]["nodes"], ["N", "H2", "Far"])
        sc = answers[3]["result"]["structuredContent"]
        self.assertEqual([e["label"] for e in sc["edges"]], ["Link"])
        sc = answers[5]["result"]["structuredContent"]
        self.assertEqual(sc["analysis"], "degrees")
        self.assertEqual(len(sc["top"]), 1)
        # k = 0 is outside the input schema
        self.assertTrue("error" in answers[4] or
                        answers[4]["result"].get("isError"), answers[4])


if __name__ == "__main__":
    unittest.main()
