/*
 * server_auth.c — bearer tokens with roles, and the request policy.
 *
 * Tokens are kept hashed (SHA-256) at rest and in memory: a token file line
 * is `name role sha256hex` (parsed by hk_svc_tokens_load, service.h, the
 * same parser as `hakgal mcp --tokens`); the environment adds
 * HAKGAL_TOKEN_<NAME>=<role>:<sha256hex>. A presented token is hashed and
 * compared against every configured hash with CRYPTO_memcmp, always over the
 * whole table, so timing reveals neither which token nor how many bytes
 * matched.
 *
 * Policy (in the spirit of Redis's protected mode):
 *  - no tokens configured: every request is allowed and acts as
 *    "anonymous"; serve.c refuses a non-loopback listen without --insecure
 *    and prints a warning at start-up;
 *  - tokens configured: writes need a write (or admin) token, admin routes
 *    an admin token; reads need a read token when read_auth is set.
 * Tokens are loaded once at start-up (main thread); lookups are read-only
 * and safe from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/sha256.h"
#include "server/server_int.h"

extern char **environ;

/* Adds a checked token; names must be unique across file and
 * environment. */
static hk_err add_token(hk_server *srv, const hk_token *t, const char *where,
                        hk_error *err)
{
    for (unsigned i = 0; i < srv->n_tokens; i++) {
        if (!strcmp(srv->tokens[i].name, t->name))
            return hk_error_set(err, HK_ERR_EXISTS,
                                "%s: token name '%s' given twice", where,
                                t->name);
    }
    if (srv->n_tokens >= HK_MAX_TOKENS)
        return hk_error_set(err, HK_ERR_LIMIT, "%s: more than %d tokens", where,
                            HK_MAX_TOKENS);
    srv->tokens[srv->n_tokens++] = *t;
    return HK_OK;
}

hk_err hk_auth_load(hk_server *srv, hk_error *err)
{
    srv->tokens = hk_calloc(HK_MAX_TOKENS, sizeof(hk_token));
    if (!srv->tokens)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory for tokens");
    srv->n_tokens = 0;
    hk_err rc;
    if (srv->cfg.tokens_file[0]) {
        size_t n = 0;
        rc = hk_svc_tokens_load(srv->cfg.tokens_file, srv->tokens,
                                HK_MAX_TOKENS, &n, err);
        if (rc != HK_OK) return rc;
        srv->n_tokens = (unsigned)n;
    }
    static const char prefix[] = "HAKGAL_TOKEN_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char name[64];
        size_t nl = (size_t)(eq - *e) - (sizeof(prefix) - 1);
        if (nl == 0 || nl >= sizeof(name))
            return hk_error_set(err, HK_ERR_INVALID,
                                "environment: bad token variable name");
        for (size_t i = 0; i < nl; i++)
            name[i] =
                (char)tolower((unsigned char)(*e)[sizeof(prefix) - 1 + i]);
        name[nl] = '\0';
        char value[256];
        snprintf(value, sizeof(value), "%s", eq + 1);
        char *colon = strchr(value, ':');
        char where[128];
        snprintf(where, sizeof(where), "environment HAKGAL_TOKEN_%.63s", name);
        if (!colon)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: expected <role>:<sha256hex>", where);
        *colon = '\0';
        hk_token t;
        rc = hk_svc_token_parse(name, value, colon + 1, where, &t, err);
        if (rc == HK_OK) rc = add_token(srv, &t, where, err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

bool hk_server_auth_enabled(const hk_server *srv)
{
    return srv->n_tokens > 0;
}

hk_err hk_server_auth_lookup(const hk_server *srv, const char *token,
                             size_t len, hk_principal *out)
{
    uint8_t h[32];
    hk_sha256(token, len, h);
    int found = -1;
    /* Compare against every entry so the time does not depend on which. */
    for (unsigned i = 0; i < srv->n_tokens; i++) {
        int same = CRYPTO_memcmp(h, srv->tokens[i].hash, 32) == 0;
        if (same && found < 0) found = (int)i;
    }
    if (found < 0) return HK_ERR_NOT_FOUND;
    if (out) {
        snprintf(out->name, sizeof(out->name), "%s", srv->tokens[found].name);
        out->role = srv->tokens[found].role;
        out->authenticated = true;
    }
    return HK_OK;
}

static void send_auth_error(h2o_req_t *req, int status, const char *code,
                            const char *message)
{
    static const char www[] = "Bearer realm=\"hakgal\"";
    if (status == 401)
        h2o_add_header_by_str(&req->pool, &req->res.headers,
                              H2O_STRLIT("www-authenticate"), 0, NULL, www,
                              sizeof(www) - 1);
    hk_http_send_error(req, status, code, message, NULL);
}

bool hk_server_authorize(hk_server *srv, h2o_req_t *req, hk_role need,
                         hk_principal *out)
{
    hk_principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "anonymous");
    if (srv->n_tokens == 0) {
        /* Protected mode: loopback-only (or --insecure), everything open. */
        p.role = HK_ROLE_ADMIN;
        if (out) *out = p;
        return true;
    }
    ssize_t hi = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (hi >= 0) {
        h2o_iovec_t v = req->headers.entries[hi].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            const char *t = v.base + 7;
            size_t tl = v.len - 7;
            while (tl > 0 && *t == ' ') {
                t++;
                tl--;
            }
            if (hk_server_auth_lookup(srv, t, tl, &p) != HK_OK) {
                send_auth_error(req, 401, "unauthorized",
                                "the bearer token is not valid");
                return false;
            }
        } else {
            send_auth_error(req, 401, "unauthorized",
                            "Authorization must be `Bearer <token>`");
            return false;
        }
    }
    hk_role required = need;
    if (need == HK_ROLE_READ && !srv->cfg.read_auth) required = HK_ROLE_NONE;
    if (p.role < required) {
        if (!p.authenticated) {
            send_auth_error(req, 401, "unauthorized",
                            required == HK_ROLE_READ
                                ? "this server needs a read token for reads"
                            : required == HK_ROLE_WRITE
                                ? "writes need a token with role write"
                            : required == HK_ROLE_REVIEW
                                ? "reviews need a token with role reviewer"
                                : "this route needs an admin token");
        } else {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "token '%s' has role %s; this needs role %s", p.name,
                     hk_role_name(p.role), hk_role_name(required));
            send_auth_error(req, 403, "forbidden", msg);
        }
        return false;
    }
    if (out) *out = p;
    return true;
}

