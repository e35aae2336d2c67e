/*
 * svc_growth.c — facts added and deleted per UTC day, answered in
 * O(days) from counters instead of a scan of every fact record.
 *
 * The counters are a pure function of the audit log: every "add" entry
 * adds its count to the day of its time, every "import" entry its count
 * (a bulk import is one entry), every "delete" entry adds its count to the
 * deleted facts of its day; other entries (update, meta, vector, rules,
 * review) count nothing. So they can always be recomputed and checked
 * against a fold of the log (the unit test does).
 *
 * Databases (module databases of src/store/store.h):
 *
 *   growth.day   key: day number (days since 1970-01-01 UTC), u32
 *                big-endian (byte order is day order); value: added, then
 *                deleted, u64 big-endian each.
 *   growth.meta  "seq"  u64 BE: the last audit entry folded in.
 *
 * Keeping them current:
 *   1. A change hook (ADD, DELETE, IMPORT) folds the audit entries after
 *      "seq" up to the change's own entry, inside the change's
 *      transaction: they commit together. Normally that is one entry (the
 *      change's); entries that no hook saw (rule and review audit entries,
 *      or a writer that opened the KB without hk_svc_store_open) are
 *      picked up by the next fold, so nothing is missed or counted twice.
 *   2. hk_svc_growth_attach on a writable handle registers the databases
 *      and backfills a KB that predates them: it folds the log in write
 *      transactions of at most GROWTH_CHUNK entries each (so the writer
 *      lock is never held for long), once; later opens find "seq" at the
 *      head and fold nothing. The cost is one read of every audit entry
 *      (the log has at most one entry per fact change, and one per bulk
 *      import) plus one counter write per day and chunk.
 *   3. A read folds the entries after "seq" in memory (a read-only handle
 *      cannot write): a KB written by a process without the hook still
 *      answers exactly, at the cost of reading those entries.
 *
 * Threads: the hook runs on the writer's thread inside its transaction;
 * its user data is the hk_store, never written. Attach follows the
 * registration rules of store.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "service/service.h"
#include "store/store.h"

#define DAY_DB "growth.day"
#define META_DB "growth.meta"
#define HOOK_NAME "growth"
#define DAY_US (86400LL * 1000000LL)
#define MAX_DAYS 36600u
/* Audit entries folded per backfill transaction. */
#define GROWTH_CHUNK 65536u

/* ==== Encoding ==== */

static void put_be(uint8_t *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        w[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const void *p, int n)
{
    const uint8_t *r = p;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | r[i];
    return v;
}

/* The day of an audit time; times before 1970 count on day 0. */
static uint32_t day_of(int64_t time_us)
{
    if (time_us < 0) return 0;
    int64_t d = time_us / DAY_US;
    return d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* ==== Folding the audit log ==== */

/* Receives the counts of a run of entries of one day. */
typedef hk_err (*fold_fn)(hk_txn *t, uint32_t day, uint64_t added,
                          uint64_t deleted, void *ud, hk_error *err);

/* Folds the audit entries from_seq..to_seq (to_seq 0: to the head of t's
 * snapshot), at most limit of them, into fn, one call per run of entries
 * of the same day. *last is the last entry read (from_seq - 1 when none). */
static hk_err fold(hk_txn *t, uint64_t from_seq, uint64_t to_seq,
                   uint64_t limit, fold_fn fn, void *ud, uint64_t *last,
                   hk_error *err)
{
    hk_audit_iter *it = NULL;
    *last = from_seq - 1;
    hk_err e = hk_audit_iter_open(t, from_seq, &it, err);
    if (e) return e;
    uint32_t day = 0;
    uint64_t added = 0, deleted = 0, n = 0;
    bool run = false;
    while (n < limit) {
        const hk_audit_entry *a;
        if ((e = hk_audit_iter_next(it, &a, err))) goto done;
        if (a == NULL || (to_seq != 0 && a->seq > to_seq)) break;
        n++;
        *last = a->seq;
        bool add = strcmp(a->op, "add") == 0 || strcmp(a->op, "import") == 0;
        bool del = strcmp(a->op, "delete") == 0;
        if (!add && !del) continue;
        uint32_t d = day_of(a->time_us);
        if (run && d != day) {
            if ((e = fn(t, day, added, deleted, ud, err))) goto done;
            added = deleted = 0;
        }
        run = true;
        day = d;
        if (add) added += a->count;
        if (del) deleted += a->count;
    }
    if (run) e = fn(t, day, added, deleted, ud, err);
done:
    hk_audit_iter_close(it);
    return e;
}

/* ==== The counters ==== */

typedef struct growth_dbs {
    hks_db day;  /* growth.day */
    hks_db meta; /* growth.meta */
} growth_dbs;

static hk_err dbs_find(hk_store *s, growth_dbs *d, hk_error *err)
{
    hk_err e = hks_db_find(s, DAY_DB, &d->day, err);
    if (!e) e = hks_db_find(s, META_DB, &d->meta, err);
    return e;
}

static hk_err seq_get(hk_txn *t, hks_db meta, uint64_t *seq, hk_error *err)
{
    hks_val k = {"seq", 3}, v;
    hk_err e = hks_get(t, meta, k, &v, err);
    *seq = 0;
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (e) return e;
    if (v.len != 8)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "growth: the folded audit position is damaged");
    *seq = get_be(v.data, 8);
    return HK_OK;
}

/* Adds to the stored counters of one day. */
static hk_err day_add(hk_txn *t, uint32_t day, uint64_t added, uint64_t deleted,
                      void *ud, hk_error *err)
{
    const growth_dbs *d = ud;
    uint8_t kb[4], vb[16];
    put_be(kb, day, 4);
    hks_val k = {kb, 4}, v;
    hk_err e = hks_get(t, d->day, k, &v, err);
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
    } else if (e) {
        return e;
    } else if (v.len != 16) {
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "growth: the counters of day %u are damaged", day);
    } else {
        added += get_be(v.data, 8);
        deleted += get_be((const uint8_t *)v.data + 8, 8);
    }
    put_be(vb, added, 8);
    put_be(vb + 8, deleted, 8);
    hks_val nv = {vb, 16};
    return hks_put(t, d->day, k, nv, 0, err);
}

