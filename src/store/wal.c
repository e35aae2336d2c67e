/*
 * wal.c — a write-ahead log in front of LMDB: durable commits for the cost
 * of one small sequential write and fdatasync per commit group.
 *
 * Why: a synced LMDB commit writes every page it dirtied (about 2.7 pages
 * per unique fact, bench/RESULTS.md) at random offsets and syncs them; on
 * this kind of disk that bounds durable single-fact writes. With the log,
 * a commit that carries a record (hks_txn_set_wal: the logical input of
 * the group, enough to redo it) is committed by LMDB without a sync and
 * its record appended to DIR/wal; hk_store_sync syncs only the log. The
 * pages reach the disk in the background: a checkpoint syncs data.mdb
 * (every commit up to txn S is then on disk), saves S's meta page in the
 * log's header and drops the records before S. The log is a ring of
 * blocks written before use, so that its sync writes data and no
 * metadata (section "Ring").
 *
 * Crash of the process: the page cache holds every commit; recovery rolls
 * back to S anyway and replays, which gives the same content (below).
 *
 * Crash of the system: a commit without sync may have reached the disk in
 * any part and in any order, its meta page included (LMDB writes it with
 * no barrier after the data pages), and may even have overwritten pages
 * of earlier snapshots that LMDB believed free. Three rules keep S intact:
 *
 *   1. A read transaction is pinned on S from the moment S committed
 *      (taken under writer_mu before the next write txn can begin) until
 *      the next checkpoint's header is on disk. LMDB never reuses a page
 *      that a snapshot as old as its oldest reader can reach, so no later
 *      commit writes to a page of S: after the sync, S's pages on disk
 *      stay S's pages whatever happens to the others.
 *   2. S's meta page is read (pread, page cache) under writer_mu right
 *      after S, before a later commit can overwrite its slot, and written
 *      into the log's header only after data.mdb was synced; the header
 *      has two slots with a generation and a checksum, so a torn header
 *      write leaves the previous checkpoint, whose pin is released only
 *      after the new header is synced.
 *   3. The open after an unclean stop (the header is not marked clean)
 *      writes S's meta page into both of LMDB's meta slots and syncs
 *      before LMDB maps the file: LMDB then opens S, whatever the meta
 *      pages held. The replay then redoes the records after S in order.
 *
 * Replay gives byte-identical content: the record holds the inputs of the
 * group (the server's write commands with their actors and times), and a
 * write is a function of the KB's state and its inputs (the same holds
 * for a replicated node, docs/STREAM.md). A record is appended under
 * writer_mu right after its commit, so the log's order is the commit
 * order, and each record names its LMDB txn id: the records after S must
 * be S+1, S+2, ... without a gap.
 *
 * A commit without a record (a write whose input cannot be logged) is
 * synced by LMDB as before and becomes the checkpoint at once (pin, meta,
 * header): the records before it are no longer needed.
 *
 * Exclusion: the owner holds flock(LOCK_EX) on DIR/wal.lock. Every other
 * writable handle takes LOCK_SH for each write txn and gets HK_ERR_BUSY
 * while the owner runs (its commit would be rolled back by a recovery);
 * readers are not affected. A KB whose log was not closed cleanly and has
 * no owner is refused to everyone but an opener with opt.wal. Recovery
 * also takes LOCK_EX on hakgal.lock while it rewrites the meta pages:
 * nobody else may have the file mapped then.
 *
 * Threads: appends and the header's state change under writer_mu;
 * checkpoints are serialised by ckpt_mu, taken after writer_mu (never the
 * other way round). The checkpoint thread holds writer_mu only to take
 * the pin and read the meta page, never during a sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/store_int.h"
#include "store/wal.h"

/* The log is a ring of this many bytes (headers included) unless the
 * options say otherwise; a checkpoint starts early when a quarter of it
 * was appended since the last one. */
#define WAL_DEFAULT_LOG_BYTES (64ull << 20)
#define WAL_MIN_LOG_BYTES (HKS_WAL_DATA_OFF + 4096ull)
/* Preparing: zeros written (and synced) in steps of WAL_PREP_CHUNK, up to
 * twice the highest append offset plus WAL_PREP_AHEAD, never past the
 * ring's size. */
#define WAL_PREP_CHUNK (1u << 20)
#define WAL_PREP_AHEAD (4ull << 20)
#define WAL_DEFAULT_CKPT_MS 1000u
#define WAL_DEFAULT_CKPT_BYTES (64ull << 20)
#define WAL_REC_MAGIC 0x4C41574Bu /* "KWAL" */
#define WAL_HDR_MAGIC "HKGALWAL"
#define WAL_VERSION 1u
/* LMDB 0.9 meta page: the offsets opencheck.c reads too. */
#define META_MAGIC_OFF 16u
#define META_TXNID_OFF 144u
#define LMDB_MAGIC 0xBEEFC0DEu

void (*hks_wal_test_synced)(hk_store *s, const char *data_path);

