/*
 * utf8.c — UTF-8 validation and decoding (RFC 3629).
 *
 * Valid means: shortest form only (no overlongs such as C0 80 or E0 80 80),
 * no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequences and no stray continuation bytes. The second byte's
 * allowed range depends on the lead byte (Table 3-7 of the Unicode
 * standard), which rules out all three kinds of bad sequences without
 * decoding.
 *
 * Threads: pure functions.
 */
#include "core/utf8.h"

#include "hakgal.h"

size_t hk_utf8_seq_len(const unsigned char *p, size_t n)
{
    if (n == 0) return 0;
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if (n < len) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return len;
}

int32_t hk_utf8_decode(const unsigned char *p, size_t n, size_t *len)
{
    size_t l = hk_utf8_seq_len(p, n);
    if (len) *len = l;
    switch (l) {
    case 1:
        return p[0];
    case 2:
        return ((int32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
        return ((int32_t)(p[0] & 0x0F) << 12) | ((int32_t)(p[1] & 0x3F) << 6) |
               (p[2] & 0x3F);
    case 4:
        return ((int32_t)(p[0] & 0x07) << 18) | ((int32_t)(p[1] & 0x3F) << 12) |
               ((int32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    default:
        return -1;
    }
}

size_t hk_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}

bool hk_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Fast path over ASCII, 8 bytes at a time would be faster still,
         * but statements are short; a byte loop keeps this obvious. */
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = hk_utf8_seq_len(p + i, len - i);
        if (l == 0) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += l;
    }
    return true;
}

size_t hk_utf8_prefix(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t l = hk_utf8_seq_len(p + i, len - i);
        if (l == 0 || i + l > max) break;
        i += l;
    }
    return i;
}
