/*
 * search.c — ranked text search over predicates and arguments.
 *
 * The `tok` index maps every search token of every symbol (hk_tokenize:
 * lower case, split at punctuation, camelCase and letter/digit boundaries)
 * to the symbol ids that contain it. A query is answered in bounded work:
 *
 *  1. Tokenize the query (at most SEARCH_MAX_TOKENS distinct tokens).
 *  2. Per token: the symbols containing it exactly (MDB_SET on `tok`; the
 *     duplicate count is its document frequency df), and for tokens of 3+
 *     bytes also symbols with a token that starts with it (a short range
 *     walk), each capped. Weight idf = ln(1 + symbols / df); a prefix-only
 *     match counts half.
 *  3. Candidates: facts of the matched symbols (by_arg, by_pred), rarest
 *     token first, at most SEARCH_MAX_CANDIDATES facts in total.
 *  4. Score each candidate from its record's symbol ids: the sum of the
 *     weights of the query tokens it matches (each token once), plus a
 *     bonus larger than any token sum when one of its symbols equals the
 *     whole query (exact symbol match ranks highest). Ties: newest id first.
 */
#include <math.h>
#include <stdlib.h>

#include "core/mem.h"
#include "core/tokenize.h"
#include "core/utf8.h"
#include "store/factwalk.h"

#define SEARCH_MAX_TOKENS 16u
#define SEARCH_SYMS_PER_TOKEN 2048u
#define SEARCH_PREFIX_KEYS 32u
#define SEARCH_PREFIX_SYMS 512u
#define SEARCH_FACTS_PER_SYM 1000u
#define SEARCH_MAX_CANDIDATES 5000u
#define SEARCH_MAX_LIMIT 10000u

typedef struct qtok {
    char text[HKS_TOKEN_MAX_BYTES]; /* token bytes */
    size_t len;                     /* length */
    double idf;                     /* weight of an exact token match */
    double prefix_idf;              /* weight of a prefix-only match */
    size_t df;                      /* symbols holding the token */
} qtok;

typedef struct tok_list {
    qtok tok[SEARCH_MAX_TOKENS]; /* distinct query tokens */
    uint32_t n;                  /* count */
} tok_list;

static hk_err add_qtok(void *ud, const char *s, size_t len)
{
    tok_list *tl = ud;
    if (len == 0 || len > HKS_TOKEN_MAX_BYTES || tl->n == SEARCH_MAX_TOKENS)
        return HK_OK;
    for (uint32_t i = 0; i < tl->n; i++)
        if (tl->tok[i].len == len && memcmp(tl->tok[i].text, s, len) == 0)
            return HK_OK;
    memcpy(tl->tok[tl->n].text, s, len);
    tl->tok[tl->n].len = len;
    tl->n++;
    return HK_OK;
}

/* ==== Small open-addressing tables ==== */

typedef struct sym_slot {
    uint32_t sym;    /* 0 = empty */
    uint32_t exact;  /* bit i: symbol holds token i */
    uint32_t prefix; /* bit i: symbol holds a token starting with token i */
} sym_slot;

typedef struct sym_map {
    sym_slot *slot; /* table */
    size_t mask;    /* capacity - 1 */
    size_t n;       /* used */
} sym_map;

static sym_slot *sym_map_get(sym_map *m, uint32_t sym, bool insert)
{
    size_t i = (sym * 2654435761u) & m->mask;
    for (size_t probe = 0; probe <= m->mask; probe++) {
        sym_slot *s = &m->slot[i];
        if (s->sym == sym) return s;
        if (s->sym == 0) {
            if (!insert || m->n * 2 >= m->mask) return NULL;
            s->sym = sym;
            m->n++;
            return s;
        }
        i = (i + 1) & m->mask;
    }
    return NULL;
}

typedef struct id_set {
    hk_fact_id *slot; /* 0 = empty */
    size_t mask;      /* capacity - 1 */
    size_t n;         /* used */
} id_set;

/* Returns true when id was newly inserted. */
static bool id_set_add(id_set *s, hk_fact_id id)
{
    size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & s->mask;
    for (;;) {
        if (s->slot[i] == id) return false;
        if (s->slot[i] == 0) {
            s->slot[i] = id;
            s->n++;
            return true;
        }
        i = (i + 1) & s->mask;
    }
}

/* ==== Gathering ==== */

