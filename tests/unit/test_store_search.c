/*
 * test_store_search.c — ranked text search: camelCase and punctuation
 * aware tokens, exact symbol matches first, rarer tokens weigh more,
 * prefixes, ties newest first, bounded inputs.
 */
#include "test_store_util.h"

static char *g_dir;
static hk_store *g_store;
static hk_fact_id g_haspart1, g_haspart2, g_cpu_isa, g_tcp, g_proc;

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("search");
    g_store = tu_open(g_dir);
    hk_txn *t = tu_begin(g_store, true);
    g_haspart1 =
        tu_add(t, tu_st("HasPart", "Computer", "Motherboard", NULL), NULL);
    tu_add(t, tu_st("IsA", "Water", "Molecule", NULL), NULL);
    g_cpu_isa = tu_add(t, tu_st("IsA", "CPU", "Chip", NULL), NULL);
    g_tcp = tu_add(t, tu_st("Uses", "Internet", "TCP/IP", NULL), NULL);
    g_proc =
        tu_add(t, tu_st("Performs", "Processor", "Arithmetic", NULL), NULL);
    /* Many facts that share the common token "is". */
    for (int i = 0; i < 200; i++) {
        char a[32];
        snprintf(a, sizeof a, "Thing%d", i);
        tu_add(t, tu_st("IsA", a, "Object", NULL), NULL);
    }
    g_haspart2 = tu_add(t, tu_st("HasPart", "Car", "Engine", NULL), NULL);
    tu_commit(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_discard(g_store, g_dir);
    return 0;
}

static size_t search(const char *q, size_t limit, hk_search_hit **hits)
{
    hk_txn *t = tu_begin(g_store, false);
    size_t n = 0;
    hk_error err;
    assert_int_equal(hk_store_search(t, q, limit, hits, &n, &err), HK_OK);
    for (size_t i = 1; i < n; i++) {
        assert_true((*hits)[i - 1].score >= (*hits)[i].score);
        assert_true((*hits)[i].score > 0);
    }
    hk_txn_abort(t);
    return n;
}

static void test_camel_case(void **state)
{
    (void)state;
    hk_search_hit *h;
    /* "has part" finds HasPart facts, newest first among equals. */
    size_t n = search("has part", 10, &h);
    assert_true(n >= 2);
    assert_int_equal(h[0].id, g_haspart2);
    assert_int_equal(h[1].id, g_haspart1);
    assert_true(h[0].score == h[1].score);
    hk_free(h);
    /* The camelCase query itself is an exact symbol: still both first. */
    n = search("HasPart", 10, &h);
    assert_true(n >= 2);
    assert_true((h[0].id == g_haspart2 && h[1].id == g_haspart1));
    hk_free(h);
    /* Punctuation: "tcp" and "ip" tokens. */
    n = search("tcp", 10, &h);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].id, g_tcp);
    hk_free(h);
}

static void test_exact_symbol_first(void **state)
{
    (void)state;
    hk_search_hit *h;
    size_t n = search("CPU", 10, &h);
    assert_true(n >= 1);
    assert_int_equal(h[0].id, g_cpu_isa);
    hk_free(h);
    /* A query matching one fact on two tokens beats one-token matches. */
    n = search("computer motherboard", 10, &h);
    assert_true(n >= 1);
    assert_int_equal(h[0].id, g_haspart1);
    hk_free(h);
    /* Rare token outranks a common one: "is chip" -> IsA(CPU, Chip). */
    n = search("is chip", 5, &h);
    assert_true(n == 5);
    assert_int_equal(h[0].id, g_cpu_isa);
    hk_free(h);
}

static void test_prefix_and_misses(void **state)
{
    (void)state;
    hk_search_hit *h;
    size_t n = search("proc", 10, &h);
    assert_true(n >= 1);
    assert_int_equal(h[0].id, g_proc);
    hk_free(h);
    n = search("zzzunknown", 10, &h);
    assert_int_equal(n, 0);
    hk_free(h);
    n = search("", 10, &h);
    assert_int_equal(n, 0);
    hk_free(h);
    n = search("is", 3, &h);
    assert_int_equal(n, 3);
    hk_free(h);
    hk_txn *t = tu_begin(g_store, false);
    hk_error err;
    size_t nn;
    assert_int_equal(hk_store_search(t, "\xff\xfe", 10, &h, &nn, &err),
                     HK_ERR_INVALID);
    hk_txn_abort(t);
}

/* A predicate and an entity that are both common: the few facts holding
 * both must still be found and ranked first. */
static void test_common_pred_and_entity(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("search2");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id want[3];
    char a[32], b[32];
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "piece%d", i);
        want[i] = tu_add(t, tu_st("HasPart", "Hub", a, NULL), NULL);
    }
    for (int i = 0; i < 1500; i++) {
        snprintf(a, sizeof a, "y%d", i);
        tu_add(t, tu_st("Other", a, "Hub", NULL), NULL);
        snprintf(a, sizeof a, "z%d", i);
        snprintf(b, sizeof b, "w%d", i);
        tu_add(t, tu_st("HasPart", a, b, NULL), NULL);
    }
    tu_commit(t);
    t = tu_begin(s, false);
    hk_search_hit *h;
    size_t n;
    hk_error err;
    assert_int_equal(hk_store_search(t, "HasPart Hub", 5, &h, &n, &err), HK_OK);
    assert_int_equal(n, 5);
    assert_int_equal(h[0].id, want[2]);
    assert_int_equal(h[1].id, want[1]);
    assert_int_equal(h[2].id, want[0]);
    assert_true(h[2].score > h[3].score);
    hk_free(h);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_camel_case),
        cmocka_unit_test(test_exact_symbol_first),
        cmocka_unit_test(test_prefix_and_misses),
        cmocka_unit_test(test_common_pred_and_entity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
