/*
 * test_store_adj.c — symbols and adjacency by symbol id (store.h) against
 * a brute-force oracle: after random adds, updates and deletes (repeated
 * entities in one fact included), every entity's rows from hks_adj_open
 * (any position, one position, position + predicate) equal a scan of all
 * facts sorted by (position, predicate, id), counts equal the scan's, a
 * predicate's statement-index scan gives exactly its facts, and every
 * fact's symbol ids name its strings; the whole-KB scans of facts and
 * entities give exactly the live facts and the symbols they mention, in
 * id order.
 */
#include "test_store_util.h"

#include "store/store.h"

#define N_ENT 40
#define N_PRED 6
#define MAX_ROWS 4096

typedef struct row {
    uint32_t pos;    /* 0-based position */
    uint32_t pred;   /* predicate sym */
    hk_fact_id fact; /* fact id */
} row;

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    if (x->pred != y->pred) return x->pred < y->pred ? -1 : 1;
    if (x->fact != y->fact) return x->fact < y->fact ? -1 : 1;
    return 0;
}

static uint32_t sym(hk_txn *t, const char *s)
{
    uint32_t id = 0;
    hk_error err;
    assert_int_equal(hks_sym_id(t, s, strlen(s), &id, &err), HK_OK);
    assert_true(id > 0);
    return id;
}

/* Rows of entity ent from a scan of every fact id 1..max_id, filtered. */
static size_t oracle(hk_txn *t, hk_fact_id max_id, uint32_t ent, int pos,
                     uint32_t pred, row *out, uint64_t *facts)
{
    size_t n = 0;
    *facts = 0;
    for (hk_fact_id id = 1; id <= max_id; id++) {
        hks_fact_syms fs;
        hk_error err;
        hk_err e = hks_fact_syms_get(t, id, &fs, &err);
        if (e == HK_ERR_NOT_FOUND) continue;
        assert_int_equal(e, HK_OK);
        bool mentioned = false;
        for (uint32_t i = 0; i < fs.n_args; i++) {
            if (fs.args[i] != ent) continue;
            mentioned = true;
            if (pos >= 0 && (uint32_t)pos != i) continue;
            if (pred && fs.pred != pred) continue;
            assert_true(n < MAX_ROWS);
            out[n].pos = i;
            out[n].pred = fs.pred;
            out[n].fact = id;
            n++;
        }
        if (mentioned) (*facts)++;
    }
    qsort(out, n, sizeof *out, row_cmp);
    return n;
}

static size_t stream(hk_txn *t, uint32_t ent, int pos, uint32_t pred, row *out)
{
    hks_adj *a = NULL;
    hks_adj_row r;
    bool has;
    size_t n = 0;
    hk_error err;
    assert_int_equal(hks_adj_open(t, ent, pos, pred, &a, &err), HK_OK);
    for (;;) {
        assert_int_equal(hks_adj_next(a, &r, &has, &err), HK_OK);
        if (!has) break;
        assert_true(n < MAX_ROWS);
        out[n].pos = r.pos;
        out[n].pred = r.pred;
        out[n].fact = r.fact;
        n++;
    }
    /* past the end: nothing, again */
    assert_int_equal(hks_adj_next(a, &r, &has, &err), HK_OK);
    assert_false(has);
    hks_adj_close(a);
    return n;
}

/* hks_pred_syms_scan's facts of one predicate, collected. */
typedef struct scanned {
    hk_fact_id id[MAX_ROWS];
    hks_fact_syms fs[MAX_ROWS];
    size_t n;
} scanned;

static hk_err collect(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                      hk_error *err)
{
    (void)err;
    scanned *sc = ud;
    assert_true(sc->n < MAX_ROWS);
    sc->id[sc->n] = id;
    sc->fs[sc->n++] = *fs;
    return HK_OK;
}

