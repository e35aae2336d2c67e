/*
 * test_store_pending.c — the deferred index writes of a write transaction
 * (src/store/pending.c) at the sizes where their sort changes digit width
 * (RADIX_SMALL): a transaction of n new facts for n on both sides of it,
 * many small transactions as a server's group commits make them, and the
 * buffers kept from one transaction to the next after aborts.
 *
 * The facts mix new and existing predicates and entities in random order,
 * so the sorted queues interleave with keys already in the B-trees (plain
 * puts) and append past them (MDB_APPEND, which LMDB refuses out of order).
 * After each commit every index and counter is checked against the facts
 * (hks_store_check), and the counts of a sample of entities and of every
 * predicate against an oracle kept here.
 */
#include "store/store_int.h"
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

/* Adds the statements k = first..first+n-1 (P(k % N_PRED)(E, E', uk)),
 * asserting that each is created (want) or found; counted ones go to the
 * oracle. */
static void add_range(hk_txn *t, uint64_t first, size_t n, bool want,
                      bool counted)
{
    for (uint64_t k = first; k < first + n; k++) {
        char pred[16], a0[16], a1[16], uniq[32];
        unsigned p = (unsigned)(k % N_PRED);
        unsigned e0 = (unsigned)(k % N_ENT), e1 = (unsigned)(k * 7 % N_ENT);
        snprintf(pred, sizeof pred, "P%u", p);
        snprintf(a0, sizeof a0, "E%u", e0);
        snprintf(a1, sizeof a1, "E%u", e1);
        snprintf(uniq, sizeof uniq, "k%llu", (unsigned long long)k);
        bool created = !want;
        tu_add(t, tu_st(pred, a0, a1, uniq, NULL), &created);
        assert_true(created == want);
        if (!counted || !created) continue;
        g_pred_count[p]++;
        g_ent_count[e0]++;
        if (e1 != e0) g_ent_count[e1]++;
    }
}

/* The pending buffers outlive their transaction (kept on the store for
 * the next one): neither the entries of an aborted transaction, big (its
 * index is dropped) or small (its index is kept and cleared), nor a
 * committed one's may be seen by the next transaction's MERGE check. */
static void test_kept_buffers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("pending-kept");
    hk_store *s = tu_open(dir);
    reset_oracle();
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "big"), HK_OK);
    add_range(t, 0, 70000, true, false); /* index beyond what is kept */
    hk_txn_abort(t);
    t = tu_begin(s, true);
    add_range(t, 0, 500, true, false); /* small: index kept, with entries */
    hk_txn_abort(t);
    t = tu_begin(s, true);
    add_range(t, 0, 500, true, true);
    add_range(t, 0, 500, false, false); /* found in the pending queue */
    tu_commit(t);
    check_counts(s);
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "rest"), HK_OK);
    add_range(t, 0, 500, false, false); /* found in the B-tree */
    add_range(t, 500, 69500, true, true);
    tu_commit(t);
    check_counts(s);
    t = tu_begin(s, true);
    add_range(t, 69000, 1000, false, false);
    add_range(t, 70000, 1000, true, true);
    tu_commit(t);
    check_counts(s);
    tu_discard(s, dir);
}

/* The statement index kept from an aborted transaction is emptied: once
 * the next transaction queues a key of its own, a key queued only by the
 * aborted one is not found (a stale slot would point at a stale entry
 * whose bytes are still in the kept buffer). */
static void test_kept_index_forgets(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("pending-forget");
    hk_store *s = tu_open(dir);
    static const uint8_t keys[3][5] = {"aaaa1", "bbbb2", "cccc3"};
    hk_txn *t = tu_begin(s, true);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(hks_pending_add_stmt(
                             &t->pend, keys[i], 5,
                             hks_hash_bytes((const char *)keys[i], 5), 100 + i),
                         HK_OK);
    assert_int_equal(
        hks_pending_find_stmt(&t->pend, keys[1], 5,
                              hks_hash_bytes((const char *)keys[1], 5)),
        101);
    hk_txn_abort(t);
    t = tu_begin(s, true);
    assert_int_equal(
        hks_pending_add_stmt(&t->pend, keys[2], 5,
                             hks_hash_bytes((const char *)keys[2], 5), 7),
        HK_OK);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(
            hks_pending_find_stmt(&t->pend, keys[i], 5,
                                  hks_hash_bytes((const char *)keys[i], 5)),
            i == 2 ? 7 : 0);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* MERGE of statements that name a symbol the txn created: the queue
 * settles them while none of the txn's stmt keys left it, the filter or
 * the B-tree once a flush wrote some (stmt_lookup). In bulk mode, where
 * the filter is built at the first lookup that asks it, and without. */
static void test_merge_new_symbols(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("pending-newsym");
    hk_store *s = tu_open(dir);
    hk_error err;
    for (int bulk = 0; bulk < 2; bulk++) {
        hk_txn *t = tu_begin(s, true);
        if (bulk) assert_int_equal(hk_txn_set_bulk(t, "merge"), HK_OK);
        char subj[16], obj[16];
        snprintf(subj, sizeof subj, "new%d", bulk);
        hk_fact_id ids[40];
        bool created = false;
        for (int i = 0; i < 40; i++) {
            snprintf(obj, sizeof obj, "x%d", i % 20);
            /* i >= 20: the same 20 statements again, after a flush at 30 */
            if (i == 30) {
                uint64_t n = 0;
                assert_int_equal(hk_store_count_entity(t, subj, &n, &err),
                                 HK_OK);
                assert_int_equal(n, 20);
            }
            ids[i] = tu_add(t, tu_st("B", subj, obj, NULL), &created);
            assert_int_equal(created, i < 20);
            if (i >= 20) assert_int_equal(ids[i], ids[i - 20]);
        }
        /* a symbol created after that flush: the queue settles it again */
        snprintf(subj, sizeof subj, "newer%d", bulk);
        hk_fact_id first = tu_add(t, tu_st("B", subj, "x0", NULL), &created);
        assert_true(created);
        assert_int_equal(tu_add(t, tu_st("B", subj, "x0", NULL), &created),
                         first);
        assert_false(created);
        /* an old symbol only: the filter (built here in bulk mode) or the
         * B-tree; "x0" and "x1" exist since the first round */
        tu_add(t, tu_st("C", "x0", "x1", NULL), &created);
        assert_int_equal(created, bulk == 0);
        tu_add(t, tu_st("C", "x0", "x1", NULL), &created);
        assert_false(created);
        tu_check(t);
        tu_commit(t);
    }
    hk_txn *t = tu_begin(s, false);
    uint64_t n = 0;
    assert_int_equal(hk_store_count_entity(t, "x0", &n, &err), HK_OK);
    assert_int_equal(n, 5); /* B(new0|new1|newer0|newer1, x0), C(x0, x1) */
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_txn_sizes),
        cmocka_unit_test(test_many_small_txns),
        cmocka_unit_test(test_kept_buffers),
        cmocka_unit_test(test_kept_index_forgets),
        cmocka_unit_test(test_merge_new_symbols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
