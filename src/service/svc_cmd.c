/*
 * svc_cmd.c — write commands (svc_cmd.h): the fact writes of the service
 * layer as JSON values that rebuild an equal request on another node.
 *
 * Covered: add (hk_svc_fact_add_apply: POST /v2/facts, MCP add_fact, gRPC
 * AddFact), update (hk_svc_fact_update_apply: content and metadata; PUT,
 * PATCH, MCP update_fact, gRPC), delete (hk_svc_fact_delete_apply: by id
 * or statement, one or many) and batch (hk_svc_fact_batch_apply: POST
 * /v2/facts/batch, gRPC batch); rules (hk_svc_rule_apply: add or
 * replace, enable, disable, delete; hk_svc_reason_apply;
 * hk_svc_rules_strict_apply) and vectors
 * (hk_svc_vspace_create_apply, hk_svc_vspace_drop_apply,
 * hk_svc_ventity_apply, hk_svc_embed_apply — the built-in embedder is a
 * pure function of the statements, so every node computes the same
 * vectors). fact.add and fact.batch also have a binary form ("Binary
 * form" below). A decoded request points into the JSON value it came from
 * (one reference held in `hold`), so nothing is copied but the arrays of
 * the request; rule and vector requests get this node's module handles
 * from the env.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "service/svc_cmd.h"
#include "service/svc_rules.h"
#include "service/svc_vector.h"

static hk_err bad(hk_error *err, const char *what)
{
    return hk_error_set(err, HK_ERR_INVALID, "bad write command: %s", what);
}

static hk_err nomem(hk_error *err)
{
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* ==== Statements and metadata ==== */

static json_t *statement_json(const hk_statement *st)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < st->n_args && i < HK_MAX_ARGS; i++)
        if (json_array_append_new(a, json_string(st->args[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    if (!a) return NULL;
    return json_pack("{s:s, s:o}", "p", st->predicate, "a", a);
}

/* Points st into v (borrowed strings, owned NULL). */
static hk_err statement_from(json_t *v, hk_statement *st, hk_error *err)
{
    memset(st, 0, sizeof *st);
    json_t *a = json_object_get(v, "a");
    st->predicate = json_string_value(json_object_get(v, "p"));
    size_t n = json_array_size(a);
    if (!st->predicate || n < 1 || n > HK_MAX_ARGS)
        return bad(err, "statement");
    for (size_t i = 0; i < n; i++) {
        st->args[i] = json_string_value(json_array_get(a, i));
        if (!st->args[i]) return bad(err, "statement argument");
    }
    st->n_args = (uint32_t)n;
    return HK_OK;
}

static json_t *meta_json(const hk_fact_meta *m)
{
    json_t *tags = json_array();
    for (uint32_t i = 0; tags && i < m->n_tags && i < HK_MAX_TAGS; i++)
        if (json_array_append_new(tags, json_string(m->tags[i])) != 0) {
            json_decref(tags);
            tags = NULL;
        }
    if (!tags) return NULL;
    return json_pack(
        "{s:I, s:f, s:s?, s:o, s:s?, s:I, s:I}", "f", (json_int_t)m->fields,
        "c", m->confidence, "s", m->source, "t", tags, "x", m->context_json,
        "cu", (json_int_t)m->created_us, "uu", (json_int_t)m->updated_us);
}

/* Fills m from v; tag pointers go to tags[HK_MAX_TAGS]. */
static hk_err meta_from(json_t *v, hk_fact_meta *m, const char **tags,
                        hk_error *err)
{
    memset(m, 0, sizeof *m);
    json_t *f = json_object_get(v, "f"), *c = json_object_get(v, "c");
    json_t *t = json_object_get(v, "t");
    size_t n = json_array_size(t);
    if (!json_is_integer(f) || !json_is_number(c) || !json_is_array(t) ||
        n > HK_MAX_TAGS)
        return bad(err, "metadata");
    m->fields = (unsigned)json_integer_value(f);
    m->confidence = json_number_value(c);
    m->source = json_string_value(json_object_get(v, "s"));
    m->context_json = json_string_value(json_object_get(v, "x"));
    m->created_us = json_integer_value(json_object_get(v, "cu"));
    m->updated_us = json_integer_value(json_object_get(v, "uu"));
    for (size_t i = 0; i < n; i++) {
        tags[i] = json_string_value(json_array_get(t, i));
        if (!tags[i]) return bad(err, "tag");
    }
    m->n_tags = (uint32_t)n;
    m->tags = tags;
    return HK_OK;
}

/* Member key of v; NULL when absent or null (encoders write absent
 * optional parts as null). */
static json_t *opt(json_t *v, const char *key)
{
    json_t *m = json_object_get(v, key);
    return json_is_null(m) ? NULL : m;
}

/* A command's array of at least one element (bounded by the message). */
static size_t items_of(json_t *v, const char *key, json_t **arr)
{
    *arr = json_object_get(v, key);
    return json_array_size(*arr);
}

/* ==== fact.add ==== */

typedef struct cmd_add {
    hk_svc_add op;                 /* the request */
    json_t *hold;                  /* the command (strings point into it) */
    hk_statement *st;              /* op.n statements */
    hk_fact_meta meta;             /* metadata, when given */
    const char *tags[HK_MAX_TAGS]; /* meta.tags */
    hk_fact_id *ids;               /* op.n result ids */
    bool *created;                 /* op.n result flags */
    char *text;                    /* unpacked strings (binary form) */
} cmd_add;

static hk_err add_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_add *op = arg;
    json_t *facts = json_array();
    for (size_t i = 0; facts && i < op->n; i++)
        if (json_array_append_new(facts, statement_json(&op->st[i])) != 0) {
            json_decref(facts);
            facts = NULL;
        }
    json_t *meta = op->meta ? meta_json(op->meta) : NULL;
    if (!facts || (op->meta && !meta)) {
        json_decref(facts);
        json_decref(meta);
        return nomem(err);
    }
    *out = json_pack("{s:o, s:o?}", "facts", facts, "meta", meta);
    return *out ? HK_OK : nomem(err);
}

static void add_release(void *arg)
{
    cmd_add *c = arg;
    if (!c) return;
    hk_free(c->st);
    hk_free(c->ids);
    hk_free(c->created);
    hk_free(c->text);
    json_decref(c->hold);
    hk_free(c);
}

static hk_err add_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                         hk_error *err)
{
    (void)env;
    json_t *facts, *meta = opt(v, "meta");
    size_t n = items_of(v, "facts", &facts);
    if (n == 0) return bad(err, "no facts");
    cmd_add *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->st = hk_calloc(n, sizeof *c->st);
    c->ids = hk_calloc(n, sizeof *c->ids);
    c->created = hk_calloc(n, sizeof *c->created);
    hk_err e = c->st && c->ids && c->created ? HK_OK : nomem(err);
    for (size_t i = 0; e == HK_OK && i < n; i++)
        e = statement_from(json_array_get(facts, i), &c->st[i], err);
    if (e == HK_OK && meta) e = meta_from(meta, &c->meta, c->tags, err);
    if (e != HK_OK) {
        add_release(c);
        return e;
    }
    c->op = (hk_svc_add){.st = c->st,
                         .n = n,
                         .meta = meta ? &c->meta : NULL,
                         .ids = c->ids,
                         .created = c->created};
    *arg = c;
    return HK_OK;
}

/* ==== fact.update (content and/or metadata) ==== */

typedef struct cmd_update {
    hk_svc_update op;              /* the request */
    json_t *hold;                  /* the command */
    hk_statement old_st;           /* when op.id == 0 */
    hk_statement new_st;           /* when given */
    hk_fact_meta meta;             /* when given */
    const char *tags[HK_MAX_TAGS]; /* meta.tags */
} cmd_update;

static hk_err update_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_update *op = arg;
    json_t *o = op->id == 0 && op->old_st ? statement_json(op->old_st) : NULL;
    json_t *n = op->new_st ? statement_json(op->new_st) : NULL;
    json_t *m = op->meta ? meta_json(op->meta) : NULL;
    if ((op->id == 0 && op->old_st && !o) || (op->new_st && !n) ||
        (op->meta && !m)) {
        json_decref(o);
        json_decref(n);
        json_decref(m);
        return nomem(err);
    }
    *out = json_pack("{s:I, s:o?, s:o?, s:o?}", "id", (json_int_t)op->id, "old",
                     o, "new", n, "meta", m);
    return *out ? HK_OK : nomem(err);
}

