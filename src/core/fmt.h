/*
 * core/fmt.h — raw text writers for the JSON output hot path.
 *
 * Rendering a fact as JSON is most of the CPU of a read request, so the
 * writer reserves its worst case once (hk_buf_reserve, core/buf.h) and
 * then writes through a plain char pointer with these functions: no
 * printf, no growth check per piece. Each writer states how many bytes it
 * may write; the caller must have reserved at least that much. Each
 * returns the pointer just past what it wrote and writes no NUL.
 *
 * Threads: pure functions.
 */
#ifndef HK_CORE_FMT_H
#define HK_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "hakgal.h"

/* "00" "01" ... "99": two decimal digits per entry, for digit-pair
 * conversions. */
extern const char hk_digit_pairs[200];

/* Decimal digits of v; writes at most 20 bytes. */
char *hk_fmt_u64(char *w, uint64_t v);

/* The body of a JSON string literal for s[0..len), quotes not included,
 * escaped exactly as hk_buf_append_json_string does; writes at most
 * 6 * len bytes. */
char *hk_fmt_json_chars(char *w, const char *s, size_t len);

/* hk_time_format's text (no NUL); writes at most 31 bytes. */
char *hk_fmt_time(char *w, int64_t us);

#endif /* HK_CORE_FMT_H */
