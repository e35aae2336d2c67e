/*
 * llm_config.c — model endpoints: defaults, a config file, the
 * environment and flags (llm.h, "Configuration").
 *
 * The conventional variables of OpenAI clients (OPENAI_BASE_URL,
 * OPENAI_API_KEY) and hakgal's own (HAKGAL_LLM_MODEL, HAKGAL_EMBED_MODEL)
 * describe the endpoint "default"; a config file can name more
 * (endpoint.local.base_url = http://127.0.0.1:8080/v1). Single-threaded:
 * configuration is read once before any client exists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"

#define LINE_MAX_BYTES 4096

static void endpoint_defaults(hk_llm_endpoint *ep, const char *name)
{
    memset(ep, 0, sizeof *ep);
    snprintf(ep->name, sizeof ep->name, "%s", name);
    ep->timeout_ms = 120000;
    ep->connect_ms = 5000;
    ep->retries = 3;
    ep->backoff_ms = 500;
    ep->concurrency = 4;
    ep->queue_max = 64;
    ep->json_schema = true;
}

/* The endpoint called name, created when new; NULL when full. */
static hk_llm_endpoint *endpoint_of(hk_llm_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->ep[i].name, name) == 0) return &cfg->ep[i];
    if (cfg->n >= HK_LLM_ENDPOINTS_MAX) return NULL;
    endpoint_defaults(&cfg->ep[cfg->n], name);
    return &cfg->ep[cfg->n++];
}

static hk_err set_str(char *dst, size_t cap, const char *key, const char *v,
                      hk_error *err)
{
    size_t n = strlen(v);
    if (n >= cap)
        return hk_error_set(err, HK_ERR_INVALID, "%s: longer than %zu bytes",
                            key, cap - 1);
    memcpy(dst, v, n + 1);
    return HK_OK;
}

static hk_err set_uint(unsigned *dst, const char *key, const char *v,
                       unsigned lo, unsigned hi, hk_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi || v[0] == '-')
        return hk_error_set(err, HK_ERR_INVALID,
                            "%s: '%.40s' is not a number in %u..%u", key, v, lo,
                            hi);
    *dst = (unsigned)x;
    return HK_OK;
}

hk_err hk_llm_config_set(hk_llm_config *cfg, const char *name, const char *key,
                         const char *v, hk_error *err)
{
    if (!name || !*name || strlen(name) >= sizeof cfg->ep[0].name)
        return hk_error_set(err, HK_ERR_INVALID,
                            "endpoint name must be 1..63 bytes");
    hk_llm_endpoint *ep = endpoint_of(cfg, name);
    if (!ep)
        return hk_error_set(err, HK_ERR_LIMIT, "more than %u endpoints",
                            HK_LLM_ENDPOINTS_MAX);
    hk_err rc;
    if (!strcmp(key, "base_url"))
        rc = set_str(ep->base_url, sizeof ep->base_url, key, v, err);
    else if (!strcmp(key, "api_key"))
        rc = set_str(ep->api_key, sizeof ep->api_key, key, v, err);
    else if (!strcmp(key, "model"))
        rc = set_str(ep->model, sizeof ep->model, key, v, err);
    else if (!strcmp(key, "embed_model"))
        rc = set_str(ep->embed_model, sizeof ep->embed_model, key, v, err);
    else if (!strcmp(key, "timeout_ms"))
        rc = set_uint(&ep->timeout_ms, key, v, 1, 3600000, err);
    else if (!strcmp(key, "connect_ms"))
        rc = set_uint(&ep->connect_ms, key, v, 1, 600000, err);
    else if (!strcmp(key, "retries"))
        rc = set_uint(&ep->retries, key, v, 0, 20, err);
    else if (!strcmp(key, "backoff_ms"))
        rc = set_uint(&ep->backoff_ms, key, v, 0, 600000, err);
    else if (!strcmp(key, "concurrency"))
        rc = set_uint(&ep->concurrency, key, v, 1, 1024, err);
    else if (!strcmp(key, "queue_max"))
        rc = set_uint(&ep->queue_max, key, v, 0, 1000000, err);
    else if (!strcmp(key, "json_schema")) {
        if (!strcmp(v, "true") || !strcmp(v, "1"))
            ep->json_schema = true;
        else if (!strcmp(v, "false") || !strcmp(v, "0"))
            ep->json_schema = false;
        else
            return hk_error_set(err, HK_ERR_INVALID,
                                "json_schema: expected true or false");
        rc = HK_OK;
    } else
        rc = hk_error_set(err, HK_ERR_INVALID, "unknown endpoint key '%.40s'",
                          key);
    if (rc) snprintf(err->field, sizeof err->field, "%.63s", key);
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                 s[n - 1] == '\r'))
        s[--n] = 0;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = 0;
        s++;
    }
    return s;
}

