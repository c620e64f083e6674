#!/usr/bin/env bats
# Golden files: token streams and model files an x86 build wrote
# (tests/golden/make-golden.sh), and what every target must answer about
# them: verify, info --json, --score, greedy text (at every SIMD level this
# CPU has), history, vocabulary, and the same bytes from the converters.
# Run with the programs of any target: L1B_BIN=DIR (make check-golden,
# make check-bigendian run it under qemu through wrapper scripts).
load helper

MODELS="model.l1b model-2bit.l1b model-1.6bit.l1b sign-1bit.l1b"

# the SIMD levels this CPU runs (L1B_SIMD=x falls back, with a warning,
# where it cannot)
simd_levels() {
    for lv in scalar sse sse2 ssse3 avx2 avx512 neon dotprod altivec; do
        case "$(L1B_SIMD=$lv l1b-sample --version 2>/dev/null)" in *"(simd $lv;"*) echo "$lv" ;; esac
    done
}

# the prompt of a model's greedy check
prompt_of() {
    if [ "$1" = sign-1bit.l1b ]; then echo "$SIGN_PROMPT"; else echo "$GREEDY_PROMPT"; fi
}

@test "golden: every model file and token stream verifies" {
    (cd "$G" && l1b-ckpt verify $MODELS bytes.tok bpe.tok) > out.txt
    diff "$E/verify.txt" out.txt
}

@test "golden: info --json of every model file" {
    for m in $MODELS; do
        (cd "$G" && l1b-ckpt info --json "$m") > out.json
        diff "$E/info-${m%.l1b}.json" out.json
    done
}

@test "golden: history and vocabulary" {
    (cd "$G" && l1b-ckpt history model.l1b) > history.txt
    diff "$E/history.txt" history.txt
    (cd "$G" && l1b-ckpt vocab bpe.tok) > vocab.txt
    diff "$E/vocab-bpe.txt" vocab.txt
}

@test "golden: token streams decode to the text, and the text encodes to the same bytes" {
    l1b-tokenize --decode "$G/bytes.tok" | cmp - "$G/corpus.txt"
    l1b-tokenize --decode "$G/bpe.tok" | cmp - "$G/corpus.txt"
    l1b-tokenize -o bytes.tok "$G/corpus.txt"
    cmp bytes.tok "$G/bytes.tok"
    l1b-tokenize --tokenizer "$G/bpe.tok" -o again.tok "$G/corpus.txt"
    cmp again.tok "$G/bpe.tok"
    # the BPE learner too: the same merges from the same text
    l1b-tokenize --bpe --vocab 320 -o learnt.tok "$G/corpus.txt"
    cmp learnt.tok "$G/bpe.tok"
}

@test "golden: --score figures of every model file, int8 and exact" {
    head -c "$SCORE_BYTES" "$G/corpus.txt" > text
    for m in $MODELS; do
        printf '%s int8: %s\n' "$m" "$(l1b-sample -m "$G/$m" --score text)"
        printf '%s exact: %s\n' "$m" "$(l1b-sample -m "$G/$m" --exact --score text)"
    done > score.txt
    # to 4 decimals, give or take the last (helper.bash says why)
    same_figures "$E/score.txt" score.txt
}

@test "golden: greedy text at every SIMD level, exact and int8" {
    # the smallest gap between the two largest logits of each step, on x86:
    # the texts cannot flip on rounding differences (about 1e-6)
    echo "margins: $GREEDY_MARGIN, sign $SIGN_MARGIN"
    levels=$(simd_levels)
    [ -n "$levels" ]
    for lv in $levels; do
        for m in $MODELS; do
            for mode in exact int8; do
                opt=
                [ $mode = exact ] && opt=--exact
                L1B_SIMD=$lv l1b-sample -m "$G/$m" --greedy $opt -n "$GREEDY_TOKENS" -i "$(prompt_of $m)" > out.txt
                cmp out.txt "$E/greedy-$mode-${m%.l1b}.txt" || {
                    echo "L1B_SIMD=$lv $m $mode: '$(cat out.txt)'"
                    return 1
                }
            done
        done
    done
}

