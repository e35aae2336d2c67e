/*
 * grpc_codec.c — protobuf forms of hakgal's values for the gRPC endpoint.
 *
 * Input: a FactInput becomes the JSON value the service's fact parser
 * reads (hk_svc_fact_in_parse), so a fact sent over gRPC is checked by the
 * same code, with the same errors and limits, as one sent to REST.
 *
 * Output: a Fact message borrows the strings of the hk_fact it shows
 * (hk_grpc_fact_view), and pages of results are encoded element by element
 * straight into one buffer (hk_grpc_append_field): a repeated message
 * field on the wire is just its elements one after another, each as
 * tag + length + bytes. A streamed page of a thousand facts therefore
 * costs one buffer and no per-fact allocation, which is what lets Export
 * keep up with the store.
 *
 * No state; callable from any thread.
 */
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"
#include "core/mem.h"
#include "grpc/grpc_int.h"

/* ==== FactInput -> JSON ==== */

static int set_new(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

json_t *hk_grpc_fact_input_json(const Hakgal__V2__FactInput *in, hk_error *err)
{
    json_t *o = json_object();
    if (!o) goto nomem;
    if (in->statement && in->statement[0] &&
        set_new(o, "statement", json_string(in->statement)) != 0)
        goto nomem;
    if (in->predicate && in->predicate[0]) {
        if (set_new(o, "predicate", json_string(in->predicate)) != 0)
            goto nomem;
    }
    if (in->n_args) {
        json_t *a = json_array();
        if (!a || json_object_set_new(o, "args", a) != 0) goto nomem;
        for (size_t i = 0; i < in->n_args && i <= HK_MAX_ARGS; i++)
            if (json_array_append_new(a, json_string(in->args[i])) != 0)
                goto nomem;
    }
    if (in->confidence_given_case ==
            HAKGAL__V2__FACT_INPUT__CONFIDENCE_GIVEN_CONFIDENCE &&
        set_new(o, "confidence", json_real(in->confidence)) != 0)
        goto nomem;
    if (in->source_given_case == HAKGAL__V2__FACT_INPUT__SOURCE_GIVEN_SOURCE &&
        set_new(o, "source", json_string(in->source)) != 0)
        goto nomem;
    if (in->n_tags) {
        json_t *a = json_array();
        if (!a || json_object_set_new(o, "tags", a) != 0) goto nomem;
        for (size_t i = 0; i < in->n_tags && i <= HK_MAX_TAGS; i++)
            if (json_array_append_new(a, json_string(in->tags[i])) != 0)
                goto nomem;
    }
    if (in->context_json && in->context_json[0]) {
        json_error_t je;
        json_t *ctx = json_loads(in->context_json, JSON_REJECT_DUPLICATES, &je);
        if (!ctx || !json_is_object(ctx)) {
            json_decref(ctx);
            json_decref(o);
            hk_error_set(err, HK_ERR_INVALID,
                         "context_json must be a JSON object (%s)",
                         ctx ? "another JSON value" : je.text);
            snprintf(err->field, sizeof(err->field), "context_json");
            return NULL;
        }
        if (json_object_set_new(o, "context", ctx) != 0) goto nomem;
    }
    return o;
nomem:
    json_decref(o);
    hk_error_set(err, HK_ERR_NOMEM, "out of memory decoding a fact");
    return NULL;
}

/* ==== hk_fact -> Fact ==== */

hk_err hk_grpc_fact_view_set(hk_grpc_fact_view *v, const hk_fact *f)
{
    hakgal__v2__fact__init(&v->m);
    hk_buf_reset(&v->text);
    hk_err rc = hk_statement_format(&f->st, &v->text);
    if (rc != HK_OK) return rc;
    for (uint32_t i = 0; i < f->st.n_args && i < HK_MAX_ARGS; i++)
        v->args[i] = (char *)f->st.args[i];
    for (uint32_t i = 0; i < f->n_tags && i < HK_MAX_TAGS; i++)
        v->tags[i] = (char *)f->tags[i];
    hk_time_format(f->created_us, v->created);
    hk_time_format(f->updated_us, v->updated);
    v->m.id = f->id;
    v->m.statement = v->text.data;
    v->m.predicate = (char *)f->st.predicate;
    v->m.n_args = f->st.n_args;
    v->m.args = v->args;
    v->m.confidence = f->confidence;
    v->m.source = f->source ? (char *)f->source : (char *)"";
    v->m.n_tags = f->n_tags;
    v->m.tags = v->tags;
    v->m.context_json = f->context_json ? (char *)f->context_json : (char *)"";
    v->m.created = v->created;
    v->m.updated = v->updated;
    return HK_OK;
}

void hk_grpc_fact_view_free(hk_grpc_fact_view *v)
{
    hk_buf_free(&v->text);
}

/* ==== Wire encoding of repeated elements ==== */

static hk_err append_varint(hk_buf *out, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v && n < sizeof(b));
    return hk_buf_append(out, b, n);
}

