/*
 * gql_validate.c — the validation rules of the spec (section 5) that a
 * document can break against this schema, with graphql-js's messages,
 * plus the server's depth and complexity limits.
 *
 * Design:
 *   1. One walker visits a selection set with its parent type. It runs
 *      in two modes: `report` (field, argument, directive, fragment
 *      spread and leaf rules) for every operation and, once, for every
 *      fragment definition on its type condition; and a quiet mode into
 *      the fragments an operation spreads, which only gathers variable
 *      usages (for the undefined/unused/allowed-position rules), the
 *      nesting depth and the complexity.
 *   2. The schema has only object types (no interfaces or unions), so a
 *      fragment is possible in a selection set only when its type
 *      condition is that set's type.
 *   3. Literal values are checked by coercing them (gql_coerce_literal),
 *      so validation and execution agree on what a value means.
 *   4. Complexity: a field costs its table cost (1 by default) plus its
 *      children's complexity times its page size (`first`, else the
 *      default page of 100 for fields that take `first`).
 *
 * Every walk is bounded: the parser bounds nesting, fragment expansion
 * keeps a visited set per operation and stops at MAX_FRAGS fragments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mem.h"
#include "graphql/gql_int.h"

#define MAX_FRAGS 256 /* fragments tracked per document */
#define MAX_USES 512  /* variable usages tracked per operation */

bool gql_coerce_literal(const gql_value *v, const gql_ttype *t, json_t *vars,
                        json_t **out, bool *absent, char *why, size_t cap,
                        unsigned nest);
const gql_ttype *gql_tref_type(const gql_tref *t);

typedef struct var_use {
    const char *name;     /* variable */
    const gql_ttype *loc; /* type expected where it is used (NULL: any) */
    bool loc_default;     /* that position has a default */
    gql_loc at;           /* where */
} var_use;

typedef struct vctx {
    const hk_gql_doc *doc;         /* the document */
    const hk_gql_limits *lim;      /* limits */
    json_t *errors;                /* where violations go */
    var_use uses[MAX_USES];        /* usages gathered for the operation */
    size_t n_uses;                 /* entries in uses */
    const char *spread[MAX_FRAGS]; /* fragments entered by the operation */
    size_t n_spread;               /* entries */
    const char *used[MAX_FRAGS];   /* fragments spread anywhere */
    size_t n_used;                 /* entries */
} vctx;

#define ERR(vc, loc, ...) gql_push_error((vc)->errors, (loc), __VA_ARGS__)

static const gql_frag *frag_named(const hk_gql_doc *doc, const char *name)
{
    for (const gql_frag *f = doc->frags; f; f = f->next)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return true;
    return false;
}

static void note_used(vctx *vc, const char *name)
{
    if (!in_list(vc->used, vc->n_used, name) && vc->n_used < MAX_FRAGS)
        vc->used[vc->n_used++] = name;
}

/* ==== Values ==== */

static bool has_var(const gql_value *v)
{
    if (v->kind == GQL_V_VAR) return true;
    if (v->kind == GQL_V_LIST || v->kind == GQL_V_OBJECT)
        for (const gql_value *i = v->items; i; i = i->next)
            if (has_var(i)) return true;
    return false;
}

/* Records the variables inside v (t: the type at v, NULL when unknown). */
static void gather_vars(vctx *vc, const gql_value *v, const gql_ttype *t,
                        bool loc_default)
{
    if (v->kind == GQL_V_VAR) {
        if (vc->n_uses < MAX_USES)
            vc->uses[vc->n_uses++] = (var_use){v->s, t, loc_default, v->loc};
        return;
    }
    const gql_ttype *inner = t;
    if (inner && inner->kind == GQL_T_NON_NULL) inner = inner->of;
    if (v->kind == GQL_V_LIST) {
        for (const gql_value *i = v->items; i; i = i->next)
            gather_vars(vc, i,
                        inner && inner->kind == GQL_T_LIST ? inner->of : NULL,
                        false);
    } else if (v->kind == GQL_V_OBJECT) {
        for (const gql_value *i = v->items; i; i = i->next) {
            const gql_field *f = inner && inner->kind == GQL_T_INPUT
                                     ? gql_type_field(inner->named, i->key)
                                     : NULL;
            gather_vars(vc, i, f ? gql_field_type(f) : NULL, false);
        }
    }
}

