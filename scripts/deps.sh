#!/usr/bin/env bash
# Installs the Debian packages that building and testing hakgal need.
# Idempotent and quick when everything is present (one dpkg query).
# `deps.sh fuzz` adds what `make fuzz` needs (clang and its libFuzzer
# runtime); make test builds the fuzz targets with gcc and needs neither.
# `deps.sh bench` adds the benchmarks' anchors and data (hnswlib, numpy,
# WordNet 3.0); make test needs none of them.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  clang-format                  # the formatting check of make test
  liblmdb-dev lmdb-utils        # storage
  libjansson-dev                # JSON
  libsqlite3-dev sqlite3        # legacy KB import, benchmark anchor
  libssl-dev                    # SHA-256, TLS
  libh2o-evloop-dev             # HTTP server
  libcmocka-dev                 # unit tests
  libigraph-dev                 # graph analytics (igraph 0.10)
  libunistring-dev              # Unicode case mapping (memory search_nodes)
  libcurl4-openssl-dev          # model endpoints (src/llm)
  python3 curl                  # end-to-end test clients
  python3-rdflib                # independent RDF reader of the interchange tests
  nodejs npm                    # MCP conformance / SDK test clients
  prometheus                    # promtool for /metrics checks
  openssl                       # test certificates for the TLS test
  librdkafka-dev                # Kafka change stream (and its mock cluster)
  python3-confluent-kafka       # stream consumer example and its e2e test
  golang-go                     # Go SDK (sdk/go), its live test; Helm chart renderer
  default-jdk-headless          # Java SDK (sdk/java): javac, jar, java
  libjackson2-databind-java     # Java SDK's JSON (Jackson, /usr/share/java)
  dpkg-dev fakeroot help2man    # make deb (dpkg-shlibdeps, man page)
  yamllint                      # deploy/ checks: YAML lint
  golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  libgrpc-dev                   # gRPC C core (hakgal serve --grpc-listen)
  libprotobuf-c-dev protobuf-c-compiler # protobuf-c messages of proto/hakgal/v2
  libnghttp2-dev                # gRPC over HTTP/2 event loops (src/grpc/grpc_h2.c)
  chromium                      # web explorer browser tests (headless)
)
if [ "${1:-}" = "fuzz" ]; then
  PACKAGES+=(clang libclang-rt-14-dev) # libFuzzer (-fsanitize=fuzzer)
fi
if [ "${1:-}" = "bench" ]; then
  PACKAGES+=(python3-hnswlib python3-numpy) # vector benchmark anchor
  PACKAGES+=(wordnet-base) # WordNet 3.0 for the WN18RR replica (bench/learn_wordnet.py)
  PACKAGES+=(nghttp2-client)                # h2load: gRPC load (bench/grpc)
  PACKAGES+=(wrk)                           # HTTP load (bench/http, bench/writer)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs/npm may come from outside Debian's packages; a working node is enough.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
