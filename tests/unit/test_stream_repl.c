/*
 * test_stream_repl.c — multi-writer replication (kafka_repl.c): the fixed
 * txn clock makes the same changes produce byte-identical KBs (content and
 * audit head) however they are grouped into transactions; two replicators
 * on librdkafka's mock cluster (3 brokers) that both write converge to
 * equal digests, resume after a restart without applying anything twice,
 * skip messages that are not commands, apply commands in the binary
 * form as the JSON ones, and refuse a topic with more than one
 * partition. Apply commits without fsync (hks_txn_set_no_sync, a
 * node with sync_ms) count as durable only once synced, and a stopped
 * replicator leaves its KB synced.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <unistd.h>

#include "core/clock.h"
#include "store/store.h"
#include "stream/stream.h"
#include "test_store_util.h"

/* ==== Deterministic apply ==== */

static void put(hk_txn *t, const char *text, int64_t us, const char *actor)
{
    hk_statement st;
    hk_error err;
    hk_fact_id id;
    bool created;
    hks_txn_set_clock(t, us);
    assert_int_equal(hk_txn_set_actor(t, actor), HK_OK);
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, &created, &err), HK_OK);
    hk_statement_release(&st);
}

static void del(hk_txn *t, hk_fact_id id, int64_t us)
{
    hk_error err;
    hks_txn_set_clock(t, us);
    assert_int_equal(hk_txn_set_actor(t, "n1"), HK_OK);
    assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
}

static hkst_digest digest_of(hk_store *s)
{
    hkst_digest d;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkst_digest_get(s, t, &d, &err), HK_OK);
    hk_txn_abort(t);
    return d;
}

static void test_clock(void **state)
{
    (void)state;
    char *da = tu_tmpdir("repl-a"), *db = tu_tmpdir("repl-b");
    hk_store *a = tu_open(da), *b = tu_open(db);
    /* A: one txn; B: three, at another wall time */
    hk_txn *t = tu_begin(a, true);
    put(t, "P(x, y)", 1000000, "n1");
    put(t, "P(y, z)", 2000000, "n2");
    del(t, 1, 3000000);
    tu_commit(t);
    usleep(2000);
    t = tu_begin(b, true);
    put(t, "P(x, y)", 1000000, "n1");
    tu_commit(t);
    t = tu_begin(b, true);
    put(t, "P(y, z)", 2000000, "n2");
    tu_commit(t);
    t = tu_begin(b, true);
    del(t, 1, 3000000);
    tu_commit(t);
    hkst_digest x = digest_of(a), y = digest_of(b);
    assert_int_equal(x.facts, 1);
    assert_string_equal(x.content, y.content);
    assert_int_equal(x.audit_seq, 3);
    assert_int_equal(y.audit_seq, 3);
    assert_string_equal(x.audit_hash, y.audit_hash);
    /* the fact carries the command's time, not the wall clock */
    hk_fact f;
    hk_error err;
    hk_fact_init(&f);
    t = tu_begin(b, false);
    assert_int_equal(hk_store_get(t, 2, &f, &err), HK_OK);
    assert_int_equal(f.created_us, 2000000);
    hk_fact_release(&f);
    hk_txn_abort(t);
    /* 0: the wall clock again */
    t = tu_begin(b, true);
    hks_txn_set_clock(t, 0);
    assert_true(hks_txn_now(t) > 1700000000000000LL);
    hk_txn_abort(t);
    tu_discard(a, da);
    tu_discard(b, db);
}

/* Batch b (facts "B(b, i)", i < n) in bulk mode at time us; ends the
 * bulk entry with hks_txn_end_bulk when end. */
static void bulk(hk_txn *t, int b, int n, int64_t us, bool end)
{
    char x[16], y[16];
    hk_error err;
    hks_txn_set_clock(t, us);
    assert_int_equal(hk_txn_set_actor(t, "n1"), HK_OK);
    assert_int_equal(hk_txn_set_bulk(t, "batch"), HK_OK);
    snprintf(x, sizeof x, "b%d", b);
    for (int i = 0; i < n; i++) {
        snprintf(y, sizeof y, "i%d", i);
        tu_add(t, tu_st("B", x, y, NULL), NULL);
    }
    if (end) assert_int_equal(hks_txn_end_bulk(t, &err), HK_OK);
}

