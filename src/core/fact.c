/*
 * fact.c — the hk_fact value: initialisation, release, JSON output.
 *
 * An hk_fact's strings all live in its own hk_buf (mem), so that the store
 * can refill the same hk_fact row after row without allocating once the
 * buffer has grown. A statement filled by the parser instead (st.owned) is
 * released too.
 *
 * JSON output: confidence is written in the shortest of %.15g / %.17g that
 * reads back to the same double (always with a '.' or exponent, so 1 is
 * written 1.0); a non-finite confidence, which the store never holds, is
 * written as null because JSON has no NaN. context_json is stored already
 * validated and is embedded verbatim; an empty string counts as absent.
 *
 * Speed: this is most of the CPU of a read request, so the writer measures
 * every string once, reserves the worst case once (6 bytes per input byte
 * for JSON escapes, twice for the statement's pieces), then writes through
 * a raw pointer with the core/fmt.h writers: no printf, no temporary
 * statement buffer, no per-piece growth check. The predicate and bare
 * arguments are escaped once, for the statement text, and copied from
 * there into their own fields. The statement's JSON text
 * is written straight from its parts and must equal escaping
 * hk_statement_format's output (tests/unit/test_core_json.c checks this
 * against that reference for random facts).
 *
 * Threads: an hk_fact belongs to one thread.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "core/json_text.h"
#include "core/syntax.h"
#include "hakgal.h"

void hk_fact_init(hk_fact *f)
{
    memset(f, 0, sizeof *f);
}

void hk_fact_release(hk_fact *f)
{
    if (!f) return;
    hk_statement_release(&f->st);
    hk_buf_free(&f->mem);
    memset(f, 0, sizeof *f);
}

/* ==== JSON output ==== */

/* Exact %.<prec>g for confidences that are not short decimals (1/3,
 * computed averages). printf is correctly rounded, so exact integer
 * arithmetic gives the same digits: v = m * 2^-s with m < 2^53 and, for
 * v in [1e-4, 1), s in 53..66; v * 10^d for d <= 20 then fits in 128 bits
 * (2^53 * 10^20 < 2^120), as does every comparison below. */
__extension__ typedef unsigned __int128 u128;

static u128 pow10_u128(int d)
{
    static const uint64_t pow10[20] = {UINT64_C(1),
                                       UINT64_C(10),
                                       UINT64_C(100),
                                       UINT64_C(1000),
                                       UINT64_C(10000),
                                       UINT64_C(100000),
                                       UINT64_C(1000000),
                                       UINT64_C(10000000),
                                       UINT64_C(100000000),
                                       UINT64_C(1000000000),
                                       UINT64_C(10000000000),
                                       UINT64_C(100000000000),
                                       UINT64_C(1000000000000),
                                       UINT64_C(10000000000000),
                                       UINT64_C(100000000000000),
                                       UINT64_C(1000000000000000),
                                       UINT64_C(10000000000000000),
                                       UINT64_C(100000000000000000),
                                       UINT64_C(1000000000000000000),
                                       UINT64_C(10000000000000000000)};
    return d < 20 ? (u128)pow10[d] : (u128)pow10[19] * 10; /* d <= 20 */
}

/* Writes v in [1e-4, 1) as printf's "%.<prec>g" (prec 15 or 17) would and
 * returns the end, or NULL when v is outside that range or rounds up to 1
 * (the caller then uses printf). *round_trips says whether the text reads
 * back to v under round-to-nearest-even, as strtod would. */
