/*
 * test_service_memory.c — the memory operations (svc_memory.c) on a
 * scratch KB: the text encoding, the fact mapping, the semantics of
 * duplicates and missing entities, copies (what one call repeats),
 * all-or-nothing add_observations, the audit actor, search case folding and
 * open_nodes relations. The differential end-to-end test
 * (tests/e2e/test_mcp_memory_diff.mjs) compares whole random sequences with the
 * reference server.
 */
#include "test_store_util.h"

#include <jansson.h>

#include "core/buf.h"
#include "service/service.h"
#include "service/svc_memory.h"

/* ==== Helpers ==== */

/* Runs op with the JSON arguments args; returns the rc, the compact result
 * in out (NULL when rc != HK_OK). */
static hk_err run(tu_scratch *k, hk_mem_op op, const char *args, char **out,
                  hk_error *err)
{
    json_error_t je;
    hk_svc_mem_write w = {op, json_loads(args, 0, &je), NULL};
    assert_non_null(w.args);
    hk_err rc = hk_svc_write(k->s, "tester", hk_svc_mem_apply, &w, err);
    *out = rc == HK_OK ? json_dumps(w.result, JSON_COMPACT) : NULL;
    json_decref(w.result);
    json_decref(w.args);
    return rc;
}

static void run_ok(tu_scratch *k, hk_mem_op op, const char *args,
                   const char *want)
{
    hk_error err;
    char *got = NULL;
    hk_err rc = run(k, op, args, &got, &err);
    if (rc != HK_OK) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, HK_OK);
    if (want) assert_string_equal(got, want);
    free(got);
}

enum { GRAPH, SEARCH, OPEN };

static char *read_as(tu_scratch *k, int what, const char *arg)
{
    hk_txn *t = tu_begin(k->s, false);
    hk_error err;
    json_t *g = NULL, *names = NULL;
    hk_err rc;
    if (what == GRAPH) {
        rc = hk_svc_mem_read_graph(t, &g, &err);
    } else if (what == SEARCH) {
        rc = hk_svc_mem_search(t, arg, &g, &err);
    } else {
        json_error_t je;
        names = json_loads(arg, 0, &je);
        rc = hk_svc_mem_open(t, names, &g, &err);
    }
    hk_txn_abort(t);
    assert_int_equal(rc, HK_OK);
    char *s = json_dumps(g, JSON_COMPACT);
    json_decref(g);
    json_decref(names);
    return s;
}

static void expect_read(tu_scratch *k, int what, const char *arg,
                        const char *want)
{
    char *got = read_as(k, what, arg);
    assert_string_equal(got, want);
    free(got);
}

static uint64_t fact_count(tu_scratch *k)
{
    hk_txn *t = tu_begin(k->s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_store_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    return st.facts;
}

/* ==== Tests ==== */

static void test_encoding(void **state)
{
    (void)state;
    static const char *const texts[] = {"plain",
                                        "",
                                        "%",
                                        "%41",
                                        "a\nb",
                                        "tab\t",
                                        "\x7f",
                                        "Ωμέγα 東京 🎉",
                                        " spaced ",
                                        "100%",
                                        "a, b (c) \"q\" \\"};
    hk_buf enc = HK_BUF_INIT, dec = HK_BUF_INIT;
    hk_error err;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_int_equal(hk_svc_mem_encode(texts[i], &enc, &err), HK_OK);
        hk_statement st = {"Observation", 2, {"x", enc.data}, NULL};
        assert_int_equal(hk_statement_validate(&st, &err), HK_OK);
        assert_int_equal(hk_svc_mem_decode(enc.data, &dec), HK_OK);
        assert_string_equal(dec.data, texts[i]);
    }
    /* ordinary text is stored as it is */
    assert_int_equal(hk_svc_mem_encode("100%", &enc, &err), HK_OK);
    assert_string_equal(enc.data, "100%");
    assert_int_equal(hk_svc_mem_encode("", &enc, &err), HK_OK);
    assert_string_equal(enc.data, "%");
    /* too long */
    char *big = malloc(HK_MAX_ARG_BYTES + 2);
    memset(big, 'a', HK_MAX_ARG_BYTES + 1);
    big[HK_MAX_ARG_BYTES + 1] = '\0';
    assert_int_equal(hk_svc_mem_encode(big, &enc, &err), HK_ERR_INVALID);
    free(big);
    hk_buf_free(&enc);
    hk_buf_free(&dec);
}

