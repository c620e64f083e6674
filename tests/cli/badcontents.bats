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
    l1b-ckpt convert --pack --tables f32 fox.l1b foxf.l1bi
    l1b-ckpt convert --pack fox32.l1b fox32.l1bi
}

setup() {
    cd "$BATS_FILE_TMPDIR"
}

forge() {
    perl "$BATS_TEST_DIRNAME/forge.pl" "$@"
}

# refused PROG ARGS...: PROG fails (exit 1, within 20 seconds) with exactly
# "PROG: $bad: $why" and writes nothing ($bad and $why set by the caller)
refused() {
    rm -f out.*
    run timeout 20 "$@"
    [ "$status" -eq 1 ] || { echo "$* exited $status: ${output:0:500}"; return 1; }
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
    # inference files: the output head of float tables (after tok_emb and
    # the norms; the sampler reads it row by row into int8), an f32 model's
    # weights
    bad=head.l1bi why="FLTS tensor head holds a non-finite value (nan at index 40)"
    forge foxf.l1bi $bad FLTS $((4 * (V * C + 2 * L * C + C + 40))) f32 nan
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

@test "int8 tables whose scales are not finite and positive, or that hold -128, are refused by every command" {
    # QTAB: the 257 scales of tok_emb, the 257 of head (2056 bytes, zero
    # padding to 2112), then 257 rows of 32 int8 values each
    C=32 V=257
    bad=qnan.l1bi why="QTAB section: scale of head row 1 is nan"
    forge fox.l1bi $bad QTAB $((4 * (V + 1))) f32 nan
    refused_everywhere
    bad=qzero.l1bi why="QTAB section: scale of tok_emb row 7 is 0"
    forge fox.l1bi $bad QTAB 28 f32 0
    refused_everywhere
    bad=qneg.l1bi why="QTAB section: scale of head row 256 is -inf"
    forge fox.l1bi $bad QTAB $((4 * (2 * V - 1))) f32 -inf
    refused_everywhere
    bad=q128.l1bi why="QTAB section: value -128 in head row 1 (int8 rows hold -127 to 127)"
    forge fox.l1bi $bad QTAB $((2112 + V * C + C + 3)) u8 128
    refused_everywhere
    bad=qpad.l1bi why="QTAB section: non-zero padding after the scales"
    forge fox.l1bi $bad QTAB 2100 u8 1
    refused_everywhere
    # a damaged byte without a forged checksum
    perl -e 'open my $h, "<:raw", "fox.l1bi" or die; local $/; my $b = <$h>;
        for my $i (0 .. 5) { my ($t, undef, $o) = unpack "a4 V V", substr($b, 32 + 32 * $i, 12);
            substr($b, $o + 3000, 1) = chr(ord(substr($b, $o + 3000, 1)) ^ 1) if $t eq "QTAB" }
        open my $o, ">:raw", "qcrc.l1bi" or die; print $o $b'
    bad=qcrc.l1bi why="QTAB section checksum mismatch (corrupt data)"
    refused_everywhere
    # the extremes are fine: 127, -127, the smallest scale (an all-zero row)
    forge fox.l1bi qok.l1bi QTAB 2112 u8 127 QTAB 2113 u8 129 QTAB 40 f32 7.874015e-08
    l1b-ckpt verify qok.l1bi
    l1b-sample -m qok.l1bi -n 5 -i the > /dev/null
}

@test "history rows whose step or tokens are not whole numbers from 0 to 2^53 are refused" {
    # HIST: u32 columns (13), u32 rows, then 13 f64 a row: step, tokens, ...
    rows=$(perl -e 'open my $h, "<:raw", $ARGV[0]; local $/; my $b = <$h>;
        for my $i (0 .. 5) { my ($t, undef, $o) = unpack "a4 V V", substr($b, 32 + 32 * $i, 12);
            print unpack("V", substr($b, $o + 4, 4)) if $t eq "HIST" }' fox.l1bi)
    [ "$rows" -eq 2 ]
    last=$((8 + 104 * (rows - 1)))
    bad=step.l1bi why="corrupt HIST section (row 1: step nan is not a whole number from 0 to 2^53)"
    forge fox.l1bi $bad HIST $last f64 nan
    refused_everywhere
    bad=tokens.l1b why="corrupt HIST section (row 0: tokens -1 is not a whole number from 0 to 2^53)"
    forge fox.l1b $bad HIST 16 f64 -1
    refused_everywhere
    bad=big.l1bi
    for v in inf -inf -1 0.5 18446744073709551616=1.8446744073709552e+19 9007199254740994; do
        for col in step:0 tokens:8; do
            forge fox.l1bi $bad HIST $((last + ${col#*:})) f64 ${v%=*}
            col=${col%:*}
            why="corrupt HIST section (row 1: $col ${v#*=} is not a whole number from 0 to 2^53)"
            refused l1b-ckpt info $bad
            refused l1b-ckpt verify $bad
        done
    done
    # 2^53 itself is fine, and so is anything in the metric columns (NaN:
    # not measured)
    forge fox.l1bi ok.l1bi HIST $last f64 9007199254740992 HIST $((last + 8)) f64 0 \
        HIST $((last + 16)) f64 inf HIST $((last + 24)) f64 nan HIST $((last + 56)) f64 -inf
    run l1b-ckpt info --json ok.l1bi
    [ "$status" -eq 0 ]
    [[ "$output" == *'"step": 9007199254740992, "total_steps": null, "tokens_seen": 0,'* ]]
    [[ "$output" == *'"train_loss": null, "val_loss": '* ]]
    l1b-ckpt verify ok.l1bi
    l1b-ckpt history ok.l1bi
}

@test "a training state whose random number state is 0 is refused" {
    # STAT: step, tokens, micro-batches, then the generator's state (never 0)
    bad=rng0.l1b why="corrupt training state (random number state out of range)"
    forge fox.l1b $bad STAT 24 u64 0
    refused_everywhere
    forge fox.l1b rng1.l1b STAT 24 u64 1
    l1b-ckpt verify rng1.l1b
}

@test "non-zero reserved words in the section table are refused" {
    # entry i at 32 + 32i: tag, u32 reserved, u64 offset, u64 size, u32 CRC, u32 reserved
    bad=res.l1b why="corrupt model file (reserved bytes of the PARM entry not zero)"
    forge fox.l1b $bad file $((32 + 32 * 4 + 4)) u32 1
    refused_everywhere
    bad=res.l1bi why="corrupt model file (reserved bytes of the CONF entry not zero)"
    forge fox.l1bi $bad file $((32 + 28)) u32 0x80000000
    refused_everywhere
}

@test "a token stream damaged after its header is refused where its tokenizer is used" {
    # a token's low byte flipped (still a byte id), the count, the end marker
    perl -e 'open my $h, "<:raw", "tiny.tok"; local $/; my $b = <$h>;
        for (["tok.tok", 200], ["count.tok", length($b) - 16], ["tend.tok", length($b) - 1]) {
            my ($name, $at) = @$_; my $c = $b;
            substr($c, $at, 1) = chr(ord(substr($c, $at, 1)) ^ 0x04);
            open my $o, ">:raw", $name; print $o $c }'
    for damage in "tok.tok:token checksum mismatch (corrupt data)" \
                  "count.tok:token count mismatch (trailer says 2696, read 2700)" \
                  "tend.tok:truncated token stream (no end marker)"; do
        bad=${damage%%:*} why=${damage#*:}
        refused l1b-ckpt verify $bad
        refused l1b-ckpt vocab $bad
        refused l1b-tokenize --tokenizer $bad -o out.tok tiny.txt
    done
    head -c 3000 tiny.tok > cut.tok
    bad=cut.tok why="truncated token stream (no end marker)"
    refused l1b-ckpt vocab $bad
    refused l1b-tokenize --tokenizer $bad -o out.tok tiny.txt
}

@test "a FIFO or a directory given as a file to read is refused at once" {
    mkfifo fifo
    mkdir dir
    for bad in fifo dir; do
        why="not a regular file"
        refused l1b-ckpt verify $bad
        refused l1b-ckpt info $bad
        refused l1b-ckpt info --json $bad
        refused l1b-ckpt history $bad
        refused l1b-ckpt history --svg out.svg $bad
        refused l1b-ckpt vocab $bad
        refused l1b-ckpt export --format llama2c $bad out.bin
        refused l1b-ckpt convert --pack $bad out.l1bi
        refused l1b-ckpt convert --unpack $bad out.l1b
        refused l1b-sample -m $bad -n 5 -i the
        refused l1b-sample -m $bad --score tiny.txt
        refused l1b-tokenize --tokenizer $bad -o out.tok tiny.txt
    done
}

@test "history --svg plots any finite values in a small file" {
    # rows 0 and 1: train losses apart in their last bits (and no validation
    # loss), bits per byte of +-1e308
    at() { echo $((8 + 104 * $1 + 8 * $2)); }
    forge fox.l1b odd.l1b HIST $(at 0 2) f64 1 HIST $(at 1 2) f64 1.0000000000000002 \
        HIST $(at 0 3) f64 nan HIST $(at 1 3) f64 nan HIST $(at 0 5) f64 1e308 HIST $(at 1 5) f64 -1e308
    run timeout 20 l1b-ckpt history --svg odd.svg odd.l1b
    [ "$status" -eq 0 ]
    [ "$(wc -c < odd.svg)" -lt 65536 ]
    [ -z "$(grep -i 'nan\|inf' odd.svg)" ]
    for c in train_loss val_bpb; do
        [ "$(grep -o "<path class=\"$c\"[^>]*" odd.svg | grep -o '[ML] [0-9]' | wc -l)" -eq 2 ]
    done
    [ "$(grep -c '<path class="val_loss"' odd.svg)" -eq 0 ]
}
