#!/bin/sh
# shellcheck disable=SC2046   # set -- $(median_spread ...) splits numbers on purpose
# train-vs-llmc.sh — training speed and memory of l1b-train against llm.c's
# CPU trainer (train_gpt2.c, float32, OpenMP) at nanoGPT's CPU shape, on the
# same corpus and thread counts, side by side.
#
# usage: tests/bench/train-vs-llmc.sh LLMC_DIR CORPUS [L1B_BIN_DIR]
#
# LLMC_DIR is a directory where you have put llm.c's train_gpt2.c and the
# headers it includes (llmc/utils.h, llmc/tokenizer.h, llmc/dataloader.h,
# llmc/rand.h) yourself (https://github.com/karpathy/llm.c; this script
# neither downloads nor contains any of it).  CORPUS is a text file (e.g.
# ../shared/data/tinyshakespeare.txt), trained on as bytes by both programs.
# L1B_BIN_DIR holds l1b-tokenize and l1b-train (default ./build).
#
# The shape: 4 layers, 4 heads, dim 128, context 64, batch 12, byte tokens.
# The two models are not the same architecture at those dimensions:
#   llm.c  GPT-2: LayerNorm (with biases), learned position embeddings, GELU
#          MLP 4x (512 wide), biases on every linear layer, output head tied
#          to the token embedding; vocabulary 256 (padded vocabulary 256);
#          float32 throughout.
#   l1b    RMSNorm, rotary positions, SwiGLU MLP (hidden 352, three
#          matrices), no biases, untied head; vocabulary 257 (bytes + end of
#          document); ternary (absmean) weights and int8 activations in the
#          blocks' linear layers, float shadow weights (QUANT=f32: float).
# The arithmetic is nearly the same: per token, forward, the matrix products
# are 12*C^2 = 196,608 multiply-adds a layer for llm.c against
# 4*C^2 + 3*C*352 = 200,704 for l1b, plus the head (32,768 against 32,896)
# and causal attention (about 8,300 a layer for both): about 0.85 M against
# 0.87 M multiply-adds a token, l1b ~2% more; a training step is about 3x
# its forward pass for both (llm.c's softmax backward, O(T^2) per row, adds
# under 1% at T=64).  Both run AdamW; l1b also clips the gradient norm and
# quantises weights and activations every step, which llm.c does not.
#
# What runs.  Once: a small C program kept in this script writes
#   model.bin  a random GPT-2 checkpoint in train_gpt2.c's format (256 int32
#              header: magic 20240326, version 3, maxT 64, V 256, L 4, NH 4,
#              C 128, Vp 256; then the float32 tensors in its order: weights
#              N(0, 0.02), LayerNorm gains 1, biases 0);
#   train.bin  the first 90% of CORPUS's bytes, val.bin the last 10%, in
#              llm.c's data format (256 int32 header: magic 20240520,
#              version 1, token count; then uint16 tokens);
# no tokenizer file (train_gpt2.c warns that it is missing and goes on; it
# needs it only to print samples, which are switched off).  A copy of
# LLMC_DIR/train_gpt2.c is patched with sed (nothing else changes): model,
# train and val paths -> the files above; B = 4 -> 12 (T = 64 as it is);
# the 41-step loop -> WARMUP+STEPS steps; validation (every 10 steps) and
# sampling (every 20) off.  It is built as llm.c's Makefile builds its CPU
# target:  cc -Ofast -Wno-unused-result -Wno-ignored-pragmas
# -Wno-unknown-attributes -march=native -fopenmp -DOMP train_gpt2.c -lm -lgomp
# CORPUS is tokenised for l1b once: l1b-tokenize -o corpus.tok CORPUS (bytes).
# Then, for each thread count N, alternating the two programs (llm.c, l1b,
# llm.c, l1b, ...) RUNS times each:
#
#   llm.c  OMP_NUM_THREADS=N /usr/bin/time -f %M ./train_gpt2   (in scratch)
#          -> its own "step S: train loss L (took X ms)" lines; each times one
#             step from drawing the batch to the end of the AdamW update.
#             Median of the STEPS steps after the first WARMUP; peak RSS.
#   l1b    /usr/bin/time -f %M l1b-train -q -o m.l1b --quant QUANT --dim 128
#             --layers 4 --heads 4 --hidden 352 --ctx 64 --batch 12
#             --steps WARMUP+STEPS --eval-every 1 --eval-batches 0
#             --save-every 0 --log log.tsv -j N corpus.tok
#          -> median of the ms_per_step column of the log rows after step
#             WARMUP (--eval-every 1: one row per step; with no evaluation
#             the per-row time is the step itself: batch, forward, backward,
#             clip, AdamW, not the row's bookkeeping); peak RSS.
#
# Both time only training steps, each step on its own, median after a
# warm-up, on random windows of the first 90% of the corpus (llm.c: a
# shuffled order of fixed windows); neither evaluates.  Peak RSS is the whole
# process's, from GNU time: for l1b it includes the final checkpoint write
# (l1b-train always saves at the end).
#
# Output: the CPU, the versions, uptime at the start and the end, and one
# markdown table: per thread count, the median over RUNS of each run's median
# ms/step, in brackets the spread of those run medians (max-min)/median,
# tokens/s = 12*64 / ms/step, peak RSS (median over runs; MB = 10^6 bytes),
# the ratio of tokens/s (l1b / llm.c; above 1: l1b is faster) and the median
# 1-minute load average read before each pair of runs.  A benchmark reports
# figures; it asserts nothing.
#
# Environment:
#   RUNS      runs per program and thread count (default 3)
#   THREADS   thread counts (default "1 2"; never more than the cores)
#   STEPS     timed steps per run (default 30)
#   WARMUP    untimed steps before them (default 5)
#   QUANT     l1b's --quant: absmean (default, ternary) or f32 (float)
#   CC        compiler for llm.c and the generator (default cc, as llm.c's
#             Makefile uses on Linux)
#   KEEP_TMP  set to keep the scratch directory (patched source, logs)
#   other OMP_* variables (e.g. OMP_WAIT_POLICY) are passed on to llm.c
#
# Caveat: on a loaded machine llm.c's OpenMP threads (libgomp's spin-then-
# sleep barriers; train_gpt2.c opens a parallel region per matrix product)
# can lose much more at 2 threads than l1b does; note the load column.

