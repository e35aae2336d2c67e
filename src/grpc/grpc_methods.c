/*
 * grpc_methods.c — the methods of hakgal.v2.Hakgal and grpc.health.v1:
 * each decodes its request message into the service layer's request,
 * calls the service function and encodes the typed result. The REST route
 * each one mirrors is named in proto/hakgal/v2/hakgal.proto; both call
 * the same service function, so the results agree.
 *
 * Handlers run on a gRPC worker thread (grpc_server.c): reads on the
 * worker's read transaction (hk_grpc_read_txn), writes through the
 * server's group commit (hk_server_write_sync) with the caller's token
 * name as the audit actor, and a written fact is read back from a fresh
 * snapshot after its commit, as REST does.
 *
 * Streams (Query, GraphQuery, Export) send pages: up to page_size
 * elements (or HK_GRPC_PAGE_BYTES) per message, encoded element by
 * element into one buffer (grpc_codec.c).
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "grpc/grpc_int.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "server/server_int.h" /* the serving state /readyz reads */
#include "service/svc_cmd.h"
#include "service/svc_graph_query.h"

#define HK_GRPC_PAGE 1000u            /* elements per streamed message */
#define HK_GRPC_PAGE_BYTES (1u << 20) /* bytes per streamed message */
#define HK_GRPC_BULK_CHUNK 10000u     /* BulkAdd items per commit */
#define HK_GRPC_MAX_REPORTS 10000u    /* BulkAdd failed items reported */

/* ==== Helpers ==== */

static const hk_server_config *cfg_of(hk_grpc_call *c)
{
    return hk_server_get_config(c->srv);
}

static void fail_field(hk_grpc_call *c, grpc_status_code code,
                       const char *field, const char *message)
{
    hk_grpc_finish(c, code, message, field);
}

/* A required text field: false (and the call failed with
 * INVALID_ARGUMENT naming the field) when it is missing or empty. */
static bool need_text(hk_grpc_call *c, const char *v, const char *field,
                      const char *why)
{
    if (v && v[0]) return true;
    fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, field, why);
    return false;
}

/* A page size from a request: 0 = the server's default, above max_limit
 * refused. */
static bool page_limit(hk_grpc_call *c, uint64_t asked, size_t *out)
{
    const hk_server_config *cfg = cfg_of(c);
    if (asked == 0) {
        *out = cfg->default_limit;
        return true;
    }
    if (asked > cfg->max_limit) {
        char msg[96];
        snprintf(msg, sizeof(msg), "limit %llu is over max-limit %u",
                 (unsigned long long)asked, cfg->max_limit);
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "limit", msg);
        return false;
    }
    *out = (size_t)asked;
    return true;
}

static hk_svc_fact_in_opts fact_opts(hk_grpc_call *c, bool need_statement)
{
    const hk_server_config *cfg = cfg_of(c);
    hk_svc_fact_in_opts o = {.allow_string = false,
                             .need_statement = need_statement,
                             .legacy = false,
                             .max_statement = cfg->max_statement,
                             .max_args = cfg->max_args};
    return o;
}

/* Decodes a FactInput with the service's parser. On failure the call is
 * answered (INVALID_ARGUMENT, field named) and false returned; in is
 * released by the caller either way. */
static bool fact_input(hk_grpc_call *c, const Hakgal__V2__FactInput *fi,
                       bool need_statement, hk_svc_fact_in *in)
{
    hk_error err;
    hk_error_clear(&err);
    hk_svc_fact_in_init(in);
    if (!fi) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "fact",
                   "the request has no fact");
        return false;
    }
    json_t *v = hk_grpc_fact_input_json(fi, &err);
    if (!v) {
        hk_grpc_fail(c, &err);
        return false;
    }
    hk_svc_fact_in_opts o = fact_opts(c, need_statement);
    hk_err rc = hk_svc_fact_in_parse(v, &o, in, &err);
    json_decref(v);
    if (rc != HK_OK) {
        hk_grpc_finish(c,
                       rc == HK_ERR_NOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED
                                          : GRPC_STATUS_INVALID_ARGUMENT,
                       err.message, err.field);
        return false;
    }
    return true;
}

/* Answers with the fact id after a write (read back from a new snapshot). */
static void reply_fact(hk_grpc_call *c, hk_fact_id id)
{
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_fact f;
    hk_fact_init(&f);
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_svc_fact_get(t, id, &f, &err);
    hk_grpc_fact_view v = {.text = HK_BUF_INIT};
    if (rc == HK_OK) rc = hk_grpc_fact_view_set(&v, &f);
    if (rc == HK_OK)
        hk_grpc_reply(c, &v.m.base);
    else
        hk_grpc_fail(c, &err);
    hk_grpc_fact_view_free(&v);
    hk_fact_release(&f);
}

/* ==== GetFact ==== */

static void m_get_fact(hk_grpc_call *c)
{
    const Hakgal__V2__GetFactRequest *r = (void *)c->req;
    if (r->id == 0) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "id",
                   "a fact id is a whole number >= 1");
        return;
    }
    reply_fact(c, r->id);
}

/* ==== AddFact ==== */

typedef struct add_job {
    hk_svc_fact_in in; /* decoded fact */
    hk_svc_add op;     /* service request over in */
    hk_fact_id id;     /* result */
    bool created;      /* result */
} add_job;

