#!/usr/bin/env bats
# l1b-train's conveniences (issue 17, item 3): --keep-best, --sample-every,
# --schedule-time, settings changed on --resume, and the settings l1b-ckpt
# info shows.
load helper

# the step of the log's lowest val_loss (the earliest of equal ones)
best_step() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "val_loss") v = i; if ($i == "step") s = i }; next }
                $v != "nan" && (b == "" || $v + 0 < b + 0) { b = $v; bs = $s } END { print bs }' "$1"
}
json_field() {  # json_field FILE NAME: a number of l1b-ckpt info --json
    l1b-ckpt info --json "$1" | grep -o "\"$2\": [0-9.e-]*" | head -1 | sed 's/.*: //'
}

# Trained on the fox corpus, validated on other text: the validation loss
# falls for a while, then rises as the model learns the foxes by heart.
overfit_val() {
    tiny_corpus
    gen_text 3 400 > v.txt
    l1b-tokenize -o v.tok v.txt
}

@test "--keep-best keeps the checkpoint of the lowest validation loss" {
    overfit_val
    l1b-train -q -o m.l1b $TINY --steps 200 --eval-every 10 --val v.tok --keep-best best.l1b --log log.tsv tiny.tok
    [ "$(best_step log.tsv)" = 40 ]
    [ "$(json_field best.l1b step)" = 40 ]
    [ "$(json_field m.l1b step)" = 200 ]
    l1b-ckpt info best.l1b | grep -qx 'training      step 40 of 200, 5120 tokens seen'
    l1b-ckpt verify best.l1b
    # the weights of step 40, as a run stopped there has them
    l1b-train -q -o until.l1b $TINY --steps 200 --eval-every 10 --val v.tok --until 40 tiny.tok
    [ "$(section_sum best.l1b PARM ADAM)" = "$(section_sum until.l1b PARM ADAM)" ]
    # of the whole history: a resumed run's evaluations, all worse, leave it
    before=$(section_sum best.l1b PARM STAT HIST)
    l1b-train -q -o m.l1b --resume --steps 260 --eval-every 10 --val v.tok --keep-best best.l1b --log log.tsv tiny.tok
    [ "$(json_field m.l1b step)" = 260 ]
    [ "$(section_sum best.l1b PARM STAT HIST)" = "$before" ]
    [ "$(best_step log.tsv)" = 40 ]
    # and it resumes like any checkpoint
    l1b-train -q -o best.l1b --resume --until 50 --val v.tok tiny.tok
    [ "$(json_field best.l1b step)" = 50 ]
}

@test "--keep-best without validation data is an error before training" {
    tiny_corpus
    run l1b-train -q -o m.l1b $TINY --steps 20 --val-frac 0 --keep-best best.l1b tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: --keep-best best.l1b: no validation data to choose the best by (give --val FILE or --val-frac F)" ]
    [ ! -e m.l1b ] && [ ! -e best.l1b ]
    run l1b-train -q -o m.l1b $TINY --steps 20 --eval-batches 0 --keep-best best.l1b tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"--eval-batches 0 evaluates nothing"* ]]
    run l1b-train -q -o m.l1b $TINY --keep-best m.l1b tiny.tok
    [ "$status" -eq 2 ]
    [[ "$output" == *"the same file as -o"* ]]
}

