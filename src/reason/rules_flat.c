/*
 * rules_flat.c — the id-level fixpoint: semi-naive materialization of
 * programs whose rules are positive conjunctions of patterns (no `not`,
 * no comparisons), the shape of transitive closures and of the ontology
 * rules. Other programs run in rules_fixpoint.c. Both write
 * rules.derived records that proofs, the checker and the incremental
 * maintenance read alike: here the compact version 2 (the rule, the round
 * and the values of the variables the head does not bind: the premises
 * follow from them and the fact; rules_int.h), there version 1 (every
 * premise's id or key).
 *
 * ==== Relations ====
 * One relation per (predicate, arity) a rule mentions: a flat array of
 * symbol-id tuples (arity uint32 each), first the asserted facts (read
 * once from the store's statement index, one key range per predicate,
 * pre-sized from its predicate count), then the
 * derived ones, appended as they are found. Beside it the fact ids
 * (asserted id, or HKR_DERIVED_TAG | index of the derived fact).
 * A head relation has a set of its tuples (open addressing, slots hold
 * position + 1), so a tuple already asserted or derived is never derived
 * again. Each argument position a join binds has an index: a hash from
 * symbol to the newest position holding it, and per position the
 * previous one with the same symbol (a chain, newest first), extended
 * when a join is planned, up to the tuples that round may read.
 *
 * ==== Evaluation ====
 * As in rules_fixpoint.c: strata in order; round 0 of a stratum runs each
 * rule over the relations as they are; each later round runs, for every
 * pattern over a relation the stratum derives, the rule with that pattern
 * reading only the previous round's tuples ([delta_lo, round_start)) and
 * the others everything before the round ([0, round_start)). Facts found
 * in a round are appended at once but read only from the next round on
 * (positions >= round_start are skipped), so a fact's premises come
 * from earlier rounds, which the checker and the maintenance rely on.
 * A join is a nested loop in a greedy order (the delta pattern first,
 * then always a pattern with a bound argument, probed through its index).
 *
 * Memory: per fact of a mentioned relation its tuple, its id, a set slot
 * and an index link per indexed position; per derived fact 24 bytes and
 * its premises. Threads: one call per write transaction, on its thread.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "reason/rules_int.h"
#include "store/rule_audit.h"

/* ==== Growing arrays ====
 * The arrays that grow with the facts (tuples, ids, index chains,
 * derived facts, free-variable values) get mappings of their own once
 * they pass ARR_MAPPED bytes: growing one then moves its pages (mremap)
 * instead of copying them into fresh ones, which was an eighth of the CPU
 * of a 5M-fact materialization (the copy and the faults of its target).
 * Below that (and under AddressSanitizer, so it still sees every access)
 * they are heap blocks. Which one an array is follows from its size, so
 * arr_free needs the same size arr_grow was last given. */
#if defined(__SANITIZE_ADDRESS__)
#define ARR_MAPPED SIZE_MAX
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARR_MAPPED SIZE_MAX
#endif
#endif
#ifndef ARR_MAPPED
#define ARR_MAPPED ((size_t)1 << 20)
#endif

/* p (old bytes, 0 when p is NULL) resized to n bytes, contents kept;
 * NULL (p untouched) when out of memory. */
