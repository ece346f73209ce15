#!/usr/bin/perl

# A request's reference to its platform survives an internal redirect: an
# error_page after proxy_intercept_errors, an adapter's X-Accel-Redirect
# (which nginx honours by default), a redirect to a location with adcp on
# again.  The redirect clears r->ctx; the reference is released by a pool
# cleanup in the ctx, which outlives it.  Seen in the debug log: once the
# tenant is invalidated (the cache's reference gone), its platform is freed
# ("platform freed"); a lost reference would keep it forever (and, under
# valgrind, leak it at worker exit).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get wait_for);
use AdcpMockFactory;

my $t = AdcpTest->new(debug_log => 1);

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\.test$   $t;
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;

        location / {
            return 200 'adapter';
        }

        location ~ ^/ep {
            return 502;
        }

        location /xa/ {
            add_header X-Accel-Redirect /accel-done;
            return 200 'not this';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        adcp_factory /_factory;

        location /mcp {
            adcp on;
            proxy_pass http://$adcp_upstream;
        }

        location /ep/ {
            adcp on;
            proxy_intercept_errors on;
            error_page 502 = /fallback;
            proxy_pass http://$adcp_upstream;
        }

        location = /fallback {
            return 200 'fallback';
        }

        location /ep2/ {
            adcp on;
            proxy_intercept_errors on;
            error_page 502 = /again/;
            proxy_pass http://$adcp_upstream;
        }

        location /again/ {
            adcp on;
            proxy_pass http://$adcp_upstream;
        }

        location /xa/ {
            adcp on;
            proxy_pass http://$adcp_upstream;
        }

        location = /accel-done {
            internal;
            return 200 'accel';
        }

        %%FACTORY_LOCATION%%

        location = /admin {
            adcp_admin;
        }
    }
}
EOF

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls', adapter => $t->port('adapter')));

$t->run();

my $port = $t->port('http');

sub invalidate {
    my ($tenant) = @_;
    my $r = http($port, "POST /admin?invalidate=$tenant HTTP/1.1\r\n"
        . "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    is($r->{status}, 200, "$tenant invalidated");
}

sub freed {
    my ($tenant) = @_;
    my $line = qr/adcp: tenant "\Q$tenant\E": platform freed/;
    return wait_for(sub { $t->read_file('error.log') =~ $line });
}

# --- the control: no redirect ---------------------------------------------

my $r = http_get($port, 'plain-1.test', '/mcp');
is($r->{status}, 200, 'no redirect: served');
is($r->{body}, 'adapter', 'no redirect: the adapter answered');
invalidate('plain-1');
ok(freed('plain-1'), 'no redirect: the platform is freed once invalidated');

# --- error_page after proxy_intercept_errors ------------------------------

$r = http_get($port, 'ep-1.test', '/ep/');
is($r->{status}, 200, 'error_page: the fallback answered');
is($r->{body}, 'fallback', 'error_page: its body');
invalidate('ep-1');
ok(freed('ep-1'), 'error_page: the platform is freed once invalidated');

# --- error_page to a location with adcp on: a second reference ------------

$r = http_get($port, 'ep2-1.test', '/ep2/');
is($r->{status}, 200, 'error_page to adcp on: served');
is($r->{body}, 'adapter', 'error_page to adcp on: by the adapter');
invalidate('ep2-1');
ok(freed('ep2-1'),
    'error_page to adcp on: the platform is freed once invalidated');

# --- the adapter's X-Accel-Redirect ---------------------------------------

$r = http_get($port, 'xa-1.test', '/xa/');
is($r->{status}, 200, 'X-Accel-Redirect: followed');
is($r->{body}, 'accel', 'X-Accel-Redirect: the internal location answered');
invalidate('xa-1');
ok(freed('xa-1'), 'X-Accel-Redirect: the platform is freed once invalidated');

# --- a platform still cached is not freed ---------------------------------

$r = http_get($port, 'kept-1.test', '/ep/');
is($r->{body}, 'fallback', 'another tenant through error_page');
unlike($t->read_file('error.log'), qr/tenant "kept-1": platform freed/,
    'its platform, still cached, is not freed');

is($t->count_lines('factory.calls'), 5, 'one build per tenant');

$t->stop();

done_testing();
