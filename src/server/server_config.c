/*
 * server_config.c — settings of `hakgal serve`.
 *
 * One table lists every setting once: its flag (--name), its environment
 * variable (HAKGAL_NAME with '-' -> '_'), its config file key (name), its
 * type and its help line. Sources apply in increasing precedence: built-in
 * defaults, the config file (--config FILE or HAKGAL_CONFIG), the
 * environment, then flags. The config file holds `key = value` lines; '#'
 * starts a comment; blank lines are ignored; values may be quoted with "".
 *
 * Runs once on the main thread before any other server thread exists.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "server/server_int.h"

/* ==== The settings table ==== */

typedef enum opt_kind {
    OPT_STR,    /* string into a char[] of size `size` */
    OPT_BOOL,   /* flag without value; env/file accept true/false/1/0 */
    OPT_UINT,   /* unsigned, range checked */
    OPT_SIZE,   /* byte count with optional k/m/g suffix */
    OPT_LISTEN, /* host:port */
    OPT_LIST    /* comma-separated list into allowed_hosts/origins */
} opt_kind;

typedef struct opt_def {
    const char *name; /* flag without "--", file key */
    opt_kind kind;    /* how to parse */
    size_t offset;    /* field offset in hk_server_config */
    size_t size;      /* field size (strings), or max value (numbers) */
    uint64_t min;     /* smallest accepted number */
    const char *arg;  /* value placeholder for --help */
    const char *help; /* help line */
} opt_def;

#define F(field) offsetof(hk_server_config, field)
#define S(field) sizeof(((hk_server_config *)0)->field)

