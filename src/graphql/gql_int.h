/*
 * gql_int.h — internals of src/graphql (not for use outside this folder;
 * the interface for others is graphql.h).
 *
 * Files:
 *   gql_parse.c    lexer and recursive-descent parser of executable
 *                  documents (GraphQL spec, October 2021, section 2) into
 *                  the tree below, allocated from one arena per document
 *   gql_schema.c   the schema as static tables; SDL text and the
 *                  introspection answers are generated from them
 *   gql_validate.c the validation rules of section 5 that a document
 *                  about this schema can break, plus depth and complexity
 *   gql_cache.c    validated documents by query text (bounded LRU)
 *   gql_exec.c     variable coercion, field collection (fragments,
 *                  @skip/@include), execution, errors with path
 *   gql_resolve.c  resolvers of Query and Mutation: calls of the service
 *                  layer (src/service) whose results are the REST JSON
 *
 * Every list of the tree is a singly linked list in source order (next).
 * Memory: a document owns one arena; nothing in it is freed separately.
 */
#ifndef HK_GQL_INT_H
#define HK_GQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graphql/graphql.h"

/* ==== Arena ==== */

typedef struct gql_chunk gql_chunk;
typedef struct gql_arena {
    gql_chunk *head; /* newest chunk, NULL when none */
    size_t used;     /* bytes used in head */
    size_t cap;      /* bytes available in head */
} gql_arena;

/* Zeroed memory that lives until gql_arena_free; NULL when out of memory. */
void *gql_alloc(gql_arena *a, size_t n);
void gql_arena_free(gql_arena *a);

/* ==== Document tree ==== */

typedef struct gql_loc {
    uint32_t line;   /* 1-based */
    uint32_t column; /* 1-based, in characters */
} gql_loc;

typedef enum gql_vkind {
    GQL_V_VAR,    /* $name: s is the name */
    GQL_V_INT,    /* s is the literal text */
    GQL_V_FLOAT,  /* s is the literal text */
    GQL_V_STRING, /* s is the decoded string (n bytes, no NUL inside) */
    GQL_V_BOOL,   /* b */
    GQL_V_NULL,   /* null */
    GQL_V_ENUM,   /* s is the name */
    GQL_V_LIST,   /* items */
    GQL_V_OBJECT  /* items, each with its key */
} gql_vkind;

typedef struct gql_value {
    gql_vkind kind;          /* which literal */
    const char *s;           /* text, see gql_vkind */
    size_t n;                /* bytes of s */
    bool b;                  /* GQL_V_BOOL */
    const char *key;         /* field name inside an object value */
    struct gql_value *items; /* first list item / object field */
    struct gql_value *next;  /* next item of the enclosing list/object */
    gql_loc loc;             /* where it starts */
} gql_value;

typedef struct gql_arg {
    const char *name;     /* argument name */
    gql_value *value;     /* its value */
    struct gql_arg *next; /* next argument */
    gql_loc loc;          /* where the name starts */
} gql_arg;

typedef struct gql_directive {
    const char *name;           /* without the @ */
    gql_arg *args;              /* arguments */
    struct gql_directive *next; /* next directive */
    gql_loc loc;                /* where the @ is */
} gql_directive;

typedef enum gql_skind {
    GQL_S_FIELD,  /* alias: name(args) @dirs { sel } */
    GQL_S_SPREAD, /* ...Name @dirs */
    GQL_S_INLINE  /* ... on Type @dirs { sel } */
} gql_skind;

typedef struct gql_sel {
    gql_skind kind;        /* which selection */
    const char *alias;     /* field alias or NULL */
    const char *name;      /* field name / fragment name */
    const char *type_cond; /* inline fragment's type or NULL */
    gql_arg *args;         /* field arguments */
    gql_directive *dirs;   /* directives */
    struct gql_sel *sub;   /* selection set (first), or NULL */
    bool has_sub;          /* a { } was written */
    struct gql_sel *next;  /* next selection of the set */
    gql_loc loc;           /* where it starts */
} gql_sel;

typedef struct gql_tref {
    const char *name;    /* named type, or NULL for a list */
    struct gql_tref *of; /* list item type */
    bool non_null;       /* T! / [T]! */
} gql_tref;

typedef struct gql_vardef {
    const char *name;        /* without the $ */
    gql_tref *type;          /* declared type */
    gql_value *def;          /* default value or NULL */
    struct gql_vardef *next; /* next definition */
    gql_loc loc;             /* where the $ is */
} gql_vardef;

