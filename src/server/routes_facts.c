/*
 * routes_facts.c — fact mutations and fact-by-id reads:
 *   POST /v2/facts, POST /v2/facts/batch, GET/PUT/PATCH/DELETE
 *   /v2/facts/{id}, DELETE /v2/facts?statement=, GET /v2/facts/{id}/history.
 *
 * Adapters of the service layer's fact operations (src/service/service.h):
 * each handler decodes the request into the service's request (the fact
 * body with the service's parser, answering 400/413/422 at once on the
 * loop thread), hands the apply step to the group-commit writer
 * (server_writer.c) and renders the result from the job's completion on
 * the same loop once the commit is durable. The answer's fact JSON is
 * rendered on the loop, which keeps the single writer thread free of
 * rendering work: a fact that POST /v2/facts created is rendered from the
 * job itself (its input is what the store recorded, and add_write pins the
 * time the store gave it), the others are read back from a fresh snapshot.
 *
 * A batch is one job and therefore one transaction: its items are decoded
 * and added on the writer thread by hk_svc_fact_batch (per-item errors
 * are collected, the others committed together).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "server/routes.h"
#include "service/svc_cmd.h"
#include "store/store.h"

/* ==== Shared completion helpers ==== */

/* Reads a fact back after its write; a fact deleted again between the
 * commit and this read answers {"id":N,"deleted":true}. */
static hk_err fact_after_write(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hk_fact_id id = *(const hk_fact_id *)arg;
    hk_err rc = hk_svc_fact_get_json(t, id, out, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_buf_reset(out);
        rc = hk_buf_appendf(out, "{\"id\":%llu,\"deleted\":true}",
                            (unsigned long long)id);
    }
    return rc;
}

static void send_fact(h2o_req_t *req, hk_fact_id id, int status)
{
    hk_route_read(req, status, fact_after_write, &id);
}

static void queue_failed(h2o_req_t *req, hk_err rc)
{
    if (rc == HK_ERR_UNSUPPORTED) /* a replicated node (server_repl.c) */
        hk_http_send_error(req, 503, "not_replicated",
                           "this write is not replicated; a node started "
                           "with --replicate accepts fact writes only",
                           NULL);
    else if (rc == HK_ERR_STATE)
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down; retry elsewhere",
                           NULL);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot queue the write",
                           NULL);
}

static bool id_param(h2o_req_t *req, const char *param, hk_fact_id *id)
{
    if (!hk_svc_parse_positive(param, id)) {
        hk_send_field_error(req, 400, "invalid_id",
                            "a fact id is a whole number >= 1", "id");
        return false;
    }
    return true;
}

/* ==== POST /v2/facts ==== */

typedef struct add_job {
    hk_svc_fact_in in; /* decoded body */
    hk_svc_add op;     /* the service request over in */
    hk_fact_id id;     /* result id */
    bool created;      /* result: new fact */
    int64_t clock_us;  /* result: the created and updated time the store
                          gave a new fact (the write txn's clock) */
} add_job;

/* A zeroed job, from the loop's spare list when it has one. */
static add_job *add_job_new(hk_loop *loop)
{
    if (loop && loop->n_spare_jobs > 0) {
        add_job *j = loop->spare_jobs[--loop->n_spare_jobs];
        memset(j, 0, sizeof(*j));
        return j;
    }
    return hk_calloc(1, sizeof(add_job));
}

/* Releases j's input and keeps j for the loop's next POST (or frees it). */
static void add_job_free(hk_loop *loop, add_job *j)
{
    hk_svc_fact_in_release(&j->in);
    if (loop && loop->n_spare_jobs < HK_LOOP_SPARE_JOBS)
        loop->spare_jobs[loop->n_spare_jobs++] = j;
    else
        hk_free(j);
}

static hk_err add_write(hk_txn *txn, void *arg, hk_error *err)
{
    add_job *j = arg;
    /* Fixed for the txn (the writer unpins it before the next job), so
     * that the answer knows the fact's times without reading it back. */
    j->clock_us = hks_txn_now(txn);
    hks_txn_set_clock(txn, j->clock_us);
    return hk_svc_fact_add(txn, &j->op, err);
}

/* The fact a committed add created, as the store holds it: its content and
 * metadata are the job's input (hk_store_add records them unchanged, with
 * confidence 1 and no source, tags or context by default) and its times
 * the pinned clock. A GET right after the answer returns the same bytes
 * (tests/e2e/test_server_hardening.py, WaitingWrite). */
