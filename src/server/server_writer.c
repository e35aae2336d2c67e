/*
 * server_writer.c — the group-commit writer thread.
 *
 * Every mutation of the KB made by the server is a job: a function run
 * inside a write transaction. Loop threads (hk_server_write_async) and other
 * threads (hk_server_write_sync) append jobs to one FIFO queue guarded by a
 * mutex. The writer thread repeatedly takes everything queued (at most
 * max_group jobs), opens ONE write transaction, runs each job in it with its
 * own audit actor, commits durably (fsync) and only then completes the jobs:
 * an async job is handed back to its loop through h2o's multithread queue
 * (the loop renders the answer); a sync job wakes its waiting thread. While
 * one group commits, new requests queue up and form the next group, so the
 * cost of one fsync is shared by every request that arrived meanwhile.
 *
 * Gathering: a commit costs about the same for 1 or 64 jobs (it is mostly
 * fsync), and with many clients the next group forms while the current one
 * commits, so groups settle at about half the clients. When the last group
 * was bigger than what is queued now, the writer waits a little (at most
 * half the last commit's duration, capped by commit-delay-us) for the
 * clients that were just answered to send their next write, as
 * PostgreSQL's commit_delay and MySQL's binlog_group_commit_sync_delay do.
 * A lone client never waits: its last group had one job.
 *
 * Wakeups: a request wakes the writer only when the writer is idle (the
 * first job of a group) or when it completes the group being gathered;
 * the jobs queued meanwhile just join the list. So the writer sleeps and
 * wakes about once per group, not once per request: each wakeup is a
 * futex call for the loop and a context switch for the writer, which on
 * this kind of virtual machine cost more than applying a fact. In the same
 * spirit a group's answers go to each loop as one message (one eventfd
 * write and one loop wakeup per loop and group, not per request).
 *
 * Solo jobs (batches) use the store's bulk mode (one audit entry for the
 * whole batch), so they never share a group with other jobs. Solo jobs
 * queued one after another do share one transaction (at most
 * HK_SOLO_GROUP_MAX): each ends its bulk mode right after it runs
 * (hks_txn_end_bulk, as a replicated node's apply does), so every batch
 * gets the import entry its own commit would give it. The point is the
 * pages: the facts of a batch add one duplicate to the index entry of each
 * entity they mention, spread over the whole tree once the KB is large,
 * so a transaction writes about one page per fact whatever its size;
 * batches that share a commit share those pages (bench/RESULTS.md,
 * "Batches share a commit").
 *
 * Failure isolation: a job that fails with an input error (INVALID,
 * NOT_FOUND, EXISTS, LIMIT) has left the transaction unchanged (write_fn
 * contract, server.h), so the group goes on. A job that fails with a store
 * error poisons the transaction: the group is aborted and each job re-run in
 * a transaction of its own, so one bad job cannot fail its neighbours.
 *
 * Durability pipeline: with the store's defer_meta_sync (serve.c sets it
 * for HK_WRITER_SYNC=pipelined), LMDB's commit syncs the data pages and
 * writes the meta page without syncing it, so a group is committed but not
 * yet durable when the writer's commit returns. The writer hands the group
 * to the syncer thread and goes on with the next group at once; the syncer
 * syncs the file (hk_store_sync, which covers every meta page written
 * before it starts) and only then acknowledges the groups handed to it.
 * So the meta sync of one group overlaps the apply and data sync of the
 * next, and several groups handed meanwhile share one sync; when the next
 * commit's own data sync has made a group durable already
 * (hk_store_durable_commit), the syncer acknowledges it without a sync.
 * A group that committed nothing is handed over too while an earlier
 * commit is not durable: its answers (say, an existing fact) may depend
 * on it. Why this keeps LMDB's integrity (a meta page never reaches the
 * disk before its data pages): docs/ARCHITECTURE.md, "Concurrency and
 * durability". Without defer_meta_sync every commit is durable when it
 * returns and the syncer never gets work.
 *
 * Under the write-ahead log (--wal) the same pipeline carries the log's
 * syncs: a commit only appends its record, and the syncer's hk_store_sync
 * syncs the log. The writer then commits a group only once the syncer
 * has begun the sync of the previous one, so each sync covers about one
 * LMDB commit and the next group gathers while it runs.
 *
 * Shutdown: hk_writer_stop refuses new jobs, lets the thread drain and
 * commit what is queued, and joins it; then the syncer acknowledges what
 * it holds and is joined.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "server/server_int.h"
#include "service/svc_cmd.h"
#include "store/store.h"

/* Solo jobs (batches) sharing one transaction at most: the first one's
 * answer waits for the others, so the bound keeps that wait to a few
 * batches' apply time. */
#define HK_SOLO_GROUP_MAX 8u

