/*
 * routes_vectors.c — vector spaces and similarity search over REST
 * (service: src/service/svc_vector.h):
 *   GET    /v2/vectors                  the spaces with their vector counts
 *   POST   /v2/vectors                  create a space
 *   DELETE /v2/vectors/{space}          drop a space and its vectors
 *   POST   /v2/vectors/{space}/embed    one batch of the built-in embedder
 *   GET    /v2/vectors/{space}/similar  ?text=|fact=, k, predicate, entity
 *   POST   /v2/vectors/{space}/similar  {text|vector|fact, k, ef, ...}
 *   GET    /v2/search?mode=             text, vector or hybrid search
 *                                       (vector=, ef= for the vector part)
 *                                       (hk_route_search hands over)
 * Reads run on the loop's read transaction (hk_route_read), except
 * similarity search, which runs on a pool thread with a read transaction
 * of its own (hk_server_defer): the first search of a space reads or
 * builds its index, which takes seconds at a million vectors; a search of
 * /v2/search by the client's vector whose index is ready runs on the loop
 * (hsearch_inline), since it takes less than the hand-off. Writes are
 * jobs of the group-commit writer. The server attached the vector module
 * when it opened the KB (srv->vs). Handlers run on loop threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/mem.h"
#include "server/routes.h"
#include "service/svc_vector.h"

/* Appends the JSON of j (consumed) to out. */
static hk_err append_json(json_t *j, hk_buf *out, hk_error *err)
{
    char *s = j ? hk_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err rc = hk_buf_append_str(out, s);
    free(s);
    return rc ? hk_error_set(err, rc, "out of memory") : HK_OK;
}

/* The {space} parameter, decoded into the request's pool; NULL when it is
 * malformed (answered). */
static const char *space_param(h2o_req_t *req, const char *param)
{
    char *s = hk_url_decode(&req->pool, param, strlen(param));
    if (!s || !*s || strlen(s) > HKV_NAME_MAX) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "bad vector space name", "space");
        return NULL;
    }
    return s;
}

/* ==== GET /v2/vectors ==== */

static hk_err list_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t n = 0;
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err rc = hkv_space_list(arg, t, all, &n, err);
    json_t *arr = rc ? NULL : json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, hk_svc_vspace_json(&all[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    hk_free(all);
    if (rc) return rc;
    return append_json(arr ? json_pack("{s:o}", "spaces", arr) : NULL, out,
                       err);
}

void hk_route_vectors_list(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_route_read(req, 200, list_read, srv->vs);
}

/* ==== POST /v2/vectors and DELETE /v2/vectors/{space} ==== */

/* Optional unsigned integer member name of o into *out (at most max);
 * false (answered) when it is not one. */
static bool body_uint(h2o_req_t *req, json_t *o, const char *name, uint64_t max,
                      uint64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "expected a non-negative integer in range", name);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Optional string member name of o; false (answered) when not a string. */
static bool body_str(h2o_req_t *req, json_t *o, const char *name,
                     const char **out)
{
    json_t *v = json_object_get(o, name);
    if (!v) return true;
    if (!json_is_string(v)) {
        hk_send_field_error(req, 400, "invalid_parameter", "expected a string",
                            name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static void vspace_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                        void *arg)
{
    hk_svc_vspace_arg *a = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        hk_buf b = HK_BUF_INIT;
        hk_error e;
        if (append_json(hk_svc_vspace_json(&a->sp), &b, &e) == HK_OK)
            hk_http_send_buf(req, 201, &b);
        else
            hk_http_send_hk_error(req, &e);
        hk_buf_free(&b);
    }
    hk_free(a);
}

static void drop_done(h2o_req_t *req, hk_err rc, const hk_error *err, void *arg)
{
    hk_svc_vspace_arg *a = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"dropped\":true}",
                 a->sp.name); /* the name is [a-z0-9_-] */
        hk_http_send_json(req, 200, body, strlen(body));
    }
    hk_free(a);
}