static void update_release(void *arg)
{
    cmd_update *c = arg;
    if (!c) return;
    json_decref(c->hold);
    hk_free(c);
}

static hk_err update_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                            hk_error *err)
{
    (void)env;
    json_t *id = json_object_get(v, "id"), *o = opt(v, "old");
    json_t *n = opt(v, "new"), *m = opt(v, "meta");
    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        (json_integer_value(id) == 0 && !o))
        return bad(err, "fact id");
    cmd_update *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    hk_err e = HK_OK;
    if (o) e = statement_from(o, &c->old_st, err);
    if (e == HK_OK && n) e = statement_from(n, &c->new_st, err);
    if (e == HK_OK && m) e = meta_from(m, &c->meta, c->tags, err);
    if (e != HK_OK) {
        update_release(c);
        return e;
    }
    c->op = (hk_svc_update){.id = (hk_fact_id)json_integer_value(id),
                            .old_st = o ? &c->old_st : NULL,
                            .new_st = n ? &c->new_st : NULL,
                            .meta = m ? &c->meta : NULL};
    *arg = c;
    return HK_OK;
}

/* ==== fact.delete ==== */

typedef struct cmd_delete {
    hk_svc_delete op; /* the request */
    json_t *hold;     /* the command */
    hk_statement *st; /* op.n statements (where ids[i] == 0) */
    hk_fact_id *ids;  /* op.n ids */
} cmd_delete;

static hk_err delete_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_delete *op = arg;
    json_t *names = json_array();
    for (size_t i = 0; names && i < op->n; i++) {
        json_t *one = op->ids[i] ? json_integer((json_int_t)op->ids[i])
                                 : statement_json(&op->st[i]);
        if (json_array_append_new(names, one) != 0) {
            json_decref(names);
            names = NULL;
        }
    }
    if (!names) return nomem(err);
    *out = json_pack("{s:o, s:b, s:b}", "names", names, "missing_ok",
                     op->missing_ok, "dup_ok", op->dup_ok);
    return *out ? HK_OK : nomem(err);
}

static void delete_release(void *arg)
{
    cmd_delete *c = arg;
    if (!c) return;
    hk_free(c->st);
    hk_free(c->ids);
    json_decref(c->hold);
    hk_free(c);
}