struct hk_write_job {
    hk_loop_msg msg;       /* completion message to the origin loop */
    hk_write_job *next;    /* writer queue link */
    hk_write_job *on_loop; /* next job of the same group and loop, answered
                              by the same message (complete_all) */
    hk_write_fn fn;        /* the mutation */
    bool solo;             /* run in a transaction of its own */
    void *arg;             /* fn's argument */
    char actor[64];        /* audit actor */
    hk_err rc;             /* result */
    hk_error err;          /* result details */
    /* async completion */
    hk_server *srv;        /* owner */
    hk_loop *loop;         /* origin loop, NULL for sync jobs */
    hk_req_ref *ref;       /* the request, if still alive */
    hk_write_done_fn done; /* completion on the loop */
    /* sync completion */
    pthread_mutex_t *mu; /* guards *finished */
    pthread_cond_t *cv;  /* signalled when finished */
    bool *finished;      /* set by the writer */
    bool traced;         /* trace holds the enqueuing request's span */
    hk_trace_ctx trace;  /* parent of this job's spans (otel.h) */
    /* write-ahead log (--wal): the job's input as a log entry */
    uint8_t *wrec;    /* solo, actor, command name and request (wal_entry),
                         owned; NULL: the job cannot be logged */
    size_t wrec_len;  /* its bytes */
    int64_t clock_us; /* the time its changes got (the txn's clock) */
    /* Write latency (below): when the job was queued, taken by the
     * writer, committed and made durable (hk_now_us; the T_ indexes);
     * 0 = not noted */
    int64_t t[HK_WRITE_WAITS];
};

/* ==== Stages ====
 * The writer's and the syncer's wall time, summed per stage and exported
 * as hakgal_writer_stage_seconds_total{stage}, so that a benchmark can
 * tell a serial stage that is full from one that waits: the writer's
 * wait_sync, idle, gather, apply, commit and hand_off, the syncer's sync
 * and answer (without a syncer thread the writer runs those two inside
 * hand_off). A stage is counted when it ends. Two clock reads per stage
 * and group. */
enum {
    ST_WAIT_SYNC, /* writer: for the syncer to begin the last group's sync */
    ST_IDLE,      /* writer: for a first job */
    ST_GATHER,    /* writer: the gather delay (commit-delay-us) */
    ST_APPLY,     /* writer: begin, run the jobs, build the log record */
    ST_COMMIT,    /* writer: the LMDB commit (and log append) */
    ST_HAND_OFF,  /* writer: to the syncer, or sync and answer inline */
    ST_SYNC,      /* syncer: hk_store_sync */
    ST_ANSWER,    /* syncer: the answers' messages to the loops */
};

static const char *const k_stage_names[HK_WRITER_STAGES] = {
    "wait_sync", "idle",     "gather", "apply",
    "commit",    "hand_off", "sync",   "answer",
};

/* ==== Write latency ====
 * Where a write request from a loop spends its time once it is queued,
 * summed per stage over the requests each loop answers and exported as
 * hakgal_write_latency_seconds_total{stage} with
 * hakgal_write_latency_writes_total, so that mean = sum / count per stage:
 *   queue   — queued until the writer takes it;
 *   apply   — taken until its group committed (gathering, the jobs before
 *             it, its own apply and the commit);
 *   durable — committed until durable (waiting for the syncer and the
 *             log's or LMDB's sync; 0 when the commit was durable at once);
 *   answer  — durable until its loop runs its completion (the loop's
 *             wakeup and the answers before it).
 * Four clock reads per group and one per job on the loop; the loop's
 * counters have one writer each. */
static const char *const k_wait_names[HK_WRITE_WAITS] = {"queue", "apply",
                                                         "durable", "answer"};

enum { T_QUEUED, T_TAKEN, T_COMMITTED, T_DURABLE };

static void stamp_jobs(hk_write_job *first, int at)
{
    int64_t now = hk_now_us();
    for (hk_write_job *job = first; job; job = job->next)
        job->t[at] = now;
}

/* On the loop, before the answer: adds the job's stages to its loop. */
static void write_latency_note(hk_write_job *job)
{
    int64_t t[HK_WRITE_WAITS + 1];
    for (int i = 0; i < HK_WRITE_WAITS; i++) {
        if (!job->t[i]) return;
        t[i] = job->t[i];
    }
    t[HK_WRITE_WAITS] = hk_now_us();
    hk_loop *loop = job->loop;
    for (int i = 0; i < HK_WRITE_WAITS; i++)
        if (t[i + 1] > t[i])
            atomic_fetch_add_explicit(&loop->write_wait_us[i],
                                      (uint_fast64_t)(t[i + 1] - t[i]),
                                      memory_order_relaxed);
    atomic_fetch_add_explicit(&loop->write_waits, 1, memory_order_relaxed);
}

static void stage_add(hk_server *srv, int stage, int64_t since_us,
                      int64_t now_us)
{
    if (now_us > since_us)
        atomic_fetch_add_explicit(&srv->writer.stage_us[stage],
                                  (uint_fast64_t)(now_us - since_us),
                                  memory_order_relaxed);
}

