#!/usr/bin/env bash
# Learned-model benchmarks (bench/RESULTS.md, "Learned model"): a
# WN18RR-shaped synthetic data set, ComplEx-N3 and DistMult trained on
# both cores next to the two baselines, then score / predict latency over
# 1M entities. Usage: bench/learn_run.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/hakgal-learn-bench}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
python3 "$here/learn_gen.py" "$work/wn18rr-shaped"
"$build/learn_bench" train "$work/wn18rr-shaped" complex 64 40 2 64 0.1 0.001
"$build/learn_bench" train "$work/wn18rr-shaped" distmult 128 40 2 64 0.1 0.001
"$build/learn_bench" latency 1000000 32 200
# WN18RR replica from WordNet 3.0 (bash scripts/deps.sh bench), the
# strict variant, and the run of bench/RESULTS.md ("WordNet 3.0 replica")
python3 "$here/learn_wordnet.py" "$work/wn18rr"
python3 "$here/learn_wordnet.py" "$work/wn18rr-norev" --no-reverse
"$build/learn_bench" train "$work/wn18rr" complex 64 8 2 256 0.1 0.001 4 500 0.1 3
"$build/learn_bench" train "$work/wn18rr-norev" complex 64 8 2 256 0.1 0.001 4 500 0.1 3
# 1-N (the softmax over every entity): one epoch, dim 32
"$build/learn_bench" train "$work/wn18rr" complex 32 1 2 0 0.1 0.05 1 300 0.1
