/*
 * server_pool.c — blocking work off the event loops, and messages to loops.
 *
 * A loop must never block, yet some requests need slow work (a backup, a
 * long MCP tool). hk_server_defer queues such work to a small pool of
 * threads (pool_threads); when the work is done its completion is sent back
 * to the loop that owns the request through that loop's h2o multithread
 * queue, where `after` runs and answers (or learns that the client left).
 *
 * hk_loop_post is the general form: any thread asks a loop to run a
 * function on its own thread. Every such message starts with hk_loop_msg
 * and is freed by its run function.
 *
 * The pool queue is a mutex-guarded FIFO; on stop the threads finish what is
 * queued and exit.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

/* ==== Loop messages ==== */

void hk_loop_send(hk_loop *loop, hk_loop_msg *msg)
{
    msg->super.link.next = msg->super.link.prev = NULL;
    h2o_multithread_send_message(&loop->receiver, &msg->super);
}

void hk_loop_on_messages(h2o_multithread_receiver_t *receiver,
                         h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        hk_loop_msg *msg =
            H2O_STRUCT_FROM_MEMBER(hk_loop_msg, super.link, messages->next);
        h2o_linklist_unlink(&msg->super.link);
        msg->run(msg);
    }
}

typedef struct post_msg {
    hk_loop_msg msg;       /* header */
    void (*fn)(void *arg); /* to run on the loop */
    void *arg;             /* fn's argument */
} post_msg;

static void run_post(hk_loop_msg *m)
{
    post_msg *p = (post_msg *)m;
    p->fn(p->arg);
    hk_free(p);
}

hk_err hk_loop_post(hk_loop *loop, void (*fn)(void *arg), void *arg)
{
    post_msg *p = hk_calloc(1, sizeof(*p));
    if (!p) return HK_ERR_NOMEM;
    p->msg.run = run_post;
    p->fn = fn;
    p->arg = arg;
    hk_loop_send(loop, &p->msg);
    return HK_OK;
}

h2o_context_t *hk_loop_context(hk_loop *loop)
{
    return &loop->ctx;
}

/* ==== Pool ==== */

struct hk_pool_job {
    hk_loop_msg msg;        /* completion message to the loop */
    hk_pool_job *next;      /* queue link */
    hk_loop *loop;          /* origin loop */
    hk_req_ref *ref;        /* the request, if still alive */
    hk_work_fn work;        /* runs on a pool thread */
    hk_after_work_fn after; /* runs on the loop */
    void *arg;              /* for both */
    bool faulted;           /* work read a damaged map (faultguard) */
    uint64_t fault_offset;  /* where */
};

static void pool_done_on_loop(hk_loop_msg *m)
{
    hk_pool_job *job = (hk_pool_job *)m;
    h2o_req_t *req = hk_req_ref_get(job->ref);
    if (job->faulted) {
        /* after() frees arg as for a client that left; the answer says why
         * the work was abandoned */
        job->after(NULL, job->arg);
        if (req) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "the knowledge base is damaged (a read faulted at byte "
                     "%llu of its data file): restore it from a backup",
                     (unsigned long long)job->fault_offset);
            hk_http_send_error(req, 500, "kb_damaged", msg, NULL);
        }
    } else {
        job->after(req, job->arg);
    }
    hk_req_ref_release(job->ref);
    atomic_fetch_sub(&job->loop->pending, 1);
    hk_free(job);
}

/* Runs the job's work under a fault guard: a read of a damaged or
 * truncated data file abandons the work (what it allocated, and a read
 * transaction it had open, are leaked: the KB is damaged and the operator
 * must restore it) instead of ending the process. */
static void run_guarded(hk_server *srv, hk_pool_job *job)
{
    hk_fault_guard g;
    if (sigsetjmp(g.jb, 0) == 0) {
        hk_fault_arm(&g);
        job->work(job->arg);
        hk_fault_disarm(&g);
        return;
    }
    job->faulted = true;
    job->fault_offset = g.offset;
    atomic_store(&srv->damaged, true);
    hk_trace_log_error(srv, hk_otel_current(),
                       "knowledge base damaged: a read faulted at byte %llu "
                       "of the data file; restore it from a backup",
                       (unsigned long long)g.offset);
}

static void *pool_main(void *arg)
{
    hk_server *srv = arg;
    hk_pool *p = &srv->pool;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->wake, &p->lock);
        if (!p->head) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        hk_pool_job *job = p->head;
        p->head = job->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        run_guarded(srv, job);
        job->msg.run = pool_done_on_loop;
        hk_loop_send(job->loop, &job->msg);
    }
    return NULL;
}

hk_err hk_server_defer(h2o_req_t *req, hk_work_fn work, hk_after_work_fn after,
                       void *arg)
{
    hk_loop *loop = hk_server_current_loop();
    if (!loop) return HK_ERR_STATE;
    hk_server *srv = loop->srv;
    hk_pool_job *job = hk_calloc(1, sizeof(*job));
    if (!job) return HK_ERR_NOMEM;
    job->ref = hk_req_ref_new(req);
    if (!job->ref) {
        hk_free(job);
        return HK_ERR_NOMEM;
    }
    job->loop = loop;
    job->work = work;
    job->after = after;
    job->arg = arg;
    hk_pool *p = &srv->pool;
    pthread_mutex_lock(&p->lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->lock);
        hk_req_ref_release(job->ref);
        hk_free(job);
        return HK_ERR_STATE;
    }
    atomic_fetch_add(&loop->pending, 1);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return HK_OK;
}

hk_err hk_pool_start(hk_server *srv, hk_error *err)
{
    hk_pool *p = &srv->pool;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = hk_calloc(srv->cfg.pool_threads, sizeof(pthread_t));
    if (!p->threads)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory for the pool");
    for (unsigned i = 0; i < srv->cfg.pool_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, srv) != 0)
            return hk_error_set(err, HK_ERR_NOMEM,
                                "cannot start pool thread %u", i);
        p->n_threads++;
    }
    return HK_OK;
}

void hk_pool_stop(hk_server *srv)
{
    hk_pool *p = &srv->pool;
    if (!p->threads) return;
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    hk_free(p->threads);
    p->threads = NULL;
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
}
