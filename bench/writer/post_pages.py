#!/usr/bin/env python3
"""Which trees the pages of a durable single-fact POST belong to.

    HAKGAL_BIN=build/hakgal HK_TEST_TMP=/work/bigdata/me \\
        python3 bench/writer/post_pages.py [--preload 100000] \\
        [--groups 1,32,96] [--repeat 5] [--wal]

One `hakgal serve` is loaded with --preload facts of bench/http/post.lua's
shape (`BenchPost(t1, nI)` and `BenchPost(t2, nI)`: two subjects, a new
object per fact, source "wrk") through /v2/facts/batch. Then, --repeat
times per group size G, G single-fact POSTs of the same shape are sent at
once from G connections (the writer groups them; the number of commits
is read from hakgal_commit_group_size_count) between two snapshots of
data.mdb's pages. Every page that differs was written by those commits;
it is attributed to the tree that holds it in the second snapshot, found
by walking every database from the newest meta page (lmdb.h 0.9 page
layout): FREE_DBI ("free list"), MAIN_DBI ("main": the named databases'
records) and each named database, a duplicate sub-tree counted with its
database. A written page that no tree reaches was written and freed
again by a later commit of the same measurement (or is a meta page).
Prints pages per commit and per fact, per tree.
"""
import argparse
import collections
import http.client
import json
import os
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from test_server_api import Server  # noqa: E402
from bench_util import metric, page_hashes, post_batch  # noqa: E402

P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2 = 0x01, 0x02, 0x04, 0x08, 0x20
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04
HDR = 16  # page header bytes
DB_BYTES = 48  # sizeof(MDB_db)


class Pages:
    """data.mdb read page by page (the page cache: what LMDB wrote)."""

    def __init__(self, path, psize):
        self.f = open(path, "rb")
        self.psize = psize

    def get(self, pgno):
        self.f.seek(pgno * self.psize)
        return self.f.read(self.psize)

    def close(self):
        self.f.close()


def db_root(b, off):
    """The root page of the MDB_db record at b[off:]."""
    root = struct.unpack_from("<Q", b, off + 40)[0]
    return root


def nodes(pg):
    lower = struct.unpack_from("<H", pg, 12)[0]
    n = (lower - HDR) >> 1
    for i in range(max(0, min(n, 4096))):
        (off,) = struct.unpack_from("<H", pg, HDR + 2 * i)
        lo, hi, fl, ks = struct.unpack_from("<HHHH", pg, off)
        yield off, lo, hi, fl, ks


def walk(pages, root, owner, name, subdbs=None, depth=0):
    """Marks every page of the tree at root as name's in owner; collects
    the named databases' roots when subdbs is a dict (MAIN_DBI)."""
    if root == 0xFFFFFFFFFFFFFFFF or depth > 64:
        return
    stack = [root]
    while stack:
        p = stack.pop()
        if p in owner:
            continue
        owner[p] = name
        pg = pages.get(p)
        if len(pg) < HDR:
            continue
        flags = struct.unpack_from("<H", pg, 10)[0]
        if flags & P_LEAF2 or flags & P_OVERFLOW:
            continue
        if flags & P_BRANCH:
            for off, lo, hi, fl, ks in nodes(pg):
                stack.append(lo | hi << 16 | fl << 32)
            continue
        if not flags & P_LEAF:
            continue
        for off, lo, hi, fl, ks in nodes(pg):
            data = off + 8 + ks
            if fl & F_BIGDATA:
                ov = struct.unpack_from("<Q", pg, data)[0]
                opg = pages.get(ov)
                cnt = struct.unpack_from("<I", opg, 12)[0]
                for q in range(ov, ov + max(cnt, 1)):
                    owner.setdefault(q, name)
            elif fl & F_SUBDATA:
                sub_root = db_root(pg, data)
                if subdbs is not None and not fl & F_DUPDATA:
                    key = pg[off + 8:off + 8 + ks].rstrip(b"\0")
                    subdbs[key.decode("utf-8", "replace")] = sub_root
                else:  # a duplicate sub-tree: its database's pages
                    walk(pages, sub_root, owner, name, None, depth + 1)


def owners(path, psize):
    """page number -> tree name in the newest snapshot of data.mdb."""
    pages = Pages(path, psize)
    metas = []
    for m in (0, 1):
        pg = pages.get(m)
        txnid = struct.unpack_from("<Q", pg, 144)[0]
        metas.append((txnid, pg))
    _, meta = max(metas)
    owner = {0: "meta", 1: "meta"}
    free_root = db_root(meta, HDR + 24)
    main_root = db_root(meta, HDR + 24 + DB_BYTES)
    walk(pages, free_root, owner, "free list")
    subdbs = {}
    walk(pages, main_root, owner, "main", subdbs)
    for name, root in sorted(subdbs.items()):
        walk(pages, root, owner, name)
    pages.close()
    return owner


def post_all(port, bodies):
    """POSTs every body at once, one connection each; raises on a non-2xx."""
    errors = []
    barrier = threading.Barrier(len(bodies))

    def one(b):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.connect()
        barrier.wait()
        c.request("POST", "/v2/facts", body=b,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status not in (200, 201):
            errors.append(r.status)
        c.close()

    ts = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError("POST answered %s" % errors[:5])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preload", type=int, default=100000)
    ap.add_argument("--groups", default="1,32,96")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--wal", action="store_true")
    a = ap.parse_args()
    s = Server(["--wal"] if a.wal else [])
    path = os.path.join(s.data, "data.mdb")
    psize = os.sysconf("SC_PAGE_SIZE")
    n = 0
    try:
        conn = s.conn(timeout=600)
        while n < a.preload:
            k = min(10000, a.preload - n)
            body = json.dumps([{"statement": "BenchPost(t%d, n%d)" %
                                (1 + i % 2, i), "source": "wrk"}
                               for i in range(n, n + k)]).encode()
            post_batch(conn, body)
            n += k
        conn.close()
        for g in [int(x) for x in a.groups.split(",")]:
            tot = collections.Counter()
            commits = facts = 0
            for _ in range(a.repeat):
                bodies = [json.dumps({"statement": "BenchPost(t%d, n%d)" %
                                      (1 + i % 2, i), "source": "wrk"})
                          .encode() for i in range(n, n + g)]
                n += g
                c0 = metric(s, "hakgal_commit_group_size_count", 0)
                before = page_hashes(path, psize)
                post_all(s.port, bodies)
                after = page_hashes(path, psize)
                c1 = metric(s, "hakgal_commit_group_size_count", 0)
                own = owners(path, psize)
                for p, h in enumerate(after):
                    if p < len(before) and before[p] == h:
                        continue
                    tot[own.get(p, "unreachable (freed again)")] += 1
                commits += int(c1 - c0)
                facts += g
            pages = sum(tot.values())
            print("group of %d POSTs (%d commits for %d facts, KB %d "
                  "facts): %.1f pages per commit, %.2f per fact" % (
                      g, commits, facts, n, pages / max(commits, 1),
                      pages / facts))
            for name, cnt in tot.most_common():
                print("    %-28s %7.2f per commit %6.2f per fact" % (
                    name, cnt / max(commits, 1), cnt / facts))
            sys.stdout.flush()
    finally:
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    main()
