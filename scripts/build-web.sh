#!/usr/bin/env bash
# Builds the web explorer (web/) into OUT (default build/web): installs the
# npm packages its lockfile names (npm ci, once per lockfile change; the
# npm registry is the only network it needs), type-checks, bundles with
# vite and writes NAME.gz beside each text file for `hakgal serve`.
# Called by `make build` (CMake target `web`); safe to run concurrently
# for two build directories (one lock around the shared node_modules).
set -euo pipefail
src="$(cd "$(dirname "$0")/../web" && pwd)"
out="${1:-$src/../build/web}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "web: node and npm are needed to build the explorer (bash scripts/deps.sh)" >&2
  exit 1
fi
cd "$src"
exec 9>"$src/.build.lock"
flock 9
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
./node_modules/.bin/tsc --noEmit
./node_modules/.bin/vite build --logLevel warn --outDir "$out" --emptyOutDir
node scripts/gzip.mjs "$out"
