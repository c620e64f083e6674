#!/bin/sh
# A long fuzzing campaign: every target up to RUNS executions or SECONDS,
# whichever comes first, JOBS targets at a time, at nice 10, each from its
# seeds into a fresh corpus. After `make fuzz fuzz-seeds`:
#
#   tests/fuzz/campaign.sh FUZZ_BUILD OUT_DIR [SECONDS [RUNS [JOBS]]]
#
# (defaults 900 s, 10^7 executions, 2 at a time). OUT_DIR gets per target
# the corpus (corpus-TARGET), the log (TARGET.log) and any crash
# (crash-TARGET-*), and summary.tsv: target, executions, execs/s, cov, ft,
# corpus size, peak RSS, exit status (0: nothing found).
set -u
[ $# -ge 2 ] || { echo "usage: $0 FUZZ_BUILD OUT_DIR [SECONDS [RUNS [JOBS]]]" >&2; exit 2; }
fb=$1 out=$2 secs=${3:-900} runs=${4:-10000000} jobs=${5:-2}
targets="tokstream ckpt packed tokenizer textscan bpe parse"
mkdir -p "$out"

one() {
    t=$1
    mkdir -p "$out/corpus-$t"
    UBSAN_OPTIONS=print_stacktrace=1 nice -n 10 "$fb/fuzz-$t" -max_total_time="$secs" -runs="$runs" \
        -timeout=60 -print_final_stats=1 -artifact_prefix="$out/crash-$t-" \
        "$out/corpus-$t" "$fb/seeds/$t" > "$out/$t.log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$out/$t.log")
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "${corp:-?}" "${rss:-?}" "$rc" >> "$out/summary.tsv"
}

printf 'target\texecutions\texecs_per_s\tcov\tft\tcorpus\tpeak_rss_mb\tstatus\n' > "$out/summary.tsv"
# a simple pool: JOBS workers, each taking every JOBS-th target
w=0
while [ $w -lt "$jobs" ]; do
    (
        i=0
        for t in $targets; do
            [ $((i % jobs)) -eq $w ] && one "$t"
            i=$((i + 1))
        done
    ) &
    w=$((w + 1))
done
wait
cat "$out/summary.tsv"
