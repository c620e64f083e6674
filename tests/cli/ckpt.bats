#!/usr/bin/env bats
# l1b-ckpt: info, verify, convert, vocab, history, export, and bad files.
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR"
    PATH="$L1B_BIN:$PATH"
    for i in $(seq 60); do printf 'the quick brown fox jumps over the lazy dog. '; done > tiny.txt
    l1b-tokenize -o tiny.tok tiny.txt
    l1b-train -q -o fox.l1b $TINY --steps 300 --eval-every 100 tiny.tok
    l1b-train -q -o fox32.l1b $TINY --quant f32 --steps 300 --eval-every 100 tiny.tok
    l1b-train -q -o relu.l1b $TINY --ffn-act relu2 --steps 5 tiny.tok
    l1b-ckpt convert --pack fox.l1b fox.l1bi
    l1b-ckpt convert --pack fox32.l1b fox32.l1bi
}

setup() {
    cd "$BATS_FILE_TMPDIR"
}

# sections FILE: "TAG OFFSET SIZE" per section of a model file
sections() {
    perl -e 'open my $h, "<:raw", $ARGV[0] or die; local $/; my $b = <$h>;
        for my $i (0 .. unpack("V", substr($b, 16, 4)) - 1) {
            my ($tag, undef, $ol, $oh, $sl, $sh) = unpack("a4 V V V V V", substr($b, 32 + 32 * $i, 24));
            print "$tag ", $ol + 2**32 * $oh, " ", $sl + 2**32 * $sh, "\n";
        }' "$1"
}

# flip FILE OFFSET OUT: a copy with one bit of one byte flipped
flip() {
    perl -e 'open my $h, "<:raw", $ARGV[0] or die; local $/; my $b = <$h>;
        substr($b, $ARGV[1], 1) = chr(ord(substr($b, $ARGV[1], 1)) ^ 0x04);
        open my $o, ">:raw", $ARGV[2] or die; print $o $b' "$@"
}

# json FILE EXPR: evaluate a perl expression on info --json's object ($j)
json() {
    l1b-ckpt info --json "$1" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print eval($ARGV[0]), "\n"' "$2"
}

@test "help, and misuse exits 2" {
    run l1b-ckpt --help
    [ "$status" -eq 0 ]
    for c in info verify convert vocab history export help; do [[ "$output" == *"l1b-ckpt $c"* ]]; done
    run l1b-ckpt help convert
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: l1b-ckpt convert --pack [--bits B] [--tables T] | --unpack"* ]]
    [[ "$output" == *"--batching pack|bucket"* ]]
    [ "$(l1b-ckpt info --help)" = "$(l1b-ckpt help info)" ]
    run l1b-ckpt
    [ "$status" -eq 2 ]
    run l1b-ckpt frobnicate x
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "l1b-ckpt: unknown command 'frobnicate'" ]]
    run l1b-ckpt help frobnicate
    [ "$status" -eq 2 ]
    run l1b-ckpt info
    [ "$status" -eq 2 ]
    run l1b-ckpt info fox.l1b fox.l1b
    [ "$status" -eq 2 ]
    run l1b-ckpt info --bogus fox.l1b
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "l1b-ckpt info: unrecognized option '--bogus'" ]]
    run l1b-ckpt convert fox.l1b out.l1b
    [ "$status" -eq 2 ]
    run l1b-ckpt convert --pack --lr 1 fox.l1b out.l1b
    [ "$status" -eq 2 ]
    run l1b-ckpt export fox.l1b out.bin
    [ "$status" -eq 2 ]
    run l1b-ckpt export --format gguf fox.l1b out.bin
    [ "$status" -eq 2 ]
    [ ! -e out.l1b ]
    [ ! -e out.bin ]
}

