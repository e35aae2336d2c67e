/*
 * svc_stream.c — change-stream operations (svc_stream.h) over the outbox
 * of src/stream/outbox.c. The CLI (`hakgal stream`), REST
 * (/v2/stream/status, /metrics) and MCP (stream_status) call these.
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
