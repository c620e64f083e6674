#!/bin/sh
# shellcheck disable=SC2046   # set -- $(median_spread ...) splits numbers on purpose
# mpi-vs-ddp.sh — data-parallel training on one machine: l1b-train under
# mpirun (2 ranks) against one l1b-train process at -j 1 and -j 2, and
# against PyTorch's DistributedDataParallel (2 ranks, gloo) on the same model
# (issue 16's targets: parallel efficiency >= 85%, l1b >= 1.5x DDP's tok/s).
#
# usage: tests/bench/mpi-vs-ddp.sh CORPUS [L1B_BIN_DIR [L1B_MPI_BIN_DIR]]
#
# CORPUS is a text file (e.g. ../shared/data/tinyshakespeare.txt), trained on
# as bytes by both programs.  L1B_BIN_DIR holds l1b-tokenize and the
# l1b-train run as one process (default ./build); L1B_MPI_BIN_DIR the
# l1b-train built with `make MPI=1` (default ./build-mpi).  Give build-mpi
# for both to time the one-process runs with the MPI build too.  The PyTorch
# side is tests/bench/train_pytorch.py --ddp 2 (next to this script), run
# with Debian's python3-torch and libopenblas0-pthread (as
# train-vs-pytorch.sh, the script refuses when torch maps no OpenBLAS;
# ALLOW_ANY_BLAS=1 runs anyway).
#
# Two shapes (SHAPES, default "nanogpt wide"), both byte tokens (vocabulary
# 257), the model of l1b-train and train_pytorch.py (RMSNorm pre-norm, RoPE,
# SwiGLU, untied head, AdamW, clipping at 1):
#   nanogpt  l1b-train's defaults: dim 128, 4 layers, 4 heads, hidden 352,
#            ctx 64, batch 12 (per process, per rank)
#   wide     dim 512, 8 layers, 8 heads, hidden 1376, ctx 256, batch
#            WIDE_BATCH (default 12, the same per-rank batch as nanogpt)
# and two variants (VARIANTS, default "absmean f32"): ternary BitLinear
# (l1b's default) and float.  The corpus is tokenised once with `l1b-tokenize
# CORPUS -o corpus.tok`.  Then, per shape and variant, RUNS times (default 3)
# alternating the four configurations in this order:
#
#   l1b -j 1     l1b-train -q -o m.l1b --quant Q SHAPE --batch B
#                  --steps W+S --eval-every 1 --eval-batches 0 --save-every 0
#                  --log log.tsv -j 1 corpus.tok
#   l1b -j 2     the same with -j 2
#   l1b mpirun   $MPIRUN -np 2 L1B_MPI_BIN_DIR/l1b-train (the same flags) -j 1
#                  (MPIRUN default: mpirun --allow-run-as-root --oversubscribe);
#                  a step is 2 micro-batches of B, one per rank
#   torch DDP    OMP_WAIT_POLICY=passive python3 tests/bench/train_pytorch.py
#                  --ddp 2 --quant Q SHAPE --batch B -j 1 --blas-threads 1
#                  --warmup-steps W --steps S CORPUS
#                  (2 ranks spawned by the script, gloo on the loopback, each
#                  torch.set_num_threads(1) and OpenBLAS 1 thread, B sequences
#                  a rank a step)
#
# W and S (warm-up and timed steps) are WARMUP and STEPS for nanogpt
# (default 10 and 50) and WIDE_WARMUP and WIDE_STEPS for wide (default 2 and
# 10).  A run's figure is the median time of its S steps after the W warm-up
# steps: for l1b the ms_per_step column of the log rows after step W (with
# --eval-every 1 a row a step; --eval-batches 0, no evaluation; the row's
# time excludes its bookkeeping; under mpirun only rank 0 logs, a step's time
# covers both ranks' micro-batches and the exchange), for PyTorch its
# "ms_per_step:" (each step timed from drawing the batch to the end of the
# AdamW update, a step's time the longest of the two ranks').  Tokens a step:
# for l1b the log's tokens column / step (batch x ctx, x 2 under mpirun), for
# DDP 2 x batch x ctx.
#
# Output: the CPU, the programs, the BLAS, uptime at the start and the end,
# then two markdown tables.  The first, one row per shape, variant and
# configuration: the median over RUNS of the runs' median ms/step, the
# spread (max-min)/median of those in brackets, tokens a step, tokens/s =
# tokens a step / median ms/step, and the median 1-minute load average read
# before each run.  The second, per shape and variant: the parallel
# efficiency tok/s(mpirun -np 2 -j 1) / (2 x tok/s(one process -j 1)), the
# speed-up of mpirun against one process -j 2, and l1b / DDP = tok/s(l1b
# mpirun) / tok/s(torch DDP).  A benchmark reports figures; it asserts
# nothing.
#
# Environment:
#   RUNS        runs per configuration (default 3)
#   SHAPES      subset of "nanogpt wide" (default both)
#   VARIANTS    subset of "absmean f32" (default both)
#   STEPS, WARMUP            nanogpt's timed and warm-up steps (50, 10)
#   WIDE_STEPS, WIDE_WARMUP  wide's (10, 2)
#   WIDE_BATCH  wide's batch per process / rank (default 12)
#   MPIRUN      launcher and its options, before -np 2
#               (default "mpirun --allow-run-as-root --oversubscribe")
#   PYTHON      interpreter with torch (default /usr/bin/python3, Debian's)
#   OMP_WAIT_POLICY  for the PyTorch runs (default passive; see
#               train-vs-pytorch.sh)
#   MASTER_ADDR, MASTER_PORT, GLOO_SOCKET_IFNAME  passed on to torch
#               (train_pytorch.py defaults: 127.0.0.1, a free port, lo)
#   KEEP_TMP    set to keep the scratch directory (raw outputs and logs)

