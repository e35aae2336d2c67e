/*
 * statement.c — parsing, validating and formatting statements.
 *
 * Grammar (the architecture's "Fact model"; legacy HAK-GAL exports parse):
 *
 *   statement := ws* predicate ws* '(' arg (',' arg)* ')' ws* ['.'] ws*
 *   predicate := (letter | '_') (letter | digit | '_')*
 *   arg       := ws* (bare | quoted ws*)
 *   bare      := any characters except , ( ) " and control characters;
 *                surrounding spaces/tabs are trimmed, inner ones kept
 *   quoted    := '"' (char | '\"' | '\\')* '"'   (no control characters)
 *   ws        := ' ' | '\t'
 *
 *  - "letter" is an ASCII letter or any valid non-ASCII UTF-8 character
 *    (predicates such as `Größe` or `构成` are accepted; no Unicode
 *    tables are consulted). "digit" is 0-9.
 *  - Control characters are U+0000..U+001F and U+007F. Trailing CR/LF (and
 *    spaces/tabs) at the very end are ignored so that lines read with their
 *    terminator parse; anywhere else a control character is an error.
 *  - Arguments are never empty: `P()`, `P(a, , b)` and `P("")` are errors
 *    (a quoted argument may consist of spaces: `P(" ")` is the argument
 *    " ").
 *  - Limits: 1..HK_MAX_ARGS arguments, HK_MAX_PREDICATE_BYTES for the
 *    predicate, HK_MAX_ARG_BYTES per (unescaped) argument,
 *    HK_MAX_STATEMENT_BYTES for the input and for the canonical form, so
 *    that every accepted statement's canonical form parses again.
 *  - Every error is HK_ERR_INVALID with err->column (1-based, counted in
 *    characters) and a message "column N: what — why". Exceeded limits
 *    are HK_ERR_INVALID too: for a caller they are bad input like any
 *    other.
 *
 * Canonical form: `Pred(a, b)` — one space after each comma, no period,
 * an argument written bare when hk_arg_is_bare says so, else quoted with
 * '"' and '\' escaped. Bare-safe excludes `_` and a leading '?' so that a
 * canonical statement read as a pattern has no variables or wildcards.
 *
 * The parser makes one allocation (input length + one NUL per slot) that
 * holds every unquoted text; it never reads outside text[0..len).
 *
 * Threads: pure functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/syntax.h"
#include "core/utf8.h"
#include "hakgal.h"

/* ==== Character helpers ==== */

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool is_ctrl(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

static bool is_ascii_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

size_t hk_ident_span(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t l = hk_utf8_seq_len(p + i, n - i);
            if (l == 0) break;
            i += l;
        } else if (is_ascii_letter(c) || c == '_' ||
                   (i > 0 && c >= '0' && c <= '9')) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

/* Describes the character at p for an error message: 'x', '€' or
 * "control character U+000A". */
static const char *describe_char(const char *p, size_t n, char out[40])
{
    if (n == 0) {
        snprintf(out, 40, "end of input");
        return out;
    }
    unsigned char c = (unsigned char)p[0];
    if (is_ctrl(c))
        snprintf(out, 40, "control character U+%04X", c);
    else if (c < 0x80)
        snprintf(out, 40, "'%c'", c);
    else {
        size_t l = hk_utf8_seq_len((const unsigned char *)p, n);
        if (l == 0)
            snprintf(out, 40, "byte 0x%02X", c);
        else
            snprintf(out, 40, "'%.*s'", (int)l, p);
    }
    return out;
}

hk_err hk_syntax_fail(hk_error *err, const char *text, size_t offset,
                      const char *fmt, ...)
{
    if (!err) return HK_ERR_INVALID;
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    uint32_t column = (uint32_t)hk_utf8_count(text, offset) + 1;
    hk_error_set(err, HK_ERR_INVALID, "column %u: %s", (unsigned)column,
                 reason);
    err->column = column;
    return HK_ERR_INVALID;
}

hk_err hk_syntax_text_ok(const char *text, size_t len, size_t max,
                         const char *what, hk_error *err)
{
    if (len > max)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "%s of %zu bytes is longer than %zu", what, len,
                            max);
    size_t bad = 0;
    if (!hk_utf8_valid(text, len, &bad))
        return hk_syntax_fail(err, text, bad, "invalid UTF-8");
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return hk_syntax_fail(err, text, (size_t)(nul - text),
                              "NUL byte in the %s", what);
    return HK_OK;
}

