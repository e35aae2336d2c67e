/*
 * test_vector_store.c — vector spaces and vectors in the store
 * (src/vector/vstore.c): spaces created, listed and dropped; a vector
 * written in its fact's transaction commits and aborts with it, is removed
 * when the fact is deleted or its content replaced, survives a reopen and
 * a backup/restore, leaves an audit entry without its bytes; bad input is
 * refused with nothing written; an index loaded from the store answers;
 * the index kept per space is built once, written to its file, caught up
 * by commits and on reopen, and agrees with the store throughout.
 * Entity spaces: vectors keyed by the entity's symbol, refused for
 * unknown entities and on the wrong kind of space, audited without bytes,
 * untouched by fact deletions (even of a fact whose id is the symbol's),
 * kept indexes caught up by their puts and deletes, backed up; the model
 * name and kind survive a reopen; a cleared space gets a new stamp.
 */
#include <math.h>

#include "test_store_util.h"

#include "vector/vector.h"

/* ==== Helpers ==== */

static hkv_store *attach(hk_store *s)
{
    hkv_store *vs = NULL;
    hk_error err;
    hk_err e = hkv_store_attach(s, &vs, &err);
    if (e) fprintf(stderr, "attach: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return vs;
}

static void create_space(hkv_store *vs, hk_store *s, const char *name,
                         uint32_t dim, hkv_metric m)
{
    hkv_space sp;
    hk_error err;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "%s", name);
    sp.params = (hkv_params){dim, m, HKV_F32, 0, 0, 0};
    hk_txn *t = tu_begin(s, true);
    hk_err e = hkv_space_create(vs, t, &sp, &err);
    if (e) fprintf(stderr, "create: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    tu_commit(t);
}

static hk_err get_vec(hkv_store *vs, hk_store *s, const char *space,
                      hk_fact_id id, float *out)
{
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    hk_err e = hkv_get(vs, t, space, id, out, &err);
    hk_txn_abort(t);
    return e;
}

/* The op of the newest audit entry (caller frees). */
static char *last_audit_op(hk_store *s, hk_fact_id *fact, char **after)
{
    hk_audit_iter *it;
    const hk_audit_entry *en;
    hk_error err;
    char *op = NULL;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_audit_iter_open(t, 1, &it, &err), HK_OK);
    while (hk_audit_iter_next(it, &en, &err) == HK_OK && en) {
        free(op);
        op = strdup(en->op);
        *fact = en->fact_id;
        free(*after);
        *after = en->after ? strdup(en->after) : NULL;
    }
    hk_audit_iter_close(it);
    hk_txn_abort(t);
    return op;
}

/* ==== Spaces ==== */

static void test_spaces(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vspaces");
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    hkv_space sp, all[HKV_SPACES_MAX];
    size_t n;

    create_space(vs, s, "minilm", 384, HKV_COSINE);
    create_space(vs, s, "graph", 8, HKV_L2);

    hk_txn *t = tu_begin(s, true);
    memset(&sp, 0, sizeof sp);
    strcpy(sp.name, "minilm");
    sp.params = (hkv_params){4, HKV_COSINE, HKV_F32, 0, 0, 0};
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_ERR_EXISTS);
    strcpy(sp.name, "Bad Name");
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "space");
    strcpy(sp.name, "big");
    sp.params.dim = HKV_DIM_MAX + 1;
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "dim");
    hk_txn_abort(t);

    t = tu_begin(s, false);
    assert_int_equal(hkv_space_list(vs, t, all, &n, &err), HK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "graph"); /* name order */
    assert_string_equal(all[1].name, "minilm");
    assert_int_equal(all[1].params.dim, 384);
    assert_int_equal(all[1].params.m, HKV_M_DEFAULT);
    assert_int_equal(all[1].params.ef, HKV_EF_DEFAULT);
    assert_int_equal(all[0].params.metric, HKV_L2);
    assert_int_equal(hkv_space_get(vs, t, "nope", &sp, &err), HK_ERR_NOT_FOUND);
    hk_txn_abort(t);

    t = tu_begin(s, true);
    assert_int_equal(hkv_space_drop(vs, t, "graph", &err), HK_OK);
    assert_int_equal(hkv_space_drop(vs, t, "graph", &err), HK_ERR_NOT_FOUND);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hkv_space_list(vs, t, all, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    hk_txn_abort(t);

    hkv_store_detach(vs);
    tu_discard(s, dir);
}