static void *arr_grow(void *p, size_t old, size_t n)
{
    if (old < ARR_MAPPED && n < ARR_MAPPED) return hk_realloc(p, n);
    void *q;
    if (old >= ARR_MAPPED) {
        q = mremap(p, old, n, MREMAP_MAYMOVE);
    } else {
        q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (q == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
        /* the whole mapping (advice on a part would split it, and
         * mremap moves one mapping only); it stays with it as it grows */
        (void)madvise(q, n, MADV_HUGEPAGE);
#endif
        if (p) {
            memcpy(q, p, old);
            hk_free(p);
        }
    }
    return q == MAP_FAILED ? NULL : q;
}

static void arr_free(void *p, size_t n)
{
    if (!p) return;
    if (n >= ARR_MAPPED)
        (void)munmap(p, n);
    else
        hk_free(p);
}

/* ==== Relations ==== */

typedef struct fidx {
    uint32_t *key;  /* symbol per slot (valid when head != 0) */
    uint32_t *head; /* newest position + 1 holding it; 0 = empty slot */
    size_t cap;     /* slots, power of two */
    size_t used;    /* distinct symbols */
    uint32_t *next; /* per position: previous position + 1, same symbol */
    size_t next_sz; /* bytes of next (arr_grow) */
    size_t upto;    /* positions [0, upto) are linked in */
    bool on;        /* built */
} fidx;

typedef struct frel {
    uint32_t pred, ar;    /* predicate symbol, arity */
    uint32_t *tup;        /* n tuples of ar symbols */
    uint64_t *id;         /* per tuple: fact id or HKR_DERIVED_TAG | index */
    size_t tup_sz, id_sz; /* bytes of tup and id (arr_grow) */
    size_t n, cap;        /* tuples, allocated */
    size_t n_asserted;    /* tuples [0, n_asserted) are asserted */
    bool is_head;         /* some rule derives it: keeps a set */
    uint64_t *set;        /* hash tag << 32 | position + 1; 0 = empty */
    size_t set_cap;       /* power of two */
    size_t delta_lo;      /* previous round: [delta_lo, round_start) */
    size_t round_start;   /* tuples readable this round */
    bool derived_here;    /* head of a rule of the running stratum */
    fidx ix[HK_MAX_ARGS];
} frel;

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static uint64_t tup_hash(const uint32_t *a, uint32_t ar)
{
    uint64_t h = ar;
    for (uint32_t i = 0; i < ar; i++)
        h = mix64(h ^ ((uint64_t)a[i] << 1 | (uint64_t)i << 40));
    return h;
}

/* Asks for huge pages on the 2 MB-aligned interior of a large array
 * (relations, sets, derived facts of 10^5..10^7 entries): filling it then
 * takes a page fault per 2 MB instead of per 4 KB, which was a sixth of
 * the fixpoint's time on a 500k-pair closure. Advice only. */
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (n < 2 * huge) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(huge - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static hk_err nomem(hk_error *err)
{
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* The set: a slot is 0 (empty) or the tuple's 32-bit hash << 32 |
 * position + 1; the hash also picks the slot, so a miss costs one cache
 * line and growing never reads the tuples. */
static uint32_t tup_tag(const uint32_t *a, uint32_t ar)
{
    return (uint32_t)(tup_hash(a, ar) >> 32);
}

/* The slot of tuple a (hash tag) in r's set: the one holding it, or the
 * empty one where it goes. The set must have a slot (set_cap > 0). */
static uint64_t *set_slot(const frel *r, const uint32_t *a, uint32_t tag)
{
    size_t m = r->set_cap - 1, i = tag & m;
    for (uint64_t s; (s = r->set[i]) != 0; i = (i + 1) & m) {
        if ((uint32_t)(s >> 32) != tag) continue;
        size_t pos = (uint32_t)s - 1;
        if (memcmp(r->tup + pos * r->ar, a, r->ar * sizeof *a) == 0) break;
    }
    return &r->set[i];
}

static void set_put_slot(uint64_t *set, size_t cap, uint64_t slot)
{
    size_t m = cap - 1, i = (uint32_t)(slot >> 32) & m;
    while (set[i])
        i = (i + 1) & m;
    set[i] = slot;
}

/* Makes the set hold at least want tuples at load <= 1/2. */
static hk_err set_reserve(frel *r, size_t want, hk_error *err)
{
    if (want * 2 <= r->set_cap) return HK_OK;
    size_t nc = r->set_cap ? r->set_cap : 1024;
    while (nc < want * 2)
        nc *= 2;
    if (nc > ((size_t)1 << 32))
        return hk_error_set(err, HK_ERR_LIMIT, "relation too large");
    uint64_t *ns = hk_calloc(nc, sizeof *ns);
    if (!ns) return nomem(err);
    advise_huge(ns, nc * sizeof *ns);
    for (size_t i = 0; i < r->set_cap; i++)
        if (r->set[i]) set_put_slot(ns, nc, r->set[i]);
    hk_free(r->set);
    r->set = ns;
    r->set_cap = nc;
    return HK_OK;
}

static uint32_t *ix_slot_head(const fidx *x, uint32_t sym)
{
    size_t m = x->cap - 1, i = (size_t)mix64(sym) & m;
    while (x->head[i] && x->key[i] != sym)
        i = (i + 1) & m;
    return &x->head[i];
}

/* Links position pos (symbol sym) into index x; next has room. */
static hk_err ix_add(fidx *x, uint32_t sym, size_t pos, hk_error *err)
{
    if ((x->used + 1) * 2 > x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 1024;
        uint32_t *nk = hk_malloc(nc * sizeof *nk);
        uint32_t *nh = hk_calloc(nc, sizeof *nh);
        if (!nk || !nh) {
            hk_free(nk);
            hk_free(nh);
            return nomem(err);
        }
        fidx o = *x;
        x->key = nk;
        x->head = nh;
        x->cap = nc;
        for (size_t i = 0; i < o.cap; i++) {
            if (!o.head[i]) continue;
            uint32_t *h = ix_slot_head(x, o.key[i]);
            x->key[h - x->head] = o.key[i];
            *h = o.head[i];
        }
        hk_free(o.key);
        hk_free(o.head);
    }
    uint32_t *h = ix_slot_head(x, sym);
    if (!*h) {
        x->key[h - x->head] = sym;
        x->used++;
    }
    x->next[pos] = *h;
    *h = (uint32_t)(pos + 1);
    return HK_OK;
}

static hk_err rel_reserve(frel *r, size_t want, hk_error *err)
{
    if (want <= r->cap) return HK_OK;
    if (want >= UINT32_MAX / 2)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "more than %u facts of one predicate",
                            UINT32_MAX / 2);
    size_t nc = r->cap ? r->cap : 256;
    while (nc < want)
        nc *= 2;
    /* each array keeps its own size: one that grew before another
     * failed stays larger than r->cap, which is harmless */
    void *q = arr_grow(r->tup, r->tup_sz, nc * r->ar * sizeof *r->tup);
    if (!q) return nomem(err);
    r->tup = q;
    r->tup_sz = nc * r->ar * sizeof *r->tup;
    if (!(q = arr_grow(r->id, r->id_sz, nc * sizeof *r->id))) return nomem(err);
    r->id = q;
    r->id_sz = nc * sizeof *r->id;
    for (uint32_t k = 0; k < r->ar; k++) {
        fidx *ix = &r->ix[k];
        if (!ix->on) continue;
        if (!(q = arr_grow(ix->next, ix->next_sz, nc * sizeof *ix->next)))
            return nomem(err);
        ix->next = q;
        ix->next_sz = nc * sizeof *ix->next;
    }
    r->cap = nc;
    return HK_OK;
}

/* Appends tuple a with id; into the set when r is a head relation (tag
 * is the tuple's tup_tag; slot, when not NULL, is the empty slot
 * set_slot found for it after set_reserve(r, r->n + 1)). The indexes
 * are not touched: ix_build links new positions in before a join reads
 * them. */
static hk_err rel_append(frel *r, const uint32_t *a, uint32_t tag, uint64_t id,
                         uint64_t *slot, hk_error *err)
{
    if (r->n == r->cap) {
        hk_err rc = rel_reserve(r, r->n + 1, err);
        if (rc != HK_OK) return rc;
    }
    size_t pos = r->n;
    memcpy(r->tup + pos * r->ar, a, r->ar * sizeof *a);
    r->id[pos] = id;
    r->n++;
    if (r->is_head) {
        uint64_t v = (uint64_t)tag << 32 | (pos + 1);
        if (slot) {
            *slot = v;
        } else {
            hk_err rc = set_reserve(r, r->n, err);
            if (rc != HK_OK) return rc;
            set_put_slot(r->set, r->set_cap, v);
        }
    }
    return HK_OK;
}

/* Makes the index of argument position k cover the tuples a join may
 * read ([0, round_start)). A join never reads the tuples appended during
 * its round, so linking them in waits until the next plan: a relation
 * grows without index work, and an index no later round probes (the
 * derived relation's, after round 0 of a closure) costs nothing more. */
static hk_err ix_build(frel *r, uint32_t k, hk_error *err)
{
    fidx *x = &r->ix[k];
    if (!x->on) {
        size_t n = (r->cap ? r->cap : 1) * sizeof *x->next;
        x->next = arr_grow(NULL, 0, n);
        if (!x->next) return nomem(err);
        x->next_sz = n;
        x->on = true;
    }
    for (; x->upto < r->round_start; x->upto++) {
        hk_err rc = ix_add(x, r->tup[x->upto * r->ar + k], x->upto, err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

/* ==== Compiled rules ==== */

enum { OP_ANY, OP_CONST, OP_BIND, OP_CHECK };

typedef struct fstep {
    uint32_t rel;              /* relation */
    uint32_t prem;             /* index among positive patterns */
    bool delta;                /* reads [delta_lo, round_start) */
    int32_t probe;             /* argument probed, -1: scan */
    bool probe_const;          /* probe by a constant (else a var) */
    uint32_t probe_val;        /* the constant or the variable */
    uint8_t op[HK_MAX_ARGS];   /* per argument */
    uint32_t opv[HK_MAX_ARGS]; /* constant symbol or variable */
} fstep;

typedef struct fatom {
    uint32_t rel;
    uint32_t ar;
    hk_term_kind kind[HK_MAX_ARGS];
    uint32_t val[HK_MAX_ARGS]; /* constant symbol or variable */
} fatom;

typedef struct frule {
    const hkr_rule *r;
    bool dead;                      /* a constant is no symbol */
    uint32_t head_rel;              /* relation of the head */
    uint32_t head_val[HK_MAX_ARGS]; /* constant symbol or body variable */
    uint32_t n_atoms;               /* positive patterns, in pos order */
    fatom atom[HKQ_MAX_ATOMS];
    hkr_freevars fv; /* what a support stores (version 2) */
} frule;

typedef struct fdf {
    uint32_t rel, pos; /* where its tuple is */
    uint32_t rule;     /* rule that derived it */
    uint32_t round;    /* global round */
    size_t sup;        /* first free variable's value in fx.sup */
} fdf;

/* Head tuples a join finds are checked against the set in batches of
 * this many: first every slot is prefetched, then each is probed, so the
 * cache misses of a batch overlap instead of stalling one by one (the
 * probe was most of the fixpoint's time on closures of 10^5..10^6 pairs). */
#define EMIT_BATCH 32

typedef struct fx {
    hk_txn *t;
    frule *rules;
    size_t n_rules;
    frel *rels;
    size_t n_rels, cap_rels;
    fdf *df;
    size_t n_df, cap_df;
    uint32_t *sup; /* per derived fact, its rule's free variables' values */
    size_t n_sup, cap_sup;
    size_t df_sz, sup_sz; /* bytes of df and sup (arr_grow) */
    uint32_t round;
    /* the running join */
    const frule *cur;
    uint32_t cur_rule;
    fstep steps[HKQ_MAX_ATOMS];
    uint32_t n_steps;
    uint32_t vals[HKQ_MAX_VARS];
    uint64_t prem[HKQ_MAX_ATOMS];
    /* head tuples of the running join not yet checked against the set
     * (stride: the head's arity), their tags and free variables' values
     * (stride: the rule's free variables) */
    uint32_t cb_tup[EMIT_BATCH * HK_MAX_ARGS];
    uint32_t cb_tag[EMIT_BATCH];
    uint32_t cb_free[EMIT_BATCH * HKQ_MAX_VARS];
    uint32_t n_cb;
} fx;

bool hkr_flat_eligible(hkr_rule *const *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const hkq_query *q = rules[i]->body;
        if (hkq_n_cmps(q) != 0 || hkq_n_atoms(q) >= HKQ_MAX_ATOMS ||
            hkq_n_vars(q) > HKQ_MAX_VARS || hkq_n_atoms(q) == 0)
            return false;
        for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
            hkq_atom_view av;
            hkq_atom_view_get(q, a, &av);
            if (av.neg || av.kind[0] != HK_TERM_CONST || av.n_args == 0 ||
                av.n_args > HK_MAX_ARGS)
                return false;
            /* `_`: its value is in no binding, so no version-2 support */
            for (uint32_t k = 1; k <= av.n_args; k++)
                if (av.kind[k] == HK_TERM_ANY) return false;
        }
    }
    return true;
}

/* Index of the relation (pred, ar), created when new. */
static hk_err rel_get(fx *x, uint32_t pred, uint32_t ar, uint32_t *out,
                      hk_error *err)
{
    for (size_t i = 0; i < x->n_rels; i++)
        if (x->rels[i].pred == pred && x->rels[i].ar == ar) {
            *out = (uint32_t)i;
            return HK_OK;
        }
    if (x->n_rels == x->cap_rels) {
        size_t nc = x->cap_rels ? x->cap_rels * 2 : 16;
        frel *nr = hk_realloc(x->rels, nc * sizeof *nr);
        if (!nr) return nomem(err);
        x->rels = nr;
        x->cap_rels = nc;
    }
    frel *r = &x->rels[x->n_rels];
    memset(r, 0, sizeof *r);
    r->pred = pred;
    r->ar = ar;
    *out = (uint32_t)x->n_rels++;
    return HK_OK;
}

/* Appends one asserted fact to the relation of its arity (from the
 * first relation of its predicate on). */
typedef struct load_ctx {
    fx *x;
    size_t first; /* first relation of the predicate */
} load_ctx;

static hk_err load_one(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                       hk_error *err)
{
    load_ctx *lc = ud;
    fx *x = lc->x;
    for (size_t j = lc->first; j < x->n_rels; j++) {
        frel *r = &x->rels[j];
        if (r->pred != fs->pred || r->ar != fs->n_args) continue;
        uint32_t tag = r->is_head ? tup_tag(fs->args, r->ar) : 0;
        return rel_append(r, fs->args, tag, id, NULL, err);
    }
    return HK_OK;
}

/* Reads the asserted facts of every relation's predicate, straight from
 * the statement index (symbol ids and fact id in its keys and values). */
static hk_err load_asserted(fx *x, hk_error *err)
{
    hk_err rc = HK_OK;
    for (size_t i = 0; i < x->n_rels && rc == HK_OK; i++) {
        uint32_t pred = x->rels[i].pred;
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first &= x->rels[j].pred != pred;
        if (!first) continue;
        uint64_t cnt = 0;
        rc = hks_pred_count(x->t, pred, &cnt, err);
        if (rc != HK_OK || cnt == 0) continue;
        for (size_t j = i; j < x->n_rels && rc == HK_OK; j++)
            if (x->rels[j].pred == pred)
                rc = rel_reserve(&x->rels[j], cnt, err);
        load_ctx lc = {x, i};
        if (rc == HK_OK)
            rc = hks_pred_syms_scan(x->t, pred, load_one, &lc, err);
        for (size_t j = i; j < x->n_rels; j++)
            if (x->rels[j].pred == pred) x->rels[j].n_asserted = x->rels[j].n;
    }
    return rc;
}

/* Relations, constants and heads of every rule (symbols of heads,
 * head constants and positive patterns created when new, as the other
 * evaluator does). */
static hk_err compile(fx *x, hkr_rule *const *rules, hk_error *err)
{
    hk_err rc = HK_OK;
    for (size_t ri = 0; ri < x->n_rules && rc == HK_OK; ri++) {
        const hkr_rule *r = rules[ri];
        frule *f = &x->rules[ri];
        f->r = r;
        uint32_t pred = 0;
        rc = hks_rule_sym(x->t, r->head_pred, strlen(r->head_pred), &pred, err);
        if (rc == HK_OK) rc = rel_get(x, pred, r->head_n, &f->head_rel, err);
        for (uint32_t k = 0; k < r->head_n && rc == HK_OK; k++) {
            if (r->head_is_var[k])
                f->head_val[k] = r->head_var[k];
            else
                rc = hks_rule_sym(x->t, r->head_const[k],
                                  strlen(r->head_const[k]), &f->head_val[k],
                                  err);
        }
        hkr_free_vars(r, &f->fv);
        const hkq_query *q = r->body;
        for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK; a++) {
            hkq_atom_view av;
            hkq_atom_view_get(q, a, &av);
            fatom *fa = &f->atom[av.pos_index];
            f->n_atoms++;
            fa->ar = av.n_args;
            rc = hks_rule_sym(x->t, av.text[0], strlen(av.text[0]), &pred, err);
            if (rc == HK_OK) rc = rel_get(x, pred, av.n_args, &fa->rel, err);
            for (uint32_t k = 0; k < av.n_args && rc == HK_OK; k++) {
                fa->kind[k] = av.kind[k + 1];
                if (av.kind[k + 1] == HK_TERM_VAR) {
                    fa->val[k] = av.var[k + 1];
                } else if (av.kind[k + 1] == HK_TERM_CONST) {
                    const char *c = av.text[k + 1];
                    rc = hks_sym_id(x->t, c, strlen(c), &fa->val[k], err);
                    if (rc == HK_ERR_NOT_FOUND) {
                        hk_error_clear(err);
                        rc = HK_OK;
                        f->dead = true;
                    }
                }
            }
        }
    }
    for (size_t ri = 0; ri < x->n_rules; ri++)
        x->rels[x->rules[ri].head_rel].is_head = true;
    return rc;
}

/* Orders rule f's patterns for a join whose pattern delta (UINT32_MAX:
 * none) reads the previous round: that one first, then always the
 * pattern with the most bound arguments (earlier on ties). */
static hk_err plan(fx *x, const frule *f, uint32_t delta, hk_error *err)
{
    bool bound[HKQ_MAX_VARS] = {false}, used[HKQ_MAX_ATOMS] = {false};
    x->n_steps = 0;
    for (uint32_t s = 0; s < f->n_atoms; s++) {
        uint32_t best = UINT32_MAX;
        int best_score = -1;
        for (uint32_t a = 0; a < f->n_atoms; a++) {
            if (used[a]) continue;
            if (delta != UINT32_MAX && s == 0 && a != delta) continue;
            int score = 0;
            for (uint32_t k = 0; k < f->atom[a].ar; k++)
                if (f->atom[a].kind[k] == HK_TERM_CONST ||
                    (f->atom[a].kind[k] == HK_TERM_VAR &&
                     bound[f->atom[a].val[k]]))
                    score++;
            if (score > best_score) {
                best = a;
                best_score = score;
            }
        }
        used[best] = true;
        const fatom *fa = &f->atom[best];
        fstep *st = &x->steps[x->n_steps++];
        st->rel = fa->rel;
        st->prem = best;
        st->delta = best == delta;
        st->probe = -1;
        bool here[HKQ_MAX_VARS] = {false};
        for (uint32_t k = 0; k < fa->ar; k++) {
            uint32_t v = fa->val[k];
            if (fa->kind[k] == HK_TERM_ANY) {
                st->op[k] = OP_ANY;
            } else if (fa->kind[k] == HK_TERM_CONST) {
                st->op[k] = OP_CONST;
                st->opv[k] = v;
                if (st->probe < 0 && !st->delta) {
                    st->probe = (int32_t)k;
                    st->probe_const = true;
                    st->probe_val = v;
                }
            } else if (bound[v]) {
                st->op[k] = OP_CHECK;
                st->opv[k] = v;
                if (st->probe < 0 && !st->delta && !here[v]) {
                    st->probe = (int32_t)k;
                    st->probe_const = false;
                    st->probe_val = v;
                }
            } else {
                st->op[k] = OP_BIND;
                st->opv[k] = v;
                bound[v] = here[v] = true;
            }
        }
        if (st->probe >= 0) {
            hk_err rc = ix_build(&x->rels[st->rel], (uint32_t)st->probe, err);
            if (rc != HK_OK) return rc;
        }
    }
    return HK_OK;
}

/* Checks the batched head tuples of the running rule against its head's
 * set, in the order found; the new ones are appended as derived facts. */
static hk_err flush_batch(fx *x, hk_error *err)
{
    const frule *f = x->cur;
    frel *h = &x->rels[f->head_rel];
    uint32_t n = x->n_cb;
    x->n_cb = 0;
    if (x->n_df + n > x->cap_df) {
        size_t nc = x->cap_df ? x->cap_df * 2 : 1024;
        while (nc < x->n_df + n)
            nc *= 2;
        fdf *nd = arr_grow(x->df, x->df_sz, nc * sizeof *nd);
        if (!nd) return nomem(err);
        x->df = nd;
        x->df_sz = nc * sizeof *nd;
        x->cap_df = nc;
    }
    if (x->n_sup + (size_t)n * f->fv.n > x->cap_sup) {
        size_t nc = x->cap_sup ? x->cap_sup * 2 : 2048;
        while (nc < x->n_sup + (size_t)n * f->fv.n)
            nc *= 2;
        uint32_t *ns = arr_grow(x->sup, x->sup_sz, nc * sizeof *ns);
        if (!ns) return nomem(err);
        x->sup = ns;
        x->sup_sz = nc * sizeof *ns;
        x->cap_sup = nc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *a = x->cb_tup + (size_t)i * h->ar;
        uint64_t *slot = set_slot(h, a, x->cb_tag[i]);
        if (*slot) continue;
        if (x->n_df >= UINT32_MAX / 2)
            return hk_error_set(err, HK_ERR_LIMIT, "more than %u derived facts",
                                UINT32_MAX / 2);
        fdf *d = &x->df[x->n_df];
        d->rel = f->head_rel;
        d->pos = (uint32_t)h->n;
        d->rule = x->cur_rule;
        d->round = x->round;
        d->sup = x->n_sup;
        if (f->fv.n)
            memcpy(x->sup + x->n_sup, x->cb_free + (size_t)i * f->fv.n,
                   f->fv.n * sizeof *x->sup);
        x->n_sup += f->fv.n;
        hk_err rc = rel_append(h, a, x->cb_tag[i], HKR_DERIVED_TAG | x->n_df,
                               slot, err);
        if (rc != HK_OK) return rc;
        x->n_df++;
    }
    return HK_OK;
}

/* The head of the running rule under x->vals: batched (its set slot
 * prefetched), checked when the batch is full or the join ends. */
static hk_err emit(fx *x, hk_error *err)
{
    const frule *f = x->cur;
    frel *h = &x->rels[f->head_rel];
    if (x->n_cb == 0 && (h->n + EMIT_BATCH) * 2 > h->set_cap) {
        /* room for the whole batch now, so the prefetched slots stay */
        hk_err rc = set_reserve(h, h->n + EMIT_BATCH, err);
        if (rc != HK_OK) return rc;
    }
    uint32_t *a = x->cb_tup + (size_t)x->n_cb * h->ar;
    for (uint32_t k = 0; k < h->ar; k++)
        a[k] = f->r->head_is_var[k] ? x->vals[f->head_val[k]] : f->head_val[k];
    uint32_t tag = tup_tag(a, h->ar);
    __builtin_prefetch(&h->set[tag & (h->set_cap - 1)]);
    x->cb_tag[x->n_cb] = tag;
    uint32_t *fr = x->cb_free + (size_t)x->n_cb * f->fv.n;
    for (uint32_t i = 0; i < f->fv.n; i++)
        fr[i] = x->vals[f->fv.var[i]];
    if (++x->n_cb == EMIT_BATCH) return flush_batch(x, err);
    return HK_OK;
}

/* True when tuple pos of step st's relation fits the bindings (and binds
 * its new variables). */
static bool match(fx *x, const fstep *st, const uint32_t *tup)
{
    for (uint32_t k = 0; k < x->rels[st->rel].ar; k++) {
        switch (st->op[k]) {
        case OP_CONST:
            if (tup[k] != st->opv[k]) return false;
            break;
        case OP_CHECK:
            if (tup[k] != x->vals[st->opv[k]]) return false;
            break;
        case OP_BIND:
            x->vals[st->opv[k]] = tup[k];
            break;
        default:
            break;
        }
    }
    return true;
}

static hk_err join(fx *x, uint32_t s, hk_error *err)
{
    if (s == x->n_steps) return emit(x, err);
    const fstep *st = &x->steps[s];
    const frel *r = &x->rels[st->rel];
    size_t lo = st->delta ? r->delta_lo : 0, hi = r->round_start;
    hk_err rc = HK_OK;
    if (st->probe >= 0) {
        const fidx *ix = &r->ix[st->probe];
        uint32_t key = st->probe_const ? st->probe_val : x->vals[st->probe_val];
        if (!ix->cap) return HK_OK;
        uint32_t p = *ix_slot_head(ix, key);
        while (p && rc == HK_OK) {
            size_t pos = p - 1;
            /* the relation may grow under us: re-read its arrays */
            p = r->ix[st->probe].next[pos];
            if (pos >= hi) continue;
            if (pos < lo) break;
            if (!match(x, st, r->tup + pos * r->ar)) continue;
            x->prem[st->prem] = r->id[pos];
            rc = join(x, s + 1, err);
        }
        return rc;
    }
    for (size_t pos = lo; pos < hi && rc == HK_OK; pos++) {
        if (!match(x, st, r->tup + pos * r->ar)) continue;
        x->prem[st->prem] = r->id[pos];
        rc = join(x, s + 1, err);
    }
    return rc;
}

static hk_err run(fx *x, uint32_t ri, uint32_t delta, hk_error *err)
{
    const frule *f = &x->rules[ri];
    if (f->dead) return HK_OK;
    hk_err rc = plan(x, f, delta, err);
    if (rc != HK_OK) return rc;
    x->cur = f;
    x->cur_rule = ri;
    x->n_cb = 0;
    rc = join(x, 0, err);
    if (rc == HK_OK && x->n_cb) rc = flush_batch(x, err);
    return rc;
}

static hk_err eval_stratum(fx *x, uint32_t s, hkr_reason_res *res,
                           hk_error *err)
{
    for (size_t i = 0; i < x->n_rels; i++) {
        frel *r = &x->rels[i];
        r->derived_here = false;
        r->delta_lo = r->round_start = r->n;
    }
    for (size_t ri = 0; ri < x->n_rules; ri++)
        if (x->rules[ri].r->stratum == s)
            x->rels[x->rules[ri].head_rel].derived_here = true;
    hk_err rc = HK_OK;
    for (size_t ri = 0; ri < x->n_rules && rc == HK_OK; ri++)
        if (x->rules[ri].r->stratum == s)
            rc = run(x, (uint32_t)ri, UINT32_MAX, err);
    x->round++;
    res->rounds++;
    while (rc == HK_OK) {
        bool any = false;
        for (size_t i = 0; i < x->n_rels; i++) {
            frel *r = &x->rels[i];
            r->delta_lo = r->round_start;
            r->round_start = r->n;
            if (r->derived_here && r->n > r->delta_lo) any = true;
        }
        if (!any) break;
        for (size_t ri = 0; ri < x->n_rules && rc == HK_OK; ri++) {
            const frule *f = &x->rules[ri];
            if (f->r->stratum != s) continue;
            for (uint32_t a = 0; a < f->n_atoms && rc == HK_OK; a++) {
                const frel *r = &x->rels[f->atom[a].rel];
                if (r->derived_here && r->round_start > r->delta_lo)
                    rc = run(x, (uint32_t)ri, a, err);
            }
        }
        x->round++;
        res->rounds++;
    }
    return rc;
}

/* ==== Storing ==== */

static void fact_of(const fx *x, size_t i, hks_fact_syms *fs)
{
    const fdf *d = &x->df[i];
    const frel *r = &x->rels[d->rel];
    fs->pred = r->pred;
    fs->n_args = r->ar;
    memcpy(fs->args, r->tup + (size_t)d->pos * r->ar, r->ar * sizeof *fs->args);
}

/* Sorting derived facts (as their positions in one relation) by tuple:
 * a merge sort, so no global comparison context is needed. */
static int tup_cmp(const uint32_t *a, const uint32_t *b, uint32_t ar)
{
    for (uint32_t k = 0; k < ar; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}

static void msort(const frel *r, uint32_t *v, uint32_t *tmp, size_t n)
{
    if (n < 2) return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint32_t p = v[i];
            size_t j = i;
            while (j > 0 && tup_cmp(r->tup + (size_t)v[j - 1] * r->ar,
                                    r->tup + (size_t)p * r->ar, r->ar) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = p;
        }
        return;
    }
    size_t h = n / 2;
    msort(r, v, tmp, h);
    msort(r, v + h, tmp, n - h);
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        v[o++] = tup_cmp(r->tup + (size_t)v[j] * r->ar,
                         r->tup + (size_t)tmp[i] * r->ar, r->ar) < 0
                     ? v[j++]
                     : tmp[i++];
    while (i < h)
        v[o++] = tmp[i++];
}

static int rel_order_cmp(const frel *a, const frel *b)
{
    if (a->pred != b->pred) return a->pred < b->pred ? -1 : 1;
    return a->ar < b->ar ? -1 : a->ar > b->ar;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* A derived fact in key order: its relation, its support's rule and
 * round, the free variable's value when its rule has one (else its index
 * in fx.df) and, when the relation's arity is 1 or 2, its tuple packed
 * into one number that orders as its key does (the arguments are
 * big-endian in the key; else its index in fx.df). Copied while the
 * facts are read in derivation order, so the store then reads keys and
 * supports sequentially: reaching each fact's tuple and support in key
 * order was a cache miss each, most of the store's CPU before. */
typedef struct skey {
    uint64_t k; /* packed tuple (arity <= 2) or index */
    uint32_t rel;
    uint32_t rule, round;
    uint32_t v0; /* the free variable's value (rule with one) or index */
} skey;

static uint64_t pack_tup(const uint32_t *a, uint32_t ar)
{
    return ar == 1 ? a[0] : (uint64_t)a[0] << 32 | a[1];
}

static void skey_fill(const fx *x, skey *s, const frel *r, size_t pos,
                      uint32_t rel)
{
    uint32_t df = (uint32_t)(r->id[pos] & ~HKR_DERIVED_TAG);
    const fdf *d = &x->df[df];
    s->k = r->ar <= 2 ? pack_tup(r->tup + pos * r->ar, r->ar) : df;
    s->rel = rel;
    s->rule = d->rule;
    s->round = d->round;
    s->v0 = x->rules[d->rule].fv.n == 1 ? x->sup[d->sup] : df;
}

/* LSD radix sort of v[0..n) by k, 16 bits a pass; passes over bits that
 * no two keys differ in are skipped (symbol ids rarely use the high
 * ones). cnt: 65536 counters of scratch. */
static void radix_sort(skey *v, skey *tmp, size_t n, size_t *cnt)
{
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        all_or |= v[i].k;
        all_and &= v[i].k;
    }
    skey *src = v, *dst = tmp;
    for (unsigned sh = 0; sh < 64; sh += 16) {
        if ((((all_or ^ all_and) >> sh) & 0xffff) == 0) continue;
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i].k >> sh) & 0xffff]++;
        size_t sum = 0;
        for (size_t b = 0; b < 65536; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i].k >> sh) & 0xffff]++] = src[i];
        skey *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, n * sizeof *v);
}

