#!/usr/bin/env bash
# Vector index benchmark: build/vec_bench (hakgal's HNSW, float32 and
# int8) and Debian's python3-hnswlib on the same clustered vectors, ground
# truth, M and ef_construction, in one run. Needs `bash scripts/deps.sh
# bench` and a build (make build).
#   VEC_N=50000 VEC_Q=1000 bash bench/vec_run.sh
# VEC_BENCH_SKIP1=1 skips the one-thread builds of both libraries (large N);
# vec_bench also reports filtered search at 1% selectivity.
#   VEC_DIR=/work/bigdata/vec/n500k VEC_N=500000 VEC_BENCH_SKIP1=1 bash bench/vec_run.sh
# VEC_DATA="--data embed" generates data shaped like sentence embeddings
# instead of the isotropic clusters (bench/vec_bench.c; its other options,
# e.g. --noise E, go in the same variable).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${VEC_N:-50000} DIM=${VEC_DIM:-384} Q=${VEC_Q:-1000}
M=${VEC_M:-16} EFC=${VEC_EFC:-200}
# VEC_DIR=DIR keeps the vectors and ground truth there (outside the repo,
# e.g. /work/bigdata/...): a later run of the same sizes reads them.
if [ -n "${VEC_DIR:-}" ]; then
  DIR=$VEC_DIR
  mkdir -p "$DIR"
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/vec-bench-XXXXXX")
  trap 'rm -rf "$DIR"' EXIT
fi
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086 # VEC_DATA holds several options
VEC_BENCH_DATA_ONLY=1 "$BUILD/vec_bench" --n "$N" --dim "$DIM" --queries "$Q" \
  --m "$M" --efc "$EFC" --dir "$DIR" ${VEC_DATA:-}
/usr/bin/python3 bench/vec_hnswlib.py "$DIR" "$N" "$DIM" "$Q" "$M" "$EFC"
# shellcheck disable=SC2086
"$BUILD/vec_bench" --n "$N" --dim "$DIM" --queries "$Q" --m "$M" \
  --efc "$EFC" --dir "$DIR" ${VEC_DATA:-} | grep -v '^data'
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
