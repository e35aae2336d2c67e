#!/usr/bin/env bash
# bench/http/run.sh — HTTP benchmark of `hakgal serve`, beside nginx, with wrk
# on loopback. Never part of `make test`.
#
#   bash bench/http/run.sh              # 1M facts, 10 s per run
#   BENCH_N=100000 BENCH_SECONDS=5 bash bench/http/run.sh
#
# 1. A KB of N facts (build/hk_gen statements, `hakgal import`), kept in
#    bench/out/http/kb-N and reused by later runs; each run serves a fresh
#    copy of it.
# 2. `hakgal serve` (durable, default settings) and nginx (Debian, temp
#    config on a loopback port) serving static files holding exactly the
#    bytes hakgal answers for each query: the HTTP ceiling of this machine.
# 3. wrk, in one run: pattern query and entity query at 16 and 64
#    connections against both servers; single-fact durable POST /v2/facts
#    from 64 connections (unique fact per request, lua script); POST
#    /v2/facts/batch of 1000 facts per request.
# Results: bench/out/http/results-N.txt (wrk output) and results-N.json.
#
# Environment: BENCH_N (default 1000000), BENCH_SECONDS (default 10),
# BENCH_THREADS (wrk threads, default 2), SERVE_THREADS (default: CPUs),
# BUILD (build dir, default build), PORT_HK / PORT_NGINX (18480 / 18481).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/read_paths.sh
root=$(pwd)
build_dir="${BUILD:-build}"
n="${BENCH_N:-1000000}"
secs="${BENCH_SECONDS:-10}"
wt="${BENCH_THREADS:-2}"
port_hk="${PORT_HK:-18480}"
port_ng="${PORT_NGINX:-18481}"
out="$root/bench/out/http"
kb="$out/kb-$n"
work="$out/work"
mkdir -p "$out" "$work"

# Tools: wrk and nginx are bench tools, installed here rather than by
# scripts/deps.sh.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ "${#need[@]}" -gt 0 ]; then
    echo "bench: installing ${need[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y \
        --no-install-recommends "${need[@]}" >/dev/null ||
        { $SUDO apt-get update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y \
              --no-install-recommends "${need[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for bin in hakgal hk_gen; do
    [ -x "$build_dir/$bin" ] || { echo "bench: $build_dir/$bin missing (make build)" >&2; exit 1; }
done
HAKGAL="$root/$build_dir/hakgal"
[ -x "$HAKGAL" ] || HAKGAL="$build_dir/hakgal"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo |
    cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. the KB ----
facts="$work/facts-$n.txt"
if [ ! -f "$kb/data.mdb" ]; then
    echo "== generating and importing $n facts into $kb"
    "$build_dir/hk_gen" --n "$n" --out "$facts"
    rm -rf "$kb"
    "$HAKGAL" --data "$kb" init >/dev/null
    t0=$(date +%s.%N)
    "$HAKGAL" --data "$kb" import --quiet "$facts" >/dev/null
    t1=$(date +%s.%N)
    echo "import: $(echo "$t1 - $t0" | bc) s"
fi
[ -f "$facts" ] || "$build_dir/hk_gen" --n "$n" --out "$facts"

# ---- 2. servers ----
# Every run starts from a copy of the pristine N-fact KB (the write runs add
# facts; the read runs must see exactly N).
run_kb="$work/kb-run"
rm -rf "$run_kb"
cp -r "$kb" "$run_kb"
"$HAKGAL" serve --data "$run_kb" --listen "127.0.0.1:$port_hk" --quiet \
    --max-batch 100000 ${SERVE_THREADS:+--threads "$SERVE_THREADS"} \
    >"$out/serve.log" 2>&1 &
pids+=($!)
hk_wait_ready "$port_hk"

# A query that hits the KB but returns a small page (the sizes of typical
# API answers), and an entity page. Taken from the generated data.
hk_read_paths "$facts"
echo "pattern: $pattern    entity: $first"

ngroot="$work/nginx"
rm -rf "$ngroot"; mkdir -p "$ngroot/www" "$ngroot/tmp"
curl -fs "http://127.0.0.1:$port_hk$path_pattern" >"$ngroot/www/pattern.json"
curl -fs "http://127.0.0.1:$port_hk$path_entity" >"$ngroot/www/entity.json"
echo "response bytes: pattern $(stat -c %s "$ngroot/www/pattern.json"), entity $(stat -c %s "$ngroot/www/entity.json")"
cat >"$ngroot/nginx.conf" <<EOF
worker_processes auto;
user root;
pid $ngroot/nginx.pid;
error_log $ngroot/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $ngroot/tmp; proxy_temp_path $ngroot/tmp;
  fastcgi_temp_path $ngroot/tmp; uwsgi_temp_path $ngroot/tmp;
  scgi_temp_path $ngroot/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port_ng reuseport;
    default_type application/json;
    location = /pattern { alias $ngroot/www/pattern.json; }
    location = /entity { alias $ngroot/www/entity.json; }
  }
}
EOF
"$NGINX" -c "$ngroot/nginx.conf" -p "$ngroot" -g 'daemon off;' &
pids+=($!)
sleep 0.5
curl -fs "http://127.0.0.1:$port_ng/pattern" >/dev/null

