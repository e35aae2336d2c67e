/*
 * outbox.c — the change-stream outbox: one JSON envelope per committed
 * mutation, written by a change hook inside the mutation's transaction.
 *
 * Databases (module databases of src/store/store.h):
 *
 *   stream.outbox  key: event sequence, 8 bytes big-endian (so byte order
 *                  is number order); value: fact id and event time (epoch
 *                  us), 8 bytes big-endian each, then the envelope's JSON
 *                  text (no NUL).
 *   stream.meta    "next"       u64 BE: sequence of the next event (from 1)
 *                  "published"  u64 BE: last event removed as published
 *                  "pub_time"   i64 BE: when that happened (epoch us)
 *
 * The hook reads the audit entry the store has just written for the change
 * (its before/after JSON, actor and time) so that the event says exactly
 * what the audit log says. Facts created in a bulk transaction have no
 * entry of their own yet (audit_seq 0): their after-state is read from the
 * transaction and the actor is "import".
 *
 * The transaction number in the envelope is LMDB's (hk_store_last_commit
 * of the KB + 1): equal for every event of one commit, growing, and
 * started again by compaction and restore.
 *
 * Threads: the hook runs on the writer's thread inside its transaction;
 * its user data is the hk_store, never written.
 */
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "store/store.h"
#include "stream/stream.h"

#define HOOK_NAME "stream.outbox"

/* ==== Encoding ==== */

static void put_u64(uint8_t *w, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        w[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64(const void *p)
{
    const uint8_t *r = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | r[i];
    return v;
}

static hk_err meta_get(hk_txn *t, hks_db meta, const char *name, uint64_t *v,
                       hk_error *err)
{
    hks_val k = {name, strlen(name)}, val;
    hk_err e = hks_get(t, meta, k, &val, err);
    *v = 0;
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (e) return e;
    if (val.len != 8)
        return hk_error_set(err, HK_ERR_CORRUPT, "stream.meta %s: %zu bytes",
                            name, val.len);
    *v = get_u64(val.data);
    return HK_OK;
}

static hk_err meta_put(hk_txn *t, hks_db meta, const char *name, uint64_t v,
                       hk_error *err)
{
    uint8_t b[8];
    put_u64(b, v);
    hks_val k = {name, strlen(name)}, val = {b, 8};
    return hks_put(t, meta, k, val, 0, err);
}

/* ==== The envelope ==== */

static const char *debezium_op(hks_op op, const char *before, const char *after)
{
    if (op == HKS_OP_RULE) /* the rule's own life: created, changed, gone */
        return !before ? "c" : !after ? "d" : "u";
    switch (op) {
    case HKS_OP_ADD:
        return "c";
    case HKS_OP_DELETE:
        return "d";
    default:
        return "u";
    }
}

static const char *kind_name(hks_op op)
{
    switch (op) {
    case HKS_OP_ADD:
        return "add";
    case HKS_OP_DELETE:
        return "delete";
    case HKS_OP_UPDATE:
        return "update";
    case HKS_OP_META:
        return "meta";
    case HKS_OP_VECTOR:
        return "vector";
    case HKS_OP_RULE:
        return "rule";
    default:
        return "import";
    }
}

/* Appends the envelope of change c (event number seq) to b. */
static hk_err envelope(hk_txn *t, hk_store *s, const hks_change *c,
                       uint64_t seq, hk_buf *b, int64_t *ts_out, hk_error *err)
{
    hk_err e = HK_OK;
    hk_audit_iter *it = NULL;
    const hk_audit_entry *a = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf after = HK_BUF_INIT;
    const char *before_json = NULL, *after_json = NULL, *actor = "import";
    const char *vector_json = NULL;
    int64_t ts = hk_now_us();

    if (c->audit_seq) {
        if ((e = hk_audit_iter_open(t, c->audit_seq, &it, err)) ||
            (e = hk_audit_iter_next(it, &a, err)))
            goto done;
        if (!a || a->seq != c->audit_seq) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "stream: audit entry %llu not found",
                             (unsigned long long)c->audit_seq);
            goto done;
        }
        before_json = a->before;
        after_json = a->after;
        actor = a->actor ? a->actor : "";
        ts = a->time_us;
        if (c->op == HKS_OP_VECTOR) {
            /* the audit text is {"vector":{space, change, dim}}; the fact
             * itself is unchanged (gone when its deletion removed it) */
            vector_json = a->after;
            before_json = after_json = NULL;
            e = hk_store_get(t, c->id, &f, err);
            if (e == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                e = HK_OK;
            } else if (!e) {
                if ((e = hk_fact_write_json(&f, &after))) goto done;
                before_json = after_json = after.data;
            } else {
                goto done;
            }
        }
    } else {
        if ((e = hk_store_get(t, c->id, &f, err)) ||
            (e = hk_fact_write_json(&f, &after)))
            goto done;
        after_json = after.data;
        ts = f.created_us;
    }
    e = hk_buf_appendf(b, "{\"op\":\"%s\",\"kind\":\"%s\",\"before\":",
                       debezium_op(c->op, before_json, after_json),
                       kind_name(c->op));
    if (!e) e = hk_buf_append_str(b, before_json ? before_json : "null");
    if (!e) e = hk_buf_append_str(b, ",\"after\":");
    if (!e) e = hk_buf_append_str(b, after_json ? after_json : "null");
    /* a vector change: the audit's {"vector":{...}} object, unwrapped */
    if (!e && vector_json && vector_json[0] == '{') {
        size_t n = strlen(vector_json);
        e = hk_buf_append_str(b, ",");
        if (!e) e = hk_buf_append(b, vector_json + 1, n - 2);
    }
    if (!e)
        e = hk_buf_appendf(
            b,
            ",\"source\":{\"name\":\"hakgal\",\"version\":\"%s\","
            "\"seq\":%llu,\"event\":%llu,\"fact_id\":%llu},"
            "\"transaction\":{\"id\":\"%llu\"},\"actor\":",
            hk_version(), (unsigned long long)c->audit_seq,
            (unsigned long long)seq, (unsigned long long)c->id,
            (unsigned long long)(hk_store_last_commit(s) + 1));
    if (!e) e = hk_buf_append_json_string(b, actor, strlen(actor));
    if (!e)
        e = hk_buf_appendf(b, ",\"ts_ms\":%lld,\"ts_us\":%lld}",
                           (long long)(ts / 1000), (long long)ts);
    if (e) hk_error_set(err, e, "stream: cannot build the event");
    *ts_out = ts;
done:
    if (it) hk_audit_iter_close(it);
    hk_fact_release(&f);
    hk_buf_free(&after);
    return e;
}

