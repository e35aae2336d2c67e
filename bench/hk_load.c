/*
 * hk_load — HTTP/1.1 load generator for many concurrent keep-alive
 * connections: the seed's load test (10,000 virtual users, 90 % reads,
 * 10 % single-fact writes, p99 < 100 ms, errors < 1 %) on a machine where
 * k6 is not installed. bench/k6/hakgal.js is the same test for k6.
 *
 *   hk_load --port P [--host 127.0.0.1] [--conns 10000] [--duration 30]
 *           [--think-ms 1000] [--write-pct 10] [--read PATH]...
 *           [--id-max N] [--write-path /v2/facts] [--token T]
 *           [--ramp-s 5] [--warmup-s 5] [--timeout-ms 10000] [--json FILE]
 *           [--tag NAME] [--subjects N] [--source S]
 *
 * Model (as k6 virtual users): every connection is one user that sends a
 * request, reads the whole answer, waits --think-ms (uniform 0.5x..1.5x,
 * so that users do not stay in lock step; 0 = closed loop) and sends the
 * next one on the same keep-alive connection. A request is a write with
 * probability --write-pct %: POST --write-path with a new fact
 * {"statement":"LoadTest(uU, nN)"} (unique per request: U is the user,
 * N its request count); with --subjects K, U is the user modulo K and N
 * counts the run's writes, so that K subjects gather every fact as in
 * bench/http/post.lua (--subjects 2 --source wrk is that script's
 * workload: two subjects, a new object per fact, a source); otherwise a GET
 * of one of the --read paths in turn, where "%u" in a path becomes a
 * random number in 1..--id-max (e.g. /v2/facts/%u). Connections open
 * evenly over --ramp-s seconds; requests of the first --warmup-s seconds
 * after the ramp are not counted.
 *
 * Measured: latency from the first byte sent to the last byte of the
 * answer; every sample is kept (4 bytes each) and sorted at the end, so
 * percentiles are exact. Errors: a status other than 2xx, a connection
 * reset or closed before the whole answer, a failed connect, an answer
 * slower than --timeout-ms. A failed connection reconnects. Output: one
 * summary table on stdout, and with --json the same as one JSON object.
 *
 * Design: one thread, one epoll instance, edge-triggered sockets; think
 * times wait in a binary min-heap keyed by due time. Responses are parsed
 * as a stream (status line, headers, Content-Length or chunked body)
 * through one shared read buffer, so a connection holds ~300 bytes of
 * state and 10,000 of them fit easily. The generator sets RLIMIT_NOFILE to
 * what --conns needs.
 *
 * Cost per request (it shares the machine with the server it measures):
 * no allocation (the latency samples grow by doubling), the request's
 * fixed part formatted once at the start, one send per request, and one
 * recv per answer when the answer fits the read buffer: a read shorter
 * than the buffer emptied the socket, and with edge-triggered epoll any
 * later byte raises a new event, so the recv that would only say EAGAIN
 * is skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_READS 16     /* --read paths */
#define LINE_MAX_LEN 256 /* kept bytes of one header line */
#define REQ_MAX 1024     /* bytes of one request */

/* ==== Options and counters ==== */

typedef struct opts {
    const char *host;             /* server address (IPv4) */
    int port;                     /* server port */
    unsigned conns;               /* concurrent connections (users) */
    double duration_s;            /* measured seconds, after ramp and warm-up */
    double think_ms;              /* mean pause between requests of a user */
    double write_pct;             /* share of writes, percent */
    const char *reads[MAX_READS]; /* GET paths, "%u" = random id */
    unsigned n_reads;             /* entries of reads */
    unsigned id_max;              /* upper bound of the random id */
    const char *write_path;       /* POST target */
    const char *token;            /* bearer token, or NULL */
    double ramp_s;                /* seconds over which connections open */
    double warmup_s;              /* seconds not counted after the ramp */
    double timeout_ms;            /* slower answers count as errors */
    const char *json;             /* JSON result file, or NULL */
    const char *tag;              /* label of the run in the output */
    unsigned subjects;            /* write subjects shared by all users (0:
                                     one per user) */
    const char *source;           /* "source" of written facts, or NULL */
} opts;

typedef struct samples {
    uint32_t *us; /* latencies, microseconds */
    size_t n;     /* used */
    size_t cap;   /* allocated */
} samples;

