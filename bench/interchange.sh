#!/usr/bin/env bash
# bench/interchange.sh — export and N-Triples import rates.
#
#   bash bench/interchange.sh            # N = 100000 and 1000000
#   BENCH_SIZES="1000000" bash bench/interchange.sh
#
# For each N: build/hk_gen writes N facts as statements; `hakgal import`
# loads them into a fresh KB (the anchor for the import rate). Then every
# export format is written to a file from that KB, each run REPEAT times
# (default 3) and the median wall time kept; `--format statements` is the
# anchor the others are compared with. Finally the N-Triples export is
# imported into a second fresh KB and timed against the statements import.
# Builds nothing; needs build/hakgal and build/hk_gen.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD:-build}"
sizes="${BENCH_SIZES:-100000 1000000}"
repeat="${REPEAT:-3}"
work="${BENCH_WORK:-bench/out/interchange}"
hk="$build_dir/hakgal"
mkdir -p "$work"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
    rm -rf "$work/kb" "$work/kb-nt"
    "$build_dir/hk_gen" --n "$n" --out "$work/facts.txt" >/dev/null
    "$hk" init --data "$work/kb" >/dev/null
    t0=$(now)
    "$hk" import --data "$work/kb" --quiet --compact never "$work/facts.txt" >/dev/null
    t1=$(now)
    imp_st=$(echo "$t1 - $t0" | bc -l)
    printf '\nN = %s\n%-12s %12s %14s %12s %8s\n' "$n" format "median s" \
        "facts/s" "MB" "ratio"
    base=""
    for f in statements jsonl ntriples turtle graphml jsongraph cypher neo4j; do
        times=""
        for _ in $(seq "$repeat"); do
            rm -rf "$work/out.$f"
            t0=$(now)
            "$hk" export --data "$work/kb" --format "$f" --output "$work/out.$f" 2>/dev/null
            t1=$(now)
            times="$times $(echo "$t1 - $t0" | bc -l)"
        done
        m=$(echo "$times" | tr ' ' '\n' | grep . | median)
        [ -z "$base" ] && base=$m
        mb=$(echo "$(du -sb "$work/out.$f" | cut -f1) / 1000000" | bc -l)
        printf '%-12s %12.3f %14.0f %12.1f %7.2fx\n' "$f" "$m" \
            "$(echo "$n / $m" | bc -l)" "$mb" "$(echo "$m / $base" | bc -l)"
    done
    "$hk" init --data "$work/kb-nt" >/dev/null
    t0=$(now)
    "$hk" import --data "$work/kb-nt" --quiet --compact never \
        --format ntriples "$work/out.ntriples" >/dev/null
    t1=$(now)
    imp_nt=$(echo "$t1 - $t0" | bc -l)
    printf 'import statements %8.3f s %12.0f facts/s (anchor)\n' "$imp_st" \
        "$(echo "$n / $imp_st" | bc -l)"
    printf 'import ntriples   %8.3f s %12.0f facts/s %7.2fx (%s lines)\n' \
        "$imp_nt" "$(echo "$n / $imp_nt" | bc -l)" \
        "$(echo "$imp_nt / $imp_st" | bc -l)" \
        "$(wc -l <"$work/out.ntriples")"
done
rm -rf "$work"
