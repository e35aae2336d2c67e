/*
 * io_import.c — hk_import_file: streams a file of facts into the store.
 *
 * Design:
 *  - Constant memory: input is read line by line through io_reader (one
 *    fixed buffer, no allocation per line); the SQLite source steps a
 *    prepared statement. Nothing grows with the size of the input.
 *  - Large transactions: facts are added in write transactions of
 *    batch_size adds (default 1,000,000), each in bulk mode (one "import"
 *    audit entry per transaction, labelled with the file's name) and
 *    committed durably before the next begins. A crash loses at most the
 *    open batch; what was committed stays, and re-running the import adds
 *    only what is missing (the store's MERGE makes adds idempotent).
 *  - A bad record never stops the import: it is counted, written to the
 *    rejects file as "<file>:<line>: <reason>\t<record>" (record cut to
 *    IO_REJECT_ECHO_BYTES) and skipped. Only failures of the store, of
 *    reading the input or of writing the rejects file end an import; the
 *    open batch is then rolled back and the summary counts only committed
 *    facts.
 *  - Line formats handled here: statements (one per line; blank lines and
 *    lines whose first non-blank character is '#' are skipped, so '#'
 *    inside an argument is fine), TSV (pred<TAB>arg<TAB>..., fields taken
 *    raw) and JSONL (read by the service layer's fact input parser). The SQLite
 * source lives in io_sqlite.c and feeds the same driver.
 *
 * Threads: one call owns its io_import; the store serialises writers, so
 * an import waits for (and blocks) other writers only while a batch is
 * open.
 */
#include "core/buf.h"
#include "io/io_internal.h"

#include "core/mem.h"
#include "core/utf8.h"
#include "service/service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define IO_DEFAULT_BATCH 1000000u
#define IO_PROGRESS_EVERY 65536u /* records between progress calls */

struct io_import {
    hk_store *store;          /* destination KB */
    hk_txn *txn;              /* open write transaction or NULL */
    const char *path;         /* input name as shown in rejects */
    char label[256];          /* bulk audit label (file base name) */
    const char *actor;        /* audit actor */
    uint64_t batch_size;      /* adds per transaction */
    uint64_t in_batch;        /* adds in the open transaction */
    uint64_t batch_added;     /* facts created in the open transaction */
    uint64_t batch_present;   /* adds that found the fact already there */
    const char *rejects_path; /* where rejects go, NULL = nowhere */
    FILE *rejects;            /* opened on the first reject */
    hk_import_summary *sum;   /* counts reported to the caller */
    hk_progress_fn progress;  /* progress callback or NULL */
    void *progress_ud;        /* its argument */
    uint64_t next_progress;   /* read count at which to report next */
    hk_buf scratch;           /* reject line being built */
    bool nul_is_tab;          /* TSV: NULs in a record were tabs */
};

/* ==== Helpers ==== */

void io_clean_reason(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0' && i + 1 < cap; i++) {
        char c = src[i];
        dst[i] = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
    }
    dst[i] = '\0';
}

/* Length of at most max bytes of s that does not end inside a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

bool io_is_input_error(hk_err rc)
{
    return rc == HK_ERR_INVALID || rc == HK_ERR_LIMIT;
}

hk_err io_fatal(hk_error *err, const hk_error *e, hk_err rc)
{
    if (err != NULL) {
        *err = *e;
        err->code = rc;
        if (err->message[0] == '\0')
            hk_error_set(err, rc, "%s", hk_strerror(rc));
    }
    return rc;
}

/* ==== Transactions ==== */

static hk_err begin_batch(io_import *im, hk_error *err)
{
    hk_err rc = hk_txn_begin(im->store, true, &im->txn, err);
    if (rc != HK_OK) return rc;
    rc = hk_txn_set_actor(im->txn, im->actor);
    if (rc == HK_OK) rc = hk_txn_set_bulk(im->txn, im->label);
    if (rc != HK_OK) {
        hk_txn_abort(im->txn);
        im->txn = NULL;
        return hk_error_set(err, rc, "cannot start an import transaction: %s",
                            hk_strerror(rc));
    }
    im->in_batch = 0;
    im->batch_added = 0;
    im->batch_present = 0;
    return HK_OK;
}

