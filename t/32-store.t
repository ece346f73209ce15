#!/usr/bin/perl

# The host's platform store (adcp_cache_shared), 4 workers, 100 tenants,
# each request on a new connection so that every worker sees every tenant:
# one factory call per tenant per host to warm, none after a reload, one
# after invalidating a tenant, one per tenant in use after "*"; 100
# concurrent cold requests over the workers answered by one build; a
# descriptor too big for the store served all the same; a reload adding
# half again as many tenants keeps health, failure memory and the store; a
# worker killed while it holds a build claim is taken over.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_parallel get_raw json_decode wait_for
    append_line);
use AdcpMockFactory;

plan skip_all => 'four workers need a master process (not under valgrind)'
    if AdcpTest::valgrind();

my $FACTORY_MS = 150;     # the factory's latency in this test
my $W = 4;

my $t = AdcpTest->new;
$t->{expect_alert} = qr/worker process \d+ exited on signal 9/;

sub tenants {
    my ($n) = @_;
    $t->write_file('tenants.conf',
        join('', map { sprintf "    d%03d.test d%03d;\n", $_, $_ } 0 .. $n - 1));
}

sub conf {
    my ($store) = @_;
    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $W;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants {
        include %%TESTDIR%%/tenants.conf;
        ~^(?<t>[a-z0-9-]+)\\.test\$ \$t;
    }
    adcp_cache_shared $store;
    adcp_build_timeout 2s;
    adcp_failure_ttl 1h;

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
            add_header X-Pid \$pid always;
            add_header X-Build \$adcp_platform_build always;
            proxy_pass http://\$adcp_upstream;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_set_header X-Pid \$pid;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/\$adcp_tenant;
        }

        location = /adcp/status { adcp_status; }
        location = /adcp/admin { adcp_admin; }
    }
}
EOF
}

# the usual mock, $FACTORY_MS slow; "hold-*" hangs on its first call only;
# "fat-*" answers a 60 KB descriptor, "mid-*" a 9 KB one; the calling
# worker's pid is kept

my $counter = $t->testdir . '/factory.calls';
my $mock = AdcpMockFactory::handler(counter => $counter,
    adapter => $t->port('adapter'));

