# common.sh — helpers the benchmark scripts share; sourced, not run.

# median_spread FILE: the median of the numbers in FILE (one per line) and
# their spread (max - min) / median; "nan nan" for an empty file
median_spread() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan nan"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.6g %.6g\n", m, (m > 0 ? (v[NR] - v[1]) / m : 0) }'
}

# median_range: the median, minimum and maximum of the numbers on stdin
median_range() {
    sort -g | awk '
        { v[NR] = $1 }
        END { if (NR == 0) { print "nan nan nan"; exit }
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              print m, v[1], v[NR] }'
}

# loadline: the load averages, as uptime prints them
loadline() { uptime | sed 's/.*load average/load average/'; }

# scratch_dir NAME: TMP becomes a fresh directory under $TMPDIR, removed on
# exit unless KEEP_TMP is set (then its path goes to stderr); an interrupt
# exits 130, through the removal. The caller defines die.
scratch_dir() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || die "mktemp failed"
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "scratch: $TMP" >&2
    else
        trap 'rm -rf "$TMP"' EXIT
    fi
    trap 'exit 130' INT TERM
}