static hk_err created_json(const add_job *j, hk_buf *out)
{
    const hk_fact_meta *m = &j->in.meta;
    hk_fact f;
    hk_fact_init(&f); /* borrows every string: nothing to release */
    f.id = j->id;
    f.st.predicate = j->in.st.predicate;
    f.st.n_args = j->in.st.n_args;
    for (uint32_t i = 0; i < f.st.n_args && i < HK_MAX_ARGS; i++)
        f.st.args[i] = j->in.st.args[i];
    f.confidence = m->fields & HK_META_CONFIDENCE ? m->confidence : 1.0;
    if (m->fields & HK_META_SOURCE) f.source = m->source;
    if (m->fields & HK_META_TAGS) {
        f.n_tags = m->n_tags < HK_MAX_TAGS ? m->n_tags : HK_MAX_TAGS;
        for (uint32_t i = 0; i < f.n_tags; i++)
            f.tags[i] = m->tags[i];
    }
    if (m->fields & HK_META_CONTEXT) f.context_json = m->context_json;
    f.created_us = f.updated_us = j->clock_us;
    if (m->fields & HK_META_TIMES) {
        f.created_us = m->created_us;
        f.updated_us = m->updated_us ? m->updated_us : m->created_us;
    }
    hk_err rc = hk_fact_write_json(&f, out);
    if (rc == HK_OK) rc = hk_buf_append_str(out, "\n");
    return rc;
}

static void add_done(h2o_req_t *req, hk_err rc, const hk_error *err, void *arg)
{
    add_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK && j->created)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_added, 1,
                                  memory_order_relaxed);
    if (req) {
        if (rc != HK_OK) {
            hk_http_send_hk_error(req, err);
        } else if (j->created) {
            hk_buf b = HK_BUF_INIT;
            hk_send_built(req, created_json(j, &b), 201, &b); /* frees b */
        } else {
            send_fact(req, j->id, 200);
        }
    }
    add_job_free(loop, j);
}

void hk_route_facts_post(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    hk_loop *loop = hk_loop_self();
    add_job *j = add_job_new(loop);
    if (!j) {
        json_decref(body);
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    hk_error err;
    hk_svc_fact_in_opts o = hk_fact_in_opts(srv, false, true);
    hk_err rc = hk_svc_fact_in_parse(body, &o, &j->in, &err);
    json_decref(body);
    if (rc != HK_OK) {
        hk_send_fact_input_error(req, j->in.fault, &err);
        add_job_free(loop, j);
        return;
    }
    j->op = (hk_svc_add){.st = &j->in.st,
                         .n = 1,
                         .meta = &j->in.meta,
                         .ids = &j->id,
                         .created = &j->created};
    rc = hk_server_write_async_cmd(req, add_write, add_done, j,
                                   hk_req_actor(req), hk_svc_fact_add_apply,
                                   &j->op, false);
    if (rc != HK_OK) {
        queue_failed(req, rc);
        add_job_free(loop, j);
    }
}

/* ==== POST /v2/facts/batch ==== */

typedef struct batch_job {
    json_t **items; /* n items (references), NULL where unparsable */
    char **bad;     /* per item: JSON parse error (NDJSON), or NULL */
    size_t n;       /* items */
    hk_svc_batch b; /* the service request and its results */
} batch_job;

static void batch_free(batch_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        if (j->items[i]) json_decref(j->items[i]);
        hk_free(j->bad[i]);
    }
    hk_free(j->items);
    hk_free(j->bad);
    hk_svc_batch_free(&j->b);
    hk_free(j);
}

static hk_err batch_write(hk_txn *txn, void *arg, hk_error *err)
{
    batch_job *j = arg;
    return hk_svc_fact_batch(txn, &j->b, err);
}

static const char *item_code(const hk_svc_batch_error *be)
{
    int status = hk_fault_status(be->fault);
    if (status == 413) return "statement_too_long";
    if (be->err.code == HK_ERR_LIMIT) return "limit_exceeded";
    if (status == 422) return "invalid_fact";
    return be->err.column ? "invalid_statement" : "invalid_input";
}

