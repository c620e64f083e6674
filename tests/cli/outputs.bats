#!/usr/bin/env bats
# Outputs: special targets are written through or refused, never replaced;
# directories and links are handled before any work; locks follow links;
# closed descriptors, write errors and --log failures are not silent.
load helper

is_char_device() { [ -c "$1" ] && [ ! -L "$1" ]; }

# a character device of our own to write to: a copy of /dev/null's node
# when root (mknod), else /dev/null itself (which we could not replace)
test_null() {
    if [ "$(id -u)" = 0 ] && mknod devnull c 1 3 2>/dev/null; then echo "$PWD/devnull"; else echo /dev/null; fi
}

@test "-o FIFO: token stream and converted model go through the FIFO, which stays a FIFO" {
    tiny_corpus
    mkfifo fifo
    timeout 20 cat fifo > got.tok &   # a FIFO replaced by a file would leave cat waiting
    timeout 20 l1b-tokenize -o fifo tiny.txt
    wait $!
    [ -p fifo ]
    cmp got.tok tiny.tok
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    timeout 20 cat fifo > got.l1bi &
    timeout 20 l1b-ckpt convert --pack m.l1b fifo
    wait $!
    [ -p fifo ]
    l1b-ckpt verify got.l1bi
}

@test "-o a character device: written through by l1b-tokenize and l1b-ckpt, refused by l1b-train, never replaced" {
    tiny_corpus
    dev=$(test_null)
    l1b-tokenize -o "$dev" tiny.txt
    is_char_device "$dev"
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    l1b-ckpt convert --pack m.l1b "$dev"
    l1b-ckpt export --format llama2c m.l1b "$dev"
    is_char_device "$dev"
    run l1b-train -q -o "$dev" $TINY --steps 5 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: $dev: not a regular file (a checkpoint is replaced as a whole and read back)" ]
    is_char_device "$dev"
    [ ! -e "$dev.lock" ]
}

@test "-o DIR is refused at once, before any training" {
    tiny_corpus
    mkdir out
    run timeout 20 l1b-train -q -o out $TINY --steps 1000000 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: out: is a directory" ]
    [ -d out ] && [ -z "$(ls -A out)" ]
    run l1b-tokenize -o out tiny.txt
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: out: is a directory" ]
    # before reading the input: an endless one is not waited for
    run timeout 20 sh -c 'yes | l1b-tokenize --bpe -o out'
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: out: is a directory" ]
    l1b-train -q -o m.l1b $TINY --steps 5 tiny.tok
    run l1b-ckpt convert --pack m.l1b out
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-ckpt: out: is a directory" ]
}

@test "a symbolic link as output: its target is replaced, the link stays; one lock for both names" {
    tiny_corpus
    mkdir real
    l1b-train -q -o real/m.l1b $TINY --steps 5 tiny.tok
    ln -s real/m.l1b link.l1b
    l1b-train -q -o link.l1b $TINY --steps 10 --resume tiny.tok
    [ -L link.l1b ]
    [ "$(l1b-ckpt info --json real/m.l1b | grep -o '"step": [0-9]*')" = '"step": 10' ]
    [ ! -e link.l1b.lock ]
    # a trainer busy on the real name: the link is refused, and so is convert
    l1b-train -q -o real/m.l1b $TINY --steps 100000 --resume tiny.tok &
    pid=$!
    for i in $(seq 100); do [ -e real/m.l1b.lock ] && break; sleep 0.05; done
    sleep 0.3
    run l1b-train -q -o link.l1b $TINY --steps 20 --resume tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"another l1b-train is writing this model"* ]]
    cp real/m.l1b before.l1b
    run l1b-ckpt convert --unpack before.l1b link.l1b
    [ "$status" -eq 1 ]
    [[ "$output" == *"another l1b-train is writing this model"* ]]
    kill -TERM $pid
    wait $pid || true
    [ -L link.l1b ]
    ln -s nowhere.l1b dangling.l1b
    run l1b-train -q -o dangling.l1b $TINY --steps 5 tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: dangling.l1b: dangling symbolic link" ]
}

@test "with stderr closed, messages do not end up in the outputs" {
    gen_text 3 3000 > in.txt
    cat in.txt | l1b-tokenize --bpe --vocab 300 -v -o out.tok 2>&-
    l1b-ckpt verify out.tok
    l1b-tokenize --decode out.tok | cmp - in.txt
    tiny_corpus
    l1b-train -v -o m.l1b $TINY --steps 20 --eval-every 5 tiny.tok 2>&-
    [ ! -s m.l1b.lock ]
    l1b-ckpt verify m.l1b
}

@test "--log that cannot be written: refused before work, or stops the run with exit 1 after saving" {
    tiny_corpus
    run l1b-train -q -o m.l1b $TINY --steps 20 --eval-every 5 --log /dev/full tiny.tok
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-train: /dev/full: cannot write the log: No space left on device" ]
    [ ! -e m.l1b ]
    # a log that fills its disk part-way: a 4 KB tmpfs (root only; else this part is not run)
    if [ "$(id -u)" = 0 ] && mkdir logdir && mount -t tmpfs -o size=4k tmpfs logdir 2>/dev/null; then
        run l1b-train -q -o m.l1b $TINY --steps 200 --eval-every 1 --log logdir/log.tsv tiny.tok
        umount logdir
        [ "$status" -eq 1 ]
        [ "$output" = "l1b-train: logdir/log.tsv: cannot write the log: No space left on device" ]
        l1b-ckpt verify m.l1b
        step=$(l1b-ckpt info --json m.l1b | grep -o '"step": [0-9]*' | grep -o '[0-9]*$')
        [ "$step" -gt 5 ] && [ "$step" -lt 200 ]
    fi
}

@test "a write error on stdout is exit 1, --help and --version included" {
    tiny_corpus
    for p in l1b-tokenize l1b-train l1b-sample l1b-ckpt l1b-bench; do
        run sh -c "$p --help > /dev/full"
        [ "$status" -eq 1 ]
        [[ "$output" == "$p: stdout: write error"* ]]
        run sh -c "$p --version > /dev/full"
        [ "$status" -eq 1 ]
    done
    run sh -c "l1b-tokenize -f tiny.txt > /dev/full"
    [ "$status" -eq 1 ]
    [ "$output" = "l1b-tokenize: stdout: No space left on device" ] || [[ "$output" == "l1b-tokenize: stdout: write error"* ]]
    run sh -c "l1b-ckpt verify tiny.tok > /dev/full"
    [ "$status" -eq 1 ]
}

@test "l1b-bench --simd with no level to run is a usage error" {
    run l1b-bench --simd '' train
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-bench: --simd: no level to run here" ]
}
