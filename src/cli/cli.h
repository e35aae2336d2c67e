/*
 * cli.h — helpers shared by the CLI commands (src/cli): option parsing
 * with the global options, messages, opening the KB, resolving a fact
 * given as an id or a statement, and output helpers.
 *
 * Conventions: results go to stdout (text, or one JSON value per line with
 * --json); every message about a problem goes to stderr as
 * "hakgal <command>: <what> (<why>)" and the command returns an HK_EXIT_*
 * code. Single-threaded.
 */
#ifndef HK_CLI_H
#define HK_CLI_H

#include "cli/commands.h"

#include <getopt.h>

/* State of one command invocation. */
typedef struct cli_ctx {
    const char *cmd;      /* command name, for messages ("query") */
    const char *usage;    /* full --help text of the command */
    const char *data_dir; /* --data, else $HAKGAL_DATA, else ./hakgal-data */
    bool json;            /* --json: machine-readable output */
    int exit_code;        /* set when cli_next_opt returns CLI_STOP */
} cli_ctx;

/* Rows every command's option table starts with. */
#define CLI_OPT_DATA 0x1001
#define CLI_OPT_JSON 0x1002
#define CLI_OPT_HELP 'h'
#define CLI_COMMON_OPTIONS                                                     \
    {"data", required_argument, NULL, CLI_OPT_DATA},                           \
        {"json", no_argument, NULL, CLI_OPT_JSON},                             \
    {                                                                          \
        "help", no_argument, NULL, CLI_OPT_HELP                                \
    }

#define CLI_STOP (-2) /* returned by cli_next_opt: stop, use exit_code */

void cli_init(cli_ctx *c, const char *cmd, const char *usage);
/* getopt_long over argv with the common options handled here. Returns the
 * next command-specific option, -1 at the end (operands start at optind),
 * or CLI_STOP after --help (exit 0) or a usage error (exit 1, message
 * printed). */
int cli_next_opt(cli_ctx *c, int argc, char **argv, const char *shortopts,
                 const struct option *longopts);
/* For commands that take only the common options and no arguments:
 * parses them. Returns -1 to go on, else the exit code to return (after
 * --help or a usage error, message printed). */
int cli_parse_common_only(cli_ctx *c, int argc, char **argv);
/* "12.3 MiB" (binary units; "512 B" below 1 KiB) into out; returns out. */
const char *cli_size_text(uint64_t n, char out[32]);

/* Messages to stderr prefixed with "hakgal <cmd>: ". */
void cli_msg(const cli_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Usage error: message plus a pointer to --help; returns HK_EXIT_USAGE. */
int cli_usage_error(const cli_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints e's message (or rc's name) and returns the exit code for rc. */
int cli_fail(const cli_ctx *c, hk_err rc, const hk_error *e);
/* For a statement or pattern typed by the user: prints the error, then
 * the text with a caret under the column. Returns HK_EXIT_INVALID. */
int cli_fail_text(const cli_ctx *c, const char *what, const char *text,
                  const hk_error *e);

/* Number options: strict decimal, within [min, max]. On error prints a
 * message naming the option and returns false. */
bool cli_parse_u64(const cli_ctx *c, const char *opt, const char *s,
                   uint64_t min, uint64_t max, uint64_t *out);
bool cli_parse_double(const cli_ctx *c, const char *opt, const char *s,
                      double min, double max, double *out);

/* --actor NAME: what the audit log can record (1..256 bytes of UTF-8,
 * as hk_txn_set_actor requires). On error prints a message naming the
 * option and returns false. */
bool cli_check_actor(const cli_ctx *c, const char *actor);

/* Opens the KB in c->data_dir. create: make it when missing (init).
 * Returns HK_EXIT_OK or an exit code after printing why. */
int cli_open(const cli_ctx *c, bool read_only, bool create, hk_store **out);
/* Closes a KB cli_open opened (detaching the vector module of a writable
 * open); NULL is ignored. */
void cli_close(hk_store *s);
/* The vector module cli_open attached to s (writable opens), else NULL. */
struct hkv_store;
struct hkv_store *cli_vstore(const hk_store *s);

/* Resolves "42" (an id) or a statement to a fact id inside t. Prints the
 * problem and returns an exit code when it cannot. */
int cli_resolve_fact(const cli_ctx *c, hk_txn *t, const char *arg,
                     hk_fact_id *id);
bool cli_is_id(const char *s, hk_fact_id *id);

/* Writes b to stdout followed by a newline, then resets b. */
int cli_emit(const cli_ctx *c, hk_buf *b);
/* Appends "key": to a JSON object being built (with a leading comma when
 * not first). */
hk_err cli_json_key(hk_buf *b, bool *first, const char *key);
/* Appends a string or null. */
hk_err cli_json_str(hk_buf *b, const char *s);

/* Canonical text of a statement (for messages); caller frees b. */
void cli_format_statement(const hk_statement *st, hk_buf *b);

/* cmd_compact.c: `import --compact auto|always|never`. */
typedef enum cli_compact_mode {
    CLI_COMPACT_AUTO = 0,   /* when hk_store_compact_advised says so */
    CLI_COMPACT_ALWAYS = 1, /* after every successful import */
    CLI_COMPACT_NEVER = 2   /* never */
} cli_compact_mode;
bool cli_compact_mode_parse(const char *s, cli_compact_mode *out);
/* Runs after a successful import, with the import's handle closed; st is
 * its statistics taken before closing (NULL when unavailable). Prints one
 * line (text) or one {"compaction": {...}} object (--json) saying what was
 * done or why not. A KB open elsewhere, or a failed compaction under
 * auto, is a note, not an error (returns HK_EXIT_OK); another failure
 * returns its exit code. announce: say on stderr that compaction starts
 * (for terminals; it takes seconds on large KBs). */
int cli_compact_after_import(const cli_ctx *c, cli_compact_mode mode,
                             const hk_stats *st, bool announce);

#endif /* HK_CLI_H */
