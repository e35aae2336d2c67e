/*
 * test_store_wal.c — the store's write-ahead log (wal.c).
 *
 *  - format: header and record encoding, and every kind of bad tail
 *    (torn, short, garbled, left over from another epoch);
 *  - replay: a writer process killed with SIGKILL at a random point; the
 *    recovery must give every acknowledged group, with the data digest
 *    and audit head of a reference KB that ran the same groups without
 *    the log;
 *  - power loss: the killed writer copied data.mdb at each checkpoint
 *    right after its sync (the durable image); the file a power loss
 *    could leave is built page by page from either the durable image or
 *    the file as the writer left it, meta pages included; the recovery
 *    must still give every acknowledged group, a clean deep verification,
 *    an intact audit chain and the reference's digests;
 *  - a torn and a garbled last record stop the replay at the last whole
 *    record, and the report says which.
 *
 * A group here is a list of fact numbers; fact k is rel(e<k>, e<k*7 % 97>)
 * plus, for every fifth k, a second fact, so groups create symbols and
 * touch the indexes like the server's writes. The same function applies a
 * group when it is written and when it is replayed.
 */
#include "test_store_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/wal.h"

#define FACTS_PER_GROUP 6u
#define GROUPS_MAX 400u

static uint64_t g_log_bytes;   /* the ring's size (0: the default) */
static uint64_t g_ckpt_bytes;  /* checkpoint by bytes (0: the default) */
static uint32_t g_plain_at[2]; /* groups the child commits without a
                                  record (0: none) */

/* ==== Groups ==== */

typedef struct group_rec {
    int64_t clock;               /* the group's time */
    uint32_t n;                  /* fact numbers in it */
    uint32_t k[FACTS_PER_GROUP]; /* the numbers */
} group_rec;

static group_rec group_of(uint32_t g)
{
    group_rec r;
    memset(&r, 0, sizeof r);
    r.clock = 1700000000000000LL + (int64_t)g * 1000;
    r.n = FACTS_PER_GROUP;
    for (uint32_t i = 0; i < r.n; i++)
        r.k[i] = g * FACTS_PER_GROUP + i;
    return r;
}

static hk_err apply_group(hk_txn *t, const group_rec *r, hk_error *err)
{
    hks_txn_set_clock(t, r->clock);
    for (uint32_t i = 0; i < r->n; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "e%u", r->k[i]);
        snprintf(b, sizeof b, "e%u", (r->k[i] * 7u) % 97u);
        hk_statement st = tu_st("rel", a, b, NULL);
        hk_fact_id id;
        bool created;
        hk_err e = hk_store_add(t, &st, NULL, &id, &created, err);
        if (e) return e;
        if (r->k[i] % 5 == 0) {
            hk_statement st2 = tu_st("tag", a, NULL);
            if ((e = hk_store_add(t, &st2, NULL, &id, &created, err))) return e;
        }
    }
    return HK_OK;
}

static hk_err replay_group(void *ud, hk_txn *t, const void *rec, size_t len,
                           hk_error *err)
{
    (void)ud;
    group_rec r;
    if (len != sizeof r)
        return hk_error_set(err, HK_ERR_CORRUPT, "bad test record");
    memcpy(&r, rec, sizeof r);
    return apply_group(t, &r, err);
}

static uint64_t facts_after(uint32_t groups)
{
    uint64_t n = 0;
    for (uint32_t g = 0; g < groups; g++)
        for (uint32_t i = 0; i < FACTS_PER_GROUP; i++)
            n += (g * FACTS_PER_GROUP + i) % 5 == 0 ? 2 : 1;
    return n;
}

/* Opens dir with the log on and starts it (replaying what it holds);
 * usable in a forked child, so it reports instead of asserting. */
