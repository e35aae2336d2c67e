/*
 * cli_util.c — shared plumbing of the CLI commands: option parsing with
 * the global options, error messages that say what, where and why,
 * opening the KB and resolving "id or statement" arguments.
 * Single-threaded (a CLI process runs one command).
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "llm/llm.h"
#include "service/service.h"
#include "service/svc_vector.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_init(cli_ctx *c, const char *cmd, const char *usage)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->usage = usage;
    const char *env = getenv("HAKGAL_DATA");
    c->data_dir = env != NULL && env[0] != '\0' ? env : "./hakgal-data";
    optind = 0; /* GNU: full re-initialisation of getopt */
    opterr = 0; /* we print our own messages */
}

void cli_msg(const cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hakgal %s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hakgal %s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'hakgal %s --help' for usage.\n", c->cmd);
    return HK_EXIT_USAGE;
}

int cli_next_opt(cli_ctx *c, int argc, char **argv, const char *shortopts,
                 const struct option *longopts)
{
    for (;;) {
        int o = getopt_long(argc, argv, shortopts, longopts, NULL);
        int prev = optind > 1 ? optind - 1 : 1; /* the element just read */
        switch (o) {
        case CLI_OPT_DATA:
            if (optarg[0] == '\0') {
                c->exit_code = cli_usage_error(c, "--data needs a directory");
                return CLI_STOP;
            }
            c->data_dir = optarg;
            continue;
        case CLI_OPT_JSON:
            c->json = true;
            continue;
        case CLI_OPT_HELP:
            fputs(c->usage, stdout);
            c->exit_code = HK_EXIT_OK;
            return CLI_STOP;
        case '?': {
            const char *bad = prev < argc ? argv[prev] : "?";
            if (optopt != 0) {
                /* a short option, or a long one missing its value */
                bool needs_arg = false;
                for (const struct option *lo = longopts; lo->name; lo++)
                    if (lo->val == optopt && lo->has_arg == required_argument)
                        needs_arg = true;
                if (needs_arg ||
                    (shortopts != NULL && strchr(shortopts, optopt)))
                    c->exit_code =
                        cli_usage_error(c, "option '%s' needs a value", bad);
                else
                    c->exit_code =
                        cli_usage_error(c, "unknown option '-%c'", optopt);
            } else {
                c->exit_code = cli_usage_error(c, "unknown option '%s'", bad);
            }
            return CLI_STOP;
        }
        case ':':
            c->exit_code = cli_usage_error(c, "option '%s' needs a value",
                                           prev < argc ? argv[prev] : "?");
            return CLI_STOP;
        default:
            return o;
        }
    }
}

int cli_parse_common_only(cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c->exit_code;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    return -1;
}

const char *cli_size_text(uint64_t n, char out[32])
{
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = -1;
    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    if (u < 0)
        snprintf(out, 32, "%llu B", (unsigned long long)n);
    else
        snprintf(out, 32, "%.1f %s", v, units[u]);
    return out;
}

int cli_fail(const cli_ctx *c, hk_err rc, const hk_error *e)
{
    if (e != NULL && e->message[0] != '\0')
        cli_msg(c, "%s", e->message);
    else
        cli_msg(c, "%s", hk_strerror(rc));
    return hk_exit_code(rc);
}

int cli_fail_text(const cli_ctx *c, const char *what, const char *text,
                  const hk_error *e)
{
    cli_msg(c, "invalid %s: %s", what, e->message);
    fprintf(stderr, "  %s\n", text);
    if (e->column > 0) {
        /* Place the caret under the column-th character. */
        fputs("  ", stderr);
        uint32_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)text;
             *p != '\0' && chars + 1 < e->column; p++) {
            if ((*p & 0xC0) == 0x80)
                continue; /* inside a multi-byte character */
            fputc(*p == '\t' ? '\t' : ' ', stderr);
            chars++;
        }
        fputs("^\n", stderr);
    }
    return hk_exit_code(e->code != HK_OK ? e->code : HK_ERR_INVALID);
}

