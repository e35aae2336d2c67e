/*
 * stream.h — the change stream of a KB: an outbox in LMDB and a Kafka
 * publisher that drains it (module src/stream).
 *
 * Two halves with one header:
 *
 *   1. The outbox (outbox.c, in libhakgal, no Kafka): two module databases,
 *      "stream.outbox" (event sequence -> fact id + JSON envelope) and
 *      "stream.meta" (counters). A change hook of the store writes one
 *      envelope per committed mutation (add, delete, content update,
 *      metadata change, and every fact an import creates) inside the write
 *      transaction of the change, so a change and its event commit or
 *      abort together: nothing committed is ever missing from the outbox.
 *      Once a KB has an outbox (hkst_outbox_enable), every writer that
 *      opens it with hk_svc_store_open (CLI, server, MCP stdio) feeds it.
 *   2. The publisher (kafka_pub.c, library hakgal_stream, librdkafka): a
 *      thread that reads the outbox oldest-first, produces each event keyed
 *      by its fact id (so per-fact order holds on a partition) with an
 *      idempotent producer (acks=all, zstd, batching), and removes events
 *      only once Kafka acknowledged all of a batch. While Kafka is
 *      unreachable events wait in the outbox; delivery is at least once
 *      (a crash between the acknowledgement and the removal publishes a
 *      batch again; consumers drop events whose source.event they saw).
 *
 * The envelope (Debezium-shaped) and its JSON Schema are in docs/STREAM.md.
 *
 * Threads: the outbox functions follow hakgal.h (a txn belongs to one
 * thread). hkst_outbox_enable and hkst_outbox_attach register a hook and
 * databases: call them before other threads use the handle. A publisher
 * runs one thread of its own; hkst_pub_* may be called from any thread.
 */
#ifndef HKST_STREAM_H
#define HKST_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

/* ==== Outbox ==== */

#define HKST_OUTBOX_DB "stream.outbox"
#define HKST_META_DB "stream.meta"

/* Creates the outbox of the KB when it has none and attaches its change
 * hook to s (idempotent). Changes committed before are not streamed. */
hk_err hkst_outbox_enable(hk_store *s, hk_error *err);
/* Attaches the change hook when the KB has an outbox; HK_OK (nothing
 * attached) when it has none or s is read-only. */
hk_err hkst_outbox_attach(hk_store *s, hk_error *err);

/* State of the outbox in one snapshot. */
typedef struct hkst_status {
    bool enabled;             /* the KB has an outbox */
    uint64_t backlog;         /* events waiting to be published */
    uint64_t next_event;      /* sequence the next event gets */
    uint64_t oldest_event;    /* sequence of the oldest waiting event, or 0 */
    int64_t oldest_us;        /* when it was written (epoch us), or 0 */
    uint64_t published_event; /* sequence of the last removed (published)
                                 event, 0 when none yet */
    int64_t published_us;     /* when it was removed, 0 when never */
} hkst_status;

hk_err hkst_status_get(hk_store *s, hk_txn *t, hkst_status *out, hk_error *err);
/* Appends {"enabled","backlog","next_event","oldest_event","oldest",
 * "published_event","published"} (times as RFC 3339 text or null). */
hk_err hkst_status_write_json(const hkst_status *st, hk_buf *out);

/* One waiting event, as hkst_outbox_read hands it out. */
typedef struct hkst_event {
    uint64_t seq;     /* event sequence (source.event of the envelope) */
    hk_fact_id fact;  /* the fact; the message key is its decimal text */
    const char *json; /* the envelope, not NUL-terminated; points into
                         the read's hk_buf */
    size_t len;       /* bytes of json */
} hkst_event;

/* Copies up to max waiting events with after < sequence < below, oldest
 * first, into out[]; their texts go to mem (reset first; the caller frees
 * it with hk_buf_free). *n gets the count (0: nothing waits). below =
 * UINT64_MAX: no upper bound. */
hk_err hkst_outbox_read(hk_store *s, hk_txn *t, uint64_t after, uint64_t below,
                        size_t max, hkst_event *out, size_t *n, hk_buf *mem,
                        hk_error *err);
/* The sequence the next event will get, as txn t sees it: every event of
 * t's snapshot has a smaller one. 1 when the outbox is empty and new. */
hk_err hkst_outbox_next(hk_store *s, hk_txn *t, uint64_t *next, hk_error *err);
/* Removes (write txn) the waiting events with sequence <= last and records
 * last as published. */
hk_err hkst_outbox_remove(hk_store *s, hk_txn *t, uint64_t last, hk_error *err);

/* ==== Digest (digest.c) ==== */

/* What `hakgal digest` shows: equal content digests mean equal facts with
 * equal metadata, whatever their ids, times and insertion order; equal
 * rule and vector digests mean byte-identical rule and vector records
 * (what nodes applying one log hold). */
