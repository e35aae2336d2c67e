/*
 * mcp_fixtures_mrtr.c — conformance fixtures for the multi round-trip
 * requests of 2026-07-28 (`input_required` results) and the client
 * capability checks, plus mcp_fixture_ask which the 2025-11-25 fixtures
 * share.
 *
 * A round trip is stateless: the server answers a call with
 * {"resultType": "input_required", "inputRequests": {key: {method,
 * params}}, "requestState": s} and the client retries the same call with
 * "inputResponses": {key: result} and the same requestState. The state is
 * integrity-protected: "<payload>.<hex HMAC-SHA256(server key, payload)>"
 * with a random key made when the server starts, so a client cannot forge
 * or alter it; a state that fails the check is rejected with -32602.
 * Missing responses are asked for again (a new input_required result);
 * responses that are not result objects are -32602.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/sha256.h"
#include "mcp/mcp_fixtures.h"

/* ==== Asking the client ==== */

static hk_err missing_capability(mcp_call *c, const char *cap, hk_error *err)
{
    c->rpc_error = HK_MCP_MISSING_CLIENT_CAPABILITY;
    c->rpc_error_data = json_pack("{s:{s:{}}}", "requiredCapabilities", cap);
    hk_error_set(err, HK_ERR_STATE, "Missing required client capability: %s",
                 cap);
    return HK_OK;
}

hk_err mcp_fixture_ask(mcp_call *c, const char *cap, const char *method,
                       json_t *params, json_t **result, hk_error *err)
{
    *result = NULL;
    if (!json_object_get(c->client_caps, cap)) {
        if (c->stateless) return missing_capability(c, cap, err);
        return hk_error_set(err, HK_ERR_STATE,
                            "the client did not declare the %s capability",
                            cap);
    }
    if (c->stateless) {
        json_t *have = json_object_get(c->input_responses, cap);
        if (json_is_object(have)) {
            *result = json_incref(have);
            return HK_OK;
        }
        c->result =
            json_pack("{s:s, s:{s:{s:s, s:O}}}", "resultType", "input_required",
                      "inputRequests", cap, "method", method, "params", params);
        return c->result ? HK_OK : HK_ERR_NOMEM;
    }
    if (!c->io->client_request)
        return hk_error_set(
            err, HK_ERR_UNSUPPORTED,
            "this transport cannot send requests to the client");
    json_t *msg = NULL;
    hk_err rc = c->io->client_request(c->io->ud, method, params, &msg, err);
    if (rc != HK_OK) return rc;
    json_t *res = json_object_get(msg, "result");
    if (!json_is_object(res)) {
        const char *m = json_string_value(
            json_object_get(json_object_get(msg, "error"), "message"));
        rc = hk_error_set(err, HK_ERR_STATE,
                          "the client answered %s with an "
                          "error: %s",
                          method, m ? m : "unknown");
        json_decref(msg);
        return rc;
    }
    *result = json_incref(res);
    json_decref(msg);
    return HK_OK;
}

/* ==== requestState ==== */

static unsigned char state_key[32]; /* HMAC key, set once */
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_key_init(void)
{
    if (RAND_bytes(state_key, sizeof state_key) != 1) {
        int64_t t = hk_now_us();
        memcpy(state_key, &t, sizeof t);
    }
}

static void state_mac(const char *payload, char hex[65])
{
    unsigned char mac[32];
    unsigned int len = 0;
    pthread_once(&state_once, state_key_init);
    HMAC(EVP_sha256(), state_key, sizeof state_key,
         (const unsigned char *)payload, strlen(payload), mac, &len);
    hk_hex(mac, 32, hex);
}

static json_t *state_make(const char *payload)
{
    char hex[65], buf[256];
    state_mac(payload, hex);
    snprintf(buf, sizeof buf, "%s.%s", payload, hex);
    return json_string(buf);
}

