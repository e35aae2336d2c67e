/*
 * core/utf8.h — UTF-8 validation and decoding (RFC 3629), private to the
 * hakgal tree.
 *
 * hk_utf8_valid checks whole strings; the other helpers decode one
 * sequence at a time for scanners that already walk the input. What
 * "valid" means is at the top of utf8.c.
 *
 * Threads: pure functions.
 */
#ifndef HK_CORE_UTF8_H
#define HK_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). On failure *bad_offset (if non-NULL) gets the byte
 * offset of the first invalid sequence. */
bool hk_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Length (1..4) of the valid UTF-8 sequence at p (n bytes available), or 0
 * when the bytes there are not a valid sequence (overlong, surrogate,
 * above U+10FFFF, truncated, stray continuation byte). */
size_t hk_utf8_seq_len(const unsigned char *p, size_t n);

/* Decodes the valid sequence at p (as measured by hk_utf8_seq_len) into a
 * code point; *len gets its length. Returns -1 when invalid. */
int32_t hk_utf8_decode(const unsigned char *p, size_t n, size_t *len);

/* Number of code points in s[0..n) counting every byte that is not a
 * continuation byte — the 1-based column of byte offset n is this + 1. */
size_t hk_utf8_count(const char *s, size_t n);

/* Bytes of the longest prefix of s[0..len) that is at most max bytes,
 * valid UTF-8 and ends at a character boundary — for quoting user input in
 * messages without producing invalid UTF-8. */
size_t hk_utf8_prefix(const char *s, size_t len, size_t max);

#endif /* HK_CORE_UTF8_H */