/* Batches that share a txn (each ended with hks_txn_end_bulk) leave the
 * KB and audit chain that one txn per batch leaves. */
static void test_bulk_groups(void **state)
{
    (void)state;
    char *da = tu_tmpdir("repl-ga"), *db = tu_tmpdir("repl-gb");
    hk_store *a = tu_open(da), *b = tu_open(db);
    hk_txn *t = tu_begin(a, true);
    bulk(t, 1, 3, 1000000, true);
    put(t, "P(x, y)", 2000000, "n2");
    bulk(t, 2, 2, 3000000, true);
    bulk(t, 3, 4, 4000000, true);
    assert_int_equal(hks_txn_end_bulk(t, NULL), HK_OK); /* not in bulk */
    tu_commit(t);
    t = tu_begin(b, true);
    bulk(t, 1, 3, 1000000, false);
    tu_commit(t);
    t = tu_begin(b, true);
    put(t, "P(x, y)", 2000000, "n2");
    tu_commit(t);
    t = tu_begin(b, true);
    bulk(t, 2, 2, 3000000, false);
    tu_commit(t);
    t = tu_begin(b, true);
    bulk(t, 3, 4, 4000000, false);
    tu_commit(t);
    hkst_digest x = digest_of(a), y = digest_of(b);
    assert_int_equal(x.facts, 10);
    assert_string_equal(x.content, y.content);
    assert_int_equal(x.audit_seq, 4); /* 3 import entries and the add */
    assert_int_equal(y.audit_seq, 4);
    assert_string_equal(x.audit_hash, y.audit_hash);
    tu_discard(a, da);
    tu_discard(b, db);
}

/* ==== Commits without fsync ==== */

static void test_no_sync(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("repl-nosync");
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("S", "synced", NULL), NULL);
    tu_commit(t);
    uint64_t c1 = hk_store_last_commit(s);
    assert_int_equal(hk_store_durable_commit(s), c1);

    t = tu_begin(s, true);
    hks_txn_set_no_sync(t);
    tu_add(t, tu_st("S", "unsynced", NULL), NULL);
    tu_commit(t);
    uint64_t c2 = hk_store_last_commit(s);
    assert_true(c2 > c1);
    assert_int_equal(hk_store_durable_commit(s), c1); /* not synced yet */
    t = tu_begin(s, false);                           /* but visible */
    hk_fact_id id;
    hk_statement st = tu_st("S", "unsynced", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(hk_store_sync(s, &err), HK_OK);
    assert_int_equal(hk_store_durable_commit(s), c2);

    /* the next commit syncs again (the flag was only for that commit) */
    t = tu_begin(s, true);
    hks_txn_set_no_sync(t);
    tu_add(t, tu_st("S", "again", NULL), NULL);
    tu_commit(t);
    assert_int_equal(hk_store_durable_commit(s), c2);
    t = tu_begin(s, true);
    tu_add(t, tu_st("S", "synced", "too", NULL), NULL);
    tu_commit(t);
    assert_int_equal(hk_store_durable_commit(s), hk_store_last_commit(s));
    tu_discard(s, dir);
}

/* ==== Replicators on the mock cluster ==== */

typedef struct node {
    hk_store *s;
    char *dir;
    hkst_repl *r;
    pthread_mutex_t mu;
    uint64_t mine_applied; /* own commands reported applied */
    uint64_t delivered;    /* own commands in the log */
    unsigned sync_ms;      /* hkst_repl_options.sync_ms */
    unsigned txn_open_ms;  /* hkst_repl_options.txn_open_ms */
    uint64_t slow_until;   /* a "slow" command waits for this many
                              delivered commands */
} node;

