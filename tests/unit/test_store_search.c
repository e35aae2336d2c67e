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

/* The hub's first chunk rows and tail rows (argidx.c's tail invariant). */
static void hub_shape(hk_txn *t, uint32_t hub, size_t *fc, size_t *tn)
{
    MDB_cursor *c, *tc;
    uint8_t kb[4], tail[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES];
    hks_put_u32(kb, hub);
    MDB_val k = {4, kb}, v;
    *fc = 0;
    assert_int_equal(mdb_cursor_open(t->txn, t->s->db.by_arg, &c), 0);
    assert_int_equal(mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &tc), 0);
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET);
    if (rc == 0)
        assert_int_equal(mdb_cursor_count(c, fc), 0);
    else
        assert_int_equal(rc, MDB_NOTFOUND);
    assert_int_equal(hks_arg_tail_rows(tc, hub, tail, tn), 0);
    mdb_cursor_close(tc);
    mdb_cursor_close(c);
}

/* Searching for the hub finds exactly its live facts (all of them: fewer
 * than a symbol's cap), whatever holds its rows. */
static void expect_hub(hk_txn *t, const hk_fact_id *ids, const bool *live,
                       size_t n)
{
    hk_search_hit *h = NULL;
    size_t nh = 0, want = 0;
    hk_error err;
    assert_int_equal(hk_store_search(t, "Hub", 10000, &h, &nh, &err), HK_OK);
    for (size_t i = 0; i < n; i++) {
        if (!live[i]) continue;
        want++;
        size_t x = 0;
        while (x < nh && h[x].id != ids[i])
            x++;
        assert_true(x < nh); /* a live fact of the hub is missing */
    }
    assert_int_equal(nh, want);
    hk_free(h);
}

/* The hub gains a fact per transaction, so its newest rows go to a tail
 * once its first chunk holds 32 or more (argidx.c), then loses its
 * newest and its oldest facts until it is light again: after every
 * transaction, in it (flushed by the search) and after its commit, the
 * search finds every live fact, so neither a light entity's chunk rows
 * nor a heavy one's tail rows are missed at 31, 32 or 33 rows, with a
 * filled tail, or after deletes. Other entities and a light one share
 * the transactions. */
static void test_hub_tail_bounds(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("search3");
    hk_store *s = tu_open(dir);
    hk_error err;
    enum { N = 80 };
    hk_fact_id ids[N];
    bool live[N] = {false};
    char a[32];
    uint32_t hub = 0;
    size_t fc = 0, tn = 0, max_tn = 0;
    bool saw[3] = {false}, saw_tail_at_min = false;
    for (size_t i = 0; i < N; i++) {
        hk_txn *t = tu_begin(s, true);
        snprintf(a, sizeof a, "part%zu", i);
        ids[i] = i % 4 == 3 ? tu_add(t, tu_st("Near", a, "Hub", NULL), NULL)
                            : tu_add(t, tu_st("HasPart", "Hub", a, NULL), NULL);
        live[i] = true;
        if (i % 5 == 0) tu_add(t, tu_st("HasPart", "Lamp", a, NULL), NULL);
        expect_hub(t, ids, live, N);
        if (!hub) assert_int_equal(hks_sym_id(t, "Hub", 3, &hub, &err), HK_OK);
        tu_commit(t);
        t = tu_begin(s, false);
        expect_hub(t, ids, live, N);
        hub_shape(t, hub, &fc, &tn);
        hk_txn_abort(t);
        if (!tn && fc >= 31 && fc <= 33) saw[fc - 31] = true;
        if (tn > max_tn) max_tn = tn;
    }
    /* the tail filled and moved into the chunks at least once */
    assert_true(saw[0] && saw[1]);
    assert_int_equal(max_tn, HKS_ARG_TAIL_ROWS);
    assert_true(tn > 0 && tn < HKS_ARG_TAIL_ROWS);
    /* the newest facts (tail rows) and then the oldest (chunk rows) go,
     * one per transaction, until the hub's first chunk is light */
    size_t newest = N, oldest = 0;
    for (int step = 0; fc >= HKS_ARG_TAIL_MIN - 2; step++) {
        hk_txn *t = tu_begin(s, true);
        size_t i = step < 2 ? --newest : oldest++;
        assert_int_equal(hk_store_delete(t, ids[i], &err), HK_OK);
        live[i] = false;
        expect_hub(t, ids, live, N);
        tu_commit(t);
        t = tu_begin(s, false);
        expect_hub(t, ids, live, N);
        hub_shape(t, hub, &fc, &tn);
        tu_check(t);
        hk_txn_abort(t);
        if (fc == HKS_ARG_TAIL_MIN && tn) saw_tail_at_min = true;
        if (fc < HKS_ARG_TAIL_MIN) assert_int_equal(tn, 0);
    }
    assert_true(saw_tail_at_min);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_camel_case),
        cmocka_unit_test(test_exact_symbol_first),
        cmocka_unit_test(test_prefix_and_misses),
        cmocka_unit_test(test_common_pred_and_entity),
        cmocka_unit_test(test_hub_tail_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