@test "info: shape, counts, progress, metrics and per-slice shares" {
    run l1b-ckpt info fox.l1b
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "file          fox.l1b: l1b model file version 1, training checkpoint" ]
    [ "${lines[1]}" = "shape         dim 32, layers 1, heads 2 (head size 16), hidden 96, ctx 16, vocab 257, ffn swiglu" ]
    # 2VC + L(4C^2 + 3CH + 2C) + C with C 32, H 96, V 257
    [ "${lines[2]}" = "parameters    29856 (ternary 13312, float 16544)" ]
    [ "${lines[5]}" = "training      step 300 of 300, 38400 tokens seen" ]
    [ "${lines[6]}" = "settings      lr 0.003, min-lr 0.0001, warmup 10, steps 300, batch 8, accum 1, wd 0.1, clip 1, seed 1337, val-frac 0.1, batching pack" ]
    [[ "${lines[7]}" =~ ^last\ metrics\ \ train\ loss\ [0-9.]+\ \(step\ 300\),\ val\ loss\ [0-9.]+,\ val\ bpb\ [0-9.]+\ \(step\ 300\)$ ]]
    [[ "$output" == *$'\nwq[0]          32x32  '* ]]
    [ "$(json fox.l1b '$j->{params}')" = 29856 ]
    [ "$(json fox.l1b '$j->{kind}')" = training ]
    [ "$(json fox.l1b '$j->{file_bytes}')" = "$(wc -c < fox.l1b)" ]
    [ "$(json fox.l1b 'scalar @{$j->{tensors}}')" = 12 ]   # 5 float tensors, 7 slices
    # the shares of each slice add up to one, and zeros are 20-50% under absmean
    json fox.l1b 'join " ", map { $_->{minus} + $_->{zero} + $_->{plus} } grep { $_->{ternary} } @{$j->{tensors}}' |
        tr ' ' '\n' | awk '{ if ($1 < 0.999999 || $1 > 1.000001) exit 1 }'
    json fox.l1b 'join " ", map { $_->{zero} } grep { $_->{ternary} } @{$j->{tensors}}' |
        tr ' ' '\n' | awk '{ if ($1 < 0.2 || $1 > 0.5) exit 1 }'
    # an inference file tells the same, without the schedule
    [ "$(json fox.l1bi '$j->{kind}')" = inference ]
    [ "$(json fox.l1bi 'defined $j->{total_steps} ? "x" : "null"')" = null ]
    [ "$(json fox.l1bi '$j->{step} . " " . $j->{tokens_seen}')" = "300 38400" ]
    [ "$(json fox.l1b 'join ",", map { $_->{zero} } @{$j->{tensors}}')" = \
      "$(json fox.l1bi 'join ",", map { $_->{zero} } @{$j->{tensors}}')" ]
    [ "$(json fox32.l1b '$j->{quant} . " " . $j->{ternary_params}')" = "f32 0" ]
    run l1b-ckpt info tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: tiny.tok: a token stream, not a model file (vocab and verify read token streams)" ]
}

@test "convert --pack: a much smaller file that samples identically" {
    a=$(wc -c < fox.l1b); b=$(wc -c < fox.l1bi)
    [ $((a / b)) -ge 12 ]       # 359104 -> 25856 bytes at this size (73024 with --tables f32)
    for m in fox fox32; do
        [ "$(l1b-sample -m $m.l1b --greedy -n 60 -i 'the quick')" = "$(l1b-sample -m $m.l1bi --greedy -n 60 -i 'the quick')" ]
        [ "$(l1b-sample -m $m.l1b -T 1.5 -s 9 -n 80 -i 'the')" = "$(l1b-sample -m $m.l1bi -T 1.5 -s 9 -n 80 -i 'the')" ]
        [ "$(l1b-sample -m $m.l1b --score tiny.txt)" = "$(l1b-sample -m $m.l1bi --score tiny.txt)" ]
    done
    [ "$(l1b-sample -m fox.l1bi --greedy -n 35 -i 'the quick')" = " brown fox jumps over the lazy dog." ]
    # the tokenizer of an inference file is usable
    [ "$(echo hello | l1b-tokenize --tokenizer fox.l1bi --ids)" = "104 101 108 108 111 10" ]
    run l1b-ckpt convert --pack fox.l1bi again.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: fox.l1bi: already an inference file" ]
    run l1b-ckpt convert --unpack fox.l1b again.l1b
    [ "$status" -eq 1 ]
    [ ! -e again.l1bi ]
    [ ! -e again.l1b ]
    run l1b-ckpt convert --pack -v fox.l1b v.l1bi
    [ "$output" = "l1b-ckpt: fox.l1b: $a bytes -> v.l1bi: $b bytes ($(awk -v a=$a -v b=$b 'BEGIN { printf "%.2f", a / b }') x smaller)" ]
}

