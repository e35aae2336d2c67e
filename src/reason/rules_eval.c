/*
 * rules_eval.c — reading the materialization: derived facts, their
 * support records, proofs (why), the proof checker (verify) and
 * constraints (contradictions, strict mode). The fixpoint itself is in
 * rules_fixpoint.c.
 *
 * ==== Storage ====
 * rules.derived: key = u32 pred | u8 n | n x u32 args (big-endian symbol
 * ids); value = u32 round | u8 len, rule name | u8 n premises | per
 * premise u8 tag (0: asserted, then u64 fact id; 1: derived, then u8 len,
 * its key). Premises of a derived fact come from earlier rounds, so every
 * proof is finite; the checker verifies it.
 *
 * Threads: as the hk_txn passed (one per thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "reason/rules.h"
#include "reason/rules_int.h"
#include "store/rule_audit.h"

#define WHY_DEPTH_MAX 10000u

/* ==== Keys ==== */

size_t hkr_key_of(const hks_fact_syms *fs, uint8_t *k)
{
    hkr_put_u32be(k, fs->pred);
    k[4] = (uint8_t)fs->n_args;
    for (uint32_t i = 0; i < fs->n_args; i++)
        hkr_put_u32be(k + 5 + 4 * i, fs->args[i]);
    return 5 + 4 * (size_t)fs->n_args;
}

bool hkr_key_parse(const uint8_t *k, size_t len, hks_fact_syms *fs)
{
    if (len < 9 || k[4] == 0 || k[4] > HK_MAX_ARGS ||
        len != 5 + 4 * (size_t)k[4])
        return false;
    memset(fs, 0, sizeof *fs);
    fs->pred = hkr_get_u32be(k);
    fs->n_args = k[4];
    for (uint32_t i = 0; i < fs->n_args; i++)
        fs->args[i] = hkr_get_u32be(k + 5 + 4 * i);
    return true;
}

/* Statement strings of fs into buf (NUL-separated); st points into buf. */
hk_err hkr_syms_statement(hk_txn *t, const hks_fact_syms *fs, hk_buf *buf,
                          hk_statement *st, hk_error *err)
{
    size_t offs[HK_MAX_ARGS + 1];
    hk_buf_reset(buf);
    for (uint32_t k = 0; k <= fs->n_args; k++) {
        const char *p;
        size_t n;
        hk_err rc =
            hks_sym_str(t, k == 0 ? fs->pred : fs->args[k - 1], &p, &n, err);
        if (rc != HK_OK) return rc;
        offs[k] = buf->len;
        if (hk_buf_append(buf, p, n) != HK_OK || hk_buf_append(buf, "", 1))
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    memset(st, 0, sizeof *st);
    st->predicate = buf->data + offs[0];
    st->n_args = fs->n_args;
    for (uint32_t k = 0; k < fs->n_args; k++)
        st->args[k] = buf->data + offs[k + 1];
    return HK_OK;
}

/* *id = the asserted fact with content fs, 0 when none. */
static hk_err asserted_id(hk_txn *t, const hks_fact_syms *fs, hk_buf *buf,
                          hk_fact_id *id, hk_error *err)
{
    hk_statement st;
    *id = 0;
    hk_err rc = hkr_syms_statement(t, fs, buf, &st, err);
    if (rc != HK_OK) return rc;
    rc = hk_store_find(t, &st, id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *id = 0;
        return HK_OK;
    }
    return rc;
}

/* Symbol ids of st; *known false when one is not in the dictionary. */
static hk_err statement_syms(hk_txn *t, const hk_statement *st,
                             hks_fact_syms *fs, bool *known, hk_error *err)
{
    memset(fs, 0, sizeof *fs);
    *known = true;
    fs->n_args = st->n_args;
    for (uint32_t k = 0; k <= st->n_args; k++) {
        const char *s = k == 0 ? st->predicate : st->args[k - 1];
        uint32_t id = 0;
        hk_err rc = hks_sym_id(t, s, strlen(s), &id, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            *known = false;
            return HK_OK;
        }
        if (rc != HK_OK) return rc;
        if (k == 0)
            fs->pred = id;
        else
            fs->args[k - 1] = id;
    }
    return HK_OK;
}

/* ==== Reading derived facts ==== */

hk_err hkr_is_derived(hk_txn *t, const hkr_dbs *d, const hk_statement *st,
                      bool *derived, hk_error *err)
{
    *derived = false;
    hks_fact_syms fs;
    bool known = false;
    hk_err rc = statement_syms(t, st, &fs, &known, err);
    if (rc != HK_OK || !known) return rc;
    uint8_t k[HKR_KEY_MAX];
    hks_val kv = {k, hkr_key_of(&fs, k)}, v;
    rc = hks_get(t, d->derived, kv, &v, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc == HK_OK) *derived = true;
    return rc;
}

hk_err hkr_derived_count(hk_txn *t, const hkr_dbs *d, uint64_t *n,
                         hk_error *err)
{
    return hks_db_entries(t, d->derived, n, err);
}

hk_err hkr_derived_each(hk_txn *t, const hkr_dbs *d, hkr_fact_fn fn, void *ud,
                        hk_error *err)
{
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(t, d->derived, &c, err);
    if (rc != HK_OK) return rc;
    hk_buf buf = HK_BUF_INIT;
    for (;;) {
        hks_val k, v;
        bool found = false;
        rc = hks_cursor_next(c, &k, &v, &found, err);
        if (rc != HK_OK || !found) break;
        hks_fact_syms fs;
        if (!hkr_key_parse(k.data, k.len, &fs)) {
            rc = hk_error_set(err, HK_ERR_CORRUPT, "damaged derived fact key");
            break;
        }
        hk_statement st;
        rc = hkr_syms_statement(t, &fs, &buf, &st, err);
        if (rc == HK_OK) rc = fn(ud, &st, err);
        if (rc != HK_OK) break;
    }
    hks_cursor_close(c);
    hk_buf_free(&buf);
    return rc;
}

hk_err hkr_derived_mentioning(hk_txn *t, const hkr_dbs *d,
                              const char *const *ents, size_t n,
                              uint64_t max_scan, hkr_fact_fn fn, void *ud,
                              bool *truncated, hk_error *err)
{
    if (truncated) *truncated = false;
    uint32_t syms[64];
    size_t n_syms = 0;
    for (size_t i = 0; i < n && n_syms < 64; i++) {
        uint32_t id;
        hk_err rc = hks_sym_id(t, ents[i], strlen(ents[i]), &id, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            continue;
        }
        if (rc != HK_OK) return rc;
        syms[n_syms++] = id;
    }
    if (n_syms == 0) return HK_OK;
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(t, d->derived, &c, err);
    if (rc != HK_OK) return rc;
    hk_buf buf = HK_BUF_INIT;
    for (uint64_t scanned = 0;; scanned++) {
        if (max_scan && scanned >= max_scan) {
            if (truncated) *truncated = true;
            break;
        }
        hks_val k, v;
        bool found = false;
        rc = hks_cursor_next(c, &k, &v, &found, err);
        if (rc != HK_OK || !found) break;
        hks_fact_syms fs;
        if (!hkr_key_parse(k.data, k.len, &fs)) {
            rc = hk_error_set(err, HK_ERR_CORRUPT, "damaged derived fact key");
            break;
        }
        bool hit = false;
        for (uint32_t a = 0; a < fs.n_args && !hit; a++)
            for (size_t i = 0; i < n_syms && !hit; i++)
                hit = fs.args[a] == syms[i];
        if (!hit) continue;
        hk_statement st;
        rc = hkr_syms_statement(t, &fs, &buf, &st, err);
        if (rc == HK_OK) rc = fn(ud, &st, err);
        if (rc == HK_ERR_LIMIT) {
            rc = HK_OK;
            break;
        }
        if (rc != HK_OK) break;
    }
    hks_cursor_close(c);
    hk_buf_free(&buf);
    return rc;
}

/* ==== Support records ==== */

typedef hkr_premise premise;
typedef hkr_support support;

static bool get_varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*p >= end) return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) return false;
            *out = (uint32_t)v;
            return true;
        }
    }
    return false;
}

