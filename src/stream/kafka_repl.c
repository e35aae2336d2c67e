/*
 * kafka_repl.c — multi-writer replication: the log of writes shared by all
 * nodes of a cluster (`hakgal serve --replicate kafka://B/T --node-id N`).
 *
 * Design (docs/STREAM.md, "Replicated nodes"):
 *   1. A write is not applied where it arrives: the node produces a command
 *      message (the operation, its request, the actor and the time) to
 *      partition 0 of the topic. The topic's single partition is the total
 *      order of all writes of the cluster; a topic with more partitions is
 *      refused.
 *   2. Every node (the writer included) consumes partition 0 from the
 *      offset recorded in its KB (module database "repl.offsets", the one
 *      followers use) and applies the commands in log order, a batch per
 *      write transaction that also records the next offset (kafka_apply.c,
 *      shared with followers): a crash at any point resumes after the last
 *      committed batch (exactly once). A batch request (one command) is
 *      applied in bulk mode and its import audit entry recorded right
 *      after it (hks_txn_end_bulk), so the audit chain does not depend on
 *      how commands were grouped into transactions.
 *   3. Apply is deterministic: each command runs under its message's actor
 *      with the txn's clock fixed to the message's time (hks_txn_set_clock),
 *      fact ids come from the apply order, so every node that applied the
 *      same prefix of the log holds byte-identical facts and audit chain.
 *      An operation that fails on its input (not found, exists...) fails on
 *      every node alike and leaves the txn unchanged (the write_fn contract
 *      of the server); a failure of the store itself aborts the batch,
 *      which is applied again from the recorded offset.
 *   4. A message that is not a command (not JSON, foreign, missing fields)
 *      is skipped on every node: its offset is recorded, a line is logged
 *      and `skipped` counts it.
 *   5. Apply commits skip fsync (o.sync_ms > 0): the log already holds
 *      every command durably, and the offset committed with a batch says
 *      which commands the KB holds. A kill -9 loses nothing (the page
 *      cache has every commit); a system crash loses at most the commits
 *      since the last sync, and they are applied again from the offset
 *      that sync made durable. A syncer thread syncs the KB every sync_ms
 *      while a commit is not durable, and stop syncs once more. An
 *      acknowledgement (--ack applied) therefore rests on the log, not on
 *      this node's disk (docs/STREAM.md, "Durability of the apply").
 *   6. Readiness: the server answers /readyz 200 once the log's end is
 *      known and while at most --replicate-max-lag commands wait
 *      (stats.connected, stats.lag). The lag is published after every
 *      poll and every apply txn ("The lag" below).
 *
 * The callbacks (hkst_repl_cb) let the server run its own operations: it
 * decodes a command into the same write function its REST route uses.
 *
 * Threads: the apply thread owns the consumer; a delivery thread serves the
 * producer's delivery reports; the syncer only syncs the store;
 * hkst_repl_produce, hkst_repl_stats_get and hkst_repl_stop may be called from
 * any thread (`lock` guards stats/stop).
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "otel/otel.h"
#include "store/store.h"
#include "stream/kafka_apply.h"
#include "stream/stream.h"

#define BATCH_MAX HKST_APPLY_MAX
#define TXN_BYTES ((size_t)8 << 20) /* commands per apply txn, bytes */
/* How long an apply txn goes on taking the commands that arrived while it
 * was applied (more_work), from its start, by default (ms). */
#define TXN_OPEN_MS 200
#define MAGIC "hakgal.replicate"
#define VERSION 2 /* 2: the request is a service write command (svc_cmd.h) */
#define BIN_MAGIC "\0hkr" /* a binary command (its first 4 bytes) */
#define BIN_VERSION 3
#define BIN_HEAD 33 /* magic, version, node, inc, seq, ts_us */

