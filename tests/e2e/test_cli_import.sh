#!/usr/bin/env bash
# End-to-end test of `hakgal import` / `hakgal export`: every format through
# the CLI, summary lines, the rejects file (default and --rejects), exit
# codes, standard input, a legacy SQLite KB, and export -> import round trips
# of all three export formats.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
. "$(dirname "$0")/cli_lib.sh"
PY=/usr/bin/python3
SRC="${HK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
ROOT="${HK_TEST_TMP:-/tmp}/cli-import-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"
export HAKGAL_DATA="$ROOT/kb"

run import "$ROOT/x.hkl"; expect 3 "" "no knowledge base"
run init; expect 0

# ---- statements with rejects: default rejects file in the current dir ----
cat >facts.hkl <<'EOF'
# three good facts and two bad ones
HasPart(Computer, CPU)
IsA(Water, Molecule).

HasPart(Computer, CPU
P(a, , b)
Located(North Pacific, Earth)
EOF
run import facts.hkl
expect 0 "facts.hkl: read 5, added 3, already present 0, rejected 2 (statements, "
grep -qF "; rejects in facts.hkl.rejects" <<<"$OUT" || fail "names the rejects file"; ok
same "$(wc -l <facts.hkl.rejects)" 2
same "$(cut -f1 facts.hkl.rejects | cut -d: -f1,2)" "$(printf 'facts.hkl:5\nfacts.hkl:6')"
same "$(cut -f2 facts.hkl.rejects)" "$(printf 'HasPart(Computer, CPU\nP(a, , b)')"
grep -q "^facts.hkl:5: .*)" facts.hkl.rejects || fail "reason on line 5"; ok
# Re-running adds nothing; the stale rejects file is replaced, not appended.
run import facts.hkl
expect 0 "facts.hkl: read 5, added 0, already present 3, rejected 2"
same "$(wc -l <facts.hkl.rejects)" 2
same "$(facts)" 3

# ---- a clean file leaves no rejects file ----
printf 'A(b)\nC(d)\n' >clean.txt
run import clean.txt; expect 0 "clean.txt: read 2, added 2, already present 0, rejected 0"
[ ! -e clean.txt.rejects ] || fail "no rejects file for a clean import"; ok

# ---- --rejects PATH collects every file; --json summaries ----
printf 'Bad((\n' >one.hkl
printf 'Good(one)\nWorse(\n' >two.hkl
run import one.hkl two.hkl --rejects "$ROOT/all.rejects" --json
expect 2 "" "one.hkl: every record was rejected"
json 'len(lines) == 2 and lines[0]["file"] == "one.hkl" and lines[0]["rejected"] == 1 and lines[0]["added"] == 0 and lines[1]["added"] == 1 and lines[1]["rejects"] == "'"$ROOT/all.rejects"'" and lines[1]["format"] == "statements"'
same "$(cut -d: -f1,2 "$ROOT/all.rejects")" "$(printf 'one.hkl:1\ntwo.hkl:2')"

# ---- missing file: exit 3, other files still imported ----
printf 'Later(fact)\n' >later.hkl
run import missing.hkl later.hkl
expect 3 "later.hkl: read 1, added 1" "missing.hkl: cannot open"
run import facts.hkl later.hkl --rejects /dev/null
expect 0 "total: 2 files, read 6, added 0, already present 4, rejected 2"

# ---- TSV, auto-detected by extension and by content ----
printf 'HasPart\tCar\tWheel\nBond\tNH3\tnitrogen\thydrogen\nLonely\n' >facts.tsv
run import facts.tsv; expect 0 "facts.tsv: read 3, added 2, already present 0, rejected 1 (tsv"
printf '# tabs, no parentheses\nOrbits\tMoon\tEarth\n' >tabs.data
run import tabs.data; expect 0 "read 1, added 1, already present 0, rejected 0 (tsv"
run get 'Orbits(Moon, Earth)'; expect 0

# ---- old Mac line endings (lone CR), statements and TSV ----
printf '# mac\rMacA(one, two)\rMacB(three)\rBad((\r' >mac.hkl
run import mac.hkl
expect 0 "mac.hkl: read 3, added 2, already present 0, rejected 1 (statements"
same "$(cut -d: -f1,2 mac.hkl.rejects)" "mac.hkl:4"
run get 'MacB(three)'; expect 0
printf '# tabs\rMacT\tfour\tfive\r' >mac.data
run import mac.data; expect 0 "read 1, added 1, already present 0, rejected 0 (tsv"
run get 'MacT(four, five)'; expect 0
# an LF inside a CR-terminated record: rejected, and its reject stays one line
printf 'MacC(six)\rBad(x\ny)\rMacD(seven)\r' >mac2.hkl
run import mac2.hkl
expect 0 "mac2.hkl: read 3, added 2, already present 0, rejected 1"
same "$(wc -l <mac2.hkl.rejects)" 1
grep -qF "$(printf 'Bad(x y)')" mac2.hkl.rejects || fail "the reject shows the record on one line"; ok

# ---- JSONL by content, and --format overriding detection ----
cat >meta.data <<'EOF'
{"statement": "IsA(Ice, Solid)", "confidence": 0.9, "source": "lab", "tags": ["phase"], "context": {"t": -5}}
{"predicate": "HasPart", "args": ["Atom", "Nucleus"]}
{"statement": "IsA(Ice, Solid)", "confidence": 0.1}
{"statement": 5}
EOF
run import meta.data; expect 0 "read 4, added 2, already present 1, rejected 1 (jsonl"
run get 'IsA(Ice, Solid)' --json; expect 0
json 'j["confidence"] == 0.9 and j["source"] == "lab" and j["tags"] == ["phase"] and j["context"] == {"t": -5}'
printf '{"statement": "X(y)"}\n' >forced.txt
run import forced.txt --format statements; expect 2 "rejected 1 (statements"
run import forced.txt --format jsonl; expect 0 "added 1"
run import forced.txt --format csv; expect 2 "" "unknown format 'csv'"
run import forced.txt --batch 0; expect 2 "" "--batch '0'"
run import; expect 1 "" "missing FILE"

# ---- standard input ----
run import - <<<'FromStdin(yes)'
expect 0 "-: read 1, added 1"
run get 'FromStdin(yes)'; expect 0

# ---- legacy SQLite KB ----
"$PY" - "$ROOT/legacy.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE facts (id INTEGER PRIMARY KEY, statement TEXT UNIQUE, "
           "confidence REAL, context TEXT, fact_metadata TEXT)")
