/*
 * routes_facts.c — fact mutations and fact-by-id reads:
 *   POST /v2/facts, POST /v2/facts/batch, GET/PUT/PATCH/DELETE
 *   /v2/facts/{id}, DELETE /v2/facts?statement=, GET /v2/facts/{id}/history.
 *
 * Mutations validate on the loop thread (400/422 answered at once), then
 * hand a job to the group-commit writer (server_writer.c) and return; the
 * answer is sent from the job's completion on the same loop once the commit
 * is durable. The answer's fact JSON is read back on the loop from a fresh
 * snapshot, which keeps the single writer thread free of rendering work.
 *
 * A batch is one job and therefore one transaction: its items are parsed
 * and added on the writer thread (per-item errors are collected, the
 * others committed together).
 */
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* ==== Shared completion helpers ==== */

/* Answers status with the fact's JSON, optionally wrapped as
 * {"key": fact, ...extra}. */
static void send_fact(h2o_req_t *req, hk_fact_id id, int status)
{
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_fact_json_by_id(txn, id, &b, &err);
    hk_loop_read_done(loop);
    if (rc == HK_ERR_NOT_FOUND) {
        /* Deleted again between commit and this read. */
        hk_buf_reset(&b);
        rc = hk_buf_appendf(&b, "{\"id\":%llu,\"deleted\":true}",
                            (unsigned long long)id);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(&b, "\n");
    if (rc != HK_OK)
        hk_send_store_error(req, &err);
    else
        hk_http_send_buf(req, status, &b);
    hk_buf_free(&b);
}

/* Answers a fact body that hk_fact_in_parse (or a later check) refused,
 * with the error code that says why. */
static void send_fact_input_error(h2o_req_t *req, int status,
                                  const hk_error *err)
{
    hk_send_input_error(req, status,
                        status == 413               ? "statement_too_long"
                        : err->code == HK_ERR_LIMIT ? "limit_exceeded"
                        : status == 422             ? "invalid_fact"
                        : err->column               ? "invalid_statement"
                                                    : "invalid_fact",
                        err);
}

static void queue_failed(h2o_req_t *req, hk_err rc)
{
    if (rc == HK_ERR_STATE)
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down; retry elsewhere",
                           NULL);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot queue the write",
                           NULL);
}

static bool id_param(h2o_req_t *req, const char *param, hk_fact_id *id)
{
    if (!hk_parse_id(param, id)) {
        hk_send_field_error(req, 400, "invalid_id",
                            "a fact id is a whole number >= 1", "id");
        return false;
    }
    return true;
}

/* ==== POST /v2/facts ==== */

typedef struct add_job {
    hk_fact_in in; /* validated input */
    hk_fact_id id; /* result id */
    bool created;  /* result: new fact */
} add_job;

static hk_err add_write(hk_txn *txn, void *arg, hk_error *err)
{
    add_job *j = arg;
    return hk_store_add(txn, &j->in.st, &j->in.meta, &j->id, &j->created, err);
}

static void add_done(h2o_req_t *req, hk_err rc, const hk_error *err, void *arg)
{
    add_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK && j->created)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_added, 1,
                                  memory_order_relaxed);
    if (req) {
        if (rc != HK_OK)
            hk_http_send_hk_error(req, err);
        else
            send_fact(req, j->id, j->created ? 201 : 200);
    }
    hk_fact_in_release(&j->in);
    hk_free(j);
}

void hk_route_facts_post(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    add_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        json_decref(body);
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    hk_error err;
    int status;
    hk_err rc = hk_fact_in_parse(srv, body, false, true, &j->in, &status, &err);
    json_decref(body);
    if (rc != HK_OK) {
        send_fact_input_error(req, status, &err);
        hk_fact_in_release(&j->in);
        hk_free(j);
        return;
    }
    rc = hk_server_write_async(req, add_write, add_done, j, hk_req_actor(req));
    if (rc != HK_OK) {
        queue_failed(req, rc);
        hk_fact_in_release(&j->in);
        hk_free(j);
    }
}

/* ==== POST /v2/facts/batch ==== */

enum { ITEM_CREATED = 0, ITEM_EXISTING = 1, ITEM_FAILED = 2 };

typedef struct batch_error {
    size_t index; /* item position */
    int status;   /* HTTP-like status of the item */
    hk_error err; /* why */
} batch_error;

typedef struct batch_job {
    hk_server *srv;    /* settings for parsing */
    json_t **items;    /* n items (references), NULL where unparsable */
    char **bad;        /* per item: JSON parse error (NDJSON), or NULL */
    size_t n;          /* items */
    hk_fact_id *ids;   /* result ids */
    uint8_t *state;    /* ITEM_* */
    batch_error *errs; /* failed items */
    size_t n_errs;     /* used */
    size_t cap_errs;   /* allocated */
    uint64_t created;  /* items that created a fact */
    uint64_t existing; /* items already present */
} batch_job;

