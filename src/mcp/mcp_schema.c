/*
 * mcp_schema.c — validation of tool arguments against the tools' input
 * schemas.
 *
 * The tool schemas are ours, so the validator implements exactly the JSON
 * Schema 2020-12 keywords they use (type, properties, required,
 * additionalProperties, items, enum, const, minimum, maximum, minLength,
 * maxLength, minItems, maxItems) and treats every other keyword as an
 * annotation. A schema that uses a keyword not listed here therefore
 * validates less than it says; the unit of review is the schema table in
 * mcp_tools_*.c. Recursion depth is bounded by the schema, not the input.
 *
 * Thread-safe: pure functions over immutable JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mcp/mcp_int.h"

/* ==== Helpers ==== */

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0) return json_is_object(v);
    if (strcmp(type, "array") == 0) return json_is_array(v);
    if (strcmp(type, "string") == 0) return json_is_string(v);
    if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(type, "null") == 0) return json_is_null(v);
    if (strcmp(type, "number") == 0) return json_is_number(v);
    if (strcmp(type, "integer") == 0) {
        if (json_is_integer(v)) return true;
        if (json_is_real(v)) {
            double d = json_real_value(v);
            return isfinite(d) && floor(d) == d;
        }
        return false;
    }
    return false;
}

/* Counts UTF-8 code points (minLength counts characters, not bytes). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static bool reject(char *why, size_t why_len, const char *path,
                   const char *what)
{
    snprintf(why, why_len, "%s%s%s", path[0] ? path : "", path[0] ? ": " : "",
             what);
    return false;
}

/* ==== Validation ==== */

static bool validate(const json_t *schema, const json_t *v, const char *path,
                     char *why, size_t why_len, int depth)
{
    char msg[320];
    if (depth > 32) return reject(why, why_len, path, "schema nests too deep");
    if (!json_is_object(schema)) return true;

    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type)) {
        if (!type_matches(json_string_value(type), v)) {
            snprintf(msg, sizeof msg, "must be of type %s",
                     json_string_value(type));
            return reject(why, why_len, path, msg);
        }
    } else if (json_is_array(type)) {
        size_t i;
        const json_t *t;
        bool ok = false;
        json_array_foreach(type, i, t)
        {
            if (json_is_string(t) && type_matches(json_string_value(t), v))
                ok = true;
        }
        if (!ok) return reject(why, why_len, path, "has the wrong type");
    }

    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        size_t i;
        const json_t *e;
        bool ok = false;
        json_array_foreach(en, i, e)
        {
            if (json_equal((json_t *)e, (json_t *)v)) ok = true;
        }
        if (!ok) {
            char *allowed = json_dumps(en, JSON_COMPACT);
            snprintf(msg, sizeof msg, "must be one of %s",
                     allowed ? allowed : "the listed values");
            free(allowed); /* json_dumps memory: libc free */
            return reject(why, why_len, path, msg);
        }
    }
    const json_t *cn = json_object_get(schema, "const");
    if (cn && !json_equal((json_t *)cn, (json_t *)v))
        return reject(why, why_len, path, "does not have the required value");

    if (json_is_number(v)) {
        double d = json_number_value(v);
        const json_t *mn = json_object_get(schema, "minimum");
        const json_t *mx = json_object_get(schema, "maximum");
        if (json_is_number(mn) && d < json_number_value(mn)) {
            snprintf(msg, sizeof msg, "must be >= %g", json_number_value(mn));
            return reject(why, why_len, path, msg);
        }
        if (json_is_number(mx) && d > json_number_value(mx)) {
            snprintf(msg, sizeof msg, "must be <= %g", json_number_value(mx));
            return reject(why, why_len, path, msg);
        }
    }

    if (json_is_string(v)) {
        size_t n = utf8_chars(json_string_value(v));
        const json_t *mn = json_object_get(schema, "minLength");
        const json_t *mx = json_object_get(schema, "maxLength");
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
            snprintf(msg, sizeof msg, "must have at least %lld characters",
                     (long long)json_integer_value(mn));
            return reject(why, why_len, path, msg);
        }
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
            snprintf(msg, sizeof msg, "must have at most %lld characters",
                     (long long)json_integer_value(mx));
            return reject(why, why_len, path, msg);
        }
    }

    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        const json_t *mn = json_object_get(schema, "minItems");
        const json_t *mx = json_object_get(schema, "maxItems");
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
            snprintf(msg, sizeof msg, "must have at least %lld items",
                     (long long)json_integer_value(mn));
            return reject(why, why_len, path, msg);
        }
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
            snprintf(msg, sizeof msg, "must have at most %lld items",
                     (long long)json_integer_value(mx));
            return reject(why, why_len, path, msg);
        }
        const json_t *items = json_object_get(schema, "items");
        if (json_is_object(items)) {
            size_t i;
            const json_t *e;
            json_array_foreach(v, i, e)
            {
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (!validate(items, e, sub, why, why_len, depth + 1))
                    return false;
            }
        }
    }

    if (json_is_object(v)) {
        const json_t *req = json_object_get(schema, "required");
        const json_t *props = json_object_get(schema, "properties");
        const json_t *addl = json_object_get(schema, "additionalProperties");
        if (json_is_array(req)) {
            size_t i;
            const json_t *r;
            json_array_foreach(req, i, r)
            {
                if (json_is_string(r) &&
                    !json_object_get(v, json_string_value(r))) {
                    snprintf(msg, sizeof msg, "missing required property '%s'",
                             json_string_value(r));
                    return reject(why, why_len, path, msg);
                }
            }
        }
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
            const json_t *ps =
                json_is_object(props) ? json_object_get(props, key) : NULL;
            if (ps) {
                if (!validate(ps, val, sub, why, why_len, depth + 1))
                    return false;
            } else if (json_is_false(addl)) {
                snprintf(msg, sizeof msg, "unknown property '%s'", key);
                return reject(why, why_len, path, msg);
            } else if (json_is_object(addl)) {
                if (!validate(addl, val, sub, why, why_len, depth + 1))
                    return false;
            }
        }
    }
    return true;
}