/* ==== Format ==== */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t hks_crc32c(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *b = p;
    crc = ~crc;
    while (len >= 8) { /* slicing-by-8 */
        uint64_t w;
        memcpy(&w, b, 8);
        w ^= crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        b += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Header layout: magic[8] version u32 flags u32 seq u64 epoch u64 start
 * u64 ckpt_txnid u64 psize u32 meta_len u32 meta[152] crc u32. */
void hks_wal_header_encode(const hks_wal_header *h, uint8_t *out)
{
    memset(out, 0, HKS_WAL_HDR_BYTES);
    memcpy(out, WAL_HDR_MAGIC, 8);
    put32(out + 8, WAL_VERSION);
    put32(out + 12, h->flags);
    put64(out + 16, h->seq);
    put64(out + 24, h->epoch);
    put64(out + 32, h->start);
    put64(out + 40, h->ckpt_txnid);
    put32(out + 48, h->psize);
    put32(out + 52, HKS_WAL_META_BYTES);
    memcpy(out + 56, h->meta, HKS_WAL_META_BYTES);
    put32(out + 208, hks_crc32c(0, out, 208));
}

bool hks_wal_header_decode(const uint8_t *in, hks_wal_header *h,
                           const char **why)
{
    memset(h, 0, sizeof *h);
    if (memcmp(in, WAL_HDR_MAGIC, 8) != 0) {
        *why = "no header";
        return false;
    }
    if (get32(in + 208) != hks_crc32c(0, in, 208)) {
        *why = "header checksum mismatch";
        return false;
    }
    if (get32(in + 8) != WAL_VERSION || get32(in + 52) != HKS_WAL_META_BYTES) {
        *why = "unknown header version";
        return false;
    }
    h->flags = get32(in + 12);
    h->seq = get64(in + 16);
    h->epoch = get64(in + 24);
    h->start = get64(in + 32);
    h->ckpt_txnid = get64(in + 40);
    h->psize = get32(in + 48);
    memcpy(h->meta, in + 56, HKS_WAL_META_BYTES);
    if (h->psize < 256 || h->psize > 65536 || (h->psize & (h->psize - 1)) ||
        h->start < HKS_WAL_DATA_OFF) {
        *why = "header fields out of range";
        return false;
    }
    return true;
}

void hks_wal_rec_header(uint8_t *out, uint64_t epoch, uint64_t txnid,
                        const void *payload, uint32_t len)
{
    put32(out, WAL_REC_MAGIC);
    put32(out + 4, len);
    put64(out + 8, epoch);
    put64(out + 16, txnid);
    uint32_t crc = hks_crc32c(0, out, 24);
    put32(out + 24, hks_crc32c(crc, payload, len));
    put32(out + 28, 0);
}

hks_wal_tail hks_wal_rec_check(const uint8_t *buf, size_t avail, uint64_t epoch,
                               hks_wal_rec *r)
{
    if (avail == 0) return HKS_WAL_REC_END;
    if (avail < HKS_WAL_REC_HDR) {
        for (size_t i = 0; i < avail; i++)
            if (buf[i]) return HKS_WAL_REC_SHORT;
        return HKS_WAL_REC_END;
    }
    uint32_t magic = get32(buf), len = get32(buf + 4);
    if (magic == 0 && len == 0 && get64(buf + 8) == 0)
        return HKS_WAL_REC_END; /* never written */
    if (magic != WAL_REC_MAGIC || len > HKS_WAL_REC_MAX)
        return HKS_WAL_REC_GARBLED;
    if (get64(buf + 8) != epoch) return HKS_WAL_REC_END; /* left over */
    if (avail - HKS_WAL_REC_HDR < len) return HKS_WAL_REC_SHORT;
    uint32_t crc = hks_crc32c(0, buf, 24);
    crc = hks_crc32c(crc, buf + HKS_WAL_REC_HDR, len);
    if (crc != get32(buf + 24) || get32(buf + 28) != 0)
        return HKS_WAL_REC_GARBLED;
    r->epoch = epoch;
    r->txnid = get64(buf + 16);
    r->len = len;
    r->data = buf + HKS_WAL_REC_HDR;
    return HKS_WAL_REC_OK;
}

/* ==== State ==== */

/* A pinned snapshot: a read txn on the environment it began on. */
typedef struct wal_pin {
    MDB_txn *txn; /* read txn at the checkpoint (NULL: none) */
    hks_env *ge;  /* its environment (one reference) */
} wal_pin;

typedef struct hks_wal {
    int fd;                    /* DIR/wal */
    char *path;                /* its path (owned) */
    hks_wal_header hdr;        /* the header last written (or read) */
    bool recover;              /* rolled back at open: replay owed */
    _Atomic bool active;       /* hks_wal_start done, log in use */
    _Atomic bool failed;       /* the log failed: writes refused */
    uint64_t end;              /* append offset (writer_mu) */
    uint64_t epoch;            /* epoch of new records, one per lap of the
                                  ring; after open the highest epoch the
                                  file may hold (writer_mu) */
    uint64_t cap;              /* ring size in bytes, a multiple of 4096 */
    _Atomic uint64_t hiwater;  /* highest append offset since the start */
    pthread_mutex_t prep_mu;   /* taken while zeros are written past
                                  prepared, and to move prepared */
    _Atomic uint64_t prepared; /* [DATA_OFF, prepared) is allocated and
                                  written: appends below it change no
                                  metadata (grows only; prep_mu) */
    pthread_mutex_t tail_mu;   /* guards tail_epoch and tail_start */
    uint64_t tail_epoch;       /* the synced header's epoch ... */
    uint64_t tail_start;       /* ... and start: the oldest live record,
                                  which appends must not overwrite */
    _Atomic uint64_t logged;   /* newest commit appended (store numbering) */
    _Atomic uint64_t pending;  /* bytes appended since the last checkpoint */
    pthread_mutex_t ckpt_mu;   /* one checkpoint at a time (after writer_mu) */
    wal_pin pin;               /* the checkpoint's snapshot (ckpt_mu) */
    uint32_t ckpt_ms;          /* checkpoint period */
    uint64_t ckpt_bytes;       /* log bytes that start one early */
    pthread_t thread;          /* the checkpoint thread */
    bool thread_started;       /* thread runs */
    pthread_mutex_t mu;        /* guards stop, for wake */
    pthread_cond_t wake;       /* stop, or enough bytes logged */
    bool stop;                 /* the thread exits */
    hks_wal_stats st;          /* counters (atomics through the builtins) */
} hks_wal;

static void stat_add(uint64_t *c, uint64_t v)
{
    __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static void pin_release(hk_store *s, wal_pin *p)
{
    if (p->txn) mdb_txn_abort(p->txn);
    if (p->ge) hks_env_release(s, p->ge);
    p->txn = NULL;
    p->ge = NULL;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = hk_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static hk_err io_error(hk_error *err, const char *what, const char *path, int e)
{
    return hk_error_set(err, e == ENOSPC ? HK_ERR_DISK_FULL : HK_ERR_IO,
                        "store: write-ahead log: %s %s: %s", what, path,
                        strerror(e));
}

/* Reads the newer valid header of fd; false when neither slot is one. */
static bool header_read(int fd, hks_wal_header *h)
{
    uint8_t b[HKS_WAL_HDR_BYTES];
    hks_wal_header cand;
    const char *why;
    bool found = false;
    for (unsigned slot = 0; slot < 2; slot++) {
        if (pread(fd, b, sizeof b, (off_t)slot * HKS_WAL_SLOT) !=
            (ssize_t)sizeof b)
            continue;
        if (!hks_wal_header_decode(b, &cand, &why)) continue;
        if (!found || cand.seq > h->seq) *h = cand;
        found = true;
    }
    return found;
}

/* ==== Checkpoints ==== */

/* What a checkpoint fixes under writer_mu: the snapshot S and its meta. */
typedef struct ckpt {
    wal_pin pin;                      /* read txn at S */
    uint64_t txnid;                   /* S */
    uint32_t psize;                   /* page size */
    uint8_t meta[HKS_WAL_META_BYTES]; /* S's meta page */
    uint64_t start;                   /* log offset after S's record */
} ckpt;

/* Pins the last commit S and reads its meta page. writer_mu held (no
 * commit of this process can run; other processes cannot write). */
static hk_err ckpt_mark(hk_store *s, hks_wal *w, ckpt *c, hk_error *err)
{
    memset(c, 0, sizeof *c);
    c->pin.ge = hks_env_acquire(s);
    MDB_env *env = c->pin.ge->env;
    MDB_stat est;
    int fd = -1, rc;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &c->pin.txn)) ||
        (rc = mdb_env_stat(env, &est)) || (rc = mdb_env_get_fd(env, &fd))) {
        pin_release(s, &c->pin);
        return hks_store_mdb_error(NULL, rc, err, "write-ahead log: pinning");
    }
    c->txnid = mdb_txn_id(c->pin.txn);
    c->psize = est.ms_psize;
    c->start = w->end;
    /* LMDB writes txn T's meta into slot T & 1; read the slot that holds
     * S (after a recovery both do). */
    for (unsigned i = 0; i < 2; i++) {
        unsigned slot = (unsigned)((c->txnid + i) & 1);
        ssize_t n =
            pread(fd, c->meta, sizeof c->meta, (off_t)slot * (off_t)c->psize);
        if (n == (ssize_t)sizeof c->meta &&
            get32(c->meta + META_MAGIC_OFF) == LMDB_MAGIC &&
            get64(c->meta + META_TXNID_OFF) == c->txnid)
            return HK_OK;
    }
    pin_release(s, &c->pin);
    return hk_error_set(err, HK_ERR_STORE,
                        "store: write-ahead log: no meta page of txn %llu in "
                        "%s",
                        (unsigned long long)c->txnid, s->data_path);
}

/* Makes c the checkpoint: data.mdb synced (unless LMDB's commit synced
 * it), the header written and synced, the old pin released. ckpt_mu
 * held. On failure c's pin is released and the old checkpoint stands. */
static hk_err ckpt_write(hk_store *s, hks_wal *w, ckpt *c, bool sync_data,
                         uint32_t flags, uint64_t epoch, uint64_t start,
                         hk_error *err)
{
    int rc;
    if (sync_data && (rc = mdb_env_sync(c->pin.ge->env, 1))) {
        pin_release(s, &c->pin);
        return hks_store_mdb_error(NULL, rc, err, "write-ahead log: syncing");
    }
    if (hks_wal_test_synced) hks_wal_test_synced(s, s->data_path);
    hks_wal_header h = w->hdr;
    h.seq = w->hdr.seq + 1;
    h.flags = flags;
    h.psize = c->psize;
    h.epoch = epoch;
    h.start = start;
    h.ckpt_txnid = c->txnid;
    memcpy(h.meta, c->meta, sizeof h.meta);
    uint8_t b[HKS_WAL_HDR_BYTES];
    hks_wal_header_encode(&h, b);
    if (pwrite(w->fd, b, sizeof b, (off_t)(h.seq & 1) * HKS_WAL_SLOT) !=
            (ssize_t)sizeof b ||
        fdatasync(w->fd) != 0) {
        int e = errno;
        pin_release(s, &c->pin);
        return io_error(err, "writing the header of", w->path, e);
    }
    w->hdr = h;
    /* only now may appends reuse the space before h.start */
    pthread_mutex_lock(&w->tail_mu);
    w->tail_epoch = h.epoch;
    w->tail_start = h.start;
    pthread_mutex_unlock(&w->tail_mu);
    pin_release(s, &w->pin);
    w->pin = c->pin;
    c->pin.txn = NULL;
    c->pin.ge = NULL;
    stat_add(&w->st.checkpoints, 1);
    return HK_OK;
}

/* A checkpoint at the last commit that also restarts the log (epoch + 1,
 * records from HKS_WAL_DATA_OFF). writer_mu held: nothing is appended
 * meanwhile. flags: HKS_WAL_CLEAN when no commit without sync may follow
 * (close, compaction). The file keeps its size and its blocks: what is
 * left of older epochs is never read as live (see "Ring"). */
static hk_err ckpt_restart(hk_store *s, hks_wal *w, uint32_t flags,
                           hk_error *err)
{
    ckpt c;
    pthread_mutex_lock(&w->ckpt_mu);
    hk_err e = ckpt_mark(s, w, &c, err);
    if (!e)
        e = ckpt_write(s, w, &c, true, flags, w->epoch + 1, HKS_WAL_DATA_OFF,
                       err);
    if (!e) {
        w->epoch++;
        w->end = HKS_WAL_DATA_OFF;
        atomic_store(&w->pending, 0);
    }
    pthread_mutex_unlock(&w->ckpt_mu);
    return e;
}

/* The background checkpoint: pin under writer_mu, sync and header
 * without it. */
static hk_err ckpt_background(hk_store *s, hks_wal *w, hk_error *err)
{
    ckpt c;
    pthread_mutex_lock(&s->writer_mu);
    pthread_mutex_lock(&w->ckpt_mu);
    if (!atomic_load(&w->active) || atomic_load(&w->failed)) {
        pthread_mutex_unlock(&w->ckpt_mu);
        pthread_mutex_unlock(&s->writer_mu);
        return HK_OK;
    }
    MDB_envinfo info;
    hks_env *ge = atomic_load(&s->cur);
    if (mdb_env_info(ge->env, &info) == 0 &&
        info.me_last_txnid == w->hdr.ckpt_txnid) {
        pthread_mutex_unlock(&w->ckpt_mu);
        pthread_mutex_unlock(&s->writer_mu);
        return HK_OK; /* nothing committed since */
    }
    hk_err e = ckpt_mark(s, w, &c, err);
    uint64_t epoch = w->epoch;
    pthread_mutex_unlock(&s->writer_mu);
    if (!e) {
        uint64_t before = atomic_load(&w->pending);
        e = ckpt_write(s, w, &c, true, 0, epoch, c.start, err);
        if (!e) atomic_fetch_sub(&w->pending, before);
    }
    pthread_mutex_unlock(&w->ckpt_mu);
    return e;
}

/* ==== Ring ====
 *
 * Why: an fdatasync after an append past the file's end, or into a block
 * never written, must also commit the new size or the block's allocation
 * through the file system's journal (on ext4 with data=ordered that
 * commit also writes out other files' newly allocated data): ~0.7 ms per
 * sync under load, against ~0.14 ms for a synced overwrite of a block
 * that is already written. So the log is a ring of fixed size whose
 * blocks are written (zeros) and synced ahead of the appends, off the
 * syncer's path, and appends overwrite blocks that exist.
 *
 * Laps: appends fill [DATA_OFF, cap); a record that does not fit before
 * cap goes to DATA_OFF with the next epoch. Every lap has an epoch of its
 * own and a restart takes a new one too: no epoch is used twice in a
 * file. The replay reads the records of the header's epoch from its
 * start; where they end it looks at DATA_OFF for a record of the next
 * epoch with the next txn id and goes on there (once). After a lap's last
 * record lie the bytes of an older lap: a record of an older epoch, or
 * the middle of one (garbled), which both end the lap. A record of an
 * earlier lap is never taken for the next one: its epoch is older, and
 * the one at DATA_OFF must carry the next txn id as well.
 *
 * Space: appends never overwrite the oldest live record, the start of
 * the synced header (tail_start, in lap tail_epoch). In the tail's lap
 * they may use [end, cap) and, wrapping, [DATA_OFF, tail_start); in the
 * next lap only [end, tail_start). So the live records span at most two
 * laps and the file holds no epoch above the header's + 1 (open starts
 * from there). A commit that finds no room (the checkpoints fell behind,
 * or its record is larger than the ring) is synced by LMDB and restarts
 * the log, as a commit without a record does.
 *
 * Preparing: the checkpoint thread writes zeros past `prepared` through
 * the page cache, writes them back at once (sync_file_range, so that the
 * log's own fdatasync seldom finds them dirty) and fdatasyncs the new
 * size. The pages stay cached and up to date: a record that fills part of
 * a page then changes it in memory. (With O_DIRECT zeros the pages were
 * not cached and the writer read nearly every page of the log back from
 * the disk before its first record there, under writer_mu.) The thread
 * holds prep_mu while it writes; an append that would go past `prepared`
 * (the thread fell behind) moves it first under prep_mu, so the zeros
 * never land on a record.
 */

/* Never written: the source of the zeros, one page. */
static uint8_t prep_zeros[4096];

/* Writes zeros from `prepared` up to target (at most the ring's size),
 * syncing each chunk. Checkpoint thread only; returns an errno. */
static int prepare(hks_wal *w, uint64_t target)
{
    if (target > w->cap) target = w->cap;
    for (unsigned steps = 0; steps < 1u << 16; steps++) {
        pthread_mutex_lock(&w->prep_mu);
        uint64_t p = atomic_load(&w->prepared);
        if (p >= target) {
            pthread_mutex_unlock(&w->prep_mu);
            return 0;
        }
        uint64_t q = target - p < WAL_PREP_CHUNK ? target : p + WAL_PREP_CHUNK;
        /* One page per write: a large write fills the page cache with
         * large folios, and every record that touched one would then
         * dirty, and its sync write, the whole folio (hundreds of KB). */
        uint64_t at = p;
        int e = 0;
        while (at < q) {
            size_t len = q - at < sizeof prep_zeros ? (size_t)(q - at)
                                                    : sizeof prep_zeros;
            ssize_t n = pwrite(w->fd, prep_zeros, len, (off_t)at);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                e = n < 0 ? errno : EIO;
                break;
            }
            at += (uint64_t)n;
        }
        if (at > p) atomic_store(&w->prepared, at);
        pthread_mutex_unlock(&w->prep_mu);
        if (e) return e;
        if (sync_file_range(w->fd, (off_t)p, (off_t)(at - p),
                            SYNC_FILE_RANGE_WAIT_BEFORE |
                                SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER) != 0 ||
            fdatasync(w->fd) != 0)
            return errno;
    }
    return 0;
}