static void put_varint(uint8_t *b, size_t *n, uint32_t v)
{
    while (v >= 0x80) {
        b[(*n)++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[(*n)++] = (uint8_t)v;
}

static bool parse_v2(const uint8_t *p, const uint8_t *end, hkr_support *s)
{
    p++; /* the version byte */
    uint32_t nl = 0;
    if (!get_varint(&p, end, &s->round) || end - p < 1) return false;
    nl = *p++;
    if (nl > HKR_NAME_MAX || end - p < (ptrdiff_t)nl + 1) return false;
    memcpy(s->rule, p, nl);
    p += nl;
    if (!get_varint(&p, end, &s->n_free) || s->n_free > HKQ_MAX_VARS)
        return false;
    for (uint32_t i = 0; i < s->n_free; i++)
        if (!get_varint(&p, end, &s->free[i])) return false;
    s->compact = true;
    return p == end;
}

bool hkr_support_parse(hks_val v, hkr_support *s)
{
    const uint8_t *p = v.data, *end = p + v.len;
    memset(s, 0, sizeof *s);
    if (v.len >= 1 && *p == HKR_SUPPORT_V2) return parse_v2(p, end, s);
    if (end - p < 5) return false;
    s->round = hkr_get_u32be(p);
    p += 4;
    size_t nl = *p++;
    if (nl > HKR_NAME_MAX || end - p < (ptrdiff_t)nl + 1) return false;
    memcpy(s->rule, p, nl);
    p += nl;
    s->n = *p++;
    if (s->n > HKQ_MAX_ATOMS) return false;
    for (uint32_t i = 0; i < s->n; i++) {
        if (end - p < 1) return false;
        uint8_t tag = *p++;
        if (tag == 0) {
            if (end - p < 8) return false;
            s->prem[i].id = hkr_get_u64be(p);
            p += 8;
        } else if (tag == 1) {
            if (end - p < 1) return false;
            size_t kl = *p++;
            if (end - p < (ptrdiff_t)kl) return false;
            if (!hkr_key_parse(p, kl, &s->prem[i].fs)) return false;
            s->prem[i].derived = true;
            p += kl;
        } else {
            return false;
        }
    }
    return p == end;
}

bool hkr_support_round(hks_val v, uint32_t *round)
{
    const uint8_t *p = v.data, *end = p + v.len;
    if (v.len >= 1 && *p == HKR_SUPPORT_V2) {
        p++;
        return get_varint(&p, end, round);
    }
    if (v.len < 5) return false;
    *round = hkr_get_u32be(p);
    return true;
}

void hkr_free_vars(const hkr_rule *r, hkr_freevars *out)
{
    memset(out, 0, sizeof *out);
    out->compact = true;
    bool bound[HKQ_MAX_VARS] = {false}, seen[HKQ_MAX_VARS] = {false};
    uint32_t pos[HKQ_MAX_VARS], arg[HKQ_MAX_VARS];
    for (uint32_t k = 0; k < r->head_n; k++)
        if (r->head_is_var[k] && r->head_var[k] < HKQ_MAX_VARS)
            bound[r->head_var[k]] = true;
    const hkq_query *q = r->body;
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        if (av.kind[0] != HK_TERM_CONST) out->compact = false;
        for (uint32_t k = 0; k < av.n_args; k++) {
            if (av.kind[k + 1] == HK_TERM_ANY) out->compact = false;
            if (av.kind[k + 1] != HK_TERM_VAR) continue;
            uint32_t v = av.var[k + 1];
            if (v >= HKQ_MAX_VARS || seen[v]) continue;
            seen[v] = true;
            pos[v] = av.pos_index;
            arg[v] = k;
        }
    }
    for (uint32_t v = 0; v < hkq_n_vars(q) && v < HKQ_MAX_VARS; v++) {
        if (!seen[v] || bound[v]) continue;
        out->var[out->n] = v;
        out->pos[out->n] = pos[v];
        out->arg[out->n] = arg[v];
        out->n++;
    }
}

hk_err hkr_support_v2(hk_buf *v, const char *rule, uint32_t round,
                      const uint32_t *vals, uint32_t n, hk_error *err)
{
    uint8_t b[16];
    size_t bn = 0;
    hk_buf_reset(v);
    b[bn++] = HKR_SUPPORT_V2;
    put_varint(b, &bn, round);
    size_t nl = strlen(rule);
    b[bn++] = (uint8_t)nl;
    bool ok =
        hk_buf_append(v, b, bn) == HK_OK && hk_buf_append(v, rule, nl) == HK_OK;
    bn = 0;
    put_varint(b, &bn, n);
    ok = ok && hk_buf_append(v, b, bn) == HK_OK;
    for (uint32_t i = 0; ok && i < n; i++) {
        bn = 0;
        put_varint(b, &bn, vals[i]);
        ok = hk_buf_append(v, b, bn) == HK_OK;
    }
    return ok ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err hkr_support_resolve(hk_txn *t, const hkr_rule *r,
                           const hks_fact_syms *fs, hkr_support *s, bool *ok,
                           hk_error *err)
{
    *ok = false;
    hkr_freevars fv;
    hkr_free_vars(r, &fv);
    if (!fv.compact || fv.n != s->n_free || fs->n_args != r->head_n)
        return HK_OK;
    uint32_t vals[HKQ_MAX_VARS];
    bool set[HKQ_MAX_VARS] = {false};
    for (uint32_t k = 0; k < r->head_n; k++) {
        if (!r->head_is_var[k]) continue;
        uint32_t v = r->head_var[k];
        if (v >= HKQ_MAX_VARS || (set[v] && vals[v] != fs->args[k]))
            return HK_OK;
        set[v] = true;
        vals[v] = fs->args[k];
    }
    for (uint32_t i = 0; i < fv.n; i++) {
        set[fv.var[i]] = true;
        vals[fv.var[i]] = s->free[i];
    }
    const hkq_query *q = r->body;
    uint32_t n = 0;
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        if (av.pos_index >= HKQ_MAX_ATOMS) return HK_OK;
        hkr_premise *pr = &s->prem[av.pos_index];
        memset(pr, 0, sizeof *pr);
        pr->fs.n_args = av.n_args;
        for (uint32_t k = 0; k <= av.n_args; k++) {
            uint32_t v = 0;
            if (av.kind[k] == HK_TERM_VAR) {
                if (!set[av.var[k]]) return HK_OK;
                v = vals[av.var[k]];
            } else if (av.kind[k] == HK_TERM_CONST) {
                hk_err rc =
                    hks_sym_id(t, av.text[k], strlen(av.text[k]), &v, err);
                if (rc == HK_ERR_NOT_FOUND) {
                    hk_error_clear(err);
                    return HK_OK;
                }
                if (rc != HK_OK) return rc;
            } else {
                return HK_OK;
            }
            if (k == 0)
                pr->fs.pred = v;
            else
                pr->fs.args[k - 1] = v;
        }
        hk_fact_id id = 0;
        hk_err rc = hks_fact_find_syms(t, &pr->fs, &id, err);
        if (rc == HK_OK) {
            pr->id = id;
        } else if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            pr->derived = true;
        } else {
            return rc;
        }
        n++;
    }
    s->n = n;
    *ok = true;
    return HK_OK;
}

