#!/usr/bin/python3
"""The hnswlib anchor of bench/vec_run.sh: the same vectors, ground truth,
M and ef_construction as build/vec_bench, measured the same way (build
with 1 thread, then recall@10 and queries/s at each ef with 1 and 2
threads; then a build with 2 threads, its recall at ef 32 and 64, and
save_index/load_index as the restart path).
Usage: vec_hnswlib.py DIR N DIM QUERIES M EFC"""
import sys, time
import numpy as np
import hnswlib

d, n, dim, nq, m, efc = sys.argv[1], *map(int, sys.argv[2:7])
base = np.fromfile(f"{d}/base.f32", dtype=np.float32).reshape(n, dim)
query = np.fromfile(f"{d}/query.f32", dtype=np.float32).reshape(nq, dim)
gt = np.fromfile(f"{d}/gt.u64", dtype=np.uint64).reshape(nq, 10)



def build(threads):
    ix = hnswlib.Index(space="cosine", dim=dim)
    ix.init_index(max_elements=n, M=m, ef_construction=efc, random_seed=100)
    ix.set_num_threads(threads)
    t0, c0 = time.monotonic(), time.process_time()
    ix.add_items(base, np.arange(n), num_threads=threads)
    dt, cpu = time.monotonic() - t0, time.process_time() - c0
    print(f"hnswlib build float32 n={n} m={m} efc={efc} threads={threads} "
          f"seconds={dt:.2f} rate={n / dt:.0f} cpu_seconds={cpu:.1f}",
          flush=True)
    return ix


def measure(ix, kind, efs):
    for ef in efs:
        ix.set_ef(ef)
        for th in (1, 2):
            ix.set_num_threads(th)
            t0, c0 = time.monotonic(), time.process_time()
            labels, _ = ix.knn_query(query, k=10, num_threads=th)
            dt, cpu = time.monotonic() - t0, time.process_time() - c0
            hits = sum(len(set(labels[i].tolist()) & set(gt[i].tolist()))
                       for i in range(nq))
            print(f"hnswlib search {kind} ef={ef} threads={th} "
                  f"recall={hits / (nq * 10):.4f} qps={nq / dt:.0f} "
                  f"cpu_us_per_query={cpu * 1e6 / nq:.0f}",
                  flush=True)


import os
if not os.environ.get("VEC_BENCH_SKIP1"):
    ix = build(1)
    measure(ix, "float32", (16, 32, 64, 128, 256, 512))
# VEC_BENCH_KEEP=1: the two-thread index stays in DIR/hnswlib.bin and a
# later run loads it instead of building it again (large N).
keep = os.environ.get("VEC_BENCH_KEEP") and os.path.exists(f"{d}/hnswlib.bin")
if keep:
    ix = hnswlib.Index(space="cosine", dim=dim)
    t0 = time.monotonic()
    ix.load_index(f"{d}/hnswlib.bin", max_elements=n)
    print(f"hnswlib kept float32 n={n} read_seconds="
          f"{time.monotonic() - t0:.2f}", flush=True)
else:
    ix = build(2)
    t0 = time.monotonic()
    ix.save_index(f"{d}/hnswlib.bin")
    print(f"hnswlib file float32 n={n} save_seconds="
          f"{time.monotonic() - t0:.2f}", flush=True)
# VEC_BENCH_EFS="32,64,256": as in vec_bench
efs = tuple(int(e) for e in os.environ.get("VEC_BENCH_EFS", "16,32,64,128").split(","))
measure(ix, "float32-2t", efs)
if keep or os.environ.get("VEC_BENCH_KEEP"):
    sys.exit(0)
t0 = time.monotonic()
ix.save_index(f"{d}/hnswlib.bin")
t1 = time.monotonic()
back = hnswlib.Index(space="cosine", dim=dim)
back.load_index(f"{d}/hnswlib.bin", max_elements=n)
t2 = time.monotonic()
print(f"hnswlib file float32 n={n} save_seconds={t1 - t0:.2f} "
      f"read_seconds={t2 - t1:.2f}", flush=True)
