#!/usr/bin/perl

# Hostile input: empty, duplicate and 8 KB Host headers, NUL bytes and
# invalid UTF-8 in host names, tenant keys and task names, 100,000 '['
# bodies, JSON-RPC ids of every JSON type (and hostile ones) echoed exactly,
# content types that are not JSON.  Each answer is what nginx or the module
# documents, and the server serves afterwards.

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
        ~^(?<t>[a-z0-9-]+)\.rx\.test$   $t;
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / {
            return 200 '{"ok":true,"task":"$http_x_task"}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /mcp {
            adcp on;
            proxy_set_header X-Task $adcp_task;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location /key {
            adcp on;
            adcp_tenant_key $http_x_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }
    }
}
EOF

my $port = $t->port('http');

sub alive {
    my ($name) = @_;
    my $r = http_get($port, 'known.test', '/mcp');
    is($r->{body}, '{"ok":true,"task":""}', "$name: then the server serves");
}

sub adcp_error {
    my ($r, $code, $name) = @_;
    is($r->{headers}{'x-adcp-error'}, $code, "$name: $code");
    is($r->{headers}{'content-type'}, 'application/json',
        "$name: application/json");
    my $j = json_decode($r->{body} // '');
    ok($j, "$name: a JSON body");
    return $j;
}

# --- Host ----------------------------------------------------------------------

my $r = http($port, "GET /mcp HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n");
is($r->{status}, 400, 'empty Host: nginx refuses with 400');
alive('empty Host');

$r = http($port, "GET /mcp HTTP/1.0\r\nConnection: close\r\n\r\n");
is($r->{status}, 404, 'HTTP/1.0 without Host: 404');
adcp_error($r, 'ACCOUNT_NOT_FOUND', 'HTTP/1.0 without Host');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: known.test\r\n"
    . "Host: other.test\r\nConnection: close\r\n\r\n");
is($r->{status}, 400, 'duplicate Host: nginx refuses with 400');
alive('duplicate Host');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: " . ('a' x 8192) . ".test\r\n"
    . "Connection: close\r\n\r\n");
ok(($r->{status} // 0) == 400 || ($r->{status} // 0) == 494,
    '8 KB Host: nginx refuses (large_client_header_buffers)');
alive('8 KB Host');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: " . ('a' x 4000) . ".rx.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 404, '4 KB regex host: a capture too long for an id');
adcp_error($r, 'ACCOUNT_NOT_FOUND', '4 KB regex host');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: kno\x00wn.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 400, 'NUL in Host: nginx refuses with 400');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: \xff\xfe.rx.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 404, 'invalid UTF-8 in Host: 404');
adcp_error($r, 'ACCOUNT_NOT_FOUND', 'invalid UTF-8 in Host');
alive('NUL and invalid UTF-8 in Host');

# --- tenant keys ----------------------------------------------------------------

for my $case (['NUL', "kn\x00own"], ['invalid UTF-8', "kn\xc3\x28own"],
    ['129 bytes', 'k' x 129], ['a space', 'kn own'])
{
    my ($name, $key) = @$case;
    $r = http($port, "GET /key HTTP/1.1\r\nHost: known.test\r\n"
        . "X-Tenant: $key\r\nConnection: close\r\n\r\n");
    ok(($r->{status} // 0) == 404 || ($r->{status} // 0) == 400,
        "tenant key with $name: refused");
    if (($r->{status} // 0) == 404) {
        adcp_error($r, 'ACCOUNT_NOT_FOUND', "tenant key with $name");
    }
}

$r = http($port, "GET /key HTTP/1.1\r\nHost: x\r\nX-Tenant: known\r\n"
    . "Connection: close\r\n\r\n");
is($r->{body}, '{"ok":true,"task":""}', 'a good tenant key passes');

# --- task names -----------------------------------------------------------------

# $adcp_task goes into headers: no control character may (a CR LF would
# add a header of the buyer's choosing to the adapter's request)

for my $case (['NUL', 'get\u0000products'], ['CR LF', 'get\r\nX-Evil: 1'],
    ['DEL', "get\x7f"], ['a tab', 'get\tproducts'])
{
    my ($what, $name) = @$case;
    $r = http_post_json($port, 'known.test', '/mcp',
        '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        . qq("params":{"name":"$name"}}));
    my $j = adcp_error($r, 'INVALID_REQUEST', "$what (escaped) in a task name");
    ok($j->{result}{isError}, "$what in a task name: the MCP form");
    is($j->{id}, 1, "$what in a task name: id echoed");

    $r = http_post_json($port, 'known.test', '/mcp',
        '{"jsonrpc":"2.0","id":2,"method":"message/send","params":{"message":'
        . qq({"parts":[{"kind":"data","data":{"skill":"$name"}}]}}}));
    $j = adcp_error($r, 'INVALID_REQUEST', "$what (escaped) in an A2A skill");
    is($j->{error}{code}, -32000, "$what in an A2A skill: -32000");
}

$r = http_post_json($port, 'known.test', '/mcp',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_\u00e9"}}');
is($r->{body}, qq({"ok":true,"task":"get_\xc3\xa9"}),
    'a non-ASCII task name passes as UTF-8');

$r = http_post_json($port, 'known.test', '/mcp',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . qq("params":{"name":"get\xff\xfeproducts"}}));
my $j = adcp_error($r, 'INVALID_REQUEST', 'invalid UTF-8 in a task name');
is($j->{error}{code}, -32700, 'invalid UTF-8: -32700');
ok(exists $j->{id} && !defined $j->{id}, 'invalid UTF-8: id null');

$r = http_post_json($port, 'known.test', '/mcp',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . qq("params":{"name":"get\x00products"}}));
$j = adcp_error($r, 'INVALID_REQUEST', 'a raw NUL in a task name');
is($j->{error}{code}, -32700, 'a raw NUL: -32700');
alive('bad task names');

