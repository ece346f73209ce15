#!/usr/bin/perl

# Invalidation through Redis, measured (issue 6's figures):
#
# 1. PUBLISH -> every worker of two hosts (2 workers each) serving the
#    rebuilt platform: median and p99 of RUNS runs, next to the raw Redis
#    pub/sub round trip on the same machine;
# 2. factory calls caused by a graceful Redis restart (data kept) with
#    TENANTS cached tenants (goal: 0), and by a restart that lost the data
#    (goal: one rebuild per cached platform per host: the host's platform
#    store, adcp_cache_shared, serves its other workers).
#
#   perl bench/invalidation.pl            (RUNS=100 TENANTS=500)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time);
use AdcpTest qw(http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;

my $RUNS = $ENV{RUNS} || 100;
my $TENANTS = $ENV{TENANTS} || 500;
my $W = 2;

my $h1 = AdcpTest->new;
my $h2 = AdcpTest->new;
my $rport = $h1->redis_start();

my $conf = <<'EOF';
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$   $t; }
    adcp_redis          127.0.0.1:REDIS;
    adcp_redis_ping     1s;
    adcp_cache_size     2048;
    adcp_zone_size      8m;
    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '$http_x_build'; }
    }
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;
        location /mcp {
            adcp on;
            add_header X-Pid $pid always;
            proxy_set_header X-Build $adcp_platform_build;
            proxy_pass http://$adcp_upstream;
        }
        %%FACTORY_LOCATION%%
        location = /adcp/status { adcp_status; }
    }
}
EOF

for my $h ($h1, $h2) {
    $h->write_file_expand('nginx.conf', $conf =~ s/REDIS/$rport/r);
    $h->mock($h->port('factory'), AdcpMockFactory::handler(
        counter => $h->testdir . '/factory.calls',
        adapter => $h->port('adapter')));
    $h->run();
}

sub st { json_decode(http_get($_[0]->port('http'), 'x', '/adcp/status')->{body}) // {} }
sub subscribed { (st($_[0])->{redis}{state} // '') eq 'subscribed' }
sub calls { my @l = split /\n/, $_[0]->read_file('factory.calls'); scalar @l }

# the build each worker serves for the tenant: { pid => build }

sub builds {
    my ($h, $tenant, $want) = @_;
    my %b;
    for (1 .. 200) {
        for (http_parallel($h->port('http'),
            map { get_raw("$tenant.test", '/mcp') } 1 .. 8))
        {
            next unless ($_->{status} // 0) == 200;
            my $pid = $_->{headers}{'x-pid'};
            $b{$pid} = $_->{body} if !$want || $_->{body} > ($want->{$pid} // 0);
        }
        last if keys %b >= $W && (!$want || keys %b >= keys %$want);
    }
    return \%b;
}

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p / 100 * $#v + 0.5)];
}

wait_for(sub { subscribed($h1) && subscribed($h2) }, 20) or die "no link";

# --- 1. PUBLISH -> every worker of both hosts serving a new build --------

my %old = map { $_ => builds($_, 'lat') } $h1, $h2;
my $s = IO::Socket::INET->new("127.0.0.1:$rport") or die;
my $resp = sub { '*' . @_ . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_ };
my @lat;

for my $run (1 .. $RUNS) {
    my $t0 = time();
    syswrite $s, $resp->('PUBLISH', 'adcp:invalidate', 'lat');
    <$s>;
    my %new;
    for my $h ($h1, $h2) {
        $new{$h} = builds($h, 'lat', $old{$h});
        keys %{$new{$h}} >= $W or die "run $run: a worker kept its platform";
    }
    push @lat, (time() - $t0) * 1000;
    %old = %new;
}

# the raw pub/sub round trip

my $sub = IO::Socket::INET->new("127.0.0.1:$rport") or die;
syswrite $sub, $resp->('SUBSCRIBE', 'bench:rtt');
<$sub> for 1 .. 6;
my @rtt;
for (1 .. $RUNS) {
    my $t0 = time();
    syswrite $s, $resp->('PUBLISH', 'bench:rtt', 'x');
    <$s>;
    <$sub> for 1 .. 7;    # *3 $7 message $8 bench:rtt $1 x
    push @rtt, (time() - $t0) * 1000;
}

printf "# invalidation, PUBLISH -> all %d workers of 2 hosts serving the "
    . "rebuilt platform, %d runs: median %.2f ms, p99 %.2f ms\n",
    2 * $W, $RUNS, pct(50, @lat), pct(99, @lat);
printf "# raw Redis pub/sub round trip, %d runs: median %.3f ms, "
    . "p99 %.3f ms\n", $RUNS, pct(50, @rtt), pct(99, @rtt);

# --- 2. Redis restarts with, then without, its data ----------------------

# every tenant served (so cached) by every worker of both hosts

sub warm_all {
    for my $h ($h1, $h2) {
        for my $i (1 .. $TENANTS) {
            my %pids;
            for (1 .. 50) {
                $pids{$_->{headers}{'x-pid'} // '?'}++
                    for grep { ($_->{status} // 0) == 200 }
                        http_parallel($h->port('http'),
                            map { get_raw("r$i.test", '/mcp') } 1 .. 6);
                last if keys %pids >= $W;
            }
        }
    }
}

sub tail {
    my $info = `redis-cli --raw -p $rport XINFO STREAM adcp:invalidate:log 2>&1`;
    my ($id) = $info =~ /^last-generated-id\n(\S+)/m;
    return $id // '0-0';     # no log: what a host records then
}

# both hosts subscribed, their position at the log's last entry

sub settle {
    wait_for(sub { subscribed($h1) && subscribed($h2) }, 60) or die "no link";
    my $tail = tail();
    for my $h ($h1, $h2) {
        wait_for(sub { (st($h)->{redis}{log_entry} // '') eq $tail }, 20)
            or die "a host did not read the log";
    }
}

# entries in the log, as the admin endpoint and the ops script leave them

`redis-cli -p $rport XADD adcp:invalidate:log '*' m warmup >/dev/null 2>&1`;
warm_all();
my $before = calls($h1) + calls($h2);

settle();

`redis-cli -p $rport SAVE >/dev/null 2>&1`;
$h1->redis_stop();
wait_for(sub { !subscribed($h1) && !subscribed($h2) }, 20);
$h1->redis_start();
settle();
warm_all();
my $graceful = calls($h1) + calls($h2) - $before;

unlink $h1->testdir . '/dump.rdb';
$h1->redis_stop();
wait_for(sub { !subscribed($h1) && !subscribed($h2) }, 20);
$before = calls($h1) + calls($h2);
$h1->redis_start();
settle();
wait_for(sub { (st($h1)->{redis}{resyncs} // 0) >= 1
    && (st($h2)->{redis}{resyncs} // 0) >= 1 }, 20);
warm_all();
my $lost = calls($h1) + calls($h2) - $before;

printf "# graceful Redis restart (data kept), %d tenants cached in %d "
    . "workers of 2 hosts: %d factory calls (goal 0)%s\n", $TENANTS, $W,
    $graceful, $graceful ? '  MISSED' : '';
printf "# Redis restart that lost its data: %d factory calls (goal %d = "
    . "one per cached platform per host)%s\n", $lost, 2 * $TENANTS,
    $lost == 2 * $TENANTS ? '' : '  MISSED';

$h2->stop();
$h1->stop();

done_testing();