static void m_add_fact(hk_grpc_call *c)
{
    const Hakgal__V2__AddFactRequest *r = (void *)c->req;
    add_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
        return;
    }
    if (fact_input(c, r->fact, true, &j->in)) {
        j->op = (hk_svc_add){.st = &j->in.st,
                             .n = 1,
                             .meta = &j->in.meta,
                             .ids = &j->id,
                             .created = &j->created};
        hk_error err;
        hk_error_clear(&err);
        hk_err rc = hk_server_write_sync(c->srv, hk_svc_fact_add_apply, &j->op,
                                         c->who.name, &err);
        if (rc != HK_OK) {
            hk_grpc_fail(c, &err);
        } else {
            hk_txn *t = hk_grpc_read_txn(c);
            hk_fact f;
            hk_fact_init(&f);
            hk_grpc_fact_view v = {.text = HK_BUF_INIT};
            if (t && (rc = hk_svc_fact_get(t, j->id, &f, &err)) == HK_OK &&
                (rc = hk_grpc_fact_view_set(&v, &f)) == HK_OK) {
                Hakgal__V2__AddFactResponse a =
                    HAKGAL__V2__ADD_FACT_RESPONSE__INIT;
                a.id = j->id;
                a.created = j->created;
                a.fact = &v.m;
                hk_grpc_reply(c, &a.base);
            } else if (t) {
                hk_grpc_fail(c, &err);
            }
            hk_grpc_fact_view_free(&v);
            hk_fact_release(&f);
        }
    }
    hk_svc_fact_in_release(&j->in);
    hk_free(j);
}

/* ==== UpdateFact ==== */

static void m_update_fact(hk_grpc_call *c)
{
    const Hakgal__V2__UpdateFactRequest *r = (void *)c->req;
    if (r->id == 0) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "id",
                   "a fact id is a whole number >= 1");
        return;
    }
    hk_svc_fact_in *in = hk_calloc(1, sizeof(*in));
    if (!in) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
        return;
    }
    hk_error err;
    hk_error_clear(&err);
    if (fact_input(c, r->fact, false, in)) {
        hk_svc_fault fault = HK_SVC_FAULT_NONE;
        hk_err rc = HK_OK;
        /* no content: a metadata change (REST PATCH) */
        if (!in->has_statement) rc = hk_svc_fact_meta_check(in, &fault, &err);
        if (rc != HK_OK) {
            hk_grpc_fail(c, &err);
        } else {
            hk_svc_update op = {.id = r->id,
                                .new_st = in->has_statement ? &in->st : NULL,
                                .meta = &in->meta};
            rc = hk_server_write_sync(c->srv, hk_svc_fact_update_apply, &op,
                                      c->who.name, &err);
            if (rc != HK_OK)
                hk_grpc_fail(c, &err);
            else
                reply_fact(c, op.found);
        }
    }
    hk_svc_fact_in_release(in);
    hk_free(in);
}

/* ==== DeleteFact ==== */

static void m_delete_fact(hk_grpc_call *c)
{
    const Hakgal__V2__DeleteFactRequest *r = (void *)c->req;
    hk_error err;
    hk_error_clear(&err);
    hk_statement st;
    memset(&st, 0, sizeof(st));
    hk_fact_id id = r->id;
    if (id == 0) {
        const char *text = r->statement ? r->statement : "";
        if (!text[0]) {
            fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "id",
                       "name the fact by id or statement");
            return;
        }
        if (hk_statement_parse(text, strlen(text), &st, &err) != HK_OK) {
            if (!err.field[0])
                snprintf(err.field, sizeof(err.field), "statement");
            hk_grpc_fail(c, &err);
            return;
        }
    }
    hk_fact before;
    hk_fact_init(&before);
    hk_svc_delete op = {.n = 1, .st = &st, .ids = &id, .facts = &before};
    hk_err rc = hk_server_write_sync(c->srv, hk_svc_fact_delete_apply, &op,
                                     c->who.name, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
    } else {
        hk_grpc_fact_view v = {.text = HK_BUF_INIT};
        if (hk_grpc_fact_view_set(&v, &before) == HK_OK) {
            Hakgal__V2__DeleteFactResponse a =
                HAKGAL__V2__DELETE_FACT_RESPONSE__INIT;
            a.fact = &v.m;
            hk_grpc_reply(c, &a.base);
        }
        hk_grpc_fact_view_free(&v);
    }
    hk_fact_release(&before);
    hk_statement_release(&st);
}

/* ==== BatchAdd and BulkAdd ==== */

typedef struct batch_run {
    json_t **items; /* inputs as JSON, NULL where bad */
    char **bad;     /* why an input could not be converted, or NULL */
    size_t n;       /* items */
    hk_svc_batch b; /* service request and results */
} batch_run;

static void batch_run_clear(batch_run *br)
{
    for (size_t i = 0; i < br->n; i++) {
        if (br->items[i]) json_decref(br->items[i]);
        hk_free(br->bad[i]);
        br->items[i] = NULL;
        br->bad[i] = NULL;
    }
    br->n = 0;
    hk_svc_batch_free(&br->b);
}

static bool batch_run_alloc(batch_run *br, size_t cap)
{
    memset(br, 0, sizeof(*br));
    br->items = hk_calloc(cap ? cap : 1, sizeof(*br->items));
    br->bad = hk_calloc(cap ? cap : 1, sizeof(*br->bad));
    return br->items && br->bad;
}

static void batch_run_free(batch_run *br)
{
    batch_run_clear(br);
    hk_free(br->items);
    hk_free(br->bad);
}

/* Converts one input into slot br->n. False only when out of memory. */
static bool batch_push(batch_run *br, const Hakgal__V2__FactInput *fi)
{
    hk_error err;
    hk_error_clear(&err);
    size_t i = br->n++;
    br->items[i] = hk_grpc_fact_input_json(fi, &err);
    if (!br->items[i]) {
        if (err.code == HK_ERR_NOMEM) return false;
        br->bad[i] = hk_strdup(err.message);
        if (!br->bad[i]) return false;
    }
    return true;
}

static const char *item_code(const hk_svc_batch_error *be)
{
    if (be->fault == HK_SVC_FAULT_TOO_LONG) return "statement_too_long";
    if (be->err.code == HK_ERR_LIMIT) return "limit_exceeded";
    if (be->fault == HK_SVC_FAULT_VALUE) return "invalid_fact";
    return be->err.column ? "invalid_statement" : "invalid_input";
}

/* Commits br's items; appends a BatchItem for each item (all, or only the
 * failed ones) with index base + i to out, and adds to the totals. */
