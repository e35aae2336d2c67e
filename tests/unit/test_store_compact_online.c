/*
 * test_store_compact_online.c — hk_store_compact_online: the environment
 * switch of an open handle.
 *
 *  - A KB with free pages is compacted while a read txn is active and
 *    another is reset: the active one still reads its snapshot (the old
 *    environment stays open for it), the reset one moves to the new file
 *    at its renew, new writes land in the new file only, the file is
 *    smaller, and content, audit chain, audit head and data digest are
 *    those of before; the KB reopens cleanly afterwards.
 *  - Under concurrent readers (begin/reset/renew loops) and a writer
 *    thread, two compactions in a row: no read or write fails, every
 *    committed write is there afterwards, the indexes agree.
 *  - HK_ERR_BUSY while another handle has the KB open (the handle stays
 *    usable and compacts once the other is closed); HK_ERR_STATE on a
 *    read-only handle.
 *  - hk_store_durable_commit with defer_meta_sync (one fsync per commit):
 *    a commit is durable once the next commit or hk_store_sync has run,
 *    an empty commit moves nothing, compaction makes everything durable;
 *    without it every commit is durable at once.
 */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>

static uint64_t data_size(const char *dir)
{
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Facts in many small txns, half of them deleted: a file with free pages. */
static void fill(hk_store *s, int n_txn, int per_txn)
{
    char a[32], b[32];
    hk_fact_id ids[64];
    assert_true(per_txn <= 64);
    for (int i = 0; i < n_txn; i++) {
        hk_txn *t = tu_begin(s, true);
        for (int j = 0; j < per_txn; j++) {
            snprintf(a, sizeof a, "Entity %d", i * per_txn + j);
            snprintf(b, sizeof b, "Value %d", j % 17);
            ids[j] = tu_add(t, tu_st("HasValue", a, b, NULL), NULL);
        }
        for (int j = 1; j < per_txn; j += 2) { /* after the adds: one flush */
            hk_error err;
            assert_int_equal(hk_store_delete(t, ids[j], &err), HK_OK);
        }
        tu_commit(t);
    }
}

typedef struct kb_state {
    hk_stats st;           /* counters */
    hk_audit_report audit; /* audit verification */
    char digest[65];       /* data digest, hex */
} kb_state;

static void state_of(hk_store *s, kb_state *out)
{
    hk_error err;
    hk_verify_report *vr = calloc(1, sizeof *vr);
    assert_non_null(vr);
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_store_stats(t, &out->st, &err), HK_OK);
    assert_int_equal(hk_audit_verify(t, &out->audit, &err), HK_OK);
    assert_true(out->audit.ok);
    assert_int_equal(hk_store_verify_deep(t, vr, &err), HK_OK);
    assert_true(vr->ok);
    memcpy(out->digest, vr->digest, sizeof out->digest);
    tu_check(t);
    hk_txn_abort(t);
    free(vr);
}

/* ==== The switch ==== */

static void test_switch(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("conline");
    hk_store *s = tu_open(dir);
    hk_error err;
    fill(s, 150, 20);
    kb_state before, after;
    state_of(s, &before);
    uint64_t commit_before = hk_store_last_commit(s);

    hk_txn *active = tu_begin(s, false); /* keeps the old environment */
    hk_txn *idle = tu_begin(s, false);
    hk_txn_reset(idle); /* a loop's txn between two requests */
    hks_env *old_env = active->ge;

    hk_compact_report r;
    hk_err e = hk_store_compact_online(s, &r, &err);
    if (e) fprintf(stderr, "compact: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    assert_true(r.bytes_after > 0);
    assert_true(r.bytes_after < r.bytes_before);
    assert_int_equal(r.bytes_after, data_size(dir));
    assert_int_equal(r.facts, before.st.facts);
    assert_true(atomic_load(&s->cur) != old_env);
    assert_true(hk_store_last_commit(s) >= commit_before);

    /* Content, audit chain and data digest are those of before. */
    state_of(s, &after);
    assert_int_equal(after.st.facts, before.st.facts);
    assert_int_equal(after.st.symbols, before.st.symbols);
    assert_int_equal(after.st.last_fact_id, before.st.last_fact_id);
    assert_string_equal(after.digest, before.digest);
    assert_int_equal(after.st.audit_entries, before.st.audit_entries);
    assert_int_equal(after.audit.checked, before.audit.checked);
    assert_true(after.st.bytes_on_disk < before.st.bytes_on_disk);
    assert_true(after.st.bytes_free < before.st.bytes_free);

    /* A write after the switch goes to the new file. */
    hk_txn *w = tu_begin(s, true);
    assert_true(w->ge == atomic_load(&s->cur));
    hk_fact_id nid = tu_add(w, tu_st("After", "compaction", NULL), NULL);
    tu_commit(w);
    assert_true(hk_store_last_commit(s) > commit_before);

    /* The active txn still reads its snapshot of the old file. */
    hk_stats st;
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_stats(active, &st, &err), HK_OK);
    assert_int_equal(st.facts, before.st.facts);
    assert_int_equal(hk_store_get(active, nid, &f, &err), HK_ERR_NOT_FOUND);
    assert_true(active->ge == old_env);

    /* The reset txn moves to the new environment at its renew. */
    assert_int_equal(hk_txn_renew(idle, &err), HK_OK);
    assert_true(idle->ge == atomic_load(&s->cur));
    assert_int_equal(hk_store_stats(idle, &st, &err), HK_OK);
    assert_int_equal(st.facts, before.st.facts + 1);
    assert_int_equal(hk_store_get(idle, nid, &f, &err), HK_OK);
    hk_fact_release(&f);
    hk_txn_abort(idle);
    hk_txn_abort(active); /* the old environment's last txn: closed */
    state_of(s, &after);

    /* Reopened from scratch, the KB is the same. */
    hk_store_close(s);
    s = tu_open(dir);
    kb_state reopened;
    state_of(s, &reopened);
    assert_string_equal(reopened.digest, after.digest);
    assert_int_equal(reopened.st.facts, before.st.facts + 1);
    assert_int_equal(reopened.st.audit_entries, before.st.audit_entries + 1);
    tu_discard(s, dir);
}

