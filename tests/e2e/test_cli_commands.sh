#!/usr/bin/env bash
# End-to-end test of every `hakgal` CLI command: outputs, --json, --help,
# error messages and exit codes (0 ok, 1 usage, 2 invalid input,
# 3 not found, 4 conflict, 5 I/O or store, 6 audit verification failed).
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
. "$(dirname "$0")/cli_lib.sh"
PY=/usr/bin/python3
ROOT="${HK_TEST_TMP:-/tmp}/cli-commands-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"
export HAKGAL_DATA="$ROOT/kb"

# ---- no command, unknown command, help, version ----
run; expect 1 "" "no command given"
run bogus; expect 1 "" "unknown command 'bogus'"
run --bogus stats; expect 1 "" "unknown option '--bogus'"
run help; expect 0 "Exit codes:"
for word in "6  audit verification failed" "3  not found" "--data DIR"; do
  grep -qF -- "$word" <<<"$OUT" || fail "help lacks '$word'"
done
ok
run --help; expect 0 "Commands:"
run help nosuch; expect 1 "" "unknown command 'nosuch'"
run help query; expect 0 "Usage: hakgal query"
for cmd in init add get query delete update import export stats predicates \
           entities history audit backup restore version help; do
  CMD="$cmd --help"
  run "$cmd" --help
  expect 0 "Usage: hakgal $cmd"
done
run help
for cmd in init add get query delete update import export stats predicates \
           entities history audit backup restore version help; do
  grep -qE -- "^  $cmd " <<<"$OUT" || fail "help lacks $cmd"
done
ok
run version; expect 0 "hakgal 2.0.0"
run version --json; expect 0; json 'j["version"] == "2.0.0"'
run --version; expect 0 "hakgal 2."

# ---- no KB yet ----
run stats; expect 3 "" "no knowledge base at '$ROOT/kb'"
run query --predicate P; expect 3 "" "hakgal init"

# ---- init ----
run init; expect 0 "initialized empty knowledge base at $ROOT/kb"
run init; expect 0 "already exists"
run init --json; expect 0; json 'j["created"] is False and j["facts"] == 0'
run --data "$ROOT/kb2" init --json; expect 0; json 'j["created"] is True'
echo x >"$ROOT/file"
run init --data "$ROOT/file"; expect 4 "" "not a directory"

# ---- add ----
run add 'HasPart(Computer, CPU)'; expect 0 "added"
grep -qP '^added\s+1\tHasPart\(Computer, CPU\)$' <<<"$OUT" || fail "add output"
run add 'HasPart( Computer ,CPU ).'; expect 0 "present"
run add 'IsA(Water, Molecule)' 'Bond(NH3, nitrogen, hydrogen)' \
    'PartOf(North Pacific, Pacific Ocean)' 'HasFormula(Newton, F=ma)'
expect 0 "Bond(NH3, nitrogen, hydrogen)"
[ "$(grep -c '^added' <<<"$OUT")" -eq 4 ] || fail "4 facts expected"; ok
run add 'Says(Alice, "Hello, world")' --confidence 0.25 --source 'doc 7' \
    --tag a --tag 'b c' --context '{"page": 12, "nested": {"k": [1, 2]}}' --json
expect 0
json 'j["status"] == "added" and j["fact"]["confidence"] == 0.25 and j["fact"]["source"] == "doc 7" and j["fact"]["tags"] == ["a", "b c"] and j["fact"]["context"] == {"page": 12, "nested": {"k": [1, 2]}} and j["fact"]["args"] == ["Alice", "Hello, world"]'
run add 'Says(Alice, "Hello, world")' --source other
expect 0 "present" "metadata was not changed"
run add 'HasPart(Computer, CPU' ; expect 2 "" "invalid statement"
grep -qF '  HasPart(Computer, CPU' <<<"$ERR" || fail "statement echoed"
grep -qF '^' <<<"$ERR" || fail "caret shown"; ok
run add 'P(a, , b)'; expect 2 "" "invalid statement"
run add 'Good(x)' 'Bad(('; expect 2 "" "invalid statement"
run get 'Good(x)'; expect 3 "" "no fact Good(x)"   # all or nothing
run add 'P(x)' --confidence 1.5; expect 2 "" "--confidence '1.5'"
run add 'P(x)' --confidence abc; expect 2 "" "expected a number"
run add 'P(x)' --context '[1]'; expect 2 "" "expected a JSON object"
run add 'P(x)' --context '{bad'; expect 2 "" "invalid JSON"
run add 'P(x)' --tag ''; expect 2 "" "--tag"
run add 'P(x)' --source ''; expect 2 "" "--source: 0 bytes"
run add; expect 1 "" "missing STATEMENT"
run add 'P(x)' --nope; expect 1 "" "unknown option '--nope'"
run add 'P(x)' --source; expect 1 "" "needs a value"

