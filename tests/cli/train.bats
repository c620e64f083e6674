#!/usr/bin/env bats
# l1b-train: learning, checkpoints, resume, stopping and bad input.
load helper

last_col() {  # last_col FILE COLUMN: the column's value in the log's last row
    awk -F'\t' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { v = $k } END { print v }' "$1"
}

@test "a tiny ternary model overfits a tiny corpus" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 300 --eval-every 100 --log log.tsv tiny.tok
    [ "$(head -1 log.tsv | cut -f1-4)" = "$(printf 'step\ttokens\ttrain_loss\tval_loss')" ]
    [ "$(wc -l < log.tsv)" -eq 4 ]
    [ "$(last_col log.tsv step)" = 300 ]
    # started near ln(257) = 5.55; ends near zero
    awk -v l="$(last_col log.tsv train_loss)" 'BEGIN { exit !(l < 0.25) }'
    awk -v l="$(last_col log.tsv val_loss)" 'BEGIN { exit !(l < 0.3) }'
    awk -v a="$(last_col log.tsv val_acc)" 'BEGIN { exit !(a > 0.9) }'
    awk -v z="$(last_col log.tsv zero_share)" 'BEGIN { exit !(z > 0.1 && z < 0.6) }'
}

@test "the float baseline trains too and records no zero share" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --quant f32 --steps 200 --eval-every 50 --log log.tsv tiny.tok
    awk -v l="$(last_col log.tsv train_loss)" 'BEGIN { exit !(l < 0.4) }'
    [ "$(last_col log.tsv zero_share)" = 0 ]
}

@test "same seed, same weights; another seed, other weights" {
    tiny_corpus
    l1b-train -q -o a.l1b $TINY --steps 30 tiny.tok
    l1b-train -q -o b.l1b $TINY --steps 30 tiny.tok
    l1b-train -q -o c.l1b $TINY --steps 30 --seed 7 tiny.tok
    [ "$(section_sum a.l1b PARM ADAM)" = "$(section_sum b.l1b PARM ADAM)" ]
    [ "$(section_sum a.l1b PARM)" != "$(section_sum c.l1b PARM)" ]
}

@test "weights do not depend on the thread count" {
    tiny_corpus
    # the second shape is large enough (512 rows of 64 and 192) for the
    # element-wise passes, the loss and the optimizer to be shared out too
    for shape in "$TINY --steps 20" "--dim 64 --layers 1 --heads 2 --hidden 192 --ctx 64 --batch 8 --steps 4"; do
        l1b-train -q -o a.l1b $shape -j 1 tiny.tok
        l1b-train -q -o b.l1b $shape -j 2 tiny.tok
        l1b-train -q -o c.l1b $shape -j 3 tiny.tok
        [ "$(section_sum a.l1b PARM ADAM)" = "$(section_sum b.l1b PARM ADAM)" ]
        [ "$(section_sum a.l1b PARM ADAM)" = "$(section_sum c.l1b PARM ADAM)" ]
    done
}

@test "stopping and resuming gives bit-identical weights" {
    tiny_corpus
    l1b-train -q -o whole.l1b $TINY --steps 40 tiny.tok
    l1b-train -q -o split.l1b $TINY --steps 40 --until 17 tiny.tok
    [ "$(section_sum whole.l1b PARM)" != "$(section_sum split.l1b PARM)" ]
    l1b-train -q -o split.l1b --resume tiny.tok
    [ "$(section_sum whole.l1b PARM ADAM)" = "$(section_sum split.l1b PARM ADAM)" ]
    # and with bucket batching
    l1b-tokenize --doc line -o docs.tok <(for i in $(seq 80); do echo "line $i has some words"; done)
    l1b-train -q -o wb.l1b $TINY --batching bucket --steps 30 docs.tok
    l1b-train -q -o sb.l1b $TINY --batching bucket --steps 30 --until 11 docs.tok
    l1b-train -q -o sb.l1b --resume docs.tok
    [ "$(section_sum wb.l1b PARM ADAM)" = "$(section_sum sb.l1b PARM ADAM)" ]
}

@test "--resume starts fresh when the model does not exist, and extends --steps" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 10 --resume --log log.tsv tiny.tok
    [ "$(last_col log.tsv step)" = 10 ]
    l1b-train -q -o m.l1b --resume --steps 20 --log log.tsv tiny.tok
    [ "$(last_col log.tsv step)" = 20 ]
    # nothing left to do: exits 0 and leaves the weights alone
    before=$(section_sum m.l1b PARM)
    l1b-train -q -o m.l1b --resume tiny.tok
    [ "$(section_sum m.l1b PARM)" = "$before" ]
}

@test "stdin is read as the token stream" {
    tiny_corpus
    cat tiny.tok | l1b-train -q -o a.l1b $TINY --steps 5
    l1b-train -q -o b.l1b $TINY --steps 5 tiny.tok
    [ "$(section_sum a.l1b PARM)" = "$(section_sum b.l1b PARM)" ]
}

