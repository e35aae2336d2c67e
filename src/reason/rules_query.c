/*
 * rules_query.c — conjunctive queries over the asserted facts and the
 * derived facts together (see rules.h, "Queries").
 *
 * The derived facts of every predicate the query names (all of them for
 * a variable predicate) are read from rules.derived into in-memory
 * relations, and each positive pattern reads the store and its relation
 * (hkq_src), so the join of src/query answers over both from one
 * snapshot. Facts of a relation carry id 0, so a row says which of its
 * facts are derived. Negated patterns are checked by the join against the
 * store and here against the derived facts.
 *
 * Memory: the derived facts of the named predicates, for the call.
 * Threads: as the hk_txn passed.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "reason/rules_int.h"

typedef struct qrel {
    uint32_t pred;        /* predicate symbol; 0 = every predicate */
    hks_fact_syms *facts; /* derived facts */
    size_t n, cap;
} qrel;

typedef struct qctx {
    hk_txn *t;
    const hkr_dbs *d;
    const hkq_query *q;
    uint64_t limit; /* rows to deliver; 0 = all */
    uint64_t rows;  /* delivered */
    hkr_qrow_fn fn;
    void *ud;
    hk_buf vals; /* value strings of a row */
} qctx;

/* Loads the derived facts of pred (0: all) into r. */
static hk_err load(hk_txn *t, const hkr_dbs *d, uint32_t pred, qrel *r,
                   hk_error *err)
{
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(t, d->derived, &c, err);
    if (rc != HK_OK) return rc;
    uint8_t pk[4] = {(uint8_t)(pred >> 24), (uint8_t)(pred >> 16),
                     (uint8_t)(pred >> 8), (uint8_t)pred};
    hks_val key = {pk, pred ? 4 : 0}, k, v;
    bool found = false;
    rc = hks_cursor_seek(c, key, &k, &v, &found, err);
    while (rc == HK_OK && found) {
        if (pred && (k.len < 4 || memcmp(k.data, pk, 4) != 0)) break;
        if (r->n == r->cap) {
            size_t nc = r->cap ? r->cap * 2 : 256;
            hks_fact_syms *nf = hk_realloc(r->facts, nc * sizeof *nf);
            if (!nf) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            r->facts = nf;
            r->cap = nc;
        }
        if (!hkr_key_parse(k.data, k.len, &r->facts[r->n])) {
            rc = hk_error_set(err, HK_ERR_CORRUPT, "damaged derived fact key");
            break;
        }
        r->n++;
        rc = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    return rc;
}

static hk_err on_row(void *ud, const hkq_row *row, hkq_flow *flow,
                     hk_error *err)
{
    qctx *x = ud;
    const hkq_query *q = x->q;
    for (uint32_t a = 0; a < hkq_n_atoms(q); a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (!av.neg) continue;
        bool ex = false;
        hk_err rc = hkr_neg_exists(x->t, x->d, &av, row->values, &ex, err);
        if (rc != HK_OK) return rc;
        if (ex) return HK_OK;
    }
    uint32_t ns = hkq_n_select(q), np = hkq_n_positive(q);
    const char *names[HKQ_MAX_VARS], *values[HKQ_MAX_VARS];
    size_t offs[HKQ_MAX_VARS];
    bool derived[HKQ_MAX_ATOMS];
    hk_buf_reset(&x->vals);
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t v = hkq_select_var(q, i);
        const char *p;
        size_t n;
        hk_err rc = hks_sym_str(x->t, row->values[v], &p, &n, err);
        if (rc != HK_OK) return rc;
        offs[i] = x->vals.len;
        if (hk_buf_append(&x->vals, p, n) || hk_buf_append(&x->vals, "", 1))
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        names[i] = hkq_var_name(q, v);
    }
    for (uint32_t i = 0; i < ns; i++)
        values[i] = x->vals.data + offs[i];
    bool any = false;
    for (uint32_t i = 0; i < np; i++) {
        derived[i] = row->facts[i] == 0;
        any |= derived[i];
    }
    hkr_qrow out = {ns, names, values, np, row->facts, derived, any};
    hk_err rc = x->fn(x->ud, &out, err);
    if (rc != HK_OK) return rc;
    x->rows++;
    if (x->limit && x->rows >= x->limit) *flow = HKQ_STOP_AFTER;
    return HK_OK;
}