# ---- get ----
run get 1; expect 0 "statement   HasPart(Computer, CPU)"
grep -qF "confidence  1" <<<"$OUT" || fail "confidence line"; ok
run get 'Says(Alice, "Hello, world")'; expect 0 "tags        a, b c"
grep -qF 'source      doc 7' <<<"$OUT" || fail "source line"; ok
run get 2 --json; expect 0; json 'j["id"] == 2 and j["statement"] == "IsA(Water, Molecule)" and j["context"] is None'
run get 999; expect 3 "" "no fact with id 999"
run get 'Nope(x)'; expect 3 "" "no fact Nope(x)"
run get 'Nope(x'; expect 2 "" "invalid statement"
run get; expect 1 "" "missing ID or STATEMENT"
run get 1 2; expect 1 "" "expected one ID or STATEMENT"

# ---- query ----
run add 'HasPart(Laptop, CPU)' 'HasPart(Phone, CPU)' 'HasPart(Computer, RAM)' \
    'IsA(Ice, Water)' 'Reflexive(Water, Water)'
expect 0
run query 'HasPart(?x, CPU)'; expect 0 "HasPart(Laptop, CPU)"
[ "$(wc -l <<<"$OUT")" -eq 3 ] || fail "3 rows expected"; ok
grep -qP '^1\tHasPart\(Computer, CPU\)$' <<<"$OUT" || fail "id<TAB>statement"; ok
run query 'HasPart(?x, CPU)' --json; expect 0
json 'len(lines) == 4 and lines[0]["bindings"] == {"x": "Computer"} and j == {"cursor": None, "count": 3}'
run query '?p(Water, ?o)' --json; expect 0
json 'sorted(l["statement"] for l in lines[:-1]) == ["IsA(Water, Molecule)", "Reflexive(Water, Water)"] and all(set(l["bindings"]) == {"p", "o"} for l in lines[:-1])'
run query 'Reflexive(?x, ?x)'; expect 0 "Reflexive(Water, Water)"
run query '_(Computer, ?y)' --ids; expect 0
[ "$(tr '\n' ' ' <<<"$OUT")" = "1 9 " ] || fail "ids of _(Computer, ?y): $OUT"; ok
# Paging with --limit and --cursor visits every row exactly once.
seen=""; cursor=""
for page in 1 2 3 4; do
  if [ -z "$cursor" ]; then run query 'HasPart(?x, ?y)' --limit 2 --json
  else run query 'HasPart(?x, ?y)' --limit 2 --json --cursor "$cursor"; fi
  expect 0
  seen+="$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys
ls=[json.loads(l) for l in sys.stdin]
print(" ".join(str(l["id"]) for l in ls[:-1]), end=" ")')"
  cursor="$(printf '%s\n' "$OUT" | tail -1 | "$PY" -c 'import json,sys; c=json.load(sys.stdin)["cursor"]; print(c or "")')"
  [ -n "$cursor" ] || break
done
[ "$(tr -s ' ' <<<"$seen" | sed 's/ $//')" = "1 7 8 9" ] || fail "paging saw '$seen'"; ok
run query 'HasPart(?x, ?y)' --limit 2; expect 0 "" "more with --cursor"
run query --predicate HasPart --ids; expect 0
[ "$(tr '\n' ' ' <<<"$OUT")" = "1 7 8 9 " ] || fail "predicate scan: $OUT"; ok
run query --entity Water --position 1 --ids; expect 0
[ "$(tr '\n' ' ' <<<"$OUT")" = "10 11 " ] || fail "entity at position 1: $OUT"; ok
run query --entity Water; expect 0 "IsA(Water, Molecule)"
run query --entity Nobody; expect 0 "" "no matching facts"
run query --position 1; expect 1 "" "--position needs --entity"
run query 'HasPart(?x, CPU)' --predicate HasPart; expect 1 "" "not both"
run query; expect 1 "" "missing PATTERN"
run query 'HasPart(?x, CPU'; expect 2 "" "invalid pattern"
run query --limit -3 --predicate P; expect 2 "" "--limit '-3'"
run query --entity Water --position 40; expect 2 "" "--position '40'"
run query 'HasPart(?x, CPU)' extra; expect 1 "" "unexpected argument 'extra'"

