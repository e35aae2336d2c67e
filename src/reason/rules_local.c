/*
 * rules_local.c — maintenance of the derived facts after one change to
 * the asserted facts that reads only what the change reaches (see
 * rules.h, hkr_materialize_change).
 *
 * The delete-and-rederive of rules_fixpoint.c loads every relation the
 * rules read, with every stored support, before it joins: its cost is
 * linear in the materialization whatever the change. Here the joins
 * probe the store and rules.derived directly, so the cost follows the
 * facts the change reaches:
 *
 *  1. Applicability. The predicates the change can alter are its own and,
 *     transitively, the heads of rules reading one of them. A rule that
 *     negates one of those is left to rules_fixpoint.c (a change below a
 *     negation can add and remove above it); negated patterns over other
 *     predicates read a state the change does not touch.
 *  2. Over-delete (state before the change: the store with the removed
 *     fact put back and the added one taken out, rules.derived as it is):
 *     starting from the removed asserted fact, and from the added fact
 *     when it was derived before (an asserted fact is never derived),
 *     every rule instance that uses a removed fact gives a removed fact
 *     (semi-naive: the removed fact in one pattern, the state before the
 *     change in the others). A derived fact whose stored support survives
 *     is never reached: its premises are not removed. Too many removals
 *     (more than INCR_DEAD_MIN and an eighth of the derived facts) leave
 *     the change to the caller, nothing written yet.
 *  3. The removed facts are deleted from rules.derived; each of them (and
 *     the removed asserted fact) that one rule instance over the facts
 *     now stored still gives is written again with that support
 *     (goal-directed: the rule's head bound to the fact, its body joined).
 *  4. Insert: semi-naive from the added asserted fact and the rederived
 *     facts: each new fact in one pattern, everything stored in the
 *     others; heads that are neither asserted nor derived are written and
 *     joined in turn. This also rederives what step 3 could not reach in
 *     one step.
 *
 * Joins: patterns are taken in turn, the one with the most bound
 * arguments next; asserted candidates come from the statement index (all
 * arguments bound), the adjacency of a bound argument (hks_adj_open), or
 * the predicate's statement range; derived candidates from the key range
 * of rules.derived under the pattern's leading bound arguments (a
 * predicate's whole range when its first argument is free: there is no
 * index of derived facts by later arguments). Candidates of a pattern are
 * copied out before the next pattern is probed, and heads are written
 * only between joins, so no cursor is open across a write.
 *
 * Support records: version 2 (rules_int.h: the free variables' values)
 * for rules without `_` in a positive pattern, else version 1; a new
 * fact's round is one above its highest derived premise, so the
 * checker's order holds and survivors keep theirs. Both versions are
 * read where a round is needed.
 *
 * Threads: one call per write transaction, on its thread; all state is
 * the call's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "reason/rules_int.h"
#include "store/rule_audit.h"

/* Removals beyond this many, and beyond an eighth of the derived facts,
 * are left to the caller (rules_fixpoint.c, which recomputes them). */
#define LOCAL_DEAD_MIN 4096u

static _Atomic uint64_t n_local;
static _Atomic bool local_state = true;

uint64_t hkr_local_count(void)
{
    return n_local;
}

bool hkr_local_on(void)
{
    return local_state;
}

void hkr_local_set(bool on)
{
    local_state = on;
}

/* ==== Program ==== */

/* A body pattern with its symbols resolved. */
typedef struct latom {
    bool neg;                       /* `not P(...)` */
    uint32_t pos;                   /* index among positive patterns */
    uint32_t pred;                  /* predicate symbol; 0: unknown */
    uint32_t n;                     /* arguments */
    hk_term_kind kind[HK_MAX_ARGS]; /* per argument */
    uint32_t var[HK_MAX_ARGS];      /* variable (kind VAR) */
    uint32_t sym[HK_MAX_ARGS];      /* constant's symbol; 0: unknown */
    bool unknown;                   /* a constant names no symbol */
} latom;

typedef struct lrule {
    const hkr_rule *r;              /* the rule */
    uint32_t pred;                  /* head predicate symbol */
    uint32_t head_sym[HK_MAX_ARGS]; /* head constants' symbols */
    uint32_t n_atoms;               /* body patterns */
    latom atoms[HKQ_MAX_ATOMS];     /* in text order */
    uint32_t n_pos;                 /* positive ones */
    uint32_t n_vars;                /* body variables */
    hkr_freevars fv;                /* what a version-2 support holds */
} lrule;

