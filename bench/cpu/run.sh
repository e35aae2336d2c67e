#!/usr/bin/env bash
# bench/cpu/run.sh — server CPU per request of two builds side by side:
# what a change costs, measured in a way that survives a loaded machine.
#
#   bash bench/cpu/run.sh BUILD_A BUILD_B
#   ROUNDS=5 SECONDS_PER=6 BENCH_N=20000 bash bench/cpu/run.sh /tmp/a/build build
#
# Wall-clock requests per second on a shared machine say more about the
# neighbours than about the code. The CPU time the server process spends
# per request does not depend on how long it waited for a core: it is read
# from /proc/PID/task/*/schedstat (nanoseconds on a CPU, every thread)
# before and after each wrk run and divided by the requests wrk completed
# (reads) or the facts the KB gained (writes). Per thread too: the threads
# are named (hk-loop-N, hk-writer, ...; threads of a build without names
# are summed under their comm).
#
# Runs, alternating A and B in each round on the same KB copies:
#   pattern  GET /v2/query?q=P(?x, o)&limit=10, 16 connections
#   entity   GET /v2/entities/E?limit=10, 16 connections
#   post     durable POST /v2/facts (bench/http/post.lua), 64 connections,
#            on a fresh empty KB
# Prints one line per run and the medians per build, with B/A.
# Environment: ROUNDS (3), SECONDS_PER (5), BENCH_N (20000), CONNS_READ
# (16), CONNS_POST (64), SKIP (space-separated: pattern entity post),
# OUT (bench/out/cpu).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/read_paths.sh"
[ $# -eq 2 ] || { echo "usage: bench/cpu/run.sh BUILD_A BUILD_B" >&2; exit 1; }
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
rounds=${ROUNDS:-3}
secs=${SECONDS_PER:-5}
n=${BENCH_N:-20000}
cr=${CONNS_READ:-16}
cp_=${CONNS_POST:-64}
skip=" ${SKIP:-} "
out=${OUT:-$root/bench/out/cpu}
mkdir -p "$out"
gen=$b/hk_gen
[ -x "$gen" ] || gen=$a/hk_gen
port=18690

cpu_ns() { # pid -> ns on a CPU, all threads
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{print s+0}'
}
cpu_threads() { # pid -> "comm ns" per thread name
    for t in /proc/"$1"/task/*; do
        echo "$(cat "$t/comm" 2>/dev/null) $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null)"
    done | awk '{s[$1]+=$2} END{for (k in s) print k, s[k]}' | sort
}
facts() {
    curl -fs "http://127.0.0.1:$port/v2/stats" |
        /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["facts"])'
}
serve() { # build kb -> pid
    "$1/hakgal" serve --data "$2" --listen "127.0.0.1:$port" --threads 2 \
        --quiet >"$out/serve.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "$pid"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT

# The read KB: N generated facts, imported once by build B.
kb=$out/kb-$n
facts_file=$out/facts-$n.txt
if [ ! -f "$kb/data.mdb" ]; then
    "$gen" --n "$n" --out "$facts_file"
    rm -rf "$kb"
    "$b/hakgal" --data "$kb" init >/dev/null
    "$b/hakgal" --data "$kb" import --quiet "$facts_file" >/dev/null
fi
[ -f "$facts_file" ] || "$gen" --n "$n" --out "$facts_file"
hk_read_paths "$facts_file"

one_read() { # build path -> "req/s µs-per-request"
    local run=$out/kb-run pid c0 c1 req
    rm -rf "$run"; cp -r "$kb" "$run"
    pid=$(serve "$1" "$run")
    wrk -t 2 -c "$cr" -d 1s "http://127.0.0.1:$port$2" >/dev/null 2>&1
    c0=$(cpu_ns "$pid")
    req=$(wrk -t 2 -c "$cr" -d "${secs}s" "http://127.0.0.1:$port$2" 2>&1 |
        awk '/requests in/{print $1}')
    c1=$(cpu_ns "$pid")
    stop "$pid"
    awk -v r="$req" -v c="$((c1 - c0))" -v s="$secs" \
        'BEGIN{printf "%.0f %.2f\n", r/s, c/1000/r}'
}

one_post() { # build -> "facts/s µs-per-fact facts-per-commit threads"
    local run=$out/kb-post pid c0 c1 f0 f1 grp thr
    rm -rf "$run"
    pid=$(serve "$1" "$run")
    f0=$(facts); c0=$(cpu_ns "$pid")
    cpu_threads "$pid" >"$out/threads0"
    wrk -t 2 -c "$cp_" -d "${secs}s" -s "$root/bench/http/post.lua" \
        "http://127.0.0.1:$port/v2/facts" >/dev/null 2>&1
    c1=$(cpu_ns "$pid")
    cpu_threads "$pid" >"$out/threads1"
    f1=$(facts)
    grp=$(curl -fs "http://127.0.0.1:$port/metrics" |
        awk '/^hakgal_commit_group_size_sum /{s=$2} /^hakgal_commit_group_size_count /{c=$2} END{if(c>0) printf "%.1f", s/c; else print 0}')
    stop "$pid"
    local nf=$((f1 - f0))
    thr=$(join -a 2 "$out/threads0" "$out/threads1" |
        awk -v f="$nf" '{d=(NF==3)?$3-$2:$2; if (d>0) printf "%s=%.1f ", $1, d/1000/f}')
    awk -v f="$nf" -v c="$((c1 - c0))" -v s="$secs" -v g="$grp" -v t="$thr" \
        'BEGIN{printf "%.0f %.2f %s %s\n", f/s, c/1000/f, g, t}'
}

echo "== A: $a"
echo "== B: $b"
echo "== $rounds rounds of ${secs}s, N=$n, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rate cpu
for r in $(seq "$rounds"); do
    for side in A B; do
        dir=$a; [ "$side" = B ] && dir=$b
        for what in pattern entity post; do
            [[ "$skip" == *" $what "* ]] && continue
            case $what in
            pattern) res=$(one_read "$dir" "$path_pattern") ;;
            entity) res=$(one_read "$dir" "$path_entity") ;;
            post) res=$(one_post "$dir") ;;
            esac
            read -r rs us rest <<<"$res"
            echo "round $r $side $what: $rs/s, $us µs CPU per request ${rest:+(facts per commit, µs per fact by thread: $rest)}"
            rate[$side-$what]+="$rs "
            cpu[$side-$what]+="$us "
        done
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo "== medians (load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "| run | A per s | B per s | B/A | A µs CPU per request | B µs CPU per request | B/A |"
echo "|---|---|---|---|---|---|---|"
for what in pattern entity post; do
    [[ "$skip" == *" $what "* ]] && continue
    ra=$(echo "${rate[A-$what]}" | median); rb=$(echo "${rate[B-$what]}" | median)
    ca=$(echo "${cpu[A-$what]}" | median); cb=$(echo "${cpu[B-$what]}" | median)
    awk -v w="$what" -v ra="$ra" -v rb="$rb" -v ca="$ca" -v cb="$cb" \
        'BEGIN{printf "| %s | %s | %s | %.2f | %s | %s | %.2f |\n", w, ra, rb, rb/ra, ca, cb, cb/ca}'
done