/* Checks a literal against t (reporting) and gathers its variables. */
static void check_value(vctx *vc, const gql_value *v, const gql_ttype *t,
                        bool loc_default, bool report)
{
    gather_vars(vc, v, t, loc_default);
    if (!report || !t) return;
    if (!has_var(v)) {
        json_t *out = NULL;
        char why[300];
        if (!gql_coerce_literal(v, t, NULL, &out, NULL, why, sizeof(why), 0))
            ERR(vc, v->loc, "%s", why);
        json_decref(out);
    }
}

/* ==== Directives ==== */

static void check_dirs(vctx *vc, const gql_directive *d, const char *where,
                       bool executable_loc, bool report)
{
    for (const gql_directive *x = d; x; x = x->next) {
        bool known = !strcmp(x->name, "skip") || !strcmp(x->name, "include");
        const gql_ttype *bt = gql_ttype_parse("Boolean!");
        for (const gql_arg *a = x->args; a; a = a->next)
            gather_vars(vc, a->value,
                        known && !strcmp(a->name, "if") ? bt : NULL, false);
        if (!report) continue;
        if (!known && strcmp(x->name, "deprecated") != 0 &&
            strcmp(x->name, "specifiedBy") != 0) {
            ERR(vc, x->loc, "Unknown directive \"@%s\".", x->name);
            continue;
        }
        if (!known || !executable_loc) {
            ERR(vc, x->loc, "Directive \"@%s\" may not be used on %s.", x->name,
                where);
            continue;
        }
        for (const gql_directive *y = x->next; y; y = y->next)
            if (!strcmp(x->name, y->name))
                ERR(vc, y->loc,
                    "The directive \"@%s\" can only be used once at this "
                    "location.",
                    x->name);
        bool has_if = false;
        for (const gql_arg *a = x->args; a; a = a->next) {
            if (strcmp(a->name, "if") != 0) {
                ERR(vc, a->loc, "Unknown argument \"%s\" on directive \"@%s\".",
                    a->name, x->name);
                continue;
            }
            has_if = true;
            check_value(vc, a->value, bt, false, false);
            if (!has_var(a->value)) {
                json_t *out = NULL;
                char why[300];
                if (!gql_coerce_literal(a->value, bt, NULL, &out, NULL, why,
                                        sizeof(why), 0))
                    ERR(vc, a->value->loc, "%s", why);
                json_decref(out);
            }
        }
        if (!has_if)
            ERR(vc, x->loc,
                "Directive \"@%s\" argument \"if\" of type \"Boolean!\" is "
                "required, but it was not provided.",
                x->name);
    }
}

/* ==== Selection sets ==== */

typedef struct walk_res {
    unsigned depth;    /* deepest field nesting below */
    double complexity; /* cost below */
} walk_res;

static walk_res walk(vctx *vc, const gql_type *t, const gql_sel *sel,
                     bool report, unsigned nest);

static bool values_equal(const gql_value *a, const gql_value *b)
{
    if (!a || !b) return a == b;
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case GQL_V_BOOL:
        return a->b == b->b;
    case GQL_V_NULL:
        return true;
    case GQL_V_LIST:
    case GQL_V_OBJECT: {
        const gql_value *x = a->items, *y = b->items;
        for (; x && y; x = x->next, y = y->next)
            if ((x->key && strcmp(x->key, y->key ? y->key : "")) ||
                !values_equal(x, y))
                return false;
        return !x && !y;
    }
    default:
        return a->n == b->n && !strcmp(a->s, b->s);
    }
}

