/*
 * mcp_similar.c — lexical similarity of statements, the method behind
 * semantic_similarity and analyze_duplicates until vector embeddings
 * arrive.
 *
 * A statement's profile is
 *  - its search tokens (hk_tokenize: lower case, split at punctuation,
 *    camelCase and letter/digit boundaries, so HasPart(Computer, CPU)
 *    gives has, part, computer, cpu), and
 *  - the character trigrams of those tokens joined by single spaces and
 *    padded with one space at each end (so "part" and "parts" still share
 *    most trigrams).
 * Both sets are stored as sorted arrays of 64-bit FNV-1a hashes; the
 * similarity of two profiles is the mean of the Jaccard index of the token
 * sets and that of the trigram sets (1.0 for equal token streams). This is
 * honest lexical similarity, not meaning: synonyms score low.
 *
 * Thread-safe: pure functions; profiles belong to their caller.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_int.h"

#define MCP_PROFILE_MAX_TOKENS 512 /* tokens kept per statement */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and removes duplicates; returns the new length. */
static size_t sort_unique(uint64_t *v, size_t n)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

typedef struct token_sink {
    hk_buf joined;   /* " tok tok tok " */
    size_t n_tokens; /* tokens appended */
} token_sink;

static hk_err on_token(void *ud, const char *tok, size_t len)
{
    token_sink *ts = ud;
    if (ts->n_tokens >= MCP_PROFILE_MAX_TOKENS) return HK_ERR_LIMIT;
    hk_err rc = hk_buf_append(&ts->joined, tok, len);
    if (rc == HK_OK) rc = hk_buf_append(&ts->joined, " ", 1);
    ts->n_tokens++;
    return rc;
}

hk_err mcp_profile_build(const char *text, size_t len, mcp_profile *p)
{
    memset(p, 0, sizeof *p);
    token_sink ts = {HK_BUF_INIT, 0};
    hk_err rc = hk_buf_append(&ts.joined, " ", 1);
    if (rc != HK_OK) goto fail;
    rc = hk_tokenize(text, len, on_token, &ts);
    if (rc == HK_ERR_LIMIT) rc = HK_OK; /* keep the first tokens */
    if (rc != HK_OK) goto fail;

    const char *j = ts.joined.data;
    size_t jl = ts.joined.len;
    p->tokens = malloc((ts.n_tokens + 1) * sizeof *p->tokens);
    p->grams = malloc((jl + 1) * sizeof *p->grams);
    if (!p->tokens || !p->grams) {
        rc = HK_ERR_NOMEM;
        goto fail;
    }
    /* tokens: the runs between spaces */
    size_t start = 1;
    for (size_t i = 1; i < jl; i++) {
        if (j[i] == ' ') {
            if (i > start)
                p->tokens[p->n_tokens++] = fnv1a(j + start, i - start);
            start = i + 1;
        }
    }
    for (size_t i = 0; i + 3 <= jl; i++)
        p->grams[p->n_grams++] = fnv1a(j + i, 3);
    p->n_tokens = sort_unique(p->tokens, p->n_tokens);
    p->n_grams = sort_unique(p->grams, p->n_grams);
    hk_buf_free(&ts.joined);
    return HK_OK;
fail:
    hk_buf_free(&ts.joined);
    mcp_profile_release(p);
    return rc;
}

void mcp_profile_release(mcp_profile *p)
{
    free(p->tokens);
    free(p->grams);
    memset(p, 0, sizeof *p);
}

static double jaccard(const uint64_t *a, size_t na, const uint64_t *b,
                      size_t nb)
{
    if (na == 0 && nb == 0) return 1.0;
    size_t i = 0, k = 0, common = 0;
    while (i < na && k < nb) {
        if (a[i] == b[k]) {
            common++;
            i++;
            k++;
        } else if (a[i] < b[k]) {
            i++;
        } else {
            k++;
        }
    }
    return (double)common / (double)(na + nb - common);
}

double mcp_similarity(const mcp_profile *a, const mcp_profile *b)
{
    double t = jaccard(a->tokens, a->n_tokens, b->tokens, b->n_tokens);
    double g = jaccard(a->grams, a->n_grams, b->grams, b->n_grams);
    return (t + g) / 2.0;
}