@test "convert --pack --bits 1.6: weights five to a byte, the same output, repacked either way" {
    l1b-ckpt convert --pack --bits 1.6 fox.l1b fox3.l1bi
    [ "$(sections fox3.l1bi | cut -d' ' -f1 | tr '\n' ' ')" = "CONF TOKZ HIST FLTS QTAB TRI5 " ]
    # 2 bits: rows in 16-byte blocks of 64 columns; base 3: rows of
    # ceil(cols / 5) bytes. At width 160 (hidden 448) rows of 160 take 48
    # bytes or 32, rows of 448 112 or 90: 16 bytes less on each of
    # 4 x 160 + 2 x 448 rows, 22 on each of 160
    l1b-train -q -o wide.l1b --dim 160 --layers 1 --heads 2 --ctx 16 --batch 2 --steps 2 tiny.tok
    l1b-ckpt convert --pack wide.l1b wide.l1bi
    l1b-ckpt convert --pack --bits 1.6 wide.l1b wide3.l1bi
    tern=$(sections wide.l1bi | awk '$1 == "TERN" { print $3 }')
    tri5=$(sections wide3.l1bi | awk '$1 == "TRI5" { print $3 }')
    [ $((tern - tri5)) -eq $(((4 * 160 + 2 * 448) * 16 + 160 * 22)) ]
    [ $(wc -c < wide3.l1bi) -lt $(wc -c < wide.l1bi) ]
    [ "$(l1b-sample -m wide3.l1bi --greedy -n 20 -i the)" = "$(l1b-sample -m wide.l1bi --greedy -n 20 -i the)" ]
    [ "$(l1b-ckpt info fox3.l1bi | grep '^packing')" = "packing       1.6 bits a weight (base 3, five to a byte)" ]
    [ "$(l1b-ckpt info fox.l1bi | grep '^packing')" = "packing       2 bits a weight" ]
    [ "$(json fox3.l1bi '$j->{packing}')" = "base3" ]
    [ "$(json fox.l1bi '$j->{packing}')" = "2bit" ]
    [ "$(json fox.l1b 'defined $j->{packing} ? "x" : "null"')" = "null" ]
    l1b-ckpt verify fox3.l1bi
    for a in "--greedy -n 60 -i the" "-T 1.5 -s 9 -n 80 -i the" "--score tiny.txt"; do
        [ "$(l1b-sample -m fox3.l1bi $a)" = "$(l1b-sample -m fox.l1bi $a)" ]
    done
    # --exact: with float tables
    l1b-ckpt convert --pack --bits 1.6 --tables f32 fox.l1b fox3f.l1bi
    l1b-ckpt convert --pack --tables f32 fox.l1b foxf.l1bi
    a=$(l1b-sample -m fox3f.l1bi --exact -T 1 -s 3 -n 40 -i fox)
    [ -n "$a" ] && [ "$a" = "$(l1b-sample -m foxf.l1bi --exact -T 1 -s 3 -n 40 -i fox)" ]
    # back to 2 bits gives the 2-bit file byte for byte, as does unpacking
    l1b-ckpt convert --pack --bits 2 fox3.l1bi back.l1bi
    cmp back.l1bi fox.l1bi
    l1b-ckpt convert --unpack fox3.l1bi un3.l1b
    l1b-ckpt convert --pack un3.l1b re.l1bi
    cmp re.l1bi fox.l1bi
    run l1b-ckpt convert --pack --bits 1.6 fox3.l1bi again.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: fox3.l1bi: already an inference file" ]
    [ ! -e again.l1bi ]
}

