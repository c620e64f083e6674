#!/usr/bin/env bats
# The bash and zsh completions (completions/) know every option each
# program's --help lists, and complete option values and file names.
load helper

top() { cd "$BATS_TEST_DIRNAME/../.." && pwd; }

# help_opts: the long options of the --help text on stdin, from the lines
# that describe options (those starting with blanks and a dash)
help_opts() {
    grep -E '^[[:space:]]+-' | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

# bash_opts VAR: the words of a variable of completions/l1b.bash
bash_opts() {
    bash -c 'source "$1" && eval "printf \"%s\n\" \$$2"' _ "$(top)/completions/l1b.bash" "$1"
}

# zsh_function NAME: the text of a function of completions/_l1b
zsh_function() {
    awk -v f="$1() {" '$0 == f { p = 1 } p { print } p && /^}/ { exit }' "$(top)/completions/_l1b"
}

# missing OPTS_FILE WORDS_FILE: the options of the first not in the second
missing() {
    grep -vxF -f "$2" "$1" || true
}

@test "every long option of every --help is in the bash and the zsh completion" {
    for p in tokenize train sample bench; do
        l1b-$p --help | help_opts > help.txt
        [ "$(wc -l < help.txt)" -ge 8 ]
        bash_opts _l1b_${p}_opts > bash.txt
        run missing help.txt bash.txt
        [ -z "$output" ] || { echo "l1b-$p: not in completions/l1b.bash: $output"; false; }
        zsh_function _l1b_$p | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u > zsh.txt
        run missing help.txt zsh.txt
        [ -z "$output" ] || { echo "l1b-$p: not in completions/_l1b: $output"; false; }
    done
    l1b-ckpt --help | help_opts > help.txt
    bash_opts "-h --help -V --version" > bash.txt
    run missing help.txt bash.txt
    [ -z "$output" ]
    for c in info verify convert vocab history export; do
        l1b-ckpt help $c | help_opts > help.txt
        bash_opts _l1b_ckpt_${c}_opts > bash.txt
        run missing help.txt bash.txt
        [ -z "$output" ] || { echo "l1b-ckpt $c: not in completions/l1b.bash: $output"; false; }
        zsh_function _l1b_ckpt | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u > zsh.txt
        run missing help.txt zsh.txt
        [ -z "$output" ] || { echo "l1b-ckpt $c: not in completions/_l1b: $output"; false; }
    done
    # and the commands themselves
    run bash_opts _l1b_ckpt_commands
    for c in $(l1b-ckpt --help | sed -n 's/^  l1b-ckpt \([a-z]*\).*/\1/p'); do
        [[ " ${lines[*]} " == *" $c "* ]]
        grep -q "'$c:" "$(top)/completions/_l1b"
    done
}

# complete WORD...: what the bash completion offers for the last word
complete_bash() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _l1b "$1"; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$(top)/completions/l1b.bash" "$@"
}

@test "bash completes options, option values, commands and file names" {
    touch model.l1b train.tok
    [ "$(complete_bash l1b-train --ffn)" = "--ffn-act" ]
    [ "$(complete_bash l1b-train --quant s | tr '\n' ' ')" = "stochastic sign " ]
    [ "$(complete_bash l1b-train --quant = s | tr '\n' ' ')" = "stochastic sign " ]
    [ "$(complete_bash l1b-sample -m m)" = "model.l1b" ]
    [ "$(complete_bash l1b-tokenize --doc b)" = "blank" ]
    [ "$(complete_bash l1b-bench --simd sse2,avx | tr '\n' ' ')" = "sse2,avx2 sse2,avx512 " ]
    [ "$(complete_bash l1b-bench s)" = "sample" ]
    [ "$(complete_bash l1b-ckpt con)" = "convert" ]
    [ "$(complete_bash l1b-ckpt convert --b | tr '\n' ' ')" = "--bits --batch --batching " ]
    [ "$(complete_bash l1b-ckpt export --format '')" = "llama2c" ]
    [ "$(complete_bash l1b-ckpt info t)" = "train.tok" ]
    [ -z "$(complete_bash l1b-train --dim '')" ]
}

@test "zsh completes option values and commands (if zsh is installed)" {
    command -v zsh > /dev/null || skip "no zsh"
    zsh -n "$(top)/completions/_l1b"
    touch model.l1b
    # an interactive zsh in a pseudo-terminal: compinit with completions/
    # first in fpath, compadd reporting every candidate, Tab pressed
    cat > cap.zsh <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= ; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd() { builtin compadd -O __h "$@"; print -r -l -- "HIT:"${^__h} > /dev/tty; builtin compadd "$@" }'
shift
for line in "$@"; do
    zpty -w -n z "$line"$'\t'
    zpty -r z chunk '*HIT:*' && out+=$chunk   # waits for the first candidates
    sleep 1
    while zpty -r -t z chunk; do out+=$chunk; done
    zpty -w -n z $'\C-u'
done
print -r -- "$out" | tr -d '\r' | grep -a -o 'HIT:[a-z0-9.-]*' | sort -u | tr '\n' ' '
zpty -d z
ZSH
    run timeout 60 zsh -f cap.zsh "$(top)/completions" 'l1b-train --quant ' 'l1b-ckpt '
    echo "$output"
    for w in absmean twn stochastic sign f32 info verify convert vocab history export; do
        [[ "$output" == *"HIT:$w "* ]]
    done
}