static void test_entities_and_mapping(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-ent");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"Ada\",\"entityType\":\"person\","
           "\"observations\":[\"writes code\",\"\"]}]}",
           "{\"entities\":[{\"name\":\"Ada\",\"entityType\":\"person\","
           "\"observations\":[\"writes code\",\"\"]}]}");
    /* an existing name is skipped, whatever its type */
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"Ada\",\"entityType\":\"x\","
           "\"observations\":[]},{\"name\":\"\",\"entityType\":\"\","
           "\"observations\":[]}]}",
           "{\"entities\":[{\"name\":\"\",\"entityType\":\"\","
           "\"observations\":[]}]}");
    assert_int_equal(fact_count(&k), 4);
    /* the facts are ordinary KB facts */
    hk_txn *t = tu_begin(k.s, false);
    hk_fact_id id;
    hk_error err;
    hk_statement st = {"Observation", 2, {"Ada", "writes code"}, NULL};
    assert_int_equal(hk_store_find(t, &st, &id, &err), HK_OK);
    hk_statement ty = {"EntityType", 2, {"Ada", "person"}, NULL};
    assert_int_equal(hk_store_find(t, &ty, &id, &err), HK_OK);
    /* written by the caller's actor */
    hk_audit_entry *v = NULL;
    size_t n = 0;
    assert_int_equal(hk_audit_list(t, 0, 1, &v, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].actor, "tester");
    hk_audit_entries_free(v, n);
    hk_txn_abort(t);
    expect_read(&k, GRAPH, NULL,
                "{\"entities\":[{\"name\":\"Ada\",\"entityType\":\"person\","
                "\"observations\":[\"writes code\",\"\"]},{\"name\":\"\","
                "\"entityType\":\"\",\"observations\":[]}],\"relations\":[]}");
    /* deleting an entity deletes its observations and relations */
    run_ok(&k, HK_MEM_CREATE_RELATIONS,
           "{\"relations\":[{\"from\":\"Ada\",\"to\":\"Bob\",\"relationType\":"
           "\"knows\"},{\"from\":\"Bob\",\"to\":\"Ada\",\"relationType\":"
           "\"knows\"},{\"from\":\"Ada\",\"to\":\"Ada\",\"relationType\":"
           "\"is\"}]}",
           NULL);
    run_ok(&k, HK_MEM_DELETE_ENTITIES, "{\"entityNames\":[\"Ada\",\"nope\"]}",
           "{\"success\":true,\"message\":\"Entities deleted successfully\"}");
    assert_int_equal(fact_count(&k), 1);
    tu_scratch_close(&k);
}

static void test_observations_all_or_nothing(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-obs");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"A\",\"entityType\":\"t\","
           "\"observations\":[\"one\"]}]}",
           NULL);
    run_ok(&k, HK_MEM_ADD_OBSERVATIONS,
           "{\"observations\":[{\"entityName\":\"A\",\"contents\":[\"one\","
           "\"two\"]},{\"entityName\":\"A\",\"contents\":[\"two\",\"3\"]}]}",
           "{\"results\":[{\"entityName\":\"A\",\"addedObservations\":"
           "[\"two\"]},{\"entityName\":\"A\",\"addedObservations\":[\"3\"]}]}");
    uint64_t before = fact_count(&k);
    hk_error err;
    char *out = NULL;
    assert_int_equal(run(&k, HK_MEM_ADD_OBSERVATIONS,
                         "{\"observations\":[{\"entityName\":\"A\","
                         "\"contents\":[\"four\"]},{\"entityName\":\"B\","
                         "\"contents\":[\"x\"]}]}",
                         &out, &err),
                     HK_ERR_NOT_FOUND);
    assert_string_equal(err.message, "Entity with name B not found");
    assert_null(out);
    assert_int_equal(fact_count(&k), before);
    /* deletes of missing items succeed and change nothing */
    run_ok(&k, HK_MEM_DELETE_OBSERVATIONS,
           "{\"deletions\":[{\"entityName\":\"A\",\"observations\":[\"one\","
           "\"zzz\"]},{\"entityName\":\"Q\",\"observations\":[\"x\"]}]}",
           "{\"success\":true,\"message\":\"Observations deleted "
           "successfully\"}");
    run_ok(&k, HK_MEM_DELETE_RELATIONS,
           "{\"relations\":[{\"from\":\"A\",\"to\":\"B\",\"relationType\":"
           "\"r\"}]}",
           NULL);
    expect_read(&k, GRAPH, NULL,
                "{\"entities\":[{\"name\":\"A\",\"entityType\":\"t\","
                "\"observations\":[\"two\",\"3\"]}],\"relations\":[]}");
    tu_scratch_close(&k);
}