/* Support of derived fact fs; HK_ERR_NOT_FOUND when it is not derived. */
static hk_err support_get(hk_txn *t, const hkr_dbs *d, const hks_fact_syms *fs,
                          support *s, hk_error *err)
{
    uint8_t k[HKR_KEY_MAX];
    hks_val kv = {k, hkr_key_of(fs, k)}, v;
    hk_err rc = hks_get(t, d->derived, kv, &v, err);
    if (rc != HK_OK) return rc;
    if (!hkr_support_parse(v, s))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "damaged support record of a derived fact");
    return HK_OK;
}

/* Binds the variables of rule r's positive atoms to the premises' symbols
 * (vals[v], set[v]); false with why when a premise does not fit. */
static bool bind_premises(hk_txn *t, const hkr_rule *r,
                          const hks_fact_syms *prem, uint32_t *vals, bool *set,
                          char *why, size_t why_len)
{
    const hkq_query *q = r->body;
    memset(set, 0, HKQ_MAX_VARS * sizeof *set);
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        const hks_fact_syms *fs = &prem[av.pos_index];
        if (fs->n_args != av.n_args) {
            snprintf(why, why_len,
                     "premise %u has %u arguments, pattern %u "
                     "of rule %s has %u",
                     av.pos_index + 1, fs->n_args, a + 1, r->name, av.n_args);
            return false;
        }
        for (uint32_t k = 0; k <= av.n_args; k++) {
            uint32_t v = k == 0 ? fs->pred : fs->args[k - 1];
            if (av.kind[k] == HK_TERM_ANY) continue;
            if (av.kind[k] == HK_TERM_CONST) {
                uint32_t id = 0;
                hk_error e2;
                if (hks_sym_id(t, av.text[k], strlen(av.text[k]), &id, &e2) !=
                        HK_OK ||
                    id != v) {
                    snprintf(why, why_len,
                             "premise %u does not have '%s' where pattern "
                             "%u of rule %s does",
                             av.pos_index + 1, av.text[k], a + 1, r->name);
                    return false;
                }
                continue;
            }
            uint32_t var = av.var[k];
            if (set[var] && vals[var] != v) {
                snprintf(why, why_len,
                         "premises bind ?%s of rule %s to two values",
                         hkq_var_name(q, var), r->name);
                return false;
            }
            set[var] = true;
            vals[var] = v;
        }
    }
    return true;
}

