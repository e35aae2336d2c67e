/*
 * vstore.c — vector spaces and vectors in the store.
 *
 * Two module databases (src/store/store.h), so backup, compaction and the
 * store check cover them in every process:
 *
 *   vector.spaces  name -> space record: uint32 words (little-endian):
 *                  version 2, id, dim, metric, quant, m, ef_construction,
 *                  ef, embedder, creation stamp (µs, low and high word),
 *                  flags (bit 0: embed new facts after commit); version 3
 *                  (written now) adds the kind (0 fact, 1 entity) and the
 *                  model name (its length in a word, then its bytes);
 *                  version 2 records are fact spaces without a model,
 *                  version 1 records end before the stamp (stamp 0, no
 *                  flags)
 *   vector.data    space id u32 BE + fact id u64 BE -> dim float32 (LE);
 *                  in an entity space the id is the entity's symbol id
 *
 * Keys are big-endian so that a space's vectors are contiguous and in fact
 * id order. Writes happen in the caller's write transaction: a vector
 * commits or aborts with the fact written beside it. Each hkv_put and
 * hkv_del appends an audit entry "vector" naming the space (not the
 * bytes). A change hook removes a fact's vectors, in the same transaction,
 * when the fact is deleted or its content replaced (the vector described
 * the old content); a metadata change keeps them.
 *
 * Threads: an hkv_store is set up once (hkv_store_attach) and then only
 * read; the functions taking a txn follow hakgal.h's txn rules.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/store.h"
#include "store/vector_audit.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

/* Words of a space record: version 1 has 9, version 2 adds the creation
 * stamp (two words, low first) and a flags word. */
#define SPACE_REC_WORDS_V1 9u
#define SPACE_REC_WORDS_V2 12u
#define SPACE_REC_WORDS 14u
#define SPACE_FLAG_AUTO 1u
#define SPACE_REC_VERSION 3u
#define HOOK_NAME "vector.cascade"

/* ==== Encoding ==== */

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void data_key(uint8_t *k, uint32_t space, hk_fact_id id)
{
    put_be32(k, space);
    put_be64(k + 4, id);
}

static hk_err decode_space(hks_val k, hks_val v, hkv_space *out, hk_error *err)
{
    uint32_t w[SPACE_REC_WORDS] = {0};
    uint32_t version = 0;
    if (v.len >= 4) memcpy(&version, v.data, 4);
    size_t fixed = version == 1   ? SPACE_REC_WORDS_V1 * 4
                   : version == 2 ? SPACE_REC_WORDS_V2 * 4
                                  : sizeof w;
    if (version < 1 || version > SPACE_REC_VERSION)
        return hk_error_set(err, HK_ERR_VERSION,
                            "vector space record version %u", version);
    if (v.len < fixed || k.len == 0 || k.len > HKV_NAME_MAX)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "vector space record of %zu bytes", v.len);
    memcpy(w, v.data, fixed);
    size_t mlen = version == 3 ? w[13] : 0;
    if (mlen > HKV_MODEL_MAX || v.len != fixed + mlen ||
        (version == 3 && w[12] > HKV_KIND_ENTITY))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "vector space record of %zu bytes", v.len);
    /* k may point into out->name (space_find): copy the key first */
    char name[HKV_NAME_MAX + 1];
    memcpy(name, k.data, k.len);
    name[k.len] = 0;
    memset(out, 0, sizeof *out);
    memcpy(out->name, name, k.len + 1);
    out->id = w[1];
    out->embedder = (hkv_embedder)w[8];
    out->stamp = (uint64_t)w[10] << 32 | w[9];
    out->auto_embed = (w[11] & SPACE_FLAG_AUTO) != 0;
    out->kind = (hkv_kind)w[12];
    memcpy(out->model, (const uint8_t *)v.data + fixed, mlen);
    out->model[mlen] = 0;
    out->params =
        (hkv_params){w[2], (hkv_metric)w[3], (hkv_quant)w[4], w[5], w[6], w[7]};
    return HK_OK;
}

