#!/usr/bin/perl

# What a scrape of /adcp/status costs on a host that knows TENANTS tenants
# (issue 14): bytes and time of the JSON, the Prometheus text, and both
# with ?tenants=0, median of RUNS scrapes each.  The tenants are built
# through a regex rule first (one worker, a zone large enough for all, a
# factory and an adapter served by nginx itself); the status handler
# holds the zone's lock while it walks, so the time is also how long a
# new tenant's slot lookup in another worker may wait.
#
#   perl bench/status.pl        (TENANTS=100000 RUNS=5)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
use AdcpTest qw(http_get json_decode);

my $TENANTS = $ENV{TENANTS} || 100000;
my $RUNS = $ENV{RUNS} || 5;

my $t = AdcpTest->new;

$t->run(<<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { ~^(?<t>t[0-9]+)\.example\.com$   $t; }
    adcp_zone_size 128m;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        access_log off;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_factory%%;
        access_log off;
        location / { return 200 '{"upstream":"127.0.0.1:%%PORT_adapter%%"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        access_log off;
        keepalive_requests 1000000;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            proxy_pass http://$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

my $port = $t->port('http');

# the tenants, pipelined 64 at a time on one keep-alive connection

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
binmode $s;
my $t0 = time();
my ($buf, $ok) = ('', 0);
for (my $i = 0; $i < $TENANTS; $i += 64) {
    my $n = $i + 64 > $TENANTS ? $TENANTS - $i : 64;
    syswrite($s, join '', map {
        "GET /mcp HTTP/1.1\r\nHost: t$_.example.com\r\n\r\n"
    } $i .. $i + $n - 1);
    my $got = 0;
    while ($got < $n) {
        if ($buf =~ s/\AHTTP\/1\.1 (\d+)[^\r]*\r\n(.*?)\r\n\r\n//s) {
            my ($st, $h) = ($1, $2);
            my ($len) = $h =~ /Content-Length: (\d+)/i;
            while (length $buf < $len) {
                sysread($s, $buf, 65536, length $buf) or die "closed";
            }
            substr($buf, 0, $len, '');
            $ok++ if $st == 200;
            $got++;
            next;
        }
        sysread($s, $buf, 65536, length $buf) or die "closed";
    }
}
close $s;
is($ok, $TENANTS, sprintf('%d tenants built in %.1f s', $TENANTS,
    time() - $t0));

my $json = json_decode(http_get($port, 'x', '/adcp/status')->{body});
is(scalar keys %{$json->{tenants}}, $TENANTS, 'status knows every one');

for my $q ('', '?tenants=0', '?format=prometheus',
    '?format=prometheus&tenants=0')
{
    my (@ms, $bytes, $series);
    for (1 .. $RUNS) {
        my $t1 = time();
        my $r = http_get($port, 'x', "/adcp/status$q", timeout => 60);
        push @ms, 1000 * (time() - $t1);
        $bytes = length $r->{body};
        $series = () = $r->{body} =~ /^[a-z]/mg;
    }
    @ms = sort { $a <=> $b } @ms;
    diag(sprintf '/adcp/status%-30s %10d bytes %8s series %8.1f ms',
        $q, $bytes, $q =~ /prometheus/ ? $series : '-', $ms[@ms / 2]);
}

$t->stop();

done_testing();