rows = [
    ("Causes(Plasmodium, Malaria)", 0.95, '{"domain": "biology"}', '{"source": "WHO", "tags": ["disease"]}'),
    (None, 1.0, None, None),
    ("Broken(", None, None, None),
    ("IsA(Helium, Noble Gas)", None, "free text note", "not json"),
]
db.executemany("INSERT INTO facts (statement, confidence, context, fact_metadata) VALUES (?, ?, ?, ?)", rows)
db.commit()
EOF
run import legacy.sqlite --rejects "$ROOT/legacy.rejects"
expect 0 "legacy.sqlite: read 4, added 2, already present 0, rejected 2 (sqlite"
same "$(head -1 "$ROOT/legacy.rejects")" "$(printf 'legacy.sqlite:2: statement is NULL\tNULL')"
run get 'Causes(Plasmodium, Malaria)' --json; expect 0
json 'j["confidence"] == 0.95 and j["source"] == "WHO" and j["tags"] == ["disease"] and j["context"] == {"domain": "biology"}'
run get 'IsA(Helium, Noble Gas)' --json; expect 0
json 'j["context"] == {"legacy_context": "free text note", "fact_metadata": "not json"}'
run import legacy.sqlite; expect 0 "added 0, already present 2, rejected 2"
cp "$ROOT/legacy.sqlite" "$ROOT/plain.bin"
run import plain.bin --rejects /dev/null; expect 0 "(sqlite"   # detected by magic
run import - --format sqlite <legacy.sqlite; expect 5 "" "standard input"
run import facts.hkl --format sqlite; expect 2 "" "file is not a database"

# ---- the sample KB imports cleanly ----
run --data "$ROOT/sample" init; expect 0
run --data "$ROOT/sample" import "$SRC/data/sample.hkl"
expect 0 "rejected 0 (statements"
n_sample="$(grep -cv '^\s*\(#\|$\)' "$SRC/data/sample.hkl")"
grep -qF "read $n_sample, added $n_sample," <<<"$OUT" || fail "every sample line is a new fact"; ok

# ---- export -> import round trips (statements, jsonl, tsv) ----
total="$(facts)"
for fmt in statements jsonl tsv; do
  run export --format "$fmt" --output "$ROOT/export.$fmt"; expect 0
  same "$(wc -l <"$ROOT/export.$fmt")" "$total"
  run --data "$ROOT/rt-$fmt" init; expect 0
  run --data "$ROOT/rt-$fmt" import "$ROOT/export.$fmt" --format "$fmt"
  expect 0 "read $total, added $total, already present 0, rejected 0"
  run --data "$ROOT/rt-$fmt" export; expect 0
  same "$OUT" "$("$HAKGAL_BIN" export)"
done
# JSONL keeps the metadata: equal exports once ids and times are removed.
strip() { "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    for k in ("id", "created", "updated"): o.pop(k)
    print(json.dumps(o, sort_keys=True))' "$1"; }
"$HAKGAL_BIN" --data "$ROOT/rt-jsonl" export --format jsonl >"$ROOT/again.jsonl"
same "$(strip "$ROOT/again.jsonl")" "$(strip "$ROOT/export.jsonl")"
run export --format jsonl; expect 0
json 'any(l["source"] == "WHO" and l["tags"] == ["disease"] for l in lines)'

echo "$passed passed, 0 failed"