/* ==== Proofs ==== */

typedef struct why_ctx {
    hk_txn *t;
    const hkr_dbs *d;
    hkr_info *rules; /* stored rules, name order */
    size_t n_rules;
    hkr_rule **parsed; /* parsed lazily, per stored rule */
    hkr_rule **onto;   /* rules of the ontology declarations */
    size_t n_onto;
    hk_buf tmp;
} why_ctx;

static hkr_rule *onto_named(const why_ctx *w, const char *name)
{
    for (size_t i = 0; i < w->n_onto; i++)
        if (strcmp(w->onto[i]->name, name) == 0) return w->onto[i];
    return NULL;
}

static hk_err rule_named(why_ctx *w, const char *name, hkr_rule **out,
                         hk_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < w->n_rules; i++) {
        if (strcmp(w->rules[i].name, name) != 0) continue;
        if (!w->parsed[i]) {
            hk_err rc = hkr_parse(w->rules[i].text, strlen(w->rules[i].text),
                                  &w->parsed[i], err);
            if (rc != HK_OK) return rc;
            snprintf(w->parsed[i]->name, sizeof w->parsed[i]->name, "%s", name);
        }
        *out = w->parsed[i];
        return HK_OK;
    }
    if ((*out = onto_named(w, name)) != NULL) return HK_OK;
    return hk_error_set(err, HK_ERR_NOT_FOUND,
                        "rule '%s' of a derivation "
                        "is no longer stored",
                        name);
}

static hk_err why_ctx_open(why_ctx *w, hk_txn *t, const hkr_dbs *d,
                           hk_error *err)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    w->d = d;
    hk_err rc = hkr_list(t, d, &w->rules, &w->n_rules, err);
    if (rc != HK_OK) return rc;
    w->parsed = hk_calloc(w->n_rules ? w->n_rules : 1, sizeof *w->parsed);
    if (!w->parsed) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return hkr_ontology(t, &w->onto, &w->n_onto, err);
}

static void why_ctx_close(why_ctx *w)
{
    if (w->parsed)
        for (size_t i = 0; i < w->n_rules; i++)
            hkr_rule_free(w->parsed[i]);
    hk_free(w->parsed);
    hkr_rules_free(w->onto, w->n_onto);
    hkr_info_free(w->rules, w->n_rules);
    hk_buf_free(&w->tmp);
}

static hk_err write_statement(why_ctx *w, const hks_fact_syms *fs, hk_buf *out,
                              hk_error *err)
{
    hk_statement st;
    hk_err rc = hkr_syms_statement(w->t, fs, &w->tmp, &st, err);
    if (rc != HK_OK) return rc;
    hk_buf canon = HK_BUF_INIT;
    hk_statement_format(&st, &canon);
    if (!canon.data) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_buf_append_json_string(out, canon.data, canon.len);
    hk_buf_free(&canon);
    return HK_OK;
}

