/*
 * wal.h — the write-ahead log's file format (wal.c), for the store and its
 * tests. The store's interface to the log is in store.h ("Write-ahead
 * log"); what is here is the byte layout, pure functions over buffers.
 *
 * DIR/wal holds two header slots and then records:
 *
 *   offset 0 and 4096   header slots (HKS_WAL_HDR_BYTES used of each): the
 *                       newer valid one (higher seq, checksum right) wins,
 *                       so a torn header write leaves the other one
 *   offset 8192...      records, one per logged commit, back to back,
 *                       round a ring of fixed size (wal.c, "Ring")
 *
 * A header names the checkpoint: the LMDB transaction S whose pages are
 * all on disk, S's raw meta page (what recovery writes back), the epoch of
 * the live records and the offset of the first record after S.
 *
 * A record: u32 magic, u32 payload length, u64 epoch, u64 LMDB txn id,
 * u32 CRC-32C of the 24 header bytes before it and of the payload, u32
 * zero, then the payload. All integers little-endian. Each lap of the
 * ring, and each restart of the log, has an epoch of its own: a record of
 * another epoch is left over from an earlier lap (the end of this one).
 */
#ifndef HKS_WAL_H
#define HKS_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hakgal.h"

#define HKS_WAL_FILE "wal"
#define HKS_WAL_LOCK_FILE "wal.lock"
#define HKS_WAL_SLOT 4096u          /* bytes between the two header slots */
#define HKS_WAL_DATA_OFF 8192u      /* offset of the first record */
#define HKS_WAL_META_BYTES 152u     /* LMDB 0.9 meta page: header + MDB_meta */
#define HKS_WAL_HDR_BYTES 212u      /* encoded header, checksum included */
#define HKS_WAL_REC_HDR 32u         /* record header */
#define HKS_WAL_REC_MAX (64u << 20) /* largest payload */
#define HKS_WAL_CLEAN                                                          \
    1u /* header flag: data.mdb is synced as of S and no                       \
          commit followed without its own sync: open it                        \
          as it is, there is nothing to roll back */

typedef struct hks_wal_header {
    uint64_t seq;        /* generation: the valid slot with the higher wins */
    uint32_t flags;      /* HKS_WAL_CLEAN */
    uint32_t psize;      /* LMDB page size of data.mdb, bytes */
    uint64_t epoch;      /* records of this epoch are live */
    uint64_t start;      /* offset of the first record after S */
    uint64_t ckpt_txnid; /* S: LMDB txn id of the checkpoint */
    uint8_t meta[HKS_WAL_META_BYTES]; /* S's meta page as LMDB wrote it */
} hks_wal_header;

/* One record as found by hks_wal_rec_check. */
typedef struct hks_wal_rec {
    uint64_t epoch;   /* log epoch it was written in */
    uint64_t txnid;   /* LMDB txn id of the commit it logs */
    uint32_t len;     /* payload bytes */
    const void *data; /* payload (into the buffer checked) */
} hks_wal_rec;

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t hks_crc32c(uint32_t crc, const void *p, size_t len);

/* Encodes h into out (HKS_WAL_HDR_BYTES bytes). */
void hks_wal_header_encode(const hks_wal_header *h, uint8_t *out);
/* Decodes a header slot; false (why says what) when it is not a valid
 * header (never written, torn, another format). */
bool hks_wal_header_decode(const uint8_t *in, hks_wal_header *h,
                           const char **why);

/* Writes the record header for a payload of len bytes into out
 * (HKS_WAL_REC_HDR bytes); the payload follows it in the file. */
void hks_wal_rec_header(uint8_t *out, uint64_t epoch, uint64_t txnid,
                        const void *payload, uint32_t len);

typedef enum hks_wal_tail {
    HKS_WAL_REC_OK = 0,  /* a whole record */
    HKS_WAL_REC_END,     /* nothing more: zeros, end of file, other epoch */
    HKS_WAL_REC_SHORT,   /* cut short (the file ends inside it) */
    HKS_WAL_REC_GARBLED, /* bad magic, length or checksum */
} hks_wal_tail;

/* Checks the record at the start of buf (avail bytes from there to the
 * end of the file) for epoch. HKS_WAL_REC_OK fills r. */
hks_wal_tail hks_wal_rec_check(const uint8_t *buf, size_t avail, uint64_t epoch,
                               hks_wal_rec *r);

#endif /* HKS_WAL_H */
