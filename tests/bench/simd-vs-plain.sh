#!/bin/sh
# What SIMD buys, end to end: the same training-step and decoding workload
# from a build without any SIMD code (make SIMD=0) and from the normal build,
# side by side with the ratio. Run from the top of the tree: make bench.
# Options are passed to l1b-bench (e.g. --quick, -j 2, --shape ...).
set -eu
make -s BUILD=build-nosimd SIMD=0 all
make -s all
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(uptime | sed 's/.*load average: //')"
# alternate the two builds (plain, simd, plain, simd) and keep each one's
# second run, so both see the machine in the same state
for run in 1 2; do
    build-nosimd/l1b-bench train sample --format tsv "$@" > "$tmp/plain.tsv"
    build/l1b-bench train sample --format tsv "$@" > "$tmp/simd.tsv"
done
awk -F'\t' '
    NR == FNR { if (FNR > 1) plain[$1 FS $2] = $5; next }
    FNR == 1 { printf "%-18s %-26s %14s %14s %8s\n", "bench", "shape", "plain C", "SIMD (" "", "ratio"; next }
    {
        key = $1 FS $2
        if ($6 == "MB") next
        p = plain[key]; s = $5
        printf "%-18s %-26s %11.4g %-2s %11.4g %-2s %7.2fx\n", $1, $2, p, $6, s, $6, (s > 0 ? p / s : 0)
    }' "$tmp/plain.tsv" "$tmp/simd.tsv" | sed "1s/SIMD ( /SIMD ($(build/l1b-bench --version | sed 's/.*simd \([a-z0-9]*\).*/\1/'))/"
