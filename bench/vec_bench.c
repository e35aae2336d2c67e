/*
 * vec_bench.c — the HNSW index of src/vector on clustered vectors, with
 * exact ground truth, and the files the hnswlib anchor reads
 * (bench/vec_run.sh runs both in one run).
 *
 *   vec_bench --n N --dim D --queries Q --m M --efc EFC --dir DIR
 *             [--data iso|embed] [--clusters C] [--rank K] [--decay R]
 *             [--spread S] [--noise E]
 *
 * 1. generates N base and Q query vectors (deterministic, xorshift seed),
 *    writes DIR/base.f32 and DIR/query.f32. Two shapes of data:
 *    - iso (the default): 100 Gaussian clusters with isotropic noise in
 *      every dimension. Inside a cluster the intrinsic dimension is the
 *      full D: the hardest case for any graph index;
 *    - embed: shaped like sentence embeddings, whose variance lies in a
 *      few dozen directions. C clusters (default 1000) of uneven sizes
 *      (log-normal weights); cluster c has a unit centroid and K random
 *      unit directions (default 32) with standard deviations S * R^j
 *      (j = 0..K-1, defaults S 0.15, R 1: a flat spectrum), plus
 *      isotropic noise of total norm E (default 0.1); every vector is
 *      then L2-normalised. The defaults are calibrated (at 100k only so
 *      far) against hnswlib's recall in bench/RESULTS.md; DIR/data.txt
 *      records them, and an earlier run's files are reused only when it
 *      matches;
 * 2. computes the exact top 10 of every query by cosine (2 threads),
 *    writes DIR/gt.u64; when DIR already holds the three files of this
 *    N, dim and Q (an earlier run), they are read instead: the ground
 *    truth of a large N is computed once;
 * 3. builds the float32 index with one thread, then again with two
 *    (hkv_index_add_batch), and reports vectors/s and bytes per vector;
 * 4. for ef in 16..512: recall@10 and queries/s with 1 and 2 threads (the
 *    two-thread build: ef 32 and 64);
 * 5. writes the index file (hkv_index_save) and reads it back
 *    (hkv_index_read): the restart path, next to a rebuild;
 * 6. the same for int8 (built with two threads);
 * 7. filtered search at 1% selectivity (every 100th id): recall@10 against
 *    the exact filtered answer, once as the service runs it (the exact
 *    scan below the threshold) and once forced through the graph.
 * VEC_BENCH_SKIP1=1 skips the one-thread builds (large N, little time).
 * Output: one line per measurement, "hakgal <what> key=value ...".
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "vector/vector.h"

#define TOPK 10

static size_t g_n = 50000, g_dim = 384, g_q = 1000;
static float *g_base, *g_query;
static uint64_t *g_gt;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system, all threads) of this process so far: on a
 * shared machine the fair measure beside wall-clock rates. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((double)(g_rng >> 11) + 0.5) / 9007199254740992.0;
}
static float grand(void)
{
    return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
}

static void generate(void)
{
    size_t nc = 100;
    float *cent = malloc(nc * g_dim * sizeof *cent);
    g_base = malloc(g_n * g_dim * sizeof *g_base);
    g_query = malloc(g_q * g_dim * sizeof *g_query);
    for (size_t i = 0; i < nc * g_dim; i++)
        cent[i] = grand();
    for (size_t i = 0; i < g_n + g_q; i++) {
        size_t c = (size_t)(urand() * (double)nc) % nc;
        float *v = i < g_n ? g_base + i * g_dim : g_query + (i - g_n) * g_dim;
        for (size_t d = 0; d < g_dim; d++)
            v[d] = cent[c * g_dim + d] + 0.6f * grand();
    }
    free(cent);
}

/* The embed data's parameters (see the file-top comment). */
static bool g_embed;
static size_t g_clusters = 1000, g_rank = 32;
static double g_decay = 1.0, g_spread = 0.15, g_noise = 0.1;

