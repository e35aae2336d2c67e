/*
 * svc_stream.c — change-stream operations (svc_stream.h) over the outbox
 * of src/stream/outbox.c. The CLI (`hakgal stream`, `hakgal digest`), REST
 * (/v2/stream/status, /v2/digest, /metrics) call these.
 */
#include "service/svc_stream.h"

hk_err hk_svc_stream_status(hk_store *s, hk_txn *t, hkst_status *out,
                            hk_error *err)
{
    return hkst_status_get(s, t, out, err);
}

hk_err hk_svc_stream_enable(hk_store *s, hk_error *err)
{
    return hkst_outbox_enable(s, err);
}

hk_err hk_svc_digest(hk_store *s, hk_txn *t, hkst_digest *out, hk_error *err)
{
    return hkst_digest_get(s, t, out, err);
}
