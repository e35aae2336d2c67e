/*
 * core/json_text.h — JSON text for clients, with numbers as people write
 * them.
 *
 * jansson 2.14 writes every real with 17 significant digits, so a
 * confidence of 0.9 reaches an MCP client as 0.90000000000000002 and a
 * float32 learning rate as 0.10000000149011612. hk_json_dumps writes what
 * json_dumps writes, except that each real is written with 15 significant
 * digits when those read back to the same double, else 17: the same text
 * the REST routes give a fact's confidence (core/fact.c), and for the
 * short decimals people type the one Python's repr gives (HAK-GAL 1.x
 * answered through Python's json module). A real stays recognisably a
 * real: 1.0, not 1.
 *
 * Only for text that leaves the process as an answer. What is stored or
 * replicated keeps json_dumps's form, so that nodes of two versions
 * write the same bytes for the same input.
 *
 * Threads: pure functions.
 */
#ifndef HK_CORE_JSON_TEXT_H
#define HK_CORE_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* v with 15 significant digits if that text reads back to v (strtod),
 * else 17, with a '.' or an exponent; "nan"/"inf" texts for non-finite values,
 * which the caller must not put in JSON. out holds at least 32 bytes. */
void hk_double_text(double v, char out[32]);

/* The double nearest to the shortest decimal (6 to 9 significant digits)
 * that reads back to f as a float: a float32 parameter shown as 0.1, not
 * as the double (double)f = 0.10000000149011612. f itself if not finite. */
double hk_float_decimal(float f);

/* json_dumps(j, flags) with every real rewritten by hk_double_text. The
 * result is jansson's allocation: free it with free(). NULL when
 * json_dumps fails (out of memory, or a bare non-container without
 * JSON_ENCODE_ANY). */
char *hk_json_dumps(const json_t *j, size_t flags);

/* Rewrites, in place, each real of the JSON text s (NUL-terminated) to
 * hk_double_text's form; the text can only get shorter. Strings are left
 * alone. Returns s. */
char *hk_json_shorten_reals(char *s);

#endif /* HK_CORE_JSON_TEXT_H */
