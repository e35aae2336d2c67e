/*
 * rules_fixpoint.c — semi-naive, stratified materialization of the
 * derived facts with the support each keeps (see rules.h).
 *
 * ==== Relations ====
 * Every predicate a rule mentions gets one in-memory relation: first its
 * asserted facts (read once from the store, with their ids), then the
 * facts derived for it, appended round by round (ids tagged
 * HKR_DERIVED_TAG | index into the derived facts). So the facts of a
 * predicate up to the start of a round ("full") and those of the previous
 * round ("delta") are a prefix and a suffix of one array, handed to the
 * join without copying. Each relation answers index probes (hkq_rel.probe)
 * on any argument position: built on first use, a hash from symbol to the
 * ascending positions of the facts holding it, extended when a round
 * appends.
 *
 * ==== Evaluation ====
 * Strata run in order. Within a stratum, round 0 evaluates every rule
 * over the full relations; each later round evaluates, for every positive
 * pattern i whose predicate the stratum derives, the rule with pattern i
 * reading only the delta and every other pattern the full relation. The
 * fixpoint is reached when a round derives nothing new. Every join is
 * hkq_run of src/query with one in-memory source per pattern. New facts
 * are deduplicated at once in a hash set (asserted facts of a head
 * predicate are in a set of their own: an asserted fact is never derived)
 * and appended when the round ends (the join reads the arrays meanwhile).
 *
 * Negated patterns: the join checks them against the store; the row
 * function checks them against the derived facts (complete, as they
 * belong to lower strata).
 *
 * ==== Storing ====
 * The new materialization is merged into rules.derived in key order:
 * keys that disappeared are deleted, new ones written, and a kept key is
 * rewritten only when its support changed. All of it inside the caller's
 * write transaction, so readers see the old or the new state, and a crash
 * leaves the old one.
 *
 * Memory: the facts of the mentioned predicates (asserted and derived)
 * and their indexes, for the call. Threads: one call per write
 * transaction, on its thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "reason/rules_int.h"
#include "store/rule_audit.h"

/* ==== Hash sets and indexes ==== */

static bool syms_eq(const hks_fact_syms *a, const hks_fact_syms *b)
{
    return a->pred == b->pred && a->n_args == b->n_args &&
           memcmp(a->args, b->args, a->n_args * sizeof a->args[0]) == 0;
}

static uint64_t mix(uint64_t h)
{
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static uint64_t syms_hash(const hks_fact_syms *fs)
{
    uint64_t h = 1469598103934665603ull ^ fs->pred;
    h = (h ^ fs->n_args) * 1099511628211ull;
    for (uint32_t i = 0; i < fs->n_args; i++)
        h = (h ^ fs->args[i]) * 1099511628211ull;
    return mix(h);
}

static hk_err grow(void **p, size_t *cap, size_t need, size_t size,
                   hk_error *err)
{
    if (need <= *cap) return HK_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = hk_realloc(*p, nc * size);
    if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    *p = np;
    *cap = nc;
    return HK_OK;
}

/* A set of facts held elsewhere: slots hold position + 1 (0 = empty)
 * and 32 bits of the fact's hash, so most misses never touch a fact. */
typedef struct fset {
    uint32_t *slot; /* cap positions + 1 */
    uint32_t *tag;  /* cap hash tags */
    size_t cap;     /* power of two */
    size_t n;       /* facts in the set */
} fset;

typedef const hks_fact_syms *(*fact_at_fn)(const void *base, size_t i);

static size_t fset_find(const fset *s, const hks_fact_syms *fs, fact_at_fn at,
                        const void *base)
{
    if (!s->cap) return SIZE_MAX;
    uint64_t h = syms_hash(fs);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t m = s->cap - 1, i = (size_t)h & m;
    while (s->slot[i]) {
        size_t idx = s->slot[i] - 1;
        if (s->tag[i] == tag && syms_eq(at(base, idx), fs)) return idx;
        i = (i + 1) & m;
    }
    return SIZE_MAX;
}

static void fset_put_hashed(fset *s, uint64_t h, size_t idx)
{
    size_t m = s->cap - 1, i = (size_t)h & m;
    while (s->slot[i])
        i = (i + 1) & m;
    s->slot[i] = (uint32_t)(idx + 1);
    s->tag[i] = (uint32_t)(h >> 32);
}

/* Adds position idx (whose fact is at(base, idx)). */
static hk_err fset_add(fset *s, size_t idx, fact_at_fn at, const void *base,
                       hk_error *err)
{
    if ((s->n + 1) * 2 > s->cap) {
        if (s->n >= UINT32_MAX / 4)
            return hk_error_set(err, HK_ERR_LIMIT, "more than %u facts",
                                UINT32_MAX / 4);
        size_t nc = s->cap ? s->cap * 2 : 1024;
        uint32_t *ns = hk_calloc(nc, sizeof *ns);
        uint32_t *nt = hk_malloc(nc * sizeof *nt);
        if (!ns || !nt) {
            hk_free(ns);
            hk_free(nt);
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        uint32_t *old = s->slot, *old_tag = s->tag;
        size_t oc = s->cap;
        s->slot = ns;
        s->tag = nt;
        s->cap = nc;
        for (size_t k = 0; k < oc; k++)
            if (old[k])
                fset_put_hashed(s, syms_hash(at(base, old[k] - 1)), old[k] - 1);
        hk_free(old);
        hk_free(old_tag);
    }
    fset_put_hashed(s, syms_hash(at(base, idx)), idx);
    s->n++;
    return HK_OK;
}

/* An index of one argument position: symbol -> ascending positions. */
typedef struct posting {
    uint32_t sym;  /* 0 = empty slot */
    uint32_t n;    /* positions */
    uint32_t cap;  /* allocated */
    uint32_t *pos; /* ascending positions */
} posting;

typedef struct argidx {
    posting *tab; /* open addressing by sym */
    size_t cap;   /* power of two */
    size_t used;  /* distinct symbols */
} argidx;

static posting *argidx_slot(argidx *x, uint32_t sym)
{
    size_t m = x->cap - 1, i = (size_t)mix(sym) & m;
    while (x->tab[i].sym && x->tab[i].sym != sym)
        i = (i + 1) & m;
    return &x->tab[i];
}

static hk_err argidx_add(argidx *x, uint32_t sym, uint32_t pos, hk_error *err)
{
    if ((x->used + 1) * 2 > x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 256;
        posting *nt = hk_calloc(nc, sizeof *nt);
        if (!nt) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        posting *old = x->tab;
        size_t oc = x->cap;
        x->tab = nt;
        x->cap = nc;
        for (size_t k = 0; k < oc; k++)
            if (old[k].sym) *argidx_slot(x, old[k].sym) = old[k];
        hk_free(old);
    }
    posting *p = argidx_slot(x, sym);
    if (!p->sym) {
        p->sym = sym;
        x->used++;
    }
    if (p->n == p->cap) {
        uint32_t nc = p->cap ? p->cap * 2 : 2;
        uint32_t *np = hk_realloc(p->pos, nc * sizeof *np);
        if (!np) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        p->pos = np;
        p->cap = nc;
    }
    p->pos[p->n++] = pos;
    return HK_OK;
}

static void argidx_free(argidx *x)
{
    for (size_t k = 0; k < x->cap; k++)
        hk_free(x->tab[k].pos);
    hk_free(x->tab);
    memset(x, 0, sizeof *x);
}

/* ==== Relations ==== */

typedef struct prel {
    uint32_t pred;             /* predicate symbol id */
    hks_fact_syms *facts;      /* asserted, then derived facts */
    hk_fact_id *ids;           /* fact ids / HKR_DERIVED_TAG | index */
    size_t n, cap;             /* used, allocated */
    size_t n_asserted;         /* facts[0..n_asserted) are asserted */
    fset asserted;             /* set over the asserted prefix */
    size_t delta_lo;           /* first fact of the previous round */
    size_t round_start;        /* n when the current round began */
    bool derived_here;         /* head of a rule of this stratum */
    bool is_head;              /* head of some rule */
    argidx idx[HK_MAX_ARGS];   /* per argument position */
    bool has_idx[HK_MAX_ARGS]; /* idx built */
    hk_err probe_rc;           /* failure of a lazy index build */
} prel;

static const hks_fact_syms *prel_at(const void *base, size_t i)
{
    return &((const prel *)base)->facts[i];
}

static hk_err prel_append(prel *r, const hks_fact_syms *fs, hk_fact_id id,
                          hk_error *err)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        hks_fact_syms *nf = hk_realloc(r->facts, nc * sizeof *nf);
        if (!nf) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        r->facts = nf;
        hk_fact_id *ni = hk_realloc(r->ids, nc * sizeof *ni);
        if (!ni) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        r->ids = ni;
        r->cap = nc;
    }
    if (r->n >= UINT32_MAX / 2)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "more than %u facts of one "
                            "predicate",
                            UINT32_MAX / 2);
    hks_fact_syms *to = &r->facts[r->n];
    to->pred = fs->pred;
    to->n_args = fs->n_args;
    memcpy(to->args, fs->args, fs->n_args * sizeof fs->args[0]);
    r->ids[r->n] = id;
    for (uint32_t k = 0; k < fs->n_args; k++) {
        if (!r->has_idx[k]) continue;
        hk_err rc = argidx_add(&r->idx[k], fs->args[k], (uint32_t)r->n, err);
        if (rc != HK_OK) return rc;
    }
    r->n++;
    return HK_OK;
}