/* Writes the record of sp (id, params, stamp filled in) under its name. */
static hk_err put_space(hkv_store *vs, hk_txn *t, const hkv_space *sp,
                        unsigned flags, hk_error *err)
{
    size_t mlen = strlen(sp->model);
    uint8_t rec[SPACE_REC_WORDS * 4 + HKV_MODEL_MAX];
    const hkv_params *p = &sp->params;
    uint32_t w[SPACE_REC_WORDS] = {SPACE_REC_VERSION,
                                   sp->id,
                                   p->dim,
                                   (uint32_t)p->metric,
                                   (uint32_t)p->quant,
                                   p->m,
                                   p->ef_construction,
                                   p->ef,
                                   (uint32_t)sp->embedder,
                                   (uint32_t)sp->stamp,
                                   (uint32_t)(sp->stamp >> 32),
                                   sp->auto_embed ? SPACE_FLAG_AUTO : 0,
                                   (uint32_t)sp->kind,
                                   (uint32_t)mlen};
    memcpy(rec, w, sizeof w);
    memcpy(rec + sizeof w, sp->model, mlen);
    atomic_store(&vs->space_dirty, true);
    return hks_put(t, vs->spaces, (hks_val){sp->name, strlen(sp->name)},
                   (hks_val){rec, sizeof w + mlen}, flags, err);
}

/* ==== Attach ==== */

static hk_err delete_vectors_of(hkv_store *vs, hk_txn *t, hk_fact_id id,
                                hk_error *err);

static hk_err on_change(hk_txn *t, const hks_change *c, void *ud, hk_error *err)
{
    if (c->op != HKS_OP_DELETE && c->op != HKS_OP_UPDATE) return HK_OK;
    return delete_vectors_of(ud, t, c->id, err);
}

static void on_commit(hk_store *s, const hks_commit *c, void *ud)
{
    hkv_store *vs = ud;
    (void)s;
    hkv_kept_on_commit(vs, c->last_seq);
    /* after the commit, so that a reader of the new number sees the
     * spaces it wrote; a write txn that aborted only costs one bump */
    if (atomic_exchange(&vs->space_dirty, false))
        atomic_fetch_add(&vs->space_gen, 1);
    if (vs->listener) vs->listener(vs->listener_ud, c->last_seq);
}

uint64_t hkv_space_generation(hkv_store *vs)
{
    return atomic_load(&vs->space_gen);
}

void hkv_store_set_listener(hkv_store *vs, void (*fn)(void *ud, uint64_t seq),
                            void *ud)
{
    vs->listener = fn;
    vs->listener_ud = ud;
}

hk_err hkv_store_attach(hk_store *s, hkv_store **out, hk_error *err)
{
    hk_err e;
    hkv_store *vs = hk_calloc(1, sizeof *vs);
    *out = NULL;
    if (!vs) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    vs->s = s;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    vs->threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (unsigned)cpus;
    vs->files = true;
    pthread_mutex_init(&vs->kept_lock, NULL);
    if ((e = hks_db_register(s, "vector.spaces", 0, &vs->spaces, err)) ||
        (e = hks_db_register(s, "vector.data", 0, &vs->data, err)))
        goto fail;
    hks_hook h = {HOOK_NAME, HKS_EV_DELETE | HKS_EV_UPDATE, on_change,
                  on_commit, vs};
    if ((e = hks_hook_add(s, &h, err))) goto fail;
    vs->hooked = true;
    *out = vs;
    return HK_OK;
fail:
    pthread_mutex_destroy(&vs->kept_lock);
    hk_free(vs);
    return e;
}

void hkv_store_detach(hkv_store *vs)
{
    if (!vs) return;
    hkv_kept_stop(vs);
    if (vs->hooked) hks_hook_remove(vs->s, HOOK_NAME, NULL);
    hkv_kept_free_all(vs);
    pthread_mutex_destroy(&vs->kept_lock);
    hk_free(vs);
}

void hkv_store_set_build(hkv_store *vs, unsigned threads, bool files)
{
    vs->threads = threads ? threads : 1;
    vs->files = files;
}

/* ==== Spaces ==== */