/* {"count","created","existing","failed","results":[...]} */
static hk_err batch_answer(const batch_job *j, hk_buf *b)
{
    const hk_svc_batch *sb = &j->b;
    hk_err w = hk_buf_appendf(
        b,
        "{\"count\":%zu,\"created\":%llu,\"existing\":%llu,\"failed\":%zu,"
        "\"results\":[",
        j->n, (unsigned long long)sb->created, (unsigned long long)sb->existing,
        sb->n_errs);
    size_t cursor = 0;
    for (size_t i = 0; w == HK_OK && i < j->n; i++) {
        if (i) w = hk_buf_append(b, ",", 1);
        if (w != HK_OK) break;
        const hk_svc_batch_error *be = hk_svc_batch_item_error(sb, i, &cursor);
        if (be != NULL) {
            w = hk_buf_appendf(b,
                               "{\"index\":%zu,\"status\":%d,\"error\":{"
                               "\"code\":\"%s\",\"message\":",
                               i, hk_fault_status(be->fault), item_code(be));
            if (w == HK_OK)
                w = hk_buf_append_json_string(b, be->err.message,
                                              strlen(be->err.message));
            if (w == HK_OK) w = hk_buf_append_str(b, ",\"detail\":");
            if (w == HK_OK) w = hk_svc_error_detail_write_json(&be->err, b);
            if (w == HK_OK) w = hk_buf_append_str(b, "}}");
        } else {
            bool created = sb->state[i] == HK_SVC_ITEM_CREATED;
            w = hk_buf_appendf(
                b, "{\"index\":%zu,\"status\":%d,\"id\":%llu,\"created\":%s}",
                i, created ? 201 : 200, (unsigned long long)sb->ids[i],
                created ? "true" : "false");
        }
    }
    if (w == HK_OK) w = hk_buf_append_str(b, "]}\n");
    return w;
}

static void batch_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                       void *arg)
{
    batch_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_added, j->b.created,
                                  memory_order_relaxed);
    if (req && rc != HK_OK) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        if (batch_answer(j, &b) != HK_OK)
            hk_http_send_error(req, 503, "out_of_memory",
                               "cannot build the batch answer", NULL);
        else
            hk_http_send_buf(req, 200, &b);
        hk_buf_free(&b);
    }
    batch_free(j);
}

static bool batch_alloc(batch_job *j, size_t n)
{
    size_t c = n ? n : 1;
    j->items = hk_calloc(c, sizeof(*j->items));
    j->bad = hk_calloc(c, sizeof(*j->bad));
    return j->items && j->bad && hk_svc_batch_init(&j->b, c, NULL) == HK_OK;
}

static void send_too_many(hk_server *srv, h2o_req_t *req, size_t n)
{
    char d[96];
    snprintf(d, sizeof(d), "{\"limit\":%u,\"got\":%zu}", srv->cfg.max_batch, n);
    hk_http_send_error(req, 413, "batch_too_large",
                       "the batch has more facts than max-batch allows", d);
}

