/*
 * test_service_cmd.c — write commands (src/service/svc_cmd.h): a request
 * applied directly on one KB and the same request encoded, sent through
 * JSON text (as the replication log carries it), decoded and applied on
 * another KB leave both KBs identical (content digest and audit head),
 * for every kind of command: add with metadata, batch with bad items,
 * update of content and of metadata, delete by id and by statement, and
 * refusals (which fail alike on both); rule changes, strict mode, reason,
 * vector spaces, entity vectors and embed batches (equal rule and vector
 * digests too). The binary form of fact.add and fact.batch gives the
 * same KB and the same batch results, and refuses every truncated or
 * damaged form. Malformed commands are refused with HK_ERR_INVALID, never
 * applied.
 */
#include "test_store_util.h"

#include <jansson.h>

#include "core/buf.h"
#include "service/service.h"
#include "service/svc_cmd.h"
#include "service/svc_rules.h"
#include "service/svc_vector.h"
#include "store/store.h"
#include "stream/stream.h"

typedef struct kb {
    char *dir;     /* scratch directory */
    hk_store *s;   /* open store */
    hkv_store *vs; /* its vector module, or NULL */
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
    hk_svc_cmd_env env = {.s = b->s, .vs = b->vs};
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
    kb a = {tu_tmpdir("cmd-a"), NULL, NULL},
       b = {tu_tmpdir("cmd-b"), NULL, NULL};
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

/* ==== Binary form ==== */

/* arg's binary form (hk_svc_cmd_pack) unpacked and applied on c at the
 * clock of the last both(), twice (the first txn aborted: a group commit
 * may run an apply step again, and it must read the items again from the
 * start). Every proper prefix of the form, and the form with a byte
 * more, is refused. Returns the result; the unpacked request goes to
 * *keep (caller releases with the command's release). */
static hk_err packed(kb *c, hk_svc_apply_fn fn, void *arg, void **keep)
{
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(fn);
    assert_true(hk_svc_cmd_binary(cmd));
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    assert_int_equal(hk_svc_cmd_pack(cmd, arg, &b, &err), HK_OK);
    void *x = NULL;
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(hk_svc_cmd_unpack(cmd, b.data, n, NULL, &x, &err),
                         HK_ERR_INVALID);
        assert_null(x);
    }
    assert_int_equal(hk_buf_append(&b, "", 1), HK_OK);
    assert_int_equal(hk_svc_cmd_unpack(cmd, b.data, b.len, NULL, &x, &err),
                     HK_ERR_INVALID);
    void *darg = NULL;
    assert_int_equal(
        hk_svc_cmd_unpack(cmd, b.data, b.len - 1, NULL, &darg, &err), HK_OK);
    memset(b.data, 0xEE, b.len); /* the request keeps no pointer into it */
    hk_buf_free(&b);
    hk_err rc = HK_OK;
    for (int round = 0; round < 2; round++) {
        hk_txn *t = tu_begin(c->s, true);
        hks_txn_set_clock(t, g_clock);
        assert_int_equal(hk_txn_set_actor(t, "tester"), HK_OK);
        rc = cmd->apply(t, darg, &err);
        if (round == 1 && rc == HK_OK)
            assert_int_equal(hk_txn_commit(t, &err), HK_OK);
        else
            hk_txn_abort(t);
    }
    *keep = darg;
    return rc;
}

/* The same batch's results, item by item. */
static void same_results(const hk_svc_batch *x, const hk_svc_batch *y)
{
    assert_int_equal(x->n, y->n);
    assert_int_equal(x->created, y->created);
    assert_int_equal(x->existing, y->existing);
    assert_int_equal(x->n_errs, y->n_errs);
    for (size_t i = 0; i < x->n; i++) {
        assert_int_equal(x->state[i], y->state[i]);
        assert_int_equal(x->ids[i], y->ids[i]);
    }
    for (size_t i = 0; i < x->n_errs; i++) {
        assert_int_equal(x->errs[i].index, y->errs[i].index);
        assert_int_equal(x->errs[i].fault, y->errs[i].fault);
        assert_int_equal(x->errs[i].err.code, y->errs[i].err.code);
    }
}

/* fact.add and fact.batch in their binary form (what replicated nodes
 * send) leave a KB identical to the JSON form and to the direct apply:
 * items with every metadata field, a bare string, a MERGE, a statement
 * that does not parse, an unreadable item, an item without content; the
 * batch results are equal item by item. */
