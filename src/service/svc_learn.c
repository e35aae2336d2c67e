/*
 * svc_learn.c — the learned model as service operations (svc_learn.h):
 * the per-process cache of loaded models, training from the KB, filtered
 * evaluation with baselines, scoring, link prediction, similar entities,
 * and their JSON.
 *
 * ==== The cache ====
 * One slot per KB directory (at most CACHE_SLOTS), guarded by one mutex:
 * the slot holds the current model with the identity of the file it came
 * from (device, inode, size, mtime). An acquire stats the file and, when
 * the identity changed, loads the new file and swaps it in; the old
 * model lives on until its last reader releases it (reference count).
 * A process that trains publishes its model into the slot directly.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/json_text.h"
#include "core/mem.h"
#include "service/svc_learn.h"

/* ==== Cache of loaded models ==== */

#define CACHE_SLOTS 16

struct hk_svc_model {
    hkl_model *m;     /* the model (owned) */
    atomic_uint refs; /* references: the cache's and every reader's */
};

typedef struct slot {
    char path[4096];   /* model file path ("" = free slot) */
    hk_svc_model *cur; /* current model or NULL */
    dev_t dev;         /* identity of the file cur came from */
    ino_t ino;
    off_t size;
    struct timespec mtime;
} slot;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static slot cache[CACHE_SLOTS];

static hk_svc_model *handle_new(hkl_model *m)
{
    hk_svc_model *h = hk_malloc(sizeof *h);
    if (!h) return NULL;
    (void)hkl_quantize(m); /* without it (no memory) predict scans exactly */
    /* without them (none fitted, too large, no memory): no combined
     * ranker, auto answers with the model */
    (void)hkl_combo_prepare(m);
    h->m = m;
    atomic_init(&h->refs, 1);
    return h;
}

void hk_svc_model_release(hk_svc_model *h)
{
    if (!h) return;
    if (atomic_fetch_sub(&h->refs, 1) == 1) {
        hkl_model_free(h->m);
        hk_free(h);
    }
}

const hkl_model *hk_svc_model_get(const hk_svc_model *h)
{
    return h->m;
}

hk_err hk_svc_model_path(hk_store *s, char *out, size_t cap, hk_error *err)
{
    int n = snprintf(out, cap, "%s/%s", hk_store_path(s), HKL_MODEL_FILE);
    if (n < 0 || (size_t)n >= cap)
        return hk_error_set(err, HK_ERR_INVALID, "data directory too long");
    return HK_OK;
}

static slot *slot_for(const char *path)
{
    slot *free_slot = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!strcmp(cache[i].path, path)) return &cache[i];
        if (!free_slot && !cache[i].path[0]) free_slot = &cache[i];
    }
    if (!free_slot) { /* evict the first slot: its readers keep their refs */
        free_slot = &cache[0];
        hk_svc_model_release(free_slot->cur);
        memset(free_slot, 0, sizeof *free_slot);
    }
    snprintf(free_slot->path, sizeof free_slot->path, "%s", path);
    return free_slot;
}

static bool same_file(const slot *sl, const struct stat *st)
{
    return sl->cur && sl->dev == st->st_dev && sl->ino == st->st_ino &&
           sl->size == st->st_size && sl->mtime.tv_sec == st->st_mtim.tv_sec &&
           sl->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void slot_set(slot *sl, hk_svc_model *h, const struct stat *st)
{
    hk_svc_model_release(sl->cur);
    sl->cur = h;
    sl->dev = st->st_dev;
    sl->ino = st->st_ino;
    sl->size = st->st_size;
    sl->mtime = st->st_mtim;
}

hk_err hk_svc_model_acquire(hk_store *s, hk_svc_model **out, hk_error *err)
{
    char path[4096];
    *out = NULL;
    hk_err rc = hk_svc_model_path(s, path, sizeof path, err);
    if (rc) return rc;
    pthread_mutex_lock(&cache_lock);
    slot *sl = slot_for(path);
    struct stat st;
    if (stat(path, &st)) {
        int e = errno;
        hk_svc_model_release(sl->cur);
        sl->cur = NULL;
        pthread_mutex_unlock(&cache_lock);
        if (e == ENOENT)
            return hk_error_set(err, HK_ERR_NOT_FOUND,
                                "this KB has no model; train one with "
                                "`hakgal model train`");
        return hk_error_set(err, HK_ERR_IO, "cannot stat %s (%s)", path,
                            strerror(e));
    }
    if (!same_file(sl, &st)) {
        hkl_model *m = NULL;
        rc = hkl_load(path, &m, err);
        hk_svc_model *h = rc ? NULL : handle_new(m);
        if (!rc && !h) {
            hkl_model_free(m);
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        }
        if (rc) {
            pthread_mutex_unlock(&cache_lock);
            return rc;
        }
        slot_set(sl, h, &st);
    }
    atomic_fetch_add(&sl->cur->refs, 1);
    *out = sl->cur;
    pthread_mutex_unlock(&cache_lock);
    return HK_OK;
}

hk_err hk_svc_model_age(hk_txn *t, const hkl_model *m, uint64_t *age,
                        hk_error *err)
{
    hk_stats st;
    hk_err rc = hk_store_stats(t, &st, err);
    if (rc) return rc;
    *age =
        st.audit_entries > m->audit_seq ? st.audit_entries - m->audit_seq : 0;
    return HK_OK;
}

/* ==== JSON ==== */

json_t *hk_svc_metrics_jansson(const hkl_metrics *mt)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:I}", "mrr", mt->mrr, "hits1",
                     mt->hits1, "hits3", mt->hits3, "hits10", mt->hits10,
                     "mean_rank", mt->mean_rank, "ranks", (json_int_t)mt->n);
}