static hk_err start_wal(const char *dir, uint32_t ckpt_ms, hks_wal_report *rep,
                        hk_store **out, hk_error *err)
{
    hk_store_options o = {0};
    o.create = true;
    o.wal = true;
    o.map_size = 1ull << 30;
    *out = NULL;
    hk_err e = hk_store_open(dir, &o, out, err);
    if (e) return e;
    hks_wal_options wo = {.replay = replay_group,
                          .checkpoint_ms = ckpt_ms,
                          .checkpoint_bytes = g_ckpt_bytes,
                          .log_bytes = g_log_bytes};
    e = hks_wal_start(*out, &wo, rep, err);
    if (e) {
        hk_store_close(*out);
        *out = NULL;
    }
    return e;
}

static hk_store *open_wal(const char *dir, hks_wal_report *rep)
{
    hk_store *s = NULL;
    hk_error err;
    hk_err e = start_wal(dir, 20, rep, &s, &err);
    if (e) fprintf(stderr, "open with the log: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return s;
}

/* ==== Format ==== */

static void test_header_roundtrip(void **state)
{
    (void)state;
    hks_wal_header h, back;
    memset(&h, 0, sizeof h);
    h.seq = 7;
    h.flags = HKS_WAL_CLEAN;
    h.psize = 4096;
    h.epoch = 3;
    h.start = HKS_WAL_DATA_OFF + 100;
    h.ckpt_txnid = 42;
    for (unsigned i = 0; i < HKS_WAL_META_BYTES; i++)
        h.meta[i] = (uint8_t)(i * 13);
    uint8_t b[HKS_WAL_HDR_BYTES];
    const char *why = NULL;
    hks_wal_header_encode(&h, b);
    assert_true(hks_wal_header_decode(b, &back, &why));
    assert_int_equal(back.seq, 7);
    assert_int_equal(back.flags, HKS_WAL_CLEAN);
    assert_int_equal(back.psize, 4096);
    assert_int_equal(back.epoch, 3);
    assert_int_equal(back.start, HKS_WAL_DATA_OFF + 100);
    assert_int_equal(back.ckpt_txnid, 42);
    assert_memory_equal(back.meta, h.meta, HKS_WAL_META_BYTES);
    /* any flipped byte is caught */
    for (unsigned i = 0; i < HKS_WAL_HDR_BYTES; i += 17) {
        b[i] ^= 0x40;
        assert_false(hks_wal_header_decode(b, &back, &why));
        b[i] ^= 0x40;
    }
    uint8_t zero[HKS_WAL_HDR_BYTES] = {0};
    assert_false(hks_wal_header_decode(zero, &back, &why));
    assert_string_equal(why, "no header");
}

static void test_record_tails(void **state)
{
    (void)state;
    uint8_t buf[256];
    const char payload[] = "a logged group";
    uint32_t len = (uint32_t)sizeof payload;
    memset(buf, 0, sizeof buf);
    hks_wal_rec_header(buf, 5, 99, payload, len);
    memcpy(buf + HKS_WAL_REC_HDR, payload, len);
    size_t whole = HKS_WAL_REC_HDR + len;
    hks_wal_rec r;
    assert_int_equal(hks_wal_rec_check(buf, whole, 5, &r), HKS_WAL_REC_OK);
    assert_int_equal(r.txnid, 99);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.data, payload, len);
    /* cut anywhere inside: short */
    for (size_t cut = 1; cut < whole; cut++)
        assert_int_equal(hks_wal_rec_check(buf, cut, 5, &r), HKS_WAL_REC_SHORT);
    /* a flipped bit anywhere: garbled (or, in the epoch, left over) */
    for (size_t i = 0; i < whole; i++) {
        buf[i] ^= 0x01;
        hks_wal_tail k = hks_wal_rec_check(buf, whole, 5, &r);
        if (i >= 8 && i < 16)
            assert_int_equal(k, HKS_WAL_REC_END); /* another epoch */
        else if (i >= 4 && i < 8)
            assert_true(k == HKS_WAL_REC_SHORT || k == HKS_WAL_REC_GARBLED);
        else
            assert_int_equal(k, HKS_WAL_REC_GARBLED);
        buf[i] ^= 0x01;
    }
    /* never written, and the previous epoch's record */
    uint8_t zero[64] = {0};
    assert_int_equal(hks_wal_rec_check(zero, sizeof zero, 5, &r),
                     HKS_WAL_REC_END);
    assert_int_equal(hks_wal_rec_check(buf, whole, 6, &r), HKS_WAL_REC_END);
    assert_int_equal(hks_wal_rec_check(buf, 0, 5, &r), HKS_WAL_REC_END);
    /* CRC-32C check value */
    assert_int_equal(hks_crc32c(0, "123456789", 9), 0xE3069283u);
}

