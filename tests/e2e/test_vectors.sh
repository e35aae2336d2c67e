#!/usr/bin/env bash
# End-to-end test of vector search from the CLI: vector spaces (create,
# list, drop), the built-in embedder (embed --space, resumable, atomic per
# batch across kill -9), similar by text, vector file and fact with
# predicate/entity filters and --json, vectors following facts through
# backup and restore, and the errors and exit codes of bad input.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
. "$(dirname "$0")/cli_lib.sh"
PY=/usr/bin/python3
ROOT="${HK_TEST_TMP:-/tmp}/vectors-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"
export HAKGAL_DATA="$ROOT/kb"

run init; expect 0
run add "HasPart(Computer, CPU)" "HasPart(Computer, Memory)" \
  "IsA(Laptop, Computer)" "IsA(Cat, Animal)" "Eats(Cat, Fish)" \
  "HasPart(Car, Engine)" "LocatedIn(Berlin, Germany)"
expect 0

# ---- spaces ----
run vectors list; expect 0; same "$OUT" ""
run vectors create words --dim 256 --embedder hashed
expect 0 "created vector space words (256 dimensions, cosine)"
run vectors create words --dim 8; expect 4 "" "exists"
run vectors create Bad --dim 8; expect 2 "" "space name"
run vectors create big --dim 5000; expect 2 "" "--dim"
run vectors create x; expect 1 "" "create needs --dim"
run vectors create pts --dim 3 --metric l2 --int8 --m 8 --ef 32 --json
expect 0
json 'j["name"] == "pts" and j["storage"] == "int8" and j["m"] == 8 and j["ef"] == 32 and j["metric"] == "l2"'
run vectors list --json; expect 0
json 'len(lines) == 2 and lines[1]["embedder"] == "hashed-ngrams"'
run vectors frob; expect 1 "" "unknown subcommand"

# ---- embed and similar ----
run embed --space words --json; expect 0
json 'j == {"space": "words", "embedded": 7}'
run embed --space words --json; expect 0
json 'j["embedded"] == 0'
run embed --space pts; expect 5 "" "no built-in embedder"
run similar "computer parts" --space words --k 3 --json; expect 0
json 'len(lines) == 3 and all(set(l) >= {"id", "statement", "score"} for l in lines)'
json 'all("Computer" in l["statement"] for l in lines)'
json 'lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]'
run similar cat --space words --predicate Eats --json; expect 0
json 'len(lines) == 1 and lines[0]["statement"] == "Eats(Cat, Fish)"'
run similar computer --space words --entity Computer --k 10 --json; expect 0
json 'len(lines) == 3 and all("Computer" in l["statement"] for l in lines)'
run similar --fact 1 --space words --k 1 --json; expect 0
json 'lines[0]["id"] == 1 and abs(lines[0]["score"] - 1) < 1e-5'
run similar --space words; expect 1 "" "give one of TEXT"
run similar x --space nope; expect 3 "" "no vector space 'nope'"
run similar x --space pts; expect 5 "" "no built-in embedder"
run similar --fact 99 --space words; expect 3

# vectors from a file: wrong dimension, junk, none
printf '1 0 0\n' >v3.txt
printf '[1, 2, x]\n' >junk.txt
run similar --vector v3.txt --space words; expect 2 "" "256 dimensions"
run similar --vector junk.txt --space words; expect 1 "" "not a number"
run similar --vector /dev/null --space words; expect 1 "" "no numbers"

# ---- vectors go with their facts: delete, backup and restore ----
run similar --fact 5 --space words --k 1 --json; expect 0
run backup "$ROOT/bak"; expect 0
run vectors drop pts; expect 0 "dropped vector space pts"
run vectors drop pts; expect 3
HAKGAL_DATA="$ROOT/restored" run restore "$ROOT/bak"; expect 0
HAKGAL_DATA="$ROOT/restored" run vectors list --json; expect 0
json 'len(lines) == 2 and lines[1]["vectors"] == 7'
HAKGAL_DATA="$ROOT/restored" run similar cat --space words --predicate Eats --json
expect 0
json 'lines[0]["statement"] == "Eats(Cat, Fish)"'

# ---- kill -9 while embedding: each batch is all or nothing, rerun resumes
export HAKGAL_DATA="$ROOT/big"
run init; expect 0
"$PY" -c '
for i in range(20000): print(f"Item(thing{i}, group{i % 97})")' >big.txt
run import big.txt; expect 0
run vectors create w --dim 64 --embedder hashed; expect 0
"$HAKGAL_BIN" embed --space w >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
run vectors list --json; expect 0
json 'j["vectors"] in (0, 10000, 20000)'
run embed --space w --json; expect 0
run vectors list --json; expect 0
json 'j["vectors"] == 20000'
run similar thing123 --space w --predicate Item --entity group26 --k 1 --json
expect 0
json 'lines[0]["statement"] == "Item(thing123, group26)"'

echo "$passed passed"
