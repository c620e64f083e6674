#!/bin/bash
# quant-study.sh — compare the weight quantisation schemes of l1b-train
# (absmean, twn, stochastic, sign, f32) on the same shape, schedule and seed.
#
# usage: tests/bench/quant-study.sh CORPUS [BPE_CORPUS]
#
#   (a) CORPUS, byte tokens:   l1b-tokenize CORPUS -o DIR/bytes.tok
#   (b) BPE_CORPUS (optional), its first BPE_BYTES bytes (default 5000000),
#       a 1024-token BPE vocabulary learnt from that text itself:
#         head -c BPE_BYTES BPE_CORPUS > DIR/bpe.txt
#         l1b-tokenize --bpe --vocab 1024 DIR/bpe.txt -o DIR/bpe.tok
#   For every corpus, every scheme S and every seed in SEEDS (default: only
#   1337, l1b-train's default seed, the same for every scheme):
#     l1b-train -o S.l1b --quant S --dim 128 --layers 4 --heads 4 --ctx 64
#       --batch 12 --steps 2000 --lr 1e-3 --min-lr 1e-4 --warmup 100
#       --val-frac 0.1 --eval-every 500 --eval-batches NB --seed SEED
#       --log S.tsv -j 1 TOKENS
#     l1b-ckpt convert --pack S.l1b S.l1bi   (the packed inference file)
#     l1b-ckpt info --json S.l1bi             (share of -1/0/+1)
#   NB is the number of whole validation batches (12 x 64 tokens, each row
#   needing 65 tokens) the held-out last tenth of TOKENS holds, so every
#   evaluation covers the whole held-out tenth (145 for tinyshakespeare).
#
# The training runs (10 per seed) form one queue worked off two at a time (the
# machine has 2 cores; -j 1 each), so nearly every run shares the machine
# with one other run; the last one runs alone for its last part.
# Tokens/s measured that way on a shared machine is indicative only.
#
# Prints markdown: per corpus a table of final validation loss, bits per
# byte, next-token accuracy, zero share (log columns at the last step), the
# share of -1/0/+1 over all ternary weights of the packed file, the packed
# file size, median train tokens/s and ms/step (over the logged rows), wall
# time and the median 1-minute load during the run; then the validation
# loss at every evaluation (all for the first seed of SEEDS).  With more
# than one seed, also the final validation loss per seed, its mean and
# range, and each scheme's rank per seed: the spread between seeds says how
# large a difference between schemes has to be to mean anything.
#
# Environment (defaults are the measurement; change only for a smoke test):
#   L1B_BIN    directory of the l1b binaries (default ./build)
#   STEPS      training steps (default 2000)
#   EVAL_EVERY evaluation interval (default 500)
#   SCHEMES    schemes to run (default "absmean twn stochastic sign f32")
#   SEEDS      seeds to train every scheme with (default "1337")
#   BPE_BYTES  bytes of BPE_CORPUS used (default 5000000)
#   KEEP       a directory to copy the logs, checkpoints and packed files to
#   THRU_RUNS  rounds of the throughput part (c) (default 3; 0: skip it)
#   THRU_STEPS steps of each throughput run (default 200)
#   ONLY       'throughput': tokenize and run only part (c)
#
#   (c) throughput: THRU_RUNS rounds of short runs (THRU_STEPS steps), one
#       run at a time, every scheme in turn within a round, on each corpus:
#       tok/s median and range per scheme, and the ratio to absmean.  This,
#       not the tok/s of the two-at-a-time runs, is the speed comparison.
#
# A benchmark reports figures; it asserts nothing.  Corpora are read where
# they are; scratch files live in a mktemp -d directory removed on exit.

set -u -o pipefail
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 CORPUS [BPE_CORPUS]" >&2; exit 2; }
die() { echo "quant-study.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
CORPUS=$1
BPE_CORPUS=${2:-}
BIN=${L1B_BIN:-./build}
STEPS=${STEPS:-2000}
EVAL_EVERY=${EVAL_EVERY:-500}
SCHEMES=${SCHEMES:-absmean twn stochastic sign f32}
SEEDS=${SEEDS:-1337}
BPE_BYTES=${BPE_BYTES:-5000000}
KEEP=${KEEP:-}
THRU_RUNS=${THRU_RUNS:-3}
THRU_STEPS=${THRU_STEPS:-200}
ONLY=${ONLY:-}
TOK=$BIN/l1b-tokenize
TRAIN=$BIN/l1b-train
CKPT=$BIN/l1b-ckpt

for f in "$CORPUS" ${BPE_CORPUS:+"$BPE_CORPUS"}; do
    [ -f "$f" ] && [ -r "$f" ] || die "$f: not a readable file"
done
for p in "$TOK" "$TRAIN" "$CKPT"; do [ -x "$p" ] || die "$p: not found (run make, or set L1B_BIN)"; done
case $ONLY in ''|throughput) ;; *) die "ONLY=$ONLY: only 'throughput' is known" ;; esac
for v in STEPS EVAL_EVERY BPE_BYTES THRU_RUNS THRU_STEPS; do
    case ${!v} in ''|*[!0-9]*) die "$v=${!v}: not a number" ;; esac
