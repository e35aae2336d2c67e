/*
 * digest.c — `hakgal digest`: an order-independent digest of a KB's
 * content and its audit head, so that operators and tests can show that
 * two KBs (two nodes fed the same changes) hold the same facts.
 *
 * Content digest: every fact contributes an element hash, SHA-256 of its
 * canonical statement and metadata (confidence as %.17g, source, tags in
 * stored order, context JSON; fields separated by 0x1f, absent ones
 * empty); ids and times are left out, so KBs that received the same facts
 * in another order agree. The digest is the sum of the element hashes as
 * four 64-bit lanes modulo 2^64 — the additive multiset hash that the
 * store's data digest uses over records (docs/STORAGE.md), here over the
 * id-free content. One read snapshot; a scan of every fact.
 *
 * Rules and vectors: two more sums of the same kind, one over the stored
 * records of the rule module (rules.rule: name, text, enabled, version,
 * times; rules.derived: the derived facts and their proofs; rules.meta:
 * strict mode and the change counter) and one over
 * those of the vector module (vector.spaces, vector.data: every vector's
 * bytes under its space and fact or entity id); each element is SHA-256
 * of database name, key and value. These are the records as stored, ids
 * and times included: nodes that applied the same log hold them
 * byte-identical (docs/STREAM.md), which is what the digest proves. A KB
 * without the module databases has zero sums.
 *
 * The audit head (sequence and hash of the newest entry) proves the
 * history: equal only when the same changes were applied in the same
 * order with the same times and actors.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/sha256.h"
#include "store/store.h"
#include "stream/stream.h"

static void lanes_add(const uint8_t h[32], uint64_t lanes[4])
{
    for (int l = 0; l < 4; l++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (v << 8) | h[l * 8 + i];
        lanes[l] += v;
    }
}

static void lanes_hex(const uint64_t lanes[4], char hex[65])
{
    uint8_t raw[32];
    for (int l = 0; l < 4; l++)
        for (int i = 0; i < 8; i++)
            raw[l * 8 + i] = (uint8_t)(lanes[l] >> (56 - 8 * i));
    hk_hex(raw, 32, hex);
}

static hk_err element(const hk_fact *f, hk_buf *b, uint64_t lanes[4])
{
    hk_buf_reset(b);
    hk_err e = hk_statement_format(&f->st, b);
    if (!e)
        e = hk_buf_appendf(b, "\x1f%.17g\x1f%s\x1f", f->confidence,
                           f->source ? f->source : "");
    for (uint32_t i = 0; !e && i < f->n_tags; i++)
        e = hk_buf_appendf(b, "%s\x1e", f->tags[i]);
    if (!e)
        e = hk_buf_appendf(b, "\x1f%s", f->context_json ? f->context_json : "");
    if (e) return e;
    uint8_t h[32];
    hk_sha256(b->data, b->len, h);
    lanes_add(h, lanes);
    return HK_OK;
}

/* Adds every record of module database name (absent: nothing) to lanes;
 * *n counts them. One pass over the database, bounded by its entries. */
static hk_err module_db(hk_store *s, hk_txn *t, const char *name, hk_buf *b,
                        uint64_t lanes[4], uint64_t *n, hk_error *err)
{
    hks_db db;
    if (hks_db_find(s, name, &db, NULL) != HK_OK) return HK_OK;
    hks_cursor *c = NULL;
    hk_err e = hks_cursor_open(t, db, &c, err);
    bool found = true;
    while (!e) {
        hks_val k, v;
        if ((e = hks_cursor_next(c, &k, &v, &found, err)) || !found) break;
        uint8_t kl[4] = {(uint8_t)(k.len >> 24), (uint8_t)(k.len >> 16),
                         (uint8_t)(k.len >> 8), (uint8_t)k.len};
        hk_buf_reset(b);
        if ((e = hk_buf_append(b, name, strlen(name) + 1)) ||
            (e = hk_buf_append(b, kl, 4)) ||
            (e = hk_buf_append(b, k.data, k.len)) ||
            (e = hk_buf_append(b, v.data, v.len))) {
            hk_error_set(err, e, "digest: out of memory");
            break;
        }
        uint8_t h[32];
        hk_sha256(b->data, b->len, h);
        lanes_add(h, lanes);
        (*n)++;
    }
    if (c) hks_cursor_close(c);
    return e;
}

hk_err hkst_digest_get(hk_store *s, hk_txn *t, hkst_digest *out, hk_error *err)
{
    hk_query *q = NULL;
    hk_fact f;
    hk_buf b = HK_BUF_INIT;
    uint64_t lanes[4] = {0, 0, 0, 0};
    hk_audit_entry *head = NULL;
    size_t n_head = 0;
    bool has_row = true;
    memset(out, 0, sizeof *out);
    hk_fact_init(&f);
    hk_scan scan = HK_SCAN_INIT;
    hk_err e = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (!e && (e = hk_query_next(q, &f, &has_row, err)) == HK_OK &&
           has_row) {
        if ((e = element(&f, &b, lanes))) {
            hk_error_set(err, e, "digest: out of memory");
            break;
        }
        out->facts++;
    }
    if (q) hk_query_close(q);
    uint64_t rl[4] = {0, 0, 0, 0}, vl[4] = {0, 0, 0, 0};
    if (!e) e = module_db(s, t, "rules.rule", &b, rl, &out->rules, err);
    if (!e) e = module_db(s, t, "rules.derived", &b, rl, &out->rules, err);
    if (!e) e = module_db(s, t, "rules.meta", &b, rl, &out->rules, err);
    if (!e) e = module_db(s, t, "vector.spaces", &b, vl, &out->vectors, err);
    if (!e) e = module_db(s, t, "vector.data", &b, vl, &out->vectors, err);
    if (!e) e = hk_audit_list(t, 0, 1, &head, &n_head, err);
    if (!e) {
        lanes_hex(lanes, out->content);
        lanes_hex(rl, out->rules_digest);
        lanes_hex(vl, out->vectors_digest);
        if (n_head) {
            out->audit_seq = head[0].seq;
            hk_hex(head[0].hash, 32, out->audit_hash);
        }
    }
    hk_audit_entries_free(head, n_head);
    hk_fact_release(&f);
    hk_buf_free(&b);
    return e;
}

hk_err hkst_digest_write_json(const hkst_digest *d, hk_buf *out)
{
    return hk_buf_appendf(out,
                          "{\"facts\":%llu,\"content\":\"%s\","
                          "\"rules\":{\"records\":%llu,\"digest\":\"%s\"},"
                          "\"vectors\":{\"records\":%llu,\"digest\":\"%s\"},"
                          "\"audit\":{\"seq\":%llu,\"hash\":\"%s\"}}",
                          (unsigned long long)d->facts, d->content,
                          (unsigned long long)d->rules, d->rules_digest,
                          (unsigned long long)d->vectors, d->vectors_digest,
                          (unsigned long long)d->audit_seq, d->audit_hash);
}