/* The derived facts in key order of rules.derived into *out (x->n_df). */
static hk_err key_order(const fx *x, skey **out, hk_error *err)
{
    size_t n_all = x->n_df ? x->n_df : 1;
    skey *ord = hk_malloc(n_all * sizeof *ord);
    skey *tmp = hk_malloc(n_all * sizeof *tmp);
    size_t *cnt = hk_malloc(65536 * sizeof *cnt);
    uint32_t *rel_ord =
        hk_malloc((x->n_rels ? x->n_rels : 1) * sizeof *rel_ord);
    if (!ord || !tmp || !cnt || !rel_ord) {
        hk_free(ord);
        hk_free(tmp);
        hk_free(cnt);
        hk_free(rel_ord);
        return nomem(err);
    }
    advise_huge(ord, n_all * sizeof *ord);
    advise_huge(tmp, n_all * sizeof *tmp);
    for (size_t i = 0; i < x->n_rels; i++) {
        size_t j = i;
        while (j > 0 &&
               rel_order_cmp(&x->rels[rel_ord[j - 1]], &x->rels[i]) > 0) {
            rel_ord[j] = rel_ord[j - 1];
            j--;
        }
        rel_ord[j] = (uint32_t)i;
    }
    size_t o = 0;
    for (size_t k = 0; k < x->n_rels; k++) {
        const frel *r = &x->rels[rel_ord[k]];
        size_t n = r->n - r->n_asserted;
        skey *v = ord + o;
        if (r->ar <= 2) {
            for (size_t p = 0; p < n; p++) {
                size_t pos = r->n_asserted + p;
                skey_fill(x, &v[p], r, pos, rel_ord[k]);
            }
            radix_sort(v, tmp, n, cnt);
        } else {
            /* wider tuples: positions sorted by comparing tuples, in the
             * scratch array's memory (8 of its 24 bytes per fact) */
            uint32_t *pv = (uint32_t *)tmp, *pt = pv + n;
            for (size_t p = 0; p < n; p++)
                pv[p] = (uint32_t)(r->n_asserted + p);
            msort(r, pv, pt, n);
            for (size_t p = 0; p < n; p++) {
                skey_fill(x, &v[p], r, pv[p], rel_ord[k]);
            }
        }
        o += n;
    }
    hk_free(tmp);
    hk_free(cnt);
    hk_free(rel_ord);
    *out = ord;
    return HK_OK;
}