set -u
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 LLMC_DIR CORPUS [L1B_BIN_DIR]" >&2; exit 2; }
die() { echo "train-vs-llmc.sh: $*" >&2; exit 1; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
LDIR=$1
CORPUS=$2
BIN=${3:-./build}
RUNS=${RUNS:-3}
THREADS=${THREADS:-"1 2"}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
QUANT=${QUANT:-absmean}
CC=${CC:-cc}
TIME=/usr/bin/time
DIM=128 LAYERS=4 HEADS=4 HIDDEN=352 CTX=64 BATCH=12 V=256 VP=256

isnum() { case $1 in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -gt 0 ]; }
[ -d "$LDIR" ] || die "$LDIR: not a directory"
for f in train_gpt2.c llmc/utils.h llmc/tokenizer.h llmc/dataloader.h llmc/rand.h; do
    [ -f "$LDIR/$f" ] || die "$LDIR/$f: not found (put llm.c's train_gpt2.c and its llmc/ headers there yourself)"
done
{ [ -f "$CORPUS" ] && [ -r "$CORPUS" ]; } || die "$CORPUS: not a readable file"
[ -x "$BIN/l1b-train" ] || die "$BIN/l1b-train: not found (run make, or give L1B_BIN_DIR)"
[ -x "$BIN/l1b-tokenize" ] || die "$BIN/l1b-tokenize: not found (run make, or give L1B_BIN_DIR)"
[ -x "$TIME" ] || die "$TIME: not found (Debian package time)"
command -v "$CC" >/dev/null 2>&1 || die "$CC: not found"
isnum "$RUNS" || die "RUNS=$RUNS: not a positive whole number"
isnum "$STEPS" || die "STEPS=$STEPS: not a positive whole number"
case $WARMUP in ''|*[!0-9]*) die "WARMUP=$WARMUP: not a whole number" ;; esac
[ -n "$THREADS" ] || die "THREADS is empty"
for n in $THREADS; do isnum "$n" || die "THREADS: '$n' is not a positive whole number"; done
case $QUANT in absmean|twn|stochastic|sign|f32) ;; *) die "QUANT=$QUANT: not an l1b-train --quant scheme" ;; esac
size=$(wc -c < "$CORPUS")
# llm.c's loaders need B*T+1 tokens in the validation tenth as well
[ "$size" -ge $((10 * (BATCH * CTX + 1) + 10)) ] || die "$CORPUS: too small ($size bytes; need $((10 * (BATCH * CTX + 1) + 10)))"

