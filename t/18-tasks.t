#!/usr/bin/perl

# Long-running tasks, part A (SPEC section 7): adcp_async accepts a task
# into Redis (a record, an idempotency key, a stream entry) and answers
# "submitted" at once in each transport form without contacting the
# adapter (which takes 2 s); a replay answers the same task id, another
# payload IDEMPOTENCY_CONFLICT; get_task_status / tasks/get of the
# module's ids are answered from Redis (others pass through); another
# principal's or tenant's task is REFERENCE_NOT_FOUND; Redis down or
# stalled at accept is SERVICE_UNAVAILABLE with nothing stored;
# push_notification_config without adcp_task_webhooks is refused; the
# configuration errors; /adcp/status counts.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http http_post_json http_get json_decode json_encode mcp
    schema_check append_line wait_for);
use AdcpMockFactory;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $VG = AdcpTest::valgrind();

# --- configuration errors ------------------------------------------------

{
    my $c = AdcpTest->new;

    my $conf = sub {
        my ($http, $loc) = @_;
        return <<"EOF";
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { a.test a; }
$http
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location /mcp {
            adcp on;
$loc
            proxy_pass http://127.0.0.1:1;
        }
    }
}
EOF
    };

    my ($rc, $out) = $c->test_config($conf->('    adcp_factory /f;',
        '            adcp_async create_media_buy;'));
    isnt($rc, 0, 'adcp_async without adcp_redis: nginx -t fails');
    like($out, qr/"adcp_async" requires "adcp_redis".* in \S*nginx\.conf:11$/m,
        'the message names adcp_async, adcp_redis and file:line');

    ($rc, $out) = $c->test_config($conf->('    adcp_redis 127.0.0.1:6379;',
        '            adcp_async create_media_buy;'));
    isnt($rc, 0, 'adcp_async without adcp_factory: nginx -t fails');
    like($out, qr/"adcp_async" requires "adcp_factory".* in \S*nginx\.conf:11$/m,
        'the message names adcp_factory and file:line');

    my $both = "    adcp_redis 127.0.0.1:6379;\n    adcp_factory /f;";

    ($rc, $out) = $c->test_config($conf->($both,
        "            adcp_async create_media_buy;\n"
        . "            adcp_task_ttl 30m;"));
    isnt($rc, 0, 'adcp_task_ttl 30m: nginx -t fails');
    like($out, qr/adcp_task_ttl "30m" is below the minimum of 1h.* in \S*:13$/m,
        'the message names the value and the line');

    ($rc, $out) = $c->test_config($conf->(
        "$both\n    adcp_task_claim_after 30s;",
        "            adcp_async create_media_buy;\n"
        . "            adcp_task_ttl 1h;\n"
        . "            adcp_task_webhooks on;\n"
        . "            adcp_task_headers Authorization X-AdCP-*;"));
    is($rc, 0, 'every directive at its minimum: nginx -t passes')
        or diag($out);

    ($rc, $out) = $c->test_config($conf->($both,
        "            adcp_async create_media_buy;\n"
        . "            adcp_task_headers Authorization X-*-Bad;"));
    isnt($rc, 0, 'a bad adcp_task_headers name: nginx -t fails');
    like($out, qr/invalid adcp_task_headers name "X-\*-Bad"/,
        'the message names it');

    ($rc, $out) = $c->test_config($conf->($both,
        "            adcp_async create_media_buy;\n"
        . "            adcp_async update_media_buy;"));
    like($out, qr/"adcp_async" directive is duplicate/, 'a second adcp_async');
}

# --- a gateway ---------------------------------------------------------

my $t = AdcpTest->new;
my $reuseport = $VG ? '' : 'reuseport';
my $workers = $VG ? 1 : 2;

$t->redis_start();
my $rport = $t->port('redis');

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis          127.0.0.1:%%PORT_redis%%;
    adcp_redis_channel  test:invalidate;
    adcp_redis_ping     1s;
    adcp_task_concurrency 0;    # accept only: execution is t/20's
    adcp_task_webhook_http on;  # the webhooks below are http:// (TEST-NET-1)

    server {
        listen 127.0.0.1:%%PORT_http%% $reuseport;
        adcp_factory /_factory;
        client_body_buffer_size 1k;

        location /mcp {
            adcp on;
            adcp_async create_media_buy update_media_buy;
            add_header X-Cache \$adcp_cache_status always;
            proxy_pass http://\$adcp_upstream;
        }

        location /hooks {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            adcp_task_ttl 2h;
            adcp_task_headers Authorization X-Custom;
            proxy_pass http://\$adcp_upstream;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/\$adcp_tenant;
        }

        location = /adcp/status { adcp_status; }
    }
}
EOF

my $calls = $t->testdir . '/adapter.calls';