/* Folds the entries after "seq" up to to_seq (0: head), at most limit,
 * into the stored counters in write txn t. *done: caught up with to_seq
 * (or the head). */
static hk_err fold_stored(hk_txn *t, growth_dbs *d, uint64_t to_seq,
                          uint64_t limit, bool *done, hk_error *err)
{
    uint64_t seq, last;
    hk_err e = seq_get(t, d->meta, &seq, err);
    if (e) return e;
    *done = true;
    if (to_seq != 0 && seq >= to_seq) return HK_OK;
    if ((e = fold(t, seq + 1, to_seq, limit, day_add, d, &last, err))) return e;
    if (last == seq) return HK_OK; /* nothing after seq */
    *done = to_seq != 0 ? last >= to_seq : last - seq < limit;
    uint8_t vb[8];
    put_be(vb, last, 8);
    hks_val k = {"seq", 3}, v = {vb, 8};
    return hks_put(t, d->meta, k, v, 0, err);
}

/* ==== The hook and attaching ==== */

static hk_err on_change(hk_txn *t, const hks_change *c, void *ud, hk_error *err)
{
    growth_dbs d;
    bool done;
    if (c->audit_seq == 0) return HK_OK; /* counted with its import */
    hk_err e = dbs_find(ud, &d, err);
    if (e) return e;
    return fold_stored(t, &d, c->audit_seq, UINT64_MAX, &done, err);
}

/* *done: the counters hold every audit entry of a fresh snapshot. */
static hk_err caught_up(hk_store *s, growth_dbs *d, bool *done, hk_error *err)
{
    hk_txn *t;
    hk_audit_iter *it = NULL;
    const hk_audit_entry *a = NULL;
    uint64_t seq;
    hk_err e = hk_txn_begin(s, false, &t, err);
    if (e) return e;
    if (!(e = seq_get(t, d->meta, &seq, err)) &&
        !(e = hk_audit_iter_open(t, seq + 1, &it, err)))
        e = hk_audit_iter_next(it, &a, err);
    if (it) hk_audit_iter_close(it);
    hk_txn_abort(t);
    *done = e == HK_OK && a == NULL;
    return e;
}

hk_err hk_svc_growth_attach(hk_store *s, bool read_only, hk_error *err)
{
    growth_dbs d;
    hk_err e;
    if (read_only) return HK_OK; /* reads fold what they need */
    if ((e = hks_db_register(s, DAY_DB, 0, &d.day, err)) ||
        (e = hks_db_register(s, META_DB, 0, &d.meta, err)))
        return e;
    /* backfill, one bounded transaction at a time (none, and no writer
     * lock taken, when the counters are at the head already) */
    bool done = false;
    if ((e = caught_up(s, &d, &done, err))) return e;
    while (!done) {
        hk_txn *t;
        if ((e = hk_txn_begin(s, true, &t, err))) return e;
        if ((e = fold_stored(t, &d, 0, GROWTH_CHUNK, &done, err))) {
            hk_txn_abort(t);
            return e;
        }
        if ((e = hk_txn_commit(t, err))) return e;
    }
    hks_hook h = {HOOK_NAME, HKS_EV_ADD | HKS_EV_DELETE | HKS_EV_IMPORT,
                  on_change, NULL, s};
    e = hks_hook_add(s, &h, err);
    if (e == HK_ERR_EXISTS) {
        hk_error_clear(err);
        e = HK_OK;
    }
    return e;
}

/* ==== Reading ==== */

