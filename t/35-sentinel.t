#!/usr/bin/perl

# Redis with Sentinel (issue 17, SPEC section 6): one master, one replica,
# three sentinels (down-after 2 s), two nginx hosts x two workers, each
# with adcp_redis sentinel=... master=mymaster.  Both hosts find the
# master; an entry logged on the master and replicated, but never
# published, is replayed from the new master after the master is killed
# (SIGKILL); within down-after + failover-timeout + 1 s both hosts are
# subscribed to the new master (status redis.master), follow one failover
# (redis.failovers), and a PUBLISH through adcp-invalidate against the new
# master rebuilds each worker once.  Then adcp_task_durability replicas=1:
# 500 create_media_buy accepts in a loop while the master is killed again;
# every task answered "submitted" completes, the SERVICE_UNAVAILABLE ones
# succeed on retry with the same key, no key runs twice.  Bad sentinels:
# one answering garbage, one naming a replica, one down: the master is
# still found, and nothing is written to the replica.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;
use AdcpRedisHA;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
plan skip_all => 'redis-cli not installed'
    unless grep { -x "$_/redis-cli" } split /:/, $ENV{PATH};
plan skip_all => 'several nginx hosts with several workers: not under '
    . 'valgrind' if AdcpTest::valgrind();

my $ROOT = AdcpTest::repo_root();
my $SLOW = AdcpTest::slow();

my $t1 = AdcpTest->new;
# down-after 2 s, not 1: on a loaded 2-core machine a master forking for
# its new replicas' sync stalled past 1 s and the sentinels failed it over
# by themselves, in the middle of the durability part
my $DOWN_AFTER = 2;
my $ha = AdcpRedisHA->new($t1, down_after => $DOWN_AFTER * 1000,
    failover_timeout => 3000);

$ha->redis('m1');
$ha->redis('r1', replica_of => 'm1');
$ha->sentinel($_, 'm1') for qw(s1 s2 s3);

# the sentinels know the replica and each other: a failover can happen

ok(wait_for(sub {
    for my $s (qw(s1 s2 s3)) {
        my $r = $ha->cmd($s, 'SENTINEL', 'replicas', 'mymaster');
        my $o = $ha->cmd($s, 'SENTINEL', 'sentinels', 'mymaster');
        return 0 unless ref $r eq 'ARRAY' && @$r == 1
            && ref $o eq 'ARRAY' && @$o == 2;
    }
    my $info = $ha->cmd('r1', 'INFO', 'replication') // '';
    return $info =~ /master_link_status:up/;
}, 30), 'sentinels see the replica and each other');

my $sentinels = join ',', map { '127.0.0.1:' . $ha->port($_) } qw(s1 s2 s3);

sub conf {
    my ($extra) = @_;
    $extra //= '';
    return <<"EOF";
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis          sentinel=$sentinels master=mymaster;
    adcp_redis_channel  test:invalidate;
    adcp_redis_ping     1s;
    $extra

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"build":"\$http_x_build"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Pid \$pid always;
            proxy_set_header X-Build \$adcp_platform_build;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF
}

my $t2 = AdcpTest->new;
my @hosts = ($t1, $t2);

for my $t (@hosts) {
    $t->write_file_expand('nginx.conf', conf());
    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));
    $t->run();
}

sub status {
    my ($t) = @_;
    return json_decode(http_get($t->port('http'), 'x', '/adcp/status')
        ->{body}) // {};
}

