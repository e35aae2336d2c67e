/*
 * vec_load.c — times hkv_index_read on a saved index file against an
 * anchor reader (the same function from another commit, compiled in as
 * hkv_index_read_anchor by bench/vec_load/run.sh, which alternates the two
 * in fresh processes and takes medians), and checks that both indexes
 * answer the same.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vector/vector.h"
#include "vector/vector_int.h"

hk_err hkv_index_read_anchor(const char *path, hkv_index **out, void *meta,
                             size_t meta_cap, size_t *meta_len, hk_error *err);

typedef hk_err (*read_fn)(const char *, hkv_index **, void *, size_t, size_t *,
                          hk_error *);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static hkv_index *load(read_fn f, const char *path, double *secs)
{
    hkv_index *ix = NULL;
    hk_error err;
    char meta[HKV_FILE_META_MAX];
    size_t ml;
    double t0 = now_s();
    if (f(path, &ix, meta, sizeof meta, &ml, &err)) {
        fprintf(stderr, "read %s: %s\n", path, err.message);
        exit(1);
    }
    *secs = now_s() - t0;
    return ix;
}

/* Both readers' indexes answer 50 random queries the same. */
static int check(const char *path)
{
    double t;
    hkv_index *a = load(hkv_index_read_anchor, path, &t);
    hkv_index *n = load(hkv_index_read, path, &t);
    uint32_t dim = n->p.dim;
    unsigned seed = 1;
    float *q = malloc(dim * sizeof *q);
    for (int i = 0; i < 50; i++) {
        for (uint32_t d = 0; d < dim; d++)
            q[d] = (float)rand_r(&seed) / (float)RAND_MAX - 0.5f;
        hkv_hit ha[10], hn[10];
        size_t na, nn;
        hk_error err;
        hkv_search_opts o = {10, 64, NULL, NULL, NULL};
        bool same = !hkv_index_search(a, q, &o, ha, &na, &err) &&
                    !hkv_index_search(n, q, &o, hn, &nn, &err) && na == nn;
        for (size_t j = 0; same && j < na; j++)
            same = ha[j].id == hn[j].id && ha[j].distance == hn[j].distance;
        if (!same) {
            fprintf(stderr, "answers differ\n");
            return 1;
        }
    }
    free(q);
    printf("n=%llu dim=%u: 50 searches answer the same\n",
           (unsigned long long)hkv_index_count(n), dim);
    hkv_index_free(a);
    hkv_index_free(n);
    return 0;
}

/* vec_load FILE anchor|new: one read in this (fresh) process, as at a
 * restart; vec_load FILE check: both read and answer the same. */
int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vec_load FILE anchor|new|check\n");
        return 2;
    }
    if (!strcmp(argv[2], "check")) return check(argv[1]);
    double t;
    hkv_index *ix =
        load(strcmp(argv[2], "anchor") ? hkv_index_read : hkv_index_read_anchor,
             argv[1], &t);
    struct timespec c;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    /* cpu_s: the whole process's CPU time (the read is nearly all of it);
     * on a loaded machine it is steadier than the wall time */
    printf("%s cpu_s=%.3f read_s=%.3f\n", argv[2],
           (double)c.tv_sec + (double)c.tv_nsec / 1e9, t);
    hkv_index_free(ix);
    return 0;
}
