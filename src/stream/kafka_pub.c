/*
 * kafka_pub.c — the publisher: drains the outbox (outbox.c) into a Kafka
 * topic with librdkafka.
 *
 * One thread repeats:
 *   1. read up to `batch` waiting events after the last produced one,
 *      oldest first, in a read txn;
 *   2. produce each to the topic, key = the fact id in decimal (librdkafka's
 *      default partitioner hashes the key, so all events of one fact land on
 *      one partition in outbox order);
 *   3. go on with the next batch without waiting (pipelined): up to
 *      IN_FLIGHT batches wait for their delivery reports at once, in a ring;
 *   4. a batch whose every message was acknowledged, and every batch before
 *      it, counts as published; acknowledged events are removed from the
 *      outbox in one write txn when nothing new waits, at least every 100
 *      ms under a steady stream, and before the thread ends; when any
 *      message failed, the batches in flight are waited for, and after
 *      retry_ms everything after the last acknowledged batch is produced
 *      again.
 *
 * Only durable events are published: a commit is visible before it is
 * durable when the KB syncs after it (the write-ahead log, the pipelined
 * writer, a replicated node's apply), and a system crash may then lose it,
 * so an event published from it could describe a change the KB no longer
 * has. Each read notes the snapshot it saw and the outbox's next event
 * number in it (`seen`); once hk_store_durable_commit reaches that
 * snapshot, the events before that number may go. Until then the thread
 * looks again every millisecond (a log sync takes about that long). The
 * durable commit counts this process's commits only; a snapshot's commits
 * after this process's newest one are other processes' (a CLI write),
 * which sync their own, so the snapshot counts as that newest one.
 *
 * Producer settings: enable.idempotence (no duplicates or reordering from
 * librdkafka's own retries), acks=all, zstd (snappy when the library lacks
 * it), linger.ms=5 and large batches; message.timeout.ms=0 (never give up)
 * so that events wait in librdkafka's queue while the cluster is down and
 * are delivered once it is back. A batch is produced again only after a
 * delivery error, which makes delivery at least once; the envelope's
 * source.event lets consumers drop repeats.
 *
 * Threads: the publisher thread owns the rd_kafka_t; hkst_pub_wake,
 * hkst_pub_stats_get and hkst_pub_stop take `lock`, which guards `stats`,
 * `stop`, `woken` and `drain_until_us`.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/store.h"
#include "stream/stream.h"

#define HOOK_NAME "stream.publisher"

/* Batches produced and not acknowledged yet, at most. */
#define IN_FLIGHT 4

/* Snapshots seen ahead of the durable commit, at most (the newest is
 * overwritten when full: later events then wait a little longer). */
#define SEEN_MAX 64

/* Delivery state of one batch (the messages' opaque). */
typedef struct batch_state {
    size_t n;        /* messages produced */
    size_t done;     /* delivery reports received */
    size_t failed;   /* of them, failures */
    uint64_t last;   /* sequence of its last event */
    char error[256]; /* first failure */
} batch_state;

struct hkst_pub {
    hk_store *s;                 /* the KB; outlives the publisher */
    hkst_url url;                /* brokers and topic */
    hkst_pub_options opt;        /* with defaults filled in */
    rd_kafka_t *rk;              /* the producer (publisher thread only) */
    pthread_t thread;            /* the publisher thread */
    bool started;                /* thread was created */
    bool hooked;                 /* commit hook registered */
    batch_state ring[IN_FLIGHT]; /* batches in flight (publisher thread;
                                    the messages' opaque, so they live as
                                    long as the producer) */
    struct {
        uint64_t commit;    /* a snapshot read ahead of the durable commit */
        uint64_t next;      /* the outbox's next event number in it */
    } seen[SEEN_MAX];       /* oldest first (publisher thread) */
    size_t n_seen;          /* entries of seen */
    uint64_t durable_below; /* events below this number are durable */
    pthread_mutex_t lock;   /* guards the fields below */
    pthread_cond_t cond;    /* signalled by wake and stop */
    bool stop;              /* stop requested */
    bool woken;             /* a commit happened since the last look */
    int64_t drain_until_us; /* with stop: keep publishing until then */
    hkst_pub_stats stats;   /* counters */
};

