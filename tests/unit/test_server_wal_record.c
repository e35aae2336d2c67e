/*
 * test_server_wal_record.c — the write-ahead log's records of server
 * writes (server_writer.c) and svc_cmd's binary form of fact.add:
 *
 *   - pack, then unpack, gives back every field of the request (with and
 *     without metadata, absent and present optional strings);
 *   - every cut-short prefix, a trailing byte, a bad version, a NUL inside
 *     a string and bad counts are refused with HK_ERR_INVALID;
 *   - a record written before the binary form (its JSON entry, bytes as
 *     the old encoder wrote them) still replays, and gives the same data
 *     digest, fact metadata and audit entry as the binary record of the
 *     same request;
 *   - an entry with unknown flags (a newer log) is refused as corrupt.
 *
 * Linked against libhakgal_server; each replay runs in a scratch KB.
 */
#include "test_store_util.h"

#include "core/buf.h"
#include "core/mem.h"
#include "server/server_int.h"
#include "service/svc_cmd.h"
#include "store/store.h"

static const char *const tags2[] = {"red", "big"};

static hk_statement stmt(const char *p, uint32_t n, const char *a0,
                         const char *a1)
{
    hk_statement st;
    memset(&st, 0, sizeof st);
    st.predicate = p;
    st.n_args = n;
    st.args[0] = a0;
    st.args[1] = a1;
    return st;
}

static void same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void same_add(const hk_svc_add *a, const hk_svc_add *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->st[i].predicate, b->st[i].predicate);
        assert_int_equal(a->st[i].n_args, b->st[i].n_args);
        for (uint32_t k = 0; k < a->st[i].n_args; k++)
            assert_string_equal(a->st[i].args[k], b->st[i].args[k]);
    }
    assert_int_equal(a->meta != NULL, b->meta != NULL);
    if (!a->meta) return;
    assert_int_equal(a->meta->fields, b->meta->fields);
    assert_memory_equal(&a->meta->confidence, &b->meta->confidence,
                        sizeof(double));
    same_str(a->meta->source, b->meta->source);
    same_str(a->meta->context_json, b->meta->context_json);
    assert_int_equal(a->meta->n_tags, b->meta->n_tags);
    for (uint32_t k = 0; k < a->meta->n_tags; k++)
        assert_string_equal(a->meta->tags[k], b->meta->tags[k]);
    assert_int_equal(a->meta->created_us, b->meta->created_us);
    assert_int_equal(a->meta->updated_us, b->meta->updated_us);
}

static void roundtrip(const hk_svc_add *op)
{
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(hk_svc_fact_add_apply);
    assert_true(hk_svc_cmd_packable(cmd));
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    assert_int_equal(hk_buf_append(&b, "pre", 3), HK_OK);
    assert_int_equal(hk_svc_cmd_pack(cmd, op, &b, &err), HK_OK);
    size_t pre = 3; /* bytes before the form, kept */
    assert_memory_equal(b.data, "pre", pre);
    void *arg = NULL;
    assert_int_equal(
        hk_svc_cmd_unpack(cmd, b.data + pre, b.len - pre, NULL, &arg, &err),
        HK_OK);
    same_add(op, arg);
    cmd->release(arg);
    hk_buf_free(&b);
}

static void test_pack_roundtrip(void **state)
{
    (void)state;
    hk_statement st[3] = {stmt("Likes", 2, "alice", "bob"),
                          stmt("Is", 1, "x y \"z\"", NULL),
                          stmt("P", 2, "", "\xc3\xa9t\xc3\xa9")};
    hk_svc_add op = {.st = st, .n = 3};
    roundtrip(&op);
    hk_fact_meta m = {.fields = 0x7f,
                      .confidence = 0.1,
                      .source = "wiki",
                      .n_tags = 2,
                      .tags = tags2,
                      .context_json = "{\"k\":1}",
                      .created_us = 1700000000000001,
                      .updated_us = 1700000000000002};
    op.meta = &m;
    roundtrip(&op);
    m.source = NULL; /* absent optional strings, no tags */
    m.context_json = NULL;
    m.n_tags = 0;
    m.confidence = -0.0;
    op.n = 1;
    roundtrip(&op);
}

