/*
 * svc_codec.c — the JSON forms shared by every adapter: fact input (the
 * one parser from JSON to a statement plus metadata), errors, facts and
 * audit entries.
 *
 * Output: text is the primary form (the REST server streams it into
 * response buffers without building a document); the jansson forms are
 * parsed from that text so that both can never disagree on a field.
 *
 * Input: hk_svc_fact_in_parse reads the content first, then confidence,
 * times, source, tags, context and fact_metadata, and serialises the
 * context last; each field has one parser with a strict and a legacy rule
 * (service.h says which differ). The first refused field ends the parse.
 * Messages read 'field "NAME": why' and err->field names the field.
 *
 * Any thread; a hk_svc_fact_in belongs to one thread.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "service/service.h"

/* ==== Fact input ==== */

void hk_svc_fact_in_init(hk_svc_fact_in *in)
{
    memset(in, 0, offsetof(hk_svc_fact_in, tags));
    in->meta.tags = in->tags;
}

void hk_svc_fact_in_release(hk_svc_fact_in *in)
{
    hk_free(in->st.owned);
    if (in->json != NULL) json_decref(in->json);
    if (in->context != NULL) json_decref(in->context);
    if (in->hold != NULL) json_decref(in->hold);
    free(in->context_text); /* from json_dumps: jansson's allocator */
    hk_svc_fact_in_init(in);
}

/* Refuses the input: 'field "NAME": why', err->field = NAME (the element
 * name when given, e.g. "tags[2]"). */
static hk_err in_fail(hk_svc_fact_in *in, hk_error *err, hk_svc_fault fault,
                      hk_err code, const char *field, const char *element,
                      const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    in->fault = fault;
    hk_error_set(err, code, "field \"%s\": %s", field, why);
    if (err != NULL)
        snprintf(err->field, sizeof err->field, "%s",
                 element != NULL ? element : field);
    return code;
}

static hk_err in_nomem(hk_svc_fact_in *in, hk_error *err)
{
    in->fault = HK_SVC_FAULT_NOMEM;
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

static bool has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

static bool absent(const json_t *v, bool legacy)
{
    return v == NULL || (legacy && json_is_null(v));
}

/* ---- Content ---- */

/* Statement text: a "statement" field or a bare string. */
static hk_err in_statement_text(hk_svc_fact_in *in, const json_t *v,
                                const hk_svc_fact_in_opts *o, hk_error *err)
{
    if (!json_is_string(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "statement",
                       NULL, "expected a string");
    size_t len = json_string_length(v);
    if (o->max_statement != 0 && len > o->max_statement)
        return in_fail(in, err, HK_SVC_FAULT_TOO_LONG, HK_ERR_LIMIT,
                       "statement", NULL, "%zu bytes, over the limit of %zu",
                       len, o->max_statement);
    hk_err rc = hk_statement_parse(json_string_value(v), len, &in->st, err);
    if (rc != HK_OK) {
        in->fault = rc == HK_ERR_NOMEM     ? HK_SVC_FAULT_NOMEM
                    : rc == HK_ERR_INVALID ? HK_SVC_FAULT_SYNTAX
                                           : HK_SVC_FAULT_VALUE;
        if (err != NULL && err->field[0] == '\0')
            snprintf(err->field, sizeof err->field, "statement");
        return rc;
    }
    in->has_statement = true;
    return HK_OK;
}

/* One argument: a string, or in legacy input a number (kept as text). */
static hk_err in_arg(hk_svc_fact_in *in, const json_t *a, size_t i, bool legacy,
                     hk_error *err)
{
    char el[32];
    snprintf(el, sizeof el, "args[%zu]", i);
    if (json_is_string(a)) {
        if (has_nul(a))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args",
                           el, "argument %zu contains a NUL byte", i);
        in->st.args[i] = json_string_value(a);
        return HK_OK;
    }
    if (legacy && json_is_integer(a)) {
        snprintf(in->numbers[i], sizeof in->numbers[i], "%" JSON_INTEGER_FORMAT,
                 json_integer_value(a));
        in->st.args[i] = in->numbers[i];
        return HK_OK;
    }
    if (legacy && json_is_real(a)) {
        snprintf(in->numbers[i], sizeof in->numbers[i], "%.17g",
                 json_real_value(a));
        in->st.args[i] = in->numbers[i];
        return HK_OK;
    }
    return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args", el,
                   legacy ? "argument %zu: expected a string or a number"
                          : "argument %zu: expected a string",
                   i);
}

