/*
 * io_internal.h — private interfaces of the import/export module (src/io).
 *
 * The module is split by job:
 *   io_format.c  format names and auto-detection
 *   io_reader.c  buffered line reader with a hard line-length cap
 *   io_import.c  the import driver: batching into transactions, rejects
 *                file, summary, and the three line formats (statements,
 *                TSV, JSONL)
 *   io_meta.c    JSON metadata shared by JSONL and SQLite records
 *                (confidence, source, tags, context, fact_metadata)
 *   io_sqlite.c  the legacy SQLite KB source
 *   io_export.c  hk_export
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

/* ==== Metadata from JSON (io_meta.c) ==== */

/* Holds the metadata of one record and the memory behind it. Reused from
 * record to record without allocating once warm. */
typedef struct io_meta {
    hk_fact_meta meta;             /* what is passed to hk_store_add */
    const char *tags[HK_MAX_TAGS]; /* tag pointers (into json values) */
    json_t *context;               /* context object being built, or NULL */
    char *context_text;            /* serialised context (malloc) */
    char *source_text;             /* source copy (malloc) or NULL */
    json_t *hold;                  /* decoded JSON the tags point into */
    bool context_given;            /* the record itself gave a context */
} io_meta;

void io_meta_init(io_meta *m);
/* Frees what the last record used; leaves m ready for the next one. */
void io_meta_reset(io_meta *m);
void io_meta_free(io_meta *m);

/* Sets confidence from a JSON value (number 0..1; null = default). */
hk_err io_meta_set_confidence(io_meta *m, const json_t *v, hk_error *err);
/* Sets created/updated times from RFC 3339 strings or integer seconds
 * (as hk_fact_write_json writes them; null or absent = now). */
hk_err io_meta_set_times(io_meta *m, const json_t *created,
                         const json_t *updated, hk_error *err);
/* Sets source from a JSON string (null = none). */
hk_err io_meta_set_source(io_meta *m, const json_t *v, hk_error *err);
/* Sets tags from a JSON array of strings (or one string; null = none).
 * The strings stay owned by v, which must outlive the add. */
hk_err io_meta_set_tags(io_meta *m, const json_t *v, hk_error *err);
/* Sets the context from a JSON value. An object is stored as is. A string
 * holding JSON text of an object (legacy double encoding) is decoded. Any
 * other value (non-JSON text, arrays, numbers) is kept, wrapped as
 * {"legacy_context": value}. */
hk_err io_meta_set_context(io_meta *m, const json_t *v, hk_error *err);
/* Merges legacy fact_metadata (an object, or a string holding one):
 * "source" and "tags" fill those fields when not already set and valid,
 * "confidence" fills confidence when not already set; every other key
 * (and any value that could not be mapped) is kept in the context under
 * "fact_metadata". Text that is not a JSON object is kept there as a
 * string. */
hk_err io_meta_merge_fact_metadata(io_meta *m, const json_t *v, hk_error *err);
/* Serialises the context built so far into meta.context_json. Call once
 * after all setters. */
hk_err io_meta_finish(io_meta *m, hk_error *err);

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
