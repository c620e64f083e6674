#!/bin/sh
# shellcheck disable=SC2046   # set -- $(median_range ...) splits numbers on purpose
# vs-llamacpp.sh — l1b's sampler against llama.cpp's ternary types (TQ2_0,
# TQ1_0), side by side, one thread each: prompt processing and generation at
# a dim-768 shape, and (BIG=1) generation at a 1.2 G-weight shape.
#
# usage: tests/bench/vs-llamacpp.sh LLAMA_BIN_DIR [L1B_BIN_DIR]
#
# LLAMA_BIN_DIR is the bin directory of a llama.cpp CPU build you made
# yourself (https://github.com/ggml-org/llama.cpp; this script neither
# downloads nor contains any of it), holding llama-bench, llama-quantize and
# llama-convert-llama2c-to-ggml.  L1B_BIN_DIR holds l1b-train, l1b-tokenize,
# l1b-ckpt and l1b-bench (default ./build).
#
# Needs: flock and nice (util-linux, coreutils); for BIG=1 also python3 with
# numpy (Debian: apt-get install python3-numpy) and llama.cpp's gguf-py
# package (default LLAMA_BIN_DIR/../../gguf-py, the source tree's).  About
# 2 GB of disk under $TMPDIR for part 1, 6 GB more for BIG=1 (removed at
# exit); BIG=1 takes some 15 minutes at RUNS=3.
#
# 1. d768 L12 h12 H2048, context 512, byte vocabulary (257 ids).  A model of
#    that shape is trained for one step on this repository's README.md
#    (l1b-tokenize, l1b-train -j 1 --steps 1), exported
#    (l1b-ckpt export --format llama2c --tokenizer-out), converted
#    (llama-convert-llama2c-to-ggml) and quantised with llama-quantize to
#    TQ2_0, TQ1_0 and (Q8=1, default) Q8_0, the embedding and classifier
#    q8_0 in all three.  Measures, tokens per second:
#      pp512  llama-bench -m X.gguf -t 1 -p 512 -n 128 -r 1 -o jsonl
#               (the pp512 test: one batch of 512 tokens, last logits only)
#             l1b-bench sample -j 1 --bits B --shape dim=768,...,ctx=512,vocab=257
#               -> row "prefill" (512 tokens, last logits only)
#      tg128  llama-bench, the tg128 test of the same run (128 tokens one at a
#               time from an empty cache)
#             l1b-bench sample -j 1 --bits B --shape ...,ctx=128,...
#               -> row "decode per token" (128 positions from an empty cache,
#               greedy), so both sides attend over the same positions
#    l1b's 2-bit packing (--bits 2) is set beside TQ2_0 and its 1.6-bit
#    packing (--bits 1.6) beside TQ1_0; Q8_0 is a non-ternary reference.
# 2. BIG=1: d2048 L24 h16 (head size 128) H5632 V4096, context 256: 1.2 G
#    ternary weights.  l1b-bench makes its own random packed model
#    (l1b-bench sample -j 1 --bits B --shape dim=2048,...,ctx=256,vocab=4096,
#    row "decode per token": 256 positions).  For llama.cpp a small python
#    program kept in this script writes a float16 GGUF of llama architecture
#    of that shape with gguf-py: random ternary block matrices ({-s, 0, +s},
#    so TQ2_0 and TQ1_0 hold them exactly), the tokenizer keys of part 1's
#    GGUF with the token list padded to 4096; llama-quantize makes TQ2_0 and
#    TQ1_0 of it (embedding and classifier q8_0), and
#      tg64   llama-bench -m X.gguf -t 1 -p 0 -n 64 -r 1
#    is set beside l1b's decode.  Decode only: the attention over 64 or 256
#    positions is about 1% of a token's work at this width.
#
# Every timed command runs as  flock $LOCK nice -n -10 COMMAND  so that no two
# timing runs (of this or other benchmarks using the lock) overlap; nice -10
# needs root (else nice warns and runs the command at its own niceness).  Per
# round: l1b 2-bit, llama.cpp TQ2_0, l1b 1.6-bit, llama.cpp TQ1_0
# (, llama.cpp Q8_0), RUNS rounds.  Each l1b-bench figure is itself the
# median of 5 repetitions after a warm-up; each llama-bench figure is one
# repetition after its warm-up (-r 1).  Reported: the median over RUNS, with
# the minimum and maximum, and the ratio of the medians l1b / llama.cpp.
# A benchmark reports figures; it asserts nothing.
#
# L1B_BIN_DIR must not be rebuilt during the run; where others edit and
# rebuild the working tree, build a commit apart and give that directory:
#   git archive HEAD | tar -x -C DIR && make -C DIR   (then DIR/build)
#
# Environment:
#   RUNS         rounds (default 3)
#   BIG          1: also part 2, the 1.2 G-weight shape (default 0)
#   Q8           0: no Q8_0 reference in part 1 (default 1)
#   LOCK         the lock file of the timing runs (default /tmp/l1b-bench.lock)
#   PYTHON       a python3 that has numpy (default: python3, else /usr/bin/python3)
#   GGUF_PY      gguf-py directory (default LLAMA_BIN_DIR/../../gguf-py)
#   CORPUS       text for part 1's one training step (default README.md)
#   LLAMA_COMMIT llama.cpp's commit, to print (default: git in LLAMA_BIN_DIR,
#                else what llama-bench reports)
#   L1B_COMMIT   l1b's commit, to print (default: git in L1B_BIN_DIR)
#   KEEP_TMP     set to keep the scratch directory (models, raw results)

