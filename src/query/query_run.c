/*
 * query_run.c — planning and index nested-loop evaluation of conjunctive
 * queries (see query.h).
 *
 * Plan: positive patterns are ordered greedily. At each step the pattern
 * with the smallest estimated rows per input binding is taken among those
 * that share a bound variable (any pattern when none does): the estimate
 * starts from the predicate's fact count (hks_pred_count; all facts for a
 * variable predicate), is capped by the fact count of every constant
 * argument (hks_entity_count) and by the mean facts per entity for every
 * argument bound by an earlier step. The step reads its facts from the
 * (entity, position, predicate) slice of the adjacency index keyed by its
 * most selective bound argument, else from the predicate index, else from
 * every fact. A slice row of a binary fact carries the fact's other
 * argument (the covering adjacency, store.h hks_adj_row_syms), so such a
 * step learns its values without reading a record; only facts of other
 * arities are read. Negated patterns and comparisons run as filters right
 * after the step that binds their last variable.
 *
 * Order and paging: every access path yields its facts in a fixed key
 * order ((predicate, id) for an adjacency slice of any predicate, id
 * otherwise), so a row is identified by the keys of its facts per step. A
 * path cursor names the plan and those keys; a resumed run follows the
 * same plan and skips, level by level, every key up to the cursor's, so
 * it neither repeats nor skips a row of an unchanged KB.
 *
 * Hubs and cycles (store-only runs, see query_int.h "Slice cache"): a step
 * after the first reads its adjacency slice through a per-run cache, so a
 * hub recurring as the bound value is read once per run; before a step, a
 * later pattern with an argument the previous step bound is checked to
 * have a fact in that slice (one seek; an empty slice ends the branch);
 * and a step followed by an exact lookup walks the lookup's slice instead
 * of its own when that one holds at most HKQ_ISECT_MAX facts (a sideways
 * intersection: for a triangle, the candidates of ?b are the few facts of
 * P3(?c, _) rather than every fact of P2(?a, _)). All three give the same
 * rows in the same order as the plain nested loop.
 *
 * Whole predicates (note_store_read): once a predicate's slices were read
 * in the store often enough, the predicate is read from the statement
 * index into the cache, and its slices, present or empty, are answered
 * from memory; a step over a predicate finishes from the statement index
 * too (level_pred). Both keep the order of the store's indexes.
 *
 * Memory: one iterator and one decoded fact per step, nothing per row,
 * plus the slice cache (at most HKQ_CACHE_BYTES per run) and a step's
 * rest of its predicate (at most HKQ_PRELOAD_MAX facts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "query/query_int.h"

typedef enum access {
    ACC_ADJ = 0,  /* adjacency slice of a bound argument */
    ACC_PRED = 1, /* facts of the (bound) predicate */
    ACC_ALL = 2,  /* every fact */
    ACC_PROBE = 3 /* every slot bound: one exact lookup */
} access;

static const char *const access_names[] = {"adj", "predicate", "all", "exact"};

typedef struct step {
    uint32_t pidx;               /* positive pattern index (text order) */
    uint32_t atom;               /* index in q->atoms */
    access acc;                  /* access path */
    int key_pos;                 /* ACC_ADJ: argument position of the key */
    bool check[HK_MAX_ARGS + 1]; /* VAR slot bound before: compare */
    double est;                  /* estimated rows out (cumulative) */
    uint32_t n_neg;              /* negated patterns checked after this step */
    uint32_t neg[HKQ_MAX_ATOMS];
    uint32_t n_cmp; /* comparisons checked after this step */
    uint32_t cmp[HKQ_MAX_CMPS];
    /* lookahead before this step: later patterns with an argument whose
     * value the previous step bound (or a constant, at step 0); the
     * slice (value, position, predicate) must hold a fact */
    uint32_t n_look;
    uint32_t look_atom[HKQ_MAX_ATOMS]; /* index in q->atoms */
    uint32_t look_slot[HKQ_MAX_ATOMS]; /* argument slot (1..n) */
    bool look_pred[HKQ_MAX_ATOMS];     /* predicate known before the step */
    /* intersection (see level_isect): the next step is an exact lookup
     * whose argument slot isect_slot (1..n) is known before this step;
     * 0 = none */
    uint32_t isect_slot;
} step;

/* Store reads of one predicate's slices (see note_store_read). */
#define HKQ_PRELOAD_MAX                                                        \
    HKQ_CACHE_SLICE_MAX      /* facts of a predicate read whole */
#define HKQ_PRELOAD_RATIO 16 /* its facts per store read that make it pay */
#define HKQ_PRELOAD_SLOTS 16
typedef struct preload {
    uint32_t pred;  /* predicate symbol */
    int key;        /* slice key (slice_key: position, binary or not) */
    uint64_t facts; /* its fact count (hks_pred_count) */
    uint64_t reads; /* slices and exact lookups of it read in the store */
    bool done;      /* read whole into the cache, or tried and failed */
} preload;

typedef struct run {
    hk_txn *t;
    const hkq_query *q;
    const hkq_run_req *req;
    hkq_run_res *res;
    uint32_t n_steps;
    step steps[HKQ_MAX_ATOMS];
    uint32_t csym[HKQ_MAX_ATOMS][HK_MAX_ARGS + 1]; /* constants' symbols */
    bool cmiss[HKQ_MAX_ATOMS];        /* a constant is unknown to the store */
    uint32_t vals[HKQ_MAX_VARS];      /* bound values */
    hk_fact_id facts[HKQ_MAX_ATOMS];  /* by positive index */
    uint32_t cur_pred[HKQ_MAX_ATOMS]; /* path keys per step */
    hk_fact_id cur_id[HKQ_MAX_ATOMS];
    uint32_t prev_pred[HKQ_MAX_ATOMS]; /* keys of the last row taken */
    hk_fact_id prev_id[HKQ_MAX_ATOMS];
    bool resume; /* follow the cursor path */
    uint32_t path_pred[HKQ_MAX_ATOMS];
    hk_fact_id path_id[HKQ_MAX_ATOMS];
    uint64_t candidates;
    int64_t deadline;
    bool stop;
    bool taken;     /* some row was taken (or the run resumed a cursor) */
    bool use_cache; /* store-only run: slices are cached (query_int.h) */
    hkq_cache cache;
    hkq_cbuild build[HKQ_MAX_ATOMS]; /* per step: the slice being read */
    hkq_cbuild peek;                 /* lookahead's short reads */
    uint32_t n_pl;                   /* predicates with counted reads */
    preload pl[HKQ_PRELOAD_SLOTS];
} run;

/* ==== Values ==== */

static bool parse_num(const char *s, size_t n, double *out)
{
    if (n == 0 || n > 64) return false;
    char buf[65];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + n || errno != 0 || !isfinite(d)) return false;
    if (buf[0] == ' ' || buf[0] == '\t') return false;
    *out = d;
    return true;
}

int hkq_value_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    double x, y;
    if (parse_num(a, al, &x) && parse_num(b, bl, &y))
        return x < y ? -1 : x > y ? 1 : 0;
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    if (c != 0) return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* ==== Planning ==== */

static hk_err sym_of(hk_txn *t, const char *s, uint32_t *id, hk_error *err)
{
    hk_err rc = hks_sym_id(t, s, strlen(s), id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        *id = 0;
        hk_error_clear(err);
        return HK_OK;
    }
    return rc;
}

