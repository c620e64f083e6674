# Shared set-up for the CLI tests: the binaries under test come first on
# PATH (L1B_BIN, default build/), and every test works in its own temp dir.
L1B_BIN="${L1B_BIN:-$BATS_TEST_DIRNAME/../../build}"
PATH="$L1B_BIN:$PATH"

setup() {
    cd "$BATS_TEST_TMPDIR" || return 1
}

# gen_bytes SEED N: N deterministic pseudo-random bytes (all 256 values).
gen_bytes() {
    perl -e 'srand($ARGV[0]); print map { chr(int(rand(256))) } 1..$ARGV[1]' "$1" "$2"
}

# gen_text SEED N: N words of English-like text in lines of varying length.
gen_text() {
    perl -e 'srand($ARGV[0]);
        my @w = qw(the of and to in a is that for it as was with be by on not he I this are or his from at which but have an they you were her she there one all we their can been has more if no out so said what up its about into than them only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three);
        my $line = 0;
        for (1..$ARGV[1]) {
            print $w[int(rand(@w))];
            $line++;
            if (rand() < 0.08) { print rand() < 0.3 ? ".\n\n" : "\n"; $line = 0 }
            else { print rand() < 0.1 ? ", " : " " }
        }
        print "\n";' "$1" "$2"
}

# count_ids ID: how many times ID occurs in the --ids text on stdin
count_ids() {
    tr ' ' '\n' | grep -cx "$1" || true
}

# section_sum FILE TAG...: checksum of the named sections of a model file
# (e.g. PARM ADAM: the weights and optimizer moments, not the timings)
section_sum() {
    perl -e '
        my ($f, @tags) = @ARGV;
        open my $h, "<:raw", $f or die "$f: $!";
        local $/; my $b = <$h>;
        my $n = unpack("V", substr($b, 16, 4));
        my $out = "";
        for my $i (0 .. $n - 1) {
            my ($tag, undef, $off_lo, $off_hi, $size_lo, $size_hi) = unpack("a4 V V V V V", substr($b, 32 + 32 * $i, 24));
            $out .= substr($b, $off_lo + 2**32 * $off_hi, $size_lo + 2**32 * $size_hi) if grep { $_ eq $tag } @tags;
        }
        print $out;' "$@" | cksum
}

# tiny_corpus: a small repetitive text and its byte-token stream
tiny_corpus() {
    for i in $(seq 60); do printf 'the quick brown fox jumps over the lazy dog. '; done > tiny.txt
    l1b-tokenize -o tiny.tok tiny.txt
}

TINY="--dim 32 --layers 1 --heads 2 --ctx 16 --batch 8 --warmup 10 --lr 3e-3"
