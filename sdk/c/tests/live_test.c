/*
 * live_test.c — live test of libhakgal-client against a running hakgal
 * (driven by tests/e2e/test_sdk_c.py; environment in
 * tests/e2e/sdk_live_lib.py). Exits 1 on the first failed check; frees
 * everything, so that the sanitizer build proves the library leak-free.
 */
#include "hakgal_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(int cond, const char *what)
{
    if (!cond) {
        printf("FAIL: %s\n", what);
        exit(1);
    }
    printf("ok: %s\n", what);
}

static void must(hkc_err rc, const hkc_error *err, const char *what)
{
    if (rc != HKC_OK) {
        printf("FAIL: %s: %s (%d %s: %s)\n", what, hkc_strerror(rc),
               err->status, err->api_code, err->message);
        exit(1);
    }
}

static void expect(hkc_err rc, const hkc_error *err, hkc_err want_rc,
                   int status, const char *code, const char *what)
{
    char line[1024];
    snprintf(line, sizeof(line), "%s -> %d %s (got %s, %d %s: %s)", what,
             status, code, hkc_strerror(rc), err->status, err->api_code,
             err->message);
    check(rc == want_rc && err->code == want_rc && err->status == status &&
              strcmp(err->api_code, code) == 0 && err->message[0],
          line);
}

static const char *env(const char *k)
{
    const char *v = getenv(k);
    if (!v || !*v) {
        printf("FAIL: %s is not set\n", k);
        exit(1);
    }
    return v;
}

