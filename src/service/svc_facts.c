/*
 * svc_facts.c — the fact operations every interface offers: add (MERGE),
 * batch add, get and "ID|STATEMENT" resolution, update of content and
 * metadata, delete (one or several, all or none) and history.
 *
 * Write operations are apply steps: they run inside the caller's write
 * transaction (the server's group-commit writer thread, or hk_svc_write
 * for the CLI and MCP over stdio), read and check everything before the
 * first mutation where the rules allow it, and rewrite all their results
 * at the start because a group commit may run them again. Read operations
 * take the caller's transaction. No operation keeps state between calls;
 * the caller owns every request and result struct.
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "service/service.h"

/* ==== Shared ==== */

/* "no fact P(a)" for a statement that is not in the store. */
static hk_err no_fact_statement(const hk_statement *st, hk_error *err)
{
    hk_buf b = HK_BUF_INIT;
    hk_err rc = hk_statement_format(st, &b);
    hk_error_set(err, HK_ERR_NOT_FOUND, "no fact %s",
                 rc == HK_OK && b.data != NULL ? b.data : "(statement)");
    hk_buf_free(&b);
    return HK_ERR_NOT_FOUND;
}

static hk_err no_fact_id(hk_fact_id id, hk_error *err)
{
    return hk_error_set(err, HK_ERR_NOT_FOUND, "no fact with id %llu",
                        (unsigned long long)id);
}

/* The id of a fact named by id (checked to exist) or by statement. */
static hk_err find_fact(hk_txn *t, hk_fact_id id, const hk_statement *st,
                        hk_fact_id *out, hk_error *err)
{
    if (id != 0) {
        hk_fact f;
        hk_fact_init(&f);
        hk_err rc = hk_store_get(t, id, &f, err);
        hk_fact_release(&f);
        if (rc == HK_ERR_NOT_FOUND) return no_fact_id(id, err);
        if (rc == HK_OK) *out = id;
        return rc;
    }
    hk_err rc = hk_store_find(t, st, out, err);
    if (rc == HK_ERR_NOT_FOUND) return no_fact_statement(st, err);
    return rc;
}

/* ==== Add ==== */

hk_err hk_svc_fact_add(hk_txn *t, hk_svc_add *op, hk_error *err)
{
    const hk_fact_meta *meta =
        op->meta != NULL && op->meta->fields != 0 ? op->meta : NULL;
    for (size_t i = 0; i < op->n; i++) {
        op->ids[i] = 0;
        op->created[i] = false;
    }
    for (size_t i = 0; i < op->n; i++) {
        hk_err rc = hk_store_add(t, &op->st[i], meta, &op->ids[i],
                                 &op->created[i], err);
        if (rc != HK_OK) return rc;
    }
    return HK_OK;
}

hk_err hk_svc_fact_add_apply(hk_txn *t, void *arg, hk_error *err)
{
    return hk_svc_fact_add(t, arg, err);
}

/* ==== Batch add ==== */

