/*
 * sha256.c — SHA-256 through OpenSSL's EVP interface, and hex encoding.
 *
 * hk_sha256 cannot report errors (void in hakgal.h). EVP_Digest fails only
 * when OpenSSL cannot allocate its context; the output is then all zeros,
 * which no real input produces and which every chain check rejects.
 *
 * Threads: thread-safe (OpenSSL 3 needs no locking setup).
 */
#include <openssl/evp.h>
#include <string.h>

#include "core/sha256.h"
#include "hakgal.h"

void hk_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int out_len = 0;
    if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 ||
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
