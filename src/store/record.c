/*
 * record.c — the compact fact record stored in `fact` (id -> record), and
 * validation of fact metadata.
 *
 * Record layout (varint = unsigned LEB128; zigzag for signed values):
 *
 *   u8      flags        HKS_REC_* bits: which optional parts follow
 *   varint  pred         predicate sym id
 *   u8      n_args       1..32
 *   varint  args[n]      argument sym ids
 *   [u64 BE confidence]  IEEE-754 bits, only when != 1.0    (HKS_REC_CONF)
 *   varint  created_us   zigzag
 *   [varint updated]     zigzag(updated - created), only when they differ
 *   [varint len, bytes]  source                            (HKS_REC_SOURCE)
 *   [u8 n, (varint len, bytes) * n] tags                    (HKS_REC_TAGS)
 *   [varint len, bytes]  context JSON, compact              (HKS_REC_CONTEXT)
 *
 * A binary fact with default metadata takes about 18 bytes. Only what is
 * not default is written, and the decoder checks every length against the
 * record size (a damaged record gives HK_ERR_CORRUPT, never a crash).
 */
#include <math.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "store/store_int.h"

/* ==== Varints ==== */

static hk_err put_varint(hk_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return hk_buf_append(b, tmp, n);
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return false;
        uint8_t c = *(*p)++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ==== Encode / decode ==== */

hk_err hks_rec_encode(const hks_rec *r, hk_buf *out)
{
    uint8_t flags = 0;
    hk_err e;
    if (r->confidence != 1.0) flags |= HKS_REC_CONF;
    if (r->updated_us != r->created_us) flags |= HKS_REC_UPDATED;
    if (r->source) flags |= HKS_REC_SOURCE;
    if (r->n_tags) flags |= HKS_REC_TAGS;
    if (r->context) flags |= HKS_REC_CONTEXT;
    uint8_t head[2] = {flags, 0};
    if ((e = hk_buf_append(out, head, 1)) || (e = put_varint(out, r->pred)))
        return e;
    head[1] = (uint8_t)r->n_args;
    if ((e = hk_buf_append(out, head + 1, 1))) return e;
    for (uint32_t i = 0; i < r->n_args; i++)
        if ((e = put_varint(out, r->args[i]))) return e;
    if (flags & HKS_REC_CONF) {
        uint64_t bits;
        uint8_t b8[8];
        memcpy(&bits, &r->confidence, 8);
        hks_put_u64(b8, bits);
        if ((e = hk_buf_append(out, b8, 8))) return e;
    }
    if ((e = put_varint(out, zigzag(r->created_us)))) return e;
    if ((flags & HKS_REC_UPDATED) &&
        (e = put_varint(out, zigzag(r->updated_us - r->created_us))))
        return e;
    if (flags & HKS_REC_SOURCE) {
        if ((e = put_varint(out, r->source_len)) ||
            (e = hk_buf_append(out, r->source, r->source_len)))
            return e;
    }
    if (flags & HKS_REC_TAGS) {
        uint8_t n = (uint8_t)r->n_tags;
        if ((e = hk_buf_append(out, &n, 1))) return e;
        for (uint32_t i = 0; i < r->n_tags; i++)
            if ((e = put_varint(out, r->tag_lens[i])) ||
                (e = hk_buf_append(out, r->tags[i], r->tag_lens[i])))
                return e;
    }
    if (flags & HKS_REC_CONTEXT) {
        if ((e = put_varint(out, r->context_len)) ||
            (e = hk_buf_append(out, r->context, r->context_len)))
            return e;
    }
    return HK_OK;
}

/* Decodes the head (pred, args); *pp is left after the args. */
static hk_err decode_head(const uint8_t **pp, const uint8_t *end,
                          uint8_t *flags, hks_rec *r)
{
    const uint8_t *p = *pp;
    uint64_t v;
    if (p >= end) return HK_ERR_CORRUPT;
    *flags = *p++;
    if (!get_varint(&p, end, &v) || v == 0 || v > UINT32_MAX)
        return HK_ERR_CORRUPT;
    r->pred = (uint32_t)v;
    if (p >= end) return HK_ERR_CORRUPT;
    r->n_args = *p++;
    if (r->n_args < 1 || r->n_args > HK_MAX_ARGS) return HK_ERR_CORRUPT;
    for (uint32_t i = 0; i < r->n_args; i++) {
        if (p < end && *p < 0x80) { /* one-byte fast path */
            r->args[i] = *p++;
        } else if (!get_varint(&p, end, &v) || v > UINT32_MAX) {
            return HK_ERR_CORRUPT;
        } else {
            r->args[i] = (uint32_t)v;
        }
        if (r->args[i] == 0) return HK_ERR_CORRUPT;
    }
    *pp = p;
    return HK_OK;
}

hk_err hks_rec_decode_ids(const void *data, size_t len, hks_rec *r)
{
    const uint8_t *p = data;
    uint8_t flags;
    return decode_head(&p, p + len, &flags, r);
}

static bool get_bytes(const uint8_t **p, const uint8_t *end, const char **s,
                      size_t *n)
{
    uint64_t v;
    if (!get_varint(p, end, &v) || v > (uint64_t)(end - *p)) return false;
    *s = (const char *)*p;
    *n = (size_t)v;
    *p += v;
    return true;
}

hk_err hks_rec_decode(const void *data, size_t len, hks_rec *r)
{
    const uint8_t *p = data, *end = p + len;
    uint8_t flags;
    uint64_t v;
    hk_err e = decode_head(&p, end, &flags, r);
    if (e) return e;
    r->confidence = 1.0;
    if (flags & HKS_REC_CONF) {
        if (end - p < 8) return HK_ERR_CORRUPT;
        uint64_t bits = hks_get_u64(p);
        memcpy(&r->confidence, &bits, 8);
        p += 8;
    }
    if (!get_varint(&p, end, &v)) return HK_ERR_CORRUPT;
    r->created_us = unzigzag(v);
    r->updated_us = r->created_us;
    if (flags & HKS_REC_UPDATED) {
        if (!get_varint(&p, end, &v)) return HK_ERR_CORRUPT;
        r->updated_us = r->created_us + unzigzag(v);
    }
    r->source = NULL;
    r->source_len = 0;
    if ((flags & HKS_REC_SOURCE) &&
        !get_bytes(&p, end, &r->source, &r->source_len))
        return HK_ERR_CORRUPT;
    r->n_tags = 0;
    if (flags & HKS_REC_TAGS) {
        if (p >= end) return HK_ERR_CORRUPT;
        uint32_t n = *p++;
        if (n > HK_MAX_TAGS) return HK_ERR_CORRUPT;
        for (uint32_t i = 0; i < n; i++)
            if (!get_bytes(&p, end, &r->tags[i], &r->tag_lens[i]))
                return HK_ERR_CORRUPT;
        r->n_tags = n;
    }
    r->context = NULL;
    r->context_len = 0;
    if ((flags & HKS_REC_CONTEXT) &&
        !get_bytes(&p, end, &r->context, &r->context_len))
        return HK_ERR_CORRUPT;
    return p == end ? HK_OK : HK_ERR_CORRUPT;
}

hk_err hks_rec_get(hk_txn *t, hk_fact_id id, hks_rec *r, hk_error *err)
{
    HKS_FACT_KEY(k, id);
    MDB_val d;
    int rc = mdb_get(t->txn, t->s->db.fact, &k, &d);
    if (rc == MDB_NOTFOUND)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no fact with id %llu",
                            (unsigned long long)id);
    if (rc) return hks_store_mdb_error(t, rc, err, "reading a fact");
    if (!hks_val_sane(t, &d, HKS_REC_MAX_BYTES) ||
        hks_rec_decode(d.mv_data, d.mv_size, r))
        return hk_error_set(err, HK_ERR_CORRUPT,
                            "store: record of fact %llu is damaged",
                            (unsigned long long)id);
    return HK_OK;
}

