/*
 * query_parse.c — the text form of conjunctive queries (see query.h).
 *
 * Patterns are cut out of the text by scanning to their closing ')'
 * (outside quotes) and handed to hk_pattern_parse, so a pattern in a query
 * reads exactly as a single pattern does; its errors are moved to the
 * column of the whole query. Everything else (select, not, comparisons,
 * order by, limit) is scanned here.
 *
 * Threads: pure functions.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/syntax.h"
#include "core/utf8.h"
#include "query/query_int.h"

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* True when s[i..n) starts with keyword kw (case-insensitive) followed by
 * a non-identifier character or the end. */
static bool at_kw(const char *s, size_t i, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    if (n - i < k || strncasecmp(s + i, kw, k) != 0) return false;
    if (i + k == n) return true;
    unsigned char c = (unsigned char)s[i + k];
    return !(isalnum(c) || c == '_' || c >= 0x80);
}

/* Index of variable name[0..len), added when new. */
static hk_err var_index(hkq_query *q, const char *name, size_t len, size_t off,
                        uint32_t *out, hk_error *err)
{
    for (uint32_t v = 0; v < q->n_vars; v++) {
        if (strlen(q->vars[v]) == len && memcmp(q->vars[v], name, len) == 0) {
            *out = v;
            return HK_OK;
        }
    }
    if (q->n_vars >= HKQ_MAX_VARS)
        return hk_syntax_fail(err, q->text, off,
                              "more than %u variables in one query",
                              HKQ_MAX_VARS);
    q->vars[q->n_vars] = hk_strndup(name, len);
    if (!q->vars[q->n_vars])
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    *out = q->n_vars++;
    return HK_OK;
}

/* Reads `?name` at s[*i]; the variable's index into *v. */
static hk_err read_var(hkq_query *q, size_t *i, uint32_t *v, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len, at = *i;
    if (at >= n || s[at] != '?')
        return hk_syntax_fail(err, s, at, "expected a variable ?name");
    size_t span = hk_ident_span(s + at + 1, n - at - 1);
    if (span == 0)
        return hk_syntax_fail(err, s, at,
                              "invalid variable — a variable is '?' then a "
                              "letter or '_' and letters, digits or '_'");
    *i = at + 1 + span;
    return var_index(q, s + at + 1, span, at, v, err);
}

/* Moves an error of hk_pattern_parse on the text at offset off to the
 * column of the whole query. */
static hk_err shift_error(hkq_query *q, size_t off, hk_err rc, hk_error *err)
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
    size_t col = err->column - 1; /* characters into the pattern */
    while (col > 0 && at < q->len) {
        size_t l =
            hk_utf8_seq_len((const unsigned char *)q->text + at, q->len - at);
        at += l ? l : 1;
        col--;
    }
    return hk_syntax_fail(err, q->text, at, "%s", reason);
}

/* Offset just after the ')' that closes the pattern starting at i. */
static hk_err pattern_end(hkq_query *q, size_t i, size_t *end, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len;
    bool in_q = false, open = false;
    size_t q_at = 0;
    for (size_t j = i; j < n; j++) {
        char c = s[j];
        if (in_q) {
            if (c == '\\' && j + 1 < n)
                j++;
            else if (c == '"')
                in_q = false;
            continue;
        }
        if (c == '"') {
            in_q = true;
            q_at = j;
        } else if (c == '(')
            open = true;
        else if (c == ')' && open) {
            *end = j + 1;
            return HK_OK;
        }
    }
    if (in_q)
        return hk_syntax_fail(err, s, q_at,
                              "unterminated quoted argument — missing "
                              "closing '\"'");
    return hk_syntax_fail(err, s, i,
                          "pattern without its closing ')' — a pattern "
                          "is Pred(arg, ...)");
}

