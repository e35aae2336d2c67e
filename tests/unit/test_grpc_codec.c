/*
 * test_grpc_codec.c — the protobuf side of the gRPC endpoint
 * (src/grpc/grpc_codec.c, the method table of grpc_methods.c and the
 * status map of grpc_server.c), without a network:
 *   - a FactInput becomes the JSON the service's fact parser accepts, with
 *     presence of confidence/source kept, and a bad context_json refused
 *     with its field;
 *   - a Fact view of an hk_fact packs to bytes that protobuf-c decodes back
 *     to the same values;
 *   - pages encoded element by element (hk_grpc_append_field and friends)
 *     are byte for byte what protobuf-c packs for the whole message (the
 *     oracle), for 0..300 elements and with trailing scalar fields;
 *   - facts and query rows written straight from the record
 *     (hk_grpc_append_fact, hk_grpc_append_query_row) are byte for byte
 *     protobuf-c's packing of the same values, zero and -0 confidence,
 *     empty and long strings, id 0 and large ids included;
 *   - every method path of the proto resolves, unknown ones do not;
 *   - service error codes map to the documented gRPC statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc_int.h"

/* ==== FactInput -> JSON -> service parser ==== */

static void test_fact_input(void **state)
{
    (void)state;
    hk_error err;
    hk_error_clear(&err);
    Hakgal__V2__FactInput in = HAKGAL__V2__FACT_INPUT__INIT;
    char *args[] = {"Computer", "CPU"};
    char *tags[] = {"hw", "core"};
    in.predicate = "HasPart";
    in.n_args = 2;
    in.args = args;
    in.n_tags = 2;
    in.tags = tags;
    in.confidence_given_case =
        HAKGAL__V2__FACT_INPUT__CONFIDENCE_GIVEN_CONFIDENCE;
    in.confidence = 0.0; /* given, and zero */
    in.source_given_case = HAKGAL__V2__FACT_INPUT__SOURCE_GIVEN_SOURCE;
    in.source = "manual";
    in.context_json = "{\"k\":[1,2]}";
    json_t *v = hk_grpc_fact_input_json(&in, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "predicate")),
                        "HasPart");
    assert_int_equal(json_array_size(json_object_get(v, "args")), 2);
    assert_true(json_is_real(json_object_get(v, "confidence")));
    assert_true(json_real_value(json_object_get(v, "confidence")) == 0.0);
    assert_null(json_object_get(v, "statement"));

    hk_svc_fact_in fi;
    hk_svc_fact_in_opts o = {.need_statement = true};
    assert_int_equal(hk_svc_fact_in_parse(v, &o, &fi, &err), HK_OK);
    assert_string_equal(fi.st.predicate, "HasPart");
    assert_int_equal(fi.st.n_args, 2);
    assert_true(fi.meta.confidence == 0.0);
    assert_string_equal(fi.meta.source, "manual");
    assert_int_equal(fi.meta.n_tags, 2);
    assert_non_null(fi.meta.context_json);
    hk_svc_fact_in_release(&fi);
    json_decref(v);

    /* absent confidence and source stay absent */
    Hakgal__V2__FactInput bare = HAKGAL__V2__FACT_INPUT__INIT;
    bare.statement = "A(b)";
    v = hk_grpc_fact_input_json(&bare, &err);
    assert_non_null(v);
    assert_null(json_object_get(v, "confidence"));
    assert_null(json_object_get(v, "source"));
    assert_null(json_object_get(v, "context"));
    assert_int_equal(json_object_size(v), 1);
    json_decref(v);

    /* context_json must be a JSON object */
    const char *bad[] = {"[1]", "{", "3", "\"x\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bare.context_json = (char *)bad[i];
        hk_error_clear(&err);
        assert_null(hk_grpc_fact_input_json(&bare, &err));
        assert_int_equal(err.code, HK_ERR_INVALID);
        assert_string_equal(err.field, "context_json");
    }
}

/* ==== Fact view round trip ==== */

