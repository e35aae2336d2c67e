/*
 * svc_hub.c — the project hub: hand-over notes for assistants that work on
 * a project over many sessions.
 *
 * A hub is a directory (confined by the caller to its allowed directories)
 * holding one JSON file per snapshot, named snapshot-<UTC time with
 * microseconds>.json so that name order is time order:
 *   {"kind": "hakgal-project-snapshot", "title", "description", "created",
 *    "kb": {path, facts, predicates, entities, audit_entries, last_change},
 *    "recent_facts": [statements], "recent_changes": [{time, actor, op,
 *    statement}]}.
 * Files are written to a temporary name and renamed, so a reader never sees
 * half a snapshot. Only regular files are read (a link could lead outside
 * the allowed directories). Reading is bounded: at most HUB_MAX_FILES names
 * are considered and files above HUB_MAX_BYTES are skipped.
 *
 * Threads: any; the snapshot reads the caller's transaction.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "service/service.h"

#define HUB_MAX_FILES 100000    /* directory entries considered */
#define HUB_MAX_BYTES (4 << 20) /* largest snapshot file read */
#define HUB_RECENT 20           /* facts and changes in a snapshot */

/* ==== Snapshot files ==== */

static bool is_snapshot_name(const char *n)
{
    size_t l = strlen(n);
    return l > 14 && strncmp(n, "snapshot-", 9) == 0 &&
           strcmp(n + l - 5, ".json") == 0;
}

static int cmp_name_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hk_free(v[i]);
    hk_free(v);
}

/* Newest-first snapshot file names in dir (free with names_free). */
static hk_err list_snapshots(const char *dir, char ***out, size_t *n,
                             hk_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return hk_error_set(err, errno == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO,
                            "hub_path %s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0, seen = 0;
    hk_err rc = HK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && seen++ < HUB_MAX_FILES) {
        if (!is_snapshot_name(e->d_name)) continue;
        struct stat sb; /* links and other non-files are no snapshots */
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nv = hk_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = HK_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[cnt] = hk_strdup(e->d_name))) {
            rc = HK_ERR_NOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc != HK_OK) {
        names_free(v, cnt);
        return hk_error_set(err, rc, "out of memory");
    }
    if (cnt) qsort(v, cnt, sizeof *v, cmp_name_desc);
    *out = v;
    *n = cnt;
    return HK_OK;
}

/* Reads one snapshot. Only regular files are read: a symbolic link in the
 * hub could point outside the allowed directories. */
static json_t *load_snapshot(const char *dir, const char *name, size_t *bytes)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat sb;
    json_t *j = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size <= HUB_MAX_BYTES) {
        *bytes = (size_t)sb.st_size;
        j = json_loadfd(fd, 0, NULL);
    }
    close(fd);
    return j;
}

static json_t *time_json(int64_t us)
{
    if (us == 0) return json_null();
    char buf[32];
    hk_time_format(us, buf);
    return json_string(buf);
}

/* ==== Writing a snapshot ==== */

typedef struct recent_ctx {
    json_t *arr;  /* statements, newest first */
    hk_buf canon; /* statement text, reused */
} recent_ctx;

static hk_err recent_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    recent_ctx *rc = ud;
    hk_buf_reset(&rc->canon);
    if (hk_statement_format(&row->fact->st, &rc->canon) != HK_OK ||
        json_array_append_new(rc->arr, json_string(rc->canon.data)) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* The newest audit entries as {time, actor, op, statement}. */
static hk_err recent_changes(hk_txn *t, json_t *changes, hk_error *err)
{
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err rc = hk_audit_list(t, 0, HUB_RECENT, &v, &n, err);
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        json_t *after = v[i].after ? json_loads(v[i].after, 0, NULL) : NULL;
        json_t *before = v[i].before ? json_loads(v[i].before, 0, NULL) : NULL;
        const char *s = json_string_value(json_object_get(after, "statement"));
        if (!s) s = json_string_value(json_object_get(before, "statement"));
        if (json_array_append_new(
                changes, json_pack("{s:o, s:s, s:s, s:s?}", "time",
                                   time_json(v[i].time_us), "actor", v[i].actor,
                                   "op", v[i].op, "statement", s)) != 0)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        json_decref(after);
        json_decref(before);
    }
    hk_audit_entries_free(v, n);
    return rc;
}

