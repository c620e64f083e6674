# bash completion for the l1b programs                     -*- shell-script -*-
#
# Installed (make install) as share/bash-completion/completions/l1b-tokenize,
# l1b-train, l1b-sample, l1b-bench and l1b-ckpt: the same file under each
# name, as bash-completion loads a command's completion by its name. Or
# source it from ~/.bashrc. Options as each program's --help lists them;
# tests/cli/completion.bats fails when one is missing here.

_l1b_tokenize_opts='--bpe --vocab --sample-bytes --tokenizer --user-symbols --doc
    --ids --pieces -d --decode
    -o --output -f --force -v --verbose -q --quiet -h --help -V --version'
_l1b_train_opts='--dim --layers --heads --hidden --ctx --ffn-act --quant
    --steps --time --until --batch --accum --lr --min-lr --warmup --wd --clip
    --seed --batching --val --val-frac --eval-every --eval-batches
    -o --output --save-every --resume --log -j --threads -q --quiet
    -v --verbose --profile -h --help -V --version --keep-best --sample-every
    --sample-prompt --schedule-time'
_l1b_sample_opts='-m --model -i --input -f --file -n --tokens
    -T --temperature -k --top-k -p --top-p --min-p --repeat-penalty
    --repeat-last --greedy -s --seed --stop --echo --raw --lines --batch
    -I --interactive --score --json --logprobs --exact -j --threads
    -v --verbose --profile -h --help -V --version'
_l1b_bench_opts='--simd --shape --batch --bits -j --threads --format --quick
    -h --help -V --version'
_l1b_ckpt_commands='info verify convert vocab history export help'
_l1b_ckpt_info_opts='--json -h --help'
_l1b_ckpt_verify_opts='-h --help'
_l1b_ckpt_convert_opts='--pack --bits --tables --unpack -v --verbose --steps --batch
    --accum --warmup --lr --min-lr --wd --clip --seed --val-frac --batching
    -h --help'
_l1b_ckpt_vocab_opts='-h --help'
_l1b_ckpt_history_opts='--svg -h --help'
_l1b_ckpt_export_opts='--format --tokenizer-out -h --help'
_l1b_simd_levels='scalar sse sse2 ssse3 avx2 avx512 neon dotprod altivec'

# _l1b_words WORDS: complete the current word from WORDS
_l1b_words()
{
    COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

# _l1b_files: complete the current word as a file name
_l1b_files()
{
    local IFS=$'\n'
    COMPREPLY=($(compgen -f -- "$cur"))
    type compopt > /dev/null 2>&1 && compopt -o filenames 2> /dev/null
}

# The value of option $prev, if it takes one: 0 when completed here.
_l1b_value()
{
    case $prev in
        --doc) _l1b_words 'line blank nul' ;;
        --ffn-act) _l1b_words 'swiglu relu2' ;;
        --quant) _l1b_words 'absmean twn stochastic sign f32' ;;
        --batching) _l1b_words 'pack bucket' ;;
        --format)
            if [[ $1 == l1b-ckpt ]]; then _l1b_words 'llama2c'; else _l1b_words 'table tsv json'; fi ;;
        --bits) _l1b_words '2 1.6' ;;
        --tables) _l1b_words 'int8 f32' ;;
        --simd)
            # a comma-separated list: complete the last element
            local head=${cur%"${cur##*,}"} w words=
            for w in $_l1b_simd_levels; do words+=" $head$w"; done
            _l1b_words "$words" ;;
        --tokenizer|-o|--output|--val|--log|--keep-best|-m|--model|-f|--file|--svg|--tokenizer-out)
            [[ $1 == l1b-tokenize && $prev == -f ]] && return 1  # -f is --force there
            _l1b_files ;;
        --vocab|--sample-bytes|--user-symbols|--dim|--layers|--heads|--hidden|--ctx|--steps|--time|--until|--batch|\
        --accum|--lr|--min-lr|--warmup|--wd|--clip|--seed|--val-frac|--eval-every|\
        --eval-batches|--save-every|--sample-every|--sample-prompt|-j|--threads|-i|--input|-n|--tokens|-T|--temperature|\
        -k|--top-k|-p|--top-p|--min-p|--repeat-penalty|--repeat-last|-s|--seed|--stop|--shape)
            COMPREPLY=() ;;  # a value to type
        *) return 1 ;;
    esac
    return 0
}

_l1b()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # --opt=value: bash splits the word at '='
    if [[ $cur == = ]]; then cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then prev=${COMP_WORDS[COMP_CWORD - 2]}; fi
    local prog=${1##*/} opts
    _l1b_value "$prog" && return 0
    case $prog in
        l1b-tokenize) opts=$_l1b_tokenize_opts ;;
        l1b-train) opts=$_l1b_train_opts ;;
        l1b-sample) opts=$_l1b_sample_opts ;;
        l1b-bench)
            opts=$_l1b_bench_opts
            if [[ $cur != -* ]]; then _l1b_words 'kernels train sample all'; return 0; fi ;;
        l1b-ckpt)
            # the command is the first word that is not an option
            local i cmd=
            for ((i = 1; i < COMP_CWORD; i++)); do
                [[ ${COMP_WORDS[i]} != -* ]] && { cmd=${COMP_WORDS[i]}; break; }
            done
            if [[ -z $cmd ]]; then
                if [[ $cur == -* ]]; then _l1b_words '-h --help -V --version'
                else _l1b_words "$_l1b_ckpt_commands"; fi
                return 0
            fi
            [[ $cmd == help ]] && { _l1b_words "${_l1b_ckpt_commands% help}"; return 0; }
            local var=_l1b_ckpt_${cmd}_opts
            opts=${!var} ;;
        *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then _l1b_words "$opts"; else _l1b_files; fi
    return 0
}

complete -F _l1b l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt
