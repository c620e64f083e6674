#!/usr/bin/env bats
# Data-parallel l1b-train under mpirun (make check-mpi): the MPI build's
# programs in L1B_BIN, the default build's in L1B_PLAIN_BIN. MPIRUN may
# name another launcher; Open MPI as root needs --allow-run-as-root, and
# --oversubscribe lets 3 ranks share 2 cores.

load ../cli/helper

MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
PLAIN=${L1B_PLAIN_BIN:-$BATS_TEST_DIRNAME/../../build}

# ranks N ARGS...: l1b-train as N ranks
ranks() {
    local n=$1
    shift
    $MPIRUN -np "$n" "$L1B_BIN/l1b-train" "$@"
}

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    tiny_corpus
}

# a test that fails half-way leaves no job behind
teardown() {
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2> /dev/null; then
        kill -9 $(pgrep -P "$pid") "$pid" 2> /dev/null || true
    fi
}

# the step a checkpoint has reached
step_of() {
    l1b-ckpt info --json "$1" | perl -ne 'print $1 if /"step":\s*(\d+)/'
}

@test "N ranks train the weights of one process with --accum N, to the bit, for N = 1, 2, 3 and any -j" {
    l1b-train -q -o one.l1b $TINY --steps 12 tiny.tok
    ranks 1 -q -o r1.l1b $TINY --steps 12 tiny.tok
    [ "$(section_sum one.l1b PARM ADAM)" = "$(section_sum r1.l1b PARM ADAM)" ]
    l1b-train -q -o a2.l1b $TINY --steps 12 --accum 2 -j 2 --eval-every 4 --log a2.tsv tiny.tok
    ranks 2 -q -o r2.l1b $TINY --steps 12 -j 1 --eval-every 4 --log r2.tsv tiny.tok
    [ "$(section_sum a2.l1b PARM ADAM)" = "$(section_sum r2.l1b PARM ADAM)" ]
    # and the metrics: losses, gradient norm, tokens (not the timings)
    [ "$(cut -f 1-10 a2.tsv)" = "$(cut -f 1-10 r2.tsv)" ]
    l1b-train -q -o a3.l1b $TINY --steps 12 --accum 3 -j 1 tiny.tok
    ranks 3 -q -o r3.l1b $TINY --steps 12 -j 2 tiny.tok
    [ "$(section_sum a3.l1b PARM ADAM)" = "$(section_sum r3.l1b PARM ADAM)" ]
    # a step is every rank's micro-batches: 12 x 3 x 8 x 16 tokens
    [ "$(l1b-ckpt info --json r3.l1b | perl -ne 'print $1 if /"tokens_seen":\s*(\d+)/')" = 4608 ]
    [ "$(section_sum a2.l1b PARM)" != "$(section_sum a3.l1b PARM)" ]
}

@test "exact too with --accum per rank, bucket batching, stochastic rounding and shards that cut tensors anywhere" {
    # dim 40, vocab 257: no tensor of the 3-rank shards starts on a 64-value boundary
    shape="--dim 40 --layers 2 --heads 2 --ctx 8 --batch 3 --warmup 5"
    l1b-train -q -o a4.l1b $shape --steps 8 --accum 4 tiny.tok
    ranks 2 -q -o r4.l1b $shape --steps 8 --accum 2 tiny.tok
    [ "$(section_sum a4.l1b PARM ADAM)" = "$(section_sum r4.l1b PARM ADAM)" ]
    l1b-train -q -o sb.l1b $shape --steps 8 --accum 3 --batching bucket --quant stochastic tiny.tok
    ranks 3 -q -o rb.l1b $shape --steps 8 --batching bucket --quant stochastic tiny.tok
    [ "$(section_sum sb.l1b PARM ADAM)" = "$(section_sum rb.l1b PARM ADAM)" ]
}