/* ==== Record -> hk_fact ==== */

hk_err hks_rec_to_fact(hk_txn *t, hk_fact_id id, const hks_rec *r, hk_fact *f,
                       hk_error *err)
{
    /* Strings are appended to f->mem NUL-separated; pointers are set once
     * all are in place because appending may move the buffer. */
    size_t off[1 + HK_MAX_ARGS + 1 + HK_MAX_TAGS + 1];
    size_t n = 0;
    const char *s;
    size_t len;
    hk_err e;
    hk_buf *m = &f->mem;
    hk_buf_reset(m);
    for (uint32_t i = 0; i <= r->n_args; i++) {
        e = hks_sym_string(t, i == 0 ? r->pred : r->args[i - 1], &s, &len, err);
        if (e) return e;
        off[n++] = m->len;
        if ((e = hk_buf_append(m, s, len)) || (e = hk_buf_append(m, "", 1)))
            goto nomem;
    }
    if (r->source) {
        off[n++] = m->len;
        if ((e = hk_buf_append(m, r->source, r->source_len)) ||
            (e = hk_buf_append(m, "", 1)))
            goto nomem;
    }
    for (uint32_t i = 0; i < r->n_tags; i++) {
        off[n++] = m->len;
        if ((e = hk_buf_append(m, r->tags[i], r->tag_lens[i])) ||
            (e = hk_buf_append(m, "", 1)))
            goto nomem;
    }
    if (r->context) {
        off[n++] = m->len;
        if ((e = hk_buf_append(m, r->context, r->context_len)) ||
            (e = hk_buf_append(m, "", 1)))
            goto nomem;
    }
    n = 0;
    f->id = id;
    f->st.owned = NULL;
    f->st.predicate = m->data + off[n++];
    f->st.n_args = r->n_args;
    for (uint32_t i = 0; i < r->n_args; i++)
        f->st.args[i] = m->data + off[n++];
    f->source = r->source ? m->data + off[n++] : NULL;
    f->n_tags = r->n_tags;
    for (uint32_t i = 0; i < r->n_tags; i++)
        f->tags[i] = m->data + off[n++];
    f->context_json = r->context ? m->data + off[n++] : NULL;
    f->confidence = r->confidence;
    f->created_us = r->created_us;
    f->updated_us = r->updated_us;
    return HK_OK;
nomem:
    return hk_error_set(err, e, "store: out of memory decoding a fact");
}