/* 1: valid state with this payload; 0: absent; -1: forged or altered. */
static int state_check(const mcp_call *c, const char *payload)
{
    if (!c->request_state) return 0;
    const char *dot = strrchr(c->request_state, '.');
    if (!dot) return -1;
    char got[200];
    size_t pl = (size_t)(dot - c->request_state);
    if (pl >= sizeof got) return -1;
    memcpy(got, c->request_state, pl);
    got[pl] = '\0';
    char hex[65];
    state_mac(got, hex);
    if (strlen(dot + 1) != 64 || CRYPTO_memcmp(hex, dot + 1, 64) != 0)
        return -1;
    return strcmp(got, payload) == 0 ? 1 : -1;
}

/* ==== Rounds ==== */

typedef struct mrtr_input {
    const char *key;    /* inputRequests key */
    const char *cap;    /* client capability it needs */
    const char *method; /* request method */
    const char *params; /* params as JSON text */
} mrtr_input;

#define ELICIT_NAME(msg)                                                       \
    "{\"message\":\"" msg "\",\"requestedSchema\":{\"type\":\"object\","       \
    "\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}" \
    "}"

/* Checks inputResponses for the wanted inputs. Returns HK_OK with
 * *complete set when all are there; otherwise leaves an input_required
 * result (with state_payload as requestState when given) in c->result or
 * an rpc error in c->rpc_error. */
static hk_err mrtr_round(mcp_call *c, const mrtr_input *in, size_t n,
                         const char *state_payload, bool *complete,
                         hk_error *err)
{
    *complete = false;
    json_t *ir = c->input_responses;
    if (ir && !json_is_null(ir) && !json_is_object(ir)) {
        c->rpc_error = HK_MCP_INVALID_PARAMS;
        hk_error_set(err, HK_ERR_INVALID,
                     "Invalid params: inputResponses must be an object");
        return HK_OK;
    }
    json_t *reqs = json_object();
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        json_t *have = json_object_get(ir, in[i].key);
        if (have && !json_is_object(have)) {
            json_decref(reqs);
            c->rpc_error = HK_MCP_INVALID_PARAMS;
            hk_error_set(err, HK_ERR_INVALID,
                         "Invalid params: inputResponses.%s must be a result "
                         "object",
                         in[i].key);
            return HK_OK;
        }
        if (have) continue;
        all = false;
        if (!json_object_get(c->client_caps, in[i].cap)) continue;
        json_object_set_new(reqs, in[i].key,
                            json_pack("{s:s, s:o}", "method", in[i].method,
                                      "params",
                                      json_loads(in[i].params, 0, NULL)));
    }
    if (all) {
        json_decref(reqs);
        *complete = true;
        return HK_OK;
    }
    if (json_object_size(reqs) == 0) {
        json_decref(reqs);
        return missing_capability(c, in[0].cap, err);
    }
    c->result = json_pack("{s:s, s:o}", "resultType", "input_required",
                          "inputRequests", reqs);
    if (c->result && state_payload)
        json_object_set_new(c->result, "requestState",
                            state_make(state_payload));
    return c->result ? HK_OK : HK_ERR_NOMEM;
}

static hk_err text_result(mcp_call *c, const char *text)
{
    return mcp_fixture_content(
        c, json_pack("[{s:s, s:s}]", "type", "text", "text", text));
}

static const char *elicited(const mcp_call *c, const char *key,
                            const char *field)
{
    json_t *r = json_object_get(c->input_responses, key);
    return json_string_value(
        json_object_get(json_object_get(r, "content"), field));
}

static hk_err reject_state(mcp_call *c, hk_error *err)
{
    c->rpc_error = HK_MCP_INVALID_PARAMS;
    hk_error_set(err, HK_ERR_INVALID,
                 "Invalid params: requestState failed its integrity check");
    return HK_OK;
}

/* ==== Tools ==== */

