/*
 * server_repl.c — `hakgal serve --replicate kafka://B/T --node-id N`: the
 * server's side of multi-writer replication (src/stream/kafka_repl.c).
 *
 * A write of a replicated node does not go to the local writer thread:
 * its service request is encoded as a write command (svc_cmd.h: the one
 * table of writes that can travel, whichever interface decoded them),
 * produced to the log with the actor, and the job is parked in `pending`
 * under its sequence number. Routes come through hk_server_write_async_cmd
 * (answered on their loop), MCP over HTTP and gRPC through
 * hk_server_write_sync (hk_server_repl_write_sync: the calling thread
 * waits). The replicator applies every command of the log in order on its
 * own thread:
 *   - a command of this process whose job is parked runs the job's own
 *     write function on the job's request, so the answer is the one the
 *     interface renders without replication;
 *   - any other command is decoded by svc_cmd.h into an equal request and
 *     applied by the same service apply step.
 * Once the batch committed, a parked job completes on its loop (--ack
 * applied, the default: read-your-writes). With --ack log the job
 * completes with 202 when Kafka's delivery report comes (whether or not
 * this node applied the command already), and the command is applied
 * like any other.
 *
 * A synchronous write always waits until applied here (its caller reads
 * its results), also with --ack log.
 * A command the log does not take within --replicate-timeout-ms fails the
 * request with 503 replication_unavailable (the outcome is unknown: the
 * command may still be in the log and then applies everywhere). A write
 * whose apply step has no command is refused while replicating
 * (HK_ERR_UNSUPPORTED), so no node's content can diverge.
 *
 * Threads: `lock` guards the pending list; job fields are written by the
 * thread that holds the job (parked: the replicator's apply or delivery
 * thread, under `lock` for the hand-over).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "otel/otel.h"
#include "server/routes.h"
#include "service/svc_cmd.h"
#include "stream/stream.h"

typedef struct repl_job {
    hk_loop_msg msg;       /* completion to the origin loop */
    struct repl_job *next; /* pending list */
    uint64_t seq;          /* command number */
    hk_write_fn fn;        /* the route's write */
    hk_write_done_fn done; /* the route's completion */
    void *arg;             /* the route's decoded request */
    hk_server *srv;        /* owner */
    hk_loop *loop;         /* origin loop */
    hk_req_ref *ref;       /* the request, while alive */
    pthread_mutex_t *mu;   /* synchronous job: guards *finished */
    pthread_cond_t *cv;    /* synchronous job: signalled when finished */
    bool *finished;        /* synchronous job: set on completion */
    bool applying;         /* the replicator runs it: delivery errors no
                              longer fail it */
    int kind;              /* completion: 0 result, 1 accepted, 2 log down */
    int64_t offset;        /* its offset (accepted) */
    hk_err rc;             /* result */
    hk_error err;          /* result details */
    char why[200];         /* log failure */
} repl_job;

struct hk_repl_srv {
    hkst_repl *r;         /* the replicator */
    bool ack_log;         /* --ack log */
    bool json_only;       /* --replicate-commands json */
    pthread_mutex_t lock; /* guards pending and next_seq */
    repl_job *pending;    /* parked jobs */
    uint64_t next_seq;    /* last command number used */
};

/* ==== Completion on the loop ==== */

static void complete_on_loop(hk_loop_msg *msg)
{
    repl_job *job = (repl_job *)msg;
    h2o_req_t *req = hk_req_ref_get(job->ref);
    if (job->kind == 0) {
        job->done(req, job->rc, &job->err, job->arg);
    } else {
        if (req && job->kind == 1) {
            char b[160];
            int n = snprintf(b, sizeof b,
                             "{\"accepted\":true,\"node\":%u,\"offset\":%lld}"
                             "\n",
                             (unsigned)job->srv->cfg.node_id,
                             (long long)job->offset);
            hk_http_send_json(req, 202, b, (size_t)n);
        } else if (req) {
            hk_http_send_error(req, 503, "replication_unavailable", job->why,
                               NULL);
        }
        job->done(NULL, HK_ERR_STATE, &job->err, job->arg); /* frees arg */
    }
    hk_req_ref_release(job->ref);
    atomic_fetch_sub(&job->loop->pending, 1);
    hk_free(job);
}