/* A command's request {"statement": "..."} added; "fail" ops fail on input. */
static hk_err apply(void *ctx, hk_txn *t, const hkst_repl_msg *m, hk_error *err)
{
    node *n = ctx;
    if (strcmp(m->op, "slow") == 0) {
        /* stands for a long apply: the commands produced meanwhile reach
         * the log (and the consumer, which fetches every 5 ms at most)
         * before it ends */
        for (int i = 0; i < 1000; i++) {
            pthread_mutex_lock(&n->mu);
            bool all = n->delivered >= n->slow_until;
            pthread_mutex_unlock(&n->mu);
            if (all) break;
            usleep(10000);
        }
        usleep(500000);
        return HK_OK;
    }
    if (strcmp(m->op, "add") != 0)
        return hk_error_set(err, HK_ERR_UNSUPPORTED, "op %s", m->op);
    /* the JSON form's request, or the binary form's bytes: the text */
    const char *text =
        m->req ? json_string_value(json_object_get(m->req, "statement"))
               : m->bin;
    size_t len = m->req ? (text ? strlen(text) : 0) : m->bin_len;
    if (!text) return hk_error_set(err, HK_ERR_INVALID, "no statement");
    hk_statement st;
    hk_fact_id id;
    bool created;
    hk_err e = hk_statement_parse(text, len, &st, err);
    if (e) return e;
    e = hk_store_add(t, &st, NULL, &id, &created, err);
    hk_statement_release(&st);
    return e;
}

static void applied(void *ctx, const hkst_repl_msg *m, hk_err rc,
                    const hk_error *err)
{
    (void)m;
    (void)rc;
    (void)err;
    node *n = ctx;
    pthread_mutex_lock(&n->mu);
    n->mine_applied++;
    pthread_mutex_unlock(&n->mu);
}

static void delivered(void *ctx, uint64_t seq, int64_t offset, const char *why)
{
    (void)seq;
    node *n = ctx;
    if (why || offset < 0) return;
    pthread_mutex_lock(&n->mu);
    n->delivered++;
    pthread_mutex_unlock(&n->mu);
}

static hk_err node_start(node *n, const hkst_url *u, uint32_t id, hk_error *err)
{
    hkst_repl_options o = {.node_id = id,
                           .timeout_ms = 5000,
                           .sync_ms = n->sync_ms,
                           .txn_open_ms = n->txn_open_ms,
                           .quiet = true,
                           .cb = {.ctx = n,
                                  .apply = apply,
                                  .applied = applied,
                                  .delivered = delivered}};
    return hkst_repl_start(n->s, u, &o, &n->r, err);
}

static void wait_applied(node *n, uint64_t want)
{
    for (int i = 0; i < 600; i++) {
        hkst_repl_stats st;
        hkst_repl_stats_get(n->r, &st);
        if (st.applied + st.skipped >= want && st.lag == 0) return;
        usleep(50000);
    }
    fail_msg("replicator did not apply %llu messages",
             (unsigned long long)want);
}

/* Nodes a and b hold the same content and audit head (a with `facts`
 * facts); then both stop and everything is released. */
static void agree_then_stop(node *a, node *b, uint64_t facts,
                            rd_kafka_mock_cluster_t *mc, rd_kafka_t *rk)
{
    hkst_digest da = digest_of(a->s), db = digest_of(b->s);
    assert_int_equal(da.facts, facts);
    assert_string_equal(da.content, db.content);
    assert_int_equal(da.audit_seq, db.audit_seq);
    assert_string_equal(da.audit_hash, db.audit_hash);
    hkst_repl_stop(a->r);
    hkst_repl_stop(b->r);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&b->mu);
    tu_discard(a->s, a->dir);
    tu_discard(b->s, b->dir);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
}

/* Produces value[0..len) to topic cmds of mc. */
static void produce_bytes(rd_kafka_mock_cluster_t *mc, const void *value,
                          size_t len)
{
    char errstr[256];
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers",
                      rd_kafka_mock_cluster_bootstraps(mc), errstr,
                      sizeof errstr);
    rd_kafka_conf_set(pc, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *prod =
        rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr);
    assert_non_null(prod);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, "cmds", NULL);
    assert_int_equal(rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY,
                                      (void *)value, len, NULL, 0, NULL),
                     0);
    assert_int_equal(rd_kafka_flush(prod, 10000), 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prod);
}

/* A message that is not a command. */
static void produce_junk(rd_kafka_mock_cluster_t *mc)
{
    produce_bytes(mc, "junk", 4);
}

/* A mock cluster of 3 brokers with the one-partition topic `topic`,
 * owned by the handle *rk (destroy mc, then *rk). */
