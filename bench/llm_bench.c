/*
 * llm_bench.c — the cost hakgal adds around a model (src/llm).
 *
 *   llm_bench --data DIR [--questions N] [--base-url URL --model M]
 *             [--threads T] [--requests R]
 *
 * 1. ask overhead without the model (a cold and a warm pass): retrieval (text
 * search + entity neighbourhoods, budget 2000 tokens), prompt build and hash,
 * then the answer check of a canned answer that cites 5 context facts and
 * states 5 of them as claims — per question, on one read transaction.
 * 2. claim check of 20 claims: 10 facts of the KB (supported), 5 negations
 *    of KB facts written NotP (contradicted), 5 made-up facts (unknown);
 *    per batch of 20.
 * With --base-url (an endpoint answering instantly, e.g.
 * tests/e2e/llm_fake_server.py):
 * 3. the whole hk_svc_ask (HTTP included) next to the anchor: the bare
 *    chat call to the same endpoint, same questions, same process;
 * 4. queue throughput at the concurrency limit: T threads share one
 *    client (concurrency 4) and make R calls in all; requests per second
 *    and the mean wait for a slot.
 * Questions are the predicate and first argument of random facts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/sha256.h"
#include "hakgal.h"
#include "llm/llm.h"
#include "service/svc_llm.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *us, size_t n)
{
    qsort(us, n, sizeof *us, cmp_i64);
    printf("%-44s n=%-6zu p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms\n", what, n,
           us[n / 2] / 1000.0, us[n * 9 / 10] / 1000.0,
           us[n * 99 / 100] / 1000.0);
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random existing fact (ids are dense after an import). */
static bool random_fact(hk_txn *t, hk_fact_id last, uint64_t *seed, hk_fact *f)
{
    for (int tries = 0; tries < 100; tries++)
        if (hk_store_get(t, 1 + next_rand(seed) % last, f, NULL) == HK_OK)
            return true;
    return false;
}

static void canon(const hk_statement *st, char *out, size_t cap)
{
    hk_buf b = HK_BUF_INIT;
    hk_statement_format(st, &b);
    snprintf(out, cap, "%s", b.data ? b.data : "");
    hk_buf_free(&b);
}

/* ==== queue throughput ==== */

