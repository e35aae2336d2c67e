/*
 * test_reason.c — src/reason: the contradiction rules on a hand-built KB
 * (every declaration kind, exact findings, order and messages) and on a
 * random KB against a brute-force oracle; the fact validation against
 * brute-force arity counts; limits (facts per rule, findings cap), the
 * service checks, and allocation failures.
 */
#include "reason/reason.h"
#include "service/service.h"
#include "test_domain_util.h"

/* ==== Helpers ==== */

/* "kind|id,id,..." */
static void finding_key(char *out, size_t len, const char *kind,
                        const hk_fact_id *ids, size_t n)
{
    size_t k = (size_t)snprintf(out, len, "%s|", kind);
    for (size_t i = 0; i < n && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%llu", i ? "," : "",
                              (unsigned long long)ids[i]);
}

static hk_rsn_check_res run_check(hk_store *s, size_t limit)
{
    hk_txn *t = tu_begin(s, false);
    hk_rsn_check_req req = {limit, NULL, NULL};
    hk_rsn_check_res res;
    hk_error err;
    hk_err rc = hk_rsn_check(t, &req, &res, &err);
    if (rc) fprintf(stderr, "check: %s\n", err.message);
    assert_int_equal(rc, HK_OK);
    hk_txn_abort(t);
    return res;
}

/* ==== A hand-built KB ==== */

typedef struct progress_log {
    int calls;         /* callbacks seen */
    double last_done;  /* done of the last one */
    double last_total; /* total of the last one */
} progress_log;

static void on_progress(void *ud, double done, double total, const char *what)
{
    progress_log *l = ud;
    assert_non_null(what);
    l->calls++;
    l->last_done = done;
    l->last_total = total;
}

static void assert_finding(const hk_rsn_finding *fd, hk_rsn_kind kind,
                           const char *desc, const hk_fact_id *ids,
                           const char *const *stmts, size_t n)
{
    assert_int_equal(fd->kind, kind);
    assert_string_equal(fd->description, desc);
    assert_int_equal(fd->n_facts, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fd->facts[i].id, ids[i]);
        assert_string_equal(fd->facts[i].statement, stmts[i]);
    }
}