static hk_err resolve_consts(run *r, hk_error *err)
{
    const hkq_query *q = r->q;
    for (uint32_t a = 0; a < q->n_atoms; a++) {
        const hkq_atom *at = &q->atoms[a];
        for (uint32_t k = 0; k <= at->pat.n_args; k++) {
            r->csym[a][k] = 0;
            if (at->slots[k].kind != HK_TERM_CONST) continue;
            hk_err rc = sym_of(r->t, at->slots[k].text, &r->csym[a][k], err);
            if (rc != HK_OK) return rc;
            if (r->csym[a][k] == 0) r->cmiss[a] = true;
        }
    }
    return HK_OK;
}

typedef struct kb_stats {
    double facts, entities, predicates, mean_per_entity;
} kb_stats;

/* Rows per input binding of atom a when the variables in bound are
 * bound; *key_pos the best adjacency key (-1: none). */
static hk_err estimate(run *r, const kb_stats *ks, uint32_t a,
                       const bool *bound, double *est, int *key_pos,
                       hk_error *err)
{
    const hkq_atom *at = &r->q->atoms[a];
    double e = ks->facts;
    *key_pos = -1;
    if (r->cmiss[a]) {
        *est = 0;
        for (uint32_t k = 1; k <= at->pat.n_args; k++)
            if (at->slots[k].kind == HK_TERM_CONST && r->csym[a][k]) {
                *key_pos = (int)k - 1;
                break;
            }
        return HK_OK;
    }
    const hkq_slot *p = &at->slots[0];
    if (p->kind == HK_TERM_CONST) {
        uint64_t n = 0;
        hk_err rc = hks_pred_count(r->t, r->csym[a][0], &n, err);
        if (rc != HK_OK) return rc;
        e = (double)n;
    } else if (p->kind == HK_TERM_VAR && bound[p->var]) {
        e = ks->facts / (ks->predicates > 1 ? ks->predicates : 1);
    }
    double best_key = INFINITY;
    /* With one constant argument its count only lowers e, so a hub's
     * count (a sum over its by_arg chunks) stops once it passes e; with
     * several, they are compared with each other and counted whole. */
    uint32_t n_const = 0;
    for (uint32_t k = 1; k <= at->pat.n_args; k++)
        if (at->slots[k].kind == HK_TERM_CONST) n_const++;
    for (uint32_t k = 1; k <= at->pat.n_args; k++) {
        const hkq_slot *s = &at->slots[k];
        double c = INFINITY;
        if (s->kind == HK_TERM_CONST) {
            uint64_t n = 0;
            hk_err rc =
                n_const == 1 && e >= 0 && e < 1e18
                    ? hks_entity_count_upto(r->t, r->csym[a][k], (uint64_t)e,
                                            &n, err)
                    : hks_entity_count(r->t, r->csym[a][k], NULL, &n, err);
            if (rc != HK_OK) return rc;
            c = (double)n;
        } else if (s->kind == HK_TERM_VAR && bound[s->var]) {
            c = ks->mean_per_entity;
        }
        if (c < best_key) {
            best_key = c;
            *key_pos = (int)k - 1;
        }
        if (c < e) e = c;
    }
    *est = e;
    return HK_OK;
}

static bool atom_vars_bound(const hkq_atom *at, const bool *bound)
{
    for (uint32_t k = 0; k <= at->pat.n_args; k++)
        if (at->slots[k].kind == HK_TERM_VAR && !bound[at->slots[k].var])
            return false;
    return true;
}

static bool atom_touches(const hkq_atom *at, const bool *bound)
{
    for (uint32_t k = 0; k <= at->pat.n_args; k++)
        if (at->slots[k].kind == HK_TERM_VAR && bound[at->slots[k].var])
            return true;
    return false;
}

/* Fills step i for atom a given bound (before), then marks its vars. */
static void fill_step(run *r, uint32_t i, uint32_t pidx, int key_pos,
                      bool *bound)
{
    const hkq_query *q = r->q;
    step *st = &r->steps[i];
    st->pidx = pidx;
    st->atom = q->pos[pidx];
    const hkq_atom *at = &q->atoms[st->atom];
    st->key_pos = key_pos;
    bool pred_known =
        at->slots[0].kind == HK_TERM_CONST ||
        (at->slots[0].kind == HK_TERM_VAR && bound[at->slots[0].var]);
    st->acc = key_pos >= 0 ? ACC_ADJ : pred_known ? ACC_PRED : ACC_ALL;
    bool all_bound = true;
    for (uint32_t k = 0; k <= at->pat.n_args; k++) {
        const hkq_slot *s = &at->slots[k];
        if (s->kind == HK_TERM_ANY ||
            (s->kind == HK_TERM_VAR && !bound[s->var]))
            all_bound = false;
    }
    if (all_bound) st->acc = ACC_PROBE;
    for (uint32_t k = 0; k <= at->pat.n_args; k++) {
        const hkq_slot *s = &at->slots[k];
        st->check[k] = false;
        if (s->kind != HK_TERM_VAR) continue;
        if (bound[s->var])
            st->check[k] = true;
        else
            bound[s->var] = true; /* later slots with it compare */
    }
}

/* Places negations and comparisons after the first step binding all of
 * their variables. */
static void place_lookahead(run *r);

static void place_filters(run *r)
{
    place_lookahead(r);
    const hkq_query *q = r->q;
    bool bound[HKQ_MAX_VARS] = {false};
    bool placed_neg[HKQ_MAX_ATOMS] = {false};
    bool placed_cmp[HKQ_MAX_CMPS] = {false};
    for (uint32_t i = 0; i < r->n_steps; i++) {
        step *st = &r->steps[i];
        const hkq_atom *at = &q->atoms[st->atom];
        for (uint32_t k = 0; k <= at->pat.n_args; k++)
            if (at->slots[k].kind == HK_TERM_VAR)
                bound[at->slots[k].var] = true;
        st->n_neg = st->n_cmp = 0;
        for (uint32_t a = 0; a < q->n_atoms; a++) {
            if (!q->atoms[a].neg || placed_neg[a]) continue;
            if (!atom_vars_bound(&q->atoms[a], bound)) continue;
            placed_neg[a] = true;
            st->neg[st->n_neg++] = a;
        }
        for (uint32_t c = 0; c < q->n_cmps; c++) {
            if (placed_cmp[c]) continue;
            const hkq_cmp *cm = &q->cmps[c];
            if ((cm->l.kind == HK_TERM_VAR && !bound[cm->l.var]) ||
                (cm->r.kind == HK_TERM_VAR && !bound[cm->r.var]))
                continue;
            placed_cmp[c] = true;
            st->cmp[st->n_cmp++] = c;
        }
    }
}

/* Fills every step's lookahead: a later pattern j gets one check at step
 * i > 0 when an argument of j is a variable the step i - 1 bound, and at
 * step 0 when an argument of j is a constant. A fact matching j under the
 * final bindings is in that slice, so an empty slice ends the branch. */
static void place_isect(run *r, uint32_t i, const bool *before);

static void place_lookahead(run *r)
{
    const hkq_query *q = r->q;
    bool before[HKQ_MAX_VARS] = {false}; /* bound before step i */
    bool prev[HKQ_MAX_VARS] = {false};   /* bound before step i - 1 */
    for (uint32_t i = 0; i < r->n_steps; i++) {
        step *st = &r->steps[i];
        st->n_look = 0;
        if (i > 0) {
            memcpy(prev, before, sizeof prev);
            const hkq_atom *pa = &q->atoms[r->steps[i - 1].atom];
            for (uint32_t k = 0; k <= pa->pat.n_args; k++)
                if (pa->slots[k].kind == HK_TERM_VAR)
                    before[pa->slots[k].var] = true;
        }
        for (uint32_t j = i + 1; j < r->n_steps; j++) {
            const hkq_atom *at = &q->atoms[r->steps[j].atom];
            for (uint32_t k = 1; k <= at->pat.n_args; k++) {
                const hkq_slot *s = &at->slots[k];
                bool fresh = (s->kind == HK_TERM_CONST && i == 0) ||
                             (s->kind == HK_TERM_VAR && i > 0 &&
                              before[s->var] && !prev[s->var]);
                if (!fresh) continue;
                st->look_atom[st->n_look] = r->steps[j].atom;
                st->look_slot[st->n_look] = k;
                st->look_pred[st->n_look] =
                    at->slots[0].kind == HK_TERM_CONST ||
                    (at->slots[0].kind == HK_TERM_VAR &&
                     before[at->slots[0].var]);
                st->n_look++;
                break;
            }
        }
        st->isect_slot = 0;
        if (i > 0 && i + 1 < r->n_steps) place_isect(r, i, before);
    }
}

