/*
 * test_query_join.c — conjunctive queries checked against a brute-force
 * evaluator written here: random KBs of n-ary facts, random queries with
 * shared and repeated variables, constants, wildcards, negation and
 * comparisons; page cursors; DISTINCT and ORDER BY; in-memory relation
 * sources; parse errors with their column; predicates read whole from the
 * statement index (committed, deleted, and queued in a write txn).
 */
#include "test_store_util.h"

#include "query/query.h"

#define N_PRED 5
#define N_ENT 40
#define N_VARS 4
#define MAX_FACTS 4000

static const char *const preds[N_PRED] = {"P", "Q", "R", "S", "T"};
static const uint32_t pred_arity[N_PRED] = {2, 2, 3, 1, 2};

typedef struct tfact {
    uint32_t pred; /* index in preds */
    uint32_t n;    /* arity */
    uint32_t a[3]; /* entity indexes */
    hk_fact_id id; /* stored id */
} tfact;

static tfact facts[MAX_FACTS];
static size_t n_facts;
static char ent_names[N_ENT][8];

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Entities: "e0".. and numbers (compare numerically: "9" < "10"). */
static const char *ent(uint32_t i)
{
    return ent_names[i];
}

static void build_kb(hk_store *s, size_t want)
{
    for (uint32_t i = 0; i < N_ENT; i++) {
        if (i % 2)
            snprintf(ent_names[i], sizeof ent_names[i], "%u", i * 7 % 31);
        else
            snprintf(ent_names[i], sizeof ent_names[i], "e%u", i);
    }
    hk_txn *t = tu_begin(s, true);
    n_facts = 0;
    for (size_t k = 0; k < want; k++) {
        tfact f;
        memset(&f, 0, sizeof f);
        f.pred = rnd(N_PRED);
        f.n = pred_arity[f.pred];
        if (f.pred == 1 && rnd(5) == 0) f.n = 3; /* Q of two arities */
        for (uint32_t j = 0; j < f.n; j++)
            f.a[j] = rnd(j == 0 ? N_ENT : N_ENT / 2 + 4);
        hk_statement st;
        memset(&st, 0, sizeof st);
        st.predicate = preds[f.pred];
        st.n_args = f.n;
        for (uint32_t j = 0; j < f.n; j++)
            st.args[j] = ent(f.a[j]);
        bool created = false;
        hk_error err;
        assert_int_equal(hk_store_add(t, &st, NULL, &f.id, &created, &err),
                         HK_OK);
        if (created) facts[n_facts++] = f;
    }
    tu_commit(t);
}

/* ==== Random queries and the brute-force evaluator ==== */

enum { S_CONST, S_VAR, S_ANY };
typedef struct tslot {
    int kind;
    uint32_t v; /* entity / predicate index, or variable */
} tslot;
typedef struct tatom {
    bool neg;
    tslot pred;
    uint32_t n;
    tslot a[3];
} tatom;
typedef struct tcmp {
    int op; /* 0 = 1 != 2 < 3 <= 4 > 5 >= */
    tslot l, r;
} tcmp;
typedef struct tquery {
    uint32_t n_atoms;
    tatom atoms[4];
    uint32_t n_cmps;
    tcmp cmps[2];
    char text[1024];
    char vname[N_VARS + 1][4]; /* variables by first appearance */
} tquery;

static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};

static void slot_text(const tslot *s, bool is_pred, char *out, size_t n)
{
    if (s->kind == S_ANY)
        snprintf(out, n, "_");
    else if (s->kind == S_VAR)
        snprintf(out, n, "?%c", 'a' + s->v);
    else if (is_pred)
        snprintf(out, n, "%s", preds[s->v]);
    else
        snprintf(out, n, "%s", ent(s->v));
}

