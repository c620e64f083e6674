# Shared by golden.bats and crossendian.bats: the CLI tests' set-up
# (L1B_BIN first on PATH, a temp dir per test) and the fixtures' settings.
load ../cli/helper

G=$BATS_TEST_DIRNAME
E=$G/expected
. "$G/golden.conf"

# same_figures EXPECTED ACTUAL: the same lines, word for word, except that
# a number with decimals may differ by one unit of its last printed digit
# (integers, such as counts, are exact). Scores are
# sums of thousands of logs: another FPU moves them by about 1e-7, which
# flips the rounding of a figure that sits on a boundary (seen: the x87 of
# an i686 build printed loss 1.9482 for 1.9483). A byte-order mistake moves
# them by far more.
same_figures() {
    awk '
        function tol(s) { if (s !~ /\./) return 0; sub(/^[^.]*\./, "", s); return 1.5 * 10 ^ -length(s) }
        NR == FNR { want[FNR] = $0; n = FNR; next }
        {
            got = FNR
            if (FNR > n) { print "extra line: " $0; bad = 1; next }
            k = split(want[FNR], w, " ")
            if (k != NF) { print "want: " want[FNR] "\ngot:  " $0; bad = 1; next }
            for (i = 1; i <= NF; i++) {
                num = w[i] ~ /^-?[0-9]+(\.[0-9]+)?$/ && $i ~ /^-?[0-9]+(\.[0-9]+)?$/
                d = w[i] - $i
                if (num ? (d > tol(w[i]) || -d > tol(w[i])) : w[i] != $i) {
                    print "want: " want[FNR] "\ngot:  " $0
                    bad = 1
                    break
                }
            }
        }
        END { if (got != n) { print "got " got " lines, want " n; bad = 1 } exit bad }
    ' "$1" "$2"
}
