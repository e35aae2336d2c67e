/*
 * rules_hook.c — keeping the derived facts current (see rules.h,
 * "Maintenance").
 *
 * A change hook runs inside the write transaction of every change to the
 * asserted facts. When the KB holds enabled rules and the changed fact's
 * predicate is one the rules read or derive (or the change is a bulk
 * import), it recomputes the materialization in that same transaction.
 * So the derived facts commit atomically with the change that caused
 * them: a crash at any point leaves a KB whose derived facts match its
 * asserted facts and rules, with nothing to repair at reopening. A single
 * fact's change is maintained incrementally (delete-and-rederive,
 * hkr_materialize_change); declarations and bulk imports recompute.
 *
 * The predicates the rules mention (stored rules and the rules compiled
 * from ontology declarations) are cached per handle and reloaded when the
 * rule generation (rules.meta "gen") moves or a declaration changes, so a
 * change to a predicate no rule mentions costs one small read.
 *
 * Which handle has which module: a small table guarded by a mutex, since
 * the store hands a hook only its own user data and the transaction.
 * Threads: the hook runs on the handle's writer thread; attach and detach
 * follow the registration rules of store.h.
 */
#include <pthread.h>
#include <string.h>

#include "core/mem.h"
#include "reason/rules.h"

#define HOOK_NAME "rules"
#define ATTACHED_MAX 64

typedef struct module {
    hk_store *s;      /* the handle */
    bool have_dbs;    /* d is valid (the KB holds rule databases) */
    hkr_dbs d;        /* its databases */
    bool cached;      /* preds reflect generation gen */
    uint64_t gen;     /* rule generation of the cache */
    bool any_enabled; /* some rule is enabled */
    char **preds;     /* predicates the enabled rules mention */
    size_t n_preds;
} module;

static pthread_mutex_t attached_mu = PTHREAD_MUTEX_INITIALIZER;
static module *attached[ATTACHED_MAX];

static void cache_clear(module *m)
{
    for (size_t i = 0; i < m->n_preds; i++)
        hk_free(m->preds[i]);
    hk_free(m->preds);
    m->preds = NULL;
    m->n_preds = 0;
    m->cached = false;
}

static hk_err find_dbs(module *m, hk_error *err)
{
    if (m->have_dbs) return HK_OK;
    hkr_dbs d;
    hk_err rc = hks_db_find(m->s, "rules.rule", &d.rule, err);
    if (rc == HK_OK) rc = hks_db_find(m->s, "rules.derived", &d.derived, err);
    if (rc == HK_OK) rc = hks_db_find(m->s, "rules.meta", &d.meta, err);
    if (rc != HK_OK) return rc;
    m->d = d;
    m->have_dbs = true;
    return HK_OK;
}

static hk_err cache_load(module *m, hk_txn *t, hk_error *err)
{
    uint64_t gen = 0;
    hk_err rc = hkr_generation(t, &m->d, &gen, err);
    if (rc != HK_OK) return rc;
    if (m->cached && gen == m->gen) return HK_OK;
    cache_clear(m);
    hkr_rule **rules = NULL;
    size_t n = 0;
    rc = hkr_load_all(t, &m->d, &rules, &n, err);
    if (rc != HK_OK) return rc;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += 1 + hkq_n_atoms(rules[i]->body);
    m->preds = hk_calloc(cap ? cap : 1, sizeof *m->preds);
    if (!m->preds) rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == HK_OK; i++) {
        for (uint32_t a = 0; a <= hkq_n_atoms(rules[i]->body); a++) {
            const char *p = rules[i]->head_pred;
            if (a > 0) {
                hkq_atom_view av;
                hkq_atom_view_get(rules[i]->body, a - 1, &av);
                p = av.text[0];
            }
            bool seen = false;
            for (size_t k = 0; k < m->n_preds && !seen; k++)
                seen = strcmp(m->preds[k], p) == 0;
            if (seen) continue;
            m->preds[m->n_preds] = hk_strdup(p);
            if (!m->preds[m->n_preds]) {
                rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
                break;
            }
            m->n_preds++;
        }
    }
    m->any_enabled = n > 0;
    hkr_rules_free(rules, n);
    if (rc != HK_OK) {
        cache_clear(m);
        return rc;
    }
    m->cached = true;
    m->gen = gen;
    return HK_OK;
}