/* At start: cuts what lies past the ring and prepares the file again
 * from DATA_OFF, even where an earlier run wrote it: its pages are not in
 * the page cache, and a record that fills part of an uncached page reads
 * it from the disk first, on the writer's path; the zeros bring them in
 * (or fill the holes an older log left). No record is live past DATA_OFF
 * (a restart just happened). writer_mu held. Returns an errno. */
static int prepare_reset(hks_wal *w)
{
    struct stat sb;
    if (fstat(w->fd, &sb) != 0) return errno;
    if ((uint64_t)sb.st_size > w->cap &&
        (ftruncate(w->fd, (off_t)w->cap) != 0 || fdatasync(w->fd) != 0))
        return errno;
    pthread_mutex_lock(&w->prep_mu);
    atomic_store(&w->prepared, HKS_WAL_DATA_OFF);
    pthread_mutex_unlock(&w->prep_mu);
    return 0;
}

/* Where the next want bytes of records go: *at in lap *epoch, or false
 * when the ring has no room for them. writer_mu held. */
static bool ring_place(hks_wal *w, uint64_t want, uint64_t *at, uint64_t *epoch)
{
    pthread_mutex_lock(&w->tail_mu);
    uint64_t te = w->tail_epoch, ts = w->tail_start;
    pthread_mutex_unlock(&w->tail_mu);
    *at = w->end;
    *epoch = w->epoch;
    if (w->epoch == te) {
        if (w->end + want <= w->cap) return true;
        *at = HKS_WAL_DATA_OFF;
        *epoch = w->epoch + 1;
        return HKS_WAL_DATA_OFF + want <= ts;
    }
    return w->epoch == te + 1 && w->end + want <= ts;
}

