/*
 * gql_rules.c — the resolvers of the rule fields: Query.rules, rule, why
 * and Mutation.addRule, setRuleEnabled, deleteRule. Each calls the same
 * service function as the REST route (src/service/svc_rules.h,
 * src/server/routes_rules.c) and answers its JSON, so both give the same
 * values. Rule changes run in the mutation's write transaction (the
 * caller checked the write role, as REST's rule routes need).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "graphql/gql_int.h"
#include "service/svc_rules.h"

static json_t *nomem(gql_ctx *c)
{
    hk_error e;
    hk_error_set(&e, HK_ERR_NOMEM, "out of memory");
    return gql_error_hk(c, &e);
}

/* The KB's rule databases; false with a field error when absent. */
static bool rule_dbs(gql_ctx *c, hkr_dbs *d)
{
    hk_error e;
    if (c->env->store && hkr_dbs_of(c->env->store, d, &e) == HK_OK) return true;
    gql_error(c, "the rule module is not attached to this KB");
    return false;
}

/* The JSON text in b as a value (rules are small: parsed, not raw). */
static json_t *buf_value(gql_ctx *c, const hk_buf *b)
{
    json_t *v = json_loadb(b->data, b->len, JSON_DECODE_ANY, NULL);
    return v ? v : nomem(c);
}

json_t *gql_r_rules(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    (void)args;
    hkr_dbs d;
    if (!rule_dbs(c, &d)) return NULL;
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    json_t *out = hk_svc_rules_list_json(c->env->txn, &d, &b, &err) == HK_OK
                      ? buf_value(c, &b)
                      : gql_error_hk(c, &err);
    hk_buf_free(&b);
    return out;
}

json_t *gql_r_rule(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!hkr_name_valid(name)) return gql_error(c, "bad rule name");
    hkr_dbs d;
    if (!rule_dbs(c, &d)) return NULL;
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    hk_err rc = hk_svc_rule_show_json(c->env->txn, &d, name, &b, &err);
    json_t *out = rc == HK_OK              ? buf_value(c, &b)
                  : rc == HK_ERR_NOT_FOUND ? json_null()
                                           : gql_error_hk(c, &err);
    hk_buf_free(&b);
    return out;
}

json_t *gql_r_why(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    const char *st = json_string_value(json_object_get(args, "statement"));
    if (!*st) return gql_error(c, "give a statement such as Pred(arg, ...)");
    if (c->env->max_statement && strlen(st) > c->env->max_statement)
        return gql_error(c, "the statement is longer than max-statement");
    hkr_dbs d;
    if (!rule_dbs(c, &d)) return NULL;
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    hk_error_clear(&err);
    json_t *out = hk_svc_why_json(c->env->txn, &d, st, &b, &err) == HK_OK
                      ? buf_value(c, &b)
                      : gql_error_hk(c, &err);
    hk_buf_free(&b);
    return out;
}

/* ==== Mutations ==== */

static json_t *rule_change(gql_ctx *c, hk_svc_rule_verb verb, const char *name,
                           const char *text)
{
    if (!c->mutation) return gql_error(c, "writes run only in mutations");
    if (name && !hkr_name_valid(name))
        return gql_error(c, "a rule name is 1..64 letters, digits, '_', '-' "
                            "or '.', starting with a letter or '_'");
    hk_svc_rule_op op;
    memset(&op, 0, sizeof(op));
    if (!rule_dbs(c, &op.d)) return NULL;
    op.verb = verb;
    op.name = name;
    op.text = text;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_svc_rule_apply(c->env->txn, &op, &err);
    json_t *out;
    if (rc == HK_OK) {
        hk_buf b = HK_BUF_INIT;
        out = hk_svc_rule_op_write_json(&op, &b) == HK_OK ? buf_value(c, &b)
                                                          : nomem(c);
        hk_buf_free(&b);
    } else {
        out = gql_error_hk(c, &err);
    }
    hk_svc_rule_op_free(&op);
    return out;
}

json_t *gql_r_add_rule(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return rule_change(c, HK_SVC_RULE_ADD,
                       json_string_value(json_object_get(args, "name")),
                       json_string_value(json_object_get(args, "rule")));
}

json_t *gql_r_set_rule_enabled(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    bool on = json_is_true(json_object_get(args, "enabled"));
    return rule_change(c, on ? HK_SVC_RULE_ENABLE : HK_SVC_RULE_DISABLE,
                       json_string_value(json_object_get(args, "name")), NULL);
}

json_t *gql_r_delete_rule(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return rule_change(c, HK_SVC_RULE_DELETE,
                       json_string_value(json_object_get(args, "name")), NULL);
}
