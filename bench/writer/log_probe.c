/*
 * log_probe.c — what one synced append of the write-ahead log costs when
 * the file grows, against the same append into blocks written before
 * (the ring of src/store/wal.c), on the same disk at the same time, with
 * and without a neighbour that writes pages the way LMDB's unsynced
 * commits and the checkpoint do.
 *
 *   make build      (builds build/log_probe)
 *   build/log_probe DIR [SECONDS] [RECORD_BYTES] [NEIGHBOUR_MB_PER_S]
 *
 * Defaults: 20 s, 5120-byte records (a group of ~35 single-fact POSTs),
 * 70 MB/s of neighbour pages (~7 KB per fact at 10k facts/s). The log
 * thread alternates every 250 ms between the two files:
 *   - grow: records appended past the file's end (the size changes at
 *     every sync, and every 4 KiB a block is allocated);
 *   - ring: records written into a file of 64 MiB written with zeros (a
 *     page per write) and synced first, wrapping at its end.
 * each record followed by fdatasync. The neighbour pwrites random 4 KiB
 * pages into DIR/probe-data (growing it, as new LMDB pages do) and
 * fdatasyncs it once a second, as the checkpoint does. Prints the median,
 * p90 and p99 of one synced append per mode and the count; the files are
 * removed at the end.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES (64L << 20)
#define MAX_SAMPLES 2000000

static atomic_bool stop;
static double neighbour_mb;
static char data_path[4096];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Random pages into a growing file at neighbour_mb MB/s, synced once a
 * second. */
static void *neighbour(void *arg)
{
    (void)arg;
    int fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return NULL;
    char page[4096];
    memset(page, 0xab, sizeof page);
    long pages = 0, size_pages = 1024;
    double t0 = now_s(), last_sync = t0;
    unsigned seed = 1;
    while (!atomic_load(&stop)) {
        double t = now_s();
        long want = (long)((t - t0) * neighbour_mb * 1e6 / 4096);
        for (; pages < want && !atomic_load(&stop); pages++) {
            /* a third of the pages are new (the file grows), the rest
             * rewrite pages already in it */
            long at = rand_r(&seed) % 3 == 0 ? size_pages++
                                             : rand_r(&seed) % size_pages;
            if (pwrite(fd, page, sizeof page, at * 4096L) < 0) break;
        }
        if (t - last_sync >= 1.0) {
            fdatasync(fd);
            last_sync = t;
        }
        usleep(2000);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: log_probe DIR [SECONDS] [RECORD_BYTES] "
                        "[NEIGHBOUR_MB_PER_S]\n");
        return 2;
    }
    const char *dir = argv[1];
    double secs = argc > 2 ? atof(argv[2]) : 20;
    long rec = argc > 3 ? atol(argv[3]) : 5120;
    neighbour_mb = argc > 4 ? atof(argv[4]) : 70;
    if (secs < 1 || secs > 3600 || rec < 64 || rec > (1 << 20) ||
        neighbour_mb < 0 || neighbour_mb > 10000) {
        fprintf(stderr, "log_probe: arguments out of range\n");
        return 2;
    }
    char grow_path[4096], ring_path[4096];
    snprintf(grow_path, sizeof grow_path, "%s/probe-grow", dir);
    snprintf(ring_path, sizeof ring_path, "%s/probe-ring", dir);
    snprintf(data_path, sizeof data_path, "%s/probe-data", dir);
    int gfd = open(grow_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int rfd = open(ring_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (gfd < 0 || rfd < 0) {
        perror("log_probe: open");
        return 1;
    }
    char *zeros = calloc(1, 1 << 20), *buf = malloc((size_t)rec);
    double *lat[2] = {malloc(MAX_SAMPLES * sizeof(double)),
                      malloc(MAX_SAMPLES * sizeof(double))};
    if (!zeros || !buf || !lat[0] || !lat[1]) return 1;
    memset(buf, 0x5a, (size_t)rec);
    /* a page per write, as wal.c does: one large write leaves large
     * folios in the page cache, and a record would dirty a whole one */
    for (long off = 0; off < RING_BYTES; off += 4096)
        if (pwrite(rfd, zeros, 4096, off) != 4096) {
            perror("log_probe: preparing");
            return 1;
        }
    fdatasync(rfd);
    pthread_t th;
    if (neighbour_mb > 0) pthread_create(&th, NULL, neighbour, NULL);
    long n[2] = {0, 0}, gend = 0, rend = 0;
    double t0 = now_s();
    int mode = 0;
    double switch_at = t0 + 0.25;
    while (now_s() - t0 < secs) {
        double t = now_s();
        if (t >= switch_at) {
            mode ^= 1;
            switch_at = t + 0.25;
        }
        int fd = mode ? rfd : gfd;
        long *end = mode ? &rend : &gend;
        if (mode && *end + rec > RING_BYTES) *end = 0;
        double a = now_s();
        if (pwrite(fd, buf, (size_t)rec, *end) != rec || fdatasync(fd) != 0) {
            perror("log_probe: append");
            return 1;
        }
        double b = now_s();
        *end += rec;
        if (n[mode] < MAX_SAMPLES) lat[mode][n[mode]++] = (b - a) * 1e3;
    }
    atomic_store(&stop, true);
    if (neighbour_mb > 0) pthread_join(th, NULL);
    const char *name[2] = {"grow", "ring"};
    for (int m = 0; m < 2; m++) {
        qsort(lat[m], (size_t)n[m], sizeof(double), cmp_double);
        if (n[m] == 0) continue;
        printf("%s: %ld synced appends of %ld bytes, median %.3f ms, p90 "
               "%.3f ms, p99 %.3f ms\n",
               name[m], n[m], rec, lat[m][n[m] / 2], lat[m][n[m] * 9 / 10],
               lat[m][n[m] * 99 / 100]);
    }
    close(gfd);
    close(rfd);
    unlink(grow_path);
    unlink(ring_path);
    unlink(data_path);
    return 0;
}