static void queue(h2o_req_t *req, hk_write_fn fn, hk_write_done_fn done,
                  void *a)
{
    /* the request is the job's first member: through the log on a
     * replicated node (server_repl.c) */
    if (hk_server_write_async_cmd(req, fn, done, a, hk_req_actor(req), fn, a,
                                  false) != HK_OK) {
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down; retry elsewhere",
                           NULL);
        hk_free(a);
    }
}

void hk_route_vectors_create(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    json_t *body = hk_body_json(req);
    if (!body) return;
    const char *name = NULL, *metric = "cosine", *embedder = "none";
    const char *kind = "fact", *model = "";
    uint64_t dim = 0, m = 0, efc = 0, ef = 0;
    json_t *int8 = json_object_get(body, "int8");
    json_t *autoe = json_object_get(body, "auto_embed");
    hk_svc_vspace_arg *a = NULL;
    if (!json_is_object(body)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "the body is not a JSON object", "body");
    } else if (body_str(req, body, "name", &name) &&
               body_str(req, body, "metric", &metric) &&
               body_str(req, body, "embedder", &embedder) &&
               body_str(req, body, "kind", &kind) &&
               body_str(req, body, "model", &model) &&
               body_uint(req, body, "dim", HKV_DIM_MAX, &dim) &&
               body_uint(req, body, "m", HKV_M_MAX, &m) &&
               body_uint(req, body, "ef_construction", HKV_EF_MAX, &efc) &&
               body_uint(req, body, "ef", HKV_EF_MAX, &ef)) {
        a = hk_calloc(1, sizeof *a);
        if (!name || strlen(name) > HKV_NAME_MAX || dim == 0) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "a space needs a name (1..48 of [a-z0-9_-]) "
                                "and dim (1..4096)",
                                name ? "dim" : "name");
        } else if (int8 && !json_is_boolean(int8)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "expected true or false", "int8");
        } else if (autoe && !json_is_boolean(autoe)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "expected true or false", "auto_embed");
        } else if (!a) {
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
        } else if (!hk_svc_vmetric_parse(metric, &a->sp.params.metric)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "metric is cosine, dot or l2", "metric");
        } else if (!hk_svc_vembedder_parse(embedder, &a->sp.embedder)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "embedder is none, hashed or openai",
                                "embedder");
        } else if (!hk_svc_vkind_parse(kind, &a->sp.kind)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "kind is fact or entity", "kind");
        } else if (strlen(model) > HKV_MODEL_MAX) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "model has at most 128 bytes", "model");
        } else {
            snprintf(a->sp.model, sizeof a->sp.model, "%s", model);
            a->vs = srv->vs;
            snprintf(a->sp.name, sizeof a->sp.name, "%s", name);
            a->sp.params.dim = (uint32_t)dim;
            a->sp.params.quant = json_is_true(int8) ? HKV_I8 : HKV_F32;
            a->sp.auto_embed = json_is_true(autoe);
            a->sp.params.m = (uint32_t)m;
            a->sp.params.ef_construction = (uint32_t)efc;
            a->sp.params.ef = (uint32_t)ef;
            queue(req, hk_svc_vspace_create_apply, vspace_done, a);
            a = NULL;
        }
    }
    hk_free(a);
    json_decref(body);
}

void hk_route_vectors_drop(hk_server *srv, h2o_req_t *req, const char *param)
{
    const char *name = space_param(req, param);
    if (!name) return;
    hk_svc_vspace_arg *a = hk_calloc(1, sizeof *a);
    if (!a) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    a->vs = srv->vs;
    snprintf(a->sp.name, sizeof a->sp.name, "%s", name);
    queue(req, hk_svc_vspace_drop_apply, drop_done, a);
}

/* ==== POST /v2/vectors/{space}/embed ==== */

typedef struct embed_job {
    hk_svc_embed_arg a;           /* the service request */
    char space[HKV_NAME_MAX + 1]; /* a.space points here */
} embed_job;

