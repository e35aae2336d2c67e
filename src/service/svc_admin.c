/*
 * svc_admin.c — audit log pages and verification, health checks, backup
 * and restore.
 *
 * Backups are named here once for every adapter: an explicit directory
 * (CLI, REST with "dest"), a new id "kb-<UTC>-<6 random hex>" inside a
 * configured backup directory (MCP backup_kb; restore_kb finds it again by
 * that id), or a directory beside the KB named by the time (REST without
 * "dest"). Restore verifies the manifest's checksum before installing.
 *
 * Threads: audit and health run on the caller's transaction; backup runs
 * on any thread while writers continue; restore needs the KB closed by
 * every handle (the store refuses with HK_ERR_BUSY otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/clock.h"
#include "core/mem.h"
#include "service/service.h"
#include "service/svc_learn.h"

/* ==== Audit ==== */

hk_err hk_svc_audit_list(hk_txn *t, const hk_svc_audit_list_req *req,
                         hk_svc_audit_list_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    hk_err rc =
        hk_audit_list(t, req->before_seq, req->limit, &res->v, &res->n, err);
    if (rc != HK_OK) return rc;
    if (res->n == req->limit && res->n > 0 && res->v[res->n - 1].seq > 1)
        res->next_before = res->v[res->n - 1].seq;
    return HK_OK;
}

void hk_svc_audit_list_res_free(hk_svc_audit_list_res *res)
{
    if (res == NULL) return;
    hk_audit_entries_free(res->v, res->n);
    memset(res, 0, sizeof(*res));
}

hk_err hk_svc_audit_verify(hk_txn *t, hk_svc_audit_verify_res *res,
                           hk_error *err)
{
    memset(res, 0, sizeof(*res));
    hk_err rc = hk_audit_verify(t, &res->report, err);
    if (rc != HK_OK || res->report.ok || res->report.first_bad == 0) return rc;
    /* The first bad entry, if it can still be read: its absence is part of
     * what the report says, not an error of the check. */
    hk_audit_entry *v = NULL;
    size_t n = 0;
    if (hk_audit_list(t, res->report.first_bad + 1, 1, &v, &n, NULL) != HK_OK)
        return HK_OK;
    if (n == 1 && v[0].seq == res->report.first_bad) {
        res->bad = v;
        res->n_bad = 1;
    } else {
        hk_audit_entries_free(v, n);
    }
    return HK_OK;
}

void hk_svc_audit_verify_res_free(hk_svc_audit_verify_res *res)
{
    if (res == NULL) return;
    hk_audit_entries_free(res->bad, res->n_bad);
    memset(res, 0, sizeof(*res));
}

/* ==== Health ==== */

#define DISK_MIN_FREE (64u * 1024u * 1024u) /* bytes a healthy disk keeps */

static void progress(const hk_svc_health_req *req, double done, const char *msg)
{
    if (req->progress != NULL) req->progress(req->progress_ud, done, 3, msg);
}

void hk_svc_health(hk_txn *t, const hk_svc_health_req *req,
                   hk_svc_health_res *res)
{
    memset(res, 0, sizeof(*res));
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = t != NULL ? hk_store_stats(t, &res->stats, &e) : HK_ERR_STATE;
    res->store_ok = rc == HK_OK;
    snprintf(res->store_message, sizeof(res->store_message), "%s",
             res->store_ok            ? "read snapshot opened"
             : t != NULL              ? e.message
             : req->txn_error != NULL ? req->txn_error
                                      : "no read transaction");
    if (!res->store_ok) memset(&res->stats, 0, sizeof(res->stats));
    progress(req, 1, "store checked");
    if (res->store_ok) {
        hk_error_clear(&e);
        rc = hk_audit_verify(t, &res->audit, &e);
        res->audit_checked = true;
        res->audit_ok = rc == HK_OK && res->audit.ok;
        snprintf(res->audit_message, sizeof(res->audit_message), "%s",
                 rc != HK_OK     ? e.message
                 : res->audit.ok ? "hash chain intact"
                                 : res->audit.reason);
    }
    progress(req, 2, "audit chain verified");
    struct statvfs vfs;
    if (req->store_path != NULL && statvfs(req->store_path, &vfs) == 0) {
        res->disk_known = true;
        res->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        res->disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        res->disk_ok = res->disk_free > DISK_MIN_FREE;
    } else {
        snprintf(res->disk_message, sizeof(res->disk_message), "%s",
                 req->store_path != NULL ? strerror(errno) : "no KB path");
    }
    const hk_stats *st = &res->stats;
    res->map_ok = st->map_size == 0 || st->bytes_used < st->map_size / 10 * 9;
    res->map_fraction =
        st->map_size ? (double)st->bytes_used / (double)st->map_size : 0.0;
    progress(req, 3, "done");
    res->ready = res->store_ok;
    res->all_ok = res->store_ok && res->audit_ok && res->disk_ok && res->map_ok;
}