typedef struct stats {
    samples reads;       /* GET latencies */
    samples writes;      /* POST latencies */
    uint64_t status_err; /* answers with a status other than 2xx */
    uint64_t conn_err;   /* resets, early closes, failed connects */
    uint64_t timeouts;   /* answers slower than --timeout-ms */
    uint64_t connects;   /* successful connects */
    unsigned open_now;   /* connections established now */
    unsigned open_max;   /* most established at once */
    uint64_t bytes_in;   /* response bytes read while measuring */
} stats;

/* ==== Connections ==== */

typedef enum cstate {
    C_CLOSED,     /* no socket (waiting to open or reconnect) */
    C_CONNECTING, /* connect() in progress */
    C_THINKING,   /* connected, waiting in the heap */
    C_SENDING,    /* request partly written */
    C_HEADERS,    /* reading status line and headers */
    C_BODY,       /* reading a Content-Length body */
    C_CHUNK_SIZE, /* reading a chunk-size line */
    C_CHUNK_DATA, /* reading chunk data (+ CRLF) */
    C_TRAILER     /* reading trailer lines after the last chunk */
} cstate;

typedef struct conn {
    int fd;                  /* socket, -1 when closed */
    cstate st;               /* where it is */
    unsigned idx;            /* index (user id) */
    int heap_pos;            /* position in the timer heap, -1 if absent */
    int64_t due_us;          /* when the heap entry fires */
    int64_t sent_us;         /* when the current request started */
    bool is_write;           /* current request is a POST */
    bool close_after;        /* server said Connection: close */
    bool chunked;            /* Transfer-Encoding: chunked */
    int status;              /* status code of the current answer */
    uint64_t remaining;      /* body / chunk bytes still to read */
    uint64_t seq;            /* requests sent on this user */
    uint16_t req_len;        /* bytes of req */
    uint16_t req_off;        /* bytes of req written */
    uint16_t line_len;       /* bytes in line */
    char line[LINE_MAX_LEN]; /* current header / chunk-size line */
    char req[REQ_MAX];       /* current request */
} conn;

static volatile sig_atomic_t g_stop; /* SIGINT: finish early */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull; /* xorshift64 state */

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static int sample_add(samples *s, uint32_t us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        uint32_t *p = realloc(s->us, cap * sizeof(*p));
        if (!p) return -1;
        s->us = p;
        s->cap = cap;
    }
    s->us[s->n++] = us;
    return 0;
}

/* ==== Timer heap (min by due_us) ==== */

typedef struct heap {
    conn **v;   /* entries */
    unsigned n; /* used */
} heap;

static void heap_swap(heap *h, unsigned a, unsigned b)
{
    conn *t = h->v[a];
    h->v[a] = h->v[b];
    h->v[b] = t;
    h->v[a]->heap_pos = (int)a;
    h->v[b]->heap_pos = (int)b;
}

static void heap_up(heap *h, unsigned i)
{
    while (i > 0) {
        unsigned p = (i - 1) / 2;
        if (h->v[p]->due_us <= h->v[i]->due_us) break;
        heap_swap(h, i, p);
        i = p;
    }
}

static void heap_down(heap *h, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l]->due_us < h->v[m]->due_us) m = l;
        if (r < h->n && h->v[r]->due_us < h->v[m]->due_us) m = r;
        if (m == i) break;
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_push(heap *h, conn *c, int64_t due)
{
    c->due_us = due;
    c->heap_pos = (int)h->n;
    h->v[h->n++] = c;
    heap_up(h, h->n - 1);
}

static conn *heap_pop(heap *h)
{
    conn *c = h->v[0];
    c->heap_pos = -1;
    h->n--;
    if (h->n) {
        h->v[0] = h->v[h->n];
        h->v[0]->heap_pos = 0;
        heap_down(h, 0);
    }
    return c;
}

/* ==== The run ==== */

typedef struct run {
    opts o;                      /* options */
    int ep;                      /* epoll descriptor */
    conn *c;                     /* o.conns connections */
    heap h;                      /* users waiting to send or to connect */
    stats s;                     /* results */
    struct sockaddr_in sa;       /* server address */
    int64_t t_start;             /* run start */
    int64_t t_measure;           /* measuring from */
    int64_t t_end;               /* measuring until */
    unsigned next_read;          /* round-robin over o.reads */
    uint64_t n_writes;           /* writes built so far (--subjects objects) */
    char post_head[REQ_MAX / 2]; /* POST line and headers up to
                                    "Content-Length: " */
    size_t post_head_len;        /* bytes of post_head */
    char auth[300];              /* Authorization header line, or "" */
    char rbuf[65536];            /* shared read buffer */
} run;

