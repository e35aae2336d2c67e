/*
 * kafka_follow.c — a follower: applies another node's change stream (the
 * envelopes of outbox.c, docs/STREAM.md) to this KB, in log order, with the
 * consumed offsets stored in the same LMDB transaction as the changes.
 *
 * Design:
 *   1. No consumer group: the follower assigns every partition of the topic
 *      itself, starting at the offsets recorded in the module database
 *      "repl.offsets" (key: partition as 4 bytes big-endian; value: the
 *      next offset, 8 bytes big-endian), or at the beginning. A crash
 *      between two transactions resumes exactly after the last committed
 *      message: each message is applied once.
 *   2. Messages are applied in batches (all that arrived, up to 1000) in one
 *      write txn (kafka_apply.c, shared with replicated nodes), each under
 *      the actor of its event. Facts are named by
 *      their canonical statement, never by id, so a follower converges to
 *      the same facts and metadata (equal `hakgal digest` content) whatever
 *      ids it hands out. add: the fact with its metadata and times (a MERGE
 *      when present); delete: by the before statement; update: before ->
 *      after statement; meta: the after metadata; vector events are skipped
 *      (the vector bytes are not in the stream), and so are rule events.
 *   3. A message that is not a hakgal change event (bad JSON, missing
 *      fields, foreign source), or whose change cannot be applied (a delete
 *      of a fact that is not there), is skipped: its offset is recorded
 *      like any other, a line is logged and `skipped` counts it. Nothing of
 *      a skipped message is written. A failure of the store itself (disk
 *      full, I/O) skips nothing: the batch is aborted, the consumer goes
 *      back to the recorded offsets and the batch is applied again.
 *   4. Conflicts resolve by log order: the topic's order per fact (its
 *      partition) is the order of the source's commits; the follower
 *      applies exactly that order, the last write of a fact wins.
 *   5. The lag (messages on the topic not applied yet, what /readyz
 *      compares with --follow-max-lag) counts only once the end of every
 *      partition is known (stats.connected): before the first fetch
 *      responses it is unknown, not 0, so a follower that starts behind
 *      does not report ready before it learnt how far behind it is.
 *
 * Threads: one follower thread owns the consumer; hkst_follow_stats_get
 * and hkst_follow_stop may be called from any thread (`lock`).
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/store.h"
#include "stream/kafka_apply.h"
#include "stream/stream.h"

#define BATCH_MAX HKST_APPLY_MAX
#define PARTITIONS_MAX 256

struct hkst_follow {
    hk_store *s;                  /* the KB; outlives the follower */
    hkst_url url;                 /* brokers and topic */
    bool quiet;                   /* no log lines */
    hks_db offsets;               /* repl.offsets */
    rd_kafka_t *rk;               /* the consumer (follower thread only) */
    pthread_t thread;             /* the follower thread */
    bool started;                 /* thread was created */
    pthread_mutex_t lock;         /* guards stop and stats */
    bool stop;                    /* stop requested */
    hkst_follow_stats stats;      /* counters */
    int n_parts;                  /* partitions assigned */
    int64_t next[PARTITIONS_MAX]; /* next offset per partition (thread) */
};

static void flog(hkst_follow *f, const char *what, const char *why)
{
    if (!f->quiet) fprintf(stderr, "hakgal follow: %s: %s\n", what, why);
}

/* ==== Applying one event ==== */

/* The statement of a fact object ("statement" member) into st. */
static hk_err fact_statement(json_t *fact, hk_statement *st, hk_error *err)
{
    const char *text = json_string_value(json_object_get(fact, "statement"));
    if (!text) return hk_error_set(err, HK_ERR_INVALID, "no fact statement");
    return hk_statement_parse(text, strlen(text), st, err);
}

