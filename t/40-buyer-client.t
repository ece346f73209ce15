#!/usr/bin/perl

# The reference buyer library receives the module's webhooks (issue 16):
# npm's @adcp/client 4.8.0 (SingleAgentClient.createWebhookHandler(): the
# HMAC-SHA256 scheme it always registers, timestamp freshness, the MCP
# payload normalized) served over https by t/buyer/receiver.js, with a
# test CA the module is told to trust.  A task registered with the
# library's own authentication block is delivered and the library
# accepts it (202, its onActivity sees the task completed); a receiver
# holding another secret refuses it (401), which the module takes as the
# receiver's answer (one request, not retried).  A task registered through
# A2A (configuration.pushNotificationConfig) is delivered in A2A's Task
# form, which the library unwraps to the task's result.
#
# (The adapter's answer carries buyer_ref: the library's 4.8.0 schemas
# still require it of create_media_buy's response.)  Needs node and the
# library (make buyer installs it with npm into build/buyer); skips
# without them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use AdcpTest qw(http_post_json json_decode json_encode wait_for);
use AdcpMockFactory;
use AdcpCerts;

my $modules = AdcpTest::repo_root() . '/build/buyer/node_modules';

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
plan skip_all => 'node not installed'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH};
plan skip_all => "the buyer library is not installed ($modules: make buyer)"
    unless -f "$modules/\@adcp/client/package.json";

my $VG = AdcpTest::valgrind();
my $slow = $VG ? 60 : 15;
my $secret = 'buyer-webhook-secret-0123456789abcdef';

my $t = AdcpTest->new;
my $dir = $t->testdir;

# a test CA and the receiver's certificate for 127.0.0.1

AdcpCerts::ca($dir, 'ca', 'adcp-test-ca');
AdcpCerts::cert($dir, 'hook', 'ca', '127.0.0.1', 'IP:127.0.0.1');

$t->redis_start();

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis            127.0.0.1:%%PORT_redis%%;
    adcp_task_webhook_private on;
    adcp_task_webhook_trusted_certificate $dir/ca.crt;

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%
    }
}
EOF

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    if (($j->{method} // '') eq 'message/send') {
        my $key = $j->{params}{message}{parts}[0]{data}{parameters}
            {idempotency_key} // '-';
        return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
            result => { kind => 'task', id => 'a-1', contextId => 'c-1',
                status => { state => 'completed' },
                artifacts => [{ artifactId => 'r', parts => [
                    { kind => 'data', data => { media_buy_id => "mb-$key",
                        buyer_ref => 'br-1', status => 'active',
                        packages => [] } }] }] } })];
    }
    my $key = $j->{params}{arguments}{idempotency_key} // '-';
    my $sc = { media_buy_id => "mb-$key", buyer_ref => 'br-1',
        status => 'active', packages => [] };
    return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
        result => { structuredContent => $sc,
            content => [{ type => 'text', text => json_encode($sc) }] } })];
});

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => "$dir/factory.calls", adapter => $t->port('adapter')));

$t->run();

# the library's receivers: one with the buyer's secret, one with another

my @kids;

sub receiver {
    my ($name, $key) = @_;
    my $port = $t->port($name);
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open STDOUT, '>', "$dir/$name.out";
        open STDERR, '>&', \*STDOUT;
        $ENV{NODE_PATH} = $modules;
        { exec 'node', AdcpTest::repo_root() . '/t/buyer/receiver.js',
            $port, "$dir/hook.crt", "$dir/hook.key", $key,
            "$dir/$name.log" };
        POSIX::_exit(127);
    }

    push @kids, $pid;
    wait_for(sub { $t->read_file("$name.out") =~ /listening/ }, 30)
        or die "$name did not start: " . $t->read_file("$name.out");
    return $port;
}

END { kill 'KILL', map { -$_ } @kids if @kids }

my $good = receiver('buyer', $secret);
my $other = receiver('other', 'another-secret-0123456789abcdef0123');

sub accept_task {
    my ($port, $key, $op) = @_;
    my $body = json_encode({ jsonrpc => '2.0', id => 1,
        method => 'tools/call', params => { name => 'create_media_buy',
        arguments => { idempotency_key => $key,
            push_notification_config => {
                url => "https://127.0.0.1:$port/webhook/create_media_buy/$op",
                operation_id => $op,
                authentication => { schemes => ['HMAC-SHA256'],
                    credentials => $secret } } } } });
    my $r = http_post_json($t->port('http'), 'acme.test', '/mcp', $body,
        Authorization => 'Bearer buyer-one');
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        {task_id};
}