/* Two calls in one transaction, as the server's group commit runs them: a
 * call failing on its input leaves the transaction as it found it, and the
 * other call's writes commit. */
typedef struct group2 {
    hk_svc_mem_write bad;  /* fails on its input */
    hk_svc_mem_write good; /* succeeds */
    hk_err bad_rc;         /* what bad returned */
} group2;

static hk_err run_group2(hk_txn *t, void *arg, hk_error *err)
{
    group2 *g = arg;
    hk_error bad_err;
    g->bad_rc = hk_svc_mem_apply(t, &g->bad, &bad_err);
    return hk_svc_mem_apply(t, &g->good, err);
}

static void group_case(const char *bad_args, hk_mem_op bad_op, hk_err want)
{
    tu_scratch k = tu_scratch_open("mem-group");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"A\",\"entityType\":\"t\","
           "\"observations\":[]}]}",
           NULL);
    json_error_t je;
    group2 g = {{bad_op, json_loads(bad_args, 0, &je), NULL},
                {HK_MEM_CREATE_RELATIONS,
                 json_loads("{\"relations\":[{\"from\":\"A\",\"to\":"
                            "\"A\",\"relationType\":\"r\"}]}",
                            0, &je),
                 NULL},
                HK_OK};
    assert_non_null(g.bad.args);
    assert_non_null(g.good.args);
    hk_error err;
    assert_int_equal(hk_svc_write(k.s, "tester", run_group2, &g, &err), HK_OK);
    assert_int_equal(g.bad_rc, want);
    expect_read(&k, GRAPH, NULL,
                "{\"entities\":[{\"name\":\"A\",\"entityType\":\"t\","
                "\"observations\":[]}],\"relations\":[{\"from\":\"A\","
                "\"to\":\"A\",\"relationType\":\"r\"}]}");
    for (int i = 0; i < 2; i++) {
        hk_svc_mem_write *w = i ? &g.good : &g.bad;
        json_decref(w->args);
        json_decref(w->result);
    }
    tu_scratch_close(&k);
}

static void test_failed_call_leaves_txn_unchanged(void **state)
{
    (void)state;
    /* an unknown entity after a known one */
    group_case("{\"observations\":[{\"entityName\":\"A\",\"contents\":"
               "[\"one\"]},{\"entityName\":\"B\",\"contents\":[\"x\"]}]}",
               HK_MEM_ADD_OBSERVATIONS, HK_ERR_NOT_FOUND);
    /* a text too long to store in the second entity */
    char *big = malloc(HK_MAX_ARG_BYTES + 200);
    assert_non_null(big);
    int n = snprintf(big, HK_MAX_ARG_BYTES + 200,
                     "{\"entities\":[{\"name\":\"C\",\"entityType\":\"t\","
                     "\"observations\":[]},{\"name\":\"D\",\"entityType\":"
                     "\"t\",\"observations\":[\"%0*d\"]}]}",
                     HK_MAX_ARG_BYTES + 1, 0);
    assert_true(n > 0 && n < HK_MAX_ARG_BYTES + 200);
    group_case(big, HK_MEM_CREATE_ENTITIES, HK_ERR_INVALID);
    free(big);
}

/* The names of the entities of a ranked (or plain) search, comma-joined. */
static void ranked_names(tu_scratch *k, const char *query, bool rank, char *out,
                         size_t cap)
{
    hk_svc_mem_view_req req;
    memset(&req, 0, sizeof req);
    req.query = query;
    req.rank = rank;
    hk_txn *t = tu_begin(k->s, false);
    hk_error err;
    json_t *g = NULL;
    hk_err rc = hk_svc_mem_view(t, &req, &g, &err);
    hk_txn_abort(t);
    assert_int_equal(rc, HK_OK);
    out[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(g, "entities"), i, e)
    {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? "," : "",
                 json_string_value(json_object_get(e, "name")));
    }
    json_decref(g);
}