hk_err hk_svc_batch_init(hk_svc_batch *b, size_t n, hk_error *err)
{
    size_t c = n != 0 ? n : 1;
    b->ids = hk_calloc(c, sizeof *b->ids);
    b->state = hk_calloc(c, sizeof *b->state);
    b->errs = NULL;
    b->n_errs = b->cap_errs = 0;
    if (b->ids == NULL || b->state == NULL) {
        hk_svc_batch_free(b);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

void hk_svc_batch_free(hk_svc_batch *b)
{
    hk_free(b->ids);
    hk_free(b->state);
    hk_free(b->errs);
    b->ids = NULL;
    b->state = NULL;
    b->errs = NULL;
    b->n_errs = b->cap_errs = 0;
}

static hk_err batch_fail_item(hk_svc_batch *b, size_t i, hk_svc_fault fault,
                              const hk_error *e)
{
    if (b->n_errs == b->cap_errs) {
        size_t cap = b->cap_errs != 0 ? b->cap_errs * 2 : 16;
        hk_svc_batch_error *ne = hk_realloc(b->errs, cap * sizeof *ne);
        if (ne == NULL) return HK_ERR_NOMEM;
        b->errs = ne;
        b->cap_errs = cap;
    }
    hk_svc_batch_error *be = &b->errs[b->n_errs++];
    be->index = i;
    be->fault = fault;
    be->err = *e;
    be->err.line = i + 1;
    b->state[i] = HK_SVC_ITEM_FAILED;
    return HK_OK;
}

/* Failures of the store itself (not of an item): the transaction is
 * unusable and the whole batch fails. */
static bool fatal_for_batch(hk_err rc)
{
    return rc == HK_ERR_STORE || rc == HK_ERR_FULL || rc == HK_ERR_DISK_FULL ||
           rc == HK_ERR_NOMEM || rc == HK_ERR_IO || rc == HK_ERR_STATE ||
           rc == HK_ERR_CORRUPT;
}

hk_err hk_svc_fact_batch(hk_txn *t, hk_svc_batch *b, hk_error *err)
{
    /* A batch has its transaction to itself: one audit entry covers the
     * facts it creates. */
    hk_err rc = hk_txn_set_bulk(t, b->label != NULL ? b->label : "batch");
    if (rc != HK_OK) return hk_error_set(err, rc, "cannot start bulk mode");
    b->n_errs = 0;
    b->created = b->existing = 0;
    for (size_t i = 0; i < b->n; i++) {
        hk_error e;
        hk_error_clear(&e);
        hk_svc_fault fault = HK_SVC_FAULT_SYNTAX;
        b->ids[i] = 0;
        if (b->bad != NULL && b->bad[i] != NULL) {
            hk_error_set(&e, HK_ERR_INVALID, "%s", b->bad[i]);
            if (batch_fail_item(b, i, fault, &e) != HK_OK)
                return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
            continue;
        }
        hk_svc_fact_in in;
        if (b->next != NULL) {
            hk_svc_fact_in_init(&in);
            rc = b->next(b->next_ctx, i, &in.st, &in.meta, &in.fault, &e);
        } else {
            rc = hk_svc_fact_in_parse(b->items[i], &b->opts, &in, &e);
        }
        fault = in.fault;
        if (rc == HK_OK) {
            bool created = false;
            rc = hk_store_add(t, &in.st, &in.meta, &b->ids[i], &created, &e);
            if (rc == HK_OK) {
                b->state[i] =
                    created ? HK_SVC_ITEM_CREATED : HK_SVC_ITEM_EXISTING;
                if (created)
                    b->created++;
                else
                    b->existing++;
            } else {
                fault = rc == HK_ERR_INVALID ? HK_SVC_FAULT_SYNTAX
                                             : HK_SVC_FAULT_VALUE;
            }
        }
        hk_svc_fact_in_release(&in);
        if (fatal_for_batch(rc)) {
            *err = e;
            return rc;
        }
        if (rc != HK_OK && batch_fail_item(b, i, fault, &e) != HK_OK)
            return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    return HK_OK;
}

const hk_svc_batch_error *hk_svc_batch_item_error(const hk_svc_batch *b,
                                                  size_t i, size_t *cursor)
{
    if (b->state[i] != HK_SVC_ITEM_FAILED) return NULL;
    size_t e = *cursor;
    while (e < b->n_errs && b->errs[e].index < i)
        e++;
    *cursor = e;
    return e < b->n_errs && b->errs[e].index == i ? &b->errs[e] : NULL;
}

/* ==== Get ==== */

hk_err hk_svc_fact_get(hk_txn *t, hk_fact_id id, hk_fact *f, hk_error *err)
{
    hk_err rc = hk_store_get(t, id, f, err);
    if (rc == HK_ERR_NOT_FOUND) return no_fact_id(id, err);
    return rc;
}

hk_err hk_svc_fact_get_json(hk_txn *t, hk_fact_id id, hk_buf *out,
                            hk_error *err)
{
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_svc_fact_get(t, id, &f, err);
    if (rc == HK_OK) rc = hk_fact_write_json(&f, out);
    hk_fact_release(&f);
    return rc;
}

bool hk_svc_parse_positive(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] == '\0') return false;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) { /* stops at the NUL */
        if (*p < '0' || *p > '9') return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v == 0) return false;
    *out = v;
    return true;
}

bool hk_svc_fact_ref_is_id(const char *ref, hk_fact_id *id)
{
    return hk_svc_parse_positive(ref, id);
}

/* Digits that are no valid id (0, or beyond 64 bits) would otherwise reach
 * the statement parser and be reported as a bad predicate. */
hk_err hk_svc_fact_ref_check(const char *ref, hk_error *err)
{
    size_t digits = strspn(ref, "0123456789");
    if (digits == 0 || ref[digits] != '\0') return HK_OK;
    if (strspn(ref, "0") == digits)
        return hk_error_set(err, HK_ERR_NOT_FOUND,
                            "no fact with id 0 (ids start at 1)");
    uint64_t v;
    if (hk_svc_parse_positive(ref, &v)) return HK_OK;
    return hk_error_set(err, HK_ERR_INVALID,
                        "fact id %.40s%s is out of range (at most "
                        "18446744073709551615)",
                        ref, digits > 40 ? "..." : "");
}

