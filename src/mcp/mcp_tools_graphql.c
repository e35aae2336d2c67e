/*
 * mcp_tools_graphql.c — the MCP tool `graphql`: one GraphQL query
 * (src/graphql) on the KB's read transaction, answered with the response
 * document POST /graphql would give ({"data", "errors"}). Mutations are
 * refused here (the write tools carry their own authorization); GraphQL
 * mutations go through POST /graphql or `hakgal graphql`.
 */
#include "graphql/graphql.h"
#include "mcp/mcp_int.h"
#include "mcp/mcp_tools.h"

hk_err mcp_t_graphql(mcp_call *c, json_t **out, hk_error *err)
{
    json_t *q = json_object_get(c->args, "query");
    json_t *vars = json_object_get(c->args, "variables");
    const char *op =
        json_string_value(json_object_get(c->args, "operation_name"));
    if (!json_is_string(q))
        return hk_error_set(err, HK_ERR_INVALID, "query is a GraphQL document");
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    hk_err rc = hk_gql_prepare(json_string_value(q), json_string_length(q), op,
                               vars, NULL, &p, &resp);
    if (rc != HK_OK) return hk_error_set(err, rc, "out of memory");
    if (p && hk_gql_prepared_mutation(p)) {
        hk_gql_prepared_free(p);
        return hk_error_set(err, HK_ERR_INVALID,
                            "mutations are not run by this tool: use add_fact, "
                            "update_fact, delete_fact, or POST /graphql");
    }
    if (p) {
        hk_txn *t = NULL;
        rc = mcp_read_begin(c, &t, err);
        if (rc == HK_OK) {
            hk_gql_env env = {.txn = t,
                              .store = mcp_store(c),
                              .default_limit = 100,
                              .max_limit = 10000};
            rc = hk_gql_execute(p, &env, &resp, err);
        }
        if (t) hk_txn_abort(t);
        hk_gql_prepared_free(p);
        if (rc != HK_OK) return rc;
    }
    *out = resp;
    return HK_OK;
}
