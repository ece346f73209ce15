#!/usr/bin/perl

# AdCP errors in each transport form (SPEC section 3), with ids of every
# JSON type echoed exactly; every error object checked against AdCP's own
# core/error.json and the recovery enums/error-code.json gives its code.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode schema_check);

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        known.test   known;
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /mcp {
            adcp on;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }
    }
}
EOF

my $port = $t->port('http');

# what every error response shares; returns the adcp_error object

sub common {
    my ($r, $code, $name) = @_;

    like($r->{headers}{'content-type'} // '', qr{^application/json$},
        "$name: Content-Type application/json");
    is($r->{headers}{'x-adcp-error'}, $code, "$name: X-AdCP-Error $code");
    is($r->{headers}{'content-length'}, length $r->{body},
        "$name: Content-Length");
}

sub error_object {
    my ($e, $code, $name) = @_;

    is($e->{code}, $code, "$name: code");
    ok(length($e->{message} // '') > 0, "$name: a message");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");

    SKIP: {
        my $want = AdcpTest::error_code_recovery($code);
        skip 'AdCP schemas not present', 1 unless defined $want;
        is($e->{recovery}, $want, "$name: recovery from error-code.json");
    }
}

# ids of every JSON type, as sent and as a JSON value

my @ids = (
    [ '7',                 7 ],
    [ '0',                 0 ],
    [ '-12.5e3',           -12.5e3 ],
    [ '"abc"',             'abc' ],
    [ '"q\"u\\\\o\u00e9"', "q\"u\\o\x{e9}" ],
    [ '""',                '' ],
    [ 'null',              undef ],
    [ 'true',              JSON::PP::true ],
    [ 'false',             JSON::PP::false ],
    [ '{"a":[1,"x",{}]}',  { a => [1, 'x', {}] } ],
    [ '[]',                [] ],
);

# MCP tools/call: a result with isError, one text item, structuredContent

for my $id (@ids) {
    my ($raw, $value) = @$id;
    my $name = "MCP id $raw";

    my $r = http_post_json($port, 'unknown.test', '/mcp',
        qq({"jsonrpc":"2.0","id":$raw,"method":"tools/call",)
        . qq("params":{"name":"get_products","arguments":{}}}));

    is($r->{status}, 200, "$name: HTTP 200");
    common($r, 'ACCOUNT_NOT_FOUND', $name);

    my $j = json_decode($r->{body});
    is($j->{jsonrpc}, '2.0', "$name: jsonrpc 2.0");
    ok(exists $j->{id}, "$name: id present");
    is_deeply($j->{id}, $value, "$name: id echoed");
    ok(!exists $j->{error}, "$name: a result, not an error");

    my $res = $j->{result};
    ok($res->{isError}, "$name: isError");
    is(scalar @{$res->{content}}, 1, "$name: exactly one content item");
    is($res->{content}[0]{type}, 'text', "$name: a text item");

    my $text = json_decode($res->{content}[0]{text});
    is_deeply($text, $res->{structuredContent},
        "$name: the text item is the serialized structuredContent");
    is_deeply([keys %{$res->{structuredContent}}], ['adcp_error'],
        "$name: structuredContent is {adcp_error}");

    error_object($res->{structuredContent}{adcp_error}, 'ACCOUNT_NOT_FOUND',
        $name);
}

# numbers are echoed as written, not reformatted

my $j;
my $r = http_post_json($port, 'unknown.test', '/mcp',
    '{"jsonrpc":"2.0","id":1.50E+3,"method":"tools/call","params":{}}');
like($r->{body}, qr/"id":1\.50E\+3,/, 'a number id keeps its spelling');

# other JSON-RPC requests: a JSON-RPC error with data.adcp_error

for my $method ('message/send', 'SendMessage', 'initialize', 'tools/list') {
    for my $id (@ids[0, 3, 6, 9]) {
        my ($raw, $value) = @$id;
        my $name = "$method id $raw";

        $r = http_post_json($port, 'unknown.test', '/mcp',
            qq({"jsonrpc":"2.0","id":$raw,"method":"$method","params":{}}));

        is($r->{status}, 200, "$name: HTTP 200");
        common($r, 'ACCOUNT_NOT_FOUND', $name);

        my $j = json_decode($r->{body});
        is($j->{jsonrpc}, '2.0', "$name: jsonrpc 2.0");
        is_deeply($j->{id}, $value, "$name: id echoed");
        ok(!exists $j->{result}, "$name: an error, not a result");
        is($j->{error}{code}, -32000, "$name: code -32000");
        like($j->{error}{message}, qr/^ACCOUNT_NOT_FOUND: ./,
            "$name: the message begins with the AdCP code");
        error_object($j->{error}{data}{adcp_error}, 'ACCOUNT_NOT_FOUND',
            $name);
    }
}

# no id (notifications), non-JSON-RPC bodies, GET: the plain form

for my $case (
    [ 'MCP notification', '{"jsonrpc":"2.0","method":"tools/call",'
      . '"params":{"name":"get_products"}}' ],
    [ 'A2A notification', '{"jsonrpc":"2.0","method":"message/send"}' ],
    [ 'JSON, not JSON-RPC', '{"hello":"world","id":3}' ],
    [ 'method not a string', '{"id":3,"method":7}' ],
)
{
    my ($name, $body) = @$case;
    $r = http_post_json($port, 'unknown.test', '/mcp', $body);
    is($r->{status}, 404, "$name: HTTP 404");
    common($r, 'ACCOUNT_NOT_FOUND', $name);
    my $j = json_decode($r->{body});
    is_deeply([keys %$j], ['adcp_error'], "$name: {adcp_error}");
    error_object($j->{adcp_error}, 'ACCOUNT_NOT_FOUND', $name);
}

$r = http_get($port, 'unknown.test', '/mcp');
is($r->{status}, 404, 'GET: 404');
common($r, 'ACCOUNT_NOT_FOUND', 'GET');
error_object(json_decode($r->{body})->{adcp_error}, 'ACCOUNT_NOT_FOUND',
    'GET');

$r = http($port, "HEAD /mcp HTTP/1.1\r\nHost: unknown.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 404, 'HEAD: 404');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND', 'HEAD: X-AdCP-Error');
is($r->{body}, '', 'HEAD: no body');

$r = http_post_json($port, 'unknown.test', '/mcp', 'a=b',
    'Content-Type' => 'application/x-www-form-urlencoded');
is($r->{status}, 400, 'a form POST: plain 400 (not read as JSON-RPC)');
common($r, 'INVALID_REQUEST', 'a form POST');
error_object(json_decode($r->{body})->{adcp_error}, 'INVALID_REQUEST',
    'a form POST');

# a JSON-RPC batch: no request to answer, JSON-RPC -32600, id null

$r = http_post_json($port, 'unknown.test', '/mcp', '[1,2,3]');
is($r->{status}, 400, 'a JSON array: HTTP 400');
common($r, 'INVALID_REQUEST', 'a JSON array');
$j = json_decode($r->{body});
is($j->{error}{code}, -32600, 'a JSON array: -32600');
ok(exists $j->{id} && !defined $j->{id}, 'a JSON array: id null');
error_object($j->{error}{data}{adcp_error}, 'INVALID_REQUEST',
    'a JSON array');

# INVALID_REQUEST in each form

$r = http_post_json($port, 'known.test', '/mcp', '{"jsonrpc":"2.0",]');
is($r->{status}, 400, 'not JSON: HTTP 400');
common($r, 'INVALID_REQUEST', 'not JSON');
$j = json_decode($r->{body});
is($j->{error}{code}, -32700, 'not JSON: -32700');
ok(exists $j->{id} && !defined $j->{id}, 'not JSON: id null');
like($j->{error}{message}, qr/^INVALID_REQUEST: /, 'not JSON: message');
error_object($j->{error}{data}{adcp_error}, 'INVALID_REQUEST', 'not JSON');

$r = http_post_json($port, 'unknown.test', '/mcp', 'nope');
is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
    'not JSON for an unknown host: INVALID_REQUEST first');

$r = http_post_json($port, 'known.test', '/mcp', '{"jsonrpc":"2.0",'
    . '"id":"amb","method":"message/send","params":{"message":{"parts":['
    . '{"kind":"data","data":{"skill":"a"}},'
    . '{"kind":"data","data":{"skill":"b"}}]}}}');
is($r->{status}, 200, 'ambiguous skill: HTTP 200');
common($r, 'INVALID_REQUEST', 'ambiguous skill');
$j = json_decode($r->{body});
is($j->{id}, 'amb', 'ambiguous skill: id');
is($j->{error}{code}, -32000, 'ambiguous skill: -32000');
error_object($j->{error}{data}{adcp_error}, 'INVALID_REQUEST',
    'ambiguous skill');

$r = http_post_json($port, 'known.test', '/mcp', '[' x 1000);
is($r->{status}, 400, 'too deep: HTTP 400, as a parse error');
common($r, 'INVALID_REQUEST', 'too deep');
$j = json_decode($r->{body});
is($j->{error}{code}, -32700, 'too deep: -32700');
ok(exists $j->{id} && !defined $j->{id}, 'too deep: id null');
error_object($j->{error}{data}{adcp_error}, 'INVALID_REQUEST', 'too deep');

# a known tenant passes, and keep-alive survives an error

$r = http_post_json($port, 'known.test', '/mcp',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}');
is($r->{body}, '{"ok":true}', 'known tenant: the adapter answers');

my $ka = "GET /mcp HTTP/1.1\r\nHost: unknown.test\r\n\r\n"
    . "GET /mcp HTTP/1.1\r\nHost: known.test\r\nConnection: close\r\n\r\n";
$r = http($port, $ka);
like($r->{raw}, qr/ACCOUNT_NOT_FOUND.*\{"ok":true\}/s,
    'an error then a good request on one keep-alive connection');

$ka = "POST /mcp HTTP/1.1\r\nHost: known.test\r\n"
    . "Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{nope"
    . "POST /mcp HTTP/1.1\r\nHost: unknown.test\r\n"
    . "Content-Type: application/json\r\nContent-Length: 46\r\n\r\n"
    . '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
    . "GET /mcp HTTP/1.1\r\nHost: known.test\r\nConnection: close\r\n\r\n";
$r = http($port, $ka);
like($r->{raw}, qr/INVALID_REQUEST.*"id":2,"error".*ACCOUNT_NOT_FOUND.*\{"ok":true\}/s,
    'refused POST bodies keep the keep-alive connection in step')
    or diag($r->{raw});

$t->stop();

done_testing();