hk_err hk_svc_fact_resolve(hk_txn *t, const char *ref, hk_fact_id *id,
                           hk_error *err)
{
    hk_fact_id n;
    if (hk_svc_fact_ref_is_id(ref, &n)) return find_fact(t, n, NULL, id, err);
    hk_err rc = hk_svc_fact_ref_check(ref, err);
    if (rc != HK_OK) return rc;
    hk_statement st;
    rc = hk_statement_parse(ref, strlen(ref), &st, err);
    if (rc != HK_OK) {
        if (err != NULL && err->field[0] == '\0')
            snprintf(err->field, sizeof err->field, "statement");
        return rc;
    }
    rc = find_fact(t, 0, &st, id, err);
    hk_statement_release(&st);
    return rc;
}

/* ==== Update ==== */

hk_err hk_svc_fact_update(hk_txn *t, hk_svc_update *op, hk_error *err)
{
    op->found = op->other = 0;
    op->changed = false;
    hk_err rc = find_fact(t, op->id, op->old_st, &op->found, err);
    if (rc == HK_OK && op->before != NULL)
        rc = hk_store_get(t, op->found, op->before, err);
    if (rc != HK_OK) return rc;
    /* Every input check comes before the first write, so that a refused
     * change leaves the transaction as it was (the group-commit writer
     * commits its neighbours): the content is checked and its conflict
     * looked up first, then the metadata (hk_store_set_meta validates
     * before it writes), then the content is written. */
    bool new_content = false;
    if (op->new_st != NULL) {
        hk_fact_id other = 0;
        rc = hk_statement_validate(op->new_st, err);
        if (rc == HK_OK) rc = hk_store_find(t, op->new_st, &other, err);
        if (rc == HK_OK && other != op->found) {
            op->other = other;
            return hk_error_set(err, HK_ERR_EXISTS,
                                "the statement is already fact %llu",
                                (unsigned long long)other);
        }
        new_content = rc == HK_ERR_NOT_FOUND;
        if (new_content) rc = HK_OK;
        if (rc != HK_OK) return rc;
    }
    if (op->meta != NULL && op->meta->fields != 0)
        rc = hk_store_set_meta(t, op->found, op->meta, err);
    if (rc == HK_OK && new_content) {
        rc = hk_store_update(t, op->found, op->new_st, &op->other, err);
        op->changed = rc == HK_OK;
    }
    if (rc == HK_OK && op->after != NULL)
        rc = hk_store_get(t, op->found, op->after, err);
    return rc;
}

hk_err hk_svc_fact_update_apply(hk_txn *t, void *arg, hk_error *err)
{
    return hk_svc_fact_update(t, arg, err);
}

hk_err hk_svc_fact_meta_check(const hk_svc_fact_in *in, hk_svc_fault *fault,
                              hk_error *err)
{
    if (in->has_statement) {
        *fault = HK_SVC_FAULT_VALUE;
        hk_error_set(err, HK_ERR_INVALID,
                     "PATCH changes metadata only (confidence, source, tags, "
                     "context); use PUT to replace the statement");
        snprintf(err->field, sizeof err->field, "statement");
        return HK_ERR_INVALID;
    }
    if (in->meta.fields == 0) {
        *fault = HK_SVC_FAULT_VALUE;
        return hk_error_set(err, HK_ERR_INVALID,
                            "nothing to change: give confidence, source, tags "
                            "or context");
    }
    return HK_OK;
}

/* ==== Delete ==== */

hk_err hk_svc_fact_delete(hk_txn *t, hk_svc_delete *op, hk_error *err)
{
    op->deleted = op->dup_first = op->dup_second = op->missing = 0;
    /* Resolve every name first (in order), so that a missing fact or one
     * named twice is reported before anything changes. ids[] is in/out:
     * names by statement are remembered as id 0 in a first pass. */
    for (size_t i = 0; i < op->n; i++) {
        hk_fact_id want = op->ids[i], id = 0;
        if (op->dup != NULL) op->dup[i] = false;
        hk_err rc = find_fact(t, want, want != 0 ? NULL : &op->st[i], &id, err);
        if (rc == HK_ERR_NOT_FOUND && op->missing_ok) {
            op->ids[i] = 0;
            continue;
        }
        if (rc == HK_ERR_NOT_FOUND) op->missing = i;
        if (rc != HK_OK) return rc;
        op->ids[i] = id;
        for (size_t k = 0; k < i; k++) {
            if (op->ids[k] != id) continue;
            if (!op->dup_ok) {
                op->dup_first = k;
                op->dup_second = i;
                return hk_error_set(err, HK_ERR_INVALID,
                                    "fact %llu is named twice",
                                    (unsigned long long)id);
            }
            op->ids[i] = 0; /* deleted once, under its first name */
            if (op->dup != NULL) op->dup[i] = true;
            break;
        }
        if (op->ids[i] != 0 && op->facts != NULL) {
            rc = hk_store_get(t, id, &op->facts[i], err);
            if (rc != HK_OK) return rc;
        }
    }
    for (size_t i = 0; i < op->n; i++) {
        if (op->ids[i] == 0) continue;
        hk_err rc = hk_store_delete(t, op->ids[i], err);
        if (rc != HK_OK) return rc;
        op->deleted++;
    }
    return HK_OK;
}

