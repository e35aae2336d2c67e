/*
 * growth_bench.c — facts added per day: the per-day counters
 * (hk_svc_growth_daily, O(days)) against the scan of every fact record
 * (hk_svc_growth, the anchor), on one KB, and the one-time backfill of
 * the counters for a KB that predates them.
 *
 *   growth_bench [N_FACTS] [DIR]     (default 1000000, a temporary dir)
 *
 * Builds a KB of N_FACTS facts with the plain store API (no counters'
 * hook, one audit entry per fact, 10000 facts per transaction), then
 * times: the scan (median of 5), the counters read folding the whole log
 * (no counters yet, median of 5), the backfill (hk_svc_store_open, once),
 * and the counters read after it (median of 5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "service/service.h"
#include "service/svc_vector.h"

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

static double median5(double *v)
{
    qsort(v, 5, sizeof *v, cmp);
    return v[2];
}

static void die(const char *what, const hk_error *e)
{
    fprintf(stderr, "growth_bench: %s: %s\n", what, e->message);
    exit(1);
}

/* Adds facts E<from>..E<from+n-1> in transactions of per_txn facts;
 * returns the seconds taken. */
static double add_facts(hk_store *s, long from, long n, long per_txn)
{
    hk_error e;
    double t0 = now_s();
    for (long i = from; i < from + n;) {
        hk_txn *t;
        if (hk_txn_begin(s, true, &t, &e)) die("begin", &e);
        for (long k = 0; k < per_txn && i < from + n; k++, i++) {
            char a[32], b[32];
            snprintf(a, sizeof a, "E%ld", i);
            snprintf(b, sizeof b, "F%ld", (i * 7919) % 100003);
            hk_statement st;
            memset(&st, 0, sizeof st);
            st.predicate = "Rel";
            st.args[0] = a;
            st.args[1] = b;
            st.n_args = 2;
            hk_fact_id id;
            bool created;
            if (hk_store_add(t, &st, NULL, &id, &created, &e)) die("add", &e);
        }
        if (hk_txn_commit(t, &e)) die("commit", &e);
    }
    return now_s() - t0;
}

/* Seconds of one read: the scan (daily false) or the counters. */
static double one_read(hk_store *s, bool daily, uint64_t *total)
{
    hk_error e;
    hk_txn *t;
    if (hk_txn_begin(s, false, &t, &e)) die("begin", &e);
    double t0 = now_s();
    if (daily) {
        hk_svc_growth_daily_req rq = {s, 30, 0};
        hk_svc_growth_daily_res rs;
        if (hk_svc_growth_daily(t, &rq, &rs, &e)) die("daily", &e);
        *total = rs.total_added;
        hk_svc_growth_daily_res_free(&rs);
    } else {
        hk_svc_growth_req rq = {30, 0};
        hk_svc_growth_res rs;
        if (hk_svc_growth(t, &rq, &rs, &e)) die("scan", &e);
        *total = rs.total;
        hk_svc_growth_res_free(&rs);
    }
    double dt = now_s() - t0;
    hk_txn_abort(t);
    return dt;
}

static double median_read(hk_store *s, bool daily, uint64_t *total)
{
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = one_read(s, daily, total);
    return median5(v);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char tmpl[] = "/tmp/growth-bench-XXXXXX";
    const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
    if (n < 1 || !dir) {
        fprintf(stderr, "usage: growth_bench [N_FACTS] [DIR]\n");
        return 2;
    }
    hk_store_options o;
    memset(&o, 0, sizeof o);
    o.create = true;
    o.no_sync = true;
    hk_store *s;
    hk_error e;
    if (hk_store_open(dir, &o, &s, &e)) die("open", &e);
    double t0 = now_s();
    add_facts(s, 0, n, 10000);
    printf("built %ld facts (%ld audit entries) in %.1f s\n", n, n,
           now_s() - t0);
    uint64_t tot_scan, tot_fold, tot_daily;
    double scan = median_read(s, false, &tot_scan);
    double fold = median_read(s, true, &tot_fold);
    hk_store_close(s);
    /* the backfill: the first writable open with the counters */
    o.create = false;
    hkv_store *vs;
    t0 = now_s();
    if (hk_svc_store_open(dir, &o, &s, &vs, &e)) die("attach", &e);
    double backfill = now_s() - t0;
    double daily = median_read(s, true, &tot_daily);
    /* the hook's cost on writes: 5 rounds of 2000 facts in transactions
     * of 10, with the hook (this handle) and without (a plain handle),
     * alternating */
    double with[5], without[5];
    long next = n;
    for (int r = 0; r < 5; r++) {
        with[r] = add_facts(s, next, 2000, 10);
        next += 2000;
        hk_svc_store_close(s, vs);
        if (hk_store_open(dir, &o, &s, &e)) die("open", &e);
        without[r] = add_facts(s, next, 2000, 10);
        next += 2000;
        hk_store_close(s);
        if (hk_svc_store_open(dir, &o, &s, &vs, &e)) die("attach", &e);
    }
    /* the plain handle's adds are folded by the next change or read */
    uint64_t tot_after;
    double after = median_read(s, true, &tot_after);
    hk_svc_store_close(s, vs);
    double hw = median5(with), hwo = median5(without);
    if (tot_after != (uint64_t)next) {
        fprintf(stderr, "growth_bench: counted %llu of %ld facts\n",
                (unsigned long long)tot_after, next);
        return 1;
    }
    printf("scan of every fact (anchor)      %10.3f ms  total %llu\n",
           scan * 1e3, (unsigned long long)tot_scan);
    printf("counters, whole log folded       %10.3f ms  total %llu\n",
           fold * 1e3, (unsigned long long)tot_fold);
    printf("backfill (first writable open)   %10.3f ms  (%.0f entries/s)\n",
           backfill * 1e3, (double)n / backfill);
    printf("counters, after the backfill     %10.3f ms  total %llu\n",
           daily * 1e3, (unsigned long long)tot_daily);
    printf("scan / counters                  %10.0f x\n", scan / daily);
    printf("2000 adds (txns of 10), hook     %10.3f ms\n", hw * 1e3);
    printf("2000 adds (txns of 10), no hook  %10.3f ms  (with/without "
           "%.2f)\n",
           hwo * 1e3, hw / hwo);
    printf("counters after mixed writers     %10.3f ms  total %llu\n",
           after * 1e3, (unsigned long long)tot_after);
    return tot_scan == (uint64_t)n && tot_fold == (uint64_t)n &&
                   tot_daily == (uint64_t)n
               ? 0
               : 1;
}