# the adapter: 2 s for create_media_buy, at once otherwise; each call
# appends its tool name (or A2A skill)

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $name = $j->{params}{name} // 'other';
    append_line($calls, $name);
    my $res = '{"jsonrpc":"2.0","id":' . json_encode($j->{id}) . ','
        . '"result":{"structuredContent":{"from":"adapter"},'
        . '"content":[{"type":"text","text":"{}"}]}}';
    return [200, {}, $res, { delay => $name eq 'create_media_buy' ? 2 : 0 }];
});

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

$t->run();

my $port = $t->port('http');

sub hgetall {
    my %h = $t->rcli('HGETALL', "adcp:task:$_[0]");
    return \%h;
}

sub adapter_calls { $t->count_lines('adapter.calls', $_[0]) }

sub post {
    my ($host, $body, %h) = @_;
    my $uri = delete $h{uri} // '/mcp';
    my $t0 = time();
    my $r = http_post_json($port, $host, $uri, $body, %h);
    $r->{elapsed} = time() - $t0;
    $r->{json} = json_decode($r->{body});
    return $r;
}

my $auth1 = 'Bearer buyer-one';
my $auth2 = 'Bearer buyer-two';
my $fast = $VG ? 1.9 : 0.5;

# --- accept over MCP ---------------------------------------------------

my %args = (
    idempotency_key => 'idem-0001-aaaa-bbbb',
    buyer_ref => 'campaign-1',
    packages => [ { product_id => 'p1', budget => 1500.50 } ],
    context => { trace => 'x' },
);

my $body1 = mcp(7, 'create_media_buy', \%args);

my $r = post('acme.test', $body1, Authorization => $auth1,
    'X-AdCP-Trace' => 'tr-1', 'X-AdCP-Auth' => 'auth-1', 'X-Other' => 'no',
    Accept =>
    'application/json, text/event-stream');

is($r->{status}, 200, 'MCP accept: 200');
ok($r->{elapsed} < $fast, "MCP accept answered in "
    . sprintf('%.3f', $r->{elapsed}) . ' s, well under the adapter\'s 2 s');
