/*
 * test_store_upgrade.c — the covering adjacency (co-arguments of binary
 * facts in by_arg), the order-preserving code of statement keys, and the
 * upgrades of format 2 to 5 KBs to format 6 (format 4: an entity's
 * rows in chunk keys, argidx.c; format 5: stmt keys in hks_symkey_put's
 * code instead of LEB128 varints; format 6: a heavy entity's newest rows
 * in by_arg_tail).
 *
 * The oracle for every adjacency row is the fact's record
 * (hks_fact_syms_get): a row covers its fact exactly when the fact is
 * binary, and then the row's symbols are the record's. Older KBs are made
 * from a format 5 one with raw LMDB, byte for byte what those versions
 * wrote: formats 2 to 4 key `stmt` by LEB128 varints; format 3 has one
 * 4-byte key (the entity) per entity holding all of its 15-byte rows;
 * format 2 the same with rows cut to their first 11 bytes. An upgrade must
 * give the rows, the store check (chunk ranges, entity counter, every
 * statement key) and the fact digest of the KB it was made from.
 */
#include "test_store_util.h"

#include <lmdb.h>

#include "store/store.h"
#include "stream/stream.h"

#define N_ENT 60u
#define N_FACTS 3000u

/* Random facts of arity 1..4 over N_ENT entities and 5 predicates, with
 * repeated entities (P(a, a)) and deletions, so that every shape of row is
 * there. */
static void fill(hk_store *s)
{
    uint64_t seed = 9;
    char ent[HK_MAX_ARGS][16], pred[16];
    hk_txn *t = tu_begin(s, true);
    /* a heavy entity: its rows span many chunks */
    for (uint32_t i = 0; i < 700; i++) {
        char x[16];
        snprintf(x, sizeof x, "x%u", i);
        tu_add(t, tu_st(i % 3 ? "P1" : "P2", x, "e0", NULL), NULL);
    }
    for (uint32_t i = 0; i < N_FACTS; i++) {
        uint64_t r = tu_rand(&seed);
        uint32_t n = (r % 10) < 7 ? 2 : (uint32_t)(1 + (r >> 8) % 4);
        hk_statement st;
        memset(&st, 0, sizeof st);
        snprintf(pred, sizeof pred, "P%u", (unsigned)((r >> 16) % 5));
        st.predicate = pred;
        for (uint32_t k = 0; k < n; k++) {
            snprintf(ent[k], sizeof ent[k], "e%u",
                     (unsigned)(tu_rand(&seed) % N_ENT));
            st.args[k] = ent[k];
        }
        st.n_args = n;
        bool created;
        hk_fact_id id = tu_add(t, st, &created);
        if (i % 7 == 3) {
            hk_error err;
            assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
        }
    }
    tu_commit(t);
}

/* Every adjacency row of every entity against the records; returns the
 * number of rows and adds a checksum of them to *sum. */
static uint64_t check_rows(hk_store *s, uint64_t *sum)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    uint64_t rows = 0, covered = 0;
    for (uint32_t e = 0; e < N_ENT; e++) {
        char name[16];
        uint32_t sym;
        snprintf(name, sizeof name, "e%u", e);
        if (hks_sym_id(t, name, strlen(name), &sym, &err) != HK_OK) continue;
        hks_adj *a = NULL;
        assert_int_equal(hks_adj_open(t, sym, -1, 0, &a, &err), HK_OK);
        for (;;) {
            hks_adj_row row;
            bool has;
            assert_int_equal(hks_adj_next(a, &row, &has, &err), HK_OK);
            if (!has) break;
            hks_fact_syms rec, cov;
            assert_int_equal(hks_fact_syms_get(t, row.fact, &rec, &err), HK_OK);
            assert_int_equal(rec.pred, row.pred);
            assert_int_equal(rec.args[row.pos], sym);
            bool c = hks_adj_row_syms(&row, sym, &cov);
            assert_int_equal(c, rec.n_args == 2);
            if (c) {
                assert_int_equal(cov.n_args, 2);
                assert_int_equal(cov.pred, rec.pred);
                assert_int_equal(cov.args[0], rec.args[0]);
                assert_int_equal(cov.args[1], rec.args[1]);
                covered++;
            } else {
                assert_int_equal(row.co, 0);
            }
            *sum += row.fact * 31 + row.pos * 7 + row.pred + row.co * 131;
            rows++;
        }
        hks_adj_close(a);
    }
    tu_check(t);
    hk_txn_abort(t);
    assert_true(covered > 0 && covered < rows);
    return rows;
}

