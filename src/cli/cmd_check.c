/*
 * cmd_check.c — `hakgal check STATEMENT...`: each statement checked as
 * `add` would check it (hk_svc_statement_check), nothing stored and no
 * knowledge base opened. Prints the canonical form of a valid statement,
 * or the error with a caret under its column; --json prints the verdict
 * of each as GET /v2/check answers it, one line each.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "service/svc_check.h"

int hk_cmd_check(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal check STATEMENT... [--json]\n\n"
        "Checks statements as `add` would, without storing them or opening\n"
        "a knowledge base: a valid one is printed in canonical form, an\n"
        "invalid one is reported with the column of the error. Exit status\n"
        "0 when every statement is valid, 2 otherwise. --json prints for\n"
        "each {\"valid\":true,\"statement\",\"predicate\",\"args\"} or\n"
        "{\"valid\":false,\"error\":{\"code\",\"message\",\"detail\"}}.\n";
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "check", usage);
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind >= argc) return cli_usage_error(&c, "give a statement");
    hk_svc_fact_in_opts limits;
    memset(&limits, 0, sizeof(limits)); /* the defaults of add */
    int worst = HK_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        hk_svc_check v;
        hk_error e;
        hk_error_clear(&e);
        hk_err rc =
            hk_svc_statement_check(argv[i], strlen(argv[i]), &limits, &v, &e);
        int x = HK_EXIT_OK;
        if (rc != HK_OK) {
            x = cli_fail(&c, rc, &e);
        } else if (c.json) {
            hk_buf b = HK_BUF_INIT;
            if (hk_svc_check_write_json(&v, &b) == HK_OK)
                x = cli_emit(&c, &b);
            else
                x = cli_fail(&c, HK_ERR_NOMEM, &e);
            hk_buf_free(&b);
            if (x == HK_EXIT_OK && !v.valid)
                x = hk_exit_code(v.error.code ? v.error.code : HK_ERR_INVALID);
        } else if (v.valid) {
            printf("%.*s\n", (int)v.canonical.len, v.canonical.data);
        } else {
            x = cli_fail_text(&c, "statement", argv[i], &v.error);
        }
        hk_svc_check_free(&v);
        if (x != HK_EXIT_OK && worst == HK_EXIT_OK) worst = x;
        if (x != HK_EXIT_OK && rc != HK_OK) break; /* out of memory */
    }
    return worst;
}