static hk_err why_node(why_ctx *w, const hks_fact_syms *fs, uint32_t depth,
                       hk_buf *out, hk_error *err)
{
    if (depth > WHY_DEPTH_MAX)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "derivation deeper than %u steps", WHY_DEPTH_MAX);
    hk_fact_id id = 0;
    hk_err rc = asserted_id(w->t, fs, &w->tmp, &id, err);
    if (rc != HK_OK) return rc;
    hk_buf_append_str(out, "{\"statement\":");
    if ((rc = write_statement(w, fs, out, err)) != HK_OK) return rc;
    if (id) {
        hk_buf_appendf(out, ",\"derived\":false,\"id\":%llu}",
                       (unsigned long long)id);
        return HK_OK;
    }
    support s;
    rc = support_get(w->t, w->d, fs, &s, err);
    if (rc == HK_ERR_NOT_FOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "a premise is neither asserted nor derived (run "
                            "hakgal reason)");
    if (rc != HK_OK) return rc;
    hkr_rule *r = NULL;
    if ((rc = rule_named(w, s.rule, &r, err)) != HK_OK) return rc;
    if (s.compact) {
        bool fit = false;
        if ((rc = hkr_support_resolve(w->t, r, fs, &s, &fit, err)) != HK_OK)
            return rc;
        if (!fit)
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "the stored derivation does not fit rule %s",
                                s.rule);
    }
    hks_fact_syms prem[HKQ_MAX_ATOMS];
    for (uint32_t i = 0; i < s.n; i++) {
        if (s.prem[i].derived) {
            prem[i] = s.prem[i].fs;
        } else {
            rc = hks_fact_syms_get(w->t, s.prem[i].id, &prem[i], err);
            if (rc != HK_OK) return rc;
        }
    }
    uint32_t vals[HKQ_MAX_VARS];
    bool set[HKQ_MAX_VARS];
    char why[300];
    if (s.n != hkq_n_positive(r->body) ||
        !bind_premises(w->t, r, prem, vals, set, why, sizeof why))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "the stored derivation does not fit rule %s",
                            s.rule);
    hk_buf_append_str(out, ",\"derived\":true,\"rule\":");
    hk_buf_append_json_string(out, s.rule, strlen(s.rule));
    hk_buf_append_str(out, ",\"bindings\":{");
    bool first = true;
    for (uint32_t v = 0; v < hkq_n_vars(r->body); v++) {
        if (!set[v]) continue;
        const char *p;
        size_t n;
        if ((rc = hks_sym_str(w->t, vals[v], &p, &n, err)) != HK_OK) return rc;
        if (!first) hk_buf_append_str(out, ",");
        first = false;
        const char *name = hkq_var_name(r->body, v);
        hk_buf_append_json_string(out, name, strlen(name));
        hk_buf_append_str(out, ":");
        hk_buf_append_json_string(out, p, n);
    }
    hk_buf_append_str(out, "},\"premises\":[");
    for (uint32_t i = 0; i < s.n; i++) {
        if (i) hk_buf_append_str(out, ",");
        rc = why_node(w, &prem[i], depth + 1, out, err);
        if (rc != HK_OK) return rc;
    }
    hk_buf_append_str(out, "]}");
    return HK_OK;
}

hk_err hkr_why_json(hk_txn *t, const hkr_dbs *d, const hk_statement *st,
                    hk_buf *out, hk_error *err)
{
    hks_fact_syms fs;
    bool known = false;
    hk_err rc = statement_syms(t, st, &fs, &known, err);
    if (rc != HK_OK) return rc;
    if (!known) {
        hk_error_set(err, HK_ERR_NOT_FOUND,
                     "not a fact: neither asserted nor derived");
        return HK_ERR_NOT_FOUND;
    }
    why_ctx w;
    rc = why_ctx_open(&w, t, d, err);
    if (rc == HK_OK) {
        hk_fact_id id = 0;
        rc = asserted_id(t, &fs, &w.tmp, &id, err);
        if (rc == HK_OK && !id) {
            support s;
            rc = support_get(t, d, &fs, &s, err);
            if (rc == HK_ERR_NOT_FOUND)
                hk_error_set(err, HK_ERR_NOT_FOUND,
                             "not a fact: neither asserted nor derived");
        }
    }
    if (rc == HK_OK) rc = why_node(&w, &fs, 0, out, err);
    why_ctx_close(&w);
    return rc;
}

/* ==== Checker ==== */

/* Text of a symbol or constant for comparisons. */
static hk_err cmp_side(hk_txn *t, const hkq_cmp_view *cv, int side,
                       const uint32_t *vals, const char **p, size_t *n,
                       hk_error *err)
{
    if (cv->kind[side] == HK_TERM_CONST) {
        *p = cv->text[side];
        *n = strlen(*p);
        return HK_OK;
    }
    return hks_sym_str(t, vals[cv->var[side]], p, n, err);
}

