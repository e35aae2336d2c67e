/*
 * fuzz_config.c — libFuzzer target for the server's config file parser
 * (hk_config_load with --config, src/server/server_config.c).
 *
 * Input: the bytes of a config file, written to a scratch file under
 * $HK_TEST_TMP. Properties: no crash; `insecure` is switched on only when
 * some line of the input that is no comment names it (the tail of an
 * over-long comment line must never become a live setting).
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Some line that does not start with '#' (after blanks) has "insecure". */
static bool live_insecure(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < le && *q != '#')
            for (const char *r = q; r + 8 <= le; r++)
                if (memcmp(r, "insecure", 8) == 0) return true;
        p = nl ? nl + 1 : end;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    if (!path[0]) {
        const char *tmp = getenv("HK_TEST_TMP");
        snprintf(path, sizeof path, "%s/fuzz-config-%d",
                 tmp && *tmp ? tmp : "/tmp", (int)getpid());
        unsetenv("HAKGAL_INSECURE");
        unsetenv("HAKGAL_CONFIG");
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    size_t w = fwrite(data, 1, size, fp);
    fclose(fp);
    if (w != size) return 0;
    static hk_server_config cfg;
    hk_config_defaults(&cfg);
    char *argv[] = {"serve", "--config", path, NULL};
    bool help = false;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_config_load(&cfg, 3, argv, &help, &err);
    unlink(path);
    if (rc == HK_OK && cfg.insecure && !live_insecure(data, size)) abort();
    return 0;
}
