/*
 * test_service_cmd.c — write commands (src/service/svc_cmd.h): a request
 * applied directly on one KB and the same request encoded, sent through
 * JSON text (as the replication log carries it), decoded and applied on
 * another KB leave both KBs identical (content digest and audit head),
 * for every kind of command: add with metadata, batch with bad items,
 * update of content and of metadata, delete by id and by statement, and
 * refusals (which fail alike on both). Malformed commands are refused with
 * HK_ERR_INVALID, never applied.
 */
#include "test_store_util.h"

#include <jansson.h>

#include "service/service.h"
#include "service/svc_cmd.h"
#include "store/store.h"
#include "stream/stream.h"

typedef struct kb {
    char *dir;   /* scratch directory */
    hk_store *s; /* open store */
} kb;

static int64_t g_clock = 1796376662000000; /* the command's time */

/* Applies fn(arg) on a with the fixed clock and actor; the same request
 * through encode -> text -> decode on b. Returns a's result code (b's
 * must be equal). */
static hk_err both(kb *a, kb *b, hk_svc_apply_fn fn, void *arg)
{
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(fn);
    assert_non_null(cmd);
    assert_ptr_equal(hk_svc_cmd_by_name(cmd->name), cmd);
    hk_error err;
    json_t *v = NULL;
    assert_int_equal(cmd->encode(arg, &v, &err), HK_OK);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    assert_non_null(text);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(back);
    void *darg = NULL;
    hk_svc_cmd_env env = {.s = b->s, .vs = NULL};
    hk_err de = cmd->decode(back, &env, &darg, &err);
    if (de != HK_OK) print_error("%s: %s\n", cmd->name, err.message);
    assert_int_equal(de, HK_OK);
    json_decref(back); /* the request holds its own reference */
    g_clock += 1000;
    hk_err rc[2];
    kb *k[2] = {a, b};
    void *args[2] = {arg, darg};
    for (int i = 0; i < 2; i++) {
        hk_txn *t = tu_begin(k[i]->s, true);
        hks_txn_set_clock(t, g_clock);
        assert_int_equal(hk_txn_set_actor(t, "tester"), HK_OK);
        rc[i] = cmd->apply(t, args[i], &err);
        if (rc[i] == HK_OK)
            assert_int_equal(hk_txn_commit(t, &err), HK_OK);
        else
            hk_txn_abort(t);
    }
    cmd->release(darg);
    assert_int_equal(rc[0], rc[1]);
    return rc[0];
}

static void same(kb *a, kb *b, uint64_t facts)
{
    hkst_digest d[2];
    kb *k[2] = {a, b};
    hk_error err;
    for (int i = 0; i < 2; i++) {
        hk_txn *t = tu_begin(k[i]->s, false);
        assert_int_equal(hkst_digest_get(k[i]->s, t, &d[i], &err), HK_OK);
        tu_check(t);
        hk_txn_abort(t);
    }
    assert_int_equal(d[0].facts, facts);
    assert_int_equal(d[1].facts, facts);
    assert_string_equal(d[0].content, d[1].content);
    assert_int_equal(d[0].audit_seq, d[1].audit_seq);
    assert_string_equal(d[0].audit_hash, d[1].audit_hash);
}

static hk_statement st_of(const char *text)
{
    hk_statement st;
    hk_error err;
    assert_int_equal(hk_statement_parse(text, strlen(text), &st, &err), HK_OK);
    return st;
}

