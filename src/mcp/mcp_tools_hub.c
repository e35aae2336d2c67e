/*
 * mcp_tools_hub.c — the project hub: hand-over notes for assistants that
 * work on a project over many sessions.
 *
 * A hub is a directory inside the operator's allowed directories. Each
 * snapshot is one JSON file named snapshot-<UTC time with microseconds>
 * .json (so that name order is time order) holding
 *   {"kind": "hakgal-project-snapshot", "title", "description", "created",
 *    "kb": {path, facts, predicates, entities, audit_entries, last_change},
 *    "recent_facts": [statements], "recent_changes": [{time, actor, op,
 *    statement}]}.
 * Files are written to a temporary name and renamed, so a reader never sees
 * half a snapshot. Only regular files are read (a link could lead outside
 * the allowed directories). Reading is bounded: at most HUB_MAX_FILES names are
 * considered and files above HUB_MAX_BYTES are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp/mcp_tools.h"

#define HUB_MAX_FILES 100000    /* directory entries considered */
#define HUB_MAX_BYTES (4 << 20) /* largest snapshot file read */
#define HUB_RECENT 20           /* facts and changes in a snapshot */

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

/* Newest-first snapshot file names in dir (caller frees each and v). */
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
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = HK_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[cnt] = strdup(e->d_name))) {
            rc = HK_ERR_NOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc != HK_OK) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
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

/* ==== project_snapshot ==== */

hk_err mcp_t_project_snapshot(mcp_call *c, json_t **out, hk_error *err)
{
    char *dir = NULL;
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc != HK_OK) return rc;
    const char *title = mcp_arg_str(c, "title", "Snapshot");
    const char *desc = mcp_arg_str(c, "description", "");
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (mkdir(dir, 0750) != 0) {
            rc = hk_error_set(err, HK_ERR_IO,
                              "cannot create hub directory "
                              "%s: %s",
                              dir, strerror(errno));
            free(dir);
            return rc;
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "hub_path %s is not a "
                          "directory",
                          dir);
        free(dir);
        return rc;
    }
    int64_t now = hk_now_us();
    char created[32];
    hk_time_format(now, created);
    hk_txn *t = NULL;
    hk_stats st;
    memset(&st, 0, sizeof st);
    json_t *facts = NULL, *changes = json_array();
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_scan scan = HK_SCAN_INIT;
    scan.newest_first = true;
    rc = mcp_read_begin(c, &t, err);
    if (rc == HK_OK) rc = hk_store_stats(t, &st, err);
    if (rc == HK_OK) rc = mcp_scan_facts(c, t, &scan, HUB_RECENT, &facts, err);
    if (rc == HK_OK) rc = hk_audit_list(t, 0, HUB_RECENT, &v, &n, err);
    if (t) hk_txn_abort(t);
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        json_t *after = v[i].after ? json_loads(v[i].after, 0, NULL) : NULL;
        json_t *before = v[i].before ? json_loads(v[i].before, 0, NULL) : NULL;
        const char *s = json_string_value(json_object_get(after, "statement"));
        if (!s) s = json_string_value(json_object_get(before, "statement"));
        json_array_append_new(
            changes, json_pack("{s:o, s:s, s:s, s:s?}", "time",
                               mcp_time_json(v[i].time_us), "actor", v[i].actor,
                               "op", v[i].op, "statement", s));
        json_decref(after);
        json_decref(before);
    }
    hk_audit_entries_free(v, n);
    json_t *recent = json_array();
    size_t i;
    json_t *fj;
    json_array_foreach(facts, i, fj)
        json_array_append(recent, json_object_get(fj, "statement"));
    json_decref(facts);
    json_t *snap = NULL;
    char name[96], path[8192], tmp[8300];
    if (rc == HK_OK) {
        snap = json_pack(
            "{s:s, s:s, s:s, s:s, s:{s:s, s:I, s:I, s:I, s:I, s:o},"
            " s:o, s:o}",
            "kind", "hakgal-project-snapshot", "title", title, "description",
            desc, "created", created, "kb", "path", hk_store_path(mcp_store(c)),
            "facts", (json_int_t)st.facts, "predicates",
            (json_int_t)st.predicates, "entities", (json_int_t)st.entities,
            "audit_entries", (json_int_t)st.audit_entries, "last_change",
            mcp_time_json(st.last_change_us), "recent_facts", recent,
            "recent_changes", changes);
        recent = changes = NULL;
        if (!snap) rc = HK_ERR_NOMEM;
    }
    json_decref(recent);
    json_decref(changes);
    if (rc == HK_OK) {
        /* 2026-11-26T10:15:00.123456Z -> 20261126T101500.123456Z */
        char stamp[32];
        size_t k = 0;
        for (const char *p = created; *p && k < sizeof stamp - 1; p++)
            if (*p != '-' && *p != ':') stamp[k++] = *p;
        stamp[k] = '\0';
        snprintf(name, sizeof name, "snapshot-%s.json", stamp);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
        if (json_dump_file(snap, tmp, JSON_INDENT(2)) != 0 ||
            rename(tmp, path) != 0) {
            unlink(tmp);
            rc = hk_error_set(err, HK_ERR_IO, "cannot write snapshot %s: %s",
                              path, strerror(errno));
        }
    }
    json_decref(snap);
    free(dir);
    if (rc != HK_OK) return rc;
    *out = json_pack("{s:s, s:s, s:s, s:I}", "file", path, "title", title,
                     "created", created, "facts", (json_int_t)st.facts);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== project_list_snapshots ==== */

