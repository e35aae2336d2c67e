/*
 * svc_memory.c — the operations of the reference MCP memory server over
 * hakgal facts (mapping and encoding: svc_memory.h).
 *
 * Semantics follow @modelcontextprotocol/server-memory 2026.8.31:
 *  - create_entities skips an entity whose name exists before the call
 *    and returns the ones it created; create_relations likewise for an
 *    existing (from, to, relationType); relations may name entities that
 *    do not exist. What one call repeats is kept: the k-th object of a new
 *    name is copy k, the j-th equal new relation occurrence j, the j-th
 *    repetition of a text in one observation list occurrence j (the facts
 *    of copies: svc_memory.h).
 *  - add_observations fails as a whole when one entity is unknown and
 *    otherwise returns, per entry, the texts that the first object of that
 *    name did not hold yet (with their repetitions in the entry), and adds
 *    them to that object.
 *  - delete_* never fail on missing items; deleting an entity deletes
 *    every object of that name, their observations and every relation
 *    from or to it; delete_observations removes every occurrence of a
 *    text from the first object; delete_relations every occurrence.
 *  - search_nodes matches case-insensitively (JavaScript's toLowerCase)
 *    on name, type and observations of each object; search_nodes and
 *    open_nodes return every relation with at least one end among the
 *    names of the returned entities.
 *
 * Every write runs inside the caller's write transaction, so several
 * clients writing at once are serialised by the store and lose nothing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>

#include "core/buf.h"
#include "core/mem.h"
#include "service/service.h"
#include "service/svc_memory.h"

/* ==== Text encoding ==== */

static bool needs_escape(const char *s)
{
    if (s[0] == '\0' || s[0] == '%') return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return true;
    return false;
}

hk_err hk_svc_mem_encode(const char *text, hk_buf *out, hk_error *err)
{
    hk_buf_reset(out);
    hk_err rc = HK_OK;
    if (!needs_escape(text)) {
        rc = hk_buf_append_str(out, text);
    } else {
        rc = hk_buf_append(out, "%", 1);
        for (const unsigned char *p = (const unsigned char *)text;
             rc == HK_OK && *p; p++) {
            if (*p < 0x20 || *p == 0x7f || *p == '%')
                rc = hk_buf_appendf(out, "%%%02X", *p);
            else
                rc = hk_buf_append(out, p, 1);
        }
    }
    if (rc != HK_OK) return hk_error_set(err, rc, "memory: out of memory");
    if (out->len > HK_MAX_ARG_BYTES)
        return hk_error_set(err, HK_ERR_INVALID,
                            "memory: a text of %zu bytes is over the limit "
                            "of %d bytes",
                            out->len, HK_MAX_ARG_BYTES);
    return HK_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

hk_err hk_svc_mem_decode(const char *stored, hk_buf *out)
{
    hk_buf_reset(out);
    hk_err rc = hk_buf_reserve(out, 1);
    if (rc != HK_OK || stored[0] != '%')
        return rc != HK_OK ? rc : hk_buf_append_str(out, stored);
    for (const char *p = stored + 1; rc == HK_OK && *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 &&
            (lo = hexval(p[2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            rc = hk_buf_append(out, &c, 1);
            p += 2;
        } else {
            rc = hk_buf_append(out, p, 1);
        }
    }
    return rc;
}

/* ==== Copies: the "#N" marks ==== */

/* Parses "#N" (N >= min, decimal without leading zero) into *v. */
static bool parse_mark(const char *s, uint64_t min, uint64_t *v)
{
    if (s[0] != '#' || s[1] < '1' || s[1] > '9') return false;
    uint64_t x = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10) return false;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return x >= min;
}

bool hk_svc_mem_classify(const hk_statement *st, uint64_t *copy, uint64_t *occ)
{
    bool rel = strcmp(st->predicate, HK_MEM_PRED_REL) == 0;
    bool obs = strcmp(st->predicate, HK_MEM_PRED_OBS) == 0;
    if (!rel && !obs && strcmp(st->predicate, HK_MEM_PRED_TYPE) != 0)
        return false;
    *copy = *occ = 1;
    if (st->n_args == (rel ? 3u : 2u)) return true;
    if (rel) return st->n_args == 4 && parse_mark(st->args[3], 2, occ);
    if (st->n_args == 3) return parse_mark(st->args[2], 2, copy);
    return obs && st->n_args == 4 && parse_mark(st->args[2], 1, copy) &&
           parse_mark(st->args[3], 2, occ);
}

hk_err hk_svc_mem_statement(const char *pred, const char *const *texts,
                            uint64_t copy, uint64_t occ,
                            hk_buf enc[HK_MEM_N_ENC], hk_statement *st,
                            hk_error *err)
{
    bool rel = strcmp(pred, HK_MEM_PRED_REL) == 0;
    uint32_t n = rel ? 3 : 2;
    memset(st, 0, sizeof *st);
    st->predicate = pred;
    for (uint32_t i = 0; i < n; i++) {
        hk_err rc = hk_svc_mem_encode(texts[i], &enc[i], err);
        if (rc != HK_OK) return rc;
        st->args[i] = enc[i].data;
    }
    uint64_t marks[2];
    uint32_t n_marks = 0;
    if (occ >= 2) {
        if (!rel) marks[n_marks++] = copy;
        marks[n_marks++] = occ;
    } else if (!rel && copy >= 2) {
        marks[n_marks++] = copy;
    }
    for (uint32_t i = 0; i < n_marks; i++, n++) {
        hk_buf_reset(&enc[n]);
        if (hk_buf_appendf(&enc[n], "#%" PRIu64, marks[i]) != HK_OK)
            return hk_error_set(err, HK_ERR_NOMEM, "memory: out of memory");
        st->args[n] = enc[n].data;
    }
    st->n_args = n;
    return HK_OK;
}

/* ==== Store helpers ==== */

/* Encoded texts of one statement. */
typedef struct mem_st {
    hk_buf enc[HK_MEM_N_ENC]; /* stored forms of the arguments */
    hk_statement st;          /* predicate and arguments pointing into enc */
} mem_st;

/* The fact of copy / occurrence occ of an item (hk_svc_mem_statement). */
static hk_err mem_st_mark(mem_st *m, const char *pred, const char *const *texts,
                          uint64_t copy, uint64_t occ, hk_error *err)
{
    return hk_svc_mem_statement(pred, texts, copy, occ, m->enc, &m->st, err);
}

static hk_err mem_st_set(mem_st *m, const char *pred, const char *const *texts,
                         hk_error *err)
{
    return mem_st_mark(m, pred, texts, 1, 1, err);
}

static void mem_st_free(mem_st *m)
{
    for (int i = 0; i < HK_MEM_N_ENC; i++)
        hk_buf_free(&m->enc[i]);
}

/* *found: the fact exists (its id in *id). */
static hk_err mem_find(hk_txn *t, const mem_st *m, hk_fact_id *id, bool *found,
                       hk_error *err)
{
    hk_err rc = hk_store_find(t, &m->st, id, err);
    *found = rc == HK_OK;
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        rc = HK_OK;
    }
    return rc;
}

/* Adds the fact of m; *created false when it was there. */
static hk_err mem_add(hk_txn *t, const mem_st *m, bool *created, hk_error *err)
{
    hk_fact_id id;
    return hk_store_add(t, &m->st, NULL, &id, created, err);
}

/* Ids of the facts of pred/arity (0: any) that hold the stored text enc
 * at pos; with items_only, only the memory items among them
 * (hk_svc_mem_classify). */
typedef struct id_vec {
    hk_fact_id *v; /* ids */
    size_t n;      /* used */
    size_t cap;    /* allocated */
} id_vec;

static hk_err ids_push(id_vec *out, hk_fact_id id, hk_error *err)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        hk_fact_id *v = hk_realloc(out->v, cap * sizeof *v);
        if (!v) return hk_error_set(err, HK_ERR_NOMEM, "memory: out of memory");
        out->v = v;
        out->cap = cap;
    }
    out->v[out->n++] = id;
    return HK_OK;
}