/* Raw LMDB: every stmt key re-coded as LEB128 varints (formats 2 to 4),
 * the code hks_varint_put still gives the values. */
static void stmt_to_leb128(MDB_txn *txn)
{
    MDB_dbi stmt;
    MDB_cursor *c;
    MDB_val k, d;
    assert_int_equal(mdb_dbi_open(txn, "stmt", 0, &stmt), 0);
    size_t n = 0, cap = 1024,
           width = HKS_STMT_KEY_MAX + 1 + HKS_STMT_VAL_MAX + 1;
    uint8_t *all = malloc(cap * width);
    assert_non_null(all);
    assert_int_equal(mdb_cursor_open(txn, stmt, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        if (n == cap) {
            cap *= 2;
            all = realloc(all, cap * width);
            assert_non_null(all);
        }
        uint8_t *e = all + n * width;
        size_t off = 0, len = 0;
        uint32_t v = 0;
        while (off < k.mv_size) {
            assert_true(hks_symkey_get(k.mv_data, k.mv_size, &off, &v));
            len += hks_varint_put(e + 1 + len, v);
        }
        e[0] = (uint8_t)len;
        assert_true(d.mv_size <= HKS_STMT_VAL_MAX);
        e[1 + HKS_STMT_KEY_MAX] = (uint8_t)d.mv_size;
        memcpy(e + 2 + HKS_STMT_KEY_MAX, d.mv_data, d.mv_size);
        n++;
    }
    mdb_cursor_close(c);
    assert_true(n > 0);
    assert_int_equal(mdb_drop(txn, stmt, 0), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = all + i * width;
        MDB_val ek = {e[0], e + 1};
        MDB_val ed = {e[1 + HKS_STMT_KEY_MAX], e + 2 + HKS_STMT_KEY_MAX};
        assert_int_equal(mdb_put(txn, stmt, &ek, &ed, MDB_NOOVERWRITE), 0);
    }
    free(all);
}

/* Raw LMDB: the tails' rows put into their entities' chunks and
 * by_arg_tail dropped (format 5), for version 2 to 4 stmt keys as LEB128
 * varints, for version 2 and 3 by_arg back to one key per entity with its
 * rows cut to dup_bytes (11: version 2, 15: version 3), and that schema
 * version. */
static void make_old(const char *dir, uint32_t version)
{
    size_t dup_bytes = version == 2 ? 11 : 15;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi arg, meta, tail;
    MDB_cursor *c, *tc;
    MDB_val k, d;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg", MDB_DUPSORT | MDB_DUPFIXED, &arg), 0);
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg_tail", MDB_DUPSORT | MDB_DUPFIXED, &tail), 0);
    assert_int_equal(mdb_cursor_open(txn, arg, &c), 0);
    assert_int_equal(mdb_cursor_open(txn, tail, &tc), 0);
    for (int rc = mdb_cursor_get(tc, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(tc, &k, &d, MDB_NEXT)) {
        bool fresh;
        assert_int_equal(k.mv_size, 4);
        assert_int_equal(hks_arg_put(c, hks_get_u32(k.mv_data), d.mv_data,
                                     hks_arg_chunk_rows(4096), &fresh),
                         0);
        assert_false(fresh);
    }
    mdb_cursor_close(tc);
    mdb_cursor_close(c);
    assert_int_equal(mdb_drop(txn, tail, 1), 0);
    if (version < 5) stmt_to_leb128(txn);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    if (version < 4) {
        size_t n = 0, cap = 1024;
        uint8_t *all = malloc(cap * 19);
        assert_non_null(all);
        assert_int_equal(mdb_cursor_open(txn, arg, &c), 0);
        for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            assert_true(k.mv_size == 4 || k.mv_size == 19);
            assert_int_equal(d.mv_size, 15);
            if (n == cap) {
                cap *= 2;
                all = realloc(all, cap * 19);
                assert_non_null(all);
            }
            memcpy(all + n * 19, k.mv_data, 4);
            memcpy(all + n * 19 + 4, d.mv_data, 15);
            n++;
        }
        mdb_cursor_close(c);
        assert_int_equal(mdb_drop(txn, arg, 0), 0);
        for (size_t i = 0; i < n; i++) {
            MDB_val ek = {4, all + i * 19}, ed = {dup_bytes, all + i * 19 + 4};
            assert_int_equal(mdb_put(txn, arg, &ek, &ed, 0), 0);
        }
        free(all);
    }
    uint8_t v[4] = {0, 0, 0, (uint8_t)version};
    MDB_val vk = {14, "schema_version"}, vd = {4, v};
    assert_int_equal(mdb_put(txn, meta, &vk, &vd, 0), 0);
    tu_raw_commit(env, txn);
}

/* The fact digest of `hakgal digest` and the data digest of verify, which
 * also checks every by_arg row against the records. */
static void digests(hk_store *s, hkst_digest *d, char data[65])
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_verify_report r;
    assert_int_equal(hkst_digest_get(s, t, d, &err), HK_OK);
    assert_int_equal(hk_store_verify_deep(t, &r, &err), HK_OK);
    if (!r.ok) fprintf(stderr, "verify: %s\n", r.problems[0]);
    assert_true(r.ok);
    memcpy(data, r.digest, 65);
    hk_txn_abort(t);
}

