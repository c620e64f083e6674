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

@test "--lines --batch N: many lines at once, each answered as alone, in input order" {
    for i in $(seq 30); do printf 'the quick\nthe lazy\n\nover the\n'; done > many.txt   # 120 lines
    l1b-sample -m fox.l1b --lines --batch 1 -T 3 -s 5 -n 30 < many.txt > one.txt
    [ "$(wc -l < one.txt)" -eq 120 ]
    l1b-sample -m fox.l1b --lines --batch 40 -T 3 -s 5 -n 30 < many.txt > forty.txt
    l1b-sample -m fox.l1b --lines -T 3 -s 5 -n 30 -f many.txt > auto.txt
    cmp one.txt forty.txt
    cmp one.txt auto.txt
    # line k is sampled with seed -s + k - 1: the answer it gets alone
    [ "$(sed -n 5p one.txt)" = "$(printf 'the quick\n' | l1b-sample -m fox.l1b --lines -T 3 -s 9 -n 30)" ]
    [ "$(sed -n 7p forty.txt)" = "$(l1b-sample -m fox.l1b -T 3 -s 11 -n 30 -i '' | head -n 1)" ]
    # the answers differ (the temperature is high), yet each is the same line's
    [ "$(sort -u one.txt | wc -l)" -gt 10 ]
    l1b-sample -m fox.l1b --lines --batch 30 --greedy -n 30 < many.txt > greedy.txt
    [ "$(sed -n 1p greedy.txt)" = " brown fox jumps over the lazy" ]
    [ "$(sed -n 2p greedy.txt)" = " dog. the quick brown fox jump" ]
    [ "$(sed -n 118p greedy.txt)" = " dog. the quick brown fox jump" ]
    run l1b-sample -m fox.l1b --batch 4 -i the
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-sample: --batch goes with --lines" ]
    run l1b-sample -m fox.l1b --lines --batch 0 < /dev/null
    [ "$status" -eq 2 ]
}

