/*
 * test_learn_space.c — a trained model leaves the KB through two doors
 * (svc_learn_space.c, svc_learn_backup.c): its entity embeddings become
 * the entity vector space `graph`, searched by the vector index exactly
 * as `hakgal model similar` ranks (cosine), refilled or re-created by a
 * retraining and never written over a space that is not the model's; and
 * a backup carries learn.model, so the restored KB serves the same
 * scores, while restoring a backup without one removes the stale model.
 */
#include <math.h>
#include <sys/stat.h>

#include "service/svc_learn.h"
#include "service/svc_vector.h"
#include "test_store_util.h"
#include "unit_skip.h"

static hk_store *open_attached(const char *dir, hkv_store **vs)
{
    hk_store_options o = {0};
    o.create = true;
    o.no_sync = true;
    o.map_size = 1ull << 30;
    hk_store *s = NULL;
    hk_error err;
    hk_err e = hk_svc_store_open(dir, &o, &s, vs, &err);
    if (e) fprintf(stderr, "open: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return s;
}

static void add_facts(hk_store *s)
{
    char a[32], b[32];
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 40; i++) {
        snprintf(a, sizeof a, "p%d", i);
        snprintf(b, sizeof b, "p%d", i ^ 1);
        tu_add(t, tu_st("Married", a, b, NULL), NULL);
        snprintf(b, sizeof b, "c%d", i % 5);
        tu_add(t, tu_st("LivesIn", a, b, NULL), NULL);
    }
    tu_add(t, tu_st("Active", "p0", NULL), NULL); /* edge to the "" entity */
    tu_commit(t);
}

static hk_svc_model *train(hk_store *s, uint32_t dim)
{
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    r.params.dim = dim;
    r.params.epochs = 20;
    r.params.threads = 1;
    r.params.negatives = 16;
    hkl_data d;
    hkl_data_init(&d);
    uint64_t seq = 0;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_svc_model_collect(t, &r, &d, &seq, &err), HK_OK);
    hk_txn_abort(t);
    hk_svc_model *h = NULL;
    hk_err rc = hk_svc_model_train(s, &d, seq, &r, &h, &err);
    if (rc) fail_msg("train: %s", err.message);
    hkl_data_free(&d);
    return h;
}

static void space_of(hk_store *s, hkv_store *vs, const char *name,
                     hkv_space *sp)
{
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkv_space_get(vs, t, name, sp, &err), HK_OK);
    hk_txn_abort(t);
}