struct hkst_repl {
    hk_store *s;          /* the KB; outlives the replicator */
    hkst_url url;         /* brokers and topic */
    hkst_repl_options o;  /* options, defaults filled in */
    hks_db offsets;       /* repl.offsets */
    rd_kafka_t *prod;     /* producer (any thread) */
    rd_kafka_t *cons;     /* consumer (apply thread) */
    rd_kafka_topic_t *pt; /* producer topic handle */
    pthread_t apply_th;   /* the apply thread */
    pthread_t dr_th;      /* the delivery-report thread */
    bool apply_started;   /* apply_th created */
    bool dr_started;      /* dr_th created */
    pthread_mutex_t lock; /* guards stop and stats */
    bool stop;            /* stop requested */
    hkst_repl_stats stats;
    int64_t next;             /* next offset to apply (apply thread) */
    hkst_repl_msg *msgs;      /* BATCH_MAX decoded messages (apply thread) */
    hk_err *rcs;              /* their results */
    hk_error *errs;           /* their error details */
    json_t **docs;            /* their parsed JSON (owned while applying) */
    bool *bad;                /* skipped (not a command) */
    rd_kafka_message_t **raw; /* the consumed messages */
    size_t n_raw;             /* how many raw holds */
    size_t txn_bytes;         /* commands in the current apply txn, bytes */
    int64_t txn_start;        /* its start, mono_us() */
    pthread_t sync_th;        /* the syncer (o.sync_ms > 0) */
    bool sync_started;        /* sync_th created */
    pthread_cond_t wake;      /* signalled on stop (with lock) */
};

static void rlog(hkst_repl *r, const char *what, const char *why)
{
    if (!r->o.quiet) fprintf(stderr, "hakgal replicate: %s: %s\n", what, why);
}

static bool stopping(hkst_repl *r)
{
    pthread_mutex_lock(&r->lock);
    bool s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* ==== Producing ==== */

/* Produces value[0..len) (malloc'd: librdkafka frees it with free(), on
 * failure we do) as seq's command. */
static hk_err send_msg(hkst_repl *r, uint64_t seq, char *value, size_t len,
                       const char *traceparent, hk_error *err)
{
    char key[24];
    int kl = snprintf(key, sizeof key, "%u", (unsigned)r->o.node_id);
    rd_kafka_headers_t *hdrs = NULL;
    if (traceparent && *traceparent) {
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "traceparent", -1, traceparent,
                            (ssize_t)strlen(traceparent));
    }
    rd_kafka_resp_err_t ke = rd_kafka_producev(
        r->prod, RD_KAFKA_V_RKT(r->pt), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_VALUE(value, len),
        RD_KAFKA_V_KEY(key, (size_t)kl),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_END);
    if (ke) { /* the headers and the value stay ours on failure */
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        free(value);
        return hk_error_set(err, HK_ERR_LIMIT, "replication log: %s",
                            rd_kafka_err2str(ke));
    }
    pthread_mutex_lock(&r->lock);
    r->stats.produced++;
    pthread_mutex_unlock(&r->lock);
    return HK_OK;
}

hk_err hkst_repl_produce(hkst_repl *r, uint64_t seq, const char *op,
                         const char *actor, json_t *req,
                         const char *traceparent, hk_error *err)
{
    json_t *m =
        json_pack("{s:s, s:i, s:I, s:I, s:I, s:s, s:s, s:I, s:o}", "hakgal",
                  MAGIC, "v", VERSION, "node", (json_int_t)r->o.node_id, "inc",
                  (json_int_t)r->o.incarnation, "seq", (json_int_t)seq, "op",
                  op, "actor", actor && *actor ? actor : "local", "ts_us",
                  (json_int_t)hk_now_us(), "req", req);
    if (!m) return hk_error_set(err, HK_ERR_NOMEM, "cannot build the command");
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (!text) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return send_msg(r, seq, text, strlen(text), traceparent, err);
}

static uint8_t *put_le(uint8_t *w, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        w[i] = (uint8_t)(v >> (8 * i));
    return w + n;
}

/* A string of the binary head: u16 length (its NUL included), bytes, NUL. */
static uint8_t *put_cstr(uint8_t *w, const char *s, size_t n)
{
    w = put_le(w, n + 1, 2);
    memcpy(w, s, n);
    w[n] = 0;
    return w + n + 1;
}

