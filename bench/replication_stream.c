/*
 * replication_stream.c — the change stream measured on librdkafka's mock
 * cluster (3 brokers, topic with 4 partitions, replication factor 3), all
 * in one process so that producer and consumer share one clock.
 *
 *   replication_stream [--n N] [--batch B] [--rate R] [--seconds S]
 *
 *   1. write cost of the outbox: N facts added in transactions of B facts
 *      into a KB without and then with the outbox (no fsync, as the store
 *      benchmark), side by side: facts/s and the ratio;
 *   2. drain rate: a publisher started on the N waiting events; events/s
 *      until the outbox is empty and a consumer has read them all;
 *   3. end-to-end lag: with the publisher running, one fact per
 *      transaction at R facts/s for S seconds; a consumer takes
 *      (time read - the event's ts_us) for each: p50, p99, max;
 *   4. catch-up: N events on a 1-partition topic, then a follower on an
 *      empty KB (no fsync) started and timed until it applied them all.
 *
 * Prints one line per measurement; medians of three runs of 1 and 2.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "stream/stream.h"

static void die(const char *what, const hk_error *e)
{
    fprintf(stderr, "replication_stream: %s: %s\n", what, e ? e->message : "");
    exit(1);
}

static hk_store *open_kb(const char *dir)
{
    hk_store_options o = {0};
    hk_store *s;
    hk_error e;
    o.create = true;
    o.no_sync = true;
    if (hk_store_open(dir, &o, &s, &e)) die("open", &e);
    return s;
}

/* Adds facts [from, from + n) in transactions of batch; seconds taken. */
static double load(hk_store *s, uint64_t from, uint64_t n, uint64_t batch)
{
    hk_error e;
    char a[32], b[32];
    int64_t t0 = hk_now_us();
    for (uint64_t i = from; i < from + n;) {
        hk_txn *t;
        if (hk_txn_begin(s, true, &t, &e)) die("begin", &e);
        for (uint64_t k = 0; k < batch && i < from + n; k++, i++) {
            snprintf(a, sizeof a, "e%llu", (unsigned long long)i);
            snprintf(b, sizeof b, "g%llu", (unsigned long long)(i % 1000));
            hk_statement st = {0};
            st.predicate = "Rel";
            st.n_args = 2;
            st.args[0] = a;
            st.args[1] = b;
            hk_fact_id id;
            bool created;
            if (hk_store_add(t, &st, NULL, &id, &created, &e)) die("add", &e);
        }
        if (hk_txn_commit(t, &e)) die("commit", &e);
    }
    return (double)(hk_now_us() - t0) / 1e6;
}