/* {"predicate", "args"} or {"predicate", "subject"[, "object"]}. */
static hk_err in_parts(hk_svc_fact_in *in, const json_t *obj,
                       const json_t *pred, bool legacy, hk_error *err)
{
    if (!json_is_string(pred))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "predicate",
                       NULL, "expected a string");
    if (has_nul(pred))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "predicate",
                       NULL, "contains a NUL byte");
    in->st.predicate = json_string_value(pred);
    const json_t *args = json_object_get(obj, "args");
    const json_t *parts[2] = {json_object_get(obj, "subject"),
                              json_object_get(obj, "object")};
    if (!legacy && args != NULL && (parts[0] != NULL || parts[1] != NULL))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args",
                       NULL, "give either args or subject/object, not both");
    if (args != NULL) {
        if (!json_is_array(args))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args",
                           NULL, "expected an array of strings");
        size_t n = json_array_size(args);
        if (n < 1 || n > HK_MAX_ARGS)
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args",
                           NULL, "%zu arguments, expected 1..%d", n,
                           HK_MAX_ARGS);
        for (size_t i = 0; i < n; i++) {
            hk_err rc = in_arg(in, json_array_get(args, i), i, legacy, err);
            if (rc != HK_OK) return rc;
        }
        in->st.n_args = (uint32_t)n;
        return HK_OK;
    }
    /* subject and object: both in legacy input; object optional else */
    if (parts[0] == NULL || (legacy && parts[1] == NULL))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "args",
                       NULL, "missing: give args, or subject and object");
    for (size_t i = 0; i < 2 && parts[i] != NULL; i++) {
        const char *name = i == 0 ? "subject" : "object";
        if (json_is_string(parts[i]) && has_nul(parts[i]))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name,
                           NULL, "contains a NUL byte");
        if (!json_is_string(parts[i]) && !legacy)
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name,
                           NULL, "expected a string");
        hk_err rc = in_arg(in, parts[i], i, legacy, err);
        if (rc != HK_OK) return rc;
        in->st.n_args = (uint32_t)i + 1;
    }
    return HK_OK;
}

/* The content of an object: HK_ERR_NOT_FOUND (err untouched) when it has
 * none. */
static hk_err in_content(hk_svc_fact_in *in, const json_t *obj,
                         const hk_svc_fact_in_opts *o, hk_error *err)
{
    const json_t *stmt = json_object_get(obj, "statement");
    const json_t *pred = json_object_get(obj, "predicate");
    if (absent(stmt, o->legacy)) stmt = NULL;
    if (absent(pred, o->legacy)) pred = NULL;
    if (stmt != NULL && pred != NULL && !o->legacy)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "statement",
                       NULL, "give either statement or predicate, not both");
    if (stmt != NULL) return in_statement_text(in, stmt, o, err);
    if (pred == NULL) return HK_ERR_NOT_FOUND;
    hk_err rc = in_parts(in, obj, pred, o->legacy, err);
    if (rc != HK_OK) return rc;
    rc = hk_statement_validate(&in->st, err);
    if (rc != HK_OK) {
        in->fault =
            rc == HK_ERR_NOMEM ? HK_SVC_FAULT_NOMEM : HK_SVC_FAULT_SYNTAX;
        return rc;
    }
    in->has_statement = true;
    return HK_OK;
}

/* The configured argument limit (at most HK_MAX_ARGS). */
static hk_err in_check_args(hk_svc_fact_in *in, const hk_svc_fact_in_opts *o,
                            hk_error *err)
{
    if (in->has_statement && o->max_args != 0 && in->st.n_args > o->max_args)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_LIMIT, "args", NULL,
                       "the fact has %u arguments; max-args is %u",
                       (unsigned)in->st.n_args, (unsigned)o->max_args);
    return HK_OK;
}

/* ---- Metadata fields ---- */

hk_err hk_svc_fact_in_confidence(hk_svc_fact_in *in, const json_t *v,
                                 bool legacy, hk_error *err)
{
    if (absent(v, legacy)) return HK_OK;
    if (!json_is_number(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID,
                       "confidence", NULL, "expected a number in 0..1");
    double c = json_number_value(v);
    if (!isfinite(c) || c < 0.0 || c > 1.0)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID,
                       "confidence", NULL, "%g is outside 0..1", c);
    in->meta.confidence = c;
    in->meta.fields |= HK_META_CONFIDENCE;
    return HK_OK;
}

