/*
 * sync_threads.c — how many synced 4 KiB writes the disk takes per second
 * from 1, 2 or 3 threads at once: whether two log syncs in flight overlap
 * on this device or queue behind each other's cache flush.
 *
 *   make build      (builds build/sync_threads)
 *   build/sync_threads FILE THREADS [SECONDS]
 *
 * FILE is made 64 MiB of written, synced zeros first (as the write-ahead
 * log's ring is), so that a sync writes data and no metadata. Each thread
 * then overwrites its own 4 KiB blocks in turn (thread i: blocks i,
 * i + THREADS, ...) with pwrite + fdatasync until SECONDS (default 3)
 * have passed. Prints the syncs per second over all threads and the mean
 * time of one write + fdatasync. The file is left in place.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_BYTES (64L << 20)
#define BLOCK 4096L
#define MAX_THREADS 16

static int fd = -1;
static long n_threads;
static double seconds;

typedef struct {
    long index;
    long syncs;
    double busy_s;
    int failed;
} worker;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    worker *w = arg;
    char buf[BLOCK];
    memset(buf, 'x', sizeof buf);
    double end = now_s() + seconds;
    long block = w->index;
    while (now_s() < end) {
        double t0 = now_s();
        if (pwrite(fd, buf, BLOCK, block * BLOCK) != BLOCK ||
            fdatasync(fd) != 0) {
            w->failed = 1;
            break;
        }
        w->busy_s += now_s() - t0;
        w->syncs++;
        block += n_threads;
        if (block * BLOCK >= FILE_BYTES) block = w->index;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sync_threads FILE THREADS [SECONDS]\n");
        return 1;
    }
    n_threads = atol(argv[2]);
    seconds = argc > 3 ? atof(argv[3]) : 3.0;
    if (n_threads < 1 || n_threads > MAX_THREADS || seconds <= 0) {
        fprintf(stderr, "sync_threads: THREADS must be 1..%d, SECONDS > 0\n",
                MAX_THREADS);
        return 1;
    }
    fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    static char zeros[1 << 20];
    for (long off = 0; off < FILE_BYTES; off += (long)sizeof zeros)
        if (pwrite(fd, zeros, sizeof zeros, off) != (ssize_t)sizeof zeros) {
            perror("writing zeros");
            return 1;
        }
    if (fsync(fd) != 0) {
        perror("fsync");
        return 1;
    }
    pthread_t th[MAX_THREADS];
    worker ws[MAX_THREADS];
    memset(ws, 0, sizeof ws);
    for (long i = 0; i < n_threads; i++) {
        ws[i].index = i;
        if (pthread_create(&th[i], NULL, run, &ws[i]) != 0) {
            fprintf(stderr, "sync_threads: cannot start a thread\n");
            return 1;
        }
    }
    long syncs = 0;
    double busy = 0;
    int failed = 0;
    for (long i = 0; i < n_threads; i++) {
        pthread_join(th[i], NULL);
        syncs += ws[i].syncs;
        busy += ws[i].busy_s;
        failed |= ws[i].failed;
    }
    close(fd);
    if (failed) {
        fprintf(stderr, "sync_threads: a write or sync failed\n");
        return 1;
    }
    printf("threads %ld: %.0f syncs/s, mean write + fdatasync %.3f ms\n",
           n_threads, (double)syncs / seconds,
           syncs ? busy / (double)syncs * 1e3 : 0.0);
    return 0;
}
