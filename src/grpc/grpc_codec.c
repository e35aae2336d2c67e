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
