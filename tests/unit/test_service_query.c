/*
 * test_service_query.c — the service's read operations, called directly on
 * a scratch KB of random facts: every query (scan and pattern, with and
 * without ids only) equals a brute-force filter of all facts; paging with
 * cursors of any page size resumes exactly; bindings are the values of the
 * matching slots; a row function's error, a bad cursor and the timeout stop
 * a query as documented; names, entity counts, name totals, the top names,
 * search, stats and growth agree with counts taken from the facts
 * themselves.
 */
#include "core/clock.h"
#include "test_store_util.h"

#include "service/service.h"

#define N_FACTS 600 /* random facts in the KB */
#define N_PREDS 5   /* P0..P4 */
#define N_ENTS 20   /* E0..E19 */

static char *g_dir;
static hk_store *g_s;
static hk_fact_id g_last; /* highest id */

/* ==== Fixture: a KB of random facts ==== */

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("svcq");
    g_s = tu_open(g_dir);
    hk_txn *t = tu_begin(g_s, true);
    uint64_t seed = 42;
    char pred[16], a[3][16];
    for (int i = 0; i < N_FACTS; i++) {
        snprintf(pred, sizeof pred, "P%d", (int)(tu_rand(&seed) % N_PREDS));
        uint32_t arity = 1 + (uint32_t)(tu_rand(&seed) % 3);
        hk_statement st;
        memset(&st, 0, sizeof st);
        st.predicate = pred;
        for (uint32_t k = 0; k < arity; k++) {
            snprintf(a[k], sizeof a[k], "E%d", (int)(tu_rand(&seed) % N_ENTS));
            st.args[k] = a[k];
        }
        st.n_args = arity;
        bool created;
        hk_fact_id id = tu_add(t, st, &created);
        if (id > g_last) g_last = id;
    }
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hk_store_close(g_s);
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

/* ==== Helpers ==== */

/* Rows collected by a query. */
typedef struct rows {
    hk_fact_id ids[N_FACTS + 16]; /* in the order delivered */
    size_t n;                     /* rows */
    bool binding_ok;              /* every binding equals its slot */
    const hk_pattern *pattern;    /* for the binding check */
    int fail_after;               /* >0: the row function fails then */
} rows;

/* The value of variable name in fact f under pattern p (first slot). */
static const char *slot_value(const hk_pattern *p, const hk_fact *f,
                              const char *name)
{
    if (p->predicate.kind == HK_TERM_VAR && !strcmp(p->predicate.text, name))
        return f->st.predicate;
    for (uint32_t i = 0; i < p->n_args; i++)
        if (p->args[i].kind == HK_TERM_VAR && !strcmp(p->args[i].text, name))
            return f->st.args[i];
    return NULL;
}

static hk_err collect(void *ud, const hk_svc_row *row, hk_error *err)
{
    rows *r = ud;
    if (r->fail_after > 0 && (int)r->n == r->fail_after)
        return hk_error_set(err, HK_ERR_IO, "stop here");
    assert_true(r->n < N_FACTS + 16);
    r->ids[r->n++] = row->id;
    if (row->fact != NULL) assert_int_equal(row->fact->id, row->id);
    if (r->pattern != NULL && row->fact != NULL) {
        for (size_t i = 0; i < row->n_vars; i++) {
            const char *want = slot_value(r->pattern, row->fact, row->vars[i]);
            if (want == NULL || row->values[i] == NULL ||
                strcmp(want, row->values[i]) != 0)
                r->binding_ok = false;
        }
    }
    return HK_OK;
}

static int cmp_id(const void *a, const void *b)
{
    hk_fact_id x = *(const hk_fact_id *)a, y = *(const hk_fact_id *)b;
    return x < y ? -1 : x > y;
}

/* Runs req (row function set here) to the end; asserts HK_OK. */
static void run(hk_txn *t, hk_svc_query_req *req, rows *r,
                hk_svc_query_res *res)
{
    req->row = collect;
    req->row_ud = r;
    hk_error err;
    hk_err rc = hk_svc_query(t, req, res, &err);
    if (rc) fprintf(stderr, "query: %s\n", err.message);
    assert_int_equal(rc, HK_OK);
    assert_int_equal(res->count, r->n);
}

