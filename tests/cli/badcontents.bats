#!/usr/bin/env bats
# Files whose checksums are all right but whose contents are not: every
# command refuses them the way l1b-ckpt verify does, with one line naming
# the file. forge.pl writes chosen values into a model file and makes its
# checksums right again.
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR"
    PATH="$L1B_BIN:$PATH"
    for i in $(seq 60); do printf 'the quick brown fox jumps over the lazy dog. '; done > tiny.txt
    l1b-tokenize -o tiny.tok tiny.txt
    l1b-train -q -o fox.l1b $TINY --steps 20 --eval-every 10 tiny.tok
    l1b-train -q -o fox32.l1b $TINY --quant f32 --steps 20 --eval-every 10 tiny.tok
    l1b-ckpt convert --pack fox.l1b fox.l1bi
    l1b-ckpt convert --pack fox32.l1b fox32.l1bi
}

setup() {
    cd "$BATS_FILE_TMPDIR"
}

forge() {
    perl "$BATS_TEST_DIRNAME/forge.pl" "$@"
}

# refused PROG ARGS...: PROG fails (exit 1) with exactly "PROG: $bad: $why"
# and writes nothing ($bad and $why set by the caller)
refused() {
    rm -f out.*
    run "$@"
    [ "$status" -eq 1 ] || { echo "$* exited $status: $output"; return 1; }
    [ "$output" = "$1: $bad: $why" ] || { echo "$*: '$output', expected '$1: $bad: $why'"; return 1; }
    [ -z "$(ls out.* 2> /dev/null)" ] || { echo "$*: wrote $(ls out.*)"; return 1; }
}

# every command that reads a model file refuses $bad
refused_everywhere() {
    refused l1b-ckpt verify "$bad"
    refused l1b-ckpt info "$bad"
    refused l1b-ckpt info --json "$bad"
    refused l1b-ckpt history "$bad"
    refused l1b-ckpt history --svg out.svg "$bad"
    refused l1b-ckpt vocab "$bad"
    refused l1b-ckpt export --format llama2c "$bad" out.bin
    refused l1b-ckpt convert --pack --bits 1.6 "$bad" out.l1bi
    refused l1b-sample -m "$bad" -n 5 -i the
    refused l1b-sample -m "$bad" --exact -n 5 -i the
    refused l1b-sample -m "$bad" --score tiny.txt
    refused l1b-tokenize --tokenizer "$bad" -o out.tok tiny.txt
    if [[ "$bad" == *.l1b ]]; then  # a training checkpoint
        cp "$bad" out.l1b
        run l1b-train -q --resume -o out.l1b tiny.tok
        [ "$status" -eq 1 ]
        [ "$output" = "l1b-train: out.l1b: $why" ]
        cmp "$bad" out.l1b
    else
        refused l1b-ckpt convert --unpack "$bad" out.l1b
    fi
}

@test "non-finite weights, float tensors and moments are refused by every command" {
    C=32 V=257 L=1 H=96 n=$((2 * 257 * 32 + 4 * 32 * 32 + 2 * 32 + 3 * 96 * 32 + 32))
    # training checkpoints: a shadow weight of w_up (after tok_emb, attn_norm,
    # wq wk wv wo, ffn_norm, w_gate), then each Adam moment
    up=$((V * C + L * C + 4 * L * C * C + L * C + L * H * C))
    bad=nan.l1b why="PARM tensor w_up holds a non-finite value (nan at index 70)"
    forge fox.l1b $bad PARM $((4 * (up + 70))) f32 nan
    refused_everywhere
    bad=inf.l1b why="PARM tensor tok_emb holds a non-finite value (-inf at index 0)"
    forge fox.l1b $bad PARM 0 f32 -inf
    refused_everywhere
    bad=adam1.l1b why="ADAM first moment holds a non-finite value (inf at index 9)"
    forge fox.l1b $bad ADAM 36 f32 inf
    refused_everywhere
    bad=adam2.l1b why="ADAM second moment holds a non-finite value (nan at index $((n - 1)))"
    forge fox.l1b $bad ADAM $((8 * n - 4)) f32 nan
    refused_everywhere
    # inference files: the output head (after tok_emb and the norms; the
    # sampler reads it row by row into int8), an f32 model's weights
    bad=head.l1bi why="FLTS tensor head holds a non-finite value (nan at index 40)"
    forge fox.l1bi $bad FLTS $((4 * (V * C + 2 * L * C + C + 40))) f32 nan
    refused_everywhere
    bad=wq.l1bi why="PARM tensor wq holds a non-finite value (inf at index 3)"
    forge fox32.l1bi $bad PARM $((4 * (V * C + L * C + 3))) f32 inf
    refused_everywhere
    # an f32 checkpoint, and a ternary slice's scale
    bad=nan32.l1b why="PARM tensor final_norm holds a non-finite value (nan at index 31)"
    forge fox32.l1b $bad PARM $((4 * (n - V * C - 1))) f32 nan
    refused_everywhere
    bad=scale.l1bi why="TERN section: scale of wk[0] is nan"
    forge fox.l1bi $bad TERN 4 f32 nan
    refused_everywhere
}