static hk_err commit_batch(io_import *im, hk_error *err)
{
    if (im->txn == NULL) return HK_OK;
    hk_txn *t = im->txn;
    im->txn = NULL;
    hk_err rc = hk_txn_commit(t, err);
    if (rc != HK_OK) {
        im->sum->added -= im->batch_added;
        im->sum->present -= im->batch_present;
    }
    im->in_batch = im->batch_added = im->batch_present = 0;
    return rc;
}

static void abort_batch(io_import *im)
{
    if (im->txn == NULL) return;
    hk_txn_abort(im->txn);
    im->txn = NULL;
    im->sum->added -= im->batch_added;
    im->sum->present -= im->batch_present;
    im->in_batch = im->batch_added = im->batch_present = 0;
}

/* ==== Driver entry points used by the sources ==== */

void io_import_count_read(io_import *im, uint64_t done, uint64_t total)
{
    im->sum->read++;
    if (im->progress != NULL && im->sum->read >= im->next_progress) {
        im->next_progress = im->sum->read + IO_PROGRESS_EVERY;
        im->progress(im->progress_ud, done, total, im->sum->read);
    }
}

hk_err io_import_reject(io_import *im, uint64_t line, const char *reason,
                        const char *rec, size_t rec_len, hk_error *err)
{
    im->sum->rejected++;
    if (im->rejects_path == NULL) return HK_OK;
    if (im->rejects == NULL) {
        im->rejects = fopen(im->rejects_path, "a");
        if (im->rejects == NULL)
            return hk_error_set(err, HK_ERR_IO,
                                "cannot open rejects file '%s': %s",
                                im->rejects_path, strerror(errno));
    }
    char why[600];
    io_clean_reason(why, sizeof why, reason);
    size_t shown = utf8_cut(rec, rec_len, IO_REJECT_ECHO_BYTES);
    hk_buf_reset(&im->scratch);
    hk_err rc = hk_buf_appendf(&im->scratch, "%s:%" PRIu64 ": %s\t", im->path,
                               line, why);
    size_t rec_at = im->scratch.len;
    if (rc == HK_OK) rc = hk_buf_append(&im->scratch, rec, shown);
    /* One reject per line: a line break inside the record (an LF in a
     * file with CR line endings, a statement from SQLite) shows as a
     * space. */
    for (size_t i = rec_at; rc == HK_OK && i < im->scratch.len; i++) {
        char *c = &im->scratch.data[i];
        if (*c == '\0' && im->nul_is_tab)
            *c = '\t';
        else if (*c == '\n' || *c == '\r')
            *c = ' ';
    }
    if (rc == HK_OK && shown < rec_len)
        rc = hk_buf_append_str(&im->scratch, "...");
    if (rc == HK_OK) rc = hk_buf_append(&im->scratch, "\n", 1);
    if (rc != HK_OK)
        return hk_error_set(err, rc, "cannot format a reject: out of memory");
    if (fwrite(im->scratch.data, 1, im->scratch.len, im->rejects) !=
        im->scratch.len)
        return hk_error_set(err, HK_ERR_IO,
                            "cannot write rejects file '%s': %s",
                            im->rejects_path, strerror(errno));
    return HK_OK;
}

hk_err io_import_add(io_import *im, uint64_t line, const hk_statement *st,
                     const hk_fact_meta *meta, const char *rec, size_t rec_len,
                     hk_error *err)
{
    hk_err rc;
    if (im->txn == NULL && (rc = begin_batch(im, err)) != HK_OK) return rc;
    hk_fact_id id = 0;
    bool created = false;
    hk_error e; /* hot path: only the parts read on failure are reset */
    e.code = HK_OK;
    e.message[0] = '\0';
    rc = hk_store_add(im->txn, st, meta, &id, &created, &e);
    if (io_is_input_error(rc))
        return io_import_reject(im, line, e.message, rec, rec_len, err);
    if (rc != HK_OK) {
        if (err != NULL) *err = e;
        return rc;
    }
    if (created) {
        im->sum->added++;
        im->batch_added++;
    } else {
        im->sum->present++;
        im->batch_present++;
    }
    if (++im->in_batch >= im->batch_size) return commit_batch(im, err);
    return HK_OK;
}