static void test_binary_form_converges(void **state)
{
    (void)state;
    kb k[3] = {{tu_tmpdir("bin-a"), NULL, NULL},
               {tu_tmpdir("bin-b"), NULL, NULL},
               {tu_tmpdir("bin-c"), NULL, NULL}};
    for (int i = 0; i < 3; i++)
        k[i].s = tu_open(k[i].dir);
    hk_error err;
    void *keep = NULL;

    hk_statement st[2] = {st_of("Likes(ann, \"blue sky\")"),
                          st_of("Part(car, wheel)")};
    const char *tags[] = {"t1", "t2"};
    hk_fact_meta meta = {.fields = HK_META_CONFIDENCE | HK_META_SOURCE |
                                   HK_META_TAGS | HK_META_CONTEXT |
                                   HK_META_TIMES,
                         .confidence = 0.1 + 0.2,
                         .source = "src",
                         .n_tags = 2,
                         .tags = tags,
                         .context_json = "{\"k\":[1,2.5,\"x\"]}",
                         .created_us = 1700000000000000,
                         .updated_us = 1700000000000001};
    hk_fact_id ids[2];
    bool created[2];
    hk_svc_add add = {
        .st = st, .n = 2, .meta = &meta, .ids = ids, .created = created};
    assert_int_equal(both(&k[0], &k[1], hk_svc_fact_add_apply, &add), HK_OK);
    assert_int_equal(packed(&k[2], hk_svc_fact_add_apply, &add, &keep), HK_OK);
    assert_int_equal(((hk_svc_add *)keep)->ids[1], ids[1]);
    hk_svc_cmd_by_apply(hk_svc_fact_add_apply)->release(keep);
    same(&k[0], &k[1], 2);
    same(&k[0], &k[2], 2);

    json_t *items[8] = {
        json_pack("{s:s, s:f, s:s, s:[s,s], s:{s:i}}", "statement",
                  "B(one, \"two words\")", "confidence", 0.7, "source", "feed",
                  "tags", "x", "y", "context", "n", 3),
        json_string("Part(car, wheel)"),
        json_pack("{s:s}", "statement", "not a statement"),
        NULL,
        json_pack("{s:s, s:n}", "statement", "B(two)", "source"),
        json_pack("{s:f}", "confidence", 0.5),
        json_integer(7),
        json_string("B(three, 3.5, -2)")};
    char *bad[8] = {NULL, NULL, NULL, "line 4: invalid JSON",
                    NULL, NULL, NULL, NULL};
    hk_svc_batch bt = {.items = items,
                       .bad = bad,
                       .n = 8,
                       .opts = {.allow_string = true, .need_statement = true},
                       .label = "bin batch"};
    assert_int_equal(hk_svc_batch_init(&bt, 8, &err), HK_OK);
    assert_int_equal(both(&k[0], &k[1], hk_svc_fact_batch_apply, &bt), HK_OK);
    assert_int_equal(bt.created, 3);
    assert_int_equal(bt.existing, 1);
    assert_int_equal(bt.n_errs, 4);
    assert_int_equal(packed(&k[2], hk_svc_fact_batch_apply, &bt, &keep), HK_OK);
    same_results(&bt, keep);
    hk_svc_cmd_by_apply(hk_svc_fact_batch_apply)->release(keep);
    same(&k[0], &k[1], 5);
    same(&k[0], &k[2], 5);

    /* content optional: an item without it fails in the store, alike */
    bt.opts.need_statement = false;
    bt.label = NULL;
    assert_int_equal(both(&k[0], &k[1], hk_svc_fact_batch_apply, &bt), HK_OK);
    assert_int_equal(packed(&k[2], hk_svc_fact_batch_apply, &bt, &keep), HK_OK);
    same_results(&bt, keep);
    hk_svc_cmd_by_apply(hk_svc_fact_batch_apply)->release(keep);
    same(&k[0], &k[2], 5);
    hk_svc_batch_free(&bt);
    for (int i = 0; i < 8; i++)
        json_decref(items[i]);

    /* a wrong item tag or fault, and a form of another command */
    const hk_svc_cmd *bc = hk_svc_cmd_by_apply(hk_svc_fact_batch_apply);
    const uint8_t wrong_tag[] = {1,    1, 0, 0, 0, 0xFF, 0xFF, 0xFF,
                                 0xFF, 3, 2, 0, 0, 0,    0};
    /* metadata packed although no field is set */
    uint8_t no_fields[21 + 4 + 8 + 4 + 1 + 4 + 16] = {
        1, 1, 0, 0,   0, 0xFF, 0xFF, 0xFF, 0xFF, 2,  1,
        0, 0, 0, 'P', 1, 1,    0,    0,    0,    'a'};
    memset(no_fields + 21 + 12, 0xFF, 4); /* no source */
    memset(no_fields + 21 + 17, 0xFF, 4); /* no context */
    assert_int_equal(
        hk_svc_cmd_unpack(hk_svc_cmd_by_apply(hk_svc_fact_batch_apply),
                          no_fields, sizeof no_fields, NULL, &keep, &err),
        HK_ERR_INVALID);
    no_fields[21] = 1; /* HK_META_CONFIDENCE: now a valid form */
    assert_int_equal(
        hk_svc_cmd_unpack(hk_svc_cmd_by_apply(hk_svc_fact_batch_apply),
                          no_fields, sizeof no_fields, NULL, &keep, &err),
        HK_OK);
    hk_svc_cmd_by_apply(hk_svc_fact_batch_apply)->release(keep);
    const uint8_t wrong_fault[] = {1,    1, 0, 0, 0, 0xFF, 0xFF, 0xFF,
                                   0xFF, 1, 0, 0, 0, 0,    0};
    const uint8_t good[] = {1,    1, 0, 0, 0, 0xFF, 0xFF, 0xFF,
                            0xFF, 1, 2, 0, 0, 0,    0};
    assert_int_equal(
        hk_svc_cmd_unpack(bc, wrong_tag, sizeof wrong_tag, NULL, &keep, &err),
        HK_ERR_INVALID);
    assert_int_equal(hk_svc_cmd_unpack(bc, wrong_fault, sizeof wrong_fault,
                                       NULL, &keep, &err),
                     HK_ERR_INVALID);
    assert_int_equal(
        hk_svc_cmd_unpack(bc, good, sizeof good, NULL, &keep, &err), HK_OK);
    bc->release(keep);
    assert_false(hk_svc_cmd_binary(hk_svc_cmd_by_name("fact.delete")));
    assert_false(hk_svc_cmd_packable(bc)); /* the log keeps batches in JSON */

    for (int i = 0; i < 2; i++)
        hk_statement_release(&st[i]);
    for (int i = 0; i < 3; i++) {
        hk_store_close(k[i].s);
        tu_rmrf(k[i].dir);
        free(k[i].dir);
    }
}

