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
 * The audit head (sequence and hash of the newest entry) proves the
 * history: equal only when the same changes were applied in the same
 * order with the same times and actors.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/sha256.h"
#include "stream/stream.h"

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
    for (int l = 0; l < 4; l++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (v << 8) | h[l * 8 + i];
        lanes[l] += v;
    }
    return HK_OK;
}

hk_err hkst_digest_get(hk_txn *t, hkst_digest *out, hk_error *err)
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
    if (!e) e = hk_audit_list(t, 0, 1, &head, &n_head, err);
    if (!e) {
        uint8_t raw[32];
        for (int l = 0; l < 4; l++)
            for (int i = 0; i < 8; i++)
                raw[l * 8 + i] = (uint8_t)(lanes[l] >> (56 - 8 * i));
        hk_hex(raw, 32, out->content);
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
                          "\"audit\":{\"seq\":%llu,\"hash\":\"%s\"}}",
                          (unsigned long long)d->facts, d->content,
                          (unsigned long long)d->audit_seq, d->audit_hash);
}
