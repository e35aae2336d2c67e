/*
 * test_store_damage.c — a damaged data.mdb is refused at open with
 * HK_ERR_CORRUPT and a message naming the damage (opencheck.c), never
 * mapped: truncated and empty files, damaged meta pages, damaged B-tree
 * pages; and values read from pages are checked before use
 * (hks_val_sane). Each case damages a fresh copy of one small KB.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "test_store_util.h"

#define N_FACTS 3000u

static char *g_dir;    /* the undamaged KB */
static size_t g_size;  /* its data.mdb, bytes */
static uint32_t g_seq; /* copies made */

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir("damage");
    hk_store *s = tu_open(g_dir);
    hk_txn *t = tu_begin(s, true);
    for (uint32_t i = 0; i < N_FACTS; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "entity%u", i);
        snprintf(b, sizeof b, "other%u", i % 97);
        bool created;
        tu_add(t, tu_st("Rel", a, b, NULL), &created);
    }
    tu_commit(t);
    hk_store_close(s);
    char p[600];
    snprintf(p, sizeof p, "%s/data.mdb", g_dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    g_size = (size_t)sb.st_size;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

/* A copy of the KB (caller frees); *data gets its data.mdb path. */
static char *copy_kb(char *data, size_t n)
{
    char *d = malloc(700);
    assert_non_null(d);
    snprintf(d, 700, "%s-copy%u", g_dir, g_seq++);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", d, g_dir, d);
    assert_int_equal(system(cmd), 0);
    snprintf(data, n, "%s/data.mdb", d);
    return d;
}

static void patch(const char *path, long off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static uint64_t read_u64(const char *path, long off)
{
    uint64_t v = 0;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &v, sizeof v, off), (ssize_t)sizeof v);
    close(fd);
    return v;
}

/* Opening dir (read-only, then read-write) fails with HK_ERR_CORRUPT and a
 * message holding `needle` and the advice. */
static void expect_damaged(const char *dir, const char *needle)
{
    for (int rw = 0; rw < 2; rw++) {
        hk_store_options o = {0};
        o.read_only = rw == 0;
        o.create = rw == 1;
        o.map_size = 1ull << 30;
        hk_store *s = NULL;
        hk_error err;
        hk_error_clear(&err);
        hk_err e = hk_store_open(dir, &o, &s, &err);
        if (e != HK_ERR_CORRUPT || !strstr(err.message, needle) ||
            !strstr(err.message, "restore from a backup"))
            fprintf(stderr, "open (%s): %d %s\n", rw ? "rw" : "ro", e,
                    err.message);
        assert_int_equal(e, HK_ERR_CORRUPT);
        assert_non_null(strstr(err.message, needle));
        assert_non_null(strstr(err.message, "restore from a backup"));
        assert_null(s);
    }
}

/* The newest meta page's main root page number (LMDB 0.9 layout). */
static uint64_t main_root(const char *data)
{
    uint64_t txn0 = read_u64(data, 16 + 24 + 96 + 8);
    uint64_t txn1 = read_u64(data, 4096 + 16 + 24 + 96 + 8);
    long meta = txn1 > txn0 ? 4096 : 0;
    return read_u64(data, meta + 16 + 24 + 48 + 40);
}

static void test_undamaged_copy_opens(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    hk_store *s = tu_open(d);
    hk_txn *t = tu_begin(s, false);
    tu_check(t);
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(d);
    free(d);
}

static void test_truncated(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    assert_int_equal(truncate(data, (off_t)(g_size / 2)), 0);
    expect_damaged(d, "truncated");
    /* a single missing byte is enough */
    assert_int_equal(truncate(data, (off_t)g_size - 1), 0);
    expect_damaged(d, "truncated");
    tu_rmrf(d);
    free(d);
}

static void test_empty_file_is_not_a_kb(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    assert_int_equal(truncate(data, 0), 0);
    expect_damaged(d, "empty file");
    struct stat sb;
    assert_int_equal(stat(data, &sb), 0);
    assert_int_equal(sb.st_size, 0); /* no fresh KB written over it */
    tu_rmrf(d);
    free(d);
}