static uint64_t backlog(hk_store *s)
{
    hk_txn *t;
    hk_error e;
    hkst_status st;
    if (hk_txn_begin(s, false, &t, &e) || hkst_status_get(s, t, &st, &e))
        die("status", &e);
    hk_txn_abort(t);
    return st.backlog;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ==== Consumer thread ==== */

typedef struct consumer {
    char brokers[1024];     /* bootstrap */
    const char *topic;      /* topic */
    atomic_bool stop;       /* set by main */
    atomic_ullong received; /* distinct messages read */
    double *lag_ms;         /* per message: read time - ts_us, ms */
    size_t lag_cap;         /* room in lag_ms */
    atomic_bool measure;    /* record lags now */
    atomic_ullong n_lag;    /* entries in lag_ms */
} consumer;

static void *consume_main(void *arg)
{
    consumer *c = arg;
    char err[256], group[64];
    snprintf(group, sizeof group, "bench-%lld", (long long)hk_now_us());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die(err, NULL);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (!atomic_load(&c->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m) continue;
        if (!m->err) {
            int64_t now = hk_now_us();
            atomic_fetch_add(&c->received, 1);
            if (atomic_load(&c->measure)) {
                /* "ts_us":N} closes the envelope */
                const char *p = m->payload;
                const char *k = NULL;
                for (size_t i = m->len; i > 8 && !k; i--)
                    if (memcmp(p + i - 8, "\"ts_us\":", 8) == 0) k = p + i;
                unsigned long long n = atomic_load(&c->n_lag);
                if (k && n < c->lag_cap) {
                    c->lag_ms[n] = (double)(now - atoll(k)) / 1000.0;
                    atomic_store(&c->n_lag, n + 1);
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t n = 200000, batch = 1000, rate = 2000, seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        uint64_t v = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--n"))
            n = v;
        else if (!strcmp(argv[i], "--batch"))
            batch = v;
        else if (!strcmp(argv[i], "--rate"))
            rate = v;
        else if (!strcmp(argv[i], "--seconds"))
            seconds = v;
    }
    char base[] = "/tmp/hk-repl-bench-XXXXXX";
    if (!mkdtemp(base)) die("mkdtemp", NULL);
    char dir[300], cmd[400];
    hk_error e;

    /* the cluster */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *owner =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 3);
    rd_kafka_mock_topic_create(mc, "bench", 4, 3);
    hkst_url url;
    snprintf(url.brokers, sizeof url.brokers, "%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    snprintf(url.topic, sizeof url.topic, "bench");
    printf("mock cluster: 3 brokers, topic bench (4 partitions, rf 3); "
           "N=%llu batch=%llu\n",
           (unsigned long long)n, (unsigned long long)batch);

    /* 1 + 2, three rounds */
    double plain[3], outbox[3], drain[3];
    consumer c = {0};
    snprintf(c.brokers, sizeof c.brokers, "%s", url.brokers);
    c.topic = "bench";
    pthread_t ct;
    pthread_create(&ct, NULL, consume_main, &c);
    uint64_t published = 0;
    for (int r = 0; r < 3; r++) {
        snprintf(dir, sizeof dir, "%s/plain%d", base, r);
        hk_store *s = open_kb(dir);
        plain[r] = (double)n / load(s, 0, n, batch);
        hk_store_close(s);
        snprintf(dir, sizeof dir, "%s/outbox%d", base, r);
        s = open_kb(dir);
        if (hkst_outbox_enable(s, &e)) die("enable", &e);
        outbox[r] = (double)n / load(s, 0, n, batch);
        hkst_pub_options o = {0};
        o.quiet = true;
        hkst_pub *p;
        int64_t t0 = hk_now_us();
        if (hkst_pub_start(s, &url, &o, &p, &e)) die("publisher", &e);
        while (backlog(s) > 0 || atomic_load(&c.received) < published + n)
            usleep(2000);
        drain[r] = (double)n / ((double)(hk_now_us() - t0) / 1e6);
        published += n;
        hkst_pub_stop(p, 0);
        hk_store_close(s);
        printf("round %d: load %.0f facts/s plain, %.0f with outbox; "
               "drain %.0f events/s\n",
               r + 1, plain[r], outbox[r], drain[r]);
        fflush(stdout);
    }
    qsort(plain, 3, sizeof(double), cmp_d);
    qsort(outbox, 3, sizeof(double), cmp_d);
    qsort(drain, 3, sizeof(double), cmp_d);
    printf("median: load %.0f facts/s plain, %.0f with outbox (ratio "
           "%.2f); drain to Kafka and read back %.0f events/s\n",
           plain[1], outbox[1], outbox[1] / plain[1], drain[1]);

    /* 3: lag at a paced rate */
    snprintf(dir, sizeof dir, "%s/lag", base);
    hk_store *s = open_kb(dir);
    hkst_pub_options o = {0};
    o.quiet = true;
    o.poll_ms = 1;
    hkst_pub *p;
    if (hkst_pub_start(s, &url, &o, &p, &e)) die("publisher", &e);
    uint64_t total = rate * seconds;
    c.lag_cap = total;
    c.lag_ms = calloc(total, sizeof(double));
    uint64_t before = atomic_load(&c.received);
    atomic_store(&c.measure, true);
    int64_t t0 = hk_now_us();
    for (uint64_t i = 0; i < total; i++) {
        int64_t due = t0 + (int64_t)(i * 1000000 / rate);
        int64_t now = hk_now_us();
        if (due > now) usleep((useconds_t)(due - now));
        load(s, 10000000 + i, 1, 1);
    }
    int64_t until = hk_now_us() + 30000000;
    while (atomic_load(&c.received) < before + total && hk_now_us() < until)
        usleep(2000);
    atomic_store(&c.measure, false);
    size_t m = atomic_load(&c.n_lag);
    qsort(c.lag_ms, m, sizeof(double), cmp_d);
    if (m)
        printf("lag at %llu facts/s (one per commit, %llu facts): p50 %.2f "
               "ms, p99 %.2f ms, max %.2f ms (%zu measured)\n",
               (unsigned long long)rate, (unsigned long long)total,
               c.lag_ms[m / 2], c.lag_ms[m * 99 / 100], c.lag_ms[m - 1], m);
    hkst_pub_stop(p, 0);
    hk_store_close(s);

    /* 4: catch-up of a follower N events behind (topic with 1 partition) */
    rd_kafka_mock_topic_create(mc, "catchup", 1, 3);
    hkst_url curl = url;
    snprintf(curl.topic, sizeof curl.topic, "catchup");
    snprintf(dir, sizeof dir, "%s/source", base);
    s = open_kb(dir);
    if (hkst_outbox_enable(s, &e)) die("enable", &e);
    load(s, 0, n, batch);
    o.poll_ms = 0;
    if (hkst_pub_start(s, &curl, &o, &p, &e)) die("publisher", &e);
    while (backlog(s) > 0)
        usleep(5000);
    hkst_pub_stop(p, 0);
    hk_store_close(s);
    snprintf(dir, sizeof dir, "%s/follower", base);
    s = open_kb(dir);
    hkst_follow *f;
    t0 = hk_now_us();
    if (hkst_follow_start(s, &curl, true, &f, &e)) die("follower", &e);
    hkst_follow_stats fs = {0};
    until = hk_now_us() + 600000000;
    while (fs.applied < n && hk_now_us() < until) {
        usleep(5000);
        hkst_follow_stats_get(f, &fs);
    }
    double secs = (double)(hk_now_us() - t0) / 1e6;
    printf("catch-up: a follower %llu events behind applied them in %.2f s "
           "(%.0f events/s, %llu skipped)\n",
           (unsigned long long)fs.applied, secs, (double)fs.applied / secs,
           (unsigned long long)fs.skipped);
    hkst_follow_stop(f);
    hk_store_close(s);
    atomic_store(&c.stop, true);
    pthread_join(ct, NULL);
    free(c.lag_ms);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", base);
    return 0;
}
