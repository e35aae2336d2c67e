/*
 * test_llm.c — src/llm without a model: claim checks against a
 * brute-force oracle over random KBs, decoding and validating answers,
 * retrieval within its budget, the review queue (enqueue, pages,
 * approve/edit/reject, apply steps run twice, audit entries, reopen), the
 * model switch, configuration files and the environment, and a client
 * whose endpoint does not answer.
 */
#include "test_store_util.h"

#include "core/buf.h"
#include "core/mem.h"
#include "llm/llm.h"

/* ==== Helpers ==== */

static hk_fact_id add(hk_store *s, const char *text)
{
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = tu_add(t, st, NULL);
    tu_commit(t);
    hk_statement_release(&st);
    return id;
}

static hk_llm_claim check(hk_store *s, const char *text)
{
    hk_llm_claim c;
    memset(&c, 0, sizeof c);
    c.statement = hk_strdup(text);
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_llm_claim_check(t, &c, &err), HK_OK);
    hk_txn_abort(t);
    return c;
}

/* ==== Claims against an oracle ==== */

#define N_ENT 6
static const char *const k_ent[N_ENT] = {"a", "b", "c", "d", "e", "f"};
static const char *const k_pred[] = {"P", "Q", "NotP", "R", "S"};

typedef struct mini_fact {
    char pred[8];
    int x, y;
} mini_fact;

/* The verdict by the rules of llm_claim.c, over all facts by scanning. */
static hk_llm_verdict oracle(const mini_fact *v, size_t n, bool q_func,
                             bool s_negates_r, const char *p, int x, int y)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].pred, p) && v[i].x == x && v[i].y == y)
            return HK_LLM_SUPPORTED;
    char neg[2][8] = {"", ""};
    if (!strcmp(p, "P")) snprintf(neg[0], 8, "NotP");
    if (!strcmp(p, "NotP")) snprintf(neg[0], 8, "P");
    if (!strcmp(p, "R") && s_negates_r) snprintf(neg[1], 8, "S");
    if (!strcmp(p, "S") && s_negates_r) snprintf(neg[1], 8, "R");
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; neg[k][0] && i < n; i++)
            if (!strcmp(v[i].pred, neg[k]) && v[i].x == x && v[i].y == y)
                return HK_LLM_CONTRADICTED;
    if (!strcmp(p, "Q") && q_func)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(v[i].pred, "Q") && v[i].x == x && v[i].y != y)
                return HK_LLM_CONTRADICTED;
    return HK_LLM_UNKNOWN;
}

static void test_claims_oracle(void **state)
{
    (void)state;
    srand(14);
    for (int round = 0; round < 6; round++) {
        char *dir = tu_tmpdir("llm-claims");
        hk_store *s = tu_open(dir);
        mini_fact v[40];
        size_t n = 0;
        bool q_func = round % 2 == 0, s_neg = round % 3 != 0;
        if (q_func) add(s, "Functional(Q)");
        if (s_neg) add(s, "NegationOf(S, R)");
        for (int i = 0; i < 30; i++) {
            mini_fact f;
            snprintf(f.pred, sizeof f.pred, "%s", k_pred[rand() % 5]);
            f.x = rand() % N_ENT;
            f.y = rand() % N_ENT;
            char text[64];
            snprintf(text, sizeof text, "%s(%s, %s)", f.pred, k_ent[f.x],
                     k_ent[f.y]);
            add(s, text);
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup |= !strcmp(v[k].pred, f.pred) && v[k].x == f.x &&
                       v[k].y == f.y;
            if (!dup) v[n++] = f;
        }
        for (int p = 0; p < 5; p++)
            for (int x = 0; x < N_ENT; x++)
                for (int y = 0; y < N_ENT; y++) {
                    char text[64];
                    snprintf(text, sizeof text, "%s(%s, %s)", k_pred[p],
                             k_ent[x], k_ent[y]);
                    hk_llm_claim c = check(s, text);
                    hk_llm_verdict want =
                        oracle(v, n, q_func, s_neg, k_pred[p], x, y);
                    if (c.verdict != want)
                        fail_msg("%s: %s, oracle %s (round %d)", text,
                                 hk_llm_verdict_name(c.verdict),
                                 hk_llm_verdict_name(want), round);
                    assert_string_equal(c.canonical, text);
                    assert_true((c.evidence != 0) == (want != HK_LLM_UNKNOWN));
                    if (c.evidence) assert_non_null(c.evidence_statement);
                    hk_llm_claim_release(&c);
                }
        tu_discard(s, dir);
    }
}

