/*
 * test_store_threads.c — one store shared by threads: readers (each with
 * its own read transaction, reused through reset/renew, and one handed
 * from thread to thread) decode facts while a writer commits new ones.
 * Every decoded fact must be whole and consistent with its id (the shared
 * symbol caches must never return another symbol's string), and counts
 * must never go backwards within a reader.
 */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define WRITER_TXNS 60
#define PER_TXN 50
#define READERS 3

static hk_store *g_store;
static atomic_int g_done;
static atomic_int g_errors;

/* Fact k (1-based id order) is Link(node<k>, node<k % 97>, "w <k>"). */
static void expect_fact(const hk_fact *f)
{
    char a[32], b[32], c[32];
    unsigned long long k = f->id;
    snprintf(a, sizeof a, "node%llu", k);
    snprintf(b, sizeof b, "node%llu", k % 97);
    snprintf(c, sizeof c, "w %llu", k);
    if (strcmp(f->st.predicate, "Link") || f->st.n_args != 3 ||
        strcmp(f->st.args[0], a) || strcmp(f->st.args[1], b) ||
        strcmp(f->st.args[2], c)) {
        fprintf(stderr, "fact %llu decoded wrongly\n", k);
        atomic_fetch_add(&g_errors, 1);
    }
}

static void *writer(void *p)
{
    (void)p;
    uint64_t k = 1;
    for (int tx = 0; tx < WRITER_TXNS; tx++) {
        hk_txn *t;
        hk_error err;
        if (hk_txn_begin(g_store, true, &t, &err)) {
            atomic_fetch_add(&g_errors, 1);
            break;
        }
        for (int i = 0; i < PER_TXN; i++, k++) {
            char a[32], b[32], c[32];
            snprintf(a, sizeof a, "node%llu", (unsigned long long)k);
            snprintf(b, sizeof b, "node%llu", (unsigned long long)(k % 97));
            snprintf(c, sizeof c, "w %llu", (unsigned long long)k);
            hk_statement st = tu_st("Link", a, b, c, NULL);
            hk_fact_id id;
            bool created;
            if (hk_store_add(t, &st, NULL, &id, &created, &err) || !created ||
                id != k)
                atomic_fetch_add(&g_errors, 1);
        }
        if (hk_txn_commit(t, &err)) atomic_fetch_add(&g_errors, 1);
    }
    atomic_store(&g_done, 1);
    return NULL;
}

typedef struct reader_arg {
    hk_txn *t;     /* read txn to use (may come from another thread) */
    int rounds;    /* at least this many rounds */
    uint64_t seed; /* which entities to look at */
} reader_arg;

static void *reader(void *p)
{
    reader_arg *ra = p;
    hk_fact f;
    hk_error err;
    uint64_t last_facts = 0, rng = ra->seed;
    hk_fact_init(&f);
    for (int r = 0; r < ra->rounds || !atomic_load(&g_done); r++) {
        if (hk_txn_renew(ra->t, &err)) {
            atomic_fetch_add(&g_errors, 1);
            break;
        }
        hk_stats st;
        if (hk_store_stats(ra->t, &st, &err) || st.facts < last_facts)
            atomic_fetch_add(&g_errors, 1);
        last_facts = st.facts;
        /* facts of a hub entity, decoded */
        char ent[32];
        snprintf(ent, sizeof ent, "node%llu",
                 (unsigned long long)(tu_rand(&rng) % 97));
        hk_scan sc = HK_SCAN_INIT;
        sc.entity = ent;
        hk_query *q;
        if (hk_query_open_scan(ra->t, &sc, NULL, &q, &err) == HK_OK) {
            bool has;
            hk_err qe;
            while ((qe = hk_query_next(q, &f, &has, &err)) == HK_OK && has)
                expect_fact(&f);
            if (qe != HK_OK) atomic_fetch_add(&g_errors, 1);
            hk_query_close(q);
        } else {
            atomic_fetch_add(&g_errors, 1);
        }
        /* a random id */
        if (st.last_fact_id) {
            hk_fact_id id = 1 + tu_rand(&rng) % st.last_fact_id;
            if (hk_store_get(ra->t, id, &f, &err) == HK_OK)
                expect_fact(&f);
            else
                atomic_fetch_add(&g_errors, 1);
        }
        hk_txn_reset(ra->t);
    }
    hk_fact_release(&f);
    return NULL;
}

