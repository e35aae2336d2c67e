/*
 * fact.c — the hk_fact value: initialisation, release, JSON output.
 *
 * An hk_fact's strings all live in its own hk_buf (mem), so that the store
 * can refill the same hk_fact row after row without allocating once the
 * buffer has grown. A statement filled by the parser instead (st.owned) is
 * released too.
 *
 * JSON output: confidence is written in the shortest of %.15g / %.17g that
 * reads back to the same double (always with a '.' or exponent, so 1 is
 * written 1.0); a non-finite confidence, which the store never holds, is
 * written as null because JSON has no NaN. context_json is stored already
 * validated and is embedded verbatim; an empty string counts as absent.
 *
 * Threads: an hk_fact belongs to one thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakgal.h"

void hk_fact_init(hk_fact *f)
{
    memset(f, 0, sizeof *f);
}

void hk_fact_release(hk_fact *f)
{
    if (!f)
        return;
    hk_statement_release(&f->st);
    hk_buf_free(&f->mem);
    memset(f, 0, sizeof *f);
}

/* Shortest round-trip text of a double, always recognisably a float. */
static void format_double(double v, char out[40])
{
    snprintf(out, 40, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 40, "%.17g", v);
    if (!strpbrk(out, ".eE"))
        strcat(out, ".0");
}

static hk_err append_time(hk_buf *out, const char *key, int64_t us)
{
    char when[32];
    hk_time_format(us, when);
    return hk_buf_appendf(out, ",\"%s\":\"%s\"", key, when);
}

static hk_err append_nullable_string(hk_buf *out, const char *s)
{
    if (!s)
        return hk_buf_append(out, "null", 4);
    return hk_buf_append_json_string(out, s, strlen(s));
}

hk_err hk_fact_write_json(const hk_fact *f, hk_buf *out)
{
    hk_buf stmt = HK_BUF_INIT;
    size_t old_len = out->len;
    hk_err rc = hk_statement_format(&f->st, &stmt);
    if (rc != HK_OK)
        goto fail;
    rc = hk_buf_appendf(out, "{\"id\":%llu,\"statement\":",
                        (unsigned long long)f->id);
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, stmt.data, stmt.len);
    if (rc == HK_OK)
        rc = hk_buf_append_str(out, ",\"predicate\":");
    if (rc == HK_OK)
        rc = hk_buf_append_json_string(out, f->st.predicate,
                                       strlen(f->st.predicate));
    if (rc == HK_OK)
        rc = hk_buf_append_str(out, ",\"args\":[");
    for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
        if (i)
            rc = hk_buf_append(out, ",", 1);
        if (rc == HK_OK)
            rc = hk_buf_append_json_string(out, f->st.args[i],
                                           strlen(f->st.args[i]));
    }
    if (rc == HK_OK) {
        if (isfinite(f->confidence)) {
            char num[40];
            format_double(f->confidence, num);
            rc = hk_buf_appendf(out, "],\"confidence\":%s,\"source\":", num);
        } else {
            rc = hk_buf_append_str(out, "],\"confidence\":null,\"source\":");
        }
    }
    if (rc == HK_OK)
        rc = append_nullable_string(out, f->source);
    if (rc == HK_OK)
        rc = hk_buf_append_str(out, ",\"tags\":[");
    for (uint32_t i = 0; rc == HK_OK && i < f->n_tags && i < HK_MAX_TAGS;
         i++) {
        if (i)
            rc = hk_buf_append(out, ",", 1);
        if (rc == HK_OK)
            rc = append_nullable_string(out, f->tags[i]);
    }
    if (rc == HK_OK)
        rc = hk_buf_append_str(out, "],\"context\":");
    if (rc == HK_OK) {
        if (f->context_json && f->context_json[0])
            rc = hk_buf_append_str(out, f->context_json);
        else
            rc = hk_buf_append(out, "null", 4);
    }
    if (rc == HK_OK)
        rc = append_time(out, "created", f->created_us);
    if (rc == HK_OK)
        rc = append_time(out, "updated", f->updated_us);
    if (rc == HK_OK)
        rc = hk_buf_append(out, "}", 1);
    if (rc != HK_OK)
        goto fail;
    hk_buf_free(&stmt);
    return HK_OK;

fail:
    hk_buf_free(&stmt);
    out->len = old_len; /* no half-written object */
    if (out->data)
        out->data[old_len] = '\0';
    return rc;
}