/* ==== A writer killed mid-run ==== */

static const char *g_snapshot; /* durable image path (child only) */
static uint32_t g_compact_at;  /* group before which the child compacts
                                  online (0: never) */
static uint32_t g_register_at; /* group before which the child registers a
                                  module database (0: never) */

/* Copies data.mdb to g_snapshot (temporary file + rename, so the image
 * is always a whole one). */
static void snapshot_hook(hk_store *s, const char *data_path)
{
    (void)s;
    char tmp[1100], cmd[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", g_snapshot);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'", data_path, tmp,
             tmp, g_snapshot);
    if (system(cmd) != 0) _exit(3);
}

/* Runs groups 0.. in a child with the log until killed; returns the
 * number of groups acknowledged (committed and synced) before the kill
 * after `kill_after` acknowledgements, or all `groups` (then waits to be
 * killed). */
static uint32_t run_and_kill(const char *dir, const char *snapshot,
                             uint32_t groups, uint32_t kill_after,
                             uint32_t ckpt_ms)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        g_snapshot = snapshot;
        if (snapshot) hks_wal_test_synced = snapshot_hook;
        hk_store *s = NULL;
        hk_error err;
        if (start_wal(dir, ckpt_ms, NULL, &s, &err)) {
            fprintf(stderr, "child: %s\n", err.message);
            _exit(2);
        }
        for (uint32_t g = 0; g < groups; g++) {
            hk_txn *t = NULL;
            group_rec r = group_of(g);
            hk_compact_report cr;
            if (g_compact_at && g == g_compact_at &&
                hk_store_compact_online(s, &cr, &err)) {
                fprintf(stderr, "child: compact: %s\n", err.message);
                _exit(2);
            }
            hks_db late;
            if (g_register_at && g == g_register_at &&
                hks_db_register(s, "test.late", 0, &late, &err)) {
                fprintf(stderr, "child: register: %s\n", err.message);
                _exit(2);
            }
            if (hk_txn_begin(s, true, &t, &err) || apply_group(t, &r, &err)) {
                fprintf(stderr, "child: %s\n", err.message);
                _exit(2);
            }
            /* a commit without a record is synced and checkpoints */
            if (g != g_plain_at[0] && g != g_plain_at[1])
                hks_txn_set_wal(t, &r, sizeof r);
            if (hk_txn_commit(t, &err) || hk_store_sync(s, &err)) {
                fprintf(stderr, "child: %s\n", err.message);
                _exit(2);
            }
            if (write(p[1], &g, sizeof g) != (ssize_t)sizeof g) _exit(2);
        }
        for (;;)
            pause(); /* never closed: the kill is the end */
    }
    close(p[1]);
    uint32_t acked = 0, g;
    while (acked < kill_after && read(p[0], &g, sizeof g) == sizeof g)
        acked = g + 1;
    kill(pid, SIGKILL);
    /* acknowledgements already sent before the kill count too */
    while (read(p[0], &g, sizeof g) == sizeof g)
        acked = g + 1;
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(p[0]);
    return acked;
}

typedef struct kb_state {
    uint64_t facts;     /* facts stored */
    uint64_t audit_seq; /* audit head */
    uint8_t audit_hash[32];
    uint64_t digest[4]; /* the data digest kept in meta */
    char deep[65];      /* the recomputed digest (verify --deep) */
} kb_state;

/* Reads s's state; checks the deep verification, the audit chain and
 * every index. */