sub mock { $t->mock($t->port('factory'), sub {
    my ($req) = @_;
    my ($name) = $req->{uri} =~ m{^/platforms/([^/?]+)};
    append_line("$counter.pid", ($name // '') . ' ' . ($req->{headers}{'x-pid'} // ''));
    my $first = !grep { $_ eq ($name // '') }
        split /\n/, AdcpTest::read_file($t, 'factory.calls');
    my $res = $mock->($req);
    if (($name // '') =~ /^(fat|mid)/ && $res->[0] == 200) {
        my $pad = 'p' x ($1 eq 'fat' ? 60000 : 9000);
        $res->[2] =~ s/^\{/{"pad":"$pad",/;
    }
    $res->[3] //= {};
    $res->[3]{delay} //= ($name // '') =~ /^hold/ && $first ? 30
        : $FACTORY_MS / 1000;
    return $res;
}) }

tenants(100);
conf('32m');
mock();
$t->run();

my $port = $t->port('http');

sub calls { $t->count_lines('factory.calls', $_[0]) }

# a reload, waited for until the old workers have exited

sub reload {
    my $exited = () = $t->read_file('error.log') =~ /exited with code/g;
    $t->reload();
    return wait_for(sub { my @e = $t->read_file('error.log')
        =~ /exited with code/g; @e >= $exited + $W }, 15);
}
sub total { scalar grep { /^d\d{3}$/ } split /\n/, $t->read_file('factory.calls') }
sub status { json_decode(http_get($port, 'x', '/adcp/status')->{body}) // {} }

sub admin {
    http($port, "POST /adcp/admin?$_[0] HTTP/1.1\r\nHost: x\r\n"
        . "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

# requests (new connections, spread by reuseport) until every worker has
# answered every tenant named; the answers' cache statuses, counted

sub spread {
    my (@names) = @_;
    my %seen;
    my %status;
    for my $round (1 .. 60) {
        my @todo = grep { keys %{$seen{$_} || {}} < $W } @names or last;
        my @batch = map { ($_) x 4 } @todo;
        my @r = http_parallel($port, map { get_raw("$_.test", '/mcp') } @batch);
        for my $i (0 .. $#batch) {
            my $h = $r[$i]{headers};
            next unless ($r[$i]{status} // 0) == 200;
            $seen{$batch[$i]}{$h->{'x-pid'}} = 1;
            $status{$h->{'x-cache'} // '?'}++;
        }
    }
    my $all = !grep { keys %{$seen{$_} || {}} < $W } @names;
    return ($all, \%status);
}

my @d = map { sprintf 'd%03d', $_ } 0 .. 99;

# --- warm: one factory call per tenant for the host ---------------------

my ($all, $st) = spread(@d);
ok($all, 'warm: every worker served every one of the 100 tenants');
is(total(), 100, 'warm: 100 factory calls (one per tenant, not per worker)');
ok(!$st->{EXPIRED} && !$st->{STALE}, 'warm: nothing expired or stale');
ok(($st->{SHARED} // 0) > 0, 'warm: other workers took them from the store')
    or diag(AdcpTest::json_encode($st));

my $s = status();
is($s->{cache}{shared}{descriptors}, 100, 'status: 100 descriptors stored');
ok($s->{cache}{shared}{used} > 0
    && $s->{cache}{shared}{used} < $s->{cache}{shared}{bytes},
    'status: bytes used');
ok($s->{cache}{levels}{factory} >= 100, 'status: served by a build, level factory')
    or diag(AdcpTest::json_encode($s->{cache}{levels}));
is($s->{cache}{levels}{store}, $s->{cache}{shared}{hits},
    'status: served from the store, level store');
ok($s->{cache}{levels}{store} >= $st->{SHARED}
    && $s->{cache}{levels}{worker} >= ($st->{HIT} // 0),
    'status: every SHARED and HIT counted');

# --- a reload: the store stays, no factory call ------------------------

ok(reload(), 'reload: the old workers are gone');

($all, $st) = spread(@d);
ok($all, 'reload: every new worker served every tenant');
is(total(), 100, 'reload: 0 factory calls');
ok(!$st->{MISS} && !$st->{WAIT} && !$st->{EXPIRED},
    'reload: no MISS, no WAIT') or diag(AdcpTest::json_encode($st));
unlike($t->read_file('error.log'), qr/adcp zone size changes|store starts/,
    'reload: neither zone was made afresh');

# --- invalidations ---------------------------------------------------------

my $b17 = http_get($port, 'd017.test', '/mcp')->{headers}{'x-build'};
admin('invalidate=d017');
is(status()->{cache}{shared}{descriptors}, 99,
    'invalidate: its descriptor left the store');
($all) = spread('d017');
ok($all, 'invalidate: every worker served d017 again');
is(calls('d017'), 2, 'invalidate d017: one factory call for the host');
is(total(), 101, 'invalidate d017: no other tenant rebuilt');
ok(!grep({ ($_->{headers}{'x-build'} // '') eq $b17 }
    http_parallel($port, map { get_raw('d017.test', '/mcp') } 1 .. 16)),
    'invalidate: no worker serves the old platform');

admin('invalidate=*');
is(status()->{cache}{shared}{descriptors}, 0, '"*": the store is emptied');
my @used = @d[0 .. 9];
($all) = spread(@used);
ok($all, '"*": every worker served the 10 tenants in use');
is(total(), 111, '"*": one factory call per tenant in use (10)');

# --- an invalidation during a build: the build never writes the store ---

my $stored = status()->{cache}{shared}{descriptors};
my $sock = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $sock get_raw('slow-z.test', '/mcp');
ok(wait_for(sub { calls('slow-z') == 1 }), 'in flight: a slow build started');
admin('invalidate=slow-z');
my $r = AdcpTest::parse_response(do { local $/; <$sock> });
close $sock;
is($r->{status}, 200, 'in flight: its request is served');
is(status()->{cache}{shared}{descriptors}, $stored,
    'in flight: invalidated, its descriptor was not stored');
is(http_get($port, 'slow-z.test', '/mcp')->{headers}{'x-build'}, 2,
    'in flight: the next request builds afresh');

# --- 100 concurrent cold requests over every worker ---------------------

my $t0 = time();
my $one = http_get($port, 'solo-a.test', '/mcp');
my $factory = time() - $t0;
is($one->{status}, 200, 'a cold tenant: built');

$t0 = time();
my @r = http_parallel($port, map { get_raw('conc-a.test', '/mcp') } 1 .. 100);
my $last = time() - $t0;
my %pids = map { ($_->{headers}{'x-pid'} // '?') => 1 } @r;
is(scalar(grep { ($_->{status} // 0) == 200 } @r), 100,
    '100 concurrent cold requests: all served');
is(calls('conc-a'), 1, '100 concurrent cold requests: one factory call');
is(scalar keys %pids, $W, "spread over the $W workers");
ok($last <= 1.2 * $factory + 0.010,
    sprintf('the last answered in %.0f ms <= 1.2 x %.0f ms + 10 ms',
        $last * 1000, $factory * 1000));

# --- a descriptor too big for the store --------------------------------

$t->stop();
$t->write_file('factory.calls', '');
conf('32k');
mock();
$t->run();

my @fat = http_parallel($port, map { get_raw('fat-a.test', '/mcp') } 1 .. 8);
is(scalar(grep { ($_->{status} // 0) == 200 } @fat), 8,
    'a descriptor over the store\'s size: served');
like($t->read_file('error.log'),
    qr/tenant "fat-a": its \d+-byte descriptor does not fit in the platform store/,
    'and logged');
is(status()->{cache}{shared}{descriptors}, 0, 'not stored, nor truncated');

# a full store evicts its least recently used descriptors, silently

for my $n (qw(mid-a mid-b mid-c mid-d mid-e)) {
    is(http_get($port, "$n.test", '/mcp')->{status}, 200, "$n served");
}

$s = status()->{cache}{shared};
ok($s->{evictions} >= 1 && $s->{descriptors} < 5 && $s->{descriptors} >= 1,
    "a full store evicts: $s->{evictions} evicted, $s->{descriptors} kept");
ok($s->{used} <= $s->{bytes}, 'used within the store');
unlike($t->read_file('error.log'), qr/\[crit\]|ngx_slab_alloc\(\) failed/,
    'no allocation failure logged for an eviction');

# --- a reload adding half again as many tenants ------------------------

$t->stop();
$t->write_file('factory.calls', '');
conf('32m');
mock();
$t->run();

($all) = spread(@d[0 .. 19]);
ok($all, 'grow: 20 tenants warm in every worker');
append_line("$counter.fail-d020", 'x');
is(http_get($port, 'd020.test', '/mcp')->{status}, 503, 'grow: d020 fails');
my $calls = total();

tenants(150);
ok(reload(), 'grow: reloaded');
ok(wait_for(sub { http_get($port, 'd149.test', '/mcp')->{status} == 200 }),
    'grow: a new tenant is served');
$calls++;

$s = status();
is($s->{tenants}{d005}{health}, 'healthy', 'grow: health kept');
is($s->{tenants}{d020}{health}, 'disabled', 'grow: failure kept');
is(http_get($port, 'd020.test', '/mcp')->{status}, 503,
    'grow: failure memory kept, no call');
($all) = spread(@d[0 .. 19]);
ok($all, 'grow: 20 tenants served by every new worker');
is(total(), $calls, 'grow: the store kept, no factory call');
unlike($t->read_file('error.log'), qr/adcp zone size changes/,
    'grow: the zone was kept');

tenants(3000);
ok(reload(), 'many more tenants: reloaded');
ok(wait_for(sub { $t->read_file('error.log') =~ /adcp zone size changes/ }),
    'many more tenants: the fresh zone is logged');

# --- a worker killed while it holds a tenant's build claim -------------

$sock = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $sock get_raw('hold-a.test', '/mcp');
ok(wait_for(sub { calls('hold-a') == 1 }), 'hold: a build started');
my ($holder) = $t->read_file('factory.calls.pid') =~ /^hold-a (\d+)$/m;
$t0 = time();
kill 'KILL', $holder;
close $sock;

my @h = http_parallel($port, map { get_raw('hold-a.test', '/mcp') } 1 .. 8);
my $took = time() - $t0;
is(scalar(grep { ($_->{status} // 0) == 200 } @h), 8,
    'hold: the claim holder killed, another worker takes the build over')
    or diag(join ' ', map { ($_->{status} // '-') . ' ' . ($_->{body} // '') } @h);
ok($took < 2 + 1, sprintf('within adcp_build_timeout (%.2f s)', $took));
is(calls('hold-a'), 2, 'hold: one more factory call');

$t->stop();

done_testing();