/* hkq_rel_probe_fn over the whole relation (full views start at 0). */
static bool prel_probe(void *ud, uint32_t pos, uint32_t sym,
                       const uint32_t **list, size_t *n)
{
    prel *r = ud;
    if (pos >= HK_MAX_ARGS || r->probe_rc != HK_OK) return false;
    if (!r->has_idx[pos]) {
        hk_error e;
        for (size_t i = 0; i < r->n; i++) {
            if (pos >= r->facts[i].n_args) continue;
            if (argidx_add(&r->idx[pos], r->facts[i].args[pos], (uint32_t)i,
                           &e) != HK_OK) {
                r->probe_rc = HK_ERR_NOMEM;
                argidx_free(&r->idx[pos]);
                return false; /* the run scans instead */
            }
        }
        r->has_idx[pos] = true;
    }
    *list = NULL;
    *n = 0;
    if (!r->idx[pos].cap) return true;
    posting *p = argidx_slot(&r->idx[pos], sym);
    if (p->sym == sym) {
        *list = p->pos;
        *n = p->n;
    }
    return true;
}

/* ==== Evaluation state ==== */

typedef struct dfact {
    uint32_t rel;   /* relation of its predicate */
    uint32_t at;    /* position there (set when its round ends) */
    uint32_t rule;  /* index of the rule that derived it */
    uint32_t round; /* global round (premises are older) */
    size_t sup;     /* offset of its premises in ev.sup */
} dfact;

typedef struct ev {
    hk_txn *t;
    hkr_rule **rules;
    size_t n_rules;
    uint32_t *head_rel;                  /* per rule: relation of head */
    uint32_t (*head_const)[HK_MAX_ARGS]; /* per rule: constant symbols */
    uint32_t (*body_rel)[HKQ_MAX_ATOMS]; /* per rule, atom: relation+1 */
    prel *rels;                          /* one per mentioned predicate */
    size_t n_rels;
    dfact *facts; /* every derived fact */
    size_t n_facts, cap_facts;
    hks_fact_syms *pend; /* contents of this round's new
                            facts (index - pend_base) */
    size_t n_pend, cap_pend, pend_base;
    fset set;      /* derived facts */
    uint64_t *sup; /* premises */
    size_t n_sup, cap_sup;
    uint32_t round;  /* global round */
    size_t cur_rule; /* rule of the running join */
} ev;

static const hks_fact_syms *dfact_at(const void *base, size_t i)
{
    const ev *e = base;
    if (i >= e->pend_base) return &e->pend[i - e->pend_base];
    const dfact *d = &e->facts[i];
    return &e->rels[d->rel].facts[d->at];
}

static prel *rel_of(ev *e, uint32_t pred)
{
    for (size_t i = 0; i < e->n_rels; i++)
        if (e->rels[i].pred == pred) return &e->rels[i];
    return NULL;
}

/* True when a derived fact matches negated atom av under values. */
static bool derived_matches(ev *e, const hkq_atom_view *av, prel *r,
                            const uint32_t *consts, const uint32_t *values)
{
    hks_fact_syms want;
    memset(&want, 0, sizeof want);
    want.pred = r->pred;
    want.n_args = av->n_args;
    bool any = false;
    for (uint32_t k = 1; k <= av->n_args; k++) {
        if (av->kind[k] == HK_TERM_ANY)
            any = true;
        else if (av->kind[k] == HK_TERM_VAR)
            want.args[k - 1] = values[av->var[k]];
        else
            want.args[k - 1] = consts[k];
    }
    if (!any) return fset_find(&e->set, &want, dfact_at, e) != SIZE_MAX;
    for (size_t i = r->n_asserted; i < r->n; i++) {
        const hks_fact_syms *fs = &r->facts[i];
        if (fs->n_args != want.n_args) continue;
        bool ok = true;
        for (uint32_t k = 1; k <= av->n_args && ok; k++)
            if (av->kind[k] != HK_TERM_ANY &&
                fs->args[k - 1] != want.args[k - 1])
                ok = false;
        if (ok) return true;
    }
    return false;
}

/* Takes one instance of rule ri: values by the body's variables, facts
 * by its positive patterns. A new head fact is kept with its support. */
static hk_err accept(ev *e, size_t ri, const uint32_t *values,
                     const hk_fact_id *facts, hk_error *err)
{
    const hkr_rule *r = e->rules[ri];
    const hkq_query *q = r->body;
    /* negations against derived facts (the join checked the store) */
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        uint32_t rel = e->body_rel[ri][a];
        if (!rel) continue;
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (!av.neg) continue;
        prel *pr = &e->rels[rel - 1];
        if (pr->n == pr->n_asserted) continue;
        uint32_t consts[HK_MAX_ARGS + 1];
        bool missing = false;
        for (uint32_t k = 1; k <= av.n_args; k++) {
            consts[k] = 0;
            if (av.kind[k] != HK_TERM_CONST) continue;
            hk_err rc = hks_sym_id(e->t, av.text[k], strlen(av.text[k]),
                                   &consts[k], err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                missing = true;
            } else if (rc != HK_OK) {
                return rc;
            }
        }
        if (!missing && derived_matches(e, &av, pr, consts, values))
            return HK_OK;
    }
    prel *hr = &e->rels[e->head_rel[ri]];
    hks_fact_syms fs;
    fs.pred = hr->pred;
    fs.n_args = r->head_n;
    for (uint32_t k = 0; k < r->head_n; k++)
        fs.args[k] =
            r->head_is_var[k] ? values[r->head_var[k]] : e->head_const[ri][k];
    if (fset_find(&e->set, &fs, dfact_at, e) != SIZE_MAX) return HK_OK;
    if (hr->n_asserted &&
        fset_find(&hr->asserted, &fs, prel_at, hr) != SIZE_MAX)
        return HK_OK;
    uint32_t np = hkq_n_positive(q);
    hk_err rc = grow((void **)&e->facts, &e->cap_facts, e->n_facts + 1,
                     sizeof *e->facts, err);
    if (rc == HK_OK)
        rc = grow((void **)&e->sup, &e->cap_sup, e->n_sup + np, sizeof *e->sup,
                  err);
    if (rc == HK_OK)
        rc = grow((void **)&e->pend, &e->cap_pend, e->n_pend + 1,
                  sizeof *e->pend, err);
    if (rc != HK_OK) return rc;
    dfact *d = &e->facts[e->n_facts];
    d->rel = e->head_rel[ri];
    d->at = UINT32_MAX;
    d->rule = (uint32_t)ri;
    d->round = e->round;
    d->sup = e->n_sup;
    memcpy(e->sup + e->n_sup, facts, np * sizeof *e->sup);
    e->n_sup += np;
    e->pend[e->n_pend++] = fs;
    rc = fset_add(&e->set, e->n_facts, dfact_at, e, err);
    if (rc != HK_OK) return rc;
    e->n_facts++;
    return HK_OK;
}

