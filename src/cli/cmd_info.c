/*
 * cmd_info.c — read-only reports: stats, predicates, entities, history,
 * audit (list | verify). Each runs in one read transaction, so a report is
 * one consistent snapshot even while another process writes.
 */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "service/service.h"

#include <stdlib.h>
#include <string.h>

/* Opens the KB read-only and begins a read transaction. */
static int open_read(const cli_ctx *c, hk_store **s, hk_txn **t)
{
    *t = NULL;
    int rc = cli_open(c, true, false, s);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_txn_begin(*s, false, t, &e);
    if (err != HK_OK) {
        hk_store_close(*s);
        *s = NULL;
        return cli_fail(c, err, &e);
    }
    return HK_EXIT_OK;
}

static void close_read(hk_store *s, hk_txn *t)
{
    if (t != NULL) hk_txn_abort(t);
    if (s != NULL) hk_store_close(s);
}

/* Parses only the common options; for commands without their own. */
static int simple_opts(cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1)
        if (o == CLI_STOP) return c->exit_code;
    return -1;
}

/* ==== stats ==== */

/* " (12.3 MiB)" for sizes of 1 KiB and more, "" below. */
static const char *human_bytes(uint64_t n, char out[32])
{
    char t[32];
    if (n < 1024)
        out[0] = '\0';
    else
        snprintf(out, 32, " (%s)", cli_size_text(n, t));
    return out;
}

int hk_cmd_stats(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal stats [--data DIR] [--json]\n\n"
        "Shows counts and sizes of the knowledge base. --json prints one\n"
        "object with facts, predicates, entities, symbols, audit_entries,\n"
        "last_fact_id, bytes_on_disk, bytes_used, bytes_free, map_size,\n"
        "last_change, schema_version and path. bytes_free is the part of\n"
        "the file on LMDB's free list: reused by later writes, given back\n"
        "by 'hakgal compact'.\n";
    cli_ctx c;
    cli_init(&c, "stats", usage);
    int rc = simple_opts(&c, argc, argv);
    if (rc != -1) return rc;
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = open_read(&c, &s, &t)) != HK_EXIT_OK) return rc;
    hk_stats st;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_stats(t, &st, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    char changed[32] = "-";
    if (st.last_change_us != 0) hk_time_format(st.last_change_us, changed);
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{");
        hk_svc_stats_write_members(&st, &b);
        hk_buf_append_str(&b, ",\"path\":");
        cli_json_str(&b, c.data_dir);
        hk_buf_append_str(&b, "}");
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
    } else {
        printf("knowledge base  %s\n", c.data_dir);
        printf("facts           %llu\n", (unsigned long long)st.facts);
        printf("predicates      %llu\n", (unsigned long long)st.predicates);
        printf("entities        %llu\n", (unsigned long long)st.entities);
        printf("symbols         %llu\n", (unsigned long long)st.symbols);
        printf("audit entries   %llu\n", (unsigned long long)st.audit_entries);
        printf("last fact id    %llu\n", (unsigned long long)st.last_fact_id);
        char h[32];
        printf("bytes on disk   %llu%s\n", (unsigned long long)st.bytes_on_disk,
               human_bytes(st.bytes_on_disk, h));
        printf("bytes used      %llu%s\n", (unsigned long long)st.bytes_used,
               human_bytes(st.bytes_used, h));
        printf("bytes free      %llu%s\n", (unsigned long long)st.bytes_free,
               human_bytes(st.bytes_free, h));
        printf("map size        %llu%s\n", (unsigned long long)st.map_size,
               human_bytes(st.map_size, h));
        printf("last change     %s\n", changed);
        printf("schema version  %u\n", st.schema_version);
    }
done:
    close_read(s, t);
    return rc;
}

/* ==== predicates and entities ==== */

