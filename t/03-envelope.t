#!/usr/bin/perl

# The request envelope: the AdCP task name from MCP tools/call and both A2A
# forms, in any key order, from bodies in memory or buffered to disk; the
# body reaching the upstream byte for byte; bodies that are refused.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha1_hex);
use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode json_encode);

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        a.test   a;
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        client_max_body_size 2m;

        location /mcp {
            adcp on;
            proxy_set_header X-AdCP-Task $adcp_task;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location /small {
            adcp on;
            client_body_buffer_size 8k;
            proxy_set_header X-AdCP-Task $adcp_task;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }
    }
}
EOF

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    return [200, {}, AdcpTest::json_encode({
        task => $req->{headers}{'x-adcp-task'} // '',   # nginx sends no empty header
        len  => length $req->{body},
        sha1 => sha1_hex($req->{body}),
        ct   => $req->{headers}{'content-type'} // '',
    })];
});

$t->run();

my $port = $t->port('http');

sub post {
    my ($body, $uri, %h) = @_;
    return http_post_json($port, 'a.test', $uri // '/mcp', $body, %h);
}

sub task_of {
    my ($body, %h) = @_;
    my $r = post($body, '/mcp', %h);
    return "HTTP $r->{status}" unless $r->{status} == 200;
    my $j = json_decode($r->{body}) or return 'not JSON';
    return $j->{task} // $j;
}

sub refused {
    my ($body, $name, %h) = @_;
    my $r = post($body, '/mcp', %h);
    my $j = json_decode($r->{body});
    is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
        "$name: INVALID_REQUEST");
    return ($r, $j);
}

# MCP tools/call

is(task_of('{"jsonrpc":"2.0","id":7,"method":"tools/call",'
    . '"params":{"name":"get_products","arguments":{"brief":"x"}}}'),
    'get_products', 'MCP tools/call');

is(task_of('{"params":{"arguments":{"x":[1,{"name":"decoy"}],'
    . '"name":"decoy2"},"name":"create_media_buy"},"id":"q",'
    . '"method":"tools/call","jsonrpc":"2.0"}'),
    'create_media_buy', 'MCP: method and id last, decoys inside arguments');

is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_\u0070roducts"}}'),
    'get_products', 'MCP: an escaped task name is decoded');

is(task_of('{"jsonrpc":"2.0","method":"tools/call",'
    . '"params":{"name":"get_products"}}'),
    'get_products', 'MCP notification (no id)');

is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}'),
    '', 'MCP tools/call without a name: no task');

# A2A 0.3: parts with kind

is(task_of('{"jsonrpc":"2.0","id":1,"method":"message/send","params":'
    . '{"message":{"role":"user","parts":[{"kind":"text","text":"hi"},'
    . '{"kind":"data","data":{"skill":"get_products","parameters":{}}}]}}}'),
    'get_products', 'A2A 0.3 message/send');

is(task_of('{"params":{"message":{"parts":[{"data":{"parameters":{"skill":'
    . '"decoy"},"skill":"update_media_buy"},"kind":"data"}]}},'
    . '"method":"message/stream","id":2,"jsonrpc":"2.0"}'),
    'update_media_buy', 'A2A 0.3 message/stream, kind after data');

is(task_of('{"jsonrpc":"2.0","id":1,"method":"message/send","params":'
    . '{"message":{"parts":[{"kind":"text","data":{"skill":"no"}}]}}}'),
    'no', 'A2A 0.3: a text part with a data.skill: that skill (an adapter '
    . 'may read data alone; t/34-review.t)');

# A2A 1.0: parts without kind

is(task_of('{"jsonrpc":"2.0","id":"x","method":"SendMessage","params":'
    . '{"message":{"parts":[{"text":"hello"},'
    . '{"data":{"skill":"create_media_buy","input":{"a":1}}}]}}}'),
    'create_media_buy', 'A2A 1.0 SendMessage');

is(task_of('{"jsonrpc":"2.0","id":"x","method":"SendStreamingMessage",'
    . '"params":{"message":{"parts":[{"data":{"input":{}}},'
    . '{"data":{"skill":"get_signals"}}]}}}'),
    'get_signals', 'A2A 1.0 SendStreamingMessage, one part without skill');

my ($r, $j) = refused('{"jsonrpc":"2.0","id":5,"method":"SendMessage",'
    . '"params":{"message":{"parts":[{"data":{"skill":"a"}},'
    . '{"data":{"skill":"b"}}]}}}', 'two skill data parts');
is($j->{id}, 5, 'two skill data parts: JSON-RPC form with the id');
is($j->{error}{code}, -32000, 'two skill data parts: -32000');

