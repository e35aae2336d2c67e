#!/usr/bin/env python3
"""Multi-pattern queries end to end: `hakgal query` (text, --json,
--explain, --cursor paging, errors with the column), REST GET/POST
/v2/query and the MCP tool query_graph over stdio, all on one KB and
checked against each other and against answers computed here.

Standard library only; the real binary from $HAKGAL_BIN.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

BIN = os.environ.get("HAKGAL_BIN", "build/hakgal")
TMP = os.environ.get("HK_TEST_TMP", "/tmp")

COMPANIES = [("Intel", 1968), ("Samsung", 1938), ("Bosch", 1886),
             ("Nvidia", 1993), ("AMD", 1969)]
PARTS = {"CPU": "Intel", "RAM": "Samsung", "Engine": "Bosch",
         "GPU": "Nvidia", "Chipset": "AMD"}
HAS = [("Computer", "CPU"), ("Computer", "RAM"), ("Computer", "GPU"),
       ("Computer", "Chipset"), ("Car", "Engine"), ("Car", "CPU")]


def run(*args, check=True):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s: %s %s" % (args, p.returncode, p.stderr))
    return p


class QueryGraph(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="qgraph-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        lines = []
        for c, y in COMPANIES:
            lines.append("FoundedIn(%s, %d)" % (c, y))
        for p, m in PARTS.items():
            lines.append("MadeBy(%s, %s)" % (p, m))
        for a, b in HAS:
            lines.append("HasPart(%s, %s)" % (a, b))
        lines.append("Defunct(Bosch)")
        # many facts for paging: Link(n_i, n_j) on a ring with chords
        for i in range(300):
            lines.append("Link(n%d, n%d)" % (i, (i + 1) % 300))
            lines.append("Link(n%d, n%d)" % (i, (i * 7) % 300))
        path = os.path.join(cls.root, "facts.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        run("init", "--data", cls.data)
        run("import", path, "--data", cls.data)
        cls.links = set()
        for i in range(300):
            cls.links.add(("n%d" % i, "n%d" % ((i + 1) % 300)))
            cls.links.add(("n%d" % i, "n%d" % ((i * 7) % 300)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def cli_json(self, q, *extra):
        p = run("query", q, "--json", "--data", self.data, *extra)
        rows = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        return rows[:-1], rows[-1]

    def test_cli_join(self):
        q = ("HasPart(?c, ?p), MadeBy(?p, ?m), FoundedIn(?m, ?y), "
             "?y < 1970")
        rows, trailer = self.cli_json(q)
        got = sorted((r["bindings"]["c"], r["bindings"]["p"],
                      r["bindings"]["m"]) for r in rows)
        want = sorted((c, p, PARTS[p]) for c, p in HAS
                      if dict(COMPANIES)[PARTS[p]] < 1970)
        self.assertEqual(got, want)
        self.assertEqual(trailer, {"cursor": None, "count": len(want)})
        for r in rows:  # the matched facts are the three statements
            self.assertEqual(len(r["facts"]), 3)
            f = json.loads(run("get", str(r["facts"][1]), "--json",
                               "--data", self.data).stdout)
            self.assertEqual(f["statement"], "MadeBy(%s, %s)" %
                             (r["bindings"]["p"], r["bindings"]["m"]))

    def test_cli_select_distinct_not_order(self):
        q = ("select ?m distinct where HasPart(?c, ?p), MadeBy(?p, ?m), "
             "not Defunct(?m) order by ?m desc limit 10")
        rows, _ = self.cli_json(q)
        got = [r["bindings"]["m"] for r in rows]
        want = sorted({PARTS[p] for _, p in HAS} - {"Bosch"}, reverse=True)
        self.assertEqual(got, want)
        self.assertEqual(set(rows[0]["bindings"]), {"m"})

    def test_cli_paging(self):
        q = "Link(?a, ?b), Link(?b, ?c)"
        want = sorted((a, b, c) for a, b in self.links
                      for b2, c in self.links if b2 == b)
        seen, cursor, pages = [], None, 0
        while True:
            extra = ["--limit", "97"] + (["--cursor", cursor] if cursor
                                         else [])
            rows, trailer = self.cli_json(q, *extra)
            seen += [(r["bindings"]["a"], r["bindings"]["b"],
                      r["bindings"]["c"]) for r in rows]
            pages += 1
            cursor = trailer["cursor"]
            if cursor is None:
                break
            self.assertEqual(trailer["count"], 97)
        self.assertEqual(len(seen), len(set(seen)))  # nothing repeated
        self.assertEqual(sorted(seen), want)  # nothing skipped
        self.assertGreater(pages, 5)

    def test_cli_explain_and_text(self):
        p = run("query", "--explain", "HasPart(Car, ?p), MadeBy(?p, ?m)",
                "--data", self.data)
        self.assertIn("via adj on arg 0", p.stdout)
        self.assertIn("actual 2 rows", p.stdout)
        p = run("query", "--explain", "--json",
                "HasPart(Car, ?p), MadeBy(?p, ?m)", "--data", self.data)
        plan = json.loads(p.stdout)["plan"]
        self.assertEqual([s["rows"] for s in plan], [2, 2])
        p = run("query", "HasPart(Car, ?p), MadeBy(?p, ?m)", "--data",
                self.data)
        self.assertIn("p=Engine\tm=Bosch\tfacts ", p.stdout)
        # a single pattern keeps the fact output
        rows, _ = self.cli_json("HasPart(Car, ?p)")
        self.assertIn("statement", rows[0])

    def test_cli_errors(self):
        p = run("query", "HasPart(?c, ?p), MadeBy(?p ?m)", "--data",
                self.data, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("column 25", p.stderr)
        p = run("query", "HasPart(?c, ?p), not MadeBy(?p, ?z)", "--data",
                self.data, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("?z", p.stderr)
        self.assertIn("column 22", p.stderr)

    def test_rest_and_mcp_agree_with_cli(self):
        q = "HasPart(?c, ?p), MadeBy(?p, ?m), FoundedIn(?m, ?y)"
        cli_rows, _ = self.cli_json(q, "--limit", "100")
        srv = subprocess.Popen([BIN, "serve", "--data", self.data,
                                "--listen", "127.0.0.1:0", "--threads", "1"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            port = None
            deadline = time.time() + 30
            while port is None and time.time() < deadline:
                line = srv.stdout.readline()
                if "listening on" in line:
                    port = int(line.split("listening on ")[1].split()[0]
                               .rsplit(":", 1)[1])
            self.assertIsNotNone(port)
            base = "http://127.0.0.1:%d" % port
            url = base + "/v2/query?" + urllib.parse.urlencode(
                {"q": q, "limit": 4})
            with urllib.request.urlopen(url, timeout=30) as r:
                page1 = json.loads(r.read())
            self.assertEqual(page1["count"], 4)
            body = json.dumps({"query": q, "limit": 100,
                               "cursor": page1["next_cursor"],
                               "explain": True}).encode()
            req = urllib.request.Request(base + "/v2/query", data=body,
                                         method="POST", headers={
                                             "Content-Type":
                                             "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                page2 = json.loads(r.read())
            self.assertIsNone(page2["next_cursor"])
            self.assertEqual(len(page2["plan"]), 3)
            self.assertEqual(page1["rows"] + page2["rows"], cli_rows)
            bad = urllib.request.Request(
                base + "/v2/query", data=json.dumps(
                    {"query": "HasPart(?c, ?p), ?q > 3"}).encode(),
                method="POST")
            try:
                urllib.request.urlopen(bad, timeout=30)
                self.fail("bad query accepted")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 400)
                err = json.loads(e.read())["error"]
                self.assertEqual(err["code"], "invalid_query")
                self.assertEqual(err["detail"]["column"], 18)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.communicate(timeout=30)
        # MCP over stdio
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "query_graph", "arguments": {"query": q}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        out = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        res = [m for m in out if m.get("id") == 2][0]["result"]
        self.assertFalse(res.get("isError", False))
        self.assertEqual(res["structuredContent"]["rows"], cli_rows)


if __name__ == "__main__":
    unittest.main(verbosity=2)