static hk_err batch_commit(hk_grpc_call *c, batch_run *br, size_t base,
                           bool all, Hakgal__V2__BatchResponse *tot,
                           hk_buf *out, uint64_t *reported, hk_error *err)
{
    if (br->n == 0) return HK_OK;
    hk_err rc = hk_svc_batch_init(&br->b, br->n, err);
    if (rc != HK_OK) return rc;
    br->b.items = br->items;
    br->b.bad = br->bad;
    br->b.n = br->n;
    br->b.opts = fact_opts(c, true);
    br->b.label = all ? "gRPC BatchAdd" : "gRPC BulkAdd";
    rc = hk_server_write_sync_ex(c->srv, hk_svc_fact_batch_apply, &br->b,
                                 c->who.name, true, err);
    if (rc != HK_OK) return rc;
    tot->count += br->n;
    tot->created += br->b.created;
    tot->existing += br->b.existing;
    tot->failed += br->b.n_errs;
    size_t cursor = 0;
    for (size_t i = 0; i < br->n && rc == HK_OK; i++) {
        const hk_svc_batch_error *be =
            hk_svc_batch_item_error(&br->b, i, &cursor);
        if (!be && !all) continue;
        if (!all && *reported >= HK_GRPC_MAX_REPORTS) continue;
        Hakgal__V2__BatchItem it = HAKGAL__V2__BATCH_ITEM__INIT;
        it.index = (uint32_t)(base + i);
        if (be) {
            it.failed = true;
            it.code = (char *)item_code(be);
            it.message = (char *)be->err.message;
            it.field = (char *)be->err.field;
        } else {
            it.id = br->b.ids[i];
            it.created = br->b.state[i] == HK_SVC_ITEM_CREATED;
        }
        rc = hk_grpc_append_field(out, 5, &it.base);
        (*reported)++;
    }
    return rc;
}

static hk_err batch_reply(hk_grpc_call *c, const Hakgal__V2__BatchResponse *t,
                          hk_buf *items)
{
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_grpc_append_varint_field(&b, 1, t->count);
    if (rc == HK_OK) rc = hk_grpc_append_varint_field(&b, 2, t->created);
    if (rc == HK_OK) rc = hk_grpc_append_varint_field(&b, 3, t->existing);
    if (rc == HK_OK) rc = hk_grpc_append_varint_field(&b, 4, t->failed);
    if (rc == HK_OK && items->len)
        rc = hk_buf_append(&b, items->data, items->len);
    if (rc == HK_OK) hk_grpc_reply_raw(c, b.data, b.len);
    hk_buf_free(&b);
    return rc;
}

static void m_batch_add(hk_grpc_call *c)
{
    const Hakgal__V2__BatchRequest *r = (void *)c->req;
    const hk_server_config *cfg = cfg_of(c);
    if (r->n_facts == 0) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "facts",
                   "the batch is empty");
        return;
    }
    if (r->n_facts > cfg->max_batch) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the batch has %zu facts; max-batch is %u",
                 r->n_facts, cfg->max_batch);
        fail_field(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "facts", msg);
        return;
    }
    batch_run br;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = batch_run_alloc(&br, r->n_facts) ? HK_OK : HK_ERR_NOMEM;
    for (size_t i = 0; rc == HK_OK && i < r->n_facts; i++)
        if (!batch_push(&br, r->facts[i])) rc = HK_ERR_NOMEM;
    Hakgal__V2__BatchResponse tot = HAKGAL__V2__BATCH_RESPONSE__INIT;
    hk_buf items = HK_BUF_INIT;
    uint64_t reported = 0;
    if (rc == HK_OK)
        rc = batch_commit(c, &br, 0, true, &tot, &items, &reported, &err);
    else
        hk_error_set(&err, rc, "out of memory reading the batch");
    if (rc == HK_OK) rc = batch_reply(c, &tot, &items);
    if (rc != HK_OK) hk_grpc_fail(c, &err);
    hk_buf_free(&items);
    batch_run_free(&br);
}

