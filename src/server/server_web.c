/*
 * server_web.c — the web explorer's static files at "/".
 *
 * The explorer (web/, a TypeScript single-page app) is built by `make
 * build` into a directory of static files: index.html, and content-hashed
 * bundles under assets/ with a precompressed NAME.gz beside each. This
 * file serves that directory; the REST API under /v2 is untouched.
 *
 * Design:
 *   1. Start-up (main thread, before any loop runs) reads every file of
 *      the directory into memory once: at most HK_WEB_MAX_FILES files,
 *      HK_WEB_MAX_BYTES bytes in all, HK_WEB_MAX_DEPTH levels, regular
 *      files only (no symbolic links, no dot files). The table is then
 *      read-only, so loop threads read it without a lock, and it lives
 *      until the server is freed, after the loops have been joined.
 *   2. A request is served only when its path is exactly the path of a
 *      loaded file ("/" is "/index.html"), so no request can name a file
 *      outside the directory: there is no path arithmetic on request text.
 *   3. Every answer carries a strict Content-Security-Policy (scripts,
 *      styles, images and connections from this origin only, no inline
 *      code, no framing), nosniff, no referrer, and an ETag; files under
 *      /assets/ have content-hashed names and are cached for a year
 *      (immutable), everything else is revalidated (no-cache) and answers
 *      304 to a matching If-None-Match. The .gz variant is sent when the
 *      client accepts gzip.
 *
 * Where the directory is: --web DIR; without it, "web" next to the
 * executable (the build directory), then ../share/hakgal/web next to it
 * (an installed tree). --web none turns the explorer off.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"
#include "server/server_int.h"

/* ==== The file table ==== */

#define HK_WEB_MAX_FILES 512         /* files loaded at most */
#define HK_WEB_MAX_BYTES (64u << 20) /* bytes loaded at most, all files */
#define HK_WEB_MAX_DEPTH 4           /* directory levels below the root */
#define HK_WEB_PATH_MAX 256          /* longest request path of a file */

typedef struct hk_web_file {
    char path[HK_WEB_PATH_MAX]; /* request path, "/assets/index-1a2b.js" */
    char *data;                 /* contents (hk_malloc) */
    size_t len;                 /* bytes in data */
    char *gz;                   /* gzip of data from NAME.gz, or NULL */
    size_t gz_len;              /* bytes in gz */
    const char *ctype;          /* Content-Type value (static string) */
    char etag[36];              /* "\"" + 32 hex of SHA-256 + "\"" */
    bool immutable;             /* under /assets/: cached for a year */
} hk_web_file;

struct hk_web {
    char root[PATH_MAX]; /* the directory served */
    hk_web_file *files;  /* n entries */
    size_t n;            /* files loaded */
    size_t cap;          /* entries allocated */
    size_t bytes;        /* bytes loaded (data and gz) */
};

static const char k_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext;   /* file name ending */
        const char *ctype; /* its Content-Type */
    } k_types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".webmanifest", "application/manifest+json; charset=utf-8"},
        {".map", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    size_t nl = strlen(name);
    for (size_t i = 0; i < sizeof(k_types) / sizeof(k_types[0]); i++) {
        size_t el = strlen(k_types[i].ext);
        if (nl > el && strcmp(name + nl - el, k_types[i].ext) == 0)
            return k_types[i].ctype;
    }
    return "application/octet-stream";
}

/* Reads the regular file at path whole (at most `room` bytes). *out is NULL
 * when the file does not exist and `optional` is set. */
static hk_err read_whole(const char *path, size_t room, bool optional,
                         char **out, size_t *len, hk_error *err)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (optional && errno == ENOENT) return HK_OK;
        return hk_error_set(err, HK_ERR_IO, "web: %s: %s", path,
                            strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        if (optional) return HK_OK;
        return hk_error_set(err, HK_ERR_INVALID, "web: %s: not a regular file",
                            path);
    }
    if ((uint64_t)st.st_size > room)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "web: %s: the web directory holds more than %u "
                            "bytes",
                            path, HK_WEB_MAX_BYTES);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hk_error_set(err, HK_ERR_IO, "web: %s: %s", path,
                            strerror(errno));
    size_t n = (size_t)st.st_size;
    char *buf = hk_malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return hk_error_set(err, HK_ERR_NOMEM, "web: out of memory");
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (got != n) {
        hk_free(buf);
        return hk_error_set(err, HK_ERR_IO, "web: %s: short read", path);
    }
    *out = buf;
    *len = n;
    return HK_OK;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t sl = strlen(s), tl = strlen(tail);
    return sl >= tl && strcmp(s + sl - tl, tail) == 0;
}

