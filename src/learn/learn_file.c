/*
 * learn_file.c — the model file of a KB (DIR/learn.model).
 *
 * Layout (host byte order, checked by a marker; every count bounded by
 * the file size before anything is allocated):
 *   "HKLMODEL", u32 version (2), u32 byte-order marker 0x01020304
 *   header: hyperparameters, sizes, the audit sequence the model was
 *           trained at, the split, calibration, metrics, training stats
 *   combined ranker (version 2 on): u32 fitted, f64 weights
 *           [HKL_COMBO_NF], u64 queries, u64 rows, f64 loss, f64 L2, its
 *           validation metrics (version 1 files load without it)
 *   names:  n_ent then n_rel entries of u32 length + bytes
 *   E (n_ent x width f32), R (2 n_rel x width f32)
 *   known triples (n_known x 3 u32, sorted by h, r, t)
 *   u64 FNV-1a checksum of everything before it
 * Saving writes DIR/.learn.model.tmp.PID, fsyncs it, renames it over the
 * old file and fsyncs the directory: a reader sees the old model or the
 * new one, never a mix, and a crash leaves one of them.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "learn/learn.h"
#include "learn/learn_int.h"

#define MAGIC "HKLMODEL"
#define VERSION 2u
#define BOM 0x01020304u

/* ==== Writing ==== */

typedef struct writer {
    FILE *fp;
    uint64_t sum; /* FNV-1a over the bytes written */
    bool failed;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = w->sum;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    w->sum = h;
    if (!w->failed && n && fwrite(p, 1, n, w->fp) != n) w->failed = true;
}

#define PUT(w, v) put((w), &(v), sizeof(v))

static void put_metrics(writer *w, const hkl_metrics *mt)
{
    PUT(w, mt->mrr);
    PUT(w, mt->hits1);
    PUT(w, mt->hits3);
    PUT(w, mt->hits10);
    PUT(w, mt->mean_rank);
    PUT(w, mt->n);
}

static void put_names(writer *w, const hkl_names *nm)
{
    for (uint32_t i = 0; i < nm->n; i++) {
        uint32_t len = (uint32_t)strlen(nm->v[i]);
        PUT(w, len);
        put(w, nm->v[i], len);
    }
}

static void put_model(writer *w, const hkl_model *m)
{
    uint32_t version = VERSION, bom = BOM, kind = (uint32_t)m->p.kind;
    put(w, MAGIC, 8);
    PUT(w, version);
    PUT(w, bom);
    PUT(w, kind);
    PUT(w, m->p.dim);
    PUT(w, m->p.epochs);
    PUT(w, m->p.threads);
    PUT(w, m->p.seed);
    PUT(w, m->p.lr);
    PUT(w, m->p.reg);
    PUT(w, m->p.init_scale);
    PUT(w, m->p.negatives);
    PUT(w, m->p.eval_every);
    PUT(w, m->p.patience);
    PUT(w, m->p.valid_max);
    PUT(w, m->width);
    PUT(w, m->ent.n);
    PUT(w, m->rel.n);
    uint64_t n_known = m->known.n;
    PUT(w, n_known);
    PUT(w, m->audit_seq);
    PUT(w, m->trained_us);
    PUT(w, m->split_seed);
    PUT(w, m->split_valid);
    PUT(w, m->split_test);
    PUT(w, m->platt_a);
    PUT(w, m->platt_b);
    put_metrics(w, &m->valid);
    put_metrics(w, &m->test);
    PUT(w, m->epochs_run);
    PUT(w, m->best_epoch);
    PUT(w, m->train_seconds);
    PUT(w, m->last_loss);
    PUT(w, m->n_train);
    PUT(w, m->triples_per_sec);
    uint32_t fitted = m->combo.fitted;
    PUT(w, fitted);
    put(w, m->combo.w, sizeof m->combo.w);
    PUT(w, m->combo.fit_queries);
    PUT(w, m->combo.fit_rows);
    PUT(w, m->combo.fit_loss);
    PUT(w, m->combo.fit_l2);
    put_metrics(w, &m->combo.valid);
    put_names(w, &m->ent);
    put_names(w, &m->rel);
    put(w, m->E, (size_t)m->ent.n * m->width * sizeof(float));
    put(w, m->R, (size_t)m->rel.n * 2 * m->width * sizeof(float));
    if (n_known) put(w, m->known.hrt, n_known * sizeof(hkl_triple));
}

