#!/usr/bin/env bats
# Round trips: whatever goes in comes back out byte for byte. These also run
# under qemu-i386 as old CPUs (make check-legacy), so inputs stay small.
load helper

roundtrip() {  # roundtrip FILE [encode options]
    local f=$1; shift
    l1b-tokenize "$@" "$f" > "$f.tok"
    l1b-tokenize --decode "$f.tok" > "$f.out"
    cmp "$f" "$f.out"
}

@test "random bytes round-trip with byte tokens" {
    gen_bytes 1 100000 > in.bin
    roundtrip in.bin
    # 64-byte header + 2 bytes per token + 16-byte trailer
    [ "$(wc -c < in.bin.tok)" -eq $((64 + 2 * 100000 + 16)) ]
}

@test "random bytes round-trip with BPE" {
    gen_bytes 2 60000 > in.bin
    roundtrip in.bin --bpe --vocab 600
}

@test "English-like text round-trips with BPE and compresses" {
    gen_text 3 20000 > in.txt
    roundtrip in.txt --bpe --vocab 1000
    run l1b-tokenize --bpe --vocab 1000 -v -o x.tok in.txt
    [ "$status" -eq 0 ]
    tokens=$(echo "$output" | sed -n 's/.*bytes -> \([0-9]*\) tokens.*/\1/p')
    bytes=$(wc -c < in.txt)
    # a 1000-token vocabulary covers this ~200-word vocabulary: > 3 bytes/token
    [ $((bytes)) -gt $((3 * tokens)) ]
}

@test "empty input gives an empty stream and decodes to nothing" {
    : > empty
    roundtrip empty
    [ "$(wc -c < empty.tok)" -eq 80 ]
    roundtrip empty --bpe
    [ ! -s empty.out ]
}

@test "CRLF, NUL bytes, invalid UTF-8 and no final newline round-trip" {
    printf 'line one\r\nline\0two\r\n\xff\xfe\xc3(\xe2\x82 end' > odd.txt
    roundtrip odd.txt
    roundtrip odd.txt --bpe --vocab 300
    roundtrip odd.txt --bpe --doc line
    roundtrip odd.txt --doc nul
}

@test "a 200 KB line without a break round-trips" {
    perl -e 'print "abcdefgh" x 25000' > long.txt
    roundtrip long.txt --bpe --vocab 400
    perl -e 'print " " x 100000, "x", "\n" x 50000' > ws.txt
    roundtrip ws.txt --bpe --doc blank
}

@test "stdin pipe with BPE round-trips (spooled second pass)" {
    gen_text 4 5000 > in.txt
    cat in.txt | l1b-tokenize --bpe --vocab 500 | l1b-tokenize --decode > out.txt
    cmp in.txt out.txt
}

@test "--version names the SIMD level in use" {
    output=$(l1b-tokenize --version 2>/dev/null)  # qemu may warn on stderr
    [[ "$output" =~ ^l1b-tokenize\ [0-9.]+\ \(simd\ (scalar|sse|sse2|ssse3|avx2|avx512|neon|dotprod|altivec)\; ]]
    case "${L1B_EXPECT_CPU:-}" in
        pentium2) [[ "$output" == *"simd scalar;"* ]] ;;
        pentium3) [[ "$output" == *"simd sse;"* ]] ;;
        coreduo) [[ "$output" == *"simd sse2;"* ]] ;;
        core2duo) [[ "$output" == *"simd ssse3;"* ]] ;;
    esac
}

@test "a tiny model trains, resumes and samples (the whole pipeline on this CPU)" {
    for i in $(seq 40); do printf 'the quick brown fox jumps over the lazy dog. '; done |
        l1b-tokenize --bpe --vocab 300 | l1b-train -q -o m.l1b --dim 32 --layers 1 --heads 2 \
            --ctx 16 --batch 8 --steps 120 --until 60 --lr 3e-3 --warmup 10
    run l1b-train -q -o m.l1b --resume < /dev/null   # empty stdin is no token stream
    [ "$status" -eq 1 ]
    for i in $(seq 40); do printf 'the quick brown fox jumps over the lazy dog. '; done |
        l1b-tokenize --tokenizer m.l1b | l1b-train -q -o m.l1b --resume
    out=$(l1b-sample -m m.l1b --greedy -n 12 -i "the quick" 2>/dev/null)
    [[ "$out" == " brown fox"* ]]
}