@test "--sample-every prints a greedy sample after every N-th metric line, the weights unchanged" {
    tiny_corpus
    l1b-train -o a.l1b $TINY --steps 300 --eval-every 50 --sample-every 2 --sample-prompt "the q" tiny.tok 2> err
    l1b-train -q -o b.l1b $TINY --steps 300 --eval-every 50 tiny.tok
    [ "$(section_sum a.l1b PARM ADAM)" = "$(section_sum b.l1b PARM ADAM)" ]
    # evaluations at 50..300: samples after the 2nd, 4th and 6th, each right after its metric line
    [ "$(grep -c '^l1b-train: sample at step' err)" -eq 3 ]
    [ "$(grep -A1 '^l1b-train: step 100/300' err | tail -1 | cut -c1-31)" = "l1b-train: sample at step 100: " ]
    [ "$(grep -A1 '^l1b-train: step 300/300' err | tail -1 | cut -c1-31)" = "l1b-train: sample at step 300: " ]
    # the last one is what l1b-sample --greedy makes of the saved model
    want=$(l1b-sample -m a.l1b --greedy -n 64 --echo -i "the q")
    [ "$(grep '^l1b-train: sample at step 300' err | sed 's/^l1b-train: sample at step 300: //')" = "$want" ]
    [[ "$want" == "the quick brown fox jumps over the lazy dog."* ]]
    # not with -q
    l1b-train -q -o c.l1b $TINY --steps 100 --eval-every 50 --sample-every 1 tiny.tok 2> err
    [ ! -s err ]
    run l1b-train -o c.l1b $TINY --sample-prompt x tiny.tok
    [ "$status" -eq 2 ]
}

@test "a sample is one line: newlines and control bytes escaped" {
    for i in $(seq 80); do printf 'ab\ncd\t\n'; done > nl.txt
    l1b-tokenize -o nl.tok nl.txt
    l1b-train -o m.l1b $TINY --steps 150 --eval-every 150 --sample-every 1 --sample-prompt "ab" nl.tok 2> err
    line=$(grep '^l1b-train: sample at step 150: ' err)
    [[ "$line" == 'l1b-train: sample at step 150: ab\ncd\t\nab\ncd\t\n'* ]]
    ! grep -v '^l1b-train: ' err
}

@test "--schedule-time sets --steps from --time; the same weights as that --steps" {
    tiny_corpus
    l1b-train -o s.l1b $TINY --time 2s --schedule-time --until 60 tiny.tok 2> err
    grep -q '^l1b-train: --schedule-time: the schedule ends at step [0-9]* (was 2000): ' err
    total=$(json_field s.l1b total_steps)
    [ "$total" -gt 60 ]
    grep -q "^l1b-train: --schedule-time: the schedule ends at step $total " err
    grep -q "stopped at --until 60: step 60/$total;" err
    l1b-train -q -o w.l1b $TINY --steps "$total" --until 60 tiny.tok
    [ "$(section_sum s.l1b PARM ADAM)" = "$(section_sum w.l1b PARM ADAM)" ]
    # recorded: the history says what set the length
    l1b-ckpt history s.l1b | grep -qx "step 0: --steps $total (was 2000), by --schedule-time"
    # a resumed run plans again from the step reached
    l1b-train -q -o s.l1b --resume --time 1s --schedule-time --until 70 tiny.tok
    [ "$(l1b-ckpt history s.l1b | grep -c 'by --schedule-time')" -eq 2 ]
    l1b-ckpt history s.l1b | grep -q '^step 60: --steps [0-9]* (was '"$total"'), by --schedule-time$'
}

@test "--schedule-time needs --time and excludes --steps" {
    tiny_corpus
    run l1b-train -o m.l1b --schedule-time tiny.tok
    [ "$status" -eq 2 ]
    [[ "$output" == *"--schedule-time needs --time"* ]]
    run l1b-train -o m.l1b --schedule-time --time 5s --steps 10 tiny.tok
    [ "$status" -eq 2 ]
    [[ "$output" == *"exclude each other"* ]]
}

