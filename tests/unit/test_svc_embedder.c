/*
 * test_svc_embedder.c — embedding a space's facts in batches
 * (src/service/svc_embedder.c) on a real store: whole batches only, a run
 * stopped after a batch resumes where it stopped and writes each fact's
 * vector once, the vectors are the embedder's, listed facts that do not
 * exist are skipped, and the errors of spaces that cannot embed (no
 * embedder; openai with no endpoint configured) write nothing. The
 * endpoint itself (batching, retries, timeouts, malformed answers, wrong
 * dimensions) is tested end to end in tests/e2e/test_vector_embedder.py.
 */
#include <math.h>
#include <stdlib.h>

#include "test_store_util.h"

#include "service/svc_vector.h"
#include "vector/vector.h"

#define N_FACTS 25u
#define DIM 32u

typedef struct fixture {
    char *dir;               /* scratch KB */
    hk_store *s;             /* open KB */
    hkv_store *vs;           /* its vector module */
    hk_fact_id ids[N_FACTS]; /* facts added, in order */
} fixture;

static void space(fixture *fx, const char *name, hkv_embedder emb)
{
    hkv_space sp;
    hk_error err;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "%s", name);
    sp.params = (hkv_params){DIM, HKV_COSINE, HKV_F32, 0, 0, 0};
    sp.embedder = emb;
    hk_txn *t = tu_begin(fx->s, true);
    hk_err e = hkv_space_create(fx->vs, t, &sp, &err);
    if (e) fprintf(stderr, "create: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    tu_commit(t);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    hk_error err;
    fx->dir = tu_tmpdir("svcembed");
    fx->s = tu_open(fx->dir);
    assert_int_equal(hkv_store_attach(fx->s, &fx->vs, &err), HK_OK);
    hk_txn *t = tu_begin(fx->s, true);
    for (unsigned i = 0; i < N_FACTS; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "item%u", i);
        snprintf(b, sizeof b, "colour%u", i % 7);
        fx->ids[i] = tu_add(t, tu_st("HasColour", a, b, NULL), NULL);
    }
    tu_commit(t);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    hkv_store_detach(fx->vs);
    tu_discard(fx->s, fx->dir);
    free(fx);
    return 0;
}

static uint64_t vectors(fixture *fx, const char *name)
{
    hkv_space sp;
    hk_error err;
    hk_txn *t = tu_begin(fx->s, false);
    assert_int_equal(hkv_space_get(fx->vs, t, name, &sp, &err), HK_OK);
    hk_txn_abort(t);
    return sp.vectors;
}

/* Progress that stops the run after `stop_after` batches. */
typedef struct stopper {
    unsigned calls;      /* batches seen */
    unsigned stop_after; /* 0: never stop */
} stopper;

static bool on_batch(void *ud, const hk_svc_embed_run *r)
{
    stopper *p = ud;
    (void)r;
    p->calls++;
    return p->stop_after == 0 || p->calls < p->stop_after;
}

static void test_batches_resume(void **state)
{
    fixture *fx = *state;
    hk_error err;
    space(fx, "words", HKV_EMBED_HASHED);
    stopper st = {0, 1};
    hk_svc_embed_run run;
    memset(&run, 0, sizeof run);
    run.vs = fx->vs;
    run.space = "words";
    run.batch = 10;
    run.progress = on_batch;
    run.ud = &st;
    /* stopped after its first batch: exactly that batch is stored */
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_OK);
    assert_int_equal(run.embedded, 10);
    assert_false(run.done);
    assert_int_equal(vectors(fx, "words"), 10);
    /* resumed: the other 15, in two batches, and done */
    st = (stopper){0, 0};
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_OK);
    assert_int_equal(run.embedded, N_FACTS - 10);
    assert_int_equal(st.calls, 2);
    assert_true(run.done);
    assert_int_equal(run.examined, N_FACTS);
    assert_int_equal(vectors(fx, "words"), N_FACTS);
    /* nothing left */
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_OK);
    assert_int_equal(run.embedded, 0);
    /* each vector is the embedder's vector of the fact's statement */
    hk_txn *t = tu_begin(fx->s, false);
    for (unsigned i = 0; i < N_FACTS; i++) {
        float got[DIM], want[DIM];
        hk_fact f;
        hk_buf b = HK_BUF_INIT;
        hk_fact_init(&f);
        assert_int_equal(hk_store_get(t, fx->ids[i], &f, &err), HK_OK);
        assert_int_equal(hk_statement_format(&f.st, &b), HK_OK);
        hkv_embed_hashed(b.data, b.len, want, DIM);
        assert_int_equal(hkv_get(fx->vs, t, "words", fx->ids[i], got, &err),
                         HK_OK);
        for (unsigned j = 0; j < DIM; j++)
            assert_true(fabsf(got[j] - want[j]) < 1e-6f);
        hk_buf_free(&b);
        hk_fact_release(&f);
    }
    hk_txn_abort(t);
}

static void test_listed_facts(void **state)
{
    fixture *fx = *state;
    hk_error err;
    uint64_t n = 0;
    space(fx, "some", HKV_EMBED_HASHED);
    hk_fact_id ids[] = {fx->ids[3], fx->ids[5], fx->ids[N_FACTS - 1] + 100,
                        fx->ids[3]};
    assert_int_equal(
        hk_svc_embed_facts(fx->s, fx->vs, "some", NULL, ids, 4, &n, &err),
        HK_OK);
    assert_int_equal(n, 2); /* the missing fact skipped, the repeat too */
    assert_int_equal(vectors(fx, "some"), 2);
    assert_int_equal(
        hk_svc_embed_facts(fx->s, fx->vs, "nope", NULL, ids, 1, &n, &err),
        HK_ERR_NOT_FOUND);
}

static void test_cannot_embed(void **state)
{
    fixture *fx = *state;
    hk_error err;
    space(fx, "raw", HKV_EMBED_NONE);
    space(fx, "remote", HKV_EMBED_OPENAI);
    hk_svc_embed_run run;
    memset(&run, 0, sizeof run);
    run.vs = fx->vs;
    run.space = "raw";
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_ERR_UNSUPPORTED);
    /* no endpoint in this process's environment */
    run.space = "remote";
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "OPENAI_BASE_URL"));
    assert_int_equal(hk_svc_embed_endpoint(NULL), HK_ERR_UNSUPPORTED);
    assert_int_equal(vectors(fx, "remote"), 0);
    /* the query of a search needs the endpoint too */
    hk_svc_vsimilar_req q;
    hk_svc_vsimilar_res res;
    memset(&q, 0, sizeof q);
    q.space = "remote";
    q.text = "item3";
    hk_txn *t = tu_begin(fx->s, false);
    assert_int_equal(hk_svc_vsimilar(fx->vs, t, &q, &res, &err),
                     HK_ERR_UNSUPPORTED);
    hk_txn_abort(t);
    run.space = "raw";
    run.batch = 10001;
    assert_int_equal(hk_svc_embed_space(fx->s, &run, &err), HK_ERR_INVALID);
}

int main(void)
{
    /* the endpoint is read from the environment once per process */
    unsetenv("OPENAI_BASE_URL");
    unsetenv("HAKGAL_LLM_CONFIG");
    unsetenv("HAKGAL_EMBED_MODEL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listed_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_embed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
