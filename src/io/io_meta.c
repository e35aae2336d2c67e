/*
 * io_meta.c — fact metadata taken from JSON, shared by the JSONL and the
 * legacy SQLite sources.
 *
 * Decisions (documented in README "Import and export"):
 *  - confidence: a JSON number in 0..1; null or absent = default (1.0).
 *    Anything else rejects the record (a wrong confidence is wrong data).
 *  - source: a string; null = none. tags: an array of strings (a single
 *    string is taken as one tag); null = none.
 *  - context: an object is stored as is. Legacy exports sometimes hold the
 *    context as a string containing JSON: when that string decodes to an
 *    object, the object is stored. Any other value (text that is not JSON,
 *    an array, a number) is kept, never dropped, as
 *    {"legacy_context": <value>}.
 *  - fact_metadata (legacy SQLite column, also accepted as a JSONL key):
 *    its "source", "tags" and "confidence" fill those fields when they are
 *    not set otherwise and are valid; every other key is kept in the
 *    context under "fact_metadata". Text that is not a JSON object is
 *    kept there verbatim as a string.
 * Metadata problems in legacy columns never cost the statement: only an
 * invalid confidence rejects a record.
 *
 * One io_meta belongs to one import call (one thread).
 */
#include "io/io_internal.h"

#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void io_meta_init(io_meta *m)
{
    memset(m, 0, sizeof *m);
    m->meta.tags = m->tags;
}

void io_meta_reset(io_meta *m)
{
    if (m->context != NULL) json_decref(m->context);
    if (m->hold != NULL) json_decref(m->hold);
    free(m->context_text); /* from json_dumps: jansson's allocator */
    hk_free(m->source_text);
    io_meta_init(m);
}

void io_meta_free(io_meta *m)
{
    io_meta_reset(m);
}

static hk_err time_value(const json_t *v, const char *name, int64_t *us,
                         hk_error *err)
{
    *us = 0;
    if (v == NULL || json_is_null(v)) return HK_OK;
    if (json_is_integer(v)) {
        json_int_t s = json_integer_value(v);
        if (s < 0 || s > INT64_C(253402300799))
            return hk_error_set(err, HK_ERR_INVALID,
                                "field \"%s\": %lld seconds is outside "
                                "1970..9999",
                                name, (long long)s);
        *us = (int64_t)s * 1000000;
        return HK_OK;
    }
    if (!json_is_string(v))
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"%s\": expected an RFC 3339 time string",
                            name);
    hk_error te;
    if (hk_time_parse(json_string_value(v), us, &te) != HK_OK)
        return hk_error_set(err, HK_ERR_INVALID, "field \"%s\": %s", name,
                            te.message);
    if (*us < 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"%s\": times before 1970 are not kept",
                            name);
    return HK_OK;
}

hk_err io_meta_set_times(io_meta *m, const json_t *created,
                         const json_t *updated, hk_error *err)
{
    int64_t c, u;
    hk_err e;
    if ((e = time_value(created, "created", &c, err)) ||
        (e = time_value(updated, "updated", &u, err)))
        return e;
    if (created == NULL || json_is_null(created)) {
        if (updated != NULL && !json_is_null(updated))
            return hk_error_set(err, HK_ERR_INVALID,
                                "field \"updated\" needs \"created\"");
        return HK_OK;
    }
    if (u != 0 && u < c)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"updated\" precedes \"created\"");
    m->meta.created_us = c;
    m->meta.updated_us = u;
    m->meta.fields |= HK_META_TIMES;
    return HK_OK;
}

hk_err io_meta_set_confidence(io_meta *m, const json_t *v, hk_error *err)
{
    if (v == NULL || json_is_null(v)) return HK_OK;
    if (!json_is_number(v))
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"confidence\": expected a number in 0..1");
    double c = json_number_value(v);
    if (!isfinite(c) || c < 0.0 || c > 1.0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"confidence\": %g is outside 0..1", c);
    m->meta.confidence = c;
    m->meta.fields |= HK_META_CONFIDENCE;
    return HK_OK;
}

hk_err io_meta_set_source(io_meta *m, const json_t *v, hk_error *err)
{
    if (v == NULL || json_is_null(v)) return HK_OK;
    if (!json_is_string(v))
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"source\": expected a string");
    size_t n = json_string_length(v);
    if (n > HK_MAX_SOURCE_BYTES)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"source\": %zu bytes, at most %d allowed",
                            n, HK_MAX_SOURCE_BYTES);
    if (n == 0) return HK_OK; /* an empty source means none */
    hk_free(m->source_text);
    m->source_text = hk_strdup(json_string_value(v));
    if (m->source_text == NULL)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    m->meta.source = m->source_text;
    m->meta.fields |= HK_META_SOURCE;
    return HK_OK;
}

/* Checks one tag; returns its text or NULL with err set. */
static const char *check_tag(const json_t *t, size_t i, hk_error *err)
{
    if (!json_is_string(t)) {
        hk_error_set(err, HK_ERR_INVALID,
                     "field \"tags\": element %zu is not a string", i);
        return NULL;
    }
    size_t n = json_string_length(t);
    if (n == 0 || n > HK_MAX_TAG_BYTES) {
        hk_error_set(err, HK_ERR_INVALID,
                     "field \"tags\": element %zu has %zu bytes, expected "
                     "1..%d",
                     i, n, HK_MAX_TAG_BYTES);
        return NULL;
    }
    return json_string_value(t);
}

