#!/bin/bash
# train-shakespeare.sh — measure l1b-train against the training targets on
# a byte-tokenized corpus (the nanoGPT "shakespeare_char" CPU shape).
#
# usage: tests/bench/train-shakespeare.sh CORPUS [BIN_DIR]    (BIN_DIR default ./build)
#
#   1. l1b-tokenize CORPUS -o ts.tok                          (byte tokens)
#   2. for SCHEME in absmean f32, same seed, under /usr/bin/time -f '%e s %M KB':
#        l1b-train -o SCHEME.l1b --quant SCHEME --dim 128 --layers 4 --heads 4
#          --ctx 64 --batch 12 --steps 2000 --lr 1e-3 --min-lr 1e-4 --warmup 100
#          --val-frac 0.1 --eval-every 250 --eval-batches 145 --log SCHEME.tsv -j 1 ts.tok
#      (145 batches of 12 x 64 = the whole held-out 10% of tinyshakespeare;
#      l1b-train clamps the count to what the held-out part holds)
#   3. a markdown table per scheme: final validation loss, bits per byte,
#      accuracy, zero share, train tokens/s and ms/step (medians of the
#      logged columns over the rows after the first), wall time, peak RSS;
#      and the validation-loss difference absmean - f32
#   4. throughput with 1 and 2 threads, alternating 1,2,1,2,...: RUNS short
#      runs each (--steps 60 --eval-every 60 --eval-batches 1, absmean);
#      medians with min-max spread
#
# Environment (defaults are the measurement; change only for a smoke test):
#   STEPS   steps of the two long runs (default 2000)
#   RUNS    runs per thread count in the throughput part (default 3)
#   ONLY    'threads': skip parts 2-3 and run only the throughput part
#
# Units: s = wall seconds (GNU time %e); RSS in MiB (GNU time %M KiB / 1024);
# ms/step and tok/s as logged by l1b-train (training time only, evaluations
# excluded).  The load average is sampled every 15 s while the script runs.
# A benchmark reports figures; it asserts nothing.  Scratch files live in a
# mktemp -d directory removed on exit.

set -u -o pipefail
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 CORPUS [BIN_DIR]" >&2; exit 2; }
die() { echo "train-shakespeare.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
CORPUS=$1
BIN=${2:-./build}
STEPS=${STEPS:-2000}
RUNS=${RUNS:-3}
TIME=/usr/bin/time
TIMEFORMAT='%R %U %S'   # bash time keyword: wall user sys
TOK=$BIN/l1b-tokenize
TRAIN=$BIN/l1b-train

if [ ! -f "$CORPUS" ] || [ ! -r "$CORPUS" ]; then die "$CORPUS: not a readable file"; fi
[ -x "$TOK" ] || die "$TOK: not found (run make, or give BIN_DIR)"
[ -x "$TRAIN" ] || die "$TRAIN: not found (run make, or give BIN_DIR)"
[ -x "$TIME" ] || die "$TIME: not found (Debian package time)"
case $STEPS in ''|*[!0-9]*) die "STEPS=$STEPS: not a number" ;; esac
case $RUNS in ''|*[!0-9]*) die "RUNS=$RUNS: not a number" ;; esac
ONLY=${ONLY:-}
case $ONLY in ''|threads) ;; *) die "ONLY=$ONLY: only 'threads' is known" ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/train-shakespeare.XXXXXX") || die "mktemp failed"
SAMPLER=
cleanup() {
    if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Load sampler, every 15 s: "epoch_seconds phase load1" to load, and the
# processes then using >= 20% of a CPU as "phase pcpu command" to procs.
PHASE_FILE=$TMP/phase
echo setup > "$PHASE_FILE"
( while :; do
      read -r l1 _ < /proc/loadavg
      ph=$(cat "$PHASE_FILE" 2>/dev/null)
      echo "$(date +%s) $ph $l1"
      ps -eo pcpu=,comm= --sort=-pcpu | awk -v p="$ph" '$1 >= 20 { print p, $1, $2 }' >> "$TMP/procs"
      sleep 15
  done ) > "$TMP/load" 2>/dev/null &
SAMPLER=$!
phase() { echo "$1" > "$PHASE_FILE"; }


# col FILE NAME : the column NAME of the TSV log FILE, data rows only.
col() {
    awk -F '\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
                           c { print $c }' "$1"
}


flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'sse|sse2|ssse3|sse4_1|sse4_2|avx|avx2|fma|avx512f' | tr '\n' ' ')