is($r->{json}{id}, 7, 'the id is echoed');
my $sc = $r->{json}{result}{structuredContent};
is($sc->{status}, 'submitted', 'structuredContent.status submitted');
like($sc->{task_id} // '', qr/^adcp_task_[0-9a-f]{24}$/, 'a task id');
ok(!exists $sc->{replayed}, 'a fresh accept is not replayed');
is(scalar @{$r->{json}{result}{content}}, 1, 'one content item');
is_deeply(json_decode($r->{json}{result}{content}[0]{text}), $sc,
    'its text is the same object');
ok(!$r->{json}{result}{isError}, 'no isError');
schema_check($sc, 'core/compact-task-submitted.json',
    'structuredContent: valid compact-task-submitted');
schema_check($sc, 'core/protocol-envelope.json',
    'structuredContent: valid protocol-envelope');
is($r->{headers}{'x-cache'}, 'MISS', 'the platform was resolved first');

my $task1 = $sc->{task_id};

is(adapter_calls(), 0, 'the adapter was not contacted');

# --- what Redis holds ----------------------------------------------------

my $rec = hgetall($task1);
is($rec->{tenant}, 'acme', 'record: tenant');
is($rec->{principal}, md5_hex($auth1), 'record: principal = MD5 of '
    . 'Authorization');
is($rec->{task_type}, 'create_media_buy', 'record: task_type');
is($rec->{transport}, 'mcp', 'record: transport');
is($rec->{protocol}, 'media-buy', 'record: protocol');
is($rec->{status}, 'submitted', 'record: status');
like($rec->{created_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    'record: created_at, ISO 8601 UTC');
is($rec->{updated_at}, $rec->{created_at}, 'record: updated_at');
is($rec->{body}, $body1, 'record: the body as sent');
is($rec->{uri}, '/mcp', 'record: uri');
is($rec->{host}, 'acme.test', 'record: host');
is($rec->{idempotency_key}, 'idem-0001-aaaa-bbbb', 'record: the key');
my %hdr = map { lc $_->[0] => $_->[1] } @{json_decode($rec->{headers}) // []};
is($hdr{authorization}, $auth1, 'record headers: Authorization');
is($hdr{'x-adcp-auth'}, 'auth-1',
    'record headers: X-AdCP-* by prefix (X-AdCP-Auth, the buyer\'s)');
ok(!exists $hdr{'x-adcp-trace'}, 'record headers: a buyer\'s other '
    . 'X-AdCP-* is removed before the task stores its headers');
is($hdr{accept}, 'application/json, text/event-stream',
    'record headers: Accept');
is($hdr{'content-type'}, 'application/json', 'record headers: Content-Type');
ok(!exists $hdr{'x-other'} && !exists $hdr{host},
    'record headers: nothing else');

my ($ttl) = $t->rcli('TTL', "adcp:task:$task1");
ok($ttl > 7 * 86400 - 60 && $ttl <= 7 * 86400, "record TTL $ttl: 7d");
my $idem = 'adcp:idem:acme:' . md5_hex($auth1) . ':idem-0001-aaaa-bbbb';
($ttl) = $t->rcli('TTL', $idem);
ok($ttl > 7 * 86400 - 60 && $ttl <= 7 * 86400, "idempotency key TTL $ttl");
is(($t->rcli('XLEN', 'adcp:tasks'))[0], 1, 'one stream entry');
my @x = $t->rcli('XRANGE', 'adcp:tasks', '-', '+');
is_deeply([@x[1, 2]], ['task', $task1], 'the entry names the task');

# --- replay, conflict ----------------------------------------------------

# another JSON-RPC id, the arguments' keys in another order

my $body1b = '{"method":"tools/call","jsonrpc":"2.0","id":"retry-1",'
    . '"params":{"arguments":{"context":{"trace":"x"},"packages":'
    . '[{"budget":1500.50,"product_id":"p1"}],"buyer_ref":"campaign-1",'
    . '"idempotency_key":"idem-0001-aaaa-bbbb"},"name":"create_media_buy"}}';

$r = post('acme.test', $body1b, Authorization => $auth1);
$sc = $r->{json}{result}{structuredContent};
is($sc->{task_id}, $task1, 'replay: the same task id');
is($sc->{status}, 'submitted', 'replay: submitted');
is($sc->{replayed}, JSON::PP::true, 'replay: "replayed": true');
is($r->{json}{id}, 'retry-1', 'replay: its own id echoed');
schema_check($sc, 'core/protocol-envelope.json', 'replay: valid envelope');
is(($t->rcli('XLEN', 'adcp:tasks'))[0], 1, 'replay: no second stream entry');

my %other = (%args, buyer_ref => 'campaign-2');
$r = post('acme.test', mcp(8, 'create_media_buy', \%other),
    Authorization => $auth1);
my $e = $r->{json}{result}{structuredContent}{adcp_error};
is($r->{json}{result}{isError}, JSON::PP::true, 'conflict: isError');
is($e->{code}, 'IDEMPOTENCY_CONFLICT', 'conflict: IDEMPOTENCY_CONFLICT');
is($e->{recovery}, 'correctable', 'conflict: correctable');
is($e->{field}, 'idempotency_key', 'conflict: field idempotency_key');
is($r->{headers}{'x-adcp-error'}, 'IDEMPOTENCY_CONFLICT', 'X-AdCP-Error');
schema_check($e, 'core/error.json', 'conflict: valid core/error.json');

# the same key from another principal is another task

$r = post('acme.test', $body1, Authorization => $auth2);
$sc = $r->{json}{result}{structuredContent};
like($sc->{task_id} // '', qr/^adcp_task_/, 'another principal, same key: '
    . 'accepted');
isnt($sc->{task_id}, $task1, '... as another task');
ok(!$sc->{replayed}, '... not a replay');
my $task2 = $sc->{task_id};

# no idempotency key: a new task each time

my %nokey = %args;
delete $nokey{idempotency_key};
my @ids = map {
    post('acme.test', mcp($_, 'update_media_buy', \%nokey),
        Authorization => $auth1)->{json}{result}{structuredContent}{task_id}
} 1 .. 2;
ok($ids[0] && $ids[1] && $ids[0] ne $ids[1], 'no key: two tasks');
is(hgetall($ids[0])->{task_type}, 'update_media_buy', 'update_media_buy '
    . 'is async too');

# --- A2A and plain forms -------------------------------------------------

my $a2a03 = json_encode({ jsonrpc => '2.0', id => 'a1',
    method => 'message/send', params => { message => { role => 'user',
    messageId => 'm1', contextId => 'ctx-9', parts => [
        { kind => 'text', text => 'please' },
        { kind => 'data', data => { skill => 'create_media_buy',
            parameters => { idempotency_key => 'a2a-03-key-000001',
                buyer_ref => 'b' } } } ] } } });

$r = post('acme.test', $a2a03, Authorization => $auth1);
my $res = $r->{json}{result};
is($r->{status}, 200, 'A2A 0.3: 200');
ok($r->{elapsed} < $fast, 'A2A 0.3: at once');
is($r->{json}{id}, 'a1', 'A2A 0.3: id');
is($res->{kind}, 'task', 'A2A 0.3: a Task');
is($res->{status}{state}, 'completed', 'A2A 0.3: state completed');
is($res->{contextId}, 'ctx-9', 'A2A 0.3: the contextId is kept');
my $part = $res->{artifacts}[0]{parts}[0];
is($part->{kind}, 'data', 'A2A 0.3: a data part');
is($part->{data}{status}, 'submitted', 'A2A 0.3: data.status submitted');
like($part->{data}{task_id} // '', qr/^adcp_task_[0-9a-f]{24}$/,
    'A2A 0.3: data.task_id');
schema_check($part->{data}, 'core/compact-task-submitted.json',
    'A2A 0.3: the data part is valid');
my $task_a2a = $part->{data}{task_id};
is(hgetall($task_a2a)->{transport}, 'a2a', 'A2A 0.3: record transport a2a');
is(hgetall($task_a2a)->{idempotency_key}, 'a2a-03-key-000001',
    'A2A 0.3: the key from data.parameters');

my $a2a10 = json_encode({ jsonrpc => '2.0', id => 11,
    method => 'SendMessage', params => { message => { role => 'ROLE_USER',
    messageId => 'm2', parts => [ { data => { skill => 'create_media_buy',
        input => { idempotency_key => 'a2a-10-key-000001' } } } ] } } });

$r = post('acme.test', $a2a10, Authorization => $auth1);
$res = $r->{json}{result}{task};
is($res->{status}{state}, 'TASK_STATE_COMPLETED', 'A2A 1.0: {"task":...} '
    . 'TASK_STATE_COMPLETED');
$part = $res->{artifacts}[0]{parts}[0];
ok(!exists $part->{kind}, 'A2A 1.0: a part without kind');
is($part->{data}{status}, 'submitted', 'A2A 1.0: data.status submitted');
is($res->{contextId}, $part->{data}{task_id}, 'A2A 1.0: no contextId sent: '
    . 'the task id');
is(hgetall($part->{data}{task_id})->{idempotency_key}, 'a2a-10-key-000001',
    'A2A 1.0: the key from data.input');

# the replay over A2A

$r = post('acme.test', $a2a03 =~ s/"a1"/"a2"/r, Authorization => $auth1);
$part = $r->{json}{result}{artifacts}[0]{parts}[0];
is($part->{data}{task_id}, $task_a2a, 'A2A replay: the same task');
is($part->{data}{replayed}, JSON::PP::true, 'A2A replay: replayed');

# streaming: one SSE event

(my $a2a_stream = $a2a03) =~ s{message/send}{message/stream};
$a2a_stream =~ s/a2a-03-key-000001/a2a-03-key-000002/;
$r = post('acme.test', $a2a_stream, Authorization => $auth1);
like($r->{headers}{'content-type'}, qr{^text/event-stream},
    'message/stream: text/event-stream');
my ($ev) = $r->{body} =~ /^data: (.*)\n\n\z/s;
$ev = json_decode($ev // '');
is($ev->{result}{artifacts}[0]{parts}[0]{data}{status}, 'submitted',
    'message/stream: one event, a completed Task, submitted');

# a notification (no id): plain 202

$r = post('acme.test', json_encode({ jsonrpc => '2.0', method => 'tools/call',
    params => { name => 'create_media_buy', arguments => {} } }),
    Authorization => $auth1);
is($r->{status}, 202, 'no JSON-RPC id: 202');
is($r->{json}{status}, 'submitted', 'no JSON-RPC id: the object');

is(adapter_calls(), 0, 'the adapter still was not contacted');

# --- a body in a temporary file ------------------------------------------

my %big = (idempotency_key => 'big-body-key-0001', pad => 'p' x 40000);
my $bigbody = mcp(12, 'create_media_buy', \%big);
$r = post('acme.test', $bigbody, Authorization => $auth1);
my $bigtask = $r->{json}{result}{structuredContent}{task_id};
ok($bigtask, 'a 40 KB body (buffered to a file) is accepted');
is(hgetall($bigtask)->{body}, $bigbody, 'and stored whole');
$r = post('acme.test', $bigbody, Authorization => $auth1);
is($r->{json}{result}{structuredContent}{replayed}, JSON::PP::true,
    'and replayed');

# --- polling -----------------------------------------------------------

for my $tool ('get_task_status', 'tasks/get') {
    $r = post('acme.test', mcp(20, $tool, { task_id => $task1 }),
        Authorization => $auth1);
    my $s = $r->{json}{result}{structuredContent};
    is($r->{headers}{'x-cache'}, 'BYPASS', "$tool: BYPASS");
    is($s->{task_id}, $task1, "$tool: task_id");
    is($s->{status}, 'submitted', "$tool: submitted");
    is($s->{task_type}, 'create_media_buy', "$tool: task_type");
    is($s->{protocol}, 'media-buy', "$tool: protocol");
    is($s->{created_at}, hgetall($task1)->{created_at}, "$tool: created_at");
    ok($s->{updated_at}, "$tool: updated_at");
    is($s->{has_webhook}, JSON::PP::false, "$tool: has_webhook false");
    is_deeply(json_decode($r->{json}{result}{content}[0]{text}), $s,
        "$tool: the text item holds the same object");
    schema_check($s, 'core/tasks-get-response.json',
        "$tool: valid core/tasks-get-response.json");
    schema_check($s, 'protocol/get-task-status-response.json',
        "$tool: valid protocol/get-task-status-response.json");
}

# a result and an error stored by execution are given back

$t->rcli('HSET', "adcp:task:$task2", 'status', 'completed', 'result',
    '{"media_buy_id":"mb-1","status":"completed"}', 'completed_at',
    '2026-11-25T12:00:00Z');
$r = post('acme.test', mcp(21, 'get_task_status', { task_id => $task2 }),
    Authorization => $auth2);
my $s = $r->{json}{result}{structuredContent};
is($s->{status}, 'completed', 'a completed task: completed');
is_deeply($s->{result}, { media_buy_id => 'mb-1', status => 'completed' },
    'a completed task: its result');
is($s->{completed_at}, '2026-11-25T12:00:00Z', 'a completed task: '
    . 'completed_at');
schema_check($s, 'core/tasks-get-response.json', 'completed: valid');

$t->rcli('HSET', "adcp:task:$task2", 'status', 'failed', 'result', 'not json',
    'error', '{"code":"SERVICE_UNAVAILABLE","message":"adapter down"}');
$r = post('acme.test', mcp(22, 'get_task_status', { task_id => $task2 }),
    Authorization => $auth2);
$s = $r->{json}{result}{structuredContent};
is($s->{status}, 'failed', 'a failed task: failed');
is($s->{error}{code}, 'SERVICE_UNAVAILABLE', 'a failed task: its error');
ok(!exists $s->{result}, 'a stored result that is not an object is left '
    . 'out');
schema_check($s, 'core/tasks-get-response.json', 'failed: valid');

# A2A get_task_status skill: the same object in a data part

$r = post('acme.test', json_encode({ jsonrpc => '2.0', id => 'p1',
    method => 'message/send', params => { message => { role => 'user',
    messageId => 'm3', parts => [ { kind => 'data', data => {
        skill => 'get_task_status', parameters => { task_id => $task1 } }
    } ] } } }), Authorization => $auth1);
$part = $r->{json}{result}{artifacts}[0]{parts}[0];
is($part->{data}{task_id}, $task1, 'A2A get_task_status: answered by the '
    . 'module');
schema_check($part->{data}, 'core/tasks-get-response.json',
    'A2A get_task_status: valid');

# not the caller's: one answer for every case

my @nf = (
    [ 'another principal', 'acme.test', $auth2, $task1 ],
    [ 'no Authorization', 'acme.test', undef, $task1 ],
    [ 'another tenant', 'other.test', $auth1, $task1 ],
    [ 'an unknown id', 'acme.test', $auth1, 'adcp_task_' . '0' x 24 ],
    [ 'a malformed id', 'acme.test', $auth1, 'adcp_task_../x' ],
);

for my $c (@nf) {
    my ($name, $host, $auth, $id) = @$c;
    $r = post($host, mcp(30, 'get_task_status', { task_id => $id }),
        $auth ? (Authorization => $auth) : ());
    $e = $r->{json}{result}{structuredContent}{adcp_error};
    is($e->{code}, 'REFERENCE_NOT_FOUND', "$name: REFERENCE_NOT_FOUND");
    is($e->{field}, 'task_id', "$name: field task_id");
    is($e->{message}, 'no such task', "$name: the one message");
    is($e->{recovery}, 'correctable', "$name: correctable");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

# other ids go to the adapter

$r = post('acme.test', mcp(40, 'get_task_status', { task_id => 'task_456' }),
    Authorization => $auth1);
is($r->{json}{result}{structuredContent}{from}, 'adapter',
    'another id: answered by the adapter');
is(adapter_calls('get_task_status'), 1, 'the adapter saw it once');
isnt($r->{headers}{'x-cache'}, 'BYPASS', 'another id: the platform is used');

# --- webhooks ------------------------------------------------------------

my $cred = 'bearer-0123456789abcdefghijklmnop';
my %push = (idempotency_key => 'push-key-00000001',
    push_notification_config => { url => 'http://192.0.2.1:9/hook',
        operation_id => 'op-push-1',
        authentication => { schemes => ['Bearer'],
            credentials => $cred } });

$r = post('acme.test', mcp(50, 'create_media_buy', \%push),
    Authorization => $auth1);
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'UNSUPPORTED_FEATURE', 'push_notification_config without '
    . 'adcp_task_webhooks: UNSUPPORTED_FEATURE');
is($e->{field}, 'push_notification_config', '... field '
    . 'push_notification_config');
is($e->{recovery}, 'correctable', '... correctable');
schema_check($e, 'core/error.json', '... valid core/error.json');
ok(!$t->rcli('EXISTS', 'adcp:idem:acme:' . md5_hex($auth1)
    . ':push-key-00000001') || ($t->rcli('EXISTS', 'adcp:idem:acme:'
    . md5_hex($auth1) . ':push-key-00000001'))[0] == 0, '... nothing stored');

# an https webhook is accepted (delivery: t/37-webhook-https.t)

$r = post('acme.test', mcp(54, 'create_media_buy', {
    push_notification_config => { url => 'https://buyer.example/hook',
        operation_id => 'op-54', authentication => { schemes => ['Bearer'],
            credentials => 'https-bearer-0123456789abcdefghij' } } }),
    Authorization => $auth1, uri => '/hooks');
like($r->{json}{result}{structuredContent}{task_id} // '', qr/^adcp_task_/,
    'an https webhook: accepted');

$r = post('acme.test', mcp(55, 'create_media_buy', {
    push_notification_config => { url => 'http://192.0.2.1:9/hook',
        authentication => { schemes => ['HMAC-SHA256'],
            credentials => $cred } } }),
    Authorization => $auth1, uri => '/hooks');
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'INVALID_REQUEST', 'a webhook without operation_id: '
    . 'INVALID_REQUEST (AdCP requires it; HMAC-SHA256 itself is accepted, '
    . 't/38)');
is($e->{field}, 'push_notification_config.operation_id', '... field '
    . 'push_notification_config.operation_id');

# webhook credentials go into a header: no control character

for my $cred ("x\r\nX-Evil: 1", "tab\there", "del\x7f") {
    $r = post('acme.test', mcp(56, 'create_media_buy', {
        push_notification_config => { url => 'http://192.0.2.1:9/hook',
            authentication => { schemes => ['Bearer'],
                credentials => $cred . ('x' x 32) } } }),
        Authorization => $auth1, uri => '/hooks');
    $e = $r->{json}{result}{structuredContent}{adcp_error};
    (my $n = $cred) =~ s/[^ -~]/?/g;
    is($e->{code}, 'INVALID_REQUEST', "credentials \"$n\": INVALID_REQUEST");
    is($e->{field}, 'push_notification_config.authentication.credentials',
        '... field names them');
    is($e->{recovery}, 'correctable', '... correctable');
    schema_check($e, 'core/error.json', '... valid core/error.json');
}

# the arguments' members the gateway reads: once each (one reading)

my $calls0 = adapter_calls();
for my $c (
    [ 'idempotency_key twice', '{"idempotency_key":"k-0001-aaaa","x":1,'
      . '"idempotency_key":"k-0002-bbbb"}', 'idempotency_key' ],
    [ 'push_notification_config twice', '{"push_notification_config":'
      . '{"url":"http://192.0.2.1:9/a"},"push_notification_config":'
      . '{"url":"http://192.0.2.1:9/b"}}', 'push_notification_config' ],
    [ 'the webhook url twice', '{"push_notification_config":{"url":'
      . '"http://192.0.2.1:9/a","url":"http://192.0.2.1:9/b"}}',
      'push_notification_config' ],
    [ 'the webhook credentials twice', '{"push_notification_config":{"url":'
      . '"http://192.0.2.1:9/a","authentication":{"schemes":["Bearer"],'
      . '"credentials":"' . ('a' x 32) . '","credentials":"' . ('b' x 32)
      . '"}}}', 'push_notification_config.authentication' ],
)
{
    my ($name, $args, $field) = @$c;
    $r = post('acme.test', '{"jsonrpc":"2.0","id":57,"method":"tools/call",'
        . '"params":{"name":"create_media_buy","arguments":' . $args . '}}',
        Authorization => $auth1, uri => '/hooks');
    $e = $r->{json}{result}{structuredContent}{adcp_error};
    is($e->{code}, 'INVALID_REQUEST', "$name: INVALID_REQUEST");
    is($e->{field}, $field, "$name: field $field");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

# the task name twice: refused by the envelope, never accepted nor run

$r = post('acme.test', '{"jsonrpc":"2.0","id":58,"method":"tools/call",'
    . '"params":{"name":"get_products","name":"create_media_buy",'
    . '"arguments":{}}}', Authorization => $auth1);
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'INVALID_REQUEST', 'an async task named twice: '
    . 'INVALID_REQUEST (neither run at once nor accepted)');
is($e->{field}, 'params.name', '... field params.name');
is(adapter_calls(), $calls0, '... the adapter is never contacted');

# a task accepted through an absolute URI: the host nginx chose

$r = http($port, 'POST http://acme.test/mcp HTTP/1.1' . "\r\n"
    . "Host: other.test\r\nContent-Type: application/json\r\n"
    . "Authorization: $auth1\r\nConnection: close\r\n"
    . 'Content-Length: ' . length($body1 =~ s/idem-0001-aaaa-bbbb/idem-abs-0001/r)
    . "\r\n\r\n" . ($body1 =~ s/idem-0001-aaaa-bbbb/idem-abs-0001/r));
my $abs = json_decode($r->{body})->{result}{structuredContent}{task_id};
ok($abs, 'accepted through an absolute URI');
is(hgetall($abs)->{tenant}, 'acme', '... the tenant of the URI\'s host');
is(hgetall($abs)->{host}, 'acme.test', '... the host stored is the URI\'s, '
    . 'not the Host header');

# a webhook to the gateway's own network (its admin endpoint, a metadata
# service): refused without adcp_task_webhook_private

for my $url ('http://127.0.0.1:8080/adcp/admin?invalidate=*',
    'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/x',
    'http://[::1]:8080/', 'http://0.0.0.0/')
{
    $r = post('acme.test', mcp(56, 'create_media_buy', {
        push_notification_config => { url => $url } }),
        Authorization => $auth1, uri => '/hooks');
    $e = $r->{json}{result}{structuredContent}{adcp_error} // {};
    is($e->{field}, 'push_notification_config.url', "$url: refused");
    like($e->{message} // '', qr/not a public address/, '... not public');
}

$r = post('acme.test', mcp(57, 'create_media_buy', {
    push_notification_config => { url => "http://192.0.2.1/a\r\nX: y" } }),
    Authorization => $auth1, uri => '/hooks');
is(($r->{json}{result}{structuredContent}{adcp_error} // {})->{field},
    'push_notification_config.url', 'a url with CR LF: refused');

# a url that passes the address policy but cannot be sent as it is (the
# request target and Host are its canonical form): refused at accept, not
# accepted and then never delivered

my $badurl = 0;
for my $url ('http://user@hooks.example/h', "http://192.0.2.1/caf\x{e9}",
    'http://192.0.2.1/a%zz', 'http://hooks%2eexample/h',
    'http://192.0.2.1/a\\b', 'http://192.0.2.1/{x}')
{
    $r = post('acme.test', mcp(57, 'create_media_buy', {
        idempotency_key => sprintf('idem-badurl-%04d-aaaa', ++$badurl),
        push_notification_config => { url => $url,
            operation_id => 'op-badurl', authentication => {
                schemes => ['Bearer'], credentials => $cred } } }),
        Authorization => $auth1, uri => '/hooks');
    $e = $r->{json}{result}{structuredContent}{adcp_error} // {};
    is($e->{field}, 'push_notification_config.url', "$url: refused");
    like($e->{message} // '', qr/not a valid url/, '... not a valid url');
}

$r = post('acme.test', mcp(51, 'create_media_buy', \%push),
    Authorization => $auth1, uri => '/hooks', 'X-Custom' => 'c',
    'X-AdCP-Trace' => 'no');
my $hooked = $r->{json}{result}{structuredContent}{task_id};
ok($hooked, 'with adcp_task_webhooks on: accepted');
$rec = hgetall($hooked);
is($rec->{has_webhook}, 1, 'record: has_webhook');
%hdr = map { lc $_->[0] => $_->[1] } @{json_decode($rec->{headers}) // []};
is_deeply([sort keys %hdr], ['authorization', 'x-custom'],
    'adcp_task_headers: only the names listed');
($ttl) = $t->rcli('TTL', "adcp:task:$hooked");
ok($ttl > 7100 && $ttl <= 7200, "adcp_task_ttl 2h: TTL $ttl");
is($rec->{webhook_url}, 'http://192.0.2.1:9/hook', 'record: webhook_url');
is($rec->{webhook_auth}, $cred, 'record: the Bearer credentials');
is($rec->{webhook_scheme}, 'bearer', 'record: webhook_scheme bearer');
like($rec->{webhook_idempotency_key}, qr/^whk_[0-9a-f]{32}$/,
    'record: the webhook\'s idempotency_key, drawn at accept');
is($rec->{port}, $port, 'record: the port the buyer used');
$r = post('acme.test', mcp(52, 'get_task_status', { task_id => $hooked }),
    Authorization => $auth1);
is($r->{json}{result}{structuredContent}{has_webhook}, JSON::PP::true,
    'polling: has_webhook true');

# a key that is not a string

$r = post('acme.test', mcp(53, 'create_media_buy', { idempotency_key => 5 }),
    Authorization => $auth1);
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'INVALID_REQUEST', 'a non-string idempotency_key: '
    . 'INVALID_REQUEST');
is($e->{field}, 'idempotency_key', '... field idempotency_key');

is(adapter_calls('create_media_buy'), 0, 'the adapter never saw an async '
    . 'task');

# --- status --------------------------------------------------------------

my $xlen = ($t->rcli('XLEN', 'adcp:tasks'))[0];
my $st = $t->status->{tasks};
is($st->{accepted}, $xlen, "status: accepted $st->{accepted} = stream "
    . "entries");
is($st->{replayed}, 3, 'status: replayed 3 (MCP, A2A, the big body)');
is($st->{running}, 0, 'status: running 0');
ok(defined $st->{queue} && $st->{queue} <= $xlen && $st->{queue} > 0,
    "status: queue $st->{queue}, as last seen");
my $prom = http_get($port, 'x', '/adcp/status?format=prometheus')->{body};
like($prom, qr/^adcp_tasks_accepted_total $xlen$/m,
    'prometheus: adcp_tasks_accepted_total');
like($prom, qr/^# TYPE adcp_tasks_running gauge$/m,
    'prometheus: adcp_tasks_running gauge');
like($prom, qr/^adcp_tasks_queue \d+$/m, 'prometheus: adcp_tasks_queue');

# --- Redis stalled, then down --------------------------------------------

my $before = ($t->rcli('XLEN', 'adcp:tasks'))[0];

$t->rcli('CLIENT', 'PAUSE', '2500', 'ALL');

# a client that goes away while its accept waits on Redis

{
    my $b = mcp(59, 'create_media_buy',
        { idempotency_key => 'gone-key-00000001' });
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp') or die "connect: $!";
    print $s "POST /mcp HTTP/1.1\r\nHost: acme.test\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($b) . "\r\nConnection: close\r\n\r\n$b";
    sleep 0.2;
    close $s;
}
$r = post('acme.test', mcp(60, 'create_media_buy',
    { idempotency_key => 'stalled-key-000001' }), Authorization => $auth1);
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'SERVICE_UNAVAILABLE', 'Redis stalled: SERVICE_UNAVAILABLE');
is($e->{recovery}, 'transient', '... transient');
is($e->{retry_after}, 1, '... retry_after');
ok($r->{elapsed} < ($VG ? 2.4 : 1.8), sprintf('... after %.2f s (the 1 s '
    . 'adcp_redis_ping)', $r->{elapsed}));
sleep 2;
is(($t->rcli('XLEN', 'adcp:tasks'))[0], $before, '... and nothing stored once '
    . 'Redis resumed');
is(($t->rcli('EXISTS', 'adcp:idem:acme:' . md5_hex($auth1)
    . ':stalled-key-000001'))[0], 0, '... not even the key');
is(($t->rcli('EXISTS', 'adcp:idem:acme::gone-key-00000001'))[0], 0,
    'a client gone meanwhile: nothing stored either');

# the accept script goes by its SHA1: sent whole (EVAL) only when Redis
# does not know it yet, at most once a worker

my %calls = map { /^cmdstat_(\w+):calls=(\d+)/ ? ($1 => $2) : () }
    $t->rcli('INFO', 'commandstats');
ok(($calls{evalsha} // 0) > 10, "tasks stored with EVALSHA ("
    . ($calls{evalsha} // 0) . ")");
ok(($calls{eval} // 0) <= $workers, "the script sent whole "
    . ($calls{eval} // 0) . " times");

$t->redis_stop();

$r = post('acme.test', mcp(61, 'create_media_buy',
    { idempotency_key => 'down-key-00000001' }), Authorization => $auth1);
$e = $r->{json}{result}{structuredContent}{adcp_error};
is($e->{code}, 'SERVICE_UNAVAILABLE', 'Redis down: SERVICE_UNAVAILABLE');
is($r->{headers}{'retry-after'}, 1, '... Retry-After');

$r = post('acme.test', mcp(62, 'get_task_status', { task_id => $task1 }),
    Authorization => $auth1);
is($r->{json}{result}{structuredContent}{adcp_error}{code},
    'SERVICE_UNAVAILABLE', 'Redis down: polling SERVICE_UNAVAILABLE');

$t->redis_start();

ok(wait_for(sub {
    my $x = post('acme.test', mcp(63, 'create_media_buy', {}),
        Authorization => $auth1);
    ($x->{json}{result}{structuredContent}{status} // '') eq 'submitted';
}), 'Redis back: accepted again');
is(($t->rcli('EXISTS', 'adcp:idem:acme:' . md5_hex($auth1)
    . ':down-key-00000001'))[0], 0, 'nothing of the refused task stored');

is(adapter_calls('create_media_buy'), 0, 'the adapter never saw an async '
    . 'task');

$t->stop();

done_testing();
