/*
 * gql_exec.c — from a validated document to a response (spec sections 6
 * and 7): operation choice, variable and argument coercion, field
 * collection, execution and value completion.
 *
 * Design:
 *   1. Values are jansson values throughout: variables arrive as JSON,
 *      literals are coerced into JSON against their input type, resolvers
 *      return JSON (the service layer's REST forms) and completion walks
 *      that JSON along the selection set. Fields without a resolver read
 *      a member of their parent value, so most of the schema needs no
 *      code.
 *   2. Field collection follows CollectFields: fragments (named and
 *      inline) are flattened in order, @skip/@include applied, fields
 *      grouped by response key; a named fragment is visited once per
 *      selection set.
 *   3. Errors are spec error objects with message, locations, path and
 *      extensions.code. A null in a non-null position propagates to the
 *      nearest nullable parent (a completion returns NULL for "null
 *      propagated"; json null is an ordinary null).
 *   4. A mutation's root fields run in order in the caller's (write)
 *      transaction. A store failure (not an input error) stops execution
 *      and is returned to the caller, which abandons the transaction.
 *
 * Threads: a prepared request is used by one thread at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/mem.h"
#include "graphql/gql_int.h"

struct hk_gql_prepared {
    hk_gql_doc *doc;    /* the tree: owned, or the cache's (cached set) */
    gql_cached *cached; /* the cache entry holding doc, or NULL */
    const gql_op *op;   /* the operation to run */
    json_t *vars;       /* coerced variable values (object) */
};

/* ==== Errors ==== */

void gql_push_error(json_t *errors, gql_loc loc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s}", "message", msg);
    if (!e) return;
    if (loc.line)
        json_object_set_new(e, "locations",
                            json_pack("[{s:i,s:i}]", "line", (int)loc.line,
                                      "column", (int)loc.column));
    json_array_append_new(errors, e);
}

static json_t *error_at(gql_ctx *c, const char *code, const char *msg)
{
    json_t *path = json_array();
    for (unsigned i = 0; path && i < c->depth && i < GQL_MAX_PATH; i++)
        json_array_append_new(
            path, c->path_key[i] ? json_string(c->path_key[i])
                                 : json_integer((json_int_t)c->path_idx[i]));
    json_t *e = json_pack("{s:s,s:[{s:i,s:i}],s:o}", "message", msg,
                          "locations", "line", (int)c->loc.line, "column",
                          (int)c->loc.column, "path", path);
    if (e && code)
        json_object_set_new(e, "extensions", json_pack("{s:s}", "code", code));
    if (e) json_array_append_new(c->errors, e);
    return NULL;
}

json_t *gql_error(gql_ctx *c, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_at(c, "BAD_USER_INPUT", msg);
}

json_t *gql_error_code(gql_ctx *c, const char *code, const char *msg)
{
    return error_at(c, code, msg);
}

json_t *gql_error_hk(gql_ctx *c, const hk_error *err)
{
    char msg[600];
    if (err->field[0])
        snprintf(msg, sizeof(msg), "%s (field %s)", err->message, err->field);
    else
        snprintf(msg, sizeof(msg), "%s", err->message);
    const char *code;
    switch (err->code) {
    case HK_ERR_NOT_FOUND:
        code = "NOT_FOUND";
        break;
    case HK_ERR_EXISTS:
        code = "CONFLICT";
        break;
    case HK_ERR_INVALID:
    case HK_ERR_LIMIT:
        code = "BAD_USER_INPUT";
        break;
    default:
        code = "INTERNAL";
        break;
    }
    return error_at(c, code, msg);
}

/* ==== Input coercion ==== */

/* Writes why a value does not fit into why; returns false. */
static bool bad(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bad(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_named(const gql_ttype *t, const char *name)
{
    return t->named && !strcmp(t->named->name, name);
}

/* A JSON value as the input type t wants it (variables, JSON scalar). */
static bool coerce_json(json_t *v, const gql_ttype *t, json_t **out, char *why,
                        size_t cap, unsigned nest)
{
    if (nest > 64) return bad(why, cap, "nested too deeply");
    if (t->kind == GQL_T_NON_NULL) {
        if (!v || json_is_null(v))
            return bad(why, cap, "Expected non-nullable type to not be null.");
        return coerce_json(v, t->of, out, why, cap, nest + 1);
    }
    if (!v || json_is_null(v)) {
        *out = json_null();
        return true;
    }
    if (t->kind == GQL_T_LIST) {
        json_t *a = json_array();
        if (!a) return bad(why, cap, "out of memory");
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                json_t *c;
                if (!coerce_json(item, t->of, &c, why, cap, nest + 1)) {
                    json_decref(a);
                    return false;
                }
                json_array_append_new(a, c);
            }
        } else {
            json_t *c;
            if (!coerce_json(v, t->of, &c, why, cap, nest + 1)) {
                json_decref(a);
                return false;
            }
            json_array_append_new(a, c);
        }
        *out = a;
        return true;
    }
    if (t->kind == GQL_T_INPUT) {
        if (!json_is_object(v))
            return bad(why, cap, "Expected type \"%s\" to be an object.",
                       t->named->name);
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            if (!gql_type_field(t->named, k))
                return bad(why, cap,
                           "Field \"%s\" is not defined by type \"%s\".", k,
                           t->named->name);
        }
        json_t *o = json_object();
        if (!o) return bad(why, cap, "out of memory");
        for (const gql_field *f = t->named->fields; f->name; f++) {
            json_t *fv = json_object_get(v, f->name);
            const gql_ttype *ft = gql_field_type(f);
            if (!fv) {
                if (ft->kind == GQL_T_NON_NULL) {
                    json_decref(o);
                    return bad(why, cap,
                               "Field \"%s\" of required type \"%s\" was not "
                               "provided.",
                               f->name, f->type);
                }
                continue;
            }
            json_t *c;
            if (!coerce_json(fv, ft, &c, why, cap, nest + 1)) {
                json_decref(o);
                return false;
            }
            json_object_set_new(o, f->name, c);
        }
        *out = o;
        return true;
    }
    if (t->kind == GQL_T_ENUM) {
        if (json_is_string(v))
            for (const char *const *e = t->named->enums; *e; e++)
                if (!strcmp(*e, json_string_value(v))) {
                    *out = json_incref(v);
                    return true;
                }
        return bad(why, cap, "Value is not a valid %s.", t->named->name);
    }
    /* scalars */
    if (is_named(t, "Int")) {
        if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
            json_integer_value(v) <= INT32_MAX) {
            *out = json_incref(v);
            return true;
        }
        if (json_is_real(v) &&
            json_real_value(v) == (double)(int32_t)json_real_value(v)) {
            *out = json_integer((json_int_t)json_real_value(v));
            return true;
        }
        return bad(why, cap,
                   "Int cannot represent a non 32-bit signed "
                   "integer value.");
    }
    if (is_named(t, "Float")) {
        if (json_is_number(v)) {
            *out = json_real(json_number_value(v));
            return true;
        }
        return bad(why, cap, "Float cannot represent a non numeric value.");
    }
    if (is_named(t, "String")) {
        if (json_is_string(v)) {
            *out = json_incref(v);
            return true;
        }
        return bad(why, cap, "String cannot represent a non string value.");
    }
    if (is_named(t, "Boolean")) {
        if (json_is_boolean(v)) {
            *out = json_incref(v);
            return true;
        }
        return bad(why, cap, "Boolean cannot represent a non boolean value.");
    }
    if (is_named(t, "ID")) {
        if (json_is_string(v)) {
            *out = json_incref(v);
            return true;
        }
        if (json_is_integer(v)) {
            char b[32];
            snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            *out = json_string(b);
            return true;
        }
        return bad(why, cap,
                   "ID cannot represent a non-string and "
                   "non-integer value.");
    }
    *out = json_incref(v); /* JSON */
    return true;
}

