/*
 * graph_bench.c — traversal and analytics on an existing KB (for example
 * the synthetic KB of `make bench`, loaded with `hakgal import`):
 *
 *   graph_bench --data DIR [--pairs N] [--seed S] [--anchor-pairs M]
 *
 * 0. the path snapshot: build + reverse index (what hk_graph_paths builds
 *    once per KB state), seconds and bytes per edge;
 * 1. shortest path (k = 1, max_len 6, undirected) between N pairs of
 *    entities drawn from random facts: p50 / p90 / p99 latency, found
 *    ratio, mean length; then the anchor, the walk over the store's
 *    adjacency index (forced by a deny list naming no predicate), for the
 *    first M pairs (default N / 10; 0 skips the anchors), with the
 *    lengths compared;
 * 2. the 5 shortest simple paths (max_len 4) for N / 10 of those pairs,
 *    and the anchor walk (depth-first enumeration) for the first M / 4;
 * 3. neighbourhood depth 2 (fan-out 100, at most 2000 edges) of N / 10
 *    entities;
 * 4. snapshot build + PageRank (igraph PRPACK) + weak components, as
 *    `hakgal analyze` runs them: seconds, snapshot bytes per edge, peak RSS.
 * One read transaction; single thread. Prints one line per measurement.
 */
#include "core/clock.h"
#include "graph/graph.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void report(const char *what, int64_t *us, size_t n)
{
    if (n == 0) return;
    qsort(us, n, sizeof *us, cmp_i64);
    printf("%-28s n=%zu p50=%.1f us p90=%.1f us p99=%.1f us max=%.1f us\n",
           what, n, (double)us[n / 2], (double)us[n * 9 / 10],
           (double)us[n * 99 / 100], (double)us[n - 1]);
}

