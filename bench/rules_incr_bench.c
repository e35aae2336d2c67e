/*
 * rules_incr_bench.c — incremental maintenance of the derived facts
 * (bench/RESULTS.md, "Rules: incremental maintenance").
 *
 *   rules_incr_bench --graph chain:N|random:M|sparse:M [--reps R]
 *                    [--dir TMPDIR] [--writes W] [--anchor-writes A]
 *                    [--sqlite-reps S] [--recompute-reps C]
 *                    [--first flat|generic]
 *
 * Builds a fresh KB with the edges Edge(nA, nB) of the graph (chain:N is
 * n0 -> n1 -> ... -> nN; random:M is M edges on M/2 nodes, each from a
 * lower node to one at most 40 nodes on; sparse:M is M distinct edges
 * between uniformly chosen nodes of 0.54 M, from the lower to the higher,
 * the shape of bench/rules_closure.py's random:M) and,
 * in the same process, an SQLite table e(a, b) with an index on a holding
 * the same edges. Then:
 *   sqlite       WITH RECURSIVE closure count over e (the anchor: what a
 *                SQLite user runs to refresh the closure), median of R
 *   materialize  the first durable materialization of the program
 *                Path(?x, ?y) :- Edge(?x, ?y).
 *                Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z).
 *                (fixpoint + write + commit), once; then the data file's
 *                growth and the pages of rules.derived (mdb_stat) per
 *                derived fact; --first generic runs it on the generic
 *                evaluator, which writes version-1 supports
 *   recompute    hkr_materialize of the same state (what every change
 *                cost before incremental maintenance), median of R
 *   add / delete one new edge from node 0 (a durable write; the change
 *                hook maintains the derived facts in its transaction),
 *                and delete / re-add one existing edge in the middle of
 *                the graph: medians and p90 of R each
 *   writes       W random one-edge writes (--writes, default 0), each a
 *                durable transaction: a new edge between uniform nodes
 *                (lower to higher) added then deleted, and an existing
 *                edge deleted then re-added, alternately; p50, p99 and
 *                CPU per write for each kind. With --anchor-writes A, the
 *                first A of them are each followed by the same write
 *                maintained by delete-and-rederive over the loaded
 *                relations (hkr_local_set(false): the maintenance before
 *                rules_local.c), so both are measured in the same run.
 *                Each is followed by the floor: the same durable add and
 *                delete of a fact Other(nA, nB) that no rule reads.
 * The pair counts of SQLite and hakgal must agree (else exit 1).
 * Prints one JSON object per measurement.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "reason/rules.h"
#include "reason/rules_int.h"
#include "service/svc_vector.h"

/* CPU time of the process (the machine is shared: wall time waits for
 * other processes and for fsync). */
static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *graph, const char *what, int64_t *us,
                   int64_t *cpu, int n, uint64_t count)
{
    qsort(us, (size_t)n, sizeof *us, cmp_i64);
    qsort(cpu, (size_t)n, sizeof *cpu, cmp_i64);
    int64_t cpu_sum = 0;
    for (int i = 0; i < n; i++)
        cpu_sum += cpu[i];
    printf("{\"graph\":\"%s\",\"bench\":\"%s\",\"reps\":%d,\"median_ms\":%.3f,"
           "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"min_ms\":%.3f,"
           "\"cpu_median_ms\":%.3f,\"cpu_p99_ms\":%.3f,"
           "\"cpu_mean_ms\":%.3f,\"count\":%llu}\n",
           graph, what, n, (double)us[n / 2] / 1000.0,
           (double)us[(n * 9) / 10] / 1000.0,
           (double)us[(n * 99) / 100] / 1000.0, (double)us[0] / 1000.0,
           (double)cpu[n / 2] / 1000.0, (double)cpu[(n * 99) / 100] / 1000.0,
           (double)cpu_sum / n / 1000.0, (unsigned long long)count);
    fflush(stdout);
}

typedef struct edge {
    uint32_t a, b; /* node numbers */
} edge;