static bool mentioned(const module *m, const hk_statement *st)
{
    if (!st) return false;
    for (size_t k = 0; k < m->n_preds; k++)
        if (strcmp(m->preds[k], st->predicate) == 0) return true;
    return false;
}

static hk_err on_change(hk_txn *t, const hks_change *c, void *ud, hk_error *err)
{
    module *m = ud;
    hk_err rc = find_dbs(m, err);
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        return HK_OK; /* the KB holds no rules */
    }
    if (rc != HK_OK) return rc;
    /* a declaration changes the compiled rules: reload them */
    bool decl = (c->st_before && hkr_is_declaration(c->st_before->predicate)) ||
                (c->st_after && hkr_is_declaration(c->st_after->predicate));
    if (decl) m->cached = false;
    if ((rc = cache_load(m, t, err)) != HK_OK) return rc;
    if (!m->any_enabled && !decl) return HK_OK;
    if (!decl && c->op != HKS_OP_IMPORT && !mentioned(m, c->st_before) &&
        !mentioned(m, c->st_after))
        return HK_OK;
    hkr_reason_res res;
    if (decl || c->op == HKS_OP_IMPORT)
        return hkr_maintain(t, &m->d, &res, err);
    return hkr_maintain_change(t, &m->d, c, &res, err);
}

hk_err hkr_attach(hk_store *s, hk_error *err)
{
    module *m = hk_calloc(1, sizeof *m);
    if (!m) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    m->s = s;
    /* a writable handle creates the databases, so that rules can be
     * added later from any thread; read-only: only when present */
    hk_err rc = hkr_open(s, &m->d, err);
    m->have_dbs = rc == HK_OK;
    if (rc == HK_ERR_NOT_FOUND) {
        hk_error_clear(err);
        rc = HK_OK;
    }
    if (rc == HK_OK) {
        hks_hook h = {HOOK_NAME,
                      HKS_EV_ADD | HKS_EV_DELETE | HKS_EV_UPDATE |
                          HKS_EV_IMPORT,
                      on_change, NULL, m};
        rc = hks_hook_add(s, &h, err);
    }
    if (rc == HK_OK) {
        pthread_mutex_lock(&attached_mu);
        size_t i = 0;
        while (i < ATTACHED_MAX && attached[i])
            i++;
        if (i < ATTACHED_MAX)
            attached[i] = m;
        else
            rc = hk_error_set(err, HK_ERR_LIMIT,
                              "more than %u handles with rules attached",
                              ATTACHED_MAX);
        pthread_mutex_unlock(&attached_mu);
        if (rc != HK_OK) hks_hook_remove(s, HOOK_NAME, NULL);
    }
    if (rc != HK_OK) hk_free(m);
    return rc;
}

static module *module_of(hk_store *s, bool take)
{
    module *m = NULL;
    pthread_mutex_lock(&attached_mu);
    for (size_t i = 0; i < ATTACHED_MAX && !m; i++)
        if (attached[i] && attached[i]->s == s) {
            m = attached[i];
            if (take) attached[i] = NULL;
        }
    pthread_mutex_unlock(&attached_mu);
    return m;
}

void hkr_detach(hk_store *s)
{
    module *m = s ? module_of(s, true) : NULL;
    if (!m) return;
    hks_hook_remove(s, HOOK_NAME, NULL);
    cache_clear(m);
    hk_free(m);
}

hk_err hkr_dbs_of(hk_store *s, hkr_dbs *out, hk_error *err)
{
    module *m = module_of(s, false);
    if (!m || !m->have_dbs)
        return hk_error_set(err, HK_ERR_NOT_FOUND, "no rules in this KB");
    *out = m->d;
    return HK_OK;
}
