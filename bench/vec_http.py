#!/usr/bin/python3
"""`/v2/search?mode=vector` over HTTP and restart to serving, on a KB made
by build/vec_kb (N fact vectors of bench/vec_bench's clustered data).

  vec_http.py HAKGAL KBDIR QUERYFILE DIM [ROUNDS] [REQUESTS] [GTFILE]

VEC_HTTP_EF=E sends ef=E with every search (default: the space's ef).
With GTFILE (bench/vec_bench's gt.u64: 10 exact neighbours per query) the
latency run also reports recall@10 of the answers (fact Vec(vI, bench) is
base vector I, as bench/vec_kb makes them).

1. restart: ROUNDS times, start `hakgal serve` and time from the spawn to
   the first 200 answer of a vector search with a client-supplied vector
   (the kept index read from its file, not rebuilt), with the server's
   CPU seconds up to then; stop it (SIGTERM).
   The first round may build the index when the file is missing or stale.
2. latency: one server, REQUESTS sequential searches (one keep-alive
   connection, limit 10, each query vector of QUERYFILE in turn, after 50
   warm-up requests): p50, p90, p99 in ms, requests/s, the server's CPU
   per request and the mean time inside the index (its metrics); then
   the same number of /healthz requests, the floor of client and HTTP.
   Before it, the server's page faults must settle (the index's pages
   are made the server's own in the background after it starts).
Standard library only; prints "http ..." lines."""
import http.client
import os
import re
import signal
import struct
import subprocess
import sys
import time
import urllib.parse

hakgal, kb, qfile, dim = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4])
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
requests = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
gt = None
if len(sys.argv) > 7:
    graw = open(sys.argv[7], "rb").read()
    gt = [set(struct.unpack_from("<10Q", graw, i * 80))
          for i in range(len(graw) // 80)]
ef = os.environ.get("VEC_HTTP_EF")

raw = open(qfile, "rb").read()
nq = len(raw) // (4 * dim)
queries = [struct.unpack_from("<%df" % dim, raw, i * 4 * dim)
           for i in range(nq)]
paths = ["/v2/search?" + urllib.parse.urlencode(
    {"q": "vector", "mode": "vector", "space": "bench", "limit": 10,
     "vector": ",".join("%.6g" % x for x in q), **({"ef": ef} if ef else {})})
         for q in queries]


def start():
    log = open(os.path.join(kb, "..", "serve.log"), "ab")
    p = subprocess.Popen([hakgal, "serve", "--data", kb, "--listen",
                          "127.0.0.1:0", "--threads", "2"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    return p


def port_of(logpath, since):
    with open(logpath, "rb") as f:
        f.seek(since)
        for line in f.read().decode("utf-8", "replace").splitlines():
            if "listening on" in line:
                return int(line.split("listening on ")[1].split()[0]
                           .rsplit(":", 1)[1])
    return None


def serving(port, path, timeout=600):
    """Seconds until path answers 200 (bounded by timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def one_round():
    logpath = os.path.join(kb, "..", "serve.log")
    since = os.path.getsize(logpath) if os.path.exists(logpath) else 0
    t0 = time.monotonic()
    p = start()
    port = None
    while port is None and time.monotonic() - t0 < 600:
        port = port_of(logpath, since)
        if p.poll() is not None:
            sys.exit("serve exited %d" % p.returncode)
        time.sleep(0.01)
    ok = serving(port, paths[0])
    dt = time.monotonic() - t0
    return p, port, ok, dt


def cpu_seconds(pid):
    """User + system CPU seconds of pid so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def faults(pid):
    """(minor, major) page faults of pid so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[7]), int(fields[9])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(600)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


times = []
for r in range(rounds):
    p, port, ok, dt = one_round()
    print("http restart round=%d serving=%s seconds=%.2f cpu_seconds=%.2f "
          "load=%s" % (r, ok, dt, cpu_seconds(p.pid),
                       open("/proc/loadavg").read().split()[0]), flush=True)
    times.append(dt)
    if r + 1 < rounds:
        stop(p)
warm = sorted(times[1:] or times)
print("http restart median_seconds=%.2f (rounds after the first)"
      % warm[len(warm) // 2], flush=True)



def vector_metrics(c):
    """(searches, seconds in the index) from /metrics."""
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    got = {}
    for line in text.splitlines():
        for name in ("hakgal_vector_searches_total",
                     "hakgal_vector_search_seconds_total"):
            if line.startswith(name + " "):
                got[name] = float(line.split()[1])
    return (got.get("hakgal_vector_searches_total", 0),
            got.get("hakgal_vector_search_seconds_total", 0))


def run(c, pick, count):
    """Sorted latencies (s) of count GETs of pick(i) after 50 warm-ups,
    and the server's CPU seconds over the measured ones."""
    global found, f0
    lat = []
    found = 0
    for i in range(50 + count):
        if i == 50:
            c0 = cpu_seconds(p.pid)
            f0 = faults(p.pid)
        t0 = time.perf_counter()
        c.request("GET", pick(i))
        r = c.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        if r.status != 200:
            sys.exit("GET failed %d %s" % (r.status, body[:200]))
        if i >= 50:
            lat.append(dt)
            if gt and i % nq < len(gt):
                got = {int(m) for m in re.findall(rb"Vec\(v(\d+),", body)}
                found += len(got & gt[i % nq])
    return sorted(lat), cpu_seconds(p.pid) - c0


def report(what, lat, cpu, extra=""):
    n = len(lat)
    print("http %s n=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f qps=%.0f "
          "server_cpu_us_per_request=%.0f%s load=%s"
          % (what, n, lat[n // 2] * 1e3, lat[n * 9 // 10] * 1e3,
             lat[n * 99 // 100] * 1e3, n / sum(lat), cpu * 1e6 / n, extra,
             open("/proc/loadavg").read().split()[0]), flush=True)


def settle(pid, limit=300):
    """Seconds until the server's minor faults grow by under 100 in half
    a second: the index's pages made its own in the background (a pin
    counts one fault per page) before faults per request are counted."""
    t0 = time.monotonic()
    last = faults(pid)[0]
    while time.monotonic() - t0 < limit:
        time.sleep(0.5)
        now = faults(pid)[0]
        if now - last < 100:
            break
        last = now
    return time.monotonic() - t0


print("http settle seconds=%.2f" % settle(p.pid), flush=True)
# Where a request's time goes: the index's own time (the server's
# hakgal_vector_search_seconds_total over the run), the server's CPU per
# request, and the floor of this client and the HTTP path (/healthz).
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
s0, t0s = vector_metrics(c)
lat, cpu = run(c, lambda i: paths[i % nq], requests)
s1, t1s = vector_metrics(c)
f1 = faults(p.pid)
report("search", lat, cpu, " index_us_mean=%.0f minor_faults_per_request=%.1f "
       "major_faults_per_request=%.2f%s%s" %
       ((t1s - t0s) * 1e6 / max(1, s1 - s0), (f1[0] - f0[0]) / requests,
        (f1[1] - f0[1]) / requests, " ef=%s" % ef if ef else "",
        " recall10=%.4f" % (found / (10.0 * requests)) if gt else ""))
lat, cpu = run(c, lambda i: "/healthz", requests)
report("healthz", lat, cpu)
c.close()
stop(p)