static char *write_g_fraction(char *w, double v, int prec, bool *round_trips)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int biased = (int)((bits >> 52) & 0x7FF);
    if ((bits >> 63) || biased == 0 || biased == 0x7FF) return NULL;
    uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int s = 1075 - biased;             /* v = m * 2^-s */
    if (s < 53 || s > 66) return NULL; /* v >= 1 or v < 2^-14 */
    u128 low_mask = ((u128)1 << s) - 1;
    u128 lead = pow10_u128(prec - 1); /* smallest prec-digit integer */
    /* Decimal exponent x: 10^x <= v < 10^(x+1), exactly, from the floor of
     * v * 10^(prec-1-x) having prec digits. */
    int x = -1;
    for (; x >= -4; x--)
        if ((((u128)m * pow10_u128(prec - 1 - x)) >> s) >= lead) break;
    if (x < -4) return NULL; /* below 1e-4: printf writes an exponent */
    /* Round v * 10^d to an integer, ties to even. */
    u128 scaled = (u128)m * pow10_u128(prec - 1 - x);
    u128 q = scaled >> s, r = scaled & low_mask, half = (u128)1 << (s - 1);
    if (r > half || (r == half && (q & 1))) q++;
    if (q == lead * 10) { /* rounded up to the next power of ten */
        q = lead;
        x++;
        if (x == 0) return NULL; /* "1": not a fraction any more */
    }
    /* Does q / 10^d read back as v? Only if it lies within half the gap to
     * each neighbour (the gap below is halved when m is a power of two).
     * It is never exactly halfway, (2m+1) / 2^(s+1): q * 2^(s+1) =
     * (2m+1) * 5^d * 2^d would need d >= s + 1 >= 54, and d <= 20. */
    int d = prec - 1 - x;
    u128 p10 = pow10_u128(d);
    u128 dec = q << s, exact = (u128)m * p10; /* both scaled by 10^d 2^s */
    u128 half_up = p10 / 2;
    u128 half_down = m == (UINT64_C(1) << 52) ? p10 / 4 : p10 / 2;
    *round_trips =
        dec >= exact ? dec - exact < half_up : exact - dec < half_down;
    /* "0." then -x-1 zeros, then the digits without trailing zeros. */
    char digits[17];
    uint64_t q64 = (uint64_t)q; /* < 10^17 */
    for (int i = prec - 1; i >= 0; i--) {
        digits[i] = (char)('0' + q64 % 10);
        q64 /= 10;
    }
    int n = prec;
    while (digits[n - 1] == '0') /* the first digit is not 0 */
        n--;
    *w++ = '0';
    *w++ = '.';
    for (int i = 0; i < -x - 1; i++)
        *w++ = '0';
    memcpy(w, digits, (size_t)n);
    return w + n;
}

/* Writes the confidence as hk_double_text (core/json_text.h) would (null when
 * not finite); at most 24 bytes. Confidences are nearly always short decimals
 * (1.0, 0.95, 0.8), so those skip the printf/strtod round trip: when v is the
 * double nearest to k/10^6 (1 <= k/100, k <= 10^6), its %.15g text is
 * exactly the decimal k/10^6 with trailing zeros dropped, because v is
 * within 2^-53 relative of it, far below half a unit in the 15th digit, and
 * that text reads back to v. Other values in [1e-4, 1) get the same digits
 * as printf from exact integer arithmetic (write_g_fraction); values below
 * 1e-4 (where %g switches to an exponent) or above 1 use printf. */
static char *write_confidence(char *w, double v)
{
    if (!isfinite(v)) {
        memcpy(w, "null", 4);
        return w + 4;
    }
    if (v == 0.0) { /* %.15g gives "0" or "-0" */
        if (signbit(v)) *w++ = '-';
        memcpy(w, "0.0", 3);
        return w + 3;
    }
    if (v > 0.0 && v <= 1.0) {
        uint32_t k = (uint32_t)(v * 1e6 + 0.5);
        if (k >= 100 && (double)k / 1e6 == v) {
            if (k == 1000000) {
                memcpy(w, "1.0", 3);
                return w + 3;
            }
            char digits[6];
            for (int i = 5; i >= 0; i--) {
                digits[i] = (char)('0' + k % 10);
                k /= 10;
            }
            size_t n = 6;
            while (digits[n - 1] == '0') /* k > 0: a non-zero digit stops it */
                n--;
            *w++ = '0';
            *w++ = '.';
            memcpy(w, digits, n);
            return w + n;
        }
    }
    /* Other fractions: 15 digits if they read back, else 17. */
    bool round_trips = false;
    char *end = write_g_fraction(w, v, 15, &round_trips);
    if (end && round_trips) return end;
    if (end && (end = write_g_fraction(w, v, 17, &round_trips))) return end;
    char num[32];
    hk_double_text(v, num);
    size_t n = strlen(num);
    memcpy(w, num, n);
    return w + n;
}