/* ==== Scanner ==== */

static size_t skip_ws(const char *text, size_t i, size_t n)
{
    while (i < n && is_ws((unsigned char)text[i]))
        i++;
    return i;
}

/* Reads a quoted argument starting at the '"' at *pos into *w. */
static hk_err scan_quoted(const char *text, size_t n, size_t *pos, char **w,
                          uint32_t argno, hk_error *err)
{
    char what[40];
    size_t start = *pos;
    size_t i = start + 1;
    char *out = *w;
    for (;;) { /* bounded: i grows each step, stops at n */
        if (i >= n)
            return hk_syntax_fail(err, text, start,
                                  "unterminated quoted argument %u — missing "
                                  "closing '\"'",
                                  argno);
        unsigned char c = (unsigned char)text[i];
        if (c == '"') {
            i++;
            break;
        }
        if (c == '\\') {
            if (i + 1 >= n)
                return hk_syntax_fail(err, text, start,
                                      "unterminated quoted argument %u — "
                                      "missing closing '\"'",
                                      argno);
            unsigned char e = (unsigned char)text[i + 1];
            if (e != '"' && e != '\\')
                return hk_syntax_fail(
                    err, text, i,
                    "invalid escape '\\' followed by %s in argument %u — "
                    "only \\\" and \\\\ are allowed",
                    describe_char(text + i + 1, n - i - 1, what), argno);
            *out++ = (char)e;
            i += 2;
            continue;
        }
        if (is_ctrl(c))
            return hk_syntax_fail(err, text, i, "%s in argument %u",
                                  describe_char(text + i, n - i, what), argno);
        *out++ = (char)c;
        i++;
    }
    if (out == *w)
        return hk_syntax_fail(err, text, start,
                              "empty argument %u — \"\" is not allowed, "
                              "arguments must be non-empty",
                              argno);
    *pos = i;
    *w = out;
    return HK_OK;
}

/* Reads a bare argument starting at *pos (leading blanks skipped) up to
 * the next ',' or ')' into *w, trimmed. */
static hk_err scan_bare(const char *text, size_t n, size_t *pos, char **w,
                        uint32_t argno, hk_error *err)
{
    char what[40];
    size_t start = *pos;
    size_t i = start;
    while (i < n) {
        unsigned char c = (unsigned char)text[i];
        if (c == ',' || c == ')') break;
        if (c == '(')
            return hk_syntax_fail(err, text, i,
                                  "unexpected '(' in argument %u — quote the "
                                  "argument to use parentheses",
                                  argno);
        if (c == '"')
            return hk_syntax_fail(err, text, i,
                                  "unexpected '\"' in argument %u — a quoted "
                                  "argument must be quoted from its start",
                                  argno);
        if (c == '\t') {
            /* A tab may only be trailing blank space, which is trimmed. */
            size_t j = skip_ws(text, i, n);
            if (j < n && (text[j] == ',' || text[j] == ')')) {
                i = j;
                break;
            }
        }
        if (is_ctrl(c))
            return hk_syntax_fail(err, text, i, "%s in argument %u",
                                  describe_char(text + i, n - i, what), argno);
        i++;
    }
    if (i >= n)
        return hk_syntax_fail(err, text, i,
                              "missing ')' at the end of the statement");
    size_t end = i;
    while (end > start && is_ws((unsigned char)text[end - 1]))
        end--;
    if (end == start)
        return hk_syntax_fail(err, text, i,
                              "unexpected '%c' — empty argument %u", text[i],
                              argno);
    memcpy(*w, text + start, end - start);
    *w += end - start;
    *pos = i;
    return HK_OK;
}

