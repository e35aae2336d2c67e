#!/usr/bin/env bash
# bench/otel/run.sh — what tracing at 100 % sampling costs a read workload.
# Never part of `make test`.
#
#   bash bench/otel/run.sh            # 5 rounds of 10 s per mode
#   ROUNDS=3 SECS=5 bash bench/otel/run.sh
#   QUEUE=16384 bash bench/otel/run.sh   # OTEL_BSP_MAX_QUEUE_SIZE (2048)
#
# One KB of N facts (POST /v2/facts/batch), served by three `hakgal serve`
# processes side by side on copies of it: "off" without tracing, "on" with
# OTEL_TRACES_SAMPLER=always_on exporting OTLP http/protobuf (the default)
# and "json" the same with OTEL_EXPORTER_OTLP_PROTOCOL=http/json, both to a
# local receiver (receiver.mjs: reads and discards, answers 200). wrk runs
# GET /v2/query (a pattern query answering 10 facts: request span +
# query.plan + query.execute spans per request) against each in
# alternation, ROUNDS times, so that all see the same machine conditions.
# Reports the median requests/s of each, the ratios to off, and the spans
# exported and dropped.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin="$root/${BUILD:-build}/hakgal"
rounds="${ROUNDS:-5}"
secs="${SECS:-10}"
conns="${CONNS:-16}"
n="${N:-20000}"
queue="${QUEUE:-2048}"
work=$(mktemp -d /tmp/hk-otel-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start() { # name env... -> sets $port
  local name=$1; shift
  env "$@" "$bin" serve --data "$work/$name" --listen 127.0.0.1:0 --threads 1 \
    >/dev/null 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 200); do
    port=$(grep -oE 'listening on http://127.0.0.1:[0-9]+' "$work/$name.err" | grep -oE '[0-9]+$' || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  echo "server $name did not start" >&2; exit 1
}

# the KB: N facts, 10 per subject
node -e "
let s=''; for (let i=0;i<$n;i++) s+=JSON.stringify('Rel(s'+Math.floor(i/10)+', o'+i+')')+'\n';
require('fs').writeFileSync('$work/facts.ndjson', s);"
start seed
curl -sf -XPOST "http://127.0.0.1:$port/v2/facts/batch" -H 'content-type: application/x-ndjson' \
  --data-binary @"$work/facts.ndjson" >/dev/null
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
cp -r "$work/seed" "$work/off"; cp -r "$work/seed" "$work/on"; cp -r "$work/seed" "$work/json"

node bench/otel/receiver.mjs >"$work/rport" 2>"$work/receiver.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/rport" ] && break; sleep 0.05; done
rport=$(cat "$work/rport")
start off
p_off=$port
start on OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$rport" OTEL_TRACES_SAMPLER=always_on OTEL_BSP_SCHEDULE_DELAY=1000 \
  OTEL_BSP_MAX_QUEUE_SIZE="$queue"
p_on=$port
start json OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$rport" OTEL_TRACES_SAMPLER=always_on OTEL_BSP_SCHEDULE_DELAY=1000 \
  OTEL_BSP_MAX_QUEUE_SIZE="$queue" OTEL_EXPORTER_OTLP_PROTOCOL=http/json
p_json=$port

path='/v2/query?q=Rel(s77,%20%3Fx)'
[ "$(curl -s "http://127.0.0.1:$p_on$path" | grep -o '"count":[0-9]*')" = '"count":10' ] || { echo "query answers wrong" >&2; exit 1; }
rate() { wrk -t2 -c"$conns" -d"${secs}s" "http://127.0.0.1:$1$path" | awk '/Requests\/sec/ {print $2}'; }
off=(); on=(); js=()
for r in $(seq "$rounds"); do
  off+=("$(rate "$p_off")")
  on+=("$(rate "$p_on")")
  js+=("$(rate "$p_json")")
  echo "round $r: off ${off[-1]} req/s, on (protobuf) ${on[-1]} req/s, on (json) ${js[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
m_off=$(median "${off[@]}"); m_on=$(median "${on[@]}"); m_js=$(median "${js[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
echo "median off $m_off req/s, on (protobuf) $m_on req/s, on (json) $m_js req/s"
echo "protobuf/off $(ratio "$m_on" "$m_off"), json/off $(ratio "$m_js" "$m_off"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for p in "$p_on" "$p_json"; do
  curl -s "http://127.0.0.1:$p/metrics" | grep -E '^hakgal_otel_(spans|spans_dropped|spans_exported|spans_failed|exports)_total' | tr '\n' ' '
  echo
done