/* A Gaussian vector of dim d scaled to norm `norm` (only its direction is
 * random). */
static void random_dir(float *v, size_t d, double norm)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) {
        v[i] = grand();
        s += (double)v[i] * v[i];
    }
    float k = (float)(norm / sqrt(s));
    for (size_t i = 0; i < d; i++)
        v[i] *= k;
}

static void generate_embed(void)
{
    size_t nc = g_clusters, k = g_rank, d = g_dim;
    float *cent = malloc(nc * d * sizeof *cent);
    float *dirs = malloc(nc * k * d * sizeof *dirs);
    double *cum = malloc(nc * sizeof *cum);
    double *sd = malloc(k * sizeof *sd);
    g_base = malloc(g_n * d * sizeof *g_base);
    g_query = malloc(g_q * d * sizeof *g_query);
    if (!cent || !dirs || !cum || !sd || !g_base || !g_query) exit(1);
    double total = 0;
    for (size_t c = 0; c < nc; c++) {
        random_dir(cent + c * d, d, 1.0);
        for (size_t j = 0; j < k; j++)
            random_dir(dirs + (c * k + j) * d, d, 1.0);
        /* log-normal weights: a few large topics, a long tail of small */
        total += exp((double)grand());
        cum[c] = total;
    }
    for (size_t j = 0; j < k; j++)
        sd[j] = g_spread * pow(g_decay, (double)j);
    /* isotropic noise of total norm g_noise: per dimension g_noise/sqrt(d) */
    float iso = (float)(g_noise / sqrt((double)d));
    for (size_t i = 0; i < g_n + g_q; i++) {
        double u = urand() * total;
        size_t lo = 0, hi = nc - 1; /* first c with cum[c] >= u */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        float *v = i < g_n ? g_base + i * d : g_query + (i - g_n) * d;
        memcpy(v, cent + lo * d, d * sizeof *v);
        for (size_t j = 0; j < k; j++) {
            float a = (float)(sd[j] * grand());
            const float *b = dirs + (lo * k + j) * d;
            for (size_t x = 0; x < d; x++)
                v[x] += a * b[x];
        }
        double s = 0;
        for (size_t x = 0; x < d; x++) {
            v[x] += iso * grand();
            s += (double)v[x] * v[x];
        }
        float inv = (float)(1.0 / sqrt(s));
        for (size_t x = 0; x < d; x++)
            v[x] *= inv;
    }
    free(cent);
    free(dirs);
    free(cum);
    free(sd);
}

/* The line DIR/data.txt holds for the embed data: its parameters. */
static void data_params(char *buf, size_t cap)
{
    snprintf(buf, cap,
             "data=embed n=%zu dim=%zu queries=%zu clusters=%zu rank=%zu "
             "decay=%g spread=%g noise=%g\n",
             g_n, g_dim, g_q, g_clusters, g_rank, g_decay, g_spread, g_noise);
}

