#!/usr/bin/env bats
# The layout rule's check (tests/layout/quiet-core.sh) catches a core
# object that prints, exits or reads the environment, and passes one that
# only computes.

load helper

setup() {
    top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    cd "$BATS_TEST_TMPDIR"
}

@test "quiet-core check refuses an object that prints, exits or reads the environment" {
    printf '#include <stdio.h>\n#include <stdlib.h>\nint f(int x) { if (x) { fprintf(stderr, "x %%d\\n", x); exit(1); } return getenv("X") != 0; }\n' > loud.c
    cc -c loud.c -o loud.o
    run sh "$top/tests/layout/quiet-core.sh" loud.o
    [ "$status" -eq 1 ]
    [[ "$output" == *"loud uses exit,fprintf,getenv,stderr"* ]]
}

@test "quiet-core check passes an object that only computes and formats into memory" {
    printf '#include <stdio.h>\nint f(char *b, int x) { return snprintf(b, 8, "%%d", x); }\n' > quiet.c
    cc -c quiet.c -o quiet.o
    run sh "$top/tests/layout/quiet-core.sh" quiet.o
    [ "$status" -eq 0 ]
    [[ "$output" == *"1 core objects print nothing"* ]]
}

@test "every header compiles on its own and twice (include guards close at the end)" {
    # kernels_*.h are fragments the kernel files include in a set order
    for h in "$top"/lib/*.h "$top"/cmd/common/*.h; do
        case "$h" in */kernels_*.h) continue ;; esac
        printf '#include "%s"\n#include "%s"\n' "$h" "$h" > t.c
        cc -std=c11 -D_POSIX_C_SOURCE=200809L -fsyntax-only -Wall -Werror -I"$top/lib" -I"$top/cmd/common" t.c ||
            { echo "header: $h"; false; }
    done
}
