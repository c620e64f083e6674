#!/bin/sh
# Seed corpora for the fuzz targets, made with the project's own programs:
#
#   tests/fuzz/make-seeds.sh BIN_DIR OUT_DIR
#
# BIN_DIR holds l1b-tokenize, l1b-train and l1b-ckpt (a normal build);
# OUT_DIR gets one directory per target (tokstream, ckpt, packed,
# tokenizer, textscan, bpe, parse), emptied first. Each seed is a valid
# input of its kind (the targets' comments say what that is): token
# streams (bytes, BPE, with end-of-document tokens, empty, and one longer
# than the reader's 64 KiB buffer), tiny trained checkpoints (the shape
# in docs/RELIABILITY.md and smaller ones, absmean, sign, f32, relu2), their
# inference files at --bits 2 and 1.6, tokenizer records cut from stream
# headers, texts and id lists, numbers, durations, names and model shapes.
# A few seconds; about 1 MB.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR OUT_DIR" >&2; exit 2; }
bin=$1
out=$2
for p in l1b-tokenize l1b-train l1b-ckpt; do
    [ -x "$bin/$p" ] || { echo "$0: $bin/$p: not found (build first)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/l1b-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# little-endian words, as the formats store them
u32() {
    for v in "$@"; do
        printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))"
    done
}
u16() {
    for v in "$@"; do
        printf "$(printf '\\%03o\\%03o' $((v & 255)) $((v >> 8 & 255)))"
    done
}

targets="tokstream ckpt packed tokenizer textscan bpe parse"
for t in $targets; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
done

# ---- texts ---------------------------------------------------------------
printf 'The quick brown fox jumps over the lazy dog. 1234 + 5678 = 6912!\n' > "$work/prose.txt"
printf 'first line\nsecond line\n\nafter a blank line\n\n\n  indented, last line without newline' > "$work/lines.txt"
printf 'rec one\000rec two\000\000last' > "$work/nul.txt"
printf 'caf\303\251 na\303\257ve \342\202\254 12\t\tabc\r\n\v\f' > "$work/utf8.txt"
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000000000000000000000000000000000000000000000000000000000000000000000 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' > "$work/runs.txt"
: > "$work/empty.txt"
# a corpus for training and BPE: the texts, repeated
i=0
while [ $i -lt 40 ]; do
    cat "$work/prose.txt" "$work/lines.txt" "$work/utf8.txt"
    printf '\n\n'
    i=$((i + 1))
done > "$work/corpus.txt"
# past the token stream reader's 64 KiB buffer in bytes: 2 bytes a token
i=0
while [ $i -lt 12 ]; do cat "$work/corpus.txt"; i=$((i + 1)); done | head -c 40000 > "$work/big.txt"

# ---- token streams ---------------------------------------------------------
tok=$bin/l1b-tokenize
$tok -q -o "$work/bytes.tok" "$work/prose.txt"
$tok -q --doc line -o "$work/lines.tok" "$work/lines.txt"
$tok -q --doc nul -o "$work/nul.tok" "$work/nul.txt"
$tok -q -o "$work/empty.tok" "$work/empty.txt"
$tok -q --bpe --vocab 300 -o "$work/bpe.tok" "$work/corpus.txt"
$tok -q --bpe --vocab 260 --doc blank -o "$work/bpe-blank.tok" "$work/lines.txt"
$tok -q -o "$work/corpus.tok" "$work/corpus.txt"
$tok -q -o "$work/big.tok" "$work/big.txt"
for s in bytes lines nul empty bpe-blank big; do cp "$work/$s.tok" "$out/tokstream/$s.tok"; done
head -c 600 "$work/bpe.tok" > "$out/tokstream/bpe-head.tok"   # header and the start: truncated
: > "$out/tokstream/empty-file"
cp "$work/bpe.tok" "$out/tokstream/bpe.tok"

# ---- tokenizer records, cut from stream headers -----------------------------
# the u32 at byte 20 is the record size; the record starts at byte 24
for s in bytes bpe bpe-blank; do
    set -- $(od -An -tu1 -j20 -N4 "$work/$s.tok")
    size=$(($1 + $2 * 256 + $3 * 65536 + $4 * 16777216))
    dd if="$work/$s.tok" bs=1 skip=24 count=$size 2>/dev/null > "$out/tokenizer/$s.rec"
done
# merges doubling "a": 64 bytes after six, one too long after seven
{ u32 2 1 263 1 6; u16 97 97 257 257 258 258 259 259 260 260 261 261; } > "$out/tokenizer/doubling-64.rec"
{ u32 2 1 264 1 7; u16 97 97 257 257 258 258 259 259 260 260 261 261 262 262; } > "$out/tokenizer/doubling-128.rec"

# ---- models ----------------------------------------------------------------
train() {  # NAME TOKENS OPTIONS...
    name=$1 data=$2
    shift 2
    "$bin/l1b-train" -q -j 1 -o "$work/$name.l1b" --steps 2 --batch 2 --eval-every 1 --eval-batches 1 \
        --warmup 1 "$@" "$work/$data.tok"
}
train tiny corpus --dim 2 --layers 1 --heads 1 --hidden 2 --ctx 2
train small corpus --dim 16 --layers 1 --heads 2 --ctx 16
train bpe bpe --dim 4 --layers 2 --heads 2 --hidden 4 --ctx 4
train relu2 corpus --dim 2 --layers 1 --heads 1 --ctx 2 --ffn-act relu2
train sign corpus --dim 2 --layers 1 --heads 1 --hidden 2 --ctx 2 --quant sign
train f32 corpus --dim 2 --layers 1 --heads 1 --hidden 2 --ctx 2 --quant f32
train twn corpus --dim 4 --layers 1 --heads 1 --hidden 4 --ctx 2 --quant twn
for m in tiny small bpe relu2 sign f32 twn; do cp "$work/$m.l1b" "$out/ckpt/$m.l1b"; done

