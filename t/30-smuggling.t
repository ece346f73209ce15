#!/usr/bin/perl

# One reading of every request (issue 22): the gateway's checks
# (capabilities, $adcp_task, the tenant) judge exactly what the adapter
# receives.  For each class of request an attacker could make the gateway
# and the adapter read differently: what the buyer gets (the AdCP error,
# schema-valid) and what the adapter receives (nothing, or the checked
# request only).
#
#   duplicate members, at every level the module reads, in memory, in a
#   temporary file, after the arguments; JSON-RPC batches; bodies that are
#   not application/json; no Host, HTTP/1.0, absolute URIs; tenant ids
#   starting with a dot from every source; inbound X-AdCP-* headers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

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
        other.test                      other;
        ~^(?<a>[a-z]+)\.dot\.test$      .$a;
        ~^(?<a>[a-z]+)\.re\.test$       $a;
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        server_name caps.test;
        client_body_buffer_size 1k;

        adcp_factory /_factory;

        location /mcp {
            adcp on;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_set_header X-AdCP-Task $adcp_task;
            proxy_set_header X-AdCP-Platform-Authorization $adcp_authorization;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location /keyed {
            adcp on;
            adcp_tenant_key $http_x_adcp_tenant;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_set_header X-AdCP-Task $adcp_task;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }

        location = /adcp/admin {
            allow 127.0.0.1;
            deny all;
            adcp_admin;
        }
    }
}
EOF

my $calls = $t->testdir . '/adapter.calls';
my $asked = $t->testdir . '/factory.calls';

# the factory: every tenant may run get_products only

$t->mock($t->port('factory'), sub {
    my ($req) = @_;
    my ($tenant) = $req->{uri} =~ m{^/platforms/(.*)$};
    AdcpTest::append_line($asked, $tenant);
    return [200, {}, json_encode({
        upstream      => '127.0.0.1:' . $t->port('adapter'),
        authorization => "Bearer secret-$tenant",
        capabilities  => ['get_products'],
    })];
});

# the adapter: records and echoes what it received, every header line

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    AdcpTest::append_line($calls, json_encode({
        headers => $req->{headers}, body => $req->{body} }));
    return [200, {}, json_encode({ adapter => 1,
        headers => $req->{headers}, body => $req->{body} })];
});

$t->run();

my $port = $t->port('http');

sub adapter_calls { $t->count_lines('adapter.calls') }
sub factory_asked { $t->count_lines('factory.calls', $_[0]) }

# an AdCP error object, valid and correctable