echo "# train-shakespeare: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- corpus: \`$CORPUS\` ($(wc -c < "$CORPUS" | tr -d ' ') bytes)"
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) online CPUs; SIMD flags: $flags"
echo "- binaries: \`$BIN\` — $("$TRAIN" -V 2>&1 | head -n 1)"
echo "- load at start: $(loadline)"
echo

cat "$CORPUS" > /dev/null
phase tokenize
"$TOK" -q "$CORPUS" -o "$TMP/ts.tok" 2> "$TMP/tok.err" || die "l1b-tokenize failed: $(head -n 3 "$TMP/tok.err")"

# --- 2. the two long runs ------------------------------------------------
SHAPE=(--dim 128 --layers 4 --heads 4 --ctx 64 --batch 12)
echo "Commands (DIR = scratch directory; SCHEME = absmean, then f32):"
echo
echo '```sh'
echo "$TOK $CORPUS -o DIR/ts.tok"
echo "$TIME -f '%e s %M KB' $TRAIN -o DIR/SCHEME.l1b --quant SCHEME ${SHAPE[*]} \\"
echo "  --steps $STEPS --lr 1e-3 --min-lr 1e-4 --warmup 100 --val-frac 0.1 --eval-every 250 \\"
echo "  --eval-batches 145 --log DIR/SCHEME.tsv -j 1 DIR/ts.tok"
echo "# throughput, alternating T = 1,2,1,2,...:"
echo "$TIME -f '%e s %M KB' $TRAIN -o DIR/tT.l1b --quant absmean ${SHAPE[*]} \\"
echo "  --steps 60 --eval-every 60 --eval-batches 1 --log DIR/tT.tsv -j T DIR/ts.tok"
echo '```'
echo

SCHEMES="absmean f32"
declare -A OK
# parts 2-3 (not indented, to keep the diff of the body readable)
long_runs() {
for S in $SCHEMES; do
    echo "training $S ($STEPS steps) ..." >&2
    phase "train-$S"
    echo "- load before $S: $(loadline)"
    # bash's time keyword around GNU time: CPU seconds (user, sys) of the run
    if { time "$TIME" -f '%e s %M KB' -o "$TMP/$S.time" "$TRAIN" -o "$TMP/$S.l1b" --quant "$S" "${SHAPE[@]}" \
        --steps "$STEPS" --lr 1e-3 --min-lr 1e-4 --warmup 100 --val-frac 0.1 \
        --eval-every 250 --eval-batches 145 --log "$TMP/$S.tsv" -j 1 "$TMP/ts.tok" \
        2> "$TMP/$S.err"; } 2> "$TMP/$S.cpu"; then
        OK[$S]=1
    else
        OK[$S]=0
        echo "- **$S failed**: $(grep -v 'step ' "$TMP/$S.err" | tail -n 3 | tr '\n' ' ')"
    fi
done
echo "- load after the long runs: $(loadline)"
echo

echo "| scheme | final val loss | bits/byte | accuracy | zero share | train tok/s (median) | ms/step (median) | wall s | CPU s (share of wall) | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for S in $SCHEMES; do
    [ "${OK[$S]}" = 1 ] || { echo "| $S | failed | | | | | | | | |"; continue; }
    L=$TMP/$S.tsv
    vl=$(col "$L" val_loss | tail -n 1)
    bpb=$(col "$L" val_bpb | tail -n 1)
    acc=$(col "$L" val_acc | tail -n 1)
    zs=$(col "$L" zero_share | tail -n 1)
    read -r tps tps_lo tps_hi < <(col "$L" tok_per_s | tail -n +2 | median_range)
    read -r mss mss_lo mss_hi < <(col "$L" ms_per_step | tail -n +2 | median_range)
    read -r wall _ rss _ < "$TMP/$S.time"
    read -r _ cu cs < "$TMP/$S.cpu"
    printf '| %s | %.4f | %.4f | %.4f | %.4f | %.0f (%.0f–%.0f) | %.1f (%.1f–%.1f) | %.1f | %.1f (%.2f) | %.1f |\n' \
        "$S" "$vl" "$bpb" "$acc" "$zs" "$tps" "$tps_lo" "$tps_hi" "$mss" "$mss_lo" "$mss_hi" \
        "$wall" "$(awk -v u="$cu" -v s="$cs" 'BEGIN { print u + s }')" \
        "$(awk -v u="$cu" -v s="$cs" -v w="$wall" 'BEGIN { print (w > 0) ? (u + s) / w : 0 }')" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
    echo "$vl" > "$TMP/$S.final"
done
echo
if [ "${OK[absmean]}" = 1 ] && [ "${OK[f32]}" = 1 ]; then
    awk -v a="$(cat "$TMP/absmean.final")" -v f="$(cat "$TMP/f32.final")" 'BEGIN {
        d = a - f
        printf "- val loss absmean - f32 = %.4f - %.4f = **%+.4f** (goal: <= 0.10: %s)\n", a, f, d, (d <= 0.10 ? "met" : "missed")
        printf "- f32 val loss vs nanoGPT float at this shape (1.88): %+.4f\n", f - 1.88 }'