/* A fact a pattern matched. */
typedef struct cand {
    hks_fact_syms fs; /* content */
    hk_fact_id id;    /* asserted: its id; 0: derived */
    uint32_t round;   /* derived: its round */
} cand;

typedef struct cands {
    cand *v;
    size_t n, cap;
} cands;

/* Facts as a set (open addressing over an array of contents). */
typedef struct fset {
    hks_fact_syms *v; /* members in insertion order */
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 empty */
    size_t n_slots; /* power of two */
} fset;

enum { MODE_DEAD, MODE_GOAL, MODE_NEW };

typedef struct lx {
    hk_txn *t;
    const hkr_dbs *d;
    lrule *rules;
    size_t n_rules;
    const hks_change *c;
    int mode;
    bool old;                 /* probes see the state before the change */
    bool stop;                /* MODE_GOAL: a derivation was found */
    fset dead;                /* removed derived facts (steps 2, 3) */
    cands queue;              /* MODE_NEW: facts to join from (step 4) */
    cands heads;              /* heads found by the current join */
    cands lvl[HKQ_MAX_ATOMS]; /* candidates per join depth */
    hk_buf val;               /* support being written */
    /* the binding of the current join */
    uint32_t vals[HKQ_MAX_VARS];
    bool set[HKQ_MAX_VARS];
    bool done[HKQ_MAX_ATOMS];
    cand prem[HKQ_MAX_ATOMS]; /* by positive index */
    uint64_t written, deleted;
} lx;