static bool known_before(const hkq_slot *s, const bool *before)
{
    return s->kind == HK_TERM_CONST ||
           (s->kind == HK_TERM_VAR && before[s->var]);
}

static bool atom_has_var(const hkq_atom *at, uint32_t v)
{
    for (uint32_t k = 0; k <= at->pat.n_args; k++)
        if (at->slots[k].kind == HK_TERM_VAR && at->slots[k].var == v)
            return true;
    return false;
}

/* Step i (an adjacency slice of pattern A) followed by an exact lookup of
 * pattern B can instead walk B's facts in the slice of an argument of B
 * known before step i and look A's fact up for each (level_isect), when
 * both predicates are known before step i and B's facts determine every
 * argument of A that step i would bind. */
static void place_isect(run *r, uint32_t i, const bool *before)
{
    const hkq_query *q = r->q;
    const step *st = &r->steps[i], *nx = &r->steps[i + 1];
    if (st->acc != ACC_ADJ || nx->acc != ACC_PROBE) return;
    const hkq_atom *a = &q->atoms[st->atom], *b = &q->atoms[nx->atom];
    if (!known_before(&a->slots[0], before) ||
        !known_before(&b->slots[0], before))
        return;
    for (uint32_t k = 1; k <= a->pat.n_args; k++) {
        const hkq_slot *s = &a->slots[k];
        if (s->kind == HK_TERM_ANY) return;
        if (s->kind == HK_TERM_VAR && !before[s->var] &&
            !atom_has_var(b, s->var))
            return;
    }
    for (uint32_t k = 1; k <= b->pat.n_args; k++)
        if (known_before(&b->slots[k], before)) {
            r->steps[i].isect_slot = k;
            return;
        }
}

static hk_err kb_counts(run *r, kb_stats *ks, hk_error *err)
{
    hk_stats s;
    hk_err rc = hk_store_stats(r->t, &s, err);
    if (rc != HK_OK) return rc;
    ks->facts = (double)s.facts;
    ks->entities = (double)(s.entities ? s.entities : 1);
    ks->predicates = (double)(s.predicates ? s.predicates : 1);
    ks->mean_per_entity = 2.0 * ks->facts / ks->entities;
    if (ks->mean_per_entity < 1) ks->mean_per_entity = 1;
    return HK_OK;
}

static hk_err plan(run *r, hk_error *err)
{
    const hkq_query *q = r->q;
    kb_stats ks;
    hk_err rc = kb_counts(r, &ks, err);
    if (rc != HK_OK) return rc;
    bool bound[HKQ_MAX_VARS] = {false};
    bool used[HKQ_MAX_ATOMS] = {false};
    double rows = 1;
    for (uint32_t i = 0; i < q->n_pos; i++) {
        int best = -1, best_key = -1;
        double best_est = INFINITY;
        bool best_conn = false;
        for (uint32_t p = 0; p < q->n_pos; p++) {
            if (used[p]) continue;
            double e;
            int kp;
            rc = estimate(r, &ks, q->pos[p], bound, &e, &kp, err);
            if (rc != HK_OK) return rc;
            bool conn = i == 0 || atom_touches(&q->atoms[q->pos[p]], bound);
            if (best < 0 || (conn && !best_conn) ||
                (conn == best_conn && e < best_est)) {
                best = (int)p;
                best_est = e;
                best_key = kp;
                best_conn = conn;
            }
        }
        used[best] = true;
        rows *= best_est;
        fill_step(r, i, (uint32_t)best, best_key, bound);
        r->steps[i].est = rows;
    }
    r->n_steps = q->n_pos;
    place_filters(r);
    return HK_OK;
}

/* ==== Cursors ==== */

static hk_err cursor_write(const run *r, hk_buf *out)
{
    hk_buf_append_str(out, "Q1");
    for (uint32_t i = 0; i < r->n_steps; i++) {
        const step *st = &r->steps[i];
        hk_buf_appendf(out, ".%u_%d_%u_%u_%llu", st->pidx, st->key_pos + 1,
                       (unsigned)st->acc, r->prev_pred[i],
                       (unsigned long long)r->prev_id[i]);
    }
    return HK_OK;
}

static hk_err bad_cursor(hk_error *err)
{
    hk_error_set(err, HK_ERR_INVALID,
                 "invalid cursor — pass the cursor a previous page of the "
                 "same query printed");
    if (err) snprintf(err->field, sizeof err->field, "cursor");
    return HK_ERR_INVALID;
}

/* Reads a path cursor into the plan and path keys. */
static hk_err cursor_read(run *r, const char *c, hk_error *err)
{
    const hkq_query *q = r->q;
    if (strncmp(c, "Q1", 2) != 0) return bad_cursor(err);
    c += 2;
    bool bound[HKQ_MAX_VARS] = {false};
    bool used[HKQ_MAX_ATOMS] = {false};
    for (uint32_t i = 0; i < q->n_pos; i++) {
        unsigned pidx, acc, pred;
        int kp, used_chars = 0;
        unsigned long long id;
        if (sscanf(c, ".%u_%d_%u_%u_%llu%n", &pidx, &kp, &acc, &pred, &id,
                   &used_chars) != 5)
            return bad_cursor(err);
        c += used_chars;
        if (pidx >= q->n_pos || used[pidx] || acc > ACC_PROBE)
            return bad_cursor(err);
        const hkq_atom *at = &q->atoms[q->pos[pidx]];
        kp -= 1;
        if (kp < -1 || kp >= (int)at->pat.n_args) return bad_cursor(err);
        if (kp >= 0) {
            const hkq_slot *s = &at->slots[kp + 1];
            if (s->kind == HK_TERM_ANY ||
                (s->kind == HK_TERM_VAR && !bound[s->var]))
                return bad_cursor(err);
        }
        used[pidx] = true;
        fill_step(r, i, pidx, kp, bound);
        if ((unsigned)r->steps[i].acc != acc) return bad_cursor(err);
        r->steps[i].est = 0;
        r->path_pred[i] = r->prev_pred[i] = pred;
        r->path_id[i] = r->prev_id[i] = (hk_fact_id)id;
    }
    if (*c != '\0') return bad_cursor(err);
    r->n_steps = q->n_pos;
    place_filters(r);
    r->resume = true;
    r->taken = true;
    return HK_OK;
}

/* ==== Evaluation ==== */

static hk_err budget_check(run *r, hk_error *err)
{
    r->candidates++;
    const hkq_budget *b = &r->req->budget;
    if (b->max_candidates && r->candidates > b->max_candidates)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "query stopped: it read more than %llu facts "
                            "(the row budget); add constants or a LIMIT, "
                            "or raise the budget",
                            (unsigned long long)b->max_candidates);
    if (r->deadline && (r->candidates & 255) == 0 && hk_now_us() > r->deadline)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "query stopped: it ran longer than %lld ms (the "
                            "time budget); add constants or a LIMIT, or "
                            "raise the budget",
                            (long long)(b->max_us / 1000));
    return HK_OK;
}

