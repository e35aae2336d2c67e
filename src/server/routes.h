/*
 * routes.h — helpers shared by the REST handlers (routes_*.c): parameter
 * parsing, the rules of fact input on this server, error answers and the
 * skeleton of read handlers.
 * Loop threads only, except where a function says otherwise.
 */
#ifndef HK_SERVER_ROUTES_H
#define HK_SERVER_ROUTES_H

#include <jansson.h>

#include "server/server_int.h"
#include "service/service.h"

/* The rules of a fact body on this server (the service layer's strict
 * fact input with the configured max-statement and max-args). */
hk_svc_fact_in_opts hk_fact_in_opts(const hk_server *srv, bool allow_string,
                                    bool need_statement);
/* The HTTP status of a refused fact input (400, 413, 422; 503 when out of
 * memory). */
int hk_fault_status(hk_svc_fault fault);
/* Answers a refused fact body with the error code that says why
 * (statement_too_long, limit_exceeded, invalid_fact, invalid_statement). */
void hk_send_fact_input_error(h2o_req_t *req, hk_svc_fault fault,
                              const hk_error *err);

/* Parses the request body as JSON; on failure answers 400 invalid_json
 * (with line and column) and returns NULL. Caller decrefs. */
json_t *hk_body_json(h2o_req_t *req);

/* ?limit= (default/max from config); answers 400/422 and returns false
 * on a bad value. */
bool hk_param_limit(hk_server *srv, h2o_req_t *req, size_t *limit);
/* Answers an error whose detail names one field. */
void hk_send_field_error(h2o_req_t *req, int status, const char *code,
                         const char *message, const char *field);
/* Sends an hk_error from parsing with the given status (400 or 422). */
void hk_send_input_error(h2o_req_t *req, int status, const char *code,
                         const hk_error *err);

/* The loop's read transaction for a route (loop thread). On failure sends
 * the store error answer itself and returns NULL: the handler just returns.
 * End it with hk_loop_read_done(loop). err is cleared first. */
hk_txn *hk_route_read_txn(h2o_req_t *req, hk_loop *loop, hk_error *err);

/* The body of a read route: calls the service in t and appends the JSON
 * answer to out. */
typedef hk_err (*hk_route_read_fn)(hk_txn *t, void *arg, hk_buf *out,
                                   hk_error *err);
/* The REST handler skeleton of reads: takes the loop's read transaction,
 * runs fn, ends the transaction and answers status with out plus a
 * newline, or the error: HK_ERR_NOT_FOUND as 404 not_found (the message
 * only), anything else as hk_http_send_hk_error does. Loop thread. */
void hk_route_read(h2o_req_t *req, int status, hk_route_read_fn fn, void *arg);

/* The route's handlers answer 500/503 for store errors this way. */
void hk_send_store_error(h2o_req_t *req, const hk_error *err);

/* ==== Replicated writes (server_repl.c, docs/STREAM.md) ==== */

/* A write that replicated nodes send through the log: how any node turns
 * the command (path parameter and JSON body of the request) back into the
 * route's write function and its argument. */
typedef struct hk_repl_op {
    const char *name; /* command name, "fact.add" ... */
    /* Decodes a command into *arg for fn (body borrowed, may be NULL);
     * an input error makes the command fail on every node alike. */
    hk_err (*decode)(hk_server *srv, const char *param, json_t *body,
                     void **arg, hk_error *err);
    hk_write_fn fn;             /* the route's write */
    void (*release)(void *arg); /* frees what decode made */
} hk_repl_op;

/* The operation named name, or NULL (routes_facts.c). */
const hk_repl_op *hk_repl_op_find(const char *name);

/* hk_server_write_async for a replicable write: on a replicated node the
 * request's body and param are sent to the log as command op and the job
 * completes once this node applied it (or, with --ack log, with 202 once
 * the log has it); otherwise exactly hk_server_write_async. */
hk_err hk_server_write_async_cmd(h2o_req_t *req, hk_write_fn fn,
                                 hk_write_done_fn done, void *arg,
                                 const char *actor, const char *op,
                                 const char *param);

#endif /* HK_SERVER_ROUTES_H */
