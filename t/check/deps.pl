#!/usr/bin/perl

# The module's dependency rules, checked on the built objects and sources
# (make check, make test):
#
#   1. no cycle between .c files: file A depends on file B when A calls a
#      function B defines (nm: B's global text symbols among A's undefined
#      ones); a cycle of such dependencies fails, printed
#   2. hiredis is included only under src/redis/
#
# usage: t/check/deps.pl <objects dir> <source dir>...

use strict;
use warnings;

use File::Find;

my ($objdir, @srcdirs) = @ARGV;
die "usage: $0 <objects dir> <source dir>...\n" unless $objdir && @srcdirs;

my $fail = 0;

# 2. hiredis

my @sources;
find(sub { push @sources, $File::Find::name if /\.[ch]$/ }, @srcdirs);

for my $f (sort @sources) {
    next if $f =~ m{(^|/)src/redis/};
    open my $fh, '<', $f or die "$f: $!\n";
    while (<$fh>) {
        if (/^\s*#\s*include\s*[<"]hiredis\//) {
            print "not ok: $f:$.: includes hiredis outside src/redis/\n";
            $fail = 1;
        }
    }
}

# 1. cycles

# objects of the sources there are (not those of files moved or gone)

my %source = map { (my $b = $_) =~ s{.*/}{}; $b => 1 } grep { /\.c$/ } @sources;

my @objs;
find(sub {
    (my $c = $_) =~ s/\.o$/.c/;
    push @objs, $File::Find::name if /\.o$/ && $source{$c};
}, $objdir);
die "no objects under $objdir (build first)\n" unless @objs;

my (%defines, %uses);

for my $o (@objs) {
    (my $name = $o) =~ s{.*/}{};
    $name =~ s/\.o$/.c/;

    for (`nm $o`) {
        my ($type, $sym) = /^\s*(?:[0-9a-f]+\s+)?(\S)\s+(\S+)$/ or next;
        if ($type eq 'T') {
            $defines{$sym} = $name;
        } elsif ($type eq 'U') {
            push @{$uses{$name}}, $sym;
        }
    }
}

my %edges;
for my $file (keys %uses) {
    for my $sym (@{$uses{$file}}) {
        my $to = $defines{$sym} or next;
        $edges{$file}{$to} = $sym unless $to eq $file;
    }
}

# Tarjan's strongly connected components

my ($index, @stack, %on, %idx, %low, @sccs) = (0);

my $visit;
$visit = sub {
    my ($v) = @_;
    $idx{$v} = $low{$v} = $index++;
    push @stack, $v;
    $on{$v} = 1;

    for my $w (sort keys %{$edges{$v} || {}}) {
        if (!defined $idx{$w}) {
            $visit->($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        } elsif ($on{$w}) {
            $low{$v} = $idx{$w} if $idx{$w} < $low{$v};
        }
    }

    if ($low{$v} == $idx{$v}) {
        my @c;
        my $w;
        do {
            $w = pop @stack;
            delete $on{$w};
            push @c, $w;
        } while ($w ne $v);
        push @sccs, [sort @c] if @c > 1;
    }
};

my %all = map { $_ => 1 } keys %uses, map { keys %$_ } values %edges;
$visit->($_) for grep { !defined $idx{$_} } sort keys %all;

for my $c (@sccs) {
    my %in = map { $_ => 1 } @$c;
    print "not ok: a cycle between .c files: @$c\n";
    for my $a (@$c) {
        for my $b (sort grep { $in{$_} } keys %{$edges{$a} || {}}) {
            print "    $a -> $b ($edges{$a}{$b})\n";
        }
    }
    $fail = 1;
}

printf "ok: %d .c files, %d dependencies, no cycle; hiredis only in "
    . "src/redis/\n", scalar(keys %all), scalar(map { keys %$_ } values %edges)
    unless $fail;

exit $fail;
