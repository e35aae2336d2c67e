/*
 * hk_bench_join — multi-pattern queries of the join engine (src/query)
 * side by side with SQLite on the databases an earlier
 * `hk_bench --n N --dir DIR --keep` left in DIR (DIR/hakgal-kb and
 * DIR/sqlite.db: the same N synthetic facts, SQLite normalized and
 * indexed as hk_bench describes).
 *
 *   hk_bench_join --dir DIR [--samples S] [--seed X] [--hakgal-only]
 *
 * --hakgal-only times hakgal alone (DIR/sqlite.db is not opened: for a KB
 * loaded with `hk_bench --only hakgal`, such as 10M facts, whose SQLite
 * load would take hours on a shared machine); SQLite columns print 0.
 * --sqlite-only times SQLite alone (hakgal columns print 0, no row
 * check): run it alternately with --hakgal-only to compare the stores
 * without one's page cache evicting the other's between queries.
 *
 * Queries (the same keys for both stores, the stores taking turns per
 * key, so that load from other processes slows both alike):
 *  - 2hop: the first 100 rows of ?p(E, ?n), ?q(?n, ?o) for an entity E
 *    drawn as the first argument of a random binary fact, decoded to
 *    strings (hakgal: hkq_exec rows; SQLite: fact_args joins and the
 *    symbol table, sqlite3_column_text on every column);
 *  - chain: the count of P1(?a, ?b), P2(?b, ?c), P3(?c, ?d);
 *  - triangle: the count of P1(?a, ?b), P2(?b, ?c), P3(?c, ?a),
 *    with P1..P3 consecutive predicates of rank 100..250 by fact count.
 * Each hakgal operation includes parse, plan and a fresh read snapshot
 * (hk_txn_renew). Row counts of both stores are compared.
 * Prints p50/p99 (µs) per query kind and the ratio SQLite / hakgal, wall
 * clock and thread CPU time.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakgal.h"
#include "query/query.h"
#include "store/store.h"

/* CPU time of this thread (both stores run on it), µs: wall clock under
 * a loaded machine includes other processes' time slices. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "hk_bench_join: %s: %s\n", what, why);
    exit(1);
}

/* ==== hakgal ==== */

typedef struct hrows {
    uint64_t n;
    size_t bytes; /* decoded string bytes (keeps the decode honest) */
} hrows;

static hk_err h_out(void *ud, const hkq_out_row *row, hk_error *err)
{
    (void)err;
    hrows *r = ud;
    r->n++;
    for (uint32_t i = 0; i < row->n; i++)
        r->bytes += strlen(row->values[i]);
    return HK_OK;
}

static hk_err h_count(void *ud, const hkq_row *row, hkq_flow *flow,
                      hk_error *err)
{
    (void)row;
    (void)flow;
    (void)err;
    ((hrows *)ud)->n++;
    return HK_OK;
}

static uint64_t h_query(hk_txn *t, const char *text, bool decode,
                        uint64_t limit)
{
    hk_error err;
    if (hk_txn_renew(t, &err) != HK_OK) die("renew", err.message);
    hkq_query *q = NULL;
    if (hkq_parse(text, strlen(text), &q, &err) != HK_OK)
        die(text, err.message);
    hrows r = {0, 0};
    hk_err rc;
    if (decode) {
        hkq_exec_req xr;
        memset(&xr, 0, sizeof xr);
        xr.limit = limit;
        xr.row = h_out;
        xr.row_ud = &r;
        hkq_exec_res res;
        memset(&res, 0, sizeof res);
        rc = hkq_exec(t, q, &xr, &res, &err);
        hkq_exec_res_free(&res);
    } else {
        hkq_run_req rr;
        memset(&rr, 0, sizeof rr);
        rr.row = h_count;
        rr.row_ud = &r;
        hkq_run_res res;
        memset(&res, 0, sizeof res);
        rc = hkq_run(t, q, &rr, &res, &err);
        hk_buf_free(&res.cursor);
    }
    if (rc != HK_OK) die(text, err.message);
    hkq_free(q);
    hk_txn_reset(t);
    return r.n;
}

/* ==== SQLite ==== */

