/*
 * test_io_reader.c — the import line reader against a simple oracle.
 *
 * Random files of several MiB (so that lines straddle the reader's 1 MiB
 * read chunks) mix short lines, lines just under, at and over the cap,
 * CRLF endings, empty lines and a last line without a newline. Reading
 * them through io_reader must give exactly the lines a plain split gives:
 * whole lines up to the cap, and for longer ones the first `cap` bytes with
 * the overlong flag and the true length. Byte progress must end at the file
 * size. Also: standard input is not needed here; a missing file and a
 * directory give the documented errors.
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

#include "core/buf.h"
#include "hakgal.h"
#include "io/io_internal.h"

static char g_dir[512];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("HK_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    mkdir(base, 0755);
    snprintf(g_dir, sizeof g_dir, "%s/io-reader-XXXXXX", base);
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* xorshift64*: deterministic across platforms. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* A line length drawn to hit the interesting sizes around cap. */
static size_t pick_len(size_t cap)
{
    switch (rnd() % 10) {
    case 0:
        return 0;
    case 1:
        return cap - 1 - rnd() % 3; /* just under */
    case 2:
        return cap; /* exactly the cap */
    case 3:
        return cap + 1 + rnd() % 3; /* just over */
    case 4:
        return cap + rnd() % (3 * cap); /* far over */
    default:
        return rnd() % 200; /* ordinary */
    }
}

static void run_random_file(size_t cap, int n_lines, bool final_newline)
{
    char path[600];
    snprintf(path, sizeof path, "%s/lines-%zu-%d.txt", g_dir, cap, n_lines);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    size_t *lens = calloc((size_t)n_lines, sizeof *lens);
    bool *crlf = calloc((size_t)n_lines, sizeof *crlf);
    unsigned char *first = calloc((size_t)n_lines, 1);
    uint64_t size = 0;
    for (int i = 0; i < n_lines; i++) {
        lens[i] = pick_len(cap);
        /* CR only on lines that stay within the cap with it. */
        crlf[i] = lens[i] > 0 && lens[i] + 1 <= cap && rnd() % 4 == 0;
        first[i] = (unsigned char)('a' + i % 26);
        for (size_t k = 0; k < lens[i]; k++)
            fputc(k == 0 ? first[i] : 'a' + (int)((i + k) % 26), fp);
        size += lens[i];
        if (crlf[i]) {
            fputc('\r', fp);
            size++;
        }
        if (i + 1 < n_lines || final_newline) {
            fputc('\n', fp);
            size++;
        }
    }
    assert_int_equal(fclose(fp), 0);

    io_reader r;
    hk_error e;
    assert_int_equal(io_reader_open(&r, path, cap, &e), HK_OK);
    assert_int_equal(r.bytes_total, size);
    int i = 0;
    for (;; i++) {
        char *line;
        size_t len;
        bool overlong, got;
        uint64_t full;
        assert_int_equal(
            io_reader_next(&r, &line, &len, &overlong, &full, &got, &e), HK_OK);
        if (!got) break;
        if (i >= n_lines) fail_msg("extra line %d", i);
        /* A last line that is empty and unterminated does not exist. */
        size_t want_len = lens[i] + (crlf[i] ? 1 : 0);
        if (want_len > cap) {
            assert_true(overlong);
            assert_int_equal(len, cap);
            assert_int_equal(full, want_len);
        } else {
            assert_false(overlong);
            assert_int_equal(len, lens[i]); /* the CR is stripped */
        }
        assert_int_equal(line[len], '\0');
        assert_int_equal(r.line_no, (uint64_t)i + 1);
        for (size_t k = 0; k < len; k++) {
            int want = k == 0 ? first[i] : 'a' + (int)((i + k) % 26);
            if ((unsigned char)line[k] != want)
                fail_msg("line %d byte %zu: %d != %d", i + 1, k, line[k], want);
        }
    }
    int expect_lines = n_lines;
    if (!final_newline && lens[n_lines - 1] == 0 && !crlf[n_lines - 1])
        expect_lines--;
    assert_int_equal(i, expect_lines);
    assert_int_equal(r.bytes_done, size);
    io_reader_close(&r);
    free(lens);
    free(crlf);
    free(first);
}

static void test_random_lines_small_cap(void **state)
{
    (void)state;
    /* Small cap: many overlong lines, many chunk boundaries. */
    run_random_file(300, 40000, true);
    run_random_file(300, 40000, false);
}

static void test_random_lines_import_cap(void **state)
{
    (void)state;
    /* The statement-format cap: lines cross the 1 MiB read chunks. */
    run_random_file(IO_MAX_TEXT_LINE, 400, true);
    run_random_file(IO_MAX_TEXT_LINE, 401, false);
}

