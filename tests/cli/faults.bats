#!/usr/bin/env bats
# Crashes and full disks. Training killed with SIGKILL at random moments
# always leaves a model that verifies (the old state or the new one, never
# a damaged file) and resumes to the same weights as an uninterrupted run;
# a later run leaves no temporary files, a killed piped run nothing in
# $TMPDIR. Every output written to a full disk fails with one line naming
# the file and leaves an older file of the same name as it was.
load helper

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    mkdir -p tmp
    export TMPDIR="$BATS_TEST_TMPDIR/tmp"
}

teardown() {
    # the small tmpfs of the full-disk tests, if one was mounted
    if [ "${FULL:-}" = tmpfs ]; then umount "$BATS_TEST_TMPDIR/out"; fi
}

now_ms() { date +%s%3N; }

ckpt_step() {  # ckpt_step MODEL: the training step the checkpoint holds
    l1b-ckpt info --json "$1" | sed -n 's/.*"step": \([0-9]*\),.*/\1/p'
}

no_temporaries() {  # no_temporaries NAME...: no .NAME.* left here, nothing in $TMPDIR
    for n in "$@"; do
        if ls -A | grep -q "^\.$n\."; then echo "left behind: $(ls -A | grep "^\.$n\.")"; return 1; fi
    done
    if [ -n "$(ls -A "$TMPDIR")" ]; then echo "left in TMPDIR: $(ls -A "$TMPDIR")"; return 1; fi
}

@test "kill -9 at 20 random moments of a run saving every step: the model always verifies and resumes exactly" {
    tiny_corpus
    # steps for a run of about 3 s here (sanitizer builds are slower), from
    # the time of 10 steps and of 50 steps
    t0=$(now_ms)
    l1b-train -q -o cal.l1b $TINY --steps 10 --save-every 1 tiny.tok
    t1=$(now_ms)
    l1b-train -q -o cal.l1b $TINY --steps 50 --save-every 1 tiny.tok
    t2=$(now_ms)
    per_step=$(( ((t2 - t1) - (t1 - t0)) * 1000 / 40 + 1 ))   # microseconds
    start=$(( (t1 - t0) - per_step * 10 / 1000 ))             # milliseconds
    [ $start -ge 0 ] || start=0
    steps=$(( 3000000 / per_step ))
    [ $steps -ge 200 ] || steps=200
    [ $steps -le 5000 ] || steps=5000
    # each kill comes 0 to 2 x (start-up + 1/25 of the run) after a start:
    # the 20 of them cover about 4/5 of the run
    window=$(( 2 * (start + steps * per_step / 25000) + 1 ))  # milliseconds
    echo "$steps steps of $per_step us, start-up $start ms; kills within $window ms of each start"
    l1b-train -q -o whole.l1b $TINY --steps $steps tiny.tok   # uninterrupted
    last=0
    for i in $(seq 20); do
        # the tokens from a file or, every other time, piped on stdin
        if [ $((i % 2)) = 1 ]; then
            l1b-train -q -o m.l1b $TINY --steps $steps --save-every 1 --resume tiny.tok 3>&- &
        else
            cat tiny.tok | l1b-train -q -o m.l1b $TINY --steps $steps --save-every 1 --resume 3>&- &
        fi
        pid=$!
        ms=$(( RANDOM % window ))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -9 $pid 2>/dev/null || true   # it may have finished
        wait $pid 2>/dev/null || true
        if [ -e m.l1b ]; then
            l1b-ckpt verify m.l1b
            step=$(ckpt_step m.l1b)
            echo "kill $i after $ms ms: step $step"
            [ "$step" -ge "$last" ]
            last=$step
        else
            echo "kill $i after $ms ms: no model yet"
        fi
    done
    run l1b-train -q -o m.l1b --resume tiny.tok
    [ "$status" -eq 0 ]
    [ "$(ckpt_step m.l1b)" = $steps ]
    [ "$(section_sum m.l1b PARM ADAM)" = "$(section_sum whole.l1b PARM ADAM)" ]
    # the successful run removed what the killed ones left; spooled
    # stdin never outlives its reader
    no_temporaries m.l1b
}

