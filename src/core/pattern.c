/*
 * pattern.c — parsing query patterns such as `HasPart(?x, CPU)`.
 *
 * A pattern uses the statement grammar (core/syntax.h) with two bare forms
 * that are special:
 *   ?name  a variable (name: letter or '_' then letters, digits, '_'; the
 *          same rule as predicates), allowed as predicate or argument;
 *   _      a wildcard, allowed as predicate or argument.
 * Quoted "?x" and "_" are constants, which is why the canonical statement
 * form never writes such arguments bare. A bare argument that starts with
 * '?' but is not a valid variable (`?`, `?a b`, `?1`) is an error rather
 * than a silent constant, so typos in queries are reported.
 *
 * Threads: pure functions.
 */
#include <string.h>

#include "core/mem.h"
#include "core/syntax.h"
#include "core/utf8.h"
#include "hakgal.h"

hk_err hk_pattern_parse(const char *text, size_t len, hk_pattern *out,
                        hk_error *err)
{
    hk_syntax syn;
    memset(out, 0, sizeof *out);
    hk_err rc = hk_syntax_parse(text, len, true, &syn, err);
    if (rc != HK_OK) return rc;
    out->owned = syn.owned;

    if (syn.predicate_is_var) {
        out->predicate.kind = HK_TERM_VAR;
    } else if (strcmp(syn.predicate.text, "_") == 0) {
        out->predicate.kind = HK_TERM_ANY;
    } else {
        out->predicate.kind = HK_TERM_CONST;
    }
    out->predicate.text = syn.predicate.text;

    out->n_args = syn.n_args;
    for (uint32_t i = 0; i < syn.n_args; i++) {
        const hk_syntax_slot *slot = &syn.args[i];
        hk_term *term = &out->args[i];
        term->kind = HK_TERM_CONST;
        term->text = slot->text;
        if (slot->quoted) continue;
        if (slot->text[0] == '?') {
            size_t name_len = slot->len - 1;
            if (name_len == 0 ||
                hk_ident_span(slot->text + 1, name_len) != name_len) {
                rc = hk_syntax_fail(
                    err, text, slot->offset,
                    "invalid variable '%.*s' in argument %u "
                    "— a variable is '?' then a letter or "
                    "'_' and letters, digits or '_'; quote "
                    "the argument for a constant",
                    (int)hk_utf8_prefix(slot->text, slot->len, 64), slot->text,
                    (unsigned)(i + 1));
                goto fail;
            }
            term->kind = HK_TERM_VAR;
            term->text = slot->text + 1;
        } else if (slot->len == 1 && slot->text[0] == '_') {
            term->kind = HK_TERM_ANY;
        }
    }
    return HK_OK;

fail:
    hk_pattern_release(out);
    return rc;
}

void hk_pattern_release(hk_pattern *p)
{
    if (!p) return;
    hk_free(p->owned);
    memset(p, 0, sizeof *p);
}
