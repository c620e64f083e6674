#!/bin/sh
# shellcheck disable=SC2046   # set -- $(median_spread ...) splits numbers on purpose
# sample-memory.sh — the whole memory of an l1b-sample process (peak RSS)
# on inference files of the sampling issue's two larger shapes, with the
# ternary weights packed 2 bits and 1.6 bits each, built as usual and
# (optionally) linked statically.
#
# usage: tests/bench/sample-memory.sh CORPUS [L1B_BIN_DIR [STATIC_BIN_DIR]]
#
# CORPUS is any text (e.g. ../shared/data/tinyshakespeare.txt): it gives the
# BPE vocabularies (512 and 4096 tokens) and one training step, so that the
# models are real l1b files; what they say does not matter here.
# L1B_BIN_DIR holds the programs (default ./build); STATIC_BIN_DIR, if
# given, the same built with  make BUILD=DIR LDFLAGS=-static.
#
# For each shape (context 256)
#   d288 L6  h6  H768  V512
#   d768 L12 h12 H2048 V4096
# l1b-train runs one step (batch 1) and l1b-ckpt convert --pack --bits 2
# and --bits 1.6 write the inference files; then RUNS times (default 5)
#
#   /usr/bin/time -f %M l1b-sample -m MODEL -n 256 --greedy -j 1 -i "ROMEO:" -v
#
# giving the peak RSS of the whole process (program, C library, model, KV
# cache, buffers) and, from -v, the model's own weights and cache. The
# prompt and 256 new tokens fill the context, so the whole KV cache is
# touched (one slide of the window). Also: the peak RSS of
# l1b-sample --version, the program and C library alone.
#
# Output: a markdown table of medians; MB = 10^6 bytes (RSS from GNU time's
# KiB x 1024). A benchmark reports figures; it asserts nothing.
#
# Environment:
#   RUNS      runs per model and build (default 5)
#   KEEP_TMP  set to keep the scratch directory

set -u
. "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 CORPUS [L1B_BIN_DIR [STATIC_BIN_DIR]]" >&2; exit 2; }
die() { echo "sample-memory.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
CORPUS=$1
BIN=${2:-./build}
SBIN=${3:-}
RUNS=${RUNS:-5}
TIME=/usr/bin/time

[ -r "$CORPUS" ] || die "$CORPUS: cannot read"
for p in l1b-tokenize l1b-train l1b-ckpt l1b-sample; do
    [ -x "$BIN/$p" ] || die "$BIN/$p: not found (run make, or give L1B_BIN_DIR)"
done
[ -z "$SBIN" ] || [ -x "$SBIN/l1b-sample" ] || die "$SBIN/l1b-sample: not found"
[ -x "$TIME" ] || die "$TIME: not found (Debian package time)"

scratch_dir sample-memory

# rss_mb FILE: the median of the KiB figures in FILE, in MB
rss_mb() { set -- $(median_spread "$1"); awk -v k="$1" 'BEGIN { printf "%.2f", k * 1024 / 1e6 }'; }

# measure PROGRAM MODEL TAG: RUNS peak RSS figures into $TMP/TAG.rss, the
# model's weights + cache (MB, from -v) into $TMP/TAG.mem
measure() {
    : > "$TMP/$3.rss"
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        "$TIME" -f '%M' -o "$TMP/rss" "$1" -m "$2" -n 256 --greedy -j 1 -i "ROMEO:" -v \
            > /dev/null 2> "$TMP/err" || die "l1b-sample failed: $(cat "$TMP/err")"
        tail -n 1 "$TMP/rss" >> "$TMP/$3.rss"
    done
    sed -n 's/.*(weights \([0-9.]*\) MB, cache \([0-9.]*\) MB).*/\1 \2/p' "$TMP/err" |
        awk '{ printf "%.2f", $1 + $2 }' > "$TMP/$3.mem"
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "l1b: $("$BIN/l1b-sample" --version 2>&1 | head -1)"
echo "start: $(uptime)"

for b in "$BIN" $SBIN; do
    : > "$TMP/version.rss"
    for i in 1 2 3; do "$TIME" -f '%M' -o "$TMP/rss" "$b/l1b-sample" --version > /dev/null; tail -n 1 "$TMP/rss" >> "$TMP/version.rss"; done
    echo "l1b-sample --version peak RSS ($b): $(rss_mb "$TMP/version.rss") MB"
done

for shape in "288 6 6 768 512" "768 12 12 2048 4096"; do
    set -- $shape
    D=$1 L=$2 NH=$3 H=$4 V=$5
    tag=d$D
    "$BIN/l1b-tokenize" -q --bpe --vocab "$V" -o "$TMP/$tag.tok" "$CORPUS" || die "l1b-tokenize failed"
    "$BIN/l1b-train" -q -o "$TMP/$tag.l1b" --dim "$D" --layers "$L" --heads "$NH" --hidden "$H" --ctx 256 \
        --batch 1 --steps 1 --eval-batches 1 "$TMP/$tag.tok" || die "l1b-train failed"
    for bits in 2 1.6; do
        "$BIN/l1b-ckpt" convert --pack --bits "$bits" "$TMP/$tag.l1b" "$TMP/$tag-$bits.l1bi" || die "convert failed"
        measure "$BIN/l1b-sample" "$TMP/$tag-$bits.l1bi" "$tag-$bits-dyn"
        s="-"
        if [ -n "$SBIN" ]; then
            measure "$SBIN/l1b-sample" "$TMP/$tag-$bits.l1bi" "$tag-$bits-static"
            s="$(rss_mb "$TMP/$tag-$bits-static.rss") MB"
        fi
        printf '| d%s L%s h%s H%s V%s | %s | %s MB | %s MB | %s MB | %s |\n' "$D" "$L" "$NH" "$H" "$V" "$bits" \
            "$(wc -c < "$TMP/$tag-$bits.l1bi" | awk '{ printf "%.2f", $1 / 1e6 }')" \
            "$(cat "$TMP/$tag-$bits-dyn.mem")" "$(rss_mb "$TMP/$tag-$bits-dyn.rss")" "$s" >> "$TMP/results"
    done
    rm -f "$TMP/$tag.l1b"   # the checkpoint (1.1 GB at d768) is not needed any more
done
echo "end:   $(uptime)"
echo
echo "| shape (T256) | bits | file | weights + cache | l1b-sample peak RSS | static build |"
echo "|---|---:|---:|---:|---:|---:|"
cat "$TMP/results"
echo
echo "medians of $RUNS runs; MB = 10^6 bytes"
