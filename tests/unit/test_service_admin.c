/*
 * test_service_admin.c — the service's audit, health, backup, restore and
 * project hub operations on scratch KBs: audit pages walk the whole log
 * exactly once; verification names the first bad entry (and hands it out
 * when it can still be read); health reports each check; backups land
 * where each naming mode says and restore installs exactly them; the hub
 * lists, digests and cuts its snapshots as documented.
 */
#include "core/buf.h"
#include "core/utf8.h"
#include "test_store_util.h"

#include <lmdb.h>

#include "service/service.h"

/* A KB at a fresh directory with n facts Fact(i), one audit entry each. */
static hk_store *make_kb(const char *dir, int n)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, true);
    char a[16];
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "F%d", i);
        bool created;
        tu_add(t, tu_st("Fact", a, NULL), &created);
    }
    tu_commit(t);
    return s;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ==== Audit ==== */

static void test_audit_pages(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("svca");
    hk_store *s = make_kb(dir, 10);
    hk_txn *t = tu_begin(s, false);
    for (size_t page = 1; page <= 11; page += 2) {
        hk_svc_audit_list_req req = {0, page};
        uint64_t expect = 10; /* newest first: seq 10 .. 1 */
        for (int guard = 0; guard < 20; guard++) {
            hk_svc_audit_list_res res;
            hk_error err;
            assert_int_equal(hk_svc_audit_list(t, &req, &res, &err), HK_OK);
            assert_true(res.n <= page);
            for (size_t i = 0; i < res.n; i++)
                assert_int_equal(res.v[i].seq, expect--);
            if (res.next_before) {
                assert_int_equal(res.n, page);
                assert_int_equal(res.next_before, res.v[res.n - 1].seq);
            }
            uint64_t next = res.next_before;
            hk_svc_audit_list_res_free(&res);
            if (!next) break;
            req.before_seq = next;
        }
        assert_int_equal(expect, 0); /* every entry exactly once */
    }
    hk_svc_audit_verify_res vr;
    hk_error err;
    assert_int_equal(hk_svc_audit_verify(t, &vr, &err), HK_OK);
    assert_true(vr.report.ok);
    assert_int_equal(vr.report.checked, 10);
    assert_null(vr.bad);
    hk_svc_audit_verify_res_free(&vr);
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

/* Flips a byte of entry 3 (edit) or deletes entry 2, bypassing the store. */
static void tamper(const char *dir, bool edit)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    txn = tu_raw_begin(dir, &env);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    uint8_t kb[8] = {0, 0, 0, 0, 0, 0, 0, edit ? 3 : 2};
    MDB_val k = {8, kb}, d;
    if (edit) {
        assert_int_equal(mdb_get(txn, dbi, &k, &d), 0);
        uint8_t *v = malloc(d.mv_size);
        memcpy(v, d.mv_data, d.mv_size);
        v[d.mv_size - 64 - 10] ^= 0x01;
        MDB_val nd = {d.mv_size, v};
        assert_int_equal(mdb_put(txn, dbi, &k, &nd, 0), 0);
        free(v);
    } else {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    }
    tu_raw_commit(env, txn);
}

static void test_audit_verify_tampered(void **state)
{
    (void)state;
    for (int edit = 0; edit < 2; edit++) {
        char *dir = tu_tmpdir("svcv");
        hk_store_close(make_kb(dir, 6));
        tamper(dir, edit);
        hk_store *s = tu_open(dir);
        hk_txn *t = tu_begin(s, false);
        hk_svc_audit_verify_res vr;
        hk_error err;
        assert_int_equal(hk_svc_audit_verify(t, &vr, &err), HK_OK);
        assert_false(vr.report.ok);
        assert_int_equal(vr.report.first_bad, edit ? 3 : 2);
        if (edit) { /* the edited entry is still there */
            assert_non_null(vr.bad);
            assert_int_equal(vr.n_bad, 1);
            assert_int_equal(vr.bad->seq, 3);
        } else { /* the deleted one is not */
            assert_null(vr.bad);
        }
        hk_svc_audit_verify_res_free(&vr);
        /* health sees the same */
        hk_svc_health_req hr = {dir, NULL, NULL, NULL};
        hk_svc_health_res h;
        hk_svc_health(t, &hr, &h);
        assert_true(h.store_ok);
        assert_true(h.audit_checked);
        assert_false(h.audit_ok);
        assert_int_equal(h.audit.first_bad, edit ? 3 : 2);
        assert_true(h.ready);
        assert_false(h.all_ok);
        hk_txn_abort(t);
        hk_store_close(s);
        tu_rmrf(dir);
        free(dir);
    }
}

