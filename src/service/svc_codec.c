/*
 * svc_codec.c — the JSON forms shared by every adapter: facts and audit
 * entries.
 *
 * Text is the primary form (the REST server streams it into response
 * buffers without building a document); the jansson forms are parsed from
 * that text so that both can never disagree on a field. Any thread.
 */
#include <string.h>

#include "service/service.h"

/* ==== Facts ==== */

json_t *hk_svc_fact_jansson(const hk_fact *f)
{
    hk_buf b = HK_BUF_INIT;
    json_t *j = NULL;
    if (hk_fact_write_json(f, &b) == HK_OK)
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    hk_buf_free(&b);
    return j;
}

/* ==== Audit entries ==== */

static hk_err append_raw_json_or_null(hk_buf *out, const char *s)
{
    return hk_buf_append_str(out, s != NULL && s[0] != '\0' ? s : "null");
}

hk_err hk_svc_audit_entry_write_json(const hk_audit_entry *e, hk_buf *out)
{
    char when[32];
    hk_time_format(e->time_us, when);
    char h[65], ph[65];
    hk_hex(e->hash, 32, h);
    hk_hex(e->prev_hash, 32, ph);
    hk_err rc = hk_buf_appendf(out, "{\"seq\":%llu,\"time\":\"%s\",\"actor\":",
                               (unsigned long long)e->seq, when);
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, e->actor ? e->actor : "",
                                       e->actor ? strlen(e->actor) : 0);
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"op\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, e->op ? e->op : "",
                                       e->op ? strlen(e->op) : 0);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out,
                            ",\"fact_id\":%llu,\"fact_id_last\":%llu,"
                            "\"count\":%llu,\"before\":",
                            (unsigned long long)e->fact_id,
                            (unsigned long long)e->fact_id_last,
                            (unsigned long long)e->count);
    if (rc == HK_OK) rc = append_raw_json_or_null(out, e->before);
    if (rc == HK_OK) rc = hk_buf_append_str(out, ",\"after\":");
    if (rc == HK_OK) rc = append_raw_json_or_null(out, e->after);
    if (rc == HK_OK)
        rc = hk_buf_appendf(out, ",\"prev_hash\":\"%s\",\"hash\":\"%s\"}", ph,
                            h);
    return rc;
}

hk_err hk_svc_audit_entries_write_json(const hk_audit_entry *v, size_t n,
                                       hk_buf *out)
{
    hk_err rc = hk_buf_append_str(out, "[");
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        if (i > 0) rc = hk_buf_append_str(out, ",");
        if (rc == HK_OK) rc = hk_svc_audit_entry_write_json(&v[i], out);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(out, "]");
    return rc;
}

json_t *hk_svc_audit_entry_jansson(const hk_audit_entry *e)
{
    hk_buf b = HK_BUF_INIT;
    json_t *j = NULL;
    if (hk_svc_audit_entry_write_json(e, &b) == HK_OK)
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    hk_buf_free(&b);
    return j;
}