typedef struct search_ctx {
    hk_txn *t;                             /* transaction */
    MDB_cursor *tail_cur;                  /* cursor on by_arg_tail */
    tok_list tl;                           /* query tokens */
    sym_map syms;                          /* matched symbols */
    uint32_t *tok_syms[SEARCH_MAX_TOKENS]; /* per token: matched syms */
    size_t tok_nsyms[SEARCH_MAX_TOKENS];   /* their count */
    id_set cand;                           /* candidate fact ids */
    hk_fact_id *cand_list;                 /* candidates in insertion order */
    uint32_t exact_sym; /* symbol equal to the whole query, 0 = none */
} search_ctx;

static hk_err push_tok_sym(search_ctx *c, uint32_t ti, uint32_t sym, bool exact)
{
    sym_slot *s = sym_map_get(&c->syms, sym, true);
    if (!s) return HK_OK; /* map full: bounded work */
    if (exact)
        s->exact |= 1u << ti;
    else
        s->prefix |= 1u << ti;
    if (c->tok_nsyms[ti] < SEARCH_SYMS_PER_TOKEN + SEARCH_PREFIX_SYMS)
        c->tok_syms[ti][c->tok_nsyms[ti]++] = sym;
    return HK_OK;
}

static hk_err match_token(search_ctx *c, MDB_cursor *cur, uint32_t ti,
                          double n_syms, hk_error *err)
{
    qtok *q = &c->tl.tok[ti];
    MDB_val k = {q->len, q->text}, d;
    size_t df = 0, taken = 0;
    int rc = mdb_cursor_get(cur, &k, &d, MDB_SET);
    if (rc == 0) {
        mdb_cursor_count(cur, &df);
        rc = mdb_cursor_get(cur, &k, &d, MDB_GET_MULTIPLE);
        while (rc == 0 && taken < SEARCH_SYMS_PER_TOKEN) {
            for (size_t i = 0;
                 i + 4 <= d.mv_size && taken < SEARCH_SYMS_PER_TOKEN; i += 4) {
                push_tok_sym(c, ti, hks_get_u32((uint8_t *)d.mv_data + i),
                             true);
                taken++;
            }
            rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_MULTIPLE);
        }
    }
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(c->t, rc, err, "searching");
    q->df = df;
    q->idf = df ? log(1.0 + n_syms / (double)df) : 0.0;
    if (q->len < 3) return HK_OK;
    /* Tokens that extend this one ("part" -> "parts", "partition"). */
    size_t pdf = 0, keys = 0, ptaken = 0;
    k.mv_size = q->len;
    k.mv_data = q->text;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && keys < SEARCH_PREFIX_KEYS && k.mv_size >= q->len &&
           memcmp(k.mv_data, q->text, q->len) == 0) {
        if (k.mv_size > q->len) {
            size_t cnt = 0;
            mdb_cursor_count(cur, &cnt);
            pdf += cnt;
            keys++;
            int drc = 0;
            while (drc == 0 && ptaken < SEARCH_PREFIX_SYMS) {
                if (d.mv_size == 4) {
                    push_tok_sym(c, ti, hks_get_u32(d.mv_data), false);
                    ptaken++;
                }
                drc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP);
            }
        }
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_NODUP);
    }
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(c->t, rc, err, "searching");
    q->prefix_idf = pdf ? 0.5 * log(1.0 + n_syms / (double)pdf) : 0.0;
    return HK_OK;
}

