/*
 * test_service_facts.c — the service layer's fact operations on a scratch
 * KB: add (MERGE, all or none), batch add with per-item results, get and
 * "ID|STATEMENT" resolution, update of content and metadata, delete (by
 * id, by statement, several, all or none) and history.
 *
 * Writes go through hk_svc_write, as the CLI's do; after each the store's
 * own consistency check runs, and refusals are checked to have changed
 * nothing (the fact count and the audit log stay as they were).
 */
#include "test_store_util.h"

#include <jansson.h>

#include "service/service.h"

/* ==== Helpers ==== */

static hk_statement parse_st(const char *text)
{
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    return st;
}

static uint64_t count_facts(hk_store *s, uint64_t *audit)
{
    hk_txn *t = tu_begin(s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    if (audit != NULL) *audit = st.audit_entries;
    return st.facts;
}

/* Adds texts[0..n) with hk_svc_fact_add; ids into ids. */
static hk_err add_texts(hk_store *s, const char *const *texts, size_t n,
                        const hk_fact_meta *meta, hk_fact_id *ids,
                        bool *created, hk_error *err)
{
    hk_statement st[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        st[i] = parse_st(texts[i]);
    hk_svc_add op = {
        .st = st, .n = n, .meta = meta, .ids = ids, .created = created};
    hk_err rc = hk_svc_write(s, "test", hk_svc_fact_add_apply, &op, err);
    for (size_t i = 0; i < n; i++)
        hk_statement_release(&st[i]);
    return rc;
}

static hk_fact_id add1(hk_store *s, const char *text)
{
    hk_fact_id id = 0;
    bool created = false;
    hk_error err;
    assert_int_equal(add_texts(s, &text, 1, NULL, &id, &created, &err), HK_OK);
    return id;
}

/* ==== Add ==== */

static void test_add_merge(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-add");
    const char *texts[] = {"HasPart(Computer, CPU)", "HasPart(Computer, RAM)",
                           "HasPart( Computer ,CPU )"};
    hk_fact_id ids[3];
    bool created[3];
    hk_error err;
    const char *tags[] = {"hw"};
    hk_fact_meta meta = {.fields = HK_META_SOURCE | HK_META_TAGS,
                         .source = "manual",
                         .n_tags = 1,
                         .tags = tags};
    assert_int_equal(add_texts(k.s, texts, 3, &meta, ids, created, &err),
                     HK_OK);
    assert_true(created[0] && created[1] && !created[2]);
    assert_true(ids[2] == ids[0] && ids[1] != ids[0]);
    /* MERGE: adding again changes nothing, metadata included */
    hk_fact_meta other = {.fields = HK_META_SOURCE, .source = "else"};
    assert_int_equal(add_texts(k.s, texts, 1, &other, ids, created, &err),
                     HK_OK);
    assert_false(created[0]);
    hk_txn *t = tu_begin(k.s, false);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_svc_fact_get(t, ids[0], &f, &err), HK_OK);
    assert_string_equal(f.source, "manual");
    assert_int_equal(f.n_tags, 1);
    hk_fact_release(&f);
    hk_txn_abort(t);

    /* all or none: an invalid second statement adds nothing */
    uint64_t audit0, audit1;
    uint64_t n0 = count_facts(k.s, &audit0);
    hk_statement st[2] = {parse_st("New(x)"), tu_st("bad pred", "x", NULL)};
    hk_svc_add op = {.st = st, .n = 2, .ids = ids, .created = created};
    assert_int_equal(hk_svc_write(k.s, NULL, hk_svc_fact_add_apply, &op, &err),
                     HK_ERR_INVALID);
    assert_int_equal(count_facts(k.s, &audit1), n0);
    assert_int_equal(audit1, audit0);
    hk_statement_release(&st[0]);
    tu_scratch_close(&k);
}

/* ==== Batch ==== */

static void test_batch(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-batch");
    add1(k.s, "Old(x)");
    json_t *items[6] = {
        json_string("A(b)"),
        json_pack("{s:s, s:[s]}", "predicate", "P", "args", "q"),
        json_pack("{s:s}", "statement", "A(b"), /* syntax: column */
        NULL,                                   /* unreadable line */
        json_pack("{s:s, s:f}", "statement", "C(d)", "confidence", 2.0),
        json_string("Old(x)"),
    };
    char *bad[6] = {NULL, NULL, NULL, "line 4: invalid JSON at column 2: x",
                    NULL, NULL};
    hk_svc_batch b = {.items = items,
                      .bad = bad,
                      .n = 6,
                      .opts = {.allow_string = true, .need_statement = true},
                      .label = "test batch"};
    hk_error err;
    assert_int_equal(hk_svc_batch_init(&b, 6, &err), HK_OK);
    hk_txn *t = tu_begin(k.s, true);
    /* twice, as a group-commit retry would: results are rewritten */
    assert_int_equal(hk_svc_fact_batch(t, &b, &err), HK_OK);
    hk_txn_abort(t);
    t = tu_begin(k.s, true);
    assert_int_equal(hk_svc_fact_batch(t, &b, &err), HK_OK);
    tu_commit(t);
    assert_int_equal(b.created, 2);
    assert_int_equal(b.existing, 1);
    assert_int_equal(b.n_errs, 3);
    assert_int_equal(b.state[0], HK_SVC_ITEM_CREATED);
    assert_int_equal(b.state[1], HK_SVC_ITEM_CREATED);
    assert_int_equal(b.state[5], HK_SVC_ITEM_EXISTING);
    size_t cursor = 0;
    assert_null(hk_svc_batch_item_error(&b, 0, &cursor));
    const hk_svc_batch_error *e2 = hk_svc_batch_item_error(&b, 2, &cursor);
    assert_non_null(e2);
    assert_int_equal(e2->fault, HK_SVC_FAULT_SYNTAX);
    assert_true(e2->err.column > 0);
    assert_int_equal(e2->err.line, 3);
    const hk_svc_batch_error *e3 = hk_svc_batch_item_error(&b, 3, &cursor);
    assert_non_null(e3);
    assert_string_equal(e3->err.message, bad[3]);
    const hk_svc_batch_error *e4 = hk_svc_batch_item_error(&b, 4, &cursor);
    assert_non_null(e4);
    assert_int_equal(e4->fault, HK_SVC_FAULT_VALUE);
    assert_string_equal(e4->err.field, "confidence");
    assert_int_equal(count_facts(k.s, NULL), 3);
    hk_svc_batch_free(&b);
    for (int i = 0; i < 6; i++)
        json_decref(items[i]);
    tu_scratch_close(&k);
}

/* ==== Get and resolve ==== */

static void test_get_resolve(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-get");
    hk_fact_id id = add1(k.s, "HasPart(Computer, CPU)");
    hk_txn *t = tu_begin(k.s, false);
    hk_error err;
    hk_fact_id got = 0;
    char ref[32];
    snprintf(ref, sizeof ref, "%llu", (unsigned long long)id);
    assert_int_equal(hk_svc_fact_resolve(t, ref, &got, &err), HK_OK);
    assert_true(got == id);
    got = 0;
    assert_int_equal(
        hk_svc_fact_resolve(t, "HasPart( Computer , CPU )", &got, &err), HK_OK);
    assert_true(got == id);
    assert_int_equal(hk_svc_fact_resolve(t, "999", &got, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no fact with id 999");
    assert_int_equal(hk_svc_fact_resolve(t, "Nope( x )", &got, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no fact Nope(x)");
    assert_int_equal(hk_svc_fact_resolve(t, "Broken(a, ", &got, &err),
                     HK_ERR_INVALID);
    assert_string_equal(err.field, "statement");
    assert_true(err.column > 0);

    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_svc_fact_get(t, 12345, &f, &err), HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no fact with id 12345");
    hk_fact_release(&f);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_svc_fact_get_json(t, id, &b, &err), HK_OK);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "statement")),
                        "HasPart(Computer, CPU)");
    json_decref(j);
    hk_buf_free(&b);
    hk_txn_abort(t);

    hk_fact_id n = 0;
    assert_true(hk_svc_fact_ref_is_id("18446744073709551615", &n));
    assert_true(n == UINT64_MAX);
    assert_false(hk_svc_fact_ref_is_id("18446744073709551616", &n));
    assert_false(hk_svc_fact_ref_is_id("0", &n));
    assert_false(hk_svc_fact_ref_is_id("", &n));
    assert_false(hk_svc_fact_ref_is_id(NULL, &n));
    assert_false(hk_svc_fact_ref_is_id("12a", &n));
    tu_scratch_close(&k);
}

/* ==== Update ==== */

static void test_update(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-update");
    hk_fact_id pluto = add1(k.s, "IsA(Pluto, Planet)");
    hk_fact_id cpu = add1(k.s, "HasPart(Computer, CPU)");
    hk_error err;
    hk_fact before, after;
    hk_fact_init(&before);
    hk_fact_init(&after);

    /* by statement: content changes, id stays */
    hk_statement old_st = parse_st("IsA(Pluto, Planet)");
    hk_statement new_st = parse_st("IsA(Pluto, DwarfPlanet)");
    hk_svc_update op = {.old_st = &old_st,
                        .new_st = &new_st,
                        .before = &before,
                        .after = &after};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err), HK_OK);
    assert_true(op.found == pluto && op.changed);
    assert_string_equal(before.st.args[1], "Planet");
    assert_string_equal(after.st.args[1], "DwarfPlanet");

    /* same content again: unchanged */
    op = (hk_svc_update){.id = pluto, .new_st = &new_st};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err), HK_OK);
    assert_false(op.changed);

    /* conflict: names the other fact, changes nothing */
    uint64_t a0, a1;
    count_facts(k.s, &a0);
    hk_statement taken = parse_st("HasPart(Computer, CPU)");
    op = (hk_svc_update){.id = pluto, .new_st = &taken};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err),
        HK_ERR_EXISTS);
    assert_true(op.other == cpu);
    assert_non_null(strstr(err.message, "already fact"));
    count_facts(k.s, &a1);
    assert_int_equal(a1, a0);

    /* not found, by id and by statement */
    op = (hk_svc_update){.id = 999, .new_st = &taken};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err),
        HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no fact with id 999");
    op = (hk_svc_update){.old_st = &old_st, .new_st = &taken};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err),
        HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no fact IsA(Pluto, Planet)");

    /* metadata only */
    hk_fact_meta meta = {.fields = HK_META_CONFIDENCE, .confidence = 0.5};
    op = (hk_svc_update){.id = cpu, .meta = &meta, .after = &after};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err), HK_OK);
    assert_true(after.confidence == 0.5);
    assert_false(op.changed);

    /* a refused metadata change leaves the transaction as it was, content
     * included: the group-commit writer commits the transaction anyway */
    hk_statement fresh = parse_st("HasPart(Computer, GPU)");
    hk_fact_meta bad = {.fields = HK_META_SOURCE, .source = "bad\001"};
    op = (hk_svc_update){.id = cpu, .new_st = &fresh, .meta = &bad};
    count_facts(k.s, &a0);
    hk_txn *t = tu_begin(k.s, true);
    assert_int_equal(hk_svc_fact_update(t, &op, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "source");
    tu_commit(t);
    count_facts(k.s, &a1);
    assert_int_equal(a1, a0);
    t = tu_begin(k.s, false);
    hk_fact_id still = 0;
    assert_int_equal(
        hk_svc_fact_resolve(t, "HasPart(Computer, CPU)", &still, &err), HK_OK);
    assert_true(still == cpu);
    hk_txn_abort(t);
    /* content and metadata together: both land */
    meta = (hk_fact_meta){.fields = HK_META_SOURCE, .source = "inventory"};
    op = (hk_svc_update){
        .id = cpu, .new_st = &fresh, .meta = &meta, .after = &after};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &op, &err), HK_OK);
    assert_true(op.changed);
    assert_string_equal(after.source, "inventory");
    assert_string_equal(after.st.args[1], "GPU");
    hk_statement_release(&fresh);

    hk_statement_release(&old_st);
    hk_statement_release(&new_st);
    hk_statement_release(&taken);
    hk_fact_release(&before);
    hk_fact_release(&after);
    tu_scratch_close(&k);
}