set -u
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 CORPUS [L1B_BIN_DIR [L1B_MPI_BIN_DIR]]" >&2; exit 2; }
die() { echo "mpi-vs-ddp.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
CORPUS=$1
BIN=${2:-./build}
MPI_BIN=${3:-./build-mpi}
RUNS=${RUNS:-3}
SHAPES=${SHAPES:-"nanogpt wide"}
VARIANTS=${VARIANTS:-"absmean f32"}
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
WIDE_STEPS=${WIDE_STEPS:-10}
WIDE_WARMUP=${WIDE_WARMUP:-2}
WIDE_BATCH=${WIDE_BATCH:-12}
MPIRUN=${MPIRUN:-"mpirun --allow-run-as-root --oversubscribe"}
PYTHON=${PYTHON:-/usr/bin/python3}
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY
PYBENCH=$(dirname "$0")/train_pytorch.py

isnum() { case $1 in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -gt 0 ]; }
{ [ -f "$CORPUS" ] && [ -r "$CORPUS" ]; } || die "$CORPUS: not a readable file"
[ -x "$BIN/l1b-train" ] || die "$BIN/l1b-train: not found (run make, or give L1B_BIN_DIR)"
[ -x "$BIN/l1b-tokenize" ] || die "$BIN/l1b-tokenize: not found (run make, or give L1B_BIN_DIR)"
[ -x "$MPI_BIN/l1b-train" ] || die "$MPI_BIN/l1b-train: not found (run make MPI=1, or give L1B_MPI_BIN_DIR)"
"$MPI_BIN/l1b-train" --version 2>&1 | grep -q '^mpi: built in' ||
    die "$MPI_BIN/l1b-train: MPI is not built in (make MPI=1 builds into build-mpi)"
[ -f "$PYBENCH" ] || die "$PYBENCH: not found"
# shellcheck disable=SC2086   # MPIRUN is a command and its options
set -- $MPIRUN
command -v "$1" >/dev/null 2>&1 || die "$1: not found (apt-get install openmpi-bin)"
x=
for v in RUNS STEPS WIDE_STEPS WIDE_BATCH; do
    eval "x=\$$v"; isnum "$x" || die "$v=$x: not a positive whole number"
done
for v in WARMUP WIDE_WARMUP; do
    eval "x=\$$v"; case $x in ''|*[!0-9]*) die "$v=$x: not a whole number" ;; esac
done
[ -n "$SHAPES" ] || die "SHAPES is empty"
for s in $SHAPES; do
    case $s in nanogpt|wide) ;; *) die "SHAPES: '$s' is not nanogpt or wide" ;; esac
done
[ -n "$VARIANTS" ] || die "VARIANTS is empty"
for q in $VARIANTS; do
    case $q in absmean|f32) ;; *) die "VARIANTS: '$q' is not absmean or f32" ;; esac
done
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON: not found"
size=$(wc -c < "$CORPUS")
[ "$size" -ge $((10 * 257 + 2)) ] || die "$CORPUS: too small ($size bytes)"

scratch_dir mpi-vs-ddp

# ---- which torch, which BLAS -------------------------------------------------
OPENBLAS_VERBOSE=2 "$PYTHON" - > "$TMP/torchinfo" 2> "$TMP/err" <<'EOF' || die "$PYTHON cannot import torch: $(tail -n 1 "$TMP/err") (apt-get install python3-torch)"
import os, torch, torch.distributed as dist
torch.ones(64, 64) @ torch.ones(64, 64)
libs = set()
for line in open("/proc/self/maps"):
    p = line.split()[-1]
    b = os.path.basename(p)
    if "blas" in b or "lapack" in b or b.startswith("libmkl"):
        libs.add(os.path.realpath(p))
