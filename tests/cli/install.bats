#!/usr/bin/env bats
# make install and install-strip honour PREFIX and DESTDIR and install
# everything: programs, man pages, completions, and for C programs the
# library, its headers and l1b.pc, with which l1b(7)'s example builds.
load helper

top() { cd "$BATS_TEST_DIRNAME/../.." && pwd; }

@test "make install puts programs, man pages, completions and the library under DESTDIR/PREFIX" {
    make -s -C "$(top)" install DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/l1b > /dev/null
    r=root/opt/l1b
    for p in l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt; do
        [ -x "$r/bin/$p" ]
        [ -f "$r/share/man/man1/$p.1" ]
        [ -f "$r/share/bash-completion/completions/$p" ]
    done
    [ -f $r/share/man/man5/l1b-format.5 ]
    [ -f $r/share/man/man7/l1b.7 ]
    [ -f $r/share/zsh/site-functions/_l1b ]
    [ -f $r/lib/libl1b.a ]
    [ -f $r/include/l1b/infer.h ]
    [ -f $r/include/l1b/util.h ]
    grep -qx 'prefix=/opt/l1b' $r/lib/pkgconfig/l1b.pc
    grep -qx "Version: $(l1b-tokenize --version | head -n 1 | cut -d' ' -f2)" $r/lib/pkgconfig/l1b.pc
    run $r/bin/l1b-tokenize --version
    [[ "$output" == "l1b-tokenize "* ]]
    make -s -C "$(top)" uninstall DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/opt/l1b > /dev/null
    [ -z "$(find root -type f)" ]
}

@test "make install-strip installs stripped programs" {
    make -s -C "$(top)" install-strip DESTDIR="$BATS_TEST_TMPDIR/root" PREFIX=/usr > /dev/null
    for p in l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt; do
        run nm root/usr/bin/$p
        [[ "$output" == *"no symbols"* ]]
    done
    run root/usr/bin/l1b-sample --version
    [ "$status" -eq 0 ]
}

@test "every --help ends with the version and where to report bugs" {
    v=$(l1b-tokenize --version | head -n 1 | cut -d' ' -f2)
    for p in l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt "l1b-ckpt info"; do
        run $p --help
        [ "${lines[${#lines[@]}-2]}" = "l1b $v: tiny ternary language models for the shell; overview: man l1b" ]
        [[ "${lines[${#lines[@]}-1]}" == "Report bugs to "* ]]
    done
    # the version in the man pages' footers and README is the programs'
    for m in "$(top)"/man/*.[157]; do
        grep -q "^\.TH .* \"l1b $v\"" "$m"
    done
}

# the C example of man l1b(7), as a reader would copy it
man_example() {
    perl -ne 'if (/^\.\\" example greedy\.c/) { $on = 1; next } if (/^\.\\" end/) { $on = 0 }
        next unless $on; next if /^\.(EX|EE)/;
        s/\\e/\x01/g; s/\\-/-/g; s/\\\(aq/\x27/g; s/\\&//g; s/\x01/\\/g; print' "$(top)/man/l1b.7"
}

@test "l1b(7)'s C example builds with pkg-config against an installed copy and prints what l1b-sample --greedy does" {
    command -v pkg-config > /dev/null || skip "no pkg-config"
    make -s -C "$(top)" install PREFIX="$BATS_TEST_TMPDIR/prefix" > /dev/null
    man_example > greedy.c
    grep -q 'int main' greedy.c
    export PKG_CONFIG_PATH="$BATS_TEST_TMPDIR/prefix/lib/pkgconfig"
    cc -Wall -Werror -o greedy greedy.c $(pkg-config --cflags --libs l1b)
    gen_text 3 3000 > t.txt
    l1b-tokenize --bpe --vocab 300 -o t.tok t.txt
    l1b-train -q --dim 32 --layers 1 --heads 2 --ctx 32 --steps 30 -o m.l1b t.tok
    run ./greedy m.l1b "the people" 25
    [ "$status" -eq 0 ]
    [ "$output" = "$(l1b-sample -m m.l1b -i 'the people' -n 25 --greedy)" ]
    [ -n "$output" ]
    run ./greedy missing.l1b "x" 5
    [ "$status" -eq 1 ]
    [[ "$output" == "greedy: missing.l1b: "* ]]
}