done
for S in $SCHEMES; do
    case $S in absmean|twn|stochastic|sign|f32) ;; *) die "SCHEMES: unknown scheme '$S'" ;; esac
done
for R in $SEEDS; do
    case $R in ''|*[!0-9]*) die "SEEDS: '$R' is not a number" ;; esac
done
SEED0=${SEEDS%% *}
NSEEDS=$(echo $SEEDS | wc -w)
[ "$NSEEDS" -ge 1 ] || die "SEEDS is empty"
if [ -n "$KEEP" ]; then mkdir -p "$KEEP" || die "$KEEP: cannot create"; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/quant-study.XXXXXX") || die "mktemp failed"
SAMPLER=
cleanup() {
    if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; fi
    # the queue's runs, if interrupted
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1-minute load average every 15 s: "epoch load1"
( while :; do read -r l1 _ < /proc/loadavg; echo "$(date +%s) $l1"; sleep 15; done ) > "$TMP/load" 2>/dev/null &
SAMPLER=$!


# col FILE NAME : column NAME of the TSV log FILE, data rows only
col() {
    awk -F '\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
                           c { print $c }' "$1"
}


flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -xE 'sse|sse2|ssse3|sse4_1|sse4_2|avx|avx2|fma|avx512f' | tr '\n' ' ')

echo "# quant-study: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) online CPUs; SIMD flags: $flags"
echo "- binaries: \`$BIN\` — $("$TRAIN" -V 2>&1 | head -n 1)"
echo "- load at start: $(loadline)"
echo

# --- tokenize ----------------------------------------------------------------
# tokens FILE.err : the token count l1b-tokenize -v reported
tokens() { sed -n 's/.*bytes -> \([0-9]*\) tokens.*/\1/p' "$1" | tail -n 1; }
# nbatches N : whole 12 x 64 validation batches in the last tenth of N tokens
# (as l1b-train splits: n_val = floor(N * 0.1f), rows = (n_val - 1) / 64)
nbatches() {
    awk -v n="$1" 'BEGIN { v = int(n * 0.100000001490116); r = (v > 64) ? int((v - 1) / 64) : 0
                           print int(r / 12) }'
}

CORPORA=bytes
"$TOK" -v "$CORPUS" -o "$TMP/bytes.tok" 2> "$TMP/bytes.err" ||
    die "l1b-tokenize failed: $(head -n 3 "$TMP/bytes.err")"
N_bytes=$(tokens "$TMP/bytes.err")
NB_bytes=$(nbatches "$N_bytes")
if [ -n "$BPE_CORPUS" ]; then
    head -c "$BPE_BYTES" "$BPE_CORPUS" > "$TMP/bpe.txt" || die "cannot read $BPE_CORPUS"
    "$TOK" -v --bpe --vocab 1024 "$TMP/bpe.txt" -o "$TMP/bpe.tok" 2> "$TMP/bpe.err" ||
        die "l1b-tokenize --bpe failed: $(head -n 3 "$TMP/bpe.err")"
    N_bpe=$(tokens "$TMP/bpe.err")
    NB_bpe=$(nbatches "$N_bpe")
    CORPORA="bytes bpe"
fi

echo "Corpora:"
echo
echo "- bytes: \`$CORPUS\` ($(wc -c < "$CORPUS" | tr -d ' ') bytes) -> $N_bytes byte tokens; $NB_bytes validation batches"
if [ -n "$BPE_CORPUS" ]; then
    echo "- bpe: first $(wc -c < "$TMP/bpe.txt" | tr -d ' ') bytes of \`$BPE_CORPUS\` -> $N_bpe tokens,"
    echo "  vocabulary 1024 ($(awk -v b="$(wc -c < "$TMP/bpe.txt")" -v n="$N_bpe" 'BEGIN { printf "%.3f", b / n }') bytes/token); $NB_bpe validation batches"