hk_err hk_grpc_append_field(hk_buf *out, uint32_t field,
                            const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    hk_err rc = append_varint(out, ((uint64_t)field << 3) | 2);
    if (rc == HK_OK) rc = append_varint(out, n);
    if (rc == HK_OK) rc = hk_buf_reserve(out, n + 1);
    if (rc != HK_OK) return rc;
    size_t done = protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    out->len += done;
    out->data[out->len] = '\0';
    return HK_OK;
}

hk_err hk_grpc_append_varint_field(hk_buf *out, uint32_t field, uint64_t v)
{
    hk_err rc = append_varint(out, (uint64_t)field << 3);
    return rc == HK_OK ? append_varint(out, v) : rc;
}

hk_err hk_grpc_append_string_field(hk_buf *out, uint32_t field, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return HK_OK;
    hk_err rc = append_varint(out, ((uint64_t)field << 3) | 2);
    if (rc == HK_OK) rc = append_varint(out, n);
    return rc == HK_OK ? hk_buf_append(out, s, n) : rc;
}

/* ==== hk_fact -> Fact bytes, without protobuf-c ==== */

/* The Fact message written straight from the fact's record: the statement
 * is formatted once into the caller's scratch buffer and every string's
 * length taken once, so the sizes of the message and of each field are
 * known before a byte is written and the message goes out in one pass.
 * The bytes are those protobuf-c packs for the view of
 * hk_grpc_fact_view_set (proto3: zero scalars and empty strings left
 * out, repeated strings always written; fields in number order), which
 * tests/unit/test_grpc_codec.c checks. Every field number of Fact is
 * below 16, so each tag is one byte. */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

/* A string field of n bytes: 0 when n == 0 and it is not repeated. */
static size_t str_len(size_t n, bool repeated)
{
    return n || repeated ? 1 + varint_len(n) + n : 0;
}

static uint8_t *put_str(uint8_t *w, uint32_t field, const char *s, size_t n,
                        bool repeated)
{
    if (!n && !repeated) return w;
    *w++ = (uint8_t)(field << 3 | 2);
    w = put_varint(w, n);
    if (n) memcpy(w, s, n);
    return w + n;
}

typedef struct fact_sizes {
    char created[32], updated[32]; /* formatted times */
    uint8_t n_created, n_updated;  /* their lengths */
    size_t n_pred, n_source, n_ctx;
    size_t n_args[HK_MAX_ARGS];
    size_t n_tags[HK_MAX_TAGS];
    uint32_t args, tags; /* counts, capped */
    size_t body;         /* the message's bytes */
} fact_sizes;

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Formats f's statement into st and measures every field into z. */
static hk_err fact_measure(const hk_fact *f, hk_buf *st, fact_sizes *z)
{
    hk_buf_reset(st);
    hk_err rc = hk_statement_format(&f->st, st);
    if (rc != HK_OK) return rc;
    z->n_created =
        (uint8_t)(hk_fmt_time(z->created, f->created_us) - z->created);
    if (f->updated_us == f->created_us) {
        memcpy(z->updated, z->created, z->n_created);
        z->n_updated = z->n_created;
    } else {
        z->n_updated =
            (uint8_t)(hk_fmt_time(z->updated, f->updated_us) - z->updated);
    }
    z->n_pred = strlen(f->st.predicate);
    z->n_source = f->source ? strlen(f->source) : 0;
    z->n_ctx = f->context_json ? strlen(f->context_json) : 0;
    z->args = f->st.n_args < HK_MAX_ARGS ? f->st.n_args : HK_MAX_ARGS;
    z->tags = f->n_tags < HK_MAX_TAGS ? f->n_tags : HK_MAX_TAGS;
    size_t b = f->id ? 1 + varint_len(f->id) : 0;
    b += str_len(st->len, false) + str_len(z->n_pred, false);
    for (uint32_t i = 0; i < z->args; i++)
        b += str_len(z->n_args[i] = strlen(f->st.args[i]), true);
    if (f->confidence != 0.0) b += 9; /* protobuf-c leaves out -0 too */
    b += str_len(z->n_source, false);
    for (uint32_t i = 0; i < z->tags; i++)
        b += str_len(z->n_tags[i] = strlen(f->tags[i]), true);
    b += str_len(z->n_ctx, false);
    b += str_len(z->n_created, false) + str_len(z->n_updated, false);
    z->body = b;
    return HK_OK;
}