/* A literal of the document as a plain JSON value (the JSON scalar). */
static json_t *literal_json(const gql_value *v, json_t *vars)
{
    switch (v->kind) {
    case GQL_V_VAR: {
        json_t *x = vars ? json_object_get(vars, v->s) : NULL;
        return x ? json_incref(x) : json_null();
    }
    case GQL_V_INT:
        return json_integer(strtoll(v->s, NULL, 10));
    case GQL_V_FLOAT:
        return json_real(strtod(v->s, NULL));
    case GQL_V_STRING:
        return json_stringn(v->s, v->n);
    case GQL_V_BOOL:
        return json_boolean(v->b);
    case GQL_V_NULL:
        return json_null();
    case GQL_V_ENUM:
        return json_string(v->s);
    case GQL_V_LIST: {
        json_t *a = json_array();
        for (const gql_value *i = v->items; i && a; i = i->next)
            json_array_append_new(a, literal_json(i, vars));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (const gql_value *i = v->items; i && o; i = i->next)
            json_object_set_new(o, i->key, literal_json(i, vars));
        return o;
    }
    }
}

/* Coerces a literal (which may contain variables) to input type t.
 * *absent is set when v is a variable that was not provided (the
 * argument is then treated as not given). */
bool gql_coerce_literal(const gql_value *v, const gql_ttype *t, json_t *vars,
                        json_t **out, bool *absent, char *why, size_t cap,
                        unsigned nest);
bool gql_coerce_literal(const gql_value *v, const gql_ttype *t, json_t *vars,
                        json_t **out, bool *absent, char *why, size_t cap,
                        unsigned nest)
{
    if (absent) *absent = false;
    if (nest > 64) return bad(why, cap, "nested too deeply");
    if (v->kind == GQL_V_VAR) {
        json_t *x = vars ? json_object_get(vars, v->s) : NULL;
        if (!x) {
            if (absent) *absent = true;
            if (t->kind == GQL_T_NON_NULL && !absent)
                return bad(why, cap, "Variable \"$%s\" was not provided.",
                           v->s);
            *out = json_null();
            return true;
        }
        if (t->kind == GQL_T_NON_NULL && json_is_null(x))
            return bad(why, cap, "Variable \"$%s\" must not be null.", v->s);
        *out = json_incref(x);
        return true;
    }
    if (t->kind == GQL_T_NON_NULL) {
        if (v->kind == GQL_V_NULL)
            return bad(why, cap,
                       "Expected value of non-null type, found null.");
        return gql_coerce_literal(v, t->of, vars, out, NULL, why, cap,
                                  nest + 1);
    }
    if (v->kind == GQL_V_NULL) {
        *out = json_null();
        return true;
    }
    if (t->kind == GQL_T_LIST) {
        json_t *a = json_array();
        if (!a) return bad(why, cap, "out of memory");
        const gql_value *one = v->kind == GQL_V_LIST ? v->items : v;
        for (const gql_value *i = one; i;
             i = v->kind == GQL_V_LIST ? i->next : NULL) {
            json_t *c;
            if (!gql_coerce_literal(i, t->of, vars, &c, NULL, why, cap,
                                    nest + 1)) {
                json_decref(a);
                return false;
            }
            json_array_append_new(a, c);
        }
        *out = a;
        return true;
    }
    if (t->kind == GQL_T_INPUT) {
        if (v->kind != GQL_V_OBJECT)
            return bad(why, cap,
                       "Expected value of type \"%s\", found a "
                       "non-object.",
                       t->named->name);
        for (const gql_value *i = v->items; i; i = i->next) {
            if (!gql_type_field(t->named, i->key))
                return bad(why, cap,
                           "Field \"%s\" is not defined by type \"%s\".",
                           i->key, t->named->name);
            for (const gql_value *j = i->next; j; j = j->next)
                if (!strcmp(i->key, j->key))
                    return bad(why, cap,
                               "There can be only one input field named "
                               "\"%s\".",
                               i->key);
        }
        json_t *o = json_object();
        if (!o) return bad(why, cap, "out of memory");
        for (const gql_field *f = t->named->fields; f->name; f++) {
            const gql_ttype *ft = gql_field_type(f);
            const gql_value *fv = NULL;
            for (const gql_value *i = v->items; i; i = i->next)
                if (!strcmp(i->key, f->name)) fv = i;
            bool abs = false;
            json_t *c = NULL;
            if (fv && !gql_coerce_literal(fv, ft, vars, &c, &abs, why, cap,
                                          nest + 1)) {
                json_decref(o);
                return false;
            }
            if (!fv || abs) {
                json_decref(c);
                if (ft->kind == GQL_T_NON_NULL) {
                    json_decref(o);
                    return bad(why, cap,
                               "Field \"%s.%s\" of required type \"%s\" was "
                               "not provided.",
                               t->named->name, f->name, f->type);
                }
                continue;
            }
            json_object_set_new(o, f->name, c);
        }
        *out = o;
        return true;
    }
    if (t->kind == GQL_T_ENUM) {
        if (v->kind == GQL_V_ENUM)
            for (const char *const *e = t->named->enums; *e; e++)
                if (!strcmp(*e, v->s)) {
                    *out = json_string(v->s);
                    return true;
                }
        return bad(why, cap, "Value does not exist in \"%s\" enum.",
                   t->named->name);
    }
    if (is_named(t, "JSON")) {
        *out = literal_json(v, vars);
        return true;
    }
    if (is_named(t, "Int")) {
        if (v->kind != GQL_V_INT)
            return bad(why, cap, "Int cannot represent non-integer value.");
        errno = 0;
        long long x = strtoll(v->s, NULL, 10);
        if (errno || x < INT32_MIN || x > INT32_MAX)
            return bad(why, cap,
                       "Int cannot represent non 32-bit signed "
                       "integer value: %s",
                       v->s);
        *out = json_integer(x);
        return true;
    }
    if (is_named(t, "Float")) {
        if (v->kind != GQL_V_INT && v->kind != GQL_V_FLOAT)
            return bad(why, cap, "Float cannot represent non numeric value.");
        *out = json_real(strtod(v->s, NULL));
        return true;
    }
    if (is_named(t, "String")) {
        if (v->kind != GQL_V_STRING)
            return bad(why, cap, "String cannot represent a non string value.");
        *out = json_stringn(v->s, v->n);
        return true;
    }
    if (is_named(t, "Boolean")) {
        if (v->kind != GQL_V_BOOL)
            return bad(why, cap,
                       "Boolean cannot represent a non boolean value.");
        *out = json_boolean(v->b);
        return true;
    }
    /* ID */
    if (v->kind != GQL_V_STRING && v->kind != GQL_V_INT)
        return bad(why, cap,
                   "ID cannot represent a non-string and "
                   "non-integer value.");
    *out = json_stringn(v->s, v->kind == GQL_V_STRING ? v->n : strlen(v->s));
    return true;
}