static bool args_equal(const gql_arg *a, const gql_arg *b)
{
    size_t na = 0, nb = 0;
    for (const gql_arg *x = a; x; x = x->next)
        na++;
    for (const gql_arg *x = b; x; x = x->next)
        nb++;
    if (na != nb) return false;
    for (const gql_arg *x = a; x; x = x->next) {
        const gql_arg *y = b;
        while (y && strcmp(x->name, y->name))
            y = y->next;
        if (!y || !values_equal(x->value, y->value)) return false;
    }
    return true;
}

/* The fields of a selection set on t, fragments flattened (for the
 * overlapping-fields rule): appends up to cap nodes to out. */
static void flat_fields(const vctx *vc, const gql_type *t, const gql_sel *sel,
                        const gql_sel **out, size_t *n, size_t cap,
                        const char **seen, size_t *n_seen, unsigned nest)
{
    if (nest > 64) return;
    for (const gql_sel *s = sel; s; s = s->next) {
        if (s->kind == GQL_S_FIELD) {
            if (*n < cap) out[(*n)++] = s;
        } else if (s->kind == GQL_S_INLINE) {
            if (!s->type_cond || !strcmp(s->type_cond, t->name))
                flat_fields(vc, t, s->sub, out, n, cap, seen, n_seen, nest + 1);
        } else if (!in_list(seen, *n_seen, s->name) && *n_seen < MAX_FRAGS) {
            seen[(*n_seen)++] = s->name;
            const gql_frag *f = frag_named(vc->doc, s->name);
            if (f && !strcmp(f->type_cond, t->name))
                flat_fields(vc, t, f->sel, out, n, cap, seen, n_seen, nest + 1);
        }
    }
}

static void check_overlaps(vctx *vc, const gql_type *t, const gql_sel *sel)
{
    const gql_sel *v[256];
    const char *seen[MAX_FRAGS];
    size_t n = 0, n_seen = 0;
    flat_fields(vc, t, sel, v, &n, 256, seen, &n_seen, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const char *ki = v[i]->alias ? v[i]->alias : v[i]->name;
            const char *kj = v[j]->alias ? v[j]->alias : v[j]->name;
            if (strcmp(ki, kj) != 0) continue;
            if (strcmp(v[i]->name, v[j]->name) != 0) {
                ERR(vc, v[j]->loc,
                    "Fields \"%s\" conflict because \"%s\" and \"%s\" are "
                    "different fields. Use different aliases on the fields "
                    "to fetch both if this was intentional.",
                    ki, v[i]->name, v[j]->name);
                return;
            }
            if (!args_equal(v[i]->args, v[j]->args)) {
                ERR(vc, v[j]->loc,
                    "Fields \"%s\" conflict because they have differing "
                    "arguments. Use different aliases on the fields to "
                    "fetch both if this was intentional.",
                    ki);
                return;
            }
        }
}

