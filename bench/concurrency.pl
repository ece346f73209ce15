#!/usr/bin/perl

# Cold requests at once: 1, 10, 100 and 1,000 concurrent requests (ab, one
# connection each) for one tenant never seen before, through 2 workers and
# a factory that answers in 100 ms.  Prints, per level, the factory calls
# each worker made (the goal: one for the host, whichever worker makes
# it), the latency of the last request to complete, and the factory's own
# latency.
#
#   perl bench/concurrency.pl [levels...]

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(append_line json_encode);

my @levels = @ARGV ? @ARGV : (1, 10, 100, 1000);
my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'CONF');
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 8192; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_build_timeout 20s;

    upstream adcp_adapters { adcp_balancer; keepalive 64; }

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport backlog=4096;
        adcp_factory /_factory;
        location /mcp {
            adcp on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://adcp_adapters;
        }
        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_set_header X-Worker $pid;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%% backlog=4096;
        location / { return 200 '{"jsonrpc":"2.0","id":1,"result":{}}'; }
    }
}
CONF

my $calls = $t->testdir . '/calls';
my $adapter = $t->port('adapter');

$t->mock($t->port('factory'), sub {
    my ($req) = @_;
    my ($tenant) = $req->{uri} =~ m{^/platforms/(.+)$};
    append_line($calls, "$tenant " . ($req->{headers}{'x-worker'} // '-'));
    return [200, {}, json_encode({ upstream => "127.0.0.1:$adapter" }),
        { delay => 0.1 }];
});

$t->run();

# declaring tenants builds nothing: no factory call before the first request

printf "RESULT bootcalls %d\n", $t->count_lines('calls');

# the factory's own latency, straight (the median of 3 calls)

my @probe;
for (1 .. 3) {
    my $t0 = time();
    AdcpTest::http($t->port('factory'), "GET /platforms/probe HTTP/1.1\r\n"
        . "Host: factory\r\nConnection: close\r\n\r\n");
    push @probe, (time() - $t0) * 1000;
}
my $factory_ms = (sort { $a <=> $b } @probe)[1];

my $port = $t->port('http');
my $run = time() =~ s/\.//r;

for my $n (@levels) {
    my $tenant = "cold-$n-$run";
    my $out = `ab -q -s 30 -n $n -c $n -H 'Host: $tenant.test' http://127.0.0.1:$port/mcp 2>&1`;

    my ($failed) = $out =~ /Failed requests:\s+(\d+)/;
    my ($non2xx) = $out =~ /Non-2xx responses:\s+(\d+)/;
    my ($last) = $out =~ /100%\s+(\d+)/;
    ($last) = $out =~ /Total:\s+\d+\s+\d+\s+[\d.]+\s+\d+\s+(\d+)/
        unless defined $last;

    my %per;
    for (split /\n/, $t->read_file('calls')) {
        my ($who, $pid) = split / /;
        $per{$pid}++ if $who eq $tenant;
    }

    my @builds = map { $per{$_} } sort keys %per;
    # one build for the host (the store and the host-wide claim), whichever
    # worker makes it

    my $ok = @builds == 1 && $builds[0] == 1;

    ok($ok && !$failed && !$non2xx, "$n concurrent cold requests")
        or diag($out);

    printf "RESULT concurrency %d %s %d %.0f %s\n", $n,
        join(',', @builds) || '0', $last // -1, $factory_ms,
        ($failed || $non2xx) ? 'errors' : 'ok';
}

$t->stop();

done_testing();