static hk_err read_atom(hkq_query *q, size_t *i, bool neg, hk_error *err)
{
    if (q->n_atoms >= HKQ_MAX_ATOMS)
        return hk_syntax_fail(err, q->text, *i,
                              "more than %u patterns in one query",
                              HKQ_MAX_ATOMS);
    size_t start = *i, end = 0;
    hk_err rc = pattern_end(q, start, &end, err);
    if (rc != HK_OK) return rc;
    hkq_atom *a = &q->atoms[q->n_atoms];
    rc = hk_pattern_parse(q->text + start, end - start, &a->pat, err);
    if (rc != HK_OK) return shift_error(q, start, rc, err);
    q->n_atoms++;
    a->neg = neg;
    a->off = start;
    a->end = end;
    const hk_term *terms[HK_MAX_ARGS + 1];
    terms[0] = &a->pat.predicate;
    for (uint32_t k = 0; k < a->pat.n_args; k++)
        terms[k + 1] = &a->pat.args[k];
    for (uint32_t k = 0; k <= a->pat.n_args; k++) {
        hkq_slot *sl = &a->slots[k];
        sl->kind = terms[k]->kind;
        sl->text = terms[k]->text;
        sl->var = 0;
        if (sl->kind == HK_TERM_VAR) {
            rc = var_index(q, sl->text, strlen(sl->text), start, &sl->var, err);
            if (rc != HK_OK) return rc;
        }
    }
    *i = end;
    return HK_OK;
}

/* A comparison operand: ?var, "quoted" or a bare word / number. */
static hk_err read_operand(hkq_query *q, size_t *i, hkq_slot *sl, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len, at = *i;
    memset(sl, 0, sizeof *sl);
    if (at < n && s[at] == '?') {
        sl->kind = HK_TERM_VAR;
        return read_var(q, i, &sl->var, err);
    }
    sl->kind = HK_TERM_CONST;
    if (at < n && s[at] == '"') {
        char *buf = hk_malloc(n - at);
        if (!buf) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        size_t o = 0, j = at + 1;
        for (; j < n && s[j] != '"'; j++) {
            if (s[j] == '\\' && j + 1 < n) j++;
            buf[o++] = s[j];
        }
        if (j >= n) {
            hk_free(buf);
            return hk_syntax_fail(err, s, at,
                                  "unterminated quoted constant — missing "
                                  "closing '\"'");
        }
        buf[o] = '\0';
        sl->owned = buf;
        sl->text = buf;
        *i = j + 1;
        return HK_OK;
    }
    size_t j = at;
    while (j < n && !strchr(" \t\r\n,()\"<>=!", s[j]))
        j++;
    if (j == at)
        return hk_syntax_fail(err, s, at,
                              "expected a variable ?name or a constant");
    sl->owned = hk_strndup(s + at, j - at);
    if (!sl->owned) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    sl->text = sl->owned;
    *i = j;
    return HK_OK;
}

static hk_err read_cmp(hkq_query *q, size_t *i, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len;
    if (q->n_cmps >= HKQ_MAX_CMPS)
        return hk_syntax_fail(
            err, s, *i, "more than %u comparisons in one query", HKQ_MAX_CMPS);
    hkq_cmp *c = &q->cmps[q->n_cmps];
    c->off = *i;
    hk_err rc = read_operand(q, i, &c->l, err);
    if (rc == HK_OK)
        q->n_cmps++;
    else
        return rc;
    size_t at = skip_ws(s, *i, n);
    static const struct {
        const char *t;
        hkq_op op;
    } ops[] = {{"<=", HKQ_LE}, {">=", HKQ_GE}, {"!=", HKQ_NE},
               {"=", HKQ_EQ},  {"<", HKQ_LT},  {">", HKQ_GT}};
    bool found = false;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t l = strlen(ops[k].t);
        if (n - at >= l && memcmp(s + at, ops[k].t, l) == 0) {
            c->op = ops[k].op;
            at += l;
            found = true;
            break;
        }
    }
    if (!found)
        return hk_syntax_fail(err, s, at,
                              "expected a pattern Pred(...) or a comparison "
                              "with = != < <= > >=");
    at = skip_ws(s, at, n);
    *i = at;
    rc = read_operand(q, i, &c->r, err);
    if (rc != HK_OK) return rc;
    if (c->l.kind != HK_TERM_VAR && c->r.kind != HK_TERM_VAR)
        return hk_syntax_fail(err, s, c->off,
                              "a comparison needs at least one variable");
    return HK_OK;
}