static hk_err ids_scan(hk_txn *t, const char *pred, uint32_t arity,
                       const char *enc, int pos, bool items_only, id_vec *out,
                       hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = pred;
    scan.arity = arity;
    scan.entity = enc;
    scan.position = pos;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK) {
        bool has = false;
        hk_fact_id id;
        uint64_t copy, occ;
        if (items_only) {
            if ((rc = hk_query_next(q, &f, &has, err)) != HK_OK || !has) break;
            if (!hk_svc_mem_classify(&f.st, &copy, &occ)) continue;
            id = f.id;
        } else if ((rc = hk_query_next_id(q, &id, &has, err)) != HK_OK ||
                   !has) {
            break;
        }
        rc = ids_push(out, id, err);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

/* Ids of the further occurrences (j >= 2) of the item m holds (its first
 * occurrence, copy 1): the facts m's arguments plus "#1" (observations)
 * and one more argument that are memory items. */
static hk_err ids_more(hk_txn *t, const mem_st *m, id_vec *out, hk_error *err)
{
    bool rel = strcmp(m->st.predicate, HK_MEM_PRED_REL) == 0;
    hk_pattern p;
    memset(&p, 0, sizeof p);
    p.predicate.kind = HK_TERM_CONST;
    p.predicate.text = m->st.predicate;
    p.n_args = m->st.n_args + (rel ? 1 : 2);
    for (uint32_t i = 0; i < p.n_args; i++) {
        bool copy_slot = !rel && i == m->st.n_args; /* "#1": the first object */
        p.args[i].kind =
            i < m->st.n_args || copy_slot ? HK_TERM_CONST : HK_TERM_ANY;
        p.args[i].text = i < m->st.n_args ? m->st.args[i]
                         : copy_slot      ? "#1"
                                          : NULL;
    }
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_pattern(t, &p, NULL, &q, err);
    while (rc == HK_OK) {
        bool has = false;
        uint64_t copy, occ;
        if ((rc = hk_query_next(q, &f, &has, err)) != HK_OK || !has) break;
        if (hk_svc_mem_classify(&f.st, &copy, &occ) && copy == 1 && occ >= 2)
            rc = ids_push(out, f.id, err);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

/* True when an entity of that stored name exists. */
static hk_err entity_exists(hk_txn *t, const char *enc, bool *yes,
                            hk_error *err)
{
    id_vec ids = {0};
    hk_err rc = ids_scan(t, HK_MEM_PRED_TYPE, 2, enc, 0, false, &ids, err);
    *yes = ids.n > 0;
    hk_free(ids.v);
    return rc;
}

static hk_err delete_ids(hk_txn *t, const id_vec *ids, hk_error *err)
{
    for (size_t i = 0; i < ids->n; i++) {
        hk_err rc = hk_store_delete(t, ids->v[i], err);
        if (rc == HK_ERR_NOT_FOUND) { /* listed twice (from == to) */
            hk_error_clear(err);
            continue;
        }
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ==== Writes ==== */

static hk_err nomem(hk_error *err)
{
    return hk_error_set(err, HK_ERR_NOMEM, "memory: out of memory");
}

/* Counts per key of what this call made (copies of an entity, occurrences
 * of a text or relation): ++counts[key] into *n. */
static hk_err count_up(json_t *counts, const char *key, uint64_t *n,
                       hk_error *err)
{
    *n = (uint64_t)json_integer_value(json_object_get(counts, key)) + 1;
    if (json_object_set_new(counts, key, json_integer((json_int_t)*n)) != 0)
        return nomem(err);
    return HK_OK;
}

/* The key of an item: its stored arguments joined by 0x1f (a stored text
 * holds no control character). */
static hk_err item_key(const mem_st *m, hk_buf *key, hk_error *err)
{
    hk_buf_reset(key);
    hk_err rc = hk_buf_reserve(key, 1);
    for (uint32_t i = 0; rc == HK_OK && i < m->st.n_args; i++) {
        if (i) rc = hk_buf_append(key, "\x1f", 1);
        if (rc == HK_OK) rc = hk_buf_append_str(key, m->st.args[i]);
    }
    return rc == HK_OK ? HK_OK : nomem(err);
}

/* Adds the observations obs (strings) to the new entity object copy of
 * name: the j-th occurrence of a text in obs is occurrence j. */
static hk_err add_obs_list(hk_txn *t, const char *name, uint64_t copy,
                           const json_t *obs, mem_st *m, hk_error *err)
{
    json_t *occ = json_object();
    if (!occ) return nomem(err);
    hk_err rc = HK_OK;
    size_t j;
    json_t *o;
    json_array_foreach(obs, j, o)
    {
        const char *ot[2] = {name, json_string_value(o)};
        uint64_t n = 0;
        bool created;
        if ((rc = mem_st_set(m, HK_MEM_PRED_OBS, ot, err)) != HK_OK ||
            (rc = count_up(occ, m->st.args[1], &n, err)) != HK_OK ||
            (rc = mem_st_mark(m, HK_MEM_PRED_OBS, ot, copy, n, err)) != HK_OK ||
            (rc = mem_add(t, m, &created, err)) != HK_OK)
            break;
    }
    json_decref(occ);
    return rc;
}

/* An entity whose name exists before the call is skipped; the k-th object
 * of a new name in this call is copy k. */
static hk_err create_entities(hk_txn *t, json_t *items, json_t *res,
                              hk_error *err)
{
    mem_st m = {0};
    json_t *made = json_object(); /* stored name -> copies made */
    hk_err rc = made ? HK_OK : nomem(err);
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        if (rc != HK_OK) break;
        const char *name = jstr(e, "name"), *type = jstr(e, "entityType");
        const char *texts[2] = {name, type};
        bool exists = false, created;
        uint64_t k = 0;
        if ((rc = mem_st_set(&m, HK_MEM_PRED_TYPE, texts, err)) != HK_OK) break;
        if (!json_object_get(made, m.st.args[0]) &&
            ((rc = entity_exists(t, m.st.args[0], &exists, err)) != HK_OK ||
             exists))
            continue;
        json_t *obs = json_object_get(e, "observations");
        if ((rc = count_up(made, m.st.args[0], &k, err)) != HK_OK ||
            (rc = mem_st_mark(&m, HK_MEM_PRED_TYPE, texts, k, 1, err)) !=
                HK_OK ||
            (rc = mem_add(t, &m, &created, err)) != HK_OK ||
            (rc = add_obs_list(t, name, k, obs, &m, err)) != HK_OK)
            break;
        json_t *copy = json_pack("{s:s, s:s, s:O}", "name", name, "entityType",
                                 type, "observations", obs);
        if (!copy || json_array_append_new(res, copy) != 0) rc = nomem(err);
    }
    json_decref(made);
    mem_st_free(&m);
    return rc;
}

static hk_err relation_st(mem_st *m, const json_t *r, uint64_t occ,
                          hk_error *err)
{
    const char *texts[3] = {jstr(r, "from"), jstr(r, "relationType"),
                            jstr(r, "to")};
    return mem_st_mark(m, HK_MEM_PRED_REL, texts, 1, occ, err);
}

/* A relation that exists before the call is skipped; the j-th equal new
 * relation of this call is occurrence j. */
static hk_err create_relations(hk_txn *t, json_t *items, json_t *res,
                               hk_error *err)
{
    mem_st m = {0};
    hk_buf key = HK_BUF_INIT;
    json_t *made = json_object(); /* item key -> occurrences made */
    hk_err rc = made ? HK_OK : nomem(err);
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        if (rc != HK_OK) break;
        hk_fact_id id;
        bool found = false, created;
        uint64_t j = 0;
        if ((rc = relation_st(&m, r, 1, err)) != HK_OK ||
            (rc = item_key(&m, &key, err)) != HK_OK)
            break;
        if (!json_object_get(made, key.data) &&
            ((rc = mem_find(t, &m, &id, &found, err)) != HK_OK || found))
            continue;
        if ((rc = count_up(made, key.data, &j, err)) != HK_OK ||
            (rc = relation_st(&m, r, j, err)) != HK_OK ||
            (rc = mem_add(t, &m, &created, err)) != HK_OK)
            break;
        json_t *copy =
            json_pack("{s:s, s:s, s:s}", "from", jstr(r, "from"), "to",
                      jstr(r, "to"), "relationType", jstr(r, "relationType"));
        if (!copy || json_array_append_new(res, copy) != 0) rc = nomem(err);
    }
    json_decref(made);
    hk_buf_free(&key);
    mem_st_free(&m);
    return rc;
}

/* Acts on the first object of the name (copy 1): a text it holds is
 * skipped; the others are added with every repetition of the entry. */
static hk_err add_observations(hk_txn *t, json_t *items, json_t *res,
                               hk_error *err)
{
    mem_st m = {0};
    hk_err rc = HK_OK;
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        const char *name = jstr(o, "entityName");
        bool exists = false;
        if ((rc = hk_svc_mem_encode(name, &m.enc[0], err)) != HK_OK ||
            (rc = entity_exists(t, m.enc[0].data, &exists, err)) != HK_OK)
            break;
        if (!exists) {
            rc = hk_error_set(err, HK_ERR_NOT_FOUND,
                              "Entity with name %s not found", name);
            break;
        }
        json_t *added = json_array(), *occ = json_object();
        json_t *row = json_pack("{s:s, s:o}", "entityName", name,
                                "addedObservations", added);
        if (!added || !occ || !row || json_array_append_new(res, row) != 0) {
            json_decref(occ);
            rc = nomem(err);
            break;
        }
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(o, "contents"), j, c)
        {
            if (rc != HK_OK) break;
            const char *ot[2] = {name, json_string_value(c)};
            hk_fact_id id;
            bool found = false, created;
            uint64_t n = 0;
            if ((rc = mem_st_set(&m, HK_MEM_PRED_OBS, ot, err)) != HK_OK) break;
            if (!json_object_get(occ, m.st.args[1]) &&
                ((rc = mem_find(t, &m, &id, &found, err)) != HK_OK || found))
                continue;
            if ((rc = count_up(occ, m.st.args[1], &n, err)) != HK_OK ||
                (rc = mem_st_mark(&m, HK_MEM_PRED_OBS, ot, 1, n, err)) !=
                    HK_OK ||
                (rc = mem_add(t, &m, &created, err)) != HK_OK)
                break;
            if (json_array_append(added, c) != 0) {
                rc = nomem(err);
                break;
            }
        }
        json_decref(occ);
        if (rc != HK_OK) break;
    }
    mem_st_free(&m);
    return rc;
}

/* Every object of each name, its observations, and every relation from or
 * to it. */
static hk_err delete_entities(hk_txn *t, json_t *names, hk_error *err)
{
    hk_buf enc = HK_BUF_INIT;
    id_vec ids = {0};
    hk_err rc = HK_OK;
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        ids.n = 0;
        if ((rc = hk_svc_mem_encode(json_string_value(n), &enc, err)) !=
            HK_OK) {
            /* a name too long to store names no entity */
            hk_error_clear(err);
            rc = HK_OK;
            continue;
        }
        if ((rc = ids_scan(t, HK_MEM_PRED_TYPE, 0, enc.data, 0, true, &ids,
                           err)) != HK_OK ||
            (rc = ids_scan(t, HK_MEM_PRED_OBS, 0, enc.data, 0, true, &ids,
                           err)) != HK_OK ||
            (rc = ids_scan(t, HK_MEM_PRED_REL, 0, enc.data, 0, true, &ids,
                           err)) != HK_OK ||
            (rc = ids_scan(t, HK_MEM_PRED_REL, 0, enc.data, 2, true, &ids,
                           err)) != HK_OK ||
            (rc = delete_ids(t, &ids, err)) != HK_OK)
            break;
    }
    hk_free(ids.v);
    hk_buf_free(&enc);
    return rc;
}