void hk_route_facts_batch(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    const char *p = req->entity.base;
    size_t len = req->entity.len;
    size_t k = 0;
    while (k < len &&
           (p[k] == ' ' || p[k] == '\t' || p[k] == '\r' || p[k] == '\n'))
        k++;
    if (!p || k == len) {
        hk_http_send_error(req, 400, "invalid_json",
                           "the batch is empty; send a JSON array or NDJSON",
                           NULL);
        return;
    }
    batch_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    if (p[k] == '[') {
        json_t *arr = hk_body_json(req);
        if (!arr) {
            hk_free(j);
            return;
        }
        size_t n = json_array_size(arr);
        if (n > srv->cfg.max_batch) {
            json_decref(arr);
            hk_free(j);
            send_too_many(srv, req, n);
            return;
        }
        if (n == 0) {
            json_decref(arr);
            hk_free(j);
            hk_http_send_error(req, 400, "invalid_json",
                               "the batch array is empty", NULL);
            return;
        }
        if (!batch_alloc(j, n)) {
            json_decref(arr);
            batch_free(j);
            queue_failed(req, HK_ERR_NOMEM);
            return;
        }
        j->n = n;
        for (size_t i = 0; i < n; i++)
            j->items[i] = json_incref(json_array_get(arr, i));
        json_decref(arr);
    } else {
        /* NDJSON: count lines first (bounded by the body), then parse. */
        size_t lines = 0;
        for (size_t i = k; i < len;) {
            const char *nl = memchr(p + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - p) : len;
            size_t s = i;
            while (s < e && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'))
                s++;
            if (s < e) lines++;
            i = e + 1;
        }
        if (lines > srv->cfg.max_batch) {
            hk_free(j);
            send_too_many(srv, req, lines);
            return;
        }
        if (!batch_alloc(j, lines)) {
            batch_free(j);
            queue_failed(req, HK_ERR_NOMEM);
            return;
        }
        size_t n = 0;
        uint64_t lineno = 0;
        for (size_t i = 0; i < len && n < lines;) {
            const char *nl = memchr(p + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - p) : len;
            size_t s = i;
            lineno++;
            while (s < e && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'))
                s++;
            if (s < e) {
                json_error_t je;
                j->items[n] =
                    json_loadb(p + s, e - s,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
                if (!j->items[n]) {
                    char msg[300];
                    snprintf(msg, sizeof(msg),
                             "line %llu: invalid JSON at column %d: %s",
                             (unsigned long long)lineno, je.column, je.text);
                    j->bad[n] = hk_strdup(msg);
                    if (!j->bad[n]) {
                        j->n = n;
                        batch_free(j);
                        queue_failed(req, HK_ERR_NOMEM);
                        return;
                    }
                }
                n++;
            }
            i = e + 1;
        }
        j->n = n;
    }
    j->b.items = j->items;
    j->b.bad = j->bad;
    j->b.n = j->n;
    j->b.opts = hk_fact_in_opts(srv, true, true);
    j->b.label = "POST /v2/facts/batch";
    hk_err rc = hk_server_write_async_cmd(req, batch_write, batch_done, j,
                                          hk_req_actor(req),
                                          hk_svc_fact_batch_apply, &j->b, true);
    if (rc != HK_OK) {
        queue_failed(req, rc);
        batch_free(j);
    }
}

/* ==== GET /v2/facts/{id} ==== */

static hk_err fact_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    return hk_svc_fact_get_json(t, *(const hk_fact_id *)arg, out, err);
}

void hk_route_fact_get(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    hk_route_read(req, 200, fact_read, &id);
}

/* ==== DELETE /v2/facts/{id} and DELETE /v2/facts?statement= ==== */

typedef struct delete_job {
    hk_fact_id id;    /* fact to delete (0: by st) */
    hk_statement st;  /* by content (parsed), when id == 0 */
    hk_fact before;   /* result: the fact as it was */
    hk_svc_delete op; /* the service request over the fields above */
} delete_job;

static hk_err delete_write(hk_txn *txn, void *arg, hk_error *err)
{
    delete_job *j = arg;
    return hk_svc_fact_delete(txn, &j->op, err);
}

static void delete_job_free(delete_job *j)
{
    hk_statement_release(&j->st);
    hk_fact_release(&j->before);
    hk_free(j);
}

static void delete_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    delete_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_deleted, 1,
                                  memory_order_relaxed);
    if (req && rc == HK_ERR_NOT_FOUND) {
        hk_http_send_error(req, 404, "not_found", err->message, NULL);
    } else if (req && rc != HK_OK) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_err w = hk_buf_appendf(&b, "{\"deleted\":true,\"id\":%llu,\"fact\":",
                                  (unsigned long long)j->id);
        if (w == HK_OK) w = hk_fact_write_json(&j->before, &b);
        if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
        if (w == HK_OK)
            hk_http_send_buf(req, 200, &b);
        else
            hk_http_send_error(req, 503, "out_of_memory",
                               "cannot build the answer", NULL);
        hk_buf_free(&b);
    }
    delete_job_free(j);
}

static void delete_op_init(delete_job *j)
{
    j->op = (hk_svc_delete){
        .n = 1, .st = &j->st, .ids = &j->id, .facts = &j->before};
}

static void delete_queue(h2o_req_t *req, delete_job *j, const char *param)
{
    delete_op_init(j);
    (void)param;
    hk_err rc = hk_server_write_async_cmd(
        req, delete_write, delete_done, j, hk_req_actor(req),
        hk_svc_fact_delete_apply, &j->op, false);
    if (rc != HK_OK) {
        queue_failed(req, rc);
        delete_job_free(j);
    }
}

void hk_route_fact_delete(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    delete_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    hk_fact_init(&j->before);
    j->id = id;
    delete_queue(req, j, param);
}

void hk_route_facts_delete(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    bool bad = false;
    const char *text = hk_query_param(req, "statement", &bad);
    if (bad || !text || !*text) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "DELETE /v2/facts needs ?statement=Pred(a, b) "
                            "(URL-encoded); to delete by id use "
                            "DELETE /v2/facts/{id}",
                            "statement");
        return;
    }
    size_t len = strlen(text);
    if (len > srv->cfg.max_statement) {
        hk_send_field_error(req, 413, "statement_too_long",
                            "the statement is longer than max-statement",
                            "statement");
        return;
    }
    delete_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    hk_fact_init(&j->before);
    hk_error err;
    if (hk_statement_parse(text, len, &j->st, &err) != HK_OK) {
        if (!err.field[0]) snprintf(err.field, sizeof(err.field), "statement");
        hk_send_input_error(req, 400, "invalid_statement", &err);
        delete_job_free(j);
        return;
    }
    delete_queue(req, j, text);
}

