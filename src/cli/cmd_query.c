/*
 * cmd_query.c — `hakgal query`: pattern queries and scans by predicate /
 * entity / position, streamed from one read transaction with limit and
 * cursor paging.
 *
 * Text output: one "id<TAB>statement" line per fact; when the limit cut
 * the result, a hint with the cursor for the next page goes to stderr so
 * that stdout stays pure results. --json output: one fact object per line
 * (with "bindings" for pattern variables), then {"cursor": C|null,
 * "count": N}.
 */
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "service/svc_graph_query.h"
#include "service/service.h"

#include <stdlib.h>
#include <string.h>

/* What the row function needs to print one row. */
typedef struct query_out {
    const cli_ctx *c;   /* output mode */
    bool with_bindings; /* pattern query: --json rows carry "bindings" */
    hk_buf line;        /* the row being printed */
    hk_buf st;          /* statement text, reused */
    int exit_code;      /* HK_EXIT_OK until printing fails */
} query_out;

/* Prints one row: its id, "id<TAB>statement", or (--json) the fact object
 * with the pattern's bindings spliced in before its closing brace. */
static hk_err query_row(void *ud, const hk_svc_row *row, hk_error *err)
{
    query_out *qo = ud;
    hk_buf *out = &qo->line;
    if (row->fact == NULL) {
        hk_buf_appendf(out, "%llu", (unsigned long long)row->id);
    } else if (qo->c->json) {
        hk_fact_write_json(row->fact, out);
        if (qo->with_bindings) {
            if (out->len > 0 && out->data[out->len - 1] == '}') out->len--;
            hk_buf_append_str(out, ",\"bindings\":{");
            bool first = true;
            for (size_t i = 0; i < row->n_vars; i++) {
                cli_json_key(out, &first, row->vars[i]);
                cli_json_str(out, row->values[i]);
            }
            hk_buf_append_str(out, "}}");
        }
    } else {
        cli_format_statement(&row->fact->st, &qo->st);
        hk_buf_appendf(out, "%llu\t%s", (unsigned long long)row->fact->id,
                       qo->st.data);
    }
    qo->exit_code = cli_emit(qo->c, out);
    if (qo->exit_code != HK_EXIT_OK)
        return hk_error_set(err, HK_ERR_IO, "cannot write the results");
    return HK_OK;
}