/* Deletes every occurrence of the item m holds (first occurrence, copy
 * 1); a text too long to store (set_rc HK_ERR_INVALID) names nothing that
 * exists. */
static hk_err delete_all(hk_txn *t, mem_st *m, hk_err set_rc, hk_error *err)
{
    if (set_rc == HK_ERR_INVALID) {
        hk_error_clear(err);
        return HK_OK;
    }
    if (set_rc != HK_OK) return set_rc;
    id_vec ids = {0};
    hk_fact_id id = 0;
    bool found = false;
    hk_err rc = mem_find(t, m, &id, &found, err);
    if (rc == HK_OK && found) rc = ids_push(&ids, id, err);
    if (rc == HK_OK) rc = ids_more(t, m, &ids, err);
    if (rc == HK_OK) rc = delete_ids(t, &ids, err);
    hk_free(ids.v);
    return rc;
}

/* Acts on the first object of the name (copy 1), as the reference does. */
static hk_err delete_observations(hk_txn *t, json_t *items, hk_error *err)
{
    mem_st m = {0};
    hk_err rc = HK_OK;
    size_t i;
    json_t *d;
    json_array_foreach(items, i, d)
    {
        const char *name = jstr(d, "entityName");
        size_t j;
        json_t *o;
        json_array_foreach(json_object_get(d, "observations"), j, o)
        {
            const char *ot[2] = {name, json_string_value(o)};
            rc = delete_all(t, &m, mem_st_set(&m, HK_MEM_PRED_OBS, ot, err),
                            err);
            if (rc != HK_OK) goto done;
        }
    }
done:
    mem_st_free(&m);
    return rc;
}