static const opt_def k_opts[] = {
    {"data", OPT_STR, F(data_dir), S(data_dir), 0, "DIR",
     "knowledge base directory (created if missing; default ./hakgal-data)"},
    {"listen", OPT_LISTEN, 0, 0, 0, "HOST:PORT",
     "address to listen on (default 127.0.0.1:8080; port 0 = any free)"},
    {"threads", OPT_UINT, F(threads), 256, 1, "N",
     "event loop threads (default: number of CPUs)"},
    {"pool-threads", OPT_UINT, F(pool_threads), 256, 1, "N",
     "threads for blocking work such as backups (default 2)"},
    {"tokens", OPT_STR, F(tokens_file), S(tokens_file), 0, "FILE",
     "token file: lines `name role sha256hex` (role "
     "read|write|reviewer|admin)"},
    {"insecure", OPT_BOOL, F(insecure), 0, 0, NULL,
     "allow listening beyond loopback without any token"},
    {"read-auth", OPT_BOOL, F(read_auth), 0, 0, NULL,
     "reads need a read token too (default: reads are open)"},
    {"tls-cert", OPT_STR, F(tls_cert), S(tls_cert), 0, "FILE",
     "PEM certificate chain; with --tls-key serves HTTPS (HTTP/2 via ALPN)"},
    {"tls-key", OPT_STR, F(tls_key), S(tls_key), 0, "FILE", "PEM private key"},
    {"max-body", OPT_SIZE, F(max_body), (size_t)1 << 30, 1024, "BYTES",
     "largest request body (default 64m; suffix k, m, g)"},
    {"max-batch", OPT_UINT, F(max_batch), 1000000, 1, "N",
     "most facts in one POST /v2/facts/batch (default 100000)"},
    {"max-statement", OPT_SIZE, F(max_statement), HK_MAX_STATEMENT_BYTES, 16,
     "BYTES", "longest statement text (default 65536)"},
    {"max-args", OPT_UINT, F(max_args), HK_MAX_ARGS, 1, "N",
     "most arguments per fact (default and maximum 32)"},
    {"max-limit", OPT_UINT, F(max_limit), 100000, 1, "N",
     "largest page size a client may ask for with ?limit= (default 10000)"},
    {"default-limit", OPT_UINT, F(default_limit), 100000, 1, "N",
     "page size when ?limit= is absent (default 100)"},
    {"query-timeout-ms", OPT_UINT, F(query_timeout_ms), 3600000, 1, "MS",
     "time budget of one read query; longer ones answer 503 (default 5000)"},
    {"request-timeout-ms", OPT_UINT, F(request_timeout_ms), 3600000, 100, "MS",
     "I/O timeout for slow or idle clients (default 10000)"},
    {"max-group", OPT_UINT, F(max_group), 1000000, 1, "N",
     "most write requests grouped into one commit (default 4096)"},
    {"commit-delay-us", OPT_UINT, F(commit_delay_us), 100000, 0, "US",
     "most a group commit waits for writers answered by the previous one "
     "(default 3000; 0 = never)"},
    {"map-size", OPT_SIZE, F(map_size), (size_t)1 << 50, 1 << 20, "BYTES",
     "LMDB map size, the KB's maximum size (default 64g)"},
    {"no-sync", OPT_BOOL, F(no_sync), 0, 0, NULL,
     "do not fsync commits (NOT durable; benchmarks only)"},
    {"wal", OPT_BOOL, F(wal), 0, 0, NULL,
     "durable writes through a write-ahead log: a commit group syncs one "
     "sequential log write, data.mdb is synced by a checkpoint every second "
     "(docs/STORAGE.md)"},
    {"wal-checkpoint-ms", OPT_UINT, F(wal_checkpoint_ms), 60000, 10, "MS",
     "with --wal: most time between two checkpoints of data.mdb "
     "(default 1000; a quarter of the log's ring, at most 64 MiB, starts "
     "one early)"},
    {"wal-log-mb", OPT_UINT, F(wal_log_mb), 65536, 1, "MIB",
     "with --wal: size of the log's ring, written before use (default 64)"},
    {"h2c", OPT_BOOL, F(h2c), 0, 0, NULL,
     "accept the cleartext HTTP/2 upgrade (Upgrade: h2c; default off)"},
    {"allowed-hosts", OPT_LIST, F(allowed_hosts), 0, 0, "H1,H2",
     "accepted Host header names (default: loopback names when listening "
     "on loopback, else any)"},
    {"allowed-origins", OPT_LIST, F(allowed_origins), 0, 0, "O1,O2",
     "accepted browser Origin values; * = any (default: loopback only)"},
    {"access-log", OPT_STR, F(access_log), S(access_log), 0, "FILE",
     "append one line per request to FILE (- = stderr)"},
    {"quiet", OPT_BOOL, F(quiet), 0, 0, NULL, "no start-up banner"},
    {"web", OPT_STR, F(web_dir), S(web_dir), 0, "DIR",
     "web explorer files served at / (default: web/ next to the binary, "
     "then ../share/hakgal/web; none = off)"},
    {"stream", OPT_STR, F(stream_url), S(stream_url), 0, "kafka://B/TOPIC",
     "publish every change to Kafka (brokers B, comma-separated) through "
     "the KB's outbox"},
    {"follow", OPT_STR, F(follow_url), S(follow_url), 0, "kafka://B/TOPIC",
     "apply another node's change stream (its --stream topic) to this KB, "
     "in log order (docs/STREAM.md)"},
    {"follow-max-lag", OPT_UINT, F(follow_max_lag), 4000000000u, 0, "N",
     "with --follow: /readyz answers 503 while more than N messages wait "
     "(default 0 = no bound)"},
    {"replicate", OPT_STR, F(repl_url), S(repl_url), 0, "kafka://B/TOPIC",
     "multi-writer replication: writes go to this one-partition topic and "
     "every node applies it in log order (docs/STREAM.md)"},
    {"node-id", OPT_UINT, F(node_id), 65535, 0, "N",
     "with --replicate: this node's id, unique in the cluster"},
    {"ack", OPT_STR, F(repl_ack), S(repl_ack), 0, "applied|log",
     "with --replicate: answer a write once applied here (default) or once "
     "the log has it (202)"},
    {"replicate-timeout-ms", OPT_UINT, F(repl_timeout_ms), 600000, 0, "MS",
     "with --replicate: a write the log does not take within MS fails with "
     "503 (default 10000)"},
    {"replicate-max-lag", OPT_UINT, F(repl_max_lag), 4000000000u, 0, "N",
     "with --replicate: /readyz answers 503 while more than N messages "
     "wait (default 0 = 1000)"},
    {"replicate-sync-ms", OPT_UINT, F(repl_sync_ms), 60000, 0, "MS",
     "with --replicate: fsync applied commands at most every MS ms, not at "
     "every apply commit (the log holds them; opt-in, a system crash "
     "may damage the file; default 0 = every commit)"},
    {"replicate-commands", OPT_STR, F(repl_commands), S(repl_commands), 0,
     "binary|json",
     "with --replicate: the form of fact adds and batches in the log: "
     "binary (default) or json, which nodes of a version before the binary "
     "form also apply (during a rolling upgrade)"},
    {"grpc-listen", OPT_STR, F(grpc_listen), S(grpc_listen), 0, "HOST:PORT",
     "also serve gRPC (hakgal.v2, docs/GRPC.md) on this address (default "
     "off; port 0 = any free)"},
    {"grpc-threads", OPT_UINT, F(grpc_threads), 256, 1, "N",
     "gRPC event loops (h2) or worker threads (core) (default: number of "
     "CPUs, at least 2)"},
    {"grpc-transport", OPT_STR, F(grpc_transport), S(grpc_transport), 0,
     "h2|core",
     "gRPC over libnghttp2 event loops (h2, default) or gRPC's C core "
     "(core; always with --tls-cert)"},
    {"mcp-allow-dirs", OPT_STR, F(mcp_allow_dirs), S(mcp_allow_dirs), 0,
     "D1:D2", "directories MCP tools may read/write (hub_path, report_path)"},
    {"mcp-backup-dir", OPT_STR, F(mcp_backup_dir), S(mcp_backup_dir), 0, "DIR",
     "where the MCP backup_kb tool writes (default <data>.backups)"},
    {"mcp-conformance-fixtures", OPT_BOOL, F(mcp_conformance_fixtures), 0, 0,
     NULL, "add the MCP conformance suite's fixture tools (testing only)"},
    {"mcp-sessions-per-token", OPT_UINT, F(mcp_principal_sessions), 1024, 1,
     "N",
     "MCP sessions one token may hold; more replace its oldest idle one "
     "(default 64)"},
    {"mcp-anon-sessions-per-address", OPT_UINT, F(mcp_anon_addr_sessions), 1024,
     1, "N",
     "MCP sessions without a token per client address, beyond which the "
     "oldest idle one is replaced (default 32)"},
    {"mcp-anon-sessions", OPT_UINT, F(mcp_anon_sessions), 1024, 1, "N",
     "MCP sessions without a token in all; the rest of the 1024 are kept "
     "for token holders (default 256)"},
    {"mcp-anon-idle-s", OPT_UINT, F(mcp_anon_idle_s), 86400, 1, "S",
     "idle MCP sessions without a token expire after S seconds (default "
     "300)"},
    {"mcp-streams-per-client", OPT_UINT, F(mcp_streams_per_client), 256, 1, "N",
     "open /mcp GET streams per token, or per address without one "
     "(default 8)"},
    /* OpenTelemetry: the environment names are the standard OTEL_* ones
     * (no HAKGAL_ prefix); a config file may spell keys either way. */
    {"access-log-json", OPT_BOOL, F(access_log_json), 0, 0, NULL,
     "access log lines as JSON objects with trace_id and span_id"},
    {"otel-exporter-otlp-endpoint", OPT_STR, F(otel.endpoint), S(otel.endpoint),
     0, "URL",
     "OTLP/HTTP receiver base URL; traces go to URL/v1/traces and tracing "
     "is on once an endpoint is set"},
    {"otel-exporter-otlp-traces-endpoint", OPT_STR, F(otel.traces_endpoint),
     S(otel.traces_endpoint), 0, "URL", "full URL for traces (used as is)"},
    {"otel-exporter-otlp-protocol", OPT_STR, F(otel.protocol), S(otel.protocol),
     0, "P", "http/protobuf (default) or http/json"},
    {"otel-exporter-otlp-traces-protocol", OPT_STR, F(otel.traces_protocol),
     S(otel.traces_protocol), 0, "P",
     "the protocol for traces; wins over otel-exporter-otlp-protocol"},
    {"otel-exporter-otlp-headers", OPT_STR, F(otel.headers), S(otel.headers), 0,
     "K=V,..", "headers of every export request"},
    {"otel-exporter-otlp-timeout", OPT_UINT, F(otel.timeout_ms), 600000, 1,
     "MS", "time limit of one export request (default 10000)"},
    {"otel-service-name", OPT_STR, F(otel.service_name), S(otel.service_name),
     0, "NAME", "service.name (default hakgal)"},
    {"otel-resource-attributes", OPT_STR, F(otel.resource_attrs),
     S(otel.resource_attrs), 0, "K=V,..", "more resource attributes"},
    {"otel-traces-sampler", OPT_STR, F(otel.sampler), S(otel.sampler), 0, "S",
     "always_on, always_off, traceidratio or parentbased_<one of them> "
     "(default parentbased_always_on)"},
    {"otel-traces-sampler-arg", OPT_STR, F(otel.sampler_arg),
     S(otel.sampler_arg), 0, "RATIO", "sampling ratio 0..1 for traceidratio"},
    {"otel-traces-exporter", OPT_STR, F(otel.exporter), S(otel.exporter), 0,
     "otlp|none", "none turns tracing off"},
    {"otel-sdk-disabled", OPT_BOOL, F(otel.sdk_disabled), 0, 0, NULL,
     "turn tracing off"},
    {"otel-bsp-max-queue-size", OPT_UINT, F(otel.queue_max), 1000000, 1, "N",
     "spans waiting for export at most; more are dropped (default 2048)"},
    {"otel-bsp-max-export-batch-size", OPT_UINT, F(otel.batch_max), 1000000, 1,
     "N", "spans per export request at most (default 512)"},
    {"otel-bsp-schedule-delay", OPT_UINT, F(otel.delay_ms), 3600000, 1, "MS",
     "longest wait before queued spans are sent (default 5000)"},
    {"otel-node-id", OPT_STR, F(otel.node_id), S(otel.node_id), 0, "ID",
     "service.instance.id (default: the host name)"},
};
#define N_OPTS (sizeof(k_opts) / sizeof(k_opts[0]))