@test "golden: the converters write the same bytes here" {
    l1b-ckpt convert --pack --tables f32 "$G/model.l1b" p2.l1b
    cmp p2.l1b "$G/model-2bit.l1b"
    l1b-ckpt convert --pack --tables f32 --bits 1.6 "$G/model.l1b" p16.l1b
    cmp p16.l1b "$G/model-1.6bit.l1b"
    l1b-ckpt convert --pack --tables f32 --bits 1.6 "$G/model-2bit.l1b" r16.l1b
    cmp r16.l1b "$G/model-1.6bit.l1b"
    l1b-ckpt convert --pack --tables f32 "$G/model-1.6bit.l1b" r2.l1b
    cmp r2.l1b "$G/model-2bit.l1b"
    # int8 tables: from the checkpoint, and from the float-table files
    l1b-ckpt convert --pack "$G/model.l1b" p8.l1b
    cmp p8.l1b "$G/model-int8.l1b"
    l1b-ckpt convert --pack --bits 2 "$G/model-1.6bit.l1b" r8.l1b
    cmp r8.l1b "$G/model-int8.l1b"
    # an inference file back to a checkpoint and packed again
    for m in model-2bit.l1b sign-1bit.l1b; do
        l1b-ckpt convert --unpack "$G/$m" u.l1b
        l1b-ckpt verify u.l1b
        l1b-ckpt convert --pack --tables f32 u.l1b again.l1b
        cmp again.l1b "$G/$m"
    done
    l1b-ckpt convert --unpack "$G/model-int8.l1b" u.l1b
    l1b-ckpt convert --pack u.l1b again.l1b
    cmp again.l1b "$G/model-int8.l1b"
}

@test "golden: a TRIT file (base 3 before TRI5) reads as the model it holds" {
    [ "$(cd "$G" && l1b-ckpt verify model-1.6bit-trit.l1b)" = "model-1.6bit-trit.l1b: ok" ]
    # the same as model-1.6bit.l1b but for its size
    size='s/"file": "[^"]*"/FILE/; s/"file_bytes": [0-9]*, "bytes_per_param": [0-9.]*/SIZE/'
    (cd "$G" && l1b-ckpt info --json model-1.6bit-trit.l1b) | sed "$size" > out.json
    grep -c 'FILE\|SIZE' out.json | grep -qx 2
    sed "$size" "$E/info-model-1.6bit.json" | cmp - out.json
    l1b-ckpt convert --pack --tables f32 "$G/model-1.6bit-trit.l1b" r2.l1b
    cmp r2.l1b "$G/model-2bit.l1b"
    . "$G/golden.conf"
    l1b-sample -m "$G/model-1.6bit-trit.l1b" --greedy --exact -n $GREEDY_TOKENS -i "$GREEDY_PROMPT" > out.txt
    cmp out.txt "$E/greedy-exact-model-1.6bit.txt"
    head -c $SCORE_BYTES "$G/corpus.txt" | l1b-sample -m "$G/model-1.6bit-trit.l1b" --score > trit.txt
    head -c $SCORE_BYTES "$G/corpus.txt" | l1b-sample -m "$G/model-1.6bit.l1b" --score | cmp - trit.txt
}

@test "golden: int8 tables read the same here, and sample as the float tables do" {
    [ "$(cd "$G" && l1b-ckpt verify model-int8.l1b)" = "model-int8.l1b: ok" ]
    (cd "$G" && l1b-ckpt info --json model-int8.l1b) > out.json
    diff "$E/info-model-int8.json" out.json
    # the int8 rows the sampler makes from model-2bit.l1b's floats, read
    # from the file: the same figures and text, at every SIMD level
    head -c "$SCORE_BYTES" "$G/corpus.txt" > text
    [ "$(l1b-sample -m "$G/model-int8.l1b" --score text)" = "$(l1b-sample -m "$G/model-2bit.l1b" --score text)" ]
    grep '^model-2bit.l1b int8: ' "$E/score.txt" | sed 's/^model-2bit.l1b/model-int8.l1b/' > want.txt
    printf '%s int8: %s\n' model-int8.l1b "$(l1b-sample -m "$G/model-int8.l1b" --score text)" > score.txt
    same_figures want.txt score.txt
    for lv in $(simd_levels); do
        L1B_SIMD=$lv l1b-sample -m "$G/model-int8.l1b" --greedy -n "$GREEDY_TOKENS" -i "$GREEDY_PROMPT" > out.txt
        cmp out.txt "$E/greedy-int8-model-2bit.txt" || { echo "L1B_SIMD=$lv: '$(cat out.txt)'"; return 1; }
    done
    run l1b-sample -m "$G/model-int8.l1b" --exact --score text
    [ "$status" -eq 1 ]
    [[ "$output" == *"model-int8.l1b: the embedding and output head are int8 rows in this file; float tables (--exact) need a file packed with --tables f32" ]]
}

@test "golden: the llama2.c export has the same bytes here" {
    l1b-ckpt export --format llama2c --tokenizer-out tok.bin "$G/model-2bit.l1b" model.bin
    cksum model.bin tok.bin > export.txt
    diff "$E/export.txt" export.txt
}
