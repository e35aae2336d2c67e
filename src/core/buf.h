/*
 * core/buf.h — building text in an hk_buf.
 *
 * hk_buf is public (hakgal.h) because the library hands text to its
 * callers in one: they read data and len, reuse it with hk_buf_reset and
 * release it with hk_buf_free. Writing into a buffer is the library's own
 * business, so the appenders live here, private to the hakgal tree (the
 * library, its adapters, tests and benchmarks; all are built with -Isrc).
 *
 * Every appender either appends completely or leaves the buffer exactly as
 * it was and returns HK_ERR_NOMEM; data stays NUL-terminated. The raw
 * writers for the JSON hot path (no growth check per piece) are in
 * core/fmt.h.
 *
 * Threads: an hk_buf belongs to one thread at a time.
 */
#ifndef HK_CORE_BUF_H
#define HK_CORE_BUF_H

#include <stddef.h>

#include "hakgal.h"

/* Makes room for `extra` more bytes plus the NUL without changing len.
 * HK_ERR_NOMEM (buffer untouched) when that cannot be allocated; extra ==
 * SIZE_MAX always fails, so callers may saturate size sums to it. */
hk_err hk_buf_reserve(hk_buf *b, size_t extra);

/* Appends data[0..len) (which may hold NULs). */
hk_err hk_buf_append(hk_buf *b, const void *data, size_t len);
/* Appends the NUL-terminated s. */
hk_err hk_buf_append_str(hk_buf *b, const char *s);
/* Appends printf-style text. */
hk_err hk_buf_appendf(hk_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s[0..len) as a JSON string literal, quotes included (RFC 8259
 * escapes; bytes of invalid UTF-8 become U+FFFD, so the output is always
 * valid JSON). */
hk_err hk_buf_append_json_string(hk_buf *b, const char *s, size_t len);

#endif /* HK_CORE_BUF_H */
