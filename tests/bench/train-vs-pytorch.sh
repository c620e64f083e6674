#!/bin/sh
# shellcheck disable=SC2046   # set -- $(median_spread ...) splits numbers on purpose
# train-vs-pytorch.sh — training speed of l1b-train against the same model in
# PyTorch, same shape, same corpus, same thread counts, side by side.
#
# usage: tests/bench/train-vs-pytorch.sh CORPUS [L1B_BIN_DIR]
#
# CORPUS is a text file (e.g. ../shared/data/tinyshakespeare.txt), trained on
# as bytes by both programs.  L1B_BIN_DIR holds l1b-tokenize and l1b-train
# (default ./build).  The PyTorch side is tests/bench/train_pytorch.py (next
# to this script), run with Debian's python3-torch; install
# libopenblas0-pthread as well, or torch runs on the slow reference BLAS.  The
# script refuses to run when the torch process has no OpenBLAS mapped
# (ALLOW_ANY_BLAS=1 runs anyway); it prints the libraries it found.
#
# The shape is l1b-train's default, nanoGPT's CPU shape: dim 128, 4 layers,
# 4 heads, SwiGLU hidden 352, ctx 64, batch 12, byte tokens (vocabulary 257),
# RMSNorm pre-norm, RoPE, untied head, AdamW, clipping at 1.  Two variants:
# absmean (ternary BitLinear, int8 activations, straight-through; l1b's
# default) and f32 (float baseline).  The corpus is tokenised once with
# `l1b-tokenize CORPUS -o corpus.tok` (bytes).  Then, for each thread count N
# and variant Q, alternating the programs (PyTorch, l1b, PyTorch, l1b, ...)
# RUNS times each:
#
#   PyTorch  OMP_WAIT_POLICY=passive /usr/bin/time -f %M \
#              python3 tests/bench/train_pytorch.py --quant Q -j J \
#              --blas-threads N --warmup-steps WARMUP --steps STEPS CORPUS
#            -> "ms_per_step:" (median of the STEPS steps after WARMUP; each
#               step timed from drawing the batch to the end of the AdamW
#               update), peak RSS
#            J = N (torch.set_num_threads(N), OpenBLAS N threads) and, when
#            N > 1, a second run with J = 1 (torch's own OpenMP pool 1 thread,
#            OpenBLAS N), run right after the first; each gets its own row.
#   l1b      /usr/bin/time -f %M l1b-train -q -o m.l1b --quant Q --dim 128
#              --layers 4 --heads 4 --hidden 352 --ctx 64 --batch 12
#              --steps WARMUP+STEPS --eval-every 1 --eval-batches 0
#              --save-every 0 --log log.tsv -j N corpus.tok
#            -> median of the ms_per_step column of the log rows after step
#               WARMUP, peak RSS
#
# Why two PyTorch rows and the passive wait policy: Debian's torch runs its
# element-wise ops on an OpenMP pool and its matrix products on OpenBLAS's
# pthread pool; both spin while waiting, so with N threads each there are up
# to 2N-1 busy threads on N cores.  On the 2-core test machine, set_num_threads(2)
# with libgomp's default (spinning) wait policy was 2-5x slower than one
# thread; OMP_WAIT_POLICY=passive (the default here; set OMP_WAIT_POLICY to
# override) removes most of that.  Which split is faster differs by variant,
# so both are shown; compare l1b against the faster.
#
# --eval-every 1 gives one log row per step; with --eval-batches 0 there is no
# evaluation, and l1b-train's per-row time excludes the row's bookkeeping
# (man/l1b-train.1: "evaluation time not included"), so both sides time the
# same thing: single training steps (batch, forward, backward, clip, AdamW),
# the median after a warm-up.  Both train on the first 90% of the corpus at
# random windows; neither evaluates.  The peak RSS is the whole process's:
# for PyTorch it includes the interpreter and torch's libraries; for l1b the
# final checkpoint write (which l1b-train always does) as well.
#
# Output: the CPU, the BLAS, torch's version, uptime at the start and the end,
# and one markdown table: per thread count and variant, the medians over RUNS
# of each run's median ms/step, the spread of those (max-min)/median in
# brackets, tokens/s = batch*ctx / median step time, the ratio l1b/PyTorch
# of tokens/s, each program's peak RSS (median over runs; MB = 10^6 bytes)
# and the median 1-minute load average read before each run.  A benchmark
# reports figures; it asserts nothing.
#
# Environment:
#   RUNS      runs per program, variant and thread count (default 3)
#   THREADS   thread counts (default "1 2"; never more than the cores)
#   STEPS     timed steps per run (default 50)
#   WARMUP    untimed steps before them (default 10)
#   VARIANTS  subset of "absmean f32" (default both)
#   PYTHON    interpreter with torch (default /usr/bin/python3, Debian's)
#   OMP_WAIT_POLICY  for the PyTorch runs (default passive)
#   OPENBLAS_CORETYPE  passed on to torch's OpenBLAS, which otherwise picks
#             its kernels from the CPU model: Debian 12's OpenBLAS 0.3.21
#             takes AMD family 1Ah (Zen 5) for Haswell (AVX2); SkylakeX
#             makes it use its AVX-512 kernels.  The header names the choice.
#   KEEP_TMP  set to keep the scratch directory (raw outputs and logs)

