/*
 * rules_parse.c — the text of a rule, its safety, and the stratification
 * of a program (see rules.h).
 *
 * A rule is cut at the first `:-` outside quotes and parentheses. The
 * head goes to hk_pattern_parse and the body to hkq_parse, so a rule
 * reads exactly as a pattern and a query do; their errors are moved to
 * the column of the whole rule.
 *
 * Stratification works on the predicate dependency graph (an edge from a
 * rule's head predicate to each predicate of its body, marked negative
 * for `not`). For every negative edge H -> not P, a breadth-first search
 * from P looking for H finds a cycle through negation, reported as
 * `H -> not P -> ... -> H` with the rule that holds the negation. When
 * there is none, strata are the least numbers with stratum(H) >=
 * stratum(P) for positive and > for negative edges, found by relaxation
 * (it converges in at most one pass per predicate).
 *
 * Threads: pure functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/syntax.h"
#include "core/utf8.h"
#include "reason/rules.h"

/* ==== Parsing ==== */

/* Moves an error at a column of text[off..] to the column of the whole
 * text. */
static hk_err shift_error(const char *text, size_t len, size_t off, hk_err rc,
                          hk_error *err)
{
    if (!err || err->column == 0) return rc;
    const char *m = err->message;
    const char *rest = m;
    if (strncmp(m, "column ", 7) == 0) {
        rest = strstr(m, ": ");
        rest = rest ? rest + 2 : m;
    }
    char reason[400];
    size_t rl = strlen(rest);
    if (rl >= sizeof reason) rl = sizeof reason - 1;
    memcpy(reason, rest, rl);
    reason[rl] = '\0';
    size_t at = off;
    size_t col = err->column - 1;
    while (col > 0 && at < len) {
        size_t l = hk_utf8_seq_len((const unsigned char *)text + at, len - at);
        at += l ? l : 1;
        col--;
    }
    hk_syntax_fail(err, text, at, "%s", reason);
    return rc;
}

size_t hkr_find_neck(const char *s, size_t n)
{
    bool in_q = false;
    int depth = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        char c = s[i];
        if (in_q) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_q = false;
            continue;
        }
        if (c == '"')
            in_q = true;
        else if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && c == ':' && s[i + 1] == '-')
            return i;
    }
    return n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool hkr_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > HKR_NAME_MAX) return false;
    char c0 = name[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

void hkr_rule_free(hkr_rule *r)
{
    if (!r) return;
    hk_free(r->text);
    hk_free(r->head_pred);
    for (uint32_t k = 0; k < HK_MAX_ARGS; k++)
        hk_free(r->head_const[k]);
    hkq_free(r->body);
    hk_free(r);
}

/* Index of the body variable called name, or UINT32_MAX. */
static uint32_t body_var(const hkq_query *q, const char *name)
{
    for (uint32_t v = 0; v < hkq_n_vars(q); v++)
        if (strcmp(hkq_var_name(q, v), name) == 0) return v;
    return UINT32_MAX;
}

static bool var_in_positive(const hkq_query *q, uint32_t var)
{
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        for (uint32_t k = 0; k <= av.n_args; k++)
            if (av.kind[k] == HK_TERM_VAR && av.var[k] == var) return true;
    }
    return false;
}

/* Checks the parsed body: a plain conjunction with constant predicates. */
static hk_err check_body(const char *s, size_t n, size_t boff,
                         const hkq_query *q, hk_error *err)
{
    if (hkq_has_select(q) || hkq_distinct(q) || hkq_ordered(q) || hkq_limit(q))
        return hk_syntax_fail(err, s, boff,
                              "a rule body is a list of patterns and "
                              "comparisons, without select, order by or "
                              "limit");
    (void)n;
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.kind[0] != HK_TERM_CONST)
            return hk_syntax_fail(err, s, boff,
                                  "pattern %u of the body has a variable "
                                  "predicate; rules need constant predicates",
                                  a + 1);
    }
    return HK_OK;
}

