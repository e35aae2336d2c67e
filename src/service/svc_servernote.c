/*
 * svc_servernote.c — DIR/hakgal.server: which `hakgal serve` holds a KB.
 *
 * A running server keeps the KB open (its process lock is shared), so the
 * offline commands that need it alone (`hakgal compact`, restore) are
 * refused with HK_ERR_BUSY. To name the server in that refusal and point
 * at its online route, the server writes one line into the KB directory
 * when it is ready and removes it when it stops:
 *
 *   pid=<pid> url=<scheme>://<host>:<port>
 *
 * The note is advisory: a server killed with SIGKILL leaves it behind, so a
 * reader trusts it only while that pid is alive. It is written to a
 * temporary name and renamed, so a reader never sees half a line.
 *
 * Threads: any; each call stands alone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "service/service.h"

#define NOTE_FILE "hakgal.server"

hk_err hk_svc_server_note_write(const char *data_dir, const char *url,
                                hk_error *err)
{
    char path[4200], tmp[4300];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, NOTE_FILE) >=
            (int)sizeof path ||
        strlen(url) > 1000)
        return hk_error_set(err, HK_ERR_INVALID, "server note: path too long");
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return hk_error_set(err, HK_ERR_IO, "server note: cannot write %s: %s",
                            tmp, strerror(errno));
    int w = fprintf(f, "pid=%ld url=%s\n", (long)getpid(), url);
    if (fclose(f) != 0 || w < 0 || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return hk_error_set(err, HK_ERR_IO, "server note: cannot write %s: %s",
                            path, strerror(saved));
    }
    return HK_OK;
}

void hk_svc_server_note_remove(const char *data_dir)
{
    char path[4200];
    long pid = 0;
    char url[8];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, NOTE_FILE) >=
        (int)sizeof path)
        return;
    /* Only our own note: another server may have taken the KB since. */
    if (hk_svc_server_note_read(data_dir, &pid, url, sizeof url) &&
        pid == (long)getpid())
        unlink(path);
}

bool hk_svc_server_note_read(const char *data_dir, long *pid, char *url,
                             size_t url_size)
{
    char path[4200], line[1200];
    if (url_size == 0 || snprintf(path, sizeof path, "%s/%s", data_dir,
                                  NOTE_FILE) >= (int)sizeof path)
        return false;
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got || strncmp(line, "pid=", 4) != 0) return false;
    char *end = NULL;
    long p = strtol(line + 4, &end, 10);
    if (p <= 0 || !end || strncmp(end, " url=", 5) != 0) return false;
    const char *u = end + 5;
    size_t n = strcspn(u, "\n");
    if (n == 0) return false;
    if (kill((pid_t)p, 0) != 0 && errno == ESRCH) return false; /* stale */
    if (n >= url_size) n = url_size - 1;
    memcpy(url, u, n);
    url[n] = '\0';
    *pid = p;
    return true;
}