/* One `key = value` line of the file. */
static hk_err file_line(hk_llm_config *cfg, char *key, char *v, hk_error *err)
{
    if (!strcmp(key, "budget_tokens"))
        return set_uint(&cfg->budget_tokens, key, v, 50, 1000000, err);
    if (strncmp(key, "endpoint.", 9) != 0)
        return hk_error_set(err, HK_ERR_INVALID,
                            "unknown key '%.60s' (endpoint.NAME.KEY or "
                            "budget_tokens)",
                            key);
    char *name = key + 9;
    char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return hk_error_set(err, HK_ERR_INVALID,
                            "'%.60s': expected endpoint.NAME.KEY", key);
    *dot = 0;
    return hk_llm_config_set(cfg, name, dot + 1, v, err);
}

static hk_err load_file(hk_llm_config *cfg, const char *path, hk_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "%s: %s", path,
                            strerror(errno));
    char line[LINE_MAX_BYTES];
    uint64_t no = 0;
    hk_err rc = HK_OK;
    while (rc == HK_OK && fgets(line, sizeof line, f)) {
        no++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = hk_error_set(err, HK_ERR_INVALID, "%s:%llu: line too long",
                              path, (unsigned long long)no);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "%s:%llu: expected key = value", path,
                              (unsigned long long)no);
            break;
        }
        *eq = 0;
        rc = file_line(cfg, trim(s), trim(eq + 1), err);
        if (rc) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%.200s:%llu: %.280s", path,
                     (unsigned long long)no, err->message);
            memcpy(err->message, msg, sizeof msg);
        }
    }
    if (rc) err->line = no;
    fclose(f);
    return rc;
}

hk_err hk_llm_config_load(hk_llm_config *cfg, const char *path, hk_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->budget_tokens = 2000;
    if (!path || !*path) path = getenv("HAKGAL_LLM_CONFIG");
    hk_err rc;
    if (path && *path && (rc = load_file(cfg, path, err))) return rc;
    static const struct {
        const char *var, *key;
    } env[] = {{"OPENAI_BASE_URL", "base_url"},
               {"OPENAI_API_KEY", "api_key"},
               {"HAKGAL_LLM_MODEL", "model"},
               {"HAKGAL_EMBED_MODEL", "embed_model"}};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        const char *v = getenv(env[i].var);
        if (!v || !*v) continue;
        if ((rc = hk_llm_config_set(cfg, "default", env[i].key, v, err))) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s: %.400s", env[i].var, err->message);
            memcpy(err->message, msg, sizeof msg);
            return rc;
        }
    }
    return HK_OK;
}

hk_err hk_llm_config_pick(const hk_llm_config *cfg, const char *name,
                          const hk_llm_endpoint **out, hk_error *err)
{
    const hk_llm_endpoint *ep = NULL;
    const char *want = name ? name : "default";
    for (size_t i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->ep[i].name, want)) ep = &cfg->ep[i];
    if (!ep && !name && cfg->n == 1) ep = &cfg->ep[0];
    if (!ep) {
        if (name)
            return hk_error_set(err, HK_ERR_NOT_FOUND,
                                "no model endpoint named '%.63s' (define "
                                "endpoint.%.63s.base_url and .model in the "
                                "LLM config file)",
                                name, name);
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "no model endpoint is configured: set "
                            "OPENAI_BASE_URL (e.g. "
                            "http://127.0.0.1:8080/v1) and "
                            "HAKGAL_LLM_MODEL, or --base-url and --model, "
                            "or endpoint.NAME.base_url/.model in "
                            "$HAKGAL_LLM_CONFIG");
    }
    if (!ep->base_url[0])
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "model endpoint '%s' has no base URL: set "
                            "OPENAI_BASE_URL or --base-url",
                            ep->name);
    if (!ep->model[0])
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "model endpoint '%s' has no model: set "
                            "HAKGAL_LLM_MODEL or --model",
                            ep->name);
    *out = ep;
    return HK_OK;
}
