/*
 * learn_data.c — the triples a model learns from: a name dictionary,
 * facts decomposed into edges (see learn.h, "Facts as triples"), the
 * stable train/valid/test split of a KB's facts, the tab-separated split
 * files of the public benchmarks, and the sorted sets of true triples that
 * filtered ranking needs.
 *
 * Threads: an hkl_data is built by one thread; once finished it is only
 * read (training and evaluation read it from several threads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "learn/learn.h"

/* ==== Names ==== */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static hk_err names_grow_table(hkl_names *nm)
{
    uint32_t n_slots = nm->n_slots ? nm->n_slots * 2 : 64;
    uint32_t *slots = hk_calloc(n_slots, sizeof *slots);
    if (!slots) return HK_ERR_NOMEM;
    for (uint32_t id = 0; id < nm->n; id++) {
        uint64_t h = hash_bytes(nm->v[id], strlen(nm->v[id]));
        uint32_t i = (uint32_t)h & (n_slots - 1);
        while (slots[i])
            i = (i + 1) & (n_slots - 1);
        slots[i] = id + 1;
    }
    hk_free(nm->slots);
    nm->slots = slots;
    nm->n_slots = n_slots;
    return HK_OK;
}

uint32_t hkl_names_find(const hkl_names *nm, const char *s, size_t len)
{
    if (!nm->n_slots) return UINT32_MAX;
    uint32_t i = (uint32_t)hash_bytes(s, len) & (nm->n_slots - 1);
    for (;;) {
        uint32_t v = nm->slots[i];
        if (!v) return UINT32_MAX;
        const char *c = nm->v[v - 1];
        if (strncmp(c, s, len) == 0 && c[len] == '\0') return v - 1;
        i = (i + 1) & (nm->n_slots - 1);
    }
}

hk_err hkl_names_intern(hkl_names *nm, const char *s, size_t len, uint32_t *id)
{
    uint32_t found = hkl_names_find(nm, s, len);
    if (found != UINT32_MAX) {
        *id = found;
        return HK_OK;
    }
    if (nm->n >= UINT32_MAX / 4) return HK_ERR_LIMIT;
    if ((uint64_t)(nm->n + 1) * 2 >= nm->n_slots) {
        hk_err rc = names_grow_table(nm);
        if (rc) return rc;
    }
    if (nm->n == nm->cap) {
        uint32_t cap = nm->cap ? nm->cap * 2 : 64;
        char **v = hk_realloc(nm->v, (size_t)cap * sizeof *v);
        if (!v) return HK_ERR_NOMEM;
        nm->v = v;
        nm->cap = cap;
    }
    char *copy = hk_strndup(s, len);
    if (!copy) return HK_ERR_NOMEM;
    uint32_t i = (uint32_t)hash_bytes(s, len) & (nm->n_slots - 1);
    while (nm->slots[i])
        i = (i + 1) & (nm->n_slots - 1);
    nm->v[nm->n] = copy;
    nm->slots[i] = nm->n + 1;
    *id = nm->n++;
    return HK_OK;
}

void hkl_names_free(hkl_names *nm)
{
    for (uint32_t i = 0; i < nm->n; i++)
        hk_free(nm->v[i]);
    hk_free(nm->v);
    hk_free(nm->slots);
    memset(nm, 0, sizeof *nm);
}

/* ==== Data ==== */

void hkl_data_init(hkl_data *d)
{
    memset(d, 0, sizeof *d);
}

void hkl_data_free(hkl_data *d)
{
    hkl_names_free(&d->ent);
    hkl_names_free(&d->rel);
    for (int i = 0; i < 3; i++)
        hk_free(d->split[i]);
    hkl_known_free(&d->known);
    memset(d, 0, sizeof *d);
}