print(torch.__version__)
print(" ".join(sorted(libs)) or "none")
print("gloo" if dist.is_available() and dist.is_gloo_available() else "none")
EOF
TORCH_VERSION=$(grep -v '^Core: ' "$TMP/torchinfo" | sed -n 1p)
TORCH_BLAS=$(grep -v '^Core: ' "$TMP/torchinfo" | sed -n 2p)
[ "$(grep -v '^Core: ' "$TMP/torchinfo" | sed -n 3p)" = gloo ] || die "this torch has no gloo backend (torch.distributed)"
case $TORCH_BLAS in
    *openblas*) ;;
    *) [ -n "${ALLOW_ANY_BLAS:-}" ] ||
        die "torch maps no OpenBLAS ($TORCH_BLAS); apt-get install libopenblas0-pthread (or set ALLOW_ANY_BLAS=1)" ;;
esac
CORE=$(sed -n 's/^Core: //p' "$TMP/torchinfo" "$TMP/err" | head -n 1)
TORCH_PKG=$(dpkg-query -W -f '${Version}' python3-torch 2>/dev/null || echo "?")

"$BIN/l1b-tokenize" -o "$TMP/corpus.tok" "$CORPUS" 2> "$TMP/err" || die "l1b-tokenize failed: $(cat "$TMP/err")"
cat "$CORPUS" > /dev/null

# shape NAME: sets SHAPE_ARGS (both programs' flags), BATCH, CTX, W, S
shape() {
    case $1 in
        nanogpt) SHAPE_ARGS="--dim 128 --layers 4 --heads 4 --hidden 352 --ctx 64"
                 BATCH=12 CTX=64 W=$WARMUP S=$STEPS ;;
        wide)    SHAPE_ARGS="--dim 512 --layers 8 --heads 8 --hidden 1376 --ctx 256"
                 BATCH=$WIDE_BATCH CTX=256 W=$WIDE_WARMUP S=$WIDE_STEPS ;;
    esac
}

CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
echo "cpu: $CPU ($(nproc) cores)"
echo "l1b: $("$BIN/l1b-train" --version 2>&1 | head -n 1) ($BIN/l1b-train, one process)"
echo "l1b mpi: $("$MPI_BIN/l1b-train" --version 2>&1 | sed -n 's/^mpi: //p') ($MPI_BIN/l1b-train; $MPIRUN -np 2)"
echo "torch: $TORCH_VERSION (Debian python3-torch $TORCH_PKG, $PYTHON); DDP, gloo, 2 ranks, 1 thread each, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
echo "blas: mapped in torch: $TORCH_BLAS; OpenBLAS kernels: ${CORE:-?}${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
echo "corpus: $CORPUS ($size bytes)"
for s in $SHAPES; do
    shape "$s"
    echo "shape $s: $SHAPE_ARGS, batch $BATCH per process/rank, vocab 257; $W warm-up + $S timed steps a run"
done
echo "runs: $RUNS per configuration, alternating l1b -j 1 / l1b -j 2 / l1b mpirun -np 2 -j 1 / torch DDP 2 ranks"
echo "start: $(uptime)"

# l1b_run NAME LAUNCHER...: one l1b-train run; appends its median step (ms)
# to $TMP/$k.NAME.ms and its tokens a step to $TMP/$k.NAME.tok
l1b_run() {
    name=$1
    shift
    rm -f "$TMP/m.l1b" "$TMP/m.l1b.lock" "$TMP/log.tsv"
    # shellcheck disable=SC2086   # SHAPE_ARGS is a list of flags
    "$@" -q -o "$TMP/m.l1b" --quant "$q" $SHAPE_ARGS --batch "$BATCH" \
        --steps $((W + S)) --eval-every 1 --eval-batches 0 --save-every 0 \
        --log "$TMP/log.tsv" "$TMP/corpus.tok" \
        > "$TMP/out" 2> "$TMP/err" || die "$name: $* failed: $(tail -n 3 "$TMP/err")"
    cp "$TMP/log.tsv" "$TMP/$k.$name.log.$i"
    awk -F'\t' -v w="$W" '
        NR == 1 { for (c = 1; c <= NF; c++) { if ($c == "step") s = c; if ($c == "ms_per_step") m = c }; next }
        $s > w { print $m }' "$TMP/log.tsv" > "$TMP/steps"
    [ "$(wc -l < "$TMP/steps")" -eq "$S" ] || die "$name: log: expected $S timed rows, got $(wc -l < "$TMP/steps")"
    set -- $(median_spread "$TMP/steps"); echo "$1" >> "$TMP/$k.$name.ms"
    awk -F'\t' '
        NR == 1 { for (c = 1; c <= NF; c++) { if ($c == "step") s = c; if ($c == "tokens") t = c }; next }
        { st = $s; tk = $t } END { printf "%d\n", tk / st }' "$TMP/log.tsv" >> "$TMP/$k.$name.tok"
}

