#!/usr/bin/env bats
# Files cross between hosts of either byte order. The programs under test
# (L1B_BIN: a big-endian build under qemu, through wrapper scripts) and the
# native build (L1B_NATIVE_BIN, default build/: x86, little-endian) each
# write token streams, training checkpoints and inference files that the
# other verifies and describes, scores and resumes as its own. make
# check-bigendian runs it for every big-endian target.
load helper

N=$(cd "${L1B_NATIVE_BIN:-$BATS_TEST_DIRNAME/../../build}" 2>/dev/null && pwd)

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    [ -x "$N/l1b-ckpt" ] || skip "no native build (L1B_NATIVE_BIN)"
}

SHAPE="--dim 16 --hidden 32 --layers 1 --heads 2 --ctx 16 --batch 4 --lr 1e-2 --warmup 2 --eval-every 2 --eval-batches 2 -j 1"

# describe DIR MODEL OUT: what the programs in DIR say about MODEL
describe() {
    "$1/l1b-ckpt" verify "$2"
    "$1/l1b-ckpt" info --json "$2"
    "$1/l1b-ckpt" history "$2"
    head -c 600 "$G/corpus.txt" > text
    "$1/l1b-sample" -m "$2" --score text
    # (refused, with the same line, for int8 tables)
    "$1/l1b-sample" -m "$2" --exact --score text 2>&1 || echo "exit $?"
}

# both_read MODEL: the programs under test and the native ones say the
# same about MODEL (figures to the last digit but one: helper.bash)
both_read() {
    describe "$L1B_BIN" "$1" > here.txt
    describe "$N" "$1" > native.txt
    same_figures native.txt here.txt
}

@test "crossendian: token streams are the same bytes on both hosts" {
    l1b-tokenize -o bytes.tok "$G/corpus.txt"
    "$N/l1b-tokenize" -o native.tok "$G/corpus.txt"
    cmp bytes.tok native.tok
    l1b-tokenize --bpe --vocab 300 -o bpe.tok "$G/corpus.txt"
    "$N/l1b-tokenize" --bpe --vocab 300 -o native.tok "$G/corpus.txt"
    cmp bpe.tok native.tok
    "$N/l1b-tokenize" --decode bpe.tok | cmp - "$G/corpus.txt"
    l1b-tokenize --ids --tokenizer native.tok "$G/corpus.txt" > ids
    "$N/l1b-tokenize" --ids --tokenizer bpe.tok "$G/corpus.txt" | cmp - ids
}

@test "crossendian: a checkpoint trained here is read, resumed and packed natively" {
    l1b-tokenize --bpe --vocab 300 -o bpe.tok "$G/corpus.txt"
    l1b-train -q -o m.l1b $SHAPE --steps 8 --until 4 bpe.tok
    both_read m.l1b
    # the native build resumes it (PARM, ADAM, STAT), and this host reads
    # the result
    "$N/l1b-train" -q -o m.l1b --resume bpe.tok
    [ "$("$N/l1b-ckpt" info --json m.l1b | grep -o '"step": [0-9]*')" = '"step": 8' ]
    both_read m.l1b
    # inference files packed here are the bytes the native build packs
    # (int8 tables, and float ones)
    for bits in 2 1.6; do
        for tables in int8 f32; do
            l1b-ckpt convert --pack --bits $bits --tables $tables m.l1b p.l1b
            "$N/l1b-ckpt" convert --pack --bits $bits --tables $tables m.l1b native.l1b
            cmp p.l1b native.l1b
            both_read p.l1b
        done
    done
    # p.l1b (1.6 bits, float tables) to int8 tables here: what the native
    # build packs from the checkpoint; and back to floats, the same bytes
    # on both hosts
    l1b-ckpt convert --pack --bits 1.6 p.l1b p8.l1b
    "$N/l1b-ckpt" convert --pack --bits 1.6 m.l1b native.l1b
    cmp p8.l1b native.l1b
    l1b-ckpt convert --pack --tables f32 p8.l1b pf.l1b
    "$N/l1b-ckpt" convert --pack --tables f32 p8.l1b native.l1b
    cmp pf.l1b native.l1b
}

@test "crossendian: a checkpoint trained natively is read, resumed and packed here" {
    "$N/l1b-tokenize" -o bytes.tok "$G/corpus.txt"
    "$N/l1b-train" -q -o m.l1b $SHAPE --quant sign --steps 8 --until 4 bytes.tok
    both_read m.l1b
    l1b-train -q -o m.l1b --resume bytes.tok
    [ "$(l1b-ckpt info --json m.l1b | grep -o '"step": [0-9]*')" = '"step": 8' ]
    both_read m.l1b
    l1b-ckpt convert --pack m.l1b p.l1b
    "$N/l1b-ckpt" convert --pack m.l1b native.l1b
    cmp p.l1b native.l1b
    both_read p.l1b
    # and back to a checkpoint here, for the native trainer
    l1b-ckpt convert --unpack p.l1b u.l1b
    "$N/l1b-ckpt" convert --unpack p.l1b native.l1b
    cmp u.l1b native.l1b
    "$N/l1b-train" -q -o u.l1b --resume --steps 2 bytes.tok
}

@test "crossendian: the llama2.c export is the same bytes on both hosts" {
    l1b-ckpt export --format llama2c --tokenizer-out tok.bin "$G/model.l1b" model.bin
    "$N/l1b-ckpt" export --format llama2c --tokenizer-out ntok.bin "$G/model.l1b" nmodel.bin
    cmp model.bin nmodel.bin
    cmp tok.bin ntok.bin
}