static void test_ranked_search(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-rank");
    /* creation order: weakest match first */
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":["
           "{\"name\":\"Zed\",\"entityType\":\"person\","
           "\"observations\":[\"drinks coffee\",\"teapot collector\"]},"
           "{\"name\":\"Ann\",\"entityType\":\"person\","
           "\"observations\":[\"likes green tea\"]},"
           "{\"name\":\"Bob\",\"entityType\":\"person\","
           "\"observations\":[\"green tea daily\",\"tea ceremony green\"]},"
           "{\"name\":\"Cid\",\"entityType\":\"robot\","
           "\"observations\":[\"no drinks\"]}]}",
           NULL);
    char plain[256], ranked[256];
    ranked_names(&k, "green tea", false, plain, sizeof plain);
    assert_string_equal(plain, "Ann,Bob"); /* the reference's substring set */
    ranked_names(&k, "green tea", true, ranked, sizeof ranked);
    assert_string_equal(ranked, "Bob,Ann"); /* two matching facts beat one */
    /* "tea" starts "teapot": a prefix match, which counts half */
    ranked_names(&k, "tea", false, plain, sizeof plain);
    assert_string_equal(plain, "Zed,Ann,Bob");
    ranked_names(&k, "tea", true, ranked, sizeof ranked);
    assert_string_equal(ranked, "Bob,Ann,Zed");
    /* rank does not combine with paging, nor with read_graph */
    hk_svc_mem_view_req req;
    memset(&req, 0, sizeof req);
    req.query = "tea";
    req.rank = true;
    req.limit = 1;
    hk_txn *t = tu_begin(k.s, false);
    hk_error err;
    json_t *g = NULL;
    assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "rank");
    assert_null(g);
    req.query = NULL;
    req.limit = 0;
    assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
    tu_scratch_close(&k);
}

static void test_search_and_open(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-search");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"ΩΜΕΓΑ\",\"entityType\":\"Greek\","
           "\"observations\":[]},{\"name\":\"Иван\",\"entityType\":\"p\","
           "\"observations\":[\"Likes TEA\"]},{\"name\":\"Zed\","
           "\"entityType\":\"p\",\"observations\":[]}]}",
           NULL);
    run_ok(&k, HK_MEM_CREATE_RELATIONS,
           "{\"relations\":[{\"from\":\"Zed\",\"to\":\"Out\",\"relationType\":"
           "\"r\"},{\"from\":\"Иван\",\"to\":\"ΩΜΕΓΑ\",\"relationType\":"
           "\"r\"}]}",
           NULL);
    expect_read(&k, SEARCH, "ωμεγα",
                "{\"entities\":[{\"name\":\"ΩΜΕΓΑ\",\"entityType\":\"Greek\","
                "\"observations\":[]}],\"relations\":[{\"from\":\"Иван\","
                "\"to\":\"ΩΜΕΓΑ\",\"relationType\":\"r\"}]}");
    expect_read(&k, SEARCH, "ИВАН",
                "{\"entities\":[{\"name\":\"Иван\",\"entityType\":\"p\","
                "\"observations\":[\"Likes TEA\"]}],\"relations\":[{\"from\":"
                "\"Иван\",\"to\":\"ΩΜΕΓΑ\",\"relationType\":\"r\"}]}");
    expect_read(&k, SEARCH, "tea",
                "{\"entities\":[{\"name\":\"Иван\",\"entityType\":\"p\","
                "\"observations\":[\"Likes TEA\"]}],\"relations\":[{\"from\":"
                "\"Иван\",\"to\":\"ΩΜΕΓΑ\",\"relationType\":\"r\"}]}");
    expect_read(&k, SEARCH, "nothing", "{\"entities\":[],\"relations\":[]}");
    /* open_nodes: relations with one end among the entities found */
    expect_read(&k, OPEN, "[\"Zed\",\"Out\",\"missing\"]",
                "{\"entities\":[{\"name\":\"Zed\",\"entityType\":\"p\","
                "\"observations\":[]}],\"relations\":[{\"from\":\"Zed\","
                "\"to\":\"Out\",\"relationType\":\"r\"}]}");
    /* pages of one item: 3 entities, then 2 relations, then nothing */
    hk_svc_mem_view_req req;
    memset(&req, 0, sizeof req);
    req.limit = 1;
    req.provenance = true;
    char cursor[300] = "";
    size_t ents = 0, rels = 0, pages = 0;
    for (; pages < 10; pages++) {
        hk_txn *t = tu_begin(k.s, false);
        hk_error err;
        json_t *g = NULL;
        req.cursor = cursor[0] ? cursor : NULL;
        assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_OK);
        hk_txn_abort(t);
        json_t *e = json_object_get(g, "entities");
        ents += json_array_size(e);
        rels += json_array_size(json_object_get(g, "relations"));
        if (json_array_size(e))
            assert_string_equal(
                json_string_value(json_object_get(
                    json_object_get(json_array_get(e, 0), "provenance"),
                    "createdBy")),
                "tester");
        const char *next = json_string_value(json_object_get(g, "nextCursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(g);
        if (!next) break;
    }
    assert_int_equal(ents, 3);
    assert_int_equal(rels, 2);
    assert_int_equal(pages, 4); /* the fifth page is the last one */
    /* a cursor of another list is refused */
    hk_txn *t = tu_begin(k.s, false);
    hk_error err;
    json_t *g = NULL;
    req.cursor = "zz";
    assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "cursor");
    req.query = "a";
    req.cursor = "r1";
    assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
    tu_scratch_close(&k);
}

