#!/usr/bin/perl

# Webhook delivery outcomes and retries (issue 16, items 5 and 6; SPEC
# section 7).  A receiver answering 503, 503, 200 gets three requests with
# the same body and Idempotency-Key, delivered once; 409 and 400 are not
# retried; 429 is; a receiver not listening at first gets it once it
# listens; a worker SIGKILLed while a delivery waits for its next attempt
# loses nothing (the schedule is in Redis: another worker delivers it);
# past adcp_task_webhook_retry_horizon the delivery is given up, after a
# bounded number of attempts.  An adapter answering 502 with a plain body
# twice is called again (the task completes on the third call; with
# adcp_error_pages on, which leaves a task execution's 5xx as it is); a
# JSON-RPC error fails the task after one call; an adapter not listening
# (nginx's own 502) is called 4 times, then the task fails.  /adcp/status and its
# Prometheus form count deliveries by outcome.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_post_json json_decode json_encode mcp append_line
    wait_for);
use AdcpMockFactory;
use AdcpProm;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $VG = AdcpTest::valgrind();
my $workers = $VG ? 1 : 2;
my $slow = $VG ? 90 : 20;

my $t = AdcpTest->new;

sub conf {
    my ($horizon) = @_;
    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
    }

    %%REDIS_ADCP_USER%%
    adcp_redis_channel    test:invalidate;
    adcp_task_claim_after 3s;
    adcp_task_timeout     30s;
    adcp_task_webhook_private on;   # the receivers are on 127.0.0.1
    adcp_task_webhook_retry_horizon $horizon;

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            adcp_error_pages on;    # a task execution's 5xx passes as is
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
}

my $dir = $t->testdir;
my $calls = "$dir/adapter.calls";
my $hooks = "$dir/hook.calls";

# the adapter: mode "flaky" answers 502 with a plain body to a key's first
# two calls; "rpcerror" a JSON-RPC error; each call appends "<key>"

sub adapter {
    my ($req) = @_;
    my $j = json_decode($req->{body}) // {};
    my $a = $j->{params}{arguments} // {};
    my $key = $a->{idempotency_key} // '-';
    my $mode = $a->{mode} // '';
    my $n = grep { $_ eq $key } split /\n/, $t->read_file('adapter.calls');
    append_line($calls, $key);

    return [502, { 'Content-Type' => 'text/plain' }, 'upstream hiccup']
        if $mode eq 'flaky' && $n < 2;
    return [200, {}, '{"jsonrpc":"2.0","id":' . json_encode($j->{id})
        . ',"error":{"code":-32603,"message":"adapter exploded"}}']
        if $mode eq 'rpcerror';

    my $sc = { media_buy_id => "mb-$key", status => 'active',
        packages => [] };
    return [200, {}, json_encode({ jsonrpc => '2.0', id => $j->{id},
        result => { structuredContent => $sc,
            content => [{ type => 'text', text => json_encode($sc) }] } })];
}

# the buyer's receiver: /r/<name>/<code>,<code>,...: the n-th request of a
# name gets the n-th code (the last one from then on; <code>big: with a
# 2 MB body, over the client's cap); each request is recorded