@test "convert --pack --tables: int8 rows by default, the same output as floats; f32 for --exact" {
    l1b-ckpt convert --pack --tables f32 fox.l1b f32.l1bi
    [ "$(sections fox.l1bi | cut -d' ' -f1 | tr '\n' ' ')" = "CONF TOKZ HIST FLTS QTAB TERN " ]
    [ "$(sections f32.l1bi | cut -d' ' -f1 | tr '\n' ' ')" = "CONF TOKZ HIST FLTS TERN " ]
    # FLTS: the norms (2 x 32 + 32 floats) or everything (+ 2 x 257 x 32);
    # QTAB: 2 x 257 scales (2056 bytes, padded to 2112) and 2 x 257 x 32 values
    [ "$(sections fox.l1bi | awk '$1 == "FLTS" || $1 == "QTAB" { printf "%s ", $3 }')" = "384 18560 " ]
    [ "$(sections f32.l1bi | awk '$1 == "FLTS" { print $3 }')" = 66176 ]
    [ $(wc -c < f32.l1bi) -eq 73024 ] && [ $(wc -c < fox.l1bi) -eq 25856 ]
    # the sampler's int8 rows are the same from either file: the same text
    # and scores (fox.l1b's too: the test above)
    for a in "--greedy -n 60 -i the" "-T 1.5 -s 9 -n 80 -i the" "--score tiny.txt" "--lines -n 20 -s 2"; do
        [ "$(echo 'the lazy' | l1b-sample -m fox.l1bi $a)" = "$(echo 'the lazy' | l1b-sample -m f32.l1bi $a)" ]
    done
    # --exact needs float tables
    [ "$(l1b-sample -m f32.l1bi --exact --greedy -n 35 -i 'the quick')" = " brown fox jumps over the lazy dog." ]
    [ "$(l1b-sample -m f32.l1bi --exact --score tiny.txt)" = "$(l1b-sample -m fox.l1b --exact --score tiny.txt)" ]
    run l1b-sample -m fox.l1bi --exact -n 5 -i the
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: fox.l1bi: the embedding and output head are int8 rows in this file; float tables (--exact) need a file packed with --tables f32" ]
    # info and verify
    [ "$(l1b-ckpt info fox.l1bi | grep '^tables')" = "tables        int8 rows with a scale each (embedding, head)" ]
    [ "$(l1b-ckpt info f32.l1bi | grep '^tables')" = "tables        f32 (embedding, head)" ]
    [ "$(l1b-ckpt info fox.l1bi | grep -E '^(tok_emb|head|final_norm) ')" = "$(printf '%s\n' \
        'tok_emb        257x32      int8' 'final_norm     32          float' 'head           257x32      int8')" ]
    [ "$(json fox.l1bi '$j->{tables}')" = int8 ]
    [ "$(json f32.l1bi '$j->{tables}')" = f32 ]
    [ "$(json fox.l1b '$j->{tables}')" = f32 ]
    [ "$(json fox32.l1bi '$j->{tables}')" = f32 ]
    l1b-ckpt verify fox.l1bi f32.l1bi
    # either way round: int8 from the float file is the default file, f32
    # from the int8 file samples the same (its floats quantise back to the
    # same rows) and packs back to the same bytes
    l1b-ckpt convert --pack f32.l1bi re8.l1bi
    cmp re8.l1bi fox.l1bi
    l1b-ckpt convert --pack --tables f32 fox.l1bi ref.l1bi
    [ $(wc -c < ref.l1bi) -eq 73024 ]
    [ "$(l1b-sample -m ref.l1bi --score tiny.txt)" = "$(l1b-sample -m fox.l1bi --score tiny.txt)" ]
    l1b-ckpt convert --pack ref.l1bi re8b.l1bi
    cmp re8b.l1bi fox.l1bi
    run l1b-ckpt convert --pack --tables f32 f32.l1bi again.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: f32.l1bi: already an inference file" ]
    # misuse, and float models (their file keeps every tensor as floats)
    run l1b-ckpt convert --pack --tables f16 fox.l1b out.l1bi
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-ckpt: --tables: 'f16' is not int8 or f32" ]
    run l1b-ckpt convert --unpack --tables f32 fox.l1bi out.l1b
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-ckpt: convert: --tables goes with --pack" ]
    run l1b-ckpt convert --pack --tables int8 fox32.l1b out.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: fox32.l1b: --tables int8 goes with ternary or binary weights; this model's are floats" ]
    [ ! -e out.l1bi ] && [ ! -e out.l1b ] && [ ! -e again.l1bi ]
    l1b-ckpt convert --pack --tables f32 fox32.l1b f32-32.l1bi
    cmp f32-32.l1bi fox32.l1bi
}