/* ==== The hook ==== */

static hk_err on_change(hk_txn *t, const hks_change *c, void *ud, hk_error *err)
{
    hk_store *s = ud;
    hks_db outbox, meta;
    uint64_t next;
    hk_err e;
    if (c->op == HKS_OP_IMPORT) return HK_OK; /* its facts came one by one */
    if ((e = hks_db_find(s, HKST_OUTBOX_DB, &outbox, err)) ||
        (e = hks_db_find(s, HKST_META_DB, &meta, err)) ||
        (e = meta_get(t, meta, "next", &next, err)))
        return e;
    if (next == 0) next = 1;
    hk_buf b = HK_BUF_INIT;
    uint8_t head[16], key[8];
    memset(head, 0, sizeof head);
    put_u64(key, next);
    if ((e = hk_buf_append(&b, head, 16))) {
        e = hk_error_set(err, e, "stream: out of memory");
        goto done;
    }
    int64_t ts = 0;
    if ((e = envelope(t, s, c, next, &b, &ts, err))) goto done;
    put_u64((uint8_t *)b.data, c->id);
    put_u64((uint8_t *)b.data + 8, (uint64_t)ts);
    hks_val k = {key, 8}, v = {b.data, b.len};
    if ((e = hks_put(t, outbox, k, v, HKS_PUT_APPEND, err)) ||
        (e = meta_put(t, meta, "next", next + 1, err)))
        goto done;
done:
    hk_buf_free(&b);
    return e;
}

static hk_err hook_add(hk_store *s, hk_error *err)
{
    hks_hook h = {HOOK_NAME,
                  HKS_EV_ADD | HKS_EV_DELETE | HKS_EV_UPDATE | HKS_EV_META |
                      HKS_EV_BULK_ADD | HKS_EV_VECTOR | HKS_EV_RULE,
                  on_change, NULL, s};
    hk_err e = hks_hook_add(s, &h, err);
    if (e == HK_ERR_EXISTS) {
        hk_error_clear(err);
        return HK_OK;
    }
    return e;
}

