#!/usr/bin/env bash
# bench/compare.sh — two builds side by side in one run: the store benchmark
# (bench/run.sh), the HTTP benchmark (bench/http/run.sh) and the MCP
# benchmark (bench/mcp/run.sh), alternating A and B round by round so that
# both see the same machine, then the median of each figure per build and
# the ratio B/A. Use it to show that a change costs nothing (or what it
# costs) against the commit before it:
#
#   git worktree add /tmp/base HEAD~1 && make -C /tmp/base build
#   make build && bash bench/compare.sh /tmp/base/build build
#
# Environment: ROUNDS (default 3), BENCH_N (default 100000),
# BENCH_SAMPLES (store and MCP samples, default 5000), BENCH_SECONDS (wrk
# seconds per HTTP run, default 5), COMPARE_SKIP (space-separated: store,
# http, mcp). The KBs of the HTTP and MCP benchmarks are built once by the
# first build and reused by both (the on-disk format is the same).
# Results: bench/out/compare/{store,http,mcp}-{A,B}-ROUND.json and
# bench/out/compare/summary.txt. Builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/compare.sh BUILD_DIR_A BUILD_DIR_B" >&2; exit 1; }
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
rounds="${ROUNDS:-3}"
export BENCH_N="${BENCH_N:-100000}"
export BENCH_SAMPLES="${BENCH_SAMPLES:-5000}"
export BENCH_SECONDS="${BENCH_SECONDS:-5}"
skip=" ${COMPARE_SKIP:-} "
out=bench/out/compare
mkdir -p "$out"
rm -f "$out"/*.json

echo "== A: $a"
echo "== B: $b"
echo "== $rounds rounds, N=$BENCH_N, machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

for r in $(seq 1 "$rounds"); do
    for side in A B; do
        dir=$a
        [ "$side" = B ] && dir=$b
        if [[ "$skip" != *" store "* ]]; then
            echo "-- round $r $side: store"
            BUILD="$dir" BENCH_SKIP_CLI=1 bash bench/run.sh >"$out/store.log" 2>&1 ||
                { cat "$out/store.log" >&2; exit 1; }
            cp "bench/out/hk_bench-$BENCH_N.json" "$out/store-$side-$r.json"
        fi
        if [[ "$skip" != *" http "* ]]; then
            echo "-- round $r $side: http"
            BUILD="$dir" bash bench/http/run.sh >"$out/http.log" 2>&1 ||
                { cat "$out/http.log" >&2; exit 1; }
            cp "bench/out/http/results-$BENCH_N.json" "$out/http-$side-$r.json"
        fi
        if [[ "$skip" != *" mcp "* ]]; then
            echo "-- round $r $side: mcp"
            BUILD="$dir" bash bench/mcp/run.sh >"$out/mcp.log" 2>&1 ||
                { cat "$out/mcp.log" >&2; exit 1; }
            cp "bench/out/mcp-$BENCH_N.json" "$out/mcp-$side-$r.json"
        fi
    done
done

/usr/bin/python3 - "$out" "$rounds" <<'PY' | tee "$out/summary.txt"
import glob, json, os, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])

def load(kind, side):
    rows = []
    for r in range(1, rounds + 1):
        p = os.path.join(out, "%s-%s-%d.json" % (kind, side, r))
        if os.path.exists(p):
            rows.append(json.load(open(p)))
    return rows

def figures(kind, doc):
    """(name, value, higher_is_better) of one run."""
    f = []
    if kind == "store":
        h = doc["results"]["hakgal"]
        f.append(("load facts/s", h["load_facts_per_s"], True))
        f.append(("load facts/CPU s", h["load_facts_per_cpu_s"], True))
        f.append(("bytes/fact", h["bytes_per_fact"], False))
        for q in ("exact", "exact_with_parse", "entity_first100",
                  "pred_arg0_first100"):
            if q in h:
                f.append((q + " p50 us", h[q]["p50_us"], False))
    elif kind == "http":
        for row in doc:
            if row["server"] != "hakgal":
                continue
            key = "%s c=%d" % (row["name"], row["connections"])
            f.append((key + " req/s", row["requests_per_s"], True))
            if row["name"] in ("pattern", "entity"):
                f.append((key + " p50 ms", row["p50_ms"], False))
    elif kind == "mcp":
        for t in doc["tools"]:
            for k in ("p50_us", "p90_us"):
                if k in t:
                    f.append(("%s %s" % (t["tool"], k), t[k], False))
    return f

print("%-34s %12s %12s %8s" % ("median of %d rounds" % rounds, "A", "B", "B/A"))
for kind in ("store", "http", "mcp"):
    ra, rb = load(kind, "A"), load(kind, "B")
    if not ra or not rb:
        continue
    print("[%s]" % kind)
    names = [n for n, _, _ in figures(kind, ra[0])]
    for name in names:
        va = [v for d in ra for n, v, _ in figures(kind, d) if n == name and v is not None]
        vb = [v for d in rb for n, v, _ in figures(kind, d) if n == name and v is not None]
        if not va or not vb:
            continue
        ma, mb = statistics.median(va), statistics.median(vb)
        print("%-34s %12.2f %12.2f %8.2f" % (name, ma, mb, mb / ma if ma else 0))
PY