@test "a run resumed across 2, 1 and 3 ranks ends as one uninterrupted process" {
    l1b-train -q -o whole.l1b $TINY --steps 30 --accum 2 tiny.tok
    ranks 2 -q -o split.l1b $TINY --steps 30 --until 10 tiny.tok
    [ "$(step_of split.l1b)" = 10 ]
    l1b-train -q --resume -o split.l1b --until 20 tiny.tok
    [ "$(step_of split.l1b)" = 20 ]
    # 2 micro-batches a step on 3 ranks: one idles (a note says so)
    run ranks 3 --resume -o split.l1b tiny.tok
    [ "$status" -eq 0 ]
    [[ "$output" == *"3 ranks share 2 micro-batches a step: 1 of them idle"* ]]
    [ "$(step_of split.l1b)" = 30 ]
    [ "$(section_sum whole.l1b PARM ADAM)" = "$(section_sum split.l1b PARM ADAM)" ]
    # --accum on resume counts per rank: 2 ranks x 1 is the file's 2
    ranks 2 -q --resume --accum 1 --steps 31 -o split.l1b tiny.tok
    run ranks 2 --resume --accum 2 --steps 32 -o split.l1b tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"--accum 2 on 2 ranks (4 micro-batches a step) differs from the model being resumed (2 a step there)"* ]]
}

@test "-v names the ranks and the exchange; only rank 0 prints, logs and validates" {
    run ranks 2 -v -o m.l1b $TINY --steps 4 --eval-every 2 --log train.tsv tiny.tok
    [ "$status" -eq 0 ]
    [ "$(grep -c 'model: dim 32' <<< "$output")" -eq 1 ]
    [ "$(grep -c 'mpi: 2 ranks, 2 micro-batches of 8 a step in all (16 sequences); each rank sends about 0.1' <<< "$output")" -eq 1 ]
    [ "$(grep -c '^l1b-train: step 4/4 ' <<< "$output")" -eq 1 ]
    [ "$(grep -c '^l1b-train: step 2/4 ' <<< "$output")" -eq 1 ]
    [ "$(grep -c '^l1b-train: schedule done: step 4/4; saved m.l1b; val ' <<< "$output")" -eq 1 ]
    [ "$(wc -l < train.tsv)" -eq 3 ]
    # tokens count every rank's: 2 micro-batches x 8 x 16 a step
    [ "$(awk -F '\t' 'NR == 3 { print $2 }' train.tsv)" = 1024 ]
}

@test "SIGTERM to the ranks stops them at one step; rank 0 saves, exit 143; resumed, the run is exact" {
    $MPIRUN -np 2 "$L1B_BIN/l1b-train" -q -o m.l1b $TINY --steps 100000000 --save-every 0 --eval-every 5 \
        --log train.tsv tiny.tok &
    pid=$!  # mpirun's; the ranks are its children
    for _ in $(seq 200); do [ "$(wc -l < train.tsv 2> /dev/null)" -ge 2 ] && break; sleep 0.1; done
    [ "$(pgrep -P $pid | wc -l)" -eq 2 ]
    kill -TERM $(pgrep -P $pid)
    status=0
    wait $pid || status=$?
    [ "$status" -eq 143 ]
    l1b-ckpt verify m.l1b
    s=$(step_of m.l1b)
    [ "$s" -gt 0 ]
    ranks 2 -q --resume --until $((s + 3)) -o m.l1b tiny.tok
    l1b-train -q -o whole.l1b $TINY --steps 100000000 --accum 2 --until $((s + 3)) tiny.tok
    [ "$(section_sum whole.l1b PARM ADAM)" = "$(section_sum m.l1b PARM ADAM)" ]
}

