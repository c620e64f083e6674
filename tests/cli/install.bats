#!/usr/bin/env bats
# make install honours PREFIX and DESTDIR.
load helper

@test "make install puts programs and man pages under DESTDIR/PREFIX" {
    top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    make -s -C "$top" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/l1b > /dev/null
    for p in l1b-tokenize l1b-train l1b-sample l1b-bench; do
        [ -x "root/opt/l1b/bin/$p" ]
    done
    [ -f root/opt/l1b/share/man/man1/l1b-tokenize.1 ]
    [ -f root/opt/l1b/share/man/man5/l1b-format.5 ]
    run root/opt/l1b/bin/l1b-tokenize --version
    [[ "$output" == "l1b-tokenize "* ]]
}
