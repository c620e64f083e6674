#!/usr/bin/env bats
# The examples of README.md marked "<!-- example: run by
# tests/cli/examples.bats -->" (the code block after the mark), the
# EXAMPLES of every man page and the first session of man l1b(7) run as
# written, in order, each set in one directory, on a generated corpus (or
# the one the example makes). l1b-train and l1b-bench are wrapped so that
# the same commands finish in seconds: l1b-train gets a tiny shape and a
# hundredth of the steps (an example's own options still win; a resumed
# model keeps its own); l1b-bench gets --quick.
load helper

top() { cd "$BATS_TEST_DIRNAME/../.." && pwd; }

# readme_blocks KIND: the marked code blocks of README.md whose fence is
# ```KIND, each followed by a line "# ----"
readme_blocks() {
    awk -v kind="$1" '
        /^<!-- example: run by tests\/cli\/examples.bats -->$/ { mark = 1; next }
        mark && /^```/ { mark = 0; if ($0 == "```" kind) { on = 1 } next }
        on && /^```$/ { on = 0; print "# ----"; next }
        on { print }
        { mark = 0 }' "$(top)/README.md"
}

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
    real=$(command -v l1b-train); real=${real%/*}
    mkdir -p shim
    cat > shim/l1b-train <<'SH'
#!/bin/sh
# l1b-train, small and short: a tiny shape, a hundredth of the steps, and
# evaluations every 10 steps, unless the example resumes an existing model
# (whose shape and schedule are stored) or gives its own values
resume= out= prev=
for a; do
    case $prev in -o|--output) out=$a ;; esac
    case $a in --resume) resume=1 ;; --output=*) out=${a#--output=} ;; -o?*) out=${a#-o} ;; esac
    prev=$a
done
steps=20
n=$#
i=0
while [ $i -lt $n ]; do
    a=$1; shift; i=$((i + 1))
    case $a in
        --steps) v=$1; shift; i=$((i + 1)); set -- "$@" --steps $(( (v + 99) / 100 )); steps= ;;
        *) set -- "$@" "$a" ;;
    esac
done
if [ -n "$resume" ] && [ -f "$out" ]; then
    exec "$L1B_REAL/l1b-train" --eval-every 10 --eval-batches 2 "$@"
fi
exec "$L1B_REAL/l1b-train" --dim 32 --layers 1 --heads 2 --ctx 32 --batch 4 --eval-every 10 \
    --eval-batches 2 ${steps:+--steps $steps} "$@"
SH
    export L1B_REAL=$real
    printf '#!/bin/sh\nexec "%s/l1b-bench" "$@" --quick\n' "$real" > shim/l1b-bench
    chmod +x shim/*
    PATH="$PWD/shim:$PATH"
    gen_text 11 6000 > corpus.txt
    gen_text 12 4000 > train.txt
    gen_text 13 800 > val.txt
    printf 'the world\nall people\nthere is\n' > prompts.txt
    printf 'they said THE END of it\n' > prompt.txt
}

@test "README's marked shell examples run as written" {
    readme_blocks sh > examples.sh
    [ "$(grep -c '^# ----$' examples.sh)" -ge 5 ]
    # scoring examples compare two models
    run bash -e -o pipefail -c '
        block=1
        while IFS= read -r line; do
            if [ "$line" = "# ----" ]; then
                [ -f model.l1b ] && cp model.l1b a.l1b && cp model.l1b b.l1b
                printf "%s\n" "${cmds[@]}" > block$block.sh
                bash -e -o pipefail block$block.sh < /dev/null > block$block.out 2>&1 ||
                    { echo "README example block $block failed:"; cat block$block.sh; cat block$block.out; exit 1; }
                cmds=(); block=$((block + 1))
            else
                cmds+=("$line")
            fi
        done < examples.sh'
    echo "$output"
    [ "$status" -eq 0 ]
    [ -s answers.txt ]
    [ "$(wc -l < answers.txt)" -eq 3 ]
    [ -s curves.svg ]
    [ -s model.l1bi ]
    # the resume example went on to step 4000 (40 here) and kept logging
    l1b-ckpt info --json model.l1b | grep -q '"step": 40,'
    [ "$(cut -f 1 train.tsv | tail -n 1)" = 40 ]
}

@test "README's cron line runs with cron's PATH" {
    line=$(readme_blocks crontab | grep -v '^# ----$')
    [[ "$line" == "0 2 * * * "* ]]
    cmd=${line#0 2 \* \* \* }
    [[ "$cmd" == *"/usr/local/bin/l1b-train "* ]]
    mkdir -p home/lm
    l1b-tokenize --bpe --vocab 300 -o home/lm/train.tok train.txt
    l1b-tokenize --tokenizer home/lm/train.tok -o home/lm/val.tok val.txt
    # the installed program is the wrapper here; cron's environment
    cmd=${cmd//\/usr\/local\/bin\//$PWD/shim/}
    for night in 1 2 3; do
        run env -i PATH=/usr/bin:/bin HOME="$PWD/home" SHELL=/bin/sh L1B_REAL="$L1B_REAL" /bin/sh -c "$cmd"
        [ "$status" -eq 0 ]
        [ -z "$output" ]   # -q: cron mails nothing
    done
    [ -s home/lm/model.l1b ]
    [ "$(tail -n 1 home/lm/train.tsv | cut -f 1)" = 20 ]
}

# man_commands PAGE SECTION: the commands of a section of a man page
# ("$ " lines in .EX blocks, with the lines that continue them: after a
# trailing backslash, pipe, "do", ";", "&&" or "{", or inside a quote),
# unescaped as a reader copies them
man_commands() {
    perl -e 'my ($page, $sect) = @ARGV; open my $f, "<", $page or die "$page: $!";
        my ($s, $ex, $cont, $cmd);
        while (<$f>) {
            if (/^\.SH (.*)/) { $s = $1 eq $sect; next }
            next unless $s;
            if (/^\.EX/) { $ex = 1; next } if (/^\.EE/) { $ex = 0; $cont = 0; next }
            next unless $ex;
            s/\\e/\x01/g; s/\\-/-/g; s/\\\(aq/\x27/g; s/\\\(dq/"/g; s/\\\(ha/^/g;
            s/\\&//g; s/\x01/\\/g;
            next unless $cont || /^\$ /;
            $cmd = "" unless $cont;
            s/^\$ //; print; $cmd .= $_;
            my $q = () = $cmd =~ /\x27/g;
            $cont = /(\\|\||\bdo|;|&&|\{)\s*$/ || $q % 2;
        }' "$(top)/man/$1" "$2"
}

# run_commands FILE: run FILE's commands with bash, stdin /dev/null; the
# output names every command that failed
run_commands() {
    run bash -c 'trap '\''echo "FAILED ($?): $BASH_COMMAND"'\'' ERR; source "$1"' _ "$1" < /dev/null
}

@test "the first session of man l1b(7) runs as written" {
    man_commands l1b.7 "A FIRST SESSION" > session.sh
    [ "$(grep -c 'l1b-' session.sh)" -ge 6 ]
    run_commands session.sh
    echo "$output"
    [[ "$output" != *FAILED* ]]
    [ -s licenses.l1bi ]
    [[ "$output" == *"This program is free software"* ]]
}

@test "the EXAMPLES of every program's man page run as written" {
    for p in l1b-tokenize l1b-train l1b-sample l1b-ckpt l1b-bench; do
        mkdir $p && cd $p
        # not here: llama2.c's run.c, and make in the source tree
        man_commands $p.1 EXAMPLES | grep -v -e '^\./run ' -e '^make ' > examples.sh
        [ "$(grep -c "^$p" examples.sh)" -ge 3 ]
        run_commands examples.sh
        [[ "$output" != *FAILED* ]] || { echo "man $p: $output" | grep -e FAILED -e "^$p:"; false; }
        cd ..
    done
}

@test "every man page formats without a warning" {
    command -v groff > /dev/null || skip "no groff"
    for m in "$(top)"/man/*.[157]; do
        run groff -man -ww -z -Tutf8 "$m"
        [ -z "$output" ] || { echo "${m##*/}: $output"; false; }
        [ "$status" -eq 0 ]
    done
}
