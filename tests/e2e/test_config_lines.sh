#!/usr/bin/env bash
# The config file of `hakgal serve` is read in whole lines (issue 19, item
# 5): a line longer than 8191 bytes is refused with its line number and
# never split, so its tail can never be read as a setting of its own (a
# commented-out `insecure = true` stayed a comment only up to the buffer).
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
ROOT="${HK_TEST_TMP:-/tmp}/config-lines-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# serve with a config file and a bad --listen: parsing ends before any
# socket is opened, with the first config error or the --listen error
serve() { "$HAKGAL_BIN" serve --config "$1" --data "$ROOT/kb" \
            --listen nonsense 2>&1 && return 0 || return $?; }

pad() { head -c "$1" /dev/zero | tr '\0' x; }

# 1. a comment of 8190 bytes + "bogus = 1": before the fix the tail was
#    parsed as line 2 ("unknown setting 'bogus'")
{ printf '#'; pad 8190; printf 'bogus = 1\n'; } >"$ROOT/long.conf"
out=$(serve "$ROOT/long.conf") && fail "long line accepted: $out"
grep -qF "long.conf:1: line longer than 8191 bytes" <<<"$out" ||
  fail "long line: $out"

# 2. a commented-out `insecure = true` past the buffer stays off: the file
#    is refused as a whole
{ printf '# '; pad 8189; printf 'insecure = true\n'; } >"$ROOT/insecure.conf"
out=$(serve "$ROOT/insecure.conf") && fail "insecure line accepted: $out"
grep -qF "insecure.conf:1: line longer than" <<<"$out" ||
  fail "insecure line: $out"

# 3. a line of exactly 8191 bytes is whole: parsing goes on to line 2
{ printf '#'; pad 8190; printf '\nlisten = nonsense\n'; } >"$ROOT/exact.conf"
out=$(serve "$ROOT/exact.conf") && fail "exact: $out"
grep -qF "exact.conf:2: listen wants HOST:PORT" <<<"$out" || fail "exact: $out"

# 4. the same as the last line without a newline
{ printf 'listen = 127.0.0.1:0\n#'; pad 8190; } >"$ROOT/last.conf"
out=$(serve "$ROOT/last.conf") && fail "last line: $out"
grep -qF "listen wants HOST:PORT, not 'nonsense'" <<<"$out" ||
  fail "last line: $out"
echo ok