static void random_query(tquery *q)
{
    memset(q, 0, sizeof q[0]);
    uint32_t n_pos = 1 + rnd(3);
    bool bound[N_VARS] = {false};
    for (uint32_t i = 0; i < n_pos; i++) {
        tatom *a = &q->atoms[q->n_atoms++];
        uint32_t r = rnd(10);
        a->pred.kind = r == 0 ? S_VAR : r == 1 && i > 0 ? S_ANY : S_CONST;
        a->pred.v = a->pred.kind == S_VAR ? 3 : rnd(N_PRED);
        a->n = a->pred.kind == S_CONST ? pred_arity[a->pred.v] : 2;
        if (a->pred.kind == S_CONST && a->pred.v == 1 && rnd(4) == 0) a->n = 3;
        if (a->pred.kind == S_VAR) bound[3] = true;
        for (uint32_t j = 0; j < a->n; j++) {
            uint32_t k = rnd(10);
            if (j == 0 && i > 0 && rnd(8) &&
                (bound[0] || bound[1] || bound[2])) {
                /* mostly connected to an earlier pattern */
                uint32_t v = rnd(3);
                while (!bound[v])
                    v = (v + 1) % 3;
                a->a[j].kind = S_VAR;
                a->a[j].v = v;
            } else if (k < 6) {
                a->a[j].kind = S_VAR;
                a->a[j].v = rnd(3);
                bound[a->a[j].v] = true;
            } else if (k < 8) {
                a->a[j].kind = S_CONST;
                a->a[j].v = rnd(j == 0 ? N_ENT : N_ENT / 2 + 4);
            } else {
                a->a[j].kind = S_ANY;
            }
        }
    }
    /* a negated pattern over bound variables, constants and _ */
    if (rnd(3) == 0) {
        tatom *a = &q->atoms[q->n_atoms++];
        a->neg = true;
        a->pred.kind = S_CONST;
        a->pred.v = rnd(N_PRED);
        a->n = pred_arity[a->pred.v];
        for (uint32_t j = 0; j < a->n; j++) {
            uint32_t v = rnd(3);
            uint32_t k = rnd(4);
            if (k < 2 && bound[v]) {
                a->a[j].kind = S_VAR;
                a->a[j].v = v;
            } else if (k == 2) {
                a->a[j].kind = S_CONST;
                a->a[j].v = rnd(N_ENT);
            } else {
                a->a[j].kind = S_ANY;
            }
        }
    }
    uint32_t nc = rnd(3);
    for (uint32_t i = 0; i < nc; i++) {
        uint32_t v = rnd(3);
        if (!bound[v]) continue;
        tcmp *c = &q->cmps[q->n_cmps++];
        c->op = (int)rnd(6);
        c->l.kind = S_VAR;
        c->l.v = v;
        uint32_t w = rnd(3);
        if (bound[w] && rnd(2)) {
            c->r.kind = S_VAR;
            c->r.v = w;
        } else {
            c->r.kind = S_CONST;
            c->r.v = rnd(N_ENT);
        }
    }
    /* text */
    size_t o = 0;
    for (uint32_t i = 0; i < q->n_atoms; i++) {
        const tatom *a = &q->atoms[i];
        char s[32];
        slot_text(&a->pred, true, s, sizeof s);
        o += (size_t)snprintf(q->text + o, sizeof q->text - o, "%s%s%s(",
                              i ? ", " : "", a->neg ? "not " : "", s);
        for (uint32_t j = 0; j < a->n; j++) {
            slot_text(&a->a[j], false, s, sizeof s);
            o += (size_t)snprintf(q->text + o, sizeof q->text - o, "%s%s",
                                  j ? ", " : "", s);
        }
        o += (size_t)snprintf(q->text + o, sizeof q->text - o, ")");
    }
    for (uint32_t i = 0; i < q->n_cmps; i++) {
        char l[32], r[32];
        slot_text(&q->cmps[i].l, false, l, sizeof l);
        slot_text(&q->cmps[i].r, false, r, sizeof r);
        o += (size_t)snprintf(q->text + o, sizeof q->text - o, ", %s %s %s", l,
                              ops[q->cmps[i].op], r);
    }
}

/* Values are entity indexes, or for ?d (predicate var) predicate
 * indexes + 1000. */
static const char *val_text(uint32_t v)
{
    return v >= 1000 ? preds[v - 1000] : ent(v);
}

static int num_cmp(const char *a, const char *b)
{
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (*a && *b && *ea == '\0' && *eb == '\0')
        return x < y ? -1 : x > y ? 1 : 0;
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

typedef struct rowset {
    char **rows;
    size_t n, cap;
} rowset;

static void rs_add(rowset *rs, const char *s)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->rows = realloc(rs->rows, rs->cap * sizeof *rs->rows);
        assert_non_null(rs->rows);
    }
    rs->rows[rs->n++] = strdup(s);
}

static void rs_free(rowset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->rows[i]);
    free(rs->rows);
    memset(rs, 0, sizeof *rs);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The brute force's only shortcut: facts bucketed by predicate and by
 * (predicate, first argument), rebuilt from facts[] for every query. A
 * pattern whose predicate (and first argument) is known scans its bucket
 * instead of every fact; the buckets hold exactly the facts the full scan
 * would have let through, in the same order. */
static uint32_t by_pred_start[N_PRED + 1];
static uint32_t by_pred[MAX_FACTS];
static uint32_t by_pa_start[N_PRED * N_ENT + 1];
static uint32_t by_pa[MAX_FACTS];

static void bucket(uint32_t *start, uint32_t *out, uint32_t n_keys,
                   uint32_t (*key)(const tfact *))
{
    memset(start, 0, (n_keys + 1) * sizeof *start);
    for (size_t k = 0; k < n_facts; k++)
        start[key(&facts[k]) + 1]++;
    for (uint32_t i = 0; i < n_keys; i++)
        start[i + 1] += start[i];
    uint32_t fill[N_PRED * N_ENT];
    memcpy(fill, start, n_keys * sizeof *fill);
    for (size_t k = 0; k < n_facts; k++)
        out[fill[key(&facts[k])]++] = (uint32_t)k;
}

static uint32_t key_pred(const tfact *f)
{
    return f->pred;
}

static uint32_t key_pa(const tfact *f)
{
    assert_true(f->a[0] < N_ENT);
    return f->pred * N_ENT + f->a[0];
}

static void index_facts(void)
{
    bucket(by_pred_start, by_pred, N_PRED, key_pred);
    bucket(by_pa_start, by_pa, N_PRED * N_ENT, key_pa);
}

