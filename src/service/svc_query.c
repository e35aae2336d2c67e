/*
 * svc_query.c — the read operations: pattern and scan queries with limit,
 * cursor and bindings; ranked text search; entity counts; predicate and
 * entity lists and the names with the most facts; statistics; facts added
 * per day.
 *
 * Queries stream: the store's hk_query picks the index and yields one row
 * at a time; each row is decoded into one hk_fact reused for the whole
 * call and handed to the caller's row function, which renders it (the REST
 * server appends JSON to its answer buffer, the CLI prints a line, MCP
 * builds a jansson array). So a page costs no allocation per row, and a
 * page of any size runs in constant memory here.
 *
 * Pages: a page is full when it delivered `limit` rows; only then is a
 * cursor produced (the store's opaque cursor resumes after the last row
 * returned), so an exhausted result answers no cursor at all.
 *
 * Threads: any, one transaction per thread (the caller's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "otel/otel.h"
#include "service/service.h"

/* ==== Queries ==== */

size_t hk_svc_pattern_vars(const hk_pattern *p,
                           const char *vars[HK_MAX_ARGS + 1])
{
    size_t n = 0;
    for (uint32_t i = 0; i <= p->n_args && i <= HK_MAX_ARGS; i++) {
        const hk_term *t = i == 0 ? &p->predicate : &p->args[i - 1];
        if (t->kind != HK_TERM_VAR) continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(vars[k], t->text) == 0;
        if (!seen) vars[n++] = t->text;
    }
    return n;
}

/* Rows between two looks at the clock (a power of two minus one). */
#define CLOCK_MASK 255u

hk_err hk_svc_query(hk_txn *t, const hk_svc_query_req *req,
                    hk_svc_query_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    const char *vars[HK_MAX_ARGS + 1];
    const char *values[HK_MAX_ARGS + 1];
    size_t n_vars = req->pattern ? hk_svc_pattern_vars(req->pattern, vars) : 0;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    int64_t t0 = req->timeout_us > 0 ? hk_now_us() : 0;
    /* Spans (otel.h) when a traced request runs this query: planning is
     * the choice of index in hk_query_open_*, execution the row loop. */
    bool traced = hk_otel_current() != NULL;
    hk_span plan, exec;
    if (traced)
        hk_span_start(&plan, "query.plan", HK_SPAN_INTERNAL, NULL, false);
    hk_err rc =
        req->pattern
            ? hk_query_open_pattern(t, req->pattern, req->cursor, &q, err)
            : hk_query_open_scan(t, &req->scan, req->cursor, &q, err);
    if (traced) {
        if (rc != HK_OK) hk_span_set_error(&plan, hk_strerror(rc));
        hk_span_end(&plan);
        hk_span_start(&exec, "query.execute", HK_SPAN_INTERNAL, NULL, false);
    }
    hk_svc_row row;
    memset(&row, 0, sizeof(row));
    row.n_vars = n_vars;
    row.vars = vars;
    row.values = values;
    /* Bounded by limit, or (limit 0) by the facts in the snapshot. */
    while (rc == HK_OK && (req->limit == 0 || res->count < req->limit)) {
        bool has = false;
        if (req->ids_only) {
            rc = hk_query_next_id(q, &row.id, &has, err);
            row.fact = NULL;
        } else {
            rc = hk_query_next(q, &f, &has, err);
            row.id = f.id;
            row.fact = &f;
        }
        if (rc != HK_OK || !has) break;
        for (size_t i = 0; i < n_vars; i++)
            values[i] = hk_query_binding(q, vars[i]);
        rc = req->row(req->row_ud, &row, err);
        if (rc != HK_OK) break;
        res->count++;
        if ((res->count & CLOCK_MASK) == CLOCK_MASK && req->timeout_us > 0 &&
            hk_now_us() - t0 > req->timeout_us) {
            res->timed_out = true;
            rc = hk_error_set(err, HK_ERR_LIMIT,
                              "the query ran longer than its time limit "
                              "(%lld ms)",
                              (long long)(req->timeout_us / 1000));
        }
    }
    /* Only a full page can have more rows. */
    if (rc == HK_OK && !req->no_cursor && req->limit != 0 &&
        res->count == req->limit) {
        rc = hk_query_cursor(q, &res->next_cursor);
        if (rc != HK_OK) hk_error_set(err, rc, "out of memory");
    }
    if (q != NULL) hk_query_close(q);
    hk_fact_release(&f);
    if (traced) {
        hk_span_attr_int(&exec, "hakgal.query.rows", (int64_t)res->count);
        if (rc != HK_OK) hk_span_set_error(&exec, hk_strerror(rc));
        hk_span_end(&exec);
    }
    return rc;
}

void hk_svc_query_res_free(hk_svc_query_res *res)
{
    if (res == NULL) return;
    hk_buf_free(&res->next_cursor);
    memset(res, 0, sizeof(*res));
}

/* ==== Search ==== */

