#!/usr/bin/env bash
# Fails when a C source or header in the repository is not formatted with
# the repository's .clang-format (run `make format` to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find include src tests bench -name '*.[ch]')
if ! clang-format --dry-run -Werror "${files[@]}" 2>/tmp/hk-format.$$; then
  head -40 /tmp/hk-format.$$ >&2
  rm -f /tmp/hk-format.$$
  echo "format: files above are not clang-formatted; run 'make format'" >&2
  exit 1
fi
rm -f /tmp/hk-format.$$
echo "format: ${#files[@]} files formatted"