/* ==== Vectors with their facts ==== */

static void test_vectors_follow_facts(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vfacts");
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    float v[4] = {1, 2, 3, 4}, got[4];
    create_space(vs, s, "m", 4, HKV_COSINE);
    create_space(vs, s, "g", 4, HKV_L2);

    /* written with the fact, in one transaction */
    hk_txn *t = tu_begin(s, true);
    hk_fact_id a = tu_add(t, tu_st("Likes", "ann", "tea", NULL), NULL);
    assert_int_equal(hkv_put(vs, t, "m", a, v, 4, &err), HK_OK);
    assert_int_equal(hkv_put(vs, t, "g", a, v, 4, &err), HK_OK);
    tu_commit(t);
    assert_int_equal(get_vec(vs, s, "m", a, got), HK_OK);
    assert_memory_equal(got, v, sizeof v);

    /* the audit entry names the space, not the bytes */
    hk_fact_id fact = 0;
    char *after = NULL, *op = last_audit_op(s, &fact, &after);
    assert_string_equal(op, "vector");
    assert_int_equal(fact, a);
    assert_non_null(strstr(after, "\"space\":\"g\""));
    free(op);
    free(after);
    hk_audit_report rep;
    t = tu_begin(s, false);
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    hk_txn_abort(t);
    assert_true(rep.ok);

    /* aborted together */
    t = tu_begin(s, true);
    hk_fact_id b = tu_add(t, tu_st("Likes", "bob", "tea", NULL), NULL);
    assert_int_equal(hkv_put(vs, t, "m", b, v, 4, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(get_vec(vs, s, "m", b, got), HK_ERR_NOT_FOUND);

    /* refused input writes nothing */
    float bad[4] = {1, NAN, 0, 0}, zero[4] = {0, 0, 0, 0};
    t = tu_begin(s, true);
    assert_int_equal(hkv_put(vs, t, "m", a, v, 3, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "vector");
    assert_int_equal(hkv_put(vs, t, "m", a, bad, 4, &err), HK_ERR_INVALID);
    assert_int_equal(hkv_put(vs, t, "m", a, zero, 4, &err), HK_ERR_INVALID);
    assert_int_equal(hkv_put(vs, t, "m", 999, v, 4, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hkv_put(vs, t, "x", a, v, 4, &err), HK_ERR_NOT_FOUND);
    tu_commit(t);
    assert_int_equal(get_vec(vs, s, "m", a, got), HK_OK);
    assert_memory_equal(got, v, sizeof v);

    /* a metadata-free update of the content drops the stale vectors */
    t = tu_begin(s, true);
    hk_statement st = tu_st("Likes", "ann", "coffee", NULL);
    assert_int_equal(hk_store_update(t, a, &st, NULL, &err), HK_OK);
    tu_commit(t);
    assert_int_equal(get_vec(vs, s, "m", a, got), HK_ERR_NOT_FOUND);
    assert_int_equal(get_vec(vs, s, "g", a, got), HK_ERR_NOT_FOUND);

    /* deleting the fact deletes its vectors in the same transaction */
    t = tu_begin(s, true);
    assert_int_equal(hkv_put(vs, t, "m", a, v, 4, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK);
    assert_int_equal(hkv_get(vs, t, "m", a, got, &err), HK_ERR_NOT_FOUND);
    hk_txn_abort(t); /* ...and an aborted delete keeps them */
    assert_int_equal(get_vec(vs, s, "m", a, got), HK_OK);
    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK);
    tu_commit(t);
    assert_int_equal(get_vec(vs, s, "m", a, got), HK_ERR_NOT_FOUND);

    hkv_store_detach(vs);
    tu_discard(s, dir);
}

/* ==== Persistence, backup, index ==== */

static void test_reopen_backup_and_index(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vpersist");
    char *bak = tu_tmpdir("vbackup");
    char *restored = tu_tmpdir("vrestored");
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    enum { N = 200 };
    hk_fact_id ids[N];
    create_space(vs, s, "m", 8, HKV_L2);

    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < N; i++) {
        char arg[32];
        float v[8];
        snprintf(arg, sizeof arg, "e%d", i);
        ids[i] = tu_add(t, tu_st("Is", arg, "thing", NULL), NULL);
        for (int d = 0; d < 8; d++)
            v[d] = (float)(i * (d + 1) % 17);
        assert_int_equal(hkv_put(vs, t, "m", ids[i], v, 8, &err), HK_OK);
    }
    tu_commit(t);
    hkv_store_detach(vs);
    hk_store_close(s);

    /* a backup of the reopened KB restores with its vectors */
    s = tu_open(dir);
    vs = attach(s);
    rmdir(bak);
    char sha[65];
    hk_err e = hk_store_backup(s, bak, sha, &err);
    if (e) fprintf(stderr, "backup: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    hkv_store_detach(vs);
    hk_store_close(s);
    rmdir(restored);
    e = hk_backup_restore(bak, restored, false, &err);
    if (e) fprintf(stderr, "restore: %s\n", err.message);
    assert_int_equal(e, HK_OK);

    s = tu_open(restored);
    vs = attach(s);
    hkv_index *ix = NULL;
    t = tu_begin(s, false);
    hkv_space sp;
    assert_int_equal(hkv_space_get(vs, t, "m", &sp, &err), HK_OK);
    assert_int_equal(sp.vectors, N);
    assert_int_equal(hkv_index_load(vs, t, "m", &ix, &err), HK_OK);
    float q[8];
    assert_int_equal(hkv_get(vs, t, "m", ids[42], q, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(hkv_index_count(ix), N);
    hkv_hit hits[3];
    size_t n;
    hkv_search_opts o = {3, 0, NULL, NULL, NULL};
    assert_int_equal(hkv_index_search(ix, q, &o, hits, &n, &err), HK_OK);
    assert_int_equal(n, 3);
    assert_true(hits[0].distance == 0);
    /* id 42 is among the hits, unless three other facts share its vector */
    bool seen42 = false;
    for (size_t i = 0; i < n; i++)
        seen42 |= hits[i].id == ids[42];
    if (!seen42)
        for (size_t i = 0; i < n; i++)
            assert_true(hits[i].distance == 0);
    hkv_index_free(ix);
    hkv_store_detach(vs);
    tu_discard(s, restored);
    tu_rmrf(bak);
    free(bak);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Kept indexes ==== */

#define KD 8

static void kvec(uint64_t i, uint32_t gen, float *v)
{
    for (int d = 0; d < KD; d++)
        v[d] = (float)((i * 7 + (uint64_t)d * 13 + gen * 5) % 23) + 1;
}

/* Adds n facts with vectors to space "k"; their ids into ids. */
static void add_facts(hkv_store *vs, hk_store *s, int from, int n,
                      hk_fact_id *ids)
{
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < n; i++) {
        char arg[32];
        float v[KD];
        snprintf(arg, sizeof arg, "k%d", from + i);
        ids[i] = tu_add(t, tu_st("Is", arg, "kept", NULL), NULL);
        kvec(ids[i], 0, v);
        assert_int_equal(hkv_put(vs, t, "k", ids[i], v, KD, &err), HK_OK);
    }
    tu_commit(t);
}

/* The kept index of "k" holds exactly the vectors of the store: the same
 * live ids as a fresh build, and each answers a search for its own
 * vector at distance 0. */
static void check_agrees(hkv_store *vs, hk_store *s, hk_fact_id max_id)
{
    hk_error err;
    const hkv_index *kept;
    hkv_kept *ref;
    hkv_index *fresh = NULL;
    hk_txn *t = tu_begin(s, false);
    hk_err e = hkv_index_acquire(vs, t, "k", &kept, &ref, &err);
    if (e) fprintf(stderr, "acquire: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    assert_int_equal(hkv_index_load(vs, t, "k", &fresh, &err), HK_OK);
    assert_int_equal(hkv_index_count(kept), hkv_index_count(fresh));
    for (hk_fact_id id = 1; id <= max_id; id++) {
        assert_int_equal(hkv_index_contains(kept, id),
                         hkv_index_contains(fresh, id));
        float v[KD];
        if (!hkv_index_contains(fresh, id)) continue;
        assert_int_equal(hkv_get(vs, t, "k", id, v, &err), HK_OK);
        hkv_hit h[1];
        size_t n;
        hkv_search_opts o = {1, 0, NULL, NULL, NULL};
        assert_int_equal(hkv_index_search(kept, v, &o, h, &n, &err), HK_OK);
        assert_int_equal(n, 1);
        assert_true(h[0].distance < 1e-5f);
    }
    hkv_index_release(ref);
    hkv_index_free(fresh);
    hk_txn_abort(t);
}

static hkv_kept_stats kstats(hkv_store *vs)
{
    hkv_kept_stats st;
    hkv_kept_stats_get(vs, &st);
    return st;
}

/* The index is built once and written beside the KB; commits of the
 * handle catch it up; a reopen reads the file and catches up with what
 * other handles wrote; a re-created space, a damaged file or a file of
 * another history is never used. */
static void test_kept_index(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vkept");
    char path[4096];
    snprintf(path, sizeof path, "%s/vector-k.hnsw", dir);
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    enum { N = 300 };
    hk_fact_id ids[N];
    create_space(vs, s, "k", KD, HKV_L2);
    add_facts(vs, s, 0, N, ids);
    check_agrees(vs, s, ids[N - 1]);
    assert_int_equal(kstats(vs).builds, 1);
    assert_int_equal(access(path, R_OK), 0);

    /* commits of this handle: adds, deletes, a changed vector, a changed
     * fact (its vector goes with the old content) */
    hk_fact_id more[50];
    add_facts(vs, s, N, 50, more);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 20; i++)
        assert_int_equal(hk_store_delete(t, ids[i * 3], &err), HK_OK);
    float v[KD];
    kvec(ids[100], 9, v);
    assert_int_equal(hkv_put(vs, t, "k", ids[100], v, KD, &err), HK_OK);
    assert_int_equal(hkv_del(vs, t, "k", ids[101], &err), HK_OK);
    hk_statement st = tu_st("Is", "k102", "changed", NULL);
    assert_int_equal(hk_store_update(t, ids[102], &st, NULL, &err), HK_OK);
    tu_commit(t);
    check_agrees(vs, s, more[49]);
    assert_int_equal(kstats(vs).builds, 1);
    assert_true(kstats(vs).caught_up >= 70);
    hkv_store_detach(vs);
    hk_store_close(s);

    /* reopen: read from the file, nothing built */
    s = tu_open(dir);
    vs = attach(s);
    check_agrees(vs, s, more[49]);
    assert_int_equal(kstats(vs).builds, 0);
    assert_int_equal(kstats(vs).file_loads, 1);
    hkv_store_detach(vs);
    hk_store_close(s);

    /* another handle writes without searching: the file falls behind */
    s = tu_open(dir);
    vs = attach(s);
    hk_fact_id late[40];
    add_facts(vs, s, 400, 40, late);
    t = tu_begin(s, true);
    for (int i = 0; i < 10; i++)
        assert_int_equal(hk_store_delete(t, more[i], &err), HK_OK);
    tu_commit(t);
    hkv_store_detach(vs);
    hk_store_close(s);
    s = tu_open(dir);
    vs = attach(s);
    check_agrees(vs, s, late[39]);
    assert_int_equal(kstats(vs).builds, 0);
    assert_int_equal(kstats(vs).file_loads, 1);
    assert_true(kstats(vs).caught_up >= 50);

    /* the space dropped and re-created under its name: rebuilt */
    t = tu_begin(s, true);
    assert_int_equal(hkv_space_drop(vs, t, "k", &err), HK_OK);
    tu_commit(t);
    create_space(vs, s, "k", KD, HKV_L2);
    hk_fact_id fresh[30];
    add_facts(vs, s, 500, 30, fresh);
    check_agrees(vs, s, fresh[29]);
    assert_int_equal(kstats(vs).builds, 1);
    assert_int_equal(kstats(vs).vectors, 30);
    hkv_store_detach(vs);
    hk_store_close(s);

    /* a damaged file is rebuilt and rewritten */
    assert_int_equal(truncate(path, 100), 0);
    s = tu_open(dir);
    vs = attach(s);
    check_agrees(vs, s, fresh[29]);
    assert_int_equal(kstats(vs).builds, 1);
    assert_int_equal(kstats(vs).file_loads, 0);
    hkv_store_detach(vs);
    hk_store_close(s);
    s = tu_open(dir);
    vs = attach(s);
    check_agrees(vs, s, fresh[29]);
    assert_int_equal(kstats(vs).file_loads, 1);
    hkv_store_detach(vs);
    hk_store_close(s);

    /* a backup restored beside its newer index file: the file's audit
     * entry is not in the restored history, so it is rebuilt */
    char *bak = tu_tmpdir("vkeptbak");
    char *other = tu_tmpdir("vkept2");
    char sha[65];
    s = tu_open(dir);
    vs = attach(s);
    rmdir(bak);
    assert_int_equal(hk_store_backup(s, bak, sha, &err), HK_OK);
    hk_fact_id after[10];
    add_facts(vs, s, 600, 10, after);
    check_agrees(vs, s, after[9]);
    hkv_store_detach(vs);
    hk_store_close(s);
    rmdir(other);
    assert_int_equal(hk_backup_restore(bak, other, false, &err), HK_OK);
    char opath[4096], cmd[9000];
    snprintf(opath, sizeof opath, "%s/vector-k.hnsw", other);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, opath);
    assert_int_equal(system(cmd), 0);
    hk_store *s2 = tu_open(other);
    hkv_store *vs2 = attach(s2);
    check_agrees(vs2, s2, after[9]);
    assert_int_equal(kstats(vs2).builds, 1);
    assert_int_equal(kstats(vs2).file_loads, 0);
    assert_int_equal(kstats(vs2).vectors, 30);

    /* warm-up reads every space's index before the first search */
    hkv_store_detach(vs2);
    hk_store_close(s2);
    s2 = tu_open(other);
    vs2 = attach(s2);
    assert_int_equal(hkv_store_warm(vs2, &err), HK_OK);
    assert_int_equal(hkv_store_warm(vs2, &err), HK_ERR_STATE);
    hkv_store_detach(vs2);
    tu_discard(s2, other);
    tu_rmrf(bak);
    free(bak);
    tu_rmrf(dir);
    free(dir);
}

/* hkv_index_try_acquire answers only from an index that is in memory and
 * current, and never makes one: HK_ERR_BUSY before the first acquire,
 * while the index is behind the reader's snapshot (a commit made while a
 * search held it, so the hook could not catch up), and after that the
 * index an acquire caught up. */
static void test_try_acquire(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vtry");
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    const hkv_index *ix, *ix2;
    hkv_kept *ref, *ref2;
    hk_fact_id ids[20], more[5];
    create_space(vs, s, "k", KD, HKV_L2);
    add_facts(vs, s, 0, 20, ids);

    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkv_index_try_acquire(vs, t, "k", &ix, &ref, &err),
                     HK_ERR_BUSY);
    assert_null(ref);
    assert_int_equal(kstats(vs).builds, 0);
    assert_int_equal(hkv_index_try_acquire(vs, t, "nope", &ix, &ref, &err),
                     HK_ERR_NOT_FOUND);
    assert_int_equal(hkv_index_acquire(vs, t, "k", &ix, &ref, &err), HK_OK);
    hkv_index_release(ref);
    assert_int_equal(hkv_index_try_acquire(vs, t, "k", &ix2, &ref2, &err),
                     HK_OK);
    assert_ptr_equal(ix2, ix);
    assert_int_equal(hkv_index_count(ix2), 20);
    hk_txn_abort(t);

    /* a commit while ref2 is held: the hook leaves the index behind */
    add_facts(vs, s, 20, 5, more);
    hkv_index_release(ref2);
    t = tu_begin(s, false);
    assert_int_equal(hkv_index_try_acquire(vs, t, "k", &ix, &ref, &err),
                     HK_ERR_BUSY);
    assert_int_equal(hkv_index_acquire(vs, t, "k", &ix, &ref, &err), HK_OK);
    assert_int_equal(hkv_index_count(ix), 25);
    hkv_index_release(ref);
    assert_int_equal(hkv_index_try_acquire(vs, t, "k", &ix, &ref, &err), HK_OK);
    assert_int_equal(hkv_index_count(ix), 25);
    hkv_index_release(ref);
    hk_txn_abort(t);
    assert_int_equal(kstats(vs).builds, 1);
    hkv_store_detach(vs);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Entity spaces ==== */

static hk_err sym_of(hk_store *s, const char *name, uint32_t *sym)
{
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    hk_err e = hks_sym_id(t, name, strlen(name), sym, &err);
    hk_txn_abort(t);
    return e;
}

/* The ids the kept index of space answers for q, nearest first. */
static size_t kept_search(hkv_store *vs, hk_store *s, const char *space,
                          const float *q, uint64_t *ids, size_t k)
{
    hk_error err;
    const hkv_index *ix;
    hkv_kept *ref;
    hkv_hit h[8];
    size_t n = 0;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkv_index_acquire(vs, t, space, &ix, &ref, &err), HK_OK);
    hkv_search_opts o = {(uint32_t)k, 0, NULL, NULL, NULL};
    assert_int_equal(hkv_index_search(ix, q, &o, h, &n, &err), HK_OK);
    hkv_index_release(ref);
    hk_txn_abort(t);
    for (size_t i = 0; i < n; i++)
        ids[i] = h[i].id;
    return n;
}

static void test_entity_space(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("vent");
    char *bak = tu_tmpdir("ventbak");
    char *restored = tu_tmpdir("ventres");
    hk_store *s = tu_open(dir);
    hkv_store *vs = attach(s);
    hk_error err;
    hkv_space sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "ents");
    sp.params = (hkv_params){3, HKV_COSINE, HKV_F32, 0, 0, 0};
    sp.kind = HKV_KIND_ENTITY;
    snprintf(sp.model, sizeof sp.model, "complex-v1");
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_OK);
    sp.kind = (hkv_kind)7;
    snprintf(sp.name, sizeof sp.name, "bad");
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "kind");
    tu_commit(t);
    create_space(vs, s, "facts", 3, HKV_COSINE);

    /* enough facts that one fact's id equals an entity's symbol id */
    enum { N = 12 };
    hk_fact_id ids[N];
    t = tu_begin(s, true);
    for (int i = 0; i < N; i++) {
        char arg[16];
        snprintf(arg, sizeof arg, "e%d", i);
        ids[i] = tu_add(t, tu_st("Near", arg, "hub", NULL), NULL);
    }
    tu_commit(t);
    uint32_t s3, s4, s5;
    assert_int_equal(sym_of(s, "e3", &s3), HK_OK);
    assert_int_equal(sym_of(s, "e4", &s4), HK_OK);
    assert_int_equal(sym_of(s, "e5", &s5), HK_OK);
    assert_true(s3 <= ids[N - 1]);

    float a[3] = {1, 0, 0}, b[3] = {0.9f, 0.1f, 0}, c[3] = {0, 0, 1}, got[3];
    t = tu_begin(s, true);
    assert_int_equal(hkv_entity_put(vs, t, "ents", "e3", 2, a, 3, &err), HK_OK);
    assert_int_equal(hkv_entity_put(vs, t, "ents", "e4", 2, b, 3, &err), HK_OK);
    assert_int_equal(hkv_entity_put(vs, t, "ents", "e5", 2, c, 3, &err), HK_OK);
    /* refused: unknown entity, wrong kind either way, bad vector */
    assert_int_equal(hkv_entity_put(vs, t, "ents", "zz", 2, a, 3, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.field, "entity");
    assert_int_equal(hkv_entity_put(vs, t, "facts", "e3", 2, a, 3, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hkv_put(vs, t, "ents", ids[0], a, 3, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hkv_entity_put(vs, t, "ents", "e3", 2, a, 2, &err),
                     HK_ERR_INVALID);
    tu_commit(t);

    /* audited without the bytes, fact id 0 */
    hk_fact_id fact = 99;
    char *after = NULL, *op = last_audit_op(s, &fact, &after);
    assert_string_equal(op, "vector");
    assert_int_equal(fact, 0);
    assert_non_null(strstr(after, "\"entity\":\"e5\""));
    assert_non_null(strstr(after, "\"space\":\"ents\""));
    assert_null(strstr(after, "0.9"));
    free(op);
    free(after);

    /* the kept index answers symbols; deleting facts (the one whose id is
     * e3's symbol among them) leaves the entity vectors */
    uint64_t hit[8];
    assert_int_equal(kept_search(vs, s, "ents", a, hit, 3), 3);
    assert_int_equal(hit[0], s3);
    assert_int_equal(hit[1], s4);
    t = tu_begin(s, true);
    for (int i = 0; i < N; i++)
        assert_int_equal(hk_store_delete(t, ids[i], &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hkv_entity_get(vs, t, "ents", s3, got, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(kept_search(vs, s, "ents", a, hit, 3), 3);

    /* a delete reaches the kept index through its audit entry */
    t = tu_begin(s, true);
    assert_int_equal(hkv_entity_del(vs, t, "ents", "e3", 2, &err), HK_OK);
    assert_int_equal(hkv_entity_del(vs, t, "ents", "e3", 2, &err),
                     HK_ERR_NOT_FOUND);
    tu_commit(t);
    assert_int_equal(kept_search(vs, s, "ents", a, hit, 3), 2);
    assert_int_equal(hit[0], s4);

    /* kind and model survive a reopen and a backup */
    hkv_store_detach(vs);
    hk_store_close(s);
    s = tu_open(dir);
    vs = attach(s);
    t = tu_begin(s, false);
    assert_int_equal(hkv_space_get(vs, t, "ents", &sp, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(sp.kind, HKV_KIND_ENTITY);
    assert_string_equal(sp.model, "complex-v1");
    assert_int_equal(sp.vectors, 2);
    assert_int_equal(kept_search(vs, s, "ents", b, hit, 3), 2);
    assert_int_equal(hit[0], s4);
    rmdir(bak);
    char sha[65];
    assert_int_equal(hk_store_backup(s, bak, sha, &err), HK_OK);
    hkv_store_detach(vs);
    hk_store_close(s);
    rmdir(restored);
    assert_int_equal(hk_backup_restore(bak, restored, false, &err), HK_OK);
    s = tu_open(restored);
    vs = attach(s);
    t = tu_begin(s, false);
    assert_int_equal(hkv_entity_get(vs, t, "ents", s5, got, &err), HK_OK);
    assert_memory_equal(got, c, sizeof c);
    uint64_t stamp = 0;
    assert_int_equal(hkv_space_find(vs, t, "ents", &sp, &err), HK_OK);
    stamp = sp.stamp;
    assert_int_equal(hkv_space_find(vs, t, "facts", &sp, &err), HK_OK);
    assert_int_equal(sp.kind, HKV_KIND_FACT);
    assert_string_equal(sp.model, "");
    hk_txn_abort(t);

    /* the model can be set; clearing drops the vectors with a new stamp */
    t = tu_begin(s, true);
    assert_int_equal(hkv_space_set_model(vs, t, "ents", "complex-v2", &err),
                     HK_OK);
    assert_int_equal(hkv_space_clear(vs, t, "ents", "complex-v3", &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, false);
    assert_int_equal(hkv_space_get(vs, t, "ents", &sp, &err), HK_OK);
    hk_txn_abort(t);
    assert_string_equal(sp.model, "complex-v3");
    assert_int_equal(sp.vectors, 0);
    assert_true(sp.stamp != stamp);
    assert_int_equal(kept_search(vs, s, "ents", a, hit, 3), 0);
    hkv_store_detach(vs);
    tu_discard(s, restored);
    tu_rmrf(bak);
    free(bak);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_vectors_follow_facts),
        cmocka_unit_test(test_reopen_backup_and_index),
        cmocka_unit_test(test_kept_index),
        cmocka_unit_test(test_try_acquire),
        cmocka_unit_test(test_entity_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
