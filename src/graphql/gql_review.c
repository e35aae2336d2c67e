/*
 * gql_review.c — the resolvers of the review queue: Query.review and
 * Mutation.approveProposal, rejectProposal. They call the functions of
 * the REST review routes (src/server/routes_llm.c): hk_llm_review_list
 * with hk_svc_proposal_json for the list, hk_llm_decide_apply for a
 * decision, which needs the reviewer role as POST /v2/review/{id}/...
 * does (the caller's role is env->role).
 */
#include <stdio.h>
#include <string.h>

#include "graphql/gql_int.h"
#include "service/svc_llm.h"

static json_t *nomem(gql_ctx *c)
{
    hk_error e;
    hk_error_set(&e, HK_ERR_NOMEM, "out of memory");
    return gql_error_hk(c, &e);
}

json_t *gql_r_review(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    if (!c->env->store) return gql_error(c, "no review queue here");
    const char *st = json_string_value(json_object_get(args, "status"));
    bool any = st && !strcmp(st, "all");
    hk_llm_status status = HK_LLM_PENDING;
    if (st && !any && !hk_llm_status_parse(st, &status))
        return gql_error(c, "status is pending, approved, rejected or all");
    uint64_t after = 0;
    const char *a = json_string_value(json_object_get(args, "after"));
    if (a && !hk_svc_parse_positive(a, &after))
        return gql_error(c, "after is a proposal id");
    json_t *first = json_object_get(args, "first");
    size_t max = c->env->max_limit ? c->env->max_limit : 1000;
    size_t limit = c->env->default_limit ? c->env->default_limit : 100;
    if (limit > max) limit = max;
    if (json_is_integer(first)) {
        json_int_t n = json_integer_value(first);
        if (n < 1 || (size_t)n > max)
            return gql_error(c, "first must be between 1 and %zu", max);
        limit = (size_t)n;
    }
    hk_llm_proposal *v = NULL;
    size_t n = 0;
    hk_error err;
    if (hk_llm_review_list(c->env->store, c->env->txn, any, status, after,
                           limit, &v, &n, &err) != HK_OK)
        return gql_error_hk(c, &err);
    json_t *edges = json_array(), *nodes = json_array();
    bool ok = edges && nodes;
    for (size_t i = 0; ok && i < n; i++) {
        char cur[32];
        snprintf(cur, sizeof cur, "%llu", (unsigned long long)v[i].id);
        json_t *node = hk_svc_proposal_json(&v[i]);
        ok = node && !json_array_append(nodes, node) &&
             !json_array_append_new(
                 edges, json_pack("{s:s,s:o}", "cursor", cur, "node", node));
    }
    char end[32] = "";
    if (n == limit && n > 0)
        snprintf(end, sizeof end, "%llu", (unsigned long long)v[n - 1].id);
    hk_llm_proposals_free(v, n);
    json_t *out =
        ok ? json_pack("{s:o,s:o,s:{s:b,s:o},s:I}", "edges", edges, "nodes",
                       nodes, "pageInfo", "hasNextPage", end[0] != '\0',
                       "endCursor", end[0] ? json_string(end) : json_null(),
                       "count", (json_int_t)n)
           : NULL;
    if (!ok) {
        json_decref(edges);
        json_decref(nodes);
    }
    return out ? out : nomem(c);
}

static json_t *decide(gql_ctx *c, json_t *args, bool approve)
{
    if (!c->mutation) return gql_error(c, "writes run only in mutations");
    if (c->env->role < HK_ROLE_REVIEW)
        return gql_error_code(c, "FORBIDDEN",
                              "deciding on proposals needs the reviewer role");
    if (!c->env->store) return gql_error(c, "no review queue here");
    hk_llm_decide_arg a;
    memset(&a, 0, sizeof a);
    if (!hk_svc_parse_positive(json_string_value(json_object_get(args, "id")),
                               &a.id))
        return gql_error(c, "a proposal id is a whole number >= 1");
    const char *who = c->env->actor ? c->env->actor : "graphql";
    a.s = c->env->store;
    a.approve = approve;
    a.reviewer = who;
    a.note = json_string_value(json_object_get(args, "note"));
    a.edit =
        approve ? json_string_value(json_object_get(args, "statement")) : NULL;
    hk_error err;
    hk_error_clear(&err);
    if (hk_llm_decide_apply(c->env->txn, &a, &err) != HK_OK)
        return gql_error_hk(c, &err);
    char id[32], fact[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)a.id);
    snprintf(fact, sizeof fact, "%llu", (unsigned long long)a.fact);
    json_t *o =
        json_pack("{s:s,s:s,s:s?,s:b,s:s}", "id", id, "status",
                  approve ? "approved" : "rejected", "fact",
                  a.fact ? fact : NULL, "created", a.created, "reviewer", who);
    return o ? o : nomem(c);
}

json_t *gql_r_approve(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return decide(c, args, true);
}

json_t *gql_r_reject(gql_ctx *c, json_t *parent, json_t *args)
{
    (void)parent;
    return decide(c, args, false);
}