set -u
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 LLAMA_BIN_DIR [L1B_BIN_DIR]" >&2; exit 2; }
die() { echo "vs-llamacpp.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
LBIN=$1
BIN=${2:-./build}
RUNS=${RUNS:-3}
BIG=${BIG:-0}
Q8=${Q8:-1}
LOCK=${LOCK:-/tmp/l1b-bench.lock}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=${CORPUS:-$REPO/README.md}
GGUF_PY=${GGUF_PY:-$LBIN/../../gguf-py}

for p in llama-bench llama-quantize llama-convert-llama2c-to-ggml; do
    [ -x "$LBIN/$p" ] || die "$LBIN/$p: not found (give llama.cpp's build/bin)"
done
for p in l1b-train l1b-tokenize l1b-ckpt l1b-bench; do
    [ -x "$BIN/$p" ] || die "$BIN/$p: not found (run make, or give L1B_BIN_DIR)"
done
command -v flock >/dev/null 2>&1 || die "flock: not found (util-linux)"
[ -f "$CORPUS" ] || die "$CORPUS: not found (set CORPUS)"
case $RUNS in ''|*[!0-9]*|0) die "RUNS=$RUNS: want a positive integer" ;; esac

if [ "$BIG" = 1 ]; then
    [ -f "$GGUF_PY/gguf/__init__.py" ] || die "$GGUF_PY: not gguf-py (set GGUF_PY)"
    PY=
    for p in ${PYTHON:-python3 /usr/bin/python3}; do
        if "$p" -c 'import numpy' >/dev/null 2>&1; then PY=$p; break; fi
    done
    [ -n "$PY" ] || die "no python3 with numpy (apt-get install python3-numpy, or set PYTHON)"
fi

scratch_dir vs-llamacpp

# timed COMMAND...: a timing run, never beside another one
timed() { flock "$LOCK" nice -n -10 "$@"; }

# load: the 1-minute load average, appended to $TMP/$1.load
load() { cut -d' ' -f1 /proc/loadavg >> "$TMP/$1.load"; }

# l1b_run TAG BITS SHAPE: one l1b-bench sample run; appends the "prefill" and
# "decode per token" rates (tok/s) to $TMP/TAG.pp and $TMP/TAG.tg
l1b_run() {
    timed "$BIN/l1b-bench" sample -j 1 --bits "$2" --format tsv --shape "$3" \
        > "$TMP/tsv" 2> "$TMP/err" || die "l1b-bench failed: $(cat "$TMP/err")"
    awk -F'\t' '$1 == "prefill" { print $8 }' "$TMP/tsv" >> "$TMP/$1.pp"
    awk -F'\t' '$1 == "decode per token" { print $8 }' "$TMP/tsv" >> "$TMP/$1.tg"
}

# llama_run TAG MODEL ARGS...: one llama-bench run at one thread; appends the
# tok/s of its prompt test to $TMP/TAG.pp and of its generation test to
# $TMP/TAG.tg
llama_run() {
    tag=$1 model=$2
    shift 2
    timed "$LBIN/llama-bench" -m "$model" -t 1 -r 1 -o jsonl "$@" \
        > "$TMP/jl" 2> "$TMP/err" || die "llama-bench failed: $(tail -n 5 "$TMP/err")"
    sed -n 's/.*"n_prompt": *\([0-9]*\),.*"n_gen": *\([0-9]*\),.*"avg_ts": *\([0-9.eE+-]*\),.*/\1 \2 \3/p' "$TMP/jl" |
        while read -r np ng ts; do
            if [ "$np" -gt 0 ]; then echo "$ts" >> "$TMP/$tag.pp"; fi
            if [ "$ng" -gt 0 ]; then echo "$ts" >> "$TMP/$tag.tg"; fi
        done
    [ -n "${LCOMMIT:-}" ] || LCOMMIT=$(sed -n 's/^{"build_commit": *"\([^"]*\)".*/\1/p' "$TMP/jl" | head -n 1)
}