scratch_dir train-vs-llmc

# ---- the checkpoint and data generator --------------------------------------
cat > "$TMP/gen.c" <<'EOF'
/* gen ckpt OUT maxT V Vp L NH C
 *   a random GPT-2 checkpoint as llm.c's train_gpt2.c reads it: int32 header
 *   [256] = {20240326, 3, maxT, V, L, NH, C, Vp, 0...}, then float32 wte (Vp,C),
 *   wpe (maxT,C), ln1w ln1b (L,C), qkvw (L,3C,C), qkvb (L,3C), attprojw (L,C,C),
 *   attprojb (L,C), ln2w ln2b (L,C), fcw (L,4C,C), fcb (L,4C), fcprojw (L,C,4C),
 *   fcprojb (L,C), lnfw lnfb (C).
 * gen data CORPUS TRAIN VAL
 *   CORPUS's bytes as uint16 tokens in llm.c's data format: int32 header
 *   [256] = {20240520, 1, ntok, 0...}, then ntok uint16; the first 90% of
 *   the bytes to TRAIN, the rest to VAL. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

static uint64_t s = 0x9E3779B97F4A7C15ull;
static double uni(void) /* uniform in (0, 1) */
{
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    return ((double)((s * 0x2545F4914F6CDD1Dull) >> 11) + 0.5) / 9007199254740992.0;
}
static FILE *f;
static const char *out;
static void put(size_t n, int kind) /* 0: N(0, 0.02), 1: ones, 2: zeros */
{
    float buf[4096];
    while (n) {
        size_t k = n < 4096 ? n : 4096;
        for (size_t i = 0; i < k; i++) {
            if (kind == 0) {
                double r = sqrt(-2.0 * log(uni())), t = 6.283185307179586 * uni();
                buf[i] = (float)(0.02 * r * cos(t));
            } else {
                buf[i] = kind == 1 ? 1.0f : 0.0f;
            }
        }
        if (fwrite(buf, sizeof(float), k, f) != k) { perror(out); exit(1); }
        n -= k;
    }
}
static int ckpt(char **a)
{
    int32_t hdr[256];
    memset(hdr, 0, sizeof hdr);
    size_t T = (size_t)atoi(a[1]), V = (size_t)atoi(a[2]), Vp = (size_t)atoi(a[3]);
    size_t L = (size_t)atoi(a[4]), NH = (size_t)atoi(a[5]), C = (size_t)atoi(a[6]);
    if (!T || !V || Vp < V || !L || !NH || !C || C % NH) { fprintf(stderr, "gen: bad shape\n"); return 2; }
    hdr[0] = 20240326; hdr[1] = 3; hdr[2] = (int32_t)T; hdr[3] = (int32_t)V;
    hdr[4] = (int32_t)L; hdr[5] = (int32_t)NH; hdr[6] = (int32_t)C; hdr[7] = (int32_t)Vp;
    out = a[0];
    f = fopen(out, "wb");
    if (!f) { perror(out); return 1; }
    if (fwrite(hdr, sizeof hdr, 1, f) != 1) { perror(out); return 1; }
    put(Vp * C, 0); put(T * C, 0);              /* wte, wpe */
    put(L * C, 1); put(L * C, 2);               /* ln1w, ln1b */
    put(L * 3 * C * C, 0); put(L * 3 * C, 2);   /* qkvw, qkvb */
    put(L * C * C, 0); put(L * C, 2);           /* attprojw, attprojb */
    put(L * C, 1); put(L * C, 2);               /* ln2w, ln2b */
    put(L * 4 * C * C, 0); put(L * 4 * C, 2);   /* fcw, fcb */
    put(L * C * 4 * C, 0); put(L * C, 2);       /* fcprojw, fcprojb */
    put(C, 1); put(C, 2);                       /* lnfw, lnfb */
    if (fclose(f)) { perror(out); return 1; }
    return 0;
}
static int write_tokens(const char *path, const unsigned char *b, size_t n)
{
    int32_t hdr[256];
    memset(hdr, 0, sizeof hdr);
    hdr[0] = 20240520; hdr[1] = 1; hdr[2] = (int32_t)n;
    FILE *g = fopen(path, "wb");
    if (!g) { perror(path); return 1; }
    fwrite(hdr, sizeof hdr, 1, g);
    for (size_t i = 0; i < n; i++) {
        uint16_t t = b[i];
        fwrite(&t, sizeof t, 1, g);
    }
    if (ferror(g) | fclose(g)) { perror(path); return 1; }
    return 0;
}
static int data(char **a)
{
    FILE *c = fopen(a[0], "rb");
    if (!c) { perror(a[0]); return 1; }
    size_t cap = 1 << 20, n = 0, k;
    unsigned char *b = malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, c)) > 0) {
        n += k;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    if (!b || ferror(c)) { fprintf(stderr, "gen: cannot read %s\n", a[0]); return 1; }
    fclose(c);
    if (n > 0x7fffffff) { fprintf(stderr, "gen: %s: over 2^31 bytes\n", a[0]); return 1; }
    size_t ntrain = n / 10 * 9;
    return write_tokens(a[1], b, ntrain) || write_tokens(a[2], b + ntrain, n - ntrain);
}
int main(int argc, char **argv)
{
    if (argc == 9 && !strcmp(argv[1], "ckpt")) return ckpt(argv + 2);
    if (argc == 5 && !strcmp(argv[1], "data")) return data(argv + 2);
    fprintf(stderr, "usage: gen ckpt OUT maxT V Vp L NH C | gen data CORPUS TRAIN VAL\n");
    return 2;
}
EOF
"$CC" -O2 -o "$TMP/gen" "$TMP/gen.c" -lm 2> "$TMP/err" || die "building the generator failed: $(cat "$TMP/err")"
"$TMP/gen" ckpt "$TMP/model.bin" "$CTX" "$V" "$VP" "$LAYERS" "$HEADS" "$DIM" || die "writing the checkpoint failed"
"$TMP/gen" data "$CORPUS" "$TMP/train.bin" "$TMP/val.bin" || die "writing the data files failed"

