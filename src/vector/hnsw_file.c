/*
 * hnsw_file.c — an HNSW index written to a file and read back, so that a
 * process starts with its graph instead of rebuilding it.
 *
 * The file is laid out to be mapped, not parsed: a restart with a million
 * vectors maps the file privately, checks it and points every node into
 * the mapping, so loading costs page-ins and one pass over the bytes, not
 * an allocation and copy per node.
 *
 * Layout (native little-endian words; the reader checks an endian mark):
 *
 *   header   "HKVIDX02", u32 version 2, u32 0x01020304, six u32 params
 *            (dim, metric, quant, m, ef_construction, ef), u32 n_nodes,
 *            u32 entry, u32 max_level, u32 meta_len, u64 n_live, u64 rng,
 *            u64 data_off, u64 data_len (88 bytes), then meta_len bytes of
 *            the caller's metadata, zeros to a multiple of 64
 *   table    per node 24 bytes: u64 id, f32 scale, f32 norm2, u16 level,
 *            u16 dead, u32 0; then zeros up to data_off (a multiple of
 *            4096, so the data section starts on a page)
 *   data     per node, as in memory (hnsw_node.data): the vector (vstride
 *            bytes) then its link words ((1 + 2M) + level * (1 + M) u32)
 *   trailer  u64 hash, "HKVEND02": the hash of the list of the hashes of
 *            [0, data_off) and of each of the (at most 64) equal pieces of
 *            the data section, so that a reader checks the pieces on several
 *            threads (which also fault the mapping in, in parallel)
 *
 * Writing goes to PATH.tmp.PID, is fsynced and renamed over PATH, so a
 * reader sees the old file or the new one, never a torn one.
 *
 * Reading trusts nothing: the header's sizes must add up to the file's
 * length, the hash must match, every node's level and data must fit, and
 * every link must point at another node of a high enough level; any
 * failure is HK_ERR_CORRUPT (the caller rebuilds from the store) and
 * nothing of the file is kept. The mapping is MAP_PRIVATE and made
 * writable after the checks: later changes to loaded nodes' links are
 * copy-on-write pages of this process and never reach the file.
 *
 * Threads: saving reads the index (no add or delete may run meanwhile);
 * reading builds a new index owned by the caller, hashing the file on up
 * to HASH_THREADS threads of its own that end before it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "vector/vector.h"
#include "vector/vector_int.h"

#define FILE_MAGIC "HKVIDX02"
#define FILE_END "HKVEND02"
#define FILE_VERSION 2u
#define FILE_ENDIAN 0x01020304u
/* Bytes of the fixed header and of the trailer. */
#define FILE_HEADER 88u
#define FILE_TRAILER 16u
/* Bytes of a node's record in the table. */
#define NODE_REC 24u
#define FILE_PAGE 4096u
/* The data section is hashed in at most HASH_PIECES pieces of a multiple
 * of 64 KiB (so even a small file has several: the tests read them). */
#define HASH_PIECES 64u
#define HASH_ALIGN ((uint64_t)64 << 10)
/* Bytes hkv_index_pin locks or copies per call (a multiple of the page). */
#define PIN_PIECE ((size_t)32 << 20)
/* Threads that check the pieces of a file being read. */
#define HASH_THREADS 4u

/* ==== Hashing ==== */

/* A 64-bit hash in four independent lanes of 8-byte words (the rounds of
 * xxHash64's main loop), so that checking a file of gigabytes runs at
 * memory speed rather than at the latency of one multiply chain. Not
 * cryptographic: it finds torn and damaged files. Streaming, so the
 * writer can feed the data section node by node. */
#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull

typedef struct file_hash {
    uint64_t lane[4]; /* running lanes */
    uint8_t tail[32]; /* bytes not yet forming a 32-byte block */
    size_t n_tail;    /* bytes in tail */
    uint64_t total;   /* bytes fed */
} file_hash;

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static void fh_init(file_hash *h)
{
    memset(h, 0, sizeof *h);
    h->lane[0] = H_P1 + H_P2;
    h->lane[1] = H_P2;
    h->lane[2] = 0;
    h->lane[3] = 0 - H_P1;
}

static void fh_block(uint64_t lane[4], const uint8_t *b)
{
    for (int j = 0; j < 4; j++) {
        uint64_t w;
        memcpy(&w, b + 8 * j, 8);
        lane[j] = rotl64(lane[j] + w * H_P2, 31) * H_P1;
    }
}

