/*
 * json_text.c — JSON text for clients with the shortest round-trip reals
 * (core/json_text.h).
 *
 * The rewrite runs over json_dumps's output rather than over the tree:
 * jansson 2.14 has no hook for how a real is written, and its text is
 * well-formed, so a number token is found by skipping strings (a quote
 * after an odd run of backslashes does not end one) and reading the
 * characters a JSON number can hold. Only tokens with a fraction or an
 * exponent are reals; integers pass untouched. jansson writes a real with
 * at most 17 significant digits and its shortest form has no more, so
 * every rewrite fits where the old token was.
 */
#include "core/json_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hk_double_text(double v, char out[32])
{
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, 32, "%.17g", v);
    if (!strpbrk(out, ".eEni")) strcat(out, ".0"); /* n, i: nan, inf */
}

double hk_float_decimal(float f)
{
    if (!isfinite(f)) return (double)f;
    char text[32];
    for (int digits = 6; digits < 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f) return strtod(text, NULL);
    }
    snprintf(text, sizeof text, "%.9g", (double)f); /* always reads back */
    return strtod(text, NULL);
}

static int number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
           c == 'e' || c == 'E';
}

char *hk_json_shorten_reals(char *s)
{
    char *r = s, *w = s;
    while (*r) {
        if (*r == '"') { /* copy the string literal whole */
            *w++ = *r++;
            while (*r && *r != '"') {
                if (*r == '\\' && r[1]) *w++ = *r++;
                *w++ = *r++;
            }
            if (*r) *w++ = *r++;
            continue;
        }
        if (*r == '-' || (*r >= '0' && *r <= '9')) {
            const char *start = r;
            int real = 0;
            while (number_char(*r)) {
                if (*r == '.' || *r == 'e' || *r == 'E') real = 1;
                r++;
            }
            size_t len = (size_t)(r - start);
            char text[32];
            if (real && len < sizeof text) {
                memcpy(text, start, len);
                text[len] = '\0';
                char *end = NULL;
                double v = strtod(text, &end);
                if (end == text + len) {
                    char shortest[32];
                    hk_double_text(v, shortest);
                    size_t n = strlen(shortest);
                    if (n <= len) { /* always, see the file comment */
                        memcpy(w, shortest, n);
                        w += n;
                        continue;
                    }
                }
            }
            memmove(w, start, len);
            w += len;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    return s;
}

char *hk_json_dumps(const json_t *j, size_t flags)
{
    char *s = json_dumps(j, flags);
    return s ? hk_json_shorten_reals(s) : NULL;
}