static hk_err nomem(hk_error *err)
{
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

static hk_err grow(void **p, size_t *cap, size_t need, size_t size,
                   hk_error *err)
{
    if (need <= *cap) return HK_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = hk_realloc(*p, nc * size);
    if (!np) return nomem(err);
    *p = np;
    *cap = nc;
    return HK_OK;
}

static hk_err cands_push(cands *c, const cand *x, hk_error *err)
{
    hk_err rc = grow((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v, err);
    if (rc == HK_OK) c->v[c->n++] = *x;
    return rc;
}

static bool syms_eq(const hks_fact_syms *a, const hks_fact_syms *b)
{
    if (a->pred != b->pred || a->n_args != b->n_args) return false;
    for (uint32_t k = 0; k < a->n_args; k++)
        if (a->args[k] != b->args[k]) return false;
    return true;
}

static uint64_t syms_hash(const hks_fact_syms *fs)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ fs->pred ^ (uint64_t)fs->n_args << 32;
    for (uint32_t k = 0; k < fs->n_args; k++) {
        h ^= fs->args[k];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return h;
}

static size_t fset_find(const fset *s, const hks_fact_syms *fs)
{
    if (!s->n_slots) return SIZE_MAX;
    size_t m = s->n_slots - 1;
    for (size_t i = syms_hash(fs) & m, probes = 0; probes < s->n_slots;
         i = (i + 1) & m, probes++) {
        if (!s->slot[i]) return SIZE_MAX;
        if (syms_eq(&s->v[s->slot[i] - 1], fs)) return s->slot[i] - 1;
    }
    return SIZE_MAX;
}

/* Adds fs; *added false when it was there. */
static hk_err fset_add(fset *s, const hks_fact_syms *fs, bool *added,
                       hk_error *err)
{
    *added = false;
    if (fset_find(s, fs) != SIZE_MAX) return HK_OK;
    if ((s->n + 1) * 2 > s->n_slots) {
        size_t ns = s->n_slots ? s->n_slots * 2 : 64;
        uint32_t *slot = hk_calloc(ns, sizeof *slot);
        if (!slot) return nomem(err);
        for (size_t j = 0; j < s->n; j++) {
            size_t i = syms_hash(&s->v[j]) & (ns - 1);
            while (slot[i])
                i = (i + 1) & (ns - 1);
            slot[i] = (uint32_t)j + 1;
        }
        hk_free(s->slot);
        s->slot = slot;
        s->n_slots = ns;
    }
    hk_err rc = grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v, err);
    if (rc != HK_OK) return rc;
    s->v[s->n] = *fs;
    size_t i = syms_hash(fs) & (s->n_slots - 1);
    while (s->slot[i])
        i = (i + 1) & (s->n_slots - 1);
    s->slot[i] = (uint32_t)++s->n;
    *added = true;
    return HK_OK;
}

/* Symbol id of constant text, 0 when the KB has none. */
static hk_err const_sym(hk_txn *t, const char *s, uint32_t *out, hk_error *err)
{
    *out = 0;
    hk_err rc = hks_sym_id(t, s, strlen(s), out, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *out = 0;
        return HK_OK;
    }
    return rc;
}

static hk_err prepare(lx *x, hkr_rule *const *rules, size_t n, hk_error *err)
{
    x->rules = hk_calloc(n ? n : 1, sizeof *x->rules);
    if (!x->rules) return nomem(err);
    x->n_rules = n;
    hk_err rc = HK_OK;
    for (size_t i = 0; i < n && rc == HK_OK; i++) {
        lrule *lr = &x->rules[i];
        const hkr_rule *r = rules[i];
        lr->r = r;
        lr->n_vars = hkq_n_vars(r->body);
        hkr_free_vars(r, &lr->fv);
        rc = hks_rule_sym(x->t, r->head_pred, strlen(r->head_pred), &lr->pred,
                          err);
        for (uint32_t k = 0; k < r->head_n && rc == HK_OK; k++)
            if (!r->head_is_var[k])
                rc = hks_rule_sym(x->t, r->head_const[k],
                                  strlen(r->head_const[k]), &lr->head_sym[k],
                                  err);
        lr->n_atoms = hkq_n_atoms(r->body);
        for (uint32_t a = 0; a < lr->n_atoms && rc == HK_OK; a++) {
            hkq_atom_view av;
            hkq_atom_view_get(r->body, a, &av);
            latom *la = &lr->atoms[a];
            la->neg = av.neg;
            la->pos = av.pos_index;
            la->n = av.n_args;
            if (!av.neg) lr->n_pos++;
            rc = const_sym(x->t, av.text[0], &la->pred, err);
            if (!la->pred) la->unknown = true;
            for (uint32_t k = 0; k < av.n_args && rc == HK_OK; k++) {
                la->kind[k] = av.kind[k + 1];
                la->var[k] = av.var[k + 1];
                if (av.kind[k + 1] == HK_TERM_CONST) {
                    rc = const_sym(x->t, av.text[k + 1], &la->sym[k], err);
                    if (!la->sym[k]) la->unknown = true;
                }
            }
        }
    }
    return rc;
}

/* Step 1: no rule negates a predicate the change can reach. */
static bool applicable(const lx *x, const hks_change *c)
{
    uint32_t reach[HKR_RULES_MAX + 2];
    size_t n = 0;
    if (c->before) reach[n++] = c->before->pred;
    if (c->after && (!c->before || c->after->pred != c->before->pred))
        reach[n++] = c->after->pred;
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < x->n_rules; i++) {
            const lrule *lr = &x->rules[i];
            bool have = false;
            for (size_t j = 0; j < n && !have; j++)
                have = reach[j] == lr->pred;
            if (have) continue;
            for (uint32_t a = 0; a < lr->n_atoms && !have; a++)
                for (size_t j = 0; j < n && !have; j++)
                    have = !lr->atoms[a].neg && lr->atoms[a].pred == reach[j] &&
                           reach[j];
            if (have && n < HKR_RULES_MAX + 2) {
                reach[n++] = lr->pred;
                more = true;
            }
        }
    }
    for (size_t i = 0; i < x->n_rules; i++)
        for (uint32_t a = 0; a < x->rules[i].n_atoms; a++) {
            const latom *la = &x->rules[i].atoms[a];
            if (!la->neg) continue;
            for (size_t j = 0; j < n; j++)
                if (la->pred == reach[j]) return false;
        }
    return true;
}

/* ==== Joins ==== */

/* Binds the free variables of pattern la to fs when it matches under the
 * current binding; bound[] gets the variables it set (to unset). */
static bool bind_atom(lx *x, const latom *la, const hks_fact_syms *fs,
                      uint32_t *bound, uint32_t *n_bound)
{
    *n_bound = 0;
    if (la->unknown || fs->pred != la->pred || fs->n_args != la->n)
        return false;
    for (uint32_t k = 0; k < la->n; k++) {
        uint32_t v = fs->args[k];
        if (la->kind[k] == HK_TERM_CONST) {
            if (la->sym[k] != v) goto no;
        } else if (la->kind[k] == HK_TERM_VAR) {
            uint32_t w = la->var[k];
            if (x->set[w]) {
                if (x->vals[w] != v) goto no;
            } else {
                x->set[w] = true;
                x->vals[w] = v;
                bound[(*n_bound)++] = w;
            }
        }
    }
    return true;
no:
    for (uint32_t i = 0; i < *n_bound; i++)
        x->set[bound[i]] = false;
    *n_bound = 0;
    return false;
}

static void unbind(lx *x, const uint32_t *bound, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        x->set[bound[i]] = false;
}

