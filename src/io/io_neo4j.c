/*
 * io_neo4j.c — exports for Neo4j: the CSV files of `neo4j-admin database
 * import full` and a Cypher script for a running server.
 *
 * Graph model (the one of GraphML and JSON graph, docs/INTERCHANGE.md):
 *   - an entity (distinct argument value) is a node :Entity {name}, with a
 *     numeric property value when the name is a number;
 *   - a binary fact P(a, b) is a relationship (a)-[:P {fact, confidence,
 *     source}]->(b), so that Cypher reads as the KB does;
 *   - a fact of any other arity is a node :Fact {id, predicate, arity,
 *     confidence, source} with a relationship [:ARGi {position: i}] to the
 *     entity at each position i.
 *
 * CSV (one directory): entities.csv and facts.csv are node files,
 * relationships.csv the relationship file, in neo4j-admin's header format
 * (id:ID, :LABEL, :START_ID, :END_ID, :TYPE, name:type properties). Ids
 * are "e:" + name and "f:" + fact id in one id space. Fields are quoted
 * with '"' and inner quotes doubled; statements hold no control
 * characters, so no field spans lines. import.sh holds the command.
 *
 * Cypher: uniqueness constraints, then batches of up to IO_CYPHER_BATCH
 * facts as `UNWIND [...] AS r MERGE ...`, one statement per relationship
 * type (binary) or arity (n-ary) within a batch, since Cypher cannot take
 * a relationship type from a parameter. MERGE on the fact id makes a
 * rerun of the script idempotent. Strings are single-quoted with '\' and
 * '\'' escaped; relationship types are back-quoted with '`' doubled.
 *
 * Memory: the CSV files stream; the Cypher script keeps one batch.
 */
#include "core/buf.h"
#include "core/mem.h"
#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_CYPHER_BATCH 500u /* facts per UNWIND batch */

/* ==== CSV ==== */

static hk_err csv_field(hk_buf *b, const char *s)
{
    hk_err rc = hk_buf_append(b, "\"", 1);
    const char *run = s;
    for (; rc == HK_OK && *s; s++) {
        if (*s != '"') continue;
        rc = hk_buf_append(b, run, (size_t)(s - run + 1));
        if (rc == HK_OK) rc = hk_buf_append(b, "\"", 1);
        run = s + 1;
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, run);
    if (rc == HK_OK) rc = hk_buf_append(b, "\"", 1);
    return rc;
}

/* The confidence and source columns of a fact. */
static hk_err csv_meta(hk_buf *b, const hk_fact *f)
{
    hk_err rc = hk_buf_append(b, ",", 1);
    if (rc == HK_OK) rc = io_put_double(b, f->confidence, false);
    if (rc == HK_OK) rc = hk_buf_append(b, ",", 1);
    if (rc == HK_OK) rc = csv_field(b, f->source ? f->source : "");
    return rc;
}

typedef struct csv_out {
    FILE *f;    /* the open file */
    hk_buf b;   /* its buffer */
    char *path; /* its path (owned) */
} csv_out;

static hk_err csv_open(csv_out *o, const char *dir, const char *name,
                       const char *header, hk_error *err)
{
    memset(o, 0, sizeof *o);
    size_t n = strlen(dir) + strlen(name) + 2;
    o->path = hk_malloc(n);
    if (o->path == NULL)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    snprintf(o->path, n, "%s/%s", dir, name);
    o->f = fopen(o->path, "wx");
    if (o->f == NULL)
        return hk_error_set(err, errno == ENOSPC ? HK_ERR_DISK_FULL : HK_ERR_IO,
                            "cannot create %s: %s", o->path, strerror(errno));
    if (hk_buf_append_str(&o->b, header) != HK_OK)
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    return HK_OK;
}

/* Flushes, syncs and closes o (also after a failure, then rc is kept). */
static hk_err csv_close(csv_out *o, hk_err rc, hk_error *err)
{
    if (o->f != NULL) {
        if (rc == HK_OK) rc = io_flush_out(o->f, &o->b, err);
        if (rc == HK_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0))
            rc = hk_error_set(err, HK_ERR_IO, "cannot write %s: %s", o->path,
                              strerror(errno));
        if (fclose(o->f) != 0 && rc == HK_OK)
            rc = hk_error_set(err, HK_ERR_IO, "cannot write %s: %s", o->path,
                              strerror(errno));
    }
    hk_buf_free(&o->b);
    hk_free(o->path);
    memset(o, 0, sizeof *o);
    return rc;
}