/* Writes the body measured in z at w (room reserved); returns the end. */
static uint8_t *fact_write(uint8_t *w, const hk_fact *f, const hk_buf *st,
                           const fact_sizes *z)
{
    if (f->id) {
        *w++ = 1 << 3;
        w = put_varint(w, f->id);
    }
    w = put_str(w, 2, st->data, st->len, false);
    w = put_str(w, 3, f->st.predicate, z->n_pred, false);
    for (uint32_t i = 0; i < z->args; i++)
        w = put_str(w, 4, f->st.args[i], z->n_args[i], true);
    if (f->confidence != 0.0) {
        uint64_t conf = double_bits(f->confidence);
        *w++ = 5 << 3 | 1;
        for (int i = 0; i < 8; i++)
            *w++ = (uint8_t)(conf >> (8 * i)); /* little-endian fixed64 */
    }
    w = put_str(w, 6, f->source, z->n_source, false);
    for (uint32_t i = 0; i < z->tags; i++)
        w = put_str(w, 7, f->tags[i], z->n_tags[i], true);
    w = put_str(w, 8, f->context_json, z->n_ctx, false);
    w = put_str(w, 9, z->created, z->n_created, false);
    return put_str(w, 10, z->updated, z->n_updated, false);
}

hk_err hk_grpc_append_fact(hk_buf *out, uint32_t field, const hk_fact *f,
                           hk_buf *scratch)
{
    fact_sizes z;
    hk_err rc = fact_measure(f, scratch, &z);
    uint64_t tag = (uint64_t)field << 3 | 2;
    if (rc == HK_OK)
        rc = hk_buf_reserve(out, varint_len(tag) + varint_len(z.body) + z.body);
    if (rc != HK_OK) return rc;
    uint8_t *w = (uint8_t *)out->data + out->len;
    w = put_varint(w, tag);
    w = put_varint(w, z.body);
    w = fact_write(w, f, scratch, &z);
    out->len = (size_t)(w - (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return HK_OK;
}

hk_err hk_grpc_append_query_row(hk_buf *out, uint32_t field, const hk_fact *f,
                                const char *const *vars,
                                const char *const *values, size_t n_vars,
                                hk_buf *scratch)
{
    fact_sizes z;
    hk_err rc = fact_measure(f, scratch, &z);
    if (rc != HK_OK) return rc;
    size_t row = 1 + varint_len(z.body) + z.body; /* QueryRow.fact = 1 */
    for (size_t i = 0; i < n_vars; i++) {
        size_t nn = strlen(vars[i]);
        size_t nv = values[i] ? strlen(values[i]) : 0;
        size_t b = str_len(nn, false) + str_len(nv, false);
        row += 1 + varint_len(b) + b; /* QueryRow.bindings = 2 */
    }
    uint64_t tag = (uint64_t)field << 3 | 2;
    rc = hk_buf_reserve(out, varint_len(tag) + varint_len(row) + row);
    if (rc != HK_OK) return rc;
    uint8_t *w = (uint8_t *)out->data + out->len;
    w = put_varint(w, tag);
    w = put_varint(w, row);
    *w++ = 1 << 3 | 2;
    w = put_varint(w, z.body);
    w = fact_write(w, f, scratch, &z);
    for (size_t i = 0; i < n_vars; i++) {
        size_t nn = strlen(vars[i]);
        size_t nv = values[i] ? strlen(values[i]) : 0;
        *w++ = 2 << 3 | 2;
        w = put_varint(w, str_len(nn, false) + str_len(nv, false));
        w = put_str(w, 1, vars[i], nn, false);
        w = put_str(w, 2, values[i], nv, false);
    }
    out->len = (size_t)(w - (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return HK_OK;
}
