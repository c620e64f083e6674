#!/bin/sh
# shellcheck disable=SC2046   # set -- $(stats ...) splits three numbers on purpose
# tokenize-vs-spm.sh — benchmark l1b-tokenize against sentencepiece (BPE).
#
# usage: tests/bench/tokenize-vs-spm.sh CORPUS [VOCAB...]     (default vocabs: 512 1024 4096)
#
# For every vocabulary size, side by side in one run and alternating the two
# tools (A B A B ...), RUNS times each, under /usr/bin/time -f '%e %M':
#
#   l1b  learn+encode  l1b-tokenize --bpe --vocab V CORPUS -o OUT
#        encode        l1b-tokenize --tokenizer OUT CORPUS -o OUT2
#   spm  learn         spm_train --input=CORPUS --model_type=bpe ... (lossless settings)
#        encode        spm_encode --model=P.model --output_format=id < CORPUS > IDS
#        learn+encode  = spm_train + spm_encode of the same run
#
# and prints a markdown table: medians with min–max spread, peak RSS of the
# learn step (for spm the larger of spm_train and spm_encode), encode
# throughput (corpus bytes / median encode seconds), bytes per token and the
# l1b/spm ratios.  Token counts include newlines on both sides: l1b keeps a
# newline as a token; spm drops the newline between lines, so spm's count is
# (number of ids) + (number of newlines in CORPUS).  Each tool's output is
# decoded once (untimed) and compared with CORPUS ("lossless" column).
#
# Environment:
#   L1B_TOKENIZE   l1b-tokenize binary (default ./build/l1b-tokenize)
#   RUNS           runs per tool and vocabulary (default 3)
#   SPM_COVERAGE   spm_train --character_coverage (default 1.0)
#   SPM_THREADS    spm_train --num_threads (default 2; l1b-tokenize is single-threaded)
#
# Units: s = wall seconds (GNU time %e, truncated to 10 ms); MB/s = 10^6 bytes/s;
# RSS in MiB (GNU time %M KiB / 1024).  A benchmark reports figures; it asserts
# nothing.  Scratch files live in a mktemp -d directory removed on exit.

set -u