static void fh_feed(file_hash *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    h->total += n;
    if (h->n_tail) {
        size_t k = 32 - h->n_tail < n ? 32 - h->n_tail : n;
        memcpy(h->tail + h->n_tail, b, k);
        h->n_tail += k;
        b += k;
        n -= k;
        if (h->n_tail < 32) return;
        fh_block(h->lane, h->tail);
        h->n_tail = 0;
    }
    uint64_t l0 = h->lane[0], l1 = h->lane[1], l2 = h->lane[2], l3 = h->lane[3];
    for (; n >= 32; b += 32, n -= 32) {
        uint64_t w[4];
        memcpy(w, b, 32);
        l0 = rotl64(l0 + w[0] * H_P2, 31) * H_P1;
        l1 = rotl64(l1 + w[1] * H_P2, 31) * H_P1;
        l2 = rotl64(l2 + w[2] * H_P2, 31) * H_P1;
        l3 = rotl64(l3 + w[3] * H_P2, 31) * H_P1;
    }
    h->lane[0] = l0;
    h->lane[1] = l1;
    h->lane[2] = l2;
    h->lane[3] = l3;
    memcpy(h->tail, b, n);
    h->n_tail = n;
}

static uint64_t fh_final(const file_hash *h)
{
    uint64_t x = rotl64(h->lane[0], 1) + rotl64(h->lane[1], 7) +
                 rotl64(h->lane[2], 12) + rotl64(h->lane[3], 18);
    x ^= h->total;
    for (size_t i = 0; i < h->n_tail; i++)
        x = rotl64(x ^ (h->tail[i] * H_P3), 11) * H_P1;
    x ^= x >> 33;
    x *= H_P2;
    x ^= x >> 29;
    x *= H_P3;
    return x ^ (x >> 32);
}

/* ==== Layout ==== */

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Where the table and the data section start for n nodes and meta_len
 * bytes of metadata. */
static size_t table_off(size_t meta_len)
{
    return align_up(FILE_HEADER + meta_len, 64);
}

static uint64_t data_off(size_t meta_len, uint64_t n_nodes)
{
    return align_up(table_off(meta_len) + n_nodes * NODE_REC, FILE_PAGE);
}

static size_t node_bytes(const hkv_index *ix, uint32_t level)
{
    return ix->vstride + hnsw_link_words(ix, level) * sizeof(uint32_t);
}

static uint64_t fh_bytes(const void *p, size_t n)
{
    file_hash h;
    fh_init(&h);
    fh_feed(&h, p, n);
    return fh_final(&h);
}

/* Bytes of a piece of a data section of dlen bytes. */
static uint64_t piece_size(uint64_t dlen)
{
    uint64_t p = (dlen + HASH_PIECES - 1) / HASH_PIECES;
    p = (p + HASH_ALIGN - 1) / HASH_ALIGN * HASH_ALIGN;
    return p ? p : HASH_ALIGN;
}

/* Pieces of a data section of dlen bytes. */
static uint64_t n_pieces(uint64_t dlen)
{
    return (dlen + piece_size(dlen) - 1) / piece_size(dlen);
}

/* ==== Saving ==== */

typedef struct file_io {
    FILE *f;          /* the open file */
    file_hash h;      /* hash of the current piece so far */
    uint64_t in_data; /* bytes of the data section written (0: header) */
    uint64_t piece;   /* bytes of a piece of the data section */
    uint64_t *sums;   /* hashes of the pieces done: header, data pieces */
    uint64_t n_sums;  /* entries of sums */
    bool bad;         /* a write failed */
} file_io;

/* Ends the current piece: its hash goes to sums. */
static void piece_end(file_io *io)
{
    io->sums[io->n_sums++] = fh_final(&io->h);
    fh_init(&io->h);
}

static void put(file_io *io, const void *p, size_t n)
{
    if (io->bad || !n) return;
    fh_feed(&io->h, p, n);
    if (fwrite(p, 1, n, io->f) != n) io->bad = true;
}

/* Writes bytes of the data section, ending a piece every io->piece. */
static void put_data(file_io *io, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n && !io->bad) { /* bounded: n shrinks each pass */
        uint64_t room = io->piece - io->in_data % io->piece;
        size_t k = room < n ? (size_t)room : n;
        put(io, b, k);
        io->in_data += k;
        b += k;
        n -= k;
        if (io->in_data % io->piece == 0) piece_end(io);
    }
}