# quantise IN OUT TYPE: llama-quantize with q8_0 embedding and classifier
quantise() {
    "$LBIN/llama-quantize" --token-embedding-type q8_0 --output-tensor-type q8_0 \
        "$1" "$2" "$3" > "$TMP/q.log" 2>&1 || die "llama-quantize $3 failed: $(tail -n 5 "$TMP/q.log")"
    sed -n 's/.*quant size *= *\(.*\)/\1/p' "$TMP/q.log" | sed "s|^|$(basename "$2" .gguf) |" >> "$TMP/sizes"
}

# cell FILE: "median (min-max)" of the rates in FILE, to 3 significant digits
cell() {
    if [ -s "$1" ]; then
        median_range < "$1" | awk '{ printf "%.4g (%.4g-%.4g)", $1, $2, $3 }'
    else
        printf -- '-'
    fi
}
med() { if [ -s "$1" ]; then set -- $(median_range < "$1"); echo "$1"; else echo nan; fi; }
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2fx", a / b }'; }

# ---- part 1: the dim-768 model, through llama2.c's format to GGUF ----------
S1=dim=768,layers=12,heads=12,hidden=2048
echo "preparing: d768 L12 model (l1b-train, 1 step), export, convert, quantise" >&2
"$BIN/l1b-tokenize" -q -o "$TMP/corpus.tok" "$CORPUS" 2> "$TMP/err" || die "l1b-tokenize failed: $(cat "$TMP/err")"
"$BIN/l1b-train" -q -j 1 -o "$TMP/m.l1b" --dim 768 --layers 12 --heads 12 --hidden 2048 --ctx 512 \
    --steps 1 --warmup 1 --batch 1 --val-frac 0 --save-every 0 "$TMP/corpus.tok" \
    2> "$TMP/err" || die "l1b-train failed: $(cat "$TMP/err")"
V=$("$BIN/l1b-ckpt" info "$TMP/m.l1b" | sed -n 's/^shape .* vocab \([0-9]*\).*/\1/p')
[ -n "$V" ] || die "l1b-ckpt info: no vocab"
"$BIN/l1b-ckpt" export --format llama2c --tokenizer-out "$TMP/tok.bin" "$TMP/m.l1b" "$TMP/m.bin" \
    2> "$TMP/err" || die "l1b-ckpt export failed: $(cat "$TMP/err")"
rm -f "$TMP/m.l1b" "$TMP/m.l1b.lock"
"$LBIN/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$TMP/tok.bin" \
    --llama2c-model "$TMP/m.bin" --llama2c-output-model "$TMP/f32.gguf" > "$TMP/conv.log" 2>&1 ||
    die "llama-convert-llama2c-to-ggml failed: $(tail -n 5 "$TMP/conv.log")"
rm -f "$TMP/m.bin"
TYPES1="TQ2_0 TQ1_0"
[ "$Q8" = 1 ] && TYPES1="$TYPES1 Q8_0"
for t in $TYPES1; do quantise "$TMP/f32.gguf" "$TMP/$t.gguf" "$t"; done

# ---- part 2: a random GGUF of the big shape ---------------------------------
D2=2048 L2=24 NH2=16 H2=5632 V2=4096 T2=256
S2=dim=$D2,layers=$L2,heads=$NH2,hidden=$H2,ctx=$T2,vocab=$V2
if [ "$BIG" = 1 ]; then
    cat > "$TMP/mkgguf.py" <<'EOF'
# mkgguf.py SMALL.gguf OUT.gguf DIM LAYERS HEADS HIDDEN VOCAB CTX
# A llama-architecture GGUF of the given shape with random weights, float16:
# block matrices ternary ({-s, 0, +s}, s per matrix, so TQ1_0 and TQ2_0 hold
# them exactly), embedding and classifier small random floats, norms 1.  The
# tokenizer keys come from SMALL.gguf, its token list padded to VOCAB.
# Written one tensor at a time (add_tensor_info, then write_tensor_data), so
# memory stays about one matrix.
import sys
import numpy as np
import gguf

