/*
 * server_stream.c — `hakgal serve --stream kafka://BROKERS/TOPIC`: starts
 * the change-stream publisher of src/stream on the server's KB, renders its
 * metrics and answers GET /v2/stream/status.
 *
 * The publisher is started before the writer thread and stopped after it,
 * so every write the server acknowledged is in the outbox before the
 * publisher's last drain (up to 2 s; what remains waits for the next
 * start). Its counters are read under the publisher's own lock.
 */
#include "core/buf.h"
#include "core/clock.h"
#include "server/routes.h"
#include "service/svc_stream.h"

hk_err hk_server_stream_start(hk_server *srv, hk_error *err)
{
    hkst_url url;
    hk_err e;
    if (srv->cfg.follow_url[0]) {
        if ((e = hkst_url_parse(srv->cfg.follow_url, &url, err))) {
            snprintf(err->field, sizeof err->field, "follow");
            return e;
        }
        if ((e = hkst_follow_start(srv->store, &url, srv->cfg.quiet,
                                   &srv->follow, err)))
            return e;
    }
    if (!srv->cfg.stream_url[0]) return HK_OK;
    if ((e = hkst_url_parse(srv->cfg.stream_url, &url, err))) {
        snprintf(err->field, sizeof err->field, "stream");
        return e;
    }
    hkst_pub_options o = {0};
    o.quiet = false;
    return hkst_pub_start(srv->store, &url, &o, &srv->stream, err);
}

void hk_server_stream_stop(hk_server *srv)
{
    hkst_follow_stop(srv->follow);
    srv->follow = NULL;
    hkst_pub_stop(srv->stream, 2000);
    srv->stream = NULL;
}

bool hk_server_stream_ready(hk_server *srv)
{
    if (!hk_server_repl_ready(srv)) return false;
    if (!srv->follow || !srv->cfg.follow_max_lag) return true;
    hkst_follow_stats fs;
    hkst_follow_stats_get(srv->follow, &fs);
    return fs.connected && fs.lag <= srv->cfg.follow_max_lag;
}

static hk_err follow_metrics(hk_server *srv, hk_buf *b)
{
    hkst_follow_stats fs;
    hkst_follow_stats_get(srv->follow, &fs);
    return hk_buf_appendf(
        b,
        "# HELP hakgal_follow_applied_total Change events applied from the "
        "followed stream.\n# TYPE hakgal_follow_applied_total counter\n"
        "hakgal_follow_applied_total %llu\n"
        "# HELP hakgal_follow_skipped_total Messages skipped (malformed, "
        "foreign or not applicable; each logged).\n"
        "# TYPE hakgal_follow_skipped_total counter\n"
        "hakgal_follow_skipped_total %llu\n"
        "# HELP hakgal_follow_failures_total Apply transactions that failed "
        "and were retried.\n# TYPE hakgal_follow_failures_total counter\n"
        "hakgal_follow_failures_total %llu\n"
        "# HELP hakgal_follow_lag_messages Messages of the followed topic "
        "not applied yet.\n# TYPE hakgal_follow_lag_messages gauge\n"
        "hakgal_follow_lag_messages %llu\n",
        (unsigned long long)fs.applied, (unsigned long long)fs.skipped,
        (unsigned long long)fs.failures, (unsigned long long)fs.lag);
}