/* The arguments of field f at node s, coerced; NULL with an error. */
static json_t *coerce_args(gql_ctx *c, const gql_field *f, const gql_sel *s,
                           json_t *vars)
{
    json_t *args = json_object();
    if (!args) return gql_error(c, "out of memory");
    for (size_t i = 0; i < GQL_MAX_ARGS && f->args[i].name; i++) {
        const gql_argdef *ad = &f->args[i];
        const gql_ttype *t = gql_arg_type(ad);
        const gql_arg *a = NULL;
        for (const gql_arg *x = s ? s->args : NULL; x; x = x->next)
            if (!strcmp(x->name, ad->name)) a = x;
        json_t *v = NULL;
        bool absent = !a;
        char why[300];
        if (a && !gql_coerce_literal(a->value, t, vars, &v, &absent, why,
                                     sizeof(why), 0)) {
            json_decref(args);
            return gql_error(c, "Argument \"%s\": %s", ad->name, why);
        }
        if (absent) {
            json_decref(v);
            v = NULL;
            if (ad->def) v = json_loads(ad->def, JSON_DECODE_ANY, NULL);
            if (!v && t->kind == GQL_T_NON_NULL) {
                json_decref(args);
                return gql_error(c,
                                 "Argument \"%s\" of required type \"%s\" was "
                                 "not provided.",
                                 ad->name, ad->type);
            }
            if (!v) continue;
        }
        json_object_set_new(args, ad->name, v);
    }
    return args;
}

/* ==== Field collection ==== */

typedef struct group {
    const char *key;   /* response key */
    const gql_sel **v; /* the field nodes with this key */
    size_t n, cap;     /* used / allocated */
    /* the field and its type on parent type `on`, looked up once for
     * every item of a list (exec_field) */
    const gql_type *on;
    const gql_field *f;
    const gql_ttype *ft;
    size_t raw_slot; /* where its member was in the last raw object */
} group;

typedef struct groups {
    group *v;      /* in first-seen order */
    size_t n, cap; /* used / allocated */
} groups;

static void groups_free(groups *g)
{
    for (size_t i = 0; i < g->n; i++)
        hk_free(g->v[i].v);
    hk_free(g->v);
}

static bool push_field(groups *g, const gql_sel *s)
{
    const char *key = s->alias ? s->alias : s->name;
    group *gr = NULL;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->v[i].key, key)) gr = &g->v[i];
    if (!gr) {
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 8;
            group *nv = hk_realloc(g->v, cap * sizeof(*nv));
            if (!nv) return false;
            g->v = nv;
            g->cap = cap;
        }
        gr = &g->v[g->n++];
        memset(gr, 0, sizeof(*gr));
        gr->key = key;
    }
    if (gr->n == gr->cap) {
        size_t cap = gr->cap ? gr->cap * 2 : 2;
        const gql_sel **nv = hk_realloc(gr->v, cap * sizeof(*nv));
        if (!nv) return false;
        gr->v = nv;
        gr->cap = cap;
    }
    gr->v[gr->n++] = s;
    return true;
}

/* @skip(if:) / @include(if:): false when the selection is left out. */
static bool included(const gql_directive *d, json_t *vars)
{
    for (; d; d = d->next) {
        bool skip = !strcmp(d->name, "skip");
        if (!skip && strcmp(d->name, "include") != 0) continue;
        bool cond = false;
        for (const gql_arg *a = d->args; a; a = a->next) {
            if (strcmp(a->name, "if") != 0) continue;
            if (a->value->kind == GQL_V_BOOL) cond = a->value->b;
            if (a->value->kind == GQL_V_VAR) {
                json_t *x = json_object_get(vars, a->value->s);
                cond = x && json_is_true(x);
            }
        }
        if (skip && cond) return false;
        if (!skip && !cond) return false;
    }
    return true;
}