/* Value of argument k of pattern la under the binding; false when free. */
static bool arg_value(const lx *x, const latom *la, uint32_t k, uint32_t *v)
{
    if (la->kind[k] == HK_TERM_CONST) {
        *v = la->sym[k];
        return true;
    }
    if (la->kind[k] == HK_TERM_VAR && x->set[la->var[k]]) {
        *v = x->vals[la->var[k]];
        return true;
    }
    return false;
}

/* In the state before the change, asserted fact fs (with id) exists? */
static bool old_visible(const lx *x, const hks_fact_syms *fs)
{
    const hks_change *c = x->c;
    return !(c->after && syms_eq(fs, c->after) &&
             !(c->before && syms_eq(c->before, c->after)));
}

typedef struct scan_ud {
    lx *x;
    const latom *la;
    cands *out;
} scan_ud;

static bool fits(const lx *x, const latom *la, const hks_fact_syms *fs)
{
    if (fs->pred != la->pred || fs->n_args != la->n) return false;
    for (uint32_t k = 0; k < la->n; k++) {
        uint32_t v;
        if (arg_value(x, la, k, &v) && fs->args[k] != v) return false;
    }
    return true;
}

static hk_err scan_one(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                       hk_error *err)
{
    scan_ud *s = ud;
    if (!fits(s->x, s->la, fs)) return HK_OK;
    if (s->x->old && !old_visible(s->x, fs)) return HK_OK;
    cand c = {*fs, id, 0};
    return cands_push(s->out, &c, err);
}

/* Asserted facts matching la under the binding into out. */
static hk_err asserted_cands(lx *x, const latom *la, cands *out, hk_error *err)
{
    hk_err rc = HK_OK;
    hks_fact_syms want;
    memset(&want, 0, sizeof want);
    want.pred = la->pred;
    want.n_args = la->n;
    uint32_t n_bound = 0, first = UINT32_MAX;
    for (uint32_t k = 0; k < la->n; k++)
        if (arg_value(x, la, k, &want.args[k])) {
            n_bound++;
            if (first == UINT32_MAX) first = k;
        }
    if (n_bound == la->n) {
        hk_fact_id id = 0;
        rc = hks_fact_find_syms(x->t, &want, &id, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            rc = HK_OK;
        } else if (rc == HK_OK && (!x->old || old_visible(x, &want))) {
            cand c = {want, id, 0};
            rc = cands_push(out, &c, err);
        }
    } else if (first != UINT32_MAX) {
        hks_adj *a = NULL;
        rc =
            hks_adj_open(x->t, want.args[first], (int)first, la->pred, &a, err);
        while (rc == HK_OK) {
            hks_adj_row row;
            bool has = false;
            rc = hks_adj_next(a, &row, &has, err);
            if (rc != HK_OK || !has) break;
            hks_fact_syms fs;
            if (!hks_adj_row_syms(&row, want.args[first], &fs))
                rc = hks_fact_syms_get(x->t, row.fact, &fs, err);
            if (rc != HK_OK) break;
            scan_ud s = {x, la, out};
            rc = scan_one(&s, row.fact, &fs, err);
        }
        if (a) hks_adj_close(a);
    } else {
        scan_ud s = {x, la, out};
        rc = hks_pred_syms_scan(x->t, la->pred, scan_one, &s, err);
    }
    /* the removed fact, in the state before the change */
    const hks_fact_syms *gone = x->c->before;
    if (rc == HK_OK && x->old && gone && fits(x, la, gone) &&
        !(x->c->after && syms_eq(gone, x->c->after))) {
        cand c = {*gone, x->c->id, 0};
        rc = cands_push(out, &c, err);
    }
    return rc;
}

static hk_err corrupt(hk_error *err)
{
    return hk_error_set(err, HK_ERR_CORRUPT,
                        "damaged support record of a derived fact");
}

