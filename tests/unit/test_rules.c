/*
 * test_rules.c — the rule engine (src/reason/rules.h): parsing, safety,
 * stratification, stored rules with their audit entries, and a
 * differential test of the materialization against a brute-force
 * evaluator written here.
 *
 * The oracle: facts are canonical strings; a program is evaluated stratum
 * by stratum (strata computed here, independently of the engine) by
 * trying every assignment of the domain's constants to every rule's
 * variables until nothing changes. Derived = the oracle's fixpoint minus
 * the asserted facts. After every step of random sequences of fact and
 * rule additions, deletions and toggles, the engine's stored derived facts
 * must equal it, the proof checker must accept every step, and `why` must
 * give a proof for every derived fact. Fact changes go through the change
 * hook, which maintains the derived facts incrementally; after each one
 * the stored result must also equal a full recomputation (hkr_materialize
 * in a transaction that is then aborted), and no maintenance may have
 * fallen back to recomputing.
 */
#include "test_store_util.h"

#include "core/buf.h"
#include "reason/rules.h"
#include "reason/rules_int.h"

/* ==== Helpers ==== */

static hk_store *open_kb(const char *dir)
{
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_err e = hkr_attach(s, &err);
    if (e) fprintf(stderr, "attach: %s\n", err.message);
    assert_int_equal(e, HK_OK);
    return s;
}

static void close_kb(hk_store *s)
{
    hkr_detach(s);
    hk_store_close(s);
}

static hkr_dbs dbs(hk_store *s)
{
    hkr_dbs d;
    hk_error err;
    assert_int_equal(hkr_dbs_of(s, &d, &err), HK_OK);
    return d;
}

static hk_err add_rule(hk_store *s, const char *name, const char *text,
                       hk_error *err)
{
    hkr_dbs d = dbs(s);
    hk_txn *t = tu_begin(s, true);
    hk_err e = hkr_add(t, &d, name, text, NULL, err);
    if (e == HK_OK)
        e = hkr_materialize(t, &d, NULL, NULL, &(hkr_reason_res){0}, err);
    if (e == HK_OK)
        tu_commit(t);
    else
        hk_txn_abort(t);
    return e;
}

static void add_fact_text(hk_store *s, const char *text)
{
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    tu_add(t, st, NULL);
    tu_commit(t);
    hk_statement_release(&st);
}

static bool is_derived(hk_store *s, const char *text)
{
    hkr_dbs d = dbs(s);
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    hk_txn *t = tu_begin(s, false);
    bool derived = false;
    assert_int_equal(hkr_is_derived(t, &d, &st, &derived, &err), HK_OK);
    hk_txn_abort(t);
    hk_statement_release(&st);
    return derived;
}

/* ==== Parsing, safety, stratification ==== */

static void test_parse(void **state)
{
    (void)state;
    hkr_rule *r = NULL;
    hk_error err;
    const char *ok = "Ancestor(?x, ?z) :- Parent(?x, ?y), Ancestor(?y, ?z).";
    assert_int_equal(hkr_parse(ok, strlen(ok), &r, &err), HK_OK);
    assert_string_equal(r->head_pred, "Ancestor");
    assert_int_equal(r->head_n, 2);
    assert_true(r->head_is_var[0] && r->head_is_var[1]);
    assert_int_equal(hkq_n_positive(r->body), 2);
    hkr_rule_free(r);

    const char *consts = "Root(top, ?x) :- Node(?x), not Parent(_, ?x), ?x != "
                         "\"a b\".";
    assert_int_equal(hkr_parse(consts, strlen(consts), &r, &err), HK_OK);
    assert_false(r->head_is_var[0]);
    assert_string_equal(r->head_const[0], "top");
    hkr_rule_free(r);

    struct {
        const char *text;
        const char *msg;
        uint32_t column;
    } bad[] = {
        {"Ancestor(?x, ?z)", "no ':-'", 1},
        {"Bad(?x, ?z) :- Parent(?x, ?y).", "unsafe rule: variable ?z", 1},
        {"Bad(?x) :- Parent(?x, ?y", "closing ')'", 12},
        {"?p(?x) :- Parent(?x, ?y).", "constant predicate", 1},
        {"Bad(?x) :- ?p(?x, ?y).", "variable predicate", 12},
        {"Bad(_) :- P(?x).", "is '_'", 1},
        {"Bad(?x) :- P(?x), not Q(?y).", "not bound", 23},
        {"Bad(?x) :- select ?x where P(?x).", "without select", 12},
        {" :- P(?x).", "no head", 2},
        {"Bad(?x) :- ", "no body", 9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_error_clear(&err);
        hk_err e = hkr_parse(bad[i].text, strlen(bad[i].text), &r, &err);
        if (e != HK_ERR_INVALID || !strstr(err.message, bad[i].msg) ||
            err.column != bad[i].column)
            fail_msg("%s: rc %d column %u: %s", bad[i].text, e, err.column,
                     err.message);
        assert_null(r);
    }
}

static void test_stratify(void **state)
{
    (void)state;
    const char *texts[] = {
        "A(?x) :- E(?x, ?y), not B(?x).",
        "B(?x) :- E(?x, ?y), C(?y).",
        "C(?x) :- E(?y, ?x), not D(?x).",
        "D(?x) :- E(?x, ?x).",
    };
    hkr_rule *v[5];
    hk_error err;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hkr_parse(texts[i], strlen(texts[i]), &v[i], &err),
                         HK_OK);
        snprintf(v[i]->name, sizeof v[i]->name, "r%d", i);
    }
    assert_int_equal(hkr_stratify(v, 4, &err), HK_OK);
    assert_int_equal(v[3]->stratum, 0); /* D */
    assert_int_equal(v[2]->stratum, 1); /* C > D */
    assert_int_equal(v[1]->stratum, 1); /* B >= C */
    assert_int_equal(v[0]->stratum, 2); /* A > B */
    /* D depending on A closes a cycle through two negations */
    const char *cyc = "D(?x) :- A(?x).";
    assert_int_equal(hkr_parse(cyc, strlen(cyc), &v[4], &err), HK_OK);
    snprintf(v[4]->name, sizeof v[4]->name, "r4");
    assert_int_equal(hkr_stratify(v, 5, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "not stratifiable"));
    assert_non_null(strstr(err.message, "cycle through negation"));
    /* the cycle starts at a negating head and returns to it */
    assert_true(strstr(err.message, "A -> not B -> C -> not D -> A") ||
                strstr(err.message, "C -> not D -> A -> not B -> C"));
    for (int i = 0; i < 5; i++)
        hkr_rule_free(v[i]);
    /* direct self-negation */
    const char *self = "P(?x) :- Q(?x), not P(?x).";
    hkr_rule *r;
    assert_int_equal(hkr_parse(self, strlen(self), &r, &err), HK_OK);
    snprintf(r->name, sizeof r->name, "selfneg");
    assert_int_equal(hkr_stratify(&r, 1, &err), HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "'selfneg'"));
    assert_non_null(strstr(err.message, "P -> not P"));
    hkr_rule_free(r);
}

/* ==== Stored rules ==== */

