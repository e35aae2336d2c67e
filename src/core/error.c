/*
 * error.c — hk_err codes and the hk_error message carrier.
 *
 * Messages are formatted into the fixed-size hk_error.message; a message
 * that does not fit is cut at a UTF-8 character boundary so that it stays
 * valid UTF-8 (it is shown to users and embedded in JSON). The message may
 * be built from the error's own previous message or field
 * (hk_error_set(e, rc, "import: %s", e->message)).
 *
 * Threads: no shared state; every function is thread-safe.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hakgal.h"

const char *hk_strerror(hk_err code)
{
    switch (code) {
    case HK_OK:
        return "ok";
    case HK_ERR_INVALID:
        return "invalid input";
    case HK_ERR_NOT_FOUND:
        return "not found";
    case HK_ERR_EXISTS:
        return "already exists";
    case HK_ERR_NOMEM:
        return "out of memory";
    case HK_ERR_IO:
        return "I/O error";
    case HK_ERR_STORE:
        return "storage engine error";
    case HK_ERR_FULL:
        return "storage full";
    case HK_ERR_DISK_FULL:
        return "disk full";
    case HK_ERR_CORRUPT:
        return "data corrupt";
    case HK_ERR_LIMIT:
        return "limit exceeded";
    case HK_ERR_BUSY:
        return "resource busy";
    case HK_ERR_UNSUPPORTED:
        return "unsupported";
    case HK_ERR_STATE:
        return "invalid state";
    case HK_ERR_VERSION:
        return "unsupported schema version";
    }
    return "unknown error";
}

/* Cuts a truncated message back to the last complete UTF-8 sequence. */
static void trim_partial_utf8(char *s, size_t len)
{
    size_t i = len;
    /* Walk back over at most 3 continuation bytes to the lead byte. */
    size_t back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0) return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = 1;
    if (lead >= 0xF0)
        need = 4;
    else if (lead >= 0xE0)
        need = 3;
    else if (lead >= 0xC0)
        need = 2;
    if (lead >= 0x80 && back + 1 < need)
        s[i - 1] = '\0'; /* incomplete sequence: drop it */
}

hk_err hk_error_set(hk_error *e, hk_err code, const char *fmt, ...)
{
    if (!e) return code;
    /* Format into scratch space first: callers may pass e->message or
     * e->field as an argument to add context to an earlier error. */
    char text[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(text, sizeof text, "%s", hk_strerror(code));
    else if ((size_t)n >= sizeof text)
        trim_partial_utf8(text, sizeof text - 1);
    e->code = code;
    e->line = 0;
    e->column = 0;
    e->field[0] = '\0';
    memcpy(e->message, text, sizeof text);
    return code;
}

void hk_error_clear(hk_error *e)
{
    if (e) memset(e, 0, sizeof *e);
}
