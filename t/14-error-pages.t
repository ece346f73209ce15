#!/usr/bin/perl

# adcp_error_pages on: the adapter down (502), past proxy_read_timeout
# (504), or answering a 5xx that is not JSON reaches the buyer as an AdCP
# SERVICE_UNAVAILABLE in the request's transport form; an adapter's JSON
# 5xx passes untouched; off (the default), nginx's and the adapter's pages
# pass as they are.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode schema_check);

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        known.test   known;
    }

    proxy_read_timeout  1s;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        adcp_error_pages on;

        location /down/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        location /hang/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /e500/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /e503/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /big500/ {
            adcp on;
            proxy_buffers 4 4k;
            proxy_busy_buffers_size 4k;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /nb500/ {
            adcp on;
            proxy_buffering off;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /j500/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /ok/ {
            adcp on;
            add_header X-Always yes always;
            proxy_pass http://127.0.0.1:%%PORT_mock%%;
        }

        location /off/ {
            adcp on;
            adcp_error_pages off;
            proxy_pass http://127.0.0.1:%%PORT_mock%%/e500/;
        }

        location /offdown/ {
            adcp on;
            adcp_error_pages off;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        location /noadcp/ {
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }
    }
}
EOF

my $html = '<html><body><h1>500 Internal Server Error</h1>'
    . '<p>adapter-host-7.internal</p></body></html>';

$t->mock($t->port('mock'), sub {
    my ($req) = @_;
    my $u = $req->{uri};
    my %html = ('Content-Type' => 'text/html', 'Set-Cookie' => 'a=b');

    return [200, {}, '{"ok":true}', { delay => 3 }] if $u =~ m{^/hang/};
    return [500, \%html, $html] if $u =~ m{^/(e500|nb500)/};
    return [503, \%html, $html] if $u =~ m{^/e503/};
    return [500, \%html, 'x' x 300000] if $u =~ m{^/big500/};
    return [500, {}, '{"adapter_error":"kept"}'] if $u =~ m{^/j500/};
    return [200, {}, '{"ok":true}'];
});

$t->run();

my $port = $t->port('http');

my $mcp = '{"jsonrpc":"2.0","id":7,"method":"tools/call",'
    . '"params":{"name":"get_products","arguments":{}}}';
my $a2a = '{"jsonrpc":"2.0","id":"a-1","method":"message/send","params":'
    . '{"message":{"parts":[{"kind":"data","data":{"skill":"get_products"}}]}}}';

sub check_error {
    my ($r, $name) = @_;

    is($r->{headers}{'content-type'}, 'application/json',
        "$name: Content-Type application/json");
    is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
        "$name: X-AdCP-Error");
    is($r->{headers}{'content-length'}, length $r->{body},
        "$name: Content-Length");
    ok(!exists $r->{headers}{'set-cookie'},
        "$name: no header of the adapter's page");
    unlike($r->{body}, qr/html|adapter-host|127\.0\.0\.1|nginx/i,
        "$name: nothing of the page, no address");
}