/* The rule and vector commands: both KBs opened as the product opens
 * them (rules and vectors attached); every rule change, strict mode,
 * reason, space create and drop, entity vectors and an embed batch give
 * equal fact, rule and vector digests and audit heads. */
static void test_rules_and_vectors_converge(void **state)
{
    (void)state;
    kb k[2] = {{tu_tmpdir("cmdrv-a"), NULL, NULL},
               {tu_tmpdir("cmdrv-b"), NULL, NULL}};
    hk_error err;
    for (int i = 0; i < 2; i++) {
        hk_store_options o = {
            .create = true, .no_sync = true, .map_size = 1ull << 30};
        assert_int_equal(
            hk_svc_store_open(k[i].dir, &o, &k[i].s, &k[i].vs, &err), HK_OK);
        assert_non_null(k[i].vs);
    }
    hk_statement st[3] = {st_of("Parent(ann, bob)"), st_of("Parent(bob, cid)"),
                          st_of("Parent(cid, dan)")};
    hk_fact_id ids[3];
    bool created[3];
    hk_svc_add add = {.st = st, .n = 3, .ids = ids, .created = created};
    assert_int_equal(both(&k[0], &k[1], hk_svc_fact_add_apply, &add), HK_OK);
    for (int i = 0; i < 3; i++)
        hk_statement_release(&st[i]);

    hkr_dbs d;
    assert_int_equal(hkr_dbs_of(k[0].s, &d, &err), HK_OK);
    struct {
        hk_svc_rule_verb verb;
        const char *name, *text;
        hk_err want;
    } rules[] = {
        {HK_SVC_RULE_ADD, "gp",
         "Grand(?x, ?z) :- Parent(?x, ?y), "
         "Parent(?y, ?z).",
         HK_OK},
        {HK_SVC_RULE_ADD, NULL, "Kin(?x) :- Parent(?x, ?y).", HK_OK},
        {HK_SVC_RULE_DISABLE, "gp", NULL, HK_OK},
        {HK_SVC_RULE_ENABLE, "gp", NULL, HK_OK},
        {HK_SVC_RULE_DELETE, "nope", NULL, HK_ERR_NOT_FOUND},
        {HK_SVC_RULE_ADD, "bad", "Bad(?x) :- not Bad(?x).", HK_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        hk_svc_rule_op op = {.d = d,
                             .verb = rules[i].verb,
                             .name = rules[i].name,
                             .text = rules[i].text};
        hk_err rc = both(&k[0], &k[1], hk_svc_rule_apply, &op);
        if (rc != rules[i].want) print_error("rule %zu: %d\n", i, (int)rc);
        assert_int_equal(rc == HK_OK, rules[i].want == HK_OK);
        hk_svc_rule_op_free(&op);
    }
    hk_svc_rules_strict strict = {.d = d, .on = true};
    assert_int_equal(both(&k[0], &k[1], hk_svc_rules_strict_apply, &strict),
                     HK_OK);
    hk_svc_reason reason = {.d = d};
    assert_int_equal(both(&k[0], &k[1], hk_svc_reason_apply, &reason), HK_OK);

    hk_svc_vspace_arg sp = {.vs = k[0].vs};
    snprintf(sp.sp.name, sizeof sp.sp.name, "people");
    sp.sp.kind = HKV_KIND_ENTITY;
    sp.sp.params = (hkv_params){.dim = 2, .metric = HKV_L2, .quant = HKV_F32};
    snprintf(sp.sp.model, sizeof sp.sp.model, "hand");
    assert_int_equal(both(&k[0], &k[1], hk_svc_vspace_create_apply, &sp),
                     HK_OK);
    const char *names[2] = {"ann", "cid"};
    float vecs[4] = {0.1f, 1.0f / 3, -2.5f, 1e-7f}; /* not exact in decimal */
    hk_svc_ventity_arg ve = {.vs = k[0].vs,
                             .space = "people",
                             .names = names,
                             .vecs = vecs,
                             .dim = 2,
                             .n = 2,
                             .model = "hand-2"};
    assert_int_equal(both(&k[0], &k[1], hk_svc_ventity_apply, &ve), HK_OK);
    ve.n = 1;
    ve.remove = true;
    ve.model = NULL;
    assert_int_equal(both(&k[0], &k[1], hk_svc_ventity_apply, &ve), HK_OK);
    names[0] = "nobody"; /* not an entity: fails alike */
    ve.remove = false;
    assert_int_not_equal(both(&k[0], &k[1], hk_svc_ventity_apply, &ve), HK_OK);
    hk_svc_vspace_arg tx = {.vs = k[0].vs};
    snprintf(tx.sp.name, sizeof tx.sp.name, "text");
    tx.sp.embedder = HKV_EMBED_HASHED;
    tx.sp.params =
        (hkv_params){.dim = 16, .metric = HKV_COSINE, .quant = HKV_F32};
    assert_int_equal(both(&k[0], &k[1], hk_svc_vspace_create_apply, &tx),
                     HK_OK);
    hk_svc_embed_arg em = {.vs = k[0].vs, .space = "text", .limit = 2};
    assert_int_equal(both(&k[0], &k[1], hk_svc_embed_apply, &em), HK_OK);
    snprintf(tx.sp.name, sizeof tx.sp.name, "people");
    assert_int_equal(both(&k[0], &k[1], hk_svc_vspace_drop_apply, &tx), HK_OK);

    hkst_digest dg[2];
    for (int i = 0; i < 2; i++) {
        hk_txn *t = tu_begin(k[i].s, false);
        assert_int_equal(hkst_digest_get(k[i].s, t, &dg[i], &err), HK_OK);
        hk_txn_abort(t);
    }
    assert_int_equal(dg[0].facts, 3);
    assert_true(dg[0].rules > 2);
    assert_int_equal(dg[0].vectors, 3); /* the text space and 2 vectors */
    assert_string_equal(dg[0].content, dg[1].content);
    assert_string_equal(dg[0].rules_digest, dg[1].rules_digest);
    assert_string_equal(dg[0].vectors_digest, dg[1].vectors_digest);
    assert_int_equal(dg[0].audit_seq, dg[1].audit_seq);
    assert_string_equal(dg[0].audit_hash, dg[1].audit_hash);
    for (int i = 0; i < 2; i++) {
        hk_svc_store_close(k[i].s, k[i].vs);
        tu_rmrf(k[i].dir);
        free(k[i].dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command_converges),
        cmocka_unit_test(test_malformed_commands_refused),
        cmocka_unit_test(test_binary_form_converges),
        cmocka_unit_test(test_rules_and_vectors_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
