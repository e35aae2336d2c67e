#!/bin/sh
# Index-file load time: hkv_index_read of this tree against the same
# function at commit ANCHOR, alternating, medians of ROUNDS.
#   bench/vec_load/run.sh FILE ROUNDS ANCHOR
# The anchor is compiled against this tree's vector_int.h, so it must share
# its node layout and file format: commit b37bc0f or later (format 2).
set -eu
FILE=$1
ROUNDS=${2:-5}
ANCHOR=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TMPDIR:-/tmp}/vec_load.$$
mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT
git -C "$ROOT" show "$ANCHOR:src/vector/hnsw_file.c" >"$OUT/anchor.c"
CC=${CC:-cc}
FLAGS="-std=c11 -O2 -g -D_GNU_SOURCE -I$ROOT/src -I$ROOT/include -I$ROOT/src/vector"
$CC $FLAGS -Dhkv_index_read=hkv_index_read_anchor \
    -Dhkv_index_save=hkv_index_save_anchor -c "$OUT/anchor.c" -o "$OUT/anchor.o"
$CC $FLAGS -o "$OUT/vec_load" "$ROOT/bench/vec_load/vec_load.c" \
    "$OUT/anchor.o" "$ROOT"/src/vector/hnsw.c "$ROOT"/src/vector/hnsw_file.c \
    "$ROOT"/src/vector/distance.c "$ROOT"/src/core/mem.c "$ROOT"/src/core/error.c \
    -lpthread -lm
"$OUT/vec_load" "$FILE" check
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    "$OUT/vec_load" "$FILE" anchor
    "$OUT/vec_load" "$FILE" new
    i=$((i + 1))
done | tee "$OUT/times"
med() { grep "^$1 " "$OUT/times" | sed "s/.* $2=\([0-9.]*\).*/\1/" | sort -n |
    awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for m in read_s cpu_s; do
    A=$(med anchor $m)
    N=$(med new $m)
    echo "median $m anchor=$A new=$N ratio=$(echo "$A $N" |
        awk '{printf "%.1f", $1 / $2}')x"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