/* Derived facts matching la under the binding into out. */
static hk_err derived_cands(lx *x, const latom *la, cands *out, hk_error *err)
{
    uint8_t pre[HKR_KEY_MAX];
    hkr_put_u32be(pre, la->pred);
    pre[4] = (uint8_t)la->n;
    size_t pl = 5;
    for (uint32_t k = 0; k < la->n; k++) {
        uint32_t v;
        if (!arg_value(x, la, k, &v)) break;
        hkr_put_u32be(pre + pl, v);
        pl += 4;
    }
    if (pl == 5 + 4 * (size_t)la->n) { /* one lookup */
        hks_val kv = {pre, pl}, v;
        hk_err rc = hks_get(x->t, x->d->derived, kv, &v, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            return HK_OK;
        }
        if (rc != HK_OK) return rc;
        cand c;
        if (!hkr_key_parse(pre, pl, &c.fs) || !hkr_support_round(v, &c.round))
            return corrupt(err);
        c.id = 0;
        return cands_push(out, &c, err);
    }
    hks_cursor *cur = NULL;
    hk_err rc = hks_cursor_open(x->t, x->d->derived, &cur, err);
    hks_val k, v;
    bool found = false;
    if (rc == HK_OK)
        rc = hks_cursor_seek(cur, (hks_val){pre, pl}, &k, &v, &found, err);
    while (rc == HK_OK && found && k.len >= pl &&
           memcmp(k.data, pre, pl) == 0) {
        cand c;
        if (!hkr_key_parse(k.data, k.len, &c.fs)) {
            rc = corrupt(err);
            break;
        }
        if (fits(x, la, &c.fs)) {
            c.id = 0;
            if (!hkr_support_round(v, &c.round)) {
                rc = corrupt(err);
                break;
            }
            rc = cands_push(out, &c, err);
        }
        if (rc == HK_OK) rc = hks_cursor_next(cur, &k, &v, &found, err);
    }
    if (cur) hks_cursor_close(cur);
    return rc;
}

static hk_err complete(lx *x, const lrule *lr, hk_error *err);

/* Joins the positive patterns not done yet (left of them). */
static hk_err join(lx *x, const lrule *lr, uint32_t left, uint32_t depth,
                   hk_error *err)
{
    if (x->stop) return HK_OK;
    if (left == 0) return complete(x, lr, err);
    uint32_t best = UINT32_MAX, best_score = 0;
    for (uint32_t a = 0; a < lr->n_atoms; a++) {
        const latom *la = &lr->atoms[a];
        if (la->neg || x->done[a]) continue;
        uint32_t score = 1, v;
        for (uint32_t k = 0; k < la->n; k++)
            score += arg_value(x, la, k, &v) ? 1 : 0;
        if (best == UINT32_MAX || score > best_score) {
            best = a;
            best_score = score;
        }
    }
    const latom *la = &lr->atoms[best];
    if (la->unknown) return HK_OK;
    cands *cs = &x->lvl[depth];
    cs->n = 0;
    hk_err rc = asserted_cands(x, la, cs, err);
    if (rc == HK_OK) rc = derived_cands(x, la, cs, err);
    x->done[best] = true;
    /* the next level reuses its own array: cs stays valid */
    for (size_t i = 0; rc == HK_OK && i < cs->n && !x->stop; i++) {
        uint32_t bound[HK_MAX_ARGS], nb = 0;
        if (!bind_atom(x, la, &cs->v[i].fs, bound, &nb)) continue;
        x->prem[la->pos] = cs->v[i];
        rc = join(x, lr, left - 1, depth + 1, err);
        unbind(x, bound, nb);
    }
    x->done[best] = false;
    return rc;
}

/* Comparisons and negated patterns of a full binding; *ok. */
static hk_err filters(lx *x, const lrule *lr, bool *ok, hk_error *err)
{
    *ok = true;
    const hkq_query *q = lr->r->body;
    for (uint32_t i = 0; i < hkq_n_cmps(q) && *ok; i++) {
        hkq_cmp_view cv;
        hkq_cmp_view_get(q, i, &cv);
        const char *s[2];
        size_t l[2];
        for (int j = 0; j < 2; j++) {
            if (cv.kind[j] == HK_TERM_VAR) {
                hk_err rc =
                    hks_sym_str(x->t, x->vals[cv.var[j]], &s[j], &l[j], err);
                if (rc != HK_OK) return rc;
            } else {
                s[j] = cv.text[j];
                l[j] = strlen(cv.text[j]);
            }
        }
        *ok = hkq_cmp_holds(cv.op, s[0], l[0], s[1], l[1]);
    }
    for (uint32_t i = 0; i < lr->n_atoms && *ok; i++) {
        if (!lr->atoms[i].neg) continue;
        hkq_atom_view av;
        hkq_atom_view_get(q, i, &av);
        bool ex = false;
        hk_err rc = hkr_neg_exists(x->t, x->d, &av, x->vals, &ex, err);
        if (rc != HK_OK) return rc;
        *ok = !ex;
    }
    return HK_OK;
}

