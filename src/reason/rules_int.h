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
    uint32_t n;                      /* premises */
    hkr_premise prem[HKQ_MAX_ATOMS]; /* by positive pattern */
} hkr_support;

/* Parses a rules.derived value; false when malformed. */
bool hkr_support_parse(hks_val v, hkr_support *s);

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
