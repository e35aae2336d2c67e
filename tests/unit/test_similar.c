/*
 * test_similar.c — src/similar: statement profiles and scores against a
 * string-set oracle (no hashing), the similar-facts scan and the
 * duplicate-pairs scan against brute force over the whole KB, their
 * limits (window, rare tokens, result caps), the service checks, and
 * allocation failures.
 */
#include <math.h>

#include "core/buf.h"
#include "core/tokenize.h"
#include "service/service.h"
#include "similar/similar.h"
#include "test_domain_util.h"

/* ==== Oracle: similarity over string sets ==== */

typedef struct oracle_profile {
    tu_strs tokens; /* distinct tokens */
    tu_strs grams;  /* distinct trigrams of " t1 t2 ... " */
    hk_buf joined;  /* " t1 t2 ... tn " */
    size_t n_seen;  /* tokens seen (the first 512 count) */
} oracle_profile;

static hk_err oracle_token(void *ud, const char *tok, size_t len)
{
    oracle_profile *p = ud;
    if (p->n_seen++ >= HK_SIM_PROFILE_MAX_TOKENS) return HK_OK;
    tu_strs_add_n(&p->tokens, tok, len);
    hk_buf_append(&p->joined, tok, len);
    hk_buf_append(&p->joined, " ", 1);
    return HK_OK;
}

static void oracle_build(const char *text, oracle_profile *p)
{
    memset(p, 0, sizeof *p);
    hk_buf_append(&p->joined, " ", 1);
    assert_int_equal(hk_tokenize(text, strlen(text), oracle_token, p), HK_OK);
    for (size_t i = 0; i + 3 <= p->joined.len; i++)
        tu_strs_add_n(&p->grams, p->joined.data + i, 3);
}

static void oracle_release(oracle_profile *p)
{
    tu_strs_free(&p->tokens);
    tu_strs_free(&p->grams);
    hk_buf_free(&p->joined);
}

static double jaccard(const tu_strs *a, const tu_strs *b)
{
    if (a->n == 0 && b->n == 0) return 1.0;
    size_t common = 0;
    for (size_t i = 0; i < a->n; i++)
        if (tu_strs_has(b, a->v[i])) common++;
    return (double)common / (double)(a->n + b->n - common);
}

static double oracle_score(const oracle_profile *a, const oracle_profile *b)
{
    return (jaccard(&a->tokens, &b->tokens) + jaccard(&a->grams, &b->grams)) /
           2.0;
}

static double round4(double s)
{
    return round(s * 1e4) / 1e4;
}

/* ==== Profiles and scores ==== */

static double sim(const char *a, const char *b)
{
    hk_sim_profile pa, pb;
    assert_int_equal(hk_sim_profile_build(a, strlen(a), &pa), HK_OK);
    assert_int_equal(hk_sim_profile_build(b, strlen(b), &pb), HK_OK);
    double s = hk_sim_score(&pa, &pb);
    hk_sim_profile_release(&pa);
    hk_sim_profile_release(&pb);
    return s;
}

static void test_scores(void **state)
{
    (void)state;
    assert_true(sim("HasPart(Computer, CPU)", "HasPart(Computer, CPU)") == 1.0);
    /* camelCase splitting: the same words in another spelling */
    assert_true(sim("HasPart(Computer, CPU)", "has part computer cpu") == 1.0);
    double near = sim("HasPart(Computer, CPU)", "HasPart(Computers, CPU)");
    double far = sim("HasPart(Computer, CPU)", "IsA(Dog, Animal)");
    assert_true(near > 0.6 && near < 1.0);
    assert_true(far < 0.2);
    assert_true(fabs(sim("IsA(Dog, Animal)", "IsA(Cat, Animal)") -
                     sim("IsA(Cat, Animal)", "IsA(Dog, Animal)")) < 1e-12);
    assert_true(sim("", "") == 1.0);
    assert_true(sim("", "A(b)") == 0.0);
    /* very long input keeps the first 512 tokens and does not fail */
    hk_buf b = HK_BUF_INIT;
    for (int i = 0; i < 3000; i++)
        hk_buf_appendf(&b, "w%d ", i);
    hk_sim_profile p;
    assert_int_equal(hk_sim_profile_build(b.data, b.len, &p), HK_OK);
    assert_true(p.n_tokens <= HK_SIM_PROFILE_MAX_TOKENS);
    hk_sim_profile_release(&p);
    hk_buf_free(&b);
}