hk_err hk_writer_metrics_render(hk_server *srv, hk_buf *b)
{
    hk_err rc = hk_buf_append_str(
        b, "# HELP hakgal_writer_stage_seconds_total Wall time of the "
           "writer and syncer threads per stage of a group commit.\n"
           "# TYPE hakgal_writer_stage_seconds_total counter\n");
    for (int i = 0; rc == HK_OK && i < HK_WRITER_STAGES; i++) {
        uint64_t us = atomic_load_explicit(&srv->writer.stage_us[i],
                                           memory_order_relaxed);
        rc =
            hk_buf_appendf(b,
                           "hakgal_writer_stage_seconds_total{stage=\"%s\"} "
                           "%llu.%06llu\n",
                           k_stage_names[i], (unsigned long long)(us / 1000000),
                           (unsigned long long)(us % 1000000));
    }
    uint64_t waits_us[HK_WRITE_WAITS] = {0}, waits = 0;
    for (unsigned l = 0; l < srv->n_loops; l++) {
        hk_loop *loop = &srv->loops[l];
        for (int i = 0; i < HK_WRITE_WAITS; i++)
            waits_us[i] += atomic_load_explicit(&loop->write_wait_us[i],
                                                memory_order_relaxed);
        waits += atomic_load_explicit(&loop->write_waits, memory_order_relaxed);
    }
    if (rc == HK_OK)
        rc = hk_buf_append_str(
            b, "# HELP hakgal_write_latency_seconds_total Time write requests "
               "spent per stage once queued (queue: waiting for the writer; "
               "apply: until their group committed; durable: until synced; "
               "answer: until their loop answered), summed.\n"
               "# TYPE hakgal_write_latency_seconds_total counter\n");
    for (int i = 0; rc == HK_OK && i < HK_WRITE_WAITS; i++)
        rc = hk_buf_appendf(b,
                            "hakgal_write_latency_seconds_total{stage=\"%s\"} "
                            "%llu.%06llu\n",
                            k_wait_names[i],
                            (unsigned long long)(waits_us[i] / 1000000),
                            (unsigned long long)(waits_us[i] % 1000000));
    if (rc == HK_OK)
        rc = hk_buf_appendf(
            b,
            "# HELP hakgal_write_latency_writes_total Write requests counted "
            "in hakgal_write_latency_seconds_total.\n"
            "# TYPE hakgal_write_latency_writes_total counter\n"
            "hakgal_write_latency_writes_total %llu\n",
            (unsigned long long)waits);
    return rc;
}

static bool fatal_for_txn(hk_err rc)
{
    return rc == HK_ERR_STORE || rc == HK_ERR_FULL || rc == HK_ERR_DISK_FULL ||
           rc == HK_ERR_NOMEM || rc == HK_ERR_IO || rc == HK_ERR_STATE ||
           rc == HK_ERR_CORRUPT;
}

/* ==== Completion ==== */

/* Answers the chain of jobs of one loop (linked by on_loop), in order. */
static void complete_on_loop(hk_loop_msg *msg)
{
    hk_write_job *next;
    for (hk_write_job *job = (hk_write_job *)msg; job; job = next) {
        next = job->on_loop;
        h2o_req_t *req = hk_req_ref_get(job->ref);
        write_latency_note(job);
        job->done(req, job->rc, &job->err, job->arg);
        hk_req_ref_release(job->ref);
        atomic_fetch_sub(&job->loop->pending, 1);
        hk_free(job);
    }
}

static void complete_sync(hk_write_job *job)
{
    pthread_mutex_lock(job->mu);
    *job->finished = true;
    pthread_cond_broadcast(job->cv);
    pthread_mutex_unlock(job->mu);
}

/* ==== Write-ahead log records ====
 * With --wal, a group whose every job came from a write command
 * (svc_cmd.h) commits without LMDB's sync and logs one record instead
 * (store.h, "Write-ahead log"): what a replay needs to redo the group in
 * one transaction exactly as it ran.
 *
 *   record := u32 n, then n times: i64 clock_us, u32 len, entry[len]
 *   entry  := u8 flags, u16 actor length, actor, u16 name length,
 *             command name, u32 request length, the request: svc_cmd's
 *             binary form (flag WAL_ENTRY_BINARY: fact.add) or its JSON
 *             (encode: every other command, and every entry of a log
 *             written before the binary form)
 *
 * Only the jobs that succeeded are in it: a failed job left the
 * transaction unchanged (write_fn contract). Each job's time is fixed
 * (hks_txn_set_clock) and logged, so the replay gives the same times. All
 * integers little-endian. The entry is built on the loop thread when the
 * job is queued; the writer only concatenates. */

static void le_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Entry flags (the first byte; a log written before the binary form
 * holds 0 or 1 there). Unknown bits are refused at replay. */
#define WAL_ENTRY_SOLO 1u   /* the job ran solo (ended its bulk mode) */
#define WAL_ENTRY_BINARY 2u /* the request is svc_cmd's binary form */
#define WAL_ENTRY_KNOWN (WAL_ENTRY_SOLO | WAL_ENTRY_BINARY)

/* The log entry of a job (caller frees with hk_free), or NULL (the write
 * cannot be logged, or no memory: then its group is synced by LMDB). */
