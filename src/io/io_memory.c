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
 * (EntityType, Observation, Relation; a repeated line or text is a copy,
 * as the reference keeps it) through the import driver, so a
 * large memory is streamed in batches with one audit entry per batch; an
 * invalid line is rejected with its reason and the import goes on.
 * Export writes the same layout back (compact JSON as JSON.stringify
 * writes it), so a file written by the reference server round-trips.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/buf.h"
#include "core/mem.h"
#include "io/io_internal.h"
#include "service/svc_memory.h"

/* ==== Import ==== */

/* Repeated lines are copies, as in the reference (svc_memory.h): the k-th
 * entity line of a name is entity object k, the j-th equal relation line
 * occurrence j, the j-th repetition of a text in one observation list
 * occurrence j. Counted per file, so that importing a file again (a
 * takeover retried) adds nothing. */
struct io_mem_state {
    json_t *names; /* stored name -> entity lines stored so far */
    json_t *rels;  /* stored from 0x1f type 0x1f to -> lines so far */
    json_t *occ;   /* the current line: stored text -> occurrences */
    hk_buf key;    /* scratch */
};

io_mem_state *io_mem_new(void)
{
    io_mem_state *st = hk_calloc(1, sizeof *st);
    if (st == NULL) return NULL;
    st->names = json_object();
    st->rels = json_object();
    st->occ = json_object();
    if (!st->names || !st->rels || !st->occ) {
        io_mem_free(st);
        return NULL;
    }
    return st;
}

void io_mem_free(io_mem_state *st)
{
    if (st == NULL) return;
    json_decref(st->names);
    json_decref(st->rels);
    json_decref(st->occ);
    hk_buf_free(&st->key);
    hk_free(st);
}

static uint64_t count_of(const json_t *counts, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(counts, key));
}

