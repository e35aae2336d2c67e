#!/usr/bin/env bash
# Prepares what the end-to-end tests need beyond Debian packages (pinned npm
# test clients, installed into an ignored folder). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f tests/e2e/package.json ]; then
  if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package.json -nt tests/e2e/node_modules ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error)
    touch tests/e2e/node_modules
  fi
fi
# The TypeScript compiler that checks the JS SDK (sdk/js, its own lockfile).
if [ -f sdk/js/package.json ]; then
  if [ ! -d sdk/js/node_modules ] || [ sdk/js/package-lock.json -nt sdk/js/node_modules ]; then
    (cd sdk/js && npm ci --no-audit --no-fund --loglevel=error)
    touch sdk/js/node_modules
  fi
fi
