#!/usr/bin/perl

# The per-worker platform cache, one worker: the factory called once per
# cold tenant, LRU order, failure memory, 404, garbage descriptors, build
# timeout, capabilities and routes in every transport, the variables, the
# body reaching the adapter, invalidation during a build, and platforms
# evicted or invalidated while a slow response still streams.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha1_hex);
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_post_json json_decode json_encode mcp
    get_raw post_raw wait_for);
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

    adcp_cache_size     3;
    adcp_failure_ttl    1s;
    adcp_not_found_ttl  1s;
    adcp_build_timeout  2s;

    log_format adcp '$adcp_tenant $adcp_cache_status $adcp_upstream '
                    '$adcp_platform_x $status';

    upstream named_b {
        server 127.0.0.1:%%PORT_adapter_b%%;
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / {
            return 200 '{"adapter":"A","tenant":"$http_x_tenant","auth":"$http_x_auth","var":"$http_x_var","task":"$http_x_task"}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_adapter_b%%;
        location / {
            return 200 '{"adapter":"B","tenant":"$http_x_tenant","task":"$http_x_task"}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            access_log %%TESTDIR%%/adcp.log adcp;
            proxy_set_header X-Tenant $adcp_tenant;
            proxy_set_header X-Auth $adcp_authorization;
            proxy_set_header X-Var $adcp_platform_x;
            proxy_set_header X-Task $adcp_task;
            proxy_pass http://$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /admin {
            adcp_admin;
        }
    }
}
EOF

my $counter = $t->testdir . '/factory.calls';

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $counter, adapter => $t->port('adapter'),
    adapter_b_name => 'named_b', echo => $t->port('echo'),
    stream => $t->port('stream')));

$t->mock($t->port('echo'), sub {
    my ($req) = @_;
    return [200, {}, json_encode({ len => length $req->{body},
        sha1 => sha1_hex($req->{body}) })];
});

my $streamed = 'S' x 5000;
$t->mock($t->port('stream'), sub {
    AdcpTest::append_line($counter . '.stream', 'start');
    return [200, {}, $streamed, { chunks => 5, pause => 0.3 }];
});

$t->run();

my $port = $t->port('http');

sub calls { $t->count_lines('factory.calls', $_[0]) }

sub get {
    my ($tenant) = @_;
    return http_get($port, "$tenant.test", '/mcp');
}