static void put_zeros(file_io *io, size_t n)
{
    static const uint8_t zeros[FILE_PAGE];
    while (n && !io->bad) { /* bounded: n shrinks each pass */
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        put(io, zeros, k);
        n -= k;
    }
}

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
    uint64_t data_len = 0;
    for (uint32_t i = 0; i < ix->n_nodes; i++)
        data_len += node_bytes(ix, ix->nodes[i].level);
    file_io io = {NULL, {{0}, {0}, 0, 0}, 0, piece_size(data_len), NULL, 0,
                  false};
    io.sums = hk_malloc((size_t)(1 + n_pieces(data_len)) * sizeof *io.sums);
    if (!io.sums) return hk_error_set(err, HK_ERR_NOMEM, "out of memory");
    if (!(io.f = fopen(tmp, "wb"))) {
        hk_free(io.sums);
        return hk_error_set(err, HK_ERR_IO, "cannot create %s: %s", tmp,
                            strerror(errno));
    }
    fh_init(&io.h);
    setvbuf(io.f, NULL, _IOFBF, 1 << 20);
    uint64_t doff = data_off(meta_len, ix->n_nodes);
    uint32_t hw[12] = {FILE_VERSION,
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
                       (uint32_t)meta_len};
    uint64_t hq[4] = {ix->n_live, ix->rng, doff, data_len};
    put(&io, FILE_MAGIC, 8);
    put(&io, hw, sizeof hw);
    put(&io, hq, sizeof hq);
    put(&io, meta, meta_len);
    put_zeros(&io, table_off(meta_len) - FILE_HEADER - meta_len);
    for (uint32_t i = 0; i < ix->n_nodes && !io.bad; i++) {
        const hnsw_node *n = &ix->nodes[i];
        uint8_t rec[NODE_REC] = {0};
        memcpy(rec, &n->id, 8);
        memcpy(rec + 8, &n->scale, 4);
        memcpy(rec + 12, &n->norm2, 4);
        memcpy(rec + 16, &n->level, 2);
        memcpy(rec + 18, &n->dead, 2);
        put(&io, rec, sizeof rec);
    }
    put_zeros(&io, (size_t)(doff - table_off(meta_len) -
                            (uint64_t)ix->n_nodes * NODE_REC));
    piece_end(&io);
    for (uint32_t i = 0; i < ix->n_nodes && !io.bad; i++)
        put_data(&io, ix->nodes[i].data, node_bytes(ix, ix->nodes[i].level));
    if (io.in_data % io.piece) piece_end(&io);
    uint64_t h = fh_bytes(io.sums, (size_t)io.n_sums * sizeof *io.sums);
    hk_free(io.sums);
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
        int fd = open(*dir ? dir : "/", O_RDONLY | O_CLOEXEC | O_DIRECTORY);
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

/* Checks every link of every node: within its level's room, pointing at
 * another node whose level reaches the list's level. */
static bool links_ok(const hkv_index *ix)
{
    for (uint32_t i = 0; i < ix->n_nodes; i++) {
        const hnsw_node *n = &ix->nodes[i];
        const uint32_t *lk = hnsw_links(ix, n);
        for (uint32_t l = 0; l <= n->level; l++) {
            uint32_t max = l == 0 ? ix->m0 : ix->p.m;
            if (lk[0] > max) return false;
            for (uint32_t j = 0; j < lk[0]; j++) {
                uint32_t b = lk[1 + j];
                if (b >= ix->n_nodes || b == i || (l && ix->nodes[b].level < l))
                    return false;
            }
            lk += 1 + max;
        }
    }
    return true;
}

/* The pieces of a mapped file, hashed by several threads. */
typedef struct hash_job {
    const uint8_t *map;    /* the mapping */
    uint64_t doff, dlen;   /* the data section */
    uint64_t *sums;        /* out: hash of each piece (header first) */
    uint64_t n;            /* pieces, header included */
    _Atomic uint64_t next; /* next piece to take */
} hash_job;

static void *hash_worker(void *arg)
{
    hash_job *j = arg;
    for (;;) { /* bounded: each pass takes one of n pieces */
        uint64_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        if (i == 0) {
            j->sums[0] = fh_bytes(j->map, (size_t)j->doff);
            continue;
        }
        uint64_t piece = piece_size(j->dlen), from = (i - 1) * piece;
        uint64_t len = j->dlen - from < piece ? j->dlen - from : piece;
        j->sums[i] = fh_bytes(j->map + j->doff + from, (size_t)len);
    }
    return NULL;
}