static void test_peek_and_errors(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/peek.txt", g_dir);
    FILE *fp = fopen(path, "wb");
    fputs("first\nsecond", fp);
    fclose(fp);
    io_reader r;
    hk_error e;
    assert_int_equal(io_reader_open(&r, path, 64, &e), HK_OK);
    const char *head;
    size_t n;
    assert_int_equal(io_reader_peek(&r, 4096, &head, &n, &e), HK_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(head, "first\nsecond", 12);
    char *line;
    size_t len;
    bool overlong, got;
    uint64_t full;
    assert_int_equal(
        io_reader_next(&r, &line, &len, &overlong, &full, &got, &e), HK_OK);
    assert_true(got);
    assert_string_equal(line, "first");
    assert_int_equal(io_reader_set_max_line(&r, 1 << 16, &e), HK_OK);
    assert_int_equal(
        io_reader_next(&r, &line, &len, &overlong, &full, &got, &e), HK_OK);
    assert_string_equal(line, "second");
    assert_int_equal(
        io_reader_next(&r, &line, &len, &overlong, &full, &got, &e), HK_OK);
    assert_false(got);
    io_reader_close(&r);

    snprintf(path, sizeof path, "%s/none.txt", g_dir);
    assert_int_equal(io_reader_open(&r, path, 64, &e), HK_ERR_NOT_FOUND);
    assert_non_null(strstr(e.message, "none.txt"));
    assert_int_equal(io_reader_open(&r, g_dir, 64, &e), HK_ERR_IO);
    assert_non_null(strstr(e.message, "directory"));
}

/* Reads every line of a file with the given content into one string,
 * lines joined by '|'. */
static char *read_all(const char *content, size_t content_len, size_t cap)
{
    char path[600];
    snprintf(path, sizeof path, "%s/eol.txt", g_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, content_len, fp), content_len);
    fclose(fp);
    io_reader r;
    hk_error e;
    assert_int_equal(io_reader_open(&r, path, cap, &e), HK_OK);
    hk_buf out = HK_BUF_INIT;
    for (int guard = 0; guard < 1000; guard++) {
        char *line;
        size_t len;
        bool overlong, got;
        uint64_t full;
        assert_int_equal(
            io_reader_next(&r, &line, &len, &overlong, &full, &got, &e), HK_OK);
        if (!got) break;
        hk_buf_appendf(&out, "%s%.*s%s", out.len ? "|" : "", (int)len, line,
                       overlong ? "+" : "");
    }
    assert_int_equal(r.bytes_done, content_len);
    io_reader_close(&r);
    hk_buf_append(&out, "", 1);
    return out.data;
}

static void test_line_endings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *lines;
    } cases[] = {
        {"a\nb\n", "a|b"},
        {"a\r\nb\r\nc", "a|b|c"},
        /* old Mac text: a lone CR ends every line */
        {"a\rb\rc\r", "a|b|c"},
        {"P(x, y)\r\rQ(z)", "P(x, y)||Q(z)"},
        {"only\r", "only"},
        /* the first ending decides: a stray CR in an LF file stays */
        {"a\nb\rc\n", "a|b\rc"},
        {"a\r\nb\rc\r\n", "a|b\rc"},
        /* in a CR file, LF is an ordinary byte */
        {"a\rb\nc\r", "a|b\nc"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = read_all(cases[i].in, strlen(cases[i].in), 64);
        assert_string_equal(got, cases[i].lines);
        free(got);
    }
    /* CR file with an overlong line: the rest is skipped to the next CR */
    char *got = read_all("12345678901234567890\rshort\r", 27, 8);
    assert_string_equal(got, "12345678+|short");
    free(got);
    /* a CR file whose first line is overlong: still read as CR lines */
    got = read_all("abcdefghijklmnopqrstuvwxyz\rnext\rlast", 36, 8);
    assert_string_equal(got, "abcdefgh+|next|last");
    free(got);
    /* the first ending lies beyond the first read chunk */
    size_t big = (1u << 20) + 100;
    char *in = malloc(big + 8);
    assert_non_null(in);
    memset(in, 'x', big);
    memcpy(in + big, "\rnext\r", 6);
    got = read_all(in, big + 6, big + 10);
    assert_int_equal(strlen(got), big + 5);
    assert_string_equal(got + big, "|next");
    free(got);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_lines_small_cap),
        cmocka_unit_test(test_random_lines_import_cap),
        cmocka_unit_test(test_peek_and_errors),
        cmocka_unit_test(test_line_endings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