static hk_err delete_relations(hk_txn *t, json_t *items, hk_error *err)
{
    mem_st m = {0};
    hk_err rc = HK_OK;
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        if ((rc = delete_all(t, &m, relation_st(&m, r, 1, err), err)) != HK_OK)
            break;
    }
    mem_st_free(&m);
    return rc;
}

/* ==== Checks before writing ====
 *
 * A write that fails on its input must leave the transaction unchanged:
 * the server's group commit runs several calls in one transaction and
 * keeps the others when one fails with an input error. So every error a
 * call can meet on its input — a text too long to store, an unknown
 * entity in add_observations — is found here, before the first write. */

/* Encodes every string inside v (at most depth levels deep). */
static hk_err check_texts(const json_t *v, int depth, hk_buf *b, hk_error *err)
{
    if (json_is_string(v))
        return hk_svc_mem_encode(json_string_value(v), b, err);
    if (depth <= 0) return HK_OK;
    hk_err rc = HK_OK;
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if ((rc = check_texts(x, depth - 1, b, err)) != HK_OK) break;
        }
    } else if (json_is_object(v)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if ((rc = check_texts(x, depth - 1, b, err)) != HK_OK) break;
        }
    }
    return rc;
}

static hk_err check_write(hk_txn *t, const hk_svc_mem_write *w, hk_error *err)
{
    hk_buf b = HK_BUF_INIT;
    hk_err rc = check_texts(w->args, 4, &b, err); /* args.list[i].field[j] */
    if (rc == HK_OK && w->op == HK_MEM_ADD_OBSERVATIONS) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(w->args, "observations"), i, o)
        {
            const char *name = jstr(o, "entityName");
            bool exists = false;
            if ((rc = hk_svc_mem_encode(name, &b, err)) != HK_OK ||
                (rc = entity_exists(t, b.data, &exists, err)) != HK_OK)
                break;
            if (!exists) {
                rc = hk_error_set(err, HK_ERR_NOT_FOUND,
                                  "Entity with name %s not found", name);
                break;
            }
        }
    }
    hk_buf_free(&b);
    return rc;
}