hk_err hkst_repl_produce_packed(hkst_repl *r, uint64_t seq, const char *op,
                                const char *actor, const void *req, size_t len,
                                const char *traceparent, hk_error *err)
{
    if (!actor || !*actor) actor = "local";
    size_t no = strlen(op), na = strlen(actor);
    if (no >= UINT16_MAX || na >= UINT16_MAX || !len)
        return hk_error_set(err, HK_ERR_INVALID,
                            "command empty, or its name or actor too long");
    size_t total = BIN_HEAD + 2 + no + 1 + 2 + na + 1 + len;
    uint8_t *m = malloc(total), *w = m; /* freed by librdkafka: free() */
    if (!m) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    memcpy(w, BIN_MAGIC, 4);
    w = put_le(w + 4, BIN_VERSION, 1);
    w = put_le(w, r->o.node_id, 4);
    w = put_le(w, r->o.incarnation, 8);
    w = put_le(w, seq, 8);
    w = put_le(w, (uint64_t)hk_now_us(), 8);
    w = put_cstr(w, op, no);
    w = put_cstr(w, actor, na);
    memcpy(w, req, len);
    return send_msg(r, seq, (char *)m, total, traceparent, err);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ud)
{
    (void)rk;
    hkst_repl *r = ud;
    uint64_t seq = (uint64_t)(uintptr_t)m->_private;
    if (m->err) {
        pthread_mutex_lock(&r->lock);
        r->stats.produce_failures++;
        pthread_mutex_unlock(&r->lock);
    }
    if (r->o.cb.delivered)
        r->o.cb.delivered(r->o.cb.ctx, seq, m->err ? -1 : m->offset,
                          m->err ? rd_kafka_err2str(m->err) : NULL);
}

static void *dr_main(void *arg)
{
    hkst_repl *r = arg;
    while (!stopping(r))
        rd_kafka_poll(r->prod, 50);
    return NULL;
}

/* ==== Decoding a command ====
 * Message forms. JSON (version 2): {"hakgal": "hakgal.replicate", "v": 2,
 * "node", "inc", "seq", "op", "actor", "ts_us", "req": the command's JSON
 * (svc_cmd.h)}. Binary (version 3), for the commands that have a binary
 * form (fact.add, fact.batch), all integers little-endian:
 *   4 bytes "\0hkr" (no JSON text starts with a NUL), u8 version (3),
 *   u32 node, u64 inc, u64 seq, i64 ts_us, op and actor (each u16 length
 *   with its NUL, bytes, NUL), then the command's binary form to the end.
 * Both are applied alike; a node produces the binary form where one
 * exists. The binary form spares every node a jansson tree of the whole
 * command per apply and the parse of every statement (bench/RESULTS.md,
 * "Replication commands in binary"). */

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A NUL-terminated string of the binary head at *p (u16 length with the
 * NUL); NULL when it does not fit before end or is not one string. */
static const char *get_cstr(const uint8_t **p, const uint8_t *end)
{
    if (end - *p < 2) return NULL;
    size_t n = (size_t)get_le(*p, 2);
    const uint8_t *s = *p + 2;
    if (n < 1 || (size_t)(end - s) < n || s[n - 1] != 0 || memchr(s, 0, n - 1))
        return NULL;
    *p = s + n;
    return (const char *)s;
}

/* Fills m from the binary message p[0..len); false when it is not one. */
static bool decode_bin(const uint8_t *p, size_t len, hkst_repl_msg *m)
{
    memset(m, 0, sizeof *m);
    const uint8_t *end = p + len;
    if (len < BIN_HEAD || memcmp(p, BIN_MAGIC, 4) != 0 || p[4] != BIN_VERSION)
        return false;
    m->node = (uint32_t)get_le(p + 5, 4);
    m->incarnation = get_le(p + 9, 8);
    m->seq = get_le(p + 17, 8);
    m->ts_us = (int64_t)get_le(p + 25, 8);
    p += BIN_HEAD;
    m->op = get_cstr(&p, end);
    m->actor = m->op ? get_cstr(&p, end) : NULL;
    if (!m->op || !m->actor || !*m->actor || m->ts_us <= 0 || p == end)
        return false;
    m->bin = p;
    m->bin_len = (size_t)(end - p);
    return true;
}

