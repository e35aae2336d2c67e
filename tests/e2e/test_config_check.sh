#!/usr/bin/env bash
# `hakgal config check FILE`: a file that sets every option of
# `hakgal serve --help` (each with a valid value) is valid; every bad line
# of a file is reported with its number and the exit code is 2; the
# OpenTelemetry keys work in both spellings; and `serve --config` really
# applies the file, with the environment (standard OTEL_* names) beating it.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
ROOT="${HK_TEST_TMP:-/tmp}/config-check-$$"
rm -rf "$ROOT"
mkdir -p "$ROOT"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$ROOT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. every option of serve --help, one line each, is a valid key
value_for() { # name placeholder
  case "$1" in
    otel-traces-sampler) echo parentbased_traceidratio; return ;;
    otel-exporter-otlp-protocol) echo http/json; return ;;
    otel-exporter-otlp-traces-protocol) echo http/protobuf; return ;;
    otel-traces-exporter) echo otlp; return ;;
    map-size) echo 1g; return ;;
  esac
  case "$2" in
    "") echo true ;;
    BYTES) echo 32k ;;
    N | S) echo 30 ;;
    MS) echo 1000 ;;
    MIB) echo 64 ;;
    US) echo 0 ;;
    DIR | FILE | D1:D2) echo "$ROOT" ;;
    HOST:PORT) echo 127.0.0.1:0 ;;
    URL) echo http://127.0.0.1:4318 ;;
    K=V,..) echo "a=b,c=d%20e" ;;
    RATIO) echo 0.5 ;;
    H1,H2) echo localhost ;;
    O1,O2) echo '*' ;;
    kafka://B/TOPIC) echo kafka://127.0.0.1:9092/t ;;
    *) echo x ;;
  esac
}
n=0
: >"$ROOT/all.conf"
while read -r opt arg; do
  name=${opt#--}
  case "$name" in config | new-token | help) continue ;; esac
  case "$arg" in [A-Z]* | kafka* | *=* ) ;; *) arg= ;; esac
  echo "$name = $(value_for "$name" "$arg")" >>"$ROOT/all.conf"
  n=$((n + 1))
done < <("$HAKGAL_BIN" serve --help | grep -E '^  --[a-z]' | sed -E 's/^  (--[a-z0-9-]+)( ([^ ]+))?.*/\1 \3/')
[ "$n" -ge 40 ] || fail "only $n options found in serve --help"
out=$("$HAKGAL_BIN" config check "$ROOT/all.conf") || fail "every key: $out $(cat "$ROOT/all.conf")"
grep -q ": valid" <<<"$out" || fail "every key: $out"

# 2. bad lines: each reported with its line, exit code 2, JSON too
cat >"$ROOT/bad.conf" <<'CONF'
# comment
threads = many
listen = 127.0.0.1:8080
OTEL_TRACES_SAMPLER = sometimes
otel-traces-sampler-arg = 1.5
otel-exporter-otlp-endpoint = ftp://collector
OTEL_EXPORTER_OTLP_PROTOCOL = grpc
max-body = 12q
no equals sign
bogus-key = 1
insecure = perhaps
OTEL_SERVICE_NAME = "kb node"
CONF
set +e
out=$("$HAKGAL_BIN" config check "$ROOT/bad.conf" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bad file exit $rc: $out"
for want in "bad.conf:2: threads" "bad.conf:4: otel-traces-sampler" \
  "bad.conf:5: otel-traces-sampler-arg" "bad.conf:6: otel-exporter-otlp-endpoint" \
  "bad.conf:7: otel-exporter-otlp-protocol" "bad.conf:8: max-body" \
  "bad.conf:9: expected" "bad.conf:10: unknown setting 'bogus-key'" \
  "bad.conf:11: insecure"; do
  grep -qF "$want" <<<"$out" || fail "missing '$want' in: $out"
done
[ "$(grep -c 'bad.conf:' <<<"$out")" -eq 9 ] || fail "exactly 9 bad lines: $out"
set +e
json=$("$HAKGAL_BIN" config check "$ROOT/bad.conf" --json)
set -e
python3 - "$json" <<'PY' || fail "json: $json"
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is False
assert [e["line"] for e in d["errors"]] == [2, 4, 5, 6, 7, 8, 9, 10, 11], d
PY
set +e
"$HAKGAL_BIN" config check "$ROOT/missing.conf" 2>/dev/null; rc=$?
"$HAKGAL_BIN" config check 2>/dev/null; rc2=$?
set -e
[ "$rc" -eq 3 ] || fail "missing file exit $rc"
[ "$rc2" -eq 1 ] || fail "no file exit $rc2"

# 3. serve applies the file; OTEL_* in the environment beats it
cat >"$ROOT/serve.conf" <<CONF
data = $ROOT/kb
listen = 127.0.0.1:0
threads = 1
OTEL_EXPORTER_OTLP_ENDPOINT = http://127.0.0.1:9
otel-bsp-max-queue-size = 55
CONF
"$HAKGAL_BIN" config check "$ROOT/serve.conf" >/dev/null || fail "serve.conf invalid"
metric_capacity() { # env...
  env "$@" "$HAKGAL_BIN" serve --config "$ROOT/serve.conf" 2>"$ROOT/err" &
  SERVER_PID=$!
  local port=
  for _ in $(seq 100); do
    port=$(grep -oE 'listening on http://127.0.0.1:[0-9]+' "$ROOT/err" | grep -oE '[0-9]+$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "server did not start: $(cat "$ROOT/err")"
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^hakgal_otel_queue_capacity ' | awk '{print $2}'
  kill "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=
}
[ "$(metric_capacity)" = 55 ] || fail "the file's queue size is not applied"
[ "$(metric_capacity OTEL_BSP_MAX_QUEUE_SIZE=77)" = 77 ] || fail "OTEL_BSP_MAX_QUEUE_SIZE does not override the file"
[ "$(metric_capacity OTEL_SDK_DISABLED=true)" = 0 ] || fail "OTEL_SDK_DISABLED does not turn tracing off"
echo "config check e2e: ok"
