/*
 * rules_onto.c — ontology declarations, asserted as ordinary facts,
 * compiled to rules (see rules.h, "Ontology").
 *
 *   Transitive(P)        P(?x, ?z) :- P(?x, ?y), P(?y, ?z).
 *   Symmetric(P)         P(?y, ?x) :- P(?x, ?y).
 *   InverseOf(P, Q)      Q(?y, ?x) :- P(?x, ?y).  and  P(?y, ?x) :- Q(?x, ?y).
 *   SubPropertyOf(P, Q)  Q(?x, ?y) :- P(?x, ?y).
 *   SubClassOf(C, D)     (any such fact enables three fixed rules)
 *       SubClassOf(?c, ?e) :- SubClassOf(?c, ?d), SubClassOf(?d, ?e).
 *       IsA(?x, ?d)        :- IsA(?x, ?c), SubClassOf(?c, ?d).
 *       IsTypeOf(?x, ?d)   :- IsTypeOf(?x, ?c), SubClassOf(?c, ?d).
 *
 * Constraints derive Contradiction facts:
 *   Functional(P)        Contradiction(functional, P, ?x, ?y, ?z) :-
 *                            P(?x, ?y), P(?x, ?z), ?y < ?z.
 *   Asymmetric(P)        Contradiction(asymmetric, P, ?x, ?y) :-
 *                            P(?x, ?y), P(?y, ?x), ?x <= ?y.
 *   NegationOf(N, P)     Contradiction(negation, N, P, args...) :-
 *                            N(args...), P(args...).   (1..3 arguments)
 * (The legacy consistency check's defaults — IsA, HasPart, IsPartOf and
 * Causes asymmetric, NotP the negation of P — stay its own; only declared
 * constraints become rules.)
 *
 * Each compiled rule is named after its declaration ("Transitive(PartOf)",
 * "InverseOf(HasPart, PartOf)#2", "SubClassOf:IsA"), so a proof names the
 * fact that licensed the step and the checker recompiles it from the
 * current declarations. Only asserted declarations count, and only those
 * whose predicate arguments are valid predicate names; at most
 * HKR_DECL_MAX per kind are read.
 *
 * Threads: as the hk_txn passed.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/syntax.h"
#include "reason/rules_int.h"

#define HKR_DECL_MAX 10000

typedef struct onto {
    hkr_rule **v;
    size_t n, cap;
} onto;

static hk_err push(onto *o, const char *name, const char *text, hk_error *err)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 16;
        hkr_rule **nv = hk_realloc(o->v, nc * sizeof *nv);
        if (!nv) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        o->v = nv;
        o->cap = nc;
    }
    hkr_rule *r = NULL;
    hk_err rc = hkr_parse(text, strlen(text), &r, err);
    if (rc != HK_OK) return rc;
    snprintf(r->name, sizeof r->name, "%s", name);
    o->v[o->n++] = r;
    return HK_OK;
}

static bool is_pred(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && hk_ident_span(s, n) == n;
}

/* Compiles the declarations of one kind. */
static hk_err compile_kind(hk_txn *t, const char *kind, uint32_t arity, onto *o,
                           bool *any, hk_error *err)
{
    hk_scan sc = HK_SCAN_INIT;
    sc.predicate = kind;
    sc.arity = arity;
    hk_query *it = NULL;
    *any = false;
    hk_err rc = hk_query_open_scan(t, &sc, NULL, &it, err);
    if (rc != HK_OK) return rc;
    hk_fact f;
    hk_fact_init(&f);
    char name[HKR_NAME_MAX + 1], text[4 * HKR_NAME_MAX + 200];
    for (size_t k = 0; k < HKR_DECL_MAX; k++) {
        bool has = false;
        rc = hk_query_next(it, &f, &has, err);
        if (rc != HK_OK || !has) break;
        *any = true;
        const char *p = f.st.args[0], *q = arity > 1 ? f.st.args[1] : NULL;
        if (!is_pred(p) || (q && !is_pred(q)) || strlen(p) > HKR_NAME_MAX ||
            (q && strlen(q) > HKR_NAME_MAX))
            continue;
        int w = q ? snprintf(name, sizeof name, "%s(%s, %s)", kind, p, q)
                  : snprintf(name, sizeof name, "%s(%s)", kind, p);
        if (w < 0 || (size_t)w + 2 >= sizeof name) continue; /* too long */
        if (strcmp(kind, "Transitive") == 0) {
            snprintf(text, sizeof text, "%s(?x, ?z) :- %s(?x, ?y), %s(?y, ?z).",
                     p, p, p);
            rc = push(o, name, text, err);
        } else if (strcmp(kind, "Symmetric") == 0) {
            snprintf(text, sizeof text, "%s(?y, ?x) :- %s(?x, ?y).", p, p);
            rc = push(o, name, text, err);
        } else if (strcmp(kind, "SubPropertyOf") == 0) {
            snprintf(text, sizeof text, "%s(?x, ?y) :- %s(?x, ?y).", q, p);
            rc = push(o, name, text, err);
        } else if (strcmp(kind, "Functional") == 0) {
            snprintf(text, sizeof text,
                     "Contradiction(functional, %s, ?x, ?y, ?z) :- "
                     "%s(?x, ?y), %s(?x, ?z), ?y < ?z.",
                     p, p, p);
            rc = push(o, name, text, err);
        } else if (strcmp(kind, "Asymmetric") == 0) {
            snprintf(text, sizeof text,
                     "Contradiction(asymmetric, %s, ?x, ?y) :- %s(?x, ?y), "
                     "%s(?y, ?x), ?x <= ?y.",
                     p, p, p);
            rc = push(o, name, text, err);
        } else if (strcmp(kind, "NegationOf") == 0) {
            /* N(args) contradicts P(args), for 1..3 arguments */
            static const char *const args[] = {"?a", "?a, ?b", "?a, ?b, ?c"};
            char nk[HKR_NAME_MAX + 3];
            for (int a = 0; a < 3 && rc == HK_OK; a++) {
                snprintf(nk, sizeof nk, "%s#%d", name, a + 1);
                snprintf(text, sizeof text,
                         "Contradiction(negation, %s, %s, %s) :- %s(%s), "
                         "%s(%s).",
                         p, q, args[a], p, args[a], q, args[a]);
                rc = push(o, nk, text, err);
            }
        } else if (strcmp(kind, "InverseOf") == 0) {
            char n2[HKR_NAME_MAX + 3];
            snprintf(text, sizeof text, "%s(?y, ?x) :- %s(?x, ?y).", q, p);
            rc = push(o, name, text, err);
            snprintf(n2, sizeof n2, "%s#2", name);
            snprintf(text, sizeof text, "%s(?y, ?x) :- %s(?x, ?y).", p, q);
            if (rc == HK_OK) rc = push(o, n2, text, err);
        }
        if (rc != HK_OK) break;
    }
    hk_fact_release(&f);
    hk_query_close(it);
    return rc;
}

