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
 * Spaces with the openai embedder take the same steps through
 * hk_svc_embed_space and hk_svc_embed_facts (svc_embedder.c): a read txn
 * collects a batch, the endpoint embeds it with no txn open, one write
 * txn stores it; no write txn ever waits for the network. Each space is
 * handled on its own: an endpoint that fails leaves the hashed spaces
 * served. A space whose round failed is swept again by the next round
 * (so the facts it missed get their vectors), which comes at the next
 * commit or after a backoff of RETRY_MIN_MS doubling to RETRY_MAX_MS.
 *
 * Threads: the listener runs on committing threads; the worker is one
 * thread; lock protects the wake state and the counters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "service/svc_vector.h"

/* Facts embedded per write transaction. */
#define EMBED_BATCH 1000u
/* An import range above this many facts is swept instead of listed. */
#define SWEEP_ABOVE 100000u
/* Backoff before a failed round is tried again without a commit. */
#define RETRY_MIN_MS 1000u
#define RETRY_MAX_MS 60000u

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
    unsigned retry_ms;    /* wait before retrying a failed round (0: none) */
    bool idle_no_auto;    /* the last round found no auto space ... */
    uint64_t seen_gen;    /* ... with the spaces at this generation */
    /* worker only: */
    uint64_t swept[HKV_SPACES_MAX]; /* stamps of the spaces swept */
    size_t n_swept;                 /* entries of swept */
};

/* Without an auto space a round only finds that out again, so while the
 * spaces stay as the last round saw them the commit is marked handled
 * here and the worker sleeps on: one wakeup and one read transaction
 * less per group commit. A space created later is swept whole when a
 * round first sees it, so the facts of the skipped commits are not
 * missed; the commit that creates it changes the generation. */
static void on_commit(void *ud, uint64_t seq)
{
    hk_svc_autoembed *ae = ud;
    pthread_mutex_lock(&ae->lock);
    if (seq > ae->head_seq) ae->head_seq = seq;
    if (ae->idle_no_auto && !ae->retry_ms && ae->done_seq < ae->head_seq &&
        hkv_space_generation(ae->vs) == ae->seen_gen)
        ae->done_seq = ae->head_seq;
    else
        pthread_cond_signal(&ae->wake);
    pthread_mutex_unlock(&ae->lock);
}

static bool was_swept(const hk_svc_autoembed *ae, uint64_t stamp)
{
    for (size_t i = 0; i < ae->n_swept; i++)
        if (ae->swept[i] == stamp) return true;
    return false;
}

/* Forgets that the space of stamp was swept: the next round sweeps it. */
static void unsweep(hk_svc_autoembed *ae, uint64_t stamp)
{
    for (size_t i = 0; i < ae->n_swept; i++)
        if (ae->swept[i] == stamp) {
            ae->swept[i] = ae->swept[--ae->n_swept];
            return;
        }
}

/* One auto space as a round sees it. */
typedef struct auto_space {
    char name[HKV_NAME_MAX + 1]; /* its name */
    hkv_embedder embedder;       /* hashed or openai */
    uint64_t stamp;              /* creation stamp */
    bool fresh;                  /* never swept */
} auto_space;