static const char *const words[] = {
    "Computer", "Computers", "CPU",   "Dog",      "Animal",    "Cat",
    "HasPart",  "IsA",       "Water", "Molecule", "ChipSet",   "Chip",
    "Engine",   "Car",       "Cars",  "Motor",    "MotorBike", "x1",
    "x2",       "DataBase",  "Base",  "Data",     "a b",       "q\"x"};
#define N_WORDS (sizeof words / sizeof words[0])

/* Random statements compared with the oracle, and its prefix rule. */
static void test_scores_match_oracle(void **state)
{
    (void)state;
    uint64_t seed = 11;
    for (int round = 0; round < 400; round++) {
        char a[256], b[256];
        snprintf(a, sizeof a, "%s(%s, %s)", words[tu_rand(&seed) % 8 + 6],
                 words[tu_rand(&seed) % N_WORDS],
                 words[tu_rand(&seed) % N_WORDS]);
        snprintf(b, sizeof b, "%s %s %s", words[tu_rand(&seed) % N_WORDS],
                 words[tu_rand(&seed) % N_WORDS],
                 round % 3 ? words[tu_rand(&seed) % N_WORDS] : "");
        oracle_profile oa, ob;
        oracle_build(a, &oa);
        oracle_build(b, &ob);
        double want = oracle_score(&oa, &ob);
        oracle_release(&oa);
        oracle_release(&ob);
        assert_true(fabs(sim(a, b) - want) < 1e-12);
    }
}

/* ==== A random KB ==== */

static char *g_dir;
static hk_store *g_store;

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("similar");
    g_store = tu_open(g_dir);
    hk_txn *t = tu_begin(g_store, true);
    uint64_t seed = 5;
    static const char *const preds[] = {"HasPart", "IsA", "IsPartOf",
                                        "HasParts", "Uses"};
    for (int i = 0; i < 400; i++) {
        const char *p = preds[tu_rand(&seed) % 5];
        const char *x = words[tu_rand(&seed) % N_WORDS];
        const char *y = words[tu_rand(&seed) % N_WORDS];
        if (i % 7 == 0)
            tu_add(t, tu_st(p, x, y, words[tu_rand(&seed) % N_WORDS], NULL),
                   NULL);
        else
            tu_add(t, tu_st(p, x, y, NULL), NULL);
    }
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_discard(g_store, g_dir);
    return 0;
}

/* ==== Similar facts ==== */

typedef struct expect_match {
    double score;  /* rounded */
    size_t rank;   /* search rank */
    hk_fact_id id; /* fact */
} expect_match;