static hk_err stop_at_3(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                        hk_error *err)
{
    (void)id;
    (void)fs;
    size_t *n = ud;
    if (++*n == 3) return hk_error_set(err, HK_ERR_LIMIT, "stop");
    return HK_OK;
}

/* The statement-index scan of predicate pred gives exactly the facts a
 * scan of every id finds with that predicate, with their symbols. */
static void check_pred_scan(hk_txn *t, hk_fact_id max_id, uint32_t pred)
{
    static scanned sc;
    sc.n = 0;
    hk_error err;
    assert_int_equal(hks_pred_syms_scan(t, pred, collect, &sc, &err), HK_OK);
    size_t want = 0;
    for (hk_fact_id id = 1; id <= max_id; id++) {
        hks_fact_syms fs;
        if (hks_fact_syms_get(t, id, &fs, NULL) != HK_OK || fs.pred != pred)
            continue;
        want++;
        size_t k = 0;
        while (k < sc.n && sc.id[k] != id)
            k++;
        assert_true(k < sc.n);
        assert_int_equal(sc.fs[k].pred, pred);
        assert_int_equal(sc.fs[k].n_args, fs.n_args);
        assert_memory_equal(sc.fs[k].args, fs.args,
                            fs.n_args * sizeof *fs.args);
    }
    assert_int_equal(sc.n, want);
    size_t seen = 0;
    hk_err e = hks_pred_syms_scan(t, pred, stop_at_3, &seen, &err);
    assert_int_equal(e, want >= 3 ? HK_ERR_LIMIT : HK_OK);
    assert_int_equal(seen, want >= 3 ? 3 : want);
}

static void compare_all(hk_txn *t, hk_fact_id max_id)
{
    static row want[MAX_ROWS], got[MAX_ROWS];
    char name[16];
    uint32_t preds[N_PRED];
    for (int p = 0; p < N_PRED; p++) {
        snprintf(name, sizeof name, "P%d", p);
        uint32_t id = 0;
        hk_err e = hks_sym_id(t, name, strlen(name), &id, NULL);
        preds[p] = e == HK_OK ? id : 0;
    }
    for (int i = 0; i < N_ENT; i++) {
        snprintf(name, sizeof name, "e%d", i);
        uint32_t ent = 0;
        if (hks_sym_id(t, name, strlen(name), &ent, NULL) != HK_OK) continue;
        uint64_t facts, mentions, c_facts, c_ment;
        size_t nw = oracle(t, max_id, ent, -1, 0, want, &facts);
        size_t ng = stream(t, ent, -1, 0, got);
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, nw * sizeof *want);
        mentions = nw;
        assert_int_equal(hks_entity_count(t, ent, &c_ment, &c_facts, NULL),
                         HK_OK);
        assert_int_equal(c_ment, mentions);
        assert_int_equal(c_facts, facts);
        /* bounded: exact up to the bound, above it once past it */
        uint64_t bounds[] = {0, facts / 2, facts, facts + 1, UINT64_MAX};
        for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
            uint64_t up = 0;
            assert_int_equal(
                hks_entity_count_upto(t, ent, bounds[b], &up, NULL), HK_OK);
            if (facts <= bounds[b])
                assert_int_equal(up, facts);
            else
                assert_true(up > bounds[b]);
        }
        for (int pos = 0; pos < 4; pos++) {
            nw = oracle(t, max_id, ent, pos, 0, want, &facts);
            ng = stream(t, ent, pos, 0, got);
            assert_int_equal(ng, nw);
            assert_memory_equal(got, want, nw * sizeof *want);
            for (int p = 0; p < N_PRED; p++) {
                if (!preds[p]) continue;
                nw = oracle(t, max_id, ent, pos, preds[p], want, &facts);
                ng = stream(t, ent, pos, preds[p], got);
                assert_int_equal(ng, nw);
                assert_memory_equal(got, want, nw * sizeof *want);
            }
        }
    }
    /* predicate counts against the scan */
    for (int p = 0; p < N_PRED; p++) {
        if (!preds[p]) continue;
        uint64_t n = 0, want_n = 0;
        for (hk_fact_id id = 1; id <= max_id; id++) {
            hks_fact_syms fs;
            if (hks_fact_syms_get(t, id, &fs, NULL) == HK_OK &&
                fs.pred == preds[p])
                want_n++;
        }
        assert_int_equal(hks_pred_count(t, preds[p], &n, NULL), HK_OK);
        assert_int_equal(n, want_n);
        check_pred_scan(t, max_id, preds[p]);
    }
}