static hk_err entity_row(void *ud, const char *name, hk_error *err)
{
    csv_out *o = ud;
    hk_buf *b = &o->b;
    hk_err rc = hk_buf_append(b, "\"e:", 3);
    size_t mark = b->len;
    /* "e:" + name as one quoted field: quote the name, drop its opening
     * quote (the field already has one). */
    if (rc == HK_OK) rc = csv_field(b, name);
    if (rc == HK_OK) {
        memmove(b->data + mark, b->data + mark + 1, b->len - mark - 1);
        b->len--;
    }
    if (rc == HK_OK) rc = hk_buf_append(b, ",", 1);
    if (rc == HK_OK) rc = csv_field(b, name);
    if (rc == HK_OK && io_number_kind(name, strlen(name)))
        rc = hk_buf_appendf(b, ",%s,Entity\n", name);
    else if (rc == HK_OK)
        rc = hk_buf_append_str(b, ",,Entity\n");
    if (rc != HK_OK) return hk_error_set(err, rc, "out of memory");
    return io_maybe_flush(o->f, b, err);
}

/* "e:NAME" as one CSV field. */
static hk_err csv_entity_id(hk_buf *b, const char *name)
{
    size_t mark = b->len;
    hk_err rc = csv_field(b, name);
    if (rc != HK_OK) return rc;
    /* insert e: after the opening quote */
    rc = hk_buf_append(b, "  ", 2);
    if (rc != HK_OK) return rc;
    memmove(b->data + mark + 3, b->data + mark + 1, b->len - mark - 3);
    b->data[mark + 1] = 'e';
    b->data[mark + 2] = ':';
    return HK_OK;
}

static const char ENTITIES_HEADER[] = "id:ID,name,value:double,:LABEL\n";
static const char FACTS_HEADER[] =
    "id:ID,fact:long,predicate,arity:int,confidence:double,source,:LABEL\n";
static const char RELS_HEADER[] = ":START_ID,:END_ID,:TYPE,fact:long,"
                                  "position:int,confidence:double,source\n";
static const char IMPORT_SH[] =
    "#!/bin/sh\n"
    "# Loads this directory into an empty Neo4j database (Neo4j 5;\n"
    "# stop the database first). DB defaults to neo4j.\n"
    "set -e\n"
    "cd \"$(dirname \"$0\")\"\n"
    "neo4j-admin database import full --overwrite-destination \\\n"
    "  --nodes=entities.csv --nodes=facts.csv \\\n"
    "  --relationships=relationships.csv \"${DB:-neo4j}\"\n";

static hk_err fact_rows(csv_out *facts, csv_out *rels, const hk_fact *f,
                        hk_error *err)
{
    unsigned long long id = (unsigned long long)f->id;
    hk_buf *r = &rels->b;
    hk_err rc = HK_OK;
    if (f->st.n_args == 2) {
        rc = csv_entity_id(r, f->st.args[0]);
        if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
        if (rc == HK_OK) rc = csv_entity_id(r, f->st.args[1]);
        if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
        if (rc == HK_OK) rc = csv_field(r, f->st.predicate);
        if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
        if (rc == HK_OK) rc = io_put_u64(r, id);
        if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
        if (rc == HK_OK) rc = csv_meta(r, f);
        if (rc == HK_OK) rc = hk_buf_append(r, "\n", 1);
    } else {
        hk_buf *n = &facts->b;
        rc = hk_buf_append(n, "\"f:", 3);
        if (rc == HK_OK) rc = io_put_u64(n, id);
        if (rc == HK_OK) rc = hk_buf_append(n, "\",", 2);
        if (rc == HK_OK) rc = io_put_u64(n, id);
        if (rc == HK_OK) rc = hk_buf_append(n, ",", 1);
        if (rc == HK_OK) rc = csv_field(n, f->st.predicate);
        if (rc == HK_OK) rc = hk_buf_append(n, ",", 1);
        if (rc == HK_OK) rc = io_put_u64(n, f->st.n_args);
        if (rc == HK_OK) rc = csv_meta(n, f);
        if (rc == HK_OK) rc = hk_buf_append_str(n, ",Fact\n");
        for (uint32_t i = 0; rc == HK_OK && i < f->st.n_args; i++) {
            rc = hk_buf_append(r, "\"f:", 3);
            if (rc == HK_OK) rc = io_put_u64(r, id);
            if (rc == HK_OK) rc = hk_buf_append(r, "\",", 2);
            if (rc == HK_OK) rc = csv_entity_id(r, f->st.args[i]);
            if (rc == HK_OK) rc = hk_buf_append(r, ",ARG", 4);
            if (rc == HK_OK) rc = io_put_u64(r, i);
            if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
            if (rc == HK_OK) rc = io_put_u64(r, id);
            if (rc == HK_OK) rc = hk_buf_append(r, ",", 1);
            if (rc == HK_OK) rc = io_put_u64(r, i);
            if (rc == HK_OK) rc = csv_meta(r, f);
            if (rc == HK_OK) rc = hk_buf_append(r, "\n", 1);
        }
        if (rc == HK_OK)
            rc = io_maybe_flush(facts->f, n, err);
        else
            rc = hk_error_set(err, rc, "out of memory");
    }
    if (rc == HK_OK)
        rc = io_maybe_flush(rels->f, r, err);
    else if (err->code == HK_OK)
        rc = hk_error_set(err, rc, "out of memory");
    return rc;
}

