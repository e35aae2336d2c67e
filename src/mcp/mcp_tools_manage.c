/*
 * mcp_tools_manage.c — management tools: audit log, export, growth,
 * health, fact history, backup and restore; adapters of the service
 * (src/service/svc_admin.c, svc_query.c) except get_fact_history.
 *
 * Backups: backup_kb asks the service for a new backup id inside the
 * operator's backup directory (kb-20261126T101500Z-3fa9c1) and passes the
 * client's description, saved as <id>/DESCRIPTION.txt beside the
 * MANIFEST.json the store writes. restore_kb needs the KB closed: in stdio
 * mode env.restore closes the store, installs the verified backup and
 * reopens it (the session keeps running on the restored KB); the HTTP
 * server serves other clients from the open KB and refuses, naming the CLI
 * command an operator can run after stopping the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "mcp/mcp_tools.h"

/* ==== list_audit ==== */

static json_t *audit_array(hk_audit_entry *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *j = hk_svc_audit_entry_jansson(&v[i]);
        if (!j || json_array_append_new(arr, j)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

hk_err mcp_t_list_audit(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 20);
    hk_txn *t = NULL;
    hk_svc_audit_list_req req = {0, limit};
    hk_svc_audit_list_res res;
    memset(&res, 0, sizeof res);
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_audit_list(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    json_t *arr = rc == HK_OK ? audit_array(res.v, res.n) : NULL;
    hk_svc_audit_list_res_free(&res);
    if (rc != HK_OK) return rc;
    if (!arr) return HK_ERR_NOMEM;
    *out = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(arr),
                     "entries", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== export_facts ==== */

hk_err mcp_t_export_facts(mcp_call *c, json_t **out, hk_error *err)
{
    size_t count = (size_t)mcp_arg_int(c, "count", 50);
    const char *dir = mcp_arg_str(c, "direction", "tail");
    hk_txn *t = NULL;
    json_t *facts = NULL;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = strcmp(dir, "tail") == 0;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = mcp_scan_facts(c, t, &scan, count, &facts, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    *out = json_pack("{s:s, s:I, s:o}", "direction", dir, "count",
                     (json_int_t)json_array_size(facts), "facts", facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== growth_stats ==== */

/* basis "changes": added and deleted per day of the change, from the
 * per-day counters (hk_svc_growth_daily, O(days)). */
static hk_err growth_changes(mcp_call *c, json_t **out, hk_error *err)
{
    hk_svc_growth_daily_req req = {c->srv->env.store,
                                   (uint32_t)mcp_arg_int(c, "days", 30), 0};
    hk_svc_growth_daily_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_growth_daily(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK && hk_svc_growth_daily_write_json(&res, &b) != HK_OK)
        rc = HK_ERR_NOMEM;
    hk_svc_growth_daily_res_free(&res);
    if (rc == HK_OK) {
        *out = json_loadb(b.data, b.len, 0, NULL);
        if (*out == NULL) rc = HK_ERR_NOMEM;
    }
    hk_buf_free(&b);
    return rc;
}

hk_err mcp_t_growth_stats(mcp_call *c, json_t **out, hk_error *err)
{
    if (strcmp(mcp_arg_str(c, "basis", "created"), "changes") == 0)
        return growth_changes(c, out, err);
    hk_svc_growth_req req = {(uint32_t)mcp_arg_int(c, "days", 30), 0};
    hk_svc_growth_res res;
    memset(&res, 0, sizeof res);
    hk_txn *t = NULL;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_growth(t, &req, &res, err);
    if (t) hk_txn_abort(t);
    json_t *arr = rc == HK_OK ? json_array() : NULL;
    for (uint32_t d = 0; arr && d < res.days; d++) {
        char date[11];
        hk_svc_day_format(res.first_day + d, date);
        if (json_array_append_new(arr,
                                  json_pack("{s:s, s:I}", "date", date, "added",
                                            (json_int_t)res.per_day[d]))) {
            json_decref(arr);
            arr = NULL;
        }
    }
    uint64_t total = res.total;
    hk_svc_growth_res_free(&res);
    if (rc != HK_OK) return rc;
    if (!arr) return HK_ERR_NOMEM;
    *out = json_pack("{s:I, s:I, s:o}", "days", (json_int_t)req.days,
                     "total_added", (json_int_t)total, "per_day", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== health_check ==== */

static void health_progress(void *ud, double done, double total,
                            const char *msg)
{
    mcp_progress(ud, done, total, msg);
}

hk_err mcp_t_health_check(mcp_call *c, json_t **out, hk_error *err)
{
    (void)err;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    hk_svc_health_req req = {hk_store_path(mcp_store(c)), NULL, health_progress,
                             c};
    hk_svc_health_res r;
    if (mcp_read_begin(c, &t, &e) != HK_OK) req.txn_error = e.message;
    hk_svc_health(t, &req, &r);
    /* deep: the data itself (svc_verify.c), on the same snapshot */
    json_t *data = NULL;
    if (t && mcp_arg_bool(c, "deep", false)) {
        static _Thread_local hk_svc_verify_res v; /* 4 KiB of problems */
        hk_buf b = HK_BUF_INIT;
        hk_error_clear(&e);
        hk_err vr = hk_svc_verify(t, true, &v, &e);
        if (vr == HK_OK && hk_svc_verify_json(&v, &b) == HK_OK) {
            json_t *all = json_loads(b.data, 0, NULL);
            data = all ? json_incref(json_object_get(all, "data")) : NULL;
            json_decref(all);
        } else if (vr != HK_OK) {
            data = json_pack("{s:b, s:s}", "ok", false, "message", e.message);
        }
        hk_buf_free(&b);
        if (data == NULL) {
            hk_txn_abort(t);
            return HK_ERR_NOMEM;
        }
        if (!json_is_true(json_object_get(data, "ok"))) r.all_ok = false;
    }
    if (t) hk_txn_abort(t);
    json_t *checks = json_object();
    if (!checks) {
        json_decref(data);
        return HK_ERR_NOMEM;
    }
    if (data) json_object_set_new(checks, "data", data);
    json_object_set_new(checks, "store",
                        json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", r.store_ok,
                                  "facts", (json_int_t)r.stats.facts,
                                  "bytes_used", (json_int_t)r.stats.bytes_used,
                                  "map_size", (json_int_t)r.stats.map_size,
                                  "message", r.store_message));
    if (r.audit_checked)
        json_object_set_new(checks, "audit_chain",
                            json_pack("{s:b, s:I, s:I, s:s}", "ok", r.audit_ok,
                                      "checked", (json_int_t)r.audit.checked,
                                      "first_bad",
                                      (json_int_t)r.audit.first_bad, "message",
                                      r.audit_message));
    json_object_set_new(
        checks, "disk",
        r.disk_known
            ? json_pack("{s:b, s:I, s:I}", "ok", r.disk_ok, "free_bytes",
                        (json_int_t)r.disk_free, "total_bytes",
                        (json_int_t)r.disk_total)
            : json_pack("{s:b, s:s}", "ok", false, "message", r.disk_message));
    json_object_set_new(checks, "map_usage",
                        json_pack("{s:b, s:f}", "ok", r.map_ok, "fraction_used",
                                  r.map_fraction));
    *out = json_pack("{s:s, s:b, s:o}", "status",
                     r.all_ok  ? "ok"
                     : r.ready ? "degraded"
                               : "failed",
                     "ready", r.ready, "checks", checks);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== get_fact_history ==== */

hk_err mcp_t_get_fact_history(mcp_call *c, json_t **out, hk_error *err)
{
    hk_statement st;
    hk_buf canon = HK_BUF_INIT;
    hk_err rc = mcp_parse_statement(mcp_arg_str(c, "statement", NULL),
                                    "statement", &st, err);
    if (rc != HK_OK) return rc;
    hk_txn *t = NULL;
    json_t *arr = NULL;
    hk_svc_history op = {.st = &st,
                         .limit = (size_t)mcp_arg_int(c, "limit", 50),
                         .before_seq = (uint64_t)mcp_arg_int(c, "before", 0)};
    rc = hk_statement_format(&st, &canon);
    if (rc == HK_OK) rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_svc_fact_history(t, &op, err);
    if (t) hk_txn_abort(t);
    if (rc == HK_OK) {
        arr = audit_array(op.v, op.n);
        if (!arr) rc = HK_ERR_NOMEM;
    }
    hk_audit_entries_free(op.v, op.n);
    hk_statement_release(&st);
    if (rc != HK_OK) {
        hk_buf_free(&canon);
        return rc;
    }
    *out = json_pack(
        "{s:s, s:o, s:I, s:o, s:o}", "statement", canon.data, "fact_id",
        op.found ? json_integer((json_int_t)op.found) : json_null(), "count",
        (json_int_t)json_array_size(arr), "entries", arr, "next_before",
        op.next_before ? json_integer((json_int_t)op.next_before)
                       : json_null());
    hk_buf_free(&canon);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== backup_kb ==== */

hk_err mcp_t_backup_kb(mcp_call *c, json_t **out, hk_error *err)
{
    const char *base = c->srv->env.backup_dir;
    if (!base)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "no backup directory is configured; the operator "
                            "must start the server with --backup-dir DIR");
    const char *desc = mcp_arg_str(c, "description", NULL);
    hk_svc_backup_req req = {NULL, base, NULL, desc};
    hk_svc_backup_res *res = hk_calloc(1, sizeof *res); /* 4 KiB path */
    if (!res) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    mcp_progress(c, 0, 1, "backup started");
    hk_err rc = hk_svc_backup(mcp_store(c), &req, res, err);
    if (rc == HK_OK) {
        mcp_progress(c, 1, 1, "backup written");
        *out =
            json_pack("{s:s, s:s, s:s, s:s, s:o}", "backup_id", res->id, "path",
                      res->path, "sha256", res->sha256, "created", res->created,
                      "description", desc ? json_string(desc) : json_null());
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_free(res);
    return rc;
}

/* ==== restore_kb ==== */

hk_err mcp_t_restore_kb(mcp_call *c, json_t **out, hk_error *err)
{
    const char *bid = mcp_arg_str(c, "backup_id", NULL);
    const char *bpath = mcp_arg_str(c, "path", NULL);
    char *svc_dir = NULL;  /* from the service, hk_free */
    char *path_dir = NULL; /* from mcp_path_allowed, hk_free */
    const char *dir = NULL;
    hk_err rc = HK_OK;
    if (!bid == !bpath)
        return hk_error_set(err, HK_ERR_INVALID,
                            "give exactly one of backup_id (from backup_kb) "
                            "or path (a backup directory)");
    if (bid) {
        if (!c->srv->env.backup_dir)
            return hk_error_set(err, HK_ERR_UNSUPPORTED,
                                "no backup directory is configured");
        rc = hk_svc_backup_path(c->srv->env.backup_dir, bid, &svc_dir, err);
        if (rc != HK_OK) return rc;
        dir = svc_dir;
    } else {
        rc = mcp_path_allowed(c->srv, bpath, "path", &path_dir, err);
        if (rc != HK_OK) return rc;
        dir = path_dir;
    }
    char sha[65] = "";
    hk_svc_restore_req req = {dir, NULL, false, true};
    rc = hk_svc_restore(&req, sha, err);
    if (rc == HK_ERR_NOT_FOUND || rc == HK_ERR_IO)
        hk_error_set(err, rc, "no valid backup at %s%s%s",
                     bid ? "backup_id " : "", bid ? bid : bpath,
                     bid ? " (list the backup directory or run backup_kb)"
                         : "");
    if (rc == HK_OK && !c->srv->env.restore)
        rc = hk_error_set(
            err, HK_ERR_UNSUPPORTED,
            "the backup is valid, but this server keeps the KB open for other "
            "clients and cannot replace it while running. Stop the server "
            "and run: hakgal restore %s --data %s --force",
            dir, hk_store_path(mcp_store(c)));
    if (rc == HK_OK) {
        mcp_progress(c, 0, 1, "restoring");
        rc = c->srv->env.restore(c->srv->env.restore_ud, dir, err);
    }
    hk_stats st;
    memset(&st, 0, sizeof st);
    if (rc == HK_OK) {
        hk_txn *t = NULL;
        rc = mcp_read_begin(c, &t, err);
        if (rc == HK_OK) rc = hk_svc_stats(t, &st, err);
        if (t) hk_txn_abort(t);
    }
    if (rc == HK_OK) {
        *out = json_pack("{s:s, s:s, s:I}", "restored_from", dir, "sha256", sha,
                         "facts", (json_int_t)st.facts);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    hk_free(svc_dir);
    hk_free(path_dir);
    return rc;
}
