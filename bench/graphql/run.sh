#!/usr/bin/env bash
# bench/graphql/run.sh — GraphQL next to REST on the same `hakgal serve`,
# with wrk on loopback, in one run. Never part of `make test`.
#
#   bash bench/graphql/run.sh                  # 100k facts, 10 s per run
#   BENCH_N=1000000 BENCH_SECONDS=5 bash bench/graphql/run.sh
#
# 1. A KB of N facts (hk_gen statements, `hakgal import`), kept in
#    bench/out/graphql/kb-N; each run serves a fresh copy.
# 2. The same two reads as bench/http (a pattern query with one variable,
#    the facts of one entity, 10 facts per answer), picked from the KB's
#    first fact, through
#      REST:    GET /v2/query?q=P(?x, B)&limit=10, GET /v2/entities/A?limit=10
#      GraphQL: POST /graphql {pattern(q:, first: 10) {...}} and
#               {entity(name:) {factCount facts(first: 10) {...}}}
#    asking every fact field REST answers, plus the page cursor.
# 3. For 16 and 64 connections, REST and GraphQL back to back (wrk -t 2
#    -d BENCH_SECONDS --latency), each pair repeated BENCH_ROUNDS times
#    (default 3); the table gives medians of req/s and their ratio, and
#    of requests per second of the server's CPU time (user + system from
#    /proc/PID/stat), which a shared machine distorts far less.
# Results: bench/out/graphql/results-N.txt (wrk output) and summary-N.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build_dir="${BUILD:-build}"
n="${BENCH_N:-100000}"
secs="${BENCH_SECONDS:-10}"
rounds="${BENCH_ROUNDS:-3}"
port="${PORT_HK:-18490}"
out="$root/bench/out/graphql"
kb="$out/kb-$n"
work="$out/work"
mkdir -p "$out" "$work"
command -v wrk >/dev/null || { echo "bench: wrk missing (apt-get install wrk)" >&2; exit 1; }
HAKGAL="$root/$build_dir/hakgal"
for bin in hakgal hk_gen; do
    [ -x "$build_dir/$bin" ] || { echo "bench: $build_dir/$bin missing (make build)" >&2; exit 1; }
done

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$kb/data.mdb" ]; then
    echo "== generating and importing $n facts into $kb"
    "$build_dir/hk_gen" --n "$n" --out "$work/facts-$n.txt"
    rm -rf "$kb"
    "$HAKGAL" --data "$kb" init >/dev/null
    "$HAKGAL" --data "$kb" import --quiet "$work/facts-$n.txt" >/dev/null
fi
rm -rf "$work/kb"
cp -r "$kb" "$work/kb"
"$HAKGAL" serve --data "$work/kb" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server_pid=$!
pids+=($server_pid)
tck=$(getconf CLK_TCK)
# CPU ticks (user + system) the server has used so far
server_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

# the reads: from the first binary fact P(A, B)
first=$(curl -sf "$base/v2/facts?arity=2&limit=1")
pred=$(echo "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"][0]["predicate"])')
a0=$(echo "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"][0]["args"][0])')
a1=$(echo "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"][0]["args"][1])')
pattern="$pred(?x, $a1)"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
rest_pattern="$base/v2/query?q=$(enc "$pattern")&limit=10"
rest_entity="$base/v2/entities/$(enc "$a0")?limit=10"
fields='id statement predicate args confidence source tags context created updated'
gql_body() {
    python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"
}
q_pattern="{ pattern(q: $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$pattern"), first: 10) { edges { bindings node { $fields } } count pageInfo { endCursor } } }"
q_entity="{ entity(name: $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$a0")) { name factCount facts(first: 10) { nodes { $fields } count pageInfo { endCursor } } } }"
for name in pattern entity; do
    var="q_$name"
    body=$(gql_body "${!var}")
    cat > "$work/gql_$name.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[$body]==]
LUA
done
# sanity: both answer 200 and GraphQL has no errors
curl -sf "$rest_pattern" >/dev/null
curl -sf "$rest_entity" >/dev/null
for name in pattern entity; do
    var="q_$name"
    r=$(curl -sf -H 'Content-Type: application/json' -d "$(gql_body "${!var}")" "$base/graphql")
    echo "$r" | grep -q '"errors"' && { echo "bench: GraphQL $name failed: $r" >&2; exit 1; }
    echo "== $name: GraphQL $(echo -n "$r" | wc -c) bytes"
done
echo "== REST pattern $(curl -sf "$rest_pattern" | wc -c) bytes, entity $(curl -sf "$rest_entity" | wc -c) bytes"
echo "== pattern: $pattern   entity: $a0"

results="$out/results-$n.txt"
: > "$results"
declare -A rps cpu
run_wrk() { # label conns url [script]
    local label=$1 c=$2 url=$3 script=${4:-}
    local args=(-t 2 -c "$c" -d "${secs}s" --latency)
    [ -n "$script" ] && args+=(-s "$script")
    local o t0 t1 n
    t0=$(server_ticks)
    o=$(wrk "${args[@]}" "$url")
    t1=$(server_ticks)
    echo "### $label c=$c" >> "$results"
    echo "$o" >> "$results"
    n=$(echo "$o" | awk '/requests in/ {print $1}')
    # req/s of wall time, and requests per second of server CPU time
    echo "$(echo "$o" | awk '/Requests\/sec/ {print $2}') $(echo "scale=1; $n * $tck / ($t1 - $t0)" | bc)"
}
for c in 16 64; do
    for r in $(seq "$rounds"); do
        for q in pattern entity; do
            url_var="rest_$q"
            read -r a ac <<< "$(run_wrk "rest $q" "$c" "${!url_var}")"
            read -r b bc <<< "$(run_wrk "graphql $q" "$c" "$base/graphql" "$work/gql_$q.lua")"
            rps["rest $q $c"]+="$a "
            rps["gql $q $c"]+="$b "
            cpu["rest $q $c"]+="$ac "
            cpu["gql $q $c"]+="$bc "
            echo "c=$c round $r $q: REST $a req/s ($ac per CPU s), GraphQL $b req/s ($bc per CPU s) (load $(cut -d' ' -f1 /proc/loadavg))"
        done
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
summary="$out/summary-$n.md"
{
    echo "| query | conns | REST req/s | GraphQL req/s | ratio | REST req per server CPU s | GraphQL req per server CPU s | ratio |"
    echo "|---|---|---|---|---|---|---|---|"
    for c in 16 64; do
        for q in pattern entity; do
            a=$(echo "${rps["rest $q $c"]}" | median)
            b=$(echo "${rps["gql $q $c"]}" | median)
            ac=$(echo "${cpu["rest $q $c"]}" | median)
            bc=$(echo "${cpu["gql $q $c"]}" | median)
            echo "| $q | $c | $a | $b | $(echo "scale=2; $b / $a" | bc) | $ac | $bc | $(echo "scale=2; $bc / $ac" | bc) |"
        done
    done
} > "$summary"
cat "$summary"
