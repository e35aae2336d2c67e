/*
 * llm_review.c — the review queue and the model switch (llm.h, "Review
 * queue and switches").
 *
 * ==== Databases ====
 *   llm.review  queue id (8 bytes, big-endian) -> proposal as JSON text
 *               {"statement", "status", "model", "prompt_hash", "origin",
 *                "source", "span", "span_start", "span_end", "created",
 *                "reviewer", "decided", "final_statement", "fact", "note"}
 *   llm.meta    "review.next" -> next queue id (8 bytes, big-endian)
 *               "models"      -> "on" / "off"
 *               "kb"          -> "read-only" / "writable"
 * Both are module databases (store.h): written in the caller's write
 * transaction, covered by backup, compaction and check, so the queue
 * survives restarts and travels with the KB.
 *
 * A proposal never touches the facts. Only hk_llm_decide_apply with
 * approve adds one, in the reviewer's transaction (its actor is the audit
 * actor of the add), with source "review:<id>" and the proposal's
 * provenance in the fact's context. Decisions and switches write an audit
 * entry of their own (store/llm_audit.h).
 *
 * Apply steps read their state from the transaction each time, so running
 * one twice (a group-commit retry) gives the same result.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "llm/llm.h"
#include "store/llm_audit.h"
#include "store/store.h"

#define DB_REVIEW "llm.review"
#define DB_META "llm.meta"
#define KEY_NEXT "review.next"
#define KEY_MODELS "models"
#define KEY_KB "kb"
#define LIST_MAX 10000u /* proposals in one page */

const char *hk_llm_status_name(hk_llm_status s)
{
    return s == HK_LLM_APPROVED   ? "approved"
           : s == HK_LLM_REJECTED ? "rejected"
                                  : "pending";
}

bool hk_llm_status_parse(const char *s, hk_llm_status *out)
{
    if (!strcmp(s, "pending"))
        *out = HK_LLM_PENDING;
    else if (!strcmp(s, "approved"))
        *out = HK_LLM_APPROVED;
    else if (!strcmp(s, "rejected"))
        *out = HK_LLM_REJECTED;
    else
        return false;
    return true;
}

/* Whether the switch `key` of llm.meta holds `word`: false while it was
 * never set, so that a KB without the key keeps the default. */
static hk_err meta_is(hk_txn *t, hks_db meta, const char *key, const char *word,
                      bool *is, hk_error *err)
{
    *is = false;
    hks_val v;
    hk_err rc = hks_get(t, meta, (hks_val){key, strlen(key)}, &v, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc) return rc;
    *is = v.len == strlen(word) && !memcmp(v.data, word, v.len);
    return HK_OK;
}

/* The change hook: refuses every fact change while the KB is read-only
 * (HK_ERR_BUSY: REST 503, exit code 4 — the KB is unavailable for writes,
 * not broken). ud is the llm.meta handle. One lookup per change. */
static hk_err guard(hk_txn *t, const hks_change *c, void *ud, hk_error *err)
{
    (void)c;
    bool ro;
    hk_err rc =
        meta_is(t, (hks_db)(uintptr_t)ud, KEY_KB, "read-only", &ro, err);
    if (rc) return rc;
    if (ro)
        return hk_error_set(err, HK_ERR_BUSY,
                            "the knowledge base is read-only (switched by an "
                            "administrator; `hakgal llm writable` or PUT "
                            "/v2/admin/llm {\"kb\": \"writable\"} lifts it)");
    return HK_OK;
}

hk_err hk_llm_attach(hk_store *s, hk_error *err)
{
    hks_db db, meta;
    hk_err rc = hks_db_register(s, DB_REVIEW, 0, &db, err);
    if (!rc) rc = hks_db_register(s, DB_META, 0, &meta, err);
    if (rc) return rc;
    hks_hook h = {"llm.read_only", HKS_EV_ALL & ~HKS_EV_BULK_ADD, guard, NULL,
                  (void *)(uintptr_t)meta};
    rc = hks_hook_add(s, &h, err);
    if (rc == HK_ERR_EXISTS) {
        hk_error_clear(err);
        rc = HK_OK;
    }
    return rc;
}

/* Handles; HK_ERR_NOT_FOUND (cleared into *absent) when the KB has none. */
static hk_err dbs(hk_store *s, hks_db *review, hks_db *meta, bool *absent,
                  hk_error *err)
{
    *absent = false;
    hk_err rc = hks_db_find(s, DB_REVIEW, review, err);
    if (!rc) rc = hks_db_find(s, DB_META, meta, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        *absent = true;
        return HK_OK;
    }
    return rc;
}