@test "--lines as a coprocess: each answer comes before the next line is written" {
    # a batch takes only the lines already there: the default batch must not
    # wait for a second line before answering the first
    coproc SAMPLE { l1b-sample -m fox.l1b --lines --greedy -n 20; }
    echo 'the quick' >&"${SAMPLE[1]}"
    IFS= read -r -t 20 first <&"${SAMPLE[0]}"
    [ "$first" = " brown fox jumps ove" ]
    echo 'the lazy' >&"${SAMPLE[1]}"
    IFS= read -r -t 20 second <&"${SAMPLE[0]}"
    [ "$second" = " dog. the quick brow" ]
    exec {SAMPLE[1]}>&-
    wait "$SAMPLE_PID"
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

@test "--stop: the text ends right before the first stop string, which is not written" {
    [ "$(l1b-sample -m fox.l1b --greedy -n 100 -i 'the quick' --stop lazy)" = " brown fox jumps over the " ]
    # the earliest of several, and of two starting alike the shorter
    [ "$(l1b-sample -m fox.l1b --greedy -n 100 -i 'the quick' --stop dog --stop jumps)" = " brown fox " ]
    [ "$(l1b-sample -m fox.l1b --greedy -n 100 -i 'the quick' --stop ow --stop o)" = " br" ]
    # a stop string that never completes: the bytes held back are written at the end
    [ "$(l1b-sample -m fox.l1b --greedy -n 60 -i 'the quick' --stop 'lazy cat')" = \
      "$(l1b-sample -m fox.l1b --greedy -n 60 -i 'the quick')" ]
    # sampled text keeps its draws up to the stop string
    a=$(l1b-sample -m fox.l1b -T 1.5 -s 11 -n 80 -i the)
    b=$(l1b-sample -m fox.l1b -T 1.5 -s 11 -n 80 -i the --stop 'the')
    [ "$b" = "${a%%the*}" ]
    [[ "$b" != *the* ]]
    # it also ends a --lines answer
    printf 'the quick\nthe lazy\n' | l1b-sample -m fox.l1b --lines --greedy -n 100 --stop over > out.txt
    [ "$(cat out.txt)" = "$(printf ' brown fox jumps \n dog. the quick brown fox jumps ')" ]
    run l1b-sample -m fox.l1b --stop '' -i x
    [ "$status" -eq 2 ]
}

@test "--repeat-penalty 1 and --min-p 0 change nothing; --min-p 1 is greedy" {
    base=$(l1b-sample -m fox.l1b -T 1.5 -s 5 -n 60 -i the)
    [ "$(l1b-sample -m fox.l1b -T 1.5 -s 5 -n 60 -i the --repeat-penalty 1.0)" = "$base" ]
    [ "$(l1b-sample -m fox.l1b -T 1.5 -s 5 -n 60 -i the --repeat-penalty 1.0 --repeat-last 8)" = "$base" ]
    [ "$(l1b-sample -m fox.l1b -T 1.5 -s 5 -n 60 -i the --repeat-penalty 3 --repeat-last 0)" = "$base" ]
    [ "$(l1b-sample -m fox.l1b -T 1.5 -s 5 -n 60 -i the --min-p 0)" = "$base" ]
    greedy=$(l1b-sample -m fox.l1b --greedy -n 60 -i the)
    [ "$(l1b-sample -m fox.l1b --greedy -n 60 -i the --repeat-penalty 1)" = "$greedy" ]
    # a strong penalty on the last 4 tokens breaks the memorised sentence
    [ "$(l1b-sample -m fox.l1b --greedy -n 60 -i the --repeat-penalty 20 --repeat-last 4)" != "$greedy" ]
    # only the most likely token is as likely as itself
    [ "$(l1b-sample -m fox.l1b -T 3 -s 5 -n 60 -i the --min-p 1)" = "$greedy" ]
    run l1b-sample -m fox.l1b --min-p 1.5 -i x
    [ "$status" -eq 2 ]
    run l1b-sample -m fox.l1b --repeat-penalty 0 -i x
    [ "$status" -eq 2 ]
}

@test "-v prints a random seed, and -s with it gives the same text" {
    l1b-sample -m fox.l1b -v -T 1.5 -n 60 -i the > a.txt 2> err.txt
    seed=$(sed -n 's/^l1b-sample: seed \([0-9]*\) (random.*/\1/p' err.txt)
    [ -n "$seed" ]
    [ "$(l1b-sample -m fox.l1b -T 1.5 -n 60 -i the -s "$seed")" = "$(cat a.txt)" ]
    # a seed given is not printed
    l1b-sample -m fox.l1b -v -T 1.5 -n 6 -i the -s 3 2> err.txt > /dev/null
    ! grep -q seed err.txt
}

@test "-v: the time waiting for the prompt is not counted" {
    (sleep 0.6; echo the) | l1b-sample -m fox.l1b -v --greedy -n 5 2> err.txt > /dev/null
    [[ "$(cat err.txt)" =~ generated\ in\ ([0-9.]+)s ]]
    awk -v t="${BASH_REMATCH[1]}" 'BEGIN { exit !(t < 0.3) }'
}

@test "--score --json: one object with the file, counts and metrics" {
    run l1b-sample -m fox.l1b --score --json tiny.txt
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^\{\"file\":\ \"tiny.txt\",\ \"tokens\":\ 2700,\ \"bytes\":\ 2700,\ \"loss\":\ ([0-9.]+),\ \"ppl\":\ ([0-9.]+),\ \"bpb\":\ ([0-9.]+)\}$ ]]
    loss=${BASH_REMATCH[1]}
    # the same loss as the text line (which rounds to 4 decimals)
    [ "$(printf '%.4f' "$loss")" = "$(l1b-sample -m fox.l1b --score tiny.txt | cut -d' ' -f2)" ]
    [[ "$(l1b-sample -m fox.l1b --score --json < tiny.txt)" == '{"file": "-", '* ]]
    printf 'the quick' > a\"b.txt
    printf ' brown\n' > b.txt
    run l1b-sample -m fox.l1b --score --json a\"b.txt b.txt
    [[ "$output" == '{"file": ["a\"b.txt", "b.txt"], "tokens": 16, "bytes": 16, '* ]]
    run l1b-sample -m fox.l1b --json -i x
    [ "$status" -eq 2 ]
}

@test "--logprobs: a TSV row per token, scored or generated alike" {
    printf 'the\tfox\n' > lp.txt
    run l1b-sample -m fox.l1b --score --logprobs lp.txt
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$(printf 'pos\tid\ttoken\tlogprob')" ]
    [ "${#lines[@]}" -eq 9 ]
    [[ "${lines[1]}" =~ ^0$'\t'116$'\t't$'\t'-[0-9]+\.[0-9]{6}$ ]]
    [[ "${lines[4]}" == "3"$'\t'"9"$'\t''\t'$'\t'* ]]
    [[ "${lines[8]}" == "7"$'\t'"10"$'\t''\n'$'\t'* ]]
    # they add up to the loss
    sum=$(printf '%s\n' "${lines[@]}" | awk -F'\t' 'NR > 1 { s -= $4 } END { printf "%.4f", s / 8 }')
    [ "$sum" = "$(l1b-sample -m fox.l1b --score lp.txt | cut -d' ' -f2)" ]
    # generated tokens: positions after the prompt's 9 tokens, the numbers --score gives
    l1b-sample -m fox.l1b --greedy -n 10 -i 'the quick' --logprobs > gen.tsv
    [ "$(sed -n 2p gen.tsv | cut -f1-3)" = "$(printf '9\t32\t▁')" ]
    printf 'the quick brown fox' | l1b-sample -m fox.l1b --score --logprobs | sed -n '11,$p' > scored.tsv
    [ "$(sed 1d gen.tsv)" = "$(cat scored.tsv)" ]
    run l1b-sample -m fox.l1b --lines --logprobs < /dev/null
    [ "$status" -eq 2 ]
}

@test "prompts and --score run in blocks: the numbers of one token at a time" {
    # ctx 160: a window holds more than one block of 128 tokens, and slides
    # keep 80. Generated tokens are run one at a time; --score runs the same
    # text in blocks; their log-probabilities agree (to 4 decimals; at the
    # default int8 path to the last digit).
    l1b-train -q -o long.l1b --dim 32 --layers 2 --heads 2 --ctx 160 --batch 4 --steps 30 \
        --lr 3e-3 --warmup 5 tiny.tok
    for exact in "" --exact; do
        l1b-sample -m long.l1b $exact --greedy -n 300 -i 'the quick' > text.txt
        [ "$(wc -c < text.txt)" -eq 300 ]
        l1b-sample -m long.l1b $exact --greedy -n 300 -i 'the quick' --logprobs | sed 1d > gen.tsv
        { printf 'the quick'; head -c 300 text.txt; } | l1b-sample -m long.l1b $exact --score --logprobs |
            sed -n '11,$p' > scored.tsv
        [ "$(wc -l < scored.tsv)" -eq 300 ]
        [ "$(cut -f1-3 gen.tsv)" = "$(cut -f1-3 scored.tsv)" ]
        paste gen.tsv scored.tsv | awk -F'\t' '{ d = $4 - $8; if (d < 0) d = -d; if (d > 1e-4) exit 1 }'
        [ -n "$exact" ] || [ "$(cat gen.tsv)" = "$(cat scored.tsv)" ]
    done
    # a long prompt (two blocks), then one token at a time: the numbers --score
    # gives the same text
    prompt=$(head -c 150 tiny.txt)
    l1b-sample -m long.l1b --greedy -n 20 -i "$prompt" > text.txt
    l1b-sample -m long.l1b --greedy -n 20 -i "$prompt" --logprobs | sed 1d > gen.tsv
    { printf '%s' "$prompt"; head -c 20 text.txt; } | l1b-sample -m long.l1b --score --logprobs | sed -n '152,$p' > scored.tsv
    [ "$(cat gen.tsv)" = "$(cat scored.tsv)" ]
    # the memorised sentence after a prompt longer than a block and the window
    [ "$(l1b-sample -m fox.l1b --greedy -n 35 -i "$(head -c 170 tiny.txt)the quick")" = " brown fox jumps over the lazy dog." ]
    [ "$(l1b-sample -m fox.l1b --exact --greedy -n 35 -i "$(head -c 170 tiny.txt)the quick")" = " brown fox jumps over the lazy dog." ]
}

@test "-f FILE: the prompt, or the lines, from a file" {
    printf 'the quick\n' > prompt.txt
    [ "$(l1b-sample -m fox.l1b --greedy -n 20 -f prompt.txt)" = "$(l1b-sample -m fox.l1b --greedy -n 20 < prompt.txt)" ]
    [ "$(echo 'the quick' | l1b-sample -m fox.l1b --greedy -n 20 -f -)" = "$(l1b-sample -m fox.l1b --greedy -n 20 < prompt.txt)" ]
    printf 'the quick\nthe lazy\n' > prompts.txt
    [ "$(l1b-sample -m fox.l1b --lines --greedy -n 20 -f prompts.txt)" = \
      "$(l1b-sample -m fox.l1b --lines --greedy -n 20 < prompts.txt)" ]
    run l1b-sample -m fox.l1b -f nope.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: nope.txt: No such file or directory" ]
    run l1b-sample -m fox.l1b -f prompt.txt -i x
    [ "$status" -eq 2 ]
}

@test "-I: every line continues one conversation, which keeps the answers" {
    printf 'the quick b\nr\n' | l1b-sample -m fox.l1b -I --greedy -n 6 > conv.txt
    [ "$(wc -l < conv.txt)" -eq 2 ]
    first=$(sed -n 1p conv.txt)
    [ "$first" = "$(l1b-sample -m fox.l1b --greedy -n 6 -i 'the quick b')" ]
    # the second answer is the one to the whole conversation: first line,
    # its answer, the newline that ended it, then the second line
    [ "$(sed -n 2p conv.txt)" = "$(l1b-sample -m fox.l1b --greedy -n 6 -i "the quick b$first"$'\n'r)" ]
    [ "$(sed -n 2p conv.txt)" != "$(echo r | l1b-sample -m fox.l1b --lines --greedy -n 6)" ]
    # a stop string ends an answer and stays in the conversation
    printf 'the quick\nthe lazy\n' | l1b-sample -m fox.l1b -I --greedy -n 30 --stop fox > conv.txt
    [ "$(sed -n 1p conv.txt)" = " brown " ]
    [ "$(sed -n 2p conv.txt)" = "$(l1b-sample -m fox.l1b --greedy -n 30 -i 'the quick brown fox'$'\n''the lazy' --stop fox)" ]
    # no prompt marker in a pipe; empty input: no answer
    run l1b-sample -m fox.l1b -I < /dev/null
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "typed input: one Ctrl-D ends it (l1b-sample, l1b-tokenize)" {
    command -v script > /dev/null || skip "no script(1)"
    # the whole input read at once, a line at a time (as --lines too), tokenizing
    for args in "-m fox.l1b --greedy -n 6" "-m fox.l1b -I --greedy -n 6"; do
        run bash -c "printf 'the quick\n' | timeout 10 script -qec 'l1b-sample $args' /dev/null"
        [ "$status" -eq 0 ]
    done
    [[ "$output" == *"> "*" brown"* ]]   # -I on a terminal: the prompt marker
    run bash -c "printf 'the quick\n' | timeout 10 script -qec 'l1b-tokenize --ids' /dev/null"
    [ "$status" -eq 0 ]
    [[ "$output" == *"116 104 101 32"* ]]
}

@test "--score refuses a token stream, by name or on stdin, and says how to decode it" {
    run l1b-sample -m fox.l1b --score tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: tiny.tok: an l1b token stream, not text; --score reads text (decode it first: l1b-tokenize --decode tiny.tok)" ]
    run l1b-sample -m fox.l1b --score < tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-sample: stdin: an l1b token stream, not text; --score reads text (decode it first: l1b-tokenize --decode)" ]
    # decoded, it scores as the text it stands for
    [ "$(l1b-tokenize --decode tiny.tok | l1b-sample -m fox.l1b --score)" = "$(l1b-sample -m fox.l1b --score tiny.txt)" ]
}
