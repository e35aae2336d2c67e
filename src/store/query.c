/*
 * query.c — streaming scans and pattern queries with resumable cursors.
 *
 * A query runs one "plan": a walk over one index, plus filters checked on
 * the decoded record ids (never on strings):
 *
 *   PLAN_ALL   `fact` in id order (or reversed for newest_first)
 *   PLAN_PRED  the `by_pred` duplicates of one predicate (id order)
 *   PLAN_ARG   the `by_arg` rows of one entity, ordered by (position,
 *              predicate, id) across its chunk keys (hks_argit, argidx.c);
 *              an optional position and/or predicate narrows the walk to a
 *              range (re-seeking instead of filtering)
 *   PLAN_STMT  one exact `stmt` lookup (a pattern with only constants)
 *   PLAN_EMPTY a constant is not in the dictionary: no rows
 *
 * Scans choose entity > predicate > all. Patterns choose the constant slot
 * with the fewest facts (mdb_cursor_count on its by_pred key, which LMDB
 * answers from the duplicate sub-tree's header, or the sum over an
 * entity's by_arg chunks), then check the other
 * constants, the arity and repeated variables (`R(?x, ?x)`) per row.
 *
 * An entity scan without a position would meet a fact twice when the entity
 * fills two of its positions; when `arg_multi` says the entity has such
 * facts, a row is only kept at the entity's first position.
 *
 * Cursors are stateless: base64url of
 *   u8 version | u8 plan (bit 7: descending) | u32 key sym | u8 position
 *   (255 = any) | u32 predicate filter | u8 n | n bytes of the last index
 *   position returned (8-byte fact id, or the 15-byte by_arg row) |
 *   8 bytes of SHA-256 over the query's description
 * so resuming in another transaction re-seeks just past the last row.
 * Because plan choice depends on counts that change between transactions,
 * the cursor carries the plan; on resume it is checked to be a valid plan
 * for this query (and the fingerprint to match), else HK_ERR_INVALID. Any
 * byte string decodes to positions that are only used as seek keys, so a
 * forged cursor can at worst skip rows.
 *
 * Read-ahead: in read transactions, PLAN_PRED and PLAN_ARG walk their
 * index a batch of rows ahead (16, then 64) and hand the rows out one by
 * one; the first row whose record is needed (decoding, filters) has the
 * records of it and the rest of the batch looked up together (factwalk.c:
 * their cache misses overlap instead of adding up) and the symbols they
 * name prefetched. Callers that only want ids (hk_query_next_id) never
 * pay for record lookups. Cursors still name the last row handed out, so
 * read-ahead is invisible to callers. Write transactions read row by row (their
 * pages may change under a batch).
 *
 * Full scans in read transactions prefetch the symbols of the rows ahead
 * with two scout cursors (see scout_prefetch).
 *
 * Memory: a query holds one LMDB cursor (three for a long full scan) and
 * fixed-size state (the read-ahead buffer: about 2.3 KiB); rows stream.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "store/factwalk.h"

enum {
    PLAN_EMPTY = 0,
    PLAN_ALL = 1,
    PLAN_PRED = 2,
    PLAN_ARG = 3,
    PLAN_STMT = 4
};

#define CURSOR_VERSION 1u
#define MAX_SLOTS (1 + HK_MAX_ARGS)
#define NO_POS 255u

struct hk_query {
    hk_txn *t;            /* owning transaction */
    MDB_cursor *cur;      /* cursor on the plan's database */
    MDB_cursor *tcur;     /* PLAN_ARG: cursor on by_arg_tail */
    MDB_cursor *fact_cur; /* cursor on `fact` for row decoding:
                             LMDB re-seeks within the current leaf
                             when the next id is near */
    /* PLAN_ALL scouts (read transactions; see scout_prefetch) */
    MDB_cursor *scout[2]; /* on `fact`, SCOUT_FAR / SCOUT_NEAR rows
                             ahead of cur, or NULL until opened */
    uint32_t all_rows;    /* rows PLAN_ALL stepped over, up to
                             SCOUT_AFTER */
    bool scout_off;       /* scouting ended (end of the table, error) */
    /* plan */
    uint8_t kind;         /* PLAN_* */
    bool desc;            /* descending id order (ALL / PRED) */
    uint32_t key_sym;     /* PRED: predicate, ARG: entity */
    uint8_t pos;          /* ARG: position or NO_POS */
    uint32_t pred_filter; /* ARG: predicate or 0 */
    /* filters */
    uint32_t arity;                  /* required arity or 0 */
    bool dedup;                      /* ARG without position: first mention */
    bool need_check;                 /* rows must be decoded to filter */
    uint32_t n_slots;                /* pattern: 1 + n_args; scan: 1 */
    uint32_t slot_const[MAX_SLOTS];  /* required sym per slot, 0 = any */
    uint8_t slot_var[MAX_SLOTS];     /* variable index + 1, 0 = none */
    uint32_t n_vars;                 /* distinct variables */
    uint8_t var_slot[MAX_SLOTS];     /* first slot of each variable */
    const char *var_name[MAX_SLOTS]; /* names (in names) */
    char *names;                     /* owned copy of variable names */
    bool has_repeat;                 /* some variable occurs twice */
    /* stmt plan */
    uint8_t stmt_key[HKS_STMT_KEY_MAX]; /* exact key */
    size_t stmt_len;                    /* its length */
    /* iteration state */
    hks_argit ait;                   /* PLAN_ARG: walk of the entity's
                                        chunks (argidx.c) */
    bool started;                    /* the cursor has been positioned */
    bool done;                       /* no more rows */
    uint8_t last[HKS_ARG_DUP_BYTES]; /* last returned index position */
    uint8_t last_len;                /* 0 = none yet, 8 or 13 */
    bool peeked;                     /* a row was fetched ahead (cursor()) */
    uint8_t peek_pos[HKS_ARG_DUP_BYTES]; /* probed row's index position */
    hk_fact_id probe_id;                 /* probed row's fact id */
    bool rec_valid;                      /* rec holds probe_id's decoded ids */
    hks_rec rec;                         /* decoded ids of the probed row */
    const void *probe_data; /* probed row's record in the map when at
                               hand (PLAN_ALL, read-ahead), or NULL */
    size_t probe_len;       /* its length */
    const void *row_data;   /* PLAN_ALL: record of the last row, or
                               NULL (then it is looked up) */
    size_t row_len;         /* its length */
    uint64_t row_gen;       /* t->gen when row_data was taken */
    uint64_t snap_gen;      /* read txn: t->gen at open (a reset or
                               renew changes it: the query's pages
                               belong to the old snapshot) */
    uint64_t probe_gen;     /* t->gen when the probed row was read
                               (a write may follow a peek) */
    /* read-ahead (read transactions, PLAN_PRED / PLAN_ARG) */
    bool ra_on;        /* rows come from the buffer below */
    hks_factwalk walk; /* batched record lookups, this snapshot */
    uint32_t ra_n;     /* rows in the buffer */
    uint32_t ra_i;     /* next buffered row to hand out */
    uint32_t ra_batch; /* rows to fetch in the next batch */
    int ra_rc;         /* what the index walk returned after the
                          buffered rows (0: batch was full) */
    uint8_t ra_pos[HKS_FACTWALK_MAX][HKS_ARG_DUP_BYTES]; /* index positions */
    uint64_t ra_id[HKS_FACTWALK_MAX];                    /* their fact ids */
    const uint8_t *ra_rec[HKS_FACTWALK_MAX]; /* their records, NULL = look
                                              up with mdb_get */
    size_t ra_len[HKS_FACTWALK_MAX];         /* record lengths */
    bool ra_fetched;                         /* records looked up for rows from
                                                ra_from on (callers of next_id never
                                                need them, so lookups wait for the
                                                first row that does) */
    uint32_t ra_from;       /* first row whose record was looked up */
    uint64_t ra_fill_no;    /* batches filled so far */
    uint32_t probe_ra;      /* buffer row of the probed row */
    uint64_t probe_fill_no; /* its batch (ra_fill_no), 0 when it did
                               not come from the buffer */
    uint32_t row_ra;        /* the same for the last row returned */
    uint64_t row_fill_no;
    hk_fact_id row_id;            /* last row returned */
    bool row_valid;               /* row_syms holds its ids */
    uint32_t row_syms[MAX_SLOTS]; /* its pred + args */
    /* bindings */
    bool bind_ready;            /* bind holds the current row's values */
    hk_buf bind;                /* NUL-separated binding strings */
    size_t bind_off[MAX_SLOTS]; /* offset of each variable's value */
    uint8_t fp[8];              /* query fingerprint */
};