/* ==== Health ==== */

typedef struct steps {
    int n;        /* progress calls */
    double last;  /* last done value */
    double total; /* total passed */
} steps;

static void count_step(void *ud, double done, double total, const char *msg)
{
    steps *st = ud;
    assert_non_null(msg);
    assert_true(done > st->last || st->n == 0);
    st->n++;
    st->last = done;
    st->total = total;
}

static void test_health(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("svch");
    hk_store *s = make_kb(dir, 4);
    hk_txn *t = tu_begin(s, false);
    steps st;
    memset(&st, 0, sizeof st);
    hk_svc_health_req req = {dir, NULL, count_step, &st};
    hk_svc_health_res h;
    hk_svc_health(t, &req, &h);
    hk_txn_abort(t);
    assert_true(h.store_ok);
    assert_int_equal(h.stats.facts, 4);
    assert_string_equal(h.store_message, "read snapshot opened");
    assert_true(h.audit_checked && h.audit_ok);
    assert_int_equal(h.audit.checked, 4);
    assert_string_equal(h.audit_message, "hash chain intact");
    assert_true(h.disk_known);
    assert_true(h.disk_total >= h.disk_free);
    assert_true(h.map_ok);
    assert_true(h.map_fraction > 0 && h.map_fraction < 1);
    assert_true(h.ready);
    assert_int_equal(h.all_ok, h.disk_ok);
    assert_int_equal(st.n, 3);
    assert_true(st.last == 3 && st.total == 3);
    /* no transaction: the store check fails with the caller's reason */
    req.txn_error = "cannot begin: reader table full";
    req.progress = NULL;
    req.store_path = "/nonexistent/kb/dir";
    hk_svc_health(NULL, &req, &h);
    assert_false(h.store_ok);
    assert_string_equal(h.store_message, req.txn_error);
    assert_false(h.audit_checked);
    assert_false(h.disk_known);
    assert_true(strlen(h.disk_message) > 0);
    assert_false(h.ready);
    assert_false(h.all_ok);
    assert_int_equal(h.stats.facts, 0);
    hk_store_close(s);
    tu_rmrf(dir);
    free(dir);
}

/* ==== Backup and restore ==== */

static void test_backup_ids(void **state)
{
    (void)state;
    assert_true(hk_svc_backup_id_valid("kb-20261126T101500Z-3fa9c1"));
    assert_true(hk_svc_backup_id_valid("a.b_c"));
    static const char *const bad[] = {"",        ".",   "..",  "../etc",
                                      ".hidden", "a/b", "a b", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(hk_svc_backup_id_valid(bad[i]));
        char *p = (char *)1;
        hk_error err;
        assert_int_equal(hk_svc_backup_path("/b", bad[i], &p, &err),
                         HK_ERR_INVALID);
        assert_null(p);
        assert_string_equal(err.field, "backup_id");
    }
    char long_id[130];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_false(hk_svc_backup_id_valid(long_id));
    char *p = NULL;
    hk_error err;
    assert_int_equal(hk_svc_backup_path("/b", "kb-1", &p, &err), HK_OK);
    assert_string_equal(p, "/b/kb-1");
    hk_free(p);
}

static uint64_t facts_in(const char *dir)
{
    hk_store *s = tu_open(dir);
    hk_txn *t = tu_begin(s, false);
    hk_stats st;
    hk_error err;
    assert_int_equal(hk_svc_stats(t, &st, &err), HK_OK);
    hk_txn_abort(t);
    hk_store_close(s);
    return st.facts;
}