/* A full binding of lr's positive patterns. */
static hk_err complete(lx *x, const lrule *lr, hk_error *err)
{
    bool ok = false;
    hk_err rc = filters(x, lr, &ok, err);
    if (rc != HK_OK || !ok) return rc;
    cand h;
    memset(&h, 0, sizeof h);
    h.fs.pred = lr->pred;
    h.fs.n_args = lr->r->head_n;
    for (uint32_t k = 0; k < lr->r->head_n; k++)
        h.fs.args[k] = lr->r->head_is_var[k] ? x->vals[lr->r->head_var[k]]
                                             : lr->head_sym[k];
    if (x->mode == MODE_DEAD) return cands_push(&x->heads, &h, err);
    /* one round above every derived premise: proofs stay finite */
    for (uint32_t p = 0; p < lr->n_pos; p++)
        if (!x->prem[p].id && x->prem[p].round + 1 > h.round)
            h.round = x->prem[p].round + 1;
    if (h.round == 0) h.round = 1;
    if (x->mode == MODE_GOAL) {
        x->stop = true; /* x->prem keeps this binding's premises */
        return cands_push(&x->heads, &h, err);
    }
    /* MODE_NEW: the head, then its premises (the binding is gone once
     * the join returns) */
    rc = cands_push(&x->heads, &h, err);
    for (uint32_t p = 0; p < lr->n_pos && rc == HK_OK; p++)
        rc = cands_push(&x->heads, &x->prem[p], err);
    return rc;
}

/* ==== Writing ==== */

/* Writes derived fact h with rule lr and premises prem: a version-2
 * support (the free variables' values, read off the premises) unless a
 * pattern has `_`, else version 1 (rules_fixpoint.c's support_value). */
static hk_err put_fact(lx *x, const lrule *lr, const cand *h, const cand *prem,
                       hk_error *err)
{
    hk_buf *v = &x->val;
    uint8_t tmp[HKR_KEY_MAX + 1];
    if (lr->fv.compact) {
        uint32_t vals[HKQ_MAX_VARS];
        for (uint32_t i = 0; i < lr->fv.n; i++)
            vals[i] = prem[lr->fv.pos[i]].fs.args[lr->fv.arg[i]];
        hk_err rc =
            hkr_support_v2(v, lr->r->name, h->round, vals, lr->fv.n, err);
        if (rc != HK_OK) return rc;
        goto put;
    }
    hk_buf_reset(v);
    hkr_put_u32be(tmp, h->round);
    hk_buf_append(v, tmp, 4);
    uint8_t nl = (uint8_t)strlen(lr->r->name);
    hk_buf_append(v, &nl, 1);
    hk_buf_append(v, lr->r->name, nl);
    uint8_t np = (uint8_t)lr->n_pos;
    hk_buf_append(v, &np, 1);
    for (uint32_t p = 0; p < np; p++) {
        if (prem[p].id) {
            uint8_t b[9];
            b[0] = 0;
            hkr_put_u64be(b + 1, prem[p].id);
            hk_buf_append(v, b, 9);
        } else {
            size_t kl = hkr_key_of(&prem[p].fs, tmp + 1);
            tmp[0] = (uint8_t)kl;
            uint8_t tag = 1;
            hk_buf_append(v, &tag, 1);
            hk_buf_append(v, tmp, kl + 1);
        }
    }
    if (!v->data) return nomem(err);
put:;
    uint8_t key[HKR_KEY_MAX];
    hks_val kv = {key, hkr_key_of(&h->fs, key)}, vv = {v->data, v->len};
    hk_err rc = hks_put(x->t, x->d->derived, kv, vv, 0, err);
    if (rc == HK_OK) x->written++;
    return rc;
}

/* Whether fs is asserted (now) or derived (stored). */
static hk_err present(lx *x, const hks_fact_syms *fs, bool *yes, hk_error *err)
{
    uint8_t key[HKR_KEY_MAX];
    hks_val kv = {key, hkr_key_of(fs, key)}, v;
    hk_err rc = hks_get(x->t, x->d->derived, kv, &v, err);
    if (rc == HK_OK) {
        *yes = true;
        return HK_OK;
    }
    if (rc != HK_ERR_NOT_FOUND) return rc;
    hk_error_clear(err);
    hk_fact_id id = 0;
    rc = hks_fact_find_syms(x->t, fs, &id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *yes = false;
        return HK_OK;
    }
    *yes = rc == HK_OK;
    return rc;
}

/* ==== Steps ==== */

static void clear_binding(lx *x)
{
    memset(x->set, 0, sizeof x->set);
    memset(x->done, 0, sizeof x->done);
}

/* Joins the instances of rule ri with fact f in positive pattern a; the
 * heads go to x->heads (see complete). */
