/*
 * server_metrics.c — Prometheus metrics (text exposition format 0.0.4).
 *
 * Counters and histogram buckets are C11 atomics updated with relaxed
 * ordering from any thread (loops record requests, the writer records
 * commits); /metrics reads them without stopping anyone, so a scrape sees
 * each value at some moment during the scrape. Route slots are claimed once
 * per label under a mutex and never freed; the label set is small and fixed
 * (REST route patterns plus registered prefixes).
 *
 * Store gauges (facts, sizes, LMDB usage) come from hk_store_stats in the
 * scraping loop's read transaction.
 */
#include <inttypes.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "llm/llm.h"
#include "server/server_int.h"
#include "store/store.h"
#include "service/svc_vector.h"

/* Upper bounds of the latency buckets, seconds. */
static const double k_lat_bounds[HK_METRIC_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
/* Upper bounds of the jobs-per-commit buckets. */
static const unsigned k_group_bounds[11] = {1,  2,   4,   8,    16,  32,
                                            64, 128, 256, 1024, 4096};

void hk_metrics_init(hk_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void hk_metrics_destroy(hk_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

static hk_route_metric *route_slot(hk_metrics *m, const char *label)
{
    for (unsigned i = 0; i < HK_METRIC_MAX_ROUTES; i++) {
        hk_route_metric *r = &m->routes[i];
        if (!atomic_load_explicit(&r->used, memory_order_acquire)) break;
        if (!strcmp(r->label, label)) return r;
    }
    pthread_mutex_lock(&m->lock);
    hk_route_metric *found = NULL;
    for (unsigned i = 0; i < HK_METRIC_MAX_ROUTES; i++) {
        hk_route_metric *r = &m->routes[i];
        if (!atomic_load_explicit(&r->used, memory_order_acquire)) {
            snprintf(r->label, sizeof(r->label), "%s", label);
            atomic_store_explicit(&r->used, true, memory_order_release);
            found = r;
            break;
        }
        if (!strcmp(r->label, label)) {
            found = r;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

static unsigned lat_bucket(double seconds)
{
    unsigned b = 0;
    while (b < HK_METRIC_BUCKETS && seconds > k_lat_bounds[b])
        b++;
    return b;
}

void hk_metrics_request(hk_server *srv, const char *route, int status,
                        double seconds)
{
    hk_route_metric *r = route_slot(&srv->metrics, route);
    if (!r) return;
    if (status < 100 || status > 599) status = 599;
    if (seconds < 0) seconds = 0;
    atomic_fetch_add_explicit(&r->by_status[status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bucket[lat_bucket(seconds)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

void hk_metrics_commit(hk_server *srv, size_t jobs, double seconds, bool ok)
{
    hk_metrics *m = &srv->metrics;
    if (!ok) {
        atomic_fetch_add_explicit(&m->commit_failures, 1, memory_order_relaxed);
        return;
    }
    unsigned g = 0;
    while (g < 11 && jobs > k_group_bounds[g])
        g++;
    atomic_fetch_add_explicit(&m->group_bucket[g], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->group_sum, jobs, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_bucket[lat_bucket(seconds)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_sum_ns, (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
}

/* ==== Rendering ==== */

#define LD(x)                                                                  \
    ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static hk_err head(hk_buf *b, const char *name, const char *type,
                   const char *help)
{
    return hk_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                          type);
}

static hk_err gauge(hk_buf *b, const char *name, const char *help,
                    unsigned long long v)
{
    hk_err rc = head(b, name, "gauge", help);
    return rc ? rc : hk_buf_appendf(b, "%s %llu\n", name, v);
}

/* The trace exporter's counters (otel.h); all zero without a tracer. */
static hk_err otel_metrics(hk_buf *b)
{
    hk_otel_counters c;
    hk_otel_counters_get(&c);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } k[] = {
        {"hakgal_otel_spans_total", "counter",
         "Sampled spans handed to the trace exporter's queue.",
         offsetof(hk_otel_counters, spans_ended)},
        {"hakgal_otel_spans_dropped_total", "counter",
         "Sampled spans dropped because the export queue was full.",
         offsetof(hk_otel_counters, spans_dropped)},
        {"hakgal_otel_spans_exported_total", "counter",
         "Spans the OTLP receiver accepted.",
         offsetof(hk_otel_counters, spans_exported)},
        {"hakgal_otel_spans_failed_total", "counter",
         "Spans in export requests that failed (receiver down or refusing).",
         offsetof(hk_otel_counters, spans_failed)},
        {"hakgal_otel_exports_total", "counter", "OTLP export requests sent.",
         offsetof(hk_otel_counters, exports)},
        {"hakgal_otel_spans_rejected_total", "counter",
         "Spans a receiver rejected in a partial success (in failed too).",
         offsetof(hk_otel_counters, spans_rejected)},
        {"hakgal_otel_export_retries_total", "counter",
         "OTLP export requests sent again after 429, 502-504 or no "
         "connection.",
         offsetof(hk_otel_counters, retries)},
        {"hakgal_otel_queue_spans", "gauge", "Spans waiting for export.",
         offsetof(hk_otel_counters, queue_len)},
        {"hakgal_otel_queue_capacity", "gauge",
         "Most spans the export queue holds.",
         offsetof(hk_otel_counters, queue_max)},
    };
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < sizeof k / sizeof k[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&c + k[i].off, sizeof v);
        rc = head(b, k[i].name, k[i].type, k[i].help);
        if (rc == HK_OK)
            rc = hk_buf_appendf(b, "%s %llu\n", k[i].name,
                                (unsigned long long)v);
    }
    return rc;
}

hk_err hk_metrics_render(hk_server *srv, hk_txn *txn, hk_buf *b)
{
    hk_metrics *m = &srv->metrics;
    hk_err rc = head(b, "hakgal_http_requests_total", "counter",
                     "HTTP requests answered, by route and status.");
    for (unsigned i = 0; rc == HK_OK && i < HK_METRIC_MAX_ROUTES; i++) {
        hk_route_metric *r = &m->routes[i];
        if (!atomic_load_explicit(&r->used, memory_order_acquire)) break;
        for (int s = 100; rc == HK_OK && s < 600; s++) {
            unsigned long long v = LD(r->by_status[s]);
            if (v)
                rc = hk_buf_appendf(
                    b,
                    "hakgal_http_requests_total{route=\"%s\",status=\"%d\"} "
                    "%llu\n",
                    r->label, s, v);
        }
    }
    if (rc == HK_OK)
        rc = head(b, "hakgal_http_request_duration_seconds", "histogram",
                  "Time from the routing of a request (headers and body "
                  "received) until its answer was sent, by route.");
    for (unsigned i = 0; rc == HK_OK && i < HK_METRIC_MAX_ROUTES; i++) {
        hk_route_metric *r = &m->routes[i];
        if (!atomic_load_explicit(&r->used, memory_order_acquire)) break;
        unsigned long long cum = 0;
        for (unsigned k = 0; rc == HK_OK && k < HK_METRIC_BUCKETS; k++) {
            cum += LD(r->bucket[k]);
            rc = hk_buf_appendf(b,
                                "hakgal_http_request_duration_seconds_bucket{"
                                "route=\"%s\",le=\"%g\"} %llu\n",
                                r->label, k_lat_bounds[k], cum);
        }
        cum += LD(r->bucket[HK_METRIC_BUCKETS]);
        if (rc == HK_OK)
            rc = hk_buf_appendf(
                b,
                "hakgal_http_request_duration_seconds_bucket{route=\"%s\","
                "le=\"+Inf\"} %llu\n"
                "hakgal_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                "hakgal_http_request_duration_seconds_count{route=\"%s\"} "
                "%llu\n",
                r->label, cum, r->label, (double)LD(r->sum_ns) / 1e9, r->label,
                cum);
    }
    if (rc == HK_OK)
        rc = head(b, "hakgal_facts_added_total", "counter",
                  "Facts created through this server since it started.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b, "hakgal_facts_added_total %llu\n",
                            LD(m->facts_added));
    if (rc == HK_OK)
        rc = head(b, "hakgal_facts_deleted_total", "counter",
                  "Facts deleted through this server since it started.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b, "hakgal_facts_deleted_total %llu\n",
                            LD(m->facts_deleted));
    if (rc == HK_OK)
        rc = head(b, "hakgal_commit_failures_total", "counter",
                  "Write transactions that failed to commit.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b, "hakgal_commit_failures_total %llu\n",
                            LD(m->commit_failures));
    if (rc == HK_OK && hks_wal_active(srv->store)) {
        hks_wal_stats ws;
        hks_wal_get_stats(srv->store, &ws);
        const struct {
            const char *name, *help;
            uint64_t value;
        } wal[] = {
            {"hakgal_wal_bytes_total",
             "Bytes appended to the write-ahead log (--wal).", ws.bytes},
            {"hakgal_wal_syncs_total",
             "fdatasync calls on the write-ahead log.", ws.syncs},
            {"hakgal_wal_checkpoints_total",
             "Checkpoints of the write-ahead log (data.mdb synced).",
             ws.checkpoints},
        };
        for (size_t i = 0; rc == HK_OK && i < sizeof wal / sizeof wal[0]; i++) {
            rc = head(b, wal[i].name, "counter", wal[i].help);
            if (rc == HK_OK)
                rc = hk_buf_appendf(b, "%s %llu\n", wal[i].name,
                                    (unsigned long long)wal[i].value);
        }
    }
    if (rc == HK_OK)
        rc = head(b, "hakgal_commit_group_size", "histogram",
                  "Write requests applied per durable commit (group commit).");
    unsigned long long cum = 0;
    for (unsigned g = 0; rc == HK_OK && g < 11; g++) {
        cum += LD(m->group_bucket[g]);
        rc = hk_buf_appendf(b,
                            "hakgal_commit_group_size_bucket{le=\"%u\"} %llu\n",
                            k_group_bounds[g], cum);
    }
    cum += LD(m->group_bucket[11]);
    if (rc == HK_OK)
        rc =
            hk_buf_appendf(b,
                           "hakgal_commit_group_size_bucket{le=\"+Inf\"} %llu\n"
                           "hakgal_commit_group_size_sum %llu\n"
                           "hakgal_commit_group_size_count %llu\n",
                           cum, LD(m->group_sum), cum);
    if (rc == HK_OK)
        rc = head(b, "hakgal_commit_duration_seconds", "histogram",
                  "Time of one group commit: apply and fsync.");
    cum = 0;
    for (unsigned k = 0; rc == HK_OK && k < HK_METRIC_BUCKETS; k++) {
        cum += LD(m->commit_bucket[k]);
        rc = hk_buf_appendf(b,
                            "hakgal_commit_duration_seconds_bucket{le=\"%g\"} "
                            "%llu\n",
                            k_lat_bounds[k], cum);
    }
    cum += LD(m->commit_bucket[HK_METRIC_BUCKETS]);
    if (rc == HK_OK)
        rc =
            hk_buf_appendf(b,
                           "hakgal_commit_duration_seconds_bucket{le=\"+Inf\"} "
                           "%llu\nhakgal_commit_duration_seconds_sum %.9f\n"
                           "hakgal_commit_duration_seconds_count %llu\n",
                           cum, (double)LD(m->commit_sum_ns) / 1e9, cum);
    if (rc == HK_OK) rc = hk_writer_metrics_render(srv, b);
    if (rc == HK_OK)
        rc = gauge(b, "hakgal_write_queue_depth",
                   "Write requests waiting for the writer thread.",
                   LD(m->queue_depth));
    if (rc == HK_OK && txn) {
        hk_stats st;
        memset(&st, 0, sizeof(st));
        if (hk_store_stats(txn, &st, NULL) == HK_OK) {
            rc = gauge(b, "hakgal_facts", "Facts in the knowledge base.",
                       st.facts);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_predicates",
                           "Distinct predicates in use.", st.predicates);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_entities",
                           "Distinct argument values in use.", st.entities);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_audit_entries", "Audit log length.",
                           st.audit_entries);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_store_file_bytes",
                           "Size of the LMDB data file.", st.bytes_on_disk);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_store_used_bytes",
                           "LMDB pages in use times page size.", st.bytes_used);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_store_free_bytes",
                           "Pages on LMDB's free list (reused by later "
                           "writes; `hakgal compact` returns them).",
                           st.bytes_free);
            if (rc == HK_OK)
                rc = gauge(b, "hakgal_store_map_bytes",
                           "LMDB map size (maximum KB size).", st.map_size);
        }
    }
    if (rc == HK_OK)
        rc = head(b, "hakgal_uptime_seconds", "gauge",
                  "Seconds since the server started.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b, "hakgal_uptime_seconds %.3f\n",
                            (double)(hk_now_us() - srv->started_us) / 1e6);
    if (rc == HK_OK)
        rc = head(b, "hakgal_build_info", "gauge",
                  "Build information; the value is always 1.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b,
                            "hakgal_build_info{version=\"%s\",h2o=\"%s\"} 1\n",
                            hk_version(), H2O_VERSION);
    if (rc == HK_OK)
        rc = gauge(b, "hakgal_loop_threads", "Event loop threads.",
                   srv->n_loops);
    if (rc == HK_OK)
        rc = gauge(b, "hakgal_model_loading",
                   "1 while the learned model is loaded at start (model "
                   "requests wait for it on pool threads).",
                   atomic_load(&srv->model_loading) ? 1u : 0u);
    if (rc == HK_OK)
        rc = head(b, "hakgal_connections_accepted_total", "counter",
                  "Connections accepted, by event loop.");
    for (unsigned i = 0; rc == HK_OK && srv->loops && i < srv->n_loops; i++)
        rc = hk_buf_appendf(b,
                            "hakgal_connections_accepted_total{loop=\"%u\"} "
                            "%llu\n",
                            i, LD(srv->loops[i].accepted));
    if (rc == HK_OK)
        rc = gauge(b, "hakgal_connections_open",
                   "Accepted connections not yet closed.", LD(m->conns_open));
    if (rc == HK_OK)
        rc = head(b, "hakgal_audit_verify_failures_total", "counter",
                  "Verifications (/v2/admin/verify) that found damage.");
    if (rc == HK_OK)
        rc = hk_buf_appendf(b, "hakgal_audit_verify_failures_total %llu\n",
                            LD(m->verify_failed));
    if (rc == HK_OK) rc = otel_metrics(b);          /* trace exporter */
    if (rc == HK_OK) rc = hk_llm_metrics_render(b); /* model client */
    if (rc == HK_OK) rc = hk_server_stream_metrics(srv, txn, b);
    if (rc == HK_OK) rc = hk_svc_vector_metrics(srv->vs, srv->autoembed, b);
    return rc;
}