static const gql_frag *find_frag(const hk_gql_doc *doc, const char *name)
{
    for (const gql_frag *f = doc->frags; f; f = f->next)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

#define MAX_VISITED 64

static bool collect(const hk_gql_doc *doc, const gql_type *t,
                    const gql_sel *sel, json_t *vars, groups *g,
                    const char **visited, size_t *n_visited, unsigned nest)
{
    if (nest > 128) return true;
    for (const gql_sel *s = sel; s; s = s->next) {
        if (!included(s->dirs, vars)) continue;
        if (s->kind == GQL_S_FIELD) {
            if (!push_field(g, s)) return false;
        } else if (s->kind == GQL_S_INLINE) {
            if (s->type_cond && strcmp(s->type_cond, t->name) != 0) continue;
            if (!collect(doc, t, s->sub, vars, g, visited, n_visited, nest + 1))
                return false;
        } else {
            bool seen = false;
            for (size_t i = 0; i < *n_visited; i++)
                if (!strcmp(visited[i], s->name)) seen = true;
            if (seen || *n_visited == MAX_VISITED) continue;
            visited[(*n_visited)++] = s->name;
            const gql_frag *f = find_frag(doc, s->name);
            if (!f || strcmp(f->type_cond, t->name) != 0) continue;
            if (!collect(doc, t, f->sel, vars, g, visited, n_visited, nest + 1))
                return false;
        }
    }
    return true;
}

/* ==== Execution ==== */

/* Groups collected once per (type, field group) and reused for every
 * item of a list: the selection of a list's objects is the same. */
#define GROUP_CACHE 64

typedef struct run {
    gql_ctx c;             /* resolver context */
    const hk_gql_doc *doc; /* the document */
    json_t *vars;          /* coerced variables */
    hk_buf *out;           /* the data being written */
    bool fatal;            /* a store error stops everything */
    bool nomem;            /* an append failed */
    struct {
        const gql_type *t; /* object type */
        const void *key;   /* the field group completed */
        groups g;          /* its collected fields */
    } cache[GROUP_CACHE];
    size_t n_cache;                 /* used entries */
    const struct raw_index *raw_ix; /* members of the raw parent whose
                                       selection set runs, or NULL */
} run;

static bool exec_set(run *r, const gql_type *t, const gql_sel *const *subs,
                     size_t n_subs, groups *pre, json_t *parent);

static bool put(run *r, const char *s, size_t n)
{
    if (hk_buf_append(r->out, s, n) != HK_OK) r->nomem = true;
    return !r->nomem;
}

static bool put_str(run *r, const char *s)
{
    return put(r, s, strlen(s));
}

static bool put_json_string(run *r, const char *s, size_t n)
{
    if (hk_buf_append_json_string(r->out, s, n) != HK_OK) r->nomem = true;
    return !r->nomem;
}

/* Appends v as JSON text the way jansson writes it. */
static bool put_json(run *r, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return put_json_string(r, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char b[32];
        int n = snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
        return put(r, b, (size_t)n);
    }
    case JSON_TRUE:
        return put(r, "true", 4);
    case JSON_FALSE:
        return put(r, "false", 5);
    case JSON_NULL:
        return put(r, "null", 4);
    default: {
        char *t = hk_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        bool ok = t ? put_str(r, t) : (r->nomem = true, false);
        free(t);
        return ok;
    }
    }
}

/* Appends [,]"key": — response keys are GraphQL Names (letters,
 * digits, '_'), which JSON needs no escapes for. */
static bool put_key(run *r, bool comma, const char *key)
{
    size_t n = strlen(key);
    if (hk_buf_reserve(r->out, n + 4) != HK_OK) {
        r->nomem = true;
        return false;
    }
    char *w = r->out->data + r->out->len;
    if (comma) *w++ = ',';
    *w++ = '"';
    memcpy(w, key, n);
    w += n;
    *w++ = '"';
    *w++ = ':';
    r->out->len = (size_t)(w - r->out->data);
    r->out->data[r->out->len] = '\0';
    return true;
}

static bool put_real(run *r, double d)
{
    char b[40];
    int n = snprintf(b, sizeof(b), "%.17g", d);
    if (!strpbrk(b, ".eE")) n += snprintf(b + n, sizeof(b) - (size_t)n, ".0");
    return put(r, b, (size_t)n);
}

static void path_push_key(gql_ctx *c, const char *key)
{
    if (c->depth < GQL_MAX_PATH) {
        c->path_key[c->depth] = key;
        c->path_idx[c->depth] = 0;
    }
    c->depth++;
}

static void path_push_index(gql_ctx *c, size_t i)
{
    if (c->depth < GQL_MAX_PATH) {
        c->path_key[c->depth] = NULL;
        c->path_idx[c->depth] = i;
    }
    c->depth++;
}

/* Appends a leaf value; false (with an error) when it cannot. */
static bool serialize(run *r, const gql_type *t, json_t *v)
{
    if (t->kind == GQL_T_ENUM || !strcmp(t->name, "String")) {
        if (json_is_string(v) || json_is_number(v) || json_is_boolean(v)) {
            if (json_is_string(v)) return put_json(r, v);
            char *s = hk_json_dumps(v, JSON_ENCODE_ANY);
            bool ok = s && put_json_string(r, s, strlen(s));
            free(s);
            return ok;
        }
    } else if (!strcmp(t->name, "ID")) {
        if (json_is_string(v)) return put_json(r, v);
        if (json_is_integer(v)) {
            char b[32];
            int n = snprintf(b, sizeof(b), "\"%" JSON_INTEGER_FORMAT "\"",
                             json_integer_value(v));
            return put(r, b, (size_t)n);
        }
    } else if (!strcmp(t->name, "Int")) {
        if (json_is_integer(v)) return put_json(r, v);
    } else if (!strcmp(t->name, "Float")) {
        if (json_is_number(v)) return put_real(r, json_number_value(v));
    } else if (!strcmp(t->name, "Boolean")) {
        if (json_is_boolean(v)) return put_json(r, v);
    } else {
        return put_json(r, v); /* JSON */
    }
    error_at(&r->c, "INTERNAL", "value cannot be serialized");
    return false;
}

/* ==== Raw objects ====
 *
 * A resolver may answer an object value as a JSON string that holds the
 * object's compact JSON text as the service writers produce it
 * (gql_raw_object; the REST form of a fact). Its members are found in
 * that text and leaf values that need no conversion are copied as they
 * are, so a page of facts costs no jansson tree per fact. Anything else
 * (a nested object, a value that needs conversion) is parsed from its
 * span and completed the general way. */