static int cmp_expect(const void *a, const void *b)
{
    const expect_match *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static size_t check_query(const char *text, double threshold, size_t limit)
{
    hk_txn *t = tu_begin(g_store, false);
    hk_error err;
    /* the oracle: the same candidates, scored over string sets */
    hk_search_hit *hits = NULL;
    size_t n_hits = 0;
    assert_int_equal(
        hk_store_search(t, text, HK_SIM_CANDIDATES, &hits, &n_hits, &err),
        HK_OK);
    expect_match *want = calloc(n_hits + 1, sizeof *want);
    size_t n_want = 0;
    oracle_profile q;
    oracle_build(text, &q);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; i < n_hits; i++) {
        assert_int_equal(hk_store_get(t, hits[i].id, &f, &err), HK_OK);
        char *s = tu_statement_of(&f);
        oracle_profile p;
        oracle_build(s, &p);
        double score = oracle_score(&q, &p);
        oracle_release(&p);
        free(s);
        if (score + 1e-12 < threshold) continue;
        want[n_want++] = (expect_match){round4(score), i, f.id};
    }
    oracle_release(&q);
    if (n_want) qsort(want, n_want, sizeof *want, cmp_expect);
    if (n_want > limit) n_want = limit;

    hk_sim_query_req req = {text, threshold, limit};
    hk_sim_query_res res;
    assert_int_equal(hk_sim_query(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.examined, n_hits);
    assert_int_equal(res.n_matches, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(res.matches[i].fact.id, want[i].id);
        assert_true(res.matches[i].score == want[i].score);
    }
    hk_sim_query_res_free(&res);
    hk_sim_query_res_free(&res); /* idempotent */
    hk_fact_release(&f);
    hk_free(hits);
    free(want);
    hk_txn_abort(t);
    return n_want;
}

static void test_query_matches_oracle(void **state)
{
    (void)state;
    check_query("HasPart(Computer, CPU)", 0.8, 50);
    assert_true(check_query("HasPart(Computer, CPU)", 0.3, 50) > 5);
    assert_true(check_query("HasPart(Computer, CPU)", 0.0, 1000) > 50);
    assert_int_equal(check_query("computer", 0.1, 3), 3);
    check_query("motor bike engine", 0.2, 10);
    check_query("IsA Dog", 0.0, 1);
    check_query("nothing matches this", 0.0, 10);
    check_query("", 0.0, 10);
}

/* ==== Duplicates ==== */

typedef struct expect_pair {
    double score; /* exact */
    size_t a, b;  /* newest-first positions, a < b */
} expect_pair;

static int cmp_pair(const void *x_, const void *y_)
{
    const expect_pair *x = x_, *y = y_;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

static size_t check_duplicates(double threshold, size_t max_pairs)
{
    tu_kb kb = tu_kb_load(g_store);
    size_t n = kb.n;
    assert_true(n < HK_SIM_DUP_WINDOW);
    /* newest first, as the scan reads them */
    oracle_profile *p = calloc(n, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        char *s = tu_statement_of(&kb.facts[n - 1 - i]);
        oracle_build(s, &p[i]);
        free(s);
    }
    /* document frequency of each token */
    expect_pair *want = NULL;
    size_t n_want = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            bool linked = false;
            for (size_t k = 0; !linked && k < p[i].tokens.n; k++) {
                const char *tok = p[i].tokens.v[k];
                if (!tu_strs_has(&p[j].tokens, tok)) continue;
                size_t df = 0;
                for (size_t x = 0; x < n; x++)
                    if (tu_strs_has(&p[x].tokens, tok)) df++;
                linked = df <= HK_SIM_DUP_MAX_DF;
            }
            if (!linked) continue;
            double s = oracle_score(&p[i], &p[j]);
            if (s + 1e-12 < threshold) continue;
            want = realloc(want, (n_want + 1) * sizeof *want);
            want[n_want++] = (expect_pair){s, i, j};
        }
    }
    if (n_want) qsort(want, n_want, sizeof *want, cmp_pair);
    if (n_want > max_pairs) n_want = max_pairs;

    hk_txn *t = tu_begin(g_store, false);
    hk_error err;
    hk_sim_dup_req req = {threshold, max_pairs, NULL, NULL};
    hk_sim_dup_res res;
    assert_int_equal(hk_sim_duplicates(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(res.examined, n);
    assert_int_equal(res.n_pairs, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(res.pairs[i].a.id, kb.facts[n - 1 - want[i].a].id);
        assert_int_equal(res.pairs[i].b.id, kb.facts[n - 1 - want[i].b].id);
        assert_true(res.pairs[i].score == round4(want[i].score));
    }
    hk_sim_dup_res_free(&res);
    for (size_t i = 0; i < n; i++)
        oracle_release(&p[i]);
    free(p);
    free(want);
    tu_kb_free(&kb);
    return n_want;
}

static void test_duplicates_match_oracle(void **state)
{
    (void)state;
    assert_true(check_duplicates(0.9, 200) > 0);
    assert_true(check_duplicates(0.6, 10000) > 200);
    assert_int_equal(check_duplicates(0.6, 7), 7);
    check_duplicates(1.0, 100);
}

typedef struct progress_log {
    int calls;         /* callbacks seen */
    double last_done;  /* done of the last callback */
    double last_total; /* total of the last callback */
} progress_log;

static void on_progress(void *ud, double done, double total, const char *what)
{
    progress_log *l = ud;
    assert_non_null(what);
    assert_true(done > l->last_done); /* progress only grows */
    l->calls++;
    l->last_done = done;
    l->last_total = total;
}

/* More facts than the window: the newest HK_SIM_DUP_WINDOW are read, with
 * progress; a token in more than HK_SIM_DUP_MAX_DF facts pairs none. */
static void test_duplicates_window(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("similar-window");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[32];
    for (int i = 0; i < HK_SIM_DUP_WINDOW + 10; i++) {
        snprintf(a, sizeof a, "%d", i); /* digits: one token each */
        tu_add(t, tu_st("Common", a, NULL), NULL);
    }
    tu_commit(t);
    t = tu_begin(s, false);
    progress_log log = {0, 0, 0};
    hk_sim_dup_req req = {0.0, 100, on_progress, &log};
    hk_sim_dup_res res;
    hk_error err;
    assert_int_equal(hk_sim_duplicates(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.examined, HK_SIM_DUP_WINDOW);
    /* "common" is in every fact and each number in one: no pair */
    assert_int_equal(res.n_pairs, 0);
    assert_int_equal(log.calls, 8);
    assert_true(log.last_total == 2.0 * HK_SIM_DUP_WINDOW);
    hk_sim_dup_res_free(&res);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Service checks ==== */

static void test_service_checks(void **state)
{
    (void)state;
    hk_txn *t = tu_begin(g_store, false);
    hk_error err;
    hk_sim_query_res qr;
    hk_sim_dup_res dr;
    hk_sim_query_req q = {"HasPart", 1.5, 10};
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "threshold");
    q.threshold = NAN;
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_ERR_INVALID);
    q.threshold = 0.5;
    q.limit = 0;
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "limit");
    q.limit = HK_SVC_SIMILAR_MAX_LIMIT + 1;
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_ERR_INVALID);
    q.text = NULL;
    q.limit = 10;
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "statement");
    q.text = "HasPart(Computer, CPU)";
    assert_int_equal(hk_svc_similar(t, &q, &qr, &err), HK_OK);
    assert_true(qr.n_matches > 0 && qr.n_matches <= 10);
    hk_sim_query_res_free(&qr);

    hk_sim_dup_req d = {-0.1, 10, NULL, NULL};
    assert_int_equal(hk_svc_duplicates(t, &d, &dr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "threshold");
    d.threshold = 0.9;
    d.max_pairs = 0;
    assert_int_equal(hk_svc_duplicates(t, &d, &dr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "max_pairs");
    d.max_pairs = 5;
    assert_int_equal(hk_svc_duplicates(t, &d, &dr, &err), HK_OK);
    assert_true(dr.n_pairs <= 5);
    hk_sim_dup_res_free(&dr);
    hk_txn_abort(t);
}

/* ==== Allocation failures ==== */

typedef struct alloc_case {
    hk_sim_query_res q; /* result of the similar-facts scan */
    hk_sim_dup_res d;   /* result of the duplicates scan */
} alloc_case;

static hk_err op_query(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_sim_query_req req = {"HasPart(Computer, CPU)", 0.3, 20};
    return hk_sim_query(t, &req, &c->q, err);
}

static hk_err op_dups(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_sim_dup_req req = {0.7, 20, NULL, NULL};
    return hk_sim_duplicates(t, &req, &c->d, err);
}

static void free_case(void *ud)
{
    alloc_case *c = ud;
    hk_sim_query_res_free(&c->q);
    hk_sim_dup_res_free(&c->d);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    alloc_case c;
    memset(&c, 0, sizeof c);
    assert_true(tu_fail_each_alloc(g_store, false, op_query, free_case, &c) >
                0);
    assert_true(tu_fail_each_alloc(g_store, false, op_dups, free_case, &c) > 0);
    hk_sim_profile p;
    hk_mem_fail_after(0);
    assert_int_equal(hk_sim_profile_build("A(b)", 4, &p), HK_ERR_NOMEM);
    hk_mem_fail_after(-1);
    assert_null(p.tokens);
    assert_null(p.grams);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores),
        cmocka_unit_test(test_scores_match_oracle),
        cmocka_unit_test(test_query_matches_oracle),
        cmocka_unit_test(test_duplicates_match_oracle),
        cmocka_unit_test(test_duplicates_window),
        cmocka_unit_test(test_service_checks),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