hk_err mcp_fx_missing_capability(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    if (!json_object_get(c->client_caps, "sampling"))
        return missing_capability(c, "sampling", err);
    return text_result(c, "The client declared the sampling capability.");
}

hk_err mcp_fx_logging_tool(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    (void)err;
    mcp_log(c, 1, "conformance-fixtures", "Tool execution started");
    mcp_log(c, 1, "conformance-fixtures", "Tool execution completed");
    return text_result(c, "Tool with logging executed successfully");
}

hk_err mcp_fx_streaming_elicitation(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {{"user_input", "elicitation",
                                     "elicitation/create",
                                     ELICIT_NAME("Please enter your name")}};
    bool done = false;
    hk_err rc = mrtr_round(c, in, 1, NULL, &done, err);
    if (rc != HK_OK || !done) return rc;
    return text_result(c, "Elicitation received");
}

hk_err mcp_fx_mrtr_elicitation(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {{"user_name", "elicitation",
                                     "elicitation/create",
                                     ELICIT_NAME("What is your name?")}};
    bool done = false;
    hk_err rc = mrtr_round(c, in, 1, NULL, &done, err);
    if (rc != HK_OK || !done) return rc;
    const char *name = elicited(c, "user_name", "name");
    char text[600];
    snprintf(text, sizeof text, "Hello, %.500s!", name ? name : "stranger");
    return text_result(c, text);
}

hk_err mcp_fx_mrtr_sampling(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"capital_question", "sampling", "sampling/createMessage",
         "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
         "\"text\":\"What is the capital of France?\"}}],\"maxTokens\":100}"}};
    bool done = false;
    hk_err rc = mrtr_round(c, in, 1, NULL, &done, err);
    if (rc != HK_OK || !done) return rc;
    json_t *r = json_object_get(c->input_responses, "capital_question");
    const char *t = json_string_value(
        json_object_get(json_object_get(r, "content"), "text"));
    char text[600];
    snprintf(text, sizeof text, "Sampling response: %.500s", t ? t : "");
    return text_result(c, text);
}

hk_err mcp_fx_mrtr_list_roots(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"client_roots", "roots", "roots/list", "{}"}};
    bool done = false;
    hk_err rc = mrtr_round(c, in, 1, NULL, &done, err);
    if (rc != HK_OK || !done) return rc;
    json_t *roots = json_object_get(
        json_object_get(c->input_responses, "client_roots"), "roots");
    hk_buf b = HK_BUF_INIT;
    hk_buf_appendf(&b, "Client roots (%zu):", json_array_size(roots));
    size_t i;
    json_t *r;
    json_array_foreach(roots, i, r)
    {
        if (i >= 50) break;
        hk_buf_appendf(&b, " %s",
                       json_string_value(json_object_get(r, "uri")) ?: "?");
    }
    rc = text_result(c, b.data ? b.data : "");
    hk_buf_free(&b);
    return rc;
}

hk_err mcp_fx_mrtr_request_state(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"confirm", "elicitation", "elicitation/create",
         "{\"message\":\"Please confirm\",\"requestedSchema\":{\"type\":"
         "\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},"
         "\"required\":[\"ok\"]}}"}};
    int st = state_check(c, "request_state:1");
    if (st < 0) return reject_state(c, err);
    if (st == 0) {
        /* first round (or a retry without state): ask again */
        json_t *saved = c->input_responses;
        c->input_responses = NULL;
        bool done = false;
        hk_err rc = mrtr_round(c, in, 1, "request_state:1", &done, err);
        c->input_responses = saved;
        return rc;
    }
    bool done = false;
    hk_err rc = mrtr_round(c, in, 1, "request_state:1", &done, err);
    if (rc != HK_OK || !done) return rc;
    return text_result(c, "Confirmed: state-ok");
}