#undef F
#undef S

void hk_config_defaults(hk_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "hakgal-data");
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    cfg->listen_port = 8080;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = ncpu > 0 && ncpu < 64 ? (unsigned)ncpu : 2;
    cfg->pool_threads = 2;
    cfg->max_body = (size_t)64 << 20;
    cfg->max_batch = 100000;
    cfg->max_statement = HK_MAX_STATEMENT_BYTES;
    cfg->max_args = HK_MAX_ARGS;
    cfg->max_limit = 10000;
    cfg->default_limit = 100;
    cfg->query_timeout_ms = 5000;
    cfg->request_timeout_ms = 10000;
    cfg->max_group = 4096;
    cfg->commit_delay_us = 3000;
    cfg->repl_sync_ms = 0; /* fsync each apply commit unless asked */
}

void hk_config_print_help(FILE *out)
{
    fprintf(
        out,
        "usage: hakgal serve [options]\n"
        "\n"
        "Serves the knowledge base over HTTP: REST under /v2/, /healthz,\n"
        "/readyz, /metrics (Prometheus), /openapi.json and /mcp.\n"
        "\n"
        "Every option can also be set in the environment as HAKGAL_<NAME>\n"
        "(upper case, '-' -> '_', e.g. HAKGAL_LISTEN=0.0.0.0:9000) or in a\n"
        "config file of `name = value` lines (--config FILE or\n"
        "HAKGAL_CONFIG). Flags beat the environment, which beats the file.\n"
        "The otel-* options keep the standard OpenTelemetry names in the\n"
        "environment (OTEL_SERVICE_NAME, ...) and may be spelled so in the\n"
        "file. `hakgal config check FILE` checks a file line by line.\n"
        "Boolean options take true/false in the environment and file.\n"
        "\n"
        "options:\n"
        "  --config FILE              read settings from FILE first\n"
        "  --new-token NAME ROLE      print a token-file line for a new "
        "random\n"
        "                             token (the token itself on stderr) "
        "and exit\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", k_opts[i].name,
                 k_opts[i].arg ? " " : "", k_opts[i].arg ? k_opts[i].arg : "");
        fprintf(out, "  %-26s %s\n", left, k_opts[i].help);
    }
    fprintf(out,
            "  --help                     show this help\n"
            "\n"
            "Auth: with no token configured the server accepts every request,\n"
            "listens on loopback only (unless --insecure) and says so at\n"
            "start-up. Once tokens exist, writes need a write token, admin\n"
            "routes an admin token, and reads a read token if --read-auth.\n"
            "Send tokens as `Authorization: Bearer TOKEN`. Tokens are stored\n"
            "hashed: a token file line is `name role sha256hex`, where\n"
            "sha256hex = `printf %%s TOKEN | sha256sum` (or let\n"
            "`hakgal serve --new-token alice write >> tokens.txt` make one).\n"
            "The environment can add tokens as\n"
            "HAKGAL_TOKEN_<NAME>=<role>:<sha256hex>. The token name is the\n"
            "audit actor of the writes made with it.\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop accepting connections, finish\n"
            "requests in flight, commit queued writes and exit 0.\n"
            "Exit codes: 1 usage error, 2 invalid setting or token file,\n"
            "3 file not found, 4 address or KB in use, 5 I/O or store "
            "error.\n");
}

