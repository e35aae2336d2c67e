#!/usr/bin/env bash
# CPU per request of two hk_load binaries (bench/hk_load.c) against the
# same server: each round starts a fresh `hakgal serve --wal` per client,
# runs a closed-loop POST load (every fact new) and reads the client's
# user and system time with /usr/bin/time; clients alternate in every
# round so that both see the same neighbours.
#
#   bash bench/writer/client_cost.sh HK_LOAD_A HK_LOAD_B
#   ROUNDS=5 SECONDS_PER=5 CONNS=64 BUILD=build OUT=/work/bigdata/me/cl \
#       bash bench/writer/client_cost.sh /work/anchor/hk_load build/hk_load
#
# EXTRA adds hk_load options to both (e.g. "--subjects 2 --source x" for
# a binary that has them). Prints one line per run and the medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -eq 2 ] || {
  echo "usage: bench/writer/client_cost.sh HK_LOAD_A HK_LOAD_B" >&2
  exit 1
}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-5}
conns=${CONNS:-64}
build=${BUILD:-$root/build}
out=${OUT:-$root/bench/out/client-cost}
port=${PORT:-18723}
read -r -a extra <<<"${EXTRA:-}"
mkdir -p "$out"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for cl in "$1" "$2"; do
    rm -rf "$out/kb"
    "$build/hakgal" serve --data "$out/kb" --listen "127.0.0.1:$port" \
      --threads 2 --quiet --wal >"$out/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    /usr/bin/time -f "%U %S" -o "$out/time.txt" "$cl" --port "$port" \
      --conns "$conns" --duration "$secs" --think-ms 0 --write-pct 100 \
      --ramp-s 0 --warmup-s 0 "${extra[@]}" >"$out/load.txt" 2>&1
    kill "$pid"
    wait "$pid" || true
    ok=$(awk '/requests ok/{print $3}' "$out/load.txt")
    read -r user sys <"$out/time.txt"
    echo "round $r $cl: $ok requests, user $user s, sys $sys s," \
      "$(awk -v u="$user" -v s="$sys" -v n="$ok" \
        'BEGIN{printf "%.2f", (u+s)*1e6/(n>0?n:1)}') us/request"
  done
done | tee "$out/runs.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for cl in "$1" "$2"; do
  echo "median $cl: $(awk -v c="$cl:" '$3 == c {print $(NF-1)}' \
    "$out/runs.txt" | sort -g |
    awk '{x[NR]=$1} END{print x[int((NR+1)/2)]}') us/request"
done