# --- bodies ---------------------------------------------------------------------

for my $body ('[' x 100000, '{"a":' x 100000, '[' x 100000 . ']' x 100000) {
    $r = http_post_json($port, 'known.test', '/mcp', $body);
    is($r->{status}, 400, 'deep body of ' . length($body) . ' bytes: 400');
    adcp_error($r, 'INVALID_REQUEST', 'deep body');
}

$r = http_post_json($port, 'known.test', '/mcp',
    '{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":'
    . '{"name":"get_products","arguments":' . ('[' x 100000) . '}}');
is($r->{status}, 400,
    'deep arguments after the task: read to the end, refused as too deep');

$r = http_post_json($port, 'known.test', '/mcp', "\x00" x 1000);
$j = adcp_error($r, 'INVALID_REQUEST', '1000 NUL bytes');
is($j->{error}{code}, -32700, '1000 NUL bytes: -32700');

$r = http_post_json($port, 'known.test', '/mcp', '');
ok(($r->{status} // 0) != 0, 'an empty JSON body: answered');
alive('hostile bodies');

# --- ids, echoed exactly ----------------------------------------------------------

my $long = 'i' x 3000;
for my $id ('7', '-0', '1e400', '123456789012345678901234567890',
    '"' . $long . '"', '"\ud83d\ude00 \u0000 \/"', 'null', 'true', 'false',
    '{"a":{"b":[null,true,1.5e-7,"\u00e9"]}}', '[[[[]]]]', ' 42 ')
{
    $r = http_post_json($port, 'unknown.test', '/mcp',
        qq({"jsonrpc":"2.0","id":$id,"method":"message/send","params":{}}));
    (my $want = $id) =~ s/^ | $//g;
    $j = json_decode($r->{body});
    my $name = 'id ' . substr($want, 0, 30);
    is_deeply($j->{id}, json_decode($want), "$name: echoed as the same value");
    if ($want !~ /^[\[{"]/) {
        like($r->{body}, qr/"id":\Q$want\E,/, "$name: echoed as written");
    }
    schema_check($j->{error}{data}{adcp_error}, 'core/error.json',
        "$name: valid core/error.json");
}

my $big = '{"k":"' . ('v' x 5000) . '"}';
$r = http_post_json($port, 'unknown.test', '/mcp',
    qq({"jsonrpc":"2.0","id":$big,"method":"message/send","params":{}}));
$j = json_decode($r->{body});
ok(exists $j->{id} && !defined $j->{id}, 'an object id over 4 KB: null');

# --- content types ----------------------------------------------------------------

for my $ct ('text/plain', 'application/x-www-form-urlencoded',
    'application/jsonx', 'application/json-seq', 'multipart/form-data',
    'json')
{
    $r = http_post_json($port, 'unknown.test', '/mcp',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{}}',
        'Content-Type' => $ct);
    is($r->{status}, 400, "$ct: not read as JSON: refused, the plain form");
    adcp_error($r, 'INVALID_REQUEST', $ct);
}

$r = http_post_json($port, 'unknown.test', '/mcp',
    '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{}}',
    'Content-Type' => 'application/vnd.api+json');
is($r->{status}, 400, 'a +json type: refused (application/json only)');
adcp_error($r, 'INVALID_REQUEST', 'a +json type');

for my $ct ('APPLICATION/JSON; charset=utf-8', "application/json \t; x=y")
{
    $r = http_post_json($port, 'unknown.test', '/mcp',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{}}',
        'Content-Type' => $ct);
    is($r->{status}, 200, "$ct: read as JSON, the MCP form");
    is(json_decode($r->{body})->{id}, 5, "$ct: id echoed");
}

alive('all of it');

$t->stop();

done_testing();
