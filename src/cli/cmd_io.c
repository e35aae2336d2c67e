/*
 * cmd_io.c — `hakgal import` and `hakgal export`.
 *
 * import: each FILE goes through hk_svc_import (streaming, batched,
 * rejects to a file); a progress bar is drawn on stderr when stderr is a
 * terminal, and one summary line per file goes to stdout. Rejects go to
 * --rejects PATH (truncated when the command starts, shared by all files)
 * or else to "<file name>.rejects" in the current directory, created only
 * when a file has rejects. Exit code: 0 when every file was read, even
 * with rejects; 2 when every record of some file was rejected; 3 when a
 * file does not exist; 5 on store or I/O errors. Input-file problems do
 * not stop the remaining files; a store error stops the command.
 * After a successful import the handle is closed and, by --compact
 * (auto by default: when the free list is >= 25% of the file and >= 64
 * MiB), the KB is compacted (cmd_compact.c); a KB open in another process
 * only skips that step, with a note.
 *
 * export: hk_svc_export to stdout or, with --output, to a temporary file
 * that the service syncs and renames into place only when complete.
 */
#include "cli/cli.h"
#include "core/mem.h"
#include "core/buf.h"
#include "service/service.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ==== Progress bar ==== */

typedef struct progress_state {
    const char *name; /* file shown in the bar */
    double start;     /* monotonic seconds at the start */
    double last_draw; /* when the bar was last drawn */
    bool drawn;       /* something is on the line that must be cleared */
} progress_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw_progress(void *ud, uint64_t done, uint64_t total,
                          uint64_t records)
{
    progress_state *p = ud;
    double t = now_s();
    if (p->drawn && t - p->last_draw < 0.2 && (total == 0 || done < total))
        return;
    p->last_draw = t;
    p->drawn = true;
    double rate = t > p->start ? (double)records / (t - p->start) : 0.0;
    if (total > 0) {
        int width = 30;
        double frac = done >= total ? 1.0 : (double)done / (double)total;
        int fill = (int)(frac * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %3d%%  %llu records  %.0f/s", p->name,
                bar, (int)(frac * 100.0), (unsigned long long)records, rate);
    } else {
        fprintf(stderr, "\r\033[K%s  %llu records  %.0f/s", p->name,
                (unsigned long long)records, rate);
    }
    fflush(stderr);
}

static void clear_progress(progress_state *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

/* ==== import ==== */

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b != NULL && b[1] != '\0' ? b + 1 : path;
}