/* ==== Backup ==== */

bool hk_svc_backup_id_valid(const char *id)
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

hk_err hk_svc_backup_path(const char *base_dir, const char *id, char **path,
                          hk_error *err)
{
    *path = NULL;
    if (!hk_svc_backup_id_valid(id)) {
        hk_error_set(err, HK_ERR_INVALID, "backup_id '%s' is not a backup id",
                     id);
        if (err) snprintf(err->field, sizeof(err->field), "backup_id");
        return HK_ERR_INVALID;
    }
    size_t n = strlen(base_dir) + strlen(id) + 2;
    char *p = hk_malloc(n);
    if (p == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%s/%s", base_dir, id);
    *path = p;
    return HK_OK;
}

/* Names the target directory of req into res->path (and res->id). */
static hk_err backup_target(const hk_svc_backup_req *req, int64_t now,
                            hk_svc_backup_res *res, hk_error *err)
{
    time_t secs = (time_t)(now / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n;
    if (req->dest != NULL) {
        if (req->dest[0] == '\0')
            return hk_error_set(err, HK_ERR_INVALID,
                                "the backup directory is empty");
        n = snprintf(res->path, sizeof(res->path), "%s", req->dest);
    } else if (req->base_dir != NULL) {
        if (mkdir(req->base_dir, 0750) != 0 && errno != EEXIST)
            return hk_error_set(err, HK_ERR_IO,
                                "cannot create backup directory %s: %s",
                                req->base_dir, strerror(errno));
        unsigned char rnd[3];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            rnd[0] = (unsigned char)now;
            rnd[1] = (unsigned char)(now >> 8);
            rnd[2] = (unsigned char)(now >> 16);
        }
        snprintf(res->id, sizeof(res->id),
                 "kb-%04d%02d%02dT%02d%02d%02dZ-%02x%02x%02x",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2]);
        n = snprintf(res->path, sizeof(res->path), "%s/%s", req->base_dir,
                     res->id);
    } else if (req->beside != NULL) {
        char stamp[32];
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        n = snprintf(res->path, sizeof(res->path), "%s-backup-%s-%llu",
                     req->beside, stamp, (unsigned long long)(now % 1000000));
    } else {
        return hk_error_set(err, HK_ERR_INVALID, "no backup directory given");
    }
    if (n < 0 || (size_t)n >= sizeof(res->path))
        return hk_error_set(err, HK_ERR_LIMIT,
                            "the backup directory path is longer than %zu "
                            "bytes",
                            sizeof(res->path) - 1);
    return HK_OK;
}

hk_err hk_svc_backup(hk_store *s, const hk_svc_backup_req *req,
                     hk_svc_backup_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    int64_t now = hk_now_us();
    hk_time_format(now, res->created);
    hk_err rc = backup_target(req, now, res, err);
    if (rc != HK_OK) return rc;
    rc = hk_store_backup(s, res->path, res->sha256, err);
    bool model; /* the learned model travels with its KB */
    if (rc == HK_OK)
        rc = hk_svc_model_file_copy(hk_store_path(s), res->path, false, &model,
                                    err);
    res->seconds = (double)(hk_now_us() - now) / 1e6;
    if (rc != HK_OK || req->description == NULL) return rc;
    char dpath[sizeof(res->path) + 32];
    snprintf(dpath, sizeof dpath, "%s/DESCRIPTION.txt", res->path);
    FILE *fp = fopen(dpath, "w");
    bool ok = fp && fputs(req->description, fp) >= 0;
    int e = errno;
    if (fp && fclose(fp) != 0 && ok) { /* fp is gone either way */
        ok = false;
        e = errno;
    }
    if (!ok)
        return hk_error_set(err, HK_ERR_IO,
                            "backup %s written, but its description could "
                            "not be saved: %s",
                            res->id[0] ? res->id : res->path, strerror(e));
    return HK_OK;
}

/* ==== Restore ==== */

hk_err hk_svc_restore(const hk_svc_restore_req *req, char sha256[65],
                      hk_error *err)
{
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_backup_verify(req->backup_dir, sha256, &e);
    if (rc != HK_OK) {
        hk_error_set(err, rc, "backup '%s' cannot be restored: %s",
                     req->backup_dir,
                     e.message[0] ? e.message : hk_strerror(rc));
        return rc;
    }
    if (req->verify_only) return HK_OK;
    rc = hk_backup_restore(req->backup_dir, req->data_dir, req->force, err);
    bool model; /* the backup's learned model, or none */
    if (rc == HK_OK)
        rc = hk_svc_model_file_copy(req->backup_dir, req->data_dir, true,
                                    &model, err);
    return rc;
}
