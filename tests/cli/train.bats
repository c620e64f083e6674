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

@test "text or a model where a token stream belongs: the error says so and names l1b-tokenize" {
    tiny_corpus
    run l1b-train -o m.l1b $TINY tiny.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: tiny.txt: looks like text, not an l1b token stream (make one with l1b-tokenize)" ]
    [ ! -e m.l1b ]
    run l1b-train -o m.l1b $TINY < tiny.txt
    [ "$output" = "l1b-train: stdin: looks like text, not an l1b token stream (make one with l1b-tokenize)" ]
    l1b-train -q -o m.l1b $TINY --steps 2 tiny.tok
    run l1b-train -o n.l1b $TINY m.l1b
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: m.l1b: an l1b model file, not a token stream" ]
    gen_bytes 3 100 > noise.bin
    printf '\001' | cat - noise.bin > bin.tok
    run l1b-train -o n.l1b $TINY bin.tok
    [ "$output" = "l1b-train: bin.tok: not an l1b token stream (bad magic)" ]
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

# The summary line (man l1b-train, SUMMARY LINE) takes its evaluations from
# the metric lines printed at the same steps (same formatting), the best
# from the log's val_loss column (lowest, earliest on a tie).
# expect_vals ERR LOG: "val L bpb B at S (best)" or "val ... at S; best ... at S2"
expect_vals() {
    local last best
    last=$(awk -F'\t' 'NR > 1 && $4 != "nan" { s = $1 } END { print s }' "$2")
    best=$(awk -F'\t' 'NR > 1 && $4 != "nan" && (b == "" || $4 + 0 < v) { b = $1; v = $4 + 0 } END { print b }' "$2")
    evaluation() {  # the metric line of step $2: "$1 L bpb B at $2"
        grep -E "^l1b-train: step $2/[0-9]+ " "$3" |
            sed -E "s/.*  val ([0-9.]+)  bpb ([0-9.]+)  .*/$1 \\1 bpb \\2 at $2/"
    }
    if [ "$last" = "$best" ]; then
        echo "$(evaluation val "$last" "$1") (best)"
    else
        echo "$(evaluation val "$last" "$1"); $(evaluation best "$best" "$1")"
    fi
}

@test "summary line: a --steps run says schedule done, the step, the file, last and best validation, time, tok/s" {
    tiny_corpus
    l1b-train -o m.l1b $TINY --steps 30 --eval-every 10 --log log.tsv tiny.tok 2> err.txt
    [ "$(grep -c '^l1b-train: step [0-9]*/30 ' err.txt)" -eq 3 ]
    summary=$(tail -n 1 err.txt)
    vals=$(expect_vals err.txt log.tsv)
    [[ "$vals" == "val "*" bpb "*" at 30"* ]]
    [[ "$summary" == "l1b-train: schedule done: step 30/30; saved m.l1b; $vals; "* ]]
    [[ "$summary" =~ \;\ [0-9]+\.[0-9]s\;\ [0-9]+\ tok/s$ ]]
    # resumed: the steps of this run, the best over the model's history
    l1b-train -o m.l1b --resume --steps 50 --eval-every 10 --log log.tsv tiny.tok 2> err2.txt
    cat err.txt err2.txt > all.txt
    vals=$(expect_vals all.txt log.tsv)
    [[ "$(tail -n 1 err2.txt)" == "l1b-train: schedule done: step 50/50 (20 this run); saved m.l1b; $vals; "* ]]
    # -q: nothing at all
    run l1b-train -q -o m.l1b --resume --steps 60 tiny.tok
    [ -z "$output" ]
    # no validation
    l1b-train -o n.l1b $TINY --steps 5 --eval-batches 0 tiny.tok 2> err.txt
    [[ "$(tail -n 1 err.txt)" == "l1b-train: schedule done: step 5/5; saved n.l1b; no validation; "* ]]
}

@test "summary line: --time, --until and SIGTERM say so; --steps 10k is 10000" {
    tiny_corpus
    l1b-train -o t.l1b $TINY --steps 100000 --time 1s --eval-every 100 --log t.tsv tiny.tok 2> err.txt
    n=$(last_col t.tsv step)
    [ "$n" -gt 10 ] && [ "$n" -lt 100000 ]
    vals=$(expect_vals err.txt t.tsv)
    [[ "$(tail -n 1 err.txt)" == "l1b-train: stopped by --time 1s: step $n/100000; saved t.l1b; $vals; "* ]]
    l1b-train -o u.l1b $TINY --steps 10k --until 7 --eval-every 5 tiny.tok 2> err.txt
    [[ "$(tail -n 1 err.txt)" == "l1b-train: stopped at --until 7: step 7/10000; saved u.l1b; val "*" at 7 "* ]]
    l1b-train -o s.l1b $TINY --steps 100000000 --save-every 0 --eval-every 100000 --log s.tsv tiny.tok 2> err.txt &
    pid=$!
    sleep 1
    kill -TERM $pid
    status=0
    wait $pid || status=$?
    [ "$status" -eq 143 ]
    n=$(last_col s.tsv step)
    [[ "$(tail -n 1 err.txt)" == "l1b-train: stopped by SIGTERM: step $n/100000000; saved s.l1b; val "*" at $n (best); "* ]]
}

@test "warnings: a --warmup longer than the schedule; --resume with nothing to do" {
    tiny_corpus
    l1b-train -o m.l1b --dim 32 --layers 1 --heads 2 --ctx 16 --batch 8 --steps 20 tiny.tok 2> err.txt
    [ "$(head -n 1 err.txt)" = "l1b-train: warning: --warmup 100 is longer than the schedule (20 steps): the learning rate rises to 0.2 of its peak 0.001 and never decays; give a --warmup below 20" ]
    [ "$(grep -c warning err.txt)" -eq 1 ]
    run l1b-train -o m.l1b --resume tiny.tok
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "l1b-train: warning: schedule complete at step 20; extend with --steps (above 20)" ]
    [[ "${lines[1]}" == "l1b-train: nothing to do: step 20/20 (0 this run); saved m.l1b; val "* ]]
    [ "${#lines[@]}" -eq 2 ]
    run l1b-train -o m.l1b --resume --steps 40 --until 10 tiny.tok
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "l1b-train: --steps 40 (was 20)" ]
    [ "${lines[1]}" = "l1b-train: warning: --until 10: step 20 already reached; nothing to do" ]
    # the default schedule and a warmup that fits: no warning
    l1b-train -o w.l1b $TINY --steps 20 tiny.tok 2> err.txt
    ! grep -q warning err.txt
}