static void m_bulk_add(hk_grpc_call *c)
{
    batch_run br;
    hk_error err;
    hk_error_clear(&err);
    size_t chunk = HK_GRPC_BULK_CHUNK;
    if (cfg_of(c)->max_batch < chunk) chunk = cfg_of(c)->max_batch;
    Hakgal__V2__BatchResponse tot = HAKGAL__V2__BATCH_RESPONSE__INIT;
    hk_buf items = HK_BUF_INIT;
    uint64_t reported = 0;
    size_t base = 0;
    hk_err rc = batch_run_alloc(&br, chunk) ? HK_OK : HK_ERR_NOMEM;
    if (rc != HK_OK) hk_error_set(&err, rc, "out of memory");
    while (rc == HK_OK) {
        ProtobufCMessage *m = NULL;
        rc = hk_grpc_recv(c, &hakgal__v2__fact_input__descriptor, &m);
        if (rc != HK_OK) break; /* the call is answered or broken */
        if (!m) break;          /* the client is done */
        bool ok = batch_push(&br, (const Hakgal__V2__FactInput *)m);
        protobuf_c_message_free_unpacked(m, NULL);
        if (!ok) {
            rc = hk_error_set(&err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        if (br.n == chunk) {
            rc = batch_commit(c, &br, base, false, &tot, &items, &reported,
                              &err);
            base += br.n;
            batch_run_clear(&br);
        }
    }
    if (rc == HK_OK)
        rc = batch_commit(c, &br, base, false, &tot, &items, &reported, &err);
    if (rc == HK_OK)
        rc = batch_reply(c, &tot, &items);
    else if (!c->finished)
        hk_grpc_fail(c, &err);
    hk_buf_free(&items);
    batch_run_free(&br);
}

/* ==== Streamed pages ==== */

typedef struct pager {
    hk_grpc_call *c;     /* the call */
    hk_buf page;         /* encoded elements of the current message */
    size_t n;            /* elements in page */
    size_t page_size;    /* elements per message */
    uint32_t field;      /* field number of the elements */
    size_t sent;         /* messages sent */
    hk_grpc_fact_view v; /* reused fact view */
} pager;

static hk_err pager_flush(pager *p)
{
    hk_err rc = hk_grpc_send_page(p->c, &p->page);
    p->n = 0;
    p->sent++;
    return rc;
}

static hk_err pager_added(pager *p, hk_error *err)
{
    if (++p->n < p->page_size && p->page.len < HK_GRPC_PAGE_BYTES) return HK_OK;
    if (pager_flush(p) != HK_OK)
        return hk_error_set(err, HK_ERR_IO, "the client went away");
    return HK_OK;
}

/* The last message: what is left, with the cursor in field cursor_field. */
static void pager_end(pager *p, hk_err rc, const hk_error *err,
                      uint32_t cursor_field, const char *cursor)
{
    if (rc == HK_OK && cursor && cursor[0])
        rc = hk_grpc_append_string_field(&p->page, cursor_field, cursor);
    if (rc == HK_OK && (p->n || p->page.len || p->sent == 0))
        hk_grpc_reply_page(p->c, &p->page); /* with the status: one batch */
    else if (rc == HK_OK)
        hk_grpc_finish(p->c, GRPC_STATUS_OK, NULL, NULL);
    else if (err)
        hk_grpc_fail(p->c, err);
    hk_buf_free(&p->page);
    hk_grpc_fact_view_free(&p->v);
}

/* ==== Query ==== */

static hk_err query_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    pager *p = ud;
    size_t nv = row->n_vars <= HK_MAX_ARGS + 1 ? row->n_vars : HK_MAX_ARGS + 1;
    hk_err rc = hk_grpc_append_query_row(&p->page, 1, row->fact, row->vars,
                                         row->values, nv, &p->v.text);
    if (rc != HK_OK) return hk_error_set(err, rc, "cannot encode a row");
    return pager_added(p, err);
}

static void m_query(hk_grpc_call *c)
{
    const Hakgal__V2__QueryRequest *r = (void *)c->req;
    const hk_server_config *cfg = cfg_of(c);
    hk_error err;
    hk_error_clear(&err);
    hk_pattern pat;
    bool has_pat = r->pattern && r->pattern[0];
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = (hk_scan)HK_SCAN_INIT;
    if (has_pat) {
        size_t len = strlen(r->pattern);
        if (len > cfg->max_statement) {
            fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "pattern",
                       "the pattern is longer than max-statement");
            return;
        }
        if (hk_pattern_parse(r->pattern, len, &pat, &err) != HK_OK) {
            if (!err.field[0])
                snprintf(err.field, sizeof(err.field), "pattern");
            hk_grpc_fail(c, &err);
            return;
        }
        qr.pattern = &pat;
    } else {
        if (r->predicate && r->predicate[0]) qr.scan.predicate = r->predicate;
        if (r->entity && r->entity[0]) qr.scan.entity = r->entity;
    }
    hk_txn *t = hk_grpc_read_txn(c);
    if (t) {
        pager p = {.c = c, .page_size = HK_GRPC_PAGE, .field = 1};
        p.v.text = (hk_buf)HK_BUF_INIT;
        qr.cursor = r->cursor;
        qr.limit = (size_t)r->limit;
        qr.no_cursor = r->limit == 0;
        /* a page has REST's time budget; a whole stream (limit 0) is
         * bounded by the KB and by the client reading it */
        if (r->limit) qr.timeout_us = (int64_t)cfg->query_timeout_ms * 1000;
        qr.row = query_row;
        qr.row_ud = &p;
        hk_svc_query_res res;
        memset(&res, 0, sizeof(res));
        hk_err rc = hk_svc_query(t, &qr, &res, &err);
        pager_end(&p, rc, &err, 2, res.next_cursor.data);
        hk_svc_query_res_free(&res);
    }
    if (has_pat) hk_pattern_release(&pat);
}

/* ==== GraphQuery ==== */

static hk_err graph_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    pager *p = ud;
    Hakgal__V2__Binding bs[64];
    Hakgal__V2__Binding *bp[64];
    uint64_t ids[64];
    uint32_t nb = row->n < 64 ? row->n : 64;
    uint32_t nf = row->n_facts < 64 ? row->n_facts : 64;
    Hakgal__V2__GraphRow gr = HAKGAL__V2__GRAPH_ROW__INIT;
    for (uint32_t i = 0; i < nb; i++) {
        hakgal__v2__binding__init(&bs[i]);
        bs[i].name = (char *)row->names[i];
        bs[i].value = (char *)(row->values[i] ? row->values[i] : "");
        bp[i] = &bs[i];
    }
    for (uint32_t i = 0; i < nf; i++)
        ids[i] = row->facts[i];
    gr.n_bindings = nb;
    gr.bindings = bp;
    gr.n_fact_ids = nf;
    gr.fact_ids = ids;
    hk_err rc = hk_grpc_append_field(&p->page, 1, &gr.base);
    if (rc != HK_OK) return hk_error_set(err, rc, "out of memory");
    return pager_added(p, err);
}

static void m_graph_query(hk_grpc_call *c)
{
    const Hakgal__V2__GraphQueryRequest *r = (void *)c->req;
    if (!need_text(c, r->query, "query", "the query is empty")) return;
    if (r->limit > HK_SVC_GQ_MAX_LIMIT) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "limit",
                   "limit is over 100000");
        return;
    }
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    pager p = {.c = c, .page_size = HK_GRPC_PAGE, .field = 1};
    p.v.text = (hk_buf)HK_BUF_INIT;
    hk_svc_gq_req q = {.text = r->query,
                       .cursor = r->cursor,
                       .limit = r->limit,
                       .timeout_us =
                           (int64_t)cfg_of(c)->query_timeout_ms * 1000,
                       .row = graph_row,
                       .row_ud = &p};
    hk_svc_gq_res res;
    memset(&res, 0, sizeof(res));
    hk_err rc = hk_svc_graph_query(t, &q, &res, &err);
    pager_end(&p, rc, &err, 2, res.exec.cursor.data);
    hk_svc_gq_res_free(&res);
}