static hk_err delete_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                            hk_error *err)
{
    (void)env;
    json_t *names;
    size_t n = items_of(v, "names", &names);
    if (n == 0) return bad(err, "no names");
    cmd_delete *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->st = hk_calloc(n, sizeof *c->st);
    c->ids = hk_calloc(n, sizeof *c->ids);
    hk_err e = c->st && c->ids ? HK_OK : nomem(err);
    for (size_t i = 0; e == HK_OK && i < n; i++) {
        json_t *one = json_array_get(names, i);
        if (json_is_integer(one) && json_integer_value(one) > 0)
            c->ids[i] = (hk_fact_id)json_integer_value(one);
        else
            e = statement_from(one, &c->st[i], err);
    }
    if (e != HK_OK) {
        delete_release(c);
        return e;
    }
    c->op = (hk_svc_delete){
        .n = n,
        .st = c->st,
        .ids = c->ids,
        .missing_ok = json_is_true(json_object_get(v, "missing_ok")),
        .dup_ok = json_is_true(json_object_get(v, "dup_ok"))};
    *arg = c;
    return HK_OK;
}

/* ==== fact.batch ==== */

typedef struct cmd_batch {
    hk_svc_batch b;  /* the request and its results */
    json_t *hold;    /* the command (JSON form) */
    json_t **items;  /* b.n items (borrowed from hold) */
    char **bad_text; /* b.n reasons (borrowed from hold), or NULL */
    /* binary form (hk_svc_cmd_unpack; NULL in the JSON form): */
    uint8_t *raw;                  /* a copy of it */
    const uint8_t *first;          /* where its first item starts in raw */
    const uint8_t *end;            /* raw's end */
    const uint8_t *cursor;         /* the item bin_next reads next */
    size_t at;                     /* that item's index */
    char *text;                    /* one item's strings with their NULs */
    const char *tags[HK_MAX_TAGS]; /* the current item's tags */
    char *label;                   /* b.label */
} cmd_batch;

hk_err hk_svc_fact_batch_apply(hk_txn *t, void *arg, hk_error *err)
{
    return hk_svc_fact_batch(t, arg, err);
}

static hk_err batch_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_batch *b = arg;
    json_t *items = json_array(), *why = json_array();
    for (size_t i = 0; items && why && i < b->n; i++) {
        const char *r = b->bad ? b->bad[i] : NULL;
        json_t *it = r || !b->items[i] ? json_null() : json_incref(b->items[i]);
        if (json_array_append_new(items, it) != 0 ||
            json_array_append_new(why, r ? json_string(r) : json_null()) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    json_t *opts = json_pack("{s:b, s:b, s:b, s:I, s:I}", "allow_string",
                             b->opts.allow_string, "need_statement",
                             b->opts.need_statement, "legacy", b->opts.legacy,
                             "max_statement", (json_int_t)b->opts.max_statement,
                             "max_args", (json_int_t)b->opts.max_args);
    if (!items || !why || !opts) {
        json_decref(items);
        json_decref(why);
        json_decref(opts);
        return nomem(err);
    }
    *out = json_pack("{s:o, s:o, s:o, s:s?}", "items", items, "bad", why,
                     "opts", opts, "label", b->label);
    return *out ? HK_OK : nomem(err);
}

static void batch_release(void *arg)
{
    cmd_batch *c = arg;
    if (!c) return;
    hk_svc_batch_free(&c->b);
    hk_free(c->items);
    hk_free(c->bad_text);
    json_decref(c->hold);
    hk_free(c->raw);
    hk_free(c->text);
    hk_free(c->label);
    hk_free(c);
}

static hk_err batch_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                           hk_error *err)
{
    (void)env;
    json_t *items, *why = json_object_get(v, "bad");
    json_t *opts = json_object_get(v, "opts");
    size_t n = items_of(v, "items", &items);
    if (n == 0 || json_array_size(why) != n || !json_is_object(opts))
        return bad(err, "batch");
    cmd_batch *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->items = hk_calloc(n, sizeof *c->items);
    c->bad_text = hk_calloc(n, sizeof *c->bad_text);
    hk_err e =
        c->items && c->bad_text ? hk_svc_batch_init(&c->b, n, err) : nomem(err);
    if (e != HK_OK) {
        batch_release(c);
        return e;
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = json_string_value(json_array_get(why, i));
        c->bad_text[i] = (char *)r; /* read only */
        c->items[i] = r ? NULL : json_array_get(items, i);
    }
    c->b.items = c->items;
    c->b.bad = c->bad_text;
    c->b.n = n;
    c->b.opts = (hk_svc_fact_in_opts){
        .allow_string = json_is_true(json_object_get(opts, "allow_string")),
        .need_statement = json_is_true(json_object_get(opts, "need_statement")),
        .legacy = json_is_true(json_object_get(opts, "legacy")),
        .max_statement =
            (size_t)json_integer_value(json_object_get(opts, "max_statement")),
        .max_args =
            (uint32_t)json_integer_value(json_object_get(opts, "max_args"))};
    c->b.label = json_string_value(json_object_get(v, "label"));
    *arg = c;
    return HK_OK;
}

/* ==== rule (add or replace, enable, disable, delete), reason, strict ==== */

typedef struct cmd_rule {
    hk_svc_rule_op op; /* the request (d: this node's rule databases) */
    json_t *hold;      /* the command (name and text point into it) */
} cmd_rule;

static hk_err rule_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_rule_op *op = arg;
    *out = json_pack("{s:i, s:s?, s:s?}", "verb", (int)op->verb, "name",
                     op->name && op->name[0] ? op->name : NULL, "text",
                     op->verb == HK_SVC_RULE_ADD ? op->text : NULL);
    return *out ? HK_OK : nomem(err);
}

static void rule_release(void *arg)
{
    cmd_rule *c = arg;
    if (!c) return;
    hk_svc_rule_op_free(&c->op);
    json_decref(c->hold);
    hk_free(c);
}

