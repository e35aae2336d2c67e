/*
 * backup.c — hot, consistent, compacted backups and restore.
 *
 * hk_store_backup writes a dense copy: it reads every database from one
 * read snapshot (so the copy is a consistent KB as of one commit while
 * writers continue) and writes it into a fresh environment in key order
 * with MDB_APPEND / MDB_APPENDDUP. LMDB then fills every page completely,
 * where the live KB's randomly inserted trees are about 70% full and its
 * file also holds free pages, so the backup is much smaller than the KB
 * and than mdb_env_copy2's compaction (which keeps pages as they are).
 * The copy is committed in steps of HKS_COPY_STEP entries (appends touch
 * only the right edge of each tree, so steps cost little), synced, hashed
 * (SHA-256 of data.mdb), and its fact count is read from the copy itself
 * (so it matches the snapshot, not a later commit). The
 * MANIFEST.json (jansson) is written to a temporary file, fsynced and
 * renamed into place last: a backup directory with a manifest is complete.
 *
 *   {"format": "hakgal-lmdb", "schema_version": 1, "created": RFC 3339,
 *    "created_us": int, "facts": int, "bytes": int, "sha256": hex}
 *
 * hk_backup_restore verifies the checksum, copies data.mdb to
 * data_dir/data.mdb.tmp, fsyncs it, renames it over data.mdb, removes a
 * stale lock.mdb and fsyncs the directory. It refuses to replace an
 * existing KB unless force is set, and refuses (HK_ERR_BUSY) while any
 * process has the KB open: it takes LOCK_EX on the process lock
 * (hakgal.lock, store.c) without waiting and holds it until the new file
 * is in place, so no handle opens meanwhile; it also checks LMDB's reader
 * lock on lock.mdb, which processes of older builds hold.
 *
 * The dense copy (hks_dense_copy) is shared with compaction (compact.c),
 * which writes it next to data.mdb and renames it over the original.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "store/store_int.h"

#define MANIFEST_FORMAT "hakgal-lmdb"

static hk_err io_err(hk_error *err, const char *what, const char *path)
{
    return hk_error_set(err, HK_ERR_IO, "backup: %s %s: %s", what, path,
                        strerror(errno));
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = hk_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

hk_err hks_store_fsync_path(const char *path, bool dir, hk_error *err)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s", path,
                            strerror(errno));
    if (fsync(fd) != 0) {
        hk_err e = hk_error_set(err, HK_ERR_IO, "store: cannot sync %s: %s",
                                path, strerror(errno));
        close(fd);
        return e;
    }
    close(fd);
    return HK_OK;
}

hk_err hks_store_copy_attrs(const char *path, const struct stat *orig,
                            hk_error *err)
{
    if (chmod(path, orig->st_mode & 07777) != 0)
        return hk_error_set(err, HK_ERR_IO,
                            "store: cannot set the mode of "
                            "%s: %s",
                            path, strerror(errno));
    if ((orig->st_uid != geteuid() || orig->st_gid != getegid()) &&
        chown(path, orig->st_uid, orig->st_gid) != 0 && errno != EPERM)
        return hk_error_set(err, HK_ERR_IO,
                            "store: cannot set the owner "
                            "of %s: %s",
                            path, strerror(errno));
    return HK_OK;
}

/* SHA-256 of a file in 1 MiB chunks; *bytes gets its size. */
static hk_err file_sha256(const char *path, char hex[65], uint64_t *bytes,
                          hk_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_err(err, "cannot open", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = hk_malloc(1 << 20);
    hk_err e = HK_OK;
    uint64_t total = 0;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, hk_sha256_md(), NULL) != 1) {
        e = hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            e = io_err(err, "cannot read", path);
            goto done;
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        total += (uint64_t)n;
    }
    uint8_t md[32];
    unsigned mdlen = 32;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    hk_hex(md, 32, hex);
    if (bytes) *bytes = total;
done:
    EVP_MD_CTX_free(ctx);
    hk_free(buf);
    close(fd);
    return e;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return false;
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            empty = false;
            break;
        }
    }
    closedir(d);
    return empty;
}

