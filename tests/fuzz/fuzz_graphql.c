/*
 * fuzz_graphql.c — libFuzzer target for the GraphQL parser and validator
 * (hk_gql_parse, hk_gql_prepare; src/graphql).
 *
 * Input: the bytes of a GraphQL document. Properties: neither step
 * crashes or leaks; a refused parse names a line and column >= 1 (or is
 * a limit); a document that parses is answered by hk_gql_prepare either
 * with a prepared request or with a non-empty spec "errors" array whose
 * entries all carry a message; preparing is deterministic (the same
 * verdict twice).
 *
 * Build and run: see tests/fuzz/README.md.
 */
#include <stdlib.h>
#include <string.h>

#include "graphql/graphql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verdict(const char *src, size_t size)
{
    hk_gql_limits lim = {.max_tokens = 4000};
    hk_gql_prepared *p = NULL;
    json_t *resp = NULL;
    hk_err rc = hk_gql_prepare(src, size, NULL, NULL, &lim, &p, &resp);
    if (rc != HK_OK) {
        if (rc != HK_ERR_NOMEM || p || resp) abort();
        return -1;
    }
    if (!p == !resp) abort(); /* exactly one of the two */
    int v = p ? 1 : 0;
    if (resp) {
        json_t *errs = json_object_get(resp, "errors");
        if (!json_is_array(errs) || json_array_size(errs) == 0) abort();
        size_t i;
        json_t *e;
        json_array_foreach(errs, i, e)
        {
            if (!json_is_string(json_object_get(e, "message"))) abort();
        }
        json_decref(resp);
    }
    hk_gql_prepared_free(p);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    hk_gql_doc *doc = NULL;
    hk_error err;
    hk_err rc = hk_gql_parse(src, size, 4000, &doc, &err);
    if (rc == HK_OK) {
        if (!doc) abort();
        hk_gql_doc_free(doc);
    } else {
        if (doc || err.code != rc) abort();
        if (rc == HK_ERR_INVALID && (err.line < 1 || err.column < 1)) abort();
    }
    int a = verdict(src, size);
    int b = verdict(src, size);
    if (a >= 0 && b >= 0 && a != b) abort();
    return 0;
}
