/*
 * fuzz_http.c — libFuzzer target for the HTTP request path: raw bytes on
 * a TCP connection to a real `hakgal serve` running in this process
 * (h2o's parser, the gate, the router, every REST handler and /mcp).
 *
 * Once per run: a KB with a few facts in a scratch directory under
 * $HK_TEST_TMP, a free loopback port, and hk_cmd_serve on its own thread
 * (one event loop, a write token "fuzz" so that both anonymous and
 * authenticated paths exist; SIGTERM/SIGINT are blocked on every other
 * thread, as the server expects, and at exit SIGTERM stops it and the
 * thread is joined, so leaks are checked after a clean shutdown).
 * Every input is written as one connection's bytes (the first byte, mod 4,
 * chooses how many pieces it is cut into, to reach the parser's partial
 * states), the write side is shut down, and the answer is read until the
 * server closes (or 2 s pass). Properties beyond "no crash, no leak":
 *   - the server accepts a new connection after every input;
 *   - whatever comes back starts with an HTTP/1.x status line.
 * Writes the fuzzer makes (POST /v2/facts with the token) change the KB;
 * that is intended, as in fuzz_mcp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/sha256.h"
#include "hakgal.h"
#include "server/server.h"

static char g_root[4096];   /* scratch directory */
static char g_data[4200];   /* the KB */
static char g_tokens[4200]; /* the token file */
static char g_port[16];     /* the listening port */
static uint16_t g_port_n;
static pthread_t g_thread;
static int g_serve_rc = -1;

/* LeakSanitizer: h2o 2.2 keeps per-thread buffers and queues after its
 * loops exit (tests/e2e/test_server_lsan.supp says the same). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libh2o-evloop.so\n";
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, strerror(errno));
    abort();
}

static void *serve_main(void *arg)
{
    (void)arg;
    char *argv[] = {"serve",     "--data", g_data,     "--listen", NULL,
                    "--threads", "1",      "--tokens", g_tokens,   NULL};
    static char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", g_port);
    argv[4] = listen;
    g_serve_rc = hk_cmd_serve(9, argv);
    return NULL;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(g_port_n);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void stop_server(void)
{
    pthread_kill(g_thread, SIGTERM);
    pthread_join(g_thread, NULL);
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (g_serve_rc != 0) {
        fprintf(stderr, "fuzz_http: the server exited with %d\n", g_serve_rc);
        _exit(1);
    }
}

static void setup(void)
{
    const char *tmp = getenv("HK_TEST_TMP");
    snprintf(g_root, sizeof g_root, "%s/fuzz-http-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root)) die("mkdtemp");
    snprintf(g_data, sizeof g_data, "%s/kb", g_root);
    snprintf(g_tokens, sizeof g_tokens, "%s/tokens", g_root);
    uint8_t h[32];
    char hex[65];
    hk_sha256("fuzz", 4, h);
    hk_hex(h, 32, hex);
    FILE *f = fopen(g_tokens, "w");
    if (!f || fprintf(f, "fuzzer write %s\n", hex) < 0 || fclose(f) != 0)
        die("token file");

    hk_store_options so;
    memset(&so, 0, sizeof so);
    so.create = true;
    hk_store *s = NULL;
    hk_error err;
    if (hk_store_open(g_data, &so, &s, &err) != HK_OK) {
        fprintf(stderr, "fuzz_http: %s\n", err.message);
        abort();
    }
    static const char *const facts[] = {
        "HasPart(Computer, CPU)", "HasPart(Computer, Memory)",
        "MadeBy(CPU, Intel)", "Bond(NH3, nitrogen, hydrogen)",
        "FoundedIn(Intel, 1968)"};
    hk_txn *t = NULL;
    if (hk_txn_begin(s, true, &t, &err) != HK_OK) abort();
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        hk_statement st;
        if (hk_statement_parse(facts[i], strlen(facts[i]), &st, &err) !=
                HK_OK ||
            hk_store_add(t, &st, NULL, NULL, NULL, &err) != HK_OK)
            abort();
        hk_statement_release(&st);
    }
    if (hk_txn_commit(t, &err) != HK_OK) abort();
    hk_store_close(s);

    /* a free port: bind to 0, read it back, release it for the server */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        die("port");
    g_port_n = ntohs(a.sin_port);
    snprintf(g_port, sizeof g_port, "%u", g_port_n);
    close(fd);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&g_thread, NULL, serve_main, NULL) != 0)
        die("pthread_create");
    for (int i = 0; i < 600; i++) { /* up to 60 s on a loaded machine */
        int c = connect_server();
        if (c >= 0) {
            close(c);
            atexit(stop_server);
            return;
        }
        if (g_serve_rc != -1) {
            fprintf(stderr, "fuzz_http: serve exited with %d\n", g_serve_rc);
            abort();
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "fuzz_http: the server did not start\n");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    int fd = connect_server();
    if (fd < 0) {
        fprintf(stderr, "fuzz_http: the server stopped accepting "
                        "connections\n");
        abort();
    }
    size_t pieces = size ? 1 + data[0] % 4 : 1;
    size_t off = 0;
    for (size_t p = 0; p < pieces && off < size; p++) {
        size_t n = p + 1 == pieces ? size - off : (size - off) / 2;
        while (n > 0) {
            ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL);
            if (w <= 0) {
                n = 0; /* the server closed: it may, on bad input */
                off = size;
                break;
            }
            off += (size_t)w;
            n -= (size_t)w;
        }
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    size_t got = 0;
    char head[9] = {0};
    for (int i = 0; i < 1024; i++) { /* at most 64 MiB read */
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        if (got < 8)
            memcpy(head + got, buf, (size_t)r < 8 - got ? (size_t)r : 8 - got);
        got += (size_t)r;
    }
    close(fd);
    if (got >= 8 && memcmp(head, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: an answer without a status line: %.8s\n",
                head);
        abort();
    }
    return 0;
}