/* Facts in the copied KB, read from the copy itself. */
static hk_err copy_fact_count(const char *dir, uint64_t *facts, hk_error *err)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc;
    *facts = 0;
    if ((rc = mdb_env_create(&env)) ||
        (rc = mdb_env_set_maxdbs(env, HKS_DBS_MAX)) ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0644)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
        (rc = mdb_dbi_open(txn, "meta", 0, &dbi)))
        goto fail;
    MDB_val k = {5, (void *)"facts"}, d;
    rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0 && d.mv_size == 8)
        *facts = hks_get_u64(d.mv_data);
    else if (rc != MDB_NOTFOUND)
        goto fail;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return HK_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    return hk_error_set(err, HK_ERR_CORRUPT,
                        "backup: the copy in %s does "
                        "not open: %s",
                        dir, mdb_strerror(rc));
}

#define HKS_COPY_STEP 1000000u

/* Commits a step of the copy and reopens the write cursor on ddbi in a
 * new write txn. */
static int copy_step(MDB_env *dst, MDB_txn **wtxn, MDB_cursor **wc,
                     MDB_dbi ddbi)
{
    mdb_cursor_close(*wc);
    *wc = NULL;
    int rc = mdb_txn_commit(*wtxn);
    *wtxn = NULL;
    if (rc || (rc = mdb_txn_begin(dst, NULL, 0, wtxn)) ||
        (rc = mdb_cursor_open(*wtxn, ddbi, wc)))
        return rc;
    return 0;
}

/* Copies a DUPSORT|DUPFIXED database a page of duplicates at a time:
 * MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE hand out whole leaf pages of a
 * key's duplicates, MDB_MULTIPLE writes them in one call (appended). A
 * key with a single value has no duplicate page: GET_MULTIPLE then leaves
 * the value as read. Steps are committed between keys. */