@test "resuming a model trained with --val and no --val: the hint names --val, not --val-frac" {
    tiny_corpus
    cp tiny.tok val.tok
    l1b-train -q -o m.l1b $TINY --steps 5 --val val.tok tiny.tok
    run l1b-train -o m.l1b --resume --steps 10 tiny.tok
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "l1b-train: --steps 10 (was 5)" ]
    [ "${lines[1]}" = "l1b-train: no validation data (m.l1b holds out none of its training data: give --val FILE); no validation" ]
    run l1b-train -q -o m.l1b --resume --steps 15 --val val.tok tiny.tok
    [ "$status" -eq 0 ]
}

@test "--log writes counts as integers, never 1.0752e+06" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 10 --log log.tsv tiny.tok
    # a model that has seen a million tokens in two weeks: 10 steps more
    perl "$BATS_TEST_DIRNAME/forge.pl" m.l1b big.l1b STAT 8 u64 1000000 STAT 32 f64 1234567.5
    l1b-train -q -o big.l1b --resume --steps 20 --log log.tsv tiny.tok
    [ "$(last_col log.tsv step)" = 20 ]
    [ "$(last_col log.tsv tokens)" = 1001280 ]   # 10 steps of 8 x 16 more
    [[ "$(last_col log.tsv tok_per_s)" =~ ^[0-9]+$ ]]
    [[ "$(last_col log.tsv elapsed_s)" =~ ^12345[6-9][0-9]\.[0-9]{3}$ ]]
    ! grep -q 'e+' log.tsv
}

@test "the default thread count follows the affinity mask" {
    tiny_corpus
    run taskset -c 0 l1b-train -v -o a.l1b $TINY --steps 1 tiny.tok
    [ "$status" -eq 0 ]
    [[ "$output" == *"; 1 threads;"* ]]
    run l1b-train -v -j 3 -o a.l1b $TINY --steps 1 tiny.tok
    [[ "$output" == *"; 3 threads;"* ]]
}
