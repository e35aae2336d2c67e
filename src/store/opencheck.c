/*
 * opencheck.c — refusing a damaged data.mdb before LMDB maps it.
 *
 * Why: LMDB trusts its file. A data.mdb cut short (a failed copy, a full
 * disk during a restore by hand) is mapped beyond its end and the first
 * read there kills the process with SIGBUS; a damaged page (a wrong child
 * page number, node offset or size) makes LMDB read outside the page or
 * the map (SIGSEGV); an empty data.mdb or a meta page whose flags were
 * damaged makes mdb_env_open believe the environment is new and write a
 * fresh one over it. None of this can be caught once LMDB runs, so the
 * checks below run before mdb_env_open:
 *
 *  1. The two meta pages are read with pread (never mapped): both must
 *     carry the meta flag, LMDB's magic and data version, and the same
 *     page size (a power of two, 256..65536), with roots and the last
 *     page number inside what the file can hold. The newest (highest
 *     transaction id) is the one LMDB will use.
 *  2. The file must reach the end of that meta's last page:
 *     size >= (last_pgno + 1) * page_size, unless every page it lacks is
 *     on the free list (LMDB can end a commit with pages at the end that
 *     it allocated, freed again and never wrote). Else it is truncated.
 *  3. The pages reachable from that meta's main root are checked in
 *     breadth-first order (the main tree, the named databases' roots and
 *     branch levels first), up to HKS_OPENCHECK_PAGES pages, each read
 *     with pread (a mapping costs more in page faults): each page must
 *     carry the number it was reached by and a known kind; its node
 *     offsets, key and data sizes must lie inside the page; child,
 *     sub-database root and overflow page numbers must lie inside the
 *     file; sub-pages of duplicates must lie inside their node. This is
 *     LMDB 0.9's page format (the format factwalk.c reads); with another
 *     LMDB version step 3 is skipped.
 *
 * Any failure is HK_ERR_CORRUPT with "damaged (what): restore from a
 * backup". A page check runs without a read transaction, so a writer in
 * another process may reuse pages of the snapshot meanwhile; a failed
 * check is therefore repeated (at most three times) while the newest
 * transaction id changes, and accepted when it keeps changing.
 *
 * Pages beyond the budget are not checked: a KB of up to about 1,000
 * pages (4 MiB, some 30k facts) is checked whole; in larger ones the
 * main tree, the databases' roots and upper levels are, and LMDB may
 * still crash on a damaged leaf beyond them. The walk costs about 1.7 ms
 * of CPU (pages in the page cache) however large the KB.
 *
 * Thread rules: pure functions over the file; any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "store/store_int.h"

/* ==== LMDB 0.9 layout ==== */

#define PAGE_HDR 16u /* u64 pgno, u16 pad, u16 flags, u16 lower, u16 upper */
#define NODE_HDR 8u  /* u16 lo, u16 hi, u16 flags, u16 key size */
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define P_META 0x08u
#define P_DIRTY 0x10u
#define P_LOOSE 0x4000u /* in memory only; ignored like P_DIRTY */
#define P_KEEP 0x8000u
#define P_LEAF2 0x20u
#define P_SUBP 0x40u
#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define F_DUPDATA 0x04u
#define MDB_MAGIC_V 0xBEEFC0DEu
#define MDB_DATA_V 1u
#define META_MAGIC (PAGE_HDR + 0u)
#define META_VERSION (PAGE_HDR + 4u)
#define META_DBS (PAGE_HDR + 24u) /* after address and map size */
#define DB_SIZE 48u               /* MDB_db */
#define DB_PAD 0u                 /* u32: the page size, in FREE_DBI */
#define DB_DEPTH 6u
#define DB_ROOT 40u
#define META_LAST_PG (META_DBS + 2u * DB_SIZE)
#define META_TXNID (META_LAST_PG + 8u)
#define META_BYTES (META_TXNID + 8u)
#define NO_PAGE (~(uint64_t)0)
#define MAX_DEPTH 32u /* a B-tree deeper than this is damaged */

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The one message of a damaged file: what is wrong, and what to do. */
static hk_err damaged(hk_error *err, const char *path, const char *what)
{
    return hk_error_set(err, HK_ERR_CORRUPT,
                        "store: %s is damaged (%s): restore from a backup",
                        path, what);
}