static hk_err set_count(json_t *counts, const char *key, uint64_t n,
                        hk_error *err)
{
    if (json_object_set_new(counts, key, json_integer((json_int_t)n)) != 0)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* Adds the fact of copy / occurrence occ of a memory item for one line; a
 * text that cannot be stored rejects the line's remaining facts. The
 * stored texts stay in enc (enc[0] the name, enc[1] the second text). */
static hk_err add_fact(io_import *im, uint64_t line_no, const char *pred,
                       const char *const *texts, uint64_t copy, uint64_t occ,
                       hk_buf *enc, const char *line, size_t len,
                       bool *rejected, hk_error *err)
{
    hk_statement st;
    hk_error e;
    hk_err rc = hk_svc_mem_statement(pred, texts, copy, occ, enc, &st, &e);
    if (rc == HK_ERR_INVALID) {
        *rejected = true;
        return io_import_reject(im, line_no, e.message, line, len, err);
    }
    if (rc != HK_OK) return io_fatal(err, &e, rc);
    return io_import_add(im, line_no, &st, NULL, line, len, err);
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The key of a relation: its stored texts joined by 0x1f (a stored text
 * holds no control character). */
static hk_err rel_key(hk_buf *key, hk_buf *enc, hk_error *err)
{
    hk_buf_reset(key);
    hk_err rc = HK_OK;
    for (int i = 0; rc == HK_OK && i < 3; i++) {
        if (i) rc = hk_buf_append(key, "\x1f", 1);
        if (rc == HK_OK) rc = hk_buf_append(key, enc[i].data, enc[i].len);
    }
    if (rc == HK_OK) rc = hk_buf_reserve(key, 1);
    return rc == HK_OK ? HK_OK
                       : hk_error_set(err, HK_ERR_NOMEM, "out of memory");
}

static hk_err import_entity(io_import *im, io_mem_state *ms, uint64_t line_no,
                            const json_t *obj, hk_buf *enc, const char *line,
                            size_t len, hk_error *err)
{
    const char *name = str_of(obj, "name");
    const char *etype = str_of(obj, "entityType");
    json_t *obs = json_object_get(obj, "observations");
    bool ok = name && etype && json_is_array(obs);
    size_t i;
    json_t *o;
    json_array_foreach(obs, i, o) ok = ok && json_is_string(o);
    if (!ok)
        return io_import_reject(im, line_no,
                                "an entity needs name, entityType (strings) "
                                "and observations (array of strings)",
                                line, len, err);
    const char *t2[2] = {name, etype};
    bool rejected = false;
    hk_error e;
    /* the copy number: entity lines of this name stored so far + 1 */
    hk_err rc = hk_svc_mem_encode(name, &enc[0], &e);
    uint64_t k = rc == HK_OK ? count_of(ms->names, enc[0].data) + 1 : 1;
    if (rc == HK_OK || rc == HK_ERR_INVALID)
        rc = add_fact(im, line_no, HK_MEM_PRED_TYPE, t2, k, 1, enc, line, len,
                      &rejected, err);
    else
        rc = io_fatal(err, &e, rc);
    if (rc != HK_OK || rejected) return rc;
    if ((rc = set_count(ms->names, enc[0].data, k, err)) != HK_OK) return rc;
    json_object_clear(ms->occ);
    json_array_foreach(obs, i, o)
    {
        const char *ot[2] = {name, json_string_value(o)};
        if ((rc = hk_svc_mem_encode(ot[1], &enc[1], &e)) == HK_ERR_INVALID) {
            return add_fact(im, line_no, HK_MEM_PRED_OBS, ot, k, 1, enc, line,
                            len, &rejected, err); /* rejects the line */
        }
        if (rc != HK_OK) return io_fatal(err, &e, rc);
        uint64_t j = count_of(ms->occ, enc[1].data) + 1;
        if ((rc = set_count(ms->occ, enc[1].data, j, err)) != HK_OK ||
            (rc = add_fact(im, line_no, HK_MEM_PRED_OBS, ot, k, j, enc, line,
                           len, &rejected, err)) != HK_OK ||
            rejected)
            break;
    }
    return rc;
}

static hk_err import_relation(io_import *im, io_mem_state *ms, uint64_t line_no,
                              const json_t *obj, hk_buf *enc, const char *line,
                              size_t len, hk_error *err)
{
    const char *t3[3] = {str_of(obj, "from"), str_of(obj, "relationType"),
                         str_of(obj, "to")};
    if (!t3[0] || !t3[1] || !t3[2])
        return io_import_reject(im, line_no,
                                "a relation needs from, to and "
                                "relationType (strings)",
                                line, len, err);
    hk_statement st;
    hk_error e;
    bool rejected = false;
    hk_err rc = hk_svc_mem_statement(HK_MEM_PRED_REL, t3, 1, 1, enc, &st, &e);
    if (rc == HK_ERR_INVALID) /* rejects the line */
        return add_fact(im, line_no, HK_MEM_PRED_REL, t3, 1, 1, enc, line, len,
                        &rejected, err);
    if (rc != HK_OK) return io_fatal(err, &e, rc);
    if ((rc = rel_key(&ms->key, enc, err)) != HK_OK) return rc;
    uint64_t j = count_of(ms->rels, ms->key.data) + 1;
    if ((rc = set_count(ms->rels, ms->key.data, j, err)) != HK_OK) return rc;
    return add_fact(im, line_no, HK_MEM_PRED_REL, t3, 1, j, enc, line, len,
                    &rejected, err);
}

hk_err io_memory_import_line(io_import *im, io_mem_state *ms, uint64_t line_no,
                             char *line, size_t len, hk_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    char why[300];
    if (!obj) {
        snprintf(why, sizeof why, "invalid JSON at column %d: %s", jerr.column,
                 jerr.text);
        return io_import_reject(im, line_no, why, line, len, err);
    }
    hk_buf enc[HK_MEM_N_ENC] = {HK_BUF_INIT, HK_BUF_INIT, HK_BUF_INIT,
                                HK_BUF_INIT};
    hk_err rc = HK_OK;
    const char *type = str_of(obj, "type");
    if (type && strcmp(type, "entity") == 0) {
        rc = import_entity(im, ms, line_no, obj, enc, line, len, err);
    } else if (type && strcmp(type, "relation") == 0) {
        rc = import_relation(im, ms, line_no, obj, enc, line, len, err);
    } else {
        /* the reference server skips such lines when it loads the file */
        rc = io_import_reject(im, line_no,
                              "type is neither \"entity\" nor \"relation\"",
                              line, len, err);
    }
    for (int i = 0; i < HK_MEM_N_ENC; i++)
        hk_buf_free(&enc[i]);
    json_decref(obj);
    return rc;
}

/* ==== Export ==== */

/* Appends v as compact JSON the way JSON.stringify writes it (jansson
 * writes \u escapes with upper-case hex; JavaScript with lower case). */
static hk_err append_json(hk_buf *b, const json_t *v)
{
    char *s = hk_json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
