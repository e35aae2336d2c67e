/*
 * buf.c — hk_buf, the growable NUL-terminated byte buffer.
 *
 * Growth is geometric (doubling, at least 64 bytes) so that n appends cost
 * O(n) amortised. data is always NUL-terminated once allocated, so a buffer
 * holding text can be passed to C string functions directly. A failed
 * append leaves the buffer exactly as it was.
 *
 * JSON string escaping follows RFC 8259: '"' and '\' are escaped, control
 * characters become \b \f \n \r \t or \u00XX, valid UTF-8 is copied as is,
 * and any byte that is not part of a valid UTF-8 sequence becomes U+FFFD so
 * that the output is always valid JSON text. Escaping is on the read path
 * of every request, so it copies 8 bytes at a time while a word holds only
 * printable ASCII that needs no escape (a branch-free SWAR test), and only
 * drops to one byte at a time around bytes that need work.
 *
 * The raw writers of core/fmt.h (digit pairs, u64, JSON string bodies) live
 * here too, so that hk_fact_write_json can reserve once and write directly.
 *
 * Threads: an hk_buf belongs to one thread at a time.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/fmt.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "hakgal.h"

/* ==== Growth ==== */

/* Makes room for `extra` more bytes plus the NUL (see core/fmt.h). */
hk_err hk_buf_reserve(hk_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return HK_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return HK_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *data = hk_realloc(b->data, cap);
    if (!data) return HK_ERR_NOMEM;
    if (!b->data) data[0] = '\0';
    b->data = data;
    b->cap = cap;
    return HK_OK;
}

/* ==== Appending ==== */

hk_err hk_buf_append(hk_buf *b, const void *data, size_t len)
{
    hk_err rc = hk_buf_reserve(b, len);
    if (rc != HK_OK) return rc;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return HK_OK;
}

hk_err hk_buf_append_str(hk_buf *b, const char *s)
{
    return hk_buf_append(b, s, strlen(s));
}

hk_err hk_buf_appendf(hk_buf *b, const char *fmt, ...)
{
    va_list ap;
    /* First try in the space already there; most calls fit. */
    size_t avail = b->cap > b->len ? b->cap - b->len : 0;
    va_start(ap, fmt);
    int n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (b->data) b->data[b->len] = '\0';
        return HK_ERR_INVALID;
    }
    if ((size_t)n < avail) {
        b->len += (size_t)n;
        return HK_OK;
    }
    if (b->data) b->data[b->len] = '\0'; /* undo the partial write */
    hk_err rc = hk_buf_reserve(b, (size_t)n);
    if (rc != HK_OK) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HK_OK;
}

/* ==== Raw writers (core/fmt.h) ==== */

const char hk_digit_pairs[200] = {
    '0', '0', '0', '1', '0', '2', '0', '3', '0', '4', '0', '5', '0', '6', '0',
    '7', '0', '8', '0', '9', '1', '0', '1', '1', '1', '2', '1', '3', '1', '4',
    '1', '5', '1', '6', '1', '7', '1', '8', '1', '9', '2', '0', '2', '1', '2',
    '2', '2', '3', '2', '4', '2', '5', '2', '6', '2', '7', '2', '8', '2', '9',
    '3', '0', '3', '1', '3', '2', '3', '3', '3', '4', '3', '5', '3', '6', '3',
    '7', '3', '8', '3', '9', '4', '0', '4', '1', '4', '2', '4', '3', '4', '4',
    '4', '5', '4', '6', '4', '7', '4', '8', '4', '9', '5', '0', '5', '1', '5',
    '2', '5', '3', '5', '4', '5', '5', '5', '6', '5', '7', '5', '8', '5', '9',
    '6', '0', '6', '1', '6', '2', '6', '3', '6', '4', '6', '5', '6', '6', '6',
    '7', '6', '8', '6', '9', '7', '0', '7', '1', '7', '2', '7', '3', '7', '4',
    '7', '5', '7', '6', '7', '7', '7', '8', '7', '9', '8', '0', '8', '1', '8',
    '2', '8', '3', '8', '4', '8', '5', '8', '6', '8', '7', '8', '8', '8', '9',
    '9', '0', '9', '1', '9', '2', '9', '3', '9', '4', '9', '5', '9', '6', '9',
    '7', '9', '8', '9', '9'};

