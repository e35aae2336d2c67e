/*
 * vcache.c — the HNSW index of each searched space, kept in memory by the
 * attached store, written to a file beside the KB and caught up from the
 * audit log.
 *
 * Why: building an index costs O(n log n) distance computations (minutes
 * at a million vectors); a search costs milliseconds. So a process builds
 * (or reads) an index once and then follows the KB's changes.
 *
 * Where an index is current to: each kept index records the audit entry
 * it reflects (seq, and that entry's hash). Every vector change appends
 * an audit entry "vector" naming its space, and every fact deletion or
 * content update one of its own (whose hook removed the fact's vectors),
 * so the entries after seq name every fact whose vector may have changed.
 * Catch-up reads them (hk_audit_iter_open), looks each such fact up in
 * the store and adds, replaces or deletes its vector in the index. Above
 * CATCHUP_MAX facts (or a quarter of the index) a rebuild is cheaper.
 *
 * Files: DIR/vector-SPACE.hnsw (hnsw_file.c) carries {space id, creation
 * stamp, seq, hash of entry seq}. A file is used only when its space is
 * the same one (a space dropped and re-created gets a new stamp) and the
 * reader's audit log holds the same entry seq with the same hash (so a
 * restored backup or another KB's file is never mistaken for this one);
 * otherwise, or when it is damaged, the index is rebuilt and the file
 * rewritten. Files are written after a build and when the store detaches
 * (when the index moved on since), atomically, so a crash leaves the last
 * complete file, which the next start catches up.
 *
 * Threads: kept[] is guarded by kept_lock; each kept index by its rwlock
 * (searches read-lock it; catch-up, rebuild and loading write-lock it).
 * The after-commit hook only try-locks: when searches hold the index, the
 * next acquire catches up instead, so the writer never waits for readers.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/store.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

/* Most facts a catch-up applies before a rebuild is preferred. */
#define CATCHUP_MAX 100000u
#define META_VERSION 1u

struct hkv_kept {
    char name[HKV_NAME_MAX + 1]; /* the space */
    pthread_rwlock_t rw;         /* readers: searches; writer: changes */
    hkv_index *ix;               /* the index, or NULL before the first */
    uint32_t space_id;           /* the space's id when ix was made */
    uint64_t stamp;              /* the space's creation stamp then */
    uint64_t seq;                /* audit entries ix reflects */
    uint8_t hash[32];            /* hash of entry seq (zeros for 0) */
    uint64_t saved_seq;          /* seq of the file on disk, or UINT64_MAX */
};

/* What an index file records about its index (hkv_index_save meta). */
typedef struct file_meta {
    uint32_t version;  /* META_VERSION */
    uint32_t space_id; /* the space's id */
    uint64_t stamp;    /* the space's creation stamp */
    uint64_t seq;      /* audit entries reflected */
    uint8_t hash[32];  /* hash of entry seq */
} file_meta;

/* ==== The audit log ==== */

/* The newest audit entry of t's snapshot (seq 0, zero hash when none). */
static hk_err audit_head(hk_txn *t, uint64_t *seq, uint8_t hash[32],
                         hk_error *err)
{
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err e = hk_audit_list(t, 0, 1, &v, &n, err);
    if (e) return e;
    *seq = n ? v[0].seq : 0;
    if (n)
        memcpy(hash, v[0].hash, 32);
    else
        memset(hash, 0, 32);
    hk_audit_entries_free(v, n);
    return HK_OK;
}

/* Whether t's log holds entry seq with this hash. */
static bool audit_has(hk_txn *t, uint64_t seq, const uint8_t hash[32])
{
    static const uint8_t zero[32];
    if (seq == 0) return memcmp(hash, zero, 32) == 0;
    hk_audit_iter *it;
    const hk_audit_entry *en = NULL;
    if (hk_audit_iter_open(t, seq, &it, NULL)) return false;
    bool ok = hk_audit_iter_next(it, &en, NULL) == HK_OK && en &&
              en->seq == seq && memcmp(en->hash, hash, 32) == 0;
    hk_audit_iter_close(it);
    return ok;
}