# ---- llm.c, patched where needed and built as its Makefile does ------------------
NSTEP=$((WARMUP + STEPS))
SRC=$LDIR/train_gpt2.c
# each edit: the exact text of the version this was written against, and its replacement
for old in \
    'gpt2_build_from_checkpoint(&model, "gpt2_124M.bin");' \
    '"dev/data/tinyshakespeare/tiny_shakespeare_train.bin"' \
    '"dev/data/tinyshakespeare/tiny_shakespeare_val.bin"' \
    'int B = 4;' 'int T = 64;' \
    'for (int step = 0; step <= 40; step++) {' \
    'if (step % 10 == 0) {' \
    'if (step > 0 && step % 20 == 0) {' \
    'printf("step %d: train loss %f (took %f ms)\n", step, model.mean_loss, time_elapsed_s * 1000);'
do
    [ "$(grep -c -F "$old" "$SRC")" -eq 1 ] ||
        die "$SRC: not the train_gpt2.c this script patches (expected this line once: $old)"
done
sed -e 's|"gpt2_124M\.bin"|"model.bin"|' \
    -e 's|"dev/data/tinyshakespeare/tiny_shakespeare_train\.bin"|"train.bin"|' \
    -e 's|"dev/data/tinyshakespeare/tiny_shakespeare_val\.bin"|"val.bin"|' \
    -e 's|int B = 4;|int B = '"$BATCH"';|' \
    -e 's|for (int step = 0; step <= 40; step++) {|for (int step = 0; step < '"$NSTEP"'; step++) {|' \
    -e 's|if (step % 10 == 0) {|if (0) { /* validation off */|' \
    -e 's|if (step > 0 && step % 20 == 0) {|if (0) { /* sampling off */|' \
    "$SRC" > "$TMP/train_gpt2.c" || die "patching $SRC failed"
