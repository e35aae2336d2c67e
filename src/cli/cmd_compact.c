/*
 * cmd_compact.c — `hakgal compact`, and the compaction step that
 * `hakgal import --compact auto|always|never` runs after an import.
 *
 * Both call hk_store_compact with no handle of this process open (the
 * library requires it: every handle holds the KB's process lock). When
 * another process has the KB open the library answers HK_ERR_BUSY at once:
 * `hakgal compact` then fails with exit code 4 (conflict), while an import
 * prints a one-line note and still succeeds, because its facts are
 * committed and the KB is only larger than it needs to be.
 *
 * The auto policy is the service's (hk_svc_compact_policy, after the
 * library's hk_store_compact_advised), from the statistics the import took
 * before it closed its handle.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "service/service.h"

#include <string.h>
#include <unistd.h>

int hk_cmd_compact(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal compact [--data DIR] [--json]\n\n"
        "Rewrites the knowledge base densely and gives its free space back\n"
        "to the file system. LMDB never shrinks its file: after large imports\n"
        "in several transactions, data.mdb is often twice the live data.\n"
        "The dense copy is written next to data.mdb, synced and checked\n"
        "(fact count, audit head, entry counts), then renamed over it; a\n"
        "crash leaves either the old or the new complete file.\n\n"
        "No other process may have the knowledge base open (server, MCP\n"
        "session, another command): compact then fails at once with exit\n"
        "code 4. Commands started during compaction wait for it to finish.\n"
        "A running 'hakgal serve' compacts online (POST /v2/admin/compact,\n"
        "admin role): it is named in the refusal (DIR/hakgal.server).\n"
        "'hakgal import' compacts by itself when an import leaves at least\n"
        "25% of the file (and 64 MiB) free; see 'hakgal import --help'.\n\n"
        "Exit code: 0 compacted, 3 no knowledge base, 4 open in another\n"
        "process, 5 I/O or store error (the knowledge base is unchanged).\n";
    cli_ctx c;
    cli_init(&c, "compact", usage);
    int stop = cli_parse_common_only(&c, argc, argv);
    if (stop >= 0) return stop;
    hk_compact_report r;
    hk_error e;
    hk_error_clear(&e);
    if (!c.json && isatty(STDERR_FILENO)) /* seconds on large KBs */
        cli_msg(&c, "compacting %s ...", c.data_dir);
    hk_err err = hk_svc_compact(c.data_dir, &r, &e);
    if (err == HK_ERR_NOT_FOUND) {
        cli_msg(&c, "no knowledge base at '%s' (set --data or HAKGAL_DATA)",
                c.data_dir);
        return HK_EXIT_NOT_FOUND;
    }
    long pid = 0;
    char url[1024];
    if (err == HK_ERR_BUSY &&
        hk_svc_server_note_read(c.data_dir, &pid, url, sizeof url))
        /* The server can do it online; this command does not ask it (that
         * needs its admin token), it says how. */
        hk_error_set(&e, HK_ERR_BUSY,
                     "the knowledge base in %s is served by `hakgal serve` "
                     "(pid %ld, %s): compact it online with POST "
                     "%s/v2/admin/compact (admin token), or stop the "
                     "server first",
                     c.data_dir, pid, url, url);
    if (err != HK_OK) return cli_fail(&c, err, &e);
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{\"compacted\":");
        cli_json_str(&b, c.data_dir);
        hk_buf_append_str(&b, ",");
        hk_svc_compact_report_write_members(&r, &b);
        hk_buf_append_str(&b, "}");
        int rc = cli_emit(&c, &b);
        hk_buf_free(&b);
        return rc;
    }
    char before[32], after[32], freeb[32];
    printf("compacted %s: %s -> %s (%s were free), %llu facts, %.2f s\n",
           c.data_dir, cli_size_text(r.bytes_before, before),
           cli_size_text(r.bytes_after, after),
           cli_size_text(r.bytes_free_before, freeb),
           (unsigned long long)r.facts, r.seconds);
    return HK_EXIT_OK;
}

bool cli_compact_mode_parse(const char *s, cli_compact_mode *out)
{
    if (strcmp(s, "auto") == 0)
        *out = CLI_COMPACT_AUTO;
    else if (strcmp(s, "always") == 0)
        *out = CLI_COMPACT_ALWAYS;
    else if (strcmp(s, "never") == 0)
        *out = CLI_COMPACT_NEVER;
    else
        return false;
    return true;
}

