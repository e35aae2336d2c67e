/*
 * vec_synth.c — the index-file loader at a size this machine cannot build
 * in an evening (1M vectors), and the bytes per vector of that index.
 *
 *   vec_synth make FILE BASE.f32 N DIM f32|i8   write an index file
 *   vec_synth read FILE                         one timed read + a search
 *
 * `make` writes an index of the N first vectors of BASE.f32 (cosine, M 16)
 * whose graph is NOT an HNSW graph: levels are drawn as hkv_index_add
 * draws them, every list is filled to its capacity with random nodes of a
 * high enough level, so the file has the size, layout and link counts of
 * a full build and passes every check of hkv_index_read. It measures the
 * loader (map, hash, link checks, id map), not search quality: searches
 * on it return valid but arbitrary neighbours.
 * `read` times hkv_index_read in a fresh process, as at a restart (wall
 * and the process's CPU seconds), then one search (the first answer).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec c;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    return (double)c.tv_sec + (double)c.tv_nsec / 1e9;
}

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static int make(const char *path, const char *base, size_t n, uint32_t dim,
                bool i8)
{
    hkv_params p = {dim, HKV_COSINE, i8 ? HKV_I8 : HKV_F32, 16, 16, 0};
    hkv_index *ix;
    hk_error err;
    if (hkv_index_new(&p, &ix, &err)) return 1;
    ix->nodes = calloc(n, sizeof *ix->nodes);
    uint32_t *by_level[17] = {0};
    size_t n_level[17] = {0};
    float *v = malloc(dim * sizeof *v);
    FILE *f = fopen(base, "rb");
    if (!ix->nodes || !v || !f) return 1;
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(next() >> 11) + 1.0) / 9007199254740993.0;
        double l = -log(u) * ix->level_mult;
        uint32_t level = l >= 16 ? 16 : (uint32_t)l;
        hnsw_node *nd = &ix->nodes[i];
        nd->id = i;
        nd->level = (uint16_t)level;
        nd->data = calloc(ix->vstride + hnsw_link_words(ix, level) * 4, 1);
        if (!nd->data || fread(v, sizeof *v, dim, f) != dim) return 1;
        double n2 = 0;
        for (uint32_t d = 0; d < dim; d++)
            n2 += (double)v[d] * v[d];
        float inv = (float)(1.0 / sqrt(n2));
        for (uint32_t d = 0; d < dim; d++)
            v[d] *= inv;
        nd->norm2 = 1;
        if (i8) {
            float mx = 0;
            for (uint32_t d = 0; d < dim; d++)
                mx = fabsf(v[d]) > mx ? fabsf(v[d]) : mx;
            nd->scale = mx / 127.0f;
            for (uint32_t d = 0; d < dim; d++)
                ((int8_t *)nd->data)[d] = (int8_t)lrintf(v[d] / nd->scale);
        } else {
            memcpy(nd->data, v, dim * sizeof *v);
        }
        for (uint32_t k = 0; k <= level; k++) {
            by_level[k] =
                realloc(by_level[k], (n_level[k] + 1) * sizeof *by_level[k]);
            by_level[k][n_level[k]++] = (uint32_t)i;
        }
        if (level > ix->max_level || i == 0) {
            ix->max_level = level;
            ix->entry = (uint32_t)i;
        }
        ix->n_nodes = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        hnsw_node *nd = &ix->nodes[i];
        uint32_t *lk = hnsw_links(ix, nd);
        for (uint32_t k = 0; k <= nd->level; k++) {
            uint32_t max = k == 0 ? ix->m0 : ix->p.m;
            uint32_t cnt = 0;
            for (uint32_t t = 0; t < 4 * max && cnt < max; t++) {
                uint32_t b = by_level[k][next() % n_level[k]];
                if (b != i) lk[1 + cnt++] = b;
            }
            lk[0] = cnt;
            lk += 1 + max;
        }
    }
    ix->n_live = n;
    ix->cap_nodes = (uint32_t)n;
    if (hnsw_map_rebuild(ix)) return 1;
    printf("synth n=%zu quant=%s bytes_per_vector=%.1f\n", n, i8 ? "i8" : "f32",
           (double)hkv_index_bytes(ix) / (double)n);
    double t0 = now_s();
    if (hkv_index_save(ix, path, "synth", 5, &err)) {
        fprintf(stderr, "save: %s\n", err.message);
        return 1;
    }
    printf("synth save_s=%.2f\n", now_s() - t0);
    fclose(f);
    free(v);
    hkv_index_free(ix);
    return 0;
}

static int timed_read(const char *path)
{
    hkv_index *ix = NULL;
    hk_error err;
    char meta[HKV_FILE_META_MAX];
    size_t ml;
    double t0 = now_s(), c0 = cpu_s();
    if (hkv_index_read(path, &ix, meta, sizeof meta, &ml, &err)) {
        fprintf(stderr, "read %s: %s\n", path, err.message);
        return 1;
    }
    double t1 = now_s(), c1 = cpu_s();
    float *q = malloc(ix->p.dim * sizeof *q);
    for (uint32_t d = 0; d < ix->p.dim; d++)
        q[d] = (float)(next() % 1000) / 1000.0f - 0.5f;
    hkv_hit h[10];
    size_t nh;
    hkv_search_opts o = {10, 64, NULL, NULL, NULL};
    if (hkv_index_search(ix, q, &o, h, &nh, &err)) return 1;
    printf("read n=%llu read_s=%.3f read_cpu_s=%.3f first_search_s=%.3f "
           "total_cpu_s=%.3f bytes_per_vector=%.1f hits=%zu\n",
           (unsigned long long)hkv_index_count(ix), t1 - t0, c1 - c0,
           now_s() - t1, cpu_s(),
           (double)hkv_index_bytes(ix) / (double)ix->n_nodes, nh);
    free(q);
    hkv_index_free(ix);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "make"))
        return make(argv[2], argv[3], strtoull(argv[4], NULL, 10),
                    (uint32_t)strtoul(argv[5], NULL, 10),
                    !strcmp(argv[6], "i8"));
    if (argc == 3 && !strcmp(argv[1], "read")) return timed_read(argv[2]);
    fprintf(stderr, "usage: vec_synth make FILE BASE N DIM f32|i8 | "
                    "read FILE\n");
    return 2;
}