json_t *gql_raw_object(const char *text, size_t len)
{
    return json_stringn_nocheck(text, len);
}

/* Index just past the string that starts at s[i] ('"'). */
static size_t raw_skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

/* Index just past the value that starts at s[i]. */
static size_t raw_skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n) return n;
    if (s[i] == '"') return raw_skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char ch = s[i];
            if (ch == '"') {
                i = raw_skip_string(s, n, i);
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']')
        i++;
    return i;
}

/* The span of member key's value in the object text s; false when the
 * object has no such member. */
static bool raw_member(const char *s, size_t n, const char *key, size_t *at,
                       size_t *len)
{
    size_t klen = strlen(key);
    if (n < 2 || s[0] != '{') return false;
    size_t i = 1;
    while (i < n && s[i] == '"') {
        size_t k0 = i + 1;
        size_t ke = raw_skip_string(s, n, i);
        if (ke >= n || s[ke] != ':') return false;
        size_t v0 = ke + 1;
        size_t ve = raw_skip_value(s, n, v0);
        if (ke - 1 - k0 == klen && !memcmp(s + k0, key, klen)) {
            *at = v0;
            *len = ve - v0;
            return true;
        }
        if (ve >= n || s[ve] != ',') break;
        i = ve + 1;
    }
    return false;
}

/* The members of one raw object, found in one pass when its selection
 * set starts (a fact has 10; more than RAW_MEMBERS are found by
 * raw_member). */
#define RAW_MEMBERS 24

typedef struct raw_index {
    const char *text; /* the object text */
    size_t n;         /* members indexed */
    bool more;        /* members beyond the index */
    struct {
        const char *key; /* key text (no escapes in our writers' keys) */
        size_t klen;     /* its bytes */
        size_t at, len;  /* value span in text */
    } m[RAW_MEMBERS];
} raw_index;

static void raw_index_build(raw_index *ix, const char *s, size_t n)
{
    ix->text = s;
    ix->n = 0;
    ix->more = false;
    if (n < 2 || s[0] != '{') return;
    size_t i = 1;
    while (i < n && s[i] == '"') {
        size_t k0 = i + 1;
        size_t ke = raw_skip_string(s, n, i);
        if (ke >= n || s[ke] != ':') return;
        size_t v0 = ke + 1;
        size_t ve = raw_skip_value(s, n, v0);
        if (ix->n == RAW_MEMBERS) {
            ix->more = true;
            return;
        }
        ix->m[ix->n].key = s + k0;
        ix->m[ix->n].klen = ke - 1 - k0;
        ix->m[ix->n].at = v0;
        ix->m[ix->n].len = ve - v0;
        ix->n++;
        if (ve >= n || s[ve] != ',') return;
        i = ve + 1;
    }
}

/* *slot: where to look first (objects of one list have their members
 * in the same order), updated to where key was found. */
static bool raw_index_find(const raw_index *ix, const char *s, size_t n,
                           const char *key, size_t *slot, size_t *at,
                           size_t *len)
{
    size_t klen = strlen(key);
    for (size_t k = 0; k < ix->n; k++) {
        size_t i = (*slot + k) % ix->n;
        if (ix->m[i].klen == klen && !memcmp(ix->m[i].key, key, klen)) {
            *at = ix->m[i].at;
            *len = ix->m[i].len;
            *slot = i;
            return true;
        }
    }
    return ix->more && raw_member(s, n, key, at, len);
}

static bool raw_is_int(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-' ? 1 : 0;
    if (i == n || n > 11) return false; /* Int is 32-bit: 11 chars at most */
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    long long x = strtoll(s, NULL, 10);
    return x >= INT32_MIN && x <= INT32_MAX;
}

static bool raw_is_number(const char *s, size_t n)
{
    return n > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'));
}

/* The built-in scalars, told apart by pointer (looked up once). */
typedef enum scalar_kind {
    SK_OTHER,
    SK_ID,
    SK_STRING,
    SK_INT,
    SK_FLOAT,
    SK_BOOL,
    SK_JSON,
    SK_N
} scalar_kind;
static const gql_type *g_scalars[SK_N];
static pthread_once_t g_scalars_once = PTHREAD_ONCE_INIT;

static void scalars_init(void)
{
    static const char *const names[SK_N] = {NULL,    "ID",      "String", "Int",
                                            "Float", "Boolean", "JSON"};
    for (int i = 1; i < SK_N; i++)
        g_scalars[i] = gql_schema_type(names[i]);
}

static scalar_kind scalar_of(const gql_type *t)
{
    pthread_once(&g_scalars_once, scalars_init);
    for (int i = 1; i < SK_N; i++)
        if (g_scalars[i] == t) return (scalar_kind)i;
    return SK_OTHER;
}

/* True when the text of the leaf value s[0..n) is already the output of
 * named scalar type t (nothing to convert or check). */
static bool raw_leaf_ok(const gql_type *t, const char *s, size_t n)
{
    switch (scalar_of(t)) {
    case SK_STRING:
        return n > 0 && s[0] == '"';
    case SK_INT:
        return raw_is_int(s, n);
    case SK_FLOAT:
        return raw_is_number(s, n);
    case SK_BOOL:
        return (n == 4 && !memcmp(s, "true", 4)) ||
               (n == 5 && !memcmp(s, "false", 5));
    case SK_JSON:
        return true;
    default:
        return false; /* ID: see raw_complete; enums */
    }
}

static bool complete(run *r, const gql_ttype *t, const group *gr, json_t *v);

/* Appends the member value s[0..n) of a raw object as type t, copying it
 * when it is already the output, else completing its parsed value. */