typedef struct brute {
    const tquery *q;
    uint32_t val[N_VARS];
    bool set[N_VARS];
    hk_fact_id ids[4];
    rowset *out;
    uint32_t order[N_VARS]; /* variables in first-appearance order */
    uint32_t n_order;
} brute;

static bool slot_ok(brute *b, const tslot *s, uint32_t v, uint32_t *newly,
                    uint32_t *n_new)
{
    if (s->kind == S_ANY) return true;
    if (s->kind == S_CONST) return s->v == v;
    if (b->set[s->v]) return b->val[s->v] == v;
    b->set[s->v] = true;
    b->val[s->v] = v;
    newly[(*n_new)++] = s->v;
    return true;
}

/* The facts a pattern can match: its bucket when the predicate is a
 * constant or a bound variable, else all (*all set, *n = n_facts). */
static const uint32_t *candidates(const brute *b, const tatom *a, size_t *n,
                                  bool *all)
{
    uint32_t p = N_PRED;
    if (a->pred.kind == S_CONST) p = a->pred.v;
    /* (fact_matches_neg reads a negated pattern's predicate as a constant) */
    if (!a->neg && a->pred.kind == S_VAR && b->set[a->pred.v] &&
        b->val[a->pred.v] >= 1000)
        p = b->val[a->pred.v] - 1000;
    uint32_t e = N_ENT;
    const tslot *s0 = &a->a[0];
    if (a->n > 0 && s0->kind == S_CONST) e = s0->v;
    if (a->n > 0 && s0->kind == S_VAR && b->set[s0->v]) e = b->val[s0->v];
    *all = p >= N_PRED;
    if (*all) {
        *n = n_facts;
        return NULL;
    }
    if (e < N_ENT) {
        uint32_t k = p * N_ENT + e;
        *n = by_pa_start[k + 1] - by_pa_start[k];
        return by_pa + by_pa_start[k];
    }
    *n = by_pred_start[p + 1] - by_pred_start[p];
    return by_pred + by_pred_start[p];
}

static bool fact_matches_neg(brute *b, const tatom *a, const tfact *f)
{
    if (f->pred != a->pred.v || f->n != a->n) return false;
    for (uint32_t j = 0; j < a->n; j++) {
        const tslot *s = &a->a[j];
        if (s->kind == S_CONST && s->v != f->a[j]) return false;
        if (s->kind == S_VAR && b->val[s->v] != f->a[j]) return false;
    }
    return true;
}

static void brute_emit(brute *b)
{
    const tquery *q = b->q;
    for (uint32_t i = 0; i < q->n_atoms; i++) {
        if (!q->atoms[i].neg) continue;
        size_t n;
        bool all;
        const uint32_t *c = candidates(b, &q->atoms[i], &n, &all);
        for (size_t k = 0; k < n; k++)
            if (fact_matches_neg(b, &q->atoms[i], &facts[all ? k : c[k]]))
                return;
    }
    for (uint32_t i = 0; i < q->n_cmps; i++) {
        const tcmp *c = &q->cmps[i];
        const char *l = val_text(b->val[c->l.v]);
        const char *r =
            c->r.kind == S_VAR ? val_text(b->val[c->r.v]) : ent(c->r.v);
        int v = num_cmp(l, r);
        bool ok = c->op == 0   ? v == 0
                  : c->op == 1 ? v != 0
                  : c->op == 2 ? v < 0
                  : c->op == 3 ? v <= 0
                  : c->op == 4 ? v > 0
                               : v >= 0;
        if (!ok) return;
    }
    char line[512];
    size_t o = 0;
    for (uint32_t k = 0; k < b->n_order; k++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s=%s;",
                              b->q->vname[k], val_text(b->val[b->order[k]]));
    o += (size_t)snprintf(line + o, sizeof line - o, "#");
    uint32_t p = 0;
    for (uint32_t i = 0; i < q->n_atoms; i++)
        if (!q->atoms[i].neg)
            o += (size_t)snprintf(line + o, sizeof line - o, "%llu,",
                                  (unsigned long long)b->ids[p++]);
    rs_add(b->out, line);
}

static void brute_level(brute *b, uint32_t i, uint32_t p)
{
    const tquery *q = b->q;
    if (i == q->n_atoms) {
        brute_emit(b);
        return;
    }
    const tatom *a = &q->atoms[i];
    if (a->neg) {
        brute_level(b, i + 1, p);
        return;
    }
    size_t n;
    bool all;
    const uint32_t *c = candidates(b, a, &n, &all);
    for (size_t k = 0; k < n; k++) {
        const tfact *f = &facts[all ? k : c[k]];
        if (f->n != a->n) continue;
        uint32_t newly[N_VARS + 4], n_new = 0;
        tslot pred = a->pred;
        if (pred.kind == S_CONST) pred.v += 1000; /* predicate values */
        bool ok = slot_ok(b, &pred, f->pred + 1000, newly, &n_new);
        for (uint32_t j = 0; ok && j < a->n; j++)
            ok = slot_ok(b, &a->a[j], f->a[j], newly, &n_new);
        if (ok) {
            b->ids[p] = f->id;
            brute_level(b, i + 1, p + 1);
        }
        for (uint32_t j = 0; j < n_new; j++)
            b->set[newly[j]] = false;
    }
}

