/*
 * cmd_stream.c — `hakgal stream status|enable`: the change-stream outbox
 * of a KB (src/stream, docs/STREAM.md). `enable` creates the outbox so
 * that every later write (of any process) records its event; `hakgal
 * serve --stream kafka://BROKERS/TOPIC` enables it too and publishes it.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "service/svc_stream.h"

#include <string.h>

static int stream_status(const cli_ctx *c)
{
    hk_store *s = NULL;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    int rc = cli_open(c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hkst_status st;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (!err) err = hk_svc_stream_status(s, t, &st, &e);
    if (t) hk_txn_abort(t);
    if (err) {
        cli_close(s);
        return cli_fail(c, err, &e);
    }
    if (c->json) {
        hk_buf b = HK_BUF_INIT;
        hkst_status_write_json(&st, &b);
        rc = cli_emit(c, &b);
        hk_buf_free(&b);
    } else if (!st.enabled) {
        printf("stream          not enabled (hakgal stream enable, or "
               "serve --stream)\n");
    } else {
        char oldest[32] = "-", published[32] = "-";
        if (st.oldest_us) hk_time_format(st.oldest_us, oldest);
        if (st.published_us) hk_time_format(st.published_us, published);
        printf("backlog         %llu events\n", (unsigned long long)st.backlog);
        printf("oldest waiting  %llu (%s)\n",
               (unsigned long long)st.oldest_event, oldest);
        printf("last published  %llu (%s)\n",
               (unsigned long long)st.published_event, published);
        printf("next event      %llu\n", (unsigned long long)st.next_event);
    }
    cli_close(s);
    return rc;
}

static int stream_enable(const cli_ctx *c)
{
    hk_store *s = NULL;
    hk_error e;
    hk_error_clear(&e);
    int rc = cli_open(c, false, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hk_err err = hk_svc_stream_enable(s, &e);
    cli_close(s);
    if (err) return cli_fail(c, err, &e);
    if (c->json)
        printf("{\"enabled\":true}\n");
    else
        cli_msg(c, "outbox enabled: every change is recorded for the stream");
    return HK_EXIT_OK;
}

int hk_cmd_stream(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal stream status [--data DIR] [--json]\n"
        "       hakgal stream enable [--data DIR]\n\n"
        "status: the change-stream outbox: events waiting (backlog), the\n"
        "oldest waiting and the last published. --json prints {enabled,\n"
        "backlog, next_event, oldest_event, oldest, published_event,\n"
        "published}.\n"
        "enable: create the outbox; from then on every write of any\n"
        "process records one event, published by\n"
        "'hakgal serve --stream kafka://BROKERS/TOPIC' (docs/STREAM.md).\n";
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "stream", usage);
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind >= argc)
        return cli_usage_error(&c, "missing subcommand (status or enable)");
    const char *sub = argv[optind];
    if (optind + 1 < argc)
        return cli_usage_error(&c, "unexpected argument '%s'",
                               argv[optind + 1]);
    if (strcmp(sub, "status") == 0) return stream_status(&c);
    if (strcmp(sub, "enable") == 0) return stream_enable(&c);
    return cli_usage_error(&c, "unknown subcommand '%s'", sub);
}

/* ==== digest ==== */

int hk_cmd_digest(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal digest [--data DIR] [--json]\n\n"
        "Prints an order-independent digest of the facts (statement and\n"
        "metadata; ids and times left out) and the audit head (newest\n"
        "sequence and hash). Two KBs with equal content digests hold the\n"
        "same facts; equal audit heads mean the same history. --json prints\n"
        "{facts, content, audit: {seq, hash}}.\n";
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx c;
    cli_init(&c, "digest", usage);
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c.exit_code;
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    hk_error e;
    hk_error_clear(&e);
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    hkst_digest d;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (!err) err = hk_svc_digest(s, t, &d, &e);
    if (t) hk_txn_abort(t);
    cli_close(s);
    if (err) return cli_fail(&c, err, &e);
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hkst_digest_write_json(&d, &b);
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
        return rc;
    }
    printf("facts    %llu\n", (unsigned long long)d.facts);
    printf("content  %s\n", d.content);
    printf("rules    %llu %s\n", (unsigned long long)d.rules, d.rules_digest);
    printf("vectors  %llu %s\n", (unsigned long long)d.vectors,
           d.vectors_digest);
    printf("audit    %llu %s\n", (unsigned long long)d.audit_seq,
           d.audit_seq ? d.audit_hash : "-");
    return HK_EXIT_OK;
}