typedef struct hkst_digest {
    uint64_t facts;          /* facts digested */
    char content[65];        /* order-independent digest of the facts, hex */
    uint64_t rules;          /* rule and derived-fact records digested */
    char rules_digest[65];   /* their order-independent digest, hex */
    uint64_t vectors;        /* vector space and vector records digested */
    char vectors_digest[65]; /* their order-independent digest, hex */
    uint64_t audit_seq;      /* newest audit entry, 0 when none */
    char audit_hash[65];     /* its hash, hex ("" when none) */
} hkst_digest;

/* Scans every fact and every rule and vector record of t's snapshot (t a
 * txn of s). */
hk_err hkst_digest_get(hk_store *s, hk_txn *t, hkst_digest *out, hk_error *err);
/* Appends {"facts","content","rules":{"records","digest"},
 * "vectors":{"records","digest"},"audit":{"seq","hash"}}. */
hk_err hkst_digest_write_json(const hkst_digest *d, hk_buf *out);

/* ==== Kafka URLs ==== */

/* kafka://HOST:PORT[,HOST:PORT...]/TOPIC parsed into its parts. */
typedef struct hkst_url {
    char brokers[1024]; /* bootstrap servers, comma-separated */
    char topic[250];    /* topic name: 1..249 of [A-Za-z0-9._-] */
} hkst_url;

/* HK_ERR_INVALID (field "url") names what is wrong. */
hk_err hkst_url_parse(const char *text, hkst_url *out, hk_error *err);

/* ==== Publisher (library hakgal_stream, librdkafka) ==== */

typedef struct hkst_pub hkst_pub;

typedef struct hkst_pub_options {
    size_t batch;       /* events per produce batch, 0 = 10000 */
    unsigned poll_ms;   /* outbox polling interval when idle, 0 = 100 */
    unsigned retry_ms;  /* wait after a failed batch, 0 = 500 */
    bool quiet;         /* no log lines on stderr */
    const char *client; /* client.id, NULL = "hakgal" */
} hkst_pub_options;

/* Counters of a running publisher (atomically read). */
typedef struct hkst_pub_stats {
    uint64_t published;   /* events Kafka acknowledged */
    uint64_t failures;    /* batches that failed and wait for a retry */
    uint64_t batches;     /* batches published completely */
    bool connected;       /* the last batch succeeded */
    int64_t last_ok_us;   /* time of the last successful batch, 0 = none */
    char last_error[256]; /* the last delivery error, "" when none */
} hkst_pub_stats;

/* Enables the outbox of s (hkst_outbox_enable) and starts the publisher
 * thread for url. The store must outlive the publisher. */
hk_err hkst_pub_start(hk_store *s, const hkst_url *url,
                      const hkst_pub_options *opt, hkst_pub **out,
                      hk_error *err);
/* Wakes the publisher (after a commit; it polls anyway). */
void hkst_pub_wake(hkst_pub *p);
void hkst_pub_stats_get(hkst_pub *p, hkst_pub_stats *out);
/* Stops the thread: waits up to drain_ms for the outbox to drain, then
 * stops (what is left waits in the outbox) and frees p. NULL is fine. */
void hkst_pub_stop(hkst_pub *p, unsigned drain_ms);

/* ==== Follower (kafka_follow.c, library hakgal_stream) ==== */

/* Applies the change stream of another node (its topic) to a KB, in log
 * order, with the consumed offsets in the same transactions (database
 * "repl.offsets"); facts are matched by statement. */
typedef struct hkst_follow hkst_follow;

typedef struct hkst_follow_stats {
    uint64_t applied;      /* events applied */
    uint64_t skipped;      /* messages skipped (malformed, foreign, or not
                              applicable), each logged */
    uint64_t failures;     /* batches whose txn failed (retried) */
    uint64_t lag;          /* messages on the topic not applied yet (0
                              until connected) */
    bool connected;        /* the end of every partition was known at
                              least once, so lag is a real count */
    int64_t last_apply_us; /* time of the last applied batch, 0 = none */
} hkst_follow_stats;

/* Starts following url into s (waits up to 30 s for the topic). The store
 * must outlive the follower. */
hk_err hkst_follow_start(hk_store *s, const hkst_url *url, bool quiet,
                         hkst_follow **out, hk_error *err);
void hkst_follow_stats_get(hkst_follow *f, hkst_follow_stats *out);
/* Stops and frees f (NULL is fine); what was committed stays applied. */
void hkst_follow_stop(hkst_follow *f);

/* ==== Replicated nodes (kafka_repl.c, library hakgal_stream) ==== */