static hk_err on_row(void *ud, const hkq_row *row, hkq_flow *flow,
                     hk_error *err)
{
    (void)flow;
    ev *e = ud;
    return accept(e, e->cur_rule, row->values, row->facts, err);
}

/* Appends the facts found this round to their relations; the previous
 * contents become "full", the new ones the next delta. */
static hk_err end_round(ev *e, hk_error *err)
{
    for (size_t i = 0; i < e->n_rels; i++)
        e->rels[i].delta_lo = e->rels[i].n;
    for (size_t k = 0; k < e->n_pend; k++) {
        size_t idx = e->pend_base + k;
        dfact *d = &e->facts[idx];
        prel *r = &e->rels[d->rel];
        d->at = (uint32_t)r->n;
        hk_err rc = prel_append(r, &e->pend[k], HKR_DERIVED_TAG | idx, err);
        if (rc != HK_OK) return rc;
    }
    e->pend_base = e->n_facts;
    e->n_pend = 0;
    e->round++;
    return HK_OK;
}

/* Runs rule ri with positive pattern delta_atom (UINT32_MAX: none)
 * reading only the previous round's facts, or delta when not NULL. */
static hk_err run_rule(ev *e, size_t ri, uint32_t delta_atom,
                       const hkq_rel *delta, hk_error *err)
{
    const hkq_query *q = e->rules[ri]->body;
    hkq_src srcs[HKQ_MAX_ATOMS];
    hkq_rel rels[HKQ_MAX_ATOMS];
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        uint32_t p = av.pos_index;
        prel *r = &e->rels[e->body_rel[ri][a] - 1];
        srcs[p].store = false;
        srcs[p].rel = &rels[p];
        memset(&rels[p], 0, sizeof rels[p]);
        if (p == delta_atom && delta) {
            rels[p] = *delta;
        } else if (p == delta_atom) {
            rels[p].facts = r->facts + r->delta_lo;
            rels[p].ids = r->ids + r->delta_lo;
            rels[p].n = r->round_start - r->delta_lo;
        } else {
            rels[p].facts = r->facts;
            rels[p].ids = r->ids;
            rels[p].n = r->round_start;
            rels[p].probe = prel_probe;
            rels[p].probe_ud = r;
        }
    }
    hkq_run_req req;
    memset(&req, 0, sizeof req);
    req.srcs = srcs;
    req.row = on_row;
    req.row_ud = e;
    hkq_run_res res;
    memset(&res, 0, sizeof res);
    e->cur_rule = ri;
    hk_err rc = hkq_run(e->t, q, &req, &res, err);
    hk_buf_free(&res.cursor);
    return rc;
}

static hk_err eval_rounds(ev *e, uint32_t s, hkr_reason_res *res,
                          hk_error *err);

/* Stratum s from scratch: every rule over the full relations, then the
 * semi-naive rounds. */
static hk_err eval_stratum(ev *e, uint32_t s, hkr_reason_res *res,
                           hk_error *err)
{
    for (size_t i = 0; i < e->n_rels; i++) {
        prel *r = &e->rels[i];
        r->derived_here = false;
        r->delta_lo = r->round_start = r->n;
    }
    for (size_t ri = 0; ri < e->n_rules; ri++)
        if (e->rules[ri]->stratum == s)
            e->rels[e->head_rel[ri]].derived_here = true;
    hk_err rc = HK_OK;
    for (size_t ri = 0; ri < e->n_rules && rc == HK_OK; ri++)
        if (e->rules[ri]->stratum == s)
            rc = run_rule(e, ri, UINT32_MAX, NULL, err);
    if (rc == HK_OK) rc = end_round(e, err);
    res->rounds++;
    return rc == HK_OK ? eval_rounds(e, s, res, err) : rc;
}

/* The semi-naive rounds of stratum s after its first round, until one
 * derives nothing new. */
static hk_err eval_rounds(ev *e, uint32_t s, hkr_reason_res *res, hk_error *err)
{
    hk_err rc = HK_OK;
    while (rc == HK_OK) {
        bool any = false;
        for (size_t i = 0; i < e->n_rels; i++) {
            prel *r = &e->rels[i];
            r->round_start = r->n;
            if (r->derived_here && r->n > r->delta_lo) any = true;
        }
        if (!any) break;
        for (size_t ri = 0; ri < e->n_rules && rc == HK_OK; ri++) {
            if (e->rules[ri]->stratum != s) continue;
            const hkq_query *q = e->rules[ri]->body;
            for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK; a++) {
                hkq_atom_view av;
                hkq_atom_view_get(q, a, &av);
                if (av.neg) continue;
                prel *r = &e->rels[e->body_rel[ri][a] - 1];
                if (!r->derived_here || r->n == r->delta_lo) continue;
                rc = run_rule(e, ri, av.pos_index, NULL, err);
            }
        }
        if (rc == HK_OK) rc = end_round(e, err);
        res->rounds++;
        for (size_t i = 0; rc == HK_OK && i < e->n_rels; i++)
            if (e->rels[i].probe_rc != HK_OK)
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return rc;
}

static void ev_free(ev *e)
{
    hk_free(e->head_rel);
    hk_free(e->head_const);
    hk_free(e->body_rel);
    for (size_t i = 0; i < e->n_rels; i++) {
        prel *r = &e->rels[i];
        hk_free(r->facts);
        hk_free(r->ids);
        hk_free(r->asserted.slot);
        hk_free(r->asserted.tag);
        for (uint32_t k = 0; k < HK_MAX_ARGS; k++)
            argidx_free(&r->idx[k]);
    }
    hk_free(e->rels);
    hk_free(e->facts);
    hk_free(e->pend);
    hk_free(e->set.slot);
    hk_free(e->set.tag);
    hk_free(e->sup);
}

/* The relation of predicate name (created, with its asserted facts,
 * when new); its index + 1 into *out, 0 when the name is no symbol. */