static size_t skey_key(const fx *x, const skey *s, uint8_t *key)
{
    const frel *r = &x->rels[s->rel];
    hks_fact_syms fs;
    if (r->ar <= 2) {
        fs.pred = r->pred;
        fs.n_args = r->ar;
        fs.args[0] = r->ar == 1 ? (uint32_t)s->k : (uint32_t)(s->k >> 32);
        fs.args[1] = (uint32_t)s->k;
    } else {
        fact_of(x, (size_t)s->k, &fs);
    }
    return hkr_key_of(&fs, key);
}

/* The support record (version 2, rules_int.h) of s: its rule, its round
 * and the values of its rule's free variables; the premises follow from
 * them and the fact. */
static hk_err skey_support(const fx *x, const skey *s, hk_buf *v, hk_error *err)
{
    const frule *f = &x->rules[s->rule];
    const uint32_t *vals = NULL;
    if (f->fv.n == 1)
        vals = &s->v0;
    else if (f->fv.n > 1)
        vals = x->sup + x->df[s->v0].sup;
    return hkr_support_v2(v, f->r->name, s->round, vals, f->fv.n, err);
}

/* Merges the derived facts into rules.derived: old keys that are gone
 * are deleted, new ones written (appended when past every old key), a
 * kept one rewritten only when its support changed; when more keys are
 * written than there were, everything is rewritten in key order. */
