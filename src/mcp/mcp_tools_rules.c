/*
 * mcp_tools_rules.c — the rule tools add_rule, list_rules and
 * explain_fact over the service operations of svc_rules.h, on the rule
 * module that hk_svc_store_open attached to the adapter's KB.
 */
#include <string.h>

#include "core/buf.h"
#include "mcp/mcp_tools.h"
#include "service/svc_rules.h"

/* The KB's rule databases; HK_ERR_STATE when the module is absent. */
static hk_err rule_dbs(mcp_call *c, hkr_dbs *d, hk_error *err)
{
    if (hkr_dbs_of(c->srv->env.store, d, NULL) == HK_OK) return HK_OK;
    return hk_error_set(err, HK_ERR_STATE,
                        "rules are not available on this KB (opened "
                        "read-only without rules)");
}

/* Parses the JSON text of b into *out. */
static hk_err to_json(const hk_buf *b, json_t **out, hk_error *err)
{
    *out = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

hk_err mcp_t_add_rule(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_rule_op op;
    memset(&op, 0, sizeof op);
    hk_err rc = rule_dbs(c, &op.d, err);
    if (rc) return rc;
    op.verb = HK_SVC_RULE_ADD;
    op.text = mcp_arg_str(c, "rule", NULL);
    op.name = mcp_arg_str(c, "name", NULL);
    rc = c->srv->env.write(c->srv->env.write_ud, hk_svc_rule_apply, &op,
                           c->actor, err);
    hk_buf b = HK_BUF_INIT;
    if (rc == HK_OK) rc = hk_svc_rule_op_write_json(&op, &b);
    if (rc == HK_OK) rc = to_json(&b, out, err);
    hk_buf_free(&b);
    hk_svc_rule_op_free(&op);
    return rc;
}

hk_err mcp_t_list_rules(mcp_call *c, json_t **out, hk_error *err)
{
    hkr_dbs d;
    hk_err rc = rule_dbs(c, &d, err);
    if (rc) return rc;
    hk_txn *t = NULL;
    hk_buf b = HK_BUF_INIT;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_rules_list_json(t, &d, &b, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK) rc = to_json(&b, out, err);
    hk_buf_free(&b);
    return rc;
}

hk_err mcp_t_explain_fact(mcp_call *c, json_t **out, hk_error *err)
{
    hkr_dbs d;
    bool have = hkr_dbs_of(c->srv->env.store, &d, NULL) == HK_OK;
    hk_txn *t = NULL;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = hk_svc_why_json(t, have ? &d : NULL,
                             mcp_arg_str(c, "statement", ""), &b, err);
    if (t) hk_txn_abort(t);
    json_t *proof = NULL;
    if (rc == HK_OK) rc = to_json(&b, &proof, err);
    hk_buf_free(&b);
    if (rc) return rc;
    json_t *st = json_object_get(proof, "statement");
    *out = json_pack("{s:O, s:O, s:o}", "statement", st, "derived",
                     json_object_get(proof, "derived"), "proof", proof);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}