json_t *hk_svc_model_info_jansson(const hkl_model *m, bool age_known,
                                  uint64_t age)
{
    char when[32];
    hk_time_format(m->trained_us, when);
    json_t *j = json_pack(
        "{s:s, s:i, s:I, s:I, s:s, s:I, "
        "s:{s:i, s:I, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:i}, "
        "s:{s:I, s:f, s:f}, s:{s:s, s:f, s:f}, s:o, s:o, "
        "s:{s:i, s:i, s:f, s:f, s:I, s:f, s:I}}",
        "model", hkl_kind_name(m->p.kind), "dim", (int)m->p.dim, "entities",
        (json_int_t)m->ent.n, "relations", (json_int_t)m->rel.n, "trained_at",
        when, "audit_seq", (json_int_t)m->audit_seq, "params", "epochs",
        (int)m->p.epochs, "seed", (json_int_t)m->p.seed, "lr",
        hk_float_decimal(m->p.lr), "reg", hk_float_decimal(m->p.reg), "init",
        hk_float_decimal(m->p.init_scale), "negatives", (int)m->p.negatives,
        "threads", (int)m->p.threads, "eval_every", (int)m->p.eval_every,
        "patience", (int)m->p.patience, "valid_max", (int)m->p.valid_max,
        "split", "seed", (json_int_t)m->split_seed, "valid", m->split_valid,
        "test", m->split_test, "calibration", "method", "platt", "a",
        m->platt_a, "b", m->platt_b, "valid", hk_svc_metrics_jansson(&m->valid),
        "test", hk_svc_metrics_jansson(&m->test), "training", "epochs_run",
        (int)m->epochs_run, "best_epoch", (int)m->best_epoch, "seconds",
        m->train_seconds, "last_loss", m->last_loss, "triples",
        (json_int_t)m->n_train, "triples_per_second", m->triples_per_sec,
        "bytes_per_entity", (json_int_t)((size_t)m->width * sizeof(float)));
    if (j && m->combo.fitted) {
        static const char *names[HKL_COMBO_NF] = {
            "model", "log_freq",   "seen",     "log_path",   "adjacent",
            "type",  "log_degree", "log_role", "log_two_hop"};
        json_t *w = json_object();
        for (int k = 0; k < HKL_COMBO_NF; k++)
            json_object_set_new(w, names[k], json_real(m->combo.w[k]));
        json_object_set_new(
            j, "combined",
            json_pack("{s:o, s:I, s:f, s:f, s:o}", "weights", w, "fit_queries",
                      (json_int_t)m->combo.fit_queries, "fit_loss",
                      m->combo.fit_loss, "l2", m->combo.fit_l2, "valid",
                      hk_svc_metrics_jansson(&m->combo.valid)));
    } else if (j) {
        json_object_set_new(j, "combined", json_null());
    }
    if (j && age_known)
        json_object_set_new(j, "age", json_integer((json_int_t)age));
    return j;
}

/* ==== Training ==== */

void hk_svc_model_train_req_init(hk_svc_model_train_req *r)
{
    memset(r, 0, sizeof *r);
    hkl_params_default(&r->params);
    r->split_seed = 1;
    r->valid = 0.05;
    r->test = 0.05;
    r->space = HK_SVC_GRAPH_SPACE;
}

hk_err hk_svc_model_collect(hk_txn *t, const hk_svc_model_train_req *r,
                            hkl_data *d, uint64_t *audit_seq, hk_error *err)
{
    const char *bad = !(r->valid >= 0 && r->valid <= 0.5) ? "valid"
                      : !(r->test >= 0 && r->test <= 0.5) ? "test"
                                                          : NULL;
    if (bad) {
        hk_error_set(err, HK_ERR_INVALID, "%s fraction must be in [0, 0.5]",
                     bad);
        snprintf(err->field, sizeof err->field, "%s", bad);
        return HK_ERR_INVALID;
    }
    hk_stats st;
    hk_err rc = hk_store_stats(t, &st, err);
    if (rc) return rc;
    *audit_seq = st.audit_entries;
    rc = hkl_data_from_kb(t, d, r->split_seed, r->valid, r->test, err);
    if (rc) return rc;
    return hkl_data_finish(d, err);
}

hk_err hk_svc_model_train(hk_store *s, const hkl_data *d, uint64_t audit_seq,
                          const hk_svc_model_train_req *r, hk_svc_model **out,
                          hk_error *err)
{
    hk_svc_model_train_req q = *r;
    q.vs = NULL; /* no publication */
    return hk_svc_model_train_space(s, d, audit_seq, &q, out, NULL, NULL, NULL,
                                    err);
}

hk_err hk_svc_model_train_space(hk_store *s, const hkl_data *d,
                                uint64_t audit_seq,
                                const hk_svc_model_train_req *r,
                                hk_svc_model **out, hk_svc_model_space_res *sp,
                                hk_err *space_rc, hk_error *space_err,
                                hk_error *err)
{
    char path[4096];
    if (out) *out = NULL;
    if (space_rc) *space_rc = HK_OK;
    hk_err rc = hk_svc_model_path(s, path, sizeof path, err);
    if (rc) return rc;
    hkl_model *m = NULL;
    if ((rc = hkl_train(d, &r->params, r->progress, r->ud, &m, err))) return rc;
    m->audit_seq = audit_seq;
    m->split_seed = r->split_seed;
    m->split_valid = r->valid;
    m->split_test = r->test;
    if (r->vs && r->space) { /* the model is still private: no reader */
        hk_svc_model_space_res res;
        hk_error e;
        hk_error_clear(&e);
        hk_err prc =
            hk_svc_model_publish_space(s, r->vs, m, r->space, &res, &e);
        m->audit_seq += res.audit_entries; /* its own writes: no age */
        if (sp) *sp = res;
        if (space_rc) *space_rc = prc;
        if (space_err) *space_err = e;
    }
    if ((rc = hkl_save(m, path, err))) {
        hkl_model_free(m);
        return rc;
    }
    hk_svc_model *h = handle_new(m);
    if (!h) {
        hkl_model_free(m);
        return HK_OK; /* saved; the next acquire loads it */
    }
    struct stat st;
    pthread_mutex_lock(&cache_lock);
    if (stat(path, &st) == 0) {
        slot *sl = slot_for(path);
        atomic_fetch_add(&h->refs, 1); /* the slot's reference */
        slot_set(sl, h, &st);
    }
    pthread_mutex_unlock(&cache_lock);
    if (out)
        *out = h;
    else
        hk_svc_model_release(h);
    return HK_OK;
}