static int id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The symbol id an entity vector's audit text names, 0 when none. */
static uint64_t entry_sym(const char *text)
{
    const char *p = text ? strstr(text, "\"sym\":") : NULL;
    return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* The facts (symbols in an entity space) whose vector in space may have
 * changed after entry `from` (sorted, distinct, owned by the caller).
 * HK_ERR_LIMIT beyond max. */
static hk_err changed_facts(hk_txn *t, const char *space, bool entity,
                            uint64_t from, size_t max, uint64_t **out,
                            size_t *n_out, hk_error *err)
{
    char needle[HKV_NAME_MAX + 16];
    snprintf(needle, sizeof needle, "\"space\":\"%s\"", space);
    hk_audit_iter *it;
    const hk_audit_entry *en;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    hk_err e;
    *out = NULL;
    *n_out = 0;
    if ((e = hk_audit_iter_open(t, from + 1, &it, err))) return e;
    while (!(e = hk_audit_iter_next(it, &en, err)) && en) {
        /* entity vectors change by their own entries only */
        bool hit = !entity && (strcmp(en->op, "delete") == 0 ||
                               strcmp(en->op, "update") == 0);
        if (!hit && strcmp(en->op, "vector") == 0)
            hit = (en->after && strstr(en->after, needle)) ||
                  (en->before && strstr(en->before, needle));
        uint64_t id = entity ? entry_sym(en->after) : en->fact_id;
        if (!hit || (entity && id == 0)) continue;
        if (n == max) {
            e = HK_ERR_LIMIT;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint64_t *p = hk_realloc(ids, nc * sizeof *p);
            if (!p) {
                e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            ids = p;
            cap = nc;
        }
        ids[n++] = id;
    }
    hk_audit_iter_close(it);
    if (e) {
        hk_free(ids);
        return e;
    }
    if (n) qsort(ids, n, sizeof *ids, id_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || ids[w - 1] != ids[i]) ids[w++] = ids[i];
    *out = ids;
    *n_out = w;
    return HK_OK;
}

/* ==== Catch-up, load and build (k write-locked) ==== */

/* Applies the changes after k->seq up to t's head to k->ix.
 * HK_ERR_LIMIT when there are too many (rebuild instead). */
static hk_err catch_up(hkv_store *vs, hkv_kept *k, hk_txn *t,
                       const hkv_space *sp, uint64_t head,
                       const uint8_t hash[32], hk_error *err)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    uint64_t live = hkv_index_count(k->ix);
    size_t max = live / 4 > CATCHUP_MAX ? (size_t)(live / 4) : CATCHUP_MAX;
    bool entity = sp->kind == HKV_KIND_ENTITY;
    hk_err e = changed_facts(t, k->name, entity, k->seq, max, &ids, &n, err);
    if (e) return e;
    float *v = hk_malloc((size_t)sp->params.dim * sizeof *v);
    if (!v) {
        hk_free(ids);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && !e; i++) {
        hks_fact_syms syms;
        if (entity) {
            e = hkv_entity_get(vs, t, k->name, (uint32_t)ids[i], v, err);
        } else {
            e = hkv_get(vs, t, k->name, ids[i], v, err);
            if (e == HK_OK) e = hks_fact_syms_get(t, ids[i], &syms, err);
        }
        if (e == HK_OK) {
            e = hkv_index_add(k->ix, ids[i], v, err);
        } else if (e == HK_ERR_NOT_FOUND) {
            e = HK_OK;
            if (hkv_index_contains(k->ix, ids[i]))
                e = hkv_index_delete(k->ix, ids[i], err);
        }
    }
    hk_free(v);
    hk_free(ids);
    if (e) return e;
    atomic_fetch_add(&vs->caught_up, n);
    k->seq = head;
    memcpy(k->hash, hash, 32);
    return HK_OK;
}

static void file_path(hkv_store *vs, const char *space, char *out, size_t cap)
{
    snprintf(out, cap, "%s/vector-%s.hnsw", hk_store_path(vs->s), space);
}

/* Writes k's file (errors are not fatal: the next start rebuilds). */
static void save(hkv_store *vs, hkv_kept *k)
{
    char path[4096];
    if (!vs->files || !k->ix || k->saved_seq == k->seq) return;
    file_meta m = {META_VERSION, k->space_id, k->stamp, k->seq, {0}};
    memcpy(m.hash, k->hash, 32);
    file_path(vs, k->name, path, sizeof path);
    if (hkv_index_save(k->ix, path, &m, sizeof m, NULL) == HK_OK)
        k->saved_seq = k->seq;
}

/* Reads the space's file into k when it describes this space and t's
 * history; false when there is no usable file. */
static bool load_file(hkv_store *vs, hkv_kept *k, hk_txn *t,
                      const hkv_space *sp)
{
    char path[4096];
    file_meta m;
    size_t mlen = 0;
    hkv_index *ix = NULL;
    if (!vs->files) return false;
    file_path(vs, sp->name, path, sizeof path);
    if (hkv_index_read(path, &ix, &m, sizeof m, &mlen, NULL)) return false;
    if (mlen != sizeof m || m.version != META_VERSION || m.space_id != sp->id ||
        m.stamp != sp->stamp || ix->p.dim != sp->params.dim ||
        ix->p.metric != sp->params.metric || ix->p.quant != sp->params.quant ||
        !audit_has(t, m.seq, m.hash)) {
        hkv_index_free(ix);
        return false;
    }
    /* HAKGAL_VECTOR_PIN=1: the pages become the process's own on a
     * thread of the index while serving starts (hkv_index_pin). Off by
     * default: with memory to spare the mapping does not fault more
     * (bench/RESULTS.md), and the copy costs CPU and memory at start. */
    const char *pin = getenv("HAKGAL_VECTOR_PIN");
    if (pin && strcmp(pin, "1") == 0) (void)hkv_index_pin_start(ix, NULL);
    k->ix = ix;
    k->seq = k->saved_seq = m.seq;
    memcpy(k->hash, m.hash, 32);
    atomic_fetch_add(&vs->file_loads, 1);
    return true;
}

/* Makes k's index current to t: reuse, catch up, read the file, or
 * build. */
static hk_err refresh(hkv_store *vs, hkv_kept *k, hk_txn *t,
                      const hkv_space *sp, uint64_t head,
                      const uint8_t hash[32], hk_error *err)
{
    hk_err e;
    if (k->ix && (k->space_id != sp->id || k->stamp != sp->stamp)) {
        hkv_index_free(k->ix); /* the space was dropped and re-created */
        k->ix = NULL;
    }
    if (!k->ix) {
        k->space_id = sp->id;
        k->stamp = sp->stamp;
        k->saved_seq = UINT64_MAX;
        if (!load_file(vs, k, t, sp)) goto build;
    }
    if (k->seq >= head) return HK_OK;
    e = catch_up(vs, k, t, sp, head, hash, err);
    if (e != HK_ERR_LIMIT) return e;
    hk_error_clear(err);
build:
    hkv_index_free(k->ix);
    k->ix = NULL;
    if ((e = hkv_index_load(vs, t, sp->name, &k->ix, err))) return e;
    atomic_fetch_add(&vs->builds, 1);
    k->seq = head;
    memcpy(k->hash, hash, 32);
    k->saved_seq = UINT64_MAX;
    save(vs, k);
    return HK_OK;
}

/* ==== Acquire and release ==== */

/* The kept entry of space name, made when new. NULL when out of room. */
static hkv_kept *kept_entry(hkv_store *vs, const char *name)
{
    hkv_kept *k = NULL;
    pthread_mutex_lock(&vs->kept_lock);
    for (uint32_t i = 0; i < vs->n_kept && !k; i++)
        if (strcmp(vs->kept[i]->name, name) == 0) k = vs->kept[i];
    if (!k && vs->n_kept < HKV_SPACES_MAX && (k = hk_calloc(1, sizeof *k))) {
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        /* a waiting catch-up is not starved by a stream of searches */
        pthread_rwlockattr_setkind_np(
            &a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&k->rw, &a);
        pthread_rwlockattr_destroy(&a);
        snprintf(k->name, sizeof k->name, "%s", name);
        k->saved_seq = UINT64_MAX;
        vs->kept[vs->n_kept++] = k;
    }
    pthread_mutex_unlock(&vs->kept_lock);
    return k;
}

hk_err hkv_index_acquire(hkv_store *vs, hk_txn *t, const char *space,
                         const hkv_index **ix, hkv_kept **ref, hk_error *err)
{
    hkv_space sp;
    uint64_t head;
    uint8_t hash[32];
    hk_err e;
    *ix = NULL;
    *ref = NULL;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = audit_head(t, &head, hash, err)))
        return e;
    hkv_kept *k = kept_entry(vs, sp.name);
    if (!k) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    /* twice at most: refresh, then read what it made (a commit in between
     * only moves the index further ahead of t) */
    for (int round = 0; round < 3; round++) {
        pthread_rwlock_rdlock(&k->rw);
        if (k->ix && k->space_id == sp.id && k->stamp == sp.stamp &&
            k->seq >= head) {
            *ix = k->ix;
            *ref = k;
            return HK_OK;
        }
        pthread_rwlock_unlock(&k->rw);
        pthread_rwlock_wrlock(&k->rw);
        e = refresh(vs, k, t, &sp, head, hash, err);
        pthread_rwlock_unlock(&k->rw);
        if (e) return e;
    }
    return hk_error_set(err, HK_ERR_STATE, "the index of '%s' keeps changing",
                        space);
}