static hk_err time_value(hk_svc_fact_in *in, const json_t *v, const char *name,
                         int64_t *us, hk_error *err)
{
    *us = 0;
    if (v == NULL || json_is_null(v)) return HK_OK;
    if (json_is_integer(v)) {
        json_int_t s = json_integer_value(v);
        if (s < 0 || s > INT64_C(253402300799))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name,
                           NULL, "%lld seconds is outside 1970..9999",
                           (long long)s);
        *us = (int64_t)s * 1000000;
        return HK_OK;
    }
    if (!json_is_string(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name, NULL,
                       "expected an RFC 3339 time string");
    hk_error te;
    hk_error_clear(&te);
    if (hk_time_parse(json_string_value(v), us, &te) != HK_OK)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name, NULL,
                       "%s", te.message);
    if (*us < 0)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, name, NULL,
                       "times before 1970 are not kept");
    return HK_OK;
}

hk_err hk_svc_fact_in_times(hk_svc_fact_in *in, const json_t *created,
                            const json_t *updated, hk_error *err)
{
    int64_t c, u;
    hk_err rc;
    if ((rc = time_value(in, created, "created", &c, err)) != HK_OK ||
        (rc = time_value(in, updated, "updated", &u, err)) != HK_OK)
        return rc;
    if (created == NULL || json_is_null(created)) {
        if (updated != NULL && !json_is_null(updated))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID,
                           "updated", NULL, "needs \"created\"");
        return HK_OK;
    }
    if (u != 0 && u < c)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "updated",
                       NULL, "precedes \"created\"");
    in->meta.created_us = c;
    in->meta.updated_us = u;
    in->meta.fields |= HK_META_TIMES;
    return HK_OK;
}

hk_err hk_svc_fact_in_source(hk_svc_fact_in *in, const json_t *v, bool legacy,
                             hk_error *err)
{
    if (absent(v, legacy)) return HK_OK;
    if (json_is_null(v)) { /* strict: null clears */
        in->meta.source = NULL;
        in->meta.fields |= HK_META_SOURCE;
        return HK_OK;
    }
    if (!json_is_string(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "source",
                       NULL,
                       legacy ? "expected a string"
                              : "expected a string or "
                                "null");
    size_t n = json_string_length(v);
    if (n > HK_MAX_SOURCE_BYTES)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "source",
                       NULL, "%zu bytes, at most %d allowed", n,
                       HK_MAX_SOURCE_BYTES);
    if (has_nul(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "source",
                       NULL, "contains a NUL byte");
    if (n == 0 && legacy) return HK_OK; /* an empty legacy source is none */
    in->meta.source = json_string_value(v);
    in->meta.fields |= HK_META_SOURCE;
    return HK_OK;
}

/* One tag; returns its text or NULL with err set. */
static const char *in_tag(hk_svc_fact_in *in, const json_t *t, size_t i,
                          hk_error *err)
{
    char el[32];
    snprintf(el, sizeof el, "tags[%zu]", i);
    if (!json_is_string(t)) {
        in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "tags", el,
                "element %zu is not a string", i);
        return NULL;
    }
    size_t n = json_string_length(t);
    if (n == 0 || n > HK_MAX_TAG_BYTES || has_nul(t)) {
        in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "tags", el,
                "element %zu has %zu bytes%s, expected 1..%d", i, n,
                has_nul(t) ? " with a NUL byte" : "", HK_MAX_TAG_BYTES);
        return NULL;
    }
    return json_string_value(t);
}

hk_err hk_svc_fact_in_tags(hk_svc_fact_in *in, const json_t *v, bool legacy,
                           hk_error *err)
{
    if (absent(v, legacy)) return HK_OK;
    if (legacy && json_is_string(v)) { /* one tag */
        const char *t = in_tag(in, v, 0, err);
        if (t == NULL) return HK_ERR_INVALID;
        in->tags[0] = t;
        in->meta.n_tags = 1;
        in->meta.fields |= HK_META_TAGS;
        return HK_OK;
    }
    if (!json_is_array(v))
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "tags",
                       NULL, "expected an array of strings");
    size_t n = json_array_size(v);
    if (n > HK_MAX_TAGS)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "tags",
                       NULL, "%zu tags, at most %d allowed", n, HK_MAX_TAGS);
    uint32_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = in_tag(in, json_array_get(v, i), i, err);
        if (t == NULL) return HK_ERR_INVALID;
        bool dup = false; /* tags are a set: a tag given twice is one tag */
        for (uint32_t k = 0; k < kept && !dup; k++)
            dup = strcmp(in->tags[k], t) == 0;
        if (!dup) in->tags[kept++] = t;
    }
    in->meta.n_tags = kept;
    in->meta.fields |= HK_META_TAGS;
    return HK_OK;
}

