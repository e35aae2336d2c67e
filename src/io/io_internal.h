/*
 * io_internal.h — private interfaces of the import/export module (src/io).
 *
 * The module is split by job:
 *   io_format.c  format names and auto-detection
 *   io_reader.c  buffered line reader with a hard line-length cap
 *   io_import.c  the import driver: batching into transactions, rejects
 *                file, summary, and the three line formats (statements,
 *                TSV, JSONL)
 *   io_sqlite.c  the legacy SQLite KB source
 *   io_export.c  hk_export
 * JSONL records and SQLite rows are read into a fact input by the service
 * layer's parser (src/service/service.h, "Fact input", legacy rules).
 *
 * Threads: everything here works on objects owned by one call of
 * hk_import_file / hk_export; no state is shared between calls.
 */
#ifndef HK_IO_INTERNAL_H
#define HK_IO_INTERNAL_H

#include "hakgal.h"

#include <jansson.h>

/* ==== Line reader ==== */

/* Longest line accepted, per format. Statement and TSV lines may carry a
 * full statement plus surrounding whitespace; JSONL lines may also carry
 * a context object, tags and a source, with JSON escaping. */
#define IO_MAX_TEXT_LINE (HK_MAX_STATEMENT_BYTES + 4096)
#define IO_MAX_JSONL_LINE (8 * HK_MAX_STATEMENT_BYTES)
/* Bytes of one line of an MCP memory file (an entity with all its
 * observations). */
#define IO_MAX_MEMORY_LINE (16u * 1024u * 1024u)
/* Bytes of an offending record echoed into a rejects file. */
#define IO_REJECT_ECHO_BYTES 1024

typedef struct io_reader {
    int fd;               /* input descriptor */
    bool own_fd;          /* close fd in io_reader_close */
    char *buf;            /* read buffer: max_line + chunk bytes */
    size_t cap;           /* bytes allocated in buf */
    size_t start;         /* first unconsumed byte in buf */
    size_t end;           /* one past the last valid byte in buf */
    bool eof;             /* read() returned 0 */
    size_t max_line;      /* longest line returned whole, in bytes */
    uint64_t line_no;     /* 1-based number of the line last returned */
    uint64_t bytes_done;  /* bytes consumed so far (progress) */
    uint64_t bytes_total; /* file size, 0 when unknown (pipes) */
    char eol;             /* line terminator: '\n', or '\r' for files whose
                             first line ends with a lone CR (old Mac text) */
    bool eol_known;       /* eol was decided from the first line ending */
} io_reader;

/* Opens path ("-" = standard input). Caller closes with io_reader_close. */
hk_err io_reader_open(io_reader *r, const char *path, size_t max_line,
                      hk_error *err);
void io_reader_close(io_reader *r);
/* Makes at least min(n, file size) bytes visible at r->buf + r->start
 * without consuming them (format detection). */
hk_err io_reader_peek(io_reader *r, size_t n, const char **data, size_t *len,
                      hk_error *err);
/* Next line without its '\n' (and without a trailing '\r'); in a file
 * whose first line ends with a lone '\r', every '\r' ends a line.
 * *line stays valid until the next call; the reader owns it. Sets *got
 * false at the end of input. A line longer than max_line is consumed
 * whole but returned cut to its first max_line bytes with *overlong true
 * and *full_len its real length. */
hk_err io_reader_next(io_reader *r, char **line, size_t *len, bool *overlong,
                      uint64_t *full_len, bool *got, hk_error *err);
/* Changes the cap after detection (must not be below the current one). */
hk_err io_reader_set_max_line(io_reader *r, size_t max_line, hk_error *err);

/* ==== Format detection ==== */

/* Decides the format of a file from its name and its first bytes. */
hk_format io_detect_format(const char *path, const char *head, size_t len);
bool io_has_sqlite_magic(const char *head, size_t len);
/* True when the file name alone says the format (an extension). */
bool io_format_by_name(const char *path);
/* Checks a format guessed from content against the first bytes (whole:
 * head is the entire input): HK_ERR_INVALID "unrecognized format" when
 * they are binary, or when most sampled records of a TSV or JSONL guess
 * do not parse. */
hk_err io_check_guess(hk_format f, const char *path, const char *head,
                      size_t len, bool whole, hk_error *err);

/* ==== Import driver ==== */

typedef struct io_import io_import;

/* Adds one parsed record. Input problems (the store answers
 * HK_ERR_INVALID or HK_ERR_LIMIT) become a reject and return HK_OK; any
 * other failure is fatal for the import and is returned. */
hk_err io_import_add(io_import *im, uint64_t line, const hk_statement *st,
                     const hk_fact_meta *meta, const char *rec, size_t rec_len,
                     hk_error *err);
/* Counts a rejected record and writes it to the rejects file. */
hk_err io_import_reject(io_import *im, uint64_t line, const char *reason,
                        const char *rec, size_t rec_len, hk_error *err);
/* Counts a record as read and reports progress every 64k records. done
 * and total are bytes for line formats and rows for SQLite. */
void io_import_count_read(io_import *im, uint64_t done, uint64_t total);

/* The SQLite source (io_sqlite.c): streams table facts into im. */
hk_err io_import_sqlite(io_import *im, const char *path, hk_error *err);