uint8_t *hk_writer_wal_entry(const char *actor, hk_svc_apply_fn sfn,
                             const void *sarg, bool solo, size_t *len)
{
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(sfn);
    if (!cmd || !sarg) return NULL;
    size_t na = strlen(actor), nn = strlen(cmd->name);
    if (na > UINT16_MAX || nn > UINT16_MAX) return NULL;
    hk_error err;
    hk_buf b = HK_BUF_INIT;
    uint8_t h[4];
    bool binary = hk_svc_cmd_packable(cmd);
    h[0] = (uint8_t)((solo ? WAL_ENTRY_SOLO : 0) |
                     (binary ? WAL_ENTRY_BINARY : 0));
    le_put(h + 1, na, 2);
    bool ok = hk_buf_reserve(&b, 1 + 2 + na + 2 + nn + 4 + 64) == HK_OK &&
              hk_buf_append(&b, h, 3) == HK_OK &&
              hk_buf_append(&b, actor, na) == HK_OK;
    le_put(h, nn, 2);
    ok = ok && hk_buf_append(&b, h, 2) == HK_OK &&
         hk_buf_append(&b, cmd->name, nn) == HK_OK &&
         hk_buf_append(&b, h, 4) == HK_OK; /* the request's length, below */
    size_t at = b.len;
    if (ok && binary) {
        ok = hk_svc_cmd_pack(cmd, sarg, &b, &err) == HK_OK;
    } else if (ok) {
        json_t *v = NULL;
        char *js = NULL;
        if (cmd->encode(sarg, &v, &err) == HK_OK)
            js = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        ok = js && hk_buf_append_str(&b, js) == HK_OK;
        free(js);
    }
    if (!ok || b.len - at > UINT32_MAX) {
        hk_buf_free(&b);
        return NULL;
    }
    le_put((uint8_t *)b.data + at - 4, b.len - at, 4);
    *len = b.len;
    return (uint8_t *)b.data; /* the buffer's allocation: hk_free */
}

/* Builds the record of the group first.. (its jobs that succeeded) into
 * buf and hands it to txn; false when some job cannot be logged. */
static bool wal_record(hk_txn *txn, hk_write_job *first, hk_buf *buf)
{
    uint32_t n = 0;
    hk_buf_reset(buf);
    uint8_t head[12] = {0};
    if (hk_buf_append(buf, head, 4) != HK_OK) return false;
    for (hk_write_job *job = first; job; job = job->next) {
        if (!job->wrec) return false;
        if (job->rc != HK_OK) continue;
        le_put(head, (uint64_t)job->clock_us, 8);
        le_put(head + 8, job->wrec_len, 4);
        if (hk_buf_append(buf, head, 12) != HK_OK ||
            hk_buf_append(buf, job->wrec, job->wrec_len) != HK_OK)
            return false;
        n++;
    }
    le_put((uint8_t *)buf->data, n, 4);
    if (n) hks_txn_set_wal(txn, buf->data, buf->len);
    return true;
}

static void wal_entries_free(hk_write_job *first)
{
    for (hk_write_job *job = first; job; job = job->next) {
        hk_free(job->wrec);
        job->wrec = NULL;
    }
}

static bool replay_fatal(hk_err rc)
{
    return rc != HK_OK && rc != HK_ERR_INVALID && rc != HK_ERR_NOT_FOUND &&
           rc != HK_ERR_EXISTS && rc != HK_ERR_LIMIT;
}

hk_err hk_writer_wal_replay(void *ud, hk_txn *t, const void *rec, size_t len,
                            hk_error *err)
{
    const hk_svc_cmd_env *env = ud;
    const uint8_t *p = rec, *end = p + len;
    if (len < 4)
        return hk_error_set(err, HK_ERR_CORRUPT, "log record without a count");
    uint32_t n = (uint32_t)le_get(p, 4);
    p += 4;
    for (uint32_t i = 0; i < n; i++) {
        if ((size_t)(end - p) < 12 + 1 + 2)
            return hk_error_set(err, HK_ERR_CORRUPT, "log record cut short");
        int64_t clock = (int64_t)le_get(p, 8);
        size_t elen = (size_t)le_get(p + 8, 4);
        p += 12;
        if ((size_t)(end - p) < elen || elen < 9)
            return hk_error_set(err, HK_ERR_CORRUPT, "log entry cut short");
        const uint8_t *e = p, *eend = p + elen;
        p += elen;
        if (e[0] & ~WAL_ENTRY_KNOWN)
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "log entry: unknown flags 0x%02x (a newer "
                                "version's log?)",
                                e[0]);
        bool solo = (e[0] & WAL_ENTRY_SOLO) != 0;
        bool binary = (e[0] & WAL_ENTRY_BINARY) != 0;
        size_t na = (size_t)le_get(e + 1, 2);
        if ((size_t)(eend - e) < 3 + na + 2)
            return hk_error_set(err, HK_ERR_CORRUPT, "log entry: bad actor");
        char actor[257];
        if (na == 0 || na >= sizeof actor)
            return hk_error_set(err, HK_ERR_CORRUPT, "log entry: bad actor");
        memcpy(actor, e + 3, na);
        actor[na] = 0;
        const uint8_t *q = e + 3 + na;
        size_t nn = (size_t)le_get(q, 2);
        char name[64];
        if (nn == 0 || nn >= sizeof name || (size_t)(eend - q) < 2 + nn + 4)
            return hk_error_set(err, HK_ERR_CORRUPT, "log entry: bad command");
        memcpy(name, q + 2, nn);
        name[nn] = 0;
        q += 2 + nn;
        size_t nj = (size_t)le_get(q, 4);
        if ((size_t)(eend - q) != 4 + nj)
            return hk_error_set(err, HK_ERR_CORRUPT, "log entry: bad request");
        const hk_svc_cmd *cmd = hk_svc_cmd_by_name(name);
        if (!cmd)
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "log entry: unknown command %s", name);
        void *arg = NULL;
        hk_err rc;
        if (binary) {
            rc = hk_svc_cmd_unpack(cmd, q + 4, nj, env, &arg, err);
        } else {
            json_error_t jerr;
            json_t *v = json_loadb((const char *)q + 4, nj, 0, &jerr);
            if (!v)
                return hk_error_set(err, HK_ERR_CORRUPT,
                                    "log entry: request is not JSON: %s",
                                    jerr.text);
            rc = cmd->decode(v, env, &arg, err);
            json_decref(v);
        }
        if (rc != HK_OK) return rc;
        hks_txn_set_clock(t, clock);
        rc = hk_txn_set_actor(t, actor);
        if (rc == HK_OK) rc = cmd->apply(t, arg, err);
        if (rc == HK_OK && solo) rc = hks_txn_end_bulk(t, err);
        if (cmd->release) cmd->release(arg);
        if (rc != HK_OK) {
            /* it succeeded when it was logged: the replay diverged */
            if (!replay_fatal(rc))
                return hk_error_set(err, HK_ERR_CORRUPT,
                                    "replaying %s by %s failed (%s), which "
                                    "succeeded when logged",
                                    name, actor, hk_strerror(rc));
            return rc;
        }
    }
    if (p != end)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "log record has bytes after its entries");
    return HK_OK;
}

