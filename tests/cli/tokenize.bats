#!/usr/bin/env bats
# l1b-tokenize: options, documents, reuse of a tokenizer, and bad input.
load helper

@test "--tokenizer reuse gives the same ids as the run that learned them" {
    gen_text 5 8000 > train.txt
    l1b-tokenize --bpe --vocab 700 -o train.tok train.txt
    l1b-tokenize --ids --tokenizer train.tok train.txt > again.ids
    l1b-tokenize --decode train.tok | l1b-tokenize --ids --tokenizer train.tok > decoded.ids
    cmp again.ids decoded.ids
    # and the binary stream is byte-identical
    l1b-tokenize --tokenizer train.tok -o again.tok train.txt
    cmp train.tok again.tok
}

@test "--tokenizer encodes new text that round-trips" {
    gen_text 6 4000 > train.txt
    gen_text 7 1000 > val.txt
    printf 'zebra \xf0\x9f\xa6\x93 unseen words\n' >> val.txt
    l1b-tokenize --bpe --vocab 500 -o train.tok train.txt
    l1b-tokenize --tokenizer train.tok -o val.tok val.txt
    l1b-tokenize --decode val.tok | cmp - val.txt
    # the two streams carry the same tokenizer header
    cmp <(head -c 64 train.tok) <(head -c 64 val.tok) || \
        [ "$(od -An -tu4 -j16 -N4 train.tok)" = "$(od -An -tu4 -j16 -N4 val.tok)" ]
}

@test "--ids text decodes back with --decode --ids" {
    printf 'hello hello world\n' > in.txt
    l1b-tokenize --bpe --vocab 300 -o s.tok in.txt
    l1b-tokenize --ids --tokenizer s.tok in.txt > in.ids
    l1b-tokenize --decode --ids --tokenizer s.tok in.ids | cmp - in.txt
    run l1b-tokenize --ids in.txt
    [ "$output" = "104 101 108 108 111 32 104 101 108 108 111 32 119 111 114 108 100 10" ]
}

@test "--doc line puts one end-of-document token after every line" {
    printf 'one\ntwo two\n\nfour' > in.txt
    run bash -c "l1b-tokenize --doc line --ids in.txt | tr ' ' '\n' | grep -cx 256"
    [ "$output" = 4 ]
    l1b-tokenize --doc line in.txt | l1b-tokenize --decode | cmp - in.txt
}

@test "--doc blank ends documents at blank lines" {
    printf 'para one\nstill one\n\npara two\n\n\n\npara three\n' > in.txt
    run bash -c "l1b-tokenize --bpe --vocab 270 --doc blank --ids in.txt | tr ' ' '\n' | grep -cx 256"
    [ "$output" = 3 ]
}

@test "--doc nul ends documents at NUL bytes" {
    printf 'a\0bb\0ccc\0dddd' > in.bin
    run bash -c "l1b-tokenize --doc nul --ids in.bin | tr ' ' '\n' | grep -cx 256"
    [ "$output" = 4 ]
    # without --doc there is no end-of-document token at all
    run bash -c "l1b-tokenize --ids in.bin | tr ' ' '\n' | grep -cx 256"
    [ "$output" = 0 ]
}

@test "several files are tokenized as one text, several streams decode in order" {
    printf 'first ' > a.txt
    printf 'second\n' > b.txt
    l1b-tokenize a.txt b.txt | l1b-tokenize --decode > out.txt
    [ "$(cat out.txt)" = "first second" ]
    l1b-tokenize -o a.tok a.txt
    l1b-tokenize -o b.tok b.txt
    [ "$(l1b-tokenize --decode a.tok b.tok)" = "first second" ]
}

@test "success is quiet; -v reports a summary" {
    printf 'some text\n' > in.txt
    run bash -c "l1b-tokenize -o out.tok in.txt 2>&1"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run bash -c "l1b-tokenize -v -o out.tok in.txt 2>&1 >/dev/null"
    [[ "$output" == "l1b-tokenize: 10 bytes -> 10 tokens (1.000 bytes/token, 0 end-of-document), vocabulary 257,"* ]]
}