static kb_state state_of(hk_store *s)
{
    kb_state k;
    memset(&k, 0, sizeof k);
    hk_txn *t = tu_begin(s, true);
    hks_counters c;
    hk_error err;
    assert_int_equal(hks_txn_load_counters(t, &c, &err), HK_OK);
    hk_txn_abort(t);
    k.facts = c.facts;
    k.audit_seq = c.audit_seq;
    memcpy(k.audit_hash, c.audit_hash, 32);
    memcpy(k.digest, c.digest, sizeof k.digest);
    t = tu_begin(s, false);
    hk_verify_report vr;
    assert_int_equal(hk_store_verify_deep(t, &vr, &err), HK_OK);
    if (!vr.ok) fprintf(stderr, "verify: %s\n", vr.problems[0]);
    assert_true(vr.ok);
    memcpy(k.deep, vr.digest, sizeof k.deep);
    hk_audit_report ar;
    assert_int_equal(hk_audit_verify(t, &ar, &err), HK_OK);
    assert_true(ar.ok);
    tu_check(t);
    hk_txn_abort(t);
    return k;
}

/* The reference: groups 0..n-1 on a fresh KB without the log. */
static kb_state reference(uint32_t n)
{
    char *dir = tu_tmpdir("walref");
    hk_store *s = tu_open(dir);
    for (uint32_t g = 0; g < n; g++) {
        hk_txn *t = tu_begin(s, true);
        group_rec r = group_of(g);
        hk_error err;
        assert_int_equal(apply_group(t, &r, &err), HK_OK);
        tu_commit(t);
    }
    kb_state k = state_of(s);
    tu_discard(s, dir);
    return k;
}

static void assert_same(const kb_state *a, const kb_state *b)
{
    assert_int_equal(a->facts, b->facts);
    assert_int_equal(a->audit_seq, b->audit_seq);
    assert_memory_equal(a->audit_hash, b->audit_hash, 32);
    assert_memory_equal(a->digest, b->digest, sizeof a->digest);
    assert_string_equal(a->deep, b->deep);
}

/* Recovers dir and checks it against the reference; returns the groups
 * it holds (at least acked). */
static uint32_t recover_and_check(const char *dir, uint32_t acked,
                                  hks_wal_report *rep)
{
    hk_store *s = open_wal(dir, rep);
    assert_true(rep->recovered);
    kb_state got = state_of(s);
    hk_store_close(s);
    uint32_t n = 0;
    while (n < GROUPS_MAX && facts_after(n) < got.facts)
        n++;
    assert_int_equal(facts_after(n), got.facts); /* whole groups only */
    if (n < acked)
        fprintf(stderr, "recovered %u groups, %u acknowledged (%s)\n", n, acked,
                rep->tail);
    assert_true(n >= acked);
    kb_state want = reference(n);
    assert_same(&got, &want);
    /* a clean close: the next open has nothing to recover */
    hks_wal_report again;
    s = open_wal(dir, &again);
    assert_false(again.recovered);
    hk_store_close(s);
    return n;
}

static void test_kill_and_replay(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 3; round++) {
        char *dir = tu_tmpdir("walkill");
        uint32_t kill_after = 20 + (uint32_t)(rand() % 100);
        /* no checkpoint after the first: every group is replayed */
        uint32_t acked =
            run_and_kill(dir, NULL, GROUPS_MAX, kill_after, 600000);
        assert_true(acked >= kill_after);
        /* readers and other writers are refused until it is replayed */
        hk_store_options ro = {0};
        hk_store *other = NULL;
        hk_error err;
        assert_int_equal(hk_store_open(dir, &ro, &other, &err), HK_ERR_STATE);
        hks_wal_report rep;
        uint32_t n = recover_and_check(dir, acked, &rep);
        assert_true(rep.records > 0);
        assert_true(n >= acked);
        tu_rmrf(dir);
        free(dir);
    }
}