/* ==== Training request from JSON ==== */

static hk_err train_field(hk_error *err, const char *field, const char *why)
{
    hk_error_set(err, HK_ERR_INVALID, "%s: %s", field, why);
    snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

hk_err hk_svc_model_train_req_json(const json_t *o, hk_svc_model_train_req *r,
                                   hk_error *err)
{
    if (!o) return HK_OK;
    if (!json_is_object(o))
        return train_field(err, "body", "expected a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        hkl_params *p = &r->params;
        if (!strcmp(key, "kind")) {
            if (!json_is_string(v) ||
                !hkl_kind_parse(json_string_value(v), &p->kind))
                return train_field(err, key,
                                   "expected \"complex\" or "
                                   "\"distmult\"");
            continue;
        }
        if (!strcmp(key, "lr") || !strcmp(key, "reg") ||
            !strcmp(key, "valid") || !strcmp(key, "test")) {
            if (!json_is_number(v))
                return train_field(err, key, "expected a number");
            double x = json_number_value(v);
            if (!strcmp(key, "lr")) p->lr = (float)x;
            if (!strcmp(key, "reg")) p->reg = (float)x;
            if (!strcmp(key, "valid")) r->valid = x;
            if (!strcmp(key, "test")) r->test = x;
            continue;
        }
        static const char *ints[] = {"dim",  "epochs",    "threads",
                                     "seed", "negatives", "split_seed"};
        bool known = false;
        for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
            known |= !strcmp(key, ints[i]);
        if (!known) return train_field(err, key, "unknown parameter");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return train_field(err, key, "expected a non-negative integer");
        json_int_t x = json_integer_value(v);
        bool u32 = strcmp(key, "seed") && strcmp(key, "split_seed");
        if (u32 && x > UINT32_MAX) return train_field(err, key, "too large");
        if (!strcmp(key, "dim")) p->dim = (uint32_t)x;
        if (!strcmp(key, "epochs")) p->epochs = (uint32_t)x;
        if (!strcmp(key, "threads")) p->threads = (uint32_t)x;
        if (!strcmp(key, "negatives")) p->negatives = (uint32_t)x;
        if (!strcmp(key, "seed")) p->seed = (uint64_t)x;
        if (!strcmp(key, "split_seed")) r->split_seed = (uint64_t)x;
    }
    if (!(r->valid >= 0 && r->valid <= 0.5))
        return train_field(err, "valid", "expected a fraction in [0, 0.5]");
    if (!(r->test >= 0 && r->test <= 0.5))
        return train_field(err, "test", "expected a fraction in [0, 0.5]");
    return hkl_params_check(&r->params, err);
}

/* ==== Training in the background ==== */

/* One job slot per process: the server has one KB, and two trainings at
 * once would only fight over the same two cores. */
static struct {
    pthread_mutex_t lock;
    hk_store *store;            /* KB of the last job (NULL: none yet) */
    pthread_t tid;              /* the job's thread */
    bool joinable;              /* tid not joined yet */
    atomic_bool stop;           /* asked to stop */
    hk_svc_model_train_req req; /* the job's request */
    hk_svc_train_status st;     /* guarded by lock */
} job = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool job_epoch(void *ud, uint32_t epoch, uint32_t epochs, double loss,
                      double valid_mrr)
{
    (void)ud;
    pthread_mutex_lock(&job.lock);
    job.st.epoch = epoch;
    job.st.epochs = epochs;
    job.st.loss = loss;
    if (valid_mrr >= 0) job.st.valid_mrr = valid_mrr;
    pthread_mutex_unlock(&job.lock);
    return !atomic_load(&job.stop);
}

static void *job_main(void *arg)
{
    (void)arg;
    hk_error e;
    hk_error_clear(&e);
    hkl_data d;
    hkl_data_init(&d);
    uint64_t seq = 0;
    hk_txn *t = NULL;
    hk_err rc = hk_txn_begin(job.store, false, &t, &e);
    if (rc == HK_OK) rc = hk_svc_model_collect(t, &job.req, &d, &seq, &e);
    if (t) hk_txn_abort(t); /* training needs no snapshot */
    pthread_mutex_lock(&job.lock);
    job.st.triples = d.n[HKL_TRAIN];
    job.st.audit_seq = seq;
    pthread_mutex_unlock(&job.lock);
    if (rc == HK_OK && atomic_load(&job.stop))
        rc = hk_error_set(&e, HK_ERR_STATE, "training was stopped");
    hk_svc_model_space_res sr;
    memset(&sr, 0, sizeof sr);
    hk_error se;
    hk_error_clear(&se);
    hk_err src = HK_OK;
    if (rc == HK_OK)
        rc = hk_svc_model_train_space(job.store, &d, seq, &job.req, NULL, &sr,
                                      &src, &se, &e);
    if (src != HK_OK) sr.written = 0;
    hkl_data_free(&d);
    pthread_mutex_lock(&job.lock);
    job.st.ended_us = hk_now_us();
    if (rc == HK_OK) {
        job.st.state = HK_SVC_TRAIN_DONE;
        job.st.space_vectors = sr.written;
        snprintf(job.st.space_error, sizeof job.st.space_error, "%s",
                 se.message);
    } else {
        job.st.state =
            atomic_load(&job.stop) ? HK_SVC_TRAIN_STOPPED : HK_SVC_TRAIN_FAILED;
        snprintf(job.st.error, sizeof job.st.error, "%s", e.message);
    }
    pthread_mutex_unlock(&job.lock);
    return NULL;
}

hk_err hk_svc_train_start(hk_store *s, const hk_svc_model_train_req *r,
                          hk_error *err)
{
    hk_err rc = hkl_params_check(&r->params, err);
    if (rc) return rc;
    pthread_mutex_lock(&job.lock);
    if (job.st.state == HK_SVC_TRAIN_RUNNING) {
        pthread_mutex_unlock(&job.lock);
        return hk_error_set(err, HK_ERR_BUSY,
                            "a training is already running (started %.0f s "
                            "ago); wait for it or watch GET /v2/model/train",
                            (double)(hk_now_us() - job.st.started_us) / 1e6);
    }
    if (job.joinable) { /* the previous job ended: reap its thread */
        pthread_join(job.tid, NULL);
        job.joinable = false;
    }
    job.store = s;
    job.req = *r;
    job.req.progress = job_epoch;
    job.req.ud = NULL;
    atomic_store(&job.stop, false);
    memset(&job.st, 0, sizeof job.st);
    job.st.state = HK_SVC_TRAIN_RUNNING;
    job.st.epochs = r->params.epochs;
    job.st.valid_mrr = -1;
    job.st.started_us = hk_now_us();
    int e = pthread_create(&job.tid, NULL, job_main, NULL);
    if (e != 0) {
        job.st.state = HK_SVC_TRAIN_FAILED;
        snprintf(job.st.error, sizeof job.st.error, "cannot start a thread: %s",
                 strerror(e));
        pthread_mutex_unlock(&job.lock);
        return hk_error_set(err, HK_ERR_NOMEM,
                            "cannot start the training thread: %s",
                            strerror(e));
    }
    job.joinable = true;
    pthread_mutex_unlock(&job.lock);
    return HK_OK;
}

void hk_svc_train_status_get(hk_store *s, hk_svc_train_status *out)
{
    pthread_mutex_lock(&job.lock);
    if (job.store == s) {
        *out = job.st;
    } else {
        memset(out, 0, sizeof *out);
        out->valid_mrr = -1;
    }
    pthread_mutex_unlock(&job.lock);
}

void hk_svc_train_stop(hk_store *s)
{
    pthread_mutex_lock(&job.lock);
    bool mine = job.store == s && job.joinable;
    pthread_t tid = job.tid;
    if (mine) {
        atomic_store(&job.stop, true);
        job.joinable = false;
    }
    pthread_mutex_unlock(&job.lock);
    if (mine) pthread_join(tid, NULL);
}

json_t *hk_svc_train_status_jansson(const hk_svc_train_status *st)
{
    static const char *names[] = {"idle", "running", "done", "failed",
                                  "stopped"};
    char started[40] = "", ended[40] = "";
    if (st->started_us) hk_time_format(st->started_us, started);
    if (st->ended_us) hk_time_format(st->ended_us, ended);
    json_t *j = json_pack(
        "{s:s, s:i, s:i, s:f, s:o, s:I, s:I, s:o, s:o, s:o}", "state",
        names[st->state], "epoch", (int)st->epoch, "epochs", (int)st->epochs,
        "loss", st->loss, "valid_mrr",
        st->valid_mrr >= 0 ? json_real(st->valid_mrr) : json_null(), "triples",
        (json_int_t)st->triples, "audit_seq", (json_int_t)st->audit_seq,
        "started_at", st->started_us ? json_string(started) : json_null(),
        "ended_at", st->ended_us ? json_string(ended) : json_null(), "error",
        st->state == HK_SVC_TRAIN_FAILED || st->state == HK_SVC_TRAIN_STOPPED
            ? json_string(st->error)
            : json_null());
    if (j && st->state == HK_SVC_TRAIN_DONE) {
        json_object_set_new(j, "space_vectors",
                            json_integer((json_int_t)st->space_vectors));
        json_object_set_new(j, "space_error",
                            st->space_error[0] ? json_string(st->space_error)
                                               : json_null());
    }
    return j;
}

/* ==== Evaluation ==== */

static hk_err eval_data(const hkl_data *d, const hkl_model *m,
                        uint64_t max_test, uint32_t threads,
                        hk_svc_model_eval_res *res, hk_error *err)
{
    size_t n = d->n[HKL_TEST], take = max_test && n > max_test ? max_test : n;
    hkl_triple *v = hk_malloc((take ? take : 1) * sizeof *v);
    if (!v) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < take; i++)
        v[i] =
            d->split[HKL_TEST][(size_t)((double)i * (double)n / (double)take)];
    res->test_triples = take;
    res->unknown = 0;
    for (size_t i = 0; i < take; i++)
        res->unknown +=
            v[i].h >= m->ent.n || v[i].t >= m->ent.n || v[i].r >= m->rel.n;
    hk_err rc = hkl_eval(m, &d->known, v, take, threads, &res->model);
    if (!rc) {
        rc = hkl_baselines(d, v, take, &res->freq, &res->path);
        if (!rc) rc = hkl_eval_backoff(m, d, v, take, &res->backoff);
        if (!rc && m->combo.fitted)
            rc = hkl_eval_combo(m, d, v, take, &res->combo);
        if (rc == HK_ERR_LIMIT) rc = HK_OK; /* too large: no baselines */
    }
    hk_free(v);
    if (rc) return hk_error_set(err, rc, "evaluation: %s", hk_strerror(rc));
    return HK_OK;
}

