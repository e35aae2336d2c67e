/*
 * grpc_rules.c — the rule methods of hakgal.v2.Hakgal (ListRules,
 * AddRule, SetRuleEnabled, DeleteRule, Reason, Why) over the service
 * functions of src/service/svc_rules.h, the ones the REST routes of
 * src/server/routes_rules.c call, with the same checks and roles.
 *
 * Reads run on the worker's read transaction; changes go through the
 * server's group commit with the caller's token name as the audit actor
 * and rematerialize in the same commit (hk_svc_rule_apply).
 */
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/mem.h"
#include "grpc/grpc_int.h"
#include "service/svc_rules.h"

/* The KB's rule databases; answers UNAVAILABLE and returns false when the
 * rule module is not attached (REST's 503). */
static bool rule_dbs(hk_grpc_call *c, hkr_dbs *d)
{
    hk_error e;
    hk_error_clear(&e);
    if (hkr_dbs_of(hk_server_store(c->srv), d, &e) == HK_OK) return true;
    hk_grpc_finish(c, GRPC_STATUS_UNAVAILABLE,
                   "the rule module is not attached to this KB", NULL);
    return false;
}

/* A rule name from a request; answers INVALID_ARGUMENT when bad. */
static bool name_ok(hk_grpc_call *c, const char *name)
{
    if (name && hkr_name_valid(name)) return true;
    hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                   "a rule name is 1..64 letters, digits, '_', '-' or '.', "
                   "starting with a letter or '_'",
                   "name");
    return false;
}

/* ==== Changes ==== */

/* Runs op through the group commit and answers with the rule and the
 * derived count. */
static void rule_change(hk_grpc_call *c, hk_svc_rule_op *op)
{
    hk_error err;
    hk_error_clear(&err);
    hk_err rc =
        hk_server_write_sync(c->srv, hk_svc_rule_apply, op, c->who.name, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
    } else {
        char created[32], updated[32];
        hk_time_format(op->out.created_us, created);
        hk_time_format(op->out.updated_us, updated);
        Hakgal__V2__Rule r = HAKGAL__V2__RULE__INIT;
        r.name = op->out.name;
        r.version = op->out.version;
        r.enabled = op->out.enabled;
        r.created = created;
        r.updated = updated;
        r.rule = op->out.text ? op->out.text : "";
        Hakgal__V2__RuleChangeResponse a =
            HAKGAL__V2__RULE_CHANGE_RESPONSE__INIT;
        a.rule = &r;
        a.deleted = op->verb == HK_SVC_RULE_DELETE;
        a.derived = op->reason.derived;
        hk_grpc_reply(c, &a.base);
    }
    hk_svc_rule_op_free(op);
}

void hk_grpc_add_rule(hk_grpc_call *c)
{
    const Hakgal__V2__AddRuleRequest *q = (void *)c->req;
    hk_svc_rule_op op;
    memset(&op, 0, sizeof op);
    if (!q->rule || !q->rule[0]) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "expected a rule \"Head(...) :- Body.\"", "rule");
        return;
    }
    bool named = q->name && q->name[0];
    if (named && !name_ok(c, q->name)) return;
    if (!rule_dbs(c, &op.d)) return;
    op.verb = HK_SVC_RULE_ADD;
    op.name = named ? q->name : NULL;
    op.text = q->rule;
    rule_change(c, &op);
}

void hk_grpc_set_rule_enabled(hk_grpc_call *c)
{
    const Hakgal__V2__SetRuleEnabledRequest *q = (void *)c->req;
    hk_svc_rule_op op;
    memset(&op, 0, sizeof op);
    if (!name_ok(c, q->name) || !rule_dbs(c, &op.d)) return;
    op.verb = q->enabled ? HK_SVC_RULE_ENABLE : HK_SVC_RULE_DISABLE;
    op.name = q->name;
    rule_change(c, &op);
}

void hk_grpc_delete_rule(hk_grpc_call *c)
{
    const Hakgal__V2__DeleteRuleRequest *q = (void *)c->req;
    hk_svc_rule_op op;
    memset(&op, 0, sizeof op);
    if (!name_ok(c, q->name) || !rule_dbs(c, &op.d)) return;
    op.verb = HK_SVC_RULE_DELETE;
    op.name = q->name;
    rule_change(c, &op);
}

void hk_grpc_reason(hk_grpc_call *c)
{
    hk_svc_reason r;
    memset(&r, 0, sizeof r);
    if (!rule_dbs(c, &r.d)) return;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_server_write_sync(c->srv, hk_svc_reason_apply, &r,
                                     c->who.name, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        return;
    }
    Hakgal__V2__ReasonResponse a = HAKGAL__V2__REASON_RESPONSE__INIT;
    a.derived = r.res.derived;
    a.rules = r.res.rules;
    a.strata = r.res.strata;
    a.rounds = r.res.rounds;
    hk_grpc_reply(c, &a.base);
}

/* ==== Reads ==== */

/* A string member of a service JSON object ("" when absent). */
static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void hk_grpc_list_rules(hk_grpc_call *c)
{
    hkr_dbs d;
    if (!rule_dbs(c, &d)) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_rules_list_json(t, &d, &b, &err);
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
        hk_buf_free(&b);
        return;
    }
    /* the service's rendering, as REST sends it, becomes the message */
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    hk_buf_free(&b);
    json_t *arr = json_object_get(j, "rules");
    size_t n = json_array_size(arr);
    Hakgal__V2__Rule *rv = n ? hk_calloc(n, sizeof *rv) : NULL;
    Hakgal__V2__Rule **rp = n ? hk_calloc(n, sizeof *rp) : NULL;
    if (!j || (n && (!rv || !rp))) {
        hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                       NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(arr, i);
            hakgal__v2__rule__init(&rv[i]);
            rv[i].name = (char *)jstr(o, "name");
            rv[i].version =
                (uint32_t)json_integer_value(json_object_get(o, "version"));
            rv[i].enabled = json_is_true(json_object_get(o, "enabled"));
            rv[i].created = (char *)jstr(o, "created");
            rv[i].updated = (char *)jstr(o, "updated");
            rv[i].rule = (char *)jstr(o, "rule");
            rp[i] = &rv[i];
        }
        Hakgal__V2__ListRulesResponse a = HAKGAL__V2__LIST_RULES_RESPONSE__INIT;
        a.n_rules = n;
        a.rules = rp;
        a.derived = (uint64_t)json_integer_value(json_object_get(j, "derived"));
        hk_grpc_reply(c, &a.base);
    }
    hk_free(rp);
    hk_free(rv);
    json_decref(j);
}

void hk_grpc_why(hk_grpc_call *c)
{
    const Hakgal__V2__WhyRequest *q = (void *)c->req;
    if (!q->statement || !q->statement[0]) {
        hk_grpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                       "missing statement Pred(arg, ...)", "statement");
        return;
    }
    hkr_dbs d;
    if (!rule_dbs(c, &d)) return;
    hk_txn *t = hk_grpc_read_txn(c);
    if (!t) return;
    hk_error err;
    hk_error_clear(&err);
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_why_json(t, &d, q->statement, &b, &err);
    if (rc == HK_OK && hk_buf_append(&b, "", 1) != HK_OK) {
        rc = hk_error_set(&err, HK_ERR_NOMEM, "out of memory");
    }
    if (rc != HK_OK) {
        hk_grpc_fail(c, &err);
    } else {
        Hakgal__V2__WhyResponse a = HAKGAL__V2__WHY_RESPONSE__INIT;
        a.tree_json = b.data;
        hk_grpc_reply(c, &a.base);
    }
    hk_buf_free(&b);
}