/* Makes in->context an object that in may modify. */
static hk_err own_context(hk_svc_fact_in *in, hk_error *err)
{
    if (in->context == NULL) {
        in->context = json_object();
    } else if (in->context->refcount > 1) {
        json_t *c = json_copy(in->context);
        json_decref(in->context);
        in->context = c;
    }
    return in->context != NULL ? HK_OK : in_nomem(in, err);
}

hk_err hk_svc_fact_in_context(hk_svc_fact_in *in, const json_t *v, bool legacy,
                              hk_error *err)
{
    if (absent(v, legacy)) return HK_OK;
    json_t *obj = NULL;
    if (json_is_object(v)) {
        obj = json_incref((json_t *)v);
    } else if (!legacy) {
        if (!json_is_null(v))
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID,
                           "context", NULL, "expected an object or null");
        /* null clears */
    } else {
        if (json_is_string(v)) {
            json_t *inner =
                json_loadb(json_string_value(v), json_string_length(v),
                           JSON_DECODE_ANY, NULL);
            if (inner != NULL && json_is_object(inner)) {
                obj = inner;
            } else if (inner != NULL && json_is_null(inner)) {
                json_decref(inner);
                return HK_OK; /* "null" as text: no context */
            } else if (inner != NULL) {
                json_decref(inner);
            }
            if (obj == NULL && json_string_length(v) == 0)
                return HK_OK; /* empty text: no context */
        }
        if (obj == NULL) {
            obj = json_object();
            if (obj == NULL ||
                json_object_set(obj, "legacy_context", (json_t *)v) != 0) {
                json_decref(obj);
                return in_nomem(in, err);
            }
        }
    }
    if (in->context != NULL) json_decref(in->context);
    in->context = obj;
    in->context_given = true;
    in->meta.fields |= HK_META_CONTEXT;
    return HK_OK;
}

hk_err hk_svc_fact_in_fact_metadata(hk_svc_fact_in *in, const json_t *v,
                                    hk_error *err)
{
    if (v == NULL || json_is_null(v)) return HK_OK;
    json_t *decoded = NULL;
    const json_t *obj = v;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) return HK_OK;
        decoded = json_loadb(json_string_value(v), json_string_length(v),
                             JSON_DECODE_ANY, NULL);
        if (decoded != NULL && json_is_null(decoded)) {
            json_decref(decoded);
            return HK_OK;
        }
        obj = decoded != NULL ? decoded : v;
    }
    hk_err rc = own_context(in, err);
    if (rc != HK_OK) goto done;
    in->meta.fields |= HK_META_CONTEXT;
    if (!json_is_object(obj)) {
        /* Not an object: keep the original value (text stays text). */
        if (json_object_set(in->context, "fact_metadata", (json_t *)v) != 0)
            rc = in_nomem(in, err);
        goto done;
    }
    json_t *rest = json_object();
    if (rest == NULL) {
        rc = in_nomem(in, err);
        goto done;
    }
    bool mapped_text = false; /* source or tags now point into obj */
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool mapped = false;
        hk_error ignored;
        hk_svc_fault fault = in->fault; /* a value that is not used is no
                                           fault of the record */
        if (strcmp(key, "source") == 0 && !(in->meta.fields & HK_META_SOURCE) &&
            json_is_string(val))
            mapped = hk_svc_fact_in_source(in, val, true, &ignored) == HK_OK &&
                     (in->meta.fields & HK_META_SOURCE);
        else if (strcmp(key, "tags") == 0 && !(in->meta.fields & HK_META_TAGS))
            mapped = hk_svc_fact_in_tags(in, val, true, &ignored) == HK_OK &&
                     (in->meta.fields & HK_META_TAGS);
        else if (strcmp(key, "confidence") == 0 &&
                 !(in->meta.fields & HK_META_CONFIDENCE))
            mapped =
                hk_svc_fact_in_confidence(in, val, true, &ignored) == HK_OK &&
                (in->meta.fields & HK_META_CONFIDENCE);
        in->fault = fault;
        if (mapped && strcmp(key, "confidence") != 0) mapped_text = true;
        if (!mapped && json_object_set(rest, key, val) != 0) {
            json_decref(rest);
            rc = in_nomem(in, err);
            goto done;
        }
    }
    if (json_object_size(rest) > 0) {
        if (json_object_set_new(in->context, "fact_metadata", rest) != 0)
            rc = in_nomem(in, err);
    } else {
        json_decref(rest);
    }
    /* Mapped source and tags point into the decoded value: keep it. */
    if (decoded != NULL && mapped_text) {
        if (in->hold != NULL) json_decref(in->hold);
        in->hold = json_incref(decoded);
    }
