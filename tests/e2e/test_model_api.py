#!/usr/bin/env python3
"""End-to-end test of the learned model: `hakgal model train` on a KB with
planted symmetric, inverse and compositional relations (deterministic with
--threads 1 and a seed: two trainings give the same model file), `model
info` with the model's age after more facts, `model eval` (the model
beats both baselines), `model score`, `predict` (objects, subjects,
predicates; known facts marked) and `similar` with --json and their
errors; `model eval --split DIR` on tab-separated files; REST
/v2/model/... answering what the CLI answers, and swapping in a model
retrained while the server runs; the MCP tools score_fact and
predict_links over stdio.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, q  # noqa: E402


def planted():
    """60 people, 20 cities, 4 countries; a few facts left out on purpose."""
    facts = []
    for i in range(30):
        facts.append("Married(p%d, p%d)" % (2 * i, 2 * i + 1))
        if i % 5:
            facts.append("Married(p%d, p%d)" % (2 * i + 1, 2 * i))
    for i in range(60):
        for k in (1, 2):
            c = 2 * i + k
            if c < 60:
                facts.append("ParentOf(p%d, p%d)" % (i, c))
                facts.append("ChildOf(p%d, p%d)" % (c, i))
    for j in range(20):
        facts.append("LocatedIn(c%d, k%d)" % (j, j % 4))
    for i in range(60):
        facts.append("LivesIn(p%d, c%d)" % (i, i % 20))
        if i % 6 != 1:
            facts.append("Nationality(p%d, k%d)" % (i, (i % 20) % 4))
    facts.append("Bond(NH3, N, H)")
    facts.append("IsMetal(Iron)")
    return facts


def run(*args, ok=True):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=600)
    if ok and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    if not ok:
        return p
    if "--json" not in args:
        return p.stdout
    return json.loads(p.stdout)


TRAIN = ("--threads", "1", "--seed", "7", "--dim", "32", "--epochs", "60",
         "--negatives", "32", "--lr", "0.05")


class ModelApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="model-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        src = os.path.join(cls.root, "facts.txt")
        with open(src, "w") as f:
            f.write("\n".join(planted()) + "\n")
        run("init", "--data", cls.data)
        run("import", "--data", cls.data, src)
        cls.model = os.path.join(cls.data, "learn.model")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def fingerprint(self, info):
        """What a model computes, exactly: metrics, scores, neighbours."""
        d = self.data
        return (info["valid"], info["test"], info["calibration"],
                run("model", "similar", "p7", "--data", d, "--json"),
                run("model", "score", "LivesIn(p3, c3)", "--data", d,
                    "--json"))

    def test_1_cli(self):
        d = self.data
        p = run("model", "info", "--data", d, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)  # not found
        self.assertIn("model train", p.stderr)
        info = run("model", "train", "--data", d, "--json", *TRAIN)
        first = self.fingerprint(info)
        self.assertEqual((info["model"], info["dim"], info["age"]),
                         ("complex", 32, 0))
        self.assertGreater(info["test"]["mrr"], 0.3)
        # one thread and a seed: the same model again, bit for bit
        again = run("model", "train", "--data", d, "--json", *TRAIN)
        self.assertEqual(self.fingerprint(again), first)
        # held-out facts: Married(p1, p0) is missing, its reverse known
        s = run("model", "score", "Married(p1, p0)", "--data", d, "--json")
        self.assertFalse(s["in_kb"])
        self.assertGreater(s["plausibility"], 0.5)
        self.assertLessEqual(s["rank"], 3)
        bad = run("model", "score", "Married(p1, k3)", "--data", d, "--json")
        self.assertLess(bad["plausibility"], s["plausibility"])
        nary = run("model", "score", "Bond(NH3, N, H)", "--data", d, "--json")
        self.assertEqual((nary["edges"], nary["in_kb"]), (2, True))
        pr = run("model", "predict", "Married(p1, ?x)", "--k", "3", "--data",
                 d, "--json")
        self.assertEqual(pr["predicts"], "object")
        self.assertEqual(len(pr["candidates"]), 3)
        self.assertEqual(pr["candidates"][0]["statement"], "Married(p1, p0)")
        self.assertFalse(pr["candidates"][0]["known"])
        pr = run("model", "predict", "Married(?x, p3)", "--data", d, "--json")
        self.assertEqual(pr["predicts"], "subject")
        self.assertEqual(pr["candidates"][0]["candidate"], "p2")
        self.assertTrue(pr["candidates"][0]["known"])
        pr = run("model", "predict", "?r(p0, p1)", "--data", d, "--json")
        self.assertEqual(pr["predicts"], "predicate")
        top2 = {c["candidate"] for c in pr["candidates"][:2]}
        self.assertEqual(top2, {"Married", "ParentOf"})
        sim = run("model", "similar", "k0", "--k", "3", "--data", d, "--json")
        self.assertEqual(len(sim["similar"]), 3)
        self.assertNotIn("k0", [x["entity"] for x in sim["similar"]])
        # errors: unknown names, bad shapes, bad text
        p = run("model", "score", "Married(nobody, p1)", "--data", d, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("nobody", p.stderr)
        p = run("model", "predict", "Married(?x, ?y)", "--data", d, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run("model", "predict", "Married(p1, ?x)", "--ranker", "best",
                "--data", d, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)  # usage
        self.assertIn("--ranker", p.stderr)
        p = run("model", "score", "Married(p1, p0)", "--ranker", "model",
                "--data", d, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        p = run("model", "score", "Married(p1", "--data", d, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run("model", "train", "--data", d, "--dim", "0", ok=False)
        self.assertNotEqual(p.returncode, 0)
        # eval: the model against the baselines on the held-out facts
        ev = run("model", "eval", "--data", d, "--json")
        self.assertEqual(ev["model"]["ranks"], 2 * ev["test_triples"])
        self.assertGreater(ev["model"]["mrr"],
                           ev["baselines"]["most_frequent"]["mrr"])
        # the model behind the frequency prior ranks the same test edges
        self.assertEqual(ev["frequency_backoff"]["ranks"],
                         ev["model"]["ranks"])
        # the combined ranker (weights fitted on the validation split and
        # kept in the model file) ranks them too
        self.assertEqual(ev["combined"]["ranks"], ev["model"]["ranks"])
        info = run("model", "info", "--data", d, "--json")
        self.assertEqual(len(info["combined"]["weights"]), 9)
        self.assertGreater(info["combined"]["fit_queries"], 0)
        # age: facts added after training
        run("add", "--data", d, "Married(p1, p0)", "LivesIn(p0, c1)")
        info = run("model", "info", "--data", d, "--json")
        self.assertEqual(info["age"], 2)
        self.assertEqual(info["audit_seq"] + 2,
                         run("stats", "--data", d, "--json")["audit_entries"])
        s = run("model", "score", "Married(p1, p0)", "--data", d, "--json")
        self.assertTrue(s["in_kb"])

    def test_2_split(self):
        sd = os.path.join(self.root, "split")
        os.makedirs(sd)
        tri = []
        for i in range(40):  # a symmetric relation and its held-out half
            tri.append(("a%d" % i, "near", "a%d" % ((i + 1) % 40)))
            tri.append(("a%d" % ((i + 1) % 40), "near", "a%d" % i))
            tri.append(("a%d" % i, "in", "g%d" % (i % 4)))
        test = [t for i, t in enumerate(tri) if i % 9 == 4]
        valid = [t for i, t in enumerate(tri) if i % 9 == 7]
        train = [t for t in tri if t not in test and t not in valid]
        for name, rows in (("train", train), ("valid", valid),
                           ("test", test)):
            with open(os.path.join(sd, name + ".txt"), "w") as f:
                f.writelines("\t".join(r) + "\n" for r in rows)
        ev = run("model", "eval", "--split", sd, "--json", "--threads", "1",
                 "--dim", "16", "--epochs", "80", "--negatives", "16")
        self.assertEqual(ev["test_triples"], len(test))
        self.assertGreater(ev["model"]["mrr"], 0.5)
        self.assertEqual(ev["info"]["entities"], 44)
        # 1-N training (softmax over every entity) on two threads
        ev = run("model", "eval", "--split", sd, "--json", "--threads", "2",
                 "--dim", "16", "--epochs", "60", "--negatives", "0",
                 "--reg", "0.05")
        self.assertGreater(ev["model"]["mrr"], 0.5)
        self.assertEqual(ev["info"]["params"]["negatives"], 0)
        with open(os.path.join(sd, "valid.txt"), "a") as f:
            f.write("only two\tfields\n")
        p = run("model", "eval", "--split", sd, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("valid.txt line %d" % (len(valid) + 1), p.stderr)

    def test_3_rest_mcp(self):
        d = self.data
        run("model", "train", "--data", d, *TRAIN)
        srv = Server(data=d)
        try:
            r = srv.request
            st, _, b = r("GET", "/v2/model")
            self.assertEqual(st, 200, b)
            self.assertEqual((b["dim"], b["age"]), (32, 0))
            cli = run("model", "score", "Married(p1, p0)", "--data", d,
                      "--json")
            st, _, b = r("GET", "/v2/model/score?statement=" +
                         q("Married(p1, p0)"))
            self.assertEqual((st, b), (200, cli))
            cli = run("model", "predict", "?r(p0, p1)", "--k", "4", "--data",
                      d, "--json")
            st, _, b = r("GET", "/v2/model/predict?k=4&pattern=" +
                         q("?r(p0, p1)"))
            self.assertEqual((st, b), (200, cli))
            # rankers: auto is the combined ranker where it beat the
            # model on validation at training time; every answer names it
            st, _, info = r("GET", "/v2/model")
            self.assertIsNotNone(info["combined"])
            want = ("combined" if info["combined"]["valid"]["mrr"] >
                    info["valid"]["mrr"] else "model")
            st, _, b = r("GET", "/v2/model/predict?k=5&pattern=" +
                         q("Married(p1, ?x)"))
            self.assertEqual((st, b["ranker"]), (200, want), b)
            for rk in ("model", "combined"):
                cli = run("model", "predict", "Married(p1, ?x)", "--k", "5",
                          "--ranker", rk, "--data", d, "--json")
                st, _, b = r("GET", "/v2/model/predict?k=5&ranker=%s&pattern="
                             % rk + q("Married(p1, ?x)"))
                self.assertEqual((st, b), (200, cli))
                self.assertEqual(b["ranker"], rk)
                self.assertEqual(len(b["candidates"]), 5)
                for c in b["candidates"]:
                    self.assertIn("known", c)
                    self.assertEqual("combined" in c, rk == "combined")
                if rk == "combined":
                    comb = [c["combined"] for c in b["candidates"]]
                    self.assertEqual(comb, sorted(comb, reverse=True))
                    # the known fact Married(p1, p0)'s reverse: p0 is
                    # the answer the 1-hop evidence names
                    self.assertEqual(b["candidates"][0]["candidate"], "p0")
            st, _, b = r("GET", "/v2/model/predict?ranker=model&pattern=" +
                         q("?r(p0, p1)"))
            self.assertEqual((st, b["ranker"]), (200, "model"))
            st, _, b = r("GET", "/v2/model/predict?ranker=best&pattern=" +
                         q("Married(p1, ?x)"))
            self.assertEqual((st, b["error"]["detail"]["field"]),
                             (400, "ranker"), b)
            st, _, b = r("GET", "/v2/model/score?statement=" +
                         q("Married(p1, p0)"))
            self.assertEqual(b["ranker"], want)
            self.assertIn("combined", b)
            if want == "model":
                self.assertEqual(b["rank_ranker"], b["rank"])
            st, _, b = r("GET", "/v2/model/similar?entity=p0&k=2")
            self.assertEqual(st, 200, b)
            self.assertEqual(len(b["similar"]), 2)
            st, _, b = r("GET", "/v2/model/score?statement=" +
                         q("Married(zz, p1)"))
            self.assertEqual(st, 404, b)
            st, _, b = r("GET", "/v2/model/score")
            self.assertEqual(st, 400, b)
            self.assertEqual(b["error"]["detail"]["field"], "statement")
            st, _, b = r("GET", "/v2/model/predict?pattern=" + q("P(?x"))
            self.assertIn(st, (400, 422), b)
            st, _, b = r("GET", "/v2/model/predict?k=5000&pattern=" +
                         q("Married(p1, ?x)"))
            self.assertEqual(st, 400, b)
            # suggestions: predictions that are not facts go to the review
            # queue; the same call again proposes nothing new
            before = run("stats", "--data", d, "--json")["facts"]
            cands = run("model", "predict", "Nationality(p1, ?x)", "--k",
                        "4", "--data", d, "--json")["candidates"]
            fresh = [c for c in cands if not c["known"]]
            st, _, b = r("POST", "/v2/model/suggest",
                         {"pattern": "Nationality(p1, ?x)", "k": 4,
                          "min_plausibility": 0})
            self.assertEqual(st, 201, b)
            self.assertEqual([p["statement"] for p in b["proposed"]],
                             [c["statement"] for c in fresh])
            self.assertEqual((b["considered"], b["skipped"]["known"]),
                             (4, 4 - len(fresh)))
            st, _, b2 = r("POST", "/v2/model/suggest",
                          {"pattern": "Nationality(p1, ?x)", "k": 4,
                           "min_plausibility": 0})
            self.assertEqual((st, b2["proposed"], b2["skipped"]["pending"]),
                             (201, [], len(fresh)))
            st, _, q1 = r("GET", "/v2/review")
            mine = [p for p in q1["proposals"] if p["origin"] == "model"]
            self.assertEqual([p["statement"] for p in mine],
                             [c["statement"] for c in fresh])
            self.assertTrue(mine[0]["model"].startswith("learn:"))
            self.assertEqual(mine[0]["source"], "Nationality(p1, ?x)")
            for body, field in (({"k": 3}, "pattern"),
                                ({"pattern": "Married(p1, ?x)", "k": 0},
                                 "k"),
                                ({"pattern": "Married(p1, ?x)",
                                  "min_plausibility": 2},
                                 "min_plausibility")):
                st, _, b = r("POST", "/v2/model/suggest", body)
                self.assertEqual((st, b["error"]["detail"]["field"]),
                                 (400, field), b)
            st, _, b = r("POST", "/v2/model/suggest",
                         {"pattern": "Married(zz, ?x)"})
            self.assertEqual(st, 404, b)
            self.assertEqual(run("stats", "--data", d, "--json")["facts"],
                             before)  # proposals only, no facts
            # retrained while serving: the next request sees the new model
            run("model", "train", "--data", d, "--threads", "1", "--dim",
                "8", "--epochs", "5")
            st, _, b = r("GET", "/v2/model")
            self.assertEqual((st, b["dim"]), (200, 8))
            st, _, b = r("GET", "/openapi.json")
            for p in ("/v2/model", "/v2/model/score", "/v2/model/predict",
                      "/v2/model/similar", "/v2/model/suggest"):
                self.assertIn(p, b["paths"])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "score_fact",
                        "arguments": {"statement": "Married(p3, p2)"}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "predict_links",
                        "arguments": {"pattern": "Married(p3, ?x)", "k": 2}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "score_fact",
                        "arguments": {"statement": "Married(zz, p2)"}}},
            {"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
             "params": {"name": "predict_links",
                        "arguments": {"pattern": "Married(p3, ?x)", "k": 2,
                                      "ranker": "combined"}}},
            {"jsonrpc": "2.0", "id": 8, "method": "tools/call",
             "params": {"name": "predict_links",
                        "arguments": {"pattern": "Married(p3, ?x)",
                                      "ranker": "best"}}},
            {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
             "params": {"name": "suggest_links",
                        "arguments": {"pattern": "LivesIn(p5, ?x)", "k": 3,
                                      "min_plausibility": 0}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", d],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = {}
        for line in p.stdout.splitlines():
            m = json.loads(line)
            if "id" in m:
                a[m["id"]] = m
        cli = run("model", "score", "Married(p3, p2)", "--data", d, "--json")
        self.assertEqual(a[2]["result"]["structuredContent"], cli)
        cli = run("model", "predict", "Married(p3, ?x)", "--k", "2", "--data",
                  d, "--json")
        self.assertEqual(a[3]["result"]["structuredContent"], cli)
        self.assertIn(cli["ranker"], ("model", "combined"))
        cli = run("model", "predict", "Married(p3, ?x)", "--k", "2",
                  "--ranker", "combined", "--data", d, "--json")
        self.assertEqual(a[7]["result"]["structuredContent"], cli)
        self.assertEqual(cli["ranker"], "combined")
        self.assertIn("ranker", json.dumps(a[8]["error"]))  # not in enum
        self.assertTrue(a[4]["result"]["isError"], a[4])
        self.assertIn("zz", a[4]["result"]["content"][0]["text"])
        names = [t["name"] for t in a[5]["result"]["tools"]]
        self.assertIn("score_fact", names)
        self.assertIn("predict_links", names)
        self.assertTrue(a[6]["result"]["isError"], a[6])  # no write token
        self.assertIn("write token", a[6]["result"]["content"][0]["text"])
        tok = os.path.join(self.root, "tokens")
        with open(tok, "w") as f:
            f.write("ann write %s\n" % hashlib.sha256(b"ann-s").hexdigest())
        msgs[-1]["params"]["arguments"]["auth_token"] = "ann-s"
        p = subprocess.run([BIN, "mcp", "--data", d, "--tokens", tok],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        a = {m["id"]: m for m in map(json.loads, p.stdout.splitlines())
             if "id" in m}
        sc = a[6]["result"]["structuredContent"]
        self.assertEqual(sc["pattern"], "LivesIn(p5, ?x)")
        self.assertEqual(sc["considered"], 3)
        self.assertEqual(len(sc["proposed"]) + sc["skipped"]["known"], 3)
        q1 = run("review", "list", "--data", d, "--json")["proposals"]
        got = [(p["statement"], p["origin"]) for p in q1
               if p["source"] == "LivesIn(p5, ?x)"]
        self.assertEqual(got, [(x["statement"], "model")
                               for x in sc["proposed"]])

    def test_4_legacy_tools(self):
        """validate_facts and analyze_duplicates carry the model's view."""
        d = self.data
        run("model", "train", "--data", d, "--json", *TRAIN)

        def mcp(data, calls):
            msgs = [
                {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "t", "version": "1"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"}]
            for i, (name, args) in enumerate(calls):
                msgs.append({"jsonrpc": "2.0", "id": 10 + i,
                             "method": "tools/call",
                             "params": {"name": name, "arguments": args}})
            p = subprocess.run([BIN, "mcp", "--data", data],
                               input="".join(json.dumps(m) + "\n"
                                             for m in msgs),
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            a = {m["id"]: m["result"] for m in map(json.loads,
                                                  p.stdout.splitlines())
                 if "id" in m}
            return [a[10 + i] for i in range(len(calls))]

        vf, vf_all, dup = mcp(d, [
            ("validate_facts", {"limit": 1000}),
            ("validate_facts", {"limit": 1000, "min_plausibility": 0.5}),
            ("analyze_duplicates", {"threshold": 0.3, "max_pairs": 50})])
        info = run("model", "info", "--data", d, "--json")
        for r in (vf, vf_all, dup):
            self.assertFalse(r.get("isError"), r)
            m = r["structuredContent"]["model"]
            self.assertEqual((m["kind"], m["dim"], m["audit_seq"]),
                             (info["model"], info["dim"], info["audit_seq"]))
        self.assertNotIn("implausible", vf["structuredContent"])
        sc = vf_all["structuredContent"]
        impl = sc["implausible"]
        self.assertTrue(impl, sc)
        ps = [x["plausibility"] for x in impl]
        self.assertEqual(ps, sorted(ps))
        self.assertTrue(all(p < 0.5 for p in ps), ps)
        # each is the plausibility `model score` gives the same statement
        for x in impl[:5]:
            cli = run("model", "score", x["statement"], "--data", d, "--json")
            self.assertAlmostEqual(x["plausibility"], cli["plausibility"],
                                   places=6)
        # every fact below 0.5 among those the model knows is listed
        known = sc["examined"] - sc["unknown_to_model"]
        self.assertGreater(known, 200)
        pairs = dup["structuredContent"]["pairs"]
        self.assertTrue(pairs)
        sims = [p["model_similarity"] for p in pairs
                if "model_similarity" in p]
        self.assertTrue(sims)
        self.assertTrue(all(-1.0001 <= x <= 1.0001 for x in sims), sims)

        sim, status, unauth = mcp(d, [
            ("similar_entities", {"entity": "p7", "k": 3}),
            ("model_status", {}),
            ("train_model", {"dim": 8})])
        cli = run("model", "similar", "p7", "--k", "3", "--data", d, "--json")
        self.assertEqual(sim["structuredContent"], cli)
        st = status["structuredContent"]
        self.assertEqual((st["model"]["dim"], st["model"]["age"]),
                         (info["dim"], 0))
        self.assertEqual(st["training"]["state"], "idle")
        self.assertTrue(unauth["isError"], unauth)
        self.assertIn("write token", unauth["content"][0]["text"])

        # a KB without a model: the tools answer as before, model null;
        # asking for min_plausibility says how to get a model
        bare = os.path.join(self.root, "bare")
        run("init", "--data", bare)
        run("add", "--data", bare, "LivesIn(p1, c1)")
        vf, vf_all = mcp(bare, [
            ("validate_facts", {"limit": 10}),
            ("validate_facts", {"limit": 10, "min_plausibility": 0.5})])
        self.assertIsNone(vf["structuredContent"]["model"])
        self.assertTrue(vf_all["isError"], vf_all)
        self.assertIn("model train", vf_all["content"][0]["text"])


    def test_5_train_in_server(self):
        """POST /v2/model/train retrains in the background while serving."""
        d = self.data
        run("model", "train", "--data", d, *TRAIN)
        with open(self.model, "rb") as f:
            before = f.read()
        srv = Server(data=d)
        try:
            r = srv.request
            st, _, b = r("GET", "/v2/model/train")
            self.assertEqual((st, b["state"]), (200, "idle"), b)
            for body, field in (({"dim": 0}, "dim"), ({"kind": "x"}, "kind"),
                                ({"nope": 1}, "nope"),
                                ({"valid": 0.9}, "valid")):
                st, _, b = r("POST", "/v2/model/train", body)
                self.assertEqual((st, b["error"]["detail"]["field"]),
                                 (400, field), b)
            st, _, b = r("POST", "/v2/model/train",
                         {"dim": 8, "epochs": 6, "threads": 1, "seed": 5})
            self.assertEqual((st, b["state"], b["epochs"]),
                             (202, "running", 6), b)
            deadline = time.time() + 300
            while b["state"] == "running" and time.time() < deadline:
                time.sleep(0.2)
                st, _, b = r("GET", "/v2/model/train")
                # reads keep being answered while it trains
                st2, _, _ = r("GET", "/v2/model/score?statement=" +
                              q("Married(p1, p0)"))
                self.assertEqual(st2, 200)
            self.assertEqual(b["state"], "done", b)
            self.assertEqual(b["epoch"], 6, b)
            # the background job wrote the entity vectors too (60 people,
            # 20 cities, 4 countries, NH3, N, H, Iron)
            self.assertEqual(b["space_vectors"], 88, b)  # every entity
            self.assertIsNone(b["space_error"], b)
            self.assertGreater(b["triples"], 200)
            st, _, m = r("GET", "/v2/model")
            self.assertEqual((st, m["dim"], m["age"]), (200, 8, 0), m)
            self.assertEqual(run("model", "info", "--data", d,
                                 "--json")["dim"], 8)
            # a long training is stopped by shutdown: nothing is stored
            with open(self.model, "rb") as f:
                trained = f.read()
            self.assertNotEqual(trained, before)
            # no validation split: no early stopping cuts it short
            st, _, b = r("POST", "/v2/model/train",
                         {"dim": 64, "epochs": 100000, "threads": 1,
                          "valid": 0})
            self.assertEqual(st, 202, b)
            st, _, b = r("POST", "/v2/model/train", {"dim": 8})
            self.assertEqual((st, b["error"]["code"]), (503, "busy"), b)
            st, _, b = r("GET", "/v2/model/train")
            self.assertEqual(b["state"], "running", b)
        finally:
            t0 = time.time()
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        self.assertLess(time.time() - t0, 60)
        with open(self.model, "rb") as f:
            self.assertEqual(f.read(), trained)

    def test_6_graph_space_and_backup(self):
        """Training writes the vector space graph; backups keep the model."""
        d = self.data
        info = run("model", "train", "--data", d, "--json", *TRAIN)
        gs = info["graph_space"]
        # every entity but the "" of the unary IsMetal(Iron)
        self.assertEqual((gs["space"], gs["dim"], gs["skipped"]),
                         ("graph", 64, 1), gs)
        self.assertEqual(gs["vectors"], info["entities"] - 1, gs)
        self.assertEqual(run("model", "info", "--data", d, "--json")["age"],
                         0)
        p = run("vectors", "list", "--data", d, "--json", ok=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        spaces = [json.loads(x) for x in p.stdout.splitlines()]
        g = [x for x in spaces if x["name"] == "graph"][0]
        self.assertEqual((g["kind"], g["dim"], g["vectors"]),
                         ("entity", 64, gs["vectors"]), g)
        self.assertTrue(g["model"].startswith("learn:complex-32@"), g)
        vec = os.path.join(self.root, "q.txt")
        with open(vec, "w") as f:
            f.write(" ".join(["0.5"] * 64) + "\n")
        p = subprocess.run([BIN, "similar", "--space", "graph", "--vector",
                            vec, "--k", "5", "--data", d, "--json"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        hits = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(len(hits), 5)
        names = {x["entity"] for x in hits}
        self.assertTrue(names <= {"p%d" % i for i in range(60)} |
                        {"c%d" % i for i in range(20)} |
                        {"k%d" % i for i in range(4)} |
                        {"NH3", "N", "H", "Iron"}, names)
        # --no-space leaves the space as it was
        again = run("model", "train", "--data", d, "--json", "--no-space",
                    *TRAIN)
        self.assertNotIn("graph_space", again)
        # a backup carries learn.model; the restored KB scores the same
        score = run("model", "score", "LivesIn(p3, c3)", "--data", d,
                    "--json")
        bak = os.path.join(self.root, "bak")
        run("backup", "--data", d, bak)
        self.assertTrue(os.path.exists(os.path.join(bak, "learn.model")))
        kb2 = os.path.join(self.root, "kb2")
        run("restore", "--data", kb2, bak)
        with open(self.model, "rb") as f1, \
                open(os.path.join(kb2, "learn.model"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        self.assertEqual(run("model", "score", "LivesIn(p3, c3)", "--data",
                             kb2, "--json"), score)


if __name__ == "__main__":
    unittest.main()