hk_err mcp_t_project_list_snapshots(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit", 20);
    char *dir = NULL;
    char **names = NULL;
    size_t n = 0;
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc == HK_OK) rc = list_snapshots(dir, &names, &n, err);
    json_t *arr = rc == HK_OK ? json_array() : NULL;
    for (size_t i = 0; arr && i < n && i < limit; i++) {
        size_t bytes = 0;
        json_t *s = load_snapshot(dir, names[i], &bytes);
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s?, s:s?, s:I}", "file", names[i], "title",
                      json_string_value(json_object_get(s, "title")), "created",
                      json_string_value(json_object_get(s, "created")), "bytes",
                      (json_int_t)bytes));
        json_decref(s);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != HK_OK || !arr) {
        free(dir);
        json_decref(arr);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    *out = json_pack("{s:s, s:I, s:o}", "hub_path", dir, "count",
                     (json_int_t)json_array_size(arr), "snapshots", arr);
    free(dir);
    return *out ? HK_OK : HK_ERR_NOMEM;
}

/* ==== project_hub_digest ==== */

hk_err mcp_t_project_hub_digest(mcp_call *c, json_t **out, hk_error *err)
{
    size_t limit = (size_t)mcp_arg_int(c, "limit_files", 3);
    size_t max_chars = (size_t)mcp_arg_int(c, "max_chars", 20000);
    char *dir = NULL;
    char **names = NULL;
    size_t n = 0;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = mcp_path_allowed(c->srv, mcp_arg_str(c, "hub_path", ""),
                                 "hub_path", &dir, err);
    if (rc == HK_OK) rc = list_snapshots(dir, &names, &n, err);
    json_t *files = rc == HK_OK ? json_array() : NULL;
    for (size_t i = 0; files && rc == HK_OK && i < n && i < limit; i++) {
        size_t bytes = 0;
        json_t *s = load_snapshot(dir, names[i], &bytes);
        if (!s) continue;
        json_array_append_new(files, json_string(names[i]));
        json_t *kb = json_object_get(s, "kb");
        hk_buf_appendf(&b, "## %s (%s)\n",
                       json_string_value(json_object_get(s, "title")) ?: "?",
                       json_string_value(json_object_get(s, "created")) ?: "?");
        const char *d = json_string_value(json_object_get(s, "description"));
        if (d && d[0]) hk_buf_appendf(&b, "%s\n", d);
        hk_buf_appendf(
            &b, "KB: %lld facts, %lld predicates, %lld entities\n",
            (long long)json_integer_value(json_object_get(kb, "facts")),
            (long long)json_integer_value(json_object_get(kb, "predicates")),
            (long long)json_integer_value(json_object_get(kb, "entities")));
        size_t k;
        json_t *v;
        json_t *rf = json_object_get(s, "recent_facts");
        if (json_array_size(rf)) hk_buf_append_str(&b, "Recent facts:\n");
        json_array_foreach(rf, k, v)
            hk_buf_appendf(&b, "- %s\n", json_string_value(v) ?: "");
        json_t *rc2 = json_object_get(s, "recent_changes");
        if (json_array_size(rc2)) hk_buf_append_str(&b, "Recent changes:\n");
        json_array_foreach(rc2, k, v) hk_buf_appendf(
            &b, "- %s %s by %s: %s\n",
            json_string_value(json_object_get(v, "time")) ?: "",
            json_string_value(json_object_get(v, "op")) ?: "",
            json_string_value(json_object_get(v, "actor")) ?: "",
            json_string_value(json_object_get(v, "statement")) ?: "");
        rc = hk_buf_append_str(&b, "\n");
        json_decref(s);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != HK_OK || !files) {
        free(dir);
        hk_buf_free(&b);
        json_decref(files);
        return rc != HK_OK ? rc : HK_ERR_NOMEM;
    }
    /* cut at max_chars characters, on a UTF-8 boundary */
    bool truncated = false;
    size_t chars = 0, cut = b.len;
    for (size_t i = 0; i < b.len; i++) {
        if (((unsigned char)b.data[i] & 0xC0) != 0x80) {
            if (chars == max_chars) {
                cut = i;
                truncated = true;
                break;
            }
            chars++;
        }
    }
    *out =
        json_pack("{s:s, s:o, s:s%, s:b}", "hub_path", dir, "files", files,
                  "digest", b.data ? b.data : "", cut, "truncated", truncated);
    free(dir);
    hk_buf_free(&b);
    return *out ? HK_OK : HK_ERR_NOMEM;
}