static hk_err gather_facts(search_ctx *c, MDB_cursor *arg_cur,
                           MDB_cursor *pred_cur, uint32_t sym, hk_error *err)
{
    uint8_t kb[4];
    MDB_val k, d;
    int rc;
    /* the entity's tail: its newest rows, merged from the back with the
     * chunks' (both sides taken largest first) */
    uint8_t tail[HKS_ARG_TAIL_ROWS * HKS_ARG_DUP_BYTES];
    size_t tn = 0;
    hks_put_u32(kb, sym);
    for (int pass = 0; pass < 2; pass++) {
        MDB_cursor *cur = pass == 0 ? arg_cur : pred_cur;
        size_t taken = 0;
        k.mv_size = 4;
        k.mv_data = kb;
        if (pass == 0) {
            /* the tail only where the chunk of the last row allows one:
             * none without chunks, none behind a 4-byte first chunk under
             * HKS_ARG_TAIL_MIN rows (every light entity) */
            bool maybe = false;
            rc = hks_arg_last_row(cur, sym, &k, &d);
            int trc = rc ? 0 : hks_arg_tail_possible(cur, &k, &maybe);
            if (!trc && maybe)
                trc = hks_arg_tail_rows(c->tail_cur, sym, tail, &tn);
            if (trc) return hks_store_mdb_error(c->t, trc, err, "searching");
        } else {
            rc = mdb_cursor_get(cur, &k, &d, MDB_SET);
            if (rc == 0) rc = mdb_cursor_get(cur, &k, &d, MDB_LAST_DUP);
        }
        bool chunk_row = rc == 0;
        while ((chunk_row || (pass == 0 && tn)) &&
               taken < SEARCH_FACTS_PER_SYM &&
               c->cand.n < SEARCH_MAX_CANDIDATES) {
            hk_fact_id id = 0;
            const uint8_t *trow =
                pass == 0 && tn ? tail + (tn - 1) * HKS_ARG_DUP_BYTES : NULL;
            if (trow && (!chunk_row || d.mv_size != HKS_ARG_DUP_BYTES ||
                         memcmp(trow, d.mv_data, HKS_ARG_DUP_BYTES) > 0)) {
                /* the tail's row is the larger */
                id = hks_get_u48(trow + 5);
                if (id && id_set_add(&c->cand, id))
                    c->cand_list[c->cand.n - 1] = id;
                taken++;
                tn--;
                continue;
            }
            if (pass == 0 && d.mv_size == HKS_ARG_DUP_BYTES)
                id = hks_get_u48((uint8_t *)d.mv_data + 5);
            else if (pass == 1 && d.mv_size == HKS_ID_BYTES)
                id = hks_get_u48(d.mv_data);
            if (id && id_set_add(&c->cand, id))
                c->cand_list[c->cand.n - 1] = id;
            taken++;
            if (pass == 1) {
                rc = mdb_cursor_get(cur, &k, &d, MDB_PREV_DUP);
                chunk_row = rc == 0;
                continue;
            }
            /* back over the entity's rows, across its chunks */
            rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
            if (rc == 0 && (k.mv_size < 4 || memcmp(k.mv_data, kb, 4) != 0))
                rc = MDB_NOTFOUND;
            chunk_row = rc == 0;
        }
        if (rc && rc != MDB_NOTFOUND)
            return hks_store_mdb_error(c->t, rc, err, "searching");
    }
    return HK_OK;
}

/* Facts that hold both a matched predicate and a matched argument symbol
 * (the common "HasPart computer" query), found by by_arg range seeks:
 * for each position, the duplicates (position, pred, *) of the entity. */
#define SEARCH_PAIR_PREDS 16u
#define SEARCH_PAIR_ENTS 64u
#define SEARCH_FACTS_PER_PAIR 200u

static hk_err gather_pairs(search_ctx *c, MDB_cursor *arg_cur,
                           MDB_cursor *pred_cur, hk_error *err)
{
    uint32_t preds[SEARCH_PAIR_PREDS], ents[SEARCH_PAIR_ENTS];
    size_t np = 0, ne = 0;
    int rc;
    /* Matched symbols with exact token matches; which are predicates. */
    for (size_t i = 0;
         i <= c->syms.mask && (np < SEARCH_PAIR_PREDS || ne < SEARCH_PAIR_ENTS);
         i++) {
        const sym_slot *sl = &c->syms.slot[i];
        if (!sl->sym || !sl->exact) continue;
        uint8_t kb[4];
        hks_put_u32(kb, sl->sym);
        MDB_val k = {4, kb}, d;
        rc = mdb_cursor_get(pred_cur, &k, &d, MDB_SET);
        if (rc == 0 && np < SEARCH_PAIR_PREDS)
            preds[np++] = sl->sym;
        else if (rc && rc != MDB_NOTFOUND)
            return hks_store_mdb_error(c->t, rc, err, "searching");
        bool has = false;
        rc = hks_arg_has_entity(arg_cur, sl->sym, &has);
        if (rc) return hks_store_mdb_error(c->t, rc, err, "searching");
        if (has && ne < SEARCH_PAIR_ENTS) ents[ne++] = sl->sym;
    }
    for (size_t ei = 0; ei < ne; ei++) {
        for (size_t pi = 0; pi < np; pi++) {
            size_t taken = 0;
            unsigned pos = 0;
            while (pos < HK_MAX_ARGS && taken < SEARCH_FACTS_PER_PAIR &&
                   c->cand.n < SEARCH_MAX_CANDIDATES) {
                uint8_t target[HKS_ARG_DUP_BYTES] = {0};
                target[0] = (uint8_t)pos;
                hks_put_u32(target + 1, preds[pi]);
                hks_argit it;
                const uint8_t *v = NULL;
                rc = hks_argit_seek(&it, c->t, arg_cur, c->tail_cur, ents[ei],
                                    target);
                if (!rc) rc = hks_argit_next(&it, &v);
                if (rc == MDB_NOTFOUND) break;
                if (rc) return hks_store_mdb_error(c->t, rc, err, "searching");
                if (v[0] != pos || hks_get_u32(v + 1) != preds[pi]) {
                    /* nothing for this position: go to the next one */
                    pos = v[0] > pos && hks_get_u32(v + 1) <= preds[pi]
                              ? v[0]
                              : pos + 1;
                    continue;
                }
                while (rc == 0 && v[0] == pos &&
                       hks_get_u32(v + 1) == preds[pi] &&
                       taken < SEARCH_FACTS_PER_PAIR &&
                       c->cand.n < SEARCH_MAX_CANDIDATES) {
                    hk_fact_id id = hks_get_u48(v + 5);
                    if (id_set_add(&c->cand, id))
                        c->cand_list[c->cand.n - 1] = id;
                    taken++;
                    rc = hks_argit_next(&it, &v);
                }
                if (rc && rc != MDB_NOTFOUND)
                    return hks_store_mdb_error(c->t, rc, err, "searching");
                pos++;
            }
        }
    }
    return HK_OK;
}

