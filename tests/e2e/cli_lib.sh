# cli_lib.sh — helpers shared by the CLI end-to-end tests (sourced, not
# run; CTest runs only test_*). The sourcing test sets ROOT (its scratch
# directory), HAKGAL_BIN and PY, and counts passed checks in $passed.
#
#   run ARGS...             runs hakgal; sets RC, OUT, ERR
#   expect RC [OUT [ERR]]   exit code and substrings of stdout / stderr
#   same GOT WANT           two strings are equal
#   json EXPR               a Python expression over the JSON lines of OUT
#                           (`lines`, and `j` = the last one) is true
#   facts                   the KB's fact count (stats --json)
#   fail MSG / ok           a failed check (exits) / a passed one
passed=${passed:-0}
OUT="" ERR="" RC=0

run() {
  set +e
  "$HAKGAL_BIN" "$@" >"$ROOT/.out" 2>"$ROOT/.err"
  RC=$?
  set -e
  OUT="$(cat "$ROOT/.out")"
  ERR="$(cat "$ROOT/.err")"
}
fail() {
  echo "FAIL: $*" >&2
  echo "--- stdout:" >&2; printf '%s\n' "$OUT" >&2
  echo "--- stderr:" >&2; printf '%s\n' "$ERR" >&2
  echo "$passed passed, 1 failed"
  exit 1
}
ok() { passed=$((passed + 1)); }
expect() {
  local want_rc=$1 out_sub=${2:-} err_sub=${3:-}
  [ "$RC" -eq "$want_rc" ] || fail "exit code $RC, expected $want_rc (${CMD:-})"
  if [ -n "$out_sub" ]; then
    grep -qF -- "$out_sub" <<<"$OUT" || fail "stdout lacks '$out_sub'"
  fi
  if [ -n "$err_sub" ]; then
    grep -qF -- "$err_sub" <<<"$ERR" || fail "stderr lacks '$err_sub'"
  fi
  ok
}
same() { [ "$1" = "$2" ] || fail "expected [$2], got [$1]"; ok; }
json() {
  printf '%s\n' "$OUT" | "$PY" -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin.read().splitlines() if l.strip()]
j = lines[-1] if lines else None
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" || fail "JSON check failed: $1"
  ok
}
facts() {
  "$HAKGAL_BIN" stats --json | "$PY" -c \
    'import json,sys; print(json.load(sys.stdin)["facts"])'
}