/* A module database registered while the log runs (its own synced LMDB
 * commit, outside hk_txn) becomes a checkpoint, so the records after it
 * replay without a gap in the txn ids. */
static void test_module_db_mid_log(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("walreg");
    g_register_at = 10;
    uint32_t acked = run_and_kill(dir, NULL, GROUPS_MAX, 30, 600000);
    g_register_at = 0;
    assert_true(acked >= 30);
    hks_wal_report rep;
    uint32_t n = recover_and_check(dir, acked, &rep);
    assert_true(rep.records > 0);
    assert_true(n >= acked);
    hk_store_options o = {0};
    hk_store *s = NULL;
    hk_error err;
    assert_int_equal(hk_store_open(dir, &o, &s, &err), HK_OK);
    hks_db late;
    assert_int_equal(hks_db_find(s, "test.late", &late, &err), HK_OK);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

/* Copies file from to to. */
static void copy_file(const char *from, const char *to)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Writes the file a power loss could leave: every 4 KiB page from the
 * durable image or from the file as the process left it, at random (a
 * page the chosen file lacks is zeros: never written). */
static void mix_pages(const char *durable, const char *current, const char *out,
                      unsigned seed)
{
    size_t nd, nc;
    uint8_t *d = slurp(durable, &nd), *c = slurp(current, &nc);
    size_t n = nd > nc ? nd : nc;
    uint8_t *m = calloc(1, n);
    assert_non_null(m);
    srand(seed);
    for (size_t off = 0; off < n; off += 4096) {
        bool from_d = rand() & 1;
        const uint8_t *src = from_d ? d : c;
        size_t have = from_d ? nd : nc;
        size_t len = n - off < 4096 ? n - off : 4096;
        if (off + len <= have) memcpy(m + off, src + off, len);
    }
    FILE *f = fopen(out, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(m);
    free(d);
    free(c);
}

/* A power loss after run_and_kill(dir, snap, ...): a copy of dir whose
 * data.mdb mixes the pages of snap and of dir's at random (seed) recovers
 * with every acknowledged group. */
static void recover_mixed(const char *dir, const char *snap, uint32_t acked,
                          unsigned seed)
{
    char *mix = tu_tmpdir("walmix");
    char cmd[4400], path[1100], out[1100];
    snprintf(cmd, sizeof cmd, "cp '%s'/* '%s'/", dir, mix);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    snprintf(out, sizeof out, "%s/data.mdb", mix);
    mix_pages(snap, path, out, seed);
    hks_wal_report rep;
    recover_and_check(mix, acked, &rep);
    tu_rmrf(mix);
    free(mix);
}

static void test_power_loss(void **state)
{
    (void)state;
    srand(777);
    for (int round = 0; round < 2; round++) {
        char *dir = tu_tmpdir("walpl");
        char snap[1100], path[1100];
        snprintf(snap, sizeof snap, "%s.durable", dir);
        uint32_t kill_after = 60 + (uint32_t)(rand() % 150);
        /* a checkpoint every few groups: many pins and meta pages */
        uint32_t acked = run_and_kill(dir, snap, GROUPS_MAX, kill_after, 5);
        struct stat sb;
        assert_int_equal(stat(snap, &sb), 0);
        for (unsigned seed = 1; seed <= 3; seed++)
            recover_mixed(dir, snap, acked, seed + 10u * (unsigned)round);
        /* the durable image alone is a power loss too */
        char *only = tu_tmpdir("waldur");
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "cp '%s'/* '%s'/", dir, only);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/data.mdb", only);
        copy_file(snap, path);
        hks_wal_report rep;
        recover_and_check(only, acked, &rep);
        tu_rmrf(only);
        free(only);
        unlink(snap);
        tu_rmrf(dir);
        free(dir);
    }
}

/* A log whose last record is cut or garbled: the replay stops before it
 * and says so; everything before it is there. */
static void test_torn_tail(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        char *dir = tu_tmpdir("waltorn");
        uint32_t groups = 30;
        /* all acknowledged, then killed while idle (a checkpoint may have
         * run: at most the records after it are in the log) */
        uint32_t acked = run_and_kill(dir, NULL, groups, groups, 5);
        assert_int_equal(acked, groups);
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, HKS_WAL_FILE);
        /* append one more whole group's record by hand, then damage it */
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        uint8_t hb[HKS_WAL_HDR_BYTES];
        hks_wal_header h0, h1, h;
        const char *why;
        assert_int_equal(pread(fd, hb, sizeof hb, 0), (ssize_t)sizeof hb);
        bool ok0 = hks_wal_header_decode(hb, &h0, &why);
        assert_int_equal(pread(fd, hb, sizeof hb, HKS_WAL_SLOT),
                         (ssize_t)sizeof hb);
        bool ok1 = hks_wal_header_decode(hb, &h1, &why);
        assert_true(ok0 || ok1);
        h = ok0 && (!ok1 || h0.seq > h1.seq) ? h0 : h1;
        off_t end = lseek(fd, 0, SEEK_END);
        /* walk the records to the last txn id */
        uint64_t last = h.ckpt_txnid;
        size_t n = (size_t)end - h.start;
        uint8_t *buf = malloc(n + 1);
        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, n, (off_t)h.start), (ssize_t)n);
        size_t off = 0;
        hks_wal_rec r;
        uint32_t records = 0;
        while (hks_wal_rec_check(buf + off, n - off, h.epoch, &r) ==
               HKS_WAL_REC_OK) {
            last = r.txnid;
            off += HKS_WAL_REC_HDR + r.len;
            records++;
        }
        free(buf);
        group_rec g = group_of(groups);
        uint8_t rec[HKS_WAL_REC_HDR + sizeof g];
        hks_wal_rec_header(rec, h.epoch, last + 1, &g, sizeof g);
        memcpy(rec + HKS_WAL_REC_HDR, &g, sizeof g);
        size_t len = sizeof rec;
        if (kind == 0)
            len = HKS_WAL_REC_HDR + 4; /* torn inside the clock: the rest
                                          is the ring's zeros */
        else
            rec[HKS_WAL_REC_HDR + 3] ^= 0x10; /* garbled */
        assert_int_equal(pwrite(fd, rec, len, (off_t)h.start + (off_t)off),
                         (ssize_t)len);
        close(fd);
        hks_wal_report rep;
        uint32_t got = recover_and_check(dir, acked, &rep);
        assert_int_equal(got, groups); /* not the damaged one */
        assert_int_equal(rep.records, records);
        /* in the ring's written blocks a torn record reads as a garbled
         * one; at the file's end it is cut short */
        assert_non_null(
            strstr(rep.tail, kind == 0 ? "torn" : "garbled record"));
        tu_rmrf(dir);
        free(dir);
    }
}