static void put_be64(uint8_t k[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        k[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *k)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | k[i];
    return v;
}

/* ==== Proposal <-> JSON ==== */

void hk_llm_proposal_release(hk_llm_proposal *p)
{
    hk_free(p->statement);
    hk_free(p->model);
    hk_free(p->prompt_hash);
    hk_free(p->origin);
    hk_free(p->source);
    hk_free(p->span);
    hk_free(p->reviewer);
    hk_free(p->final_statement);
    memset(p, 0, sizeof *p);
}

void hk_llm_proposals_free(hk_llm_proposal *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        hk_llm_proposal_release(&v[i]);
    hk_free(v);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *encode(const hk_llm_proposal *p, const char *note)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o, "
        "s:I, s:o}",
        "statement", p->statement, "status", hk_llm_status_name(p->status),
        "model", str_or_null(p->model), "prompt_hash",
        str_or_null(p->prompt_hash), "origin", str_or_null(p->origin), "source",
        str_or_null(p->source), "span", str_or_null(p->span), "span_start",
        (json_int_t)p->span_start, "span_end", (json_int_t)p->span_end,
        "created", (json_int_t)p->created_us, "reviewer",
        str_or_null(p->reviewer), "decided", (json_int_t)p->decided_us,
        "final_statement", str_or_null(p->final_statement), "fact",
        (json_int_t)p->fact, "note", str_or_null(note));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static bool dup_field(json_t *o, const char *k, char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!json_is_string(v)) return true;
    return (*out = hk_strdup(json_string_value(v))) != NULL;
}

static uint64_t int_field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0
               ? (uint64_t)json_integer_value(v)
               : 0;
}

static hk_err decode(uint64_t id, hks_val v, hk_llm_proposal *p, hk_error *err)
{
    memset(p, 0, sizeof *p);
    json_error_t je;
    json_t *o = json_loadb(v.data, v.len, 0, &je);
    json_t *st = json_object_get(o, "status");
    if (!json_is_object(o) || !json_is_string(st) ||
        !json_is_string(json_object_get(o, "statement"))) {
        json_decref(o);
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "review queue entry %llu is damaged",
                            (unsigned long long)id);
    }
    p->id = id;
    if (!hk_llm_status_parse(json_string_value(st), &p->status))
        p->status = HK_LLM_PENDING;
    bool ok = dup_field(o, "statement", &p->statement) &&
              dup_field(o, "model", &p->model) &&
              dup_field(o, "prompt_hash", &p->prompt_hash) &&
              dup_field(o, "origin", &p->origin) &&
              dup_field(o, "source", &p->source) &&
              dup_field(o, "span", &p->span) &&
              dup_field(o, "reviewer", &p->reviewer) &&
              dup_field(o, "final_statement", &p->final_statement);
    p->span_start = int_field(o, "span_start");
    p->span_end = int_field(o, "span_end");
    p->created_us = (int64_t)int_field(o, "created");
    p->decided_us = (int64_t)int_field(o, "decided");
    p->fact = int_field(o, "fact");
    json_decref(o);
    if (!ok) {
        hk_llm_proposal_release(p);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

/* ==== Enqueue ==== */

hk_err hk_llm_enqueue_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_llm_enqueue_arg *a = arg;
    hks_db review, meta;
    bool absent;
    hk_err rc = dbs(a->s, &review, &meta, &absent, err);
    if (rc) return rc;
    if (absent)
        return hk_error_set(err, HK_ERR_STATE,
                            "the review queue is not attached (open the KB "
                            "for writing)");
    uint64_t next = 1;
    hks_val nk = {KEY_NEXT, strlen(KEY_NEXT)}, nv;
    rc = hks_get(t, meta, nk, &nv, err);
    if (rc == HK_OK && nv.len == 8)
        next = get_be64(nv.data);
    else if (rc == HK_ERR_NOT_FOUND)
        hk_error_clear(err);
    else if (rc)
        return rc;
    int64_t now = hk_now_us();
    for (size_t i = 0; i < a->n; i++) {
        hk_llm_proposal p = a->in[i];
        p.id = next;
        p.status = HK_LLM_PENDING;
        p.created_us = now;
        p.reviewer = p.final_statement = NULL;
        p.decided_us = 0;
        p.fact = 0;
        char *text = encode(&p, NULL);
        if (!text) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        uint8_t k[8];
        put_be64(k, next);
        rc = hks_put(t, review, (hks_val){k, 8}, (hks_val){text, strlen(text)},
                     HKS_PUT_APPEND, err);
        free(text);
        if (rc) return rc;
        a->ids[i] = next++;
    }
    uint8_t v[8];
    put_be64(v, next);
    return hks_put(t, meta, nk, (hks_val){v, 8}, 0, err);
}