static int cmp_hits(const void *a, const void *b)
{
    const hk_search_hit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

hk_err hk_store_search(hk_txn *t, const char *query, size_t limit,
                       hk_search_hit **hits, size_t *n_hits, hk_error *err)
{
    search_ctx *c = NULL;
    MDB_cursor *tok_cur = NULL, *arg_cur = NULL, *pred_cur = NULL;
    hk_search_hit *out = NULL;
    hks_counters cnt;
    hk_err e;
    int rc;

    if (!hits || !n_hits) return hk_error_set(err, HK_ERR_INVALID, "no output");
    *hits = NULL;
    *n_hits = 0;
    if ((e = hks_txn_check_read(t, err)) || (e = hks_txn_flush(t, err)))
        return e;
    if (!query) return hk_error_set(err, HK_ERR_INVALID, "no query");
    size_t qlen = strlen(query);
    if (qlen > HK_MAX_STATEMENT_BYTES || !hk_utf8_valid(query, qlen, NULL))
        return hk_error_set(err, HK_ERR_INVALID,
                            "search query must be UTF-8, at most 65536 bytes");
    if (limit == 0) return HK_OK;
    if (limit > SEARCH_MAX_LIMIT) limit = SEARCH_MAX_LIMIT;
    if (t->write)
        cnt = t->c;
    else if ((e = hks_txn_load_counters(t, &cnt, err)))
        return e;

    c = hk_calloc(1, sizeof *c);
    if (!c) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    c->t = t;
    if ((e = hk_tokenize(query, qlen, add_qtok, &c->tl))) goto nomem;
    c->syms.mask = 65535;
    c->syms.slot = hk_calloc(c->syms.mask + 1, sizeof *c->syms.slot);
    c->cand.mask = 16383;
    c->cand.slot = hk_calloc(c->cand.mask + 1, sizeof *c->cand.slot);
    c->cand_list = hk_malloc(SEARCH_MAX_CANDIDATES * sizeof *c->cand_list);
    if (!c->syms.slot || !c->cand.slot || !c->cand_list) goto nomem;
    for (uint32_t i = 0; i < c->tl.n; i++) {
        c->tok_syms[i] = hk_malloc(
            (SEARCH_SYMS_PER_TOKEN + SEARCH_PREFIX_SYMS) * sizeof(uint32_t));
        if (!c->tok_syms[i]) goto nomem;
    }

    /* The whole query as one symbol (trimmed). */
    {
        const char *s = query;
        size_t n = qlen;
        while (n && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n && (e = hks_sym_lookup(t, s, n, &c->exact_sym, err))) goto fail;
    }

    double n_syms = (double)(cnt.next_sym_id > 1 ? cnt.next_sym_id - 1 : 1);
    if ((rc = mdb_cursor_open(t->txn, t->s->db.tok, &tok_cur)) ||
        (rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &arg_cur)) ||
        (rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &c->tail_cur)) ||
        (rc = mdb_cursor_open(t->txn, t->s->db.by_pred, &pred_cur))) {
        e = hks_store_mdb_error(t, rc, err, "searching");
        goto fail;
    }
    for (uint32_t i = 0; i < c->tl.n; i++)
        if ((e = match_token(c, tok_cur, i, n_syms, err))) goto fail;

    /* Candidates: facts holding a matched predicate and argument, then the
     * exact symbol's facts, then by token from the rarest. */
    if (c->tl.n > 1 && (e = gather_pairs(c, arg_cur, pred_cur, err))) goto fail;
    if (c->exact_sym &&
        (e = gather_facts(c, arg_cur, pred_cur, c->exact_sym, err)))
        goto fail;
    uint32_t order[SEARCH_MAX_TOKENS];
    for (uint32_t i = 0; i < c->tl.n; i++)
        order[i] = i;
    for (uint32_t i = 1; i < c->tl.n; i++) /* insertion sort by df */
        for (uint32_t j = i;
             j > 0 && c->tl.tok[order[j]].df < c->tl.tok[order[j - 1]].df;
             j--) {
            uint32_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (uint32_t oi = 0; oi < c->tl.n && c->cand.n < SEARCH_MAX_CANDIDATES;
         oi++) {
        uint32_t ti = order[oi];
        for (size_t si = 0;
             si < c->tok_nsyms[ti] && c->cand.n < SEARCH_MAX_CANDIDATES; si++)
            if ((e = gather_facts(c, arg_cur, pred_cur, c->tok_syms[ti][si],
                                  err)))
                goto fail;
    }

    /* Score. */
    double bonus = 1.0;
    for (uint32_t i = 0; i < c->tl.n; i++)
        bonus += c->tl.tok[i].idf > c->tl.tok[i].prefix_idf
                     ? c->tl.tok[i].idf
                     : c->tl.tok[i].prefix_idf;
    size_t nh = 0;
    out = hk_malloc((c->cand.n ? c->cand.n : 1) * sizeof *out);
    if (!out) goto nomem;
    /* Candidates' records are looked up a batch at a time (factwalk.c;
     * read transactions), the rest one by one. */
    hks_factwalk walk;
    hks_factwalk_init(t, &walk);
    const uint8_t *recs[HKS_FACTWALK_MAX];
    size_t lens[HKS_FACTWALK_MAX];
    for (size_t i = 0; i < c->cand.n; i++) {
        hks_rec r;
        hk_fact_id id = c->cand_list[i];
        size_t in_batch = i % HKS_FACTWALK_MAX;
        if (in_batch == 0) {
            size_t n = c->cand.n - i;
            hks_factwalk_get(&walk, n < HKS_FACTWALK_MAX ? n : HKS_FACTWALK_MAX,
                             c->cand_list + i, recs, lens);
        }
        MDB_val d = {lens[in_batch], (void *)recs[in_batch]};
        if (!d.mv_data) {
            HKS_FACT_KEY(k, id);
            rc = mdb_get(t->txn, t->s->db.fact, &k, &d);
            if (rc == MDB_NOTFOUND) continue;
            if (rc) {
                e = hks_store_mdb_error(t, rc, err, "searching");
                goto fail;
            }
        }
        if (!hks_val_sane(t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode_ids(d.mv_data, d.mv_size, &r))
            continue;
        uint32_t ex = 0, pre = 0;
        bool exact = false;
        for (uint32_t s = 0; s <= r.n_args; s++) {
            uint32_t sym = s == 0 ? r.pred : r.args[s - 1];
            if (sym == c->exact_sym) exact = true;
            sym_slot *sl = sym_map_get(&c->syms, sym, false);
            if (sl) {
                ex |= sl->exact;
                pre |= sl->prefix;
            }
        }
        double score = exact ? bonus : 0.0;
        for (uint32_t ti = 0; ti < c->tl.n; ti++) {
            if (ex & (1u << ti))
                score += c->tl.tok[ti].idf;
            else if (pre & (1u << ti))
                score += c->tl.tok[ti].prefix_idf;
        }
        if (score <= 0.0) continue;
        out[nh].id = id;
        out[nh].score = score;
        nh++;
    }
    qsort(out, nh, sizeof *out, cmp_hits);
    if (nh > limit) nh = limit;
    *hits = out;
    *n_hits = nh;
    out = NULL;
    e = HK_OK;
    goto done;
nomem:
    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
fail:
done:
    if (tok_cur) mdb_cursor_close(tok_cur);
    if (arg_cur) mdb_cursor_close(arg_cur);
    if (c && c->tail_cur) mdb_cursor_close(c->tail_cur);
    if (pred_cur) mdb_cursor_close(pred_cur);
    hk_free(out);
    if (c) {
        for (uint32_t i = 0; i < SEARCH_MAX_TOKENS; i++)
            hk_free(c->tok_syms[i]);
        hk_free(c->syms.slot);
        hk_free(c->cand.slot);
        hk_free(c->cand_list);
        hk_free(c);
    }
    return e;
}