static const char *const SQL_2HOP =
    "SELECT p1.name, n.name, p2.name, o.name"
    " FROM fact_args x1 CROSS JOIN facts f1 CROSS JOIN fact_args x2"
    " CROSS JOIN facts f2 CROSS JOIN symbols p1 CROSS JOIN symbols n"
    " CROSS JOIN symbols p2 CROSS JOIN symbols o"
    " WHERE x1.sym = (SELECT id FROM symbols WHERE name = ?1) AND x1.pos = 0"
    " AND f1.id = x1.fact AND f1.nargs = 2 AND x2.sym = f1.a1 AND x2.pos = 0"
    " AND f2.id = x2.fact AND f2.nargs = 2 AND p1.id = f1.pred"
    " AND n.id = f1.a1 AND p2.id = f2.pred AND o.id = f2.a1 LIMIT 100";
static const char *const SQL_CHAIN =
    "SELECT count(*) FROM facts f1 JOIN facts f2 JOIN facts f3"
    " WHERE f1.pred = (SELECT id FROM symbols WHERE name = ?1)"
    " AND f1.nargs = 2"
    " AND f2.pred = (SELECT id FROM symbols WHERE name = ?2)"
    " AND f2.a0 = f1.a1 AND f2.nargs = 2"
    " AND f3.pred = (SELECT id FROM symbols WHERE name = ?3)"
    " AND f3.a0 = f2.a1 AND f3.nargs = 2";
static const char *const SQL_TRIANGLE =
    "SELECT count(*) FROM facts f1 JOIN facts f2 JOIN facts f3"
    " WHERE f1.pred = (SELECT id FROM symbols WHERE name = ?1)"
    " AND f1.nargs = 2"
    " AND f2.pred = (SELECT id FROM symbols WHERE name = ?2)"
    " AND f2.a0 = f1.a1 AND f2.nargs = 2"
    " AND f3.pred = (SELECT id FROM symbols WHERE name = ?3)"
    " AND f3.a0 = f2.a1 AND f3.a1 = f1.a0 AND f3.nargs = 2";

static uint64_t s_query(sqlite3_stmt *st, const char *const *keys, int n_keys,
                        bool decode)
{
    for (int i = 0; i < n_keys; i++)
        sqlite3_bind_text(st, i + 1, keys[i], -1, SQLITE_STATIC);
    uint64_t rows = 0;
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (decode) {
            rows++;
            for (int c = 0; c < 4; c++) {
                const unsigned char *s = sqlite3_column_text(st, c);
                bytes += s ? strlen((const char *)s) : 0;
            }
        } else {
            rows = (uint64_t)sqlite3_column_int64(st, 0);
        }
    }
    if (rc != SQLITE_DONE) die("sqlite step", "error");
    sqlite3_reset(st);
    (void)bytes;
    return rows;
}

/* ==== main ==== */

typedef struct kind {
    const char *name;
    double *h, *s;   /* latencies */
    double *hc, *sc; /* thread CPU time of the same operations, µs */
    size_t n;
    uint64_t mismatches;
    uint64_t rows;
} kind;