/* ==== Export ==== */

static hk_err export_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    pager *p = ud;
    hk_err rc = hk_grpc_append_fact(&p->page, 1, row->fact, &p->v.text);
    if (rc != HK_OK) return hk_error_set(err, rc, "cannot encode a fact");
    return pager_added(p, err);
}

static void m_export(hk_grpc_call *c)
{
    const Hakgal__V2__ExportRequest *r = (void *)c->req;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    pager p = {.c = c,
               .page_size = r->page_size ? r->page_size : HK_GRPC_PAGE,
               .field = 1};
    p.v.text = (hk_buf)HK_BUF_INIT;
    if (p.page_size > 100000) p.page_size = 100000;
    hk_svc_query_req qr;
    memset(&qr, 0, sizeof(qr));
    qr.scan = (hk_scan)HK_SCAN_INIT;
    if (r->predicate && r->predicate[0]) qr.scan.predicate = r->predicate;
    qr.no_cursor = true;
    qr.row = export_row;
    qr.row_ud = &p;
    hk_svc_query_res res;
    memset(&res, 0, sizeof(res));
    hk_err rc = hk_svc_query(t, &qr, &res, &err);
    pager_end(&p, rc, &err, 0, NULL);
    hk_svc_query_res_free(&res);
}

/* ==== Search ==== */

typedef struct hits {
    hk_buf out;          /* encoded SearchHit elements */
    hk_grpc_fact_view v; /* reused fact view */
} hits;

static hk_err search_hit(void *ud, const hk_fact *f, double score,
                         hk_error *err)
{
    hits *h = ud;
    hk_err rc = hk_grpc_fact_view_set(&h->v, f);
    Hakgal__V2__SearchHit sh = HAKGAL__V2__SEARCH_HIT__INIT;
    sh.fact = &h->v.m;
    sh.score = score;
    if (rc == HK_OK) rc = hk_grpc_append_field(&h->out, 1, &sh.base);
    return rc == HK_OK ? HK_OK : hk_error_set(err, rc, "out of memory");
}

static void m_search(hk_grpc_call *c)
{
    const Hakgal__V2__SearchRequest *r = (void *)c->req;
    size_t limit;
    if (!need_text(c, r->query, "query", "the search text is empty")) return;
    if (!page_limit(c, r->limit, &limit)) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hits h = {.out = HK_BUF_INIT, .v = {.text = HK_BUF_INIT}};
    hk_svc_search_req sr = {r->query, limit, search_hit, &h};
    size_t shown = 0;
    hk_err rc = hk_svc_search(t, &sr, &shown, &err);
    if (rc == HK_OK)
        hk_grpc_reply_raw(c, h.out.data ? h.out.data : "", h.out.len);
    else
        hk_grpc_fail(c, &err);
    hk_buf_free(&h.out);
    hk_grpc_fact_view_free(&h.v);
}

/* ==== Entity ==== */

static hk_err entity_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    hits *h = ud;
    hk_err rc = hk_grpc_append_fact(&h->out, 3, row->fact, &h->v.text);
    return rc == HK_OK ? HK_OK : hk_error_set(err, rc, "cannot encode a fact");
}

static void m_entity(hk_grpc_call *c)
{
    const Hakgal__V2__EntityRequest *r = (void *)c->req;
    size_t limit;
    if (!need_text(c, r->name, "name", "the entity name is empty")) return;
    if (!page_limit(c, r->limit, &limit)) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    uint64_t count = 0;
    hk_err rc = hk_svc_entity_count(t, r->name, &count, &err);
    hits h = {.out = HK_BUF_INIT, .v = {.text = HK_BUF_INIT}};
    hk_svc_query_res res;
    memset(&res, 0, sizeof(res));
    if (rc == HK_OK) rc = hk_grpc_append_string_field(&h.out, 1, r->name);
    if (rc == HK_OK) rc = hk_grpc_append_varint_field(&h.out, 2, count);
    if (rc == HK_OK) {
        hk_svc_query_req qr;
        memset(&qr, 0, sizeof(qr));
        qr.scan = (hk_scan)HK_SCAN_INIT;
        qr.scan.entity = r->name;
        qr.cursor = r->cursor;
        qr.limit = limit;
        qr.timeout_us = (int64_t)cfg_of(c)->query_timeout_ms * 1000;
        qr.row = entity_row;
        qr.row_ud = &h;
        rc = hk_svc_query(t, &qr, &res, &err);
    }
    if (rc == HK_OK)
        rc = hk_grpc_append_string_field(&h.out, 4, res.next_cursor.data);
    if (rc == HK_OK)
        hk_grpc_reply_raw(c, h.out.data, h.out.len);
    else
        hk_grpc_fail(c, &err);
    hk_svc_query_res_free(&res);
    hk_buf_free(&h.out);
    hk_grpc_fact_view_free(&h.v);
}

/* ==== Neighbours and Paths ==== */

/* The graph filter of a request; false (answered) when invalid. */
static bool graph_filter(hk_grpc_call *c, const char *dir, size_t n_allow,
                         char **allow, size_t n_deny, char **deny,
                         hk_graph_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = HK_GRAPH_BOTH;
    if (dir && dir[0] && !hk_svc_graph_dir_parse(dir, &f->dir)) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "direction",
                   "direction must be out, in or both");
        return false;
    }
    if (n_allow > HK_GRAPH_MAX_PREDS || n_deny > HK_GRAPH_MAX_PREDS) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT,
                   n_allow > HK_GRAPH_MAX_PREDS ? "allow" : "deny",
                   "too many predicates in the filter");
        return false;
    }
    f->allow = n_allow ? (const char *const *)allow : NULL;
    f->n_allow = n_allow;
    f->deny = n_deny ? (const char *const *)deny : NULL;
    f->n_deny = n_deny;
    return true;
}

