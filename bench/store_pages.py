#!/usr/bin/env python3
"""Which LMDB pages one 10,000-fact batch writes, as the KB grows.

    HAKGAL_BIN=build/hakgal HK_TEST_TMP=/work/bigdata/k13 \\
        python3 bench/store_pages.py [--batch 10000] [--upto 3000000] \\
        [--every 500000] [--txn-batches 1[,3,10]] [--compact-at -1]

One unreplicated `hakgal serve` takes batches `B(t_k, x_i)` (the facts
of bench/repl_batch.py: a new subject per batch, the same --batch objects
x_i in every batch). At every --every facts the next --txn-batches
batches are sent as one request (one write txn) between two snapshots of
data.mdb's pages; the pages that differ are the pages that txn wrote (a
list of sizes measures each in turn; with the server's CPU time per fact).
Each is classified from its LMDB header (lmdb.h 0.9 page layout):

  arg.sub.leaf   DUPFIXED leaf of an entity's own sub-tree, 15-byte
                 duplicates (by_arg)
  arg.sub.branch branch page of such a sub-tree (15-byte keys)
  arg.main.subdb main-tree leaf holding sub-database records (4-byte keys;
                 format 4: 19-byte chunk keys)
  arg.main.inline main-tree leaf holding inline duplicates (4-byte keys,
                 15-byte sub-page duplicates; format 4: 19-byte chunk
                 keys, entity + first row, inline or single rows)
  arg.tail       leaf of 4-byte keys each holding at most 16 rows of 15
                 bytes (format 6: by_arg_tail; also a by_arg leaf of light
                 entities, which this load does not have)
  main.branch    branch page with 4-byte keys (by_arg / by_pred main tree)
                 or 19-byte keys (format 4 by_arg main tree)
  other          everything else (stmt, fact, by_pred, sym, audit, free
                 list, meta)

Also prints /proc/PID/io write_bytes of the txn and the duplicates per
object entity (all x_i hold the same number).
"""
import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from test_server_api import Server  # noqa: E402
from bench_util import page_hashes, post_batch, written  # noqa: E402

P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2, P_SUBP = (
    0x01, 0x02, 0x04, 0x08, 0x20, 0x40)
F_SUBDATA, F_DUPDATA = 0x02, 0x04
HDR = 16


def node_at(pg, i):
    (off,) = struct.unpack_from("<H", pg, HDR + 2 * i)
    lo, hi, fl, ks = struct.unpack_from("<HHHH", pg, off)
    return off, lo | hi << 16, fl, ks


def classify(pg):
    _, pad, flags, lower, _ = struct.unpack_from("<QHHHH", pg, 0)
    if flags & P_META:
        return "other"
    if flags & P_LEAF2:
        return "arg.sub.leaf" if pad == 15 else "other"
    n = (lower - HDR) >> 1
    if n <= 0 or n > 2048:
        return "other"
    if flags & P_BRANCH:
        if n < 2:
            return "other"
        ks = node_at(pg, 1)[3]
        return {15: "arg.sub.branch", 4: "main.branch",
                19: "main.branch"}.get(ks, "other")
    if flags & P_LEAF:
        kind = "other"
        small = True  # every node a 4-byte key with <= 16 rows
        for i in range(n):
            off, dsz, fl, ks = node_at(pg, i)
            if ks not in (4, 19):
                return "other"
            if ks != 4 or fl & F_SUBDATA or dsz > 16 + 16 * 15 or (
                    not fl & F_DUPDATA and dsz != 15):
                small = False
            if fl & F_SUBDATA:
                kind = "arg.main.subdb"
            elif fl & F_DUPDATA:
                (spad,) = struct.unpack_from("<H", pg, off + 8 + ks + 8)
                small = small and spad == 15
                if spad == 15 and kind == "other":
                    kind = "arg.main.inline"
            elif ks == 19 and dsz == 15 and kind == "other":
                kind = "arg.main.inline"
        if small and kind in ("arg.main.inline", "other"):
            return "arg.tail"
        return kind
    return "other"


def cpu(pid):
    """CPU seconds process pid's threads ran so far, to the nanosecond
    (/proc/PID/task/*/schedstat; /proc/PID/stat counts 10 ms ticks, as
    much as a 10,000-fact batch takes)."""
    t = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def body(k, n, size):
    return json.dumps([{"statement": "B(t_%d, x%d)" % (j, i)}
                       for j in range(k, k + n) for i in range(size)]).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--upto", type=int, default=3000000)
    ap.add_argument("--every", type=int, default=500000)
    ap.add_argument("--txn-batches", default="1",
                    help="batches per measured txn; a list (1,3,10) "
                    "measures each size in turn at every checkpoint")
    ap.add_argument("--compact-at", type=int, default=-1,
                    help="POST /v2/admin/compact (online compaction: "
                    "every tree rewritten densely) when the KB reaches "
                    "this many facts")
    a = ap.parse_args()
    s = Server()
    path = os.path.join(s.data, "data.mdb")
    psize = os.sysconf("SC_PAGE_SIZE")
    conn = s.conn(timeout=600)
    cols = ["arg.sub.leaf", "arg.sub.branch", "arg.main.subdb",
            "arg.main.inline", "arg.tail", "main.branch", "other"]
    print("| KB facts | dups per x_i | facts in txn | pages written | "
          + " | ".join(cols) + " | pages/fact | write_bytes/fact | "
          "CPU us/fact |")
    print("|" + "---|" * (len(cols) + 6))
    sizes = [int(x) for x in a.txn_batches.split(",")]
    k, facts, check, compacted = 0, 0, 0, False
    try:
        while facts <= a.upto:
            if a.compact_at >= 0 and facts >= a.compact_at and not compacted:
                compacted = True
                st, _, res = s.request("POST", "/v2/admin/compact",
                                       timeout=600)
                print("| compacted at %d facts: %s |" % (facts, res),
                      flush=True)
                conn.close()  # idle while compacting: the server closed it
                conn = s.conn(timeout=600)
            for n in sizes if facts >= check else []:
                b = body(k, n, a.batch)
                before = page_hashes(path, psize)
                # hashing the pages takes longer than the server keeps an
                # idle connection
                conn.close()
                conn = s.conn(timeout=600)
                w0, c0 = written(s.proc.pid), cpu(s.proc.pid)
                post_batch(conn, b)
                w1, c1 = written(s.proc.pid), cpu(s.proc.pid)
                after = page_hashes(path, psize)
                count = dict.fromkeys(cols, 0)
                with open(path, "rb") as f:
                    for p, h in enumerate(after):
                        if p < len(before) and before[p] == h:
                            continue
                        f.seek(p * psize)
                        count[classify(f.read(psize))] += 1
                tot = sum(count.values())
                nf = n * a.batch
                print("| %d | %d | %d | %d | %s | %.2f | %d | %.2f |" % (
                    facts, k, nf, tot,
                    " | ".join(str(count[c]) for c in cols), tot / nf,
                    (w1 - w0) // nf, (c1 - c0) * 1e6 / nf), flush=True)
                k += n
                facts += nf
            if facts >= check:
                check += a.every
                continue
            post_batch(conn, body(k, 1, a.batch))
            k += 1
            facts += a.batch
    finally:
        conn.close()
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    main()