@test "convert --bits: bad values, --unpack, and models without ternary weights" {
    run l1b-ckpt convert --pack --bits 1.5 fox.l1b out.l1bi
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-ckpt: --bits: '1.5' is not 2 or 1.6" ]
    run l1b-ckpt convert --unpack --bits 2 fox.l1bi out.l1b
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-ckpt: convert: --bits goes with --pack" ]
    run l1b-ckpt convert --pack --bits 1.6 fox32.l1b out.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: fox32.l1b: --bits 1.6 packs ternary weights; this model's are floats" ]
    l1b-train -q -o sign.l1b $TINY --quant sign --steps 3 tiny.tok
    run l1b-ckpt convert --pack --bits 1.6 sign.l1b out.l1bi
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: sign.l1b: --bits 1.6 packs ternary weights; this model's are binary (1 bit each)" ]
    [ ! -e out.l1bi ] && [ ! -e out.l1b ]
    # --bits 2 is what --pack does anyway, for every scheme
    l1b-ckpt convert --pack --bits 2 sign.l1b sign.l1bi
    [ "$(json sign.l1bi '$j->{packing}')" = "1bit" ]
}

@test "pack, unpack, pack is byte-identical; the unpacked model samples the same" {
    l1b-ckpt convert --unpack fox.l1bi un.l1b
    l1b-ckpt convert --pack un.l1b re.l1bi
    cmp fox.l1bi re.l1bi
    l1b-ckpt convert --unpack fox32.l1bi un32.l1b
    l1b-ckpt convert --pack un32.l1b re32.l1bi
    cmp fox32.l1bi re32.l1bi
    [ "$(l1b-sample -m un.l1b -T 1.5 -s 4 -n 80 -i 'the')" = "$(l1b-sample -m fox.l1b -T 1.5 -s 4 -n 80 -i 'the')" ]
    [ "$(json un.l1b '$j->{step} . " " . $j->{total_steps} . " " . $j->{kind}')" = "0 2000 training" ]
    # the history comes along
    [ "$(l1b-ckpt history un.l1b)" = "$(l1b-ckpt history fox.l1b)" ]
    l1b-ckpt verify un.l1b
}

@test "every quantisation scheme packs, unpacks and packs again to the same bytes" {
    for q in twn stochastic sign; do
        l1b-train -q -o $q.l1b $TINY --quant $q --steps 30 tiny.tok
        l1b-ckpt convert --pack $q.l1b $q.l1bi
        run l1b-ckpt convert --unpack $q.l1bi $q-un.l1b
        [ "$status" -eq 0 ]
        [ -z "$output" ]    # no slice only approximately reproduced
        l1b-ckpt convert --pack $q-un.l1b $q-2.l1bi
        cmp $q.l1bi $q-2.l1bi
        [ "$(l1b-sample -m $q-un.l1b --greedy -n 30 -i the)" = "$(l1b-sample -m $q.l1b --greedy -n 30 -i the)" ]
        [ "$(json $q.l1bi '$j->{quant}')" = "$q" ]
    done
}

@test "an unpacked model trains on with l1b-train --resume" {
    l1b-ckpt convert --unpack --lr 3e-3 --warmup 10 --batch 8 --steps 40 fox.l1bi go.l1b
    l1b-train -q -o go.l1b --resume $TINY --eval-every 20 tiny.tok
    [ "$(json go.l1b '$j->{step} . " " . $j->{total_steps}')" = "40 40" ]
    # it went on from the shipped weights: still low loss, still the sentence
    [ "$(l1b-ckpt history go.l1b | wc -l)" -eq 6 ]   # header, 3 old rows, 2 new
    awk -v l="$(json go.l1b '$j->{train_loss}')" 'BEGIN { exit !(l < 0.3) }'
    [ "$(l1b-sample -m go.l1b --greedy -n 35 -i 'the quick')" = " brown fox jumps over the lazy dog." ]
    # l1b-train's defaults otherwise, and explicit values must agree
    l1b-ckpt convert --unpack fox.l1bi def.l1b
    run l1b-train -q -o def.l1b --resume --seed 3 --steps 5 tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"--seed differs from the model being resumed"* ]]
    l1b-train -q -o def.l1b --resume --steps 5 tiny.tok
    # an inference file is not resumed
    cp fox.l1bi inf.l1b
    run l1b-train -q -o inf.l1b --resume --steps 5 tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"inf.l1b: an inference file, not a training checkpoint (l1b-ckpt convert --unpack makes one)"* ]]
    cmp inf.l1b fox.l1bi
}