static void complete(repl_job *job)
{
    if (job->mu) { /* synchronous: the waiting thread owns the job */
        pthread_mutex_lock(job->mu);
        *job->finished = true;
        pthread_cond_signal(job->cv);
        pthread_mutex_unlock(job->mu);
        return;
    }
    job->msg.run = complete_on_loop;
    hk_loop_send(job->loop, &job->msg);
}

/* Removes seq's job from the pending list (lock held); NULL if absent. */
static repl_job *take(struct hk_repl_srv *rs, uint64_t seq)
{
    for (repl_job **p = &rs->pending; *p; p = &(*p)->next)
        if ((*p)->seq == seq) {
            repl_job *j = *p;
            *p = j->next;
            return j;
        }
    return NULL;
}

static repl_job *find(struct hk_repl_srv *rs, uint64_t seq)
{
    for (repl_job *j = rs->pending; j; j = j->next)
        if (j->seq == seq) return j;
    return NULL;
}

/* ==== Replicator callbacks ==== */

static bool mine(hk_server *srv, const hkst_repl_msg *m)
{
    return m->node == srv->cfg.node_id &&
           m->incarnation == srv->repl_incarnation;
}

/* A parked job this node applies itself: always without --ack log, and
 * synchronous jobs always (their caller reads the results). */
static bool waits_for_apply(const struct hk_repl_srv *rs, const repl_job *job)
{
    return !rs->ack_log || job->mu != NULL;
}

static hk_err cb_apply(void *ctx, hk_txn *t, const hkst_repl_msg *m,
                       hk_error *err)
{
    hk_server *srv = ctx;
    struct hk_repl_srv *rs = srv->repl;
    if (mine(srv, m)) {
        pthread_mutex_lock(&rs->lock);
        repl_job *job = find(rs, m->seq);
        if (job && waits_for_apply(rs, job))
            job->applying = true;
        else
            job = NULL;
        pthread_mutex_unlock(&rs->lock);
        /* parked jobs leave the list only on this thread (applied) or
         * before applying started (delivery failure), so job stays */
        if (job) return job->fn(t, job->arg, err);
    }
    const hk_svc_cmd *cmd = hk_svc_cmd_by_name(m->op);
    if (!cmd)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "unknown replicated operation %.40s", m->op);
    void *arg = NULL;
    hk_svc_cmd_env env = {.s = srv->store, .vs = srv->vs};
    hk_err e =
        m->req ? cmd->decode(m->req, &env, &arg, err)
               : hk_svc_cmd_unpack(cmd, m->bin, m->bin_len, &env, &arg, err);
    if (e) return e;
    e = cmd->apply(t, arg, err);
    cmd->release(arg);
    return e;
}

static void cb_applied(void *ctx, const hkst_repl_msg *m, hk_err rc,
                       const hk_error *err)
{
    hk_server *srv = ctx;
    struct hk_repl_srv *rs = srv->repl;
    if (!mine(srv, m)) return;
    pthread_mutex_lock(&rs->lock);
    repl_job *job = find(rs, m->seq);
    if (job && waits_for_apply(rs, job))
        job = take(rs, m->seq);
    else
        job = NULL; /* --ack log: answered on delivery */
    pthread_mutex_unlock(&rs->lock);
    if (!job) return;
    job->rc = rc;
    job->err = *err;
    job->kind = 0;
    complete(job);
}