static void test_check_declarations_and_rules(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-hand");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id dog = tu_add(t, tu_st("IsA", "Dog", "Animal", NULL), NULL);
    hk_fact_id animal = tu_add(t, tu_st("IsA", "Animal", "Dog", NULL), NULL);
    hk_fact_id xx = tu_add(t, tu_st("IsA", "X", "X", NULL), NULL);
    tu_add(t, tu_st("Asymmetric", "Likes", NULL), NULL);
    tu_add(t, tu_st("Symmetric", "Causes", NULL), NULL);
    tu_add(t, tu_st("Causes", "a", "b", NULL), NULL);
    tu_add(t, tu_st("Causes", "b", "a", NULL), NULL);
    hk_fact_id pq = tu_add(t, tu_st("Likes", "p", "q", NULL), NULL);
    hk_fact_id qp = tu_add(t, tu_st("Likes", "q", "p", NULL), NULL);
    tu_add(t, tu_st("Functional", "Born", NULL), NULL);
    hk_fact_id y1 = tu_add(t, tu_st("Born", "E1", "Y1", NULL), NULL);
    hk_fact_id y2 = tu_add(t, tu_st("Born", "E1", "Y2", NULL), NULL);
    hk_fact_id y3 = tu_add(t, tu_st("Born", "E1", "Y3", NULL), NULL);
    tu_add(t, tu_st("Born", "E2", "Y1", NULL), NULL);
    tu_add(t, tu_st("NegationOf", "NotKnows", "Knows", NULL), NULL);
    hk_fact_id knows = tu_add(t, tu_st("Knows", "a", "b", NULL), NULL);
    hk_fact_id not_knows = tu_add(t, tu_st("NotKnows", "a", "b", NULL), NULL);
    hk_fact_id not_isa =
        tu_add(t, tu_st("NotIsA", "Dog", "Animal", NULL), NULL);
    tu_add(t, tu_st("NegationOf", "NotLikes", "Likes", NULL), NULL);
    hk_fact_id not_likes = tu_add(t, tu_st("NotLikes", "p", "q", NULL), NULL);
    tu_add(t, tu_st("NotHere", "x", NULL), NULL);
    tu_commit(t);

    t = tu_begin(s, false);
    progress_log log = {0, 0, 0};
    hk_rsn_check_req req = {1000, on_progress, &log};
    hk_rsn_check_res res;
    hk_error err;
    assert_int_equal(hk_svc_consistency(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);

    /* declarations: defaults plus Likes, minus Causes (the last one takes
     * its place) */
    static const char *const asym[] = {"IsA", "HasPart", "IsPartOf", "Likes"};
    assert_int_equal(res.n_asymmetric, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(res.asymmetric[i], asym[i]);
    assert_int_equal(res.n_functional, 1);
    assert_string_equal(res.functional[0], "Born");
    /* declared pairs first, then NotIsA/IsA by convention; NotLikes is
     * declared already and NotHere has no Here */
    assert_int_equal(res.n_negations, 3);
    assert_string_equal(res.negations[0].negated, "NotKnows");
    assert_string_equal(res.negations[0].positive, "Knows");
    assert_string_equal(res.negations[1].negated, "NotLikes");
    assert_string_equal(res.negations[2].negated, "NotIsA");
    assert_string_equal(res.negations[2].positive, "IsA");

    assert_int_equal(res.n_findings, 7);
    assert_false(res.truncated);
    assert_int_equal(res.examined, 3 + 2 + 1 + 1 + 1 + 4);
    const hk_rsn_finding *f = res.findings;
    assert_finding(&f[0], HK_RSN_ASYMMETRIC_CYCLE,
                   "IsA is asymmetric but holds in both directions between "
                   "Dog and Animal",
                   (hk_fact_id[]){dog, animal},
                   (const char *[]){"IsA(Dog, Animal)", "IsA(Animal, Dog)"}, 2);
    assert_finding(&f[1], HK_RSN_ASYMMETRIC_REFLEX,
                   "IsA is asymmetric, so nothing can be IsA of itself",
                   (hk_fact_id[]){xx}, (const char *[]){"IsA(X, X)"}, 1);
    assert_finding(&f[2], HK_RSN_ASYMMETRIC_CYCLE,
                   "Likes is asymmetric but holds in both directions between "
                   "p and q",
                   (hk_fact_id[]){pq, qp},
                   (const char *[]){"Likes(p, q)", "Likes(q, p)"}, 2);
    assert_finding(&f[3], HK_RSN_NEGATION,
                   "NotKnows is the negation of Knows and both hold for the "
                   "same arguments",
                   (hk_fact_id[]){knows, not_knows},
                   (const char *[]){"Knows(a, b)", "NotKnows(a, b)"}, 2);
    assert_int_equal(f[4].kind, HK_RSN_NEGATION);
    assert_int_equal(f[4].facts[0].id, pq);
    assert_int_equal(f[4].facts[1].id, not_likes);
    assert_int_equal(f[5].facts[0].id, dog);
    assert_int_equal(f[5].facts[1].id, not_isa);
    assert_finding(
        &f[6], HK_RSN_FUNCTIONAL,
        "Born is functional but E1 has 3 different values",
        (hk_fact_id[]){y1, y2, y3},
        (const char *[]){"Born(E1, Y1)", "Born(E1, Y2)", "Born(E1, Y3)"}, 3);
    assert_string_equal(hk_rsn_kind_name(f[0].kind), "asymmetric_cycle");
    assert_string_equal(hk_rsn_kind_name(f[1].kind), "asymmetric_reflexive");
    assert_string_equal(hk_rsn_kind_name(f[3].kind), "negation");
    assert_string_equal(hk_rsn_kind_name(f[6].kind), "functional_conflict");
    /* one progress step per rule */
    assert_int_equal(log.calls, 8);
    assert_true(log.last_done == 8 && log.last_total == 8);
    hk_rsn_check_res_free(&res);
    hk_rsn_check_res_free(&res); /* idempotent */

    /* limit 1: one fact per rule */
    res = run_check(s, 1);
    assert_int_equal(res.examined, 1 + 1 + 1 + 1 + 1 + 1);
    hk_rsn_check_res_free(&res);

    tu_discard(s, dir);
}

/* ==== A random KB against the oracle ==== */

static const char *const g_preds[] = {"IsA",   "HasPart", "Likes", "NotLikes",
                                      "Born",  "NotIsA",  "Owns",  "NotOwns",
                                      "Knows", "Hates",   "Ranks"};
#define N_PREDS (sizeof g_preds / sizeof g_preds[0])

static void random_kb(hk_store *s, uint64_t seed)
{
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("Asymmetric", "Likes", NULL), NULL);
    tu_add(t, tu_st("Symmetric", "HasPart", NULL), NULL);
    tu_add(t, tu_st("Functional", "Born", NULL), NULL);
    tu_add(t, tu_st("Functional", "Ranks", NULL), NULL);
    tu_add(t, tu_st("NegationOf", "Hates", "Likes", NULL), NULL);
    tu_add(t, tu_st("NegationOf", "NotOwns", "Owns", NULL), NULL);
    char a[3][8];
    for (int i = 0; i < 600; i++) {
        const char *p = g_preds[tu_rand(&seed) % N_PREDS];
        for (int k = 0; k < 3; k++)
            snprintf(a[k], sizeof a[k], "e%d", (int)(tu_rand(&seed) % 7));
        int arity = 2;
        if (strcmp(p, "Ranks") == 0 || tu_rand(&seed) % 15 == 0)
            arity = 1 + (int)(tu_rand(&seed) % 3);
        tu_add(t,
               arity == 1   ? tu_st(p, a[0], NULL)
               : arity == 2 ? tu_st(p, a[0], a[1], NULL)
                            : tu_st(p, a[0], a[1], a[2], NULL),
               NULL);
    }
    /* a functional group longer than HK_RSN_FUNCTIONAL_MAX */
    for (int i = 0; i < 10; i++) {
        snprintf(a[0], sizeof a[0], "v%d", i);
        tu_add(t, tu_st("Born", "many", a[0], NULL), NULL);
    }
    tu_commit(t);
}

static bool kb_has(const tu_kb *kb, const char *pred, const hk_statement *st,
                   hk_fact_id *id)
{
    for (size_t i = 0; i < kb->n; i++) {
        const hk_fact *f = &kb->facts[i];
        if (strcmp(f->st.predicate, pred) != 0 || f->st.n_args != st->n_args)
            continue;
        bool same = true;
        for (uint32_t a = 0; same && a < st->n_args; a++)
            same = strcmp(f->st.args[a], st->args[a]) == 0;
        if (same) {
            *id = f->id;
            return true;
        }
    }
    return false;
}

static bool kb_has_pred(const tu_kb *kb, const char *pred)
{
    for (size_t i = 0; i < kb->n; i++)
        if (strcmp(kb->facts[i].st.predicate, pred) == 0) return true;
    return false;
}

static void oracle_check(const tu_kb *kb, tu_strs *out, uint64_t *examined)
{
    char key[256];
    tu_strs asym = {0}, sym = {0}, func = {0}, neg = {0}, pos = {0};
    static const char *const defaults[] = {"IsA", "HasPart", "IsPartOf",
                                           "Causes"};
    for (size_t i = 0; i < 4; i++)
        tu_strs_push(&asym, defaults[i]);
    for (size_t i = 0; i < kb->n; i++) {
        const hk_fact *f = &kb->facts[i];
        if (f->st.n_args == 1 && strcmp(f->st.predicate, "Asymmetric") == 0 &&
            !tu_strs_has(&asym, f->st.args[0]))
            tu_strs_push(&asym, f->st.args[0]);
        if (f->st.n_args == 1 && strcmp(f->st.predicate, "Symmetric") == 0)
            tu_strs_push(&sym, f->st.args[0]);
        if (f->st.n_args == 1 && strcmp(f->st.predicate, "Functional") == 0)
            tu_strs_push(&func, f->st.args[0]);
        if (f->st.n_args == 2 && strcmp(f->st.predicate, "NegationOf") == 0) {
            tu_strs_push(&neg, f->st.args[0]);
            tu_strs_push(&pos, f->st.args[1]);
        }
    }
    for (size_t i = 0; i < N_PREDS; i++) {
        const char *p = g_preds[i];
        if (strncmp(p, "Not", 3) != 0 || !kb_has_pred(kb, p) ||
            !kb_has_pred(kb, p + 3) || tu_strs_has(&neg, p))
            continue;
        tu_strs_push(&neg, p);
        tu_strs_push(&pos, p + 3);
    }
    *examined = 0;
    for (size_t i = 0; i < kb->n; i++) {
        const hk_fact *f = &kb->facts[i];
        const char *p = f->st.predicate;
        hk_fact_id other = 0;
        if (tu_strs_has(&asym, p) && !tu_strs_has(&sym, p) &&
            f->st.n_args == 2) {
            ++*examined;
            if (strcmp(f->st.args[0], f->st.args[1]) == 0) {
                finding_key(key, sizeof key, "asymmetric_reflexive", &f->id, 1);
                tu_strs_push(out, key);
            } else {
                hk_statement rev = tu_st(p, f->st.args[1], f->st.args[0], NULL);
                if (kb_has(kb, p, &rev, &other) && other > f->id) {
                    hk_fact_id ids[2] = {f->id, other};
                    finding_key(key, sizeof key, "asymmetric_cycle", ids, 2);
                    tu_strs_push(out, key);
                }
            }
        }
        for (size_t n = 0; n < neg.n; n++) {
            if (strcmp(neg.v[n], p) != 0) continue;
            ++*examined;
            if (kb_has(kb, pos.v[n], &f->st, &other)) {
                hk_fact_id ids[2] = {other, f->id};
                finding_key(key, sizeof key, "negation", ids, 2);
                tu_strs_push(out, key);
            }
        }
        if (tu_strs_has(&func, p)) {
            ++*examined;
            if (f->st.n_args < 2) continue;
            /* the group of f: same predicate, first argument and arity */
            hk_fact_id ids[HK_RSN_FUNCTIONAL_MAX];
            size_t n = 0;
            bool first = true;
            for (size_t j = 0; j < kb->n; j++) {
                const hk_fact *g = &kb->facts[j];
                if (strcmp(g->st.predicate, p) != 0 ||
                    g->st.n_args != f->st.n_args ||
                    strcmp(g->st.args[0], f->st.args[0]) != 0)
                    continue;
                if (n == 0 && g->id != f->id) first = false;
                if (n < HK_RSN_FUNCTIONAL_MAX) ids[n++] = g->id;
            }
            if (first && n > 1) {
                finding_key(key, sizeof key, "functional_conflict", ids, n);
                tu_strs_push(out, key);
            }
        }
    }
    tu_strs_free(&asym);
    tu_strs_free(&sym);
    tu_strs_free(&func);
    tu_strs_free(&neg);
    tu_strs_free(&pos);
}

static void test_check_matches_oracle(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        char *dir = tu_tmpdir("reason-random");
        hk_store *s = tu_open(dir);
        random_kb(s, seed);
        tu_kb kb = tu_kb_load(s);
        tu_strs want = {0}, got = {0};
        uint64_t examined = 0;
        oracle_check(&kb, &want, &examined);
        hk_rsn_check_res res = run_check(s, 1000000);
        char key[256];
        bool saw_at_least = false;
        for (size_t i = 0; i < res.n_findings; i++) {
            const hk_rsn_finding *fd = &res.findings[i];
            hk_fact_id ids[HK_RSN_FUNCTIONAL_MAX];
            for (size_t k = 0; k < fd->n_facts; k++)
                ids[k] = fd->facts[k].id;
            finding_key(key, sizeof key, hk_rsn_kind_name(fd->kind), ids,
                        fd->n_facts);
            tu_strs_push(&got, key);
            if (strstr(fd->description, "has at least 8 different values"))
                saw_at_least = true;
        }
        assert_true(want.n > 10);
        tu_assert_same_strs(&got, &want);
        assert_int_equal(res.examined, examined);
        assert_true(saw_at_least);
        hk_rsn_check_res_free(&res);
        tu_strs_free(&want);
        tu_strs_free(&got);
        tu_kb_free(&kb);
        tu_discard(s, dir);
    }
}