/* ==== Meta pages ==== */

/* A meta page as read: the fields the checks need. */
typedef struct meta_view {
    uint32_t psize;    /* page size, bytes */
    uint64_t last_pg;  /* last page number in use */
    uint64_t txnid;    /* transaction that wrote it */
    uint64_t root[2];  /* FREE_DBI and MAIN_DBI roots (NO_PAGE: empty) */
    uint16_t depth[2]; /* their depths */
} meta_view;

/* Reads and checks the meta page at off; why names what is wrong. */
static bool meta_read(int fd, off_t off, meta_view *m, const char **why)
{
    uint8_t b[META_BYTES];
    ssize_t n = pread(fd, b, sizeof b, off);
    if (n != (ssize_t)sizeof b) {
        *why = n < 0 ? "meta page unreadable" : "meta page cut short";
        return false;
    }
    if (!(rd16(b + 10) & P_META)) {
        *why = "meta page without the meta flag";
        return false;
    }
    if (rd32(b + META_MAGIC) != MDB_MAGIC_V) {
        *why = "meta page without LMDB's magic number";
        return false;
    }
    if (rd32(b + META_VERSION) != MDB_DATA_V) {
        *why = "meta page of an unknown LMDB data version";
        return false;
    }
    m->psize = rd32(b + META_DBS + DB_PAD);
    if (m->psize < 256 || m->psize > 65536 || (m->psize & (m->psize - 1))) {
        *why = "meta page with an impossible page size";
        return false;
    }
    m->last_pg = rd64(b + META_LAST_PG);
    m->txnid = rd64(b + META_TXNID);
    for (unsigned i = 0; i < 2; i++) {
        const uint8_t *db = b + META_DBS + i * DB_SIZE;
        m->root[i] = rd64(db + DB_ROOT);
        m->depth[i] = rd16(db + DB_DEPTH);
        if (m->root[i] != NO_PAGE &&
            (m->root[i] < 2 || m->root[i] > m->last_pg ||
             m->depth[i] > MAX_DEPTH)) {
            *why = "meta page with a root outside the file";
            return false;
        }
    }
    if (m->last_pg < 1 || m->last_pg > ((uint64_t)1 << 48)) {
        *why = "meta page with an impossible last page";
        return false;
    }
    return true;
}

/* Reads both meta pages; *m is the newest. */
static hk_err metas_read(int fd, const char *path, meta_view *m, hk_error *err)
{
    meta_view v[2];
    const char *why = NULL;
    char what[200];
    if (!meta_read(fd, 0, &v[0], &why)) {
        snprintf(what, sizeof what, "first %s", why);
        return damaged(err, path, what);
    }
    if (!meta_read(fd, (off_t)v[0].psize, &v[1], &why)) {
        snprintf(what, sizeof what, "second %s", why);
        return damaged(err, path, what);
    }
    if (v[0].psize != v[1].psize)
        return damaged(err, path, "the meta pages disagree on the page size");
    *m = v[1].txnid > v[0].txnid ? v[1] : v[0];
    return HK_OK;
}

/* ==== Page walk ==== */

/* A bounded breadth-first walk over the file, a page at a time. */
typedef struct page_walk {
    int fd;            /* data.mdb, read with pread */
    uint8_t *page;     /* psize bytes: the page being checked (owned) */
    uint64_t n_pages;  /* pages in the file */
    uint32_t psize;    /* page size, bytes */
    uint64_t *queue;   /* page numbers to visit (owned) */
    size_t head, tail; /* queue[head..tail) still to visit */
    size_t cap;        /* entries of queue */
    uint64_t bad_pg;   /* the first damaged page found */
    const char *why;   /* what is wrong with it */
} page_walk;

static bool walk_fail(page_walk *w, uint64_t pg, const char *why)
{
    w->bad_pg = pg;
    w->why = why;
    return false;
}

static void walk_push(page_walk *w, uint64_t pg)
{
    if (w->tail < w->cap) w->queue[w->tail++] = pg;
}

