/*
 * grpc_reflect.c — gRPC server reflection (grpc.reflection.v1alpha and
 * grpc.reflection.v1 ServerReflection/ServerReflectionInfo, the same
 * messages on the wire) over the descriptors of our .proto files, which
 * the build generates with `protoc-c --descriptor_set_out` and embeds as
 * hk_grpc_descriptor_set (src/grpc/embed_descriptors.cmake).
 *
 * The C core has no reflection service (it is in the C++ library), but
 * the protocol is an ordinary bidirectional stream: each request asks for
 * a file by name, the file declaring a symbol, or the list of services,
 * and is answered with serialized FileDescriptorProto messages — the
 * elements of the embedded FileDescriptorSet, served as they are. Our
 * files import nothing, so a file is the whole answer. Extension queries
 * are answered NOT_FOUND (no extensions are declared).
 *
 * The set is read once, at the first call (pthread_once): per file its
 * bytes, name, package and top-level messages, enums and services.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "grpc/grpc_int.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"

extern const unsigned char hk_grpc_descriptor_set[];
extern const size_t hk_grpc_descriptor_set_len;

#define HK_REFLECT_FILES 8    /* files in the set at most */
#define HK_REFLECT_SYMBOLS 96 /* top-level symbols per file at most */
#define HK_REFLECT_REQS 1024  /* requests per call at most */

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

typedef struct rfile {
    span bytes;                      /* the FileDescriptorProto */
    span name;                       /* "hakgal/v2/hakgal.proto" */
    span package;                    /* "hakgal.v2" */
    span sym[HK_REFLECT_SYMBOLS];    /* message, enum and service names */
    bool is_svc[HK_REFLECT_SYMBOLS]; /* sym[i] is a service */
    size_t n_sym;
} rfile;

static rfile g_files[HK_REFLECT_FILES];
static size_t g_n_files;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* ==== Reading the wire format ==== */

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* The next field of [*p, end): its number, wire type and, for
 * length-delimited fields, its bytes. False at the end or on bad bytes. */
static bool field(const uint8_t **p, const uint8_t *end, uint32_t *num,
                  span *val)
{
    uint64_t key, v;
    if (*p >= end || !varint(p, end, &key)) return false;
    *num = (uint32_t)(key >> 3);
    val->p = NULL;
    val->n = 0;
    switch (key & 7) {
    case 0:
        return varint(p, end, &v);
    case 1:
        if (end - *p < 8) return false;
        *p += 8;
        return true;
    case 2:
        if (!varint(p, end, &v) || v > (uint64_t)(end - *p)) return false;
        val->p = *p;
        val->n = (size_t)v;
        *p += v;
        return true;
    case 5:
        if (end - *p < 4) return false;
        *p += 4;
        return true;
    default:
        return false;
    }
}

/* Field 1 (name) of a DescriptorProto, EnumDescriptorProto or
 * ServiceDescriptorProto. */
static span name_of(span msg)
{
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    uint32_t num;
    span v, none = {NULL, 0};
    while (field(&p, end, &num, &v))
        if (num == 1) return v;
    return none;
}

static void load(void)
{
    const uint8_t *p = hk_grpc_descriptor_set;
    const uint8_t *end = p + hk_grpc_descriptor_set_len;
    uint32_t num;
    span file;
    while (g_n_files < HK_REFLECT_FILES && field(&p, end, &num, &file)) {
        if (num != 1) continue;
        rfile *f = &g_files[g_n_files++];
        memset(f, 0, sizeof(*f));
        f->bytes = file;
        const uint8_t *q = file.p, *qe = file.p + file.n;
        span v;
        while (field(&q, qe, &num, &v)) {
            if (num == 1)
                f->name = v;
            else if (num == 2)
                f->package = v;
            else if ((num == 4 || num == 5 || num == 6) &&
                     f->n_sym < HK_REFLECT_SYMBOLS) {
                f->is_svc[f->n_sym] = num == 6;
                f->sym[f->n_sym++] = name_of(v);
            }
        }
    }
}

static bool span_is(span s, const char *z, size_t n)
{
    return s.n == n && memcmp(s.p, z, n) == 0;
}

