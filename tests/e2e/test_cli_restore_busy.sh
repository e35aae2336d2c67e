#!/usr/bin/env bash
# `hakgal restore --force` refuses to replace a KB that another process has
# open (its later acknowledged writes would go to an orphaned file), and
# works once that process has stopped.
set -euo pipefail
: "${HAKGAL_BIN:?}"
ROOT="${HK_TEST_TMP:-/tmp}/restore-busy-$$"
rm -rf "$ROOT"; mkdir -p "$ROOT"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$ROOT"; }
trap cleanup EXIT
H() { "$HAKGAL_BIN" --data "$ROOT/kb" "$@"; }

H init >/dev/null
H add 'Backed(up)' >/dev/null
H backup "$ROOT/bk" >/dev/null
H add 'After(backup)' >/dev/null

# A long-lived process with the KB open: the MCP server on a held-open stdin.
mkfifo "$ROOT/in"
"$HAKGAL_BIN" mcp --data "$ROOT/kb" <"$ROOT/in" >/dev/null 2>&1 &
PID=$!
exec 3>"$ROOT/in"
for _ in $(seq 1 50); do [ -e "$ROOT/kb/lock.mdb" ] && break; sleep 0.1; done
sleep 0.3

set +e
out=$(H restore "$ROOT/bk" --force 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ]; then echo "FAIL: restore replaced a KB in use: $out"; exit 1; fi
case "$out" in *"open in another process"*) ;; *) echo "FAIL: message: $out"; exit 1 ;; esac
n=$(H stats --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"])')
[ "$n" = 2 ] || { echo "FAIL: KB changed by the refused restore: $n facts"; exit 1; }

exec 3>&-          # stdin closes: the MCP server exits
wait "$PID" || true
PID=""
H restore "$ROOT/bk" --force >/dev/null
n=$(H stats --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"])')
[ "$n" = 1 ] || { echo "FAIL: restore did not install the backup: $n facts"; exit 1; }
echo "ok: restore refused while the KB is open, done once it is closed"
