/*
 * core/sha256.h — SHA-256 digests and hex text: the audit chain, backup
 * manifests, import digests, the keys of long symbols, query cursors and
 * access-token hashes.
 *
 * Private to the hakgal tree: a KB's users see digests only as the hex
 * text or the raw 32 bytes that the public API hands out (hk_audit_entry,
 * hk_store_backup), never compute them through libhakgal.
 *
 * Threads: thread-safe.
 */
#ifndef HK_CORE_SHA256_H
#define HK_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of data[0..len) into out. Cannot fail: should OpenSSL be unable
 * to allocate its context, out is all zeros, which every check rejects. */
void hk_sha256(const void *data, size_t len, uint8_t out[32]);
/* OpenSSL's SHA-256 (an EVP_MD), fetched once per process, for callers
 * that hash through an EVP_MD_CTX. Never NULL. */
const struct evp_md_st *hk_sha256_md(void);
/* Lower-case hex of bytes[0..n) into out (2n + 1 bytes, NUL-terminated). */
void hk_hex(const uint8_t *bytes, size_t n, char *out);

#endif /* HK_CORE_SHA256_H */