/* Does fact f match the scan? (the oracle's reading of hk_scan) */
static bool scan_match(const hk_scan *s, const hk_fact *f)
{
    if (s->predicate && strcmp(s->predicate, f->st.predicate) != 0)
        return false;
    if (s->arity && f->st.n_args != s->arity) return false;
    if (s->entity) {
        bool hit = false;
        for (uint32_t i = 0; i < f->st.n_args; i++)
            if ((s->position < 0 || (int)i == s->position) &&
                !strcmp(f->st.args[i], s->entity))
                hit = true;
        if (!hit) return false;
    }
    return true;
}

/* Does fact f match pattern p? (constants equal, variables consistent) */
static bool pattern_match(const hk_pattern *p, const hk_fact *f)
{
    if (p->n_args != f->st.n_args) return false;
    const char *names[HK_MAX_ARGS + 1], *vals[HK_MAX_ARGS + 1];
    size_t n = 0;
    for (uint32_t i = 0; i <= p->n_args; i++) {
        const hk_term *tm = i == 0 ? &p->predicate : &p->args[i - 1];
        const char *v = i == 0 ? f->st.predicate : f->st.args[i - 1];
        if (tm->kind == HK_TERM_CONST && strcmp(tm->text, v) != 0) return false;
        if (tm->kind != HK_TERM_VAR) continue;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(names[k], tm->text) && strcmp(vals[k], v) != 0)
                return false;
        names[n] = tm->text;
        vals[n++] = v;
    }
    return true;
}

/* Oracle: ids of every fact (by id, 1..g_last) accepted by match. */
static size_t oracle(hk_txn *t, bool (*match)(const void *, const hk_fact *),
                     const void *arg, hk_fact_id *out)
{
    hk_fact f;
    hk_fact_init(&f);
    size_t n = 0;
    for (hk_fact_id id = 1; id <= g_last; id++) {
        hk_error err;
        hk_err rc = hk_store_get(t, id, &f, &err);
        if (rc == HK_ERR_NOT_FOUND) continue;
        assert_int_equal(rc, HK_OK);
        if (match(arg, &f)) out[n++] = id;
    }
    hk_fact_release(&f);
    return n;
}

static bool scan_match_v(const void *a, const hk_fact *f)
{
    return scan_match(a, f);
}

static bool pattern_match_v(const void *a, const hk_fact *f)
{
    return pattern_match(a, f);
}

static void assert_same_set(hk_fact_id *got, size_t n_got, hk_fact_id *want,
                            size_t n_want)
{
    qsort(got, n_got, sizeof *got, cmp_id);
    qsort(want, n_want, sizeof *want, cmp_id);
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_got; i++)
        assert_int_equal(got[i], want[i]);
}

/* ==== Queries against the oracle ==== */

static void test_scan_oracle(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static hk_fact_id want[N_FACTS + 16];
    static rows r;
    char name[16];
    /* every predicate, every entity at any / each position, arities */
    for (int kind = 0; kind < 4; kind++) {
        int n_cases = kind == 0 ? N_PREDS : kind == 3 ? 3 : N_ENTS;
        for (int i = 0; i < n_cases; i++) {
            for (int pos = -1; pos < (kind == 2 ? 3 : 0); pos++) {
                hk_svc_query_req req;
                memset(&req, 0, sizeof req);
                req.scan = (hk_scan)HK_SCAN_INIT;
                if (kind == 0) {
                    snprintf(name, sizeof name, "P%d", i);
                    req.scan.predicate = name;
                } else if (kind == 3) {
                    req.scan.arity = (uint32_t)i + 1;
                } else {
                    snprintf(name, sizeof name, "E%d", i);
                    req.scan.entity = name;
                    req.scan.position = pos;
                }
                memset(&r, 0, sizeof r);
                hk_svc_query_res res;
                run(t, &req, &r, &res);
                assert_int_equal(res.next_cursor.len, 0); /* no limit */
                hk_svc_query_res_free(&res);
                size_t nw = oracle(t, scan_match_v, &req.scan, want);
                assert_same_set(r.ids, r.n, want, nw);
            }
        }
    }
    /* the whole KB, oldest and newest first, in id order */
    for (int newest = 0; newest < 2; newest++) {
        hk_svc_query_req req;
        memset(&req, 0, sizeof req);
        req.scan = (hk_scan)HK_SCAN_INIT;
        req.scan.newest_first = newest;
        memset(&r, 0, sizeof r);
        hk_svc_query_res res;
        run(t, &req, &r, &res);
        hk_svc_query_res_free(&res);
        assert_true(r.n > 0);
        for (size_t i = 1; i < r.n; i++)
            assert_true(newest ? r.ids[i] < r.ids[i - 1]
                               : r.ids[i] > r.ids[i - 1]);
    }
    hk_txn_abort(t);
}

