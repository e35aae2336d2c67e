/*
 * fsync_probe.c — the disk's synced-write limit, the floor under every
 * durable commit: N rounds of pwrite(4 KiB) + fdatasync to one file in a
 * directory (default: the current one), reporting the median and p99 of
 * one round and the rounds per second.
 *
 *   fsync_probe [DIR] [ROUNDS]      (defaults: . 2000)
 *
 * The file is preallocated so that fdatasync flushes data, not size
 * changes, as LMDB's commits of a grown map mostly do; it is removed at
 * the end.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    if (rounds < 10 || rounds > 1000000) {
        fprintf(stderr, "usage: fsync_probe [DIR] [ROUNDS 10..1000000]\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync_probe.%ld", dir, (long)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || posix_fallocate(fd, 0, 64 << 20) != 0 || fsync(fd) != 0) {
        perror(path);
        return 1;
    }
    static char page[4096];
    memset(page, 0xab, sizeof page);
    double *t = calloc((size_t)rounds, sizeof *t);
    if (!t) return 1;
    double start = now_s();
    for (long i = 0; i < rounds; i++) {
        double t0 = now_s();
        off_t off = (off_t)(i % 16384) * 4096;
        if (pwrite(fd, page, sizeof page, off) != (ssize_t)sizeof page ||
            fdatasync(fd) != 0) {
            perror("pwrite/fdatasync");
            return 1;
        }
        t[i] = now_s() - t0;
    }
    double total = now_s() - start;
    close(fd);
    unlink(path);
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    printf("synced 4 KiB writes: %ld rounds, median %.3f ms, p99 %.3f ms, "
           "%.0f per second\n",
           rounds, t[rounds / 2] * 1e3, t[rounds * 99 / 100] * 1e3,
           (double)rounds / total);
    free(t);
    return 0;
}