/* ==== base64url ==== */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static hk_err b64_encode(const uint8_t *in, size_t n, hk_buf *out)
{
    char tmp[HK_MAX_CURSOR_BYTES];
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        tmp[o++] = B64[(v >> 18) & 63];
        tmp[o++] = B64[(v >> 12) & 63];
        if (i + 1 < n) tmp[o++] = B64[(v >> 6) & 63];
        if (i + 2 < n) tmp[o++] = B64[v & 63];
    }
    return hk_buf_append(out, tmp, o);
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Returns decoded length or -1. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (len % 4 == 1) return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val(s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)))
        return -1; /* non-canonical trailing bits */
    return (int)o;
}

/* ==== Setup ==== */

static hk_err bad(hk_error *err, const char *field, const char *msg)
{
    hk_error_set(err, HK_ERR_INVALID, "%s", msg);
    if (err) snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

static hk_err entity_has_multi(hk_txn *t, uint32_t ent, bool *multi,
                               hk_error *err)
{
    uint8_t kb[4];
    hks_put_u32(kb, ent);
    MDB_val k = {4, kb}, d;
    int rc = mdb_get(t->txn, t->s->db.arg_multi, &k, &d);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "planning a query");
    *multi = rc == 0;
    return HK_OK;
}

/* Number of duplicates under key in a DUPSORT db (0 when absent). */
static hk_err dup_count(hk_txn *t, MDB_dbi dbi, uint32_t key, size_t *n,
                        hk_error *err)
{
    MDB_cursor *c;
    uint8_t kb[4];
    hks_put_u32(kb, key);
    MDB_val k = {4, kb}, d;
    *n = 0;
    int rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    if (rc == 0) rc = mdb_cursor_count(c, n);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return hks_store_mdb_error(t, rc, err, "counting");
    return HK_OK;
}

/* Rows of an entity in by_arg: the sum over its chunks (argidx.c), up to
 * the first sum above upto (the planner only compares it with upto: a hub
 * entity costs it no more chunk steps than the cheaper slot's rows). */
static hk_err arg_count(hk_txn *t, uint32_t ent, size_t upto, size_t *n,
                        hk_error *err)
{
    MDB_cursor *c, *tc = NULL;
    uint64_t cnt = 0;
    *n = 0;
    int rc = mdb_cursor_open(t->txn, t->s->db.by_arg, &c);
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    rc = mdb_cursor_open(t->txn, t->s->db.by_arg_tail, &tc);
    if (!rc) rc = hks_arg_count_upto(c, tc, ent, upto, &cnt);
    mdb_cursor_close(c);
    if (tc) mdb_cursor_close(tc);
    if (rc == MDB_CORRUPTED)
        return hk_error_set(err, HK_ERR_CORRUPT, "store: bad by_arg key");
    if (rc) return hks_store_mdb_error(t, rc, err, "counting");
    *n = (size_t)cnt;
    return HK_OK;
}

static hk_err query_new(hk_txn *t, hk_query **out, hk_error *err)
{
    hk_err e = hks_txn_check_read(t, err);
    if (!e) e = hks_txn_flush(t, err); /* pending index writes become visible */
    if (e) return e;
    if (!out) return hk_error_set(err, HK_ERR_INVALID, "no query output");
    *out = NULL;
    hk_query *q = hk_calloc(1, sizeof *q);
    if (!q) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    q->t = t;
    q->snap_gen = t->gen;
    q->pos = NO_POS;
    q->n_slots = 1;
    *out = q;
    return HK_OK;
}

static void fingerprint(const hk_buf *desc, uint8_t fp[8])
{
    uint8_t h[32];
    hk_sha256(desc->data ? desc->data : "", desc->len, h);
    memcpy(fp, h, 8);
}