static int edge_cmp(const void *p, const void *q)
{
    const edge *a = p, *b = q;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static edge *make_graph(const char *spec, size_t *n)
{
    size_t m = 0;
    if (sscanf(spec, "chain:%zu", &m) == 1 && m > 0) {
        edge *v = calloc(m, sizeof *v);
        for (size_t i = 0; v && i < m; i++)
            v[i] = (edge){(uint32_t)i, (uint32_t)i + 1};
        *n = m;
        return v;
    }
    if (sscanf(spec, "sparse:%zu", &m) == 1 && m >= 4) {
        /* distinct pairs: draw more than m, dedupe, top up until there
         * are m, then keep a uniform sample of m */
        uint32_t nodes = (uint32_t)((double)m * 0.54);
        size_t cap = m + m / 8 + 64, k = 0;
        edge *v = calloc(cap, sizeof *v);
        uint64_t x = 20261204;
        while (v) {
            while (k < cap) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t a = (uint32_t)((x >> 33) % nodes);
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t b = (uint32_t)((x >> 33) % nodes);
                if (a == b) continue;
                v[k++] = a < b ? (edge){a, b} : (edge){b, a};
            }
            qsort(v, k, sizeof *v, edge_cmp);
            size_t u = 0;
            for (size_t i = 0; i < k; i++)
                if (u == 0 || edge_cmp(&v[u - 1], &v[i]) != 0) v[u++] = v[i];
            if (u >= m) {
                for (size_t i = 0; i < m; i++) {
                    x = x * 6364136223846793005ull + 1442695040888963407ull;
                    size_t j = i + (size_t)((x >> 33) % (u - i));
                    edge tmp = v[i];
                    v[i] = v[j];
                    v[j] = tmp;
                }
                qsort(v, m, sizeof *v, edge_cmp);
                *n = m;
                return v;
            }
            k = u;
        }
        return NULL;
    }
    if (sscanf(spec, "random:%zu", &m) != 1 || m < 4) return NULL;
    uint32_t nodes = (uint32_t)(m / 2);
    edge *v = calloc(m, sizeof *v);
    uint64_t x = 20261204;
    size_t k = 0;
    /* duplicates are dropped by the caller */
    while (v && k < m) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t a = (uint32_t)((x >> 33) % (nodes - 1));
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t b = a + 1 + (uint32_t)((x >> 33) % 40);
        if (b > nodes - 1) b = nodes - 1;
        v[k++] = (edge){a, b};
    }
    *n = k;
    return v;
}

/* Predicate of the toggled facts: Edge, or (the floor: a durable write
 * no rule reads) Other. */
static const char *toggle_pred = "Edge";

static void statement(uint32_t a, uint32_t b, char *na, char *nb,
                      hk_statement *st)
{
    sprintf(na, "n%u", a);
    sprintf(nb, "n%u", b);
    memset(st, 0, sizeof *st);
    st->predicate = toggle_pred;
    st->n_args = 2;
    st->args[0] = na;
    st->args[1] = nb;
}