@test "truncated stream is an error naming the file" {
    printf 'some text to cut short\n' > in.txt
    l1b-tokenize -o s.tok in.txt
    head -c 100 s.tok > cut.tok
    run l1b-tokenize --decode cut.tok
    [ "$status" -eq 1 ]
    [ "${lines[-1]}" = "l1b-tokenize: cut.tok: truncated token stream (no end marker)" ]
    head -c 40 s.tok > cut2.tok
    run l1b-tokenize --decode cut2.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: cut2.tok: truncated token stream header" ]
}

@test "corrupt stream is an error: checksum, magic, version, range" {
    printf 'some text to corrupt\n' > in.txt
    l1b-tokenize -o s.tok in.txt
    cp s.tok bad.tok
    printf 'X' | dd of=bad.tok bs=1 seek=70 conv=notrunc status=none
    run l1b-tokenize --decode bad.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.tok: token checksum mismatch (corrupt data)" ]]
    run l1b-tokenize --decode in.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: in.txt: looks like text, not an l1b token stream (make one with l1b-tokenize)" ]
    cp s.tok v2.tok
    printf '\002' | dd of=v2.tok bs=1 seek=8 conv=notrunc status=none
    run l1b-tokenize --decode v2.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: v2.tok: token stream version 2 not supported (this l1b reads 1)" ]
    cp s.tok range.tok
    printf '\377\377' | dd of=range.tok bs=1 seek=64 conv=notrunc status=none
    run l1b-tokenize --decode range.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"range.tok: token 0: id 65535 out of range (vocabulary 257)" ]]
    run l1b-tokenize --tokenizer in.txt in.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: in.txt: looks like text, not an l1b token stream (make one with l1b-tokenize)" ]
}

@test "a failed run leaves an existing output file untouched" {
    printf 'keep me\n' > out.tok
    run l1b-tokenize -o out.tok missing.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: missing.txt: No such file or directory" ]
    [ "$(cat out.tok)" = "keep me" ]
    # and no temporary file is left beside it
    [ "$(ls -A | wc -l)" -eq 1 ]
}

@test "a full disk is an error, not a short stream" {
    printf 'text\n' > in.txt
    run bash -c "l1b-tokenize in.txt > /dev/full"
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: stdout: write error: No space left on device" ]
}

@test "refuses to write a binary stream to a terminal unless -f" {
    printf 'text\n' > in.txt
    run script -qec "l1b-tokenize in.txt" /dev/null
    [ "$status" -eq 1 ]
    [[ "$output" == *"refusing to write a binary token stream to a terminal"* ]]
    run script -qec "l1b-tokenize -f in.txt" /dev/null
    [ "$status" -eq 0 ]
    run script -qec "l1b-tokenize --ids in.txt" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == "116 101 120 116 10"* ]]
}

@test "usage errors exit 2 with a hint" {
    run l1b-tokenize --vocab 100 --bpe
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --vocab: '100' is not a number from 257 to 65536" ]
    [ "${lines[1]}" = "Try 'l1b-tokenize --help'." ]
    run l1b-tokenize --doc pages
    [ "$status" -eq 2 ]
    run l1b-tokenize --bpe --tokenizer x.tok
    [ "$status" -eq 2 ]
    run l1b-tokenize --no-such-flag
    [ "$status" -eq 2 ]
    run l1b-tokenize --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: l1b-tokenize"* ]]
}

@test "bad --ids input is an error naming the line" {
    printf '104 105\n300\n' > bad.ids
    run l1b-tokenize --decode --ids bad.ids
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: bad.ids: line 2: id out of range (vocabulary 257)" ]
    printf '104 x\n' > junk.ids
    run l1b-tokenize --decode --ids junk.ids
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: junk.ids: line 1: not a token id (byte 0x78)" ]
}

