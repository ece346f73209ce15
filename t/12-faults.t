#!/usr/bin/perl

# Fault injection, one worker: a factory that resets, trickles its answer
# byte by byte, answers 10 MB, invalid UTF-8 or 100,000-deep JSON; an
# adapter that is down, resets, answers 10 MB; clients that go away while
# their body is read and while the adapter's answer streams.  Each time:
# what the buyer sees, and the server still serves afterwards.  (A
# factory that hangs, clients leaving during and while waiting on a
# build: t/05-platform.t, t/06-singleflight.t.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_post_json json_decode get_raw post_raw
    wait_for);
use AdcpMockFactory;

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\.test$   $t;
    }

    adcp_build_timeout  3s;
    adcp_failure_ttl    1s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"tenant":"$http_x_tenant"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        adcp_factory /_factory;
        adcp_error_pages on;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            proxy_set_header X-Tenant $adcp_tenant;
            proxy_pass http://$adcp_upstream;
        }

        location /down {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        location /big {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_faulty%%;
        }

        location /reset {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_faulty%%;
        }

        location /stream {
            adcp on;
            proxy_buffering off;
            proxy_pass http://127.0.0.1:%%PORT_faulty%%;
        }

        %%FACTORY_LOCATION%%
    }
}
EOF

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

my $ten_mb = '{"p":"' . ('x' x (10 * 1024 * 1024 - 8)) . '"}';

$t->mock($t->port('faulty'), sub {
    my ($req) = @_;
    return [200, {}, $ten_mb] if $req->{uri} =~ m{^/big};
    return [200, {}, '', { reset => 1 }] if $req->{uri} =~ m{^/reset};
    AdcpTest::append_line($t->testdir . '/stream.calls', 'start');
    return [200, {}, 'S' x 200000, { chunks => 20, pause => 0.1 }];
});

$t->run();

my $port = $t->port('http');

sub alive {
    my ($name) = @_;
    my $r = http_get($port, 'alive.test', '/mcp');
    is($r->{status}, 200, "$name: then a good request is served");
    is(json_decode($r->{body} // '')->{tenant}, 'alive',
        "$name: by the tenant's adapter");
}

sub unavailable {
    my ($r, $name) = @_;
    is($r->{status}, 503, "$name: 503");
    is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
        "$name: SERVICE_UNAVAILABLE");
    is(json_decode($r->{body} // '')->{adcp_error}{recovery}, 'transient',
        "$name: an AdCP error");
}

# --- the factory -------------------------------------------------------------

my $r = http_get($port, 'reset-1.test', '/mcp');
unavailable($r, 'factory resets');
alive('factory resets');

my $t0 = time();
$r = http_get($port, 'slowbytes-1.test', '/mcp');
is($r->{status}, 200, 'factory one byte per 20 ms: served');
is($r->{headers}{'x-cache'}, 'MISS', 'factory one byte per 20 ms: built');
is(json_decode($r->{body})->{tenant}, 'slowbytes-1',
    'factory one byte per 20 ms: by its adapter');

$r = http_get($port, 'huge-1.test', '/mcp');
unavailable($r, 'factory answers 10 MB');
like($t->read_file('error.log'), qr/tenant "huge-1": .*(large|64k|too big)/i,
    'factory answers 10 MB: logged as too large');
alive('factory answers 10 MB');

$r = http_get($port, 'badutf8-1.test', '/mcp');
unavailable($r, 'factory answers invalid UTF-8');
unlike($t->read_file('error.log'), qr/\xff\xfe/,
    'the invalid bytes are not logged');
alive('factory answers invalid UTF-8');

$r = http_get($port, 'deep-1.test', '/mcp');
unavailable($r, 'factory answers 100,000 [');
alive('factory answers 100,000 [');

# --- the adapter -------------------------------------------------------------

$r = http_get($port, 'alive.test', '/down');
is($r->{status}, 502, 'adapter down: 502');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
    'adapter down: SERVICE_UNAVAILABLE');
alive('adapter down');

$r = http_get($port, 'alive.test', '/reset');
is($r->{status}, 502, 'adapter resets: 502');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
    'adapter resets: SERVICE_UNAVAILABLE');
alive('adapter resets');

$r = http($port, get_raw('alive.test', '/big'), timeout => 60);
is($r->{status}, 200, 'adapter answers 10 MB: 200');
is(length $r->{body}, length $ten_mb, 'adapter answers 10 MB: all of it');
alive('adapter answers 10 MB');

# --- clients going away --------------------------------------------------------

# during the body read: 10 of 100,000 announced bytes, then gone

for my $n (0, 10, 99999) {
    my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
    print $s "POST /mcp HTTP/1.1\r\nHost: alive.test\r\n"
        . "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        . ('[' x $n);
    close $s;
}

alive('clients gone during the body read');

# during proxying: the adapter's answer streams (20 pieces, 0.1 s apart),
# the client reads the first bytes and goes away

my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $s get_raw('alive.test', '/stream');
sysread($s, my $buf, 100);
like($buf, qr/^HTTP\/1.1 200/, 'during proxying: the answer started');
close $s;

alive('client gone during proxying');

# the body of a request is still being sent when the adapter is down

$s = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $s "POST /down HTTP/1.1\r\nHost: alive.test\r\n"
    . "Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc";
close $s;

alive('client gone while its body is forwarded');

$t->stop();

done_testing();