hk_err hk_svc_mem_apply(hk_txn *t, void *arg, hk_error *err)
{
    hk_svc_mem_write *w = arg;
    json_decref(w->result); /* a retried group commit runs this again */
    w->result = NULL;
    hk_err rc = check_write(t, w, err);
    if (rc != HK_OK) return rc;
    json_t *list = json_array();
    if (!list) return nomem(err);
    const char *key = NULL, *msg = NULL;
    switch (w->op) {
    case HK_MEM_CREATE_ENTITIES:
        key = "entities";
        rc = create_entities(t, json_object_get(w->args, key), list, err);
        break;
    case HK_MEM_CREATE_RELATIONS:
        key = "relations";
        rc = create_relations(t, json_object_get(w->args, key), list, err);
        break;
    case HK_MEM_ADD_OBSERVATIONS:
        key = "results";
        rc = add_observations(t, json_object_get(w->args, "observations"), list,
                              err);
        break;
    case HK_MEM_DELETE_ENTITIES:
        msg = "Entities deleted successfully";
        rc = delete_entities(t, json_object_get(w->args, "entityNames"), err);
        break;
    case HK_MEM_DELETE_OBSERVATIONS:
        msg = "Observations deleted successfully";
        rc = delete_observations(t, json_object_get(w->args, "deletions"), err);
        break;
    case HK_MEM_DELETE_RELATIONS:
        msg = "Relations deleted successfully";
        rc = delete_relations(t, json_object_get(w->args, "relations"), err);
        break;
    default:
        rc = hk_error_set(err, HK_ERR_INVALID, "memory: unknown operation");
    }
    if (rc != HK_OK) {
        json_decref(list);
        return rc;
    }
    if (key)
        w->result = json_pack("{s:o}", key, list);
    else {
        json_decref(list);
        w->result = json_pack("{s:b, s:s}", "success", 1, "message", msg);
    }
    return w->result ? HK_OK : nomem(err);
}

/* ==== Reads ==== */

/* Appends s lower-cased to out: Unicode's full default case conversion
 * (libunistring's u8_tolower without a language: SpecialCasing with its
 * contexts, such as a final sigma), which is what JavaScript's
 * toLowerCase does in the reference server. Text that is not UTF-8 is
 * copied unchanged. */
static hk_err lower_into(const char *s, hk_buf *out)
{
    hk_buf_reset(out);
    size_t n = strlen(s), len = 0;
    uint8_t *l = u8_tolower((const uint8_t *)s, n, NULL, NULL, NULL, &len);
    hk_err rc = l ? hk_buf_append(out, l, len) : hk_buf_append(out, s, n);
    free(l); /* libunistring's memory: libc free */
    return rc;
}

/* What a read keeps. */
typedef struct mem_filter {
    const char *query_lc; /* search: lower-cased query, or NULL */
    const json_t *names;  /* open: requested names, or NULL */
    hk_buf lc;            /* scratch for lower-casing */
    size_t limit;         /* items per page; 0 = everything */
    const char *cursor;   /* where the page starts ("e..."/"r...") or NULL */
    size_t n;             /* items on the page so far */
    hk_buf next;          /* cursor of the next page (empty = last page) */
    bool provenance;      /* add who created each entity and when */
    json_t *copies;       /* or NULL: the copy number of each kept entity */
} mem_filter;