fi
echo
SHAPE=(--dim 128 --layers 4 --heads 4 --ctx 64 --batch 12)
SCHED=(--steps "$STEPS" --lr 1e-3 --min-lr 1e-4 --warmup 100 --val-frac 0.1 --eval-every "$EVAL_EVERY")
echo "Commands (DIR = scratch directory, S = scheme, C = bytes or bpe, NB as above, SEED in: $SEEDS):"
echo
echo '```sh'
echo "$TOK -v $CORPUS -o DIR/bytes.tok"
if [ -n "$BPE_CORPUS" ]; then
    echo "head -c $BPE_BYTES $BPE_CORPUS > DIR/bpe.txt"
    echo "$TOK -v --bpe --vocab 1024 DIR/bpe.txt -o DIR/bpe.tok"
fi
echo "$TRAIN -o DIR/C-S-SEED.l1b --quant S ${SHAPE[*]} \\"
echo "  ${SCHED[*]} --eval-batches NB --seed SEED --log DIR/C-S-SEED.tsv -j 1 DIR/C.tok"
echo "$CKPT convert --pack DIR/C-S-$SEED0.l1b DIR/C-S-$SEED0.l1bi"
echo "$CKPT info --json DIR/C-S-$SEED0.l1bi"
echo '```'
echo

if [ "$ONLY" != throughput ]; then
# --- the training queue, two at a time --------------------------------------
run_one() {  # run_one C S SEED
    local C=$1 S=$2 R=$3 nb P
    nb=NB_$C
    P=$TMP/$C-$S-$R
    date +%s > "$P.start"
    "$TRAIN" -q -o "$P.l1b" --quant "$S" "${SHAPE[@]}" "${SCHED[@]}" \
        --eval-batches "${!nb}" --seed "$R" --log "$P.tsv" -j 1 "$TMP/$C.tok" 2> "$P.err"
    echo $? > "$P.rc"
    date +%s > "$P.end"
    # only the first seed's checkpoints are packed and reported in full
    [ "$R" = "$SEED0" ] || rm -f "$P.l1b"
}

QUEUE=()
for R in $SEEDS; do for C in $CORPORA; do for S in $SCHEMES; do QUEUE+=("$C $S $R"); done; done; done
running=0
for item in "${QUEUE[@]}"; do
    if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
    echo "training $item (corpus scheme seed; $STEPS steps) ... [$(loadline)]" >&2
    # shellcheck disable=SC2086
    run_one $item &
    running=$((running + 1))
done
for p in $(jobs -p); do [ "$p" = "$SAMPLER" ] || wait "$p"; done
echo "- load after the runs: $(loadline)"
echo

# --- results -------------------------------------------------------------
# ternary_shares FILE.json : "minus zero plus" over all ternary weights
ternary_shares() {
    awk '/"ternary": true/ {
            match($0, /"shape": \[[0-9]+, [0-9]+\]/); s = substr($0, RSTART + 10, RLENGTH - 11)
            split(s, d, ", "); n = d[1] * d[2]
            for (k = 0; k < 3; k++) {
                key = (k == 0) ? "minus" : (k == 1) ? "zero" : "plus"
                if (match($0, "\"" key "\": [0-9.]+")) {
                    v = substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 4); sum[k] += v * n
                }
            }
            tot += n }
         END { if (tot) printf "%.3f %.3f %.3f\n", sum[0] / tot, sum[1] / tot, sum[2] / tot
               else print "- - -" }' "$1"
}