/* *exists = some asserted or derived fact matches negated atom av. */
hk_err hkr_neg_exists(hk_txn *t, const hkr_dbs *d, const hkq_atom_view *av,
                      const uint32_t *vals, bool *exists, hk_error *err)
{
    *exists = false;
    hks_fact_syms want;
    memset(&want, 0, sizeof want);
    want.n_args = av->n_args;
    bool any = false;
    for (uint32_t k = 0; k <= av->n_args; k++) {
        uint32_t v = 0;
        if (av->kind[k] == HK_TERM_ANY) {
            any = true;
        } else if (av->kind[k] == HK_TERM_VAR) {
            v = vals[av->var[k]];
        } else {
            hk_err rc =
                hks_sym_id(t, av->text[k], strlen(av->text[k]), &v, err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                return HK_OK; /* an unknown constant matches nothing */
            }
            if (rc != HK_OK) return rc;
        }
        if (k == 0)
            want.pred = v;
        else
            want.args[k - 1] = v;
    }
    /* the store, through a pattern of the bound values */
    hk_buf sb = HK_BUF_INIT;
    hk_statement st;
    hk_pattern pat;
    memset(&pat, 0, sizeof pat);
    hks_fact_syms tmpl = want;
    for (uint32_t k = 1; k <= av->n_args; k++)
        if (av->kind[k] == HK_TERM_ANY) tmpl.args[k - 1] = want.pred;
    hk_err rc = hkr_syms_statement(t, &tmpl, &sb, &st, err);
    if (rc == HK_OK) {
        pat.predicate.kind = HK_TERM_CONST;
        pat.predicate.text = st.predicate;
        pat.n_args = av->n_args;
        for (uint32_t k = 1; k <= av->n_args; k++) {
            pat.args[k - 1].kind =
                av->kind[k] == HK_TERM_ANY ? HK_TERM_ANY : HK_TERM_CONST;
            pat.args[k - 1].text =
                av->kind[k] == HK_TERM_ANY ? "_" : st.args[k - 1];
        }
        hk_query *it = NULL;
        rc = hk_query_open_pattern(t, &pat, NULL, &it, err);
        if (rc == HK_OK) {
            hk_fact_id id;
            bool has = false;
            rc = hk_query_next_id(it, &id, &has, err);
            if (rc == HK_OK && has) *exists = true;
            hk_query_close(it);
        }
    }
    hk_buf_free(&sb);
    if (rc != HK_OK || *exists) return rc;
    /* the derived facts */
    uint8_t k[HKR_KEY_MAX];
    size_t kl = hkr_key_of(&want, k);
    if (!any) {
        hks_val kv = {k, kl}, v;
        rc = hks_get(t, d->derived, kv, &v, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            return HK_OK;
        }
        if (rc == HK_OK) *exists = true;
        return rc;
    }
    hks_cursor *c = NULL;
    rc = hks_cursor_open(t, d->derived, &c, err);
    if (rc != HK_OK) return rc;
    hks_val kv = {k, 5}, fk, fv;
    bool found = false;
    rc = hks_cursor_seek(c, kv, &fk, &fv, &found, err);
    while (rc == HK_OK && found && fk.len >= 5 && memcmp(fk.data, k, 5) == 0) {
        hks_fact_syms fs;
        if (hkr_key_parse(fk.data, fk.len, &fs)) {
            bool ok = true;
            for (uint32_t j = 1; j <= av->n_args && ok; j++)
                if (av->kind[j] != HK_TERM_ANY &&
                    fs.args[j - 1] != want.args[j - 1])
                    ok = false;
            if (ok) {
                *exists = true;
                break;
            }
        }
        rc = hks_cursor_next(c, &fk, &fv, &found, err);
    }
    hks_cursor_close(c);
    return rc;
}

/* Checks one derivation step; false with why when it is not valid. */
static hk_err check_step(why_ctx *w, const hks_fact_syms *fs, const support *s,
                         bool *ok, char *why, size_t why_len, hk_error *err)
{
    *ok = false;
    hkr_info *info = NULL;
    for (size_t i = 0; i < w->n_rules; i++)
        if (strcmp(w->rules[i].name, s->rule) == 0) info = &w->rules[i];
    if ((!info && !onto_named(w, s->rule)) || (info && !info->enabled)) {
        snprintf(why, why_len, "rule %s is %s", s->rule,
                 info ? "disabled"
                      : "not stored nor compiled from a declaration");
        return HK_OK;
    }
    hkr_rule *r = NULL;
    hk_err rc = rule_named(w, s->rule, &r, err);
    if (rc != HK_OK) return rc;
    support rs;
    if (s->compact) {
        bool fit = false;
        rs = *s;
        rc = hkr_support_resolve(w->t, r, fs, &rs, &fit, err);
        if (rc != HK_OK) return rc;
        if (!fit) {
            snprintf(why, why_len,
                     "the stored values do not fit the free variables of "
                     "rule %s",
                     s->rule);
            return HK_OK;
        }
        s = &rs;
    }
    if (s->n != hkq_n_positive(r->body)) {
        snprintf(why, why_len, "%u premises for the %u patterns of rule %s",
                 s->n, hkq_n_positive(r->body), s->rule);
        return HK_OK;
    }
    hks_fact_syms prem[HKQ_MAX_ATOMS];
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->prem[i].derived) {
            support ps;
            rc = support_get(w->t, w->d, &s->prem[i].fs, &ps, err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                snprintf(why, why_len, "derived premise %u is not stored",
                         i + 1);
                return HK_OK;
            }
            if (rc != HK_OK) return rc;
            if (ps.round >= s->round) {
                snprintf(why, why_len,
                         "derived premise %u is not older than the fact",
                         i + 1);
                return HK_OK;
            }
            prem[i] = s->prem[i].fs;
        } else {
            rc = hks_fact_syms_get(w->t, s->prem[i].id, &prem[i], err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                snprintf(why, why_len, "asserted premise %llu does not exist",
                         (unsigned long long)s->prem[i].id);
                return HK_OK;
            }
            if (rc != HK_OK) return rc;
        }
    }
    uint32_t vals[HKQ_MAX_VARS];
    bool set[HKQ_MAX_VARS];
    if (!bind_premises(w->t, r, prem, vals, set, why, why_len)) return HK_OK;
    /* the head under the binding is the fact */
    uint32_t hp = 0;
    rc = hks_sym_id(w->t, r->head_pred, strlen(r->head_pred), &hp, err);
    if (rc != HK_OK && rc != HK_ERR_NOT_FOUND) return rc;
    hk_error_clear(err);
    bool head_ok = hp == fs->pred && fs->n_args == r->head_n;
    for (uint32_t k = 0; k < r->head_n && head_ok; k++) {
        uint32_t v = 0;
        if (r->head_is_var[k]) {
            v = vals[r->head_var[k]];
        } else {
            rc = hks_sym_id(w->t, r->head_const[k], strlen(r->head_const[k]),
                            &v, err);
            if (rc != HK_OK && rc != HK_ERR_NOT_FOUND) return rc;
            hk_error_clear(err);
        }
        if (v != fs->args[k]) head_ok = false;
    }
    if (!head_ok) {
        snprintf(why, why_len,
                 "the head of rule %s under the premises' "
                 "binding is another fact",
                 s->rule);
        return HK_OK;
    }
    for (uint32_t c = 0; c < hkq_n_cmps(r->body); c++) {
        hkq_cmp_view cv;
        hkq_cmp_view_get(r->body, c, &cv);
        const char *a, *b;
        size_t al, bl;
        rc = cmp_side(w->t, &cv, 0, vals, &a, &al, err);
        if (rc == HK_OK) rc = cmp_side(w->t, &cv, 1, vals, &b, &bl, err);
        if (rc != HK_OK) return rc;
        if (!hkq_cmp_holds(cv.op, a, al, b, bl)) {
            snprintf(why, why_len, "comparison %u of rule %s does not hold",
                     c + 1, s->rule);
            return HK_OK;
        }
    }
    for (uint32_t a = 0; a < hkq_n_atoms(r->body); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(r->body, a, &av);
        if (!av.neg) continue;
        bool ex = false;
        rc = hkr_neg_exists(w->t, w->d, &av, vals, &ex, err);
        if (rc != HK_OK) return rc;
        if (ex) {
            snprintf(why, why_len,
                     "negated pattern %u of rule %s matches a fact", a + 1,
                     s->rule);
            return HK_OK;
        }
    }
    *ok = true;
    return HK_OK;
}