hk_err hk_export_neo4j(hk_txn *t, const char *dir, const hk_export_options *opt,
                       hk_error *err)
{
    csv_out ent, facts, rels;
    memset(&ent, 0, sizeof ent);
    memset(&facts, 0, sizeof facts);
    memset(&rels, 0, sizeof rels);
    hk_fact f;
    hk_fact_init(&f);
    io_fact_iter it;
    memset(&it, 0, sizeof it);
    hk_err rc = csv_open(&ent, dir, "entities.csv", ENTITIES_HEADER, err);
    if (rc == HK_OK) rc = io_each_entity(t, opt, entity_row, &ent, err);
    rc = csv_close(&ent, rc, err);
    if (rc == HK_OK) rc = csv_open(&facts, dir, "facts.csv", FACTS_HEADER, err);
    if (rc == HK_OK)
        rc = csv_open(&rels, dir, "relationships.csv", RELS_HEADER, err);
    if (rc == HK_OK) rc = io_iter_open(&it, t, opt, err);
    while (rc == HK_OK) {
        bool has = false;
        rc = io_iter_next(&it, &f, &has, err);
        if (rc != HK_OK || !has) break;
        rc = fact_rows(&facts, &rels, &f, err);
    }
    io_iter_close(&it);
    hk_fact_release(&f);
    rc = csv_close(&facts, rc, err);
    rc = csv_close(&rels, rc, err);
    if (rc == HK_OK) {
        csv_out sh;
        rc = csv_open(&sh, dir, "import.sh", IMPORT_SH, err);
        if (rc == HK_OK && fchmod(fileno(sh.f), 0755) != 0)
            rc = hk_error_set(err, HK_ERR_IO, "cannot make %s executable: %s",
                              sh.path, strerror(errno));
        rc = csv_close(&sh, rc, err);
    }
    return rc;
}

/* ==== Cypher ==== */

static hk_err cy_string(hk_buf *b, const char *s)
{
    hk_err rc = hk_buf_append(b, "'", 1);
    const char *run = s;
    for (; rc == HK_OK && *s; s++) {
        if (*s != '\'' && *s != '\\') continue;
        rc = hk_buf_append(b, run, (size_t)(s - run));
        if (rc == HK_OK) rc = hk_buf_append(b, "\\", 1);
        run = s;
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, run);
    if (rc == HK_OK) rc = hk_buf_append(b, "'", 1);
    return rc;
}

static hk_err cy_type(hk_buf *b, const char *s)
{
    hk_err rc = hk_buf_append(b, "`", 1);
    for (; rc == HK_OK && *s; s++)
        rc = *s == '`' ? hk_buf_append(b, "``", 2) : hk_buf_append(b, s, 1);
    if (rc == HK_OK) rc = hk_buf_append(b, "`", 1);
    return rc;
}

/* A batch of facts, copied (the iterator reuses its fact): the strings
 * of fact i (predicate, arguments, then its source when it has one, each
 * NUL-terminated) at text + off[i], one buffer for the whole batch. */
typedef struct cy_batch {
    hk_fact_id ids[IO_CYPHER_BATCH];
    hk_statement st[IO_CYPHER_BATCH]; /* pointers into text, set at flush */
    double conf[IO_CYPHER_BATCH];
    size_t off[IO_CYPHER_BATCH];         /* start of fact i's strings in text */
    bool has_src[IO_CYPHER_BATCH];       /* a source follows the arguments */
    const char *source[IO_CYPHER_BATCH]; /* into text, or NULL */
    size_t order[IO_CYPHER_BATCH];       /* indexes sorted into groups */
    hk_buf text;
    size_t n;
} cy_batch;