# ---- 3. wrk ----
res="$out/results-$n.txt"
: >"$res"
json="$out/results-$n.json"
echo "[" >"$json"
first_row=1
run() { # name server conns url [lua]
    local name=$1 server=$2 c=$3 url=$4 lua=${5:-}
    local args=(-t "$wt" -c "$c" -d "${secs}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    echo "--- $name $server c=$c: wrk ${args[*]} $url" | tee -a "$res"
    local o
    o=$(wrk "${args[@]}" "$url" 2>&1)
    echo "$o" >>"$res"
    /usr/bin/python3 - "$name" "$server" "$c" "$o" "$first_row" >>"$json" <<'PY'
import json, re, sys
name, server, c, o, first = sys.argv[1:]
def lat(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\b" % re.escape(label), o, re.M)
    if not m:
        return None
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v if u == "ms" else v * 1000
rps = re.search(r"Requests/sec:\s+([\d.]+)", o)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", o)
row = {"name": name, "server": server, "connections": int(c),
       "requests_per_s": float(rps.group(1)) if rps else None,
       "p50_ms": lat("50%"), "p99_ms": lat("99%"),
       "non_2xx": int(non2xx.group(1)) if non2xx else 0}
print(("" if first == "1" else ",") + json.dumps(row))
print("%-8s %-7s c=%-3s %10.0f req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (
    name, server, c, row["requests_per_s"] or 0, row["p50_ms"] or -1,
    row["p99_ms"] or -1, row["non_2xx"]), file=sys.stderr)
PY
    first_row=0
}

for c in 16 64; do
    run pattern nginx "$c" "http://127.0.0.1:$port_ng/pattern"
    run pattern hakgal "$c" "http://127.0.0.1:$port_hk$path_pattern"
    run entity nginx "$c" "http://127.0.0.1:$port_ng/entity"
    run entity hakgal "$c" "http://127.0.0.1:$port_hk$path_entity"
done
before=$(curl -fs "http://127.0.0.1:$port_hk/v2/stats" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])')
run post hakgal 64 "http://127.0.0.1:$port_hk/v2/facts" "$root/bench/http/post.lua"
mid=$(curl -fs "http://127.0.0.1:$port_hk/v2/stats" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])')
BATCH=1000 run batch hakgal 4 "http://127.0.0.1:$port_hk/v2/facts/batch" "$root/bench/http/batch.lua"
after=$(curl -fs "http://127.0.0.1:$port_hk/v2/stats" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])')
echo "]" >>"$json"
curl -fs "http://127.0.0.1:$port_hk/metrics" | grep -E '^hakgal_commit_group_size_(sum|count)|^hakgal_commit_duration_seconds_(sum|count)' | tee -a "$res"
post_facts=$((mid - before))
batch_facts=$((after - mid))
echo "durable single POST: $post_facts facts in ${secs}s = $((post_facts / secs)) facts/s" | tee -a "$res"
echo "batch POST (1000/request): $batch_facts facts in ${secs}s = $((batch_facts / secs)) facts/s" | tee -a "$res"
/usr/bin/python3 - "$json" "$post_facts" "$batch_facts" "$secs" <<'PY' | tee "$out/summary-$n.md"
import json, sys
rows = json.load(open(sys.argv[1]))
post, batch, secs = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
get = {(r["name"], r["server"], r["connections"]): r for r in rows}
print("| query | conns | nginx req/s | hakgal req/s | ratio | nginx p50 / p99 ms | hakgal p50 / p99 ms |")
print("|---|---|---|---|---|---|---|")
for name in ("pattern", "entity"):
    for c in (16, 64):
        ng, hk = get[(name, "nginx", c)], get[(name, "hakgal", c)]
        print("| %s | %d | %.0f | %.0f | %.2f | %.3f / %.2f | %.3f / %.2f |" % (
            name, c, ng["requests_per_s"], hk["requests_per_s"],
            hk["requests_per_s"] / ng["requests_per_s"], ng["p50_ms"],
            ng["p99_ms"], hk["p50_ms"], hk["p99_ms"]))
p, b = get[("post", "hakgal", 64)], get[("batch", "hakgal", 4)]
print()
print("| write | conns | facts/s | p50 / p99 ms per request |")
print("|---|---|---|---|")
print("| durable single POST /v2/facts | 64 | %.0f | %.2f / %.2f |" % (
    post / secs, p["p50_ms"], p["p99_ms"]))
print("| POST /v2/facts/batch (1000 per request) | 4 | %.0f | %.2f / %.2f |" % (
    batch / secs, b["p50_ms"], b["p99_ms"]))
PY
kill "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
rm -rf "$run_kb"
echo "== results: $res $json $out/summary-$n.md"