/* Loads the file at fs path `fs` as request path `rel` ("/x/y.js"). */
static hk_err add_file(hk_web *w, const char *fs, const char *rel,
                       hk_error *err)
{
    if (w->n >= HK_WEB_MAX_FILES)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "web: %s holds more than %d files", w->root,
                            HK_WEB_MAX_FILES);
    if (strlen(rel) >= HK_WEB_PATH_MAX)
        return hk_error_set(err, HK_ERR_LIMIT, "web: path too long: %s", rel);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        hk_web_file *nf = hk_realloc(w->files, cap * sizeof(*nf));
        if (!nf) return hk_error_set(err, HK_ERR_NOMEM, "web: out of memory");
        w->files = nf;
        w->cap = cap;
    }
    hk_web_file *f = &w->files[w->n];
    memset(f, 0, sizeof(*f));
    hk_err rc = read_whole(fs, HK_WEB_MAX_BYTES - w->bytes, false, &f->data,
                           &f->len, err);
    if (rc != HK_OK) return rc;
    w->bytes += f->len;
    char gzpath[PATH_MAX];
    if ((size_t)snprintf(gzpath, sizeof gzpath, "%s.gz", fs) < sizeof gzpath) {
        rc = read_whole(gzpath, HK_WEB_MAX_BYTES - w->bytes, true, &f->gz,
                        &f->gz_len, err);
        if (rc != HK_OK) {
            hk_free(f->data);
            return rc;
        }
        w->bytes += f->gz_len;
    }
    snprintf(f->path, sizeof f->path, "%s", rel);
    f->ctype = content_type(rel);
    f->immutable = strncmp(rel, "/assets/", 8) == 0;
    uint8_t sum[32];
    char hex[33];
    hk_sha256(f->data, f->len, sum);
    hk_hex(sum, 16, hex);
    f->etag[0] = '"';
    memcpy(f->etag + 1, hex, 32);
    f->etag[33] = '"';
    f->etag[34] = '\0';
    w->n++;
    return HK_OK;
}

/* Walks dir (request path prefix rel, "" at the root) depth levels deep. */
static hk_err walk(hk_web *w, const char *dir, const char *rel, int depth,
                   hk_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return hk_error_set(err, HK_ERR_IO, "web: %s: %s", dir,
                            strerror(errno));
    hk_err rc = HK_OK;
    struct dirent *de;
    while (rc == HK_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue; /* ., .., dot files */
        char fs[PATH_MAX], sub[HK_WEB_PATH_MAX];
        if ((size_t)snprintf(fs, sizeof fs, "%s/%s", dir, de->d_name) >=
                sizeof fs ||
            (size_t)snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name) >=
                sizeof sub) {
            rc = hk_error_set(err, HK_ERR_LIMIT, "web: path too long in %s",
                              dir);
            break;
        }
        struct stat st;
        if (lstat(fs, &st) != 0) continue; /* vanished meanwhile */
        if (S_ISDIR(st.st_mode)) {
            if (depth < HK_WEB_MAX_DEPTH) rc = walk(w, fs, sub, depth + 1, err);
        } else if (S_ISREG(st.st_mode) && !ends_with(de->d_name, ".gz")) {
            rc = add_file(w, fs, sub, err);
        }
    }
    closedir(d);
    return rc;
}

static void web_free(hk_web *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        hk_free(w->files[i].data);
        hk_free(w->files[i].gz);
    }
    hk_free(w->files);
    hk_free(w);
}

/* The directory to serve: cfg.web_dir, else the first of the default
 * places that holds an index.html; "" when there is none. */