bool mcp_schema_validate(const json_t *schema, const json_t *value, char *why,
                         size_t why_len)
{
    if (why_len) why[0] = '\0';
    return validate(schema, value, "", why, why_len, 0);
}

/* ==== Zod-style checking (the memory profile) ====
 *
 * The reference memory server validates arguments with zod 3 through the
 * MCP SDK: unknown properties are dropped, not refused; every issue is
 * reported (schema order: properties as listed, array items in order),
 * one per line, as "Expected string, received number at entities[0].name"
 * or "Required at entities" (no " at ..." for the root). Only what the
 * memory schemas use is implemented: type (string, number, integer,
 * boolean, array, object), properties, required, items, and the bounds
 * (minimum, maximum, minLength, maxLength) of hakgal's opt-in arguments
 * with zod's wording. */

/* zod 3's name of a JSON value's type (getParsedType). */
static const char *zod_type(const json_t *v)
{
    if (json_is_string(v)) return "string";
    if (json_is_integer(v)) return "number";
    if (json_is_real(v)) return isnan(json_real_value(v)) ? "nan" : "number";
    if (json_is_boolean(v)) return "boolean";
    if (json_is_null(v)) return "null";
    if (json_is_array(v)) return "array";
    return "object";
}

typedef struct zod_out {
    char *buf;      /* message lines */
    size_t cap;     /* its size */
    size_t len;     /* used */
    unsigned count; /* issues */
} zod_out;

static void zod_issue(zod_out *o, const char *path, const char *msg)
{
    if (o->len + 1 >= o->cap) return; /* full: the first issues are kept */
    int n = snprintf(o->buf + o->len, o->cap - o->len, "%s%s%s%s",
                     o->count ? "\n" : "", msg, path[0] ? " at " : "", path);
    if (n > 0)
        o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
    o->count++;
}

static void zod_check(const json_t *schema, const json_t *v, const char *path,
                      zod_out *o, int depth)
{
    if (depth > 32 || !json_is_object(schema)) return;
    const json_t *type = json_object_get(schema, "type");
    const char *t = json_is_string(type) ? json_string_value(type) : NULL;
    if (t) {
        bool ok = strcmp(t, "number") == 0    ? json_is_number(v)
                  : strcmp(t, "integer") == 0 ? json_is_integer(v)
                                              : type_matches(t, v);
        if (!ok) {
            char msg[96];
            snprintf(msg, sizeof msg, "Expected %s, received %s",
                     strcmp(t, "integer") == 0 ? "number" : t, zod_type(v));
            zod_issue(o, path, msg);
            return;
        }
    }
    char msg[128];
    if (json_is_number(v)) { /* bounds of hakgal's opt-in arguments */
        double d = json_number_value(v);
        const json_t *mn = json_object_get(schema, "minimum");
        const json_t *mx = json_object_get(schema, "maximum");
        if (json_is_number(mn) && d < json_number_value(mn)) {
            snprintf(msg, sizeof msg,
                     "Number must be greater than or equal to %g",
                     json_number_value(mn));
            zod_issue(o, path, msg);
        }
        if (json_is_number(mx) && d > json_number_value(mx)) {
            snprintf(msg, sizeof msg, "Number must be less than or equal to %g",
                     json_number_value(mx));
            zod_issue(o, path, msg);
        }
    }
    if (json_is_string(v)) {
        size_t n = utf8_chars(json_string_value(v));
        const json_t *mn = json_object_get(schema, "minLength");
        const json_t *mx = json_object_get(schema, "maxLength");
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn)) {
            snprintf(msg, sizeof msg,
                     "String must contain at least %lld character(s)",
                     (long long)json_integer_value(mn));
            zod_issue(o, path, msg);
        }
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx)) {
            snprintf(msg, sizeof msg,
                     "String must contain at most %lld character(s)",
                     (long long)json_integer_value(mx));
            zod_issue(o, path, msg);
        }
    }
    char sub[256];
    if (json_is_array(v)) {
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            zod_check(items, e, sub, o, depth + 1);
        }
    }
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *req = json_object_get(schema, "required");
        const char *key;
        const json_t *ps;
        json_object_foreach((json_t *)props, key, ps)
        {
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
            const json_t *val = json_object_get(v, key);
            if (val) {
                zod_check(ps, val, sub, o, depth + 1);
                continue;
            }
            size_t i;
            const json_t *r;
            json_array_foreach(req, i, r)
            {
                if (json_is_string(r) && strcmp(json_string_value(r), key) == 0)
                    zod_issue(o, sub, "Required");
            }
        }
    }
}

bool mcp_schema_check_zod(const json_t *schema, const json_t *value, char *why,
                          size_t why_len)
{
    zod_out o = {why, why_len, 0, 0};
    if (why_len) why[0] = '\0';
    zod_check(schema, value, "", &o, 0);
    return o.count == 0;
}