static void batch_free(batch_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        if (j->items[i]) json_decref(j->items[i]);
        hk_free(j->bad[i]);
    }
    hk_free(j->items);
    hk_free(j->bad);
    hk_free(j->ids);
    hk_free(j->state);
    hk_free(j->errs);
    hk_free(j);
}

static hk_err batch_error_add(batch_job *j, size_t index, int status,
                              const hk_error *e)
{
    if (j->n_errs == j->cap_errs) {
        size_t cap = j->cap_errs ? j->cap_errs * 2 : 16;
        batch_error *ne = hk_realloc(j->errs, cap * sizeof(*ne));
        if (!ne) return HK_ERR_NOMEM;
        j->errs = ne;
        j->cap_errs = cap;
    }
    batch_error *be = &j->errs[j->n_errs++];
    be->index = index;
    be->status = status;
    be->err = *e;
    j->state[index] = ITEM_FAILED;
    return HK_OK;
}

static hk_err batch_write(hk_txn *txn, void *arg, hk_error *err)
{
    batch_job *j = arg;
    /* A batch has its transaction to itself (solo job): one audit entry
     * covers the facts it creates. */
    hk_err brc = hk_txn_set_bulk(txn, "POST /v2/facts/batch");
    if (brc != HK_OK) return hk_error_set(err, brc, "cannot start bulk mode");
    j->n_errs = 0;
    j->created = j->existing = 0;
    for (size_t i = 0; i < j->n; i++) {
        hk_error e;
        hk_error_clear(&e);
        if (j->bad[i]) {
            hk_error_set(&e, HK_ERR_INVALID, "%s", j->bad[i]);
            e.line = i + 1;
            if (batch_error_add(j, i, 400, &e) != HK_OK)
                return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            continue;
        }
        hk_fact_in in;
        int status = 400;
        hk_err rc =
            hk_fact_in_parse(j->srv, j->items[i], true, true, &in, &status, &e);
        if (rc == HK_OK) {
            bool created = false;
            rc = hk_store_add(txn, &in.st, &in.meta, &j->ids[i], &created, &e);
            if (rc == HK_OK) {
                j->state[i] = created ? ITEM_CREATED : ITEM_EXISTING;
                if (created)
                    j->created++;
                else
                    j->existing++;
            } else {
                status = rc == HK_ERR_INVALID ? 400 : 422;
            }
        }
        hk_fact_in_release(&in);
        if (rc == HK_ERR_STORE || rc == HK_ERR_FULL || rc == HK_ERR_NOMEM ||
            rc == HK_ERR_IO || rc == HK_ERR_STATE || rc == HK_ERR_CORRUPT) {
            *err = e;
            return rc; /* the transaction is unusable: fail the batch */
        }
        if (rc != HK_OK && batch_error_add(j, i, status, &e) != HK_OK)
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

static const char *item_code(const batch_error *be)
{
    if (be->status == 413) return "statement_too_long";
    if (be->err.code == HK_ERR_LIMIT) return "limit_exceeded";
    if (be->status == 422) return "invalid_fact";
    return be->err.column ? "invalid_statement" : "invalid_input";
}

static void batch_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                       void *arg)
{
    batch_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_added, j->created,
                                  memory_order_relaxed);
    if (req && rc != HK_OK) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_err w = hk_buf_appendf(
            &b,
            "{\"count\":%zu,\"created\":%llu,\"existing\":%llu,\"failed\":%zu,"
            "\"results\":[",
            j->n, (unsigned long long)j->created,
            (unsigned long long)j->existing, j->n_errs);
        size_t e = 0;
        for (size_t i = 0; w == HK_OK && i < j->n; i++) {
            if (i) w = hk_buf_append(&b, ",", 1);
            if (w != HK_OK) break;
            if (j->state[i] == ITEM_FAILED) {
                while (e < j->n_errs && j->errs[e].index < i)
                    e++;
                const batch_error *be = &j->errs[e];
                w = hk_buf_appendf(&b,
                                   "{\"index\":%zu,\"status\":%d,\"error\":{"
                                   "\"code\":\"%s\",\"message\":",
                                   i, be->status, item_code(be));
                if (w == HK_OK)
                    w = hk_buf_append_json_string(&b, be->err.message,
                                                  strlen(be->err.message));
                if (w == HK_OK)
                    w = hk_buf_appendf(&b, ",\"detail\":{\"line\":%zu", i + 1);
                if (w == HK_OK && be->err.column)
                    w = hk_buf_appendf(&b, ",\"column\":%u",
                                       (unsigned)be->err.column);
                if (w == HK_OK && be->err.field[0]) {
                    w = hk_buf_append_str(&b, ",\"field\":");
                    if (w == HK_OK)
                        w = hk_buf_append_json_string(
                            &b, be->err.field,
                            strnlen(be->err.field, sizeof(be->err.field)));
                }
                if (w == HK_OK) w = hk_buf_append_str(&b, "}}}");
            } else {
                w = hk_buf_appendf(
                    &b,
                    "{\"index\":%zu,\"status\":%d,\"id\":%llu,\"created\":%s}",
                    i, j->state[i] == ITEM_CREATED ? 201 : 200,
                    (unsigned long long)j->ids[i],
                    j->state[i] == ITEM_CREATED ? "true" : "false");
            }
        }
        if (w == HK_OK) w = hk_buf_append_str(&b, "]}\n");
        if (w != HK_OK)
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
    j->ids = hk_calloc(c, sizeof(*j->ids));
    j->state = hk_calloc(c, sizeof(*j->state));
    return j->items && j->bad && j->ids && j->state;
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
    j->srv = srv;
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
    hk_err rc = hk_write_async_ex(req, batch_write, batch_done, j,
                                  hk_req_actor(req), true);
    if (rc != HK_OK) {
        queue_failed(req, rc);
        batch_free(j);
    }
}