static void test_damaged_meta_pages(void **state)
{
    (void)state;
    static const struct {
        long off;           /* byte changed */
        uint8_t value;      /* new value */
        const char *needle; /* in the message */
    } cases[] = {
        {10, 0, "first meta page without the meta flag"},
        {4096 + 10, 0, "second meta page without the meta flag"},
        {16, 0x11, "first meta page without LMDB's magic"},
        {4096 + 20, 7, "second meta page of an unknown LMDB data version"},
        {16 + 24 + 1, 0x7f, "impossible page size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char data[800];
        char *d = copy_kb(data, sizeof data);
        patch(data, cases[i].off, &cases[i].value, 1);
        expect_damaged(d, cases[i].needle);
        tu_rmrf(d);
        free(d);
    }
    /* a root beyond the last page */
    char data[800];
    char *d = copy_kb(data, sizeof data);
    uint64_t far = 1u << 30;
    patch(data, 16 + 24 + 48 + 40, &far, sizeof far);
    patch(data, 4096 + 16 + 24 + 48 + 40, &far, sizeof far);
    expect_damaged(d, "root outside the file");
    tu_rmrf(d);
    free(d);
}

static void test_damaged_tree_pages(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    uint64_t root = main_root(data);
    assert_true(root >= 2 && root < g_size / 4096);
    /* the page header names another page */
    uint64_t wrong = root + 1;
    patch(data, (long)(root * 4096), &wrong, sizeof wrong);
    expect_damaged(d, "page carries another page number");
    tu_rmrf(d);
    free(d);

    /* a node offset beyond the page */
    d = copy_kb(data, sizeof data);
    uint16_t off = 0xfff0;
    patch(data, (long)(root * 4096 + 16), &off, sizeof off);
    expect_damaged(d, "node offset out of range");
    tu_rmrf(d);
    free(d);

    /* page bounds (lower above upper) */
    d = copy_kb(data, sizeof data);
    uint16_t lower = 4000;
    patch(data, (long)(root * 4096 + 12), &lower, sizeof lower);
    expect_damaged(d, "page bounds out of range");
    tu_rmrf(d);
    free(d);
}

static void test_no_permission(void **state)
{
    (void)state;
    if (geteuid() == 0) {
        fprintf(stderr, "skipped: root passes every permission check\n");
        return;
    }
    char data[800];
    char *d = copy_kb(data, sizeof data);
    assert_int_equal(chmod(d, 0), 0);
    hk_store_options o = {0};
    o.read_only = true;
    hk_store *s = NULL;
    hk_error err;
    hk_err e = hk_store_open(d, &o, &s, &err);
    assert_int_equal(chmod(d, 0755), 0);
    assert_int_equal(e, HK_ERR_IO);
    assert_non_null(strstr(err.message, "Permission denied"));
    tu_rmrf(d);
    free(d);
}

static void test_values_checked_against_their_page(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    hk_store *s = tu_open(d);
    hk_txn *t = tu_begin(s, false);
    HKS_SYM_ID_KEY(k, 1);
    MDB_val v;
    assert_int_equal(mdb_get(t->txn, s->db.sym_id, &k, &v), 0);
    assert_true(hks_val_sane(t, &v, HK_MAX_ARG_BYTES));
    MDB_val big = v;
    big.mv_size = HK_MAX_ARG_BYTES + 1; /* longer than any symbol */
    assert_false(hks_val_sane(t, &big, HK_MAX_ARG_BYTES));
    if (s->psize) { /* runs past the end of its page */
        big.mv_size = s->psize;
        assert_false(hks_val_sane(t, &big, (size_t)s->psize * 2));
    }
    hk_txn_abort(t);
    /* write transactions check lengths only (dirty pages are not mapped) */
    t = tu_begin(s, true);
    assert_true(hks_val_sane(t, &v, HK_MAX_ARG_BYTES));
    assert_false(hks_val_sane(t, &big, 16));
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(d);
    free(d);
}

/* A writer commits while another process opens the KB: the open check
 * runs outside any read transaction, so it may meet pages that the writer
 * reuses; it must never call a live KB damaged. The opener is a child
 * process (LMDB allows one environment per file per process), and the
 * writer thread reports failures through g_writer_failed rather than
 * asserting off the test's thread. */
static atomic_bool g_stop, g_writer_failed;

static void *writer(void *arg)
{
    hk_store *s = arg;
    hk_error err;
    for (uint32_t round = 0; !atomic_load(&g_stop) && round < 100000; round++) {
        hk_txn *t = NULL;
        if (hk_txn_begin(s, true, &t, &err)) goto failed;
        for (uint32_t i = 0; i < 50; i++) {
            char a[32], b[32];
            snprintf(a, sizeof a, "w%u", round);
            snprintf(b, sizeof b, "x%u", i);
            hk_statement st = tu_st("Live", a, b, NULL);
            hk_fact_id id;
            bool created;
            if (hk_store_add(t, &st, NULL, &id, &created, &err)) {
                hk_txn_abort(t);
                goto failed;
            }
        }
        if (round % 3 == 2) /* frees pages for the next commits */
            for (hk_fact_id id = 1; id <= 20; id++)
                hk_store_delete(t, id + round * 7, &err);
        if (hk_txn_commit(t, &err)) goto failed;
    }
    return NULL;
failed:
    fprintf(stderr, "writer: %s\n", err.message);
    atomic_store(&g_writer_failed, true);
    return NULL;
}

/* The child's part: 200 read-only opens; exit status 0 when all opened. */
static void open_repeatedly(const char *d, int go_fd)
{
    char x;
    if (read(go_fd, &x, 1) != 1) _exit(3); /* the writer is running */
    for (int i = 0; i < 200; i++) {
        hk_store_options o = {0};
        o.read_only = true;
        o.map_size = 1ull << 30;
        hk_store *s = NULL;
        hk_error err;
        hk_err e = hk_store_open(d, &o, &s, &err);
        if (e) {
            fprintf(stderr, "open %d: %s\n", i, err.message);
            _exit(1);
        }
        hk_store_close(s);
    }
    _exit(0);
}

static void test_open_while_writing(void **state)
{
    (void)state;
    char data[800];
    char *d = copy_kb(data, sizeof data);
    hk_store *w = tu_open(d);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork(); /* before the writer thread exists */
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        open_repeatedly(d, go[0]);
    }
    close(go[0]);
    pthread_t th;
    atomic_store(&g_stop, false);
    atomic_store(&g_writer_failed, false);
    assert_int_equal(pthread_create(&th, NULL, writer, w), 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = 0;
    pid_t waited = waitpid(pid, &status, 0);
    atomic_store(&g_stop, true);
    pthread_join(th, NULL);
    assert_int_equal(waited, pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(atomic_load(&g_writer_failed));
    hk_store_close(w);
    tu_rmrf(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_undamaged_copy_opens),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_empty_file_is_not_a_kb),
        cmocka_unit_test(test_damaged_meta_pages),
        cmocka_unit_test(test_damaged_tree_pages),
        cmocka_unit_test(test_no_permission),
        cmocka_unit_test(test_values_checked_against_their_page),
        cmocka_unit_test(test_open_while_writing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
