/*
 * gql_cache.c — validated documents by query text, so that a client that
 * sends the same document again (the usual case: an application has a
 * handful of queries and changes only their variables) skips parsing and
 * validation.
 *
 * A bounded table of GQL_CACHE_SLOTS entries, least recently used out.
 * The key is the exact text plus the limits it was validated under. An
 * entry owns its document and counts its users: a prepared request holds
 * a reference while it runs, so an entry evicted meanwhile is freed by
 * its last user. Documents are read-only once validated, so threads share
 * them; one mutex guards the table and the counts (held for a lookup of
 * a few dozen hash comparisons, never while parsing or executing).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "graphql/gql_int.h"

#define GQL_CACHE_SLOTS 128      /* entries kept */
#define GQL_CACHE_MAX_TEXT 16384 /* longer documents are not kept */

struct gql_cached {
    uint64_t hash;     /* of text and limits */
    char *text;        /* the query text (owned) */
    size_t len;        /* bytes of text */
    hk_gql_limits lim; /* limits it was validated under */
    hk_gql_doc *doc;   /* the validated document (owned) */
    unsigned refs;     /* the table's own + one per user */
    uint64_t used;     /* tick of the last use */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static gql_cached *g_slots[GQL_CACHE_SLOTS];
static uint64_t g_tick;

static uint64_t key_hash(const char *text, size_t len, const hk_gql_limits *l)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    h ^= (uint64_t)l->max_tokens * 31 + l->max_depth;
    h = (h ^ l->max_complexity) * 1099511628211ull;
    return h;
}

static bool same_key(const gql_cached *e, uint64_t h, const char *text,
                     size_t len, const hk_gql_limits *l)
{
    return e->hash == h && e->len == len &&
           e->lim.max_tokens == l->max_tokens &&
           e->lim.max_depth == l->max_depth &&
           e->lim.max_complexity == l->max_complexity &&
           !memcmp(e->text, text, len);
}

static void unref_locked(gql_cached *e)
{
    if (--e->refs > 0) return;
    hk_gql_doc_free(e->doc);
    hk_free(e->text);
    hk_free(e);
}

hk_gql_doc *gql_cache_get(const char *text, size_t len,
                          const hk_gql_limits *lim, gql_cached **ref)
{
    *ref = NULL;
    if (len > GQL_CACHE_MAX_TEXT) return NULL;
    uint64_t h = key_hash(text, len, lim);
    hk_gql_doc *doc = NULL;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < GQL_CACHE_SLOTS; i++) {
        gql_cached *e = g_slots[i];
        if (e && same_key(e, h, text, len, lim)) {
            e->refs++;
            e->used = ++g_tick;
            *ref = e;
            doc = e->doc;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return doc;
}

gql_cached *gql_cache_put(const char *text, size_t len,
                          const hk_gql_limits *lim, hk_gql_doc *doc)
{
    if (len > GQL_CACHE_MAX_TEXT) return NULL;
    gql_cached *e = hk_calloc(1, sizeof(*e));
    char *copy = hk_malloc(len + 1);
    if (!e || !copy) {
        hk_free(e);
        hk_free(copy);
        return NULL; /* not kept: the caller still owns doc */
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    e->hash = key_hash(text, len, lim);
    e->text = copy;
    e->len = len;
    e->lim = *lim;
    e->doc = doc;
    e->refs = 2; /* the table's and the caller's */
    pthread_mutex_lock(&g_lock);
    e->used = ++g_tick;
    size_t victim = 0;
    for (size_t i = 0; i < GQL_CACHE_SLOTS; i++) {
        if (!g_slots[i]) {
            victim = i;
            break;
        }
        if (g_slots[i]->used < g_slots[victim]->used) victim = i;
    }
    if (g_slots[victim]) unref_locked(g_slots[victim]);
    g_slots[victim] = e;
    pthread_mutex_unlock(&g_lock);
    return e;
}

void gql_cache_release(gql_cached *e)
{
    if (!e) return;
    pthread_mutex_lock(&g_lock);
    unref_locked(e);
    pthread_mutex_unlock(&g_lock);
}

void hk_gql_cache_clear(void)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < GQL_CACHE_SLOTS; i++) {
        if (g_slots[i]) unref_locked(g_slots[i]);
        g_slots[i] = NULL;
    }
    pthread_mutex_unlock(&g_lock);
}