done:
    if (decoded != NULL) json_decref(decoded);
    return rc;
}

hk_err hk_svc_fact_in_finish(hk_svc_fact_in *in, hk_error *err)
{
    if (in->context == NULL) return HK_OK; /* none, or null (clears) */
    if (json_object_size(in->context) == 0 && !in->context_given) {
        /* fact_metadata was fully mapped: no context left to store. */
        in->meta.fields &= ~(unsigned)HK_META_CONTEXT;
        return HK_OK;
    }
    free(in->context_text);
    in->context_text =
        json_dumps(in->context, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (in->context_text == NULL) return in_nomem(in, err);
    size_t n = strlen(in->context_text);
    if (n > HK_MAX_CONTEXT_BYTES)
        return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID, "context",
                       NULL, "%zu bytes of JSON, at most %d allowed", n,
                       HK_MAX_CONTEXT_BYTES);
    in->meta.context_json = in->context_text;
    in->meta.fields |= HK_META_CONTEXT;
    return HK_OK;
}

hk_err hk_svc_fact_in_parse(json_t *v, const hk_svc_fact_in_opts *o,
                            hk_svc_fact_in *in, hk_error *err)
{
    hk_svc_fact_in_init(in);
    hk_error_clear(err);
    in->json = json_incref(v);
    hk_err rc;
    if (o->allow_string && json_is_string(v)) {
        rc = in_statement_text(in, v, o, err);
        return rc == HK_OK ? in_check_args(in, o, err) : rc;
    }
    if (!json_is_object(v)) {
        /* The whole input: no field to name in the message. */
        in->fault = HK_SVC_FAULT_VALUE;
        hk_error_set(err, HK_ERR_INVALID, "%s",
                     o->allow_string ? "expected a JSON object or a "
                                       "statement string"
                                     : "expected a JSON object");
        if (err != NULL) snprintf(err->field, sizeof err->field, "body");
        return HK_ERR_INVALID;
    }
    rc = in_content(in, v, o, err);
    if (rc == HK_ERR_NOT_FOUND) {
        if (o->need_statement)
            return in_fail(in, err, HK_SVC_FAULT_VALUE, HK_ERR_INVALID,
                           "statement", NULL,
                           "missing: give statement, or predicate with args "
                           "or subject/object");
        rc = HK_OK;
    }
    if (rc == HK_OK) rc = in_check_args(in, o, err);
    if (rc == HK_OK)
        rc = hk_svc_fact_in_confidence(in, json_object_get(v, "confidence"),
                                       o->legacy, err);
    if (rc == HK_OK && o->legacy)
        rc = hk_svc_fact_in_times(in, json_object_get(v, "created"),
                                  json_object_get(v, "updated"), err);
    if (rc == HK_OK)
        rc = hk_svc_fact_in_source(in, json_object_get(v, "source"), o->legacy,
                                   err);
    if (rc == HK_OK)
        rc =
            hk_svc_fact_in_tags(in, json_object_get(v, "tags"), o->legacy, err);
    if (rc == HK_OK)
        rc = hk_svc_fact_in_context(in, json_object_get(v, "context"),
                                    o->legacy, err);
    if (rc == HK_OK && o->legacy)
        rc = hk_svc_fact_in_fact_metadata(
            in, json_object_get(v, "fact_metadata"), err);
    if (rc == HK_OK) rc = hk_svc_fact_in_finish(in, err);
    return rc;
}

/* ==== Errors ==== */

/* The members "line","column","field" of err that are set, each preceded
 * by a comma when *sep says one is due (then it always is). */
static hk_err error_detail_members(const hk_error *err, bool *sep, hk_buf *out)
{
    hk_err rc = HK_OK;
    if (rc == HK_OK && err->line) {
        rc = hk_buf_appendf(out, "%s\"line\":%llu", *sep ? "," : "",
                            (unsigned long long)err->line);
        *sep = true;
    }
    if (rc == HK_OK && err->column) {
        rc = hk_buf_appendf(out, "%s\"column\":%u", *sep ? "," : "",
                            (unsigned)err->column);
        *sep = true;
    }
    if (rc == HK_OK && err->field[0]) {
        rc = hk_buf_appendf(out, "%s\"field\":", *sep ? "," : "");
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(
                out, err->field, strnlen(err->field, sizeof(err->field)));
        *sep = true;
    }
    return rc;
}

