/*
 * history_bench.c — one page of a fact's audit history at a depth: the
 * cursor (hk_audit_history with before_seq, a seek into the fact's
 * audit_by_fact duplicates) against the only way without one, asking for
 * depth + page entries and keeping the last page (what main's REST route
 * and CLI allow).
 *
 *   history_bench N_ENTRIES DIR
 *
 * Builds a KB in DIR (which must not exist) holding one fact with
 * N_ENTRIES audit entries (an add, then confidence changes, 10000 per
 * transaction) and leaves it there for bench/history_pages.py (the REST
 * comparison against the anchor binary). Then times, median of 9, a page
 * of 10 entries at depths 0, 1000, 10000, 90000 (those below N_ENTRIES;
 * the longer read stops at HK_AUDIT_HISTORY_MAX entries, so deeper pages
 * have no other way): by cursor and by the longer read. Prints one line per
 * depth, then the service's page (hk_svc_fact_history: the same read plus the
 * probe of one entry beyond the page that decides next_before) against the
 * store's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakgal.h"
#include "service/service.h"

#define PAGE 10
#define REPS 9

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const hk_error *e)
{
    fprintf(stderr, "history_bench: %s: %s\n", what, e->message);
    exit(1);
}

/* Median of REPS timings of one history read; checks that it returns
 * want entries whose first has seq first_seq. */
static double time_page(hk_txn *t, hk_fact_id id, uint64_t before, size_t limit,
                        size_t want, uint64_t first_seq)
{
    double v[REPS];
    hk_error e;
    for (int r = 0; r < REPS; r++) {
        hk_audit_entry *a;
        size_t n;
        double t0 = now_s();
        if (hk_audit_history(t, id, before, limit, &a, &n, &e))
            die("history", &e);
        v[r] = now_s() - t0;
        if (n != want || a[n - PAGE].seq != first_seq) {
            fprintf(stderr, "history_bench: wrong page (%zu entries)\n", n);
            exit(1);
        }
        hk_audit_entries_free(a, n);
    }
    qsort(v, REPS, sizeof *v, cmp);
    return v[REPS / 2];
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: history_bench N_ENTRIES DIR\n");
        return 2;
    }
    long n_entries = atol(argv[1]);
    if (n_entries < 100) {
        fprintf(stderr, "history_bench: N_ENTRIES must be >= 100\n");
        return 2;
    }
    hk_store_options o = {0};
    o.create = true;
    o.no_sync = true;
    o.map_size = 8ull << 30;
    hk_store *s = NULL;
    hk_error e;
    if (hk_store_open(argv[2], &o, &s, &e)) die("open", &e);
    hk_txn *t;
    hk_statement st = {.predicate = "Measures", .n_args = 2};
    st.args[0] = "Sensor";
    st.args[1] = "Reading";
    hk_fact_id id = 0;
    if (hk_txn_begin(s, true, &t, &e)) die("begin", &e);
    if (hk_store_add(t, &st, NULL, &id, NULL, &e)) die("add", &e);
    for (long i = 1; i < n_entries;) {
        for (long k = 0; k < 10000 && i < n_entries; k++, i++) {
            hk_fact_meta m = {HK_META_CONFIDENCE,
                              (double)(i % 1000) / 1000.0,
                              NULL,
                              0,
                              NULL,
                              NULL,
                              0,
                              0};
            if (hk_store_set_meta(t, id, &m, &e)) die("meta", &e);
        }
        if (hk_txn_commit(t, &e)) die("commit", &e);
        if (hk_txn_begin(s, true, &t, &e)) die("begin", &e);
    }
    if (hk_txn_commit(t, &e)) die("commit", &e);

    if (hk_txn_begin(s, false, &t, &e)) die("begin", &e);
    /* The fact's entries are seqs 1..n_entries: depth d starts at seq
     * n_entries - d. */
    printf("entries %ld, page %d, median of %d (microseconds)\n", n_entries,
           PAGE, REPS);
    printf("%8s %12s %12s %8s\n", "depth", "cursor", "long_read", "ratio");
    const long depths[] = {0, 1000, 10000, 90000};
    for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
        long d = depths[i];
        if (d + PAGE > n_entries) break;
        uint64_t first = (uint64_t)(n_entries - d);
        double c = time_page(t, id, d ? first + 1 : 0, PAGE, PAGE, first) * 1e6;
        double l =
            time_page(t, id, 0, (size_t)(d + PAGE), (size_t)(d + PAGE), first) *
            1e6;
        printf("%8ld %12.1f %12.1f %8.1f\n", d, c, l, l / c);
    }
    double v[REPS];
    for (int r = 0; r < REPS; r++) {
        hk_svc_history op = {.id = id, .limit = PAGE, .before_seq = 1000};
        double t0 = now_s();
        if (hk_svc_fact_history(t, &op, &e)) die("service history", &e);
        v[r] = now_s() - t0;
        if (op.n != PAGE || op.next_before != op.v[PAGE - 1].seq) {
            fprintf(stderr, "history_bench: wrong service page\n");
            exit(1);
        }
        hk_audit_entries_free(op.v, op.n);
    }
    qsort(v, REPS, sizeof *v, cmp);
    double store = time_page(t, id, 1000, PAGE, PAGE, 999);
    printf("service page with cursor probe %.1f us, store page %.1f us\n",
           v[REPS / 2] * 1e6, store * 1e6);
    hk_txn_abort(t);
    hk_store_close(s);
    printf("fact id %llu; KB left in %s\n", (unsigned long long)id, argv[2]);
    return 0;
}
