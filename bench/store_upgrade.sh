#!/usr/bin/env bash
# How long the in-place upgrade of an older KB takes, and what it changes.
#
#   OLD=/path/to/old/hakgal NEW=build/hakgal SIZES="1000000 3000000" \
#       OUT=/work/bigdata/upgrade bash bench/store_upgrade.sh
#
# For each size N: bench/hk_gen's N facts (build/hk_gen) are imported by
# the OLD binary (a build of an older store format), then `NEW init`
# (the first open for writing, which upgrades the KB: docs/STORAGE.md,
# "Format versions") is timed. Prints the schema version before and
# after, the upgrade's wall and CPU time, its facts per second, data.mdb's
# size before and after, and whether `NEW verify --deep` (every index against the
# records) passes. OUT must be on the disk you mean to measure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
old=${OLD:?OLD must name a hakgal binary of an older format}
new=${NEW:-$root/build/hakgal}
gen=${HK_GEN:-$root/build/hk_gen}
sizes=${SIZES:-1000000}
out=${OUT:-$root/bench/out/upgrade}
mkdir -p "$out"
schema() { "$1" stats --data "$2" --json | sed -n 's/.*"schema_version":\([0-9]*\).*/\1/p'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
  kb=$out/kb-$n
  rm -rf "$kb"
  "$gen" --n "$n" --out "$out/facts-$n.txt"
  "$old" init --data "$kb" >/dev/null
  "$old" import "$out/facts-$n.txt" --data "$kb" >/dev/null
  rm -f "$out/facts-$n.txt"
  v0=$(schema "$old" "$kb")
  s0=$(stat -c %s "$kb/data.mdb")
  sync
  /usr/bin/time -f "%e %U %S" -o "$out/time" "$new" init --data "$kb" >/dev/null
  read -r wall user sys <"$out/time"
  v1=$(schema "$new" "$kb")
  s1=$(stat -c %s "$kb/data.mdb")
  ok=fails
  "$new" verify --deep --data "$kb" >/dev/null 2>&1 && ok=passes
  awk -v n="$n" -v v0="$v0" -v v1="$v1" -v w="$wall" -v u="$user" \
    -v s="$sys" -v s0="$s0" -v s1="$s1" -v ok="$ok" 'BEGIN {
    printf "%d facts: version %s -> %s in %.1f s (user %.1f, sys %.1f), " \
      "%.0f facts/s; data.mdb %.0f -> %.0f MB; verify %s\n",
      n, v0, v1, w, u, s, n / (w > 0 ? w : 1), s0 / 1e6, s1 / 1e6, ok }'
  rm -rf "$kb"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