static hk_err rel_for(ev *e, const char *name, bool create_sym, uint32_t *out,
                      hk_error *err)
{
    uint32_t pred = 0;
    hk_err rc = create_sym ? hks_rule_sym(e->t, name, strlen(name), &pred, err)
                           : hks_sym_id(e->t, name, strlen(name), &pred, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *out = 0;
        return HK_OK;
    }
    if (rc != HK_OK) return rc;
    prel *r = rel_of(e, pred);
    if (r) {
        *out = (uint32_t)(r - e->rels) + 1;
        return HK_OK;
    }
    r = &e->rels[e->n_rels++];
    memset(r, 0, sizeof *r);
    r->pred = pred;
    *out = (uint32_t)(r - e->rels) + 1;
    uint64_t cnt = 0;
    rc = hks_pred_count(e->t, pred, &cnt, err);
    if (rc != HK_OK || cnt == 0) return rc;
    /* its asserted facts */
    hk_scan sc = HK_SCAN_INIT;
    sc.predicate = name;
    hk_query *it = NULL;
    rc = hk_query_open_scan(e->t, &sc, NULL, &it, err);
    if (rc != HK_OK) return rc;
    for (;;) {
        hk_fact_id id;
        bool has = false;
        rc = hk_query_next_id(it, &id, &has, err);
        if (rc != HK_OK || !has) break;
        hks_fact_syms fs;
        rc = hks_fact_syms_get(e->t, id, &fs, err);
        if (rc != HK_OK) break;
        rc = prel_append(r, &fs, id, err);
        if (rc != HK_OK) break;
    }
    hk_query_close(it);
    r->n_asserted = r->n;
    return rc;
}

/* Relations of every mentioned predicate; head symbols and constants are
 * created when new, so that every derived fact is made of dictionary
 * symbols. */
static hk_err ev_prepare(ev *e, hk_error *err)
{
    size_t n = e->n_rules ? e->n_rules : 1;
    e->head_rel = hk_calloc(n, sizeof *e->head_rel);
    e->head_const = hk_calloc(n, sizeof *e->head_const);
    e->body_rel = hk_calloc(n, sizeof *e->body_rel);
    e->rels = hk_calloc(n * (1 + HKQ_MAX_ATOMS), sizeof *e->rels);
    if (!e->head_rel || !e->head_const || !e->body_rel || !e->rels)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err rc = HK_OK;
    for (size_t ri = 0; ri < e->n_rules && rc == HK_OK; ri++) {
        const hkr_rule *r = e->rules[ri];
        uint32_t hr = 0;
        rc = rel_for(e, r->head_pred, true, &hr, err);
        e->head_rel[ri] = hr - 1;
        for (uint32_t k = 0; k < r->head_n && rc == HK_OK; k++)
            if (!r->head_is_var[k])
                rc = hks_rule_sym(e->t, r->head_const[k],
                                  strlen(r->head_const[k]),
                                  &e->head_const[ri][k], err);
    }
    for (size_t ri = 0; ri < e->n_rules && rc == HK_OK; ri++) {
        const hkq_query *q = e->rules[ri]->body;
        for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK; a++) {
            hkq_atom_view av;
            hkq_atom_view_get(q, a, &av);
            /* a positive pattern always reads a relation (maybe empty) */
            rc = rel_for(e, av.text[0], !av.neg, &e->body_rel[ri][a], err);
        }
    }
    for (size_t i = 0; i < e->n_rels && rc == HK_OK; i++) {
        prel *r = &e->rels[i];
        for (size_t k = 0; k < r->n_asserted && rc == HK_OK; k++)
            rc = fset_add(&r->asserted, k, prel_at, r, err);
    }
    return rc;
}

/* ==== Storing ==== */

/* Order of derived facts by key. */
typedef struct keyed {
    uint8_t key[HKR_KEY_MAX];
    uint8_t len;
    uint32_t fact;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, m);
    return c ? c : (int)x->len - (int)y->len;
}

static void support_value(const ev *e, size_t i, hk_buf *v)
{
    const dfact *f = &e->facts[i];
    const hkr_rule *r = e->rules[f->rule];
    uint8_t tmp[HKR_KEY_MAX + 1];
    hk_buf_reset(v);
    hkr_put_u32be(tmp, f->round);
    hk_buf_append(v, tmp, 4);
    uint8_t nl = (uint8_t)strlen(r->name);
    hk_buf_append(v, &nl, 1);
    hk_buf_append(v, r->name, nl);
    uint8_t np = (uint8_t)hkq_n_positive(r->body);
    hk_buf_append(v, &np, 1);
    for (uint32_t p = 0; p < np; p++) {
        uint64_t ref = e->sup[f->sup + p];
        if (ref & HKR_DERIVED_TAG) {
            size_t pl = hkr_key_of(
                dfact_at(e, (size_t)(ref & ~HKR_DERIVED_TAG)), tmp + 1);
            tmp[0] = (uint8_t)pl;
            uint8_t tag = 1;
            hk_buf_append(v, &tag, 1);
            hk_buf_append(v, tmp, pl + 1);
        } else {
            uint8_t b[9];
            b[0] = 0;
            hkr_put_u64be(b + 1, ref);
            hk_buf_append(v, b, 9);
        }
    }
}

/* Merges the new derived facts into rules.derived (both in key order). */
static hk_err store_facts(ev *e, const hkr_dbs *d, hk_error *err)
{
    keyed *order = hk_malloc((e->n_facts ? e->n_facts : 1) * sizeof *order);
    if (!order) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < e->n_facts; i++) {
        order[i].len = (uint8_t)hkr_key_of(dfact_at(e, i), order[i].key);
        order[i].fact = (uint32_t)i;
    }
    qsort(order, e->n_facts, sizeof *order, keyed_cmp);
    hk_buf v = HK_BUF_INIT;
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(e->t, d->derived, &c, err);
    /* old keys to delete, collected first (no writes under the cursor) */
    keyed *gone = NULL;
    size_t n_gone = 0, cap_gone = 0;
    size_t j = 0;
    bool found = false;
    hks_val k, old;
    if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
    /* pass 1: compare, noting deletions and which new facts to write */
    uint8_t *write = hk_calloc(e->n_facts ? e->n_facts : 1, 1);
    if (!write && rc == HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    while (rc == HK_OK && (found || j < e->n_facts)) {
        int cmp;
        if (!found)
            cmp = 1;
        else if (j >= e->n_facts)
            cmp = -1;
        else {
            keyed ok;
            ok.len = (uint8_t)(k.len > HKR_KEY_MAX ? HKR_KEY_MAX : k.len);
            memcpy(ok.key, k.data, ok.len);
            cmp = keyed_cmp(&ok, &order[j]);
        }
        if (cmp < 0) {
            rc = grow((void **)&gone, &cap_gone, n_gone + 1, sizeof *gone, err);
            if (rc != HK_OK) break;
            gone[n_gone].len =
                (uint8_t)(k.len > HKR_KEY_MAX ? HKR_KEY_MAX : k.len);
            memcpy(gone[n_gone].key, k.data, gone[n_gone].len);
            n_gone++;
            rc = hks_cursor_next(c, &k, &old, &found, err);
        } else if (cmp > 0) {
            write[j++] = 1;
        } else {
            support_value(e, order[j].fact, &v);
            if (!v.data) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            if (old.len != v.len || memcmp(old.data, v.data, v.len) != 0)
                write[j] = 1;
            j++;
            rc = hks_cursor_next(c, &k, &old, &found, err);
        }
    }
    if (c) hks_cursor_close(c);
    for (size_t i = 0; rc == HK_OK && i < n_gone; i++) {
        hks_val kv = {gone[i].key, gone[i].len};
        rc = hks_del(e->t, d->derived, kv, NULL, err);
    }
    for (size_t i = 0; rc == HK_OK && i < e->n_facts; i++) {
        if (!write[i]) continue;
        support_value(e, order[i].fact, &v);
        if (!v.data) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        hks_val kv = {order[i].key, order[i].len}, vv = {v.data, v.len};
        rc = hks_put(e->t, d->derived, kv, vv, 0, err);
    }
    hk_free(write);
    hk_free(gone);
    hk_free(order);
    hk_buf_free(&v);
    return rc;
}