/* More contradictions than HK_RSN_MAX_FINDINGS: the list stops there. */
static void test_check_findings_cap(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-cap");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[16];
    for (int i = 0; i < HK_RSN_MAX_FINDINGS + 5; i++) {
        snprintf(a, sizeof a, "x%d", i);
        tu_add(t, tu_st("IsA", a, a, NULL), NULL);
    }
    tu_commit(t);
    hk_rsn_check_res res = run_check(s, 1000000);
    assert_int_equal(res.n_findings, HK_RSN_MAX_FINDINGS);
    assert_true(res.truncated);
    assert_int_equal(res.examined, HK_RSN_MAX_FINDINGS + 1);
    hk_rsn_check_res_free(&res);
    tu_discard(s, dir);
}

/* ==== Validation ==== */

static size_t check_validate(hk_store *s, size_t limit)
{
    tu_kb kb = tu_kb_load(s);
    /* oracle: per-predicate arity counts, newest first */
    tu_strs want = {0}, got = {0};
    size_t examined = 0;
    char key[800];
    for (size_t i = kb.n; i-- > 0 && examined < limit;) {
        const hk_fact *f = &kb.facts[i];
        examined++;
        uint64_t counts[HK_MAX_ARGS + 1] = {0}, total = 0, best = 0;
        int dom = -1;
        for (size_t j = 0; j < kb.n; j++)
            if (strcmp(kb.facts[j].st.predicate, f->st.predicate) == 0)
                counts[kb.facts[j].st.n_args]++;
        for (int a = 0; a <= HK_MAX_ARGS; a++) {
            total += counts[a];
            if (counts[a] > best) {
                best = counts[a];
                dom = a;
            }
        }
        if ((double)best < 0.9 * (double)total || dom == (int)f->st.n_args)
            continue;
        snprintf(key, sizeof key,
                 "%llu|%s usually has %d argument%s but this fact has %u",
                 (unsigned long long)f->id, f->st.predicate, dom,
                 dom == 1 ? "" : "s", f->st.n_args);
        tu_strs_push(&want, key);
    }
    hk_txn *t = tu_begin(s, false);
    hk_rsn_validate_req req = {limit};
    hk_rsn_validate_res res;
    hk_error err;
    assert_int_equal(hk_svc_validate(t, &req, &res, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(res.examined, examined);
    for (size_t i = 0; i < res.n_issues; i++) {
        const hk_rsn_issue *is = &res.issues[i];
        assert_int_equal(is->kind, HK_RSN_UNUSUAL_ARITY);
        assert_string_equal(hk_rsn_issue_kind_name(is->kind), "unusual_arity");
        long k = tu_kb_find(&kb, is->id);
        assert_true(k >= 0);
        hk_buf b = HK_BUF_INIT;
        assert_int_equal(hk_statement_format(&kb.facts[k].st, &b), HK_OK);
        assert_string_equal(is->statement, b.data);
        hk_buf_free(&b);
        if (i > 0) assert_true(is->id < res.issues[i - 1].id);
        snprintf(key, sizeof key, "%llu|%s", (unsigned long long)is->id,
                 is->message);
        tu_strs_push(&got, key);
    }
    tu_assert_same_strs(&got, &want);
    size_t n = res.n_issues;
    hk_rsn_validate_res_free(&res);
    hk_rsn_validate_res_free(&res);
    tu_strs_free(&want);
    tu_strs_free(&got);
    tu_kb_free(&kb);
    return n;
}

static void test_validate_matches_oracle(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-validate");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[16];
    /* P: 20 binary facts and 2 ternary (dominant 2); Q: half and half
     * (no dominant arity); R: 10 unary and 1 binary */
    for (int i = 0; i < 20; i++) {
        snprintf(a, sizeof a, "p%d", i);
        tu_add(t, tu_st("P", a, "x", NULL), NULL);
        if (i % 10 == 5) tu_add(t, tu_st("P", a, "x", "y", NULL), NULL);
        if (i < 10) {
            tu_add(t, tu_st("Q", a, NULL), NULL);
            tu_add(t, tu_st("Q", a, "y", NULL), NULL);
            tu_add(t, tu_st("R", a, NULL), NULL);
        }
    }
    tu_add(t, tu_st("R", "r", "s", NULL), NULL);
    tu_commit(t);
    assert_int_equal(check_validate(s, 1000), 3);
    check_validate(s, 3);
    check_validate(s, 1);
    tu_discard(s, dir);
}

/* More issues than HK_RSN_MAX_FINDINGS: the scan stops there. */
static void test_validate_cap(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-validate-cap");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(a, sizeof a, "a%d", i);
        tu_add(t, tu_st("P", a, "x", NULL), NULL);
    }
    for (int i = 0; i < HK_RSN_MAX_FINDINGS + 1; i++) {
        snprintf(a, sizeof a, "b%d", i);
        tu_add(t, tu_st("P", a, "x", "y", NULL), NULL);
    }
    tu_commit(t);
    t = tu_begin(s, false);
    hk_rsn_validate_req req = {1000000};
    hk_rsn_validate_res res;
    hk_error err;
    assert_int_equal(hk_rsn_validate(t, &req, &res, &err), HK_OK);
    assert_int_equal(res.n_issues, HK_RSN_MAX_FINDINGS);
    assert_int_equal(res.examined, HK_RSN_MAX_FINDINGS);
    assert_string_equal(res.issues[0].message,
                        "P usually has 2 arguments but this fact has 3");
    hk_rsn_validate_res_free(&res);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* ==== Service checks and allocation failures ==== */

static void test_service_checks(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-svc");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hk_rsn_check_req c = {0, NULL, NULL};
    hk_rsn_check_res cr;
    assert_int_equal(hk_svc_consistency(t, &c, &cr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "limit");
    c.limit = HK_SVC_CHECK_MAX_LIMIT + 1;
    assert_int_equal(hk_svc_consistency(t, &c, &cr, &err), HK_ERR_INVALID);
    c.limit = 10;
    assert_int_equal(hk_svc_consistency(t, &c, &cr, &err), HK_OK);
    assert_int_equal(cr.n_findings, 0); /* an empty KB */
    assert_int_equal(cr.n_asymmetric, 4);
    hk_rsn_check_res_free(&cr);
    hk_rsn_validate_req v = {0};
    hk_rsn_validate_res vr;
    assert_int_equal(hk_svc_validate(t, &v, &vr, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "limit");
    v.limit = HK_SVC_VALIDATE_MAX_LIMIT + 1;
    assert_int_equal(hk_svc_validate(t, &v, &vr, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

typedef struct alloc_case {
    hk_rsn_check_res c;    /* contradictions */
    hk_rsn_validate_res v; /* issues */
} alloc_case;

static hk_err op_check(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_rsn_check_req req = {1000, NULL, NULL};
    return hk_rsn_check(t, &req, &c->c, err);
}

static hk_err op_validate(hk_txn *t, void *ud, hk_error *err)
{
    alloc_case *c = ud;
    hk_rsn_validate_req req = {1000};
    return hk_rsn_validate(t, &req, &c->v, err);
}

static void free_case(void *ud)
{
    alloc_case *c = ud;
    hk_rsn_check_res_free(&c->c);
    hk_rsn_validate_res_free(&c->v);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("reason-alloc");
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, tu_st("IsA", "a", "b", NULL), NULL);
    tu_add(t, tu_st("IsA", "b", "a", NULL), NULL);
    tu_add(t, tu_st("IsA", "c", "c", NULL), NULL);
    tu_add(t, tu_st("NotIsA", "a", "b", NULL), NULL);
    tu_add(t, tu_st("Functional", "F", NULL), NULL);
    tu_add(t, tu_st("F", "a", "1", NULL), NULL);
    tu_add(t, tu_st("F", "a", "2", NULL), NULL);
    tu_add(t, tu_st("F", "a", "2", "3", NULL), NULL);
    tu_add(t, tu_st("NegationOf", "Never", "F", NULL), NULL);
    tu_add(t, tu_st("Never", "a", "1", NULL), NULL);
    tu_commit(t);
    alloc_case c;
    memset(&c, 0, sizeof c);
    assert_true(tu_fail_each_alloc(s, false, op_check, free_case, &c) > 0);
    assert_true(tu_fail_each_alloc(s, false, op_validate, free_case, &c) > 0);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_declarations_and_rules),
        cmocka_unit_test(test_check_matches_oracle),
        cmocka_unit_test(test_check_findings_cap),
        cmocka_unit_test(test_validate_matches_oracle),
        cmocka_unit_test(test_validate_cap),
        cmocka_unit_test(test_service_checks),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
