/*
 * query_exec.c — a query as users see it: projection, DISTINCT, ORDER BY,
 * LIMIT and page cursors over hkq_run, and the text of explain.
 *
 * Cursors:
 *   P<n>-Q1...  plain queries: n rows were delivered before (for the
 *               query's LIMIT) and Q1... is hkq_run's path cursor; a page
 *               stops before its first extra row, so the cursor is given
 *               only when a row follows;
 *   O<n>        DISTINCT or ORDER BY: the run starts again and skips the
 *               first n result rows (exact for an unchanged KB).
 * Memory: plain queries keep nothing per row; DISTINCT keeps every distinct
 * projected row (at most HKQ_DISTINCT_MAX, then HK_ERR_LIMIT) and ORDER BY
 * the best offset + page + 1 rows (at most HKQ_ORDER_MAX + 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "query/query_int.h"

#define HKQ_DISTINCT_MAX 1000000u
#define HKQ_SYMS_BITS 8 /* symbol cache of 256 entries */
#define HKQ_SYMS (1u << HKQ_SYMS_BITS)

typedef struct exec {
    hk_txn *t;
    const hkq_query *q;
    const hkq_exec_req *req;
    hkq_exec_res *res;
    uint64_t page; /* rows wanted on this page */
    uint64_t skip; /* offset mode: result rows to pass over */
    uint64_t seen; /* offset mode: result rows so far */
    bool more;     /* a row follows the page */
    hk_err cb_rc;  /* error of the caller's row function */
    hk_buf strs;   /* projected values, NUL-separated */
    /* DISTINCT: tuples of n_select symbols, hash table of indexes + 1 */
    uint32_t *tuples;
    size_t n_tuples, cap_tuples;
    uint32_t *table;
    size_t table_size;
    /* ORDER BY: kept rows (all variables, then facts), sorted */
    uint32_t *kv;   /* n_keep x n_vars */
    hk_fact_id *kf; /* n_keep x n_pos */
    size_t n_keep, max_keep;
    /* decoded symbols, direct-mapped by id: predicates and hub entities
     * recur on most rows (strings point into the map: valid in t) */
    uint32_t sym_id[HKQ_SYMS];
    const char *sym_s[HKQ_SYMS];
    size_t sym_n[HKQ_SYMS];
} exec;

/* String of symbol id through the exec's small cache. */
static hk_err sym_text(exec *x, uint32_t id, const char **s, size_t *n,
                       hk_error *err)
{
    size_t h = (id * 2654435761u) >> (32 - HKQ_SYMS_BITS);
    if (id != 0 && x->sym_id[h] == id) {
        *s = x->sym_s[h];
        *n = x->sym_n[h];
        return HK_OK;
    }
    hk_err rc = hks_sym_str(x->t, id, s, n, err);
    if (rc != HK_OK) return rc;
    x->sym_id[h] = id;
    x->sym_s[h] = *s;
    x->sym_n[h] = *n;
    return HK_OK;
}

/* ==== Output ==== */

static hk_err emit(exec *x, const uint32_t *vals, const hk_fact_id *facts,
                   hk_error *err)
{
    const hkq_query *q = x->q;
    const char *names[HKQ_MAX_VARS];
    const char *values[HKQ_MAX_VARS];
    size_t offs[HKQ_MAX_VARS];
    hk_buf_reset(&x->strs);
    for (uint32_t k = 0; k < q->n_select; k++) {
        const char *s;
        size_t n;
        hk_err rc = sym_text(x, vals[q->select[k]], &s, &n, err);
        if (rc != HK_OK) return rc;
        offs[k] = x->strs.len;
        if (hk_buf_append(&x->strs, s, n) != HK_OK ||
            hk_buf_append(&x->strs, "", 1) != HK_OK)
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        names[k] = q->vars[q->select[k]];
    }
    for (uint32_t k = 0; k < q->n_select; k++)
        values[k] = x->strs.data + offs[k];
    hk_fact_id f[HKQ_MAX_ATOMS];
    memcpy(f, facts, sizeof(hk_fact_id) * q->n_pos);
    hkq_out_row row = {q->n_select, names, values, q->n_pos, f};
    x->res->count++;
    return x->req->row(x->req->row_ud, &row, err);
}

/* ==== DISTINCT ==== */