/* ==== Applying groups ==== */

static hk_err run_job(hk_txn *txn, hk_write_job *job)
{
    hk_error_clear(&job->err);
    if (job->wrec) { /* logged: its time is part of the record */
        job->clock_us = hk_now_us();
        hks_txn_set_clock(txn, job->clock_us);
    } else {
        /* back to the wall clock: a job before may have pinned it (the
         * add of POST /v2/facts, to answer without reading back) */
        hks_txn_set_clock(txn, 0);
    }
    hk_err rc = hk_txn_set_actor(txn, job->actor);
    if (rc != HK_OK)
        return hk_error_set(&job->err, rc, "cannot set the audit actor");
    hk_span sp;
    if (job->traced) /* a child of the request that queued the job */
        hk_span_start(&sp, "write.apply", HK_SPAN_INTERNAL, &job->trace, true);
    job->rc = job->fn(txn, job->arg, &job->err);
    /* A solo job's bulk mode ends with it, so that the next solo job of
     * the group starts its own import entry. */
    if (job->solo && !fatal_for_txn(job->rc)) {
        hk_err be = hks_txn_end_bulk(txn, &job->err);
        if (be != HK_OK) job->rc = be;
    }
    if (job->rc != HK_OK && job->err.code == HK_OK)
        hk_error_set(&job->err, job->rc, "%s", hk_strerror(job->rc));
    if (job->traced) {
        if (job->rc != HK_OK) hk_span_set_error(&sp, hk_strerror(job->rc));
        hk_span_end(&sp);
    }
    return job->rc;
}

/* The span of one group commit: a child of the first traced job's request
 * (the others are the group's other members), else a root. */
static void group_span_start(hk_span *sp, hk_write_job *first, size_t n)
{
    const hk_trace_ctx *parent = NULL;
    for (hk_write_job *job = first; job && !parent; job = job->next)
        if (job->traced) parent = &job->trace;
    hk_span_start(sp, "group commit", HK_SPAN_INTERNAL, parent, false);
    hk_span_attr_int(sp, "hakgal.group.size", (int64_t)n);
}

/* Runs jobs one transaction each (after a poisoned group). */
static void apply_alone(hk_server *srv, hk_write_job *first)
{
    for (hk_write_job *job = first; job; job = job->next) {
        hk_txn *txn = NULL;
        int64_t t0 = hk_now_us();
        job->rc = hk_txn_begin(srv->store, true, &txn, &job->err);
        if (job->rc != HK_OK) continue;
        if (run_job(txn, job) != HK_OK && fatal_for_txn(job->rc)) {
            hk_txn_abort(txn);
            continue;
        }
        hk_write_job *next = job->next;
        job->next = NULL; /* a record of this job alone */
        if (hks_wal_active(srv->store))
            (void)wal_record(txn, job, &srv->writer.wal_buf);
        job->next = next;
        hk_error cerr;
        hk_error_clear(&cerr);
        hk_err crc = hk_txn_commit(txn, &cerr);
        hk_metrics_commit(srv, 1, (double)(hk_now_us() - t0) / 1e6,
                          crc == HK_OK);
        if (crc != HK_OK) {
            job->rc = crc;
            job->err = cerr;
        }
    }
}

static void apply_group_in(hk_server *srv, hk_write_job *first, size_t n,
                           hk_span *gsp);

static void apply_group(hk_server *srv, hk_write_job *first, size_t n)
{
    bool tracing = hk_otel_active();
    hk_span gsp;
    if (tracing) group_span_start(&gsp, first, n);
    apply_group_in(srv, first, n, tracing ? &gsp : NULL);
    if (tracing) hk_span_end(&gsp);
}

