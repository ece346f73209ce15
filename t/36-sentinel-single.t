#!/usr/bin/perl

# Redis with Sentinel in one nginx process (issue 17): the part of
# t/35-sentinel.t that runs under valgrind (ADCP_TEST_VALGRIND=1, one
# process).  A master, a replica, three sentinels behind one that answers
# garbage; adcp_task_durability replicas=1.  A task accepted and an
# invalidation applied before the master is SIGKILLed; after the failover
# the host is on the new master, an invalidation through it is applied,
# and a task accepted before completes; then nginx stops cleanly (every
# sentinel connection, the probe, the link and the consumer closed).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_get http_post_json json_decode json_encode wait_for);
use AdcpMockFactory;
use AdcpRedisHA;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $SLOW = AdcpTest::slow();

my $t = AdcpTest->new;
my $ha = AdcpRedisHA->new($t, down_after => 1000, failover_timeout => 3000);

$ha->redis('m1');
$ha->redis('r1', replica_of => 'm1');
$ha->sentinel($_, 'm1') for qw(s1 s2 s3);
$ha->fake_sentinel('bad', "\$5\r\nhello\r\n");

ok(wait_for(sub {
    for my $s (qw(s1 s2 s3)) {
        my $r = $ha->cmd($s, 'SENTINEL', 'replicas', 'mymaster');
        my $o = $ha->cmd($s, 'SENTINEL', 'sentinels', 'mymaster');
        return 0 unless ref $r eq 'ARRAY' && @$r == 1
            && ref $o eq 'ARRAY' && @$o == 2;
    }
    my $info = $ha->cmd('m1', 'INFO', 'replication') // '';
    return $info =~ /^slave0:.*state=online/m;
}, 30), 'sentinels see the replica and each other');

my $sentinels = join ',', map { '127.0.0.1:' . $ha->port($_) }
    qw(bad s1 s2 s3);

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 1;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis            sentinel=$sentinels master=mymaster;
    adcp_redis_channel    test:invalidate;
    adcp_redis_ping       2s;
    adcp_task_durability  replicas=1 timeout=1s;
    adcp_task_claim_after 3s;

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            adcp_async create_media_buy;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

my $calls = $t->testdir . '/adapter.calls';

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $key = ($j->{params}{arguments} // {})->{idempotency_key} // '-';
    AdcpTest::append_line($calls, $key);
    my $sc = { media_buy_id => "mb-$key", status => 'active',
        packages => [] };
    return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
        result => { structuredContent => $sc,
        content => [{ type => 'text', text => json_encode($sc) }] } })];
});

$t->run();

my $port = $t->port('http');
my $m1 = '127.0.0.1:' . $ha->port('m1');
my $r1 = '127.0.0.1:' . $ha->port('r1');

sub status { json_decode(http_get($port, 'x', '/adcp/status')->{body}) // {} }

sub mcp {
    my ($tool, $args) = @_;
    my $r = http_post_json($port, 'acme.test', '/mcp', json_encode({
        jsonrpc => '2.0', id => 1, method => 'tools/call',
        params => { name => $tool, arguments => $args } }),
        Authorization => 'Bearer buyer-one');
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        // {};
}

ok(wait_for(sub {
    my $s = status()->{redis} // {};
    ($s->{state} // '') eq 'subscribed' && ($s->{master} // '') eq $m1
}, 15 * $SLOW), 'subscribed to the master, past a garbage sentinel');

is_deeply([map { $_->{up} ? 1 : 0 } @{status()->{redis}{sentinels}}],
    [0, 1, 1, 1], 'status: the garbage sentinel does not answer');

my $a = mcp('create_media_buy', { idempotency_key => 'single-key-1' });
is($a->{status}, 'submitted', 'accepted once WAIT confirmed');

$ha->cmd('m1', 'PUBLISH', 'test:invalidate', 'one-a');
ok(wait_for(sub { (status()->{redis}{messages} // 0) == 1 }),
    'an invalidation through the master');

ok(wait_for(sub {
    (mcp('get_task_status', { task_id => $a->{task_id} })->{status} // '')
        eq 'completed' }, 20 * $SLOW), 'the task completes');

my $t0 = time();
$ha->kill('m1');

ok(wait_for(sub {
    my $s = status()->{redis} // {};
    ($s->{state} // '') eq 'subscribed' && ($s->{master} // '') eq $r1
}, (1 + 3 + 1) * $SLOW + 2), 'on the new master after the failover');
diag(sprintf "on the new master %.2f s after SIGKILL", time() - $t0);

is(status()->{redis}{failovers}, 1, 'status: one failover');

$ha->cmd('r1', 'PUBLISH', 'test:invalidate', 'one-b');
ok(wait_for(sub { (status()->{redis}{messages} // 0) == 2 }),
    'an invalidation through the new master');

# the new master has no replica: WAIT falls short

my $b = mcp('create_media_buy', { idempotency_key => 'single-key-2' });
is(($b->{adcp_error} // {})->{code}, 'SERVICE_UNAVAILABLE',
    'no replica left: SERVICE_UNAVAILABLE');

# the master turns into a replica, every sentinel gone: a READONLY reply,
# the master in use checked itself, withdrawn; nothing more written

$ha->kill($_) for qw(s1 s2 s3);
$ha->redis('x1');
is($ha->cmd('r1', 'REPLICAOF', '127.0.0.1', $ha->port('x1')), 'OK',
    'the master becomes a replica');

my $c = mcp('create_media_buy', { idempotency_key => 'single-key-3' });
is(($c->{adcp_error} // {})->{code}, 'SERVICE_UNAVAILABLE',
    'a write refused with READONLY: SERVICE_UNAVAILABLE');

ok(wait_for(sub {
    my $s = status()->{redis} // {};
    exists $s->{master} && !defined $s->{master}
}, 5 * $SLOW), 'status: no master (withdrawn)');

$c = mcp('create_media_buy', { idempotency_key => 'single-key-4' });
is(($c->{adcp_error} // {})->{code}, 'SERVICE_UNAVAILABLE',
    'no master: SERVICE_UNAVAILABLE');

$t->stop();

my $log = $t->read_file('error.log');
like($log, qr/a READONLY reply: asking the sentinels again/,
    'error.log: READONLY sends the module back to discovery');
like($log, qr/the master in use, \Q$r1\E, is not a master any more/,
    'error.log: ROLE says replica');
like($log, qr/\Q$r1\E withdrawn/, 'error.log: withdrawn');

done_testing();