/* ==== Parsing values ==== */

static const opt_def *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(k_opts[i].name) == len &&
            memcmp(k_opts[i].name, name, len) == 0)
            return &k_opts[i];
    }
    return NULL;
}

static hk_err parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on")) {
        *out = true;
        return HK_OK;
    }
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off") || !*v) {
        *out = false;
        return HK_OK;
    }
    return HK_ERR_INVALID;
}

static hk_err parse_number(const char *v, bool sizes, uint64_t *out)
{
    char *end = NULL;
    if (!*v || *v == '-' || !isdigit((unsigned char)*v)) return HK_ERR_INVALID;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno) return HK_ERR_INVALID;
    uint64_t mul = 1;
    if (sizes && *end) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1024ull;
            break;
        case 'm':
            mul = 1024ull * 1024;
            break;
        case 'g':
            mul = 1024ull * 1024 * 1024;
            break;
        case 't':
            mul = 1024ull * 1024 * 1024 * 1024;
            break;
        default:
            return HK_ERR_INVALID;
        }
        end++;
        if (*end == 'b' || *end == 'B') end++;
    }
    if (*end) return HK_ERR_INVALID;
    if (n > UINT64_MAX / mul) return HK_ERR_INVALID;
    *out = (uint64_t)n * mul;
    return HK_OK;
}