static hk_err rule_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                          hk_error *err)
{
    json_t *verb = json_object_get(v, "verb");
    const char *name = json_string_value(opt(v, "name"));
    const char *text = json_string_value(opt(v, "text"));
    json_int_t vb = json_integer_value(verb);
    if (!json_is_integer(verb) || vb < HK_SVC_RULE_ADD ||
        vb > HK_SVC_RULE_DELETE || (vb == HK_SVC_RULE_ADD && !text) ||
        (vb != HK_SVC_RULE_ADD && !name) || (name && !hkr_name_valid(name)))
        return bad(err, "rule");
    hkr_dbs d;
    hk_err e = hkr_dbs_of(env->s, &d, err);
    if (e) return e;
    cmd_rule *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->op.d = d;
    c->op.verb = (hk_svc_rule_verb)vb;
    c->op.name = name;
    c->op.text = text;
    *arg = c;
    return HK_OK;
}

typedef struct cmd_reason {
    hk_svc_reason r; /* the request (d: this node's rule databases) */
} cmd_reason;

static hk_err reason_encode(const void *arg, json_t **out, hk_error *err)
{
    (void)arg;
    *out = json_object();
    return *out ? HK_OK : nomem(err);
}

static void reason_release(void *arg)
{
    hk_free(arg);
}

static hk_err reason_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                            hk_error *err)
{
    if (!json_is_object(v)) return bad(err, "reason");
    hkr_dbs d;
    hk_err e = hkr_dbs_of(env->s, &d, err);
    if (e) return e;
    cmd_reason *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->r.d = d;
    *arg = c;
    return HK_OK;
}

typedef struct cmd_strict {
    hk_svc_rules_strict a; /* the request (d: this node's rule databases) */
} cmd_strict;

static hk_err strict_encode(const void *arg, json_t **out, hk_error *err)
{
    *out = json_pack("{s:b}", "on", ((const hk_svc_rules_strict *)arg)->on);
    return *out ? HK_OK : nomem(err);
}

static hk_err strict_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                            hk_error *err)
{
    json_t *on = json_object_get(v, "on");
    if (!json_is_boolean(on)) return bad(err, "strict");
    hkr_dbs d;
    hk_err e = hkr_dbs_of(env->s, &d, err);
    if (e) return e;
    cmd_strict *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->a.d = d;
    c->a.on = json_is_true(on);
    *arg = c;
    return HK_OK;
}

/* ==== vector.space.create, vector.space.drop ==== */

static hk_err need_vs(const hk_svc_cmd_env *env, hk_error *err)
{
    return env->vs ? HK_OK
                   : hk_error_set(err, HK_ERR_UNSUPPORTED,
                                  "the vector module is not attached");
}

/* The space's name and definition; id, stamp and count are the store's. */
static hk_err vspace_encode(const void *arg, json_t **out, hk_error *err)
{
    const hkv_space *sp = &((const hk_svc_vspace_arg *)arg)->sp;
    const hkv_params *p = &sp->params;
    *out = json_pack("{s:s, s:[i,i,i,i,i,i], s:i, s:b, s:i, s:s}", "name",
                     sp->name, "params", (int)p->dim, (int)p->metric,
                     (int)p->quant, (int)p->m, (int)p->ef_construction,
                     (int)p->ef, "embedder", (int)sp->embedder, "auto",
                     sp->auto_embed, "kind", (int)sp->kind, "model", sp->model);
    return *out ? HK_OK : nomem(err);
}

static hk_err vspace_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                            hk_error *err)
{
    const char *name = json_string_value(json_object_get(v, "name"));
    json_t *p = json_object_get(v, "params");
    const char *model = json_string_value(json_object_get(v, "model"));
    json_int_t w[6];
    bool ok = name && strlen(name) <= HKV_NAME_MAX;
    if (ok && p) { /* create; drop carries the name only */
        ok = json_array_size(p) == 6 && model && strlen(model) <= HKV_MODEL_MAX;
        for (size_t i = 0; ok && i < 6; i++) {
            w[i] = json_integer_value(json_array_get(p, i));
            ok = json_is_integer(json_array_get(p, i)) && w[i] >= 0 &&
                 w[i] <= (json_int_t)UINT32_MAX;
        }
    }
    if (!ok) return bad(err, "vector space");
    hk_err e = need_vs(env, err);
    if (e) return e;
    hk_svc_vspace_arg *a = hk_calloc(1, sizeof *a);
    if (!a) return nomem(err);
    a->vs = env->vs;
    snprintf(a->sp.name, sizeof a->sp.name, "%s", name);
    if (p) {
        a->sp.params = (hkv_params){.dim = (uint32_t)w[0],
                                    .metric = (hkv_metric)w[1],
                                    .quant = (hkv_quant)w[2],
                                    .m = (uint32_t)w[3],
                                    .ef_construction = (uint32_t)w[4],
                                    .ef = (uint32_t)w[5]};
        a->sp.embedder =
            (hkv_embedder)json_integer_value(json_object_get(v, "embedder"));
        a->sp.auto_embed = json_is_true(json_object_get(v, "auto"));
        a->sp.kind = (hkv_kind)json_integer_value(json_object_get(v, "kind"));
        snprintf(a->sp.model, sizeof a->sp.model, "%s", model);
    }
    *arg = a;
    return HK_OK;
}

static hk_err vdrop_encode(const void *arg, json_t **out, hk_error *err)
{
    const hkv_space *sp = &((const hk_svc_vspace_arg *)arg)->sp;
    *out = json_pack("{s:s}", "name", sp->name);
    return *out ? HK_OK : nomem(err);
}