int hk_cmd_query(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal query [PATTERN] [options]\n\n"
        "Finds facts. PATTERN is a statement whose slots may be constants,\n"
        "variables ?name (the same name must bind equal values) or _ (any):\n"
        "  hakgal query 'HasPart(?x, CPU)'\n"
        "  hakgal query '_(Computer, ?y)'\n"
        "  hakgal query '?p(Water, ?o)' --json\n"
        "Without PATTERN, scans by predicate and/or entity:\n"
        "  hakgal query --predicate IsA\n"
        "  hakgal query --entity Water --position 0\n"
        "Several patterns joined with ',' (shared ?variables), comparisons,\n"
        "negation, projection, order and limit:\n"
        "  hakgal query 'HasPart(?c, ?p), MadeBy(?p, ?m), FoundedIn(?m, ?y),\n"
        "                ?y < 1970'\n"
        "  hakgal query 'select ?m distinct where MadeBy(?p, ?m),\n"
        "                not Defunct(?m) order by ?m limit 10'\n\n"
        "Options:\n"
        "  --predicate P  only facts of predicate P\n"
        "  --entity E     only facts mentioning E\n"
        "  --position N   with --entity: only where E is argument N (0-based)\n"
        "  --arity N      only facts with N arguments\n"
        "  --newest       newest facts first (scans without --entity)\n"
        "  --limit N      at most N facts (default 100; 0 = no limit)\n"
        "  --cursor C     continue after the page that printed cursor C\n"
        "  --ids          print only fact ids\n"
        "  --explain      run the page and print the plan of a multi-pattern\n"
        "                 query with estimated and actual rows per step\n"
        "  --asserted-only  ignore facts derived by rules (`hakgal rule`);\n"
        "                 without it a query whose patterns can match derived\n"
        "                 facts answers over both, one row per binding with\n"
        "                 \"derived\": true/false (no --cursor, order by or\n"
        "                 distinct there)\n"
        "  --data DIR     knowledge base directory\n"
        "  --json         one JSON object per fact, then {\"cursor\":...}\n";
    cli_ctx c;
    cli_init(&c, "query", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"predicate", required_argument, NULL, 'p'},
        {"entity", required_argument, NULL, 'e'},
        {"position", required_argument, NULL, 'n'},
        {"arity", required_argument, NULL, 'r'},
        {"newest", no_argument, NULL, 'N'},
        {"limit", required_argument, NULL, 'l'},
        {"cursor", required_argument, NULL, 'C'},
        {"ids", no_argument, NULL, 'i'},
        {"explain", no_argument, NULL, 'X'},
        {"asserted-only", no_argument, NULL, 'A'},
        {0, 0, 0, 0}};
    hk_scan scan = HK_SCAN_INIT;
    uint64_t limit = 100, v = 0;
    const char *cursor = NULL;
    bool ids_only = false, scan_given = false, explain = false;
    bool asserted_only = false;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        switch (o) {
        case CLI_STOP:
            return c.exit_code;
        case 'p':
            scan.predicate = optarg;
            scan_given = true;
            break;
        case 'e':
            scan.entity = optarg;
            scan_given = true;
            break;
        case 'n':
            if (!cli_parse_u64(&c, "--position", optarg, 0, HK_MAX_ARGS - 1,
                               &v))
                return HK_EXIT_INVALID;
            scan.position = (int)v;
            break;
        case 'r':
            if (!cli_parse_u64(&c, "--arity", optarg, 1, HK_MAX_ARGS, &v))
                return HK_EXIT_INVALID;
            scan.arity = (uint32_t)v;
            scan_given = true;
            break;
        case 'N':
            scan.newest_first = true;
            break;
        case 'l':
            if (!cli_parse_u64(&c, "--limit", optarg, 0, UINT64_MAX, &limit))
                return HK_EXIT_INVALID;
            break;
        case 'C':
            cursor = optarg;
            break;
        case 'X':
            explain = true;
            break;
        case 'i':
            ids_only = true;
            break;
        case 'A':
            asserted_only = true;
            break;
        default:
            break;
        }
    }
    const char *pattern_text = NULL;
    if (optind < argc) pattern_text = argv[optind++];
    if (optind < argc)
        return cli_usage_error(&c,
                               "unexpected argument '%s' (quote a pattern "
                               "that has spaces)",
                               argv[optind]);
    if (pattern_text != NULL && !asserted_only && !explain && !ids_only &&
        !scan_given && scan.position < 0 && cursor == NULL) {
        /* derived facts answer too, unless --asserted-only */
        bool handled = false;
        int rc = hk_cli_rules_query(&c, pattern_text, limit, &handled);
        if (handled || rc) return rc;
    }
    if (pattern_text != NULL &&
        (explain || hkq_is_multi(pattern_text, strlen(pattern_text)))) {
        if (scan_given || scan.position >= 0 || ids_only)
            return cli_usage_error(&c, "a multi-pattern query takes no "
                                       "--predicate/--entity/--arity/--ids");
        return hk_cli_graph_query(&c, pattern_text, cursor,
                                  limit ? limit : HK_SVC_GQ_MAX_LIMIT, explain);
    }
    if (explain) return cli_usage_error(&c, "--explain needs a query");
    if (cursor != NULL && strlen(cursor) > HK_MAX_CURSOR_BYTES) {
        cli_msg(&c,
                "--cursor: longer than %d bytes; pass the cursor "
                "a previous query printed",
                HK_MAX_CURSOR_BYTES);
        return HK_EXIT_INVALID;
    }
    if (pattern_text != NULL && (scan_given || scan.position >= 0))
        return cli_usage_error(&c, "give either a PATTERN or --predicate/"
                                   "--entity/--arity, not both");
    if (scan.position >= 0 && scan.entity == NULL)
        return cli_usage_error(&c, "--position needs --entity");
    if (pattern_text == NULL && !scan_given && !scan.newest_first)
        return cli_usage_error(&c, "missing PATTERN (or --predicate, "
                                   "--entity, --arity, --newest)");

    hk_pattern pat;
    bool have_pat = false;
    hk_error e;
    hk_error_clear(&e);
    if (pattern_text != NULL) {
        if (hk_pattern_parse(pattern_text, strlen(pattern_text), &pat, &e) !=
            HK_OK)
            return cli_fail_text(&c, "pattern", pattern_text, &e);
        have_pat = true;
    }
    hk_store *s = NULL;
    hk_txn *t = NULL;
    query_out qo;
    memset(&qo, 0, sizeof(qo));
    qo.c = &c;
    qo.with_bindings = have_pat;
    qo.exit_code = HK_EXIT_OK;
    hk_svc_query_req req;
    memset(&req, 0, sizeof(req));
    req.pattern = have_pat ? &pat : NULL;
    req.scan = scan;
    req.cursor = cursor;
    req.limit = (size_t)limit;
    req.ids_only = ids_only && !c.json;
    req.row = query_row;
    req.row_ud = &qo;
    hk_svc_query_res res;
    memset(&res, 0, sizeof(res));
    hk_buf out = HK_BUF_INIT;
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) goto done;
    hk_err err = hk_txn_begin(s, false, &t, &e);
    if (err == HK_OK) err = hk_svc_query(t, &req, &res, &e);
    if (qo.exit_code != HK_EXIT_OK) { /* stdout failed */
        rc = qo.exit_code;
        goto done;
    }
    if (err != HK_OK) {
        rc = cli_fail(&c, err, &e);
        goto done;
    }
    const hk_buf *next = &res.next_cursor;
    if (c.json) {
        hk_buf_append_str(&out, "{\"cursor\":");
        cli_json_str(&out, next->len > 0 ? next->data : NULL);
        hk_buf_appendf(&out, ",\"count\":%llu}", (unsigned long long)res.count);
        rc = cli_emit(&c, &out);
    } else if (next->len > 0) {
        fprintf(stderr, "(%llu shown; more with --cursor %s)\n",
                (unsigned long long)res.count, next->data);
    } else if (res.count == 0) {
        fprintf(stderr, "(no matching facts)\n");
    }
done:
    if (t != NULL) hk_txn_abort(t);
    hk_svc_query_res_free(&res);
    hk_buf_free(&out);
    hk_buf_free(&qo.line);
    hk_buf_free(&qo.st);
    if (have_pat) hk_pattern_release(&pat);
    if (s != NULL) hk_store_close(s);
    return rc;
}