static void test_claim_not_a_statement(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-claim");
    hk_store *s = tu_open(dir);
    add(s, "HasPart(Computer, CPU)");
    hk_llm_claim c = check(s, "Computers have CPUs");
    assert_int_equal(c.verdict, HK_LLM_UNKNOWN);
    assert_null(c.canonical);
    assert_non_null(strstr(c.note, "not a statement"));
    hk_llm_claim_release(&c);
    c = check(s, "HasPart( Computer ,CPU ).");
    assert_int_equal(c.verdict, HK_LLM_SUPPORTED);
    assert_string_equal(c.canonical, "HasPart(Computer, CPU)");
    hk_llm_claim_release(&c);
    tu_discard(s, dir);
}

/* ==== Answers and retrieval ==== */

static void test_answer_check(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-answer");
    hk_store *s = tu_open(dir);
    hk_fact_id cpu = add(s, "HasPart(Computer, CPU)");
    hk_fact_id cat = add(s, "IsA(Cat, Animal)");
    add(s, "NotHasPart(Computer, Wheel)");
    hk_txn *t = tu_begin(s, false);
    hk_llm_context ctx;
    hk_error err;
    hk_llm_retrieve_req rr = {"computer parts", 0, 0, 0, 0, NULL, 0, false};
    assert_int_equal(hk_llm_retrieve(t, &rr, &ctx, &err), HK_OK);
    assert_true(hk_llm_context_has(&ctx, cpu));
    assert_false(hk_llm_context_has(&ctx, cat));

    static const char out1[] =
        "{\"answer\":\"A CPU.\",\"citations\":[1, 2, 99, \"#1\"],"
        "\"claims\":[{\"statement\":\"HasPart(Computer, CPU)\","
        "\"citations\":[1]},{\"statement\":\"HasPart(Computer, Wheel)\"}]}";
    hk_llm_answer a;
    assert_int_equal(hk_llm_answer_check(t, &ctx, out1, strlen(out1), &a, &err),
                     HK_OK);
    assert_true(a.structured);
    assert_string_equal(a.answer, "A CPU.");
    assert_int_equal(a.n_citations, 3); /* 1, 2, 99; "#1" again */
    assert_true(a.citations[0].exists && a.citations[0].in_context);
    assert_true(a.citations[1].exists && !a.citations[1].in_context);
    assert_false(a.citations[2].exists);
    assert_int_equal(a.n_claims, 2);
    assert_int_equal(a.claims[0].verdict, HK_LLM_SUPPORTED);
    assert_int_equal(a.claims[1].verdict, HK_LLM_CONTRADICTED);
    assert_string_equal(a.claims[1].rule, "negation");
    hk_llm_answer_free(&a);

    static const char out2[] = "It has a CPU [#1] and [#x] and [#1] [#5].";
    assert_int_equal(hk_llm_answer_check(t, &ctx, out2, strlen(out2), &a, &err),
                     HK_OK);
    assert_false(a.structured);
    assert_string_equal(a.answer, out2);
    assert_int_equal(a.n_citations, 2);
    assert_int_equal(a.citations[0].id, 1);
    assert_int_equal(a.citations[1].id, 5);
    assert_int_equal(a.n_claims, 0);
    hk_llm_answer_free(&a);

    static const char out3[] = "Sure!\n```json\n{\"answer\":\"x\","
                               "\"citations\":[],\"claims\":[]}\n```";
    assert_int_equal(hk_llm_answer_check(t, &ctx, out3, strlen(out3), &a, &err),
                     HK_OK);
    assert_true(a.structured);
    assert_string_equal(a.answer, "x");
    hk_llm_answer_free(&a);
    hk_llm_context_free(&ctx);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_retrieve_budget(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-retrieve");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 300; i++) {
        char a[32];
        snprintf(a, sizeof a, "Part%d", i);
        tu_add(t, tu_st("HasPart", "Computer", a, NULL), NULL);
    }
    tu_commit(t);
    t = tu_begin(s, false);
    hk_error err;
    unsigned budgets[] = {50, 300, 2000, 100000};
    for (size_t b = 0; b < 4; b++) {
        hk_llm_context ctx;
        hk_llm_retrieve_req rr = {"computer", 50,   100, 3,
                                  budgets[b], NULL, 0,   false};
        assert_int_equal(hk_llm_retrieve(t, &rr, &ctx, &err), HK_OK);
        assert_true(ctx.tokens <= budgets[b]);
        assert_true(ctx.n > 0);
        /* no fact twice; every fact mentions Computer */
        for (size_t i = 0; i < ctx.n; i++) {
            assert_non_null(strstr(ctx.facts[i].statement, "Computer"));
            for (size_t k = 0; k < i; k++)
                assert_true(ctx.facts[i].id != ctx.facts[k].id);
        }
        if (budgets[b] == 100000) assert_int_equal(ctx.dropped, 0);
        if (budgets[b] == 50) assert_true(ctx.dropped > 0);
        hk_buf sys = HK_BUF_INIT, user = HK_BUF_INIT;
        assert_int_equal(hk_llm_ask_prompt(&ctx, "What?", &sys, &user), HK_OK);
        char line[64];
        snprintf(line, sizeof line, "[#%llu] %s\n",
                 (unsigned long long)ctx.facts[0].id, ctx.facts[0].statement);
        assert_non_null(strstr(user.data, line));
        assert_non_null(strstr(user.data, "Question: What?"));
        hk_buf_free(&sys);
        hk_buf_free(&user);
        hk_llm_context_free(&ctx);
    }
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Review queue ==== */

static hk_err write_twice(hk_store *s, const char *actor,
                          hk_err (*fn)(hk_txn *, void *, hk_error *), void *arg,
                          hk_error *err)
{
    /* a group-commit retry: the first run is aborted, the second kept */
    hk_txn *t = tu_begin(s, true);
    hk_txn_set_actor(t, actor);
    hk_err rc = fn(t, arg, err);
    hk_txn_abort(t);
    if (rc) return rc;
    t = tu_begin(s, true);
    hk_txn_set_actor(t, actor);
    rc = fn(t, arg, err);
    if (rc) {
        hk_txn_abort(t);
        return rc;
    }
    return hk_txn_commit(t, err);
}

/* Derived facts in a context: shown with their rule and premises, cited
 * through the premises, one entry per statement, within the budget. */
static void test_context_derived(void **state)
{
    (void)state;
    hk_llm_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.facts = hk_calloc(HK_LLM_CONTEXT_MAX, sizeof *ctx.facts);
    assert_non_null(ctx.facts);
    bool added = false;
    assert_int_equal(hk_llm_context_add_fact(&ctx, 12, "Parent(Ann, Bob)",
                                             "premise", 1000, &added),
                     HK_OK);
    assert_true(added);
    assert_int_equal(hk_llm_context_add_fact(&ctx, 12, "Parent(Ann, Bob)",
                                             "premise", 1000, &added),
                     HK_OK);
    assert_false(added); /* once */
    hk_fact_id prem[2] = {12, 15};
    assert_int_equal(hk_llm_context_add_derived(&ctx, "Ancestor(Ann, Cid)",
                                                "anc2", prem, 2, 1000, &added),
                     HK_OK);
    assert_true(added);
    assert_int_equal(hk_llm_context_add_derived(&ctx, "Ancestor(Ann, Cid)",
                                                "anc2", prem, 2, 1000, &added),
                     HK_OK);
    assert_false(added);
    assert_int_equal(ctx.n, 2);
    assert_true(hk_llm_context_has(&ctx, 15)); /* named as a premise */
    assert_false(hk_llm_context_has(&ctx, 0)); /* a derived fact's id */
    assert_false(hk_llm_context_has(&ctx, 16));
    /* over the budget: counted as dropped, not added */
    assert_int_equal(hk_llm_context_add_derived(&ctx, "Ancestor(Ann, Dan)",
                                                "anc2", prem, 2, ctx.tokens,
                                                &added),
                     HK_OK);
    assert_false(added);
    assert_int_equal(ctx.dropped, 1);
    hk_buf sys = HK_BUF_INIT, user = HK_BUF_INIT;
    assert_int_equal(hk_llm_ask_prompt(&ctx, "Who?", &sys, &user), HK_OK);
    assert_int_equal(hk_buf_append(&user, "", 1), HK_OK);
    assert_non_null(strstr(user.data, "[#12] Parent(Ann, Bob)\n"));
    assert_non_null(
        strstr(user.data,
               "[derived by rule anc2 from #12, #15] Ancestor(Ann, Cid)\n"));
    hk_buf_free(&sys);
    hk_buf_free(&user);
    hk_llm_context_free(&ctx);
}

static void test_review_queue(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-review");
    hk_store *s = tu_open(dir);
    hk_error err;
    assert_int_equal(hk_llm_attach(s, &err), HK_OK);
    hk_llm_proposal in[3];
    memset(in, 0, sizeof in);
    const char *stmts[3] = {"IsA(Rome, City)", "IsA(Paris, City)",
                            "Owns(Attacker, Everything)"};
    for (int i = 0; i < 3; i++) {
        in[i].statement = (char *)stmts[i];
        in[i].model = (char *)"m7b";
        in[i].prompt_hash = (char *)"abc";
        in[i].origin = (char *)"extract";
        in[i].span = (char *)"Rome";
        in[i].span_end = 4;
    }
    uint64_t ids[3];
    hk_llm_enqueue_arg ea = {s, in, 3, ids};
    assert_int_equal(write_twice(s, "bob", hk_llm_enqueue_apply, &ea, &err),
                     HK_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[2], 3);
    hk_txn *t = tu_begin(s, false);
    hk_stats st;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    assert_int_equal(st.facts, 0); /* proposals are not facts */
    hk_txn_abort(t);

    /* approve with an edit; run twice as a group-commit retry would */
    hk_llm_decide_arg d = {s,       1,    true, "IsA(Rome, Capital)",
                           "alice", "ok", 0,    false};
    assert_int_equal(write_twice(s, "alice", hk_llm_decide_apply, &d, &err),
                     HK_OK);
    assert_true(d.created);
    hk_llm_decide_arg r = {s, 3, false, NULL, "alice", "injection", 0, false};
    assert_int_equal(write_twice(s, "alice", hk_llm_decide_apply, &r, &err),
                     HK_OK);
    assert_int_equal(write_twice(s, "alice", hk_llm_decide_apply, &r, &err),
                     HK_ERR_EXISTS);
    hk_llm_decide_arg bad = {s, 2, true, "Bad(", "alice", NULL, 0, false};
    assert_int_equal(write_twice(s, "alice", hk_llm_decide_apply, &bad, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "statement");
    hk_llm_decide_arg none = {s, 9, false, NULL, "alice", NULL, 0, false};
    assert_int_equal(write_twice(s, "alice", hk_llm_decide_apply, &none, &err),
                     HK_ERR_NOT_FOUND);

    /* reopen: the queue and the fact are there */
    hk_store_close(s);
    s = tu_open(dir);
    t = tu_begin(s, false);
    hk_llm_proposal *v;
    size_t n;
    assert_int_equal(
        hk_llm_review_list(s, t, false, HK_LLM_PENDING, 0, 10, &v, &n, &err),
        HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].statement, "IsA(Paris, City)");
    hk_llm_proposals_free(v, n);
    assert_int_equal(
        hk_llm_review_list(s, t, true, HK_LLM_PENDING, 1, 1, &v, &n, &err),
        HK_OK);
    assert_int_equal(n, 1); /* page of one after id 1 */
    assert_int_equal(v[0].id, 2);
    hk_llm_proposals_free(v, n);
    hk_llm_proposal p;
    assert_int_equal(hk_llm_review_get(s, t, 1, &p, &err), HK_OK);
    assert_int_equal(p.status, HK_LLM_APPROVED);
    assert_string_equal(p.final_statement, "IsA(Rome, Capital)");
    assert_string_equal(p.reviewer, "alice");
    assert_int_equal(p.fact, d.fact);
    hk_llm_proposal_release(&p);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, d.fact, &f, &err), HK_OK);
    assert_string_equal(f.source, "review:1");
    assert_non_null(strstr(f.context_json, "\"reviewer\":\"alice\""));
    assert_non_null(strstr(f.context_json, "\"proposed\":\"IsA(Rome, City)\""));
    hk_fact_release(&f);
    /* audit: add by alice, two review entries */
    hk_audit_entry *au;
    size_t na;
    assert_int_equal(hk_audit_list(t, 0, 100, &au, &na, &err), HK_OK);
    int adds = 0, reviews = 0;
    for (size_t i = 0; i < na; i++) {
        if (!strcmp(au[i].op, "add") && !strcmp(au[i].actor, "alice")) adds++;
        if (!strcmp(au[i].op, "review") && !strcmp(au[i].actor, "alice"))
            reviews++;
    }
    assert_int_equal(adds, 1);
    assert_int_equal(reviews, 2);
    hk_audit_entries_free(au, na);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_switch(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-switch");
    hk_store *s = tu_open(dir);
    hk_error err;
    bool on = false;
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_llm_models_enabled(s, t, &on, &err), HK_OK);
    assert_true(on); /* a KB without the module: on */
    hk_txn_abort(t);
    hk_llm_switch_arg a = {s, false, false};
    assert_int_equal(write_twice(s, "root", hk_llm_switch_apply, &a, &err),
                     HK_ERR_STATE); /* not attached */
    assert_int_equal(hk_llm_attach(s, &err), HK_OK);
    assert_int_equal(write_twice(s, "root", hk_llm_switch_apply, &a, &err),
                     HK_OK);
    assert_true(a.was_on);
    t = tu_begin(s, false);
    assert_int_equal(hk_llm_models_enabled(s, t, &on, &err), HK_OK);
    assert_false(on);
    hk_txn_abort(t);

    /* the KB switch: every fact change refused while read-only */
    hk_fact_id id = add(s, "IsA(Owl, Bird)");
    hk_llm_kb_mode_arg k = {s, true, true};
    assert_int_equal(write_twice(s, "root", hk_llm_kb_mode_apply, &k, &err),
                     HK_OK);
    assert_false(k.was_ro);
    hk_statement st = tu_st("IsA", "Hen", "Bird", NULL);
    t = tu_begin(s, true);
    hk_fact_id nid;
    bool created;
    assert_int_equal(hk_store_add(t, &st, NULL, &nid, &created, &err),
                     HK_ERR_BUSY);
    assert_non_null(strstr(err.message, "read-only"));
    hk_txn_abort(t);
    t = tu_begin(s, true);
    assert_int_equal(hk_store_delete(t, id, &err), HK_ERR_BUSY);
    hk_txn_abort(t);
    k.read_only = false;
    assert_int_equal(write_twice(s, "root", hk_llm_kb_mode_apply, &k, &err),
                     HK_OK);
    assert_true(k.was_ro);
    add(s, "IsA(Hen, Bird)");
    tu_discard(s, dir);
}