/* One body item at s[*i]. */
static hk_err read_item(hkq_query *q, size_t *i, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len;
    size_t at = skip_ws(s, *i, n);
    if (at >= n)
        return hk_syntax_fail(err, s, at,
                              "expected a pattern or comparison after ','");
    *i = at;
    if (at_kw(s, at, n, "not")) {
        size_t p = skip_ws(s, at + 3, n);
        if (p < n && s[p] == '(')
            return hk_syntax_fail(err, s, p, "expected a pattern after 'not'");
        *i = p;
        return read_atom(q, i, true, err);
    }
    /* a pattern when the first token is followed by '(' */
    size_t j = at;
    if (j < n && s[j] == '"') {
        j++;
        while (j < n && s[j] != '"') {
            if (s[j] == '\\' && j + 1 < n) j++;
            j++;
        }
        j++;
    } else {
        while (j < n && !strchr(" \t\r\n,()\"<>=!", s[j]))
            j++;
    }
    j = skip_ws(s, j, n);
    if (j < n && s[j] == '(') return read_atom(q, i, false, err);
    return read_cmp(q, i, err);
}

/* Checks that every variable is bound by a positive pattern. */
static hk_err check_safe(hkq_query *q, hk_error *err)
{
    bool bound[HKQ_MAX_VARS] = {false};
    uint32_t npos = 0;
    for (uint32_t a = 0; a < q->n_atoms; a++) {
        if (q->atoms[a].neg) continue;
        npos++;
        for (uint32_t k = 0; k <= q->atoms[a].pat.n_args; k++)
            if (q->atoms[a].slots[k].kind == HK_TERM_VAR)
                bound[q->atoms[a].slots[k].var] = true;
    }
    if (npos == 0)
        return hk_syntax_fail(err, q->text, 0,
                              "a query needs at least one positive "
                              "pattern");
    for (uint32_t a = 0; a < q->n_atoms; a++) {
        if (!q->atoms[a].neg) continue;
        for (uint32_t k = 0; k <= q->atoms[a].pat.n_args; k++) {
            const hkq_slot *sl = &q->atoms[a].slots[k];
            if (sl->kind == HK_TERM_VAR && !bound[sl->var])
                return hk_syntax_fail(
                    err, q->text, q->atoms[a].off,
                    "variable ?%s of a negated pattern is not bound by a "
                    "positive pattern (use _ for 'any')",
                    q->vars[sl->var]);
        }
    }
    for (uint32_t c = 0; c < q->n_cmps; c++) {
        const hkq_slot *side[2] = {&q->cmps[c].l, &q->cmps[c].r};
        for (int k = 0; k < 2; k++)
            if (side[k]->kind == HK_TERM_VAR && !bound[side[k]->var])
                return hk_syntax_fail(err, q->text, q->cmps[c].off,
                                      "variable ?%s of a comparison is not "
                                      "bound by a positive pattern",
                                      q->vars[side[k]->var]);
    }
    for (uint32_t k = 0; k < q->n_select; k++)
        if (!bound[q->select[k]])
            return hk_syntax_fail(err, q->text, q->select_off[k],
                                  "selected variable ?%s is not bound by a "
                                  "positive pattern",
                                  q->vars[q->select[k]]);
    for (uint32_t k = 0; k < q->n_order; k++)
        if (!bound[q->order[k]])
            return hk_syntax_fail(err, q->text, q->order_off[k],
                                  "ORDER BY variable ?%s is not bound by a "
                                  "positive pattern",
                                  q->vars[q->order[k]]);
    return HK_OK;
}