static hk_err store(fx *x, const hkr_dbs *d, hk_error *err)
{
    skey *ord = NULL;
    hk_err rc = key_order(x, &ord, err);
    if (rc != HK_OK) return rc;
    uint8_t *write = hk_calloc(x->n_df ? x->n_df : 1, 1);
    hk_buf v = HK_BUF_INIT, gone = HK_BUF_INIT; /* gone: len byte + key */
    uint8_t key[HKR_KEY_MAX];
    hks_cursor *c = NULL;
    if (!write) rc = nomem(err);
    if (rc == HK_OK) rc = hks_cursor_open(x->t, d->derived, &c, err);
    bool found = false;
    hks_val k, old;
    if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
    size_t j = 0, n_kept = 0;
    while (rc == HK_OK && j < x->n_df) {
        size_t kl = skey_key(x, &ord[j], key);
        int cmp = found ? key_cmp(k.data, k.len, key, kl) : 1;
        if (cmp < 0) {
            uint8_t l = (uint8_t)(k.len > HKR_KEY_MAX ? HKR_KEY_MAX : k.len);
            if (hk_buf_append(&gone, &l, 1) != HK_OK ||
                hk_buf_append(&gone, k.data, l) != HK_OK)
                rc = nomem(err);
            if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
            continue;
        }
        if (cmp > 0) {
            write[j++] = found ? 1 : 2; /* 2: past every old key */
            continue;
        }
        rc = skey_support(x, &ord[j], &v, err);
        if (rc == HK_OK &&
            (old.len != v.len || memcmp(old.data, v.data, v.len) != 0))
            write[j] = 1;
        j++;
        n_kept++;
        if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
    }
    while (rc == HK_OK && found) {
        uint8_t l = (uint8_t)(k.len > HKR_KEY_MAX ? HKR_KEY_MAX : k.len);
        if (hk_buf_append(&gone, &l, 1) != HK_OK ||
            hk_buf_append(&gone, k.data, l) != HK_OK)
            rc = nomem(err);
        if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
    }
    if (c) hks_cursor_close(c);
    c = NULL;
    /* Mostly new keys: empty the database and append everything in key
     * order (pages filled, no B-tree splits) instead of inserting among
     * the old keys. */
    size_t n_write = 0, n_old = n_kept;
    for (size_t i = 0; i < x->n_df; i++)
        n_write += write[i] != 0;
    for (size_t off = 0; off < gone.len; off += 1 + (uint8_t)gone.data[off])
        n_old++;
    bool rewrite = rc == HK_OK && n_write > n_old && n_old > 0;
    if (rewrite) {
        hk_buf_reset(&gone);
        rc = hks_cursor_open(x->t, d->derived, &c, err);
        found = false;
        if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
        while (rc == HK_OK && found) {
            uint8_t l = (uint8_t)(k.len > HKR_KEY_MAX ? HKR_KEY_MAX : k.len);
            if (hk_buf_append(&gone, &l, 1) != HK_OK ||
                hk_buf_append(&gone, k.data, l) != HK_OK)
                rc = nomem(err);
            if (rc == HK_OK) rc = hks_cursor_next(c, &k, &old, &found, err);
        }
        if (c) hks_cursor_close(c);
        memset(write, 2, x->n_df);
    }
    for (size_t off = 0; rc == HK_OK && off < gone.len;) {
        uint8_t l = (uint8_t)gone.data[off];
        hks_val kv = {(const uint8_t *)gone.data + off + 1, l};
        rc = hks_del(x->t, d->derived, kv, NULL, err);
        off += 1 + (size_t)l;
    }
    for (size_t i = 0; rc == HK_OK && i < x->n_df; i++) {
        if (!write[i]) continue;
        hks_val kv = {key, skey_key(x, &ord[i], key)};
        rc = skey_support(x, &ord[i], &v, err);
        if (rc != HK_OK) break;
        hks_val vv = {v.data, v.len};
        rc = hks_put(x->t, d->derived, kv, vv,
                     write[i] == 2 ? HKS_PUT_APPEND : 0, err);
    }
    hk_buf_free(&v);
    hk_buf_free(&gone);
    hk_free(write);
    hk_free(ord);
    return rc;
}