static void test_pattern_oracle(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        "P1(?x)",         "P2(?x, E3)",  "?p(E2, ?y)", "_(?x, ?x)",
        "?p(?a, ?b, ?a)", "P0(_, _, _)", "?p(E1)",     "P3(E4, ?y)",
        "?p(?x, E5, ?z)", "Nope(?x)",    "P4(?x, ?y)", "_(E7, _)"};
    hk_txn *t = tu_begin(g_s, false);
    static hk_fact_id want[N_FACTS + 16];
    static rows r;
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
        hk_pattern p;
        hk_error err;
        assert_int_equal(
            hk_pattern_parse(patterns[i], strlen(patterns[i]), &p, &err),
            HK_OK);
        hk_svc_query_req req;
        memset(&req, 0, sizeof req);
        req.pattern = &p;
        memset(&r, 0, sizeof r);
        r.pattern = &p;
        r.binding_ok = true;
        hk_svc_query_res res;
        run(t, &req, &r, &res);
        hk_svc_query_res_free(&res);
        assert_true(r.binding_ok);
        size_t nw = oracle(t, pattern_match_v, &p, want);
        assert_same_set(r.ids, r.n, want, nw);
        hk_pattern_release(&p);
    }
    hk_txn_abort(t);
}

static void test_pattern_vars(void **state)
{
    (void)state;
    hk_pattern p;
    hk_error err;
    const char *text = "?p(?a, _, ?b, ?a, X, ?p)";
    assert_int_equal(hk_pattern_parse(text, strlen(text), &p, &err), HK_OK);
    const char *vars[HK_MAX_ARGS + 1];
    assert_int_equal(hk_svc_pattern_vars(&p, vars), 3);
    assert_string_equal(vars[0], "p");
    assert_string_equal(vars[1], "a");
    assert_string_equal(vars[2], "b");
    hk_pattern_release(&p);
}

static void test_ids_only(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static rows full, ids;
    hk_svc_query_req req;
    memset(&req, 0, sizeof req);
    req.scan = (hk_scan)HK_SCAN_INIT;
    req.scan.predicate = "P3";
    memset(&full, 0, sizeof full);
    hk_svc_query_res res;
    run(t, &req, &full, &res);
    hk_svc_query_res_free(&res);
    req.ids_only = true;
    memset(&ids, 0, sizeof ids);
    run(t, &req, &ids, &res);
    hk_svc_query_res_free(&res);
    assert_int_equal(full.n, ids.n);
    assert_memory_equal(full.ids, ids.ids, full.n * sizeof(hk_fact_id));
    hk_txn_abort(t);
}

/* ==== Paging ==== */

/* Pages through req with page size `page`, checking that the pages
 * concatenated equal the unpaged result and that the cursor appears
 * exactly on full pages. */
static void page_through(hk_txn *t, hk_svc_query_req *req, size_t page)
{
    static rows all, pg;
    hk_svc_query_res res;
    req->limit = 0;
    req->cursor = NULL;
    memset(&all, 0, sizeof all);
    run(t, req, &all, &res);
    hk_svc_query_res_free(&res);
    size_t got = 0, pages = 0;
    char cursor[HK_MAX_CURSOR_BYTES + 1] = "";
    for (;;) {
        assert_true(pages++ <= all.n + 1); /* bounded */
        req->limit = page;
        req->cursor = cursor[0] ? cursor : NULL;
        memset(&pg, 0, sizeof pg);
        run(t, req, &pg, &res);
        assert_true(pg.n <= page);
        for (size_t i = 0; i < pg.n; i++)
            assert_int_equal(pg.ids[i], all.ids[got + i]);
        got += pg.n;
        bool more = res.next_cursor.len > 0;
        if (more) assert_int_equal(pg.n, page); /* only full pages */
        if (pg.n < page) assert_false(more);
        if (more) {
            assert_true(res.next_cursor.len <= HK_MAX_CURSOR_BYTES);
            memcpy(cursor, res.next_cursor.data, res.next_cursor.len + 1);
        }
        hk_svc_query_res_free(&res);
        if (!more) break;
    }
    assert_int_equal(got, all.n);
}

