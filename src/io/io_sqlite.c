/*
 * io_sqlite.c — imports a legacy HAK-GAL SQLite knowledge base.
 *
 * The legacy KB keeps facts in a table `facts` with a column `statement`
 * and, depending on its age, `confidence` (REAL), `context` (JSON text),
 * `fact_metadata` (JSON text), `source` and `tags` (JSON array text). The
 * columns present are learnt from PRAGMA table_info, so every vintage
 * imports without configuration.
 *
 * The database is opened read-only (it is never modified, not even its
 * journal) and read with one prepared statement stepped row by row in
 * rowid order: constant memory whatever the table size. A reject names
 * the row by its rowid: "<file>:<rowid>: <reason>\t<statement>".
 * Metadata rules are the legacy rules of the service layer's fact input
 * parser (hk_svc_fact_in_*, src/service/service.h); a NULL or non-text
 * statement rejects the row.
 *
 * One call owns its sqlite3 handle (opened with SQLITE_OPEN_NOMUTEX).
 */
#include "core/buf.h"
#include "core/utf8.h"
#include "io/io_internal.h"
#include "service/service.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

/* Which optional columns the table has, as result column indexes (-1 when
 * absent). Column 0 is the rowid, column 1 the statement. */
typedef struct sqlite_columns {
    int confidence;    /* REAL 0..1 */
    int context;       /* JSON text */
    int fact_metadata; /* JSON text */
    int source;        /* text */
    int tags;          /* JSON array text or comma-separated text */
} sqlite_columns;

static hk_err sqlite_fail(sqlite3 *db, const char *path, const char *what,
                          hk_error *err)
{
    /* A file that is not a SQLite database is bad input, not an I/O
     * failure. */
    hk_err code = db != NULL && (sqlite3_errcode(db) == SQLITE_NOTADB ||
                                 sqlite3_errcode(db) == SQLITE_CORRUPT)
                      ? HK_ERR_INVALID
                      : HK_ERR_IO;
    return hk_error_set(err, code, "%s '%s': %s", what, path,
                        db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

/* Reads the column list of table facts and builds the SELECT. */
static hk_err plan_query(sqlite3 *db, const char *path, sqlite_columns *cols,
                         hk_buf *sql, hk_error *err)
{
    sqlite3_stmt *info = NULL;
    bool has_statement = false;
    hk_err rc = HK_OK;
    cols->confidence = cols->context = cols->fact_metadata = -1;
    cols->source = cols->tags = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(facts)", -1, &info, NULL) !=
        SQLITE_OK)
        return sqlite_fail(db, path, "cannot read the schema of", err);
    const char *wanted[] = {"confidence", "context", "fact_metadata", "source",
                            "tags"};
    int *slot[] = {&cols->confidence, &cols->context, &cols->fact_metadata,
                   &cols->source, &cols->tags};
    int next = 2;
    hk_buf extra = HK_BUF_INIT;
    int step;
    while ((step = sqlite3_step(info)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(info, 1);
        if (name == NULL) continue;
        if (strcasecmp(name, "statement") == 0) has_statement = true;
        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
            if (strcasecmp(name, wanted[i]) == 0 && *slot[i] < 0) {
                *slot[i] = next++;
                if (hk_buf_appendf(&extra, ", \"%s\"", wanted[i]) != HK_OK) {
                    rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                    goto done;
                }
            }
        }
    }
    if (step != SQLITE_DONE) {
        rc = sqlite_fail(db, path, "cannot read the schema of", err);
        goto done;
    }
    if (!has_statement) {
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "'%s' is not a HAK-GAL knowledge base: it has no "
                          "table \"facts\" with a column \"statement\"",
                          path);
        goto done;
    }
    if (hk_buf_appendf(sql,
                       "SELECT rowid, \"statement\"%s FROM facts "
                       "ORDER BY rowid",
                       extra.data != NULL ? extra.data : "") != HK_OK)
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
done:
    hk_buf_free(&extra);
    sqlite3_finalize(info);
    return rc;
}

/* A text column as a JSON string value (or NULL for SQL NULL); numbers
 * become JSON numbers. Caller decrefs. */
static json_t *column_json(sqlite3_stmt *q, int col)
{
    switch (sqlite3_column_type(q, col)) {
    case SQLITE_NULL:
        return NULL;
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(q, col));
    case SQLITE_FLOAT: {
        /* jansson has no infinity (json_real gives NULL, which reads as
         * "no value"): keep it as text, which no numeric field accepts */
        double d = sqlite3_column_double(q, col);
        return isfinite(d) ? json_real(d) : json_string(d > 0 ? "inf" : "-inf");
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(q, col);
        int n = sqlite3_column_bytes(q, col);
        if (t == NULL) return NULL;
        /* Invalid UTF-8 cannot become a JSON string; keep it out. */
        return hk_utf8_valid(t, (size_t)n, NULL) ? json_stringn(t, (size_t)n)
                                                 : NULL;
    }
    }
}

