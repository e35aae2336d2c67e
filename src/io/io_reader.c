/*
 * io_reader.c — buffered line reader for imports.
 *
 * Design: one fixed buffer of max_line + IO_CHUNK bytes, filled with
 * read(2) and scanned with memchr; a line is returned as a pointer into
 * the buffer (its '\n' replaced by NUL), so reading a line costs no
 * allocation and memory stays constant whatever the file size. A line
 * longer than max_line is never held whole: its first max_line bytes are
 * returned flagged overlong (so that the caller can reject it with a
 * preview) and the rest is skipped up to the next newline.
 *
 * Line endings: LF and CRLF; and lone CR (old Mac text files), decided by
 * the file's first line ending, so that a stray CR inside a line of an LF
 * file stays part of that line (and is rejected with it) instead of
 * splitting it.
 *
 * One reader belongs to one import call (one thread).
 */
#include "io/io_internal.h"

#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20) /* bytes asked of read(2) at a time */

hk_err io_reader_open(io_reader *r, const char *path, size_t max_line,
                      hk_error *err)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
        r->own_fd = false;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            int e = errno;
            return hk_error_set(err, e == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO,
                                "cannot open '%s': %s", path, strerror(e));
        }
        r->own_fd = true;
    }
    struct stat sb;
    if (fstat(r->fd, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            io_reader_close(r);
            return hk_error_set(err, HK_ERR_IO,
                                "cannot read '%s': it is a directory", path);
        }
        if (S_ISREG(sb.st_mode)) r->bytes_total = (uint64_t)sb.st_size;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    if (r->own_fd) (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    r->max_line = max_line;
    r->eol = '\n';
    r->cap = max_line + IO_CHUNK + 1;
    r->buf = hk_malloc(r->cap);
    if (r->buf == NULL) {
        io_reader_close(r);
        return hk_error_set(err, HK_ERR_NOMEM,
                            "cannot allocate a %zu-byte read buffer", max_line);
    }
    return HK_OK;
}

void io_reader_close(io_reader *r)
{
    if (r->own_fd && r->fd >= 0) close(r->fd);
    r->fd = -1;
    hk_free(r->buf);
    r->buf = NULL;
}

hk_err io_reader_set_max_line(io_reader *r, size_t max_line, hk_error *err)
{
    if (max_line <= r->max_line) return HK_OK;
    size_t cap = max_line + IO_CHUNK + 1;
    char *nb = hk_realloc(r->buf, cap);
    if (nb == NULL)
        return hk_error_set(err, HK_ERR_NOMEM,
                            "cannot grow the read buffer to %zu bytes", cap);
    r->buf = nb;
    r->cap = cap;
    r->max_line = max_line;
    return HK_OK;
}

/* Reads more input after the valid bytes, first sliding them to the front.
 * Sets r->eof at the end of input. */
static hk_err fill(io_reader *r, hk_error *err)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    size_t room = r->cap - 1 - r->end;
    if (room == 0) return HK_OK;
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            return hk_error_set(err, HK_ERR_IO, "read failed: %s",
                                strerror(errno));
        }
        if (n == 0) r->eof = true;
        r->end += (size_t)n;
        return HK_OK;
    }
}

hk_err io_reader_peek(io_reader *r, size_t n, const char **data, size_t *len,
                      hk_error *err)
{
    if (n > r->cap - 1) n = r->cap - 1;
    while (!r->eof && r->end - r->start < n) {
        hk_err rc = fill(r, err);
        if (rc != HK_OK) return rc;
    }
    *data = r->buf + r->start;
    *len = r->end - r->start;
    return HK_OK;
}

/* Decides the line terminator from the first line ending: a CR not
 * followed by LF makes CR the terminator for the whole file. Reads ahead
 * at most a buffer's worth (max_line + 1 MiB; no ending by then: LF). */
static hk_err detect_eol(io_reader *r, hk_error *err)
{
    for (;;) {
        size_t avail = r->end - r->start;
        const char *base = r->buf + r->start;
        const char *lf = memchr(base, '\n', avail);
        const char *cr = memchr(base, '\r', lf ? (size_t)(lf - base) : avail);
        if (cr != NULL && (size_t)(cr - base) + 1 < avail) {
            r->eol = cr[1] == '\n' ? '\n' : '\r';
            break;
        }
        if (cr != NULL && r->eof) {
            r->eol = '\r'; /* the file ends with its first CR */
            break;
        }
        if (cr == NULL && (lf != NULL || r->eof))
            break; /* LF first, or no ending at all */
        if (r->end - r->start >= r->cap - 1) break;
        hk_err rc = fill(r, err);
        if (rc != HK_OK) return rc;
    }
    r->eol_known = true;
    return HK_OK;
}

hk_err io_reader_next(io_reader *r, char **line, size_t *len, bool *overlong,
                      uint64_t *full_len, bool *got, hk_error *err)
{
    *got = false;
    *overlong = false;
    if (!r->eol_known) {
        hk_err rc = detect_eol(r, err);
        if (rc != HK_OK) return rc;
    }
    size_t scanned = 0; /* bytes after start already known to lack '\n' */
    for (;;) {
        size_t avail = r->end - r->start;
        char *base = r->buf + r->start;
        char *nl = avail > scanned
                       ? memchr(base + scanned, r->eol, avail - scanned)
                       : NULL;
        if (nl != NULL || (r->eof && avail > 0) || avail > r->max_line) {
            size_t n;
            size_t consumed;
            if (nl != NULL && (size_t)(nl - base) <= r->max_line) {
                n = (size_t)(nl - base);
                consumed = n + 1;
            } else if (nl == NULL && avail <= r->max_line) {
                n = avail; /* last line without a newline */
                consumed = n;
            } else {
                /* Overlong: keep the first max_line bytes at the front of
                 * the buffer as a preview and skip the rest of the line,
                 * reading more input behind the preview as needed. */
                size_t keep = r->max_line;
                if (r->start > 0) {
                    memmove(r->buf, base, avail);
                    r->end = avail;
                    r->start = 0;
                }
                uint64_t total = keep; /* bytes of this line seen */
                r->bytes_done += keep;
                for (;;) {
                    char *p = memchr(r->buf + keep, r->eol, r->end - keep);
                    if (p != NULL) {
                        size_t tail = (size_t)(p - (r->buf + keep));
                        total += tail;
                        r->bytes_done += tail + 1;
                        r->start = (size_t)(p - r->buf) + 1;
                        break;
                    }
                    total += r->end - keep;
                    r->bytes_done += r->end - keep;
                    r->end = keep;
                    if (r->eof) {
                        r->start = keep;
                        break;
                    }
                    hk_err rc = fill(r, err); /* start is 0: only reads */
                    if (rc != HK_OK) return rc;
                }
                r->buf[keep] = '\0';
                *line = r->buf;
                *len = keep;
                *full_len = total;
                *overlong = true;
                *got = true;
                r->line_no++;
                return HK_OK;
            }
            base[n] = '\0';
            if (n > 0 && base[n - 1] == '\r') base[--n] = '\0';
            r->start += consumed;
            r->bytes_done += consumed;
            r->line_no++;
            *line = base;
            *len = n;
            *full_len = n;
            *got = true;
            return HK_OK;
        }
        if (r->eof) return HK_OK; /* nothing left */
        scanned = avail;
        hk_err rc = fill(r, err);
        if (rc != HK_OK) return rc;
    }
}