int hk_cmd_import(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal import FILE... [options]\n\n"
        "Imports facts from files ('-' = standard input). Formats:\n"
        "  statements  one statement per line; blank lines and lines starting\n"
        "              with # are skipped; a trailing '.' is allowed\n"
        "  jsonl       one JSON object per line: {\"statement\": \"P(a, b)\",\n"
        "              \"confidence\": 0.9, \"source\": \"...\", \"tags\": "
        "[...],\n"
        "              \"context\": {...}} or {\"predicate\": \"P\", "
        "\"args\":\n"
        "              [\"a\", \"b\"], ...}\n"
        "  tsv         predicate<TAB>arg<TAB>arg... (arguments taken raw)\n"
        "  sqlite      a legacy HAK-GAL SQLite KB (table facts, column\n"
        "              statement; confidence, context, fact_metadata when "
        "present)\n"
        "The format is detected from the file (SQLite header, .jsonl/.ndjson/\n"
        ".tsv extension, first line) unless --format is given.\n\n"
        "Facts already in the KB are counted as 'already present' and left\n"
        "unchanged, so re-running an import adds nothing. Each invalid record\n"
        "is skipped and written to the rejects file as\n"
        "  <file>:<line>: <reason><TAB><record>\n\n"
        "Options:\n"
        "  --format F     auto (default), statements, jsonl, tsv, sqlite,\n"
        "                 mcp-memory (memory file of the MCP memory server),\n"
        "                 ntriples (RDF; mapping in docs/INTERCHANGE.md)\n"
        "  --base IRI     ntriples: IRI base whose names become bare names\n"
        "                 (default " HK_IRI_BASE_DEFAULT ")\n"
        "  --rejects PATH write rejects here (default: <file name>.rejects in\n"
        "                 the current directory, only when there are rejects)\n"
        "  --batch N      facts per transaction (default 1000000)\n"
        "  --actor NAME   audit actor (default import)\n"
        "  --quiet        no progress bar\n"
        "  --compact WHEN auto (default), always or never: compact the KB\n"
        "                 after a successful import (see 'hakgal compact');\n"
        "                 auto does when the import left at least 25% of\n"
        "                 the file and 64 MiB free. Skipped with a note\n"
        "                 when another process has the KB open (and, for\n"
        "                 auto, when it fails, e.g. no room for the copy).\n"
        "  --data DIR     knowledge base directory\n"
        "  --json         one JSON summary object per file, then one\n"
        "                 {\"compaction\": {...}} object\n\n"
        "Exit code: 0 when every file was read (even with rejects), 2 when\n"
        "every record of a file was rejected, 3 when a file is missing, 5 on\n"
        "store or I/O errors.\n";
    cli_ctx c;
    cli_init(&c, "import", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"rejects", required_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"actor", required_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"compact", required_argument, NULL, 'c'},
        {"base", required_argument, NULL, 'B'},
        {0, 0, 0, 0}};
    cli_compact_mode compact = CLI_COMPACT_AUTO;
    hk_import_options io;
    memset(&io, 0, sizeof io);
    io.actor = "import";
    const char *rejects = NULL;
    bool quiet = false;
    hk_error e;
    hk_error_clear(&e);
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        switch (o) {
        case CLI_STOP:
            return c.exit_code;
        case 'f':
            if (hk_format_parse(optarg, &io.format, &e) != HK_OK) {
                cli_msg(&c, "--format: %s", e.message);
                return HK_EXIT_INVALID; /* a bad option value, like --batch */
            }
            break;
        case 'r':
            rejects = optarg;
            break;
        case 'b':
            if (!cli_parse_u64(&c, "--batch", optarg, 1, 100000000,
                               &io.batch_size))
                return HK_EXIT_INVALID;
            break;
        case 'a':
            if (!cli_check_actor(&c, optarg)) return HK_EXIT_INVALID;
            io.actor = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'B':
            io.iri_base = optarg;
            break;
        case 'c':
            if (!cli_compact_mode_parse(optarg, &compact)) {
                cli_msg(&c, "--compact: '%s' is not auto, always or never",
                        optarg);
                return HK_EXIT_INVALID; /* a bad option value */
            }
            break;
        default:
            break;
        }
    }
    if (optind >= argc) return cli_usage_error(&c, "missing FILE");
    if (rejects != NULL) {
        if (strcmp(rejects, "-") == 0)
            rejects = "/dev/stderr";
        else {
            FILE *f = fopen(rejects, "w");
            if (f == NULL) {
                cli_msg(&c, "cannot create rejects file '%s': %s", rejects,
                        strerror(errno));
                return HK_EXIT_IO;
            }
            fclose(f);
        }
    }
    hk_store *s = NULL;
    int rc = cli_open(&c, false, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    progress_state ps;
    bool tty = !quiet && isatty(STDERR_FILENO);
    hk_import_summary total; /* over all files, for the closing line */
    memset(&total, 0, sizeof total);
    int n_files = 0;
    double all_start = now_s();
    hk_buf line = HK_BUF_INIT;
    char *default_rejects = NULL;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        const char *name = strcmp(path, "-") == 0 ? "stdin" : base_name(path);
        hk_free(default_rejects);
        default_rejects = NULL;
        if (rejects != NULL) {
            io.rejects_path = rejects;
        } else {
            size_t n = strlen(name) + sizeof ".rejects";
            default_rejects = hk_malloc(n);
            if (default_rejects == NULL) {
                cli_msg(&c, "out of memory");
                rc = HK_EXIT_IO;
                break;
            }
            snprintf(default_rejects, n, "%s.rejects", name);
            /* Stale rejects of an earlier run go; but two files of this
             * run with the same base name (d1/x.hkl d2/x.hkl) share the
             * file, and the second must append to the first's rejects. */
            bool seen = false;
            for (int k = optind; k < i && !seen; k++)
                seen = strcmp(strcmp(argv[k], "-") == 0 ? "stdin"
                                                        : base_name(argv[k]),
                              name) == 0;
            if (!seen) unlink(default_rejects);
            io.rejects_path = default_rejects;
        }
        memset(&ps, 0, sizeof ps);
        ps.name = name;
        ps.start = now_s();
        io.progress = tty ? draw_progress : NULL;
        io.progress_ud = &ps;
        hk_import_summary sum;
        hk_error_clear(&e);
        hk_err err = hk_svc_import(s, path, &io, &sum, &e);
        clear_progress(&ps);
        double secs = now_s() - ps.start;
        if (err != HK_OK) {
            if (hk_svc_import_error_is_input(err)) {
                /* A problem of this input file: report, go on. */
                cli_msg(&c, "%s: %s", path,
                        e.message[0] ? e.message : hk_strerror(err));
                if (rc == HK_EXIT_OK) rc = hk_exit_code(err);
                if (sum.read == 0) continue;
            } else {
                cli_msg(&c,
                        "%s: import stopped after %llu records: %s (the "
                        "facts of committed batches stay; re-run the "
                        "import to complete it)",
                        path, (unsigned long long)sum.read,
                        e.message[0] ? e.message : hk_strerror(err));
                rc = hk_exit_code(err);
                break;
            }
        }
        n_files++;
        total.read += sum.read;
        total.added += sum.added;
        total.present += sum.present;
        total.rejected += sum.rejected;
        const char *rej = sum.rejected > 0 ? io.rejects_path : NULL;
        if (rej != NULL && strcmp(rej, "/dev/stderr") == 0) rej = "stderr";
        hk_buf_reset(&line);
        if (c.json) {
            hk_buf_append_str(&line, "{\"file\":");
            cli_json_str(&line, path);
            hk_buf_appendf(
                &line,
                ",\"format\":\"%s\",\"read\":%llu,\"added\":%llu,"
                "\"present\":%llu,\"rejected\":%llu,"
                "\"seconds\":%.3f,\"rejects\":",
                hk_format_name(sum.format), (unsigned long long)sum.read,
                (unsigned long long)sum.added, (unsigned long long)sum.present,
                (unsigned long long)sum.rejected, secs);
            cli_json_str(&line, rej);
            hk_buf_append_str(&line, "}");
        } else {
            hk_buf_appendf(&line,
                           "%s: read %llu, added %llu, already present %llu, "
                           "rejected %llu (%s, %.2f s",
                           path, (unsigned long long)sum.read,
                           (unsigned long long)sum.added,
                           (unsigned long long)sum.present,
                           (unsigned long long)sum.rejected,
                           hk_format_name(sum.format), secs);
            if (secs > 0 && sum.read > 0)
                hk_buf_appendf(&line, ", %.0f records/s",
                               (double)sum.read / secs);
            hk_buf_append_str(&line, ")");
            if (rej != NULL) hk_buf_appendf(&line, "; rejects in %s", rej);
        }
        int erc = cli_emit(&c, &line);
        if (erc != HK_EXIT_OK) {
            rc = erc;
            break;
        }
        if (err == HK_OK && sum.read > 0 && sum.rejected == sum.read &&
            rc == HK_EXIT_OK) {
            cli_msg(&c,
                    "%s: every record was rejected (is this the right "
                    "file and --format?)",
                    path);
            rc = HK_EXIT_INVALID;
        }
    }
    if (n_files > 1 && !c.json) {
        double secs = now_s() - all_start;
        printf("total: %d files, read %llu, added %llu, already present %llu, "
               "rejected %llu (%.2f s)\n",
               n_files, (unsigned long long)total.read,
               (unsigned long long)total.added,
               (unsigned long long)total.present,
               (unsigned long long)total.rejected, secs);
    }
    hk_free(default_rejects);
    hk_buf_free(&line);
    /* Compaction needs every handle closed; take the statistics (the
     * auto policy, the note when it does not run) first. */
    hk_stats st;
    bool have_stats = false;
    if (rc == HK_EXIT_OK) {
        hk_txn *t = NULL;
        memset(&st, 0, sizeof st);
        if (hk_txn_begin(s, false, &t, &e) == HK_OK) {
            have_stats = hk_svc_stats(t, &st, &e) == HK_OK;
            hk_txn_abort(t);
        }
    }
    cli_close(s);
    if (rc == HK_EXIT_OK)
        rc =
            cli_compact_after_import(&c, compact, have_stats ? &st : NULL, tty);
    return rc;
}