fi
echo "- tok/s and ms/step: median (min–max) of the logged columns over the evaluation rows after the first"
echo "  (training time of each interval of 250 steps; evaluations excluded); wall s includes the evaluations."
echo "- CPU s = user + sys of the run (bash time); share = CPU s / wall s: below 1.00 on a 1-thread run means it waited for a core."
echo

# Anomalies: NaN/inf anywhere, validation loss rising between evaluations,
# train loss or gradient norm more than 1.5x the previous row.
for S in $SCHEMES; do
    [ "${OK[$S]}" = 1 ] || continue
    echo "Log \`$S.tsv\`:"
    echo
    echo '```'
    column -t -s "$(printf '\t')" "$TMP/$S.tsv" 2>/dev/null || cat "$TMP/$S.tsv"
    echo '```'
    echo
    awk -F '\t' -v s="$S" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { line = tolower($0)
          if (line ~ /nan|inf/) printf "- %s step %s: non-finite value in the log\n", s, $c["step"]
          if (NR > 2 && $c["val_loss"] > pv) printf "- %s step %s: val loss rose %.4f -> %.4f\n", s, $c["step"], pv, $c["val_loss"]
          if (NR > 2 && $c["train_loss"] > 1.5 * pt) printf "- %s step %s: train loss jumped %.4f -> %.4f\n", s, $c["step"], pt, $c["train_loss"]
          if (NR > 2 && $c["grad_norm"] > 1.5 * pg) printf "- %s step %s: grad norm jumped %.3f -> %.3f\n", s, $c["step"], pg, $c["grad_norm"]
          pv = $c["val_loss"]; pt = $c["train_loss"]; pg = $c["grad_norm"] }' "$TMP/$S.tsv"
    # stderr lines that are not progress lines
    tr '\r' '\n' < "$TMP/$S.err" | grep -v -E '^l1b-train: step [0-9]+/|^[[:space:]]*$' |
        sed "s/^/- $S stderr: /"
done
echo

}
if [ "$ONLY" != threads ]; then long_runs; fi

# --- 4. throughput, 1 vs 2 threads -----------------------------------------
phase threads
echo "- load before the thread runs: $(loadline)"
: > "$TMP/t1"; : > "$TMP/t2"
i=1
while [ "$i" -le "$RUNS" ]; do
    for T in 1 2; do
        echo "threads $T run $i/$RUNS ..." >&2
        rm -f "$TMP/t$T.tsv" "$TMP/t$T.l1b"
        if { time "$TIME" -f '%e %M' -o "$TMP/t.time" "$TRAIN" -o "$TMP/t$T.l1b" --quant absmean "${SHAPE[@]}" \
            --steps 60 --eval-every 60 --eval-batches 1 --log "$TMP/t$T.tsv" -j "$T" "$TMP/ts.tok" \
            2> "$TMP/t.err"; } 2> "$TMP/t.cpu"; then
            # ms/step tok/s wall rss_kb cpu_s
            echo "$(col "$TMP/t$T.tsv" ms_per_step | tail -n 1) $(col "$TMP/t$T.tsv" tok_per_s | tail -n 1) $(tail -n 1 "$TMP/t.time") $(awk '{ print $2 + $3 }' "$TMP/t.cpu")" >> "$TMP/t$T"
        else
            echo "- threads $T run $i failed: $(tail -n 2 "$TMP/t.err" | tr '\n' ' ')"
        fi
    done
    i=$((i + 1))