static void embed_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                       void *arg)
{
    embed_job *j = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"space\":\"%s\",\"embedded\":%llu,\"last\":%llu,"
                 "\"done\":%s}",
                 j->space, (unsigned long long)j->a.embedded,
                 (unsigned long long)j->a.last, j->a.done ? "true" : "false");
        hk_http_send_json(req, 200, body, strlen(body));
    }
    hk_free(j);
}

void hk_route_vectors_embed(hk_server *srv, h2o_req_t *req, const char *param)
{
    const char *name = space_param(req, param);
    if (!name) return;
    uint64_t after = 0, limit = 0;
    json_t *body = NULL;
    if (req->entity.len > 0) {
        if (!(body = hk_body_json(req))) return;
        if (!json_is_object(body)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "the body is not a JSON object", "body");
            json_decref(body);
            return;
        }
    }
    bool ok = !body || (body_uint(req, body, "after", INT64_MAX, &after) &&
                        body_uint(req, body, "limit", 100000, &limit));
    json_decref(body);
    if (!ok) return;
    embed_job *j = hk_calloc(1, sizeof *j);
    if (!j) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    snprintf(j->space, sizeof j->space, "%s", name);
    j->a.vs = srv->vs;
    j->a.space = j->space;
    j->a.after = after;
    j->a.limit = limit;
    queue(req, hk_svc_embed_apply, embed_done, j);
}

/* ==== POST /v2/vectors/{space}/entities ==== */

/* Most entities of one request (one write transaction). */
#define ENTITIES_MAX 10000u

typedef struct entities_job {
    hk_svc_ventity_arg a;          /* the service request */
    char space[HKV_NAME_MAX + 1];  /* a.space points here */
    char model[HKV_MODEL_MAX + 1]; /* a.model points here when given */
    char **names;                  /* a.names (owned) */
    float *vecs;                   /* a.vecs (owned) */
} entities_job;

static void entities_job_free(entities_job *j)
{
    for (size_t i = 0; j->names && i < j->a.n; i++)
        hk_free(j->names[i]);
    hk_free(j->names);
    hk_free(j->vecs);
    hk_free(j);
}

static void entities_done(h2o_req_t *req, hk_err rc, const hk_error *err,
                          void *arg)
{
    entities_job *j = arg;
    if (req && rc) {
        hk_http_send_hk_error(req, err);
    } else if (req) {
        char body[256];
        snprintf(body, sizeof body, "{\"space\":\"%s\",\"%s\":%llu}", j->space,
                 j->a.remove ? "removed" : "written",
                 (unsigned long long)j->a.written);
        hk_http_send_json(req, 200, body, strlen(body));
    }
    entities_job_free(j);
}