/* Metadata of a fact object; strings point into the JSON. */
static hk_err fact_meta(json_t *fact, hk_fact_meta *m, const char **tags,
                        char **context, bool times, hk_error *err)
{
    memset(m, 0, sizeof *m);
    json_t *c = json_object_get(fact, "confidence");
    json_t *src = json_object_get(fact, "source");
    json_t *tg = json_object_get(fact, "tags");
    json_t *ctx = json_object_get(fact, "context");
    if (!json_is_number(c) || !json_is_array(tg) ||
        json_array_size(tg) > HK_MAX_TAGS)
        return hk_error_set(err, HK_ERR_INVALID, "bad fact metadata");
    m->fields =
        HK_META_CONFIDENCE | HK_META_SOURCE | HK_META_TAGS | HK_META_CONTEXT;
    m->confidence = json_number_value(c);
    m->source = json_string_value(src);
    for (size_t i = 0; i < json_array_size(tg); i++) {
        tags[i] = json_string_value(json_array_get(tg, i));
        if (!tags[i]) return hk_error_set(err, HK_ERR_INVALID, "bad tag");
    }
    m->tags = tags;
    m->n_tags = (uint32_t)json_array_size(tg);
    *context = json_is_object(ctx) ? json_dumps(ctx, JSON_COMPACT) : NULL;
    m->context_json = *context;
    if (times) {
        int64_t cr, up;
        const char *a = json_string_value(json_object_get(fact, "created"));
        const char *b = json_string_value(json_object_get(fact, "updated"));
        if (a && b && hk_time_parse(a, &cr, NULL) == HK_OK &&
            hk_time_parse(b, &up, NULL) == HK_OK && cr >= 0 && up >= cr) {
            m->fields |= HK_META_TIMES;
            m->created_us = cr;
            m->updated_us = up;
        }
    }
    return HK_OK;
}

/* Applies one event inside t. HK_ERR_INVALID (and others) = skip it. */
static hk_err apply_event(hk_txn *t, json_t *j, hk_error *err)
{
    json_t *src = json_object_get(j, "source");
    const char *name = json_string_value(json_object_get(src, "name"));
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *actor = json_string_value(json_object_get(j, "actor"));
    json_t *before = json_object_get(j, "before");
    json_t *after = json_object_get(j, "after");
    if (!name || strcmp(name, "hakgal") != 0 || !kind)
        return hk_error_set(err, HK_ERR_INVALID, "not a hakgal change event");
    /* vector bytes are not streamed; rules stay the source's own */
    if (strcmp(kind, "vector") == 0 || strcmp(kind, "rule") == 0) return HK_OK;
    hk_txn_set_actor(t, actor && *actor ? actor : "replication");
    hk_statement st, st2;
    hk_fact_meta m;
    const char *tags[HK_MAX_TAGS];
    char *context = NULL;
    hk_fact_id id, other;
    bool created;
    hk_err e;
    memset(&st, 0, sizeof st);
    memset(&st2, 0, sizeof st2);
    if (strcmp(kind, "add") == 0) {
        if (!(e = fact_statement(after, &st, err)) &&
            !(e = fact_meta(after, &m, tags, &context, true, err)))
            e = hk_store_add(t, &st, &m, &id, &created, err);
    } else if (strcmp(kind, "delete") == 0) {
        if (!(e = fact_statement(before, &st, err)) &&
            !(e = hk_store_find(t, &st, &id, err)))
            e = hk_store_delete(t, id, err);
    } else if (strcmp(kind, "update") == 0) {
        if (!(e = fact_statement(before, &st, err)) &&
            !(e = fact_statement(after, &st2, err)) &&
            !(e = hk_store_find(t, &st, &id, err)))
            e = hk_store_update(t, id, &st2, &other, err);
    } else if (strcmp(kind, "meta") == 0) {
        if (!(e = fact_statement(after, &st, err)) &&
            !(e = fact_meta(after, &m, tags, &context, false, err)) &&
            !(e = hk_store_find(t, &st, &id, err)))
            e = hk_store_set_meta(t, id, &m, err);
    } else {
        e = hk_error_set(err, HK_ERR_INVALID, "unknown kind %.40s", kind);
    }
    hk_statement_release(&st);
    hk_statement_release(&st2);
    free(context);
    return e;
}

/* ==== The thread ==== */

/* Errors that are the message's fault (it is skipped); any other error is
 * the store's and the batch is applied again later. */
static bool is_bad_input(hk_err e)
{
    return e == HK_ERR_INVALID || e == HK_ERR_NOT_FOUND || e == HK_ERR_EXISTS ||
           e == HK_ERR_LIMIT;
}