hk_err hk_svc_hub_snapshot(hk_txn *t, const hk_svc_hub_snapshot_req *req,
                           hk_svc_hub_snapshot_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    const char *dir = req->hub_dir;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (mkdir(dir, 0750) != 0)
            return hk_error_set(err, HK_ERR_IO,
                                "cannot create hub directory %s: %s", dir,
                                strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        return hk_error_set(err, HK_ERR_INVALID,
                            "hub_path %s is not a directory", dir);
    }
    int64_t now = hk_now_us();
    hk_time_format(now, res->created);
    hk_stats st;
    recent_ctx recent = {json_array(), HK_BUF_INIT};
    json_t *changes = json_array();
    json_t *snap = NULL;
    hk_err rc = recent.arr && changes
                    ? hk_svc_stats(t, &st, err)
                    : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) {
        hk_svc_query_req q;
        memset(&q, 0, sizeof(q));
        q.scan = (hk_scan)HK_SCAN_INIT;
        q.scan.newest_first = true;
        q.limit = HUB_RECENT;
        q.no_cursor = true;
        q.row = recent_row;
        q.row_ud = &recent;
        hk_svc_query_res qr;
        rc = hk_svc_query(t, &q, &qr, err);
        hk_svc_query_res_free(&qr);
    }
    if (rc == HK_OK) rc = recent_changes(t, changes, err);
    if (rc == HK_OK) {
        snap = json_pack(
            "{s:s, s:s, s:s, s:s, s:{s:s, s:I, s:I, s:I, s:I, s:o},"
            " s:O, s:O}",
            "kind", "hakgal-project-snapshot", "title", req->title,
            "description", req->description, "created", res->created, "kb",
            "path", req->store_path, "facts", (json_int_t)st.facts,
            "predicates", (json_int_t)st.predicates, "entities",
            (json_int_t)st.entities, "audit_entries",
            (json_int_t)st.audit_entries, "last_change",
            time_json(st.last_change_us), "recent_facts", recent.arr,
            "recent_changes", changes);
        if (!snap) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    if (rc == HK_OK) {
        /* 2026-11-26T10:15:00.123456Z -> 20261126T101500.123456Z */
        char stamp[32], name[96], tmp[sizeof(res->file) + 128];
        size_t k = 0;
        for (const char *p = res->created; *p && k < sizeof stamp - 1; p++)
            if (*p != '-' && *p != ':') stamp[k++] = *p;
        stamp[k] = '\0';
        snprintf(name, sizeof name, "snapshot-%s.json", stamp);
        snprintf(res->file, sizeof res->file, "%s/%s", dir, name);
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
        if (json_dump_file(snap, tmp, JSON_INDENT(2)) != 0 ||
            rename(tmp, res->file) != 0) {
            unlink(tmp);
            rc = hk_error_set(err, HK_ERR_IO, "cannot write snapshot %s: %s",
                              res->file, strerror(errno));
        }
    }
    if (rc == HK_OK) res->facts = st.facts;
    json_decref(snap);
    json_decref(recent.arr);
    json_decref(changes);
    hk_buf_free(&recent.canon);
    return rc;
}

/* ==== Listing ==== */

hk_err hk_svc_hub_list(const char *hub_dir, size_t limit, json_t **out,
                       hk_error *err)
{
    *out = NULL;
    char **names = NULL;
    size_t n = 0;
    hk_err rc = list_snapshots(hub_dir, &names, &n, err);
    if (rc != HK_OK) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n && i < limit; i++) {
        size_t bytes = 0;
        json_t *s = load_snapshot(hub_dir, names[i], &bytes);
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s?, s:s?, s:I}", "file", names[i], "title",
                      json_string_value(json_object_get(s, "title")), "created",
                      json_string_value(json_object_get(s, "created")), "bytes",
                      (json_int_t)bytes));
        json_decref(s);
    }
    names_free(names, n);
    if (!arr) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    *out = arr;
    return HK_OK;
}

