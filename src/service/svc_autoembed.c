/*
 * svc_autoembed.c — embedding new facts after commit, in the background,
 * for spaces created with auto_embed (svc_vector.h).
 *
 * A writer never waits for embedding: the after-commit listener of the
 * vector module (hkv_store_set_listener) only records the audit head and
 * wakes one thread, which
 *   1. sweeps every auto space once when it first sees it, at start or
 *      at the first commit after the space was created
 *      (hk_svc_embed_apply in batches: facts committed while no embedder
 *      ran for it, e.g. before a crash, get their vectors);
 *   2. then reads the audit entries after the last one it handled: "add"
 *      and "update" name a fact whose content is new, "import" a range;
 *   3. gives each such fact that still exists and has no vector in an
 *      auto space the built-in embedder's vector, EMBED_BATCH facts per
 *      write transaction (actor "embedder"), so that its own commits stay
 *      short beside the server's group commits.
 * Its own commits wake it again; their entries ("vector") name nothing,
 * so that round ends at once. An import range larger than SWEEP_ABOVE
 * facts is handled by a sweep instead of a list.
 *
 * Threads: the listener runs on committing threads; the worker is one
 * thread; lock protects the wake state and the counters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "service/svc_vector.h"

/* Facts embedded per write transaction. */
#define EMBED_BATCH 1000u
/* An import range above this many facts is swept instead of listed. */
#define SWEEP_ABOVE 100000u

struct hk_svc_autoembed {
    hk_store *s;          /* the KB */
    hkv_store *vs;        /* its vector module */
    pthread_t thread;     /* the worker */
    pthread_mutex_t lock; /* protects what follows */
    pthread_cond_t wake;  /* signalled by the listener and stop */
    bool stop;            /* stop asked */
    uint64_t head_seq;    /* newest audit entry committed (listener) */
    uint64_t done_seq;    /* newest audit entry handled */
    uint64_t embedded;    /* vectors written */
    uint64_t failures;    /* rounds that failed */
    double busy_s;        /* seconds spent embedding */
    hk_error last_err;    /* the last failure */
    /* worker only: */
    uint64_t swept[HKV_SPACES_MAX]; /* stamps of the spaces swept */
    size_t n_swept;                 /* entries of swept */
};

static void on_commit(void *ud, uint64_t seq)
{
    hk_svc_autoembed *ae = ud;
    pthread_mutex_lock(&ae->lock);
    if (seq > ae->head_seq) ae->head_seq = seq;
    pthread_cond_signal(&ae->wake);
    pthread_mutex_unlock(&ae->lock);
}

static bool was_swept(const hk_svc_autoembed *ae, uint64_t stamp)
{
    for (size_t i = 0; i < ae->n_swept; i++)
        if (ae->swept[i] == stamp) return true;
    return false;
}

/* The auto spaces of the KB (names into out, at most HKV_SPACES_MAX), and
 * those never swept (into fresh, their stamps into stamps). */
static hk_err auto_spaces(hk_svc_autoembed *ae, hk_txn *t,
                          char out[][HKV_NAME_MAX + 1], size_t *n,
                          char fresh[][HKV_NAME_MAX + 1], uint64_t *stamps,
                          size_t *n_fresh, hk_error *err)
{
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t m = 0;
    *n = *n_fresh = 0;
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err e = hkv_space_list(ae->vs, t, all, &m, err);
    for (size_t i = 0; !e && i < m; i++) {
        if (!all[i].auto_embed || all[i].embedder != HKV_EMBED_HASHED) continue;
        snprintf(out[(*n)++], HKV_NAME_MAX + 1, "%s", all[i].name);
        if (was_swept(ae, all[i].stamp)) continue;
        stamps[*n_fresh] = all[i].stamp;
        snprintf(fresh[(*n_fresh)++], HKV_NAME_MAX + 1, "%s", all[i].name);
    }
    hk_free(all);
    return e;
}

/* One write transaction embedding ids[0..n) into the auto spaces. */
typedef struct embed_ids_arg {
    hk_svc_autoembed *ae;             /* the embedder */
    char (*spaces)[HKV_NAME_MAX + 1]; /* auto spaces */
    size_t n_spaces;                  /* entries of spaces */
    const hk_fact_id *ids;            /* facts */
    size_t n;                         /* entries of ids */
    uint64_t embedded;                /* out: vectors written */
} embed_ids_arg;