/* The id-level evaluator (rules_flat.c) runs the programs it can; a
 * benchmark turns it off with hkr_flat_set(false) to measure the generic
 * one against it (rules_bench --reason generic). No environment
 * variable picks the path: the library behaves the same in every
 * process that has not asked otherwise. */
static _Atomic bool flat_state = true;

bool hkr_flat_on(void)
{
    return flat_state;
}

void hkr_flat_set(bool on)
{
    flat_state = on;
}

static hk_err put_state(hk_txn *t, const hkr_dbs *d, uint64_t n, hk_error *err)
{
    uint8_t gv[8];
    hkr_put_u64be(gv, n);
    hks_val k = {"state", 5}, v = {gv, 8};
    return hks_put(t, d->meta, k, v, 0, err);
}

hk_err hkr_materialize(hk_txn *t, const hkr_dbs *d, hkr_progress_fn progress,
                       void *progress_ud, hkr_reason_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    ev e;
    memset(&e, 0, sizeof e);
    e.t = t;
    int64_t t0 = hk_now_us(), c0 = hkr_cpu_us();
    hk_err rc = hkr_load_all(t, d, &e.rules, &e.n_rules, err);
    if (rc != HK_OK) return rc;
    if (e.n_rules && hkr_flat_on() && hkr_flat_eligible(e.rules, e.n_rules)) {
        res->eval_us = hk_now_us() - t0;
        res->eval_cpu_us = hkr_cpu_us() - c0;
        rc = hkr_flat_materialize(t, d, e.rules, e.n_rules, progress,
                                  progress_ud, res, err);
        int64_t t1 = hk_now_us(), c1 = hkr_cpu_us();
        if (rc == HK_OK) rc = put_state(t, d, res->derived, err);
        res->store_us += hk_now_us() - t1;
        res->store_cpu_us += hkr_cpu_us() - c1;
        hkr_rules_free(e.rules, e.n_rules);
        return rc;
    }
    rc = ev_prepare(&e, err);
    uint32_t max_s = 0;
    for (size_t i = 0; i < e.n_rules; i++)
        if (e.rules[i]->stratum > max_s) max_s = e.rules[i]->stratum;
    res->rules = (uint32_t)e.n_rules;
    res->strata = e.n_rules ? max_s + 1 : 0;
    for (uint32_t s = 0; rc == HK_OK && e.n_rules && s <= max_s; s++) {
        rc = eval_stratum(&e, s, res, err);
        if (progress) progress(progress_ud, s + 1, max_s + 1, e.n_facts);
    }
    int64_t t1 = hk_now_us(), c1 = hkr_cpu_us();
    res->eval_us = t1 - t0;
    res->eval_cpu_us = c1 - c0;
    if (rc == HK_OK) rc = store_facts(&e, d, err);
    if (rc == HK_OK) {
        uint8_t gv[8];
        hkr_put_u64be(gv, (uint64_t)e.n_facts);
        hks_val k = {"state", 5}, v = {gv, 8};
        rc = hks_put(t, d->meta, k, v, 0, err);
    }
    res->store_us = hk_now_us() - t1;
    res->store_cpu_us = hkr_cpu_us() - c1;
    res->derived = e.n_facts;
    ev_free(&e);
    hkr_rules_free(e.rules, e.n_rules);
    return rc;
}

/* ==== Incremental maintenance ====
 *
 * hkr_materialize_change updates the stored materialization after one
 * change to the asserted facts (add, delete, content update) instead of
 * recomputing it: delete-and-rederive over the stored supports.
 *
 *  1. Load: the asserted facts of the mentioned predicates (after the
 *     change) and the stored derived facts with their supports.
 *  2. Strata that negate a predicate the change can reach (through the
 *     rules) are recomputed: a change below a negation can both remove
 *     and add facts above it. Their facts are dropped here.
 *  3. Over-delete: a derived fact whose support uses the removed fact, a
 *     dropped fact, a derived fact equal to the added (now asserted) fact,
 *     or an over-deleted fact, is removed (in round order: premises come
 *     from earlier rounds). The rest keep a proof whose every node
 *     survives, so they stay.
 *  4. Per stratum, in order: recomputed strata run from scratch; the
 *     others first rederive the removed facts of their heads (and the
 *     removed asserted fact) that one rule instance over the surviving
 *     facts still gives, by running each rule with its head bound to
 *     those goals (the query `Head, Body` with the goals as the head's
 *     relation), then run semi-naive rounds seeded with every fact new
 *     since the change (the added fact, facts added by lower strata, the
 *     rederived ones).
 *  5. Store: removed facts that did not come back are deleted, new and
 *     rederived facts written with their support; survivors are not
 *     touched. New facts get rounds above every stored round, so proofs
 *     stay finite and the checker's order holds.
 *
 * Anything unexpected in the stored state (a support naming an unknown
 * rule or premise, a damaged record), or an over-deletion of a large part
 * of the derived facts, falls back to hkr_materialize. The
 * cost is loading the relations (linear in the facts the rules read)
 * plus work proportional to the change, not the fixpoint over the whole
 * closure.
 */

/* A change that over-deletes more than this many derived facts, and more
 * than an eighth of them, is recomputed instead (measured: deleting the
 * middle edge of a 1,000-node chain over-deletes 250k of 500k facts and
 * costs 9x a recomputation when rederived). */
#define INCR_DEAD_MIN 4096u

static _Atomic uint64_t n_incremental, n_fallbacks;

void hkr_incr_counts(uint64_t *incremental, uint64_t *fallbacks)
{
    *incremental = n_incremental;
    *fallbacks = n_fallbacks;
}

/* A stored derived fact as loaded. */
typedef struct ofact {
    hks_fact_syms fs; /* content (key order of rules.derived) */
    uint32_t rule;    /* index of its rule */
    uint32_t round;   /* round of its derivation */
    size_t ref;       /* first premise in inc.refs */
    uint32_t n_ref;   /* premises */
    bool dead;        /* over-deleted */
    uint32_t to;      /* index among the survivors */
} ofact;

typedef struct inc {
    ofact *old;    /* stored derived facts in key order */
    size_t n_old;  /* their number */
    uint64_t *ref; /* premises: asserted id or HKR_DERIVED_TAG | old index */
    size_t n_ref, cap_ref;
    bool fallback; /* the stored state cannot be maintained */
} inc;

static int syms_cmp(const hks_fact_syms *a, const hks_fact_syms *b)
{
    if (a->pred != b->pred) return a->pred < b->pred ? -1 : 1;
    if (a->n_args != b->n_args) return a->n_args < b->n_args ? -1 : 1;
    for (uint32_t k = 0; k < a->n_args; k++)
        if (a->args[k] != b->args[k]) return a->args[k] < b->args[k] ? -1 : 1;
    return 0;
}