static void log_line(hkst_pub *p, const char *fmt, const char *a, const char *b)
{
    if (p->opt.quiet) return;
    fprintf(stderr, "hakgal stream: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* ==== librdkafka callbacks ==== */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ud)
{
    batch_state *b = m->_private;
    if (!b) return;
    b->done++;
    if (m->err) {
        if (b->failed++ == 0)
            snprintf(b->error, sizeof b->error, "%s", rd_kafka_err2str(m->err));
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    hkst_pub *p = rd_kafka_opaque(rk);
    if (p && !p->opt.quiet && level <= 4)
        fprintf(stderr, "hakgal stream: kafka %s: %s\n", fac, buf);
}

static void on_commit(hk_store *s, const hks_commit *c, void *ud)
{
    hkst_pub_wake(ud);
}

/* ==== Producer ==== */

static hk_err producer_new(hkst_pub *p, hk_error *err)
{
    char msg[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"batch.num.messages", "10000"},
        {"message.timeout.ms", "0"},
        {"queue.buffering.max.messages", "1000000"},
        {"socket.keepalive.enable", "true"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], msg,
                              sizeof msg) != RD_KAFKA_CONF_OK)
            goto bad;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", p->url.brokers, msg,
                          sizeof msg) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", p->opt.client, msg, sizeof msg) !=
            RD_KAFKA_CONF_OK)
        goto bad;
    if (rd_kafka_conf_set(conf, "compression.type", "zstd", msg, sizeof msg) !=
            RD_KAFKA_CONF_OK &&
        rd_kafka_conf_set(conf, "compression.type", "snappy", msg,
                          sizeof msg) != RD_KAFKA_CONF_OK)
        goto bad;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof msg);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf); /* not taken over on failure */
        goto fail;
    }
    return HK_OK;
bad:
    rd_kafka_conf_destroy(conf);
fail:
    if (err) snprintf(err->field, sizeof err->field, "stream");
    return hk_error_set(err, HK_ERR_INVALID, "kafka producer: %s", msg);
}

/* ==== The thread ==== */

static bool should_stop(hkst_pub *p, bool *draining)
{
    pthread_mutex_lock(&p->lock);
    bool stop = p->stop;
    bool past = stop && hk_now_us() >= p->drain_until_us;
    pthread_mutex_unlock(&p->lock);
    if (draining) *draining = stop;
    return past;
}

/* Waits up to ms for a wake-up (a commit or stop). */
static void idle(hkst_pub *p, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->woken && !p->stop)
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0) break;
    p->woken = false;
    pthread_mutex_unlock(&p->lock);
}

static void note_failure(hkst_pub *p, const char *why)
{
    pthread_mutex_lock(&p->lock);
    p->stats.failures++;
    p->stats.connected = false;
    snprintf(p->stats.last_error, sizeof p->stats.last_error, "%.200s", why);
    pthread_mutex_unlock(&p->lock);
}

/* Produces events[0..n) with b as their opaque (b->n = n); does not wait
 * for delivery. false when stopped while librdkafka's queue was full (the
 * rest of the batch counts as failed). */
static bool produce_batch(hkst_pub *p, const hkst_event *ev, size_t n,
                          batch_state *b)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->last = ev[n - 1].seq;
    for (size_t i = 0; i < n; i++) {
        char key[24];
        int klen =
            snprintf(key, sizeof key, "%llu", (unsigned long long)ev[i].fact);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p->rk, RD_KAFKA_V_TOPIC(p->url.topic),
                RD_KAFKA_V_KEY(key, (size_t)klen),
                RD_KAFKA_V_VALUE((void *)ev[i].json, ev[i].len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(b),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || should_stop(p, NULL)) {
                /* counted as a failed delivery of this and the rest */
                b->done += n - i;
                b->failed += n - i;
                snprintf(b->error, sizeof b->error, "%s",
                         e == RD_KAFKA_RESP_ERR__QUEUE_FULL
                             ? "stopped"
                             : rd_kafka_err2str(e));
                return e != RD_KAFKA_RESP_ERR__QUEUE_FULL;
            }
            rd_kafka_poll(p->rk, 50);
        }
    }
    return true;
}

/* Waits for every delivery report of b. false when stopped first: then
 * everything in flight is purged and its reports served (the states of
 * the ring must outlive them). */