static void apply_group_in(hk_server *srv, hk_write_job *first, size_t n,
                           hk_span *gsp)
{
    hk_txn *txn = NULL;
    int64_t t0 = hk_now_us();
    hk_error berr;
    hk_error_clear(&berr);
    hk_err rc = hk_txn_begin(srv->store, true, &txn, &berr);
    if (rc != HK_OK) {
        for (hk_write_job *job = first; job; job = job->next) {
            job->rc = rc;
            job->err = berr;
        }
        hk_metrics_commit(srv, n, 0, false);
        if (gsp) hk_span_set_error(gsp, hk_strerror(rc));
        return;
    }
    bool poisoned = false;
    for (hk_write_job *job = first; job; job = job->next) {
        if (run_job(txn, job) != HK_OK && fatal_for_txn(job->rc)) {
            poisoned = true;
            break;
        }
    }
    if (poisoned) {
        hk_txn_abort(txn);
        if (n == 1) {
            hk_metrics_commit(srv, 1, 0, false);
            return; /* the job already holds its error */
        }
        apply_alone(srv, first);
        return;
    }
    if (hks_wal_active(srv->store))
        (void)wal_record(txn, first, &srv->writer.wal_buf);
    hk_error cerr;
    hk_error_clear(&cerr);
    int64_t tc = hk_now_us();
    stage_add(srv, ST_APPLY, t0, tc);
    hk_err crc = hk_txn_commit(txn, &cerr);
    int64_t t1 = hk_now_us();
    stage_add(srv, ST_COMMIT, tc, t1);
    hk_metrics_commit(srv, n, (double)(t1 - t0) / 1e6, crc == HK_OK);
    if (gsp && crc != HK_OK) hk_span_set_error(gsp, hk_strerror(crc));
    if (crc != HK_OK) {
        /* Nothing of the group is durable: every job fails. */
        for (hk_write_job *job = first; job; job = job->next) {
            if (job->rc == HK_OK) {
                job->rc = crc;
                job->err = cerr;
            }
        }
    }
}

/* ==== Durability ==== */

/* Loops a group's answers are sorted by before sending; a group whose jobs
 * come from more loops sends the rest one message per job. */
#define HK_COMPLETE_LOOPS 16

/* Answers the jobs from first on: sync jobs at once, async ones as one
 * chain per origin loop, each chain in queue order. */
static void complete_all(hk_write_job *first)
{
    hk_loop *loops[HK_COMPLETE_LOOPS];
    hk_write_job *heads[HK_COMPLETE_LOOPS], *tails[HK_COMPLETE_LOOPS];
    size_t n_loops = 0;
    for (hk_write_job *job = first, *next; job; job = next) {
        next = job->next;
        if (!job->loop) {
            complete_sync(job);
            continue;
        }
        job->on_loop = NULL;
        job->msg.run = complete_on_loop;
        size_t i = 0;
        while (i < n_loops && loops[i] != job->loop)
            i++;
        if (i < n_loops) {
            tails[i]->on_loop = job;
            tails[i] = job;
        } else if (n_loops < HK_COMPLETE_LOOPS) {
            loops[n_loops] = job->loop;
            heads[n_loops] = tails[n_loops] = job;
            n_loops++;
        } else {
            hk_loop_send(job->loop, &job->msg);
        }
    }
    for (size_t i = 0; i < n_loops; i++)
        hk_loop_send(loops[i], &heads[i]->msg);
}

/* ==== The syncer ==== */

/* Hands the committed jobs first..last (commit `commit`) to the syncer. */
static void hand_to_syncer(hk_writer *w, hk_write_job *first, uint64_t commit)
{
    hk_write_job *last = first;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&w->sync_lock);
    if (w->sync_tail)
        w->sync_tail->next = first;
    else
        w->sync_head = first;
    w->sync_tail = last;
    if (commit > w->sync_upto) w->sync_upto = commit;
    pthread_cond_signal(&w->sync_wake);
    pthread_mutex_unlock(&w->sync_lock);
}

/* Makes commit durable (a sync unless a later commit's sync did it) and
 * acknowledges the jobs from first on. A failed sync fails the jobs that
 * had succeeded (their commit may not survive a power loss). */
static void complete_durable(hk_server *srv, hk_write_job *first,
                             uint64_t commit)
{
    int64_t t0 = hk_now_us();
    if (hk_store_durable_commit(srv->store) < commit) {
        hk_error err;
        hk_error_clear(&err);
        hk_err rc = hk_store_sync(srv->store, &err);
        int64_t t1 = hk_now_us();
        stage_add(srv, ST_SYNC, t0, t1);
        t0 = t1;
        if (rc != HK_OK) {
            for (hk_write_job *job = first; job; job = job->next) {
                if (job->rc == HK_OK) {
                    job->rc = err.code ? err.code : HK_ERR_IO;
                    job->err = err;
                }
            }
        }
    }
    stamp_jobs(first, T_DURABLE);
    complete_all(first);
    stage_add(srv, ST_ANSWER, t0, hk_now_us());
}