static bool is_loopback_origin(const char *o, size_t n)
{
    static const char *const bases[] = {"http://localhost", "https://localhost",
                                        "http://127.0.0.1", "https://127.0.0.1",
                                        "http://[::1]",     "https://[::1]"};
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        size_t bl = strlen(bases[i]);
        if (n >= bl && memcmp(o, bases[i], bl) == 0 &&
            (n == bl || o[bl] == ':'))
            return true;
    }
    return false;
}

bool hk_server_origin_allowed(const hk_server *srv, h2o_req_t *req)
{
    ssize_t hi =
        h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (hi < 0) return true;
    h2o_iovec_t v = req->headers.entries[hi].value;
    for (unsigned i = 0; i < srv->cfg.n_allowed_origins; i++) {
        const char *a = srv->cfg.allowed_origins[i];
        if (!strcmp(a, "*")) return true;
        if (strlen(a) == v.len && strncasecmp(a, v.base, v.len) == 0)
            return true;
    }
    return srv->loopback && is_loopback_origin(v.base, v.len);
}

/* ==== Making tokens ==== */

int hk_auth_new_token(const char *name, const char *role)
{
    hk_role r;
    if (!hk_svc_token_name_valid(name)) {
        fprintf(stderr,
                "hakgal serve: token name '%s' must be 1-63 characters of "
                "letters, digits, _ - . @\n",
                name);
        return 2;
    }
    if (hk_role_parse(role, &r) != HK_OK) {
        fprintf(stderr,
                "hakgal serve: role '%s' must be read, write or "
                "admin\n",
                role);
        return 2;
    }
    uint8_t secret[24];
    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        fprintf(stderr, "hakgal serve: no randomness for a token\n");
        return 5;
    }
    char token[2 * sizeof(secret) + 1];
    hk_hex(secret, sizeof(secret), token);
    uint8_t h[32];
    hk_sha256(token, strlen(token), h);
    char hex[65];
    hk_hex(h, 32, hex);
    /* The line goes to stdout (append it to the token file); the token
     * itself only to stderr, shown once. */
    printf("%s %s %s\n", name, hk_role_name(r), hex);
    fflush(stdout);
    fprintf(stderr, "token for %s (%s): %s\n", name, hk_role_name(r), token);
    return 0;
}