static bool measuring(const run *r, int64_t t)
{
    return t >= r->t_measure && t < r->t_end;
}

static void conn_close(run *r, conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        if (c->st != C_CONNECTING && r->s.open_now) r->s.open_now--;
    }
    c->fd = -1;
    c->st = C_CLOSED;
}

/* A connection failed: counted when the failure hit a request in flight
 * (or a connect) inside the measured window; reconnects after 100 ms. */
static void conn_fail(run *r, conn *c, int64_t t)
{
    bool in_flight = c->st != C_THINKING && c->st != C_CLOSED;
    if (in_flight && measuring(r, c->sent_us ? c->sent_us : t)) r->s.conn_err++;
    conn_close(r, c);
    if (c->heap_pos < 0) heap_push(&r->h, c, t + 100000);
}

static int conn_open(run *r, conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->sent_us = 0;
    if (connect(fd, (struct sockaddr *)&r->sa, sizeof(r->sa)) != 0 &&
        errno != EINPROGRESS) {
        c->st = C_CONNECTING;
        return -1;
    }
    c->st = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                             .data.ptr = c};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
    return 0;
}

/* The fixed part of every POST, formatted once (main checks the lengths
 * of host, token and path against post_head's size). */
static void build_post_head(run *r)
{
    const opts *o = &r->o;
    if (o->token)
        snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s\r\n",
                 o->token);
    int n = snprintf(r->post_head, sizeof(r->post_head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\n%s"
                     "Content-Type: application/json\r\n"
                     "Content-Length: ",
                     o->write_path, o->host, r->auth);
    r->post_head_len =
        n > 0 && (size_t)n < sizeof(r->post_head) ? (size_t)n : 0;
}

/* Writes v in decimal at p; returns the digits written (at most 20). */
static size_t put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* A POST of a new fact into c->req: the head formatted at the start, the
 * body's length and the body. Returns the request's bytes. */
static int build_post(run *r, conn *c)
{
    const opts *o = &r->o;
    char body[400];
    unsigned subj = o->subjects ? c->idx % o->subjects : c->idx;
    unsigned long long obj =
        (unsigned long long)(o->subjects ? r->n_writes : c->seq);
    r->n_writes++;
    int bl;
    if (o->source)
        bl = snprintf(body, sizeof(body),
                      "{\"statement\":\"LoadTest(u%u, n%llu)\","
                      "\"source\":\"%s\"}",
                      subj, obj, o->source);
    else
        bl = snprintf(body, sizeof(body),
                      "{\"statement\":\"LoadTest(u%u, n%llu)\"}", subj, obj);
    if (bl <= 0 || (size_t)bl >= sizeof(body) || !r->post_head_len ||
        r->post_head_len + 24 + (size_t)bl > sizeof(c->req))
        return 0;
    char *p = c->req;
    memcpy(p, r->post_head, r->post_head_len);
    p += r->post_head_len;
    p += put_u64(p, (uint64_t)bl);
    memcpy(p, "\r\n\r\n", 4);
    p += 4;
    memcpy(p, body, (size_t)bl);
    p += bl;
    return (int)(p - c->req);
}

static void build_request(run *r, conn *c)
{
    const opts *o = &r->o;
    int n;
    c->is_write = o->write_pct >= 100 || rnd01() * 100.0 < o->write_pct;
    if (c->is_write) {
        n = build_post(r, c);
    } else {
        const char *tpl = o->reads[r->next_read++ % o->n_reads];
        char path[512];
        const char *pct = strstr(tpl, "%u");
        if (pct)
            snprintf(path, sizeof(path), "%.*s%u%s", (int)(pct - tpl), tpl,
                     (unsigned)(1 + rnd() % o->id_max), pct + 2);
        else
            snprintf(path, sizeof(path), "%s", tpl);
        n = snprintf(c->req, sizeof(c->req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, o->host,
                     r->auth);
    }
    c->req_len = (uint16_t)(n > 0 && n < (int)sizeof(c->req) ? n : 0);
    c->req_off = 0;
    c->seq++;
}

static void try_send(run *r, conn *c, int64_t t)
{
    while (c->req_off < c->req_len) {
        ssize_t w = send(c->fd, c->req + c->req_off, c->req_len - c->req_off,
                         MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) return; /* EPOLLOUT resumes */
            conn_fail(r, c, t);
            return;
        }
        c->req_off = (uint16_t)(c->req_off + w);
    }
    c->st = C_HEADERS;
    c->line_len = 0;
    c->status = 0;
    c->chunked = false;
    c->close_after = false;
    c->remaining = UINT64_MAX; /* no Content-Length seen yet */
}