/* Variables in order of first appearance in the text (as the parser
 * numbers them). */
static void var_order(tquery *q, brute *b)
{
    b->n_order = 0;
    bool seen[N_VARS] = {false};
    for (uint32_t i = 0; i < q->n_atoms; i++) {
        tslot *sl[4] = {&q->atoms[i].pred, &q->atoms[i].a[0], &q->atoms[i].a[1],
                        &q->atoms[i].a[2]};
        for (uint32_t j = 0; j <= q->atoms[i].n; j++)
            if (sl[j]->kind == S_VAR && !seen[sl[j]->v]) {
                seen[sl[j]->v] = true;
                snprintf(q->vname[b->n_order], sizeof q->vname[0], "%c",
                         'a' + sl[j]->v);
                b->order[b->n_order++] = sl[j]->v;
            }
    }
}

/* ==== The engine's side ==== */

typedef struct collect {
    rowset *out;
} collect;

static hk_err collect_row(void *ud, const hkq_out_row *row, hk_error *err)
{
    (void)err;
    collect *c = ud;
    char line[512];
    size_t o = 0;
    for (uint32_t k = 0; k < row->n; k++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s=%s;",
                              row->names[k], row->values[k]);
    o += (size_t)snprintf(line + o, sizeof line - o, "#");
    for (uint32_t k = 0; k < row->n_facts; k++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%llu,",
                              (unsigned long long)row->facts[k]);
    rs_add(c->out, line);
    return HK_OK;
}

/* Runs that read a predicate whole (hkq_run_res.preloaded) or finished a
 * predicate walk from the statement index (by_key), and runs that did
 * neither: both paths must be taken by the checks below. */
static size_t runs_preloaded, runs_by_key, runs_plain;

/* All rows of text, in pages of `page` rows (0: one page). */
static hk_err run_pages(hk_txn *t, const char *text, uint64_t page, rowset *out,
                        hk_error *err)
{
    hkq_query *q = NULL;
    hk_err rc = hkq_parse(text, strlen(text), &q, err);
    if (rc != HK_OK) return rc;
    collect c = {out};
    hkq_exec_req req;
    memset(&req, 0, sizeof req);
    req.limit = page;
    req.row = collect_row;
    req.row_ud = &c;
    req.budget.max_candidates = 100000000;
    hkq_exec_res res;
    memset(&res, 0, sizeof res);
    char cur[4096] = "";
    for (int guard = 0; guard < 10000000; guard++) {
        req.cursor = cur;
        size_t before = out->n;
        rc = hkq_exec(t, q, &req, &res, err);
        if (rc != HK_OK) break;
        if (res.run.preloaded) runs_preloaded++;
        if (res.run.by_key) runs_by_key++;
        if (!res.run.preloaded && !res.run.by_key) runs_plain++;
        assert_true(res.count == out->n - before);
        if (page) assert_true(res.count <= page);
        if (res.cursor.len == 0) break;
        assert_true(res.count == page); /* a cursor only after full pages */
        assert_true(res.cursor.len < sizeof cur);
        memcpy(cur, res.cursor.data, res.cursor.len + 1);
    }
    hkq_exec_res_free(&res);
    hkq_free(q);
    return rc;
}

/* A paged run stops after at most MAX_PAGES pages: the page size drawn
 * (1..7 rows) grows for larger results. Every resume is still checked;
 * thousands of resumes of one query checked nothing the first few dozen
 * had not, and made this test the slowest of the suite under ASan. */
#define MAX_PAGES 48

/* Runs text in pages of `page` rows (see MAX_PAGES) and checks that they
 * give the rows of the unpaged run, got, in the same order. */
static void check_paged(hk_txn *t, const char *text, uint64_t page,
                        const rowset *got)
{
    uint64_t least = (got->n + MAX_PAGES - 1) / MAX_PAGES;
    rowset paged = {0};
    hk_error err;
    hk_err rc = run_pages(t, text, page > least ? page : least, &paged, &err);
    if (rc != HK_OK) fail_msg("%s: %s", text, err.message);
    assert_int_equal(paged.n, got->n);
    for (size_t i = 0; i < got->n; i++)
        assert_string_equal(paged.rows[i], got->rows[i]);
    rs_free(&paged);
}

static size_t check_query(hk_txn *t, tquery *q)
{
    brute b;
    memset(&b, 0, sizeof b);
    rowset want = {0}, got = {0};
    b.q = q;
    b.out = &want;
    index_facts();
    var_order(q, &b);
    brute_level(&b, 0, 0);
    hk_error err;
    hk_err rc = run_pages(t, q->text, 0, &got, &err);
    if (rc != HK_OK) fail_msg("%s: %s", q->text, err.message);
    check_paged(t, q->text, 1 + rnd(7), &got);
    if (want.n > 1) qsort(want.rows, want.n, sizeof *want.rows, str_cmp);
    if (got.n > 1) qsort(got.rows, got.n, sizeof *got.rows, str_cmp);
    if (want.n != got.n)
        fail_msg("%s: %zu rows, brute force %zu", q->text, got.n, want.n);
    for (size_t i = 0; i < got.n; i++)
        if (strcmp(want.rows[i], got.rows[i]) != 0)
            fail_msg("%s: row %s, brute force %s", q->text, got.rows[i],
                     want.rows[i]);
    size_t n = got.n;
    rs_free(&want);
    rs_free(&got);
    return n;
}