/* Writes a JSON string literal for s (len bytes), or null; at most
 * 6 * len + 4 bytes. */
static char *write_nullable_string(char *w, const char *s, size_t len)
{
    if (!s) {
        memcpy(w, "null", 4);
        return w + 4;
    }
    *w++ = '"';
    w = hk_fmt_json_chars(w, s, len);
    *w++ = '"';
    return w;
}

/* Where the JSON body of a string already written in the statement text
 * is, so that the "predicate" and "args" fields can copy it instead of
 * escaping the same bytes again. */
typedef struct json_span {
    const char *at; /* first byte in the output, NULL when not reusable */
    size_t len;     /* bytes */
} json_span;

/* Copies a body written before (span.at set) as a JSON string literal, or
 * escapes s as write_nullable_string does. */
static char *write_string_again(char *w, json_span span, const char *s,
                                size_t len)
{
    if (!span.at) return write_nullable_string(w, s, len);
    *w++ = '"';
    memcpy(w, span.at, span.len);
    w += span.len;
    *w++ = '"';
    return w;
}

/* Writes the JSON body (no surrounding quotes) of the statement's
 * canonical text, as hk_statement_format writes it: `Pred(a, "b c")`,
 * quoting an argument unless hk_arg_is_bare, with '"' and '\' escaped
 * inside quotes. Equal, byte for byte, to escaping hk_statement_format's
 * output as one string: every UTF-8 sequence lies inside one piece, since
 * each piece is followed by ASCII. A quoted argument of len bytes needs at
 * most 6 * len + 4 bytes. spans[0] gets the predicate's body, spans[1 + i]
 * argument i's when it is bare (its body is then the same as in the args
 * field). */
static char *write_statement_chars(char *w, const hk_statement *st,
                                   const size_t arg_len[], size_t pred_len,
                                   json_span spans[])
{
    spans[0].at = w;
    w = hk_fmt_json_chars(w, st->predicate, pred_len);
    spans[0].len = (size_t)(w - spans[0].at);
    *w++ = '(';
    for (uint32_t i = 0; i < st->n_args; i++) {
        const char *arg = st->args[i];
        if (i) {
            *w++ = ',';
            *w++ = ' ';
        }
        if (hk_arg_is_bare(arg)) {
            spans[1 + i].at = w;
            w = hk_fmt_json_chars(w, arg, arg_len[i]);
            spans[1 + i].len = (size_t)(w - spans[1 + i].at);
            continue;
        }
        spans[1 + i].at = NULL; /* the field's text differs: escape again */
        memcpy(w, "\\\"", 2);   /* the canonical '"', escaped for JSON */
        w += 2;
        const char *run = arg;
        const char *end = arg + arg_len[i];
        for (const char *p = arg; p < end; p++) {
            if (*p != '"' && *p != '\\') continue;
            w = hk_fmt_json_chars(w, run, (size_t)(p - run));
            /* canonical \" or \\ , each byte escaped for JSON */
            memcpy(w, *p == '"' ? "\\\\\\\"" : "\\\\\\\\", 4);
            w += 4;
            run = p + 1;
        }
        w = hk_fmt_json_chars(w, run, (size_t)(end - run));
        memcpy(w, "\\\"", 2);
        w += 2;
    }
    *w++ = ')';
    return w;
}

/* a + b * k, or SIZE_MAX when that overflows (hk_buf_reserve then fails). */
static size_t size_add(size_t a, size_t b, size_t k)
{
    size_t sum;
    if (__builtin_mul_overflow(b, k, &sum) ||
        __builtin_add_overflow(a, sum, &sum))
        return SIZE_MAX;
    return sum;
}