usage() { echo "usage: $0 CORPUS [VOCAB...]" >&2; exit 2; }
die() { echo "tokenize-vs-spm.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
CORPUS=$1; shift
if [ ! -f "$CORPUS" ] || [ ! -r "$CORPUS" ]; then die "$CORPUS: not a readable file"; fi
[ $# -gt 0 ] || set -- 512 1024 4096

L1B=${L1B_TOKENIZE:-./build/l1b-tokenize}
RUNS=${RUNS:-3}
COV=${SPM_COVERAGE:-1.0}
THREADS=${SPM_THREADS:-2}
TIME=/usr/bin/time

[ -x "$L1B" ] || die "$L1B: not found (run make, or set L1B_TOKENIZE)"
[ -x "$TIME" ] || die "$TIME: not found (Debian package time)"
command -v spm_train >/dev/null 2>&1 || die "spm_train: not found (Debian package sentencepiece)"
command -v spm_encode >/dev/null 2>&1 || die "spm_encode: not found"
command -v spm_decode >/dev/null 2>&1 || die "spm_decode: not found"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokenize-vs-spm.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

BYTES=$(wc -c < "$CORPUS" | tr -d ' ')
NEWLINES=$(wc -l < "$CORPUS" | tr -d ' ')

VOCABS=$*

# timed FILE CMD... : run CMD under GNU time, append "secs rss_kb" to FILE.
# Returns CMD's exit status.
timed() {
    _out=$1; shift
    "$TIME" -f '%e %M' -o "$TMP/time" "$@"
    _rc=$?
    tail -n 1 "$TMP/time" >> "$_out"
    return $_rc
}

# stats FILE COLUMN : "median min max" of a column of numbers.
stats() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END { if (NR == 0) { print "nan nan nan"; exit }
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}

# --- header --------------------------------------------------------------
echo "# tokenize-vs-spm: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- corpus: \`$CORPUS\` ($BYTES bytes, $NEWLINES newlines); vocabs: $VOCABS; runs: $RUNS each, alternating l1b/spm"
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc) online CPUs"
echo "- load at start: $(uptime | sed 's/.*load average/load average/')"
echo "- l1b: \`$L1B\` — $("$L1B" -V 2>&1 | head -n 1)"
echo "- sentencepiece: $(spm_train --version 2>&1 | head -n 1), spm_train --num_threads=$THREADS, --character_coverage=$COV; l1b-tokenize is single-threaded"
echo
echo "Commands (V = vocab size; P, OUT, OUT2, IDS in a scratch directory):"
echo
echo '```sh'
echo "$L1B --bpe --vocab V $CORPUS -o OUT            # l1b learn+encode"
echo "$L1B --tokenizer OUT $CORPUS -o OUT2           # l1b encode"
echo "$L1B --ids --tokenizer OUT $CORPUS | wc -w     # l1b tokens (untimed)"
echo "spm_train --input=$CORPUS --model_prefix=P --vocab_size=V --model_type=bpe \\"
echo "  --normalization_rule_name=identity --remove_extra_whitespaces=false --byte_fallback=true \\"
echo "  --character_coverage=$COV --split_digits=false --max_sentence_length=100000 \\"
echo "  --input_sentence_size=0 --train_extremely_large_corpus=false --num_threads=$THREADS"
echo "spm_encode --model=P.model --output_format=id < $CORPUS > IDS   # spm encode"
echo "# spm tokens = \$(wc -w < IDS) + \$(wc -l < $CORPUS)   (untimed)"
echo '```'
echo

# Warm the page cache so the first timed run does not pay for the disk.
cat "$CORPUS" > /dev/null

ROWS=$TMP/rows
GOALS=$TMP/goals
: > "$ROWS"; : > "$GOALS"

for V in $VOCABS; do
    case $V in *[!0-9]*) die "vocab '$V': not a number" ;; esac
    D=$TMP/v$V; mkdir -p "$D"
    : > "$D/l1b_learn"; : > "$D/l1b_enc"; : > "$D/spm_train"; : > "$D/spm_enc"
    l1b_ok=1; spm_ok=1; spm_err=
    # spm_train's arguments (positional parameters, so paths may hold spaces)
    set -- --input="$CORPUS" --model_prefix="$D/P" --vocab_size="$V" \
        --model_type=bpe --normalization_rule_name=identity \
        --remove_extra_whitespaces=false --byte_fallback=true \
        --character_coverage="$COV" --split_digits=false \
        --max_sentence_length=100000 --input_sentence_size=0 \
        --train_extremely_large_corpus=false --num_threads="$THREADS"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        echo "vocab $V run $i/$RUNS ..." >&2
        if [ $l1b_ok = 1 ]; then
            timed "$D/l1b_learn" "$L1B" --bpe --vocab "$V" "$CORPUS" -o "$D/out" \
                2> "$D/l1b.err" || { l1b_ok=0; }
        fi
        if [ $spm_ok = 1 ]; then
            timed "$D/spm_train" spm_train "$@" > "$D/spm_train.log" 2>&1 || {
                spm_ok=0
                spm_err=$(grep -v 'LOG(' "$D/spm_train.log" | grep -m1 -E 'Internal|rror|\[' |
                          sed 's/.*\] //' | cut -c1-160)
            }
        fi
        if [ $l1b_ok = 1 ]; then
            timed "$D/l1b_enc" "$L1B" --tokenizer "$D/out" "$CORPUS" -o "$D/out2" \
                2>> "$D/l1b.err" || l1b_ok=0
        fi
        if [ $spm_ok = 1 ]; then
            timed "$D/spm_enc" spm_encode --model="$D/P.model" --output_format=id \
                < "$CORPUS" > "$D/ids" 2>> "$D/spm_enc.err" || { spm_ok=0; spm_err="spm_encode failed"; }
        fi
        i=$((i + 1))
    done

    # --- untimed: token counts and round trips ---------------------------
    # (stats prints three numbers; set -- $(stats ...) splits them on purpose)
    if [ $l1b_ok = 1 ]; then
        l1b_tok=$("$L1B" --ids --tokenizer "$D/out" "$CORPUS" | wc -w | tr -d ' ')
        if "$L1B" --decode "$D/out2" | cmp -s - "$CORPUS"; then l1b_rt=yes; else l1b_rt=NO; fi
        set -- $(stats "$D/l1b_learn" 1); l_lm=$1 l_lmin=$2 l_lmax=$3
        set -- $(stats "$D/l1b_learn" 2); l_rss=$1
        set -- $(stats "$D/l1b_enc" 1);   l_em=$1 l_emin=$2 l_emax=$3
    fi
    if [ $spm_ok = 1 ]; then
        spm_ids=$(wc -w < "$D/ids" | tr -d ' ')
        spm_tok=$((spm_ids + NEWLINES))
        if spm_decode --model="$D/P.model" --input_format=id < "$D/ids" 2>/dev/null |
            cmp -s - "$CORPUS"; then spm_rt=yes; else spm_rt=NO; fi
        paste -d ' ' "$D/spm_train" "$D/spm_enc" |
            awk '{ print $1 + $3, ($2 > $4 ? $2 : $4), $2, $4 }' > "$D/spm_sum"
        set -- $(stats "$D/spm_sum" 1);   s_lm=$1 s_lmin=$2 s_lmax=$3
        set -- $(stats "$D/spm_sum" 2);   s_rss=$1
        set -- $(stats "$D/spm_sum" 3);   s_trss=$1
        set -- $(stats "$D/spm_train" 1); s_tm=$1
        set -- $(stats "$D/spm_enc" 1);   s_em=$1 s_emin=$2 s_emax=$3
    fi

    # %e truncates to 10 ms: a 0.00 is shown as "<0.01" and
    # rates/ratios derived from them as lower bounds (">").
    if [ $l1b_ok = 1 ]; then
        awk -v V="$V" -v B="$BYTES" -v lm="$l_lm" -v lmin="$l_lmin" -v lmax="$l_lmax" \
            -v rss="$l_rss" -v em="$l_em" -v emin="$l_emin" -v emax="$l_emax" \
            -v tok="$l1b_tok" -v rt="$l1b_rt" 'BEGIN {
            lt = (lm > 0) ? sprintf("%.2f", lm) : "<0.01"
            et = (em > 0) ? sprintf("%.2f", em) : "<0.01"
            mbs = (em > 0) ? sprintf("%.1f", B / em / 1e6) : sprintf(">%.1f", B / 0.01 / 1e6)
            printf "| %s | l1b | %s (%.2f–%.2f) | %.1f | %s (%.2f–%.2f) | %s | %.3f | %s |\n",
                V, lt, lmin, lmax, rss / 1024, et, emin, emax, mbs, B / tok, rt }' >> "$ROWS"
    else
        echo "| $V | l1b | failed: $(head -n 1 "$D/l1b.err") | | | | | |" >> "$ROWS"
    fi
    if [ $spm_ok = 1 ]; then
        awk -v V="$V" -v B="$BYTES" -v lm="$s_lm" -v lmin="$s_lmin" -v lmax="$s_lmax" \
            -v rss="$s_rss" -v trss="$s_trss" -v tm="$s_tm" -v em="$s_em" -v emin="$s_emin" \
            -v emax="$s_emax" -v tok="$spm_tok" -v rt="$spm_rt" 'BEGIN {
            printf "| %s | spm | %.2f (%.2f–%.2f) [train %.2f] | %.1f [train %.1f] | %.2f (%.2f–%.2f) | %.1f | %.3f | %s |\n",
                V, lm, lmin, lmax, tm, rss / 1024, trss / 1024, em, emin, emax, B / em / 1e6, B / tok, rt }' >> "$ROWS"
    else
        echo "| $V | spm | rejected: $spm_err | | | | | |" >> "$ROWS"
    fi
    if [ $l1b_ok = 1 ] && [ $spm_ok = 1 ]; then
        # Ratios of medians: speed-up = spm time / l1b time; RSS = l1b / spm
        # (learn-step peaks); encode = l1b MB/s / spm MB/s; bytes/token = l1b / spm.
        awk -v V="$V" -v ll="$l_lm" -v sl="$s_lm" -v lr="$l_rss" -v sr="$s_rss" -v str="$s_trss" \
            -v le="$l_em" -v se="$s_em" -v lt="$l1b_tok" -v stk="$spm_tok" 'BEGIN {
            lo = (ll > 0) ? "" : ">"; if (ll <= 0) ll = 0.01
            eo = (le > 0) ? "" : ">"; if (le <= 0) le = 0.01
            sp = sl / ll; rr = lr / sr; rt = lr / str; er = se / le; bt = stk / lt
            printf "| %s | **l1b vs spm** | %s%.1fx faster | %.3fx (%.3fx of spm_train) | | %s%.1fx | %.3fx | |\n",
                V, lo, sp, rr, rt, eo, er, bt
            printf "| %s | %s%.1fx (goal >= 5x): %s | %.3fx (goal <= 0.25x): %s | %s%.1fx (goal >= 20x): %s | %.3fx (goal >= 1x): %s |\n",
                V, lo, sp, (sp >= 5 ? "met" : "missed"), rt, (rt <= 0.25 ? "met" : "missed"),
                eo, er, (er >= 20 ? "met" : "missed"), bt, (bt >= 1 ? "met" : "missed") }' > "$D/ratio"
        head -n 1 "$D/ratio" >> "$ROWS"
        tail -n 1 "$D/ratio" >> "$GOALS"
    fi