/* The file's hash over map (header and data pieces), on up to
 * HASH_THREADS threads. False when out of memory. */
static bool hash_mapped(const uint8_t *map, uint64_t doff, uint64_t dlen,
                        uint64_t *out)
{
    hash_job j = {map, doff, dlen, NULL, 1 + n_pieces(dlen), 0};
    if (!(j.sums = hk_malloc((size_t)j.n * sizeof *j.sums))) return false;
    pthread_t th[HASH_THREADS];
    unsigned started = 0;
    for (; started + 1 < HASH_THREADS && started + 1 < j.n; started++)
        if (pthread_create(&th[started], NULL, hash_worker, &j)) break;
    hash_worker(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    *out = fh_bytes(j.sums, (size_t)j.n * sizeof *j.sums);
    hk_free(j.sums);
    return true;
}

hk_err hkv_index_read(const char *path, hkv_index **out, void *meta,
                      size_t meta_cap, size_t *meta_len, hk_error *err)
{
    hkv_index *ix = NULL;
    hk_err e;
    struct stat st;
    uint32_t hw[12];
    uint64_t hq[4];
    uint8_t *map = MAP_FAILED;
    size_t len = 0;
    *out = NULL;
    *meta_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return hk_error_set(err, HK_ERR_NOT_FOUND, "no index file %s",
                                path);
        return hk_error_set(err, HK_ERR_IO, "cannot open %s: %s", path,
                            strerror(errno));
    }
    if (fstat(fd, &st) != 0 ||
        st.st_size < (off_t)(FILE_HEADER + FILE_TRAILER) ||
        (uint64_t)st.st_size > SIZE_MAX) {
        e = corrupt(err, path, "too short");
        goto fail;
    }
    len = (size_t)st.st_size;
    /* read-only first (made writable after the checks); the hashing
     * threads fault it in */
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        e = hk_error_set(err, errno == ENOMEM ? HK_ERR_NOMEM : HK_ERR_IO,
                         "cannot map %s: %s", path, strerror(errno));
        goto fail;
    }
    if (memcmp(map, FILE_MAGIC, 8) != 0) {
        e = memcmp(map, "HKVIDX", 6) == 0
                ? hk_error_set(err, HK_ERR_VERSION,
                               "index file %s: format %.2s (this build "
                               "reads 02)",
                               path, (const char *)map + 6)
                : corrupt(err, path, "not an index file");
        goto fail;
    }
    memcpy(hw, map + 8, sizeof hw);
    memcpy(hq, map + 8 + sizeof hw, sizeof hq);
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
    uint64_t doff = hq[2], dlen = hq[3];
    if (mlen > HKV_FILE_META_MAX || mlen > meta_cap ||
        (n_nodes && entry >= n_nodes) || max_level > 16 || hq[0] > n_nodes) {
        e = corrupt(err, path, "bad header");
        goto fail;
    }
    /* the sections must add up to the file's length exactly */
    if (doff != data_off(mlen, n_nodes) || doff > len - FILE_TRAILER ||
        dlen != len - FILE_TRAILER - doff) {
        e = corrupt(err, path, "sections do not match the file's length");
        goto fail;
    }
    if (memcmp(map + len - 8, FILE_END, 8) != 0) {
        e = corrupt(err, path, "truncated");
        goto fail;
    }
    (void)madvise(map, len, MADV_WILLNEED);
    uint64_t want, got;
    memcpy(&want, map + doff + dlen, 8);
    if (!hash_mapped(map, doff, dlen, &got)) goto nomem;
    if (got != want) {
        e = corrupt(err, path, "checksum mismatch");
        goto fail;
    }
    if (mlen) memcpy(meta, map + FILE_HEADER, mlen);
    if ((e = hkv_index_new(&p, &ix, err))) goto fail;
    if (n_nodes && !(ix->nodes = hk_calloc(n_nodes, sizeof *ix->nodes)))
        goto nomem;
    ix->cap_nodes = n_nodes;
    const uint8_t *rec = map + table_off(mlen);
    uint64_t off = 0, live = 0;
    for (uint32_t i = 0; i < n_nodes; i++, rec += NODE_REC) {
        hnsw_node *n = &ix->nodes[i];
        memcpy(&n->id, rec, 8);
        memcpy(&n->scale, rec + 8, 4);
        memcpy(&n->norm2, rec + 12, 4);
        memcpy(&n->level, rec + 16, 2);
        memcpy(&n->dead, rec + 18, 2);
        if (n->level > max_level || n->dead > 1 || n->id == UINT64_MAX) {
            e = corrupt(err, path, "bad node");
            goto fail;
        }
        size_t nb = node_bytes(ix, n->level);
        if (nb > dlen - off) {
            e = corrupt(err, path, "nodes overrun the data section");
            goto fail;
        }
        n->data = map + doff + off;
        off += nb;
        live += !n->dead;
        ix->n_nodes = i + 1;
    }
    if (off != dlen) {
        e = corrupt(err, path, "data section longer than its nodes");
        goto fail;
    }
    if (live != hq[0] || !links_ok(ix) ||
        (n_nodes && ix->nodes[entry].level != max_level)) {
        e = corrupt(err, path, "inconsistent graph");
        goto fail;
    }
    /* the index owns the mapping from here; links of loaded nodes change
     * in copy-on-write pages */
    size_t wfrom = (size_t)doff;
    if (wfrom < len &&
        mprotect(map + wfrom, len - wfrom, PROT_READ | PROT_WRITE) != 0) {
        e = hk_error_set(err, HK_ERR_NOMEM, "cannot remap %s: %s", path,
                         strerror(errno));
        goto fail;
    }
    ix->arena = map;
    ix->arena_len = len;
    ix->arena_mapped = true;
    ix->arena_data = wfrom;
    map = MAP_FAILED;
    ix->file_version = FILE_VERSION;
    ix->n_live = live;
    ix->entry = entry;
    ix->max_level = max_level;
    ix->rng = hq[1] ? hq[1] : ix->rng;
    if (hnsw_map_rebuild(ix)) goto nomem;
    close(fd);
    *meta_len = mlen;
    *out = ix;
    return HK_OK;
