package hakgal.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Live test of the Java SDK against a running hakgal (driven by
 * tests/e2e/test_sdk_java.py; environment in tests/e2e/sdk_live_lib.py).
 * Exits non-zero on the first failed check.
 */
public final class LiveTest {
  private LiveTest() {}

  interface Call {
    Object run();
  }

  static void check(boolean cond, String what) {
    if (!cond) {
      System.out.println("FAIL: " + what);
      System.exit(1);
    }
    System.out.println("ok: " + what);
  }

  static HakgalException expectError(Call c, int status, String code, String what) {
    try {
      c.run();
    } catch (HakgalException e) {
      check(
          e.status() == status && e.code().equals(code) && !e.getMessage().isEmpty(),
          what + " -> " + status + " " + code + " (got " + e + ")");
      return e;
    }
    check(false, what + " raised no error");
    return null;
  }

  static String env(String k) {
    String v = System.getenv(k);
    check(v != null && !v.isEmpty(), k + " is set");
    return v;
  }

  static <T> List<T> collect(Iterable<T> it) {
    List<T> out = new ArrayList<>();
    for (T x : it) out.add(x);
    return out;
  }

  public static void main(String[] argv) {
    String url = env("HAKGAL_URL");
    String token = env("HAKGAL_TOKEN");
    String readToken = env("HAKGAL_READ_TOKEN");
    String flaky = env("HAKGAL_FLAKY_URL");
    HakgalClient kb = HakgalClient.builder(url).token(token).build();

    // add, idempotent add, add by parts with metadata
    AddResult r = kb.add("HasPart(Computer, CPU)");
    check(
        r.created()
            && r.fact().id() >= 1
            && r.fact().predicate().equals("HasPart")
            && r.fact().args().equals(List.of("Computer", "CPU")),
        "add creates a fact");
    AddResult again = kb.add("HasPart(Computer, CPU)");
    check(!again.created() && again.fact().id() == r.fact().id(), "add is idempotent");
    AddResult m =
        kb.add(
            NewFact.of("HasPart", List.of("Computer", "RAM"))
                .withConfidence(0.9)
                .withTags(List.of("hw"))
                .withSource("manual"));
    check(
        m.created()
            && m.fact().confidence() == 0.9
            && m.fact().tags().equals(List.of("hw"))
            && "manual".equals(m.fact().source()),
        "add by predicate and args with metadata");

    // batch with one bad item
    BatchResult b =
        kb.batch(
            List.of("IsA(Water, Molecule)", NewFact.of("HasPart(Water, Oxygen)"), "Broken("));
    check(
        b.count() == 3
            && b.created() == 2
            && b.failed() == 1
            && b.results().get(2).error() != null
            && b.results().get(2).error().code().equals("invalid_statement"),
        "batch reports the bad item and commits the others");
    List<String> items = new ArrayList<>();
    for (int i = 0; i < 25; i++) items.add(String.format("HasPart(Computer, Part%02d)", i));
    items.add("IsA(Computer, Machine)");
    check(kb.batch(items).created() == 26, "batch of 26");

    // escaping: '/', spaces, '%', '&', '?', ',' and non-ASCII in statements,
    // patterns and entity names
    AddResult odd = kb.add("Uses(TCP/IP stack, \"Größe & 100%, ok?\")");
    check(
        odd.fact().args().equals(List.of("TCP/IP stack", "Größe & 100%, ok?")),
        "quoted and non-ASCII arguments round-trip");
    check(
        kb.entity("TCP/IP stack", null, null).factCount() == 1
            && kb.entity("Größe & 100%, ok?", null, null).factCount() == 1,
        "entity names with reserved characters are escaped");
    QueryPage oddPage = kb.query("Uses(?x, \"Größe & 100%, ok?\")", null, null);
    check(
        oddPage.facts().size() == 1 && "TCP/IP stack".equals(oddPage.bindings().get(0).get("x")),
        "patterns with reserved characters are escaped");

    // pattern query with cursors
    QueryPage page = kb.query("HasPart(Computer, ?x)", 7, null);
    check(
        page.facts().size() == 7
            && page.nextCursor() != null
            && page.bindings().size() == 7
            && page.bindings().get(0).containsKey("x"),
        "first page of 7 with a cursor and bindings");
    Set<Long> ids = new HashSet<>();
    List<Fact> all = collect(kb.queryAll("HasPart(Computer, ?x)", 7));
    for (Fact f : all) ids.add(f.id());
    check(all.size() == 27 && ids.size() == 27, "queryAll pages through all 27 facts once each");

    // multi-pattern query with cursors
    List<RowPage.Row> rows = collect(kb.queryRowsAll("HasPart(?c, ?p), IsA(?c, Machine)", 10));
    check(
        rows.size() == 27
            && rows.stream()
                .allMatch(x -> "Computer".equals(x.binding("c")) && x.facts().size() == 2),
        "multi-pattern queryRowsAll: 27 rows of 2 facts");

    // get, update (PATCH, PUT), conflict
    long id = r.fact().id();
    check(kb.get(id).statement().equals("HasPart(Computer, CPU)"), "get");
    Fact f =
        kb.update(
            id, new NewFact(null, null, null, 0.5, null, List.of("chip"), null));
    check(
        f.confidence() == 0.5
            && f.tags().equals(List.of("chip"))
            && f.statement().equals("HasPart(Computer, CPU)"),
        "update metadata (PATCH)");
    f = kb.update(id, NewFact.of("HasPart(Computer, GPU)"));
    check(f.id() == id && f.statement().equals("HasPart(Computer, GPU)"), "replace statement (PUT)");
    HakgalException e =
        expectError(
            () -> kb.update(id, NewFact.of("HasPart(Computer, RAM)")),
            409,
            "conflict",
            "PUT onto another fact");
    check(
        e.detail() != null && e.detail().path("existing_id").asLong() == m.fact().id(),
        "conflict names the existing id");

    // search, entity, neighbours, paths
    List<SearchHit> hits = kb.search("has part computer", 5, null);
    check(
        !hits.isEmpty()
            && hits.size() <= 5
            && hits.get(0).score() > 0
            && hits.stream().allMatch(h -> h.fact().predicate().equals("HasPart")),
        "search");
    EntityPage ent = kb.entity("Computer", 10, null);
    check(
        ent.entity().equals("Computer")
            && ent.factCount() == 28
            && ent.facts().size() == 10
            && ent.nextCursor() != null,
        "entity page");
    check(collect(kb.entityFacts("Computer", 10)).size() == 28, "entityFacts pages through 28 facts");
    Subgraph g = kb.neighbours("Water", null);
    Set<String> labels = new HashSet<>();
    for (Subgraph.Node n : g.nodes()) {
      labels.add(n.id());
      if (n.label() != null) labels.add(n.label());
    }
    check(
        labels.contains("Oxygen") && labels.contains("Molecule") && !g.edges().isEmpty(),
        "neighbours of Water");
    List<Path> ps = kb.paths("RAM", "GPU", 4, null);
    check(
        !ps.isEmpty()
            && ps.get(0).nodes().get(0).equals("RAM")
            && ps.get(0).nodes().get(ps.get(0).nodes().size() - 1).equals("GPU")
            && !ps.get(0).facts().isEmpty(),
        "path RAM -> Computer -> GPU");

    // audit with pagination
    AuditPage a = kb.audit(2, null);
    check(
        a.entries().size() == 2
            && a.nextBefore() != null
            && a.entries().get(0).seq() > a.entries().get(1).seq(),
        "audit page, newest first");
    List<AuditEntry> entries = collect(kb.auditAll(2));
    boolean ordered = true;
    for (int i = 1; i < entries.size(); i++)
      ordered &= entries.get(i - 1).seq() > entries.get(i).seq();
    check(
        entries.size() >= 6 && ordered && entries.stream().allMatch(x -> x.actor().equals("sdkw")),
        "auditAll: every entry once, newest first, actor is the token name");

    // errors
    expectError(() -> kb.get(999999), 404, "not_found", "get of a missing id");
    e = expectError(() -> kb.add("Broken("), 400, "invalid_statement", "add of a bad statement");
    check(e.detail() != null && e.detail().has("column"), "bad statement error names the column");
    expectError(() -> kb.query("HasPart(", null, null), 400, "invalid_pattern", "bad pattern");
    expectError(() -> kb.entity("NoSuchThing", null, null), 404, "not_found", "missing entity");

    // delete
    Fact d = kb.delete(m.fact().id());
    check(
        d.id() == m.fact().id() && d.statement().equals("HasPart(Computer, RAM)"),
        "delete returns the fact");
    expectError(() -> kb.get(m.fact().id()), 404, "not_found", "get after delete");
    check(
        kb.deleteStatement("IsA(Water, Molecule)").statement().equals("IsA(Water, Molecule)"),
        "delete by statement");

    // auth
    expectError(
        () -> HakgalClient.builder(url).build().stats(), 401, "unauthorized", "no token");
    expectError(
        () -> HakgalClient.builder(url).token("wrong").build().stats(),
        401,
        "unauthorized",
        "unknown token");
    HakgalClient ro = HakgalClient.builder(url).token(readToken).build();
    check(
        ro.stats().path("facts").asLong() >= 1 && !ro.query("IsA(?x, ?y)", null, null).facts().isEmpty(),
        "read token reads");
    expectError(() -> ro.add("IsA(Reader, Writer)"), 403, "forbidden", "read token cannot write");

    // retries, Retry-After, give-up, timeout (against the flaky server)
    check(
        HakgalClient.builder(flaky).token(token).build().stats().path("facts").asLong() == 42,
        "503 then 429 are retried until success");
    expectError(
        () -> HakgalClient.builder(flaky).token(token).maxRetries(2).build().get(1),
        503,
        "busy",
        "503 after the last retry is thrown with its code");
    long t0 = System.nanoTime();
    expectError(
        () ->
            HakgalClient.builder(flaky)
                .token(token)
                .timeout(Duration.ofMillis(500))
                .build()
                .get(2),
        0,
        "timeout",
        "timeout is a HakgalException with status 0");
    check((System.nanoTime() - t0) / 1_000_000 < 2900, "timeout is prompt");
    System.out.println("java SDK: all checks passed");
  }
}