@test "SIGTERM to mpirun: the job ends, the checkpoint is whole and resumes" {
    $MPIRUN -np 2 "$L1B_BIN/l1b-train" -o m.l1b $TINY --steps 100000000 --save-every 20 --eval-every 1000000 \
        tiny.tok 2> err.txt &
    pid=$!
    for _ in $(seq 100); do [ -s m.l1b ] && break; sleep 0.1; done
    sleep 1
    kill -TERM $pid
    status=0
    timeout 30 tail --pid=$pid -f /dev/null
    wait $pid || status=$?
    [ "$status" -ne 0 ]
    l1b-ckpt verify m.l1b
    s=$(step_of m.l1b)
    # mpirun sends SIGTERM a second after SIGCONT and SIGKILL a second later:
    # time enough for this model to finish its step and save it
    grep -q "step $s/100000000" err.txt
    ranks 2 -q --resume --until $((s + 2)) -o m.l1b tiny.tok
    [ "$(step_of m.l1b)" = $((s + 2)) ]
}

@test "a rank killed with -9: the others end within seconds, non-zero, and the last checkpoint is intact" {
    $MPIRUN -np 2 "$L1B_BIN/l1b-train" -q -o m.l1b $TINY --steps 100000000 --save-every 5 tiny.tok &
    pid=$!
    for _ in $(seq 100); do [ -s m.l1b ] && break; sleep 0.1; done
    sleep 0.5
    kill -9 $(pgrep -P $pid | tail -n 1)
    timeout 30 tail --pid=$pid -f /dev/null
    status=0
    wait $pid || status=$?
    [ "$status" -ne 0 ]
    l1b-ckpt verify m.l1b
    ranks 2 -q --resume --until $(($(step_of m.l1b) + 1)) -o m.l1b tiny.tok
}

@test "ranks must read the same data: rank 0 says which differs, and every rank exits 1" {
    head -c 1500 tiny.txt | l1b-tokenize -o other.tok
    run $MPIRUN -np 1 "$L1B_BIN/l1b-train" -o m.l1b $TINY tiny.tok : -np 1 "$L1B_BIN/l1b-train" -o m.l1b $TINY other.tok
    [ "$status" -eq 1 ]
    [ "$(grep -c '^l1b-train:' <<< "$output")" -eq 1 ]
    [[ "$output" == *"l1b-train: tiny.tok: rank 1 reads another token stream than rank 0 (1500 tokens"* ]]
    [[ "$output" == *"every rank must read the same data"* ]]
    [ ! -e m.l1b ]
    # a rank that cannot open its data: its message, on rank 0
    run $MPIRUN -np 1 "$L1B_BIN/l1b-train" -o m.l1b tiny.tok : -np 1 "$L1B_BIN/l1b-train" -o m.l1b nothere.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"l1b-train: rank 1 ("*"): nothere.tok: No such file or directory"* ]]
    # standard input reaches rank 0 alone
    run ranks 2 -o m.l1b < tiny.tok
    [ "$status" -eq 1 ]
    [[ "$output" == *"under mpirun every rank reads the token stream by name: give TOKENS, not standard input"* ]]
}

@test "the default build has no MPI symbol; --version says whether MPI is built in" {
    for p in l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt; do
        [ -z "$(nm "$PLAIN/$p" | grep -i mpi)" ]
        [ -z "$(ldd "$PLAIN/$p" | grep -i mpi)" ]
    done
    # in the MPI build, only l1b-train
    for p in l1b-tokenize l1b-sample l1b-bench l1b-ckpt; do
        [ -z "$(nm "$L1B_BIN/$p" | grep -i mpi)" ]
    done
    nm "$L1B_BIN/l1b-train" | grep -q ' U MPI_Alltoallv'
    run "$PLAIN/l1b-train" --version
    [ "${lines[1]}" = "mpi: not built in (make MPI=1)" ]
    run "$L1B_BIN/l1b-train" --version
    [[ "${lines[1]}" == "mpi: built in ("*"); under mpirun the ranks train one model" ]]
    # a build without MPI started as ranks says so rather than train twice
    run $MPIRUN -np 2 "$PLAIN/l1b-train" -o m.l1b tiny.tok
    [ "$status" -ne 0 ]
    [[ "$output" == *"started by mpirun as one of several processes, but built without MPI (make MPI=1)"* ]]
}
