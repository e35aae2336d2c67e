#!/usr/bin/env python3
"""End-to-end tests of the interchange formats: `hakgal export --format
ntriples|turtle|graphml|jsongraph|cypher|neo4j`, `hakgal import --format
ntriples`, and exports restricted by --where / --around. Turtle and
N-Triples are parsed by rdflib (Debian's python3-rdflib) as independent
readers and must describe the same graph; the Cypher script is read by a
small reader of the Cypher literals it uses, the Neo4j CSV files with
Python's csv module.
N-Triples exports are re-imported by hakgal's importer into a fresh KB
(the facts must come back unchanged) and every line is checked against
the N-Triples grammar here; GraphML is read with Python's standard XML
parser and the JSON graph with its JSON parser, and both must hold
exactly the nodes and edges the facts imply.
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, q  # noqa: E402

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

    def test_turtle_is_the_ntriples_graph(self):
        import rdflib
        from rdflib.compare import isomorphic
        nt = run("export", "--data", self.data, "--format", "ntriples").stdout
        ttl = run("export", "--data", self.data, "--format", "turtle").stdout
        self.assertIn("@prefix kb: <https://hakgal.org/kb/> .", ttl)
        self.assertIn("kb:Computer kb:HasPart kb:CPU ;", ttl)
        self.assertIn("kb:Water kb:BondAngleDegrees 104.5 .", ttl)
        g_nt = rdflib.Graph().parse(data=nt, format="nt")
        g_ttl = rdflib.Graph().parse(data=ttl, format="turtle")
        self.assertEqual(len(g_nt), len(nt.splitlines()))
        self.assertEqual(len(g_ttl), len(g_nt))
        self.assertTrue(isomorphic(g_nt, g_ttl))
        # Another base, and an empty KB (prefixes only).
        ttl2 = run("export", "--data", self.data, "--format", "ttl",
                   "--base", "http://example.org/x/").stdout
        g2 = rdflib.Graph().parse(data=ttl2, format="turtle")
        self.assertIn(rdflib.URIRef("http://example.org/x/Computer"),
                      set(g2.subjects()))
        empty = run("export", "--data", self.fresh("ttl-empty"), "--format",
                    "turtle").stdout
        self.assertEqual(len(rdflib.Graph().parse(data=empty,
                                                  format="turtle")), 0)

    def expected_property_graph(self, data, where=None):
        args = ["export", "--data", data, "--format", "jsonl"]
        if where:
            args += ["--where", where]
        facts = [json.loads(l) for l in run(*args).stdout.splitlines()]
        rels = set()
        fact_nodes = set()
        for f in facts:
            if len(f["args"]) == 2:
                rels.add((f["args"][0], f["predicate"], f["args"][1], f["id"]))
            else:
                fact_nodes.add((f["id"], f["predicate"], len(f["args"])))
                for i, a in enumerate(f["args"]):
                    rels.add(("f:%d" % f["id"], "ARG%d" % i, a, f["id"]))
        entities = {a for f in facts for a in f["args"]}
        return entities, fact_nodes, rels

    def test_neo4j_csv(self):
        out = os.path.join(self.root, "neo4j")
        p = run("export", "--data", self.data, "--format", "neo4j",
                "--output", out, "--json")
        self.assertEqual(json.loads(p.stdout)["format"], "neo4j")
        self.assertEqual(sorted(os.listdir(out)),
                         ["entities.csv", "facts.csv", "import.sh",
                          "relationships.csv"])
        self.assertTrue(os.access(os.path.join(out, "import.sh"), os.X_OK))

        def rows(name):
            with open(os.path.join(out, name), newline="",
                      encoding="utf-8") as f:
                r = list(csv.reader(f))
            return r[0], r[1:]
        h, ents = rows("entities.csv")
        self.assertEqual(h, ["id:ID", "name", "value:double", ":LABEL"])
        h, facts = rows("facts.csv")
        self.assertEqual(h[0], "id:ID")
        self.assertIn(":LABEL", h)
        h, rels = rows("relationships.csv")
        self.assertEqual(h[:3], [":START_ID", ":END_ID", ":TYPE"])
        ids = [r[0] for r in ents] + [r[0] for r in facts]
        self.assertEqual(len(ids), len(set(ids)), "node ids are unique")
        for r in rels:
            self.assertIn(r[0], ids)
            self.assertIn(r[1], ids)
        want_e, want_f, want_r = self.expected_property_graph(self.data)
        self.assertEqual({r[1] for r in ents}, want_e)
        self.assertTrue(all(r[0] == "e:" + r[1] and r[3] == "Entity"
                            for r in ents))
        values = {r[1]: r[2] for r in ents}
        self.assertEqual(values["104.5"], "104.5")
        self.assertEqual(values["Helium"], "")
        self.assertEqual({(int(r[1]), r[2], int(r[3])) for r in facts},
                         want_f)
        got = set()
        for r in rels:
            src = r[0][2:] if r[0].startswith("e:") else r[0]
            got.add((src, r[2], r[1][2:], int(r[3])))
        self.assertEqual(got, want_r)
        # The directory is created, never overwritten; neo4j needs one.
        p = run("export", "--data", self.data, "--format", "neo4j",
                "--output", out, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("exists", p.stderr)
        p = run("export", "--data", self.data, "--format", "neo4j",
                check=False)
        self.assertEqual(p.returncode, 1)  # a usage error
        self.assertIn("--output DIR", p.stderr)

    def test_cypher_script(self):
        text = run("export", "--data", self.data, "--format",
                   "cypher").stdout
        stmts = parse_cypher(text)
        self.assertTrue(stmts[0].startswith("CREATE CONSTRAINT"))
        rels = set()
        fact_nodes = set()
        for st in stmts:
            if not st.startswith("UNWIND"):
                continue
            rows = st_rows(st)
            m = re.search(r"MERGE \(s\)-\[x:`((?:[^`]|``)+)` \{fact: r\.id\}\]",
                          st)
            for r in rows:
                if m:
                    rels.add((r["a"][0], m.group(1).replace("``", "`"),
                              r["a"][1], r["id"]))
                else:
                    self.assertIn("MERGE (f:Fact {id: r.id})", st)
                    self.assertIsInstance(r["c"], float)
                    fact_nodes.add((r["id"], r["p"], len(r["a"])))
                    for i, a in enumerate(r["a"]):
                        self.assertIn("[:ARG%d {position: %d}]" % (i, i), st)
                        rels.add(("f:%d" % r["id"], "ARG%d" % i, a, r["id"]))
        want_e, want_f, want_r = self.expected_property_graph(self.data)
        self.assertEqual(rels, want_r)
        self.assertEqual(fact_nodes, want_f)

    def test_restricted_exports(self):
        q = "HasPart(Computer, ?p)"
        out = run("export", "--data", self.data, "--where", q).stdout
        self.assertEqual(sorted(out.splitlines()),
                         ["HasPart(Computer, CPU)",
                          "HasPart(Computer, Main Memory)"])
        # Every fact a multi-pattern row matched, once.
        q2 = "HasPart(Computer, ?p), HasPart(Computer, ?q), ?p != ?q"
        p = run("export", "--data", self.data, "--where", q2, "--output",
                os.path.join(self.root, "w.txt"), "--json")
        self.assertEqual(json.loads(p.stdout)["facts"], 2)
        around = run("export", "--data", self.data, "--around", "NH3",
                     "--format", "jsongraph").stdout
        g = json.loads(around)
        self.assertEqual({n["id"] for n in g["nodes"]},
                         {"e:NH3", "e:nitrogen", "e:hydrogen", "f:6"})
        both = run("export", "--data", self.data, "--around", "Computer",
                   "--where", "?r(?a, CPU)").stdout
        self.assertEqual(both.splitlines(), ["HasPart(Computer, CPU)"])
        none = run("export", "--data", self.data, "--where",
                   "HasPart(Nothing, ?x)", "--format", "graphml").stdout
        root = ET.fromstring(none)
        self.assertEqual(len(root.findall(".//{*}node")), 0)
        # A restricted Neo4j export holds only the selected facts.
        d = os.path.join(self.root, "neo4j-where")
        run("export", "--data", self.data, "--where", q, "--format",
            "neo4j", "--output", d)
        with open(os.path.join(d, "entities.csv"), encoding="utf-8") as f:
            self.assertEqual(len(f.read().splitlines()), 4)
        # Errors name what is wrong.
        p = run("export", "--data", self.data, "--where", "HasPart(?x",
                check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("column", p.stderr)
        p = run("export", "--data", self.data, "--around", "Nobody",
                check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("Nobody", p.stderr)
        p = run("export", "--data", self.data, "--depth", "2", check=False)
        self.assertEqual(p.returncode, 1)  # --depth needs --around
        p = run("export", "--data", self.data, "--where", q, "--format",
                "mcp-memory", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot be restricted", p.stderr)

    def test_rest_and_mcp_export(self):
        import rdflib
        cli_ttl = run("export", "--data", self.data, "--format",
                      "turtle").stdout
        where = "HasPart(Computer, ?p)"
        cli_where = run("export", "--data", self.data, "--where", where,
                        "--format", "jsongraph").stdout
        srv = Server(data=self.data)
        try:
            r = srv.request
            st, h, body = r("GET", "/v2/export?format=turtle")
            self.assertEqual(st, 200, body)
            self.assertTrue(h["content-type"].startswith("text/turtle"))
            self.assertEqual(body, cli_ttl)
            self.assertEqual(len(rdflib.Graph().parse(data=body,
                                                      format="turtle")),
                             len(run("export", "--data", self.data,
                                     "--format", "ntriples")
                                 .stdout.splitlines()))
            st, h, body = r("GET", "/v2/export?format=jsongraph&where=" +
                            q(where))
            self.assertEqual(st, 200, body)
            self.assertEqual(json.dumps(body, sort_keys=True),
                             json.dumps(json.loads(cli_where),
                                        sort_keys=True))
            st, _, body = r("GET", "/v2/export?around=NH3&depth=1")
            self.assertEqual((st, body),
                             (200, "Bond(NH3, nitrogen, hydrogen)\n"))
            st, _, body = r("GET", "/v2/export?format=cypher&around=Helium")
            self.assertEqual(st, 200)
            self.assertEqual(len(parse_cypher(body)), 2 + 2 + 1)
            # Errors: a bad query names its column, an unknown entity is
            # 404, an answer over max_bytes is refused, neo4j is a
            # directory, depth needs around.
            st, _, body = r("GET", "/v2/export?where=" + q("HasPart(?x"))
            self.assertEqual(st, 400, body)
            self.assertEqual(body["error"]["detail"]["field"], "where")
            st, _, body = r("GET", "/v2/export?around=Nobody")
            self.assertEqual(st, 404, body)
            st, _, body = r("GET", "/v2/export?format=ntriples&max_bytes=100")
            self.assertEqual(st, 422, body)
            self.assertEqual(body["error"]["detail"]["field"], "max_bytes")
            st, _, body = r("GET", "/v2/export?format=neo4j")
            self.assertEqual(st, 400, body)
            st, _, body = r("GET", "/v2/export?format=rdfxml")
            self.assertEqual(st, 400, body)
            st, _, body = r("GET", "/v2/export?depth=2")
            self.assertEqual(st, 400, body)
            st, _, api = r("GET", "/openapi.json")
            self.assertIn("/v2/export", api["paths"])
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
            srv.cleanup()
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "export_graph", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "export_graph",
                        "arguments": {"format": "jsongraph",
                                      "where": where}}},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
             "params": {"name": "export_graph",
                        "arguments": {"max_bytes": 10}}},
        ]
        p = subprocess.run([BIN, "mcp", "--data", self.data],
                           input="".join(json.dumps(m) + "\n" for m in msgs),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = {m["id"]: m for m in map(json.loads, p.stdout.splitlines())}
        sc = res[2]["result"]["structuredContent"]
        self.assertEqual((sc["format"], sc["data"]), ("turtle", cli_ttl))
        self.assertNotIn("facts", sc)
        sc = res[3]["result"]["structuredContent"]
        self.assertEqual(sc["facts"], 2)
        self.assertEqual(json.loads(sc["data"]), json.loads(cli_where))
        self.assertTrue(res[4]["result"]["isError"])
        self.assertIn("larger than 10 bytes", json.dumps(res[4]["result"]))


def cypher_tokens(text, positions=False):
    """Tokens of the Cypher subset the export writes: strings with \\\\ and
    \\' escapes, back-quoted names, numbers, words and punctuation."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            i = text.index("\n", i) + 1
        elif c == "'":
            j, buf = i + 1, []
            while text[j] != "'":
                if text[j] == "\\":
                    esc = text[j + 1]
                    assert esc in "\\'", "escape \\%s" % esc
                    buf.append(esc)
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            yield tok("str", "".join(buf), i, j + 1, positions)
            i = j + 1
        elif c == "`":
            j = i + 1
            while not (text[j] == "`" and text[j + 1:j + 2] != "`"):
                j += 2 if text[j] == "`" else 1
            yield tok("name", text[i + 1:j], i, j + 1, positions)
            i = j + 1
        elif c.isdigit() or (c == "-" and text[i + 1].isdigit()):
            m = re.match(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text[i:])
            v = m.group(0)
            yield tok("num", float(v) if ("." in v or "e" in v.lower())
                      else int(v), i, i + len(v), positions)
            i += len(v)
        elif c.isalpha() or c == "_":
            m = re.match(r"\w+", text[i:])
            yield tok("word", m.group(0), i, i + len(m.group(0)), positions)
            i += len(m.group(0))
        else:
            yield tok("p", c, i, i + 1, positions)
            i += 1