/* ==== PUT /v2/facts/{id} (replace) and PATCH (metadata) ==== */

typedef struct update_job {
    hk_svc_fact_in in; /* new content and/or metadata */
    hk_svc_update op;  /* the service request over in */
} update_job;

static hk_err update_write(hk_txn *txn, void *arg, hk_error *err)
{
    update_job *j = arg;
    return hk_svc_fact_update(txn, &j->op, err);
}

static void update_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    update_job *j = arg;
    if (req) {
        if (rc == HK_ERR_EXISTS) {
            char d[64];
            snprintf(d, sizeof(d), "{\"existing_id\":%llu}",
                     (unsigned long long)j->op.other);
            hk_http_send_error(req, 409, "conflict", err->message, d);
        } else if (rc == HK_ERR_NOT_FOUND) {
            hk_http_send_error(req, 404, "not_found", err->message, NULL);
        } else if (rc != HK_OK) {
            hk_http_send_hk_error(req, err);
        } else {
            send_fact(req, j->op.found, 200);
        }
    }
    hk_svc_fact_in_release(&j->in);
    hk_free(j);
}

static void update_route(hk_server *srv, h2o_req_t *req, const char *param,
                         bool replace)
{
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    update_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        json_decref(body);
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    hk_error err;
    hk_svc_fact_in_opts o = hk_fact_in_opts(srv, false, replace);
    hk_err rc = hk_svc_fact_in_parse(body, &o, &j->in, &err);
    json_decref(body);
    hk_svc_fault fault = j->in.fault;
    if (rc == HK_OK && !replace)
        rc = hk_svc_fact_meta_check(&j->in, &fault, &err);
    if (rc != HK_OK) {
        hk_send_fact_input_error(req, fault, &err);
        hk_svc_fact_in_release(&j->in);
        hk_free(j);
        return;
    }
    j->op = (hk_svc_update){
        .id = id, .new_st = replace ? &j->in.st : NULL, .meta = &j->in.meta};
    rc = hk_server_write_async_cmd(req, update_write, update_done, j,
                                   hk_req_actor(req), hk_svc_fact_update_apply,
                                   &j->op, false);
    if (rc != HK_OK) {
        queue_failed(req, rc);
        hk_svc_fact_in_release(&j->in);
        hk_free(j);
    }
}

void hk_route_fact_put(hk_server *srv, h2o_req_t *req, const char *param)
{
    update_route(srv, req, param, true);
}

void hk_route_fact_patch(hk_server *srv, h2o_req_t *req, const char *param)
{
    update_route(srv, req, param, false);
}

/* ==== GET /v2/facts/{id}/history?limit=&before= ==== */

typedef struct history_req {
    hk_fact_id id;       /* the fact */
    size_t limit;        /* entries at most */
    uint64_t before_seq; /* entries below this seq; 0 = from the newest */
} history_req;

/* {"fact_id","entries","count","next_before"} as GET /v2/audit pages:
 * next_before is null on the last page. 404 only for a fact without any
 * entry; a page below its oldest entry is empty. */
static hk_err history_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    const history_req *h = arg;
    hk_svc_history op = {
        .id = h->id, .limit = h->limit, .before_seq = h->before_seq};
    hk_err rc = hk_svc_fact_history(t, &op, err);
    if (rc == HK_OK && !op.known)
        rc = hk_error_set(err, HK_ERR_NOT_FOUND, "no history for fact %llu",
                          (unsigned long long)h->id);
    if (rc == HK_OK)
        rc = hk_buf_appendf(
            out, "{\"fact_id\":%llu,\"entries\":", (unsigned long long)h->id);
    if (rc == HK_OK) rc = hk_svc_audit_entries_write_json(op.v, op.n, out);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, ",\"count\":%zu,\"next_before\":", op.n);
    if (rc == HK_OK)
        rc = op.next_before ? hk_buf_appendf(out, "%llu",
                                             (unsigned long long)op.next_before)
                            : hk_buf_append_str(out, "null");
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    hk_audit_entries_free(op.v, op.n);
    return rc;
}

void hk_route_fact_history(hk_server *srv, h2o_req_t *req, const char *param)
{
    history_req h;
    if (!id_param(req, param, &h.id)) return;
    if (!hk_param_limit(srv, req, &h.limit)) return;
    bool bad = false;
    const char *before = hk_query_param(req, "before", &bad);
    h.before_seq = 0;
    if (bad || (before && !hk_svc_parse_positive(before, &h.before_seq))) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "before is an audit sequence number >= 1",
                            "before");
        return;
    }
    hk_route_read(req, 200, history_read, &h);
}