diff "$SRC" "$TMP/train_gpt2.c" > "$TMP/patch.diff"
[ "$(grep -c '^>' "$TMP/patch.diff")" -eq 7 ] || die "patching $SRC: expected 7 changed lines, got $(grep -c '^>' "$TMP/patch.diff")"
LLMC_FLAGS="-Ofast -Wno-unused-result -Wno-ignored-pragmas -Wno-unknown-attributes -march=native -fopenmp -DOMP"
# shellcheck disable=SC2086   # the flags split on purpose
"$CC" $LLMC_FLAGS -I "$LDIR" "$TMP/train_gpt2.c" -lm -lgomp -o "$TMP/train_gpt2" 2> "$TMP/err" ||
    die "building train_gpt2.c failed: $(tail -n 5 "$TMP/err")"

"$BIN/l1b-tokenize" -o "$TMP/corpus.tok" "$CORPUS" 2> "$TMP/err" || die "l1b-tokenize failed: $(cat "$TMP/err")"
cat "$TMP/train.bin" "$TMP/model.bin" "$TMP/corpus.tok" > /dev/null   # into the page cache


CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
echo "cpu: $CPU ($(nproc) cores; flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'sse2|ssse3|fma|avx2|avx512f' | tr '\n' ' '))"
echo "l1b: $("$BIN/l1b-train" --version 2>&1 | head -n 1) ($BIN), --quant $QUANT"
echo "llm.c: $SRC (sha256 $(sha256sum "$SRC" | cut -c1-16)), $("$CC" --version | head -n 1), $LLMC_FLAGS"
echo "corpus: $CORPUS ($size bytes)"
echo "shape: $LAYERS layers, $HEADS heads, dim $DIM, ctx $CTX, batch $BATCH; llm.c GPT-2 V $V (padded $VP), l1b SwiGLU hidden $HIDDEN V 257"
echo "runs: $RUNS per program and thread count, alternating llm.c / l1b; $WARMUP warm-up + $STEPS timed steps each"
echo "start: $(uptime)"