hk_err hk_syntax_parse(const char *text, size_t len, bool pattern,
                       hk_syntax *out, hk_error *err)
{
    char what[40];
    hk_err rc = HK_OK;
    memset(out, 0, sizeof *out);
    if (!text) return hk_error_set(err, HK_ERR_INVALID, "statement is missing");
    if (len > HK_MAX_STATEMENT_BYTES)
        return hk_error_set(err, HK_ERR_INVALID,
                            "statement is %zu bytes, over the limit of %d", len,
                            HK_MAX_STATEMENT_BYTES);
    size_t bad = 0;
    if (!hk_utf8_valid(text, len, &bad))
        return hk_syntax_fail(err, text, bad,
                              "invalid UTF-8 (byte 0x%02X cannot start or "
                              "continue a character here)",
                              (unsigned char)text[bad]);

    /* Ignore the line terminator and blanks at the very end. */
    size_t n = len;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
                     is_ws((unsigned char)text[n - 1])))
        n--;

    /* Every text is a subsequence of the input plus its NUL. */
    char *w = hk_malloc(n + HK_MAX_ARGS + 2);
    if (!w)
        return hk_error_set(err, HK_ERR_NOMEM,
                            "out of memory parsing a statement");
    out->owned = w;

    /* ---- predicate ---- */
    size_t i = skip_ws(text, 0, n);
    size_t pred_start = i;
    if (pattern && i < n && text[i] == '?') {
        out->predicate_is_var = true;
        i++;
    }
    size_t span = hk_ident_span(text + i, n - i);
    if (span == 0) {
        if (out->predicate_is_var)
            rc = hk_syntax_fail(err, text, i,
                                "expected a variable name after '?', found %s",
                                describe_char(text + i, n - i, what));
        else if (i >= n)
            rc = hk_syntax_fail(err, text, i,
                                "empty statement — expected a predicate such "
                                "as HasPart(a, b)");
        else if (text[i] == '(')
            rc = hk_syntax_fail(err, text, i, "missing predicate before '('");
        else
            rc = hk_syntax_fail(err, text, i,
                                "unexpected %s at the start of the predicate "
                                "— a predicate starts with a letter or '_'",
                                describe_char(text + i, n - i, what));
        goto fail;
    }
    if (span > HK_MAX_PREDICATE_BYTES) {
        rc = hk_syntax_fail(err, text, pred_start,
                            "predicate is %zu bytes, over the limit of %d",
                            span, HK_MAX_PREDICATE_BYTES);
        goto fail;
    }
    memcpy(w, text + i, span);
    out->predicate.text = w;
    out->predicate.len = span;
    out->predicate.offset = pred_start;
    w += span;
    *w++ = '\0';
    i = skip_ws(text, i + span, n);
    if (i >= n || text[i] != '(') {
        rc = hk_syntax_fail(err, text, i,
                            "unexpected %s after the predicate — expected '('",
                            describe_char(text + i, n - i, what));
        goto fail;
    }
    i++;

    /* ---- arguments ---- */
    for (;;) { /* bounded: each pass consumes an argument and a separator */
        i = skip_ws(text, i, n);
        uint32_t argno = out->n_args + 1;
        if (out->n_args == HK_MAX_ARGS) {
            rc = hk_syntax_fail(err, text, i, "too many arguments (max %d)",
                                HK_MAX_ARGS);
            goto fail;
        }
        size_t arg_start = i;
        char *arg_text = w;
        bool quoted = i < n && text[i] == '"';
        if (quoted) {
            rc = scan_quoted(text, n, &i, &w, argno, err);
            if (rc != HK_OK) goto fail;
            i = skip_ws(text, i, n);
            if (i >= n) {
                rc = hk_syntax_fail(err, text, i,
                                    "missing ')' at the end of the statement");
                goto fail;
            }
            if (text[i] != ',' && text[i] != ')') {
                rc =
                    hk_syntax_fail(err, text, i,
                                   "unexpected %s after quoted argument %u — "
                                   "expected ',' or ')'",
                                   describe_char(text + i, n - i, what), argno);
                goto fail;
            }
        } else {
            rc = scan_bare(text, n, &i, &w, argno, err);
            if (rc != HK_OK) goto fail;
        }
        size_t arg_len = (size_t)(w - arg_text);
        if (arg_len > HK_MAX_ARG_BYTES) {
            rc =
                hk_syntax_fail(err, text, arg_start,
                               "argument %u is %zu bytes, over the limit of %d",
                               argno, arg_len, HK_MAX_ARG_BYTES);
            goto fail;
        }
        *w++ = '\0';
        hk_syntax_slot *slot = &out->args[out->n_args++];
        slot->text = arg_text;
        slot->len = arg_len;
        slot->quoted = quoted;
        slot->offset = arg_start;
        /* text[i] is ',' or ')' here (both scanners guarantee it). */
        if (text[i++] == ')') break;
    }

    /* ---- after ')' ---- */
    i = skip_ws(text, i, n);
    if (i < n && text[i] == '.') i = skip_ws(text, i + 1, n);
    if (i < n) {
        rc = hk_syntax_fail(err, text, i, "unexpected %s after the closing ')'",
                            describe_char(text + i, n - i, what));
        goto fail;
    }
    return HK_OK;