static hk_err check_name(const char *name, hk_error *err)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= HKV_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '_' || ch == '-';
    }
    if (ok) return HK_OK;
    hk_error_set(err, HK_ERR_INVALID,
                 "space name must be 1..%u bytes of a-z, 0-9, '_' and '-'",
                 HKV_NAME_MAX);
    if (err) snprintf(err->field, sizeof err->field, "space");
    return HK_ERR_INVALID;
}

/* Vectors of space id (a cursor over its key range). */
static hk_err count_vectors(hkv_store *vs, hk_txn *t, uint32_t id, uint64_t *n,
                            hk_error *err)
{
    hks_cursor *c;
    hks_val k, v;
    bool found;
    uint8_t kb[12];
    hk_err e;
    *n = 0;
    data_key(kb, id, 0);
    if ((e = hks_cursor_open(t, vs->data, &c, err))) return e;
    e = hks_cursor_seek(c, (hks_val){kb, sizeof kb}, &k, &v, &found, err);
    while (!e && found && k.len == 12 && get_be32(k.data) == id) {
        (*n)++;
        e = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    return e;
}

hk_err hkv_space_list(hkv_store *vs, hk_txn *t, hkv_space *out, size_t *n,
                      hk_error *err)
{
    hks_cursor *c;
    hks_val k, v;
    bool found;
    hk_err e;
    *n = 0;
    if ((e = hks_cursor_open(t, vs->spaces, &c, err))) return e;
    e = hks_cursor_seek(c, (hks_val){NULL, 0}, &k, &v, &found, err);
    while (!e && found && *n < HKV_SPACES_MAX) {
        if ((e = decode_space(k, v, &out[*n], err))) break;
        (*n)++;
        e = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    for (size_t i = 0; !e && i < *n; i++)
        e = count_vectors(vs, t, out[i].id, &out[i].vectors, err);
    return e;
}

/* The record of space name, without counting its vectors. */
hk_err hkv_space_find(hkv_store *vs, hk_txn *t, const char *name,
                      hkv_space *out, hk_error *err)
{
    hks_val v;
    hk_err e;
    if ((e = check_name(name, err))) return e;
    hks_val k = {name, strlen(name)};
    e = hks_get(t, vs->spaces, k, &v, err);
    if (e == HK_ERR_NOT_FOUND)
        return hk_error_set(err, e, "no vector space '%s'", name);
    if (e) return e;
    return decode_space(k, v, out, err);
}

hk_err hkv_space_get(hkv_store *vs, hk_txn *t, const char *name, hkv_space *out,
                     hk_error *err)
{
    hk_err e = hkv_space_find(vs, t, name, out, err);
    if (e) return e;
    return count_vectors(vs, t, out->id, &out->vectors, err);
}

hk_err hkv_space_create(hkv_store *vs, hk_txn *t, const hkv_space *sp,
                        hk_error *err)
{
    hkv_space all[HKV_SPACES_MAX];
    size_t n;
    hkv_index *probe = NULL;
    hk_err e;
    if ((e = check_name(sp->name, err))) return e;
    if (sp->embedder != HKV_EMBED_NONE && sp->embedder != HKV_EMBED_HASHED &&
        sp->embedder != HKV_EMBED_OPENAI)
        return hk_error_set(err, HK_ERR_INVALID, "unknown embedder %d",
                            (int)sp->embedder);
    if (sp->kind != HKV_KIND_FACT && sp->kind != HKV_KIND_ENTITY) {
        hk_error_set(err, HK_ERR_INVALID, "unknown space kind %d",
                     (int)sp->kind);
        if (err) snprintf(err->field, sizeof err->field, "kind");
        return HK_ERR_INVALID;
    }
    if (strnlen(sp->model, sizeof sp->model) > HKV_MODEL_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "a model name has at most %u bytes",
                     HKV_MODEL_MAX);
        if (err) snprintf(err->field, sizeof err->field, "model");
        return HK_ERR_INVALID;
    }
    if (sp->auto_embed && sp->kind == HKV_KIND_ENTITY) {
        hk_error_set(err, HK_ERR_UNSUPPORTED,
                     "automatic embedding is for fact spaces; embed an "
                     "entity space with `hakgal embed`");
        if (err) snprintf(err->field, sizeof err->field, "auto_embed");
        return HK_ERR_UNSUPPORTED;
    }
    if (sp->auto_embed && sp->embedder == HKV_EMBED_NONE) {
        hk_error_set(err, HK_ERR_INVALID,
                     "automatic embedding needs an embedder (hashed or "
                     "openai)");
        if (err) snprintf(err->field, sizeof err->field, "auto_embed");
        return HK_ERR_INVALID;
    }
    /* the index checks and completes the parameters */
    if ((e = hkv_index_new(&sp->params, &probe, err))) return e;
    hkv_params p = sp->params;
    if (!p.m) p.m = HKV_M_DEFAULT;
    if (!p.ef_construction) p.ef_construction = HKV_EF_CONSTRUCTION_DEFAULT;
    if (!p.ef) p.ef = HKV_EF_DEFAULT;
    hkv_index_free(probe);
    if ((e = hkv_space_list(vs, t, all, &n, err))) return e;
    uint32_t id = 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, sp->name) == 0)
            return hk_error_set(err, HK_ERR_EXISTS, "vector space '%s' exists",
                                sp->name);
        if (all[i].id >= id) id = all[i].id + 1;
    }
    if (n >= HKV_SPACES_MAX)
        return hk_error_set(err, HK_ERR_LIMIT, "at most %u vector spaces",
                            HKV_SPACES_MAX);
    hkv_space rec = *sp;
    rec.id = id;
    rec.params = p;
    /* the txn's clock: replicas applying one log agree (kafka_repl.c) */
    rec.stamp = (uint64_t)hks_txn_now(t);
    rec.vectors = 0;
    return put_space(vs, t, &rec, HKS_PUT_NOOVERWRITE, err);
}

