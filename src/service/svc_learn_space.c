/*
 * svc_learn_space.c — publishes a trained model's entity embeddings as an
 * entity vector space (svc_learn.h, "The graph vector space"), so that
 * `hakgal similar --space graph` and every other vector search reads them.
 *
 * Steps, each its own write transaction (hk_svc_write):
 *   1. prepare: the space is created (kind entity, metric cosine, no
 *      embedder, dim = the model's width) when absent; an entity space of
 *      that dim is cleared (new stamp, the model's name recorded); a space
 *      of another dim or kind whose model is ours ("learn:" prefix) is
 *      dropped and created again; any other space of that name is left
 *      alone (HK_ERR_EXISTS);
 *   2. the vectors, in batches of HKS_BATCH entities through
 *      hk_svc_ventity_apply (one audit entry per vector, as for any
 *      producer of entity vectors).
 * Names the KB has no symbol for (the empty entity that stands for
 * "true" in unary facts; entities of a model trained from files) are
 * skipped: they are looked up in a read transaction first. A reader may
 * see the space half filled between batches; the final count is the
 * model's entity count minus the skipped ones.
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "service/svc_learn.h"
#include "service/svc_vector.h"
#include "store/store.h"

#define HKS_BATCH 10000u
#define HKS_MODEL_PREFIX "learn:"

typedef struct prep_arg {
    hkv_store *vs;
    const char *space;
    uint32_t dim;
    const char *model; /* "learn:<kind>-<dim>@<audit_seq>" */
} prep_arg;

/* Audit entries of the KB as t sees it (its own writes included). */
static hk_err audit_head(hk_txn *t, uint64_t *seq, hk_error *err)
{
    hk_stats st;
    hk_err e = hk_store_stats(t, &st, err);
    if (e == HK_OK) *seq = st.audit_entries;
    return e;
}

static hk_err prep_space(hk_txn *t, prep_arg *a, hk_error *err)
{
    hkv_space sp;
    hk_err e = hkv_space_find(a->vs, t, a->space, &sp, err);
    if (e == HK_OK) {
        if (sp.kind == HKV_KIND_ENTITY && sp.params.dim == a->dim &&
            sp.params.metric == HKV_COSINE)
            return hkv_space_clear(a->vs, t, a->space, a->model, err);
        if (strncmp(sp.model, HKS_MODEL_PREFIX, strlen(HKS_MODEL_PREFIX)))
            return hk_error_set(err, HK_ERR_EXISTS,
                                "vector space '%s' exists and does not hold "
                                "the learned model's entity vectors (drop "
                                "it, or train with --no-space)",
                                a->space);
        if ((e = hkv_space_drop(a->vs, t, a->space, err))) return e;
    } else if (e != HK_ERR_NOT_FOUND) {
        return e;
    }
    hk_error_clear(err);
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "%s", a->space);
    sp.params.dim = a->dim;
    sp.params.metric = HKV_COSINE;
    sp.params.quant = HKV_F32;
    sp.kind = HKV_KIND_ENTITY;
    sp.embedder = HKV_EMBED_NONE;
    if ((e = hkv_space_create(a->vs, t, &sp, err))) return e;
    return hkv_space_set_model(a->vs, t, a->space, a->model, err);
}

/* A write step with the audit entries it appended (a write txn is alone:
 * they are all its own). */
typedef struct step_arg {
    prep_arg *prep;           /* the prepare step, or NULL: */
    hk_svc_ventity_arg *vecs; /* a batch of vectors */
    uint64_t entries;         /* out */
} step_arg;

static hk_err step_apply(hk_txn *t, void *arg, hk_error *err)
{
    step_arg *a = arg;
    uint64_t h0 = 0, h1 = 0;
    a->entries = 0;
    hk_err e = audit_head(t, &h0, err);
    if (e == HK_OK)
        e = a->prep ? prep_space(t, a->prep, err)
                    : hk_svc_ventity_apply(t, a->vecs, err);
    if (e == HK_OK) e = audit_head(t, &h1, err);
    if (e == HK_OK) a->entries = h1 > h0 ? h1 - h0 : 0;
    return e;
}

/* Marks in keep[] the entities of m the KB has a symbol for. */
static hk_err known_entities(hk_store *s, const hkl_model *m, bool *keep,
                             uint64_t *skipped, hk_error *err)
{
    hk_txn *t;
    hk_err e = hk_txn_begin(s, false, &t, err);
    if (e) return e;
    *skipped = 0;
    for (uint32_t i = 0; i < m->ent.n; i++) {
        const char *nm = m->ent.v[i];
        uint32_t id;
        keep[i] = false;
        if (nm[0] != '\0') {
            e = hks_sym_id(t, nm, strlen(nm), &id, err);
            if (e == HK_OK)
                keep[i] = true;
            else if (e != HK_ERR_NOT_FOUND)
                break;
            e = HK_OK;
        }
        *skipped += !keep[i];
    }
    hk_txn_abort(t);
    hk_error_clear(err);
    return e;
}

hk_err hk_svc_model_publish_space(hk_store *s, struct hkv_store *vs,
                                  const hkl_model *m, const char *space,
                                  hk_svc_model_space_res *res, hk_error *err)
{
    memset(res, 0, sizeof *res);
    if (!vs)
        return hk_error_set(err, HK_ERR_STATE,
                            "the KB is not open for writing vectors");
    char model[HKV_MODEL_MAX + 1];
    snprintf(model, sizeof model, HKS_MODEL_PREFIX "%s-%u@%llu",
             hkl_kind_name(m->p.kind), m->p.dim,
             (unsigned long long)m->audit_seq);
    prep_arg pa = {vs, space, m->width, model};
    step_arg sa = {&pa, NULL, 0};
    hk_err e = hk_svc_write(s, "learn", step_apply, &sa, err);
    if (e) return e;
    res->audit_entries = sa.entries;
    bool *keep = hk_malloc((m->ent.n ? m->ent.n : 1) * sizeof *keep);
    const char **names = hk_malloc(HKS_BATCH * sizeof *names);
    float *vecs = hk_malloc((size_t)HKS_BATCH * m->width * sizeof *vecs);
    if (!keep || !names || !vecs) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((e = known_entities(s, m, keep, &res->skipped, err))) goto done;
    hk_svc_ventity_arg a;
    memset(&a, 0, sizeof a);
    a.vs = vs;
    a.space = space;
    a.names = names;
    a.vecs = vecs;
    a.dim = m->width;
    for (uint32_t i = 0; i < m->ent.n;) {
        a.n = 0;
        for (; i < m->ent.n && a.n < HKS_BATCH; i++) {
            if (!keep[i]) continue;
            names[a.n] = m->ent.v[i];
            memcpy(vecs + a.n * (size_t)m->width, m->E + (size_t)i * m->width,
                   m->width * sizeof *vecs);
            a.n++;
        }
        if (!a.n) continue;
        step_arg st = {NULL, &a, 0};
        if ((e = hk_svc_write(s, "learn", step_apply, &st, err))) goto done;
        res->written += a.written;
        res->audit_entries += st.entries;
    }
    snprintf(res->space, sizeof res->space, "%s", space);
    res->dim = m->width;
done:
    hk_free(keep);
    hk_free((void *)names);
    hk_free(vecs);
    return e;
}

json_t *hk_svc_model_space_jansson(const hk_svc_model_space_res *res)
{
    return json_pack("{s:s, s:i, s:I, s:I}", "space", res->space, "dim",
                     (json_int_t)res->dim, "vectors", (json_int_t)res->written,
                     "skipped", (json_int_t)res->skipped);
}
