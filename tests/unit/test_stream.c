/*
 * test_stream.c — the change stream: URL parsing, the outbox (one event per
 * committed change, none for an aborted one, in order, with the audit
 * entry's before/after), and the publisher against librdkafka's mock
 * cluster (3 brokers): every event arrives, per-fact order holds, and
 * while every broker is down events wait in the outbox and drain after.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/clock.h"
#include "reason/rules.h"
#include "store/store.h"
#include "stream/stream.h"
#include "vector/vector.h"
#include "test_store_util.h"

/* ==== URLs ==== */

static void test_url(void **state)
{
    hkst_url u;
    hk_error err;
    assert_int_equal(hkst_url_parse("kafka://a:1,b:2/t.x-1", &u, &err), HK_OK);
    assert_string_equal(u.brokers, "a:1,b:2");
    assert_string_equal(u.topic, "t.x-1");
    const char *bad[] = {"",
                         "http://a/t",
                         "kafka://",
                         "kafka:///t",
                         "kafka://a:1",
                         "kafka://a:1/",
                         "kafka://a/t?",
                         "kafka://a b/t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hkst_url_parse(bad[i], &u, &err), HK_ERR_INVALID);
        assert_string_equal(err.field, "url");
    }
}

/* ==== Outbox ==== */

static hk_fact_id add(hk_store *s, const char *text)
{
    hk_statement st;
    hk_error err;
    hk_fact_id id;
    bool created;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_store_add(t, &st, NULL, &id, &created, &err), HK_OK);
    tu_commit(t);
    hk_statement_release(&st);
    return id;
}

static hkst_status status(hk_store *s)
{
    hkst_status st;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkst_status_get(s, t, &st, &err), HK_OK);
    hk_txn_abort(t);
    return st;
}

static void test_outbox_events(void **state)
{
    char *dir = tu_tmpdir("stream");
    hk_store *s = tu_open(dir);
    hk_error err;
    add(s, "Before(x)"); /* before the outbox: not streamed */
    assert_false(status(s).enabled);
    assert_int_equal(hkst_outbox_enable(s, &err), HK_OK);
    assert_int_equal(hkst_outbox_enable(s, &err), HK_OK); /* idempotent */

    hk_fact_id a = add(s, "HasPart(Computer, CPU)");
    hk_txn *t = tu_begin(s, true);
    hk_statement st = tu_st("HasPart", "Computer", "GPU", NULL);
    hk_fact_id other;
    assert_int_equal(hk_store_update(t, a, &st, &other, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, true);
    hk_fact_meta m = {0};
    m.fields = HK_META_CONFIDENCE;
    m.confidence = 0.5;
    assert_int_equal(hk_store_set_meta(t, a, &m, &err), HK_OK);
    tu_commit(t);
    /* an aborted change leaves no event */
    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK);
    hk_txn_abort(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_actor(t, "alice"), HK_OK);
    assert_int_equal(hk_store_delete(t, a, &err), HK_OK);
    tu_commit(t);

    hkst_status ss = status(s);
    assert_true(ss.enabled);
    assert_int_equal(ss.backlog, 4);
    assert_int_equal(ss.oldest_event, 1);
    assert_int_equal(ss.next_event, 5);
    assert_true(ss.oldest_us > 0);

    hkst_event ev[8];
    size_t n;
    hk_buf mem = HK_BUF_INIT;
    t = tu_begin(s, false);
    assert_int_equal(
        hkst_outbox_read(s, t, 0, UINT64_MAX, 8, ev, &n, &mem, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(n, 4);
    const char *ops[] = {"c", "u", "u", "d"};
    const char *kinds[] = {"add", "update", "meta", "delete"};
    uint64_t prev_seq = 0;
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *j = json_loadb(ev[i].json, ev[i].len, 0, &je);
        assert_non_null(j);
        assert_int_equal(ev[i].seq, i + 1);
        assert_int_equal(ev[i].fact, a);
        assert_string_equal(json_string_value(json_object_get(j, "op")),
                            ops[i]);
        assert_string_equal(json_string_value(json_object_get(j, "kind")),
                            kinds[i]);
        json_t *src = json_object_get(j, "source");
        assert_int_equal(json_integer_value(json_object_get(src, "event")),
                         i + 1);
        uint64_t seq =
            (uint64_t)json_integer_value(json_object_get(src, "seq"));
        assert_true(seq > prev_seq); /* the audit order */
        prev_seq = seq;
        json_t *before = json_object_get(j, "before");
        json_t *after = json_object_get(j, "after");
        if (i == 0) assert_true(json_is_null(before));
        if (i == 3) {
            assert_true(json_is_null(after));
            assert_string_equal(json_string_value(json_object_get(j, "actor")),
                                "alice");
            assert_string_equal(
                json_string_value(json_object_get(before, "statement")),
                "HasPart(Computer, GPU)");
        }
        if (i == 1)
            assert_string_equal(
                json_string_value(json_object_get(after, "statement")),
                "HasPart(Computer, GPU)");
        if (i == 2)
            assert_true(json_real_value(json_object_get(after, "confidence")) ==
                        0.5);
        json_decref(j);
    }
    /* reading after a sequence, then removing a prefix */
    t = tu_begin(s, false);
    assert_int_equal(
        hkst_outbox_read(s, t, 2, UINT64_MAX, 8, ev, &n, &mem, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].seq, 3);
    t = tu_begin(s, true);
    assert_int_equal(hkst_outbox_remove(s, t, 3, &err), HK_OK);
    tu_commit(t);
    ss = status(s);
    assert_int_equal(ss.backlog, 1);
    assert_int_equal(ss.oldest_event, 4);
    assert_int_equal(ss.published_event, 3);
    assert_true(ss.published_us > 0);
    hk_buf_free(&mem);

    /* a later open attaches the hook by itself */
    hk_store_close(s);
    s = tu_open(dir);
    assert_int_equal(hkst_outbox_attach(s, &err), HK_OK);
    add(s, "After(y)");
    assert_int_equal(status(s).backlog, 2);
    tu_discard(s, dir);
}

static void test_outbox_bulk(void **state)
{
    char *dir = tu_tmpdir("streambulk");
    hk_store *s = tu_open(dir);
    hk_error err;
    assert_int_equal(hkst_outbox_enable(s, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_bulk(t, "test"), HK_OK);
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "e%d", i);
        hk_statement st = tu_st("P", name, NULL);
        hk_fact_id id;
        bool created;
        assert_int_equal(hk_store_add(t, &st, NULL, &id, &created, &err),
                         HK_OK);
    }
    tu_commit(t);
    assert_int_equal(status(s).backlog, 50);
    tu_discard(s, dir);
}