/* True when fact fs matches the atom of st (binding its new variables). */
static bool match(run *r, const step *st, const hks_fact_syms *fs)
{
    const hkq_atom *at = &r->q->atoms[st->atom];
    if (fs->n_args != at->pat.n_args) return false;
    for (uint32_t k = 0; k <= at->pat.n_args; k++) {
        uint32_t v = k == 0 ? fs->pred : fs->args[k - 1];
        const hkq_slot *s = &at->slots[k];
        switch (s->kind) {
        case HK_TERM_CONST:
            if (v != r->csym[st->atom][k]) return false;
            break;
        case HK_TERM_ANY:
            break;
        case HK_TERM_VAR:
            if (st->check[k]) {
                if (r->vals[s->var] != v) return false;
            } else {
                /* first slot of a variable new in this atom binds it;
                 * a later slot of it compares */
                bool first = true;
                for (uint32_t j = 0; j < k; j++)
                    if (at->slots[j].kind == HK_TERM_VAR &&
                        at->slots[j].var == s->var)
                        first = false;
                if (first)
                    r->vals[s->var] = v;
                else if (r->vals[s->var] != v)
                    return false;
            }
            break;
        }
    }
    return true;
}

/* Value of a bound variable or constant as text (into the map for a
 * variable: valid until the txn ends). */
static hk_err slot_text(run *r, const hkq_slot *s, const char **p, size_t *n,
                        hk_error *err)
{
    if (s->kind != HK_TERM_VAR) {
        *p = s->text;
        *n = strlen(s->text);
        return HK_OK;
    }
    return hks_sym_str(r->t, r->vals[s->var], p, n, err);
}

static hk_err cmp_ok(run *r, const hkq_cmp *c, bool *ok, hk_error *err)
{
    const char *a, *b;
    size_t al, bl;
    hk_err rc = slot_text(r, &c->l, &a, &al, err);
    if (rc == HK_OK) rc = slot_text(r, &c->r, &b, &bl, err);
    if (rc != HK_OK) return rc;
    int v = hkq_value_cmp(a, al, b, bl);
    switch (c->op) {
    case HKQ_EQ:
        *ok = v == 0;
        break;
    case HKQ_NE:
        *ok = v != 0;
        break;
    case HKQ_LT:
        *ok = v < 0;
        break;
    case HKQ_LE:
        *ok = v <= 0;
        break;
    case HKQ_GT:
        *ok = v > 0;
        break;
    case HKQ_GE:
        *ok = v >= 0;
        break;
    }
    return HK_OK;
}

/* Value of slot k of atom a under the current bindings; 0 when unbound
 * or unknown. */
static uint32_t slot_val(const run *r, uint32_t a, uint32_t k)
{
    const hkq_slot *s = &r->q->atoms[a].slots[k];
    if (s->kind == HK_TERM_CONST) return r->csym[a][k];
    if (s->kind == HK_TERM_VAR) return r->vals[s->var];
    return 0;
}

static bool neg_matches(const run *r, uint32_t a, const hks_fact_syms *fs)
{
    const hkq_atom *at = &r->q->atoms[a];
    if (fs->n_args != at->pat.n_args) return false;
    for (uint32_t k = 0; k <= at->pat.n_args; k++) {
        if (at->slots[k].kind == HK_TERM_ANY) continue;
        uint32_t v = k == 0 ? fs->pred : fs->args[k - 1];
        if (v != slot_val(r, a, k)) return false;
    }
    return true;
}

/* *exists = some stored fact matches negated atom a. */
static hk_err row_syms(run *r, const hks_adj_row *row, uint32_t ent, bool bin,
                       hks_fact_syms *fs, bool *found, hk_error *err);

static hk_err neg_exists(run *r, uint32_t a, bool *exists, hk_error *err)
{
    const hkq_atom *at = &r->q->atoms[a];
    *exists = false;
    if (r->cmiss[a]) return HK_OK;
    int key = -1;
    for (uint32_t k = 1; k <= at->pat.n_args && key < 0; k++)
        if (at->slots[k].kind != HK_TERM_ANY) key = (int)k - 1;
    uint32_t pred = at->slots[0].kind == HK_TERM_ANY ? 0 : slot_val(r, a, 0);
    hk_err rc = HK_OK;
    hks_fact_syms fs;
    if (key >= 0) {
        hks_adj *it = NULL;
        uint32_t ent = slot_val(r, a, (uint32_t)key + 1);
        rc = hks_adj_open(r->t, ent, key, pred, &it, err);
        if (rc != HK_OK) return rc;
        for (;;) {
            hks_adj_row row;
            bool has = false;
            rc = hks_adj_next(it, &row, &has, err);
            if (rc != HK_OK || !has) break;
            if ((rc = budget_check(r, err)) != HK_OK) break;
            bool found = false;
            rc = row_syms(r, &row, ent, at->pat.n_args == 2, &fs, &found, err);
            if (rc != HK_OK) break;
            if (!found) continue;
            if (neg_matches(r, a, &fs)) {
                *exists = true;
                break;
            }
        }
        hks_adj_close(it);
        return rc;
    }
    hk_scan sc = HK_SCAN_INIT;
    char pbuf[HK_MAX_PREDICATE_BYTES + 1];
    if (pred) {
        const char *p;
        size_t n;
        rc = hks_sym_str(r->t, pred, &p, &n, err);
        if (rc != HK_OK) return rc;
        if (n > HK_MAX_PREDICATE_BYTES) n = HK_MAX_PREDICATE_BYTES;
        memcpy(pbuf, p, n);
        pbuf[n] = '\0';
        sc.predicate = pbuf;
    }
    sc.arity = at->pat.n_args;
    hk_query *it = NULL;
    rc = hk_query_open_scan(r->t, &sc, NULL, &it, err);
    if (rc != HK_OK) return rc;
    for (;;) {
        hk_fact_id id;
        bool has = false;
        rc = hk_query_next_id(it, &id, &has, err);
        if (rc != HK_OK || !has) break;
        if ((rc = budget_check(r, err)) != HK_OK) break;
        rc = hks_fact_syms_get(r->t, id, &fs, err);
        if (rc == HK_ERR_NOT_FOUND) {
            rc = HK_OK;
            continue;
        }
        if (rc != HK_OK) break;
        if (neg_matches(r, a, &fs)) {
            *exists = true;
            break;
        }
    }
    hk_query_close(it);
    return rc;
}

static hk_err level(run *r, uint32_t i, bool path, hk_error *err);

/* Runs the filters of step i, then the next level. */
static hk_err descend(run *r, uint32_t i, bool path, hk_error *err)
{
    const step *st = &r->steps[i];
    for (uint32_t k = 0; k < st->n_cmp; k++) {
        bool ok = false;
        hk_err rc = cmp_ok(r, &r->q->cmps[st->cmp[k]], &ok, err);
        if (rc != HK_OK) return rc;
        if (!ok) return HK_OK;
    }
    for (uint32_t k = 0; k < st->n_neg; k++) {
        bool ex = false;
        hk_err rc = neg_exists(r, st->neg[k], &ex, err);
        if (rc != HK_OK) return rc;
        if (ex) return HK_OK;
    }
    r->res->steps[i].rows++;
    return level(r, i + 1, path, err);
}

/* One candidate fact of step i with path key (kp, id). *path is the
 * level's cursor state: cleared once the level has passed the key. */
