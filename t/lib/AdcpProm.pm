package AdcpProm;

# A strict reader of the Prometheus text exposition format (0.0.4):
# errors($text) lists what is wrong, families($text) gives what it read.
#
#   - every line a HELP, a TYPE or a sample; the text ends with a newline
#   - each family is one group: its HELP and TYPE, then all its samples,
#     nothing of another family in between; a family appears once
#   - a sample's family has a TYPE before it; no series twice
#   - counters not negative; histograms with increasing "le" buckets,
#     cumulative, ending at +Inf equal to _count, and a _sum

use strict;
use warnings;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"/;
my $VALUE = qr/-?[0-9.]+(?:e[+-]?\d+)?|[+-]Inf|NaN/;

# the family a sample belongs to, given the TYPEs seen

sub family_of {
    my ($name, $type) = @_;
    return $name if $type->{$name};
    my ($base) = $name =~ /^(.*)_(?:bucket|sum|count)$/;
    return $base
        if defined $base && ($type->{$base} // '') =~ /^(histogram|summary)$/;
    return $name;
}

# { name => { type, help, samples => [[name, labels, value], ...] } } and
# the families in order

sub read_text {
    my ($text) = @_;
    my (@err, %fam, @order, %type, %closed, %series);
    my $current = '';

    push @err, 'does not end with a newline' unless $text =~ /\n\z/;

    my $open = sub {
        my ($f) = @_;
        return if $f eq $current;
        push @err, "family $f is split into more than one group"
            if $closed{$f};
        $closed{$current} = 1 if $current ne '';
        $current = $f;
        push @order, $f unless $fam{$f};
        $fam{$f} //= { samples => [] };
    };

    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP ($NAME) (.+)$/) {
            $open->($1);
            push @err, "second HELP for $1" if defined $fam{$1}{help};
            push @err, "HELP for $1 after its samples"
                if @{$fam{$1}{samples}};
            $fam{$1}{help} = $2;
            next;
        }
        if ($line =~ /^# TYPE ($NAME) (counter|gauge|histogram|summary|untyped)$/) {
            $open->($1);
            push @err, "second TYPE for $1" if $type{$1};
            push @err, "TYPE for $1 after its samples"
                if @{$fam{$1}{samples}};
            $type{$1} = $fam{$1}{type} = $2;
            next;
        }
        if ($line =~ /^#/) {
            push @err, "bad comment: $line";
            next;
        }
        unless ($line =~ /^($NAME)(\{(?:$LABEL(?:,$LABEL)*)?\})? ($VALUE)$/) {
            push @err, "bad sample: $line";
            next;
        }
        my ($name, $labels, $value) = ($1, $2 // '', $3);
        my $f = family_of($name, \%type);
        push @err, "sample before TYPE: $name" unless $type{$f};
        $open->($f);
        push @err, "duplicate series: $name$labels"
            if $series{"$name$labels"}++;
        push @{$fam{$f}{samples}}, [$name, $labels, $value];
        push @err, "negative counter $name"
            if ($type{$f} // '') eq 'counter' && $value < 0;
    }

    for my $f (grep { ($type{$_} // '') eq 'histogram' } @order) {
        my (@b, $count, $sum);
        for (@{$fam{$f}{samples}}) {
            my ($name, $labels, $value) = @$_;
            if ($name eq "${f}_bucket") {
                my ($le) = $labels =~ /le="([^"]+)"/
                    or push @err, "$f: a bucket without le";
                push @b, [$le // '', $value];
            } elsif ($name eq "${f}_count") {
                $count = $value;
            } elsif ($name eq "${f}_sum") {
                $sum = $value;
            } else {
                push @err, "$f: $name in a histogram";
            }
        }
        push @err, "$f: no buckets" unless @b;
        my ($last_le, $last_v) = (-1, 0);
        for (@b) {
            my ($le, $v) = @$_;
            my $n = $le eq '+Inf' ? 9**9**9 : $le;
            push @err, "$f: le not increasing at $le" if $n <= $last_le;
            push @err, "$f: buckets not cumulative at $le" if $v < $last_v;
            ($last_le, $last_v) = ($n, $v);
        }
        push @err, "$f: last bucket is not +Inf"
            unless @b && $b[-1][0] eq '+Inf';
        push @err, "$f: +Inf bucket != _count"
            unless defined $count && @b && $b[-1][1] == $count;
        push @err, "$f: no _sum" unless defined $sum;
    }

    return (\%fam, \@order, \@err);
}

sub errors {
    my (undef, undef, $err) = read_text($_[0]);
    return @$err;
}

sub families {
    my ($fam, $order) = read_text($_[0]);
    return ($fam, $order);
}

1;