hk_err hkr_parse(const char *text, size_t len, hkr_rule **out, hk_error *err)
{
    *out = NULL;
    hk_err rc = hk_syntax_text_ok(text, len, HKR_TEXT_MAX, "rule", err);
    if (rc != HK_OK) return rc;
    size_t b = 0, e = len;
    while (b < e && is_blank(text[b]))
        b++;
    while (e > b && is_blank(text[e - 1]))
        e--;
    if (b == e) return hk_syntax_fail(err, text, 0, "empty rule");
    size_t neck = hkr_find_neck(text, e);
    if (neck >= e)
        return hk_syntax_fail(err, text, b,
                              "a rule is 'Head(...) :- Body(...)' — no ':-' "
                              "found");
    hkr_rule *r = hk_calloc(1, sizeof *r);
    if (!r) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_pattern head;
    memset(&head, 0, sizeof head);
    bool head_ok = false;
    r->text = hk_strndup(text + b, e - b);
    if (!r->text) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t hb = b, he = neck;
    while (he > hb && is_blank(text[he - 1]))
        he--;
    if (he == hb) {
        rc = hk_syntax_fail(err, text, b, "the rule has no head before ':-'");
        goto fail;
    }
    rc = hk_pattern_parse(text + hb, he - hb, &head, err);
    if (rc != HK_OK) {
        rc = shift_error(text, len, hb, rc, err);
        goto fail;
    }
    head_ok = true;
    if (head.predicate.kind != HK_TERM_CONST) {
        rc = hk_syntax_fail(err, text, hb,
                            "the head needs a constant predicate");
        goto fail;
    }
    size_t bb = neck + 2;
    while (bb < e && is_blank(text[bb]))
        bb++;
    if (bb == e || (e - bb == 1 && text[bb] == '.')) {
        rc = hk_syntax_fail(err, text, neck, "the rule has no body after ':-'");
        goto fail;
    }
    rc = hkq_parse(text + bb, e - bb, &r->body, err);
    if (rc != HK_OK) {
        rc = shift_error(text, len, bb, rc, err);
        goto fail;
    }
    if ((rc = check_body(text, len, bb, r->body, err)) != HK_OK) goto fail;
    r->head_pred = hk_strdup(head.predicate.text);
    if (!r->head_pred) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    r->head_n = head.n_args;
    for (uint32_t k = 0; k < head.n_args; k++) {
        const hk_term *a = &head.args[k];
        if (a->kind == HK_TERM_ANY) {
            rc = hk_syntax_fail(err, text, hb,
                                "argument %u of the head is '_'; a derived "
                                "fact needs a value in every argument",
                                k + 1);
            goto fail;
        }
        if (a->kind == HK_TERM_CONST) {
            r->head_const[k] = hk_strdup(a->text);
            if (!r->head_const[k]) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                goto fail;
            }
            continue;
        }
        uint32_t v = body_var(r->body, a->text);
        if (v == UINT32_MAX || !var_in_positive(r->body, v)) {
            rc = hk_syntax_fail(err, text, hb,
                                "unsafe rule: variable ?%s of the head does "
                                "not occur in a positive pattern of the body",
                                a->text);
            goto fail;
        }
        r->head_is_var[k] = true;
        r->head_var[k] = v;
    }
    hk_pattern_release(&head);
    *out = r;
    return HK_OK;
fail:
    if (head_ok) hk_pattern_release(&head);
    hkr_rule_free(r);
    return rc;
}

/* ==== Stratification ==== */

typedef struct edge {
    uint32_t head, body; /* predicate indexes */
    bool neg;            /* through `not` */
    size_t rule;         /* the rule holding it */
} edge;

typedef struct graph {
    const char **preds; /* distinct predicate names (borrowed) */
    uint32_t n_preds;
    edge *edges;
    size_t n_edges;
} graph;

static hk_err pred_index(graph *g, const char *name, uint32_t *out)
{
    for (uint32_t i = 0; i < g->n_preds; i++)
        if (strcmp(g->preds[i], name) == 0) {
            *out = i;
            return HK_OK;
        }
    *out = g->n_preds;
    g->preds[g->n_preds++] = name;
    return HK_OK;
}

/* Breadth-first search over dependency edges (head -> body) from `from`
 * to `to`; fills prev[] (edge index into each node) and says whether
 * `to` was reached. */