@test "the stdin spool file never outlives the process: not on success, SIGTERM or kill -9" {
    mkdir spool
    gen_text 8 2000 > in.txt
    cat in.txt | TMPDIR=$PWD/spool l1b-tokenize --bpe -o out.tok
    [ -z "$(ls -A spool)" ]
    mkfifo feed
    for sig in TERM KILL; do
        TMPDIR=$PWD/spool l1b-tokenize --bpe -o out2.tok < feed &
        pid=$!
        exec 4> feed            # hold the pipe open: the tokenizer waits for more
        cat in.txt >&4
        # the spool exists only as an open descriptor, already unlinked
        for i in $(seq 50); do ls -l /proc/$pid/fd | grep -q "spool/l1b-spool.*(deleted)" && break; sleep 0.1; done
        ls -l /proc/$pid/fd | grep -q "spool/l1b-spool.*(deleted)"
        [ -z "$(ls -A spool)" ]
        kill -$sig $pid
        status=0
        wait $pid || status=$?
        exec 4>&-
        [ "$status" -gt 128 ]   # killed by the signal, as the shell reports it
        [ -z "$(ls -A spool)" ]
        [ ! -e out2.tok ]
    done
}

@test "a temporary output left by kill -9 is removed by the next writer of that file" {
    gen_text 8 2000 > in.txt
    l1b-tokenize -o out.tok in.txt
    cp out.tok before.tok
    mkfifo feed
    l1b-tokenize -o out.tok < feed &
    pid=$!
    exec 4> feed
    cat in.txt >&4          # byte tokens stream out: the temporary file exists
    for i in $(seq 50); do [ -n "$(ls -A . | grep '^\.out\.tok\.')" ] && break; sleep 0.1; done
    [ -n "$(ls -A . | grep '^\.out\.tok\.')" ]
    kill -KILL $pid
    wait $pid || true
    exec 4>&-
    cmp out.tok before.tok  # the old output is intact
    [ -n "$(ls -A . | grep '^\.out\.tok\.')" ]
    # a writer of another file leaves it alone; the next writer of out.tok removes it
    l1b-tokenize -o other.tok in.txt
    [ -n "$(ls -A . | grep '^\.out\.tok\.')" ]
    l1b-tokenize -o out.tok in.txt
    [ -z "$(ls -A . | grep '^\.out\.tok\.')" ]
    cmp out.tok before.tok
}

@test "--bpe reads a pipe given as FILE twice via the spool" {
    gen_text 9 3000 > in.txt
    l1b-tokenize --bpe --vocab 400 <(cat in.txt) | l1b-tokenize --decode | cmp - in.txt
    l1b-tokenize --bpe --vocab 400 -v <(cat in.txt) -o a.tok 2>&1 | grep -q "learned"
    l1b-tokenize --bpe --vocab 400 in.txt -o b.tok
    cmp a.tok b.tok
}

@test "a crafted stream whose merges grow without bound is refused" {
    # 40 merges, each joining the previous token with itself: 2^40 bytes
    perl -e '
        my $n = 40;
        my $rec = pack("V5", 2, 1, 257 + $n, 1, $n) . pack("v2", 97, 97);
        $rec .= pack("v2", 256 + $_, 256 + $_) for 1 .. $n - 1;
        my $h = "L1BTOKEN" . pack("V4", 1, 0, 0, length $rec) . $rec;
        my $size = length($h) + 4;
        $size += 64 - $size % 64 if $size % 64;
        substr($h, 16, 4) = pack("V", $size);
        print $h;' > body
    # header CRC with cksum-compatible zlib CRC via perl
    perl -e '
        local $/; my $b = <STDIN>;
        my @t; for my $i (0..255) { my $c = $i; $c = $c & 1 ? 0xEDB88320 ^ ($c >> 1) : $c >> 1 for 1..8; $t[$i] = $c }
        my $c = 0xFFFFFFFF; $c = $t[($c ^ ord $_) & 0xFF] ^ ($c >> 8) for split //, $b;
        my $size = unpack("V", substr($b, 16, 4));
        my $h = $b . pack("V", $c ^ 0xFFFFFFFF);
        $h .= "\0" x ($size - length $h);
        print $h, pack("VVV", 0, 0, 0), "TEND";' < body > bomb.tok
    run l1b-tokenize --decode bomb.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: bomb.tok: merge 6 makes a token longer than 64 bytes" ]
}