static walk_res walk_field(vctx *vc, const gql_type *t, const gql_sel *s,
                           bool report, unsigned nest)
{
    walk_res r = {1, 1};
    check_dirs(vc, s->dirs, "FIELD", true, report);
    const gql_field *f = NULL;
    const gql_type *sub_t = NULL;
    bool leaf = true;
    bool introspect = false;
    if (!strcmp(s->name, "__typename")) {
        leaf = true;
    } else if (t == gql_query_type() &&
               (!strcmp(s->name, "__schema") || !strcmp(s->name, "__type"))) {
        introspect = true;
        leaf = false;
        sub_t = gql_schema_type(s->name[2] == 's' ? "__Schema" : "__Type");
    } else {
        f = gql_type_field(t, s->name);
        if (!f) {
            if (report)
                ERR(vc, s->loc, "Cannot query field \"%s\" on type \"%s\".",
                    s->name, t->name);
            for (const gql_arg *a = s->args; a; a = a->next)
                gather_vars(vc, a->value, NULL, false);
            return r;
        }
        sub_t = gql_ttype_named(gql_field_type(f));
        leaf = sub_t->kind != GQL_T_OBJECT;
    }
    /* arguments */
    double mult = 1;
    for (const gql_arg *a = s->args; a; a = a->next) {
        const gql_argdef *ad = NULL;
        if (f)
            for (size_t i = 0; i < GQL_MAX_ARGS && f->args[i].name; i++)
                if (!strcmp(f->args[i].name, a->name)) ad = &f->args[i];
        if (introspect && !strcmp(s->name, "__type") &&
            !strcmp(a->name, "name")) {
            check_value(vc, a->value, gql_ttype_parse("String!"), false,
                        report);
            continue;
        }
        if (!ad) {
            if (report)
                ERR(vc, a->loc, "Unknown argument \"%s\" on field \"%s.%s\".",
                    a->name, t->name, s->name);
            gather_vars(vc, a->value, NULL, false);
            continue;
        }
        for (const gql_arg *b = a->next; b && report; b = b->next)
            if (!strcmp(a->name, b->name))
                ERR(vc, b->loc, "There can be only one argument named \"%s\".",
                    a->name);
        check_value(vc, a->value, gql_arg_type(ad), ad->def != NULL, report);
        if (!strcmp(a->name, "first"))
            mult = a->value->kind == GQL_V_INT ? atof(a->value->s) : 100;
    }
    if (f) {
        for (size_t i = 0; i < GQL_MAX_ARGS && f->args[i].name; i++) {
            const gql_argdef *ad = &f->args[i];
            bool given = false;
            for (const gql_arg *a = s->args; a; a = a->next)
                if (!strcmp(a->name, ad->name)) given = true;
            if (!strcmp(ad->name, "first") && !given) mult = 100;
            if (!given && !ad->def && report &&
                ad->type[strlen(ad->type) - 1] == '!')
                ERR(vc, s->loc,
                    "Field \"%s\" argument \"%s\" of type \"%s\" is required, "
                    "but it was not provided.",
                    s->name, ad->name, ad->type);
        }
        r.complexity = f->cost ? f->cost : 1;
    } else if (introspect && !strcmp(s->name, "__type") && report) {
        bool given = false;
        for (const gql_arg *a = s->args; a; a = a->next)
            if (!strcmp(a->name, "name")) given = true;
        if (!given)
            ERR(vc, s->loc,
                "Field \"__type\" argument \"name\" of type \"String!\" is "
                "required, but it was not provided.");
    }
    /* leaves */
    if (leaf && s->has_sub) {
        if (report)
            ERR(vc, s->loc,
                "Field \"%s\" must not have a selection since type \"%s\" has "
                "no subfields.",
                s->name, f ? f->type : "String!");
        return r;
    }
    if (!leaf && !s->has_sub) {
        if (report)
            ERR(vc, s->loc,
                "Field \"%s\" of type \"%s\" must have a selection of "
                "subfields. Did you mean \"%s { ... }\"?",
                s->name, f ? f->type : sub_t->name, s->name);
        return r;
    }
    if (!leaf) {
        walk_res sub = walk(vc, sub_t, s->sub, report, nest + 1);
        if (report) check_overlaps(vc, sub_t, s->sub);
        r.depth = sub.depth + 1;
        r.complexity += mult * sub.complexity;
    }
    return r;
}

