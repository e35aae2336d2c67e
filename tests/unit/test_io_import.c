/*
 * test_io_import.c — hk_import_file and hk_export: every input format with
 * good and malformed records (exact counts and exact rejects file), format
 * detection, re-import idempotency, overlong lines, batching into
 * transactions, the legacy SQLite KB (built here with libsqlite3: bad rows,
 * NULL statements, non-JSON context, fact_metadata mapping), and the JSONL
 * export -> import round trip with all metadata.
 *
 * Expected reject reasons of statement syntax errors are taken from
 * hk_statement_parse itself, so the tests pin the rejects format and the
 * counts without copying the parser's wording.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/mem.h"
#include "hakgal.h"
#include "io/io_internal.h"

/* ==== Fixtures ==== */

typedef struct fixture {
    char dir[512];   /* scratch directory of this test */
    char kb[600];    /* KB directory inside it */
    hk_store *store; /* open KB */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *base = getenv("HK_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    mkdir(base, 0755);
    snprintf(f->dir, sizeof f->dir, "%s/io-import-XXXXXX", base);
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->kb, sizeof f->kb, "%s/kb", f->dir);
    hk_store_options opt = {0};
    opt.create = true;
    opt.no_sync = true;
    hk_error e;
    if (hk_store_open(f->kb, &opt, &f->store, &e) != HK_OK) {
        fprintf(stderr, "open: %s\n", e.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->store != NULL) hk_store_close(f->store);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static void path_in(const fixture *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Whole file as a NUL-terminated string; "" when missing. Caller frees. */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return strdup("");
    hk_buf b = HK_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(hk_buf_append(&b, chunk, n), HK_OK);
    fclose(fp);
    char *s = strdup(b.data != NULL ? b.data : "");
    hk_buf_free(&b);
    return s;
}

static hk_import_summary import(fixture *f, const char *path, hk_format format,
                                const char *rejects, uint64_t batch)
{
    hk_import_options o = {0};
    o.format = format;
    o.rejects_path = rejects;
    o.batch_size = batch;
    hk_import_summary sum;
    hk_error e;
    hk_error_clear(&e);
    hk_err rc = hk_import_file(f->store, path, &o, &sum, &e);
    if (rc != HK_OK) fail_msg("import %s: %s", path, e.message);
    return sum;
}

static void assert_counts(const hk_import_summary *s, uint64_t read,
                          uint64_t added, uint64_t present, uint64_t rejected)
{
    assert_int_equal(s->read, read);
    assert_int_equal(s->added, added);
    assert_int_equal(s->present, present);
    assert_int_equal(s->rejected, rejected);
}

/* The parser's message for text (which must be invalid). */
static const char *parse_error(const char *text, hk_error *e)
{
    hk_statement st;
    hk_error_clear(e);
    assert_int_not_equal(hk_statement_parse(text, strlen(text), &st, e), HK_OK);
    return e->message;
}

/* Appends one expected rejects line. */
static void expect_reject(hk_buf *b, const char *file, unsigned line,
                          const char *reason, const char *rec, size_t rec_len)
{
    char why[600];
    io_clean_reason(why, sizeof why, reason);
    assert_int_equal(hk_buf_appendf(b, "%s:%u: %s\t", file, line, why), HK_OK);
    assert_int_equal(hk_buf_append(b, rec, rec_len), HK_OK);
    assert_int_equal(hk_buf_append(b, "\n", 1), HK_OK);
}

static uint64_t fact_count(fixture *f)
{
    hk_txn *t;
    hk_stats st;
    assert_int_equal(hk_txn_begin(f->store, false, &t, NULL), HK_OK);
    assert_int_equal(hk_store_stats(t, &st, NULL), HK_OK);
    hk_txn_abort(t);
    return st.facts;
}

/* Looks a statement up and reads its fact; fails the test when absent. */
static void get_fact(fixture *f, const char *text, hk_fact *out)
{
    hk_statement st;
    hk_error e;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &e), HK_OK);
    hk_txn *t;
    hk_fact_id id = 0;
    assert_int_equal(hk_txn_begin(f->store, false, &t, NULL), HK_OK);
    if (hk_store_find(t, &st, &id, &e) != HK_OK)
        fail_msg("fact %s not found", text);
    assert_int_equal(hk_store_get(t, id, out, &e), HK_OK);
    hk_txn_abort(t);
    hk_statement_release(&st);
}

/* Compares two JSON texts structurally. */
static void assert_json_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        if (a != b) fail_msg("JSON %s != %s", a ? a : "NULL", b ? b : "NULL");
        return;
    }
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
    assert_non_null(ja);
    assert_non_null(jb);
    if (!json_equal(ja, jb)) fail_msg("JSON %s != %s", a, b);
    json_decref(ja);
    json_decref(jb);
}

/* ==== Formats ==== */