void hk_route_vectors_entities(hk_server *srv, h2o_req_t *req,
                               const char *param)
{
    const char *name = space_param(req, param);
    if (!name) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    json_t *list = json_object_get(body, "entities");
    json_t *rm = json_object_get(body, "remove");
    const char *model = NULL;
    entities_job *j = NULL;
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    if (!json_is_object(body)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "the body is not a JSON object", "body");
        goto done;
    }
    if (!body_str(req, body, "model", &model)) goto done;
    if (n == 0 || n > ENTITIES_MAX) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "entities is an array of 1..10000 entries",
                            "entities");
        goto done;
    }
    if (rm && !json_is_boolean(rm)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "expected true or false", "remove");
        goto done;
    }
    if (model && strlen(model) > HKV_MODEL_MAX) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "model has at most 128 bytes", "model");
        goto done;
    }
    j = hk_calloc(1, sizeof *j);
    if (j) j->names = hk_calloc(n, sizeof *j->names);
    if (!j || !j->names) goto nomem;
    j->a.remove = json_is_true(rm);
    snprintf(j->space, sizeof j->space, "%s", name);
    j->a.vs = srv->vs;
    j->a.space = j->space;
    if (model) {
        snprintf(j->model, sizeof j->model, "%s", model);
        j->a.model = j->model;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        json_t *jn = json_object_get(e, "entity");
        json_t *jv = json_object_get(e, "vector");
        size_t dim = json_is_array(jv) ? json_array_size(jv) : 0;
        if (!json_is_string(jn)) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "each entry needs an entity name", "entities");
            goto done;
        }
        if (!j->a.remove) {
            if (dim == 0 || dim > HKV_DIM_MAX || (i > 0 && dim != j->a.dim)) {
                hk_send_field_error(req, 400, "invalid_parameter",
                                    "each entry needs a vector of 1..4096 "
                                    "numbers, all of one length",
                                    "entities");
                goto done;
            }
            if (!j->vecs) {
                j->a.dim = (uint32_t)dim;
                j->vecs = hk_malloc(n * dim * sizeof *j->vecs);
                if (!j->vecs) goto nomem;
            }
            for (size_t d = 0; d < dim; d++) {
                json_t *x = json_array_get(jv, d);
                double v = json_is_number(x) ? json_number_value(x) : NAN;
                if (!isfinite(v) || fabs(v) > 3.4e38) {
                    hk_send_field_error(req, 400, "invalid_parameter",
                                        "a vector holds a value that is not "
                                        "a finite number",
                                        "entities");
                    goto done;
                }
                j->vecs[i * dim + d] = (float)v;
            }
        }
        if (!(j->names[i] = hk_strdup(json_string_value(jn)))) goto nomem;
        j->a.n = i + 1;
    }
    j->a.names = (const char *const *)j->names;
    j->a.vecs = j->vecs;
    if (hk_server_write_async_cmd(req, hk_svc_ventity_apply, entities_done, j,
                                  hk_req_actor(req), hk_svc_ventity_apply,
                                  &j->a, false) != HK_OK)
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down; retry elsewhere",
                           NULL);
    else
        j = NULL;
    goto done;
nomem:
    hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
done:
    if (j) entities_job_free(j);
    json_decref(body);
}

/* ==== GET and POST /v2/vectors/{space}/similar ==== */

typedef struct similar_arg {
    hkv_store *vs;
    hk_svc_vsimilar_req r;
} similar_arg;

static hk_err similar_read(hk_txn *t, void *arg, hk_buf *out, hk_error *err)
{
    similar_arg *sa = arg;
    hk_svc_vsimilar_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = hk_svc_vsimilar(sa->vs, t, &sa->r, &res, err);
    if (rc) return rc;
    json_t *hits = json_array();
    for (size_t i = 0; hits && i < res.n_hits; i++) {
        const hk_svc_vsimilar_hit *h = &res.hits[i];
        if (json_array_append_new(hits, hk_svc_vsimilar_hit_json(h))) {
            json_decref(hits);
            hits = NULL;
        }
    }
    json_t *j =
        hits ? json_pack("{s:s, s:o, s:I, s:b, s:I}", "space", sa->r.space,
                         "hits", hits, "candidates", (json_int_t)res.candidates,
                         "exact", res.exact, "indexed", (json_int_t)res.indexed)
             : NULL;
    hk_svc_vsimilar_res_free(&res);
    return append_json(j, out, err);
}

/* A search deferred to a pool thread: owns copies of everything the
 * request pointed to, since the request may go away meanwhile. */
typedef struct similar_job {
    hk_server *srv;               /* the server */
    similar_arg sa;               /* request; strings point below */
    char space[HKV_NAME_MAX + 1]; /* sa.r.space */
    char *text;                   /* sa.r.text (owned) */
    char *predicate;              /* sa.r.predicate (owned) */
    char *entity;                 /* sa.r.entity (owned) */
    char *tag;                    /* sa.r.tag (owned) */
    char *source;                 /* sa.r.source (owned) */
    char *query;                  /* sa.r.query (owned) */
    char *query_var;              /* sa.r.query_var (owned) */
    float *vector;                /* sa.r.vector (owned) */
    hk_buf out;                   /* the answer */
    hk_err rc;                    /* result */
    hk_error err;                 /* why it failed */
} similar_job;