static void write_file(const char *dir, const char *name, const void *p,
                       size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Reads DIR/name into p when it holds exactly `bytes` bytes. */
static bool read_file(const char *dir, const char *name, void *p, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fseek(f, 0, SEEK_END) == 0 && ftell(f) == (long)bytes &&
              fseek(f, 0, SEEK_SET) == 0 && fread(p, 1, bytes, f) == bytes;
    fclose(f);
    return ok;
}

/* The data of an earlier run of the same sizes in dir, if complete. */
static bool read_data(const char *dir)
{
    g_base = malloc(g_n * g_dim * sizeof *g_base);
    g_query = malloc(g_q * g_dim * sizeof *g_query);
    g_gt = malloc(g_q * TOPK * sizeof *g_gt);
    if (!g_base || !g_query || !g_gt) exit(1);
    char want[256], have[256] = {0};
    data_params(want, sizeof want);
    /* embed data: only the files of the same parameters (iso data predates
     * data.txt and is identified by its sizes alone) */
    bool same = !g_embed || (read_file(dir, "data.txt", have, strlen(want)) &&
                             !strcmp(have, want));
    if (same &&
        read_file(dir, "base.f32", g_base, g_n * g_dim * sizeof(float)) &&
        read_file(dir, "query.f32", g_query, g_q * g_dim * sizeof(float)) &&
        read_file(dir, "gt.u64", g_gt, g_q * TOPK * sizeof(uint64_t)))
        return true;
    free(g_base);
    free(g_query);
    free(g_gt);
    return false;
}

/* ==== Ground truth (threads split the queries) ==== */

typedef struct gt_job {
    size_t from, to; /* queries */
    float *norm;     /* base norms */
} gt_job;

static void *gt_run(void *arg)
{
    gt_job *j = arg;
    for (size_t q = j->from; q < j->to; q++) {
        const float *qv = g_query + q * g_dim;
        float best[TOPK];
        uint64_t ids[TOPK];
        for (int k = 0; k < TOPK; k++)
            best[k] = -INFINITY, ids[k] = 0;
        for (size_t i = 0; i < g_n; i++) {
            const float *v = g_base + i * g_dim;
            float acc[8] = {0}; /* eight lanes the compiler vectorises */
            size_t d = 0;
            for (; d + 8 <= g_dim; d += 8)
                for (int l = 0; l < 8; l++)
                    acc[l] += qv[d + (size_t)l] * v[d + (size_t)l];
            for (; d < g_dim; d++)
                acc[0] += qv[d] * v[d];
            float dot = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                        ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            float s = dot / j->norm[i];
            if (s <= best[TOPK - 1]) continue;
            int k = TOPK - 1;
            while (k > 0 && best[k - 1] < s) {
                best[k] = best[k - 1];
                ids[k] = ids[k - 1];
                k--;
            }
            best[k] = s;
            ids[k] = i;
        }
        memcpy(g_gt + q * TOPK, ids, sizeof ids);
    }
    return NULL;
}

static void ground_truth(void)
{
    float *norm = malloc(g_n * sizeof *norm);
    for (size_t i = 0; i < g_n; i++) {
        double s = 0;
        for (size_t d = 0; d < g_dim; d++)
            s += (double)g_base[i * g_dim + d] * g_base[i * g_dim + d];
        norm[i] = (float)sqrt(s);
    }
    g_gt = malloc(g_q * TOPK * sizeof *g_gt);
    pthread_t th[2];
    gt_job jobs[2] = {{0, g_q / 2, norm}, {g_q / 2, g_q, norm}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, gt_run, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    free(norm);
}

/* ==== Search runs ==== */

static bool fetch(void *ud, uint64_t id, float *out)
{
    (void)ud;
    if (id >= g_n) return false;
    memcpy(out, g_base + id * g_dim, g_dim * sizeof *out);
    return true;
}

/* The threads of one measurement take queries one at a time from a
 * shared counter, as hnswlib's ParallelFor does: a fixed half per thread
 * would time the slower half on a shared machine, where one thread is
 * often descheduled. */
typedef struct q_job {
    const hkv_index *ix;  /* index */
    uint32_t ef;          /* search ef */
    _Atomic size_t *next; /* next query to take */
    size_t hits;          /* out: true neighbours found */
    char pad[64 - 32];    /* each job on its own cache line */
} q_job;

static void *q_run(void *arg)
{
    q_job *j = arg;
    hkv_hit h[TOPK];
    size_t n, hits = 0;
    hk_error err;
    hkv_search_opts o = {TOPK, j->ef, NULL, fetch, NULL};
    for (size_t q; (q = atomic_fetch_add(j->next, 1)) < g_q;) {
        if (hkv_index_search(j->ix, g_query + q * g_dim, &o, h, &n, &err))
            exit(1);
        for (size_t a = 0; a < n; a++)
            for (int b = 0; b < TOPK; b++)
                if (h[a].id == g_gt[q * TOPK + b]) {
                    hits++;
                    break;
                }
    }
    j->hits = hits;
    return NULL;
}

static void measure(const hkv_index *ix, const char *kind, uint32_t ef,
                    int threads)
{
    pthread_t th[2];
    q_job jobs[2];
    _Atomic size_t next = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (q_job){ix, ef, &next, 0, {0}};
        pthread_create(&th[i], NULL, q_run, &jobs[i]);
    }
    size_t hits = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        hits += jobs[i].hits;
    }
    double dt = now_s() - t0;
    printf("hakgal search %s ef=%u threads=%d recall=%.4f qps=%.0f "
           "cpu_us_per_query=%.0f\n",
           kind, ef, threads, (double)hits / (double)(g_q * TOPK),
           (double)g_q / dt, (cpu_s() - c0) * 1e6 / (double)g_q);
    fflush(stdout);
}

