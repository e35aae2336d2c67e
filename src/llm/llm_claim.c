/*
 * llm_claim.c — checking what a model said against the KB (llm.h,
 * "Answers and claims").
 *
 * A claim is a statement in hakgal's syntax. Its verdict, in this order:
 *   1. supported     the exact fact exists (hk_store_find);
 *   2. contradicted  a negation of it exists: NotP(args) for P(args),
 *                    P(args) for NotP(args), or Q(args) for every declared
 *                    NegationOf(Q, P) / NegationOf(P, Q) — the declarations
 *                    src/reason reads for consistency_check;
 *   3. contradicted  Functional(P) is declared and P(a, y) exists with
 *                    y != b for the claim P(a, b);
 *   4. unknown       otherwise (the KB is silent; silence is not falsity).
 * Each step is an exact lookup or one indexed scan, so a claim costs a few
 * B-tree descents.
 *
 * Citations are validated separately: an id the model cites must name an
 * existing fact and must have been in the context it was shown.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "llm/llm.h"

#define NEGATION_DECL_MAX 16u /* declared negation predicates per claim */

const char *hk_llm_verdict_name(hk_llm_verdict v)
{
    return v == HK_LLM_SUPPORTED      ? "supported"
           : v == HK_LLM_CONTRADICTED ? "contradicted"
                                      : "unknown";
}

/* ==== Claims ==== */

/* Sets the evidence of c to fact id (its statement read from t). */
static hk_err set_evidence(hk_txn *t, hk_llm_claim *c, hk_llm_verdict v,
                           hk_fact_id id, const char *rule, hk_error *err)
{
    c->verdict = v;
    c->evidence = id;
    snprintf(c->rule, sizeof c->rule, "%s", rule);
    hk_fact f;
    hk_fact_init(&f);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_store_get(t, id, &f, err);
    if (rc == HK_OK && (rc = hk_statement_format(&f.st, &b)) == HK_OK &&
        !(c->evidence_statement = hk_strndup(b.data, b.len)))
        rc = HK_ERR_NOMEM;
    if (rc == HK_ERR_NOMEM) hk_error_set(err, rc, "out of memory");
    hk_buf_free(&b);
    hk_fact_release(&f);
    return rc;
}

/* Predicates bound to ?x by NegationOf(?x, p) (first) or NegationOf(p, ?x)
 * (first = false), appended to out[*n..max). Strings owned by hold. */