static void test_format_names(void **state)
{
    (void)state;
    hk_format fmt;
    hk_error e;
    assert_int_equal(hk_format_parse("statements", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_STATEMENTS);
    assert_int_equal(hk_format_parse("txt", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_STATEMENTS);
    assert_int_equal(hk_format_parse("JSONL", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_JSONL);
    assert_int_equal(hk_format_parse("sqlite", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_SQLITE);
    assert_int_equal(hk_format_parse("tsv", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_TSV);
    assert_int_equal(hk_format_parse("auto", &fmt, &e), HK_OK);
    assert_int_equal(fmt, HK_FORMAT_AUTO);
    assert_int_equal(hk_format_parse("csv", &fmt, &e), HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "csv"));
    for (int i = 0; i <= 4; i++) {
        assert_int_equal(
            hk_format_parse(hk_format_name((hk_format)i), &fmt, &e), HK_OK);
        assert_int_equal(fmt, i);
    }
}

static void test_detection(void **state)
{
    (void)state;
    static const char magic[16] = "SQLite format 3";
    assert_int_equal(io_detect_format("x.bin", magic, 16), HK_FORMAT_SQLITE);
    assert_int_equal(io_detect_format("x.jsonl", "A(b)\n", 5), HK_FORMAT_JSONL);
    assert_int_equal(io_detect_format("x.NDJSON", "", 0), HK_FORMAT_JSONL);
    assert_int_equal(io_detect_format("x.tsv", "A(b)\n", 5), HK_FORMAT_TSV);
    assert_int_equal(io_detect_format("x.db", "", 0), HK_FORMAT_SQLITE);
    const char *j = "# c\n\n  {\"statement\":\"A(b)\"}\n";
    assert_int_equal(io_detect_format("x.txt", j, strlen(j)), HK_FORMAT_JSONL);
    const char *t = "# c\nA\tb\tc\n";
    assert_int_equal(io_detect_format("x.txt", t, strlen(t)), HK_FORMAT_TSV);
    const char *s = "A(b,\tc)\n";
    assert_int_equal(io_detect_format("x", s, strlen(s)), HK_FORMAT_STATEMENTS);
    assert_int_equal(io_detect_format(NULL, "", 0), HK_FORMAT_STATEMENTS);
}

/* ==== Statements ==== */

static void test_statements_with_rejects(void **state)
{
    fixture *f = *state;
    char in[700], rej[700];
    path_in(f, "facts.hkl", in, sizeof in);
    path_in(f, "facts.rejects", rej, sizeof rej);
    /* 33 arguments: one more than allowed. */
    char many[400] = "P(a0";
    for (int i = 1; i < 33; i++) {
        char a[8];
        snprintf(a, sizeof a, ", a%d", i);
        strcat(many, a);
    }
    strcat(many, ")");
    hk_buf text = HK_BUF_INIT;
    hk_buf_appendf(
        &text,
        "# sample header\n"                            /* 1 comment */
        "HasPart(Computer, CPU)\n"                     /* 2 ok */
        "\n"                                           /* 3 blank */
        "   \t \n"                                     /* 4 blank */
        "IsA(Water, Molecule).\n"                      /* 5 ok, trailing '.' */
        "HasPart(Computer, CPU\n"                      /* 6 unbalanced */
        "  # indented comment\n"                       /* 7 comment */
        "Located(North Pacific, Earth)\r\n"            /* 8 ok, CRLF */
        "P(a, , b)\n"                                  /* 9 empty argument */
        "%s\n"                                         /* 10 33 arguments */
        "P(\xff\xfe)\n"                                /* 11 invalid UTF-8 */
        "HasPart( Computer ,CPU )\n"                   /* 12 duplicate of 2 */
        "Formula(F=ma, TCP/IP, CO\xe2\x82\x82, 95%%)", /* 13 ok, no final
                                                          newline */
        many);
    write_file(in, text.data, text.len);

    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, rej, 0);
    assert_int_equal(s.format, HK_FORMAT_STATEMENTS);
    assert_counts(&s, 9, 4, 1, 4);
    assert_int_equal(fact_count(f), 4);

    hk_buf want = HK_BUF_INIT;
    hk_error e;
    const char *bad[] = {"HasPart(Computer, CPU", "P(a, , b)", many,
                         "P(\xff\xfe)"};
    unsigned lines[] = {6, 9, 10, 11};
    for (int i = 0; i < 4; i++)
        expect_reject(&want, in, lines[i], parse_error(bad[i], &e), bad[i],
                      strlen(bad[i]));
    char *got = read_file(rej);
    assert_string_equal(got, want.data);
    free(got);

    /* Re-running adds nothing; rejects are appended again. */
    s = import(f, in, HK_FORMAT_AUTO, NULL, 0);
    assert_counts(&s, 9, 0, 5, 4);
    assert_int_equal(fact_count(f), 4);

    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "Formula(F=ma, TCP/IP, CO\xe2\x82\x82, 95%)", &fact);
    assert_int_equal(fact.st.n_args, 4);
    assert_string_equal(fact.st.args[2], "CO\xe2\x82\x82");
    hk_fact_release(&fact);
    hk_buf_free(&want);
    hk_buf_free(&text);
}

static void test_overlong_line(void **state)
{
    fixture *f = *state;
    char in[700], rej[700];
    path_in(f, "long.hkl", in, sizeof in);
    path_in(f, "long.rejects", rej, sizeof rej);
    size_t n = IO_MAX_TEXT_LINE + 5000;
    hk_buf text = HK_BUF_INIT;
    hk_buf_append_str(&text, "A(b)\nP(");
    for (size_t i = 2; i < n - 1; i++)
        hk_buf_append(&text, "x", 1);
    hk_buf_append_str(&text, ")\nC(d)\n");
    /* A statement just above the statement limit but within the line limit:
     * read whole, rejected by the parser. */
    hk_buf big = HK_BUF_INIT;
    hk_buf_append_str(&big, "Q(");
    for (size_t i = 0; i < HK_MAX_STATEMENT_BYTES; i++)
        hk_buf_append(&big, "y", 1);
    hk_buf_append_str(&big, ")");
    hk_buf_append(&text, big.data, big.len);
    hk_buf_append_str(&text, "\nE(f)\n");
    write_file(in, text.data, text.len);

    hk_import_summary s = import(f, in, HK_FORMAT_STATEMENTS, rej, 0);
    assert_counts(&s, 5, 3, 0, 2);

    hk_buf want = HK_BUF_INIT;
    char why[200];
    snprintf(why, sizeof why,
             "line is %zu bytes, longer than the limit of %d bytes", n,
             IO_MAX_TEXT_LINE);
    hk_buf_appendf(&want, "%s:2: %s\t", in, why);
    hk_buf_append(&want, text.data + 5, IO_REJECT_ECHO_BYTES);
    hk_buf_append_str(&want, "...\n");
    hk_error e;
    hk_statement st;
    assert_int_not_equal(hk_statement_parse(big.data, big.len, &st, &e), HK_OK);
    char reason[600];
    io_clean_reason(reason, sizeof reason, e.message);
    hk_buf_appendf(&want, "%s:4: %s\t", in, reason);
    hk_buf_append(&want, big.data, IO_REJECT_ECHO_BYTES);
    hk_buf_append_str(&want, "...\n");
    char *got = read_file(rej);
    assert_string_equal(got, want.data);
    free(got);
    hk_buf_free(&want);
    hk_buf_free(&big);
    hk_buf_free(&text);
}

/* ==== TSV ==== */

static void test_tsv(void **state)
{
    fixture *f = *state;
    char in[700], rej[700];
    path_in(f, "facts.tsv", in, sizeof in);
    path_in(f, "tsv.rejects", rej, sizeof rej);
    static const char text[] =
        "# pred\targs\n"                  /* 1 comment */
        "HasPart\tComputer\tCPU\n"        /* 2 ok */
        "Bond\tNH3\tnitrogen\thydrogen\n" /* 3 ok, 3 args */
        "Lonely\n"                        /* 4 no argument */
        "P\ta\t\tb\n"                     /* 5 empty argument */
        "Says\tAlice\tHello, (world)\n"   /* 6 ok: raw comma/parens */
        "9bad\tx\n"                       /* 7 bad predicate */
        "\n"                              /* 8 blank */
        "HasPart\tComputer\tCPU\r\n";     /* 9 duplicate */
    write_file(in, text, sizeof text - 1);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, rej, 0);
    assert_int_equal(s.format, HK_FORMAT_TSV);
    assert_counts(&s, 7, 3, 1, 3);

    char *got = read_file(rej);
    /* Line 4 has its own message; 5 and 7 carry the validator's. */
    char head[800];
    snprintf(head, sizeof head,
             "%s:4: expected a predicate and at least one argument separated "
             "by tabs\tLonely\n",
             in);
    assert_memory_equal(got, head, strlen(head));
    char *l5 = strstr(got, ":5: ");
    char *l7 = strstr(got, ":7: ");
    assert_non_null(l5);
    assert_non_null(l7);
    assert_non_null(strstr(l5, "\tP\ta\t\tb\n"));
    assert_non_null(strstr(l7, "\t9bad\tx\n"));
    int lines = 0;
    for (char *p = got; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    free(got);

    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "Says(Alice, \"Hello, (world)\")", &fact);
    assert_string_equal(fact.st.args[1], "Hello, (world)");
    hk_fact_release(&fact);
    s = import(f, in, HK_FORMAT_TSV, NULL, 0);
    assert_counts(&s, 7, 0, 4, 3);
}

/* ==== Byte-order mark ==== */

/* A UTF-8 byte-order mark at the start of a file (Windows exports) is not
 * part of the first record: the first statement keeps its predicate, a
 * first JSONL object is not rejected, and detection still sees '{'. */
static void test_byte_order_mark(void **state)
{
    fixture *f = *state;
    char in[700];
    static const struct {
        const char *name;
        const char *text;
        const char *fact;
        hk_format format;
    } cases[] = {
        {"bom.hkl", "\xEF\xBB\xBFIsA(Bom, Mark)\nIsA(Two, Mark)\n",
         "IsA(Bom, Mark)", HK_FORMAT_STATEMENTS},
        {"bom.txt", "\xEF\xBB\xBF{\"statement\": \"IsA(Json, Mark)\"}\n",
         "IsA(Json, Mark)", HK_FORMAT_JSONL},
        {"bom.tsv", "\xEF\xBB\xBFIsA\tTab\tMark\n", "IsA(Tab, Mark)",
         HK_FORMAT_TSV},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path_in(f, cases[i].name, in, sizeof in);
        write_file(in, cases[i].text, strlen(cases[i].text));
        hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 0);
        assert_int_equal(s.format, cases[i].format);
        assert_int_equal(s.rejected, 0);
        hk_fact fact;
        hk_fact_init(&fact);
        get_fact(f, cases[i].fact, &fact);
        assert_string_equal(fact.st.predicate, "IsA");
        hk_fact_release(&fact);
    }
}

