/*
 * hk_gen.h — deterministic generator of synthetic facts for the benchmarks.
 *
 * Design: the same seed and N always give the same sequence of N distinct
 * facts, so that hakgal, SQLite and the CLI import see identical input.
 *  - PRNG: xoshiro256** seeded through splitmix64 (fast, good quality,
 *    reproducible across machines: only integer arithmetic and IEEE doubles).
 *  - Entities: a vocabulary of max(N/4, 1000) names; each argument is drawn
 *    from a Zipf distribution with exponent 1.0 (rejection-inversion sampling
 *    after Hörmann and Derflinger: O(1) per draw, no table, so the generator
 *    itself stays small at 10M facts). Rank r is mapped to a name id through
 *    a bijective affine permutation (cycle-walking) so that popular entities
 *    are not neighbours in dictionary order.
 *  - Predicates: 300 CamelCase names (20 verbs x 15 nouns, e.g. HasPart),
 *    Zipf-distributed too.
 *  - Arity: 70% binary, 30% uniformly 3, 4 or 5 arguments; the arguments of
 *    one fact are distinct entities.
 *  - Distinctness: a set of 64-bit fact fingerprints rejects a draw that was
 *    already produced (the draw is repeated), so N facts are N stored facts.
 *  - Names: syllable words from 80 consonant-vowel syllables (at least three
 *    syllables, a bijective encoding of the id); a quarter of the names get a
 *    second word ("Kavoti Rune"), a quarter a number ("Bemosa-42"). All are
 *    bare statement arguments.
 *
 * Header-only (static inline) because every bench source file is its own
 * program. Not thread-safe: one hk_gen per thread.
 */
#ifndef HK_GEN_H
#define HK_GEN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HK_GEN_PREDICATES 300    /* predicate vocabulary */
#define HK_GEN_MAX_ARITY 5       /* largest arity produced */
#define HK_GEN_NAME_MAX 48       /* bytes of the longest name, NUL included */
#define HK_GEN_STATEMENT_MAX 320 /* bytes of the longest statement + NUL */
#define HK_GEN_DEFAULT_SEED 20261126u

/* ==== PRNG ==== */

typedef struct hk_rng {
    uint64_t s[4]; /* xoshiro256** state */
} hk_rng;

static inline uint64_t hk_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void hk_rng_seed(hk_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = hk_splitmix64(&seed);
}

static inline uint64_t hk_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t hk_rng_next(hk_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = hk_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = hk_rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double hk_rng_double(hk_rng *r)
{
    return (double)(hk_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32 here). */
static inline uint64_t hk_rng_below(hk_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)hk_rng_next(r) * n) >> 64);
}

/* ==== Zipf sampler (rejection-inversion) ==== */

typedef struct hk_zipf {
    double n;        /* number of elements (ranks 1..n) */
    double exponent; /* s > 0 */
    double h_x1;     /* H(1.5) - 1: upper end of the inversion interval */
    double h_n;      /* H(n + 0.5): lower end */
    double squeeze;  /* accept without the exact test when k - x <= this */
} hk_zipf;

