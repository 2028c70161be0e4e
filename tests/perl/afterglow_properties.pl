#!/usr/bin/perl
# Read a property file the way afterglow.pl's propertyfile() does, then
# evaluate its colour and shape properties for each CSV line on stdin, as
# getColor() does (first expression that yields a value wins). Prints JSON:
# {"errors": [...], "shapes": {...}, "colors": [{source, event, target, edge}, ...]}.
use strict;
use warnings;
use Text::CSV;
use JSON::PP;

our @fields;
my $shapes = qr/^(box|polygon|circle|ellipse|invtriangle|octagon|pentagon|diamond|point|triangle|plaintext|Mrecord);?$/;
my (%exp, %shape, @errors);

open my $fh, '<', $ARGV[0] or die "Cannot open $ARGV[0]: $!";
my $number = 0;
while (my $ln = <$fh>) {
    $number++;
    chomp $ln;
    next if $ln =~ /^\s*#/;
    next if $ln =~ /^\s*$/;
    $ln =~ s/[^"=]#.*$//;
    my @nv = split /\s*=/, $ln, 2;
    my $value = $nv[1];
    $value =~ s/^\s*=?\s*//;
    $value =~ s/\s*$//;
    $value =~ s/;$//;
    $value =~ s/^"(.*)"$/$1/;
    my $name = $nv[0];
    $name =~ s/^\s*//;
    $name =~ s/\s*$//;
    if ($name =~ /^color\.(source|event|target|edge)$/) {
        push @{$exp{$1}}, $value;
    } elsif ($name =~ /^shape\.(source|event|target)$/) {
        my $type = $1;
        if ($value =~ $shapes) { $shape{$type} = $value } else { push @errors, "line $number: bad shape $value" }
    } else {
        push @errors, "line $number: unrecognized entry $name";
    }
}

my $csv = Text::CSV->new();
my @colors;
while (my $line = <STDIN>) {
    chomp $line;
    $csv->parse($line) or push @errors, "unparsable CSV: $line";
    @fields = $csv->fields();
    my %result;
    for my $type (qw(source event target edge)) {
        for my $var (@{$exp{$type} || []}) {
            no strict;
            my $color = eval($var);
            push @errors, "eval of '$var': $@" if $@;
            if ($color) { $result{$type} = $color; last; }
        }
    }
    push @colors, \%result;
}
print JSON::PP->new->canonical->encode({errors => \@errors, shapes => \%shape, colors => \@colors}), "\n";