/* A vector change is one event too: kind "vector", the fact unchanged on
 * both sides, what changed in "vector". */
static void test_outbox_vector(void **state)
{
    char *dir = tu_tmpdir("streamvec");
    hk_store *s = tu_open(dir);
    hk_error err;
    hkv_store *vs;
    assert_int_equal(hkst_outbox_enable(s, &err), HK_OK);
    assert_int_equal(hkv_store_attach(s, &vs, &err), HK_OK);
    hk_fact_id id = add(s, "V(x)");
    hkv_space sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "sp");
    sp.params = (hkv_params){4, HKV_COSINE, HKV_F32, 0, 0, 0};
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_OK);
    tu_commit(t);
    float v[4] = {1, 0, 0, 0};
    t = tu_begin(s, true);
    assert_int_equal(hkv_put(vs, t, "sp", id, v, 4, &err), HK_OK);
    tu_commit(t);
    hkst_event ev[4];
    size_t n;
    hk_buf mem = HK_BUF_INIT;
    t = tu_begin(s, false);
    assert_int_equal(
        hkst_outbox_read(s, t, 0, UINT64_MAX, 4, ev, &n, &mem, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(n, 2);
    json_error_t je;
    json_t *j = json_loadb(ev[1].json, ev[1].len, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")),
                        "vector");
    assert_string_equal(json_string_value(json_object_get(j, "op")), "u");
    json_t *vec = json_object_get(j, "vector");
    assert_string_equal(json_string_value(json_object_get(vec, "space")), "sp");
    assert_int_equal(json_integer_value(json_object_get(vec, "dim")), 4);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "after"), "statement")),
                        "V(x)");
    json_decref(j);
    hk_buf_free(&mem);
    hkv_store_detach(vs);
    tu_discard(s, dir);
}