static void similar_job_free(similar_job *j)
{
    hk_free(j->text);
    hk_free(j->predicate);
    hk_free(j->entity);
    hk_free(j->tag);
    hk_free(j->source);
    hk_free(j->query);
    hk_free(j->query_var);
    hk_free(j->vector);
    hk_buf_free(&j->out);
    hk_free(j);
}

static void similar_work(void *arg)
{
    similar_job *j = arg;
    hk_txn *t = NULL;
    hk_error_clear(&j->err);
    j->rc = hk_txn_begin(j->srv->store, false, &t, &j->err);
    if (j->rc) return;
    j->rc = similar_read(t, &j->sa, &j->out, &j->err);
    hk_txn_abort(t);
    if (j->rc == HK_OK) j->rc = hk_buf_append_str(&j->out, "\n");
}

static void similar_after(h2o_req_t *req, void *arg)
{
    similar_job *j = arg;
    if (!req)
        ;
    else if (j->rc == HK_ERR_NOT_FOUND)
        hk_http_send_error(req, 404, "not_found", j->err.message, NULL);
    else if (j->rc == HK_ERR_NOMEM && j->err.code != HK_ERR_NOMEM)
        hk_http_send_error(req, 503, "out_of_memory", "cannot build answer",
                           NULL);
    else if (j->rc != HK_OK)
        hk_send_store_error(req, &j->err);
    else
        hk_http_send_buf(req, 200, &j->out);
    similar_job_free(j);
}

/* Copies s (may be NULL) into *out; false when out of memory. */
static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    return !s || (*out = hk_strdup(s)) != NULL;
}

/* Runs the search of sa on a pool thread and answers from there. */
static void similar_defer(hk_server *srv, h2o_req_t *req, const similar_arg *sa)
{
    similar_job *j = hk_calloc(1, sizeof *j);
    bool ok = j != NULL;
    if (ok) {
        j->srv = srv;
        j->sa = *sa;
        snprintf(j->space, sizeof j->space, "%s", sa->r.space);
        j->sa.r.space = j->space;
        ok = dup_opt(sa->r.text, &j->text) &&
             dup_opt(sa->r.predicate, &j->predicate) &&
             dup_opt(sa->r.entity, &j->entity) && dup_opt(sa->r.tag, &j->tag) &&
             dup_opt(sa->r.source, &j->source) &&
             dup_opt(sa->r.query, &j->query) &&
             dup_opt(sa->r.query_var, &j->query_var);
        j->sa.r.text = j->text;
        j->sa.r.predicate = j->predicate;
        j->sa.r.entity = j->entity;
        j->sa.r.tag = j->tag;
        j->sa.r.source = j->source;
        j->sa.r.query = j->query;
        j->sa.r.query_var = j->query_var;
        if (ok && sa->r.vector) {
            size_t bytes = (size_t)sa->r.dim * sizeof *j->vector;
            ok = (j->vector = hk_malloc(bytes)) != NULL;
            if (ok) memcpy(j->vector, sa->r.vector, bytes);
        }
        j->sa.r.vector = j->vector;
    }
    if (!ok) {
        if (j) similar_job_free(j);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    if (hk_server_defer(req, similar_work, similar_after, j) != HK_OK) {
        similar_job_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}

/* Parses an unsigned query parameter; false (answered) when bad. */
static bool query_uint(h2o_req_t *req, const char *name, uint64_t max,
                       uint64_t *out)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    if (!bad && !s) return true;
    if (!bad && hk_svc_parse_positive(s, out) && *out <= max) return true;
    hk_send_field_error(req, 400, "invalid_parameter",
                        "expected a positive integer in range", name);
    return false;
}

static bool query_str(h2o_req_t *req, const char *name, const char **out)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    if (bad) {
        hk_send_field_error(req, 400, "invalid_parameter", "invalid %-escape",
                            name);
        return false;
    }
    if (s) *out = s;
    return true;
}