static void test_every_command_converges(void **state)
{
    (void)state;
    kb a = {tu_tmpdir("cmd-a"), NULL}, b = {tu_tmpdir("cmd-b"), NULL};
    a.s = tu_open(a.dir);
    b.s = tu_open(b.dir);

    /* add: two statements with every metadata field */
    hk_statement st[2] = {st_of("Likes(ann, \"blue sky\")"),
                          st_of("Part(car, wheel)")};
    const char *tags[] = {"t1", "t2"};
    hk_fact_meta meta = {.fields = HK_META_CONFIDENCE | HK_META_SOURCE |
                                   HK_META_TAGS | HK_META_CONTEXT,
                         .confidence = 0.1 + 0.2, /* not exact in decimal */
                         .source = "src",
                         .n_tags = 2,
                         .tags = tags,
                         .context_json = "{\"k\":[1,2.5,\"x\"]}"};
    hk_fact_id ids[2];
    bool created[2];
    hk_svc_add add = {
        .st = st, .n = 2, .meta = &meta, .ids = ids, .created = created};
    assert_int_equal(both(&a, &b, hk_svc_fact_add_apply, &add), HK_OK);
    same(&a, &b, 2);

    /* batch: good items, an existing one, a bad one, an unreadable one */
    json_t *items[4] = {
        json_pack("{s:s, s:f}", "statement", "B(one)", "confidence", 0.7),
        json_string("Part(car, wheel)"),
        json_pack("{s:s}", "statement", "not a statement"), NULL};
    char *bad[4] = {NULL, NULL, NULL, "line 4: invalid JSON"};
    hk_svc_batch bt = {.items = items,
                       .bad = bad,
                       .n = 4,
                       .opts = {.allow_string = true, .need_statement = true},
                       .label = "test batch"};
    hk_error err;
    assert_int_equal(hk_svc_batch_init(&bt, 4, &err), HK_OK);
    assert_int_equal(both(&a, &b, hk_svc_fact_batch_apply, &bt), HK_OK);
    assert_int_equal(bt.created, 1);
    assert_int_equal(bt.existing, 1);
    assert_int_equal(bt.n_errs, 2);
    hk_svc_batch_free(&bt);
    for (int i = 0; i < 4; i++)
        json_decref(items[i]);
    same(&a, &b, 3);

    /* update: content by id, then metadata only by statement */
    hk_statement moved = st_of("Part(car, door)");
    hk_svc_update up = {.id = ids[1], .new_st = &moved};
    assert_int_equal(both(&a, &b, hk_svc_fact_update_apply, &up), HK_OK);
    hk_fact_meta m2 = {.fields = HK_META_SOURCE | HK_META_CONFIDENCE,
                       .confidence = 0.25,
                       .source = NULL};
    hk_svc_update up2 = {.id = 0, .old_st = &moved, .meta = &m2};
    assert_int_equal(both(&a, &b, hk_svc_fact_update_apply, &up2), HK_OK);
    same(&a, &b, 3);
    /* a refusal fails alike and changes nothing */
    hk_svc_update up3 = {.id = ids[0], .new_st = &moved};
    assert_int_equal(both(&a, &b, hk_svc_fact_update_apply, &up3),
                     HK_ERR_EXISTS);
    same(&a, &b, 3);

    /* delete: one by id and one by statement in one request */
    hk_statement gone = st_of("B(one)");
    hk_statement dst[2] = {{0}, gone};
    hk_fact_id dids[2] = {ids[0], 0};
    hk_svc_delete del = {.n = 2, .st = dst, .ids = dids};
    assert_int_equal(both(&a, &b, hk_svc_fact_delete_apply, &del), HK_OK);
    same(&a, &b, 1);
    hk_fact_id dids2[1] = {ids[0]};
    hk_svc_delete del2 = {.n = 1, .st = dst, .ids = dids2};
    assert_int_equal(both(&a, &b, hk_svc_fact_delete_apply, &del2),
                     HK_ERR_NOT_FOUND);
    same(&a, &b, 1);

    for (int i = 0; i < 2; i++)
        hk_statement_release(&st[i]);
    hk_statement_release(&moved);
    hk_statement_release(&gone);
    hk_store_close(a.s);
    hk_store_close(b.s);
    tu_rmrf(a.dir);
    tu_rmrf(b.dir);
    free(a.dir);
    free(b.dir);
}

static void test_malformed_commands_refused(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"fact.add", "{}"},
        {"fact.add", "{\"facts\":[{\"p\":\"P\"}]}"},
        {"fact.add", "{\"facts\":[{\"p\":\"P\",\"a\":[1]}]}"},
        {"fact.add", "{\"facts\":[{\"p\":\"P\",\"a\":[\"x\"]}],\"meta\":{}}"},
        {"fact.update", "{\"id\":0}"},
        {"fact.update", "{\"id\":\"3\"}"},
        {"fact.delete", "{\"names\":[]}"},
        {"fact.delete", "{\"names\":[{\"p\":7}]}"},
        {"fact.batch", "{\"items\":[1],\"bad\":[],\"opts\":{}}"},
        {"fact.batch", "{\"items\":[1],\"bad\":[null]}"},
        {"rule", "{\"verb\":0}"},
        {"rule", "{\"verb\":9,\"name\":\"r\"}"},
        {"rule", "{\"verb\":3}"},
        {"rule", "{\"verb\":3,\"name\":\"1 bad\"}"},
        {"reason", "[]"},
        {"vector.space.create", "{\"params\":[1,1,1,0,0,0]}"},
        {"vector.space.create",
         "{\"name\":\"s\",\"params\":[1,1],\"model\":\"\"}"},
        {"vector.space.create",
         "{\"name\":\"s\",\"params\":[1,1,1,0,0,-1],\"model\":\"\"}"},
        {"vector.entity", "{\"space\":\"s\",\"names\":[\"a\"],\"dim\":2,"
                          "\"vecs\":[1]}"},
        {"vector.entity", "{\"space\":\"s\",\"names\":[],\"dim\":1,"
                          "\"vecs\":[]}"},
        {"vector.embed", "{\"space\":\"s\",\"after\":-1,\"limit\":1}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hk_svc_cmd *cmd = hk_svc_cmd_by_name(cases[i][0]);
        assert_non_null(cmd);
        json_t *v = json_loads(cases[i][1], 0, NULL);
        assert_non_null(v);
        void *arg = NULL;
        hk_error err;
        hk_svc_cmd_env env = {NULL, NULL}; /* never reached: refused first */
        assert_int_equal(cmd->decode(v, &env, &arg, &err), HK_ERR_INVALID);
        assert_null(arg);
        json_decref(v);
    }
    assert_null(hk_svc_cmd_by_name("rule.add"));
    assert_null(hk_svc_cmd_by_apply(hk_svc_rehash_apply));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command_converges),
        cmocka_unit_test(test_malformed_commands_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
