/*
 * json_bench.c — cost of rendering facts as JSON (hk_fact_write_json).
 *
 * The REST and MCP read paths spend most of their CPU turning stored facts
 * into JSON, so this measures exactly that step: a pool of facts of the
 * usual shape (2-3 short arguments, a source on most facts, 0-2 tags, a
 * small context on some, confidences such as 1.0, 0.95, 0.8 and an
 * occasional 1/3, times around now) is rendered N times into one reused
 * buffer, flushed every 100 facts like a result page.
 *
 * Output: ns/fact for each of R runs and their median, plus the total bytes
 * and an FNV-1a hash of everything written; then the median ns per
 * hk_time_format call (N calls per run) and a hash of the first texts. The hash
 * depends only on the output text, so two builds of the library (before and
 * after a change) that print the same hash rendered byte-identical JSON.
 *
 * Uses only the public API (hakgal.h) so that it builds against any
 * version of libhakgal.
 *
 *   json_bench [N facts, default 1000000] [R runs, default 5]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakgal.h"

#define POOL 4096 /* distinct facts, cycled */
#define PAGE 100  /* facts per flush, like a result page */

/* Storage for one synthetic fact's strings. */
typedef struct bench_fact {
    hk_fact f;        /* the fact, pointers into the arrays below */
    char pred[32];    /* predicate */
    char args[3][48]; /* argument texts */
    char source[48];  /* source text */
    char tags[2][24]; /* tag texts */
} bench_fact;

/* Deterministic xorshift so every build sees the same facts. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void make_fact(bench_fact *b, uint64_t i)
{
    static const char *preds[] = {"HasPart",     "IsA",    "LocatedIn",
                                  "HasProperty", "Causes", "PartOf"};
    static const char *words[] = {"Computer",       "CPU",           "Water",
                                  "Hydrogen",       "Berlin",        "Germany",
                                  "Photosynthesis", "Mitochondrion", "Paris",
                                  "Einstein"};
    static const char *sources[] = {"wikipedia", "manual entry",
                                    "import:kb-2024.jsonl", "hexagonal_core"};
    static const double confs[] = {1.0, 1.0,  1.0, 0.95,      0.9,
                                   0.8, 0.75, 0.5, 1.0 / 3.0, 0.123};
    hk_fact_init(&b->f);
    b->f.id = i + 1 + (rng() % 1000000);
    snprintf(b->pred, sizeof b->pred, "%s", preds[rng() % 6]);
    b->f.st.predicate = b->pred;
    b->f.st.n_args = 2 + (uint32_t)(rng() % 4 == 0);
    for (uint32_t a = 0; a < b->f.st.n_args; a++) {
        uint64_t r = rng();
        if (r % 8 == 0) /* some need quotes in the canonical form */
            snprintf(b->args[a], sizeof b->args[a], "%s %s, %u", words[r % 10],
                     words[(r >> 8) % 10], (unsigned)(r >> 20) % 1000);
        else
            snprintf(b->args[a], sizeof b->args[a], "%s_%u", words[r % 10],
                     (unsigned)(r >> 20) % 100000);
        b->f.st.args[a] = b->args[a];
    }
    b->f.confidence = confs[rng() % 10];
    if (rng() % 5) {
        snprintf(b->source, sizeof b->source, "%s", sources[rng() % 4]);
        b->f.source = b->source;
    }
    b->f.n_tags = (uint32_t)(rng() % 3);
    for (uint32_t t = 0; t < b->f.n_tags; t++) {
        snprintf(b->tags[t], sizeof b->tags[t], "tag%u",
                 (unsigned)(rng() % 50));
        b->f.tags[t] = b->tags[t];
    }
    if (rng() % 4 == 0) b->f.context_json = "{\"origin\":\"legacy\",\"n\":3}";
    b->f.created_us = INT64_C(1700000000000000) +
                      (int64_t)(rng() % UINT64_C(100000000000000));
    b->f.updated_us = b->f.created_us + (int64_t)(rng() % 1000000000);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || runs < 1 || runs > 100) {
        fprintf(stderr, "usage: json_bench [facts >= 1] [runs 1..100]\n");
        return 2;
    }
    bench_fact *pool = calloc(POOL, sizeof *pool);
    double *ns = calloc((size_t)runs, sizeof *ns);
    if (!pool || !ns) {
        fprintf(stderr, "json_bench: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < POOL; i++)
        make_fact(&pool[i], i);

    hk_buf out = HK_BUF_INIT;
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    uint64_t bytes = 0;
    int status = 0;
    /* Untimed pass: the hash and size of the output (and a warm cache). */
    for (long i = 0; i < n && status == 0; i++) {
        if (hk_fact_write_json(&pool[i % POOL].f, &out) != HK_OK) status = 1;
        if ((i + 1) % PAGE == 0 || i + 1 == n) {
            hash = fnv1a(hash, out.data, out.len);
            bytes += out.len;
            hk_buf_reset(&out);
        }
    }
    for (int r = 0; r < runs && status == 0; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            if (hk_fact_write_json(&pool[i % POOL].f, &out) != HK_OK) {
                status = 1;
                break;
            }
            if ((i + 1) % PAGE == 0) hk_buf_reset(&out);
        }
        ns[r] = (now_ns() - t0) / (double)n;
        printf("run %d: %.1f ns/fact\n", r + 1, ns[r]);
    }
    if (status != 0) fprintf(stderr, "json_bench: hk_fact_write_json failed\n");

    /* hk_time_format alone, on the pool's creation times. */
    double *time_ns = calloc((size_t)runs, sizeof *time_ns);
    uint64_t time_hash = UINT64_C(0xcbf29ce484222325);
    for (int r = 0; r < runs && status == 0 && time_ns; r++) {
        char text[32];
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            hk_time_format(pool[i % POOL].f.created_us + i, text);
            if (r == 0 && i < POOL) /* cheap: keeps the calls observable */
                time_hash = fnv1a(time_hash, text, strlen(text));
        }
        time_ns[r] = (now_ns() - t0) / (double)n;
    }
    if (status == 0) {
        qsort(ns, (size_t)runs, sizeof *ns, cmp_double);
        printf("facts=%ld runs=%d median=%.1f ns/fact bytes=%" PRIu64
               " fnv1a=%016" PRIx64 "\n",
               n, runs, ns[runs / 2], bytes, hash);
    }
    if (status == 0 && time_ns) {
        qsort(time_ns, (size_t)runs, sizeof *time_ns, cmp_double);
        printf("hk_time_format: median=%.1f ns/call fnv1a=%016" PRIx64 "\n",
               time_ns[runs / 2], time_hash);
    }
    free(time_ns);
    hk_buf_free(&out);
    free(ns);
    free(pool);
    return status;
}
