/*
 * main.c — entry point of the `hakgal` executable.
 *
 * `hakgal [global options] <command> [options] [arguments]`. The command
 * table below maps names to functions (commands.h). Global options given
 * before the command (--data DIR, --json) are moved behind the command
 * name so that every command, including those of other modules (serve,
 * mcp), sees them in its own argument vector. Single-threaded until a
 * command (serve) starts threads of its own.
 */
#include "cli/cli.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ==== Command table ==== */

const hk_command hk_commands[] = {
    {"init", hk_cmd_init, "create an empty knowledge base"},
    {"add", hk_cmd_add, "add facts (idempotent)"},
    {"get", hk_cmd_get, "show a fact by id or statement"},
    {"check", hk_cmd_check, "check statements as add would, storing nothing"},
    {"query", hk_cmd_query, "find facts by pattern, predicate or entity"},
    {"delete", hk_cmd_delete, "delete facts by id or statement"},
    {"update", hk_cmd_update, "replace a fact's statement, keeping its id"},
    {"import", hk_cmd_import,
     "import statements, JSONL, TSV or a legacy "
     "SQLite KB"},
    {"export", hk_cmd_export, "export every fact (statements, jsonl, tsv)"},
    {"stats", hk_cmd_stats, "counts and sizes of the knowledge base"},
    {"growth", hk_cmd_growth, "facts added and deleted per day"},
    {"predicates", hk_cmd_predicates, "list predicates with fact counts"},
    {"entities", hk_cmd_entities, "list entities with fact counts"},
    {"history", hk_cmd_history, "audit entries of one fact"},
    {"audit", hk_cmd_audit, "list or verify the tamper-evident audit log"},
    {"verify", hk_cmd_verify,
     "check the audit chain; --deep: every record, symbol and index"},
    {"backup", hk_cmd_backup, "write a consistent, checksummed copy"},
    {"restore", hk_cmd_restore, "install a backup as the knowledge base"},
    {"compact", hk_cmd_compact,
     "give free space back (rewrite the KB densely)"},
    {"vectors", hk_cmd_vectors, "create, list or drop vector spaces"},
    {"embed", hk_cmd_embed, "give facts vectors with the built-in embedder"},
    {"similar", hk_cmd_similar, "facts nearest to a text, vector or fact"},
    {"stream", hk_cmd_stream, "change-stream outbox: status, enable"},
    {"digest", hk_cmd_digest,
     "order-independent digest of the facts, and the audit head"},
    {"graphql", hk_cmd_graphql, "run a GraphQL query or mutation (--schema)"},
    {"rule", hk_cmd_rule, "add, list, show, enable, disable or delete rules"},
    {"reason", hk_cmd_reason, "materialize (or --verify) the derived facts"},
    {"why", hk_cmd_why, "the derivation tree of a fact"},
    {"search", hk_cmd_search, "facts by words, by vectors or both (--mode)"},
    {"neighbours", hk_cmd_neighbours, "the subgraph around an entity"},
    {"path", hk_cmd_path, "shortest paths between two entities"},
    {"analyze", hk_cmd_analyze,
     "rank the graph: pagerank, components, communities, degrees, "
     "betweenness"},
    {"ask", hk_cmd_ask, "answer a question from the facts, claims checked"},
    {"extract", hk_cmd_extract, "propose facts from a text for review"},
    {"review", hk_cmd_review, "list, approve or reject proposed facts"},
    {"llm", hk_cmd_llm,
     "manual override: model access on/off, KB read-only/writable"},
    {"model", hk_cmd_model,
     "learned embeddings: train, eval, score, predict, similar"},
    {"serve", hk_cmd_serve,
     "serve the REST API over HTTP (hakgal serve --help)"},
    {"mcp", hk_cmd_mcp,
     "serve the KB to an MCP client over stdio (hakgal mcp --help)"},
    {"config", hk_cmd_config,
     "check a `hakgal serve` config file line by line (config check FILE)"},
    {"version", hk_cmd_version, "print the version"},
    {"help", hk_cmd_help, "show help for hakgal or a command"},
    {NULL, NULL, NULL},
};

static const hk_command *find_command(const char *name)
{
    for (const hk_command *c = hk_commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

/* ==== help and version ==== */

static const char EXIT_CODES[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  usage error (unknown command or option, missing argument)\n"
    "  2  invalid input (statement, pattern, JSON, option value; an import\n"
    "     in which every record of a file was rejected)\n"
    "  3  not found (fact, file, knowledge base, backup)\n"
    "  4  conflict (fact already exists, KB or directory already present "
    "or in use,\n"
    "     e.g. compact or restore while another process has the KB open)\n"
    "  5  I/O or store error\n"
    "  6  audit verification failed\n";

static void print_general_help(FILE *out)
{
    fprintf(out,
            "hakgal %s - knowledge-graph fact store\n\n"
            "Usage: hakgal [--data DIR] [--json] <command> [options] "
            "[arguments]\n\n"
            "Commands:\n",
            hk_version());
    for (const hk_command *c = hk_commands; c->name != NULL; c++)
        fprintf(out, "  %-11s %s\n", c->name, c->summary);
    fprintf(out,
            "\nGlobal options (accepted by every command):\n"
            "  --data DIR  knowledge base directory (default: $HAKGAL_DATA, "
            "else ./hakgal-data)\n"
            "  --json      machine-readable output: one JSON value per "
            "line\n"
            "  --help      help for the command\n\n"
            "Statements look like HasPart(Computer, CPU) or\n"
            "Bond(NH3, nitrogen, hydrogen); see 'hakgal help add'.\n\n"
            "%s\n"
            "Run 'hakgal <command> --help' for the options of a command.\n",
            EXIT_CODES);
}

int hk_cmd_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(
                "Usage: hakgal help [COMMAND]\n\n"
                "Without COMMAND: lists the commands, the global options and\n"
                "the exit codes. With COMMAND: the same as "
                "'hakgal COMMAND --help'.\n",
                stdout);
            return HK_EXIT_OK;
        }
    }
    /* Skip global options main moved here (--data DIR, --json). */
    int at = 1;
    while (at < argc && argv[at][0] == '-')
        at += strcmp(argv[at], "--data") == 0 ? 2 : 1;
    if (at < argc) {
        argv[1] = argv[at];
        argc = 2;
    } else {
        argc = 1;
    }
    if (argc >= 2 && argv[1][0] != '-') {
        const hk_command *c = find_command(argv[1]);
        if (c == NULL) {
            fprintf(stderr,
                    "hakgal help: unknown command '%s'\n"
                    "Run 'hakgal help' for the list of commands.\n",
                    argv[1]);
            return HK_EXIT_USAGE;
        }
        char *sub[] = {(char *)c->name, (char *)"--help", NULL};
        return c->run(2, sub);
    }
    print_general_help(stdout);
    return HK_EXIT_OK;
}