done
echo "- load after the thread runs: $(loadline)"
echo
echo "| threads | runs | ms/step median (min–max) | tok/s median (min–max) | wall s median (min–max) | CPU s median (cores used) | peak RSS MiB | speed-up vs 1 thread |"
echo "|---:|---:|---|---|---|---:|---:|---:|"
for T in 1 2; do
    n=$(wc -l < "$TMP/t$T")
    [ "$n" -gt 0 ] || { echo "| $T | 0 | failed | | | | | |"; continue; }
    read -r m mlo mhi < <(awk '{ print $1 }' "$TMP/t$T" | median_range)
    read -r k klo khi < <(awk '{ print $2 }' "$TMP/t$T" | median_range)
    read -r w wlo whi < <(awk '{ print $3 }' "$TMP/t$T" | median_range)
    read -r r _ _ < <(awk '{ print $4 }' "$TMP/t$T" | median_range)
    read -r c _ _ < <(awk '{ print $5 }' "$TMP/t$T" | median_range)
    if [ "$T" = 1 ]; then m1=$m; fi
    printf '| %s | %s | %.1f (%.1f–%.1f) | %.0f (%.0f–%.0f) | %.2f (%.2f–%.2f) | %.2f (%.2f) | %.1f | %.2fx |\n' \
        "$T" "$n" "$m" "$mlo" "$mhi" "$k" "$klo" "$khi" "$w" "$wlo" "$whi" "$c" \
        "$(awk -v c="$c" -v w="$w" 'BEGIN { print (w > 0) ? c / w : 0 }')" \
        "$(awk -v k="$r" 'BEGIN { print k / 1024 }')" "$(awk -v a="${m1:-nan}" -v b="$m" 'BEGIN { print a / b }')"
done
echo
echo "- per run: ms/step and tok/s as logged at step 60 (mean over steps 1–60, evaluation excluded);"
echo "  wall s includes start-up and one evaluation batch. Raw rows (ms/step tok/s wall_s rss_KiB cpu_s):"
for T in 1 2; do echo "  - $T thread(s): $(tr '\n' ';' < "$TMP/t$T" | sed 's/;$//; s/;/; /g')"; done
echo
echo "- targets (issue): ternary val loss within 0.10 of the f32 baseline; nanoGPT float 1.88 after 2000 steps;"
echo "  peak RSS under 64 MB; for PyTorch and llm.c side by side see tests/bench/train-vs-pytorch.sh, train-vs-llmc.sh."
echo "- load at end: $(loadline)"

PHASES="train-absmean train-f32 threads"
if [ "$ONLY" = threads ]; then PHASES=threads; fi
# load during each phase: median (min–max) of the 15 s samples of the 1-minute load average
echo "- 1-minute load average sampled every 15 s, median (min–max) per phase:"
for P in $PHASES; do
    read -r lm llo lhi < <(awk -v p="$P" '$2 == p { print $3 }' "$TMP/load" | median_range)
    n=$(awk -v p="$P" '$2 == p' "$TMP/load" | wc -l)
    echo "  - $P: $lm ($llo–$lhi), $n samples"
done
# other processes using >= 20% of a CPU in the samples (l1b-train itself included)
echo "- processes seen using >= 20% of a CPU in the samples, per phase (ps %CPU is averaged over each process's life):"
for P in $PHASES; do
    awk -v p="$P" '$1 == p { n[$3]++; s[$3] = s[$3] " " $2 }
        END { for (c in n) printf "%s %d%s\n", c, n[c], s[c] }' "$TMP/procs" 2>/dev/null |
    while read -r name cnt vals; do
        med=$(echo "$vals" | tr ' ' '\n' | grep . | median_range | awk '{ print $1 }')
        printf '%s (%s samples, median %s%%); ' "$name" "$cnt" "$med"
    done > "$TMP/procline"
    echo "  - $P: $(cat "$TMP/procline")"
done