static bool raw_complete(run *r, const gql_ttype *t, const group *gr,
                         const char *s, size_t n)
{
    const gql_ttype *in = t->kind == GQL_T_NON_NULL ? t->of : t;
    bool is_null = n == 4 && !memcmp(s, "null", 4);
    if (is_null && in == t) return put(r, "null", 4);
    if (!is_null && in->kind == GQL_T_SCALAR) {
        bool id = scalar_of(in->named) == SK_ID;
        if (id && raw_is_number(s, n) && !memchr(s, '.', n) &&
            !memchr(s, 'e', n) && !memchr(s, 'E', n)) /* REST's integer ids */
            return put(r, "\"", 1) && put(r, s, n) && put(r, "\"", 1);
        if (id && n > 0 && s[0] == '"') return put(r, s, n);
        if (!id && raw_leaf_ok(in->named, s, n)) return put(r, s, n);
    }
    if (!is_null && in->kind == GQL_T_LIST && n >= 2 && s[0] == '[') {
        const gql_ttype *it = in->of;
        bool item_nn = it->kind == GQL_T_NON_NULL;
        if (item_nn) it = it->of;
        bool copy = it->kind == GQL_T_SCALAR && scalar_of(it->named) != SK_ID;
        for (size_t i = 1; copy && i < n - 1;) {
            size_t e = raw_skip_value(s, n - 1, i);
            bool inull = e - i == 4 && !memcmp(s + i, "null", 4);
            copy = inull ? !item_nn : raw_leaf_ok(it->named, s + i, e - i);
            i = e + 1; /* past the comma */
        }
        if (copy) return put(r, s, n);
    }
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    if (!v) {
        error_at(&r->c, "INTERNAL", "value cannot be read");
        return false;
    }
    bool ok = complete(r, t, gr, v);
    json_decref(v);
    return ok;
}

bool gql_selects(const gql_ctx *c, const char *name)
{
    const group *gr = c->field;
    if (!gr) return true;
    for (size_t i = 0; i < gr->n; i++)
        for (const gql_sel *x = gr->v[i]->sub; x; x = x->next)
            if (x->kind != GQL_S_FIELD || !strcmp(x->name, name)) return true;
    return false;
}

/* The collected fields of gr's selections on t, from the cache. */
static groups *cached_groups(run *r, const gql_type *t, const group *gr)
{
    for (size_t i = 0; i < r->n_cache; i++)
        if (r->cache[i].t == t && r->cache[i].key == gr) return &r->cache[i].g;
    if (r->n_cache == GROUP_CACHE) return NULL;
    groups g = {0};
    const char *visited[MAX_VISITED];
    size_t n_visited = 0;
    for (size_t i = 0; i < gr->n; i++)
        if (gr->v[i]->sub && !collect(r->doc, t, gr->v[i]->sub, r->vars, &g,
                                      visited, &n_visited, 0)) {
            groups_free(&g);
            return NULL;
        }
    r->cache[r->n_cache].t = t;
    r->cache[r->n_cache].key = gr;
    r->cache[r->n_cache].g = g;
    return &r->cache[r->n_cache++].g;
}

/* Appends the completed value v of type t. Returns false when a null
 * must propagate to the parent (the output is then cut back to where
 * this value began); a nullable position absorbs it as null. */
static bool complete(run *r, const gql_ttype *t, const group *gr, json_t *v)
{
    size_t mark = r->out->len;
    bool nn = t->kind == GQL_T_NON_NULL;
    if (nn) t = t->of;
    if (!v || json_is_null(v)) {
        if (!nn) return put(r, "null", 4);
        error_at(&r->c, "INTERNAL",
                 "Cannot return null for non-nullable field.");
        return false;
    }
    bool ok;
    if (t->kind == GQL_T_LIST) {
        ok = json_is_array(v);
        if (!ok) error_at(&r->c, "INTERNAL", "expected a list");
        ok = ok && put(r, "[", 1);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!ok) break;
            path_push_index(&r->c, i);
            ok = (i == 0 || put(r, ",", 1)) && complete(r, t->of, gr, item);
            r->c.depth--;
        }
        ok = ok && put(r, "]", 1);
    } else if (t->kind == GQL_T_OBJECT) {
        groups *g = cached_groups(r, t->named, gr);
        if (g) {
            ok = exec_set(r, t->named, NULL, 0, g, v);
        } else {
            const gql_sel *subs[64];
            size_t n = 0;
            for (size_t i = 0; i < gr->n && n < 64; i++)
                if (gr->v[i]->sub) subs[n++] = gr->v[i]->sub;
            ok = exec_set(r, t->named, subs, n, NULL, v);
        }
    } else {
        ok = serialize(r, t->named, v);
    }
    if (ok || r->nomem || r->fatal) return ok;
    r->out->len = mark;
    if (nn) return false;
    return put(r, "null", 4);
}

static json_t *find_named(json_t *types, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        if (!strcmp(json_string_value(json_object_get(t, "name")), name))
            return t;
    }
    return NULL;
}