static int copy_dupfixed(MDB_cursor *rc_cur, MDB_env *dst, MDB_txn **wtxn,
                         MDB_cursor **wc, MDB_dbi ddbi, size_t *since_commit)
{
    MDB_val k, d, k2, page;
    int rc;
    for (rc = mdb_cursor_get(rc_cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(rc_cur, &k, &d, MDB_NEXT_NODUP)) {
        size_t item = d.mv_size;
        unsigned put = MDB_APPEND;
        int mrc;
        if (item == 0) return MDB_CORRUPTED;
        page = d;
        for (mrc = mdb_cursor_get(rc_cur, &k2, &page, MDB_GET_MULTIPLE);
             mrc == 0;
             mrc = mdb_cursor_get(rc_cur, &k2, &page, MDB_NEXT_MULTIPLE)) {
            if (page.mv_size == 0 || page.mv_size % item != 0)
                return MDB_CORRUPTED;
            MDB_val items[2] = {{item, page.mv_data},
                                {page.mv_size / item, NULL}};
            int prc = mdb_cursor_put(*wc, &k, items, MDB_MULTIPLE | put);
            if (prc) return prc;
            if (items[1].mv_size != page.mv_size / item)
                return EIO; /* LMDB stored fewer than given */
            *since_commit += page.mv_size / item;
            put = MDB_APPENDDUP;
        }
        if (mrc != MDB_NOTFOUND) return mrc;
        if (*since_commit >= HKS_COPY_STEP) {
            if ((rc = copy_step(dst, wtxn, wc, ddbi))) return rc;
            *since_commit = 0;
        }
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* True when the file system that holds the copy at path (a directory, or
 * a file with MDB_NOSUBDIR) has less than a page left for us. */
static bool disk_full(const char *path, unsigned env_flags)
{
    char *dir = hk_strdup(path);
    struct statvfs vs;
    bool full = false;
    if (!dir) return false;
    if (env_flags & MDB_NOSUBDIR) {
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = '\0';
        else if (slash)
            slash[1] = '\0';
        else
            strcpy(dir, ".");
    }
    if (statvfs(dir, &vs) == 0)
        full = (uint64_t)vs.f_bavail * vs.f_frsize < 65536;
    hk_free(dir);
    return full;
}

hk_err hks_dense_copy(hk_store *s, const char *dir, unsigned env_flags,
                      hk_error *err)
{
    MDB_env *dst = NULL;
    MDB_txn *rtxn = NULL, *wtxn = NULL;
    MDB_cursor *rc_cur = NULL, *wc = NULL;
    int rc;
    hk_err e = HK_OK;
    size_t n_db = hks_store_db_count(s), since_commit = 0;

    MDB_envinfo info;
    hks_env *src = hks_env_acquire(s); /* kept for the whole copy */
    mdb_env_info(src->env, &info);     /* the map in use (>= the file) */
    if ((rc = mdb_env_create(&dst)) ||
        (rc = mdb_env_set_maxdbs(dst, HKS_DBS_MAX)) ||
        (rc = mdb_env_set_mapsize(dst, info.me_mapsize)) ||
        (rc =
             mdb_env_open(dst, dir, MDB_NOLOCK | MDB_NOSYNC | env_flags, 0644)))
        goto lmdb;
    if ((rc = mdb_txn_begin(src->env, NULL, MDB_RDONLY, &rtxn))) goto lmdb;
    for (size_t i = 0; i < n_db; i++) {
        const char *name;
        unsigned flags;
        MDB_dbi sdbi, ddbi;
        hks_store_db_spec(s, i, &name, &flags, &sdbi);
        if (!wtxn && (rc = mdb_txn_begin(dst, NULL, 0, &wtxn))) goto lmdb;
        if ((rc = mdb_dbi_open(wtxn, name, flags | MDB_CREATE, &ddbi)) ||
            (rc = mdb_cursor_open(rtxn, sdbi, &rc_cur)) ||
            (rc = mdb_cursor_open(wtxn, ddbi, &wc)))
            goto lmdb;
        if (flags & MDB_DUPFIXED) {
            if ((rc = copy_dupfixed(rc_cur, dst, &wtxn, &wc, ddbi,
                                    &since_commit)))
                goto lmdb;
            mdb_cursor_close(rc_cur);
            rc_cur = NULL;
            mdb_cursor_close(wc);
            wc = NULL;
            continue;
        }
        MDB_val k, d, prev = {0, NULL};
        uint8_t prev_key[512];
        bool dupsort = (flags & MDB_DUPSORT) != 0;
        for (rc = mdb_cursor_get(rc_cur, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(rc_cur, &k, &d, MDB_NEXT)) {
            bool same = dupsort && prev.mv_data && k.mv_size == prev.mv_size &&
                        memcmp(k.mv_data, prev_key, k.mv_size) == 0;
            int prc =
                mdb_cursor_put(wc, &k, &d, same ? MDB_APPENDDUP : MDB_APPEND);
            if (prc) {
                rc = prc;
                goto lmdb;
            }
            if (dupsort && k.mv_size <= sizeof prev_key) {
                memcpy(prev_key, k.mv_data, k.mv_size);
                prev.mv_size = k.mv_size;
                prev.mv_data = prev_key;
            }
            if (++since_commit >= HKS_COPY_STEP) {
                if ((rc = copy_step(dst, &wtxn, &wc, ddbi))) goto lmdb;
                since_commit = 0;
            }
        }
        if (rc != MDB_NOTFOUND) goto lmdb;
        mdb_cursor_close(rc_cur);
        rc_cur = NULL;
        mdb_cursor_close(wc);
        wc = NULL;
    }
    rc = wtxn ? mdb_txn_commit(wtxn) : 0;
    wtxn = NULL;
    if (rc || (rc = mdb_env_sync(dst, 1))) goto lmdb;
    goto done;
lmdb:
    if (rc == ENOSPC)
        e = hk_error_set(err, HK_ERR_DISK_FULL,
                         "store: dense copy to %s: disk full (the KB itself "
                         "is unchanged)",
                         dir);
    else if (rc == MDB_MAP_FULL)
        e = hk_error_set(err, HK_ERR_FULL, "store: dense copy to %s: %s", dir,
                         mdb_strerror(rc));
    else if (rc == EIO && disk_full(dir, env_flags))
        /* LMDB reports a short write (what a full disk gives) as EIO */
        e = hk_error_set(err, HK_ERR_DISK_FULL,
                         "store: dense copy to %s: disk full (no space "
                         "left for the copy; the KB itself is unchanged)",
                         dir);
    else
        e = hk_error_set(err, HK_ERR_IO, "store: dense copy to %s: %s", dir,
                         mdb_strerror(rc));
done:
    if (rc_cur) mdb_cursor_close(rc_cur);
    if (wc) mdb_cursor_close(wc);
    if (wtxn) mdb_txn_abort(wtxn);
    if (rtxn) mdb_txn_abort(rtxn);
    if (dst) mdb_env_close(dst);
    hks_env_release(s, src);
    return e;
}

static hk_err write_manifest(const char *dir, uint64_t facts, uint64_t bytes,
                             const char *hex, uint32_t version, hk_error *err)
{
    char *tmp = path_join(dir, "MANIFEST.json.tmp");
    char *final = path_join(dir, "MANIFEST.json");
    hk_err e = HK_OK;
    char ts[32];
    int64_t now = hk_now_us();
    json_t *j = NULL;
    FILE *f = NULL;
    if (!tmp || !final) {
        e = hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
        goto done;
    }
    hk_time_format(now, ts);
    j = json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:s}", "format",
                  MANIFEST_FORMAT, "schema_version", (int)version, "created",
                  ts, "created_us", (json_int_t)now, "facts", (json_int_t)facts,
                  "bytes", (json_int_t)bytes, "sha256", hex);
    if (!j) {
        e = hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
        goto done;
    }
    f = fopen(tmp, "w");
    if (!f) {
        e = io_err(err, "cannot create", tmp);
        goto done;
    }
    if (json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        e = io_err(err, "cannot write", tmp);
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        e = io_err(err, "cannot write", tmp);
        goto done;
    }
    f = NULL;
    if (rename(tmp, final) != 0) {
        e = io_err(err, "cannot rename", tmp);
        goto done;
    }
    e = hks_store_fsync_path(dir, true, err);
done:
    if (f) fclose(f);
    json_decref(j);
    hk_free(tmp);
    hk_free(final);
    return e;
}

hk_err hk_store_backup(hk_store *s, const char *dest_dir, char sha256_hex[65],
                       hk_error *err)
{
    struct stat sb;
    char hex[65];
    uint64_t bytes = 0, facts = 0;
    hk_err e;
    char *data = NULL;
    if (!s || !dest_dir || !*dest_dir)
        return hk_error_set(err, HK_ERR_INVALID, "backup: no destination");
    if (stat(dest_dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode) || !dir_is_empty(dest_dir))
            return hk_error_set(err, HK_ERR_EXISTS,
                                "backup: %s exists and is not an empty "
                                "directory",
                                dest_dir);
    } else if ((e = hks_store_make_dir(dest_dir, err))) {
        return e;
    }
    data = path_join(dest_dir, "data.mdb");
    if (!data) return hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
    if ((e = hks_dense_copy(s, dest_dir, 0, err))) {
        unlink(data); /* no half copy without a manifest lying around */
        goto done;
    }
    /* as private as the KB it copies (the copy is created 0644) */
    struct stat kb;
    if (stat(s->data_path, &kb) == 0 && chmod(data, kb.st_mode & 0777) != 0) {
        e = io_err(err, "cannot set the mode of", data);
        goto done;
    }
    if ((e = hks_store_fsync_path(data, false, err)) ||
        (e = copy_fact_count(dest_dir, &facts, err)) ||
        (e = file_sha256(data, hex, &bytes, err)) ||
        (e = write_manifest(dest_dir, facts, bytes, hex, s->schema_version,
                            err)))
        goto done;
    if (sha256_hex) memcpy(sha256_hex, hex, 65);
done:
    hk_free(data);
    return e;
}

/* Reads the manifest; *sha gets its checksum (65 bytes). */
static hk_err read_manifest(const char *dir, char sha[65], uint64_t *bytes,
                            hk_error *err)
{
    char *mpath = path_join(dir, "MANIFEST.json");
    if (!mpath) return hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
    json_error_t je;
    json_t *j = json_load_file(mpath, 0, &je);
    hk_err e = HK_OK;
    if (!j) {
        struct stat sb;
        if (stat(mpath, &sb) != 0)
            e = hk_error_set(err, HK_ERR_NOT_FOUND,
                             "backup: no backup at %s (MANIFEST.json "
                             "missing)",
                             dir);
        else
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "backup: MANIFEST.json is not valid JSON: %s",
                             je.text);
        hk_free(mpath);
        return e;
    }
    const char *fmt = json_string_value(json_object_get(j, "format"));
    const char *h = json_string_value(json_object_get(j, "sha256"));
    json_t *b = json_object_get(j, "bytes");
    if (!fmt || strcmp(fmt, MANIFEST_FORMAT) != 0 || !h || strlen(h) != 64 ||
        !json_is_integer(b)) {
        e = hk_error_set(err, HK_ERR_CORRUPT,
                         "backup: MANIFEST.json lacks format/sha256/bytes");
    } else {
        memcpy(sha, h, 65);
        *bytes = (uint64_t)json_integer_value(b);
    }
    json_decref(j);
    hk_free(mpath);
    return e;
}