/* ==== File names ==== */

/* A file whose name is not valid UTF-8 (a Latin-1 legacy export) imports:
 * its name only labels the audit entry. It used to fail as a whole with
 * "cannot start an import transaction: invalid input". */
static void test_non_utf8_file_name(void **state)
{
    fixture *f = *state;
    char in[700];
    path_in(f, "Wissensbasis_\xE4.hkl", in, sizeof in);
    static const char text[] = "IsA(Latin1, Name)\n";
    write_file(in, text, sizeof text - 1);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 0);
    assert_counts(&s, 1, 1, 0, 0);
    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "IsA(Latin1, Name)", &fact);
    hk_fact_release(&fact);
}

/* Tags are a set: a JSONL record naming a tag twice stores it once (as
 * `hakgal add --tag a --tag a` does). */
static void test_jsonl_duplicate_tags(void **state)
{
    fixture *f = *state;
    char in[700];
    path_in(f, "tags.jsonl", in, sizeof in);
    static const char text[] =
        "{\"statement\": \"IsA(Tagged, Twice)\", \"tags\": [\"a\", \"b\", "
        "\"a\", \"b\", \"c\"]}\n";
    write_file(in, text, sizeof text - 1);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 0);
    assert_counts(&s, 1, 1, 0, 0);
    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "IsA(Tagged, Twice)", &fact);
    assert_int_equal(fact.n_tags, 3);
    assert_string_equal(fact.tags[0], "a");
    assert_string_equal(fact.tags[1], "b");
    assert_string_equal(fact.tags[2], "c");
    hk_fact_release(&fact);
}