/* Groups: binary facts by predicate first, then the other facts by
 * arity; id order within a group (the index breaks ties). */
typedef struct cy_key {
    const char *pred; /* binary facts: the predicate, else NULL */
    uint32_t n_args;
    uint32_t i; /* index in the batch */
} cy_key;

static int cy_key_cmp(const void *pa, const void *pb)
{
    const cy_key *x = pa, *y = pb;
    if ((x->pred != NULL) != (y->pred != NULL)) return x->pred ? -1 : 1;
    if (x->pred) {
        int c = strcmp(x->pred, y->pred);
        if (c) return c;
    } else if (x->n_args != y->n_args) {
        return x->n_args < y->n_args ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Points the statements at their strings and sorts the batch into
 * groups. The old insertion sort compared O(n^2) predicates per batch: a
 * quarter of the export's CPU. */
static void cy_sort(cy_batch *cb)
{
    cy_key keys[IO_CYPHER_BATCH];
    for (size_t i = 0; i < cb->n; i++) {
        hk_statement *st = &cb->st[i];
        const char *p = cb->text.data + cb->off[i];
        st->owned = NULL;
        st->predicate = p;
        p += strlen(p) + 1;
        for (uint32_t k = 0; k < st->n_args; k++) {
            st->args[k] = p;
            p += strlen(p) + 1;
        }
        cb->source[i] = cb->has_src[i] ? p : NULL;
        keys[i].pred = st->n_args == 2 ? st->predicate : NULL;
        keys[i].n_args = st->n_args;
        keys[i].i = (uint32_t)i;
    }
    if (cb->n > 1) qsort(keys, cb->n, sizeof keys[0], cy_key_cmp);
    for (size_t i = 0; i < cb->n; i++)
        cb->order[i] = keys[i].i;
}

static bool same_group(const cy_batch *cb, size_t a, size_t b)
{
    const hk_statement *x = &cb->st[a], *y = &cb->st[b];
    if ((x->n_args == 2) != (y->n_args == 2)) return false;
    if (x->n_args == 2) return strcmp(x->predicate, y->predicate) == 0;
    return x->n_args == y->n_args;
}

static hk_err cy_row(hk_buf *b, const cy_batch *cb, size_t i)
{
    const hk_statement *st = &cb->st[i];
    hk_err rc = hk_buf_append_str(b, "{id: ");
    if (rc == HK_OK) rc = io_put_u64(b, cb->ids[i]);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ", c: ");
    /* a float literal, so that confidence is a float property */
    if (rc == HK_OK) rc = io_put_double(b, cb->conf[i], true);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ", src: ");
    if (rc == HK_OK)
        rc = cb->source[i] ? cy_string(b, cb->source[i])
                           : hk_buf_append_str(b, "null");
    if (rc == HK_OK && st->n_args != 2) {
        rc = hk_buf_append_str(b, ", p: ");
        if (rc == HK_OK) rc = cy_string(b, st->predicate);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, ", a: [");
    for (uint32_t k = 0; rc == HK_OK && k < st->n_args; k++) {
        if (k) rc = hk_buf_append_str(b, ", ");
        if (rc == HK_OK) rc = cy_string(b, st->args[k]);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "]}");
    return rc;
}

/* One UNWIND statement for order[from..to) (one group). */
static hk_err cy_group(hk_buf *b, const cy_batch *cb, size_t from, size_t to)
{
    hk_err rc = hk_buf_append_str(b, "UNWIND [");
    for (size_t k = from; rc == HK_OK && k < to; k++) {
        if (k > from) rc = hk_buf_append_str(b, ",\n  ");
        if (rc == HK_OK) rc = cy_row(b, cb, cb->order[k]);
    }
    if (rc == HK_OK) rc = hk_buf_append_str(b, "] AS r\n");
    const hk_statement *st = &cb->st[cb->order[from]];
    if (rc != HK_OK) return rc;
    if (st->n_args == 2) {
        rc = hk_buf_append_str(b, "MERGE (s:Entity {name: r.a[0]})\n"
                                  "MERGE (o:Entity {name: r.a[1]})\n"
                                  "MERGE (s)-[x:");
        if (rc == HK_OK) rc = cy_type(b, st->predicate);
        if (rc == HK_OK)
            rc = hk_buf_append_str(
                b, " {fact: r.id}]->(o)\n"
                   "SET x.confidence = r.c, x.source = r.src;\n");
        return rc;
    }
    rc = hk_buf_append_str(b, "MERGE (f:Fact {id: r.id})\n"
                              "SET f.predicate = r.p, f.arity = size(r.a), "
                              "f.confidence = r.c, f.source = r.src");
    for (uint32_t i = 0; rc == HK_OK && i < st->n_args; i++)
        rc = hk_buf_appendf(b,
                            "\nMERGE (e%u:Entity {name: r.a[%u]})"
                            "\nMERGE (f)-[:ARG%u {position: %u}]->(e%u)",
                            i, i, i, i, i);
    if (rc == HK_OK) rc = hk_buf_append_str(b, ";\n");
    return rc;
}