/* Splits "host:port", "[v6]:port" or ":port" / "port". */
static hk_err parse_listen(hk_server_config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    const char *port_s = v;
    char host[256];
    host[0] = '\0';
    if (colon) {
        size_t hl = (size_t)(colon - v);
        const char *h = v;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        if (hl >= sizeof(host)) return HK_ERR_INVALID;
        memcpy(host, h, hl);
        host[hl] = '\0';
        port_s = colon + 1;
    }
    uint64_t port;
    if (parse_number(port_s, false, &port) != HK_OK || port > 65535)
        return HK_ERR_INVALID;
    if (host[0])
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", host);
    cfg->listen_port = (uint16_t)port;
    return HK_OK;
}

static hk_err parse_list(char (*list)[256], unsigned *n, const char *v)
{
    unsigned count = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        size_t len = (size_t)(t - p);
        if (count >= HK_SERVER_MAX_LIST || len >= 256) return HK_ERR_LIMIT;
        memcpy(list[count], p, len);
        list[count][len] = '\0';
        count++;
        p = e;
    }
    *n = count;
    return HK_OK;
}

static hk_err apply(hk_server_config *cfg, const opt_def *o, const char *v,
                    const char *from, hk_error *err)
{
    char *base = (char *)cfg;
    uint64_t n = 0;
    switch (o->kind) {
    case OPT_STR: {
        if (strlen(v) >= o->size)
            return hk_error_set(err, HK_ERR_LIMIT, "%s: %s is too long", from,
                                o->name);
        char why[300];
        if (hk_otel_check_value(o->name, v, why, sizeof why) != HK_OK)
            return hk_error_set(err, HK_ERR_INVALID, "%s: %s: %s", from,
                                o->name, why);
        snprintf(base + o->offset, o->size, "%s", v);
        return HK_OK;
    }
    case OPT_BOOL: {
        bool b;
        if (parse_bool(v, &b) != HK_OK)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: %s wants true or false, not '%s'", from,
                                o->name, v);
        *(bool *)(base + o->offset) = b;
        return HK_OK;
    }
    case OPT_UINT:
    case OPT_SIZE:
        if (parse_number(v, o->kind == OPT_SIZE, &n) != HK_OK)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: %s wants a number, not '%s'", from,
                                o->name, v);
        if (n < o->min || n > o->size)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: %s must be between %llu and %llu", from,
                                o->name, (unsigned long long)o->min,
                                (unsigned long long)o->size);
        if (o->kind == OPT_SIZE) {
            if (o->offset == offsetof(hk_server_config, map_size))
                cfg->map_size = n;
            else
                *(size_t *)(base + o->offset) = (size_t)n;
        } else if (o->offset == offsetof(hk_server_config, threads) ||
                   o->offset == offsetof(hk_server_config, pool_threads)) {
            *(unsigned *)(base + o->offset) = (unsigned)n;
        } else {
            *(uint32_t *)(base + o->offset) = (uint32_t)n;
        }
        return HK_OK;
    case OPT_LISTEN:
        if (parse_listen(cfg, v) != HK_OK)
            return hk_error_set(err, HK_ERR_INVALID,
                                "%s: listen wants HOST:PORT, not '%s'", from,
                                v);
        return HK_OK;
    case OPT_LIST: {
        hk_err rc;
        if (o->offset == offsetof(hk_server_config, allowed_hosts))
            rc = parse_list(cfg->allowed_hosts, &cfg->n_allowed_hosts, v);
        else
            rc = parse_list(cfg->allowed_origins, &cfg->n_allowed_origins, v);
        if (rc != HK_OK)
            return hk_error_set(err, rc,
                                "%s: %s takes at most %d entries of < 256 "
                                "bytes",
                                from, o->name, HK_SERVER_MAX_LIST);
        return HK_OK;
    }
    }
    return hk_error_set(err, HK_ERR_INVALID, "%s: unknown option kind", from);
}