/* ==== JSONL ==== */

static void test_jsonl(void **state)
{
    fixture *f = *state;
    char in[700], rej[700];
    path_in(f, "facts.jsonl", in, sizeof in);
    path_in(f, "jsonl.rejects", rej, sizeof rej);
    static const char *lines[] = {
        /* 1 */ "{\"statement\": \"HasPart(Computer, CPU)\", \"confidence\": "
                "0.9, "
                "\"source\": \"manual\", \"tags\": [\"hw\", \"core\"], "
                "\"context\": {\"page\": 3}, \"unknown\": 1}",
        /* 2 */
        "{\"predicate\": \"Bond\", \"args\": [\"NH3\", \"nitrogen\", "
        "\"hydrogen\"]}",
        /* 3 */
        "{\"predicate\": \"HasPart\", \"subject\": \"Car\", "
        "\"object\": \"Wheel\"}",
        /* 4 */ "{\"predicate\": \"AtomicNumber\", \"args\": [\"Gold\", 79]}",
        /* 5 */
        "{\"statement\": \"IsA(Water, Molecule)\", "
        "\"context\": \"{\\\"legacy\\\": true}\"}",
        /* 6 */
        "{\"statement\": \"IsA(Ice, Solid)\", \"context\": \"plain note\"}",
        /* 7 */
        "{\"statement\": \"IsA(Salt, Compound)\", \"fact_metadata\": "
        "{\"source\": \"book\", \"tags\": [\"chem\"], \"reviewer\": \"ann\"}}",
        /* 8 */ "{not json",
        /* 9 */ "[1, 2]",
        /* 10 */ "{\"confidence\": 1}",
        /* 11 */ "{\"statement\": \"A(b)\", \"confidence\": 1.5}",
        /* 12 */ "{\"statement\": \"A(b)\", \"confidence\": \"high\"}",
        /* 13 */ "{\"statement\": \"A(b)\", \"tags\": [\"ok\", 7]}",
        /* 14 */ "{\"statement\": \"A(b, \"}",
        /* 15 */ "{\"statement\": 42}",
        /* 16 */ "{\"predicate\": \"P\", \"args\": []}",
        /* 17 */
        "{\"statement\": \"HasPart(Computer, CPU)\", \"confidence\": 0.1}",
        /* 18 */ "",
        /* 19 */ "# comment",
        /* 20 */ "{\"statement\": \"A(b)\", \"statement\": \"C(d)\"}",
    };
    hk_buf text = HK_BUF_INIT;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        hk_buf_append_str(&text, lines[i]);
        hk_buf_append_str(&text, "\n");
    }
    write_file(in, text.data, text.len);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, rej, 0);
    assert_int_equal(s.format, HK_FORMAT_JSONL);
    /* 18 records; 7 added (1-7), 1 present (17), 10 rejected. */
    assert_counts(&s, 18, 7, 1, 10);

    char *got = read_file(rej);
    unsigned bad_lines[] = {8, 9, 10, 11, 12, 13, 14, 15, 16, 20};
    char *p = got;
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        char prefix[800];
        snprintf(prefix, sizeof prefix, "%s:%u: ", in, bad_lines[i]);
        if (strncmp(p, prefix, strlen(prefix)) != 0)
            fail_msg("reject %zu: expected prefix %s, got %.80s", i, prefix, p);
        char *tab = strchr(p, '\t');
        assert_non_null(tab);
        const char *rec = lines[bad_lines[i] - 1];
        assert_memory_equal(tab + 1, rec, strlen(rec));
        assert_int_equal(tab[1 + strlen(rec)], '\n');
        p = tab + 2 + strlen(rec);
    }
    assert_int_equal(*p, '\0');
    assert_non_null(strstr(got, "outside 0..1"));
    assert_non_null(strstr(got, "invalid JSON at column"));
    assert_non_null(strstr(got, "expected a JSON object"));
    free(got);

    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "HasPart(Computer, CPU)", &fact);
    assert_true(fact.confidence > 0.899 && fact.confidence < 0.901);
    assert_string_equal(fact.source, "manual");
    assert_int_equal(fact.n_tags, 2);
    assert_string_equal(fact.tags[0], "hw");
    assert_string_equal(fact.tags[1], "core");
    assert_json_equal(fact.context_json, "{\"page\": 3}");
    get_fact(f, "AtomicNumber(Gold, 79)", &fact);
    assert_null(fact.source);
    assert_true(fact.confidence == 1.0);
    get_fact(f, "HasPart(Car, Wheel)", &fact);
    get_fact(f, "Bond(NH3, nitrogen, hydrogen)", &fact);
    get_fact(f, "IsA(Water, Molecule)", &fact);
    assert_json_equal(fact.context_json, "{\"legacy\": true}");
    get_fact(f, "IsA(Ice, Solid)", &fact);
    assert_json_equal(fact.context_json,
                      "{\"legacy_context\": \"plain note\"}");
    get_fact(f, "IsA(Salt, Compound)", &fact);
    assert_string_equal(fact.source, "book");
    assert_int_equal(fact.n_tags, 1);
    assert_string_equal(fact.tags[0], "chem");
    assert_json_equal(fact.context_json,
                      "{\"fact_metadata\": {\"reviewer\": \"ann\"}}");
    hk_fact_release(&fact);
    hk_buf_free(&text);
}

/* ==== JSONL round trip ==== */