for C in $CORPORA; do
    if [ "$C" = bytes ]; then
        echo "## (a) \`$(basename "$CORPUS")\`, byte tokens"
    else
        echo "## (b) first $BPE_BYTES bytes of \`$(basename "$BPE_CORPUS")\`, BPE vocabulary 1024"
    fi
    echo
    echo "Seed $SEED0:"
    echo
    echo "| scheme | val loss | bits/byte | accuracy | zero share | -1 / 0 / +1 (packed) | packed bytes | train tok/s (median) | ms/step (median) | wall s | load (median) |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    for S in $SCHEMES; do
        P=$TMP/$C-$S-$SEED0
        if [ "$(cat "$P.rc" 2>/dev/null)" != 0 ]; then
            echo "| $S | failed: $(grep -v '^$' "$P.err" 2>/dev/null | tail -n 1) | | | | | | | | | |"
            continue
        fi
        L=$P.tsv
        vl=$(col "$L" val_loss | tail -n 1)
        bpb=$(col "$L" val_bpb | tail -n 1)
        acc=$(col "$L" val_acc | tail -n 1)
        zs=$(col "$L" zero_share | tail -n 1)
        read -r tps _ _ < <(col "$L" tok_per_s | median_range)
        read -r mss _ _ < <(col "$L" ms_per_step | median_range)
        if "$CKPT" convert --pack "$P.l1b" "$P.l1bi" 2> "$P.cerr"; then
            size=$(wc -c < "$P.l1bi" | tr -d ' ')
            "$CKPT" info --json "$P.l1bi" > "$P.json" 2>> "$P.cerr"
            read -r sm sz sp < <(ternary_shares "$P.json")
            shares="$sm / $sz / $sp"
            [ "$S" = f32 ] && shares="(float)"
        else
            size="failed: $(tail -n 1 "$P.cerr")"; shares=
        fi
        t0=$(cat "$P.start"); t1=$(cat "$P.end")
        read -r lm _ _ < <(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 <= b { print $2 }' "$TMP/load" | median_range)
        [ "$lm" = nan ] && lm=-
        printf '| %s | %.4f | %.4f | %.4f | %.3f | %s | %s | %.0f | %.1f | %d | %s |\n' \
            "$S" "$vl" "$bpb" "$acc" "$zs" "$shares" "$size" "$tps" "$mss" "$((t1 - t0))" "$lm"
        if [ -n "$KEEP" ]; then cp "$P.tsv" "$P.l1b" "$P.l1bi" "$P.json" "$KEEP/" 2>/dev/null; fi
    done
    echo
    # validation loss at every evaluation
    first=
    for S in $SCHEMES; do [ -f "$TMP/$C-$S-$SEED0.tsv" ] && { first=$TMP/$C-$S-$SEED0.tsv; break; }; done
    if [ -n "$first" ]; then
        printf '| val loss at step (seed %s) |' "$SEED0"; col "$first" step | awk '{ printf " %s |", $1 }'; echo
        printf '|---|'; col "$first" step | sed 's/.*/---:|/' | tr -d '\n'; echo
        for S in $SCHEMES; do
            [ -f "$TMP/$C-$S-$SEED0.tsv" ] || continue
            printf '| %s |' "$S"; col "$TMP/$C-$S-$SEED0.tsv" val_loss | awk '{ printf " %.4f |", $1 }'; echo
        done
        echo
    fi
    # final validation loss per seed: value, mean, range, rank per seed
    if [ "$NSEEDS" -gt 1 ]; then
        for R in $SEEDS; do
            for S in $SCHEMES; do
                v=nan
                [ "$(cat "$TMP/$C-$S-$R.rc" 2>/dev/null)" = 0 ] && v=$(col "$TMP/$C-$S-$R.tsv" val_loss | tail -n 1)
                echo "$R $S $v"
            done
        done > "$TMP/$C.final"
        # rank of each (seed, scheme) among the schemes of that seed
        sort -k1,1 -k3,3g "$TMP/$C.final" |
            awk '$1 != r { r = $1; k = 0 } { k++; print $1, $2, k }' > "$TMP/$C.rank"
        printf '| final val loss |'; for R in $SEEDS; do printf ' seed %s |' "$R"; done
        printf ' mean | range (max-min) | mean bits/byte | ranks | minus absmean, per seed |\n'
        printf '|---|'; for R in $SEEDS; do printf -- '---:|'; done; printf -- '---:|---:|---:|---|---|\n'
        for S in $SCHEMES; do
            printf '| %s |' "$S"
            for R in $SEEDS; do awk -v r="$R" -v s="$S" '$1 == r && $2 == s { printf " %.4f |", $3 }' "$TMP/$C.final"; done
            awk -v s="$S" '$2 == s { n++; t += $3; if (n == 1 || $3 < lo) lo = $3; if (n == 1 || $3 > hi) hi = $3 }
                END { printf " %.4f | %.4f |", t / n, hi - lo }' "$TMP/$C.final"
            for R in $SEEDS; do
                [ -f "$TMP/$C-$S-$R.tsv" ] && col "$TMP/$C-$S-$R.tsv" val_bpb | tail -n 1
            done | awk '{ n++; t += $1 } END { printf " %.4f |", n ? t / n : 0 }'
            for R in $SEEDS; do awk -v r="$R" -v s="$S" '$1 == r && $2 == s { printf " %s", $3 }' "$TMP/$C.rank"; done
            printf ' |'
            for R in $SEEDS; do
                awk -v r="$R" -v s="$S" '$1 == r && $2 == s { v = $3 } $1 == r && $2 == "absmean" { a = $3 }
                    END { if (a != "") printf " %+.4f", v - a; else printf " -" }' "$TMP/$C.final"
            done
            echo " |"
        done
        echo
        echo "- ranks: the scheme's place among the schemes (1 = lowest val loss) for each seed, in the order of SEEDS."
        echo "- minus absmean: the scheme's final val loss minus absmean's with the same seed (same initial"
        echo "  weights and batches), per seed in the order of SEEDS; negative = better than absmean."
        echo
    fi
    # anything l1b-train said that was not progress
    for R in $SEEDS; do
        for S in $SCHEMES; do
            [ -s "$TMP/$C-$S-$R.err" ] && sed "s/^/- $C $S seed $R stderr: /" "$TMP/$C-$S-$R.err"
        done
    done
done

echo "- val loss, bits/byte, accuracy, zero share: the logged row of the last step (whole held-out tenth)."
echo "- -1 / 0 / +1: shares over all ternary weights of the packed file (l1b-ckpt info --json),"
echo "  weighted by tensor size; the weights inference uses (stochastic: deterministic rounding)."
echo "- packed bytes: size of the l1b-ckpt convert --pack output (f32: the float inference file)."
echo "- tok/s and ms/step: median over the logged rows (training time only, evaluations excluded);"
echo "  two runs in parallel on a shared 2-core machine: indicative only."
echo "- load: median of the 1-minute load average, sampled every 15 s during the run."
fi  # ONLY != throughput

# --- (c) throughput, one run at a time --------------------------------------
# THRU_RUNS rounds; in each round every scheme once, in turn, on each corpus:
#   l1b-train -o DIR/t.l1b --quant S SHAPE --steps THRU_STEPS --eval-every THRU_STEPS
#     --eval-batches 1 --log DIR/t.tsv -j 1 DIR/C.tok
# tok/s as logged at the last step (training time over all its steps,
# evaluation excluded); median and range over the rounds.
if [ "$THRU_RUNS" -gt 0 ]; then
    echo "## (c) training throughput, one run at a time, 1 thread"
    echo
    echo "$THRU_RUNS rounds; in each, every scheme once in turn (corpus by corpus):"
    echo
    echo '```sh'
    echo "$TRAIN -o DIR/t.l1b --quant S ${SHAPE[*]} --steps $THRU_STEPS \\"
    echo "  --eval-every $THRU_STEPS --eval-batches 1 --log DIR/t.tsv -j 1 DIR/C.tok"
    echo '```'
    echo
    echo "- load before: $(loadline)"
    for C in $CORPORA; do
        for S in $SCHEMES; do : > "$TMP/thru-$C-$S"; done
        i=1
        while [ "$i" -le "$THRU_RUNS" ]; do
            for S in $SCHEMES; do
                echo "throughput $C $S round $i/$THRU_RUNS ..." >&2
                rm -f "$TMP/t.l1b" "$TMP/t.tsv"
                if "$TRAIN" -q -o "$TMP/t.l1b" --quant "$S" "${SHAPE[@]}" --steps "$THRU_STEPS" \
                    --eval-every "$THRU_STEPS" --eval-batches 1 --log "$TMP/t.tsv" -j 1 "$TMP/$C.tok" 2> "$TMP/t.err"; then
                    col "$TMP/t.tsv" tok_per_s | tail -n 1 >> "$TMP/thru-$C-$S"
                else
                    echo "- throughput $C $S round $i failed: $(tail -n 1 "$TMP/t.err")"
                fi
            done
            i=$((i + 1))
        done
    done
    echo "- load after: $(loadline)"
    echo
    printf '| scheme |'; for C in $CORPORA; do printf ' %s: tok/s median (min–max) | %s: vs absmean |' "$C" "$C"; done; echo
    printf '|---|'; for C in $CORPORA; do printf -- '---:|---:|'; done; echo
    for S in $SCHEMES; do
        printf '| %s |' "$S"
        for C in $CORPORA; do
            read -r m lo hi < <(median_range < "$TMP/thru-$C-$S")
            read -r a _ _ < <(median_range < "$TMP/thru-$C-absmean" 2>/dev/null || echo nan)
            printf ' %.0f (%.0f–%.0f) | %s |' "$m" "$lo" "$hi" \
                "$(awk -v m="$m" -v a="${a:-nan}" 'BEGIN { if (a + 0 > 0) printf "%.2fx", m / a; else printf "-" }')"
        done
        echo
    done
    echo
fi

echo "- load at end: $(loadline)"
