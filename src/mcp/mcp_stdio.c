/*
 * mcp_stdio.c — `hakgal mcp`: the MCP server on stdin/stdout, as MCP
 * clients such as Claude Desktop start it.
 *
 * Framing is newline-delimited JSON: one JSON-RPC message per line in each
 * direction. Only protocol goes to stdout; diagnostics go to stderr. The
 * process exits 0 when stdin ends. A line that is not JSON gets -32700, a
 * batch or a non-message -32600, and a line longer than
 * HK_MCP_MAX_MESSAGE_BYTES is skipped up to its newline and answered with
 * -32600; the server keeps running in every case.
 *
 * The process owns the KB: writes run in their own durable write
 * transaction, and restore_kb can close the KB, install a verified backup
 * and reopen it. Server->client requests (sampling, elicitation in fixtures
 * mode) are written to stdout and the reply is read from stdin; messages
 * arriving meanwhile are handled in order.
 *
 * Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json_text.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "llm/llm.h"
#include "mcp/mcp.h"
#include "service/service.h"
#include "service/svc_vector.h"

/* ==== The process state ==== */

typedef struct stdio_srv {
    hk_store *store;      /* the open KB (replaced by restore) */
    hkv_store *vs;        /* its vector module (attached) */
    char data_dir[4096];  /* KB directory */
    hk_mcp_server *srv;   /* MCP server */
    hk_mcp_session *sess; /* the one session of this connection */
    char *buf;            /* line buffer (HK_MCP_MAX_MESSAGE_BYTES+1) */
    int depth;            /* nesting of client requests */
    bool changed;         /* a tool changed the KB (notify subs) */
    bool eof;             /* stdin ended */
} stdio_srv;

static hk_err stdio_write(void *ud, hk_mcp_txn_fn fn, void *arg,
                          const char *actor, hk_error *err)
{
    stdio_srv *ss = ud;
    hk_txn *t = NULL;
    hk_err rc = hk_txn_begin(ss->store, true, &t, err);
    if (rc != HK_OK) return rc;
    rc = hk_txn_set_actor(t, actor ? actor : "mcp");
    if (rc == HK_OK) rc = fn(t, arg, err);
    if (rc != HK_OK) {
        hk_txn_abort(t);
        return rc;
    }
    return hk_txn_commit(t, err);
}

static hk_err stdio_restore(void *ud, const char *backup_dir, hk_error *err)
{
    stdio_srv *ss = ud;
    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    hk_svc_store_close(ss->store, ss->vs);
    ss->store = NULL;
    ss->vs = NULL;
    hk_svc_restore_req req = {backup_dir, ss->data_dir, true, false};
    char sha[65];
    hk_err rc = hk_svc_restore(&req, sha, err);
    hk_error e2;
    hk_err rc2 =
        hk_svc_store_open(ss->data_dir, &opt, &ss->store, &ss->vs, &e2);
    if (rc2 == HK_OK) rc2 = hk_llm_attach(ss->store, &e2); /* review queue */
    if (rc2 != HK_OK) {
        /* the KB is gone: nothing can be served any more */
        fprintf(stderr, "hakgal mcp: cannot reopen %s after restore: %s\n",
                ss->data_dir, e2.message);
        exit(5);
    }
    return rc;
}

/* ==== Output ==== */

static void send_msg(json_t *msg)
{
    char *s = hk_json_dumps(msg, JSON_COMPACT);
    if (!s) {
        fprintf(stderr, "hakgal mcp: cannot encode a message\n");
        return;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s); /* json_dumps memory: libc free */
}

static void on_notify(void *ud, json_t *msg)
{
    (void)ud;
    send_msg(msg);
}

/* ==== Input ==== */

/* Reads one line into ss->buf. Returns its length, -1 at EOF, -2 when the
 * line was longer than the limit (skipped to its end). */