hk_err hkl_save(const hkl_model *m, const char *path, hk_error *err)
{
    char tmp[4096], dir[4096];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 1;
    if (snprintf(dir, sizeof dir, "%.*s", dl, slash ? path : ".") < 0 ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir,
                 slash ? slash + 1 : path, (long)getpid()) >= (int)sizeof tmp)
        return hk_error_set(err, HK_ERR_INVALID, "model path too long");
    writer w = {fopen(tmp, "wb"), 1469598103934665603ull, false};
    if (!w.fp)
        return hk_error_set(err, HK_ERR_IO, "cannot create %s (%s)", tmp,
                            strerror(errno));
    put_model(&w, m);
    uint64_t sum = w.sum;
    if (!w.failed && fwrite(&sum, sizeof sum, 1, w.fp) != 1) w.failed = true;
    if (!w.failed && fflush(w.fp)) w.failed = true;
    if (!w.failed && fsync(fileno(w.fp))) w.failed = true;
    int saved = errno;
    if (fclose(w.fp)) w.failed = true;
    if (w.failed || rename(tmp, path)) {
        if (!w.failed) saved = errno;
        unlink(tmp);
        return hk_error_set(err, saved == ENOSPC ? HK_ERR_DISK_FULL : HK_ERR_IO,
                            "cannot write %s (%s)", path, strerror(saved));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return HK_OK;
}

/* ==== Reading ==== */

typedef struct reader {
    const unsigned char *p; /* next byte */
    size_t left;            /* bytes left before the checksum */
    bool short_read;        /* a field ran past the end */
} reader;

static void get(reader *r, void *out, size_t n)
{
    if (r->short_read || n > r->left) {
        r->short_read = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
}

#define GET(r, v) get((r), &(v), sizeof(v))

static void get_metrics(reader *r, hkl_metrics *mt)
{
    GET(r, mt->mrr);
    GET(r, mt->hits1);
    GET(r, mt->hits3);
    GET(r, mt->hits10);
    GET(r, mt->mean_rank);
    GET(r, mt->n);
}

static hk_err get_names(reader *r, hkl_names *nm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) { /* bounded by the file size */
        uint32_t len = 0, id;
        GET(r, len);
        if (r->short_read || len > r->left) return HK_ERR_CORRUPT;
        hk_err rc = hkl_names_intern(nm, (const char *)r->p, len, &id);
        if (rc) return rc;
        if (id != i) return HK_ERR_CORRUPT; /* a name given twice */
        r->p += len;
        r->left -= len;
    }
    return HK_OK;
}

static hk_err corrupt(hk_error *err, const char *path, const char *why)
{
    return hk_error_set(err, HK_ERR_CORRUPT, "model file %s is damaged (%s)",
                        path, why);
}