/* Produces the JSON command `add` of "PRED(PREFIXi)" as node `origin`. */
static void produce_add(node *n, uint64_t seq, const char *origin,
                        const char *pred, const char *prefix, int i)
{
    char body[64];
    hk_error err;
    snprintf(body, sizeof body, "{\"statement\":\"%s(%s%d)\"}", pred, prefix,
             i);
    assert_int_equal(hkst_repl_produce(n->r, seq, "add", origin,
                                       json_loads(body, 0, NULL), NULL, &err),
                     HK_OK);
}

static rd_kafka_mock_cluster_t *mock_start(const char *topic, rd_kafka_t **rk)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(*rk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(*rk, 3);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, topic, 1, 3), 0);
    return mc;
}

static void test_replicate(void **state)
{
    (void)state;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc = mock_start("cmds", &rk);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "wide", 4, 3), 0);
    char url[512];
    hkst_url u;
    hk_error err;

    node a = {0}, b = {0};
    b.sync_ms = 50; /* B's apply commits skip fsync, A's do not */
    a.dir = tu_tmpdir("repl-na");
    b.dir = tu_tmpdir("repl-nb");
    a.s = tu_open(a.dir);
    b.s = tu_open(b.dir);
    pthread_mutex_init(&a.mu, NULL);
    pthread_mutex_init(&b.mu, NULL);

    /* a topic with more than one partition is refused */
    snprintf(url, sizeof url, "kafka://%s/wide",
             rd_kafka_mock_cluster_bootstraps(mc));
    assert_int_equal(hkst_url_parse(url, &u, &err), HK_OK);
    assert_int_equal(node_start(&a, &u, 1, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "exactly one"));

    snprintf(url, sizeof url, "kafka://%s/cmds",
             rd_kafka_mock_cluster_bootstraps(mc));
    assert_int_equal(hkst_url_parse(url, &u, &err), HK_OK);
    assert_int_equal(node_start(&a, &u, 1, &err), HK_OK);
    assert_int_equal(node_start(&b, &u, 2, &err), HK_OK);

    /* both write, interleaved; the same statement from both (a MERGE) */
    for (int i = 0; i < 50; i++) {
        produce_add(&a, (uint64_t)i + 1, "na", "Q", "a", i);
        produce_add(&b, (uint64_t)i + 1, "nb", "Q", "b", i % 40);
    }
    wait_applied(&a, 100);
    wait_applied(&b, 100);
    hkst_digest da = digest_of(a.s), db = digest_of(b.s);
    assert_int_equal(da.facts, 90);
    assert_string_equal(da.content, db.content);
    assert_string_equal(da.audit_hash, db.audit_hash);
    assert_int_equal(a.delivered, 50);

    /* a message that is not a command, and an unknown op: skipped / failed
     * alike on both */
    assert_int_equal(
        hkst_repl_produce(a.r, 99, "nope", "na", json_object(), NULL, &err),
        HK_OK);
    produce_junk(mc);
    wait_applied(&a, 102);
    wait_applied(&b, 102);
    hkst_repl_stats sa;
    hkst_repl_stats_get(a.r, &sa);
    assert_int_equal(sa.skipped, 1);
    assert_int_equal(sa.applied, 101);

    /* B stops (and syncs); A writes on, with a message that is not a
     * command in the middle; B starts again and applies only what is new,
     * the backlog parsed and applied group by group, the junk skipped */
    hkst_repl_stop(b.r);
    assert_int_equal(hk_store_durable_commit(b.s), hk_store_last_commit(b.s));
    assert_int_equal(hk_store_durable_commit(a.s), hk_store_last_commit(a.s));
    for (int i = 0; i < 20; i++) {
        if (i == 10) {
            wait_applied(&a, 112);
            produce_junk(mc);
        }
        produce_add(&a, (uint64_t)i + 200, "na", "R", "a", i);
    }
    wait_applied(&a, 123);
    assert_int_equal(node_start(&b, &u, 2, &err), HK_OK);
    wait_applied(&b, 21);
    hkst_repl_stats sb;
    hkst_repl_stats_get(b.r, &sb);
    assert_int_equal(sb.applied, 20); /* nothing applied twice */
    assert_int_equal(sb.skipped, 1);

    /* commands in the binary form apply as the JSON ones do; binary
     * messages cut short, or of another version, are skipped */
    const char *bin = "R(packed, \"two words\")";
    assert_int_equal(hkst_repl_produce_packed(a.r, 300, "add", "na", bin,
                                              strlen(bin), NULL, &err),
                     HK_OK);
    assert_int_equal(
        hkst_repl_produce_packed(b.r, 1, "add", "", "R(b)", 4, NULL, &err),
        HK_OK);
    assert_int_equal(
        hkst_repl_produce_packed(a.r, 301, "add", "na", "", 0, NULL, &err),
        HK_ERR_INVALID);
    uint8_t cut[40] = {0, 'h', 'k', 'r', 3};
    produce_bytes(mc, cut, 5);
    produce_bytes(mc, cut, sizeof cut); /* op and actor empty */
    cut[4] = 4;
    produce_bytes(mc, cut, sizeof cut);
    wait_applied(&a, 128);
    wait_applied(&b, 26);
    hkst_repl_stats_get(a.r, &sa);
    assert_int_equal(sa.skipped, 5);
    hkst_repl_stats_get(b.r, &sb);
    assert_int_equal(sb.applied, 22);
    assert_int_equal(sb.skipped, 4);
    hk_txn *t = tu_begin(b.s, false);
    hk_statement st;
    hk_fact_id id;
    assert_int_equal(hk_statement_parse(bin, strlen(bin), &st, &err), HK_OK);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    hk_statement_release(&st);
    hk_txn_abort(t);
    agree_then_stop(&a, &b, 112, mc, rk);
}