/* Lists names page by page until limit (0 = all). */
static int list_names(cli_ctx *c, bool predicates, const char *after,
                      uint64_t limit, uint64_t min_count)
{
    hk_store *s = NULL;
    hk_txn *t = NULL;
    int rc = open_read(c, &s, &t);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_svc_names_req req = {predicates ? HK_SVC_PREDICATES : HK_SVC_ENTITIES,
                            after, 0, min_count};
    char *cursor = NULL; /* the next page's after, owned */
    uint64_t shown = 0;
    hk_buf b = HK_BUF_INIT;
    for (;;) {
        req.limit = 1000;
        if (limit != 0 && limit - shown < req.limit)
            req.limit = (size_t)(limit - shown);
        if (req.limit == 0) break;
        hk_svc_names_res res;
        hk_err err = hk_svc_names(t, &req, &res, &e);
        if (err != HK_OK) {
            rc = cli_fail(c, err, &e);
            break;
        }
        for (size_t i = 0; i < res.n && rc == HK_EXIT_OK; i++) {
            const hk_name_count *v = &res.v[i];
            if (c->json) {
                hk_svc_name_count_write_json(v, predicates, &b);
            } else if (predicates) {
                hk_buf_appendf(&b, "%10llu  %s", (unsigned long long)v->count,
                               v->name);
                if (v->min_arity == v->max_arity)
                    hk_buf_appendf(&b, "  (arity %u)", v->min_arity);
                else
                    hk_buf_appendf(&b, "  (arity %u..%u)", v->min_arity,
                                   v->max_arity);
            } else {
                hk_buf_appendf(&b, "%10llu  %s", (unsigned long long)v->count,
                               v->name);
            }
            rc = cli_emit(c, &b);
            shown++;
        }
        hk_free(cursor);
        cursor = res.next_after != NULL ? hk_strdup(res.next_after) : NULL;
        bool more = res.next_after != NULL;
        hk_svc_names_res_free(&res);
        if (rc != HK_EXIT_OK || !more) break;
        if (cursor == NULL) {
            rc = cli_fail(c, HK_ERR_NOMEM, NULL);
            break;
        }
        req.after = cursor;
    }
    hk_free(cursor);
    hk_buf_free(&b);
    close_read(s, t);
    return rc;
}

int hk_cmd_predicates(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal predicates [--limit N] [--after NAME] [--json]\n\n"
        "Lists predicates in name order with their fact counts and arities.\n"
        "  --limit N     at most N (default: all)\n"
        "  --after NAME  start after NAME (paging)\n";
    cli_ctx c;
    cli_init(&c, "predicates", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"limit", required_argument, NULL, 'l'},
        {"after", required_argument, NULL, 'A'},
        {0, 0, 0, 0}};
    uint64_t limit = 0;
    const char *after = NULL;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'l' &&
            !cli_parse_u64(&c, "--limit", optarg, 0, UINT64_MAX, &limit))
            return HK_EXIT_INVALID;
        if (o == 'A') after = optarg;
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    return list_names(&c, true, after, limit, 0);
}

int hk_cmd_entities(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal entities [--min N] [--limit N] [--after NAME] "
        "[--json]\n\n"
        "Lists entities (argument values) in name order with the number of\n"
        "facts that mention them.\n"
        "  --min N       only entities in at least N facts (default 1)\n"
        "  --limit N     at most N (default: all)\n"
        "  --after NAME  start after NAME (paging)\n";
    cli_ctx c;
    cli_init(&c, "entities", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"min", required_argument, NULL, 'm'},
        {"limit", required_argument, NULL, 'l'},
        {"after", required_argument, NULL, 'A'},
        {0, 0, 0, 0}};
    uint64_t limit = 0, min = 1;
    const char *after = NULL;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'l' &&
            !cli_parse_u64(&c, "--limit", optarg, 0, UINT64_MAX, &limit))
            return HK_EXIT_INVALID;
        if (o == 'm' &&
            !cli_parse_u64(&c, "--min", optarg, 0, UINT64_MAX, &min))
            return HK_EXIT_INVALID;
        if (o == 'A') after = optarg;
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    return list_names(&c, false, after, limit, min);
}

/* ==== history and audit ==== */

static void append_entry(const cli_ctx *c, const hk_audit_entry *a, hk_buf *b)
{
    if (c->json) {
        hk_svc_audit_entry_write_json(a, b);
        return;
    }
    char when[32];
    hk_time_format(a->time_us, when);
    char hash[65];
    hk_hex(a->hash, 32, hash);
    hk_buf_appendf(b, "#%-6llu %s  %-8s %-7s ", (unsigned long long)a->seq,
                   when, a->actor != NULL ? a->actor : "-",
                   a->op != NULL ? a->op : "-");
    if (a->fact_id_last > a->fact_id)
        hk_buf_appendf(
            b, "facts %llu..%llu (%llu)", (unsigned long long)a->fact_id,
            (unsigned long long)a->fact_id_last, (unsigned long long)a->count);
    else
        hk_buf_appendf(b, "fact %llu", (unsigned long long)a->fact_id);
    if (a->before != NULL) hk_buf_appendf(b, "  before=%s", a->before);
    if (a->after != NULL) hk_buf_appendf(b, "  after=%s", a->after);
    hk_buf_appendf(b, "  hash=%.16s", hash);
}