static hk_err candidate(run *r, uint32_t i, uint32_t kp, hk_fact_id id,
                        const hks_fact_syms *given, bool *path, hk_error *err)
{
    hk_err rc = budget_check(r, err);
    if (rc != HK_OK) return rc;
    r->res->steps[i].candidates++;
    bool follow = false;
    if (*path) {
        if (kp < r->path_pred[i] ||
            (kp == r->path_pred[i] && id < r->path_id[i]))
            return HK_OK;
        *path = false;
        if (kp == r->path_pred[i] && id == r->path_id[i]) {
            if (i + 1 == r->n_steps) return HK_OK; /* the cursor's row */
            follow = true;
        }
    }
    hks_fact_syms fs;
    if (given) {
        fs = *given;
    } else {
        rc = hks_fact_syms_get(r->t, id, &fs, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            return HK_OK;
        }
        if (rc != HK_OK) return rc;
    }
    const step *st = &r->steps[i];
    if (!match(r, st, &fs)) return HK_OK;
    r->facts[st->pidx] = id;
    r->cur_pred[i] = kp;
    r->cur_id[i] = id;
    return descend(r, i, follow, err);
}

/* Reads a fact's symbols; *found false for a fact deleted under us. */
static hk_err fact_syms(run *r, hk_fact_id id, hks_fact_syms *fs, bool *found,
                        hk_error *err)
{
    hk_err rc = hks_fact_syms_get(r->t, id, fs, err);
    *found = rc == HK_OK;
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    return rc;
}

/* The symbols of an adjacency row of entity ent: from the row itself when
 * it covers its fact (a binary fact carries its co-argument in by_arg, so
 * no record is read), else from the record. bin: only binary facts are
 * wanted, so a row that covers nothing is passed over (*found false)
 * without reading its record. */
static hk_err row_syms(run *r, const hks_adj_row *row, uint32_t ent, bool bin,
                       hks_fact_syms *fs, bool *found, hk_error *err)
{
    *found = false;
    if (hks_adj_row_syms(row, ent, fs)) {
        *found = true;
        return HK_OK;
    }
    if (bin) return HK_OK;
    return fact_syms(r, row->fact, fs, found, err);
}

/* Slices read for a binary pattern hold only the binary facts (their rows
 * cover them, nothing else is read), so they are cached under their own
 * key: position + HKQ_BIN_KEY. */
#define HKQ_BIN_KEY (1 << 16)
static int slice_key(int pos, bool bin)
{
    return bin && pos >= 0 ? pos + HKQ_BIN_KEY : pos;
}

static bool atom_bin(const run *r, uint32_t a)
{
    return r->q->atoms[a].pat.n_args == 2;
}

/* Reads predicate pred whole into the cache as the slices of key ck
 * (argument pos; binary facts only when bin). */
static hk_err preload_pred(run *r, uint32_t pred, int ck, int pos, bool bin,
                           uint64_t facts, bool *kept, hk_error *err)
{
    *kept = false;
    hks_pred_walk *w = NULL;
    hk_err rc = hks_pred_open(r->t, pred, HKS_PRED_BY_KEY, &w, err);
    if (rc != HK_OK) return rc;
    hkq_cbuild *b = &r->peek;
    b->n = b->n_args = 0;
    b->over = false;
    hkq_cbuild_reserve(b, (size_t)facts, (size_t)facts * 2);
    /* bounded by the predicate's facts (at most HKQ_PRELOAD_MAX kept) */
    while (!b->over) {
        hk_fact_id id;
        hks_fact_syms fs;
        bool has = false;
        rc = hks_pred_next(w, &id, &fs, &has, err);
        if (rc != HK_OK || !has) break;
        if (bin && fs.n_args != 2) continue;
        hkq_cbuild_add(b, id, &fs);
    }
    hks_pred_close(w);
    if (rc == HK_OK)
        *kept = hkq_cache_put_all(&r->cache, ck, pred, (uint32_t)pos, b);
    b->n = b->n_args = 0;
    b->over = false;
    return rc;
}

/* Counts one read in the store of a slice (ent, pos, pred) or of an exact
 * fact of pred. Once a predicate's slices of one key were read at least
 * once per HKQ_PRELOAD_RATIO of its facts, reading it whole from the
 * statement index (sequential keys, no seek per entity) is cheaper than
 * the reads still to come: it is read into the cache (*loaded), and every
 * later slice of it, present or empty, is answered from memory. The
 * reads made first bound the cost of the preload to RATIO times theirs,
 * so a query that reads few slices never pays it. */
static hk_err note_store_read(run *r, uint32_t pred, int pos, bool bin,
                              bool *loaded, hk_error *err)
{
    *loaded = false;
    if (!r->use_cache || pred == 0 || pos < 0) return HK_OK;
    int ck = slice_key(pos, bin);
    preload *p = NULL;
    for (uint32_t k = 0; k < r->n_pl && !p; k++)
        if (r->pl[k].pred == pred && r->pl[k].key == ck) p = &r->pl[k];
    if (!p) {
        if (r->n_pl == HKQ_PRELOAD_SLOTS) return HK_OK;
        p = &r->pl[r->n_pl++];
        memset(p, 0, sizeof *p);
        p->pred = pred;
        p->key = ck;
        hk_err rc = hks_pred_count(r->t, pred, &p->facts, err);
        if (rc != HK_OK) return rc;
        if (p->facts > HKQ_PRELOAD_MAX) p->done = true;
    }
    if (p->done || ++p->reads * HKQ_PRELOAD_RATIO < p->facts) return HK_OK;
    p->done = true;
    hk_err rc = preload_pred(r, pred, ck, pos, bin, p->facts, loaded, err);
    if (rc == HK_OK && *loaded) r->res->preloaded++;
    return rc;
}

#define HKQ_PEEK 0       /* facts the lookahead reads of an unknown slice */
#define HKQ_ISECT_MAX 32 /* facts of B's slice that level_isect walks */

/* *any = the slice (ent, pos, pred) holds a fact. A slice of at most
 * cap facts is read whole into the cache (later probes and steps read it
 * there); a longer one is only marked non-empty, with n = cap (it holds
 * more than cap facts). */
static hk_err slice_read(run *r, uint32_t ent, int pos, uint32_t pred, bool bin,
                         uint32_t cap, bool *any, hk_error *err)
{
    *any = false;
    if (ent == 0) return HK_OK; /* a constant unknown to the store */
    int ck = slice_key(pos, bin);
    long si = hkq_cache_find(&r->cache, ent, ck, pred);
    if (si >= 0) {
        const hkq_slice *s = &r->cache.slices[si];
        *any = s->state == HKQ_SLICE_NONEMPTY || s->n > 0;
        if (s->state == HKQ_SLICE_FULL || s->n >= cap) return HK_OK;
    }
    bool loaded = false;
    hk_err rc = note_store_read(r, pred, pos, bin, &loaded, err);
    if (rc != HK_OK) return rc;
    if (loaded) {
        si = hkq_cache_find(&r->cache, ent, ck, pred);
        *any = si >= 0 && r->cache.slices[si].n > 0;
        return HK_OK;
    }
    hks_adj *it = NULL;
    rc = hks_adj_open(r->t, ent, pos, pred, &it, err);
    if (rc != HK_OK) return rc;
    hkq_cbuild *b = &r->peek;
    b->n = b->n_args = 0;
    b->over = false;
    bool complete = false;
    /* bounded by the slice: every pass reads one row */
    for (uint32_t k = 0;;) {
        hks_adj_row row;
        bool has = false;
        rc = hks_adj_next(it, &row, &has, err);
        if (rc != HK_OK) break;
        if (!has) {
            complete = true;
            break;
        }
        if (bin && !row.co) continue; /* not binary: not in this slice */
        *any = true;
        if (k++ == cap) break;
        hks_fact_syms fs;
        bool found = false;
        rc = row_syms(r, &row, ent, bin, &fs, &found, err);
        if (rc != HK_OK) break;
        if (found) hkq_cbuild_add(b, row.fact, &fs);
    }
    hks_adj_close(it);
    if (rc != HK_OK) return rc;
    if (complete) {
        /* exact: a row whose fact is gone matches nothing */
        *any = b->n > 0 || b->over;
        hkq_cache_put(&r->cache, ent, ck, pred, b);
    } else if (*any) {
        hkq_cache_mark_nonempty(&r->cache, ent, ck, pred);
        si = hkq_cache_find(&r->cache, ent, ck, pred);
        if (si >= 0 && r->cache.slices[si].state == HKQ_SLICE_NONEMPTY)
            r->cache.slices[si].n = cap;
    }
    return HK_OK;
}