static hk_err parse(hkq_query *q, hk_error *err)
{
    const char *s = q->text;
    size_t n = q->len;
    size_t i = skip_ws(s, 0, n);
    if (at_kw(s, i, n, "select")) {
        i = skip_ws(s, i + 6, n);
        while (i < n && s[i] == '?') {
            if (q->n_select >= HKQ_MAX_VARS)
                return hk_syntax_fail(err, s, i,
                                      "too many selected "
                                      "variables");
            q->select_off[q->n_select] = i;
            hk_err rc = read_var(q, &i, &q->select[q->n_select], err);
            if (rc != HK_OK) return rc;
            q->n_select++;
            i = skip_ws(s, i, n);
            if (i < n && s[i] == ',') i = skip_ws(s, i + 1, n);
        }
        if (q->n_select == 0)
            return hk_syntax_fail(err, s, i,
                                  "expected variables ?name after 'select'");
        if (at_kw(s, i, n, "distinct")) {
            q->distinct = true;
            i = skip_ws(s, i + 8, n);
        }
        if (!at_kw(s, i, n, "where"))
            return hk_syntax_fail(err, s, i,
                                  "expected 'where' after the selected "
                                  "variables");
        i += 5;
        q->has_select = true;
    }
    for (;;) {
        hk_err rc = read_item(q, &i, err);
        if (rc != HK_OK) return rc;
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    if (at_kw(s, i, n, "order")) {
        i = skip_ws(s, i + 5, n);
        if (!at_kw(s, i, n, "by"))
            return hk_syntax_fail(err, s, i, "expected 'by' after 'order'");
        i = skip_ws(s, i + 2, n);
        for (;;) {
            if (q->n_order >= HKQ_MAX_ORDER)
                return hk_syntax_fail(err, s, i, "more than %u ORDER BY keys",
                                      HKQ_MAX_ORDER);
            q->order_off[q->n_order] = i;
            hk_err rc = read_var(q, &i, &q->order[q->n_order], err);
            if (rc != HK_OK) return rc;
            i = skip_ws(s, i, n);
            if (at_kw(s, i, n, "desc")) {
                q->order_desc[q->n_order] = true;
                i = skip_ws(s, i + 4, n);
            } else if (at_kw(s, i, n, "asc")) {
                i = skip_ws(s, i + 3, n);
            }
            q->n_order++;
            if (i < n && s[i] == ',') {
                i = skip_ws(s, i + 1, n);
                continue;
            }
            break;
        }
    }
    if (at_kw(s, i, n, "limit")) {
        i = skip_ws(s, i + 5, n);
        size_t j = i;
        uint64_t v = 0;
        while (j < n && s[j] >= '0' && s[j] <= '9' && j - i < 12)
            v = v * 10 + (uint64_t)(s[j++] - '0');
        if (j == i || v == 0 || (j < n && s[j] >= '0' && s[j] <= '9'))
            return hk_syntax_fail(err, s, i,
                                  "LIMIT needs a whole number 1..10^12");
        q->limit = v;
        i = skip_ws(s, j, n);
    }
    if (i < n && s[i] == '.') i = skip_ws(s, i + 1, n);
    if (i < n)
        return hk_syntax_fail(err, s, i,
                              "unexpected text — expected ',', 'order by', "
                              "'limit' or the end of the query");
    if (q->n_order > 0 && q->limit == 0)
        return hk_syntax_fail(err, s, q->order_off[0],
                              "ORDER BY needs a LIMIT (at most %u rows)",
                              HKQ_ORDER_MAX);
    if (q->limit > HKQ_ORDER_MAX && q->n_order > 0)
        return hk_syntax_fail(err, s, q->order_off[0],
                              "ORDER BY keeps at most %u rows; lower the "
                              "LIMIT",
                              HKQ_ORDER_MAX);
    hk_err rc = check_safe(q, err);
    if (rc != HK_OK) return rc;
    if (!q->has_select) {
        for (uint32_t v = 0; v < q->n_vars; v++)
            q->select[v] = v;
        q->n_select = q->n_vars;
    }
    for (uint32_t a = 0; a < q->n_atoms; a++)
        if (!q->atoms[a].neg) q->pos[q->n_pos++] = a;
    return HK_OK;
}

hk_err hkq_parse(const char *text, size_t len, hkq_query **out, hk_error *err)
{
    *out = NULL;
    hk_err rc = hk_syntax_text_ok(text, len, HKQ_MAX_TEXT, "query", err);
    if (rc != HK_OK) return rc;
    hkq_query *q = hk_calloc(1, sizeof *q);
    if (!q) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    q->text = hk_strndup(text, len);
    if (!q->text) {
        hk_free(q);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    q->len = len;
    rc = parse(q, err);
    if (rc != HK_OK) {
        hkq_free(q);
        return rc;
    }
    *out = q;
    return HK_OK;
}

void hkq_free(hkq_query *q)
{
    if (!q) return;
    for (uint32_t a = 0; a < q->n_atoms; a++)
        hk_pattern_release(&q->atoms[a].pat);
    for (uint32_t c = 0; c < q->n_cmps; c++) {
        hk_free(q->cmps[c].l.owned);
        hk_free(q->cmps[c].r.owned);
    }
    for (uint32_t v = 0; v < q->n_vars; v++)
        hk_free(q->vars[v]);
    hk_free(q->text);
    hk_free(q);
}

bool hkq_is_multi(const char *s, size_t n)
{
    size_t i = skip_ws(s, 0, n);
    if (at_kw(s, i, n, "select") || at_kw(s, i, n, "not")) return true;
    bool in_q = false, closed = false;
    int depth = 0;
    for (size_t j = i; j < n; j++) {
        char c = s[j];
        if (in_q) {
            if (c == '\\' && j + 1 < n)
                j++;
            else if (c == '"')
                in_q = false;
            continue;
        }
        if (c == '"') {
            in_q = true;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth > 0 && --depth == 0) closed = true;
        } else if (depth == 0) {
            /* outside the parentheses: a second item, a comparison or a
             * keyword after the pattern */
            if (c == ',' || strchr("<>=!", c)) return true;
            if (closed && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
                c != '.')
                return true;
        }
    }
    return false;
}

uint32_t hkq_n_vars(const hkq_query *q)
{
    return q->n_vars;
}
const char *hkq_var_name(const hkq_query *q, uint32_t v)
{
    return q->vars[v];
}
uint32_t hkq_n_select(const hkq_query *q)
{
    return q->n_select;
}
uint32_t hkq_select_var(const hkq_query *q, uint32_t i)
{
    return q->select[i];
}
uint32_t hkq_n_positive(const hkq_query *q)
{
    return q->n_pos;
}
bool hkq_distinct(const hkq_query *q)
{
    return q->distinct;
}
bool hkq_ordered(const hkq_query *q)
{
    return q->n_order > 0;
}
uint64_t hkq_limit(const hkq_query *q)
{
    return q->limit;
}

hk_err hkq_atom_text(const hkq_query *q, uint32_t i, hk_buf *out)
{
    const hkq_atom *a = &q->atoms[q->pos[i]];
    hk_buf_append(out, q->text + a->off, a->end - a->off);
    return HK_OK;
}

uint32_t hkq_n_atoms(const hkq_query *q)
{
    return q->n_atoms;
}

bool hkq_has_select(const hkq_query *q)
{
    return q->has_select;
}

void hkq_atom_view_get(const hkq_query *q, uint32_t a, hkq_atom_view *out)
{
    const hkq_atom *at = &q->atoms[a];
    memset(out, 0, sizeof *out);
    out->neg = at->neg;
    out->pos_index = UINT32_MAX;
    for (uint32_t p = 0; p < q->n_pos; p++)
        if (q->pos[p] == a) out->pos_index = p;
    out->n_args = at->pat.n_args;
    for (uint32_t k = 0; k <= at->pat.n_args; k++) {
        out->kind[k] = at->slots[k].kind;
        out->var[k] = at->slots[k].var;
        out->text[k] = at->slots[k].text;
    }
}

uint32_t hkq_n_cmps(const hkq_query *q)
{
    return q->n_cmps;
}

void hkq_cmp_view_get(const hkq_query *q, uint32_t c, hkq_cmp_view *out)
{
    const hkq_cmp *cm = &q->cmps[c];
    const hkq_slot *side[2] = {&cm->l, &cm->r};
    memset(out, 0, sizeof *out);
    out->op = (int)cm->op;
    for (int k = 0; k < 2; k++) {
        out->kind[k] = side[k]->kind;
        out->var[k] = side[k]->var;
        out->text[k] = side[k]->text;
    }
}

bool hkq_cmp_holds(int op, const char *a, size_t al, const char *b, size_t bl)
{
    int v = hkq_value_cmp(a, al, b, bl);
    switch (op) {
    case HKQ_EQ:
        return v == 0;
    case HKQ_NE:
        return v != 0;
    case HKQ_LT:
        return v < 0;
    case HKQ_LE:
        return v <= 0;
    case HKQ_GT:
        return v > 0;
    case HKQ_GE:
        return v >= 0;
    }
    return false;
}
