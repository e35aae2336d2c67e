/*
 * test_learn_service.c — the learned model's service operations
 * (svc_learn.c) on a scratch KB: training stores learn.model with the
 * audit sequence; a model trained at an older sequence loads and reports
 * its age; the cache hands out the same model until the file changes and
 * then swaps in the new one while old references stay valid; a damaged
 * or missing file is an error, never a crash; score, predict and similar
 * answer from the model and mark facts of the KB.
 */
#include <math.h>

#include "service/svc_learn.h"
#include "test_store_util.h"
#include "unit_skip.h"

static void add_facts(hk_store *s, int from, int to)
{
    char a[32], b[32];
    for (int i = from; i < to; i++) {
        hk_txn *t = tu_begin(s, true);
        snprintf(a, sizeof a, "p%d", i);
        snprintf(b, sizeof b, "p%d", i ^ 1);
        tu_add(t, tu_st("Married", a, b, NULL), NULL);
        snprintf(b, sizeof b, "c%d", i % 5);
        tu_add(t, tu_st("LivesIn", a, b, NULL), NULL);
        tu_commit(t);
    }
}

static hk_svc_model *train(hk_store *s, uint32_t dim)
{
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    r.params.dim = dim;
    r.params.epochs = 30;
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
    assert_int_equal(hk_svc_model_get(h)->audit_seq, seq);
    return h;
}

static void test_age_and_swap(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnsvc");
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_svc_model *h = NULL;
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "model train"));
    add_facts(s, 0, 40); /* 80 audit entries: one per fact */
    hk_svc_model *first = train(s, 8);
    assert_int_equal(hk_svc_model_get(first)->audit_seq, 80);
    /* the cache hands out the published model */
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_OK);
    assert_ptr_equal(h, first);
    hk_svc_model_release(h);
    /* older than the KB: loads, and its age is the entries since */
    add_facts(s, 40, 43);
    hk_txn *t = tu_begin(s, false);
    uint64_t age = 0;
    assert_int_equal(hk_svc_model_age(t, hk_svc_model_get(first), &age, &err),
                     HK_OK);
    assert_int_equal(age, 6);
    json_t *j = hk_svc_model_info_jansson(hk_svc_model_get(first), true, age);
    assert_int_equal(json_integer_value(json_object_get(j, "age")), 6);
    assert_int_equal(json_integer_value(json_object_get(j, "audit_seq")), 80);
    json_decref(j);
    /* score / predict / similar */
    hk_svc_model_score_res sr;
    const char *st = "Married(p1, p0)";
    assert_int_equal(hk_svc_model_score(t, hk_svc_model_get(first), st,
                                        strlen(st), &sr, &err),
                     HK_OK);
    assert_true(sr.in_kb && sr.plausibility >= 0 && sr.plausibility <= 1);
    assert_true(sr.rank >= 1 && sr.rank <= sr.entities);
    st = "Married(nobody, p0)";
    assert_int_equal(hk_svc_model_score(t, hk_svc_model_get(first), st,
                                        strlen(st), &sr, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.field, "args[0]");
    hk_svc_model_predict_res pr;
    st = "LivesIn(p3, ?x)";
    assert_int_equal(hk_svc_model_predict(t, hk_svc_model_get(first), st,
                                          strlen(st), 3, &pr, &err),
                     HK_OK);
    assert_int_equal(pr.n, 3);
    assert_true(pr.v[0].plausibility >= pr.v[1].plausibility);
    for (size_t i = 0; i < pr.n; i++) /* known = a fact of the KB now */
        assert_int_equal(pr.v[i].known,
                         strcmp(pr.v[i].statement, "LivesIn(p3, c3)") == 0);
    hk_svc_model_predict_free(&pr);
    st = "LivesIn(?x, ?y)";
    assert_int_equal(hk_svc_model_predict(t, hk_svc_model_get(first), st,
                                          strlen(st), 3, &pr, &err),
                     HK_ERR_INVALID);
    hk_svc_model_similar_res sim;
    assert_int_equal(
        hk_svc_model_similar(hk_svc_model_get(first), "p0", 4, &sim, &err),
        HK_OK);
    assert_int_equal(sim.n, 4);
    for (size_t i = 0; i < sim.n; i++)
        assert_string_not_equal(sim.names[i], "p0");
    hk_svc_model_similar_free(&sim);
    hk_txn_abort(t);
    /* retrained: the next acquire gets the new model, the old one lives on
     * for its holder */
    hk_svc_model *second = train(s, 12);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_OK);
    assert_ptr_equal(h, second);
    assert_int_equal(hk_svc_model_get(h)->p.dim, 12);
    assert_int_equal(hk_svc_model_get(first)->p.dim, 8);
    assert_int_equal(hk_svc_model_get(h)->audit_seq, 86);
    hk_svc_model_release(h);
    hk_svc_model_release(first);
    hk_svc_model_release(second);
    /* a model file written by another process (here: saved directly) */
    char path[600];
    assert_int_equal(hk_svc_model_path(s, path, sizeof path, &err), HK_OK);
    hkl_model *m = NULL;
    assert_int_equal(hkl_load(path, &m, &err), HK_OK);
    m->audit_seq = 7;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a new modification time */
    assert_int_equal(hkl_save(m, path, &err), HK_OK);
    hkl_model_free(m);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_OK);
    assert_int_equal(hk_svc_model_get(h)->audit_seq, 7);
    hk_svc_model_release(h);
    /* damaged, then gone */
    FILE *fp = fopen(path, "w");
    fputs("not a model file at all", fp);
    fclose(fp);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_ERR_CORRUPT);
    assert_null(h);
    unlink(path);
    assert_int_equal(hk_svc_model_acquire(s, &h, &err), HK_ERR_NOT_FOUND);
    tu_discard(s, dir);
}

static void test_collect_checks(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("learnsvc2");
    hk_store *s = tu_open(dir);
    hk_svc_model_train_req r;
    hk_svc_model_train_req_init(&r);
    r.valid = 0.7;
    hkl_data d;
    hkl_data_init(&d);
    uint64_t seq;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_svc_model_collect(t, &r, &d, &seq, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "valid");
    r.valid = 0.05;
    assert_int_equal(hk_svc_model_collect(t, &r, &d, &seq, &err), HK_OK);
    hk_txn_abort(t);
    hk_svc_model *h = NULL;
    /* an empty KB has nothing to learn */
    assert_int_equal(hk_svc_model_train(s, &d, seq, &r, &h, &err),
                     HK_ERR_INVALID);
    assert_null(h);
    hkl_data_free(&d);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_age_and_swap),
        cmocka_unit_test(test_collect_checks),
    };
    return tu_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