static void *syncer_main(void *arg)
{
    hk_server *srv = arg;
    hk_writer *w = &srv->writer;
    for (;;) {
        pthread_mutex_lock(&w->sync_lock);
        while (!w->sync_head && !w->sync_stop)
            pthread_cond_wait(&w->sync_wake, &w->sync_lock);
        hk_write_job *first = w->sync_head;
        uint64_t upto = w->sync_upto;
        w->sync_head = w->sync_tail = NULL;
        pthread_cond_signal(&w->sync_taken);
        pthread_mutex_unlock(&w->sync_lock);
        if (!first) break; /* stopped, nothing left */
        complete_durable(srv, first, upto);
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    hk_server *srv = arg;
    hk_writer *w = &srv->writer;
    for (;;) {
        /* Under the log a commit is quick and only its sync is slow: a
         * commit made while the last group still waits for its sync to
         * begin would join that same sync, for the price of one more
         * LMDB commit. So wait for the sync to begin and let the queue
         * fill meanwhile: the groups keep the size the sync's duration
         * gives them (file comment, "Durability pipeline"). */
        int64_t ts = hk_now_us();
        if (w->sync_started && hks_wal_active(srv->store)) {
            pthread_mutex_lock(&w->sync_lock);
            while (w->sync_head)
                pthread_cond_wait(&w->sync_taken, &w->sync_lock);
            pthread_mutex_unlock(&w->sync_lock);
            int64_t now = hk_now_us();
            stage_add(srv, ST_WAIT_SYNC, ts, now);
            ts = now;
        }
        pthread_mutex_lock(&w->lock);
        w->idle = true; /* the next enqueue wakes it */
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->wake, &w->lock);
        w->idle = false;
        int64_t now = hk_now_us();
        stage_add(srv, ST_IDLE, ts, now);
        ts = now;
        if (!w->head && w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        /* Gather: give the clients answered by the last commit a moment
         * to send their next write (see the file comment). */
        if (w->count < w->last_group && !w->stop && w->delay_us > 0 &&
            !w->head->solo) {
            int64_t wait_us = w->last_commit_us / 2;
            if (wait_us > w->delay_us) wait_us = w->delay_us;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)(wait_us * 1000);
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            w->want = w->last_group; /* the enqueue that reaches it wakes */
            while (w->count < w->last_group && !w->stop)
                if (pthread_cond_timedwait(&w->wake, &w->lock, &until) != 0)
                    break;
            w->want = 0;
            stage_add(srv, ST_GATHER, ts, hk_now_us());
        }
        /* Take up to max_group jobs, or up to HK_SOLO_GROUP_MAX solo
         * jobs queued in a row. */
        hk_write_job *first = w->head;
        hk_write_job *last = first;
        size_t n = 1;
        size_t max = first->solo ? HK_SOLO_GROUP_MAX : srv->cfg.max_group;
        while (last->next && last->next->solo == first->solo && n < max) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head) w->tail = NULL;
        last->next = NULL;
        w->count -= n;
        if (!first->solo) w->last_group = n;
        atomic_fetch_sub(&srv->metrics.queue_depth, n);
        pthread_mutex_unlock(&w->lock);

        stamp_jobs(first, T_TAKEN);
        int64_t t0 = hk_now_us();
        apply_group(srv, first, n);
        stamp_jobs(first, T_COMMITTED);
        wal_entries_free(first); /* the commit has logged them */
        if (!first->solo) w->last_commit_us = hk_now_us() - t0;
        /* Not durable yet (pipelined): the syncer acknowledges it. */
        uint64_t commit = hk_store_last_commit(srv->store);
        int64_t th = hk_now_us();
        if (hk_store_durable_commit(srv->store) >= commit) {
            stamp_jobs(first, T_DURABLE);
            complete_all(first);
        } else if (w->sync_started)
            hand_to_syncer(w, first, commit);
        else
            complete_durable(srv, first, commit);
        stage_add(srv, ST_HAND_OFF, th, hk_now_us());
    }
    return NULL;
}

/* ==== Queueing ==== */

static hk_err enqueue(hk_server *srv, hk_write_job *job)
{
    hk_writer *w = &srv->writer;
    pthread_mutex_lock(&w->lock);
    if (w->closed) {
        pthread_mutex_unlock(&w->lock);
        return HK_ERR_STATE;
    }
    job->next = NULL;
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->count++;
    atomic_fetch_add(&srv->metrics.queue_depth, 1);
    /* Wake the writer only when it waits for this job (file comment). */
    if (w->idle || (w->want > 0 && w->count >= w->want))
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return HK_OK;
}

static void set_actor(hk_write_job *job, const char *actor)
{
    /* truncated as snprintf would, without its formatting on every job */
    const char *a = actor && *actor ? actor : "local";
    size_t n = strnlen(a, sizeof(job->actor) - 1);
    memcpy(job->actor, a, n);
    job->actor[n] = '\0';
    const hk_trace_ctx *cur = hk_otel_current(); /* the request's span */
    if (cur && hk_otel_active()) {
        job->trace = *cur;
        job->traced = true;
    }
}

hk_err hk_server_write_sync(hk_server *srv, hk_write_fn fn, void *arg,
                            const char *actor, hk_error *err)
{
    return hk_server_write_sync_ex(srv, fn, arg, actor, false, err);
}

