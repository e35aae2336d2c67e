/*
 * hnsw_file.c — an HNSW index written to a file and read back, so that a
 * process starts with its graph instead of rebuilding it.
 *
 * Layout (native little-endian words; the reader checks an endian mark):
 *
 *   header   "HKVIDX01", u32 version 1, u32 0x01020304, six u32 params
 *            (dim, metric, quant, m, ef_construction, ef), u32 n_nodes,
 *            u32 entry, u32 max_level, u32 meta_len, u64 n_live, u64 rng,
 *            meta_len bytes of the caller's metadata
 *   nodes    per node: u64 id, u32 level, u32 dead, f32 scale, f32 norm2,
 *            the vector (dim floats or dim int8 codes), its link words
 *            ((1 + 2M) + level * (1 + M) u32)
 *   trailer  u64 hash of every byte before it, "HKVEND01"
 *
 * Writing goes to PATH.tmp.PID, is fsynced and renamed over PATH, so a
 * reader sees the old file or the new one, never a torn one. Reading
 * trusts nothing: sizes are checked against the file's length before
 * anything is allocated, every link is checked to point at a node of a
 * high enough level, and the hash must match; any failure is
 * HK_ERR_CORRUPT (the caller rebuilds from the store). The file is read
 * in large blocks; the vectors and links of all nodes go into one arena
 * sized from the file's length (the index owns it), level-0 links are
 * bounds-checked as they arrive and only the few upper-level lists are
 * checked in a second pass.
 *
 * Threads: saving reads the index (no add or delete may run meanwhile);
 * reading builds a new index owned by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

#define FILE_MAGIC "HKVIDX01"
#define FILE_END "HKVEND01"
#define FILE_VERSION 1u
#define FILE_ENDIAN 0x01020304u
/* Fewer bytes than this cannot be an index file (header 72 + trailer). */
#define FILE_HEADER 80u
/* Bytes of a node before its vector. */
#define NODE_HEAD 24u

/* ==== Hashing the byte stream ==== */

/* A 64-bit hash over the chunks written or read, in order. Not
 * cryptographic: it finds torn and damaged files. */
static uint64_t hash_chunk(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return (h ^ n) * k;
}

typedef struct file_io {
    FILE *f;    /* the open file */
    uint64_t h; /* hash so far */
    bool bad;   /* a read or write failed */
} file_io;

static void put(file_io *io, const void *p, size_t n)
{
    if (io->bad) return;
    io->h = hash_chunk(io->h, p, n);
    if (n && fwrite(p, 1, n, io->f) != n) io->bad = true;
}

static size_t link_words(const hkv_index *ix, uint32_t level)
{
    return (1u + ix->m0) + (size_t)level * (1 + ix->p.m);
}

/* ==== Saving ==== */

hk_err hkv_index_save(const hkv_index *ix, const char *path, const void *meta,
                      size_t meta_len, hk_error *err)
{
    char tmp[4096];
    if (meta_len > HKV_FILE_META_MAX)
        return hk_error_set(err, HK_ERR_INVALID, "index metadata of %zu bytes",
                            meta_len);
    int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof tmp)
        return hk_error_set(err, HK_ERR_INVALID, "index path too long");
    file_io io = {fopen(tmp, "wb"), 0, false};
    if (!io.f)
        return hk_error_set(err, HK_ERR_IO, "cannot create %s: %s", tmp,
                            strerror(errno));
    setvbuf(io.f, NULL, _IOFBF, 1 << 20);
    uint32_t hw[14] = {FILE_VERSION,
                       FILE_ENDIAN,
                       ix->p.dim,
                       (uint32_t)ix->p.metric,
                       (uint32_t)ix->p.quant,
                       ix->p.m,
                       ix->p.ef_construction,
                       ix->p.ef,
                       ix->n_nodes,
                       ix->entry,
                       ix->max_level,
                       (uint32_t)meta_len,
                       0,
                       0};
    uint64_t hq[2] = {ix->n_live, ix->rng};
    put(&io, FILE_MAGIC, 8);
    put(&io, hw, 12 * sizeof *hw);
    put(&io, hq, sizeof hq);
    put(&io, meta, meta_len);
    size_t vbytes = (size_t)ix->p.dim * (ix->p.quant == HKV_I8 ? 1 : 4);
    for (uint32_t i = 0; i < ix->n_nodes && !io.bad; i++) {
        const hnsw_node *n = &ix->nodes[i];
        uint8_t head[NODE_HEAD];
        memcpy(head, &n->id, 8);
        memcpy(head + 8, &n->level, 4);
        memcpy(head + 12, &n->dead, 4);
        memcpy(head + 16, &n->scale, 4);
        memcpy(head + 20, &n->norm2, 4);
        put(&io, head, sizeof head);
        put(&io, n->vec, vbytes);
        put(&io, n->links, link_words(ix, n->level) * sizeof(uint32_t));
    }
    uint64_t h = io.h;
    put(&io, &h, sizeof h);
    put(&io, FILE_END, 8);
    bool ok = !io.bad && fflush(io.f) == 0 && fsync(fileno(io.f)) == 0;
    int saved = errno;
    ok = fclose(io.f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        return hk_error_set(err, HK_ERR_IO, "cannot write %s: %s", path,
                            strerror(saved));
    }
    /* make the rename durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    return HK_OK;
}

/* ==== Reading ==== */