/* The binary form of a request with metadata (caller frees). */
static hk_buf packed(void)
{
    static hk_statement st[1];
    st[0] = stmt("Likes", 2, "alice", "bob");
    hk_fact_meta m = {.fields = 3,
                      .confidence = 0.5,
                      .source = "s",
                      .n_tags = 2,
                      .tags = tags2,
                      .context_json = NULL};
    hk_svc_add op = {.st = st, .n = 1, .meta = &m};
    hk_buf b = HK_BUF_INIT;
    hk_error err;
    assert_int_equal(hk_svc_cmd_pack(hk_svc_cmd_by_apply(hk_svc_fact_add_apply),
                                     &op, &b, &err),
                     HK_OK);
    return b;
}

static void refused(const void *p, size_t len)
{
    const hk_svc_cmd *cmd = hk_svc_cmd_by_apply(hk_svc_fact_add_apply);
    void *arg = (void *)1;
    hk_error err;
    /* a copy of exactly len bytes, so that ASan sees any read past it */
    uint8_t *c = len ? hk_malloc(len) : NULL;
    if (len) memcpy(c, p, len);
    assert_int_equal(hk_svc_cmd_unpack(cmd, c, len, NULL, &arg, &err),
                     HK_ERR_INVALID);
    assert_ptr_equal(arg, (void *)1);
    hk_free(c);
}

static void test_unpack_refuses_damage(void **state)
{
    (void)state;
    hk_buf b = packed();
    for (size_t n = 0; n < b.len; n++) /* every cut-short prefix */
        refused(b.data, n);
    uint8_t *x = hk_malloc(b.len + 1);
    memcpy(x, b.data, b.len);
    x[b.len] = 0; /* a trailing byte */
    refused(x, b.len + 1);
    memcpy(x, b.data, b.len);
    x[0] = 2; /* version */
    refused(x, b.len);
    memcpy(x, b.data, b.len);
    x[1] = 0; /* no facts */
    refused(x, b.len);
    memcpy(x, b.data, b.len);
    x[1] = 0xff, x[2] = 0xff; /* more facts than the bytes can hold */
    refused(x, b.len);
    memcpy(x, b.data, b.len);
    x[9 + 5 - 4] = 0; /* the predicate's 'L' (after version, n, len) */
    x[5 + 4] = 0;
    refused(x, b.len);
    memcpy(x, b.data, b.len);
    x[5 + 4 + 5] = 0; /* n_args 0 */
    refused(x, b.len);
    memcpy(x, b.data, b.len);
    x[5 + 4 + 5] = HK_MAX_ARGS + 1;
    refused(x, b.len);
    hk_free(x);
    /* commands without a binary form say so */
    void *arg = NULL;
    hk_error err;
    const hk_svc_cmd *del = hk_svc_cmd_by_name("fact.delete");
    assert_false(hk_svc_cmd_packable(del));
    assert_int_equal(hk_svc_cmd_unpack(del, b.data, b.len, NULL, &arg, &err),
                     HK_ERR_UNSUPPORTED);
    assert_int_equal(hk_svc_cmd_pack(del, &arg, &b, &err), HK_ERR_UNSUPPORTED);
    hk_buf_free(&b);
}

/* ==== Replay ==== */

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A record of one entry: u32 1, i64 clock, u32 len, entry. */
static uint8_t *record(const uint8_t *entry, size_t elen, int64_t clock,
                       size_t *len)
{
    *len = 4 + 12 + elen;
    uint8_t *r = hk_malloc(*len);
    le(r, 1, 4);
    le(r + 4, (uint64_t)clock, 8);
    le(r + 12, elen, 4);
    memcpy(r + 16, entry, elen);
    return r;
}

/* The entry of a log written before the binary form: flags 0, actor,
 * "fact.add" and the request as the JSON encoder wrote it. */
static uint8_t *old_entry(size_t *len)
{
    static const char js[] =
        "{\"facts\":[{\"p\":\"Likes\",\"a\":[\"alice\",\"bob\"]}],"
        "\"meta\":{\"f\":7,\"c\":0.5,\"s\":\"s\",\"t\":[\"red\",\"big\"],"
        "\"cu\":0,\"uu\":0}}";
    size_t nj = sizeof js - 1;
    *len = 1 + 2 + 5 + 2 + 8 + 4 + nj;
    uint8_t *e = hk_malloc(*len), *w = e;
    *w++ = 0;
    le(w, 5, 2);
    memcpy(w + 2, "alice", 5);
    w += 7;
    le(w, 8, 2);
    memcpy(w + 2, "fact.add", 8);
    w += 10;
    le(w, nj, 4);
    memcpy(w + 4, js, nj);
    return e;
}

typedef struct outcome {
    char digest[65]; /* data digest after the replay */
    char actor[32];  /* the audit entry's actor */
    int64_t time_us; /* and time */
    double conf;     /* the fact's confidence */
    uint32_t n_tags; /* and its tag count */
    hk_err rc;       /* what the replay returned */
} outcome;