hk_err hkr_query(hk_txn *t, const hkr_dbs *d, const char *text, uint64_t limit,
                 hkr_qrow_fn fn, void *ud, uint64_t *rows, hk_error *err)
{
    *rows = 0;
    hkq_query *q = NULL;
    hk_err rc = hkq_parse(text, strlen(text), &q, err);
    if (rc != HK_OK) return rc;
    if (hkq_distinct(q) || hkq_ordered(q)) {
        hkq_free(q);
        return hk_error_set(err, HK_ERR_INVALID,
                            "DISTINCT and ORDER BY are not supported over "
                            "derived facts yet; add --asserted-only");
    }
    qrel rels[HKQ_MAX_ATOMS];
    hkq_rel hrels[HKQ_MAX_ATOMS];
    hkq_src srcs[HKQ_MAX_ATOMS];
    memset(rels, 0, sizeof rels);
    for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK; a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.neg) continue;
        uint32_t p = av.pos_index, pred = 0;
        srcs[p].store = true;
        srcs[p].rel = NULL;
        if (av.kind[0] == HK_TERM_CONST) {
            rc = hks_sym_id(t, av.text[0], strlen(av.text[0]), &pred, err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                rc = HK_OK;
                continue; /* nothing asserted or derived has it */
            }
            if (rc != HK_OK) break;
        }
        rels[p].pred = pred;
        rc = load(t, d, pred, &rels[p], err);
        if (rc == HK_OK && rels[p].n) {
            hrels[p].facts = rels[p].facts;
            hrels[p].ids = NULL;
            hrels[p].n = rels[p].n;
            hrels[p].probe = NULL;
            hrels[p].probe_ud = NULL;
            srcs[p].rel = &hrels[p];
        }
    }
    qctx x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.d = d;
    x.q = q;
    x.limit = limit ? limit : hkq_limit(q);
    x.fn = fn;
    x.ud = ud;
    if (rc == HK_OK) {
        hkq_run_req req;
        memset(&req, 0, sizeof req);
        req.srcs = srcs;
        req.row = on_row;
        req.row_ud = &x;
        hkq_run_res res;
        memset(&res, 0, sizeof res);
        rc = hkq_run(t, q, &req, &res, err);
        hk_buf_free(&res.cursor);
    }
    *rows = x.rows;
    for (uint32_t p = 0; p < HKQ_MAX_ATOMS; p++)
        hk_free(rels[p].facts);
    hk_buf_free(&x.vals);
    hkq_free(q);
    return rc;
}

hk_err hkr_query_needs_derived(hk_txn *t, const hkr_dbs *d, const char *text,
                               bool *yes, hk_error *err)
{
    *yes = false;
    uint64_t n = 0;
    hk_err rc = hkr_derived_count(t, d, &n, err);
    if (rc != HK_OK || n == 0) return rc;
    hkq_query *q = NULL;
    rc = hkq_parse(text, strlen(text), &q, err);
    if (rc != HK_OK) return rc;
    for (uint32_t a = 0; a < hkq_n_atoms(q) && rc == HK_OK && !*yes; a++) {
        hkq_atom_view av;
        hkq_atom_view_get(q, a, &av);
        if (av.kind[0] != HK_TERM_CONST) {
            *yes = true;
            break;
        }
        uint32_t pred = 0;
        rc = hks_sym_id(t, av.text[0], strlen(av.text[0]), &pred, err);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_error_clear(err);
            rc = HK_OK;
            continue;
        }
        if (rc != HK_OK) break;
        hks_cursor *c = NULL;
        rc = hks_cursor_open(t, d->derived, &c, err);
        if (rc != HK_OK) break;
        uint8_t pk[4] = {(uint8_t)(pred >> 24), (uint8_t)(pred >> 16),
                         (uint8_t)(pred >> 8), (uint8_t)pred};
        hks_val key = {pk, 4}, k, v;
        bool found = false;
        rc = hks_cursor_seek(c, key, &k, &v, &found, err);
        if (rc == HK_OK && found && k.len >= 4 && memcmp(k.data, pk, 4) == 0)
            *yes = true;
        hks_cursor_close(c);
    }
    hkq_free(q);
    return rc;
}