/* ==== Digest ==== */

/* Appends the digest section of one snapshot. */
static hk_err digest_one(json_t *s, hk_buf *b)
{
    json_t *kb = json_object_get(s, "kb");
    const char *title = json_string_value(json_object_get(s, "title"));
    const char *created = json_string_value(json_object_get(s, "created"));
    hk_err rc = hk_buf_appendf(b, "## %s (%s)\n", title ? title : "?",
                               created ? created : "?");
    const char *d = json_string_value(json_object_get(s, "description"));
    if (rc == HK_OK && d && d[0]) rc = hk_buf_appendf(b, "%s\n", d);
    if (rc == HK_OK)
        rc = hk_buf_appendf(
            b, "KB: %lld facts, %lld predicates, %lld entities\n",
            (long long)json_integer_value(json_object_get(kb, "facts")),
            (long long)json_integer_value(json_object_get(kb, "predicates")),
            (long long)json_integer_value(json_object_get(kb, "entities")));
    size_t k;
    json_t *v;
    json_t *rf = json_object_get(s, "recent_facts");
    if (rc == HK_OK && json_array_size(rf))
        rc = hk_buf_append_str(b, "Recent facts:\n");
    json_array_foreach(rf, k, v)
    {
        if (rc != HK_OK) break;
        const char *st = json_string_value(v);
        rc = hk_buf_appendf(b, "- %s\n", st ? st : "");
    }
    json_t *ch = json_object_get(s, "recent_changes");
    if (rc == HK_OK && json_array_size(ch))
        rc = hk_buf_append_str(b, "Recent changes:\n");
    json_array_foreach(ch, k, v)
    {
        if (rc != HK_OK) break;
        const char *f[4] = {"time", "op", "actor", "statement"};
        const char *x[4];
        for (int i = 0; i < 4; i++) {
            x[i] = json_string_value(json_object_get(v, f[i]));
            if (!x[i]) x[i] = "";
        }
        rc = hk_buf_appendf(b, "- %s %s by %s: %s\n", x[0], x[1], x[2], x[3]);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "\n");
    return rc;
}

hk_err hk_svc_hub_digest(const char *hub_dir, size_t limit_files,
                         size_t max_chars, hk_svc_hub_digest_res *res,
                         hk_error *err)
{
    memset(res, 0, sizeof(*res));
    char **names = NULL;
    size_t n = 0;
    hk_err rc = list_snapshots(hub_dir, &names, &n, err);
    if (rc != HK_OK) return rc;
    res->files = json_array();
    if (!res->files) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == HK_OK && i < n && i < limit_files; i++) {
        size_t bytes = 0;
        json_t *s = load_snapshot(hub_dir, names[i], &bytes);
        if (!s) continue;
        if (json_array_append_new(res->files, json_string(names[i])) != 0 ||
            digest_one(s, &res->digest) != HK_OK)
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        json_decref(s);
    }
    names_free(names, n);
    if (rc != HK_OK) {
        hk_svc_hub_digest_res_free(res);
        return rc;
    }
    /* cut at max_chars characters, on a UTF-8 boundary */
    size_t chars = 0;
    for (size_t i = 0; i < res->digest.len; i++) {
        if (((unsigned char)res->digest.data[i] & 0xC0) != 0x80) {
            if (chars == max_chars) {
                res->digest.len = i;
                res->digest.data[i] = '\0';
                res->truncated = true;
                break;
            }
            chars++;
        }
    }
    return HK_OK;
}

void hk_svc_hub_digest_res_free(hk_svc_hub_digest_res *res)
{
    if (res == NULL) return;
    json_decref(res->files);
    hk_buf_free(&res->digest);
    memset(res, 0, sizeof(*res));
}
