#!/usr/bin/env bash
# Where the log's syncs go slow under durable single-fact POSTs (--wal):
# every fdatasync of the server for a few seconds of load, from
# `perf trace`, summed per 100 ms window, with the checkpoint's syncs of
# data.mdb marked. Shows how long each checkpoint holds the disk and how
# slow the log's syncs are meanwhile.
#
#   bash bench/writer/sync_trace.sh [BUILD]        (default: build)
#   CONNS=64 SECONDS_PER=8 TRACE_SECONDS=4 EXTRA="--commit-delay-us 0" \
#       bash bench/writer/sync_trace.sh build
#
# BUILD is a directory holding `hakgal`; HK_LOAD names the load generator
# (default BUILD/hk_load). Needs perf (Debian's linux-perf) and root, or
# kernel.perf_event_paranoid ≤ 1. OUT (default bench/out/sync-trace) holds
# the KB and the raw trace.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
conns=${CONNS:-64}
secs=${SECONDS_PER:-8}
tsecs=${TRACE_SECONDS:-4}
out=${OUT:-$root/bench/out/sync-trace}
hk_load=${HK_LOAD:-$build/hk_load}
command -v perf >/dev/null || {
  echo "bench/writer/sync_trace.sh: needs perf (apt install linux-perf)" >&2
  exit 1
}
mkdir -p "$out"
rm -rf "$out/kb" "$out/log-syncs.txt"
port=$((20000 + RANDOM % 20000))
# shellcheck disable=SC2086
"$build/hakgal" serve --data "$out/kb" --listen "127.0.0.1:$port" \
  --threads 2 --quiet --wal ${EXTRA:-} >"$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$hk_load" --port "$port" --conns "$conns" --duration "$secs" \
  --think-ms 0 --write-pct 100 --ramp-s 0 --warmup-s 0 \
  --subjects 2 --source hk_load >"$out/load.txt" 2>&1 &
load=$!
sleep $(((secs - tsecs) / 2))
perf trace -e fdatasync -p "$pid" -o "$out/trace.txt" -- sleep "$tsecs" \
  >/dev/null 2>&1 || true
wait "$load"
grep -E 'requests ok|writes ' "$out/load.txt" | sed 's/^ */load: /'
# A line is "TIME ( DUR ms): THREAD/TID fdatasync(fd: N) = 0"; a call cut
# by another event is printed twice ("..." then "[continued]": the second
# has the duration).
awk '
  /fdatasync/ && /ms\)/ {
    t = $1 + 0
    d = ""
    for (i = 1; i <= NF; i++) if ($i == "ms):") { d = $(i - 1); break }
    if (d == "") next
    sub(/^\(/, "", d)
    who = /hk-syncer/ ? "log" : (/hk-checkpoint/ ? "ckpt" : "other")
    if (who == "ckpt" && d + 0 > 20) { big[++nb] = sprintf("%.0f", t); bd[nb] = d }
    b = int(t / 100)
    if (who == "log") { n[b]++; s[b] += d; print d + 0 > durs }
    if (b > last) last = b
  }
  END {
    printf "%-10s %6s %12s\n", "window ms", "syncs", "mean ms"
    for (b = 0; b <= last; b++)
      printf "%-10d %6d %12.3f\n", b * 100, n[b], n[b] ? s[b] / n[b] : 0
    for (i = 1; i <= nb; i++)
      printf "checkpoint data sync at %s ms: %.1f ms\n", big[i], bd[i]
  }' durs="$out/log-syncs.txt" "$out/trace.txt"
sort -n "$out/log-syncs.txt" | awk '{ v[NR] = $1 }
  END { if (NR) printf "log syncs: %d, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
    NR, v[int(NR * .5) + 1], v[int(NR * .9) + 1], v[int(NR * .99) + 1], v[NR] }'