sub receiver {
    my ($req) = @_;
    my ($name, $codes) = ($req->{uri} // '') =~ m{^/r/([^/]+)/([0-9a-z,]+)};
    return [404, {}, 'no'] unless $name;
    my @codes = split /,/, $codes;
    my $n = grep { ((json_decode($_) // {})->{name} // '') eq $name }
        split /\n/, $t->read_file('hook.calls');
    append_line($hooks, json_encode({ name => $name, body => $req->{body},
        idem => $req->{headers}{'idempotency-key'}, t => time() }));
    my ($code, $big) = ($codes[$n] // $codes[-1]) =~ /^(\d+)(big)?$/;
    my %h = $code =~ /^30[1278]$/ ? (Location => "/r/$name-moved/200") : ();
    return [$code, \%h, $big ? '{"x":"' . ('x' x (2 * 1024 * 1024)) . '"}'
        : '{}'];
}

# Redis and the mocks (again after a stop)

sub start {
    my ($horizon) = @_;
    $t->redis_start();
    $t->redis_adcp_user('test:invalidate', tasks => 1);
    $t->mock($t->port('adapter'), \&adapter);
    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => "$dir/factory.calls", adapter => $t->port('adapter'),
        echo => $t->port('down')));     # echo-*: an adapter not listening
    $t->mock($t->port('hook'), \&receiver);
    conf($horizon);
    $t->run();
}

start('24h');

my $port = $t->port('http');

sub accept_task {
    my ($key, $url, %a) = @_;
    my $host = delete $a{host} // 'acme.test';
    my $r = http_post_json($port, $host, '/mcp',
        mcp(1, 'create_media_buy', { idempotency_key => $key,
            buyer_ref => 'b', %a,
            ($url ? (push_notification_config => { url => $url,
                operation_id => "op-$key",
                authentication => { schemes => ['Bearer'],
                    credentials => 'bearer-0123456789abcdefghijklmnop' } })
                : ()) }),
        Authorization => 'Bearer buyer-one');
    my $id = (json_decode($r->{body}) // {})->{result}{structuredContent}
        {task_id};
    diag("accept $key: $r->{status} $r->{body}") unless $id;
    return $id;
}

sub record {
    my %h = $t->rcli('HGETALL', 'adcp:task:' . ($_[0] // '-'));
    return \%h;
}

sub requests {
    my ($name) = @_;
    return grep { $_->{name} eq $name }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls');
}

sub hook_url {
    my ($name, $codes, $p) = @_;
    return 'http://127.0.0.1:' . ($p // $t->port('hook')) . "/r/$name/$codes";
}

sub ended {
    my ($id, $status) = @_;
    return wait_for(sub {
        (record($id)->{webhook_status} // '') eq $status }, $slow);
}

# --- 503, 503, 200: three requests, one body, one key, delivered -------

my %task;

$task{a} = accept_task('k-retry-a', hook_url('a', '503,503,200'));
ok($task{a}, '503, 503, 200: accepted');
ok(ended($task{a}, 'delivered'), '... delivered');
my @a = requests('a');
is(scalar @a, 3, '... in three requests');
is(scalar(grep { $_->{body} eq $a[0]{body} } @a), 3, '... the same body');
ok($a[0]{idem} && 3 == grep({ ($_->{idem} // '') eq $a[0]{idem} } @a),
    '... the same Idempotency-Key');
is((json_decode($a[0]{body}) // {})->{status}, 'completed',
    '... the terminal status');
my $rec = record($task{a});
is($rec->{webhook_sent}, '1', 'record: webhook_sent');
is($rec->{webhook_attempts}, '3', 'record: webhook_attempts 3');
is($rec->{webhook_code}, '200', 'record: webhook_code 200');
ok(!exists $rec->{webhook_auth}, 'record: the credentials deleted');
ok($a[1]{t} - $a[0]{t} >= 0.7, 'the first retry waited ~1 s ('
    . sprintf('%.2f', $a[1]{t} - $a[0]{t}) . ')');
ok($a[2]{t} - $a[1]{t} >= 1.4, 'the second ~2 s ('
    . sprintf('%.2f', $a[2]{t} - $a[1]{t}) . ')');
is(($t->rcli('ZSCORE', 'adcp:hooks', $task{a}))[0] // '', '',
    'no longer scheduled');

# --- 409, 400: one request each; 429: retried --------------------------

$task{b} = accept_task('k-retry-b', hook_url('b', '409,200'));
$task{d} = accept_task('k-retry-d', hook_url('d', '400,200'));
$task{c} = accept_task('k-retry-c', hook_url('c', '429,200'));
ok(ended($task{b}, 'failed'), '409: failed');
is(record($task{b})->{webhook_code}, '409', '... webhook_code 409');
ok(ended($task{d}, 'failed'), '400: failed');
ok(ended($task{c}, 'delivered'), '429: delivered');
is(scalar(() = requests('c')), 2, '... after one retry');
is(scalar(() = requests('b')), 1, '409: one request, no retry');
is(scalar(() = requests('d')), 1, '400: one request, no retry');
ok(!exists record($task{b})->{webhook_auth},
    '409: the credentials deleted');

$task{r} = accept_task('k-retry-r', hook_url('r', '302'));
ok(ended($task{r}, 'failed'), '302 with a Location: failed');
is(scalar(() = requests('r')), 1, '... one request, no retry');
is(scalar(() = requests('r-moved')), 0, '... the redirect not followed');
is(record($task{r})->{webhook_code}, '302', '... webhook_code 302');

# --- a 200 whose reply is over the cap: delivered, judged by its status
# line (the receiver took it: not sent again) --------------------------

$task{big} = accept_task('k-retry-big', hook_url('big', '200big'));
ok(ended($task{big}, 'delivered'), 'a 200 with a 2 MB reply: delivered');
is(scalar(() = requests('big')), 1, '... in one request, not retried');
is(record($task{big})->{webhook_code}, '200', '... webhook_code 200');

$task{bigx} = accept_task('k-retry-bigx', hook_url('bigx', '503big,200'));
ok(ended($task{bigx}, 'delivered'), 'a 503 with a 2 MB reply, then 200: '
    . 'delivered');
is(scalar(() = requests('bigx')), 2, '... the 503 retried once');

# --- a record that expired (adcp_task_ttl) while its webhook waited: the
# delivery ends, said at warn, nothing left scheduled --------------------

$task{gone} = accept_task('k-retry-gone', hook_url('gone', '503'));
ok(wait_for(sub { (record($task{gone})->{webhook_attempts} // 0) >= 1
    && requests('gone') >= 1 }, $slow), 'a record that expires: first '
    . 'attempt answered 503');
$t->rcli('DEL', "adcp:task:$task{gone}");
ok(wait_for(sub { $t->read_file('error.log') =~ /\[warn\][^\n]*the
    \ webhook's\ task\ record\ expired[^\n]*\Q$task{gone}\E/x }, $slow),
    '... its next attempt finds it gone: given up, said at warn');
is(($t->rcli('ZSCORE', 'adcp:hooks', $task{gone}))[0] // '', '',
    '... nothing left scheduled');

# --- a receiver not listening at first ---------------------------------

my $late = $t->port('late');
$task{e} = accept_task('k-retry-e', hook_url('e', '200', $late));
ok(wait_for(sub { (record($task{e})->{webhook_attempts} // 0) >= 2
    && (record($task{e})->{webhook_code} // '') eq 'network' }, $slow),
    'not listening: attempted twice, a network error');
is(record($task{e})->{webhook_status}, 'scheduled', '... still scheduled');
$t->mock($late, \&receiver);
ok(ended($task{e}, 'delivered'), '... delivered once it listens');
is(scalar(() = requests('e')), 1, '... in one request');

# --- execution retries ---------------------------------------------------

sub calls_of { my $k = $_[0]; scalar grep { $_ eq $k }
    split /\n/, $t->read_file('adapter.calls') }

$task{f} = accept_task('k-flaky-1', undef, mode => 'flaky');
ok(wait_for(sub { (record($task{f})->{status} // '') eq 'completed' },
    $slow), 'an adapter answering 502 twice: completed');
is(calls_of('k-flaky-1'), 3, '... the adapter called 3 times');

$task{g} = accept_task('k-rpcerr-1', undef, mode => 'rpcerror');
ok(wait_for(sub { (record($task{g})->{status} // '') eq 'failed' },
    $slow), 'a JSON-RPC error: failed');
is(calls_of('k-rpcerr-1'), 1, '... the adapter called once');
like(record($task{g})->{error} // '', qr/adapter exploded/,
    '... with the adapter\'s message');

# the adapter down: nginx's own 502, retried (1, 2, 4 s), then failed

my $t0 = time();
$task{i} = accept_task('k-down-1', undef, host => 'echo-down.test');
ok(wait_for(sub { (record($task{i})->{status} // '') eq 'failed' },
    $slow), 'the adapter down: failed');
my $down = time() - $t0;
like(record($task{i})->{error} // '', qr/answered HTTP 502/,
    '... the adapter answered HTTP 502');
my $downlog = join "\n", grep { /"$task{i}"/ }
    split /\n/, $t->read_file('error.log');
is(scalar(() = $downlog =~ /the adapter's call \d failed \(HTTP 502\)/g), 3,
    '... after 4 calls (3 retries logged)');
ok($down >= 5, '... with backoff (' . sprintf('%.1f', $down) . ' s)');

# --- counters --------------------------------------------------------------

my $log = $t->read_file('error.log');
my $retried = () = $log =~ /webhook attempt \d+ to be retried in/g;

my $st = $t->status()->{tasks} // {};
is($st->{webhooks_delivered}, 5,
    'status: webhooks_delivered 5 (a, c, e, big, bigx)');
is($st->{webhooks_failed}, 3, 'status: webhooks_failed 3 (409, 400, 302)');
is($st->{webhooks_retried}, $retried, "status: webhooks_retried $retried "
    . '(as logged)');
ok($retried >= 6, "... 2 + 1 + 1 + at least 2");
is($st->{webhooks_gave_up}, 0, 'status: webhooks_gave_up 0');
is($st->{retried}, 5, 'status: retried 5 (the adapter\'s 502s: 2 + 3)');

my $text = $t->status('prometheus')->{body} // '';
is_deeply([AdcpProm::errors($text)], [], 'prometheus: strictly valid');
my ($fam) = AdcpProm::families($text);
is($fam->{adcp_tasks_webhooks_delivered_total}{samples}[0][2], 5,
    'prometheus: adcp_tasks_webhooks_delivered_total 5');
is($fam->{adcp_tasks_webhooks_failed_total}{samples}[0][2], 3,
    'prometheus: adcp_tasks_webhooks_failed_total 3');
is($fam->{adcp_tasks_webhooks_retried_total}{samples}[0][2], $retried,
    'prometheus: adcp_tasks_webhooks_retried_total');
is($fam->{adcp_tasks_webhooks_gave_up_total}{type}, 'counter',
    'prometheus: adcp_tasks_webhooks_gave_up_total a counter');

# --- a worker SIGKILLed while a delivery waits -------------------------

SKIP: {
    skip 'one worker under valgrind', 5 if $workers < 2;

    $task{k} = accept_task('k-retry-k', hook_url('k', '503,200'));
    ok(wait_for(sub { (record($task{k})->{webhook_code} // '') eq '503' },
        $slow), 'SIGKILL: the first attempt answered 503, rescheduled');
    my $re = qr/(\d+)#\d+: adcp: webhook attempt 1 failed \(HTTP 503 /;
    my ($pid) = $t->read_file('error.log') =~ /$re[^\n]*"$task{k}"/;
    $t->{expect_alert} = qr/exited on signal 9/;
    ok($pid && kill('KILL', $pid), "... its worker $pid killed");
    my $t0 = time();
    ok(ended($task{k}, 'delivered'), '... delivered all the same');
    my $took = time() - $t0;
    ok($took < 10, '... within ' . sprintf('%.1f', $took) . ' s');
    my @k = requests('k');
    my ($by) = $t->read_file('error.log')
        =~ /(\d+)#\d+: adcp: webhook delivered to [^\n]* task: "$task{k}"/;
    ok(@k == 2 && $k[0]{idem} eq $k[1]{idem} && $by && $by != $pid,
        "... by another worker ($by), the same Idempotency-Key");
}

# --- past the horizon: given up ------------------------------------------

$t->stop();
start('3s');

$task{h} = accept_task('k-retry-h', hook_url('h', '503'));
ok(ended($task{h}, 'gave_up'), 'horizon 3s, always 503: given up');
my @h = requests('h');
ok(@h >= 2 && @h <= 4, 'attempts bounded: ' . scalar(@h));
# a retry is scheduled only when due within the horizon; it begins at
# most one poll (1-1.25 s) after it is due
ok($h[-1]{t} - $h[0]{t} <= 3 + 1.5, '... each due within the horizon ('
    . sprintf('%.1f', $h[-1]{t} - $h[0]{t}) . ' s)');
$st = $t->status()->{tasks} // {};
is($st->{webhooks_gave_up}, 1, 'status: webhooks_gave_up 1');
is($st->{webhooks_retried}, @h - 1, 'status: webhooks_retried '
    . (@h - 1));
is(($t->rcli('ZCARD', 'adcp:hooks'))[0], 0, 'nothing left scheduled');

$t->stop();

done_testing();