static size_t old_find(const inc *in, const hks_fact_syms *fs)
{
    size_t lo = 0, hi = in->n_old;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = syms_cmp(&in->old[mid].fs, fs);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

typedef struct rname {
    const char *name; /* rule name */
    uint32_t rule;    /* its index */
} rname;

static int rname_cmp(const void *a, const void *b)
{
    return strcmp(((const rname *)a)->name, ((const rname *)b)->name);
}

/* Reads rules.derived into in: keys first (key order), then supports
 * with derived premises resolved to their index. Sets in->fallback on
 * anything that does not fit the loaded rules. */
static hk_err load_old(ev *e, const hkr_dbs *d, const hks_change *c_in, inc *in,
                       hk_error *err)
{
    size_t cap = 0;
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(e->t, d->derived, &c, err);
    while (rc == HK_OK) {
        hks_val k, v;
        bool found = false;
        rc = hks_cursor_next(c, &k, &v, &found, err);
        if (rc != HK_OK || !found) break;
        if (in->n_old >= UINT32_MAX / 4) {
            in->fallback = true; /* as many as the fixpoint allows */
            break;
        }
        rc = grow((void **)&in->old, &cap, in->n_old + 1, sizeof *in->old, err);
        if (rc != HK_OK) break;
        ofact *o = &in->old[in->n_old];
        memset(o, 0, sizeof *o);
        if (!hkr_key_parse(k.data, k.len, &o->fs)) {
            in->fallback = true;
            break;
        }
        in->n_old++;
    }
    if (c) hks_cursor_close(c);
    c = NULL;
    if (rc != HK_OK || in->fallback) return rc;
    rname *names = hk_malloc((e->n_rules ? e->n_rules : 1) * sizeof *names);
    if (!names) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < e->n_rules; i++)
        names[i] = (rname){e->rules[i]->name, (uint32_t)i};
    qsort(names, e->n_rules, sizeof *names, rname_cmp);
    hkr_support *sp = hk_malloc(sizeof *sp);
    if (!sp) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) rc = hks_cursor_open(e->t, d->derived, &c, err);
    for (size_t i = 0; rc == HK_OK && i < in->n_old; i++) {
        hks_val k, v;
        bool found = false;
        rc = hks_cursor_next(c, &k, &v, &found, err);
        if (rc != HK_OK) break;
        ofact *o = &in->old[i];
        if (!found || !hkr_support_parse(v, sp)) {
            in->fallback = true;
            break;
        }
        rname key = {sp->rule, 0};
        const rname *hit =
            bsearch(&key, names, e->n_rules, sizeof *names, rname_cmp);
        if (hit && sp->compact) { /* version 2: premises from the fact */
            bool fit = false;
            rc = hkr_support_resolve(e->t, e->rules[hit->rule], &o->fs, sp,
                                     &fit, err);
            if (rc != HK_OK) break;
            if (!fit) hit = NULL;
        }
        if (!hit || e->rels[e->head_rel[hit->rule]].pred != o->fs.pred ||
            sp->n != hkq_n_positive(e->rules[hit->rule]->body)) {
            in->fallback = true;
            break;
        }
        o->rule = hit->rule;
        o->round = sp->round;
        o->ref = in->n_ref;
        o->n_ref = sp->n;
        rc = grow((void **)&in->ref, &in->cap_ref, in->n_ref + sp->n,
                  sizeof *in->ref, err);
        for (uint32_t p = 0; rc == HK_OK && p < sp->n; p++) {
            uint64_t r = sp->prem[p].id;
            if (sp->prem[p].derived) {
                size_t at = old_find(in, &sp->prem[p].fs);
                /* a version-2 premise resolved after the change: the
                 * removed asserted fact is no longer in the store */
                if (at == SIZE_MAX && sp->compact && c_in->before &&
                    syms_eq(&sp->prem[p].fs, c_in->before)) {
                    in->ref[in->n_ref++] = c_in->id;
                    continue;
                }
                if (at == SIZE_MAX) {
                    in->fallback = true;
                    break;
                }
                r = HKR_DERIVED_TAG | at;
            }
            in->ref[in->n_ref++] = r;
        }
        if (in->fallback) break;
    }
    if (c) hks_cursor_close(c);
    hk_free(sp);
    hk_free(names);
    return rc;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Marks the over-deleted facts (step 3). dropped[s]: stratum s is
 * recomputed; removed: the asserted fact id whose content is gone (0:
 * none); added: the content now asserted (NULL: none). */
static hk_err over_delete(ev *e, inc *in, const bool *dropped,
                          hk_fact_id removed, const hks_fact_syms *added,
                          hk_error *err)
{
    /* round << 32 | index: premises come from earlier rounds, so facts
     * of one round never support each other */
    uint64_t *ord = hk_malloc((in->n_old ? in->n_old : 1) * sizeof *ord);
    if (!ord) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < in->n_old; i++)
        ord[i] = (uint64_t)in->old[i].round << 32 | (uint32_t)i;
    qsort(ord, in->n_old, sizeof *ord, u64_cmp);
    for (size_t j = 0; j < in->n_old; j++) {
        ofact *o = &in->old[(uint32_t)ord[j]];
        bool dead = dropped[e->rules[o->rule]->stratum] ||
                    (added && syms_cmp(&o->fs, added) == 0);
        for (uint32_t p = 0; p < o->n_ref && !dead; p++) {
            uint64_t r = in->ref[o->ref + p];
            if (r & HKR_DERIVED_TAG)
                dead = in->old[r & ~HKR_DERIVED_TAG].dead;
            else
                dead = removed && r == removed;
        }
        o->dead = dead;
    }
    hk_free(ord);
    return HK_OK;
}

/* Puts the survivors into the evaluation state as its first facts. */
static hk_err load_survivors(ev *e, inc *in, hk_error *err)
{
    uint32_t max_round = 0;
    size_t n = 0, n_sup = 0;
    for (size_t i = 0; i < in->n_old; i++) {
        ofact *o = &in->old[i];
        if (o->round > max_round) max_round = o->round;
        if (o->dead) continue;
        o->to = (uint32_t)n++;
        n_sup += o->n_ref;
    }
    hk_err rc = grow((void **)&e->facts, &e->cap_facts, n ? n : 1,
                     sizeof *e->facts, err);
    if (rc == HK_OK)
        rc = grow((void **)&e->sup, &e->cap_sup, n_sup ? n_sup : 1,
                  sizeof *e->sup, err);
    e->pend_base = SIZE_MAX;
    for (size_t i = 0; rc == HK_OK && i < in->n_old; i++) {
        const ofact *o = &in->old[i];
        if (o->dead) continue;
        dfact *df = &e->facts[e->n_facts];
        prel *r = &e->rels[e->head_rel[o->rule]];
        df->rel = e->head_rel[o->rule];
        df->at = (uint32_t)r->n;
        df->rule = o->rule;
        df->round = o->round;
        df->sup = e->n_sup;
        for (uint32_t p = 0; p < o->n_ref; p++) {
            uint64_t ref = in->ref[o->ref + p];
            if (ref & HKR_DERIVED_TAG)
                ref = HKR_DERIVED_TAG | in->old[ref & ~HKR_DERIVED_TAG].to;
            e->sup[e->n_sup++] = ref;
        }
        rc = prel_append(r, &o->fs, HKR_DERIVED_TAG | e->n_facts, err);
        if (rc == HK_OK) rc = fset_add(&e->set, e->n_facts, dfact_at, e, err);
        e->n_facts++;
    }
    e->pend_base = e->n_facts;
    e->round = max_round + 1;
    return rc;
}

/* Rederiving goals: the rows of `Head, Body` with the goals as the
 * head's relation. */
typedef struct goal_run {
    ev *e;
    size_t ri;                  /* the rule */
    uint32_t map[HKQ_MAX_VARS]; /* body variable -> variable of the run */
} goal_run;