/* ==== Reading ==== */

hk_err hk_llm_review_get(hk_store *s, hk_txn *t, uint64_t id,
                         hk_llm_proposal *out, hk_error *err)
{
    hks_db review, meta;
    bool absent;
    hk_err rc = dbs(s, &review, &meta, &absent, err);
    if (rc) return rc;
    uint8_t k[8];
    put_be64(k, id);
    hks_val v;
    if (absent ||
        (rc = hks_get(t, review, (hks_val){k, 8}, &v, err)) == HK_ERR_NOT_FOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no proposal %llu",
                            (unsigned long long)id);
    if (rc) return rc;
    return decode(id, v, out, err);
}

hk_err hk_llm_review_list(hk_store *s, hk_txn *t, bool any_status,
                          hk_llm_status status, uint64_t after, size_t limit,
                          hk_llm_proposal **out, size_t *n, hk_error *err)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > LIST_MAX) limit = LIST_MAX;
    hks_db review, meta;
    bool absent;
    hk_err rc = dbs(s, &review, &meta, &absent, err);
    if (rc || absent) return rc;
    hk_llm_proposal *v = hk_calloc(limit, sizeof *v);
    if (!v) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hks_cursor *c = NULL;
    rc = hks_cursor_open(t, review, &c, err);
    uint8_t k0[8];
    put_be64(k0, after + 1);
    hks_val k, val;
    bool found = false;
    if (!rc) rc = hks_cursor_seek(c, (hks_val){k0, 8}, &k, &val, &found, err);
    while (!rc && found && *n < limit) {
        if (k.len == 8) {
            hk_llm_proposal p;
            if ((rc = decode(get_be64(k.data), val, &p, err))) break;
            if (any_status || p.status == status)
                v[(*n)++] = p;
            else
                hk_llm_proposal_release(&p);
        }
        rc = hks_cursor_next(c, &k, &val, &found, err);
    }
    hks_cursor_close(c);
    if (rc) {
        hk_llm_proposals_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return HK_OK;
}

/* ==== Decisions ==== */

/* The context JSON of an approved fact: its provenance. */
static char *provenance(const hk_llm_proposal *p, const char *reviewer,
                        bool edited)
{
    json_t *o = json_pack(
        "{s:{s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:s, s:o}}", "review",
        "proposal", (json_int_t)p->id, "model", str_or_null(p->model),
        "prompt_hash", str_or_null(p->prompt_hash), "origin",
        str_or_null(p->origin), "document", str_or_null(p->source), "span",
        str_or_null(p->span), "span_start", (json_int_t)p->span_start,
        "span_end", (json_int_t)p->span_end, "reviewer", reviewer, "proposed",
        edited ? json_string(p->statement) : json_null());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

hk_err hk_llm_decide_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_llm_decide_arg *a = arg;
    a->fact = 0;
    a->created = false;
    hks_db review, meta;
    bool absent;
    hk_err rc = dbs(a->s, &review, &meta, &absent, err);
    if (rc) return rc;
    if (absent)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no proposal %llu",
                            (unsigned long long)a->id);
    hk_llm_proposal p;
    if ((rc = hk_llm_review_get(a->s, t, a->id, &p, err))) return rc;
    hk_statement st;
    memset(&st, 0, sizeof st);
    char *text = NULL, *ctx = NULL, *audit = NULL;
    hk_buf canon = HK_BUF_INIT;
    if (p.status != HK_LLM_PENDING) {
        rc = hk_error_set(err, HK_ERR_EXISTS, "proposal %llu is already %s",
                          (unsigned long long)a->id,
                          hk_llm_status_name(p.status));
        goto out;
    }
    const char *reviewer = a->reviewer ? a->reviewer : "local";
    if (a->approve) {
        const char *src = a->edit ? a->edit : p.statement;
        if ((rc = hk_statement_parse(src, strlen(src), &st, err))) {
            snprintf(err->field, sizeof err->field, "statement");
            goto out;
        }
        if ((rc = hk_statement_format(&st, &canon))) goto nomem;
        bool edited = strcmp(canon.data, p.statement) != 0;
        if (!(ctx = provenance(&p, reviewer, edited))) goto nomem;
        char source[64];
        snprintf(source, sizeof source, "review:%llu",
                 (unsigned long long)p.id);
        hk_fact_meta m;
        memset(&m, 0, sizeof m);
        m.fields = HK_META_SOURCE | HK_META_CONTEXT;
        m.source = source;
        m.context_json = ctx;
        if ((rc = hk_store_add(t, &st, &m, &a->fact, &a->created, err)))
            goto out;
        p.status = HK_LLM_APPROVED;
        p.fact = a->fact;
        if (edited && !(p.final_statement = hk_strdup(canon.data))) goto nomem;
    } else {
        p.status = HK_LLM_REJECTED;
    }
    hk_free(p.reviewer);
    if (!(p.reviewer = hk_strdup(reviewer))) goto nomem;
    p.decided_us = hk_now_us();
    if (!(text = encode(&p, a->note))) goto nomem;
    uint8_t k[8];
    put_be64(k, p.id);
    if ((rc = hks_put(t, review, (hks_val){k, 8}, (hks_val){text, strlen(text)},
                      0, err)))
        goto out;
    json_t *au =
        json_pack("{s:I, s:s, s:s, s:o, s:o}", "proposal", (json_int_t)p.id,
                  "decision", a->approve ? "approved" : "rejected", "statement",
                  p.final_statement ? p.final_statement : p.statement, "model",
                  str_or_null(p.model), "note", str_or_null(a->note));
    audit = au ? json_dumps(au, JSON_COMPACT) : NULL;
    json_decref(au);
    if (!audit) goto nomem;
    rc = hks_llm_audit(t, "review", a->fact, audit, err);
    goto out;