/* The events of one txn's outbox, parsed (caller decrefs each). */
static size_t events_of(hk_store *s, uint64_t after, json_t **out, size_t max)
{
    hkst_event ev[16];
    size_t n;
    hk_error err;
    hk_buf mem = HK_BUF_INIT;
    assert_true(max <= 16);
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(
        hkst_outbox_read(s, t, after, UINT64_MAX, max, ev, &n, &mem, &err),
        HK_OK);
    hk_txn_abort(t);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        out[i] = json_loadb(ev[i].json, ev[i].len, 0, &je);
        assert_non_null(out[i]);
    }
    hk_buf_free(&mem);
    return n;
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
    json_t *v = json_object_get(j, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

/* Rule changes and entity vectors are events too: kind "rule" with the
 * rule before and after (op c, u, d by the rule's own life), kind
 * "vector" with the entity named and no fact (fact id 0, key "0"). */
static void test_outbox_rules_entities(void **state)
{
    char *dir = tu_tmpdir("streamrule");
    hk_store *s = tu_open(dir);
    hk_error err;
    hkv_store *vs;
    hkr_dbs d;
    assert_int_equal(hkst_outbox_enable(s, &err), HK_OK);
    assert_int_equal(hkv_store_attach(s, &vs, &err), HK_OK);
    assert_int_equal(hkr_open(s, &d, &err), HK_OK);
    add(s, "Parent(ann, bob)"); /* event 1 */
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hk_txn_set_actor(t, "ruler"), HK_OK);
    assert_int_equal(
        hkr_add(t, &d, "kin", "Kin(?x) :- Parent(?x, ?y).", NULL, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, true);
    assert_int_equal(hkr_set_enabled(t, &d, "kin", false, NULL, &err), HK_OK);
    tu_commit(t);
    t = tu_begin(s, true);
    assert_int_equal(hkr_delete(t, &d, "kin", NULL, &err), HK_OK);
    tu_commit(t);
    hkv_space sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.name, sizeof sp.name, "people");
    sp.kind = HKV_KIND_ENTITY;
    sp.params = (hkv_params){2, HKV_L2, HKV_F32, 0, 0, 0};
    float v[2] = {0.5f, -1};
    t = tu_begin(s, true);
    assert_int_equal(hkv_space_create(vs, t, &sp, &err), HK_OK);
    assert_int_equal(hkv_entity_put(vs, t, "people", "ann", 3, v, 2, &err),
                     HK_OK);
    tu_commit(t);
    json_t *ev[16];
    size_t n = events_of(s, 1, ev, 16);
    assert_int_equal(n, 4);
    const char *ops[3] = {"c", "u", "d"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(str_at(ev[i], "kind", NULL), "rule");
        assert_string_equal(str_at(ev[i], "op", NULL), ops[i]);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(ev[i], "source"), "fact_id")),
                         0);
        assert_true(json_integer_value(json_object_get(
                        json_object_get(ev[i], "source"), "seq")) > 0);
    }
    assert_string_equal(str_at(ev[0], "after", "name"), "kin");
    assert_true(json_is_null(json_object_get(ev[0], "before")));
    assert_string_equal(str_at(ev[0], "actor", NULL), "ruler");
    assert_true(json_is_false(
        json_object_get(json_object_get(ev[1], "after"), "enabled")));
    assert_true(json_is_null(json_object_get(ev[2], "after")));
    assert_string_equal(str_at(ev[2], "before", "rule"),
                        "Kin(?x) :- Parent(?x, ?y).");
    assert_string_equal(str_at(ev[3], "kind", NULL), "vector");
    assert_string_equal(str_at(ev[3], "vector", "space"), "people");
    assert_string_equal(str_at(ev[3], "vector", "entity"), "ann");
    assert_true(json_is_null(json_object_get(ev[3], "after")));
    for (size_t i = 0; i < n; i++)
        json_decref(ev[i]);
    hkv_store_detach(vs);
    tu_discard(s, dir);
}

/* ==== Digest ==== */

static hkst_digest digest(hk_store *s)
{
    hkst_digest d;
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hkst_digest_get(s, t, &d, &err), HK_OK);
    hk_txn_abort(t);
    return d;
}