/* Every fact's symbol ids name the strings hk_store_get gives. */
static void check_syms(hk_txn *t, hk_fact_id max_id)
{
    hk_fact f;
    hk_fact_init(&f);
    for (hk_fact_id id = 1; id <= max_id; id++) {
        hks_fact_syms fs;
        hk_error err;
        hk_err e = hk_store_get(t, id, &f, &err);
        assert_int_equal(hks_fact_syms_get(t, id, &fs, &err), e);
        if (e) continue;
        assert_int_equal(fs.n_args, f.st.n_args);
        assert_int_equal(fs.pred, sym(t, f.st.predicate));
        for (uint32_t i = 0; i < fs.n_args; i++) {
            const char *s;
            size_t len;
            assert_int_equal(hks_sym_str(t, fs.args[i], &s, &len, &err), HK_OK);
            assert_int_equal(len, strlen(f.st.args[i]));
            assert_memory_equal(s, f.st.args[i], len);
        }
    }
    hk_fact_release(&f);
}

/* What the whole-KB scans give, with a stop after `stop` calls. */
typedef struct scan_log {
    uint32_t ids[MAX_ROWS];
    hk_fact_id facts[MAX_ROWS];
    size_t n, stop;
    hk_txn *t;
} scan_log;

static hk_err log_entity(void *ud, uint32_t id, const char *s, size_t len,
                         hk_error *err)
{
    scan_log *lg = ud;
    if (lg->n == lg->stop) return hk_error_set(err, HK_ERR_LIMIT, "stop");
    const char *want;
    size_t want_len;
    assert_int_equal(hks_sym_str(lg->t, id, &want, &want_len, err), HK_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(s, want, len);
    assert_true(lg->n < MAX_ROWS);
    lg->ids[lg->n++] = id;
    return HK_OK;
}

static hk_err log_fact(void *ud, hk_fact_id id, const hks_fact_syms *fs,
                       hk_error *err)
{
    scan_log *lg = ud;
    if (lg->n == lg->stop) return hk_error_set(err, HK_ERR_LIMIT, "stop");
    hks_fact_syms want;
    assert_int_equal(hks_fact_syms_get(lg->t, id, &want, err), HK_OK);
    assert_int_equal(fs->pred, want.pred);
    assert_int_equal(fs->n_args, want.n_args);
    assert_memory_equal(fs->args, want.args, want.n_args * sizeof want.args[0]);
    assert_true(lg->n < MAX_ROWS);
    lg->facts[lg->n++] = id;
    return HK_OK;
}

/* hks_facts_syms_scan gives every live fact in id order, and
 * hks_entities_scan every symbol that is an argument of one, in id order
 * (no predicate-only symbol, none whose facts were all deleted). */
static void check_whole_scans(hk_txn *t, hk_fact_id max_id)
{
    static bool is_ent[1u << 16];
    static scan_log lg;
    uint32_t max_sym = 0;
    assert_int_equal(hks_sym_max(t, &max_sym, NULL), HK_OK);
    assert_true(max_sym < (1u << 16));
    memset(is_ent, 0, sizeof is_ent);
    size_t live = 0;
    memset(&lg, 0, sizeof lg);
    lg.t = t;
    lg.stop = SIZE_MAX;
    assert_int_equal(hks_facts_syms_scan(t, log_fact, &lg, NULL), HK_OK);
    for (hk_fact_id id = 1; id <= max_id; id++) {
        hks_fact_syms fs;
        if (hks_fact_syms_get(t, id, &fs, NULL) != HK_OK) continue;
        assert_true(live < lg.n);
        assert_int_equal(lg.facts[live], id);
        live++;
        for (uint32_t i = 0; i < fs.n_args; i++)
            is_ent[fs.args[i]] = true;
    }
    assert_int_equal(lg.n, live);

    memset(&lg, 0, sizeof lg);
    lg.t = t;
    lg.stop = SIZE_MAX;
    assert_int_equal(hks_entities_scan(t, log_entity, &lg, NULL), HK_OK);
    size_t k = 0;
    for (uint32_t id = 1; id <= max_sym; id++) {
        if (!is_ent[id]) continue;
        assert_true(k < lg.n);
        assert_int_equal(lg.ids[k], id);
        k++;
    }
    assert_int_equal(lg.n, k);

    /* a callback's error stops either scan and is returned */
    hk_error err;
    memset(&lg, 0, sizeof lg);
    lg.t = t;
    lg.stop = 2;
    assert_int_equal(hks_entities_scan(t, log_entity, &lg, &err),
                     k > 2 ? HK_ERR_LIMIT : HK_OK);
    assert_int_equal(lg.n, k > 2 ? 2 : k);
    memset(&lg, 0, sizeof lg);
    lg.t = t;
    lg.stop = 2;
    assert_int_equal(hks_facts_syms_scan(t, log_fact, &lg, &err),
                     live > 2 ? HK_ERR_LIMIT : HK_OK);
}

static void random_facts(hk_txn *t, uint64_t *seed, int n, hk_fact_id *max_id)
{
    char args[4][16], pred[16];
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(seed);
        hk_statement st;
        memset(&st, 0, sizeof st);
        snprintf(pred, sizeof pred, "P%d", (int)(r % N_PRED));
        st.predicate = pred;
        st.n_args = 1 + (uint32_t)((r >> 8) % 4);
        for (uint32_t a = 0; a < st.n_args; a++) {
            /* a small pool so entities repeat inside facts */
            snprintf(args[a], sizeof args[a], "e%d",
                     (int)(tu_rand(seed) % (a == 2 ? 5 : N_ENT)));
            st.args[a] = args[a];
        }
        hk_fact_id id = 0;
        hk_error err;
        assert_int_equal(hk_store_add(t, &st, NULL, &id, NULL, &err), HK_OK);
        if (id > *max_id) *max_id = id;
        if (r % 7 == 0 && id > 3) { /* delete an older fact */
            hk_fact_id victim = 1 + tu_rand(seed) % id;
            hk_err e = hk_store_delete(t, victim, &err);
            assert_true(e == HK_OK || e == HK_ERR_NOT_FOUND);
        }
        if (r % 11 == 0) { /* move a fact to new content */
            hk_statement up = tu_st("P1", args[0], "e0", "e0", NULL);
            hk_fact_id other;
            hk_err e = hk_store_update(t, id, &up, &other, &err);
            assert_true(e == HK_OK || e == HK_ERR_EXISTS ||
                        e == HK_ERR_NOT_FOUND); /* deleted above */
        }
    }
}