/* ==== GET /v2/facts/{id} ==== */

void hk_route_fact_get(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)srv;
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_fact_json_by_id(txn, id, &b, &err);
    hk_loop_read_done(loop);
    if (rc == HK_OK) rc = hk_buf_append_str(&b, "\n");
    if (rc == HK_ERR_NOT_FOUND) {
        char msg[64];
        snprintf(msg, sizeof(msg), "no fact with id %llu",
                 (unsigned long long)id);
        hk_http_send_error(req, 404, "not_found", msg, NULL);
    } else if (rc != HK_OK) {
        hk_send_store_error(req, &err);
    } else {
        hk_http_send_buf(req, 200, &b);
    }
    hk_buf_free(&b);
}

/* ==== DELETE /v2/facts/{id} and DELETE /v2/facts?statement= ==== */

typedef struct delete_job {
    hk_fact_id id;     /* fact to delete (0: look up st) */
    hk_statement st;   /* by content (parsed), when id == 0 */
    bool by_statement; /* which form */
    hk_buf before;     /* fact JSON read before the delete */
} delete_job;

static hk_err delete_write(hk_txn *txn, void *arg, hk_error *err)
{
    delete_job *j = arg;
    if (j->by_statement) {
        hk_fact_id id = 0;
        hk_err rc = hk_store_find(txn, &j->st, &id, err);
        if (rc != HK_OK) return rc;
        j->id = id;
        hk_buf_reset(&j->before);
        hk_fact_json_by_id(txn, id, &j->before, NULL);
    }
    return hk_store_delete(txn, j->id, err);
}

static void delete_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    delete_job *j = arg;
    hk_loop *loop = hk_loop_self();
    if (rc == HK_OK)
        atomic_fetch_add_explicit(&loop->srv->metrics.facts_deleted, 1,
                                  memory_order_relaxed);
    if (req) {
        if (rc != HK_OK) {
            hk_http_send_hk_error(req, err);
        } else {
            hk_buf b = HK_BUF_INIT;
            hk_err w = hk_buf_appendf(&b,
                                      "{\"deleted\":true,\"id\":%llu,"
                                      "\"fact\":%s}\n",
                                      (unsigned long long)j->id,
                                      j->before.len ? j->before.data : "null");
            if (w == HK_OK)
                hk_http_send_buf(req, 200, &b);
            else
                hk_http_send_error(req, 503, "out_of_memory",
                                   "cannot build the answer", NULL);
            hk_buf_free(&b);
        }
    }
    hk_statement_release(&j->st);
    hk_buf_free(&j->before);
    hk_free(j);
}

void hk_route_fact_delete(hk_server *srv, h2o_req_t *req, const char *param)
{
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    delete_job *j = hk_calloc(1, sizeof(*j));
    if (!j) {
        queue_failed(req, HK_ERR_NOMEM);
        return;
    }
    j->id = id;
    /* The fact as it was, for the answer (a snapshot; the delete decides). */
    hk_loop *loop = hk_loop_self();
    hk_txn *txn = hk_loop_read_txn(loop, NULL);
    if (txn) {
        hk_err rc = hk_fact_json_by_id(txn, id, &j->before, NULL);
        hk_loop_read_done(loop);
        if (rc == HK_ERR_NOT_FOUND) {
            hk_free(j);
            char msg[64];
            snprintf(msg, sizeof(msg), "no fact with id %llu",
                     (unsigned long long)id);
            hk_http_send_error(req, 404, "not_found", msg, NULL);
            return;
        }
        if (rc != HK_OK) hk_buf_reset(&j->before);
    }
    hk_err rc = hk_server_write_async(req, delete_write, delete_done, j,
                                      hk_req_actor(req));
    if (rc != HK_OK) {
        queue_failed(req, rc);
        hk_buf_free(&j->before);
        hk_free(j);
    }
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
    hk_error err;
    if (hk_statement_parse(text, len, &j->st, &err) != HK_OK) {
        if (!err.field[0]) snprintf(err.field, sizeof(err.field), "statement");
        hk_send_input_error(req, 400, "invalid_statement", &err);
        hk_free(j);
        return;
    }
    j->by_statement = true;
    hk_err rc = hk_server_write_async(req, delete_write, delete_done, j,
                                      hk_req_actor(req));
    if (rc != HK_OK) {
        queue_failed(req, rc);
        hk_statement_release(&j->st);
        hk_free(j);
    }
}