static void cb_delivered(void *ctx, uint64_t seq, int64_t offset,
                         const char *why)
{
    hk_server *srv = ctx;
    struct hk_repl_srv *rs = srv->repl;
    if (!rs) return;
    pthread_mutex_lock(&rs->lock);
    repl_job *job = find(rs, seq);
    if (job && !job->applying && (why || !waits_for_apply(rs, job)))
        job = take(rs, seq);
    else
        job = NULL;
    pthread_mutex_unlock(&rs->lock);
    if (!job) return;
    if (why) {
        job->kind = 2;
        snprintf(job->why, sizeof job->why,
                 "the replication log did not take the write in time (%.60s); "
                 "its outcome is unknown: read before retrying",
                 why);
    } else {
        job->kind = 1;
        job->offset = offset;
    }
    complete(job);
}

/* Produces cmd's request sarg as command seq: in its binary form when it
 * has one (no JSON tree, and the nodes decode no JSON), else as JSON; as
 * JSON always with --replicate-commands json, which nodes of a version
 * before the binary form apply too (they skip a binary command, so a
 * cluster upgraded node by node must not send one until all are new). */
static hk_err produce_cmd(struct hk_repl_srv *rs, uint64_t seq,
                          const hk_svc_cmd *cmd, const void *sarg,
                          const char *actor, const char *tp, hk_error *err)
{
    if (rs->json_only || !hk_svc_cmd_binary(cmd)) {
        json_t *req = NULL;
        hk_err e = cmd->encode(sarg, &req, err);
        if (e) return e;
        return hkst_repl_produce(rs->r, seq, cmd->name, actor, req, tp, err);
    }
    hk_buf b = HK_BUF_INIT;
    hk_err e = hk_svc_cmd_pack(cmd, sarg, &b, err);
    if (!e)
        e = hkst_repl_produce_packed(rs->r, seq, cmd->name, actor, b.data,
                                     b.len, tp, err);
    hk_buf_free(&b);
    return e;
}

/* Parks job (seq assigned here) and produces its command; false when the
 * producer refused it at once (job taken back, why filled). */
static bool park_and_produce(struct hk_repl_srv *rs, repl_job *job,
                             const hk_svc_cmd *cmd, const void *sarg,
                             const char *actor)
{
    pthread_mutex_lock(&rs->lock);
    job->seq = ++rs->next_seq;
    job->next = rs->pending;
    rs->pending = job;
    pthread_mutex_unlock(&rs->lock);
    hk_error err;
    hk_error_clear(&err);
    char tp[56] = "";
    const hk_trace_ctx *cur = hk_otel_current(); /* the request's span */
    if (cur && hk_otel_active()) hk_traceparent_format(cur, tp);
    if (produce_cmd(rs, job->seq, cmd, sarg, actor, tp, &err) == HK_OK)
        return true;
    pthread_mutex_lock(&rs->lock);
    repl_job *j = take(rs, job->seq);
    pthread_mutex_unlock(&rs->lock);
    if (!j) return true; /* (cannot happen: no report comes for it) */
    j->kind = 2;
    snprintf(j->why, sizeof j->why,
             "cannot send the write to the replication log: %.120s",
             err.message);
    return false;
}

/* ==== Routes ==== */

hk_err hk_server_write_async_cmd(h2o_req_t *req, hk_write_fn fn,
                                 hk_write_done_fn done, void *arg,
                                 const char *actor, hk_svc_apply_fn sfn,
                                 void *sarg, bool solo)
{
    hk_loop *loop = hk_server_current_loop();
    if (!loop) return HK_ERR_STATE;
    hk_server *srv = loop->srv;
    struct hk_repl_srv *rs = srv->repl;
    if (!rs) /* local: logged with --wal */
        return hk_write_async_logged(req, fn, done, arg, actor, solo, sfn,
                                     sarg);
    if (atomic_load(&srv->stopping)) return HK_ERR_STATE;
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(sfn);
    if (!cmd) return HK_ERR_UNSUPPORTED;
    repl_job *job = hk_calloc(1, sizeof *job);
    if (!job) return HK_ERR_NOMEM;
    job->ref = hk_req_ref_new(req);
    if (!job->ref) {
        hk_free(job);
        return HK_ERR_NOMEM;
    }
    job->fn = fn;
    job->done = done;
    job->arg = arg;
    job->srv = srv;
    job->loop = loop;
    atomic_fetch_add(&loop->pending, 1);
    if (!park_and_produce(rs, job, cmd, sarg, actor)) complete(job);
    return HK_OK;
}