sub check_object {
    my ($e, $name) = @_;
    is($e->{code}, 'SERVICE_UNAVAILABLE', "$name: code");
    is($e->{recovery}, 'transient', "$name: recovery transient");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

for my $case (
    [ 'adapter down',       '/down/x',   502 ],
    [ 'adapter hangs',      '/hang/x',   504 ],
    [ 'HTML 500',           '/e500/x',   502 ],
    [ 'HTML 503',           '/e503/x',   503 ],
    [ 'HTML 500, 300 KB',   '/big500/x', 502 ],
    [ 'HTML 500, unbuffered', '/nb500/x', 502 ],
)
{
    my ($what, $uri, $status) = @$case;

    my $r = http_post_json($port, 'known.test', $uri, $mcp);
    my $name = "$what, MCP";
    is($r->{status}, 200, "$name: HTTP 200");
    check_error($r, $name);
    my $j = json_decode($r->{body});
    is($j->{id}, 7, "$name: id echoed");
    ok($j->{result}{isError}, "$name: isError");
    is_deeply(json_decode($j->{result}{content}[0]{text}),
        $j->{result}{structuredContent}, "$name: text = structuredContent");
    check_object($j->{result}{structuredContent}{adcp_error}, $name);

    $r = http_post_json($port, 'known.test', $uri, $a2a);
    $name = "$what, A2A";
    is($r->{status}, 200, "$name: HTTP 200");
    check_error($r, $name);
    $j = json_decode($r->{body});
    is($j->{id}, 'a-1', "$name: id echoed");
    is($j->{error}{code}, -32027, "$name: JSON-RPC -32027");
    like($j->{error}{message}, qr/^SERVICE_UNAVAILABLE: /,
        "$name: the message begins with the code");
    check_object($j->{error}{data}{adcp_error}, $name);

    $r = http_get($port, 'known.test', $uri);
    $name = "$what, GET";
    is($r->{status}, $status, "$name: HTTP $status");
    check_error($r, $name);
    $j = json_decode($r->{body});
    is_deeply([keys %$j], ['adcp_error'], "$name: {adcp_error}");
    check_object($j->{adcp_error}, $name);
}

# HEAD: the headers only

my $r = http($port, "HEAD /down/x HTTP/1.1\r\nHost: known.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 502, 'HEAD, adapter down: 502');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE', 'HEAD: X-AdCP-Error');
is($r->{body}, '', 'HEAD: no body');

# a JSON 5xx of the adapter passes untouched

$r = http_post_json($port, 'known.test', '/j500/x', $mcp);
is($r->{status}, 500, 'JSON 500: the adapter\'s status');
is($r->{body}, '{"adapter_error":"kept"}', 'JSON 500: the adapter\'s body');
ok(!exists $r->{headers}{'x-adcp-error'}, 'JSON 500: no X-AdCP-Error');

# off: nginx's and the adapter's pages as they are; no adcp: nginx's

$r = http_get($port, 'known.test', '/off/x');
is($r->{status}, 500, 'off: the adapter\'s 500');
like($r->{body}, qr/<html>/, 'off: the adapter\'s page');

$r = http_get($port, 'known.test', '/offdown/x');
is($r->{status}, 502, 'off, adapter down: 502');
like($r->{headers}{'content-type'}, qr{text/html}, 'off: nginx\'s page');

$r = http_get($port, 'known.test', '/noadcp/x');
like($r->{headers}{'content-type'}, qr{text/html},
    'a location without adcp: nginx\'s page');

# AdCP errors of the module itself are not touched; good answers neither

$r = http_get($port, 'unknown.test', '/down/x');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND',
    'an unknown host: ACCOUNT_NOT_FOUND, not the error page');

$r = http_get($port, 'known.test', '/ok/x');
is($r->{status}, 200, 'a good answer: 200');
is($r->{body}, '{"ok":true}', 'a good answer: its body');

# keep-alive stays in step after a replaced page

$r = http($port, "GET /e500/x HTTP/1.1\r\nHost: known.test\r\n\r\n"
    . "GET /ok/x HTTP/1.1\r\nHost: known.test\r\nConnection: close\r\n\r\n");
like($r->{raw}, qr/SERVICE_UNAVAILABLE"[^<]*\{"ok":true\}$/s,
    'an error page then a good answer on one keep-alive connection');

$t->stop();

# the filters are chained only where some adcp_error_pages is on: here a
# location's alone, the http{} and server{} levels say nothing

$t->run(<<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        known.test   known;
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /on/ {
            adcp on;
            adcp_error_pages on;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        location /default/ {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }
    }
}
EOF

$r = http_post_json($port, 'known.test', '/on/x', $mcp);
is($r->{status}, 200, 'on in one location only: the MCP form');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
    'on in one location only: SERVICE_UNAVAILABLE');

$r = http_get($port, 'known.test', '/default/x');
is($r->{status}, 502, 'a location without it, same server: 502');
like($r->{headers}{'content-type'}, qr{text/html},
    'a location without it, same server: nginx\'s page');

$t->stop();

done_testing();
