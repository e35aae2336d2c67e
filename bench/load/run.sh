#!/usr/bin/env bash
# bench/load/run.sh — the seed's load test on this machine: C connections
# (default 10,000) held open with keep-alive by bench/hk_load.c, 90 % reads /
# 10 % single-fact durable writes against `hakgal serve`, next to nginx
# (Debian) serving the same read answer as a static file at the same
# connection count, in one run. Never part of `make test`.
#
#   bash bench/load/run.sh
#   LOAD_CONNS=2000 LOAD_SECONDS=20 LOAD_ROUNDS=1 bash bench/load/run.sh
#
# Per round, back to back: (a) the seed's user model, think time 1 s per
# user (LOAD_THINK_MS): hakgal with the mix, then nginx with reads of the
# static answer; (b) saturation, no think time: the same two. Each run
# prints connections held, requests/s, errors and p50/p90/p99 latency.
# Results: bench/out/load/<round>-<run>.json and summary.md.
#
# Environment: LOAD_N (facts in the KB, default 100000), LOAD_CONNS (10000),
# LOAD_SECONDS (measured seconds per run, 30), LOAD_THINK_MS (1000),
# LOAD_ROUNDS (3), BUILD (build dir, default build), PORT_HK / PORT_NGINX
# (18580 / 18581).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build_dir="${BUILD:-build}"
n="${LOAD_N:-100000}"
conns="${LOAD_CONNS:-10000}"
secs="${LOAD_SECONDS:-30}"
think="${LOAD_THINK_MS:-1000}"
rounds="${LOAD_ROUNDS:-3}"
port_hk="${PORT_HK:-18580}"
port_ng="${PORT_NGINX:-18581}"
out="$root/bench/out/load"
work="$out/work"
mkdir -p "$out" "$work"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "bench: installing nginx-light (bench only)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for bin in hakgal hk_gen hk_load; do
    [ -x "$build_dir/$bin" ] || { echo "bench: $build_dir/$bin missing (make build)" >&2; exit 1; }
done
HAKGAL="$(realpath "$build_dir/hakgal")"
LOAD="$(realpath "$build_dir/hk_load")"
# 10,000 connections need as many descriptors on both sides.
ulimit -n $((conns * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the KB (kept) and a fresh copy for this run ----
kb="$out/kb-$n"
if [ ! -f "$kb/data.mdb" ]; then
    "$build_dir/hk_gen" --n "$n" --out "$work/facts.txt" >/dev/null
    rm -rf "$kb"
    "$HAKGAL" --data "$kb" init >/dev/null
    "$HAKGAL" --data "$kb" import --quiet "$work/facts.txt" >/dev/null
fi
rm -rf "$work/kb-run"
cp -r "$kb" "$work/kb-run"
"$HAKGAL" serve --data "$work/kb-run" --listen "127.0.0.1:$port_hk" --quiet \
    >"$out/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$port_hk/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

# ---- nginx serving the bytes of one read answer ----
ng="$work/nginx"
rm -rf "$ng"; mkdir -p "$ng/www" "$ng/tmp"
curl -fs "http://127.0.0.1:$port_hk/v2/facts/1" >"$ng/www/fact.json"
cat >"$ng/nginx.conf" <<NGX
worker_processes auto;
worker_rlimit_nofile $((conns * 2 + 1024));
user root;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections $((conns + 1024)); }
http {
  access_log off;
  client_body_temp_path $ng/tmp; proxy_temp_path $ng/tmp;
  fastcgi_temp_path $ng/tmp; uwsgi_temp_path $ng/tmp; scgi_temp_path $ng/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$port_ng reuseport backlog=4096;
    default_type application/json;
    root $ng/www;
  }
}
NGX
"$NGINX" -c "$ng/nginx.conf" -g "daemon off;" &
pids+=($!)
sleep 0.5
echo "read answer: $(stat -c %s "$ng/www/fact.json") bytes"

load() { # TAG PORT THINK WRITE_PCT [hk_load options]
    local tag=$1 port=$2 th=$3 wp=$4; shift 4
    echo "== $tag (load $(cut -d' ' -f1 /proc/loadavg))"
    "$LOAD" --port "$port" --conns "$conns" --duration "$secs" \
        --think-ms "$th" --write-pct "$wp" --ramp-s 10 --warmup-s 5 \
        --json "$out/$tag.json" --tag "$tag" "$@"
}
for r in $(seq 1 "$rounds"); do
    load "r$r-hakgal-mix-think" "$port_hk" "$think" 10 \
        --read "/v2/facts/%u" --id-max "$n"
    load "r$r-nginx-static-think" "$port_ng" "$think" 0 --read "/fact.json"
    load "r$r-hakgal-mix-sat" "$port_hk" 0 10 \
        --read "/v2/facts/%u" --id-max "$n"
    load "r$r-nginx-static-sat" "$port_ng" 0 0 --read "/fact.json"
done
curl -fs "http://127.0.0.1:$port_hk/metrics" |
    grep -E '^hakgal_(commit_group_size|commit_duration_seconds)_(sum|count) ' \
    >"$out/metrics.txt" || true

/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for run in ("hakgal-mix-think", "nginx-static-think", "hakgal-mix-sat",
            "nginx-static-sat"):
    rs = [json.load(open("%s/r%d-%s.json" % (out, r, run)))
          for r in range(1, rounds + 1)]
    med = lambda f: statistics.median(f(x) for x in rs)
    rows.append("| %s | %d | %d | %.0f | %.3f | %.2f | %.2f | %.2f |" % (
        run, rs[0]["conns"], min(x["open_max"] for x in rs),
        med(lambda x: x["rps"]), med(lambda x: x["error_pct"]),
        med(lambda x: x["lat_all"]["p50_ms"]), med(lambda x: x["lat_all"]["p90_ms"]),
        med(lambda x: x["lat_all"]["p99_ms"])))
hdr = ("| run | conns | held (min) | req/s | errors % | p50 ms | p90 ms "
       "| p99 ms |\n|---|---|---|---|---|---|---|---|")
text = "Medians of %d rounds\n\n%s\n%s\n" % (rounds, hdr, "\n".join(rows))
open(out + "/summary.md", "w").write(text)
print(text)
PY
