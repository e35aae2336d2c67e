#!/usr/bin/env python3
"""End-to-end test of the vector index a server keeps per space, and of
search by text, vectors or both. Index: the first
search builds it and writes DIR/vector-SPACE.hnsw; writers add, embed and
delete facts while searches run; SIGKILL mid-way; the restarted server
reads the file, catches up from the store and agrees with it: it indexes
exactly the vectors the store holds, every fact with a vector finds itself
first, and no hit is a deleted fact. After a clean stop the CLI reads the
file the server wrote and answers what the server answered.
Search modes: GET /v2/search?mode=text|vector|hybrid, `hakgal search
--mode` and the MCP tool search_knowledge with mode give the same hits;
without mode the answers keep their old shape; hybrid without a space
with the built-in embedder is the text search; bad input is refused.
"""
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server, q, run_tests  # noqa: E402

WRITE_SECONDS = 1.5


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("metric %s missing" % name)


def call(conn, method, path, body=None):
    h = {}
    data = None
    if body is not None:
        data = json.dumps(body)
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    raw = r.read()
    return r.status, json.loads(raw) if raw.strip() else None


def writer(port, wid, stop, errors):
    """Adds facts, embeds them, deletes some, searches; until stop."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rnd = random.Random(wid)
    mine = []
    i = 0
    try:
        while not stop.is_set():
            st, b = call(conn, "POST", "/v2/facts",
                         {"statement": "Vx(w%d, item%d, colour%d)" %
                          (wid, i, rnd.randrange(50))})
            if st != 201:
                errors.append(("add", st, b))
                break
            mine.append(b["id"])
            i += 1
            if i % 5 == 0:
                st, b = call(conn, "POST", "/v2/vectors/w/embed",
                             {"limit": 1000})
                if st != 200:
                    errors.append(("embed", st, b))
            if i % 7 == 0 and mine:
                fid = mine.pop(rnd.randrange(len(mine)))
                st, b = call(conn, "DELETE", "/v2/facts/%d" % fid)
                if st != 200:
                    errors.append(("delete", st, b))
            if i % 3 == 0:
                st, b = call(conn, "GET", "/v2/vectors/w/similar?k=5&text=" +
                             q("item%d colour%d" % (i, i % 50)))
                if st != 200:
                    errors.append(("similar", st, b))
    except (OSError, http.client.HTTPException):
        pass  # the server was killed
    finally:
        conn.close()


class VectorIndex(unittest.TestCase):

    def check_agrees(self, srv):
        st, _, b = srv.request("GET", "/v2/vectors")
        self.assertEqual(st, 200, b)
        stored = [s for s in b["spaces"] if s["name"] == "w"][0]["vectors"]
        st, _, b = srv.request("GET", "/v2/vectors/w/similar?k=50&text=" +
                               q("item1 colour1"))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["indexed"], stored)
        for h in b["hits"]:
            st, _, f = srv.request("GET", "/v2/facts/%d" % h["id"])
            self.assertEqual(st, 200, "hit %d is not a fact" % h["id"])
        # every fact with a vector finds itself first
        st, _, b = srv.request("GET", "/v2/facts?predicate=Vx&limit=5000")
        self.assertEqual(st, 200, b)
        with_vec = 0
        for f in b["facts"]:
            st, _, r = srv.request(
                "GET", "/v2/vectors/w/similar?k=1&fact=%d" % f["id"])
            if st == 404:
                continue  # added, not embedded yet
            self.assertEqual(st, 200, r)
            with_vec += 1
            self.assertAlmostEqual(r["hits"][0]["score"], 1.0, places=4)
            if r["hits"][0]["id"] != f["id"]:
                # only an identical statement may come first instead
                self.assertEqual(r["hits"][0]["statement"], f["statement"])
        self.assertEqual(with_vec, stored)
        return stored

    def test_sigkill_then_restart(self):
        s = Server()
        data = s.data
        r = s.request
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "w", "dim": 64, "embedder": "hashed"})
        self.assertEqual(st, 201, b)
        st, _, b = r("POST", "/v2/facts/batch",
                     ["Vx(seed, item%d, colour%d)" % (i, i % 50)
                      for i in range(300)])
        self.assertIn(st, (200, 201), b)
        self.assertEqual(b["created"], 300, b)
        st, _, b = r("POST", "/v2/vectors/w/embed", {})
        self.assertEqual((st, b["embedded"]), (200, 300), b)
        st, _, b = r("GET", "/v2/vectors/w/similar?k=3&text=item7")
        self.assertEqual(st, 200, b)
        self.assertEqual(b["indexed"], 300)
        index_file = os.path.join(data, "vector-w.hnsw")
        self.assertTrue(os.path.exists(index_file))

        stop = threading.Event()
        errors = []
        threads = [threading.Thread(target=writer,
                                    args=(s.port, w, stop, errors))
                   for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(WRITE_SECONDS)
        s.kill()
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])

        s2 = Server(data=data)
        try:
            stored = self.check_agrees(s2)
            self.assertGreater(stored, 300)
            # the restart read the file and caught up; it built nothing
            st, _, text = s2.request("GET", "/metrics")
            self.assertEqual(st, 200)
            self.assertEqual(metric(text, "hakgal_vector_index_builds_total"),
                             0, text)
            self.assertEqual(
                metric(text, "hakgal_vector_index_file_loads_total"), 1)
            self.assertGreater(
                metric(text, "hakgal_vector_index_caught_up_total"), 0)
            self.assertGreater(metric(text, "hakgal_vector_searches_total"),
                               0)
            # it keeps following: one more fact, embedded, is found
            st, _, b = s2.request("POST", "/v2/facts",
                                  {"statement": "Vx(late, zebra, stripes)"})
            self.assertEqual(st, 201, b)
            late = b["id"]
            st, _, b = s2.request("POST", "/v2/vectors/w/embed", {})
            self.assertEqual(st, 200, b)
            st, _, b = s2.request(
                "GET", "/v2/vectors/w/similar?k=1&text=" +
                q("Vx(late, zebra, stripes)"))
            self.assertEqual(b["hits"][0]["id"], late)
            self.assertGreater(b["indexed"], stored)
            self.check_agrees(s2)
            st, _, srv_hits = s2.request(
                "GET", "/v2/vectors/w/similar?k=10&text=" + q("item3 colour3"))
        except BaseException:
            s2.stop()
            s.cleanup()
            s2.cleanup()
            raise
        rc = s2.stop()
        out = s2.output()
        self.addCleanup(s.cleanup)
        self.addCleanup(s2.cleanup)
        self.assertEqual(rc, 0, out)
        # the clean stop wrote the file; the CLI answers the same from it
        p = subprocess.run([BIN, "similar", "--data", data, "--space", "w",
                            "--k", "10", "--json", "item3 colour3"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        cli = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        self.assertEqual([h["id"] for h in cli],
                         [h["id"] for h in srv_hits["hits"]])


FACTS = ["HasPart(Computer, CPU)", "HasPart(Computer, Memory)",
         "IsA(Laptop, Computer)", "IsA(Cat, Animal)", "Eats(Cat, Fish)",
         "HasPart(Car, Engine)", "LocatedIn(Berlin, Germany)",
         "IsA(Computation, Process)"]


def cli(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=120)
    return p.returncode, [json.loads(x) for x in p.stdout.splitlines()
                          if x.strip().startswith("{")], p.stderr


class SearchModes(unittest.TestCase):

    def test_modes(self):
        s = Server()
        self.addCleanup(s.cleanup)
        data = s.data
        try:
            self.rest(s)
        finally:
            self.assertEqual(s.stop(), 0, s.output())
        self.cli_and_mcp(data)

    def rest(self, s):
        r = s.request
        st, _, b = r("POST", "/v2/facts/batch", FACTS)
        self.assertEqual(b["created"], len(FACTS), b)
        # no vector space yet: legacy search, hybrid falls back to it,
        # vector mode is refused
        st, _, legacy = r("GET", "/v2/search?q=computer")
        self.assertEqual(st, 200, legacy)
        self.assertNotIn("mode", legacy)
        st, _, b = r("GET", "/v2/search?q=computer&mode=hybrid")
        self.assertEqual(st, 200, b)
        self.assertEqual(b["mode"], "hybrid")
        self.assertEqual([x["fact"]["id"] for x in b["results"]],
                         [x["fact"]["id"] for x in legacy["results"]])
        st, _, b = r("GET", "/v2/search?q=computer&mode=vector")
        self.assertEqual(st, 404, b)
        st, _, b = r("GET", "/v2/search?q=computer&mode=fuzzy")
        self.assertEqual(st, 400, b)
        self.assertEqual(b["error"]["detail"]["field"], "mode")
        st, _, b = r("GET", "/v2/search?q=computer&mode=hybrid&w_text=-1")
        self.assertEqual(st, 400, b)
        st, _, b = r("POST", "/v2/vectors",
                     {"name": "words", "dim": 256, "embedder": "hashed"})
        self.assertEqual(st, 201, b)
        st, _, b = r("POST", "/v2/vectors/words/embed", {})
        self.assertEqual(b["embedded"], len(FACTS), b)
        # text mode answers what the legacy search answers
        st, _, b = r("GET", "/v2/search?q=computer&mode=text")
        self.assertEqual([x["fact"]["id"] for x in b["results"]],
                         [x["fact"]["id"] for x in legacy["results"]])
        # vector: a misspelt word is found by its trigrams, which the
        # text search cannot do
        st, _, b = r("GET", "/v2/search?q=%s&mode=text" % q("computr"))
        self.assertEqual((st, b["count"]), (200, 0), b)
        st, _, b = r("GET", "/v2/search?q=%s&mode=vector&limit=3" %
                     q("computr"))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["count"], 3)
        self.assertIn("Computer", b["results"][0]["fact"]["statement"])
        scores = [x["score"] for x in b["results"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        # hybrid: the reciprocal-rank fusion of both rankings
        st, _, t = r("GET", "/v2/search?q=%s&mode=text&limit=50" %
                     q("computer part"))
        st, _, v = r("GET", "/v2/search?q=%s&mode=vector&limit=50" %
                     q("computer part"))
        st, _, h = r("GET", "/v2/search?q=%s&mode=hybrid&limit=5" %
                     q("computer part"))
        self.assertEqual(st, 200, h)
        fused = {}
        for ranking in (t, v):
            for i, x in enumerate(ranking["results"]):
                fid = x["fact"]["id"]
                fused[fid] = fused.get(fid, 0) + 1.0 / (60 + i + 1)
        want = sorted(fused, key=lambda f: (-fused[f], f))[:5]
        self.assertEqual([x["fact"]["id"] for x in h["results"]], want)
        for x in h["results"]:
            self.assertAlmostEqual(x["score"], fused[x["fact"]["id"]],
                                   places=5)
        # weights move a side up: all weight on vectors = vector order
        st, _, hv = r("GET", "/v2/search?q=%s&mode=hybrid&limit=5&"
                      "w_text=0.000001&w_vector=1" % q("computer part"))
        self.assertEqual([x["fact"]["id"] for x in hv["results"]][:2],
                         [x["fact"]["id"] for x in v["results"]][:2])
        st, _, b = r("GET", "/v2/search?q=x&mode=vector&space=nope")
        self.assertEqual(st, 404, b)
        self.hybrid_ids = [x["fact"]["id"] for x in h["results"]]

    def cli_and_mcp(self, data):
        rc, out, err = cli("search", "--data", data, "--mode", "hybrid",
                           "--limit", "5", "--json", "computer part")
        self.assertEqual(rc, 0, err)
        self.assertEqual([x["id"] for x in out], self.hybrid_ids)
        rc, out, err = cli("search", "--data", data, "--mode", "vector",
                           "--limit", "1", "--json", "computr")
        self.assertEqual(rc, 0, err)
        self.assertIn("Computer", out[0]["statement"])
        rc, _, err = cli("search", "--data", data, "--mode", "fuzzy", "x")
        self.assertNotEqual(rc, 0)
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "search_knowledge",
                        "arguments": {"query": "computer part",
                                      "mode": "hybrid", "limit": 5}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "search_knowledge",
                        "arguments": {"query": "computer"}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "search_knowledge",
                        "arguments": {"query": "computer",
                                      "mode": "fuzzy"}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                a[m["id"]] = m
        sc = a[2]["result"]["structuredContent"]
        self.assertEqual(sc["mode"], "hybrid")
        self.assertEqual([f["id"] for f in sc["facts"]], self.hybrid_ids)
        sc = a[3]["result"]["structuredContent"]
        self.assertNotIn("mode", sc)  # the old answer, unchanged
        self.assertEqual(sc["count"], 3)
        bad = a[4]
        self.assertTrue("error" in bad or bad["result"].get("isError"), bad)


class AutoEmbed(unittest.TestCase):

    def test_new_facts_get_vectors_after_commit(self):
        s = Server()
        self.addCleanup(s.cleanup)
        r = s.request
        try:
            st, _, b = r("POST", "/v2/facts", {"statement": "Old(fact, one)"})
            self.assertEqual(st, 201, b)
            st, _, b = r("POST", "/v2/vectors",
                         {"name": "auto", "dim": 64, "embedder": "hashed",
                          "auto_embed": True})
            self.assertEqual(st, 201, b)
            self.assertTrue(b["auto_embed"])
            st, _, b = r("POST", "/v2/vectors",
                         {"name": "bad", "dim": 8, "auto_embed": True})
            self.assertEqual(st, 400, b)
            st, _, b = r("POST", "/v2/vectors",
                         {"name": "bad", "dim": 8, "auto_embed": 1})
            self.assertEqual(st, 400, b)
            # new facts, one by one and in a batch; one replaced
            ids = []
            for i in range(20):
                st, _, b = r("POST", "/v2/facts",
                             {"statement": "Auto(item%d, colour%d)" % (i, i)})
                ids.append(b["id"])
            st, _, b = r("POST", "/v2/facts/batch",
                         ["Batch(item%d, shape%d)" % (i, i)
                          for i in range(30)])
            self.assertEqual(b["created"], 30, b)
            st, _, b = r("PUT", "/v2/facts/%d" % ids[0],
                         {"statement": "Auto(zebra, stripes)"})
            self.assertIn(st, (200, 201), b)
            deadline = time.time() + 30
            while True:
                st, _, b = r("GET", "/v2/vectors")
                n = [x for x in b["spaces"] if x["name"] == "auto"][0][
                    "vectors"]
                st, _, text = r("GET", "/metrics")
                if n == 1 + 20 + 30 and \
                        metric(text, "hakgal_vector_embed_lag_entries") == 0:
                    break
                self.assertLess(time.time(), deadline,
                                "only %d of 51 facts embedded" % n)
                time.sleep(0.1)
            self.assertGreaterEqual(
                metric(text, "hakgal_vector_embedded_total"), 51)
            self.assertEqual(
                metric(text, "hakgal_vector_embed_failures_total"), 0)
            self.assertGreater(
                metric(text, "hakgal_vector_embed_seconds_total"), 0)
            # the replaced fact was embedded with its new content
            st, _, b = r("GET", "/v2/vectors/auto/similar?k=1&text=" +
                         q("Auto(zebra, stripes)"))
            self.assertEqual(b["hits"][0]["id"], ids[0])
            self.assertAlmostEqual(b["hits"][0]["score"], 1.0, places=4)
        finally:
            self.assertEqual(s.stop(), 0, s.output())


if __name__ == "__main__":
    run_tests(__name__)