/* Appends the value of one response key; false: null propagates. */
static bool exec_field(run *r, const gql_type *t, group *gr, json_t *parent)
{
    const gql_sel *s = gr->v[0];
    r->c.loc = s->loc;
    if (s->name[0] == '_' && !strcmp(s->name, "__typename"))
        return put_json_string(r, t->name, strlen(t->name));
    const gql_field *f = NULL;
    const gql_ttype *ft = NULL;
    json_t *v = NULL;
    if (t == gql_query_type() && !strcmp(s->name, "__schema")) {
        ft = gql_ttype_parse("__Schema!");
        v = json_incref(gql_schema_introspection());
    } else if (t == gql_query_type() && !strcmp(s->name, "__type")) {
        ft = gql_ttype_parse("__Type");
        const char *name = NULL;
        for (const gql_arg *a = s->args; a; a = a->next)
            if (!strcmp(a->name, "name")) {
                if (a->value->kind == GQL_V_STRING) name = a->value->s;
                if (a->value->kind == GQL_V_VAR)
                    name = json_string_value(
                        json_object_get(r->vars, a->value->s));
            }
        json_t *found =
            name ? find_named(
                       json_object_get(gql_schema_introspection(), "types"),
                       name)
                 : NULL;
        v = found ? json_incref(found) : json_null();
    } else {
        if (gr->on != t) {
            gr->f = gql_type_field(t, s->name);
            gr->ft = gr->f ? gql_field_type(gr->f) : NULL;
            gr->on = t;
        }
        f = gr->f;
        if (!f) {
            error_at(&r->c, "INTERNAL", "unknown field");
            return put(r, "null", 4);
        }
        ft = gr->ft;
        if (f->fn) {
            json_t *args = coerce_args(&r->c, f, s, r->vars);
            size_t n_err = json_array_size(r->c.errors);
            /* resolvers read a parent's members: parse a raw object */
            json_t *pj = json_is_string(parent)
                             ? json_loadb(json_string_value(parent),
                                          json_string_length(parent), 0, NULL)
                             : json_incref(parent);
            r->c.field = gr;
            v = args ? f->fn(&r->c, pj, args) : NULL;
            r->c.field = NULL;
            json_decref(pj);
            json_decref(args);
            if (!v) {
                /* a store failure is marked by the resolver's error code */
                json_t *e = json_array_get(r->c.errors, n_err);
                json_t *code =
                    json_object_get(json_object_get(e, "extensions"), "code");
                if (code && !strcmp(json_string_value(code), "INTERNAL"))
                    r->fatal = true;
                if (ft->kind == GQL_T_NON_NULL) return false;
                return put(r, "null", 4);
            }
        } else if (json_is_string(parent)) { /* raw object text */
            size_t at, len;
            const char *text = json_string_value(parent);
            size_t n = json_string_length(parent);
            const char *key = f->key ? f->key : f->name;
            if (!(r->raw_ix && r->raw_ix->text == text
                      ? raw_index_find(r->raw_ix, text, n, key, &gr->raw_slot,
                                       &at, &len)
                      : raw_member(text, n, key, &at, &len)))
                return complete(r, ft, gr, NULL);
            return raw_complete(r, ft, gr, text + at, len);
        } else {
            v = json_object_get(parent, f->key ? f->key : f->name);
            json_incref(v);
        }
    }
    if (!ft) {
        json_decref(v);
        error_at(&r->c, "INTERNAL", "out of memory");
        r->fatal = true;
        return false;
    }
    bool ok = complete(r, ft, gr, v);
    json_decref(v);
    return ok;
}

/* Appends the object {key: value, ...} of the selections subs (or of the
 * collected groups pre) on t; false when a non-null field nulled it. */
static bool exec_set(run *r, const gql_type *t, const gql_sel *const *subs,
                     size_t n_subs, groups *pre, json_t *parent)
{
    groups own = {0};
    groups *g = pre;
    if (!g) {
        const char *visited[MAX_VISITED];
        size_t n_visited = 0;
        for (size_t i = 0; i < n_subs; i++)
            if (!collect(r->doc, t, subs[i], r->vars, &own, visited, &n_visited,
                         0)) {
                groups_free(&own);
                r->nomem = true;
                return false;
            }
        g = &own;
    }
    const raw_index *outer = r->raw_ix;
    raw_index ix;
    if (json_is_string(parent)) { /* a raw object: find its members once */
        raw_index_build(&ix, json_string_value(parent),
                        json_string_length(parent));
        r->raw_ix = &ix;
    }
    bool ok = put(r, "{", 1);
    for (size_t i = 0; ok && i < g->n && !r->fatal; i++) {
        ok = put_key(r, i > 0, g->v[i].key);
        if (!ok) break;
        path_push_key(&r->c, g->v[i].key);
        ok = exec_field(r, t, &g->v[i], parent);
        r->c.depth--;
    }
    r->raw_ix = outer;
    ok = ok && !r->fatal && put(r, "}", 1);
    groups_free(&own);
    return ok;
}

/* ==== Requests ==== */

static json_t *errors_response(json_t *errors)
{
    return json_pack("{s:o}", "errors", errors);
}

static bool tref_text(const gql_tref *t, hk_buf *b, unsigned nest)
{
    if (nest > 64) return false;
    if (t->name) {
        if (hk_buf_append_str(b, t->name) != HK_OK) return false;
    } else {
        if (hk_buf_append_str(b, "[") != HK_OK ||
            !tref_text(t->of, b, nest + 1) ||
            hk_buf_append_str(b, "]") != HK_OK)
            return false;
    }
    return !t->non_null || hk_buf_append_str(b, "!") == HK_OK;
}

/* The schema type of a variable definition (NULL: unknown type). */
const gql_ttype *gql_tref_type(const gql_tref *t);
const gql_ttype *gql_tref_type(const gql_tref *t)
{
    hk_buf b = HK_BUF_INIT;
    const gql_ttype *tt = NULL;
    if (tref_text(t, &b, 0) && hk_buf_append(&b, "", 1) == HK_OK)
        tt = gql_ttype_parse(b.data);
    hk_buf_free(&b);
    return tt;
}

static json_t *coerce_vars(const gql_op *op, json_t *given, json_t *errors)
{
    json_t *vars = json_object();
    for (const gql_vardef *d = op->vars; d && vars; d = d->next) {
        const gql_ttype *t = gql_tref_type(d->type);
        if (!t) continue; /* refused by validation */
        json_t *v = given ? json_object_get(given, d->name) : NULL;
        char why[300];
        json_t *c = NULL;
        if (!v) {
            if (d->def) {
                if (gql_coerce_literal(d->def, t, NULL, &c, NULL, why,
                                       sizeof(why), 0))
                    json_object_set_new(vars, d->name, c);
            } else if (t->kind == GQL_T_NON_NULL) {
                gql_push_error(errors, d->loc,
                               "Variable \"$%s\" of required type was not "
                               "provided.",
                               d->name);
            }
            continue;
        }
        if (!coerce_json(v, t, &c, why, sizeof(why), 0)) {
            gql_push_error(errors, d->loc,
                           "Variable \"$%s\" got invalid value; %s", d->name,
                           why);
            continue;
        }
        json_object_set_new(vars, d->name, c);
    }
    return vars;
}

/* Gives back a document: to the cache when it came from there. */
static void drop_doc(hk_gql_doc *doc, gql_cached *cached)
{
    if (cached)
        gql_cache_release(cached);
    else
        hk_gql_doc_free(doc);
}