sub adcp_error_ok {
    my ($e, $code, $name) = @_;
    is($e->{code}, $code, "$name: $code");
    is($e->{recovery}, $code eq 'ACCOUNT_NOT_FOUND' ? 'terminal'
        : 'correctable', "$name: recovery");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

# a body refused before the adapter: the MCP form when the request is a
# tools/call with a readable id, JSON-RPC -32000 for other methods

sub refused {
    my ($body, $name, %o) = @_;
    my $before = adapter_calls();
    my $r = http_post_json($port, $o{host} // 'caps.test', '/mcp', $body);
    my $j = json_decode($r->{body}) // {};
    is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
        "$name: X-AdCP-Error INVALID_REQUEST");
    is(adapter_calls(), $before, "$name: the adapter is never contacted");

    my $e;
    if (($o{form} // 'mcp') eq 'mcp') {
        is($r->{status}, 200, "$name: HTTP 200, the MCP form");
        is_deeply($j->{id}, $o{id} // 1, "$name: the id echoed");
        ok($j->{result}{isError}, "$name: isError");
        $e = $j->{result}{structuredContent}{adcp_error};
        is_deeply(json_decode($j->{result}{content}[0]{text}),
            $j->{result}{structuredContent}, "$name: the text item");
    } else {
        is($r->{status}, $o{status} // 200, "$name: HTTP status");
        ok(exists $j->{id}, "$name: a JSON-RPC answer");
        is_deeply($j->{id}, $o{id}, "$name: the id");
        is($j->{error}{code}, $o{code} // -32000, "$name: JSON-RPC code");
        like($j->{error}{message}, qr/^INVALID_REQUEST: /,
            "$name: the message starts with the code");
        $e = $j->{error}{data}{adcp_error};
    }

    adcp_error_ok($e, 'INVALID_REQUEST', $name);
    is($e->{field}, $o{field}, "$name: field names the member")
        if $o{field};
    return $e;
}

my $MCP = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":';

# --- the checked request passes; the unchecked task never does ---------------

my $r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products","arguments":{}}}');
my $j = json_decode($r->{body});
is($j->{adapter}, 1, 'get_products reaches the adapter');
is($j->{headers}{'x-adcp-task'}, 'get_products', 'as get_products');

$r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"create_media_buy","arguments":{}}}');
is($r->{headers}{'x-adcp-error'}, 'UNSUPPORTED_FEATURE',
    'create_media_buy is not this account\'s');

# --- duplicate members, at every level the module reads ---------------------

refused($MCP . '{"name":"get_products","name":"create_media_buy",'
    . '"arguments":{}}}', 'params.name twice (the issue\'s example)',
    field => 'params.name');
refused($MCP . '{"name":"create_media_buy","name":"get_products",'
    . '"arguments":{}}}', 'params.name twice, the other order',
    field => 'params.name');
refused($MCP . '{"name":"get_products","arguments":{"brief":"'
    . ('x' x 300) . '","name":"decoy"},"name":"create_media_buy"}}',
    'params.name twice, the second after the arguments',
    field => 'params.name');
refused($MCP . '{"name":"get_products","n\u0061me":"create_media_buy"}}',
    'params.name twice, the second escaped', field => 'params.name');
refused($MCP . '{"name":"get_products"},"params":{"name":'
    . '"create_media_buy"}}', 'params twice', field => 'params');
refused('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":'
    . '"create_media_buy"},"method":"tools/call"}', 'method twice',
    field => 'method', form => 'jsonrpc', id => 1);
refused('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
    . '"get_products"},"id":2}', 'id twice: answered with a null id',
    field => 'id', form => 'jsonrpc', id => undef);
refused('{"jsonrpc":"2.0","jsonrpc":"1.0","id":1,"method":"tools/call",'
    . '"params":{"name":"get_products"}}', 'jsonrpc twice',
    field => 'jsonrpc');
refused($MCP . '{"name":"get_products","arguments":{"a":1},'
    . '"arguments":{"a":2}}}', 'params.arguments twice',
    field => 'params.arguments');

my $A2A = '{"jsonrpc":"2.0","id":"a","method":"message/send","params":';
my %a2a = (form => 'jsonrpc', id => 'a');

refused($A2A . '{"message":{"parts":[{"kind":"data","data":{"skill":'
    . '"get_products","skill":"create_media_buy"}}]}}}', 'A2A skill twice',
    field => 'params.message.parts[].data.skill', %a2a);
refused($A2A . '{"message":{"parts":[{"kind":"data","data":{"skill":'
    . '"get_products"}}],"parts":[{"kind":"data","data":{"skill":'
    . '"create_media_buy"}}]}}}', 'A2A parts twice',
    field => 'params.message.parts', %a2a);
refused($A2A . '{"message":{"parts":[]},"message":{"parts":[{"kind":"data",'
    . '"data":{"skill":"create_media_buy"}}]}}}', 'A2A message twice',
    field => 'params.message', %a2a);
refused($A2A . '{"message":{"parts":[{"kind":"text","kind":"data","data":'
    . '{"skill":"create_media_buy"}}]}}}', 'A2A kind twice',
    field => 'params.message.parts[].kind', %a2a);
refused($A2A . '{"message":{"parts":[{"kind":"data","data":{"skill":'
    . '"get_products"},"data":{"skill":"create_media_buy"}}]}}}',
    'A2A data twice', field => 'params.message.parts[].data', %a2a);
refused('{"jsonrpc":"2.0","id":"a","method":"SendMessage","params":'
    . '{"message":{"parts":[{"data":{"skill":"get_products","input":{},'
    . '"input":{"x":1}}}]}}}', 'A2A 1.0 input twice',
    field => 'params.message.parts[].data.input', %a2a);

# a body nginx keeps in a temporary file (client_body_buffer_size 1k)

refused($MCP . '{"name":"get_products","arguments":{"brief":"'
    . ('y' x 20000) . '"},"name":"create_media_buy"}}',
    'params.name twice in a body on disk', field => 'params.name');

# repeats where the module does not read are the adapter's business

$r = http_post_json($port, 'caps.test', '/mcp', $MCP . '{"name":'
    . '"get_products","arguments":{"brief":"a","brief":"b"}}}');
$j = json_decode($r->{body});
is($j->{headers}{'x-adcp-task'}, 'get_products',
    'a repeated member inside the arguments passes (not read here)');

# --- batches ------------------------------------------------------------------

for my $batch (
    [ 'a batch of one create_media_buy', '[' . $MCP
      . '{"name":"create_media_buy","arguments":{}}}]' ],
    [ 'a batch of allowed calls', '[' . $MCP . '{"name":"get_products"}},'
      . $MCP . '{"name":"get_products"}}]' ],
    [ 'an empty batch', '[]' ],
)
{
    refused($batch->[1], $batch->[0], form => 'jsonrpc', status => 400,
        code => -32600, id => undef);
}

# --- content types --------------------------------------------------------------

for my $ct ('text/plain', 'text/plain, application/json',
    'application/x-www-form-urlencoded', 'application/json-rpc',
    'application/vnd.adcp+json', 'multipart/form-data; boundary=x', undef)
{
    my $name = 'Content-Type ' . ($ct // '(none)');
    my $before = adapter_calls();
    my $body = $MCP . '{"name":"create_media_buy","arguments":{}}}';
    my $raw = "POST /mcp HTTP/1.1\r\nHost: caps.test\r\n"
        . (defined $ct ? "Content-Type: $ct\r\n" : '')
        . 'Content-Length: ' . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body";
    $r = http($port, $raw);
    is($r->{status}, 400, "$name: HTTP 400");
    is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
        "$name: INVALID_REQUEST");
    $j = json_decode($r->{body}) // {};
    adcp_error_ok($j->{adcp_error}, 'INVALID_REQUEST', $name);
    is(adapter_calls(), $before, "$name: the adapter is never contacted");
}

$r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products"}}',
    'Content-Type' => 'Application/JSON ; charset=utf-8');
is(json_decode($r->{body})->{headers}{'x-adcp-task'}, 'get_products',
    'application/json with parameters is read');

$r = http($port, "POST /mcp HTTP/1.1\r\nHost: caps.test\r\n"
    . "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
is($r->{headers}{'x-adcp-error'}, 'INVALID_REQUEST',
    'a chunked text/plain body: refused');

$r = http($port, "POST /mcp HTTP/1.1\r\nHost: caps.test\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");
is(json_decode($r->{body})->{adapter}, 1,
    'a POST without a body has no task: passes');

# --- no Host, HTTP/1.0, absolute URIs ------------------------------------------

my $before = adapter_calls();
my $asked_before = $t->count_lines('factory.calls');

$r = http($port, "POST /mcp HTTP/1.0\r\nContent-Type: application/json\r\n"
    . 'Content-Length: ' . length($MCP . '{"name":"get_products"}}')
    . "\r\n\r\n" . $MCP . '{"name":"get_products"}}');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND',
    'HTTP/1.0 without Host: ACCOUNT_NOT_FOUND (the server_name is not a '
    . 'tenant)');
$j = json_decode($r->{body}) // {};
is($j->{id}, 1, 'HTTP/1.0 without Host: the MCP form');
adcp_error_ok($j->{result}{structuredContent}{adcp_error},
    'ACCOUNT_NOT_FOUND', 'HTTP/1.0 without Host');

$r = http($port, "GET /mcp HTTP/1.0\r\n\r\n");
is($r->{status}, 404, 'GET, HTTP/1.0 without Host: 404');
adcp_error_ok((json_decode($r->{body}) // {})->{adcp_error},
    'ACCOUNT_NOT_FOUND', 'GET, HTTP/1.0 without Host');

is(adapter_calls(), $before, 'no Host: the adapter is never contacted');
is($t->count_lines('factory.calls'), $asked_before,
    'no Host: the factory is never asked');

$r = http($port, "GET http://other.test/mcp HTTP/1.1\r\nHost: caps.test\r\n"
    . "Connection: close\r\n\r\n");
is(json_decode($r->{body})->{headers}{'x-adcp-tenant'}, 'other',
    'absolute URI: the tenant of its host, not of the Host header');

$r = http($port, "GET http://other.test/mcp HTTP/1.0\r\n\r\n");
is(json_decode($r->{body})->{headers}{'x-adcp-tenant'}, 'other',
    'absolute URI, HTTP/1.0, no Host: the tenant of its host');

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: Other.Test.:8080\r\n"
    . "Connection: close\r\n\r\n");
is(json_decode($r->{body})->{headers}{'x-adcp-tenant'}, 'other',
    'Host as nginx normalises it');

# --- tenant ids starting with a dot, from every source -----------------------

for my $id ('..', '.', '.hidden', '../caps', 'a/b', 'caps/..') {
    $before = adapter_calls();
    $r = http_get($port, 'caps.test', '/keyed', 'X-AdCP-Tenant' => $id);
    is($r->{status}, 404, "adcp_tenant_key \"$id\": 404");
    adcp_error_ok((json_decode($r->{body}) // {})->{adcp_error},
        'ACCOUNT_NOT_FOUND', "adcp_tenant_key \"$id\"");
    is(adapter_calls(), $before, "adcp_tenant_key \"$id\": no adapter");
}

is(factory_asked('..') + factory_asked('.') + factory_asked('.hidden'), 0,
    'the factory is never asked for a dot id');

$r = http_get($port, 'caps.test', '/keyed', 'X-AdCP-Tenant' => 'other');
is(json_decode($r->{body})->{headers}{'x-adcp-tenant'}, 'other',
    'adcp_tenant_key: a valid id is that tenant');

$r = http_get($port, 'evil.dot.test', '/mcp');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND',
    'a tenant map capture giving ".evil": no tenant');
is(factory_asked('.evil'), 0, 'the factory is never asked for ".evil"');

$r = http_get($port, 'good.re.test', '/mcp');
is(json_decode($r->{body})->{headers}{'x-adcp-tenant'}, 'good',
    'a tenant map capture giving "good": that tenant');

$r = http_post_json($port, 'caps.test', '/adcp/admin?invalidate=caps', '');
is($r->{status}, 200, 'admin invalidate "caps": 200');

for my $id ('..', '.', '.x') {
    $r = http_post_json($port, 'caps.test', "/adcp/admin?invalidate=$id",
        '');
    is($r->{status}, 400, "admin invalidate \"$id\": 400");
    $r = http_post_json($port, 'caps.test', "/adcp/admin?recheck=$id", '');
    is($r->{status}, 400, "admin recheck \"$id\": 400");
}

# --- inbound X-AdCP-* headers ---------------------------------------------------

$before = adapter_calls();
$r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products"}}',
    'X-AdCP-Platform-Authorization' => 'Bearer buyer-chosen',
    'x-adcp-task'                   => 'create_media_buy',
    'X-ADCP-TENANT'                 => 'other',
    'X-AdCP-Debug'                  => 'on',
    'X-AdCP-Auth'                   => 'buyer-credential',
    'Authorization'                 => 'Bearer the-buyer');
is(adapter_calls(), $before + 1, 'inbound X-AdCP-*: proxied once');
my ($line) = reverse split /\n/, $t->read_file('adapter.calls');
my $seen = json_decode($line)->{headers};
is($seen->{'x-adcp-platform-authorization'}, 'Bearer secret-caps',
    'X-AdCP-Platform-Authorization: the gateway\'s, not the buyer\'s');
is($seen->{'x-adcp-task'}, 'get_products', 'X-AdCP-Task: the checked task');
is($seen->{'x-adcp-tenant'}, 'caps', 'X-AdCP-Tenant: the gateway\'s');
ok(!exists $seen->{'x-adcp-debug'}, 'X-AdCP-Debug: removed');
is($seen->{'x-adcp-auth'}, 'buyer-credential',
    'X-AdCP-Auth (the buyer\'s credential): kept');
is($seen->{authorization}, 'Bearer the-buyer', 'Authorization: kept');

# the buyer's own X- headers before an X-AdCP- one, which nginx keeps in the
# header list's second part (its first holds 20): the look for ours goes on
# past the X- headers that are not, and into the next part

$r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products"}}',
    (map { sprintf('Y-Filler-%02d', $_) => "f$_" } 1 .. 24),
    'X-Forwarded-For' => '192.0.2.7',
    'X-Request-Id'    => 'req-1',
    'x-adcp-late'     => 'on');