/* The file declaring the fully qualified symbol s: a top-level message,
 * enum or service, or anything inside one ("hakgal.v2.Hakgal.GetFact",
 * "hakgal.v2.Fact.args"). NULL when none. */
static const rfile *file_of_symbol(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < g_n_files; i++) {
        const rfile *f = &g_files[i];
        size_t pl = f->package.n;
        if (pl && (n <= pl || memcmp(s, f->package.p, pl) != 0 || s[pl] != '.'))
            continue;
        const char *rest = pl ? s + pl + 1 : s;
        size_t rn = n - (size_t)(rest - s);
        for (size_t k = 0; k < f->n_sym; k++) {
            span y = f->sym[k];
            if (y.n <= rn && memcmp(rest, y.p, y.n) == 0 &&
                (y.n == rn || rest[y.n] == '.'))
                return f;
        }
    }
    return NULL;
}

static const rfile *file_by_name(const char *s)
{
    for (size_t i = 0; i < g_n_files; i++)
        if (span_is(g_files[i].name, s, strlen(s))) return &g_files[i];
    return NULL;
}

/* ==== The stream ==== */

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest req_t;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse res_t;

static hk_err answer(hk_grpc_call *c, const req_t *q)
{
    res_t a = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
    a.valid_host = q->host;
    a.original_request = (req_t *)q;
    Grpc__Reflection__V1alpha__FileDescriptorResponse fd =
        GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ListServiceResponse ls =
        GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ErrorResponse er =
        GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT;
    Grpc__Reflection__V1alpha__ServiceResponse svc[HK_REFLECT_FILES * 2];
    Grpc__Reflection__V1alpha__ServiceResponse *svcp[HK_REFLECT_FILES * 2];
    char names[HK_REFLECT_FILES * 2][128];
    ProtobufCBinaryData bin;
    const rfile *f = NULL;
    const char *missing = NULL;
    switch (q->message_request_case) {
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        f = file_by_name(q->file_by_filename);
        missing = "no such file";
        break;
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        f = file_of_symbol(q->file_containing_symbol);
        missing = "no such symbol";
        break;
    case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES: {
        size_t n = 0;
        for (size_t i = 0; i < g_n_files; i++) {
            const rfile *r = &g_files[i];
            for (size_t k = 0; k < r->n_sym && n < HK_REFLECT_FILES * 2; k++) {
                if (!r->is_svc[k]) continue;
                snprintf(names[n], sizeof(names[n]), "%.*s%s%.*s",
                         (int)r->package.n, (const char *)r->package.p,
                         r->package.n ? "." : "", (int)r->sym[k].n,
                         (const char *)r->sym[k].p);
                grpc__reflection__v1alpha__service_response__init(&svc[n]);
                svc[n].name = names[n];
                svcp[n] = &svc[n];
                n++;
            }
        }
        ls.n_service = n;
        ls.service = svcp;
        a.message_response_case =
            GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        a.list_services_response = &ls;
        return hk_grpc_send(c, &a.base);
    }
    default:
        missing = "no extensions are declared";
        break;
    }
    if (f) {
        bin.data = (uint8_t *)f->bytes.p;
        bin.len = f->bytes.n;
        fd.n_file_descriptor_proto = 1;
        fd.file_descriptor_proto = &bin;
        a.message_response_case =
            GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
        a.file_descriptor_response = &fd;
    } else {
        er.error_code = GRPC_STATUS_NOT_FOUND;
        er.error_message = (char *)missing;
        a.message_response_case =
            GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
        a.error_response = &er;
    }
    return hk_grpc_send(c, &a.base);
}

void hk_grpc_reflect(hk_grpc_call *c)
{
    pthread_once(&g_once, load);
    for (unsigned i = 0; i < HK_REFLECT_REQS; i++) {
        ProtobufCMessage *m = NULL;
        if (hk_grpc_recv(
                c,
                &grpc__reflection__v1alpha__server_reflection_request__descriptor,
                &m) != HK_OK)
            return; /* answered, or the call broke */
        if (!m) {   /* the client closed its side */
            hk_grpc_finish(c, GRPC_STATUS_OK, NULL, NULL);
            return;
        }
        hk_err rc = answer(c, (const req_t *)m);
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc != HK_OK) return;
    }
    hk_grpc_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                   "more than 1024 requests on one reflection stream", NULL);
}