static void test_cursor_paging(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static const size_t sizes[] = {1, 2, 7, 50, 1000};
    hk_pattern p;
    hk_error err;
    const char *text = "?p(E2, ?y)";
    assert_int_equal(hk_pattern_parse(text, strlen(text), &p, &err), HK_OK);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        hk_svc_query_req req;
        memset(&req, 0, sizeof req);
        req.scan = (hk_scan)HK_SCAN_INIT;
        page_through(t, &req, sizes[i]); /* whole KB */
        req.scan.newest_first = true;
        page_through(t, &req, sizes[i]);
        req.scan = (hk_scan)HK_SCAN_INIT;
        req.scan.predicate = "P1";
        page_through(t, &req, sizes[i]);
        req.scan = (hk_scan)HK_SCAN_INIT;
        req.scan.entity = "E4";
        page_through(t, &req, sizes[i]);
        memset(&req, 0, sizeof req);
        req.pattern = &p;
        page_through(t, &req, sizes[i]);
    }
    hk_pattern_release(&p);
    hk_txn_abort(t);
}

/* A page that ends exactly at the last row: any cursor it hands out leads
 * to an empty page without one. */
static void test_cursor_exact_end(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static rows r;
    for (int kind = 0; kind < 3; kind++) {
        hk_svc_query_req req;
        memset(&req, 0, sizeof req);
        req.scan = (hk_scan)HK_SCAN_INIT;
        if (kind == 0) req.scan.predicate = "P2";
        if (kind == 1) req.scan.entity = "E9";
        hk_svc_query_res res;
        memset(&r, 0, sizeof r);
        run(t, &req, &r, &res);
        hk_svc_query_res_free(&res);
        size_t total = r.n;
        assert_true(total > 0);
        req.limit = total;
        memset(&r, 0, sizeof r);
        run(t, &req, &r, &res);
        assert_int_equal(r.n, total);
        if (res.next_cursor.len > 0) {
            char cursor[HK_MAX_CURSOR_BYTES + 1];
            memcpy(cursor, res.next_cursor.data, res.next_cursor.len + 1);
            hk_svc_query_res_free(&res);
            req.cursor = cursor;
            memset(&r, 0, sizeof r);
            run(t, &req, &r, &res);
            assert_int_equal(r.n, 0);
            assert_int_equal(res.next_cursor.len, 0);
        }
        hk_svc_query_res_free(&res);
        /* one row short of the end: a cursor, then exactly the last row */
        req.cursor = NULL;
        req.limit = total - 1;
        if (req.limit == 0) continue;
        memset(&r, 0, sizeof r);
        run(t, &req, &r, &res);
        assert_true(res.next_cursor.len > 0);
        char cursor[HK_MAX_CURSOR_BYTES + 1];
        memcpy(cursor, res.next_cursor.data, res.next_cursor.len + 1);
        hk_svc_query_res_free(&res);
        req.cursor = cursor;
        memset(&r, 0, sizeof r);
        run(t, &req, &r, &res);
        assert_int_equal(r.n, 1);
        assert_int_equal(res.next_cursor.len, 0);
        hk_svc_query_res_free(&res);
        /* no_cursor: the same full page, without a cursor */
        req.cursor = NULL;
        req.no_cursor = true;
        memset(&r, 0, sizeof r);
        run(t, &req, &r, &res);
        assert_int_equal(r.n, total - 1);
        assert_int_equal(res.next_cursor.len, 0);
        hk_svc_query_res_free(&res);
    }
    hk_txn_abort(t);
}

/* ==== Stops ==== */