static void m_neighbours(hk_grpc_call *c)
{
    const Hakgal__V2__NeighboursRequest *r = (void *)c->req;
    hk_graph_hood_req q;
    memset(&q, 0, sizeof(q));
    if (!graph_filter(c, r->direction, r->n_allow, r->allow, r->n_deny, r->deny,
                      &q.filter))
        return;
    q.entity = r->entity ? r->entity : "";
    q.depth = r->depth ? r->depth : 1;
    q.fanout = (size_t)r->fanout;
    q.max_edges = (size_t)r->max_edges;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_graph_walk_res res;
    memset(&res, 0, sizeof(res));
    hk_err rc = hk_svc_graph_neighbours(t, &q, &res, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        hk_graph_walk_res_free(&res);
        return;
    }
    size_t nn = res.n_nodes, ne = res.n_edges;
    Hakgal__V2__GraphNode *nodes = hk_calloc(nn ? nn : 1, sizeof(*nodes));
    Hakgal__V2__GraphNode **np = hk_calloc(nn ? nn : 1, sizeof(*np));
    Hakgal__V2__GraphEdge *edges = hk_calloc(ne ? ne : 1, sizeof(*edges));
    Hakgal__V2__GraphEdge **ep = hk_calloc(ne ? ne : 1, sizeof(*ep));
    if (nodes && np && edges && ep) {
        for (size_t i = 0; i < nn; i++) {
            hakgal__v2__graph_node__init(&nodes[i]);
            nodes[i].id = res.nodes[i].id;
            nodes[i].kind =
                (char *)(res.nodes[i].kind == HK_GRAPH_FACT ? "fact"
                                                            : "entity");
            nodes[i].label =
                res.nodes[i].label ? res.nodes[i].label : (char *)"";
            np[i] = &nodes[i];
        }
        for (size_t i = 0; i < ne; i++) {
            hakgal__v2__graph_edge__init(&edges[i]);
            edges[i].from = res.edges[i].from;
            edges[i].to = res.edges[i].to;
            edges[i].label =
                res.edges[i].label ? res.edges[i].label : (char *)"";
            edges[i].fact_id = res.edges[i].fact_id;
            ep[i] = &edges[i];
        }
        Hakgal__V2__NeighboursResponse a =
            HAKGAL__V2__NEIGHBOURS_RESPONSE__INIT;
        a.n_nodes = nn;
        a.nodes = np;
        a.n_edges = ne;
        a.edges = ep;
        a.truncated = res.truncated;
        hk_grpc_reply(c, &a.base);
    } else {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    }
    hk_free(nodes);
    hk_free(np);
    hk_free(edges);
    hk_free(ep);
    hk_graph_walk_res_free(&res);
}

static void m_paths(hk_grpc_call *c)
{
    const Hakgal__V2__PathsRequest *r = (void *)c->req;
    hk_graph_path_req q;
    memset(&q, 0, sizeof(q));
    if (!graph_filter(c, r->direction, r->n_allow, r->allow, r->n_deny, r->deny,
                      &q.filter))
        return;
    q.from = r->from ? r->from : "";
    q.to = r->to ? r->to : "";
    q.max_len = r->max_len ? r->max_len : 6;
    q.k = r->k ? r->k : 1;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_graph_path_res res;
    memset(&res, 0, sizeof(res));
    hk_err rc = hk_svc_graph_paths(t, &q, &res, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        hk_graph_path_res_free(&res);
        return;
    }
    hk_buf out = HK_BUF_INIT;
    for (size_t i = 0; rc == HK_OK && i < res.n_paths; i++) {
        Hakgal__V2__Path p = HAKGAL__V2__PATH__INIT;
        p.n_nodes = res.paths[i].length + 1;
        p.nodes = res.paths[i].nodes;
        p.n_fact_ids = res.paths[i].length;
        p.fact_ids = res.paths[i].facts;
        rc = hk_grpc_append_field(&out, 1, &p.base);
    }
    if (rc == HK_OK)
        hk_grpc_reply_raw(c, out.data ? out.data : "", out.len);
    else
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    hk_buf_free(&out);
    hk_graph_path_res_free(&res);
}

/* ==== Audit and Changes ==== */

/* Appends entry e as field `field` (an AuditEntry) to out. */
static hk_err audit_append(hk_buf *out, uint32_t field, const hk_audit_entry *e)
{
    char when[32], prev[65], hash[65];
    hk_time_format(e->time_us, when);
    hk_hex(e->prev_hash, 32, prev);
    hk_hex(e->hash, 32, hash);
    Hakgal__V2__AuditEntry a = HAKGAL__V2__AUDIT_ENTRY__INIT;
    a.seq = e->seq;
    a.time = when;
    a.actor = e->actor ? e->actor : (char *)"";
    a.op = e->op ? e->op : (char *)"";
    a.fact_id = e->fact_id;
    a.fact_id_last = e->fact_id_last;
    a.count = e->count;
    a.before_json = e->before ? e->before : (char *)"";
    a.after_json = e->after ? e->after : (char *)"";
    a.prev_hash = prev;
    a.hash = hash;
    return hk_grpc_append_field(out, field, &a.base);
}

static void m_audit(hk_grpc_call *c)
{
    const Hakgal__V2__AuditRequest *r = (void *)c->req;
    size_t limit;
    if (!page_limit(c, r->limit, &limit)) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_svc_audit_list_req q = {.before_seq = r->before_seq, .limit = limit};
    hk_svc_audit_list_res res;
    memset(&res, 0, sizeof(res));
    hk_err rc = hk_svc_audit_list(t, &q, &res, &err);
    hk_buf out = HK_BUF_INIT;
    for (size_t i = 0; rc == HK_OK && i < res.n; i++) {
        rc = audit_append(&out, 1, &res.v[i]);
        if (rc != HK_OK) hk_error_set(&err, rc, "out of memory");
    }
    if (rc == HK_OK) rc = hk_grpc_append_varint_field(&out, 2, res.next_before);
    if (rc == HK_OK)
        hk_grpc_reply_raw(c, out.data, out.len);
    else
        hk_grpc_fail(c, &err);
    hk_buf_free(&out);
    hk_svc_audit_list_res_free(&res);
}