/* Tags column: a JSON array, or comma-separated text. */
static json_t *tags_json(sqlite3_stmt *q, int col)
{
    json_t *v = column_json(q, col);
    if (v == NULL || !json_is_string(v)) return v;
    json_t *arr = json_loads(json_string_value(v), 0, NULL);
    if (arr != NULL && json_is_array(arr)) {
        json_decref(v);
        return arr;
    }
    json_decref(arr);
    arr = json_array();
    const char *s = json_string_value(v);
    while (arr != NULL && *s != '\0') {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        size_t a = 0, b = n;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (b > a) json_array_append_new(arr, json_stringn(s + a, b - a));
        s += n;
        if (*s == ',') s++;
    }
    json_decref(v);
    return arr;
}

hk_err io_import_sqlite(io_import *im, const char *path, hk_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    hk_buf sql = HK_BUF_INIT;
    hk_svc_fact_in m; /* metadata of the current row */
    hk_svc_fact_in_init(&m);
    hk_err rc = HK_OK;
    uint64_t total = 0;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = sqlite_fail(db, path, "cannot open SQLite file", err);
        goto done;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite_columns cols;
    if ((rc = plan_query(db, path, &cols, &sql, err)) != HK_OK) goto done;
    {
        sqlite3_stmt *count = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM facts", -1, &count,
                               NULL) == SQLITE_OK &&
            sqlite3_step(count) == SQLITE_ROW)
            total = (uint64_t)sqlite3_column_int64(count, 0);
        sqlite3_finalize(count);
    }
    if (sqlite3_prepare_v2(db, sql.data, -1, &q, NULL) != SQLITE_OK) {
        rc = sqlite_fail(db, path, "cannot query table facts of", err);
        goto done;
    }
    uint64_t done_rows = 0;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        uint64_t rowid = (uint64_t)sqlite3_column_int64(q, 0);
        const char *text = NULL;
        size_t len = 0;
        done_rows++;
        io_import_count_read(im, done_rows, total);
        if (sqlite3_column_type(q, 1) == SQLITE_TEXT) {
            text = (const char *)sqlite3_column_text(q, 1);
            len = (size_t)sqlite3_column_bytes(q, 1);
        }
        if (text == NULL) {
            const char *what = sqlite3_column_type(q, 1) == SQLITE_NULL
                                   ? "statement is NULL"
                                   : "statement is not text";
            rc = io_import_reject(
                im, rowid, what, "NULL",
                sqlite3_column_type(q, 1) == SQLITE_NULL ? 4 : 0, err);
            if (rc != HK_OK) goto done;
            continue;
        }
        hk_statement st;
        hk_error e;
        hk_error_clear(&e);
        hk_err prc = hk_statement_parse(text, len, &st, &e);
        if (prc != HK_OK && !io_is_input_error(prc)) {
            rc = io_fatal(err, &e, prc);
            goto done;
        }
        if (prc != HK_OK) {
            rc = io_import_reject(im, rowid, e.message, text, len, err);
            if (rc != HK_OK) goto done;
            continue;
        }
        hk_svc_fact_in_release(&m);
        json_t *vals[5] = {NULL, NULL, NULL, NULL, NULL};
        int idx[5] = {cols.confidence, cols.source, cols.tags, cols.context,
                      cols.fact_metadata};
        for (int i = 0; i < 5; i++)
            if (idx[i] >= 0)
                vals[i] =
                    i == 2 ? tags_json(q, idx[i]) : column_json(q, idx[i]);
        hk_err mrc = HK_OK;
        if (vals[0] != NULL && json_is_string(vals[0])) {
            /* A confidence stored as text: accept it when it is a number. */
            char *end = NULL;
            double c = strtod(json_string_value(vals[0]), &end);
            /* "nan", "inf", "1e999" stay text and are rejected below */
            if (end != json_string_value(vals[0]) && *end == '\0' &&
                isfinite(c)) {
                json_decref(vals[0]);
                vals[0] = json_real(c);
            }
        }
        mrc = hk_svc_fact_in_confidence(&m, vals[0], true, &e);
        if (mrc == HK_OK &&
            hk_svc_fact_in_source(&m, vals[1], true, &e) != HK_OK)
            hk_error_clear(&e); /* a bad legacy source is dropped */
        if (mrc == HK_OK &&
            hk_svc_fact_in_tags(&m, vals[2], true, &e) != HK_OK) {
            hk_error_clear(&e); /* bad legacy tags are dropped */
            m.meta.n_tags = 0;
        }
        if (mrc == HK_OK) mrc = hk_svc_fact_in_context(&m, vals[3], true, &e);
        if (mrc == HK_OK) mrc = hk_svc_fact_in_fact_metadata(&m, vals[4], &e);
        if (mrc == HK_OK) mrc = hk_svc_fact_in_finish(&m, &e);
        if (mrc == HK_OK)
            rc = io_import_add(im, rowid, &st, &m.meta, text, len, err);
        else if (mrc == HK_ERR_NOMEM) {
            if (err != NULL) *err = e;
            rc = mrc;
        } else
            rc = io_import_reject(im, rowid, e.message, text, len, err);
        hk_statement_release(&st);
        hk_svc_fact_in_release(
            &m); /* before the values its pointers refer to */
        for (int i = 0; i < 5; i++)
            json_decref(vals[i]);
        if (rc != HK_OK) goto done;
    }
    if (step != SQLITE_DONE) {
        rc = sqlite_fail(db, path, "cannot read table facts of", err);
        goto done;
    }
done:
    hk_svc_fact_in_release(&m);
    sqlite3_finalize(q);
    sqlite3_close(db);
    hk_buf_free(&sql);
    return rc;
}