/* Fills m from j; false when j is not a command of this format. */
static bool decode(json_t *j, hkst_repl_msg *m)
{
    memset(m, 0, sizeof *m);
    const char *magic = json_string_value(json_object_get(j, "hakgal"));
    json_t *node = json_object_get(j, "node"), *inc = json_object_get(j, "inc");
    json_t *seq = json_object_get(j, "seq"), *ts = json_object_get(j, "ts_us");
    m->op = json_string_value(json_object_get(j, "op"));
    m->actor = json_string_value(json_object_get(j, "actor"));
    m->req = json_object_get(j, "req");
    if (!magic || strcmp(magic, MAGIC) != 0 ||
        json_integer_value(json_object_get(j, "v")) != VERSION ||
        !json_is_integer(node) || !json_is_integer(inc) ||
        !json_is_integer(seq) || !json_is_integer(ts) ||
        json_integer_value(ts) <= 0 || !m->op || !m->actor || !*m->actor ||
        !json_is_object(m->req))
        return false;
    m->node = (uint32_t)json_integer_value(node);
    m->incarnation = (uint64_t)json_integer_value(inc);
    m->seq = (uint64_t)json_integer_value(seq);
    m->ts_us = json_integer_value(ts);
    return true;
}

/* ==== Applying ==== */

static bool fatal(hk_err e)
{
    return e && e != HK_ERR_INVALID && e != HK_ERR_NOT_FOUND &&
           e != HK_ERR_EXISTS && e != HK_ERR_LIMIT && e != HK_ERR_UNSUPPORTED;
}

static hk_err assign_at(hkst_repl *r, hk_error *err);

/* ==== The lag ====
 * The log's end is librdkafka's high watermark of partition 0: unknown
 * (negative) until the first fetch response (empty or not) carried it,
 * then updated by every fetch response. The lag is the commands between
 * the next offset to apply and that end; commands polled but not applied
 * yet count. It is published (step 6) as soon as the end is known after
 * a poll, and again after every apply txn, never only after a whole poll
 * was applied: a restarted node a few commands behind (each possibly a
 * batch of 10,000 facts) would otherwise answer /readyz 503 until it had
 * applied them all, although it is within --replicate-max-lag from its
 * first fetch (bench/RESULTS.md, "Restart to ready"). */