/* Checks an overflow chunk of a big record starting at pg. */
static bool check_overflow(page_walk *w, uint64_t pg, size_t dsize)
{
    if (pg < 2 || pg >= w->n_pages)
        return walk_fail(w, pg, "overflow page outside the file");
    uint8_t p[PAGE_HDR];
    if (pread(w->fd, p, sizeof p, (off_t)(pg * w->psize)) != (ssize_t)sizeof p)
        return walk_fail(w, pg, "overflow page unreadable");
    if (rd64(p) != pg || !(rd16(p + 10) & P_OVERFLOW))
        return walk_fail(w, pg, "overflow page of another kind");
    uint32_t n = rd32(p + 12);
    if (n == 0 || pg + n > w->n_pages ||
        (uint64_t)n * w->psize < (uint64_t)dsize + PAGE_HDR)
        return walk_fail(w, pg, "overflow page count out of range");
    return true;
}

/* Checks the nodes of a branch or leaf page (or sub-page) p of size bytes
 * and queues what it points to; sub-pages are checked in place. */
static bool check_nodes(page_walk *w, uint64_t pg, const uint8_t *p,
                        size_t size, bool sub, unsigned level)
{
    uint16_t flags = rd16(p + 10) & (uint16_t) ~(P_DIRTY | P_LOOSE | P_KEEP);
    uint16_t lower = rd16(p + 12), upper = rd16(p + 14);
    if (sub) flags &= (uint16_t)~P_SUBP;
    if (lower < PAGE_HDR || lower > upper || upper > size || (lower & 1))
        return walk_fail(w, pg, "page bounds out of range");
    if (flags & P_LEAF2) {
        if (!(flags & P_LEAF)) return walk_fail(w, pg, "unknown page kind");
        return true; /* fixed-size keys between header and upper: no
                        pointers to follow */
    }
    if (flags != P_BRANCH && flags != P_LEAF)
        return walk_fail(w, pg, "unknown page kind");
    bool branch = flags == P_BRANCH;
    size_t n_keys = (size_t)(lower - PAGE_HDR) >> 1;
    if (branch && n_keys == 0) return walk_fail(w, pg, "empty branch page");
    for (size_t i = 0; i < n_keys; i++) {
        size_t off = rd16(p + PAGE_HDR + 2 * i);
        if (off < upper || off + NODE_HDR > size)
            return walk_fail(w, pg, "node offset out of range");
        const uint8_t *n = p + off;
        size_t ksize = rd16(n + 6);
        if (off + NODE_HDR + ksize > size)
            return walk_fail(w, pg, "key size out of range");
        if (branch) {
            uint64_t child = rd16(n) | ((uint64_t)rd16(n + 2) << 16) |
                             ((uint64_t)rd16(n + 4) << 32);
            if (child < 2 || child >= w->n_pages)
                return walk_fail(w, pg, "child page outside the file");
            walk_push(w, child);
            continue;
        }
        uint16_t nflags = rd16(n + 4);
        size_t dsize = rd16(n) | ((size_t)rd16(n + 2) << 16);
        const uint8_t *data = n + NODE_HDR + ksize;
        if (nflags & F_BIGDATA) {
            if (off + NODE_HDR + ksize + 8 > size)
                return walk_fail(w, pg, "data size out of range");
            if (!check_overflow(w, rd64(data), dsize)) return false;
            continue;
        }
        if (off + NODE_HDR + ksize + dsize > size)
            return walk_fail(w, pg, "data size out of range");
        if (nflags & F_SUBDATA) {
            if (dsize != DB_SIZE)
                return walk_fail(w, pg, "sub-database record of wrong size");
            uint64_t root = rd64(data + DB_ROOT);
            if (root == NO_PAGE) continue;
            if (root < 2 || root >= w->n_pages || rd16(data + DB_DEPTH) == 0 ||
                rd16(data + DB_DEPTH) > MAX_DEPTH)
                return walk_fail(w, pg, "sub-database root outside the file");
            walk_push(w, root);
        } else if (nflags & F_DUPDATA) {
            if (level > 0 || dsize < PAGE_HDR)
                return walk_fail(w, pg, "duplicate sub-page out of range");
            if (!check_nodes(w, pg, data, dsize, true, level + 1)) return false;
        }
    }
    return true;
}

/* Checks page pg reached from a parent (or a meta root). */
static bool check_page(page_walk *w, uint64_t pg)
{
    uint8_t *p = w->page;
    if (pread(w->fd, p, w->psize, (off_t)(pg * w->psize)) != (ssize_t)w->psize)
        return walk_fail(w, pg, "page unreadable");
    if (rd64(p) != pg)
        return walk_fail(w, pg, "page carries another page number");
    return check_nodes(w, pg, p, w->psize, false, 0);
}