bool cli_parse_u64(const cli_ctx *c, const char *opt, const char *s,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno == ERANGE ||
        v < min || v > max) {
        if (max == UINT64_MAX)
            cli_msg(c, "%s '%s': expected a whole number >= %" PRIu64, opt, s,
                    min);
        else
            cli_msg(c,
                    "%s '%s': expected a whole number in %" PRIu64 "..%" PRIu64,
                    opt, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_double(const cli_ctx *c, const char *opt, const char *s,
                      double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) ||
        v < min || v > max) {
        cli_msg(c, "%s '%s': expected a number in %g..%g", opt, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_check_actor(const cli_ctx *c, const char *actor)
{
    size_t n = strlen(actor);
    if (n == 0 || n > 256 || !hk_utf8_valid(actor, n, NULL)) {
        cli_msg(c,
                "--actor: %s; expected a name of 1..256 bytes of UTF-8 "
                "text",
                n == 0    ? "empty"
                : n > 256 ? "too long"
                          : "not UTF-8");
        return false;
    }
    return true;
}

/* The vector module attached to the KB a command opened for writing (a
 * command opens one KB); cli_close detaches it. */
static hk_store *cli_vs_store;
static hkv_store *cli_vs;

hkv_store *cli_vstore(const hk_store *s)
{
    return s != NULL && s == cli_vs_store ? cli_vs : NULL;
}

void cli_close(hk_store *s)
{
    if (s == NULL) return;
    if (s == cli_vs_store) {
        hkv_store_detach(cli_vs);
        cli_vs = NULL;
        cli_vs_store = NULL;
    }
    hk_store_close(s);
}

int cli_open(const cli_ctx *c, bool read_only, bool create, hk_store **out)
{
    *out = NULL;
    struct stat sb;
    if (!create && stat(c->data_dir, &sb) != 0) {
        if (errno != ENOENT) {
            cli_msg(c, "cannot open the knowledge base at '%s': %s",
                    c->data_dir, strerror(errno));
            return HK_EXIT_IO;
        }
        cli_msg(c,
                "no knowledge base at '%s' (create one with 'hakgal init "
                "--data %s', or set --data / HAKGAL_DATA)",
                c->data_dir, c->data_dir);
        return HK_EXIT_NOT_FOUND;
    }
    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.read_only = read_only;
    opt.create = create;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc;
    if (read_only) {
        rc = hk_store_open(c->data_dir, &opt, out, &e);
    } else {
        /* every write removes the vectors of what it deletes or replaces */
        hkv_store *vs = NULL;
        rc = hk_svc_store_open(c->data_dir, &opt, out, &vs, &e);
        if (rc == HK_OK) {
            cli_vs_store = *out;
            cli_vs = vs;
            /* the review queue, and the read-only switch's guard */
            if ((rc = hk_llm_attach(*out, &e)) != HK_OK) {
                cli_close(*out);
                *out = NULL;
            }
        }
    }
    if (rc == HK_OK) return HK_EXIT_OK;
    if (rc == HK_ERR_NOT_FOUND) {
        cli_msg(c,
                "no knowledge base at '%s' (%s; create one with 'hakgal "
                "init --data %s')",
                c->data_dir, e.message[0] ? e.message : "not found",
                c->data_dir);
        return HK_EXIT_NOT_FOUND;
    }
    cli_msg(c, "cannot open the knowledge base at '%s': %s", c->data_dir,
            e.message[0] ? e.message : hk_strerror(rc));
    return hk_exit_code(rc);
}

bool cli_is_id(const char *s, hk_fact_id *id)
{
    return hk_svc_fact_ref_is_id(s, id);
}

void cli_format_statement(const hk_statement *st, hk_buf *b)
{
    hk_buf_reset(b);
    if (hk_statement_format(st, b) != HK_OK || b->data == NULL) {
        hk_buf_reset(b);
        hk_buf_append_str(b, "(statement)");
    }
}

int cli_resolve_fact(const cli_ctx *c, hk_txn *t, const char *arg,
                     hk_fact_id *id)
{
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_svc_fact_resolve(t, arg, id, &e);
    if (rc == HK_OK) return HK_EXIT_OK;
    /* A statement that does not parse is shown with a caret. */
    if (rc != HK_ERR_NOT_FOUND && e.field[0] != '\0')
        return cli_fail_text(c, "statement", arg, &e);
    return cli_fail(c, rc, &e);
}

int cli_emit(const cli_ctx *c, hk_buf *b)
{
    if (b->data != NULL) fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
    hk_buf_reset(b);
    if (ferror(stdout)) {
        cli_msg(c, "cannot write to standard output: %s", strerror(errno));
        return HK_EXIT_IO;
    }
    return HK_EXIT_OK;
}

hk_err cli_json_key(hk_buf *b, bool *first, const char *key)
{
    hk_err rc = HK_OK;
    if (!*first) rc = hk_buf_append(b, ",", 1);
    *first = false;
    if (rc == HK_OK) rc = hk_buf_append_json_string(b, key, strlen(key));
    if (rc == HK_OK) rc = hk_buf_append(b, ":", 1);
    return rc;
}

hk_err cli_json_str(hk_buf *b, const char *s)
{
    if (s == NULL) return hk_buf_append_str(b, "null");
    return hk_buf_append_json_string(b, s, strlen(s));
}
