#!/bin/sh
# bench-scaling.sh — data-parallel l1b-train on one machine: tokens per
# second of `mpirun -np 2 ... -j 1` against one process at -j 1 and -j 2,
# and the cost of exact accumulation (--accum) against an older build.
# A benchmark: it reports figures, asserts nothing (docs/BENCHMARKS.md).
#
# usage: tests/mpi/bench-scaling.sh TOKENS [ROUNDS] [SHAPE...]
#
#   env: MPI_BIN   the MPI build's directory (default ./build-mpi)
#        BASE_BIN  an older build's directory, for --accum before/after
#                  (optional)
#        STEPS     steps per run (default 200), EVERY rows' cadence (50)
#        MPIRUN    the launcher (default: mpirun --allow-run-as-root)
#
# Each configuration is one row per run: the median of the log rows after
# the first (tokens/s and ms per step since the previous row, evaluation
# excluded), runs alternating between configurations, ROUNDS times
# (default 3); the load average is printed before each round.
set -eu

TOK=${1:?usage: bench-scaling.sh TOKENS [ROUNDS] [SHAPE...]}
ROUNDS=${2:-3}
shift $(($# < 2 ? $# : 2))
SHAPE=${*:---dim 128 --layers 4 --heads 4 --ctx 64 --batch 12}
MPI_BIN=${MPI_BIN:-./build-mpi}
STEPS=${STEPS:-200}
EVERY=${EVERY:-50}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT

# run NAME CMD...: one run, logging to $D/NAME.tsv; prints tok/s and ms/step
run() {
    name=$1
    shift
    rm -f "$D/m.l1b" "$D/$name.tsv"
    "$@" -q -o "$D/m.l1b" $SHAPE --steps "$STEPS" --eval-every "$EVERY" --eval-batches 1 --save-every 0 \
        --log "$D/$name.tsv" "$TOK"
    printf '%-28s %9.0f tok/s %8.2f ms/step\n' "$name" "$(median 11 "$D/$name.tsv")" "$(median 12 "$D/$name.tsv")"
}

# median COLUMN FILE: of the log's rows after the first
median() {
    awk -F '\t' -v c="$1" 'NR > 2 { print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "shape: $SHAPE; $STEPS steps, rows every $EVERY; $(nproc) cores"
for r in $(seq "$ROUNDS"); do
    echo "== round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
    run "1 process -j 1" "$MPI_BIN/l1b-train" -j 1
    run "mpirun -np 2 -j 1" $MPIRUN -np 2 "$MPI_BIN/l1b-train" -j 1
    run "1 process -j 2" "$MPI_BIN/l1b-train" -j 2
    run "1 process -j 1 --accum 2" "$MPI_BIN/l1b-train" -j 1 --accum 2
    if [ -n "${BASE_BIN:-}" ]; then
        run "before: -j 1" "$BASE_BIN/l1b-train" -j 1
        run "before: -j 1 --accum 4" "$BASE_BIN/l1b-train" -j 1 --accum 4
        run "after: -j 1 --accum 4" "$MPI_BIN/l1b-train" -j 1 --accum 4
    fi
done