@test "--pieces: tokens as text, a space as U+2581, a line per line of input" {
    for i in $(seq 20); do echo "the cat sat on the mat"; done > cat.txt
    l1b-tokenize --bpe --vocab 270 -o cat.tok cat.txt
    run bash -c "printf 'the cat sat\n\ton a hat!\n' | l1b-tokenize --tokenizer cat.tok --pieces"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 'the ▁cat ▁sat \n' ]
    [ "${lines[1]}" = '\t o n ▁ a ▁ h at ! \n' ]
    [ "${#lines[@]}" -eq 2 ]
    # bytes that are no printable character: \\ \r \xHH; U+2581 itself escaped;
    # a well-formed UTF-8 character as it is (when one token holds it)
    printf 'caf\xc3\xa9 \\ \r\xff\xe2\x96\x81\n' > odd.txt
    run l1b-tokenize --pieces odd.txt
    [ "$output" = 'c a f \xc3 \xa9 ▁ \\ ▁ \r \xff \xe2 \x96 \x81 \n' ]
    for i in $(seq 20); do echo "café"; done > cafe.txt
    l1b-tokenize --bpe --vocab 300 -o cafe.tok cafe.txt
    [ "$(echo café | l1b-tokenize --tokenizer cafe.tok --pieces)" = 'café \n' ]
    # documents: <eod> ends a line; the last line has no newline of its own
    run bash -c "printf 'one\n\nthree' | l1b-tokenize --doc line --pieces"
    [ "$output" = "$(printf 'o n e \\n <eod>\n\\n <eod>\nt h r e e <eod>')" ]
    # l1b-ckpt vocab spells the vocabulary the same way
    l1b-ckpt vocab cat.tok > vocab.txt
    grep -qx $'32\t▁' vocab.txt
    grep -qx $'258\t▁cat\t1' vocab.txt || grep -q $'\t▁cat\t' vocab.txt
    # empty input, empty output
    [ -z "$(l1b-tokenize --pieces < /dev/null)" ]
}

@test "--user-symbols: a symbol stays one token, is stored in the stream and round-trips" {
    for i in $(seq 100); do
        printf '<|user|> hello there|>\n<|bot|> hi, <|user|\n'
    done > chat.txt
    l1b-tokenize --bpe --vocab 300 --user-symbols '<|user|>,<|bot|>' -o chat.tok chat.txt
    l1b-tokenize --decode chat.tok | cmp - chat.txt
    # the symbols are the last two ids, listed as user symbols
    n=$(l1b-ckpt vocab chat.tok | wc -l)
    [ "$(l1b-ckpt vocab chat.tok | tail -2)" = "$(printf '%d\t<|user|>\tuser\n%d\t<|bot|>\tuser' $((n - 2)) $((n - 1)))" ]
    # every occurrence is that one id, and nothing else is: a cut-short
    # "<|user|" is ordinary text
    l1b-tokenize --decode chat.tok | l1b-tokenize --tokenizer chat.tok --ids > chat.ids
    [ "$(tr ' ' '\n' < chat.ids | grep -cx $((n - 2)))" = 100 ]
    [ "$(tr ' ' '\n' < chat.ids | grep -cx $((n - 1)))" = 100 ]
    # encoding with the stored tokenizer matches them greedily, before BPE
    run bash -c "printf 'x<|user|><|bot|>y' | l1b-tokenize --tokenizer chat.tok --pieces"
    [ "$output" = "x <|user|> <|bot|> y" ]
    # never split and never merged: no other token holds a symbol
    [ "$(l1b-ckpt vocab chat.tok | grep -c '<|user|>')" = 1 ]
    [ "$(l1b-ckpt vocab chat.tok | grep -c '<|bot|>')" = 1 ]
    # with the byte tokenizer: 257 is the first symbol; escapes in the list
    [ "$(printf 'a<|user|>b' | l1b-tokenize --user-symbols '<|user|>' --ids)" = "97 257 98" ]
    [ "$(printf 'a,b\n\n' | l1b-tokenize --user-symbols 'a\,b,\n\n' --ids)" = "257 258" ]
    printf 'a,b\n\n' | l1b-tokenize --user-symbols 'a\,b' --user-symbols '\x0a\x0a' | l1b-tokenize -d | cmp - <(printf 'a,b\n\n')
}

