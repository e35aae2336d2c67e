#!/usr/bin/env bash
# What bounds durable single-fact POSTs: one build under the same closed
# loop of hk_load (64 connections by default, one unique fact per POST) in
# variants that each take one cost away, alternating in every round:
#
#   wal       --wal, as served (the log's syncs and its checkpoints)
#   nockpt    --wal --wal-checkpoint-ms 60000 --wal-log-mb 1024: no
#             checkpoint during a run shorter than ~15 s (none by time, and
#             64 MiB of log before one by bytes; with the default 64 MiB ring
#             a quarter of it, 16 MiB, starts one after ~5 s of this load),
#             so data.mdb's write-back never meets the log
#   ckpt250   --wal --wal-checkpoint-ms 250
#   nosync    --no-sync: NOT durable, the same path without any sync (the
#             ceiling a durable write can approach)
#   NAME=VAL  --wal with NAME=VAL in the server's environment (for the
#             experiment of bench/writer/steady_sync.patch)
#
#   bash bench/writer/ceiling.sh [BUILD]
#   ROUNDS=3 SECONDS_PER=6 CONNS=64 VARIANTS="wal nockpt nosync" \
#       HK_LOAD=build/hk_load bash bench/writer/ceiling.sh build
#
# Per run: facts/s, the client's p50/p99 latency, the machine's CPU split
# over the run (/proc/stat: busy, idle, iowait), the mean time of one log
# fdatasync (the syncer's sync stage over the log's syncs) with the number
# of checkpoints (the one of the start included), and where a
# write request's time went once queued (hakgal_write_latency_seconds_total
# over hakgal_write_latency_writes_total: queue, apply, durable, answer, in
# µs). Then the medians per variant. BUILD holds `hakgal` (default build);
# OUT (default bench/out/writer-ceiling) holds the KBs: put it on the disk
# you mean to measure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-6}
conns=${CONNS:-64}
variants=${VARIANTS:-wal nockpt nosync}
out=${OUT:-$root/bench/out/writer-ceiling}
hk_load=${HK_LOAD:-$build/hk_load}
[ -x "$hk_load" ] || {
  echo "bench/writer/ceiling.sh: no $hk_load (make build, or set HK_LOAD)" >&2
  exit 1
}
mkdir -p "$out"
port=$((20000 + RANDOM % 20000))

flags_of() {
  case $1 in
  wal) echo "--wal" ;;
  nockpt) echo "--wal --wal-checkpoint-ms 60000 --wal-log-mb 1024" ;;
  ckpt250) echo "--wal --wal-checkpoint-ms 250" ;;
  nosync) echo "--no-sync" ;;
  *=*) echo "--wal" ;; # NAME=VALUE: --wal with that in the environment
  *)
    echo "bench/writer/ceiling.sh: unknown variant $1" >&2
    exit 1
    ;;
  esac
}

cpu_now() { head -1 /proc/stat; }

metric() { # metrics-file name
  awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }' "$1"
}

one_run() { # variant round
  local v=$1 r=$2 pid
  rm -rf "$out/kb"
  local envs=()
  case $v in *=*) envs=("$v") ;; esac
  # shellcheck disable=SC2046
  env "${envs[@]}" "$build/hakgal" serve --data "$out/kb" --listen "127.0.0.1:$port" \
    --threads 2 --quiet $(flags_of "$v") >"$out/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local c0 c1
  c0=$(cpu_now)
  "$hk_load" --port "$port" --conns "$conns" --duration "$secs" \
    --think-ms 0 --write-pct 100 --ramp-s 0 --warmup-s 0 \
    --subjects 2 --source hk_load >"$out/load.txt" 2>&1
  c1=$(cpu_now)
  curl -fs "http://127.0.0.1:$port/metrics" >"$out/metrics.txt"
  kill "$pid"
  wait "$pid" || true
  local m=$out/metrics.txt
  local n sync syncs
  n=$(metric "$m" hakgal_write_latency_writes_total)
  sync=$(metric "$m" 'hakgal_writer_stage_seconds_total{stage="sync"}')
  syncs=$(metric "$m" hakgal_wal_syncs_total)
  ckpts=$(metric "$m" hakgal_wal_checkpoints_total)
  local stages=""
  for s in queue apply durable answer; do
    stages="$stages $(metric "$m" "hakgal_write_latency_seconds_total{stage=\"$s\"}")"
  done
  # requests ok N (R/s) ...; writes p50 p90 p99 p99.9 max
  awk -v v="$v" -v r="$r" -v n="$n" -v sync="$sync" -v syncs="$syncs" -v ckpts="$ckpts" \
    -v stages="$stages" -v c0="$c0" -v c1="$c1" '
    /requests ok/ { gsub(/[()\/s]/, " ", $4); rate = $4 + 0 }
    $1 == "writes" && NF >= 6 { p50 = $2; p99 = $4 }
    END {
      split(c0, a, " "); split(c1, b, " ")
      tot = 0; for (i = 2; i <= 9; i++) tot += b[i] - a[i]
      idle = (b[5] - a[5]) / tot * 100; iow = (b[6] - a[6]) / tot * 100
      split(stages, st, " ")
      ls = "    -   "
      if (syncs + 0 > 0) ls = sprintf("%.3f ms", sync / syncs * 1000)
      printf "%-12s r%d %8.0f facts/s  p50 %5.2f p99 %6.2f ms  cpu busy %3.0f%% idle %3.0f%% iowait %3.0f%%  log sync %s (%d checkpoints)  queue %4.0f apply %4.0f durable %4.0f answer %4.0f us\n",
        v, r, rate, p50, p99, 100 - idle - iow, idle, iow, ls, ckpts,
        n ? st[1] / n * 1e6 : 0, n ? st[2] / n * 1e6 : 0,
        n ? st[3] / n * 1e6 : 0, n ? st[4] / n * 1e6 : 0
    }' "$out/load.txt" | tee -a "$out/runs.txt"
}

: >"$out/runs.txt"
echo "build $build, $conns connections, $rounds rounds of ${secs} s;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for v in $variants; do
    one_run "$v" "$r"
  done
done
rm -rf "$out/kb"
echo "medians (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
for v in $variants; do
  awk -v v="$v" '$1 == v { print $3 }' "$out/runs.txt" | sort -n |
    awk -v v="$v" '{ x[NR] = $1 } END {
      if (NR) printf "  %-8s %8.0f facts/s over %d runs\n", v, x[int((NR + 1) / 2)], NR }'
done
