/*
 * rules_store.c — rules kept in the KB (see rules.h, "Storage").
 *
 * One record per rule in rules.rule, keyed by its name: a version that
 * starts at 1 and grows with every change (text replaced, enabled,
 * disabled), the enabled flag, creation and change times, and the text.
 * Every change appends an audit entry "rule" (store/rule_audit.h) in the
 * same write transaction, with the rule's JSON before and after, so the
 * audit chain holds the full history of every rule and its versions.
 *
 * A change that would make the enabled rules unstratifiable is refused
 * before anything is written.
 *
 * Threads: as the hk_txn passed (one per thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "reason/rules.h"
#include "store/rule_audit.h"

#define REC_HDR 21 /* u32 version, u8 enabled, i64 created, i64 updated */

/* ==== Records ==== */

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_i64le(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}
static uint32_t get_u32le(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static int64_t get_i64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static hk_err decode(const char *name, size_t name_len, hks_val v,
                     hkr_info *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (v.len < REC_HDR || name_len > HKR_NAME_MAX)
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "rule record of %zu bytes is damaged", v.len);
    const uint8_t *p = v.data;
    memcpy(out->name, name, name_len);
    out->name[name_len] = '\0';
    out->version = get_u32le(p);
    out->enabled = p[4] != 0;
    out->created_us = get_i64le(p + 5);
    out->updated_us = get_i64le(p + 13);
    out->text = hk_strndup((const char *)p + REC_HDR, v.len - REC_HDR);
    if (!out->text) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

static hk_err put_rec(hk_txn *t, const hkr_dbs *d, const hkr_info *r,
                      hk_error *err)
{
    size_t tl = strlen(r->text);
    uint8_t *buf = hk_malloc(REC_HDR + tl);
    if (!buf) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    put_u32le(buf, r->version);
    buf[4] = r->enabled ? 1 : 0;
    put_i64le(buf + 5, r->created_us);
    put_i64le(buf + 13, r->updated_us);
    memcpy(buf + REC_HDR, r->text, tl);
    hks_val k = {r->name, strlen(r->name)}, v = {buf, REC_HDR + tl};
    hk_err rc = hks_put(t, d->rule, k, v, 0, err);
    hk_free(buf);
    return rc;
}

void hkr_info_free(hkr_info *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        hk_free(v[i].text);
    hk_free(v);
}

hk_err hkr_info_write_json(const hkr_info *r, hk_buf *b)
{
    char c[32], u[32];
    hk_time_format(r->created_us, c);
    hk_time_format(r->updated_us, u);
    hk_buf_append_str(b, "{\"name\":");
    hk_buf_append_json_string(b, r->name, strlen(r->name));
    hk_buf_appendf(b,
                   ",\"version\":%u,\"enabled\":%s,\"created\":\"%s\","
                   "\"updated\":\"%s\",\"rule\":",
                   r->version, r->enabled ? "true" : "false", c, u);
    hk_buf_append_json_string(b, r->text, strlen(r->text));
    return hk_buf_append_str(b, "}");
}

hk_err hkr_generation(hk_txn *t, const hkr_dbs *d, uint64_t *gen, hk_error *err)
{
    hks_val k = {"gen", 3}, v;
    *gen = 0;
    hk_err rc = hks_get(t, d->meta, k, &v, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (rc != HK_OK) return rc;
    if (v.len != 8)
        return hk_error_set(err, HK_ERR_CORRUPT, "damaged rule generation");
    const uint8_t *p = v.data;
    *gen = (uint64_t)get_i64le(p);
    return HK_OK;
}

static hk_err bump_generation(hk_txn *t, const hkr_dbs *d, hk_error *err)
{
    uint64_t gen = 0;
    hk_err rc = hkr_generation(t, d, &gen, err);
    if (rc != HK_OK) return rc;
    uint8_t b[8];
    put_i64le(b, (int64_t)(gen + 1));
    hks_val k = {"gen", 3}, v = {b, 8};
    return hks_put(t, d->meta, k, v, 0, err);
}

/* Audit entry for a change from before to after (either NULL), and a new
 * rule generation. */
static hk_err audit(hk_txn *t, const hkr_dbs *d, const hkr_info *before,
                    const hkr_info *after, hk_error *err)
{
    hk_buf bb = HK_BUF_INIT, ab = HK_BUF_INIT;
    if (before) hkr_info_write_json(before, &bb);
    if (after) hkr_info_write_json(after, &ab);
    hk_err rc;
    if ((before && !bb.data) || (after && !ab.data))
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    else
        rc = hks_rule_audit(t, before ? bb.data : NULL, after ? ab.data : NULL,
                            err);
    if (rc == HK_OK) rc = bump_generation(t, d, err);
    hk_buf_free(&bb);
    hk_buf_free(&ab);
    return rc;
}

/* ==== Opening ==== */

hk_err hkr_open(hk_store *s, hkr_dbs *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    /* known to the KB: no registration (which needs a writable handle) */
    if (hks_db_find(s, "rules.rule", &out->rule, NULL) == HK_OK &&
        hks_db_find(s, "rules.derived", &out->derived, NULL) == HK_OK &&
        hks_db_find(s, "rules.meta", &out->meta, NULL) == HK_OK)
        return HK_OK;
    hk_err rc = hks_db_register(s, "rules.rule", 0, &out->rule, err);
    if (rc == HK_OK)
        rc = hks_db_register(s, "rules.derived", 0, &out->derived, err);
    if (rc == HK_OK) rc = hks_db_register(s, "rules.meta", 0, &out->meta, err);
    if (rc == HK_ERR_NOT_FOUND)
        hk_error_set(err, HK_ERR_NOT_FOUND, "no rules in this KB");
    return rc;
}

/* ==== Reading ==== */

hk_err hkr_get(hk_txn *t, const hkr_dbs *d, const char *name, hkr_info *out,
               hk_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nl = strlen(name);
    if (nl == 0 || nl > HKR_NAME_MAX)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no rule named '%s'", name);
    hks_val k = {name, nl}, v;
    hk_err rc = hks_get(t, d->rule, k, &v, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_set(err, HK_ERR_NOT_FOUND, "no rule named '%s'", name);
        if (err) snprintf(err->field, sizeof err->field, "name");
        return rc;
    }
    if (rc != HK_OK) return rc;
    return decode(name, nl, v, out, err);
}

hk_err hkr_list(hk_txn *t, const hkr_dbs *d, hkr_info **out, size_t *n,
                hk_error *err)
{
    *out = NULL;
    *n = 0;
    hks_cursor *c = NULL;
    hk_err rc = hks_cursor_open(t, d->rule, &c, err);
    if (rc != HK_OK) return rc;
    size_t cap = 0;
    hkr_info *v = NULL;
    for (;;) {
        hks_val k, val;
        bool found = false;
        rc = hks_cursor_next(c, &k, &val, &found, err);
        if (rc != HK_OK || !found) break;
        if (*n >= HKR_RULES_MAX) {
            rc = hk_error_set(err, HK_ERR_LIMIT, "more than %u rules",
                              HKR_RULES_MAX);
            break;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hkr_info *nv = hk_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        rc = decode(k.data, k.len, val, &v[*n], err);
        if (rc != HK_OK) break;
        (*n)++;
    }
    hks_cursor_close(c);
    if (rc != HK_OK) {
        hkr_info_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return HK_OK;
}

void hkr_rules_free(hkr_rule **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        hkr_rule_free(v[i]);
    hk_free(v);
}

/* Parses the enabled rules of list (skipping skip, adding extra when
 * non-NULL), with the ontology's rules when t is non-NULL, and
 * stratifies them. */
static hk_err load_from(hk_txn *t, const hkr_info *list, size_t n,
                        const char *skip, hkr_rule *extra, hkr_rule ***out,
                        size_t *n_out, hk_error *err)
{
    *out = NULL;
    *n_out = 0;
    hkr_rule **onto = NULL;
    size_t n_onto = 0;
    if (t) {
        hk_err orc = hkr_ontology(t, &onto, &n_onto, err);
        if (orc != HK_OK) return orc;
    }
    hkr_rule **v = hk_calloc(n + n_onto + 1, sizeof *v);
    if (!v) {
        hkr_rules_free(onto, n_onto);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n_onto; i++)
        v[m++] = onto[i];
    hk_free(onto);
    hk_err rc = HK_OK;
    for (size_t i = 0; i < n; i++) {
        if (!list[i].enabled) continue;
        if (skip && strcmp(list[i].name, skip) == 0) continue;
        rc = hkr_parse(list[i].text, strlen(list[i].text), &v[m], err);
        if (rc != HK_OK) {
            hk_error_set(err, HK_ERR_CORRUPT,
                         "stored rule '%s' no longer "
                         "parses",
                         list[i].name);
            rc = HK_ERR_CORRUPT;
            break;
        }
        snprintf(v[m]->name, sizeof v[m]->name, "%s", list[i].name);
        m++;
    }
    if (rc == HK_OK && extra) v[m++] = extra;
    if (rc == HK_OK) rc = hkr_stratify(v, m, err);
    if (extra && m > 0 && v[m - 1] == extra) v[--m] = NULL; /* not ours */
    if (rc != HK_OK) {
        hkr_rules_free(v, m);
        return rc;
    }
    *out = v;
    *n_out = m;
    return HK_OK;
}

hk_err hkr_load(hk_txn *t, const hkr_dbs *d, hkr_rule ***out, size_t *n,
                hk_error *err)
{
    hkr_info *list = NULL;
    size_t nl = 0;
    hk_err rc = hkr_list(t, d, &list, &nl, err);
    if (rc != HK_OK) return rc;
    rc = load_from(NULL, list, nl, NULL, NULL, out, n, err);
    hkr_info_free(list, nl);
    return rc;
}

hk_err hkr_load_all(hk_txn *t, const hkr_dbs *d, hkr_rule ***out, size_t *n,
                    hk_error *err)
{
    hkr_info *list = NULL;
    size_t nl = 0;
    hk_err rc = hkr_list(t, d, &list, &nl, err);
    if (rc != HK_OK) return rc;
    rc = load_from(t, list, nl, NULL, NULL, out, n, err);
    hkr_info_free(list, nl);
    return rc;
}

/* Checks that the enabled rules, with `name` replaced by r (NULL: with
 * it removed), stay stratified. */
static hk_err check_program(hk_txn *t, const hkr_dbs *d, const char *name,
                            hkr_rule *r, hk_error *err)
{
    hkr_info *list = NULL;
    size_t nl = 0;
    hk_err rc = hkr_list(t, d, &list, &nl, err);
    if (rc != HK_OK) return rc;
    hkr_rule **v = NULL;
    size_t m = 0;
    rc = load_from(t, list, nl, name, r, &v, &m, err);
    hkr_rules_free(v, m);
    hkr_info_free(list, nl);
    return rc;
}

/* ==== Changes ==== */

static hk_err bad_name(const char *name, hk_error *err)
{
    hk_error_set(err, HK_ERR_INVALID,
                 "invalid rule name '%.80s' — 1..%u letters, digits, '_', "
                 "'-' or '.', starting with a letter or '_'",
                 name, HKR_NAME_MAX);
    if (err) snprintf(err->field, sizeof err->field, "name");
    return HK_ERR_INVALID;
}

static void info_copy_shallow(hkr_info *out, const hkr_info *in)
{
    if (!out) return;
    *out = *in;
    out->text = hk_strdup(in->text);
}

hk_err hkr_add(hk_txn *t, const hkr_dbs *d, const char *name, const char *text,
               hkr_info *out, hk_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    hkr_rule *r = NULL;
    hk_err rc = hkr_parse(text, strlen(text), &r, err);
    if (rc != HK_OK) {
        if (err && !err->field[0])
            snprintf(err->field, sizeof err->field, "rule");
        return rc;
    }
    char gen[HKR_NAME_MAX + 1];
    if (!name || !name[0]) {
        /* Pred_1, Pred_2, ...: the first free one */
        for (uint32_t k = 1; k <= HKR_RULES_MAX + 1; k++) {
            int w = snprintf(gen, sizeof gen, "%.50s_%u", r->head_pred, k);
            if (w < 0 || (size_t)w >= sizeof gen || !hkr_name_valid(gen)) {
                snprintf(gen, sizeof gen, "rule_%u", k);
            }
            hks_val key = {gen, strlen(gen)}, v;
            rc = hks_get(t, d->rule, key, &v, err);
            if (rc == HK_ERR_NOT_FOUND) {
                hk_error_clear(err);
                break;
            }
            if (rc != HK_OK) goto done;
        }
        name = gen;
    }
    if (!hkr_name_valid(name)) {
        rc = bad_name(name, err);
        goto done;
    }
    snprintf(r->name, sizeof r->name, "%s", name);
    hkr_info old;
    bool had = false;
    rc = hkr_get(t, d, name, &old, err);
    if (rc == HK_OK)
        had = true;
    else if (rc == HK_ERR_NOT_FOUND)
        hk_error_clear(err);
    else
        goto done;
    if (had && strcmp(old.text, r->text) == 0) {
        /* the same rule again: nothing changes */
        info_copy_shallow(out, &old);
        hk_free(old.text);
        rc = HK_OK;
        goto done;
    }
    hkr_info now;
    memset(&now, 0, sizeof now);
    snprintf(now.name, sizeof now.name, "%s", name);
    now.text = r->text;
    now.enabled = had ? old.enabled : true;
    now.version = had ? old.version + 1 : 1;
    /* the txn's clock: replicas applying one log agree (kafka_repl.c) */
    int64_t ts = hks_txn_now(t);
    now.created_us = had ? old.created_us : ts;
    now.updated_us = ts;
    if (now.enabled) rc = check_program(t, d, name, r, err);
    if (rc == HK_OK) rc = put_rec(t, d, &now, err);
    if (rc == HK_OK) rc = audit(t, d, had ? &old : NULL, &now, err);
    if (rc == HK_OK) info_copy_shallow(out, &now);
    if (had) hk_free(old.text);
done:
    hkr_rule_free(r);
    return rc;
}

hk_err hkr_set_enabled(hk_txn *t, const hkr_dbs *d, const char *name,
                       bool enabled, hkr_info *out, hk_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    hkr_info old;
    hk_err rc = hkr_get(t, d, name, &old, err);
    if (rc != HK_OK) return rc;
    if (old.enabled == enabled) {
        info_copy_shallow(out, &old);
        hk_free(old.text);
        return HK_OK;
    }
    hkr_info now = old;
    now.enabled = enabled;
    now.version = old.version + 1;
    now.updated_us = hks_txn_now(t);
    if (enabled) {
        hkr_rule *r = NULL;
        rc = hkr_parse(old.text, strlen(old.text), &r, err);
        if (rc == HK_OK) {
            snprintf(r->name, sizeof r->name, "%s", name);
            rc = check_program(t, d, name, r, err);
        }
        hkr_rule_free(r);
    }
    if (rc == HK_OK) rc = put_rec(t, d, &now, err);
    if (rc == HK_OK) rc = audit(t, d, &old, &now, err);
    if (rc == HK_OK) info_copy_shallow(out, &now);
    hk_free(old.text);
    return rc;
}

hk_err hkr_delete(hk_txn *t, const hkr_dbs *d, const char *name, hkr_info *out,
                  hk_error *err)
{
    if (out) memset(out, 0, sizeof *out);
    hkr_info old;
    hk_err rc = hkr_get(t, d, name, &old, err);
    if (rc != HK_OK) return rc;
    hks_val k = {name, strlen(name)};
    rc = hks_del(t, d->rule, k, NULL, err);
    if (rc == HK_OK) rc = audit(t, d, &old, NULL, err);
    if (rc == HK_OK && out) {
        *out = old;
        return HK_OK;
    }
    hk_free(old.text);
    return rc;
}
