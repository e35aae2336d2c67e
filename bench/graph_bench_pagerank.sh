#!/usr/bin/env bash
# graph_bench_pagerank.sh — `hakgal analyze pagerank` (snapshot + PageRank
# + names, one CLI process) with the power iterations over the snapshot
# next to igraph's PRPACK (HK_PAGERANK=igraph), alternating in one run.
#
#   bash bench/graph_bench_pagerank.sh [N facts] [rounds] [work dir]
#
# Builds the KB once (hk_gen + hakgal init/import) under the work dir and
# prints per round wall seconds and peak RSS of both, then the medians and
# the ratio new / old.
set -euo pipefail
n=${1:-1000000}
rounds=${2:-5}
work=${3:-/work/bigdata/$(whoami)-pagerank}
build_dir=${BUILD_DIR:-build}
hk="$build_dir/hakgal"
mkdir -p "$work"
kb="$work/kb$n"
if [ ! -d "$kb" ]; then
    [ -f "$work/facts$n.txt" ] ||
        "$build_dir/hk_gen" --n "$n" --out "$work/facts$n.txt" >/dev/null
    "$hk" init --data "$kb" >/dev/null
    "$hk" import --data "$kb" --quiet --compact never "$work/facts$n.txt" \
        >/dev/null
    rm -f "$work/facts$n.txt"
fi
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), N = $n"
run() { # run LABEL ENV...: prints "LABEL wall_s maxrss_kB"
    local label=$1
    shift
    env "$@" /usr/bin/time -f '%e %M' -o "$work/time.txt" \
        "$hk" analyze pagerank --data "$kb" --top 3 --json >"$work/out.json"
    echo "$label $(cat "$work/time.txt")"
}
: >"$work/rounds.txt"
for r in $(seq "$rounds"); do
    run power HK_PAGERANK=power | tee -a "$work/rounds.txt"
    run prpack HK_PAGERANK=igraph | tee -a "$work/rounds.txt"
done
cat "$work/out.json"
echo
med() { # med LABEL COLUMN
    awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$work/rounds.txt" |
        sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
pw=$(med power 2) pp=$(med prpack 2) pm=$(med power 3) qm=$(med prpack 3)
echo "median wall: power $pw s, prpack $pp s, ratio $(echo "scale=3; $pw / $pp" | bc)"
echo "median peak RSS: power $pm kB, prpack $qm kB, ratio $(echo "scale=3; $pm / $qm" | bc)"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