static outcome replay_into_fresh_kb(const uint8_t *rec, size_t len)
{
    outcome o;
    memset(&o, 0, sizeof o);
    char *dir = tu_tmpdir("walrec");
    hk_store *s = tu_open(dir);
    hk_svc_cmd_env env = {.s = s, .vs = NULL};
    hk_txn *t = NULL;
    hk_error err;
    assert_int_equal(hk_txn_begin(s, true, &t, &err), HK_OK);
    o.rc = hk_writer_wal_replay(&env, t, rec, len, &err);
    if (o.rc != HK_OK) {
        hk_txn_abort(t);
        tu_discard(s, dir);
        return o;
    }
    assert_int_equal(hk_txn_commit(t, &err), HK_OK);
    assert_int_equal(hk_txn_begin(s, false, &t, &err), HK_OK);
    hk_verify_report vr;
    assert_int_equal(hk_store_verify_deep(t, &vr, &err), HK_OK);
    assert_true(vr.ok);
    assert_int_equal(vr.facts, 1);
    memcpy(o.digest, vr.digest, sizeof o.digest);
    hk_audit_entry *ae = NULL;
    size_t n = 0;
    assert_int_equal(hk_audit_list(t, 0, 4, &ae, &n, &err), HK_OK);
    assert_int_equal(n, 1);
    snprintf(o.actor, sizeof o.actor, "%s", ae[0].actor);
    o.time_us = ae[0].time_us;
    hk_audit_entries_free(ae, n);
    hk_fact f;
    hk_fact_init(&f);
    assert_int_equal(hk_store_get(t, 1, &f, &err), HK_OK);
    o.conf = f.confidence;
    o.n_tags = f.n_tags;
    assert_string_equal(f.source, "s");
    hk_fact_release(&f);
    hk_txn_abort(t);
    tu_discard(s, dir);
    return o;
}

static void test_old_json_record_replays_as_binary(void **state)
{
    (void)state;
    const int64_t clock = 1764921600123456;
    size_t olen, rlen;
    uint8_t *oe = old_entry(&olen);
    uint8_t *orec = record(oe, olen, clock, &rlen);
    outcome a = replay_into_fresh_kb(orec, rlen);
    assert_int_equal(a.rc, HK_OK);

    hk_statement st[1] = {stmt("Likes", 2, "alice", "bob")};
    hk_fact_meta m = {.fields = 7,
                      .confidence = 0.5,
                      .source = "s",
                      .n_tags = 2,
                      .tags = tags2};
    hk_svc_add op = {.st = st, .n = 1, .meta = &m};
    size_t blen;
    uint8_t *be =
        hk_writer_wal_entry("alice", hk_svc_fact_add_apply, &op, false, &blen);
    assert_non_null(be);
    assert_int_equal(be[0], 2); /* the binary flag */
    assert_true(blen < olen);
    uint8_t *brec = record(be, blen, clock, &rlen);
    outcome b = replay_into_fresh_kb(brec, rlen);
    assert_int_equal(b.rc, HK_OK);

    assert_string_equal(a.digest, b.digest);
    assert_string_equal(a.actor, "alice");
    assert_string_equal(b.actor, "alice");
    assert_int_equal(a.time_us, clock);
    assert_int_equal(b.time_us, clock);
    assert_true(a.conf == 0.5 && b.conf == 0.5);
    assert_int_equal(a.n_tags, 2);
    assert_int_equal(b.n_tags, 2);

    /* unknown flags: a newer log, refused as corrupt */
    be[0] = 4;
    hk_free(brec);
    brec = record(be, blen, clock, &rlen);
    outcome c = replay_into_fresh_kb(brec, rlen);
    assert_int_equal(c.rc, HK_ERR_CORRUPT);
    /* a damaged binary request stops the replay: the form's version byte
     * follows flags, actor and command name and the request's length */
    be[0] = 2;
    be[1 + 2 + 5 + 2 + 8 + 4] = 9;
    hk_free(brec);
    brec = record(be, blen, clock, &rlen);
    outcome d = replay_into_fresh_kb(brec, rlen);
    assert_int_equal(d.rc, HK_ERR_INVALID);
    hk_free(brec);
    hk_free(be);
    hk_free(orec);
    hk_free(oe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_roundtrip),
        cmocka_unit_test(test_unpack_refuses_damage),
        cmocka_unit_test(test_old_json_record_replays_as_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
