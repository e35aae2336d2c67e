/*
 * vec_kb.c — a KB holding the benchmark's vectors as fact vectors, for
 * bench/vec_http.py (search over HTTP, restart with the kept index).
 *
 *   vec_kb --base DIR/base.f32 --n N --dim D --kb KBDIR [--space S]
 *          [--int8] [--efc E] [--build]
 *
 * Creates the KB, a cosine space S (default "bench", float32 or int8, M 16,
 * ef_construction E, default 200) and N facts Vec(vI, bench) whose vector in S
 * is the I-th vector of base.f32, in transactions of 10000 facts through the
 * store API (hk_store_add + hkv_put, as an import does). --build then
 * acquires the space's index (built with the store's build threads) and
 * closes, which writes DIR/vector-S.hnsw beside the KB: what `hakgal
 * serve` reads at start instead of building.
 * Output: "kb n=... seconds=... rate=..." and "index build_seconds=...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/svc_vector.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const hk_error *err)
{
    fprintf(stderr, "vec_kb: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *base = NULL, *kb = NULL, *space = "bench";
    size_t n = 0, dim = 384, efc = 200;
    bool i8 = false, build = false;
    for (int i = 1; i < argc; i++) {
        bool val = i + 1 < argc;
        if (!strcmp(argv[i], "--base") && val)
            base = argv[++i];
        else if (!strcmp(argv[i], "--kb") && val)
            kb = argv[++i];
        else if (!strcmp(argv[i], "--space") && val)
            space = argv[++i];
        else if (!strcmp(argv[i], "--n") && val)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dim") && val)
            dim = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--efc") && val)
            efc = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--int8"))
            i8 = true;
        else if (!strcmp(argv[i], "--build"))
            build = true;
        else {
            fprintf(stderr, "usage: vec_kb --base FILE --n N --dim D --kb DIR "
                            "[--space S] [--int8] [--efc E] [--build]\n");
            return 1;
        }
    }
    if (!base || !kb || !n || !dim || dim > HKV_DIM_MAX || !efc || efc > 4096)
        return 1;
    FILE *f = fopen(base, "rb");
    if (!f) die(base, NULL);

    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.create = true;
    opt.no_sync = true;
    hk_store *s;
    hkv_store *vs;
    hk_error err;
    if (hk_svc_store_open(kb, &opt, &s, &vs, &err)) die("open", &err);
    hk_txn *t;
    hkv_space sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "%s", space);
    sp.params = (hkv_params){
        (uint32_t)dim, HKV_COSINE, i8 ? HKV_I8 : HKV_F32, 16, (uint32_t)efc, 0};
    if (hk_txn_begin(s, true, &t, &err) || hkv_space_create(vs, t, &sp, &err) ||
        hk_txn_commit(t, &err))
        die("space", &err);

    float *v = malloc(dim * sizeof *v);
    double t0 = now_s();
    size_t i = 0;
    /* bounded by n */
    while (i < n) {
        if (hk_txn_begin(s, true, &t, &err)) die("begin", &err);
        hk_txn_set_bulk(t, "vec_kb");
        for (size_t end = i + 10000 < n ? i + 10000 : n; i < end; i++) {
            char text[64];
            hk_statement st;
            hk_fact_id id;
            bool created;
            if (fread(v, sizeof *v, dim, f) != dim)
                die("short base file", NULL);
            snprintf(text, sizeof text, "Vec(v%zu, bench)", i);
            if (hk_statement_parse(text, strlen(text), &st, &err) ||
                hk_store_add(t, &st, NULL, &id, &created, &err) ||
                hkv_put(vs, t, space, id, v, (uint32_t)dim, &err))
                die("add", &err);
            hk_statement_release(&st);
        }
        if (hk_txn_commit(t, &err)) die("commit", &err);
    }
    double dt = now_s() - t0;
    printf("kb n=%zu dim=%zu quant=%s seconds=%.1f rate=%.0f\n", n, dim,
           i8 ? "int8" : "float32", dt, (double)n / dt);
    fflush(stdout);
    free(v);
    fclose(f);
    if (hk_store_sync(s, &err)) die("sync", &err);
    if (build) {
        const hkv_index *ix;
        hkv_kept *ref;
        t0 = now_s();
        if (hk_txn_begin(s, false, &t, &err) ||
            hkv_index_acquire(vs, t, space, &ix, &ref, &err))
            die("index", &err);
        uint64_t live = hkv_index_count(ix);
        hkv_index_release(ref);
        hk_txn_abort(t);
        double bt = now_s() - t0;
        hk_svc_store_close(s, vs); /* writes the index file */
        printf("index n=%llu build_seconds=%.1f rate=%.0f "
               "write_seconds=%.1f\n",
               (unsigned long long)live, bt, (double)live / bt,
               now_s() - t0 - bt);
        return 0;
    }
    hk_svc_store_close(s, vs);
    return 0;
}