small, out = sys.argv[1], sys.argv[2]
D, L, NH, H, V, T = (int(a) for a in sys.argv[3:9])
f = gguf.GGUFReader(small).fields
tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data]
scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
if len(tokens) > V:
    sys.exit("mkgguf: %s has %d tokens, more than %d" % (small, len(tokens), V))
for i in range(len(tokens), V):
    tokens.append(b"<pad%05d>" % i)
    scores.append(0.0)
    types.append(int(gguf.TokenType.USER_DEFINED))

w = gguf.GGUFWriter(out, "llama")
w.add_name("random ternary d%d L%d" % (D, L))
w.add_context_length(T)
w.add_embedding_length(D)
w.add_block_count(L)
w.add_feed_forward_length(H)
w.add_head_count(NH)
w.add_head_count_kv(NH)
w.add_rope_dimension_count(D // NH)
w.add_layer_norm_rms_eps(1e-5)
w.add_vocab_size(V)
w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
w.add_tokenizer_model(str(f["tokenizer.ggml.model"].contents()))
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types(types)
w.add_unk_token_id(int(f["tokenizer.ggml.unknown_token_id"].contents()))
w.add_bos_token_id(int(f["tokenizer.ggml.bos_token_id"].contents()))
w.add_eos_token_id(int(f["tokenizer.ggml.eos_token_id"].contents()))

# (name, numpy shape = (rows, row length), kind: f float, t ternary, 1 ones)
ts = [("token_embd.weight", (V, D), "f"), ("output_norm.weight", (D,), "1"),
      ("output.weight", (V, D), "f")]
for l in range(L):
    b = "blk.%d." % l
    ts += [(b + "attn_norm.weight", (D,), "1"),
           (b + "attn_q.weight", (D, D), "t"), (b + "attn_k.weight", (D, D), "t"),
           (b + "attn_v.weight", (D, D), "t"), (b + "attn_output.weight", (D, D), "t"),
           (b + "ffn_norm.weight", (D,), "1"),
           (b + "ffn_gate.weight", (H, D), "t"), (b + "ffn_up.weight", (H, D), "t"),
           (b + "ffn_down.weight", (D, H), "t")]
dt = {"f": np.dtype(np.float16), "t": np.dtype(np.float16), "1": np.dtype(np.float32)}
for name, shape, kind in ts:
    w.add_tensor_info(name, shape, dt[kind], int(np.prod(shape)) * dt[kind].itemsize)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
rng = np.random.default_rng(1)
for name, shape, kind in ts:
    if kind == "1":
        a = np.ones(shape, dtype=np.float32)
    elif kind == "f":
        a = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
    else:
        s = np.float16((1.5 / shape[1]) ** 0.5)  # about unit variance out for unit in
        a = rng.integers(-1, 2, size=shape, dtype=np.int8).astype(np.float16) * s
    w.write_tensor_data(a)
w.close()
EOF
    echo "preparing: random d$D2 L$L2 GGUF (float16, 2.5 GB), quantise" >&2
    PYTHONPATH=$GGUF_PY${PYTHONPATH:+:$PYTHONPATH} "$PY" "$TMP/mkgguf.py" "$TMP/f32.gguf" "$TMP/big-f16.gguf" \
        "$D2" "$L2" "$NH2" "$H2" "$V2" "$T2" 2> "$TMP/err" || die "mkgguf.py failed: $(tail -n 5 "$TMP/err")"
    for t in TQ2_0 TQ1_0; do quantise "$TMP/big-f16.gguf" "$TMP/big-$t.gguf" "$t"; done
    rm -f "$TMP/big-f16.gguf"
fi
rm -f "$TMP/f32.gguf"

LCOMMIT=${LLAMA_COMMIT:-$(git -C "$LBIN" rev-parse --short HEAD 2>/dev/null)}
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
# l1b's commit: of the git tree L1B_BIN_DIR is in, marked when lib/, cmd/ or
# the Makefile differ from it (the binaries may be built from those changes)
if [ -n "${L1B_COMMIT:-}" ]; then
    L1BC=$L1B_COMMIT
elif L1BC=$(git -C "$BIN" rev-parse --short HEAD 2>/dev/null); then
    top=$(git -C "$BIN" rev-parse --show-toplevel)
    git -C "$top" diff --quiet HEAD -- lib cmd Makefile 2>/dev/null ||
        L1BC="$L1BC, with uncommitted changes to lib/, cmd/ or the Makefile"
else
    L1BC="unknown (set L1B_COMMIT)"
fi

# ---- the timing rounds -------------------------------------------------------
echo "start: $(loadline)" > "$TMP/start"
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    echo "round $i of $RUNS: part 1" >&2
    load s1
    l1b_run s1.l2 2 "$S1,ctx=512,vocab=$V"
    l1b_run s1.l2x 2 "$S1,ctx=128,vocab=$V"
    llama_run s1.tq2 "$TMP/TQ2_0.gguf" -p 512 -n 128
    l1b_run s1.l16 1.6 "$S1,ctx=512,vocab=$V"
    l1b_run s1.l16x 1.6 "$S1,ctx=128,vocab=$V"
    llama_run s1.tq1 "$TMP/TQ1_0.gguf" -p 512 -n 128
    [ "$Q8" = 1 ] && llama_run s1.q8 "$TMP/Q8_0.gguf" -p 512 -n 128
    load s1
done
if [ "$BIG" = 1 ]; then
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        echo "round $i of $RUNS: part 2" >&2
        load s2
        l1b_run s2.l2 2 "$S2"
        llama_run s2.tq2 "$TMP/big-TQ2_0.gguf" -p 0 -n 64
        l1b_run s2.l16 1.6 "$S2"
        llama_run s2.tq1 "$TMP/big-TQ1_0.gguf" -p 0 -n 64
        load s2
    done
fi

# ---- report -------------------------------------------------------------------
echo "cpu: $CPU ($(nproc) cores); one thread: llama-bench -t 1, l1b-bench -j 1"
echo "l1b: commit $L1BC, $("$BIN/l1b-bench" --version 2>&1 | head -n 1)"
echo "llama.cpp: commit ${LCOMMIT:-unknown} ($LBIN)"
cat "$TMP/start"
echo "end:   $(loadline)"
echo "runs: $RUNS rounds, alternating l1b and llama.cpp, each under flock $LOCK nice -n -10"
echo "llama.cpp models (llama-quantize's quant size): $(awk '{ printf "%s%s", (NR > 1 ? "; " : ""), $0 }' "$TMP/sizes")"
echo
echo "d768 L12 h12 H2048 V$V, one thread; tok/s, median (min-max) of $RUNS runs; 1-min load during the rounds $(cell "$TMP/s1.load")"
echo
echo "| measure | l1b 2-bit | llama.cpp TQ2_0 | l1b / TQ2_0 | l1b 1.6-bit | llama.cpp TQ1_0 | l1b / TQ1_0 | llama.cpp Q8_0 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
echo "| pp512 (l1b prefill, ctx 512) | $(cell "$TMP/s1.l2.pp") | $(cell "$TMP/s1.tq2.pp") | $(ratio "$TMP/s1.l2.pp" "$TMP/s1.tq2.pp") | $(cell "$TMP/s1.l16.pp") | $(cell "$TMP/s1.tq1.pp") | $(ratio "$TMP/s1.l16.pp" "$TMP/s1.tq1.pp") | $(cell "$TMP/s1.q8.pp") |"
echo "| tg128 (l1b decode, ctx 128) | $(cell "$TMP/s1.l2x.tg") | $(cell "$TMP/s1.tq2.tg") | $(ratio "$TMP/s1.l2x.tg" "$TMP/s1.tq2.tg") | $(cell "$TMP/s1.l16x.tg") | $(cell "$TMP/s1.tq1.tg") | $(ratio "$TMP/s1.l16x.tg" "$TMP/s1.tq1.tg") | $(cell "$TMP/s1.q8.tg") |"
echo "| (l1b decode, ctx 512) | $(cell "$TMP/s1.l2.tg") | | | $(cell "$TMP/s1.l16.tg") | | | |"
if [ "$BIG" = 1 ]; then
    echo
    echo "d$D2 L$L2 h$NH2 H$H2 V$V2 (1.2 G ternary weights), one thread; tok/s, median (min-max) of $RUNS runs; 1-min load during the rounds $(cell "$TMP/s2.load")"
    echo
    echo "| measure | l1b 2-bit | llama.cpp TQ2_0 | l1b / TQ2_0 | l1b 1.6-bit | llama.cpp TQ1_0 | l1b / TQ1_0 |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    echo "| tg64 (l1b decode, ctx $T2) | $(cell "$TMP/s2.l2.tg") | $(cell "$TMP/s2.tq2.tg") | $(ratio "$TMP/s2.l2.tg" "$TMP/s2.tq2.tg") | $(cell "$TMP/s2.l16.tg") | $(cell "$TMP/s2.tq1.tg") | $(ratio "$TMP/s2.l16.tg" "$TMP/s2.tq1.tg") |"
    echo "| (l1b prefill of $T2) | $(cell "$TMP/s2.l2.pp") | | | $(cell "$TMP/s2.l16.pp") | | |"
fi