hk_err hkv_index_try_acquire(hkv_store *vs, hk_txn *t, const char *space,
                             const hkv_index **ix, hkv_kept **ref,
                             hk_error *err)
{
    hkv_space sp;
    uint64_t head;
    uint8_t hash[32];
    hk_err e;
    hkv_kept *k = NULL;
    *ix = NULL;
    *ref = NULL;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = audit_head(t, &head, hash, err)))
        return e;
    pthread_mutex_lock(&vs->kept_lock);
    for (uint32_t i = 0; i < vs->n_kept && !k; i++)
        if (strcmp(vs->kept[i]->name, sp.name) == 0) k = vs->kept[i];
    pthread_mutex_unlock(&vs->kept_lock);
    /* a writer holding or waiting for the lock is a catch-up or a build */
    if (k && pthread_rwlock_tryrdlock(&k->rw) == 0) {
        if (k->ix && k->space_id == sp.id && k->stamp == sp.stamp &&
            k->seq >= head) {
            *ix = k->ix;
            *ref = k;
            return HK_OK;
        }
        pthread_rwlock_unlock(&k->rw);
    }
    return hk_error_set(err, HK_ERR_BUSY,
                        "the index of '%s' is not ready to search", space);
}

void hkv_index_release(hkv_kept *ref)
{
    if (ref) pthread_rwlock_unlock(&ref->rw);
}