static bool reach(const graph *g, uint32_t from, uint32_t to, size_t *prev,
                  uint32_t *queue)
{
    for (uint32_t i = 0; i < g->n_preds; i++)
        prev[i] = SIZE_MAX;
    uint32_t qh = 0, qt = 0;
    queue[qt++] = from;
    bool seen_from = false;
    while (qh < qt) {
        uint32_t u = queue[qh++];
        for (size_t e = 0; e < g->n_edges; e++) {
            if (g->edges[e].head != u) continue;
            uint32_t v = g->edges[e].body;
            if (v == from) {
                if (!seen_from && to == from) {
                    seen_from = true;
                    prev[v] = e;
                    return true;
                }
                continue;
            }
            if (prev[v] != SIZE_MAX) continue;
            prev[v] = e;
            if (v == to) return true;
            queue[qt++] = v;
        }
    }
    return false;
}

hk_err hkr_stratify(hkr_rule *const *rules, size_t n, hk_error *err)
{
    graph g;
    memset(&g, 0, sizeof g);
    size_t max_edges = 0;
    for (size_t i = 0; i < n; i++)
        max_edges += hkq_n_atoms(rules[i]->body);
    size_t max_preds = n + max_edges;
    hk_err rc = HK_OK;
    g.preds = hk_calloc(max_preds ? max_preds : 1, sizeof *g.preds);
    g.edges = hk_calloc(max_edges ? max_edges : 1, sizeof *g.edges);
    size_t *prev = hk_calloc(max_preds ? max_preds : 1, sizeof *prev);
    uint32_t *queue = hk_calloc(max_preds ? max_preds : 1, sizeof *queue);
    uint32_t *strat = hk_calloc(max_preds ? max_preds : 1, sizeof *strat);
    uint32_t *rule_head = hk_calloc(n ? n : 1, sizeof *rule_head);
    if (!g.preds || !g.edges || !prev || !queue || !strat || !rule_head) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t h;
        pred_index(&g, rules[i]->head_pred, &h);
        rule_head[i] = h;
        for (uint32_t a = 0; a < hkq_n_atoms(rules[i]->body); a++) {
            hkq_atom_view av;
            hkq_atom_view_get(rules[i]->body, a, &av);
            edge *e = &g.edges[g.n_edges++];
            e->head = h;
            pred_index(&g, av.text[0], &e->body);
            e->neg = av.neg;
            e->rule = i;
        }
    }
    /* a negative edge H -> not P on a cycle: P reaches H */
    for (size_t k = 0; k < g.n_edges; k++) {
        const edge *ne = &g.edges[k];
        if (!ne->neg) continue;
        if (!reach(&g, ne->body, ne->head, prev, queue)) continue;
        /* walk back from H to P to print P -> ... -> H in dependency
         * order after "H -> not P" */
        uint32_t path[64];
        size_t np = 0;
        uint32_t v = ne->head;
        while (v != ne->body && np < 64) {
            const edge *pe = &g.edges[prev[v]];
            path[np++] = v;
            v = pe->head;
        }
        hk_buf b = HK_BUF_INIT;
        hk_buf_appendf(&b, "%s -> not %s", g.preds[ne->head],
                       g.preds[ne->body]);
        for (size_t j = np; j > 0; j--) {
            const edge *pe = &g.edges[prev[path[j - 1]]];
            hk_buf_appendf(&b, " -> %s%s", pe->neg ? "not " : "",
                           g.preds[path[j - 1]]);
        }
        const hkr_rule *r = rules[ne->rule];
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "not stratifiable: rule %s%s%s negates %s, which "
                          "depends on %s itself (cycle through negation: %s)",
                          r->name[0] ? "'" : "", r->name[0] ? r->name : r->text,
                          r->name[0] ? "'" : "", g.preds[ne->body],
                          g.preds[ne->head], b.data ? b.data : "");
        if (err) snprintf(err->field, sizeof err->field, "rule");
        hk_buf_free(&b);
        goto done;
    }
    /* least strata by relaxation */
    for (uint32_t pass = 0; pass <= g.n_preds; pass++) {
        bool changed = false;
        for (size_t k = 0; k < g.n_edges; k++) {
            const edge *e = &g.edges[k];
            uint32_t need = strat[e->body] + (e->neg ? 1u : 0u);
            if (strat[e->head] < need) {
                strat[e->head] = need;
                changed = true;
            }
        }
        if (!changed) break;
    }
    for (size_t i = 0; i < n; i++)
        rules[i]->stratum = strat[rule_head[i]];
done:
    hk_free(g.preds);
    hk_free(g.edges);
    hk_free(prev);
    hk_free(queue);
    hk_free(strat);
    hk_free(rule_head);
    return rc;
}