@test "convert never leaves a partial or damaged OUT" {
    echo keep > out.l1bi
    head -c 100000 fox.l1b > cut.l1b
    run l1b-ckpt convert --pack cut.l1b out.l1bi
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-ckpt: cut.l1b: truncated model file"* ]]
    [ "$(cat out.l1bi)" = keep ]
    run l1b-ckpt convert --pack fox.l1b no/such/dir/out.l1bi
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-ckpt: no/such/dir/out.l1bi: cannot create"* ]]
    mkdir -p ro && chmod 555 ro
    if [ ! -w ro ]; then
        run l1b-ckpt convert --pack fox.l1b ro/out.l1bi
        [ "$status" -eq 1 ]
    fi
    [ -z "$(ls -A ro)" ]
    [ -z "$(ls -a | grep '^\.out\.l1bi\.')" ]
}

@test "verify: ok for good files, the first problem otherwise" {
    run l1b-ckpt verify fox.l1b fox.l1bi fox32.l1bi tiny.tok
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'fox.l1b: ok\nfox.l1bi: ok\nfox32.l1bi: ok\ntiny.tok: ok')" ]
    echo 'not a model' > junk
    run l1b-ckpt verify fox.l1b junk fox.l1bi
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = "fox.l1b: ok" ]
    [ "${lines[1]}" = "l1b-ckpt: junk: not an l1b model file or token stream (bad magic)" ]
    [ "${#lines[@]}" -eq 2 ]
    run l1b-ckpt verify missing.l1b
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: missing.l1b: No such file or directory" ]
}

@test "verify notices a flipped byte in every section of both kinds" {
    for f in fox.l1b fox.l1bi fox32.l1bi; do
        n=0
        while read -r tag off size; do
            for at in $off $((off + size / 2)) $((off + size - 1)); do
                flip $f $at bad.l1b
                run l1b-ckpt verify bad.l1b
                [ "$status" -eq 1 ]
                [ "${#lines[@]}" -eq 1 ]
                [[ "$output" == "l1b-ckpt: bad.l1b: "* ]]
                n=$((n + 1))
            done
        done < <(sections $f)
        [ $n -ge 12 ]
        # header, section table and padding too
        for at in 0 9 13 17 21 26 40 60 100; do
            flip $f $at bad.l1b
            run l1b-ckpt verify bad.l1b
            [ "$status" -eq 1 ]
        done
    done
    flip fox.l1bi $(( $(sections fox.l1bi | awk '$1 == "TERN" { print $2 + 100 }') )) bad.l1b
    run l1b-ckpt verify bad.l1b
    [ "$output" = "l1b-ckpt: bad.l1b: TERN section checksum mismatch (corrupt data)" ]
    # a token stream
    flip tiny.tok 200 bad.tok
    run l1b-ckpt verify bad.tok
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-ckpt: bad.tok: token checksum mismatch"* ]]
}

@test "truncated files are refused by every command, never a crash" {
    size=$(wc -c < fox.l1bi)
    for n in 0 7 8 31 32 100 191 200 300 1000 20000 $((size - 1)); do
        head -c $n fox.l1bi > cut.l1b
        for cmd in "verify" "info" "info --json" "vocab" "history" "convert --unpack"; do
            run l1b-ckpt $cmd cut.l1b $( [ "$cmd" = "convert --unpack" ] && echo out.l1b )
            [ "$status" -eq 1 ]
            [ "${#lines[@]}" -eq 1 ]
            [[ "$output" == "l1b-ckpt: cut.l1b: "* ]]
        done
        run l1b-sample -m cut.l1b -n 5 -i x
        [ "$status" -eq 1 ]
    done
    [ ! -e out.l1b ]
    head -c 5000 tiny.tok > cut.tok
    run l1b-ckpt verify cut.tok
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-ckpt: cut.tok: "*"truncated"* || "$output" == *"mismatch"* ]]
}

