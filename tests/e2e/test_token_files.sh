#!/usr/bin/env bash
# End-to-end: `hakgal serve --tokens` and `hakgal mcp --tokens` read token
# files with one parser (hk_svc_tokens_load), so they accept and refuse the
# same files with the same line-numbered message. Regression of issue 8: a
# line with a fourth field was refused by serve and accepted by mcp.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
PY=/usr/bin/python3
. "$(dirname "$0")/cli_lib.sh"
ROOT="${HK_TEST_TMP:-/tmp}/token-files-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"
export HAKGAL_DATA="$ROOT/kb"
run init; expect 0

H=$(printf %s s3cret | sha256sum | cut -d' ' -f1)

# Both commands must refuse FILE with exit CODE (default 2: invalid input)
# and the same message naming LINE and WHY.
refused_by_both() {
  local file=$1 line=$2 why=$3 code=${4:-2} msg_serve msg_mcp
  set +e
  timeout 60 "$HAKGAL_BIN" serve --tokens "$file" --listen 127.0.0.1:0 \
    >/dev/null 2>"$ROOT/.serve"
  local rc_serve=$?
  timeout 60 "$HAKGAL_BIN" mcp --tokens "$file" </dev/null >/dev/null \
    2>"$ROOT/.mcp"
  local rc_mcp=$?
  set -e
  OUT="" ERR="serve: $(cat "$ROOT/.serve")
mcp: $(cat "$ROOT/.mcp")"
  [ "$rc_serve" -eq "$code" ] || fail "serve exit $rc_serve for $file, expected $code"
  [ "$rc_mcp" -eq "$code" ] || fail "mcp exit $rc_mcp for $file, expected $code"
  msg_serve=$(sed -n 's/^hakgal serve: //p' "$ROOT/.serve")
  msg_mcp=$(sed -n 's/^hakgal mcp: //p' "$ROOT/.mcp")
  same "$msg_mcp" "$msg_serve"
  grep -qF -- "token file $file line $line: " <<<"$msg_serve" ||
    fail "message lacks the line $line"
  grep -qF -- "$why" <<<"$msg_serve" || fail "message lacks '$why'"
  ok
}

printf '# name role sha256\nalice write %s extra\n' "$H" > four
refused_by_both "$ROOT/four" 2 "more than three fields"
printf 'alice write %s # the writer\n' "$H" > comment
refused_by_both "$ROOT/comment" 1 "more than three fields"
printf 'alice write\n' > two
refused_by_both "$ROOT/two" 1 "fewer than three fields"
printf 'bob read %s\nalice superuser %s\n' "$H" "$H" > role
refused_by_both "$ROOT/role" 2 "role 'superuser'"
printf 'alice write %s\nalice admin %s\n' "$H" "$H" > twice
refused_by_both "$ROOT/twice" 2 "given twice" 4
printf 'al/ice write %s\n' "$H" > name
refused_by_both "$ROOT/name" 1 "token name"
printf 'alice write 1234\n' > hash
refused_by_both "$ROOT/hash" 1 "64 hex digits"

# A good file: mcp takes the write and admin tokens, not the read one.
printf '# ok\n\nreader read %s\nwriter\twrite\t%s\n' "$H" "$H" > good
printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_fact","arguments":{"statement":"IsA(x, y)","auth_token":"s3cret"}}}' \
  > calls.jsonl
run mcp --tokens "$ROOT/good" < calls.jsonl; expect 0 "" "writes enabled"
json 'j["id"] == 2 and not j["result"].get("isError")'
[ "$(facts)" = 1 ] || fail "the write token did not write"
ok

echo "$passed passed"