/* ==== Sources ==== */

/* A usage error (unknown option, missing value): err->field is "usage" so
 * that the command exits with the usage code. */
static hk_err usage_error(hk_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static hk_err usage_error(hk_error *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hk_error_set(err, HK_ERR_INVALID, "%s", msg);
    if (err) snprintf(err->field, sizeof(err->field), "usage");
    return HK_ERR_INVALID;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Longest config line, newline excluded (longer lines are refused). */
#define CONFIG_LINE_MAX 8191

/* Reads a config file into cfg. Without `issue` the first bad line ends
 * the read (err names it); with it, every bad line is reported through
 * issue(ud, line, message) and the read goes on (err then holds the last
 * one). */
static hk_err load_file_ex(hk_server_config *cfg, const char *path,
                           hk_error *err, hk_config_issue_fn issue, void *ud,
                           unsigned *n_bad)
{
    unsigned bad = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return hk_error_set(err, HK_ERR_IO, "config %s: %s", path,
                            strerror(errno));
    char line[CONFIG_LINE_MAX + 1];
    uint64_t lineno = 0;
    hk_err rc = HK_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        /* A line that does not fit is refused, never split: its tail
         * would be read as a line of its own (a commented-out setting
         * could come alive). */
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            int next = getc(f);
            if (next != EOF && next != '\n') {
                rc = hk_error_set(err, HK_ERR_INVALID,
                                  "config %s:%llu: line longer than %d bytes",
                                  path, (unsigned long long)lineno,
                                  CONFIG_LINE_MAX);
                if (!issue) break;
                /* skip the rest of the long line */
                while (next != EOF && next != '\n')
                    next = getc(f);
                goto bad_line;
            }
        }
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "config %s:%llu: expected `name = value`", path,
                              (unsigned long long)lineno);
            if (!issue) break;
            goto bad_line;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        if (!strncmp(key, "OTEL_", 5)) /* the environment's spelling */
            for (char *k = key; *k; k++)
                *k = *k == '_' ? '-' : (char)tolower((unsigned char)*k);
        const opt_def *o = find_opt(key, strlen(key));
        if (!o) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "config %s:%llu: unknown setting '%s'", path,
                              (unsigned long long)lineno, key);
            if (!issue) break;
            goto bad_line;
        }
        char from[4200];
        snprintf(from, sizeof(from), "config %s:%llu", path,
                 (unsigned long long)lineno);
        rc = apply(cfg, o, val, from, err);
        if (rc == HK_OK) continue;
        if (!issue) break;
    bad_line:
        bad++;
        issue(ud, lineno, err ? err->message : "invalid");
        rc = HK_OK;
    }
    if (n_bad) *n_bad = bad;
    if (rc == HK_OK && bad) rc = HK_ERR_INVALID;
    if (rc == HK_OK && ferror(f))
        rc = hk_error_set(err, HK_ERR_IO, "config %s: read error", path);
    fclose(f);
    if (err && rc != HK_OK && !issue) err->line = lineno;
    return rc;
}