/* Before an append to [at, at + want): makes sure the preparing never
 * writes there. writer_mu held. */
static void prepare_claim(hks_wal *w, uint64_t at, uint64_t want)
{
    uint64_t end = at + want;
    uint64_t hi = atomic_load(&w->hiwater);
    if (end > hi) atomic_store(&w->hiwater, end);
    if (end <= atomic_load(&w->prepared)) return;
    pthread_mutex_lock(&w->prep_mu);
    uint64_t np = (end + 4095) / 4096 * 4096;
    if (np > atomic_load(&w->prepared)) atomic_store(&w->prepared, np);
    pthread_mutex_unlock(&w->prep_mu);
}

static void *ckpt_main(void *arg)
{
    hk_store *s = arg;
    hks_wal *w = s->wal;
    bool prep_ok = true;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        if (prep_ok) {
            uint64_t hi = atomic_load(&w->hiwater);
            int pe = prepare(w, 2 * hi + WAL_PREP_AHEAD);
            if (pe) {
                /* appends then extend the file as they go: slower syncs,
                 * the same safety */
                fprintf(stderr,
                        "hakgal: write-ahead log %s: preparing blocks "
                        "failed (%s); the log grows as it goes\n",
                        w->path, strerror(pe));
                prep_ok = false;
            }
        }
        pthread_mutex_lock(&w->mu);
        if (w->stop) break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(w->ckpt_ms % 1000) * 1000000L;
        until.tv_sec += w->ckpt_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!w->stop && atomic_load(&w->pending) < w->ckpt_bytes)
            if (pthread_cond_timedwait(&w->wake, &w->mu, &until) != 0) break;
        if (w->stop) break;
        pthread_mutex_unlock(&w->mu);
        hk_error err;
        hk_error_clear(&err);
        if (ckpt_background(s, w, &err) != HK_OK) {
            /* the log keeps every record since the last good checkpoint;
             * the next round tries again */
            fprintf(stderr, "hakgal: checkpoint failed: %s\n", err.message);
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ==== Open and recovery ==== */

/* Writes S's meta page (from the header) into both of LMDB's meta slots
 * of data.mdb and syncs: LMDB then opens S. The process holds hakgal.lock
 * exclusively, so nobody has the file mapped. */
static hk_err rollback(hk_store *s, const hks_wal_header *h, hk_error *err)
{
    int fd = open(s->data_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return io_error(err, "opening", s->data_path, errno);
    for (uint64_t slot = 0; slot < 2; slot++) {
        uint8_t page[HKS_WAL_META_BYTES];
        memcpy(page, h->meta, sizeof page);
        put64(page, slot); /* the page header's own page number */
        if (pwrite(fd, page, sizeof page, (off_t)(slot * h->psize)) !=
            (ssize_t)sizeof page) {
            int e = errno;
            close(fd);
            return io_error(err, "rolling back", s->data_path, e);
        }
    }
    int rc = fdatasync(fd);
    int e = errno;
    close(fd);
    if (rc) return io_error(err, "syncing", s->data_path, e);
    /* the reader table of the process that died goes with it */
    char *lock = path_in(s->path, "lock.mdb");
    if (lock) unlink(lock);
    hk_free(lock);
    return HK_OK;
}

/* True when a process that owns the log holds wal.lock. */
static bool owner_alive(int lock_fd)
{
    if (lock_fd < 0) return false;
    if (hks_kb_lock_try(lock_fd, LOCK_SH) != 0) return true;
    flock(lock_fd, LOCK_UN);
    return false;
}

hk_err hks_wal_open(hk_store *s, const char *dir, hk_error *err)
{
    hk_err e = HK_OK;
    char *lock_path = path_in(dir, HKS_WAL_LOCK_FILE);
    char *wal_path = path_in(dir, HKS_WAL_FILE);
    hks_wal *w = NULL;
    hks_wal_header h;
    bool have_hdr = false;
    if (!lock_path || !wal_path) {
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto done;
    }
    s->wal_lock_fd = open(lock_path,
                          s->opt.read_only ? O_RDONLY | O_CLOEXEC
                                           : O_RDWR | O_CREAT | O_CLOEXEC,
                          0644);
    /* Without the lock file (a directory this user cannot write) there
     * is no owner to exclude: only the owner must have it. */
    if (s->wal_lock_fd < 0 && s->opt.wal) {
        e = io_error(err, "opening", lock_path, errno);
        goto done;
    }
    if (s->opt.wal) {
        int rc = hks_kb_lock_try(s->wal_lock_fd, LOCK_EX);
        if (rc) {
            e = rc == EWOULDBLOCK
                    ? hk_error_set(err, HK_ERR_BUSY,
                                   "store: the KB in %s is written by another "
                                   "process (its write-ahead log or a write "
                                   "transaction is running); one writer at a "
                                   "time may use the log",
                                   dir)
                    : io_error(err, "locking", lock_path, rc);
            goto done;
        }
    }
    int fd = open(
        wal_path,
        s->opt.wal ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
    if (fd < 0 && (s->opt.wal || errno != ENOENT)) {
        e = io_error(err, "opening", wal_path, errno);
        goto done;
    }
    if (fd >= 0) have_hdr = header_read(fd, &h);
    bool unclean = have_hdr && !(h.flags & HKS_WAL_CLEAN);
    if (!s->opt.wal) {
        if (fd >= 0) close(fd);
        if (unclean && !owner_alive(s->wal_lock_fd))
            e = hk_error_set(err, HK_ERR_STATE,
                             "store: the KB in %s has a write-ahead log that "
                             "was not closed cleanly; start 'hakgal serve "
                             "--wal' on it once to replay the log",
                             dir);
        goto done;
    }
    w = hk_calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        e = hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
        goto done;
    }
    w->fd = fd;
    w->path = wal_path;
    wal_path = NULL;
    pthread_mutex_init(&w->ckpt_mu, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->prep_mu, NULL);
    pthread_mutex_init(&w->tail_mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (have_hdr) w->hdr = h;
    /* the writer may have gone one lap past the header (see "Ring"): the
     * next restart takes an epoch above every one in the file */
    w->epoch = have_hdr ? h.epoch + 1 : 0;
    w->end = HKS_WAL_DATA_OFF;
    w->cap = WAL_DEFAULT_LOG_BYTES;
    atomic_store(&w->prepared, HKS_WAL_DATA_OFF);
    s->wal = w;
    if (unclean) {
        int rc = hks_kb_lock_try(s->lock_fd, LOCK_EX);
        if (rc) {
            flock(s->lock_fd, LOCK_SH);
            e = hk_error_set(err, HK_ERR_BUSY,
                             "store: the KB in %s needs a recovery from its "
                             "write-ahead log, which needs the KB to itself; "
                             "another process has it open",
                             dir);
            goto done;
        }
        e = rollback(s, &h, err);
        flock(s->lock_fd, LOCK_SH); /* the other openers may come now */
        if (e) goto done;
        w->recover = true;
    }
done:
    hk_free(lock_path);
    hk_free(wal_path);
    return e;
}

/* Pins the snapshot recovery starts from, so that the replay's commits
 * (not synced) never overwrite its pages. */
static hk_err pin_now(hk_store *s, hks_wal *w, hk_error *err)
{
    ckpt c;
    pthread_mutex_lock(&s->writer_mu);
    pthread_mutex_lock(&w->ckpt_mu);
    hk_err e = ckpt_mark(s, w, &c, err);
    if (!e) {
        pin_release(s, &w->pin);
        w->pin = c.pin;
    }
    pthread_mutex_unlock(&w->ckpt_mu);
    pthread_mutex_unlock(&s->writer_mu);
    return e;
}

/* Replays the records after the checkpoint, each in a txn of its own
 * (committed without sync: the checkpoint after the replay syncs them),
 * from the header's start in its epoch and, where that lap ends, on at
 * DATA_OFF in the next one (see "Ring"). */
static hk_err replay(hk_store *s, hks_wal *w, const hks_wal_options *o,
                     hks_wal_report *rep, hk_error *err)
{
    struct stat sb;
    if (fstat(w->fd, &sb) != 0) return io_error(err, "reading", w->path, errno);
    const uint64_t base = HKS_WAL_DATA_OFF;
    uint64_t size = (uint64_t)sb.st_size > base ? sb.st_size - base : 0;
    if (size > (uint64_t)SIZE_MAX / 2)
        return hk_error_set(err, HK_ERR_LIMIT,
                            "store: write-ahead log %s too large to replay",
                            w->path);
    uint8_t *buf = size ? hk_malloc(size) : NULL;
    if (size && !buf)
        return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(w->fd, buf + got, size - got, (off_t)(base + got));
        if (n <= 0) break;
        got += (size_t)n;
    }
    hk_err e = HK_OK;
    uint64_t expect = w->hdr.ckpt_txnid + 1;
    uint64_t epoch = w->hdr.epoch;
    int64_t shift = 0;
    size_t off = w->hdr.start - base;
    if (off > got) off = got;
    snprintf(rep->tail, sizeof rep->tail, "clean end at offset %llu",
             (unsigned long long)(base + off));
    for (;;) {
        hks_wal_rec r;
        hks_wal_tail k = hks_wal_rec_check(buf + off, got - off, epoch, &r);
        if (k != HKS_WAL_REC_OK && rep->laps == 0 && off > 0) {
            /* the lap may go on at the ring's beginning */
            hks_wal_rec n;
            if (hks_wal_rec_check(buf, got, epoch + 1, &n) == HKS_WAL_REC_OK &&
                n.txnid == expect) {
                rep->laps++;
                epoch++;
                off = 0;
                continue;
            }
        }
        if (k != HKS_WAL_REC_OK) {
            const char *what = k == HKS_WAL_REC_END ? "clean end"
                               : k == HKS_WAL_REC_SHORT
                                   ? "torn record (cut short)"
                                   : "torn or garbled record";
            snprintf(rep->tail, sizeof rep->tail, "%s at offset %llu", what,
                     (unsigned long long)(base + off));
            break;
        }
        if (r.txnid != expect) {
            snprintf(rep->tail, sizeof rep->tail,
                     "record at offset %llu is txn %llu, expected %llu: the "
                     "log ends there",
                     (unsigned long long)(base + off),
                     (unsigned long long)r.txnid, (unsigned long long)expect);
            break;
        }
        hk_txn *t = NULL;
        if ((e = hk_txn_begin(s, true, &t, err))) break;
        hks_txn_set_no_sync(t);
        if ((e = o->replay(o->ud, t, r.data, r.len, err))) {
            hk_txn_abort(t);
            break;
        }
        size_t before = t->txnid;
        if ((e = hk_txn_commit(t, err))) break;
        /* a replayed record is one commit, as when it was logged (modules
         * attached at open may have committed before the replay: the
         * distance stays the same) */
        if (rep->records == 0) shift = (int64_t)before - (int64_t)r.txnid;
        if ((int64_t)before - (int64_t)r.txnid != shift) {
            e = hk_error_set(err, HK_ERR_CORRUPT,
                             "store: write-ahead log: replaying txn %llu "
                             "gave txn %zu; the replay diverged",
                             (unsigned long long)r.txnid, before);
            break;
        }
        rep->records++;
        rep->bytes += HKS_WAL_REC_HDR + r.len;
        expect++;
        off += HKS_WAL_REC_HDR + r.len;
    }
    hk_free(buf);
    return e;
}

hk_err hks_wal_start(hk_store *s, const hks_wal_options *o, hks_wal_report *rep,
                     hk_error *err)
{
    hks_wal_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    hks_wal *w = s ? s->wal : NULL;
    if (!w || !o || !o->replay)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: the write-ahead log needs a KB opened "
                            "with the wal option and a replay function");
    if (atomic_load(&w->active)) return HK_OK;
    w->ckpt_ms = o->checkpoint_ms ? o->checkpoint_ms : WAL_DEFAULT_CKPT_MS;
    w->cap = o->log_bytes ? o->log_bytes / 4096 * 4096 : WAL_DEFAULT_LOG_BYTES;
    if (w->cap < WAL_MIN_LOG_BYTES) w->cap = WAL_MIN_LOG_BYTES;
    /* by default a quarter of the ring: the checkpoint frees space long
     * before the appends come round to the tail */
    w->ckpt_bytes = o->checkpoint_bytes ? o->checkpoint_bytes
                                        : (w->cap - HKS_WAL_DATA_OFF) / 4;
    if (!o->checkpoint_bytes && w->ckpt_bytes > WAL_DEFAULT_CKPT_BYTES)
        w->ckpt_bytes = WAL_DEFAULT_CKPT_BYTES;
    hk_err e = HK_OK;
    if (w->recover) {
        rep->recovered = true;
        rep->checkpoint = w->hdr.ckpt_txnid;
        if (!w->pin.txn && (e = pin_now(s, w, err))) return e;
        if ((e = replay(s, w, o, rep, err))) return e;
        w->recover = false;
    }
    /* The first checkpoint: S = now, log empty; only then may a commit
     * skip its sync. */
    pthread_mutex_lock(&s->writer_mu);
    e = ckpt_restart(s, w, 0, err);
    if (!e) {
        int pe = prepare_reset(w);
        if (pe) e = io_error(err, "sizing", w->path, pe);
    }
    if (!e) {
        MDB_envinfo info;
        hks_env *ge = atomic_load(&s->cur);
        if (mdb_env_info(ge->env, &info) == 0)
            atomic_store(&s->durable, (uint64_t)((int64_t)info.me_last_txnid +
                                                 s->txnid_base));
        atomic_store(&w->logged, atomic_load(&s->durable));
        atomic_store(&w->active, true);
    }
    pthread_mutex_unlock(&s->writer_mu);
    if (e) return e;
    if (pthread_create(&w->thread, NULL, ckpt_main, s) == 0) {
        w->thread_started = true;
        pthread_setname_np(w->thread, "hk-checkpoint");
    } else {
        atomic_store(&w->active, false);
        return hk_error_set(err, HK_ERR_NOMEM,
                            "store: cannot start the checkpoint thread");
    }
    return HK_OK;
}

hk_err hks_wal_opened(hk_store *s, hk_error *err)
{
    hks_wal *w = s->wal;
    if (!w || !w->recover) return HK_OK;
    return pin_now(s, w, err);
}

bool hks_wal_active(hk_store *s)
{
    return s && s->wal && atomic_load(&s->wal->active);
}

void hks_wal_get_stats(hk_store *s, hks_wal_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !s->wal) return;
    hks_wal_stats *st = &s->wal->st;
    out->records = __atomic_load_n(&st->records, __ATOMIC_RELAXED);
    out->bytes = __atomic_load_n(&st->bytes, __ATOMIC_RELAXED);
    out->syncs = __atomic_load_n(&st->syncs, __ATOMIC_RELAXED);
    out->checkpoints = __atomic_load_n(&st->checkpoints, __ATOMIC_RELAXED);
    out->synced_commits =
        __atomic_load_n(&st->synced_commits, __ATOMIC_RELAXED);
}