sub tool {
    my ($tenant, $task, $id) = @_;
    return http_post_json($port, "$tenant.test", '/mcp',
        mcp($id // 1, $task, {}));
}
# --- the factory, once per cold tenant ------------------------------------

my $r = get('alpha');
is($r->{status}, 200, 'cold tenant: served');
is($r->{headers}{'x-cache'}, 'MISS', 'cold tenant: MISS');
my $j = json_decode($r->{body});
is($j->{adapter}, 'A', 'the descriptor\'s upstream answered');
is($j->{tenant}, 'alpha', '$adcp_tenant at the adapter');
is($j->{auth}, 'Bearer secret-alpha', '$adcp_authorization at the adapter');
is($j->{var}, 'v-alpha', '$adcp_platform_x at the adapter');

$r = get('alpha');
is($r->{headers}{'x-cache'}, 'HIT', 'second request: HIT');
is(json_decode($r->{body})->{auth}, 'Bearer secret-alpha', 'HIT: same platform');
is(calls('alpha'), 1, 'the factory was called once');

# --- LRU: 3 entries; a recently used tenant survives ----------------------

get($_) for qw(lru-a lru-b lru-c);
is(get('lru-a')->{headers}{'x-cache'}, 'HIT', 'lru-a cached');
is(get('lru-d')->{headers}{'x-cache'}, 'MISS', 'lru-d built: lru-b evicted');
is(get('lru-a')->{headers}{'x-cache'}, 'HIT', 'recently used lru-a survives');
is(get('lru-b')->{headers}{'x-cache'}, 'SHARED',
    'least recently used lru-b was evicted, and comes back from the store');
is(calls('lru-b'), 1, 'lru-b built once: the host keeps its descriptor');
is(calls('lru-a'), 1, 'lru-a built once');

# --- failures --------------------------------------------------------------

$r = get('fail-1');
is($r->{status}, 503, 'failed build: 503');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE', 'SERVICE_UNAVAILABLE');
like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'Retry-After');
$j = json_decode($r->{body});
like($j->{adcp_error}{retry_after} // '', qr/^[1-9]\d*$/,
    'integer retry_after');
is($j->{adcp_error}{recovery}, 'transient', 'transient');
unlike($r->{body}, qr/boom|127\.0\.0\.1|factory/i,
    'the message says nothing of the factory');
AdcpTest::schema_check($j->{adcp_error}, 'core/error.json',
    'SERVICE_UNAVAILABLE is a valid error');

my $failed_at = time();
$r = get('fail-1');
is($r->{status}, 503, 'within the failure TTL: 503');
is(calls('fail-1'), 1, 'within the failure TTL: no factory call');

$r = tool('fail-1', 'get_products', 9);
$j = json_decode($r->{body});
is($j->{result}{structuredContent}{adcp_error}{code}, 'SERVICE_UNAVAILABLE',
    'MCP form of SERVICE_UNAVAILABLE');
$r = http_post_json($port, 'fail-1.test', '/mcp',
    '{"jsonrpc":"2.0","id":4,"method":"message/send","params":{}}');
is(json_decode($r->{body})->{error}{code}, -32027, 'JSON-RPC form: -32027');

ok(wait_for(sub { time() - $failed_at > 1.1 }, 5), 'the failure TTL passes');
get('fail-1');
is(calls('fail-1'), 2, 'after the failure TTL: the factory is called again');

$r = get('nf-1');
is($r->{status}, 404, 'factory 404: 404');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND', 'ACCOUNT_NOT_FOUND');
get('nf-1');
is(calls('nf-1'), 1, 'a 404 is remembered');

for my $bad (qw(notjson-1 noup-1 big-1 types-1 reset-1)) {
    $r = get($bad);
    is($r->{status}, 503, "$bad: 503");
    is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
        "$bad: SERVICE_UNAVAILABLE");
}

my $log = $t->read_file('error.log');
like($log, qr/tenant "notjson-1": bad descriptor: the descriptor is not JSON/,
    'not JSON is logged');
like($log, qr/tenant "noup-1": bad descriptor: the descriptor has no "upstream"/,
    'no upstream is logged');
like($log, qr/tenant "big-1": the factory's descriptor is over 64k/,
    '65 KB is logged');
like($log, qr/tenant "types-1": bad descriptor: "upstream" is not/,
    'wrong types are logged');

my $start = time();
$r = get('hang-1');
my $took = time() - $start;
is($r->{status}, 503, 'a hanging factory: 503');
ok($took < 3.5, sprintf('answered at the build timeout (%.1fs)', $took));
like($t->read_file('error.log'), qr/tenant "hang-1": the platform build timed out/,
    'the timeout is logged');

# --- capabilities and routes, in every transport --------------------------

$r = tool('caps-1', 'get_products');
is(json_decode($r->{body})->{adapter}, 'A', 'MCP: a listed task, upstream');
$r = tool('caps-1', 'create_media_buy');
is(json_decode($r->{body})->{adapter}, 'B', 'MCP: routes pick upstream{}');

$r = tool('caps-1', 'sync_creatives', 's');
$j = json_decode($r->{body});
is($r->{headers}{'x-adcp-error'}, 'UNSUPPORTED_FEATURE', 'MCP: unlisted task');
is($j->{id}, 's', 'MCP: UNSUPPORTED_FEATURE with the id');
is($j->{result}{structuredContent}{adcp_error}{recovery}, 'correctable',
    'UNSUPPORTED_FEATURE is correctable');
AdcpTest::schema_check($j->{result}{structuredContent}{adcp_error},
    'core/error.json', 'UNSUPPORTED_FEATURE is a valid error');

for my $always ('get_adcp_capabilities', 'get_task_status', 'tasks/get') {
    $r = tool('caps-1', $always);
    is(json_decode($r->{body})->{adapter}, 'A', "$always is always allowed");
}