static hk_err corrupt(hk_error *err, const char *path, const char *why)
{
    return hk_error_set(err, HK_ERR_CORRUPT, "index file %s: %s", path, why);
}

/* A reader of the file in large blocks: take() hands out the next n bytes
 * contiguous in buf (moving a partial record to the front and refilling),
 * so a node costs no call into stdio and no copy beyond its final place. */
typedef struct file_rd {
    int fd;       /* the open file */
    uint8_t *buf; /* READ_BLOCK bytes */
    size_t pos;   /* next unread byte of buf */
    size_t len;   /* bytes of buf filled */
    uint64_t h;   /* hash of the chunks taken so far */
} file_rd;

/* Bytes of one read; a node record is far smaller (checked). */
#define READ_BLOCK ((size_t)8 << 20)

/* The next n bytes (hashed as one chunk, as the writer did), or NULL at a
 * short file or read error. */
static const uint8_t *take(file_rd *r, size_t n)
{
    if (n > READ_BLOCK) return NULL;
    if (r->len - r->pos < n) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        while (r->len < n) { /* each pass reads a byte or returns */
            ssize_t k = read(r->fd, r->buf + r->len, READ_BLOCK - r->len);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return NULL;
            r->len += (size_t)k;
        }
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    r->h = hash_chunk(r->h, p, n);
    return p;
}

/* Checks the links above level 0 (level 0 links were bounds-checked while
 * reading): each must point at another node of a high enough level. Only
 * the few nodes with upper levels are visited. */
static bool upper_links_ok(const hkv_index *ix)
{
    for (uint32_t i = 0; i < ix->n_nodes; i++) {
        const hnsw_node *n = &ix->nodes[i];
        for (uint32_t l = 1; l <= n->level; l++) {
            const uint32_t *lk =
                n->links + (1 + ix->m0) + (size_t)(l - 1) * (1 + ix->p.m);
            if (lk[0] > ix->p.m) return false;
            for (uint32_t j = 0; j < lk[0]; j++) {
                uint32_t b = lk[1 + j];
                if (b >= ix->n_nodes || b == i || ix->nodes[b].level < l)
                    return false;
            }
        }
    }
    return true;
}

