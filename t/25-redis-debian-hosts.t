#!/usr/bin/perl

# t/10-redis.t again, with nginx resolving names through a stock Debian 12
# /etc/hosts (the "::1 localhost" line first: localhost is ::1 first, and
# the test's redis-server listens on 127.0.0.1 only), in a mount namespace
# of nginx's own (issue 14: the machine CI runs on has no ::1 line).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use Test::More;
use AdcpTest;

my $why = AdcpTest::hosts_ok();
plan skip_all => $why if $why;

my ($fh, $hosts) = tempfile('adcp-hosts-XXXXXX', TMPDIR => 1, UNLINK => 1);
print $fh <<'EOF_HOSTS';
::1             localhost ip6-localhost ip6-loopback
127.0.0.1       localhost
127.0.1.1       debian
ff02::1         ip6-allnodes
ff02::2         ip6-allrouters
EOF_HOSTS
close $fh;
chmod 0644, $hosts;

$ENV{ADCP_TEST_HOSTS} = $hosts;

do "$FindBin::Bin/10-redis.t";
die $@ if $@;