($r, $j) = refused('{"jsonrpc":"2.0","id":5,"method":"message/send",'
    . '"params":{"message":{"parts":[{"kind":"data","data":{"skill":"a"}},'
    . '{"kind":"data","data":{"skill":"a"}}]}}}',
    'the same skill twice');

# other methods carry no task

is(task_of('{"jsonrpc":"2.0","id":0,"method":"initialize","params":'
    . '{"protocolVersion":"2025-06-18","name":"x"}}'),
    '', 'initialize: no task');
is(task_of('{"jsonrpc":"2.0","id":0,"method":"tools/list"}'), '',
    'tools/list: no task');
is(task_of('{"jsonrpc":"2.0","id":0,"method":"tasks/get",'
    . '"params":{"name":"x"}}'), '', 'JSON-RPC tasks/get: no task');
is(task_of('[{"jsonrpc":"2.0","id":0,"method":"tools/call",'
    . '"params":{"name":"x"}}]'), 'HTTP 400', 'a batch (array): refused');
is(task_of('"just a string"'), '', 'a JSON scalar: no task');

# content types

is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_products"}}',
    'Content-Type' => 'Application/JSON; charset=utf-8'),
    'get_products', 'application/json with parameters');
is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_products"}}',
    'Content-Type' => 'application/vnd.adcp+json'),
    'HTTP 400', 'a +json type: refused (one reading: application/json only)');
is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_products"}}', 'Content-Type' => 'text/plain'),
    'HTTP 400', 'text/plain: refused, not passed unread');
is(task_of('not json at all', 'Content-Type' => 'text/plain'), 'HTTP 400',
    'text/plain that is not JSON: refused');

$r = http_get($port, 'a.test', '/mcp');
is(json_decode($r->{body})->{task}, '', 'GET: no task');

# refused bodies

($r, $j) = refused('{"jsonrpc":"2.0","id":1,', 'truncated JSON');
is($r->{status}, 400, 'not JSON: HTTP 400');
is($j->{error}{code}, -32700, 'not JSON: -32700');
ok(exists $j->{id} && !defined $j->{id}, 'not JSON: "id":null');

refused('', 'empty JSON body');
refused('{"a":1} trailing', 'trailing garbage');
refused("{\"id\":1,\"method\":\"tools/call\",\"x\":\"\xff\xfe\"}",
    'invalid UTF-8 in a string');
refused('[' x 100000, 'deep nesting');
refused('{"id":' . ('[' x 600) . (']' x 600) . ',"method":"x"}',
    'an id nested too deep');

# the body is read to its end: what follows the task name is checked too

is(task_of('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{'
    . '"name":"get_products","arguments":{"x":'), 'HTTP 400',
    'read to the end: a body cut after the task name is refused');

# the body reaches the upstream byte for byte

my $big = json_encode({ jsonrpc => '2.0', id => 99, method => 'tools/call',
    params => { arguments => { blob => join('', map { chr(32 + $_ % 90) }
    1 .. 100_000), uni => "\x{263a}\\u00e9\t" }, name => 'sync_creatives' } });
$r = post($big);
$j = json_decode($r->{body});
is($j->{task}, 'sync_creatives', '100 KB body: task after the arguments');
is($j->{len}, length $big, '100 KB body: length at the upstream');
is($j->{sha1}, sha1_hex($big), '100 KB body: bytes at the upstream');

my $huge = json_encode({ jsonrpc => '2.0', id => 'big', method =>
    'message/send', params => { message => { parts => [
    { kind => 'text', text => 'x' x 100_000 },
    { kind => 'data', data => { parameters => { pad => 'y' x 200_000 },
      skill => 'create_media_buy' } } ] } } });
$t->write_file('error.log', '');
$r = post($huge, '/small');
$j = json_decode($r->{body});
ok(length $huge > 300_000, '300 KB body');
is($j->{task}, 'create_media_buy', 'body buffered to disk: task found');
is($j->{sha1}, sha1_hex($huge), 'body buffered to disk: bytes at upstream');
like($t->read_file('error.log'), qr/buffered to a temporary file/,
    'the body was buffered to a temporary file');

my $chunked = '{"jsonrpc":"2.0","id":3,"method":"tools/call",'
    . '"params":{"name":"get_products","arguments":{"q":"'
    . ('z' x 20000) . '"}}}';
my $raw = "POST /mcp HTTP/1.1\r\nHost: a.test\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n";
for (my $i = 0; $i < length $chunked; $i += 777) {
    my $c = substr($chunked, $i, 777);
    $raw .= sprintf("%x\r\n%s\r\n", length $c, $c);
}
$raw .= "0\r\n\r\n";
$r = http($port, $raw);
$j = json_decode($r->{body});
is($j->{task}, 'get_products', 'chunked request body: task');
is($j->{sha1}, sha1_hex($chunked), 'chunked request body: bytes');

$t->stop();

done_testing();