/* ==== Line formats ==== */

/* Statement text: one statement per line. */
static hk_err import_statement_line(io_import *im, io_reader *r, char *line,
                                    size_t len, hk_error *err)
{
    hk_statement st;
    hk_error e; /* hot path: only the message is read on failure */
    e.message[0] = '\0';
    hk_err rc = hk_statement_parse(line, len, &st, &e);
    if (rc != HK_OK && !io_is_input_error(rc)) return io_fatal(err, &e, rc);
    if (rc != HK_OK)
        return io_import_reject(im, r->line_no, e.message, line, len, err);
    rc = io_import_add(im, r->line_no, &st, NULL, line, len, err);
    hk_statement_release(&st);
    return rc;
}

/* TSV: predicate<TAB>arg<TAB>arg..., fields taken raw. The tabs are
 * replaced by NULs while the statement is in use and restored for a
 * reject. */
static hk_err import_tsv_line(io_import *im, io_reader *r, char *line,
                              size_t len, hk_error *err)
{
    hk_statement st;
    memset(&st, 0, sizeof st);
    size_t n_fields = 1;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\t') n_fields++;
    if (n_fields < 2)
        return io_import_reject(im, r->line_no,
                                "expected a predicate and at least one "
                                "argument separated by tabs",
                                line, len, err);
    if (n_fields - 1 > HK_MAX_ARGS) {
        char why[128];
        snprintf(why, sizeof why, "%zu arguments, at most %d allowed",
                 n_fields - 1, HK_MAX_ARGS);
        return io_import_reject(im, r->line_no, why, line, len, err);
    }
    if (memchr(line, '\0', len) != NULL)
        return io_import_reject(im, r->line_no, "line contains a NUL byte",
                                line, len, err);
    st.predicate = line;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\t') {
            line[i] = '\0';
            st.args[st.n_args++] = line + i + 1;
        }
    }
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_statement_validate(&st, &e);
    if (rc == HK_OK) /* a reject inside shows NULs as tabs (nul_is_tab) */
        return io_import_add(im, r->line_no, &st, NULL, line, len, err);
    if (!io_is_input_error(rc)) return io_fatal(err, &e, rc);
    for (uint32_t a = 0; a < st.n_args; a++)
        ((char *)st.args[a])[-1] = '\t';
    char why[600];
    if (e.field[0] != '\0' && strstr(e.message, e.field) == NULL)
        snprintf(why, sizeof why, "%s: %s", e.field, e.message);
    else
        snprintf(why, sizeof why, "%s", e.message);
    return io_import_reject(im, r->line_no, why, line, len, err);
}

/* JSONL: one object per line, read by the service layer's fact input
 * parser with its legacy rules (hk_svc_fact_in_parse). */
static const hk_svc_fact_in_opts jsonl_opts = {
    .allow_string = false,
    .need_statement = true,
    .legacy = true,
};

/* The reject reason of a refused record: the parser's message, led by the
 * field it names when the message does not start with it (statement
 * syntax errors come from the statement parser). */
static void jsonl_reason(const hk_error *e, char *why, size_t cap)
{
    if (e->field[0] != '\0' && strncmp(e->message, "field \"", 7) != 0)
        snprintf(why, cap, "field \"%s\": %s", e->field, e->message);
    else
        snprintf(why, cap, "%s", e->message);
}

static hk_err import_jsonl_line(io_import *im, io_reader *r, hk_svc_fact_in *in,
                                char *line, size_t len, hk_error *err)
{
    char why[600];
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        snprintf(why, sizeof why, "invalid JSON at column %d: %s", jerr.column,
                 jerr.text);
        return io_import_reject(im, r->line_no, why, line, len, err);
    }
    hk_error e;
    hk_err rc = hk_svc_fact_in_parse(obj, &jsonl_opts, in, &e);
    json_decref(obj); /* in holds its own reference */
    if (rc == HK_OK) {
        rc = io_import_add(im, r->line_no, &in->st, &in->meta, line, len, err);
    } else if (in->fault == HK_SVC_FAULT_NOMEM || !io_is_input_error(rc)) {
        rc = io_fatal(err, &e, rc);
    } else {
        jsonl_reason(&e, why, sizeof why);
        rc = io_import_reject(im, r->line_no, why, line, len, err);
    }
    hk_svc_fact_in_release(in);
    return rc;
}