static void vspace_release(void *arg)
{
    hk_free(arg);
}

/* ==== vector.entity (entity vectors stored or removed) ==== */

typedef struct cmd_ventity {
    hk_svc_ventity_arg a; /* the request */
    json_t *hold;         /* the command (names point into it) */
    const char **names;   /* a.n names */
    float *vecs;          /* a.n * a.dim floats, or NULL with remove */
} cmd_ventity;

/* Vectors travel as JSON numbers: a float widened to double prints with
 * 17 significant digits and reads back to the same float. */
static hk_err ventity_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_ventity_arg *a = arg;
    json_t *names = json_array(),
           *vecs = a->remove ? json_null() : json_array();
    bool ok = names && vecs;
    for (size_t i = 0; ok && i < a->n; i++) {
        ok = json_array_append_new(names, json_string(a->names[i])) == 0;
        for (uint32_t d = 0; ok && !a->remove && d < a->dim; d++)
            ok = json_array_append_new(
                     vecs, json_real((double)a->vecs[i * a->dim + d])) == 0;
    }
    if (!ok) {
        json_decref(names);
        json_decref(vecs);
        return nomem(err);
    }
    *out = json_pack("{s:s, s:o, s:o, s:I, s:b, s:s?}", "space", a->space,
                     "names", names, "vecs", vecs, "dim", (json_int_t)a->dim,
                     "remove", a->remove, "model", a->model);
    return *out ? HK_OK : nomem(err);
}

static void ventity_release(void *arg)
{
    cmd_ventity *c = arg;
    if (!c) return;
    hk_free(c->names);
    hk_free(c->vecs);
    json_decref(c->hold);
    hk_free(c);
}

static hk_err ventity_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                             hk_error *err)
{
    json_t *names, *vecs = json_object_get(v, "vecs");
    size_t n = items_of(v, "names", &names);
    const char *space = json_string_value(json_object_get(v, "space"));
    json_int_t dim = json_integer_value(json_object_get(v, "dim"));
    bool remove = json_is_true(json_object_get(v, "remove"));
    if (n == 0 || !space || dim < 0 || dim > HKV_DIM_MAX ||
        (!remove && (dim == 0 || json_array_size(vecs) != n * (size_t)dim)))
        return bad(err, "entity vectors");
    hk_err e = need_vs(env, err);
    if (e) return e;
    cmd_ventity *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->names = hk_calloc(n, sizeof *c->names);
    if (!remove) c->vecs = hk_calloc(n * (size_t)dim, sizeof *c->vecs);
    e = c->names && (remove || c->vecs) ? HK_OK : nomem(err);
    for (size_t i = 0; e == HK_OK && i < n; i++)
        if (!(c->names[i] = json_string_value(json_array_get(names, i))))
            e = bad(err, "entity name");
    for (size_t i = 0; e == HK_OK && !remove && i < n * (size_t)dim; i++) {
        json_t *x = json_array_get(vecs, i);
        if (!json_is_number(x))
            e = bad(err, "vector value");
        else
            c->vecs[i] = (float)json_number_value(x);
    }
    if (e != HK_OK) {
        ventity_release(c);
        return e;
    }
    c->a = (hk_svc_ventity_arg){.vs = env->vs,
                                .space = space,
                                .names = c->names,
                                .vecs = c->vecs,
                                .dim = (uint32_t)dim,
                                .n = n,
                                .remove = remove,
                                .model = json_string_value(opt(v, "model"))};
    *arg = c;
    return HK_OK;
}

/* ==== vector.embed (one batch of the built-in, deterministic embedder) ==== */

typedef struct cmd_embed {
    hk_svc_embed_arg a; /* the request */
    json_t *hold;       /* the command (space points into it) */
} cmd_embed;

static hk_err embed_encode(const void *arg, json_t **out, hk_error *err)
{
    const hk_svc_embed_arg *a = arg;
    *out = json_pack("{s:s, s:I, s:I}", "space", a->space, "after",
                     (json_int_t)a->after, "limit", (json_int_t)a->limit);
    return *out ? HK_OK : nomem(err);
}

static void embed_release(void *arg)
{
    cmd_embed *c = arg;
    if (!c) return;
    json_decref(c->hold);
    hk_free(c);
}

static hk_err embed_decode(json_t *v, const hk_svc_cmd_env *env, void **arg,
                           hk_error *err)
{
    const char *space = json_string_value(json_object_get(v, "space"));
    json_t *after = json_object_get(v, "after"),
           *lim = json_object_get(v, "limit");
    if (!space || !json_is_integer(after) || !json_is_integer(lim) ||
        json_integer_value(after) < 0 || json_integer_value(lim) < 0)
        return bad(err, "embed");
    hk_err e = need_vs(env, err);
    if (e) return e;
    cmd_embed *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->hold = json_incref(v);
    c->a = (hk_svc_embed_arg){.vs = env->vs,
                              .space = space,
                              .after = (hk_fact_id)json_integer_value(after),
                              .limit = (uint64_t)json_integer_value(lim)};
    *arg = c;
    return HK_OK;
}

/* ==== The table ==== */

/* A decoded request starts with the service's request struct, so the
 * apply steps take it as their argument unchanged. */