hk_err hk_svc_fact_delete_apply(hk_txn *t, void *arg, hk_error *err)
{
    return hk_svc_fact_delete(t, arg, err);
}

/* ==== History ==== */

/* True when an audit entry's before or after holds the canonical
 * statement canon. */
static bool entry_mentions(const hk_audit_entry *a, const char *canon)
{
    const char *sides[2] = {a->before, a->after};
    for (int i = 0; i < 2; i++) {
        if (sides[i] == NULL) continue;
        json_t *j = json_loads(sides[i], 0, NULL);
        const char *s = json_string_value(json_object_get(j, "statement"));
        bool hit = s != NULL && strcmp(s, canon) == 0;
        json_decref(j);
        if (hit) return true;
    }
    return false;
}

/* Fills op->next_before and op->known for a page of a live fact's
 * entries: a probe of one entry below the page's last tells whether there
 * is a next page, so the last page carries no cursor; an empty page below
 * a cursor probes from the newest to tell an exhausted history from a fact
 * without one. */
static hk_err history_cursor(hk_txn *t, hk_svc_history *op, hk_error *err)
{
    hk_audit_entry *v = NULL;
    size_t n = 0;
    op->known = op->n > 0;
    if (op->n == 0 && op->before_seq == 0) return HK_OK;
    size_t page =
        op->limit < HK_AUDIT_HISTORY_MAX ? op->limit : HK_AUDIT_HISTORY_MAX;
    if (op->n != 0 && op->n < page) return HK_OK;
    uint64_t probe = op->n == 0 ? 0 : op->v[op->n - 1].seq;
    hk_err rc = hk_audit_history(t, op->found, probe, 1, &v, &n, err);
    if (rc != HK_OK) return rc;
    if (op->n == 0)
        op->known = n > 0;
    else if (n > 0)
        op->next_before = probe;
    hk_audit_entries_free(v, n);
    return HK_OK;
}

static hk_err live_history(hk_txn *t, hk_svc_history *op, hk_error *err)
{
    hk_err rc = hk_audit_history(t, op->found, op->before_seq, op->limit,
                                 &op->v, &op->n, err);
    if (rc == HK_OK) rc = history_cursor(t, op, err);
    if (rc != HK_OK) {
        hk_audit_entries_free(op->v, op->n);
        op->v = NULL;
        op->n = 0;
    }
    return rc;
}

hk_err hk_svc_fact_history(hk_txn *t, hk_svc_history *op, hk_error *err)
{
    op->found = 0;
    op->v = NULL;
    op->n = 0;
    op->next_before = 0;
    op->known = false;
    if (op->id != 0) {
        op->found = op->id;
        return live_history(t, op, err);
    }
    hk_err rc = hk_store_find(t, op->st, &op->found, NULL);
    if (rc == HK_OK) return live_history(t, op, err);
    /* Deleted (or never present): search the scan window below
     * before_seq. One match beyond a full page makes the cursor. */
    op->found = 0;
    hk_buf canon = HK_BUF_INIT;
    hk_audit_entry *v = NULL;
    size_t n = 0;
    rc = hk_statement_format(op->st, &canon);
    if (rc != HK_OK) {
        hk_error_set(err, rc, "out of memory");
        goto done;
    }
    rc = hk_audit_list(t, op->before_seq, HK_SVC_HISTORY_SCAN, &v, &n, err);
    if (rc != HK_OK) goto done;
    /* Move the matching entries (newest first) into an array of their
     * own; the moved-from slots are left empty for the free below. */
    size_t cap = n < op->limit ? n : op->limit;
    hk_audit_entry *keep = hk_calloc(cap != 0 ? cap : 1, sizeof *keep);
    if (keep == NULL) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t kept = 0, i = 0;
    for (; i < n && kept < cap; i++) {
        if (!entry_mentions(&v[i], canon.data)) continue;
        keep[kept++] = v[i];
        memset(&v[i], 0, sizeof v[i]);
    }
    for (; i < n && kept == op->limit && kept > 0; i++)
        if (entry_mentions(&v[i], canon.data)) {
            op->next_before = keep[kept - 1].seq;
            break;
        }
    op->v = keep;
    op->n = kept;
    op->known = kept > 0;
done:
    hk_buf_free(&canon);
    if (v != NULL) hk_audit_entries_free(v, n);
    return rc;
}