typedef enum gql_opkind {
    GQL_QUERY,
    GQL_MUTATION,
    GQL_SUBSCRIPTION
} gql_opkind;

typedef struct gql_op {
    gql_opkind kind;     /* operation type */
    const char *name;    /* NULL when anonymous */
    gql_vardef *vars;    /* variable definitions */
    gql_directive *dirs; /* directives */
    gql_sel *sel;        /* selection set */
    struct gql_op *next; /* next operation */
    gql_loc loc;         /* where it starts */
} gql_op;

typedef struct gql_frag {
    const char *name;      /* fragment name */
    const char *type_cond; /* on Type */
    gql_directive *dirs;   /* directives */
    gql_sel *sel;          /* selection set */
    struct gql_frag *next; /* next fragment */
    gql_loc loc;           /* where it starts */
} gql_frag;

struct hk_gql_doc {
    gql_arena arena;   /* owns everything below */
    gql_op *ops;       /* operations, in order */
    gql_frag *frags;   /* fragments, in order */
    const char *other; /* first non-executable definition's keyword */
    gql_loc other_loc; /* where it is */
};

/* ==== Schema ==== */

typedef enum gql_tkind {
    GQL_T_SCALAR,
    GQL_T_OBJECT,
    GQL_T_ENUM,
    GQL_T_INPUT,
    GQL_T_LIST,    /* wrapper: of */
    GQL_T_NON_NULL /* wrapper: of */
} gql_tkind;

typedef struct gql_type gql_type;
typedef struct gql_field gql_field;
typedef struct gql_ctx gql_ctx;

/* Resolves a field: parent is the parent object's JSON value (NULL at the
 * root), args the coerced arguments (an object). Returns a new reference
 * (json null for null) or NULL with an error set in ctx. */
typedef struct json_t *(*gql_resolve_fn)(gql_ctx *c, struct json_t *parent,
                                         struct json_t *args);

typedef struct gql_argdef {
    const char *name; /* argument name */
    const char *type; /* type text: "Int", "String!", "[FactInput!]!" */
    const char *def;  /* default value (GraphQL literal text) or NULL */
    const char *desc; /* one line */
} gql_argdef;

#define GQL_MAX_ARGS 9

struct gql_field {
    const char *name;              /* field name */
    const char *type;              /* type text, see gql_argdef */
    const char *desc;              /* one line */
    gql_resolve_fn fn;             /* resolver; NULL: parent[key] */
    const char *key;               /* JSON member read (NULL: name) */
    unsigned cost;                 /* complexity units (0: 1) */
    gql_argdef args[GQL_MAX_ARGS]; /* arguments, name NULL ends */
};

struct gql_type {
    const char *name;         /* type name */
    gql_tkind kind;           /* scalar, object, enum, input */
    const char *desc;         /* one line */
    const gql_field *fields;  /* object/input fields, name NULL ends */
    const char *const *enums; /* enum values, NULL ends */
};

/* The named type, or NULL. */
const gql_type *gql_schema_type(const char *name);
/* The field of an object or input type, or NULL. */
const gql_field *gql_type_field(const gql_type *t, const char *name);
/* Every named type, NULL ends. */
extern const gql_type *const gql_types[];
/* The root types. */
const gql_type *gql_query_type(void);
const gql_type *gql_mutation_type(void);

/* A parsed type text ("[Fact!]!") of the schema, interned: the same
 * pointer for the same text. NULL only when out of memory or when text
 * names an unknown type (a bug in the tables). */
typedef struct gql_ttype {
    gql_tkind kind;             /* GQL_T_LIST / NON_NULL or the named kind */
    const gql_type *named;      /* for named kinds */
    const struct gql_ttype *of; /* for wrappers */
} gql_ttype;
const gql_ttype *gql_ttype_parse(const char *text);
/* The parsed type of a field or argument of the schema tables (parsed
 * once for every table entry, then read without a lock). */
const gql_ttype *gql_field_type(const gql_field *f);
const gql_ttype *gql_arg_type(const gql_argdef *a);
/* The named type under the wrappers. */
const gql_type *gql_ttype_named(const gql_ttype *t);

/* The introspection of the schema as JSON for __schema / __type (built
 * once, owned by the module): the full value of the __schema field with
 * every member the introspection query of GraphiQL asks for. */
