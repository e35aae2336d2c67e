/*
 * rules_bench.c — in-process timings of the rule engine on an existing KB
 * (bench/rules_closure.py builds the KBs and runs it):
 *
 *   rules_bench --data DIR --why STATEMENT [--reps N]
 *       latency of hkr_why_json (proof tree as JSON) on one read txn
 *   rules_bench --data DIR --toggle STATEMENT [--reps N]
 *       latency of adding and then deleting one asserted fact, each a
 *       durable write transaction in which the rule module maintains the
 *       derived facts (the change hook)
 *   rules_bench --data DIR --reason generic|flat [--reps N]
 *       hkr_materialize in a write txn that is aborted (nothing written
 *       to disk), with the generic evaluator (rules_fixpoint.c) or the
 *       id-level one (rules_flat.c): wall and thread CPU time of the
 *       fixpoint (eval, loading the facts included) and of the merge with
 *       the stored derived facts (store)
 *
 * Prints one JSON object with the median, p90 and min in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "reason/rules.h"
#include "reason/rules_int.h"
#include "service/svc_vector.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *us, int n, int64_t derived)
{
    qsort(us, (size_t)n, sizeof *us, cmp_i64);
    printf("{\"bench\":\"%s\",\"reps\":%d,\"median_ms\":%.4f,\"p90_ms\":%.4f,"
           "\"min_ms\":%.4f,\"derived_after\":%lld}\n",
           what, n, (double)us[n / 2] / 1000.0,
           (double)us[(n * 9) / 10] / 1000.0, (double)us[0] / 1000.0,
           (long long)derived);
}

static double median_ms(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return (double)v[n / 2] / 1000.0;
}

static int reason_bench(hk_store *s, const hkr_dbs *d, bool flat, int reps)
{
    int64_t *m = calloc((size_t)reps * 6, sizeof *m);
    if (!m) return 1;
    hkr_flat_set(flat);
    hkr_reason_res res;
    memset(&res, 0, sizeof res);
    for (int i = 0; i < reps; i++) {
        hk_txn *t = NULL;
        hk_error e;
        if (hk_txn_begin(s, true, &t, &e) ||
            hkr_materialize(t, d, NULL, NULL, &res, &e)) {
            fprintf(stderr, "reason: %s\n", e.message);
            if (t) hk_txn_abort(t);
            free(m);
            return 1;
        }
        hk_txn_abort(t);
        m[i] = res.eval_us;
        m[reps + i] = res.eval_cpu_us;
        m[2 * reps + i] = res.store_us;
        m[3 * reps + i] = res.store_cpu_us;
        m[4 * reps + i] = res.load_us;
        m[5 * reps + i] = res.load_cpu_us;
    }
    printf("{\"bench\":\"reason\",\"evaluator\":\"%s\",\"reps\":%d,"
           "\"derived\":%llu,\"rounds\":%llu,\"eval_ms\":%.3f,"
           "\"eval_cpu_ms\":%.3f,\"store_ms\":%.3f,\"store_cpu_ms\":%.3f,"
           "\"load_ms\":%.3f,\"load_cpu_ms\":%.3f}\n",
           flat ? "flat" : "generic", reps, (unsigned long long)res.derived,
           (unsigned long long)res.rounds, median_ms(m, reps),
           median_ms(m + reps, reps), median_ms(m + 2 * reps, reps),
           median_ms(m + 3 * reps, reps), median_ms(m + 4 * reps, reps),
           median_ms(m + 5 * reps, reps));
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *why = NULL, *toggle = NULL, *reason = NULL;
    int reps = 101;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            data = argv[i + 1];
        else if (strcmp(argv[i], "--why") == 0)
            why = argv[i + 1];
        else if (strcmp(argv[i], "--toggle") == 0)
            toggle = argv[i + 1];
        else if (strcmp(argv[i], "--reason") == 0)
            reason = argv[i + 1];
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    }
    if (!data || (!why && !toggle && !reason) || reps < 1 || reps > 100000) {
        fprintf(stderr, "usage: rules_bench --data DIR (--why S | --toggle S "
                        "| --reason generic|flat) [--reps N]\n");
        return 1;
    }
    hk_store_options o;
    memset(&o, 0, sizeof o);
    hk_store *s = NULL;
    hkv_store *vs = NULL;
    hk_error e;
    if (hk_svc_store_open(data, &o, &s, &vs, &e)) {
        fprintf(stderr, "open: %s\n", e.message);
        return 1;
    }
    hkr_dbs d;
    if (hkr_dbs_of(s, &d, &e)) {
        fprintf(stderr, "rules: %s\n", e.message);
        return 1;
    }
    if (reason) {
        int r = reason_bench(s, &d, strcmp(reason, "flat") == 0, reps);
        hk_svc_store_close(s, vs);
        return r;
    }
    int64_t *us = calloc((size_t)reps, sizeof *us);
    hk_statement st;
    const char *text = why ? why : toggle;
    if (!us || hk_statement_parse(text, strlen(text), &st, &e)) {
        fprintf(stderr, "statement: %s\n", e.message);
        return 1;
    }
    int rc = 0;
    uint64_t derived = 0;
    if (why) {
        hk_txn *t = NULL;
        hk_buf b = HK_BUF_INIT;
        if (hk_txn_begin(s, false, &t, &e)) return 1;
        for (int i = 0; i < reps && rc == 0; i++) {
            hk_buf_reset(&b);
            int64_t t0 = hk_now_us();
            if (hkr_why_json(t, &d, &st, &b, &e)) {
                fprintf(stderr, "why: %s\n", e.message);
                rc = 1;
            }
            us[i] = hk_now_us() - t0;
        }
        hkr_derived_count(t, &d, &derived, &e);
        hk_txn_abort(t);
        hk_buf_free(&b);
        if (!rc) report("why", us, reps, (int64_t)derived);
    } else {
        for (int i = 0; i < reps && rc == 0; i++) {
            hk_txn *t = NULL;
            int64_t t0 = hk_now_us();
            hk_fact_id id = 0;
            bool created = false;
            hk_err err = hk_txn_begin(s, true, &t, &e);
            if (!err) {
                if (i % 2 == 0) {
                    err = hk_store_add(t, &st, NULL, &id, &created, &e);
                } else {
                    err = hk_store_find(t, &st, &id, &e);
                    if (!err) err = hk_store_delete(t, id, &e);
                }
                if (err)
                    hk_txn_abort(t);
                else
                    err = hk_txn_commit(t, &e);
            }
            us[i] = hk_now_us() - t0;
            if (err) {
                fprintf(stderr, "write: %s\n", e.message);
                rc = 1;
            }
        }
        hk_txn *t = NULL;
        if (!hk_txn_begin(s, false, &t, &e)) {
            hkr_derived_count(t, &d, &derived, &e);
            hk_txn_abort(t);
        }
        if (!rc) report("toggle", us, reps, (int64_t)derived);
    }
    hk_statement_release(&st);
    free(us);
    hk_svc_store_close(s, vs);
    return rc;
}