void hk_route_vectors_similar_get(hk_server *srv, h2o_req_t *req,
                                  const char *param)
{
    similar_arg sa;
    memset(&sa, 0, sizeof sa);
    sa.vs = srv->vs;
    sa.r.space = space_param(req, param);
    if (!sa.r.space) return;
    uint64_t fact = 0, k = 0, ef = 0;
    if (query_str(req, "text", &sa.r.text) &&
        query_str(req, "predicate", &sa.r.predicate) &&
        query_str(req, "entity", &sa.r.entity) &&
        query_str(req, "tag", &sa.r.tag) &&
        query_str(req, "source", &sa.r.source) &&
        query_str(req, "query", &sa.r.query) &&
        query_str(req, "var", &sa.r.query_var) &&
        query_uint(req, "fact", INT64_MAX, &fact) &&
        query_uint(req, "k", 1000, &k) &&
        query_uint(req, "ef", HKV_EF_MAX, &ef)) {
        sa.r.fact = fact;
        sa.r.k = (uint32_t)k;
        sa.r.ef = (uint32_t)ef;
        similar_defer(srv, req, &sa);
    }
}

void hk_route_vectors_similar_post(hk_server *srv, h2o_req_t *req,
                                   const char *param)
{
    similar_arg sa;
    memset(&sa, 0, sizeof sa);
    sa.vs = srv->vs;
    sa.r.space = space_param(req, param);
    if (!sa.r.space) return;
    json_t *body = hk_body_json(req);
    if (!body) return;
    float *vec = NULL;
    uint64_t fact = 0, k = 0, ef = 0;
    json_t *v = json_object_get(body, "vector");
    if (!json_is_object(body)) {
        hk_send_field_error(req, 400, "invalid_parameter",
                            "the body is not a JSON object", "body");
        goto done;
    }
    if (!body_str(req, body, "text", &sa.r.text) ||
        !body_str(req, body, "predicate", &sa.r.predicate) ||
        !body_str(req, body, "entity", &sa.r.entity) ||
        !body_str(req, body, "tag", &sa.r.tag) ||
        !body_str(req, body, "source", &sa.r.source) ||
        !body_str(req, body, "query", &sa.r.query) ||
        !body_str(req, body, "var", &sa.r.query_var) ||
        !body_uint(req, body, "fact", INT64_MAX, &fact) ||
        !body_uint(req, body, "k", 1000, &k) ||
        !body_uint(req, body, "ef", HKV_EF_MAX, &ef))
        goto done;
    if (v) {
        size_t n = json_is_array(v) ? json_array_size(v) : 0;
        if (n == 0 || n > HKV_DIM_MAX) {
            hk_send_field_error(req, 400, "invalid_parameter",
                                "vector is an array of 1..4096 numbers",
                                "vector");
            goto done;
        }
        if (!(vec = hk_malloc(n * sizeof *vec))) {
            hk_http_send_error(req, 503, "out_of_memory", "out of memory",
                               NULL);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(v, i);
            double d = json_is_number(x) ? json_number_value(x) : NAN;
            if (!isfinite(d) || fabs(d) > 3.4e38) {
                hk_send_field_error(req, 400, "invalid_parameter",
                                    "vector holds a value that is not a "
                                    "finite number",
                                    "vector");
                goto done;
            }
            vec[i] = (float)d;
        }
        sa.r.vector = vec;
        sa.r.dim = (uint32_t)n;
    }
    sa.r.fact = fact;
    sa.r.k = (uint32_t)k;
    sa.r.ef = (uint32_t)ef;
    similar_defer(srv, req, &sa);
done:
    hk_free(vec);
    json_decref(body);
}

/* ==== GET /v2/search?mode=text|vector|hybrid ==== */

/* Most hits of a vector search answered on the loop thread: the index's
 * work grows with the hits asked for (ef is at least the limit). */
#define HSEARCH_INLINE_MAX 100u