hk_err hkv_space_set_model(hkv_store *vs, hk_txn *t, const char *space,
                           const char *model, hk_error *err)
{
    hkv_space sp;
    hk_err e;
    if (strlen(model) > HKV_MODEL_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "a model name has at most %u bytes",
                     HKV_MODEL_MAX);
        if (err) snprintf(err->field, sizeof err->field, "model");
        return HK_ERR_INVALID;
    }
    if ((e = hkv_space_find(vs, t, space, &sp, err))) return e;
    if (strcmp(sp.model, model) == 0) return HK_OK;
    snprintf(sp.model, sizeof sp.model, "%s", model);
    return put_space(vs, t, &sp, 0, err);
}

/* Removes every vector of space id. */
static hk_err delete_space_vectors(hkv_store *vs, hk_txn *t, uint32_t id,
                                   hk_error *err)
{
    uint8_t kb[12];
    hks_val k, v;
    bool found;
    hk_err e;
    /* seek, delete, seek again: no cursor stays open across a write */
    for (;;) {
        hks_cursor *c;
        data_key(kb, id, 0);
        if ((e = hks_cursor_open(t, vs->data, &c, err))) return e;
        e = hks_cursor_seek(c, (hks_val){kb, sizeof kb}, &k, &v, &found, err);
        if (!e && found && k.len == 12 && get_be32(k.data) == id)
            memcpy(kb, k.data, 12);
        else
            found = false;
        hks_cursor_close(c);
        if (e || !found) return e;
        if ((e = hks_del(t, vs->data, (hks_val){kb, 12}, NULL, err))) return e;
    }
}

hk_err hkv_space_drop(hkv_store *vs, hk_txn *t, const char *name, hk_error *err)
{
    hkv_space sp;
    hk_err e;
    if ((e = hkv_space_find(vs, t, name, &sp, err))) return e;
    if ((e = delete_space_vectors(vs, t, sp.id, err))) return e;
    atomic_store(&vs->space_dirty, true);
    return hks_del(t, vs->spaces, (hks_val){name, strlen(name)}, NULL, err);
}