static hk_err slice_any(run *r, uint32_t ent, int pos, uint32_t pred, bool bin,
                        bool *any, hk_error *err)
{
    return slice_read(r, ent, pos, pred, bin, HKQ_PEEK, any, err);
}

/* Runs the lookahead of step i: *dead when a later pattern cannot match. */
static hk_err lookahead(run *r, uint32_t i, bool *dead, hk_error *err)
{
    const step *st = &r->steps[i];
    *dead = false;
    for (uint32_t l = 0; l < st->n_look; l++) {
        uint32_t a = st->look_atom[l], k = st->look_slot[l];
        if (r->cmiss[a]) continue; /* its step yields nothing anyway */
        uint32_t pred = st->look_pred[l] ? slot_val(r, a, 0) : 0;
        bool any = false;
        hk_err rc = slice_any(r, slot_val(r, a, k), (int)k - 1, pred,
                              atom_bin(r, a), &any, err);
        if (rc != HK_OK) return rc;
        if (!any) {
            *dead = true;
            return HK_OK;
        }
    }
    return HK_OK;
}

/* Step i from an adjacency slice through the cache: a FULL slice is read
 * from memory; any other is read from the store and kept when read to its
 * end. */
static hk_err level_adj_cached(run *r, uint32_t i, uint32_t key, uint32_t pred,
                               bool *path, hk_error *err)
{
    const step *st = &r->steps[i];
    bool bin = atom_bin(r, st->atom);
    int ck = slice_key(st->key_pos, bin);
    long si = hkq_cache_find(&r->cache, key, ck, pred);
    hk_err rc = HK_OK;
    if (si < 0 || r->cache.slices[si].state != HKQ_SLICE_FULL) {
        bool loaded = false;
        rc = note_store_read(r, pred, st->key_pos, bin, &loaded, err);
        if (rc != HK_OK) return rc;
        if (loaded) si = hkq_cache_find(&r->cache, key, ck, pred);
    }
    if (si >= 0 && r->cache.slices[si].state == HKQ_SLICE_FULL) {
        size_t n = r->cache.slices[si].n;
        for (size_t j = 0; j < n && !r->stop; j++) {
            hk_fact_id id;
            hks_fact_syms fs;
            /* by index: deeper levels may grow the cache */
            hkq_cache_entry(&r->cache, &r->cache.slices[si], j, &id, &fs);
            rc = candidate(r, i, pred ? 0 : fs.pred, id, &fs, path, err);
            if (rc != HK_OK) return rc;
        }
        return HK_OK;
    }
    hkq_cbuild *b = &r->build[i];
    b->n = b->n_args = 0;
    b->over = false;
    hks_adj *it = NULL;
    rc = hks_adj_open(r->t, key, st->key_pos, pred, &it, err);
    if (rc != HK_OK) return rc;
    bool complete = false;
    while (!r->stop) {
        hks_adj_row row;
        bool has = false;
        rc = hks_adj_next(it, &row, &has, err);
        if (rc != HK_OK) break;
        if (!has) {
            complete = true;
            break;
        }
        hks_fact_syms fs;
        bool found = false;
        rc = row_syms(r, &row, key, bin, &fs, &found, err);
        if (rc != HK_OK) break;
        if (!found) continue;
        hkq_cbuild_add(b, row.fact, &fs);
        rc = candidate(r, i, pred ? 0 : row.pred, row.fact, &fs, path, err);
        if (rc != HK_OK) break;
    }
    hks_adj_close(it);
    if (rc == HK_OK && complete) hkq_cache_put(&r->cache, key, ck, pred, b);
    return rc;
}

/* The fact whose symbols are want, if any, from a cached FULL slice of
 * one of its arguments (*known; *id 0 when the slice lacks it). A slice
 * of more than 64 facts is not searched: the store's exact lookup is
 * cheaper. */
static void cache_find_fact(const run *r, const hks_fact_syms *want,
                            hk_fact_id *id, bool *known)
{
    *known = false;
    *id = 0;
    for (uint32_t k = 0; k < want->n_args; k++) {
        long si =
            hkq_cache_find(&r->cache, want->args[k],
                           slice_key((int)k, want->n_args == 2), want->pred);
        if (si < 0 || r->cache.slices[si].state != HKQ_SLICE_FULL) continue;
        const hkq_slice *s = &r->cache.slices[si];
        if (s->n > 64) continue;
        *known = true;
        for (size_t j = 0; j < s->n; j++) {
            const hkq_centry *e = &r->cache.ents[s->first + j];
            if (e->n_args == want->n_args &&
                !memcmp(r->cache.args + e->off, want->args,
                        want->n_args * sizeof want->args[0])) {
                *id = e->id;
                return;
            }
        }
        return;
    }
}

/* The id of the fact whose symbols are want (0: none): from the cache
 * when it knows, else one exact lookup in the store, which counts
 * towards reading the predicate whole (note_store_read). */
static hk_err find_fact(run *r, const hks_fact_syms *want, hk_fact_id *id,
                        hk_error *err)
{
    *id = 0;
    if (r->use_cache) {
        bool known = false, loaded = false;
        cache_find_fact(r, want, id, &known);
        if (known) return HK_OK;
        hk_err rc =
            note_store_read(r, want->pred, 0, want->n_args == 2, &loaded, err);
        if (rc != HK_OK) return rc;
        if (loaded) cache_find_fact(r, want, id, &known);
        if (known) return HK_OK;
    }
    hk_err rc = hks_fact_find_syms(r->t, want, id, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *id = 0;
        return HK_OK;
    }
    return rc;
}

/* Step i through the intersection of place_isect: the facts of the next
 * step's pattern B in its (small, cached) slice of an argument known
 * before step i give the values step i would bind; the fact of pattern A
 * with those values is looked up exactly. The matches are passed on in
 * fact id order, the order of A's slice, so rows and cursors are those
 * of the plain step. *done false when the slice of B is not small (or
 * not smaller than a cached slice of A): the caller reads A's slice. */
