"""Live test of the Python SDK against a running hakgal (driven by
tests/e2e/test_sdk_python.py; environment in tests/e2e/sdk_live_lib.py).
Exits non-zero on the first failed check."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from hakgal_client import (AsyncClient, Client, HakgalError,  # noqa: E402
                           TransportError)
import asyncio  # noqa: E402

URL = os.environ["HAKGAL_URL"]
TOKEN = os.environ["HAKGAL_TOKEN"]
READ_TOKEN = os.environ["HAKGAL_READ_TOKEN"]
FLAKY = os.environ["HAKGAL_FLAKY_URL"]


def check(cond, what):
    if not cond:
        print("FAIL: " + what, flush=True)
        sys.exit(1)
    print("ok: " + what, flush=True)


def expect_error(fn, status, code, what):
    try:
        fn()
    except HakgalError as e:
        check(e.status == status and e.code == code and e.message,
              "%s -> %d %s (got %d %s: %s)" % (what, status, code, e.status,
                                               e.code, e.message))
        return e
    check(False, what + " raised no error")


kb = Client(URL, token=TOKEN)

# add, idempotent add, add by parts with metadata
r = kb.add("HasPart(Computer, CPU)")
check(r.created and r.fact.id >= 1 and r.fact.predicate == "HasPart" and
      r.fact.args == ["Computer", "CPU"], "add creates a fact")
again = kb.add("HasPart(Computer, CPU)")
check(not again.created and again.fact.id == r.fact.id, "add is idempotent")
m = kb.add(predicate="HasPart", args=["Computer", "RAM"], confidence=0.9,
           tags=["hw"], source="manual")
check(m.created and m.fact.confidence == 0.9 and m.fact.tags == ["hw"] and
      m.fact.source == "manual", "add by predicate and args with metadata")

# batch with one bad item
b = kb.batch(["IsA(Water, Molecule)", {"statement": "HasPart(Water, Oxygen)"},
              "Broken("])
check(b.count == 3 and b.created == 2 and b.failed == 1 and
      b.results[2].error is not None and
      b.results[2].error.code == "invalid_statement",
      "batch reports the bad item and commits the others")
b = kb.batch(["HasPart(Computer, Part%02d)" % i for i in range(25)] +
             ["IsA(Computer, Machine)"])
check(b.created == 26, "batch of 26")

# escaping: '/', spaces, '%', '&', '?', ',' and non-ASCII in statements,
# patterns and entity names
odd = kb.add('Uses(TCP/IP stack, "Größe & 100%, ok?")')
check(odd.fact.args == ["TCP/IP stack", "Größe & 100%, ok?"],
      "quoted and non-ASCII arguments round-trip")
check(kb.entity("TCP/IP stack").fact_count == 1 and
      kb.entity("Größe & 100%, ok?").fact_count == 1,
      "entity names with reserved characters are escaped")
p = kb.query('Uses(?x, "Größe & 100%, ok?")')
check(len(p.facts) == 1 and p.bindings[0]["x"] == "TCP/IP stack",
      "patterns with reserved characters are escaped")

# pattern query with cursors
page = kb.query("HasPart(Computer, ?x)", limit=7)
check(len(page.facts) == 7 and page.next_cursor and
      len(page.bindings) == 7 and "x" in page.bindings[0],
      "first page of 7 with a cursor and bindings")
facts = list(kb.query_all("HasPart(Computer, ?x)", page_size=7))
ids = [f.id for f in facts]
check(len(facts) == 27 and len(set(ids)) == 27,
      "query_all pages through all 27 facts once each")

# multi-pattern query with cursors
rows = list(kb.query_rows_all("HasPart(?c, ?p), IsA(?c, Machine)",
                              page_size=10))
check(len(rows) == 27 and all(r.bindings["c"] == "Computer" for r in rows)
      and all(len(r.facts) == 2 for r in rows),
      "multi-pattern query_rows_all: 27 rows of 2 facts")

# get, update (PATCH, PUT), conflict
f = kb.get(r.fact.id)
check(f.statement == "HasPart(Computer, CPU)", "get")
f = kb.update(r.fact.id, confidence=0.5, tags=["chip"])
check(f.confidence == 0.5 and f.tags == ["chip"] and
      f.statement == "HasPart(Computer, CPU)", "update metadata (PATCH)")
f = kb.update(r.fact.id, "HasPart(Computer, GPU)")
check(f.id == r.fact.id and f.statement == "HasPart(Computer, GPU)",
      "replace statement (PUT)")
e = expect_error(lambda: kb.update(r.fact.id, "HasPart(Computer, RAM)"),
                 409, "conflict", "PUT onto another fact")
check(isinstance(e.detail, dict) and e.detail.get("existing_id") == m.fact.id,
      "conflict names the existing id")

# search, entity, neighbours, paths
hits = kb.search("has part computer", limit=5)
check(0 < len(hits) <= 5 and all(h.fact.predicate == "HasPart" for h in hits)
      and hits[0].score > 0, "search")
ent = kb.entity("Computer", limit=10)
check(ent.entity == "Computer" and ent.fact_count == 28 and
      len(ent.facts) == 10 and ent.next_cursor, "entity page")
check(len(list(kb.entity_facts("Computer", page_size=10))) == 28,
      "entity_facts pages through 28 facts")
g = kb.neighbours("Water")
labels = {n.label or n.id for n in g.nodes}
check("Oxygen" in labels and "Molecule" in labels and g.edges,
      "neighbours of Water")
ps = kb.paths("Computer", "CPU")
check(ps == [] or all(p.nodes[0] == "Computer" for p in ps), "paths answer")
ps = kb.paths("RAM", "GPU", max_len=4)
check(len(ps) >= 1 and ps[0].nodes[0] == "RAM" and ps[0].nodes[-1] == "GPU"
      and ps[0].facts, "path RAM -> Computer -> GPU")

# audit with pagination
a = kb.audit(limit=2)
check(len(a.entries) == 2 and a.next_before and
      a.entries[0].seq > a.entries[1].seq, "audit page, newest first")
entries = list(kb.audit_all(page_size=2))
check(len(entries) >= 6 and all(x.actor == "sdkw" for x in entries) and
      [x.seq for x in entries] == sorted((x.seq for x in entries),
                                         reverse=True),
      "audit_all: every entry once, newest first, actor is the token name")

# errors
expect_error(lambda: kb.get(999999), 404, "not_found", "get of a missing id")
e = expect_error(lambda: kb.add("Broken("), 400, "invalid_statement",
                 "add of a bad statement")
check(isinstance(e.detail, dict) and "column" in e.detail,
      "bad statement error names the column")
expect_error(lambda: kb.query("HasPart("), 400, "invalid_pattern",
             "bad pattern")
expect_error(lambda: kb.entity("NoSuchThing"), 404, "not_found",
             "missing entity")

# delete
d = kb.delete(m.fact.id)
check(d.id == m.fact.id and d.statement == "HasPart(Computer, RAM)",
      "delete returns the fact")
expect_error(lambda: kb.get(m.fact.id), 404, "not_found",
             "get after delete")
d = kb.delete_statement("IsA(Water, Molecule)")
check(d.statement == "IsA(Water, Molecule)", "delete by statement")

# auth
expect_error(lambda: Client(URL).stats(), 401, "unauthorized", "no token")
expect_error(lambda: Client(URL, token="wrong").stats(), 401, "unauthorized",
             "unknown token")
ro = Client(URL, token=READ_TOKEN)
check(ro.stats()["facts"] >= 1 and ro.query("IsA(?x, ?y)").facts,
      "read token reads")
expect_error(lambda: ro.add("IsA(Reader, Writer)"), 403, "forbidden",
             "read token cannot write")

# the asyncio client: concurrent calls, async iteration, the same errors
async def use_async():
    akb = AsyncClient(URL, token=TOKEN)
    results = await asyncio.gather(*(akb.add("IsA(Async%d, Test)" % i)
                                     for i in range(8)))
    n = 0
    async for _ in akb.query_all("IsA(?x, Test)", page_size=3):
        n += 1
    try:
        await akb.get(999999)
        missing = None
    except HakgalError as e:
        missing = e.code
    return all(r.created for r in results), n, missing

ok_all, n_async, code = asyncio.run(use_async())
check(ok_all and n_async == 8 and code == "not_found",
      "AsyncClient: 8 concurrent adds, async paging, not_found raised")

# retries, Retry-After, give-up, timeout (against the flaky server)
check(Client(FLAKY, token=TOKEN, max_retries=3).stats()["facts"] == 42,
      "503 then 429 are retried until success")
expect_error(lambda: Client(FLAKY, token=TOKEN, max_retries=2).get(1), 503,
             "busy", "503 after the last retry is raised with its code")
t0 = time.monotonic()
try:
    Client(FLAKY, token=TOKEN, timeout=0.5).get(2)
    check(False, "timeout raised")
except TransportError as e:
    check(e.code == "timeout" and e.status == 0 and
          time.monotonic() - t0 < 2.9, "timeout raises TransportError")
print("python SDK: all checks passed")