hk_err hk_svc_search(hk_txn *t, const hk_svc_search_req *req, size_t *shown,
                     hk_error *err)
{
    *shown = 0;
    size_t len = strlen(req->query);
    if (!hk_utf8_valid(req->query, len, NULL)) {
        hk_error_set(err, HK_ERR_INVALID, "the search text is not valid UTF-8");
        if (err) snprintf(err->field, sizeof(err->field), "query");
        return HK_ERR_INVALID;
    }
    hk_search_hit *hits = NULL;
    size_t n = 0;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_store_search(t, req->query, req->limit, &hits, &n, err);
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        rc = hk_store_get(t, hits[i].id, &f, err);
        if (rc == HK_ERR_NOT_FOUND) { /* deleted since it was indexed */
            hk_error_clear(err);
            rc = HK_OK;
            continue;
        }
        if (rc == HK_OK) rc = req->hit(req->hit_ud, &f, hits[i].score, err);
        if (rc == HK_OK) (*shown)++;
    }
    hk_fact_release(&f);
    hk_free(hits);
    return rc;
}

/* ==== Entities and predicates ==== */

hk_err hk_svc_entity_count(hk_txn *t, const char *name, uint64_t *count,
                           hk_error *err)
{
    *count = 0;
    hk_err rc = hk_store_count_entity(t, name, count, err);
    if (rc == HK_OK && *count == 0) {
        rc = hk_error_set(err, HK_ERR_NOT_FOUND, "no fact mentions entity %s",
                          name);
        if (err) snprintf(err->field, sizeof(err->field), "name");
    }
    return rc;
}

hk_err hk_svc_names(hk_txn *t, const hk_svc_names_req *req,
                    hk_svc_names_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    hk_err rc =
        req->kind == HK_SVC_PREDICATES
            ? hk_store_list_predicates(t, req->after, req->limit, &res->v,
                                       &res->n, err)
            : hk_store_list_entities(t, req->after, req->limit, req->min_count,
                                     &res->v, &res->n, err);
    if (rc != HK_OK) return rc;
    if (res->n == req->limit && res->n > 0)
        res->next_after = res->v[res->n - 1].name;
    return HK_OK;
}

void hk_svc_names_res_free(hk_svc_names_res *res)
{
    if (res == NULL) return;
    hk_name_counts_free(res->v, res->n);
    memset(res, 0, sizeof(*res));
}

hk_err hk_svc_name_count_write_json(const hk_name_count *nc, bool arities,
                                    hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "{\"name\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, nc->name, strlen(nc->name));
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, ",\"count\":%llu",
                            (unsigned long long)nc->count);
    if (rc == HK_OK && arities)
        rc = hk_buf_appendf(out, ",\"min_arity\":%u,\"max_arity\":%u",
                            nc->min_arity, nc->max_arity);
    if (rc == HK_OK) rc = hk_buf_append(out, "}", 1);
    return rc;
}

hk_err hk_svc_name_total(hk_txn *t, hk_svc_names_kind kind, const char *name,
                         uint64_t *count, hk_error *err)
{
    *count = 0;
    return kind == HK_SVC_PREDICATES
               ? hk_store_count_predicate(t, name, count, err)
               : hk_store_count_entity(t, name, count, err);
}

/* ---- Top names: a min-heap by count over res->v[0..n) ---- */

static void top_swap(hk_name_count *v, size_t a, size_t b)
{
    hk_name_count x = v[a];
    v[a] = v[b];
    v[b] = x;
}

static void top_down(hk_name_count *v, size_t n, size_t i)
{
    while (i < n) { /* i at least doubles each step */
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && v[l].count < v[m].count) m = l;
        if (r < n && v[r].count < v[m].count) m = r;
        if (m == i) return;
        top_swap(v, i, m);
        i = m;
    }
}

