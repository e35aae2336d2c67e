/*
 * core/syntax.h — the statement grammar shared by statements and patterns.
 *
 * hk_statement_parse and hk_pattern_parse read the same text grammar
 * (`Pred(arg, "quoted arg", ...)` with an optional trailing '.'); they
 * differ only in how they interpret bare `?name` and `_`. This private
 * header exposes the one scanner both use, which reports every slot with
 * whether it was quoted and where it started, so that each caller can
 * classify slots and point its own errors at the right column.
 */
#ifndef HK_CORE_SYNTAX_H
#define HK_CORE_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

#include "hakgal.h"

/* One predicate or argument as written. */
typedef struct hk_syntax_slot {
    const char *text; /* unquoted, trimmed, NUL-terminated (in owned) */
    size_t len;       /* bytes of text */
    bool quoted;      /* written as "..." */
    size_t offset;    /* byte offset of the slot's first character */
} hk_syntax_slot;

/* A scanned statement or pattern. */
typedef struct hk_syntax {
    hk_syntax_slot predicate;         /* name, without '?' for a variable */
    bool predicate_is_var;            /* pattern mode: written as ?name */
    uint32_t n_args;                  /* 1..HK_MAX_ARGS */
    hk_syntax_slot args[HK_MAX_ARGS]; /* arguments in order */
    char *owned;                      /* one allocation holding all texts */
} hk_syntax;

/* Scans text[0..len). pattern allows a `?name` predicate. On success the
 * caller owns out->owned (free with hk_free); on failure nothing is owned
 * and err says where (column) and why. */
hk_err hk_syntax_parse(const char *text, size_t len, bool pattern,
                       hk_syntax *out, hk_error *err);

/* Sets an HK_ERR_INVALID error at byte offset `offset` of text: column is
 * counted in characters and the message starts with "column N: ". */
hk_err hk_syntax_fail(hk_error *err, const char *text, size_t offset,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The checks every query and rule text passes before it is parsed: at
 * most max bytes (HK_ERR_LIMIT), valid UTF-8 and no NUL byte
 * (HK_ERR_INVALID at the offending column). `what` names the text in the
 * messages ("query", "rule"). */
hk_err hk_syntax_text_ok(const char *text, size_t len, size_t max,
                         const char *what, hk_error *err);

/* Byte length of the identifier (letter or '_', then letters, digits,
 * '_'; any valid non-ASCII character counts as a letter) at the start of
 * s[0..n); 0 when s does not start with one. */
size_t hk_ident_span(const char *s, size_t n);

/* True when an argument can be written bare (no quotes) in a statement
 * or pattern: not empty, not `_` or `?name`, no leading or trailing blank,
 * none of , ( ) " \ and no control characters. */
bool hk_arg_is_bare(const char *arg);

/* Bytes of the canonical form of st (as hk_statement_format writes it). */
size_t hk_statement_canonical_len(const hk_statement *st);

#endif /* HK_CORE_SYNTAX_H */
