#!/bin/sh
# make-golden.sh: regenerate the golden files of tests/golden/ with the
# programs of a native x86 build, and what every target must answer about
# them (tests/golden/golden.bats checks it; make check-golden and make
# check-bigendian run it on every target).
#
#   tests/golden/make-golden.sh [BUILD]     (BUILD: default build/, built)
#
# Regenerate only on purpose (a format change): the files are the proof
# that a reader of today reads what an x86 build wrote before. Commit the
# whole directory afterwards. The fixtures (290 KB in all):
#
#   corpus.txt        the text (from the man pages; kept if present)
#   bytes.tok         corpus.txt as a byte token stream
#   bpe.tok           the same with a BPE vocabulary of 320 learnt from it
#   model.l1b         a training checkpoint (dim 16, hidden 32, 1 layer,
#                     absmean ternary) trained on bytes.tok
#   model-2bit.l1b    its inference file, 2 bits a weight, float tables
#                     (--tables f32: the format before int8 tables)
#   model-1.6bit.l1b  its inference file, five weights a byte, float tables
#   model-1.6bit-trit.l1b  the same as l1b wrote it before TRI5 (a TRIT
#                     section: rows in blocks of 80 weights); kept, not
#                     regenerated
#   model-int8.l1b    its inference file as convert --pack writes it by
#                     default: 2 bits a weight, the embedding and head as
#                     int8 rows (QTAB)
#   sign-1bit.l1b     the inference file of a sign (1-bit) model (dim 12;
#                     its checkpoint is not kept), float tables
#   golden.conf       the greedy prompts, lengths and smallest margins, and
#                     how much of corpus.txt --score reads
#   expected/         verify, info --json, --score, greedy text, history,
#                     vocab and the llama2c export's checksums
#
# The rest of the directory is not regenerated: golden.bats (the checks),
# crossendian.bats (files crossing between a big-endian host and the
# native build), helper.bash, margin.c, and qemu-ppc-mffs.c (make
# check-bigendian's workaround for qemu 7.2 on 32-bit PowerPC).
#
# Greedy text is only recorded where every step's two largest logits are
# at least MIN_MARGIN apart (tests/golden/margin.c, built here against the
# build's library): the logits of two instruction sets differ in their last
# bits (measured: 1e-6 to 2e-6 between plain C and AVX-512 on these
# models), so a near-tie could flip a token; a gap of 0.02 cannot.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
B=$(cd "${1:-$root/build}" && pwd)
PATH=$B:$PATH
MIN_MARGIN=0.02
cd "$here"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the text: the DESCRIPTION of l1b-tokenize(1) as roff source, then the
# NAME line of every man page eight times over (something a tiny model
# learns by heart, for greedy text with wide margins)
if [ ! -s corpus.txt ]; then
    {
        sed -e 's/\\-/-/g' "$root/man/l1b-tokenize.1" | sed -n '/^\.SH DESCRIPTION/,$p' | head -c 3000
        for i in 1 2 3 4 5 6 7 8; do
            for f in "$root"/man/*.[15]; do sed -n '/^\.SH NAME/{n;p;}' "$f" | sed 's/\\-/-/g'; done
        done
    } > corpus.txt
fi

# all but model-1.6bit-trit.l1b, which no l1b of today writes
rm -rf expected ./*.tok golden.conf
for f in ./*.l1b; do [ "$f" = ./model-1.6bit-trit.l1b ] || rm -f "$f"; done
mkdir expected

# ---- the fixtures ------------------------------------------------------------
l1b-tokenize -o bytes.tok corpus.txt
l1b-tokenize --bpe --vocab 320 -o bpe.tok corpus.txt
TRAIN="--layers 1 --heads 2 --ctx 32 --batch 8 --steps 2000 --lr 1e-2 --warmup 20 --val-frac 0 -j 1"
l1b-train -q -o model.l1b --dim 16 --hidden 32 $TRAIN bytes.tok
l1b-ckpt convert --pack --tables f32 model.l1b model-2bit.l1b
l1b-ckpt convert --pack --tables f32 --bits 1.6 model.l1b model-1.6bit.l1b
l1b-ckpt convert --pack model.l1b model-int8.l1b
l1b-train -q -o "$tmp/sign.l1b" --dim 12 --quant sign $TRAIN bytes.tok
l1b-ckpt convert --pack --tables f32 "$tmp/sign.l1b" sign-1bit.l1b
rm -f ./*.lock  # the trainer's lock files

# ---- greedy prompts with wide margins ----------------------------------------
${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$root/lib" margin.c "$B/libl1b.a" -lm -lpthread \
    -o "$tmp/margin"
GREEDY_TOKENS=30
SCORE_BYTES=1200
head -c $SCORE_BYTES corpus.txt > "$tmp/score.txt"
# the smallest gap over both modes (--exact and int8) for model PROMPT
min_margin() {
    a=$("$tmp/margin" "$1" "$2" $GREEDY_TOKENS exact | sed -n 's/^min //p')
    b=$("$tmp/margin" "$1" "$2" $GREEDY_TOKENS | sed -n 's/^min //p')
    echo "$a $b" | awk '{print $1 < $2 ? $1 : $2}'
}
# the first prompt of stdin (one a line) whose margin for model is wide
# enough, as "PROMPT|MARGIN"
pick_prompt() {
    while IFS= read -r p; do
        m=$(min_margin "$1" "$p")
        if awk -v m="$m" -v t=$MIN_MARGIN 'BEGIN { exit !(m >= t) }'; then
            echo "$p|$m"
            return 0
        fi
    done
    echo "make-golden.sh: no prompt for $1 has a margin of $MIN_MARGIN; add candidates" >&2
    return 1
}
candidates() {
    printf '%s\n' 'l1b-train - ' 'l1b-tokenize - ' 'the ' 'l1b-ckpt - ' 'l1b-sample - c' 'token'
}
got=$(candidates | pick_prompt model-2bit.l1b)
sgot=$(candidates | pick_prompt sign-1bit.l1b)
GREEDY_PROMPT=${got%|*}
GREEDY_MARGIN=${got##*|}
SIGN_PROMPT=${sgot%|*}
SIGN_MARGIN=${sgot##*|}
cat > golden.conf <<EOF
# The settings of golden.bats (written by make-golden.sh). Greedy checks:
# prompt and length, and the smallest gap between the two largest logits
# over the steps of the x86 run, --exact and int8 alike. A different
# instruction set moves logits by about 1e-6, so these texts are the same on
# every target. --score reads the first SCORE_BYTES bytes of corpus.txt.
SCORE_BYTES=$SCORE_BYTES
GREEDY_TOKENS=$GREEDY_TOKENS
GREEDY_PROMPT='$GREEDY_PROMPT'   # model.l1b, model-2bit.l1b, model-1.6bit.l1b
GREEDY_MARGIN=$GREEDY_MARGIN
SIGN_PROMPT='$SIGN_PROMPT'       # sign-1bit.l1b
SIGN_MARGIN=$SIGN_MARGIN
EOF

# ---- what every target must answer -------------------------------------------
MODELS="model.l1b model-2bit.l1b model-1.6bit.l1b sign-1bit.l1b"
l1b-ckpt verify $MODELS bytes.tok bpe.tok > expected/verify.txt
for m in $MODELS model-int8.l1b; do
    l1b-ckpt info --json "$m" > "expected/info-${m%.l1b}.json"
done
for m in $MODELS; do
    printf '%s int8: %s\n' "$m" "$(l1b-sample -m "$m" --score "$tmp/score.txt")"
    printf '%s exact: %s\n' "$m" "$(l1b-sample -m "$m" --exact --score "$tmp/score.txt")"
done > expected/score.txt
for m in model.l1b model-2bit.l1b model-1.6bit.l1b sign-1bit.l1b; do
    p=$GREEDY_PROMPT
    [ "$m" = sign-1bit.l1b ] && p=$SIGN_PROMPT
    l1b-sample -m "$m" --greedy --exact -n $GREEDY_TOKENS -i "$p" > "expected/greedy-exact-${m%.l1b}.txt"
    l1b-sample -m "$m" --greedy -n $GREEDY_TOKENS -i "$p" > "expected/greedy-int8-${m%.l1b}.txt"
done
l1b-ckpt history model.l1b > expected/history.txt
l1b-ckpt vocab bpe.tok > expected/vocab-bpe.txt
l1b-ckpt export --format llama2c --tokenizer-out "$tmp/tok.bin" model-2bit.l1b "$tmp/model.bin"
(cd "$tmp" && cksum model.bin tok.bin) > expected/export.txt

# ---- the same at every SIMD level of this machine ------------------------------
for lv in scalar sse sse2 ssse3 avx2 avx512 neon dotprod; do
    case "$(L1B_SIMD=$lv l1b-sample --version 2>/dev/null)" in *"(simd $lv;"*) ;; *) continue ;; esac
    for m in model-2bit.l1b sign-1bit.l1b; do
        p=$GREEDY_PROMPT
        [ "$m" = sign-1bit.l1b ] && p=$SIGN_PROMPT
        L1B_SIMD=$lv l1b-sample -m "$m" --greedy --exact -n $GREEDY_TOKENS -i "$p" |
            cmp -s - "expected/greedy-exact-${m%.l1b}.txt" || { echo "make-golden.sh: $m differs at $lv" >&2; exit 1; }
    done
done

echo "greedy: '$GREEDY_PROMPT' (margin $GREEDY_MARGIN), sign: '$SIGN_PROMPT' (margin $SIGN_MARGIN)"
cat corpus.txt ./*.tok ./*.l1b golden.conf expected/* | wc -c | awk '{printf "%d bytes of fixtures in all\n", $1}'
