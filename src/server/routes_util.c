/*
 * routes_util.c — input parsing and output helpers for the REST handlers.
 *
 * Input facts arrive in three shapes (POST /v2/facts, batch items, PUT):
 *   {"statement": "HasPart(Computer, CPU)"}
 *   {"predicate": "HasPart", "subject": "Computer", "object": "CPU"}
 *   {"predicate": "HasPart", "args": ["Computer", "CPU"]}
 * each with optional "confidence" (0..1), "source" (string or null), "tags"
 * (array of strings) and "context" (object). Syntax problems answer 400
 * (statement errors carry the column); wrong types and out-of-range values
 * answer 422 and name the field. Unknown fields are ignored so that legacy
 * exports with extra fields import as they are.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

/* ==== Small parsers ==== */

bool hk_parse_id(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v == 0) return false;
    *out = v;
    return true;
}

void hk_send_field_error(h2o_req_t *req, int status, const char *code,
                         const char *message, const char *field)
{
    hk_buf d = HK_BUF_INIT;
    hk_err rc = hk_buf_append_str(&d, "{\"field\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(&d, field, strlen(field));
    if (rc == HK_OK) rc = hk_buf_append_str(&d, "}");
    hk_http_send_error(req, status, code, message, rc == HK_OK ? d.data : NULL);
    hk_buf_free(&d);
}

void hk_send_input_error(h2o_req_t *req, int status, const char *code,
                         const hk_error *err)
{
    hk_buf d = HK_BUF_INIT;
    hk_err rc = hk_buf_append_str(&d, "{");
    const char *sep = "";
    if (rc == HK_OK && err->line) {
        rc = hk_buf_appendf(&d, "\"line\":%llu", (unsigned long long)err->line);
        sep = ",";
    }
    if (rc == HK_OK && err->column) {
        rc = hk_buf_appendf(&d, "%s\"column\":%u", sep, (unsigned)err->column);
        sep = ",";
    }
    if (rc == HK_OK && err->field[0]) {
        rc = hk_buf_appendf(&d, "%s\"field\":", sep);
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(
                &d, err->field, strnlen(err->field, sizeof(err->field)));
    }
    if (rc == HK_OK) rc = hk_buf_append_str(&d, "}");
    hk_http_send_error(req, status, code,
                       err->message[0] ? err->message : hk_strerror(err->code),
                       rc == HK_OK ? d.data : NULL);
    hk_buf_free(&d);
}

void hk_send_store_error(h2o_req_t *req, const hk_error *err)
{
    hk_http_send_hk_error(req, err);
}

bool hk_param_limit(hk_server *srv, h2o_req_t *req, size_t *limit)
{
    bool bad = false;
    const char *v = hk_query_param(req, "limit", &bad);
    *limit = srv->cfg.default_limit;
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "limit has an invalid %-escape", "limit");
        return false;
    }
    if (!v) return true;
    uint64_t n;
    if (!hk_parse_id(v, &n)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "limit must be a whole number >= 1", "limit");
        return false;
    }
    if (n > srv->cfg.max_limit) {
        char msg[128];
        snprintf(msg, sizeof(msg), "limit %llu is over max-limit %u",
                 (unsigned long long)n, srv->cfg.max_limit);
        hk_send_field_error(req, 422, "limit_exceeded", msg, "limit");
        return false;
    }
    *limit = (size_t)n;
    return true;
}

json_t *hk_body_json(h2o_req_t *req)
{
    json_error_t je;
    if (!req->entity.base || req->entity.len == 0) {
        hk_http_send_error(req, 400, "invalid_json",
                           "the request body is empty; send a JSON object",
                           NULL);
        return NULL;
    }
    json_t *j = json_loadb(req->entity.base, req->entity.len,
                           JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char d[96];
        snprintf(d, sizeof(d), "{\"line\":%d,\"column\":%d,\"position\":%d}",
                 je.line, je.column, je.position);
        char msg[300];
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s",
                 je.line, je.column, je.text);
        hk_http_send_error(req, 400, "invalid_json", msg, d);
    }
    return j;
}

/* ==== Fact input ==== */

void hk_fact_in_release(hk_fact_in *in)
{
    hk_statement_release(&in->st);
    free(in->context_json);
    in->context_json = NULL;
    if (in->json) json_decref(in->json);
    in->json = NULL;
}

static hk_err type_error(hk_error *err, int *status, const char *field,
                         const char *why)
{
    hk_error_set(err, HK_ERR_INVALID, "%s: %s", field, why);
    snprintf(err->field, sizeof(err->field), "%s", field);
    *status = 422;
    return HK_ERR_INVALID;
}