/* Entity counter and schema version of s. */
static void stats_of(hk_store *s, hk_stats *st)
{
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    assert_int_equal(hk_store_stats(t, st, &err), HK_OK);
    hk_txn_abort(t);
}

/* A new KB writes chunked covering rows; a copy of it in an older format
 * is refused read-only with the command that upgrades it, and upgraded by
 * a writable open to exactly the rows, entities and digests the new KB
 * had. */
static void upgrade_from(uint32_t version)
{
    char *dir = tu_tmpdir("upgrade");
    hk_store *s = tu_open(dir);
    fill(s);
    uint64_t sum_new = 0, sum_up = 0;
    uint64_t rows = check_rows(s, &sum_new);
    hkst_digest d_new, d_up;
    char data_new[65], data_up[65];
    hk_stats st_new, st_up;
    digests(s, &d_new, data_new);
    stats_of(s, &st_new);
    assert_int_equal(st_new.schema_version, HKS_SCHEMA_VERSION);
    hk_store_close(s);

    make_old(dir, version);
    hk_store_options ro = {0};
    ro.read_only = true;
    hk_error err;
    char want[32];
    snprintf(want, sizeof want, "version %u", version);
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, want));
    assert_non_null(strstr(err.message, "hakgal init --data"));

    s = tu_open(dir); /* writable: upgrades */
    assert_int_equal(check_rows(s, &sum_up), rows);
    assert_true(sum_up == sum_new);
    digests(s, &d_up, data_up);
    assert_string_equal(d_up.content, d_new.content);
    assert_int_equal(d_up.facts, d_new.facts);
    assert_string_equal(data_up, data_new);
    stats_of(s, &st_up);
    assert_int_equal(st_up.schema_version, HKS_SCHEMA_VERSION);
    assert_int_equal(st_up.entities, st_new.entities);
    assert_int_equal(st_up.facts, st_new.facts);
    /* the upgraded index takes writes and deletes like a new one */
    hk_txn *t = tu_begin(s, true);
    for (uint32_t i = 0; i < 300; i++) {
        char x[16];
        snprintf(x, sizeof x, "y%u", i);
        hk_fact_id id = tu_add(t, tu_st("P1", x, "e0", NULL), NULL);
        if (i % 4 == 1) assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
    }
    tu_check(t);
    tu_commit(t);
    hk_store_close(s);
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_OK);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

static void test_upgrade_v2(void **state)
{
    (void)state;
    upgrade_from(2);
}

static void test_upgrade_v3(void **state)
{
    (void)state;
    upgrade_from(3);
}

static void test_upgrade_v4(void **state)
{
    (void)state;
    upgrade_from(4);
}

/* Format 5 to 6 rewrites nothing: by_arg_tail is created empty. */
static void test_upgrade_v5(void **state)
{
    (void)state;
    upgrade_from(5);
}

/* A format 6 KB without by_arg_tail is damage, not a KB to upgrade; one of
 * a later format is refused. */
