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
 * that the output is always valid JSON text.
 *
 * Threads: an hk_buf belongs to one thread at a time.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "hakgal.h"

/* Makes room for `extra` more bytes plus the NUL. */
static hk_err buf_reserve(hk_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return HK_ERR_NOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return HK_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *data = hk_realloc(b->data, cap);
    if (!data)
        return HK_ERR_NOMEM;
    if (!b->data)
        data[0] = '\0';
    b->data = data;
    b->cap = cap;
    return HK_OK;
}

hk_err hk_buf_append(hk_buf *b, const void *data, size_t len)
{
    hk_err rc = buf_reserve(b, len);
    if (rc != HK_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
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
        if (b->data)
            b->data[b->len] = '\0';
        return HK_ERR_INVALID;
    }
    if ((size_t)n < avail) {
        b->len += (size_t)n;
        return HK_OK;
    }
    if (b->data)
        b->data[b->len] = '\0'; /* undo the partial write */
    hk_err rc = buf_reserve(b, (size_t)n);
    if (rc != HK_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return HK_OK;
}

hk_err hk_buf_append_json_string(hk_buf *b, const char *s, size_t len)
{
    static const char hexdig[] = "0123456789abcdef";
    /* Worst case every byte becomes 6 (\u00XX) — reserve once. */
    if (len > (SIZE_MAX - 3) / 6)
        return HK_ERR_NOMEM;
    hk_err rc = buf_reserve(b, len * 6 + 2);
    if (rc != HK_OK)
        return rc;
    char *w = b->data + b->len;
    const unsigned char *p = (const unsigned char *)s;
    *w++ = '"';
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = hk_utf8_seq_len(p + i, len - i);
            if (n == 0) { /* invalid byte: U+FFFD (3 bytes, fits in 6) */
                *w++ = (char)0xEF;
                *w++ = (char)0xBF;
                *w++ = (char)0xBD;
                i++;
                continue;
            }
            memcpy(w, p + i, n);
            w += n;
            i += n;
            continue;
        }
        i++;
        switch (c) {
        case '"': *w++ = '\\'; *w++ = '"'; break;
        case '\\': *w++ = '\\'; *w++ = '\\'; break;
        case '\b': *w++ = '\\'; *w++ = 'b'; break;
        case '\f': *w++ = '\\'; *w++ = 'f'; break;
        case '\n': *w++ = '\\'; *w++ = 'n'; break;
        case '\r': *w++ = '\\'; *w++ = 'r'; break;
        case '\t': *w++ = '\\'; *w++ = 't'; break;
        default:
            if (c < 0x20) {
                *w++ = '\\';
                *w++ = 'u';
                *w++ = '0';
                *w++ = '0';
                *w++ = hexdig[c >> 4];
                *w++ = hexdig[c & 15];
            } else {
                *w++ = (char)c;
            }
        }
    }
    *w++ = '"';
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return HK_OK;
}

void hk_buf_reset(hk_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hk_buf_free(hk_buf *b)
{
    hk_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