hk_err hk_server_repl_write_sync(hk_server *srv, hk_write_fn fn, void *arg,
                                 const char *actor, hk_error *err)
{
    struct hk_repl_srv *rs = srv->repl;
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(fn);
    if (!cmd)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "this write is not replicated; a node started "
                            "with --replicate accepts fact writes only "
                            "(docs/STREAM.md)");
    if (hk_server_current_loop())
        return hk_error_set(err, HK_ERR_STATE,
                            "hk_server_write_sync called on a loop thread");
    if (atomic_load(&srv->stopping))
        return hk_error_set(err, HK_ERR_STATE,
                            "the server is shutting down; write refused");
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    bool finished = false;
    repl_job job;
    memset(&job, 0, sizeof job);
    job.fn = fn;
    job.arg = arg;
    job.srv = srv;
    job.mu = &mu;
    job.cv = &cv;
    job.finished = &finished;
    if (park_and_produce(rs, &job, cmd, arg, actor)) {
        pthread_mutex_lock(&mu);
        while (!finished)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_cond_destroy(&cv);
    pthread_mutex_destroy(&mu);
    if (job.kind == 2)
        return hk_error_set(err, HK_ERR_IO, "replication_unavailable: %s",
                            job.why);
    if (err) *err = job.err;
    return job.rc;
}

/* ==== Start, stop, readiness, metrics ==== */

/* HK_OK when setting `field` is unset ("") or one of a and b. */
static hk_err check_choice(const char *field, const char *value, const char *a,
                           const char *b, hk_error *err)
{
    if (!value[0] || strcmp(value, a) == 0 || strcmp(value, b) == 0)
        return HK_OK;
    hk_err e =
        hk_error_set(err, HK_ERR_INVALID, "%s must be %s or %s, not '%s'",
                     field, a, b, value);
    snprintf(err->field, sizeof err->field, "%s", field);
    return e;
}

hk_err hk_server_repl_start(hk_server *srv, hk_error *err)
{
    if (!srv->cfg.repl_url[0]) return HK_OK;
    hkst_url url;
    hk_err e = hkst_url_parse(srv->cfg.repl_url, &url, err);
    if (e) {
        snprintf(err->field, sizeof err->field, "replicate");
        return e;
    }
    if ((e = check_choice("ack", srv->cfg.repl_ack, "applied", "log", err)) ||
        (e = check_choice("replicate-commands", srv->cfg.repl_commands,
                          "binary", "json", err)))
        return e;
    if (srv->cfg.follow_url[0]) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "--replicate and --follow exclude each other");
        snprintf(err->field, sizeof err->field, "replicate");
        return e;
    }
    struct hk_repl_srv *rs = hk_calloc(1, sizeof *rs);
    if (!rs) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&rs->lock, NULL);
    rs->ack_log = strcmp(srv->cfg.repl_ack, "log") == 0;
    rs->json_only = strcmp(srv->cfg.repl_commands, "json") == 0;
    srv->repl_incarnation = (uint64_t)hk_now_us();
    srv->repl = rs; /* before the callbacks can run */
    hkst_repl_options o = {.node_id = srv->cfg.node_id,
                           .incarnation = srv->repl_incarnation,
                           .timeout_ms = srv->cfg.repl_timeout_ms,
                           .sync_ms = srv->cfg.repl_sync_ms,
                           .quiet = false,
                           .cb = {.ctx = srv,
                                  .apply = cb_apply,
                                  .applied = cb_applied,
                                  .delivered = cb_delivered}};
    e = hkst_repl_start(srv->store, &url, &o, &rs->r, err);
    if (e) {
        srv->repl = NULL;
        pthread_mutex_destroy(&rs->lock);
        hk_free(rs);
    }
    return e;
}