static void test_meta_check(void **state)
{
    (void)state;
    hk_svc_fact_in_opts o = {.need_statement = false};
    const char *bodies[] = {"{\"statement\": \"A(b)\", \"confidence\": 1}",
                            "{\"other\": 1}", "{\"tags\": [\"x\"]}"};
    const hk_err want[] = {HK_ERR_INVALID, HK_ERR_INVALID, HK_OK};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_loads(bodies[i], 0, NULL);
        hk_svc_fact_in in;
        hk_error err;
        assert_int_equal(hk_svc_fact_in_parse(v, &o, &in, &err), HK_OK);
        hk_svc_fault fault = HK_SVC_FAULT_NONE;
        assert_int_equal(hk_svc_fact_meta_check(&in, &fault, &err), want[i]);
        if (want[i] != HK_OK) assert_int_equal(fault, HK_SVC_FAULT_VALUE);
        if (i == 0) assert_string_equal(err.field, "statement");
        if (i == 1) assert_non_null(strstr(err.message, "nothing to change"));
        hk_svc_fact_in_release(&in);
        json_decref(v);
    }
}

/* ==== Delete ==== */

static void test_delete(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-delete");
    hk_fact_id a = add1(k.s, "A(x)");
    hk_fact_id b = add1(k.s, "B(x)");
    add1(k.s, "C(x)");
    hk_error err;
    uint64_t a0, a1;

    /* all or none: a missing name deletes nothing and is named */
    hk_statement st[3] = {parse_st("A(x)"), parse_st("Nope(x)"),
                          parse_st("B(x)")};
    hk_fact_id ids[3] = {0, 0, 0};
    hk_svc_delete op = {.n = 3, .st = st, .ids = ids};
    count_facts(k.s, &a0);
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_delete_apply, &op, &err),
        HK_ERR_NOT_FOUND);
    assert_int_equal(op.missing, 1);
    assert_string_equal(err.message, "no fact Nope(x)");
    assert_int_equal(count_facts(k.s, &a1), 3);
    assert_int_equal(a1, a0);

    /* a fact named twice (by id and by statement) is refused */
    hk_fact_id ids2[2] = {0, a}; /* st[0] is A(x) */
    op = (hk_svc_delete){.n = 2, .st = st, .ids = ids2};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_delete_apply, &op, &err),
        HK_ERR_INVALID);
    assert_int_equal(op.dup_first, 0);
    assert_int_equal(op.dup_second, 1);
    assert_int_equal(count_facts(k.s, NULL), 3);

    /* lenient form (bulk_delete): missing listed, duplicates once */
    hk_statement st2[4] = {parse_st("A(x)"), parse_st("Nope(x)"),
                           parse_st("A( x )"), parse_st("B(x)")};
    hk_fact_id ids3[4] = {0, 0, 0, 0};
    bool dup[4];
    hk_fact facts[4];
    for (int i = 0; i < 4; i++)
        hk_fact_init(&facts[i]);
    op = (hk_svc_delete){.n = 4,
                         .st = st2,
                         .ids = ids3,
                         .missing_ok = true,
                         .dup_ok = true,
                         .dup = dup,
                         .facts = facts};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_delete_apply, &op, &err), HK_OK);
    assert_int_equal(op.deleted, 2);
    assert_true(ids3[0] == a && ids3[1] == 0 && ids3[2] == 0 && ids3[3] == b);
    assert_true(!dup[0] && !dup[1] && dup[2] && !dup[3]);
    assert_string_equal(facts[3].st.predicate, "B");
    assert_int_equal(count_facts(k.s, NULL), 1);

    /* by id, gone */
    hk_fact_id one = a;
    op = (hk_svc_delete){.n = 1, .ids = &one};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_delete_apply, &op, &err),
        HK_ERR_NOT_FOUND);
    char want[64];
    snprintf(want, sizeof want, "no fact with id %llu", (unsigned long long)a);
    assert_string_equal(err.message, want);

    for (int i = 0; i < 4; i++) {
        hk_fact_release(&facts[i]);
        hk_statement_release(&st2[i]);
    }
    for (int i = 0; i < 3; i++)
        hk_statement_release(&st[i]);
    tu_scratch_close(&k);
}