/* ==== Warming up ==== */

static void *warm_main(void *arg)
{
    hkv_store *vs = arg;
    hkv_space *all = hk_calloc(HKV_SPACES_MAX, sizeof *all);
    size_t n = 0;
    hk_txn *t = NULL;
    if (!all || hk_txn_begin(vs->s, false, &t, NULL) ||
        hkv_space_list(vs, t, all, &n, NULL))
        n = 0;
    for (size_t i = 0; i < n && !atomic_load(&vs->stop); i++) {
        const hkv_index *ix;
        hkv_kept *ref;
        if (hkv_index_acquire(vs, t, all[i].name, &ix, &ref, NULL) == HK_OK)
            hkv_index_release(ref);
    }
    if (t) hk_txn_abort(t);
    hk_free(all);
    return NULL;
}

hk_err hkv_store_warm(hkv_store *vs, hk_error *err)
{
    if (vs->warming)
        return hk_error_set(err, HK_ERR_STATE, "already warming up");
    if (pthread_create(&vs->warm, NULL, warm_main, vs) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "cannot start a thread");
    vs->warming = true;
    return HK_OK;
}

/* ==== Hook, detach, metrics ==== */

void hkv_kept_on_commit(hkv_store *vs, uint64_t last_seq)
{
    hkv_kept *ks[HKV_SPACES_MAX];
    uint32_t n;
    pthread_mutex_lock(&vs->kept_lock);
    n = vs->n_kept;
    memcpy(ks, vs->kept, n * sizeof *ks);
    pthread_mutex_unlock(&vs->kept_lock);
    if (n == 0) return;
    hk_txn *t = NULL;
    for (uint32_t i = 0; i < n; i++) {
        hkv_kept *k = ks[i];
        /* busy with searches: the next acquire catches up */
        if (pthread_rwlock_trywrlock(&k->rw) != 0) continue;
        if (k->ix && k->seq < last_seq &&
            (t || hk_txn_begin(vs->s, false, &t, NULL) == HK_OK)) {
            hkv_space sp;
            uint64_t head;
            uint8_t hash[32];
            /* on failure seq stays: the next acquire applies the same
             * changes again (adding and deleting are idempotent here) or
             * rebuilds */
            if (hkv_space_find(vs, t, k->name, &sp, NULL) == HK_OK &&
                sp.id == k->space_id && sp.stamp == k->stamp &&
                audit_head(t, &head, hash, NULL) == HK_OK)
                (void)catch_up(vs, k, t, &sp, head, hash, NULL);
        }
        pthread_rwlock_unlock(&k->rw);
    }
    if (t) hk_txn_abort(t);
}

