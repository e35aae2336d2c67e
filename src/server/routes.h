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
/* Sends the JSON in b with `status` when it was built (built == HK_OK),
 * otherwise 503 out_of_memory; frees b either way. */
void hk_send_built(h2o_req_t *req, hk_err built, int status, hk_buf *b);

/* ==== Replicated writes (server_repl.c, docs/STREAM.md) ==== */

/* hk_write_async_ex for a replicable write: fn(arg) is the route's write
 * and sfn(sarg) the service apply step it runs (svc_cmd.h). On a
 * replicated node sarg is sent to the log as a write command and the job
 * completes once this node applied it (or, with --ack log, with 202 once
 * the log has it); HK_ERR_UNSUPPORTED when sfn has no command. Otherwise
 * exactly hk_write_async_ex(req, fn, done, arg, actor, solo). */
hk_err hk_server_write_async_cmd(h2o_req_t *req, hk_write_fn fn,
                                 hk_write_done_fn done, void *arg,
                                 const char *actor, hk_svc_apply_fn sfn,
                                 void *sarg, bool solo);

#endif /* HK_SERVER_ROUTES_H */