ck=$bin/l1b-ckpt
for m in tiny small bpe relu2 twn; do
    $ck convert --pack "$work/$m.l1b" "$out/packed/$m-2bit.l1b"
    $ck convert --pack --bits 1.6 "$work/$m.l1b" "$out/packed/$m-1.6bit.l1b"
done
$ck convert --pack "$work/sign.l1b" "$out/packed/sign-1bit.l1b"
# float tables (the format before QTAB, and --tables f32 today)
for m in tiny relu2; do $ck convert --pack --tables f32 "$work/$m.l1b" "$out/packed/$m-2bit-f32tables.l1b"; done
$ck convert --pack --tables f32 --bits 1.6 "$work/twn.l1b" "$out/packed/twn-1.6bit-f32tables.l1b"
$ck convert --pack --tables f32 "$work/sign.l1b" "$out/packed/sign-1bit-f32tables.l1b"
$ck convert --pack "$work/f32.l1b" "$out/packed/f32.l1b"
# an inference file turned back into a checkpoint
$ck convert --unpack "$out/packed/tiny-1.6bit.l1b" "$out/ckpt/tiny-unpacked.l1b"

# ---- text scanner and --ids: a control byte, then the text -------------------
# modes 0 none, 1 line, 2 blank, 3 nul (+010: two files, cut at bits 4-6;
# +020 without two files: through a pipe; +0200: repeated)
seed_text() {  # NAME CONTROL_OCTAL FILE
    { printf "\\$2"; cat "$3"; } > "$out/textscan/$1"
}
seed_text none-prose 000 "$work/prose.txt"
seed_text none-utf8 000 "$work/utf8.txt"
seed_text none-runs 000 "$work/runs.txt"
seed_text line-lines 001 "$work/lines.txt"
seed_text blank-lines 002 "$work/lines.txt"
seed_text nul-nul 003 "$work/nul.txt"
seed_text line-split 051 "$work/lines.txt"       # line, two files cut at 2/8
seed_text blank-repeated 202 "$work/lines.txt"   # blank, repeated past 256 KiB
seed_text empty 001 "$work/empty.txt"
seed_text none-pipe 020 "$work/prose.txt"
seed_text line-pipe 021 "$work/lines.txt"
seed_text nul-pipe 023 "$work/nul.txt"
# mode 4: --ids with the byte tokenizer, 5: with the target's BPE tokenizer
$tok -q --ids "$work/prose.txt" > "$work/prose.ids"
$tok -q --ids --doc line "$work/lines.txt" > "$work/lines.ids"
seed_text ids-prose 004 "$work/prose.ids"
seed_text ids-lines 004 "$work/lines.ids"
printf '0 1 2 255 256\n\n  116\t104 101\n' > "$work/hand.ids"
seed_text ids-hand 004 "$work/hand.ids"
printf '257 258 259 260 261 262 263 264 32 256\n' > "$work/bpe.ids"
seed_text ids-bpe 005 "$work/bpe.ids"
seed_text ids-repeated 204 "$work/hand.ids"

# ---- BPE learner: merges to learn (one byte), then the text --------------------
{ printf '\040'; cat "$work/prose.txt" "$work/lines.txt"; } > "$out/bpe/prose-32"
{ printf '\377'; cat "$work/corpus.txt"; } | head -c 3000 > "$out/bpe/corpus-255"
{ printf '\010'; cat "$work/runs.txt"; } > "$out/bpe/runs-8"
{ printf '\020'; cat "$work/utf8.txt" "$work/nul.txt"; } > "$out/bpe/utf8-16"
printf '\100aaaaaaaaaaaaaaaaaaaaabababababababab abab abab aaa aaa aaa' > "$out/bpe/repeats-64"

# ---- parsers: 0 then a string, or 1 then a model shape ----------------------
n=0
for s in 0 7 123 4k 4K 16M 2G 18446744073709551615 18446744073709551616 17179869183G 00012 \
         90s 30m 1.5h 2d 0.001 1e11 1e12 nan inf -1 '' \
         swiglu relu2 pack bucket absmean twn stochastic sign f32 2 1.6 line blank nul; do
    printf '\000%s' "$s" > "$out/parse/string-$n"
    n=$((n + 1))
done
# dim layers heads hidden ctx vocab ffn_act quant
{ printf '\001'; u32 16 1 2 64 16 257 0 1; } > "$out/parse/shape-small"
{ printf '\001'; u32 768 12 12 2048 1024 65536 1 4; } > "$out/parse/shape-large"
{ printf '\001'; u32 16384 256 2 65536 65536 65536 0 0; } > "$out/parse/shape-huge"
{ printf '\001'; u32 2 1 1 1 1 257 0 2; } > "$out/parse/shape-least"

for t in $targets; do
    printf '%s: %s seeds\n' "$t" "$(ls "$out/$t" | wc -l)"
done