static hk_err declared(hk_txn *t, const char *p, bool first, char **out,
                       size_t *n, size_t max, hk_error *err)
{
    hk_pattern pat;
    memset(&pat, 0, sizeof pat);
    pat.predicate.kind = HK_TERM_CONST;
    pat.predicate.text = "NegationOf";
    pat.n_args = 2;
    pat.args[first ? 0 : 1].kind = HK_TERM_VAR;
    pat.args[first ? 0 : 1].text = "x";
    pat.args[first ? 1 : 0].kind = HK_TERM_CONST;
    pat.args[first ? 1 : 0].text = p;
    hk_query *q = NULL;
    hk_err rc = hk_query_open_pattern(t, &pat, NULL, &q, err);
    while (rc == HK_OK && *n < max) {
        hk_fact_id id;
        bool row = false;
        if ((rc = hk_query_next_id(q, &id, &row, err)) || !row) break;
        const char *x = hk_query_binding(q, "x");
        if (x && !(out[(*n)++] = hk_strdup(x)))
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_query_close(q);
    return rc;
}

/* Looks for a negation of st; sets the verdict when found. */
static hk_err check_negation(hk_txn *t, hk_llm_claim *c, const hk_statement *st,
                             hk_error *err)
{
    char *cand[NEGATION_DECL_MAX + 2];
    size_t n = 0;
    hk_err rc = HK_OK;
    const char *p = st->predicate;
    size_t pl = strlen(p);
    if (pl + 4 <= HK_MAX_ARG_BYTES) {
        char *np = hk_malloc(pl + 4);
        if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        memcpy(np, "Not", 3);
        memcpy(np + 3, p, pl + 1);
        cand[n++] = np;
    }
    if (pl > 3 && !strncmp(p, "Not", 3) && !(cand[n++] = hk_strdup(p + 3)))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (!rc) rc = declared(t, p, true, cand, &n, NEGATION_DECL_MAX + 2, err);
    if (!rc) rc = declared(t, p, false, cand, &n, NEGATION_DECL_MAX + 2, err);
    for (size_t i = 0; !rc && i < n; i++) {
        hk_statement neg = *st;
        neg.owned = NULL;
        neg.predicate = cand[i];
        hk_fact_id id;
        hk_err f = hk_store_find(t, &neg, &id, err);
        if (f == HK_ERR_NOT_FOUND || f == HK_ERR_INVALID) continue;
        if (f) {
            rc = f;
            break;
        }
        rc = set_evidence(t, c, HK_LLM_CONTRADICTED, id, "negation", err);
        if (!rc)
            snprintf(c->note, sizeof c->note, "%.60s negates %.60s", cand[i],
                     p);
        break;
    }
    for (size_t i = 0; i < n; i++)
        hk_free(cand[i]);
    return rc;
}

/* Functional(P) and P(a, y) with y != b for the claim P(a, b). */
static hk_err check_functional(hk_txn *t, hk_llm_claim *c,
                               const hk_statement *st, hk_error *err)
{
    if (st->n_args != 2) return HK_OK;
    hk_statement decl = {"Functional", 1, {st->predicate}, NULL};
    hk_fact_id did;
    hk_err rc = hk_store_find(t, &decl, &did, err);
    if (rc == HK_ERR_NOT_FOUND) return HK_OK;
    if (rc) return rc;
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = st->predicate;
    scan.entity = st->args[0];
    scan.position = 0;
    scan.arity = 2;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK) {
        bool row = false;
        if ((rc = hk_query_next(q, &f, &row, err)) || !row) break;
        if (f.st.n_args == 2 && strcmp(f.st.args[1], st->args[1]) != 0) {
            rc = set_evidence(t, c, HK_LLM_CONTRADICTED, f.id, "functional",
                              err);
            if (!rc)
                snprintf(c->note, sizeof c->note,
                         "%.60s is functional: %.40s has another value",
                         st->predicate, st->args[0]);
            break;
        }
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

hk_err hk_llm_claim_check(hk_txn *t, hk_llm_claim *c, hk_error *err)
{
    c->verdict = HK_LLM_UNKNOWN;
    c->evidence = 0;
    c->rule[0] = 0;
    c->note[0] = 0;
    hk_statement st;
    hk_error perr;
    hk_error_clear(&perr);
    const char *s = c->statement ? c->statement : "";
    if (hk_statement_parse(s, strlen(s), &st, &perr) != HK_OK) {
        snprintf(c->note, sizeof c->note, "not a statement: %.120s",
                 perr.message);
        return HK_OK;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_statement_format(&st, &b);
    if (rc == HK_OK && !(c->canonical = hk_strndup(b.data, b.len)))
        rc = HK_ERR_NOMEM;
    hk_buf_free(&b);
    if (rc) {
        hk_statement_release(&st);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_fact_id id;
    rc = hk_store_find(t, &st, &id, err);
    if (rc == HK_OK) {
        rc = set_evidence(t, c, HK_LLM_SUPPORTED, id, "fact", err);
        snprintf(c->note, sizeof c->note, "the KB holds this fact");
    } else if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        rc = check_negation(t, c, &st, err);
        if (rc == HK_OK && c->verdict == HK_LLM_UNKNOWN)
            rc = check_functional(t, c, &st, err);
        if (rc == HK_OK && c->verdict == HK_LLM_UNKNOWN)
            snprintf(c->note, sizeof c->note,
                     "no fact states or contradicts it");
    }
    hk_statement_release(&st);
    return rc;
}

void hk_llm_claim_release(hk_llm_claim *c)
{
    hk_free(c->statement);
    hk_free(c->canonical);
    hk_free(c->evidence_statement);
    hk_free(c->proof);
    c->statement = c->canonical = c->evidence_statement = c->proof = NULL;
}

/* ==== Answers ==== */

static hk_err cite(hk_llm_answer *a, hk_fact_id id)
{
    for (size_t i = 0; i < a->n_citations; i++)
        if (a->citations[i].id == id) return HK_OK;
    if (a->n_citations >= HK_LLM_CITATIONS_MAX) return HK_OK;
    a->citations[a->n_citations++].id = id;
    return HK_OK;
}

static void cite_array(hk_llm_answer *a, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i >= HK_LLM_CITATIONS_MAX) break;
        if (json_is_integer(v) && json_integer_value(v) > 0)
            cite(a, (hk_fact_id)json_integer_value(v));
        else if (json_is_string(v)) { /* "#12" or "12" */
            const char *s = json_string_value(v);
            if (*s == '#') s++;
            char *end = NULL;
            unsigned long long x = strtoull(s, &end, 10);
            if (end != s && !*end && x > 0) cite(a, (hk_fact_id)x);
        }
    }
}

/* Citations written as [#ID] in free text. */
static void cite_text(hk_llm_answer *a, const char *s, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (s[i] != '[' || s[i + 1] != '#') continue;
        size_t j = i + 2;
        unsigned long long x = 0;
        while (j < len && s[j] >= '0' && s[j] <= '9' && x < (1ull << 60))
            x = x * 10 + (unsigned)(s[j++] - '0');
        if (j < len && s[j] == ']' && j > i + 2 && x > 0) cite(a, x);
    }
}