static void test_readers_and_writer(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("threads");
    g_store = tu_open(dir);
    pthread_t w, rd[READERS];
    reader_arg ra[READERS];
    for (int i = 0; i < READERS; i++) {
        ra[i].t = tu_begin(g_store, false);
        hk_txn_reset(ra[i].t);
        ra[i].rounds = 50;
        ra[i].seed = (uint64_t)i + 1;
    }
    assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, reader, &ra[i]), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(rd[i], NULL);
    /* A read txn handed to another thread (MDB_NOTLS) keeps working. */
    reader_arg again = {ra[0].t, 5, 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader, &again), 0);
    pthread_join(th, NULL);
    for (int i = 0; i < READERS; i++)
        hk_txn_abort(ra[i].t);
    assert_int_equal(atomic_load(&g_errors), 0);
    hk_txn *t = tu_begin(g_store, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, WRITER_TXNS * PER_TXN);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(g_store, dir);
}

/* Two writer threads create overlapping new symbols; one aborts every
 * other transaction (which drops the writer symbol cache). Every committed
 * fact must decode to what was written and MERGE must stay exact. */
typedef struct dual_arg {
    hk_store *s; /* store */
    int who;     /* 0 or 1 */
} dual_arg;

static void *dual_writer(void *p)
{
    dual_arg *a = p;
    for (int tx = 0; tx < 40; tx++) {
        hk_txn *t;
        hk_error err;
        if (hk_txn_begin(a->s, true, &t, &err)) {
            atomic_fetch_add(&g_errors, 1);
            return NULL;
        }
        if (tx % 3 == 0 && hk_txn_set_bulk(t, "dual") != HK_OK)
            atomic_fetch_add(&g_errors, 1);
        for (int i = 0; i < 25; i++) {
            char x[32], y[32];
            snprintf(x, sizeof x, "shared%d", (tx * 25 + i) % 300);
            snprintf(y, sizeof y, "obj%d_%d", a->who, tx * 25 + i);
            hk_statement st = tu_st("Dual", x, y, NULL);
            hk_fact_id id;
            if (hk_store_add(t, &st, NULL, &id, NULL, &err))
                atomic_fetch_add(&g_errors, 1);
        }
        bool abort_it = a->who == 1 && tx % 2 == 1;
        if (abort_it)
            hk_txn_abort(t);
        else if (hk_txn_commit(t, &err))
            atomic_fetch_add(&g_errors, 1);
    }
    return NULL;
}

static void test_two_writers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("dual");
    hk_store *s = tu_open(dir);
    atomic_store(&g_errors, 0);
    pthread_t th[2];
    dual_arg a[2] = {{s, 0}, {s, 1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, dual_writer, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&g_errors), 0);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_stats st;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 40 * 25 + 20 * 25);
    /* each committed fact is found by content and decodes back */
    hk_scan sc = HK_SCAN_INIT;
    sc.predicate = "Dual";
    hk_query *q;
    assert_int_equal(hk_query_open_scan(t, &sc, NULL, &q, &err), HK_OK);
    hk_fact f;
    hk_fact_init(&f);
    uint64_t rows = 0;
    while (tu_next(q, &f)) {
        hk_fact_id id;
        assert_int_equal(hk_store_find(t, &f.st, &id, &err), HK_OK);
        assert_int_equal(id, f.id);
        assert_int_equal(strncmp(f.st.args[0], "shared", 6), 0);
        assert_int_equal(strncmp(f.st.args[1], "obj", 3), 0);
        rows++;
    }
    assert_int_equal(rows, st.facts);
    tu_check(t);
    hk_fact_release(&f);
    hk_query_close(q);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    assert_true(rep.ok);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_and_writer),
        cmocka_unit_test(test_two_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