static void test_digest(void **state)
{
    char *d1 = tu_tmpdir("dig1"), *d2 = tu_tmpdir("dig2");
    hk_store *a = tu_open(d1), *b = tu_open(d2);
    hkst_digest e = digest(a);
    assert_int_equal(e.facts, 0);
    assert_int_equal(e.audit_seq, 0);
    assert_string_equal(e.audit_hash, "");
    /* the same facts in another order, b with a detour */
    add(a, "P(x)");
    add(a, "Q(y, z)");
    add(a, "R(w)");
    add(b, "R(w)");
    hk_fact_id gone = add(b, "Gone(g)");
    add(b, "Q(y, z)");
    add(b, "P(x)");
    hk_error err;
    hk_txn *t = tu_begin(b, true);
    assert_int_equal(hk_store_delete(t, gone, &err), HK_OK);
    tu_commit(t);
    hkst_digest da = digest(a), db = digest(b);
    assert_int_equal(da.facts, 3);
    assert_int_equal(db.facts, 3);
    assert_string_equal(da.content, db.content);
    assert_int_equal(da.audit_seq, 3);
    assert_int_equal(db.audit_seq, 5);
    assert_string_not_equal(da.audit_hash, db.audit_hash);
    /* metadata counts */
    t = tu_begin(b, true);
    hk_fact_meta m = {0};
    m.fields = HK_META_SOURCE;
    m.source = "atlas";
    hk_statement st = tu_st("P", "x", NULL);
    hk_fact_id id;
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(hk_store_set_meta(t, id, &m, &err), HK_OK);
    tu_commit(t);
    assert_string_not_equal(digest(b).content, da.content);
    hk_buf out = HK_BUF_INIT;
    db = digest(b);
    assert_int_equal(hkst_digest_write_json(&db, &out), HK_OK);
    json_error_t je;
    json_t *j = json_loads(out.data, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "facts")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "content")),
                        db.content);
    json_decref(j);
    hk_buf_free(&out);
    tu_discard(a, d1);
    tu_discard(b, d2);
}

/* Rule and vector records are digested: two KBs given the same rule and
 * vector writes at the same clock agree, one vector more or a rule
 * disabled shows. */
static void test_digest_rules_vectors(void **state)
{
    char *dirs[2] = {tu_tmpdir("digrv1"), tu_tmpdir("digrv2")};
    hk_store *s[2];
    hkv_store *vs[2];
    hk_error err;
    for (int i = 0; i < 2; i++) {
        s[i] = tu_open(dirs[i]);
        assert_int_equal(hkv_store_attach(s[i], &vs[i], &err), HK_OK);
        hkst_digest e = digest(s[i]);
        assert_int_equal(e.rules + e.vectors, 0);
        hkr_dbs d;
        assert_int_equal(hkr_open(s[i], &d, &err), HK_OK);
        hk_fact_id id = add(s[i], "Parent(ann, bob)");
        hkv_space sp;
        memset(&sp, 0, sizeof sp);
        snprintf(sp.name, sizeof sp.name, "sp");
        sp.params = (hkv_params){2, HKV_COSINE, HKV_F32, 0, 0, 0};
        float v[2] = {1, 2};
        hk_txn *t = tu_begin(s[i], true);
        hks_txn_set_clock(t, 1796376662000000);
        assert_int_equal(
            hkr_add(t, &d, "kin", "Kin(?x) :- Parent(?x, ?y).", NULL, &err),
            HK_OK);
        assert_int_equal(hkv_space_create(vs[i], t, &sp, &err), HK_OK);
        assert_int_equal(hkv_put(vs[i], t, "sp", id, v, 2, &err), HK_OK);
        tu_commit(t);
    }
    hkst_digest a = digest(s[0]), b = digest(s[1]);
    assert_true(a.rules >= 1);
    assert_int_equal(a.vectors, 2); /* the space and its vector */
    assert_string_equal(a.rules_digest, b.rules_digest);
    assert_string_equal(a.vectors_digest, b.vectors_digest);
    /* a vector changed, a rule disabled: each digest shows its own */
    float w[2] = {2, 1};
    hk_txn *t = tu_begin(s[1], true);
    assert_int_equal(hkv_put(vs[1], t, "sp", 1, w, 2, &err), HK_OK);
    tu_commit(t);
    b = digest(s[1]);
    assert_string_not_equal(a.vectors_digest, b.vectors_digest);
    assert_string_equal(a.rules_digest, b.rules_digest);
    hkr_dbs d;
    assert_int_equal(hkr_open(s[0], &d, &err), HK_OK);
    t = tu_begin(s[0], true);
    assert_int_equal(hkr_set_enabled(t, &d, "kin", false, NULL, &err), HK_OK);
    tu_commit(t);
    assert_string_not_equal(digest(s[0]).rules_digest, a.rules_digest);
    for (int i = 0; i < 2; i++) {
        hkv_store_detach(vs[i]);
        tu_discard(s[i], dirs[i]);
    }
}