static hk_err parse_model(const unsigned char *buf, size_t len,
                          const char *path, hkl_model *m, hk_error *err)
{
    if (len < 16 || memcmp(buf, MAGIC, 8))
        return corrupt(err, path, "not a model file");
    uint32_t version, bom, kind;
    memcpy(&version, buf + 8, 4);
    memcpy(&bom, buf + 12, 4);
    if (version < 1 || version > VERSION || bom != BOM)
        return hk_error_set(err, HK_ERR_VERSION,
                            "model file %s has version %u (this build reads "
                            "1 to %u, same byte order)",
                            path, version, VERSION);
    if (len < 24) return corrupt(err, path, "truncated");
    uint64_t want, sum = 1469598103934665603ull;
    memcpy(&want, buf + len - 8, 8);
    for (size_t i = 0; i < len - 8; i++) {
        sum ^= buf[i];
        sum *= 1099511628211ull;
    }
    if (sum != want) return corrupt(err, path, "checksum mismatch");
    reader r = {buf + 16, len - 24, false};
    uint32_t n_ent = 0, n_rel = 0;
    uint64_t n_known = 0;
    GET(&r, kind);
    m->p.kind = (hkl_kind)kind;
    GET(&r, m->p.dim);
    GET(&r, m->p.epochs);
    GET(&r, m->p.threads);
    GET(&r, m->p.seed);
    GET(&r, m->p.lr);
    GET(&r, m->p.reg);
    GET(&r, m->p.init_scale);
    GET(&r, m->p.negatives);
    GET(&r, m->p.eval_every);
    GET(&r, m->p.patience);
    GET(&r, m->p.valid_max);
    GET(&r, m->width);
    GET(&r, n_ent);
    GET(&r, n_rel);
    GET(&r, n_known);
    GET(&r, m->audit_seq);
    GET(&r, m->trained_us);
    GET(&r, m->split_seed);
    GET(&r, m->split_valid);
    GET(&r, m->split_test);
    GET(&r, m->platt_a);
    GET(&r, m->platt_b);
    get_metrics(&r, &m->valid);
    get_metrics(&r, &m->test);
    GET(&r, m->epochs_run);
    GET(&r, m->best_epoch);
    GET(&r, m->train_seconds);
    GET(&r, m->last_loss);
    GET(&r, m->n_train);
    GET(&r, m->triples_per_sec);
    if (version >= 2) {
        uint32_t fitted = 0;
        GET(&r, fitted);
        get(&r, m->combo.w, sizeof m->combo.w);
        GET(&r, m->combo.fit_queries);
        GET(&r, m->combo.fit_rows);
        GET(&r, m->combo.fit_loss);
        GET(&r, m->combo.fit_l2);
        get_metrics(&r, &m->combo.valid);
        if (fitted > 1) return corrupt(err, path, "bad combined ranker");
        m->combo.fitted = fitted;
        for (int k = 0; k < HKL_COMBO_NF; k++)
            if (!isfinite(m->combo.w[k]))
                return corrupt(err, path, "bad combined ranker weight");
    }
    if (r.short_read) return corrupt(err, path, "truncated header");
    hk_error e2;
    if ((kind != HKL_DISTMULT && kind != HKL_COMPLEX) ||
        m->width != (kind == HKL_COMPLEX ? 2 * m->p.dim : m->p.dim) ||
        hkl_params_check(&m->p, &e2))
        return corrupt(err, path, "bad hyperparameters");
    /* sizes must fit in what is left before allocating */
    size_t row = (size_t)m->width * sizeof(float);
    if ((uint64_t)n_ent * 4 > r.left || (uint64_t)n_rel * 4 > r.left ||
        n_known > r.left / sizeof(hkl_triple) ||
        ((uint64_t)n_ent + 2ull * n_rel) > r.left / row)
        return corrupt(err, path, "sizes exceed the file");
    hk_err rc = get_names(&r, &m->ent, n_ent);
    if (!rc) rc = get_names(&r, &m->rel, n_rel);
    if (rc == HK_ERR_NOMEM) return hk_error_set(err, rc, "out of memory");
    if (rc) return corrupt(err, path, "bad name table");
    size_t ne = (size_t)n_ent * m->width, nr = (size_t)n_rel * 2 * m->width;
    if ((ne + nr) * sizeof(float) + n_known * sizeof(hkl_triple) != r.left)
        return corrupt(err, path, "sizes disagree with the file");
    m->E = hk_malloc((ne ? ne : 1) * sizeof(float));
    m->R = hk_malloc((nr ? nr : 1) * sizeof(float));
    hkl_triple *kv = hk_malloc((n_known ? n_known : 1) * sizeof *kv);
    if (!m->E || !m->R || !kv) {
        hk_free(kv);
        return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    }
    get(&r, m->E, ne * sizeof(float));
    get(&r, m->R, nr * sizeof(float));
    get(&r, kv, n_known * sizeof *kv);
    for (uint64_t i = 0; i < n_known; i++)
        if (kv[i].h >= n_ent || kv[i].t >= n_ent || kv[i].r >= n_rel) {
            hk_free(kv);
            return corrupt(err, path, "known triple out of range");
        }
    rc = hkl_known_build(&m->known, kv, n_known);
    hk_free(kv);
    if (rc) return hk_error_set(err, rc, "out of memory");
    return HK_OK;
}

hk_err hkl_load(const char *path, hkl_model **out, hk_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hk_error_set(err, errno == ENOENT ? HK_ERR_NOT_FOUND : HK_ERR_IO,
                            "cannot open model file %s (%s)", path,
                            strerror(errno));
    struct stat st;
    unsigned char *buf = NULL;
    hkl_model *m = NULL;
    hk_err rc;
    if (fstat(fd, &st) || st.st_size < 0) {
        rc = hk_error_set(err, HK_ERR_IO, "cannot stat %s (%s)", path,
                          strerror(errno));
        goto done;
    }
    size_t len = (size_t)st.st_size;
    buf = hk_malloc(len ? len : 1);
    m = hk_calloc(1, sizeof *m);
    if (!buf || !m) {
        rc = hk_error_set(err, HK_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = hk_error_set(err, HK_ERR_IO, "reading %s failed", path);
            goto done;
        }
        got += (size_t)n;
    }
    rc = parse_model(buf, len, path, m, err);
    if (!rc) {
        *out = m;
        m = NULL;
    }
done:
    close(fd);
    hk_free(buf);
    hkl_model_free(m);
    return rc;
}