hk_err hkl_data_add(hkl_data *d, hkl_split sp, const char *h, size_t hl,
                    const char *r, size_t rl, const char *t, size_t tl)
{
    hkl_triple x;
    hk_err rc;
    if ((rc = hkl_names_intern(&d->ent, h, hl, &x.h))) return rc;
    if ((rc = hkl_names_intern(&d->rel, r, rl, &x.r))) return rc;
    if ((rc = hkl_names_intern(&d->ent, t, tl, &x.t))) return rc;
    if (d->n[sp] == d->cap[sp]) {
        size_t cap = d->cap[sp] ? d->cap[sp] * 2 : 1024;
        hkl_triple *v = hk_realloc(d->split[sp], cap * sizeof *v);
        if (!v) return HK_ERR_NOMEM;
        d->split[sp] = v;
        d->cap[sp] = cap;
    }
    d->split[sp][d->n[sp]++] = x;
    return HK_OK;
}

hk_err hkl_data_add_statement(hkl_data *d, hkl_split sp, const hk_statement *st)
{
    const char *p = st->predicate;
    size_t pl = strlen(p);
    const char *a0 = st->args[0];
    if (st->n_args == 1)
        return hkl_data_add(d, sp, a0, strlen(a0), p, pl, "", 0);
    if (st->n_args == 2)
        return hkl_data_add(d, sp, a0, strlen(a0), p, pl, st->args[1],
                            strlen(st->args[1]));
    char rel[HK_MAX_PREDICATE_BYTES + 16];
    for (uint32_t i = 1; i < st->n_args && i < HK_MAX_ARGS; i++) {
        int rl = snprintf(rel, sizeof rel, "%s#%u", p, i);
        if (rl < 0 || (size_t)rl >= sizeof rel) return HK_ERR_LIMIT;
        hk_err rc = hkl_data_add(d, sp, a0, strlen(a0), rel, (size_t)rl,
                                 st->args[i], strlen(st->args[i]));
        if (rc) return rc;
    }
    return HK_OK;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

hkl_split hkl_split_of(hk_fact_id id, uint64_t seed, double valid, double test)
{
    double u = (double)(mix64(id ^ mix64(seed)) >> 11) * 0x1.0p-53;
    if (u < valid) return HKL_VALID;
    if (u < valid + test) return HKL_TEST;
    return HKL_TRAIN;
}

hk_err hkl_data_from_kb(hk_txn *t, hkl_data *d, uint64_t split_seed,
                        double valid, double test, hk_error *err)
{
    hk_scan scan = HK_SCAN_INIT;
    hk_query *q = NULL;
    hk_fact f;
    hk_fact_init(&f);
    hk_err rc = hk_query_open_scan(t, &scan, NULL, &q, err);
    if (rc) goto done;
    for (;;) { /* bounded by the facts of the snapshot */
        bool has = false;
        if ((rc = hk_query_next(q, &f, &has, err))) goto done;
        if (!has) break;
        d->facts++;
        hkl_split sp = hkl_split_of(f.id, split_seed, valid, test);
        if ((rc = hkl_data_add_statement(d, sp, &f.st))) {
            hk_error_set(err, rc, "reading fact %llu for training: %s",
                         (unsigned long long)f.id, hk_strerror(rc));
            goto done;
        }
    }
done:
    hk_query_close(q);
    hk_fact_release(&f);
    return rc;
}

/* Reads one split file; a missing valid or test file is an empty split,
 * a missing train file an error. */
static hk_err read_split_file(const char *dir, const char *name, hkl_split sp,
                              hkl_data *d, hk_error *err)
{
    char path[4096];
    int pl = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (pl < 0 || (size_t)pl >= sizeof path)
        return hk_error_set(err, HK_ERR_INVALID, "split directory too long");
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT && sp != HKL_TRAIN) return HK_OK;
        return hk_error_set(err, errno == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO,
                            "cannot open %s (%s)", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    hk_err rc = HK_OK;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) continue;
        d->facts++;
        char *t1 = memchr(line, '\t', (size_t)len);
        char *t2 =
            t1 ? memchr(t1 + 1, '\t', (size_t)(line + len - t1 - 1)) : NULL;
        if (!t1 || !t2 || memchr(t2 + 1, '\t', (size_t)(line + len - t2 - 1)) ||
            t1 == line || t2 == t1 + 1 || t2 + 1 == line + len) {
            rc = hk_error_set(err, HK_ERR_INVALID,
                              "%s line %llu: expected head<TAB>relation<TAB>"
                              "tail",
                              path, (unsigned long long)lineno);
            err->line = lineno;
            break;
        }
        rc = hkl_data_add(d, sp, line, (size_t)(t1 - line), t1 + 1,
                          (size_t)(t2 - t1 - 1), t2 + 1,
                          (size_t)(line + len - t2 - 1));
        if (rc) {
            hk_error_set(err, rc, "%s line %llu: %s", path,
                         (unsigned long long)lineno, hk_strerror(rc));
            break;
        }
    }
    if (!rc && ferror(fp))
        rc = hk_error_set(err, HK_ERR_IO, "reading %s failed", path);
    free(line);
    fclose(fp);
    return rc;
}