static void test_store_rules(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules");
    hk_store *s = open_kb(dir);
    hkr_dbs d = dbs(s);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    hkr_info a, b;
    assert_int_equal(
        hkr_add(t, &d, NULL, "Anc(?x, ?y) :- Par(?x, ?y).", &a, &err), HK_OK);
    assert_string_equal(a.name, "Anc_1");
    assert_int_equal(a.version, 1);
    assert_true(a.enabled);
    hk_free(a.text);
    assert_int_equal(
        hkr_add(t, &d, NULL, "Anc(?x, ?y) :- Par(?y, ?x).", &a, &err), HK_OK);
    assert_string_equal(a.name, "Anc_2");
    hk_free(a.text);
    /* replacing bumps the version; the same text again does not */
    assert_int_equal(
        hkr_add(t, &d, "Anc_1", "Anc(?x, ?y) :- Kid(?y, ?x).", &b, &err),
        HK_OK);
    assert_int_equal(b.version, 2);
    hk_free(b.text);
    assert_int_equal(
        hkr_add(t, &d, "Anc_1", "Anc(?x, ?y) :- Kid(?y, ?x).", &b, &err),
        HK_OK);
    assert_int_equal(b.version, 2);
    hk_free(b.text);
    assert_int_equal(hkr_add(t, &d, "bad name!", "A(?x) :- B(?x).", NULL, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "name");
    /* unstratifiable additions are refused, naming the rule */
    assert_int_equal(
        hkr_add(t, &d, "p", "P(?x) :- Q(?x), not R(?x).", NULL, &err), HK_OK);
    assert_int_equal(hkr_add(t, &d, "r", "R(?x) :- Q(?x), P(?x).", NULL, &err),
                     HK_ERR_INVALID);
    assert_non_null(strstr(err.message, "'p'"));
    assert_non_null(strstr(err.message, "P -> not R -> P"));
    /* ... unless the other side is disabled; enabling it again is refused */
    assert_int_equal(hkr_set_enabled(t, &d, "p", false, &a, &err), HK_OK);
    assert_int_equal(a.version, 2);
    hk_free(a.text);
    assert_int_equal(hkr_add(t, &d, "r", "R(?x) :- Q(?x), P(?x).", NULL, &err),
                     HK_OK);
    assert_int_equal(hkr_set_enabled(t, &d, "p", true, NULL, &err),
                     HK_ERR_INVALID);
    assert_int_equal(hkr_set_enabled(t, &d, "nope", true, NULL, &err),
                     HK_ERR_NOT_FOUND);
    assert_int_equal(hkr_delete(t, &d, "r", &a, &err), HK_OK);
    assert_string_equal(a.name, "r");
    hk_free(a.text);
    assert_int_equal(hkr_delete(t, &d, "r", NULL, &err), HK_ERR_NOT_FOUND);
    hkr_info *v = NULL;
    size_t n = 0;
    assert_int_equal(hkr_list(t, &d, &v, &n, &err), HK_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "Anc_1");
    assert_string_equal(v[1].name, "Anc_2");
    assert_string_equal(v[2].name, "p");
    assert_false(v[2].enabled);
    hkr_info_free(v, n);
    tu_commit(t);

    /* every change is in the audit chain, which still verifies */
    t = tu_begin(s, false);
    hk_audit_entry *ent = NULL;
    size_t ne = 0;
    assert_int_equal(hk_audit_list(t, 0, 100, &ent, &ne, &err), HK_OK);
    size_t n_rule = 0;
    for (size_t i = 0; i < ne; i++)
        if (strcmp(ent[i].op, "rule") == 0) n_rule++;
    /* Anc_1, Anc_2, Anc_1 v2, p, p disabled, r added, r deleted */
    assert_int_equal(n_rule, 7);
    assert_non_null(strstr(ent[0].before, "\"name\":\"r\""));
    assert_null(ent[0].after);
    hk_audit_entries_free(ent, ne);
    hk_audit_report rep;
    assert_int_equal(hk_audit_verify(t, &rep, &err), HK_OK);
    hk_txn_abort(t);
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Materialization, maintenance, proofs ==== */

static void test_reason_basic(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules");
    hk_store *s = open_kb(dir);
    hk_error err;
    add_fact_text(s, "PartOf(a, b)");
    add_fact_text(s, "PartOf(b, c)");
    add_fact_text(s, "PartOf(c, d)");
    assert_int_equal(add_rule(s, "trans",
                              "PartOf(?x, ?z) :- PartOf(?x, ?y), "
                              "PartOf(?y, ?z).",
                              &err),
                     HK_OK);
    assert_true(is_derived(s, "PartOf(a, d)"));
    assert_true(is_derived(s, "PartOf(a, c)"));
    assert_false(is_derived(s, "PartOf(a, b)")); /* asserted */
    /* asserting a derived fact moves it to the asserted ones */
    add_fact_text(s, "PartOf(a, c)");
    assert_false(is_derived(s, "PartOf(a, c)"));
    assert_true(is_derived(s, "PartOf(a, d)"));
    /* a delete retracts what loses support, and only that */
    hkr_dbs d = dbs(s);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = 0;
    hk_statement st = tu_st("PartOf", "c", "d", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
    tu_commit(t);
    assert_false(is_derived(s, "PartOf(a, d)"));
    assert_false(is_derived(s, "PartOf(b, d)"));
    t = tu_begin(s, false);
    uint64_t n = 0;
    assert_int_equal(hkr_derived_count(t, &d, &n, &err), HK_OK);
    hk_txn_abort(t);
    assert_int_equal(n, 0); /* a-b, b-c, a-c are all asserted */
    add_fact_text(s, "PartOf(c, d)");
    /* a proof of a depth-2 fact */
    t = tu_begin(s, false);
    hk_buf b = HK_BUF_INIT;
    st = tu_st("PartOf", "a", "d", NULL);
    assert_int_equal(hkr_why_json(t, &d, &st, &b, &err), HK_OK);
    assert_non_null(strstr(b.data, "\"rule\":\"trans\""));
    assert_non_null(strstr(b.data, "\"derived\":false,\"id\":"));
    hk_buf_free(&b);
    st = tu_st("PartOf", "d", "a", NULL);
    assert_int_equal(hkr_why_json(t, &d, &st, &b, &err), HK_ERR_NOT_FOUND);
    hk_buf_free(&b);
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_true(vr.checked > 0);
    assert_int_equal(vr.bad, 0);
    hk_txn_abort(t);
    close_kb(s);

    /* reopening: the derived facts are there, and still check */
    s = open_kb(dir);
    assert_true(is_derived(s, "PartOf(a, d)"));
    d = dbs(s);
    t = tu_begin(s, false);
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.bad, 0);
    hk_txn_abort(t);
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Closures on the id-level evaluator ==== */

#define CL_NODES 120
#define CL_EDGES 170

/* Derived facts of the KB must be exactly the pairs of reach (per pair
 * text "PRED(nI, nJ)"), minus the asserted ones when pred is asserted. */
static void check_closure(hk_store *s, const char *pred,
                          bool reach[CL_NODES][CL_NODES],
                          bool edge[CL_NODES][CL_NODES], bool pred_asserted)
{
    uint64_t want = 0;
    char a[16], b[16];
    hkr_dbs d = dbs(s);
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    for (int i = 0; i < CL_NODES; i++)
        for (int j = 0; j < CL_NODES; j++) {
            if (!reach[i][j]) continue;
            bool want_derived = !(pred_asserted && edge[i][j]), derived = 0;
            want += want_derived;
            snprintf(a, sizeof a, "n%d", i);
            snprintf(b, sizeof b, "n%d", j);
            hk_statement st = tu_st(pred, a, b, NULL);
            assert_int_equal(hkr_is_derived(t, &d, &st, &derived, &err), HK_OK);
            assert_int_equal(derived, want_derived);
        }
    uint64_t n = 0;
    assert_int_equal(hkr_derived_count(t, &d, &n, &err), HK_OK);
    assert_int_equal(n, want);
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.checked, want);
    if (vr.bad) fprintf(stderr, "verify: %s\n", vr.first);
    assert_int_equal(vr.bad, 0);
    hk_txn_abort(t);
    /* the generic evaluator finds the same number in the same snapshot */
    t = tu_begin(s, true);
    hkr_reason_res res;
    hkr_flat_set(false);
    assert_int_equal(hkr_materialize(t, &d, NULL, NULL, &res, &err), HK_OK);
    hkr_flat_set(true);
    assert_int_equal(res.derived, want);
    hk_txn_abort(t);
}

static void warshall(bool edge[CL_NODES][CL_NODES],
                     bool reach[CL_NODES][CL_NODES])
{
    memcpy(reach, edge, sizeof(bool) * CL_NODES * CL_NODES);
    for (int k = 0; k < CL_NODES; k++)
        for (int i = 0; i < CL_NODES; i++)
            if (reach[i][k])
                for (int j = 0; j < CL_NODES; j++)
                    reach[i][j] |= reach[k][j];
}

/* A random DAG plus a 40-node chain (many rounds, joins that emit more
 * head tuples than one batch): the linear closure (Path over Edge) and
 * the doubling one (PartOf transitive) equal a Warshall closure, every
 * proof checks, the generic evaluator agrees, and deleting and re-adding
 * edges (maintained by the change hook) keeps them equal. */
static void test_flat_closure(void **state)
{
    (void)state;
    static bool edge[CL_NODES][CL_NODES], reach[CL_NODES][CL_NODES];
    memset(edge, 0, sizeof edge);
    uint64_t seed = 7;
    for (int i = 0; i < 40; i++)
        edge[i][i + 1] = true;
    for (int n = 0; n < CL_EDGES;) {
        int a = (int)(tu_rand(&seed) % CL_NODES);
        int b = (int)(tu_rand(&seed) % CL_NODES);
        if (a == b || edge[a < b ? a : b][a < b ? b : a]) continue;
        edge[a < b ? a : b][a < b ? b : a] = true;
        n++;
    }
    for (int prog = 0; prog < 2; prog++) {
        const char *pred = prog == 0 ? "Edge" : "PartOf";
        const char *head = prog == 0 ? "Path" : "PartOf";
        char *dir = tu_tmpdir("rules-closure");
        hk_store *s = open_kb(dir);
        hk_error err;
        uint64_t flat0 = hkr_flat_count();
        char f[64];
        hk_txn *t = tu_begin(s, true);
        for (int i = 0; i < CL_NODES; i++)
            for (int j = 0; j < CL_NODES; j++) {
                if (!edge[i][j]) continue;
                char a[16], b[16];
                snprintf(a, sizeof a, "n%d", i);
                snprintf(b, sizeof b, "n%d", j);
                tu_add(t, tu_st(pred, a, b, NULL), NULL);
            }
        tu_commit(t);
        if (prog == 0) {
            assert_int_equal(
                add_rule(s, "base", "Path(?x, ?y) :- Edge(?x, ?y).", &err),
                HK_OK);
            assert_int_equal(add_rule(s, "step",
                                      "Path(?x, ?z) :- Edge(?x, ?y), "
                                      "Path(?y, ?z).",
                                      &err),
                             HK_OK);
        } else {
            assert_int_equal(add_rule(s, "trans",
                                      "PartOf(?x, ?z) :- PartOf(?x, ?y), "
                                      "PartOf(?y, ?z).",
                                      &err),
                             HK_OK);
        }
        assert_true(hkr_flat_count() > flat0);
        warshall(edge, reach);
        check_closure(s, head, reach, edge, prog == 1);
        /* delete two chain edges and one random edge, then re-add one */
        int del[3][2] = {{10, 11}, {30, 31}, {-1, -1}};
        for (int i = 0; i < CL_NODES && del[2][0] < 0; i++)
            for (int j = 41; j < CL_NODES && del[2][0] < 0; j++)
                if (edge[i][j]) del[2][0] = i, del[2][1] = j;
        for (int k = 0; k < 4; k++) {
            int *e = del[k < 3 ? k : 0];
            char a[16], b[16];
            snprintf(a, sizeof a, "n%d", e[0]);
            snprintf(b, sizeof b, "n%d", e[1]);
            t = tu_begin(s, true);
            if (k < 3) {
                hk_fact_id id = 0;
                hk_statement st = tu_st(pred, a, b, NULL);
                assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
                assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
            } else {
                tu_add(t, tu_st(pred, a, b, NULL), NULL);
            }
            tu_commit(t);
            edge[e[0]][e[1]] = k == 3;
            warshall(edge, reach);
            snprintf(f, sizeof f, "%s", head);
            check_closure(s, f, reach, edge, prog == 1);
        }
        for (int k = 1; k < 3; k++)
            edge[del[k][0]][del[k][1]] = true;
        close_kb(s);
        tu_rmrf(dir);
        free(dir);
    }
}

/* A closure large enough that the id-level evaluator's growing arrays
 * pass the size at which they get mappings of their own (and are moved,
 * not copied, as they grow), with a ternary head (sorted by comparing
 * tuples, not by packed keys): the stored facts are exactly the expected
 * ones, every step verifies, and recomputing writes nothing new. */
#define BIG_CHAIN 400

static void test_flat_large(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules-large");
    hk_store *s = open_kb(dir);
    hk_error err;
    hkr_dbs d = dbs(s);
    hk_txn *t = tu_begin(s, true);
    for (int i = 0; i < BIG_CHAIN; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "n%d", i);
        snprintf(b, sizeof b, "n%d", i + 1);
        tu_add(t, tu_st("Edge", a, b, NULL), NULL);
    }
    tu_commit(t);
    assert_int_equal(add_rule(s, "base", "Path(?x, ?y) :- Edge(?x, ?y).", &err),
                     HK_OK);
    /* the second rule multiplies the derived facts: everything is
     * rewritten in key order */
    assert_int_equal(add_rule(s, "step",
                              "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z).",
                              &err),
                     HK_OK);
    assert_int_equal(add_rule(s, "three",
                              "Hop3(?x, ?y, ?z) :- Path(?x, ?y), Edge(?y, ?z).",
                              &err),
                     HK_OK);
    const uint64_t paths = (uint64_t)BIG_CHAIN * (BIG_CHAIN + 1) / 2;
    const uint64_t hops = (uint64_t)(BIG_CHAIN - 1) * BIG_CHAIN / 2;
    for (int round = 0; round < 2; round++) {
        t = tu_begin(s, false);
        uint64_t n = 0;
        assert_int_equal(hkr_derived_count(t, &d, &n, &err), HK_OK);
        assert_int_equal(n, paths + hops);
        hk_statement yes[] = {tu_st("Path", "n0", "n400", NULL),
                              tu_st("Path", "n399", "n400", NULL),
                              tu_st("Hop3", "n0", "n399", "n400", NULL),
                              tu_st("Hop3", "n7", "n8", "n9", NULL)};
        hk_statement no[] = {tu_st("Path", "n5", "n3", NULL),
                             tu_st("Path", "n5", "n5", NULL),
                             tu_st("Hop3", "n0", "n400", "n401", NULL)};
        for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
            bool derived = false;
            assert_int_equal(hkr_is_derived(t, &d, &yes[i], &derived, &err),
                             HK_OK);
            assert_true(derived);
        }
        for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
            bool derived = true;
            assert_int_equal(hkr_is_derived(t, &d, &no[i], &derived, &err),
                             HK_OK);
            assert_false(derived);
        }
        hkr_verify_res vr;
        assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
        if (vr.bad) fprintf(stderr, "verify: %s\n", vr.first);
        assert_int_equal(vr.bad, 0);
        assert_int_equal(vr.checked, paths + hops);
        hk_txn_abort(t);
        if (round == 1) break;
        /* a recomputation finds the same facts with the same supports */
        uint64_t flat0 = hkr_flat_count();
        t = tu_begin(s, true);
        hkr_reason_res res;
        assert_int_equal(hkr_materialize(t, &d, NULL, NULL, &res, &err), HK_OK);
        assert_int_equal(res.derived, paths + hops);
        tu_commit(t);
        assert_true(hkr_flat_count() > flat0);
    }
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* Maintenance that reads only what a change reaches (rules_local.c):
 * random additions and deletions of edges on 30 nodes, cycles and
 * diamonds included, after a 30-node chain (deleting a middle edge
 * removes a quarter of the closure), for a right-linear closure (derived
 * facts probed by their first argument), a left-linear one (by their
 * second: a scan of the predicate's range) and a transitive declaration
 * style rule (both, and asserted facts of the derived predicate). After
 * every change the derived facts equal a Warshall closure, every proof
 * checks and the generic evaluator agrees; every change took the local
 * path. */
static void test_local_maintenance(void **state)
{
    (void)state;
    enum { NODES = 30, OPS = 30 };
    static bool edge[CL_NODES][CL_NODES], reach[CL_NODES][CL_NODES];
    static const char *const progs[3][2] = {
        {"Path(?x, ?y) :- Edge(?x, ?y).",
         "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z)."},
        {"Path(?x, ?y) :- Edge(?x, ?y).",
         "Path(?x, ?z) :- Path(?x, ?y), Edge(?y, ?z)."},
        {"PartOf(?x, ?z) :- PartOf(?x, ?y), PartOf(?y, ?z).", NULL},
    };
    for (int prog = 0; prog < 3; prog++) {
        const char *pred = prog < 2 ? "Edge" : "PartOf";
        const char *head = prog < 2 ? "Path" : "PartOf";
        memset(edge, 0, sizeof edge);
        for (int i = 0; i + 1 < NODES; i++)
            edge[i][i + 1] = true;
        char *dir = tu_tmpdir("rules-local");
        hk_store *s = open_kb(dir);
        hk_error err;
        char a[16], b[16];
        hk_txn *t = tu_begin(s, true);
        for (int i = 0; i < NODES; i++)
            for (int j = 0; j < NODES; j++) {
                if (!edge[i][j]) continue;
                snprintf(a, sizeof a, "n%d", i);
                snprintf(b, sizeof b, "n%d", j);
                tu_add(t, tu_st(pred, a, b, NULL), NULL);
            }
        tu_commit(t);
        for (int r = 0; r < 2 && progs[prog][r]; r++) {
            char name[16];
            snprintf(name, sizeof name, "r%d", r);
            hk_err e = add_rule(s, name, progs[prog][r], &err);
            if (e) fail_msg("%s: %s", progs[prog][r], err.message);
        }
        uint64_t local0 = hkr_local_count(), seed = 11u + (uint64_t)prog;
        for (int op = 0; op < OPS; op++) {
            int x, y;
            if (op % 10 == 0) { /* a middle edge of the chain */
                x = NODES / 2 - 1 + op / 10;
                y = x + 1;
            } else {
                x = (int)(tu_rand(&seed) % NODES);
                y = (int)(tu_rand(&seed) % NODES);
            }
            snprintf(a, sizeof a, "n%d", x);
            snprintf(b, sizeof b, "n%d", y);
            hk_statement st = tu_st(pred, a, b, NULL);
            t = tu_begin(s, true);
            if (edge[x][y]) {
                hk_fact_id id = 0;
                assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
                assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
            } else {
                tu_add(t, st, NULL);
            }
            tu_commit(t);
            edge[x][y] = !edge[x][y];
            warshall(edge, reach);
            check_closure(s, head, reach, edge, prog == 2);
        }
        assert_int_equal(hkr_local_count() - local0, OPS);
        close_kb(s);
        tu_rmrf(dir);
        free(dir);
    }
}

/* Both support record versions: a closure materialized by the generic
 * evaluator (version 1: every premise stored) is then maintained through
 * local changes, which write version 2 (free variables only), and
 * recomputed by the id-level evaluator (all version 2): every state
 * proves and checks, and a damaged version-2 record is reported. */
static void test_support_versions(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules-v2");
    hk_store *s = open_kb(dir);
    hk_error err;
    for (int i = 0; i < 12; i++) {
        char f[64];
        snprintf(f, sizeof f, "Edge(n%d, n%d)", i, i + 1);
        add_fact_text(s, f);
    }
    hkr_flat_set(false);
    assert_int_equal(add_rule(s, "base", "Path(?x, ?y) :- Edge(?x, ?y).", &err),
                     HK_OK);
    assert_int_equal(add_rule(s, "step",
                              "Path(?x, ?z) :- Edge(?x, ?y), Path(?y, ?z).",
                              &err),
                     HK_OK);
    hkr_flat_set(true);
    hkr_dbs d = dbs(s);
    /* counts of version-2 records, checked states */
    for (int phase = 0; phase < 3; phase++) {
        if (phase == 1) add_fact_text(s, "Edge(n12, n13)");
        if (phase == 2) {
            hk_txn *w = tu_begin(s, true);
            assert_int_equal(
                hkr_materialize(w, &d, NULL, NULL, &(hkr_reason_res){0}, &err),
                HK_OK);
            tu_commit(w);
        }
        hk_txn *t = tu_begin(s, false);
        hks_cursor *c = NULL;
        assert_int_equal(hks_cursor_open(t, d.derived, &c, &err), HK_OK);
        uint64_t n = 0, v2 = 0;
        for (;;) {
            hks_val k, v;
            bool found = false;
            assert_int_equal(hks_cursor_next(c, &k, &v, &found, &err), HK_OK);
            if (!found) break;
            n++;
            v2 += ((const uint8_t *)v.data)[0] == HKR_SUPPORT_V2;
        }
        hks_cursor_close(c);
        /* 12 edges: 78 pairs; 13: 91, the 13 new ones by local writes */
        assert_int_equal(n, phase == 0 ? 78 : 91);
        assert_int_equal(v2, phase == 0 ? 0 : phase == 1 ? 13 : 91);
        hkr_verify_res vr;
        assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
        if (vr.bad) fail_msg("phase %d: %s", phase, vr.first);
        assert_int_equal(vr.checked, n);
        hk_statement st = tu_st("Path", "n0", "n13", NULL);
        hk_buf b = HK_BUF_INIT;
        if (phase > 0) {
            assert_int_equal(hkr_why_json(t, &d, &st, &b, &err), HK_OK);
            assert_non_null(strstr(b.data, "\"y\":\"n1\""));
        }
        hk_buf_free(&b);
        hk_txn_abort(t);
    }
    /* a version-2 record whose stored value names another fact */
    hk_txn *w = tu_begin(s, true);
    hk_statement st = tu_st("Path", "n0", "n5", NULL);
    uint32_t sym[3];
    assert_int_equal(hks_sym_id(w, "Path", 4, &sym[0], &err), HK_OK);
    assert_int_equal(hks_sym_id(w, "n0", 2, &sym[1], &err), HK_OK);
    assert_int_equal(hks_sym_id(w, "n5", 2, &sym[2], &err), HK_OK);
    hks_fact_syms fs = {sym[0], 2, {sym[1], sym[2]}};
    uint8_t key[HKR_KEY_MAX];
    hk_buf v = HK_BUF_INIT;
    uint32_t wrong = sym[2]; /* ?y = n5: Edge(n0, n5) does not exist */
    assert_int_equal(hkr_support_v2(&v, "step", 9, &wrong, 1, &err), HK_OK);
    hks_val kv = {key, hkr_key_of(&fs, key)}, vv = {v.data, v.len};
    assert_int_equal(hks_put(w, d.derived, kv, vv, 0, &err), HK_OK);
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(w, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.bad, 1);
    assert_non_null(strstr(vr.first, "Path(n0, n5)"));
    hk_buf b = HK_BUF_INIT;
    assert_int_not_equal(hkr_why_json(w, &d, &st, &b, &err), HK_OK);
    hk_buf_free(&b);
    hk_buf_free(&v);
    hk_txn_abort(w);
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* Declarations asserted as facts compile to rules. */
static void test_ontology(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules");
    hk_store *s = open_kb(dir);
    const char *facts[] = {
        "PartOf(Wheel, Car)",
        "PartOf(Spoke, Wheel)",
        "Transitive(PartOf)",
        "InverseOf(PartOf, HasPart)",
        "Married(Ann, Bob)",
        "Symmetric(Married)",
        "HasMother(Cid, Ann)",
        "SubPropertyOf(HasMother, HasParent)",
        "IsA(Rex, Dog)",
        "IsTypeOf(Tom, Cat)",
        "SubClassOf(Dog, Mammal)",
        "SubClassOf(Cat, Mammal)",
        "SubClassOf(Mammal, Animal)",
        "Transitive(\"not a predicate\")",
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        add_fact_text(s, facts[i]);
    const char *want[] = {
        "PartOf(Spoke, Car)",      "HasPart(Car, Wheel)",
        "HasPart(Car, Spoke)",     "HasPart(Wheel, Spoke)",
        "Married(Bob, Ann)",       "HasParent(Cid, Ann)",
        "IsA(Rex, Mammal)",        "IsA(Rex, Animal)",
        "IsTypeOf(Tom, Mammal)",   "IsTypeOf(Tom, Animal)",
        "SubClassOf(Dog, Animal)", "SubClassOf(Cat, Animal)",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!is_derived(s, want[i])) fail_msg("%s not derived", want[i]);
    assert_false(is_derived(s, "Married(Ann, Bob)"));
    hkr_dbs d = dbs(s);
    hk_error err;
    hk_txn *t = tu_begin(s, false);
    uint64_t n = 0;
    assert_int_equal(hkr_derived_count(t, &d, &n, &err), HK_OK);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    hk_buf b = HK_BUF_INIT;
    hk_statement st = tu_st("HasPart", "Car", "Spoke", NULL);
    assert_int_equal(hkr_why_json(t, &d, &st, &b, &err), HK_OK);
    assert_non_null(strstr(b.data, "\"rule\":\"InverseOf(PartOf, HasPart)\""));
    assert_non_null(strstr(b.data, "\"rule\":\"Transitive(PartOf)\""));
    hk_buf_free(&b);
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.bad, 0);
    hk_txn_abort(t);
    /* retracting a declaration retracts what it licensed */
    t = tu_begin(s, true);
    hk_fact_id id = 0;
    st = tu_st("Transitive", "PartOf", NULL);
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
    tu_commit(t);
    assert_false(is_derived(s, "PartOf(Spoke, Car)"));
    assert_false(is_derived(s, "HasPart(Car, Spoke)"));
    assert_true(is_derived(s, "HasPart(Car, Wheel)"));
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* The checker refuses a forged derivation step. */
static void test_verify_detects(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rules");
    hk_store *s = open_kb(dir);
    hk_error err;
    add_fact_text(s, "E(a, b)");
    add_fact_text(s, "E(b, c)");
    assert_int_equal(add_rule(s, "r", "T(?x, ?y) :- E(?x, ?y), ?x < ?y.", &err),
                     HK_OK);
    assert_true(is_derived(s, "T(a, b)"));
    /* disabling the rule without rematerializing leaves steps whose rule
     * is disabled: the checker names them */
    hkr_dbs d = dbs(s);
    hk_txn *t = tu_begin(s, true);
    assert_int_equal(hkr_set_enabled(t, &d, "r", false, NULL, &err), HK_OK);
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.checked, 2);
    assert_int_equal(vr.bad, 2);
    assert_non_null(strstr(vr.first, "disabled"));
    /* replacing the rule by one whose comparison fails */
    assert_int_equal(hkr_set_enabled(t, &d, "r", true, NULL, &err), HK_OK);
    assert_int_equal(
        hkr_add(t, &d, "r", "T(?x, ?y) :- E(?x, ?y), ?x > ?y.", NULL, &err),
        HK_OK);
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    assert_int_equal(vr.bad, 2);
    assert_non_null(strstr(vr.first, "comparison"));
    hk_txn_abort(t);
    close_kb(s);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Differential test ==== */

#define DOM 5     /* constants "1".."5" */
#define MAXF 4096 /* facts the oracle holds */
#define MAXR 8    /* rules in a program */

typedef struct pred_def {
    const char *name;
    uint32_t arity;
    bool idb; /* may be a rule head */
} pred_def;

static const pred_def preds[] = {
    {"E", 2, false}, {"F", 2, false}, {"U", 1, false}, {"A", 2, true},
    {"B", 2, true},  {"C", 1, true},  {"T", 3, true},
};
#define NPREDS (sizeof preds / sizeof preds[0])

/* A term: variable 0..3 (?x ?y ?z ?w) or constant 1..DOM (as -c). */
typedef struct oatom {
    uint32_t pred;
    bool neg;
    int args[3];
} oatom;
typedef struct ocmp {
    int op; /* 0 !=, 1 <, 2 = */
    int l, r;
} ocmp;
typedef struct orule {
    char name[16];
    bool enabled;
    uint32_t head;
    int hargs[3];
    oatom body[4];
    uint32_t n_body;
    ocmp cmps[2];
    uint32_t n_cmps;
    char text[512];
} orule;

typedef struct oset {
    char *v[MAXF];
    size_t n;
} oset;

static bool oset_has(const oset *s, const char *f)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], f) == 0) return true;
    return false;
}
static bool oset_add(oset *s, const char *f)
{
    if (oset_has(s, f)) return false;
    assert_true(s->n < MAXF);
    s->v[s->n++] = strdup(f);
    return true;
}
static void oset_del(oset *s, const char *f)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], f) == 0) {
            free(s->v[i]);
            s->v[i] = s->v[--s->n];
            return;
        }
}
static void oset_clear(oset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const var_names[] = {"x", "y", "z", "w"};

static void term_text(int t, char *out, size_t n)
{
    if (t >= 0)
        snprintf(out, n, "?%s", var_names[t]);
    else
        snprintf(out, n, "%d", -t);
}

static void fact_text(uint32_t p, const int *vals, char *out, size_t n)
{
    size_t w = (size_t)snprintf(out, n, "%s(", preds[p].name);
    for (uint32_t k = 0; k < preds[p].arity; k++)
        w += (size_t)snprintf(out + w, n - w, "%s%d", k ? ", " : "", vals[k]);
    snprintf(out + w, n - w, ")");
}

static void rule_text(orule *r)
{
    char t[16];
    size_t w =
        (size_t)snprintf(r->text, sizeof r->text, "%s(", preds[r->head].name);
    for (uint32_t k = 0; k < preds[r->head].arity; k++) {
        term_text(r->hargs[k], t, sizeof t);
        w += (size_t)snprintf(r->text + w, sizeof r->text - w, "%s%s",
                              k ? ", " : "", t);
    }
    w += (size_t)snprintf(r->text + w, sizeof r->text - w, ") :- ");
    for (uint32_t i = 0; i < r->n_body; i++) {
        const oatom *a = &r->body[i];
        w += (size_t)snprintf(r->text + w, sizeof r->text - w, "%s%s%s(",
                              i ? ", " : "", a->neg ? "not " : "",
                              preds[a->pred].name);
        for (uint32_t k = 0; k < preds[a->pred].arity; k++) {
            term_text(a->args[k], t, sizeof t);
            w += (size_t)snprintf(r->text + w, sizeof r->text - w, "%s%s",
                                  k ? ", " : "", t);
        }
        w += (size_t)snprintf(r->text + w, sizeof r->text - w, ")");
    }
    static const char *const ops[] = {"!=", "<", "="};
    for (uint32_t i = 0; i < r->n_cmps; i++) {
        char l[16], rr[16];
        term_text(r->cmps[i].l, l, sizeof l);
        term_text(r->cmps[i].r, rr, sizeof rr);
        w += (size_t)snprintf(r->text + w, sizeof r->text - w, ", %s %s %s", l,
                              ops[r->cmps[i].op], rr);
    }
    snprintf(r->text + w, sizeof r->text - w, ".");
}

/* A random safe rule (stratifiability is up to the program). */
/* Random rules without negation or comparison (the programs of the
 * id-level evaluator, rules_flat.c). */
static bool positive_only;

static void random_rule(orule *r, unsigned *seed)
{
    memset(r, 0, sizeof *r);
    r->enabled = true;
    uint32_t idb[4] = {3, 4, 5, 6};
    r->head = idb[rand_r(seed) % 4];
    bool bound[4] = {false};
    r->n_body = 1 + (uint32_t)(rand_r(seed) % 3);
    for (uint32_t i = 0; i < r->n_body; i++) {
        oatom *a = &r->body[i];
        a->pred = (uint32_t)(rand_r(seed) % NPREDS);
        for (uint32_t k = 0; k < preds[a->pred].arity; k++) {
            a->args[k] = rand_r(seed) % 8 == 0 ? -(1 + rand_r(seed) % DOM)
                                               : rand_r(seed) % 4;
            if (a->args[k] >= 0) bound[a->args[k]] = true;
        }
    }
    bool any = false;
    for (int v = 0; v < 4; v++)
        any |= bound[v];
    if (!any) {
        r->body[0].args[0] = 0;
        bound[0] = true;
    }
    int bv[4], nb = 0;
    for (int v = 0; v < 4; v++)
        if (bound[v]) bv[nb++] = v;
    for (uint32_t k = 0; k < preds[r->head].arity; k++)
        r->hargs[k] = rand_r(seed) % 10 == 0 ? -(1 + rand_r(seed) % DOM)
                                             : bv[rand_r(seed) % nb];
    if (positive_only) return;
    if (rand_r(seed) % 3 == 0) {
        /* a negated pattern over bound variables */
        oatom *a = &r->body[r->n_body++];
        a->neg = true;
        a->pred = (uint32_t)(rand_r(seed) % NPREDS);
        for (uint32_t k = 0; k < preds[a->pred].arity; k++)
            a->args[k] = rand_r(seed) % 6 == 0 ? -(1 + rand_r(seed) % DOM)
                                               : bv[rand_r(seed) % nb];
    }
    if (rand_r(seed) % 3 == 0) {
        ocmp *c = &r->cmps[r->n_cmps++];
        c->op = rand_r(seed) % 3;
        c->l = bv[rand_r(seed) % nb];
        c->r = rand_r(seed) % 2 ? bv[rand_r(seed) % nb]
                                : -(1 + rand_r(seed) % DOM);
    }
}

/* Stratifiable (the oracle's own check: reachability by closure)? Fills
 * strata per predicate. */
static bool o_stratify(const orule *rules, size_t n, int *strat)
{
    bool dep[NPREDS][NPREDS], neg[NPREDS][NPREDS];
    memset(dep, 0, sizeof dep);
    memset(neg, 0, sizeof neg);
    for (size_t i = 0; i < n; i++) {
        if (!rules[i].enabled) continue;
        for (uint32_t b = 0; b < rules[i].n_body; b++) {
            dep[rules[i].head][rules[i].body[b].pred] = true;
            if (rules[i].body[b].neg)
                neg[rules[i].head][rules[i].body[b].pred] = true;
        }
    }
    bool reach[NPREDS][NPREDS];
    memcpy(reach, dep, sizeof reach);
    for (size_t k = 0; k < NPREDS; k++)
        for (size_t i = 0; i < NPREDS; i++)
            for (size_t j = 0; j < NPREDS; j++)
                if (reach[i][k] && reach[k][j]) reach[i][j] = true;
    for (size_t i = 0; i < NPREDS; i++)
        for (size_t j = 0; j < NPREDS; j++)
            if (neg[i][j] && (i == j || reach[j][i])) return false;
    for (size_t i = 0; i < NPREDS; i++)
        strat[i] = 0;
    for (size_t pass = 0; pass < NPREDS + 1; pass++)
        for (size_t i = 0; i < NPREDS; i++)
            for (size_t j = 0; j < NPREDS; j++)
                if (dep[i][j] && strat[i] < strat[j] + (neg[i][j] ? 1 : 0))
                    strat[i] = strat[j] + (neg[i][j] ? 1 : 0);
    return true;
}

static int term_val(int t, const int *asg)
{
    return t >= 0 ? asg[t] : -t;
}

/* Whether each fact over the domain is in the oracle's database, by
 * predicate and values - 1 (unused positions 0): the fixpoint below asks
 * this for every assignment, where a text lookup in db cost most of the
 * test's time. */
typedef bool ohave[NPREDS][DOM][DOM][DOM];

static bool *o_slot(ohave have, uint32_t p, const int *vals)
{
    int v[3] = {1, 1, 1};
    for (uint32_t k = 0; k < preds[p].arity; k++)
        v[k] = vals[k];
    return &have[p][v[0] - 1][v[1] - 1][v[2] - 1];
}

/* The brute-force fixpoint: db holds the asserted facts on entry and
 * every fact on return. */
static void o_eval(const orule *rules, size_t n, oset *db)
{
    static ohave have;
    memset(have, 0, sizeof have);
    for (size_t i = 0; i < db->n; i++) {
        /* facts over the domain only: no rule body can match another */
        char name[8];
        int v[3] = {1, 1, 1};
        int got =
            sscanf(db->v[i], "%7[A-Z](%d, %d, %d)", name, &v[0], &v[1], &v[2]);
        for (uint32_t p = 0; p < NPREDS; p++) {
            if (got < 2 || strcmp(preds[p].name, name) != 0 ||
                (uint32_t)got != 1 + preds[p].arity)
                continue;
            bool in = true;
            for (uint32_t k = 0; k < preds[p].arity; k++)
                in = in && v[k] >= 1 && v[k] <= DOM;
            if (in) *o_slot(have, p, v) = true;
        }
    }
    int strat[NPREDS];
    assert_true(o_stratify(rules, n, strat));
    int max_s = 0;
    for (size_t i = 0; i < NPREDS; i++)
        if (strat[i] > max_s) max_s = strat[i];
    char f[128];
    for (int s = 0; s <= max_s; s++) {
        bool changed = true;
        while (changed) {
            changed = false;
            for (size_t ri = 0; ri < n; ri++) {
                const orule *r = &rules[ri];
                if (!r->enabled || strat[r->head] != s) continue;
                int asg[4];
                for (int code = 0; code < DOM * DOM * DOM * DOM; code++) {
                    int c = code;
                    for (int v = 0; v < 4; v++) {
                        asg[v] = 1 + c % DOM;
                        c /= DOM;
                    }
                    bool ok = true;
                    for (uint32_t b = 0; b < r->n_body && ok; b++) {
                        int vals[3];
                        for (uint32_t k = 0; k < preds[r->body[b].pred].arity;
                             k++)
                            vals[k] = term_val(r->body[b].args[k], asg);
                        ok = *o_slot(have, r->body[b].pred, vals) !=
                             r->body[b].neg;
                    }
                    for (uint32_t k = 0; k < r->n_cmps && ok; k++) {
                        int l = term_val(r->cmps[k].l, asg),
                            rr = term_val(r->cmps[k].r, asg);
                        ok = r->cmps[k].op == 0   ? l != rr
                             : r->cmps[k].op == 1 ? l < rr
                                                  : l == rr;
                    }
                    if (!ok) continue;
                    int hv[3];
                    for (uint32_t k = 0; k < preds[r->head].arity; k++)
                        hv[k] = term_val(r->hargs[k], asg);
                    bool *h = o_slot(have, r->head, hv);
                    if (*h) continue;
                    *h = true;
                    fact_text(r->head, hv, f, sizeof f);
                    assert_true(oset_add(db, f));
                    changed = true;
                }
            }
        }
    }
}

typedef struct collect {
    oset *out;
} collect;

static hk_err collect_fn(void *ud, const hk_statement *st, hk_error *err)
{
    (void)err;
    hk_buf b = HK_BUF_INIT;
    hk_statement_format(st, &b);
    oset_add(((collect *)ud)->out, b.data);
    hk_buf_free(&b);
    return HK_OK;
}

static void compare(hk_store *s, const orule *rules, size_t n,
                    const oset *asserted, const char *step)
{
    static oset db, want, got;
    oset_clear(&db);
    oset_clear(&want);
    oset_clear(&got);
    for (size_t i = 0; i < asserted->n; i++)
        oset_add(&db, asserted->v[i]);
    o_eval(rules, n, &db);
    for (size_t i = 0; i < db.n; i++)
        if (!oset_has(asserted, db.v[i])) oset_add(&want, db.v[i]);
    hkr_dbs d = dbs(s);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    collect c = {&got};
    assert_int_equal(hkr_derived_each(t, &d, collect_fn, &c, &err), HK_OK);
    qsort(want.v, want.n, sizeof want.v[0], cmp_str);
    qsort(got.v, got.n, sizeof got.v[0], cmp_str);
    bool same = want.n == got.n;
    for (size_t i = 0; same && i < want.n; i++)
        same = strcmp(want.v[i], got.v[i]) == 0;
    if (!same) {
        fprintf(stderr, "after %s: engine %zu derived, oracle %zu\n", step,
                got.n, want.n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  rule %s%s: %s\n", rules[i].name,
                    rules[i].enabled ? "" : " (disabled)", rules[i].text);
        for (size_t i = 0; i < want.n; i++)
            if (!oset_has(&got, want.v[i]))
                fprintf(stderr, "  missing %s\n", want.v[i]);
        for (size_t i = 0; i < got.n; i++)
            if (!oset_has(&want, got.v[i]))
                fprintf(stderr, "  extra %s\n", got.v[i]);
        fail_msg("materialization differs from the oracle");
    }
    /* the same as a full recomputation of the same state */
    hk_txn_abort(t);
    static oset full;
    oset_clear(&full);
    hk_txn *w = tu_begin(s, true);
    assert_int_equal(
        hkr_materialize(w, &d, NULL, NULL, &(hkr_reason_res){0}, &err), HK_OK);
    collect cf = {&full};
    assert_int_equal(hkr_derived_each(w, &d, collect_fn, &cf, &err), HK_OK);
    hk_txn_abort(w);
    qsort(full.v, full.n, sizeof full.v[0], cmp_str);
    bool same_full = full.n == got.n;
    for (size_t i = 0; same_full && i < full.n; i++)
        same_full = strcmp(full.v[i], got.v[i]) == 0;
    if (!same_full)
        fail_msg("after %s: maintained %zu derived facts, recomputed %zu", step,
                 got.n, full.n);
    oset_clear(&full);
    t = tu_begin(s, false);
    /* every step checks, every derived fact has a proof */
    hkr_verify_res vr;
    assert_int_equal(hkr_verify(t, &d, &vr, &err), HK_OK);
    if (vr.bad) fail_msg("after %s: checker: %s", step, vr.first);
    assert_int_equal(vr.checked, got.n);
    for (size_t i = 0; i < got.n; i++) {
        hk_statement st;
        assert_int_equal(
            hk_statement_parse(got.v[i], strlen(got.v[i]), &st, &err), HK_OK);
        hk_buf b = HK_BUF_INIT;
        hk_err e = hkr_why_json(t, &d, &st, &b, &err);
        if (e) fail_msg("why %s: %s", got.v[i], err.message);
        assert_non_null(strstr(b.data, "\"derived\":true"));
        hk_buf_free(&b);
        hk_statement_release(&st);
    }
    hk_txn_abort(t);
    oset_clear(&db);
    oset_clear(&want);
    oset_clear(&got);
}

static void set_fact(hk_store *s, const char *text, bool add)
{
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    if (add) {
        tu_add(t, st, NULL);
    } else {
        hk_fact_id id = 0;
        assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
        assert_int_equal(hk_store_delete(t, id, &err), HK_OK);
    }
    tu_commit(t);
    hk_statement_release(&st);
}

static void update_fact(hk_store *s, const char *from, const char *to)
{
    hk_statement a, b;
    hk_error err;
    assert_int_equal(hk_statement_parse(from, strlen(from), &a, &err), HK_OK);
    assert_int_equal(hk_statement_parse(to, strlen(to), &b, &err), HK_OK);
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = 0, other = 0;
    assert_int_equal(hk_store_find(t, &a, &id, &err), HK_OK);
    hk_err e = hk_store_update(t, id, &b, &other, &err);
    if (e) fail_msg("update %s -> %s: %s", from, to, err.message);
    tu_commit(t);
    hk_statement_release(&a);
    hk_statement_release(&b);
}

static void random_fact(unsigned *seed, bool idb_too, char *out, size_t n)
{
    uint32_t p = (uint32_t)(rand_r(seed) % (idb_too ? NPREDS : 3));
    int vals[3];
    for (uint32_t k = 0; k < preds[p].arity; k++)
        vals[k] = 1 + rand_r(seed) % DOM;
    fact_text(p, vals, out, n);
}

static void differential(bool positive)
{
    const char *env = getenv("HK_RULES_PROGRAMS");
    int programs = env ? atoi(env) : 30;
    if (positive) programs = programs / 3 > 0 ? programs / 3 : 1;
    positive_only = positive;
    uint64_t incr0 = 0, fall0 = 0, flat0 = hkr_flat_count(),
             local0 = hkr_local_count();
    hkr_incr_counts(&incr0, &fall0);
    static oset asserted;
    int rejected = 0, accepted = 0;
    for (int prog = 0; prog < programs; prog++) {
        unsigned seed = 1000u + (unsigned)prog;
        char *dir = tu_tmpdir("rules-diff");
        hk_store *s = open_kb(dir);
        oset_clear(&asserted);
        char f[128], step[700];
        for (int i = 0; i < 25; i++) {
            random_fact(&seed, i % 8 == 7, f, sizeof f);
            if (oset_add(&asserted, f)) set_fact(s, f, true);
        }
        orule rules[MAXR];
        size_t n = 0;
        /* a recursive and a mutually recursive pair for every program */
        const char *fixed[] = {"A(?x, ?z) :- E(?x, ?y), A(?y, ?z).",
                               "A(?x, ?y) :- E(?x, ?y).",
                               "B(?x, ?y) :- F(?x, ?y), not A(?x, ?y).",
                               "B(?x, ?z) :- A(?x, ?y), B(?y, ?z)."};
        for (size_t i = 0; i < 4 && prog % 2 == 0; i++) {
            if (positive && i == 2) continue; /* negates */
            orule *r = &rules[n];
            /* the same rules as the oracle holds them */
            switch (i) {
            case 0:
                *r = (orule){"fixed0",
                             true,
                             3,
                             {0, 2, 0},
                             {{0, false, {0, 1, 0}}, {3, false, {1, 2, 0}}},
                             2,
                             {{0}},
                             0,
                             ""};
                break;
            case 1:
                *r = (orule){
                    "fixed1", true,  3, {0, 1, 0}, {{0, false, {0, 1, 0}}},
                    1,        {{0}}, 0, ""};
                break;
            case 2:
                *r = (orule){"fixed2",
                             true,
                             4,
                             {0, 1, 0},
                             {{1, false, {0, 1, 0}}, {3, true, {0, 1, 0}}},
                             2,
                             {{0}},
                             0,
                             ""};
                break;
            case 3:
                *r = (orule){"fixed3",
                             true,
                             4,
                             {0, 2, 0},
                             {{3, false, {0, 1, 0}}, {4, false, {1, 2, 0}}},
                             2,
                             {{0}},
                             0,
                             ""};
                break;
            }
            rule_text(r);
            assert_string_equal(r->text, fixed[i]);
            hk_error err;
            hk_err e = add_rule(s, r->name, r->text, &err);
            if (e) fail_msg("%s: %s", r->text, err.message);
            n++;
            snprintf(step, sizeof step, "adding %s", r->text);
            compare(s, rules, n, &asserted, step);
        }
        for (int op = 0; op < 25; op++) {
            int what = rand_r(&seed) % 16;
            if (what < 4 && n < MAXR) {
                orule *r = &rules[n];
                random_rule(r, &seed);
                snprintf(r->name, sizeof r->name, "r%d", op);
                rule_text(r);
                int strat[NPREDS];
                bool can = o_stratify(rules, n + 1, strat);
                hk_error err;
                hk_err e = add_rule(s, r->name, r->text, &err);
                if (can) {
                    if (e) fail_msg("%s refused: %s", r->text, err.message);
                    n++;
                    accepted++;
                } else {
                    assert_int_equal(e, HK_ERR_INVALID);
                    assert_non_null(strstr(err.message, "not stratifiable"));
                    rejected++;
                }
                snprintf(step, sizeof step, "adding rule %s", r->text);
            } else if (what < 5 && n > 0) {
                /* toggle a rule */
                size_t i = (size_t)rand_r(&seed) % n;
                rules[i].enabled = !rules[i].enabled;
                int strat[NPREDS];
                bool can = o_stratify(rules, n, strat);
                hkr_dbs d = dbs(s);
                hk_txn *t = tu_begin(s, true);
                hk_error err;
                hk_err e = hkr_set_enabled(t, &d, rules[i].name,
                                           rules[i].enabled, NULL, &err);
                if (e == HK_OK)
                    e = hkr_materialize(t, &d, NULL, NULL, &(hkr_reason_res){0},
                                        &err);
                if (can) {
                    if (e) fail_msg("toggle: %s", err.message);
                    tu_commit(t);
                } else {
                    assert_int_equal(e, HK_ERR_INVALID);
                    hk_txn_abort(t);
                    rules[i].enabled = !rules[i].enabled;
                }
                snprintf(step, sizeof step, "toggling %s", rules[i].name);
            } else if (what < 6 && n > 0) {
                size_t i = (size_t)rand_r(&seed) % n;
                hkr_dbs d = dbs(s);
                hk_txn *t = tu_begin(s, true);
                hk_error err;
                assert_int_equal(hkr_delete(t, &d, rules[i].name, NULL, &err),
                                 HK_OK);
                assert_int_equal(hkr_materialize(t, &d, NULL, NULL,
                                                 &(hkr_reason_res){0}, &err),
                                 HK_OK);
                tu_commit(t);
                snprintf(step, sizeof step, "deleting %s", rules[i].name);
                rules[i] = rules[--n];
            } else if (what < 8 && asserted.n > 0) {
                /* replace a fact's content, keeping its id */
                size_t i = (size_t)rand_r(&seed) % asserted.n;
                char g[128];
                snprintf(f, sizeof f, "%s", asserted.v[i]);
                random_fact(&seed, rand_r(&seed) % 5 == 0, g, sizeof g);
                if (!oset_has(&asserted, g)) {
                    update_fact(s, f, g);
                    oset_del(&asserted, f);
                    oset_add(&asserted, g);
                }
                snprintf(step, sizeof step, "replacing %s by %s", f, g);
            } else if (what < 12 || asserted.n == 0) {
                random_fact(&seed, rand_r(&seed) % 5 == 0, f, sizeof f);
                if (oset_add(&asserted, f)) set_fact(s, f, true);
                snprintf(step, sizeof step, "adding %s", f);
            } else {
                size_t i = (size_t)rand_r(&seed) % asserted.n;
                snprintf(f, sizeof f, "%s", asserted.v[i]);
                set_fact(s, f, false);
                oset_del(&asserted, f);
                snprintf(step, sizeof step, "deleting %s", f);
            }
            compare(s, rules, n, &asserted, step);
        }
        close_kb(s);
        tu_rmrf(dir);
        free(dir);
    }
    oset_clear(&asserted);
    uint64_t incremental = 0, fallbacks = 0;
    hkr_incr_counts(&incremental, &fallbacks);
    incremental -= incr0;
    fallbacks -= fall0;
    uint64_t flat = hkr_flat_count() - flat0;
    uint64_t local = hkr_local_count() - local0;
    fprintf(stderr,
            "differential%s: %d programs, %d random rules accepted, %d "
            "refused as unstratifiable; %llu changes maintained "
            "incrementally (%llu reading only what they reach), %llu "
            "recomputed; %llu id-level fixpoints\n",
            positive ? " (positive programs)" : "", programs, accepted,
            rejected, (unsigned long long)incremental,
            (unsigned long long)local, (unsigned long long)fallbacks,
            (unsigned long long)flat);
    assert_true(incremental > (uint64_t)programs * 5);
    /* both maintenance paths run: the local one, and delete-and-rederive
     * where a rule negates a predicate the change reaches */
    assert_true(local > (uint64_t)programs * 3);
    if (!positive) assert_true(incremental > local);
    assert_int_equal(fallbacks, 0);
    /* positive programs run on the id-level evaluator */
    if (positive) assert_true(flat > (uint64_t)programs * 3);
    positive_only = false;
}

static void test_differential(void **state)
{
    (void)state;
    differential(false);
}

static void test_differential_positive(void **state)
{
    (void)state;
    differential(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_stratify),
        cmocka_unit_test(test_store_rules),
        cmocka_unit_test(test_reason_basic),
        cmocka_unit_test(test_verify_detects),
        cmocka_unit_test(test_ontology),
        cmocka_unit_test(test_flat_closure),
        cmocka_unit_test(test_flat_large),
        cmocka_unit_test(test_local_maintenance),
        cmocka_unit_test(test_support_versions),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_differential_positive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