static long read_line(stdio_srv *ss)
{
    size_t n = 0;
    bool too_long = false;
    int ch;
    while ((ch = getc_unlocked(stdin)) != EOF) {
        if (ch == '\n') break;
        if (n < HK_MCP_MAX_MESSAGE_BYTES)
            ss->buf[n++] = (char)ch;
        else
            too_long = true;
    }
    if (ch == EOF && n == 0 && !too_long) {
        ss->eof = true;
        return -1;
    }
    if (ch == EOF) ss->eof = true;
    if (too_long) return -2;
    if (n > 0 && ss->buf[n - 1] == '\r') n--;
    ss->buf[n] = '\0';
    return (long)n;
}

static hk_err client_request(void *ud, const char *method, json_t *params,
                             json_t **result, hk_error *err);

static void on_kb_changed(void *ud)
{
    ((stdio_srv *)ud)->changed = true;
}

static const hk_mcp_io *stdio_io(stdio_srv *ss)
{
    static hk_mcp_io io;
    io.ud = ss;
    io.notify = on_notify;
    io.client_request = client_request;
    io.kb_changed = on_kb_changed;
    return &io;
}

/* Handles one input line; answers on stdout. */
static void handle_line(stdio_srv *ss, long n)
{
    if (n == -2) {
        json_t *r = hk_mcp_error_response(NULL, HK_MCP_INVALID_REQUEST,
                                          "Invalid request: message larger "
                                          "than 4 MiB");
        send_msg(r);
        json_decref(r);
        return;
    }
    const char *p = ss->buf;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) return; /* blank line */
    json_error_t je;
    json_t *msg = json_loadb(ss->buf, (size_t)n, JSON_DECODE_ANY, &je);
    if (!msg) {
        char m[300];
        snprintf(m, sizeof m, "Parse error: %s (column %d)", je.text,
                 je.column);
        json_t *r = hk_mcp_error_response(NULL, HK_MCP_PARSE_ERROR, m);
        send_msg(r);
        json_decref(r);
        return;
    }
    json_t *resp = NULL;
    if (json_is_array(msg)) {
        resp = hk_mcp_error_response(NULL, HK_MCP_INVALID_REQUEST,
                                     "Invalid request: JSON-RPC batches are "
                                     "not supported");
    } else {
        resp = hk_mcp_handle(ss->srv, ss->sess, msg, stdio_io(ss), NULL, NULL);
    }
    if (resp) send_msg(resp);
    json_decref(resp);
    json_decref(msg);
    if (ss->changed) {
        /* after the answer: tell the client which subscribed resources
         * may have changed */
        ss->changed = false;
        json_t *ups = hk_mcp_session_updates(ss->sess);
        size_t i;
        json_t *u;
        json_array_foreach(ups, i, u) send_msg(u);
        json_decref(ups);
    }
}

#define CLIENT_REQUEST_MAX_DEPTH 4

static hk_err client_request(void *ud, const char *method, json_t *params,
                             json_t **result, hk_error *err)
{
    stdio_srv *ss = ud;
    *result = NULL;
    if (ss->depth >= CLIENT_REQUEST_MAX_DEPTH)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "too many nested client requests");
    json_int_t id = hk_mcp_session_expect(ss->sess);
    if (id == 0)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "too many client requests pending");
    json_t *req = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", id,
                            "method", method, "params", params);
    if (!req) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    send_msg(req);
    json_decref(req);
    ss->depth++;
    hk_err rc = HK_OK;
    /* read until the answer arrives; other messages are handled in order */
    for (;;) {
        json_t *answer = NULL;
        if (hk_mcp_session_take(ss->sess, id, &answer)) {
            *result = answer;
            break;
        }
        if (ss->eof) {
            hk_mcp_session_cancel(ss->sess, id);
            rc = hk_error_set(err, HK_ERR_STATE,
                              "stdin closed before the client answered");
            break;
        }
        long n = read_line(ss);
        if (n == -1) continue;
        handle_line(ss, n);
    }
    ss->depth--;
    return rc;
}

/* ==== Command ==== */

