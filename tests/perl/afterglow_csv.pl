#!/usr/bin/perl
# Parse stdin line by line exactly as afterglow.pl does (Text::CSV at its
# defaults, one physical line at a time) and print the result as JSON:
# one [ok, fields...] array per line.
use strict;
use warnings;
use Text::CSV;
use JSON::PP;

my $csv = Text::CSV->new();
my @records;
while (my $line = <STDIN>) {
    chomp $line;
    my $ok = $csv->parse($line) ? 1 : 0;
    push @records, [$ok, $ok ? $csv->fields() : ()];
}
print JSON::PP->new->canonical->encode(\@records), "\n";