/* Frees the sets and indexes, which only the fixpoint reads: the store
 * then gets their pages back for its sort instead of faulting in fresh
 * ones (first touches were a fifth of a 5M-fact materialization). */
static void fx_free_lookup(fx *x)
{
    for (size_t i = 0; i < x->n_rels; i++) {
        frel *r = &x->rels[i];
        hk_free(r->set);
        r->set = NULL;
        r->set_cap = 0;
        for (uint32_t k = 0; k < HK_MAX_ARGS; k++) {
            fidx *ix = &r->ix[k];
            hk_free(ix->key);
            hk_free(ix->head);
            arr_free(ix->next, ix->next_sz);
            memset(ix, 0, sizeof *ix);
        }
    }
}

static void fx_free(fx *x)
{
    fx_free_lookup(x);
    for (size_t i = 0; i < x->n_rels; i++) {
        frel *r = &x->rels[i];
        arr_free(r->tup, r->tup_sz);
        arr_free(r->id, r->id_sz);
    }
    hk_free(x->rels);
    hk_free(x->rules);
    arr_free(x->df, x->df_sz);
    arr_free(x->sup, x->sup_sz);
}

/* Reserves room for as many derived facts as rules.derived holds now
 * (the previous materialization: a recomputation usually finds about as
 * many), so the arrays and sets do not grow and rehash while the
 * fixpoint runs. Every head relation gets that room (address space:
 * pages are touched only when used), within a bound. */