static void start_request(run *r, conn *c, int64_t t)
{
    build_request(r, c);
    c->sent_us = t;
    c->st = C_SENDING;
    try_send(r, c, t);
}

static void schedule_next(run *r, conn *c, int64_t t)
{
    double think = r->o.think_ms * (0.5 + rnd01()) * 1000.0;
    if (r->o.think_ms <= 0) {
        start_request(r, c, t);
        return;
    }
    c->st = C_THINKING;
    heap_push(&r->h, c, t + (int64_t)think);
}

/* The whole answer arrived. */
static void finish(run *r, conn *c, int64_t t)
{
    int64_t lat = t - c->sent_us;
    if (measuring(r, c->sent_us)) {
        if (lat > (int64_t)(r->o.timeout_ms * 1000))
            r->s.timeouts++;
        else if (c->status < 200 || c->status > 299)
            r->s.status_err++;
        else
            sample_add(c->is_write ? &r->s.writes : &r->s.reads,
                       (uint32_t)(lat > UINT32_MAX ? UINT32_MAX : lat));
    }
    if (c->close_after) {
        conn_close(r, c);
        heap_push(&r->h, c, t);
        return;
    }
    schedule_next(r, c, t);
}

/* One complete header line (without CRLF) in c->line. Returns false when
 * the headers ended. */
static bool header_line(conn *c)
{
    c->line[c->line_len < LINE_MAX_LEN ? c->line_len : LINE_MAX_LEN - 1] = 0;
    if (c->line_len == 0) return false;
    if (c->status == 0) {
        if (strncmp(c->line, "HTTP/1.", 7) == 0 && strlen(c->line) >= 12)
            c->status = atoi(c->line + 9);
        else
            c->status = 999;
    } else if (strncasecmp(c->line, "content-length:", 15) == 0) {
        c->remaining = strtoull(c->line + 15, NULL, 10);
    } else if (strncasecmp(c->line, "transfer-encoding:", 18) == 0) {
        c->chunked = strcasestr(c->line + 18, "chunked") != NULL;
    } else if (strncasecmp(c->line, "connection:", 11) == 0) {
        c->close_after = strcasestr(c->line + 11, "close") != NULL;
    }
    return true;
}

/* Feeds n bytes of the answer to the parser. Returns the bytes consumed
 * (fewer than n only if the answer ended: extra bytes are an error). */
static size_t feed(run *r, conn *c, const char *p, size_t n, int64_t t,
                   bool *done)
{
    size_t i = 0;
    *done = false;
    while (i < n && !*done) {
        switch (c->st) {
        case C_HEADERS:
        case C_CHUNK_SIZE:
        case C_TRAILER: {
            char ch = p[i++];
            if (ch == '\r') break;
            if (ch != '\n') {
                if (c->line_len < LINE_MAX_LEN - 1) c->line[c->line_len] = ch;
                c->line_len++;
                break;
            }
            if (c->st == C_HEADERS) {
                if (header_line(c)) {
                    c->line_len = 0;
                    break;
                }
                c->line_len = 0;
                if (c->chunked) {
                    c->st = C_CHUNK_SIZE;
                } else if (c->remaining == UINT64_MAX || c->remaining == 0) {
                    c->remaining = 0; /* no body (e.g. 204) */
                    *done = true;
                } else {
                    c->st = C_BODY;
                }
            } else if (c->st == C_CHUNK_SIZE) {
                c->line[c->line_len < LINE_MAX_LEN ? c->line_len
                                                   : LINE_MAX_LEN - 1] = 0;
                c->remaining = strtoull(c->line, NULL, 16);
                c->line_len = 0;
                if (c->remaining == 0)
                    c->st = C_TRAILER;
                else {
                    c->remaining += 2; /* the CRLF after the data */
                    c->st = C_CHUNK_DATA;
                }
            } else { /* trailer: an empty line ends the answer */
                bool end = c->line_len == 0;
                c->line_len = 0;
                if (end) *done = true;
            }
            break;
        }
        case C_BODY:
        case C_CHUNK_DATA: {
            size_t take = n - i;
            if (take > c->remaining) take = (size_t)c->remaining;
            i += take;
            c->remaining -= take;
            if (c->remaining == 0) {
                if (c->st == C_BODY)
                    *done = true;
                else
                    c->st = C_CHUNK_SIZE;
            }
            break;
        }
        default:
            return i;
        }
    }
    if (*done) finish(r, c, t);
    return i;
}