/* Decodes cursor text into q's plan + last position and checks it. */
static hk_err apply_cursor(hk_query *q, const char *cursor, bool pattern,
                           hk_error *err)
{
    uint8_t b[64];
    size_t len = strlen(cursor);
    if (len > HK_MAX_CURSOR_BYTES)
        return bad(err, "cursor", "cursor is too long");
    int n = b64_decode(cursor, len, b, sizeof b);
    if (n < 12 + 8 || b[0] != CURSOR_VERSION)
        return bad(err, "cursor", "malformed cursor");
    uint8_t kind = b[1] & 0x7f;
    bool desc = (b[1] & 0x80) != 0;
    uint32_t key = hks_get_u32(b + 2);
    uint8_t pos = b[6];
    uint32_t pf = hks_get_u32(b + 7);
    uint8_t ll = b[11];
    if (n != 12 + ll + 8 || memcmp(b + 12 + ll, q->fp, 8) != 0)
        return bad(err, "cursor", "cursor does not belong to this query");
    if (q->kind == PLAN_EMPTY) {
        q->done = true;
        return HK_OK;
    }
    bool ok;
    switch (kind) {
    case PLAN_ALL:
        ok = ll == 8 || ll == 0;
        break;
    case PLAN_PRED:
        ok = (ll == 8 || ll == 0) && key && key == q->slot_const[0];
        break;
    case PLAN_ARG:
        ok = (ll == HKS_ARG_DUP_BYTES || ll == 0) && key &&
             (pos == NO_POS ? !pattern
                            : pos + 1u < q->n_slots + (pattern ? 0u : 32u)) &&
             pf == (pattern ? q->slot_const[0] : q->pred_filter);
        if (ok && pattern) ok = q->slot_const[pos + 1] == key;
        if (ok && !pattern) ok = key == q->key_sym && pos == q->pos;
        break;
    case PLAN_STMT:
        ok = q->kind == PLAN_STMT && (ll == 8 || ll == 0);
        break;
    default:
        ok = false;
    }
    if (ok && !pattern && (kind != q->kind || desc != q->desc)) ok = false;
    if (ok && desc && kind != PLAN_ALL && kind != PLAN_PRED) ok = false;
    if (!ok) return bad(err, "cursor", "cursor does not fit this query");
    q->kind = kind;
    q->desc = desc;
    q->key_sym = key;
    q->pos = pos;
    q->pred_filter = pf;
    q->last_len = ll;
    memcpy(q->last, b + 12, ll);
    if (kind == PLAN_STMT && ll) q->done = true;
    return HK_OK;
}

static hk_err open_cursor(hk_query *q, hk_error *err)
{
    const hks_store_dbs *db = &q->t->s->db;
    MDB_dbi dbi;
    switch (q->kind) {
    case PLAN_ALL:
        dbi = db->fact;
        break;
    case PLAN_PRED:
        dbi = db->by_pred;
        break;
    case PLAN_ARG:
        dbi = db->by_arg;
        break;
    default:
        return HK_OK;
    }
    int rc = mdb_cursor_open(q->t->txn, dbi, &q->cur);
    if (!rc && q->kind == PLAN_ARG)
        rc = mdb_cursor_open(q->t->txn, db->by_arg_tail, &q->tcur);
    if (rc) return hks_store_mdb_error(q->t, rc, err, "opening a query");
    if (q->kind == PLAN_PRED || q->kind == PLAN_ARG) {
        hks_factwalk_init(q->t, &q->walk);
        q->ra_on = q->walk.usable;
        q->ra_batch = 16; /* small first: many queries want a few rows */
    }
    return HK_OK;
}

static hk_err lookup_text(hk_txn *t, const char *s, uint32_t *id, hk_error *err)
{
    return hks_sym_lookup(t, s, strlen(s), id, err);
}

hk_err hk_query_open_scan(hk_txn *t, const hk_scan *scan, const char *cursor,
                          hk_query **out, hk_error *err)
{
    hk_query *q = NULL;
    hk_buf desc = HK_BUF_INIT;
    hk_err e;
    hk_scan s = HK_SCAN_INIT;
    if (scan) s = *scan;
    if ((e = query_new(t, &q, err))) return e;
    if (s.position < -1 || s.position >= HK_MAX_ARGS) {
        e = bad(err, "position", "position must be 0..31");
        goto fail;
    }
    if (s.position >= 0 && !s.entity) {
        e = bad(err, "position", "position needs an entity");
        goto fail;
    }
    if (s.arity > HK_MAX_ARGS) {
        e = bad(err, "arity", "arity must be 0..32");
        goto fail;
    }
    if ((s.predicate && !*s.predicate) || (s.entity && !*s.entity)) {
        e = bad(err, s.entity && !*s.entity ? "entity" : "predicate",
                "empty name");
        goto fail;
    }
    if ((e = hk_buf_appendf(&desc, "scan\x1f%s\x1f%s\x1f%d\x1f%u\x1f%d",
                            s.predicate ? s.predicate : "\x1e",
                            s.entity ? s.entity : "\x1e", s.position, s.arity,
                            s.newest_first ? 1 : 0))) {
        e = hk_error_set(err, e, "out of memory");
        goto fail;
    }
    fingerprint(&desc, q->fp);
    q->arity = s.arity;
    uint32_t pred = 0, ent = 0;
    if (s.predicate && (e = lookup_text(t, s.predicate, &pred, err))) goto fail;
    if (s.entity && (e = lookup_text(t, s.entity, &ent, err))) goto fail;
    if ((s.predicate && !pred) || (s.entity && !ent)) {
        q->kind = PLAN_EMPTY;
    } else if (ent) {
        q->kind = PLAN_ARG;
        q->key_sym = ent;
        q->pos = s.position >= 0 ? (uint8_t)s.position : NO_POS;
        q->pred_filter = pred;
        if (q->pos == NO_POS && (e = entity_has_multi(t, ent, &q->dedup, err)))
            goto fail;
    } else if (pred) {
        q->kind = PLAN_PRED;
        q->key_sym = pred;
        q->slot_const[0] = pred;
        q->desc = s.newest_first;
    } else {
        q->kind = PLAN_ALL;
        q->desc = s.newest_first;
    }
    q->need_check = q->arity || q->dedup;
    if (cursor && *cursor && (e = apply_cursor(q, cursor, false, err)))
        goto fail;
    if ((e = open_cursor(q, err))) goto fail;
    hk_buf_free(&desc);
    *out = q;
    return HK_OK;
fail:
    hk_buf_free(&desc);
    hk_query_close(q);
    return e;
}

