/*
 * fuzz_import.c — libFuzzer target for hk_import_file (src/io).
 *
 * The first input byte picks the format (statements, JSONL, TSV, auto);
 * the rest is written to a file and imported into one KB kept for the
 * whole run. Properties checked on every input, beyond "no crash":
 *   - the import succeeds (bad records are rejects, never errors), except
 *     that auto-detection may refuse input as "unrecognized format";
 *   - read == added + present + rejected;
 *   - the rejects file has exactly `rejected` lines, each starting with
 *     "<file>:<line>: " and holding a TAB;
 *   - importing the same file again adds nothing.
 *
 * Built by CMake (libFuzzer with clang, else the standalone driver); run
 * it as tests/fuzz/README.md says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakgal.h"

static hk_store *g_store;
static char g_dir[256];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "property violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_store == NULL) {
        const char *base = getenv("HK_TEST_TMP"); /* set by run_corpus.sh */
        snprintf(g_dir, sizeof g_dir, "%.200s/fuzz-import-%ld",
                 base && *base ? base : "/tmp", (long)getpid());
        hk_store_options o = {0};
        o.create = true;
        o.no_sync = true;
        hk_error e;
        check(hk_store_open(g_dir, &o, &g_store, &e) == HK_OK, e.message);
    }
    if (size == 0) return 0;
    static const hk_format formats[] = {HK_FORMAT_STATEMENTS, HK_FORMAT_JSONL,
                                        HK_FORMAT_TSV, HK_FORMAT_AUTO};
    hk_format fmt = formats[data[0] % 4];
    char in[300], rej[300];
    snprintf(in, sizeof in, "%s.in", g_dir);
    snprintf(rej, sizeof rej, "%s.rejects", g_dir);
    FILE *fp = fopen(in, "wb");
    fwrite(data + 1, 1, size - 1, fp);
    fclose(fp);
    unlink(rej);

    hk_import_options opt = {0};
    opt.format = fmt;
    opt.rejects_path = rej;
    opt.batch_size = 7;
    hk_import_summary s;
    hk_error e;
    hk_err rc = hk_import_file(g_store, in, &opt, &s, &e);
    if (rc != HK_OK && s.format == HK_FORMAT_SQLITE)
        return 0; /* auto-detected SQLite from junk: an error is correct */
    if (rc == HK_ERR_INVALID && fmt == HK_FORMAT_AUTO &&
        strncmp(e.message, "unrecognized format", 19) == 0)
        return 0; /* a guess from content that the sample refutes */
    check(rc == HK_OK, e.message);
    check(s.read == s.added + s.present + s.rejected, "counts add up");

    uint64_t lines = 0;
    fp = fopen(rej, "rb");
    if (fp != NULL) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        size_t prefix = strlen(in);
        while ((n = getline(&line, &cap, fp)) > 0) {
            lines++;
            check(strncmp(line, in, prefix) == 0 && line[prefix] == ':',
                  "reject starts with the file name");
            check(memchr(line, '\t', (size_t)n) != NULL, "reject has a TAB");
        }
        free(line);
        fclose(fp);
    }
    /* Records holding a raw newline cannot exist (lines split on it), so
     * every reject is exactly one line. */
    check(lines == s.rejected, "one rejects line per rejected record");

    hk_import_summary again;
    opt.rejects_path = NULL;
    check(hk_import_file(g_store, in, &opt, &again, &e) == HK_OK, e.message);
    check(again.added == 0, "re-import adds nothing");
    check(again.present == s.added + s.present, "re-import finds every fact");
    return 0;
}