# ---- update ----
run update 'IsA(Ice, Water)' 'IsA(Ice, Solid Water)'; expect 0 "updated"
grep -qF 'IsA(Ice, Water) -> IsA(Ice, Solid Water)' <<<"$OUT" || fail "update text"; ok
run get 'IsA(Ice, Solid Water)' --json; expect 0; json 'j["id"] == 10'
run update 10 'IsA(Ice, Solid Water)'; expect 0 "unchanged"
run update 10 'HasPart(Computer, CPU)'; expect 4 "" "is already fact 1"
run update 'Nope(x)' 'Nope(y)'; expect 3 "" "no fact Nope(x)"
run update 10 'Bad(('; expect 2 "" "invalid statement NEW"
run update 10; expect 1 "" "expected OLD and NEW"
run update 10 'IsA(Ice, Frozen Water)' --json; expect 0
json 'j["status"] == "updated" and j["before"] == "IsA(Ice, Solid Water)" and j["fact"]["id"] == 10'

# ---- delete ----
run delete 8 'HasPart(Laptop, CPU)'; expect 0 "deleted"
[ "$(grep -c '^deleted' <<<"$OUT")" -eq 2 ] || fail "two deleted"; ok
run delete 8; expect 3 "" "no fact with id 8"
run delete 'HasPart(Computer, RAM)' 'Nope(x)'; expect 3 "" "no fact Nope(x)"
run get 'HasPart(Computer, RAM)'; expect 0     # not deleted: all or nothing
run delete 'Bad(('; expect 2 "" "invalid statement"
run delete; expect 1 "" "missing ID or STATEMENT"
run delete 1 1; expect 2 "" "named twice"

# ---- history ----
run history 10; expect 0 "update"
grep -qF "add" <<<"$OUT" || fail "history has the add"; ok
run history 10 --json; expect 0
json '[l["op"] for l in lines[:-1]] == ["update", "update", "add"] and lines[0]["fact_id"] == 10 and lines[0]["after"]["statement"] == "IsA(Ice, Frozen Water)"'
json 'j == {"next_before": None, "count": 3}'
run history 8 --json; expect 0; json 'lines[0]["op"] == "delete" and lines[0]["after"] is None'
run history 'IsA(Ice, Frozen Water)' --limit 1 --json; expect 0
json 'len(lines) == 2 and j == {"next_before": lines[0]["seq"], "count": 1}'
# paging with --before: the cursor of each page, null on the last one
run history 10 --limit 2 --json; expect 0
json '[l["op"] for l in lines[:-1]] == ["update", "update"] and j["next_before"] == lines[1]["seq"]'
NB=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1].splitlines()[-1])["next_before"])' "$OUT")
run history 10 --limit 2 --before "$NB" --json; expect 0
json '[l["op"] for l in lines[:-1]] == ["add"] and lines[0]["seq"] < '"$NB"' and j == {"next_before": None, "count": 1}'
run history 10 --limit 2; expect 0 "update" "more with --before $NB"
run history 10 --limit 1 --before "$NB"; expect 0 "add"
[ -z "$ERR" ] || fail "a last page announces no more"; ok
run history 10 --before 1 --json; expect 0; json 'lines == [{"next_before": None, "count": 0}]'
run history 10 --before 0; expect 2 "" "--before"
run history 10 --before x; expect 2 "" "--before"
run history 5000 --before 3; expect 3 "" "no history for fact 5000"
run history 5000; expect 3 "" "no history for fact 5000"
run history; expect 1 "" "missing ID or STATEMENT"

# ---- stats, predicates, entities ----
run stats; expect 0 "facts           9"
run stats --json; expect 0
json 'j["facts"] == 9 and j["predicates"] == 7 and j["bytes_on_disk"] > 0 and "entities" in j and j["audit_entries"] >= 10'
run --data "$ROOT/kb" stats --json; expect 0; json 'j["facts"] == 9'
run predicates; expect 0 "HasPart"
grep -qP '^\s+2  HasPart  \(arity 2\)$' <<<"$OUT" || fail "predicate line"; ok
run predicates --json; expect 0
json '[l["name"] for l in lines] == sorted(l["name"] for l in lines) and {"name": "Bond", "count": 1, "min_arity": 3, "max_arity": 3} in lines'
run predicates --limit 2 --json; expect 0; json 'len(lines) == 2'
run predicates --after HasPart --limit 1 --json; expect 0; json 'lines[0]["name"] > "HasPart"'
run entities --min 2 --json; expect 0
json 'all(l["count"] >= 2 for l in lines) and "Water" in [l["name"] for l in lines] and {"name": "Computer", "count": 2} in lines'
run entities; expect 0 "North Pacific"
run entities --min x; expect 2 "" "--min 'x'"