# ddp_run: one train_pytorch.py --ddp 2 run, as l1b_run
ddp_run() {
    out=$TMP/$k.ddp.out.$i
    # shellcheck disable=SC2086
    "$PYTHON" "$PYBENCH" --ddp 2 --quant "$q" $SHAPE_ARGS --batch "$BATCH" -j 1 --blas-threads 1 \
        --warmup-steps "$W" --steps "$S" "$CORPUS" \
        > "$out" 2> "$TMP/err" || die "train_pytorch.py --ddp 2 failed: $(tail -n 3 "$TMP/err")"
    ms=$(sed -n 's/^ms_per_step: //p' "$out")
    [ -n "$ms" ] || die "train_pytorch.py --ddp 2: no ms_per_step in its output ($out)"
    echo "$ms" >> "$TMP/$k.ddp.ms"
    echo $((2 * BATCH * CTX)) >> "$TMP/$k.ddp.tok"
}

CONFIGS="j1 j2 mpi ddp"
: > "$TMP/results"
for s in $SHAPES; do
    shape "$s"
    for q in $VARIANTS; do
        k=$s.$q
        : > "$TMP/$k.load"
        for c in $CONFIGS; do : > "$TMP/$k.$c.ms"; : > "$TMP/$k.$c.tok"; done
        i=0
        while [ "$i" -lt "$RUNS" ]; do
            i=$((i + 1))
            cut -d' ' -f1 /proc/loadavg >> "$TMP/$k.load"
            l1b_run j1 "$BIN/l1b-train" -j 1
            l1b_run j2 "$BIN/l1b-train" -j 2
            # shellcheck disable=SC2086   # MPIRUN is a command and its options
            l1b_run mpi $MPIRUN -np 2 "$MPI_BIN/l1b-train" -j 1
            ddp_run
        done
        set -- $(median_spread "$TMP/$k.load"); ld=$1
        for c in $CONFIGS; do
            set -- $(median_spread "$TMP/$k.$c.ms"); m=$1 sp=$2
            set -- $(median_spread "$TMP/$k.$c.tok"); tk=$1
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$q" "$c" "$m" "$sp" "$tk" "$ld" >> "$TMP/results"
        done
    done
done
echo "end:   $(uptime)"
echo

awk -F'\t' '
    BEGIN {
        name["j1"] = "l1b, one process -j 1"; name["j2"] = "l1b, one process -j 2"
        name["mpi"] = "l1b, mpirun -np 2 -j 1"; name["ddp"] = "PyTorch DDP, 2 ranks x 1 thread"
        print "| shape | variant | configuration | ms/step | tokens/step | tok/s | load (1-min) |"
        print "|---|---|---|---:|---:|---:|---:|"
    }
    { printf "| %s | %s | %s | %.1f (%.0f%%) | %d | %.0f | %.2f |\n",
          $1, $2, name[$3], $4, 100 * $5, $6, 1000 * $6 / $4, $7 }' "$TMP/results"
echo
awk -F'\t' '
    BEGIN {
        print "| shape | variant | parallel efficiency: mpirun -np 2 / (2 x -j 1) | mpirun -np 2 / one process -j 2 | l1b mpirun / PyTorch DDP (tok/s) |"
        print "|---|---|---:|---:|---:|"
    }
    { t[$1 "." $2 "." $3] = 1000 * $6 / $4; if (!(($1 "." $2) in seen)) { seen[$1 "." $2] = 1; order[++n] = $1 "\t" $2 } }
    END {
        for (r = 1; r <= n; r++) {
            split(order[r], f, "\t"); p = f[1] "." f[2]
            printf "| %s | %s | %.0f%% | %.2fx | %.2fx |\n", f[1], f[2],
                100 * t[p ".mpi"] / (2 * t[p ".j1"]), t[p ".mpi"] / t[p ".j2"], t[p ".mpi"] / t[p ".ddp"]
        }
    }' "$TMP/results"
echo
echo "ms/step: median over $RUNS runs of each run's median step (the steps after the warm-up);"
echo "(%) = spread (max-min)/median of the run medians.  tok/s = tokens/step / ms/step."
echo "A step of mpirun and DDP is one batch per rank (2 x batch x ctx tokens)."