hk_err hkl_data_read_split(const char *dir, hkl_data *d, hk_error *err)
{
    static const char *const files[3] = {"train.txt", "valid.txt", "test.txt"};
    for (int i = 0; i < 3; i++) {
        hk_err rc = read_split_file(dir, files[i], (hkl_split)i, d, err);
        if (rc) return rc;
    }
    return HK_OK;
}

/* ==== Known triples ==== */

static int cmp_hrt(const void *a, const void *b)
{
    const hkl_triple *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return 0;
}

static int cmp_trh(const void *a, const void *b)
{
    const hkl_triple *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return 0;
}

hk_err hkl_known_build(hkl_known *k, const hkl_triple *v, size_t n)
{
    memset(k, 0, sizeof *k);
    k->hrt = hk_malloc((n ? n : 1) * sizeof *k->hrt);
    k->trh = hk_malloc((n ? n : 1) * sizeof *k->trh);
    if (!k->hrt || !k->trh) {
        hkl_known_free(k);
        return HK_ERR_NOMEM;
    }
    if (n) memcpy(k->hrt, v, n * sizeof *v);
    qsort(k->hrt, n, sizeof *k->hrt, cmp_hrt);
    size_t u = 0; /* drop duplicates */
    for (size_t i = 0; i < n; i++)
        if (!u || cmp_hrt(&k->hrt[u - 1], &k->hrt[i])) k->hrt[u++] = k->hrt[i];
    if (u) memcpy(k->trh, k->hrt, u * sizeof *v);
    qsort(k->trh, u, sizeof *k->trh, cmp_trh);
    k->n = u;
    return HK_OK;
}

void hkl_known_free(hkl_known *k)
{
    hk_free(k->hrt);
    hk_free(k->trh);
    memset(k, 0, sizeof *k);
}

bool hkl_known_has(const hkl_known *k, uint32_t h, uint32_t r, uint32_t t)
{
    hkl_triple key = {h, r, t};
    return k->n && bsearch(&key, k->hrt, k->n, sizeof key, cmp_hrt) != NULL;
}

hk_err hkl_data_finish(hkl_data *d, hk_error *err)
{
    size_t n = d->n[0] + d->n[1] + d->n[2];
    hkl_triple *all = hk_malloc((n ? n : 1) * sizeof *all);
    if (!all) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    size_t o = 0;
    for (int i = 0; i < 3; i++) {
        if (d->n[i]) memcpy(all + o, d->split[i], d->n[i] * sizeof *all);
        o += d->n[i];
    }
    hkl_known_free(&d->known);
    hk_err rc = hkl_known_build(&d->known, all, n);
    hk_free(all);
    if (rc) return hk_error_set(err, rc, "out of memory");
    return HK_OK;
}
