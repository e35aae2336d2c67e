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
 * both builds. A property violation inside the target aborts, as under
 * libFuzzer; an unreadable argument exits 1. Single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DRIVER_MAX_INPUT (16u << 20) /* larger inputs are refused */
#define DRIVER_MAX_FILES 100000u     /* per directory */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    return 0;
}
