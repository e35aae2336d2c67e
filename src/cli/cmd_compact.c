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

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ==== Through a running server ====
 * `hakgal serve` holds the KB open, so the offline compaction is refused
 * (HK_ERR_BUSY). Its note DIR/hakgal.server gives its address; the command
 * then asks it: POST URL/v2/admin/compact with the admin token (--token,
 * else $HAKGAL_TOKEN; the server keeps only hashes, so DIR has none). The
 * answer carries the members of an offline report, printed the same way. */

#define REMOTE_MAX_ANSWER (64 * 1024) /* the answer is one small object */
#define REMOTE_CONNECT_SECONDS 10L

static size_t remote_collect(char *ptr, size_t size, size_t n, void *arg)
{
    hk_buf *b = arg;
    size_t len = size * n;
    if (b->len + len > REMOTE_MAX_ANSWER || hk_buf_append(b, ptr, len) != HK_OK)
        return 0; /* curl fails the transfer */
    return len;
}

static bool remote_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* The server's own message of an error answer, or "". */
static void remote_message(json_t *root, char *out, size_t size)
{
    json_t *m = json_object_get(json_object_get(root, "error"), "message");
    snprintf(out, size, "%s", json_is_string(m) ? json_string_value(m) : "");
}

static hk_err remote_compact(const char *data_dir, long pid, const char *url,
                             const char *token, hk_compact_report *r,
                             hk_error *e)
{
    char endpoint[1100], auth[600];
    if (snprintf(endpoint, sizeof endpoint, "%s/v2/admin/compact", url) >=
        (int)sizeof endpoint)
        return hk_error_set(e, HK_ERR_INVALID, "server address too long");
    if (token && strlen(token) > 500)
        return hk_error_set(e, HK_ERR_INVALID,
                            "--token: longer than 500 "
                            "bytes");
    /* One call per process (the CLI is single-threaded): init and cleanup
     * pair here, so nothing of libcurl outlives it. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return hk_error_set(e, HK_ERR_NOMEM, "cannot start libcurl");
    CURL *curl = curl_easy_init();
    if (!curl) {
        curl_global_cleanup();
        return hk_error_set(e, HK_ERR_NOMEM, "cannot start libcurl");
    }
    struct curl_slist *hdr = NULL;
    if (token && token[0]) { /* never printed */
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    hk_buf body = HK_BUF_INIT;
    curl_easy_setopt(curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, remote_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, REMOTE_CONNECT_SECONDS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* No total timeout: compacting a large KB takes as long as it takes;
     * the server answers when the copy is renamed over data.mdb. */
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    explicit_bzero(auth, sizeof auth);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    hk_err rc = HK_OK;
    json_t *root = NULL;
    char msg[400];
    if (cc != CURLE_OK) {
        rc = hk_error_set(e, HK_ERR_IO,
                          "the knowledge base in %s is served by `hakgal "
                          "serve` (pid %ld) at %s, which cannot be reached "
                          "(%s); use --offline after stopping it",
                          data_dir, pid, url, curl_easy_strerror(cc));
        goto out;
    }
    json_error_t je;
    root = json_loadb(body.data ? body.data : "", body.len, 0, &je);
    remote_message(root, msg, sizeof msg);
    if (status == 401) {
        rc = hk_error_set(e, HK_ERR_BUSY,
                          "the server at %s (pid %ld) refused: %s: an admin "
                          "token is needed (--token TOKEN or $HAKGAL_TOKEN)",
                          url, pid,
                          token && token[0] ? "unknown token" : "no token");
    } else if (status == 403) {
        rc = hk_error_set(e, HK_ERR_BUSY,
                          "the server at %s (pid %ld) refused: compaction "
                          "needs a token with role admin%s%s",
                          url, pid, msg[0] ? ": " : "", msg);
    } else if (status != 200) {
        rc = hk_error_set(e, status == 503 ? HK_ERR_BUSY : HK_ERR_IO,
                          "the server at %s (pid %ld) answered HTTP %ld%s%s",
                          url, pid, status, msg[0] ? ": " : "", msg);
    } else {
        json_t *sec = json_object_get(root, "seconds");
        if (!remote_u64(root, "bytes_before", &r->bytes_before) ||
            !remote_u64(root, "bytes_after", &r->bytes_after) ||
            !remote_u64(root, "bytes_free_before", &r->bytes_free_before) ||
            !remote_u64(root, "facts", &r->facts) || !json_is_number(sec))
            rc = hk_error_set(e, HK_ERR_IO,
                              "the server at %s compacted, but its answer "
                              "is not a compaction report",
                              url);
        else
            r->seconds = json_number_value(sec);
    }
out:
    json_decref(root);
    hk_buf_free(&body);
    return rc;
}

int hk_cmd_compact(int argc, char **argv)
{
    static const char usage[] =
        "Usage: hakgal compact [DIR] [--data DIR] [--offline] "
        "[--token TOKEN] [--json]\n\n"
        "Rewrites the knowledge base densely and gives its free space back\n"
        "to the file system. LMDB never shrinks its file: after large imports\n"
        "in several transactions, data.mdb is often twice the live data.\n"
        "The dense copy is written next to data.mdb, synced and checked\n"
        "(fact count, audit head, entry counts), then renamed over it; a\n"
        "crash leaves either the old or the new complete file.\n\n"
        "When a 'hakgal serve' holds the knowledge base (DIR/hakgal.server\n"
        "names it), the command asks that server to compact online\n"
        "(POST /v2/admin/compact): readers go on, writers wait. A server\n"
        "with tokens needs an admin token: --token TOKEN, else\n"
        "$HAKGAL_TOKEN. --offline never asks a server.\n"
        "Otherwise no other process may have the knowledge base open (MCP\n"
        "session, another command): compact then fails at once with exit\n"
        "code 4. Commands started during compaction wait for it to finish.\n"
        "'hakgal import' compacts by itself when an import leaves at least\n"
        "25% of the file (and 64 MiB) free; see 'hakgal import --help'.\n\n"
        "Exit code: 0 compacted, 3 no knowledge base, 4 open in another\n"
        "process or refused by the server (token), 5 I/O or store error or\n"
        "the server cannot be reached (the knowledge base is unchanged).\n";
    cli_ctx c;
    cli_init(&c, "compact", usage);
    enum { OPT_OFFLINE = 0x2001, OPT_TOKEN };
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"token", required_argument, NULL, OPT_TOKEN},
        {0, 0, 0, 0}};
    bool offline = false;
    const char *token = NULL;
    int o;
    while ((o = cli_next_opt(&c, argc, argv, "h", opts)) != -1) {
        if (o == CLI_STOP) return c.exit_code;
        if (o == OPT_OFFLINE) offline = true;
        if (o == OPT_TOKEN) token = optarg;
    }
    if (optind < argc) c.data_dir = argv[optind++];
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    if (!token) token = getenv("HAKGAL_TOKEN");
    hk_compact_report r;
    memset(&r, 0, sizeof r);
    hk_error e;
    hk_error_clear(&e);
    long pid = 0;
    char url[1024];
    bool served =
        !offline && hk_svc_server_note_read(c.data_dir, &pid, url, sizeof url);
    if (!c.json && isatty(STDERR_FILENO)) /* seconds on large KBs */
        cli_msg(&c, "compacting %s%s ...", c.data_dir,
                served ? " through its server" : "");
    hk_err err = served ? remote_compact(c.data_dir, pid, url, token, &r, &e)
                        : hk_svc_compact(c.data_dir, &r, &e);
    if (err == HK_ERR_NOT_FOUND) {
        cli_msg(&c, "no knowledge base at '%s' (set --data or HAKGAL_DATA)",
                c.data_dir);
        return HK_EXIT_NOT_FOUND;
    }
    if (!served && err == HK_ERR_BUSY &&
        hk_svc_server_note_read(c.data_dir, &pid, url, sizeof url))
        hk_error_set(&e, HK_ERR_BUSY,
                     "the knowledge base in %s is served by `hakgal serve` "
                     "(pid %ld, %s): run without --offline to compact it "
                     "online (POST %s/v2/admin/compact, admin token), or "
                     "stop the server first",
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