($line) = reverse split /\n/, $t->read_file('adapter.calls');
$seen = json_decode($line)->{headers};
ok(!exists $seen->{'x-adcp-late'},
    'an X-AdCP- header after other X- headers, in the second part: removed');
is($seen->{'x-forwarded-for'}, '192.0.2.7', 'X-Forwarded-For: kept');
is($seen->{'x-request-id'}, 'req-1', 'X-Request-Id: kept');
is(scalar(grep { /^y-filler-/ } keys %$seen), 24, 'the other headers: kept');

$r = http_post_json($port, 'caps.test', '/mcp',
    $MCP . '{"name":"get_products"}}',
    'X-Forwarded-For' => '192.0.2.8', 'X-AdCPx' => 'not ours');
($line) = reverse split /\n/, $t->read_file('adapter.calls');
$seen = json_decode($line)->{headers};
is($seen->{'x-forwarded-for'}, '192.0.2.8',
    'X- headers only: X-Forwarded-For kept');
is($seen->{'x-adcpx'}, 'not ours', 'X-AdCPx (no dash): kept');

# (nginx sends the client's headers after its own: a buyer's header left in
# would be the last line, the value the mock keeps)

$r = http_get($port, 'caps.test', '/keyed', 'X-AdCP-Tenant' => 'other',
    'X-AdCP-Extra' => '1',
    'X-AdCP-Platform-Authorization' => 'Bearer buyer-chosen');
$seen = json_decode($r->{body})->{headers};
is($seen->{'x-adcp-tenant'}, 'other',
    '$http_x_adcp_tenant is read before the header is removed');
ok(!exists $seen->{'x-adcp-extra'}, 'and the others are removed there too');
ok(!exists $seen->{'x-adcp-platform-authorization'},
    'a buyer\'s X-AdCP-Platform-Authorization the configuration does not '
    . 'set: removed');

$t->stop();

done_testing();