int cli_compact_after_import(const cli_ctx *c, cli_compact_mode mode,
                             const hk_stats *st, bool announce)
{
    static const char *const names[] = {"auto", "always", "never"};
    const char *why = NULL; /* why it was skipped; NULL = it ran */
    char reason[sizeof(((hk_error *)0)->message) + 64];
    char a[32], b[32], f[32];
    hk_compact_report r;
    memset(&r, 0, sizeof r);
    hk_error e;
    hk_error_clear(&e);
    hk_err err = HK_OK;
    static const hk_svc_compact_mode svc_mode[] = {
        HK_SVC_COMPACT_AUTO, HK_SVC_COMPACT_ALWAYS, HK_SVC_COMPACT_NEVER};
    hk_svc_compact_skip skip = hk_svc_compact_policy(svc_mode[mode], st);
    if (skip == HK_SVC_COMPACT_SKIP_NEVER) {
        if (st)
            snprintf(reason, sizeof reason, "--compact never (%s of %s free)",
                     cli_size_text(st->bytes_free, f),
                     cli_size_text(st->bytes_on_disk, a));
        else
            snprintf(reason, sizeof reason, "--compact never");
        why = reason;
    } else if (skip == HK_SVC_COMPACT_SKIP_NO_STATS) {
        why = "the statistics of the knowledge base could not be read";
    } else if (skip == HK_SVC_COMPACT_SKIP_SMALL) {
        snprintf(reason, sizeof reason,
                 "%s of %s free (auto compacts from 25%% of the file and "
                 "64 MiB)",
                 cli_size_text(st->bytes_free, f),
                 cli_size_text(st->bytes_on_disk, a));
        why = reason;
    } else {
        if (announce) /* a few seconds per 10M facts without output */
            cli_msg(c, "compacting the knowledge base (%s of %s free) ...",
                    cli_size_text(st ? st->bytes_free : 0, f),
                    cli_size_text(st ? st->bytes_on_disk : 0, a));
        err = hk_svc_compact(c->data_dir, &r, &e);
        if (err == HK_ERR_BUSY) {
            snprintf(reason, sizeof reason,
                     "the knowledge base is open in another process; run "
                     "`hakgal compact` when it is closed");
            why = reason;
        } else if (err != HK_OK && mode == CLI_COMPACT_AUTO) {
            /* Compaction was only advised: the import succeeded and the
             * KB is unchanged, so a failure (a disk without room for the
             * copy) is reported, not fatal. */
            snprintf(reason, sizeof reason,
                     "compacting failed (the "
                     "knowledge base is unchanged): %s",
                     e.message[0] ? e.message : hk_strerror(err));
            cli_msg(c, "the import is complete, but %s", reason);
            why = reason;
        } else if (err != HK_OK) {
            cli_msg(c,
                    "the import is complete, but compacting failed (the "
                    "knowledge base is unchanged): %s",
                    e.message[0] ? e.message : hk_strerror(err));
            return hk_exit_code(err);
        }
    }
    if (c->json) {
        hk_buf j = HK_BUF_INIT;
        hk_buf_appendf(&j, "{\"compaction\":{\"mode\":\"%s\",\"ran\":%s,",
                       names[mode], why ? "false" : "true");
        if (why) {
            hk_buf_append_str(&j, "\"reason\":");
            cli_json_str(&j, why);
            if (st)
                hk_buf_appendf(&j,
                               ",\"bytes_on_disk\":%llu,\"bytes_free\":%llu",
                               (unsigned long long)st->bytes_on_disk,
                               (unsigned long long)st->bytes_free);
        } else {
            hk_svc_compact_report_write_members(&r, &j);
        }
        hk_buf_append_str(&j, "}}");
        int rc = cli_emit(c, &j);
        hk_buf_free(&j);
        return rc;
    }
    if (why)
        printf("not compacted: %s\n", why);
    else
        printf("compacted: %s -> %s in %.2f s (%s were free)\n",
               cli_size_text(r.bytes_before, a),
               cli_size_text(r.bytes_after, b), r.seconds,
               cli_size_text(r.bytes_free_before, f));
    return HK_EXIT_OK;
}
