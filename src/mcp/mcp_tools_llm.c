/*
 * mcp_tools_llm.c — the grounded-model tools ask_knowledge,
 * extract_facts, review_list and review_decide over the service
 * operations of svc_llm.h. The model is the process's shared client
 * (hk_llm_shared_client: OPENAI_BASE_URL, HAKGAL_LLM_MODEL,
 * $HAKGAL_LLM_CONFIG).
 *
 * review_decide needs a token whose role is reviewer or admin among the
 * server's tokens (env.tokens): a write token may propose facts
 * (extract_facts) but never approve them. Proposals reach the facts only
 * through review_decide.
 */
#include <string.h>

#include "core/mem.h"
#include "mcp/mcp_tools.h"
#include "service/svc_llm.h"

/* The read transaction's store, with the model switch read. */
static hk_err models_on(mcp_call *c, bool *on, hk_error *err)
{
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_llm_models_enabled(mcp_store(c), t, on, err);
    if (t) hk_txn_abort(t);
    return rc;
}

hk_err mcp_t_ask_knowledge(mcp_call *c, json_t **out, hk_error *err)
{
    const char *q = mcp_arg_str(c, "question", "");
    bool on = true;
    hk_err rc = models_on(c, &on, err);
    if (rc) return rc;
    hk_svc_ask_req req;
    memset(&req, 0, sizeof req);
    req.s = mcp_store(c);
    req.question = q;
    req.budget_tokens = (unsigned)mcp_arg_int(c, "budget_tokens", 2000);
    req.search = mcp_arg_str(c, "search", "hybrid");
    req.vs = c->srv->env.vstore_slot ? *c->srv->env.vstore_slot : NULL;
    if (on && !(req.client = hk_llm_shared_client(err))) return err->code;
    hk_svc_ask_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_ask(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK && !(*out = hk_svc_ask_json(q, &res)))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_ask_res_free(&res);
    return rc;
}

hk_err mcp_t_extract_facts(mcp_call *c, json_t **out, hk_error *err)
{
    const char *text = mcp_arg_str(c, "text", "");
    bool on = true;
    hk_err rc = models_on(c, &on, err);
    if (rc) return rc;
    if (!on)
        return hk_error_set(err, HK_ERR_STATE,
                            "model access is switched off by an "
                            "administrator");
    hk_svc_extract_req req = {mcp_store(c), hk_llm_shared_client(err), text,
                              strlen(text), mcp_arg_str(c, "source", NULL)};
    if (!req.client) return err->code;
    hk_svc_extract_res res;
    if ((rc = hk_svc_extract(NULL, &req, &res, err))) return rc;
    if (res.n) {
        hk_llm_enqueue_arg a = hk_svc_extract_enqueue_arg(mcp_store(c), &res);
        rc = c->srv->env.write(c->srv->env.write_ud, hk_llm_enqueue_apply, &a,
                               c->actor, err);
    }
    if (rc == HK_OK && !(*out = hk_svc_extract_json(&res)))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_svc_extract_res_free(&res);
    return rc;
}

hk_err mcp_t_review_list(mcp_call *c, json_t **out, hk_error *err)
{
    const char *st = mcp_arg_str(c, "status", "pending");
    hk_llm_status status = HK_LLM_PENDING;
    bool any = !strcmp(st, "all");
    if (!any && !hk_llm_status_parse(st, &status))
        return hk_error_set(err, HK_ERR_INVALID,
                            "status is pending, approved, rejected or all");
    hk_llm_proposal *v = NULL;
    size_t n = 0;
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK)
        rc = hk_llm_review_list(
            mcp_store(c), t, any, status, (uint64_t)mcp_arg_int(c, "after", 0),
            (size_t)mcp_arg_int(c, "limit", 100), &v, &n, err);
    if (t) hk_txn_abort(t);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, hk_svc_proposal_json(&v[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    hk_llm_proposals_free(v, n);
    *out =
        arr ? json_pack("{s:o, s:I}", "proposals", arr, "count", (json_int_t)n)
            : NULL;
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

/* True when the authorised actor is a token of role reviewer or admin. */
static bool is_reviewer(const mcp_call *c)
{
    const hk_mcp_env *env = &c->srv->env;
    for (size_t i = 0; c->actor && i < env->n_tokens; i++)
        if (!strcmp(env->tokens[i].name, c->actor))
            return env->tokens[i].role >= HK_ROLE_REVIEW;
    /* over HTTP: the Authorization bearer, whose role the server knows */
    if (c->actor && c->io->bearer_actor &&
        !strcmp(c->actor, c->io->bearer_actor))
        return c->io->bearer_role >= (int)HK_ROLE_REVIEW;
    return false;
}

hk_err mcp_t_review_decide(mcp_call *c, json_t **out, hk_error *err)
{
    if (!is_reviewer(c))
        return hk_error_set(err, HK_ERR_STATE,
                            "deciding on proposals needs a token with role "
                            "reviewer or admin (token '%s' is not one)",
                            c->actor ? c->actor : "-");
    const char *d = mcp_arg_str(c, "decision", "");
    hk_llm_decide_arg a;
    memset(&a, 0, sizeof a);
    a.s = mcp_store(c);
    a.id = (uint64_t)mcp_arg_int(c, "id", 0);
    a.approve = !strcmp(d, "approve");
    if (!a.approve && strcmp(d, "reject"))
        return hk_error_set(err, HK_ERR_INVALID,
                            "decision is approve or reject");
    a.edit = a.approve ? mcp_arg_str(c, "statement", NULL) : NULL;
    a.note = mcp_arg_str(c, "note", NULL);
    a.reviewer = c->actor;
    hk_err rc = c->srv->env.write(c->srv->env.write_ud, hk_llm_decide_apply, &a,
                                  c->actor, err);
    if (rc) return rc;
    *out = json_pack("{s:I, s:s, s:o, s:b, s:s}", "id", (json_int_t)a.id,
                     "status", a.approve ? "approved" : "rejected", "fact",
                     a.fact ? json_integer((json_int_t)a.fact) : json_null(),
                     "created", a.created, "reviewer", c->actor);
    return *out ? HK_OK : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}