static hk_err assign(hkst_follow *f, hk_error *err);

/* The messages of the batch being applied (follower thread). */
typedef struct follow_batch {
    hkst_follow *f;            /* the follower */
    rd_kafka_message_t **msgs; /* the batch */
} follow_batch;

/* hkst_apply's step: the event of message i. */
static hk_err apply_msg(void *ctx, hk_txn *t, size_t i, hk_error *err)
{
    follow_batch *b = ctx;
    rd_kafka_message_t *m = b->msgs[i];
    json_error_t je;
    json_t *j = json_loadb(m->payload, m->len, 0, &je);
    hk_err e = j ? apply_event(t, j, err)
                 : hk_error_set(err, HK_ERR_INVALID, "not JSON: %s", je.text);
    json_decref(j);
    return e;
}

static void skipped_msg(void *ctx, size_t i, const hk_error *why)
{
    follow_batch *b = ctx;
    char where[96];
    snprintf(where, sizeof where, "skipped message at partition %d offset %lld",
             (int)b->msgs[i]->partition, (long long)b->msgs[i]->offset);
    flog(b->f, where, why->message);
}

/* Applies msgs[0..n) in one txn; a message whose change fails is skipped
 * by applying the batch again without it (rare: the txn is retried). */
static void apply_batch(hkst_follow *f, rd_kafka_message_t **msgs, size_t n)
{
    bool skip[BATCH_MAX] = {false};
    follow_batch b = {.f = f, .msgs = msgs};
    hkst_apply a = {.s = f->s,
                    .offsets = f->offsets,
                    .ctx = &b,
                    .apply = apply_msg,
                    .input_error = is_bad_input,
                    .skipped = skipped_msg,
                    .redo = true};
    hk_error err;
    size_t applied = 0, skipped = 0;
    hk_err e = hkst_apply_txn(&a, msgs, 0, &n, skip, NULL, NULL, &applied,
                              &skipped, &err);
    pthread_mutex_lock(&f->lock);
    f->stats.skipped += skipped;
    pthread_mutex_unlock(&f->lock);
    if (e) {
        flog(f, "cannot apply a batch (will retry)", err.message);
        pthread_mutex_lock(&f->lock);
        f->stats.failures++;
        pthread_mutex_unlock(&f->lock);
        /* the consumer moved on: go back to the recorded offsets */
        usleep(500000);
        hk_error aerr;
        if (assign(f, &aerr)) flog(f, "cannot reassign", aerr.message);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (msgs[i]->partition >= 0 && msgs[i]->partition < PARTITIONS_MAX)
            f->next[msgs[i]->partition] = msgs[i]->offset + 1;
    pthread_mutex_lock(&f->lock);
    f->stats.applied += applied;
    f->stats.last_apply_us = hk_now_us();
    pthread_mutex_unlock(&f->lock);
}

/* Sum over the partitions of (high watermark - next offset) into *lag;
 * false while the end of a partition is unknown: librdkafka learns it
 * from the first fetch response of that partition, and a partition whose
 * end is unknown could hide any number of messages (step 5). */
static bool lag_of(hkst_follow *f, uint64_t *lag)
{
    *lag = 0;
    for (int p = 0; p < f->n_parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(f->rk, f->url.topic, p, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            return false;
        int64_t next = f->next[p] > lo ? f->next[p] : lo;
        if (hi > next) *lag += (uint64_t)(hi - next);
    }
    return true;
}

/* Publishes the lag once every partition's end is known (follower
 * thread). Called after every poll, before its batch is applied (the
 * polled messages count), and after the batch: a follower is within
 * --follow-max-lag from its first fetch, not only once it applied what
 * that fetch brought. */
static void publish_lag(hkst_follow *f)
{
    uint64_t lag;
    if (!lag_of(f, &lag)) return;
    pthread_mutex_lock(&f->lock);
    f->stats.lag = lag;
    f->stats.connected = true;
    pthread_mutex_unlock(&f->lock);
}

static bool stopping(hkst_follow *f)
{
    pthread_mutex_lock(&f->lock);
    bool s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static void poll_log(void *ctx, const char *why)
{
    flog(ctx, "consumer", why);
}

static void *follow_main(void *arg)
{
    hkst_follow *f = arg;
    rd_kafka_message_t *msgs[BATCH_MAX];
    while (!stopping(f)) {
        size_t n = hkst_apply_poll(f->rk, 100, msgs, BATCH_MAX, poll_log, f);
        publish_lag(f);
        if (n) apply_batch(f, msgs, n);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        publish_lag(f);
    }
    return NULL;
}

/* ==== Start and stop ==== */

static hk_err consumer_new(hkst_follow *f, hk_error *err)
{
    char msg[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", f->url.brokers, msg,
                          sizeof msg) ||
        rd_kafka_conf_set(conf, "group.id", "hakgal-follower", msg,
                          sizeof msg) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", msg,
                          sizeof msg) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", msg,
                          sizeof msg) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", msg, sizeof msg) ||
        rd_kafka_conf_set(conf, "log_level", f->quiet ? "0" : "3", msg,
                          sizeof msg)) {
        rd_kafka_conf_destroy(conf);
        return hk_error_set(err, HK_ERR_INVALID, "kafka consumer: %s", msg);
    }
    f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, msg, sizeof msg);
    if (!f->rk) {
        rd_kafka_conf_destroy(conf);
        return hk_error_set(err, HK_ERR_INVALID, "kafka consumer: %s", msg);
    }
    rd_kafka_poll_set_consumer(f->rk);
    return HK_OK;
}