hk_err hkst_outbox_enable(hk_store *s, hk_error *err)
{
    hks_db db;
    hk_err e;
    if ((e = hks_db_register(s, HKST_OUTBOX_DB, 0, &db, err)) ||
        (e = hks_db_register(s, HKST_META_DB, 0, &db, err)))
        return e;
    return hook_add(s, err);
}

hk_err hkst_outbox_attach(hk_store *s, hk_error *err)
{
    hks_db db;
    hk_err e = hks_db_find(s, HKST_OUTBOX_DB, &db, err);
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (e || (e = hks_db_find(s, HKST_META_DB, &db, err))) return e;
    return hook_add(s, err);
}

/* ==== Reading and removing ==== */

hk_err hkst_status_get(hk_store *s, hk_txn *t, hkst_status *out, hk_error *err)
{
    hks_db outbox, meta;
    hk_err e;
    memset(out, 0, sizeof *out);
    e = hks_db_find(s, HKST_OUTBOX_DB, &outbox, err);
    if (e == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (e || (e = hks_db_find(s, HKST_META_DB, &meta, err))) return e;
    out->enabled = true;
    uint64_t pub_time;
    if ((e = hks_db_entries(t, outbox, &out->backlog, err)) ||
        (e = meta_get(t, meta, "next", &out->next_event, err)) ||
        (e = meta_get(t, meta, "published", &out->published_event, err)) ||
        (e = meta_get(t, meta, "pub_time", &pub_time, err)))
        return e;
    if (out->next_event == 0) out->next_event = 1;
    out->published_us = (int64_t)pub_time;
    hks_cursor *c;
    hks_val k0 = {NULL, 0}, k, v;
    bool found;
    if ((e = hks_cursor_open(t, outbox, &c, err))) return e;
    e = hks_cursor_seek(c, k0, &k, &v, &found, err);
    if (!e && found && k.len == 8 && v.len >= 16) {
        out->oldest_event = get_u64(k.data);
        out->oldest_us = (int64_t)get_u64((const uint8_t *)v.data + 8);
    }
    hks_cursor_close(c);
    return e;
}

static hk_err time_or_null(hk_buf *b, int64_t us)
{
    if (!us) return hk_buf_append_str(b, "null");
    char text[32];
    hk_time_format(us, text);
    return hk_buf_appendf(b, "\"%s\"", text);
}

hk_err hkst_status_write_json(const hkst_status *st, hk_buf *out)
{
    hk_err e = hk_buf_appendf(
        out,
        "{\"enabled\":%s,\"backlog\":%llu,\"next_event\":%llu,"
        "\"oldest_event\":%llu,\"oldest\":",
        st->enabled ? "true" : "false", (unsigned long long)st->backlog,
        (unsigned long long)st->next_event,
        (unsigned long long)st->oldest_event);
    if (!e) e = time_or_null(out, st->oldest_us);
    if (!e)
        e = hk_buf_appendf(out, ",\"published_event\":%llu,\"published\":",
                           (unsigned long long)st->published_event);
    if (!e) e = time_or_null(out, st->published_us);
    if (!e) e = hk_buf_append_str(out, "}");
    return e;
}

hk_err hkst_outbox_next(hk_store *s, hk_txn *t, uint64_t *next, hk_error *err)
{
    hks_db meta;
    hk_err e = hks_db_find(s, HKST_META_DB, &meta, err);
    if (!e) e = meta_get(t, meta, "next", next, err);
    if (!e && *next == 0) *next = 1;
    return e;
}

hk_err hkst_outbox_read(hk_store *s, hk_txn *t, uint64_t after, uint64_t below,
                        size_t max, hkst_event *out, size_t *n, hk_buf *mem,
                        hk_error *err)
{
    hks_db outbox;
    hks_cursor *c = NULL;
    hk_err e;
    *n = 0;
    hk_buf_reset(mem);
    if ((e = hks_db_find(s, HKST_OUTBOX_DB, &outbox, err)) ||
        (e = hks_cursor_open(t, outbox, &c, err)))
        return e;
    uint8_t kb[8];
    put_u64(kb, after + 1);
    hks_val k0 = {kb, 8}, k, v;
    bool found;
    e = hks_cursor_seek(c, k0, &k, &v, &found, err);
    while (!e && found && *n < max) {
        if (k.len != 8 || v.len < 16) {
            e = hk_error_set(err, HK_ERR_CORRUPT, "stream.outbox: bad entry");
            break;
        }
        if (get_u64(k.data) >= below) break;
        out[*n].seq = get_u64(k.data);
        out[*n].fact = get_u64(v.data);
        out[*n].len = v.len - 16;
        if ((e = hk_buf_append(mem, (const char *)v.data + 16, v.len - 16))) {
            hk_error_set(err, e, "stream: out of memory");
            break;
        }
        (*n)++;
        e = hks_cursor_next(c, &k, &v, &found, err);
    }
    hks_cursor_close(c);
    /* texts point into mem only once it stopped growing; they lie
     * back to back */
    size_t off = 0;
    for (size_t i = 0; !e && i < *n; i++) {
        out[i].json = mem->data + off;
        off += out[i].len;
    }
    if (e) *n = 0;
    return e;
}

hk_err hkst_outbox_remove(hk_store *s, hk_txn *t, uint64_t last, hk_error *err)
{
    hks_db outbox, meta;
    hks_cursor *c = NULL;
    hk_err e;
    if ((e = hks_db_find(s, HKST_OUTBOX_DB, &outbox, err)) ||
        (e = hks_db_find(s, HKST_META_DB, &meta, err)))
        return e;
    /* collect first (a cursor must not see its own deletes), bounded */
    for (;;) {
        uint8_t keys[256][8];
        size_t n = 0;
        hks_val k0 = {NULL, 0}, k, v;
        bool found;
        if ((e = hks_cursor_open(t, outbox, &c, err))) return e;
        e = hks_cursor_seek(c, k0, &k, &v, &found, err);
        while (!e && found && n < 256 && k.len == 8 &&
               get_u64(k.data) <= last) {
            memcpy(keys[n++], k.data, 8);
            e = hks_cursor_next(c, &k, &v, &found, err);
        }
        hks_cursor_close(c);
        if (e) return e;
        for (size_t i = 0; i < n; i++) {
            hks_val dk = {keys[i], 8};
            if ((e = hks_del(t, outbox, dk, NULL, err))) return e;
        }
        if (n < 256) break;
    }
    uint64_t prev;
    if ((e = meta_get(t, meta, "published", &prev, err))) return e;
    if (last > prev &&
        ((e = meta_put(t, meta, "published", last, err)) ||
         (e = meta_put(t, meta, "pub_time", (uint64_t)hk_now_us(), err))))
        return e;
    return HK_OK;
}

/* ==== URLs ==== */

hk_err hkst_url_parse(const char *text, hkst_url *out, hk_error *err)
{
    static const char scheme[] = "kafka://";
    memset(out, 0, sizeof *out);
    hk_err e = HK_OK;
    if (!text || strncmp(text, scheme, sizeof scheme - 1) != 0) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "stream URL must be kafka://BROKERS/TOPIC");
        goto fail;
    }
    const char *b = text + sizeof scheme - 1;
    const char *slash = strchr(b, '/');
    if (!slash || slash == b) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "stream URL %s: no brokers before /TOPIC", text);
        goto fail;
    }
    size_t nb = (size_t)(slash - b), nt = strlen(slash + 1);
    if (nb >= sizeof out->brokers) {
        e = hk_error_set(err, HK_ERR_INVALID, "stream URL: brokers too long");
        goto fail;
    }
    for (size_t i = 0; i < nb; i++)
        if (b[i] == ' ' || b[i] == '\t') {
            e = hk_error_set(err, HK_ERR_INVALID,
                             "stream URL: space in the broker list");
            goto fail;
        }
    if (nt == 0 || nt > 249) {
        e = hk_error_set(err, HK_ERR_INVALID,
                         "stream URL %s: topic must be 1..249 characters",
                         text);
        goto fail;
    }
    for (size_t i = 0; i < nt; i++) {
        char ch = slash[1 + i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-')) {
            e = hk_error_set(err, HK_ERR_INVALID,
                             "stream URL: topic character %zu (%c) is not "
                             "one of A-Z a-z 0-9 . _ -",
                             i + 1, ch);
            goto fail;
        }
    }
    memcpy(out->brokers, b, nb);
    memcpy(out->topic, slash + 1, nt);
    return HK_OK;
fail:
    if (err) snprintf(err->field, sizeof err->field, "url");
    return e;
}