static hk_err load_file(hk_server_config *cfg, const char *path, hk_error *err)
{
    return load_file_ex(cfg, path, err, NULL, NULL, NULL);
}

hk_err hk_config_check_file(const char *path, hk_config_issue_fn issue,
                            void *ud, unsigned *n_bad, hk_error *err)
{
    hk_server_config *cfg = hk_malloc(sizeof *cfg);
    if (!cfg) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_config_defaults(cfg);
    *n_bad = 0;
    hk_err rc = load_file_ex(cfg, path, err, issue, ud, n_bad);
    if (rc == HK_OK && (cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0'))
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "config %s: tls-cert and tls-key go together", path);
    hk_free(cfg);
    return rc;
}

static hk_err load_env(hk_server_config *cfg, hk_error *err)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        /* OTEL_* settings keep their standard names. */
        char env[96] = "HAKGAL_";
        size_t p = strncmp(k_opts[i].name, "otel-", 5) ? strlen(env) : 0;
        for (const char *c = k_opts[i].name; *c && p < sizeof(env) - 1; c++)
            env[p++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        env[p] = '\0';
        const char *v = getenv(env);
        if (!v) continue;
        hk_err rc = apply(cfg, &k_opts[i], v, env, err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

hk_err hk_config_load(hk_server_config *cfg, int argc, char **argv,
                      bool *help_shown, hk_error *err)
{
    *help_shown = false;
    /* First pass: --help and --config. */
    const char *config_path = getenv("HAKGAL_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            hk_config_print_help(stdout);
            *help_shown = true;
            return HK_OK;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return usage_error(err, "--config needs a file name");
            config_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_path = argv[i] + 9;
        }
    }
    hk_err rc;
    if (config_path && *config_path) {
        rc = load_file(cfg, config_path, err);
        if (rc != HK_OK) return rc;
    }
    rc = load_env(cfg, err);
    if (rc != HK_OK) return rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        /* The CLI's global --json (hakgal --json serve): the server always
         * answers JSON, so it changes nothing here. */
        if (!strcmp(a, "--json")) continue;
        if (strncmp(a, "--", 2) != 0)
            return usage_error(err, "unexpected argument '%s' (see --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const opt_def *o = find_opt(name, nl);
        if (!o) return usage_error(err, "unknown option '%s' (see --help)", a);
        const char *v;
        if (o->kind == OPT_BOOL && !eq) {
            v = "true";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc) return usage_error(err, "%s needs a value", a);
            v = argv[++i];
        }
        rc = apply(cfg, o, v, "flag", err);
        if (rc != HK_OK) return rc;
    }
    if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0'))
        return hk_error_set(err, HK_ERR_INVALID,
                            "--tls-cert and --tls-key go together");
    if (cfg->wal && (cfg->no_sync || cfg->follow_url[0] || cfg->repl_url[0]))
        return hk_error_set(err, HK_ERR_INVALID,
                            "--wal cannot be combined with --no-sync, "
                            "--follow or --replicate");
    if (cfg->default_limit > cfg->max_limit)
        cfg->default_limit = cfg->max_limit;
    return HK_OK;
}
