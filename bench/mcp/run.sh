#!/usr/bin/env bash
# bench/mcp/run.sh — latency of MCP tools/call (search_knowledge and
# query_related) over Streamable HTTP on an N-fact KB (default 1M).
#
#   bash bench/mcp/run.sh              # N = 1M, 5000 calls per tool
#   BENCH_N=100000 bash bench/mcp/run.sh
#
# Steps: build/hk_gen writes N synthetic facts (Zipf entities and
# predicates, see bench/hk_gen.h), `hakgal import` loads them, `hakgal serve`
# starts on a free loopback port, and mcp_bench (bench/mcp/mcp_bench.c, built
# here with cc) opens one 2025-11-25 session and times one call at a time
# over one keep-alive connection. The arguments are every 50th entity name
# of the KB in dictionary order (so mostly rare entities, as in real
# look-ups, with some very frequent ones), with the tools' default limits
# (search_knowledge 10 facts, query_related 100 facts).
# Results: bench/out/mcp-N.txt and bench/out/mcp-N.json; with
# BENCH_RECORD=1 a dated section is appended to bench/RESULTS.md under "MCP".
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir="${BUILD:-build}"
n="${BENCH_N:-1000000}"
samples="${BENCH_SAMPLES:-5000}"
out=bench/out
work="$out/mcp-work-$n"
for bin in hk_gen hakgal; do
  [ -x "$build_dir/$bin" ] || { echo "bench: $build_dir/$bin is missing; run 'make build'" >&2; exit 1; }
done
mkdir -p "$out" "$work"
cc -O2 -Wall -Wextra -o "$work/mcp_bench" bench/mcp/mcp_bench.c

kb="$work/kb"
if [ ! -f "$kb/data.mdb" ] || [ "${BENCH_FRESH:-0}" = 1 ]; then
  rm -rf "$kb"
  "$build_dir/hk_gen" --n "$n" --out "$work/facts.txt"
  "$build_dir/hakgal" --data "$kb" init >/dev/null
  "$build_dir/hakgal" --data "$kb" import --quiet "$work/facts.txt" >/dev/null
  rm -f "$work/facts.txt"
fi
facts=$("$build_dir/hakgal" --data "$kb" stats --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"])')
"$build_dir/hakgal" --data "$kb" entities --json |
  /usr/bin/python3 -c '
import json, sys
for i, line in enumerate(sys.stdin):
    if i % 50 == 0:
        print(json.loads(line)["name"])' > "$work/words.txt"

"$build_dir/hakgal" serve --data "$kb" --listen 127.0.0.1:0 --threads 2 \
  2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$work/serve.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "bench: server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "== MCP tools/call over Streamable HTTP: $facts facts, $samples calls per tool, $machine"
"$work/mcp_bench" 127.0.0.1 "$port" "$work/words.txt" "$samples" | tee "$out/mcp-$n.raw"
grep -v '^{' "$out/mcp-$n.raw" > "$out/mcp-$n.txt"
grep '^{' "$out/mcp-$n.raw" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
json.dump({"facts": int(sys.argv[1]), "tools": rows}, open(sys.argv[2], "w"), indent=2)' \
  "$facts" "$out/mcp-$n.json"
rm -f "$out/mcp-$n.raw"

if [ "${BENCH_RECORD:-0}" = 1 ]; then
  {
    grep -q '^## MCP' bench/RESULTS.md 2>/dev/null || printf '\n## MCP\n'
    echo
    echo "### $(date -u +%Y-%m-%d) — tools/call over Streamable HTTP, $facts facts"
    echo
    echo "\`bash bench/mcp/run.sh\` (BENCH_N=$n, $samples sequential calls per tool on one"
    echo "keep-alive connection, one 2025-11-25 session; $machine; hakgal serve --threads 2)."
    echo
    echo '```'
    cat "$out/mcp-$n.txt"
    echo '```'
  } >> bench/RESULTS.md
fi
