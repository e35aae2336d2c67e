#!/usr/bin/env bash
# End-to-end: CLI edge cases that once failed with unhelpful messages or
# wrong results (regression tests; the command tour is test_cli_commands.sh).
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
PY=/usr/bin/python3
. "$(dirname "$0")/cli_lib.sh"
ROOT="${HK_TEST_TMP:-/tmp}/cli-edges-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"
export HAKGAL_DATA="$ROOT/kb"

run init; expect 0
run add 'IsA(a, b)'; expect 0

# --actor that the audit log cannot record (not UTF-8, empty, too long):
# a clear message and exit 2 before anything is written (it was
# "invalid input", and import printed a summary before failing).
long=$(printf 'x%.0s' $(seq 1 300))
for bad in $'\xff' '' "$long"; do
  run add --actor "$bad" 'IsA(c, d)'; expect 2 "" "--actor"
  run delete --actor "$bad" 'IsA(a, b)'; expect 2 "" "--actor"
  run update --actor "$bad" 'IsA(a, b)' 'IsA(a, e)'; expect 2 "" "--actor"
  printf 'IsA(f, g)\n' > in.hkl
  run import --actor "$bad" in.hkl; expect 2 "" "--actor"
  [ -z "$OUT" ] || fail "no import summary for a refused --actor"
done
run export; expect 0 "IsA(a, b)"
[ "$OUT" = "IsA(a, b)" ] || fail "nothing changed by refused commands"
passed=$((passed + 1))
run add --actor 'Zoë' 'IsA(c, d)'; expect 0 "added"

# Global options are accepted by every command (hakgal --help): `hakgal
# --json mcp` failed with "unrecognized option '--json'".
for args in "--json --data $ROOT/kb mcp" "--data=$ROOT/kb mcp --json"; do
  set +e
  # shellcheck disable=SC2086
  OUT=$(printf '{"jsonrpc":"2.0","id":7,"method":"ping"}\n' |
        "$HAKGAL_BIN" $args 2>"$ROOT/.err")
  RC=$?
  set -e
  ERR="$(cat "$ROOT/.err")"
  expect 0 '"id":7'
done

# restore onto an existing KB without --force: one hint naming the option
# (the store's "use force" and the CLI's "use --force" were both printed).
run backup "$ROOT/bk"; expect 0 "backup written"
run restore "$ROOT/bk"; expect 4 "" "use --force to replace it"
[ "$(grep -o 'force' <<<"$ERR" | wc -l)" -eq 1 ] || fail "one --force hint"
passed=$((passed + 1))
run restore "$ROOT/bk" --force; expect 0 "restored"

# Two files with the same base name in one import share the default
# rejects file: the second appends (it deleted the first one's rejects).
mkdir -p d1 d2
printf 'bad1(\nA(1)\n' > d1/x.hkl
printf 'bad2(\nA(2)\n' > d2/x.hkl
rm -f x.hkl.rejects
run import d1/x.hkl d2/x.hkl; expect 0 "rejects in x.hkl.rejects"
grep -q "d1/x.hkl:1:" x.hkl.rejects || fail "d1's reject kept"
grep -q "d2/x.hkl:1:" x.hkl.rejects || fail "d2's reject written"
passed=$((passed + 1))
# a later run still starts a fresh rejects file
printf 'bad3(\n' > d1/x.hkl
run import d1/x.hkl; expect 2
[ "$(wc -l < x.hkl.rejects)" -eq 1 ] || fail "stale rejects removed"
passed=$((passed + 1))

# Ids that are digits but no valid id were parsed as statements ("unexpected
# '0' at the start of the predicate").
run get 0; expect 3 "" "no fact with id 0"
run get 000; expect 3 "" "no fact with id 0"
run get 99999999999999999999; expect 2 "" "out of range"
run delete 0; expect 3 "" "no fact with id 0"
run get 18446744073709551615; expect 3 "" "no fact with id 18446744073709551615"

# Binary input or text whose guessed format mostly fails to parse is
# refused as unrecognized (random bytes were imported as a junk TSV fact).
before=$(facts)
"$PY" -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(4000)))' > junk.bin
run import junk.bin; expect 2 "" "unrecognized format"
printf 'a\x01b\tc\x02\n\x03\td\n' > ctl.txt
run import ctl.txt; expect 2 "" "unrecognized format"
printf '\xc3\x28 x\n\xff(\n' > latin.txt
run import latin.txt; expect 2 "" "not UTF-8"
run import - < junk.bin; expect 2 "" "unrecognized format"
after=$(facts)
same "$after" "$before"
# an explicit --format still imports what parses, with rejects
printf 'P\tq\n!!\t\n' > two.txt
run import --format tsv two.txt; expect 0 "rejected 1"
# a plausible TSV with one bad record is still imported
printf 'P\tr\nP\ts\n!!\t\n' > three.txt
run import three.txt; expect 0 "rejected 1"

echo "ok: $passed checks"