void hkv_kept_stop(hkv_store *vs)
{
    atomic_store(&vs->stop, true);
    if (vs->warming) pthread_join(vs->warm, NULL);
    vs->warming = false;
}

void hkv_kept_free_all(hkv_store *vs)
{
    for (uint32_t i = 0; i < vs->n_kept; i++) {
        hkv_kept *k = vs->kept[i];
        save(vs, k);
        hkv_index_free(k->ix);
        pthread_rwlock_destroy(&k->rw);
        hk_free(k);
    }
    vs->n_kept = 0;
}

void hkv_kept_stats_get(hkv_store *vs, hkv_kept_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&vs->kept_lock);
    for (uint32_t i = 0; i < vs->n_kept; i++) {
        hkv_kept *k = vs->kept[i];
        if (pthread_rwlock_tryrdlock(&k->rw) != 0) continue;
        if (k->ix) {
            out->spaces++;
            out->vectors += hkv_index_count(k->ix);
            out->bytes += hkv_index_bytes(k->ix);
        }
        pthread_rwlock_unlock(&k->rw);
    }
    pthread_mutex_unlock(&vs->kept_lock);
    out->builds = atomic_load(&vs->builds);
    out->file_loads = atomic_load(&vs->file_loads);
    out->caught_up = atomic_load(&vs->caught_up);
    out->searches = atomic_load(&vs->searches);
    out->search_us = atomic_load(&vs->search_us);
}

void hkv_store_note_search(hkv_store *vs, uint64_t us)
{
    atomic_fetch_add(&vs->searches, 1);
    atomic_fetch_add(&vs->search_us, us);
}