static void on_readable(run *r, conn *c, int64_t t)
{
    for (;;) {
        ssize_t got = recv(c->fd, r->rbuf, sizeof(r->rbuf), 0);
        if (got == 0) {
            conn_fail(r, c, t); /* closed by the server */
            return;
        }
        if (got < 0) {
            if (errno != EAGAIN) conn_fail(r, c, t);
            return;
        }
        if (measuring(r, t)) r->s.bytes_in += (uint64_t)got;
        size_t off = 0;
        while (off < (size_t)got) {
            if (c->st < C_HEADERS) { /* bytes nobody asked for */
                conn_fail(r, c, t);
                return;
            }
            bool done;
            off += feed(r, c, r->rbuf + off, (size_t)got - off, t, &done);
            if (c->fd < 0) return;
        }
        /* A short read emptied the socket; a later byte raises a new
         * edge (file comment). */
        if ((size_t)got < sizeof(r->rbuf)) return;
    }
}

static void on_event(run *r, conn *c, uint32_t ev, int64_t t)
{
    if (c->fd < 0) return;
    if (c->st == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            if (measuring(r, t)) r->s.conn_err++;
            conn_close(r, c);
            heap_push(&r->h, c, t + 100000);
            return;
        }
        if (!(ev & EPOLLOUT)) return;
        r->s.connects++;
        if (++r->s.open_now > r->s.open_max) r->s.open_max = r->s.open_now;
        schedule_next(r, c, t);
        return;
    }
    if (ev & EPOLLIN) on_readable(r, c, t);
    if (c->fd < 0) return;
    if (ev & (EPOLLERR | EPOLLHUP)) {
        conn_fail(r, c, t);
        return;
    }
    if ((ev & EPOLLOUT) && c->st == C_SENDING) try_send(r, c, t);
}

/* Due timers: open a connection, or send the next request. */
static void run_timers(run *r, int64_t t)
{
    while (r->h.n && r->h.v[0]->due_us <= t) {
        conn *c = heap_pop(&r->h);
        if (c->st == C_CLOSED) {
            if (conn_open(r, c) != 0) {
                if (measuring(r, t)) r->s.conn_err++;
                conn_close(r, c);
                heap_push(&r->h, c, t + 100000);
            }
        } else if (c->st == C_THINKING) {
            start_request(r, c, t);
        }
    }
}

/* Requests still unanswered at the end are errors if older than the
 * timeout; younger ones are not counted either way. */
static void count_stuck(run *r, int64_t t)
{
    for (unsigned i = 0; i < r->o.conns; i++) {
        conn *c = &r->c[i];
        if (c->st >= C_SENDING && measuring(r, c->sent_us) &&
            t - c->sent_us > (int64_t)(r->o.timeout_ms * 1000))
            r->s.timeouts++;
    }
}

/* ==== Report ==== */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct(const samples *s, double p)
{
    if (!s->n) return 0;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->us[i] / 1000.0;
}