hk_err hkr_verify(hk_txn *t, const hkr_dbs *d, hkr_verify_res *res,
                  hk_error *err)
{
    memset(res, 0, sizeof *res);
    why_ctx w;
    hk_err rc = why_ctx_open(&w, t, d, err);
    hks_cursor *c = NULL;
    if (rc == HK_OK) rc = hks_cursor_open(t, d->derived, &c, err);
    while (rc == HK_OK) {
        hks_val k, v;
        bool found = false;
        rc = hks_cursor_next(c, &k, &v, &found, err);
        if (rc != HK_OK || !found) break;
        hks_fact_syms fs;
        support s;
        char why[400] = "";
        bool ok = false;
        if (!hkr_key_parse(k.data, k.len, &fs) || !hkr_support_parse(v, &s)) {
            snprintf(why, sizeof why, "damaged derived fact record");
        } else {
            hk_fact_id id = 0;
            rc = asserted_id(t, &fs, &w.tmp, &id, err);
            if (rc != HK_OK) break;
            if (id)
                snprintf(why, sizeof why,
                         "the derived fact is also asserted (id %llu)",
                         (unsigned long long)id);
            else
                rc = check_step(&w, &fs, &s, &ok, why, sizeof why, err);
            if (rc != HK_OK) break;
        }
        res->checked++;
        if (!ok) {
            if (res->bad == 0) {
                hk_buf sb = HK_BUF_INIT;
                hk_statement st;
                if (hkr_key_parse(k.data, k.len, &fs) &&
                    hkr_syms_statement(t, &fs, &w.tmp, &st, err) == HK_OK)
                    hk_statement_format(&st, &sb);
                snprintf(res->first, sizeof res->first, "%s: %s",
                         sb.data ? sb.data : "?", why);
                hk_buf_free(&sb);
                hk_error_clear(err);
            }
            res->bad++;
        }
    }
    if (c) hks_cursor_close(c);
    why_ctx_close(&w);
    return rc;
}

/* ==== Constraints ==== */

/* Symbol of "Contradiction", 0 when the KB never had one. */
static hk_err contradiction_sym(hk_txn *t, uint32_t *id, hk_error *err)
{
    hk_err rc = hks_sym_id(t, "Contradiction", 13, id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *id = 0;
        return HK_OK;
    }
    return rc;
}

/* Calls fn for each stored derived Contradiction fact (stops on its
 * non-OK). */
