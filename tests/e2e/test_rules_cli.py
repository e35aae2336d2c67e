#!/usr/bin/env python3
"""End-to-end test of Datalog rules: the CLI (`rule add|list|show|enable|
disable|delete`, `reason [--verify]`, `why`, all with --json), the same
operations over REST (/v2/rules, /v2/reason, /v2/why), maintenance after
fact writes from the CLI and the server, and SIGKILL in the middle of a
materialization: after reopening, the derived facts match the asserted
facts and every proof step checks.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, q  # noqa: E402


def run(*args, ok=True):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p


def js(*args):
    p = run(*args)
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


class RulesCli(unittest.TestCase):
    def setUp(self):
        os.makedirs(TMP, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="rules-", dir=TMP)
        self.data = os.path.join(self.root, "kb")
        run("init", "--data", self.data)

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def d(self, *args):
        return list(args) + ["--data", self.data]

    def test_cli(self):
        run(*self.d("add", "Parent(Ann, Bob)", "Parent(Bob, Cid)",
                    "Parent(Cid, Dan)"))
        # an empty rule list before any rule
        self.assertEqual(js(*self.d("rule", "list", "--json")),
                         [{"rules": [], "derived": 0}])
        r = js(*self.d("rule", "add", "Ancestor(?x, ?y) :- Parent(?x, ?y).",
                       "--json"))[0]
        self.assertEqual((r["rule"]["name"], r["rule"]["version"],
                          r["derived"]), ("Ancestor_1", 1, 3))
        r = js(*self.d("rule", "add", "--name", "anc",
                       "Ancestor(?x, ?z) :- Parent(?x, ?y), Ancestor(?y, ?z).",
                       "--json"))[0]
        self.assertEqual((r["rule"]["name"], r["derived"]), ("anc", 6))
        lst = js(*self.d("rule", "list", "--json"))[0]
        self.assertEqual([x["name"] for x in lst["rules"]],
                         ["Ancestor_1", "anc"])
        show = js(*self.d("rule", "show", "anc", "--json"))[0]
        self.assertTrue(show["enabled"])
        self.assertIn(":- Parent(?x, ?y), Ancestor(?y, ?z).", show["rule"])

        # why: a derivation tree down to asserted facts with their ids
        w = js(*self.d("why", "Ancestor(Ann, Dan)", "--json"))[0]
        self.assertEqual((w["derived"], w["rule"]), (True, "anc"))
        self.assertEqual(w["bindings"], {"x": "Ann", "y": "Bob", "z": "Dan"})
        self.assertEqual(w["premises"][0], {"statement": "Parent(Ann, Bob)",
                                            "derived": False, "id": 1})
        text = run(*self.d("why", "Ancestor(Ann, Dan)")).stdout
        self.assertIn("Ancestor(Ann, Dan)  [rule anc: ?x=Ann", text)
        self.assertIn("      Parent(Cid, Dan)  [asserted #3]", text)
        w = js(*self.d("why", "Parent(Ann, Bob)", "--json"))[0]
        self.assertEqual(w, {"statement": "Parent(Ann, Bob)",
                             "derived": False, "id": 1})
        p = run(*self.d("why", "Ancestor(Dan, Ann)"), ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("neither asserted nor derived", p.stderr)
        p = run(*self.d("why", "Ancestor(Dan"), ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("^", p.stderr)

        # maintenance after CLI writes
        run(*self.d("add", "Parent(Dan, Eve)"))
        self.assertEqual(js(*self.d("rule", "list", "--json"))[0]["derived"],
                         10)
        run(*self.d("delete", "Parent(Bob, Cid)"))
        self.assertEqual(js(*self.d("rule", "list", "--json"))[0]["derived"],
                         4)
        p = run(*self.d("why", "Ancestor(Ann, Dan)"), ok=False)
        self.assertEqual(p.returncode, 3)
        run(*self.d("add", "Parent(Bob, Cid)"))

        # queries answer over asserted and derived facts unless
        # --asserted-only; rows say which
        rows = js(*self.d("query", "Ancestor(Ann, ?y), Parent(?y, ?z)",
                          "--json"))
        self.assertEqual(sorted((r["bindings"]["y"], r["derived"],
                                 r["derived_facts"][0], r["facts"][1] > 0)
                                for r in rows),
                         [("Bob", True, True, True),
                          ("Cid", True, True, True),
                          ("Dan", True, True, True)])
        rows = js(*self.d("query", "Parent(?x, ?y), not Ancestor(?y, Dan)",
                          "--json"))
        self.assertEqual(sorted(r["bindings"]["y"] for r in rows),
                         ["Dan", "Eve"])
        p = run(*self.d("query", "Ancestor(?x, ?y)", "--asserted-only"),
                ok=False)
        self.assertEqual(p.stdout, "")
        rows = js(*self.d("query", "Parent(?x, Bob)", "--json"))
        self.assertEqual([r["statement"] for r in rows if "statement" in r],
                         ["Parent(Ann, Bob)"])

        # reason and the checker
        r = js(*self.d("reason", "--json"))[0]
        self.assertEqual((r["derived"], r["rules"], r["strata"]), (10, 2, 1))
        v = js(*self.d("reason", "--verify", "--json"))[0]
        self.assertEqual(v, {"checked": 10, "bad": 0, "valid": True})

        # refusals: unsafe, syntax, unstratifiable (naming rule and cycle)
        p = run(*self.d("rule", "add", "Bad(?x, ?z) :- Parent(?x, ?y)."),
                ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unsafe rule: variable ?z", p.stderr)
        run(*self.d("rule", "add", "--name", "lonely",
                    "Lonely(?x) :- Parent(?x, ?y), not Ancestor(?y, ?x)."))
        p = run(*self.d("rule", "add", "--name", "loop",
                        "Ancestor(?x, ?y) :- Lonely(?x), Parent(?x, ?y)."),
                ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not stratifiable", p.stderr)
        self.assertIn("'lonely'", p.stderr)
        self.assertIn("Lonely -> not Ancestor -> Lonely", p.stderr)

        # enable / disable / delete with versions, all audited
        r = js(*self.d("rule", "disable", "anc", "--json"))[0]
        self.assertEqual((r["rule"]["enabled"], r["rule"]["version"],
                          r["derived"]), (False, 2, 4 + 4))
        r = js(*self.d("rule", "enable", "anc", "--json"))[0]
        self.assertEqual((r["rule"]["enabled"], r["rule"]["version"]),
                         (True, 3))
        r = js(*self.d("rule", "delete", "lonely", "--json"))[0]
        self.assertEqual((r["rule"]["name"], r["deleted"]), ("lonely", True))
        p = run(*self.d("rule", "show", "lonely"), ok=False)
        self.assertEqual(p.returncode, 3)
        audit = js(*self.d("audit", "list", "--json", "--limit", "100"))
        ops = [e for e in audit if e["op"] == "rule"]
        self.assertEqual(len(ops), 6)
        self.assertEqual(ops[0]["after"], None)
        self.assertEqual(ops[0]["before"]["name"], "lonely")
        run(*self.d("audit", "verify"))

    def test_rest(self):
        run(*self.d("add", "PartOf(Wheel, Car)", "PartOf(Spoke, Wheel)",
                    "PartOf(Nipple, Spoke)"))
        srv = Server(data=self.data)
        try:
            r = srv.request
            st, _, b = r("GET", "/v2/rules")
            self.assertEqual((st, b), (200, {"rules": [], "derived": 0}))
            st, _, b = r("POST", "/v2/rules", {
                "name": "partof_trans",
                "rule": "PartOf(?x, ?z) :- PartOf(?x, ?y), PartOf(?y, ?z)."})
            self.assertEqual(st, 201, b)
            self.assertEqual((b["rule"]["name"], b["derived"]),
                             ("partof_trans", 3))
            st, _, b = r("GET", "/v2/why?statement=" +
                         q("PartOf(Nipple, Car)"))
            self.assertEqual(st, 200, b)
            self.assertEqual((b["derived"], b["rule"]),
                             (True, "partof_trans"))
            leaves = []

            def walk(n):
                if n["derived"]:
                    for p in n["premises"]:
                        walk(p)
                else:
                    leaves.append(n["statement"])
            walk(b)
            self.assertEqual(sorted(leaves), ["PartOf(Nipple, Spoke)",
                                              "PartOf(Spoke, Wheel)",
                                              "PartOf(Wheel, Car)"])
            # a fact written through the server is maintained at commit
            st, _, b = r("POST", "/v2/facts",
                         {"statement": "PartOf(Car, Fleet)"})
            self.assertEqual(st, 201, b)
            st, _, b = r("GET", "/v2/rules")
            self.assertEqual(b["derived"], 6)
            st, _, b = r("GET", "/v2/reason/verify")
            self.assertEqual((st, b["valid"], b["checked"]), (200, True, 6))
            st, _, b = r("GET", "/v2/why?statement=" + q("PartOf(Car, Bus)"))
            self.assertEqual(st, 404, b)
            st, _, b = r("GET", "/v2/why?statement=" + q("PartOf(Car"))
            self.assertEqual(st, 400, b)
            st, _, b = r("GET", "/v2/why")
            self.assertEqual(st, 400, b)
            st, _, b = r("POST", "/v2/rules",
                         {"rule": "Bad(?x, ?z) :- PartOf(?x, ?y)."})
            self.assertEqual(st, 400, b)
            self.assertIn("unsafe rule", b["error"]["message"])
            st, _, b = r("POST", "/v2/rules", {"rule": 5})
            self.assertEqual(st, 400, b)
            st, _, b = r("PATCH", "/v2/rules/partof_trans",
                         {"enabled": False})
            self.assertEqual((st, b["rule"]["enabled"], b["derived"]),
                             (200, False, 0), b)
            st, _, b = r("GET", "/v2/rules/partof_trans")
            self.assertEqual((st, b["version"]), (200, 2))
            st, _, b = r("POST", "/v2/reason")
            self.assertEqual((st, b["derived"]), (200, 0), b)
            st, _, b = r("DELETE", "/v2/rules/partof_trans")
            self.assertEqual((st, b["deleted"]), (200, True), b)
            st, _, b = r("DELETE", "/v2/rules/partof_trans")
            self.assertEqual(st, 404, b)
            st, _, b = r("GET", "/v2/rules/bad%20name")
            self.assertEqual(st, 400, b)
            # constraints: contradictions and strict mode over REST
            st, _, b = r("POST", "/v2/facts/batch", [
                {"statement": "Functional(HasCapital)"},
                {"statement": "HasCapital(France, Paris)"},
                {"statement": "HasCapital(France, Lyon)"},
                {"statement": "HasCapital(France, Marseille)"}])
            self.assertEqual((st, b["created"]), (200, 4), b)
            st, _, b = r("GET", "/v2/reason/contradictions")
            self.assertEqual((st, b["count"], b["strict"]), (200, 3, False),
                             b)
            self.assertTrue(all("proof" in c for c in b["contradictions"]))
            st, _, b = r("GET", "/v2/reason/contradictions?limit=1")
            self.assertEqual((st, b["count"], len(b["contradictions"])),
                             (200, 3, 1), b)
            st, _, b = r("GET", "/v2/reason/strict")
            self.assertEqual((st, b), (200, {"strict": False}))
            st, _, b = r("PUT", "/v2/reason/strict", {"strict": True})
            self.assertEqual((st, b), (200, {"strict": True}))
            st, _, b = r("GET", "/v2/reason/strict")
            self.assertEqual((st, b), (200, {"strict": True}))
            st, _, b = r("POST", "/v2/facts",
                         {"statement": "HasCapital(France, Nice)"})
            self.assertEqual(st, 409, b)
            self.assertIn("refused in strict mode", b["error"]["message"])
            st, _, b = r("PUT", "/v2/reason/strict", {"strict": "yes"})
            self.assertEqual(st, 400, b)
            st, _, b = r("PUT", "/v2/reason/strict", {"strict": False})
            self.assertEqual((st, b), (200, {"strict": False}))
            st, _, b = r("GET", "/openapi.json")
            for path in ("/v2/rules", "/v2/rules/{name}", "/v2/reason",
                         "/v2/reason/verify", "/v2/why",
                         "/v2/reason/contradictions", "/v2/reason/strict"):
                self.assertIn(path, b["paths"])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()

    def test_ontology_and_constraints(self):
        # a user asserts Transitive(PartOf) and gets every implied fact
        run(*self.d("add", "PartOf(Nipple, Spoke)", "PartOf(Spoke, Wheel)",
                    "PartOf(Wheel, Bike)", "Transitive(PartOf)",
                    "Functional(HasCapital)", "HasCapital(France, Paris)"))
        rows = js(*self.d("query", "PartOf(Nipple, ?x)", "--json"))
        self.assertEqual(sorted((r["bindings"]["x"], r["derived"])
                                for r in rows),
                         [("Bike", True), ("Spoke", False), ("Wheel", True)])
        w = js(*self.d("why", "PartOf(Nipple, Bike)", "--json"))[0]
        self.assertEqual(w["rule"], "Transitive(PartOf)")
        v = js(*self.d("reason", "--verify", "--json"))[0]
        self.assertEqual((v["valid"], v["checked"]), (True, 3))
        p = run(*self.d("reason", "--contradictions", "--json"))
        self.assertEqual(json.loads(p.stdout)["count"], 0)
        # a write contradicting Functional is caught: reported by default,
        # refused with 409 and the proof in strict mode
        run(*self.d("rule", "strict", "on"))
        srv = Server(data=self.data)
        try:
            st, _, b = srv.request("POST", "/v2/facts",
                                   {"statement": "HasCapital(France, Lyon)"})
            self.assertEqual(st, 409, b)
            msg = b["error"]["message"]
            self.assertIn("strict mode", msg)
            self.assertIn("Contradiction(functional, HasCapital, France, "
                          "Lyon, Paris)", msg)
            self.assertIn('"rule":"Functional(HasCapital)"', msg)
            st, _, b = srv.request("GET", "/v2/facts?predicate=HasCapital")
            self.assertEqual(len(b["facts"]), 1, b)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        run(*self.d("rule", "strict", "off"))
        run(*self.d("add", "HasCapital(France, Lyon)"))
        p = run(*self.d("reason", "--contradictions", "--json"), ok=False)
        self.assertEqual(p.returncode, 2)
        c = json.loads(p.stdout)
        self.assertEqual(c["count"], 1)
        proof = c["contradictions"][0]["proof"]
        self.assertEqual(sorted(x["statement"] for x in proof["premises"]),
                         ["HasCapital(France, Lyon)",
                          "HasCapital(France, Paris)"])

    def test_kill_during_maintenance(self):
        n = int(os.environ.get("HK_RULES_CHAIN", "300"))
        path = os.path.join(self.root, "chain.txt")
        with open(path, "w") as f:
            for i in range(n):
                f.write("Edge(n%d, n%d)\n" % (i, i + 1))
        run(*self.d("import", path))
        run(*self.d("rule", "add", "Path(?x, ?y) :- Edge(?x, ?y)."))
        full = n * (n + 1) // 2
        # time one full materialization, then kill the next ones midway
        t0 = time.time()
        run(*self.d("rule", "add", "--name", "rec",
                    "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z)."))
        took = time.time() - t0
        self.assertEqual(js(*self.d("rule", "list", "--json"))[0]["derived"],
                         full)
        kills = 0
        for k, args in enumerate([
                ("add", "Edge(n%d, n%d)" % (n, n + 1)),
                ("rule", "disable", "rec"),
                ("reason",),
                ("delete", "Edge(n0, n1)")]):
            p = subprocess.Popen([BIN] + list(args) + ["--data", self.data],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(took * (0.3 + 0.1 * k))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
            # reopened: the derived facts are a checked materialization of
            # the asserted facts and rules as committed
            v = js(*self.d("reason", "--verify", "--json"))[0]
            self.assertTrue(v["valid"], v)
            before = js(*self.d("rule", "list", "--json"))[0]["derived"]
            again = js(*self.d("reason", "--json"))[0]["derived"]
            self.assertEqual(before, again, args)
            run(*self.d("verify", "--deep"))
        self.assertGreater(kills, 0, "no kill landed mid-write")


if __name__ == "__main__":
    unittest.main()