#define PRESIZE_MAX ((uint64_t)1 << 26)

static hk_err presize(fx *x, const hkr_dbs *d, hk_error *err)
{
    uint64_t prev = 0;
    hk_err rc = hkr_derived_count(x->t, d, &prev, err);
    size_t heads = 0;
    for (size_t i = 0; i < x->n_rels; i++)
        heads += x->rels[i].is_head;
    if (rc != HK_OK || heads == 0) return rc;
    if (prev * heads > PRESIZE_MAX) prev = PRESIZE_MAX / heads;
    for (size_t i = 0; rc == HK_OK && i < x->n_rels; i++) {
        frel *r = &x->rels[i];
        if (!r->is_head) continue;
        rc = rel_reserve(r, r->n + prev, err);
        if (rc == HK_OK) rc = set_reserve(r, r->n + prev, err);
    }
    if (rc == HK_OK && prev) {
        x->df = arr_grow(NULL, 0, prev * sizeof *x->df);
        if (!x->df) return nomem(err);
        x->df_sz = prev * sizeof *x->df;
        x->cap_df = prev;
        x->sup = arr_grow(NULL, 0, prev * 2 * sizeof *x->sup);
        if (!x->sup) return nomem(err);
        x->sup_sz = prev * 2 * sizeof *x->sup;
        x->cap_sup = prev * 2;
    }
    return rc;
}

