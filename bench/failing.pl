#!/usr/bin/perl

# A failing factory behind 4 workers: 16-request bursts every 0.1 s for
# 7.5 s; prints the factory calls and when they happened.  Goal: one per
# failure TTL for the whole host (adcp_failure_ttl 1s 4s: 0, 1, 3, 7 s).
#
#   perl bench/failing.pl

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_parallel get_raw);
use AdcpMockFactory;

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'CONF');
%%TEST_GLOBALS%%
worker_processes 4;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_failure_ttl 1s 4s;
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;
        location /mcp { adcp on; proxy_pass http://$adcp_upstream; }
        %%FACTORY_LOCATION%%
    }
}
CONF

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/calls', adapter => 1));
$t->run();

my $t0 = time();
my ($seen, @at) = (0);

while (time() - $t0 < 7.5) {
    http_parallel($t->port('http'),
        map { get_raw('fail-x.test', '/mcp') } 1 .. 16);
    my $n = $t->count_lines('calls', 'fail-x');
    while ($seen < $n) {
        push @at, sprintf('%.1f s', time() - $t0);
        $seen++;
    }
    sleep 0.1;
}

diag(sprintf('%d factory calls in 7.5 s of bursts over 4 workers, at %s',
    scalar @at, join(', ', @at)));

$t->stop();

done_testing();