static walk_res walk(vctx *vc, const gql_type *t, const gql_sel *sel,
                     bool report, unsigned nest)
{
    walk_res r = {0, 0};
    if (nest > 200) return r;
    for (const gql_sel *s = sel; s; s = s->next) {
        walk_res x = {0, 0};
        if (s->kind == GQL_S_FIELD) {
            x = walk_field(vc, t, s, report, nest);
        } else if (s->kind == GQL_S_INLINE) {
            check_dirs(vc, s->dirs, "INLINE_FRAGMENT", true, report);
            const gql_type *ct = t;
            if (s->type_cond) {
                ct = gql_schema_type(s->type_cond);
                if (!ct) {
                    if (report)
                        ERR(vc, s->loc, "Unknown type \"%s\".", s->type_cond);
                    continue;
                }
                if (ct->kind != GQL_T_OBJECT) {
                    if (report)
                        ERR(vc, s->loc,
                            "Fragment cannot condition on non composite type "
                            "\"%s\".",
                            s->type_cond);
                    continue;
                }
                if (ct != t) {
                    if (report)
                        ERR(vc, s->loc,
                            "Fragment cannot be spread here as objects of "
                            "type \"%s\" can never be of type \"%s\".",
                            t->name, ct->name);
                    continue;
                }
            }
            x = walk(vc, ct, s->sub, report, nest + 1);
        } else {
            check_dirs(vc, s->dirs, "FRAGMENT_SPREAD", true, report);
            note_used(vc, s->name);
            const gql_frag *f = frag_named(vc->doc, s->name);
            if (!f) {
                if (report)
                    ERR(vc, s->loc, "Unknown fragment \"%s\".", s->name);
                continue;
            }
            const gql_type *ft = gql_schema_type(f->type_cond);
            if (!ft || ft->kind != GQL_T_OBJECT) continue; /* its own error */
            if (ft != t) {
                if (report)
                    ERR(vc, s->loc,
                        "Fragment \"%s\" cannot be spread here as objects of "
                        "type \"%s\" can never be of type \"%s\".",
                        s->name, t->name, ft->name);
                continue;
            }
            if (in_list(vc->spread, vc->n_spread, s->name) ||
                vc->n_spread == MAX_FRAGS)
                continue; /* cycles are reported per fragment */
            vc->spread[vc->n_spread++] = s->name;
            x = walk(vc, ft, f->sel, false, nest + 1);
        }
        if (x.depth > r.depth) r.depth = x.depth;
        r.complexity += x.complexity;
    }
    return r;
}

/* ==== Fragment cycles ==== */

static bool reaches(const hk_gql_doc *doc, const gql_sel *sel,
                    const char *target, const char **seen, size_t *n_seen,
                    unsigned nest)
{
    if (nest > 200) return false;
    for (const gql_sel *s = sel; s; s = s->next) {
        if (s->kind == GQL_S_SPREAD) {
            if (!strcmp(s->name, target)) return true;
            if (in_list(seen, *n_seen, s->name) || *n_seen == MAX_FRAGS)
                continue;
            seen[(*n_seen)++] = s->name;
            const gql_frag *f = frag_named(doc, s->name);
            if (f && reaches(doc, f->sel, target, seen, n_seen, nest + 1))
                return true;
        } else if (s->sub &&
                   reaches(doc, s->sub, target, seen, n_seen, nest + 1)) {
            return true;
        }
    }
    return false;
}

/* ==== Variables ==== */

/* Spec IsVariableUsageAllowed / AreTypesCompatible. */
static bool compatible(const gql_ttype *var, const gql_ttype *loc)
{
    if (loc->kind == GQL_T_NON_NULL) {
        if (var->kind != GQL_T_NON_NULL) return false;
        return compatible(var->of, loc->of);
    }
    if (var->kind == GQL_T_NON_NULL) return compatible(var->of, loc);
    if (loc->kind == GQL_T_LIST)
        return var->kind == GQL_T_LIST && compatible(var->of, loc->of);
    if (var->kind == GQL_T_LIST) return false;
    return var->named == loc->named;
}

static void tref_print(const gql_tref *t, char *buf, size_t cap)
{
    char inner[128];
    if (t->name)
        snprintf(inner, sizeof(inner), "%s", t->name);
    else {
        char of[120];
        tref_print(t->of, of, sizeof(of));
        snprintf(inner, sizeof(inner), "[%.100s]", of);
    }
    snprintf(buf, cap, "%.100s%s", inner, t->non_null ? "!" : "");
}