void hks_wal_close(hk_store *s)
{
    hks_wal *w = s->wal;
    if (w) {
        if (w->thread_started) {
            pthread_mutex_lock(&w->mu);
            w->stop = true;
            pthread_cond_signal(&w->wake);
            pthread_mutex_unlock(&w->mu);
            pthread_join(w->thread, NULL);
        }
        if (atomic_load(&w->active) && !atomic_load(&w->failed)) {
            hk_error err;
            hk_error_clear(&err);
            pthread_mutex_lock(&s->writer_mu);
            if (ckpt_restart(s, w, HKS_WAL_CLEAN, &err) != HK_OK)
                fprintf(stderr, "hakgal: last checkpoint failed: %s\n",
                        err.message);
            atomic_store(&w->active, false);
            pthread_mutex_unlock(&s->writer_mu);
        }
        pin_release(s, &w->pin);
        if (w->fd >= 0) close(w->fd);
        pthread_mutex_destroy(&w->ckpt_mu);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->prep_mu);
        pthread_mutex_destroy(&w->tail_mu);
        pthread_cond_destroy(&w->wake);
        hk_free(w->path);
        hk_free(w);
        s->wal = NULL;
    }
    if (s->wal_lock_fd >= 0) close(s->wal_lock_fd);
    s->wal_lock_fd = -1;
}