/* Walks up to budget pages from the roots of m; true when every page
 * visited is sound (w->bad_pg, w->why otherwise). */
static bool walk_pages(page_walk *w, const meta_view *m, size_t budget)
{
    w->head = w->tail = 0;
    w->why = NULL;
    for (unsigned i = 0; i < 2; i++)
        if (m->root[i] != NO_PAGE) walk_push(w, m->root[i]);
    for (size_t visited = 0; w->head < w->tail && visited < budget; visited++) {
        if (!check_page(w, w->queue[w->head++])) return false;
    }
    return true;
}

/* ==== Free pages beyond the end of the file ==== */

/* Free-list pages read at most when the file is short (a 10M-fact KB that
 * was never compacted has about 1,000). */
#define FREE_TREE_PAGES 65536u

/* Counts the page numbers in [from, to] listed in the free list (the
 * FREE_DBI tree under root: key a txn id, value an ID list: count, then
 * page numbers). LMDB may end a commit with pages at the end of the file
 * that it allocated and freed again in the same transaction and never
 * wrote: they are free, and the file need not reach them. False when the
 * tree cannot be read within its bounds. */
static bool free_pages_in(int fd, uint32_t psize, uint64_t n_pages,
                          uint64_t root, uint64_t from, uint64_t to,
                          uint64_t *found)
{
    bool ok = false;
    uint64_t *queue = hk_malloc(FREE_TREE_PAGES * sizeof *queue);
    uint8_t *page = hk_malloc(psize);
    uint64_t *ids = NULL;
    size_t head = 0, tail = 0;
    *found = 0;
    if (!queue || !page) goto done;
    queue[tail++] = root;
    while (head < tail) {
        uint64_t pg = queue[head++];
        if (pg < 2 || pg >= n_pages ||
            pread(fd, page, psize, (off_t)(pg * psize)) != (ssize_t)psize ||
            rd64(page) != pg)
            goto done;
        uint16_t flags = rd16(page + 10) & (uint16_t) ~(P_DIRTY | P_KEEP);
        uint16_t lower = rd16(page + 12), upper = rd16(page + 14);
        if (lower < PAGE_HDR || lower > upper || upper > psize ||
            (flags != P_BRANCH && flags != P_LEAF))
            goto done;
        size_t n_keys = (size_t)(lower - PAGE_HDR) >> 1;
        for (size_t i = 0; i < n_keys; i++) {
            size_t off = rd16(page + PAGE_HDR + 2 * i);
            if (off < upper || off + NODE_HDR > psize) goto done;
            const uint8_t *n = page + off;
            size_t ksize = rd16(n + 6);
            if (off + NODE_HDR + ksize > psize) goto done;
            if (flags == P_BRANCH) {
                if (tail == FREE_TREE_PAGES) goto done;
                queue[tail++] = rd16(n) | ((uint64_t)rd16(n + 2) << 16) |
                                ((uint64_t)rd16(n + 4) << 32);
                continue;
            }
            size_t dsize = rd16(n) | ((size_t)rd16(n + 2) << 16);
            const uint8_t *data = n + NODE_HDR + ksize;
            if (dsize < 8 || dsize % 8 || dsize > ((size_t)64 << 20)) goto done;
            hk_free(ids);
            if (!(ids = hk_malloc(dsize))) goto done;
            if (rd16(n + 4) & F_BIGDATA) {
                if (off + NODE_HDR + ksize + 8 > psize) goto done;
                uint64_t ov = rd64(data);
                if (ov < 2 || ov >= n_pages ||
                    pread(fd, ids, dsize, (off_t)(ov * psize + PAGE_HDR)) !=
                        (ssize_t)dsize)
                    goto done;
            } else {
                if (off + NODE_HDR + ksize + dsize > psize) goto done;
                memcpy(ids, data, dsize);
            }
            uint64_t count = ids[0];
            if (count > dsize / 8 - 1) goto done;
            for (uint64_t j = 1; j <= count; j++)
                if (ids[j] >= from && ids[j] <= to) (*found)++;
        }
    }
    ok = true;
done:
    hk_free(ids);
    hk_free(page);
    hk_free(queue);
    return ok;
}

