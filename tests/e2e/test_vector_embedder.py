#!/usr/bin/env python3
"""End-to-end test of vector spaces embedded by an OpenAI-compatible
/v1/embeddings endpoint (`--embedder openai`), against the scripted server
llm_fake_server.py: `hakgal embed` in batches (the batch size seen by the
endpoint), retries on 429 and 500, timeouts, malformed answers and answers
of the wrong dimension (clear errors, nothing half-written), resuming
after a run that failed half-way, search by text over such a space (CLI
similar and search --mode vector|hybrid, REST), clear errors when no
endpoint is configured, and the background embedder of `hakgal serve`
giving new facts their vectors (with its lag in /metrics) and recovering
from a failing endpoint.

The fake endpoint's model maps words to concepts (car/automobile/vehicle
to one axis, cat/feline to another...), so that a query finds facts that
share no spelling with it: what the built-in hashed embedder cannot do.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llm_fake_server import FakeLLM  # noqa: E402
from test_server_api import BIN, TMP, Server, q  # noqa: E402

DIM = 8
CONCEPTS = {
    "car": 0, "automobile": 0, "vehicle": 0, "engine": 0, "wheel": 0,
    "cat": 1, "feline": 1, "kitten": 1, "fish": 1,
    "computer": 2, "laptop": 2, "cpu": 2, "memory": 2,
    "berlin": 3, "germany": 3, "capital": 3,
    "apple": 4, "fruit": 4, "banana": 4,
}

FACTS = ["HasPart(Car, Engine)", "HasPart(Car, Wheel)",
         "IsA(Cat, Animal)", "Eats(Cat, Fish)", "HasPart(Computer, CPU)",
         "IsA(Laptop, Computer)", "CapitalOf(Germany, Berlin)",
         "IsA(Apple, Fruit)", "IsA(Banana, Fruit)", "Likes(Kitten, Fish)"]


def concept_vector(text):
    """A unit-free bag of concepts: word i adds 1 to its concept's axis;
    unknown words add a little to the last axis."""
    v = [0.0] * DIM
    word = ""
    for ch in text.lower() + " ":
        if ch.isalnum():
            word += ch
            continue
        if word:
            v[CONCEPTS.get(word, DIM - 1)] += 1.0 if word in CONCEPTS \
                else 0.1
        word = ""
    if not any(v):
        v[DIM - 1] = 1.0
    return v


def clean_env(extra=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("HAKGAL_", "OPENAI_")) or k == "HAKGAL_BIN"}
    e.update(extra or {})
    return e


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


class Embedder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="vemb-", dir=TMP)
        cls.fake = FakeLLM()
        cls.fake.embed = concept_vector
        cls.cfg = os.path.join(cls.root, "llm.conf")
        with open(cls.cfg, "w") as f:
            f.write("endpoint.default.backoff_ms = 20\n"
                    "endpoint.default.retries = 2\n"
                    "endpoint.default.timeout_ms = 1500\n")
        cls.env = clean_env({"OPENAI_BASE_URL": cls.fake.url,
                             "OPENAI_API_KEY": "sk-embed",
                             "HAKGAL_EMBED_MODEL": "concepts-8",
                             "HAKGAL_LLM_CONFIG": cls.cfg})
        cls.noenv = clean_env()

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="kb-", dir=self.root)
        self.fake.script = []
        self.fake.requests.clear()
        self.cli("init")
        self.cli("add", *FACTS)

    def cli(self, *args, env=None, code=0):
        p = subprocess.run([BIN] + list(args) + ["--data", self.data],
                           capture_output=True, text=True, timeout=120,
                           env=env if env is not None else self.env)
        if code is not None and p.returncode != code:
            raise AssertionError("%s: exit %d (want %d)\n%s%s" % (
                args, p.returncode, code, p.stdout, p.stderr))
        return p

    def cli_fails(self, *args, env=None):
        p = self.cli(*args, env=env, code=None)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def space(self, name="sem", *flags):
        p = self.cli("vectors", "create", name, "--dim", str(DIM),
                     "--embedder", "openai", "--json", *flags)
        return json.loads(p.stdout)

    def count(self, name="sem"):
        p = self.cli("vectors", "list", "--json")
        for line in p.stdout.splitlines():
            s = json.loads(line)
            if s["name"] == name:
                return s["vectors"]
        raise AssertionError("no space %s" % name)

    def mcp(self, calls, env=None):
        """structuredContent (or the error result) of each tools/call."""
        msgs = [{"jsonrpc": "2.0", "id": 0, "method": "initialize",
                 "params": {"protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "t", "version": "1"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"}]
        for i, (name, args) in enumerate(calls):
            msgs.append({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                         "params": {"name": name, "arguments": args}})
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60,
                           env=env if env is not None else self.env)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if m.get("id"):
                r = m.get("result", m)
                got[m["id"] - 1] = r.get("structuredContent", r)
        return [got[i] for i in range(len(calls))]

    def embed_requests(self):
        return [r for r in self.fake.requests
                if r["path"].endswith("/embeddings")]

    # ---- hakgal embed ----

    def test_batches_and_search_by_meaning(self):
        sp = self.space()
        self.assertEqual((sp["embedder"], sp["dim"]), ("openai", DIM))
        p = self.cli("embed", "--space", "sem", "--batch", "3", "--json")
        self.assertEqual(json.loads(p.stdout)["embedded"], len(FACTS))
        self.assertIn("embedded", p.stderr)  # progress
        reqs = self.embed_requests()
        self.assertEqual([len(r["body"]["input"]) for r in reqs],
                         [3, 3, 3, 1])
        self.assertTrue(all(r["body"]["model"] == "concepts-8" and
                            r["auth"] == "Bearer sk-embed" for r in reqs))
        sent = sorted(t for r in reqs for t in r["body"]["input"])
        self.assertEqual(sent, sorted(FACTS))
        self.assertEqual(self.count(), len(FACTS))
        # a second run has nothing to do and asks nothing
        self.fake.requests.clear()
        p = self.cli("embed", "--space", "sem", "--json")
        self.assertEqual(json.loads(p.stdout)["embedded"], 0)
        self.assertEqual(self.embed_requests(), [])

        # the query is embedded by the endpoint: meaning, not spelling
        p = self.cli("similar", "automobile vehicle", "--space", "sem",
                     "--k", "2", "--json")
        hits = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(sorted(h["statement"] for h in hits),
                         ["HasPart(Car, Engine)", "HasPart(Car, Wheel)"])
        self.assertGreater(hits[0]["score"], 0.9)
        p = self.cli("similar", "feline", "--space", "sem", "--k", "3",
                     "--predicate", "IsA", "--json")
        hits = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(hits[0]["statement"], "IsA(Cat, Animal)")
        # search picks the openai space when an endpoint is configured
        p = self.cli("search", "kitten", "--mode", "vector", "--limit", "3",
                     "--json")
        got = [json.loads(x)["statement"] for x in p.stdout.splitlines()]
        self.assertEqual(set(got), {"IsA(Cat, Animal)", "Eats(Cat, Fish)",
                                    "Likes(Kitten, Fish)"})
        p = self.cli("search", "automobile", "--mode", "hybrid", "--json")
        got = [json.loads(x)["statement"] for x in p.stdout.splitlines()]
        self.assertIn("HasPart(Car, Engine)", got[:2])

        # MCP: vector_similar and search_knowledge embed the text too
        a = self.mcp([
            ("vector_similar", {"space": "sem", "text": "automobile",
                                "k": 2}),
            ("search_knowledge", {"query": "feline", "mode": "vector",
                                  "limit": 1}),
            ("vector_spaces", {})])
        self.assertEqual(
            sorted(h["statement"] for h in a[0]["hits"]),
            ["HasPart(Car, Engine)", "HasPart(Car, Wheel)"])
        self.assertIn("Cat", a[1]["facts"][0]["statement"])
        self.assertEqual(a[2]["spaces"][0]["embedder"], "openai")
        e = self.mcp([("vector_similar", {"space": "sem", "text": "car"})],
                     env=self.noenv)
        self.assertIn("OPENAI_BASE_URL", json.dumps(e[0]))

        # no endpoint: errors that say what to set
        p = self.cli_fails("similar", "car", "--space", "sem",
                           env=self.noenv)
        self.assertIn("OPENAI_BASE_URL", p.stderr)
        p = self.cli_fails("similar", "car", "--space", "sem",
                           env=clean_env({"OPENAI_BASE_URL": self.fake.url}))
        self.assertIn("HAKGAL_EMBED_MODEL", p.stderr)
        p = self.cli_fails("search", "car", "--mode", "vector",
                           env=self.noenv)
        self.assertIn("no vector space", p.stderr)
        # hybrid without a usable space is the text search
        p = self.cli("search", "Car", "--mode", "hybrid", "--json",
                     env=self.noenv)
        self.assertTrue(p.stdout.strip())
        # a vector query needs no endpoint
        p = self.cli("similar", "--fact", "1", "--space", "sem", "--k", "1",
                     "--json", env=self.noenv)
        self.assertEqual(json.loads(p.stdout.splitlines()[0])["id"], 1)

    def test_no_endpoint_writes_nothing(self):
        self.space()
        p = self.cli_fails("embed", "--space", "sem", env=self.noenv)
        self.assertIn("OPENAI_BASE_URL", p.stderr)
        self.assertEqual(self.count(), 0)

    def test_retries_on_429_and_500(self):
        self.space()
        self.fake.script = [{"status": 429, "retry_after": "0"},
                            {"status": 500}]
        self.cli("embed", "--space", "sem")
        self.assertEqual(len(self.embed_requests()), 3)
        self.assertEqual(self.count(), len(FACTS))

    def test_failures_write_nothing(self):
        self.space()
        cases = [
            ([{"raw": "not json"}], "embeddings answer"),
            ([{"raw": json.dumps({"data": [{"embedding": "x"}]})}],
             "embeddings answer"),
            ([{"raw": json.dumps({"data": [
                {"index": i, "embedding": [1, "2", 3, 4, 5, 6, 7, 8]}
                for i in range(len(FACTS))]})}], "not a number"),
            ([{"dims": 5}], "5 dimensions; space 'sem' has 8"),
            ([{"status": 500}] * 3, "500"),
            ([{"status": 400, "message": "bad model"}], "bad model"),
            ([{"delay": 2.5}] * 3, "imeout"),
        ]
        for script, why in cases:
            self.fake.script = list(script)
            p = self.cli_fails("embed", "--space", "sem")
            self.assertIn(why, p.stderr, script)
            self.assertEqual(self.count(), 0, script)

    def test_resume_after_a_failed_batch(self):
        self.space()
        ok = {"fn": lambda req: {}}
        self.fake.script = [ok, ok] + [{"status": 503}] * 3
        p = self.cli_fails("embed", "--space", "sem", "--batch", "3")
        self.assertIn("run again to resume", p.stderr)
        # whole batches only: two of three facts each
        self.assertEqual(self.count(), 6)
        self.fake.requests.clear()
        p = self.cli("embed", "--space", "sem", "--batch", "3", "--json")
        self.assertEqual(json.loads(p.stdout)["embedded"], 4)
        self.assertEqual([len(r["body"]["input"])
                          for r in self.embed_requests()], [3, 1])
        self.assertEqual(self.count(), len(FACTS))

    def test_model_recorded_and_switch_refused(self):
        self.space()
        self.cli("embed", "--space", "sem")
        p = self.cli("vectors", "list", "--json")
        sp = [json.loads(x) for x in p.stdout.splitlines()][0]
        self.assertEqual(sp["model"], "concepts-8")
        other = dict(self.env, HAKGAL_EMBED_MODEL="concepts-9")
        self.cli("add", "IsA(Owl, Bird)")
        self.fake.requests.clear()
        p = self.cli_fails("embed", "--space", "sem", env=other)
        self.assertIn("model 'concepts-8'", p.stderr)
        self.assertEqual(self.embed_requests(), [])  # nothing sent
        p = self.cli_fails("similar", "bird", "--space", "sem", env=other)
        self.assertIn("concepts-9", p.stderr)
        self.assertEqual(self.count(), len(FACTS))
        # --force: the old vectors go, every fact is embedded again
        p = self.cli("embed", "--space", "sem", "--force", "--json",
                     env=other)
        self.assertEqual(json.loads(p.stdout)["embedded"], len(FACTS) + 1)
        p = self.cli("vectors", "list", "--json")
        sp = [json.loads(x) for x in p.stdout.splitlines()][0]
        self.assertEqual((sp["model"], sp["vectors"]),
                         ("concepts-9", len(FACTS) + 1))
        self.assertTrue(all(r["body"]["model"] == "concepts-9"
                            for r in self.embed_requests()))

    def test_entity_space_embeds_names(self):
        self.space("ents", "--kind", "entity")
        p = self.cli("embed", "--space", "ents", "--batch", "4", "--json")
        n = json.loads(p.stdout)["embedded"]
        sent = sorted(t for r in self.embed_requests()
                      for t in r["body"]["input"])
        self.assertEqual(len(sent), n)
        self.assertTrue(n > 0 and all("(" not in t for t in sent), sent)
        p = self.cli("similar", sent[0], "--space", "ents", "--json")
        hits = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(hits[0]["entity"], sent[0])

    def test_hashed_and_none_spaces_unchanged(self):
        self.cli("vectors", "create", "words", "--dim", "64", "--embedder",
                 "hashed")
        self.cli("embed", "--space", "words", env=self.noenv)
        self.assertEqual(self.count("words"), len(FACTS))
        self.cli("vectors", "create", "raw", "--dim", "4")
        p = self.cli_fails("embed", "--space", "raw")
        self.assertIn("no", p.stderr)
        p = self.cli_fails("vectors", "create", "x", "--dim", "4",
                           "--embedder", "bert")
        self.assertIn("unknown embedder", p.stderr)

    # ---- hakgal serve ----

    def test_serve_auto_embeds_and_recovers(self):
        srv = Server(data=self.data, env=self.env)
        self.addCleanup(srv.cleanup)
        r = srv.request
        try:
            # a fact written while no auto space exists: the embedder skips
            # its entry, and the space's first sweep must still cover it
            st, _, b = r("POST", "/v2/facts",
                         {"statement": "Rides(Person, Bicycle)"})
            self.assertEqual(st, 201, b)
            deadline = time.time() + 30
            while True:  # until the embedder has passed that entry
                st, _, text = r("GET", "/metrics")
                if metric(text, "hakgal_vector_embed_lag_entries") == 0:
                    break
                self.assertLess(time.time(), deadline, "embedder lags")
                time.sleep(0.05)
            st, _, b = r("POST", "/v2/vectors",
                         {"name": "live", "dim": DIM, "embedder": "openai",
                          "auto_embed": True})
            self.assertEqual(st, 201, b)
            self.assertEqual((b["embedder"], b["auto_embed"]),
                             ("openai", True))
            # the first commit after it: the existing facts (the early one
            # too) are swept and the new one follows
            st, _, b = r("POST", "/v2/facts",
                         {"statement": "Drives(Person, Automobile)"})
            self.assertEqual(st, 201, b)
            new_id = b["id"]
            self.wait_vectors(srv, "live", len(FACTS) + 2)
            st, _, b = r("GET", "/v2/vectors/live/similar?k=3&text=" +
                         q("vehicle"))
            self.assertEqual(st, 200, b)
            self.assertIn(new_id, [h["id"] for h in b["hits"]])
            st, _, b = r("GET", "/v2/search?mode=vector&limit=1&q=" +
                         q("feline"))
            self.assertEqual(st, 200, b)
            # the REST embed route leaves endpoint spaces to the embedder
            st, _, b = r("POST", "/v2/vectors/live/embed")
            self.assertEqual(st, 501, b)

            # the endpoint fails for a while: counted, then caught up
            self.fake.script = [{"status": 500}] * 3
            st, _, b = r("POST", "/v2/facts/batch",
                         ["Owns(Person%d, Car)" % i for i in range(5)])
            self.assertEqual(b["created"], 5, b)
            self.wait_vectors(srv, "live", len(FACTS) + 7)
            st, _, text = r("GET", "/metrics")
            self.assertGreaterEqual(
                metric(text, "hakgal_vector_embed_failures_total"), 1)
            self.assertGreaterEqual(
                metric(text, "hakgal_vector_embedded_total"),
                len(FACTS) + 7)
            self.assertEqual(
                metric(text, "hakgal_vector_embed_lag_entries"), 0)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())

    def wait_vectors(self, srv, name, want, timeout=30):
        deadline = time.time() + timeout
        while True:
            st, _, b = srv.request("GET", "/v2/vectors")
            n = [x for x in b["spaces"] if x["name"] == name][0]["vectors"]
            if n == want:
                return
            self.assertLess(time.time(), deadline,
                            "%d of %d facts embedded" % (n, want))
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
