#!/usr/bin/perl

# One webhook attempt ends well within its lease in adcp:hooks (60 s),
# however many addresses its host name has.  An attempt tries a name's
# addresses in turn, each for up to 10 s; an attempt that outlived its
# lease was claimed again by another worker or host, a second attempt
# running beside the first (the receiver's duplicates, the attempts
# counted twice).  Here a name with seven addresses, each a TCP server
# that never answers the TLS handshake (7 x 10 s = 70 s): the attempt
# ends at its 30 s budget, the addresses left untried logged, then it is
# retried on the schedule, the next attempt begun after this one ended.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_post_json json_decode json_encode wait_for mcp);
use AdcpMockFactory;
use AdcpCerts;
use AdcpDnsMock;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
plan skip_all => 'openssl not installed'
    unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};
plan skip_all => 'IO::Socket::SSL not installed (libio-socket-ssl-perl)'
    unless eval { require AdcpTlsMock; 1 };

my $VG = AdcpTest::valgrind();
my $slow = $VG ? 60 : 15;
my $auth = 'Bearer buyer-one';

my $dns_port = AdcpTest::free_port();
my @addrs = map { "127.0.0.$_" } 11 .. 17;

my $t = AdcpTest->new;
my $dir = $t->testdir;

AdcpCerts::signing_key("$dir/sign.pem");

$t->redis_start();

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    adcp_redis            127.0.0.1:%%PORT_redis%%;
    adcp_task_claim_after 60s;
    adcp_task_webhook_private on;
    adcp_task_webhook_signing_key sign.pem kid=gw-test-1;
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

$t->mock($t->port('adapter'), sub {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $sc = { media_buy_id => 'mb-1', status => 'active', packages => [] };
    return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
        result => { structuredContent => $sc,
            content => [{ type => 'text', text => json_encode($sc) }] } })];
});

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => "$dir/factory.calls", adapter => $t->port('adapter')));

my $sp = $t->port('stall');

for my $a (@addrs) {
    push @{$t->{mocks}}, AdcpTlsMock->stall(addr => $a, port => $sp,
        log => "$dir/stall.log");
}

my $dns = AdcpDnsMock->new($dns_port, "$dir/dns.log",
    'seven.hooks.test' => [@addrs]);

$t->run();

sub log_of {
    my ($id) = @_;
    return join "\n", grep { /"\Q$id\E"/ }
        split /\n/, $t->read_file('error.log');
}

my $r = http_post_json($t->port('http'), 'acme.test', '/hooks',
    mcp(1, 'create_media_buy', { idempotency_key => 'k-seven-0001',
        push_notification_config => {
            url => "https://seven.hooks.test:$sp/h",
            operation_id => 'op-seven' } }),
    Authorization => $auth);
my $id = (json_decode($r->{body}) // {})->{result}{structuredContent}
    {task_id};
ok($id, 'a webhook to a name of seven stalled addresses: accepted');

ok(wait_for(sub { log_of($id) =~ /webhook attempt 1 to / }, $slow),
    'attempt 1 begun');
my $t0 = time();

ok(wait_for(sub { log_of($id) =~ /webhook attempt 1 failed/ }, 45 + $slow),
    'attempt 1 ended');
my $took = time() - $t0;
ok($took < 33 + ($VG ? 10 : 0), sprintf('... within its 30 s budget, well '
    . 'within its 60 s lease (%.1f s)', $took));
ok($took > 28, '... after trying addresses for its whole budget');

my $log = log_of($id);
my @to = $log =~ /webhook attempt 1 to (127\.0\.0\.\d+):$sp\b/g;
is(join(' ', @to), join(' ', @addrs[0 .. 2]),
    'the first three addresses tried, 10 s each');
like($log, qr/webhook\ attempt\ 1\ ran\ out\ of\ time\ \(30000\ ms\),
    \ 4\ of\ 7\ addresses\ not\ tried/x,
    'the addresses left untried logged');

ok(wait_for(sub { log_of($id) =~ /webhook attempt 2 to / }, $slow),
    'retried');
$log = log_of($id);
like($log, qr/webhook attempt 1 failed.*webhook attempt 2 to /s,
    '... attempt 2 begun after attempt 1 ended');
unlike($log, qr/webhook attempt 1 to 127\.0\.0\.1[4-7]/,
    'attempt 1 never went on past its budget');

$t->stop();
$dns->stop();

done_testing();