nomem:
    e = hk_error_set(err, HK_ERR_NOMEM, "out of memory reading %s", path);
fail:
    if (ix && !ix->arena_mapped) ix->n_nodes = 0; /* data is in map */
    hkv_index_free(ix);
    if (map != MAP_FAILED) munmap(map, len);
    close(fd);
    return e;
}

/* ==== Pinning a mapped index ==== */

hkv_pin hkv_index_pin(hkv_index *ix)
{
    if (!ix->arena_mapped || ix->arena_data >= ix->arena_len)
        return HKV_PIN_NONE;
    uint8_t *p = ix->arena + ix->arena_data;
    size_t n = ix->arena_len - ix->arena_data, off = 0;
    struct rlimit rl;
    /* mlock beyond the limit fails only after populating what it could;
     * asking first keeps that work from being done twice */
    bool lock = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
                (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= n);
    /* in pieces: each call holds the process's address-space lock, which
     * the server's own mappings (thread stacks, large allocations) wait
     * for */
    for (; lock && off < n; off += PIN_PIECE)
        if (mlock(p + off, n - off < PIN_PIECE ? n - off : PIN_PIECE) != 0) {
            lock = false;
            break;
        }
    if (lock) return HKV_PIN_LOCKED;
#ifdef MADV_POPULATE_WRITE
    /* a write fault on each page of the private, writable mapping: the
     * page becomes an anonymous copy (no data changes); the pieces
     * before off are locked, and so copies already */
    for (; off < n; off += PIN_PIECE)
        if (madvise(p + off, n - off < PIN_PIECE ? n - off : PIN_PIECE,
                    MADV_POPULATE_WRITE) != 0)
            return HKV_PIN_NONE;
    return HKV_PIN_COPIED;
#else
    return HKV_PIN_NONE;
#endif
}

static void *pin_main(void *arg)
{
    hkv_index *ix = arg;
    ix->pin_result = (int)hkv_index_pin(ix);
    return NULL;
}

hk_err hkv_index_pin_start(hkv_index *ix, hk_error *err)
{
    hnsw_pin_join(ix);
    if (pthread_create(&ix->pin_thread, NULL, pin_main, ix) != 0)
        return hk_error_set(err, HK_ERR_NOMEM,
                            "cannot start the index's pin thread");
    ix->pin_running = true;
    return HK_OK;
}

void hnsw_pin_join(hkv_index *ix)
{
    if (!ix->pin_running) return;
    pthread_join(ix->pin_thread, NULL);
    ix->pin_running = false;
}

hkv_pin hkv_index_pin_wait(hkv_index *ix)
{
    hnsw_pin_join(ix);
    return (hkv_pin)ix->pin_result;
}