set -u
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 CORPUS [L1B_BIN_DIR]" >&2; exit 2; }
die() { echo "train-vs-pytorch.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
CORPUS=$1
BIN=${2:-./build}
RUNS=${RUNS:-3}
THREADS=${THREADS:-"1 2"}
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
VARIANTS=${VARIANTS:-"absmean f32"}
PYTHON=${PYTHON:-/usr/bin/python3}
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY
TIME=/usr/bin/time
PYBENCH=$(dirname "$0")/train_pytorch.py
DIM=128 LAYERS=4 HEADS=4 HIDDEN=352 CTX=64 BATCH=12

isnum() { case $1 in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -gt 0 ]; }
{ [ -f "$CORPUS" ] && [ -r "$CORPUS" ]; } || die "$CORPUS: not a readable file"
[ -x "$BIN/l1b-train" ] || die "$BIN/l1b-train: not found (run make, or give L1B_BIN_DIR)"
[ -x "$BIN/l1b-tokenize" ] || die "$BIN/l1b-tokenize: not found (run make, or give L1B_BIN_DIR)"
[ -f "$PYBENCH" ] || die "$PYBENCH: not found"
[ -x "$TIME" ] || die "$TIME: not found (Debian package time)"
isnum "$RUNS" || die "RUNS=$RUNS: not a positive whole number"
isnum "$STEPS" || die "STEPS=$STEPS: not a positive whole number"
case $WARMUP in ''|*[!0-9]*) die "WARMUP=$WARMUP: not a whole number" ;; esac
[ -n "$THREADS" ] || die "THREADS is empty"
for n in $THREADS; do isnum "$n" || die "THREADS: '$n' is not a positive whole number"; done
[ -n "$VARIANTS" ] || die "VARIANTS is empty"
for q in $VARIANTS; do
    case $q in absmean|f32) ;; *) die "VARIANTS: '$q' is not absmean or f32" ;; esac
done
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON: not found"
size=$(wc -c < "$CORPUS")
[ "$size" -ge $((10 * (CTX + 1) + 2)) ] || die "$CORPUS: too small ($size bytes)"

scratch_dir train-vs-pytorch

# ---- which torch, which BLAS -------------------------------------------------
OPENBLAS_VERBOSE=2 "$PYTHON" - > "$TMP/torchinfo" 2> "$TMP/err" <<'EOF' || die "$PYTHON cannot import torch: $(tail -n 1 "$TMP/err") (apt-get install python3-torch)"
import os, torch
torch.ones(64, 64) @ torch.ones(64, 64)
libs = set()
for line in open("/proc/self/maps"):
    p = line.split()[-1]
    b = os.path.basename(p)
    if "blas" in b or "lapack" in b or b.startswith("libmkl"):
        libs.add(os.path.realpath(p))
print(torch.__version__)
print(" ".join(sorted(libs)) or "none")
EOF
TORCH_VERSION=$(grep -v '^Core: ' "$TMP/torchinfo" | sed -n 1p)
TORCH_BLAS=$(grep -v '^Core: ' "$TMP/torchinfo" | sed -n 2p)
case $TORCH_BLAS in
    *openblas*) ;;
    *) [ -n "${ALLOW_ANY_BLAS:-}" ] ||
        die "torch maps no OpenBLAS ($TORCH_BLAS); apt-get install libopenblas0-pthread (or set ALLOW_ANY_BLAS=1)" ;;
esac
# OpenBLAS picks its kernels by CPU; it names them ("Core: Haswell") when verbose
CORE=$(sed -n 's/^Core: //p' "$TMP/torchinfo" "$TMP/err" | head -n 1)
ALT=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')
TORCH_PKG=$(dpkg-query -W -f '${Version}' python3-torch 2>/dev/null || echo "?")

"$BIN/l1b-tokenize" -o "$TMP/corpus.tok" "$CORPUS" 2> "$TMP/err" || die "l1b-tokenize failed: $(cat "$TMP/err")"
cat "$CORPUS" > /dev/null


CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
echo "cpu: $CPU ($(nproc) cores; flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'sse2|ssse3|fma|avx2|avx512f' | tr '\n' ' '))"
echo "l1b: $("$BIN/l1b-train" --version 2>&1 | head -n 1) ($BIN)"
echo "torch: $TORCH_VERSION (Debian python3-torch $TORCH_PKG, $PYTHON)"
echo "blas: libblas.so.3 -> ${ALT:-?}; mapped in torch: $TORCH_BLAS; OpenBLAS kernels: ${CORE:-?}${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
echo "corpus: $CORPUS ($size bytes)"
echo "shape: dim $DIM, $LAYERS layers, $HEADS heads, hidden $HIDDEN, ctx $CTX, batch $BATCH, vocab 257"
echo "runs: $RUNS per program, variant and thread count, alternating PyTorch / l1b; $WARMUP warm-up + $STEPS timed steps each"
echo "PyTorch: OMP_WAIT_POLICY=$OMP_WAIT_POLICY; threads J/N = torch.set_num_threads(J) / OPENBLAS_NUM_THREADS=N"
echo "start: $(uptime)"