@test "vocab: one escaped token a line, merges with their rank" {
    run l1b-ckpt vocab fox.l1b
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 257 ]
    [ "${lines[65]}" = "$(printf '65\tA')" ]
    [ "${lines[10]}" = "$(printf '10\t\\n')" ]
    [ "${lines[92]}" = "$(printf '92\t\\\\')" ]
    [ "${lines[200]}" = "$(printf '200\t\\xc8')" ]
    [ "${lines[256]}" = "$(printf '256\t<eod>')" ]
    [ "$(l1b-ckpt vocab tiny.tok)" = "$output" ]
    [ "$(l1b-ckpt vocab fox.l1bi)" = "$output" ]
    l1b-tokenize --bpe --vocab 300 -o bpe.tok tiny.txt
    run l1b-ckpt vocab bpe.tok
    n=${#lines[@]}      # BPE stops early on so repetitive a text
    [ $n -gt 280 ]
    # merge lines: id, bytes, rank; the bytes (a space spelt \u2581) encode back to the id
    [[ "${lines[257]}" =~ ^257$'\t'.+$'\t'0$ ]]
    last=$((n - 1))
    [[ "${lines[$last]}" =~ ^$last$'\t'.+$'\t'$((last - 257))$ ]]
    tok=$(printf '%s' "${lines[$last]}" | cut -f2)
    [ "$(printf '%b' "${tok//▁/ }" | l1b-tokenize --tokenizer bpe.tok --ids)" = $last ]
}

@test "history: a table, and an SVG with one path per curve" {
    run l1b-ckpt history fox.l1b
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 4 ]
    [[ "${lines[0]}" =~ ^step\ \ tokens\ \ train_loss\ \ val_loss\ \ val_ppl\ \ val_bpb\ \ val_acc\ +lr\ \ grad_norm ]]
    [[ "${lines[3]}" =~ ^\ 300\ +38400\ +[0-9.]+\ +[0-9.]+ ]]
    l1b-ckpt history --svg h.svg fox.l1b
    [ "$(head -c 5 h.svg)" = "<?xml" ]
    if command -v xmllint > /dev/null; then xmllint --noout h.svg; fi
    for c in train_loss val_loss val_bpb; do
        [ "$(grep -c "<path class=\"$c\"" h.svg)" -eq 1 ]
        # one point per history row: M and two L
        [ "$(grep -o "<path class=\"$c\"[^>]*" h.svg | grep -o '[ML] [0-9]' | wc -l)" -eq 3 ]
    done
    if command -v rsvg-convert > /dev/null; then
        rsvg-convert -o h.png h.svg
        [ -s h.png ]
    fi
    run l1b-ckpt history --svg no/dir/h.svg fox.l1b
    [ "$status" -eq 1 ]
}

@test "export llama2c: run.c's layout, the tokenizer, and refusals" {
    l1b-ckpt export --format llama2c --tokenizer-out tok.bin fox32.l1b fox32.bin
    # 7 int32, then V C + L C + 4 L C^2 + L C + 3 L H C + C + ctx HS + V C floats
    [ "$(wc -c < fox32.bin)" -eq $((28 + 4 * (257*32 + 32 + 4*1024 + 32 + 3*96*32 + 32 + 16*16 + 257*32))) ]
    [ "$(perl -e 'open my $h, "<:raw", $ARGV[0]; read $h, my $b, 28; print join " ", unpack "l<7", $b' fox32.bin)" = \
      "32 96 1 2 2 -257 16" ]
    # tokenizer.bin: max length 5 ("<eod>", id 1), then (score, length, bytes) per id
    perl -e 'open my $h, "<:raw", $ARGV[0]; local $/; my $b = <$h>;
        my ($max) = unpack "l<", $b; die "max $max" unless $max == 5;
        my $at = 4; my @t;
        for my $i (0 .. 256) { my ($s, $n) = unpack "f< l<", substr($b, $at, 8); push @t, substr($b, $at + 8, $n); $at += 8 + $n }
        die "size" unless $at == length $b;
        die "eod" unless $t[1] eq "<eod>" && $t[256] eq "\x01" && $t[65] eq "A";' tok.bin
    # the ternary model goes out dequantised
    l1b-ckpt export --format llama2c fox.l1bi fox.bin
    [ "$(wc -c < fox.bin)" -eq "$(wc -c < fox32.bin)" ]
    run l1b-ckpt export --format llama2c relu.l1b relu.bin
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: relu.l1b: llama2.c's run.c has only a SwiGLU feed-forward; this model uses squared ReLU (--ffn-act relu2) and cannot be exported" ]
    [ ! -e relu.bin ]
}