hk_err hk_svc_model_eval(hk_txn *t, const hkl_model *m, uint64_t max_test,
                         uint32_t threads, hk_svc_model_eval_res *res,
                         hk_error *err)
{
    memset(res, 0, sizeof *res);
    hkl_data d;
    hkl_data_init(&d);
    hk_err rc = HK_OK;
    /* the model's ids first, so that its rows line up with d's ids */
    for (uint32_t i = 0; i < m->ent.n && !rc; i++) {
        uint32_t id;
        rc = hkl_names_intern(&d.ent, m->ent.v[i], strlen(m->ent.v[i]), &id);
    }
    for (uint32_t i = 0; i < m->rel.n && !rc; i++) {
        uint32_t id;
        rc = hkl_names_intern(&d.rel, m->rel.v[i], strlen(m->rel.v[i]), &id);
    }
    if (rc) {
        hkl_data_free(&d);
        return hk_error_set(err, rc, "out of memory");
    }
    rc = hkl_data_from_kb(t, &d, m->split_seed, m->split_valid, m->split_test,
                          err);
    if (!rc) rc = hkl_data_finish(&d, err);
    if (!rc)
        rc = eval_data(&d, m, max_test ? max_test : 5000, threads, res, err);
    hkl_data_free(&d);
    return rc;
}