static void test_v6_tail_missing(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("notail");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    MDB_env *env;
    MDB_txn *txn = tu_raw_begin(dir, &env);
    MDB_dbi tail, meta;
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg_tail", MDB_DUPSORT | MDB_DUPFIXED, &tail), 0);
    assert_int_equal(mdb_drop(txn, tail, 1), 0);
    tu_raw_commit(env, txn);
    hk_store_options ro = {0};
    ro.read_only = true;
    hk_error err;
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, "by_arg_tail"));
    /* a later format: refused, also for writing */
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t v[4] = {0, 0, 0, HKS_SCHEMA_VERSION + 1};
    MDB_val vk = {14, "schema_version"}, vd = {4, v};
    assert_int_equal(mdb_put(txn, meta, &vk, &vd, 0), 0);
    tu_raw_commit(env, txn);
    assert_int_equal(hk_store_open(dir, NULL, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, "understands"));
    tu_rmrf(dir);
    free(dir);
}

/* Two records with one statement cannot both be in the rebuilt stmt
 * index: the upgrade names the fact and leaves the KB at its version. */
static void test_upgrade_duplicate_statement(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("updup");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id a = tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    hk_fact_id b = tu_add(t, tu_st("HasPart", "Computer", "RAM", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    make_old(dir, 4);
    MDB_env *env;
    MDB_txn *txn = tu_raw_begin(dir, &env);
    MDB_dbi fact;
    assert_int_equal(mdb_dbi_open(txn, "fact", MDB_INTEGERKEY, &fact), 0);
    size_t ka = (size_t)a, kb = (size_t)b;
    MDB_val k = {sizeof ka, &ka}, d;
    assert_int_equal(mdb_get(txn, fact, &k, &d), 0);
    uint8_t copy[256];
    assert_true(d.mv_size <= sizeof copy);
    memcpy(copy, d.mv_data, d.mv_size);
    MDB_val kb_val = {sizeof kb, &kb}, cd = {d.mv_size, copy};
    assert_int_equal(mdb_put(txn, fact, &kb_val, &cd, 0), 0);
    tu_raw_commit(env, txn);

    hk_error err;
    assert_int_equal(hk_store_open(dir, NULL, &s, &err), HK_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "has the statement of another fact"));
    assert_non_null(strstr(err.message, "stays at version 4"));
    hk_store_options ro = {0};
    ro.read_only = true;
    assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_ERR_VERSION);
    assert_non_null(strstr(err.message, "version 4"));
    tu_rmrf(dir);
    free(dir);
}

/* A damaged record stops the walk both rebuilds share (by_arg from 3,
 * stmt from 4): the upgrade names the fact and leaves the KB at its
 * version, rather than rebuild an index without it. */
static void test_upgrade_damaged_record(void **state)
{
    (void)state;
    for (uint32_t version = 3; version <= 4; version++) {
        char *dir = tu_tmpdir("updamaged");
        hk_store *s = tu_open(dir);
        hk_txn *t = tu_begin(s, true);
        tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
        hk_fact_id b =
            tu_add(t, tu_st("HasPart", "Computer", "RAM", NULL), NULL);
        tu_add(t, tu_st("HasPart", "Computer", "Disk", NULL), NULL);
        tu_commit(t);
        hk_store_close(s);
        make_old(dir, version);
        MDB_env *env;
        MDB_txn *txn = tu_raw_begin(dir, &env);
        MDB_dbi fact;
        assert_int_equal(mdb_dbi_open(txn, "fact", MDB_INTEGERKEY, &fact), 0);
        size_t kb = (size_t)b;
        uint8_t junk[3] = {0xff, 0xff, 0xff};
        MDB_val k = {sizeof kb, &kb}, d = {sizeof junk, junk};
        assert_int_equal(mdb_put(txn, fact, &k, &d, 0), 0);
        tu_raw_commit(env, txn);

        hk_error err;
        char want[64];
        assert_int_equal(hk_store_open(dir, NULL, &s, &err), HK_ERR_CORRUPT);
        snprintf(want, sizeof want, "fact %llu has a damaged record",
                 (unsigned long long)b);
        assert_non_null(strstr(err.message, want));
        snprintf(want, sizeof want, "stays at version %u", version);
        assert_non_null(strstr(err.message, want));
        hk_store_options ro = {0};
        ro.read_only = true;
        assert_int_equal(hk_store_open(dir, &ro, &s, &err), HK_ERR_VERSION);
        tu_rmrf(dir);
        free(dir);
    }
}