static void report(kind *k)
{
    if (k->n == 0) return;
    bool no_s = true, no_h = true;
    for (size_t i = 0; i < k->n; i++) {
        if (k->s[i] != 0) no_s = false;
        if (k->h[i] != 0) no_h = false;
    }
    no_s = no_s || no_h; /* one store timed: no ratio */
    double *hc = malloc(k->n * sizeof *hc), *sc = malloc(k->n * sizeof *sc);
    memcpy(hc, k->h, k->n * sizeof *hc);
    memcpy(sc, k->s, k->n * sizeof *sc);
    double h50 = pct(hc, k->n, 0.5), h99 = pct(hc, k->n, 0.99);
    double s50 = pct(sc, k->n, 0.5), s99 = pct(sc, k->n, 0.99);
    printf("%-9s %6zu ops  hakgal p50 %10.1f p99 %10.1f  SQLite p50 %10.1f "
           "p99 %10.1f  SQLite/hakgal p50 %6.2fx  rows %llu  mismatches "
           "%llu\n",
           k->name, k->n, h50, h99, s50, s99, no_s ? 0.0 : s50 / h50,
           (unsigned long long)k->rows, (unsigned long long)k->mismatches);
    memcpy(hc, k->hc, k->n * sizeof *hc);
    memcpy(sc, k->sc, k->n * sizeof *sc);
    h50 = pct(hc, k->n, 0.5);
    s50 = pct(sc, k->n, 0.5);
    printf("%-9s CPU      hakgal p50 %10.1f             SQLite p50 %10.1f"
           "                 SQLite/hakgal p50 %6.2fx\n",
           k->name, h50, s50, no_s ? 0.0 : s50 / h50);
    free(hc);
    free(sc);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    size_t samples = 200;
    unsigned seed = 7;
    bool only_h = false;
    bool only_s = false;          /* --sqlite-only */
    const char *only_kind = NULL; /* --kind: time one kind (profiling) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
            samples = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--hakgal-only"))
            only_h = true;
        else if (!strcmp(argv[i], "--sqlite-only"))
            only_s = true;
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            only_kind = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: hk_bench_join --dir DIR [--samples S] [--seed X]"
                    " [--hakgal-only|--sqlite-only]"
                    " [--kind 2hop|chain|triangle]\n");
            return 2;
        }
    }
    if (!dir || samples == 0) die("--dir", "missing");
    char path[4096];
    snprintf(path, sizeof path, "%s/hakgal-kb", dir);
    hk_store_options so;
    memset(&so, 0, sizeof so);
    so.read_only = true;
    hk_store *s = NULL;
    hk_error err;
    if (hk_store_open(path, &so, &s, &err) != HK_OK) die(path, err.message);
    hk_txn *t = NULL;
    if (hk_txn_begin(s, false, &t, &err) != HK_OK) die("txn", err.message);
    snprintf(path, sizeof path, "%s/sqlite.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st2 = NULL, *stc = NULL, *stt = NULL;
    if (!only_h) {
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            die(path, "cannot open");
        sqlite3_exec(db, "PRAGMA cache_size=-1048576;", NULL, NULL, NULL);
        if (sqlite3_prepare_v2(db, SQL_2HOP, -1, &st2, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, SQL_CHAIN, -1, &stc, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, SQL_TRIANGLE, -1, &stt, NULL) != SQLITE_OK)
            die("prepare", sqlite3_errmsg(db));
    }

    hk_stats stats;
    if (hk_store_stats(t, &stats, &err) != HK_OK) die("stats", err.message);
    /* predicates by count */
    hk_name_count *preds = NULL;
    size_t n_preds = 0;
    if (hk_store_list_predicates(t, NULL, 1000, &preds, &n_preds, &err) !=
        HK_OK)
        die("predicates", err.message);
    for (size_t i = 0; i < n_preds; i++) /* by count, descending */
        for (size_t j = i + 1; j < n_preds; j++)
            if (preds[j].count > preds[i].count) {
                hk_name_count x = preds[i];
                preds[i] = preds[j];
                preds[j] = x;
            }
    printf("== hk_bench_join: %llu facts, %zu predicates, %zu samples per "
           "kind, seed %u\n",
           (unsigned long long)stats.facts, n_preds, samples, seed);
    srand(seed);
    kind k2 = {"2hop",
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               0,
               0,
               0};
    kind kc = {"chain",
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               0,
               0,
               0};
    kind kt = {"triangle",
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               calloc(samples, 8),
               0,
               0,
               0};
    hk_fact f;
    hk_fact_init(&f);
    char text[8400];
    size_t warm = samples / 10 + 1;
    for (size_t i = 0; i < samples + warm; i++) {
        bool timed = i >= warm;
        /* 2hop from the first argument of a random binary fact */
        hk_fact_id id = 0;
        /* h_query leaves t reset: renew it, or every get fails and every
         * sample repeats the first entity */
        if (hk_txn_renew(t, &err) != HK_OK) die("renew", err.message);
        for (int tries = 0; tries < 100; tries++) {
            id = 1 + (hk_fact_id)(((uint64_t)rand() << 31 ^ (uint64_t)rand()) %
                                  stats.last_fact_id);
            if (hk_store_get(t, id, &f, &err) == HK_OK && f.st.n_args == 2)
                break;
        }
        char ent[4200];
        snprintf(ent, sizeof ent, "%s", f.st.args[0]);
        hk_txn_reset(t);
        snprintf(text, sizeof text, "?p(\"%s\", ?n), ?q(?n, ?o)", ent);
        const char *keys[3] = {ent, NULL, NULL};
        double c0 = cpu_us(), t0 = now_us();
        bool run2 = !only_kind || !strcmp(only_kind, "2hop");
        bool runc = !only_kind || !strcmp(only_kind, "chain");
        bool runt = !only_kind || !strcmp(only_kind, "triangle");
        uint64_t hr = run2 && !only_s ? h_query(t, text, true, 100) : 0;
        double c1 = cpu_us(), t1 = now_us();
        uint64_t sr = only_h || !run2 ? hr : s_query(st2, keys, 1, true);
        if (only_s) hr = sr;
        double c2 = cpu_us(), t2 = now_us();
        if (timed && run2) {
            k2.h[k2.n] = only_s ? 0 : t1 - t0;
            k2.hc[k2.n] = only_s ? 0 : c1 - c0;
            k2.sc[k2.n] = only_h ? 0 : c2 - c1;
            k2.s[k2.n++] = only_h ? 0 : t2 - t1;
            k2.rows += hr;
            if (hr != sr) k2.mismatches++;
        }
        /* chain and triangle over three consecutive predicates */
        size_t lo = n_preds > 250 ? 100 : 0,
               span = n_preds > 250 ? 150 : n_preds - 2;
        size_t r = lo + (size_t)rand() % span;
        keys[0] = preds[r].name;
        keys[1] = preds[r + 1].name;
        keys[2] = preds[r + 2].name;
        snprintf(text, sizeof text, "%s(?a, ?b), %s(?b, ?c), %s(?c, ?d)",
                 keys[0], keys[1], keys[2]);
        c0 = cpu_us(), t0 = now_us();
        hr = runc && !only_s ? h_query(t, text, false, 0) : 0;
        c1 = cpu_us(), t1 = now_us();
        sr = only_h || !runc ? hr : s_query(stc, keys, 3, false);
        if (only_s) hr = sr;
        c2 = cpu_us(), t2 = now_us();
        if (timed && runc) {
            kc.h[kc.n] = only_s ? 0 : t1 - t0;
            kc.hc[kc.n] = only_s ? 0 : c1 - c0;
            kc.sc[kc.n] = only_h ? 0 : c2 - c1;
            kc.s[kc.n++] = only_h ? 0 : t2 - t1;
            kc.rows += hr;
            if (hr != sr) kc.mismatches++;
        }
        snprintf(text, sizeof text, "%s(?a, ?b), %s(?b, ?c), %s(?c, ?a)",
                 keys[0], keys[1], keys[2]);
        c0 = cpu_us(), t0 = now_us();
        hr = runt && !only_s ? h_query(t, text, false, 0) : 0;
        c1 = cpu_us(), t1 = now_us();
        sr = only_h || !runt ? hr : s_query(stt, keys, 3, false);
        if (only_s) hr = sr;
        c2 = cpu_us(), t2 = now_us();
        if (timed && runt) {
            kt.h[kt.n] = only_s ? 0 : t1 - t0;
            kt.hc[kt.n] = only_s ? 0 : c1 - c0;
            kt.sc[kt.n] = only_h ? 0 : c2 - c1;
            kt.s[kt.n++] = only_h ? 0 : t2 - t1;
            kt.rows += hr;
            if (hr != sr) kt.mismatches++;
        }
    }
    printf("latencies in microseconds\n");
    report(&k2);
    report(&kc);
    report(&kt);
    hk_fact_release(&f);
    hk_name_counts_free(preds, n_preds);
    sqlite3_finalize(st2);
    sqlite3_finalize(stc);
    sqlite3_finalize(stt);
    sqlite3_close(db);
    hk_txn_abort(t);
    hk_store_close(s);
    free(k2.h), free(k2.s), free(kc.h), free(kc.s), free(kt.h), free(kt.s);
    free(k2.hc), free(k2.sc), free(kc.hc), free(kc.sc), free(kt.hc);
    free(kt.sc);
    return 0;
}