hk_err hk_backup_verify(const char *backup_dir, char sha256_hex[65],
                        hk_error *err)
{
    char want[65], got[65];
    uint64_t want_bytes = 0, got_bytes = 0;
    hk_err e;
    if (!backup_dir)
        return hk_error_set(err, HK_ERR_INVALID, "backup: no directory");
    if ((e = read_manifest(backup_dir, want, &want_bytes, err))) return e;
    char *data = path_join(backup_dir, "data.mdb");
    if (!data) return hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
    e = file_sha256(data, got, &got_bytes, err);
    hk_free(data);
    if (e) return e;
    if (sha256_hex) memcpy(sha256_hex, got, 65);
    if (strcmp(want, got) != 0 || want_bytes != got_bytes)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "backup: checksum mismatch in %s (manifest %s, "
                            "data.mdb %s)",
                            backup_dir, want, got);
    return HK_OK;
}

static hk_err copy_file(const char *from, const char *to, hk_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return io_err(err, "cannot open", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return io_err(err, "cannot create", to);
    }
    hk_err e = HK_OK;
    char *buf = hk_malloc(1 << 20);
    if (!buf) {
        e = hk_error_set(err, HK_ERR_NOMEM, "backup: out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(in, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            e = io_err(err, "cannot read", from);
            goto done;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                e = errno == ENOSPC ? hk_error_set(err, HK_ERR_DISK_FULL,
                                                   "backup: disk full")
                                    : io_err(err, "cannot write", to);
                goto done;
            }
            off += w;
        }
    }
    if (fsync(out) != 0) e = io_err(err, "cannot sync", to);