static void make_fact(hk_fact *f, hk_fact_id id)
{
    hk_fact_init(f);
    f->id = id;
    f->st.predicate = "Bond";
    f->st.n_args = 3;
    f->st.args[0] = "NH3";
    f->st.args[1] = "N";
    f->st.args[2] = "a b, \"c\"";
    f->confidence = 0.25;
    f->source = id % 2 ? "lab" : NULL;
    f->n_tags = 1;
    f->tags[0] = "chem";
    f->context_json = id % 3 ? "{\"x\":1}" : NULL;
    f->created_us = 1700000000000000LL + (int64_t)id;
    f->updated_us = 1700000000000000LL + 2 * (int64_t)id;
}

static void test_fact_view(void **state)
{
    (void)state;
    hk_fact f;
    make_fact(&f, 7);
    hk_grpc_fact_view v = {.text = HK_BUF_INIT};
    assert_int_equal(hk_grpc_fact_view_set(&v, &f), HK_OK);
    size_t n = protobuf_c_message_get_packed_size(&v.m.base);
    uint8_t buf[1024];
    assert_true(n < sizeof(buf));
    assert_int_equal(protobuf_c_message_pack(&v.m.base, buf), n);
    Hakgal__V2__Fact *back = hakgal__v2__fact__unpack(NULL, n, buf);
    assert_non_null(back);
    assert_int_equal(back->id, 7);
    assert_string_equal(back->statement, "Bond(NH3, N, \"a b, \\\"c\\\"\")");
    assert_string_equal(back->predicate, "Bond");
    assert_int_equal(back->n_args, 3);
    assert_string_equal(back->args[2], "a b, \"c\"");
    assert_true(back->confidence == 0.25);
    assert_string_equal(back->source, "lab");
    assert_int_equal(back->n_tags, 1);
    assert_string_equal(back->context_json, "{\"x\":1}");
    char when[32];
    hk_time_format(f.created_us, when);
    assert_string_equal(back->created, when);
    hakgal__v2__fact__free_unpacked(back, NULL);
    hk_grpc_fact_view_free(&v);
    hk_fact_release(&f);
}

/* ==== Incremental pages against protobuf-c's own packing ==== */

static void test_pages_match_protobuf_c(void **state)
{
    (void)state;
    const size_t counts[] = {0, 1, 2, 17, 300};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t n = counts[k];
        hk_fact *facts = calloc(n ? n : 1, sizeof(*facts));
        hk_grpc_fact_view *views = calloc(n ? n : 1, sizeof(*views));
        Hakgal__V2__Fact **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
        assert_non_null(facts);
        assert_non_null(views);
        assert_non_null(ptrs);
        hk_buf mine = HK_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            make_fact(&facts[i], i + 1);
            views[i].text = (hk_buf)HK_BUF_INIT;
            assert_int_equal(hk_grpc_fact_view_set(&views[i], &facts[i]),
                             HK_OK);
            ptrs[i] = &views[i].m;
            assert_int_equal(hk_grpc_append_field(&mine, 3, &views[i].m.base),
                             HK_OK);
        }
        /* EntityResponse: name (1), count (2), facts (3), next_cursor (4) */
        hk_buf head = HK_BUF_INIT;
        assert_int_equal(hk_grpc_append_string_field(&head, 1, "NH3"), HK_OK);
        assert_int_equal(hk_grpc_append_varint_field(&head, 2, 300 + n), HK_OK);
        assert_int_equal(
            hk_buf_append(&head, mine.data ? mine.data : "", mine.len), HK_OK);
        assert_int_equal(hk_grpc_append_string_field(&head, 4, "cur"), HK_OK);

        Hakgal__V2__EntityResponse er = HAKGAL__V2__ENTITY_RESPONSE__INIT;
        er.name = "NH3";
        er.count = 300 + n;
        er.n_facts = n;
        er.facts = ptrs;
        er.next_cursor = "cur";
        size_t len = protobuf_c_message_get_packed_size(&er.base);
        uint8_t *oracle = malloc(len + 1);
        assert_non_null(oracle);
        protobuf_c_message_pack(&er.base, oracle);
        assert_int_equal(head.len, len);
        assert_memory_equal(head.data, oracle, len);

        free(oracle);
        hk_buf_free(&head);
        hk_buf_free(&mine);
        for (size_t i = 0; i < n; i++) {
            hk_grpc_fact_view_free(&views[i]);
            hk_fact_release(&facts[i]);
        }
        free(facts);
        free(views);
        free(ptrs);
    }
    /* empty strings are left out, as proto3 packs them */
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_grpc_append_string_field(&b, 4, ""), HK_OK);
    assert_int_equal(hk_grpc_append_string_field(&b, 4, NULL), HK_OK);
    assert_int_equal(b.len, 0);
    /* a large varint */
    assert_int_equal(hk_grpc_append_varint_field(&b, 2, UINT64_MAX), HK_OK);
    Hakgal__V2__AuditResponse ar = HAKGAL__V2__AUDIT_RESPONSE__INIT;
    ar.next_before = UINT64_MAX;
    uint8_t o[32];
    size_t on = protobuf_c_message_pack(&ar.base, o);
    assert_int_equal(b.len, on);
    assert_memory_equal(b.data, o, on);
    hk_buf_free(&b);
}