static const hk_svc_cmd cmds[] = {
    {"fact.add", hk_svc_fact_add_apply, add_encode, add_decode, add_release,
     false},
    {"fact.update", hk_svc_fact_update_apply, update_encode, update_decode,
     update_release, false},
    {"fact.delete", hk_svc_fact_delete_apply, delete_encode, delete_decode,
     delete_release, false},
    {"fact.batch", hk_svc_fact_batch_apply, batch_encode, batch_decode,
     batch_release, true},
    {"rule", hk_svc_rule_apply, rule_encode, rule_decode, rule_release, false},
    {"reason", hk_svc_reason_apply, reason_encode, reason_decode,
     reason_release, false},
    {"rule.strict", hk_svc_rules_strict_apply, strict_encode, strict_decode,
     reason_release, false},
    {"vector.space.create", hk_svc_vspace_create_apply, vspace_encode,
     vspace_decode, vspace_release, false},
    {"vector.space.drop", hk_svc_vspace_drop_apply, vdrop_encode, vspace_decode,
     vspace_release, false},
    {"vector.entity", hk_svc_ventity_apply, ventity_encode, ventity_decode,
     ventity_release, false},
    {"vector.embed", hk_svc_embed_apply, embed_encode, embed_decode,
     embed_release, false},
};

const hk_svc_cmd *hk_svc_cmd_by_apply(hk_svc_apply_fn fn)
{
    for (size_t i = 0; fn && i < sizeof cmds / sizeof cmds[0]; i++)
        if (cmds[i].apply == fn) return &cmds[i];
    return NULL;
}

const hk_svc_cmd *hk_svc_cmd_by_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
    return NULL;
}

/* ==== Binary form ====
 * All integers little-endian; a string is u32 length and bytes without
 * NUL, length 0xFFFFFFFF for an absent one. A statement is predicate,
 * u8 n_args, n_args args; metadata is u32 fields, u64 confidence
 * (IEEE-754 bits), source, u8 n_tags, n_tags tags, context, i64
 * created_us, i64 updated_us.
 *
 * fact.add, version 1: u8 version (1), u32 n, n statements; u8 has_meta,
 * then when 1 the metadata.
 *
 * fact.batch, version 1: u8 version (1), u32 n, label; n items, each
 *   u8 0, a statement (predicate absent and no args when the item gave
 *   no content): a fact without metadata (no field set; the store reads
 *   no other); or
 *   u8 2, a statement, its metadata; or
 *   u8 1, u8 fault (hk_svc_fault), message: the item could not be
 *   decoded where the request was made.
 * The items are decoded where the request is packed: hk_svc_fact_in_parse
 * depends on nothing but the item and the request's options, so every
 * node that applies the packed items makes the store calls the JSON
 * items would make, without a JSON tree or a statement parse per fact
 * (the JSON form cost a replicated node about a fifth of its apply
 * thread at 2M facts: bench/RESULTS.md, "Replication commands in binary").
 *
 * Unpacking copies every string into memory of its own with its NUL: each
 * has a 4-byte prefix, so the input's length bounds the copy. */

#define PACK_VERSION 1u
#define PACK_NULL 0xFFFFFFFFu

typedef struct packer {
    hk_buf *out;  /* appended to */
    size_t start; /* out->len before packing (restored on failure) */
    bool failed;  /* an append failed */
} packer;

static void pk_bytes(packer *k, const void *p, size_t n)
{
    if (!k->failed && hk_buf_append(k->out, p, n) != HK_OK) k->failed = true;
}

static void pk_int(packer *k, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    pk_bytes(k, b, (size_t)n);
}

static void pk_str(packer *k, const char *s)
{
    if (!s) {
        pk_int(k, PACK_NULL, 4);
        return;
    }
    size_t n = strlen(s);
    if (n >= PACK_NULL) { /* never from a parsed request (its limits) */
        k->failed = true;
        return;
    }
    pk_int(k, n, 4);
    pk_bytes(k, s, n);
}

static void pk_statement(packer *k, const hk_statement *st)
{
    uint32_t na = st->n_args < HK_MAX_ARGS ? st->n_args : HK_MAX_ARGS;
    pk_str(k, st->predicate);
    pk_int(k, na, 1);
    for (uint32_t a = 0; a < na; a++)
        pk_str(k, st->args[a]);
}

static void pk_meta(packer *k, const hk_fact_meta *m)
{
    uint64_t conf;
    memcpy(&conf, &m->confidence, sizeof conf);
    uint32_t nt = m->n_tags < HK_MAX_TAGS ? m->n_tags : HK_MAX_TAGS;
    pk_int(k, m->fields, 4);
    pk_int(k, conf, 8);
    pk_str(k, m->source);
    pk_int(k, nt, 1);
    for (uint32_t i = 0; i < nt; i++)
        pk_str(k, m->tags[i]);
    pk_str(k, m->context_json);
    pk_int(k, (uint64_t)m->created_us, 8);
    pk_int(k, (uint64_t)m->updated_us, 8);
}

static void pack_add(packer *k, const hk_svc_add *op)
{
    pk_int(k, PACK_VERSION, 1);
    pk_int(k, op->n, 4);
    for (size_t i = 0; i < op->n; i++)
        pk_statement(k, &op->st[i]);
    pk_int(k, op->meta ? 1 : 0, 1);
    if (op->meta) pk_meta(k, op->meta);
}

/* Decodes every item as hk_svc_fact_batch would and packs the result;
 * HK_ERR_NOMEM when memory ran out (while decoding or appending). */