nomem:
    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
out:
    hk_statement_release(&st);
    hk_buf_free(&canon);
    free(text);
    free(audit);
    free(ctx);
    hk_llm_proposal_release(&p);
    return rc;
}

/* ==== Switches ==== */

/* llm.meta of a KB opened for writing; `name` says which switch in the
 * error when it is not attached. */
static hk_err switch_meta(hk_store *s, const char *name, hks_db *meta,
                          hk_error *err)
{
    hks_db review;
    bool absent;
    hk_err rc = dbs(s, &review, meta, &absent, err);
    if (rc) return rc;
    if (absent)
        return hk_error_set(err, HK_ERR_STATE,
                            "the %s switch is not attached (open the KB for "
                            "writing)",
                            name);
    return HK_OK;
}

/* Sets switch `key` to `v` and audits {"<key>":"<v>","was":"<was>"}. */
static hk_err switch_put(hk_txn *t, hks_db meta, const char *key, const char *v,
                         const char *was, hk_error *err)
{
    hk_err rc = hks_put(t, meta, (hks_val){key, strlen(key)},
                        (hks_val){v, strlen(v)}, 0, err);
    if (rc) return rc;
    char text[96];
    snprintf(text, sizeof text, "{\"%s\":\"%s\",\"was\":\"%s\"}", key, v, was);
    return hks_llm_audit(t, "control", 0, text, err);
}

/* A KB without llm.meta has both switches at their defaults. */
static hk_err switch_is(hk_store *s, hk_txn *t, const char *key,
                        const char *word, bool *is, hk_error *err)
{
    *is = false;
    hks_db review, meta;
    bool absent;
    hk_err rc = dbs(s, &review, &meta, &absent, err);
    if (rc || absent) return rc;
    return meta_is(t, meta, key, word, is, err);
}

hk_err hk_llm_models_enabled(hk_store *s, hk_txn *t, bool *on, hk_error *err)
{
    bool off;
    hk_err rc = switch_is(s, t, KEY_MODELS, "off", &off, err);
    *on = rc || !off;
    return rc;
}

hk_err hk_llm_switch_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_llm_switch_arg *a = arg;
    hks_db meta;
    hk_err rc = switch_meta(a->s, "model", &meta, err);
    if (!rc) rc = hk_llm_models_enabled(a->s, t, &a->was_on, err);
    if (rc) return rc;
    return switch_put(t, meta, KEY_MODELS, a->on ? "on" : "off",
                      a->was_on ? "on" : "off", err);
}

hk_err hk_llm_kb_read_only(hk_store *s, hk_txn *t, bool *ro, hk_error *err)
{
    return switch_is(s, t, KEY_KB, "read-only", ro, err);
}

hk_err hk_llm_kb_mode_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_llm_kb_mode_arg *a = arg;
    hks_db meta;
    hk_err rc = switch_meta(a->s, "KB", &meta, err);
    if (!rc) rc = hk_llm_kb_read_only(a->s, t, &a->was_ro, err);
    if (rc) return rc;
    return switch_put(t, meta, KEY_KB, a->read_only ? "read-only" : "writable",
                      a->was_ro ? "read-only" : "writable", err);
}
