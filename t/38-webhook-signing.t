#!/usr/bin/perl

# What a webhook says and how it is authenticated (issue 16 items 2-4).
# Without an authentication block: signed with AdCP's RFC 9421 profile by
# the first adcp_task_webhook_signing_key, and the signature verifies
# against the JWKS the module publishes in a second implementation
# (Python's cryptography, t/lib/adcp_verify_webhook.py), for Ed25519 and
# for ES256, Content-Digest included.  With one: HMAC-SHA256 (checked with
# Digest::SHA) or Bearer, never a signature as well.  The body is AdCP's
# mcp-webhook-payload (idempotency_key drawn at accept, operation_id, token
# and context echoed), checked against its schema; a webhook registered
# through A2A gets an A2A Task.  A receiver answering 503 once: the retry
# has the same body (idempotency_key, timestamp) and a fresh nonce.
# Refused at accept, the field named: no signing key, two schemes, short
# credentials, a bad or missing operation_id, a short token.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use Digest::SHA qw(sha256 hmac_sha256_hex);
use MIME::Base64 qw(encode_base64);
use AdcpTest qw(http_post_json http_get json_decode json_encode mcp
    schema_check append_line wait_for);
use AdcpMockFactory;
use AdcpCerts;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
plan skip_all => 'openssl (the command) is not installed'
    if system('openssl version >/dev/null 2>&1') != 0;

my $VG = AdcpTest::valgrind();
my $slow = $VG ? 60 : 15;
my $auth = 'Bearer buyer-one';
my $root = AdcpTest::repo_root();
my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $have_py = system("$python -c 'import cryptography' >/dev/null 2>&1")
    == 0;

my $secret = 'hmac-secret-0123456789abcdefghijkl';
my $bearer = 'bearer-token-0123456789abcdefghijk';
my $token = 'tok-0123456789abcdef';

# nginx (keys: the first signs), Redis, the factory, the adapter (MCP and
# A2A) and the webhook receiver: each call appended to hook.calls, the
# first delivery of an operation "flaky-*" answered 503

sub start {
    my (@keys) = @_;
    my $t = AdcpTest->new;
    my $dir = $t->testdir;

    $t->redis_start();

    my %alg = (ed => 'ed25519', es => 'es256');
    my $conf = '';
    for my $k (@keys) {
        AdcpCerts::signing_key("$dir/$k.pem", $alg{$k});
        $conf .= "    adcp_task_webhook_signing_key $k.pem kid=gw-$k-1;\n";
    }

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis            127.0.0.1:%%PORT_redis%%;
    adcp_task_claim_after 60s;
    adcp_task_webhook_private on;
$conf
    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /hooks {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            proxy_pass http://\$adcp_upstream;
        }

        location = /.well-known/jwks.json { adcp_jwks; }

        %%FACTORY_LOCATION%%
    }
}
EOF

    $t->mock($t->port('adapter'), sub {
        my ($req) = @_;
        my $j = json_decode($req->{body}) // {};
        if (($j->{method} // '') eq 'message/send') {
            return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
                result => { kind => 'task', id => 'a-1', contextId => 'c-1',
                    status => { state => 'completed' },
                    artifacts => [{ artifactId => 'r', parts => [
                        { kind => 'data', data => { media_buy_id => 'mb-a2a',
                            status => 'active', packages => [] } }] }] } })];
        }
        my $key = $j->{params}{arguments}{idempotency_key} // '-';
        my $sc = { media_buy_id => "mb-$key", status => 'active',
            packages => [] };
        return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
            result => { structuredContent => $sc,
                content => [{ type => 'text', text => json_encode($sc) }]
            } })];
    });

    $t->mock($t->port('hook'), sub {
        my ($req) = @_;
        my $j = json_decode($req->{body}) // {};
        my $op = $j->{operation_id} // $j->{metadata}{operation_id} // '';
        my $n = grep { /"\Q$op\E"/ } split /\n/, $t->read_file('hook.calls');
        append_line("$dir/hook.calls", json_encode({ at => time(),
            method => $req->{method}, uri => $req->{uri},
            h => $req->{headers}, body => $req->{body}, op => $op }));
        return [($op =~ /^flaky/ && $n == 0) ? 503 : 200, {}, '{}'];
    });

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => "$dir/factory.calls", adapter => $t->port('adapter')));

    $t->run();

    return $t;
}

# a task with this webhook (and other arguments): its id, or its error