/* While the log runs, another process may read but not write. */
static void test_second_writer_busy(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("walbusy");
    hks_wal_report rep;
    hk_store *s = open_wal(dir, &rep);
    assert_false(rep.recovered);
    hk_txn *t = tu_begin(s, true);
    group_rec g = group_of(0);
    hk_error err;
    assert_int_equal(apply_group(t, &g, &err), HK_OK);
    hks_txn_set_wal(t, &g, sizeof g);
    tu_commit(t);
    assert_int_equal(hk_store_sync(s, &err), HK_OK);
    assert_true(hk_store_durable_commit(s) >= hk_store_last_commit(s));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hk_store_options o = {0};
        hk_store *other = NULL;
        if (hk_store_open(dir, &o, &other, &err)) _exit(10);
        hk_txn *rt = NULL;
        if (hk_txn_begin(other, false, &rt, &err)) _exit(11);
        hk_txn_abort(rt);
        hk_txn *wt = NULL;
        hk_err e = hk_txn_begin(other, true, &wt, &err);
        if (wt) hk_txn_abort(wt);
        hk_store_close(other);
        /* a second owner of the log is refused at open */
        o.wal = true;
        hk_err e2 = hk_store_open(dir, &o, &other, &err);
        if (e2 == HK_OK) hk_store_close(other);
        _exit(e == HK_ERR_BUSY && e2 == HK_ERR_BUSY ? 0 : 12);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* a write without a record is synced by LMDB: a checkpoint */
    hks_wal_stats st0, st1;
    hks_wal_get_stats(s, &st0);
    t = tu_begin(s, true);
    g = group_of(1);
    assert_int_equal(apply_group(t, &g, &err), HK_OK);
    tu_commit(t);
    hks_wal_get_stats(s, &st1);
    assert_int_equal(st1.synced_commits, st0.synced_commits + 1);
    assert_true(st1.checkpoints > st0.checkpoints);
    assert_int_equal(hk_store_durable_commit(s), hk_store_last_commit(s));
    tu_discard(s, dir);
}