static void test_row_error_and_bad_cursor(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static rows r;
    hk_svc_query_req req;
    memset(&req, 0, sizeof req);
    req.scan = (hk_scan)HK_SCAN_INIT;
    req.row = collect;
    req.row_ud = &r;
    memset(&r, 0, sizeof r);
    r.fail_after = 3;
    hk_svc_query_res res;
    hk_error err;
    assert_int_equal(hk_svc_query(t, &req, &res, &err), HK_ERR_IO);
    assert_string_equal(err.message, "stop here");
    assert_int_equal(res.count, 3);
    assert_int_equal(res.next_cursor.len, 0);
    hk_svc_query_res_free(&res);

    memset(&r, 0, sizeof r);
    req.cursor = "not-a-cursor";
    assert_int_equal(hk_svc_query(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "cursor");
    assert_int_equal(r.n, 0);
    hk_svc_query_res_free(&res);
    hk_txn_abort(t);
}

static void test_timeout(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    static rows r;
    hk_svc_query_req req;
    memset(&req, 0, sizeof req);
    req.scan = (hk_scan)HK_SCAN_INIT;
    req.timeout_us = 1; /* expires before the first look at the clock */
    req.row = collect;
    req.row_ud = &r;
    memset(&r, 0, sizeof r);
    hk_svc_query_res res;
    hk_error err;
    assert_int_equal(hk_svc_query(t, &req, &res, &err), HK_ERR_LIMIT);
    assert_true(res.timed_out);
    assert_int_equal(res.count, 255);
    hk_svc_query_res_free(&res);
    /* a generous limit does not stop it */
    req.timeout_us = 60 * 1000000LL;
    memset(&r, 0, sizeof r);
    assert_int_equal(hk_svc_query(t, &req, &res, &err), HK_OK);
    assert_false(res.timed_out);
    assert_int_equal(res.count, r.n);
    assert_true(r.n > 255);
    hk_svc_query_res_free(&res);
    hk_txn_abort(t);
}

/* ==== Names, entity counts, stats ==== */

/* Facts (oracle) of predicate / mentioning entity name. */
static uint64_t oracle_count(hk_txn *t, bool pred, const char *name)
{
    static hk_fact_id want[N_FACTS + 16];
    hk_scan s = HK_SCAN_INIT;
    if (pred)
        s.predicate = name;
    else
        s.entity = name;
    return oracle(t, scan_match_v, &s, want);
}

static void test_names_paging(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    for (int kind = 0; kind < 2; kind++) {
        for (size_t page = 1; page <= 7; page += 3) {
            hk_svc_names_req req = {kind ? HK_SVC_ENTITIES : HK_SVC_PREDICATES,
                                    NULL, page, 1};
            char after[64] = "", prev[64] = "";
            size_t seen = 0;
            for (int guard = 0; guard < 100; guard++) {
                req.after = after[0] ? after : NULL;
                hk_svc_names_res res;
                hk_error err;
                assert_int_equal(hk_svc_names(t, &req, &res, &err), HK_OK);
                assert_true(res.n <= page);
                for (size_t i = 0; i < res.n; i++) {
                    assert_true(strcmp(prev, res.v[i].name) < 0); /* order */
                    snprintf(prev, sizeof prev, "%s", res.v[i].name);
                    assert_int_equal(res.v[i].count,
                                     oracle_count(t, !kind, res.v[i].name));
                }
                seen += res.n;
                bool more = res.next_after != NULL;
                assert_int_equal(more, res.n == page);
                if (more) snprintf(after, sizeof after, "%s", res.next_after);
                hk_svc_names_res_free(&res);
                if (!more) break;
            }
            assert_int_equal(seen, kind ? N_ENTS : N_PREDS);
        }
    }
    /* min_count filters entities */
    hk_svc_names_req req = {HK_SVC_ENTITIES, NULL, 100, 1000000};
    hk_svc_names_res res;
    hk_error err;
    assert_int_equal(hk_svc_names(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n, 0);
    assert_null(res.next_after);
    hk_svc_names_res_free(&res);
    hk_txn_abort(t);
}

static void test_name_json(void **state)
{
    (void)state;
    hk_name_count nc = {"Has \"Part\"", 12, 1, 3};
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_name_count_write_json(&nc, true, &b), HK_OK);
    assert_string_equal(b.data, "{\"name\":\"Has \\\"Part\\\"\",\"count\":12,"
                                "\"min_arity\":1,\"max_arity\":3}");
    hk_buf_reset(&b);
    assert_int_equal(hk_svc_name_count_write_json(&nc, false, &b), HK_OK);
    assert_string_equal(b.data, "{\"name\":\"Has \\\"Part\\\"\",\"count\":12}");
    hk_buf_free(&b);
}

static void test_entity_count(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    char name[16];
    for (int i = 0; i < N_ENTS; i++) {
        snprintf(name, sizeof name, "E%d", i);
        uint64_t n = 0;
        hk_error err;
        assert_int_equal(hk_svc_entity_count(t, name, &n, &err), HK_OK);
        assert_int_equal(n, oracle_count(t, false, name));
    }
    uint64_t n = 7;
    hk_error err;
    assert_int_equal(hk_svc_entity_count(t, "Nobody", &n, &err),
                     HK_ERR_NOT_FOUND);
    assert_int_equal(n, 0);
    assert_string_equal(err.field, "name");
    hk_txn_abort(t);
}

static void test_name_total(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    char name[16];
    for (int kind = 0; kind < 2; kind++)
        for (int i = 0; i < N_ENTS; i++) {
            snprintf(name, sizeof name, kind ? "E%d" : "P%d", i);
            uint64_t n = 7;
            hk_error err;
            assert_int_equal(
                hk_svc_name_total(t, kind ? HK_SVC_ENTITIES : HK_SVC_PREDICATES,
                                  name, &n, &err),
                HK_OK);
            assert_int_equal(n, oracle_count(t, !kind, name));
        }
    hk_txn_abort(t); /* P5.. and unknown names answer 0, no error */
}

/* Progress calls seen by test_top_names. */
static void count_progress(void *ud, double done, double total, const char *msg)
{
    (void)done;
    (void)total;
    assert_non_null(msg);
    (*(int *)ud)++;
}

static void test_top_names(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    char name[16];
    for (int kind = 0; kind < 2; kind++) {
        int n_names = kind ? N_ENTS : N_PREDS;
        /* oracle: every name's count, from a scan of the facts */
        uint64_t counts[N_ENTS];
        for (int i = 0; i < n_names; i++) {
            snprintf(name, sizeof name, kind ? "E%d" : "P%d", i);
            counts[i] = oracle_count(t, !kind, name);
        }
        for (size_t top = 1; top <= (size_t)n_names + 2; top += 2) {
            for (uint64_t min = 0; min <= 200; min += 40) {
                int calls = 0;
                hk_svc_top_names_req req = {kind ? HK_SVC_ENTITIES
                                                 : HK_SVC_PREDICATES,
                                            min, top, count_progress, &calls};
                hk_svc_top_names_res res;
                hk_error err;
                assert_int_equal(hk_svc_top_names(t, &req, &res, &err), HK_OK);
                uint64_t matching = 0;
                for (int i = 0; i < n_names; i++)
                    matching += counts[i] >= min;
                assert_int_equal(res.matching, matching);
                assert_int_equal(res.n, matching < top ? matching : top);
                for (size_t k = 0; k < res.n; k++) {
                    int i = atoi(res.v[k].name + 1);
                    assert_int_equal(res.v[k].count, counts[i]);
                    if (k > 0) {
                        assert_true(
                            res.v[k - 1].count > res.v[k].count ||
                            (res.v[k - 1].count == res.v[k].count &&
                             strcmp(res.v[k - 1].name, res.v[k].name) < 0));
                    }
                    /* nothing left out counts more than the last kept */
                    size_t better = 0;
                    for (int j = 0; j < n_names; j++)
                        better += counts[j] >= min && counts[j] > counts[i];
                    assert_true(better <= k);
                }
                assert_int_equal(calls, 0); /* one page: no progress */
                hk_svc_top_names_res_free(&res);
                hk_svc_top_names_res_free(&res); /* safe twice */
            }
        }
    }
    /* top out of range */
    hk_svc_top_names_req req = {HK_SVC_ENTITIES, 0, 0, NULL, NULL};
    hk_svc_top_names_res res;
    hk_error err;
    assert_int_equal(hk_svc_top_names(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "top");
    hk_svc_top_names_res_free(&res);
    req.top = HK_SVC_TOP_NAMES_MAX + 1;
    assert_int_equal(hk_svc_top_names(t, &req, &res, &err), HK_ERR_INVALID);
    hk_svc_top_names_res_free(&res);
    hk_txn_abort(t);
}

static void test_stats(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_svc_stats(t, &st, &err), HK_OK);
    static hk_fact_id want[N_FACTS + 16];
    hk_scan all = HK_SCAN_INIT;
    assert_int_equal(st.facts, oracle(t, scan_match_v, &all, want));
    assert_int_equal(st.predicates, N_PREDS);
    json_t *j = hk_svc_stats_jansson(&st);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "facts")),
                     (json_int_t)st.facts);
    assert_true(json_is_string(json_object_get(j, "last_change")));
    assert_int_equal(json_object_size(j), 12);
    json_decref(j);
    /* no change yet: last_change is null */
    memset(&st, 0, sizeof st);
    j = hk_svc_stats_jansson(&st);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "last_change")));
    json_decref(j);
    hk_txn_abort(t);
}