/* ==== Metadata validation ==== */

static hk_err bad_field(hk_error *err, const char *field, const char *fmt,
                        const char *detail)
{
    hk_error_set(err, HK_ERR_INVALID, fmt, detail);
    if (err) snprintf(err->field, sizeof err->field, "%s", field);
    return HK_ERR_INVALID;
}

static bool text_ok(const char *s, size_t len)
{
    if (!hk_utf8_valid(s, len, NULL)) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t') return false;
    return true;
}

hk_err hks_meta_validate(const hk_fact_meta *m, hk_error *err)
{
    if (!m) return HK_OK;
    if (m->fields & HK_META_TIMES) {
        /* 253402300799999999 us = 9999-12-31T23:59:59.999999Z, the last
         * time hk_time_format writes in four-digit years */
        const int64_t max_us = INT64_C(253402300799999999);
        if (m->created_us < 0 || m->created_us > max_us)
            return bad_field(err, "created",
                             "created time must be within 1970..9999%s", "");
        if (m->updated_us != 0 &&
            (m->updated_us < m->created_us || m->updated_us > max_us))
            return bad_field(err, "updated",
                             "updated time must not precede the created "
                             "time%s",
                             "");
    }
    if (m->fields & HK_META_CONFIDENCE) {
        if (isnan(m->confidence) || m->confidence < 0.0 || m->confidence > 1.0)
            return bad_field(err, "confidence",
                             "confidence must be a number in [0, 1]%s", "");
    }
    if ((m->fields & HK_META_SOURCE) && m->source) {
        size_t len = strlen(m->source);
        if (len == 0 || len > HK_MAX_SOURCE_BYTES)
            return bad_field(err, "source", "source must be 1..1024 bytes%s",
                             "");
        if (!text_ok(m->source, len))
            return bad_field(err, "source",
                             "source must be UTF-8 text without control "
                             "characters%s",
                             "");
    }
    if (m->fields & HK_META_TAGS) {
        if (m->n_tags > HK_MAX_TAGS)
            return bad_field(err, "tags", "at most 32 tags%s", "");
        if (m->n_tags && !m->tags)
            return bad_field(err, "tags", "tags missing%s", "");
        for (uint32_t i = 0; i < m->n_tags; i++) {
            const char *tg = m->tags[i];
            size_t len = tg ? strlen(tg) : 0;
            if (len == 0 || len > HK_MAX_TAG_BYTES)
                return bad_field(err, "tags",
                                 "each tag must be 1..256 "
                                 "bytes%s",
                                 "");
            if (!text_ok(tg, len))
                return bad_field(err, "tags",
                                 "tags must be UTF-8 text "
                                 "without control characters%s",
                                 "");
        }
    }
    if ((m->fields & HK_META_CONTEXT) && m->context_json) {
        size_t len = strlen(m->context_json);
        if (len > HK_MAX_CONTEXT_BYTES)
            return bad_field(err, "context",
                             "context JSON exceeds 65536 "
                             "bytes%s",
                             "");
        json_error_t je;
        json_t *j =
            json_loadb(m->context_json, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            return bad_field(err, "context", "context is not valid JSON: %s",
                             je.text);
        bool obj = json_is_object(j);
        json_decref(j);
        if (!obj)
            return bad_field(err, "context",
                             "context must be a JSON "
                             "object%s",
                             "");
    }
    return HK_OK;
}
