#!/usr/bin/env bash
# `make run`: a knowledge base with the sample facts, its statistics and a
# few example queries. Data lives in $HAKGAL_DATA (default ./hakgal-data).
set -euo pipefail
cd "$(dirname "$0")/.."
HAKGAL="${HAKGAL_BIN:-./build/hakgal}"
export HAKGAL_DATA="${HAKGAL_DATA:-./hakgal-data}"

# Prints a command the way one would type it, then runs it.
show() {
  local a line='$ hakgal'
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./=-]+$ ]]; then line+=" $a"; else line+=" '$a'"; fi
  done
  printf '\n%s\n' "$line"
  "$HAKGAL" "$@"
}

[ -d "$HAKGAL_DATA" ] || "$HAKGAL" init
show import data/sample.hkl --quiet
show stats
show query 'HasPart(?x, CPU)'
show query '?p(Water, ?o)' --limit 5
show query --entity 'Marie Curie'
show get 'ConsistsOf(Water, hydrogen, oxygen)'
show audit verify