/* The auto spaces of the KB (at most HKV_SPACES_MAX into out). */
static hk_err auto_spaces(hk_svc_autoembed *ae, hk_txn *t, auto_space *out,
                          size_t *n, hk_error *err)
{
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t m = 0;
    *n = 0;
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_err e = hkv_space_list(ae->vs, t, all, &m, err);
    for (size_t i = 0; !e && i < m; i++) {
        if (!all[i].auto_embed || all[i].embedder == HKV_EMBED_NONE) continue;
        auto_space *a = &out[(*n)++];
        snprintf(a->name, sizeof a->name, "%s", all[i].name);
        a->embedder = all[i].embedder;
        a->stamp = all[i].stamp;
        a->fresh = !was_swept(ae, all[i].stamp);
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

/* Adds what a remote sweep wrote since its last batch; stops on stop. */
typedef struct remote_progress {
    hk_svc_autoembed *ae; /* the embedder */
    uint64_t counted;     /* run->embedded already added */
} remote_progress;

static bool remote_batch(void *ud, const hk_svc_embed_run *r)
{
    remote_progress *p = ud;
    pthread_mutex_lock(&p->ae->lock);
    p->ae->embedded += r->embedded - p->counted;
    bool stop = p->ae->stop;
    pthread_mutex_unlock(&p->ae->lock);
    p->counted = r->embedded;
    return !stop;
}

/* Every fact of an openai space without a vector gets one. */
static hk_err sweep_remote(hk_svc_autoembed *ae, const char *space,
                           hk_error *err)
{
    remote_progress p = {ae, 0};
    hk_svc_embed_run run;
    memset(&run, 0, sizeof run);
    run.vs = ae->vs;
    run.space = space;
    run.actor = "embedder";
    run.progress = remote_batch;
    run.ud = &p;
    hk_err e = hk_svc_embed_space(ae->s, &run, err);
    return e == HK_ERR_NOT_FOUND ? HK_OK : e; /* dropped meanwhile */
}

/* The facts ids[0..n) into one openai space. */
static hk_err list_remote(hk_svc_autoembed *ae, const char *space,
                          const hk_fact_id *ids, size_t n, hk_error *err)
{
    uint64_t done = 0;
    hk_err e = hk_svc_embed_facts(ae->s, ae->vs, space, "embedder", ids, n,
                                  &done, err);
    pthread_mutex_lock(&ae->lock);
    ae->embedded += done;
    pthread_mutex_unlock(&ae->lock);
    return e == HK_ERR_NOT_FOUND ? HK_OK : e; /* dropped meanwhile */
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

/* Brings one space up to date: a sweep when it is fresh or the change
 * list is too big, else the listed facts. */
static hk_err round_space(hk_svc_autoembed *ae, auto_space *sp,
                          const hk_fact_id *ids, size_t n, bool big,
                          hk_error *err)
{
    bool remote = sp->embedder == HKV_EMBED_OPENAI;
    char(*one)[HKV_NAME_MAX + 1] = &sp->name;
    if (sp->fresh || big)
        return remote ? sweep_remote(ae, sp->name, err)
                      : sweep(ae, one, 1, err);
    if (n == 0) return HK_OK;
    return remote ? list_remote(ae, sp->name, ids, n, err)
                  : embed_list(ae, one, 1, ids, n, err);
}

/* One round: from done_seq up to the audit head. Every space is handled
 * even when another fails; *err gets the first failure. */
static hk_err round_once(hk_svc_autoembed *ae, hk_error *err)
{
    auto_space *spaces = hk_calloc(HKV_SPACES_MAX, sizeof *spaces);
    size_t n_spaces = 0, n = 0;
    hk_fact_id *ids = NULL;
    uint64_t last = 0;
    bool big = false;
    hk_txn *t = NULL;
    hk_err e;
    if (!spaces) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&ae->lock);
    uint64_t from = ae->done_seq, head = ae->head_seq;
    /* read before the txn begins: the txn sees the spaces this number
     * counts, and a later space commit changes it (vector.h) */
    uint64_t gen = hkv_space_generation(ae->vs);
    ae->idle_no_auto = false;
    pthread_mutex_unlock(&ae->lock);
    if ((e = hk_txn_begin(ae->s, false, &t, err))) goto out;
    e = auto_spaces(ae, t, spaces, &n_spaces, err);
    if (!e && n_spaces == 0) {
        pthread_mutex_lock(&ae->lock);
        ae->idle_no_auto = true;
        ae->seen_gen = gen;
        pthread_mutex_unlock(&ae->lock);
    }
    /* Without an auto space there is nothing to list: reading every audit
     * entry of a busy writer would cost a core's share for nothing. A space
     * created later is swept whole when first seen, so skipping is safe.
     * head was committed before this txn began, so it is not ahead of it. */
    if (!e && n_spaces == 0)
        last = head > from ? head : from;
    else if (!e)
        e = changed_facts(t, from, &ids, &n, &last, &big, err);
    hk_txn_abort(t);
    if (e) goto out;
    for (size_t i = 0; i < n_spaces; i++) {
        hk_error one;
        hk_error_clear(&one);
        hk_err r = round_space(ae, &spaces[i], ids, n, big, &one);
        if (r) {
            /* sweep it next round: it missed facts */
            unsweep(ae, spaces[i].stamp);
            if (!e) {
                e = r;
                if (err) *err = one;
            }
        } else if (spaces[i].fresh && ae->n_swept < HKV_SPACES_MAX) {
            ae->swept[ae->n_swept++] = spaces[i].stamp;
        }
    }
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
        if (ae->retry_ms && !ae->stop && ae->head_seq <= ae->done_seq) {
            /* a failed round: again at the next commit or the deadline */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += ae->retry_ms / 1000;
            until.tv_nsec += (long)(ae->retry_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            int w = 0;
            while (!ae->stop && w == 0 && ae->head_seq <= ae->done_seq)
                w = pthread_cond_timedwait(&ae->wake, &ae->lock, &until);
        } else {
            while (!ae->stop && !first && ae->head_seq <= ae->done_seq)
                pthread_cond_wait(&ae->wake, &ae->lock);
        }
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
            /* try again at the next commit or after the backoff, not in
             * a loop */
            if (ae->head_seq > ae->done_seq) ae->done_seq = ae->head_seq;
            ae->retry_ms = ae->retry_ms ? ae->retry_ms * 2 : RETRY_MIN_MS;
            if (ae->retry_ms > RETRY_MAX_MS) ae->retry_ms = RETRY_MAX_MS;
        } else {
            ae->retry_ms = 0;
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
    (void)pthread_setname_np(ae->thread, "hk-embedder"); /* for top -H */
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