/* The query cursor for one kind of item ('e' entities, 'r' relations):
 * NULL to start at the beginning, "" when this kind is done. */
static const char *cursor_for(const mem_filter *f, char kind)
{
    if (!f->cursor || !f->cursor[0]) return NULL;
    if (f->cursor[0] == kind) return f->cursor + 1;
    return kind == 'e' ? "" : NULL; /* "r...": the entities are done */
}

/* After an item: true when the page is full (next holds the cursor). */
static hk_err page_full(mem_filter *f, hk_query *q, char kind, bool *full)
{
    *full = false;
    if (!f->limit || ++f->n < f->limit) return HK_OK;
    *full = true;
    hk_buf_reset(&f->next);
    hk_err rc = hk_buf_append(&f->next, &kind, 1);
    if (rc == HK_OK) rc = hk_query_cursor(q, &f->next);
    /* the relations, listed last, are exhausted: this is the last page */
    if (rc == HK_OK && kind == 'r' && f->next.len == 1) hk_buf_reset(&f->next);
    return rc;
}

static hk_err contains_lc(mem_filter *f, const char *text, bool *yes)
{
    hk_err rc = lower_into(text, &f->lc);
    *yes = rc == HK_OK && strstr(f->lc.data ? f->lc.data : "", f->query_lc);
    return rc;
}

static bool name_requested(const json_t *names, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        if (strcmp(json_string_value(n), name) == 0) return true;
    }
    return false;
}

/* Observations of entity object copy of the name stored as enc into a
 * new array. */
static hk_err observations_of(hk_txn *t, const char *enc, uint64_t copy,
                              json_t **out, hk_error *err)
{
    *out = json_array();
    if (!*out) return nomem(err);
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = HK_MEM_PRED_OBS;
    scan.entity = enc;
    scan.position = 0;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf text = HK_BUF_INIT;
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    while (rc == HK_OK) {
        bool has = false;
        if ((rc = hk_query_next(q, &f, &has, err)) != HK_OK || !has) break;
        uint64_t k, occ;
        if (!hk_svc_mem_classify(&f.st, &k, &occ) || k != copy) continue;
        if ((rc = hk_svc_mem_decode(f.st.args[1], &text)) != HK_OK ||
            json_array_append_new(*out, json_string(text.data)) != 0)
            rc = nomem(err);
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&text);
    return rc;
}

/* Sets e.provenance = {"createdBy", "createdAt"} from the audit entry
 * that created the entity's EntityType fact. */
static hk_err add_provenance(hk_txn *t, const hk_fact *f, json_t *e,
                             hk_error *err)
{
    hk_audit_entry *v = NULL;
    size_t n = 0;
    hk_err rc = hk_audit_history(t, f->id, 0, 1, &v, &n, err);
    if (rc != HK_OK) return rc;
    char when[32];
    hk_time_format(n ? v[0].time_us : f->created_us, when);
    json_t *p = json_pack("{s:s, s:s}", "createdBy", n ? v[0].actor : "",
                          "createdAt", when);
    hk_audit_entries_free(v, n);
    if (!p || json_object_set_new(e, "provenance", p) != 0) return nomem(err);
    return HK_OK;
}

/* The kept entities into ents and their names as keys of names_set. */
static hk_err read_entities(hk_txn *t, mem_filter *flt, json_t *ents,
                            json_t *names_set, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = HK_MEM_PRED_TYPE;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf name = HK_BUF_INIT, type = HK_BUF_INIT;
    const char *cur = cursor_for(flt, 'e');
    if (cur && !cur[0]) return HK_OK; /* the page starts at the relations */
    hk_err rc = hk_query_open_scan(t, &scan, cur, &q, err);
    if (rc == HK_ERR_INVALID && err)
        snprintf(err->field, sizeof err->field, "cursor");
    while (rc == HK_OK) {
        bool has = false;
        if ((rc = hk_query_next(q, &f, &has, err)) != HK_OK || !has) break;
        uint64_t copy, occ;
        if (!hk_svc_mem_classify(&f.st, &copy, &occ)) continue;
        json_t *obs = NULL;
        if ((rc = hk_svc_mem_decode(f.st.args[0], &name)) != HK_OK ||
            (rc = hk_svc_mem_decode(f.st.args[1], &type)) != HK_OK) {
            rc = nomem(err);
            break;
        }
        if (flt->names && !name_requested(flt->names, name.data)) continue;
        if ((rc = observations_of(t, f.st.args[0], copy, &obs, err)) != HK_OK) {
            json_decref(obs);
            break;
        }
        bool keep = true;
        if (flt->query_lc) {
            bool a = false, b = false;
            if ((rc = contains_lc(flt, name.data, &a)) == HK_OK && !a)
                rc = contains_lc(flt, type.data, &b);
            keep = a || b;
            size_t i;
            json_t *o;
            json_array_foreach(obs, i, o)
            {
                if (keep || rc != HK_OK) break;
                rc = contains_lc(flt, json_string_value(o), &keep);
            }
            if (rc != HK_OK) {
                json_decref(obs);
                rc = nomem(err);
                break;
            }
        }
        if (!keep) {
            json_decref(obs);
            continue;
        }
        json_t *e = json_pack("{s:s, s:s, s:o}", "name", name.data,
                              "entityType", type.data, "observations", obs);
        if (e && flt->provenance &&
            (rc = add_provenance(t, &f, e, err)) != HK_OK) {
            json_decref(e);
            break;
        }
        if (!e || json_array_append_new(ents, e) != 0 ||
            (flt->copies &&
             json_array_append_new(flt->copies,
                                   json_integer((json_int_t)copy)) != 0) ||
            json_object_set_new(names_set, name.data, json_true()) != 0) {
            rc = nomem(err);
            break;
        }
        bool full = false;
        if ((rc = page_full(flt, q, 'e', &full)) != HK_OK) {
            rc = nomem(err);
            break;
        }
        if (full) break;
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&name);
    hk_buf_free(&type);
    return rc;
}