hk_err hk_svc_model_eval_split(const char *dir, const hk_svc_model_train_req *r,
                               hk_svc_model_eval_res *res, hkl_model **out,
                               hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (out) *out = NULL;
    hkl_data d;
    hkl_data_init(&d);
    hkl_model *m = NULL;
    hk_err rc = hkl_data_read_split(dir, &d, err);
    if (!rc) rc = hkl_data_finish(&d, err);
    if (!rc) rc = hkl_train(&d, &r->params, r->progress, r->ud, &m, err);
    if (!rc) rc = eval_data(&d, m, 0, r->params.threads, res, err);
    hkl_data_free(&d);
    if (!rc && out)
        *out = m;
    else
        hkl_model_free(m);
    return rc;
}

json_t *hk_svc_model_eval_jansson(const hk_svc_model_eval_res *res)
{
    return json_pack(
        "{s:o, s:o, s:o, s:{s:o, s:o}, s:I, s:I}", "model",
        hk_svc_metrics_jansson(&res->model), "frequency_backoff",
        hk_svc_metrics_jansson(&res->backoff), "combined",
        res->combo.n ? hk_svc_metrics_jansson(&res->combo) : json_null(),
        "baselines", "most_frequent", hk_svc_metrics_jansson(&res->freq),
        "one_hop_path", hk_svc_metrics_jansson(&res->path), "test_triples",
        (json_int_t)res->test_triples, "unknown", (json_int_t)res->unknown);
}

/* ==== Names of a statement ==== */

static hk_err find_name(const hkl_names *nm, const char *s, const char *what,
                        const char *field, hk_error *err, uint32_t *id)
{
    *id = hkl_names_find(nm, s, strlen(s));
    if (*id != UINT32_MAX) return HK_OK;
    hk_error_set(err, HK_ERR_NOT_FOUND,
                 "the model does not know the %s '%s' (retrain it after "
                 "adding facts about it)",
                 what, s);
    snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_NOT_FOUND;
}

/* The edges of statement st in m's ids (as learn.h, "Facts as triples"). */
static hk_err statement_edges(const hkl_model *m, const hk_statement *st,
                              hkl_triple *e, uint32_t *n, hk_error *err)
{
    char rel[HK_MAX_PREDICATE_BYTES + 16], field[24];
    uint32_t h;
    hk_err rc = find_name(&m->ent, st->args[0], "entity", "args[0]", err, &h);
    if (rc) return rc;
    *n = 0;
    if (st->n_args <= 2) {
        e[0].h = h;
        if ((rc = find_name(&m->rel, st->predicate, "predicate", "predicate",
                            err, &e[0].r)))
            return rc;
        const char *t = st->n_args == 2 ? st->args[1] : "";
        if ((rc = find_name(&m->ent, t, "entity", "args[1]", err, &e[0].t)))
            return rc;
        *n = 1;
        return HK_OK;
    }
    for (uint32_t i = 1; i < st->n_args; i++) {
        snprintf(rel, sizeof rel, "%s#%u", st->predicate, i);
        snprintf(field, sizeof field, "args[%u]", i);
        e[*n].h = h;
        if ((rc = find_name(&m->rel, rel, "predicate role", "predicate", err,
                            &e[*n].r)) ||
            (rc = find_name(&m->ent, st->args[i], "entity", field, err,
                            &e[*n].t)))
            return rc;
        (*n)++;
    }
    return HK_OK;
}

static hk_err in_kb(hk_txn *t, const hk_statement *st, bool *yes, hk_error *err)
{
    hk_fact_id id;
    hk_err rc = hk_store_find(t, st, &id, err);
    *yes = rc == HK_OK;
    return rc == HK_ERR_NOT_FOUND ? HK_OK : rc;
}

/* ==== Score ==== */

/* The combined score of edges e[0..n) (their mean) and, under the
 * combined ranker, the worst filtered rank of their objects. */
static hk_err combined_score(const hkl_model *m, const hkl_triple *e,
                             uint32_t n, hkl_ranker rk,
                             hk_svc_model_score_res *res, hk_error *err)
{
    double sum = 0, worst = 0;
    hk_err rc = HK_OK;
    for (uint32_t i = 0; i < n && !rc; i++) {
        double sc, r;
        if ((rc = hkl_combo_rank_tail(m, e[i].h, e[i].r, e[i].t, &sc, &r)))
            break;
        sum += sc;
        if (r > worst) worst = r;
    }
    if (rc)
        return hk_error_set(err, rc, "the combined ranker failed: %s",
                            hk_strerror(rc));
    res->has_combined = true;
    res->combined = sum / n;
    if (rk == HKL_RANKER_COMBINED) res->rank_ranker = worst;
    return HK_OK;
}