static uint64_t tuple_hash(const uint32_t *t, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++) {
        h ^= t[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* *fresh = the projection of vals was not seen before (and is now). */
static hk_err distinct_add(exec *x, const uint32_t *vals, bool *fresh,
                           hk_error *err)
{
    const hkq_query *q = x->q;
    uint32_t n = q->n_select ? q->n_select : 1;
    uint32_t tup[HKQ_MAX_VARS];
    for (uint32_t k = 0; k < q->n_select; k++)
        tup[k] = vals[q->select[k]];
    if (q->n_select == 0) tup[0] = 0;
    if ((x->n_tuples + 1) * 2 > x->table_size) {
        size_t ns = x->table_size ? x->table_size * 2 : 1024;
        uint32_t *nt = hk_calloc(ns, sizeof *nt);
        if (!nt) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < x->n_tuples; i++) {
            size_t h = (size_t)tuple_hash(x->tuples + i * n, n) & (ns - 1);
            while (nt[h])
                h = (h + 1) & (ns - 1);
            nt[h] = (uint32_t)i + 1;
        }
        hk_free(x->table);
        x->table = nt;
        x->table_size = ns;
    }
    size_t h = (size_t)tuple_hash(tup, n) & (x->table_size - 1);
    while (x->table[h]) {
        if (memcmp(x->tuples + (size_t)(x->table[h] - 1) * n, tup,
                   n * sizeof *tup) == 0) {
            *fresh = false;
            return HK_OK;
        }
        h = (h + 1) & (x->table_size - 1);
    }
    if (x->n_tuples >= HKQ_DISTINCT_MAX)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "DISTINCT query stopped at %u distinct rows; "
                            "narrow the query",
                            HKQ_DISTINCT_MAX);
    if (x->n_tuples == x->cap_tuples) {
        size_t nc = x->cap_tuples ? x->cap_tuples * 2 : 256;
        uint32_t *nt = hk_realloc(x->tuples, nc * n * sizeof *nt);
        if (!nt) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        x->tuples = nt;
        x->cap_tuples = nc;
    }
    memcpy(x->tuples + x->n_tuples * n, tup, n * sizeof *tup);
    x->table[h] = (uint32_t)++x->n_tuples;
    *fresh = true;
    return HK_OK;
}

/* ==== ORDER BY ==== */

/* Compares value rows a and b by the ORDER BY keys. */
static hk_err order_cmp(exec *x, const uint32_t *a, const uint32_t *b, int *out,
                        hk_error *err)
{
    const hkq_query *q = x->q;
    *out = 0;
    for (uint32_t k = 0; k < q->n_order; k++) {
        uint32_t v = q->order[k];
        if (a[v] == b[v]) continue;
        const char *sa, *sb;
        size_t la, lb;
        hk_err rc = sym_text(x, a[v], &sa, &la, err);
        if (rc == HK_OK) rc = sym_text(x, b[v], &sb, &lb, err);
        if (rc != HK_OK) return rc;
        int c = hkq_value_cmp(sa, la, sb, lb);
        if (c != 0) {
            *out = q->order_desc[k] ? -c : c;
            return HK_OK;
        }
    }
    return HK_OK;
}

/* Keeps the row when it is among the best max_keep (ties keep arrival
 * order). */
static hk_err order_add(exec *x, const hkq_row *row, hk_error *err)
{
    const hkq_query *q = x->q;
    size_t nv = q->n_vars, nf = q->n_pos;
    size_t lo = 0, hi = x->n_keep;
    while (lo < hi) { /* first kept row that sorts after row */
        size_t mid = (lo + hi) / 2;
        int c;
        hk_err rc = order_cmp(x, x->kv + mid * nv, row->values, &c, err);
        if (rc != HK_OK) return rc;
        if (c <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= x->max_keep) return HK_OK;
    if (x->n_keep == x->max_keep) x->n_keep--; /* drop the last */
    memmove(x->kv + (lo + 1) * nv, x->kv + lo * nv,
            (x->n_keep - lo) * nv * sizeof *x->kv);
    memmove(x->kf + (lo + 1) * nf, x->kf + lo * nf,
            (x->n_keep - lo) * nf * sizeof *x->kf);
    memcpy(x->kv + lo * nv, row->values, nv * sizeof *x->kv);
    memcpy(x->kf + lo * nf, row->facts, nf * sizeof *x->kf);
    x->n_keep++;
    return HK_OK;
}

/* ==== Row functions ==== */

static hk_err on_plain(void *ud, const hkq_row *row, hkq_flow *flow,
                       hk_error *err)
{
    exec *x = ud;
    if (x->res->count >= x->page) {
        x->more = true;
        *flow = HKQ_STOP_BEFORE;
        return HK_OK;
    }
    return emit(x, row->values, row->facts, err);
}

static hk_err on_offset(void *ud, const hkq_row *row, hkq_flow *flow,
                        hk_error *err)
{
    exec *x = ud;
    if (x->q->distinct) {
        bool fresh = false;
        hk_err rc = distinct_add(x, row->values, &fresh, err);
        if (rc != HK_OK || !fresh) return rc;
    }
    if (x->q->n_order > 0) return order_add(x, row, err);
    if (x->seen++ < x->skip) return HK_OK;
    if (x->res->count >= x->page) {
        x->more = true;
        *flow = HKQ_STOP_BEFORE;
        return HK_OK;
    }
    return emit(x, row->values, row->facts, err);
}

static hk_err bad_cursor(hk_error *err)
{
    hk_error_set(err, HK_ERR_INVALID,
                 "invalid cursor — pass the cursor a previous page of the "
                 "same query printed");
    if (err) snprintf(err->field, sizeof err->field, "cursor");
    return HK_ERR_INVALID;
}

static bool read_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9') {
        if (n > (UINT64_MAX - 9) / 10) return false;
        n = n * 10 + (uint64_t)(*s++ - '0');
    }
    *p = s;
    *v = n;
    return true;
}

