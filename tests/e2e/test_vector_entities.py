#!/usr/bin/env python3
"""End-to-end test of entity vector spaces (kind entity) and the model
name stored with a space, through the real binary:

- CLI: `vectors create --kind entity --model`, `embed` of an entity space
  (every entity's name, predicates skipped), `similar --json` answering
  {entity, score}, `vectors put-entities` (all or nothing, unknown
  entities refused), `vectors list` showing kind and model; a deleted fact
  leaves entity vectors alone; the audit trail records entity vector
  changes without their bytes; fact-only options are refused on an
  entity space.
- REST: POST /v2/vectors with kind and model, POST
  /v2/vectors/{space}/entities (write, remove, errors), similar on an
  entity space, the route in /openapi.json.
- MCP (stdio, with a write token): vector_space create/drop,
  vector_entities, vector_similar on an entity space, semantic_similarity
  with mode vector and its unchanged default.
- `/v2/search?mode=vector` with a client-supplied vector.
- Filters on an entity space (predicate, entity, tag, source, alone and
  with a graph query) against the exact filtered answer.
"""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server  # noqa: E402

FACTS = ["HasPart(Computer, CPU)", "HasPart(Computer, Memory)",
         "IsA(CPU, Processor)", "IsA(GPU, Processor)",
         "HasPart(Laptop, Battery)"]
ENTITIES = {"Computer", "CPU", "Memory", "Processor", "GPU", "Laptop",
            "Battery"}


def call(*args, ok=True, stdin=None):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=120, input=stdin)
    if ok and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p


def lines(p):
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


class EntityVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="vent-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        call("init", "--data", cls.data)
        call("add", "--data", cls.data, *FACTS)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_1_cli(self):
        d = ("--data", self.data)
        sp = lines(call("vectors", "create", "names", "--dim", "64",
                        "--embedder", "hashed", "--kind", "entity",
                        "--json", *d))[0]
        self.assertEqual((sp["kind"], sp["model"], sp["vectors"]),
                         ("entity", "", 0))
        # every entity once, predicates (HasPart, IsA) skipped; resumable
        r = lines(call("embed", "--space", "names", "--json", *d))[0]
        self.assertEqual(r["embedded"], len(ENTITIES))
        r = lines(call("embed", "--space", "names", "--json", *d))[0]
        self.assertEqual(r["embedded"], 0)
        hits = lines(call("similar", "Processor", "--space", "names",
                          "--k", "10", "--json", *d))
        self.assertEqual({h["entity"] for h in hits}, ENTITIES)
        self.assertEqual(hits[0]["entity"], "Processor")
        self.assertAlmostEqual(hits[0]["score"], 1.0, places=4)
        self.assertTrue(all(set(h) == {"entity", "score"} for h in hits))
        scores = [h["score"] for h in hits]
        self.assertEqual(scores, sorted(scores, reverse=True))

        # client-supplied vectors with a model name
        call("vectors", "create", "learned", "--dim", "3", "--kind",
             "entity", "--model", "complex-v1", *d)
        src = os.path.join(self.root, "ents.jsonl")
        with open(src, "w") as f:
            f.write('{"entity": "CPU", "vector": [1, 0, 0]}\n'
                    '{"entity": "GPU", "vector": [0.9, 0.1, 0]}\n'
                    '{"entity": "Battery", "vector": [0, 0, 1]}\n')
        r = lines(call("vectors", "put-entities", "learned", src, "--json",
                       *d))[0]
        self.assertEqual(r["written"], 3)
        # one unknown entity: the batch writes nothing
        p = call("vectors", "put-entities", "learned", "-", *d, ok=False,
                 stdin='{"entity": "Memory", "vector": [0, 1, 0]}\n'
                       '{"entity": "Nope", "vector": [1, 0, 0]}\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no entity 'Nope'", p.stderr)
        q = os.path.join(self.root, "q.txt")
        with open(q, "w") as f:
            f.write("1 0 0\n")
        hits = lines(call("similar", "--vector", q, "--space", "learned",
                          "--json", *d))
        self.assertEqual([h["entity"] for h in hits],
                         ["CPU", "GPU", "Battery"])
        spaces = {s["name"]: s for s in lines(call("vectors", "list",
                                                   "--json", *d))}
        self.assertEqual((spaces["learned"]["kind"],
                          spaces["learned"]["model"],
                          spaces["learned"]["vectors"]),
                         ("entity", "complex-v1", 3))
        self.assertEqual(spaces["names"]["vectors"], len(ENTITIES))
        text = call("vectors", "list", *d).stdout
        self.assertIn("model complex-v1", text)

        # deleting facts leaves entity vectors (keyed by symbol, not fact)
        call("delete", "IsA(GPU, Processor)", *d)
        call("delete", "HasPart(Computer, CPU)", *d)
        hits = lines(call("similar", "--vector", q, "--space", "learned",
                          "--json", *d))
        self.assertEqual([h["entity"] for h in hits],
                         ["CPU", "GPU", "Battery"])
        call("add", "--data", self.data, "IsA(GPU, Processor)",
             "HasPart(Computer, CPU)")

        # audited, without the bytes
        audit = call("audit", "list", *d).stdout
        ent = [x for x in audit.splitlines() if '"space":"learned"' in x]
        self.assertEqual(len(ent), 3, audit)
        self.assertTrue(all('"entity":' in x and "fact 0" in x
                            for x in ent), ent)
        # only the payload: the timestamp may contain any digits
        payloads = [x.split("after=", 1)[1].split("  hash=", 1)[0]
                    for x in ent]
        for pl in payloads:
            self.assertNotIn("vector\":[", pl)
            self.assertNotIn("0.9", pl)
        call("audit", "verify", *d)

        # fact-only queries are refused on an entity space
        p = call("similar", "--fact", "1", "--space", "learned", *d,
                 ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("entity vectors", p.stderr)
        p = call("search", "cpu", "--mode", "vector", "--space", "names",
                 *d, ok=False)
        self.assertNotEqual(p.returncode, 0)

    def test_2_rest_then_mcp(self):
        srv = Server(data=self.data)
        try:
            self.rest(srv)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        self.mcp()

    def rest(self, srv):
        r = srv.request
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "rest-ents", "dim": 2, "kind": "entity",
                      "model": "m1"})
        self.assertEqual(st, 201, b)
        self.assertEqual((b["kind"], b["model"]), ("entity", "m1"))
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "bad", "dim": 2, "kind": "thing"})
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["detail"]["field"], "kind")
        path = "/v2/vectors/rest-ents/entities"
        st, _, b = r("POST", path, {"entities": [
            {"entity": "Laptop", "vector": [1, 0]},
            {"entity": "Battery", "vector": [0, 1]},
            {"entity": "Memory", "vector": [0.8, 0.2]}], "model": "m2"})
        self.assertEqual((st, b.get("written")), (200, 3), b)
        st, _, b = r("POST", path, {"entities": [
            {"entity": "Laptop", "vector": [1, 0]},
            {"entity": "Ghost", "vector": [0, 1]}]})
        self.assertEqual(st, 404, b)
        st, _, b = r("POST", path, {"entities": [
            {"entity": "Laptop", "vector": [1, 0, 0]}]})
        self.assertIn(st, (400, 422), b)
        st, _, b = r("POST", "/v2/vectors/names/entities", {"entities": [
            {"entity": "Laptop", "vector": [1, 0]}]})
        self.assertIn(st, (400, 422), b)  # wrong dimension for "names"
        st, _, b = r("POST", "/v2/vectors/rest-ents/similar",
                     {"vector": [1, 0], "k": 2})
        self.assertEqual(st, 200, b)
        self.assertEqual([h["entity"] for h in b["hits"]],
                         ["Laptop", "Memory"])
        st, _, b = r("POST", path, {"entities": [{"entity": "Laptop"}],
                                    "remove": True})
        self.assertEqual((st, b.get("removed")), (200, 1), b)
        st, _, b = r("POST", "/v2/vectors/rest-ents/similar",
                     {"vector": [1, 0], "k": 3})
        self.assertEqual([h["entity"] for h in b["hits"]],
                         ["Memory", "Battery"])
        st, _, b = r("GET", "/v2/vectors")
        sp = {s["name"]: s for s in b["spaces"]}
        self.assertEqual((sp["rest-ents"]["model"],
                          sp["rest-ents"]["vectors"]), ("m2", 2))
        st, _, b = r("GET", "/openapi.json")
        self.assertIn("/v2/vectors/{space}/entities", b["paths"])

    def mcp(self):
        tok = "mcp-entity-token-0123456789"
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "vector_space", "arguments": {
                 "action": "create", "space": "mcp-ents", "dim": 2,
                 "kind": "entity", "storage": "int8", "metric": "dot",
                 "model": "x1", "auth_token": tok}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "vector_entities", "arguments": {
                 "space": "mcp-ents", "auth_token": tok, "entities": [
                     {"entity": "CPU", "vector": [2, 0]},
                     {"entity": "GPU", "vector": [1, 1]}]}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "vector_similar", "arguments": {
                 "space": "mcp-ents", "vector": [1, 0], "k": 2}}},
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
             "params": {"name": "vector_entities", "arguments": {
                 "space": "mcp-ents", "auth_token": tok, "entities": [
                     {"entity": "Nope", "vector": [2, 0]}]}}},
            {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
             "params": {"name": "vector_spaces", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
             "params": {"name": "vector_space", "arguments": {
                 "action": "drop", "space": "mcp-ents", "auth_token": tok}}},
            {"jsonrpc": "2.0", "id": 8, "method": "tools/call",
             "params": {"name": "vector_space", "arguments": {
                 "action": "create", "space": "mcp-facts", "dim": 64,
                 "embedder": "hashed", "auth_token": tok}}},
            {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
             "params": {"name": "semantic_similarity", "arguments": {
                 "statement": "HasPart(Computer, CPU)", "mode": "vector",
                 "space": "mcp-facts", "threshold": 0.1, "limit": 3}}},
            {"jsonrpc": "2.0", "id": 10, "method": "tools/call",
             "params": {"name": "semantic_similarity", "arguments": {
                 "statement": "HasPart(Computer, CPU)", "threshold": 0.5}}},
            {"jsonrpc": "2.0", "id": 11, "method": "tools/call",
             "params": {"name": "vector_space", "arguments": {
                 "action": "create", "space": "nope", "dim": 2,
                 "kind": "entity"}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data,
                            "--write-token", tok],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                a[m["id"]] = m
        for i in (2, 3, 4, 6, 7, 8, 9, 10):
            self.assertFalse(a[i]["result"].get("isError"), a[i])
        sc = a[2]["result"]["structuredContent"]["space"]
        self.assertEqual((sc["kind"], sc["storage"], sc["metric"],
                          sc["model"], sc["m"], sc["ef"]),
                         ("entity", "int8", "dot", "x1", 16, 64))
        self.assertEqual(a[3]["result"]["structuredContent"]["written"], 2)
        sc = a[4]["result"]["structuredContent"]
        self.assertEqual([h["entity"] for h in sc["hits"]], ["CPU", "GPU"])
        self.assertTrue(a[5]["result"]["isError"], a[5])
        self.assertIn("no entity 'Nope'", a[5]["result"]["content"][0]["text"])
        sp = {s["name"]: s for s in
              a[6]["result"]["structuredContent"]["spaces"]}
        self.assertEqual(sp["mcp-ents"]["vectors"], 2)
        self.assertTrue(a[7]["result"]["structuredContent"]["dropped"])
        # the hashed space has no vectors yet: embed it, then ask again
        call("embed", "--space", "mcp-facts", "--data", self.data)
        sc = a[9]["result"]["structuredContent"]
        self.assertEqual(sc["mode"], "vector")
        sc10 = a[10]["result"]["structuredContent"]
        self.assertTrue(sc10["method"].startswith("lexical"), sc10)
        self.assertTrue(any(m["statement"] == "HasPart(Computer, CPU)"
                            for m in sc10["matches"]))
        # without a token the write is refused
        self.assertTrue("error" in a[11] or a[11]["result"].get("isError"),
                        a[11])
        msgs2 = [msgs[0], msgs[1], msgs[9]]
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n"
                                         for m in msgs2),
                           capture_output=True, text=True, timeout=60)
        a = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                a[m["id"]] = m
        sc = a[9]["result"]["structuredContent"]
        self.assertEqual(sc["matches"][0]["statement"],
                         "HasPart(Computer, CPU)")
        self.assertAlmostEqual(sc["matches"][0]["score"], 1.0, places=4)
        self.assertTrue(sc["method"].startswith("vector"), sc)