hk_err hk_svc_model_score(hk_txn *t, const hkl_model *m, const char *text,
                          size_t len, hk_svc_model_score_res *res,
                          hk_error *err)
{
    memset(res, 0, sizeof *res);
    hk_statement st;
    hk_err rc = hk_statement_parse(text, len, &st, err);
    if (rc) return rc;
    hkl_triple e[HK_MAX_ARGS];
    uint32_t n = 0;
    float *scratch = NULL;
    if ((rc = statement_edges(m, &st, e, &n, err))) goto done;
    scratch = hk_malloc((size_t)m->ent.n * sizeof *scratch);
    if (!scratch) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += hkl_score(m, e[i].h, e[i].r, e[i].t);
        double rk =
            hkl_rank_tail(m, &m->known, e[i].h, e[i].r, e[i].t, scratch);
        if (rk > res->rank) res->rank = rk;
    }
    if (st.n_args == 2)
        res->rank_head = hkl_rank_tail(m, &m->known, e[0].t, e[0].r + m->rel.n,
                                       e[0].h, scratch);
    res->raw = sum / n;
    hkl_ranker rk = hkl_ranker_auto(m);
    res->ranker = hkl_ranker_name(rk);
    res->rank_ranker = res->rank;
    if (m->cf && (rc = combined_score(m, e, n, rk, res, err))) goto done;
    res->plausibility = hkl_plausibility(m, res->raw);
    res->entities = m->ent.n;
    res->edges = n;
    rc = in_kb(t, &st, &res->in_kb, err);
done:
    hk_free(scratch);
    hk_statement_release(&st);
    return rc;
}

json_t *hk_svc_model_score_jansson(const char *statement,
                                   const hk_svc_model_score_res *res)
{
    json_t *j =
        json_pack("{s:s, s:f, s:f, s:f, s:I, s:I, s:b}", "statement", statement,
                  "plausibility", res->plausibility, "score", res->raw, "rank",
                  res->rank, "entities", (json_int_t)res->entities, "edges",
                  (json_int_t)res->edges, "in_kb", res->in_kb);
    if (j && res->rank_head > 0)
        json_object_set_new(j, "rank_subject", json_real(res->rank_head));
    if (j && res->ranker) {
        json_object_set_new(j, "ranker", json_string(res->ranker));
        json_object_set_new(j, "rank_ranker", json_real(res->rank_ranker));
    }
    if (j && res->has_combined)
        json_object_set_new(j, "combined", json_real(res->combined));
    return j;
}

/* ==== Predict ==== */

void hk_svc_model_predict_free(hk_svc_model_predict_res *res)
{
    for (size_t i = 0; i < res->n; i++) {
        hk_free(res->v[i].name);
        hk_free(res->v[i].statement);
    }
    hk_free(res->v);
    memset(res, 0, sizeof *res);
}

static hk_err bad_pattern(hk_error *err, const char *why)
{
    hk_error_set(err, HK_ERR_INVALID,
                 "%s: predict takes 'P(a, ?x)', 'P(?x, b)' or '?r(a, b)'", why);
    snprintf(err->field, sizeof err->field, "pattern");
    return HK_ERR_INVALID;
}

hk_err hk_svc_model_predict(hk_txn *t, const hkl_model *m, const char *text,
                            size_t len, uint32_t k,
                            hk_svc_model_predict_res *res, hk_error *err)
{
    return hk_svc_model_predict_ranker(t, m, text, len, k, HKL_RANKER_AUTO, res,
                                       err);
}