static void check_op_vars(vctx *vc, const gql_op *op)
{
    char opname[80];
    if (op->name)
        snprintf(opname, sizeof(opname), " by operation \"%s\"", op->name);
    else
        opname[0] = 0;
    for (const gql_vardef *d = op->vars; d; d = d->next) {
        for (const gql_vardef *e = d->next; e; e = e->next)
            if (!strcmp(d->name, e->name))
                ERR(vc, e->loc, "There can be only one variable named \"$%s\".",
                    d->name);
        const gql_tref *base = d->type;
        while (!base->name)
            base = base->of;
        const gql_type *bt = gql_schema_type(base->name);
        char tn[128];
        tref_print(d->type, tn, sizeof(tn));
        if (!bt) {
            ERR(vc, d->loc, "Unknown type \"%s\".", base->name);
            continue;
        }
        if (bt->kind == GQL_T_OBJECT) {
            ERR(vc, d->loc, "Variable \"$%s\" cannot be non-input type \"%s\".",
                d->name, tn);
            continue;
        }
        if (d->def) {
            const gql_ttype *t = gql_tref_type(d->type);
            json_t *out = NULL;
            char why[300];
            if (t && !gql_coerce_literal(d->def, t, NULL, &out, NULL, why,
                                         sizeof(why), 0))
                ERR(vc, d->def->loc, "%s", why);
            json_decref(out);
        }
        bool used = false;
        for (size_t i = 0; i < vc->n_uses; i++)
            if (!strcmp(vc->uses[i].name, d->name)) used = true;
        if (!used && op->name)
            ERR(vc, d->loc,
                "Variable \"$%s\" is never used in operation \"%s\".", d->name,
                op->name);
        else if (!used)
            ERR(vc, d->loc, "Variable \"$%s\" is never used.", d->name);
    }
    for (size_t i = 0; i < vc->n_uses; i++) {
        const var_use *u = &vc->uses[i];
        const gql_vardef *d = op->vars;
        while (d && strcmp(d->name, u->name))
            d = d->next;
        if (!d) {
            ERR(vc, u->at, "Variable \"$%s\" is not defined%s.", u->name,
                opname);
            continue;
        }
        const gql_ttype *vt = gql_tref_type(d->type);
        if (!vt || !u->loc) continue;
        const gql_ttype *lt = u->loc;
        bool ok;
        if (lt->kind == GQL_T_NON_NULL && vt->kind != GQL_T_NON_NULL &&
            ((d->def && d->def->kind != GQL_V_NULL) || u->loc_default))
            ok = compatible(vt, lt->of);
        else
            ok = compatible(vt, lt);
        if (!ok) {
            char tn[128];
            tref_print(d->type, tn, sizeof(tn));
            const gql_ttype *x = lt;
            char want[128] = "";
            /* print the expected type from its wrappers */
            char suffix[64] = "";
            size_t depth = 0;
            while (x && (x->kind == GQL_T_LIST || x->kind == GQL_T_NON_NULL) &&
                   depth < 30) {
                x = x->of;
                depth++;
            }
            (void)suffix;
            snprintf(want, sizeof(want), "%s",
                     x && x->named ? x->named->name : "?");
            ERR(vc, u->at,
                "Variable \"$%s\" of type \"%s\" used in position expecting "
                "a different type (%s).",
                u->name, tn, want);
        }
    }
}

/* ==== Document ==== */

