#!/usr/bin/env bats
# l1b-sample: generation, sampling options, scoring, and bad input.
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR"
    PATH="$L1B_BIN:$PATH"
    for i in $(seq 60); do printf 'the quick brown fox jumps over the lazy dog. '; done > tiny.txt
    l1b-tokenize -o tiny.tok tiny.txt
    l1b-train -q -o fox.l1b --dim 32 --layers 1 --heads 2 --ctx 16 --batch 8 --steps 300 \
        --lr 3e-3 --warmup 10 tiny.tok
    l1b-train -q -o fox32.l1b --quant f32 --dim 32 --layers 1 --heads 2 --ctx 16 --batch 8 --steps 300 \
        --lr 3e-3 --warmup 10 tiny.tok
}

setup() {
    cd "$BATS_FILE_TMPDIR"
}

@test "greedy continues the memorised sentence" {
    run l1b-sample -m fox.l1b --greedy -n 35 -i "the quick"
    [ "$status" -eq 0 ]
    [ "$output" = " brown fox jumps over the lazy dog." ]
    # the prompt's trailing newline from echo is dropped
    [ "$(echo 'the quick' | l1b-sample -m fox.l1b --greedy -n 6)" = " brown" ]
    [ "$(echo 'the lazy' | l1b-sample -m fox32.l1b --greedy -n 5 --echo)" = "the lazy dog." ]
}

@test "same seed, same text; top-k 1 equals greedy" {
    a=$(l1b-sample -m fox.l1b -T 1.5 -s 11 -n 80 -i "the")
    b=$(l1b-sample -m fox.l1b -T 1.5 -s 11 -n 80 -i "the")
    [ "$a" = "$b" ]
    [ "${#a}" -eq 80 ]
    c=$(l1b-sample -m fox.l1b -T 1.5 -s 12 -n 80 -i "the")
    [ "$a" != "$c" ]
    [ "$(l1b-sample -m fox.l1b -k 1 -T 2 -s 3 -n 40 -i 'the')" = "$(l1b-sample -m fox.l1b --greedy -n 40 -i 'the')" ]
}

@test "--lines answers every input line with exactly one line" {
    printf 'the quick\nthe lazy\n\nover\n' > prompts.txt
    l1b-sample -m fox.l1b --lines --greedy -n 200 < prompts.txt > out.txt
    [ "$(wc -l < out.txt)" -eq 4 ]
    [[ "$(sed -n 1p out.txt)" == " brown fox jumps over the lazy dog. the quick brown"* ]]
    [ "$(sed -n 1p out.txt | wc -c)" -eq 201 ]   # 200 one-byte tokens and the newline
    [ "$(sed -n 2p out.txt | cut -c1-5)" = " dog." ]
}

@test "--score: low loss on the training text, high on other text" {
    run l1b-sample -m fox.l1b --score tiny.txt
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^loss\ ([0-9.]+)\ \ ppl\ ([0-9.]+)\ \ bpb\ ([0-9.]+)\ \ tokens\ 2700\ \ bytes\ 2700$ ]]
    awk -v l="${BASH_REMATCH[1]}" 'BEGIN { exit !(l < 0.1) }'
    printf 'Colourless green ideas sleep furiously; 12345!\n' > other.txt
    run l1b-sample -m fox.l1b --score < other.txt
    [[ "$output" =~ ^loss\ ([0-9.]+) ]]
    awk -v l="${BASH_REMATCH[1]}" 'BEGIN { exit !(l > 2) }'
}

@test "--exact: float tables and cache, the same text and nearly the same loss" {
    # -v reports the cache next to the weights (sizes: unit tests)
    run l1b-sample -m fox.l1b -v --greedy -n 5 -i "the"
    [[ "$output" == *"(weights 0.0 MB, cache 0.0 MB)"* ]]
    [ "$(l1b-sample -m fox.l1b --exact --greedy -n 35 -i 'the quick')" = " brown fox jumps over the lazy dog." ]
    a=$(l1b-sample -m fox.l1b --score tiny.txt | cut -d' ' -f2)
    b=$(l1b-sample -m fox.l1b --exact --score tiny.txt | cut -d' ' -f2)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'
    run l1b-sample -m fox.l1b --exact --lines < /dev/null
    [ "$status" -eq 0 ]
}

@test "prompts longer than the context slide the window" {
    run l1b-sample -m fox.l1b --greedy -n 20 -v -i "$(cat tiny.txt)"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "the quick brown fox "* ]]
    [[ "$output" == *"context slides"* ]]
}

@test "binary prompts and an empty prompt work" {
    head -c 300 /dev/urandom > bin.dat
    run l1b-sample -m fox.l1b -s 1 -n 10 < bin.dat
    [ "$status" -eq 0 ]
    run l1b-sample -m fox.l1b -s 1 -n 10 < /dev/null
    [ "$status" -eq 0 ]
}

@test "a closed stdout ends the run quietly" {
    run bash -c "l1b-sample -m fox.l1b -s 1 -n 100000 -i the 2>err.txt | head -c 1"
    [ "$output" = " " ] || [ ${#output} -eq 1 ]
    [ ! -s err.txt ]
}

@test "missing or corrupt models are errors naming the file" {
    run l1b-sample -m nope.l1b -i x
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: nope.l1b: No such file or directory" ]
    head -c 2000 fox.l1b > cut.l1b
    run l1b-sample -m cut.l1b -i x
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-sample: cut.l1b: truncated model file"* ]]
    run l1b-sample -m tiny.tok -i x
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: tiny.tok: not an l1b model file (bad magic)" ]
    run l1b-sample -i x
    [ "$status" -eq 2 ]
    run l1b-sample -m fox.l1b -p 0
    [ "$status" -eq 2 ]
}