static _Atomic uint64_t n_flat;

uint64_t hkr_flat_count(void)
{
    return n_flat;
}

hk_err hkr_flat_materialize(hk_txn *t, const hkr_dbs *d, hkr_rule *const *rules,
                            size_t n_rules, hkr_progress_fn progress,
                            void *progress_ud, hkr_reason_res *res,
                            hk_error *err)
{
    fx x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.n_rules = n_rules;
    n_flat++;
    int64_t t0 = hk_now_us(), c0 = hkr_cpu_us();
    x.rules = hk_calloc(n_rules ? n_rules : 1, sizeof *x.rules);
    hk_err rc = x.rules ? compile(&x, rules, err) : nomem(err);
    if (rc == HK_OK) rc = load_asserted(&x, err);
    res->load_us = hk_now_us() - t0;
    res->load_cpu_us = hkr_cpu_us() - c0;
    if (rc == HK_OK) rc = presize(&x, d, err);
    uint32_t max_s = 0;
    for (size_t i = 0; i < n_rules; i++)
        if (rules[i]->stratum > max_s) max_s = rules[i]->stratum;
    res->rules = (uint32_t)n_rules;
    res->strata = n_rules ? max_s + 1 : 0;
    for (uint32_t s = 0; rc == HK_OK && n_rules && s <= max_s; s++) {
        rc = eval_stratum(&x, s, res, err);
        if (progress) progress(progress_ud, s + 1, max_s + 1, x.n_df);
    }
    int64_t t1 = hk_now_us(), c1 = hkr_cpu_us();
    res->eval_us += t1 - t0;
    res->eval_cpu_us += c1 - c0;
    fx_free_lookup(&x);
    if (rc == HK_OK) rc = store(&x, d, err);
    res->store_us = hk_now_us() - t1;
    res->store_cpu_us = hkr_cpu_us() - c1;
    res->derived = x.n_df;
    fx_free(&x);
    return rc;
}