static void test_backup_modes_and_restore(void **state)
{
    (void)state;
    char *root = tu_tmpdir("svcb");
    char kb[600], dest[600], base[600], target[600], bad[700];
    char desc[sizeof(((hk_svc_backup_res *)0)->path) + 32];
    snprintf(kb, sizeof kb, "%s/kb", root);
    snprintf(dest, sizeof dest, "%s/explicit", root);
    snprintf(base, sizeof base, "%s/backups", root);
    snprintf(target, sizeof target, "%s/restored", root);
    hk_store *s = make_kb(kb, 7);
    hk_svc_backup_res res;
    hk_error err;

    /* an explicit directory */
    hk_svc_backup_req req = {dest, NULL, NULL, NULL};
    assert_int_equal(hk_svc_backup(s, &req, &res, &err), HK_OK);
    assert_string_equal(res.path, dest);
    assert_string_equal(res.id, "");
    assert_int_equal(strlen(res.sha256), 64);
    assert_int_equal(strlen(res.created), 27);
    assert_true(res.seconds >= 0);
    char sha[65];
    assert_int_equal(hk_backup_verify(dest, sha, &err), HK_OK);
    assert_string_equal(sha, res.sha256);
    /* the same directory again: it is not empty any more */
    assert_int_not_equal(hk_svc_backup(s, &req, &res, &err), HK_OK);

    /* a new id inside a backup directory, with a description */
    hk_svc_backup_req req2 = {NULL, base, NULL, "before the big import"};
    assert_int_equal(hk_svc_backup(s, &req2, &res, &err), HK_OK);
    assert_int_equal(strncmp(res.id, "kb-", 3), 0);
    assert_int_equal(strlen(res.id), strlen("kb-20261126T101500Z-3fa9c1"));
    assert_true(hk_svc_backup_id_valid(res.id));
    char *p = NULL;
    assert_int_equal(hk_svc_backup_path(base, res.id, &p, &err), HK_OK);
    assert_string_equal(p, res.path);
    hk_free(p);
    snprintf(desc, sizeof desc, "%s/DESCRIPTION.txt", res.path);
    FILE *f = fopen(desc, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "before the big import");

    /* beside the KB */
    hk_svc_backup_req req3 = {NULL, NULL, kb, NULL};
    assert_int_equal(hk_svc_backup(s, &req3, &res, &err), HK_OK);
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%s-backup-", kb);
    assert_int_equal(strncmp(res.path, prefix, strlen(prefix)), 0);
    assert_true(file_exists(res.path));

    /* nothing named */
    hk_svc_backup_req none = {NULL, NULL, NULL, NULL};
    assert_int_equal(hk_svc_backup(s, &none, &res, &err), HK_ERR_INVALID);
    hk_svc_backup_req empty = {"", NULL, NULL, NULL};
    assert_int_equal(hk_svc_backup(s, &empty, &res, &err), HK_ERR_INVALID);

    /* more facts after the backup: the restore must not have them */
    hk_txn *t = tu_begin(s, true);
    bool created;
    tu_add(t, tu_st("Later", "X", NULL), &created);
    tu_commit(t);
    hk_store_close(s);

    /* verify only, then restore into a new directory */
    char got[65] = "";
    hk_svc_restore_req rr = {dest, target, false, true};
    assert_int_equal(hk_svc_restore(&rr, got, &err), HK_OK);
    assert_string_equal(got, sha);
    assert_false(file_exists(target));
    rr.verify_only = false;
    assert_int_equal(hk_svc_restore(&rr, got, &err), HK_OK);
    assert_int_equal(facts_in(target), 7);
    /* again without force: the KB exists */
    assert_int_equal(hk_svc_restore(&rr, got, &err), HK_ERR_EXISTS);
    rr.force = true;
    rr.data_dir = kb;
    assert_int_equal(hk_svc_restore(&rr, got, &err), HK_OK);
    assert_int_equal(facts_in(kb), 7);

    /* a damaged or missing backup is named in the answer */
    snprintf(bad, sizeof bad, "%s/data.mdb", dest);
    f = fopen(bad, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    rr.data_dir = target;
    hk_err rc = hk_svc_restore(&rr, got, &err);
    assert_int_not_equal(rc, HK_OK);
    assert_int_equal(err.code, rc);
    assert_non_null(strstr(err.message, "cannot be restored"));
    assert_non_null(strstr(err.message, dest));
    assert_int_equal(facts_in(target), 7); /* unchanged */
    snprintf(bad, sizeof bad, "%s/nope", root);
    rr.backup_dir = bad;
    assert_int_not_equal(hk_svc_restore(&rr, got, &err), HK_OK);
    assert_non_null(strstr(err.message, "cannot be restored"));
    tu_rmrf(root);
    free(root);
}

/* ==== Project hub ==== */

static void test_hub(void **state)
{
    (void)state;
    char *root = tu_tmpdir("svchub");
    char kb[600], hub[600], path[1200];
    snprintf(kb, sizeof kb, "%s/kb", root);
    snprintf(hub, sizeof hub, "%s/hub", root);
    hk_store *s = make_kb(kb, 25);
    hk_error err;
    json_t *list = NULL;
    /* no hub yet */
    assert_int_equal(hk_svc_hub_list(hub, 10, &list, &err), HK_ERR_NOT_FOUND);
    hk_svc_hub_snapshot_res res;
    const char *titles[2] = {"First", "Second"};
    for (int i = 0; i < 2; i++) {
        hk_svc_hub_snapshot_req req = {hub, titles[i], "notes ü", kb};
        hk_txn *t = tu_begin(s, false);
        assert_int_equal(hk_svc_hub_snapshot(t, &req, &res, &err), HK_OK);
        hk_txn_abort(t);
        assert_int_equal(res.facts, 25);
        assert_true(file_exists(res.file));
    }
    /* the snapshot file: 20 newest facts, newest first */
    json_t *snap = json_load_file(res.file, 0, NULL);
    assert_non_null(snap);
    json_t *rf = json_object_get(snap, "recent_facts");
    assert_int_equal(json_array_size(rf), 20);
    assert_string_equal(json_string_value(json_array_get(rf, 0)), "Fact(F24)");
    assert_int_equal(json_array_size(json_object_get(snap, "recent_changes")),
                     20);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(snap, "kb"), "facts")),
                     25);
    json_decref(snap);
    /* something that is no snapshot is ignored */
    snprintf(path, sizeof path, "%s/notes.txt", hub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
    /* listing: newest first, limited */
    assert_int_equal(hk_svc_hub_list(hub, 10, &list, &err), HK_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 0), "title")),
        "Second");
    assert_true(json_integer_value(
                    json_object_get(json_array_get(list, 0), "bytes")) > 0);
    json_decref(list);
    assert_int_equal(hk_svc_hub_list(hub, 1, &list, &err), HK_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    /* digest */
    hk_svc_hub_digest_res d;
    assert_int_equal(hk_svc_hub_digest(hub, 3, 100000, &d, &err), HK_OK);
    assert_int_equal(json_array_size(d.files), 2);
    assert_false(d.truncated);
    assert_non_null(strstr(d.digest.data, "## Second ("));
    assert_non_null(strstr(d.digest.data, "## First ("));
    assert_true(strstr(d.digest.data, "## Second") <
                strstr(d.digest.data, "## First"));
    assert_non_null(strstr(d.digest.data, "KB: 25 facts, 1 predicates"));
    assert_non_null(strstr(d.digest.data, "Recent facts:\n- Fact(F24)\n"));
    assert_non_null(strstr(d.digest.data, "Recent changes:\n"));
    hk_svc_hub_digest_res_free(&d);
    /* the cut counts characters: "## Second (" then the time ... cut in
     * "notes ü" lands on a character boundary */
    for (size_t cut = 0; cut < 80; cut++) {
        assert_int_equal(hk_svc_hub_digest(hub, 1, cut, &d, &err), HK_OK);
        assert_true(d.truncated);
        assert_true(hk_utf8_valid(d.digest.data ? d.digest.data : "",
                                  d.digest.len, NULL));
        size_t chars = 0;
        for (size_t i = 0; i < d.digest.len; i++)
            chars += ((unsigned char)d.digest.data[i] & 0xC0) != 0x80;
        assert_int_equal(chars, cut);
        hk_svc_hub_digest_res_free(&d);
    }
    /* a hub path that is a file */
    hk_svc_hub_snapshot_req req = {path, "x", "", kb};
    hk_txn *t = tu_begin(s, false);
    assert_int_equal(hk_svc_hub_snapshot(t, &req, &res, &err), HK_ERR_INVALID);
    hk_txn_abort(t);
    hk_store_close(s);
    tu_rmrf(root);
    free(root);
}