#define HK_GRPC_FOLLOW_MAX_MS 60000u /* longest Changes follow */
#define HK_GRPC_FOLLOW_POLL_US 50000 /* how often a follow looks */
#define HK_GRPC_WATCH_POLL_US 100000 /* how often a health Watch looks */

typedef struct changes {
    pager p;       /* the page being built */
    uint64_t next; /* seq after the last entry in a page */
} changes;

static hk_err changes_flush(changes *ch, hk_error *err)
{
    if (hk_grpc_append_varint_field(&ch->p.page, 2, ch->next) != HK_OK)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (pager_flush(&ch->p) != HK_OK)
        return hk_error_set(err, HK_ERR_IO, "the client went away");
    return HK_OK;
}

static hk_err changes_entry(void *ud, const hk_audit_entry *e, hk_error *err)
{
    changes *ch = ud;
    if (audit_append(&ch->p.page, 1, e) != HK_OK)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    ch->next = e->seq + 1;
    if (++ch->p.n >= ch->p.page_size || ch->p.page.len >= HK_GRPC_PAGE_BYTES)
        return changes_flush(ch, err);
    return HK_OK;
}

static void m_changes(hk_grpc_call *c)
{
    const Hakgal__V2__ChangesRequest *r = (void *)c->req;
    uint32_t follow = r->follow_ms;
    if (follow > HK_GRPC_FOLLOW_MAX_MS) {
        fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "follow_ms",
                   "follow_ms is at most 60000");
        return;
    }
    int64_t end = hk_now_us() + (int64_t)follow * 1000;
    changes ch = {.p = {.c = c, .page_size = HK_GRPC_PAGE, .field = 1}};
    ch.p.v.text = (hk_buf)HK_BUF_INIT;
    ch.next = r->from_seq ? r->from_seq : 1;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = HK_OK;
    for (;;) {
        hk_txn *t = hk_grpc_read_txn(c);
        if (!t) break;
        rc = hk_svc_audit_since(t, ch.next, 0, changes_entry, &ch, &ch.next,
                                &err);
        if (rc == HK_OK && ch.p.n) rc = changes_flush(&ch, &err);
        hk_grpc_read_done(c); /* the next look sees new commits */
        if (rc != HK_OK || hk_now_us() >= end || hk_server_stopping(c->srv))
            break;
        hk_grpc_idle(c, HK_GRPC_FOLLOW_POLL_US);
    }
    if (c->finished) {
        /* answered (no snapshot) or the client went away */
    } else if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
    } else {
        if (ch.p.sent == 0) rc = changes_flush(&ch, &err);
        if (rc == HK_OK)
            hk_grpc_finish(c, GRPC_STATUS_OK, NULL, NULL);
        else if (!c->finished)
            hk_grpc_fail(c, &err);
    }
    hk_buf_free(&ch.p.page);
    hk_grpc_fact_view_free(&ch.p.v);
}

/* ==== grpc.health.v1 ==== */