typedef struct hsearch_job {
    hk_server *srv;       /* the server */
    hk_svc_hsearch_req r; /* request; strings point below */
    char *query;          /* r.query (owned) */
    char *space;          /* r.space (owned, may be NULL) */
    float *vector;        /* r.vector (owned, may be NULL) */
    size_t shown;         /* hits written */
    hk_buf out;           /* the answer */
    hk_err rc;            /* result */
    hk_error err;         /* why it failed */
} hsearch_job;

static void hsearch_free(hsearch_job *j)
{
    hk_free(j->query);
    hk_free(j->space);
    hk_free(j->vector);
    hk_buf_free(&j->out);
    hk_free(j);
}

/* Appends one hit {"score","fact"} as the text search route does. */
static hk_err hsearch_hit(void *ud, const hk_fact *f, double score,
                          hk_error *err)
{
    hsearch_job *j = ud;
    hk_err rc = hk_buf_appendf(
        &j->out, "%s{\"score\":%.6g,\"fact\":", j->shown ? "," : "", score);
    if (rc == HK_OK) rc = hk_fact_write_json(f, &j->out);
    if (rc == HK_OK) rc = hk_buf_append(&j->out, "}", 1);
    if (rc) return hk_error_set(err, rc, "out of memory");
    j->shown++;
    return HK_OK;
}

