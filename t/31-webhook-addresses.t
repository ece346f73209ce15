#!/usr/bin/perl

# Webhook delivery to a host name that resolves to several addresses
# (issue 14 item 1), through nginx's resolver (a Perl DNS mock): the
# addresses are tried in order, as nginx's upstreams go on to the next
# server.  A first address that refuses (127.0.0.2, nothing listening):
# the webhook goes to the second within the same attempt (no retry wait),
# delivered once, with the delivery's Idempotency-Key; the addresses
# logged.  Every address refuses: each tried in every attempt, the
# attempts retried on the schedule (1, 2, 4 ... s, less up to a quarter)
# and given up at adcp_task_webhook_retry_horizon (12s here): 4 or 5
# attempts.  Without adcp_task_webhook_private, a name whose addresses are all
# loopback is not delivered, as before.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_post_json json_decode json_encode append_line
    wait_for);
use AdcpMockFactory;
use AdcpCerts;
use AdcpDnsMock;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $VG = AdcpTest::valgrind();
my $slow = $VG ? 60 : 15;
my $auth = 'Bearer buyer-one';

my $dns_port = AdcpTest::free_port();
my $dns;

# nginx, Redis, the factory, the adapter and the webhook receiver (always
# 200; each call appended to hook.calls with its time)

sub start {
    my ($private) = @_;
    my $t = AdcpTest->new;

    $t->redis_start();

    # a webhook without an authentication block is signed (RFC 9421)
    AdcpCerts::signing_key($t->testdir . '/hook.pem');

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
    adcp_task_webhook_private $private;
    adcp_task_webhook_retry_horizon 12s;
    adcp_task_webhook_signing_key hook.pem kid=gw-test-1;
    adcp_task_webhook_http on;      # the receivers are http://
    resolver              127.0.0.1:$dns_port ipv6=off;

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /hooks {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%
    }
}
EOF

    my $dir = $t->testdir;

    $t->mock($t->port('adapter'), sub {
        my ($req) = @_;
        my $j = json_decode($req->{body}) // {};
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
        append_line("$dir/hook.calls", json_encode({ at => time(),
            body => json_decode($req->{body}),
            idem => $req->{headers}{'idempotency-key'} }));
        return [200, {}, '{}'];
    });

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => "$dir/factory.calls", adapter => $t->port('adapter')));

    $t->run();

    return $t;
}