static void test_copy_marks(void **state)
{
    (void)state;
    static const struct {
        hk_statement st;
        bool item;
        uint64_t copy, occ;
    } cases[] = {
        {{"EntityType", 2, {"A", "t"}, NULL}, true, 1, 1},
        {{"EntityType", 3, {"A", "t", "#2"}, NULL}, true, 2, 1},
        {{"EntityType", 3, {"A", "t", "#1"}, NULL}, false, 0, 0},
        {{"EntityType", 3, {"A", "t", "#02"}, NULL}, false, 0, 0},
        {{"EntityType", 3, {"A", "t", "#2x"}, NULL}, false, 0, 0},
        {{"EntityType", 4, {"A", "t", "#2", "#2"}, NULL}, false, 0, 0},
        {{"Observation", 2, {"A", "o"}, NULL}, true, 1, 1},
        {{"Observation", 3, {"A", "o", "#3"}, NULL}, true, 3, 1},
        {{"Observation", 4, {"A", "o", "#1", "#2"}, NULL}, true, 1, 2},
        {{"Observation", 4, {"A", "o", "#12", "#40"}, NULL}, true, 12, 40},
        {{"Observation", 4, {"A", "o", "#2", "#1"}, NULL}, false, 0, 0},
        {{"Observation", 3, {"A", "o", "x"}, NULL}, false, 0, 0},
        {{"Relation", 3, {"A", "r", "B"}, NULL}, true, 1, 1},
        {{"Relation", 4, {"A", "r", "B", "#2"}, NULL}, true, 1, 2},
        {{"Relation", 4, {"A", "r", "B", "#1"}, NULL}, false, 0, 0},
        {{"Relation", 2, {"A", "r"}, NULL}, false, 0, 0},
        {{"Other", 2, {"A", "o"}, NULL}, false, 0, 0},
        {{"Observation", 3, {"A", "o", "#99999999999999999999"}, NULL},
         false,
         0,
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t copy = 0, occ = 0;
        bool item = hk_svc_mem_classify(&cases[i].st, &copy, &occ);
        if (item != cases[i].item) fprintf(stderr, "case %zu\n", i);
        assert_int_equal(item, cases[i].item);
        if (!item) continue;
        assert_int_equal(copy, cases[i].copy);
        assert_int_equal(occ, cases[i].occ);
        /* and the statement built for (copy, occ) is the same */
        hk_buf enc[HK_MEM_N_ENC] = {HK_BUF_INIT, HK_BUF_INIT, HK_BUF_INIT,
                                    HK_BUF_INIT};
        hk_statement st;
        hk_error err;
        assert_int_equal(hk_svc_mem_statement(cases[i].st.predicate,
                                              cases[i].st.args, copy, occ, enc,
                                              &st, &err),
                         HK_OK);
        assert_int_equal(st.n_args, cases[i].st.n_args);
        for (uint32_t a = 0; a < st.n_args; a++)
            assert_string_equal(st.args[a], cases[i].st.args[a]);
        for (int b = 0; b < HK_MEM_N_ENC; b++)
            hk_buf_free(&enc[b]);
    }
}

static bool has_fact(tu_scratch *k, hk_statement st)
{
    hk_txn *t = tu_begin(k->s, false);
    hk_fact_id id;
    hk_error err;
    hk_err rc = hk_store_find(t, &st, &id, &err);
    hk_txn_abort(t);
    return rc == HK_OK;
}

/* What one call repeats is kept, as the reference keeps it. */
static void test_copies(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-copies");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":["
           "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
           "[\"o\",\"o\",\"p\"]},"
           "{\"name\":\"A\",\"entityType\":\"u\",\"observations\":[\"o\"]},"
           "{\"name\":\"B\",\"entityType\":\"t\",\"observations\":[]},"
           "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}]}",
           "{\"entities\":["
           "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
           "[\"o\",\"o\",\"p\"]},"
           "{\"name\":\"A\",\"entityType\":\"u\",\"observations\":[\"o\"]},"
           "{\"name\":\"B\",\"entityType\":\"t\",\"observations\":[]},"
           "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}]}");
    assert_int_equal(fact_count(&k), 8);
    assert_true(has_fact(&k, tu_st("EntityType", "A", "t", NULL)));
    assert_true(has_fact(&k, tu_st("EntityType", "A", "u", "#2", NULL)));
    assert_true(has_fact(&k, tu_st("EntityType", "A", "t", "#3", NULL)));
    assert_true(has_fact(&k, tu_st("Observation", "A", "o", NULL)));
    assert_true(has_fact(&k, tu_st("Observation", "A", "o", "#1", "#2", NULL)));
    assert_true(has_fact(&k, tu_st("Observation", "A", "o", "#2", NULL)));
    /* an existing name is skipped, every copy of it */
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":[{\"name\":\"A\",\"entityType\":\"t\","
           "\"observations\":[]},{\"name\":\"A\",\"entityType\":\"t\","
           "\"observations\":[]}]}",
           "{\"entities\":[]}");
    /* add_observations: the first object; repetitions of a new text are
     * added, a text it holds is not; a second entry of the name sees the
     * first */
    run_ok(&k, HK_MEM_ADD_OBSERVATIONS,
           "{\"observations\":[{\"entityName\":\"A\",\"contents\":"
           "[\"p\",\"q\",\"q\",\"o\"]},{\"entityName\":\"A\",\"contents\":"
           "[\"q\",\"r\"]}]}",
           "{\"results\":[{\"entityName\":\"A\",\"addedObservations\":"
           "[\"q\",\"q\"]},{\"entityName\":\"A\",\"addedObservations\":"
           "[\"r\"]}]}");
    expect_read(
        &k, GRAPH, NULL,
        "{\"entities\":["
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
        "[\"o\",\"o\",\"p\",\"q\",\"q\",\"r\"]},"
        "{\"name\":\"A\",\"entityType\":\"u\",\"observations\":[\"o\"]},"
        "{\"name\":\"B\",\"entityType\":\"t\",\"observations\":[]},"
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}],"
        "\"relations\":[]}");
    /* delete_observations: every occurrence, from the first object only */
    run_ok(&k, HK_MEM_DELETE_OBSERVATIONS,
           "{\"deletions\":[{\"entityName\":\"A\",\"observations\":"
           "[\"o\",\"q\",\"o\"]}]}",
           NULL);
    expect_read(
        &k, OPEN, "[\"A\"]",
        "{\"entities\":["
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
        "[\"p\",\"r\"]},"
        "{\"name\":\"A\",\"entityType\":\"u\",\"observations\":[\"o\"]},"
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}],"
        "\"relations\":[]}");
    /* each object is searched on its own */
    expect_read(&k, SEARCH, "O",
                "{\"entities\":[{\"name\":\"A\",\"entityType\":\"u\","
                "\"observations\":[\"o\"]}],\"relations\":[]}");
    /* relations: repeated ones kept, an existing one skipped */
    run_ok(&k, HK_MEM_CREATE_RELATIONS,
           "{\"relations\":[{\"from\":\"A\",\"to\":\"B\",\"relationType\":"
           "\"k\"},{\"from\":\"B\",\"to\":\"A\",\"relationType\":\"k\"},"
           "{\"from\":\"A\",\"to\":\"B\",\"relationType\":\"k\"}]}",
           "{\"relations\":[{\"from\":\"A\",\"to\":\"B\",\"relationType\":"
           "\"k\"},{\"from\":\"B\",\"to\":\"A\",\"relationType\":\"k\"},"
           "{\"from\":\"A\",\"to\":\"B\",\"relationType\":\"k\"}]}");
    assert_true(has_fact(&k, tu_st("Relation", "A", "k", "B", "#2", NULL)));
    run_ok(&k, HK_MEM_CREATE_RELATIONS,
           "{\"relations\":[{\"from\":\"A\",\"to\":\"B\",\"relationType\":"
           "\"k\"},{\"from\":\"A\",\"to\":\"B\",\"relationType\":\"k\"}]}",
           "{\"relations\":[]}");
    expect_read(&k, SEARCH, "t",
                "{\"entities\":["
                "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
                "[\"p\",\"r\"]},"
                "{\"name\":\"B\",\"entityType\":\"t\",\"observations\":[]},"
                "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}],"
                "\"relations\":["
                "{\"from\":\"A\",\"to\":\"B\",\"relationType\":\"k\"},"
                "{\"from\":\"B\",\"to\":\"A\",\"relationType\":\"k\"},"
                "{\"from\":\"A\",\"to\":\"B\",\"relationType\":\"k\"}]}");
    /* delete_relations: every occurrence */
    run_ok(&k, HK_MEM_DELETE_RELATIONS,
           "{\"relations\":[{\"from\":\"A\",\"to\":\"B\",\"relationType\":"
           "\"k\"}]}",
           NULL);
    expect_read(&k, OPEN, "[\"B\"]",
                "{\"entities\":[{\"name\":\"B\",\"entityType\":\"t\","
                "\"observations\":[]}],\"relations\":["
                "{\"from\":\"B\",\"to\":\"A\",\"relationType\":\"k\"}]}");
    /* facts of these predicates that are no memory items are left alone */
    hk_txn *t = tu_begin(k.s, true);
    bool created;
    tu_add(t, tu_st("Observation", "A", "other", "x", NULL), &created);
    tu_add(t, tu_st("EntityType", "A", "t", "#1", NULL), &created);
    tu_commit(t);
    expect_read(
        &k, OPEN, "[\"A\"]",
        "{\"entities\":["
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":"
        "[\"p\",\"r\"]},"
        "{\"name\":\"A\",\"entityType\":\"u\",\"observations\":[\"o\"]},"
        "{\"name\":\"A\",\"entityType\":\"t\",\"observations\":[]}],"
        "\"relations\":[{\"from\":\"B\",\"to\":\"A\","
        "\"relationType\":\"k\"}]}");
    /* delete_entities: every object of the name and its relations */
    run_ok(&k, HK_MEM_DELETE_ENTITIES, "{\"entityNames\":[\"A\"]}", NULL);
    expect_read(&k, GRAPH, NULL,
                "{\"entities\":[{\"name\":\"B\",\"entityType\":\"t\","
                "\"observations\":[]}],\"relations\":[]}");
    assert_int_equal(fact_count(&k), 3); /* B and the two non-items */
    tu_scratch_close(&k);
}