/* Copies fact f into the batch as entry cb->n (not counted yet). */
static hk_err cy_add(cy_batch *cb, const hk_fact *f)
{
    size_t i = cb->n;
    cb->ids[i] = f->id;
    cb->conf[i] = f->confidence;
    cb->off[i] = cb->text.len;
    cb->has_src[i] = f->source != NULL;
    cb->st[i].n_args = f->st.n_args;
    hk_err rc =
        hk_buf_append(&cb->text, f->st.predicate, strlen(f->st.predicate) + 1);
    for (uint32_t k = 0; rc == HK_OK && k < f->st.n_args; k++)
        rc = hk_buf_append(&cb->text, f->st.args[k], strlen(f->st.args[k]) + 1);
    if (rc == HK_OK && f->source)
        rc = hk_buf_append(&cb->text, f->source, strlen(f->source) + 1);
    return rc;
}

static void cy_clear(cy_batch *cb)
{
    hk_buf_reset(&cb->text);
    cb->n = 0;
}

static hk_err cy_flush(FILE *out, hk_buf *b, cy_batch *cb, hk_error *err)
{
    cy_sort(cb);
    hk_err rc = HK_OK;
    for (size_t i = 0; rc == HK_OK && i < cb->n;) {
        size_t j = i + 1;
        while (j < cb->n && same_group(cb, cb->order[i], cb->order[j]))
            j++;
        rc = cy_group(b, cb, i, j);
        if (rc != HK_OK) {
            rc = hk_error_set(err, rc, "out of memory");
            break;
        }
        rc = io_maybe_flush(out, b, err);
        i = j;
    }
    cy_clear(cb);
    return rc;
}

static const char CYPHER_HEAD[] =
    "// hakgal export: run with  cypher-shell -f FILE  (Neo4j 5)\n"
    "CREATE CONSTRAINT hakgal_entity_name IF NOT EXISTS "
    "FOR (e:Entity) REQUIRE e.name IS UNIQUE;\n"
    "CREATE CONSTRAINT hakgal_fact_id IF NOT EXISTS "
    "FOR (f:Fact) REQUIRE f.id IS UNIQUE;\n";

/* Entities with a numeric name get a value property, as in the CSV. */
static const char CYPHER_TAIL[] =
    "MATCH (e:Entity) WHERE e.value IS NULL AND e.name =~ "
    "'[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?'\n"
    "SET e.value = toFloat(e.name);\n";

hk_err io_cypher_export(hk_txn *t, FILE *out, const hk_export_options *opt,
                        hk_error *err)
{
    cy_batch *cb = hk_calloc(1, sizeof *cb);
    if (cb == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    hk_buf b = HK_BUF_INIT;
    hk_fact f;
    hk_fact_init(&f);
    io_fact_iter it;
    memset(&it, 0, sizeof it);
    hk_err rc = hk_buf_append_str(&b, CYPHER_HEAD);
    if (rc != HK_OK) rc = hk_error_set(err, rc, "out of memory");
    if (rc == HK_OK) rc = io_iter_open(&it, t, opt, err);
    while (rc == HK_OK) {
        bool has = false;
        rc = io_iter_next(&it, &f, &has, err);
        if (rc != HK_OK || !has) break;
        if (cy_add(cb, &f) != HK_OK) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            break;
        }
        cb->n++;
        if (cb->n == IO_CYPHER_BATCH) rc = cy_flush(out, &b, cb, err);
    }
    if (rc == HK_OK) rc = cy_flush(out, &b, cb, err);
    if (rc == HK_OK && hk_buf_append_str(&b, CYPHER_TAIL) != HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (rc == HK_OK) rc = io_flush_out(out, &b, err);
    io_iter_close(&it);
    hk_buf_free(&cb->text);
    hk_free(cb);
    hk_fact_release(&f);
    hk_buf_free(&b);
    return rc;
}