/* The JSON object in output: all of it, or from the first '{' to the last
 * '}' (models like to wrap JSON in code fences). */
static json_t *load_object(const char *s, size_t len)
{
    json_error_t je;
    json_t *v = json_loadb(s, len, 0, &je);
    if (json_is_object(v)) return v;
    json_decref(v);
    const char *a = memchr(s, '{', len);
    const char *b = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == '}') {
            b = s + i - 1;
            break;
        }
    if (!a || !b || b < a) return NULL;
    v = json_loadb(a, (size_t)(b - a) + 1, 0, &je);
    if (json_is_object(v)) return v;
    json_decref(v);
    return NULL;
}

hk_err hk_llm_answer_check(hk_txn *t, const hk_llm_context *ctx,
                           const char *output, size_t len, hk_llm_answer *a,
                           hk_error *err)
{
    memset(a, 0, sizeof *a);
    a->citations = hk_calloc(HK_LLM_CITATIONS_MAX, sizeof *a->citations);
    a->claims = hk_calloc(HK_LLM_CLAIMS_MAX, sizeof *a->claims);
    if (!a->citations || !a->claims) goto nomem;
    json_t *v = load_object(output, len);
    json_t *ans = json_object_get(v, "answer");
    hk_err rc = HK_OK;
    if (json_is_string(ans)) {
        a->structured = true;
        a->answer = hk_strdup(json_string_value(ans));
        cite_array(a, json_object_get(v, "citations"));
        size_t i;
        json_t *cl;
        json_array_foreach(json_object_get(v, "claims"), i, cl)
        {
            if (a->n_claims >= HK_LLM_CLAIMS_MAX) break;
            json_t *st =
                json_is_string(cl) ? cl : json_object_get(cl, "statement");
            if (!json_is_string(st)) continue;
            hk_llm_claim *c = &a->claims[a->n_claims++];
            if (!(c->statement = hk_strdup(json_string_value(st)))) {
                json_decref(v);
                goto nomem;
            }
            cite_array(a, json_object_get(cl, "citations"));
        }
    } else {
        a->answer = hk_strndup(output, len);
    }
    json_decref(v);
    if (!a->answer) goto nomem;
    if (!a->structured) cite_text(a, output, len);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; rc == HK_OK && i < a->n_citations; i++) {
        hk_llm_citation *c = &a->citations[i];
        c->in_context = hk_llm_context_has(ctx, c->id);
        hk_err g = hk_store_get(t, c->id, &f, err);
        if (g == HK_OK)
            c->exists = true;
        else if (g != HK_ERR_NOT_FOUND)
            rc = g;
        else
            hk_error_clear(err);
    }
    hk_fact_release(&f);
    for (size_t i = 0; rc == HK_OK && i < a->n_claims; i++)
        rc = hk_llm_claim_check(t, &a->claims[i], err);
    if (rc) hk_llm_answer_free(a);
    return rc;
nomem:
    hk_llm_answer_free(a);
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

void hk_llm_answer_free(hk_llm_answer *a)
{
    for (size_t i = 0; a->claims && i < a->n_claims; i++)
        hk_llm_claim_release(&a->claims[i]);
    hk_free(a->claims);
    hk_free(a->citations);
    hk_free(a->answer);
    memset(a, 0, sizeof *a);
}