static hk_err pack_batch(packer *k, const hk_svc_batch *b)
{
    if (b->n > UINT32_MAX || b->next) return HK_ERR_INVALID;
    pk_int(k, PACK_VERSION, 1);
    pk_int(k, b->n, 4);
    pk_str(k, b->label);
    for (size_t i = 0; i < b->n && !k->failed; i++) {
        if (b->bad && b->bad[i]) {
            pk_int(k, 1, 1);
            pk_int(k, HK_SVC_FAULT_SYNTAX, 1);
            pk_str(k, b->bad[i]);
            continue;
        }
        hk_svc_fact_in in;
        hk_error e;
        hk_err rc = hk_svc_fact_in_parse(b->items[i], &b->opts, &in, &e);
        if (rc == HK_ERR_NOMEM || in.fault == HK_SVC_FAULT_NOMEM) {
            hk_svc_fact_in_release(&in);
            return HK_ERR_NOMEM;
        }
        if (rc == HK_OK) {
            pk_int(k, in.meta.fields ? 2 : 0, 1);
            pk_statement(k, &in.st);
            if (in.meta.fields) pk_meta(k, &in.meta);
        } else {
            pk_int(k, 1, 1);
            pk_int(k, (uint64_t)in.fault, 1);
            pk_str(k, e.message);
        }
        hk_svc_fact_in_release(&in);
    }
    return k->failed ? HK_ERR_NOMEM : HK_OK;
}

bool hk_svc_cmd_packable(const hk_svc_cmd *cmd)
{
    return cmd && cmd->apply == hk_svc_fact_add_apply;
}

bool hk_svc_cmd_binary(const hk_svc_cmd *cmd)
{
    return cmd && (cmd->apply == hk_svc_fact_add_apply ||
                   cmd->apply == hk_svc_fact_batch_apply);
}

hk_err hk_svc_cmd_pack(const hk_svc_cmd *cmd, const void *arg, hk_buf *out,
                       hk_error *err)
{
    if (!hk_svc_cmd_binary(cmd) || !arg)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "write command %s has no binary form",
                            cmd ? cmd->name : "(none)");
    packer k = {out, out->len, false};
    hk_err e = HK_OK;
    if (cmd->apply == hk_svc_fact_add_apply)
        pack_add(&k, arg);
    else
        e = pack_batch(&k, arg);
    if (e == HK_OK && k.failed) e = HK_ERR_NOMEM;
    if (e != HK_OK) {
        out->len = k.start;
        if (out->data) out->data[out->len] = 0;
        return e == HK_ERR_NOMEM ? nomem(err) : bad(err, "batch to pack");
    }
    return HK_OK;
}

typedef struct unpacker {
    const uint8_t *p, *end; /* what is left to read */
    char *text;             /* where the next string is copied; NULL: the
                               strings are only checked */
    bool bad;               /* the input ended early or held garbage */
} unpacker;