/* Assigns every partition at its recorded offset (waits up to 30 s for
 * the topic's metadata). */
static hk_err assign(hkst_follow *f, hk_error *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(f->rk, f->url.topic, NULL);
    int parts = -1;
    for (int i = 0; i < 30 && parts < 1; i++) {
        if (rd_kafka_metadata(f->rk, 0, rkt, &md, 1000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                parts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
    }
    rd_kafka_topic_destroy(rkt);
    if (parts < 1 || parts > PARTITIONS_MAX)
        return hk_error_set(err, HK_ERR_IO,
                            "follow: no topic %s on %s (or more than %d "
                            "partitions)",
                            f->url.topic, f->url.brokers, PARTITIONS_MAX);
    f->n_parts = parts;
    hk_txn *t;
    hk_err e = hk_txn_begin(f->s, false, &t, err);
    if (e) return e;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t next = hkst_apply_offset(t, f->offsets, p);
        f->next[p] = next < 0 ? 0 : next;
        rd_kafka_topic_partition_list_add(l, f->url.topic, p)->offset = next;
    }
    hk_txn_abort(t);
    rd_kafka_resp_err_t ke = rd_kafka_assign(f->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (ke)
        return hk_error_set(err, HK_ERR_IO, "follow: assign: %s",
                            rd_kafka_err2str(ke));
    return HK_OK;
}

hk_err hkst_follow_start(hk_store *s, const hkst_url *url, bool quiet,
                         hkst_follow **out, hk_error *err)
{
    hk_err e;
    *out = NULL;
    hkst_follow *f = hk_calloc(1, sizeof *f);
    if (!f) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    f->s = s;
    f->url = *url;
    f->quiet = quiet;
    pthread_mutex_init(&f->lock, NULL);
    if ((e = hks_db_register(s, HKST_OFFSETS_DB, 0, &f->offsets, err)) ||
        (e = consumer_new(f, err)) || (e = assign(f, err)))
        goto fail;
    if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
        e = hk_error_set(err, HK_ERR_NOMEM, "cannot start the follower");
        goto fail;
    }
    f->started = true;
    pthread_setname_np(f->thread, "hk-follow");
    *out = f;
    return HK_OK;
fail:
    hkst_follow_stop(f);
    return e;
}

void hkst_follow_stats_get(hkst_follow *f, hkst_follow_stats *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->stats;
    pthread_mutex_unlock(&f->lock);
}

void hkst_follow_stop(hkst_follow *f)
{
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_mutex_unlock(&f->lock);
    if (f->started) pthread_join(f->thread, NULL);
    if (f->rk) {
        rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    pthread_mutex_destroy(&f->lock);
    hk_free(f);
}