/* Filtered search at 1% selectivity: recall@10 of hkv_index_search with
 * the filter (exact_below as given) against hkv_index_exact with it. */
static void measure_filtered(const hkv_index *ix, const char *kind,
                             size_t exact_below, uint32_t ef, size_t nq)
{
    if (nq > g_q) nq = g_q;
    size_t nf = g_n / 100;
    uint64_t *ids = malloc(nf * sizeof *ids);
    for (size_t i = 0; i < nf; i++)
        ids[i] = i * 100;
    hkv_filter f = {ids, nf, exact_below};
    hkv_search_opts o = {TOPK, ef, &f, fetch, NULL};
    hkv_hit h[TOPK], x[TOPK];
    size_t n, nx, hits = 0, want = 0;
    hk_error err;
    double dt = 0;
    for (size_t q = 0; q < nq; q++) {
        double t0 = now_s();
        if (hkv_index_search(ix, g_query + q * g_dim, &o, h, &n, &err)) exit(1);
        dt += now_s() - t0;
        if (hkv_index_exact(ix, g_query + q * g_dim, &o, x, &nx, &err)) exit(1);
        want += nx;
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < nx; b++)
                if (h[a].id == x[b].id) {
                    hits++;
                    break;
                }
    }
    printf("hakgal filtered %s selectivity=0.01 ids=%zu exact_below=%zu "
           "ef=%u queries=%zu recall=%.4f qps=%.0f\n",
           kind, nf, exact_below, ef, nq,
           want ? (double)hits / (double)want : 1.0, (double)nq / dt);
    fflush(stdout);
    free(ids);
}

/* Builds an index of every base vector with `threads` threads (1: one
 * hkv_index_add per vector, as before the batch existed). */
static hkv_index *build(hkv_quant quant, uint32_t m, uint32_t efc,
                        unsigned threads)
{
    const char *kind = quant == HKV_I8 ? "int8" : "float32";
    hkv_params p = {(uint32_t)g_dim, HKV_COSINE, quant, m, efc, 0};
    hkv_index *ix;
    hk_error err;
    if (hkv_index_new(&p, &ix, &err)) exit(1);
    double t0 = now_s(), c0 = cpu_s();
    if (threads <= 1) {
        for (size_t i = 0; i < g_n; i++)
            if (hkv_index_add(ix, i, g_base + i * g_dim, &err)) {
                fprintf(stderr, "add: %s\n", err.message);
                exit(1);
            }
    } else {
        uint64_t *ids = malloc(g_n * sizeof *ids);
        for (size_t i = 0; i < g_n; i++)
            ids[i] = i;
        if (hkv_index_add_batch(ix, ids, g_base, g_n, threads, &err)) {
            fprintf(stderr, "add: %s\n", err.message);
            exit(1);
        }
        free(ids);
    }
    double dt = now_s() - t0;
    printf("hakgal build %s n=%zu m=%u efc=%u threads=%u seconds=%.2f "
           "rate=%.0f cpu_seconds=%.1f bytes_per_vector=%.0f raw=%zu "
           "kernel=%s\n",
           kind, g_n, m, efc, threads, dt, (double)g_n / dt, cpu_s() - c0,
           (double)hkv_index_bytes(ix) / (double)g_n, g_dim * sizeof(float),
           hkv_kernel_name());
    fflush(stdout);
    return ix;
}

