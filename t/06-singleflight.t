#!/usr/bin/perl

# Singleflight, with 1 and with 2 workers: 50 concurrent cold requests for
# one tenant build its platform once per host (the other worker waits and
# takes it from the store), all are served, those that joined a build report
# WAIT; the client that started a build going away
# hands it to a waiter; a waiter going away is simply removed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use AdcpTest qw(http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;

sub gateway {
    my ($workers) = @_;

    my $t = AdcpTest->new(debug_log => 1);

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_build_timeout 10s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"tenant":"\$http_x_tenant"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Pid \$pid always;
            proxy_set_header X-Tenant \$adcp_tenant;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%
    }
}
EOF

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));

    return $t->run();
}

for my $workers (1, 2) {
    my $t = gateway($workers);
    my $port = $t->port('http');
    my $w = "$workers worker" . ($workers > 1 ? 's' : '');

    # 50 concurrent cold requests for one tenant

    my @r = http_parallel($port, map { get_raw('slow-sf.test', '/mcp') } 1 .. 50);

    is(scalar(grep { ($_->{status} // 0) == 200 } @r), 50,
        "$w: 50 concurrent cold requests all served");
    is(scalar(grep { (json_decode($_->{body} // '') // {})->{tenant}
        eq 'slow-sf' } @r), 50, "$w: all by the tenant's adapter");

    my (%miss, %pids);
    for (@r) {
        my $pid = $_->{headers}{'x-pid'} // '?';
        $pids{$pid}++;
        $miss{$pid}++ if ($_->{headers}{'x-cache'} // '') eq 'MISS';
    }

    # one build per host: the other worker waits on it and takes the
    # result from the host's store

    my $calls = $t->count_lines('factory.calls', 'slow-sf');
    is($calls, 1, "$w: one factory call for the host ($calls)");
    is(scalar(grep { $_ == 1 } values %miss), 1, "$w: one MISS");
    is(scalar(grep { ($_->{headers}{'x-cache'} // '') eq 'WAIT' } @r),
        49, "$w: every other request joined the build: WAIT");

    # (from a worker that served above: with reuseport, all 50 may have
    # gone to one of the two)

    my $r;
    for (1 .. 50) {
        $r = http_get($port, 'slow-sf.test', '/mcp');
        last if $pids{$r->{headers}{'x-pid'} // '?'};
    }
    is($r->{headers}{'x-cache'}, 'HIT', "$w: then a HIT");

    diag("$w: served by " . join(', ', map { "$_ ($pids{$_})" }
        sort keys %pids)) if $ENV{TEST_VERBOSE};

    $t->stop();
}

# the client that started a build goes away while 10 others wait

{
    my $t = gateway(1);
    my $port = $t->port('http');

    my $leader = IO::Socket::INET->new("127.0.0.1:$port") or die;
    print $leader get_raw('slow-ab.test', '/mcp');
    ok(wait_for(sub { $t->count_lines('factory.calls', 'slow-ab') == 1 }),
        'abort: the build started');

    my @waiters = map {
        my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
        print $s get_raw('slow-ab.test', '/mcp');
        $s;
    } 1 .. 10;

    ok(wait_for(sub { my @j = $t->read_file('error.log')
        =~ /tenant "slow-ab" joins the build in flight/g; @j == 10 }),
        'abort: 10 requests wait on the build');

    close $leader;

    my $n = 0;
    for my $s (@waiters) {
        my $resp = AdcpTest::parse_response(do { local $/; <$s> });
        $n++ if ($resp->{status} // 0) == 200
            && json_decode($resp->{body})->{tenant} eq 'slow-ab';
    }

    is($n, 10, 'abort: the 10 waiting requests are all served');
    like($t->read_file('error.log'),
        qr/tenant "slow-ab": the client that started the build went away, a waiting request takes it over/,
        'abort: a waiter took the build over');
    is($t->count_lines('factory.calls', 'slow-ab'), 2,
        'abort: the new leader called the factory once more');
    is(http_get($port, 'slow-ab.test', '/mcp')->{headers}{'x-cache'}, 'HIT',
        'abort: the platform is cached');

    # a waiter goes away: simply removed

    $leader = IO::Socket::INET->new("127.0.0.1:$port") or die;
    print $leader get_raw('slow-wa.test', '/mcp');
    ok(wait_for(sub { $t->count_lines('factory.calls', 'slow-wa') == 1 }),
        'waiter abort: the build started');

    @waiters = map {
        my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
        print $s get_raw('slow-wa.test', '/mcp');
        $s;
    } 1 .. 5;

    ok(wait_for(sub { my @j = $t->read_file('error.log')
        =~ /tenant "slow-wa" joins the build in flight/g; @j == 5 }),
        'waiter abort: 5 requests wait');

    close splice(@waiters, 2, 1);

    $n = 0;
    for my $s ($leader, @waiters) {
        my $resp = AdcpTest::parse_response(do { local $/; <$s> });
        $n++ if ($resp->{status} // 0) == 200;
    }

    is($n, 5, 'waiter abort: the leader and the 4 others are served');
    is($t->count_lines('factory.calls', 'slow-wa'), 1,
        'waiter abort: one factory call');

    # the only request of a build goes away: the build is abandoned

    $leader = IO::Socket::INET->new("127.0.0.1:$port") or die;
    print $leader get_raw('slow-al.test', '/mcp');
    ok(wait_for(sub { $t->count_lines('factory.calls', 'slow-al') == 1 }),
        'lone abort: the build started');
    close $leader;
    ok(wait_for(sub { $t->read_file('error.log')
        =~ /tenant "slow-al": build abandoned/ }),
        'lone abort: the build is abandoned');
    my $r = http_get($port, 'slow-al.test', '/mcp');
    is($r->{status}, 200, 'lone abort: the next request builds it');
    is($r->{headers}{'x-cache'}, 'MISS', 'lone abort: MISS');

    # at debug level, no line of this module carries a platform credential
    # (nginx's own proxy debug lines show the headers sent upstream, which
    # this configuration does not send)

    my @mine = grep { /adcp/ } split /\n/, $t->read_file('error.log');
    ok(@mine > 20, 'the debug log has lines of the module');
    ok(!grep({ /secret-/ } @mine), 'none carries a credential');
    unlike($t->read_file('error.log'), qr/secret-/,
        'no credential anywhere in the debug log');

    $t->stop();
}

done_testing();