static void find_root(const hk_server *srv, char *out, size_t cap)
{
    out[0] = '\0';
    if (srv->cfg.web_dir[0]) {
        snprintf(out, cap, "%s", srv->cfg.web_dir);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    static const char *const k_rel[] = {"web", "../share/hakgal/web"};
    for (size_t i = 0; i < sizeof(k_rel) / sizeof(k_rel[0]); i++) {
        char index[PATH_MAX + 64];
        if ((size_t)snprintf(index, sizeof index, "%s/%s/index.html", exe,
                             k_rel[i]) >= sizeof index)
            continue;
        struct stat st;
        if (stat(index, &st) == 0 && S_ISREG(st.st_mode)) {
            if ((size_t)snprintf(out, cap, "%.*s", (int)(cap - 1), index) < cap)
                out[strlen(out) - strlen("/index.html")] = '\0';
            return;
        }
    }
}

hk_err hk_web_load(hk_server *srv, hk_error *err)
{
    srv->web = NULL;
    if (strcmp(srv->cfg.web_dir, "none") == 0) return HK_OK;
    char root[PATH_MAX];
    find_root(srv, root, sizeof root);
    if (!root[0]) return HK_OK; /* no explorer built: the API alone */
    hk_web *w = hk_calloc(1, sizeof(*w));
    if (!w) return hk_error_set(err, HK_ERR_NOMEM, "web: out of memory");
    snprintf(w->root, sizeof w->root, "%s", root);
    hk_err rc = walk(w, root, "", 0, err);
    if (rc == HK_OK) {
        bool has_index = false;
        for (size_t i = 0; i < w->n; i++)
            if (strcmp(w->files[i].path, "/index.html") == 0) has_index = true;
        if (!has_index)
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "web: %s has no index.html (build it with make "
                              "build, or pass --web none)",
                              root);
    }
    if (rc != HK_OK) {
        web_free(w);
        return rc;
    }
    srv->web = w;
    return HK_OK;
}

void hk_web_free(hk_server *srv)
{
    web_free(srv->web);
    srv->web = NULL;
}

const char *hk_web_root(const hk_server *srv, size_t *n_files)
{
    if (!srv->web) return NULL;
    if (n_files) *n_files = srv->web->n;
    return srv->web->root;
}

/* ==== Serving ==== */

static void add_header(h2o_req_t *req, const h2o_token_t *t, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, t, NULL, v, strlen(v));
}

static void add_named(h2o_req_t *req, const char *name, const char *v)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0,
                          NULL, v, strlen(v));
}

/* Does the comma-separated header value list hold token (case-blind)? */
static bool header_lists(const char *v, const char *token)
{
    if (!v) return false;
    size_t tl = strlen(token);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';')
            e++;
        size_t l = (size_t)(e - p);
        while (l > 0 && p[l - 1] == ' ')
            l--;
        if ((l == tl && strncasecmp(p, token, tl) == 0) ||
            (l == 1 && *p == '*'))
            return true;
        while (*e && *e != ',')
            e++;
        p = e;
    }
    return false;
}

bool hk_web_serve(hk_server *srv, h2o_req_t *req, const char *path,
                  size_t path_len)
{
    const hk_web *w = srv->web;
    if (!w) return false;
    bool head =
        req->method.len == 4 && memcmp(req->method.base, "HEAD", 4) == 0;
    bool get = req->method.len == 3 && memcmp(req->method.base, "GET", 3) == 0;
    if (!get && !head) return false;
    if (path_len == 1 && path[0] == '/') {
        path = "/index.html";
        path_len = strlen(path);
    }
    const hk_web_file *f = NULL;
    for (size_t i = 0; i < w->n && !f; i++)
        if (strlen(w->files[i].path) == path_len &&
            memcmp(w->files[i].path, path, path_len) == 0)
            f = &w->files[i];
    if (!f) return false;

    hk_req_set_route(req, head ? "HEAD web" : "GET web");
    add_named(req, "content-security-policy", k_csp);
    add_named(req, "x-content-type-options", "nosniff");
    add_named(req, "x-frame-options", "DENY");
    add_named(req, "referrer-policy", "no-referrer");
    add_named(req, "cross-origin-opener-policy", "same-origin");
    add_header(req, H2O_TOKEN_CACHE_CONTROL,
               f->immutable ? "public, max-age=31536000, immutable"
                            : "no-cache");
    add_header(req, H2O_TOKEN_ETAG, f->etag);
    if (f->gz) add_header(req, H2O_TOKEN_VARY, "Accept-Encoding");

    const char *inm = hk_req_header(req, H2O_TOKEN_IF_NONE_MATCH);
    if (inm && (strstr(inm, f->etag) || strcmp(inm, "*") == 0)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_send_inline(req, "", 0);
        return true;
    }
    const char *data = f->data;
    size_t len = f->len;
    if (f->gz &&
        header_lists(hk_req_header(req, H2O_TOKEN_ACCEPT_ENCODING), "gzip")) {
        data = f->gz;
        len = f->gz_len;
        add_header(req, H2O_TOKEN_CONTENT_ENCODING, "gzip");
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = len;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, f->ctype);
    /* The table outlives every request (freed after the loops are
     * joined), so the body is sent from it without a copy. */
    static h2o_generator_t k_gen = {NULL, NULL};
    h2o_start_response(req, &k_gen);
    h2o_iovec_t body = h2o_iovec_init(data, len);
    h2o_send(req, &body, head ? 0 : 1, H2O_SEND_STATE_FINAL);
    return true;
}
