#!/usr/bin/perl
# Read a property file the way afterglow.pl (1.6.6) reads it in propertyfile(), then evaluate it
# for each CSV line on stdin the way its main loop does: getColor() for the colours (first
# expression that yields a value wins; a hex colour is written quoted), getSize() for the node
# sizes (summed per node with sum.*=1; a sized expression with "if" in it is kept per node value),
# and finally each node's width as AfterGlow writes it into the DOT:
#   sprintf("%.2f", max(maxnodesize / largest size of that role * node size, 0.1)).
# The code follows afterglow.pl's, trimmed to what ossec.properties uses. Prints JSON:
# {"errors": [...], "shapes": {...}, "colors": [{source, event, target, edge}, ...],
#  "sizes": {"source": {value: width}, "event": {...}, "target": {...}}}
use strict;
use warnings;
use List::Util qw(max);
use Text::CSV;
use JSON::PP;

our @fields;
our $globalField;
my $shapes = qr/^(box|polygon|circle|ellipse|invtriangle|octagon|pentagon|diamond|point|triangle|plaintext|Mrecord);?$/;
my (%colorExp, %sizeExp, %sum, %shape, @errors);
my $maxNodeSize = 0.2;    # afterglow.pl's default
my $minNodeSize = 0.1;

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
        push @{$colorExp{$1}}, $value;
    } elsif ($name =~ /^size\.(source|event|target)$/) {
        push @{$sizeExp{$1}}, $value;
    } elsif ($name =~ /^sum\.(source|event|target)$/) {
        my $type = $1;
        if ($value =~ /^[01];?$/) { $sum{$type} = $value } else { push @errors, "line $number: bad $name $value" }
    } elsif (lc($name) eq "maxnodesize") {
        $maxNodeSize = $value;
        $maxNodeSize =~ s/.*?(\d*).*/$1/;
    } elsif ($name =~ /^shape\.(source|event|target)$/) {
        my $type = $1;
        if ($value =~ $shapes) { $shape{$type} = $value } else { push @errors, "line $number: bad shape $value" }
    } else {
        push @errors, "line $number: unrecognized entry $name";
    }
}

my %colorCache;

sub getColor {
    my ($type, @line) = @_;
    @fields = @line;
    my $index = join("", @fields[0 .. 2]) . $type;
    return $colorCache{$index} if defined $colorCache{$index};
    $globalField = $type eq "source" ? $fields[0] : $type eq "event" ? $fields[1] : $fields[2];
    my $color;
    for my $var (@{$colorExp{$type} || []}) {
        if ($var =~ /^"?#[\da-fA-F]{6,8}"?$/) { $color = $var; last; }
        no strict;
        $color = eval($var);
        push @errors, "eval of '$var': $@" if $@;
        last if $color;
    }
    if (defined $color && $color =~ /#[\da-fA-F]{6,8}/) {
        $color = "\"$color\"";
    } elsif ($color) {
        # AfterGlow looks other values up in its list of colour names; ossec.properties uses none.
        push @errors, "not a hex colour: $color";
    }
    return $colorCache{$index} = $color;
}

my %notCatchAllSize;

sub getSize {
    my ($type, @line) = @_;
    @fields = @line;
    $globalField = $type eq "source" ? $fields[0] : $type eq "event" ? $fields[1] : $fields[2];
    return $notCatchAllSize{$type . $globalField} if $notCatchAllSize{$type . $globalField};
    my $size = 0;
    for my $var (@{$sizeExp{$type} || []}) {
        no strict;
        $size = eval($var);
        push @errors, "eval of '$var': $@" if $@;
        if ($size) {
            $notCatchAllSize{$type . $globalField} = $size if $var =~ /if/;
            last;
        }
    }
    return $size;
}

my $csv = Text::CSV->new();
my (@colors, %nodeSize);
my %largest = (source => 1, event => 1, target => 1);    # afterglow.pl starts its maxima at 1
while (my $line = <STDIN>) {
    chomp $line;
    $csv->parse($line) or push @errors, "unparsable CSV: $line";
    my @parsed = $csv->fields();
    my @line = (@parsed[0 .. 2], $parsed[3], $parsed[4]);
    my %result;
    $result{$_} = getColor($_, @line) for qw(source event target edge);
    push @colors, \%result;
    my %value = (source => $line[0], event => $line[1], target => $line[2]);
    for my $type (qw(source event target)) {
        next unless @{$sizeExp{$type} || []};
        my $size = getSize($type, @line);
        if ($sum{$type}) { $nodeSize{$type}{$value{$type}} += $size } else { $nodeSize{$type}{$value{$type}} = $size }
        $largest{$type} = $nodeSize{$type}{$value{$type}} if $nodeSize{$type}{$value{$type}} > $largest{$type};
    }
}
my %sizes;
for my $type (keys %nodeSize) {
    for my $node (keys %{$nodeSize{$type}}) {
        $sizes{$type}{$node} =
            sprintf("%.2f", max(($maxNodeSize / $largest{$type}) * $nodeSize{$type}{$node}, $minNodeSize));
    }
}
print JSON::PP->new->canonical->encode(
    {errors => \@errors, shapes => \%shape, colors => \@colors, sizes => \%sizes}), "\n";
