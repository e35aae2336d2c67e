#!/usr/bin/env python3
"""End-to-end regression test: deleting or replacing a fact removes its
vectors whatever process does it. The fact is deleted and updated through
the CLI (`delete`, `update`), through REST (`hakgal serve`: DELETE and PUT
/v2/facts/{id}) and through MCP stdio (`delete_fact`, `update_fact`);
after each, `vectors list` counts exactly the vectors of live facts with
their current content, and `similar` never returns a deleted fact nor a
replaced fact under its old content.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server  # noqa: E402

FACTS = ["HasPart(Computer, CPU)", "HasPart(Computer, Memory)",
         "IsA(Laptop, Computer)", "IsA(Cat, Animal)", "Eats(Cat, Fish)",
         "HasPart(Car, Engine)", "LocatedIn(Berlin, Germany)",
         "LocatedIn(Paris, France)", "Eats(Dog, Meat)"]


def run(data, *args, check=True):
    p = subprocess.run([BIN] + list(args) + ["--data", data],
                       capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p


def jlines(p):
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


class VectorHooks(unittest.TestCase):
    def setUp(self):
        os.makedirs(TMP, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="vhooks-", dir=TMP)
        self.data = os.path.join(self.root, "kb")
        run(self.data, "init")
        run(self.data, "add", *FACTS)
        run(self.data, "vectors", "create", "words", "--dim", "128",
            "--embedder", "hashed")
        out = jlines(run(self.data, "embed", "--space", "words", "--json"))
        self.assertEqual(out[0]["embedded"], len(FACTS))
        self.ids = {}
        for st in FACTS:
            self.ids[st] = jlines(run(self.data, "get", st, "--json"))[0]["id"]

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def count(self):
        spaces = jlines(run(self.data, "vectors", "list", "--json"))
        return [s for s in spaces if s["name"] == "words"][0]["vectors"]

    def similar(self, text):
        return jlines(run(self.data, "similar", text, "--space", "words",
                          "--k", "50", "--json"))

    def check_after(self, deleted, updated, new):
        """deleted and updated (old statement) were changed; new is the
        updated fact's new content."""
        gone = self.ids[deleted]
        upd = self.ids[updated]
        # the deleted fact's vector and the updated fact's old one are gone
        self.assertEqual(self.count(), len(FACTS) - 2)
        for text in (deleted, updated, new):
            ids = [h["id"] for h in self.similar(text)]
            self.assertNotIn(gone, ids)
            self.assertNotIn(upd, ids)
            self.assertEqual(len(ids), len(FACTS) - 2)
        # embedding again gives the updated fact the vector of its new
        # content, the deleted one none
        out = jlines(run(self.data, "embed", "--space", "words", "--json"))
        self.assertEqual(out[0]["embedded"], 1)
        self.assertEqual(self.count(), len(FACTS) - 1)
        hits = self.similar(new)
        self.assertEqual(hits[0]["id"], upd)
        self.assertEqual(hits[0]["statement"], new)
        self.assertNotIn(gone, [h["id"] for h in hits])

    def test_cli(self):
        run(self.data, "delete", "Eats(Cat, Fish)")
        run(self.data, "update", "LocatedIn(Paris, France)",
            "LocatedIn(Lyon, France)")
        self.check_after("Eats(Cat, Fish)", "LocatedIn(Paris, France)",
                         "LocatedIn(Lyon, France)")

    def test_rest(self):
        srv = Server(data=self.data)
        try:
            st, _, body = srv.request(
                "DELETE", "/v2/facts/%d" % self.ids["HasPart(Car, Engine)"])
            self.assertIn(st, (200, 204), body)
            st, _, body = srv.request(
                "PUT", "/v2/facts/%d" % self.ids["IsA(Laptop, Computer)"],
                {"statement": "IsA(Notebook, Computer)"})
            self.assertEqual(st, 200, body)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        self.check_after("HasPart(Car, Engine)", "IsA(Laptop, Computer)",
                         "IsA(Notebook, Computer)")

    def test_mcp_stdio(self):
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "delete_fact",
                        "arguments": {"statement": "Eats(Dog, Meat)",
                                      "auth_token": "w-secret"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "update_fact",
                        "arguments": {"old_statement": "IsA(Cat, Animal)",
                                      "new_statement": "IsA(Cat, Mammal)",
                                      "auth_token": "w-secret"}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data,
                            "--write-token", "w-secret"],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        answers = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                answers[m["id"]] = m
        for i in (2, 3):
            self.assertFalse(answers[i]["result"].get("isError"), answers[i])
        self.check_after("Eats(Dog, Meat)", "IsA(Cat, Animal)",
                         "IsA(Cat, Mammal)")


if __name__ == "__main__":
    unittest.main()