int hk_cmd_version(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal version [--json]\n\nPrints the version of hakgal.\n";
    cli_ctx c;
    cli_init(&c, "version", usage);
    int stop = cli_parse_common_only(&c, argc, argv);
    if (stop >= 0) return stop;
    if (c.json)
        printf("{\"version\":\"%s\"}\n", hk_version());
    else
        printf("hakgal %s\n", hk_version());
    return HK_EXIT_OK;
}

/* ==== main ==== */

/* Runs cmd. A fault inside a KB's map (a page beyond the end of a file
 * truncated while open, faultguard.c) ends the process with a message and
 * exit code 5 instead of a signal; the KB file is untouched (a write not
 * yet committed is lost). */
static int run_guarded(const hk_command *cmd, int argc, char **argv)
{
    static hk_fault_guard guard;
    volatile int rc = HK_EXIT_IO;
    if (sigsetjmp(guard.jb, 1) == 0) {
        hk_fault_arm(&guard);
        rc = cmd->run(argc, argv);
        hk_fault_disarm(&guard);
        return rc;
    }
    char msg[400];
    int n = snprintf(msg, sizeof msg,
                     "hakgal %s: the knowledge base is damaged: reading byte "
                     "%llu of data.mdb failed (the file is shorter than its "
                     "pages or was changed while open); restore from a "
                     "backup\n",
                     cmd->name, (unsigned long long)guard.offset);
    if (n > 0 &&
        write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
        n = 0;
    /* The command was abandoned mid-way: what it held (memory, a stdio
     * buffer it was filling) is in an unknown state, so the process ends
     * here, without atexit handlers or stdio flushes. */
    _exit(HK_EXIT_IO);
}

int main(int argc, char **argv)
{
    /* Collect global options written before the command. */
    char **globals = hk_calloc((size_t)argc + 1, sizeof *globals);
    if (globals == NULL) {
        fputs("hakgal: out of memory\n", stderr);
        return HK_EXIT_IO;
    }
    int n_globals = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--data") == 0) {
            if (i + 1 >= argc) {
                fputs("hakgal: option '--data' needs a directory\n", stderr);
                hk_free(globals);
                return HK_EXIT_USAGE;
            }
            globals[n_globals++] = argv[i++];
            globals[n_globals++] = argv[i];
        } else if (strncmp(a, "--data=", 7) == 0 || strcmp(a, "--json") == 0) {
            globals[n_globals++] = argv[i];
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            hk_free(globals);
            print_general_help(stdout);
            return HK_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            hk_free(globals);
            printf("hakgal %s\n", hk_version());
            return HK_EXIT_OK;
        } else if (a[0] == '-') {
            fprintf(stderr,
                    "hakgal: unknown option '%s' before the command\n"
                    "Run 'hakgal help' for usage.\n",
                    a);
            hk_free(globals);
            return HK_EXIT_USAGE;
        } else {
            break;
        }
    }
    if (i >= argc) {
        hk_free(globals);
        print_general_help(stderr);
        fputs("\nhakgal: no command given\n", stderr);
        return HK_EXIT_USAGE;
    }
    const hk_command *cmd = find_command(argv[i]);
    if (cmd == NULL) {
        fprintf(stderr,
                "hakgal: unknown command '%s'\n"
                "Run 'hakgal help' for the list of commands.\n",
                argv[i]);
        hk_free(globals);
        return HK_EXIT_USAGE;
    }
    /* argv for the command: name, globals, then its own arguments. */
    int sub_argc = 1 + n_globals + (argc - i - 1);
    char **sub = hk_calloc((size_t)sub_argc + 1, sizeof *sub);
    if (sub == NULL) {
        fputs("hakgal: out of memory\n", stderr);
        hk_free(globals);
        return HK_EXIT_IO;
    }
    int k = 0;
    sub[k++] = argv[i];
    for (int g = 0; g < n_globals; g++)
        sub[k++] = globals[g];
    for (int j = i + 1; j < argc; j++)
        sub[k++] = argv[j];
    sub[k] = NULL;
    hk_free(globals);
    int rc = run_guarded(cmd, sub_argc, sub);
    hk_free(sub);
    if (fflush(stdout) != 0 && rc == HK_EXIT_OK) {
        fputs("hakgal: cannot write to standard output\n", stderr);
        rc = HK_EXIT_IO;
    }
    return rc;
}
