#!/usr/bin/env bash
# bench/grpc/run.sh — gRPC beside REST on one `hakgal serve`, in one run.
# Never part of `make test`.
#
#   bash bench/grpc/run.sh              # 1M facts, 10 s per run
#   BENCH_N=100000 BENCH_SECONDS=5 bash bench/grpc/run.sh
#
# 1. The KB of bench/http/run.sh (build/hk_gen, `hakgal import`), kept in
#    bench/out/http/kb-N and shared with it; each run serves a fresh copy.
# 2. One `hakgal serve` with REST and --grpc-listen.
# 3. For 16 and 64 connections, back to back: REST with wrk and gRPC with
#    build/grpc_load (gRPC C core client, one call in flight per
#    connection) and/or h2load (nghttp2's load generator, one stream in
#    flight per connection, sending the request grpc_load --dump wrote as
#    a gRPC message), for the pattern query (REST GET /v2/query?q=&limit=10,
#    gRPC Query with limit 10: one 10-row page) and the entity page (REST
#    GET /v2/entities/{name}?limit=10, gRPC Entity).
# 4. One gRPC Export of every fact (pages of 1000): facts/s.
# Results: bench/out/grpc/results-N.txt.
#
# Environment: LOADER (h2load, grpc_load or both: the gRPC client; h2load
# costs the client less CPU per call, see bench/RESULTS.md), ROUNDS
# (rounds of step 3, 1), BENCH_DATA (where the facts and KBs live; bench/out/http),
# EXPORT_RUNS (3), BENCH_N (1000000), BENCH_SECONDS (10), BENCH_THREADS (client
# threads, 2), SERVE_THREADS (REST loops, default CPUs), GRPC_THREADS
# (gRPC workers, default CPUs), BUILD (build), PORT_HK / PORT_GRPC (18490 / 18491),
# GRPC_TRANSPORT (h2 or core: the transport of the main server, default h2),
# GRPC_CORE (1: a second server on a copy of the KB serves gRPC with the C
# core on PORT_GRPC_CORE, 18492, and h2load runs against it too, in the
# same rounds: the anchor of the h2 transport).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/read_paths.sh
root=$(pwd)
build_dir="${BUILD:-build}"
n="${BENCH_N:-1000000}"
secs="${BENCH_SECONDS:-10}"
ct="${BENCH_THREADS:-2}"
port_hk="${PORT_HK:-18490}"
port_grpc="${PORT_GRPC:-18491}"
gthreads="${GRPC_THREADS:-$(nproc)}"
out="$root/bench/out/grpc"
data="${BENCH_DATA:-$root/bench/out/http}"
kb="$data/kb-$n"
work="$data/grpc-work"
mkdir -p "$out" "$work" "$data/work"
loader="${LOADER:-h2load}"
command -v wrk >/dev/null || { echo "bench: wrk missing (apt-get install wrk)" >&2; exit 1; }
if [ "$loader" != grpc_load ]; then
    command -v h2load >/dev/null ||
        { echo "bench: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }
fi
for bin in hakgal hk_gen grpc_load; do
    [ -x "$build_dir/$bin" ] || { echo "bench: $build_dir/$bin missing (make build)" >&2; exit 1; }
done
HAKGAL="$root/$build_dir/hakgal"
LOAD="$root/$build_dir/grpc_load"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo |
    cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== source $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"

# ---- 1. the KB (shared with bench/http/run.sh) ----
facts="$data/work/facts-$n.txt"
[ -f "$facts" ] || "$build_dir/hk_gen" --n "$n" --out "$facts"
if [ ! -f "$kb/data.mdb" ]; then
    echo "== importing $n facts into $kb"
    rm -rf "$kb"
    "$HAKGAL" --data "$kb" init >/dev/null
    "$HAKGAL" --data "$kb" import --quiet "$facts" >/dev/null
fi

# ---- 2. the server ----
run_kb="$work/kb-run"
rm -rf "$run_kb"
cp -r "$kb" "$run_kb"
"$HAKGAL" serve --data "$run_kb" --listen "127.0.0.1:$port_hk" --quiet \
    --grpc-listen "127.0.0.1:$port_grpc" --grpc-threads "$gthreads" \
    --grpc-transport "${GRPC_TRANSPORT:-h2}" \
    ${SERVE_THREADS:+--threads "$SERVE_THREADS"} >"$out/serve.log" 2>&1 &
pids+=($!)
core_pid=""
port_core="${PORT_GRPC_CORE:-18492}"
if [ "${GRPC_CORE:-0}" = 1 ]; then
    rm -rf "$run_kb-core"
    cp -r "$kb" "$run_kb-core"
    "$HAKGAL" serve --data "$run_kb-core" --listen "127.0.0.1:$((port_core + 1))" --quiet \
        --grpc-listen "127.0.0.1:$port_core" --grpc-threads "$gthreads" \
        --grpc-transport core >"$out/serve-core.log" 2>&1 &
    pids+=($!)
    core_pid=$!
    hk_wait_ready $((port_core + 1)) || true
fi
hk_wait_ready "$port_hk"

# The same pattern and entity as bench/http/run.sh.
hk_read_paths "$facts"
echo "pattern: $pattern    entity: $first    gRPC workers: $gthreads"

# ---- 3. reads, REST then gRPC, per connection count ----
res="$out/results-$n.txt"
: >"$res"
# CPU seconds (user + system) the server and the client spent in a run,
# per request: the machine is shared, so req/s alone says little.
srv_pid=${pids[0]}
ticks() { awk '{print $14 + $15}' "/proc/${1:-$srv_pid}/stat"; }
hz=$(getconf CLK_TCK)
cpu_note() { # server_ticks client_cpu_s requests
    /usr/bin/python3 -c 'import sys
t, c, n, hz = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print("    CPU per request: server %.1f us, client %.1f us" % (t / hz / max(n, 1) * 1e6, c / max(n, 1) * 1e6))' "$1" "$2" "$3" "$hz"
}
rest() { # name conns path
    local o t0 t1 reqs ccpu
    t0=$(ticks)
    o=$( { /usr/bin/time -f 'cpu %U %S' wrk -t "$ct" -c "$2" -d "${secs}s" --latency "http://127.0.0.1:$port_hk$3"; } 2>&1)
    t1=$(ticks)
    echo "--- REST $1 c=$2 $3" >>"$res"
    echo "$o" >>"$res"
    local rps p50 p99
    rps=$(echo "$o" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$o" | awk '$1=="50%" {print $2}')
    p99=$(echo "$o" | awk '$1=="99%" {print $2}')
    reqs=$(echo "$o" | awk '/requests in/ {print $1}')
    ccpu=$(echo "$o" | awk '$1=="cpu" {print $2 + $3}')
    printf 'REST  %-8s c=%-3s %10.0f req/s  p50 %s  p99 %s\n' "$1" "$2" "$rps" "$p50" "$p99" | tee -a "$res"
    cpu_note $((t1 - t0)) "$ccpu" "$reqs" | tee -a "$res"
}
grpc() { # name conns args...
    local name=$1 c=$2
    shift 2
    local o t0 t1 calls ccpu
    t0=$(ticks)
    o=$( { /usr/bin/time -f 'cpu %U %S' "$LOAD" --addr "127.0.0.1:$port_grpc" --conns "$c" --threads "$ct" \
        --seconds "$secs" --warmup 0 "$@"; } 2>&1)
    t1=$(ticks)
    echo "gRPC  $(echo "$o" | grep -v '^cpu')" | tee -a "$res"
    calls=$(echo "$o" | awk '/calls in/ {print $3}')
    ccpu=$(echo "$o" | awk '$1=="cpu" {print $2 + $3}')
    cpu_note $((t1 - t0)) "$ccpu" "$calls" | tee -a "$res"
}
# h2load: the same request bytes as grpc_load's, POSTed as a gRPC call.
# It checks the HTTP status only, so the run first asks each method once
# with grpc_load, which fails on any status but OK.
"$LOAD" --pattern "$pattern" --limit 10 --dump "$work/req-pattern.bin"
"$LOAD" --entity "$first" --limit 10 --dump "$work/req-entity.bin"
h2() { # name conns method [core]
    local o t0 t1 reqs ccpu pid=$srv_pid port=$port_grpc label="gRPC "
    if [ "${4:-}" = core ]; then pid=$core_pid port=$port_core label="gcore"; fi
    t0=$(ticks "$pid")
    o=$( { /usr/bin/time -f 'cpu %U %S' h2load -c "$2" -t "$ct" -m 1 -D "$secs" \
        -d "$work/req-$1.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$port/hakgal.v2.Hakgal/$3"; } 2>&1)
    t1=$(ticks "$pid")
    echo "--- $label h2load $1 c=$2" >>"$res"
    echo "$o" >>"$res"
    local rps mean bad
    rps=$(echo "$o" | awk '/^finished in/ {print $4}')
    reqs=$(echo "$o" | awk '/^requests:/ {print $8}')
    bad=$(echo "$o" | awk '/^requests:/ {print $10 + $12 + $14}')
    mean=$(echo "$o" | awk '/^time for request:/ {print $6}')
    ccpu=$(echo "$o" | awk '$1=="cpu" {print $2 + $3}')
    printf '%s %-8s c=%-3s %10.0f req/s  mean %s  failed %s  (h2load)\n' "$label" "$1" "$2" "$rps" "$mean" "$bad" | tee -a "$res"
    cpu_note $((t1 - t0)) "$ccpu" "$reqs" | tee -a "$res"
}
if [ "$loader" != grpc_load ]; then
    "$LOAD" --addr "127.0.0.1:$port_grpc" --conns 1 --threads 1 --seconds 0.2 --warmup 0 \
        --pattern "$pattern" --limit 10 >/dev/null
    "$LOAD" --addr "127.0.0.1:$port_grpc" --conns 1 --threads 1 --seconds 0.2 --warmup 0 \
        --entity "$first" --limit 10 >/dev/null
fi
for round in $(seq 1 "${ROUNDS:-1}"); do
    echo "== round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$res"
    for c in 16 64; do
        rest pattern "$c" "$path_pattern"
        [ "$loader" = h2load ] || grpc pattern "$c" --pattern "$pattern" --limit 10
        [ "$loader" = grpc_load ] || h2 pattern "$c" Query
        [ -z "$core_pid" ] || h2 pattern "$c" Query core
        rest entity "$c" "$path_entity"
        [ "$loader" = h2load ] || grpc entity "$c" --entity "$first" --limit 10
        [ "$loader" = grpc_load ] || h2 entity "$c" Entity
        [ -z "$core_pid" ] || h2 entity "$c" Entity core
    done
done

# ---- 4. streaming export ----
# Alternating: the client's default receive window (64 KiB, grown by BDP
# probes) and a 4 MiB one (--window, GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES).
# Each run also prints the CPU the server and the client spent on it.
export_run() { # label args...
    local label=$1 o t0 t1 ccpu
    shift
    t0=$(ticks)
    o=$( { /usr/bin/time -f 'cpu %U %S' "$LOAD" --addr "127.0.0.1:$port_grpc" --export "$@"; } 2>&1)
    t1=$(ticks)
    ccpu=$(echo "$o" | awk '$1=="cpu" {print $2 + $3}')
    echo "$label $(echo "$o" | grep -v '^cpu') server CPU $(/usr/bin/python3 -c \
        'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' $((t1 - t0)) "$hz") s, client CPU $ccpu s" |
        tee -a "$res"
}
# The anchor: REST's GET /v2/export (JSON lines) of the same KB, read by
# curl into /dev/null, with the same CPU accounting.
rest_export() {
    local o t0 t1
    t0=$(ticks)
    o=$( { /usr/bin/time -f 'cpu %U %S' curl -s -o /dev/null -w '%{size_download} %{time_total}\n' \
        "http://127.0.0.1:$port_hk/v2/export"; } 2>&1)
    t1=$(ticks)
    echo "$o" | /usr/bin/python3 -c 'import sys
lines = sys.stdin.read().split("\n")
size, secs = lines[0].split()
cpu = [l for l in lines if l.startswith("cpu")][0].split()
n, t, hz = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print("REST export: %d facts, %.1f MB, %.3f s: %.0f facts/s, server CPU %.3f s, client CPU %.2f s"
      % (n, int(size) / 1e6, float(secs), n / float(secs), t / hz, float(cpu[1]) + float(cpu[2])))' \
        "$n" $((t1 - t0)) "$hz" | tee -a "$res"
}
for _ in $(seq 1 "${EXPORT_RUNS:-3}"); do
    export_run "window default:"
    export_run "window 4 MiB:  " --window 4194304
    export_run "pages of 10000:" --page-size 10000 --window 4194304
    rest_export
done
