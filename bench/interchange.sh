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
#
# Each export also reports its CPU time (user + system, median) and facts
# per CPU-second, which a loaded machine understates less than wall time.
#   KB=DIR BENCH_SIZES=N   exports from an existing KB of N facts (kept;
#                          no generation and no imports)
#   FORMATS="graphml neo4j" only these formats (the first is the anchor)
#   OTHER=path/to/hakgal   runs each export with this binary too, the two
#                          alternating within every round, and prints its
#                          medians beside (e.g. main's build)
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
formats="${FORMATS:-statements jsonl ntriples turtle graphml jsongraph cypher neo4j}"
other="${OTHER:-}"
# One export: prints "wall cpu" (seconds) of bin exporting format $2.
one() {
    local bin=$1 f=$2 kb=$3 out=$4
    rm -rf "$out"
    /usr/bin/time -f '%e %U %S' -o "$work/time" \
        "$bin" export --data "$kb" --format "$f" --output "$out" 2>/dev/null
    awk '{printf "%s %.3f\n", $1, $2 + $3}' "$work/time"
}
for n in $sizes; do
    kb="${KB:-$work/kb}"
    if [ -z "${KB:-}" ]; then
        rm -rf "$work/kb" "$work/kb-nt"
        "$build_dir/hk_gen" --n "$n" --out "$work/facts.txt" >/dev/null
        "$hk" init --data "$work/kb" >/dev/null
        t0=$(now)
        "$hk" import --data "$work/kb" --quiet --compact never "$work/facts.txt" >/dev/null
        t1=$(now)
        imp_st=$(echo "$t1 - $t0" | bc -l)
    fi
    printf '\nN = %s\n%-12s %9s %12s %7s %12s %8s %7s' "$n" format "median s" \
        "facts/s" "cpu s" "facts/cpu-s" "MB" "ratio"
    [ -n "$other" ] && printf ' %9s %7s %12s' "other s" "cpu s" "facts/cpu-s"
    printf '\n'
    base=""
    for f in $formats; do
        walls="" cpus="" owalls="" ocpus=""
        for _ in $(seq "$repeat"); do
            read -r w c < <(one "$hk" "$f" "$kb" "$work/out.$f")
            walls="$walls $w" cpus="$cpus $c"
            if [ -n "$other" ]; then
                read -r w c < <(one "$other" "$f" "$kb" "$work/other.$f")
                owalls="$owalls $w" ocpus="$ocpus $c"
                rm -rf "$work/other.$f"
            fi
        done
        m=$(echo "$walls" | tr ' ' '\n' | grep . | median)
        mc=$(echo "$cpus" | tr ' ' '\n' | grep . | median)
        [ -z "$base" ] && base=$m
        mb=$(echo "$(du -sb "$work/out.$f" | cut -f1) / 1000000" | bc -l)
        printf '%-12s %9.3f %12.0f %7.3f %12.0f %8.1f %6.2fx' "$f" "$m" \
            "$(echo "$n / $m" | bc -l)" "$mc" "$(echo "$n / $mc" | bc -l)" \
            "$mb" "$(echo "$m / $base" | bc -l)"
        if [ -n "$other" ]; then
            om=$(echo "$owalls" | tr ' ' '\n' | grep . | median)
            oc=$(echo "$ocpus" | tr ' ' '\n' | grep . | median)
            printf ' %9.3f %7.3f %12.0f' "$om" "$oc" "$(echo "$n / $oc" | bc -l)"
        fi
        printf '\n'
        [ "$f" = ntriples ] || rm -rf "$work/out.$f"
    done
    echo "   (load $(cut -d' ' -f1-3 /proc/loadavg))"
    [ -n "${KB:-}" ] && continue
    [ -f "$work/out.ntriples" ] || continue
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
if [ -n "${KB:-}" ]; then rm -rf "$work"/out.* "$work/time"; else rm -rf "$work"; fi