/* ==== Publisher on the mock cluster ==== */

typedef struct mock {
    rd_kafka_t *rk;              /* owns the cluster */
    rd_kafka_mock_cluster_t *mc; /* 3 brokers */
    char url[512];               /* kafka://BOOTSTRAP/topic */
} mock;

static void mock_start(mock *m, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(m->rk);
    m->mc = rd_kafka_mock_cluster_new(m->rk, 3);
    assert_non_null(m->mc);
    assert_int_equal(rd_kafka_mock_topic_create(m->mc, topic, 4, 3), 0);
    snprintf(m->url, sizeof m->url, "kafka://%s/%s",
             rd_kafka_mock_cluster_bootstraps(m->mc), topic);
}

static void mock_stop(mock *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

/* Reads every message of topic from the start until `want` arrived (or
 * 20 s passed); checks that the events of each fact come in event order.
 * Returns how many distinct events came. */
static size_t consume_all(const hkst_url *u, size_t want, uint64_t *max_event)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", u->brokers, errstr,
                      sizeof errstr);
    static int round;
    char group[32];
    snprintf(group, sizeof group, "test-%d", ++round); /* from the start */
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *c =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(c);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, u->topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    enum { MAXF = 4096 };
    static uint64_t last_of_fact[MAXF];
    static uint8_t seen[65536];
    memset(last_of_fact, 0, sizeof last_of_fact);
    memset(seen, 0, sizeof seen);
    size_t distinct = 0;
    *max_event = 0;
    int64_t until = hk_now_us() + 20000000;
    while (distinct < want && hk_now_us() < until) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c, 100);
        if (!msg) continue;
        if (!msg->err) {
            json_error_t je;
            json_t *j = json_loadb(msg->payload, msg->len, 0, &je);
            assert_non_null(j);
            json_t *src = json_object_get(j, "source");
            uint64_t ev =
                (uint64_t)json_integer_value(json_object_get(src, "event"));
            uint64_t fact =
                (uint64_t)json_integer_value(json_object_get(src, "fact_id"));
            char key[24];
            snprintf(key, sizeof key, "%llu", (unsigned long long)fact);
            assert_int_equal(msg->key_len, strlen(key));
            assert_memory_equal(msg->key, key, msg->key_len);
            assert_true(fact < MAXF && ev < sizeof seen);
            if (!seen[ev]) {
                /* a repeat (at least once) may come again; new ones in
                 * order per fact */
                assert_true(ev > last_of_fact[fact]);
                last_of_fact[fact] = ev;
                seen[ev] = 1;
                distinct++;
                if (ev > *max_event) *max_event = ev;
            }
            json_decref(j);
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return distinct;
}

static bool wait_drained(hk_store *s, unsigned ms)
{
    int64_t until = hk_now_us() + (int64_t)ms * 1000;
    while (hk_now_us() < until) {
        if (status(s).backlog == 0) return true;
        usleep(20000);
    }
    return false;
}