int hk_cmd_history(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal history ID|STATEMENT [--limit N] [--before SEQ] "
        "[--json]\n\n"
        "Shows the audit entries of one fact, newest first: when, who, which\n"
        "operation, and the fact before and after. A deleted fact is found\n"
        "by its id. When older entries remain, says so on stderr with the\n"
        "--before to continue; --json ends with {\"next_before\": SEQ|null,\n"
        "\"count\": N} (null on the last page).\n"
        "  --limit N     at most N entries (default 100)\n"
        "  --before SEQ  entries below audit sequence SEQ (paging)\n";
    cli_ctx c;
    cli_init(&c, "history", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"limit", required_argument, NULL, 'l'},
        {"before", required_argument, NULL, 'b'},
        {0, 0, 0, 0}};
    uint64_t limit = 100, before = 0;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == 'l' &&
            !cli_parse_u64(&c, "--limit", optarg, 1, 1000000, &limit))
            return HK_EXIT_INVALID;
        if (o == 'b' &&
            !cli_parse_u64(&c, "--before", optarg, 1, UINT64_MAX, &before))
            return HK_EXIT_INVALID;
    }
    if (optind >= argc) return cli_usage_error(&c, "missing ID or STATEMENT");
    if (optind + 1 < argc)
        return cli_usage_error(&c,
                               "expected one ID or STATEMENT, got %d "
                               "arguments",
                               argc - optind);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    int rc = open_read(&c, &s, &t);
    if (rc != HK_EXIT_OK) return rc;
    hk_fact_id id = 0;
    hk_error e;
    hk_error_clear(&e);
    if (!cli_is_id(argv[optind], &id) &&
        (rc = cli_resolve_fact(&c, t, argv[optind], &id)) != HK_EXIT_OK) {
        close_read(s, t);
        return rc;
    }
    hk_svc_history op = {
        .id = id, .limit = (size_t)limit, .before_seq = before};
    hk_err err = hk_svc_fact_history(t, &op, &e);
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
    } else if (!op.known) {
        cli_msg(&c, "no history for fact %llu", (unsigned long long)id);
        rc = HK_EXIT_NOT_FOUND;
    } else {
        hk_buf b = HK_BUF_INIT;
        for (size_t i = 0; i < op.n && rc == HK_EXIT_OK; i++) {
            append_entry(&c, &op.v[i], &b);
            rc = cli_emit(&c, &b);
        }
        if (rc == HK_EXIT_OK && c.json) {
            hk_buf_append_str(&b, "{\"next_before\":");
            if (op.next_before)
                hk_buf_appendf(&b, "%llu", (unsigned long long)op.next_before);
            else
                hk_buf_append_str(&b, "null");
            hk_buf_appendf(&b, ",\"count\":%zu}", op.n);
            rc = cli_emit(&c, &b);
        } else if (rc == HK_EXIT_OK && op.next_before) {
            fprintf(stderr, "(%zu shown; more with --before %llu)\n", op.n,
                    (unsigned long long)op.next_before);
        }
        hk_buf_free(&b);
    }
    hk_audit_entries_free(op.v, op.n);
    close_read(s, t);
    return rc;
}