/* The memory file of the MCP memory server (io_memory.c): the import
 * state of one file (how often each entity name and relation came so far:
 * repeated lines are copies), one line into im; the whole graph of the KB
 * to out. */
typedef struct io_mem_state io_mem_state;
io_mem_state *io_mem_new(void);
void io_mem_free(io_mem_state *st);
hk_err io_memory_import_line(io_import *im, io_mem_state *st, uint64_t line_no,
                             char *line, size_t len, hk_error *err);
hk_err io_memory_export(hk_txn *t, FILE *out, hk_error *err);

/* N-Triples (io_rdf.c): one fact as triples; the import state of one
 * file (an open n-ary group), its lines, and the end of input. */
typedef struct io_nt_state io_nt_state;
hk_err io_nt_append_fact(const hk_fact *f, const char *base, hk_buf *b);
io_nt_state *io_nt_new(const char *base);
void io_nt_free(io_nt_state *st);
hk_err io_nt_import_line(io_import *im, io_nt_state *st, uint64_t line_no,
                         const char *line, size_t len, hk_error *err);
hk_err io_nt_flush(io_import *im, io_nt_state *st, hk_error *err);
bool io_nt_line_parses(const char *line, size_t len);

/* Turtle (io_rdf.c): the prefixes, then facts one by one (consecutive
 * binary facts of one subject share it with ';'), then the end. */
typedef struct io_ttl_state {
    const char *base; /* IRI base */
    hk_buf subject;   /* subject term of the open statement */
    hk_buf tmp;       /* the next subject term */
    bool open;        /* a statement is open (ends with " .") */
} io_ttl_state;
hk_err io_ttl_begin(io_ttl_state *st, const char *base, hk_buf *b);
hk_err io_ttl_append_fact(io_ttl_state *st, const hk_fact *f, hk_buf *b);
hk_err io_ttl_end(io_ttl_state *st, hk_buf *b); /* frees st */

/* ==== Export ==== */

/* The facts an export writes: every fact in id order, or the listed ids
 * (missing ones skipped). */
typedef struct io_fact_iter {
    hk_txn *t;             /* snapshot */
    const hk_fact_id *ids; /* or NULL: every fact */
    size_t n_ids, next;    /* entries in ids, next one to read */
    hk_query *q;           /* scan over every fact (ids == NULL) */
} io_fact_iter;
hk_err io_iter_open(io_fact_iter *it, hk_txn *t, const hk_export_options *opt,
                    hk_error *err);
/* Next fact into f; *has false at the end. */
hk_err io_iter_next(io_fact_iter *it, hk_fact *f, bool *has, hk_error *err);
void io_iter_close(io_fact_iter *it);

/* The distinct arguments of the selected facts, sorted byte-wise: graph
 * exports of a restricted set list these as entities. Caller frees with
 * io_names_free. */
hk_err io_selected_entities(hk_txn *t, const hk_export_options *opt,
                            char ***names, size_t *n, hk_error *err);
void io_names_free(char **names, size_t n);
/* Calls fn for every entity of the export: the whole KB's entities in
 * symbol id order (hks_entities_scan: constant memory, one ordered pass)
 * or io_selected_entities. */
typedef hk_err (*io_entity_fn)(void *ud, const char *name, hk_error *err);
hk_err io_each_entity(hk_txn *t, const hk_export_options *opt, io_entity_fn fn,
                      void *ud, hk_error *err);

/* Writes b to out and empties it; HK_ERR_IO names errno. */
hk_err io_flush_out(FILE *out, hk_buf *b, hk_error *err);
/* io_flush_out once b holds IO_EXPORT_FLUSH bytes. */
hk_err io_maybe_flush(FILE *out, hk_buf *b, hk_error *err);
#define IO_EXPORT_FLUSH (256u * 1024u) /* bytes buffered before fwrite */

/* Appends x in decimal (printf is a sixth of a graph export's CPU). */
hk_err io_put_u64(hk_buf *b, uint64_t x);
/* Appends x as "%.17g" does; float_literal: with ".0" appended when that
 * has no '.', exponent or letter (a Cypher float, not an integer). */
hk_err io_put_double(hk_buf *b, double x, bool float_literal);

/* The lexical kind of a number argument: 0 none, 1 integer, 2 decimal,
 * 3 double (forms of xsd:integer, xsd:decimal, xsd:double). */
int io_number_kind(const char *s, size_t n);

/* GraphML and JSON graph (io_graph.c). */
hk_err io_graph_export(hk_txn *t, FILE *out, const hk_export_options *opt,
                       hk_error *err);
/* Cypher script (io_neo4j.c). */
hk_err io_cypher_export(hk_txn *t, FILE *out, const hk_export_options *opt,
                        hk_error *err);

/* ==== Small helpers ==== */

/* True for errors that mean "this record is bad" (a reject), as opposed
 * to failures of the machine (memory, store, I/O) that end an import. */
bool io_is_input_error(hk_err rc);
/* Copies e into err (if non-NULL) for a fatal rc and returns rc. */
hk_err io_fatal(hk_error *err, const hk_error *e, hk_err rc);

/* Copies a reason into a fixed buffer replacing tabs and newlines by
 * spaces so that a rejects line stays one line. */
void io_clean_reason(char *dst, size_t cap, const char *src);

#endif /* HK_IO_INTERNAL_H */
