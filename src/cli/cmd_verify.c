/*
 * cmd_verify.c — `hakgal verify [--deep] [--rehash] [--json]`: the audit
 * chain, and with --deep every record, symbol and index entry of the KB
 * (hk_svc_verify). --rehash computes the data digest of a KB made before
 * it existed (hk_svc_rehash_apply), after which every write keeps it.
 * Exit code 6 when something is wrong.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "service/service.h"

#define OPT_DEEP 0x2001
#define OPT_REHASH 0x2002

static int rehash(const cli_ctx *c)
{
    hk_store *s = NULL;
    int rc = cli_open(c, false, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_write(s, NULL, hk_svc_rehash_apply, NULL, &e);
    cli_close(s);
    if (err != HK_OK) return cli_fail(c, err, &e);
    return HK_EXIT_OK;
}

int hk_cmd_verify(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal verify [--deep] [--rehash] [--data DIR] [--json]\n\n"
        "Checks the audit chain; with --deep also every fact record and\n"
        "symbol against the data digest kept at each commit, and every\n"
        "index entry against the facts and symbols, naming each problem\n"
        "(fact id, symbol, index). Exit code 6 when something is wrong.\n"
        "  --rehash  compute the data digest of a KB made before it existed\n"
        "            (then verifies as --deep)\n";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"deep", no_argument, NULL, OPT_DEEP},
        {"rehash", no_argument, NULL, OPT_REHASH},
        {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "verify", usage);
    bool deep = false, do_rehash = false;
    int o, rc;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == OPT_DEEP) deep = true;
        if (o == OPT_REHASH) do_rehash = deep = true;
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (do_rehash && (rc = rehash(&c)) != HK_EXIT_OK) return rc;
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = cli_open(&c, true, false, &s)) != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_txn_begin(s, false, &t, &e);
    static hk_svc_verify_res res; /* 4 KiB of problem text */
    if (err == HK_OK) err = hk_svc_verify(t, deep, &res, &e);
    if (t) hk_txn_abort(t);
    cli_close(s);
    if (err != HK_OK) return cli_fail(&c, err, &e);
    hk_buf b = HK_BUF_INIT;
    if (c.json) {
        if (hk_svc_verify_json(&res, &b) != HK_OK) {
            hk_buf_free(&b);
            cli_msg(&c, "out of memory");
            return HK_EXIT_IO;
        }
        rc = cli_emit(&c, &b);
    } else {
        rc = HK_EXIT_OK;
        if (res.audit.ok)
            printf("audit chain ok: %llu entries verified\n",
                   (unsigned long long)res.audit.checked);
        else
            printf("audit chain BROKEN at entry %llu: %s\n",
                   (unsigned long long)res.audit.first_bad, res.audit.reason);
        const hk_verify_report *d = &res.data;
        if (deep) {
            printf("data %s: %llu facts, %llu symbols, %llu index entries "
                   "checked; digest %s\n",
                   d->ok ? "ok" : "DAMAGED", (unsigned long long)d->facts,
                   (unsigned long long)d->symbols,
                   (unsigned long long)d->index_entries,
                   !d->has_digest ? "missing (run hakgal verify --rehash)"
                   : d->digest_ok ? "matches"
                                  : "DIFFERS");
            for (uint64_t i = 0;
                 i < d->n_problems && i < HK_VERIFY_PROBLEMS_MAX; i++)
                printf("  %s\n", d->problems[i]);
            if (d->n_problems > HK_VERIFY_PROBLEMS_MAX)
                printf("  ... %llu problems in all\n",
                       (unsigned long long)d->n_problems);
        }
    }
    hk_buf_free(&b);
    if (!res.ok) {
        cli_msg(&c, "verification failed");
        if (rc == HK_EXIT_OK) rc = HK_EXIT_AUDIT;
    }
    return rc;
}
