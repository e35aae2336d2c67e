/*
 * cmd_backup.c — `hakgal backup DIR` and `hakgal restore BACKUP_DIR`.
 *
 * backup writes a consistent, compacted copy while writers continue and
 * prints the SHA-256 of the copied data file (also kept in the backup's
 * MANIFEST.json). restore verifies that checksum before installing the
 * copy, and refuses to replace an existing KB without --force.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "service/service.h"

#include <string.h>

int hk_cmd_backup(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal backup DIR [--data KB_DIR] [--json]\n\n"
        "Writes a consistent, compacted copy of the knowledge base into DIR\n"
        "(created; it must not exist or must be empty) while other processes\n"
        "may keep writing. DIR gets data.mdb and MANIFEST.json; the SHA-256 "
        "of\n"
        "data.mdb is printed and recorded in the manifest.\n";
    cli_ctx c;
    cli_init(&c, "backup", usage);
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind >= argc) return cli_usage_error(&c, "missing DIR");
    if (optind + 1 < argc)
        return cli_usage_error(&c, "unexpected argument '%s'",
                               argv[optind + 1]);
    const char *dest = argv[optind];
    hk_store *s = NULL;
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_svc_backup_req req = {dest, NULL, NULL, NULL};
    hk_svc_backup_res res;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_backup(s, &req, &res, &e);
    hk_store_close(s);
    const char *sha = res.sha256;
    if (err != HK_OK) return cli_fail(&c, err, &e);
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{\"backup\":");
        cli_json_str(&b, dest);
        hk_buf_appendf(&b, ",\"sha256\":\"%s\"}", sha);
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
        return rc;
    }
    printf("backup written to %s\nsha256 %s\n", dest, sha);
    return HK_EXIT_OK;
}

int hk_cmd_restore(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal restore BACKUP_DIR [--force] [--data KB_DIR] "
        "[--json]\n\n"
        "Verifies the backup's checksum, then installs it as the knowledge\n"
        "base in KB_DIR. KB_DIR must not hold a knowledge base unless --force\n"
        "is given, and no process may have it open.\n";
    cli_ctx c;
    cli_init(&c, "restore", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS, {"force", no_argument, NULL, 'f'}, {0, 0, 0, 0}};
    bool force = false;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "hf", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'f') force = true;
    }
    if (optind >= argc) return cli_usage_error(&c, "missing BACKUP_DIR");
    if (optind + 1 < argc)
        return cli_usage_error(&c, "unexpected argument '%s'",
                               argv[optind + 1]);
    const char *src = argv[optind];
    char sha[65] = "";
    hk_error e;
    hk_error_clear(&e);
    /* A backup that fails its check is answered by cli_fail below with
     * the service's "backup 'X' cannot be restored: why". */
    hk_svc_restore_req req = {src, c.data_dir, force, false};
    hk_err err = hk_svc_restore(&req, sha, &e);
    if (err == HK_ERR_EXISTS && !force) {
        /* the store's message names its own flag, not the option */
        cli_msg(&c,
                "%s already holds a knowledge base; use --force to "
                "replace it (no process may have it open)",
                c.data_dir);
        return HK_EXIT_CONFLICT;
    }
    if (err == HK_ERR_EXISTS || err == HK_ERR_BUSY) {
        cli_msg(&c, "%s", e.message[0] ? e.message : hk_strerror(err));
        return HK_EXIT_CONFLICT;
    }
    if (err != HK_OK) return cli_fail(&c, err, &e);
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{\"restored\":");
        cli_json_str(&b, c.data_dir);
        hk_buf_append_str(&b, ",\"from\":");
        cli_json_str(&b, src);
        hk_buf_appendf(&b, ",\"sha256\":\"%s\"}", sha);
        int rc = cli_emit(&c, &b);
        hk_buf_free(&b);
        return rc;
    }
    printf("restored %s from %s (sha256 %s)\n", c.data_dir, src, sha);
    return HK_EXIT_OK;
}