/* One durable write adding (add) or deleting the edge a -> b. */
static int toggle(hk_store *s, uint32_t a, uint32_t b, bool add, int64_t *us,
                  int64_t *cpu)
{
    char na[16], nb[16];
    hk_statement st;
    statement(a, b, na, nb, &st);
    hk_error e;
    hk_txn *t = NULL;
    int64_t t0 = hk_now_us(), c0 = cpu_us();
    hk_err rc = hk_txn_begin(s, true, &t, &e);
    if (!rc) {
        hk_fact_id id = 0;
        bool created = false;
        if (add) {
            rc = hk_store_add(t, &st, NULL, &id, &created, &e);
        } else {
            rc = hk_store_find(t, &st, &id, &e);
            if (!rc) rc = hk_store_delete(t, id, &e);
        }
        if (rc)
            hk_txn_abort(t);
        else
            rc = hk_txn_commit(t, &e);
    }
    *us = hk_now_us() - t0;
    *cpu = cpu_us() - c0;
    if (rc) fprintf(stderr, "write: %s\n", e.message);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *graph = NULL, *tmp = "/tmp";
    int reps = 11, writes = 0, anchor_writes = 0, sqlite_reps = -1,
        recompute_reps = 3;
    bool first_generic = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--graph") == 0)
            graph = argv[i + 1];
        else if (strcmp(argv[i], "--writes") == 0)
            writes = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--anchor-writes") == 0)
            anchor_writes = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sqlite-reps") == 0)
            sqlite_reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--recompute-reps") == 0)
            recompute_reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--first") == 0)
            first_generic = strcmp(argv[i + 1], "generic") == 0;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            tmp = argv[i + 1];
    }
    size_t n = 0;
    edge *g = graph ? make_graph(graph, &n) : NULL;
    if (sqlite_reps < 0) sqlite_reps = reps;
    if (!g || reps < 1 || reps > 10000 || writes < 0 || writes > 100000 ||
        anchor_writes < 0 || anchor_writes > writes || sqlite_reps > 10000 ||
        recompute_reps < 0 || recompute_reps > reps) {
        fprintf(stderr, "usage: rules_incr_bench --graph "
                        "chain:N|random:M|sparse:M [--reps R] [--dir TMPDIR] "
                        "[--writes W] [--anchor-writes A <= W] "
                        "[--sqlite-reps S] [--recompute-reps C <= R]\n");
        return 1;
    }
    qsort(g, n, sizeof *g, edge_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || edge_cmp(&g[u - 1], &g[i]) != 0) g[u++] = g[i];
    n = u;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rules-incr-XXXXXX", tmp);
    if (!mkdtemp(dir)) return 1;
    int64_t *us = calloc((size_t)reps, sizeof *us);
    int64_t *cu = calloc((size_t)reps, sizeof *cu);
    int64_t *del = calloc((size_t)reps, sizeof *del);
    int64_t *cd = calloc((size_t)reps, sizeof *cd);
    /* random writes: 4 kinds x (local, anchor) */
    size_t wn = writes ? (size_t)writes : 1;
    int64_t *wus[10], *wcu[10];
    for (int k = 0; k < 10; k++) {
        wus[k] = calloc(wn, sizeof *wus[k]);
        wcu[k] = calloc(wn, sizeof *wcu[k]);
        if (!wus[k] || !wcu[k]) return 1;
    }
    hk_store_options o;
    memset(&o, 0, sizeof o);
    o.create = true;
    hk_store *s = NULL;
    hkv_store *vs = NULL;
    hk_error e;
    if (!us || !cu || !del || !cd) return 1;
    if (hk_svc_store_open(dir, &o, &s, &vs, &e)) {
        fprintf(stderr, "open: %s\n", e.message);
        return 1;
    }
    /* the edges, 10,000 per transaction (no rules yet: nothing derived) */
    for (size_t i = 0; i < n;) {
        hk_txn *t = NULL;
        if (hk_txn_begin(s, true, &t, &e)) return 1;
        for (size_t k = 0; k < 10000 && i < n; k++, i++) {
            char na[16], nb[16];
            hk_statement st;
            statement(g[i].a, g[i].b, na, nb, &st);
            hk_fact_id id;
            bool created;
            if (hk_store_add(t, &st, NULL, &id, &created, &e)) return 1;
        }
        if (hk_txn_commit(t, &e)) return 1;
    }
    /* SQLite: the same edges, the recursive CTE */
    sqlite3 *db = NULL;
    char sq[4200];
    snprintf(sq, sizeof sq, "%s/e.sqlite", dir);
    sqlite3_open(sq, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; CREATE TABLE e(a INTEGER, b "
                 "INTEGER); BEGIN",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO e VALUES(?, ?)", -1, &ins, NULL);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, g[i].a);
        sqlite3_bind_int64(ins, 2, g[i].b);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT; CREATE INDEX ea ON e(a)", NULL, NULL, NULL);
    uint64_t pairs = 0;
    for (int i = 0; i < sqlite_reps; i++) {
        sqlite3_stmt *q = NULL;
        int64_t t0 = hk_now_us(), c0 = cpu_us();
        sqlite3_prepare_v2(db,
                           "WITH RECURSIVE c(a, b) AS (SELECT a, b FROM e "
                           "UNION SELECT c.a, e.b FROM c JOIN e ON e.a = "
                           "c.b) SELECT count(*) FROM c",
                           -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW)
            pairs = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        us[i] = hk_now_us() - t0;
        cu[i] = cpu_us() - c0;
    }
    sqlite3_close(db);
    if (sqlite_reps)
        report(graph, "sqlite_with_recursive", us, cu, sqlite_reps, pairs);
    /* the program, materialized durably */
    hkr_dbs d;
    if (hkr_dbs_of(s, &d, &e)) return 1;
    hk_txn *t = NULL;
    hkr_reason_res res;
    char mdb[4200];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
    struct stat sb0, sb1;
    if (stat(mdb, &sb0) != 0) sb0.st_size = 0;
    /* --first generic: the first materialization by the generic
     * evaluator, which writes version-1 supports (the format before
     * version 2), to compare bytes per derived fact */
    if (first_generic) hkr_flat_set(false);
    int64_t t0 = hk_now_us(), c0 = cpu_us();
    if (hk_txn_begin(s, true, &t, &e) ||
        hkr_add(t, &d, "base", "Path(?x, ?y) :- Edge(?x, ?y).", NULL, &e) ||
        hkr_add(t, &d, "step", "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z).",
                NULL, &e) ||
        hkr_materialize(t, &d, NULL, NULL, &res, &e) || hk_txn_commit(t, &e)) {
        fprintf(stderr, "materialize: %s\n", e.message);
        return 1;
    }
    us[0] = hk_now_us() - t0;
    cu[0] = cpu_us() - c0;
    hkr_flat_set(true);
    report(graph,
           first_generic ? "materialize_durable_generic_v1"
                         : "materialize_durable",
           us, cu, 1, res.derived);
    /* bytes per derived fact: growth of the data file (LMDB grows it as
     * pages are used) over the derived facts written */
    if (stat(mdb, &sb1) != 0) sb1.st_size = 0;
    printf("{\"graph\":\"%s\",\"bench\":\"materialize_bytes\","
           "\"data_mdb_before\":%lld,\"data_mdb_after\":%lld,"
           "\"derived\":%llu,\"bytes_per_derived\":%.2f,"
           "\"derived_per_s\":%.0f,\"derived_per_cpu_s\":%.0f}\n",
           graph, (long long)sb0.st_size, (long long)sb1.st_size,
           (unsigned long long)res.derived,
           res.derived
               ? (double)(sb1.st_size - sb0.st_size) / (double)res.derived
               : 0.0,
           (double)res.derived * 1e6 / (double)(us[0] ? us[0] : 1),
           (double)res.derived * 1e6 / (double)(cu[0] ? cu[0] : 1));
    fflush(stdout);
    /* the same from the pages of rules.derived itself (mdb_stat of
     * lmdb-utils): the file's growth misses pages the import freed */
    char cmd0[4300];
    snprintf(cmd0, sizeof cmd0, "mdb_stat -e -s rules.derived '%s' 2>/dev/null",
             dir);
    FILE *ps = popen(cmd0, "r");
    if (ps) {
        char line[256];
        long long psize = 0, pages = 0, entries = 0, v = 0;
        while (fgets(line, sizeof line, ps)) {
            if (sscanf(line, " Page size: %lld", &v) == 1) psize = v;
            if (sscanf(line, " Branch pages: %lld", &v) == 1) pages += v;
            if (sscanf(line, " Leaf pages: %lld", &v) == 1) pages += v;
            if (sscanf(line, " Overflow pages: %lld", &v) == 1) pages += v;
            if (sscanf(line, " Entries: %lld", &v) == 1) entries = v;
        }
        pclose(ps);
        if (entries)
            printf("{\"graph\":\"%s\",\"bench\":\"derived_pages\","
                   "\"pages\":%lld,\"page_size\":%lld,\"entries\":%lld,"
                   "\"bytes_per_derived\":%.2f}\n",
                   graph, pages, psize, entries,
                   (double)(pages * psize) / (double)entries);
        fflush(stdout);
    }
    /* derived Path facts + asserted Path facts (none) = closure pairs */
    if (sqlite_reps && res.derived != pairs) {
        fprintf(stderr, "pairs differ: sqlite %llu, hakgal %llu\n",
                (unsigned long long)pairs, (unsigned long long)res.derived);
        return 1;
    }
    if (!sqlite_reps) pairs = res.derived;
    for (int i = 0; i < recompute_reps; i++) {
        t0 = hk_now_us();
        c0 = cpu_us();
        if (hk_txn_begin(s, true, &t, &e) ||
            hkr_materialize(t, &d, NULL, NULL, &res, &e)) {
            fprintf(stderr, "recompute: %s\n", e.message);
            return 1;
        }
        hk_txn_abort(t);
        us[i] = hk_now_us() - t0;
        cu[i] = cpu_us() - c0;
    }
    if (recompute_reps)
        report(graph, "recompute_fixpoint", us, cu, recompute_reps,
               res.derived);
    /* one new edge from node 0 to a new node, added and deleted */
    uint32_t fresh = 0;
    for (size_t i = 0; i < n; i++)
        if (g[i].b >= fresh) fresh = g[i].b + 1;
    for (int i = 0; i < reps; i++)
        if (toggle(s, 0, fresh, true, &us[i], &cu[i]) ||
            toggle(s, 0, fresh, false, &del[i], &cd[i]))
            return 1;
    report(graph, "add_new_edge", us, cu, reps, res.derived);
    report(graph, "delete_new_edge", del, cd, reps, res.derived);
    /* an existing edge in the middle, deleted and added back */
    edge mid = g[n / 2];
    for (int i = 0; i < reps; i++)
        if (toggle(s, mid.a, mid.b, false, &del[i], &cd[i]) ||
            toggle(s, mid.a, mid.b, true, &us[i], &cu[i]))
            return 1;
    report(graph, "delete_mid_edge", del, cd, reps, res.derived);
    report(graph, "readd_mid_edge", us, cu, reps, res.derived);
    /* random one-edge writes, the anchor (delete-and-rederive) after the
     * local maintenance of the same write */
    uint32_t nodes = fresh;
    uint64_t x = 77;
    static const char *const kinds[4] = {"add_random_edge", "delete_that_edge",
                                         "delete_existing_edge",
                                         "readd_existing_edge"};
    int n_kind[4] = {0, 0, 0, 0};
    uint64_t local0 = hkr_local_count();
    for (int i = 0; i < writes; i++) {
        edge w;
        bool existing = i % 2 == 1;
        if (existing) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            w = g[(x >> 33) % n];
        } else {
            for (int tries = 0; tries < 1000; tries++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t a = (uint32_t)((x >> 33) % nodes);
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t b = (uint32_t)((x >> 33) % nodes);
                if (a == b) continue;
                w = a < b ? (edge){a, b} : (edge){b, a};
                if (!bsearch(&w, g, n, sizeof *g, edge_cmp)) break;
            }
        }
        int k0 = existing ? 2 : 0;
        for (int pass = 0; pass < (i < anchor_writes ? 2 : 1); pass++) {
            hkr_local_set(pass == 0);
            int slot = k0 + 4 * pass, j = n_kind[k0 / 2];
            if (toggle(s, w.a, w.b, !existing, &wus[slot][j], &wcu[slot][j]) ||
                toggle(s, w.a, w.b, existing, &wus[slot + 1][j],
                       &wcu[slot + 1][j]))
                return 1;
        }
        hkr_local_set(true);
        /* the floor: the same durable write of a fact no rule reads */
        toggle_pred = "Other";
        if (toggle(s, w.a, w.b, true, &wus[8][i], &wcu[8][i]) ||
            toggle(s, w.a, w.b, false, &wus[9][i], &wcu[9][i]))
            return 1;
        toggle_pred = "Edge";
        n_kind[k0 / 2]++;
    }
    if (writes) {
        report(graph, "floor_add_unread_fact", wus[8], wcu[8], writes,
               res.derived);
        report(graph, "floor_delete_unread_fact", wus[9], wcu[9], writes,
               res.derived);
    }
    for (int k = 0; k < 4 && writes; k++) {
        int m = n_kind[k / 2];
        char name[64];
        if (m) report(graph, kinds[k], wus[k], wcu[k], m, res.derived);
        int ma = k < 2 ? (anchor_writes + 1) / 2 : anchor_writes / 2;
        snprintf(name, sizeof name, "%s_anchor_dred", kinds[k]);
        if (ma) report(graph, name, wus[k + 4], wcu[k + 4], ma, res.derived);
    }
    printf("{\"graph\":\"%s\",\"local_maintained\":%llu}\n", graph,
           (unsigned long long)(hkr_local_count() - local0));
    uint64_t incr = 0, fallbacks = 0;
    hkr_incr_counts(&incr, &fallbacks);
    t = NULL;
    uint64_t now = 0;
    if (!hk_txn_begin(s, false, &t, &e)) {
        hkr_derived_count(t, &d, &now, &e);
        hk_txn_abort(t);
    }
    printf("{\"graph\":\"%s\",\"edges\":%zu,\"pairs\":%llu,\"derived_now\":"
           "%llu,\"incremental\":%llu,\"fallbacks\":%llu}\n",
           graph, n, (unsigned long long)pairs, (unsigned long long)now,
           (unsigned long long)incr, (unsigned long long)fallbacks);
    hk_svc_store_close(s, vs);
    free(us);
    free(cu);
    free(del);
    free(cd);
    for (int k = 0; k < 10; k++) {
        free(wus[k]);
        free(wcu[k]);
    }
    free(g);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && now == pairs && fallbacks == 0 ? 0 : 1;
}