/* ==== Configuration and client ==== */

static void test_config(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-config");
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/llm.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("# endpoints\n\nendpoint.local.base_url = http://127.0.0.1:1/v1\n"
          "endpoint.local.model = \"mistral 7b\"\nbudget_tokens = 900\n"
          "endpoint.local.retries=0\n",
          f);
    fclose(f);
    unsetenv("OPENAI_BASE_URL");
    unsetenv("HAKGAL_LLM_MODEL");
    unsetenv("HAKGAL_LLM_CONFIG");
    hk_llm_config cfg;
    hk_error err;
    const hk_llm_endpoint *ep;
    assert_int_equal(hk_llm_config_load(&cfg, path, &err), HK_OK);
    assert_int_equal(cfg.budget_tokens, 900);
    assert_int_equal(hk_llm_config_pick(&cfg, NULL, &ep, &err), HK_OK);
    assert_string_equal(ep->model, "mistral 7b");
    assert_int_equal(hk_llm_config_pick(&cfg, "other", &ep, &err),
                     HK_ERR_NOT_FOUND);
    setenv("OPENAI_BASE_URL", "http://127.0.0.1:2/v1", 1);
    assert_int_equal(hk_llm_config_load(&cfg, path, &err), HK_OK);
    assert_int_equal(hk_llm_config_pick(&cfg, NULL, &ep, &err),
                     HK_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "HAKGAL_LLM_MODEL"));
    unsetenv("OPENAI_BASE_URL");
    assert_int_equal(hk_llm_config_load(&cfg, NULL, &err), HK_OK);
    assert_int_equal(hk_llm_config_pick(&cfg, NULL, &ep, &err),
                     HK_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "OPENAI_BASE_URL"));

    /* an endpoint that refuses connections: an I/O error, retried */
    assert_int_equal(hk_llm_config_load(&cfg, path, &err), HK_OK);
    assert_int_equal(hk_llm_config_set(&cfg, "local", "retries", "2", &err),
                     HK_OK);
    assert_int_equal(hk_llm_config_set(&cfg, "local", "backoff_ms", "1", &err),
                     HK_OK);
    assert_int_equal(hk_llm_config_pick(&cfg, "local", &ep, &err), HK_OK);
    hk_llm_client *c;
    assert_int_equal(hk_llm_client_new(ep, &c, &err), HK_OK);
    hk_llm_counters before, after;
    hk_llm_counters_get(&before);
    hk_llm_msg m = {"user", "hi"};
    hk_llm_chat_req req = {&m, 1, NULL, NULL, 0, 0, NULL, NULL};
    hk_llm_chat_res res;
    assert_int_equal(hk_llm_chat(c, &req, &res, &err), HK_ERR_IO);
    assert_non_null(strstr(err.message, "after 3 attempts"));
    hk_llm_counters_get(&after);
    assert_int_equal(after.retries - before.retries, 2);
    assert_int_equal(after.failures - before.failures, 1);
    assert_int_equal(after.in_flight, 0);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_llm_metrics_render(&b), HK_OK);
    assert_non_null(strstr(b.data, "hakgal_llm_failures_total"));
    hk_buf_free(&b);
    float *vecs;
    uint32_t dim;
    const char *texts[1] = {"x"};
    assert_int_equal(hk_llm_embed(c, texts, 1, &vecs, &dim, &err),
                     HK_ERR_NOT_FOUND); /* no embedding model */
    hk_llm_client_free(c);

    f = fopen(path, "w");
    fputs("endpoint.a.model = x\nendpoint.a.retries = many\n", f);
    fclose(f);
    assert_int_equal(hk_llm_config_load(&cfg, path, &err), HK_ERR_INVALID);
    assert_int_equal(err.line, 2);
    assert_string_equal(err.field, "retries");
    f = fopen(path, "w");
    fputs("model = x\n", f);
    fclose(f);
    assert_int_equal(hk_llm_config_load(&cfg, path, &err), HK_ERR_INVALID);
    assert_int_equal(err.line, 1);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Fine-tuning data ==== */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_instruct(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("llm-instruct");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < 200; i++) {
        char a[32];
        snprintf(a, sizeof a, "Part%d", i);
        tu_add(t, tu_st("HasPart", "Computer", a, NULL), NULL);
    }
    tu_add(t, tu_st("Functional", "CapitalOf", NULL), NULL);
    tu_add(t, tu_st("Bond", "NH3", "N", "H", NULL), NULL);
    tu_commit(t);
    char tp[600], vp[600], xp[600];
    snprintf(tp, sizeof tp, "%s/train.jsonl", dir);
    snprintf(vp, sizeof vp, "%s/val.jsonl", dir);
    snprintf(xp, sizeof xp, "%s/tpl.txt", dir);
    FILE *x = fopen(xp, "w");
    fputs("# custom\nBond | What bonds {0}? | {0} bonds {1} and {2}.\n", x);
    fclose(x);
    hk_llm_template *tpl;
    size_t n_tpl;
    hk_error err;
    assert_int_equal(hk_llm_templates_load(xp, &tpl, &n_tpl, &err), HK_OK);
    assert_int_equal(n_tpl, 1);
    uint64_t first_val = 0;
    for (int run = 0; run < 2; run++) {
        FILE *tf = fopen(tp, "w"), *vf = fopen(vp, "w");
        hk_llm_instruct_req req = {tpl, n_tpl, 0.2, 0, tf, vf};
        hk_llm_instruct_res res;
        t = tu_begin(s, false);
        assert_int_equal(hk_llm_instruct_export(t, &req, &res, &err), HK_OK);
        hk_txn_abort(t);
        fclose(tf);
        fclose(vf);
        assert_int_equal(res.train + res.validation, 202);
        assert_true(res.validation > 20 && res.validation < 65);
        assert_int_equal(res.generic, 1); /* Functional(CapitalOf) */
        if (run == 0) first_val = res.validation;
        assert_int_equal(res.validation, first_val); /* stable split */
    }
    char *all = strdup(read_file(tp)); /* read_file reuses its buffer */
    char *v = strdup(read_file(vp));
    char *both = malloc(strlen(all) + strlen(v) + 1);
    strcpy(both, all);
    strcat(both, v);
    assert_non_null(strstr(both, "\"What parts does Computer have?\""));
    assert_non_null(strstr(both, "NH3 bonds N and H. [Bond(NH3, N, H)]"));
    assert_non_null(strstr(both, "CapitalOf is functional."));
    assert_non_null(strstr(both, "{\"messages\":[{\"role\":\"system\""));
    free(both);
    free(all);
    free(v);
    x = fopen(xp, "w");
    fputs("Bond | no answer column\n", x);
    fclose(x);
    hk_llm_templates_free(tpl, n_tpl);
    assert_int_equal(hk_llm_templates_load(xp, &tpl, &n_tpl, &err),
                     HK_ERR_INVALID);
    assert_int_equal(err.line, 1);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_oracle),
        cmocka_unit_test(test_claim_not_a_statement),
        cmocka_unit_test(test_answer_check),
        cmocka_unit_test(test_retrieve_budget),
        cmocka_unit_test(test_context_derived),
        cmocka_unit_test(test_review_queue),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_instruct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
