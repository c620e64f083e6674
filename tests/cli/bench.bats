#!/usr/bin/env bats
# l1b-bench: the structure of its reports (never its numbers).
load helper

@test "--quick table lists every kernel at every level, then train and sample" {
    run l1b-bench --quick
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "cpu features: "* ]]
    [[ "${lines[1]}" == "bench"*"shape"*"simd"*"median"*"speedup" ]]
    # the scalar row of each kernel is the 1.00x reference
    [ "$(grep -c '^ternary_matvec .* scalar .* 1\.00x$' <<< "$output")" -eq 1 ]
    [ "$(grep -c '^gemm_nt (fwd) .* scalar .* 1\.00x$' <<< "$output")" -eq 1 ]
    grep -q '^train_step ' <<< "$output"
    grep -q '^decode per token .* ms/tok ' <<< "$output"
    grep -q '^prefill .* ms .* tok/s' <<< "$output"
    grep -q '^score per token .* ms/tok .* tok/s' <<< "$output"
    grep -q '^first token ' <<< "$output"
    grep -q '^read bandwidth .* GB/s' <<< "$output"
    grep -q '^decode weights .* MB/tok .* GB/s' <<< "$output"
}

@test "tsv has a header and ten columns on every row" {
    run l1b-bench kernels --quick --simd scalar --format tsv
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$(printf 'bench\tshape\tsimd\tthreads\tmedian\tunit\tspread\trate\trate_unit\tspeedup')" ]
    [ "${#lines[@]}" -eq 4 ]   # header + two kernels at one level + read bandwidth
    for l in "${lines[@]}"; do [ "$(awk -F'\t' '{ print NF }' <<< "$l")" -eq 10 ]; done
    [[ "${lines[1]}" == "ternary_matvec"$'\t'"256x256"$'\t'"scalar"$'\t'"1"$'\t'* ]]
    [[ "${lines[3]}" == "read bandwidth"$'\t'"128 MB, one core"$'\t'"scalar"$'\t'"1"$'\t'*$'\t'"ms"$'\t'*$'\t'"GB/s"$'\t'nan ]]
}

@test "the full kernel list: every row of the man page, attention, then the read bandwidth last" {
    run l1b-bench kernels --simd scalar --format tsv
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 26 ]   # header + 24 kernels at one level + read bandwidth
    names=$(cut -f1 <<< "$output" | sort -u | tr '\n' '|')
    for k in ternary_matvec "matvec 1.6-bit" ternary_matmat "gemm_nt (fwd)" "gemm_nn (bwd dx)" "gemm_tn (bwd dW)" quantize_i8 \
             adamw exp "softmax (attn)" "softmax (loss)" rmsnorm rmsnorm_bwd swiglu swiglu_bwd relu2 relu2_bwd \
             "attention (train)" "attention (decode)"; do
        [[ "|$names" == *"|$k|"* ]]
    done
    [[ "${lines[5]}" == "matvec 1.6-bit"$'\t'288x288$'\t'scalar$'\t'*$'\t'GOP/s$'\t'* ]]
    [[ "${lines[23]}" == "attention (train)"$'\t'"B12 T64 C128 h4"$'\t'scalar$'\t'* ]]
    [[ "${lines[24]}" == "attention (decode)"$'\t'"6 heads x 256 rows of 48"$'\t'scalar$'\t'*$'\t'GOP/s$'\t'* ]]
    [[ "${lines[25]}" == "read bandwidth"$'\t'"512 MB, one core"$'\t'scalar$'\t'*$'\t'GB/s$'\t'* ]]
}

@test "json is one object with a row per measurement" {
    run l1b-bench train --quick --format json
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == '{"cpu": "'*'", "rows": [' ]]
    [[ "${lines[1]}" == '  {"bench": "train_step", "shape": "d32 L1 h2 H96 T16 V257 B4", '* ]]
    [ "${lines[-1]}" = "]}" ]
    if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; d = json.load(sys.stdin); assert len(d["rows"]) == 1' <<< "$output"
    fi
}

@test "sample --bits 1.6: the weights five to a byte, their memory worked out" {
    # d64 L2 H160: each layer's w_down rows (64, of 160 columns) take 3
    # blocks of 2 bits or 2 of base 3, 16 bytes less each: 2048 bytes in all.
    # 2 bits: 24576 weight bytes + 1280 of norms + 69632 of int8 tables
    # + 18432 of int8 cache = 113920
    weights() { l1b-bench sample --quick "$@" --format tsv | awk -F'\t' '$1 == "weights+cache" { print $5 }'; }
    [ "$(weights)" = "0.1139" ]
    [ "$(weights --bits 2)" = "0.1139" ]
    [ "$(weights --bits 1.6)" = "0.1119" ]
    run l1b-bench sample --quick --bits 1.5
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-bench: --bits: '1.5' is not 2 or 1.6" ]
}

@test "bad arguments are usage errors" {
    run l1b-bench --simd mmx
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "l1b-bench: --simd: unknown level 'mmx' (scalar, sse, sse2, ssse3, avx2, avx512)" ]
    run l1b-bench flops
    [ "$status" -eq 2 ]
    run l1b-bench --shape dim=100,heads=3
    [ "$status" -eq 2 ]
}