static hk_err delta_join(lx *x, const cand *f, size_t ri, uint32_t a,
                         hk_error *err)
{
    const lrule *lr = &x->rules[ri];
    const latom *la = &lr->atoms[a];
    clear_binding(x);
    uint32_t bound[HK_MAX_ARGS], nb = 0;
    if (!bind_atom(x, la, &f->fs, bound, &nb)) return HK_OK;
    x->done[a] = true;
    x->prem[la->pos] = *f;
    return join(x, lr, lr->n_pos - 1, 0, err);
}

/* Step 2: the removed derived facts into x->dead; *too_many. */
static hk_err over_delete(lx *x, const cand *seeds, size_t n_seeds,
                          uint64_t limit, bool *too_many, hk_error *err)
{
    cands work = {NULL, 0, 0};
    hk_err rc = HK_OK;
    for (size_t i = 0; i < n_seeds && rc == HK_OK; i++)
        rc = cands_push(&work, &seeds[i], err);
    x->mode = MODE_DEAD;
    x->old = true;
    for (size_t w = 0; rc == HK_OK && w < work.n; w++) {
        cand f = work.v[w];
        for (size_t ri = 0; ri < x->n_rules && rc == HK_OK; ri++) {
            const lrule *lr = &x->rules[ri];
            for (uint32_t a = 0; a < lr->n_atoms && rc == HK_OK; a++) {
                if (lr->atoms[a].neg || lr->atoms[a].pred != f.fs.pred)
                    continue;
                x->heads.n = 0;
                rc = delta_join(x, &f, ri, a, err);
                for (size_t h = 0; rc == HK_OK && h < x->heads.n; h++) {
                    const hks_fact_syms *fs = &x->heads.v[h].fs;
                    if (fset_find(&x->dead, fs) != SIZE_MAX) continue;
                    uint8_t key[HKR_KEY_MAX];
                    hks_val kv = {key, hkr_key_of(fs, key)}, v;
                    rc = hks_get(x->t, x->d->derived, kv, &v, err);
                    if (rc == HK_ERR_NOT_FOUND) {
                        hk_error_clear(err);
                        rc = HK_OK;
                        continue;
                    }
                    bool added = false;
                    if (rc == HK_OK) rc = fset_add(&x->dead, fs, &added, err);
                    cand c = {*fs, 0, 0};
                    if (rc == HK_OK && added) rc = cands_push(&work, &c, err);
                    if (x->dead.n > limit) {
                        *too_many = true;
                        goto done;
                    }
                }
            }
        }
    }
done:
    x->old = false;
    hk_free(work.v);
    return rc;
}

/* Step 3 for goal g: when g is neither asserted nor stored and one rule
 * instance over the stored facts gives it, writes it with that support
 * and queues it for step 4. */
static hk_err rederive(lx *x, const hks_fact_syms *g, bool *got, hk_error *err)
{
    *got = false;
    bool there = false;
    hk_err rc = present(x, g, &there, err);
    if (rc != HK_OK || there) return rc;
    x->mode = MODE_GOAL;
    for (size_t ri = 0; ri < x->n_rules && rc == HK_OK && !*got; ri++) {
        const lrule *lr = &x->rules[ri];
        if (lr->pred != g->pred || lr->r->head_n != g->n_args) continue;
        clear_binding(x);
        bool fit = true;
        for (uint32_t k = 0; k < g->n_args && fit; k++) {
            if (!lr->r->head_is_var[k]) {
                fit = lr->head_sym[k] == g->args[k];
                continue;
            }
            uint32_t w = lr->r->head_var[k];
            if (x->set[w])
                fit = x->vals[w] == g->args[k];
            else {
                x->set[w] = true;
                x->vals[w] = g->args[k];
            }
        }
        if (!fit) continue;
        x->stop = false;
        x->heads.n = 0;
        rc = join(x, lr, lr->n_pos, 0, err);
        if (rc == HK_OK && x->stop && x->heads.n == 1) {
            rc = put_fact(x, lr, &x->heads.v[0], x->prem, err);
            if (rc == HK_OK) rc = cands_push(&x->queue, &x->heads.v[0], err);
            *got = true;
        }
        x->stop = false;
    }
    return rc;
}

/* Writes the heads a MODE_NEW join of lr found (each followed by its
 * premises in x->heads) that are neither asserted nor stored yet. */
static hk_err write_new(lx *x, const lrule *lr, hk_error *err)
{
    hk_err rc = HK_OK;
    size_t stride = 1 + lr->n_pos;
    for (size_t i = 0; rc == HK_OK && i + stride <= x->heads.n; i += stride) {
        const cand *h = &x->heads.v[i];
        bool there = false;
        rc = present(x, &h->fs, &there, err);
        if (rc != HK_OK || there) continue;
        rc = put_fact(x, lr, h, &x->heads.v[i + 1], err);
        if (rc == HK_OK) rc = cands_push(&x->queue, h, err);
    }
    return rc;
}