hk_err hk_gql_prepare(const char *query, size_t len, const char *operation_name,
                      json_t *variables, const hk_gql_limits *lim,
                      hk_gql_prepared **out, json_t **response)
{
    *out = NULL;
    *response = NULL;
    hk_gql_limits dl = {0};
    if (!lim) lim = &dl;
    json_t *errors = json_array();
    if (!errors) return HK_ERR_NOMEM;
    hk_error err;
    gql_cached *cached = NULL;
    hk_gql_doc *doc = gql_cache_get(query, len, lim, &cached);
    if (!doc) {
        hk_err rc = hk_gql_parse(query, len, lim->max_tokens, &doc, &err);
        if (rc == HK_ERR_NOMEM) {
            json_decref(errors);
            return rc;
        }
        if (rc != HK_OK) {
            gql_loc l = {(uint32_t)err.line, err.column};
            gql_push_error(errors, l, "%s", err.message);
            *response = errors_response(errors);
            return HK_OK;
        }
        if (!gql_validate(doc, lim, errors)) {
            hk_gql_doc_free(doc);
            *response = errors_response(errors);
            return HK_OK;
        }
        cached = gql_cache_put(query, len, lim, doc);
    }
    const gql_op *op = NULL;
    size_t n_ops = 0;
    for (const gql_op *o = doc->ops; o; o = o->next) {
        n_ops++;
        if (operation_name ? (o->name && !strcmp(o->name, operation_name))
                           : n_ops == 1)
            op = o;
    }
    gql_loc none = {0, 0};
    if (!operation_name && n_ops > 1) {
        gql_push_error(errors, none,
                       "Must provide operation name if query contains "
                       "multiple operations.");
    } else if (!op) {
        gql_push_error(errors, none, "Unknown operation named \"%s\".",
                       operation_name ? operation_name : "");
    } else if (op->kind == GQL_SUBSCRIPTION) {
        gql_push_error(errors, op->loc,
                       "Schema is not configured to execute subscription "
                       "operation.");
    }
    json_t *vars = NULL;
    if (json_array_size(errors) == 0) {
        if (variables && !json_is_object(variables) && !json_is_null(variables))
            gql_push_error(errors, none, "variables must be an object");
        else
            vars = coerce_vars(op, json_is_object(variables) ? variables : NULL,
                               errors);
    }
    if (json_array_size(errors) > 0 || !vars) {
        json_decref(vars);
        drop_doc(doc, cached);
        if (json_array_size(errors) == 0)
            gql_push_error(errors, none, "out of memory");
        *response = errors_response(errors);
        return HK_OK;
    }
    json_decref(errors);
    hk_gql_prepared *p = hk_calloc(1, sizeof(*p));
    if (!p) {
        json_decref(vars);
        drop_doc(doc, cached);
        return HK_ERR_NOMEM;
    }
    p->doc = doc;
    p->cached = cached;
    p->op = op;
    p->vars = vars;
    *out = p;
    return HK_OK;
}

bool hk_gql_prepared_mutation(const hk_gql_prepared *p)
{
    return p && p->op->kind == GQL_MUTATION;
}

/* A `search` whose mode is not the literal "text" (a variable may say
 * anything), or any `similar`. */
static bool field_blocks(const gql_sel *s)
{
    if (!strcmp(s->name, "similar")) return true;
    if (strcmp(s->name, "search") != 0) return false;
    for (const gql_arg *a = s->args; a; a = a->next)
        if (!strcmp(a->name, "mode"))
            return !(a->value && a->value->kind == GQL_V_STRING &&
                     a->value->n == 4 && !memcmp(a->value->s, "text", 4));
    return false;
}

static bool sel_blocks(const hk_gql_doc *d, const gql_sel *s, int depth)
{
    if (depth > 16) return true; /* validation forbids cycles; be safe */
    for (; s; s = s->next) {
        if (s->kind == GQL_S_FIELD && s->name && field_blocks(s)) return true;
        if (s->kind == GQL_S_INLINE && sel_blocks(d, s->sub, depth + 1))
            return true;
        if (s->kind == GQL_S_SPREAD && s->name)
            for (const gql_frag *f = d->frags; f; f = f->next)
                if (!strcmp(f->name, s->name) &&
                    sel_blocks(d, f->sel, depth + 1))
                    return true;
    }
    return false;
}

bool hk_gql_prepared_blocking(const hk_gql_prepared *p)
{
    return p && p->op->kind != GQL_MUTATION &&
           sel_blocks(p->doc, p->op->sel, 0);
}

void hk_gql_prepared_free(hk_gql_prepared *p)
{
    if (!p) return;
    json_decref(p->vars);
    drop_doc(p->doc, p->cached);
    hk_free(p);
}

hk_err hk_gql_execute_text(hk_gql_prepared *p, const hk_gql_env *env,
                           hk_buf *out, hk_error *err)
{
    hk_error_clear(err);
    run *r = hk_calloc(1, sizeof(*r));
    if (!r) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    r->doc = p->doc;
    r->vars = p->vars;
    r->out = out;
    r->c.env = env;
    r->c.errors = json_array();
    r->c.mutation = p->op->kind == GQL_MUTATION;
    hk_err rc = HK_OK;
    if (!r->c.errors) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    const gql_type *root =
        r->c.mutation ? gql_mutation_type() : gql_query_type();
    const gql_sel *subs[1] = {p->op->sel};
    size_t start = out->len;
    put(r, "{\"data\":", 8);
    size_t mark = out->len;
    if (!exec_set(r, root, subs, 1, NULL, NULL) && !r->nomem && !r->fatal) {
        out->len = mark;
        put(r, "null", 4);
    }
    if (r->fatal) {
        json_t *e =
            json_array_get(r->c.errors, json_array_size(r->c.errors) - 1);
        rc = hk_error_set(err, HK_ERR_STORE, "%s",
                          e ? json_string_value(json_object_get(e, "message"))
                            : "store failure");
        out->len = start;
        goto done;
    }
    if (json_array_size(r->c.errors) > 0) {
        put(r, ",\"errors\":", 10);
        put_json(r, r->c.errors);
    }
    put(r, "}", 1);
    if (r->nomem) {
        out->len = start;
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
done:
    for (size_t i = 0; i < r->n_cache; i++)
        groups_free(&r->cache[i].g);
    json_decref(r->c.errors);
    hk_free(r);
    return rc;
}

hk_err hk_gql_execute(hk_gql_prepared *p, const hk_gql_env *env,
                      json_t **response, hk_error *err)
{
    *response = NULL;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_gql_execute_text(p, env, &b, err);
    if (rc == HK_OK) {
        *response = json_loadb(b.data, b.len, 0, NULL);
        if (!*response) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    hk_buf_free(&b);
    return rc;
}