@test "killed with -9 while reading a pipe, l1b-train and l1b-tokenize --bpe leave nothing in TMPDIR" {
    tiny_corpus
    gen_text 1 3000 > text.txt
    # a FIFO held open: the program has spooled its input and waits for more
    mkfifo fifo
    for prog in train tokenize; do
        if [ $prog = train ]; then
            l1b-train -q -o m.l1b $TINY --steps 10 < fifo 3>&- &
            pid=$!
            exec 4> fifo
            cat tiny.tok >&4
        else
            l1b-tokenize -q --bpe --vocab 300 -o t.tok < fifo 3>&- &
            pid=$!
            exec 4> fifo
            cat text.txt >&4
        fi
        sleep 0.5
        kill -9 $pid
        wait $pid 2>/dev/null || true
        exec 4>&-
        no_temporaries m.l1b t.tok
        [ ! -e m.l1b ] && [ ! -e t.tok ]
    done
}

# The full disk: OUT/ is a 1 MiB tmpfs when root may mount one, else a
# plain directory under a file-size limit (ulimit -f, SIGXFSZ ignored: the
# write fails with EFBIG instead); L1B_TEST_FULL=ulimit asks for the latter.
full_disk_mount() {
    mkdir out
    if [ "${L1B_TEST_FULL:-}" != ulimit ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs out 2>/dev/null; then
        FULL=tmpfs
    else
        FULL=ulimit
    fi
}

# run_full KEEP CMD...: run CMD with KEEP bytes left on the disk (rounded
# down to whole 4 KiB pages on the tmpfs, 1 KiB blocks under ulimit)
run_full() {
    local keep=$1
    shift
    if [ $FULL = tmpfs ]; then
        rm -f out/filler
        [ $((keep / 4096)) -eq 0 ] || dd if=/dev/zero of=out/slack bs=4096 count=$((keep / 4096)) status=none
        dd if=/dev/zero of=out/filler bs=4096 status=none 2>/dev/null || true
        rm -f out/slack
        run "$@"
        rm -f out/filler
    else
        run bash -c 'trap "" XFSZ; ulimit -f "$1"; shift; exec "$@"' _ $((keep / 1024)) "$@"
    fi
}

# full_disk_fails PROG OUT CMD...: an older out/OUT is in place, which
# CMD replaces when there is room. With no room, and with room for half of
# what it writes, CMD must fail with one line "PROG: out/OUT: ...", leave
# out/OUT as it was and no temporary file beside it.
full_disk_fails() {
    local prog=$1 name=$2 keep
    shift 2
    cp "out/$name" before
    "$@"                                # with room: it works
    ! cmp -s before "out/$name"
    keep=$(( $(stat -c %s "out/$name") / 2 ))
    cp before "out/$name"
    for keep in 0 $keep; do
        run_full $keep "$@"
        echo "$FULL, $keep bytes free: $* -> $status: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == "$prog: out/$name: "* ]]
        cmp before "out/$name"
        [ -z "$(ls -A out | grep "^\.$name\.")" ]
    done
}

@test "a full disk fails every output file with one line naming it, and the older file stays intact" {
    tiny_corpus
    gen_text 2 20000 > text.txt
    l1b-tokenize -q -o text.tok text.txt
    l1b-train -q -o old.l1b $TINY --steps 5 --seed 7 tiny.tok
    l1b-train -q -o m.l1b $TINY --steps 20 tiny.tok
    full_disk_mount
    # the older outputs, from other inputs
    l1b-tokenize -q -o out/t.tok tiny.txt
    cp tiny.txt out/text.txt
    cp old.l1b out/m.l1b
    l1b-ckpt convert --pack old.l1b out/inf.l1b
    l1b-ckpt export --format llama2c old.l1b out/m.bin
    l1b-ckpt history --svg out/h.svg old.l1b
    full_disk_fails l1b-tokenize t.tok l1b-tokenize -q --bpe --vocab 300 -o out/t.tok text.txt
    full_disk_fails l1b-tokenize text.txt l1b-tokenize -q --decode -o out/text.txt text.tok
    full_disk_fails l1b-train m.l1b l1b-train -q -o out/m.l1b $TINY --steps 10 tiny.tok
    full_disk_fails l1b-train m.l1b l1b-train -q -o out/m.l1b --resume --steps 10 tiny.tok
    full_disk_fails l1b-ckpt inf.l1b l1b-ckpt convert --pack --bits 1.6 m.l1b out/inf.l1b
    full_disk_fails l1b-ckpt m.bin l1b-ckpt export --format llama2c m.l1b out/m.bin
    full_disk_fails l1b-ckpt h.svg l1b-ckpt history --svg out/h.svg m.l1b
}

@test "a full disk under export's two outputs: each is the older file or the whole new one" {
    tiny_corpus
    l1b-tokenize -q --bpe --vocab 300 -o bpe.tok tiny.txt
    l1b-train -q -o old.l1b $TINY --steps 5 tiny.tok
    l1b-train -q -o m.l1b $TINY --steps 5 bpe.tok
    l1b-ckpt export --format llama2c --tokenizer-out new.tok.bin m.l1b new.m.bin
    full_disk_mount
    l1b-ckpt export --format llama2c --tokenizer-out out/tok.bin old.l1b out/m.bin
    cp out/m.bin old.m.bin
    cp out/tok.bin old.tok.bin
    ! cmp -s old.m.bin new.m.bin
    ! cmp -s old.tok.bin new.tok.bin
    # from no room to room for both: the run fails with one line, or
    # succeeds; either way each file is the older one or the whole new one
    size=$(stat -c %s new.m.bin)
    for keep in 0 4096 $((size / 2)) $((size - 4096)) $size $((size + 4096)) $((size + 8192)); do
        run_full $keep l1b-ckpt export --format llama2c --tokenizer-out out/tok.bin m.l1b out/m.bin
        echo "$FULL, $keep bytes free: $status: $output"
        if [ "$status" -eq 0 ]; then
            [ -z "$output" ]
        else
            [ "$status" -eq 1 ]
            [ "${#lines[@]}" -eq 1 ]
            [[ "$output" == "l1b-ckpt: out/m.bin: "* || "$output" == "l1b-ckpt: out/tok.bin: "* ]]
        fi
        cmp -s old.m.bin out/m.bin || cmp new.m.bin out/m.bin
        cmp -s old.tok.bin out/tok.bin || cmp new.tok.bin out/tok.bin
        [ -z "$(ls -A out | grep '^\.')" ]
        cp old.m.bin out/m.bin
        cp old.tok.bin out/tok.bin
    done
}

@test "stdout on a full device: one line naming stdout, exit 1" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    for cmd in "l1b-tokenize tiny.txt" "l1b-tokenize --ids tiny.txt" "l1b-tokenize --decode tiny.tok" \
               "l1b-sample -m m.l1b -n 100 -i the" "l1b-sample -m m.l1b --score tiny.txt" \
               "l1b-ckpt info m.l1b" "l1b-ckpt info --json m.l1b" "l1b-ckpt vocab m.l1b" \
               "l1b-ckpt history m.l1b" "l1b-ckpt verify m.l1b"; do
        run bash -c "$cmd > /dev/full"
        echo "$cmd -> $status: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == "${cmd%% *}: stdout: "* ]]
    done
}

@test "an output that is a full device: one line naming it, exit 1" {
    tiny_corpus
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    # as root, a node of our own: a program that wrongly replaced the
    # device by a file would replace this one, not the system's /dev/full
    dev=/dev/full
    if [ "$(id -u)" = 0 ] && mknod full c 1 7 2>/dev/null; then dev=full; fi
    for cmd in "l1b-tokenize -o $dev tiny.txt" "l1b-tokenize --decode -o $dev tiny.tok" \
               "l1b-ckpt history --svg $dev m.l1b"; do
        run $cmd
        echo "$cmd -> $status: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == "${cmd%% *}: $dev: "* ]]
        [ -c $dev ]
    done
}
