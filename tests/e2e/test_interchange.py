#!/usr/bin/env python3
"""End-to-end tests of the interchange formats: `hakgal export --format
ntriples|graphml|jsongraph` and `hakgal import --format ntriples`.
N-Triples exports are re-imported by hakgal's importer into a fresh KB
(the facts must come back unchanged) and every line is checked against
the N-Triples grammar here; GraphML is read with Python's standard XML
parser and the JSON graph with its JSON parser, and both must hold
exactly the nodes and edges the facts imply.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP  # noqa: E402

FACTS = [
    "HasPart(Computer, CPU)",
    "HasPart(Computer, Main Memory)",
    "BondAngleDegrees(Water, 104.5)",
    "AtomicNumber(Helium, 2)",
    "Avogadro(Constant, 6.022e23)",
    "Bond(NH3, nitrogen, hydrogen)",
    "Noble(Helium)",
    'Says(Alice, "a, b (c) \\"q\\"")',
    "Path(dir/sub#frag?x, 100% sure)",
    "Größe(Straße, 构成)",
    "SeeAlso(Berlin, http://dbpedia.org/resource/Berlin)",
    "Five(a, b, c, d, e)",
]

# One line of N-Triples: subject, predicate, object, '.'.
IRI = r'<[^<>"{}|^`\\\x00-\x20]+>'
BNODE = r'_:[A-Za-z0-9_][A-Za-z0-9_.\-]*'
LIT = r'"(?:[^"\\\n\r]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^' + IRI + ')?'
NT_LINE = re.compile(r'^(%s|%s) %s (%s|%s|%s) \.$' % (IRI, BNODE, IRI, IRI,
                                                       BNODE, LIT))


def run(*args, check=True, stdin=None):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=300, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p


class Interchange(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.root = tempfile.mkdtemp(prefix="interchange-", dir=TMP)
        cls.data = os.path.join(cls.root, "kb")
        path = os.path.join(cls.root, "facts.txt")
        with open(path, "w") as f:
            f.write("\n".join(FACTS) + "\n")
        run("init", "--data", cls.data)
        run("import", "--data", cls.data, path)

    def fresh(self, name):
        d = os.path.join(self.root, name)
        run("init", "--data", d)
        return d

    def statements(self, data):
        out = run("export", "--data", data).stdout
        return sorted(out.splitlines())

    def test_ntriples_round_trip(self):
        nt = os.path.join(self.root, "kb.nt")
        run("export", "--data", self.data, "--format", "ntriples",
            "--output", nt)
        with open(nt, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines:
            self.assertRegex(line, NT_LINE)
        self.assertIn("<https://hakgal.org/kb/Computer> "
                      "<https://hakgal.org/kb/HasPart> "
                      "<https://hakgal.org/kb/CPU> .", lines)
        self.assertIn('<https://hakgal.org/kb/Water> '
                      '<https://hakgal.org/kb/BondAngleDegrees> '
                      '"104.5"^^<http://www.w3.org/2001/XMLSchema#decimal> .',
                      lines)
        self.assertTrue(any(l.endswith("<http://dbpedia.org/resource/Berlin> .")
                            for l in lines))
        # Bond (3 args) and Noble (1 arg) are reified; Five has 5 positions.
        arg4 = [l for l in lines if "<https://hakgal.org/ns#arg4>" in l]
        self.assertEqual(len(arg4), 1)
        back = self.fresh("nt-back")
        p = run("import", "--data", back, nt, "--json", "--quiet")
        summary = json.loads(p.stdout.splitlines()[0])
        self.assertEqual(summary["rejected"], 0, p.stdout)
        self.assertEqual(summary["added"], len(FACTS))
        self.assertEqual(self.statements(back), self.statements(self.data))
        # A second round trip gives the same file.
        nt2 = os.path.join(self.root, "kb2.nt")
        run("export", "--data", back, "--format", "ntriples", "--output", nt2)
        with open(nt2, encoding="utf-8") as f:
            self.assertEqual(sorted(re.sub(r"_:hkf\d+", "_:b", l)
                                    for l in f.read().splitlines()),
                             sorted(re.sub(r"_:hkf\d+", "_:b", l)
                                    for l in lines))

    def test_ntriples_custom_base(self):
        base = "http://example.org/x/"
        out = run("export", "--data", self.data, "--format", "ntriples",
                  "--base", base).stdout
        self.assertIn("<http://example.org/x/Computer> "
                      "<http://example.org/x/HasPart>", out)
        src = os.path.join(self.root, "base.nt")
        with open(src, "w", encoding="utf-8") as f:
            f.write(out)
        back = self.fresh("base-back")
        run("import", "--data", back, "--base", base, src, "--quiet")
        self.assertEqual(self.statements(back), self.statements(self.data))

    def test_ntriples_foreign_dump(self):
        dump = "\n".join([
            "# a public dump",
            "<http://dbpedia.org/resource/Berlin> "
            "<http://www.w3.org/2000/01/rdf-schema#label> \"Berlin\"@de .",
            "<http://dbpedia.org/resource/Berlin> "
            "<http://dbpedia.org/ontology/populationTotal> "
            "\"3677472\"^^<http://www.w3.org/2001/XMLSchema#integer> .",
            "<http://dbpedia.org/resource/Berlin> "
            "<http://dbpedia.org/ontology/founded> "
            "\"1237-01-01\"^^<http://www.w3.org/2001/XMLSchema#date> .",
            "_:b0 <http://xmlns.com/foaf/0.1/knows> _:b1 .",
            "<http://a.org/s> <http://a.org/p-q> \"x\\ty\" .",
            "<http://a.org/s> <http://a.org/p> .",
            "not a triple",
            "",
        ])
        src = os.path.join(self.root, "dump.nt")
        with open(src, "w", encoding="utf-8") as f:
            f.write(dump)
        kb = self.fresh("dump")
        rej = os.path.join(self.root, "dump.rejects")
        p = run("import", "--data", kb, src, "--json", "--quiet",
                "--rejects", rej)
        summary = json.loads(p.stdout.splitlines()[0])
        self.assertEqual(summary["format"], "ntriples")
        self.assertEqual(summary["added"], 5)
        self.assertEqual(summary["rejected"], 2)
        with open(rej, encoding="utf-8") as f:
            rejects = f.read()
        self.assertIn("dump.nt:7:", rejects)
        self.assertIn("dump.nt:8:", rejects)
        got = self.statements(kb)
        self.assertIn('label(http://dbpedia.org/resource/Berlin, '
                      '"\\"Berlin\\"@de")', got)
        self.assertIn("populationTotal(http://dbpedia.org/resource/Berlin, "
                      "3677472)", got)
        self.assertIn('founded(http://dbpedia.org/resource/Berlin, '
                      '"\\"1237-01-01\\"^^<http://www.w3.org/2001/'
                      'XMLSchema#date>")', got)
        self.assertIn("knows(_:b0, _:b1)", got)
        self.assertIn('p_q(http://a.org/s, "\\"x\\\\ty\\"")', got)
        # The kept literals go out again as they came in.
        out = run("export", "--data", kb, "--format", "ntriples").stdout
        self.assertIn('<http://dbpedia.org/resource/Berlin> '
                      '<https://hakgal.org/kb/label> "Berlin"@de .', out)
        self.assertIn("_:b0 <https://hakgal.org/kb/knows> _:b1 .", out)

    def test_ntriples_broken_group_rejected(self):
        src = os.path.join(self.root, "group.nt")
        ns = "<https://hakgal.org/ns#%s>"
        with open(src, "w", encoding="utf-8") as f:
            f.write("_:g1 %s <https://hakgal.org/kb/R> .\n" % (ns % "predicate"))
            f.write("_:g1 %s <https://hakgal.org/kb/a> .\n" % (ns % "arg0"))
            f.write("_:g1 %s <https://hakgal.org/kb/c> .\n" % (ns % "arg2"))
            f.write("_:g2 %s <https://hakgal.org/kb/a> .\n" % (ns % "arg0"))
            f.write("_:g3 %s <https://hakgal.org/kb/T> .\n" % (ns % "predicate"))
            f.write("_:g3 %s \"7\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n"
                    % (ns % "arg0"))
        kb = self.fresh("group")
        p = run("import", "--data", kb, src, "--json", "--quiet",
                "--rejects", os.path.join(self.root, "group.rejects"))
        summary = json.loads(p.stdout.splitlines()[0])
        self.assertEqual((summary["added"], summary["rejected"]), (1, 2))
        self.assertEqual(self.statements(kb), ["T(7)"])

    def expected_graph(self):
        facts = [json.loads(l) for l in run(
            "export", "--data", self.data, "--format", "jsonl").stdout.splitlines()]
        entities = {a for f in facts for a in f["args"]}
        nodes = {"e:" + e for e in entities}
        edges = set()
        for f in facts:
            if len(f["args"]) == 2:
                edges.add(("e:" + f["args"][0], "e:" + f["args"][1],
                           f["predicate"]))
            else:
                nodes.add("f:%d" % f["id"])
                for i, a in enumerate(f["args"]):
                    edges.add(("f:%d" % f["id"], "e:" + a, "arg%d" % i))
        return nodes, edges

    def test_graphml(self):
        out = os.path.join(self.root, "kb.graphml")
        run("export", "--data", self.data, "--format", "graphml",
            "--output", out)
        ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
        root = ET.parse(out).getroot()
        keys = {k.get("id"): k.get("attr.name")
                for k in root.findall("g:key", ns)}
        self.assertEqual(keys["predicate"], "predicate")
        graph = root.find("g:graph", ns)
        self.assertEqual(graph.get("edgedefault"), "directed")
        nodes = {n.get("id") for n in graph.findall("g:node", ns)}
        edges = set()
        for e in graph.findall("g:edge", ns):
            data = {d.get("key"): d.text for d in e.findall("g:data", ns)}
            edges.add((e.get("source"), e.get("target"), data["predicate"]))
            self.assertIn(e.get("source"), nodes)
            self.assertIn(e.get("target"), nodes)
        want_nodes, want_edges = self.expected_graph()
        self.assertEqual(nodes, want_nodes)
        self.assertEqual(edges, want_edges)
        labels = {n.get("id"): n.find("g:data[@key='label']", ns).text
                  for n in graph.findall("g:node", ns)}
        self.assertEqual(labels['e:a, b (c) "q"'], 'a, b (c) "q"')

    def test_jsongraph(self):
        g = json.loads(run("export", "--data", self.data, "--format",
                           "jsongraph").stdout)
        nodes = {n["id"] for n in g["nodes"]}
        self.assertEqual(len(nodes), len(g["nodes"]))
        edges = {(e["source"], e["target"], e["predicate"])
                 for e in g["edges"]}
        want_nodes, want_edges = self.expected_graph()
        self.assertEqual(nodes, want_nodes)
        self.assertEqual(edges, want_edges)
        kinds = {n["id"]: n["kind"] for n in g["nodes"]}
        self.assertEqual(kinds["e:Helium"], "entity")
        self.assertEqual(sum(1 for k in kinds.values() if k == "fact"), 3)

    def test_empty_kb_and_bad_format(self):
        kb = self.fresh("empty")
        g = json.loads(run("export", "--data", kb, "--format",
                           "jsongraph").stdout)
        self.assertEqual(g, {"nodes": [], "edges": []})
        ET.fromstring(run("export", "--data", kb, "--format",
                          "graphml").stdout)
        self.assertEqual(run("export", "--data", kb, "--format", "ntriples")
                         .stdout, "")
        p = run("export", "--data", kb, "--format", "rdfxml", check=False)
        self.assertEqual(p.returncode, 2)
        p = run("import", "--data", kb, "--format", "graphml", "-",
                stdin="", check=False)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