/* ==== Writes ==== */

hk_err hks_wal_write_begin(hk_txn *t, hk_error *err)
{
    hk_store *s = t->s;
    if (s->wal) {
        if (atomic_load(&s->wal->failed))
            return hk_error_set(err, HK_ERR_IO,
                                "store: the write-ahead log of %s failed; "
                                "writes are refused until the KB is reopened",
                                s->path);
        return HK_OK;
    }
    if (s->wal_lock_fd < 0) return HK_OK;
    int rc = hks_kb_lock_try(s->wal_lock_fd, LOCK_SH);
    if (rc == EWOULDBLOCK)
        return hk_error_set(err, HK_ERR_BUSY,
                            "store: the KB in %s is written through the "
                            "write-ahead log of another process (hakgal "
                            "serve --wal); write through that server",
                            s->path);
    if (rc) return io_error(err, "locking", s->path, rc);
    t->wal_shared = true;
    return HK_OK;
}

void hks_wal_write_end(hk_txn *t)
{
    if (t->wal_shared) flock(t->s->wal_lock_fd, LOCK_UN);
    t->wal_shared = false;
}

/* Appends the record of t's commit; ENOSPC when the ring has no room
 * for it (nothing written then). writer_mu held. */
static int append(hk_store *s, hks_wal *w, hk_txn *t)
{
    uint8_t h[HKS_WAL_REC_HDR];
    size_t want = sizeof h + t->wal_len, done = 0;
    uint64_t place, epoch;
    if (!ring_place(w, want, &place, &epoch)) return ENOSPC;
    prepare_claim(w, place, want);
    hks_wal_rec_header(h, epoch, t->txnid, t->wal_rec, (uint32_t)t->wal_len);
    struct iovec iov[2] = {{h, sizeof h}, {(void *)t->wal_rec, t->wal_len}};
    off_t at = (off_t)place;
    for (int tries = 0; done < want && tries < 1000; tries++) {
        ssize_t n;
        if (done == 0)
            n = pwritev(w->fd, iov, 2, at);
        else if (done < sizeof h)
            n = pwrite(w->fd, h + done, sizeof h - done, at + (off_t)done);
        else
            n = pwrite(w->fd, (const uint8_t *)t->wal_rec + (done - sizeof h),
                       want - done, at + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        done += (size_t)n;
    }
    if (done < want) return EIO;
    w->end = place + want;
    w->epoch = epoch;
    atomic_store(&w->logged, (uint64_t)((int64_t)t->txnid + s->txnid_base));
    stat_add(&w->st.records, 1);
    stat_add(&w->st.bytes, want);
    if (atomic_fetch_add(&w->pending, want) + want >= w->ckpt_bytes) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->mu);
    }
    return 0;
}