void hk_server_repl_stop(hk_server *srv)
{
    struct hk_repl_srv *rs = srv->repl;
    if (!rs) return;
    hkst_repl_stop(rs->r);
    /* what still waits never reached the log in time: answer 503 */
    for (repl_job *j = rs->pending, *next; j; j = next) {
        next = j->next;
        j->kind = 2;
        snprintf(j->why, sizeof j->why,
                 "the server stopped before the write was replicated");
        complete(j);
    }
    srv->repl = NULL;
    pthread_mutex_destroy(&rs->lock);
    hk_free(rs);
}

bool hk_server_repl_ready(hk_server *srv)
{
    if (!srv->repl) return true;
    hkst_repl_stats st;
    hkst_repl_stats_get(srv->repl->r, &st);
    uint32_t bound = srv->cfg.repl_max_lag ? srv->cfg.repl_max_lag : 1000;
    return st.connected && st.lag <= bound;
}

hk_err hk_server_repl_metrics(hk_server *srv, hk_buf *b)
{
    if (!srv->repl) return HK_OK;
    hkst_repl_stats st;
    hkst_repl_stats_get(srv->repl->r, &st);
    return hk_buf_appendf(
        b,
        "# HELP hakgal_repl_produced_total Writes this node sent to the "
        "replication log.\n# TYPE hakgal_repl_produced_total counter\n"
        "hakgal_repl_produced_total %llu\n"
        "# HELP hakgal_repl_produce_failures_total Writes the log did not "
        "take in time (answered 503).\n"
        "# TYPE hakgal_repl_produce_failures_total counter\n"
        "hakgal_repl_produce_failures_total %llu\n"
        "# HELP hakgal_repl_applied_total Commands of the log applied here.\n"
        "# TYPE hakgal_repl_applied_total counter\n"
        "hakgal_repl_applied_total %llu\n"
        "# HELP hakgal_repl_skipped_total Log messages that are not "
        "commands (skipped, each logged).\n"
        "# TYPE hakgal_repl_skipped_total counter\n"
        "hakgal_repl_skipped_total %llu\n"
        "# HELP hakgal_repl_failures_total Apply transactions that failed "
        "and were retried.\n# TYPE hakgal_repl_failures_total counter\n"
        "hakgal_repl_failures_total %llu\n"
        "# HELP hakgal_repl_lag_messages Log messages not applied here "
        "yet.\n# TYPE hakgal_repl_lag_messages gauge\n"
        "hakgal_repl_lag_messages %llu\n"
        "# HELP hakgal_repl_applied_offset Next log offset to apply.\n"
        "# TYPE hakgal_repl_applied_offset gauge\n"
        "hakgal_repl_applied_offset %lld\n"
        "# HELP hakgal_repl_log_end_offset End of the log as last seen.\n"
        "# TYPE hakgal_repl_log_end_offset gauge\n"
        "hakgal_repl_log_end_offset %lld\n",
        (unsigned long long)st.produced,
        (unsigned long long)st.produce_failures, (unsigned long long)st.applied,
        (unsigned long long)st.skipped, (unsigned long long)st.failures,
        (unsigned long long)st.lag, (long long)st.next_offset,
        (long long)st.high_offset);
}

void hk_server_repl_status_json(hk_server *srv, hk_buf *b)
{
    if (!srv->repl) return;
    hkst_repl_stats st;
    hkst_repl_stats_get(srv->repl->r, &st);
    b->len--; /* reopen the object */
    (void)hk_buf_appendf(
        b,
        ",\"replica\":{\"node\":%u,\"produced\":%llu,\"applied\":%llu,"
        "\"skipped\":%llu,\"failures\":%llu,\"apply_txns\":%llu,"
        "\"lag\":%llu,\"offset\":%lld,\"log_end\":%lld}}",
        (unsigned)srv->cfg.node_id, (unsigned long long)st.produced,
        (unsigned long long)st.applied, (unsigned long long)st.skipped,
        (unsigned long long)st.failures, (unsigned long long)st.txns,
        (unsigned long long)st.lag, (long long)st.next_offset,
        (long long)st.high_offset);
}
