#!/usr/bin/perl

# No credential in any log: a platform's "authorization" (the factory's
# descriptor, sent to the adapter) and a buyer's Authorization header,
# through good requests, cache hits, errors of every kind, a failing
# build, an admin call.  At info level neither appears anywhere; at debug
# level (Debian's nginx is built --with-debug) only nginx's own dumps of
# request headers ("http header:") and of the headers proxy_pass sends
# ("http proxy header:") show them, never a line of this module; the
# access log never.  The admin and status endpoints do nothing where they
# are not configured.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode);
use AdcpMockFactory;

my $BUYER = 'Bearer buyer-7f3a9c';

my $conf = <<'EOF';
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    log_format full '$remote_addr "$request" $status $adcp_tenant '
                    '$adcp_task $adcp_cache_status $adcp_upstream '
                    '$adcp_health $sent_http_x_adcp_error $http_x_other';
    access_log %%TESTDIR%%/full.log full;

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_failure_ttl 1s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;
        adcp_error_pages on;

        location /mcp {
            adcp on;
            proxy_set_header X-AdCP-Platform-Authorization $adcp_authorization;
            proxy_set_header Authorization "";
            proxy_pass http://$adcp_upstream;
        }

        location /down {
            adcp on;
            proxy_set_header X-AdCP-Platform-Authorization $adcp_authorization;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        %%FACTORY_LOCATION%%

        location = /admin { adcp_admin; }
        location = /status { adcp_status; }
    }
}
EOF

sub traffic {
    my ($t) = @_;
    my $port = $t->port('http');
    my %auth = (Authorization => $BUYER, 'X-Other' => 'x');
    my $mcp = '{"jsonrpc":"2.0","id":3,"method":"tools/call",'
        . '"params":{"name":"get_products","arguments":{}}}';

    my $r = http_post_json($port, 'alpha.test', '/mcp', $mcp, %auth);
    is($r->{body}, '{"ok":true}', 'a good request');
    http_post_json($port, 'alpha.test', '/mcp', $mcp, %auth);
    http_get($port, 'alpha.test', '/mcp', %auth);
    http_post_json($port, 'alpha.test', '/mcp', '{nope', %auth);
    http_post_json($port, 'alpha.test', '/mcp', '[' x 1000, %auth);
    http_get($port, 'alpha.test', '/down', %auth);
    http_get($port, 'fail-a.test', '/mcp', %auth);
    http_get($port, 'nf-a.test', '/mcp', %auth);
    http_get($port, 'notjson-a.test', '/mcp', %auth);
    http_get($port, '-bad-.test', '/mcp', %auth);
    http($port, "POST /admin?invalidate=alpha HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: $BUYER\r\nContent-Length: 0\r\n"
        . "Connection: close\r\n\r\n");
    http_get($port, 'x', '/status', %auth);
    $r = http_get($port, 'alpha.test', '/mcp', %auth);
    is($r->{body}, '{"ok":true}', 'rebuilt after an invalidation');
}

for my $level ('info', 'debug') {
    my $t = AdcpTest->new(debug_log => $level eq 'debug');
    $t->write_file_expand('nginx.conf', $conf);
    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));
    $t->run();

    traffic($t);

    $t->stop();

    my $log = $t->read_file('error.log');
    my @lines = split /\n/, $log;
    my @secret = grep { /secret-alpha|buyer-7f3a9c/ } @lines;

    is($t->count_lines('factory.calls', 'alpha'), 2,
        "$level: the platform was built twice");

    if ($level eq 'info') {
        is(scalar @secret, 0, 'info: no credential in error.log')
            or diag(join "\n", @secret);

    } else {
        ok(scalar(grep { /\[debug\].*adcp/ } @lines) > 20,
            'debug: the module logged at debug level');

        # nginx's: request headers as parsed, variables as its script
        # engine evaluates them, the request proxy_pass sends (several
        # lines: the ones after the first carry no time stamp)

        my @theirs = grep {
            /^\d{4}\/\d\d\/\d\d / && !/\[debug\] \d+#\d+: \*\d+ http (script var|header|proxy header): /
        } @secret;
        is(scalar @theirs, 0,
            'debug: a credential only in nginx\'s own dumps')
            or diag(join "\n", @theirs);
        ok(!grep({ /\[\w+\] \d+#\d+: (\*\d+ )?adcp/ } @secret),
            'debug: never in a line of the module');
    }

    for my $f ('access.log', 'full.log') {
        my $a = $t->read_file($f);
        ok(length $a, "$level: $f written");
        unlike($a, qr/secret-alpha|buyer-7f3a9c/,
            "$level: no credential in $f");
    }
}

# --- the admin and status endpoints where they are not configured ---------------

my $t = AdcpTest->new;
$t->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp { adcp on; return 200 'mcp'; }
        location = /_factory { internal; return 200 '{"upstream":"x"}'; }

        location = /ops/status { adcp_status; }
    }

}
EOF

my $port = $t->port('http');

for my $req ("GET /adcp/status", "GET /adcp/admin", "POST /adcp/admin?invalidate=*",
    "POST /adcp/admin?invalidate=a", "GET /ops/status/x", "GET /status")
{
    my $r = http($port, "$req HTTP/1.1\r\nHost: a.test\r\n"
        . "Content-Length: 0\r\nConnection: close\r\n\r\n");
    is($r->{status}, 404, "$req where not configured: nginx's 404");
    like($r->{body}, qr{<center>nginx(/[\d.]+)?</center>},
        "$req where not configured: nginx's own page");
}

my $r = http_get($port, 'a.test', '/ops/status');
is($r->{status}, 200, 'the configured status location answers');
ok(json_decode($r->{body})->{cache}, 'with the status JSON');

$t->stop();

# no adcp_factory anywhere: the endpoints answer 404 even where written

$t = AdcpTest->new;
$t->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { a.test a; }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        location /mcp { adcp on; return 200 'mcp'; }
        location = /adcp/status { adcp_status; }
        location = /adcp/admin { adcp_admin; }
    }
}
EOF

for my $req ('GET /adcp/status', 'POST /adcp/admin?invalidate=a') {
    $r = http($t->port('http'), "$req HTTP/1.1\r\nHost: a.test\r\n"
        . "Content-Length: 0\r\nConnection: close\r\n\r\n");
    is($r->{status}, 404, "$req without any adcp_factory: 404");
}

$t->stop();

done_testing();