sub seen {
    my ($name) = @_;
    return map { json_decode($_) } split /\n/, $t->read_file("$name.log");
}

# the buyer's own receiver: verified and accepted by the library

my $id = accept_task($good, 'k-buyer-0001', 'op-buyer-1');
ok($id, 'a task with the library\'s HMAC-SHA256 block: accepted');

ok(wait_for(sub { seen('buyer') >= 1 }, $slow), 'the webhook arrived');
my @s = seen('buyer');
is(scalar @s, 1, 'one request');
is($s[0]{status}, 202, '@adcp/client\'s handler answered 202 (accepted)');
like($s[0]{answer}, qr/"received":/, '... its own answer');
is($s[0]{activity}{type}, 'webhook_received', 'its onActivity was called');
is($s[0]{activity}{task_id}, $id, '... with the task id');
is($s[0]{activity}{status}, 'completed', '... completed');
is($s[0]{activity}{operation_id}, 'op-buyer-1', '... the operation id');
is($s[0]{activity}{payload}{media_buy_id}, 'mb-k-buyer-0001',
    '... and the task\'s result');
ok(defined $s[0]{headers}{'x-adcp-signature'}
    && !defined $s[0]{headers}{'signature'}, 'HMAC only, never both');
like($t->read_file('buyer.out'), qr/Webhook signature is valid/,
    'the library logged the signature valid');

# registered through A2A (configuration.pushNotificationConfig): the A2A
# Task form, which the library normalizes too

my $a2a_body = json_encode({ jsonrpc => '2.0', id => 7,
    method => 'message/send', params => {
        configuration => { pushNotificationConfig => {
            url => "https://127.0.0.1:$good/webhook/create_media_buy/op-a2a",
            authentication => { schemes => ['HMAC-SHA256'],
                credentials => $secret } } },
        message => { role => 'user', messageId => 'm-7',
            contextId => 'ctx-a2a-1', parts => [{ kind => 'data',
                data => { skill => 'create_media_buy', parameters => {
                    idempotency_key => 'k-a2a-0001' } } }] } } });
my $r = http_post_json($t->port('http'), 'acme.test', '/mcp', $a2a_body,
    Authorization => 'Bearer buyer-one');
my ($a2a) = map { $_->{parts}[0]{data}{task_id} }
    @{((json_decode($r->{body}) // {})->{result} // {})->{artifacts} // []};
ok($a2a, 'A2A message/send with an HMAC-SHA256 pushNotificationConfig: '
    . 'accepted');
ok(wait_for(sub { grep { ($_->{activity}{task_id} // '') eq ($a2a // '-') }
    seen('buyer') }, $slow), 'the library took the A2A webhook');
my ($a) = grep { ($_->{activity}{task_id} // '') eq ($a2a // '-') }
    seen('buyer');
is($a->{status}, 202, '... answered 202');
is($a->{activity}{status}, 'completed', '... an A2A Task, completed');
is($a->{activity}{context_id}, 'ctx-a2a-1', '... the buyer\'s contextId');
is(ref $a->{activity}{payload} eq 'HASH'
    && $a->{activity}{payload}{media_buy_id}, 'mb-k-a2a-0001',
    '... its result unwrapped by the library');

# a receiver holding another secret: the library refuses, not retried

my $id2 = accept_task($other, 'k-other-0001', 'op-other-1');
ok($id2, 'a second task: accepted');
ok(wait_for(sub { seen('other') >= 1 }, $slow), 'its webhook arrived');
my @o = seen('other');
is($o[0]{status}, 401, 'another secret: the library answered 401');
ok(wait_for(sub { $t->read_file('error.log')
    =~ /webhook refused \(HTTP 401 from [^)]*\), not retried.*\Q$id2\E/ },
    $slow), 'the module logged the 401: not retried');
ok(wait_for(sub { ($t->rcli('HGET', "adcp:task:$id2", 'webhook_status'))[0]
    eq 'failed' }, $slow), '... the task record says webhook_status failed');
is(scalar seen('other'), 1, 'one request: a 4xx is the receiver\'s answer');
is(($t->rcli('ZSCORE', 'adcp:hooks', $id2))[0] // '', '',
    '... nothing left scheduled');

$t->stop();

done_testing();