static void test_publish(void **state)
{
    mock m;
    mock_start(&m, "hakgal.changes");
    char *dir = tu_tmpdir("streampub");
    hk_store *s = tu_open(dir);
    hk_error err;
    hkst_url u;
    assert_int_equal(hkst_url_parse(m.url, &u, &err), HK_OK);
    hkst_pub_options o = {0};
    o.quiet = true;
    o.batch = 64;
    hkst_pub *p;
    assert_int_equal(hkst_pub_start(s, &u, &o, &p, &err), HK_OK);
    /* 300 facts, then an update of every third: 400 events */
    char text[64];
    hk_fact_id ids[300];
    for (int i = 0; i < 300; i++) {
        snprintf(text, sizeof text, "P(e%d)", i);
        ids[i] = add(s, text);
    }
    for (int i = 0; i < 300; i += 3) {
        hk_txn *t = tu_begin(s, true);
        hk_fact_meta meta = {0};
        meta.fields = HK_META_CONFIDENCE;
        meta.confidence = 0.25;
        assert_int_equal(hk_store_set_meta(t, ids[i], &meta, &err), HK_OK);
        tu_commit(t);
    }
    assert_true(wait_drained(s, 20000));
    hkst_pub_stats ps;
    hkst_pub_stats_get(p, &ps);
    assert_true(ps.published >= 400);
    assert_true(ps.connected);
    uint64_t max_ev;
    assert_int_equal(consume_all(&u, 400, &max_ev), 400);
    assert_int_equal(max_ev, 400);

    /* every broker down: events wait; back up: they drain */
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(m.mc, b);
    for (int i = 300; i < 400; i++) {
        snprintf(text, sizeof text, "P(e%d)", i);
        add(s, text);
    }
    usleep(1500000);
    assert_int_equal(status(s).backlog, 100);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(m.mc, b);
    assert_true(wait_drained(s, 30000));
    assert_int_equal(consume_all(&u, 500, &max_ev), 500);
    assert_int_equal(max_ev, 500);

    /* stopped with events waiting: they stay for the next publisher */
    hkst_pub_stop(p, 0);
    add(s, "Late(x)");
    assert_int_equal(status(s).backlog, 1);
    assert_int_equal(hkst_pub_start(s, &u, &o, &p, &err), HK_OK);
    assert_true(wait_drained(s, 20000));
    hkst_pub_stop(p, 1000);
    tu_discard(s, dir);
    mock_stop(&m);
}

/* A commit that is visible but not durable yet (here: a store that syncs
 * a commit's meta page with the next commit, as the pipelined writer
 * does; the write-ahead log is the same case) is not published until a
 * sync makes it durable: a system crash could still take it back. */
static void test_publish_durable_only(void **state)
{
    (void)state;
    mock m;
    mock_start(&m, "hakgal.durable");
    char *dir = tu_tmpdir("streamdur");
    hk_store_options so = {0};
    so.create = true;
    so.map_size = 1ull << 30;
    so.defer_meta_sync = true;
    hk_store *s = NULL;
    hk_error err;
    assert_int_equal(hk_store_open(dir, &so, &s, &err), HK_OK);
    hkst_url u;
    assert_int_equal(hkst_url_parse(m.url, &u, &err), HK_OK);
    hkst_pub_options o = {0};
    o.quiet = true;
    o.poll_ms = 10;
    hkst_pub *p;
    assert_int_equal(hkst_pub_start(s, &u, &o, &p, &err), HK_OK);
    add(s, "Durable(a)");
    /* visible; durable once a later commit or a sync has synced its meta
     * page */
    assert_true(hk_store_durable_commit(s) < hk_store_last_commit(s));
    usleep(300000);
    hkst_pub_stats ps;
    hkst_pub_stats_get(p, &ps);
    assert_int_equal(ps.published, 0);
    assert_int_equal(status(s).backlog, 1);
    /* a sync makes it durable: it goes */
    assert_int_equal(hk_store_sync(s, &err), HK_OK);
    assert_true(wait_drained(s, 20000));
    hkst_pub_stats_get(p, &ps);
    assert_int_equal(ps.published, 1);
    /* the next one waits too, until the commit after it syncs its meta
     * page (the publisher's removal of b, a commit, then does the same
     * for c) */
    add(s, "Durable(b)");
    usleep(300000);
    assert_int_equal(status(s).backlog, 1);
    assert_int_equal(status(s).published_event, 1);
    add(s, "Durable(c)");
    assert_true(wait_drained(s, 20000));
    uint64_t max_ev;
    assert_int_equal(consume_all(&u, 3, &max_ev), 3);
    assert_int_equal(max_ev, 3);
    hkst_pub_stop(p, 1000);
    tu_discard(s, dir);
    mock_stop(&m);
}

/* ==== Follower ==== */

/* Produces values[i] with key keys[i] (the publisher's key: the fact id in
 * decimal, so that the events of one fact share a partition and keep their
 * order; without keys they would spread over the partitions). */
