#!/usr/bin/env bash
# bench/run.sh — the store and import benchmark (`make bench` builds first).
#
#   make bench                      # N = 1M
#   BENCH_N=10000000 make bench     # N = 10M
#
# 1. build/hk_bench: in-process bulk load + query latency of hakgal and of
#    SQLite (the anchor) in the same run, printed side by side with ratios.
# 2. CLI import: build/hk_gen writes the same N facts as statement text, and
#    `hakgal import` loads them into a fresh KB; wall time -> facts/s. The
#    time includes the import's automatic compaction (--compact auto) when
#    it runs; the summary says whether it did.
#
# Environment: BENCH_N (facts, default 1000000), BENCH_SAMPLES (timed
# operations per query kind, default 20000), BENCH_BATCH (facts per write
# transaction, in-process and CLI; default: 1000000, the import default),
# BENCH_SKIP_CLI=1 (skip step 2),
# BENCH_KEEP=1 (keep databases and the statement file), BUILD (build dir).
# Results: bench/out/hk_bench-N.{txt,json}, bench/out/cli_import-N.json.
# Builds nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir="${BUILD:-build}"
n="${BENCH_N:-1000000}"
samples="${BENCH_SAMPLES:-20000}"
out=bench/out
work="$out/work-$n"

for bin in hk_bench hk_gen hakgal; do
    if [ ! -x "$build_dir/$bin" ]; then
        echo "bench: $build_dir/$bin is missing; run 'make bench'" >&2
        exit 1
    fi
done
mkdir -p "$out" "$work"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo |
    cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"

if git rev-parse --git-dir >/dev/null 2>&1; then
    dirty=$(git status --porcelain -- src include | wc -l)
    echo "== source: $(git rev-parse --short HEAD) ($dirty uncommitted" \
        "paths under src/ include/ in the build)"
fi

echo "== store: hakgal vs SQLite, N=$n"
keep=()
[ "${BENCH_KEEP:-0}" = 1 ] && keep=(--keep)
batch=()
[ -n "${BENCH_BATCH:-}" ] && batch=(--batch "$BENCH_BATCH")
"$build_dir/hk_bench" --n "$n" --samples "$samples" --dir "$work" \
    --json "$out/hk_bench-$n.json" "${keep[@]}" "${batch[@]}" |
    tee "$out/hk_bench-$n.txt"

if [ "${BENCH_SKIP_CLI:-0}" != 1 ]; then
    echo "== CLI import: hakgal import of $n statements"
    facts="$work/facts-$n.txt"
    kb="$work/cli-kb"
    "$build_dir/hk_gen" --n "$n" --out "$facts"
    rm -rf "$kb"
    "$build_dir/hakgal" --data "$kb" init >/dev/null
    bytes=$(stat -c %s "$facts")
    start=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S' -o "$out/cli_import-$n.time" \
        "$build_dir/hakgal" --data "$kb" import --quiet "${batch[@]}" "$facts" \
        >"$out/cli_import-$n.log" 2>&1 || {
        echo "bench: hakgal import failed:" >&2
        tail -20 "$out/cli_import-$n.log" >&2
        exit 1
    }
    end=$(date +%s.%N)
    read -r rss_kb user_s sys_s < <(tail -1 "$out/cli_import-$n.time")
    kb_bytes=$(stat -c %s "$kb/data.mdb" 2>/dev/null || echo 0)
    compaction=$(grep -E '^(not )?compacted' "$out/cli_import-$n.log" || echo "no compaction line")
    stored=$("$build_dir/hakgal" --data "$kb" stats --json |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"])')
    /usr/bin/python3 - "$n" "$start" "$end" "$bytes" "$rss_kb" "$kb_bytes" \
        "$stored" "$user_s" "$sys_s" "$out/cli_import-$n.json" "$compaction" <<'EOF'
import json, sys
n, start, end, size, rss, kb, stored, user, system, path, compaction = sys.argv[1:]
n, secs, cpu = int(n), float(end) - float(start), float(user) + float(system)
r = {"n": n, "seconds": round(secs, 3), "facts_per_s": round(n / secs),
     "cpu_seconds": round(cpu, 3), "facts_per_cpu_s": round(n / cpu),
     "input_bytes": int(size), "stored_facts": int(stored),
     "peak_rss_kb": int(rss), "data_mdb_bytes": int(kb),
     "bytes_per_fact": round(int(kb) / n, 1),
     "compacted": compaction.startswith("compacted"), "compaction": compaction}
json.dump(r, open(path, "w"), indent=2)
print(f"hakgal import: {n} facts in {secs:.2f} s = {n / secs:,.0f} facts/s; "
      f"{cpu:.2f} CPU s = {n / cpu:,.0f} facts per CPU second "
      f"(stored {stored}, peak RSS {int(rss) / 1024:.0f} MiB, "
      f"{int(kb) / n:.1f} bytes/fact on disk)")
print(f"hakgal import: {compaction} (included in the time above)"
      if compaction.startswith("compacted") else f"hakgal import: {compaction}")
EOF
    if [ "$stored" != "$n" ]; then
        echo "bench: the KB holds $stored facts, expected $n" >&2
        exit 1
    fi
    sed -n '1,5p' "$out/cli_import-$n.log"
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$kb" "$facts"
    fi
fi
[ "${BENCH_KEEP:-0}" = 1 ] || rmdir "$work" 2>/dev/null || true
echo "== results: $out/hk_bench-$n.json $out/hk_bench-$n.txt" \
    "$([ "${BENCH_SKIP_CLI:-0}" = 1 ] || echo "$out/cli_import-$n.json")"