hk_err hkr_ontology(hk_txn *t, hkr_rule ***out, size_t *n, hk_error *err)
{
    onto o = {NULL, 0, 0};
    *out = NULL;
    *n = 0;
    static const struct {
        const char *kind;
        uint32_t arity;
    } kinds[] = {{"Transitive", 1},    {"Symmetric", 1},  {"InverseOf", 2},
                 {"SubPropertyOf", 2}, {"SubClassOf", 2}, {"Functional", 1},
                 {"Asymmetric", 1},    {"NegationOf", 2}};
    hk_err rc = HK_OK;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && rc == HK_OK; i++) {
        bool any = false;
        rc = compile_kind(t, kinds[i].kind, kinds[i].arity, &o, &any, err);
        if (rc == HK_OK && any && strcmp(kinds[i].kind, "SubClassOf") == 0) {
            rc = push(&o, "SubClassOf:transitive",
                      "SubClassOf(?c, ?e) :- SubClassOf(?c, ?d), "
                      "SubClassOf(?d, ?e).",
                      err);
            if (rc == HK_OK)
                rc = push(&o, "SubClassOf:IsA",
                          "IsA(?x, ?d) :- IsA(?x, ?c), SubClassOf(?c, ?d).",
                          err);
            if (rc == HK_OK)
                rc = push(&o, "SubClassOf:IsTypeOf",
                          "IsTypeOf(?x, ?d) :- IsTypeOf(?x, ?c), "
                          "SubClassOf(?c, ?d).",
                          err);
        }
    }
    if (rc != HK_OK) {
        hkr_rules_free(o.v, o.n);
        return rc;
    }
    *out = o.v;
    *n = o.n;
    return HK_OK;
}

bool hkr_is_declaration(const char *pred)
{
    return strcmp(pred, "Transitive") == 0 || strcmp(pred, "Symmetric") == 0 ||
           strcmp(pred, "InverseOf") == 0 ||
           strcmp(pred, "SubPropertyOf") == 0 ||
           strcmp(pred, "SubClassOf") == 0 || strcmp(pred, "Functional") == 0 ||
           strcmp(pred, "Asymmetric") == 0 || strcmp(pred, "NegationOf") == 0;
}