hk_err mcp_fx_mrtr_multiple(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"user_name", "elicitation", "elicitation/create",
         ELICIT_NAME("What is your name?")},
        {"greeting", "sampling", "sampling/createMessage",
         "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
         "\"text\":\"Generate a greeting\"}}],\"maxTokens\":50}"},
        {"client_roots", "roots", "roots/list", "{}"}};
    if (state_check(c, "multiple:1") < 0) return reject_state(c, err);
    bool done = false;
    hk_err rc = mrtr_round(c, in, 3, "multiple:1", &done, err);
    if (rc != HK_OK || !done) return rc;
    const char *name = elicited(c, "user_name", "name");
    char text[600];
    snprintf(text, sizeof text, "Received all inputs for %.400s",
             name ? name : "?");
    return text_result(c, text);
}

hk_err mcp_fx_mrtr_multi_round(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input step1[] = {
        {"step1", "elicitation", "elicitation/create",
         ELICIT_NAME("Step 1: What is your name?")}};
    static const mrtr_input step2[] = {
        {"step2", "elicitation", "elicitation/create",
         "{\"message\":\"Step 2: What is your favorite color?\","
         "\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"color\":"
         "{\"type\":\"string\"}},\"required\":[\"color\"]}}"}};
    bool done = false;
    int r1 = state_check(c, "multi_round:1");
    int r2 = state_check(c, "multi_round:2");
    if (r1 < 0 && r2 < 0) return reject_state(c, err);
    if (r2 == 1) {
        hk_err rc = mrtr_round(c, step2, 1, "multi_round:2", &done, err);
        if (rc != HK_OK || !done) return rc;
        const char *color = elicited(c, "step2", "color");
        char text[600];
        snprintf(text, sizeof text, "Completed both rounds; color %.400s",
                 color ? color : "?");
        return text_result(c, text);
    }
    if (r1 == 1) {
        hk_err rc = mrtr_round(c, step1, 1, "multi_round:1", &done, err);
        if (rc != HK_OK || !done) return rc;
        /* round 2: ask the next question with a new state */
        json_t *saved = c->input_responses;
        c->input_responses = NULL;
        rc = mrtr_round(c, step2, 1, "multi_round:2", &done, err);
        c->input_responses = saved;
        return rc;
    }
    json_t *saved = c->input_responses;
    c->input_responses = NULL;
    hk_err rc = mrtr_round(c, step1, 1, "multi_round:1", &done, err);
    c->input_responses = saved;
    return rc;
}

hk_err mcp_fx_mrtr_tampered(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"confirm", "elicitation", "elicitation/create",
         "{\"message\":\"Please confirm\",\"requestedSchema\":{\"type\":"
         "\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},"
         "\"required\":[\"ok\"]}}"}};
    int st = state_check(c, "tampered:1");
    if (st < 0) return reject_state(c, err);
    bool done = false;
    if (st == 0) {
        json_t *saved = c->input_responses;
        c->input_responses = NULL;
        hk_err rc = mrtr_round(c, in, 1, "tampered:1", &done, err);
        c->input_responses = saved;
        return rc;
    }
    hk_err rc = mrtr_round(c, in, 1, "tampered:1", &done, err);
    if (rc != HK_OK || !done) return rc;
    return text_result(c, "State verified");
}

hk_err mcp_fx_mrtr_capabilities(mcp_call *c, json_t **out, hk_error *err)
{
    (void)out;
    static const mrtr_input in[] = {
        {"user_name", "elicitation", "elicitation/create",
         ELICIT_NAME("What is your name?")},
        {"summary", "sampling", "sampling/createMessage",
         "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\","
         "\"text\":\"Summarise the request\"}}],\"maxTokens\":50}"}};
    /* ask only for what the client declared */
    mrtr_input want[2];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(c->client_caps, in[i].cap)) want[n++] = in[i];
    if (n == 0)
        return text_result(c, "The client declared no input capability");
    bool done = false;
    hk_err rc = mrtr_round(c, want, n, NULL, &done, err);
    if (rc != HK_OK || !done) return rc;
    return text_result(c, "Received the declared inputs");
}
