#!/usr/bin/perl

# Expiry: adcp_cache_ttl, adcp_cache_ttl 0 (size-only), and a descriptor's
# own "ttl" below the cache's.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http_get wait_for);
use AdcpMockFactory;

sub gateway {
    my ($ttl) = @_;

    my $t = AdcpTest->new;

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_cache_ttl $ttl;

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

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/\$adcp_tenant;
        }
    }
}
EOF

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));

    return $t->run();
}

sub cache_of {
    my ($t, $tenant) = @_;
    return http_get($t->port('http'), "$tenant.test", '/mcp')
        ->{headers}{'x-cache'} // '';
}

# adcp_cache_ttl 1s

my $t = gateway('1s');

is(cache_of($t, 'ttl-a'), 'MISS', 'cache ttl 1s: MISS');
my $built = time();
is(cache_of($t, 'ttl-a'), 'HIT', 'cache ttl 1s: HIT within the ttl');
ok(wait_for(sub { time() - $built > 1.2 }, 5), 'the ttl passes');
is(cache_of($t, 'ttl-a'), 'EXPIRED', 'cache ttl 1s: EXPIRED after it');
is($t->count_lines('factory.calls', 'ttl-a'), 2, 'rebuilt once');
is(cache_of($t, 'ttl-a'), 'HIT', 'and cached again');

$t->stop();

# adcp_cache_ttl 0: size-only, but a descriptor's ttl still applies

$t = gateway('0');

is(cache_of($t, 'zero-a'), 'MISS', 'cache ttl 0: MISS');
is(cache_of($t, 'ttlone-a'), 'MISS', 'descriptor ttl 1: MISS');
$built = time();    # built before its answer: a slow build counts in
ok(wait_for(sub { time() - $built > 1.2 }, 5), 'a second passes');
is(cache_of($t, 'zero-a'), 'HIT', 'cache ttl 0: still a HIT');
is(cache_of($t, 'ttlone-a'), 'EXPIRED',
    'a descriptor ttl of 1 s expires with cache ttl 0');
is($t->count_lines('factory.calls', 'zero-a'), 1, 'zero-a built once');

$t->stop();

# adcp_cache_ttl 1h: the descriptor's ttl caps it

$t = gateway('1h');

is(cache_of($t, 'plain-b'), 'MISS', 'cache ttl 1h, no descriptor ttl: MISS');
is(cache_of($t, 'ttlone-b'), 'MISS', 'cache ttl 1h, descriptor ttl 1: MISS');
$built = time();
ok(wait_for(sub { time() - $built > 1.2 }, 5), 'a second passes');
is(cache_of($t, 'ttlone-b'), 'EXPIRED', 'the descriptor ttl caps 1h');
is(cache_of($t, 'plain-b'), 'HIT', 'without one, 1h applies');

$t->stop();

done_testing();