/* ==== Import, export, compaction ==== */

static void test_import_export(void **state)
{
    (void)state;
    char *root = tu_tmpdir("svcio");
    char kb[600], in[700], rej[700], out[700], bad[700];
    snprintf(kb, sizeof kb, "%s/kb", root);
    snprintf(in, sizeof in, "%s/in.txt", root);
    snprintf(rej, sizeof rej, "%s/in.rejects", root);
    snprintf(out, sizeof out, "%s/out.jsonl", root);
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.txt", root);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("A(x)\nB(y, z)\nnot a statement\nA(x)\n", f);
    fclose(f);
    hk_store *s = tu_open(kb);
    hk_import_options io;
    memset(&io, 0, sizeof io);
    io.rejects_path = rej;
    hk_import_summary sum;
    hk_error err;
    assert_int_equal(hk_svc_import(s, in, &io, &sum, &err), HK_OK);
    assert_int_equal(sum.read, 4);
    assert_int_equal(sum.added, 2);
    assert_int_equal(sum.present, 1);
    assert_int_equal(sum.rejected, 1);
    hk_err rc = hk_svc_import(s, bad, &io, &sum, &err);
    assert_int_not_equal(rc, HK_OK);
    assert_true(hk_svc_import_error_is_input(rc));
    assert_false(hk_svc_import_error_is_input(HK_ERR_STORE));
    assert_false(hk_svc_import_error_is_input(HK_ERR_FULL));

    /* to a file: complete, with the byte count */
    hk_svc_export_req req = {HK_FORMAT_JSONL, NULL, out, NULL, NULL, NULL, 0};
    hk_svc_export_res res;
    assert_int_equal(hk_svc_export(s, &req, &res, &err), HK_OK);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(res.bytes, (uint64_t)sb.st_size);
    f = fopen(out, "r");
    assert_non_null(f);
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof line, f) != NULL && lines < 100) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 2);
    /* to a stream */
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *ms = open_memstream(&mem, &mem_len);
    assert_non_null(ms);
    hk_svc_export_req sreq = {
        HK_FORMAT_STATEMENTS, ms, NULL, NULL, NULL, NULL, 0};
    assert_int_equal(hk_svc_export(s, &sreq, &res, &err), HK_OK);
    fclose(ms);
    assert_string_equal(mem, "A(x)\nB(y, z)\n");
    assert_int_equal(res.bytes, 0);
    free(mem);
    /* refused: a format export does not write, an unwritable target */
    hk_svc_export_req breq = {HK_FORMAT_SQLITE, NULL, out, NULL, NULL, NULL, 0};
    assert_int_equal(hk_svc_export(s, &breq, &res, &err), HK_ERR_INVALID);
    assert_string_equal(err.field, "format");
    hk_svc_export_req ureq = {HK_FORMAT_TSV, NULL, bad, NULL, NULL, NULL, 0};
    assert_int_equal(hk_svc_export(s, &ureq, &res, &err), HK_ERR_IO);
    assert_non_null(strstr(err.message, "cannot create"));
    assert_false(file_exists(bad));
    hk_svc_export_req nreq = {HK_FORMAT_TSV, NULL, NULL, NULL, NULL, NULL, 0};
    assert_int_equal(hk_svc_export(s, &nreq, &res, &err), HK_ERR_INVALID);

    /* compaction: refused while open, then done */
    hk_compact_report r;
    assert_int_equal(hk_svc_compact(kb, &r, &err), HK_ERR_BUSY);
    hk_store_close(s);
    assert_int_equal(hk_svc_compact(kb, &r, &err), HK_OK);
    assert_int_equal(r.facts, 2);
    assert_true(r.bytes_after > 0);
    hk_buf b = HK_BUF_INIT;
    assert_int_equal(hk_buf_append(&b, "{", 1), HK_OK);
    assert_int_equal(hk_svc_compact_report_write_members(&r, &b), HK_OK);
    assert_int_equal(hk_buf_append(&b, "}", 1), HK_OK);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "facts")), 2);
    assert_int_equal(json_object_size(j), 5);
    json_decref(j);
    hk_buf_free(&b);
    assert_int_equal(facts_in(kb), 2);
    tu_rmrf(root);
    free(root);
}

static void test_compact_policy(void **state)
{
    (void)state;
    hk_stats small, big;
    memset(&small, 0, sizeof small);
    memset(&big, 0, sizeof big);
    small.bytes_on_disk = 1 << 20;
    small.bytes_free = 1 << 19;
    big.bytes_on_disk = 400ull << 20;
    big.bytes_free = 200ull << 20;
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_NEVER, &big),
                     HK_SVC_COMPACT_SKIP_NEVER);
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_ALWAYS, NULL),
                     HK_SVC_COMPACT_RUN);
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_ALWAYS, &small),
                     HK_SVC_COMPACT_RUN);
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_AUTO, NULL),
                     HK_SVC_COMPACT_SKIP_NO_STATS);
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_AUTO, &small),
                     HK_SVC_COMPACT_SKIP_SMALL);
    assert_int_equal(hk_svc_compact_policy(HK_SVC_COMPACT_AUTO, &big),
                     HK_SVC_COMPACT_RUN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_pages),
        cmocka_unit_test(test_audit_verify_tampered),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_backup_ids),
        cmocka_unit_test(test_backup_modes_and_restore),
        cmocka_unit_test(test_hub),
        cmocka_unit_test(test_import_export),
        cmocka_unit_test(test_compact_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
