#!/usr/bin/env bash
# Where a durable POST's server CPU goes: one server under a closed-loop
# POST load (build/hk_load, as CLIENT=hk_load in bench/writer/cpu.sh),
# sampled by `perf record --call-graph dwarf` for SECONDS, split per thread
# (writer, loops, syncer, checkpoint) and per stage into microseconds per
# fact by bench/writer/profile_split.py.
#
#   bash bench/writer/profile.sh BUILD [CONNS] [SECONDS]
#   OUT=/work/bigdata/me/prof MODE=wal bash bench/writer/profile.sh build 64 5
#
# BUILD is a directory holding `hakgal`; MODE wal (default: --wal) or
# classic; FREQ the sampling rate (default 1999 Hz). The profile costs the
# server CPU too (DWARF unwinding copies 16 KiB of stack per sample): the
# per-fact total here is above cpu.sh's, the shares are what to read.
# Needs perf (linux-perf) and permission to profile the server
# (kernel.perf_event_paranoid <= 1, or root). perf.data (~150 MB for 5 s)
# and the KB land in OUT: put it on a disk with room, not on /tmp.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || {
  echo "usage: bench/writer/profile.sh BUILD [CONNS] [SECONDS]" >&2
  exit 1
}
build=$(cd "$1" && pwd)
conns=${2:-64}
secs=${3:-5}
mode=${MODE:-wal}
freq=${FREQ:-1999}
out=${OUT:-$root/bench/out/writer-profile}
port=${PORT:-18721}
hk_load=${HK_LOAD:-$root/build/hk_load}
command -v perf >/dev/null || {
  echo "bench/writer/profile.sh: perf is not installed" >&2
  exit 1
}
[ -x "$hk_load" ] || {
  echo "bench/writer/profile.sh: no $hk_load (make build, or set HK_LOAD)" >&2
  exit 1
}
mkdir -p "$out"
rm -rf "$out/kb"
extra=()
[ "$mode" = wal ] && extra=(--wal)
"$build/hakgal" serve --data "$out/kb" --listen "127.0.0.1:$port" \
  --threads 2 --quiet "${extra[@]}" >"$out/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
facts() {
  curl -fs "http://127.0.0.1:$port/v2/stats" |
    /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])'
}
# one second of load before and after the sampled window
"$hk_load" --port "$port" --conns "$conns" --duration $((secs + 2)) \
  --think-ms 0 --write-pct 100 --ramp-s 0 --warmup-s 0 \
  --subjects 2 --source hk_load >"$out/load.txt" 2>&1 &
lpid=$!
sleep 1
f0=$(facts)
perf record -q -F "$freq" --call-graph dwarf,16384 -p "$pid" \
  -o "$out/perf.data" -- sleep "$secs" >/dev/null 2>&1
f1=$(facts)
wait "$lpid"
kill "$pid"
wait "$pid" || true
trap - EXIT
perf script -F comm,ip,sym -i "$out/perf.data" >"$out/stacks.txt" 2>/dev/null
echo "$(basename "$build") $mode c$conns: $(((f1 - f0) / secs)) facts/s" \
  "while sampled; load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$root/bench/writer/profile_split.py" "$out/stacks.txt" "$freq" \
  $((f1 - f0))
