/*
 * fuzz_statement.c — libFuzzer target for the core text parsers.
 *
 * For every input it checks properties, not just absence of crashes:
 *  - hk_statement_parse either succeeds or fails with HK_ERR_INVALID whose
 *    column lies within the input (1..characters+1) and whose message is
 *    valid UTF-8;
 *  - an accepted statement validates, its canonical form parses back to
 *    the same predicate and arguments, and formatting is idempotent;
 *  - the canonical form read as a pattern has only constants;
 *  - hk_pattern_parse obeys the same error contract;
 *  - hk_buf_append_json_string always yields JSON that jansson accepts;
 *  - hk_time_parse and hk_tokenize never misbehave on arbitrary bytes.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built by CMake (libFuzzer with clang, else the standalone driver); run
 * it as tests/fuzz/README.md says.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/tokenize.h"
#include "core/utf8.h"
#include "hakgal.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "property failed: %s (line %d)\n", #cond,          \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void check_error(const hk_error *err, const char *text, size_t len)
{
    CHECK(err->code == HK_ERR_INVALID);
    CHECK(hk_utf8_valid(err->message, strlen(err->message), NULL));
    CHECK(err->message[0] != '\0');
    if (err->column) {
        /* Columns count characters; invalid bytes count as one each. */
        size_t chars = hk_utf8_count(text, len) + 1;
        size_t bytes = len + 1;
        CHECK(err->column >= 1 &&
              err->column <= (chars > bytes ? chars : bytes));
    }
}

static hk_err count_tokens(void *ud, const char *tok, size_t len)
{
    CHECK(len > 0);
    CHECK(tok != NULL);
    (*(size_t *)ud) += len;
    return HK_OK;
}

static void fuzz_statement(const char *text, size_t len)
{
    hk_statement st;
    hk_error err;
    hk_error_clear(&err);
    hk_err rc = hk_statement_parse(text, len, &st, &err);
    if (rc != HK_OK) {
        check_error(&err, text, len);
        CHECK(st.owned == NULL);
        return;
    }
    CHECK(hk_statement_validate(&st, &err) == HK_OK);
    hk_buf canon = HK_BUF_INIT;
    CHECK(hk_statement_format(&st, &canon) == HK_OK);
    CHECK(canon.len <= HK_MAX_STATEMENT_BYTES);

    hk_statement again;
    CHECK(hk_statement_parse(canon.data, canon.len, &again, &err) == HK_OK);
    CHECK(strcmp(again.predicate, st.predicate) == 0);
    CHECK(again.n_args == st.n_args);
    for (uint32_t i = 0; i < st.n_args; i++)
        CHECK(strcmp(again.args[i], st.args[i]) == 0);
    hk_buf canon2 = HK_BUF_INIT;
    CHECK(hk_statement_format(&again, &canon2) == HK_OK);
    CHECK(canon2.len == canon.len &&
          memcmp(canon2.data, canon.data, canon.len) == 0);

    /* Canonical text as a pattern: constants only (predicate "_" aside,
     * which the grammar allows as a predicate name). */
    hk_pattern pat;
    if (hk_pattern_parse(canon.data, canon.len, &pat, &err) == HK_OK) {
        for (uint32_t i = 0; i < pat.n_args; i++) {
            CHECK(pat.args[i].kind == HK_TERM_CONST);
            CHECK(strcmp(pat.args[i].text, st.args[i]) == 0);
        }
        hk_pattern_release(&pat);
    } else {
        CHECK(0 && "canonical statement must parse as a pattern");
    }

    hk_statement_release(&again);
    hk_statement_release(&st);
    hk_buf_free(&canon);
    hk_buf_free(&canon2);
}

static void fuzz_pattern(const char *text, size_t len)
{
    hk_pattern p;
    hk_error err;
    hk_error_clear(&err);
    if (hk_pattern_parse(text, len, &p, &err) != HK_OK) {
        check_error(&err, text, len);
        CHECK(p.owned == NULL);
        return;
    }
    CHECK(p.n_args >= 1 && p.n_args <= HK_MAX_ARGS);
    CHECK(p.predicate.text && p.predicate.text[0]);
    for (uint32_t i = 0; i < p.n_args; i++) {
        CHECK(p.args[i].text && p.args[i].text[0]);
        if (p.args[i].kind == HK_TERM_VAR) CHECK(p.args[i].text[0] != '?');
    }
    hk_pattern_release(&p);
}

static void fuzz_json_string(const char *text, size_t len)
{
    hk_buf b = HK_BUF_INIT;
    CHECK(hk_buf_append_json_string(&b, text, len) == HK_OK);
    json_error_t jerr;
    json_t *j =
        json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    CHECK(j != NULL);
    CHECK(json_is_string(j));
    if (hk_utf8_valid(text, len, NULL)) {
        CHECK(json_string_length(j) == len);
        CHECK(memcmp(json_string_value(j), text, len) == 0);
    }
    json_decref(j);
    hk_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    fuzz_statement(text, size);
    fuzz_pattern(text, size);
    fuzz_json_string(text, size);

    size_t token_bytes = 0;
    CHECK(hk_tokenize(text, size, count_tokens, &token_bytes) == HK_OK);
    CHECK(token_bytes <= size);

    /* hk_time_parse takes a C string. */
    char *z = malloc(size + 1);
    if (!z) return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    int64_t us = 0;
    hk_error err;
    if (hk_time_parse(z, &us, &err) == HK_OK) {
        char back[32];
        hk_time_format(us, back);
        int64_t again = 0;
        CHECK(hk_time_parse(back, &again, &err) == HK_OK);
        CHECK(again == us);
    } else {
        CHECK(hk_utf8_valid(err.message, strlen(err.message), NULL));
    }
    free(z);
    return 0;
}