static void add_fact(hk_txn *t, const char *text, const hk_fact_meta *m)
{
    hk_statement st;
    hk_error e;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &e), HK_OK);
    hk_fact_id id;
    bool created;
    if (hk_store_add(t, &st, m, &id, &created, &e) != HK_OK)
        fail_msg("add %s: %s", text, e.message);
    hk_statement_release(&st);
}

/* Export as JSONL with the id removed: everything else (metadata and the
 * created/updated times) must survive a round trip. */
static json_t *portable_export(hk_store *s, const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    hk_error e;
    assert_int_equal(hk_export(s, fp, HK_FORMAT_JSONL, &e), HK_OK);
    fclose(fp);
    char *text = read_file(path);
    json_t *all = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        json_object_del(o, "id");
        json_array_append_new(all, o);
    }
    free(text);
    return all;
}

static void test_jsonl_round_trip(void **state)
{
    fixture *f = *state;
    hk_txn *t;
    assert_int_equal(hk_txn_begin(f->store, true, &t, NULL), HK_OK);
    const char *tags[] = {"physics", "classical mechanics"};
    hk_fact_meta m = {0};
    m.fields =
        HK_META_CONFIDENCE | HK_META_SOURCE | HK_META_TAGS | HK_META_CONTEXT;
    m.confidence = 0.75;
    m.source = "Principia, 1687";
    m.n_tags = 2;
    m.tags = tags;
    m.context_json = "{\"note\":\"F=ma\",\"nested\":{\"a\":[1,2.5,null]}}";
    add_fact(t, "HasFormula(Newton's Second Law, F=ma)", &m);
    add_fact(t, "Says(Alice, \"Hello, \\\"world\\\"\")", NULL);
    add_fact(t, "Bond(NH3, nitrogen, hydrogen)", NULL);
    hk_fact_meta m2 = {0};
    m2.fields = HK_META_CONFIDENCE | HK_META_TAGS;
    m2.confidence = 0.0;
    m2.n_tags = 1;
    m2.tags = tags;
    add_fact(t, "PartOf(North Pacific, Pacific Ocean)", &m2);
    add_fact(t, "ChemicalFormula(Carbon Dioxide, CO\xe2\x82\x82)", NULL);
    assert_int_equal(hk_txn_commit(t, NULL), HK_OK);
    /* a later metadata change: updated differs from created */
    usleep(2000);
    assert_int_equal(hk_txn_begin(f->store, true, &t, NULL), HK_OK);
    hk_fact_meta m3 = {0};
    m3.fields = HK_META_SOURCE;
    m3.source = "revised";
    assert_int_equal(hk_store_set_meta(t, 3, &m3, NULL), HK_OK);
    assert_int_equal(hk_txn_commit(t, NULL), HK_OK);

    char out1[700], out2[700], kb2[700];
    path_in(f, "export1.jsonl", out1, sizeof out1);
    path_in(f, "export2.jsonl", out2, sizeof out2);
    path_in(f, "kb2", kb2, sizeof kb2);
    json_t *a = portable_export(f->store, out1);
    assert_int_equal(json_array_size(a), 5);

    hk_store_close(f->store);
    hk_store_options opt = {0};
    opt.create = true;
    opt.no_sync = true;
    hk_error e;
    assert_int_equal(hk_store_open(kb2, &opt, &f->store, &e), HK_OK);
    hk_import_summary s = import(f, out1, HK_FORMAT_AUTO, NULL, 0);
    assert_int_equal(s.format, HK_FORMAT_JSONL);
    assert_counts(&s, 5, 5, 0, 0);
    json_t *b = portable_export(f->store, out2);
    if (!json_equal(a, b)) {
        char *ja = json_dumps(a, JSON_SORT_KEYS),
             *jb = json_dumps(b, JSON_SORT_KEYS);
        fail_msg("round trip differs:\n%s\n%s", ja, jb);
    }
    json_decref(a);
    json_decref(b);

    /* Statement and TSV exports re-import to the same facts. */
    char st_path[700], tsv_path[700];
    path_in(f, "export.hkl", st_path, sizeof st_path);
    path_in(f, "export.tsv", tsv_path, sizeof tsv_path);
    FILE *fp = fopen(st_path, "w");
    assert_int_equal(hk_export(f->store, fp, HK_FORMAT_STATEMENTS, &e), HK_OK);
    fclose(fp);
    fp = fopen(tsv_path, "w");
    assert_int_equal(hk_export(f->store, fp, HK_FORMAT_TSV, &e), HK_OK);
    fclose(fp);
    char *st_text = read_file(st_path);
    assert_string_equal(st_text,
                        "HasFormula(Newton's Second Law, F=ma)\n"
                        "Says(Alice, \"Hello, \\\"world\\\"\")\n"
                        "Bond(NH3, nitrogen, hydrogen)\n"
                        "PartOf(North Pacific, Pacific Ocean)\n"
                        "ChemicalFormula(Carbon Dioxide, CO\xe2\x82\x82)\n");
    free(st_text);
    char *tsv_text = read_file(tsv_path);
    assert_string_equal(tsv_text,
                        "HasFormula\tNewton's Second Law\tF=ma\n"
                        "Says\tAlice\tHello, \"world\"\n"
                        "Bond\tNH3\tnitrogen\thydrogen\n"
                        "PartOf\tNorth Pacific\tPacific Ocean\n"
                        "ChemicalFormula\tCarbon Dioxide\tCO\xe2\x82\x82\n");
    free(tsv_text);
    s = import(f, st_path, HK_FORMAT_AUTO, NULL, 0);
    assert_counts(&s, 5, 0, 5, 0);
    s = import(f, tsv_path, HK_FORMAT_AUTO, NULL, 0);
    assert_counts(&s, 5, 0, 5, 0);

    fp = fopen(st_path, "w");
    assert_int_equal(hk_export(f->store, fp, HK_FORMAT_SQLITE, &e),
                     HK_ERR_UNSUPPORTED);
    fclose(fp);
}

