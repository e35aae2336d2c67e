#!/usr/bin/env bash
# Durable single-fact POST throughput: the pipelined writer (one fsync per
# group commit, acknowledged after the next sync, HK_WRITER_SYNC=pipelined)
# next to the classic one (LMDB's two syncs per commit, the default), in the
# same run on copies of one KB, at 64 and 256 connections; then the disk's
# synced 4 KiB write limit (bench/fsync_probe.c) in the same directory.
#
#   bash bench/writer/run.sh          # ROUNDS=3 SECONDS_PER=8 BUILD=build
#
# Prints one line per measurement and the medians; facts/s are counted from
# /v2/stats before and after each wrk run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-8}
out=${OUT:-$root/bench/out/writer}
mkdir -p "$out"
bin=$build/hakgal
facts() {
  curl -fs "http://127.0.0.1:$1/v2/stats" |
    /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])'
}
one() { # mode conns -> facts/s
  local mode=$1 conns=$2 kb=$out/kb-$1 log=$out/serve-$1.log port
  rm -rf "$kb"
  if [ "$mode" = pipelined ]; then export HK_WRITER_SYNC=pipelined; else unset HK_WRITER_SYNC; fi
  "$bin" serve --data "$kb" --listen 127.0.0.1:0 --threads 2 >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  unset HK_WRITER_SYNC
  local before after
  before=$(facts "$port")
  wrk -t 2 -c "$conns" -d "${secs}s" -s "$root/bench/http/post.lua" \
    "http://127.0.0.1:$port/v2/facts" >"$out/wrk-$mode-$conns.txt" 2>&1
  after=$(facts "$port")
  local groups
  groups=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^hakgal_commit_group_size_sum /{s=$2} /^hakgal_commit_group_size_count /{c=$2} END{if(c>0) printf "%.1f", s/c; else print 0}')
  kill "$pid"
  wait "$pid" || true
  echo "$(( (after - before) / secs )) $groups"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A res
for c in 64 256; do
  for r in $(seq "$rounds"); do
    for mode in classic pipelined; do
      read -r fps grp < <(one "$mode" "$c")
      echo "round $r conns $c $mode: $fps facts/s (facts per commit $grp)"
      res[$mode-$c]+="$fps "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
for c in 64 256; do
  a=$(echo "${res[classic-$c]}" | median)
  b=$(echo "${res[pipelined-$c]}" | median)
  echo "median conns $c: classic $a, pipelined $b facts/s, ratio $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b/a}')"
done
"$build/fsync_probe" "$out" 2000
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