static hk_err level_isect(run *r, uint32_t i, uint32_t akey, uint32_t apred,
                          bool *path, bool *done, hk_error *err)
{
    const step *st = &r->steps[i], *nx = &r->steps[i + 1];
    const hkq_atom *a = &r->q->atoms[st->atom], *b = &r->q->atoms[nx->atom];
    *done = false;
    if (r->cmiss[nx->atom]) {
        *done = true; /* B names a constant the store does not know */
        return HK_OK;
    }
    uint32_t k = st->isect_slot;
    uint32_t bpred = slot_val(r, nx->atom, 0), bval = slot_val(r, nx->atom, k);
    bool any = false;
    bool bbin = atom_bin(r, nx->atom);
    hk_err rc =
        slice_read(r, bval, (int)k - 1, bpred, bbin, HKQ_ISECT_MAX, &any, err);
    if (rc != HK_OK) return rc;
    if (!any) {
        *done = true;
        return HK_OK;
    }
    long si =
        hkq_cache_find(&r->cache, bval, slice_key((int)k - 1, bbin), bpred);
    if (si < 0 || r->cache.slices[si].state != HKQ_SLICE_FULL) return HK_OK;
    size_t nb = r->cache.slices[si].n;
    if (nb > HKQ_ISECT_MAX) return HK_OK;
    long sa = hkq_cache_find(
        &r->cache, akey, slice_key(st->key_pos, atom_bin(r, st->atom)), apred);
    if (sa >= 0 && r->cache.slices[sa].state == HKQ_SLICE_FULL &&
        r->cache.slices[sa].n <= nb)
        return HK_OK;
    bool fresh[HKQ_MAX_VARS] = {false}; /* variables step i binds */
    for (uint32_t j = 1; j <= a->pat.n_args; j++)
        if (a->slots[j].kind == HK_TERM_VAR && !st->check[j])
            fresh[a->slots[j].var] = true;
    hk_fact_id ids[HKQ_ISECT_MAX];
    hks_fact_syms fa[HKQ_ISECT_MAX];
    size_t nm = 0;
    for (size_t j = 0; j < nb; j++) {
        hk_fact_id idb;
        hks_fact_syms fb;
        hkq_cache_entry(&r->cache, &r->cache.slices[si], j, &idb, &fb);
        if (fb.n_args != b->pat.n_args) continue;
        uint32_t tv[HKQ_MAX_VARS];
        bool tset[HKQ_MAX_VARS] = {false}, ok = true;
        for (uint32_t kk = 1; ok && kk <= b->pat.n_args; kk++) {
            const hkq_slot *sl = &b->slots[kk];
            uint32_t v = fb.args[kk - 1];
            if (sl->kind == HK_TERM_CONST) {
                ok = v == r->csym[nx->atom][kk];
            } else if (sl->kind == HK_TERM_VAR && !fresh[sl->var]) {
                ok = r->vals[sl->var] == v;
            } else if (sl->kind == HK_TERM_VAR) {
                if (tset[sl->var]) ok = tv[sl->var] == v;
                tv[sl->var] = v;
                tset[sl->var] = true;
            }
        }
        if (!ok) continue;
        hks_fact_syms *f = &fa[nm];
        f->pred = apred;
        f->n_args = a->pat.n_args;
        for (uint32_t kk = 1; kk <= a->pat.n_args; kk++) {
            const hkq_slot *sl = &a->slots[kk];
            f->args[kk - 1] = sl->kind == HK_TERM_VAR && fresh[sl->var]
                                  ? tv[sl->var]
                                  : slot_val(r, st->atom, kk);
        }
        rc = find_fact(r, f, &ids[nm], err);
        if (rc != HK_OK) return rc;
        if (ids[nm]) nm++;
    }
    for (size_t x = 1; x < nm; x++) /* by id: the order of A's slice */
        for (size_t y = x; y > 0 && ids[y - 1] > ids[y]; y--) {
            hk_fact_id ti = ids[y];
            ids[y] = ids[y - 1];
            ids[y - 1] = ti;
            hks_fact_syms tf = fa[y];
            fa[y] = fa[y - 1];
            fa[y - 1] = tf;
        }
    *done = true;
    for (size_t x = 0; x < nm && !r->stop; x++) {
        rc = candidate(r, i, 0, ids[x], &fa[x], path, err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

/* The facts of predicate pred with an id above after, in id order, from
 * the statement index: read into the step's build, sorted by id. *done
 * false when they do not fit (HKQ_PRELOAD_MAX, memory): the caller walks
 * by id instead. */
static hk_err pred_rest_by_key(run *r, uint32_t i, uint32_t pred,
                               uint64_t facts, hk_fact_id after, bool *path,
                               bool *done, hk_error *err)
{
    *done = false;
    hkq_cbuild *b = &r->build[i];
    b->n = b->n_args = 0;
    b->over = false;
    hkq_cbuild_reserve(b, (size_t)facts, (size_t)facts * 2);
    hks_pred_walk *w = NULL;
    hk_err rc = hks_pred_open(r->t, pred, HKS_PRED_BY_KEY, &w, err);
    if (rc != HK_OK) return rc;
    /* bounded by the predicate's facts (at most HKQ_PRELOAD_MAX kept) */
    while (!b->over) {
        hk_fact_id id;
        hks_fact_syms fs;
        bool has = false;
        rc = hks_pred_next(w, &id, &fs, &has, err);
        if (rc != HK_OK || !has) break;
        if (id > after) hkq_cbuild_add(b, id, &fs);
    }
    hks_pred_close(w);
    hkq_id_ent *order = NULL;
    if (rc == HK_OK && !b->over &&
        (order = hk_malloc((b->n ? b->n : 1) * sizeof *order)) != NULL) {
        for (size_t j = 0; j < b->n; j++)
            order[j] = (hkq_id_ent){b->ents[j].id, (uint32_t)j};
        hkq_sort_ids(order, b->n);
        *done = true;
        r->res->by_key++;
        /* entries by index: the build of step i is not touched deeper */
        for (size_t x = 0; x < b->n && !r->stop && rc == HK_OK; x++) {
            const hkq_centry *e = &b->ents[order[x].j];
            hks_fact_syms fs;
            fs.pred = e->pred;
            fs.n_args = e->n_args;
            memcpy(fs.args, b->args + e->off, e->n_args * sizeof fs.args[0]);
            rc = candidate(r, i, 0, e->id, &fs, path, err);
        }
    }
    hk_free(order);
    b->n = b->n_args = 0;
    b->over = false;
    return rc;
}

/* Step i over the facts of its predicate, in id order. The first facts
 * come from the predicate index, one record read each through a forward
 * cursor, so a run that stops early (LIMIT, a page) reads little; once
 * HKQ_PRED_SWITCH of them (or a 32nd of the predicate) were read, the rest
 * is read at once from the statement index, which needs no record read,
 * and sorted by id: the same facts in the same order, several times
 * cheaper each. */
#define HKQ_PRED_SWITCH 64
static hk_err level_pred(run *r, uint32_t i, bool *path, hk_error *err)
{
    const step *st = &r->steps[i];
    uint32_t pred = slot_val(r, st->atom, 0);
    uint64_t facts = 0, switch_at = UINT64_MAX, n = 0;
    hk_err rc = HK_OK;
    if (r->use_cache) {
        rc = hks_pred_count(r->t, pred, &facts, err);
        if (rc != HK_OK) return rc;
        if (facts <= HKQ_PRELOAD_MAX)
            switch_at =
                facts / 32 > HKQ_PRED_SWITCH ? facts / 32 : HKQ_PRED_SWITCH;
    }
    hks_pred_walk *w = NULL;
    rc = hks_pred_open(r->t, pred, HKS_PRED_BY_ID, &w, err);
    if (rc != HK_OK) return rc;
    hk_fact_id last = 0;
    while (!r->stop) {
        hk_fact_id id;
        hks_fact_syms fs;
        bool has = false;
        if (n == switch_at) {
            bool done = false;
            rc = pred_rest_by_key(r, i, pred, facts, last, path, &done, err);
            if (rc != HK_OK || done) break;
            switch_at = UINT64_MAX; /* did not fit: go on by id */
        }
        rc = hks_pred_next(w, &id, &fs, &has, err);
        if (rc != HK_OK || !has) break;
        n++;
        last = id;
        rc = candidate(r, i, 0, id, &fs, path, err);
        if (rc != HK_OK) break;
    }
    hks_pred_close(w);
    return rc;
}

static hk_err level_store(run *r, uint32_t i, bool path, hk_error *err)
{
    const step *st = &r->steps[i];
    const hkq_atom *at = &r->q->atoms[st->atom];
    hk_err rc = HK_OK;
    if (r->cmiss[st->atom]) return HK_OK;
    if (st->acc == ACC_ADJ) {
        uint32_t key = slot_val(r, st->atom, (uint32_t)st->key_pos + 1);
        uint32_t pred = at->slots[0].kind == HK_TERM_ANY ? 0
                        : (at->slots[0].kind == HK_TERM_VAR && !st->check[0])
                            ? 0
                            : slot_val(r, st->atom, 0);
        if (r->use_cache && i > 0 && !path && st->isect_slot) {
            bool done = false;
            rc = level_isect(r, i, key, pred, &path, &done, err);
            if (rc != HK_OK || done) return rc;
        }
        if (r->use_cache && i > 0 && !path)
            return level_adj_cached(r, i, key, pred, &path, err);
        hks_adj *it = NULL;
        rc = hks_adj_open(r->t, key, st->key_pos, pred, &it, err);
        if (rc != HK_OK) return rc;
        while (!r->stop) {
            hks_adj_row row;
            bool has = false;
            rc = hks_adj_next(it, &row, &has, err);
            if (rc != HK_OK || !has) break;
            hks_fact_syms fs;
            bool cov = hks_adj_row_syms(&row, key, &fs);
            if (!cov && at->pat.n_args == 2) { /* not binary: no match */
                if ((rc = budget_check(r, err)) != HK_OK) break;
                continue;
            }
            rc = candidate(r, i, pred ? 0 : row.pred, row.fact,
                           cov ? &fs : NULL, &path, err);
            if (rc != HK_OK) break;
        }
        hks_adj_close(it);
        return rc;
    }
    if (st->acc == ACC_PROBE) {
        /* every slot is known: look the statement up by its symbol ids */
        hks_fact_syms fs;
        fs.pred = slot_val(r, st->atom, 0);
        fs.n_args = at->pat.n_args;
        for (uint32_t k = 0; k < fs.n_args; k++)
            fs.args[k] = slot_val(r, st->atom, k + 1);
        hk_fact_id id = 0;
        rc = find_fact(r, &fs, &id, err);
        if (rc != HK_OK || id == 0) return rc;
        return candidate(r, i, 0, id, &fs, &path, err);
    }
    if (st->acc == ACC_PRED) return level_pred(r, i, &path, err);
    hk_scan sc = HK_SCAN_INIT;
    sc.arity = at->pat.n_args;
    hk_query *it = NULL;
    rc = hk_query_open_scan(r->t, &sc, NULL, &it, err);
    if (rc != HK_OK) return rc;
    while (!r->stop) {
        hk_fact_id id;
        bool has = false;
        rc = hk_query_next_id(it, &id, &has, err);
        if (rc != HK_OK || !has) break;
        rc = candidate(r, i, 0, id, NULL, &path, err);
        if (rc != HK_OK) break;
    }
    hk_query_close(it);
    return rc;
}

static hk_err level(run *r, uint32_t i, bool path, hk_error *err)
{
    if (i == r->n_steps) {
        hkq_row row = {r->vals, r->facts};
        hkq_flow flow = HKQ_NEXT;
        hk_err rc = r->req->row(r->req->row_ud, &row, &flow, err);
        if (rc != HK_OK) return rc;
        if (flow == HKQ_STOP_BEFORE) {
            r->stop = true;
            return HK_OK;
        }
        r->res->rows++;
        r->taken = true;
        memcpy(r->prev_pred, r->cur_pred, sizeof r->prev_pred);
        memcpy(r->prev_id, r->cur_id, sizeof r->prev_id);
        if (flow == HKQ_STOP_AFTER) r->stop = true;
        return HK_OK;
    }
    const step *st = &r->steps[i];
    const hkq_src *src = r->req->srcs ? &r->req->srcs[st->pidx] : NULL;
    hk_err rc = HK_OK;
    if (r->use_cache && st->n_look) {
        bool dead = false;
        rc = lookahead(r, i, &dead, err);
        if (rc != HK_OK || dead) return rc;
    }
    if (src == NULL || src->store) rc = level_store(r, i, path, err);
    if (rc != HK_OK || r->stop || src == NULL || src->rel == NULL) return rc;
    const hkq_rel *rel = src->rel;
    bool no_path = false;
    if (rel->probe) {
        /* an argument known before this step: read its index entry */
        const hkq_atom *at = &r->q->atoms[st->atom];
        for (uint32_t k = 1; k <= at->pat.n_args; k++) {
            const hkq_slot *s = &at->slots[k];
            if (s->kind == HK_TERM_ANY) continue;
            if (s->kind == HK_TERM_VAR) {
                /* bound before this step: its first slot compares */
                uint32_t f = 0;
                while (at->slots[f].kind != HK_TERM_VAR ||
                       at->slots[f].var != s->var)
                    f++;
                if (!st->check[f]) continue;
            }
            const uint32_t *list = NULL;
            size_t n = 0;
            if (!rel->probe(rel->probe_ud, k - 1, slot_val(r, st->atom, k),
                            &list, &n))
                continue;
            for (size_t j = 0; j < n && !r->stop && list[j] < rel->n; j++) {
                rc = candidate(r, i, 0, rel->ids ? rel->ids[list[j]] : 0,
                               &rel->facts[list[j]], &no_path, err);
                if (rc != HK_OK) return rc;
            }
            return HK_OK;
        }
    }
    for (size_t k = 0; k < rel->n && !r->stop; k++) {
        rc = candidate(r, i, 0, rel->ids ? rel->ids[k] : 0, &rel->facts[k],
                       &no_path, err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

hk_err hkq_run(hk_txn *t, const hkq_query *q, const hkq_run_req *req,
               hkq_run_res *res, hk_error *err)
{
    hk_buf keep = res->cursor;
    memset(res, 0, sizeof *res);
    res->cursor = keep;
    hk_buf_reset(&res->cursor);
    run *r = hk_calloc(1, sizeof *r);
    if (!r) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    r->t = t;
    r->q = q;
    r->req = req;
    r->res = res;
    /* rule runs over relations read the store as it changes: no cache */
    r->use_cache = req->srcs == NULL;
    if (req->budget.max_us > 0) r->deadline = hk_now_us() + req->budget.max_us;
    hk_err rc = resolve_consts(r, err);
    bool with_rel = false;
    if (req->srcs)
        for (uint32_t p = 0; p < q->n_pos; p++)
            if (req->srcs[p].rel) with_rel = true;
    if (rc == HK_OK && req->cursor && req->cursor[0]) {
        rc = with_rel ? bad_cursor(err) : cursor_read(r, req->cursor, err);
    } else if (rc == HK_OK) {
        rc = plan(r, err);
    }
    if (rc == HK_OK) rc = level(r, 0, r->resume, err);
    res->n_steps = r->n_steps;
    for (uint32_t i = 0; i < r->n_steps; i++) {
        res->steps[i].atom = r->steps[i].pidx;
        res->steps[i].access = access_names[r->steps[i].acc];
        res->steps[i].key_pos = r->steps[i].key_pos;
        res->steps[i].estimate = r->steps[i].est;
    }
    if (rc == HK_OK && r->stop && r->taken) rc = cursor_write(r, &res->cursor);
    hkq_cache_free(&r->cache);
    for (uint32_t i = 0; i < HKQ_MAX_ATOMS; i++)
        hkq_cbuild_free(&r->build[i]);
    hkq_cbuild_free(&r->peek);
    hk_free(r);
    return rc;
}