sub accept_task {
    my ($t, $key, $pnc, %args) = @_;
    my $r = http_post_json($t->port('http'), 'acme.test', '/hooks',
        mcp(1, 'create_media_buy', { idempotency_key => $key,
            push_notification_config => $pnc, %args }),
        Authorization => $auth);
    my $sc = (json_decode($r->{body}) // {})->{result}{structuredContent}
        // {};
    return ($sc->{task_id}, $sc->{adcp_error});
}

sub hook_url { 'http://127.0.0.1:' . $_[0]->port('hook') . '/adcp/hook' }

sub calls_of {
    my ($t, $op) = @_;
    return grep { $_->{op} eq $op }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls');
}

sub wait_calls {
    my ($t, $op, $n, $extra) = @_;
    wait_for(sub { calls_of($t, $op) >= $n }, $slow + ($extra // 0));
    return calls_of($t, $op);
}

# Signature-Input's parameters

sub sig_params {
    my ($si) = @_;
    my %p = ($si // '') =~ /;([a-z]+)=("[^"]*"|\d+)/g;
    s/^"|"$//g for values %p;
    return \%p;
}

# the second implementation's verdict on a received call

sub py_verify {
    my ($t, $c) = @_;
    return 'no python3-cryptography' unless $have_py;
    my $jwks = http_get($t->port('http'), 'gw.test',
        '/.well-known/jwks.json')->{body};
    $t->write_file('req.json', json_encode({
        jwks => json_decode($jwks), method => $c->{method},
        target_uri => "http://$c->{h}{host}$c->{uri}",
        authority => $c->{h}{host},
        content_type => $c->{h}{'content-type'},
        content_digest => $c->{h}{'content-digest'},
        signature_input => $c->{h}{'signature-input'},
        signature => $c->{h}{signature}, body => $c->{body} }));
    my $dir = $t->testdir;
    my $v = "$root/t/lib/adcp_verify_webhook.py";
    return scalar `$python $v $dir/req.json 2>&1`;
}

sub record {
    my ($t, $id) = @_;
    return { $t->rcli('HGETALL', "adcp:task:$id") };
}

# --- Ed25519 signs (a P-256 key published too) ----------------------------

my $t = start('ed', 'es');
my $hp = $t->port('hook');

# a signed webhook: the url's query kept, its fragment dropped

my ($id, $e) = accept_task($t, 'k-signed-0001',
    { url => hook_url($t) . '?b=2&a=1#frag', operation_id => 'op-signed-1',
      token => $token },
    context => { trace => 'tr-1', n => [1, 2] });
ok($id, 'a webhook without authentication: accepted') or diag(explain($e));

my ($c) = wait_calls($t, 'op-signed-1', 1);
ok($c, 'the signed webhook was delivered');
$c //= { h => {} };
my $h = $c->{h};
my $b = json_decode($c->{body}) // {};

is($c->{method}, 'POST', 'POST');
is($c->{uri}, '/adcp/hook?b=2&a=1', 'request target: path and query, no '
    . 'fragment');
is($h->{host}, "127.0.0.1:$hp", 'Host carries the port');
is($h->{'content-type'}, 'application/json', 'Content-Type');
is($h->{'content-digest'}, 'sha-256=:' . encode_base64(sha256($c->{body}), '')
    . ':', 'Content-Digest: the body\'s SHA-256');
like($h->{signature}, qr/^sig1=:[A-Za-z0-9_-]+:$/, 'Signature: sig1');
like($h->{'signature-input'}, qr/^sig1=\("\@method"\ "\@target-uri"
    \ "\@authority"\ "content-type"\ "content-digest"\);/x,
    'Signature-Input: the five components');
my $p = sig_params($h->{'signature-input'});
is($p->{keyid}, 'gw-ed-1', 'keyid: the first key');
is($p->{alg}, 'ed25519', 'alg ed25519');
is($p->{tag}, 'adcp/webhook-signing/v1', 'tag');
ok($p->{expires} - $p->{created} > 0 && $p->{expires} - $p->{created} <= 300,
    'expires at most 300 s after created');
ok(abs($p->{created} - time()) < 60 + $slow, 'created: now');
like($p->{nonce}, qr/^[A-Za-z0-9_-]{22,}$/, 'nonce: 16+ bytes, base64url');
ok(!exists $h->{authorization} && !exists $h->{'x-adcp-signature'}
    && !exists $h->{'x-adcp-timestamp'}, 'no legacy header as well');

SKIP: {
    skip 'python3 with cryptography (python3-cryptography) is not '
        . 'installed', 2 unless $have_py;
    is(py_verify($t, $c), "verified\n", 'Ed25519: Python\'s cryptography '
        . 'verifies it against the JWKS nginx serves');
    my %bad = %$c;
    $bad{body} =~ s/op-signed-1/op-signed-2/;
    like(py_verify($t, \%bad), qr/Content-Digest/, '... and rejects a '
        . 'changed body');
}

# the payload

my $rec = record($t, $id);
schema_check($b, 'core/mcp-webhook-payload.json',
    'valid core/mcp-webhook-payload.json');
is($b->{idempotency_key}, $rec->{webhook_idempotency_key},
    'idempotency_key: the one drawn at accept');
like($b->{idempotency_key}, qr/^whk_[0-9a-f]{32}$/, '... random');
is($h->{'idempotency-key'}, $b->{idempotency_key}, 'Idempotency-Key header '
    . '= the payload\'s');
is($b->{operation_id}, 'op-signed-1', 'operation_id echoed');
is($b->{token}, $token, 'token echoed');
is_deeply($b->{context}, { trace => 'tr-1', n => [1, 2] }, 'context echoed');
is($b->{task_id}, $id, 'task_id');
is($b->{task_type}, 'create_media_buy', 'task_type');
is($b->{protocol}, 'media-buy', 'protocol');
is($b->{status}, 'completed', 'status');
is($b->{timestamp}, $rec->{completed_at}, 'timestamp: when it completed');
is($b->{result}{media_buy_id}, 'mb-k-signed-0001', 'result: the task\'s');

# HMAC-SHA256

($id, $e) = accept_task($t, 'k-hmac-0001', { url => hook_url($t),
    operation_id => 'op-hmac-1', authentication => {
        schemes => ['HMAC-SHA256'], credentials => $secret } });
ok($id, 'HMAC-SHA256: accepted') or diag(explain($e));
($c) = wait_calls($t, 'op-hmac-1', 1);
$c //= { h => {} };
$h = $c->{h};
like($h->{'x-adcp-timestamp'} // '', qr/^\d+$/, 'X-ADCP-Timestamp');
ok(abs(($h->{'x-adcp-timestamp'} // 0) - time()) < 60 + $slow, '... now');
is($h->{'x-adcp-signature'}, 'sha256=' . hmac_sha256_hex(
    ($h->{'x-adcp-timestamp'} // '') . '.' . $c->{body}, $secret),
    'X-ADCP-Signature: HMAC-SHA256(credentials, "<ts>.<body>") '
    . '(Digest::SHA)');
ok(!exists $h->{signature} && !exists $h->{'signature-input'}
    && !exists $h->{authorization}, 'HMAC: not signed nor Bearer as well');
schema_check(json_decode($c->{body}), 'core/mcp-webhook-payload.json',
    'HMAC: valid core/mcp-webhook-payload.json');
like($t->read_file('error.log'), qr/\[info\].*"\Q$id\E"\ registers\ a\ webhook
    \ with\ legacy\ HMAC-SHA256\ authentication/x,
    'a legacy block logged at info');
unlike($t->read_file('error.log'), qr/\Q$secret\E/, '... its secret never');

# an HMAC secret holding control bytes: a key, never a header, so
# accepted and delivered, signed with it

my $secret_ctl = "hmac-secret\x01\n0123456789abcdefghijkl\t";
($id, $e) = accept_task($t, 'k-hmac-0002', { url => hook_url($t),
    operation_id => 'op-hmac-2', authentication => {
        schemes => ['HMAC-SHA256'], credentials => $secret_ctl } });
ok($id, 'HMAC-SHA256, a secret with control bytes: accepted')
    or diag(explain($e));
($c) = wait_calls($t, 'op-hmac-2', 1);
ok($c, '... delivered');
$c //= { h => {}, body => '' };
$h = $c->{h};
is($h->{'x-adcp-signature'}, 'sha256=' . hmac_sha256_hex(
    ($h->{'x-adcp-timestamp'} // '') . '.' . $c->{body}, $secret_ctl),
    '... signed with that secret (Digest::SHA)');

# Bearer

($id, $e) = accept_task($t, 'k-bearer-0001', { url => hook_url($t),
    operation_id => 'op-bearer-1', authentication => {
        schemes => ['Bearer'], credentials => $bearer } });
ok($id, 'Bearer: accepted') or diag(explain($e));
($c) = wait_calls($t, 'op-bearer-1', 1);
$c //= { h => {} };
is($c->{h}{authorization}, "Bearer $bearer", 'Authorization: Bearer');
ok(!exists $c->{h}{signature} && !exists $c->{h}{'x-adcp-signature'},
    'Bearer: not signed as well');

# refused at accept, the field named

for my $case (
    [ 'two schemes', { operation_id => 'op-x', authentication => {
        schemes => ['Bearer', 'HMAC-SHA256'], credentials => $secret } },
      'push_notification_config.authentication.schemes' ],
    [ 'credentials of 31 characters', { operation_id => 'op-x',
        authentication => { schemes => ['HMAC-SHA256'],
            credentials => substr($secret, 0, 31) } },
      'push_notification_config.authentication.credentials' ],
    [ 'a bad operation_id', { operation_id => 'op/1' },
      'push_notification_config.operation_id' ],
    [ 'no operation_id', {}, 'push_notification_config.operation_id' ],
    [ 'a token of 15 characters', { operation_id => 'op-x',
        token => substr($token, 0, 15) }, 'push_notification_config.token' ],
)
{
    my ($name, $pnc, $field) = @$case;
    ($id, $e) = accept_task($t, 'k-refused-01', { url => hook_url($t),
        %$pnc });
    ok(!$id, "$name: refused");
    is($e->{code}, 'INVALID_REQUEST', "$name: INVALID_REQUEST");
    is($e->{field}, $field, "$name: field $field");
    schema_check($e, 'core/error.json', "$name: valid core/error.json");
}

# registered through A2A: an A2A Task, signed

{
    my $body = json_encode({ jsonrpc => '2.0', id => 7,
        method => 'message/send', params => {
            configuration => { pushNotificationConfig => {
                url => hook_url($t) . '/a2a', token => $token } },
            message => { role => 'user', messageId => 'm-7',
                contextId => 'ctx-a2a-1', parts => [{ kind => 'data',
                    data => { skill => 'create_media_buy', parameters => {
                        idempotency_key => 'k-a2a-0001' } } }] } } });
    my $r = http_post_json($t->port('http'), 'acme.test', '/hooks', $body,
        Authorization => $auth);
    my $res = (json_decode($r->{body}) // {})->{result} // {};
    my ($a2a) = map { $_->{parts}[0]{data}{task_id} }
        @{$res->{artifacts} // []};
    ok($a2a, 'A2A message/send with configuration.pushNotificationConfig: '
        . 'accepted') or diag($r->{body});

    ok(wait_for(sub { grep { $_->{uri} eq '/adcp/hook/a2a' }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls') },
        $slow), 'the A2A webhook was delivered');
    my ($ac) = grep { $_->{uri} eq '/adcp/hook/a2a' }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls');
    $ac //= { h => {} };
    my $ab = json_decode($ac->{body}) // {};
    is($ab->{kind}, 'task', 'an A2A Task (0.3: kind "task")');
    is($ab->{id}, $a2a, '... its id the task id');
    is($ab->{contextId}, 'ctx-a2a-1', '... the buyer\'s contextId');
    is($ab->{status}{state}, 'completed', '... status.state completed');
    like($ab->{status}{timestamp} // '', qr/^\d{4}-\d\d-\d\dT/,
        '... status.timestamp');
    is($ab->{artifacts}[0]{parts}[0]{kind}, 'data', '... a data part');
    is($ab->{artifacts}[0]{parts}[0]{data}{media_buy_id}, 'mb-a2a',
        '... holding the result');
    like($ab->{metadata}{idempotency_key} // '', qr/^whk_[0-9a-f]{32}$/,
        '... the delivery key in its metadata');
    is($ac->{h}{'x-a2a-notification-token'}, $token,
        '... the token as X-A2A-Notification-Token');
    ok(!exists $ab->{idempotency_key}, '... not the AdCP envelope');
    SKIP: {
        skip 'python3 with cryptography is not installed', 1 unless $have_py;
        is(py_verify($t, $ac), "verified\n", '... signed, and it verifies');
    }
}

# registered through A2A 1.0: a StreamResponse {"task":...}

{
    my $body = json_encode({ jsonrpc => '2.0', id => 8,
        method => 'SendMessage', params => {
            configuration => { pushNotificationConfig => {
                url => hook_url($t) . '/a2a10' } },
            message => { role => 'ROLE_USER', messageId => 'm-8',
                parts => [{ data => { skill => 'create_media_buy',
                    input => { idempotency_key => 'k-a2a-0002' } } }] } } });
    my $r = http_post_json($t->port('http'), 'acme.test', '/hooks', $body,
        Authorization => $auth);
    my $res = ((json_decode($r->{body}) // {})->{result} // {})->{task}
        // {};
    my ($a2a) = map { $_->{parts}[0]{data}{task_id} }
        @{$res->{artifacts} // []};
    ok($a2a, 'A2A 1.0 SendMessage with a pushNotificationConfig: accepted')
        or diag($r->{body});

    my $mine = sub { grep { $_->{uri} eq '/adcp/hook/a2a10' }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls') };
    ok(wait_for(sub { $mine->() }, $slow), 'the A2A 1.0 webhook was '
        . 'delivered');
    my ($ac) = $mine->();
    my $ab = json_decode(($ac // {})->{body} // '') // {};
    is($ab->{task}{id}, $a2a, '{"task":{...}}, its id the task id');
    ok(!exists $ab->{task}{kind}, '... no "kind" (1.0)');
    is($ab->{task}{contextId}, $a2a, '... no contextId sent: the task id');
    is($ab->{task}{status}{state}, 'TASK_STATE_COMPLETED',
        '... TASK_STATE_COMPLETED');
    ok(exists $ab->{task}{artifacts}[0]{parts}[0]{data}
        && !exists $ab->{task}{artifacts}[0]{parts}[0]{kind},
        '... a data part without kind');
    ok(!exists(($ac // { h => {} })->{h}{'x-a2a-notification-token'}),
        '... no token, no X-A2A-Notification-Token');
}

# a receiver answering 503 once: the retry is the same body, a new nonce

($id, $e) = accept_task($t, 'k-flaky-0001', { url => hook_url($t),
    operation_id => 'flaky-1' });
ok($id, 'a webhook to a receiver answering 503 first: accepted');
my @r = wait_calls($t, 'flaky-1', 2, 30);
is(scalar @r, 2, 'retried after the 503, delivered by the second attempt');
SKIP: {
    skip 'no retry seen', 6 unless @r >= 2;
    is($r[1]{body}, $r[0]{body}, 'the same body, byte for byte');
    my ($b0, $b1) = map { json_decode($_->{body}) } @r;
    is($b1->{idempotency_key}, $b0->{idempotency_key},
        '... the same idempotency_key');
    is($b1->{timestamp}, $b0->{timestamp}, '... the same timestamp');
    my ($p0, $p1) = map { sig_params($_->{h}{'signature-input'}) } @r;
    isnt($p1->{nonce}, $p0->{nonce}, 'a fresh nonce');
    ok($p1->{created} >= $p0->{created}, 'created not earlier');
    SKIP: {
        skip 'python3 with cryptography is not installed', 1
            unless $have_py;
        is(py_verify($t, $r[1]), "verified\n", 'the retry verifies');
    }
}

$t->stop();

# --- ES256 signs -----------------------------------------------------------

$t = start('es');

($id, $e) = accept_task($t, 'k-es-0001', { url => hook_url($t),
    operation_id => 'op-es-1' });
ok($id, 'ES256: accepted') or diag(explain($e));
($c) = wait_calls($t, 'op-es-1', 1);
$c //= { h => {} };
$p = sig_params($c->{h}{'signature-input'});
is($p->{keyid}, 'gw-es-1', 'ES256: keyid');
is($p->{alg}, 'ecdsa-p256-sha256', 'ES256: alg ecdsa-p256-sha256');
SKIP: {
    skip 'python3 with cryptography is not installed', 1 unless $have_py;
    is(py_verify($t, $c), "verified\n", 'ES256: Python\'s cryptography '
        . 'verifies it against the JWKS nginx serves');
}

$t->stop();

# --- no signing key ------------------------------------------------------

$t = start();

($id, $e) = accept_task($t, 'k-nokey-0001', { url => hook_url($t),
    operation_id => 'op-nokey-1' });
ok(!$id, 'no signing key, no authentication: refused');
is($e->{code}, 'UNSUPPORTED_FEATURE', '... UNSUPPORTED_FEATURE');
is($e->{field}, 'push_notification_config', '... field '
    . 'push_notification_config');
schema_check($e, 'core/error.json', '... valid core/error.json');

($id, $e) = accept_task($t, 'k-nokey-0002', { url => hook_url($t),
    operation_id => 'op-nokey-2', authentication => {
        schemes => ['Bearer'], credentials => $bearer } });
ok($id, 'no signing key, Bearer: accepted');
($c) = wait_calls($t, 'op-nokey-2', 1);
is(($c // { h => {} })->{h}{authorization}, "Bearer $bearer",
    '... and delivered');

$t->stop();

done_testing();
