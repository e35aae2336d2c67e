/*
 * sha256.c — SHA-256 through OpenSSL's EVP interface, and hex encoding.
 *
 * hk_sha256 cannot report errors (void in hakgal.h). EVP_Digest fails only
 * when OpenSSL cannot allocate its context; the output is then all zeros,
 * which no real input produces and which every chain check rejects.
 *
 * OpenSSL 3 looks an algorithm up in its provider tables (EVP_MD_fetch)
 * on every use of EVP_sha256() or SHA256(): on the write path (an audit
 * entry and a data digest per fact) that lookup cost as much as the
 * hashing. hk_sha256_md fetches it once per process.
 *
 * Threads: thread-safe (OpenSSL 3 needs no locking setup; the fetch runs
 * under pthread_once).
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "core/sha256.h"
#include "hakgal.h"

static EVP_MD *g_md; /* fetched SHA-256, NULL if the fetch failed */
static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    g_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const struct evp_md_st *hk_sha256_md(void)
{
    pthread_once(&g_md_once, md_fetch);
    return g_md ? g_md : EVP_sha256();
}

void hk_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int out_len = 0;
    if (EVP_Digest(data, len, out, &out_len, hk_sha256_md(), NULL) != 1 ||
        out_len != 32)
        memset(out, 0, 32);
}

void hk_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