/* Online compaction replaces data.mdb under the log: the log is left
 * clean before and starts again on the new file after, so a kill later
 * recovers onto the compacted file. */
static void test_compact_online_then_kill(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("walcomp");
    g_compact_at = 40;
    uint32_t acked = run_and_kill(dir, NULL, 120, 100, 600000);
    g_compact_at = 0;
    assert_true(acked >= 100);
    hks_wal_report rep;
    recover_and_check(dir, acked, &rep);
    assert_true(rep.records >= 60); /* the groups after the compaction */
    tu_rmrf(dir);
    free(dir);
}

/* Offline compaction refuses a KB whose log is owed a replay (its
 * records would be lost); a restore discards the log with the content it
 * replaces, so the restored file is never rolled back. */
static void test_offline_replacements(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("waloff");
    uint32_t acked = run_and_kill(dir, NULL, 30, 30, 600000);
    assert_int_equal(acked, 30);
    hk_compact_report cr;
    hk_error err;
    assert_int_equal(hk_store_compact(dir, &cr, &err), HK_ERR_STATE);
    assert_non_null(strstr(err.message, "serve --wal"));
    /* a backup of another KB restored over it */
    char *other = tu_tmpdir("walother");
    char *bk = tu_tmpdir("walbk");
    hk_store *o = tu_open(other);
    hk_txn *t = tu_begin(o, true);
    group_rec g = group_of(7);
    assert_int_equal(apply_group(t, &g, &err), HK_OK);
    tu_commit(t);
    char sha[65];
    tu_rmrf(bk);
    assert_int_equal(hk_store_backup(o, bk, sha, &err), HK_OK);
    tu_discard(o, other);
    assert_int_equal(hk_backup_restore(bk, dir, true, &err), HK_OK);
    hk_store_options ro = {0};
    hk_store *s = NULL;
    if (hk_store_open(dir, &ro, &s, &err)) fprintf(stderr, "%s\n", err.message);
    assert_non_null(s);
    kb_state k = state_of(s);
    assert_int_equal(k.facts, facts_after(8) - facts_after(7));
    hk_store_close(s);
    tu_rmrf(bk);
    free(bk);
    tu_rmrf(dir);
    free(dir);
}

/* Size of dir's log file. */
static uint64_t wal_size(const char *dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, HKS_WAL_FILE);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

/* The ring: a log of 16 KiB holds 113 records of 72 bytes a lap. With
 * checkpoints only where a group is committed without a record, the
 * layout at the kill is known:
 *  - 170 groups, checkpoint at group 80: records 81-113 end lap 1, 114-169
 *    start lap 2 at the ring's beginning, followed there by lap 1's dead
 *    records 56-79 (an older epoch): the replay must cross to lap 2 once
 *    and stop at the old records;
 *  - 260 groups: lap 2 fills up to the checkpoint at 194, the group with
 *    no room is synced and restarts the log, 195-259 are a fresh lap
 *    over lap 2's records;
 *  - 200 groups, a second checkpoint at 100: 101-114 end lap 1, lap 2
 *    wraps onto the space freed up to it (115-199).
 * Every recovery must equal the reference, and the file never grows past
 * the ring. Then a writer with checkpoints by time and bytes is killed at
 * random points, its data.mdb mixed from the durable image and the last
 * one, as in test_power_loss, many laps into the ring. */