hk_err hk_svc_error_detail_write_json(const hk_error *err, hk_buf *out)
{
    bool sep = false;
    hk_err rc = hk_buf_append_str(out, "{");
    if (rc == HK_OK) rc = error_detail_members(err, &sep, out);
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    return rc;
}

hk_err hk_svc_error_kind_detail_write_json(const hk_error *err, hk_buf *out)
{
    bool sep = true;
    hk_err rc = hk_buf_append_str(out, "{\"kind\":");
    const char *kind = hk_strerror(err->code);
    if (rc == HK_OK) rc = hk_buf_append_json_string(out, kind, strlen(kind));
    if (rc == HK_OK) rc = error_detail_members(err, &sep, out);
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}");
    return rc;
}

hk_err hk_svc_error_envelope_write_json(const char *code, const char *message,
                                        const char *detail_json,
                                        bool null_detail, hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "{\"error\":{\"code\":");
    if (rc == HK_OK) rc = hk_buf_append_json_string(out, code, strlen(code));
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"message\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, message, strlen(message));
    if (rc == HK_OK && (detail_json || null_detail)) {
        rc = hk_buf_append_str(out, ",\"detail\":");
        if (rc == HK_OK)
            rc = hk_buf_append_str(out, detail_json ? detail_json : "null");
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "}}");
    return rc;
}

hk_err hk_svc_error_write_json(const char *code, const hk_error *err,
                               hk_buf *out)
{
    const char *msg = err->message[0] ? err->message : hk_strerror(err->code);
    hk_buf d = HK_BUF_INIT;
    hk_err rc = HK_OK;
    if (err->line || err->column || err->field[0])
        rc = hk_svc_error_detail_write_json(err, &d);
    if (rc == HK_OK)
        rc = hk_svc_error_envelope_write_json(code, msg, d.data, false, out);
    hk_buf_free(&d);
    return rc;
}

/* ==== Facts (output) ==== */

json_t *hk_svc_fact_jansson(const hk_fact *f)
{
    hk_buf b = HK_BUF_INIT;
    json_t *j = NULL;
    if (hk_fact_write_json(f, &b) == HK_OK)
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    hk_buf_free(&b);
    return j;
}

/* ==== Audit entries ==== */

static hk_err append_raw_json_or_null(hk_buf *out, const char *s)
{
    return hk_buf_append_str(out, s != NULL && s[0] != '\0' ? s : "null");
}

hk_err hk_svc_audit_entry_write_json(const hk_audit_entry *e, hk_buf *out)
{
    char when[32];
    hk_time_format(e->time_us, when);
    char h[65], ph[65];
    hk_hex(e->hash, 32, h);
    hk_hex(e->prev_hash, 32, ph);
    hk_err rc = hk_buf_appendf(out, "{\"seq\":%llu,\"time\":\"%s\",\"actor\":",
                               (unsigned long long)e->seq, when);
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, e->actor ? e->actor : "",
                                       e->actor ? strlen(e->actor) : 0);
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"op\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, e->op ? e->op : "",
                                       e->op ? strlen(e->op) : 0);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out,
                            ",\"fact_id\":%llu,\"fact_id_last\":%llu,"
                            "\"count\":%llu,\"before\":",
                            (unsigned long long)e->fact_id,
                            (unsigned long long)e->fact_id_last,
                            (unsigned long long)e->count);
    if (rc == HK_OK) rc = append_raw_json_or_null(out, e->before);
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"after\":");
    if (rc == HK_OK) rc = append_raw_json_or_null(out, e->after);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, ",\"prev_hash\":\"%s\",\"hash\":\"%s\"}", ph,
                            h);
    return rc;
}

hk_err hk_svc_audit_entries_write_json(const hk_audit_entry *v, size_t n,
                                       hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "[");
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        if (i > 0) rc = hk_buf_append_str(out, ",");
        if (rc == HK_OK) rc = hk_svc_audit_entry_write_json(&v[i], out);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "]");
    return rc;
}

json_t *hk_svc_audit_entry_jansson(const hk_audit_entry *e)
{
    hk_buf b = HK_BUF_INIT;
    json_t *j = NULL;
    if (hk_svc_audit_entry_write_json(e, &b) == HK_OK)
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    hk_buf_free(&b);
    return j;
}