hk_err hk_query_open_pattern(hk_txn *t, const hk_pattern *p, const char *cursor,
                             hk_query **out, hk_error *err)
{
    hk_query *q = NULL;
    hk_buf desc = HK_BUF_INIT;
    hk_err e;
    size_t names_len = 0;
    if (!p || p->n_args < 1 || p->n_args > HK_MAX_ARGS)
        return bad(err, "pattern", "pattern needs 1..32 arguments");
    if ((e = query_new(t, &q, err))) return e;
    q->n_slots = 1 + p->n_args;
    q->arity = p->n_args;
    q->need_check = true;
    const hk_term *terms[MAX_SLOTS];
    terms[0] = &p->predicate;
    for (uint32_t i = 0; i < p->n_args; i++)
        terms[i + 1] = &p->args[i];
    if ((e = hk_buf_append_str(&desc, "pattern"))) goto nomem;
    for (uint32_t s = 0; s < q->n_slots; s++) {
        const hk_term *tm = terms[s];
        if (tm->kind != HK_TERM_ANY && (!tm->text || !*tm->text)) {
            e = bad(err, "pattern", "pattern term without text");
            goto fail;
        }
        if (tm->kind > HK_TERM_ANY) {
            e = bad(err, "pattern", "unknown pattern term kind");
            goto fail;
        }
        if ((e = hk_buf_appendf(&desc, "\x1f%d%s", (int)tm->kind,
                                tm->kind == HK_TERM_ANY ? "" : tm->text)))
            goto nomem;
        if (tm->kind == HK_TERM_VAR) names_len += strlen(tm->text) + 1;
    }
    fingerprint(&desc, q->fp);
    if (names_len && !(q->names = hk_malloc(names_len))) goto nomem;

    /* Constants to syms; variables to groups. */
    bool empty = false, all_const = true;
    size_t noff = 0;
    for (uint32_t s = 0; s < q->n_slots; s++) {
        const hk_term *tm = terms[s];
        if (tm->kind != HK_TERM_CONST) all_const = false;
        if (tm->kind == HK_TERM_CONST) {
            if ((e = lookup_text(t, tm->text, &q->slot_const[s], err)))
                goto fail;
            if (!q->slot_const[s]) empty = true;
        } else if (tm->kind == HK_TERM_VAR) {
            uint32_t v;
            for (v = 0; v < q->n_vars; v++)
                if (strcmp(q->var_name[v], tm->text) == 0) break;
            if (v == q->n_vars) {
                size_t l = strlen(tm->text) + 1;
                memcpy(q->names + noff, tm->text, l);
                q->var_name[v] = q->names + noff;
                noff += l;
                q->var_slot[v] = (uint8_t)s;
                q->n_vars++;
            } else {
                q->has_repeat = true;
            }
            q->slot_var[s] = (uint8_t)(v + 1);
        }
    }
    if (empty) {
        q->kind = PLAN_EMPTY;
    } else if (all_const) {
        q->kind = PLAN_STMT;
        q->stmt_len = hks_stmt_key(q->slot_const[0], q->n_slots - 1,
                                   q->slot_const + 1, q->stmt_key);
    } else {
        /* Most selective constant. */
        size_t best = SIZE_MAX, n;
        q->kind = PLAN_ALL;
        if (q->slot_const[0]) {
            if ((e = dup_count(t, t->s->db.by_pred, q->slot_const[0], &best,
                               err)))
                goto fail;
            q->kind = PLAN_PRED;
            q->key_sym = q->slot_const[0];
        }
        for (uint32_t s = 1; s < q->n_slots; s++) {
            if (!q->slot_const[s]) continue;
            if ((e = arg_count(t, q->slot_const[s], best, &n, err))) goto fail;
            if (n <= best) {
                best = n;
                q->kind = PLAN_ARG;
                q->key_sym = q->slot_const[s];
                q->pos = (uint8_t)(s - 1);
                q->pred_filter = q->slot_const[0];
            }
        }
    }
    if (cursor && *cursor && (e = apply_cursor(q, cursor, true, err)))
        goto fail;
    if ((e = open_cursor(q, err))) goto fail;
    hk_buf_free(&desc);
    *out = q;
    return HK_OK;
nomem:
    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
fail:
    hk_buf_free(&desc);
    hk_query_close(q);
    return e;
}

void hk_query_close(hk_query *q)
{
    if (!q) return;
    if (q->cur) mdb_cursor_close(q->cur);
    if (q->tcur) mdb_cursor_close(q->tcur);
    if (q->fact_cur) mdb_cursor_close(q->fact_cur);
    for (int i = 0; i < 2; i++)
        if (q->scout[i]) mdb_cursor_close(q->scout[i]);
    hk_buf_free(&q->bind);
    hk_free(q->names);
    hk_free(q);
}

/* ==== Iteration ==== */

/* Adds 1 to a big-endian byte string; false on overflow. */
static bool be_increment(uint8_t *b, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (++b[i] != 0) return true;
    return false;
}

/* Full scans (an export reads every fact) spend most of their time
 * waiting for the symbol cache: each row names a few symbols spread over
 * the whole table, and both the cache slot and the string behind it are
 * cache misses. In read transactions two more cursors on `fact` run ahead
 * of the scan (records do not move under a read snapshot): one SCOUT_FAR
 * rows ahead prefetches the symbols' cache slots, one SCOUT_NEAR rows ahead
 * the strings they point to (the slot, asked for SCOUT_FAR - SCOUT_NEAR
 * rows earlier, is then in cache), so the misses of upcoming rows overlap
 * with the work on this one. (A third scout prefetching the records
 * themselves further ahead measured no better.) Only after SCOUT_AFTER rows:
 * short scans (a page; the many scans of a join: test_query_join took 30 %
 * more CPU under ASan when scouting began at row 32) do not pay for the
 * cursors. Prefetches are hints: a scout that meets the end of the table or
 * anything odd just stops. */