/* ==== Legacy SQLite ==== */

static void sql(sqlite3 *db, const char *text)
{
    char *msg = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sqlite: %s: %s", text, msg);
}

static void test_sqlite_legacy(void **state)
{
    fixture *f = *state;
    char db_path[700], rej[700];
    path_in(f, "legacy_kb.bin", db_path,
            sizeof db_path); /* no extension hint */
    path_in(f, "sqlite.rejects", rej, sizeof rej);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sql(db,
        "CREATE TABLE facts (id INTEGER PRIMARY KEY, statement TEXT, "
        "confidence REAL, context TEXT, fact_metadata TEXT, created_at TEXT)");
    sql(db,
        "INSERT INTO facts VALUES "
        "(1, 'HasPart(Computer, CPU).', 0.8, '{\"src\": \"wiki\"}', NULL, 'x'),"
        "(2, NULL, 1.0, NULL, NULL, NULL),"
        "(3, 'Broken(a, ', NULL, NULL, NULL, NULL),"
        "(4, 'IsA(Water, Molecule)', NULL, 'not json at all', NULL, NULL),"
        "(5, 'IsA(Salt, Compound)', NULL, NULL, "
        "   '{\"source\": \"textbook\", \"tags\": [\"chem\", \"salt\"], "
        "     \"reviewed\": true}', NULL),"
        "(6, 'A(b)', 2.0, NULL, NULL, NULL),"
        "(7, X'4128622909', NULL, NULL, NULL, NULL),"
        "(9, 'HasPart(Computer, CPU)', NULL, NULL, NULL, NULL),"
        "(10, 'B(c)', NULL, '\"{\\\"k\\\": 1}\"', 'garbage{', NULL),"
        "(11, 'C(d)', 'abc', NULL, NULL, NULL)");
    sqlite3_close(db);

    hk_import_summary s = import(f, db_path, HK_FORMAT_AUTO, rej, 2);
    assert_int_equal(s.format, HK_FORMAT_SQLITE);
    /* 10 rows: added 1,4,5,10; present 9; rejected 2,3,6,7,11. */
    assert_counts(&s, 10, 4, 1, 5);

    hk_buf want = HK_BUF_INIT;
    hk_error e;
    expect_reject(&want, db_path, 2, "statement is NULL", "NULL", 4);
    expect_reject(&want, db_path, 3, parse_error("Broken(a, ", &e),
                  "Broken(a, ", 10);
    expect_reject(&want, db_path, 6, "field \"confidence\": 2 is outside 0..1",
                  "A(b)", 4);
    expect_reject(&want, db_path, 7, "statement is not text", "", 0);
    expect_reject(&want, db_path, 11,
                  "field \"confidence\": expected a number in 0..1", "C(d)", 4);
    char *got = read_file(rej);
    assert_string_equal(got, want.data);
    free(got);
    hk_buf_free(&want);

    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "HasPart(Computer, CPU)", &fact);
    assert_true(fact.confidence > 0.799 && fact.confidence < 0.801);
    assert_json_equal(fact.context_json, "{\"src\": \"wiki\"}");
    get_fact(f, "IsA(Water, Molecule)", &fact);
    assert_json_equal(fact.context_json,
                      "{\"legacy_context\": \"not json at all\"}");
    get_fact(f, "IsA(Salt, Compound)", &fact);
    assert_string_equal(fact.source, "textbook");
    assert_int_equal(fact.n_tags, 2);
    assert_string_equal(fact.tags[1], "salt");
    assert_json_equal(fact.context_json,
                      "{\"fact_metadata\": {\"reviewed\": true}}");
    get_fact(f, "B(c)", &fact);
    /* A string holding a JSON string (not an object) stays as text. */
    assert_json_equal(
        fact.context_json,
        "{\"legacy_context\": \"\\\"{\\\\\\\"k\\\\\\\": 1}\\\"\", "
        "\"fact_metadata\": \"garbage{\"}");
    hk_fact_release(&fact);

    /* Re-import: nothing new. */
    s = import(f, db_path, HK_FORMAT_SQLITE, NULL, 0);
    assert_counts(&s, 10, 0, 5, 5);

    /* A SQLite file without the facts table is an error, not rejects. */
    char other[700];
    path_in(f, "other.db", other, sizeof other);
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    sql(db, "CREATE TABLE notes (body TEXT)");
    sqlite3_close(db);
    hk_import_options o = {0};
    hk_err rc = hk_import_file(f->store, other, &o, &s, &e);
    assert_int_equal(rc, HK_ERR_INVALID);
    assert_non_null(strstr(e.message, "facts"));
}

/* ==== Batching, errors ==== */

/* A legacy confidence stored as the text "nan", "inf" or "1e999", or as a
 * REAL infinity, is no number in 0..1: the row is rejected like any other
 * bad confidence (it was imported with the default confidence 1.0). */
static void test_sqlite_text_confidence_not_finite(void **state)
{
    fixture *f = *state;
    char db_path[700], rej[700];
    path_in(f, "nan.sqlite", db_path, sizeof db_path);
    path_in(f, "nan.rejects", rej, sizeof rej);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    sql(db, "CREATE TABLE facts (id INTEGER PRIMARY KEY, statement TEXT, "
            "confidence)");
    sql(db, "INSERT INTO facts VALUES (1, 'N(a)', 'nan'), (2, 'N(b)', 'inf'),"
            "(3, 'N(c)', '-inf'), (4, 'N(d)', '1e999'), (5, 'N(e)', '0.25'),"
            "(6, 'N(f)', 9e999)"); /* a REAL infinity */
    sqlite3_close(db);
    hk_import_summary s = import(f, db_path, HK_FORMAT_AUTO, rej, 0);
    assert_counts(&s, 6, 1, 0, 5);
    char *got = read_file(rej);
    int lines = 0;
    for (char *p = got; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5);
    assert_non_null(strstr(got, "confidence"));
    free(got);
    hk_fact fact;
    hk_fact_init(&fact);
    get_fact(f, "N(e)", &fact);
    assert_true(fact.confidence == 0.25);
    hk_fact_release(&fact);
}

