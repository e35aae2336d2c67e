/*
 * cmd_graphql.c — `hakgal graphql DOCUMENT`: runs one GraphQL request
 * (src/graphql) on the local KB and prints the response document, the
 * same one POST /graphql answers. Queries run in a read transaction;
 * mutations in one write transaction through hk_svc_write, committed
 * durably. `--schema` prints the SDL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "graphql/graphql.h"
#include "service/service.h"
#include "vector/vector.h"

/* The mutation as an hk_svc_apply_fn: may run twice, keeps the last. */
typedef struct gql_job {
    hk_gql_prepared *p; /* the request */
    hk_gql_env env;     /* limits (txn set per run) */
    json_t *response;   /* the last run's response */
} gql_job;

static hk_err gql_apply(hk_txn *t, void *arg, hk_error *err)
{
    gql_job *j = arg;
    json_decref(j->response);
    j->response = NULL;
    j->env.txn = t;
    return hk_gql_execute(j->p, &j->env, &j->response, err);
}

int hk_cmd_graphql(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal graphql [--data DIR] [--variables JSON]\n"
        "                      [--operation NAME] [--actor NAME] DOCUMENT\n"
        "       hakgal graphql --schema\n\n"
        "Runs a GraphQL query or mutation on the knowledge base and prints\n"
        "the response ({\"data\": ..., \"errors\": [...]}), as POST /graphql\n"
        "answers it. DOCUMENT '-' reads it from standard input. --schema\n"
        "prints the schema (SDL). Exit code 2 when the response has errors.\n";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"variables", required_argument, NULL, 'v'},
        {"operation", required_argument, NULL, 'o'},
        {"actor", required_argument, NULL, 'a'},
        {"schema", no_argument, NULL, 's'},
        {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "graphql", usage);
    const char *vars_text = NULL, *op_name = NULL, *actor = "cli";
    bool schema = false;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'v') vars_text = optarg;
        if (o == 'o') op_name = optarg;
        if (o == 's') schema = true;
        if (o == 'a') {
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_USAGE;
            actor = optarg;
        }
    }
    if (schema) {
        fputs(hk_gql_sdl(), stdout);
        return HK_EXIT_OK;
    }
    if (optind + 1 != argc)
        return cli_usage_error(&c, "give one GraphQL document");
    hk_buf doc = HK_BUF_INIT;
    const char *text = argv[optind];
    size_t len = strlen(text);
    if (!strcmp(text, "-")) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            if (hk_buf_append(&doc, chunk, n) != HK_OK) {
                hk_buf_free(&doc);
                cli_msg(&c, "out of memory");
                return HK_EXIT_IO;
            }
        text = doc.data ? doc.data : "";
        len = doc.len;
    }
    json_t *vars = NULL;
    if (vars_text) {
        json_error_t je;
        vars = json_loads(vars_text, 0, &je);
        if (!json_is_object(vars)) {
            json_decref(vars);
            hk_buf_free(&doc);
            return cli_usage_error(&c, "--variables is not a JSON object");
        }
    }
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    hk_err rc = hk_gql_prepare(text, len, op_name, vars, NULL, &p, &resp);
    json_decref(vars);
    hk_buf_free(&doc);
    hk_error e;
    hk_error_clear(&e);
    int exit_code = HK_EXIT_OK;
    if (rc != HK_OK) {
        hk_error_set(&e, rc, "out of memory");
        return cli_fail(&c, rc, &e);
    }
    if (p) {
        hk_store *s = NULL;
        bool write = hk_gql_prepared_mutation(p);
        exit_code = cli_open(&c, !write, false, &s);
        if (exit_code != HK_EXIT_OK) {
            hk_gql_prepared_free(p);
            return exit_code;
        }
        /* the vector module: the one cli_open attached for a write, else
         * attached here (none when the KB never had a vector space) */
        hkv_store *vs = cli_vstore(s);
        if (!vs && hkv_store_attach(s, &vs, &e) != HK_OK) vs = NULL;
        gql_job j = {.p = p,
                     .env = {.store = s,
                             .vs = vs,
                             .role = HK_ROLE_ADMIN, /* the local KB's owner */
                             .actor = actor,
                             .default_limit = 100,
                             .max_limit = 100000}};
        if (write) {
            rc = hk_svc_write(s, actor, gql_apply, &j, &e);
        } else {
            hk_txn *t = NULL;
            rc = hk_txn_begin(s, false, &t, &e);
            if (rc == HK_OK) rc = gql_apply(t, &j, &e);
            if (t) hk_txn_abort(t);
        }
        if (vs != cli_vstore(s)) hkv_store_detach(vs);
        cli_close(s);
        hk_gql_prepared_free(p);
        resp = j.response;
        if (rc != HK_OK) {
            json_decref(resp);
            return cli_fail(&c, rc, &e);
        }
    }
    if (json_array_size(json_object_get(resp, "errors")) > 0)
        exit_code = HK_EXIT_INVALID;
    char *out =
        hk_json_dumps(resp, JSON_COMPACT | (c.json ? 0 : JSON_INDENT(2)));
    json_decref(resp);
    if (!out) {
        cli_msg(&c, "out of memory");
        return HK_EXIT_IO;
    }
    puts(out);
    free(out);
    return exit_code;
}