/* ==== Direct Fact and QueryRow encoding against protobuf-c ==== */

/* Facts that vary every field the encoder treats specially: id 0 and
 * large, confidence 0, -0 and 1, no source / "" source, no tags, many
 * tags and an empty tag, an empty argument, a long argument (two-byte
 * lengths), no context. */
static void vary_fact(hk_fact *f, hk_fact_id id, char *longarg)
{
    make_fact(f, id);
    const double conf[] = {0.25, 0.0, -0.0, 1.0};
    f->confidence = conf[id % 4];
    if (id % 5 == 0) f->source = "";
    f->n_tags = (uint32_t)(id % 4);
    const char *tags[] = {"chem", "", "t3"};
    for (uint32_t i = 0; i < f->n_tags && i < 3; i++)
        f->tags[i] = tags[i];
    if (id % 7 == 0) f->st.args[1] = "";
    if (id % 6 == 0) f->st.args[2] = longarg;
    if (id % 8 == 0) f->id = 0;
    if (id % 9 == 0) f->id = UINT64_MAX >> 1;
    if (id % 10 == 0) f->updated_us = f->created_us;
}

static void test_direct_fact_encoding(void **state)
{
    (void)state;
    char longarg[300];
    memset(longarg, 'x', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = '\0';
    hk_buf mine = HK_BUF_INIT, oracle = HK_BUF_INIT, rows = HK_BUF_INIT,
           rows_oracle = HK_BUF_INIT, scratch = HK_BUF_INIT;
    hk_grpc_fact_view v = {.text = HK_BUF_INIT};
    for (hk_fact_id id = 1; id <= 40; id++) {
        hk_fact f;
        vary_fact(&f, id, longarg);
        assert_int_equal(hk_grpc_append_fact(&mine, id % 3 + 1, &f, &scratch),
                         HK_OK);
        assert_int_equal(hk_grpc_fact_view_set(&v, &f), HK_OK);
        assert_int_equal(hk_grpc_append_field(&oracle, id % 3 + 1, &v.m.base),
                         HK_OK);
        assert_int_equal(mine.len, oracle.len);
        assert_memory_equal(mine.data, oracle.data, mine.len);

        /* a QueryRow with 0..3 bindings, one of them unbound */
        const char *vars[] = {"x", "y", "z"};
        const char *vals[] = {"NH3", NULL, "a b"};
        size_t nv = id % 4;
        assert_int_equal(
            hk_grpc_append_query_row(&rows, 1, &f, vars, vals, nv, &scratch),
            HK_OK);
        Hakgal__V2__Binding bs[3];
        Hakgal__V2__Binding *bp[3];
        for (size_t i = 0; i < nv; i++) {
            hakgal__v2__binding__init(&bs[i]);
            bs[i].name = (char *)vars[i];
            bs[i].value = (char *)(vals[i] ? vals[i] : "");
            bp[i] = &bs[i];
        }
        Hakgal__V2__QueryRow qr = HAKGAL__V2__QUERY_ROW__INIT;
        qr.fact = &v.m;
        qr.n_bindings = nv;
        qr.bindings = bp;
        assert_int_equal(hk_grpc_append_field(&rows_oracle, 1, &qr.base),
                         HK_OK);
        assert_int_equal(rows.len, rows_oracle.len);
        assert_memory_equal(rows.data, rows_oracle.data, rows.len);
        hk_fact_release(&f);
    }
    /* and the page decodes as the message it claims to be */
    Hakgal__V2__QueryPage *qp =
        hakgal__v2__query_page__unpack(NULL, rows.len, (uint8_t *)rows.data);
    assert_non_null(qp);
    assert_int_equal(qp->n_rows, 40);
    assert_string_equal(qp->rows[5]->fact->args[2], longarg);
    hakgal__v2__query_page__free_unpacked(qp, NULL);
    hk_grpc_fact_view_free(&v);
    hk_buf_free(&mine);
    hk_buf_free(&oracle);
    hk_buf_free(&rows);
    hk_buf_free(&rows_oracle);
    hk_buf_free(&scratch);
}

/* ==== Methods and statuses ==== */

static void test_methods(void **state)
{
    (void)state;
    const ProtobufCServiceDescriptor *sd = &hakgal__v2__hakgal__descriptor;
    for (unsigned i = 0; i < sd->n_methods; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/%s/%s", sd->name, sd->methods[i].name);
        const hk_grpc_method *m = hk_grpc_method_find(path, strlen(path));
        assert_non_null(m);
        assert_ptr_equal(m->in, sd->methods[i].input);
    }
    const char *health = "/grpc.health.v1.Health/Check";
    assert_non_null(hk_grpc_method_find(health, strlen(health)));
    assert_int_equal(hk_grpc_method_find(health, strlen(health))->need,
                     HK_ROLE_NONE);
    const char *watch = "/grpc.health.v1.Health/Watch";
    assert_int_equal(hk_grpc_method_find(watch, strlen(watch))->kind,
                     HK_GRPC_SERVER_STREAM);
    const char *refl[] = {
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(hk_grpc_method_find(refl[i], strlen(refl[i]))->kind,
                         HK_GRPC_BIDI_STREAM);
    const char *nope[] = {"/hakgal.v2.Hakgal/Nope", "/hakgal.v2.Hakgal/GetFac",
                          "", "/grpc.health.v1.Health/Watc"};
    for (size_t i = 0; i < sizeof(nope) / sizeof(nope[0]); i++)
        assert_null(hk_grpc_method_find(nope[i], strlen(nope[i])));
    const char *w = "/hakgal.v2.Hakgal/AddFact";
    assert_int_equal(hk_grpc_method_find(w, strlen(w))->need, HK_ROLE_WRITE);
    const char *bulk = "/hakgal.v2.Hakgal/BulkAdd";
    assert_int_equal(hk_grpc_method_find(bulk, strlen(bulk))->kind,
                     HK_GRPC_CLIENT_STREAM);

    assert_int_equal(hk_grpc_status(HK_OK), GRPC_STATUS_OK);
    assert_int_equal(hk_grpc_status(HK_ERR_INVALID),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(hk_grpc_status(HK_ERR_NOT_FOUND), GRPC_STATUS_NOT_FOUND);
    assert_int_equal(hk_grpc_status(HK_ERR_EXISTS), GRPC_STATUS_ALREADY_EXISTS);
    assert_int_equal(hk_grpc_status(HK_ERR_LIMIT),
                     GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(hk_grpc_status(HK_ERR_STATE), GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(hk_grpc_status(HK_ERR_STORE), GRPC_STATUS_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fact_input),
        cmocka_unit_test(test_fact_view),
        cmocka_unit_test(test_pages_match_protobuf_c),
        cmocka_unit_test(test_direct_fact_encoding),
        cmocka_unit_test(test_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