/* A statement given as text (the "statement" field or a bare string). */
static hk_err parse_statement_text(hk_server *srv, json_t *stmt, hk_fact_in *in,
                                   int *status, hk_error *err)
{
    if (!json_is_string(stmt))
        return type_error(err, status, "statement", "must be a string");
    size_t len = json_string_length(stmt);
    if (len > srv->cfg.max_statement) {
        hk_error_set(err, HK_ERR_LIMIT,
                     "statement is %zu bytes, over the limit of %zu", len,
                     srv->cfg.max_statement);
        snprintf(err->field, sizeof(err->field), "statement");
        *status = 413;
        return HK_ERR_LIMIT;
    }
    hk_err rc = hk_statement_parse(json_string_value(stmt), len, &in->st, err);
    if (rc != HK_OK) {
        if (!err->field[0])
            snprintf(err->field, sizeof(err->field), "statement");
        *status = rc == HK_ERR_INVALID ? 400 : 422;
        return rc;
    }
    in->has_statement = true;
    return HK_OK;
}

static hk_err parse_content(hk_server *srv, json_t *obj, hk_fact_in *in,
                            int *status, hk_error *err)
{
    json_t *stmt = json_object_get(obj, "statement");
    json_t *pred = json_object_get(obj, "predicate");
    if (stmt && pred)
        return type_error(err, status, "statement",
                          "give either statement or predicate, not both");
    if (stmt) return parse_statement_text(srv, stmt, in, status, err);
    if (!pred)
        return HK_ERR_NOT_FOUND; /* caller decides whether that is an error */
    if (!json_is_string(pred))
        return type_error(err, status, "predicate", "must be a string");
    in->st.predicate = json_string_value(pred);
    json_t *args = json_object_get(obj, "args");
    json_t *subj = json_object_get(obj, "subject");
    json_t *objv = json_object_get(obj, "object");
    if (args && (subj || objv))
        return type_error(err, status, "args",
                          "give either args or subject/object, not both");
    if (args) {
        if (!json_is_array(args))
            return type_error(err, status, "args",
                              "must be an array of strings");
        size_t n = json_array_size(args);
        if (n < 1 || n > HK_MAX_ARGS)
            return type_error(err, status, "args",
                              "must hold 1 to 32 arguments");
        for (size_t i = 0; i < n; i++) {
            json_t *a = json_array_get(args, i);
            if (!json_is_string(a)) {
                char f[32];
                snprintf(f, sizeof(f), "args[%zu]", i);
                return type_error(err, status, f, "must be a string");
            }
            if (strlen(json_string_value(a)) != json_string_length(a)) {
                char f[32];
                snprintf(f, sizeof(f), "args[%zu]", i);
                return type_error(err, status, f, "contains NUL");
            }
            in->st.args[i] = json_string_value(a);
        }
        in->st.n_args = (uint32_t)n;
    } else {
        if (!subj)
            return type_error(err, status, "subject",
                              "give subject (and object) or args");
        if (!json_is_string(subj))
            return type_error(err, status, "subject", "must be a string");
        if (strlen(json_string_value(subj)) != json_string_length(subj))
            return type_error(err, status, "subject", "contains NUL");
        in->st.args[0] = json_string_value(subj);
        in->st.n_args = 1;
        if (objv) {
            if (!json_is_string(objv))
                return type_error(err, status, "object", "must be a string");
            if (strlen(json_string_value(objv)) != json_string_length(objv))
                return type_error(err, status, "object", "contains NUL");
            in->st.args[1] = json_string_value(objv);
            in->st.n_args = 2;
        }
    }
    /* Strings from JSON may hold NUL (\u0000); the C API cannot. */
    if (strlen(in->st.predicate) != json_string_length(pred))
        return type_error(err, status, "predicate", "contains NUL");
    hk_err rc = hk_statement_validate(&in->st, err);
    if (rc != HK_OK) {
        *status = 400;
        return rc;
    }
    in->has_statement = true;
    return HK_OK;
}

