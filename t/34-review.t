#!/usr/bin/perl

# One reading of every request (issue 22), second review: readings of a
# request that the merged checks (t/30-smuggling.t) did not yet share with
# every adapter the README names.  Each section: what a hostile buyer
# sends, what an adapter of that kind would read, and what the gateway
# must answer (the adapter never contacted, or the checked request only).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode ();
use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode json_encode
    schema_check);

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        caps.test                       caps;
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        server_name caps.test;
        underscores_in_headers on;

        adcp_factory /_factory;

        location /mcp {
            adcp on;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_set_header X-AdCP-Task $adcp_task;
            proxy_set_header X-AdCP-Platform-Authorization $adcp_authorization;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }
    }
}
EOF

my $calls = $t->testdir . '/adapter.calls';

# the factory: every tenant may run get_products only

$t->mock($t->port('factory'), sub {
    my ($req) = @_;
    my ($tenant) = $req->{uri} =~ m{^/platforms/(.*)$};
    return [200, {}, json_encode({
        upstream      => '127.0.0.1:' . $t->port('adapter'),
        authorization => "Bearer secret-$tenant",
        capabilities  => ['get_products'],
    })];
});

# the adapter: records and echoes what it received

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    AdcpTest::append_line($calls, json_encode({
        headers => $req->{headers}, body => $req->{body} }));
    return [200, {}, json_encode({ adapter => 1,
        headers => $req->{headers}, body => $req->{body} })];
});

$t->run();

my $port = $t->port('http');
my $MCP = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":';

sub adapter_calls { $t->count_lines('adapter.calls') }

