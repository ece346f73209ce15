#!/usr/bin/perl

# Invalidation through Redis, 2 workers and a real redis-server: a PUBLISH
# of a tenant, of "*", of "recheck <tenant>" reaches every worker; a
# malformed message is logged and ignored; Redis going away fails no
# request, the link backs off and comes back; status shows the link.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $t = AdcpTest->new;
my $reuseport = AdcpTest::valgrind() ? '' : 'reuseport';

$t->redis_start();

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis          127.0.0.1:%%PORT_redis%%;
    adcp_redis_channel  test:invalidate;
    adcp_redis_ping     1s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"build":"\$http_x_build"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% $reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Pid \$pid always;
            proxy_set_header X-Build \$adcp_platform_build;
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

sub warm {
    my ($tenant, $w) = @_;
    for (1 .. 40) {
        http_parallel($port, map { get_raw("$tenant.test", '/mcp') } 1 .. 8);
        last if ($t->status->{tenants}{$tenant}{cached_workers} // 0) >= $w;
    }
}

ok(wait_for(sub { ($t->status->{redis}{state} // '') eq 'subscribed' }),
    'the link subscribes');
my $s = $t->status;
is($s->{redis}{connected}, 1, 'status: connected 1');
is($s->{redis}{messages}, 0, 'status: no message yet');

my $W = scalar @{$s->{cache}{size}};

warm('red-a', $W);
is($t->count_lines('factory.calls', 'red-a'), 1, 'one build for the host');

like($t->redis_cmd('PUBLISH', 'test:invalidate', 'red-a'), qr/^:1/,
    'PUBLISH red-a: one subscriber on the host');
ok(wait_for(sub { ($t->status->{redis}{messages} // 0) == 1 }),
    'the message is applied');
$t->each_worker('red-a', $W);
is($t->count_lines('factory.calls', 'red-a'), 2,
    'the host rebuilt red-a once for every worker');

warm('red-b', $W);
$t->redis_cmd('PUBLISH', 'test:invalidate', '*');
ok(wait_for(sub { ($t->status->{redis}{messages} // 0) == 2 }), '"*" applied');
$t->each_worker('red-b', $W);
is($t->count_lines('factory.calls', 'red-b'), 2,
    '"*": the host rebuilt red-b once');

$t->redis_cmd('PUBLISH', 'test:invalidate', "recheck red-b\n");
ok(wait_for(sub { ($t->status->{redis}{messages} // 0) == 3 }),
    '"recheck red-b" applied');

for my $bad ('no/way', 'recheck *', '', 'x' x 200, '..', '.', '.hidden',
    'recheck ..')
{
    $t->redis_cmd('PUBLISH', 'test:invalidate', $bad);
}
ok(wait_for(sub { ($t->status->{redis}{ignored} // 0) == 8 }),
    'malformed messages (dot tenant ids among them) are counted as '
    . 'ignored');
is($t->status->{redis}{messages}, 3, 'and not applied');
like($t->read_file('error.log'),
    qr/adcp: redis: ignored a malformed message of 200 bytes/,
    'and logged without their content');

# Redis goes away: requests go on, the link backs off, then comes back

$t->redis_stop();
ok(wait_for(sub { ($t->status->{redis}{connected} // 1) == 0 }),
    'Redis gone: connected 0');
my $r = http_get($port, 'red-a.test', '/mcp');
is($r->{status}, 200, 'Redis down never fails a request');
$r = http_get($port, 'red-c.test', '/mcp');
is($r->{status}, 200, 'a cold tenant builds with Redis down');

$t->redis_start();
ok(wait_for(sub { ($t->status->{redis}{state} // '') eq 'subscribed' }, 20),
    'Redis back: subscribed again');
ok($t->status->{redis}{reconnects} >= 1, 'reconnects counted');

warm('red-d', $W);
$t->redis_cmd('PUBLISH', 'test:invalidate', 'red-d');
ok(wait_for(sub { ($t->status->{redis}{messages} // 0) == 4 }),
    'messages flow after the reconnect');

$t->stop();

# a password and a database; adcp_redis_down_ttl

$t = AdcpTest->new;
$t->{redis_password} = 'pa55-word';
$t->redis_start('--requirepass', 'pa55-word');

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\\.test\$ \$t; }

    adcp_redis           localhost:%%PORT_redis%% password=pa55-word db=3;
    adcp_redis_ping      1s;
    adcp_redis_down_ttl  1s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
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
$port = $t->port('http');

ok(wait_for(sub { ($t->status->{redis}{state} // '') eq 'subscribed' }),
    'password and db: subscribed (a host name resolved at start)');
http_get($port, 'pw-a.test', '/mcp');
$t->redis_cmd('PUBLISH', 'adcp:invalidate', 'pw-a');
ok(wait_for(sub { ($t->status->{redis}{messages} // 0) == 1 }),
    'the default channel adcp:invalidate');
is(http_get($port, 'pw-a.test', '/mcp')->{headers}{'x-cache'}, 'MISS',
    'invalidated');

my $built = time();
is(http_get($port, 'pw-b.test', '/mcp')->{headers}{'x-cache'}, 'MISS',
    'pw-b built');
$t->redis_stop();
ok(wait_for(sub { ($t->status->{redis}{connected} // 1) == 0 }),
    'Redis gone');
is(http_get($port, 'pw-b.test', '/mcp')->{headers}{'x-cache'}, 'HIT',
    'younger than adcp_redis_down_ttl: still a HIT');
ok(wait_for(sub { time() - $built > 1.2 }, 5), 'a second passes');
is(http_get($port, 'pw-b.test', '/mcp')->{headers}{'x-cache'}, 'EXPIRED',
    'Redis down, older than adcp_redis_down_ttl: EXPIRED, rebuilt');
unlike($t->read_file('error.log'), qr/pa55/, 'no password in error.log');

$t->stop();

done_testing();
