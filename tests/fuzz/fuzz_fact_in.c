/*
 * fuzz_fact_in.c — libFuzzer target for the service layer's JSON fact
 * input parser (hk_svc_fact_in_parse, src/service/svc_codec.c).
 *
 * Each input is read as JSON (NUL bytes in strings allowed, as a client
 * could send them over MCP) and parsed with every rule set: strict and
 * legacy, with and without a bare statement string, with and without
 * limits. Properties checked beyond the absence of crashes and leaks:
 *   - success and failure are exclusive: a refusal has a fault, a message
 *     and the code it returned; a success has none;
 *   - a success with content holds a statement that hk_statement_validate
 *     accepts and that respects the limits asked for;
 *   - a refusal other than a statement syntax error names its field and
 *     reads 'field "NAME": why' (the body as a whole: "expected ...").
 *
 * Build it as the other targets (tests/fuzz/README.md) from this file and
 * every .c file of src/core, src/store, src/io and src/service, linked
 * with -llmdb -ljansson -lsqlite3 -lcrypto -lpthread -lm; run it with
 * -max_total_time=120 -max_len=4096.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/service.h"

static void check(json_t *v, const hk_svc_fact_in_opts *o)
{
    hk_svc_fact_in in;
    hk_error err;
    hk_err rc = hk_svc_fact_in_parse(v, o, &in, &err);
    if (rc == HK_OK) {
        if (in.fault != HK_SVC_FAULT_NONE) abort();
        if (o->need_statement && !in.has_statement) abort();
        if (in.has_statement) {
            hk_error e2;
            if (hk_statement_validate(&in.st, &e2) != HK_OK) abort();
            if (o->max_args != 0 && in.st.n_args > o->max_args) abort();
        }
        if (in.meta.n_tags > HK_MAX_TAGS) abort();
        if ((in.meta.fields & HK_META_CONTEXT) && in.meta.context_json &&
            strlen(in.meta.context_json) > HK_MAX_CONTEXT_BYTES)
            abort();
    } else {
        if (in.fault == HK_SVC_FAULT_NONE) abort();
        if (err.code != rc || err.message[0] == '\0') abort();
        if (in.fault == HK_SVC_FAULT_VALUE && err.field[0] == '\0') abort();
        if (in.fault == HK_SVC_FAULT_VALUE &&
            strncmp(err.message, "field \"", 7) != 0 &&
            strcmp(err.field, "statement") != 0 &&
            strcmp(err.field, "body") != 0)
            abort();
    }
    hk_svc_fact_in_release(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL) return 0;
    for (int legacy = 0; legacy < 2; legacy++) {
        for (int variant = 0; variant < 3; variant++) {
            hk_svc_fact_in_opts o = {
                .legacy = legacy != 0,
                .allow_string = variant == 1,
                .need_statement = variant != 2,
                .max_statement = variant == 1 ? 64 : 0,
                .max_args = variant == 1 ? 3 : 0,
            };
            check(v, &o);
        }
    }
    json_decref(v);
    return 0;
}
