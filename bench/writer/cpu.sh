#!/usr/bin/env bash
# Durable single-fact POSTs, two builds side by side: facts/s, server CPU
# per fact (user and kernel, from /proc/PID/task/*/stat), voluntary
# context switches per fact (every thread's /proc/.../status) and facts per
# commit (hakgal_commit_group_size), alternating A and B in every round so
# that both see the same neighbours. Per thread too (hk-loop-N, hk-writer,
# hk-syncer).
#
#   bash bench/writer/cpu.sh BUILD_A BUILD_B
#   ROUNDS=5 SECONDS_PER=6 CONNS="64 256" MODES="classic pipelined" \
#       bash bench/writer/cpu.sh /tmp/anchor build
#   CLIENT=hk_load bash bench/writer/cpu.sh /work/anchor build
#
# BUILD_* is a directory holding a `hakgal` binary. Every measurement
# starts a fresh KB under OUT (default bench/out/writer-cpu; put it on
# the disk you mean to measure), `hakgal serve --threads 2`, and drives it with
# `wrk -t 2 -c C -s bench/http/post.lua` (CLIENT=wrk, the default) or
# with the project's own generator (CLIENT=hk_load: bench/hk_load.c, one
# thread, closed loop, `--think-ms 0 --write-pct 100`, one unique fact per
# request, two subjects and a source as post.lua writes them; HK_LOAD
# names the binary, default build/hk_load, the same one for both builds).
# MODES: classic (the default writer), pipelined (HK_WRITER_SYNC=pipelined)
# wal (--wal: the store's write-ahead log), stream and walstream (the
# classic writer or --wal, with --stream on a 3-broker mock cluster of
# tests/helpers/hk_kafka_mock, HK_KAFKA_MOCK_BIN, default
# build/hk_kafka_mock; also how long the outbox takes to drain after the
# load). Also bytes written per fact (the server's
# /proc/PID/io write_bytes: the log, the pages and checkpoints), commits per
# second and, with wal, log syncs per second. Under each run: the busy
# share of a core of the writer, the syncer and the loops together, the
# machine's idle share (/proc/stat), the client's CPU per fact, and the
# writer's and syncer's time per stage in per cent of the run's wall time
# (hakgal_writer_stage_seconds_total: wait_sync, idle, gather, apply, commit,
# hand_off; sync, answer), and with wal the time of one log fdatasync (the
# sync stage over the log's syncs). A serial stage near 100 % is the limit; idle
# CPU with no stage full means the limit is latency. Prints one line per
# run (builds and modes alternating in every round) and the medians per
# build, mode and connection count.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -eq 2 ] || {
  echo "usage: bench/writer/cpu.sh BUILD_A BUILD_B" >&2
  exit 1
}
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-6}
conns_list=${CONNS:-64 256}
modes=${MODES:-classic}
out=${OUT:-$root/bench/out/writer-cpu}
mock_bin=${HK_KAFKA_MOCK_BIN:-$root/build/hk_kafka_mock}
client=${CLIENT:-wrk}
hk_load=${HK_LOAD:-$root/build/hk_load}
case $client in
wrk) ;;
hk_load)
  [ -x "$hk_load" ] || {
    echo "bench/writer/cpu.sh: no $hk_load (make build, or set HK_LOAD)" >&2
    exit 1
  }
  ;;
*)
  echo "bench/writer/cpu.sh: CLIENT must be wrk or hk_load" >&2
  exit 1
  ;;
esac
port=${PORT:-18719}
mkdir -p "$out"
tck=$(getconf CLK_TCK)

