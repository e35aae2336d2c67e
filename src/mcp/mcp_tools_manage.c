/*
 * mcp_tools_manage.c — management tools: audit log, export, growth,
 * health, fact history, backup and restore.
 *
 * Backups: backup_kb writes hk_store_backup into
 * <backup_dir>/<id>/ where id is the UTC time plus 6 random hex digits
 * (kb-20261126T101500Z-3fa9c1), and stores the client's description in
 * <id>/DESCRIPTION.txt beside the MANIFEST.json the store writes.
 * restore_kb needs the KB closed: in stdio mode env.restore closes the
 * store, installs the verified backup and reopens it (the session keeps
 * running on the restored KB); the HTTP server serves other clients from
 * the open KB and refuses, naming the CLI command an operator can run
 * after stopping the server.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <openssl/rand.h>

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
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_audit_list(t, 0, limit, &v, &n, err);
    if (t) hk_txn_abort(t);
    if (rc != HK_OK) return rc;
    json_t *arr = audit_array(v, n);
    hk_audit_entries_free(v, n);
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

hk_err mcp_t_growth_stats(mcp_call *c, json_t **out, hk_error *err)
{
    int64_t days = mcp_arg_int(c, "days", 30);
    const int64_t day_us = 86400LL * 1000000LL;
    int64_t today = hk_now_us() / day_us;
    int64_t first_day = today - days + 1;
    uint64_t *per = calloc((size_t)days, sizeof *per);
    hk_txn *t = NULL;
    /* Creation times do not follow id order (a JSONL import keeps the
     * times of its records), so the store counts every record's day. */
    hk_err rc = per ? mcp_read_begin(c, &t, err) : HK_ERR_NOMEM;
    if (rc == HK_OK)
        rc = hk_store_count_created(t, first_day, (uint32_t)days, per, err);
    if (t) hk_txn_abort(t);
    uint64_t total = 0;
    json_t *arr = rc == HK_OK ? json_array() : NULL;
    for (int64_t d = 0; arr && d < days; d++) {
        char date[32];
        hk_time_format((first_day + d) * day_us, date);
        date[10] = '\0';
        total += per[d];
        json_array_append_new(arr, json_pack("{s:s, s:I}", "date", date,
                                             "added", (json_int_t)per[d]));
    }
    free(per);
    if (rc != HK_OK) return rc;
    if (!arr) return HK_ERR_NOMEM;
    *out = json_pack("{s:I, s:I, s:o}", "days", (json_int_t)days, "total_added",
                     (json_int_t)total, "per_day", arr);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== health_check ==== */

hk_err mcp_t_health_check(mcp_call *c, json_t **out, hk_error *err)
{
    (void)err;
    hk_txn *t = NULL;
    hk_stats st;
    memset(&st, 0, sizeof st);
    hk_audit_report rep;
    memset(&rep, 0, sizeof rep);
    hk_error e;
    hk_error_clear(&e);
    bool store_ok = false, audit_ok = false, disk_ok = false;
    json_t *checks = json_object();
    if (!checks) return HK_ERR_NOMEM;
    hk_err rc = mcp_read_begin(c, &t, &e);
    if (rc == HK_OK) rc = hk_store_stats(t, &st, &e);
    store_ok = rc == HK_OK;
    json_object_set_new(
        checks, "store",
        json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", store_ok, "facts",
                  (json_int_t)st.facts, "bytes_used", (json_int_t)st.bytes_used,
                  "map_size", (json_int_t)st.map_size, "message",
                  store_ok ? "read snapshot opened" : e.message));
    mcp_progress(c, 1, 3, "store checked");
    if (store_ok) {
        hk_error_clear(&e);
        rc = hk_audit_verify(t, &rep, &e);
        audit_ok = rc == HK_OK && rep.ok;
        json_object_set_new(checks, "audit_chain",
                            json_pack("{s:b, s:I, s:I, s:s}", "ok", audit_ok,
                                      "checked", (json_int_t)rep.checked,
                                      "first_bad", (json_int_t)rep.first_bad,
                                      "message",
                                      rc != HK_OK ? e.message
                                      : rep.ok    ? "hash chain intact"
                                                  : rep.reason));
    }
    if (t) hk_txn_abort(t);
    mcp_progress(c, 2, 3, "audit chain verified");
    struct statvfs vfs;
    const char *path = hk_store_path(mcp_store(c));
    if (statvfs(path, &vfs) == 0) {
        uint64_t free_b = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        uint64_t total_b = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        disk_ok = free_b > 64u * 1024u * 1024u;
        json_object_set_new(checks, "disk",
                            json_pack("{s:b, s:I, s:I}", "ok", disk_ok,
                                      "free_bytes", (json_int_t)free_b,
                                      "total_bytes", (json_int_t)total_b));
    } else {
        json_object_set_new(
            checks, "disk",
            json_pack("{s:b, s:s}", "ok", false, "message", strerror(errno)));
    }
    bool map_ok = st.map_size == 0 || st.bytes_used < st.map_size / 10 * 9;
    json_object_set_new(
        checks, "map_usage",
        json_pack("{s:b, s:f}", "ok", map_ok, "fraction_used",
                  st.map_size ? (double)st.bytes_used / (double)st.map_size
                              : 0.0));
    mcp_progress(c, 3, 3, "done");
    bool ready = store_ok;
    bool all = store_ok && audit_ok && disk_ok && map_ok;
    *out = json_pack("{s:s, s:b, s:o}", "status",
                     all     ? "ok"
                     : ready ? "degraded"
                             : "failed",
                     "ready", ready, "checks", checks);
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
                         .limit = (size_t)mcp_arg_int(c, "limit", 50)};
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
    *out =
        json_pack("{s:s, s:o, s:I, s:o}", "statement", canon.data, "fact_id",
                  op.found ? json_integer((json_int_t)op.found) : json_null(),
                  "count", (json_int_t)json_array_size(arr), "entries", arr);
    hk_buf_free(&canon);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== backup_kb ==== */