struct json_t *gql_schema_introspection(void);

/* ==== Execution context ==== */

#define GQL_MAX_PATH 300 /* response path entries kept for errors */

struct gql_ctx {
    const hk_gql_env *env;              /* transaction, limits, caller */
    struct json_t *errors;              /* the errors array being built */
    const char *path_key[GQL_MAX_PATH]; /* response path: keys, or NULL
                                           for a list index */
    size_t path_idx[GQL_MAX_PATH];      /* list indexes */
    unsigned depth;                     /* entries in the path */
    gql_loc loc;                        /* the field being resolved */
    bool mutation;                      /* running a mutation operation */
    const void *field;                  /* the field group being resolved
                                           (for gql_selects) */
};

/* False only when the selection set of the field being resolved surely
 * does not ask for name (a plain field; fragments count as asking): a
 * resolver may then leave that member out. */
bool gql_selects(const gql_ctx *c, const char *name);

/* Appends an error at the current field (message printf-style). Returns
 * NULL so that resolvers can `return gql_error(c, ...)`. */
struct json_t *gql_error(gql_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends an error with extensions.code (e.g. "FORBIDDEN"). Returns
 * NULL. */
struct json_t *gql_error_code(gql_ctx *c, const char *code, const char *msg);
/* Appends an error for an hk_error from the service layer, with its code
 * (extensions.code: hk_strerror) and field. */
struct json_t *gql_error_hk(gql_ctx *c, const hk_error *err);

/* An object value given as its compact JSON text (as the service
 * writers produce it, e.g. hk_fact_write_json): fields read members of
 * the text and leaves are copied without a jansson tree (gql_exec.c).
 * NULL when out of memory. */
struct json_t *gql_raw_object(const char *text, size_t len);

/* The root resolvers (gql_resolve.c), referenced from the schema tables. */
struct json_t *gql_r_fact(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_facts(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_pattern(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_query(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_entity(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_entity_facts(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_predicate_facts(gql_ctx *, struct json_t *,
                                     struct json_t *);
struct json_t *gql_r_entity_neighbours(gql_ctx *, struct json_t *,
                                       struct json_t *);
struct json_t *gql_r_predicates(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_predicate(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_search(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_audit(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_paths(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_stats(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_add(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_update(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_delete(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_batch(gql_ctx *, struct json_t *, struct json_t *);
/* The review queue (gql_review.c) */
struct json_t *gql_r_review(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_approve(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_reject(gql_ctx *, struct json_t *, struct json_t *);
/* Vector search (gql_vectors.c) */
struct json_t *gql_r_vector_spaces(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_similar(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_create_space(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_drop_space(gql_ctx *, struct json_t *, struct json_t *);
/* The learned model (gql_model.c) */
struct json_t *gql_r_model(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_model_score(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_model_predict(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_model_similar(gql_ctx *, struct json_t *, struct json_t *);
/* Rules (gql_rules.c) */
struct json_t *gql_r_rules(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_rule(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_why(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_add_rule(gql_ctx *, struct json_t *, struct json_t *);
struct json_t *gql_r_set_rule_enabled(gql_ctx *, struct json_t *,
                                      struct json_t *);
struct json_t *gql_r_delete_rule(gql_ctx *, struct json_t *, struct json_t *);

/* ==== Document cache (gql_cache.c) ==== */

typedef struct gql_cached gql_cached;
/* The validated document of text under lim when kept, with a reference
 * in *ref that the caller gives back with gql_cache_release; NULL when
 * not kept. */
hk_gql_doc *gql_cache_get(const char *text, size_t len,
                          const hk_gql_limits *lim, gql_cached **ref);
/* Keeps the validated doc of text (the cache owns it from now on) and
 * returns the caller's reference; NULL when not kept (too long, out of
 * memory: the caller still owns doc). */
gql_cached *gql_cache_put(const char *text, size_t len,
                          const hk_gql_limits *lim, hk_gql_doc *doc);
void gql_cache_release(gql_cached *e);

/* ==== Validation ==== */

/* Validates doc against the schema; appends every violation to errors
 * (spec error objects with locations). True when there was none. */
bool gql_validate(const hk_gql_doc *doc, const hk_gql_limits *lim,
                  struct json_t *errors);

/* Appends {"message": msg, "locations": [{line, column}]} to errors. */
void gql_push_error(struct json_t *errors, gql_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* HK_GQL_INT_H */