/* Multi-writer replication: every node produces its writes as commands to
 * partition 0 of one topic (the total order of the cluster's writes) and
 * applies all commands of the topic in log order, with the offset in the
 * same transaction and the txn's actor and clock taken from the command,
 * so that every node holds identical content. See docs/STREAM.md. */
typedef struct hkst_repl hkst_repl;

struct json_t;

/* One command as the apply callback sees it (valid during the call). */
typedef struct hkst_repl_msg {
    uint32_t node;        /* the node that produced it */
    uint64_t incarnation; /* that node's process start (us) */
    uint64_t seq;         /* its number for the command (per incarnation) */
    const char *op;       /* operation name ("fact.add"...) */
    const char *actor;    /* audit actor */
    int64_t ts_us;        /* time of the command (the txn's clock) */
    struct json_t *req;   /* the write command (svc_cmd.h; borrowed), or
                             NULL when it came in its binary form: */
    const void *bin;      /* the command's binary form (hk_svc_cmd_unpack;
                             borrowed), NULL with req */
    size_t bin_len;       /* its bytes */
    int64_t offset;       /* its offset in the log */
} hkst_repl_msg;

typedef struct hkst_repl_cb {
    void *ctx; /* passed back */
    /* Applies m in t (actor and clock set). An input error (INVALID,
     * NOT_FOUND, EXISTS, LIMIT, UNSUPPORTED) must leave t unchanged; any
     * other error aborts the batch, which is applied again. */
    hk_err (*apply)(void *ctx, hk_txn *t, const hkst_repl_msg *m,
                    hk_error *err);
    /* After the batch holding m committed: m's result (apply thread). */
    void (*applied)(void *ctx, const hkst_repl_msg *m, hk_err rc,
                    const hk_error *err);
    /* Delivery report of the command seq this node produced: its offset,
     * or -1 and why it failed (delivery thread). */
    void (*delivered)(void *ctx, uint64_t seq, int64_t offset, const char *why);
} hkst_repl_cb;

typedef struct hkst_repl_options {
    uint32_t node_id;     /* this node */
    uint64_t incarnation; /* 0 = now in us */
    unsigned timeout_ms;  /* a command not in the log by then fails,
                             0 = 10000 */
    unsigned sync_ms;     /* apply commits skip fsync and the KB is synced
                             at most this often (ms) and at stop; 0 = every
                             apply commit fsyncs (kafka_repl.c, step 5) */
    unsigned txn_open_ms; /* an apply txn takes the commands that arrived
                             while it ran until it is this old (ms);
                             0 = 200 (kafka_repl.c, more_work) */
    bool quiet;           /* no log lines */
    hkst_repl_cb cb;      /* the operations */
} hkst_repl_options;

typedef struct hkst_repl_stats {
    uint64_t produced;         /* commands handed to the producer */
    uint64_t produce_failures; /* commands the log did not take in time */
    uint64_t applied;          /* commands applied (also failed ones) */
    uint64_t skipped;          /* messages that are not commands */
    uint64_t failures;         /* batches whose txn failed (retried) */
    uint64_t txns;             /* apply transactions committed */
    uint64_t lag;              /* messages in the log not applied yet
                                  (polled ones included; 0 until
                                  connected) */
    int64_t next_offset;       /* next offset to apply */
    int64_t high_offset;       /* the log's end, as last seen */
    int64_t last_apply_us;     /* time of the last applied batch */
    bool connected;            /* the log's end was read at least once */
} hkst_repl_stats;

/* Starts replication of s on url (waits up to 30 s for the topic, which
 * must have one partition). The store must outlive the replicator. */
hk_err hkst_repl_start(hk_store *s, const hkst_url *url,
                       const hkst_repl_options *o, hkst_repl **out,
                       hk_error *err);
/* Produces one command: operation op with its request req (a JSON
 * object; the reference is taken, also on failure); the delivery callback
 * reports seq. traceparent (W3C, or NULL) goes into the message's
 * "traceparent" header: every node applies the command in a span that is
 * its child. HK_ERR_LIMIT when the producer's queue is full. */
hk_err hkst_repl_produce(hkst_repl *r, uint64_t seq, const char *op,
                         const char *actor, struct json_t *req,
                         const char *traceparent, hk_error *err);
/* As hkst_repl_produce, for a command in its binary form (svc_cmd.h,
 * hk_svc_cmd_pack): req[0..len) is copied into a binary message that
 * carries no JSON at all (kafka_repl.c, "Message forms"). */
hk_err hkst_repl_produce_packed(hkst_repl *r, uint64_t seq, const char *op,
                                const char *actor, const void *req, size_t len,
                                const char *traceparent, hk_error *err);
void hkst_repl_stats_get(hkst_repl *r, hkst_repl_stats *out);
/* Stops and frees r (NULL is fine). */
void hkst_repl_stop(hkst_repl *r);

#endif /* HKST_STREAM_H */
