#!/usr/bin/env bats
# What l1b-train shows on a terminal (man l1b-train, PROGRESS): the status
# line fits the width, metric lines wrap between fields, TERM=dumb gets
# plain lines, a log gets no status line. script(1) gives the programs a
# terminal of the size stty sets; -onlcr keeps its newlines as written.
load helper

# on_tty COLUMNS TERM COMMAND: COMMAND's output on a terminal
on_tty() {
    local cols=$1 term=$2
    shift 2
    timeout 60 script -qec "stty cols $cols -onlcr; TERM=$term $*" /dev/null
}

# segments: each piece of output between \r and \n, ESC [K removed
segments() {
    perl -ne 'for (split /\r/) { s/\e\[K//g; s/\n\z//; print "$_\n" if length }' "$@"
}

setup_file() {
    command -v script > /dev/null || skip "no script(1)"
}

@test "at 80 columns no status or metric line is wider than 79; ETA follows --time" {
    tiny_corpus
    on_tty 80 xterm l1b-train -o m.l1b $TINY --steps 100000 --time 2s --eval-every 500 tiny.tok > out.txt
    grep -q $'\r\e\[Kl1b-train: step ' out.txt            # redrawn in place
    summary=$(segments out.txt | tail -n 1)
    [[ "$summary" == "l1b-train: stopped by --time 2s: step "* ]]
    segments out.txt | sed '$d' > lines.txt
    [ "$(grep -c 'ETA' lines.txt)" -gt 3 ]
    [ "$(grep -c '  val ' lines.txt)" -ge 1 ]
    awk 'length > 79 { print "too wide: " $0; bad = 1 } END { exit bad }' lines.txt
    # the schedule would take minutes: the ETA is --time's, never above 2s
    grep -o 'ETA [0-9a-z]* (--time)' lines.txt | awk '$2 !~ /^[0-2]s$/ { print; bad = 1 } END { exit bad }'
    [ "$(grep -c 'ETA' lines.txt)" -eq "$(grep -c 'ETA [0-2]s (--time)' lines.txt)" ]
    # a metric line continues, indented, on the next line
    grep -qE '^           [a-z|]' lines.txt
}

@test "at 40 columns (\$COLUMNS when the terminal tells none) the status line drops fields, never cut mid-field" {
    tiny_corpus
    on_tty 0 xterm COLUMNS=40 l1b-train -o m.l1b $TINY --steps 100000 --time 1s --eval-every 100000 tiny.tok > out.txt
    segments out.txt | sed '$d' > lines.txt
    awk 'length > 39 { print "too wide: " $0; bad = 1 } END { exit bad }' lines.txt
    # what is left: step and loss, whole
    grep -qE '^l1b-train: step [0-9]+/100000  loss [0-9]+\.[0-9]{4}$' lines.txt
    ! grep -q 'ETA\|ms/step\|\[' <(grep '^l1b-train: step' lines.txt | grep -v '  val ')
}

@test "TERM=dumb: plain lines, no carriage return or escape sequence" {
    tiny_corpus
    # --time 3s: room for the first step on a loaded machine or under ASan
    on_tty 80 dumb l1b-train -o m.l1b $TINY --steps 100000 --time 3s --eval-every 1000 tiny.tok > out.txt
    ! grep -q $'\r' out.txt
    ! grep -q $'\e' out.txt
    # one status line at the start (then one every 10 s), the metric lines, the summary
    grep -qE '^l1b-train: step 1/100000  \[ *\]  loss [0-9.]+  ETA [0-3]s \(--time\)$' out.txt
    [[ "$(tail -n 1 out.txt)" == "l1b-train: stopped by --time 3s: step "* ]]
    on_tty 80 dumb l1b-tokenize --bpe --vocab 300 -o bpe.tok tiny.txt > tok.txt
    ! grep -q $'[\r\e]' tok.txt
}

@test "not a terminal: no status line, metric lines whole on one line" {
    tiny_corpus
    COLUMNS=40 l1b-train -o m.l1b $TINY --steps 40 --eval-every 20 tiny.tok 2> err.txt
    ! grep -q $'[\r\e]' err.txt
    [ "$(wc -l < err.txt)" -eq 3 ]
    grep -qE '^l1b-train: step 20/40  loss [0-9.]+  val [0-9.]+  bpb [0-9.]+  acc [0-9.]+  lr [0-9.e+-]+  \|g\| [0-9.]+  zero [0-9.]+  [0-9]+ tok/s  [0-9.]+ ms/step  [0-9]+s$' err.txt
}