def tok(kind, v, a, b, positions):
    return (kind, v, a, b) if positions else (kind, v)


def parse_cypher(text):
    """The statements' source texts (split at ';' outside strings and
    names), after checking that the whole script tokenizes."""
    stmts, start = [], 0
    for kind, v, a, b in cypher_tokens(text, positions=True):
        if kind == "p" and v == ";":
            stmts.append(text[start:a].strip())
            start = b
    assert text[start:].strip() == "", "text after the last ';'"
    return [re.sub(r"^(//[^\n]*\n)+", "", st) for st in stmts]


def st_rows(stmt_text):
    """The rows of 'UNWIND [ {..}, .. ] AS r' read as Python values."""
    toks = list(cypher_tokens(stmt_text))
    assert toks[0] == ("word", "UNWIND")
    pos = [1]

    def value():
        kind, v = toks[pos[0]]
        pos[0] += 1
        if kind in ("str", "num"):
            return v
        if kind == "word" and v == "null":
            return None
        if (kind, v) == ("p", "["):
            items = []
            while toks[pos[0]] != ("p", "]"):
                items.append(value())
                if toks[pos[0]] == ("p", ","):
                    pos[0] += 1
            pos[0] += 1
            return items
        if (kind, v) == ("p", "{"):
            obj = {}
            while toks[pos[0]] != ("p", "}"):
                key = toks[pos[0]][1]
                assert toks[pos[0] + 1] == ("p", ":")
                pos[0] += 2
                obj[key] = value()
                if toks[pos[0]] == ("p", ","):
                    pos[0] += 1
            pos[0] += 1
            return obj
        raise AssertionError("unexpected %s %r" % (kind, v))
    rows = value()
    assert toks[pos[0]] == ("word", "AS")
    return rows


if __name__ == "__main__":
    unittest.main()
