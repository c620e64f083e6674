#!/usr/bin/env perl
# forge.pl IN OUT [WHERE OFFSET TYPE VALUE]...
#
# A copy of model file IN (man l1b-format(5)) with chosen values written
# into it and every checksum made right again: damaged contents a reader
# must refuse on their own, since no CRC gives them away.
#
#   WHERE   a section tag (CONF, PARM, ...): OFFSET counts from the start of
#           that section, whose CRC is then recomputed; or "file": OFFSET
#           counts from the start of the file (the header, the table)
#   TYPE    u8, u32, u64 (little-endian integers), f32, f64 (IEEE 754)
#   VALUE   a number, or for f32 and f64 also nan, inf, -inf
#
# The header CRC is recomputed last, so the table may be edited too.
use strict;
use warnings;

die "usage: forge.pl IN OUT [WHERE OFFSET TYPE VALUE]...\n" if @ARGV < 2 || (@ARGV - 2) % 4;
my ($in, $out, @edits) = @ARGV;
open my $h, "<:raw", $in or die "$in: $!\n";
my $b = do { local $/; <$h> };
close $h;
die "$in: not an l1b model file\n" unless substr($b, 0, 8) eq "L1BMODEL";

my @table;
for my $i (0 .. 255) {
    my $c = $i;
    $c = $c & 1 ? ($c >> 1) ^ 0xEDB88320 : $c >> 1 for 1 .. 8;
    $table[$i] = $c;
}
sub crc32 {
    my $c = 0xFFFFFFFF;
    $c = $table[($c ^ $_) & 0xFF] ^ ($c >> 8) for unpack "C*", $_[0];
    return $c ^ 0xFFFFFFFF;
}

my $n = unpack "V", substr($b, 16, 4);
my %sec;    # tag -> [entry offset, section offset, size]
for my $i (0 .. $n - 1) {
    my $e = 32 + 32 * $i;
    my ($tag, undef, $ol, $oh, $sl, $sh) = unpack "a4 V V V V V", substr($b, $e, 24);
    $sec{$tag} = [$e, $ol + 2**32 * $oh, $sl + 2**32 * $sh];
}

# bit patterns: a quiet NaN and the infinities, whatever perl makes of "nan"
my %special = (
    f32 => {nan => pack("V", 0x7FC00000), inf => pack("V", 0x7F800000), "-inf" => pack("V", 0xFF800000)},
    f64 => {nan => pack("VV", 0, 0x7FF80000), inf => pack("VV", 0, 0x7FF00000), "-inf" => pack("VV", 0, 0xFFF00000)},
);
my %fmt = (u8 => ["C", 1], u32 => ["V", 4], u64 => ["Q<", 8], f32 => ["f<", 4], f64 => ["d<", 8]);
my %touched;
while (my ($where, $off, $type, $value) = splice @edits, 0, 4) {
    my $f = $fmt{$type} or die "forge.pl: unknown type $type\n";
    my $at = $off;
    if ($where ne "file") {
        my $s = $sec{$where} or die "$in: no $where section\n";
        die "$in: offset $off past the end of $where\n" if $off + $f->[1] > $s->[2];
        $at += $s->[1];
        $touched{$where} = 1;
    }
    my $bytes = $special{$type} && $special{$type}{lc $value};
    $value = hex $value if $type =~ /^u/ && $value =~ /^0x/i;
    substr($b, $at, $f->[1]) = defined $bytes ? $bytes : pack $f->[0], $value;
}
for my $tag (keys %touched) {
    my ($e, $o, $size) = @{$sec{$tag}};
    substr($b, $e + 24, 4) = pack "V", crc32(substr($b, $o, $size));
}
substr($b, 20, 4) = pack "V", crc32(substr($b, 0, 20) . substr($b, 32, 32 * $n));
open my $o, ">:raw", $out or die "$out: $!\n";
print $o $b;
close $o or die "$out: $!\n";