/* The statement key code: round trip, memcmp order equal to numeric
 * order, no code a prefix of another, and cut or over-long codes refused. */
static void test_symkey_code(void **state)
{
    (void)state;
    const uint32_t vals[] = {0,
                             1,
                             2,
                             127,
                             128,
                             129,
                             255,
                             256,
                             16383,
                             16384,
                             (1u << 21) - 1,
                             1u << 21,
                             (1u << 28) - 1,
                             1u << 28,
                             0x7fffffffu,
                             0xfffffffeu,
                             0xffffffffu};
    const size_t want_len[] = {1, 1, 1, 1, 2, 2, 2, 2, 2,
                               3, 3, 4, 4, 5, 5, 5, 5};
    size_t n = sizeof vals / sizeof vals[0];
    uint8_t code[sizeof vals / sizeof vals[0]][5];
    size_t len[sizeof vals / sizeof vals[0]];
    for (size_t i = 0; i < n; i++) {
        len[i] = hks_symkey_put(code[i], vals[i]);
        assert_int_equal(len[i], want_len[i]);
        size_t off = 0;
        uint32_t v = 0;
        assert_true(hks_symkey_get(code[i], len[i], &off, &v));
        assert_int_equal(off, len[i]);
        assert_int_equal(v, vals[i]);
        if (vals[i] >= 1) assert_true(code[i][0] != 0);
        for (size_t cut = 0; cut < len[i]; cut++) { /* cut short */
            off = 0;
            assert_false(hks_symkey_get(code[i], cut, &off, &v));
        }
    }
    for (size_t i = 0; i + 1 < n; i++) {
        size_t m = len[i] < len[i + 1] ? len[i] : len[i + 1];
        assert_true(memcmp(code[i], code[i + 1], m) < 0); /* order, no prefix */
    }
    /* pseudo-random pairs keep the order too */
    uint64_t seed = 5;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = (uint32_t)(tu_rand(&seed) >> (tu_rand(&seed) % 32));
        uint32_t y = (uint32_t)(tu_rand(&seed) >> (tu_rand(&seed) % 32));
        uint8_t cx[5], cy[5];
        size_t lx = hks_symkey_put(cx, x), ly = hks_symkey_put(cy, y);
        int c = memcmp(cx, cy, lx < ly ? lx : ly);
        if (x == y)
            assert_true(c == 0 && lx == ly);
        else
            assert_true(c != 0 && (c < 0) == (x < y));
    }
    /* not the shortest code of its value, and a first byte of no code */
    const uint8_t longer[][5] = {{0x80, 0x05},
                                 {0xC0, 0x00, 0x7f},
                                 {0xE0, 0x00, 0x3f, 0xff},
                                 {0xF0, 0x0f, 0xff, 0xff, 0xff}};
    const size_t longer_len[] = {2, 3, 4, 5};
    for (size_t i = 0; i < 4; i++) {
        size_t off = 0;
        uint32_t v;
        assert_false(hks_symkey_get(longer[i], longer_len[i], &off, &v));
        assert_int_equal(off, 0);
    }
    const uint8_t bad[5] = {0xF8, 0, 0, 0, 0};
    size_t off = 0;
    uint32_t v;
    assert_false(hks_symkey_get(bad, 5, &off, &v));
}

/* A wrong co-argument is damage the validator names: joins would read it
 * instead of the record. */