static void test_graph_space(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnspace");
    hkv_store *vs = NULL;
    hk_store *s = open_attached(dir, &vs);
    add_facts(s);
    hk_svc_model *h = train(s, 8);
    const hkl_model *m = hk_svc_model_get(h);
    hk_svc_model_space_res res;
    hk_error err;
    assert_int_equal(
        hk_svc_model_publish_space(s, vs, m, HK_SVC_GRAPH_SPACE, &res, &err),
        HK_OK);
    assert_int_equal(res.skipped, 1); /* the "" entity of Active(p0) */
    assert_int_equal(res.written, m->ent.n - 1);
    assert_int_equal(res.dim, 16); /* ComplEx dim 8: 16 floats */
    hkv_space sp;
    space_of(s, vs, "graph", &sp);
    assert_int_equal(sp.kind, HKV_KIND_ENTITY);
    assert_int_equal(sp.params.dim, 16);
    assert_int_equal(sp.vectors, res.written);
    assert_int_equal(strncmp(sp.model, "learn:complex-8@", 16), 0);

    /* the index answers what the model answers: by p3's own vector, p3
     * first (cosine 1), then hkl_similar's three nearest */
    uint32_t e = hkl_names_find(&m->ent, "p3", 2);
    assert_true(e != UINT32_MAX);
    hkl_hit near[3];
    hk_err rc = HK_OK;
    assert_int_equal(hkl_similar(m, e, 3, near, &rc), 3);
    hk_svc_vsimilar_req q;
    memset(&q, 0, sizeof q);
    q.space = "graph";
    q.vector = m->E + (size_t)e * m->width;
    q.dim = m->width;
    q.k = 4;
    hk_svc_vsimilar_res vr;
    memset(&vr, 0, sizeof vr);
    hk_txn *t = tu_begin(s, false);
    rc = hk_svc_vsimilar(vs, t, &q, &vr, &err);
    if (rc) fail_msg("vsimilar: %s", err.message);
    hk_txn_abort(t);
    assert_int_equal(vr.n_hits, 4);
    assert_string_equal(vr.hits[0].entity, "p3");
    assert_true(vr.hits[0].score > 0.999);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(vr.hits[i + 1].entity, m->ent.v[near[i].id]);
        assert_true(fabs(vr.hits[i + 1].score - near[i].score) < 1e-4);
    }
    hk_svc_vsimilar_res_free(&vr);
    hk_svc_model_release(h);

    /* a retraining of another dim re-creates the space */
    h = train(s, 4);
    m = hk_svc_model_get(h);
    assert_int_equal(
        hk_svc_model_publish_space(s, vs, m, HK_SVC_GRAPH_SPACE, &res, &err),
        HK_OK);
    space_of(s, vs, "graph", &sp);
    assert_int_equal(sp.params.dim, 8);
    assert_int_equal(sp.vectors, m->ent.n - 1);
    /* ... and the same dim again refills it (no vector left twice) */
    assert_int_equal(
        hk_svc_model_publish_space(s, vs, m, HK_SVC_GRAPH_SPACE, &res, &err),
        HK_OK);
    space_of(s, vs, "graph", &sp);
    assert_int_equal(sp.vectors, m->ent.n - 1);

    /* a space of that name that is not the model's is left alone */
    hk_svc_vspace_arg va;
    memset(&va, 0, sizeof va);
    va.vs = vs;
    snprintf(va.sp.name, sizeof va.sp.name, "mine");
    va.sp.params.dim = 3;
    va.sp.params.metric = HKV_COSINE;
    va.sp.params.quant = HKV_F32;
    assert_int_equal(
        hk_svc_write(s, NULL, hk_svc_vspace_create_apply, &va, &err), HK_OK);
    assert_int_equal(hk_svc_model_publish_space(s, vs, m, "mine", &res, &err),
                     HK_ERR_EXISTS);
    space_of(s, vs, "mine", &sp);
    assert_int_equal(sp.params.dim, 3);
    assert_int_equal(sp.kind, HKV_KIND_FACT);
    hk_svc_model_release(h);

    /* training with the space: its own vector writes do not age it */
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    r.params.dim = 8;
    r.params.epochs = 5;
    r.params.threads = 1;
    r.vs = vs;
    hkl_data d;
    hkl_data_init(&d);
    uint64_t seq = 0;
    t = tu_begin(s, false);
    assert_int_equal(hk_svc_model_collect(t, &r, &d, &seq, &err), HK_OK);
    hk_txn_abort(t);
    hk_err src = HK_ERR_STATE;
    hk_error se;
    rc = hk_svc_model_train_space(s, &d, seq, &r, &h, &res, &src, &se, &err);
    hkl_data_free(&d);
    assert_int_equal(rc, HK_OK);
    assert_int_equal(src, HK_OK);
    m = hk_svc_model_get(h);
    assert_int_equal(res.written, m->ent.n - 1);
    assert_true(res.audit_entries >= res.written);
    assert_int_equal(m->audit_seq, seq + res.audit_entries);
    uint64_t age = 1;
    t = tu_begin(s, false);
    assert_int_equal(hk_svc_model_age(t, m, &age, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(age, 0);
    hk_svc_model_release(h);
    hk_svc_store_close(s, vs);
    tu_rmrf(dir);
    free(dir);
}

static void test_backup_restore(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnbak");
    char *base = tu_tmpdir("learnbak-to");
    char *into = tu_tmpdir("learnbak-kb");
    hkv_store *vs = NULL;
    hk_store *s = open_attached(dir, &vs);
    add_facts(s);
    hk_svc_model *h = train(s, 8);
    const hkl_model *m = hk_svc_model_get(h);
    uint32_t a = hkl_names_find(&m->ent, "p4", 2);
    uint32_t b = hkl_names_find(&m->ent, "p5", 2);
    uint32_t r = hkl_names_find(&m->rel, "Married", 7);
    float before = hkl_score(m, a, r, b);

    hk_svc_backup_req br;
    memset(&br, 0, sizeof br);
    char dest[600];
    snprintf(dest, sizeof dest, "%s/b1", base);
    br.dest = dest;
    hk_svc_backup_res res;
    hk_error err;
    hk_err rc = hk_svc_backup(s, &br, &res, &err);
    if (rc) fail_msg("backup: %s", err.message);
    hk_svc_model_release(h);
    hk_svc_store_close(s, vs);

    /* restore into a fresh directory: the same model, the same scores */
    hk_svc_restore_req rr;
    memset(&rr, 0, sizeof rr);
    rr.backup_dir = dest;
    rr.data_dir = into;
    rr.force = true;
    char sha[65];
    rc = hk_svc_restore(&rr, sha, &err);
    if (rc) fail_msg("restore: %s", err.message);
    s = open_attached(into, &vs);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_OK);
    m = hk_svc_model_get(h);
    assert_true(hkl_score(m, a, r, b) == before);
    hk_svc_model_release(h);
    hk_svc_store_close(s, vs);

    /* a backup without a model: restoring it removes the stale one */
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dest, HKL_MODEL_FILE);
    assert_int_equal(unlink(path), 0);
    rc = hk_svc_restore(&rr, sha, &err);
    if (rc) fail_msg("restore: %s", err.message);
    snprintf(path, sizeof path, "%s/%s", into, HKL_MODEL_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    s = open_attached(into, &vs);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_ERR_NOT_FOUND);
    hk_svc_store_close(s, vs);
    tu_rmrf(dir);
    tu_rmrf(base);
    tu_rmrf(into);
    free(dir);
    free(base);
    free(into);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_space),
        cmocka_unit_test(test_backup_restore),
    };
    return tu_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
