/*
 * test_store_util.h — helpers shared by the store unit tests: scratch KB
 * directories under $HK_TEST_TMP, statement building and small asserts.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hakgal.h"
#include "store/store_int.h" /* hks_store_check */

/* A fresh empty directory path (not created) under $HK_TEST_TMP. */
static inline char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("HK_TEST_TMP");
    char tmpl[512];
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpl, sizeof tmpl, "%s/store-%s-XXXXXX", base, tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tu_rmrf(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* The end of a scratch KB: closes s, removes dir (from tu_tmpdir) and
 * frees its path. */
static inline void tu_discard(hk_store *s, char *dir)
{
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

static inline hk_store *tu_open(const char *dir)
{
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_error err;
    o.create = true;
    o.no_sync = true;
    o.map_size = 1ull << 30;
    hk_err e = hk_store_open(dir, &o, &s, &err);
    if (e) fprintf(stderr, "open: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return s;
}

/* Another process holding dir open (LMDB allows one environment per file
 * per process, so a second user must be a process). The child opens the
 * KB, says so, and keeps it open until tu_release_child; returns its pid
 * and the pipe end whose closing releases it in *release_fd. */
static inline pid_t tu_hold_in_child(const char *dir, int *release_fd)
{
    int go[2], ready[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        hk_store_options o = {0};
        hk_store *s = NULL;
        hk_error err;
        o.no_sync = true;
        o.map_size = 1ull << 30;
        hk_err e = hk_store_open(dir, &o, &s, &err);
        if (e) fprintf(stderr, "child open: %s\n", err.message);
        char c = e ? 'n' : 'y', x;
        if (write(ready[1], &c, 1) != 1) _exit(2);
        while (read(go[0], &x, 1) > 0) /* until the parent closes */
            ;
        hk_store_close(s);
        _exit(e ? 1 : 0);
    }
    close(go[0]);
    close(ready[1]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(c, 'y');
    *release_fd = go[1];
    return pid;
}

/* Lets the child of tu_hold_in_child close the KB and exit; checks that
 * it exited cleanly. */
static inline void tu_release_child(pid_t pid, int release_fd)
{
    int status = 0;
    close(release_fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static inline hk_txn *tu_begin(hk_store *s, bool write)
{
    hk_txn *t = NULL;
    hk_error err;
    hk_err e = hk_txn_begin(s, write, &t, &err);
    if (e) fprintf(stderr, "begin: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return t;
}

static inline void tu_commit(hk_txn *t)
{
    hk_error err;
    hk_err e = hk_txn_commit(t, &err);
    if (e) fprintf(stderr, "commit: %s\n", err.message);
    assert_int_equal(e, HK_OK);
}

/* Builds a caller-owned statement from a predicate and NULL-ended args. */
static inline hk_statement tu_st(const char *pred, ...)
{
    hk_statement st;
    va_list ap;
    memset(&st, 0, sizeof st);
    st.predicate = pred;
    va_start(ap, pred);
    const char *a;
    while ((a = va_arg(ap, const char *)) && st.n_args < HK_MAX_ARGS)
        st.args[st.n_args++] = a;
    va_end(ap);
    return st;
}

static inline hk_fact_id tu_add(hk_txn *t, hk_statement st, bool *created)
{
    hk_fact_id id = 0;
    hk_error err;
    hk_err e = hk_store_add(t, &st, NULL, &id, created, &err);
    if (e) fprintf(stderr, "add: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    assert_true(id > 0);
    return id;
}

/* Asserts that every index and counter agrees with the facts. */
static inline void tu_check(hk_txn *t)
{
    bool ok = false;
    char why[256];
    hk_error err;
    hk_err e = hks_store_check(t, &ok, why, sizeof why, &err);
    if (e) fprintf(stderr, "check: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    if (!ok) fprintf(stderr, "check: %s\n", why);
    assert_true(ok);
}

/* Asserts that the store's own check finds damage and that its reason
 * names want (a database, a counter). */
static inline void tu_check_fails(hk_txn *t, const char *want)
{
    bool ok = true;
    char why[256];
    hk_error err;
    assert_int_equal(hks_store_check(t, &ok, why, sizeof why, &err), HK_OK);
    assert_false(ok);
    if (!strstr(why, want)) fprintf(stderr, "check: %s\n", why);
    assert_non_null(strstr(why, want));
}

/* Raw LMDB access to the closed KB at dir, for tests that damage it or
 * write what an older version wrote: a write transaction, its
 * environment in *env. */
static inline MDB_txn *tu_raw_begin(const char *dir, MDB_env **env)
{
    MDB_txn *txn;
    assert_int_equal(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 32);
    assert_int_equal(mdb_env_open(*env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, 0, &txn), 0);
    return txn;
}

static inline void tu_raw_commit(MDB_env *env, MDB_txn *txn)
{
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A scratch KB for the service tests: its directory and open store. */
typedef struct tu_scratch {
    char *dir;   /* scratch directory (tu_tmpdir) */
    hk_store *s; /* open store */
} tu_scratch;

static inline tu_scratch tu_scratch_open(const char *tag)
{
    tu_scratch k;
    k.dir = tu_tmpdir(tag);
    k.s = tu_open(k.dir);
    return k;
}

/* Checks the store's consistency, then closes it and removes the
 * directory. */
static inline void tu_scratch_close(tu_scratch *k)
{
    hk_txn *t = tu_begin(k->s, false);
    tu_check(t);
    hk_txn_abort(t);
    tu_discard(k->s, k->dir);
}

/* One step of q: true with *f filled, false at its end. An error fails
 * the test: a loop over a query must not end early and silently. Main
 * thread only (cmocka's asserts); threads count errors instead. */
static inline bool tu_next(hk_query *q, hk_fact *f)
{
    bool has = false;
    hk_error err;
    hk_err e = hk_query_next(q, f, &has, &err);
    if (e) fail_msg("hk_query_next: %s", err.message);
    return has;
}

/* tu_next for ids only (hk_query_next_id). */
static inline bool tu_next_id(hk_query *q, hk_fact_id *id)
{
    bool has = false;
    hk_error err;
    hk_err e = hk_query_next_id(q, id, &has, &err);
    if (e) fail_msg("hk_query_next_id: %s", err.message);
    return has;
}

static inline uint64_t tu_rand(uint64_t *s)
{
    /* splitmix64: deterministic across runs */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