static void test_batches_and_missing_file(void **state)
{
    fixture *f = *state;
    char in[700];
    path_in(f, "ten.hkl", in, sizeof in);
    hk_buf text = HK_BUF_INIT;
    for (int i = 0; i < 10; i++)
        hk_buf_appendf(&text, "N(n%d)\n", i);
    write_file(in, text.data, text.len);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 3);
    assert_counts(&s, 10, 10, 0, 0);
    /* Four transactions (3+3+3+1), one bulk "import" audit entry each. */
    hk_txn *t;
    assert_int_equal(hk_txn_begin(f->store, false, &t, NULL), HK_OK);
    hk_audit_entry *v = NULL;
    size_t n = 0;
    assert_int_equal(hk_audit_list(t, 0, 100, &v, &n, NULL), HK_OK);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].op, "import");
    assert_string_equal(v[0].actor, "import");
    assert_int_equal(v[0].count, 1);
    assert_int_equal(v[3].count, 3);
    hk_audit_entries_free(v, n);
    hk_txn_abort(t);
    hk_buf_free(&text);

    char missing[700];
    path_in(f, "missing.hkl", missing, sizeof missing);
    hk_error e;
    hk_import_options o = {0};
    assert_int_equal(hk_import_file(f->store, missing, &o, &s, &e),
                     HK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, "missing.hkl"));
    assert_int_equal(hk_import_file(f->store, f->dir, &o, &s, &e), HK_ERR_IO);
}

/* Progress is reported at the end with the bytes read. */
static uint64_t progress_calls, progress_bytes, progress_records;
static void on_progress(void *ud, uint64_t done, uint64_t total,
                        uint64_t records)
{
    (void)ud;
    progress_calls++;
    progress_bytes = done;
    progress_records = records;
    assert_true(total == 0 || done <= total);
}

static void test_progress(void **state)
{
    fixture *f = *state;
    char in[700];
    path_in(f, "many.hkl", in, sizeof in);
    hk_buf text = HK_BUF_INIT;
    for (int i = 0; i < 70000; i++)
        hk_buf_appendf(&text, "M(m%d)\n", i);
    write_file(in, text.data, text.len);
    hk_import_options o = {0};
    o.progress = on_progress;
    hk_import_summary s;
    hk_error e;
    assert_int_equal(hk_import_file(f->store, in, &o, &s, &e), HK_OK);
    assert_int_equal(progress_calls, 2); /* at 65536 and at the end */
    assert_int_equal(progress_bytes, text.len);
    assert_int_equal(progress_records, 70000);
    assert_int_equal(fact_count(f), 70000);
    hk_buf_free(&text);
}

/* ==== Random input against an oracle ==== */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Appends a random argument: bare words with spaces and symbols, or a
 * quoted string with commas, parentheses and escapes. */
static void random_arg(hk_buf *b)
{
    static const char *bare[] = {"Water",
                                 "North Pacific",
                                 "TCP/IP",
                                 "F=ma",
                                 "95%",
                                 "CO\xe2\x82\x82",
                                 "4.6Gyr",
                                 "x",
                                 "Marie Curie",
                                 "-273.15 \xc2\xb0"
                                 "C"};
    static const char *quoted[] = {"\"a, b\"", "\"(x)\"", "\"say \\\"hi\\\"\"",
                                   "\"back\\\\slash\""};
    if (rnd(5) == 0) {
        hk_buf_append_str(b, quoted[rnd(4)]);
    } else {
        hk_buf_append_str(b, bare[rnd(10)]);
        if (rnd(3) == 0) /* more distinct values */
            hk_buf_appendf(b, "%u", rnd(50));
    }
}

/* Appends one random line; *valid tells whether it should parse. */
static void random_line(hk_buf *b, bool *valid)
{
    static const char *preds[] = {"HasPart", "IsA", "Bond", "P", "_x9"};
    hk_buf line = HK_BUF_INIT;
    hk_buf_append_str(&line, preds[rnd(5)]);
    hk_buf_append_str(&line, rnd(4) == 0 ? " ( " : "(");
    uint32_t n = 1 + rnd(4);
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) hk_buf_append_str(&line, rnd(3) == 0 ? " ,  " : ", ");
        random_arg(&line);
    }
    hk_buf_append_str(&line, ")");
    if (rnd(4) == 0) hk_buf_append_str(&line, ".");
    *valid = true;
    switch (rnd(8)) {
    case 0: /* drop the closing parenthesis */
        *strrchr(line.data, ')') = ' ';
        *valid = false;
        break;
    case 1: /* an empty argument */
        hk_buf_append_str(&line, "");
        {
            char *comma = strstr(line.data, "(");
            hk_buf fixed = HK_BUF_INIT;
            hk_buf_append(&fixed, line.data, (size_t)(comma - line.data) + 1);
            hk_buf_append_str(&fixed, " , ");
            hk_buf_append_str(&fixed, comma + 1);
            hk_buf_free(&line);
            line = fixed;
        }
        *valid = false;
        break;
    case 2: /* a control character */
        line.data[line.len / 2] = '\x01';
        *valid = false;
        break;
    default:
        break;
    }
    hk_buf_append(b, line.data, line.len);
    hk_buf_append_str(b, rnd(10) == 0 ? "\r\n" : "\n");
    hk_buf_free(&line);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Thousands of random lines (duplicates, syntax errors, CRLF, comments) in
 * odd-sized batches: the stored facts are exactly the distinct canonical
 * forms of the lines the parser accepts, and the counts add up. */