class VectorFilters(unittest.TestCase):
    """Tag, source and graph-query filters on a 2000-fact KB: every
    selective filter answers exactly (all members when k covers them, the
    same order as the top k), on the CLI and over REST."""
    N = 2000

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="vfilt-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        call("init", "--data", cls.data)
        src = os.path.join(cls.root, "facts.jsonl")
        with open(src, "w") as f:
            for i in range(cls.N):
                rec = {"statement": "Rel%d(item%d, group%d)"
                       % (i % 7, i, i % 100),
                       "source": "s%d" % (i % 50)}
                if i % 100 == 3:
                    rec["tags"] = ["rare"]
                f.write(json.dumps(rec) + "\n")
        call("import", src, "--format", "jsonl", "--data", cls.data)
        call("vectors", "create", "words", "--dim", "64", "--embedder",
             "hashed", "--data", cls.data)
        call("embed", "--space", "words", "--data", cls.data)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def similar(self, k, *filters):
        args = ["similar", "item1234 group34", "--space", "words", "--k",
                str(k), "--json", "--data", self.data]
        for f in filters:
            args += ["--filter", f]
        return lines(call(*args))

    def check_exact(self, members, *filters):
        all_hits = self.similar(1000, *filters)
        self.assertEqual(sorted(h["statement"] for h in all_hits),
                         sorted(members))
        scores = [h["score"] for h in all_hits]
        self.assertEqual(scores, sorted(scores, reverse=True))
        top = self.similar(10, *filters)
        self.assertEqual([h["id"] for h in top],
                         [h["id"] for h in all_hits[:10]])

    def test_filters(self):
        rows = [(i % 7, i, i % 100, i % 50) for i in range(self.N)]

        def st(r):
            return "Rel%d(item%d, group%d)" % (r[0], r[1], r[2])
        self.check_exact([st(r) for r in rows if r[1] % 100 == 3],
                         "tag:rare")
        self.check_exact([st(r) for r in rows if r[3] == 17],
                         "source:s17")
        self.check_exact([st(r) for r in rows if r[0] == 3 and r[2] == 5],
                         "query:Rel3(?x, group5)")
        self.check_exact([st(r) for r in rows
                          if r[2] == 5 and r[3] == 5 and r[0] == 3],
                         "query:Rel3(?x, group5)", "source:s5")
        self.check_exact([st(r) for r in rows if r[0] == 2 and r[3] == 9],
                         "predicate:Rel2", "source:s9")
        # a query with a join: items in group 5 that have a Rel3 edge
        self.check_exact([st(r) for r in rows if r[2] == 5 and r[0] == 3],
                         "query:Rel3(?x, ?g), Rel3(?y, ?g), ?g = group5")
        p = call("similar", "x", "--space", "words", "--filter", "tag:",
                 "--data", self.data, ok=False)
        self.assertNotEqual(p.returncode, 0)
        p = call("similar", "x", "--space", "words", "--filter",
                 "query:Rel3(?x", "--data", self.data, ok=False)
        self.assertNotEqual(p.returncode, 0)

        srv = Server(data=self.data)
        try:
            st_, _, b = srv.request(
                "GET", "/v2/vectors/words/similar?text=item1234%20group34"
                "&k=10&query=Rel3(%3Fx%2C%20group5)")
            self.assertEqual(st_, 200, b)
            self.assertTrue(b["exact"])
            self.assertEqual([h["id"] for h in b["hits"]],
                             [h["id"] for h in self.similar(
                                 10, "query:Rel3(?x, group5)")])
            st_, _, b = srv.request(
                "POST", "/v2/vectors/words/similar",
                {"text": "item1234 group34", "k": 10, "tag": "rare"})
            self.assertEqual(st_, 200, b)
            self.assertEqual(b["candidates"], self.N // 100)
            self.assertEqual([h["id"] for h in b["hits"]],
                             [h["id"] for h in self.similar(10, "tag:rare")])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()

    def test_search_with_vector(self):
        """/v2/search?mode=vector with a client-supplied vector answers what
        similar answers for that vector; bad vectors are refused."""
        q = [((i * 37) % 11 - 5) / 5.0 for i in range(64)]
        enc = urllib.parse.quote(",".join(repr(x) for x in q))
        srv = Server(data=self.data)
        try:
            st_, _, b = srv.request(
                "POST", "/v2/vectors/words/similar", {"vector": q, "k": 10})
            self.assertEqual(st_, 200, b)
            want = [h["id"] for h in b["hits"]]
            self.assertEqual(len(want), 10)
            for space in ("&space=words", ""):  # default: the 64-d space
                st_, _, b = srv.request(
                    "GET", "/v2/search?q=anything&mode=vector&limit=10"
                    "&vector=" + enc + space)
                self.assertEqual(st_, 200, b)
                self.assertEqual(b["mode"], "vector")
                self.assertEqual([r["fact"]["id"] for r in b["results"]],
                                 want)
            # ef reaches the vector ranking: the answer of similar at that
            # ef; ef outside 1..4096 is refused, naming the field
            st_, _, b = srv.request(
                "POST", "/v2/vectors/words/similar",
                {"vector": q, "k": 10, "ef": 300})
            self.assertEqual(st_, 200, b)
            want_ef = [h["id"] for h in b["hits"]]
            st_, _, b = srv.request(
                "GET", "/v2/search?q=anything&mode=vector&limit=10&ef=300"
                "&vector=" + enc)
            self.assertEqual(st_, 200, b)
            self.assertEqual([r["fact"]["id"] for r in b["results"]],
                             want_ef)
            for bad in ("0", "4097", "x"):
                st_, _, b = srv.request(
                    "GET", "/v2/search?q=anything&mode=vector&ef=" + bad +
                    "&vector=" + enc)
                self.assertEqual(st_, 400, b)
                self.assertEqual(b["error"]["detail"]["field"], "ef")
            # the index is ready now, so these searches run on the loop
            # thread; after a delete the index is behind until caught up
            # (by the commit hook, or by the search handed to a pool
            # thread): never the deleted fact, never a short answer
            for _ in range(3):
                st_, _, b = srv.request(
                    "GET", "/v2/search?q=anything&mode=vector&limit=10"
                    "&vector=" + enc)
                self.assertEqual([r["fact"]["id"] for r in b["results"]],
                                 want)
            st_, _, b = srv.request("DELETE", "/v2/facts/%d" % want[0])
            self.assertEqual(st_, 200, b)
            st_, _, b = srv.request(
                "GET", "/v2/search?q=anything&mode=vector&limit=10"
                "&vector=" + enc)
            self.assertEqual(st_, 200, b)
            after = [r["fact"]["id"] for r in b["results"]]
            self.assertEqual(after[:9], want[1:])
            self.assertEqual(len(after), 10)
            st_, _, b = srv.request(
                "POST", "/v2/vectors/words/similar", {"vector": q, "k": 10})
            self.assertEqual([h["id"] for h in b["hits"]], after)
            st_, _, b = srv.request(
                "GET", "/v2/search?q=x&mode=vector&vector=1,x")
            self.assertEqual(st_, 400, b)
            self.assertEqual(b["error"]["detail"]["field"], "vector")
            st_, _, b = srv.request(
                "GET", "/v2/search?q=x&mode=vector&space=words&vector=1,2")
            self.assertIn(st_, (400, 422), b)
            st_, _, b = srv.request(
                "GET", "/v2/search?q=x&mode=vector&vector=1,2,3")
            self.assertEqual(st_, 404, b)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()


class EntityFilters(unittest.TestCase):
    """Predicate, entity, tag and source filters on an entity space admit
    the entities occurring in the facts they select; each answer equals
    the exact filtered answer computed here from the facts and the
    client-supplied vectors (members when k covers them, order of the top
    10), on the CLI and over REST."""
    N = 1000
    DIM = 8

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="ventf-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        call("init", "--data", cls.data)
        cls.rows = [(i % 7, i, i % 100, i % 50) for i in range(cls.N)]
        src = os.path.join(cls.root, "facts.jsonl")
        with open(src, "w") as f:
            for r in cls.rows:
                rec = {"statement": "Rel%d(item%d, group%d)" % r[:3],
                       "source": "s%d" % r[3]}
                if r[1] % 100 == 3:
                    rec["tags"] = ["rare"]
                f.write(json.dumps(rec) + "\n")
        call("import", src, "--format", "jsonl", "--data", cls.data)
        call("vectors", "create", "coords", "--dim", str(cls.DIM), "--kind",
             "entity", "--data", cls.data)
        rng = random.Random(11)
        names = ["item%d" % i for i in range(cls.N)] + \
                ["group%d" % g for g in range(100)]
        cls.vec = {n: [rng.uniform(-1, 1) for _ in range(cls.DIM)]
                   for n in names}
        ents = os.path.join(cls.root, "ents.jsonl")
        with open(ents, "w") as f:
            for n in names:
                f.write(json.dumps({"entity": n, "vector": cls.vec[n]}) +
                        "\n")
        call("vectors", "put-entities", "coords", ents, "--data", cls.data)
        cls.q = [rng.uniform(-1, 1) for _ in range(cls.DIM)]
        cls.qfile = os.path.join(cls.root, "q.txt")
        with open(cls.qfile, "w") as f:
            f.write(" ".join(repr(x) for x in cls.q) + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def cos(self, name):
        v = self.vec[name]
        dot = sum(a * b for a, b in zip(v, self.q))
        return dot / math.sqrt(sum(a * a for a in v) *
                               sum(b * b for b in self.q))

    def entities(self, rows):
        """The entities of the facts in rows."""
        out = set()
        for r in rows:
            out |= {"item%d" % r[1], "group%d" % r[2]}
        return out

    def similar(self, k, *filters):
        args = ["similar", "--vector", self.qfile, "--space", "coords",
                "--k", str(k), "--json", "--data", self.data]
        for f in filters:
            args += ["--filter", f]
        return lines(call(*args))

    def check_exact(self, members, *filters):
        self.assertTrue(members)
        all_hits = self.similar(1000, *filters)
        self.assertEqual(sorted(h["entity"] for h in all_hits),
                         sorted(members), filters)
        want = sorted(members, key=self.cos, reverse=True)[:10]
        top = self.similar(10, *filters)
        self.assertEqual([h["entity"] for h in top], want, filters)
        for h in top:
            self.assertAlmostEqual(h["score"], self.cos(h["entity"]),
                                   places=4)
        return top

    def test_filters(self):
        rows = self.rows
        self.check_exact(self.entities(r for r in rows if r[0] == 3),
                         "predicate:Rel3")
        self.check_exact(self.entities(r for r in rows if r[2] == 5),
                         "entity:group5")
        self.check_exact(self.entities(r for r in rows if r[1] == 42),
                         "entity:item42")
        self.check_exact(self.entities(r for r in rows if r[1] % 100 == 3),
                         "tag:rare")
        self.check_exact(self.entities(r for r in rows if r[3] == 17),
                         "source:s17")
        # the scan filters hold on the same fact
        self.check_exact(self.entities(r for r in rows
                                       if r[0] == 2 and r[3] == 9),
                         "predicate:Rel2", "source:s9")
        # with a graph query: entities of both
        self.check_exact({"item%d" % r[1] for r in rows
                          if r[0] == 3 and r[2] == 5},
                         "predicate:Rel3", "query:?x:Rel3(?x, group5)")
        # a filter that selects no fact selects no entity
        self.assertEqual(self.similar(10, "predicate:Nope"), [])
        # a query by fact stays refused on an entity space
        p = call("similar", "--fact", "1", "--space", "coords", "--data",
                 self.data, ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("entity vectors", p.stderr)

        srv = Server(data=self.data)
        try:
            st_, _, b = srv.request(
                "POST", "/v2/vectors/coords/similar",
                {"vector": self.q, "k": 10, "predicate": "Rel3"})
            self.assertEqual(st_, 200, b)
            self.assertTrue(b["exact"])
            self.assertEqual(b["candidates"], len(self.entities(
                r for r in rows if r[0] == 3)))
            self.assertEqual([h["entity"] for h in b["hits"]],
                             [h["entity"] for h in self.similar(
                                 10, "predicate:Rel3")])
            st_, _, b = srv.request(
                "POST", "/v2/vectors/coords/similar",
                {"vector": self.q, "k": 5, "tag": "rare",
                 "entity": "group3"})
            self.assertEqual(st_, 200, b)
            self.assertEqual([h["entity"] for h in b["hits"]],
                             [h["entity"] for h in self.similar(
                                 5, "tag:rare", "entity:group3")])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
