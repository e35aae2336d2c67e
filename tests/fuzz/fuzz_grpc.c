/*
 * fuzz_grpc.c — the decoding side of the gRPC endpoint: the first byte
 * picks a method of the table (src/grpc/grpc_methods.c), the rest is
 * decoded as that method's request message the way the transport does
 * (protobuf-c), and every FactInput it carries goes through the
 * conversion to JSON and the service's fact parser, as the handlers do.
 * Nothing may crash, leak or read out of bounds; a message that decodes
 * must also encode again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "grpc/grpc_int.h"

static void fact_input(const Hakgal__V2__FactInput *fi)
{
    if (!fi) return;
    hk_error err;
    hk_error_clear(&err);
    json_t *v = hk_grpc_fact_input_json(fi, &err);
    if (!v) return;
    hk_svc_fact_in in;
    hk_svc_fact_in_opts o = {.need_statement = false};
    (void)hk_svc_fact_in_parse(v, &o, &in, &err);
    hk_svc_fact_in_release(&in);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t n = hk_grpc_method_count();
    const hk_grpc_method *m = &hk_grpc_methods()[data[0] % n];
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(m->in, NULL, size - 1, data + 1);
    if (!msg) return 0;
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) {
        if (protobuf_c_message_pack(msg, buf) != len) abort();
        free(buf);
    }
    if (m->in == &hakgal__v2__fact_input__descriptor)
        fact_input((const Hakgal__V2__FactInput *)msg);
    else if (m->in == &hakgal__v2__add_fact_request__descriptor)
        fact_input(((const Hakgal__V2__AddFactRequest *)msg)->fact);
    else if (m->in == &hakgal__v2__update_fact_request__descriptor)
        fact_input(((const Hakgal__V2__UpdateFactRequest *)msg)->fact);
    else if (m->in == &hakgal__v2__batch_request__descriptor) {
        const Hakgal__V2__BatchRequest *b = (const void *)msg;
        for (size_t i = 0; i < b->n_facts && i < 64; i++)
            fact_input(b->facts[i]);
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