hk_err hk_svc_model_predict_ranker(hk_txn *t, const hkl_model *m,
                                   const char *text, size_t len, uint32_t k,
                                   hkl_ranker ranker,
                                   hk_svc_model_predict_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (ranker == HKL_RANKER_COMBINED && !m->cf) {
        hk_error_set(err, HK_ERR_STATE,
                     "the model has no combined ranker (none fitted: no "
                     "validation split, a KB above its table limit or a "
                     "model file of version 1); use ranker model or auto");
        snprintf(err->field, sizeof err->field, "ranker");
        return HK_ERR_STATE;
    }
    if (ranker == HKL_RANKER_AUTO) ranker = hkl_ranker_auto(m);
    if (k == 0) k = 10;
    if (k > 1000) return bad_pattern(err, "k must be at most 1000");
    hk_pattern p;
    hk_err rc = hk_pattern_parse(text, len, &p, err);
    if (rc) return rc;
    float *s = NULL;
    hkl_hit *hits = NULL;
    hk_buf b = HK_BUF_INIT;
    if (p.n_args != 2) {
        rc = bad_pattern(err, "the pattern must have two arguments");
        goto done;
    }
    int var = -1; /* 0, 1: argument; 2: predicate */
    if (p.predicate.kind != HK_TERM_CONST) var = 2;
    for (int i = 0; i < 2; i++)
        if (p.args[i].kind != HK_TERM_CONST) {
            if (var >= 0) {
                rc = bad_pattern(err, "exactly one slot must be unknown");
                goto done;
            }
            var = i;
        }
    if (var < 0) {
        rc = bad_pattern(err, "one slot must be unknown (score a statement "
                              "with `model score`)");
        goto done;
    }
    uint32_t a = 0, bb = 0, r = 0, n;
    if (var != 0 &&
        (rc = find_name(&m->ent, p.args[0].text, "entity", "args[0]", err, &a)))
        goto done;
    if (var != 1 && (rc = find_name(&m->ent, p.args[1].text, "entity",
                                    "args[1]", err, &bb)))
        goto done;
    if (var != 2 && (rc = find_name(&m->rel, p.predicate.text, "predicate",
                                    "predicate", err, &r)))
        goto done;
    n = var == 2 ? m->rel.n : m->ent.n;
    s = hk_malloc((size_t)(n ? n : 1) * sizeof *s);
    hits = hk_malloc((size_t)k * sizeof *hits);
    res->v = hk_calloc(k, sizeof *res->v);
    if (!s || !hits || !res->v) goto nomem;
    uint32_t skip[2] = {hkl_names_find(&m->ent, "", 0), UINT32_MAX};
    size_t n_skip = 1;
    if (var == 2) {
        res->what = "predicate";
        for (uint32_t i = 0; i < n; i++) /* roles of n-ary facts: never */
            s[i] = strchr(m->rel.v[i], '#') ? NAN : hkl_score(m, a, i, bb);
        /* predicates of unary facts (tail "") cannot take two arguments */
        for (uint32_t i = 0; skip[0] != UINT32_MAX && i < n; i++)
            if (hkl_known_count(&m->known, n, skip[0], i + n)) s[i] = NAN;
        n_skip = 0;
    }
    size_t got;
    uint32_t q = var == 1 ? a : bb, rd = var == 1 ? r : r + m->rel.n;
    if (var == 2) ranker = HKL_RANKER_MODEL;
    res->ranker = hkl_ranker_name(ranker);
    if (var != 2) res->what = var == 1 ? "object" : "subject";
    if (var == 2) {
        got = hkl_top_k(s, n, k, skip, n_skip, hits);
    } else if (ranker == HKL_RANKER_COMBINED) {
        got = hkl_predict_combo(m, q, rd, k, skip, n_skip, hits, &rc);
        if (rc) {
            hk_error_set(err, rc, "the combined ranker failed: %s",
                         hk_strerror(rc));
            goto done;
        }
    } else {
        got = hkl_predict(m, q, rd, k, skip, n_skip, s, hits);
    }
    for (size_t i = 0; i < got; i++) {
        hk_statement st;
        memset(&st, 0, sizeof st);
        const char *name =
            var == 2 ? m->rel.v[hits[i].id] : m->ent.v[hits[i].id];
        st.predicate = var == 2 ? name : p.predicate.text;
        st.n_args = 2;
        st.args[0] = var == 0 ? name : p.args[0].text;
        st.args[1] = var == 1 ? name : p.args[1].text;
        hk_svc_model_cand *c = &res->v[res->n];
        c->raw = hits[i].score;
        if (var != 2 && ranker == HKL_RANKER_COMBINED) {
            c->combined = hits[i].score;
            c->raw = var == 1 ? hkl_score(m, a, r, hits[i].id)
                              : hkl_score(m, hits[i].id, r, bb);
        }
        c->plausibility = hkl_plausibility(m, c->raw);
        c->name = hk_strdup(name);
        hk_buf_reset(&b);
        if (!c->name || hk_statement_format(&st, &b)) goto nomem;
        c->statement = hk_strdup(b.data);
        if (!c->statement) goto nomem;
        res->n++;
        if ((rc = in_kb(t, &st, &c->known, err))) goto done;
    }
    rc = HK_OK;
    goto done;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
done:
    if (rc) hk_svc_model_predict_free(res);
    hk_free(s);
    hk_free(hits);
    hk_buf_free(&b);
    hk_pattern_release(&p);
    return rc;
}

json_t *hk_svc_model_predict_jansson(const char *pattern,
                                     const hk_svc_model_predict_res *res)
{
    json_t *arr = json_array();
    bool combined = res->ranker && !strcmp(res->ranker, "combined");
    for (size_t i = 0; arr && i < res->n; i++) {
        const hk_svc_model_cand *c = &res->v[i];
        json_t *o = json_pack("{s:i, s:s, s:s, s:f, s:f, s:b}", "rank",
                              (int)(i + 1), "candidate", c->name, "statement",
                              c->statement, "plausibility", c->plausibility,
                              "score", c->raw, "known", c->known);
        if (o && combined)
            json_object_set_new(o, "combined", json_real(c->combined));
        json_array_append_new(arr, o);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "pattern", pattern, "predicts",
                     res->what ? res->what : "", "ranker",
                     res->ranker ? res->ranker : "model", "candidates", arr);
}

/* ==== Similar ==== */

void hk_svc_model_similar_free(hk_svc_model_similar_res *res)
{
    for (size_t i = 0; i < res->n; i++)
        hk_free(res->names[i]);
    hk_free(res->names);
    hk_free(res->cos);
    memset(res, 0, sizeof *res);
}

hk_err hk_svc_model_similar(const hkl_model *m, const char *entity, uint32_t k,
                            hk_svc_model_similar_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (k == 0) k = 10;
    if (k > 1000) {
        hk_error_set(err, HK_ERR_INVALID, "k must be at most 1000");
        snprintf(err->field, sizeof err->field, "k");
        return HK_ERR_INVALID;
    }
    uint32_t e;
    hk_err rc = find_name(&m->ent, entity, "entity", "entity", err, &e);
    if (rc) return rc;
    hkl_hit *hits = hk_malloc((size_t)k * sizeof *hits);
    res->names = hk_calloc(k, sizeof *res->names);
    res->cos = hk_calloc(k, sizeof *res->cos);
    if (!hits || !res->names || !res->cos) goto nomem;
    size_t got = hkl_similar(m, e, k, hits, &rc);
    if (rc) goto nomem;
    for (size_t i = 0; i < got; i++) {
        res->names[i] = hk_strdup(m->ent.v[hits[i].id]);
        if (!res->names[i]) goto nomem;
        res->cos[i] = hits[i].score;
        res->n++;
    }
    hk_free(hits);
    return HK_OK;
nomem:
    hk_free(hits);
    hk_svc_model_similar_free(res);
    return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

json_t *hk_svc_model_similar_jansson(const char *entity,
                                     const hk_svc_model_similar_res *res)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < res->n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:f}", "entity", res->names[i],
                                        "cosine", res->cos[i]));
    return json_pack("{s:s, s:o}", "entity", entity, "similar", arr);
}

