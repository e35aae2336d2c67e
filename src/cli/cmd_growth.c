/*
 * cmd_growth.c — `hakgal growth`: facts added and deleted per UTC day,
 * from the per-day counters of hk_svc_growth_daily (read-only, one read
 * transaction).
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "service/service.h"

#include <stdlib.h>
#include <string.h>

int hk_cmd_growth(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal growth [--days N] [--data DIR] [--json]\n\n"
        "Facts added and deleted per UTC day over the last N days (default\n"
        "30, at most 36600), by the day of the change: an imported fact\n"
        "counts on the day of its import. Answered from per-day counters,\n"
        "not a scan of the facts. --json prints {days, first_day,\n"
        "total_added, total_deleted, per_day: [{date, added, deleted}],\n"
        "counted_seq, folded}.\n";
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"days", required_argument, NULL, 'd'},
                                         {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "growth", usage);
    uint64_t days = 30;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "hd:", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'd' && !cli_parse_u64(&c, "--days", optarg, 1, 36600, &days))
            return HK_EXIT_USAGE;
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_svc_growth_daily_req req = {s, (uint32_t)days, 0};
    hk_svc_growth_daily_res res;
    memset(&res, 0, sizeof res);
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err == HK_OK) err = hk_svc_growth_daily(t, &req, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (c.json) {
        hk_buf b = HK_BUF_INIT;
        if (hk_svc_growth_daily_write_json(&res, &b) == HK_OK)
            rc = cli_emit(&c, &b);
        else
            rc = cli_fail(&c, HK_ERR_NOMEM, NULL);
        hk_buf_free(&b);
    } else {
        printf("%-10s  %10s  %10s\n", "date", "added", "deleted");
        for (uint32_t i = 0; i < res.days; i++) {
            char date[11];
            hk_svc_day_format(res.first_day + (int64_t)i, date);
            printf("%-10s  %10llu  %10llu\n", date,
                   (unsigned long long)res.added[i],
                   (unsigned long long)res.deleted[i]);
        }
        printf("%-10s  %10llu  %10llu\n", "total",
               (unsigned long long)res.total_added,
               (unsigned long long)res.total_deleted);
    }
    hk_svc_growth_daily_res_free(&res);
    if (t) hk_txn_abort(t);
    cli_close(s);
    return rc;
}