char *hk_fmt_u64(char *w, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    char *t = tmp + sizeof tmp;
    while (v >= 100) { /* at most 10 rounds */
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, hk_digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, hk_digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(w, t, n);
    return w + n;
}

#define BYTES_01 UINT64_C(0x0101010101010101) /* 0x01 in every byte */
#define BYTES_80 UINT64_C(0x8080808080808080) /* 0x80 in every byte */

/* True when none of the 8 bytes in x needs work: each is 0x20..0x7F and
 * neither '"' nor '\'. (v - 0x01..) & ~v & 0x80.. is non-zero exactly when
 * some byte of v is zero, and with 0x20.. instead of 0x01.. when some byte
 * is below 0x20 (both exact as a yes/no answer for byte values < 0x80,
 * which the first term has already guaranteed). */
static inline int word_is_plain(uint64_t x)
{
    uint64_t quote = x ^ (BYTES_01 * '"');
    uint64_t bslash = x ^ (BYTES_01 * '\\');
    uint64_t bad = x | ((x - BYTES_01 * 0x20) & ~x) |
                   ((quote - BYTES_01) & ~quote) |
                   ((bslash - BYTES_01) & ~bslash);
    return (bad & BYTES_80) == 0;
}

/* Per byte: 0 copied as is, 1 escaped, 2 start of a UTF-8 sequence. */
static const unsigned char json_byte_class[256] =
    {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 controls */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 controls */
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x22 '"' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        0, 0, /* 0x5C backslash */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, /* 0x80.. non-ASCII */
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

char *hk_fmt_json_chars(char *w, const char *s, size_t len)
{
    static const char hexdig[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) { /* every round consumes at least one byte */
        /* Whole words of plain ASCII. */
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            if (!word_is_plain(x)) break;
            memcpy(w, p, 8);
            w += 8;
            p += 8;
        }
        /* The rest of the plain run, byte by byte. */
        while (p < end && json_byte_class[*p] == 0)
            *w++ = (char)*p++;
        if (p == end) break;
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = hk_utf8_seq_len(p, (size_t)(end - p));
            if (n == 0) { /* invalid byte: U+FFFD (3 bytes, fits in 6) */
                *w++ = (char)0xEF;
                *w++ = (char)0xBF;
                *w++ = (char)0xBD;
                p++;
                continue;
            }
            memcpy(w, p, n);
            w += n;
            p += n;
            continue;
        }
        p++;
        *w++ = '\\';
        switch (c) {
        case '"':
            *w++ = '"';
            break;
        case '\\':
            *w++ = '\\';
            break;
        case '\b':
            *w++ = 'b';
            break;
        case '\f':
            *w++ = 'f';
            break;
        case '\n':
            *w++ = 'n';
            break;
        case '\r':
            *w++ = 'r';
            break;
        case '\t':
            *w++ = 't';
            break;
        default: /* other control characters */
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = hexdig[c >> 4];
            *w++ = hexdig[c & 15];
        }
    }
    return w;
}

/* ==== JSON strings ==== */

hk_err hk_buf_append_json_string(hk_buf *b, const char *s, size_t len)
{
    /* Worst case every byte becomes 6 (\u00XX) — reserve once. */
    if (len > (SIZE_MAX - 3) / 6) return HK_ERR_NOMEM;
    hk_err rc = hk_buf_reserve(b, len * 6 + 2);
    if (rc != HK_OK) return rc;
    char *w = b->data + b->len;
    *w++ = '"';
    w = hk_fmt_json_chars(w, s, len);
    *w++ = '"';
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return HK_OK;
}

void hk_buf_reset(hk_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void hk_buf_free(hk_buf *b)
{
    hk_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