/* An entity of a random live fact (its first argument), copied to out. */
static bool random_entity(hk_txn *t, uint64_t last, uint64_t *seed, char *out,
                          size_t cap)
{
    for (int tries = 0; tries < 100; tries++) {
        hks_fact_syms fs;
        hk_error err;
        hk_fact_id id = 1 + next_rand(seed) % last;
        if (hks_fact_syms_get(t, id, &fs, &err) != HK_OK) continue;
        const char *s;
        size_t len;
        uint32_t a = fs.args[next_rand(seed) % fs.n_args];
        if (hks_sym_str(t, a, &s, &len, &err) != HK_OK || len + 1 > cap)
            continue;
        memcpy(out, s, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    size_t pairs = 1000, anchor = SIZE_MAX; /* SIZE_MAX: pairs / 10 */
    uint64_t seed = 42;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--pairs"))
            pairs = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--anchor-pairs"))
            anchor = strtoull(argv[i + 1], NULL, 10);
    }
    if (anchor == SIZE_MAX || anchor > pairs) anchor = pairs / 10;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!dir || pairs < 10) {
        fprintf(stderr, "usage: graph_bench --data DIR [--pairs N>=10] "
                        "[--seed S]\n");
        return 2;
    }
    hk_store_options o = {0};
    o.read_only = true;
    hk_store *s = NULL;
    hk_error err;
    if (hk_store_open(dir, &o, &s, &err) != HK_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    hk_txn *t = NULL;
    hk_stats st;
    if (hk_txn_begin(s, false, &t, &err) != HK_OK ||
        hk_store_stats(t, &st, &err) != HK_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("kb %s: %llu facts\n", dir, (unsigned long long)st.facts);
    int64_t *us = calloc(pairs, sizeof *us);
    char(*from)[HK_MAX_ARG_BYTES + 1] = calloc(pairs, sizeof *from);
    char(*to)[HK_MAX_ARG_BYTES + 1] = calloc(pairs, sizeof *to);
    if (!us || !from || !to) return 1;
    for (size_t i = 0; i < pairs; i++)
        if (!random_entity(t, st.last_fact_id, &seed, from[i],
                           sizeof from[i]) ||
            !random_entity(t, st.last_fact_id, &seed, to[i], sizeof to[i]))
            return 1;

    /* 0. the path snapshot */
    hk_graph_snapshot_cache_clear();
    hk_graph_snapref *ref = NULL;
    const hk_graph_snapshot *ps = NULL;
    int64_t b0 = hk_now_us();
    if (hk_graph_snapshot_acquire(t, true, &ref, &ps, &err) != HK_OK) {
        fprintf(stderr, "path snapshot: %s\n", err.message);
        return 1;
    }
    printf("path snapshot: %u vertices, %llu edges, %.1f MB, %.2f bytes/edge, "
           "built + indexed in %.2f s\n",
           ps->n_vertices, (unsigned long long)ps->n_edges,
           (double)hk_graph_snapshot_bytes(ps) / 1e6,
           (double)hk_graph_snapshot_bytes(ps) / (double)ps->n_edges,
           (double)(hk_now_us() - b0) / 1e6);
    hk_graph_snapshot_release(ref);

    /* 1. shortest path: snapshot, then the walk for the first pairs */
    unsigned *lens = calloc(pairs, sizeof *lens);
    if (!lens) return 1;
    static const char *const no_pred[] = {"graph_bench: no such predicate"};
    for (int walk = 0; walk < 2; walk++) {
        size_t n = walk ? anchor : pairs, found = 0, len_sum = 0, differ = 0;
        for (size_t i = 0; i < n; i++) {
            hk_graph_path_req req = {0};
            req.from = from[i];
            req.to = to[i];
            req.max_len = 6;
            req.k = 1;
            if (walk) {
                req.filter.deny = no_pred;
                req.filter.n_deny = 1;
            }
            hk_graph_path_res res;
            int64_t t0 = hk_now_us();
            hk_err rc = hk_graph_paths(t, &req, &res, &err);
            us[i] = hk_now_us() - t0;
            if (rc != HK_OK) {
                fprintf(stderr, "path: %s\n", err.message);
                return 1;
            }
            unsigned len = res.n_paths ? (unsigned)res.paths[0].length + 1 : 0;
            if (res.n_paths) {
                found++;
                len_sum += res.paths[0].length;
            }
            if (!walk) lens[i] = len;
            if (walk && lens[i] != len) differ++;
            hk_graph_path_res_free(&res);
        }
        if (n == 0) continue;
        report(walk ? "shortest path, walk (anchor)" : "shortest path (k=1)",
               us, n);
        printf("  found %zu of %zu, mean length %.2f", found, n,
               found ? (double)len_sum / (double)found : 0.0);
        if (walk)
            printf(", lengths differing from the snapshot's: %zu", differ);
        printf("\n");
    }
    free(lens);

    /* 2. k shortest: snapshot (Yen), then the walk for a few pairs */
    size_t nk = pairs / 10;
    for (int walk = 0; walk < 2; walk++) {
        size_t n = walk ? anchor / 4 : nk, failed = 0;
        for (size_t i = 0; i < n; i++) {
            hk_graph_path_req req = {0};
            req.from = from[i];
            req.to = to[i];
            req.max_len = 4;
            req.k = 5;
            if (walk) {
                req.filter.deny = no_pred;
                req.filter.n_deny = 1;
            }
            hk_graph_path_res res;
            int64_t t0 = hk_now_us();
            hk_err rc = hk_graph_paths(t, &req, &res, &err);
            us[i] = hk_now_us() - t0;
            if (rc == HK_OK)
                hk_graph_path_res_free(&res);
            else
                failed++; /* the walk's row budget */
        }
        report(walk ? "5 shortest, walk (anchor)"
                    : "5 shortest paths (max_len 4)",
               us, n);
        if (failed) printf("  %zu stopped by the row budget\n", failed);
    }

    /* 3. neighbourhood */
    for (size_t i = 0; i < nk; i++) {
        hk_graph_hood_req req = {0};
        req.entity = from[i];
        req.depth = 2;
        req.fanout = 100;
        hk_graph_walk_res res;
        int64_t t0 = hk_now_us();
        hk_err rc = hk_graph_neighbours(t, &req, &res, &err);
        us[i] = hk_now_us() - t0;
        if (rc == HK_OK) hk_graph_walk_res_free(&res);
    }
    report("neighbours depth 2", us, nk);

    /* 4. analytics */
    hk_graph_snapshot snap;
    int64_t t0 = hk_now_us();
    if (hk_graph_snapshot_build(t, &snap, NULL, NULL, &err) != HK_OK) {
        fprintf(stderr, "snapshot: %s\n", err.message);
        return 1;
    }
    int64_t t1 = hk_now_us();
    hk_graph_analysis_res res;
    if (hk_graph_analyze(t, &snap, HK_GRAPH_PAGERANK, 10, &res, &err) !=
        HK_OK) {
        fprintf(stderr, "pagerank: %s\n", err.message);
        return 1;
    }
    int64_t t2 = hk_now_us();
    hk_graph_analysis_res_free(&res);
    if (hk_graph_analyze(t, &snap, HK_GRAPH_COMPONENTS, 10, &res, &err) !=
        HK_OK) {
        fprintf(stderr, "components: %s\n", err.message);
        return 1;
    }
    int64_t t3 = hk_now_us();
    printf("snapshot: %u vertices, %llu edges, %.1f MB, %.2f bytes/edge, "
           "built in %.2f s\n",
           snap.n_vertices, (unsigned long long)snap.n_edges,
           (double)hk_graph_snapshot_bytes(&snap) / 1e6,
           (double)hk_graph_snapshot_bytes(&snap) / (double)snap.n_edges,
           (double)(t1 - t0) / 1e6);
    printf("pagerank (PRPACK): %.2f s; snapshot + pagerank %.2f s\n",
           (double)(t2 - t1) / 1e6, (double)(t2 - t0) / 1e6);
    printf("components: %.2f s, %llu components, largest %.0f\n",
           (double)(t3 - t2) / 1e6, (unsigned long long)res.groups,
           res.n_top ? res.top[0].score : 0.0);
    hk_graph_analysis_res_free(&res);
    hk_graph_snapshot_free(&snap);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    hk_txn_abort(t);
    hk_store_close(s);
    free(us);
    free(from);
    free(to);
    return 0;
}