# ---- audit ----
run audit list --limit 2; expect 0
[ "$(wc -l <<<"$OUT")" -eq 2 ] || fail "two entries"; ok
run audit list --json --limit 3; expect 0
json 'lines[0]["seq"] > lines[1]["seq"] > lines[2]["seq"] and len(lines[0]["hash"]) == 64'
run audit verify; expect 0 "audit chain ok"
run audit verify --json; expect 0; json 'j["ok"] is True and j["checked"] >= 10'
run --data "$ROOT/kb" audit verify; expect 0 "audit chain ok"
run audit; expect 1 "" "missing subcommand"
run audit frobnicate; expect 1 "" "unknown subcommand 'frobnicate'"
run audit list --limit 0; expect 2 "" "--limit '0'"

# ---- export ----
run export; expect 0 "HasPart(Computer, CPU)"
[ "$(wc -l <<<"$OUT")" -eq 9 ] || fail "9 statements"; ok
run export --format tsv; expect 0 "$(printf 'Bond\tNH3\tnitrogen\thydrogen')"
run export --format jsonl --output "$ROOT/all.jsonl"; expect 0 "" "exported to $ROOT/all.jsonl"
[ "$(wc -l <"$ROOT/all.jsonl")" -eq 9 ] || fail "9 JSONL lines"; ok
run export --format sqlite; expect 2 "" "export writes statements, jsonl, tsv, mcp-memory"
run export --format nope; expect 2 "" "unknown format 'nope'"
run export --output "$ROOT/no/such/dir/x"; expect 5 "" "cannot create"

# ---- backup and restore ----
run backup "$ROOT/bk1"; expect 0 "backup written to $ROOT/bk1"
sha="$(sed -n 's/^sha256 \([0-9a-f]\{64\}\)$/\1/p' <<<"$OUT")"
[ -n "$sha" ] || fail "backup prints a sha256"; ok
[ "$(sha256sum "$ROOT/bk1/data.mdb" | cut -d' ' -f1)" = "$sha" ] || fail "checksum matches data.mdb"; ok
run backup "$ROOT/bk1"; expect 4 "" ""
run backup "$ROOT/bk2" --json; expect 0; json 'len(j["sha256"]) == 64'
run backup; expect 1 "" "missing DIR"
run --data "$ROOT/restored" restore "$ROOT/bk1"; expect 0 "sha256 $sha"
run --data "$ROOT/restored" stats --json; expect 0; json 'j["facts"] == 9'
run --data "$ROOT/restored" audit verify; expect 0 "audit chain ok"
run --data "$ROOT/restored" restore "$ROOT/bk1"; expect 4 "" "--force"
run --data "$ROOT/restored" add 'Extra(fact)'; expect 0
run --data "$ROOT/restored" restore "$ROOT/bk1" --force; expect 0 "restored"
run --data "$ROOT/restored" get 'Extra(fact)'; expect 3
run restore "$ROOT/nope"; expect 3 "" "cannot be restored"
cp -r "$ROOT/bk1" "$ROOT/bad"
printf 'X' | dd of="$ROOT/bad/data.mdb" bs=1 seek=5000 conv=notrunc status=none
run --data "$ROOT/r2" restore "$ROOT/bad"; expect 5 "" "cannot be restored"
[ ! -e "$ROOT/r2/data.mdb" ] || fail "bad backup not installed"; ok

# ---- audit tampering (exit 6) ----
# lmdb-utils is a dependency (scripts/deps.sh): missing tools fail the test
# rather than skip the tampering checks silently.
command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null ||
  fail "mdb_dump/mdb_load missing: install lmdb-utils (scripts/deps.sh)"
cp -r "$ROOT/bk1" "$ROOT/tamper"
run --data "$ROOT/tamper" audit verify; expect 0 "audit chain ok"
mdb_dump -s audit "$ROOT/tamper" >"$ROOT/audit.dump"
# Flip one hex digit in the value of the third entry (data lines alternate
# key, value after the HEADER=END line).
"$PY" - "$ROOT/audit.dump" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
start = lines.index("HEADER=END") + 1
i = start + 5                      # key1 val1 key2 val2 key3 [val3]
v = lines[i]
j = len(v) // 2
lines[i] = v[:j] + ("0" if v[j] != "0" else "1") + v[j + 1:]
open(p, "w").write("\n".join(lines))
EOF
mdb_load -s audit "$ROOT/tamper" <"$ROOT/audit.dump" 2>/dev/null
run --data "$ROOT/tamper" audit verify; expect 6 "audit chain BROKEN at entry 3" "audit verification failed"
run --data "$ROOT/tamper" audit verify --json; expect 6; json 'j["ok"] is False and j["first_bad"] == 3'

# ---- a tag given twice is stored once ----
run add 'Tagged(twice)' --tag t --tag t --json; expect 0; json 'j["fact"]["tags"] == ["t"]'

echo "$passed passed, 0 failed"