/* ==== hk_import_file ==== */

/* The audit label is the file's base name as valid UTF-8 (the store
 * refuses anything else): bytes that are no UTF-8 (a Latin-1 name) become
 * '?', and a long name is cut between characters. */
static void set_label(io_import *im, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL && base[1] != '\0' ? base + 1 : path;
    if (strcmp(path, "-") == 0) base = "stdin";
    const unsigned char *p = (const unsigned char *)base;
    size_t n = strlen(base), i = 0, o = 0;
    while (i < n) {
        size_t l = p[i] < 0x80 ? 1 : hk_utf8_seq_len(p + i, n - i);
        if (o + (l ? l : 1) >= sizeof im->label) break;
        if (l == 0) {
            im->label[o++] = '?';
            i++;
        } else {
            memcpy(im->label + o, base + i, l);
            o += l;
            i += l;
        }
    }
    im->label[o] = '\0';
}

static hk_err import_lines(io_import *im, io_reader *r, hk_format format,
                           const char *iri_base, hk_error *err)
{
    hk_svc_fact_in *js = NULL; /* JSONL records (large: on the heap) */
    io_nt_state *nt = NULL;    /* N-Triples: the open n-ary group */
    io_mem_state *mem = NULL;  /* mcp-memory: names and relations so far */
    hk_err rc = HK_OK;
    if (format == HK_FORMAT_NTRIPLES) {
        nt = io_nt_new(iri_base);
        if (nt == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        if ((rc = io_reader_set_max_line(r, IO_MAX_JSONL_LINE, err)) != HK_OK)
            goto done;
    }
    im->nul_is_tab = format == HK_FORMAT_TSV;
    if (format == HK_FORMAT_JSONL) {
        js = hk_malloc(sizeof *js);
        if (js == NULL) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        hk_svc_fact_in_init(js);
        if ((rc = io_reader_set_max_line(r, IO_MAX_JSONL_LINE, err)) != HK_OK)
            goto done;
    }
    if (format == HK_FORMAT_MCP_MEMORY) {
        mem = io_mem_new();
        if (mem == NULL) {
            rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((rc = io_reader_set_max_line(r, IO_MAX_MEMORY_LINE, err)) != HK_OK)
            goto done;
    }
    for (;;) {
        char *line;
        size_t len;
        bool overlong, got;
        uint64_t full_len;
        rc = io_reader_next(r, &line, &len, &overlong, &full_len, &got, err);
        if (rc != HK_OK || !got) break;
        size_t s = 0;
        while (s < len && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (!overlong && (s == len || line[s] == '#'))
            continue; /* blank line or comment */
        io_import_count_read(im, r->bytes_done, r->bytes_total);
        if (overlong) {
            char why[160];
            snprintf(why, sizeof why,
                     "line is %" PRIu64 " bytes, longer than the limit of %zu "
                     "bytes",
                     full_len, r->max_line);
            rc = io_import_reject(im, r->line_no, why, line, len, err);
        } else if (format == HK_FORMAT_TSV) {
            rc = import_tsv_line(im, r, line, len, err);
        } else if (format == HK_FORMAT_JSONL) {
            rc = import_jsonl_line(im, r, js, line + s, len - s, err);
        } else if (format == HK_FORMAT_MCP_MEMORY) {
            rc = io_memory_import_line(im, mem, r->line_no, line + s, len - s,
                                       err);
        } else if (format == HK_FORMAT_NTRIPLES) {
            rc = io_nt_import_line(im, nt, r->line_no, line + s, len - s, err);
        } else {
            rc = import_statement_line(im, r, line, len, err);
        }
        if (rc != HK_OK) break;
    }
    if (rc == HK_OK && nt != NULL) rc = io_nt_flush(im, nt, err);
done:
    io_nt_free(nt);
    io_mem_free(mem);
    if (js != NULL) {
        hk_svc_fact_in_release(js);
        hk_free(js);
    }
    return rc;
}

hk_err hk_import_file(hk_store *s, const char *path,
                      const hk_import_options *opt, hk_import_summary *sum,
                      hk_error *err)
{
    hk_import_summary local;
    if (sum == NULL) sum = &local;
    memset(sum, 0, sizeof *sum);
    hk_import_options defaults;
    memset(&defaults, 0, sizeof defaults);
    if (opt == NULL) opt = &defaults;
    if (s == NULL || path == NULL)
        return hk_error_set(err, HK_ERR_INVALID,
                            "import needs a store and a file path");

    io_import im;
    memset(&im, 0, sizeof im);
    im.store = s;
    im.path = strcmp(path, "-") == 0 ? "<stdin>" : path;
    im.actor = opt->actor != NULL ? opt->actor : "import";
    im.batch_size = opt->batch_size != 0 ? opt->batch_size : IO_DEFAULT_BATCH;
    im.rejects_path = opt->rejects_path;
    im.sum = sum;
    im.progress = opt->progress;
    im.progress_ud = opt->progress_ud;
    im.next_progress = IO_PROGRESS_EVERY;
    set_label(&im, path);

    io_reader r;
    hk_err rc = io_reader_open(&r, path, IO_MAX_TEXT_LINE, err);
    if (rc != HK_OK) return rc;
    const char *head;
    size_t head_len;
    hk_format format = opt->format;
    rc = io_reader_peek(&r, 65536, &head, &head_len, err);
    if (rc != HK_OK) goto fail;
    /* A UTF-8 byte-order mark (Windows exports) is not part of the first
     * record: kept, it would become part of the first predicate or make
     * the first JSONL object invalid. */
    if (head_len >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0) {
        r.start += 3;
        r.bytes_done += 3;
        head += 3;
        head_len -= 3;
    }
    if (format == HK_FORMAT_AUTO) {
        const char *named = strcmp(path, "-") == 0 ? NULL : path;
        format = io_detect_format(named, head, head_len);
        if (format != HK_FORMAT_SQLITE && format != HK_FORMAT_MCP_MEMORY &&
            !io_format_by_name(named)) {
            rc = io_check_guess(format, named, head, head_len, r.eof, err);
            if (rc != HK_OK) goto fail;
        }
    }
    sum->format = format;
    if (format == HK_FORMAT_SQLITE) {
        io_reader_close(&r);
        if (strcmp(path, "-") == 0) {
            rc = hk_error_set(err, HK_ERR_UNSUPPORTED,
                              "a SQLite KB cannot be read from standard "
                              "input; give its file name");
            goto fail_closed;
        }
        rc = io_import_sqlite(&im, path, err);
        if (rc != HK_OK) goto fail_closed;
        /* SQLite progress counts rows: done = total at the end. */
        if (im.progress != NULL)
            im.progress(im.progress_ud, sum->read, sum->read, sum->read);
    } else if (format == HK_FORMAT_STATEMENTS || format == HK_FORMAT_TSV ||
               format == HK_FORMAT_JSONL || format == HK_FORMAT_MCP_MEMORY ||
               format == HK_FORMAT_NTRIPLES) {
        rc = import_lines(&im, &r, format, opt->iri_base, err);
        if (rc != HK_OK) goto fail;
        if (im.progress != NULL)
            im.progress(im.progress_ud, r.bytes_done, r.bytes_total, sum->read);
        io_reader_close(&r);
    } else {
        rc = hk_error_set(err, HK_ERR_INVALID,
                          "cannot import '%s': it is written by export only",
                          hk_format_name(format));
        goto fail;
    }
    rc = commit_batch(&im, err);
    if (rc != HK_OK) goto fail_closed;
    if (im.rejects != NULL) {
        FILE *f = im.rejects;
        im.rejects = NULL;
        if (fclose(f) != 0) {
            rc = hk_error_set(err, HK_ERR_IO,
                              "cannot write rejects file '%s': %s",
                              im.rejects_path, strerror(errno));
            goto fail_closed;
        }
    }
    hk_buf_free(&im.scratch);
    return HK_OK;

fail:
    io_reader_close(&r);
fail_closed:
    abort_batch(&im);
    if (im.rejects != NULL) fclose(im.rejects);
    hk_buf_free(&im.scratch);
    return rc;
}