/* ==== Search ==== */

typedef struct hits {
    hk_fact_id ids[16]; /* hit ids */
    double scores[16];  /* their scores */
    size_t n;           /* hits */
} hits;

static hk_err collect_hit(void *ud, const hk_fact *f, double score,
                          hk_error *err)
{
    (void)err;
    hits *h = ud;
    assert_true(h->n < 16);
    h->ids[h->n] = f->id;
    h->scores[h->n++] = score;
    return HK_OK;
}

static void test_search(void **state)
{
    (void)state;
    hk_txn *w = tu_begin(g_s, true);
    bool created;
    hk_fact_id id =
        tu_add(w, tu_st("HasPart", "Zorblax", "Quuxinator", NULL), &created);
    tu_commit(w);
    if (id > g_last) g_last = id;
    hk_txn *t = tu_begin(g_s, false);
    hits h;
    memset(&h, 0, sizeof h);
    hk_svc_search_req req = {"zorblax", 10, collect_hit, &h};
    size_t shown = 0;
    hk_error err;
    assert_int_equal(hk_svc_search(t, &req, &shown, &err), HK_OK);
    assert_int_equal(shown, 1);
    assert_int_equal(h.ids[0], id);
    assert_true(h.scores[0] > 0);
    /* words that match nothing */
    memset(&h, 0, sizeof h);
    req.query = "nothingmatchesthis";
    assert_int_equal(hk_svc_search(t, &req, &shown, &err), HK_OK);
    assert_int_equal(shown, 0);
    /* invalid UTF-8 */
    req.query = "bad \xff";
    assert_int_equal(hk_svc_search(t, &req, &shown, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "query");
    hk_txn_abort(t);
}

/* ==== Growth ==== */

static void test_growth(void **state)
{
    (void)state;
    const int64_t day = 86400LL * 1000000LL;
    int64_t now = hk_now_us();
    /* one fact created three days ago (imports keep their times) */
    hk_txn *w = tu_begin(g_s, true);
    hk_statement st = tu_st("Old", "Fact", NULL);
    hk_fact_meta m;
    memset(&m, 0, sizeof m);
    m.fields = HK_META_TIMES;
    m.created_us = now - 3 * day;
    hk_fact_id id;
    bool created;
    hk_error err;
    assert_int_equal(hk_store_add(w, &st, &m, &id, &created, &err), HK_OK);
    tu_commit(w);
    if (id > g_last) g_last = id;
    hk_txn *t = tu_begin(g_s, false);
    hk_stats s;
    assert_int_equal(hk_svc_stats(t, &s, &err), HK_OK);
    hk_svc_growth_req req = {7, now};
    hk_svc_growth_res res;
    assert_int_equal(hk_svc_growth(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.days, 7);
    assert_int_equal(res.first_day, now / day - 6);
    assert_int_equal(res.per_day[3], 1);
    assert_int_equal(res.per_day[6], s.facts - 1); /* the rest is today */
    assert_int_equal(res.total, s.facts);
    char date[11], want[32];
    hk_svc_day_format(res.first_day + 3, date);
    hk_time_format(now - 3 * day, want);
    want[10] = '\0';
    assert_string_equal(date, want);
    hk_svc_growth_res_free(&res);
    req.days = 0;
    assert_int_equal(hk_svc_growth(t, &req, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "days");
    assert_null(res.per_day);
    req.days = 40000;
    assert_int_equal(hk_svc_growth(t, &req, &res, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_oracle),
        cmocka_unit_test(test_pattern_oracle),
        cmocka_unit_test(test_pattern_vars),
        cmocka_unit_test(test_ids_only),
        cmocka_unit_test(test_cursor_paging),
        cmocka_unit_test(test_cursor_exact_end),
        cmocka_unit_test(test_row_error_and_bad_cursor),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_names_paging),
        cmocka_unit_test(test_name_json),
        cmocka_unit_test(test_entity_count),
        cmocka_unit_test(test_name_total),
        cmocka_unit_test(test_top_names),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
