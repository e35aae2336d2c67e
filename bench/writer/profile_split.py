#!/usr/bin/env python3
"""Splits a server profile (perf script output with call chains, from
bench/writer/profile.sh) into CPU microseconds per fact, per thread and
per stage of a durable POST.

    perf script -F comm,ip,sym -i perf.data > stacks.txt
    python3 bench/writer/profile_split.py stacks.txt FREQ FACTS

FREQ is perf record's -F (each sample stands for 1/FREQ s of one core's
time), FACTS the facts written while perf recorded. Every sample goes to
the first stage of its thread whose marker appears in its call chain
(the order below matters: a sample of writev inside the LMDB commit is a
page write, not "commit: other"), so the rows of a thread add up to its
total. A thread that is not listed is summed under "other threads".
"""
import collections
import sys

# thread -> ordered (stage, markers): a sample belongs to the first stage
# one of whose markers is a substring of one of its frames
STAGES = {
    "writer": [
        ("commit: LMDB page writes (pwrite/writev)",
         ["generic_perform_write", "__libc_pwrite", "__GI___writev",
          "vfs_write"]),
        ("commit: pending index flush", ["hks_txn_flush"]),
        ("commit: LMDB other", ["mdb_txn_commit"]),
        ("commit: log append", ["hks_wal_commit", "hk_txn_commit"]),
        ("apply: change hooks", ["tell_hooks", "hks_hooks_change"]),
        ("apply: fact add", ["hk_svc_fact_add", "run_job"]),
        ("wakeups (futex, cond)", ["futex", "pthread_cond"]),
        ("other", [""]),
    ],
    "loop": [
        ("epoll_ctl (read stop/start around the answer)", ["epoll_ctl"]),
        ("epoll_wait", ["epoll_wait"]),
        ("answer: send (writev)", ["h2o_send_inline"]),
        ("answer: read back and render", ["hk_route_read"]),
        ("request: read (recv)", ["__GI___libc_read", "sock_read_iter"]),
        ("request: hand-off to the writer", ["hk_write_async"]),
        ("request: decode (JSON, statement)", ["hk_route_facts_post"]),
        ("answer: other completion", ["complete_on_loop"]),
        ("malloc/free", ["malloc", "free"]),
        ("other", [""]),
    ],
    "syncer": [
        ("log fdatasync", ["fdatasync", "hk_store_sync"]),
        ("answers to the loops", ["complete_all", "hk_loop_send"]),
        ("other", [""]),
    ],
    "checkpoint": [
        ("data.mdb sync", ["mdb_env_sync"]),
        ("log ring preparing", ["prepare"]),
        ("other", [""]),
    ],
}


def thread_of(comm):
    if comm == "hk-writer":
        return "writer"
    if comm.startswith("hk-loop"):
        return "loop"
    if comm == "hk-syncer":
        return "syncer"
    if comm == "hk-checkpoint":
        return "checkpoint"
    return None


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: profile_split.py STACKS FREQ FACTS")
    path, freq, facts = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    if freq <= 0 or facts <= 0:
        sys.exit("profile_split.py: FREQ and FACTS must be positive")
    with open(path, encoding="utf-8", errors="replace") as f:
        blocks = f.read().split("\n\n")
    per = collections.Counter()  # (thread, stage) -> samples
    totals = collections.Counter()  # thread -> samples
    for block in blocks:
        lines = [line.strip() for line in block.strip().split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            continue
        comm = lines[0].split()[0]
        frames = [" ".join(line.split()[1:]) for line in lines[1:]]
        th = thread_of(comm)
        if th is None:
            totals["other threads"] += 1
            continue
        totals[th] += 1
        for stage, markers in STAGES[th]:
            if any(m in fr for m in markers for fr in frames):
                per[(th, stage)] += 1
                break
    us = 1e6 / freq / facts  # microseconds per fact of one sample
    all_samples = sum(totals.values())
    print("server CPU per fact: %.1f us (%d samples at %g Hz, %d facts)" %
          (all_samples * us, all_samples, freq, facts))
    for th in ["writer", "loop", "syncer", "checkpoint", "other threads"]:
        if not totals[th]:
            continue
        name = "loops (all)" if th == "loop" else th
        print("  %-50s %6.1f us/fact  %5.1f %%" %
              (name, totals[th] * us, 100.0 * totals[th] / all_samples))
        for stage, _ in STAGES.get(th, []):
            n = per[(th, stage)]
            if n:
                print("      %-46s %6.1f us/fact  %5.1f %% of the thread" %
                      (stage, n * us, 100.0 * n / totals[th]))


if __name__ == "__main__":
    main()