hk_err hkq_exec(hk_txn *t, const hkq_query *q, const hkq_exec_req *req,
                hkq_exec_res *res, hk_error *err)
{
    hk_buf keep_c = res->cursor, keep_r = res->run.cursor;
    memset(res, 0, sizeof *res);
    res->cursor = keep_c;
    res->run.cursor = keep_r;
    hk_buf_reset(&res->cursor);
    hk_buf_reset(&res->run.cursor);
    exec x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.q = q;
    x.req = req;
    x.res = res;
    bool offset_mode = q->distinct || q->n_order > 0;
    uint64_t before = 0;
    const char *path = NULL;
    const char *c = req->cursor;
    if (c && c[0]) {
        if (offset_mode) {
            if (c[0] != 'O' || (++c, !read_u64(&c, &before)) || *c != '\0')
                return bad_cursor(err);
        } else {
            if (c[0] != 'P' || (++c, !read_u64(&c, &before)) || *c != '-')
                return bad_cursor(err);
            path = c + 1;
        }
    }
    uint64_t page = req->limit ? req->limit : UINT64_MAX;
    if (q->limit) {
        if (before >= q->limit) return HK_OK;
        if (q->limit - before < page) page = q->limit - before;
    }
    x.page = page;
    x.skip = before;
    hkq_run_req rr;
    memset(&rr, 0, sizeof rr);
    rr.budget = req->budget;
    rr.row_ud = &x;
    rr.row = offset_mode ? on_offset : on_plain;
    rr.cursor = path;
    hk_err rc = HK_OK;
    if (q->n_order > 0) {
        uint64_t want = before + page + 1;
        if (want > q->limit + 1) want = q->limit + 1;
        x.max_keep = (size_t)want;
        x.kv =
            hk_calloc(x.max_keep, (q->n_vars ? q->n_vars : 1) * sizeof *x.kv);
        x.kf = hk_calloc(x.max_keep, q->n_pos * sizeof *x.kf);
        if (!x.kv || !x.kf)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    if (rc == HK_OK) rc = hkq_run(t, q, &rr, &res->run, err);
    if (rc == HK_OK && q->n_order > 0) {
        for (size_t i = (size_t)before; i < x.n_keep && rc == HK_OK; i++) {
            if (res->count >= page) {
                x.more = true;
                break;
            }
            rc = emit(&x, x.kv + i * q->n_vars, x.kf + i * q->n_pos, err);
        }
    }
    if (rc == HK_OK && x.more) {
        uint64_t next = before + res->count;
        if (!q->limit || next < q->limit) {
            if (offset_mode)
                hk_buf_appendf(&res->cursor, "O%llu", (unsigned long long)next);
            else
                hk_buf_appendf(
                    &res->cursor, "P%llu-%s", (unsigned long long)next,
                    res->run.cursor.data ? res->run.cursor.data : "");
        }
    }
    hk_buf_free(&x.strs);
    hk_free(x.tuples);
    hk_free(x.table);
    hk_free(x.kv);
    hk_free(x.kf);
    return rc;
}

void hkq_exec_res_free(hkq_exec_res *res)
{
    if (!res) return;
    hk_buf_free(&res->cursor);
    hk_buf_free(&res->run.cursor);
}

hk_err hkq_explain_text(const hkq_query *q, const hkq_run_res *r, hk_buf *out)
{
    for (uint32_t i = 0; i < r->n_steps; i++) {
        const hkq_step_info *s = &r->steps[i];
        hk_buf_appendf(out, "%u. ", i + 1);
        hkq_atom_text(q, s->atom, out);
        hk_buf_appendf(out, "  via %s", s->access);
        if (s->key_pos >= 0) hk_buf_appendf(out, " on arg %d", s->key_pos);
        hk_buf_appendf(out,
                       "  est %.0f rows  actual %llu rows (%llu facts "
                       "read)\n",
                       s->estimate, (unsigned long long)s->rows,
                       (unsigned long long)s->candidates);
    }
    if (r->preloaded)
        hk_buf_appendf(out,
                       "%u predicate(s) read whole from the statement "
                       "index\n",
                       r->preloaded);
    if (r->by_key)
        hk_buf_appendf(out,
                       "%u predicate walk(s) finished from the statement "
                       "index\n",
                       r->by_key);
    return HK_OK;
}