: > "$TMP/results"
for n in $THREADS; do
    # PyTorch splits J-N: torch (OpenMP) threads - OpenBLAS threads
    splits="$n-$n"
    [ "$n" -gt 1 ] && splits="$splits 1-$n"
    for q in $VARIANTS; do
        k=$n.$q
        for f in l.ms l.rss load; do : > "$TMP/$k.$f"; done
        for sp in $splits; do : > "$TMP/$k.$sp.p.ms"; : > "$TMP/$k.$sp.p.rss"; done
        i=0
        while [ "$i" -lt "$RUNS" ]; do
            i=$((i + 1))
            cut -d' ' -f1 /proc/loadavg >> "$TMP/$k.load"
            for sp in $splits; do
                j=${sp%-*}
                out=$TMP/$n.$q.$j.p.out.$i
                "$TIME" -f '%M' -o "$TMP/rss" "$PYTHON" "$PYBENCH" --quant "$q" -j "$j" --blas-threads "$n" \
                    --warmup-steps "$WARMUP" --steps "$STEPS" "$CORPUS" \
                    > "$out" 2> "$TMP/err" || die "train_pytorch.py failed: $(tail -n 3 "$TMP/err")"
                sed -n 's/^ms_per_step: //p' "$out" >> "$TMP/$k.$sp.p.ms"
                tail -n 1 "$TMP/rss" >> "$TMP/$k.$sp.p.rss"
            done

            rm -f "$TMP/m.l1b" "$TMP/m.l1b.lock" "$TMP/log.tsv"
            "$TIME" -f '%M' -o "$TMP/rss" "$BIN/l1b-train" -q -o "$TMP/m.l1b" --quant "$q" \
                --dim "$DIM" --layers "$LAYERS" --heads "$HEADS" --hidden "$HIDDEN" --ctx "$CTX" \
                --batch "$BATCH" --steps $((WARMUP + STEPS)) --eval-every 1 --eval-batches 0 \
                --save-every 0 --log "$TMP/log.tsv" -j "$n" "$TMP/corpus.tok" \
                > /dev/null 2> "$TMP/err" || die "l1b-train failed: $(tail -n 3 "$TMP/err")"
            cp "$TMP/log.tsv" "$TMP/$k.l.log.$i"
            awk -F'\t' -v w="$WARMUP" '
                NR == 1 { for (c = 1; c <= NF; c++) { if ($c == "step") s = c; if ($c == "ms_per_step") m = c }; next }
                $s > w { print $m }' "$TMP/log.tsv" > "$TMP/steps"
            [ "$(wc -l < "$TMP/steps")" -eq "$STEPS" ] || die "l1b-train log: expected $STEPS timed rows, got $(wc -l < "$TMP/steps")"
            set -- $(median_spread "$TMP/steps"); echo "$1" >> "$TMP/$k.l.ms"
            tail -n 1 "$TMP/rss" >> "$TMP/$k.l.rss"
        done
        set -- $(median_spread "$TMP/$k.l.ms"); lm=$1 ls=$2
        set -- $(median_spread "$TMP/$k.l.rss"); lr=$1
        set -- $(median_spread "$TMP/$k.load"); ld=$1
        for sp in $splits; do
            set -- $(median_spread "$TMP/$k.$sp.p.ms"); pm=$1 ps=$2
            set -- $(median_spread "$TMP/$k.$sp.p.rss"); pr=$1
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$q" "$sp" "$pm" "$ps" "$lm" "$ls" "$pr" "$lr" "$ld" >> "$TMP/results"
        done
    done
done
echo "end:   $(uptime)"
echo

awk -F'\t' -v tok=$((BATCH * CTX)) '
    BEGIN {
        print "| threads | variant | PyTorch threads (torch/OpenBLAS) | PyTorch ms/step | PyTorch tok/s | l1b ms/step | l1b tok/s | l1b / PyTorch (tok/s) | PyTorch peak RSS | l1b peak RSS | load (1-min) |"
        print "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    }
    {
        gsub("-", "/", $3)
        printf "| %s | %s | %s | %.1f (%.0f%%) | %.0f | %.1f (%.0f%%) | %.0f | %.2fx | %.1f MB | %.1f MB | %.2f |\n",
            $1, $2, $3, $4, 100 * $5, 1000 * tok / $4, $6, 100 * $7, 1000 * tok / $6, $4 / $6,
            $8 * 1024 / 1e6, $9 * 1024 / 1e6, $10
    }' "$TMP/results"
echo
echo "ms/step: median over $RUNS runs of each run's median step ($STEPS steps after $WARMUP warm-up);"
echo "(%) = spread (max-min)/median of the run medians.  tok/s = $BATCH x $CTX tokens / ms/step."
echo "peak RSS: GNU time's maximum resident set size, median over runs; MB = 10^6 bytes."