/* Step 4: semi-naive from x->queue. */
static hk_err insert(lx *x, hk_error *err)
{
    hk_err rc = HK_OK;
    x->mode = MODE_NEW;
    for (size_t w = 0; rc == HK_OK && w < x->queue.n; w++) {
        cand f = x->queue.v[w];
        for (size_t ri = 0; ri < x->n_rules && rc == HK_OK; ri++) {
            const lrule *lr = &x->rules[ri];
            for (uint32_t a = 0; a < lr->n_atoms && rc == HK_OK; a++) {
                if (lr->atoms[a].neg || lr->atoms[a].pred != f.fs.pred)
                    continue;
                x->heads.n = 0;
                rc = delta_join(x, &f, ri, a, err);
                if (rc == HK_OK) rc = write_new(x, lr, err);
            }
        }
    }
    return rc;
}

hk_err hkr_local_change(hk_txn *t, const hkr_dbs *d, hkr_rule *const *rules,
                        size_t n_rules, const hks_change *c, bool *done,
                        hk_error *err)
{
    *done = false;
    lx x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.d = d;
    x.c = c;
    hk_err rc = prepare(&x, rules, n_rules, err);
    if (rc != HK_OK || !applicable(&x, c)) goto out;
    uint64_t n_derived = 0;
    rc = hks_db_entries(t, d->derived, &n_derived, err);
    if (rc != HK_OK) goto out;
    /* step 2: seeds are the removed asserted fact and the added one when
     * it was derived */
    cand seeds[2];
    size_t n_seeds = 0;
    bool same = c->before && c->after && syms_eq(c->before, c->after);
    const hks_fact_syms *gone = c->before && !same ? c->before : NULL;
    const hks_fact_syms *added = c->after && !same ? c->after : NULL;
    if (gone) seeds[n_seeds++] = (cand){*gone, c->id, 0};
    if (added) {
        uint8_t key[HKR_KEY_MAX];
        hks_val kv = {key, hkr_key_of(added, key)}, v;
        rc = hks_get(t, d->derived, kv, &v, err);
        if (rc == HK_OK) {
            bool a2 = false;
            rc = fset_add(&x.dead, added, &a2, err);
            seeds[n_seeds++] = (cand){*added, 0, 0};
        } else if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            rc = HK_OK;
        }
    }
    bool too_many = false;
    uint64_t limit =
        n_derived / 8 > LOCAL_DEAD_MIN ? n_derived / 8 : LOCAL_DEAD_MIN;
    if (rc == HK_OK)
        rc = over_delete(&x, seeds, n_seeds, limit, &too_many, err);
    if (rc != HK_OK || too_many) goto out;
    /* step 3: nothing was written before this point */
    uint8_t key[HKR_KEY_MAX];
    for (size_t i = 0; rc == HK_OK && i < x.dead.n; i++) {
        hks_val kv = {key, hkr_key_of(&x.dead.v[i], key)};
        rc = hks_del(t, d->derived, kv, NULL, err);
        if (rc == HK_OK) x.deleted++;
    }
    for (size_t i = 0; rc == HK_OK && i <= x.dead.n; i++) {
        const hks_fact_syms *g = i < x.dead.n ? &x.dead.v[i] : gone;
        if (!g) continue;
        bool got = false;
        rc = rederive(&x, g, &got, err);
    }
    /* step 4 */
    if (rc == HK_OK && added) {
        cand a = {*added, c->id, 0};
        rc = cands_push(&x.queue, &a, err);
    }
    if (rc == HK_OK) rc = insert(&x, err);
    if (rc == HK_OK) {
        uint64_t n = 0;
        rc = hks_db_entries(t, d->derived, &n, err);
        uint8_t gv[8];
        hkr_put_u64be(gv, n);
        hks_val k = {"state", 5}, v = {gv, 8};
        if (rc == HK_OK) rc = hks_put(t, d->meta, k, v, 0, err);
    }
    if (rc == HK_OK) {
        *done = true;
        n_local++;
    }
out:
    hk_free(x.rules);
    hk_free(x.dead.v);
    hk_free(x.dead.slot);
    hk_free(x.queue.v);
    hk_free(x.heads.v);
    for (size_t i = 0; i < HKQ_MAX_ATOMS; i++)
        hk_free(x.lvl[i].v);
    hk_buf_free(&x.val);
    return rc;
}