: > "$TMP/results"
for n in $THREADS; do
    for f in c.ms c.rss l.ms l.rss load; do : > "$TMP/$n.$f"; done
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        cut -d' ' -f1 /proc/loadavg >> "$TMP/$n.load"
        (cd "$TMP" && OMP_NUM_THREADS=$n "$TIME" -f '%M' -o rss ./train_gpt2) \
            > "$TMP/$n.c.out.$i" 2> "$TMP/err" || die "train_gpt2 failed: $(tail -n 3 "$TMP/err"; tail -n 3 "$TMP/$n.c.out.$i")"
        awk -v w="$WARMUP" '$1 == "step" && $3 == "train" && $6 == "(took" && $2 + 0 >= w { print $7 }' \
            "$TMP/$n.c.out.$i" > "$TMP/steps"
        [ "$(wc -l < "$TMP/steps")" -eq "$STEPS" ] || die "train_gpt2: expected $STEPS timed steps, got $(wc -l < "$TMP/steps")"
        set -- $(median_spread "$TMP/steps"); echo "$1" >> "$TMP/$n.c.ms"
        tail -n 1 "$TMP/rss" >> "$TMP/$n.c.rss"
        awk '$1 == "step" && $3 == "train" && $5 !~ /^[0-9.]+$/ { bad = 1 } END { exit !bad }' "$TMP/$n.c.out.$i" &&
            echo "warning: llm.c -j$n run $i: a training loss is not finite" >&2

        rm -f "$TMP/m.l1b" "$TMP/m.l1b.lock" "$TMP/log.tsv"
        "$TIME" -f '%M' -o "$TMP/rss" "$BIN/l1b-train" -q -o "$TMP/m.l1b" --quant "$QUANT" \
            --dim "$DIM" --layers "$LAYERS" --heads "$HEADS" --hidden "$HIDDEN" --ctx "$CTX" \
            --batch "$BATCH" --steps "$NSTEP" --eval-every 1 --eval-batches 0 \
            --save-every 0 --log "$TMP/log.tsv" -j "$n" "$TMP/corpus.tok" \
            > /dev/null 2> "$TMP/err" || die "l1b-train failed: $(tail -n 3 "$TMP/err")"
        cp "$TMP/log.tsv" "$TMP/$n.l.log.$i"
        awk -F'\t' -v w="$WARMUP" '
            NR == 1 { for (c = 1; c <= NF; c++) { if ($c == "step") s = c; if ($c == "ms_per_step") m = c }; next }
            $s > w { print $m }' "$TMP/log.tsv" > "$TMP/steps"
        [ "$(wc -l < "$TMP/steps")" -eq "$STEPS" ] || die "l1b-train log: expected $STEPS timed rows, got $(wc -l < "$TMP/steps")"
        set -- $(median_spread "$TMP/steps"); echo "$1" >> "$TMP/$n.l.ms"
        tail -n 1 "$TMP/rss" >> "$TMP/$n.l.rss"
    done
    set -- $(median_spread "$TMP/$n.c.ms"); cm=$1 cs=$2
    set -- $(median_spread "$TMP/$n.l.ms"); lm=$1 ls=$2
    set -- $(median_spread "$TMP/$n.c.rss"); cr=$1
    set -- $(median_spread "$TMP/$n.l.rss"); lr=$1
    set -- $(median_spread "$TMP/$n.load"); ld=$1
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$cm" "$cs" "$lm" "$ls" "$cr" "$lr" "$ld" >> "$TMP/results"
done
echo "end:   $(uptime)"
echo

awk -F'\t' -v tok=$((BATCH * CTX)) '
    BEGIN {
        print "| threads | llm.c ms/step | llm.c tok/s | llm.c peak RSS | l1b ms/step | l1b tok/s | l1b peak RSS | l1b / llm.c (tok/s) | load (1-min) |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }
    {
        printf "| %s | %.1f (%.0f%%) | %.0f | %.1f MB | %.1f (%.0f%%) | %.0f | %.1f MB | %.2fx | %.2f |\n",
            $1, $2, 100 * $3, 1000 * tok / $2, $6 * 1024 / 1e6, $4, 100 * $5, 1000 * tok / $4,
            $7 * 1024 / 1e6, $2 / $4, $8
    }' "$TMP/results"
echo
echo "ms/step: median over $RUNS runs of each run's median step ($STEPS steps after $WARMUP warm-up);"
echo "(%) = spread (max-min)/median of the run medians.  tok/s = $BATCH x $CTX tokens / ms/step."
echo "peak RSS: GNU time's maximum resident set size, median over runs; MB = 10^6 bytes."