/* Keeps nc when it is among the top (a copy of its name is taken). */
static hk_err top_offer(hk_svc_top_names_res *res, size_t top,
                        const hk_name_count *nc, hk_error *err)
{
    hk_name_count *v = res->v;
    if (res->n == top && nc->count <= v[0].count) return HK_OK;
    char *name = hk_strdup(nc->name);
    if (name == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (res->n < top) {
        size_t i = res->n++;
        v[i] = *nc;
        v[i].name = name;
        while (i > 0 && v[(i - 1) / 2].count > v[i].count) {
            top_swap(v, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    } else {
        hk_free(v[0].name);
        v[0] = *nc;
        v[0].name = name;
        top_down(v, res->n, 0);
    }
    return HK_OK;
}

static int cmp_count_desc(const void *a, const void *b)
{
    const hk_name_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

hk_err hk_svc_top_names(hk_txn *t, const hk_svc_top_names_req *req,
                        hk_svc_top_names_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    if (req->top < 1 || req->top > HK_SVC_TOP_NAMES_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "top must be 1..%d, not %zu",
                     HK_SVC_TOP_NAMES_MAX, req->top);
        if (err) snprintf(err->field, sizeof(err->field), "top");
        return HK_ERR_INVALID;
    }
    res->v = hk_calloc(req->top, sizeof(*res->v));
    if (res->v == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    const char *msg = req->kind == HK_SVC_PREDICATES ? "predicates counted"
                                                     : "entities counted";
    hk_svc_names_req page_req = {req->kind, NULL, HK_SVC_TOP_NAMES_PAGE,
                                 req->min_count};
    char *after = NULL; /* owned copy of the last name of a page */
    hk_err rc = HK_OK;
    for (size_t page = 0; rc == HK_OK && page < HK_SVC_TOP_NAMES_PAGES;
         page++) {
        hk_svc_names_res pg;
        page_req.after = after;
        rc = hk_svc_names(t, &page_req, &pg, err);
        if (rc != HK_OK) break;
        for (size_t i = 0; rc == HK_OK && i < pg.n; i++) {
            if (pg.v[i].count < req->min_count) continue;
            res->matching++;
            rc = top_offer(res, req->top, &pg.v[i], err);
        }
        if (req->progress && page % 5 == 4)
            req->progress(req->progress_ud, (double)res->matching, 0, msg);
        hk_free(after);
        after = NULL;
        if (rc == HK_OK && pg.next_after) {
            after = hk_strdup(pg.next_after);
            if (after == NULL)
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        hk_svc_names_res_free(&pg);
        if (after == NULL) break; /* the last page, or an error */
    }
    hk_free(after);
    if (rc != HK_OK) return rc;
    qsort(res->v, res->n, sizeof(*res->v), cmp_count_desc);
    return HK_OK;
}

void hk_svc_top_names_res_free(hk_svc_top_names_res *res)
{
    if (res == NULL) return;
    hk_name_counts_free(res->v, res->n);
    memset(res, 0, sizeof(*res));
}

/* ==== Statistics ==== */

hk_err hk_svc_stats(hk_txn *t, hk_stats *out, hk_error *err)
{
    memset(out, 0, sizeof(*out));
    return hk_store_stats(t, out, err);
}

hk_err hk_svc_stats_write_members(const hk_stats *st, hk_buf *out)
{
    char when[32] = "";
    if (st->last_change_us != 0) hk_time_format(st->last_change_us, when);
    return hk_buf_appendf(
        out,
        "\"facts\":%llu,\"predicates\":%llu,\"entities\":%llu,"
        "\"symbols\":%llu,\"audit_entries\":%llu,\"last_fact_id\":%llu,"
        "\"bytes_on_disk\":%llu,\"bytes_used\":%llu,\"bytes_free\":%llu,"
        "\"map_size\":%llu,\"last_change\":%s%s%s,\"schema_version\":%u",
        (unsigned long long)st->facts, (unsigned long long)st->predicates,
        (unsigned long long)st->entities, (unsigned long long)st->symbols,
        (unsigned long long)st->audit_entries,
        (unsigned long long)st->last_fact_id,
        (unsigned long long)st->bytes_on_disk,
        (unsigned long long)st->bytes_used, (unsigned long long)st->bytes_free,
        (unsigned long long)st->map_size, when[0] ? "\"" : "",
        when[0] ? when : "null", when[0] ? "\"" : "", st->schema_version);
}

json_t *hk_svc_stats_jansson(const hk_stats *st)
{
    hk_buf b = HK_BUF_INIT;
    json_t *j = NULL;
    hk_err rc = hk_buf_append(&b, "{", 1);
    if (rc == HK_OK) rc = hk_svc_stats_write_members(st, &b);
    if (rc == HK_OK) rc = hk_buf_append(&b, "}", 1);
    if (rc == HK_OK) j = json_loadb(b.data, b.len, 0, NULL);
    hk_buf_free(&b);
    return j;
}

/* ==== Growth per day ==== */

#define DAY_US (86400LL * 1000000LL)
#define MAX_DAYS 36600u

hk_err hk_svc_growth(hk_txn *t, const hk_svc_growth_req *req,
                     hk_svc_growth_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    if (req->days < 1 || req->days > MAX_DAYS) {
        hk_error_set(err, HK_ERR_INVALID, "days is 1..%u, not %u", MAX_DAYS,
                     req->days);
        if (err) snprintf(err->field, sizeof(err->field), "days");
        return HK_ERR_INVALID;
    }
    int64_t now = req->now_us != 0 ? req->now_us : hk_now_us();
    res->first_day = now / DAY_US - (int64_t)req->days + 1;
    res->per_day = hk_calloc(req->days, sizeof(*res->per_day));
    if (res->per_day == NULL)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    res->days = req->days;
    hk_err rc =
        hk_store_count_created(t, res->first_day, req->days, res->per_day, err);
    if (rc != HK_OK) {
        hk_svc_growth_res_free(res);
        return rc;
    }
    for (uint32_t d = 0; d < res->days; d++)
        res->total += res->per_day[d];
    return HK_OK;
}

void hk_svc_growth_res_free(hk_svc_growth_res *res)
{
    if (res == NULL) return;
    hk_free(res->per_day);
    memset(res, 0, sizeof(*res));
}

void hk_svc_day_format(int64_t day, char out[11])
{
    char when[32];
    hk_time_format(day * DAY_US, when);
    memcpy(out, when, 10);
    out[10] = '\0';
}