static void test_differential(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qjoin");
    hk_store *s = tu_open(dir);
    build_kb(s, 1500);
    hk_txn *t = tu_begin(s, false);
    size_t nonempty = 0;
    for (int i = 0; i < 300; i++) {
        tquery q;
        random_query(&q);
        if (check_query(t, &q) > 0) nonempty++;
    }
    /* the random queries exercise joins that produce rows */
    fprintf(stderr, "%zu of 300 random queries gave rows\n", nonempty);
    assert_true(nonempty >= 100);
    /* hand-written shapes: chain, triangle, repeated variable, n-ary */
    const char *fixed[] = {
        "P(?a, ?b), P(?b, ?c), P(?c, ?a)",
        "P(?a, ?b), Q(?b, ?c), R(?c, ?a, ?b)",
        "P(?a, ?a)",
        "R(?a, ?b, ?a), not S(?b)",
        "Q(?a, ?b, ?c), ?c >= 9, ?a != ?b",
        "?d(?a, ?b), T(?b, ?a)",
        "P(?a, ?b), not P(?b, ?a), ?a < ?b",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        tquery q;
        memset(&q, 0, sizeof q);
        snprintf(q.text, sizeof q.text, "%s", fixed[i]);
        hkq_query *hq = NULL;
        hk_error err;
        assert_int_equal(hkq_parse(fixed[i], strlen(fixed[i]), &hq, &err),
                         HK_OK);
        hkq_free(hq);
        rowset got = {0};
        assert_int_equal(run_pages(t, fixed[i], 0, &got, &err), HK_OK);
        check_paged(t, fixed[i], 3, &got);
        rs_free(&got);
    }
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* DISTINCT and ORDER BY against the plain result. */
static void test_distinct_order(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qorder");
    hk_store *s = tu_open(dir);
    build_kb(s, 800);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    rowset all = {0}, dist = {0}, ord = {0}, ordp = {0};
    assert_int_equal(run_pages(t, "P(?a, ?b), Q(?b, ?c)", 0, &all, &err),
                     HK_OK);
    assert_int_equal(run_pages(t,
                               "select ?a distinct where P(?a, ?b), Q(?b, ?c)",
                               0, &dist, &err),
                     HK_OK);
    /* distinct ?a: each value of the plain result exactly once */
    for (size_t i = 0; i < dist.n; i++)
        for (size_t j = i + 1; j < dist.n; j++) {
            char *x = strchr(dist.rows[i], '#'), *y = strchr(dist.rows[j], '#');
            assert_false((x - dist.rows[i]) == (y - dist.rows[j]) &&
                         strncmp(dist.rows[i], dist.rows[j],
                                 (size_t)(x - dist.rows[i])) == 0);
        }
    size_t values = 0;
    for (size_t i = 0; i < all.n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            if (strncmp(all.rows[i], all.rows[j], 5) == 0 &&
                strchr(all.rows[i], ';') - all.rows[i] ==
                    strchr(all.rows[j], ';') - all.rows[j] &&
                strncmp(all.rows[i], all.rows[j],
                        (size_t)(strchr(all.rows[i], ';') - all.rows[i])) == 0)
                first = false;
        if (first) values++;
    }
    assert_int_equal(dist.n, values);
    /* order by ?c desc: sorted, same rows as the plain query; paged alike */
    const char *oq = "P(?a, ?b), Q(?b, ?c) order by ?c desc, ?a limit 100000";
    assert_int_equal(run_pages(t, oq, 0, &ord, &err), HK_OK);
    assert_int_equal(run_pages(t, oq, 5, &ordp, &err), HK_OK);
    assert_int_equal(ord.n, all.n);
    assert_int_equal(ordp.n, ord.n);
    for (size_t i = 0; i < ord.n; i++)
        assert_string_equal(ordp.rows[i], ord.rows[i]);
    for (size_t i = 1; i < ord.n; i++) {
        char c0[16] = "", c1[16] = "";
        sscanf(strstr(ord.rows[i - 1], "c=") + 2, "%15[^;]", c0);
        sscanf(strstr(ord.rows[i], "c=") + 2, "%15[^;]", c1);
        assert_true(num_cmp(c0, c1) >= 0);
    }
    /* LIMIT caps the result over pages too */
    rowset lim = {0};
    assert_int_equal(
        run_pages(t, "P(?a, ?b), Q(?b, ?c) limit 7", 2, &lim, &err), HK_OK);
    assert_int_equal(lim.n, all.n < 7 ? all.n : 7);
    rs_free(&lim);
    rs_free(&all);
    rs_free(&dist);
    rs_free(&ord);
    rs_free(&ordp);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Rows from an in-memory relation (the delta of semi-naive evaluation)
 * and the store, with the matched fact ids. */
typedef struct relrows {
    size_t n;
    hk_fact_id f0[4096];
} relrows;

static hk_err rel_row(void *ud, const hkq_row *row, hkq_flow *flow,
                      hk_error *err)
{
    (void)flow;
    (void)err;
    relrows *r = ud;
    if (r->n < 4096) r->f0[r->n] = row->facts[0];
    r->n++;
    return HK_OK;
}

static void test_relation_source(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qrel");
    hk_store *s = tu_open(dir);
    build_kb(s, 600);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hkq_query *q = NULL;
    const char *text = "P(?a, ?b), P(?b, ?c)";
    assert_int_equal(hkq_parse(text, strlen(text), &q, &err), HK_OK);
    /* the delta: every third P fact */
    static hks_fact_syms delta[MAX_FACTS];
    static hk_fact_id delta_ids[MAX_FACTS];
    size_t nd = 0;
    for (size_t k = 0; k < n_facts; k++) {
        if (facts[k].pred != 0 || k % 3) continue;
        assert_int_equal(hks_fact_syms_get(t, facts[k].id, &delta[nd], &err),
                         HK_OK);
        delta_ids[nd++] = facts[k].id;
    }
    hkq_rel rel = {delta, delta_ids, nd, NULL, NULL};
    hkq_src srcs[2] = {{false, &rel}, {true, NULL}};
    hkq_run_req req;
    memset(&req, 0, sizeof req);
    req.srcs = srcs;
    req.row = rel_row;
    static relrows got;
    got.n = 0;
    req.row_ud = &got;
    hkq_run_res res;
    memset(&res, 0, sizeof res);
    assert_int_equal(hkq_run(t, q, &req, &res, &err), HK_OK);
    /* brute force: delta fact x store fact joined on b */
    size_t want = 0;
    for (size_t i = 0; i < n_facts; i++) {
        if (facts[i].pred != 0 || i % 3) continue;
        for (size_t j = 0; j < n_facts; j++)
            if (facts[j].pred == 0 && facts[j].a[0] == facts[i].a[1]) want++;
    }
    assert_int_equal(got.n, want);
    for (size_t i = 0; i < got.n && i < 4096; i++) {
        bool in = false;
        for (size_t k = 0; k < nd && !in; k++)
            in = delta_ids[k] == got.f0[i];
        assert_true(in);
    }
    hk_buf_free(&res.cursor);
    hkq_free(q);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Budgets stop runaway queries with HK_ERR_LIMIT. */
static void test_budget(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qbudget");
    hk_store *s = tu_open(dir);
    build_kb(s, 1000);
    hk_txn *t = tu_begin(s, false);
    hk_error err;
    hkq_query *q = NULL;
    const char *text = "_(?a, ?b), _(?c, ?d), _(?e, ?f)";
    assert_int_equal(hkq_parse(text, strlen(text), &q, &err), HK_OK);
    hkq_exec_req req;
    memset(&req, 0, sizeof req);
    req.row = collect_row;
    rowset rs = {0};
    collect c = {&rs};
    req.row_ud = &c;
    req.limit = 10;
    hkq_exec_res res;
    memset(&res, 0, sizeof res);
    /* the first page needs few facts */
    req.budget.max_candidates = 10000;
    assert_int_equal(hkq_exec(t, q, &req, &res, &err), HK_OK);
    assert_int_equal(res.count, 10);
    /* a query that never produces a row runs into the budget */
    hkq_free(q);
    text = "_(?a, ?b), _(?c, ?d), _(?e, ?f), ?f = nosuch";
    assert_int_equal(hkq_parse(text, strlen(text), &q, &err), HK_OK);
    req.budget.max_candidates = 20000;
    assert_int_equal(hkq_exec(t, q, &req, &res, &err), HK_ERR_LIMIT);
    assert_non_null(strstr(err.message, "budget"));
    req.budget.max_candidates = 0;
    req.budget.max_us = 20000;
    assert_int_equal(hkq_exec(t, q, &req, &res, &err), HK_ERR_LIMIT);
    assert_non_null(strstr(err.message, "time budget"));
    hkq_exec_res_free(&res);
    rs_free(&rs);
    hkq_free(q);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t column;
    } cases[] = {
        {"P(?a, ?b), Q(?b ?c)", 14},   {"P(?a, ?b),", 11},
        {"P(?a, ?b), ?z < 3", 12},     {"P(?a, ?b), not Q(?a, ?z)", 16},
        {"P(?a, ?b) ?a", 11},          {"P(?a, ?b), ?a << 3", 16},
        {"select where P(?a, ?b)", 8}, {"select ?a P(?a, ?b)", 11},
        {"P(?a, ?b) order by ?a", 20}, {"P(?a, ?b) limit x", 17},
        {"P(?a, ?b), Q(?b, \"c)", 18}, {"not P(?a, ?b)", 1},
        {"P(?a, ?b), ?1 = 2", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hkq_query *q = NULL;
        hk_error err;
        memset(&err, 0, sizeof err);
        hk_err rc = hkq_parse(cases[i].text, strlen(cases[i].text), &q, &err);
        if (rc != HK_ERR_INVALID)
            fail_msg("'%s' parsed (rc %d)", cases[i].text, (int)rc);
        if (err.column != cases[i].column)
            fail_msg("'%s': column %u, want %u (%s)", cases[i].text, err.column,
                     cases[i].column, err.message);
        assert_null(q);
    }
    assert_true(hkq_is_multi("P(?a), Q(?a)", 12));
    assert_true(hkq_is_multi("select ?a where P(?a)", 21));
    assert_false(hkq_is_multi("P(?a, \"x, y)\")", 14));
    assert_false(hkq_is_multi("HasPart(?x, CPU).", 17));
    assert_false(hkq_is_multi("P(x=1, ?y)", 10)); /* '=' in a bare arg */
    assert_true(hkq_is_multi("?y < 3, P(?y)", 13));
    assert_true(hkq_is_multi("P(?y) limit 3", 13));
}

/* ==== Cyclic shapes against the brute force ==== */

/* Parses the test's own small query form (patterns only, no comparisons):
 * `[not ]P(?a, e3, _), ...` with ?d for a variable predicate and _ for any
 * predicate, into q (text included). */
static void parse_tquery(const char *text, tquery *q)
{
    memset(q, 0, sizeof *q);
    snprintf(q->text, sizeof q->text, "%s", text);
    const char *p = text;
    while (*p) {
        assert_true(q->n_atoms < 4);
        tatom *a = &q->atoms[q->n_atoms++];
        while (*p == ' ' || *p == ',')
            p++;
        if (!strncmp(p, "not ", 4)) {
            a->neg = true;
            p += 4;
        }
        if (*p == '_') {
            a->pred.kind = S_ANY;
            p++;
        } else if (*p == '?') {
            a->pred.kind = S_VAR;
            a->pred.v = (uint32_t)(p[1] - 'a');
            p += 2;
        } else {
            a->pred.kind = S_CONST;
            a->pred.v = N_PRED;
            for (uint32_t k = 0; k < N_PRED; k++)
                if (*p == preds[k][0]) a->pred.v = k;
            assert_true(a->pred.v < N_PRED);
            p++;
        }
        assert_true(*p == '(');
        p++;
        while (*p != ')') {
            while (*p == ' ' || *p == ',')
                p++;
            assert_true(a->n < 3);
            tslot *sl = &a->a[a->n++];
            size_t len = strcspn(p, ",)");
            if (*p == '_') {
                sl->kind = S_ANY;
            } else if (*p == '?') {
                sl->kind = S_VAR;
                sl->v = (uint32_t)(p[1] - 'a');
            } else {
                sl->kind = S_CONST;
                sl->v = N_ENT;
                for (uint32_t k = 0; k < N_ENT; k++)
                    if (strlen(ent(k)) == len && !strncmp(p, ent(k), len))
                        sl->v = k;
                assert_true(sl->v < N_ENT);
            }
            p += len;
        }
        p++;
    }
}

/* Checks every shape and n_random random queries against the brute force;
 * how many gave rows. */
static size_t check_shapes(hk_txn *t, const char *const *shapes,
                           size_t n_shapes, int n_random)
{
    size_t nonempty = 0;
    for (size_t i = 0; i < n_shapes; i++) {
        tquery q;
        parse_tquery(shapes[i], &q);
        if (check_query(t, &q) > 0) nonempty++;
    }
    for (int i = 0; i < n_random; i++) {
        tquery q;
        random_query(&q);
        if (check_query(t, &q) > 0) nonempty++;
    }
    return nonempty;
}

/* Deletes every fact whose position in facts[] is `rem` modulo `mod`, in
 * t and from the brute force's list. */
static void delete_every(hk_txn *t, size_t mod, size_t rem)
{
    size_t kept = 0;
    for (size_t i = 0; i < n_facts; i++) {
        hk_error err;
        if (i % mod == rem) {
            assert_int_equal(hk_store_delete(t, facts[i].id, &err), HK_OK);
            continue;
        }
        facts[kept++] = facts[i];
    }
    n_facts = kept;
}

/* Cyclic queries (triangles, 4-cycles, n-ary cycles, repeated variables,
 * constants closing the cycle, variable and any predicates): the slice
 * cache and the lookahead that cuts branches whose closing pattern has no
 * fact must give exactly the brute force's rows, paged or not. */
static void test_cyclic(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qcyc");
    hk_store *s = tu_open(dir);
    build_kb(s, 2500);
    hk_txn *t = tu_begin(s, false);
    const char *shapes[] = {
        "P(?a, ?b), P(?b, ?c), P(?c, ?a)",
        "P(?a, ?b), Q(?b, ?c), T(?c, ?a)",
        "T(?a, ?b), T(?b, ?c), T(?c, ?a)",
        "P(?a, ?b), T(?b, ?c), P(?c, ?a), Q(?a, ?c)",
        "P(?a, ?b), P(?b, ?c), P(?c, ?a), not T(?a, ?c)",
        "R(?a, ?b, ?c), P(?c, ?a)",
        "R(?a, ?b, ?c), R(?c, ?a, ?b)",
        "R(?a, ?b, ?a), P(?b, ?a)",
        "Q(?a, ?b, ?c), P(?c, ?a), T(?a, ?b)",
        "P(e0, ?b), P(?b, ?c), P(?c, e0)",
        "P(?a, ?b), P(?b, e2), T(e2, ?a)",
        "?d(?a, ?b), P(?b, ?c), ?d(?c, ?a)",
        "P(?a, ?b), _(?b, ?a)",
        "P(?a, ?b), P(?b, ?a), P(?a, ?a)",
        "S(?a), P(?a, ?b), T(?b, ?a)",
    };
    size_t nonempty =
        check_shapes(t, shapes, sizeof shapes / sizeof shapes[0], 0);
    /* most shapes produce rows on this dense KB */
    assert_true(nonempty >= 10);
    /* and cycles over these small predicates read some of them whole */
    assert_true(runs_preloaded > 0);
    assert_true(runs_by_key > 0);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* After deletions and updates: the covering adjacency rows of removed
 * facts are gone with them (a join that read a stale co-argument would
 * return rows the brute force does not have), for binary and n-ary facts. */
static void test_after_deletes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qdel");
    hk_store *s = tu_open(dir);
    build_kb(s, 1500);
    hk_txn *t = tu_begin(s, true);
    delete_every(t, 3, 1);
    tu_commit(t);
    t = tu_begin(s, false);
    tu_check(t);
    const char *shapes[] = {
        "P(?a, ?b), P(?b, ?c), P(?c, ?a)",
        "P(?a, ?b), Q(?b, ?c), T(?c, ?a)",
        "R(?a, ?b, ?c), P(?c, ?a)",
        "Q(?a, ?b, ?c), P(?c, ?a), T(?a, ?b)",
        "?d(?a, ?b), P(?b, ?c), ?d(?c, ?a)",
        "P(?a, ?b), not P(?b, ?a)",
    };
    size_t nonempty =
        check_shapes(t, shapes, sizeof shapes / sizeof shapes[0], 80);
    assert_true(nonempty >= 30);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

/* Adds fact f (predicate index, arity, entity indexes) in t and to the
 * brute force's list when it is new. */
static void add_tfact(hk_txn *t, tfact f)
{
    hk_statement st;
    memset(&st, 0, sizeof st);
    st.predicate = preds[f.pred];
    st.n_args = f.n;
    for (uint32_t j = 0; j < f.n; j++)
        st.args[j] = ent(f.a[j]);
    bool created = false;
    hk_error err;
    assert_int_equal(hk_store_add(t, &st, NULL, &f.id, &created, &err), HK_OK);
    if (created) {
        assert_true(n_facts < MAX_FACTS);
        facts[n_facts++] = f;
    }
}

/* Inside a write transaction, after deletions and additions it has not
 * committed (index entries still queued): reading a predicate whole from
 * the statement index and the predicate walks must see exactly the
 * transaction's facts, for cyclic and random queries, binary and n-ary
 * facts mixed; and both the whole-predicate path and the plain one are
 * taken. */
static void test_write_txn_and_paths(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("qwtx");
    hk_store *s = tu_open(dir);
    build_kb(s, 2000);
    size_t before_pre = runs_preloaded, before_key = runs_by_key,
           before_plain = runs_plain;
    hk_txn *t = tu_begin(s, true);
    delete_every(t, 4, 2);
    for (int k = 0; k < 400; k++) {
        tfact f;
        memset(&f, 0, sizeof f);
        f.pred = rnd(N_PRED);
        f.n = pred_arity[f.pred];
        if (f.pred == 1 && rnd(3) == 0) f.n = 3;
        for (uint32_t j = 0; j < f.n; j++)
            f.a[j] = rnd(N_ENT);
        add_tfact(t, f);
    }
    const char *shapes[] = {
        "P(?a, ?b), P(?b, ?c), P(?c, ?a)",
        "P(?a, ?b), Q(?b, ?c), T(?c, ?a)",
        "T(?a, ?b), T(?b, ?c), T(?c, ?a)",
        "Q(?a, ?b, ?c), P(?c, ?a), T(?a, ?b)",
        "R(?a, ?b, ?c), R(?c, ?a, ?b)",
        "P(?a, ?b), Q(?b, ?c), R(?c, ?a, ?b)",
        "P(?a, ?b), T(?b, ?c), P(?c, ?a), Q(?a, ?c)",
        "P(e0, ?b), P(?b, ?c), P(?c, e0)",
    };
    size_t nonempty =
        check_shapes(t, shapes, sizeof shapes / sizeof shapes[0], 30);
    assert_true(nonempty >= 12);
    assert_true(runs_preloaded > before_pre);
    assert_true(runs_by_key > before_key);
    assert_true(runs_plain > before_plain);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_cyclic),
        cmocka_unit_test(test_after_deletes),
        cmocka_unit_test(test_write_txn_and_paths),
        cmocka_unit_test(test_distinct_order),
        cmocka_unit_test(test_relation_source),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