#define LIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) + sizeof(s) - 1)

/* Bytes of everything but the strings: the keys and punctuation (~120),
 * the id (20), the confidence (24), two times (31 each), with room to
 * spare. */
#define FACT_FIXED_BYTES 320

hk_err hk_fact_write_json(const hk_fact *f, hk_buf *out)
{
    const hk_statement *st = &f->st;
    /* The same checks as hk_statement_format, before anything is written. */
    if (!st->predicate || st->n_args < 1 || st->n_args > HK_MAX_ARGS)
        return HK_ERR_INVALID;
    for (uint32_t i = 0; i < st->n_args; i++)
        if (!st->args[i]) return HK_ERR_INVALID;
    uint32_t n_tags = f->n_tags < HK_MAX_TAGS ? f->n_tags : HK_MAX_TAGS;
    bool has_context = f->context_json && f->context_json[0];

    /* Reserve the worst case once, then write without further checks.
     * Predicate and arguments appear twice (statement and fields): 12
     * bytes each at most, plus quotes and separators. */
    size_t arg_len[HK_MAX_ARGS];
    json_span spans[1 + HK_MAX_ARGS]; /* predicate, then each argument */
    size_t pred_len = strlen(st->predicate);
    size_t src_len = f->source ? strlen(f->source) : 0;
    size_t ctx_len = has_context ? strlen(f->context_json) : 0;
    size_t need = size_add(FACT_FIXED_BYTES, pred_len, 12);
    for (uint32_t i = 0; i < st->n_args; i++) {
        arg_len[i] = strlen(st->args[i]);
        need = size_add(need, arg_len[i], 12);
        need = size_add(need, 10, 1);
    }
    need = size_add(need, src_len, 6);
    for (uint32_t i = 0; i < n_tags; i++) {
        need = size_add(need, f->tags[i] ? strlen(f->tags[i]) : 0, 6);
        need = size_add(need, 5, 1);
    }
    need = size_add(need, ctx_len, 1);
    hk_err rc = hk_buf_reserve(out, need);
    if (rc != HK_OK) return rc; /* out untouched */

    char *start = out->data + out->len;
    char *w = start;
    w = LIT(w, "{\"id\":");
    w = hk_fmt_u64(w, f->id);
    w = LIT(w, ",\"statement\":\"");
    w = write_statement_chars(w, st, arg_len, pred_len, spans);
    w = LIT(w, "\",\"predicate\":");
    w = write_string_again(w, spans[0], st->predicate, pred_len);
    w = LIT(w, ",\"args\":[");
    for (uint32_t i = 0; i < st->n_args; i++) {
        if (i) *w++ = ',';
        w = write_string_again(w, spans[1 + i], st->args[i], arg_len[i]);
    }
    w = LIT(w, "],\"confidence\":");
    w = write_confidence(w, f->confidence);
    w = LIT(w, ",\"source\":");
    w = write_nullable_string(w, f->source, src_len);
    w = LIT(w, ",\"tags\":[");
    for (uint32_t i = 0; i < n_tags; i++) {
        if (i) *w++ = ',';
        const char *tag = f->tags[i];
        w = write_nullable_string(w, tag, tag ? strlen(tag) : 0);
    }
    w = LIT(w, "],\"context\":");
    if (has_context) {
        memcpy(w, f->context_json, ctx_len);
        w += ctx_len;
    } else {
        w = LIT(w, "null");
    }
    w = LIT(w, ",\"created\":\"");
    char *created = w;
    w = hk_fmt_time(w, f->created_us);
    size_t created_len = (size_t)(w - created);
    w = LIT(w, "\",\"updated\":\"");
    if (f->updated_us == f->created_us) { /* most facts: never changed */
        memcpy(w, created, created_len);
        w += created_len;
    } else {
        w = hk_fmt_time(w, f->updated_us);
    }
    w = LIT(w, "\"}");
    assert((size_t)(w - start) <= need); /* the reservation above holds */
    out->len = (size_t)(w - out->data);
    *w = '\0';
    return HK_OK;
}
