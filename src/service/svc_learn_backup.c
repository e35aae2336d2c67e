/*
 * svc_learn_backup.c — the model file travels with the KB's backups
 * (svc_learn.h, hk_svc_model_file_copy): hk_svc_backup copies
 * DIR/learn.model into the backup directory after the KB, hk_svc_restore
 * copies it back after the KB (or removes the KB's old one when the
 * backup has none), so a restored KB serves the scores of the model it
 * was backed up with.
 *
 * The copy reads the file once (a retraining replaces it by rename, so
 * the open file is one whole model), writes DEST/.learn.model.tmp,
 * fsyncs it, renames it into place and fsyncs the directory. The model
 * file carries its own checksum (learn_file.c): a damaged copy is found
 * when it is loaded, not served.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/svc_learn.h"
#include "store/store_int.h"

static hk_err copy_err(hk_error *err, const char *what, const char *path, int e)
{
    return hk_error_set(err, HK_ERR_IO, "model file: cannot %s %s: %s", what,
                        path, strerror(e));
}

hk_err hk_svc_model_file_copy(const char *from_dir, const char *to_dir,
                              bool remove_stale, bool *copied, hk_error *err)
{
    char from[4096], to[4096], tmp[4096];
    *copied = false;
    int a = snprintf(from, sizeof from, "%s/%s", from_dir, HKL_MODEL_FILE);
    int b = snprintf(to, sizeof to, "%s/%s", to_dir, HKL_MODEL_FILE);
    int c = snprintf(tmp, sizeof tmp, "%s/.%s.tmp", to_dir, HKL_MODEL_FILE);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof from ||
        (size_t)c >= sizeof tmp)
        return hk_error_set(err, HK_ERR_INVALID, "directory path too long");
    FILE *in = fopen(from, "rb");
    if (!in) {
        if (errno != ENOENT) return copy_err(err, "open", from, errno);
        if (remove_stale && unlink(to) != 0 && errno != ENOENT)
            return copy_err(err, "remove", to, errno);
        return HK_OK;
    }
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        int e = errno;
        fclose(in);
        return copy_err(err, "create", tmp, e);
    }
    char buf[1 << 16];
    size_t n;
    int e = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) /* bounded by the file */
        if (fwrite(buf, 1, n, out) != n) {
            e = errno ? errno : EIO;
            break;
        }
    if (!e && ferror(in)) e = EIO;
    fclose(in);
    if (!e && fflush(out) != 0) e = errno;
    if (!e && fsync(fileno(out)) != 0) e = errno;
    if (fclose(out) != 0 && !e) e = errno;
    if (e) {
        unlink(tmp);
        return copy_err(err, "write", tmp, e);
    }
    if (rename(tmp, to) != 0) {
        e = errno;
        unlink(tmp);
        return copy_err(err, "rename", tmp, e);
    }
    hk_err rc = hks_store_fsync_path(to_dir, true, err);
    if (rc == HK_OK) *copied = true;
    return rc;
}