/* Adds a run of entries to the answer's window. */
static hk_err res_add(hk_txn *t, uint32_t day, uint64_t added, uint64_t deleted,
                      void *ud, hk_error *err)
{
    (void)t;
    (void)err;
    hk_svc_growth_daily_res *r = ud;
    int64_t i = (int64_t)day - r->first_day;
    if (i < 0 || i >= (int64_t)r->days) return HK_OK;
    r->added[i] += added;
    r->deleted[i] += deleted;
    return HK_OK;
}

hk_err hk_svc_growth_daily(hk_txn *t, const hk_svc_growth_daily_req *req,
                           hk_svc_growth_daily_res *res, hk_error *err)
{
    memset(res, 0, sizeof(*res));
    if (req->days < 1 || req->days > MAX_DAYS) {
        hk_error_set(err, HK_ERR_INVALID, "days is 1..%u, not %u", MAX_DAYS,
                     req->days);
        if (err) snprintf(err->field, sizeof(err->field), "days");
        return HK_ERR_INVALID;
    }
    int64_t now = req->now_us != 0 ? req->now_us : hk_now_us();
    res->first_day = now / DAY_US - (int64_t)req->days + 1;
    res->added = hk_calloc(req->days, sizeof(*res->added));
    res->deleted = hk_calloc(req->days, sizeof(*res->deleted));
    if (res->added == NULL || res->deleted == NULL) {
        hk_svc_growth_daily_res_free(res);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    res->days = req->days;
    growth_dbs d;
    uint64_t seq = 0, last;
    hk_err e = dbs_find(req->store, &d, err);
    if (e == HK_ERR_NOT_FOUND) { /* never attached writable: fold it all */
        hk_error_clear(err);
        e = HK_OK;
    } else if (!e) {
        e = seq_get(t, d.meta, &seq, err);
        /* the stored days of the window, in key order */
        hks_cursor *c = NULL;
        uint8_t kb[4];
        uint32_t first = res->first_day < 0 ? 0 : (uint32_t)res->first_day;
        put_be(kb, first, 4);
        hks_val k0 = {kb, 4}, k, v;
        bool found = false;
        if (!e) e = hks_cursor_open(t, d.day, &c, err);
        if (!e) e = hks_cursor_seek(c, k0, &k, &v, &found, err);
        for (uint32_t i = 0; !e && found && i < res->days; i++) {
            if (k.len != 4 || v.len != 16) {
                e = hk_error_set(err, HK_ERR_CORRUPT,
                                 "growth: a day's counters are damaged");
                break;
            }
            uint32_t day = (uint32_t)get_be(k.data, 4);
            if ((int64_t)day - res->first_day >= (int64_t)res->days) break;
            e = res_add(t, day, get_be(v.data, 8),
                        get_be((const uint8_t *)v.data + 8, 8), res, err);
            if (!e) e = hks_cursor_next(c, &k, &v, &found, err);
        }
        if (c) hks_cursor_close(c);
    }
    /* what the counters do not hold yet */
    if (!e) e = fold(t, seq + 1, 0, UINT64_MAX, res_add, res, &last, err);
    if (e) {
        hk_svc_growth_daily_res_free(res);
        return e;
    }
    res->counted_seq = seq;
    res->folded = last - seq;
    for (uint32_t i = 0; i < res->days; i++) {
        res->total_added += res->added[i];
        res->total_deleted += res->deleted[i];
    }
    return HK_OK;
}

void hk_svc_growth_daily_res_free(hk_svc_growth_daily_res *res)
{
    if (res == NULL) return;
    hk_free(res->added);
    hk_free(res->deleted);
    memset(res, 0, sizeof(*res));
}

hk_err hk_svc_growth_daily_write_json(const hk_svc_growth_daily_res *res,
                                      hk_buf *out)
{
    hk_err e = hk_buf_appendf(out, "{\"days\":%u,\"first_day\":\"", res->days);
    char date[11];
    if (!e) {
        hk_svc_day_format(res->first_day, date);
        e = hk_buf_appendf(out,
                           "%s\",\"total_added\":%llu,"
                           "\"total_deleted\":%llu,\"per_day\":[",
                           date, (unsigned long long)res->total_added,
                           (unsigned long long)res->total_deleted);
    }
    for (uint32_t i = 0; !e && i < res->days; i++) {
        hk_svc_day_format(res->first_day + i, date);
        e = hk_buf_appendf(
            out, "%s{\"date\":\"%s\",\"added\":%llu,\"deleted\":%llu}",
            i ? "," : "", date, (unsigned long long)res->added[i],
            (unsigned long long)res->deleted[i]);
    }
    if (!e)
        e = hk_buf_appendf(out, "],\"counted_seq\":%llu,\"folded\":%llu}",
                           (unsigned long long)res->counted_seq,
                           (unsigned long long)res->folded);
    return e;
}