/* ==== Under load ==== */

typedef struct load {
    hk_store *s;              /* shared handle */
    atomic_bool stop;         /* set by the main thread */
    atomic_uint_fast64_t ops; /* reads and writes done */
    atomic_int failures;      /* reads or writes that failed */
    hk_fact_id *ids;          /* writer: committed ids */
    size_t n_ids;             /* used entries of ids */
    size_t cap_ids;           /* entries of ids */
} load;

static void *reader_main(void *arg)
{
    load *l = arg;
    hk_error err;
    hk_txn *t = NULL;
    if (hk_txn_begin(l->s, false, &t, &err)) {
        atomic_fetch_add(&l->failures, 1);
        return NULL;
    }
    uint64_t last = 0;
    while (!atomic_load(&l->stop)) {
        hk_stats st;
        if (hk_txn_renew(t, &err) || hk_store_stats(t, &st, &err)) {
            atomic_fetch_add(&l->failures, 1);
            break;
        }
        if (st.facts < last) atomic_fetch_add(&l->failures, 1); /* back */
        last = st.facts;
        hk_fact f;
        hk_fact_init(&f);
        hk_err e = hk_store_get(t, 1, &f, &err);
        if (e != HK_OK && e != HK_ERR_NOT_FOUND)
            atomic_fetch_add(&l->failures, 1);
        hk_fact_release(&f);
        hk_txn_reset(t);
        atomic_fetch_add(&l->ops, 1);
    }
    hk_txn_abort(t);
    return NULL;
}

static void *writer_main(void *arg)
{
    load *l = arg;
    hk_error err;
    char a[32];
    for (size_t i = 0; !atomic_load(&l->stop) && l->n_ids < l->cap_ids; i++) {
        hk_txn *t = NULL;
        hk_fact_id id = 0;
        snprintf(a, sizeof a, "Load %zu", i);
        hk_statement st = tu_st("Written", a, NULL);
        if (hk_txn_begin(l->s, true, &t, &err) ||
            hk_store_add(t, &st, NULL, &id, NULL, &err) ||
            hk_txn_commit(t, &err)) {
            fprintf(stderr, "write: %s\n", err.message);
            atomic_fetch_add(&l->failures, 1);
            break;
        }
        l->ids[l->n_ids++] = id;
        atomic_fetch_add(&l->ops, 1);
    }
    return NULL;
}

static void test_under_load(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("conload");
    hk_store *s = tu_open(dir);
    hk_error err;
    fill(s, 100, 20);
    load l;
    memset(&l, 0, sizeof l);
    l.s = s;
    l.cap_ids = 1000000;
    l.ids = calloc(l.cap_ids, sizeof *l.ids);
    assert_non_null(l.ids);
    pthread_t readers[3], writer;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &l), 0);
    assert_int_equal(pthread_create(&writer, NULL, writer_main, &l), 0);
    for (int round = 0; round < 2; round++) {
        uint64_t ops = atomic_load(&l.ops);
        for (int i = 0; i < 2000 && atomic_load(&l.ops) < ops + 200; i++)
            usleep(1000); /* some load on each environment */
        hk_compact_report r;
        hk_err e = hk_store_compact_online(s, &r, &err);
        if (e) fprintf(stderr, "compact: %s\n", err.message);
        assert_int_equal(e, HK_OK);
    }
    uint64_t ops = atomic_load(&l.ops);
    for (int i = 0; i < 2000 && atomic_load(&l.ops) < ops + 200; i++)
        usleep(1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    pthread_join(writer, NULL);
    assert_int_equal(atomic_load(&l.failures), 0);
    assert_true(l.n_ids > 0);

    hk_txn *t = tu_begin(s, false);
    hk_fact f;
    hk_fact_init(&f);
    for (size_t i = 0; i < l.n_ids; i++)
        assert_int_equal(hk_store_get(t, l.ids[i], &f, &err), HK_OK);
    hk_fact_release(&f);
    tu_check(t);
    hk_audit_report ar;
    assert_int_equal(hk_audit_verify(t, &ar, &err), HK_OK);
    assert_true(ar.ok);
    hk_txn_abort(t);
    free(l.ids);
    tu_discard(s, dir);
}

