#!/usr/bin/perl

# adcp_cache_refresh: 4 workers, adcp_cache_ttl 4s, steady traffic for 20 s
# on new connections: one factory call per tenant per refresh, no request
# answered MISS/EXPIRED after the first build, every one of them faster
# than the factory; a refresh that fails leaves the platform serving until
# it expires, then the failure rules apply.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_get http_parallel get_raw json_decode append_line);
use AdcpMockFactory;

# --- one worker (also under valgrind): the loopback refresh request, and
# the background subrequest without a store ---------------------------------

for my $shared ('32m', 'off') {
    my $t = AdcpTest->new;
    my $ttl = 3 * AdcpTest::slow();

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\\.test\$ \$t; }
    adcp_cache_ttl ${ttl}s;
    adcp_cache_refresh 50%;
    adcp_cache_shared $shared;
    log_format c '\$adcp_tenant \$adcp_cache_status \$status';
    access_log %%TESTDIR%%/cache.log c;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Build \$adcp_platform_build always;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));
    $t->run();

    my $port = $t->port('http');
    my $get = sub { http_get($port, 'one-a.test', '/mcp') };

    my $r = $get->();
    my $t0 = time();
    is($r->{headers}{'x-build'}, 1, "$shared: built");
    sleep 0.01 while time() - $t0 < $ttl * 0.5 + 0.2;

    $r = $get->();
    is($r->{status}, 200, "$shared: past 50 %: served");
    is($r->{headers}{'x-cache'}, 'UPDATING', "$shared: UPDATING");
    is($r->{headers}{'x-build'}, 1, "$shared: by the current platform");

    ok(AdcpTest::wait_for(sub {
        $t->count_lines('factory.calls', 'one-a') == 2 }),
        "$shared: rebuilt in the background");
    ok(AdcpTest::wait_for(sub { ($get->()->{headers}{'x-build'} // 0) == 2 }),
        "$shared: the new platform serves");
    ok(time() - $t0 < $ttl, "$shared: before the old one expired");
    is($get->()->{headers}{'x-cache'}, 'HIT', "$shared: a HIT again");

    # and again, well within adcp_build_timeout (10s) of the first

    my $t1 = time();
    ok(AdcpTest::wait_for(sub { ($get->()->{headers}{'x-build'} // 0) == 3 },
        $ttl), "$shared: refreshed again a lifetime later")
        and ok(time() - $t1 < $ttl, "$shared: before it expired");
    is($t->count_lines('factory.calls', 'one-a'), 3, "$shared: 3 calls");
    my @missed = $t->read_file('cache.log') =~ /^one-a (?:MISS|EXPIRED|WAIT) /mg;
    is(scalar @missed, 1, "$shared: one MISS, the first build, then none");
    is(json_decode(http_get($port, 'x', '/adcp/status')->{body})
        ->{cache}{shared}{refreshes}{ok}, 2, "$shared: status: two refreshes");

    if ($shared ne 'off') {
        like($t->read_file('cache.log'), qr/^one-a UPDATING 204$/m,
            "$shared: by a request of its own, answered 204");
    }

    $t->stop();
}

# --- four workers ----------------------------------------------------------

if (AdcpTest::valgrind()) {
    done_testing();
    exit;
}

my $FACTORY = 0.3;        # the factory's latency, s
my $TTL = 4;
my $RUN = 20;

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 4;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\\.test\$ \$t; }
    adcp_cache_ttl ${TTL}s;
    adcp_failure_ttl 1h;
    log_format c '\$msec \$pid \$adcp_tenant \$adcp_cache_status \$status '
                 '\$request_time \$adcp_platform_build';
    access_log %%TESTDIR%%/cache.log c;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Build \$adcp_platform_build always;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

my $counter = $t->testdir . '/factory.calls';
my $mock = AdcpMockFactory::handler(counter => $counter,
    adapter => $t->port('adapter'));
$t->mock($t->port('factory'), sub {
    my $res = $mock->(@_);
    $res->[3] = { delay => $FACTORY };
    return $res;
});
$t->run();

my $port = $t->port('http');
my @tenants = qw(rf-a rf-b rf-c);
my $failing = 'rf-x';

sub status { json_decode(http_get($port, 'x', '/adcp/status')->{body}) // {} }

my ($start, $built, $slowest, %seen, @bad, @x);

$start = time();

while (time() - $start < $RUN) {
    my @names = ((@tenants) x 2, $failing);
    my $t0 = time();
    my @r = http_parallel($port, map { get_raw("$_.test", '/mcp') } @names);
    my $took = time() - $t0;

    for my $i (0 .. $#names) {
        my $c = $r[$i]{headers}{'x-cache'} // '';
        my $s = $r[$i]{status} // 0;

        if ($names[$i] eq $failing) {
            push @x, [$t0 - ($built // $t0), $s, $c];
            next;
        }

        push @bad, "$names[$i] $s $c" if $built && ($s != 200
            || $c !~ /^(HIT|SHARED|UPDATING)$/);
        $seen{$c}++ if $built;
    }

    if ($built) {
        $slowest = $took if !defined $slowest || $took > $slowest;

    } elsif (!grep { ($_->{status} // 0) != 200 } @r) {

        # the first build is in: from now on the failing tenant's factory
        # fails, and nothing may wait on a factory any more

        $built = time();
        append_line("$counter.fail-$failing", 'x');
    }

    sleep 0.02;
}

my $run = time() - $built;

ok($built, 'the first builds are in');
ok(!@bad, 'after the first build: only HIT, SHARED or UPDATING, all 200')
    or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
ok($seen{UPDATING}, "UPDATING seen ($seen{UPDATING})");
ok($slowest < $FACTORY, sprintf('every request after the first build '
    . 'faster than the factory (slowest batch %.0f ms < %.0f ms)',
    $slowest * 1000, $FACTORY * 1000));

# one call per tenant per refresh: refreshed at 90 % of 4 s, a refresh
# taking the factory's 0.3 s

my $s = status();
my $total = 0;

for my $n (@tenants) {
    my $calls = $t->count_lines('factory.calls', $n);
    $total += $calls;
    ok($calls >= int($run / ($TTL * 0.9 + $FACTORY + 0.1)) + 1
        && $calls <= int($run / ($TTL * 0.9)) + 1,
        sprintf('%s: %d factory calls in %.1f s: one per refresh', $n,
            $calls, $run));
}

is($s->{cache}{shared}{refreshes}{ok}, $total - @tenants,
    'status: every call after the first was a refresh');
is($s->{cache}{misses}, @tenants + 1, 'status: one miss per tenant')
    or diag(AdcpTest::json_encode($s->{cache}));

# the failing tenant: served until it expires, then failure memory

ok(!grep({ $_->[0] < $TTL - 0.2 && $_->[1] != 200 } @x),
    "$failing: served until its expiry though its refresh failed");
ok(grep({ $_->[0] > $TTL + 0.5 && $_->[1] == 503 } @x),
    "$failing: after its expiry, the failure is remembered: 503");
is($t->count_lines('factory.calls', $failing), 2,
    "$failing: one refresh tried, then the failure TTL");
ok($s->{cache}{shared}{refreshes}{failed} == 1, 'status: one failed refresh');

$t->stop();

done_testing();
