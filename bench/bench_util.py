"""Helpers shared by the Python benchmarks that drive `hakgal serve`
(repl_batch.py, repl_nodes.py, store_pages.py): storage write-out of a
process, batch POSTs, /metrics values and one replication-lag probe."""
import hashlib
import json
import os
import time


def written(pid):
    """Bytes process pid caused to be written to storage so far (its
    LMDB page write-out: /proc/PID/io write_bytes)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def post_batch(conn, body):
    """POSTs a /v2/facts/batch body; the number of facts it created."""
    conn.request("POST", "/v2/facts/batch", body=body,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError("batch: %d %s" % (r.status, data[:300]))
    return json.loads(data)["created"]


def metric(s, name, missing):
    """The value of metric `name` in s's /metrics, or `missing`."""
    st, _, m = s.request("GET", "/metrics")
    for x in m.splitlines():
        if x.startswith(name + " "):
            return float(x.split()[1])
    return missing


def lag_probe(ca, cc, tag, i):
    """Milliseconds from writing Lag(TAG_I) through connection ca until
    connection cc finds it (gives up after 30 s). The fact's id on the
    reader may differ (--ack log answers 202 with the offset), so it is
    found by statement."""
    t0 = time.perf_counter()
    ca.request("POST", "/v2/facts",
                body='{"statement":"Lag(%s_%d)"}' % (tag, i),
                headers={"Content-Type": "application/json"})
    r = ca.getresponse()
    r.read()
    path = "/v2/facts?predicate=Lag&entity=%s_%d&limit=1" % (tag, i)
    until = time.time() + 30
    while time.time() < until:
        cc.request("GET", path)
        rr = cc.getresponse()
        if b'"count":1' in rr.read():
            break
    return (time.perf_counter() - t0) * 1000


def thread_group(name):
    """The component a thread of `hakgal serve` belongs to, from its name:
    the HTTP loops, the apply thread, librdkafka's threads (rdk:*), the
    others by their own name (the main thread is `hakgal`)."""
    if name.startswith("hk-loop-"):
        return "http"
    if name.startswith("rdk:"):
        return "rdkafka"
    return name


def threads(pid):
    """(tid, name) of every thread of process pid now, names from
    /proc/PID/task/TID/comm; [] when the process is gone. A thread that
    ends while the list is read is left out."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                out.append((int(tid), f.read().rstrip("\n")))
        except OSError:
            continue
    return out


def thread_id(pid, name):
    """The id of pid's thread called name (hk-repl-apply: the apply
    thread), or None while it has none."""
    for tid, n in threads(pid):
        if n == name:
            return tid
    return None


def thread_cpu(pid):
    """CPU seconds per thread group (thread_group) of process pid so far:
    the threads from threads(), run time to the nanosecond from
    /proc/PID/task/TID/schedstat. A thread that ended is not counted; the
    groups of a long-lived server do not end."""
    out = {}
    for tid, name in threads(pid):
        try:
            with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
        except OSError:
            continue
        g = thread_group(name)
        out[g] = out.get(g, 0.0) + ns / 1e9
    return out


def thread_cpu_diff(after, before, n):
    """CPU microseconds per fact per thread group between two thread_cpu
    readings over n facts, largest first, as 'group 1.23' strings."""
    d = {g: (v - before.get(g, 0.0)) * 1e6 / max(1, n)
         for g, v in after.items()}
    return ", ".join("%s %.2f" % (g, v)
                     for g, v in sorted(d.items(), key=lambda x: -x[1])
                     if v >= 0.005)


def page_hashes(path, psize):
    """A short hash of every page of the file at path (psize bytes each),
    so that two snapshots of data.mdb show which pages a txn wrote."""
    out = []
    with open(path, "rb") as f:
        while True:
            b = f.read(psize * 256)
            if not b:
                break
            for o in range(0, len(b), psize):
                out.append(hashlib.blake2b(b[o:o + psize],
                                           digest_size=8).digest())
    return out