/* ==== Refusals ==== */

static void test_busy_and_read_only(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("conbusy");
    hk_store *s = tu_open(dir);
    hk_error err;
    fill(s, 20, 10);
    int release;
    pid_t other = tu_hold_in_child(dir, &release); /* a second user */
    hk_compact_report r;
    assert_int_equal(hk_store_compact_online(s, &r, &err), HK_ERR_BUSY);
    assert_non_null(strstr(err.message, "another process"));
    /* Both handles still work, and the refusal left LOCK_SH in place:
     * an offline compaction is refused too. */
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("Still", "writable", NULL), NULL);
    tu_commit(t);
    assert_int_equal(hk_store_compact(dir, &r, &err), HK_ERR_BUSY);
    tu_release_child(other, release);
    assert_int_equal(hk_store_compact_online(s, &r, &err), HK_OK);

    hk_store_options o = {0};
    o.read_only = true;
    hk_store *ro = NULL;
    hk_store_close(s);
    assert_int_equal(hk_store_open(dir, &o, &ro, &err), HK_OK);
    assert_int_equal(hk_store_compact_online(ro, &r, &err), HK_ERR_STATE);
    assert_int_equal(hk_store_compact_online(NULL, &r, &err), HK_ERR_INVALID);
    tu_discard(ro, dir);
}

/* ==== Durable commits ==== */

static void test_durable_commit(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("condur");
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_error err;
    o.create = true;
    o.map_size = 1ull << 30;
    o.defer_meta_sync = true; /* real syncs: the contract under test */
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    uint64_t c0 = hk_store_last_commit(s);
    assert_int_equal(hk_store_durable_commit(s), c0);

    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("Durable", "one", NULL), NULL);
    tu_commit(t);
    uint64_t c1 = hk_store_last_commit(s);
    assert_true(c1 > c0);
    assert_true(hk_store_durable_commit(s) < c1); /* its meta is unsynced */

    t = tu_begin(s, true);
    tu_add(t, tu_st("Durable", "two", NULL), NULL);
    tu_commit(t);
    uint64_t c2 = hk_store_last_commit(s);
    assert_true(c2 > c1);
    assert_int_equal(hk_store_durable_commit(s), c2 - 1); /* c1 and before */
    assert_true(hk_store_durable_commit(s) >= c1);

    t = tu_begin(s, true); /* changes nothing: no sync, no new commit */
    tu_commit(t);
    assert_int_equal(hk_store_last_commit(s), c2);
    assert_true(hk_store_durable_commit(s) < c2);

    assert_int_equal(hk_store_sync(s, &err), HK_OK);
    assert_int_equal(hk_store_durable_commit(s), c2);

    t = tu_begin(s, true);
    tu_add(t, tu_st("Durable", "three", NULL), NULL);
    tu_commit(t);
    uint64_t c3 = hk_store_last_commit(s);
    assert_true(hk_store_durable_commit(s) < c3);
    hk_compact_report r;
    assert_int_equal(hk_store_compact_online(s, &r, &err), HK_OK);
    assert_int_equal(hk_store_last_commit(s), c3); /* numbering goes on */
    assert_int_equal(hk_store_durable_commit(s), c3);
    t = tu_begin(s, true);
    tu_add(t, tu_st("Durable", "four", NULL), NULL);
    tu_commit(t);
    assert_true(hk_store_last_commit(s) > c3);
    hk_store_close(s);

    /* Without defer_meta_sync every commit is durable when it returns. */
    o.defer_meta_sync = false;
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    t = tu_begin(s, true);
    tu_add(t, tu_st("Durable", "five", NULL), NULL);
    tu_commit(t);
    assert_int_equal(hk_store_durable_commit(s), hk_store_last_commit(s));
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_under_load),
        cmocka_unit_test(test_busy_and_read_only),
        cmocka_unit_test(test_durable_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