/* ==== Model scores inside the legacy analysis tools ==== */

bool hk_svc_model_plausibility(const hkl_model *m, const hk_statement *st,
                               double *out)
{
    hkl_triple e[HK_MAX_ARGS];
    uint32_t n = 0;
    hk_error ignored;
    hk_error_clear(&ignored);
    if (statement_edges(m, st, e, &n, &ignored) != HK_OK || n == 0)
        return false;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += hkl_score(m, e[i].h, e[i].r, e[i].t);
    *out = hkl_plausibility(m, sum / n);
    return true;
}

static double row_cosine(const float *x, const float *y, uint32_t w)
{
    double xy = 0, xx = 0, yy = 0;
    for (uint32_t i = 0; i < w; i++) {
        xy += (double)x[i] * y[i];
        xx += (double)x[i] * x[i];
        yy += (double)y[i] * y[i];
    }
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
}

bool hk_svc_model_pair_similarity(const hkl_model *m, const hk_statement *a,
                                  const hk_statement *b, double *out)
{
    uint32_t w = m->width;
    uint32_t ra = hkl_names_find(&m->rel, a->predicate, strlen(a->predicate));
    uint32_t rb = hkl_names_find(&m->rel, b->predicate, strlen(b->predicate));
    if (a->n_args > 2 || b->n_args > 2) {
        /* n-ary predicates are known by their roles ("P#1") */
        char role[HK_MAX_PREDICATE_BYTES + 16];
        int len = snprintf(role, sizeof role, "%s#1", a->predicate);
        if (a->n_args > 2) ra = hkl_names_find(&m->rel, role, (size_t)len);
        len = snprintf(role, sizeof role, "%s#1", b->predicate);
        if (b->n_args > 2) rb = hkl_names_find(&m->rel, role, (size_t)len);
    }
    if (ra == UINT32_MAX || rb == UINT32_MAX) return false;
    double sum = row_cosine(m->R + (size_t)ra * w, m->R + (size_t)rb * w, w);
    uint32_t n = a->n_args < b->n_args ? a->n_args : b->n_args;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = hkl_names_find(&m->ent, a->args[i], strlen(a->args[i]));
        uint32_t y = hkl_names_find(&m->ent, b->args[i], strlen(b->args[i]));
        if (x == UINT32_MAX || y == UINT32_MAX) return false;
        sum += row_cosine(m->E + (size_t)x * w, m->E + (size_t)y * w, w);
    }
    *out = sum / (n + 1);
    return true;
}

/* Max-heap on plausibility: the root is the most plausible fact kept, the
 * one a less plausible newcomer replaces. */
static void flag_down(hk_svc_model_flag *v, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && v[l].plausibility > v[w].plausibility) w = l;
        if (r < n && v[r].plausibility > v[w].plausibility) w = r;
        if (w == i) return;
        hk_svc_model_flag tmp = v[i];
        v[i] = v[w];
        v[w] = tmp;
        i = w;
    }
}

static void flag_up(hk_svc_model_flag *v, size_t i)
{
    while (i > 0 && v[(i - 1) / 2].plausibility < v[i].plausibility) {
        hk_svc_model_flag tmp = v[i];
        v[i] = v[(i - 1) / 2];
        v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static int cmp_flag_asc(const void *a, const void *b)
{
    const hk_svc_model_flag *x = a, *y = b;
    if (x->plausibility != y->plausibility)
        return x->plausibility < y->plausibility ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

hk_err hk_svc_model_implausible(hk_txn *t, const hkl_model *m, size_t limit,
                                double below, size_t max,
                                hk_svc_model_flag_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (limit < 1 || max < 1)
        return hk_error_set(err, HK_ERR_INVALID, "limit and max must be >= 1");
    res->v = hk_calloc(max, sizeof *res->v);
    if (!res->v) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf b = HK_BUF_INIT;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    for (; rc == HK_OK && res->examined < limit; res->examined++) {
        bool has = false;
        rc = hk_query_next(q, &f, &has, err);
        if (rc != HK_OK || !has) break;
        double p;
        if (!hk_svc_model_plausibility(m, &f.st, &p)) {
            res->unknown++;
            continue;
        }
        if (!(p < below)) continue;
        if (res->n == max && !(p < res->v[0].plausibility)) continue;
        hk_buf_reset(&b);
        hk_svc_model_flag fl = {f.id, NULL, p};
        if (hk_statement_format(&f.st, &b) != HK_OK ||
            !(fl.statement = hk_strndup(b.data, b.len))) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        if (res->n < max) {
            res->v[res->n] = fl;
            flag_up(res->v, res->n++);
        } else {
            hk_free(res->v[0].statement);
            res->v[0] = fl;
            flag_down(res->v, res->n, 0);
        }
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&b);
    if (rc != HK_OK) {
        hk_svc_model_flag_free(res);
        return rc;
    }
    qsort(res->v, res->n, sizeof *res->v, cmp_flag_asc);
    return HK_OK;
}

void hk_svc_model_flag_free(hk_svc_model_flag_res *res)
{
    for (size_t i = 0; res->v && i < res->n; i++)
        hk_free(res->v[i].statement);
    hk_free(res->v);
    memset(res, 0, sizeof *res);
}

json_t *hk_svc_model_brief_jansson(hk_txn *t, const hkl_model *m)
{
    uint64_t age = 0;
    hk_error ignored;
    bool aged = hk_svc_model_age(t, m, &age, &ignored) == HK_OK;
    return json_pack("{s:s, s:i, s:I, s:o, s:f}", "kind",
                     hkl_kind_name(m->p.kind), "dim", (int)m->p.dim,
                     "audit_seq", (json_int_t)m->audit_seq, "age",
                     aged ? json_integer((json_int_t)age) : json_null(),
                     "valid_mrr", m->valid.mrr);
}