hk_err io_meta_set_tags(io_meta *m, const json_t *v, hk_error *err)
{
    if (v == NULL || json_is_null(v)) return HK_OK;
    if (json_is_string(v)) {
        const char *t = check_tag(v, 0, err);
        if (t == NULL) return HK_ERR_INVALID;
        m->tags[0] = t;
        m->meta.n_tags = 1;
        m->meta.fields |= HK_META_TAGS;
        return HK_OK;
    }
    if (!json_is_array(v))
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"tags\": expected an array of strings");
    size_t n = json_array_size(v);
    if (n > HK_MAX_TAGS)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"tags\": %zu tags, at most %d allowed", n,
                            HK_MAX_TAGS);
    uint32_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = check_tag(json_array_get(v, i), i, err);
        if (t == NULL) return HK_ERR_INVALID;
        bool dup = false; /* tags are a set: a tag given twice is one tag */
        for (uint32_t k = 0; k < kept && !dup; k++)
            dup = strcmp(m->tags[k], t) == 0;
        if (!dup) m->tags[kept++] = t;
    }
    m->meta.n_tags = kept;
    m->meta.fields |= HK_META_TAGS;
    return HK_OK;
}

/* Makes m->context an object this io_meta may modify. */
static hk_err own_context(io_meta *m, hk_error *err)
{
    if (m->context == NULL) {
        m->context = json_object();
    } else if (m->context->refcount > 1) {
        json_t *c = json_copy(m->context);
        json_decref(m->context);
        m->context = c;
    }
    if (m->context == NULL)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

hk_err io_meta_set_context(io_meta *m, const json_t *v, hk_error *err)
{
    if (v == NULL || json_is_null(v)) return HK_OK;
    json_t *obj = NULL;
    if (json_is_object(v)) {
        obj = json_incref((json_t *)v);
    } else {
        if (json_is_string(v)) {
            json_t *inner =
                json_loadb(json_string_value(v), json_string_length(v),
                           JSON_DECODE_ANY, NULL);
            if (inner != NULL && json_is_object(inner))
                obj = inner;
            else if (inner != NULL && json_is_null(inner)) {
                json_decref(inner);
                return HK_OK; /* "null" as text: no context */
            } else if (inner != NULL)
                json_decref(inner);
            if (obj == NULL && json_string_length(v) == 0)
                return HK_OK; /* empty text: no context */
        }
        if (obj == NULL) {
            obj = json_object();
            if (obj == NULL ||
                json_object_set(obj, "legacy_context", (json_t *)v) != 0) {
                json_decref(obj);
                return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            }
        }
    }
    if (m->context != NULL) json_decref(m->context);
    m->context = obj;
    m->context_given = true;
    m->meta.fields |= HK_META_CONTEXT;
    return HK_OK;
}

hk_err io_meta_merge_fact_metadata(io_meta *m, const json_t *v, hk_error *err)
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
    hk_err rc = own_context(m, err);
    if (rc != HK_OK) goto done;
    m->meta.fields |= HK_META_CONTEXT;
    if (!json_is_object(obj)) {
        /* Not an object: keep the original value (text stays text). */
        if (json_object_set(m->context, "fact_metadata", (json_t *)v) != 0)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    json_t *rest = json_object();
    if (rest == NULL) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool mapped = false;
        hk_error ignored;
        if (strcmp(key, "source") == 0 && !(m->meta.fields & HK_META_SOURCE) &&
            json_is_string(val))
            mapped = io_meta_set_source(m, val, &ignored) == HK_OK &&
                     (m->meta.fields & HK_META_SOURCE);
        else if (strcmp(key, "tags") == 0 && !(m->meta.fields & HK_META_TAGS)) {
            mapped = io_meta_set_tags(m, val, &ignored) == HK_OK &&
                     (m->meta.fields & HK_META_TAGS);
        } else if (strcmp(key, "confidence") == 0 &&
                   !(m->meta.fields & HK_META_CONFIDENCE))
            mapped = io_meta_set_confidence(m, val, &ignored) == HK_OK &&
                     (m->meta.fields & HK_META_CONFIDENCE);
        if (!mapped && json_object_set(rest, key, val) != 0) {
            json_decref(rest);
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (json_object_size(rest) > 0) {
        if (json_object_set_new(m->context, "fact_metadata", rest) != 0)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    } else {
        json_decref(rest);
    }
    /* Mapped tags point into the decoded value: keep it until reset. */
    if (decoded != NULL && (m->meta.fields & HK_META_TAGS)) {
        json_decref(m->hold);
        m->hold = json_incref(decoded);
    }
done:
    if (decoded != NULL) json_decref(decoded);
    return rc;
}

hk_err io_meta_finish(io_meta *m, hk_error *err)
{
    if (m->context == NULL) return HK_OK;
    if (json_object_size(m->context) == 0 && !m->context_given) {
        /* fact_metadata was fully mapped: no context left to store. */
        m->meta.fields &= ~(unsigned)HK_META_CONTEXT;
        return HK_OK;
    }
    m->context_text =
        json_dumps(m->context, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (m->context_text == NULL)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    size_t n = strlen(m->context_text);
    if (n > HK_MAX_CONTEXT_BYTES)
        return hk_error_set(err, HK_ERR_INVALID,
                            "field \"context\": %zu bytes of JSON, at most "
                            "%d allowed",
                            n, HK_MAX_CONTEXT_BYTES);
    m->meta.context_json = m->context_text;
    m->meta.fields |= HK_META_CONTEXT;
    return HK_OK;
}
