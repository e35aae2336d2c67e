/*
 * config_check.c — `hakgal config check FILE`: validates a config file of
 * `hakgal serve` without starting anything.
 *
 * Every line is read as `serve --config` reads it (server_config.c, the one
 * settings table); unlike serve, which stops at the first bad line, the
 * check reports every bad line with its number, so that an operator fixes
 * a file in one pass. Environment and flags are not applied: the check is
 * about the file.
 *
 * Exit codes: 0 valid, 1 usage, 2 a line is bad, 3 no such file, 5 the file
 * cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "server/server_int.h"

typedef struct check_out {
    bool json;      /* collect JSON, else print lines to stderr */
    hk_buf *errors; /* JSON array members so far */
    unsigned n;     /* members written */
} check_out;

static void on_issue(void *ud, uint64_t line, const char *msg)
{
    check_out *o = ud;
    if (!o->json) {
        fprintf(stderr, "%s\n", msg);
        return;
    }
    hk_buf_appendf(o->errors,
                   "%s{\"line\":%llu,\"message\":", o->n++ ? "," : "",
                   (unsigned long long)line);
    hk_buf_append_json_string(o->errors, msg, strlen(msg));
    hk_buf_append_str(o->errors, "}");
}

int hk_cmd_config(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal config check FILE [--json]\n\n"
        "Checks a config file of `hakgal serve --config FILE`: every line\n"
        "must be blank, a # comment or `name = value` with a known name\n"
        "(any option of `hakgal serve --help` without its dashes; the\n"
        "otel-* ones may also be written OTEL_EXPORTER_OTLP_ENDPOINT, ...)\n"
        "and a value that option accepts. Every bad line is reported as\n"
        "`config FILE:LINE: why`.\n\n"
        "Exit code: 0 valid, 1 usage, 2 a line is bad, 3 no such file,\n"
        "5 the file cannot be read.\n";
    const char *file = NULL;
    bool json = false, check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return HK_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!check && !strcmp(argv[i], "check")) {
            check = true;
        } else if (check && !file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            fprintf(stderr, "hakgal config: unexpected argument '%s'\n\n%s",
                    argv[i], usage);
            return HK_EXIT_USAGE;
        }
    }
    if (!check || !file) {
        fputs(usage, stderr);
        return HK_EXIT_USAGE;
    }
    struct stat st;
    if (stat(file, &st) != 0 && errno == ENOENT) {
        fprintf(stderr, "hakgal config: no such file '%s'\n", file);
        return HK_EXIT_NOT_FOUND;
    }
    hk_buf errors = HK_BUF_INIT;
    check_out o = {json, &errors, 0};
    hk_error e;
    hk_error_clear(&e);
    unsigned bad = 0;
    hk_err rc = hk_config_check_file(file, on_issue, &o, &bad, &e);
    if (rc != HK_OK && bad == 0) /* unreadable, or a whole-file rule */
        on_issue(&o, 0, e.message);
    if (json) {
        hk_buf out = HK_BUF_INIT;
        hk_buf_append_str(&out, "{\"file\":");
        hk_buf_append_json_string(&out, file, strlen(file));
        hk_buf_appendf(&out, ",\"valid\":%s,\"errors\":[%s]}\n",
                       rc == HK_OK ? "true" : "false",
                       errors.data ? errors.data : "");
        fwrite(out.data, 1, out.len, stdout);
        hk_buf_free(&out);
    } else if (rc == HK_OK) {
        printf("%s: valid\n", file);
    }
    hk_buf_free(&errors);
    if (rc == HK_OK) return HK_EXIT_OK;
    return rc == HK_ERR_INVALID ? HK_EXIT_INVALID : hk_exit_code(rc);
}
