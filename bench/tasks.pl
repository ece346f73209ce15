#!/usr/bin/perl

# Accepting long-running tasks (adcp_async) against the synchronous path,
# with an adapter that takes 2 s: accept latency (median, p99 of 200
# sequential accepts, one connection each), the synchronous path's
# latency (10 calls), and accepts per second (ab, keep-alive, 16
# concurrent, 5,000 tasks), on 2 workers and a local Redis.
#
#   perl bench/tasks.pl

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http_post_json json_encode);
use AdcpMockFactory;

my $t = AdcpTest->new;

$t->redis_start();

$t->write_file_expand('nginx.conf', <<'CONF');
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_redis 127.0.0.1:%%PORT_redis%%;
    adcp_task_concurrency 0;    # accept only (bench/tasks-exec.pl runs them)
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;
        location /mcp {
            adcp on;
            adcp_async create_media_buy;
            proxy_pass http://$adcp_upstream;
        }
        location /sync { adcp on; proxy_pass http://$adcp_upstream; }
        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }
    }
}
CONF

$t->mock($t->port('adapter'), sub {
    return [200, {}, '{"jsonrpc":"2.0","id":1,"result":{}}', { delay => 2 }];
});
$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/calls', adapter => $t->port('adapter')));
$t->run();

my $port = $t->port('http');
my $body = json_encode({ jsonrpc => '2.0', id => 1, method => 'tools/call',
    params => { name => 'create_media_buy', arguments => {
        buyer_ref => 'bench', packages => [ { product_id => 'p1',
        budget => 1000 } ] } } });

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p * $#v + 0.5)];
}

http_post_json($port, 'bench.test', '/mcp', $body) for 1 .. 20;   # warm

my @acc;
for my $i (1 .. 200) {
    my $t0 = time();
    my $r = http_post_json($port, 'bench.test', '/mcp', $body,
        Authorization => 'Bearer b');
    push @acc, 1000 * (time() - $t0);
    die "not accepted: $r->{body}" unless $r->{body} =~ /submitted/;
}

my @sync;
for (1 .. 10) {
    my $t0 = time();
    http_post_json($port, 'bench.test', '/sync', $body);
    push @sync, 1000 * (time() - $t0);
}

printf "# accept: median %.2f ms, p99 %.2f ms (200 sequential)\n",
    pct(0.5, @acc), pct(0.99, @acc);
printf "# synchronous path: median %.1f ms, p99 %.1f ms (10)\n",
    pct(0.5, @sync), pct(0.99, @sync);

my $file = $t->testdir . '/body.json';
$t->write_file('body.json', $body);
my $ab = `ab -q -k -n 5000 -c 16 -p $file -T application/json -H 'Host: bench.test' -H 'Authorization: Bearer b' http://127.0.0.1:$port/mcp 2>&1`;
my ($rps) = $ab =~ /Requests per second:\s+([\d.]+)/;
my ($failed) = $ab =~ /Failed requests:\s+(\d+)/;
my ($non2xx) = $ab =~ /Non-2xx responses:\s+(\d+)/;
printf "# accepts per second: %s (ab -k -c 16 -n 5000; failed %s, "
    . "non-2xx %s)\n", $rps // '?', $failed // '?', $non2xx // 0;
printf "# stream entries: %s", $t->redis_cmd('XLEN', 'adcp:tasks');

$t->stop();
done_testing();