static void produce_raw(const char *brokers, const char *topic,
                        const char *const *values, const char *const *keys,
                        size_t n)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_VALUE((void *)values[i], strlen(values[i])),
                RD_KAFKA_V_KEY((void *)keys[i], strlen(keys[i])),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    assert_int_equal(rd_kafka_flush(rk, 20000), 0);
    rd_kafka_destroy(rk);
}

static hkst_follow_stats wait_applied(hkst_follow *f, uint64_t applied,
                                      uint64_t skipped)
{
    hkst_follow_stats fs = {0};
    int64_t until = hk_now_us() + 30000000;
    while (hk_now_us() < until) {
        hkst_follow_stats_get(f, &fs);
        if (fs.applied >= applied && fs.skipped >= skipped) break;
        usleep(20000);
    }
    return fs;
}

static void test_follow(void **state)
{
    mock m;
    mock_start(&m, "follow");
    hkst_url u;
    hk_error err;
    assert_int_equal(hkst_url_parse(m.url, &u, &err), HK_OK);
    /* the source: a KB whose events are taken from its own outbox */
    char *sdir = tu_tmpdir("followsrc");
    hk_store *src = tu_open(sdir);
    assert_int_equal(hkst_outbox_enable(src, &err), HK_OK);
    hk_fact_id a = add(src, "HasPart(Car, Wheel)");
    add(src, "HasPart(Car, Door)");
    hk_txn *t = tu_begin(src, true);
    hk_statement st = tu_st("HasPart", "Car", "Engine", NULL);
    hk_fact_id other;
    assert_int_equal(hk_store_update(t, a, &st, &other, &err), HK_OK);
    tu_commit(t);
    hkst_event ev[8];
    size_t n;
    hk_buf mem = HK_BUF_INIT;
    t = tu_begin(src, false);
    assert_int_equal(
        hkst_outbox_read(src, t, 0, UINT64_MAX, 8, ev, &n, &mem, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(n, 3);
    /* good events with bad ones between them */
    char *vals[3], keys[3][24];
    for (size_t i = 0; i < 3; i++) {
        vals[i] = strndup(ev[i].json, ev[i].len);
        snprintf(keys[i], sizeof keys[i], "%llu",
                 (unsigned long long)ev[i].fact);
    }
    const char *msgs[] = {vals[0], "{not json", vals[1],
                          "{\"source\":{\"name\":\"other\"},\"kind\":\"add\"}",
                          vals[2]};
    const char *msg_keys[] = {keys[0], "junk", keys[1], "junk", keys[2]};
    produce_raw(u.brokers, u.topic, msgs, msg_keys, 5);

    char *fdir = tu_tmpdir("follower");
    hk_store *fk = tu_open(fdir);
    hkst_follow *f;
    assert_int_equal(hkst_follow_start(fk, &u, true, &f, &err), HK_OK);
    hkst_follow_stats fs = wait_applied(f, 3, 2);
    assert_int_equal(fs.applied, 3);
    assert_int_equal(fs.skipped, 2);
    hkst_follow_stop(f);
    hkst_digest d1 = digest(src), d2 = digest(fk);
    assert_int_equal(d2.facts, 2);
    assert_string_equal(d1.content, d2.content);
    assert_int_equal(d1.audit_seq, d2.audit_seq);
    /* started again: the offsets in the KB say everything was applied */
    assert_int_equal(hkst_follow_start(fk, &u, true, &f, &err), HK_OK);
    const char *more[] = {"{\"late\":1}"}, *more_keys[] = {"junk"};
    produce_raw(u.brokers, u.topic, more, more_keys, 1);
    fs = wait_applied(f, 0, 1);
    assert_int_equal(fs.skipped, 1);
    assert_int_equal(fs.applied, 0); /* nothing applied twice */
    assert_int_equal(fs.lag, 0);
    hkst_follow_stop(f);
    assert_int_equal(digest(fk).audit_seq, d1.audit_seq);
    for (size_t i = 0; i < 3; i++)
        free(vals[i]);
    hk_buf_free(&mem);
    tu_discard(fk, fdir);
    tu_discard(src, sdir);
    mock_stop(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_outbox_events),
        cmocka_unit_test(test_outbox_bulk),
        cmocka_unit_test(test_outbox_vector),
        cmocka_unit_test(test_outbox_rules_entities),
        cmocka_unit_test(test_digest_rules_vectors),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_publish_durable_only),
        cmocka_unit_test(test_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
