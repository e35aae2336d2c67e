#!/usr/bin/env bash
# Crash safety of bulk import: `hakgal import` of a large generated file is
# killed with SIGKILL after its first batches have committed. The KB must
# then open, pass `audit verify`, hold exactly the committed transactions
# (a whole number of batches, since every line is a new fact), and a second
# run of the same import must complete it to the full count, reporting the
# facts that survived the crash as already present. An export taken while
# the import runs must be a consistent snapshot of whole batches.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
PY=/usr/bin/python3
ROOT="${HK_TEST_TMP:-/tmp}/cli-crash-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
IMPORT_PID=""
cleanup() {
  if [ -n "$IMPORT_PID" ]; then kill -9 "$IMPORT_PID" 2>/dev/null || true; fi
  rm -rf "$ROOT"
}
trap cleanup EXIT
export HAKGAL_DATA="$ROOT/kb"

LINES=${HK_CRASH_LINES:-400000}
BATCH=${HK_CRASH_BATCH:-20000}
passed=0
fail() { echo "FAIL: $*" >&2; echo "$passed passed, 1 failed"; exit 1; }
ok() { passed=$((passed + 1)); }
facts() { "$HAKGAL_BIN" stats --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["facts"])'; }

# Distinct facts, some n-ary, so that every line adds one fact.
"$PY" - "$ROOT/big.hkl" "$LINES" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        if i % 10 == 0:
            f.write("Measured(sample %d, T%d, %d.5 K)\n" % (i, i % 97, i))
        else:
            f.write("P%d(E%d, item %d)\n" % (i % 300, (i * 7919) % 50000, i))
EOF

"$HAKGAL_BIN" init >/dev/null

# Start the import and kill it once at least two batches are durable.
"$HAKGAL_BIN" import "$ROOT/big.hkl" --batch "$BATCH" --quiet \
  >"$ROOT/import1.out" 2>"$ROOT/import1.err" &
IMPORT_PID=$!
deadline=$((SECONDS + 120))
seen=0
while :; do
  if ! kill -0 "$IMPORT_PID" 2>/dev/null; then
    fail "the import finished before it could be killed (seen $seen facts); raise HK_CRASH_LINES"
  fi
  seen="$(facts 2>/dev/null || echo 0)"
  if [ "$seen" -ge $((2 * BATCH)) ]; then break; fi
  [ "$SECONDS" -lt "$deadline" ] || fail "no batch committed within 120 s"
  sleep 0.05
done
# A concurrent export is one consistent snapshot: whole batches, in order.
"$HAKGAL_BIN" export >"$ROOT/during.hkl"
n_during="$(wc -l <"$ROOT/during.hkl")"
[ $((n_during % BATCH)) -eq 0 ] && [ "$n_during" -ge $((2 * BATCH)) ] ||
  fail "export during the import holds $n_during facts, not whole batches"
head -n "$n_during" "$ROOT/big.hkl" | cmp -s - "$ROOT/during.hkl" ||
  fail "export during the import is not the file's first $n_during lines"
ok
kill -9 "$IMPORT_PID"
set +e
wait "$IMPORT_PID" 2>/dev/null
status=$?
set -e
IMPORT_PID=""
[ "$status" -eq 137 ] || fail "import was not killed by SIGKILL (status $status)"; ok

# The KB opens, its audit chain verifies, and it holds whole batches only.
after_crash="$(facts)"
echo "killed after $after_crash of $LINES facts (batch $BATCH)"
[ "$after_crash" -ge $((2 * BATCH)) ] || fail "committed batches lost: $after_crash"; ok
[ "$after_crash" -lt "$LINES" ] || fail "import completed despite the kill"; ok
[ $((after_crash % BATCH)) -eq 0 ] || fail "$after_crash facts is not a whole number of $BATCH-fact batches"; ok
"$HAKGAL_BIN" audit verify >"$ROOT/verify.out" || fail "audit verify after the crash: $(cat "$ROOT/verify.out")"
grep -q "audit chain ok" "$ROOT/verify.out" || fail "audit verify output"; ok
# One bulk audit entry per committed batch.
n_imports="$("$HAKGAL_BIN" audit list --limit 1000000 --json | "$PY" -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["op"] == "import"))')"
[ "$n_imports" -eq $((after_crash / BATCH)) ] || fail "$n_imports import entries for $after_crash facts"; ok
# The last committed fact is line number after_crash of the file.
last_line="$(sed -n "${after_crash}p" "$ROOT/big.hkl")"
"$HAKGAL_BIN" get "$last_line" >/dev/null || fail "last committed line is stored"; ok
next_line="$(sed -n "$((after_crash + 1))p" "$ROOT/big.hkl")"
set +e
"$HAKGAL_BIN" get "$next_line" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "the first line of the lost batch must be absent (rc $rc)"; ok

# Re-running completes the import exactly.
out="$("$HAKGAL_BIN" import "$ROOT/big.hkl" --batch "$BATCH" --quiet)"
want="read $LINES, added $((LINES - after_crash)), already present $after_crash, rejected 0"
grep -qF -- "$want" <<<"$out" || fail "second run: '$out', expected '$want'"; ok
[ "$(facts)" -eq "$LINES" ] || fail "full count after the second run"; ok
verify_out=$("$HAKGAL_BIN" audit verify) || fail "audit verify at the end"
grep -q "audit chain ok" <<<"$verify_out" || fail "audit verify at the end"; ok

echo "$passed passed, 0 failed"
