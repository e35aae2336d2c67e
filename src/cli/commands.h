/*
 * commands.h — the command table of the `hakgal` executable.
 *
 * Every command is a function `int fn(int argc, char **argv)` with
 * argv[0] = the command name, returning a process exit code (HK_EXIT_*).
 * main.c looks the command up in hk_commands[] and calls it; global
 * options written before the command (`hakgal --data D stats`) are moved
 * behind the command name, so each command parses them with its own.
 *
 * Adding a command: declare its function here and add one row to
 * hk_commands[] in main.c (name, function, one-line summary). The rows
 * appear in `hakgal help` in table order.
 *
 * Commands provided by other modules of the executable:
 *   serve  hk_cmd_serve  src/server  REST API server (row added with it)
 *   mcp    hk_cmd_mcp    src/mcp     MCP server over stdio (row added
 *                                    with it)
 */
#ifndef HK_CLI_COMMANDS_H
#define HK_CLI_COMMANDS_H

#include "hakgal.h"
#include "service/service.h"

/* The exit codes (HK_EXIT_*) and hk_exit_code() are in service.h, where
 * the commands of src/server and src/mcp reach them too. */

typedef int (*hk_cmd_fn)(int argc, char **argv);

typedef struct hk_command {
    const char *name;    /* what the user types */
    hk_cmd_fn run;       /* implementation */
    const char *summary; /* one line for `hakgal help` */
} hk_command;

/* src/cli */
int hk_cmd_init(int argc, char **argv);
int hk_cmd_add(int argc, char **argv);
int hk_cmd_get(int argc, char **argv);
int hk_cmd_query(int argc, char **argv);
/* `hakgal query` with a multi-pattern query (cmd_graph_query.c). */
struct cli_ctx;
int hk_cli_graph_query(const struct cli_ctx *c, const char *text,
                       const char *cursor, uint64_t limit, bool explain);
/* `hakgal query` over asserted and derived facts (cmd_rules.c): answers
 * and sets *handled when the query can match derived facts. */
int hk_cli_rules_query(const struct cli_ctx *c, const char *text,
                       uint64_t limit, bool *handled);
int hk_cmd_delete(int argc, char **argv);
int hk_cmd_update(int argc, char **argv);
int hk_cmd_import(int argc, char **argv);
int hk_cmd_export(int argc, char **argv);
int hk_cmd_stats(int argc, char **argv);
int hk_cmd_growth(int argc, char **argv);
int hk_cmd_predicates(int argc, char **argv);
int hk_cmd_entities(int argc, char **argv);
int hk_cmd_history(int argc, char **argv);
int hk_cmd_audit(int argc, char **argv);
int hk_cmd_verify(int argc, char **argv);
int hk_cmd_backup(int argc, char **argv);
int hk_cmd_restore(int argc, char **argv);
int hk_cmd_compact(int argc, char **argv);
int hk_cmd_neighbours(int argc, char **argv);
int hk_cmd_path(int argc, char **argv);
int hk_cmd_analyze(int argc, char **argv);
int hk_cmd_version(int argc, char **argv);
int hk_cmd_help(int argc, char **argv);
int hk_cmd_vectors(int argc, char **argv);
int hk_cmd_embed(int argc, char **argv);
int hk_cmd_similar(int argc, char **argv);
/* grounded model use (cmd_llm.c) */
int hk_cmd_ask(int argc, char **argv);
int hk_cmd_extract(int argc, char **argv);
int hk_cmd_review(int argc, char **argv);
int hk_cmd_llm(int argc, char **argv);
/* `hakgal export --format instruct` (cmd_llm.c) */
int hk_cli_export_instruct(int argc, char **argv);
int hk_cmd_stream(int argc, char **argv);
int hk_cmd_digest(int argc, char **argv);
int hk_cmd_graphql(int argc, char **argv);
/* cmd_check.c */
int hk_cmd_check(int argc, char **argv);
/* cmd_model.c: `hakgal model ...` (src/learn through svc_learn.h) */
int hk_cmd_model(int argc, char **argv);
int hk_cmd_rule(int argc, char **argv);
int hk_cmd_reason(int argc, char **argv);
int hk_cmd_why(int argc, char **argv);
int hk_cmd_search(int argc, char **argv);

/* src/server and src/mcp */
int hk_cmd_serve(int argc, char **argv);
int hk_cmd_mcp(int argc, char **argv);
int hk_cmd_config(int argc, char **argv); /* src/server/config_check.c */

/* The table (main.c), terminated by a row with name NULL. */
extern const hk_command hk_commands[];

#endif /* HK_CLI_COMMANDS_H */
