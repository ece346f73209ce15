#!/usr/bin/perl

# Host-wide tenant state in the shared zone, with 2 and 4 workers: one
# build per host, one admin call makes the host rebuild once; "*"; an
# invalidation during a
# build; a failing factory called once per failure TTL by the whole host,
# with the TTL doubling, then recovery; 404 memory; status the same from
# every worker; Prometheus text a strict parser accepts.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;
use AdcpProm;

sub gateway {
    my ($workers, $extra) = @_;

    my $t = AdcpTest->new;
    $extra //= '';

    # reuseport spreads connections over the workers; one process (the
    # valgrind run) would never accept those hashed to the other sockets
    my $reuseport = AdcpTest::valgrind() ? '' : 'reuseport';

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
        declared.example            declared;
    }

    adcp_failure_ttl 1s 4s;
    adcp_not_found_ttl 1s;
    $extra

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / {
            return 200 '{"tenant":"\$http_x_tenant","build":"\$http_x_build"}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% $reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Health \$adcp_health always;
            add_header X-Pid \$pid always;
            proxy_set_header X-Tenant \$adcp_tenant;
            proxy_set_header X-Build \$adcp_platform_build;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        # /adcp/status, /adcp/admin
        %%ADCP_ENDPOINTS%%
    }
}
EOF

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));

    return $t->run();
}

