#!/usr/bin/env python3
"""How many of the pages a `--wal` checkpoint writes are still live.

    HK_LOAD=build/hk_load python3 bench/writer/live_pages.py \\
        [--build build] [--out DIR] [--preload-s 4] [--windows 1,0.25]

A KB is filled by `hk_load` (64 connections, one unique fact per durable
POST) against `hakgal serve --wal` for --preload-s seconds and the server
stopped. Then, per window W, data.mdb is copied (A), the server runs the
same load for W seconds and is stopped again (B). Pages whose bytes
differ between A and B are the pages the window wrote: all of them reach
the disk at the next checkpoint, because the read txn pinned on the last
checkpoint keeps LMDB from reusing a page inside the window (wal.c,
rule 1). Pages reachable from B's newest meta page and not from A's are
the live new ones: the only ones a checkpoint of B has to write. Prints
both counts and their ratio. Trees are walked as bench/writer/
post_pages.py walks them (lmdb.h 0.9 page layout).
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from post_pages import owners  # noqa: E402

PSIZE = 4096


def serve_load(build, hk_load, kb, secs, port):
    """One server run with secs of load; returns hk_load's summary line."""
    p = subprocess.Popen([os.path.join(build, "hakgal"), "serve", "--data", kb,
                          "--listen", "127.0.0.1:%d" % port, "--threads", "2",
                          "--quiet", "--wal"])
    try:
        for _ in range(300):
            if subprocess.call(["curl", "-fs",
                                "http://127.0.0.1:%d/readyz" % port],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0:
                break
            time.sleep(0.1)
        out = subprocess.run(
            [hk_load, "--port", str(port), "--conns", "64", "--duration",
             str(secs), "--think-ms", "0", "--write-pct", "100", "--ramp-s",
             "0", "--warmup-s", "0", "--subjects", "2", "--source",
             "hk_load"], capture_output=True, text=True, check=True).stdout
    finally:
        p.terminate()
        if p.wait() != 0:
            raise SystemExit("hakgal serve stopped with %d" % p.returncode)
    return " ".join([ln for ln in out.splitlines()
                     if "requests ok" in ln][0].split())


def page_digests(path):
    out = []
    with open(path, "rb") as f:
        for _ in range(1 << 31):
            b = f.read(PSIZE)
            if not b:
                break
            out.append(hashlib.blake2b(b, digest_size=8).digest())
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--out", default=os.path.join(root, "bench", "out",
                                                  "live-pages"))
    ap.add_argument("--preload-s", type=int, default=4)
    ap.add_argument("--windows", default="1,0.25")
    a = ap.parse_args()
    hk_load = os.environ.get("HK_LOAD", os.path.join(a.build, "hk_load"))
    os.makedirs(a.out, exist_ok=True)
    kb = os.path.join(a.out, "kb")
    shutil.rmtree(kb, ignore_errors=True)
    port = 20000 + os.getpid() % 20000
    print("preload: " + serve_load(a.build, hk_load, kb, a.preload_s, port))
    for w in [float(x) for x in a.windows.split(",")]:
        pa, pb = os.path.join(a.out, "A.mdb"), os.path.join(a.out, "B.mdb")
        shutil.copy(os.path.join(kb, "data.mdb"), pa)
        line = serve_load(a.build, hk_load, kb, w, port)
        shutil.copy(os.path.join(kb, "data.mdb"), pb)
        da, db = page_digests(pa), page_digests(pb)
        written = {p for p in range(len(db))
                   if p >= len(da) or da[p] != db[p]}
        ra, rb = owners(pa, PSIZE), owners(pb, PSIZE)
        live_new = [p for p in rb if p not in ra]
        print("window %.2f s (%s): pages written %d, live new %d (%.1f %%), "
              "reachable in B %d" % (w, line, len(written), len(live_new),
                                     100.0 * len(live_new) /
                                     max(1, len(written)), len(rb)))
        os.unlink(pa)
        os.unlink(pb)
    shutil.rmtree(kb, ignore_errors=True)


if __name__ == "__main__":
    main()
