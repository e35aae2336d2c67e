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

# ---- the REST server on the same KB (Ctrl-C stops it) ----
LISTEN="${HAKGAL_LISTEN:-127.0.0.1:8080}"
B="http://$LISTEN"
printf '\n$ hakgal serve --listen %s\n' "$LISTEN"
"$HAKGAL" serve --listen "$LISTEN" &
serve_pid=$!
stop_server() { kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; }
trap 'stop_server; exit 0' INT TERM   # Ctrl-C is the normal way to stop
trap stop_server EXIT
for _ in $(seq 1 100); do
  curl -fs "$B/readyz" >/dev/null 2>&1 && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "hakgal serve did not start" >&2; exit 1; }
  sleep 0.1
done
curl -fs "$B/readyz" >/dev/null
demo() { printf '\n$ %s\n' "$1"; bash -c "$1"; }
demo "curl -s '$B/v2/query?q=HasPart(?x,%20CPU)&limit=3'"
demo "curl -s -XPOST $B/v2/facts -H 'Content-Type: application/json' -d '{\"statement\": \"HasPart(Computer, GPU)\", \"source\": \"make run\"}'"
cat <<EOT

The server is running on $B (KB $HAKGAL_DATA).
Open the web explorer at $B/ in a browser, or try, in another terminal:

  curl -s $B/v2/stats
  curl -s -G $B/v2/query --data-urlencode 'q=?p(Water, ?o)' -d limit=5
  curl -s "$B/v2/entities/Marie%20Curie?limit=5"
  curl -s -G $B/v2/search --data-urlencode 'q=has part' -d limit=3
  curl -s -XPOST $B/v2/facts -H 'Content-Type: application/json' \\
       -d '{"predicate": "HasPart", "subject": "Computer", "object": "SSD"}'
  curl -s -XPOST $B/v2/facts/batch -H 'Content-Type: application/json' \\
       -d '["IsA(SSD, Storage)", "IsA(HDD, Storage)"]'
  curl -s -XDELETE -G $B/v2/facts --data-urlencode 'statement=IsA(HDD, Storage)'
  curl -s $B/v2/facts/1/history
  curl -s $B/metrics | head
  curl -s $B/openapi.json | head

API reference: docs/API.md. Press Ctrl-C to stop the server.
EOT
wait "$serve_pid"