/* ==== PUT /v2/facts/{id} (replace) and PATCH (metadata) ==== */

typedef struct update_job {
    hk_fact_id id;    /* fact to change */
    hk_fact_in in;    /* new content and/or metadata */
    bool replace;     /* PUT: content too */
    hk_fact_id other; /* on conflict: the fact that has that content */
} update_job;

static hk_err update_write(hk_txn *txn, void *arg, hk_error *err)
{
    update_job *j = arg;
    hk_err rc;
    if (j->replace) {
        /* Check existence first so that a missing id is a clean 404. */
        hk_fact_id found;
        rc = hk_store_find(txn, &j->in.st, &found, NULL);
        if (rc == HK_OK && found != j->id) {
            j->other = found;
            return hk_error_set(err, HK_ERR_EXISTS,
                                "the statement is already fact %llu",
                                (unsigned long long)found);
        }
        rc = hk_store_update(txn, j->id, &j->in.st, &j->other, err);
        if (rc != HK_OK) return rc;
    }
    if (j->in.meta.fields)
        return hk_store_set_meta(txn, j->id, &j->in.meta, err);
    return HK_OK;
}

static void update_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    update_job *j = arg;
    if (req) {
        if (rc == HK_ERR_EXISTS) {
            char d[64];
            snprintf(d, sizeof(d), "{\"existing_id\":%llu}",
                     (unsigned long long)j->other);
            hk_http_send_error(req, 409, "conflict", err->message, d);
        } else if (rc != HK_OK) {
            hk_http_send_hk_error(req, err);
        } else {
            send_fact(req, j->id, 200);
        }
    }
    hk_fact_in_release(&j->in);
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
    j->id = id;
    j->replace = replace;
    hk_error err;
    int status;
    hk_err rc =
        hk_fact_in_parse(srv, body, false, replace, &j->in, &status, &err);
    json_decref(body);
    if (rc == HK_OK && !replace && j->in.has_statement) {
        rc = HK_ERR_INVALID;
        status = 422;
        hk_error_set(&err, HK_ERR_INVALID,
                     "PATCH changes metadata only (confidence, source, tags, "
                     "context); use PUT to replace the statement");
        snprintf(err.field, sizeof(err.field), "statement");
    }
    if (rc == HK_OK && !replace && !j->in.meta.fields) {
        rc = HK_ERR_INVALID;
        status = 422;
        hk_error_set(&err, HK_ERR_INVALID,
                     "nothing to change: give confidence, source, tags or "
                     "context");
    }
    if (rc != HK_OK) {
        send_fact_input_error(req, status, &err);
        hk_fact_in_release(&j->in);
        hk_free(j);
        return;
    }
    rc = hk_server_write_async(req, update_write, update_done, j,
                               hk_req_actor(req));
    if (rc != HK_OK) {
        queue_failed(req, rc);
        hk_fact_in_release(&j->in);
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

/* ==== GET /v2/facts/{id}/history ==== */

void hk_route_fact_history(hk_server *srv, h2o_req_t *req, const char *param)
{
    hk_fact_id id;
    if (!id_param(req, param, &id)) return;
    size_t limit;
    if (!hk_param_limit(srv, req, &limit)) return;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err rc = hk_audit_history(txn, id, limit, &v, &n, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    if (n == 0) {
        hk_audit_entries_free(v, n);
        char msg[64];
        snprintf(msg, sizeof(msg), "no history for fact %llu",
                 (unsigned long long)id);
        hk_http_send_error(req, 404, "not_found", msg, NULL);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hk_buf_appendf(
        &b, "{\"fact_id\":%llu,\"entries\":", (unsigned long long)id);
    if (w == HK_OK) w = hk_svc_audit_entries_write_json(v, n, &b);
    if (w == HK_OK) w = hk_buf_append_str(&b, "}\n");
    hk_audit_entries_free(v, n);
    if (w == HK_OK)
        hk_http_send_buf(req, 200, &b);
    else
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    hk_buf_free(&b);
}
