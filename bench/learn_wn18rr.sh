#!/usr/bin/env bash
# The learned model on the published WN18RR (bench/RESULTS.md, "Learned
# model on the published WN18RR"): ComplEx-N3 and DistMult trained on both
# cores, filtered MRR and Hits@1/3/10 on the test split (both directions,
# all 40,943 entities), next to the two baselines and the frequency
# back-off in the same run.
#
# WN18RR (Dettmers et al., "Convolutional 2D Knowledge Graph Embeddings",
# AAAI 2018) is published as WN18RR.tar.gz in the repository of that paper,
# github.com/TimDettmers/ConvE: train.txt, valid.txt, test.txt with
# 86,835 / 3,034 / 3,134 lines "head<TAB>relation<TAB>tail". Nothing is
# downloaded here: unpack it yourself and pass the directory.
#
# Usage: bench/learn_wn18rr.sh DIR [BUILD_DIR]
set -euo pipefail
dir=${1:?usage: learn_wn18rr.sh DIR [BUILD_DIR]}
build=${2:-build}
for f in train valid test; do
    [[ -s $dir/$f.txt ]] || { echo "missing $dir/$f.txt" >&2; exit 1; }
done
wc -l "$dir"/train.txt "$dir"/valid.txt "$dir"/test.txt
# learn_bench train DIR model dim epochs threads negatives lr reg
#                    eval_every valid_max init patience
# The settings chosen on valid.txt only (RESULTS.md lists the runs):
# sampled softmax over 256 shared negatives, N3 0.05 (ComplEx) / 0.01
# (DistMult), 6 epochs; the larger rank after them.
"$build/learn_bench" train "$dir" complex 128 6 2 256 0.1 0.05 2 500 0.1 3
"$build/learn_bench" train "$dir" distmult 256 6 2 256 0.1 0.01 2 500 0.1 3
"$build/learn_bench" train "$dir" complex 256 8 2 256 0.1 0.05 2 500 0.1 3