/* Runs the search of j in t, the answer into j->out. */
static void hsearch_run(hsearch_job *j, hk_txn *t)
{
    size_t shown = 0;
    hk_err rc = hk_buf_append_str(&j->out, "{\"query\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(&j->out, j->query, strlen(j->query));
    if (rc == HK_OK)
        rc = hk_buf_appendf(&j->out, ",\"mode\":\"%s\",\"results\":[",
                            hk_svc_smode_name(j->r.mode));
    if (rc) {
        j->rc = hk_error_set(&j->err, rc, "out of memory");
    } else {
        j->rc = hk_svc_hsearch(j->srv->vs, t, &j->r, &shown, &j->err);
        if (j->rc == HK_OK &&
            (rc = hk_buf_appendf(&j->out, "],\"count\":%zu}\n", shown)))
            j->rc = hk_error_set(&j->err, rc, "out of memory");
    }
}

static void hsearch_work(void *arg)
{
    hsearch_job *j = arg;
    hk_txn *t = NULL;
    hk_error_clear(&j->err);
    if ((j->rc = hk_txn_begin(j->srv->store, false, &t, &j->err))) return;
    hsearch_run(j, t);
    hk_txn_abort(t);
}

static void hsearch_after(h2o_req_t *req, void *arg)
{
    hsearch_job *j = arg;
    if (!req)
        ;
    else if (j->rc == HK_ERR_NOT_FOUND)
        hk_http_send_error(req, 404, "not_found", j->err.message, NULL);
    else if (j->rc != HK_OK)
        hk_send_store_error(req, &j->err);
    else
        hk_http_send_buf(req, 200, &j->out);
    hsearch_free(j);
}

/* A vector search by the client's vector whose index is in memory and
 * current is answered here on the loop thread with the loop's read
 * transaction: it takes about as long as the hand-off to a pool thread
 * and back would (a few hundred microseconds at a million vectors), and
 * skips that hand-off. Anything that may wait (reading or building the
 * index, a catch-up, embedding the text) returns false untouched, and the
 * caller defers the search instead. */
static bool hsearch_inline(h2o_req_t *req, hsearch_job *j)
{
    hk_loop *loop = hk_loop_self();
    hk_txn *t = hk_loop_read_txn(loop, &j->err);
    if (!t) return false;
    hk_error_clear(&j->err);
    j->r.no_wait = true;
    hsearch_run(j, t);
    hk_loop_read_done(loop);
    j->r.no_wait = false;
    if (j->rc == HK_ERR_BUSY) {
        hk_buf_reset(&j->out);
        j->shown = 0;
        j->rc = HK_OK;
        hk_error_clear(&j->err);
        return false;
    }
    hsearch_after(req, j);
    return true;
}

/* Optional non-negative number parameter name into *out. */
static bool query_weight(h2o_req_t *req, const char *name, double *out)
{
    bool bad = false;
    const char *s = hk_query_param(req, name, &bad);
    if (!bad && !s) return true;
    char *end = NULL;
    double d = bad ? -1 : strtod(s, &end);
    if (!bad && end && *end == 0 && end != s && isfinite(d) && d >= 0 &&
        d <= 1e6) {
        *out = d;
        return true;
    }
    hk_send_field_error(req, 400, "invalid_parameter",
                        "expected a number from 0 to 1e6", name);
    return false;
}

/* Optional parameter "vector": comma-separated finite numbers (at most
 * HKV_DIM_MAX) into *out (owned) and their count into *dim. */
static bool query_vector(h2o_req_t *req, float **out, uint32_t *dim)
{
    const char *s = NULL;
    *out = NULL;
    *dim = 0;
    if (!query_str(req, "vector", &s)) return false;
    if (!s) return true;
    float *v = hk_malloc(HKV_DIM_MAX * sizeof *v);
    if (!v) {
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return false;
    }
    uint32_t n = 0;
    const char *p = s;
    /* bounded by HKV_DIM_MAX numbers */
    while (n < HKV_DIM_MAX) {
        char *end = NULL;
        double d = strtod(p, &end);
        if (end == p || !isfinite(d) || fabs(d) > 3.4e38) break;
        v[n++] = (float)d;
        if (*end == 0) {
            *out = v;
            *dim = n;
            return true;
        }
        if (*end != ',') break;
        p = end + 1;
    }
    hk_free(v);
    hk_send_field_error(req, 400, "invalid_parameter",
                        "expected 1 to 4096 comma-separated numbers", "vector");
    return false;
}

void hk_route_search_mode(hk_server *srv, h2o_req_t *req, const char *qtext,
                          size_t limit)
{
    const char *mode = NULL, *space = NULL;
    hk_svc_smode m;
    double wt = 0, wv = 0;
    float *vector = NULL;
    uint32_t dim = 0;
    uint64_t ef = 0;
    if (!query_str(req, "mode", &mode) || !query_str(req, "space", &space) ||
        !query_weight(req, "w_text", &wt) ||
        !query_weight(req, "w_vector", &wv) ||
        !query_uint(req, "ef", HKV_EF_MAX, &ef) ||
        !query_vector(req, &vector, &dim))
        return;
    if (!mode || !hk_svc_smode_parse(mode, &m)) {
        hk_free(vector);
        hk_send_field_error(req, 400, "invalid_parameter",
                            "mode is text, vector or hybrid", "mode");
        return;
    }
    if (limit > 1000) limit = 1000;
    hsearch_job *j = hk_calloc(1, sizeof *j);
    if (j)
        j->vector = vector; /* owned by j from here */
    else
        hk_free(vector);
    if (!j || !(j->query = hk_strdup(qtext)) ||
        (space && !(j->space = hk_strdup(space)))) {
        if (j) hsearch_free(j);
        hk_http_send_error(req, 503, "out_of_memory", "out of memory", NULL);
        return;
    }
    j->srv = srv;
    j->out = (hk_buf)HK_BUF_INIT;
    j->r = (hk_svc_hsearch_req){.query = j->query,
                                .limit = limit,
                                .mode = m,
                                .space = j->space,
                                .w_text = wt,
                                .w_vector = wv,
                                .hit = hsearch_hit,
                                .hit_ud = j,
                                .vector = j->vector,
                                .dim = dim,
                                .ef = (uint32_t)ef};
    if (m == HK_SVC_SEARCH_VECTOR && j->vector && limit <= HSEARCH_INLINE_MAX &&
        hsearch_inline(req, j))
        return;
    if (hk_server_defer(req, hsearch_work, hsearch_after, j) != HK_OK) {
        hsearch_free(j);
        hk_http_send_error(req, 503, "shutting_down",
                           "the server is shutting down", NULL);
    }
}