#define SCOUT_FAR 16
#define SCOUT_NEAR 8
#define SCOUT_AFTER 256
#define SCOUT_SYMS 6 /* symbols of a row that are prefetched */

static void scout_prefetch(hk_query *q, const MDB_val *at)
{
    static const unsigned ahead[2] = {SCOUT_FAR, SCOUT_NEAR};
    MDB_cursor_op op = q->desc ? MDB_PREV : MDB_NEXT;
    for (int i = 0; i < 2; i++) {
        MDB_val k = *at, d;
        int rc;
        if (!q->scout[i]) {
            if (mdb_cursor_open(q->t->txn, q->t->s->db.fact, &q->scout[i]))
                goto off;
            rc = mdb_cursor_get(q->scout[i], &k, &d, MDB_SET_KEY);
            for (unsigned n = 0; rc == 0 && n < ahead[i]; n++)
                rc = mdb_cursor_get(q->scout[i], &k, &d, op);
        } else {
            rc = mdb_cursor_get(q->scout[i], &k, &d, op);
        }
        hks_rec r;
        if (rc || !hks_val_sane(q->t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode_ids(d.mv_data, d.mv_size, &r))
            goto off;
        for (uint32_t j = 0; j <= r.n_args && j < SCOUT_SYMS; j++) {
            uint32_t id = j == 0 ? r.pred : r.args[j - 1];
            if (i == 0)
                hks_sym_prefetch_slot(q->t, id);
            else
                hks_sym_prefetch_string(q->t, id);
        }
    }
    return;
off:
    q->scout_off = true;
}

/* Positions on the next raw index entry. Returns 0, MDB_NOTFOUND (end) or
 * an LMDB error. *pos receives the entry's position bytes. */
static int step_all(hk_query *q, uint8_t pos[8])
{
    MDB_val k, d;
    int rc;
    if (!q->started) {
        q->started = true;
        if (q->last_len == 8) {
            /* positions are big-endian; `fact` keys are native integers */
            uint8_t b[8];
            memcpy(b, q->last, 8);
            if (!q->desc && !be_increment(b, 8)) return MDB_NOTFOUND;
            HKS_FACT_KEY(start, hks_get_u64(b));
            k = start;
            rc = mdb_cursor_get(q->cur, &k, &d, MDB_SET_RANGE);
            if (q->desc) {
                if (rc == 0)
                    rc = mdb_cursor_get(q->cur, &k, &d, MDB_PREV);
                else if (rc == MDB_NOTFOUND)
                    rc = mdb_cursor_get(q->cur, &k, &d, MDB_LAST);
            }
        } else {
            rc = mdb_cursor_get(q->cur, &k, &d, q->desc ? MDB_LAST : MDB_FIRST);
        }
    } else {
        rc = mdb_cursor_get(q->cur, &k, &d, q->desc ? MDB_PREV : MDB_NEXT);
    }
    if (rc) return rc;
    if (k.mv_size != sizeof(size_t) ||
        !hks_val_sane(q->t, &d, HKS_REC_MAX_BYTES))
        return MDB_CORRUPTED;
    hks_put_u64(pos, hks_fact_key_id(&k));
    if (!q->t->write && !q->scout_off) {
        if (q->all_rows >= SCOUT_AFTER)
            scout_prefetch(q, &k);
        else
            q->all_rows++;
    }
    q->probe_data = d.mv_data;
    q->probe_len = d.mv_size;
    q->rec_valid = false;
    if (q->need_check) {
        if (hks_rec_decode_ids(d.mv_data, d.mv_size, &q->rec))
            return MDB_CORRUPTED;
        q->rec_valid = true;
    }
    return 0;
}

static int step_pred(hk_query *q, uint8_t pos[8])
{
    MDB_val k, d;
    uint8_t kb[4], b[8];
    int rc;
    hks_put_u32(kb, q->key_sym);
    if (!q->started) {
        q->started = true;
        k.mv_size = 4;
        k.mv_data = kb;
        if (q->last_len == 8) {
            /* cursor positions are 8-byte ids; duplicates hold 6 bytes */
            uint64_t last = hks_get_u64(q->last);
            if (!q->desc && last >= HKS_MAX_FACT_ID) return MDB_NOTFOUND;
            if (last > HKS_MAX_FACT_ID) last = HKS_MAX_FACT_ID;
            hks_put_u48(b, q->desc ? last : last + 1);
            d.mv_size = HKS_ID_BYTES;
            d.mv_data = b;
            rc = mdb_cursor_get(q->cur, &k, &d, MDB_GET_BOTH_RANGE);
            if (q->desc) {
                if (rc == 0) {
                    rc = mdb_cursor_get(q->cur, &k, &d, MDB_PREV_DUP);
                } else if (rc == MDB_NOTFOUND) {
                    k.mv_size = 4;
                    k.mv_data = kb;
                    rc = mdb_cursor_get(q->cur, &k, &d, MDB_SET);
                    if (rc == 0)
                        rc = mdb_cursor_get(q->cur, &k, &d, MDB_LAST_DUP);
                }
            }
        } else {
            rc = mdb_cursor_get(q->cur, &k, &d, MDB_SET);
            if (rc == 0 && q->desc)
                rc = mdb_cursor_get(q->cur, &k, &d, MDB_LAST_DUP);
            else if (rc == 0)
                rc = mdb_cursor_get(q->cur, &k, &d, MDB_GET_CURRENT);
        }
    } else {
        rc = mdb_cursor_get(q->cur, &k, &d,
                            q->desc ? MDB_PREV_DUP : MDB_NEXT_DUP);
    }
    if (rc) return rc;
    if (d.mv_size != HKS_ID_BYTES) return MDB_CORRUPTED;
    hks_put_u64(pos, hks_get_u48(d.mv_data));
    return 0;
}

/* Seeks the entity's rows to the first one >= target and reads it. */
static int arg_seek(hk_query *q, const uint8_t target[HKS_ARG_DUP_BYTES],
                    const uint8_t **row)
{
    int rc = hks_argit_seek(&q->ait, q->t, q->cur, q->tcur, q->key_sym, target);
    return rc ? rc : hks_argit_next(&q->ait, row);
}

static int step_arg(hk_query *q, uint8_t pos[HKS_ARG_DUP_BYTES])
{
    const uint8_t *v = NULL;
    uint8_t target[HKS_ARG_DUP_BYTES];
    int rc;
    if (!q->started) {
        q->started = true;
        if (q->last_len == HKS_ARG_DUP_BYTES) {
            memcpy(target, q->last, HKS_ARG_DUP_BYTES);
            if (!be_increment(target, HKS_ARG_DUP_BYTES)) return MDB_NOTFOUND;
        } else {
            memset(target, 0, sizeof target);
            if (q->pos != NO_POS) target[0] = q->pos;
            hks_put_u32(target + 1, q->pred_filter);
        }
        rc = arg_seek(q, target, &v);
    } else {
        rc = hks_argit_next(&q->ait, &v);
    }
    /* Narrow to the position / predicate range; each re-seek moves forward,
     * so the loop ends within the entity's rows. */
    for (unsigned guard = 0; rc == 0 && guard < 2 * 256 + 4; guard++) {
        uint8_t p = v[0];
        uint32_t pr = hks_get_u32(v + 1);
        if (q->pos != NO_POS && p > q->pos) return MDB_NOTFOUND;
        if (q->pos != NO_POS && p < q->pos) {
            memset(target, 0, sizeof target);
            target[0] = q->pos;
            hks_put_u32(target + 1, q->pred_filter);
            rc = arg_seek(q, target, &v);
            continue;
        }
        if (q->pred_filter && pr != q->pred_filter) {
            memset(target, 0, sizeof target);
            if (pr < q->pred_filter) {
                target[0] = p;
            } else {
                if (q->pos != NO_POS || p == 255) return MDB_NOTFOUND;
                target[0] = (uint8_t)(p + 1);
            }
            hks_put_u32(target + 1, q->pred_filter);
            rc = arg_seek(q, target, &v);
            continue;
        }
        memcpy(pos, v, HKS_ARG_DUP_BYTES);
        return 0;
    }
    return rc ? rc : MDB_CORRUPTED;
}

static const uint8_t *ra_record(hk_query *q, uint32_t row, uint64_t fill_no,
                                size_t *len);

static hk_err check_row(hk_query *q, bool *ok, hk_error *err)
{
    hks_rec *r = &q->rec;
    *ok = false;
    if (!q->rec_valid && !q->probe_data && q->probe_fill_no)
        q->probe_data =
            ra_record(q, q->probe_ra, q->probe_fill_no, &q->probe_len);
    if (!q->rec_valid && q->probe_data) {
        if (hks_rec_decode_ids(q->probe_data, q->probe_len, r))
            return hk_error_set(err, HK_ERR_CORRUPT, "damaged fact %llu",
                                (unsigned long long)q->probe_id);
        q->rec_valid = true;
    }
    if (!q->rec_valid) {
        HKS_FACT_KEY(k, q->probe_id);
        MDB_val d;
        int rc = mdb_get(q->t->txn, q->t->s->db.fact, &k, &d);
        if (rc == MDB_NOTFOUND)
            return hk_error_set(err, HK_ERR_CORRUPT,
                                "index names missing fact %llu",
                                (unsigned long long)q->probe_id);
        if (rc) return hks_store_mdb_error(q->t, rc, err, "reading a fact");
        if (!hks_val_sane(q->t, &d, HKS_REC_MAX_BYTES) ||
            hks_rec_decode_ids(d.mv_data, d.mv_size, r))
            return hk_error_set(err, HK_ERR_CORRUPT, "damaged fact %llu",
                                (unsigned long long)q->probe_id);
        q->rec_valid = true;
    }
    if (q->arity && r->n_args != q->arity) return HK_OK;
    if (q->n_slots > 1 && r->n_args + 1 != q->n_slots) return HK_OK;
    for (uint32_t s = 0; s < q->n_slots; s++) {
        uint32_t v = s == 0 ? r->pred : r->args[s - 1];
        if (q->slot_const[s] && v != q->slot_const[s]) return HK_OK;
        if (q->has_repeat && q->slot_var[s]) {
            uint32_t first = q->var_slot[q->slot_var[s] - 1];
            if (first != s && v != (first == 0 ? r->pred : r->args[first - 1]))
                return HK_OK;
        }
    }
    if (q->dedup) {
        /* Keep the row only at the entity's first position in the fact. */
        uint8_t p = q->peek_pos[0];
        for (uint32_t j = 0; j < p && j < r->n_args; j++)
            if (r->args[j] == q->key_sym) return HK_OK;
    }
    *ok = true;
    return HK_OK;
}

/* Prefetches the symbols named by the buffered records, in two passes
 * over the batch (cache slots, then strings) so that their misses
 * overlap too. Only the first RA_PREFETCH_SYMS of a row are hinted. */
#define RA_PREFETCH_SYMS 6
static void ra_prefetch_symbols(hk_query *q)
{
    uint32_t syms[HKS_FACTWALK_MAX][RA_PREFETCH_SYMS];
    uint8_t n_syms[HKS_FACTWALK_MAX];
    hks_rec r;
    for (uint32_t i = q->ra_from; i < q->ra_n; i++) {
        n_syms[i] = 0;
        if (!q->ra_rec[i] || hks_rec_decode_ids(q->ra_rec[i], q->ra_len[i], &r))
            continue;
        syms[i][n_syms[i]++] = r.pred;
        for (uint32_t a = 0; a < r.n_args && n_syms[i] < RA_PREFETCH_SYMS; a++)
            syms[i][n_syms[i]++] = r.args[a];
        for (uint32_t j = 0; j < n_syms[i]; j++)
            hks_sym_prefetch_slot(q->t, syms[i][j]);
    }
    for (uint32_t i = q->ra_from; i < q->ra_n; i++)
        for (uint32_t j = 0; j < n_syms[i]; j++)
            hks_sym_prefetch_string(q->t, syms[i][j]);
}

/* Looks up together the records of buffer rows from..ra_n, then prefetches
 * their symbols. */
static void ra_fetch(hk_query *q, uint32_t from)
{
    q->ra_fetched = true;
    q->ra_from = from;
    hks_factwalk_get(&q->walk, q->ra_n - from, q->ra_id + from,
                     q->ra_rec + from, q->ra_len + from);
    ra_prefetch_symbols(q);
}

/* The probed (or last returned) row's record from the read-ahead buffer,
 * looking up the rest of the batch first when that has not been done.
 * NULL when the row is not from the current batch or the walker left it
 * to mdb_get. */
static const uint8_t *ra_record(hk_query *q, uint32_t row, uint64_t fill_no,
                                size_t *len)
{
    if (!q->ra_on || !fill_no || fill_no != q->ra_fill_no || row >= q->ra_n)
        return NULL;
    if (!q->ra_fetched || row < q->ra_from) ra_fetch(q, row);
    *len = q->ra_len[row];
    return q->ra_rec[row];
}

/* Refills the read-ahead buffer: walks the index up to ra_batch rows (their
 * records are looked up when first needed). Returns the index walk's
 * result when no row was found. */
static int ra_fill(hk_query *q)
{
    uint32_t n = 0;
    int rc = 0;
    while (n < q->ra_batch) {
        rc = q->kind == PLAN_PRED ? step_pred(q, q->ra_pos[n])
                                  : step_arg(q, q->ra_pos[n]);
        if (rc) break;
        q->ra_id[n] = q->kind == PLAN_PRED ? hks_get_u64(q->ra_pos[n])
                                           : hks_get_u48(q->ra_pos[n] + 5);
        n++;
    }
    q->ra_rc = rc;
    q->ra_n = n;
    q->ra_i = 0;
    q->ra_batch = HKS_FACTWALK_MAX;
    q->ra_fetched = false;
    q->ra_fill_no++;
    return n ? 0 : rc;
}

/* The next index row of a PLAN_PRED / PLAN_ARG query: sets peek_pos and
 * probe_id, and probe_data when its record is already at hand. */
static int step_index(hk_query *q)
{
    if (!q->ra_on) {
        int rc = q->kind == PLAN_PRED ? step_pred(q, q->peek_pos)
                                      : step_arg(q, q->peek_pos);
        if (!rc)
            q->probe_id = q->kind == PLAN_PRED ? hks_get_u64(q->peek_pos)
                                               : hks_get_u48(q->peek_pos + 5);
        return rc;
    }
    if (q->ra_i == q->ra_n) {
        if (q->ra_n && q->ra_rc)
            return q->ra_rc; /* the walk ended after the last batch */
        int rc = ra_fill(q);
        if (rc) return rc;
    }
    uint32_t i = q->ra_i++;
    memcpy(q->peek_pos, q->ra_pos[i], HKS_ARG_DUP_BYTES);
    q->probe_id = q->ra_id[i];
    q->probe_ra = i;
    q->probe_fill_no = q->ra_fill_no;
    if (q->ra_fetched && i >= q->ra_from) {
        q->probe_data = q->ra_rec[i];
        q->probe_len = q->ra_len[i];
    }
    return 0;
}

/* Finds the next matching row: sets q->probe_id, q->peek_pos. */
static hk_err advance(hk_query *q, bool *has_row, hk_error *err)
{
    *has_row = false;
    if (q->done) return HK_OK;
    q->probe_gen = q->t->gen;
    q->probe_fill_no = 0;
    if (q->kind == PLAN_STMT) {
        q->done = true;
        q->probe_data = NULL;
        MDB_val k = {q->stmt_len, q->stmt_key}, d;
        int rc = mdb_get(q->t->txn, q->t->s->db.stmt, &k, &d);
        if (rc == MDB_NOTFOUND) return HK_OK;
        if (rc) return hks_store_mdb_error(q->t, rc, err, "running a query");
        if (!hks_varint_exact(d.mv_data, d.mv_size, &q->probe_id) ||
            !q->probe_id)
            return hk_error_set(err, HK_ERR_CORRUPT, "bad stmt entry");
        hks_put_u64(q->peek_pos, q->probe_id);
        q->rec_valid = false;
        *has_row = true;
        return HK_OK;
    }
    if (q->kind == PLAN_EMPTY) {
        q->done = true;
        return HK_OK;
    }
    for (;;) {
        int rc;
        q->rec_valid = false;
        q->probe_data = NULL;
        q->probe_fill_no = 0;
        if (q->kind == PLAN_ALL) {
            rc = step_all(q, q->peek_pos);
            if (!rc) q->probe_id = hks_get_u64(q->peek_pos);
        } else {
            rc = step_index(q);
        }
        if (rc == MDB_NOTFOUND) {
            q->done = true;
            return HK_OK;
        }
        if (rc) {
            q->done = true;
            if (rc == MDB_CORRUPTED)
                return hk_error_set(err, HK_ERR_CORRUPT,
                                    "store: damaged index entry");
            return hks_store_mdb_error(q->t, rc, err, "running a query");
        }
        if (!q->need_check) {
            *has_row = true;
            return HK_OK;
        }
        bool ok;
        hk_err e = check_row(q, &ok, err);
        if (e) {
            q->done = true;
            return e;
        }
        if (ok) {
            *has_row = true;
            return HK_OK;
        }
    }
}

/* The query's transaction is usable and, for a read txn, still holds the
 * snapshot the query was opened in. */
static hk_err check_snapshot(hk_query *q, hk_error *err)
{
    hk_err e = hks_txn_check_read(q->t, err);
    if (!e && !q->t->write && q->t->gen != q->snap_gen)
        e = hk_error_set(err, HK_ERR_STATE,
                         "store: the query's read transaction was reset "
                         "since the query was opened; open it again (a "
                         "cursor resumes it)");
    return e;
}

static hk_err next_row(hk_query *q, bool *has_row, hk_error *err)
{
    hk_err e;
    if (!q) return hk_error_set(err, HK_ERR_INVALID, "no query");
    if ((e = check_snapshot(q, err))) return e;
    q->bind_ready = false;
    if (q->peeked) {
        q->peeked = false;
        *has_row = true;
    } else if ((e = advance(q, has_row, err))) {
        return e;
    }
    if (*has_row) {
        q->last_len = q->kind == PLAN_ARG ? HKS_ARG_DUP_BYTES : 8;
        memcpy(q->last, q->peek_pos, q->last_len);
        q->row_id = q->probe_id;
        /* a row looked ahead by hk_query_cursor, then a write in this
         * txn: its record pointer and decoded ids may be stale */
        q->row_valid = q->rec_valid && q->probe_gen == q->t->gen;
        q->row_data = q->probe_data;
        q->row_len = q->probe_len;
        q->row_gen = q->probe_gen;
        q->row_ra = q->probe_ra;
        q->row_fill_no = q->probe_fill_no;
        if (q->row_valid) {
            q->row_syms[0] = q->rec.pred;
            memcpy(q->row_syms + 1, q->rec.args,
                   q->rec.n_args * sizeof(uint32_t));
        }
    }
    return HK_OK;
}

hk_err hk_query_next_id(hk_query *q, hk_fact_id *id, bool *has_row,
                        hk_error *err)
{
    hk_err e = next_row(q, has_row, err);
    if (!e && *has_row && id) *id = q->row_id;
    return e;
}

hk_err hk_query_next(hk_query *q, hk_fact *f, bool *has_row, hk_error *err)
{
    hks_rec r;
    hk_err e = next_row(q, has_row, err);
    if (e || !*has_row) return e;
    if (!f) return HK_OK;
    if (!q->row_data && q->row_fill_no && q->row_gen == q->t->gen)
        q->row_data = ra_record(q, q->row_ra, q->row_fill_no, &q->row_len);
    if (q->row_data && q->row_gen == q->t->gen) {
        /* full scans and read-ahead already hold the record (same
         * snapshot, no write since): decode it without a second lookup */
        if (hks_rec_decode(q->row_data, q->row_len, &r))
            return hk_error_set(err, HK_ERR_CORRUPT, "damaged fact %llu",
                                (unsigned long long)q->row_id);
        return hks_rec_to_fact(q->t, q->row_id, &r, f, err);
    }
    if (!q->fact_cur) {
        int rc = mdb_cursor_open(q->t->txn, q->t->s->db.fact, &q->fact_cur);
        if (rc) return hks_store_mdb_error(q->t, rc, err, "reading a fact");
    }
    HKS_FACT_KEY(k, q->row_id);
    MDB_val d;
    int rc = mdb_cursor_get(q->fact_cur, &k, &d, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "index names missing fact %llu",
                            (unsigned long long)q->row_id);
    if (rc) return hks_store_mdb_error(q->t, rc, err, "reading a fact");
    if (!hks_val_sane(q->t, &d, HKS_REC_MAX_BYTES) ||
        hks_rec_decode(d.mv_data, d.mv_size, &r))
        return hk_error_set(err, HK_ERR_CORRUPT, "damaged fact %llu",
                            (unsigned long long)q->row_id);
    return hks_rec_to_fact(q->t, q->row_id, &r, f, err);
}

const char *hk_query_binding(hk_query *q, const char *name)
{
    if (!q || !name || !q->last_len || !q->row_id || check_snapshot(q, NULL))
        return NULL;
    uint32_t v;
    for (v = 0; v < q->n_vars; v++)
        if (strcmp(q->var_name[v], name) == 0) break;
    if (v == q->n_vars) return NULL;
    if (!q->bind_ready) {
        if (!q->row_valid) {
            hks_rec r;
            HKS_FACT_KEY(k, q->row_id);
            if (!q->row_data && q->row_fill_no && q->row_gen == q->t->gen)
                q->row_data =
                    ra_record(q, q->row_ra, q->row_fill_no, &q->row_len);
            MDB_val d = {q->row_len, (void *)q->row_data};
            if (!q->row_data || q->row_gen != q->t->gen)
                if (mdb_get(q->t->txn, q->t->s->db.fact, &k, &d)) return NULL;
            if (!hks_val_sane(q->t, &d, HKS_REC_MAX_BYTES) ||
                hks_rec_decode_ids(d.mv_data, d.mv_size, &r) ||
                r.n_args + 1 < q->n_slots)
                return NULL;
            q->row_syms[0] = r.pred;
            memcpy(q->row_syms + 1, r.args, r.n_args * sizeof(uint32_t));
            q->row_valid = true;
        }
        hk_buf_reset(&q->bind);
        for (uint32_t i = 0; i < q->n_vars; i++) {
            const char *str;
            size_t len;
            q->bind_off[i] = q->bind.len;
            if (hks_sym_string(q->t, q->row_syms[q->var_slot[i]], &str, &len,
                               NULL) ||
                hk_buf_append(&q->bind, str, len) ||
                hk_buf_append(&q->bind, "", 1))
                return NULL;
        }
        q->bind_ready = true;
    }
    return q->bind.data + q->bind_off[v];
}

hk_err hk_query_cursor(hk_query *q, hk_buf *out)
{
    uint8_t b[12 + HKS_ARG_DUP_BYTES + 8];
    if (!q || !out) return HK_ERR_INVALID;
    hk_err se = check_snapshot(q, NULL);
    if (se) return se;
    if (!q->peeked && !q->done) {
        /* Look one row ahead so that an exhausted query gives no cursor. */
        bool has = false;
        hk_err e = advance(q, &has, NULL);
        if (e) return e;
        q->peeked = has;
    }
    if (!q->peeked) return HK_OK;
    b[0] = CURSOR_VERSION;
    b[1] = (uint8_t)(q->kind | (q->desc ? 0x80 : 0));
    hks_put_u32(b + 2, q->key_sym);
    b[6] = q->pos;
    hks_put_u32(b + 7, q->pred_filter);
    b[11] = q->last_len;
    memcpy(b + 12, q->last, q->last_len);
    memcpy(b + 12 + q->last_len, q->fp, 8);
    return b64_encode(b, 12 + (size_t)q->last_len + 8, out);
}