/* rank orders the objects of one name by their own facts */
static void test_ranked_copies(void **state)
{
    (void)state;
    tu_scratch k = tu_scratch_open("mem-rank-copies");
    run_ok(&k, HK_MEM_CREATE_ENTITIES,
           "{\"entities\":["
           "{\"name\":\"T\",\"entityType\":\"a\",\"observations\":"
           "[\"teapot\"]},"
           "{\"name\":\"T\",\"entityType\":\"b\",\"observations\":"
           "[\"tea\",\"tea\"]}]}",
           NULL);
    static const char *const want[2] = {"a,b", "b,a"};
    for (int rank = 0; rank < 2; rank++) {
        hk_svc_mem_view_req req;
        memset(&req, 0, sizeof req);
        req.query = "tea";
        req.rank = rank;
        hk_txn *t = tu_begin(k.s, false);
        hk_error err;
        json_t *g = NULL;
        assert_int_equal(hk_svc_mem_view(t, &req, &g, &err), HK_OK);
        hk_txn_abort(t);
        char types[16] = "";
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(g, "entities"), i, e)
        {
            size_t n = strlen(types);
            snprintf(types + n, sizeof types - n, "%s%s", n ? "," : "",
                     json_string_value(json_object_get(e, "entityType")));
        }
        assert_string_equal(types, want[rank]);
        json_decref(g);
    }
    tu_scratch_close(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_entities_and_mapping),
        cmocka_unit_test(test_observations_all_or_nothing),
        cmocka_unit_test(test_failed_call_leaves_txn_unchanged),
        cmocka_unit_test(test_ranked_search),
        cmocka_unit_test(test_search_and_open),
        cmocka_unit_test(test_copy_marks),
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_ranked_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