static hk_err parse_meta(json_t *obj, hk_fact_in *in, int *status,
                         hk_error *err)
{
    json_t *v = json_object_get(obj, "confidence");
    if (v) {
        if (!json_is_number(v))
            return type_error(err, status, "confidence",
                              "must be a number between 0 and 1");
        double c = json_number_value(v);
        if (!(c >= 0.0 && c <= 1.0) || isnan(c))
            return type_error(err, status, "confidence",
                              "must be between 0 and 1");
        in->meta.confidence = c;
        in->meta.fields |= HK_META_CONFIDENCE;
    }
    v = json_object_get(obj, "source");
    if (v) {
        if (json_is_null(v)) {
            in->meta.source = NULL;
        } else if (json_is_string(v)) {
            if (json_string_length(v) > HK_MAX_SOURCE_BYTES)
                return type_error(err, status, "source",
                                  "is longer than 1024 bytes");
            if (strlen(json_string_value(v)) != json_string_length(v))
                return type_error(err, status, "source", "contains NUL");
            in->meta.source = json_string_value(v);
        } else {
            return type_error(err, status, "source",
                              "must be a string or null");
        }
        in->meta.fields |= HK_META_SOURCE;
    }
    v = json_object_get(obj, "tags");
    if (v) {
        if (!json_is_array(v))
            return type_error(err, status, "tags",
                              "must be an array of strings");
        size_t n = json_array_size(v);
        if (n > HK_MAX_TAGS)
            return type_error(err, status, "tags", "at most 32 tags");
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(v, i);
            char f[32];
            snprintf(f, sizeof(f), "tags[%zu]", i);
            if (!json_is_string(t))
                return type_error(err, status, f, "must be a string");
            if (json_string_length(t) == 0 ||
                json_string_length(t) > HK_MAX_TAG_BYTES ||
                strlen(json_string_value(t)) != json_string_length(t))
                return type_error(err, status, f,
                                  "must be 1..256 bytes without NUL");
            in->tags[i] = json_string_value(t);
        }
        in->meta.n_tags = (uint32_t)n;
        in->meta.tags = in->tags;
        in->meta.fields |= HK_META_TAGS;
    }
    v = json_object_get(obj, "context");
    if (v) {
        if (json_is_null(v)) {
            in->meta.context_json = NULL;
        } else if (json_is_object(v)) {
            in->context_json = json_dumps(v, JSON_COMPACT);
            if (!in->context_json) {
                hk_error_set(err, HK_ERR_NOMEM, "cannot serialize context");
                *status = 503;
                return HK_ERR_NOMEM;
            }
            if (strlen(in->context_json) > HK_MAX_CONTEXT_BYTES)
                return type_error(err, status, "context",
                                  "is larger than 65536 bytes");
            in->meta.context_json = in->context_json;
        } else {
            return type_error(err, status, "context",
                              "must be an object or null");
        }
        in->meta.fields |= HK_META_CONTEXT;
    }
    return HK_OK;
}

/* The configured argument limit (--max-args, at most HK_MAX_ARGS). */
static hk_err check_args(hk_server *srv, const hk_fact_in *in, int *status,
                         hk_error *err)
{
    if (in->has_statement && in->st.n_args > srv->cfg.max_args) {
        hk_error_set(err, HK_ERR_LIMIT,
                     "the fact has %u arguments; max-args is %u",
                     (unsigned)in->st.n_args, (unsigned)srv->cfg.max_args);
        snprintf(err->field, sizeof(err->field), "args");
        *status = 422;
        return HK_ERR_LIMIT;
    }
    return HK_OK;
}

hk_err hk_fact_in_parse(hk_server *srv, json_t *obj, bool allow_string,
                        bool need_statement, hk_fact_in *in, int *status,
                        hk_error *err)
{
    memset(in, 0, sizeof(*in));
    hk_error_clear(err);
    *status = 400;
    in->json = json_incref(obj);
    hk_err rc;
    if (allow_string && json_is_string(obj)) {
        rc = parse_statement_text(srv, obj, in, status, err);
        return rc == HK_OK ? check_args(srv, in, status, err) : rc;
    }
    if (!json_is_object(obj))
        return type_error(err, status, "body",
                          allow_string ? "each item must be an object or a "
                                         "statement string"
                                       : "must be a JSON object");
    rc = parse_content(srv, obj, in, status, err);
    if (rc == HK_ERR_NOT_FOUND) {
        if (need_statement)
            return type_error(err, status, "statement",
                              "give statement, or predicate with "
                              "subject/object or args");
        rc = HK_OK;
    }
    if (rc != HK_OK) return rc;
    rc = check_args(srv, in, status, err);
    if (rc != HK_OK) return rc;
    return parse_meta(obj, in, status, err);
}

/* ==== Output ==== */

hk_txn *hk_route_read_txn(h2o_req_t *req, hk_loop *loop, hk_error *err)
{
    hk_error_clear(err);
    hk_txn *txn = hk_loop_read_txn(loop, err);
    if (!txn) hk_send_store_error(req, err);
    return txn;
}

hk_err hk_fact_json_by_id(hk_txn *txn, hk_fact_id id, hk_buf *out,
                          hk_error *err)
{
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_store_get(txn, id, &f, err);
    if (rc == HK_OK) rc = hk_fact_write_json(&f, out);
    hk_fact_release(&f);
    return rc;
}