sub accept_task {
    my ($t, $host, $key) = @_;
    my $url = "http://$host:" . $t->port('hook') . '/h';
    my $body = json_encode({ jsonrpc => '2.0', id => 1,
        method => 'tools/call', params => { name => 'create_media_buy',
        arguments => { idempotency_key => $key,
            push_notification_config => { url => $url,
                operation_id => "op-$key" } } } });
    my $r = http_post_json($t->port('http'), 'acme.test', '/hooks', $body,
        Authorization => $auth);
    return (json_decode($r->{body}) // {})->{result}{structuredContent}
        {task_id};
}

sub hooks_of {
    my ($t, $id) = @_;
    return grep { ($_->{body}{task_id} // '') eq $id }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls');
}

sub log_of {
    my ($t, $id) = @_;
    return join "\n", grep { /"\Q$id\E"/ }
        split /\n/, $t->read_file('error.log');
}

my $t = start('on');
my $hp = $t->port('hook');

$dns = AdcpDnsMock->new($dns_port, $t->testdir . '/dns.log',
    'two.hooks.test' => ['127.0.0.2', '127.0.0.1'],
    'dead.hooks.test' => ['127.0.0.2', '127.0.0.4'],
    'local.hooks.test' => ['127.0.0.1', '127.0.0.3']);

# every address refuses: started first, its schedule runs meanwhile

my $dead = accept_task($t, 'dead.hooks.test', 'k-dead-0001');
ok($dead, 'every address refuses: accepted');
my $t_dead = time();

# the first address refuses, the second answers

my $two = accept_task($t, 'two.hooks.test', 'k-two-0001');
ok($two, 'two addresses, the first refusing: accepted');
my $t_two = time();

ok(wait_for(sub { hooks_of($t, $two) >= 1 }, $slow),
    'the webhook was delivered');
my $took = time() - $t_two;
ok(wait_for(sub { log_of($t, $two) =~ /webhook delivered to / }),
    'delivery logged');
my $log = log_of($t, $two);
my @h = hooks_of($t, $two);

is(scalar @h, 1, 'delivered once');
like($h[0]{idem}, qr/^whk_[0-9a-f]{32}$/,
    'Idempotency-Key: the delivery\'s random key');
is($h[0]{body}{idempotency_key}, $h[0]{idem}, '... the payload\'s');
is($h[0]{body}{status}, 'completed', '... the terminal status');
like($log, qr/\[info\]\ [^\n]*webhook\ attempt\ 1\ to\ 127\.0\.0\.2:$hp\b
    .*? \[warn\]\ [^\n]*webhook\ address\ 127\.0\.0\.2:$hp\ failed
    .*? \[info\]\ [^\n]*webhook\ attempt\ 1\ to\ 127\.0\.0\.1:$hp\b
    .*? \[info\]\ [^\n]*webhook\ delivered\ to\ 127\.0\.0\.1:$hp\ \(HTTP\ 200\)/xs,
    'logged: attempt 1 to 127.0.0.2 failed, attempt 1 to 127.0.0.1 '
    . 'delivered');
unlike($log, qr/webhook attempt (1 failed|2)/,
    'within the first attempt: no retry');
ok($VG || $took < 1, 'no retry wait: delivered '
    . sprintf('%.2f', $took) . ' s after accept');

# every address refuses: each tried in every attempt, the attempts 1, 2,
# 4 s apart (less up to a quarter, and begun within a second of being
# due: attempts at about 0, 1, 3, 7 s), given up when the next one would
# be due past the 12 s horizon: after 4 or 5 attempts

my $dlog;
ok(wait_for(sub { ($dlog = log_of($t, $dead)) =~ /webhook given up/ },
    14 + $slow), 'every address refuses: given up');
my $gave = time() - $t_dead;
my ($attempts) = $dlog =~ /webhook given up after (\d+) attempts/;
$attempts //= 0;
for my $n (1 .. $attempts) {
    my @to = $dlog =~ /webhook attempt $n to (127\.0\.0\.\d+):$hp\b/g;
    is(join(' ', sort @to), '127.0.0.2 127.0.0.4',
        "attempt $n: both addresses tried");
    like($dlog, qr/\[warn\] .*webhook attempt $n failed/,
        "attempt $n: failed");
}
my @failed = $dlog =~ /\[warn\]\ [^\n]*webhook\ address\ 127\.0\.0\.[24]:$hp
    \ failed/gx;
is(scalar @failed, 2 * $attempts,
    "each failed address logged ($attempts x 2)");
ok($attempts == 4 || $attempts == 5, "given up after $attempts attempts "
    . '(4 or 5)');
ok($gave >= 5 && $gave <= 12 + 2 * ($VG ? 4 : 1), 'on the schedule: given '
    . 'up ' . sprintf('%.1f', $gave) . ' s after accept (horizon 12 s)');
is(($t->rcli('HGET', "adcp:task:$dead", 'webhook_status'))[0], 'gave_up',
    'record: webhook_status gave_up');
is(scalar hooks_of($t, $dead), 0, 'the receiver never saw it');

$t->stop();

# without adcp_task_webhook_private: every address loopback, not delivered

$t = start('off');
$hp = $t->port('hook');

my $local = accept_task($t, 'local.hooks.test', 'k-local-0001');
ok($local, 'loopback addresses, webhook_private off: accepted');
ok(wait_for(sub { log_of($t, $local)
    =~ /the webhook host resolves to an address that is not public, not delivered/
}, $slow), 'not delivered: not public (logged)');
unlike(log_of($t, $local), qr/webhook attempt 1 to/, 'no connection made');
is(scalar hooks_of($t, $local), 0, 'the receiver never saw it');

$t->stop();
$dns->stop();

done_testing();
