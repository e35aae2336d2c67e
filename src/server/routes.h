/*
 * routes.h — helpers shared by the REST handlers (routes_*.c): parameter
 * parsing, fact input from JSON, JSON output of audit entries.
 * Loop threads only, except where a function says otherwise.
 */
#ifndef HK_SERVER_ROUTES_H
#define HK_SERVER_ROUTES_H

#include <jansson.h>

#include "server/server_int.h"
#include "service/service.h"

/* A fact as sent by a client, validated and ready for the writer. Every
 * pointer points into `json` (kept alive by a reference) or `st.owned`. */
typedef struct hk_fact_in {
    hk_statement st;               /* content */
    bool has_statement;            /* st is set (false: meta only) */
    hk_fact_meta meta;             /* metadata fields that were given */
    const char *tags[HK_MAX_TAGS]; /* meta.tags points here */
    char *context_json;            /* serialized context, free() */
    json_t *json;                  /* the object (one reference) */
} hk_fact_in;

/* Parses a fact object (or, when allow_string, a bare statement string)
 * into *in. need_statement: the content is required. On failure fills *err
 * (field/column set) and returns its code; *status gets the HTTP status
 * (400 syntax, 422 wrong type/range). Takes its own reference on obj. */
hk_err hk_fact_in_parse(hk_server *srv, json_t *obj, bool allow_string,
                        bool need_statement, hk_fact_in *in, int *status,
                        hk_error *err);
void hk_fact_in_release(hk_fact_in *in);

/* Parses the request body as JSON; on failure answers 400 invalid_json
 * (with line and column) and returns NULL. Caller decrefs. */
json_t *hk_body_json(h2o_req_t *req);

/* ?limit= (default/max from config); answers 400/422 and returns false
 * on a bad value. */
bool hk_param_limit(hk_server *srv, h2o_req_t *req, size_t *limit);
/* Unsigned decimal > 0 (fact ids); false on anything else. */
bool hk_parse_id(const char *s, uint64_t *out);
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

/* Reads fact id from txn and appends its JSON; HK_ERR_NOT_FOUND if gone. */
hk_err hk_fact_json_by_id(hk_txn *txn, hk_fact_id id, hk_buf *out,
                          hk_error *err);

/* The route's handlers answer 500/503 for store errors this way. */
void hk_send_store_error(h2o_req_t *req, const hk_error *err);

#endif /* HK_SERVER_ROUTES_H */
