/*
 * svc_check.h — checking a statement without storing it: the same parse
 * and limits an add applies (hk_svc_fact_in_parse), so that an editor can
 * show the error, at its column, while the statement is being typed.
 *
 * Adapters: CLI `check`, REST GET /v2/check, MCP check_statement (the web
 * explorer's fact form calls the REST route as the user types).
 */
#ifndef HK_SVC_CHECK_H
#define HK_SVC_CHECK_H

#include "core/buf.h"
#include "service/service.h"

/* The verdict on one statement text. */
typedef struct hk_svc_check {
    bool valid;         /* it parses and is within the limits */
    hk_statement st;    /* its parts when valid (parser-owned) */
    hk_buf canonical;   /* its canonical form when valid */
    const char *code;   /* when !valid: the code an add would answer
                           ("invalid_statement", "invalid_fact",
                           "statement_too_long", "limit_exceeded") */
    hk_svc_fault fault; /* when !valid: its kind (REST status) */
    hk_error error;     /* when !valid: what, where (column), why */
} hk_svc_check;

/* Checks text[0..len) as the statement of an add with limits o (max
 * statement bytes, max arguments; allow_string and need_statement are
 * set by the function). The verdict goes to *out, which the caller
 * releases with hk_svc_check_free whatever the result. Returns HK_OK for
 * a valid and for an invalid statement alike; HK_ERR_NOMEM (in *err)
 * only when out of memory. Needs no transaction. */
hk_err hk_svc_statement_check(const char *text, size_t len,
                              const hk_svc_fact_in_opts *o, hk_svc_check *out,
                              hk_error *err);
void hk_svc_check_free(hk_svc_check *c);

/* Appends {"valid":true,"statement","predicate","args"} or
 * {"valid":false,"error":{"code","message","detail":{"column","field"}}}. */
hk_err hk_svc_check_write_json(const hk_svc_check *c, hk_buf *out);

#endif