int hks_wal_synced_commit(hk_store *s)
{
    hks_wal *w = s->wal;
    hk_error err;
    hk_error_clear(&err);
    stat_add(&w->st.synced_commits, 1);
    ckpt c;
    pthread_mutex_lock(&w->ckpt_mu);
    hk_err e = ckpt_mark(s, w, &c, &err);
    if (!e) e = ckpt_write(s, w, &c, false, 0, w->epoch, c.start, &err);
    pthread_mutex_unlock(&w->ckpt_mu);
    if (e) {
        atomic_store(&w->failed, true);
        fprintf(stderr, "hakgal: write-ahead log: %s\n", err.message);
        return EIO;
    }
    return 0;
}

int hks_wal_commit(hk_txn *t)
{
    hk_store *s = t->s;
    hks_wal *w = s->wal;
    MDB_envinfo info;
    int rc;
    bool logged = t->wal_rec != NULL && t->wal_len <= HKS_WAL_REC_MAX;
    bool env_no_sync = s->opt.no_sync;
    if (logged && !env_no_sync)
        (void)mdb_env_set_flags(t->ge->env, MDB_NOSYNC, 1);
    rc = mdb_txn_commit(t->txn);
    if (logged && !env_no_sync)
        (void)mdb_env_set_flags(t->ge->env, MDB_NOSYNC, 0);
    if (rc) return rc;
    if (mdb_env_info(t->ge->env, &info) || info.me_last_txnid != t->txnid) {
        t->no_sync = logged;
        return 0; /* nothing was written */
    }
    hk_error err;
    hk_error_clear(&err);
    if (logged) {
        t->no_sync = true; /* durable at the log's next sync */
        int e = append(s, w, t);
        if (e == 0) return 0;
        if (e == ENOSPC) { /* the ring is full: this commit checkpoints */
            hk_err ce = ckpt_restart(s, w, 0, &err);
            if (ce == HK_OK) {
                t->no_sync = false; /* synced with data.mdb */
                stat_add(&w->st.synced_commits, 1);
                atomic_store(&w->logged,
                             (uint64_t)((int64_t)t->txnid + s->txnid_base));
                return 0;
            }
            atomic_store(&w->failed, true);
            fprintf(stderr, "hakgal: write-ahead log: %s\n", err.message);
            return EIO;
        }
        /* The commit is visible but not logged, and a recovery would not
         * know it: no later commit may go on without it. */
        atomic_store(&w->failed, true);
        fprintf(stderr, "hakgal: write-ahead log %s: append failed: %s\n",
                w->path, strerror(e));
        return e;
    }
    /* Synced by LMDB: the checkpoint is here. */
    return hks_wal_synced_commit(s);
}