typedef struct worker {
    hk_llm_client *c; /* shared client */
    size_t calls;     /* calls to make */
    int64_t wait_us;  /* total wait for a slot */
    size_t failed;    /* calls that failed */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    hk_llm_msg m = {"user", "ping"};
    hk_llm_chat_req req = {&m, 1, NULL, NULL, 0, 0, NULL, NULL};
    for (size_t i = 0; i < w->calls; i++) {
        hk_llm_chat_res res;
        hk_error err;
        if (hk_llm_chat(w->c, &req, &res, &err) != HK_OK) {
            w->failed++;
            continue;
        }
        w->wait_us += res.wait_us;
        hk_llm_chat_res_free(&res);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *base = NULL, *model = "fake-7b";
    size_t nq = 200, threads = 16, requests = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--questions"))
            nq = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--base-url"))
            base = argv[i + 1];
        else if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--requests"))
            requests = strtoull(argv[i + 1], NULL, 10);
    }
    if (!dir || nq < 10 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: llm_bench --data DIR [--questions N>=10] "
                        "[--base-url URL --model M] [--threads T] "
                        "[--requests R]\n");
        return 2;
    }
    hk_store_options o = {0};
    o.read_only = true;
    hk_store *s = NULL;
    hk_error err;
    hk_txn *t = NULL;
    hk_stats st;
    if (hk_store_open(dir, &o, &s, &err) != HK_OK ||
        hk_txn_begin(s, false, &t, &err) != HK_OK ||
        hk_store_stats(t, &st, &err) != HK_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("kb %s: %llu facts\n", dir, (unsigned long long)st.facts);
    uint64_t seed = 0x2026120414ull;
    char(*q)[300] = calloc(nq, sizeof *q);
    int64_t *us = calloc(nq > 1000 ? nq : 1000, sizeof *us);
    int64_t *ret_us = calloc(nq, sizeof *ret_us);
    int64_t *chk_us = calloc(nq, sizeof *chk_us);
    if (!ret_us || !chk_us) return 1;
    hk_fact f;
    hk_fact_init(&f);
    if (!q || !us) return 1;
    for (size_t i = 0; i < nq; i++) {
        if (!random_fact(t, st.last_fact_id, &seed, &f)) return 1;
        snprintf(q[i], sizeof q[i], "What %s %s?", f.st.predicate,
                 f.st.args[0]);
    }

    /* 1. ask overhead without the model: a cold pass (pages faulted in
     * from the file), then a warm pass over the same questions */
    size_t ctx_facts = 0;
    for (int pass = 0; pass < 2; pass++) {
        ctx_facts = 0;
        for (size_t i = 0; i < nq; i++) {
            int64_t t0 = hk_now_us();
            hk_llm_context ctx;
            hk_llm_retrieve_req rr;
            memset(&rr, 0, sizeof rr);
            rr.question = q[i];
            rr.budget_tokens = 2000;
            if (hk_llm_retrieve(t, &rr, &ctx, &err) != HK_OK) {
                fprintf(stderr, "retrieve: %s\n", err.message);
                return 1;
            }
            int64_t t_ret = hk_now_us();
            hk_buf sys = HK_BUF_INIT, user = HK_BUF_INIT, out = HK_BUF_INIT;
            hk_llm_ask_prompt(&ctx, q[i], &sys, &user);
            uint8_t h[32];
            hk_sha256(user.data, user.len, h);
            /* the canned answer: 5 citations and 5 claims from the context */
            hk_buf_append_str(&out, "{\"answer\":\"...\",\"citations\":[");
            for (size_t k = 0; k < 5 && k < ctx.n; k++)
                hk_buf_appendf(&out, "%s%llu", k ? "," : "",
                               (unsigned long long)ctx.facts[k].id);
            hk_buf_append_str(&out, "],\"claims\":[");
            for (size_t k = 0; k < 5 && k < ctx.n; k++) {
                hk_buf_append_str(&out,
                                  k ? ",{\"statement\":" : "{\"statement\":");
                hk_buf_append_json_string(&out, ctx.facts[k].statement,
                                          strlen(ctx.facts[k].statement));
                hk_buf_append_str(&out, ",\"citations\":[]}");
            }
            hk_buf_append_str(&out, "]}");
            hk_llm_answer a;
            int64_t t_chk = hk_now_us();
            if (hk_llm_answer_check(t, &ctx, out.data, out.len, &a, &err)) {
                fprintf(stderr, "check: %s\n", err.message);
                return 1;
            }
            us[i] = hk_now_us() - t0;
            ret_us[i] = t_ret - t0;
            chk_us[i] = hk_now_us() - t_chk;
            ctx_facts += ctx.n;
            hk_llm_answer_free(&a);
            hk_buf_free(&sys);
            hk_buf_free(&user);
            hk_buf_free(&out);
            hk_llm_context_free(&ctx);
        }
        report(pass ? "ask overhead, warm (retrieve+prompt+check)"
                    : "ask overhead, cold (retrieve+prompt+check)",
               us, nq);
        report("  of which retrieval", ret_us, nq);
        report("  of which answer check (5 cites, 5 claims)", chk_us, nq);
    }
    /* the store's text search alone (20 hits), the first step of
     * retrieval */
    for (size_t i = 0; i < nq; i++) {
        hk_search_hit *hits = NULL;
        size_t nh = 0;
        int64_t t0 = hk_now_us();
        if (hk_store_search(t, q[i], 20, &hits, &nh, &err)) return 1;
        ret_us[i] = hk_now_us() - t0;
        hk_free(hits);
    }
    report("anchor: hk_store_search alone, 20 hits", ret_us, nq);
    printf("  mean context %.1f facts\n", (double)ctx_facts / (double)nq);

    /* 2. claim check of 20 claims */
    size_t batches = 500;
    hk_llm_claim claims[20];
    char text[20]
             [HK_MAX_STATEMENT_BYTES < 1024 ? HK_MAX_STATEMENT_BYTES : 1024];
    size_t verdicts[3] = {0, 0, 0};
    for (size_t b = 0; b < batches; b++) {
        for (int k = 0; k < 20; k++) {
            if (!random_fact(t, st.last_fact_id, &seed, &f)) return 1;
            if (k >= 10 && k < 15) {
                char np[HK_MAX_ARG_BYTES + 4];
                snprintf(np, sizeof np, "Not%s", f.st.predicate);
                hk_statement neg = f.st;
                neg.owned = NULL;
                neg.predicate = np;
                canon(&neg, text[k], sizeof text[k]);
            } else if (k >= 15) {
                hk_statement made = f.st;
                made.owned = NULL;
                made.args[0] = "Nobody In Particular";
                canon(&made, text[k], sizeof text[k]);
            } else {
                canon(&f.st, text[k], sizeof text[k]);
            }
        }
        int64_t t0 = hk_now_us();
        for (int k = 0; k < 20; k++) {
            memset(&claims[k], 0, sizeof claims[k]);
            claims[k].statement = text[k]; /* borrowed: freed below */
            if (hk_llm_claim_check(t, &claims[k], &err) != HK_OK) {
                fprintf(stderr, "claim: %s\n", err.message);
                return 1;
            }
        }
        us[b] = hk_now_us() - t0;
        for (int k = 0; k < 20; k++) {
            verdicts[claims[k].verdict]++;
            claims[k].statement = NULL;
            hk_llm_claim_release(&claims[k]);
        }
    }
    report("claim check, 20 claims", us, batches);
    printf("  verdicts: %zu supported, %zu contradicted, %zu unknown\n",
           verdicts[HK_LLM_SUPPORTED], verdicts[HK_LLM_CONTRADICTED],
           verdicts[HK_LLM_UNKNOWN]);

    if (base) {
        hk_llm_endpoint ep;
        memset(&ep, 0, sizeof ep);
        snprintf(ep.name, sizeof ep.name, "bench");
        snprintf(ep.base_url, sizeof ep.base_url, "%s", base);
        snprintf(ep.model, sizeof ep.model, "%s", model);
        ep.timeout_ms = 30000;
        ep.connect_ms = 5000;
        ep.concurrency = 4;
        ep.queue_max = 100000;
        ep.json_schema = true;
        hk_llm_client *c;
        if (hk_llm_client_new(&ep, &c, &err)) return 1;
        /* 3. whole ask vs the bare chat call */
        int64_t *chat_us = calloc(nq, sizeof *chat_us);
        if (!chat_us) return 1;
        for (size_t i = 0; i < nq; i++) {
            hk_llm_msg m[2] = {{"system", "x"}, {"user", q[i]}};
            hk_llm_chat_req req = {m, 2, NULL, NULL, 0, 0, NULL, NULL};
            hk_llm_chat_res res;
            int64_t t0 = hk_now_us();
            if (hk_llm_chat(c, &req, &res, &err)) {
                fprintf(stderr, "chat: %s\n", err.message);
                return 1;
            }
            chat_us[i] = hk_now_us() - t0;
            hk_llm_chat_res_free(&res);
            hk_svc_ask_req ar;
            memset(&ar, 0, sizeof ar);
            ar.question = q[i];
            ar.client = c;
            ar.search = "text"; /* the anchor above is the text search */
            hk_svc_ask_res as;
            t0 = hk_now_us();
            if (hk_svc_ask(t, &ar, &as, &err)) {
                fprintf(stderr, "ask: %s\n", err.message);
                return 1;
            }
            us[i] = hk_now_us() - t0;
            hk_svc_ask_res_free(&as);
        }
        report("anchor: bare chat call (HTTP)", chat_us, nq);
        report("ask with the instant endpoint", us, nq);
        free(chat_us);
        /* 4. throughput at the concurrency limit */
        worker *w = calloc(threads, sizeof *w);
        pthread_t *th = calloc(threads, sizeof *th);
        if (!w || !th) return 1;
        int64_t t0 = hk_now_us();
        for (size_t i = 0; i < threads; i++) {
            w[i].c = c;
            w[i].calls = requests / threads;
            pthread_create(&th[i], NULL, work, &w[i]);
        }
        size_t done = 0, failed = 0;
        int64_t wait = 0;
        for (size_t i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            done += w[i].calls - w[i].failed;
            failed += w[i].failed;
            wait += w[i].wait_us;
        }
        double secs = (double)(hk_now_us() - t0) / 1e6;
        printf("queue: %zu threads, concurrency 4: %zu calls in %.2f s = "
               "%.0f calls/s, mean wait for a slot %.3f ms, %zu failed\n",
               threads, done, secs, (double)done / secs,
               done ? (double)wait / (double)done / 1000.0 : 0.0, failed);
        free(w);
        free(th);
        hk_llm_client_free(c);
    }
    hk_fact_release(&f);
    hk_txn_abort(t);
    hk_store_close(s);
    free(q);
    free(us);
    free(ret_us);
    free(chk_us);
    return 0;
}