@test "SIGTERM saves a valid checkpoint and exits 143; --time exits 0" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 100000000 --save-every 0 tiny.tok &
    pid=$!
    sleep 1
    kill -TERM $pid
    status=0
    wait $pid || status=$?
    [ "$status" -eq 143 ]
    # the checkpoint is complete: it reads back and training continues
    l1b-tokenize --tokenizer m.l1b --ids <<< "ok" > ids.txt
    [ "$(cat ids.txt)" = "111 107 10" ]
    run l1b-train -q -o m.l1b --resume --time 1s tiny.tok
    [ "$status" -eq 0 ]
    [ -z "$(ls -A | grep '^\.m\.l1b\.')" ]   # no temporary file left behind
}

@test "a second trainer on the same model is refused" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 100000000 tiny.tok &
    pid=$!
    sleep 0.5
    run l1b-train -q -o m.l1b $TINY --steps 10 tiny.tok
    kill -TERM $pid
    wait $pid || true
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: m.l1b: another l1b-train is writing this model (lock m.l1b.lock)" ]
}

@test "bad checkpoints are refused on resume and left untouched" {
    tiny_corpus
    printf 'not a model at all, just text' > text.l1b
    run l1b-train -q -o text.l1b --resume tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: text.l1b: not an l1b model file (bad magic)" ]
    [ "$(cat text.l1b)" = "not a model at all, just text" ]
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    head -c 3000 m.l1b > cut.l1b
    cp cut.l1b cut.orig
    run l1b-train -q -o cut.l1b --resume tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-train: cut.l1b: truncated model file"* ]]
    cmp cut.l1b cut.orig
    cp m.l1b v9.l1b
    printf '\011' | dd of=v9.l1b bs=1 seek=8 conv=notrunc status=none
    run l1b-train -q -o v9.l1b --resume tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: v9.l1b: model file version 9 not supported (this l1b reads 1)" ]
}

@test "resume refuses another tokenizer and a conflicting shape" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    l1b-tokenize --bpe --vocab 300 -o bpe.tok tiny.txt
    run l1b-train -q -o m.l1b --resume bpe.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: bpe.tok: tokenizer differs from that of m.l1b (tokenize with --tokenizer m.l1b)" ]
    run l1b-train -q -o m.l1b --resume --dim 64 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: m.l1b: --dim differs from the model being resumed (32 there)" ]
    run l1b-train -q -o m.l1b $TINY --steps 5 --val bpe.tok tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-train: bpe.tok: tokenizer differs from the training data's"* ]]
}

@test "bad token streams are errors before training starts" {
    tiny_corpus
    head -c 500 tiny.tok > cut.tok
    run l1b-train -q -o m.l1b $TINY cut.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: cut.tok: truncated token stream (no end marker)" ]
    [ ! -e m.l1b ]
    : | l1b-tokenize -o empty.tok
    run l1b-train -q -o m.l1b $TINY empty.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: empty.tok: 0 tokens are too few for a context of 16" ]
    run l1b-train -q -o /nonexistent/dir/m.l1b $TINY tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == "l1b-train: /nonexistent/dir/m.l1b.lock: cannot create lock file: No such file or directory" ]]
    run l1b-train -q $TINY tiny.tok
    [ "$status" -eq 2 ]
    run l1b-train -q -o m.l1b --heads 3 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: 3 heads do not split dimension 128 into even head sizes" ]
}

@test "every quantisation scheme trains, resumes exactly and samples" {
    tiny_corpus
    for q in absmean twn stochastic sign f32; do
        l1b-train -q -o $q.l1b $TINY --quant $q --steps 40 --log $q.tsv tiny.tok
        l1b-train -q -o $q-split.l1b $TINY --quant $q --steps 40 --until 15 tiny.tok
        l1b-train -q -o $q-split.l1b --resume tiny.tok
        [ "$(section_sum $q.l1b PARM ADAM)" = "$(section_sum $q-split.l1b PARM ADAM)" ]
        awk -v l="$(last_col $q.tsv val_loss)" 'BEGIN { exit !(l < 3.3) }'   # learning, from 5.5
        run l1b-sample -m $q.l1b --greedy -n 5 -i "the"
        [ "$status" -eq 0 ]
        [ "${#output}" -eq 5 ]
    done
    # the scheme is recorded: resuming with another is refused
    run l1b-train -q -o twn.l1b --resume --quant sign tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"--quant differs from the model being resumed"* ]]
    # the sign scheme has no zero weights, the ternary ones have some
    [ "$(last_col sign.tsv zero_share)" = 0 ]
    awk -v z="$(last_col twn.tsv zero_share)" 'BEGIN { exit !(z > 0.2) }'
    run l1b-train -q -o x.l1b --quant int4 tiny.tok
    [ "$status" -eq 2 ]
}

@test "a pipe given as TOKENS is read; --steps below the step reached is refused" {
    tiny_corpus
    l1b-train -q -o a.l1b $TINY --steps 5 <(cat tiny.tok)
    l1b-train -q -o b.l1b $TINY --steps 5 tiny.tok
    [ "$(section_sum a.l1b PARM)" = "$(section_sum b.l1b PARM)" ]
    run l1b-train -q -o b.l1b --resume --steps 3 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: b.l1b: --steps 3 is below the step already reached (5)" ]
    run l1b-train -q -o b.l1b --resume --quant twn tiny.tok
    [ "$output" = "l1b-train: b.l1b: --quant differs from the model being resumed (absmean there)" ]
}