hk_err hkv_space_clear(hkv_store *vs, hk_txn *t, const char *name,
                       const char *model, hk_error *err)
{
    hkv_space sp;
    hk_err e;
    if (strlen(model) > HKV_MODEL_MAX) {
        hk_error_set(err, HK_ERR_INVALID, "a model name has at most %u bytes",
                     HKV_MODEL_MAX);
        if (err) snprintf(err->field, sizeof err->field, "model");
        return HK_ERR_INVALID;
    }
    if ((e = hkv_space_find(vs, t, name, &sp, err)) ||
        (e = delete_space_vectors(vs, t, sp.id, err)))
        return e;
    snprintf(sp.model, sizeof sp.model, "%s", model);
    /* a new stamp: kept indexes and index files of the old vectors are
     * rebuilt, as for a re-created space */
    uint64_t now = (uint64_t)hks_txn_now(t);
    sp.stamp = now > sp.stamp ? now : sp.stamp + 1;
    return put_space(vs, t, &sp, 0, err);
}

/* ==== Vectors ==== */

static hk_err audit(hk_txn *t, hk_fact_id id, const char *space,
                    const char *change, uint32_t dim, hk_error *err)
{
    char what[160];
    snprintf(what, sizeof what,
             "{\"vector\":{\"space\":\"%s\",\"change\":\"%s\",\"dim\":%u}}",
             space, change, dim);
    return hks_vector_audit(t, id, what, err);
}

/* HK_ERR_INVALID unless sp holds vectors of kind. */
static hk_err check_kind(const hkv_space *sp, hkv_kind kind, hk_error *err)
{
    if (sp->kind == kind) return HK_OK;
    hk_error_set(err, HK_ERR_INVALID, "space '%s' holds %s vectors, not %s",
                 sp->name, sp->kind == HKV_KIND_ENTITY ? "entity" : "fact",
                 kind == HKV_KIND_ENTITY ? "entity" : "fact");
    if (err) snprintf(err->field, sizeof err->field, "space");
    return HK_ERR_INVALID;
}

/* Checks v against sp: its dimension, finite values, not zero under
 * cosine. */
static hk_err check_vector(const hkv_space *sp, const float *v, uint32_t dim,
                           hk_error *err)
{
    if (dim != sp->params.dim) {
        hk_error_set(err, HK_ERR_INVALID,
                     "space '%s' has %u dimensions, the vector %u", sp->name,
                     sp->params.dim, dim);
        if (err) snprintf(err->field, sizeof err->field, "vector");
        return HK_ERR_INVALID;
    }
    bool nonzero = false;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i])) {
            hk_error_set(err, HK_ERR_INVALID,
                         "vector value %u is not a finite number", i);
            if (err) snprintf(err->field, sizeof err->field, "vector");
            return HK_ERR_INVALID;
        }
        nonzero |= v[i] != 0;
    }
    if (!nonzero && sp->params.metric == HKV_COSINE)
        return hk_error_set(err, HK_ERR_INVALID,
                            "a zero vector has no cosine distance");
    return HK_OK;
}

/* The vector stored under id in sp into out. */
static hk_err vec_get(hkv_store *vs, hk_txn *t, const hkv_space *sp,
                      uint64_t id, float *out, hk_error *err)
{
    hks_val v;
    uint8_t kb[12];
    data_key(kb, sp->id, id);
    hk_err e = hks_get(t, vs->data, (hks_val){kb, sizeof kb}, &v, err);
    if (e == HK_ERR_NOT_FOUND)
        return hk_error_set(err, e, "%s %llu has no vector in '%s'",
                            sp->kind == HKV_KIND_ENTITY ? "symbol" : "fact",
                            (unsigned long long)id, sp->name);
    if (e) return e;
    if (v.len != (size_t)sp->params.dim * sizeof(float))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "vector of id %llu has %zu bytes",
                            (unsigned long long)id, v.len);
    memcpy(out, v.data, v.len);
    return HK_OK;
}

hk_err hkv_put(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               const float *v, uint32_t dim, hk_error *err)
{
    hkv_space sp;
    hks_fact_syms syms;
    uint8_t kb[12];
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_FACT, err)) ||
        (e = check_vector(&sp, v, dim, err)))
        return e;
    if ((e = hks_fact_syms_get(t, id, &syms, err))) {
        if (e == HK_ERR_NOT_FOUND)
            hk_error_set(err, e, "no fact %llu", (unsigned long long)id);
        return e;
    }
    data_key(kb, sp.id, id);
    if ((e = hks_put(t, vs->data, (hks_val){kb, sizeof kb},
                     (hks_val){v, (size_t)dim * sizeof *v}, 0, err)))
        return e;
    return audit(t, id, space, "set", dim, err);
}