static hk_err goal_row(void *ud, const hkq_row *row, hkq_flow *flow,
                       hk_error *err)
{
    (void)flow;
    goal_run *g = ud;
    const hkq_query *q = g->e->rules[g->ri]->body;
    uint32_t vals[HKQ_MAX_VARS];
    for (uint32_t v = 0; v < hkq_n_vars(q); v++)
        vals[v] = row->values[g->map[v]];
    return accept(g->e, g->ri, vals, row->facts + 1, err);
}

/* Runs rule ri once for the goals of its head that are not derived yet;
 * *fallback when the rule cannot be run that way. */
static hk_err rederive(ev *e, size_t ri, const hks_fact_syms *goals,
                       size_t n_goals, bool *fallback, hk_error *err)
{
    const hkr_rule *r = e->rules[ri];
    prel *hr = &e->rels[e->head_rel[ri]];
    hks_fact_syms *gf = NULL;
    size_t n = 0, cap = 0;
    hk_err rc = HK_OK;
    for (size_t i = 0; i < n_goals && rc == HK_OK; i++) {
        const hks_fact_syms *g = &goals[i];
        if (g->pred != hr->pred || g->n_args != r->head_n) continue;
        bool fits = true;
        for (uint32_t k = 0; k < r->head_n && fits; k++)
            fits = r->head_is_var[k] || g->args[k] == e->head_const[ri][k];
        if (!fits || fset_find(&e->set, g, dfact_at, e) != SIZE_MAX) continue;
        rc = grow((void **)&gf, &cap, n + 1, sizeof *gf, err);
        if (rc == HK_OK) gf[n++] = *g;
    }
    if (rc != HK_OK || n == 0) {
        hk_free(gf);
        return rc;
    }
    const hkq_query *body = r->body;
    if (hkq_n_atoms(body) >= HKQ_MAX_ATOMS) {
        *fallback = true;
        hk_free(gf);
        return HK_OK;
    }
    size_t len = strlen(r->text), neck = hkr_find_neck(r->text, len);
    hk_buf text = HK_BUF_INIT;
    hkq_query *q = NULL;
    if (neck >= len || hk_buf_append(&text, r->text, neck) != HK_OK ||
        hk_buf_append(&text, ", ", 2) != HK_OK ||
        hk_buf_append(&text, r->text + neck + 2, len - neck - 2) != HK_OK) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    hk_error perr;
    if (hkq_parse(text.data, text.len, &q, &perr) != HK_OK ||
        hkq_n_positive(q) != hkq_n_positive(body) + 1) {
        *fallback = true;
        goto done;
    }
    goal_run g;
    g.e = e;
    g.ri = ri;
    for (uint32_t v = 0; v < hkq_n_vars(body); v++) {
        g.map[v] = UINT32_MAX;
        for (uint32_t w = 0; w < hkq_n_vars(q); w++)
            if (strcmp(hkq_var_name(body, v), hkq_var_name(q, w)) == 0)
                g.map[v] = w;
        if (g.map[v] == UINT32_MAX) {
            *fallback = true;
            goto done;
        }
    }
    hkq_src srcs[HKQ_MAX_ATOMS];
    hkq_rel rels[HKQ_MAX_ATOMS];
    memset(rels, 0, sizeof rels);
    srcs[0].store = false;
    srcs[0].rel = &rels[0];
    rels[0].facts = gf;
    rels[0].n = n;
    for (uint32_t a = 0; a < hkq_n_atoms(body); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(body, a, &av);
        if (av.neg) continue;
        uint32_t p = av.pos_index + 1;
        prel *br = &e->rels[e->body_rel[ri][a] - 1];
        srcs[p].store = false;
        srcs[p].rel = &rels[p];
        rels[p].facts = br->facts;
        rels[p].ids = br->ids;
        rels[p].n = br->n;
        rels[p].probe = prel_probe;
        rels[p].probe_ud = br;
    }
    hkq_run_req req;
    memset(&req, 0, sizeof req);
    req.srcs = srcs;
    req.row = goal_row;
    req.row_ud = &g;
    hkq_run_res res;
    memset(&res, 0, sizeof res);
    rc = hkq_run(e->t, q, &req, &res, err);
    hk_buf_free(&res.cursor);
done:
    hkq_free(q);
    hk_buf_free(&text);
    hk_free(gf);
    return rc;
}

/* The first round of a maintained stratum: every positive pattern reads,
 * in turn, the facts new since the change (and the added asserted fact)
 * while the others read everything. */
static hk_err seed_round(ev *e, uint32_t s, const size_t *base,
                         const hks_fact_syms *added, hk_fact_id added_id,
                         hk_error *err)
{
    hk_err rc = HK_OK;
    hks_fact_syms *sf = NULL;
    hk_fact_id *sid = NULL;
    size_t cap_f = 0, cap_i = 0;
    for (size_t i = 0; i < e->n_rels; i++)
        e->rels[i].round_start = e->rels[i].n;
    for (size_t ri = 0; ri < e->n_rules && rc == HK_OK; ri++) {
        if (e->rules[ri]->stratum != s) continue;
        const hkq_query *q = e->rules[ri]->body;
        for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK; a++) {
            hkq_atom_view av;
            hkq_atom_view_get(q, a, &av);
            if (av.neg) continue;
            size_t ix = e->body_rel[ri][a] - 1;
            prel *r = &e->rels[ix];
            size_t n_new = r->round_start - base[ix];
            bool with_added = added && added->pred == r->pred;
            size_t n = n_new + (with_added ? 1 : 0);
            if (n == 0) continue;
            rc = grow((void **)&sf, &cap_f, n, sizeof *sf, err);
            if (rc == HK_OK)
                rc = grow((void **)&sid, &cap_i, n, sizeof *sid, err);
            if (rc != HK_OK) break;
            memcpy(sf, r->facts + base[ix], n_new * sizeof *sf);
            memcpy(sid, r->ids + base[ix], n_new * sizeof *sid);
            if (with_added) {
                sf[n_new] = *added;
                sid[n_new] = added_id;
            }
            hkq_rel delta;
            memset(&delta, 0, sizeof delta);
            delta.facts = sf;
            delta.ids = sid;
            delta.n = n;
            rc = run_rule(e, ri, av.pos_index, &delta, err);
        }
    }
    hk_free(sf);
    hk_free(sid);
    return rc;
}

/* Writes the difference (step 5). */
static hk_err store_change(ev *e, const hkr_dbs *d, const inc *in,
                           size_t n_kept, hk_error *err)
{
    hk_err rc = HK_OK;
    uint8_t key[HKR_KEY_MAX];
    for (size_t i = 0; rc == HK_OK && i < in->n_old; i++) {
        const ofact *o = &in->old[i];
        if (!o->dead || fset_find(&e->set, &o->fs, dfact_at, e) != SIZE_MAX)
            continue;
        hks_val kv = {key, hkr_key_of(&o->fs, key)};
        rc = hks_del(e->t, d->derived, kv, NULL, err);
    }
    hk_buf v = HK_BUF_INIT;
    for (size_t i = n_kept; rc == HK_OK && i < e->n_facts; i++) {
        support_value(e, i, &v);
        if (!v.data) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        hks_val kv = {key, hkr_key_of(dfact_at(e, i), key)},
                vv = {v.data, v.len};
        rc = hks_put(e->t, d->derived, kv, vv, 0, err);
    }
    hk_buf_free(&v);
    if (rc == HK_OK) {
        uint8_t gv[8];
        hkr_put_u64be(gv, (uint64_t)e->n_facts);
        hks_val k = {"state", 5}, vv = {gv, 8};
        rc = hks_put(e->t, d->meta, k, vv, 0, err);
    }
    return rc;
}

/* Marks in aff the relations whose facts the change can alter (its
 * predicates, and the heads of rules reading them, transitively) and in
 * dropped the strata that negate one of them. */
