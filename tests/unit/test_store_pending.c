/*
 * test_store_pending.c — the deferred index writes of a write transaction
 * (src/store/pending.c) at the sizes where their sort changes digit width
 * (RADIX_SMALL): a transaction of n new facts for n on both sides of it,
 * and many small transactions as a server's group commits make them.
 *
 * The facts mix new and existing predicates and entities in random order,
 * so the sorted queues interleave with keys already in the B-trees (plain
 * puts) and append past them (MDB_APPEND, which LMDB refuses out of order).
 * After each commit every index and counter is checked against the facts
 * (hks_store_check), and the counts of a sample of entities and of every
 * predicate against an oracle kept here.
 */
#include "test_store_util.h"

#define N_PRED 40   /* predicates P0..P39 */
#define N_ENT 30000 /* entities E0..E29999 */

static uint32_t g_pred_count[N_PRED];
static uint16_t g_ent_count[N_ENT];
static uint64_t g_seq; /* makes every statement new */

/* Adds n new facts in write txn t: a random predicate, two or three
 * random entities and a unique last argument. */
static void add_random(hk_txn *t, uint64_t *rng, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char pred[16], a0[16], a1[16], uniq[32];
        unsigned p = (unsigned)(tu_rand(rng) % N_PRED);
        unsigned e0 = (unsigned)(tu_rand(rng) % N_ENT);
        unsigned e1 = (unsigned)(tu_rand(rng) % N_ENT);
        snprintf(pred, sizeof pred, "P%u", p);
        snprintf(a0, sizeof a0, "E%u", e0);
        snprintf(a1, sizeof a1, "E%u", e1);
        snprintf(uniq, sizeof uniq, "u%llu", (unsigned long long)++g_seq);
        bool created = false;
        tu_add(t, tu_st(pred, a0, a1, uniq, NULL), &created);
        assert_true(created);
        g_pred_count[p]++;
        g_ent_count[e0]++;
        if (e1 != e0) g_ent_count[e1]++;
    }
}

static void check_counts(hk_store *s)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    tu_check(t);
    for (unsigned p = 0; p < N_PRED; p++) {
        char name[16];
        uint64_t n = 0;
        snprintf(name, sizeof name, "P%u", p);
        hk_err e = hk_store_count_predicate(t, name, &n, &err);
        if (g_pred_count[p] == 0) {
            assert_true(e == HK_OK || e == HK_ERR_NOT_FOUND);
            if (e == HK_OK) assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(e, HK_OK);
        assert_int_equal(n, g_pred_count[p]);
    }
    for (unsigned e0 = 0; e0 < N_ENT; e0 += 97) {
        char name[16];
        uint64_t n = 0;
        snprintf(name, sizeof name, "E%u", e0);
        hk_err e = hk_store_count_entity(t, name, &n, &err);
        if (g_ent_count[e0] == 0) {
            assert_true(e == HK_OK || e == HK_ERR_NOT_FOUND);
            if (e == HK_OK) assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(e, HK_OK);
        assert_int_equal(n, g_ent_count[e0]);
    }
    hk_txn_abort(t);
}

static void reset_oracle(void)
{
    memset(g_pred_count, 0, sizeof g_pred_count);
    memset(g_ent_count, 0, sizeof g_ent_count);
}

/* One transaction per size, each on top of the ones before. */
static void test_one_txn_sizes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("pending");
    hk_store *s = tu_open(dir);
    reset_oracle();
    uint64_t rng = 17;
    static const size_t sizes[] = {1, 2, 37, 500, 8191, 8192, 20000, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        hk_txn *t = tu_begin(s, true);
        add_random(t, &rng, sizes[i]);
        tu_commit(t);
        check_counts(s);
    }
    tu_discard(s, dir);
}

/* Group commits of a server: many transactions of tens of facts. */
static void test_many_small_txns(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("pending-small");
    hk_store *s = tu_open(dir);
    reset_oracle();
    uint64_t rng = 99;
    for (int i = 0; i < 300; i++) {
        hk_txn *t = tu_begin(s, true);
        add_random(t, &rng, 1 + (size_t)(tu_rand(&rng) % 150));
        tu_commit(t);
        if (i % 100 == 99) check_counts(s);
    }
    check_counts(s);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_txn_sizes),
        cmocka_unit_test(test_many_small_txns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