hk_err hks_wal_sync(hk_store *s, hk_error *err)
{
    hks_wal *w = s->wal;
    uint64_t upto = atomic_load(&w->logged);
    if (fdatasync(w->fd) != 0) {
        int e = errno;
        atomic_store(&w->failed, true);
        return io_error(err, "syncing", w->path, e);
    }
    stat_add(&w->st.syncs, 1);
    uint64_t cur = atomic_load(&s->durable);
    while (cur < upto && !atomic_compare_exchange_weak(&s->durable, &cur, upto))
        ;
    return HK_OK;
}

/* ==== Offline replacement of data.mdb ==== */

hk_err hks_wal_check_clean(const char *dir, hk_error *err)
{
    char *p = path_in(dir, HKS_WAL_FILE);
    if (!p) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    hk_free(p);
    if (fd < 0) return HK_OK; /* never had a log */
    hks_wal_header h;
    bool unclean = header_read(fd, &h) && !(h.flags & HKS_WAL_CLEAN);
    close(fd);
    if (unclean)
        return hk_error_set(err, HK_ERR_STATE,
                            "store: the KB in %s has a write-ahead log that "
                            "was not closed cleanly; start 'hakgal serve "
                            "--wal' on it once to replay the log",
                            dir);
    return HK_OK;
}

hk_err hks_wal_discard(const char *dir, hk_error *err)
{
    char *p = path_in(dir, HKS_WAL_FILE);
    if (!p) return hk_error_set(err, HK_ERR_NOMEM, "store: out of memory");
    int rc = unlink(p);
    int e = errno;
    hk_err r = HK_OK;
    if (rc != 0 && e != ENOENT)
        r = io_error(err, "removing", p, e);
    else if (rc == 0)
        r = hks_store_fsync_path(dir, true, err);
    hk_free(p);
    return r;
}

/* ==== Online compaction ==== */

hk_err hks_wal_before_swap(hk_store *s, hk_error *err)
{
    hks_wal *w = s->wal;
    if (!w || !atomic_load(&w->active)) return HK_OK;
    if (atomic_load(&w->failed))
        return hk_error_set(err, HK_ERR_IO,
                            "store: the write-ahead log failed; reopen the KB");
    hk_err e = ckpt_restart(s, w, HKS_WAL_CLEAN, err);
    if (e) return e;
    /* clean: every commit until after the swap is synced by LMDB */
    atomic_store(&w->active, false);
    pthread_mutex_lock(&w->ckpt_mu);
    pin_release(s, &w->pin);
    pthread_mutex_unlock(&w->ckpt_mu);
    return HK_OK;
}

void hks_wal_after_swap(hk_store *s)
{
    hks_wal *w = s->wal;
    if (!w || atomic_load(&w->active) || !w->thread_started) return;
    hk_error err;
    hk_error_clear(&err);
    if (ckpt_restart(s, w, 0, &err) == HK_OK) {
        atomic_store(&w->active, true);
        return;
    }
    /* the header stays clean: commits are synced by LMDB, safely */
    fprintf(stderr, "hakgal: write-ahead log off after compaction: %s\n",
            err.message);
}