hk_err hkv_get(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               float *out, hk_error *err)
{
    hkv_space sp;
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_FACT, err)))
        return e;
    return vec_get(vs, t, &sp, id, out, err);
}

hk_err hkv_del(hkv_store *vs, hk_txn *t, const char *space, hk_fact_id id,
               hk_error *err)
{
    hkv_space sp;
    uint8_t kb[12];
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_FACT, err)))
        return e;
    data_key(kb, sp.id, id);
    e = hks_del(t, vs->data, (hks_val){kb, sizeof kb}, NULL, err);
    if (e == HK_ERR_NOT_FOUND)
        return hk_error_set(err, e, "fact %llu has no vector in '%s'",
                            (unsigned long long)id, space);
    if (e) return e;
    return audit(t, id, space, "delete", sp.params.dim, err);
}

/* ==== Entity vectors ==== */

/* Appends s[0..len) to b as the inside of a JSON string. */
static void json_escape(char *b, size_t cap, size_t *at, const char *s,
                        size_t len)
{
    for (size_t i = 0; i < len && *at + 7 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            b[(*at)++] = '\\';
            b[(*at)++] = (char)ch;
        } else if (ch < 0x20) {
            *at += (size_t)snprintf(b + *at, cap - *at, "\\u%04x", ch);
        } else {
            b[(*at)++] = (char)ch;
        }
    }
    b[*at] = 0;
}

/* The audit entry of an entity vector change: space, entity (the first
 * 256 bytes of its name), symbol id, change, dimension. */
static hk_err audit_entity(hk_txn *t, const hkv_space *sp, const char *entity,
                           size_t len, uint32_t sym, const char *change,
                           hk_error *err)
{
    char what[2048];
    size_t at = (size_t)snprintf(what, sizeof what,
                                 "{\"vector\":{\"space\":\"%s\",\"entity\":\"",
                                 sp->name);
    json_escape(what, 1500, &at, entity, len < 256 ? len : 256);
    snprintf(what + at, sizeof what - at,
             "\",\"sym\":%u,\"change\":\"%s\",\"dim\":%u}}", sym, change,
             sp->params.dim);
    return hks_vector_audit_entity(t, what, err);
}

/* The symbol id of entity[0..len); HK_ERR_NOT_FOUND names it. */
static hk_err entity_sym(hk_txn *t, const char *entity, size_t len,
                         uint32_t *sym, hk_error *err)
{
    hk_err e = hks_sym_id(t, entity, len, sym, err);
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_set(err, e, "no entity '%.*s'", (int)(len < 200 ? len : 200),
                     entity);
        if (err) snprintf(err->field, sizeof err->field, "entity");
    }
    return e;
}

hk_err hkv_entity_put(hkv_store *vs, hk_txn *t, const char *space,
                      const char *entity, size_t len, const float *v,
                      uint32_t dim, hk_error *err)
{
    hkv_space sp;
    uint32_t sym;
    uint8_t kb[12];
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_ENTITY, err)) ||
        (e = check_vector(&sp, v, dim, err)) ||
        (e = entity_sym(t, entity, len, &sym, err)))
        return e;
    data_key(kb, sp.id, sym);
    if ((e = hks_put(t, vs->data, (hks_val){kb, sizeof kb},
                     (hks_val){v, (size_t)dim * sizeof *v}, 0, err)))
        return e;
    return audit_entity(t, &sp, entity, len, sym, "set", err);
}

hk_err hkv_entity_get(hkv_store *vs, hk_txn *t, const char *space, uint32_t sym,
                      float *out, hk_error *err)
{
    hkv_space sp;
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_ENTITY, err)))
        return e;
    return vec_get(vs, t, &sp, sym, out, err);
}

