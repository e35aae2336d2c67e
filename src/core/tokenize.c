/*
 * tokenize.c — splitting symbols and query text into search tokens.
 *
 * The search index and the query side must split text identically, so both
 * use hk_tokenize. Rules, applied byte by byte on UTF-8:
 *  - Character classes: ASCII lower-case letter, ASCII upper-case letter,
 *    ASCII digit, other letter (any non-ASCII code point not listed below),
 *    and separator (every other ASCII character, invalid UTF-8 bytes, and
 *    the non-ASCII punctuation and symbol ranges U+0080..U+00BF, U+00D7,
 *    U+00F7, U+2000..U+206F general punctuation, U+2190..U+2BFF arrows,
 *    math operators and other symbols, U+3000..U+3003, U+FEFF).
 *  - A token is a maximal run of non-separators, further split at:
 *      letter <-> digit ("CO2" -> co, 2; "4.6Gyr" -> 4, 6, gyr),
 *      lower -> upper ("HasPart" -> has, part),
 *      upper -> upper followed by lower, before the last upper
 *      ("XMLParser" -> xml, parser; "getHTTPResponse" -> get, http,
 *      response).
 *    Non-ASCII letters have no case here: they never cause a camelCase
 *    split, so "CO₂" stays one token "co₂" and "Größe" stays "größe".
 *  - Only ASCII letters are lower-cased; other bytes are passed through.
 *
 * The callback receives tokens that are not NUL-terminated. A token that
 * needs lower-casing is copied into a stack buffer, or a heap buffer when
 * longer than it.
 *
 * Threads: pure function (besides what fn does).
 */
#include <string.h>

#include "core/mem.h"
#include "core/tokenize.h"
#include "core/utf8.h"
#include "hakgal.h"

enum char_class {
    CC_SEP = 0,   /* splits tokens, never part of one */
    CC_LOWER = 1, /* a..z */
    CC_UPPER = 2, /* A..Z */
    CC_DIGIT = 3, /* 0..9 */
    CC_OTHER = 4  /* non-ASCII letter (no case) */
};

static bool is_unicode_separator(int32_t cp)
{
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
           (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x2BFF) ||
           (cp >= 0x3000 && cp <= 0x3003) || cp == 0xFEFF;
}

/* Class of the character at p; *len gets its byte length (>= 1). */
static enum char_class classify(const unsigned char *p, size_t n, size_t *len)
{
    unsigned char c = p[0];
    *len = 1;
    if (c >= 'a' && c <= 'z') return CC_LOWER;
    if (c >= 'A' && c <= 'Z') return CC_UPPER;
    if (c >= '0' && c <= '9') return CC_DIGIT;
    if (c < 0x80) return CC_SEP;
    size_t l;
    int32_t cp = hk_utf8_decode(p, n, &l);
    if (cp < 0) return CC_SEP; /* invalid byte: skip it alone */
    *len = l;
    return is_unicode_separator(cp) ? CC_SEP : CC_OTHER;
}

/* Lower-cases tok[0..len) if needed and hands it to fn. */
static hk_err emit(const char *tok, size_t len, bool has_upper, hk_token_fn fn,
                   void *ud)
{
    if (!has_upper || len == 0) return fn(ud, tok, len);
    char stack_buf[256];
    char *buf = stack_buf;
    if (len > sizeof stack_buf) {
        buf = hk_malloc(len);
        if (!buf) return HK_ERR_NOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        char c = tok[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    hk_err rc = fn(ud, buf, len);
    if (buf != stack_buf) hk_free(buf);
    return rc;
}

hk_err hk_tokenize(const char *text, size_t len, hk_token_fn fn, void *ud)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) { /* each pass consumes >= 1 byte */
        size_t clen;
        enum char_class cls = classify(p + i, len - i, &clen);
        if (cls == CC_SEP) {
            i += clen;
            continue;
        }
        size_t start = i;
        bool has_upper = cls == CC_UPPER;
        enum char_class prev = cls;
        i += clen;
        while (i < len) {
            size_t nlen;
            enum char_class cur = classify(p + i, len - i, &nlen);
            if (cur == CC_SEP) break;
            bool split = false;
            if ((prev == CC_DIGIT) != (cur == CC_DIGIT))
                split = true; /* letter <-> digit */
            else if (prev == CC_LOWER && cur == CC_UPPER)
                split = true; /* hasPart */
            else if (prev == CC_UPPER && cur == CC_UPPER && i + nlen < len) {
                size_t l2;
                enum char_class next =
                    classify(p + i + nlen, len - i - nlen, &l2);
                if (next == CC_LOWER) split = true; /* XML|Parser */
            }
            if (split) break;
            if (cur == CC_UPPER) has_upper = true;
            prev = cur;
            i += nlen;
        }
        hk_err rc = emit(text + start, i - start, has_upper, fn, ud);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}