sub admin {
    my ($t, $args) = @_;
    return http($t->port('http'), "POST /adcp/admin?$args HTTP/1.1\r\n"
        . "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

# bursts of parallel requests until every worker has cached the tenant;
# returns the answers

sub warm {
    my ($t, $tenant, $workers) = @_;
    my @all;
    for (1 .. 40) {
        push @all, http_parallel($t->port('http'),
            map { get_raw("$tenant.test", '/mcp') } 1 .. 8);
        my $s = $t->status;
        last if ($s->{tenants}{$tenant}{cached_workers} // 0) >= $workers;
    }
    return @all;
}

for my $workers (2, 4) {
    my $t = gateway($workers);
    my $w = "$workers workers";
    my $W = scalar @{ $t->status->{cache}{size} };   # 1 under valgrind

    my $s = $t->status;
    is($s->{tenants}{declared}{health}, 'pending',
        "$w: a declared tenant starts pending");
    is($s->{cache}{capacity}, 256, "$w: capacity");

    # one build for the host, every worker caches it (from the store); one
    # admin call: one rebuild for the host, every worker drops its copy

    warm($t, 'inv-a', $W);
    my $before = $t->count_lines('factory.calls', 'inv-a');
    is($before, 1, "$w: one build for the host ($before)");
    is($t->status->{tenants}{'inv-a'}{cached_workers}, $W,
        "$w: status: cached in every worker");

    my $r = admin($t, 'invalidate=inv-a');
    is_deeply(json_decode($r->{body}),
        { invalidated => 'inv-a', scope => 'host' }, "$w: admin reply");

    my @after = $t->each_worker('inv-a', $W);
    is($t->count_lines('factory.calls', 'inv-a'), 2,
        "$w: after the invalidation one rebuild for the host");
    ok(!grep({ json_decode($_->{body})->{build} <= $before } @after),
        "$w: no worker serves a platform from before the invalidation");

    # "*"

    warm($t, 'star-b', $W);
    my $ca = $t->count_lines('factory.calls', 'inv-a');
    my $cb = $t->count_lines('factory.calls', 'star-b');
    admin($t, 'invalidate=*');
    $t->each_worker('inv-a', $W);
    $t->each_worker('star-b', $W);
    is($t->count_lines('factory.calls', 'inv-a'), $ca + 1,
        "$w: \"*\": inv-a rebuilt once for the host");
    is($t->count_lines('factory.calls', 'star-b'), $cb + 1,
        "$w: \"*\": star-b rebuilt once for the host");

    # an invalidation during a build

    my $sock = IO::Socket::INET->new("127.0.0.1:" . $t->port('http')) or die;
    print $sock get_raw('slow-c.test', '/mcp');
    ok(wait_for(sub { $t->count_lines('factory.calls', 'slow-c') == 1 }),
        "$w: a slow build started");
    admin($t, 'invalidate=slow-c');
    $r = AdcpTest::parse_response(do { local $/; <$sock> });
    is($r->{status}, 200, "$w: its request is served");
    is($t->status->{tenants}{'slow-c'}{cached_workers}, 0,
        "$w: but no worker cached it");

    # a failing factory: once per failure TTL for the whole host

    my $port = $t->port('http');

    my @cold = http_parallel($port,
        map { get_raw('fail-d.test', '/mcp') } 1 .. 24);
    my $t0 = time();
    is(scalar(grep { $_->{status} == 503 } @cold), 24,
        "$w: 24 concurrent cold requests for a failing tenant: 503");
    is($t->count_lines('factory.calls', 'fail-d'), 1,
        "$w: one factory call for the whole host, not one per worker");

    my $first = http_get($port, 'fail-d.test', '/mcp');
    is($first->{status}, 503, "$w: failing factory: 503");
    is($first->{headers}{'retry-after'}, 1, "$w: Retry-After 1 (1s ttl)");
    is($first->{headers}{'x-health'}, 'disabled', "$w: \$adcp_health");

    my @r = http_parallel($port, map { get_raw('fail-d.test', '/mcp') } 1 .. 20);
    is(scalar(grep { $_->{status} == 503 } @r), 20,
        "$w: within the TTL every worker answers 503");
    is($t->count_lines('factory.calls', 'fail-d'), 1,
        "$w: within the TTL no worker calls the factory");

    ok(wait_for(sub { time() - $t0 > 1.1 }, 5), 'the 1 s TTL passes');
    @r = http_parallel($port, map { get_raw('fail-d.test', '/mcp') } 1 .. 20);
    is($t->count_lines('factory.calls', 'fail-d'), 2,
        "$w: after the TTL one worker of the host retries");
    my $t1 = time();

    $r = http_get($port, 'fail-d.test', '/mcp');
    ok($r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 2,
        "$w: the second failure doubles the TTL (Retry-After "
        . "$r->{headers}{'retry-after'})");
    ok(wait_for(sub { time() - $t1 > 1.1 }, 5), '1 s passes');
    http_parallel($port, map { get_raw('fail-d.test', '/mcp') } 1 .. 10);
    is($t->count_lines('factory.calls', 'fail-d'), 2,
        "$w: 1 s into a 2 s TTL: still no call");
    ok(wait_for(sub { time() - $t1 > 2.1 }, 5), '2 s pass');
    http_parallel($port, map { get_raw('fail-d.test', '/mcp') } 1 .. 10);
    is($t->count_lines('factory.calls', 'fail-d'), 3,
        "$w: after 2 s: one more call");
    my $t2 = time();
    $r = http_get($port, 'fail-d.test', '/mcp');
    ok($r->{headers}{'retry-after'} >= 3 && $r->{headers}{'retry-after'} <= 4,
        "$w: the third failure: 4 s (Retry-After "
        . "$r->{headers}{'retry-after'})");

    # recovery

    AdcpTest::append_line($t->testdir . '/factory.calls.heal-fail-d', 'x');
    ok(wait_for(sub { time() - $t2 > 4.1 }, 8), '4 s pass');
    $r = http_get($port, 'fail-d.test', '/mcp');
    is($r->{status}, 200, "$w: recovered after the TTL");
    is($r->{headers}{'x-health'}, 'healthy', "$w: healthy again");
    is($t->status->{tenants}{'fail-d'}{health}, 'healthy',
        "$w: status: healthy");

    # 404 memory, host-wide

    $r = http_get($port, 'nf-e.test', '/mcp');
    is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND', "$w: 404");
    @r = http_parallel($port, map { get_raw('nf-e.test', '/mcp') } 1 .. 20);
    is(scalar(grep { ($_->{headers}{'x-adcp-error'} // '')
        eq 'ACCOUNT_NOT_FOUND' } @r), 20, "$w: remembered by every worker");
    is($t->count_lines('factory.calls', 'nf-e'), 1,
        "$w: one factory call for the whole host");

    # status: the same whichever worker answers

    my @st = map {
        my $j = $t->status;
        delete $_->{age} for values %{$j->{tenants}};
        AdcpTest::json_encode($j);
    } 1 .. 20;
    is(scalar(grep { $_ ne $st[0] } @st), 0,
        "$w: 20 status fetches over fresh connections agree");

    my $hits = $t->status->{cache}{hits};
    http_get($port, 'inv-a.test', '/mcp') for 1 .. 5;
    $s = $t->status;
    is($s->{cache}{hits}, $hits + 5, "$w: five more hits, summed over workers");
    ok($s->{cache}{hits} > 0 && $s->{cache}{misses} > 0
        && $s->{cache}{waits} >= 0 && $s->{cache}{negative} > 0,
        "$w: counters") or diag(AdcpTest::json_encode($s->{cache}));
    ok($s->{cache}{builds}{ok} > 0 && $s->{cache}{builds}{failed} >= 3
        && $s->{cache}{builds}{not_found} >= 1, "$w: builds by result");
    ok($s->{cache}{invalidations} >= 3, "$w: invalidations");
    is($s->{cache}{build_latency_ms}{count},
        $s->{cache}{builds}{ok} + $s->{cache}{builds}{failed}
        + $s->{cache}{builds}{not_found}, "$w: histogram count = builds");
    is($s->{cache}{build_latency_ms}{buckets}{'+Inf'},
        $s->{cache}{build_latency_ms}{count}, "$w: +Inf = count");
    is(scalar @{$s->{cache}{size}}, $W, "$w: a size per worker");
    ok($s->{tenants}{'inv-a'}{builds} >= 3, "$w: per-tenant builds");
    like($s->{tenants}{'inv-a'}{age}, qr/^\d+$/, "$w: per-tenant age");

    my $p = $t->status('prometheus');
    like($p->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
        "$w: Prometheus content type");
    my @err = AdcpProm::errors($p->{body});
    ok(!@err, "$w: a strict parser accepts the Prometheus text")
        or diag(join "\n", @err);
    like($p->{body}, qr/^adcp_cache_hits_total \d+$/m, "$w: hits in Prometheus");
    like($p->{body},
        qr/^adcp_tenant_health\{tenant="fail-d",state="healthy"\} 1$/m,
        "$w: tenant health in Prometheus");

    $t->stop();
}

done_testing();