$r = http_post_json($port, 'caps-1.test', '/mcp',
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
is(json_decode($r->{body})->{adapter}, 'A', 'no task: forwarded');

for my $a2a (
    [ 'A2A 0.3', 'message/send', '{"kind":"data","data":{"skill":"%s"}}' ],
    [ 'A2A 1.0', 'SendMessage', '{"data":{"skill":"%s","input":{}}}' ],
)
{
    my ($name, $method, $part) = @$a2a;
    my $body = sub {
        qq({"jsonrpc":"2.0","id":3,"method":"$method","params":{"message":)
        . qq({"parts":[) . sprintf($part, $_[0]) . ']}}}';
    };

    $r = http_post_json($port, 'caps-1.test', '/mcp', $body->('get_products'));
    is(json_decode($r->{body})->{adapter}, 'A', "$name: listed task");
    $r = http_post_json($port, 'caps-1.test', '/mcp',
        $body->('create_media_buy'));
    is(json_decode($r->{body})->{adapter}, 'B', "$name: routed task");
    $r = http_post_json($port, 'caps-1.test', '/mcp', $body->('sync_creatives'));
    $j = json_decode($r->{body});
    is($j->{error}{data}{adcp_error}{code}, 'UNSUPPORTED_FEATURE',
        "$name: unlisted task refused");
    like($j->{error}{message}, qr/^UNSUPPORTED_FEATURE: /,
        "$name: JSON-RPC error message");
}

# --- the body reaches the adapter byte for byte ----------------------------

my $body = json_encode({ jsonrpc => '2.0', id => 1, method => 'tools/call',
    params => { name => 'sync_creatives', arguments => {
    blob => join('', map { chr(33 + $_ % 90) } 1 .. 50_000) } } });
$r = http_post_json($port, 'echo-1.test', '/mcp', $body);
$j = json_decode($r->{body});
is($j->{sha1}, sha1_hex($body), 'the body reaches the adapter unchanged');

# --- an invalidation during a build: used by its waiters, not cached -------

my $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $s get_raw('slow-1.test', '/mcp');
ok(wait_for(sub { calls('slow-1') == 1 }), 'the slow build started');
$r = http($port, "POST /admin?invalidate=slow-1 HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");
is($r->{status}, 200, 'admin: invalidated');
is(json_decode($r->{body})->{invalidated}, 'slow-1', 'admin reply');
my $first = AdcpTest::parse_response(do { local $/; <$s> });
is($first->{status}, 200, 'the request of the build is served');
is(get('slow-1')->{headers}{'x-cache'}, 'MISS',
    'the invalidated build was not cached');
is(calls('slow-1'), 2, 'so the factory was called again');
is(get('slow-1')->{headers}{'x-cache'}, 'HIT', 'and now it is cached');

# --- evicted and invalidated while a slow response streams -----------------

$s = IO::Socket::INET->new("127.0.0.1:$port") or die;
print $s get_raw('stream-1.test', '/mcp');
ok(wait_for(sub { $t->count_lines('factory.calls.stream') == 1 }),
    'the slow adapter response started');
get($_) for qw(evict-1 evict-2 evict-3);
http($port, "POST /admin?invalidate=stream-1 HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");
http($port, "POST /admin?invalidate=* HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");
$r = AdcpTest::parse_response(do { local $/; <$s> });
is($r->{status}, 200, 'evicted while streaming: 200');
is($r->{body}, $streamed, 'evicted while streaming: the whole body');
ok(wait_for(sub { $t->read_file('adcp.log') =~ /^stream-1 /m }),
    'logged');
like($t->read_file('adcp.log'),
    qr/^stream-1 MISS 127\.0\.0\.1:\d+ v-stream-1 200$/m,
    'the access log still reads the evicted platform');

$r = get('alpha');
is($r->{headers}{'x-cache'}, 'MISS', 'after "*": rebuilt');

unlike($t->read_file('error.log'), qr/secret-/,
    'no platform authorization in error.log');
unlike($t->read_file('adcp.log') . $t->read_file('access.log'), qr/secret-/,
    'none in the access logs');

$t->stop();

done_testing();