/* Asks for huge pages on the 2 MB-aligned interior of a large fresh
 * allocation: filling it then takes a fault per 2 MB, not per 4 KB, which
 * on a busy machine is most of the time of a load. Advice only. */
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(huge - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

hk_err hkv_index_read(const char *path, hkv_index **out, void *meta,
                      size_t meta_cap, size_t *meta_len, hk_error *err)
{
    hkv_index *ix = NULL;
    hk_err e;
    struct stat st;
    uint32_t hw[12];
    uint64_t hq[2];
    const uint8_t *p8;
    *out = NULL;
    *meta_len = 0;
    file_rd rd = {open(path, O_RDONLY | O_CLOEXEC), NULL, 0, 0, 0};
    if (rd.fd < 0) {
        if (errno == ENOENT)
            return hk_error_set(err, HK_ERR_NOT_FOUND, "no index file %s",
                                path);
        return hk_error_set(err, HK_ERR_IO, "cannot open %s: %s", path,
                            strerror(errno));
    }
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(rd.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    if (!(rd.buf = hk_malloc(READ_BLOCK))) goto nomem;
    if (fstat(rd.fd, &st) != 0 || st.st_size < (off_t)FILE_HEADER) {
        e = corrupt(err, path, "too short");
        goto fail;
    }
    if (!(p8 = take(&rd, 8)) || memcmp(p8, FILE_MAGIC, 8) != 0 ||
        !(p8 = take(&rd, sizeof hw + sizeof hq))) {
        e = corrupt(err, path, "not an index file");
        goto fail;
    }
    /* the writer hashed hw and hq as two chunks */
    rd.h = hash_chunk(hash_chunk(0, FILE_MAGIC, 8), p8, sizeof hw);
    rd.h = hash_chunk(rd.h, p8 + sizeof hw, sizeof hq);
    memcpy(hw, p8, sizeof hw);
    memcpy(hq, p8 + sizeof hw, sizeof hq);
    if (hw[0] != FILE_VERSION || hw[1] != FILE_ENDIAN) {
        e = hk_error_set(err, HK_ERR_VERSION,
                         "index file %s: version %u (this build reads %u)",
                         path, hw[0], FILE_VERSION);
        goto fail;
    }
    hkv_params p = {hw[2], (hkv_metric)hw[3], (hkv_quant)hw[4], hw[5], hw[6],
                    hw[7]};
    hkv_params q = p;
    if (hnsw_check_params(&q, NULL) || memcmp(&p, &q, sizeof p) != 0) {
        e = corrupt(err, path, "bad parameters");
        goto fail;
    }
    uint32_t n_nodes = hw[8], entry = hw[9], max_level = hw[10];
    size_t mlen = hw[11];
    if (mlen > HKV_FILE_META_MAX || mlen > meta_cap ||
        (n_nodes && entry >= n_nodes) || max_level > 16 || hq[0] > n_nodes) {
        e = corrupt(err, path, "bad header");
        goto fail;
    }
    if (!(p8 = take(&rd, mlen))) {
        e = corrupt(err, path, "truncated");
        goto fail;
    }
    if (mlen) memcpy(meta, p8, mlen);
    size_t vbytes = (size_t)p.dim * (p.quant == HKV_I8 ? 1 : 4);
    uint64_t fixed = (uint64_t)NODE_HEAD + vbytes;
    uint64_t least = (uint64_t)n_nodes * (fixed + (1u + 2 * p.m) * 4);
    /* bytes after the header and metadata: nodes and the 16-byte trailer */
    uint64_t body = (uint64_t)st.st_size - (8 + sizeof hw + sizeof hq) - mlen;
    if (body < 16 || least > body - 16) {
        e = corrupt(err, path, "shorter than its node count says");
        goto fail;
    }
    /* One arena for every vector and link list: the vectors first, the
     * links after them (4-aligned). Their sizes follow from the file's
     * length; a node whose links would overrun it is corrupt. */
    size_t vec_room = ((size_t)n_nodes * vbytes + 15) & ~(size_t)15;
    size_t link_room = (size_t)(body - 16 - (uint64_t)n_nodes * fixed);
    size_t m0 = 2 * (size_t)p.m;
    if ((e = hkv_index_new(&p, &ix, err))) goto fail;
    if (n_nodes) {
        ix->nodes = hk_calloc(n_nodes, sizeof *ix->nodes);
        ix->arena = hk_malloc(vec_room + link_room);
        if (!ix->nodes || !ix->arena) goto nomem;
        ix->arena_len = vec_room + link_room;
        advise_huge(ix->arena, ix->arena_len);
        ix->cap_nodes = n_nodes;
    }
    uint8_t *vnext = ix->arena, *lnext = ix->arena + vec_room;
    size_t lleft = link_room;
    uint64_t live = 0;
    for (uint32_t i = 0; i < n_nodes; i++) {
        hnsw_node *n = &ix->nodes[i];
        if (!(p8 = take(&rd, NODE_HEAD))) goto truncated;
        memcpy(&n->id, p8, 8);
        memcpy(&n->level, p8 + 8, 4);
        memcpy(&n->dead, p8 + 12, 4);
        memcpy(&n->scale, p8 + 16, 4);
        memcpy(&n->norm2, p8 + 20, 4);
        if (n->level > max_level || n->dead > 1 || n->id == UINT64_MAX) {
            e = corrupt(err, path, "bad node");
            goto fail;
        }
        size_t lbytes = link_words(ix, n->level) * sizeof(uint32_t);
        if (lbytes > lleft) goto truncated;
        n->vec = vnext;
        n->links = (uint32_t *)(void *)lnext;
        vnext += vbytes;
        lnext += lbytes;
        lleft -= lbytes;
        ix->n_nodes = i + 1;
        if (!(p8 = take(&rd, vbytes))) goto truncated;
        memcpy(n->vec, p8, vbytes);
        if (!(p8 = take(&rd, lbytes))) goto truncated;
        memcpy(n->links, p8, lbytes);
        /* level 0: bounds only, while the words are in cache */
        const uint32_t *lk = n->links;
        if (lk[0] > m0) goto inconsistent;
        for (uint32_t j = 0; j < lk[0]; j++)
            if (lk[1 + j] >= n_nodes || lk[1 + j] == i) goto inconsistent;
        live += !n->dead;
    }
    ix->n_live = live;
    uint64_t want = rd.h, got;
    if (lleft != 0) {
        e = corrupt(err, path, "longer than its nodes");
        goto fail;
    }
    if (!(p8 = take(&rd, 16)) || memcmp(p8 + 8, FILE_END, 8) != 0)
        goto truncated;
    memcpy(&got, p8, 8);
    if (got != want) {
        e = corrupt(err, path, "checksum mismatch");
        goto fail;
    }
    if (ix->n_live != hq[0] || !upper_links_ok(ix) ||
        (n_nodes && ix->nodes[entry].level != max_level))
        goto inconsistent;
    ix->entry = entry;
    ix->max_level = max_level;
    ix->rng = hq[1] ? hq[1] : ix->rng;
    if (hnsw_map_rebuild(ix)) goto nomem;
    close(rd.fd);
    hk_free(rd.buf);
    *meta_len = mlen;
    *out = ix;
    return HK_OK;
inconsistent:
    e = corrupt(err, path, "inconsistent graph");
    goto fail;
truncated:
    e = corrupt(err, path, "truncated");
    goto fail;
nomem:
    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory reading %s", path);
fail:
    hkv_index_free(ix);
    close(rd.fd);
    hk_free(rd.buf);
    return e;
}