static const char usage[] =
    "Usage: hakgal mcp [--data DIR] [options]\n\n"
    "Serves the knowledge base to one MCP client over stdin/stdout\n"
    "(newline-delimited JSON-RPC; protocol revisions 2025-11-25 and\n"
    "2026-07-28). Logs go to stderr; the server exits when stdin closes.\n\n"
    "Options:\n"
    "  --data DIR            KB directory (default $HAKGAL_DATA or "
    "./hakgal-data;\n"
    "                        created when missing)\n"
    "  --write-token TOKEN   enable write tools for clients presenting TOKEN\n"
    "                        (audit actor \"mcp\"); also "
    "$HAKGAL_MCP_WRITE_TOKEN\n"
    "  --tokens FILE         token file of `hakgal serve` (name role "
    "sha256hex);\n"
    "                        write and admin tokens enable write tools\n"
    "  --allow-dir DIR       directory clients may name in hub_path, path and\n"
    "                        report_path (repeatable)\n"
    "  --backup-dir DIR      where backup_kb writes (default DATA.backups)\n"
    "  --page-size N         entries per tools/resources/prompts list page\n"
    "                        (default 100)\n"
    "  --profile NAME        tool set: kb (default: the 30 legacy tools and\n"
    "                        the graph, vector, rule, model, stream and\n"
    "                        model-review tools) or\n"
    "                        memory (the 9 tools of the MCP memory server;\n"
    "                        an existing $MEMORY_FILE_PATH is imported once\n"
    "                        into the KB FILE.hakgal next to it unless --data\n"
    "                        is given)\n"
    "  --mcp-conformance-fixtures\n"
    "                        add the fixtures of the MCP conformance suite\n"
    "                        (testing only)\n"
    "  -h, --help            this help\n";

/* Imports the memory file of the reference MCP memory server into the KB
 * just created for it (the file is only read). A missing file is an empty
 * memory. */
static hk_err takeover(hk_store *store, const char *file, hk_error *err)
{
    struct stat st;
    if (stat(file, &st) != 0) return HK_OK;
    hk_import_options opt;
    memset(&opt, 0, sizeof opt);
    opt.format = HK_FORMAT_MCP_MEMORY;
    opt.actor = "mcp-memory-import";
    hk_import_summary sum;
    hk_err rc = hk_import_file(store, file, &opt, &sum, err);
    if (rc == HK_OK)
        fprintf(stderr,
                "hakgal mcp: imported %s (%llu lines, %llu facts, %llu "
                "rejected)\n",
                file, (unsigned long long)sum.read,
                (unsigned long long)sum.added,
                (unsigned long long)sum.rejected);
    return rc;
}

/* The takeover marker: DATA.memory-import exists from before the KB is
 * created until the import of MEMORY_FILE_PATH succeeded, so that a start
 * whose import failed partway (crash, full disk, bad file) is followed by
 * a start that imports again. Importing again is safe: facts already
 * there are counted as present and the rest are appended in file order.
 * A KB without the marker is never imported into again (its memory may
 * have changed since). */
static hk_err marker_set(const char *marker, const char *file, hk_error *err)
{
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return hk_error_set(err, HK_ERR_IO, "cannot create %s: %s", marker,
                            strerror(errno));
    size_t n = strlen(file);
    bool ok = write(fd, file, n) == (ssize_t)n && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok)
        return hk_error_set(err, HK_ERR_IO, "cannot write %s: %s", marker,
                            strerror(e));
    return HK_OK;
}

/* The write token "mcp" of a secret given on the command line or in the
 * environment (only its hash is kept). */
static void secret_token(hk_token *tok, const char *secret)
{
    memset(tok, 0, sizeof(*tok));
    snprintf(tok->name, sizeof(tok->name), "mcp");
    tok->role = HK_ROLE_WRITE;
    hk_sha256(secret, strlen(secret), tok->hash);
}