hk_err hk_server_stream_metrics(hk_server *srv, hk_txn *txn, hk_buf *b)
{
    hkst_status st;
    hk_error err;
    if (srv->follow) {
        hk_err fe = follow_metrics(srv, b);
        if (fe) return fe;
    }
    if (srv->repl) {
        hk_err re = hk_server_repl_metrics(srv, b);
        if (re) return re;
    }
    if (!txn || hk_svc_stream_status(srv->store, txn, &st, &err) != HK_OK ||
        !st.enabled)
        return HK_OK;
    hk_err rc = hk_buf_appendf(
        b,
        "# HELP hakgal_stream_outbox_backlog Change events waiting in the "
        "outbox.\n# TYPE hakgal_stream_outbox_backlog gauge\n"
        "hakgal_stream_outbox_backlog %llu\n"
        "# HELP hakgal_stream_outbox_oldest_age_seconds Age of the oldest "
        "waiting event (0 when none).\n"
        "# TYPE hakgal_stream_outbox_oldest_age_seconds gauge\n"
        "hakgal_stream_outbox_oldest_age_seconds %.3f\n"
        "# HELP hakgal_stream_events_total Change events recorded.\n"
        "# TYPE hakgal_stream_events_total counter\n"
        "hakgal_stream_events_total %llu\n",
        (unsigned long long)st.backlog,
        st.oldest_us ? (double)(hk_now_us() - st.oldest_us) / 1e6 : 0.0,
        (unsigned long long)(st.next_event - 1));
    if (rc || !srv->stream) return rc;
    hkst_pub_stats ps;
    hkst_pub_stats_get(srv->stream, &ps);
    return hk_buf_appendf(
        b,
        "# HELP hakgal_stream_published_total Events Kafka acknowledged.\n"
        "# TYPE hakgal_stream_published_total counter\n"
        "hakgal_stream_published_total %llu\n"
        "# HELP hakgal_stream_publish_failures_total Batches that failed "
        "and wait for a retry.\n"
        "# TYPE hakgal_stream_publish_failures_total counter\n"
        "hakgal_stream_publish_failures_total %llu\n"
        "# HELP hakgal_stream_connected 1 when the last batch reached "
        "Kafka.\n# TYPE hakgal_stream_connected gauge\n"
        "hakgal_stream_connected %d\n",
        (unsigned long long)ps.published, (unsigned long long)ps.failures,
        ps.connected ? 1 : 0);
}

void hk_route_stream_status(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hkst_status st;
    hk_err rc = hk_svc_stream_status(srv->store, txn, &st, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hkst_status_write_json(&st, &b);
    if (w == HK_OK && srv->stream) {
        hkst_pub_stats ps;
        hkst_pub_stats_get(srv->stream, &ps);
        b.len--; /* reopen the object */
        w = hk_buf_appendf(&b,
                           ",\"publisher\":{\"published\":%llu,"
                           "\"failures\":%llu,\"connected\":%s,"
                           "\"last_error\":",
                           (unsigned long long)ps.published,
                           (unsigned long long)ps.failures,
                           ps.connected ? "true" : "false");
        if (w == HK_OK)
            w = hk_buf_append_json_string(&b, ps.last_error,
                                          strlen(ps.last_error));
        if (w == HK_OK) w = hk_buf_append_str(&b, "}}");
    }
    if (w == HK_OK && srv->follow) {
        hkst_follow_stats fs;
        hkst_follow_stats_get(srv->follow, &fs);
        b.len--; /* reopen the object */
        w = hk_buf_appendf(
            &b,
            ",\"follower\":{\"applied\":%llu,\"skipped\":%llu,"
            "\"failures\":%llu,\"lag\":%llu}}",
            (unsigned long long)fs.applied, (unsigned long long)fs.skipped,
            (unsigned long long)fs.failures, (unsigned long long)fs.lag);
    }
    if (w == HK_OK && srv->repl) hk_server_repl_status_json(srv, &b);
    if (w == HK_OK) w = hk_buf_append_str(&b, "\n");
    hk_send_built(req, w, 200, &b);
}

/* GET /v2/digest: scans every fact, so it runs on the loop's read txn like
 * other full reads (GET /v2/facts pages), once per request. */
void hk_route_digest(hk_server *srv, h2o_req_t *req, const char *param)
{
    (void)param;
    hk_loop *loop = hk_loop_self();
    hk_error err;
    hk_txn *txn = hk_route_read_txn(req, loop, &err);
    if (!txn) return;
    hkst_digest d;
    hk_err rc = hk_svc_digest(srv->store, txn, &d, &err);
    hk_loop_read_done(loop);
    if (rc != HK_OK) {
        hk_send_store_error(req, &err);
        return;
    }
    hk_buf b = HK_BUF_INIT;
    hk_err w = hkst_digest_write_json(&d, &b);
    if (w == HK_OK) w = hk_buf_append_str(&b, "\n");
    hk_send_built(req, w, 200, &b);
}
