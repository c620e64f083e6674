#!/bin/sh
# train-scaling.sh — how l1b-train's step time grows with the model width,
# the context length and the thread count, against the arithmetic.
#
# usage: tests/bench/train-scaling.sh [L1B_BIN_DIR]
#
# L1B_BIN_DIR holds l1b-bench (default ./build).  Every row is
#
#   l1b-bench train --format tsv -j J --batch 12 \
#       --shape dim=D,layers=4,heads=4,ctx=T,vocab=257
#
# (random data; a step is forward, backward, clipping and AdamW; the median
# of l1b-bench's repetitions after a warm-up), over
#
#   width:    D = 128, 256, 512        at T = 64,  J = 1 and 2
#   context:  T = 64, 128, 256         at D = 128, J = 1 and 2
#
# with the SwiGLU width l1b-train picks (8D/3 rounded up to 32).  Beside each
# time is the multiply-add count of a step, 6 x (matrix weights x tokens)
# for the linear layers and the head plus 6 x (L x T x D) per token for the
# attention scores and values (forward, and twice that backward), and the
# ratio of time to arithmetic relative to the first row of its group: 1.0
# means the step grew exactly as the arithmetic did.  A benchmark reports
# figures; it asserts nothing.
set -eu

BIN=${1:-./build}
BENCH=$BIN/l1b-bench
[ -x "$BENCH" ] || { echo "train-scaling.sh: $BENCH: not found (run make, or give L1B_BIN_DIR)" >&2; exit 2; }

hidden() { echo $(( (8 * $1 / 3 + 31) / 32 * 32 )); }
# multiply-adds of one step of 12 sequences of T tokens
macs() {  # D T
    awk -v D="$1" -v T="$2" -v H="$(hidden "$1")" 'BEGIN {
        L = 4; V = 257; tok = 12 * T
        lin = L * (4 * D * D + 3 * D * H) + D * V
        att = L * T * D * 2 / 2   # causal: half of T x T, scores and values
        printf "%.0f", 3 * tok * (lin + att)
    }'
}
row() {  # D T J
    ms=$("$BENCH" train --format tsv -j "$3" --batch 12 \
        --shape "dim=$1,layers=4,heads=4,hidden=$(hidden "$1"),ctx=$2,vocab=257" 2>/dev/null |
        awk -F '\t' '$1 == "train_step" { print $5 }')
    echo "$1 $2 $3 $ms $(macs "$1" "$2")"
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') ($(nproc) cores; $("$BENCH" --version))"
echo "start: $(uptime)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
for J in 1 2; do
    for D in 128 256 512; do row "$D" 64 "$J"; done > "$TMP/width-$J"
    for T in 64 128 256; do row 128 "$T" "$J"; done > "$TMP/ctx-$J"
done
echo "end:   $(uptime)"
echo
echo "| group | dim | ctx | threads | ms/step | tok/s | GMAC/step | ms/step growth | MAC growth | time per MAC vs first row |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for g in width ctx; do
    for J in 1 2; do
        awk -v g="$g" '
            NR == 1 { ms0 = $4; m0 = $5 }
            { printf "| %s | %d | %d | %d | %.1f | %.0f | %.3f | %.2fx | %.2fx | %.2f |\n",
                  g, $1, $2, $3, $4, 12 * $2 / ($4 / 1000), $5 / 1e9, $4 / ms0, $5 / m0, ($4 / ms0) / ($5 / m0) }' "$TMP/$g-$J"
    done
done
echo
echo "threads 2 against 1, same shape: see the ms/step columns of the two rows."