typedef hk_err (*contra_fn)(void *ud, const hks_fact_syms *fs, hk_error *err);
static hk_err contradictions_each(hk_txn *t, const hkr_dbs *d, contra_fn fn,
                                  void *ud, hk_error *err)
{
    uint32_t pred = 0;
    hk_err rc = contradiction_sym(t, &pred, err);
    if (rc != HK_OK || pred == 0) return rc;
    hks_cursor *c = NULL;
    rc = hks_cursor_open(t, d->derived, &c, err);
    if (rc != HK_OK) return rc;
    uint8_t pk[4];
    hkr_put_u32be(pk, pred);
    hks_val key = {pk, 4}, k, v;
    bool found = false;
    rc = hks_cursor_seek(c, key, &k, &v, &found, err);
    while (rc == HK_OK && found && k.len >= 4 && memcmp(k.data, pk, 4) == 0) {
        hks_fact_syms fs;
        if (hkr_key_parse(k.data, k.len, &fs)) {
            rc = fn(ud, &fs, err);
            if (rc != HK_OK) break;
        }
        rc = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    return rc;
}

typedef struct contra_json {
    why_ctx *w;
    hk_buf *out;
    size_t limit;
    uint64_t n;
} contra_json;

static hk_err contra_json_fn(void *ud, const hks_fact_syms *fs, hk_error *err)
{
    contra_json *x = ud;
    x->n++;
    if (x->n > x->limit) return HK_OK;
    if (x->n > 1) hk_buf_append_str(x->out, ",");
    hk_buf_append_str(x->out, "{\"statement\":");
    hk_err rc = write_statement(x->w, fs, x->out, err);
    if (rc != HK_OK) return rc;
    hk_buf_append_str(x->out, ",\"proof\":");
    rc = why_node(x->w, fs, 0, x->out, err);
    if (rc != HK_OK) return rc;
    hk_buf_append_str(x->out, "}");
    return HK_OK;
}

hk_err hkr_contradictions_json(hk_txn *t, const hkr_dbs *d, size_t limit,
                               hk_buf *out, uint64_t *n, hk_error *err)
{
    why_ctx w;
    *n = 0;
    hk_err rc = why_ctx_open(&w, t, d, err);
    contra_json x = {&w, out, limit, 0};
    hk_buf_append_str(out, "[");
    if (rc == HK_OK) rc = contradictions_each(t, d, contra_json_fn, &x, err);
    hk_buf_append_str(out, "]");
    why_ctx_close(&w);
    *n = x.n;
    if (rc == HK_OK && !out->data)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return rc;
}

hk_err hkr_strict_get(hk_txn *t, const hkr_dbs *d, bool *on, hk_error *err)
{
    hks_val k = {"strict", 6}, v;
    *on = false;
    hk_err rc = hks_get(t, d->meta, k, &v, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc == HK_OK) *on = v.len == 1 && ((const uint8_t *)v.data)[0] == 1;
    return rc;
}

hk_err hkr_strict_set(hk_txn *t, const hkr_dbs *d, bool on, hk_error *err)
{
    bool was = false;
    hk_err rc = hkr_strict_get(t, d, &was, err);
    if (rc != HK_OK || was == on) return rc;
    uint8_t b = on ? 1 : 0;
    hks_val k = {"strict", 6}, v = {&b, 1};
    rc = hks_put(t, d->meta, k, v, 0, err);
    if (rc == HK_OK)
        rc = hks_rule_audit(t, was ? "{\"strict\":true}" : "{\"strict\":false}",
                            on ? "{\"strict\":true}" : "{\"strict\":false}",
                            err);
    return rc;
}

typedef struct keyset {
    uint8_t (*keys)[HKR_KEY_MAX];
    size_t *lens;
    size_t n, cap;
} keyset;

static hk_err keyset_add(void *ud, const hks_fact_syms *fs, hk_error *err)
{
    keyset *s = ud;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        void *nk = hk_realloc(s->keys, nc * sizeof *s->keys);
        if (!nk) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        s->keys = nk;
        void *nl = hk_realloc(s->lens, nc * sizeof *s->lens);
        if (!nl) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        s->lens = nl;
        s->cap = nc;
    }
    s->lens[s->n] = hkr_key_of(fs, s->keys[s->n]);
    s->n++;
    return HK_OK;
}

typedef struct newcheck {
    const keyset *before;
    hks_fact_syms found;
    bool any;
} newcheck;

static hk_err find_new(void *ud, const hks_fact_syms *fs, hk_error *err)
{
    (void)err;
    newcheck *x = ud;
    if (x->any) return HK_OK;
    uint8_t k[HKR_KEY_MAX];
    size_t kl = hkr_key_of(fs, k);
    for (size_t i = 0; i < x->before->n; i++)
        if (x->before->lens[i] == kl && memcmp(x->before->keys[i], k, kl) == 0)
            return HK_OK;
    x->found = *fs;
    x->any = true;
    return HK_OK;
}

/* Recomputes (c NULL) or maintains after change c. */
static hk_err update(hk_txn *t, const hkr_dbs *d, const hks_change *c,
                     hkr_reason_res *res, hk_error *err)
{
    return c ? hkr_materialize_change(t, d, c, res, err)
             : hkr_materialize(t, d, NULL, NULL, res, err);
}

hk_err hkr_maintain(hk_txn *t, const hkr_dbs *d, hkr_reason_res *res,
                    hk_error *err)
{
    return hkr_maintain_change(t, d, NULL, res, err);
}

hk_err hkr_maintain_change(hk_txn *t, const hkr_dbs *d, const hks_change *c,
                           hkr_reason_res *res, hk_error *err)
{
    bool strict = false;
    hk_err rc = hkr_strict_get(t, d, &strict, err);
    if (rc != HK_OK) return rc;
    if (!strict) return update(t, d, c, res, err);
    keyset before = {NULL, NULL, 0, 0};
    rc = contradictions_each(t, d, keyset_add, &before, err);
    if (rc == HK_OK) rc = update(t, d, c, res, err);
    newcheck x = {&before, {0}, false};
    if (rc == HK_OK) rc = contradictions_each(t, d, find_new, &x, err);
    if (rc == HK_OK && x.any) {
        why_ctx w;
        hk_buf b = HK_BUF_INIT, st = HK_BUF_INIT;
        hk_error e2;
        if (why_ctx_open(&w, t, d, &e2) == HK_OK) {
            write_statement(&w, &x.found, &st, &e2);
            why_node(&w, &x.found, 0, &b, &e2);
        }
        why_ctx_close(&w);
        rc = hk_error_set(err, HK_ERR_EXISTS,
                          "refused in strict mode: the write derives %s; "
                          "proof: %s",
                          st.data ? st.data : "a contradiction",
                          b.data ? b.data : "(see hakgal why)");
        if (err) snprintf(err->field, sizeof err->field, "contradiction");
        hk_buf_free(&b);
        hk_buf_free(&st);
    }
    hk_free(before.keys);
    hk_free(before.lens);
    return rc;
}