static bool lmdb_format_known(void)
{
    int major = 0, minor = 0, patch = 0;
    mdb_version(&major, &minor, &patch);
    return major == 0 && minor == 9;
}

/* ==== Entry point ==== */

hk_err hks_open_check(const char *data_path, bool may_create, uint32_t *psize,
                      hk_error *err)
{
    hk_err e = HK_OK;
    page_walk w;
    memset(&w, 0, sizeof w);
    *psize = 0;
    int fd = open(data_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && may_create) return HK_OK; /* a new KB */
        if (errno == ENOENT)
            return hk_error_set(err, HK_ERR_NOT_FOUND, "store: no KB at %s",
                                data_path);
        return hk_error_set(err, HK_ERR_IO, "store: cannot open %s: %s",
                            data_path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "store: cannot stat %s: %s", data_path,
                         strerror(errno));
        goto done;
    }
    if (sb.st_size == 0) {
        e = damaged(err, data_path, "empty file: 0 bytes");
        goto done;
    }
    meta_view m;
    if ((e = metas_read(fd, data_path, &m, err))) goto done;
    *psize = m.psize;
    /* The size again, after the metas: a writer extends the file before
     * it writes a meta page that needs the new pages. */
    if (fstat(fd, &sb) != 0) {
        e = hk_error_set(err, HK_ERR_IO, "store: cannot stat %s: %s", data_path,
                         strerror(errno));
        goto done;
    }
    uint64_t need = (m.last_pg + 1) * (uint64_t)m.psize;
    uint64_t file_pages = (uint64_t)sb.st_size / m.psize;
    uint64_t free_found = 0;
    if ((uint64_t)sb.st_size < need &&
        (file_pages < 2 || m.root[0] == NO_PAGE ||
         !free_pages_in(fd, m.psize, file_pages, m.root[0], file_pages,
                        m.last_pg, &free_found) ||
         free_found != m.last_pg + 1 - file_pages)) {
        char what[200];
        snprintf(what, sizeof what,
                 "truncated: %llu bytes, its pages need %llu",
                 (unsigned long long)sb.st_size, (unsigned long long)need);
        e = damaged(err, data_path, what);
        goto done;
    }
    if (!lmdb_format_known()) goto done;
    w.fd = fd;
    w.n_pages = file_pages < m.last_pg + 1 ? file_pages : m.last_pg + 1;
    w.psize = m.psize;
    w.cap = HKS_OPENCHECK_PAGES * 4;
    w.queue = hk_malloc(w.cap * sizeof *w.queue);
    w.page = hk_malloc(m.psize);
    if (!w.queue || !w.page) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto done;
    }
    for (unsigned attempt = 0; attempt < 3; attempt++) {
        if (walk_pages(&w, &m, HKS_OPENCHECK_PAGES)) goto done;
        /* Damage, or a writer reused pages of this snapshot meanwhile. */
        meta_view now;
        struct stat now_sb;
        if (metas_read(fd, data_path, &now, NULL) == HK_OK &&
            now.txnid != m.txnid && now.psize == m.psize &&
            fstat(fd, &now_sb) == 0 &&
            (uint64_t)now_sb.st_size / now.psize >= file_pages) {
            m = now; /* the file may have grown with it */
            file_pages = (uint64_t)now_sb.st_size / now.psize;
            w.n_pages = file_pages < m.last_pg + 1 ? file_pages : m.last_pg + 1;
            continue;
        }
        char what[200];
        snprintf(what, sizeof what, "page %llu: %s",
                 (unsigned long long)w.bad_pg, w.why);
        e = damaged(err, data_path, what);
        goto done;
    }
done:
    hk_free(w.queue);
    hk_free(w.page);
    close(fd);
    return e;
}

/* ==== Values read through LMDB ==== */

bool hks_val_sane(const hk_txn *t, const MDB_val *d, size_t max)
{
    if (d->mv_size > max) return false;
    uint32_t psize = t->s->psize;
    if (t->write || !psize || !d->mv_size)
        return true; /* dirty pages are
                        not in the map */
    size_t off = (uintptr_t)d->mv_data & (psize - 1);
    if (off == PAGE_HDR) return true; /* the data of overflow pages */
    return off + d->mv_size <= psize;
}
