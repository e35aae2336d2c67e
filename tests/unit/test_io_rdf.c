/*
 * test_io_rdf.c — N-Triples import and export (src/io/io_rdf.c) in
 * process: the term mapping, n-ary groups, rejects, and a round trip of
 * a KB through hk_export_iri and hk_import_file with its own base.
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

typedef struct fixture {
    char dir[512]; /* scratch directory of this test */
    hk_store *a;   /* source KB */
    hk_store *b;   /* destination KB */
} fixture;

static hk_store *open_kb(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hk_store_options opt = {0};
    opt.create = true;
    opt.no_sync = true;
    hk_store *s = NULL;
    hk_error e;
    if (hk_store_open(path, &opt, &s, &e) != HK_OK) return NULL;
    return s;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *base = getenv("HK_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    mkdir(base, 0755);
    snprintf(f->dir, sizeof f->dir, "%s/io-rdf-XXXXXX", base);
    if (mkdtemp(f->dir) == NULL) return -1;
    f->a = open_kb(f->dir, "a");
    f->b = open_kb(f->dir, "b");
    if (f->a == NULL || f->b == NULL) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hk_store_close(f->a);
    hk_store_close(f->b);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static void add(hk_store *s, const char *text)
{
    hk_statement st;
    hk_error e;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &e), HK_OK);
    hk_txn *t;
    assert_int_equal(hk_txn_begin(s, true, &t, &e), HK_OK);
    hk_fact_id id;
    bool created;
    assert_int_equal(hk_store_add(t, &st, NULL, &id, &created, &e), HK_OK);
    assert_int_equal(hk_txn_commit(t, &e), HK_OK);
    hk_statement_release(&st);
}

/* Export of s in format as a malloc'ed string. */
static char *export_str(hk_store *s, hk_format format, const char *base)
{
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    hk_error e;
    assert_int_equal(hk_export_iri(s, m, format, base, &e), HK_OK);
    fclose(m);
    return data;
}

static bool has_fact(hk_store *s, const char *text)
{
    hk_statement st;
    hk_error e;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &e), HK_OK);
    hk_txn *t;
    assert_int_equal(hk_txn_begin(s, false, &t, &e), HK_OK);
    hk_fact_id id = 0;
    hk_err rc = hk_store_find(t, &st, &id, &e);
    hk_txn_abort(t);
    hk_statement_release(&st);
    return rc == HK_OK && id != 0;
}

static void import_text(fixture *f, hk_store *s, const char *text,
                        const char *base, hk_import_summary *sum)
{
    char path[700];
    snprintf(path, sizeof path, "%s/in.nt", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    hk_import_options opt;
    memset(&opt, 0, sizeof opt);
    opt.iri_base = base;
    hk_error e;
    assert_int_equal(hk_import_file(s, path, &opt, sum, &e), HK_OK);
    assert_int_equal(sum->format, HK_FORMAT_NTRIPLES);
}

static void test_terms(void **state)
{
    fixture *f = *state;
    add(f->a, "HasPart(Computer, Main Memory)");
    add(f->a, "Mass(Sun, 1.989e30)");
    add(f->a, "Bond(NH3, nitrogen, hydrogen)");
    char *nt = export_str(f->a, HK_FORMAT_NTRIPLES, "http://x.org/");
    assert_non_null(strstr(nt, "<http://x.org/Computer> <http://x.org/HasPart> "
                               "<http://x.org/Main%20Memory> .\n"));
    assert_non_null(strstr(nt, "\"1.989e30\"^^<http://www.w3.org/2001/"
                               "XMLSchema#double> .\n"));
    assert_non_null(strstr(nt, "<https://hakgal.org/ns#arg2> "
                               "<http://x.org/hydrogen> .\n"));
    hk_import_summary sum;
    import_text(f, f->b, nt, "http://x.org/", &sum);
    assert_int_equal(sum.added, 3);
    assert_int_equal(sum.rejected, 0);
    assert_true(has_fact(f->b, "HasPart(Computer, Main Memory)"));
    assert_true(has_fact(f->b, "Mass(Sun, 1.989e30)"));
    assert_true(has_fact(f->b, "Bond(NH3, nitrogen, hydrogen)"));
    free(nt);
}

static void test_foreign_and_rejects(void **state)
{
    fixture *f = *state;
    hk_import_summary sum;
    import_text(f, f->b,
                "<http://e.org/a> <http://e.org/v#name> \"A\"@en .\n"
                "<http://e.org/a> <http://e.org/size> "
                "\"12\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n"
                "\"lit\" <http://e.org/p> <http://e.org/b> .\n"
                "<http://e.org/a> <http://e.org/p> <http://e.org/b>\n"
                "<http://e.org/a b> <http://e.org/p> <http://e.org/b> .\n"
                "_:n <https://hakgal.org/ns#arg1> <http://e.org/b> .\n",
                NULL, &sum);
    assert_int_equal(sum.read, 6);
    assert_int_equal(sum.added, 2);
    assert_int_equal(sum.rejected, 4);
    assert_true(has_fact(f->b, "name(http://e.org/a, \"\\\"A\\\"@en\")"));
    assert_true(has_fact(f->b, "size(http://e.org/a, 12)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_terms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_rejects, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