@test "--user-symbols: a model trained on the stream reads and writes them" {
    for i in $(seq 200); do printf '<|user|> the cat\n'; done > chat.txt
    l1b-tokenize --bpe --vocab 280 --user-symbols '<|user|>' -o chat.tok chat.txt
    l1b-train -q -o m.l1b --dim 16 --layers 1 --heads 2 --ctx 16 --steps 2 --batch 2 chat.tok
    n=$(l1b-ckpt vocab m.l1b | wc -l)
    run bash -c "printf '<|user|> the' | l1b-sample -m m.l1b --score --logprobs"
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = "$(printf '0\t%d\t<|user|>' $((n - 1)))"$'\t'"$(cut -f4 <<< "${lines[1]}")" ]
}

@test "--user-symbols and --pieces: mistakes are usage errors naming the option" {
    run l1b-tokenize --user-symbols 'a,,b' --ids < /dev/null
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --user-symbols: 'a,,b': an empty symbol" ]
    run l1b-tokenize --user-symbols 'ab,ab' --ids < /dev/null
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --user-symbols: 'ab' given twice" ]
    run l1b-tokenize --user-symbols '<eod>' --ids < /dev/null
    [ "$status" -eq 2 ]
    run l1b-tokenize --user-symbols "$(printf '%065d' 0)" --ids < /dev/null
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == *"a symbol is longer than 64 bytes" ]]
    run l1b-tokenize --user-symbols 'a\qb' --ids < /dev/null
    [ "$status" -eq 2 ]
    printf 'x' > x.txt
    l1b-tokenize -o x.tok x.txt
    run l1b-tokenize --tokenizer x.tok --user-symbols '<|u|>' --ids x.txt
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --user-symbols go with --bpe or the byte tokenizer; --tokenizer FILE brings its own" ]
    run l1b-tokenize --bpe --vocab 258 --user-symbols 'a,b' --ids x.txt
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --vocab 258 leaves no room for 2 user symbols (at least 259)" ]
    run l1b-tokenize --ids --pieces x.txt
    [ "$status" -eq 2 ]
    run l1b-tokenize --decode --pieces x.tok
    [ "$status" -eq 2 ]
    run l1b-tokenize --sample-bytes 100 x.txt
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-tokenize: --sample-bytes needs --bpe" ]
    run l1b-tokenize --bpe --sample-bytes 0 --ids x.txt
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "l1b-tokenize: --sample-bytes: '0' is not a number from 1 to "* ]]
}

@test "--sample-bytes N learns what the first N bytes teach, and encodes everything" {
    gen_text 12 20000 > in.txt
    head -c 30000 in.txt > head.txt
    l1b-tokenize --bpe --vocab 600 -o head.tok head.txt
    l1b-tokenize --tokenizer head.tok -o want.tok in.txt
    # a file, a pipe, and a file then a pipe cut in either: the same stream
    l1b-tokenize --bpe --vocab 600 --sample-bytes 30000 -o a.tok in.txt
    cmp a.tok want.tok
    cat in.txt | l1b-tokenize --bpe --vocab 600 --sample-bytes 30000 -o b.tok
    cmp b.tok want.tok
    head -c 50000 in.txt > first.txt
    tail -c +50001 in.txt > rest.txt
    cat rest.txt | l1b-tokenize --bpe --vocab 600 --sample-bytes 30000 -o c.tok first.txt -
    cmp c.tok want.tok
    head -c 10000 in.txt > first.txt
    tail -c +10001 in.txt > rest.txt
    cat rest.txt | l1b-tokenize --bpe --vocab 600 --sample-bytes 30000 -o d.tok first.txt -
    cmp d.tok want.tok
    l1b-tokenize --decode d.tok | cmp - in.txt
    # -v reports the bytes learned from; a suffix k is 1000
    run bash -c "l1b-tokenize --bpe --vocab 600 --sample-bytes 4k -v -o e.tok in.txt 2>&1"
    [[ "${lines[0]}" == "l1b-tokenize: learned "*" merges from 4000 bytes ("* ]]
    # more than the input: all of it
    l1b-tokenize --bpe --vocab 600 --sample-bytes 1G -o f.tok in.txt
    l1b-tokenize --bpe --vocab 600 -o g.tok in.txt
    cmp f.tok g.tok
}