/* ==== History ==== */

static void test_history(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("svc-history");
    hk_fact_id id = add1(k.s, "A(x)");
    add1(k.s, "Other(y)");
    hk_error err;
    hk_fact_meta meta = {.fields = HK_META_CONFIDENCE, .confidence = 0.5};
    hk_svc_update up = {.id = id, .meta = &meta};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_update_apply, &up, &err), HK_OK);

    hk_txn *t = tu_begin(k.s, false);
    hk_svc_history h = {.id = id, .limit = 10};
    assert_int_equal(hk_svc_fact_history(t, &h, &err), HK_OK);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.v[0].op, "meta"); /* newest first */
    assert_string_equal(h.v[1].op, "add");
    hk_audit_entries_free(h.v, h.n);
    hk_statement st = parse_st("A( x )");
    h = (hk_svc_history){.st = &st, .limit = 1};
    assert_int_equal(hk_svc_fact_history(t, &h, &err), HK_OK);
    assert_true(h.found == id);
    assert_int_equal(h.n, 1);
    hk_audit_entries_free(h.v, h.n);
    hk_txn_abort(t);

    /* a deleted fact is found by its statement in the audit log */
    hk_fact_id del = id;
    hk_svc_delete d = {.n = 1, .ids = &del};
    assert_int_equal(
        hk_svc_write(k.s, NULL, hk_svc_fact_delete_apply, &d, &err), HK_OK);
    t = tu_begin(k.s, false);
    h = (hk_svc_history){.st = &st, .limit = 10};
    assert_int_equal(hk_svc_fact_history(t, &h, &err), HK_OK);
    assert_true(h.found == 0);
    assert_int_equal(h.n, 3);
    assert_string_equal(h.v[0].op, "delete");
    hk_audit_entries_free(h.v, h.n);
    h = (hk_svc_history){.st = &st, .limit = 2};
    assert_int_equal(hk_svc_fact_history(t, &h, &err), HK_OK);
    assert_int_equal(h.n, 2);
    hk_audit_entries_free(h.v, h.n);
    /* never present: nothing */
    hk_statement never = parse_st("Never(z)");
    h = (hk_svc_history){.st = &never, .limit = 10};
    assert_int_equal(hk_svc_fact_history(t, &h, &err), HK_OK);
    assert_int_equal(h.n, 0);
    hk_audit_entries_free(h.v, h.n);
    hk_txn_abort(t);
    hk_statement_release(&st);
    hk_statement_release(&never);
    tu_scratch_close(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_merge),   cmocka_unit_test(test_batch),
        cmocka_unit_test(test_get_resolve), cmocka_unit_test(test_update),
        cmocka_unit_test(test_meta_check),  cmocka_unit_test(test_delete),
        cmocka_unit_test(test_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
