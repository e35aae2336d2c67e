/*
 * fuzz_tokens.c — libFuzzer target for the token file parser
 * (hk_svc_tokens_load, src/service/svc_tokens.c).
 *
 * Input: the bytes of a token file, written to a scratch file under
 * $HK_TEST_TMP. Properties: the parser never crashes; on success every
 * token has a NUL-terminated name of 1..HK_TOKEN_NAME_MAX-1 bytes and a
 * role that grants something, names are unique, and a line that is a
 * comment in the input never yields a token (the tail of an over-long
 * comment line must not become a live entry).
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/service.h"

#define MAX_TOKENS 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    if (!path[0]) {
        const char *tmp = getenv("HK_TEST_TMP");
        snprintf(path, sizeof path, "%s/fuzz-tokens-%d",
                 tmp && *tmp ? tmp : "/tmp", (int)getpid());
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    size_t w = fwrite(data, 1, size, fp);
    fclose(fp);
    if (w != size) return 0;
    static hk_token tok[MAX_TOKENS];
    size_t n = 99;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_svc_tokens_load(path, tok, MAX_TOKENS, &n, &err);
    unlink(path);
    if (rc != HK_OK) {
        if (n != 0) abort(); /* on failure *n is 0 */
        return 0;
    }
    if (n > MAX_TOKENS) abort();
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen(tok[i].name, HK_TOKEN_NAME_MAX);
        if (len == 0 || len >= HK_TOKEN_NAME_MAX) abort();
        if (tok[i].role == HK_ROLE_NONE) abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(tok[i].name, tok[j].name) == 0) abort();
        /* the name must start a line of the input that is no comment */
        bool found = false;
        const char *p = (const char *)data, *end = p + size;
        while (p < end && !found) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *q = p;
            while (q < le && (*q == ' ' || *q == '\t'))
                q++;
            if ((size_t)(le - q) >= len && memcmp(q, tok[i].name, len) == 0)
                found = true;
            p = nl ? nl + 1 : end;
        }
        if (!found) abort();
    }
    return 0;
}