/* Relations into rels: all of them (names_set NULL) or those with an end
 * in names_set. */
static hk_err read_relations(hk_txn *t, mem_filter *flt,
                             const json_t *names_set, json_t *rels,
                             hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    scan.predicate = HK_MEM_PRED_REL;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf from = HK_BUF_INIT, type = HK_BUF_INIT, to = HK_BUF_INIT;
    /* relations are paged only when they are listed whole (read_graph) */
    bool paged = flt->limit && !names_set;
    if (paged && flt->next.len) return HK_OK; /* the entities filled it */
    const char *cur = paged ? cursor_for(flt, 'r') : NULL;
    if (cur && !cur[0]) return HK_OK; /* no relations left */
    hk_err rc = hk_query_open_scan(t, &scan, cur, &q, err);
    if (rc == HK_ERR_INVALID && err)
        snprintf(err->field, sizeof err->field, "cursor");
    while (rc == HK_OK) {
        bool has = false;
        if ((rc = hk_query_next(q, &f, &has, err)) != HK_OK || !has) break;
        uint64_t copy, occ;
        if (!hk_svc_mem_classify(&f.st, &copy, &occ)) continue;
        if (hk_svc_mem_decode(f.st.args[0], &from) != HK_OK ||
            hk_svc_mem_decode(f.st.args[1], &type) != HK_OK ||
            hk_svc_mem_decode(f.st.args[2], &to) != HK_OK) {
            rc = nomem(err);
            break;
        }
        if (names_set && !json_object_get(names_set, from.data) &&
            !json_object_get(names_set, to.data))
            continue;
        json_t *r = json_pack("{s:s, s:s, s:s}", "from", from.data, "to",
                              to.data, "relationType", type.data);
        if (!r || json_array_append_new(rels, r) != 0) {
            rc = nomem(err);
            break;
        }
        bool full = false;
        if (paged && (rc = page_full(flt, q, 'r', &full)) != HK_OK) {
            rc = nomem(err);
            break;
        }
        if (full) break;
    }
    hk_query_close(q);
    hk_fact_release(&f);
    hk_buf_free(&from);
    hk_buf_free(&type);
    hk_buf_free(&to);
    return rc;
}

static hk_err read_filtered(hk_txn *t, mem_filter *flt, bool all_relations,
                            json_t **out, hk_error *err)
{
    *out = NULL;
    json_t *ents = json_array(), *rels = json_array(), *set = json_object();
    hk_err rc = (ents && rels && set) ? HK_OK : nomem(err);
    if (rc == HK_OK) rc = read_entities(t, flt, ents, set, err);
    if (rc == HK_OK)
        rc = read_relations(t, flt, all_relations ? NULL : set, rels, err);
    if (rc == HK_OK) {
        *out = json_pack("{s:O, s:O}", "entities", ents, "relations", rels);
        if (!*out) rc = nomem(err);
    }
    if (rc == HK_OK && flt->limit && flt->next.len &&
        json_object_set_new(*out, "nextCursor", json_string(flt->next.data)))
        rc = nomem(err);
    json_decref(ents);
    json_decref(rels);
    json_decref(set);
    hk_buf_free(&flt->lc);
    hk_buf_free(&flt->next);
    return rc;
}

hk_err hk_svc_mem_read_graph(hk_txn *t, json_t **out, hk_error *err)
{
    mem_filter flt;
    memset(&flt, 0, sizeof flt);
    return read_filtered(t, &flt, true, out, err);
}

/* ==== Ranked search ====
 *
 * search_nodes with rank: true keeps the reference's set of entities (the
 * substring match above) and only orders it. Each entity scores the sum
 * of the BM25 scores (hk_store_search, src/store/search.c) of its
 * EntityType and Observation facts among the first RANK_MAX_HITS hits of
 * the query; entities without a hit (a substring inside a word, which the
 * token index does not see) follow with score 0. Ties keep creation
 * order (the sort is stable by position). */

#define RANK_MAX_HITS 10000u /* hits of hk_store_search considered */

typedef struct ranked {
    json_t *entity; /* borrowed from the answer */
    double score;   /* sum of its facts' scores */
    size_t pos;     /* position in creation order */
} ranked;