sub adcp_error_ok {
    my ($e, $code, $name) = @_;
    is($e->{code}, $code, "$name: $code");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

# a raw POST to /mcp with the given header lines

sub post {
    my ($body, @h) = @_;
    return http($port, "POST /mcp HTTP/1.1\r\nHost: caps.test\r\n"
        . join('', map { "$_\r\n" } @h)
        . 'Content-Length: ' . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body");
}

# --- the charset of the body ---------------------------------------------------
#
# RFC 8259: JSON between systems is UTF-8.  The MCP TypeScript SDK's server
# and Express's express.json() decode the body with the charset parameter
# the buyer sent (iconv-lite: UTF-7, Shift_JIS, ...); the gateway reads
# the bytes.  In UTF-7 the bytes "n+AGE-me" are the key "name": the gateway
# reads get_products and a member it does not read, the adapter two names,
# the last one create_media_buy.

my $body = $MCP . '{"name":"get_products","n+AGE-me":"create_media_buy",'
    . '"arguments":{}}}';
is(json_decode(Encode::encode('UTF-8', Encode::decode('UTF-7', $body)))
    ->{params}{name}, 'create_media_buy',
    'charset=utf-7: the body as an adapter honouring the charset reads it');

for my $ct ('application/json; charset=utf-7',
    'application/json;charset="UTF-7"', 'Application/JSON ; Charset=utf-7',
    'application/json; charset=shift_jis', 'application/json; charset=utf-16',
    'application/json; charset=iso-8859-1', 'application/json; charset=',
    'application/json; charset=utf-8; charset=utf-7')
{
    my $before = adapter_calls();
    my $r = post($body, "Content-Type: $ct");
    is($r->{status}, 400, "Content-Type $ct: HTTP 400");
    is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
        "Content-Type $ct: INVALID_REQUEST");
    adcp_error_ok((json_decode($r->{body}) // {})->{adcp_error},
        'INVALID_REQUEST', "Content-Type $ct");
    is(adapter_calls(), $before, "Content-Type $ct: the adapter is never "
        . 'contacted');
}

for my $ct ('application/json; charset=utf-8',
    'application/json;charset="UTF-8"', 'application/json; Charset=UTF8',
    'application/json; foo=bar')
{
    my $r = post($MCP . '{"name":"get_products"}}', "Content-Type: $ct");
    is((json_decode($r->{body}) // {})->{headers}{'x-adcp-task'},
        'get_products', "Content-Type $ct: read, get_products");
}

# --- inbound X-AdCP-* headers spelled with underscores -------------------------
#
# With underscores_in_headers on, nginx keeps "X_AdCP_Platform_Authorization"
# and proxies it as it is.  An adapter behind WSGI or CGI (Django, Flask,
# PHP) reads headers as HTTP_X_ADCP_PLATFORM_AUTHORIZATION, '-' and '_'
# alike: the buyer's value beside the gateway's, and which one wins is the
# server's choice.  The namespace is the gateway's in every spelling.

my $before = adapter_calls();
my $r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products"}}',
    'X_AdCP_Platform_Authorization' => 'Bearer buyer-chosen',
    'X-AdCP_Task'                   => 'create_media_buy',
    'x_adcp-tenant'                 => 'other',
    'X_ADCP_DEBUG'                  => 'on',
    'X_AdCP_Auth'                   => 'buyer-credential');
is(adapter_calls(), $before + 1, 'X_AdCP_*: proxied once');
my $seen = (json_decode($r->{body}) // {})->{headers} // {};
my @buyer = grep { /^x[-_]adcp[-_]/i && /_/ } sort keys %$seen;
is("@buyer", '', 'no X-AdCP- header spelled with underscores reaches the '
    . 'adapter');
is($seen->{'x-adcp-platform-authorization'}, 'Bearer secret-caps',
    'X-AdCP-Platform-Authorization: the gateway\'s');
is($seen->{'x-adcp-task'}, 'get_products', 'X-AdCP-Task: the checked task');
ok(!exists $seen->{'x_adcp_auth'},
    'X_AdCP_Auth: removed too (X-AdCP-Auth is kept in its own spelling, '
    . 'the one tasks store and replay)');

# --- members in another spelling -----------------------------------------------
#
# Go's encoding/json matches a key to a struct field caselessly, with
# U+017F (long s) as s and U+212A (Kelvin sign) as k, the last one winning:
# an adapter in Go (mark3labs/mcp-go, the MCP Go SDK before 1.3.1:
# CVE-2026-27896) reads "Name" as params.name.  The gateway must not judge
# get_products while such an adapter runs create_media_buy, nor pass a body
# where it finds no task and the adapter finds one.

for my $case (
    [ 'params.Name beside params.name', $MCP . '{"name":"get_products",'
      . '"Name":"create_media_buy","arguments":{}}}', 'params.name' ],
    [ 'params.NAME alone', $MCP . '{"NAME":"create_media_buy",'
      . '"arguments":{}}}', 'params.name' ],
    [ 'params with a long s', '{"jsonrpc":"2.0","id":1,"method":"tools/call",'
      . '"params":{"name":"get_products"},"param\u017f":{"name":'
      . '"create_media_buy"}}', 'params' ],
    [ 'A2A skill with a Kelvin sign', '{"jsonrpc":"2.0","id":1,"method":'
      . '"SendMessage","params":{"message":{"parts":[{"data":{"skill":'
      . '"get_products","s\u212aill":"create_media_buy"}}]}}}',
      'params.message.parts[].data.skill' ],
)
{
    my ($name, $b, $field) = @$case;
    my $before = adapter_calls();
    my $r = http_post_json($port, 'caps.test', '/mcp', $b);
    my $j = json_decode($r->{body}) // {};
    is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
        "$name: INVALID_REQUEST");
    my $e = $j->{result}{structuredContent}{adcp_error}
        // $j->{error}{data}{adcp_error};
    adcp_error_ok($e, 'INVALID_REQUEST', $name);
    is($e->{field}, $field, "$name: field $field");
    is(adapter_calls(), $before, "$name: the adapter is never contacted");
}

$r = http_post_json($port, 'caps.test', '/mcp', $MCP
    . '{"name":"get_products","arguments":{"Name":"x","names":1}}}');
is((json_decode($r->{body}) // {})->{headers}{'x-adcp-task'},
    'get_products', 'other spellings where the module does not read: read');

# --- an A2A part whose "kind" is not "data" -------------------------------------
#
# A2A 1.0 parts have no "kind": an adapter for SendMessage reads a part's
# data whatever else the part says, and a 0.3 adapter may look at data
# alone.  A part saying "text" with a data.skill is a skill to check.

for my $m ('SendMessage', 'message/send') {
    my $before = adapter_calls();
    my $r = http_post_json($port, 'caps.test', '/mcp', '{"jsonrpc":"2.0",'
        . '"id":"k","method":"' . $m . '","params":{"message":{"parts":'
        . '[{"kind":"text","data":{"skill":"create_media_buy","input":{}}}'
        . ']}}}');
    my $j = json_decode($r->{body}) // {};
    is($r->{headers}{'x-adcp-error'}, 'UNSUPPORTED_FEATURE',
        "$m, a \"text\" part naming create_media_buy: checked, "
        . 'UNSUPPORTED_FEATURE');
    adcp_error_ok($j->{error}{data}{adcp_error}, 'UNSUPPORTED_FEATURE',
        "$m, a \"text\" part naming create_media_buy");
    is(adapter_calls(), $before,
        "$m, a \"text\" part naming create_media_buy: no adapter");
}

# --- a body with another method --------------------------------------------------
#
# The module reads a POST's body only; a PUT, PATCH or GET with a body went
# to the adapter unread, with the tenant's credential.  A JSON-RPC server
# that does not route by method (or an adapter's framework that takes
# PATCH like POST) runs what it holds.

my $cmb = $MCP . '{"name":"create_media_buy","arguments":{}}}';

for my $m ('PUT', 'PATCH', 'GET', 'DELETE') {
    for my $te (0, 1) {
        my $name = "$m with a JSON body" . ($te ? ', chunked' : '');
        my $before = adapter_calls();
        my $r = http($port, "$m /mcp HTTP/1.1\r\nHost: caps.test\r\n"
            . "Content-Type: application/json\r\n"
            . ($te ? "Transfer-Encoding: chunked\r\n"
                : 'Content-Length: ' . length($cmb) . "\r\n")
            . "Connection: close\r\n\r\n"
            . ($te ? sprintf("%x\r\n%s\r\n0\r\n\r\n", length $cmb, $cmb)
                : $cmb));
        is($r->{status}, 400, "$name: HTTP 400");
        is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
            "$name: INVALID_REQUEST");
        adcp_error_ok((json_decode($r->{body}) // {})->{adcp_error},
            'INVALID_REQUEST', $name);
        is(adapter_calls(), $before, "$name: the adapter is never contacted");
    }
}

$r = http($port, "DELETE /mcp HTTP/1.1\r\nHost: caps.test\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");
is((json_decode($r->{body}) // {})->{adapter}, 1,
    'DELETE without a body (MCP ends a session so): passes');

# --- whitespace only yajl takes ---------------------------------------------------
#
# yajl's lexer takes \f and \v between tokens; RFC 8259, Python, Node and Go
# do not.  The gateway would check (and, with adcp_async, accept and store)
# a task whose body no adapter can read.

for my $c ("\f", "\x0b") {
    my $name = sprintf 'a body with \\x%02x between members', ord $c;
    my $before = adapter_calls();
    my $r = http_post_json($port, 'caps.test', '/mcp', '{"jsonrpc":"2.0",'
        . '"id":1,' . $c . '"method":"tools/call","params":{"name":'
        . '"get_products"}}');
    my $j = json_decode($r->{body}) // {};
    is($r->{status}, 400, "$name: HTTP 400");
    is($j->{error}{code}, -32700, "$name: JSON-RPC -32700");
    adcp_error_ok($j->{error}{data}{adcp_error}, 'INVALID_REQUEST', $name);
    is(adapter_calls(), $before, "$name: the adapter is never contacted");
}

$t->stop();

done_testing();