static uint64_t lag_of(hkst_repl *r, int64_t *high)
{
    int64_t lo, hi;
    if (rd_kafka_get_watermark_offsets(r->cons, r->url.topic, 0, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
        return 0;
    *high = hi;
    int64_t next = r->next > lo ? r->next : lo;
    return hi > next ? (uint64_t)(hi - next) : 0;
}

/* Publishes the next offset to apply with the lag from it (one critical
 * section: a reader never sees a new offset beside an old lag), and that
 * the log's end is known, once it is (lock not held; apply thread). */
static void publish_lag(hkst_repl *r)
{
    int64_t hi = -1;
    uint64_t lag = lag_of(r, &hi);
    pthread_mutex_lock(&r->lock);
    r->stats.next_offset = r->next;
    if (hi >= 0) {
        r->stats.lag = lag;
        r->stats.high_offset = hi;
        r->stats.connected = true;
    }
    pthread_mutex_unlock(&r->lock);
}

/* The W3C trace context the producing node put in the message's
 * "traceparent" header; false when there is none (or it is invalid). */
static bool trace_of(const rd_kafka_message_t *km, hk_trace_ctx *ctx)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    memset(ctx, 0, sizeof *ctx);
    return rd_kafka_message_headers(km, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
           rd_kafka_header_get_last(h, "traceparent", &v, &len) ==
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           v && hk_traceparent_parse(v, len, ctx);
}

/* hkst_apply's step: message i under its actor and time; with a tracer
 * and a traceparent in the message, in a span "replicate.apply" that is a
 * child of the span of the request that produced the command. */
static hk_err apply_one(void *ctx, hk_txn *t, size_t i, hk_error *err)
{
    hkst_repl *r = ctx;
    hkst_repl_msg *m = &r->msgs[i];
    hk_trace_ctx parent;
    hk_span sp;
    bool traced = hk_otel_active() && trace_of(r->raw[i], &parent);
    if (traced) {
        hk_span_start(&sp, "replicate.apply", HK_SPAN_INTERNAL, &parent, false);
        hk_span_attr_str(&sp, "hakgal.operation", m->op, strlen(m->op));
        hk_span_attr_int(&sp, "messaging.kafka.offset", r->raw[i]->offset);
        hk_span_attr_int(&sp, "hakgal.node", (int64_t)r->o.node_id);
    }
    m->offset = r->raw[i]->offset;
    hks_txn_set_clock(t, m->ts_us);
    hk_err e = hk_txn_set_actor(t, m->actor);
    if (e)
        e = hk_error_set(err, e, "bad actor in the command");
    else
        e = r->o.cb.apply(r->o.cb.ctx, t, m, err);
    /* a batch's import entry is recorded here, as its own commit would,
     * so that batches share a txn with their neighbours (step 2) */
    if (!fatal(e)) {
        hk_err be = hks_txn_end_bulk(t, err);
        if (be) e = be;
    }
    if (traced) {
        if (e) hk_span_set_error(&sp, hk_strerror(e));
        hk_span_end(&sp);
    }
    return e;
}

static bool input_error(hk_err e)
{
    return !fatal(e);
}

static size_t more_work(void *ctx, size_t hi);

/* Applies raw[lo..*hi) in one txn, *hi moved on by more_work; false when
 * the store failed (nothing is reported; the consumer was sent back to the
 * recorded offset). */
static bool apply_range(hkst_repl *r, size_t lo, size_t *end)
{
    hkst_apply a = {.s = r->s,
                    .offsets = r->offsets,
                    .ctx = r,
                    .apply = apply_one,
                    .input_error = input_error,
                    .no_sync = r->o.sync_ms > 0,
                    .more = more_work};
    hk_error err;
    size_t applied = 0, skipped = 0;
    hk_err e = hkst_apply_txn(&a, r->raw, lo, end, r->bad, r->rcs, r->errs,
                              &applied, &skipped, &err);
    size_t hi = *end;
    if (e) {
        rlog(r, "cannot apply a batch (will retry)", err.message);
        pthread_mutex_lock(&r->lock);
        r->stats.failures++;
        pthread_mutex_unlock(&r->lock);
        usleep(200000);
        hk_error aerr;
        if (assign_at(r, &aerr)) rlog(r, "cannot reassign", aerr.message);
        return false;
    }
    r->next = r->raw[hi - 1]->offset + 1;
    pthread_mutex_lock(&r->lock);
    r->stats.applied += applied;
    r->stats.skipped += skipped;
    r->stats.txns++;
    r->stats.last_apply_us = hk_now_us();
    pthread_mutex_unlock(&r->lock);
    publish_lag(r);
    if (r->o.cb.applied)
        for (size_t i = lo; i < hi; i++)
            if (!r->bad[i])
                r->o.cb.applied(r->o.cb.ctx, &r->msgs[i], r->rcs[i],
                                &r->errs[i]);
    return true;
}

/* Parses message i into docs[i] and msgs[i]; one that is not a command
 * is marked bad and logged (step 4). */
static void decode_msg(hkst_repl *r, size_t i)
{
    json_error_t je;
    const uint8_t *p = r->raw[i]->payload;
    size_t len = r->raw[i]->len;
    const char *why = "not a hakgal replication command";
    if (len > 0 && p[0] == 0) { /* binary */
        r->docs[i] = NULL;
        r->bad[i] = !decode_bin(p, len, &r->msgs[i]);
    } else {
        r->docs[i] = json_loadb((const char *)p, len, 0, &je);
        r->bad[i] = !r->docs[i] || !decode(r->docs[i], &r->msgs[i]);
        if (!r->docs[i]) why = je.text;
    }
    if (!r->bad[i]) return;
    char where[96];
    snprintf(where, sizeof where, "skipped message at offset %lld",
             (long long)r->raw[i]->offset);
    rlog(r, where, why);
}

static void release_docs(hkst_repl *r, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        json_decref(r->docs[i]);
        r->docs[i] = NULL;
    }
}

static void poll_log(void *ctx, const char *why)
{
    rlog(ctx, "consumer", why);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* hkst_apply's more: once an apply txn has applied every command it held,
 * it takes those that arrived meanwhile (a poll that does not wait), up
 * to TXN_BYTES and while it is younger than o.txn_open_ms. A node that is
 * behind, or that takes writes faster than one txn applies them, thus
 * commits fewer, larger txns: every txn costs pages per heavy entity
 * whatever its size (docs/STORAGE.md, "Pages a write transaction dirties
 * in `by_arg`"), so the pages per fact fall with the commands per txn.
 * Nothing ever waits for more: a command that finds the node idle is
 * committed as soon as it is applied, and a command waits at most for
 * the commands that arrived while its txn was applied, within
 * o.txn_open_ms (bench/RESULTS.md, "Apply txns take what arrived while
 * they ran"). */
static size_t more_work(void *ctx, size_t hi)
{
    hkst_repl *r = ctx;
    if (hi < r->n_raw || r->n_raw == BATCH_MAX || r->txn_bytes >= TXN_BYTES ||
        mono_us() - r->txn_start >= (int64_t)r->o.txn_open_ms * 1000)
        return hi;
    size_t m =
        hkst_apply_poll(r->cons, 0, r->raw + hi, BATCH_MAX - hi, poll_log, r);
    r->n_raw += m;
    size_t to = hi;
    while (to < r->n_raw && r->txn_bytes + r->raw[to]->len <= TXN_BYTES) {
        r->txn_bytes += r->raw[to]->len;
        decode_msg(r, to++);
    }
    return to;
}

/* Applies raw[0..n_raw): runs of commands share a txn, up to TXN_BYTES of
 * commands each (a node catching up applies many batches per commit; a
 * txn's dirty pages and the wait of its first command stay bounded), and
 * a txn goes on with the commands that arrive while it runs (more_work).
 * Stops at the first store failure.
 *
 * A run's commands are parsed just before it is applied and freed right
 * after: a poll of a node catching up returns up to BATCH_MAX commands
 * (1M facts in batches), and their JSON trees parsed all at once took
 * hundreds of MiB of fresh heap: heap growth and its page faults were
 * about a fifth of the node's CPU samples (bench/RESULTS.md, "Where a
 * batch's pages go; catch-up parses per transaction"). One run's trees
 * reuse the memory of the run before. */
static void apply_batch(hkst_repl *r)
{
    size_t lo = 0;
    while (lo < r->n_raw) {
        size_t hi = lo + 1, bytes = r->raw[lo]->len;
        while (hi < r->n_raw && bytes + r->raw[hi]->len <= TXN_BYTES)
            bytes += r->raw[hi++]->len;
        for (size_t i = lo; i < hi; i++)
            decode_msg(r, i);
        r->txn_bytes = bytes;
        r->txn_start = mono_us();
        bool ok = apply_range(r, lo, &hi);
        release_docs(r, lo, hi);
        if (!ok) return;
        lo = hi;
    }
}

/* Syncs the KB when a commit is not durable yet; a failure is logged and
 * counted, and the next round tries again. */
static void sync_now(hkst_repl *r)
{
    hk_error err;
    if (hk_store_durable_commit(r->s) >= hk_store_last_commit(r->s)) return;
    if (hk_store_sync(r->s, &err) == HK_OK) return;
    rlog(r, "cannot sync the KB (will retry)", err.message);
    pthread_mutex_lock(&r->lock);
    r->stats.failures++;
    pthread_mutex_unlock(&r->lock);
}

/* The syncer (step 5): every sync_ms, off the apply thread, so that an
 * apply never waits for the disk. */
static void *sync_main(void *arg)
{
    hkst_repl *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)r->o.sync_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        (void)pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        if (r->stop) break;
        pthread_mutex_unlock(&r->lock);
        sync_now(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void *apply_main(void *arg)
{
    hkst_repl *r = arg;
    while (!stopping(r)) {
        r->n_raw = hkst_apply_poll(r->cons, 20, r->raw, BATCH_MAX, poll_log, r);
        publish_lag(r); /* before the apply: the polled commands count */
        apply_batch(r);
        for (size_t i = 0; i < r->n_raw; i++)
            rd_kafka_message_destroy(r->raw[i]);
        publish_lag(r);
    }
    return NULL;
}

/* ==== Start and stop ==== */

static hk_err set(rd_kafka_conf_t *c, const char *k, const char *v,
                  hk_error *err)
{
    char msg[512];
    if (rd_kafka_conf_set(c, k, v, msg, sizeof msg) != RD_KAFKA_CONF_OK)
        return hk_error_set(err, HK_ERR_INVALID, "kafka %s: %s", k, msg);
    return HK_OK;
}

static hk_err clients_new(hkst_repl *r, hk_error *err)
{
    char msg[512], tmo[24];
    hk_err e;
    snprintf(tmo, sizeof tmo, "%u", r->o.timeout_ms);
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(pc, r);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if ((e = set(pc, "bootstrap.servers", r->url.brokers, err)) ||
        (e = set(pc, "enable.idempotence", "true", err)) ||
        (e = set(pc, "acks", "all", err)) ||
        (e = set(pc, "linger.ms", "1", err)) ||
        /* a lone command must not wait for Nagle's ACK round trip */
        (e = set(pc, "socket.nagle.disable", "true", err)) ||
        /* a batch request is one command: allow large ones (the topic's
         * max.message.bytes must allow them too on a real broker) */
        (e = set(pc, "message.max.bytes", "67108864", err)) ||
        (e = set(pc, "message.timeout.ms", tmo, err)) ||
        (e = set(pc, "log_level", r->o.quiet ? "0" : "3", err))) {
        rd_kafka_conf_destroy(pc);
        return e;
    }
    if (rd_kafka_conf_set(pc, "compression.type", "zstd", msg, sizeof msg))
        (void)rd_kafka_conf_set(pc, "compression.type", "snappy", msg,
                                sizeof msg);
    r->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, msg, sizeof msg);
    if (!r->prod) {
        rd_kafka_conf_destroy(pc);
        return hk_error_set(err, HK_ERR_INVALID, "kafka producer: %s", msg);
    }
    r->pt = rd_kafka_topic_new(r->prod, r->url.topic, NULL);
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    if ((e = set(cc, "bootstrap.servers", r->url.brokers, err)) ||
        (e = set(cc, "group.id", "hakgal-replica", err)) ||
        (e = set(cc, "enable.auto.commit", "false", err)) ||
        (e = set(cc, "enable.auto.offset.store", "false", err)) ||
        (e = set(cc, "fetch.wait.max.ms", "5", err)) ||
        /* a node catching up reads whole batches of commands per fetch,
         * not 1 MiB (the default) */
        (e = set(cc, "max.partition.fetch.bytes", "16777216", err)) ||
        (e = set(cc, "fetch.error.backoff.ms", "50", err)) ||
        (e = set(cc, "socket.nagle.disable", "true", err)) ||
        (e = set(cc, "log_level", r->o.quiet ? "0" : "3", err))) {
        rd_kafka_conf_destroy(cc);
        return e;
    }
    r->cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, msg, sizeof msg);
    if (!r->cons) {
        rd_kafka_conf_destroy(cc);
        return hk_error_set(err, HK_ERR_INVALID, "kafka consumer: %s", msg);
    }
    rd_kafka_poll_set_consumer(r->cons);
    return HK_OK;
}

/* Assigns partition 0 at the recorded offset. */
static hk_err assign_at(hkst_repl *r, hk_error *err)
{
    hk_txn *t;
    hk_err e = hk_txn_begin(r->s, false, &t, err);
    if (e) return e;
    int64_t next = hkst_apply_offset(t, r->offsets, 0);
    hk_txn_abort(t);
    r->next = next < 0 ? 0 : next;
    /* the applied offset is the KB's from the start, not 0 until the
     * first apply txn of this process */
    pthread_mutex_lock(&r->lock);
    r->stats.next_offset = r->next;
    pthread_mutex_unlock(&r->lock);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->url.topic, 0)->offset = next;
    rd_kafka_resp_err_t ke = rd_kafka_assign(r->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (ke)
        return hk_error_set(err, HK_ERR_IO, "replicate: assign: %s",
                            rd_kafka_err2str(ke));
    return HK_OK;
}

/* Waits up to 30 s for the topic; refuses more than one partition. */
static hk_err check_topic(hkst_repl *r, hk_error *err)
{
    const struct rd_kafka_metadata *md = NULL;
    int parts = -1;
    for (int i = 0; i < 30 && parts < 1; i++) {
        if (rd_kafka_metadata(r->prod, 0, r->pt, &md, 1000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                parts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
    }
    if (parts < 1)
        return hk_error_set(err, HK_ERR_IO, "replicate: no topic %s on %s",
                            r->url.topic, r->url.brokers);
    if (parts != 1)
        return hk_error_set(err, HK_ERR_INVALID,
                            "replicate: topic %s has %d partitions; the log "
                            "of writes must have exactly one (it is the "
                            "total order of the cluster's writes)",
                            r->url.topic, parts);
    return HK_OK;
}

hk_err hkst_repl_start(hk_store *s, const hkst_url *url,
                       const hkst_repl_options *o, hkst_repl **out,
                       hk_error *err)
{
    hk_err e;
    *out = NULL;
    if (!o->cb.apply)
        return hk_error_set(err, HK_ERR_INVALID, "replicate: no apply");
    hkst_repl *r = hk_calloc(1, sizeof *r);
    if (!r) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    r->s = s;
    r->url = *url;
    r->o = *o;
    if (!r->o.timeout_ms) r->o.timeout_ms = 10000;
    if (!r->o.txn_open_ms) r->o.txn_open_ms = TXN_OPEN_MS;
    if (!r->o.incarnation) r->o.incarnation = (uint64_t)hk_now_us();
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->msgs = hk_calloc(BATCH_MAX, sizeof *r->msgs);
    r->rcs = hk_calloc(BATCH_MAX, sizeof *r->rcs);
    r->errs = hk_calloc(BATCH_MAX, sizeof *r->errs);
    r->docs = hk_calloc(BATCH_MAX, sizeof *r->docs);
    r->bad = hk_calloc(BATCH_MAX, sizeof *r->bad);
    r->raw = hk_calloc(BATCH_MAX, sizeof *r->raw);
    if (!r->msgs || !r->rcs || !r->errs || !r->docs || !r->bad || !r->raw) {
        e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((e = hks_db_register(s, HKST_OFFSETS_DB, 0, &r->offsets, err)) ||
        (e = clients_new(r, err)) || (e = check_topic(r, err)) ||
        (e = assign_at(r, err)))
        goto fail;
    if (pthread_create(&r->dr_th, NULL, dr_main, r) != 0) {
        e = hk_error_set(err, HK_ERR_NOMEM, "cannot start a thread");
        goto fail;
    }
    r->dr_started = true;
    pthread_setname_np(r->dr_th, "hk-repl-dr"); /* for top -H and benches */
    if (pthread_create(&r->apply_th, NULL, apply_main, r) != 0) {
        e = hk_error_set(err, HK_ERR_NOMEM, "cannot start a thread");
        goto fail;
    }
    r->apply_started = true;
    pthread_setname_np(r->apply_th, "hk-repl-apply");
    if (r->o.sync_ms > 0) {
        if (pthread_create(&r->sync_th, NULL, sync_main, r) != 0) {
            e = hk_error_set(err, HK_ERR_NOMEM, "cannot start a thread");
            goto fail;
        }
        r->sync_started = true;
        pthread_setname_np(r->sync_th, "hk-repl-sync");
    }
    *out = r;
    return HK_OK;
fail:
    hkst_repl_stop(r);
    return e;
}

void hkst_repl_stats_get(hkst_repl *r, hkst_repl_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

void hkst_repl_stop(hkst_repl *r)
{
    if (!r) return;
    if (r->prod) rd_kafka_flush(r->prod, 2000);
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (r->apply_started) pthread_join(r->apply_th, NULL);
    if (r->dr_started) pthread_join(r->dr_th, NULL);
    if (r->sync_started) pthread_join(r->sync_th, NULL);
    if (r->o.sync_ms > 0) sync_now(r); /* the last applied commits */
    if (r->cons) {
        rd_kafka_consumer_close(r->cons);
        rd_kafka_destroy(r->cons);
    }
    if (r->pt) rd_kafka_topic_destroy(r->pt);
    if (r->prod) {
        /* what the log did not take by now was answered 503 (or will not
         * be waited for): drop it rather than wait for its timeout */
        rd_kafka_purge(r->prod,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(r->prod);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    hk_free(r->msgs);
    hk_free(r->rcs);
    hk_free(r->errs);
    hk_free(r->docs);
    hk_free(r->bad);
    hk_free(r->raw);
    hk_free(r);
}