/* Writes ix to DIR/index.hnsw and reads it back (a restart). */
static void save_and_read(const hkv_index *ix, const char *dir,
                          const char *kind)
{
    char path[1024];
    hk_error err;
    hkv_index *back = NULL;
    char meta[8] = "bench";
    size_t ml;
    snprintf(path, sizeof path, "%s/index.hnsw", dir);
    double t0 = now_s();
    if (hkv_index_save(ix, path, meta, sizeof meta, &err)) {
        fprintf(stderr, "save: %s\n", err.message);
        exit(1);
    }
    double t1 = now_s();
    if (hkv_index_read(path, &back, meta, sizeof meta, &ml, &err)) {
        fprintf(stderr, "read: %s\n", err.message);
        exit(1);
    }
    double t2 = now_s();
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fclose(f);
    printf("hakgal file %s n=%zu save_seconds=%.2f read_seconds=%.2f "
           "file_bytes=%ld\n",
           kind, g_n, t1 - t0, t2 - t1, bytes);
    fflush(stdout);
    char label[32];
    snprintf(label, sizeof label, "%s-read", kind);
    measure(back, label, 64, 1);
    hkv_index_free(back);
    remove(path);
}

static void run_index(hkv_quant quant, uint32_t m, uint32_t efc,
                      const char *dir)
{
    const char *kind = quant == HKV_I8 ? "int8" : "float32";
    static const uint32_t efs[] = {16, 32, 64, 128, 256, 512};
    hkv_index *ix;
    if (quant == HKV_F32 && !getenv("VEC_BENCH_SKIP1")) {
        ix = build(quant, m, efc, 1);
        for (size_t i = 0; i < sizeof efs / sizeof *efs; i++)
            for (int t = 1; t <= 2; t++)
                measure(ix, kind, efs[i], t);
        hkv_index_free(ix);
    }
    /* VEC_BENCH_KEEP=1: the two-thread index is kept in DIR and a later
     * run reads it instead of building it again (large N). */
    char keep[1024];
    snprintf(keep, sizeof keep, "%s/hakgal-%s.hnsw", dir, kind);
    bool kept = false;
    if (getenv("VEC_BENCH_KEEP")) {
        hk_error err;
        char meta[8];
        size_t ml;
        double t0 = now_s(), c0 = cpu_s();
        kept = hkv_index_read(keep, &ix, meta, sizeof meta, &ml, &err) == HK_OK;
        if (kept)
            printf("hakgal kept %s n=%zu read_seconds=%.2f "
                   "read_cpu_seconds=%.2f bytes_per_vector=%.0f kernel=%s\n",
                   kind, g_n, now_s() - t0, cpu_s() - c0,
                   (double)hkv_index_bytes(ix) / (double)g_n,
                   hkv_kernel_name());
    }
    if (!kept) {
        ix = build(quant, m, efc, 2);
        if (getenv("VEC_BENCH_KEEP")) {
            hk_error err;
            double t0 = now_s();
            if (hkv_index_save(ix, keep, "bench", 6, &err)) {
                fprintf(stderr, "save: %s\n", err.message);
                exit(1);
            }
            printf("hakgal file %s n=%zu save_seconds=%.2f\n", kind, g_n,
                   now_s() - t0);
        }
    }
    /* VEC_BENCH_EFS="32,64,256": other ef values for the two-thread
     * index (large N needs a larger ef for the same recall) */
    uint32_t list[16];
    size_t nl = 0;
    const char *el = getenv("VEC_BENCH_EFS");
    while (el && *el && nl < sizeof list / sizeof *list) {
        char *end;
        unsigned long v = strtoul(el, &end, 10);
        if (end == el || !v || v > HKV_EF_MAX) break;
        list[nl++] = (uint32_t)v;
        el = *end == ',' ? end + 1 : end;
    }
    if (!nl)
        for (nl = 0; nl < 4; nl++)
            list[nl] = efs[nl];
    for (size_t i = 0; i < nl; i++)
        for (int t = 1; t <= 2; t++)
            measure(ix, quant == HKV_I8 ? "int8" : "float32-2t", list[i], t);
    /* VEC_BENCH_SEARCH_ONLY=1: the searches above only (rounds that
     * alternate with hnswlib on kept indexes) */
    if (getenv("VEC_BENCH_SEARCH_ONLY")) {
        hkv_index_free(ix);
        return;
    }
    measure_filtered(ix, kind, 0, 64, g_q); /* as served: exact scan */
    /* through the graph (slow: the filter rejects 99% of what it meets) */
    measure_filtered(ix, kind, 1, 64, 50);
    measure_filtered(ix, kind, 1, 256, 50);
    if (!kept) save_and_read(ix, dir, kind);
    hkv_index_free(ix);
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    uint32_t m = 16, efc = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            g_n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dim"))
            g_dim = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries"))
            g_q = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--m"))
            m = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--efc"))
            efc = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--data") &&
                 (!strcmp(argv[i + 1], "iso") || !strcmp(argv[i + 1], "embed")))
            g_embed = !strcmp(argv[i + 1], "embed");
        else if (!strcmp(argv[i], "--clusters"))
            g_clusters = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rank"))
            g_rank = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--decay"))
            g_decay = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--spread"))
            g_spread = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--noise"))
            g_noise = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "usage: vec_bench [--n N] [--dim D] [--queries Q] "
                            "[--m M] [--efc EFC] [--dir DIR] [--data "
                            "iso|embed] [--clusters C] [--rank K] [--decay R] "
                            "[--spread S] [--noise E]\n");
            return 1;
        }
    }
    if (!g_n || !g_dim || g_dim > HKV_DIM_MAX || g_q < 2) return 1;
    if (g_embed &&
        (!g_clusters || g_clusters > 1000000 || g_rank > g_dim ||
         !(g_decay > 0 && g_decay <= 1) || !(g_spread >= 0) || !(g_noise >= 0)))
        return 1;
    double t0 = now_s();
    bool reused = read_data(dir);
    if (!reused) {
        if (g_embed)
            generate_embed();
        else
            generate();
        ground_truth();
        write_file(dir, "base.f32", g_base, g_n * g_dim * sizeof(float));
        write_file(dir, "query.f32", g_query, g_q * g_dim * sizeof(float));
        write_file(dir, "gt.u64", g_gt, g_q * TOPK * sizeof(uint64_t));
        if (g_embed) {
            char line[256];
            data_params(line, sizeof line);
            write_file(dir, "data.txt", line, strlen(line));
        }
    }
    if (g_embed)
        printf("data n=%zu dim=%zu queries=%zu embed clusters=%zu rank=%zu "
               "decay=%g spread=%g noise=%g %s seconds=%.1f\n",
               g_n, g_dim, g_q, g_clusters, g_rank, g_decay, g_spread, g_noise,
               reused ? "read" : "generated", now_s() - t0);
    else
        printf("data n=%zu dim=%zu queries=%zu clusters=100 %s seconds=%.1f\n",
               g_n, g_dim, g_q, reused ? "read" : "generated", now_s() - t0);
    fflush(stdout);
    if (getenv("VEC_BENCH_DATA_ONLY")) return 0;
    /* VEC_BENCH_ONLY=float32 or int8: one storage */
    const char *only = getenv("VEC_BENCH_ONLY");
    if (!only || !strcmp(only, "float32")) run_index(HKV_F32, m, efc, dir);
    if (!only || !strcmp(only, "int8")) run_index(HKV_I8, m, efc, dir);
    free(g_base);
    free(g_query);
    free(g_gt);
    return 0;
}