static hkc_client *open_client(const char *url, const char *token,
                               unsigned retries, long timeout_ms)
{
    hkc_options o = HKC_OPTIONS_INIT;
    o.token = token;
    o.max_retries = retries;
    o.timeout_ms = timeout_ms;
    hkc_client *c = NULL;
    hkc_error err;
    must(hkc_open(url, &o, &c, &err), &err, "hkc_open");
    return c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    const char *url = env("HAKGAL_URL"), *token = env("HAKGAL_TOKEN");
    const char *read_token = env("HAKGAL_READ_TOKEN");
    const char *flaky = env("HAKGAL_FLAKY_URL");
    hkc_client *kb = open_client(url, token, 3, 30000);
    hkc_error err;
    hkc_err rc;

    /* add, idempotent add, add by parts with metadata */
    hkc_fact f;
    bool created = false;
    must(hkc_add(kb, "HasPart(Computer, CPU)", NULL, &f, &created, &err), &err,
         "add");
    uint64_t cpu_id = f.id;
    check(created && f.id >= 1 && strcmp(f.predicate, "HasPart") == 0 &&
              f.n_args == 2 && strcmp(f.args[0], "Computer") == 0 &&
              strcmp(f.args[1], "CPU") == 0,
          "add creates a fact");
    hkc_fact_free(&f);
    must(hkc_add(kb, "HasPart(Computer, CPU)", NULL, NULL, &created, &err),
         &err, "add again");
    check(!created, "add is idempotent");
    const char *ram_args[] = {"Computer", "RAM"};
    const char *hw[] = {"hw"};
    hkc_meta meta = HKC_META_INIT;
    meta.has_confidence = true;
    meta.confidence = 0.9;
    meta.tags = hw;
    meta.n_tags = 1;
    meta.source = "manual";
    must(hkc_add_args(kb, "HasPart", ram_args, 2, &meta, &f, &created, &err),
         &err, "add_args");
    uint64_t ram_id = f.id;
    check(created && f.confidence == 0.9 && f.n_tags == 1 &&
              strcmp(f.tags[0], "hw") == 0 && f.source &&
              strcmp(f.source, "manual") == 0,
          "add by predicate and args with metadata");
    hkc_fact_free(&f);

    /* batch with one bad item */
    const char *three[] = {"IsA(Water, Molecule)", "HasPart(Water, Oxygen)",
                           "Broken("};
    hkc_batch_result br;
    must(hkc_batch(kb, three, 3, &br, &err), &err, "batch");
    check(br.count == 3 && br.created == 2 && br.failed == 1 &&
              br.items[2].err_code &&
              strcmp(br.items[2].err_code, "invalid_statement") == 0 &&
              br.items[0].status == 201 && br.items[0].id > 0,
          "batch reports the bad item and commits the others");
    hkc_batch_result_free(&br);
    char names[26][64];
    const char *many[26];
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof(names[i]), "HasPart(Computer, Part%02d)", i);
        many[i] = names[i];
    }
    many[25] = "IsA(Computer, Machine)";
    must(hkc_batch(kb, many, 26, &br, &err), &err, "batch of 26");
    check(br.created == 26, "batch of 26");
    hkc_batch_result_free(&br);

    /* escaping: '/', spaces, '%', '&', '?', ',' and non-ASCII in
     * statements, patterns and entity names */
    must(hkc_add(kb,
                 "Uses(TCP/IP stack, \"Gr\xc3\xb6\xc3\x9f"
                 "e & 100%, ok?\")",
                 NULL, &f, NULL, &err),
         &err, "add odd");
    check(f.n_args == 2 && strcmp(f.args[0], "TCP/IP stack") == 0 &&
              strcmp(f.args[1], "Gr\xc3\xb6\xc3\x9f"
                                "e & 100%, ok?") == 0,
          "quoted and non-ASCII arguments round-trip");
    hkc_fact_free(&f);
    hkc_page page;
    uint64_t odd_count = 0;
    must(hkc_entity(kb, "TCP/IP stack", 0, NULL, &odd_count, &page, &err), &err,
         "entity TCP/IP stack");
    check(odd_count == 1, "entity name with '/' and space is escaped");
    hkc_page_free(&page);
    must(hkc_entity(kb,
                    "Gr\xc3\xb6\xc3\x9f"
                    "e & 100%, ok?",
                    0, NULL, &odd_count, &page, &err),
         &err, "entity with reserved characters");
    check(odd_count == 1, "entity name with reserved characters is escaped");
    hkc_page_free(&page);
    must(hkc_query(kb,
                   "Uses(?x, \"Gr\xc3\xb6\xc3\x9f"
                   "e & 100%, ok?\")",
                   0, NULL, &page, &err),
         &err, "odd query");
    check(page.n == 1 &&
              strcmp(hkc_binding(&page.bindings[0], "x"), "TCP/IP stack") == 0,
          "patterns with reserved characters are escaped");
    hkc_page_free(&page);

    /* pattern query with cursors */
    must(hkc_query(kb, "HasPart(Computer, ?x)", 7, NULL, &page, &err), &err,
         "query");
    check(page.n == 7 && page.next_cursor &&
              hkc_binding(&page.bindings[0], "x") != NULL,
          "first page of 7 with a cursor and bindings");
    hkc_page_free(&page);
    hkc_iter *it;
    const hkc_fact *fp;
    uint64_t seen[64];
    size_t n_seen = 0;
    rc = hkc_iter_query(kb, "HasPart(Computer, ?x)", 7, &it, &err);
    while (rc == HKC_OK && (rc = hkc_iter_next_fact(it, &fp, &err)) == HKC_OK) {
        for (size_t i = 0; i < n_seen; i++)
            check(seen[i] != fp->id, "each fact once");
        if (n_seen < 64) seen[n_seen++] = fp->id;
    }
    hkc_iter_free(it);
    check(rc == HKC_DONE && n_seen == 27,
          "query iterator pages through all 27 facts once each");

    /* multi-pattern query with cursors */
    const hkc_row *row;
    size_t n_rows = 0;
    rc = hkc_iter_rows(kb, "HasPart(?c, ?p), IsA(?c, Machine)", 10, &it, &err);
    while (rc == HKC_OK && (rc = hkc_iter_next_row(it, &row, &err)) == HKC_OK) {
        const char *cv = hkc_binding(&row->bindings, "c");
        if (!cv || strcmp(cv, "Computer") != 0 || row->n_facts != 2)
            check(0, "row binds c to Computer with 2 facts");
        n_rows++;
    }
    hkc_iter_free(it);
    check(rc == HKC_DONE && n_rows == 27,
          "multi-pattern row iterator: 27 rows");

    /* get, update (PATCH, PUT), conflict */
    must(hkc_get(kb, cpu_id, &f, &err), &err, "get");
    check(strcmp(f.statement, "HasPart(Computer, CPU)") == 0, "get");
    hkc_fact_free(&f);
    const char *chip[] = {"chip"};
    hkc_meta m2 = HKC_META_INIT;
    m2.has_confidence = true;
    m2.confidence = 0.5;
    m2.tags = chip;
    m2.n_tags = 1;
    must(hkc_update(kb, cpu_id, NULL, &m2, &f, &err), &err, "patch");
    check(f.confidence == 0.5 && f.n_tags == 1 &&
              strcmp(f.statement, "HasPart(Computer, CPU)") == 0,
          "update metadata (PATCH)");
    hkc_fact_free(&f);
    must(hkc_update(kb, cpu_id, "HasPart(Computer, GPU)", NULL, &f, &err), &err,
         "put");
    check(f.id == cpu_id && strcmp(f.statement, "HasPart(Computer, GPU)") == 0,
          "replace statement (PUT)");
    hkc_fact_free(&f);
    rc = hkc_update(kb, cpu_id, "HasPart(Computer, RAM)", NULL, &f, &err);
    expect(rc, &err, HKC_ERR_API, 409, "conflict", "PUT onto another fact");
    char want[64];
    snprintf(want, sizeof(want), "\"existing_id\":%llu",
             (unsigned long long)ram_id);
    check(strstr(err.detail, want) != NULL, "conflict names the existing id");

    /* search, entity, neighbours, paths */
    hkc_hits hits;
    must(hkc_search(kb, "has part computer", 5, NULL, &hits, &err), &err,
         "search");
    check(hits.n > 0 && hits.n <= 5 && hits.scores[0] > 0 &&
              strcmp(hits.facts[0].predicate, "HasPart") == 0,
          "search");
    hkc_hits_free(&hits);
    uint64_t fact_count = 0;
    must(hkc_entity(kb, "Computer", 10, NULL, &fact_count, &page, &err), &err,
         "entity");
    check(fact_count == 28 && page.n == 10 && page.next_cursor, "entity page");
    hkc_page_free(&page);
    size_t n_ent = 0;
    rc = hkc_iter_entity(kb, "Computer", 10, &it, &err);
    while (rc == HKC_OK && (rc = hkc_iter_next_fact(it, &fp, &err)) == HKC_OK)
        n_ent++;
    hkc_iter_free(it);
    check(rc == HKC_DONE && n_ent == 28, "entity iterator: 28 facts");
    hkc_subgraph g;
    must(hkc_neighbours(kb, "Water", 0, &g, &err), &err, "neighbours");
    int oxygen = 0, molecule = 0;
    for (size_t i = 0; i < g.n_nodes; i++) {
        const char *l = g.nodes[i].label ? g.nodes[i].label : g.nodes[i].id;
        oxygen |=
            strcmp(l, "Oxygen") == 0 || strcmp(g.nodes[i].id, "Oxygen") == 0;
        molecule |= strcmp(l, "Molecule") == 0 ||
                    strcmp(g.nodes[i].id, "Molecule") == 0;
    }
    check(oxygen && molecule && g.n_edges > 0, "neighbours of Water");
    hkc_subgraph_free(&g);
    hkc_paths ps;
    must(hkc_find_paths(kb, "RAM", "GPU", 4, 0, &ps, &err), &err, "paths");
    check(ps.n >= 1 && strcmp(ps.paths[0].nodes[0], "RAM") == 0 &&
              strcmp(ps.paths[0].nodes[ps.paths[0].n_nodes - 1], "GPU") == 0 &&
              ps.paths[0].n_facts > 0,
          "path RAM -> Computer -> GPU");
    hkc_paths_free(&ps);

    /* audit with pagination */
    hkc_audit_page ap;
    must(hkc_audit(kb, 2, 0, &ap, &err), &err, "audit");
    check(ap.n == 2 && ap.next_before && ap.entries[0].seq > ap.entries[1].seq,
          "audit page, newest first");
    hkc_audit_page_free(&ap);
    const hkc_audit_entry *ae;
    uint64_t prev = 0;
    size_t n_audit = 0;
    rc = hkc_iter_audit(kb, 2, &it, &err);
    while (rc == HKC_OK &&
           (rc = hkc_iter_next_audit(it, &ae, &err)) == HKC_OK) {
        if (strcmp(ae->actor, "sdkw") != 0 || (prev && ae->seq >= prev))
            check(0, "audit entries newest first by sdkw");
        prev = ae->seq;
        n_audit++;
    }
    hkc_iter_free(it);
    check(rc == HKC_DONE && n_audit >= 6,
          "audit iterator: every entry once, newest first");

    /* errors */
    rc = hkc_get(kb, 999999, &f, &err);
    expect(rc, &err, HKC_ERR_API, 404, "not_found", "get of a missing id");
    rc = hkc_add(kb, "Broken(", NULL, NULL, NULL, &err);
    expect(rc, &err, HKC_ERR_API, 400, "invalid_statement",
           "add of a bad statement");
    check(err.column > 0 && strcmp(err.field, "statement") == 0,
          "bad statement error names the column and field");
    rc = hkc_query(kb, "HasPart(", 0, NULL, &page, &err);
    expect(rc, &err, HKC_ERR_API, 400, "invalid_pattern", "bad pattern");
    rc = hkc_entity(kb, "NoSuchThing", 0, NULL, NULL, &page, &err);
    expect(rc, &err, HKC_ERR_API, 404, "not_found", "missing entity");
    rc = hkc_get(kb, 0, &f, &err);
    check(rc == HKC_ERR_INVALID && err.status == 0, "id 0 refused locally");

    /* delete */
    must(hkc_delete(kb, ram_id, &f, &err), &err, "delete");
    check(f.id == ram_id && strcmp(f.statement, "HasPart(Computer, RAM)") == 0,
          "delete returns the fact");
    hkc_fact_free(&f);
    rc = hkc_get(kb, ram_id, &f, &err);
    expect(rc, &err, HKC_ERR_API, 404, "not_found", "get after delete");
    must(hkc_delete_statement(kb, "IsA(Water, Molecule)", &f, &err), &err,
         "delete statement");
    check(strcmp(f.statement, "IsA(Water, Molecule)") == 0,
          "delete by statement");
    hkc_fact_free(&f);

    /* auth */
    char *json = NULL;
    hkc_client *anon = open_client(url, NULL, 3, 30000);
    rc = hkc_stats(anon, &json, &err);
    expect(rc, &err, HKC_ERR_API, 401, "unauthorized", "no token");
    hkc_close(anon);
    hkc_client *wrong = open_client(url, "wrong", 3, 30000);
    rc = hkc_stats(wrong, &json, &err);
    expect(rc, &err, HKC_ERR_API, 401, "unauthorized", "unknown token");
    hkc_close(wrong);
    hkc_client *ro = open_client(url, read_token, 3, 30000);
    must(hkc_stats(ro, &json, &err), &err, "read stats");
    check(json && strstr(json, "\"facts\""), "read token reads stats");
    hkc_free(json);
    must(hkc_query(ro, "IsA(?x, ?y)", 0, NULL, &page, &err), &err,
         "read query");
    check(page.n > 0, "read token queries");
    hkc_page_free(&page);
    rc = hkc_add(ro, "IsA(Reader, Writer)", NULL, NULL, NULL, &err);
    expect(rc, &err, HKC_ERR_API, 403, "forbidden", "read token cannot write");
    hkc_close(ro);
    hkc_close(kb);

    /* retries, Retry-After, give-up, timeout (against the flaky server) */
    hkc_client *fl = open_client(flaky, token, 3, 30000);
    must(hkc_stats(fl, &json, &err), &err, "flaky stats");
    check(json && strstr(json, "42"), "503 then 429 are retried until success");
    hkc_free(json);
    hkc_close(fl);
    fl = open_client(flaky, token, 2, 30000);
    rc = hkc_get(fl, 1, &f, &err);
    expect(rc, &err, HKC_ERR_API, 503, "busy",
           "503 after the last retry is returned with its code");
    hkc_close(fl);
    fl = open_client(flaky, token, 3, 500);
    double t0 = now_s();
    rc = hkc_get(fl, 2, &f, &err);
    expect(rc, &err, HKC_ERR_TIMEOUT, 0, "timeout", "timeout");
    check(now_s() - t0 < 2.9, "timeout is prompt");
    hkc_close(fl);
    printf("c SDK: all checks passed\n");
    return 0;
}