static hk_err embed_ids(hk_txn *t, embed_ids_arg *a, hk_error *err)
{
    hk_fact f;
    hk_buf b = HK_BUF_INIT;
    float *v = NULL;
    hk_err e = HK_OK;
    hk_fact_init(&f);
    a->embedded = 0;
    for (size_t s = 0; !e && s < a->n_spaces; s++) {
        hkv_space sp;
        if ((e = hkv_space_find(a->ae->vs, t, a->spaces[s], &sp, err))) {
            if (e == HK_ERR_NOT_FOUND) e = HK_OK; /* dropped meanwhile */
            continue;
        }
        float *nv = hk_realloc(v, (size_t)sp.params.dim * sizeof *v);
        if (!nv) {
            e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        v = nv;
        for (size_t i = 0; !e && i < a->n; i++) {
            e = hkv_get(a->ae->vs, t, sp.name, a->ids[i], v, err);
            if (e == HK_OK) continue; /* has one */
            if (e != HK_ERR_NOT_FOUND) break;
            e = hk_store_get(t, a->ids[i], &f, err);
            if (e == HK_ERR_NOT_FOUND) { /* deleted since */
                e = HK_OK;
                continue;
            }
            if (e) break;
            b.len = 0;
            if (hk_statement_format(&f.st, &b)) {
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            hkv_embed_hashed(b.data, b.len, v, sp.params.dim);
            e = hkv_put(a->ae->vs, t, sp.name, a->ids[i], v, sp.params.dim,
                        err);
            if (!e) a->embedded++;
        }
    }
    hk_free(v);
    hk_buf_free(&b);
    hk_fact_release(&f);
    if (!e) hk_error_clear(err);
    return e;
}

/* Commits ids in batches. */
static hk_err embed_list(hk_svc_autoembed *ae, char (*spaces)[HKV_NAME_MAX + 1],
                         size_t n_spaces, const hk_fact_id *ids, size_t n,
                         hk_error *err)
{
    for (size_t at = 0; at < n; at += EMBED_BATCH) {
        embed_ids_arg a = {ae,
                           spaces,
                           n_spaces,
                           ids + at,
                           n - at < EMBED_BATCH ? n - at : EMBED_BATCH,
                           0};
        hk_txn *t;
        hk_err e = hk_txn_begin(ae->s, true, &t, err);
        if (e) return e;
        hk_txn_set_actor(t, "embedder");
        if ((e = embed_ids(t, &a, err))) {
            hk_txn_abort(t);
            return e;
        }
        if ((e = hk_txn_commit(t, err))) return e;
        pthread_mutex_lock(&ae->lock);
        ae->embedded += a.embedded;
        pthread_mutex_unlock(&ae->lock);
    }
    return HK_OK;
}

/* Every fact of every auto space without a vector gets one. */
static hk_err sweep(hk_svc_autoembed *ae, char (*spaces)[HKV_NAME_MAX + 1],
                    size_t n_spaces, hk_error *err)
{
    for (size_t s = 0; s < n_spaces; s++) {
        hk_svc_embed_arg a;
        memset(&a, 0, sizeof a);
        a.vs = ae->vs;
        a.space = spaces[s];
        a.limit = EMBED_BATCH;
        while (!a.done) {
            hk_err e =
                hk_svc_write(ae->s, "embedder", hk_svc_embed_apply, &a, err);
            if (e == HK_ERR_NOT_FOUND) break; /* dropped meanwhile */
            if (e) return e;
            pthread_mutex_lock(&ae->lock);
            ae->embedded += a.embedded;
            bool stop = ae->stop;
            pthread_mutex_unlock(&ae->lock);
            if (stop) return HK_OK;
            a.after = a.last;
        }
    }
    return HK_OK;
}

/* The facts named by audit entries after `from` (and the newest entry's
 * seq); *big when an import range asks for a sweep instead. */
static hk_err changed_facts(hk_txn *t, uint64_t from, hk_fact_id **ids,
                            size_t *n, uint64_t *last, bool *big, hk_error *err)
{
    hk_audit_iter *it;
    const hk_audit_entry *en;
    size_t cap = 0;
    hk_err e;
    *ids = NULL;
    *n = 0;
    *last = from;
    *big = false;
    if ((e = hk_audit_iter_open(t, from + 1, &it, err))) return e;
    while (!(e = hk_audit_iter_next(it, &en, err)) && en) {
        *last = en->seq;
        bool one = strcmp(en->op, "add") == 0 || strcmp(en->op, "update") == 0;
        bool range = strcmp(en->op, "import") == 0;
        if (!one && !range) continue;
        uint64_t count = one ? 1 : en->fact_id_last - en->fact_id + 1;
        if (*big || *n + count > SWEEP_ABOVE) {
            *big = true;
            continue;
        }
        if (*n + count > cap) {
            size_t nc = cap ? cap : 256;
            while (nc < *n + count)
                nc *= 2;
            hk_fact_id *p = hk_realloc(*ids, nc * sizeof *p);
            if (!p) {
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            *ids = p;
            cap = nc;
        }
        for (uint64_t k = 0; k < count; k++)
            (*ids)[(*n)++] = en->fact_id + k;
    }
    hk_audit_iter_close(it);
    if (e) {
        hk_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return e;
}

/* One round: from done_seq up to the audit head. */
static hk_err round_once(hk_svc_autoembed *ae, hk_error *err)
{
    char(*spaces)[HKV_NAME_MAX + 1] =
        hk_calloc(2 * HKV_SPACES_MAX, HKV_NAME_MAX + 1);
    char(*fresh)[HKV_NAME_MAX + 1] = spaces + HKV_SPACES_MAX;
    uint64_t stamps[HKV_SPACES_MAX];
    size_t n_spaces = 0, n_fresh = 0, n = 0;
    hk_fact_id *ids = NULL;
    uint64_t last = 0;
    bool big = false;
    hk_txn *t = NULL;
    hk_err e;
    if (!spaces) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&ae->lock);
    uint64_t from = ae->done_seq;
    pthread_mutex_unlock(&ae->lock);
    if ((e = hk_txn_begin(ae->s, false, &t, err))) goto out;
    e = auto_spaces(ae, t, spaces, &n_spaces, fresh, stamps, &n_fresh, err);
    if (!e) e = changed_facts(t, from, &ids, &n, &last, &big, err);
    hk_txn_abort(t);
    if (e) goto out;
    /* spaces never swept get every fact; the others the changed ones */
    if (n_fresh && (e = sweep(ae, fresh, n_fresh, err))) goto out;
    for (size_t i = 0; i < n_fresh && ae->n_swept < HKV_SPACES_MAX; i++)
        ae->swept[ae->n_swept++] = stamps[i];
    if (n_spaces && big)
        e = sweep(ae, spaces, n_spaces, err);
    else if (n_spaces && n)
        e = embed_list(ae, spaces, n_spaces, ids, n, err);
    if (e) goto out;
    pthread_mutex_lock(&ae->lock);
    if (last > ae->done_seq) ae->done_seq = last;
    pthread_mutex_unlock(&ae->lock);
out:
    hk_free(ids);
    hk_free(spaces);
    return e;
}

static void *worker(void *arg)
{
    hk_svc_autoembed *ae = arg;
    bool first = true;
    for (;;) {
        pthread_mutex_lock(&ae->lock);
        while (!ae->stop && !first && ae->head_seq <= ae->done_seq)
            pthread_cond_wait(&ae->wake, &ae->lock);
        bool stop = ae->stop;
        pthread_mutex_unlock(&ae->lock);
        if (stop) break;
        hk_error err;
        hk_error_clear(&err);
        double t0 = (double)hk_now_us() / 1e6;
        hk_err e = round_once(ae, &err);
        double dt = (double)hk_now_us() / 1e6 - t0;
        pthread_mutex_lock(&ae->lock);
        ae->busy_s += dt;
        if (e) {
            ae->failures++;
            ae->last_err = err;
            /* try again at the next commit, not in a loop */
            if (ae->head_seq > ae->done_seq) ae->done_seq = ae->head_seq;
        }
        pthread_mutex_unlock(&ae->lock);
        first = false;
    }
    return NULL;
}

hk_err hk_svc_autoembed_start(hk_store *s, hkv_store *vs,
                              hk_svc_autoembed **out, hk_error *err)
{
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_txn *t;
    *out = NULL;
    hk_svc_autoembed *ae = hk_calloc(1, sizeof *ae);
    if (!ae) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    ae->s = s;
    ae->vs = vs;
    /* follow the log from its head; the first round sweeps what is older */
    hk_err e = hk_txn_begin(s, false, &t, err);
    if (!e) {
        e = hk_audit_list(t, 0, 1, &v, &n, err);
        hk_txn_abort(t);
    }
    if (e) {
        hk_free(ae);
        return e;
    }
    ae->head_seq = ae->done_seq = n ? v[0].seq : 0;
    hk_audit_entries_free(v, n);
    pthread_mutex_init(&ae->lock, NULL);
    pthread_cond_init(&ae->wake, NULL);
    hkv_store_set_listener(vs, on_commit, ae);
    if (pthread_create(&ae->thread, NULL, worker, ae) != 0) {
        hkv_store_set_listener(vs, NULL, NULL);
        pthread_mutex_destroy(&ae->lock);
        pthread_cond_destroy(&ae->wake);
        hk_free(ae);
        return hk_error_set(err, HK_ERR_NOMEM, "cannot start a thread");
    }
    *out = ae;
    return HK_OK;
}

void hk_svc_autoembed_stop(hk_svc_autoembed *ae)
{
    if (!ae) return;
    pthread_mutex_lock(&ae->lock);
    ae->stop = true;
    pthread_cond_signal(&ae->wake);
    pthread_mutex_unlock(&ae->lock);
    pthread_join(ae->thread, NULL);
    hkv_store_set_listener(ae->vs, NULL, NULL);
    pthread_mutex_destroy(&ae->lock);
    pthread_cond_destroy(&ae->wake);
    hk_free(ae);
}

void hk_svc_autoembed_stats_get(hk_svc_autoembed *ae,
                                hk_svc_autoembed_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!ae) return;
    pthread_mutex_lock(&ae->lock);
    out->lag = ae->head_seq > ae->done_seq ? ae->head_seq - ae->done_seq : 0;
    out->embedded = ae->embedded;
    out->failures = ae->failures;
    out->busy_seconds = ae->busy_s;
    pthread_mutex_unlock(&ae->lock);
}