static bool valid_backup_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 100 || id[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

hk_err mcp_t_backup_kb(mcp_call *c, json_t **out, hk_error *err)
{
    const char *base = c->srv->env.backup_dir;
    if (!base)
        return hk_error_set(err, HK_ERR_UNSUPPORTED,
                            "no backup directory is configured; the operator "
                            "must start the server with --backup-dir DIR");
    if (mkdir(base, 0750) != 0 && errno != EEXIST)
        return hk_error_set(err, HK_ERR_IO,
                            "cannot create backup directory "
                            "%s: %s",
                            base, strerror(errno));
    int64_t now = hk_now_us();
    time_t secs = (time_t)(now / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    unsigned char rnd[3];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rnd[0] = (unsigned char)now;
        rnd[1] = (unsigned char)(now >> 8);
        rnd[2] = (unsigned char)(now >> 16);
    }
    char id[64], path[4096], created[32];
    snprintf(id, sizeof id, "kb-%04d%02d%02dT%02d%02d%02dZ-%02x%02x%02x",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2]);
    snprintf(path, sizeof path, "%s/%s", base, id);
    hk_time_format(now, created);
    char sha[65] = "";
    mcp_progress(c, 0, 1, "backup started");
    hk_err rc = hk_store_backup(mcp_store(c), path, sha, err);
    if (rc != HK_OK) return rc;
    const char *desc = mcp_arg_str(c, "description", NULL);
    if (desc) {
        char dpath[4200];
        snprintf(dpath, sizeof dpath, "%s/DESCRIPTION.txt", path);
        FILE *fp = fopen(dpath, "w");
        bool ok = fp && fputs(desc, fp) >= 0;
        int e = errno;
        if (fp && fclose(fp) != 0 && ok) { /* fp is gone either way */
            ok = false;
            e = errno;
        }
        if (!ok)
            return hk_error_set(err, HK_ERR_IO,
                                "backup %s written, but its "
                                "description could not be saved: %s",
                                id, strerror(e));
    }
    mcp_progress(c, 1, 1, "backup written");
    *out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "backup_id", id, "path", path,
                     "sha256", sha, "created", created, "description",
                     desc ? json_string(desc) : json_null());
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== restore_kb ==== */

hk_err mcp_t_restore_kb(mcp_call *c, json_t **out, hk_error *err)
{
    const char *bid = mcp_arg_str(c, "backup_id", NULL);
    const char *bpath = mcp_arg_str(c, "path", NULL);
    char *dir = NULL;
    hk_err rc = HK_OK;
    if (!bid == !bpath)
        return hk_error_set(err, HK_ERR_INVALID,
                            "give exactly one of backup_id (from backup_kb) "
                            "or path (a backup directory)");
    if (bid) {
        if (!c->srv->env.backup_dir)
            return hk_error_set(err, HK_ERR_UNSUPPORTED,
                                "no backup directory is configured");
        if (!valid_backup_id(bid))
            return hk_error_set(err, HK_ERR_INVALID,
                                "backup_id '%s' is not a backup id", bid);
        size_t n = strlen(c->srv->env.backup_dir) + strlen(bid) + 2;
        dir = malloc(n);
        if (!dir) return HK_ERR_NOMEM;
        snprintf(dir, n, "%s/%s", c->srv->env.backup_dir, bid);
    } else {
        rc = mcp_path_allowed(c->srv, bpath, "path", &dir, err);
        if (rc != HK_OK) return rc;
    }
    char sha[65] = "";
    rc = hk_backup_verify(dir, sha, err);
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
        if (rc == HK_OK) rc = hk_store_stats(t, &st, err);
        if (t) hk_txn_abort(t);
    }
    if (rc == HK_OK) {
        *out = json_pack("{s:s, s:s, s:I}", "restored_from", dir, "sha256", sha,
                         "facts", (json_int_t)st.facts);
        if (!*out) rc = HK_ERR_NOMEM;
    }
    free(dir);
    return rc;
}