static uint64_t up_int(unpacker *u, int n)
{
    if (u->bad || u->end - u->p < n) {
        u->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | u->p[i];
    u->p += n;
    return v;
}

/* The next string, copied with its NUL (or, when only checking, "");
 * NULL when absent (nullable) or bad (u->bad set). */
static const char *up_str(unpacker *u, bool nullable)
{
    uint64_t n = up_int(u, 4);
    if (u->bad) return NULL;
    if (n == PACK_NULL) {
        if (!nullable) u->bad = true;
        return NULL;
    }
    if ((uint64_t)(u->end - u->p) < n || memchr(u->p, 0, n)) {
        u->bad = true;
        return NULL;
    }
    const char *s = "";
    if (u->text) {
        memcpy(u->text, u->p, n);
        u->text[n] = 0;
        s = u->text;
        u->text += n + 1;
    }
    u->p += n;
    return s;
}

/* A statement into st; empty: the predicate may be absent and the args
 * none (a batch item without content). */
static void up_statement(unpacker *u, hk_statement *st, bool empty)
{
    st->predicate = up_str(u, empty);
    uint64_t na = up_int(u, 1);
    if (na > HK_MAX_ARGS || (!empty && na < 1)) u->bad = true;
    for (uint64_t a = 0; a < na && !u->bad; a++)
        st->args[a] = up_str(u, false);
    st->n_args = u->bad ? 0 : (uint32_t)na;
}

/* Metadata into m, its tag pointers into tags[HK_MAX_TAGS]. */
static void up_meta(unpacker *u, hk_fact_meta *m, const char **tags)
{
    m->fields = (unsigned)up_int(u, 4);
    uint64_t conf = up_int(u, 8);
    memcpy(&m->confidence, &conf, sizeof conf);
    m->source = up_str(u, true);
    uint64_t nt = up_int(u, 1);
    if (nt > HK_MAX_TAGS) u->bad = true;
    for (uint64_t i = 0; i < nt && !u->bad; i++)
        tags[i] = up_str(u, false);
    m->n_tags = u->bad ? 0 : (uint32_t)nt;
    m->tags = tags;
    m->context_json = up_str(u, true);
    m->created_us = (int64_t)up_int(u, 8);
    m->updated_us = (int64_t)up_int(u, 8);
}

static hk_err unpack_add(const uint8_t *p, size_t len, void **arg,
                         hk_error *err)
{
    unpacker u = {p, p + len, NULL, false};
    if (up_int(&u, 1) != PACK_VERSION) return bad(err, "binary form version");
    uint64_t n = up_int(&u, 4);
    /* a statement takes at least 4 + 1 + 4 bytes */
    if (u.bad || n == 0 || n > (size_t)(u.end - u.p) / 9)
        return bad(err, "binary form: fact count");
    cmd_add *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->st = hk_calloc(n, sizeof *c->st);
    c->ids = hk_calloc(n, sizeof *c->ids);
    c->created = hk_calloc(n, sizeof *c->created);
    c->text = hk_malloc(len + 1);
    if (!c->st || !c->ids || !c->created || !c->text) {
        add_release(c);
        return nomem(err);
    }
    u.text = c->text;
    for (size_t i = 0; i < n && !u.bad; i++)
        up_statement(&u, &c->st[i], false);
    uint64_t has_meta = up_int(&u, 1);
    if (has_meta > 1) u.bad = true;
    if (has_meta == 1 && !u.bad) up_meta(&u, &c->meta, c->tags);
    if (u.bad || u.p != u.end) {
        add_release(c);
        return bad(err, "binary form of fact.add");
    }
    c->op = (hk_svc_add){.st = c->st,
                         .n = n,
                         .meta = has_meta ? &c->meta : NULL,
                         .ids = c->ids,
                         .created = c->created};
    *arg = c;
    return HK_OK;
}

/* One item at u: a fact into st and meta (tags), or a failed item's
 * fault and message (msg: NULL when only checking). */
static bool up_item(unpacker *u, hk_statement *st, hk_fact_meta *meta,
                    const char **tags, hk_svc_fault *fault, const char **msg)
{
    uint64_t tag = up_int(u, 1);
    if (tag == 0 || tag == 2) {
        up_statement(u, st, true);
        if (tag == 2) up_meta(u, meta, tags);
        if (tag == 2 && meta->fields == 0) u->bad = true; /* not packed */
        *fault = HK_SVC_FAULT_NONE;
        return !u->bad;
    }
    uint64_t f = up_int(u, 1);
    const char *m = up_str(u, false);
    if (tag != 1 || f == HK_SVC_FAULT_NONE || f > HK_SVC_FAULT_NOMEM)
        u->bad = true;
    *fault = (hk_svc_fault)f;
    if (msg) *msg = m;
    return !u->bad;
}

/* hk_svc_batch's next: items are read in order, each once per apply (an
 * apply run again starts at item 0). */
static hk_err bin_next(void *ctx, size_t i, hk_statement *st,
                       hk_fact_meta *meta, hk_svc_fault *fault, hk_error *why)
{
    cmd_batch *c = ctx;
    if (i == 0) {
        c->cursor = c->first;
        c->at = 0;
    }
    if (i != c->at || i >= c->b.n)
        return hk_error_set(why, HK_ERR_STATE, "batch items out of order");
    unpacker u = {c->cursor, c->end, c->text, false};
    const char *msg = NULL;
    memset(st, 0, sizeof *st);
    memset(meta, 0, sizeof *meta);
    /* unpack checked every item: a failure here is a bug */
    if (!up_item(&u, st, meta, c->tags, fault, &msg))
        return hk_error_set(why, HK_ERR_STATE, "batch item %zu unreadable", i);
    c->cursor = u.p;
    c->at++;
    if (*fault == HK_SVC_FAULT_NONE) return HK_OK;
    return hk_error_set(
        why, *fault == HK_SVC_FAULT_NOMEM ? HK_ERR_NOMEM : HK_ERR_INVALID, "%s",
        msg);
}

static hk_err unpack_batch(const uint8_t *p, size_t len, void **arg,
                           hk_error *err)
{
    unpacker u = {p, p + len, NULL, false};
    if (up_int(&u, 1) != PACK_VERSION) return bad(err, "binary form version");
    uint64_t n = up_int(&u, 4);
    /* an item takes at least 6 bytes (a failed one: 1 + 1 + 4) */
    if (u.bad || n == 0 || n > len / 6)
        return bad(err, "binary form: item count");
    unpacker lu = u; /* the label, copied below */
    const char *label = up_str(&u, true);
    const uint8_t *items = u.p;
    size_t longest = 0;
    hk_statement st;
    hk_fact_meta meta;
    const char *tags[HK_MAX_TAGS];
    hk_svc_fault fault;
    for (uint64_t i = 0; i < n && !u.bad; i++) {
        const uint8_t *from = u.p;
        if (up_item(&u, &st, &meta, tags, &fault, NULL) &&
            (size_t)(u.p - from) > longest)
            longest = (size_t)(u.p - from);
    }
    if (u.bad || u.p != u.end) return bad(err, "binary form of fact.batch");
    cmd_batch *c = hk_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    c->raw = hk_malloc(len);
    c->text = hk_malloc(longest + 1); /* a string's NUL takes less than
                                         its 4-byte length */
    if (label) c->label = hk_malloc((size_t)(items - p));
    hk_err e = c->raw && c->text && (!label || c->label)
                   ? hk_svc_batch_init(&c->b, (size_t)n, err)
                   : nomem(err);
    if (e != HK_OK) {
        batch_release(c);
        return e;
    }
    memcpy(c->raw, p, len);
    if (label) {
        lu.text = c->label;
        (void)up_str(&lu, true);
    }
    c->first = c->raw + (items - p);
    c->end = c->raw + len;
    c->b.n = (size_t)n;
    c->b.label = c->label;
    c->b.next = bin_next;
    c->b.next_ctx = c;
    *arg = c;
    return HK_OK;
}

hk_err hk_svc_cmd_unpack(const hk_svc_cmd *cmd, const void *p, size_t len,
                         const hk_svc_cmd_env *env, void **arg, hk_error *err)
{
    (void)env;
    if (!hk_svc_cmd_binary(cmd))
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "write command %s has no binary form",
                            cmd ? cmd->name : "(none)");
    if (!p && len) return bad(err, "binary form");
    if (cmd->apply == hk_svc_fact_batch_apply)
        return unpack_batch(p, len, arg, err);
    return unpack_add(p, len, arg, err);
}