static void report(run *r)
{
    stats *s = &r->s;
    /* An empty sample set has no buffer (us == NULL): never pass it on. */
    if (s->reads.n) qsort(s->reads.us, s->reads.n, sizeof(uint32_t), cmp_u32);
    if (s->writes.n)
        qsort(s->writes.us, s->writes.n, sizeof(uint32_t), cmp_u32);
    samples all = {0};
    all.n = s->reads.n + s->writes.n;
    all.us = malloc((all.n ? all.n : 1) * sizeof(uint32_t));
    if (!all.us) return;
    if (s->reads.n) memcpy(all.us, s->reads.us, s->reads.n * sizeof(uint32_t));
    if (s->writes.n)
        memcpy(all.us + s->reads.n, s->writes.us,
               s->writes.n * sizeof(uint32_t));
    if (all.n) qsort(all.us, all.n, sizeof(uint32_t), cmp_u32);
    uint64_t errors = s->status_err + s->conn_err + s->timeouts;
    double secs = (double)(r->t_end - r->t_measure) / 1e6;
    double total = (double)all.n + (double)errors;
    double err_pct = total > 0 ? 100.0 * (double)errors / total : 0;
    printf("%s: %u connections (max open %u), %.0f s measured, think %.0f "
           "ms\n",
           r->o.tag, r->o.conns, s->open_max, secs, r->o.think_ms);
    printf("  requests ok %zu (%.0f/s): reads %zu, writes %zu; errors %llu "
           "(%.3f %%: status %llu, connection %llu, timeout %llu)\n",
           all.n, (double)all.n / secs, s->reads.n, s->writes.n,
           (unsigned long long)errors, err_pct,
           (unsigned long long)s->status_err, (unsigned long long)s->conn_err,
           (unsigned long long)s->timeouts);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu =
        (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
        ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    double wall = (double)(now_us() - r->t_start) / 1e6;
    printf("  generator CPU %.1f s in %.1f s (%.0f %% of one core)\n", cpu,
           wall, 100.0 * cpu / wall);
    printf("  latency ms     p50     p90     p99   p99.9     max\n");
    const samples *sets[3] = {&all, &s->reads, &s->writes};
    const char *names[3] = {"all", "reads", "writes"};
    for (int k = 0; k < 3; k++)
        printf("  %-8s %9.2f %7.2f %7.2f %7.2f %7.2f\n", names[k],
               pct(sets[k], 50), pct(sets[k], 90), pct(sets[k], 99),
               pct(sets[k], 99.9), pct(sets[k], 100));
    if (r->o.json) {
        FILE *f = fopen(r->o.json, "w");
        if (f) {
            fprintf(f,
                    "{\"tag\":\"%s\",\"conns\":%u,\"open_max\":%u,"
                    "\"seconds\":%.3f,\"think_ms\":%.1f,\"write_pct\":%.1f,"
                    "\"ok\":%zu,\"rps\":%.1f,\"reads\":%zu,\"writes\":%zu,"
                    "\"errors\":%llu,\"error_pct\":%.4f,"
                    "\"status_errors\":%llu,\"conn_errors\":%llu,"
                    "\"timeouts\":%llu,\"bytes_in\":%llu,"
                    "\"gen_cpu_s\":%.2f,\"wall_s\":%.2f",
                    r->o.tag, r->o.conns, s->open_max, secs, r->o.think_ms,
                    r->o.write_pct, all.n, (double)all.n / secs, s->reads.n,
                    s->writes.n, (unsigned long long)errors, err_pct,
                    (unsigned long long)s->status_err,
                    (unsigned long long)s->conn_err,
                    (unsigned long long)s->timeouts,
                    (unsigned long long)s->bytes_in, cpu, wall);
            for (int k = 0; k < 3; k++)
                fprintf(f,
                        ",\"lat_%s\":{\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
                        "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}",
                        names[k], pct(sets[k], 50), pct(sets[k], 90),
                        pct(sets[k], 99), pct(sets[k], 99.9),
                        pct(sets[k], 100));
            fprintf(f, "}\n");
            fclose(f);
        }
    }
    free(all.us);
}

/* ==== Main ==== */

static void usage(void)
{
    fprintf(stderr,
            "usage: hk_load --port P [--host A] [--conns N] [--duration S]\n"
            "  [--think-ms MS] [--write-pct P] [--read PATH]... [--id-max "
            "N]\n"
            "  [--write-path PATH] [--token T] [--ramp-s S] [--warmup-s S]\n"
            "  [--timeout-ms MS] [--json FILE] [--tag NAME] [--subjects N]\n"
            "  [--source S]\n");
}

static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    static run r; /* large: the read buffer */
    opts *o = &r.o;
    *o = (opts){.host = "127.0.0.1",
                .conns = 10000,
                .duration_s = 30,
                .think_ms = 1000,
                .write_pct = 10,
                .id_max = 1000,
                .write_path = "/v2/facts",
                .ramp_s = 5,
                .warmup_s = 5,
                .timeout_ms = 10000,
                .tag = "hk_load"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 1;
        }
        i++;
        if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--conns"))
            o->conns = (unsigned)atoi(v);
        else if (!strcmp(a, "--duration"))
            o->duration_s = atof(v);
        else if (!strcmp(a, "--think-ms"))
            o->think_ms = atof(v);
        else if (!strcmp(a, "--write-pct"))
            o->write_pct = atof(v);
        else if (!strcmp(a, "--id-max"))
            o->id_max = (unsigned)atoi(v);
        else if (!strcmp(a, "--write-path"))
            o->write_path = v;
        else if (!strcmp(a, "--token"))
            o->token = v;
        else if (!strcmp(a, "--ramp-s"))
            o->ramp_s = atof(v);
        else if (!strcmp(a, "--warmup-s"))
            o->warmup_s = atof(v);
        else if (!strcmp(a, "--timeout-ms"))
            o->timeout_ms = atof(v);
        else if (!strcmp(a, "--json"))
            o->json = v;
        else if (!strcmp(a, "--tag"))
            o->tag = v;
        else if (!strcmp(a, "--subjects"))
            o->subjects = (unsigned)atoi(v);
        else if (!strcmp(a, "--source"))
            o->source = v;
        else if (!strcmp(a, "--read") && o->n_reads < MAX_READS)
            o->reads[o->n_reads++] = v;
        else {
            usage();
            return 1;
        }
    }
    if (o->port <= 0 || o->conns == 0 || o->id_max == 0 || o->duration_s <= 0 ||
        o->write_pct < 0 || o->write_pct > 100 || strlen(o->host) > 200 ||
        (o->token && strlen(o->token) > 250) || strlen(o->write_path) > 400 ||
        (o->source &&
         (strlen(o->source) > 200 || strpbrk(o->source, "\"\\"))) ||
        strlen(o->host) + strlen(o->write_path) +
                (o->token ? strlen(o->token) : 0) >
            REQ_MAX / 2 - 120) {
        usage();
        return 1;
    }
    if (o->n_reads == 0) o->reads[o->n_reads++] = "/v2/facts/%u";
    for (unsigned i = 0; i < o->n_reads; i++)
        if (strlen(o->reads[i]) > 400) {
            usage();
            return 1;
        }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o->conns + 64) {
        rl.rlim_cur = o->conns + 64;
        if (rl.rlim_max < rl.rlim_cur) rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "hk_load: cannot allow %u open files: %s\n",
                    o->conns + 64, strerror(errno));
            return 1;
        }
    }
    r.sa.sin_family = AF_INET;
    r.sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &r.sa.sin_addr) != 1) {
        fprintf(stderr, "hk_load: --host must be an IPv4 address\n");
        return 1;
    }
    build_post_head(&r);
    r.c = calloc(o->conns, sizeof(conn));
    r.h.v = calloc(o->conns, sizeof(conn *));
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!r.c || !r.h.v || r.ep < 0) {
        fprintf(stderr, "hk_load: out of memory\n");
        return 1;
    }
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    g_rng ^= (uint64_t)now_us();
    r.t_start = now_us();
    r.t_measure = r.t_start + (int64_t)((o->ramp_s + o->warmup_s) * 1e6);
    r.t_end = r.t_measure + (int64_t)(o->duration_s * 1e6);
    for (unsigned i = 0; i < o->conns; i++) {
        conn *c = &r.c[i];
        c->fd = -1;
        c->idx = i;
        c->heap_pos = -1;
        heap_push(&r.h, c,
                  r.t_start + (int64_t)(o->ramp_s * 1e6 * i / o->conns));
    }
    struct epoll_event evs[1024];
    int64_t t = now_us();
    while (t < r.t_end && !g_stop) {
        int wait_ms = 10;
        if (r.h.n) {
            int64_t d = (r.h.v[0]->due_us - t) / 1000;
            if (d < wait_ms) wait_ms = d < 0 ? 0 : (int)d;
        }
        int n = epoll_wait(r.ep, evs, 1024, wait_ms);
        t = now_us();
        for (int i = 0; i < n; i++)
            on_event(&r, evs[i].data.ptr, evs[i].events, t);
        run_timers(&r, t);
    }
    if (g_stop) r.t_end = t;
    count_stuck(&r, t);
    report(&r);
    for (unsigned i = 0; i < o->conns; i++)
        if (r.c[i].fd >= 0) close(r.c[i].fd);
    close(r.ep);
    free(r.s.reads.us);
    free(r.s.writes.us);
    free(r.c);
    free(r.h.v);
    return 0;
}