facts() {
  curl -fs "http://127.0.0.1:$port/v2/stats" |
    /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])'
}
# "commits walsyncs" from the server's counters
counters() {
  curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^hakgal_commit_group_size_count /{c=$2}
         /^hakgal_wal_syncs_total /{s=$2}
         END{printf "%d %d", c, s}'
}
# the writer's and syncer's stage times, "stage us" per line (a binary
# without them prints nothing)
stages() {
  curl -fs "http://127.0.0.1:$port/metrics" |
    awk -F'[" ]' '/^hakgal_writer_stage_seconds_total/{
           printf "%s %.0f\n", $2, $NF * 1e6}' | sort
}
# the machine's "busy idle" jiffies from /proc/stat (idle and iowait
# are idle)
cpustat() {
  awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; i=$5+$6; print b, i}' /proc/stat
}
# pid -> "comm vcsw utime stime" per thread name, summed
threads() {
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm" 2>/dev/null)" \
      "$(awk '/^voluntary_ctxt_switches/{print $2}' "$t/status" 2>/dev/null)" \
      "$(awk '{print $14, $15}' "$t/stat" 2>/dev/null)"
  done | awk 'NF==4 {v[$1]+=$2; u[$1]+=$3; s[$1]+=$4}
              END{for (k in v) print k, v[k], u[k], s[k]}' | sort
}
one() { # build mode conns -> prints one result line
  local build=$1 mode=$2 conns=$3 kb=$out/kb pid
  rm -rf "$kb"
  local extra="" mock=""
  [ "$mode" = wal ] && extra="--wal"
  if [ "$mode" = walstream ] || [ "$mode" = stream ]; then
    # the change stream on a 3-broker mock cluster of this build's helper
    coproc MOCK { exec "$mock_bin" --topic hakgal.changes:4; }
    read -r mock <&"${MOCK[0]}"
    extra="--stream kafka://$mock/hakgal.changes"
    [ "$mode" = walstream ] && extra="--wal $extra"
  fi
  if [ "$mode" = pipelined ]; then
    HK_WRITER_SYNC=pipelined "$build/hakgal" serve --data "$kb" \
      --listen "127.0.0.1:$port" --threads 2 --quiet >"$out/serve.log" 2>&1 &
  else
    "$build/hakgal" serve --data "$kb" --listen "127.0.0.1:$port" \
      --threads 2 --quiet $extra >"$out/serve.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 300); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local f0 f1 g io0 io1 m0 m1
  f0=$(facts)
  io0=$(awk '/^write_bytes/{print $2}' /proc/"$pid"/io)
  m0=$(counters)
  threads "$pid" >"$out/t0"
  # a stage is counted when it ends: one write ends the idle stage that
  # began at the start, so that it stays out of the run's stages
  curl -fs -XPOST -d '{"statement":"BenchWarm(w, x)"}' \
    "http://127.0.0.1:$port/v2/facts" >/dev/null
  stages >"$out/s0"
  local c0 c1 w0 w1
  c0=$(cpustat)
  w0=$(date +%s%N)
  if [ "$client" = hk_load ]; then
    # no ramp and no warm-up: the facts counted are those of the whole
    # run, as with wrk
    /usr/bin/time -f "%U %S" -o "$out/wrk.cpu" \
      "$hk_load" --port "$port" --conns "$conns" --duration "$secs" \
      --think-ms 0 --write-pct 100 --ramp-s 0 --warmup-s 0 \
      --subjects 2 --source hk_load \
      >"$out/wrk.txt" 2>&1
  else
    /usr/bin/time -f "%U %S" -o "$out/wrk.cpu" \
      wrk -t 2 -c "$conns" -d "${secs}s" -s "$root/bench/http/post.lua" \
      "http://127.0.0.1:$port/v2/facts" >"$out/wrk.txt" 2>&1
  fi
  c1=$(cpustat)
  w1=$(date +%s%N)
  threads "$pid" >"$out/t1"
  stages >"$out/s1"
  f1=$(facts)
  io1=$(awk '/^write_bytes/{print $2}' /proc/"$pid"/io)
  m1=$(counters)
  g=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^hakgal_commit_group_size_sum /{s=$2}
         /^hakgal_commit_group_size_count /{c=$2}
         END{if (c > 0) printf "%.1f", s/c; else print 0}')
  local drain=""
  if [ -n "$mock" ]; then
    # how long the outbox takes to drain after the load: the publisher
    # kept up when it is near 0
    local d0 d1
    d0=$(date +%s%N)
    for _ in $(seq 600); do
      curl -fs "http://127.0.0.1:$port/v2/stream/status" |
        grep -q '"backlog":0,' && break
      sleep 0.05
    done
    d1=$(date +%s%N)
    drain=$(( (d1 - d0) / 1000000 ))
  fi
  kill "$pid"
  wait "$pid" || true
  if [ -n "$mock" ]; then
    exec {MOCK[1]}>&-
    wait "$MOCK_PID" 2>/dev/null || true
  fi
  local n=$((f1 - f0))
  # the machine's idle share during the run, wrk's CPU per fact, and the
  # writer's stages in per cent of the run's wall time
  local idle wrkus st
  idle=$(echo "$c0 $c1" | awk '{b=$3-$1; i=$4-$2; if (b+i > 0)
    printf "%.0f", 100*i/(b+i); else print 0}')
  wrkus=$(awk -v n="$n" '{if (n < 1) n = 1; printf "%.1f", ($1+$2)*1e6/n}' \
    "$out/wrk.cpu")
  # per cent of the wall time wrk took (longer than SECONDS_PER on a
  # loaded machine)
  st=$(join "$out/s0" "$out/s1" 2>/dev/null | awk -v ns=$((w1 - w0)) '
    {printf "%s%s %.0f%%", (NR > 1 ? ", " : ""), $1, ($3-$2)*1e5/ns}')
  # the syncer's time in fdatasync during the run, in microseconds
  local syncus
  syncus=$(join "$out/s0" "$out/s1" 2>/dev/null | awk '$1 == "sync" {print $3-$2}')
  # totals, then the writer's and the loops' share
  join "$out/t0" "$out/t1" | awk -v n="$n" -v t="$tck" -v secs="$secs" \
    -v g="$g" -v tag="$(basename "$(dirname "$build/x")") $mode c$conns" \
    -v client="$client" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" -v io=$((io1 - io0)) \
    -v m0="$m0" -v m1="$m1" -v idle="$idle" -v wrkus="$wrkus" -v st="$st" \
    -v ns=$((w1 - w0)) -v syncus="$syncus" -v drain="$drain" '
    { dv=$5-$2; du=($6-$3)/t*1e6; ds=($7-$4)/t*1e6
      V+=dv; U+=du; S+=ds
      if ($1 == "hk-writer") { wv=dv; wc=du+ds }
      if ($1 == "hk-syncer") { yc=du+ds }
      if ($1 ~ /^hk-loop/) { lv+=dv; lc+=du+ds } }
    END { if (n <= 0) n = 1
      split(m0, a, " "); split(m1, b, " ")
      printf "%s: %d facts/s cpu %.1f us/fact (user %.1f sys %.1f) vcsw %.3f/fact writer %.1f us %.3f vcsw loops %.1f us %.3f vcsw group %s load %s bytes/fact %.0f commits/s %.0f walsyncs/s %.0f\n",
        tag, n/secs, (U+S)/n, U/n, S/n, V/n, wc/n, wv/n, lc/n, lv/n, g, load,
        io/n, (b[1]-a[1])/secs, (b[2]-a[2])/secs
      # busy share of one core per thread, the machine idle, wrk
      printf "    threads %% of a core: writer %.0f syncer %.0f loops %.0f; machine idle %s%%; %s %s us/fact\n",
        wc*1e5/ns, yc*1e5/ns, lc*1e5/ns, idle, client, wrkus
      if (st != "") printf "    stages %% of wall: %s\n", st
      if (syncus > 0 && b[2] > a[2])
        printf "    log fdatasync: %.3f ms each (syncer stage sync / log syncs)\n",
          syncus/1e3/(b[2]-a[2])
      if (drain != "") printf "    stream outbox drained %s ms after the load\n", drain }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); client $client"
for c in $conns_list; do
  for r in $(seq "$rounds"); do
    for m in $modes; do
      for build in "$a" "$b"; do
        echo "round $r $(one "$build" "$m" "$c")"
      done
    done
  done
done | tee "$out/runs.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# medians per (build, mode, conns) of facts/s, CPU per fact and vcsw/fact
awk '$1 == "round" {key=$3" "$4" "$5; sub(":", "", key)
      fps[key]=fps[key]" "$6; cpu[key]=cpu[key]" "$9; vc[key]=vc[key]" "($16+0)
      for (i = 1; i < NF; i++) if ($i == "bytes/fact") by[key]=by[key]" "$(i+1)}
     END{for (k in fps) print k "|" fps[k] "|" cpu[k] "|" vc[k] "|" by[k]}' \
  "$out/runs.txt" | sort | while IFS='|' read -r key f c v w; do
  med() { tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{x[NR]=$1} END{print x[int((NR+1)/2)]}'; }
  echo "median $key: $(echo "$f" | med) facts/s, $(echo "$c" | med) us CPU/fact, $(echo "$v" | med) vcsw/fact, $(echo "$w" | med) bytes/fact"
done
