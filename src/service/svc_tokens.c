/*
 * svc_tokens.c — access tokens: the token file parser, written once for
 * every interface that reads a token file (`hakgal serve --tokens`,
 * `hakgal mcp --tokens`) and the field checks shared with the server's
 * HAKGAL_TOKEN_<NAME>=<role>:<sha256hex> environment variables.
 *
 * ==== Format ====
 * One token per line: `name role sha256hex`, fields separated by spaces or
 * tabs. Blank lines and lines whose first non-blank character is `#` are
 * skipped. A line with fewer or more than three fields is an error (a
 * fourth field is never ignored: it usually means a secret was pasted
 * where its hash belongs). The name is 1..63 characters of letters,
 * digits, `_ - . @` and becomes the audit actor; the role is read, write or
 * admin; the hash is the SHA-256 of the token text as 64 hex digits (either
 * case). A name given twice is an error. Secrets themselves never appear.
 *
 * ==== Errors ====
 * Every error names the file and the 1-based line (also in err->line) and
 * says what was expected. Parsing stops at the first bad line: a token
 * file is configuration, and half of it must not be applied.
 *
 * Pure functions over caller-provided storage; callable from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "service/service.h"

/* Lines longer than this are refused rather than split. */
#define TOKEN_LINE_MAX 1024
/* A token file never needs more lines than this (bounds the loop). */
#define TOKEN_FILE_MAX_LINES 1000000u

/* ==== Roles ==== */

const char *hk_role_name(hk_role r)
{
    switch (r) {
    case HK_ROLE_READ:
        return "read";
    case HK_ROLE_WRITE:
        return "write";
    case HK_ROLE_REVIEW:
        return "reviewer";
    case HK_ROLE_ADMIN:
        return "admin";
    default:
        return "none";
    }
}

hk_err hk_role_parse(const char *s, hk_role *out)
{
    if (!strcmp(s, "read"))
        *out = HK_ROLE_READ;
    else if (!strcmp(s, "write"))
        *out = HK_ROLE_WRITE;
    else if (!strcmp(s, "reviewer"))
        *out = HK_ROLE_REVIEW;
    else if (!strcmp(s, "admin"))
        *out = HK_ROLE_ADMIN;
    else
        return HK_ERR_INVALID;
    return HK_OK;
}

/* ==== One token ==== */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool parse_hash(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64) return false;
    for (int i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool hk_svc_token_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= HK_TOKEN_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c != '@')
            return false;
    }
    return true;
}

hk_err hk_svc_token_parse(const char *name, const char *role, const char *hex,
                          const char *where, hk_token *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (!hk_svc_token_name_valid(name))
        return hk_error_set(err, HK_ERR_INVALID,
                            "%s: token name '%.80s' must be 1-63 characters "
                            "of letters, digits, _ - . @",
                            where, name);
    if (hk_role_parse(role, &out->role) != HK_OK)
        return hk_error_set(
            err, HK_ERR_INVALID,
            "%s: role '%.32s' must be read, write or admin (or reviewer)",
            where, role);
    if (!parse_hash(hex, out->hash))
        return hk_error_set(err, HK_ERR_INVALID,
                            "%s: expected the token's SHA-256 as 64 hex "
                            "digits (printf %%s TOKEN | sha256sum)",
                            where);
    memcpy(out->name, name, strlen(name) + 1); /* < 64, checked above */
    return HK_OK;
}

/* ==== Token files ==== */

/* Splits line (modified in place) into at most max fields; returns how many
 * there were (max + 1 when there were more). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *f = strtok_r(line, " \t\r\n", &save); f;
         f = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max) return max + 1;
        fields[n++] = f;
    }
    return n;
}

hk_err hk_svc_tokens_load(const char *path, hk_token *out, size_t max,
                          size_t *n, hk_error *err)
{
    *n = 0;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return hk_error_set(err, HK_ERR_IO, "token file %s: %s", path,
                            strerror(errno));
    char line[TOKEN_LINE_MAX];
    char where[TOKEN_LINE_MAX + 64];
    hk_err rc = HK_OK;
    uint64_t ln = 0;
    while (fgets(line, sizeof line, fp)) {
        ln++;
        snprintf(where, sizeof where, "token file %.900s line %llu", path,
                 (unsigned long long)ln);
        if (ln > TOKEN_FILE_MAX_LINES) {
            rc = hk_error_set(err, HK_ERR_LIMIT, "%s: more than %u lines",
                              where, TOKEN_FILE_MAX_LINES);
            goto fail;
        }
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(fp)) {
            rc =
                hk_error_set(err, HK_ERR_LIMIT, "%s: line longer than %d bytes",
                             where, TOKEN_LINE_MAX - 1);
            goto fail;
        }
        char *fields[3];
        size_t nf = split_fields(line, fields, 3);
        if (nf == 0 || fields[0][0] == '#') continue;
        if (nf != 3) {
            rc = hk_error_set(
                err, HK_ERR_INVALID,
                "%s: expected `name role sha256hex`, found %s", where,
                nf > 3 ? "more than three fields" : "fewer than three fields");
            goto fail;
        }
        if (*n >= max) {
            rc = hk_error_set(err, HK_ERR_LIMIT, "%s: more than %zu tokens",
                              where, max);
            goto fail;
        }
        rc = hk_svc_token_parse(fields[0], fields[1], fields[2], where,
                                &out[*n], err);
        if (rc != HK_OK) goto fail;
        for (size_t i = 0; i < *n; i++) {
            if (!strcmp(out[i].name, out[*n].name)) {
                rc = hk_error_set(err, HK_ERR_EXISTS,
                                  "%s: token name '%s' given twice", where,
                                  out[*n].name);
                goto fail;
            }
        }
        (*n)++;
    }
    if (ferror(fp)) {
        rc = hk_error_set(err, HK_ERR_IO, "token file %s: read error", path);
        ln = 0;
        goto fail;
    }
    fclose(fp);
    return HK_OK;

fail:
    fclose(fp);
    if (err) err->line = ln;
    memset(out, 0, *n * sizeof *out);
    *n = 0;
    return rc;
}