static bool wait_batch(hkst_pub *p, batch_state *b)
{
    while (b->done < b->n) {
        rd_kafka_poll(p->rk, 50);
        if (b->done < b->n && should_stop(p, NULL)) {
            rd_kafka_purge(p->rk,
                           RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            int64_t until = hk_now_us() + 5000000;
            while (rd_kafka_outq_len(p->rk) > 0 && hk_now_us() < until)
                rd_kafka_poll(p->rk, 50);
            return false;
        }
    }
    return true;
}

/* The bound of the durable events as read txn t sees the outbox: *below
 * gets the first event number that may not be durable yet (UINT64_MAX:
 * everything t sees is durable); *waiting is true when t sees events that
 * are not durable yet. */
static hk_err durable_bound(hkst_pub *p, hk_txn *t, uint64_t *below,
                            bool *waiting, hk_error *err)
{
    uint64_t snap = hks_txn_snapshot(t), next;
    uint64_t durable = hk_store_durable_commit(p->s);
    /* commits after this process's newest one are another process's (a
     * CLI write), durable when they were visible */
    uint64_t own = hks_store_own_commit(p->s);
    if (own < snap) snap = own;
    hk_err e = hkst_outbox_next(p->s, t, &next, err);
    if (e) return e;
    *waiting = false;
    if (snap <= durable) {
        p->n_seen = 0;
        if (next > p->durable_below) p->durable_below = next;
        *below = UINT64_MAX;
        return HK_OK;
    }
    size_t last = p->n_seen ? p->n_seen - 1 : 0;
    if (p->n_seen && p->seen[last].commit == snap) {
        /* seen already */
    } else if (p->n_seen < SEEN_MAX) {
        p->seen[p->n_seen].commit = snap;
        p->seen[p->n_seen++].next = next;
    } else {
        p->seen[last].commit = snap;
        p->seen[last].next = next;
    }
    size_t k = 0;
    while (k < p->n_seen && p->seen[k].commit <= durable) {
        if (p->seen[k].next > p->durable_below)
            p->durable_below = p->seen[k].next;
        k++;
    }
    if (k) {
        memmove(p->seen, p->seen + k, (p->n_seen - k) * sizeof p->seen[0]);
        p->n_seen -= k;
    }
    *below = p->durable_below;
    *waiting = next > p->durable_below;
    return HK_OK;
}

/* Removes the events up to last (acknowledged by Kafka) from the outbox in
 * one write txn; false (logged) when that failed: they are published again
 * later. */
static bool remove_upto(hkst_pub *p, uint64_t last)
{
    hk_error err;
    hk_txn *t = NULL;
    hk_err e = hk_txn_begin(p->s, true, &t, &err);
    if (!e) e = hkst_outbox_remove(p->s, t, last, &err);
    if (!e)
        e = hk_txn_commit(t, &err);
    else if (t)
        hk_txn_abort(t);
    if (e) {
        note_failure(p, err.message);
        log_line(p, "%s%s", "cannot remove published events: ", err.message);
    }
    return e == HK_OK;
}

/* How often acknowledged events are removed while more keep coming (one
 * write txn, with fsync, per removal). */
#define REMOVE_EVERY_US 100000

/* Counts the acknowledged batch b as published. */
static void published(hkst_pub *p, const batch_state *b)
{
    pthread_mutex_lock(&p->lock);
    p->stats.published += b->n;
    p->stats.batches++;
    p->stats.connected = true;
    p->stats.last_ok_us = hk_now_us();
    pthread_mutex_unlock(&p->lock);
}

static void *pub_main(void *arg)
{
    hkst_pub *p = arg;
    hkst_event *ev = hk_calloc(p->opt.batch, sizeof *ev);
    hk_buf mem = HK_BUF_INIT;
    hk_error err;
    batch_state *ring = p->ring; /* batches in flight, oldest at head */
    size_t head = 0, count = 0;
    uint64_t produced = 0; /* events up to here were handed to Kafka */
    uint64_t sent = 0;     /* ... up to here acknowledged by Kafka */
    uint64_t removed = 0;  /* ... and up to here removed from the outbox */
    int64_t removed_us = 0;
    bool stopped = false; /* stopped while waiting for reports */
    hk_error_clear(&err);
    if (!ev) {
        note_failure(p, "out of memory");
        return NULL;
    }
    while (!should_stop(p, NULL)) {
        /* acknowledged batches, in order */
        const batch_state *bad = NULL;
        while (count && ring[head].done >= ring[head].n) {
            if (ring[head].failed) {
                bad = &ring[head];
                break;
            }
            sent = ring[head].last;
            published(p, &ring[head]);
            head = (head + 1) % IN_FLIGHT;
            count--;
        }
        if (bad) {
            note_failure(p, bad->error);
            log_line(p, "%s%s", "delivery failed, will retry: ", bad->error);
            for (size_t k = 0; k < count && !stopped; k++)
                stopped = !wait_batch(p, &ring[(head + k) % IN_FLIGHT]);
            count = 0;
            if (stopped) break;
            produced = sent; /* publish everything after `sent` again */
            if (rd_kafka_fatal_error(p->rk, NULL, 0)) {
                rd_kafka_destroy(p->rk);
                p->rk = NULL;
                if (producer_new(p, &err)) {
                    note_failure(p, err.message);
                    break;
                }
            }
            idle(p, p->opt.retry_ms);
            continue;
        }
        if (count == IN_FLIGHT) { /* the ring is full: serve reports */
            rd_kafka_poll(p->rk, 50);
            continue;
        }
        bool draining, waiting = false;
        hk_txn *t = NULL;
        size_t n = 0;
        uint64_t below = 0;
        hk_err e = hk_txn_begin(p->s, false, &t, &err);
        if (!e) e = durable_bound(p, t, &below, &waiting, &err);
        if (!e)
            e = hkst_outbox_read(p->s, t, produced, below, p->opt.batch, ev, &n,
                                 &mem, &err);
        if (t) hk_txn_abort(t);
        if (e) {
            note_failure(p, err.message);
            log_line(p, "%s%s", "cannot read the outbox: ", err.message);
            idle(p, p->opt.retry_ms);
            continue;
        }
        if (n == 0 && count) { /* nothing new: wait for reports */
            rd_kafka_poll(p->rk, waiting ? 1 : 20);
            continue;
        }
        if (n == 0) {
            /* nothing new: remove what Kafka has */
            if (sent > removed) {
                if (!remove_upto(p, sent)) {
                    sent = produced = removed; /* publish them again */
                    idle(p, p->opt.retry_ms);
                    continue;
                }
                removed = sent;
                removed_us = hk_now_us();
            }
            should_stop(p, &draining);
            if (draining && !waiting) break; /* drained */
            idle(p, waiting ? 1 : p->opt.poll_ms);
            continue;
        }
        batch_state *b = &ring[(head + count) % IN_FLIGHT];
        count++;
        if (!produce_batch(p, ev, n, b)) break;
        produced = b->last;
        rd_kafka_poll(p->rk, 0);
        if (sent > removed && hk_now_us() - removed_us >= REMOVE_EVERY_US) {
            if (remove_upto(p, sent)) {
                removed = sent;
                removed_us = hk_now_us();
            }
            /* (a failed removal is tried again; the events stay) */
        }
    }
    /* what is in flight: its reports, then what was acknowledged leaves
     * the outbox before the thread ends */
    for (size_t k = 0; k < count && !stopped; k++)
        stopped = !wait_batch(p, &ring[(head + k) % IN_FLIGHT]);
    for (size_t k = 0; k < count; k++) {
        const batch_state *b = &ring[(head + k) % IN_FLIGHT];
        if (b->failed || b->done < b->n) break;
        sent = b->last;
        published(p, b);
    }
    if (p->rk && rd_kafka_outq_len(p->rk) > 0) {
        /* reports of what is still queued must not arrive after the ring
         * is gone: purge it and serve them (bounded) */
        rd_kafka_purge(p->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t until = hk_now_us() + 5000000;
        while (rd_kafka_outq_len(p->rk) > 0 && hk_now_us() < until)
            rd_kafka_poll(p->rk, 50);
    }
    if (sent > removed) remove_upto(p, sent);
    hk_buf_free(&mem);
    hk_free(ev);
    return NULL;
}

/* ==== Public ==== */

hk_err hkst_pub_start(hk_store *s, const hkst_url *url,
                      const hkst_pub_options *opt, hkst_pub **out,
                      hk_error *err)
{
    hk_err e;
    *out = NULL;
    hkst_pub *p = hk_calloc(1, sizeof *p);
    if (!p) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    p->s = s;
    p->url = *url;
    if (opt) p->opt = *opt;
    if (!p->opt.batch) p->opt.batch = 10000;
    if (!p->opt.poll_ms) p->opt.poll_ms = 100;
    if (!p->opt.retry_ms) p->opt.retry_ms = 500;
    if (!p->opt.client) p->opt.client = "hakgal";
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if ((e = hkst_outbox_enable(s, err)) || (e = producer_new(p, err)))
        goto fail;
    hks_hook h = {HOOK_NAME, 0, NULL, on_commit, p};
    if ((e = hks_hook_add(s, &h, err))) goto fail;
    p->hooked = true;
    if (pthread_create(&p->thread, NULL, pub_main, p) != 0) {
        e = hk_error_set(err, HK_ERR_NOMEM, "cannot start the stream thread");
        goto fail;
    }
    p->started = true;
    pthread_setname_np(p->thread, "hk-stream-pub");
    *out = p;
    return HK_OK;
fail:
    hkst_pub_stop(p, 0);
    return e;
}

void hkst_pub_wake(hkst_pub *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->woken = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void hkst_pub_stats_get(hkst_pub *p, hkst_pub_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}

void hkst_pub_stop(hkst_pub *p, unsigned drain_ms)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    p->drain_until_us = hk_now_us() + (int64_t)drain_ms * 1000;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->started) pthread_join(p->thread, NULL);
    if (p->hooked) hks_hook_remove(p->s, HOOK_NAME, NULL);
    if (p->rk) {
        rd_kafka_purge(p->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 1000);
        rd_kafka_destroy(p->rk);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    hk_free(p);
}