static void affected(ev *e, const hks_change *c, bool *aff, bool *dropped)
{
    const hks_fact_syms *side[2] = {c->before, c->after};
    for (int i = 0; i < 2; i++) {
        prel *r = side[i] ? rel_of(e, side[i]->pred) : NULL;
        if (r) aff[r - e->rels] = true;
    }
    for (bool more = true; more;) {
        more = false;
        for (size_t ri = 0; ri < e->n_rules; ri++) {
            if (aff[e->head_rel[ri]]) continue;
            const hkq_query *q = e->rules[ri]->body;
            for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
                uint32_t br = e->body_rel[ri][a];
                if (br && aff[br - 1]) {
                    aff[e->head_rel[ri]] = more = true;
                    break;
                }
            }
        }
    }
    for (size_t ri = 0; ri < e->n_rules; ri++) {
        const hkq_query *q = e->rules[ri]->body;
        for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
            hkq_atom_view av;
            hkq_atom_view_get(q, a, &av);
            uint32_t br = e->body_rel[ri][a];
            if (av.neg && br && aff[br - 1])
                dropped[e->rules[ri]->stratum] = true;
        }
    }
}

/* Steps 1-5; *fallback when the stored state cannot be maintained. */
static hk_err incr(ev *e, const hkr_dbs *d, const hks_change *c,
                   hkr_reason_res *res, bool *fallback, hk_error *err)
{
    inc in;
    memset(&in, 0, sizeof in);
    bool *aff = NULL, *dropped = NULL;
    size_t *base = NULL;
    hks_fact_syms *goals = NULL;
    size_t n_goals = 0, cap_goals = 0;
    hk_err rc = hkr_load_all(e->t, d, &e->rules, &e->n_rules, err);
    if (rc != HK_OK) return rc;
    if (e->n_rules == 0) {
        *fallback = true;
        return HK_OK;
    }
    uint32_t max_s = 0;
    for (size_t i = 0; i < e->n_rules; i++)
        if (e->rules[i]->stratum > max_s) max_s = e->rules[i]->stratum;
    res->rules = (uint32_t)e->n_rules;
    res->strata = max_s + 1;
    rc = ev_prepare(e, err);
    if (rc == HK_OK) rc = load_old(e, d, c, &in, err);
    if (rc != HK_OK || in.fallback) {
        *fallback = in.fallback;
        goto done;
    }
    aff = hk_calloc(e->n_rels ? e->n_rels : 1, sizeof *aff);
    dropped = hk_calloc(max_s + 1, sizeof *dropped);
    base = hk_calloc(e->n_rels ? e->n_rels : 1, sizeof *base);
    if (!aff || !dropped || !base) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    affected(e, c, aff, dropped);
    bool same = c->before && c->after && syms_eq(c->before, c->after);
    hk_fact_id removed = c->before && !same ? c->id : 0;
    const hks_fact_syms *added = c->after && !same ? c->after : NULL;
    rc = over_delete(e, &in, dropped, removed, added, err);
    size_t n_dead = 0;
    for (size_t i = 0; i < in.n_old; i++)
        n_dead += in.old[i].dead;
    if (rc == HK_OK && n_dead > INCR_DEAD_MIN && n_dead > in.n_old / 8) {
        *fallback = true; /* rederiving that much costs more than the
                             fixpoint */
        goto done;
    }
    if (rc == HK_OK) rc = load_survivors(e, &in, err);
    size_t n_kept = e->n_facts;
    /* goals: the removed derived facts and the removed asserted fact */
    for (size_t i = 0; rc == HK_OK && i <= in.n_old; i++) {
        const hks_fact_syms *g = NULL;
        if (i < in.n_old && in.old[i].dead)
            g = &in.old[i].fs;
        else if (i == in.n_old && removed)
            g = c->before;
        if (!g) continue;
        rc = grow((void **)&goals, &cap_goals, n_goals + 1, sizeof *goals, err);
        if (rc == HK_OK) goals[n_goals++] = *g;
    }
    for (size_t i = 0; i < e->n_rels; i++)
        base[i] = e->rels[i].n;
    for (uint32_t s = 0; rc == HK_OK && s <= max_s && !*fallback; s++) {
        if (dropped[s]) {
            rc = eval_stratum(e, s, res, err);
            continue;
        }
        for (size_t i = 0; i < e->n_rels; i++) {
            prel *r = &e->rels[i];
            r->derived_here = false;
            r->delta_lo = r->round_start = r->n;
        }
        for (size_t ri = 0; ri < e->n_rules; ri++)
            if (e->rules[ri]->stratum == s)
                e->rels[e->head_rel[ri]].derived_here = true;
        for (size_t ri = 0; ri < e->n_rules && rc == HK_OK && !*fallback; ri++)
            if (e->rules[ri]->stratum == s)
                rc = rederive(e, ri, goals, n_goals, fallback, err);
        if (rc == HK_OK) rc = end_round(e, err);
        if (rc == HK_OK)
            rc = seed_round(e, s, base, added, added ? c->id : 0, err);
        if (rc == HK_OK) rc = end_round(e, err);
        res->rounds += 2;
        if (rc == HK_OK) rc = eval_rounds(e, s, res, err);
    }
    for (size_t i = 0; rc == HK_OK && i < e->n_rels; i++)
        if (e->rels[i].probe_rc != HK_OK)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK && !*fallback) {
        int64_t t1 = hk_now_us();
        rc = store_change(e, d, &in, n_kept, err);
        res->store_us = hk_now_us() - t1;
        res->derived = e->n_facts;
    }
done:
    hk_free(in.old);
    hk_free(in.ref);
    hk_free(aff);
    hk_free(dropped);
    hk_free(base);
    hk_free(goals);
    return rc;
}

hk_err hkr_materialize_change(hk_txn *t, const hkr_dbs *d, const hks_change *c,
                              hkr_reason_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (c->op != HKS_OP_ADD && c->op != HKS_OP_DELETE &&
        c->op != HKS_OP_UPDATE && c->op != HKS_OP_META)
        return hkr_materialize(t, d, NULL, NULL, res, err);
    if (!c->before && !c->after) return HK_OK;
    if (c->before && c->after && syms_eq(c->before, c->after))
        return HK_OK; /* supports name facts by id: nothing changes */
    int64_t t0 = hk_now_us();
    if (hkr_local_on()) {
        hkr_rule **rules = NULL;
        size_t n = 0;
        bool done = false;
        hk_err rc = hkr_load_all(t, d, &rules, &n, err);
        if (rc == HK_OK && n)
            rc = hkr_local_change(t, d, rules, n, c, &done, err);
        if (rc == HK_OK && done) {
            res->rules = (uint32_t)n;
            rc = hkr_derived_count(t, d, &res->derived, err);
        }
        hkr_rules_free(rules, n);
        res->eval_us = hk_now_us() - t0;
        if (rc != HK_OK) return rc;
        if (done) {
            n_incremental++;
            return HK_OK;
        }
    }
    ev e;
    memset(&e, 0, sizeof e);
    e.t = t;
    bool fallback = false;
    hk_err rc = incr(&e, d, c, res, &fallback, err);
    res->eval_us = hk_now_us() - t0 - res->store_us;
    ev_free(&e);
    hkr_rules_free(e.rules, e.n_rules);
    if (rc != HK_OK) return rc;
    if (!fallback) {
        n_incremental++;
        return HK_OK;
    }
    n_fallbacks++;
    return hkr_materialize(t, d, NULL, NULL, res, err);
}
