#!/bin/sh
# threads-under-load.sh — does a second thread still help when another
# program keeps a core busy?  -j 1 against -j J for training, decoding and
# scoring, with N busy competitors of the same priority.
#
# usage: tests/bench/threads-under-load.sh CORPUS [L1B_BIN_DIR [BUSY [ROUNDS [J]]]]
#
#   CORPUS       a text file (e.g. ../shared/data/tinyshakespeare.txt)
#   L1B_BIN_DIR  holds the l1b programs (default ./build)
#   BUSY         busy-loop competitors, `sh -c 'while :; do :; done'`
#                (default 1; 0 measures the idle speed-up)
#   ROUNDS       rounds; each runs every job at -j 1 and at -j J, the order
#                alternating between rounds (default 5)
#   J            the thread count set against -j 1 (default 2)
#
# The jobs (byte tokens; the model for decoding and scoring is trained
# here for 30 steps: its quality does not matter, its shape does):
#
#   train   l1b-train --steps 40 at l1b-train's default (nanoGPT) shape:
#           dim 128, 4 layers, ctx 64, batch 12
#   decode  l1b-sample -n 1024 --greedy, dim 288, 6 layers, 6 heads, ctx 256
#   score   l1b-sample --score of the corpus's first 100 KB, same model
#
# JOBS (environment) picks a subset, e.g. JOBS="train decode".
#
# Printed: per job the median wall time at -j 1 and -j J, each with its
# spread, and the ratio of the medians (time at -j J / time at -j 1;
# below 1 the threads help, the issue's target under one competitor is
# <= 1.1). Wall times are taken with the shell's clock around each command.
# A benchmark reports figures; it asserts nothing.
set -eu

die() { echo "threads-under-load.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: threads-under-load.sh CORPUS [L1B_BIN_DIR [BUSY [ROUNDS [J]]]]"
CORPUS=$1
BIN=${2:-./build}
BUSY=${3:-1}
ROUNDS=${4:-5}
J=${5:-2}
JOBS=${JOBS:-train decode score}
[ -r "$CORPUS" ] || die "$CORPUS: cannot read"
for p in l1b-tokenize l1b-train l1b-sample; do
    [ -x "$BIN/$p" ] || die "$BIN/$p: not found (run make, or give L1B_BIN_DIR)"
done
. "$(dirname "$0")/common.sh"
scratch_dir threads-under-load

PIDS=""
stop_busy() { for p in $PIDS; do kill "$p" 2>/dev/null || :; done; PIDS=""; }
trap 'stop_busy; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

"$BIN/l1b-tokenize" < "$CORPUS" > "$TMP/corpus.tok"
head -c 100000 "$CORPUS" > "$TMP/score.txt"
"$BIN/l1b-train" -q -o "$TMP/d288.l1b" --dim 288 --layers 6 --heads 6 --ctx 256 --batch 4 \
    --steps 30 --warmup 5 --eval-every 30 --eval-batches 2 "$TMP/corpus.tok"

# seconds since the epoch, with fractions
now() { date +%s.%N; }

# job NAME THREADS: run it once, silently
job() {
    case $1 in
    train)  "$BIN/l1b-train" -q -j "$2" -o "$TMP/train.l1b" --steps 40 --eval-every 1000 \
                --save-every 0 "$TMP/corpus.tok" ;;
    decode) "$BIN/l1b-sample" -j "$2" -m "$TMP/d288.l1b" -n 1024 --greedy -i "The " > /dev/null ;;
    score)  "$BIN/l1b-sample" -j "$2" -m "$TMP/d288.l1b" --score "$TMP/score.txt" > /dev/null ;;
    esac
}

# time_job NAME THREADS: append its wall time to $TMP/NAME.THREADS
time_job() {
    t0=$(now)
    job "$1" "$2"
    t1=$(now)
    echo "$t0 $t1" | awk '{ printf "%.4f\n", $2 - $1 }' >> "$TMP/$1.$2"
}

i=0
while [ "$i" -lt "$BUSY" ]; do
    sh -c 'while :; do :; done' &
    PIDS="$PIDS $!"
    i=$((i + 1))
done
sleep 1

echo "# threads-under-load: $BUSY busy competitor(s), -j 1 vs -j $J, $ROUNDS rounds; $(loadline)"
echo "# $(uname -m), $(nproc) CPUs usable, $("$BIN/l1b-train" --version | head -1)"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
    for name in $JOBS; do
        if [ $((r % 2)) -eq 0 ]; then
            time_job "$name" 1; time_job "$name" "$J"
        else
            time_job "$name" "$J"; time_job "$name" 1
        fi
    done
    r=$((r + 1))
done
stop_busy

printf "%-8s %14s %8s %14s %8s %8s\n" job "-j 1 (s)" spread "-j $J (s)" spread ratio
for name in $JOBS; do
    set -- $(median_spread "$TMP/$name.1") $(median_spread "$TMP/$name.$J")
    awk -v n="$name" -v a="$1" -v sa="$2" -v b="$3" -v sb="$4" 'BEGIN {
        printf "%-8s %14.3f %8.2f %14.3f %8.2f %8.2f\n", n, a, sa, b, sb, b / a }'
done
echo "# $(loadline)"