static void m_health_check(hk_grpc_call *c)
{
    const Grpc__Health__V1__HealthCheckRequest *r = (void *)c->req;
    const char *svc = r->service ? r->service : "";
    if (svc[0] && strcmp(svc, "hakgal.v2.Hakgal") != 0) {
        fail_field(c, GRPC_STATUS_NOT_FOUND, "service", "unknown service");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse a =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    a.status =
        hk_server_stopping(c->srv)
            ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    hk_grpc_reply(c, &a.base);
}

/* The serving status of the KB, as /readyz answers: NOT_SERVING while
 * the server starts or drains, when a read found the KB damaged, or when
 * a follower lags behind its stream. */
static Grpc__Health__V1__HealthCheckResponse__ServingStatus
serving_status(hk_server *srv)
{
    if (!atomic_load(&srv->ready) || atomic_load(&srv->stopping) ||
        atomic_load(&srv->damaged) || !hk_server_stream_ready(srv))
        return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

/* Watch: the current status at once, then one message on every change
 * (looked at every HK_GRPC_WATCH_POLL_US), until the client ends the call
 * or the server drains (NOT_SERVING goes out, then status OK). An unknown
 * service is answered SERVICE_UNKNOWN, and the call stays open, as the
 * health protocol says. */
static atomic_uint g_watching; /* Watch calls running */

unsigned hk_grpc_watching(void)
{
    return atomic_load(&g_watching);
}

static void health_watch(hk_grpc_call *c);
static void m_health_watch(hk_grpc_call *c)
{
    atomic_fetch_add(&g_watching, 1);
    health_watch(c);
    atomic_fetch_sub(&g_watching, 1);
}

static void health_watch(hk_grpc_call *c)
{
    const Grpc__Health__V1__HealthCheckRequest *r = (void *)c->req;
    const char *svc = r->service ? r->service : "";
    bool known = !svc[0] || strcmp(svc, "hakgal.v2.Hakgal") == 0;
    if (hk_grpc_watch_close(c) != HK_OK) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
        return;
    }
    int last = -1;
    for (;;) {
        bool stopping = hk_server_stopping(c->srv);
        Grpc__Health__V1__HealthCheckResponse a =
            GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
        a.status =
            !known
                ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                : serving_status(c->srv);
        if ((int)a.status != last) {
            if (hk_grpc_send(c, &a.base) != HK_OK) return;
            last = (int)a.status;
        }
        if (stopping) break;
        if (hk_grpc_closed(c)) {
            c->finished = true; /* the client ended it: no status to send */
            return;
        }
        hk_grpc_idle(c, HK_GRPC_WATCH_POLL_US);
    }
    hk_grpc_finish(c, GRPC_STATUS_OK, NULL, NULL);
}

/* ==== Method table ==== */

#define HK_SVC "/hakgal.v2.Hakgal/"

static const hk_grpc_method k_methods[] = {
    {HK_SVC "GetFact", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__get_fact_request__descriptor, m_get_fact},
    {HK_SVC "AddFact", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__add_fact_request__descriptor, m_add_fact},
    {HK_SVC "UpdateFact", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__update_fact_request__descriptor, m_update_fact},
    {HK_SVC "DeleteFact", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__delete_fact_request__descriptor, m_delete_fact},
    {HK_SVC "BatchAdd", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__batch_request__descriptor, m_batch_add},
    {HK_SVC "BulkAdd", HK_GRPC_CLIENT_STREAM, HK_ROLE_WRITE,
     &hakgal__v2__fact_input__descriptor, m_bulk_add},
    {HK_SVC "Query", HK_GRPC_SERVER_STREAM, HK_ROLE_READ,
     &hakgal__v2__query_request__descriptor, m_query},
    {HK_SVC "GraphQuery", HK_GRPC_SERVER_STREAM, HK_ROLE_READ,
     &hakgal__v2__graph_query_request__descriptor, m_graph_query},
    {HK_SVC "Search", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__search_request__descriptor, m_search},
    {HK_SVC "Entity", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__entity_request__descriptor, m_entity},
    {HK_SVC "Neighbours", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__neighbours_request__descriptor, m_neighbours},
    {HK_SVC "Paths", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__paths_request__descriptor, m_paths},
    {HK_SVC "Audit", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__audit_request__descriptor, m_audit},
    {HK_SVC "Export", HK_GRPC_SERVER_STREAM, HK_ROLE_READ,
     &hakgal__v2__export_request__descriptor, m_export},
    {HK_SVC "Changes", HK_GRPC_SERVER_STREAM, HK_ROLE_READ,
     &hakgal__v2__changes_request__descriptor, m_changes},
    {HK_SVC "ListRules", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__list_rules_request__descriptor, hk_grpc_list_rules},
    {HK_SVC "AddRule", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__add_rule_request__descriptor, hk_grpc_add_rule},
    {HK_SVC "SetRuleEnabled", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__set_rule_enabled_request__descriptor,
     hk_grpc_set_rule_enabled},
    {HK_SVC "DeleteRule", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__delete_rule_request__descriptor, hk_grpc_delete_rule},
    {HK_SVC "Reason", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__reason_request__descriptor, hk_grpc_reason},
    {HK_SVC "Why", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__why_request__descriptor, hk_grpc_why},
    {HK_SVC "ListReview", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__list_review_request__descriptor, hk_grpc_list_review},
    {HK_SVC "ApproveProposal", HK_GRPC_UNARY, HK_ROLE_REVIEW,
     &hakgal__v2__review_decision_request__descriptor,
     hk_grpc_approve_proposal},
    {HK_SVC "RejectProposal", HK_GRPC_UNARY, HK_ROLE_REVIEW,
     &hakgal__v2__review_decision_request__descriptor, hk_grpc_reject_proposal},
    {HK_SVC "ListVectorSpaces", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__list_vector_spaces_request__descriptor,
     hk_grpc_list_vector_spaces},
    {HK_SVC "CreateVectorSpace", HK_GRPC_UNARY, HK_ROLE_WRITE,
     &hakgal__v2__create_vector_space_request__descriptor,
     hk_grpc_create_vector_space},
    {HK_SVC "DropVectorSpace", HK_GRPC_UNARY, HK_ROLE_ADMIN,
     &hakgal__v2__drop_vector_space_request__descriptor,
     hk_grpc_drop_vector_space},
    {HK_SVC "SimilarVectors", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__similar_vectors_request__descriptor, hk_grpc_similar_vectors},
    {HK_SVC "ModelInfo", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__model_info_request__descriptor, hk_grpc_model_info},
    {HK_SVC "ModelScore", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__model_score_request__descriptor, hk_grpc_model_score},
    {HK_SVC "ModelPredict", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__model_predict_request__descriptor, hk_grpc_model_predict},
    {HK_SVC "ModelSimilar", HK_GRPC_UNARY, HK_ROLE_READ,
     &hakgal__v2__model_similar_request__descriptor, hk_grpc_model_similar},
    {"/grpc.health.v1.Health/Check", HK_GRPC_UNARY, HK_ROLE_NONE,
     &grpc__health__v1__health_check_request__descriptor, m_health_check},
    {"/grpc.health.v1.Health/Watch", HK_GRPC_SERVER_STREAM, HK_ROLE_NONE,
     &grpc__health__v1__health_check_request__descriptor, m_health_watch},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     HK_GRPC_BIDI_STREAM, HK_ROLE_READ,
     &grpc__reflection__v1alpha__server_reflection_request__descriptor,
     hk_grpc_reflect},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
     HK_GRPC_BIDI_STREAM, HK_ROLE_READ,
     &grpc__reflection__v1alpha__server_reflection_request__descriptor,
     hk_grpc_reflect},
};

bool hk_grpc_short_call(const hk_grpc_method *m, const ProtobufCMessage *req)
{
    if (m->need > HK_ROLE_READ) return false; /* writes wait for a commit */
    if (m->kind == HK_GRPC_UNARY)
        /* The first search of a space reads or builds its index. */
        return m->handle != hk_grpc_similar_vectors;
    if (m->kind != HK_GRPC_SERVER_STREAM || !req) return false;
    if (m->handle == m_query) {
        uint64_t limit = ((const Hakgal__V2__QueryRequest *)req)->limit;
        return limit > 0 && limit <= HK_GRPC_PAGE;
    }
    if (m->handle == m_graph_query)
        return ((const Hakgal__V2__GraphQueryRequest *)req)->limit <=
               HK_GRPC_PAGE;
    return false; /* Export, Changes, Watch: long streams */
}

const hk_grpc_method *hk_grpc_method_find(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof(k_methods) / sizeof(k_methods[0]); i++)
        if (strlen(k_methods[i].path) == len &&
            memcmp(k_methods[i].path, path, len) == 0)
            return &k_methods[i];
    return NULL;
}

const hk_grpc_method *hk_grpc_methods(void)
{
    return k_methods;
}

size_t hk_grpc_method_count(void)
{
    return sizeof(k_methods) / sizeof(k_methods[0]);
}