static void test_check_wrong_coarg(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("coarg");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("HasPart", "Computer", "CPU", NULL), NULL);
    tu_commit(t);
    hk_store_close(s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi arg;
    MDB_cursor *c;
    MDB_val k, d;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(
        mdb_dbi_open(txn, "by_arg", MDB_DUPSORT | MDB_DUPFIXED, &arg), 0);
    assert_int_equal(mdb_cursor_open(txn, arg, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &d, MDB_FIRST), 0);
    uint8_t key[19], dup[15];
    size_t key_len = k.mv_size;
    assert_true(key_len == 4 || key_len == 19);
    memcpy(key, k.mv_data, key_len);
    memcpy(dup, d.mv_data, 15);
    assert_int_equal(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    dup[14] ^= 1; /* another symbol id as co-argument */
    MDB_val nk = {key_len, key}, nd = {15, dup};
    assert_int_equal(mdb_put(txn, arg, &nk, &nd, 0), 0);
    tu_raw_commit(env, txn);

    s = tu_open(dir);
    t = tu_begin(s, false);
    tu_check_fails(t, "by_arg");
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* hks_pred_walk gives every fact of a predicate once, in id order (by key:
 * in the order of the argument symbol ids, a shorter tuple before the
 * longer ones it begins), with the record's symbols, across several pages of
 * ids, after deletions, and sees the writes of its own transaction. */
static void test_pred_walk(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("predwalk");
    hk_store *s = tu_open(dir);
    fill(s);
    hk_txn *t = tu_begin(s, true);
    char a[16], b[16];
    for (uint32_t i = 0; i < 3000; i++) { /* > 1 page of by_pred ids */
        snprintf(a, sizeof a, "x%u", i);
        snprintf(b, sizeof b, "y%u", i % 17);
        tu_add(t, i % 3 ? tu_st("Big", a, b, NULL) : tu_st("Big", a, NULL),
               NULL);
    }
    hk_error err;
    for (uint32_t p = 0; p < 6; p++) {
        char name[8];
        snprintf(name, sizeof name, p < 5 ? "P%u" : "Big", p);
        uint32_t pred;
        assert_int_equal(hks_sym_id(t, name, strlen(name), &pred, &err), HK_OK);
        uint64_t want = 0, n = 0;
        assert_int_equal(hks_pred_count(t, pred, &want, &err), HK_OK);
        hks_pred_walk *w = NULL;
        assert_int_equal(hks_pred_open(t, pred, HKS_PRED_BY_ID, &w, &err),
                         HK_OK);
        hk_fact_id last = 0;
        for (;;) {
            hk_fact_id id;
            hks_fact_syms fs, rec;
            bool has;
            assert_int_equal(hks_pred_next(w, &id, &fs, &has, &err), HK_OK);
            if (!has) break;
            assert_true(id > last);
            last = id;
            assert_int_equal(hks_fact_syms_get(t, id, &rec, &err), HK_OK);
            assert_int_equal(fs.pred, pred);
            assert_int_equal(fs.n_args, rec.n_args);
            assert_memory_equal(fs.args, rec.args,
                                rec.n_args * sizeof rec.args[0]);
            n++;
        }
        hks_pred_close(w);
        assert_int_equal(n, want);
        assert_true(n > 0);
        if (p == 5) assert_int_equal(n, 3000);
        /* by key: the same facts (each once, symbols as the records) */
        assert_int_equal(hks_pred_open(t, pred, HKS_PRED_BY_KEY, &w, &err),
                         HK_OK);
        uint8_t *seen = calloc((size_t)last + 1, 1);
        assert_non_null(seen);
        uint64_t nk = 0;
        hks_fact_syms prev = {0};
        for (;;) {
            hk_fact_id id;
            hks_fact_syms fs, rec;
            bool has;
            assert_int_equal(hks_pred_next(w, &id, &fs, &has, &err), HK_OK);
            if (!has) break;
            if (nk > 0) {
                uint32_t m = prev.n_args < fs.n_args ? prev.n_args : fs.n_args;
                uint32_t j = 0;
                while (j < m && prev.args[j] == fs.args[j])
                    j++;
                assert_true(j < m ? prev.args[j] < fs.args[j]
                                  : prev.n_args < fs.n_args);
            }
            prev = fs;
            assert_true(id >= 1 && id <= last);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            assert_int_equal(hks_fact_syms_get(t, id, &rec, &err), HK_OK);
            assert_int_equal(fs.pred, pred);
            assert_int_equal(fs.n_args, rec.n_args);
            assert_memory_equal(fs.args, rec.args,
                                rec.n_args * sizeof rec.args[0]);
            nk++;
        }
        hks_pred_close(w);
        free(seen);
        assert_int_equal(nk, want);
    }
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_v2),
        cmocka_unit_test(test_upgrade_v3),
        cmocka_unit_test(test_upgrade_v4),
        cmocka_unit_test(test_upgrade_v5),
        cmocka_unit_test(test_v6_tail_missing),
        cmocka_unit_test(test_upgrade_duplicate_statement),
        cmocka_unit_test(test_upgrade_damaged_record),
        cmocka_unit_test(test_symkey_code),
        cmocka_unit_test(test_check_wrong_coarg),
        cmocka_unit_test(test_pred_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