/* An apply txn takes the commands that arrived while it ran: 20 commands
 * produced during the apply of a slow one are committed with it, in one
 * txn, and a node that applies the same log grouped its own way holds the
 * same KB. */
static void test_txn_takes_arrivals(void **state)
{
    (void)state;
    char url[512];
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc = mock_start("grow", &rk);
    snprintf(url, sizeof url, "kafka://%s/grow",
             rd_kafka_mock_cluster_bootstraps(mc));
    hkst_url u;
    hk_error err;
    assert_int_equal(hkst_url_parse(url, &u, &err), HK_OK);
    node a = {0};
    a.txn_open_ms = 60000; /* the slow apply may take long under ASan */
    a.slow_until = 21;
    a.dir = tu_tmpdir("repl-grow");
    a.s = tu_open(a.dir);
    pthread_mutex_init(&a.mu, NULL);
    assert_int_equal(node_start(&a, &u, 1, &err), HK_OK);
    hkst_repl_stats st0;
    hkst_repl_stats_get(a.r, &st0);
    assert_int_equal(
        hkst_repl_produce(a.r, 1, "slow", "na", json_object(), NULL, &err),
        HK_OK);
    for (int i = 0; i < 500; i++) { /* until the slow command is applied */
        pthread_mutex_lock(&a.mu);
        bool in = a.delivered >= 1;
        pthread_mutex_unlock(&a.mu);
        if (in) break;
        usleep(10000);
    }
    usleep(100000);
    for (int i = 0; i < 20; i++) {
        produce_add(&a, (uint64_t)i + 2, "na", "G", "g", i);
    }
    wait_applied(&a, 21);
    hkst_repl_stats st;
    hkst_repl_stats_get(a.r, &st);
    assert_int_equal(st.applied, 21);
    assert_int_equal(st.txns - st0.txns, 1); /* one txn took all */
    assert_int_equal(a.mine_applied, 21);    /* each reported once */

    /* a node that reads the same log later, grouped its own way, holds the
     * same content and audit chain */
    node b = {0};
    b.dir = tu_tmpdir("repl-grow-b");
    b.s = tu_open(b.dir);
    pthread_mutex_init(&b.mu, NULL);
    assert_int_equal(node_start(&b, &u, 2, &err), HK_OK);
    wait_applied(&b, 21);
    agree_then_stop(&a, &b, 20, mc, rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_bulk_groups),
        cmocka_unit_test(test_no_sync),
        cmocka_unit_test(test_replicate),
        cmocka_unit_test(test_txn_takes_arrivals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
