/*
 * mcp_bench.c — latency of MCP tools/call over Streamable HTTP.
 *
 * A minimal HTTP/1.1 keep-alive client (one connection, one request at a
 * time, so the numbers are per-call latency, not throughput): it opens a
 * 2025-11-25 session with initialize, then times `samples` calls of
 * search_knowledge and of query_related, each with a name taken round-robin
 * from a word list (one per line), and prints p50/p90/p99/mean/max in
 * microseconds plus one JSON line per tool. Each answer is checked: HTTP 200,
 * a JSON-RPC result, no isError. Standalone (libc only) so that bench/mcp/
 * run.sh can build it with cc; not part of the CMake build.
 *
 * Usage: mcp_bench HOST PORT WORDS_FILE SAMPLES
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORDS 100000
#define RESP_MAX (64u << 20)

static int fd = -1;
static char *resp;        /* last response body */
static size_t resp_len;   /* its length */
static char session[128]; /* Mcp-Session-Id */
static int last_status;   /* HTTP status */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *m)
{
    fprintf(stderr, "mcp_bench: %s\n", m);
    exit(1);
}

static void send_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) die("write failed");
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one response (Content-Length or chunked) into resp. */
static void read_response(void)
{
    static char buf[1 << 16];
    static size_t have = 0;
    char *hdr_end = NULL;
    for (;;) {
        if (have) hdr_end = memmem(buf, have, "\r\n\r\n", 4);
        if (hdr_end) break;
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0) die("connection closed");
        have += (size_t)r;
    }
    size_t hlen = (size_t)(hdr_end - buf) + 4;
    buf[hlen - 1] = '\0';
    last_status = atoi(buf + 9);
    long clen = -1;
    int chunked = 0;
    for (char *line = strstr(buf, "\r\n"); line && line < buf + hlen;
         line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (!strncasecmp(l, "content-length:", 15)) clen = atol(l + 15);
        if (!strncasecmp(l, "transfer-encoding:", 18) && strstr(l, "chunked"))
            chunked = 1;
        if (!strncasecmp(l, "mcp-session-id:", 15)) {
            char *v = l + 15;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            if (k < sizeof session) {
                memcpy(session, v, k);
                session[k] = '\0';
            }
        }
    }
    memmove(buf, buf + hlen, have - hlen);
    have -= hlen;
    resp_len = 0;
    if (!chunked) {
        if (clen < 0 || (size_t)clen > RESP_MAX) die("no content-length");
        while (have < (size_t)clen) {
            ssize_t r = read(fd, buf + have, sizeof buf - have);
            if (r <= 0) die("short body");
            have += (size_t)r;
            if (have == sizeof buf && have < (size_t)clen) {
                memcpy(resp + resp_len, buf, have);
                resp_len += have;
                clen -= (long)have;
                have = 0;
            }
        }
        memcpy(resp + resp_len, buf, (size_t)clen);
        resp_len += (size_t)clen;
        memmove(buf, buf + clen, have - (size_t)clen);
        have -= (size_t)clen;
    } else {
        for (;;) { /* chunk size line */
            char *eol;
            while (!(eol = memmem(buf, have, "\r\n", 2))) {
                ssize_t r = read(fd, buf + have, sizeof buf - have);
                if (r <= 0) die("short chunk");
                have += (size_t)r;
            }
            size_t sz = strtoul(buf, NULL, 16);
            size_t skip = (size_t)(eol - buf) + 2;
            while (have < skip + sz + 2) {
                ssize_t r = read(fd, buf + have, sizeof buf - have);
                if (r <= 0) die("short chunk data");
                have += (size_t)r;
            }
            memcpy(resp + resp_len, buf + skip, sz);
            resp_len += sz;
            memmove(buf, buf + skip + sz + 2, have - skip - sz - 2);
            have -= skip + sz + 2;
            if (sz == 0) break;
        }
    }
    resp[resp_len] = '\0';
}

static void post(const char *host, int port, const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "POST /mcp HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\n"
                     "MCP-Protocol-Version: 2025-11-25\r\n"
                     "%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     host, port, session[0] ? "Mcp-Session-Id: " : "", session,
                     session[0] ? "\r\n" : "", strlen(body));
    send_all(head, (size_t)n);
    send_all(body, strlen(body));
    read_response();
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) die("usage: mcp_bench HOST PORT WORDS_FILE SAMPLES");
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int samples = atoi(argv[4]);
    resp = malloc(RESP_MAX + 1);
    char **words = calloc(MAX_WORDS, sizeof *words);
    size_t n_words = 0;
    FILE *wf = fopen(argv[3], "r");
    if (!wf || !resp || !words) die("cannot read the word list");
    char line[512];
    while (n_words < MAX_WORDS && fgets(line, sizeof line, wf)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && !strpbrk(line, "\"\\")) words[n_words++] = strdup(line);
    }
    fclose(wf);
    if (!n_words) die("empty word list");

    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect failed");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    post(host, port,
         "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
         "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
         "\"clientInfo\":{\"name\":\"mcp_bench\",\"version\":\"1\"}}}");
    if (last_status != 200 || !session[0]) die("initialize failed");
    post(host, port,
         "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

    static const char *const tools[2] = {"search_knowledge", "query_related"};
    static const char *const keys[2] = {"query", "entity"};
    double *lat = malloc(sizeof(double) * (size_t)samples);
    char body[1024];
    for (int t = 0; t < 2; t++) {
        size_t bytes = 0;
        /* warm-up: 200 calls */
        for (int i = -200; i < samples; i++) {
            const char *w = words[((size_t)(i + 200) * 7919u) % n_words];
            snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/"
                     "call\",\"params\":"
                     "{\"name\":\"%s\",\"arguments\":{\"%s\":\"%s\"}}}",
                     i + 1000, tools[t], keys[t], w);
            double t0 = now_us();
            post(host, port, body);
            double dt = now_us() - t0;
            if (last_status != 200 || !strstr(resp, "\"result\"") ||
                strstr(resp, "\"isError\":true")) {
                fprintf(stderr, "bad answer (%d): %.300s\n", last_status, resp);
                return 1;
            }
            if (i >= 0) {
                lat[i] = dt;
                bytes += resp_len;
            }
        }
        double sum = 0;
        for (int i = 0; i < samples; i++)
            sum += lat[i];
        qsort(lat, (size_t)samples, sizeof *lat, cmp_d);
        double p50 = lat[samples / 2], p90 = lat[samples * 9 / 10],
               p99 = lat[samples * 99 / 100], mx = lat[samples - 1];
        printf("%-17s n=%d  p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  mean "
               "%7.1f us  max %8.1f us  (avg answer %zu bytes)\n",
               tools[t], samples, p50, p90, p99, sum / samples, mx,
               bytes / (size_t)samples);
        printf("{\"tool\":\"%s\",\"samples\":%d,\"p50_us\":%.1f,\"p90_us\":%."
               "1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"max_us\":%.1f,\"avg_"
               "bytes\":%zu}\n",
               tools[t], samples, p50, p90, p99, sum / samples, mx,
               bytes / (size_t)samples);
    }
    close(fd);
    return 0;
}