static int ranked_cmp(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The key of entity object copy of name in the scores: "copy:name". */
static hk_err score_key(uint64_t copy, const char *name, hk_buf *key)
{
    hk_buf_reset(key);
    return hk_buf_appendf(key, "%" PRIu64 ":%s", copy, name);
}

/* Scores per entity object into scores ({score_key: real}). */
static hk_err entity_scores(hk_txn *t, const char *query, json_t *scores,
                            hk_error *err)
{
    hk_search_hit *hits = NULL;
    size_t n = 0;
    hk_err rc = hk_store_search(t, query, RANK_MAX_HITS, &hits, &n, err);
    if (rc != HK_OK) return rc;
    hk_fact f;
    hk_fact_init(&f);
    hk_buf name = HK_BUF_INIT, key = HK_BUF_INIT;
    for (size_t i = 0; i < n && rc == HK_OK; i++) {
        if ((rc = hk_store_get(t, hits[i].id, &f, err)) != HK_OK) break;
        uint64_t copy, occ;
        if (strcmp(f.st.predicate, HK_MEM_PRED_REL) == 0 ||
            !hk_svc_mem_classify(&f.st, &copy, &occ))
            continue;
        if (hk_svc_mem_decode(f.st.args[0], &name) != HK_OK ||
            score_key(copy, name.data, &key) != HK_OK) {
            rc = nomem(err);
            break;
        }
        double sum =
            json_real_value(json_object_get(scores, key.data)) + hits[i].score;
        if (json_object_set_new(scores, key.data, json_real(sum)) != 0)
            rc = nomem(err);
    }
    hk_fact_release(&f);
    hk_buf_free(&name);
    hk_buf_free(&key);
    hk_free(hits);
    return rc;
}

/* Orders the entities of a search answer by relevance to query; copies
 * holds the copy number of each entity. */
static hk_err rank_entities(hk_txn *t, const char *query, json_t *answer,
                            const json_t *copies, hk_error *err)
{
    json_t *ents = json_object_get(answer, "entities");
    size_t n = json_array_size(ents);
    if (n < 2) return HK_OK;
    json_t *scores = json_object();
    ranked *r = hk_calloc(n, sizeof *r);
    hk_buf key = HK_BUF_INIT;
    hk_err rc = scores && r ? HK_OK : nomem(err);
    if (rc == HK_OK) rc = entity_scores(t, query, scores, err);
    for (size_t i = 0; rc == HK_OK && i < n; i++) {
        const char *name =
            json_string_value(json_object_get(json_array_get(ents, i), "name"));
        uint64_t copy = (uint64_t)json_integer_value(json_array_get(copies, i));
        if (score_key(copy, name ? name : "", &key) != HK_OK) rc = nomem(err);
        r[i].score = json_real_value(json_object_get(scores, key.data));
        r[i].pos = i;
    }
    if (rc == HK_OK) {
        for (size_t i = 0; i < n; i++)
            r[i].entity = json_incref(json_array_get(ents, i));
        qsort(r, n, sizeof *r, ranked_cmp);
        json_array_clear(ents);
        for (size_t i = 0; i < n; i++) { /* append_new takes the ref */
            if (rc != HK_OK)
                json_decref(r[i].entity);
            else if (json_array_append_new(ents, r[i].entity) != 0)
                rc = nomem(err);
        }
    }
    json_decref(scores);
    hk_buf_free(&key);
    hk_free(r);
    return rc;
}

hk_err hk_svc_mem_view(hk_txn *t, const hk_svc_mem_view_req *req, json_t **out,
                       hk_error *err)
{
    *out = NULL;
    const char *cursor = req->cursor;
    bool whole = !req->query && !req->names; /* read_graph */
    if (req->rank && (!req->query || req->limit || cursor)) {
        hk_error_set(err, HK_ERR_INVALID,
                     "rank: only for search_nodes, without limit or cursor");
        if (err) snprintf(err->field, sizeof err->field, "rank");
        return HK_ERR_INVALID;
    }
    if (cursor && cursor[0] && cursor[0] != 'e' &&
        (!whole || cursor[0] != 'r')) {
        hk_error_set(err, HK_ERR_INVALID, "cursor: not a cursor of this list");
        if (err) snprintf(err->field, sizeof err->field, "cursor");
        return HK_ERR_INVALID;
    }
    hk_buf q = HK_BUF_INIT;
    if (req->query && (lower_into(req->query, &q) != HK_OK ||
                       hk_buf_reserve(&q, 1) != HK_OK)) {
        hk_buf_free(&q);
        return nomem(err);
    }
    mem_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.query_lc = req->query ? q.data : NULL;
    flt.names = req->names;
    flt.limit = req->names ? 0 : req->limit;
    flt.cursor = req->names ? NULL : cursor;
    flt.provenance = req->provenance;
    flt.copies = req->rank ? json_array() : NULL;
    hk_err rc = req->rank && !flt.copies ? nomem(err) : HK_OK;
    if (rc == HK_OK) rc = read_filtered(t, &flt, whole, out, err);
    if (rc == HK_OK && req->rank)
        rc = rank_entities(t, req->query, *out, flt.copies, err);
    if (rc != HK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    json_decref(flt.copies);
    hk_buf_free(&q);
    return rc;
}

hk_err hk_svc_mem_search(hk_txn *t, const char *query, json_t **out,
                         hk_error *err)
{
    hk_buf q = HK_BUF_INIT;
    if (lower_into(query, &q) != HK_OK || hk_buf_reserve(&q, 1) != HK_OK) {
        hk_buf_free(&q);
        return nomem(err);
    }
    mem_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.query_lc = q.data;
    hk_err rc = read_filtered(t, &flt, false, out, err);
    hk_buf_free(&q);
    return rc;
}

hk_err hk_svc_mem_open(hk_txn *t, const json_t *names, json_t **out,
                       hk_error *err)
{
    mem_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.names = names;
    return read_filtered(t, &flt, false, out, err);
}