static void test_adjacency_oracle(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("adj");
    hk_store *s = tu_open(dir);
    uint64_t seed = 42;
    hk_fact_id max_id = 0;
    for (int round = 0; round < 3; round++) {
        hk_txn *t = tu_begin(s, true);
        if (round == 1) assert_int_equal(hk_txn_set_bulk(t, "bulk"), HK_OK);
        random_facts(t, &seed, 400, &max_id);
        /* inside the write txn (pending entries are flushed first) */
        compare_all(t, max_id);
        check_whole_scans(t, max_id);
        tu_commit(t);
        t = tu_begin(s, false);
        compare_all(t, max_id);
        check_whole_scans(t, max_id);
        check_syms(t, max_id);
        tu_check(t);
        hk_txn_abort(t);
    }
    tu_discard(s, dir);
}

static void test_symbols_and_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("adjerr");
    hk_store *s = tu_open(dir);
    hk_error err;
    hk_txn *t = tu_begin(s, true);
    hk_fact_id id = tu_add(t, tu_st("Likes", "ann", "ann", NULL), NULL);
    tu_commit(t);

    t = tu_begin(s, false);
    uint32_t likes = sym(t, "Likes"), ann = sym(t, "ann"), max = 0, none;
    assert_int_equal(hks_sym_max(t, &max, &err), HK_OK);
    assert_int_equal(max, 2);
    const char *str;
    size_t len;
    assert_int_equal(hks_sym_str(t, ann, &str, &len, &err), HK_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(str, "ann", 3);
    assert_int_equal(hks_sym_str(t, 0, &str, &len, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(hks_sym_str(t, max + 1, &str, &len, &err),
                     HK_ERR_NOT_FOUND);
    assert_int_equal(hks_sym_id(t, "bob", 3, &none, &err), HK_ERR_NOT_FOUND);
    assert_int_equal(none, 0);
    assert_int_equal(hks_sym_id(t, "", 0, &none, &err), HK_ERR_NOT_FOUND);

    hks_fact_syms fs;
    assert_int_equal(hks_fact_syms_get(t, id, &fs, &err), HK_OK);
    assert_int_equal(fs.pred, likes);
    assert_int_equal(fs.n_args, 2);
    assert_int_equal(fs.args[0], ann);
    assert_int_equal(fs.args[1], ann);
    assert_int_equal(hks_fact_syms_get(t, id + 1, &fs, &err), HK_ERR_NOT_FOUND);

    /* ann twice in one fact: two mentions, one fact */
    uint64_t m, f, p;
    assert_int_equal(hks_entity_count(t, ann, &m, &f, &err), HK_OK);
    assert_int_equal(m, 2);
    assert_int_equal(f, 1);
    assert_int_equal(hks_entity_count(t, 999, &m, &f, &err), HK_OK);
    assert_int_equal(m + f, 0);
    assert_int_equal(hks_pred_count(t, likes, &p, &err), HK_OK);
    assert_int_equal(p, 1);

    hks_adj *a = NULL;
    assert_int_equal(hks_adj_open(t, ann, -1, likes, &a, &err),
                     HK_ERR_INVALID); /* a predicate needs a position */
    assert_null(a);
    assert_int_equal(hks_adj_open(t, ann, HK_MAX_ARGS, 0, &a, &err),
                     HK_ERR_INVALID);
    hks_adj_row r;
    bool has;
    assert_int_equal(hks_adj_open(t, 999, -1, 0, &a, &err), HK_OK);
    assert_int_equal(hks_adj_next(a, &r, &has, &err), HK_OK);
    assert_false(has); /* unknown entity: no rows */
    hks_adj_close(a);
    assert_int_equal(hks_adj_open(t, ann, 1, likes, &a, &err), HK_OK);
    assert_int_equal(hks_adj_next(a, &r, &has, &err), HK_OK);
    assert_true(has);
    assert_int_equal(r.pos, 1);
    assert_int_equal(r.pred, likes);
    assert_int_equal(r.fact, id);
    assert_int_equal(hks_adj_next(a, &r, &has, &err), HK_OK);
    assert_false(has);
    hks_adj_close(a);

    /* a reset read txn refuses */
    hk_txn_reset(t);
    assert_int_equal(hks_adj_open(t, ann, -1, 0, &a, &err), HK_ERR_STATE);
    assert_int_equal(hks_sym_id(t, "ann", 3, &none, &err), HK_ERR_STATE);
    hk_txn_abort(t);
    tu_discard(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adjacency_oracle),
        cmocka_unit_test(test_symbols_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