fail:
    hk_free(out->owned);
    memset(out, 0, sizeof *out);
    return rc;
}

/* ==== Statements ==== */

bool hk_arg_is_bare(const char *arg)
{
    if (!arg || !arg[0]) return false;
    if (arg[0] == '?' || (arg[0] == '_' && arg[1] == '\0')) return false;
    size_t len = strlen(arg);
    if (is_ws((unsigned char)arg[0]) || is_ws((unsigned char)arg[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (c == ',' || c == '(' || c == ')' || c == '"' || c == '\\' ||
            is_ctrl(c))
            return false;
    }
    return true;
}

/* Bytes of one argument in canonical form. */
static size_t arg_canonical_len(const char *arg)
{
    size_t len = strlen(arg);
    if (hk_arg_is_bare(arg)) return len;
    size_t n = len + 2;
    for (size_t i = 0; i < len; i++)
        if (arg[i] == '"' || arg[i] == '\\') n++;
    return n;
}

size_t hk_statement_canonical_len(const hk_statement *st)
{
    size_t n = strlen(st->predicate) + 2; /* Pred( ) */
    for (uint32_t i = 0; i < st->n_args && i < HK_MAX_ARGS; i++)
        n += arg_canonical_len(st->args[i]) + (i ? 2 : 0);
    return n;
}

hk_err hk_statement_parse(const char *text, size_t len, hk_statement *out,
                          hk_error *err)
{
    hk_syntax syn;
    memset(out, 0, sizeof *out);
    hk_err rc = hk_syntax_parse(text, len, false, &syn, err);
    if (rc != HK_OK) return rc;
    out->predicate = syn.predicate.text;
    out->n_args = syn.n_args;
    for (uint32_t i = 0; i < syn.n_args; i++)
        out->args[i] = syn.args[i].text;
    out->owned = syn.owned;
    size_t canon = hk_statement_canonical_len(out);
    if (canon > HK_MAX_STATEMENT_BYTES) {
        hk_statement_release(out);
        return hk_error_set(err, HK_ERR_INVALID,
                            "canonical form is %zu bytes, over the limit of %d",
                            canon, HK_MAX_STATEMENT_BYTES);
    }
    return HK_OK;
}

/* Sets a validation error "field: why" naming the field. */
static hk_err field_fail(hk_error *err, const char *field, const char *why)
{
    hk_error_set(err, HK_ERR_INVALID, "%s: %s", field, why);
    if (err) snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

/* Checks one text for UTF-8 and control characters; returns a reason
 * (written to detail) or NULL. */
static const char *text_problem(const char *s, size_t len, char detail[96])
{
    size_t bad;
    if (!hk_utf8_valid(s, len, &bad)) {
        snprintf(detail, 96, "invalid UTF-8 at byte %zu", bad);
        return detail;
    }
    for (size_t i = 0; i < len; i++) {
        if (is_ctrl((unsigned char)s[i])) {
            snprintf(detail, 96, "control character U+%04X at byte %zu",
                     (unsigned char)s[i], i);
            return detail;
        }
    }
    return NULL;
}

hk_err hk_statement_validate(const hk_statement *st, hk_error *err)
{
    char detail[96];
    char field[32];
    if (!st) return hk_error_set(err, HK_ERR_INVALID, "statement is missing");
    if (!st->predicate)
        return field_fail(err, "predicate", "predicate is missing");
    size_t plen = strlen(st->predicate);
    if (plen == 0) return field_fail(err, "predicate", "predicate is empty");
    if (plen > HK_MAX_PREDICATE_BYTES) {
        snprintf(detail, sizeof detail,
                 "predicate is %zu bytes, over the limit of %d", plen,
                 HK_MAX_PREDICATE_BYTES);
        return field_fail(err, "predicate", detail);
    }
    const char *why = text_problem(st->predicate, plen, detail);
    if (why) return field_fail(err, "predicate", why);
    size_t span = hk_ident_span(st->predicate, plen);
    if (span != plen) {
        snprintf(detail, sizeof detail,
                 "unexpected character at byte %zu — a predicate is a letter "
                 "or '_' then letters, digits or '_'",
                 span);
        return field_fail(err, "predicate", detail);
    }
    if (st->n_args < 1 || st->n_args > HK_MAX_ARGS) {
        snprintf(detail, sizeof detail, "%u arguments, need 1..%d",
                 (unsigned)st->n_args, HK_MAX_ARGS);
        return field_fail(err, "args", detail);
    }
    for (uint32_t i = 0; i < st->n_args; i++) {
        const char *arg = st->args[i];
        size_t alen = arg ? strlen(arg) : 0;
        why = !arg                      ? "argument is missing"
              : alen == 0               ? "argument is empty"
              : alen > HK_MAX_ARG_BYTES ? NULL
                                        : text_problem(arg, alen, detail);
        if (arg && alen > HK_MAX_ARG_BYTES) {
            snprintf(detail, sizeof detail,
                     "argument is %zu bytes, over the limit of %d", alen,
                     HK_MAX_ARG_BYTES);
            why = detail;
        }
        if (why) {
            /* the field name is formatted only for the error (this loop
             * runs for every argument of every statement written) */
            snprintf(field, sizeof field, "args[%u]", (unsigned)i);
            return field_fail(err, field, why);
        }
    }
    size_t canon = hk_statement_canonical_len(st);
    if (canon > HK_MAX_STATEMENT_BYTES) {
        snprintf(detail, sizeof detail,
                 "canonical form is %zu bytes, over the limit of %d", canon,
                 HK_MAX_STATEMENT_BYTES);
        return field_fail(err, "args", detail);
    }
    return HK_OK;
}

/* Appends one argument in canonical form. */
static hk_err format_arg(const char *arg, hk_buf *out)
{
    if (hk_arg_is_bare(arg)) return hk_buf_append_str(out, arg);
    hk_err rc = hk_buf_append(out, "\"", 1);
    const char *run = arg;
    for (const char *p = arg; rc == HK_OK && *p; p++) {
        if (*p == '"' || *p == '\\') {
            rc = hk_buf_append(out, run, (size_t)(p - run));
            if (rc == HK_OK) rc = hk_buf_append(out, "\\", 1);
            run = p; /* the escaped character starts the next run */
        }
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, run);
    if (rc == HK_OK) rc = hk_buf_append(out, "\"", 1);
    return rc;
}

hk_err hk_statement_format(const hk_statement *st, hk_buf *out)
{
    if (!st || !st->predicate || st->n_args < 1 || st->n_args > HK_MAX_ARGS)
        return HK_ERR_INVALID;
    for (uint32_t i = 0; i < st->n_args; i++)
        if (!st->args[i]) return HK_ERR_INVALID;
    size_t old_len = out->len;
    hk_err rc = hk_buf_append_str(out, st->predicate);
    if (rc == HK_OK) rc = hk_buf_append(out, "(", 1);
    for (uint32_t i = 0; rc == HK_OK && i < st->n_args; i++) {
        if (i) rc = hk_buf_append(out, ", ", 2);
        if (rc == HK_OK) rc = format_arg(st->args[i], out);
    }
    if (rc == HK_OK) rc = hk_buf_append(out, ")", 1);
    if (rc != HK_OK) {
        out->len = old_len; /* leave no partial statement behind */
        if (out->data) out->data[old_len] = '\0';
    }
    return rc;
}

void hk_statement_release(hk_statement *st)
{
    if (!st) return;
    hk_free(st->owned);
    memset(st, 0, sizeof *st);
}