done

echo "| vocab | tool | learn+encode s: median (min–max) | peak RSS MiB (learn) | encode s: median (min–max) | encode MB/s | bytes/token | lossless |"
echo "|---:|---|---|---:|---|---:|---:|---|"
cat "$ROWS"
echo
if [ -s "$GOALS" ]; then
    echo "Goals (issue; they apply to the 100 MB corpus): learn+encode speed-up, l1b learn RSS / spm_train RSS, encode throughput ratio, bytes/token ratio"
    echo
    echo "| vocab | learn+encode speed-up | RSS vs spm_train | encode throughput | bytes/token |"
    echo "|---:|---|---|---|---|"
    cat "$GOALS"
    echo
fi
echo "- spm learn+encode = spm_train + spm_encode per run; [train] = spm_train alone (median)."
echo "- peak RSS: median over runs; spm's is the larger of spm_train and spm_encode, [train] is spm_train's."
echo "- tokens: l1b from --ids | wc -w (newlines are tokens); spm = ids + $NEWLINES newlines of the corpus."
echo "- times are GNU time %e, which truncates to 10 ms (a 17 ms run shows 0.01): sub-0.1 s figures overstate"
echo "  speed by up to 10 ms per run, and ratios built on them are coarse; use hyperfine for small corpora."
echo "- load at end: $(uptime | sed 's/.*load average/load average/')"