/* ==== export ==== */

int hk_cmd_export(int argc, char **argv)
{
    /* --format instruct: fine-tuning data (cmd_llm.c) */
    for (int i = 1; i < argc; i++)
        if ((!strcmp(argv[i], "--format") && i + 1 < argc &&
             !strcmp(argv[i + 1], "instruct")) ||
            !strcmp(argv[i], "--format=instruct"))
            return hk_cli_export_instruct(argc, argv);
    static const char usage[] =
        "Usage: hakgal export [--format FORMAT] [--where QUERY]\n"
        "                     [--around ENTITY [--depth N]] [--base IRI]\n"
        "                     [--output FILE|DIR]\n\n"
        "Writes every fact in id (insertion) order from one consistent\n"
        "snapshot, to standard output or FILE (written completely, then\n"
        "renamed into place).\n"
        "  statements  canonical statements, one per line (default)\n"
        "  jsonl       one JSON object per fact with id, statement, "
        "predicate,\n"
        "              args, confidence, source, tags, context, created, "
        "updated;\n"
        "              'hakgal import' reads it back with its metadata\n"
        "  tsv         predicate<TAB>arg<TAB>...\n"
        "  ntriples    RDF N-Triples: P(a, b) as one triple, other arities\n"
        "              as a blank node with hk:predicate and hk:argN; IRIs\n"
        "              are --base (default " HK_IRI_BASE_DEFAULT ") plus\n"
        "              the name; 'hakgal import' reads it back\n"
        "  turtle      the same triples as RDF Turtle with prefixes\n"
        "  graphml     GraphML for Gephi, yEd, networkx\n"
        "  jsongraph   {\"nodes\":[...],\"edges\":[...]} for d3, Cytoscape\n"
        "              (entities are nodes e:NAME, binary facts edges, other\n"
        "              arities fact nodes f:ID with an edge per argument)\n"
        "  cypher      a Cypher script (UNWIND + MERGE) for cypher-shell\n"
        "  neo4j       a new directory --output DIR of CSV files for\n"
        "              neo4j-admin database import (see DIR/import.sh)\n"
        "  mcp-memory  the memory file of the MCP memory server\n"
        "  instruct    chat-format JSONL for fine-tuning, train/validation\n"
        "              split (hakgal export --format instruct --help)\n"
        "Selection (both given: facts in both):\n"
        "  --where QUERY   facts matched by a pattern or multi-pattern query\n"
        "                  ('HasPart(?c, ?p), MadeBy(?p, ?m)')\n"
        "  --around ENTITY the facts within --depth hops (default 1)\n";
    cli_ctx c;
    cli_init(&c, "export", usage);
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"base", required_argument, NULL, 'B'},
        {"where", required_argument, NULL, 'W'},
        {"around", required_argument, NULL, 'A'},
        {"depth", required_argument, NULL, 'D'},
        {0, 0, 0, 0}};
    hk_format format = HK_FORMAT_STATEMENTS;
    const char *output = NULL;
    const char *iri_base = NULL;
    const char *where = NULL, *around = NULL;
    unsigned depth = 0;
    hk_error e;
    hk_error_clear(&e);
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "ho:", opts)) != -1) {
        switch (o) {
        case CLI_STOP:
            return c.exit_code;
        case 'f':
            if (hk_format_parse(optarg, &format, &e) != HK_OK ||
                format == HK_FORMAT_AUTO || format == HK_FORMAT_SQLITE) {
                cli_msg(&c,
                        "--format: unknown format '%s': export writes "
                        "statements, jsonl, tsv, mcp-memory, ntriples, "
                        "turtle, graphml, jsongraph, cypher or neo4j",
                        optarg);
                return HK_EXIT_INVALID;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'B':
            iri_base = optarg;
            break;
        case 'W':
            where = optarg;
            break;
        case 'A':
            around = optarg;
            break;
        case 'D': {
            char *end = NULL;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 ||
                v > HK_GRAPH_MAX_DEPTH)
                return cli_usage_error(&c,
                                       "--depth: '%s' is not a number of hops "
                                       "from 1 to %u",
                                       optarg, HK_GRAPH_MAX_DEPTH);
            depth = (unsigned)v;
            break;
        }
        default:
            break;
        }
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (depth && around == NULL)
        return cli_usage_error(&c, "--depth needs --around ENTITY");
    bool to_dir = format == HK_FORMAT_NEO4J;
    if (to_dir && (output == NULL || strcmp(output, "-") == 0))
        return cli_usage_error(&c, "--format neo4j writes a directory of CSV "
                                   "files: give --output DIR");
    hk_store *s = NULL;
    int rc = cli_open(&c, true, false, &s);
    if (rc != HK_EXIT_OK) return rc;
    bool to_stdout = output == NULL || strcmp(output, "-") == 0;
    hk_svc_export_req req = {format,
                             to_stdout ? stdout : NULL,
                             to_stdout ? NULL : output,
                             iri_base,
                             where,
                             around,
                             depth};
    hk_svc_export_res res;
    hk_err err = hk_svc_export(s, &req, &res, &e);
    cli_close(s);
    if (err != HK_OK) return cli_fail(&c, err, &e);
    if (to_stdout) return HK_EXIT_OK;
    if (c.json) {
        hk_buf b = HK_BUF_INIT;
        hk_buf_append_str(&b, "{\"output\":");
        cli_json_str(&b, output);
        hk_buf_appendf(&b, ",\"format\":\"%s\",\"bytes\":%llu",
                       hk_format_name(format), (unsigned long long)res.bytes);
        if (where || around)
            hk_buf_appendf(&b, ",\"facts\":%llu",
                           (unsigned long long)res.facts);
        hk_buf_append_str(&b, "}");
        rc = cli_emit(&c, &b);
        hk_buf_free(&b);
    } else {
        fprintf(stderr, "exported to %s (%s, %llu bytes)\n", output,
                hk_format_name(format), (unsigned long long)res.bytes);
    }
    return rc;
}