sub each_worker {
    my ($t, $tenant) = @_;
    my %pids;
    for (1 .. 40) {
        my @r = http_parallel($t->port('http'),
            map { get_raw("$tenant.test", '/mcp') } 1 .. 8);
        $pids{$_->{headers}{'x-pid'} // '?'}++ for @r;
        last if keys %pids >= 2;
    }
    return scalar keys %pids;
}

sub invalidate {
    my ($node, $tenant) = @_;
    my $port = $ha->port($node);
    my $out = `$ROOT/conf-examples/adcp-invalidate -u redis://127.0.0.1:$port --channel test:invalidate $tenant 2>&1`;
    return $out;
}

my $m1 = '127.0.0.1:' . $ha->port('m1');
my $r1 = '127.0.0.1:' . $ha->port('r1');
my $r1p = $ha->port('r1');

for my $i (0, 1) {
    my $t = $hosts[$i];
    ok(wait_for(sub {
        my $s = status($t)->{redis} // {};
        ($s->{state} // '') eq 'subscribed' && ($s->{master} // '') eq $m1
    }, 10 * $SLOW), "host $i: subscribed to the master the sentinels name");
}

my $s = status($t1)->{redis};
is_deeply([map { $_->{up} ? 1 : 0 } @{$s->{sentinels}}], [1, 1, 1],
    'status: three sentinels, each answering');
is_deeply([map { $_->{address} } @{$s->{sentinels}}],
    [map { '127.0.0.1:' . $ha->port($_) } qw(s1 s2 s3)],
    'status: the sentinels\' addresses');
is($s->{failovers}, 0, 'status: no failover yet');

like(http_get($t1->port('http'), 'x', '/adcp/status?format=prometheus')
    ->{body}, qr/^adcp_redis_master\{address="\Q$m1\E"\} 1$/m,
    'prometheus: adcp_redis_master');

# a message through the master: each host rebuilds once, both workers serve it

for my $t (@hosts) {
    is(each_worker($t, 'fo-a'), 2, 'both workers serve fo-a');
}

my $out = invalidate('m1', 'fo-a');
like($out, qr/heard by 2 host/,
    'adcp-invalidate through the master: both hosts hear it');
my ($id) = $out =~ /logged as (\d+-\d+)/;

# applied, and the position moved past it (at the next renewal)

for my $i (0, 1) {
    my $t = $hosts[$i];
    ok(wait_for(sub {
        my $st = status($t)->{redis};
        ($st->{messages} // 0) == 1 && ($st->{log_entry} // '') eq $id
    }), "host $i: applied, the log position is its entry");
    is(each_worker($t, 'fo-a'), 2, "host $i: fo-a served");
    is($t->count_lines('factory.calls', 'fo-a'), 2,
        "host $i: fo-a rebuilt once for the host (one build per host)");
}

# logged and replicated, never published (the master dies first): only a
# replay from the new master applies it

like($ha->cmd('m1', 'XADD', 'test:invalidate:log', '*', 'm', 'fo-r'),
    qr/^\d+-\d+$/, 'an entry logged on the master alone');
is($ha->cmd('m1', 'WAIT', 1, 2000), 1, '... and on the replica');

for my $t (@hosts) { each_worker($t, 'fo-r') }

# the failover

my $t0 = time();
$ha->kill('m1');

my %subscribed;
my %replayed;
my $deadline = $t0 + ($DOWN_AFTER + 3 + 1) * $SLOW;

while (time() < $deadline && (keys %subscribed < 2 || keys %replayed < 2)) {
    for my $i (0, 1) {
        my $st = status($hosts[$i])->{redis} // {};
        $subscribed{$i} //= time() - $t0
            if ($st->{master} // '') eq $r1 && $st->{state} eq 'subscribed';
        $replayed{$i} //= time() - $t0 if ($st->{replayed} // 0) >= 1;
    }
    sleep 0.05;
}

for my $i (0, 1) {
    ok(defined $subscribed{$i}, "host $i: subscribed to the new master "
        . "within down-after + failover-timeout + 1 s")
        and diag(sprintf "host %d: subscribed to the new master %.2f s "
            . "after SIGKILL", $i, $subscribed{$i});
    ok(defined $replayed{$i}, "host $i: the entry only the replica had "
        . "is replayed")
        and diag(sprintf "FIGURE host %d: first invalidation applied "
            . "through the new master %.2f s after SIGKILL", $i,
            $replayed{$i});
}

for my $i (0, 1) {
    my $st = status($hosts[$i])->{redis};
    is($st->{failovers}, 1, "host $i: status: one failover followed");
    is($st->{resyncs}, 0, "host $i: no resync: nothing was lost");
    is($st->{messages}, 2, "host $i: two messages applied, once each");
}

for my $i (0, 1) {
    my $t = $hosts[$i];
    is(each_worker($t, 'fo-r'), 2, "host $i: fo-r served");
    is($t->count_lines('factory.calls', 'fo-r'), 2,
        "host $i: the replayed entry rebuilt fo-r once for the host");
}

my %before = map { $_ => status($hosts[$_])->{redis}{messages} } 0, 1;

like(invalidate('r1', 'fo-a'), qr/heard by 2 host/,
    'adcp-invalidate through the new master: both hosts hear it');

for my $i (0, 1) {
    my $t = $hosts[$i];
    ok(wait_for(sub {
        (status($t)->{redis}{messages} // 0) == $before{$i} + 1 }),
        "host $i: applied") or diag(explain status($t)->{redis});
    is(each_worker($t, 'fo-a'), 2, "host $i: fo-a served");
    is($t->count_lines('factory.calls', 'fo-a'), 3,
        "host $i: fo-a rebuilt once per message for the host");
}

$_->stop() for @hosts;

for my $i (0, 1) {
    my $log = $hosts[$i]->read_file('error.log');
    like($log, qr/following \+switch-master on sentinel/,
        "host $i: error.log: subscribed to +switch-master");
    like($log, qr/\+switch-master mymaster \S+ \d+ 127\.0\.0\.1 \Q$r1p\E\n.*master is \Q$r1\E \(failover followed\)/,
        "host $i: error.log: the failover followed on +switch-master");
}

# --- adcp_task_durability replicas=1: accepts across a failover --------

# the master now is r1: two replicas, so that one is left after it dies

$ha->redis('r2', replica_of => 'r1');
$ha->redis('r3', replica_of => 'r1');

ok(wait_for(sub {
    for my $s (qw(s1 s2 s3)) {
        my $r = $ha->cmd($s, 'SENTINEL', 'replicas', 'mymaster');
        my %up = map { my %h = @$_; ("$h{port}" => $h{flags}) } @$r;
        return 0 unless ($up{$ha->port('r2')} // '') eq 'slave'
            && ($up{$ha->port('r3')} // '') eq 'slave';
    }
    return 1;
}, 30), 'the sentinels see the two new replicas');

ok(wait_for(sub {
    my $info = $ha->cmd('r1', 'INFO', 'replication') // '';
    my @online = $info =~ /^slave\d+:.*state=online/mg;
    return @online == 2;
}, 30), '... and both are in sync with r1');

my $t3 = AdcpTest->new;
my $calls = $t3->testdir . '/adapter.calls';

$t3->write_file_expand('nginx.conf', conf(<<'EOC') =~ s/add_header X-Pid/adcp_async create_media_buy; add_header X-Pid/r);
adcp_task_durability replicas=1 timeout=500ms;
    adcp_task_claim_after 3s;
    adcp_task_timeout 10s;
EOC

$t3->mock($t3->port('factory'), AdcpMockFactory::handler(
    counter => $t3->testdir . '/factory.calls',
    adapter => $t3->port('adapter2')));

$t3->mock($t3->port('adapter2'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $a = $j->{params}{arguments} // {};
    my $key = $a->{idempotency_key} // '-';
    AdcpTest::append_line($calls, $key);
    my $sc = { media_buy_id => "mb-$key", status => 'active',
        packages => [] };
    return [200, {}, AdcpTest::json_encode({ jsonrpc => '2.0',
        id => $j->{id}, result => { structuredContent => $sc,
        content => [{ type => 'text',
            text => AdcpTest::json_encode($sc) }] } })];
});

$t3->run();

ok(wait_for(sub {
    my $s = status($t3)->{redis} // {};
    ($s->{state} // '') eq 'subscribed' && ($s->{master} // '') eq $r1
}, 10 * $SLOW), 'tasks host: on the master r1');

sub accept_once {
    my ($key) = @_;
    my $body = AdcpTest::json_encode({ jsonrpc => '2.0', id => 1,
        method => 'tools/call', params => { name => 'create_media_buy',
        arguments => { idempotency_key => $key, buyer_ref => 'b' } } });
    my $r = AdcpTest::http_post_json($t3->port('http'), 'acme.test', '/mcp',
        $body, Authorization => 'Bearer buyer-one');
    my $sc = (json_decode($r->{body}) // {})->{result}{structuredContent}
        // {};
    return $sc;
}

my $N = 500;
my (%task, %unavailable, %other, %retried);
my $killed;

for my $i (1 .. $N) {
    my $key = sprintf 'dur-%04d-key', $i;

    if ($i == 150) {
        $ha->kill('r1');
        $killed = time();
    }

    my $sc = accept_once($key);
    sleep 0.01;    # pace: the loop spans the failover

    if (($sc->{status} // '') eq 'submitted') {
        $task{$key} = $sc->{task_id};
    } elsif ((($sc->{adcp_error} // {})->{code} // '') eq
        'SERVICE_UNAVAILABLE')
    {
        $unavailable{$key} = 1;
    } else {
        $other{$key} = $sc;
    }
}

diag(sprintf "%d submitted, %d SERVICE_UNAVAILABLE, %d other, of %d",
    scalar keys %task, scalar keys %unavailable, scalar keys %other, $N);
is(scalar keys %other, 0, 'every accept is submitted or SERVICE_UNAVAILABLE')
    or diag(explain \%other);

# the SERVICE_UNAVAILABLE ones: the same key again, until accepted

for my $key (sort keys %unavailable) {
    my $sc;
    wait_for(sub {
        $sc = accept_once($key);
        ($sc->{status} // '') eq 'submitted'
    }, 20 * $SLOW);
    $retried{$key} = $sc->{task_id} if ($sc->{status} // '') eq 'submitted';
}

is(scalar keys %retried, scalar keys %unavailable,
    'every SERVICE_UNAVAILABLE accept succeeds on retry with its key');

my %all = (%task, %retried);
is(scalar keys %all, $N, "$N tasks accepted");

# a key answered submitted before the failover is still the same task

my $same = 0;
for my $key (sort keys %task) {
    my $sc = accept_once($key);
    $same++ if ($sc->{task_id} // '') eq $task{$key};
}
is($same, scalar keys %task, 'a retry of a submitted key: the same task '
    . '(nothing acknowledged was lost)');

sub poll_task {
    my ($id) = @_;
    my $body = AdcpTest::json_encode({ jsonrpc => '2.0', id => 2,
        method => 'tools/call', params => { name => 'get_task_status',
        arguments => { task_id => $id } } });
    my $r = AdcpTest::http_post_json($t3->port('http'), 'acme.test', '/mcp',
        $body, Authorization => 'Bearer buyer-one');
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        // {};
}

my %left = %all;
my %result;
wait_for(sub {
    for my $key (keys %left) {
        my $st = poll_task($left{$key});
        next unless ($st->{status} // '') eq 'completed';
        $result{$key} = ($st->{result} // {})->{media_buy_id} // '';
        delete $left{$key};
    }
    return !%left;
}, 60 * $SLOW);

is(scalar keys %left, 0, 'every accepted task reaches completed')
    or diag(explain [map { "$_ " . (poll_task($left{$_})->{status} // '') }
        (sort keys %left)[0 .. 9]]);

# the buyer's view: one task per key, one result, its own

is(scalar(grep { $result{$_} eq "mb-$_" } keys %all), $N,
    'each task\'s result is its own media buy');

# the adapter's: every key ran; a task whose outcome died with the master
# is reclaimed and sent again, with the same idempotency_key (at most
# twice, as after a SIGKILLed nginx in t/22-tasks-exec.t)

my %ran;
$ran{$_}++ for split /\n/, $t3->read_file('adapter.calls');
my @twice = grep { $ran{$_} > 1 } sort keys %ran;
is(scalar(grep { $ran{$_} } keys %all), $N, 'every key ran');
is(scalar(grep { $ran{$_} > 2 } keys %ran), 0,
    'no key reached the adapter more than twice');
diag(sprintf "FIGURE keys sent to the adapter twice (the outcome's write "
    . "lost with the master, reclaimed): %d%s", scalar @twice,
    @twice ? " (@twice[0 .. ($#twice < 9 ? $#twice : 9)])" : '');

diag(sprintf "FIGURE accepts lost: %d (answered submitted, never "
    . "completed)", scalar grep { $task{$_} } keys %left);

# WAIT decides: the replica gone, an accept is SERVICE_UNAVAILABLE (with
# nothing said about the task); back, the same key is its task

my ($mnode) = grep { ($ha->cmd($_, 'ROLE') // [''])->[0] eq 'master' }
    qw(r2 r3);
my ($rnode) = grep { $_ ne $mnode } qw(r2 r3);
$ha->kill($rnode);

my $sc = accept_once('dur-norep-key');
is(($sc->{adcp_error} // {})->{code}, 'SERVICE_UNAVAILABLE',
    'no replica: SERVICE_UNAVAILABLE');
is(($sc->{adcp_error} // {})->{recovery}, 'transient', '... transient');

$ha->redis($rnode, replica_of => $mnode);
ok(wait_for(sub {
    my $info = $ha->cmd($mnode, 'INFO', 'replication') // '';
    return $info =~ /^slave\d+:.*state=online/m;
}, 30), 'the replica is back');

$sc = accept_once('dur-norep-key');
is($sc->{status}, 'submitted', 'the retry with the same key: submitted');
like($t3->read_file('error.log'),
    qr/WAIT: 0 of 1 replicas within 500 ms/, 'error.log: WAIT fell short');

$t3->stop();

# --- bad sentinels: garbage, a replica named, one down; then a good one --

my $t4 = AdcpTest->new;
my $mport = $ha->port($mnode);
my $rport = $ha->port($rnode);

$ha->fake_sentinel('bad1', "*2\r\n\$11\r\nnot-an-addr\r\n\$2\r\nxx\r\n");
$ha->fake_sentinel('bad2', "*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($rport)
    . "\r\n$rport\r\n");
my $down = AdcpTest::free_port();

$sentinels = join ',', map { "127.0.0.1:$_" } $ha->port('bad1'),
    $ha->port('bad2'), $down, $ha->port('s1');

$t4->write_file_expand('nginx.conf', conf());
$t4->mock($t4->port('factory'), AdcpMockFactory::handler(
    counter => $t4->testdir . '/factory.calls',
    adapter => $t4->port('adapter')));
$t4->run();

ok(wait_for(sub {
    my $s = status($t4)->{redis} // {};
    ($s->{state} // '') eq 'subscribed'
        && ($s->{master} // '') eq "127.0.0.1:$mport"
}, 10 * $SLOW), 'bad sentinels first: the master is still found');

is_deeply([map { $_->{up} ? 1 : 0 } @{status($t4)->{redis}{sentinels}}],
    [0, 1, 0, 1], 'status: garbage and down do not answer');

like(invalidate($mnode, 'bad-a'), qr/heard by 1 host/,
    'a message through the master reaches the host');

$t4->stop();

my $log4 = $t4->read_file('error.log');
like($log4, qr/sentinel 127\.0\.0\.1:\d+ names no usable master/,
    'error.log: the garbage answer');
like($log4, qr/127\.0\.0\.1:$rport named by sentinel \S+ is not a master/,
    'error.log: the replica named');
like($log4, qr/sentinel 127\.0\.0\.1:$down does not answer/,
    'error.log: the sentinel down');
unlike($log4, qr/subscribed to "test:invalidate" on 127\.0\.0\.1:$rport/,
    'never subscribed to the replica');

done_testing();
