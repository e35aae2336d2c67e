/*
 * io_memory.c — the memory file of the reference MCP memory server
 * (@modelcontextprotocol/server-memory) as an import and export format
 * ("mcp-memory").
 *
 * The file holds one JSON object per line:
 *   {"type":"entity","name":N,"entityType":T,"observations":[O, ...]}
 *   {"type":"relation","from":F,"to":T,"relationType":R}
 * entities first, then relations, lines joined by "\n" without a final
 * newline. Import turns each line into the facts of svc_memory.h
 * (EntityType, Observation, Relation) through the import driver, so a
 * large memory is streamed in batches with one audit entry per batch; an
 * invalid line is rejected with its reason and the import goes on.
 * Export writes the same layout back (compact JSON as JSON.stringify
 * writes it), so a file written by the reference server round-trips.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/io_internal.h"
#include "service/svc_memory.h"

/* ==== Import ==== */

/* Adds pred(texts...) for one line; a text that cannot be stored rejects
 * the line's remaining facts. */
static hk_err add_fact(io_import *im, uint64_t line_no, const char *pred,
                       uint32_t n, const char *const *texts, hk_buf *enc,
                       const char *line, size_t len, bool *rejected,
                       hk_error *err)
{
    hk_statement st;
    memset(&st, 0, sizeof st);
    st.predicate = pred;
    st.n_args = n;
    for (uint32_t i = 0; i < n; i++) {
        hk_error e;
        hk_err rc = hk_svc_mem_encode(texts[i], &enc[i], &e);
        if (rc == HK_ERR_INVALID) {
            *rejected = true;
            return io_import_reject(im, line_no, e.message, line, len, err);
        }
        if (rc != HK_OK) return io_fatal(err, &e, rc);
        st.args[i] = enc[i].data;
    }
    return io_import_add(im, line_no, &st, NULL, line, len, err);
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

hk_err io_memory_import_line(io_import *im, uint64_t line_no, char *line,
                             size_t len, hk_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    char why[300];
    if (!obj) {
        snprintf(why, sizeof why, "invalid JSON at column %d: %s", jerr.column,
                 jerr.text);
        return io_import_reject(im, line_no, why, line, len, err);
    }
    hk_buf enc[3] = {HK_BUF_INIT, HK_BUF_INIT, HK_BUF_INIT};
    hk_err rc = HK_OK;
    bool rejected = false;
    const char *type = str_of(obj, "type");
    if (type && strcmp(type, "entity") == 0) {
        const char *name = str_of(obj, "name");
        const char *etype = str_of(obj, "entityType");
        json_t *obs = json_object_get(obj, "observations");
        bool ok = name && etype && json_is_array(obs);
        size_t i;
        json_t *o;
        json_array_foreach(obs, i, o) ok = ok && json_is_string(o);
        if (!ok) {
            rc = io_import_reject(im, line_no,
                                  "an entity needs name, entityType (strings) "
                                  "and observations (array of strings)",
                                  line, len, err);
            goto done;
        }
        const char *t2[2] = {name, etype};
        rc = add_fact(im, line_no, HK_MEM_PRED_TYPE, 2, t2, enc, line, len,
                      &rejected, err);
        json_array_foreach(obs, i, o)
        {
            if (rc != HK_OK || rejected) break;
            const char *ot[2] = {name, json_string_value(o)};
            rc = add_fact(im, line_no, HK_MEM_PRED_OBS, 2, ot, enc, line, len,
                          &rejected, err);
        }
    } else if (type && strcmp(type, "relation") == 0) {
        const char *t3[3] = {str_of(obj, "from"), str_of(obj, "relationType"),
                             str_of(obj, "to")};
        if (!t3[0] || !t3[1] || !t3[2]) {
            rc = io_import_reject(im, line_no,
                                  "a relation needs from, to and "
                                  "relationType (strings)",
                                  line, len, err);
            goto done;
        }
        rc = add_fact(im, line_no, HK_MEM_PRED_REL, 3, t3, enc, line, len,
                      &rejected, err);
    } else {
        /* the reference server skips such lines when it loads the file */
        rc = io_import_reject(im, line_no,
                              "type is neither \"entity\" nor \"relation\"",
                              line, len, err);
    }
done:
    for (int i = 0; i < 3; i++)
        hk_buf_free(&enc[i]);
    json_decref(obj);
    return rc;
}

/* ==== Export ==== */

/* Appends v as compact JSON the way JSON.stringify writes it (jansson
 * writes \u escapes with upper-case hex; JavaScript with lower case). */
static hk_err append_json(hk_buf *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) return HK_ERR_NOMEM;
    for (char *p = s; *p; p++) {
        if (p[0] != '\\') continue;
        if (p[1] == 'u')
            for (int i = 2; i < 6 && p[i]; i++)
                if (p[i] >= 'A' && p[i] <= 'F') p[i] = (char)(p[i] + 32);
        p++;
    }
    hk_err rc = hk_buf_append_str(b, s);
    free(s); /* json_dumps memory: libc free */
    return rc;
}

static hk_err flush(FILE *out, hk_buf *b, hk_error *err)
{
    if (b->len && fwrite(b->data, 1, b->len, out) != b->len)
        return hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                            strerror(errno));
    hk_buf_reset(b);
    return HK_OK;
}

hk_err io_memory_export(hk_txn *t, FILE *out, hk_error *err)
{
    json_t *g = NULL;
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_svc_mem_read_graph(t, &g, err);
    bool first = true;
    static const char *const kinds[2] = {"entities", "relations"};
    for (int k = 0; rc == HK_OK && k < 2; k++) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(g, kinds[k]), i, item)
        {
            json_t *line = json_object();
            if (!line ||
                json_object_set_new(line, "type",
                                    json_string(k ? "relation" : "entity")) ||
                json_object_update(line, item) != 0) {
                json_decref(line);
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            if ((!first && hk_buf_append(&b, "\n", 1) != HK_OK) ||
                append_json(&b, line) != HK_OK)
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            json_decref(line);
            first = false;
            if (rc == HK_OK && b.len >= 256u * 1024u) rc = flush(out, &b, err);
            if (rc != HK_OK) break;
        }
    }
    if (rc == HK_OK) rc = flush(out, &b, err);
    if (rc == HK_OK && fflush(out) != 0)
        rc = hk_error_set(err, HK_ERR_IO, "cannot write the export: %s",
                          strerror(errno));
    json_decref(g);
    hk_buf_free(&b);
    return rc;
}