static int audit_list(cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"limit", required_argument, NULL, 'l'},
        {"before", required_argument, NULL, 'b'},
        {0, 0, 0, 0}};
    uint64_t limit = 20, before = 0;
    int o;
    while ((o = cli_next_opt(c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c->exit_code;
        if (o == 'l' &&
            !cli_parse_u64(c, "--limit", optarg, 1, 1000000, &limit))
            return HK_EXIT_INVALID;
        if (o == 'b' &&
            !cli_parse_u64(c, "--before", optarg, 1, UINT64_MAX, &before))
            return HK_EXIT_INVALID;
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    int rc = open_read(c, &s, &t);
    if (rc != HK_EXIT_OK) return rc;
    hk_error e;
    hk_error_clear(&e);
    hk_svc_audit_list_req req = {before, (size_t)limit};
    hk_svc_audit_list_res res;
    hk_err err = hk_svc_audit_list(t, &req, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(c, err, &e);
    } else {
        hk_buf b = HK_BUF_INIT;
        for (size_t i = 0; i < res.n && rc == HK_EXIT_OK; i++) {
            append_entry(c, &res.v[i], &b);
            rc = cli_emit(c, &b);
        }
        hk_buf_free(&b);
    }
    hk_svc_audit_list_res_free(&res);
    close_read(s, t);
    return rc;
}

static int audit_verify(cli_ctx *c, int argc, char **argv)
{
    int rc = simple_opts(c, argc, argv);
    if (rc != -1) return rc;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    hk_store *s = NULL;
    hk_txn *t = NULL;
    if ((rc = open_read(c, &s, &t)) != HK_EXIT_OK) return rc;
    hk_svc_audit_verify_res res;
    hk_error e;
    hk_error_clear(&e);
    hk_err err = hk_svc_audit_verify(t, &res, &e);
    if (err != HK_OK) {
        rc = cli_fail(c, err, &e);
        hk_svc_audit_verify_res_free(&res);
        close_read(s, t);
        return rc;
    }
    const hk_audit_report rep = res.report;
    hk_buf b = HK_BUF_INIT;
    if (c->json) {
        hk_buf_appendf(&b, "{\"ok\":%s,\"checked\":%llu,\"first_bad\":",
                       rep.ok ? "true" : "false",
                       (unsigned long long)rep.checked);
        if (rep.ok)
            hk_buf_append_str(&b, "null,\"reason\":null,\"entry\":null}");
        else {
            hk_buf_appendf(
                &b, "%llu,\"reason\":", (unsigned long long)rep.first_bad);
            cli_json_str(&b, rep.reason);
            hk_buf_append_str(&b, ",\"entry\":");
            if (res.bad != NULL)
                append_entry(c, res.bad, &b);
            else
                hk_buf_append_str(&b, "null");
            hk_buf_append_str(&b, "}");
        }
        rc = cli_emit(c, &b);
    } else if (rep.ok) {
        printf("audit chain ok: %llu entries verified\n",
               (unsigned long long)rep.checked);
    } else {
        printf("audit chain BROKEN at entry %llu: %s\n",
               (unsigned long long)rep.first_bad, rep.reason);
        if (res.bad != NULL) {
            append_entry(c, res.bad, &b);
            printf("first bad entry: %s\n", b.data);
        }
        cli_msg(c,
                "audit verification failed at entry %llu (%llu entries "
                "checked)",
                (unsigned long long)rep.first_bad,
                (unsigned long long)rep.checked);
    }
    hk_buf_free(&b);
    hk_svc_audit_verify_res_free(&res);
    close_read(s, t);
    if (rc == HK_EXIT_OK && !rep.ok) rc = HK_EXIT_AUDIT;
    return rc;
}

int hk_cmd_audit(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal audit list [--limit N] [--before SEQ] [--json]\n"
        "       hakgal audit verify [--json]\n\n"
        "The audit log records every change (time, actor, operation, fact\n"
        "before and after), each entry chained to the previous one by "
        "SHA-256.\n"
        "  list    newest entries first (default 20; --before SEQ pages back)\n"
        "  verify  recomputes the chain; exit code 6 and the first bad entry\n"
        "          when any entry was changed, removed or reordered\n";
    cli_ctx c;
    cli_init(&c, "audit", usage);
    /* The subcommand is the first operand; global options may precede it
     * (main moves them behind the command name). */
    int at = 0;
    for (int i = 1; i < argc && at == 0; i++) {
        if (strcmp(argv[i], "--") == 0)
            at = i + 1 < argc ? i + 1 : -1;
        else if (strcmp(argv[i], "--data") == 0)
            i++;
        else if (argv[i][0] != '-')
            at = i;
    }
    if (at <= 0) {
        int rc = simple_opts(&c, argc, argv); /* --help, or a usage error */
        if (rc != -1) return rc;
        return cli_usage_error(&c, "missing subcommand: list or verify");
    }
    const char *sub = argv[at];
    char **rest = hk_calloc((size_t)argc, sizeof *rest);
    if (rest == NULL) {
        cli_msg(&c, "out of memory");
        return HK_EXIT_IO;
    }
    int n = 0;
    for (int i = 0; i < argc; i++)
        if (i != at) rest[n++] = argv[i];
    int rc;
    if (strcmp(sub, "list") == 0) {
        cli_init(&c, "audit list", usage);
        rc = audit_list(&c, n, rest);
    } else if (strcmp(sub, "verify") == 0) {
        cli_init(&c, "audit verify", usage);
        rc = audit_verify(&c, n, rest);
    } else {
        rc = cli_usage_error(&c,
                             "unknown subcommand '%s': expected list or "
                             "verify",
                             sub);
    }
    hk_free(rest);
    return rc;
}