static void test_random_against_oracle(void **state)
{
    fixture *f = *state;
    char in[700], out[700];
    path_in(f, "random.hkl", in, sizeof in);
    path_in(f, "random.export", out, sizeof out);
    hk_buf text = HK_BUF_INIT;
    const int n = 4000;
    char **canon = calloc((size_t)n, sizeof *canon);
    size_t n_canon = 0, n_valid = 0, n_invalid = 0;
    for (int i = 0; i < n; i++) {
        if (rnd(20) == 0)
            hk_buf_append_str(&text, rnd(2) ? "# comment\n" : "\n");
        size_t start = text.len;
        bool valid_guess;
        random_line(&text, &valid_guess);
        /* The oracle: the parser itself on the line without its ending. */
        size_t len = text.len - start - 1;
        if (text.data[start + len - 1] == '\r') len--;
        hk_statement st;
        hk_error e;
        if (hk_statement_parse(text.data + start, len, &st, &e) == HK_OK) {
            assert_true(valid_guess);
            hk_buf c = HK_BUF_INIT;
            assert_int_equal(hk_statement_format(&st, &c), HK_OK);
            canon[n_canon++] = strdup(c.data);
            hk_buf_free(&c);
            hk_statement_release(&st);
            n_valid++;
        } else {
            if (valid_guess)
                fail_msg("rejected: [%.*s] %s", (int)len, text.data + start,
                         e.message);
            n_invalid++;
        }
    }
    write_file(in, text.data, text.len);
    qsort(canon, n_canon, sizeof *canon, cmp_str);
    size_t distinct = 0;
    for (size_t i = 0; i < n_canon; i++)
        if (distinct == 0 || strcmp(canon[i], canon[distinct - 1]) != 0)
            canon[distinct++] = canon[i];
        else
            free(canon[i]);

    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 37);
    assert_counts(&s, n_valid + n_invalid, distinct, n_valid - distinct,
                  n_invalid);
    assert_true(n_invalid > 100 && distinct > 100);

    FILE *fp = fopen(out, "w");
    hk_error e;
    assert_int_equal(hk_export(f->store, fp, HK_FORMAT_STATEMENTS, &e), HK_OK);
    fclose(fp);
    char *exported = read_file(out);
    char **got = calloc(distinct + 1, sizeof *got);
    size_t n_got = 0;
    char *save = NULL;
    for (char *l = strtok_r(exported, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        assert_true(n_got < distinct);
        got[n_got++] = l;
    }
    assert_int_equal(n_got, distinct);
    qsort(got, n_got, sizeof *got, cmp_str);
    for (size_t i = 0; i < distinct; i++)
        assert_string_equal(got[i], canon[i]);

    s = import(f, in, HK_FORMAT_AUTO, NULL, 1000);
    assert_counts(&s, n_valid + n_invalid, 0, n_valid, n_invalid);
    for (size_t i = 0; i < distinct; i++)
        free(canon[i]);
    free(canon);
    free(got);
    free(exported);
    hk_buf_free(&text);
}

/* ==== Allocation failures ==== */

/* Every allocation an import makes is made to fail in turn: the import
 * returns HK_ERR_NOMEM (or succeeds when the budget was enough), leaks
 * nothing (LeakSanitizer in the ASan build), keeps only whole batches, and
 * a later import without injection completes the KB. */
static void test_allocation_failures(void **state)
{
    fixture *f = *state;
    char in[700], rej[700];
    path_in(f, "oom.jsonl", in, sizeof in);
    path_in(f, "oom.rejects", rej, sizeof rej);
    static const char text[] = "{\"statement\": \"A(b)\", \"tags\": [\"t\"], "
                               "\"context\": \"{\\\"x\\\": 1}\"}\n"
                               "{\"predicate\": \"C\", \"args\": [\"d\", 5]}\n"
                               "{bad\n"
                               "{\"statement\": \"E(f)\", \"fact_metadata\": "
                               "{\"source\": \"s\", \"k\": 2}}\n";
    write_file(in, text, sizeof text - 1);
    bool completed = false;
    for (long budget = 0; budget < 400 && !completed; budget++) {
        hk_import_options o = {0};
        o.rejects_path = rej;
        o.batch_size = 2;
        hk_import_summary sum;
        hk_error e;
        hk_mem_fail_after(budget);
        hk_err rc = hk_import_file(f->store, in, &o, &sum, &e);
        bool triggered = hk_mem_fail_triggered();
        hk_mem_fail_after(-1);
        if (rc == HK_OK) {
            /* Success means every record was handled as without injection:
             * an allocation failure never turns into a reject. */
            assert_int_equal(sum.read, 4);
            assert_int_equal(sum.rejected, 1);
            assert_int_equal(sum.added + sum.present, 3);
            completed = !triggered;
        }
        if (rc != HK_OK && rc != HK_ERR_NOMEM)
            fail_msg("budget %ld: %s (%s)", budget, hk_strerror(rc), e.message);
        uint64_t n = fact_count(f);
        assert_true(n == 0 || n == 2 || n == 3);
    }
    assert_true(completed);
    hk_import_summary s = import(f, in, HK_FORMAT_AUTO, NULL, 2);
    assert_int_equal(s.read, 4);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(fact_count(f), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_detection),
        cmocka_unit_test_setup_teardown(test_statements_with_rejects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_order_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_utf8_file_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_duplicate_tags, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_text_confidence_not_finite,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_and_missing_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_oracle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