hk_err hk_server_write_sync_ex(hk_server *srv, hk_write_fn fn, void *arg,
                               const char *actor, bool solo, hk_error *err)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    bool finished = false;
    hk_write_job job;
    memset(&job, 0, sizeof(job));
    job.fn = fn;
    job.arg = arg;
    job.srv = srv;
    job.mu = &mu;
    job.cv = &cv;
    job.finished = &finished;
    job.solo = solo;
    set_actor(&job, actor);
    if (srv->repl) /* replicated node: through the log (server_repl.c) */
        return hk_server_repl_write_sync(srv, fn, arg, actor, err);
    if (hk_server_current_loop())
        return hk_error_set(err, HK_ERR_STATE,
                            "hk_server_write_sync called on a loop thread");
    if (enqueue(srv, &job) != HK_OK)
        return hk_error_set(err, HK_ERR_STATE,
                            "the server is shutting down; write refused");
    pthread_mutex_lock(&mu);
    while (!finished)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
    pthread_mutex_destroy(&mu);
    if (err) *err = job.err;
    return job.rc;
}

hk_err hk_server_write_async(h2o_req_t *req, hk_write_fn fn,
                             hk_write_done_fn done, void *arg,
                             const char *actor)
{
    return hk_write_async_ex(req, fn, done, arg, actor, false);
}

hk_err hk_write_async_ex(h2o_req_t *req, hk_write_fn fn, hk_write_done_fn done,
                         void *arg, const char *actor, bool solo)
{
    return hk_write_async_logged(req, fn, done, arg, actor, solo, NULL, NULL);
}

hk_err hk_write_async_logged(h2o_req_t *req, hk_write_fn fn,
                             hk_write_done_fn done, void *arg,
                             const char *actor, bool solo, hk_svc_apply_fn sfn,
                             void *sarg)
{
    hk_loop *loop = hk_server_current_loop();
    if (!loop) return HK_ERR_STATE;
    if (loop->srv->repl) return HK_ERR_UNSUPPORTED; /* not replicated */
    hk_write_job *job = hk_calloc(1, sizeof(*job));
    if (!job) return HK_ERR_NOMEM;
    job->ref = hk_req_ref_new(req);
    if (!job->ref) {
        hk_free(job);
        return HK_ERR_NOMEM;
    }
    job->fn = fn;
    job->solo = solo;
    job->arg = arg;
    job->srv = loop->srv;
    job->loop = loop;
    job->done = done;
    set_actor(job, actor);
    if (loop->srv->cfg.wal && sfn)
        job->wrec =
            hk_writer_wal_entry(job->actor, sfn, sarg, solo, &job->wrec_len);
    atomic_fetch_add(&loop->pending, 1);
    job->t[T_QUEUED] = hk_now_us();
    hk_err rc = enqueue(loop->srv, job);
    if (rc != HK_OK) {
        atomic_fetch_sub(&loop->pending, 1);
        hk_req_ref_release(job->ref);
        hk_free(job->wrec);
        hk_free(job);
        return rc;
    }
    /* the answer comes through a loop message, on a later iteration */
    hk_loop_hold_read(req);
    return rc;
}

/* ==== Lifecycle ==== */

/* Lets the syncer acknowledge what it holds, joins it, frees its lock. */
static void stop_syncer(hk_writer *w)
{
    if (w->sync_started) {
        pthread_mutex_lock(&w->sync_lock);
        w->sync_stop = true;
        pthread_cond_signal(&w->sync_wake);
        pthread_mutex_unlock(&w->sync_lock);
        pthread_join(w->sync_thread, NULL);
        w->sync_started = false;
    }
    pthread_cond_destroy(&w->sync_wake);
    pthread_cond_destroy(&w->sync_taken);
    pthread_mutex_destroy(&w->sync_lock);
}

hk_err hk_writer_start(hk_server *srv, hk_error *err)
{
    hk_writer *w = &srv->writer;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    w->head = w->tail = NULL;
    w->count = 0;
    w->last_group = 1;
    w->last_commit_us = 0;
    w->delay_us = srv->cfg.commit_delay_us;
    w->idle = false;
    w->want = 0;
    w->stop = w->closed = false;
    pthread_mutex_init(&w->sync_lock, NULL);
    pthread_cond_init(&w->sync_wake, NULL);
    pthread_cond_init(&w->sync_taken, NULL);
    w->sync_head = w->sync_tail = NULL;
    w->sync_upto = 0;
    w->sync_stop = false;
    for (int i = 0; i < HK_WRITER_STAGES; i++)
        atomic_init(&w->stage_us[i], 0);
    /* without the syncer the writer syncs inline (complete_durable) */
    w->sync_started =
        pthread_create(&w->sync_thread, NULL, syncer_main, srv) == 0;
    if (w->sync_started) pthread_setname_np(w->sync_thread, "hk-syncer");
    if (pthread_create(&w->thread, NULL, writer_main, srv) != 0) {
        stop_syncer(w);
        return hk_error_set(err, HK_ERR_NOMEM,
                            "cannot start the writer thread");
    }
    /* names for top -H and bench/cpu/run.sh's CPU per thread */
    pthread_setname_np(w->thread, "hk-writer");
    w->started = true;
    return HK_OK;
}

void hk_writer_stop(hk_server *srv)
{
    hk_writer *w = &srv->writer;
    if (!w->started) return;
    pthread_mutex_lock(&w->lock);
    w->closed = true;
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->started = false;
    hk_buf_free(&w->wal_buf);
    stop_syncer(w); /* after the writer: it may hand over until its end */
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
}
