/*
 * rules_int.h — helpers shared by the files of src/reason/rules_*.c,
 * private to them (the module's interface is rules.h).
 */
#ifndef HK_RULES_INT_H
#define HK_RULES_INT_H

#include <stdint.h>
#include <time.h>

#include "query/query.h"
#include "reason/rules.h"

/* Fact ids of derived facts in relations handed to the join: the tag
 * plus an index (stored facts have ids below 2^48). */
#define HKR_DERIVED_TAG (1ull << 63)
/* Longest key of rules.derived. */
#define HKR_KEY_MAX (5 + 4 * HK_MAX_ARGS)

static inline void hkr_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t hkr_get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}
static inline void hkr_put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t hkr_get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The rules.derived key of fs into k (HKR_KEY_MAX bytes); its length. */
size_t hkr_key_of(const hks_fact_syms *fs, uint8_t *k);
/* The content of a rules.derived key; false when malformed. */
bool hkr_key_parse(const uint8_t *k, size_t len, hks_fact_syms *fs);
/* The strings of fs into buf (reset first); st points into buf. */
hk_err hkr_syms_statement(hk_txn *t, const hks_fact_syms *fs, hk_buf *buf,
                          hk_statement *st, hk_error *err);
/* *exists = an asserted or derived fact matches negated pattern av with
 * its variables bound to vals. */
hk_err hkr_neg_exists(hk_txn *t, const hkr_dbs *d, const hkq_atom_view *av,
                      const uint32_t *vals, bool *exists, hk_error *err);

/* Offset of the first `:-` of rule text s[0..n) outside quotes and
 * parentheses, or n. */
size_t hkr_find_neck(const char *s, size_t n);

/* A support record of rules.derived (see rules_eval.c). */
typedef struct hkr_premise {
    bool derived;     /* else asserted */
    hk_fact_id id;    /* asserted: its id */
    hks_fact_syms fs; /* derived: its content */
} hkr_premise;

typedef struct hkr_support {
    uint32_t round;                  /* round of derivation */
    char rule[HKR_NAME_MAX + 1];     /* rule name */
    uint32_t n;                      /* premises (0 until resolved when
                                        compact) */
    hkr_premise prem[HKQ_MAX_ATOMS]; /* by positive pattern */
    bool compact;                    /* version 2: premises not stored */
    uint32_t n_free;                 /* version 2: values stored */
    uint32_t free[HKQ_MAX_VARS];     /* of the free variables (below) */
} hkr_support;

/* First byte of a version-2 support record (version 1 starts with the
 * big-endian round, whose first byte is 0 below 2^24 rounds). */
#define HKR_SUPPORT_V2 0xFFu

/* The body variables of a rule that its head does not bind, in index
 * order, each with one positive pattern (positive index) and argument
 * holding it: what a version-2 support stores, the rest of a proof
 * being recomputed from the derived fact itself. */
typedef struct hkr_freevars {
    uint32_t n;                 /* free variables */
    uint32_t var[HKQ_MAX_VARS]; /* their indexes */
    uint32_t pos[HKQ_MAX_VARS]; /* a positive pattern binding each */
    uint32_t arg[HKQ_MAX_VARS]; /* its argument there */
    bool compact;               /* no `_` in a positive pattern (else its
                                   premises cannot be recomputed: version
                                   1 is written) */
} hkr_freevars;
void hkr_free_vars(const hkr_rule *r, hkr_freevars *out);

/* A version-2 support into v (reset first): HKR_SUPPORT_V2, varint
 * round, u8 name length, name, varint n, n varint values of the free
 * variables. */
hk_err hkr_support_v2(hk_buf *v, const char *rule, uint32_t round,
                      const uint32_t *vals, uint32_t n, hk_error *err);

/* Parses a rules.derived value of either version; false when malformed.
 * A version-2 record leaves s->n 0 and s->compact set: resolve it. */
bool hkr_support_parse(hks_val v, hkr_support *s);

/* The round of a support record of either version; false when
 * malformed. */
bool hkr_support_round(hks_val v, uint32_t *round);

/* Fills the premises of compact support s of derived fact fs by rule r
 * (the binding of the head and the stored free values, each premise
 * asserted when the statement index holds it, else derived); *ok false
 * when the record does not fit r. */
hk_err hkr_support_resolve(hk_txn *t, const hkr_rule *r,
                           const hks_fact_syms *fs, hkr_support *s, bool *ok,
                           hk_error *err);

/* Changes (since the process started) whose derived facts were
 * maintained incrementally, and those that fell back to recomputing. */
void hkr_incr_counts(uint64_t *incremental, uint64_t *fallbacks);

/* The id-level fixpoint (rules_flat.c): true when every rule of rules is
 * a positive conjunction of patterns (no negation, no comparison), the
 * programs hkr_flat_materialize evaluates. */
bool hkr_flat_eligible(hkr_rule *const *rules, size_t n);
/* hkr_materialize for such a program (rules stratified); adds to
 * res->eval_us, sets the rest of res. */
hk_err hkr_flat_materialize(hk_txn *t, const hkr_dbs *d, hkr_rule *const *rules,
                            size_t n_rules, hkr_progress_fn progress,
                            void *progress_ud, hkr_reason_res *res,
                            hk_error *err);
/* hkr_flat_materialize calls since the process started. */
uint64_t hkr_flat_count(void);
/* Whether hkr_materialize uses hkr_flat_materialize where it can (on
 * by default, for the whole process); the setter is for benchmarks
 * comparing the two evaluators. */
bool hkr_flat_on(void);
void hkr_flat_set(bool on);

/* Maintenance of one change that reads only what the change reaches
 * (rules_local.c): *done false, and nothing written, when the program
 * negates a predicate the change can reach or the change removes too
 * many derived facts; the caller then runs delete-and-rederive over the
 * loaded relations. */
hk_err hkr_local_change(hk_txn *t, const hkr_dbs *d, hkr_rule *const *rules,
                        size_t n_rules, const hks_change *c, bool *done,
                        hk_error *err);
/* Changes hkr_local_change maintained since the process started. */
uint64_t hkr_local_count(void);
/* Whether hkr_materialize_change tries hkr_local_change first (on by
 * default, for the whole process); the setter is for benchmarks
 * comparing the two. */
bool hkr_local_on(void);
void hkr_local_set(bool on);

/* CPU time of the calling thread in microseconds. */
static inline int64_t hkr_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif /* HK_RULES_INT_H */