int hk_cmd_mcp(int argc, char **argv)
{
    enum {
        O_DATA = 256,
        O_WTOK,
        O_TOKENS,
        O_ALLOW,
        O_BACKUP,
        O_FIX,
        O_PAGE,
        O_JSON,
        O_PROFILE
    };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},
        {"write-token", required_argument, 0, O_WTOK},
        {"tokens", required_argument, 0, O_TOKENS},
        {"allow-dir", required_argument, 0, O_ALLOW},
        {"backup-dir", required_argument, 0, O_BACKUP},
        {"page-size", required_argument, 0, O_PAGE},
        {"mcp-conformance-fixtures", no_argument, 0, O_FIX},
        {"profile", required_argument, 0, O_PROFILE},
        {"json", no_argument, 0, O_JSON}, /* global option: the output is
                                             JSON-RPC anyway */
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    static stdio_srv ss;
    memset(&ss, 0, sizeof ss);
    static hk_token tokens[HK_MCP_MAX_TOKENS];
    size_t n_tokens = 0;
    const char *allow[HK_MCP_MAX_DIRS];
    size_t n_allow = 0;
    const char *data = getenv("HAKGAL_DATA");
    const char *backup = NULL;
    char backup_default[4200];
    bool fixtures = false;
    unsigned page = 0;
    int profile = HK_MCP_PROFILE_KB;
    int exit_code = 0;
    hk_error e;
    hk_error_clear(&e);

    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_DATA:
            data = optarg;
            break;
        case O_WTOK:
            if (n_tokens >= HK_MCP_MAX_TOKENS || !optarg[0]) {
                fprintf(stderr, "hakgal mcp: bad or too many --write-token\n");
                return 1;
            }
            secret_token(&tokens[n_tokens++], optarg);
            break;
        case O_TOKENS: {
            size_t got = 0;
            if (hk_mcp_tokens_load(optarg, tokens + n_tokens,
                                   HK_MCP_MAX_TOKENS - n_tokens, &got,
                                   &e) != HK_OK) {
                fprintf(stderr, "hakgal mcp: %s\n", e.message);
                return hk_exit_code(e.code); /* as `hakgal serve` does */
            }
            n_tokens += got;
            break;
        }
        case O_ALLOW:
            if (n_allow >= HK_MCP_MAX_DIRS) {
                fprintf(stderr, "hakgal mcp: at most %d --allow-dir\n",
                        HK_MCP_MAX_DIRS);
                return 1;
            }
            allow[n_allow++] = optarg;
            break;
        case O_BACKUP:
            backup = optarg;
            break;
        case O_PAGE: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 10000) {
                fprintf(stderr, "hakgal mcp: --page-size must be 1..10000\n");
                return 1;
            }
            page = (unsigned)v;
            break;
        }
        case O_FIX:
            fixtures = true;
            break;
        case O_JSON:
            break;
        case O_PROFILE:
            if (strcmp(optarg, "kb") == 0)
                profile = HK_MCP_PROFILE_KB;
            else if (strcmp(optarg, "memory") == 0)
                profile = HK_MCP_PROFILE_MEMORY;
            else {
                fprintf(stderr, "hakgal mcp: --profile must be kb or memory\n");
                return 1;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hakgal mcp: unexpected argument '%s'\n%s",
                argv[optind], usage);
        return 1;
    }
    const char *env_tok = getenv("HAKGAL_MCP_WRITE_TOKEN");
    if (env_tok && env_tok[0] && n_tokens < HK_MCP_MAX_TOKENS) {
        secret_token(&tokens[n_tokens++], env_tok);
    }
    /* memory profile: the KB next to the reference server's file */
    const char *memory_file =
        profile == HK_MCP_PROFILE_MEMORY ? getenv("MEMORY_FILE_PATH") : NULL;
    if (memory_file && !memory_file[0]) memory_file = NULL;
    char memory_kb[2048];
    if (memory_file && (!data || !data[0])) {
        int n = snprintf(memory_kb, sizeof memory_kb, "%s.hakgal", memory_file);
        if (n < 0 || (size_t)n >= sizeof memory_kb) {
            fprintf(stderr, "hakgal mcp: MEMORY_FILE_PATH is too long\n");
            return 1;
        }
        data = memory_kb;
    }
    if (!data || !data[0]) data = "hakgal-data";
    snprintf(ss.data_dir, sizeof ss.data_dir, "%s", data);
    struct stat kb_st;
    bool kb_new = stat(ss.data_dir, &kb_st) != 0;
    char marker[sizeof ss.data_dir + 16];
    snprintf(marker, sizeof marker, "%s.memory-import", ss.data_dir);
    bool import = false;
    if (memory_file) {
        import = kb_new || stat(marker, &kb_st) == 0;
        if (kb_new && marker_set(marker, memory_file, &e) != HK_OK) {
            fprintf(stderr, "hakgal mcp: %s\n", e.message);
            return hk_exit_code(e.code);
        }
    }
    if (!backup) {
        snprintf(backup_default, sizeof backup_default, "%s.backups", data);
        backup = backup_default;
    }

    signal(SIGPIPE, SIG_IGN);
    hk_store_options opt;
    memset(&opt, 0, sizeof opt);
    opt.create = true;
    if (hk_svc_store_open(ss.data_dir, &opt, &ss.store, &ss.vs, &e) != HK_OK) {
        fprintf(stderr, "hakgal mcp: cannot open %s: %s\n", ss.data_dir,
                e.message);
        return e.code == HK_ERR_BUSY ? 4 : 5;
    }
    if (hk_llm_attach(ss.store, &e) != HK_OK) { /* the review queue */
        fprintf(stderr, "hakgal mcp: cannot open %s: %s\n", ss.data_dir,
                e.message);
        hk_svc_store_close(ss.store, ss.vs);
        return 5;
    }
    if (import && takeover(ss.store, memory_file, &e) != HK_OK) {
        fprintf(stderr,
                "hakgal mcp: cannot import %s: %s (the next start tries "
                "again)\n",
                memory_file, e.message);
        hk_svc_store_close(ss.store, ss.vs);
        return hk_exit_code(e.code);
    }
    if (import && unlink(marker) != 0 && errno != ENOENT)
        fprintf(stderr, "hakgal mcp: cannot remove %s: %s\n", marker,
                strerror(errno));
    hk_mcp_env env;
    memset(&env, 0, sizeof env);
    env.store = ss.store;
    env.store_slot = &ss.store;
    env.vstore_slot = &ss.vs;
    env.write = stdio_write;
    env.write_ud = &ss;
    env.restore = stdio_restore;
    env.restore_ud = &ss;
    env.tokens = tokens;
    env.n_tokens = n_tokens;
    env.allow_dirs = allow;
    env.n_allow_dirs = n_allow;
    env.backup_dir = backup;
    env.fixtures = fixtures;
    env.list_page_size = page;
    env.transport = "stdio";
    env.profile = profile;
    ss.buf = hk_malloc(HK_MCP_MAX_MESSAGE_BYTES + 1);
    if (!ss.buf || hk_mcp_server_new(&env, &ss.srv, &e) != HK_OK ||
        hk_mcp_session_new(ss.srv, &ss.sess, &e) != HK_OK) {
        fprintf(stderr, "hakgal mcp: %s\n",
                ss.buf ? e.message : "out of memory");
        exit_code = 5;
        goto done;
    }
    fprintf(stderr,
            "hakgal mcp: serving %s on stdio (%zu tools%s, writes %s)\n",
            ss.data_dir, hk_mcp_tool_count(ss.srv),
            fixtures ? ", conformance fixtures" : "",
            profile == HK_MCP_PROFILE_MEMORY
                ? "enabled: memory profile, actor mcp-memory"
            : n_tokens ? "enabled"
                       : "disabled: no write token");
    while (!ss.eof) {
        long n = read_line(&ss);
        if (n == -1) break;
        handle_line(&ss, n);
    }
done:
    hk_mcp_session_free(ss.sess);
    hk_mcp_server_free(ss.srv);
    hk_free(ss.buf);
    hk_svc_store_close(ss.store, ss.vs);
    return exit_code;
}
