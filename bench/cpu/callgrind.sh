#!/usr/bin/env bash
# bench/cpu/callgrind.sh — user-space instructions per request of one
# build, counted by callgrind: deterministic, so two builds compare on a
# loaded machine where wall-clock numbers scatter (syscalls and the kernel
# are not counted; see bench/cpu/run.sh for CPU time).
#
#   bash bench/cpu/callgrind.sh BUILD pattern|entity|post [SECONDS]
#
# Serves a copy of the KB of bench/cpu/run.sh (BENCH_N facts; run that
# first) or, for post, a fresh KB, under valgrind --tool=callgrind with
# instrumentation off; warms up with wrk for 2 s, then counts while wrk runs
# SECONDS (default 8) with CONNS connections (default 8) and divides by the
# requests wrk completed (post: the facts the KB gained). EXTRA: more
# `hakgal serve` options (e.g. --no-sync). The profile stays in
# bench/out/cpu/cg.<tag>.out* for callgrind_annotate.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: bench/cpu/callgrind.sh BUILD pattern|entity|post [SECONDS]" >&2; exit 1; }
bin=$(cd "$1" && pwd)/hakgal
what=$2
secs=${3:-8}
n=${BENCH_N:-20000}
out=${OUT:-$root/bench/out/cpu}
tag=$(basename "$(dirname "$bin")")-$what
mkdir -p "$out"
port=$((18800 + RANDOM % 100))
kb=$out/cg-kb-$tag
rm -rf "$kb" "$out"/cg."$tag".out*
facts_file=$out/facts-$n.txt
if [ "$what" != post ]; then
    [ -f "$out/kb-$n/data.mdb" ] || { echo "run bench/cpu/run.sh first (KB)" >&2; exit 1; }
    cp -r "$out/kb-$n" "$kb"
    line=$(sed -n '5000p' "$facts_file")
    pred=${line%%(*}; inner=${line#*(}; inner=${inner%)}
    first=$(echo "$inner" | cut -d, -f1 | sed 's/^ *//;s/ *$//')
    last=$(echo "$inner" | awk -F', ' '{print $NF}')
    arity=$(echo "$inner" | awk -F', ' '{print NF}')
    pattern="$pred(?x"; for _ in $(seq 2 $((arity - 1))); do pattern+=", _"; done
    pattern+=", $last)"
    [ "$arity" -le 2 ] && pattern="$pred(?x, $last)"
    urlenc() { /usr/bin/python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1"; }
    path="/v2/query?q=$(urlenc "$pattern")&limit=10"
    [ "$what" = entity ] && path="/v2/entities/$(urlenc "$first")?limit=10"
    script=()
else
    path=/v2/facts
    script=(-s "$root/bench/http/post.lua")
fi
valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out/cg.$tag.out" "$bin" serve --data "$kb" \
    --listen "127.0.0.1:$port" --threads 2 --map-size 1g --quiet \
    ${EXTRA:-} >"$out/cg.$tag.log" 2>&1 &
vp=$!
trap 'kill $vp 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done
facts() {
    curl -fs "http://127.0.0.1:$port/v2/stats" |
        /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])'
}
url="http://127.0.0.1:$port$path"
wrk -t 1 -c "${CONNS:-8}" -d 2s --timeout 30s "${script[@]}" "$url" >/dev/null 2>&1
f0=$(facts)
callgrind_control -i on "$vp" >/dev/null
req=$(wrk -t 1 -c "${CONNS:-8}" -d "${secs}s" --timeout 30s "${script[@]}" "$url" 2>&1 |
    awk '/requests in/{print $1}')
callgrind_control -i off "$vp" >/dev/null
f1=$(facts)
callgrind_control -d "$vp" >/dev/null
kill "$vp"; wait "$vp" 2>/dev/null || true
[ "$what" = post ] && req=$((f1 - f0))
f=$(ls -S "$out"/cg."$tag".out* | head -1)
total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$tag: $req requests, $total instructions, $((total / req)) per request ($f)"