static void test_ring_wrap(void **state)
{
    (void)state;
    const uint64_t ring = 16384;
    g_log_bytes = ring;
    g_ckpt_bytes = 1ull << 40; /* none by bytes */
    struct {
        uint32_t groups, plain0, plain1, laps, records;
    } cases[] = {
        {170, 80, 0, 1, 89}, {260, 80, 0, 0, 65}, {200, 80, 100, 1, 99}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *dir = tu_tmpdir("walring");
        g_plain_at[0] = cases[c].plain0;
        g_plain_at[1] = cases[c].plain1;
        uint32_t n = cases[c].groups;
        uint32_t acked = run_and_kill(dir, NULL, n, n, 600000);
        g_plain_at[0] = g_plain_at[1] = 0;
        assert_int_equal(acked, n);
        assert_true(wal_size(dir) <= ring);
        hks_wal_report rep;
        uint32_t got = recover_and_check(dir, acked, &rep);
        assert_int_equal(got, n);
        if (rep.laps != cases[c].laps)
            fprintf(stderr, "case %zu: %u laps, %llu records, %s\n", c,
                    rep.laps, (unsigned long long)rep.records, rep.tail);
        assert_int_equal(rep.laps, cases[c].laps);
        assert_int_equal(rep.records, cases[c].records);
        assert_non_null(strstr(rep.tail, "clean end"));
        assert_true(wal_size(dir) <= ring);
        tu_rmrf(dir);
        free(dir);
    }
    g_ckpt_bytes = 0;
    srand(4242);
    for (int round = 0; round < 1; round++) {
        char *dir = tu_tmpdir("walringpl");
        char snap[1100];
        snprintf(snap, sizeof snap, "%s.durable", dir);
        uint32_t kill_after = 150 + (uint32_t)(rand() % 200);
        uint32_t acked = run_and_kill(dir, snap, GROUPS_MAX, kill_after, 5);
        assert_true(wal_size(dir) <= ring);
        recover_mixed(dir, snap, acked, 99u + (unsigned)round);
        unlink(snap);
        tu_rmrf(dir);
        free(dir);
    }
    g_log_bytes = 0;
}

/* The ring's size is an option of each start (hakgal serve --wal-log-mb):
 * a log killed with records in one size, laps included, is replayed
 * whole by an open that asks for a larger or a smaller ring, and the
 * file then has the new size's bound. */
static void test_ring_size_change(void **state)
{
    (void)state;
    const uint64_t sizes[][2] = {{16384, 1u << 20}, {65536, 16384}};
    g_ckpt_bytes = 1ull << 40; /* none by bytes */
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        char *dir = tu_tmpdir("walresize");
        g_log_bytes = sizes[c][0];
        uint32_t acked = run_and_kill(dir, NULL, 170, 170, 600000);
        assert_int_equal(acked, 170);
        assert_true(wal_size(dir) <= sizes[c][0]);
        g_log_bytes = sizes[c][1];
        hks_wal_report rep;
        uint32_t got = recover_and_check(dir, acked, &rep);
        assert_int_equal(got, acked);
        assert_true(rep.records > 0);
        assert_non_null(strstr(rep.tail, "clean end"));
        assert_true(wal_size(dir) <= sizes[c][1]);
        tu_rmrf(dir);
        free(dir);
    }
    g_ckpt_bytes = 0;
    g_log_bytes = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_record_tails),
        cmocka_unit_test(test_second_writer_busy),
        cmocka_unit_test(test_kill_and_replay),
        cmocka_unit_test(test_module_db_mid_log),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_power_loss),
        cmocka_unit_test(test_compact_online_then_kill),
        cmocka_unit_test(test_offline_replacements),
        cmocka_unit_test(test_ring_wrap),
        cmocka_unit_test(test_ring_size_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
