#!/usr/bin/perl

# Executing long-running tasks (adcp_async), on 2 workers and a local Redis:
#
#   throughput  2,000 tasks accepted (ab -k -c 16) for an adapter that
#               answers at once; executed per second, from the first
#               accept to an empty stream
#   latency     a task for an adapter that answers at once: accept ->
#               get_task_status says completed (median, p99 of 50)
#   recovery    a task whose adapter takes 3 s; nginx killed with SIGKILL
#               once the adapter has it, restarted at once: restart ->
#               completed, with adcp_task_claim_after 5s (3 runs)
#
#   perl bench/tasks-exec.pl

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_post_json json_encode json_decode wait_for
    append_line);
use AdcpMockFactory;

my $t = AdcpTest->new;

$t->redis_start();

$t->write_file_expand('nginx.conf', <<'CONF');
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_redis 127.0.0.1:%%PORT_redis%%;
    adcp_task_claim_after 5s;
    adcp_task_concurrency 16;
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;
        location /mcp {
            adcp on;
            adcp_async create_media_buy update_media_buy;
            proxy_pass http://$adcp_upstream;
        }
        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }
    }
}
CONF

my $calls = $t->testdir . '/calls.adapter';

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $name = $j->{params}{name} // '';
    my $key = $j->{params}{arguments}{idempotency_key} // '-';
    append_line($calls, $key) if $name eq 'create_media_buy';
    return [200, {}, '{"jsonrpc":"2.0","id":1,"result":{"structuredContent":'
        . '{"media_buy_id":"mb"}}}',
        { delay => $name eq 'create_media_buy' ? 3 : 0 }];
});
$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/calls', adapter => $t->port('adapter')));
$t->run();

my $port = $t->port('http');

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p * $#v + 0.5)];
}

sub xlen { ($t->redis_cmd('XLEN', 'adcp:tasks') // '') =~ /(\d+)/ ? $1 : -1 }

sub mcp {
    my ($tool, $args) = @_;
    return json_encode({ jsonrpc => '2.0', id => 1, method => 'tools/call',
        params => { name => $tool, arguments => $args } });
}

sub accept_task {
    my $r = http_post_json($port, 'bench.test', '/mcp', mcp(@_),
        Authorization => 'Bearer b');
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        {task_id};
}

sub poll {
    my $r = http_post_json($port, 'bench.test', '/mcp',
        mcp('get_task_status', { task_id => $_[0] }),
        Authorization => 'Bearer b');
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        {status} // '';
}

accept_task('update_media_buy', {}) for 1 .. 20;    # warm
wait_for(sub { xlen() == 0 }, 30);

# throughput

my $file = $t->testdir . '/body.json';
$t->write_file('body.json', mcp('update_media_buy', { buyer_ref => 'b' }));
my $t0 = time();
my $ab = `ab -q -k -n 2000 -c 16 -p $file -T application/json -H 'Host: bench.test' -H 'Authorization: Bearer b' http://127.0.0.1:$port/mcp 2>&1`;
my $accepted = time() - $t0;
wait_for(sub { xlen() == 0 }, 120) or diag('the stream did not drain');
my $done = time() - $t0;
my ($rps) = $ab =~ /Requests per second:\s+([\d.]+)/;
printf "# throughput: 2000 tasks accepted in %.2f s (ab: %s/s), all executed "
    . "%.2f s after the first accept: %.0f tasks/s\n", $accepted,
    $rps // '?', $done, 2000 / $done;

# accept -> completed, one at a time

my @lat;
for (1 .. 50) {
    my $t1 = time();
    my $id = accept_task('update_media_buy', {});
    1 until poll($id) eq 'completed' || time() - $t1 > 10;
    push @lat, 1000 * (time() - $t1);
}
printf "# accept -> completed (polled): median %.1f ms, p99 %.1f ms (50)\n",
    pct(0.5, @lat), pct(0.99, @lat);

# recovery after SIGKILL

my @rec;
for my $run (1 .. 3) {
    my $key = "kill-$run";
    my $id = accept_task('create_media_buy', { idempotency_key => $key });
    wait_for(sub { $t->count_lines('calls.adapter', $key) >= 1 }, 10)
        or die 'the adapter never got the task';

    my $master = $t->{pid};
    my @kids = map { /(\d+)/ ? $1 : () } `ps -o pid= --ppid $master`;
    kill 'KILL', $master, @kids;
    waitpid($master, 0);
    delete $t->{pid};

    # the workers' sockets close as they die
    wait_for(sub { !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") },
        10) or die 'the killed workers still listen';

    my $t2 = time();
    $t->run();
    my $up = time() - $t2;
    1 until poll($id) eq 'completed' || time() - $t2 > 60 || !sleep 0.05;
    my $took = time() - $t2;
    push @rec, $took;
    printf "# recovery run %d: nginx up in %.2f s, task completed %.2f s "
        . "after the restart; the adapter saw the key %d times\n", $run,
        $up, $took, $t->count_lines('calls.adapter', $key);
}
printf "# recovery: median %.2f s (adcp_task_claim_after 5s + the adapter's "
    . "3 s + up to claim_after/3 of tick)\n", pct(0.5, @rec);

$t->stop();
done_testing();