bool gql_validate(const hk_gql_doc *doc, const hk_gql_limits *lim,
                  json_t *errors)
{
    vctx *vc = hk_calloc(1, sizeof(*vc));
    if (!vc) {
        gql_loc none = {0, 0};
        gql_push_error(errors, none, "out of memory");
        return false;
    }
    vc->doc = doc;
    vc->lim = lim;
    vc->errors = errors;
    unsigned max_depth = lim->max_depth ? lim->max_depth : 15;
    double max_cx = lim->max_complexity ? lim->max_complexity : 50000;
    if (doc->other)
        ERR(vc, doc->other_loc, "The \"%s\" definition is not executable.",
            doc->other);
    size_t n_ops = 0, n_anon = 0;
    for (const gql_op *o = doc->ops; o; o = o->next) {
        n_ops++;
        if (!o->name) n_anon++;
    }
    for (const gql_op *o = doc->ops; o; o = o->next) {
        if (!o->name && n_ops > 1)
            ERR(vc, o->loc,
                "This anonymous operation must be the only defined "
                "operation.");
        for (const gql_op *p = o->next; o->name && p; p = p->next)
            if (p->name && !strcmp(o->name, p->name))
                ERR(vc, p->loc, "There can be only one operation named \"%s\".",
                    o->name);
        const gql_type *root = o->kind == GQL_MUTATION ? gql_mutation_type()
                               : o->kind == GQL_QUERY  ? gql_query_type()
                                                       : NULL;
        const char *where = o->kind == GQL_MUTATION ? "MUTATION"
                            : o->kind == GQL_QUERY  ? "QUERY"
                                                    : "SUBSCRIPTION";
        vc->n_uses = 0;
        vc->n_spread = 0;
        check_dirs(vc, o->dirs, where, false, true);
        for (const gql_vardef *d = o->vars; d; d = d->next)
            if (d->def) gather_vars(vc, d->def, NULL, false);
        vc->n_uses = 0;
        if (!root) {
            ERR(vc, o->loc,
                "Schema is not configured to execute subscription "
                "operation.");
            continue;
        }
        walk_res r = walk(vc, root, o->sel, true, 0);
        check_overlaps(vc, root, o->sel);
        check_op_vars(vc, o);
        if (r.depth > max_depth)
            ERR(vc, o->loc, "Query depth %u exceeds the limit of %u.", r.depth,
                max_depth);
        if (r.complexity > max_cx)
            ERR(vc, o->loc, "Query complexity %.0f exceeds the limit of %.0f.",
                r.complexity, max_cx);
    }
    (void)n_anon;
    for (const gql_frag *f = doc->frags; f; f = f->next) {
        for (const gql_frag *g = f->next; g; g = g->next)
            if (!strcmp(f->name, g->name))
                ERR(vc, g->loc, "There can be only one fragment named \"%s\".",
                    f->name);
        check_dirs(vc, f->dirs, "FRAGMENT_DEFINITION", false, true);
        const gql_type *t = gql_schema_type(f->type_cond);
        if (!t) {
            ERR(vc, f->loc, "Unknown type \"%s\".", f->type_cond);
            continue;
        }
        if (t->kind != GQL_T_OBJECT) {
            ERR(vc, f->loc,
                "Fragment \"%s\" cannot condition on non composite type "
                "\"%s\".",
                f->name, f->type_cond);
            continue;
        }
        size_t save = vc->n_used;
        vc->n_uses = 0;
        vc->n_spread = 0;
        walk(vc, t, f->sel, true, 0);
        check_overlaps(vc, t, f->sel);
        (void)save;
        const char *seen[MAX_FRAGS];
        size_t n_seen = 0;
        if (reaches(doc, f->sel, f->name, seen, &n_seen, 0))
            ERR(vc, f->loc, "Cannot spread fragment \"%s\" within itself.",
                f->name);
    }
    /* unused fragments: spread from an operation, directly or through
     * other fragments */
    for (const gql_frag *f = doc->frags; f; f = f->next) {
        bool used = false;
        for (const gql_op *o = doc->ops; o && !used; o = o->next) {
            const char *seen[MAX_FRAGS];
            size_t n_seen = 0;
            used = reaches(doc, o->sel, f->name, seen, &n_seen, 0);
        }
        if (!used) ERR(vc, f->loc, "Fragment \"%s\" is never used.", f->name);
    }
    hk_free(vc);
    return json_array_size(errors) == 0;
}