hk_err hkv_entity_del(hkv_store *vs, hk_txn *t, const char *space,
                      const char *entity, size_t len, hk_error *err)
{
    hkv_space sp;
    uint32_t sym;
    uint8_t kb[12];
    hk_err e;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = check_kind(&sp, HKV_KIND_ENTITY, err)) ||
        (e = entity_sym(t, entity, len, &sym, err)))
        return e;
    data_key(kb, sp.id, sym);
    e = hks_del(t, vs->data, (hks_val){kb, sizeof kb}, NULL, err);
    if (e == HK_ERR_NOT_FOUND)
        return hk_error_set(err, e, "entity '%.*s' has no vector in '%s'",
                            (int)(len < 200 ? len : 200), entity, space);
    if (e) return e;
    return audit_entity(t, &sp, entity, len, sym, "delete", err);
}

static hk_err delete_vectors_of(hkv_store *vs, hk_txn *t, hk_fact_id id,
                                hk_error *err)
{
    hkv_space all[HKV_SPACES_MAX];
    size_t n;
    uint8_t kb[12];
    hk_err e;
    if ((e = hkv_space_list(vs, t, all, &n, err))) return e;
    for (size_t i = 0; i < n; i++) {
        if (all[i].kind != HKV_KIND_FACT) continue; /* keyed by symbol */
        data_key(kb, all[i].id, id);
        e = hks_del(t, vs->data, (hks_val){kb, sizeof kb}, NULL, err);
        if (e && e != HK_ERR_NOT_FOUND) return e;
    }
    return HK_OK;
}

/* ==== Index from the store ==== */

/* Bytes of vectors handed to one hkv_index_add_batch call while
 * building. */
#define LOAD_CHUNK_BYTES (64u << 20)

hk_err hkv_index_load(hkv_store *vs, hk_txn *t, const char *space,
                      hkv_index **out, hk_error *err)
{
    hkv_space sp;
    hkv_index *ix = NULL;
    hks_cursor *c = NULL;
    hks_val k, v;
    bool found;
    uint8_t kb[12];
    float *buf = NULL;
    uint64_t *ids = NULL;
    size_t n = 0;
    hk_err e;
    *out = NULL;
    if ((e = hkv_space_find(vs, t, space, &sp, err)) ||
        (e = hkv_index_new(&sp.params, &ix, err)))
        return e;
    size_t dim = sp.params.dim;
    size_t chunk = LOAD_CHUNK_BYTES / (dim * sizeof(float));
    buf = hk_malloc(chunk * dim * sizeof *buf);
    ids = hk_malloc(chunk * sizeof *ids);
    if (!buf || !ids) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    data_key(kb, sp.id, 0);
    if ((e = hks_cursor_open(t, vs->data, &c, err))) goto fail;
    e = hks_cursor_seek(c, (hks_val){kb, sizeof kb}, &k, &v, &found, err);
    while (!e && found && k.len == 12 && get_be32(k.data) == sp.id) {
        if (v.len != dim * sizeof(float)) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "vector of %zu bytes in space '%s'", v.len, space);
            break;
        }
        hk_fact_id id = get_be64((const uint8_t *)k.data + 4);
        hks_fact_syms syms;
        /* a process that did not attach may have deleted the fact; fact
         * ids are never reused, so its vector is skipped, not misread */
        e = sp.kind == HKV_KIND_ENTITY ? HK_OK
                                       : hks_fact_syms_get(t, id, &syms, err);
        if (e == HK_OK) {
            memcpy(buf + n * dim, v.data, v.len); /* the map need not be
                                                    aligned */
            ids[n++] = id;
        }
        if (e == HK_ERR_NOT_FOUND) e = HK_OK;
        if (!e && n == chunk) {
            e = hkv_index_add_batch(ix, ids, buf, n, vs->threads, err);
            n = 0;
        }
        if (e) break;
        e = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    if (!e && n) e = hkv_index_add_batch(ix, ids, buf, n, vs->threads, err);
    if (e) goto fail;
    hk_free(buf);
    hk_free(ids);
    *out = ix;
    return HK_OK;
fail:
    hk_free(buf);
    hk_free(ids);
    hkv_index_free(ix);
    return e;
}
