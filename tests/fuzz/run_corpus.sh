#!/usr/bin/env bash
# run_corpus.sh MODE BINARY CORPUS_DIR SECONDS — the CTest of a fuzz target.
#   MODE replay:    BINARY has the standalone driver; every input of the
#                   committed corpus runs once, then blind mutants of them
#                   for SECONDS, from seed $HK_FUZZ_SEED (default 1, so that
#                   a test run repeats; `make fuzz` runs libFuzzer).
#   MODE libfuzzer: BINARY is a libFuzzer build; it runs the corpus and
#                   fuzzes on for SECONDS, writing new inputs to a scratch
#                   copy (the committed corpus is never modified).
# Scratch files go under $HK_TEST_TMP and are removed. Fails when the
# target reports a crash or a violated property.
set -euo pipefail
mode=$1 bin=$2 corpus=$3 secs=$4
[ -d "$corpus" ] || { echo "no corpus directory $corpus" >&2; exit 1; }
name=$(basename "$bin")
scratch="${HK_TEST_TMP:-/tmp}/fuzz-$name-$$"
rm -rf "$scratch"
mkdir -p "$scratch/new"
trap 'rm -rf "$scratch"' EXIT
export HK_TEST_TMP="$scratch"
dict=""
case "$name" in
  fuzz_statement) dict="$(dirname "$0")/statement.dict" ;;
  fuzz_mcp) dict="$(dirname "$0")/mcp.dict" ;;
esac
cd "$scratch"
case "$mode" in
  replay)
    "$bin" -max_total_time="$secs" -seed="${HK_FUZZ_SEED:-1}" "$corpus"
    ;;
  libfuzzer)
    "$bin" -max_total_time="$secs" -max_len=4608 -timeout=30 \
      ${dict:+-dict="$dict"} "$scratch/new" "$corpus"
    ;;
  *)
    echo "run_corpus.sh: unknown mode $mode" >&2
    exit 1
    ;;
esac