done:
    hk_free(buf);
    close(in);
    if (close(out) != 0 && !e) e = io_err(err, "cannot write", to);
    return e;
}

hk_err hk_backup_restore(const char *backup_dir, const char *data_dir,
                         bool force, hk_error *err)
{
    struct stat sb;
    hk_err e;
    char *src = NULL, *tmp = NULL, *dst = NULL, *lock = NULL;
    int lock_fd = -1; /* lock.mdb, holding its byte 0 exclusively */
    int kb_lock = -1; /* hakgal.lock, held with LOCK_EX */
    if (!backup_dir || !data_dir || !*data_dir)
        return hk_error_set(err, HK_ERR_INVALID, "restore: no directory");
    if ((e = hk_backup_verify(backup_dir, NULL, err))) return e;
    src = path_join(backup_dir, "data.mdb");
    tmp = path_join(data_dir, "data.mdb.tmp");
    dst = path_join(data_dir, "data.mdb");
    lock = path_join(data_dir, "lock.mdb");
    if (!src || !tmp || !dst || !lock) {
        e = hk_error_set(err, HK_ERR_NOMEM, "restore: out of memory");
        goto done;
    }
    if (stat(data_dir, &sb) != 0) {
        if ((e = hks_store_make_dir(data_dir, err))) goto done;
    } else if (!S_ISDIR(sb.st_mode)) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "restore: %s is not a "
                         "directory",
                         data_dir);
        goto done;
    }
    /* The process lock: every open handle holds it shared, and opens wait
     * while we hold it exclusively. Whether a KB exists is checked only
     * once it is held, so that one created meanwhile is not replaced. */
    kb_lock = hks_kb_lock_open(data_dir, true);
    if (kb_lock < 0) {
        e = hk_error_set(err, HK_ERR_IO, "restore: cannot open %s/%s: %s",
                         data_dir, HKS_LOCK_FILE, strerror(errno));
        goto done;
    }
    int lrc = hks_kb_lock_try(kb_lock, LOCK_EX);
    if (lrc) {
        e = lrc == EWOULDBLOCK
                ? hk_error_set(err, HK_ERR_BUSY,
                               "restore: the KB in %s is open in another "
                               "process; stop it first",
                               data_dir)
                : hk_error_set(err, HK_ERR_IO,
                               "restore: cannot lock %s/%s: "
                               "%s",
                               data_dir, HKS_LOCK_FILE, strerror(lrc));
        goto done;
    }
    /* Every process that has the KB open holds LMDB's shared lock on byte
     * 0 of lock.mdb; replacing data.mdb under it would send its later
     * (acknowledged) writes to an orphaned file. Take that byte
     * exclusively and keep it until the new file is in place. */
    lock_fd = open(lock, O_RDWR | O_CLOEXEC);
    if (lock_fd >= 0) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0;
        fl.l_len = 1;
        if (fcntl(lock_fd, F_SETLK, &fl) != 0) {
            e = (errno == EAGAIN || errno == EACCES)
                    ? hk_error_set(err, HK_ERR_BUSY,
                                   "restore: the KB in %s is open in another "
                                   "process; stop it first",
                                   data_dir)
                    : io_err(err, "cannot lock", lock);
            goto done;
        }
    } else if (errno != ENOENT) {
        e = io_err(err, "cannot open", lock);
        goto done;
    }
    struct stat old_kb; /* the KB replaced keeps its mode and owner */
    if (lstat(dst, &old_kb) == 0 && S_ISLNK(old_kb.st_mode)) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "restore: %s is a symbolic link; restore replaces "
                         "data.mdb by a new file, which would break the "
                         "link (link the KB directory instead)",
                         dst);
        goto done;
    }
    bool had_kb = stat(dst, &old_kb) == 0;
    if (had_kb && !force) {
        e = hk_error_set(err, HK_ERR_EXISTS,
                         "restore: %s already holds a KB (use force to "
                         "replace it)",
                         data_dir);
        goto done;
    }
    if ((e = copy_file(src, tmp, err)) ||
        (had_kb && (e = hks_store_copy_attrs(tmp, &old_kb, err))))
        goto done;
    /* the old content's log must never be replayed onto the new file */
    if ((e = hks_wal_discard(data_dir, err))) goto done;
    if (rename(tmp, dst) != 0) {
        e = io_err(err, "cannot rename", tmp);
        goto done;
    }
    if (unlink(lock) != 0 && errno != ENOENT) {
        e = io_err(err, "cannot remove", lock);
        goto done;
    }
    e = hks_store_fsync_path(data_dir, true, err);
done:
    if (e && tmp) unlink(tmp);
    if (lock_fd >= 0) close(lock_fd);
    if (kb_lock >= 0) close(kb_lock); /* last: the new file is in place */
    hk_free(src);
    hk_free(tmp);
    hk_free(dst);
    hk_free(lock);
    return e;
}
