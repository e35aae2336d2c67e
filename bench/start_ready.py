#!/usr/bin/env python3
"""Start-up of a plain `hakgal serve` against the size of its KB: how long
after its process starts it answers 200 on GET /healthz and GET /readyz,
and what the process did until then (CPU, page faults, bytes read).
Compares binaries in one run, alternating restart by restart.

    python3 bench/start_ready.py [--sizes 10000,200000,2000000] \\
        [--rounds 5] [--work DIR] [--gen build/hk_gen] [--keep] \\
        [--model DIM] BIN [BIN...]

For each size N a KB of the synthetic facts of build/hk_gen (N facts,
imported by the first BIN: `hakgal init` + `hakgal import --compact
never`) is made once under --work (kept for later runs); with --model DIM
the first BIN also trains a learned model on it (`hakgal model train
--epochs 1 --dim DIM --threads 2 --no-space`: quick, not good, but a file
of the size a model of that KB has). The KB is then copied once per BIN so that no binary starts on a KB another one wrote. Each round
starts every BIN on every size in turn, on a free port, and polls
/healthz and /readyz alternately every 2 ms from the process start. At
the first 200 of /readyz it reads /proc/PID: CPU time (user + system),
minor and major page faults and the bytes the process read (rchar: read
and pread calls, the page cache included; LMDB's mapped reads are page
faults). With --model it then polls GET /v2/model until it answers 200
(the model is loaded). Then the server is stopped (SIGTERM). Prints each start, then
per size and BIN the medians and the ratio of the ready median to the
first BIN's. The KB copies are deleted at the end; the source KBs only
without --keep.
"""
import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(port, path):
    """The status of GET path, or None while nothing listens."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    except OSError:
        return None
    finally:
        c.close()


def proc_counts(pid):
    """(CPU s, minor faults, major faults, rchar bytes) of a live process,
    its threads included."""
    with open("/proc/%d/stat" % pid) as f:
        # the command name may hold spaces: fields after its ")"
        st = f.read().rsplit(")", 1)[1].split()
    minflt, majflt = int(st[7]), int(st[9])
    cpu = (int(st[11]) + int(st[12])) / CLK
    rchar = 0
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                rchar = int(line.split()[1])
    return cpu, minflt, majflt, rchar


def start(binary, data, log, model):
    """Starts binary on data; a dict of the times to the first 200 of
    /healthz and /readyz and the process's counts at the latter, and with
    model to the first 200 of /v2/model."""
    port = free_port()
    cmd = [binary, "serve", "--data", data, "--listen",
           "127.0.0.1:%d" % port, "--threads", "2"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log)
    res = {}
    try:
        while time.perf_counter() - t0 < 120:
            if "health" not in res and status(port, "/healthz") == 200:
                res["health"] = time.perf_counter() - t0
            if status(port, "/readyz") == 200:
                res["ready"] = time.perf_counter() - t0
                res.setdefault("health", res["ready"])
                (res["cpu"], res["minflt"], res["majflt"],
                 res["rchar"]) = proc_counts(p.pid)
                while model and status(port, "/v2/model") != 200:
                    if time.perf_counter() - t0 > 120:
                        raise RuntimeError("%s: no model in 120 s" % binary)
                    time.sleep(0.002)
                res["model"] = time.perf_counter() - t0 if model else 0.0
                return res
            if p.poll() is not None:
                raise RuntimeError("%s exited %d" % (binary, p.returncode))
            time.sleep(0.002)
        raise RuntimeError("%s not ready in 120 s" % binary)
    finally:
        if p.poll() is None:
            p.terminate()
        p.wait(60)


def make_kb(gen, binary, kb, n, model):
    facts = kb + ".txt"
    subprocess.run([gen, "--n", str(n), "--out", facts], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([binary, "init", "--data", kb], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([binary, "import", "--data", kb, "--quiet", "--compact",
                    "never", facts], check=True, stdout=subprocess.DEVNULL)
    os.unlink(facts)
    if model:
        subprocess.run([binary, "model", "train", "--data", kb, "--epochs",
                        "1", "--dim", str(model), "--threads", "2",
                        "--no-space"], check=True, stdout=subprocess.DEVNULL)


def kb_name(n, model):
    return "kb%d" % n + ("m%d" % model if model else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,200000,2000000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default="/work/bigdata/%s-start" %
                    os.environ.get("USER", "hk"))
    ap.add_argument("--gen", default="build/hk_gen")
    ap.add_argument("--keep", action="store_true",
                    help="keep the source KBs for a later run")
    ap.add_argument("--model", type=int, default=0, metavar="DIM",
                    help="KBs with a learned model of dimension DIM")
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    os.makedirs(a.work, exist_ok=True)
    copies = {}
    for n in sizes:
        kb = os.path.join(a.work, kb_name(n, a.model))
        if not os.path.isdir(kb):
            make_kb(a.gen, a.bins[0], kb, n, a.model)
        for k, b in enumerate(a.bins):
            c = os.path.join(a.work, "kb%d.bin%d" % (n, k))
            shutil.rmtree(c, ignore_errors=True)
            shutil.copytree(kb, c)
            copies[(n, b)] = c
    log = open(os.path.join(a.work, "serve.log"), "ab")
    res = {(n, b): [] for n in sizes for b in a.bins}
    print("load average before %.2f" % os.getloadavg()[0], flush=True)
    try:
        for r in range(a.rounds):
            for n in sizes:
                for b in a.bins:
                    x = start(b, copies[(n, b)], log, a.model)
                    res[(n, b)].append(x)
                    print("round %d N=%d %s: healthz %.3f s, readyz %.3f s, "
                          "CPU %.2f s, minor faults %d, major %d, read "
                          "%.1f MB, model %.3f s (0: none)" %
                          (r, n, b, x["health"], x["ready"], x["cpu"],
                           x["minflt"], x["majflt"], x["rchar"] / 1e6,
                           x["model"]), flush=True)
    finally:
        log.close()
        for c in copies.values():
            shutil.rmtree(c, ignore_errors=True)
        if not a.keep:
            for n in sizes:
                shutil.rmtree(os.path.join(a.work, kb_name(n, a.model)),
                              ignore_errors=True)
    print("load average after %.2f" % os.getloadavg()[0])
    for n in sizes:
        base = statistics.median(x["ready"] for x in res[(n, a.bins[0])])
        for b in a.bins:
            xs = res[(n, b)]

            def med(key):
                return statistics.median(x[key] for x in xs)
            print("N=%d %s: healthz median %.3f s, readyz median %.3f s "
                  "(%s), ratio %.2f; CPU %.2f s, minor faults %d, major "
                  "%d, read %.1f MB; model answers at %.3f s" %
                  (n, b, med("health"), med("ready"),
                   " ".join("%.3f" % x["ready"] for x in xs),
                   med("ready") / base, med("cpu"), med("minflt"),
                   med("majflt"), med("rchar") / 1e6, med("model")))


if __name__ == "__main__":
    sys.exit(main())