@test "--resume may change --lr, --min-lr, --warmup, --steps and --batch: notices, recorded" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 30 tiny.tok
    old=$(section_sum m.l1b PARM)
    l1b-train -o m.l1b --resume --steps 60 --lr 0.0003 --min-lr 1e-5 --warmup 5 --batch 4 --eval-every 100 tiny.tok 2> err
    [ "$(head -5 err)" = "$(printf '%s\n' 'l1b-train: --lr 0.0003 (was 0.003)' 'l1b-train: --min-lr 1e-05 (was 0.0001)' \
        'l1b-train: --warmup 5 (was 10)' 'l1b-train: --steps 60 (was 30)' 'l1b-train: --batch 4 (was 8)')" ]
    l1b-ckpt info m.l1b | grep -qx 'settings      lr 0.0003, min-lr 1e-05, warmup 5, steps 60, batch 4, accum 1, wd 0.1, clip 1, seed 1337, val-frac 0.1, batching pack'
    [ "$(l1b-ckpt history m.l1b | sed -n '/^settings changed$/,$p')" = "$(printf '%s\n' 'settings changed' \
        'step 30: --lr 0.0003 (was 0.003), on --resume' 'step 30: --min-lr 1e-05 (was 0.0001), on --resume' \
        'step 30: --warmup 5 (was 10), on --resume' 'step 30: --steps 60 (was 30), on --resume' \
        'step 30: --batch 4 (was 8), on --resume')" ]
    l1b-ckpt verify m.l1b
    # the same values again: nothing to say, nothing recorded
    l1b-train -o m.l1b --resume --steps 70 --lr 0.0003 --batch 4 --eval-every 100 tiny.tok 2> err
    [ "$(grep -c 'was' err)" -eq 1 ]
    [ "$(l1b-ckpt history m.l1b | grep -c 'on --resume')" -eq 6 ]
    # -q: recorded, not told
    l1b-train -q -o m.l1b --resume --steps 80 --lr 0.0002 tiny.tok 2> err
    [ ! -s err ]
    [ "$(l1b-ckpt history m.l1b | tail -2)" = "$(printf '%s\n' 'step 70: --lr 0.0002 (was 0.0003), on --resume' \
        'step 70: --steps 80 (was 70), on --resume')" ]
    # other settings must still match
    for o in "--seed 3" "--wd 0.2" "--clip 2" "--val-frac 0.2" "--dim 64" "--accum 2" "--batching bucket"; do
        run l1b-train -q -o m.l1b --resume --steps 90 $o tiny.tok
        [ "$status" -eq 1 ]
        [[ "$output" == *"differs from the model being resumed"* ]]
    done
}

@test "a checkpoint without settings changes has no CHNG section (what older versions read)" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 20 --until 10 tiny.tok
    l1b-train -q -o m.l1b --resume --lr 3e-3 tiny.tok  # --lr as stored: no change
    [ "$(perl -e 'open my $h, "<:raw", $ARGV[0]; read $h, my $b, 20; print unpack("V", substr($b, 16, 4))' m.l1b)" -eq 6 ]
    l1b-train -q -o m.l1b --resume --steps 30 tiny.tok
    [ "$(perl -e 'open my $h, "<:raw", $ARGV[0]; read $h, my $b, 20; print unpack("V", substr($b, 16, 4))' m.l1b)" -eq 7 ]
}

@test "l1b-ckpt info shows the stored training settings, text and JSON" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 10 --accum 2 --wd 0.05 --clip 0.5 --seed 9 --val-frac 0.2 --batching bucket tiny.tok
    l1b-ckpt info m.l1b | grep -qx 'settings      lr 0.003, min-lr 0.0001, warmup 10, steps 10, batch 8, accum 2, wd 0.05, clip 0.5, seed 9, val-frac 0.2, batching bucket'
    l1b-ckpt info --json m.l1b | grep -qF ' "settings": {"lr": 0.003, "min_lr": 0.0001, "warmup": 10, "steps": 10, "batch": 8, "accum": 2, "wd": 0.05, "clip": 0.5, "seed": 9, "val_frac": 0.2, "batching": "bucket"},'
    # an inference file keeps no settings: neither line
    l1b-ckpt convert --pack m.l1b p.l1b
    ! l1b-ckpt info p.l1b | grep -q '^settings'
    ! l1b-ckpt info --json p.l1b | grep -q '"settings"'
}
