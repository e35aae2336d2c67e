/*
 * driver_standalone.c — a main for the fuzz targets where libFuzzer is
 * missing (gcc builds), so that every target compiles in every build and
 * its corpus runs as a regression test.
 *
 * Usage: fuzz_X [-libfuzzer_flag=...] [FILE|DIR]...
 * Each FILE, and each regular file of each DIR (in name order, not
 * recursive), is read whole and passed to LLVMFuzzerTestOneInput once;
 * with no FILE or DIR, standard input is. Arguments starting with '-' are
 * libFuzzer options and are ignored, so the same command line works with
 * both builds — except -max_total_time=N: after the replay, the driver
 * mutates the inputs it ran (bit flips, byte changes, inserts, deletes,
 * copies within and between inputs) and runs the mutants for N seconds,
 * a blind fuzzer without coverage feedback that still runs every target
 * on inputs nobody wrote. The mutations follow -seed=S (default: the
 * time, printed), so a failing run repeats with the same seed and corpus.
 * A property violation inside the target aborts, as under libFuzzer; an
 * unreadable argument exits 1. Single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DRIVER_MAX_INPUT (16u << 20) /* larger inputs are refused */
#define DRIVER_MAX_FILES 100000u     /* per directory */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL_MAX 512u    /* inputs kept for mutation */
#define MUTANT_MAX 8192u /* bytes of a mutant at most */

static uint8_t *g_pool[POOL_MAX]; /* replayed inputs (owned) */
static size_t g_pool_len[POOL_MAX];
static size_t g_n_pool;
static uint64_t g_rng; /* xorshift64 state */

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Keeps a copy of an input for mutation (the first POOL_MAX). */
static void pool_add(const uint8_t *data, size_t len)
{
    if (g_n_pool >= POOL_MAX || len > MUTANT_MAX) return;
    uint8_t *c = malloc(len ? len : 1);
    if (!c) return;
    if (len) memcpy(c, data, len);
    g_pool[g_n_pool] = c;
    g_pool_len[g_n_pool++] = len;
}

/* One mutant of a pool input into m (MUTANT_MAX bytes); its length. */
static size_t mutate(uint8_t *m)
{
    size_t n = 0;
    if (g_n_pool) {
        size_t k = rnd() % g_n_pool;
        n = g_pool_len[k];
        memcpy(m, g_pool[k], n);
    }
    for (unsigned steps = 1 + (unsigned)(rnd() % 4); steps; steps--) {
        unsigned op = (unsigned)(rnd() % 6);
        size_t at = n ? rnd() % n : 0;
        if (op == 0 && n)
            m[at] ^= (uint8_t)(1u << (rnd() % 8));
        else if (op == 1 && n)
            m[at] = (uint8_t)rnd();
        else if (op == 2 && n < MUTANT_MAX) { /* insert a byte */
            memmove(m + at + 1, m + at, n - at);
            m[at] = (uint8_t)rnd();
            n++;
        } else if (op == 3 && n) { /* delete up to 8 bytes */
            size_t d = 1 + rnd() % 8;
            if (d > n - at) d = n - at;
            memmove(m + at, m + at + d, n - at - d);
            n -= d;
        } else if (op == 4 && n) { /* copy a piece of itself over it */
            size_t from = rnd() % n, len = 1 + rnd() % 16;
            if (len > n - from) len = n - from;
            if (len > n - at) len = n - at;
            memmove(m + at, m + from, len);
        } else if (op == 5 && g_n_pool) { /* splice another input's tail */
            size_t k = rnd() % g_n_pool, from = 0;
            if (g_pool_len[k]) from = rnd() % g_pool_len[k];
            size_t len = g_pool_len[k] - from;
            if (at + len > MUTANT_MAX) len = MUTANT_MAX - at;
            memcpy(m + at, g_pool[k] + from, len);
            n = at + len;
        }
    }
    return n;
}

/* Runs mutants for secs seconds; returns how many. */
static size_t fuzz_for(double secs)
{
    static uint8_t m[MUTANT_MAX];
    size_t runs = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 16; i++, runs++)
            LLVMFuzzerTestOneInput(m, mutate(m));
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) +
                 (double)(t.tv_nsec - t0.tv_nsec) / 1e9 <
             secs);
    return runs;
}

/* Reads fp whole into a new buffer (*out, caller frees). */
static int read_all(FILE *fp, const char *name, uint8_t **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) goto fail;
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            if (cap >= DRIVER_MAX_INPUT) {
                fprintf(stderr, "fuzz driver: %s: larger than %u bytes\n", name,
                        DRIVER_MAX_INPUT);
                goto fail;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) goto fail;
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(fp)) {
        fprintf(stderr, "fuzz driver: %s: read error\n", name);
        goto fail;
    }
    *out = buf;
    *len = n;
    return 0;
fail:
    if (!buf) fprintf(stderr, "fuzz driver: %s: out of memory\n", name);
    free(buf);
    return -1;
}

static int run_file(const char *path, size_t *count)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_all(fp, path, &data, &len);
    fclose(fp);
    if (rc != 0) return rc;
    LLVMFuzzerTestOneInput(data, len);
    pool_add(data, len);
    free(data);
    (*count)++;
    return 0;
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (rc == 0 && (unsigned)i < DRIVER_MAX_FILES && stat(path, &sb) == 0 &&
            S_ISREG(sb.st_mode))
            rc = run_file(path, count);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int given = 0;
    double secs = 0;
    g_rng = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-max_total_time=", 16) == 0)
            secs = atof(argv[i] + 16);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            g_rng = strtoull(argv[i] + 6, NULL, 10);
    }
    if (g_rng == 0) g_rng = 1;
    uint64_t seed = g_rng;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue; /* a libFuzzer option */
        given++;
        struct stat sb;
        int rc = stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)
                     ? run_dir(argv[i], &count)
                     : run_file(argv[i], &count);
        if (rc != 0) return 1;
    }
    if (given == 0) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (read_all(stdin, "stdin", &data, &len) != 0) return 1;
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        count++;
    }
    fprintf(stderr, "fuzz driver: %zu inputs run\n", count);
    if (secs > 0) {
        fprintf(stderr, "fuzz driver: mutating for %.0f s, -seed=%llu\n", secs,
                (unsigned long long)seed);
        size_t runs = fuzz_for(secs);
        fprintf(stderr, "fuzz driver: %zu mutants run\n", runs);
    }
    for (size_t i = 0; i < g_n_pool; i++)
        free(g_pool[i]);
    return 0;
}