/* log1p(x)/x, accurate near 0. */
static inline double hk_zipf_helper1(double x)
{
    if (fabs(x) > 1e-8) return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* expm1(x)/x, accurate near 0. */
static inline double hk_zipf_helper2(double x)
{
    if (fabs(x) > 1e-8) return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

static inline double hk_zipf_h(const hk_zipf *z, double x)
{
    return exp(-z->exponent * log(x));
}

static inline double hk_zipf_hintegral(const hk_zipf *z, double x)
{
    double log_x = log(x);
    return hk_zipf_helper2((1.0 - z->exponent) * log_x) * log_x;
}

static inline double hk_zipf_hintegral_inverse(const hk_zipf *z, double x)
{
    double t = x * (1.0 - z->exponent);
    if (t < -1.0) t = -1.0; /* guards rounding at the interval's end */
    return exp(hk_zipf_helper1(t) * x);
}

static inline void hk_zipf_init(hk_zipf *z, uint64_t n, double exponent)
{
    z->n = (double)n;
    z->exponent = exponent;
    z->h_x1 = hk_zipf_hintegral(z, 1.5) - 1.0;
    z->h_n = hk_zipf_hintegral(z, z->n + 0.5);
    z->squeeze = 2.0 - hk_zipf_hintegral_inverse(z, hk_zipf_hintegral(z, 2.5) -
                                                        hk_zipf_h(z, 2.0));
}

/* A rank in 1..n with P(k) proportional to k^-s. Expected < 1.2 rounds; the
 * bound only guards against a broken PRNG. */
static inline uint64_t hk_zipf_sample(const hk_zipf *z, hk_rng *r)
{
    for (int round = 0; round < 1000; round++) {
        double u = z->h_n + hk_rng_double(r) * (z->h_x1 - z->h_n);
        double x = hk_zipf_hintegral_inverse(z, u);
        double k = floor(x + 0.5);
        if (k < 1.0)
            k = 1.0;
        else if (k > z->n)
            k = z->n;
        if (k - x <= z->squeeze ||
            u >= hk_zipf_hintegral(z, k + 0.5) - hk_zipf_h(z, k))
            return (uint64_t)k;
    }
    return 1;
}

/* ==== Names ==== */

static const char hk_gen_consonants[16] = "bdfgklmnprstvzhj";
static const char hk_gen_vowels[5] = "aeiou";

static const char *const hk_gen_verbs[20] = {
    "Has",        "Is",        "Contains", "Causes",    "Located",
    "Part",       "Member",    "Produces", "Requires",  "Uses",
    "Belongs",    "Connected", "Derived",  "Related",   "Consists",
    "Influences", "Precedes",  "Depends",  "Interacts", "Regulates"};
static const char *const hk_gen_nouns[15] = {
    "Part",   "Property", "In",        "Of",      "With",
    "Type",   "Member",   "Component", "Effect",  "Role",
    "Source", "Target",   "Origin",    "Feature", "Relation"};

/* Writes the syllable word of v (at least min_syl syllables, most
 * significant first, first letter upper case). Returns bytes written. */
static inline size_t hk_gen_word(uint64_t v, int min_syl, char *out)
{
    char digits[16];
    int n = 0;
    while ((v > 0 || n < min_syl) && n < 16) {
        digits[n++] = (char)(v % 80);
        v /= 80;
    }
    size_t len = 0;
    for (int i = n - 1; i >= 0; i--) {
        int d = (unsigned char)digits[i];
        char c = hk_gen_consonants[d / 5];
        if (len == 0) c = (char)(c - 'a' + 'A');
        out[len++] = c;
        out[len++] = hk_gen_vowels[d % 5];
    }
    return len;
}

/* Name of entity id (0-based, unique per id) into out[HK_GEN_NAME_MAX].
 * Returns its length. */
static inline size_t hk_gen_entity_name(uint32_t id, char *out)
{
    size_t len = hk_gen_word(id, 3, out);
    uint64_t mix = id;
    uint64_t h = hk_splitmix64(&mix);
    switch (id % 4) {
    case 0: /* two words, like "North Pacific" */
        out[len++] = ' ';
        len += hk_gen_word(h % 6400, 2, out + len);
        break;
    case 1: /* a number, like "Route-66" */
        len += (size_t)snprintf(out + len, 16, "-%u", (unsigned)(h % 1000));
        break;
    default:
        break;
    }
    out[len] = '\0';
    return len;
}

/* CamelCase name of predicate p (0..299) into out[HK_GEN_NAME_MAX]. */
static inline size_t hk_gen_predicate_name(uint32_t p, char *out)
{
    int len = snprintf(out, HK_GEN_NAME_MAX, "%s%s", hk_gen_verbs[p / 15],
                       hk_gen_nouns[p % 15]);
    return (size_t)len;
}

/* ==== Fact stream ==== */

typedef struct hk_gen_fact {
    uint32_t pred;                   /* predicate index 0..299 */
    uint32_t n_args;                 /* 2..5 */
    uint32_t args[HK_GEN_MAX_ARITY]; /* entity ids, distinct */
} hk_gen_fact;

typedef struct hk_gen {
    uint64_t n;          /* facts to produce */
    uint64_t produced;   /* facts produced so far */
    uint32_t n_entities; /* entity vocabulary size */
    uint64_t perm_mask;  /* 2^k - 1 >= n_entities - 1 (id permutation) */
    hk_rng rng;          /* the one random stream */
    hk_zipf entities;    /* rank distribution of arguments */
    hk_zipf predicates;  /* rank distribution of predicates */
    uint64_t *seen;      /* fingerprints of produced facts, 0 = empty */
    uint64_t seen_mask;  /* slots - 1 (power of two, load <= 0.5) */
    uint64_t duplicates; /* draws rejected because already produced */
} hk_gen;

static inline uint32_t hk_gen_vocabulary(uint64_t n)
{
    uint64_t v = n / 4;
    if (v < 1000) v = 1000;
    if (v > UINT32_MAX - 1) v = UINT32_MAX - 1;
    return (uint32_t)v;
}

/* Returns false when memory is short. Release with hk_gen_free. */
static inline bool hk_gen_init(hk_gen *g, uint64_t n, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->n_entities = hk_gen_vocabulary(n);
    g->perm_mask = 1;
    while (g->perm_mask < g->n_entities)
        g->perm_mask <<= 1;
    g->perm_mask -= 1;
    hk_rng_seed(&g->rng, seed);
    hk_zipf_init(&g->entities, g->n_entities, 1.0);
    hk_zipf_init(&g->predicates, HK_GEN_PREDICATES, 1.0);
    uint64_t slots = 1024;
    while (slots < 2 * n)
        slots <<= 1;
    g->seen = calloc(slots, sizeof *g->seen);
    if (!g->seen) return false;
    g->seen_mask = slots - 1;
    return true;
}

static inline void hk_gen_free(hk_gen *g)
{
    free(g->seen);
    g->seen = NULL;
}

/* Maps a Zipf rank (1..n_entities) to an entity id in [0, n_entities). */
static inline uint32_t hk_gen_rank_to_id(const hk_gen *g, uint64_t rank)
{
    uint64_t x = rank - 1;
    /* Affine map with an odd multiplier is a bijection mod 2^k; walking the
     * cycle until we land inside [0, n) restricts it to a bijection there. */
    for (int i = 0; i < 4096; i++) {
        x = (x * 0x9E3779B1ull + 0x7F4A7C15ull) & g->perm_mask;
        if (x < g->n_entities) return (uint32_t)x;
    }
    return (uint32_t)((rank - 1) % g->n_entities);
}

static inline uint64_t hk_gen_fingerprint(const hk_gen_fact *f)
{
    uint64_t h = 0x51ED270B2A9C4E1Full ^ ((uint64_t)f->pred << 8) ^ f->n_args;
    uint64_t x = h;
    h = hk_splitmix64(&x);
    for (uint32_t i = 0; i < f->n_args; i++) {
        x = h ^ f->args[i];
        h = hk_splitmix64(&x);
    }
    return h ? h : 1;
}

/* Inserts the fingerprint; false when it was already there. */
static inline bool hk_gen_mark_new(hk_gen *g, uint64_t fp)
{
    uint64_t i = fp & g->seen_mask;
    for (uint64_t probe = 0; probe <= g->seen_mask; probe++) {
        if (g->seen[i] == 0) {
            g->seen[i] = fp;
            return true;
        }
        if (g->seen[i] == fp) return false;
        i = (i + 1) & g->seen_mask;
    }
    return false;
}

static inline void hk_gen_draw(hk_gen *g, hk_gen_fact *f)
{
    f->pred = (uint32_t)((hk_zipf_sample(&g->predicates, &g->rng) - 1) * 7 %
                         HK_GEN_PREDICATES);
    uint64_t a = hk_rng_below(&g->rng, 100);
    f->n_args = a < 70 ? 2 : 3 + (uint32_t)((a - 70) / 10);
    for (uint32_t i = 0; i < f->n_args; i++) {
        uint32_t id = 0;
        for (int round = 0; round < 64; round++) {
            id = hk_gen_rank_to_id(g, hk_zipf_sample(&g->entities, &g->rng));
            bool clash = false;
            for (uint32_t j = 0; j < i; j++)
                clash |= f->args[j] == id;
            if (!clash) break;
        }
        f->args[i] = id;
    }
}

/* Next distinct fact; false when N facts were produced (or, never in
 * practice, when no new fact was found in 10000 draws). */
static inline bool hk_gen_next(hk_gen *g, hk_gen_fact *f)
{
    if (g->produced >= g->n) return false;
    for (int round = 0; round < 10000; round++) {
        hk_gen_draw(g, f);
        if (hk_gen_mark_new(g, hk_gen_fingerprint(f))) {
            g->produced++;
            return true;
        }
        g->duplicates++;
    }
    return false;
}

/* Canonical statement text of f ("Pred(a, b)") into out (cap bytes).
 * names[id] gives an entity's name; pred_name the predicate's. Returns the
 * length, or 0 when cap is too small. */
static inline size_t hk_gen_format(const char *pred_name,
                                   const char *const *arg_names,
                                   uint32_t n_args, char *out, size_t cap)
{
    size_t len = 0;
    int w = snprintf(out, cap, "%s(", pred_name);
    if (w < 0 || (size_t)w >= cap) return 0;
    len = (size_t)w;
    for (uint32_t i = 0; i < n_args; i++) {
        w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", arg_names[i]);
        if (w < 0 || (size_t)w >= cap - len) return 0;
        len += (size_t)w;
    }
    if (len + 2 > cap) return 0;
    out[len++] = ')';
    out[len] = '\0';
    return len;
}

#endif /* HK_GEN_H */
