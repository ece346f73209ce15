#!/usr/bin/perl

# Webhook delivery over https (issue 16 item 1), through nginx's OpenSSL
# layer.  The test makes a CA and server certificates with openssl(1) and
# runs https receivers (AdcpTlsMock, IO::Socket::SSL):
#   good   for hooks.buyer.test, two.buyer.test and 127.0.0.1, from the
#          test CA (and on 127.0.0.2, the same port, rogue's certificate)
#   other  for other.example only, from the test CA
#   rogue  for hooks.buyer.test and 127.0.0.1, from a CA nginx does not trust
#   stall  a TCP server that never answers the ClientHello
# with adcp_task_webhook_trusted_certificate naming the test CA.  Shown: a
# webhook to an address and one to a host name (nginx's resolver, a DNS
# mock) delivered over TLS 1.2+, body and headers as the receiver got them
# (Host with the port), SNI sent for the name and not for the address; the
# one without an authentication block signed (RFC 9421), its signature
# verified by Python's cryptography against the JWKS nginx serves; a
# certificate for another name and one from an untrusted CA refused after
# the handshake, before a byte of the request (the receiver saw no request;
# error.log says why); a name whose first address fails so is delivered
# to its second within the same attempt; a receiver that speaks only TLS
# 1.2 is delivered to; a handshake never answered ends at the deadline,
# and a TERM mid-handshake frees the connection (valgrind mode: no leak).  At
# accept: http:// refused without adcp_task_webhook_http /
# adcp_task_webhook_private, accepted with adcp_task_webhook_http on.
# nginx -t fails on a missing trusted certificate file, naming it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use AdcpTest qw(http_post_json http_get json_decode json_encode
    append_line wait_for mcp);
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
my $cred = 'bearer-credentials-0123456789abcdef';

my $dns_port = AdcpTest::free_port();

my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $have_py = system("$python -c 'import cryptography' >/dev/null 2>&1")
    == 0;

# t/lib/adcp_verify_webhook.py's verdict on a request

sub py_verify {
    my ($t, $req) = @_;
    my $dir = $t->testdir;
    $t->write_file('req.json', json_encode($req));
    my $v = "$FindBin::Bin/lib/adcp_verify_webhook.py";
    return scalar `$python $v $dir/req.json 2>&1`;
}

# --- nginx ------------------------------------------------------------------

# $o{private}, $o{http}: adcp_task_webhook_private / _http; $o{run}: 0 =
# accept only (adcp_task_concurrency 0)

sub start {
    my (%o) = @_;
    my $t = AdcpTest->new;
    my $dir = $t->testdir;

    AdcpCerts::ca($dir, 'ca', 'AdCP test CA');
    AdcpCerts::ca($dir, 'rogue-ca', 'Rogue CA');
    AdcpCerts::cert($dir, 'good', 'ca', 'hooks.buyer.test',
        'DNS:hooks.buyer.test,DNS:two.buyer.test,IP:127.0.0.1');
    AdcpCerts::cert($dir, 'other', 'ca', 'other.example', 'DNS:other.example');
    AdcpCerts::cert($dir, 'rogue', 'rogue-ca', 'hooks.buyer.test',
        'DNS:hooks.buyer.test,IP:127.0.0.1');

    AdcpCerts::signing_key("$dir/sign.pem");

    $t->redis_start();

    my $concurrency = $o{run} ? 8 : 0;

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
    adcp_task_concurrency $concurrency;
    adcp_task_webhook_private $o{private};
    adcp_task_webhook_http $o{http};
    adcp_task_webhook_signing_key sign.pem kid=gw-test-1;
    adcp_task_webhook_trusted_certificate ca.crt;    # relative: conf dir
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

        location = /.well-known/jwks.json { adcp_jwks; }

        %%FACTORY_LOCATION%%
    }
}
EOF

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

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => "$dir/factory.calls", adapter => $t->port('adapter')));

    if ($o{run}) {
        for my $name (qw(good other rogue tls12)) {
            my $cert = $name eq 'tls12' ? 'good' : $name;
            push @{$t->{mocks}}, AdcpTlsMock->new(port => $t->port($name),
                cert => "$dir/$cert.crt", key => "$dir/$cert.key",
                ($name eq 'tls12' ? (version => 'TLSv1_2') : ()),
                log => "$dir/tls.log", handler => sub {
                    my ($req) = @_;
                    append_line("$dir/hook.calls", json_encode({
                        receiver => $name, %$req, raw => $req->{body},
                        body => json_decode($req->{body}) }));
                    return [200, {}, '{}'];
                });
        }

        # the rogue certificate on 127.0.0.2, the good one's port

        push @{$t->{mocks}}, AdcpTlsMock->new(addr => '127.0.0.2',
            port => $t->port('good'), cert => "$dir/rogue.crt",
            key => "$dir/rogue.key", log => "$dir/tls.log", handler => sub {
                append_line("$dir/hook.calls", json_encode({
                    receiver => 'rogue2' }));
                return [200, {}, '{}'];
            });

        push @{$t->{mocks}}, AdcpTlsMock->stall(port => $t->port('stall'),
            log => "$dir/stall.log");
    }

    $t->run();

    return $t;
}

sub accept_task {
    my ($t, $url, $key, %pnc) = @_;
    my $r = http_post_json($t->port('http'), 'acme.test', '/hooks',
        mcp(1, 'create_media_buy', { idempotency_key => $key,
            push_notification_config => { url => $url,
                operation_id => "op-$key", %pnc } }),
        Authorization => $auth);
    return json_decode($r->{body}) // {};
}

sub task_id { $_[0]{result}{structuredContent}{task_id} }

sub hooks_of {
    my ($t, $id) = @_;
    return grep { ($_->{body}{task_id} // '') eq $id }
        map { json_decode($_) } split /\n/, $t->read_file('hook.calls');
}

sub tls_of {
    my ($t, $port) = @_;
    return grep { $_->{port} == $port }
        map { json_decode($_) } split /\n/, $t->read_file('tls.log');
}

sub log_of {
    my ($t, $id) = @_;
    return join "\n", grep { /"\Q$id\E"/ }
        split /\n/, $t->read_file('error.log');
}

# --- delivery ---------------------------------------------------------------

my $dns;
my $t = start(private => 'on', http => 'off', run => 1);
my $dir = $t->testdir;
my ($good, $other, $rogue, $stall) = map { $t->port($_) }
    qw(good other rogue stall);

$dns = AdcpDnsMock->new($dns_port, "$dir/dns.log",
    'hooks.buyer.test' => '127.0.0.1',
    'two.buyer.test' => ['127.0.0.2', '127.0.0.1']);

# the stalled one first: its deadline (10 s) runs meanwhile

my $stalled = task_id(accept_task($t, "https://127.0.0.1:$stall/h",
    'k-stall-0001'));
ok($stalled, 'a receiver that never answers the handshake: accepted');
my $t_stall = time();

my $by_ip = task_id(accept_task($t, "https://127.0.0.1:$good/hook/ip?x=1",
    'k-ip-000001', token => 'tok-' . ('t' x 16), operation_id => 'op-1',
    authentication => { schemes => ['Bearer'], credentials => $cred }));
ok($by_ip, 'https to an address: accepted');

my $by_name = task_id(accept_task($t,
    "https://hooks.buyer.test:$good/hook/name#frag", 'k-name-00001'));
ok($by_name, 'https to a host name: accepted');

my $wrong = task_id(accept_task($t, "https://hooks.buyer.test:$other/w",
    'k-other-0001'));
ok($wrong, 'a receiver with a certificate for another name: accepted');

my $untrusted = task_id(accept_task($t,
    "https://hooks.buyer.test:$rogue/u", 'k-rogue-0001'));
ok($untrusted, 'a receiver with a certificate of an untrusted CA: '
    . 'accepted');

# an address: delivered, no SNI

ok(wait_for(sub { hooks_of($t, $by_ip) >= 1 }, $slow),
    'https to an address: delivered');
my ($h) = hooks_of($t, $by_ip);
is($h->{receiver}, 'good', '... to the receiver with the right certificate');
is($h->{method}, 'POST', '... POST');
is($h->{uri}, '/hook/ip?x=1', '... the path and query');
is($h->{headers}{host}, "127.0.0.1:$good", '... Host with the port');
is($h->{headers}{authorization}, "Bearer $cred", '... Bearer credentials');
is($h->{headers}{'content-type'}, 'application/json', '... Content-Type');
like($h->{headers}{'idempotency-key'}, qr/^whk_[0-9a-f]{32}\z/,
    '... Idempotency-Key');
is($h->{body}{idempotency_key}, $h->{headers}{'idempotency-key'},
    '... the payload\'s');
is($h->{body}{task_id}, $by_ip, '... body: task_id');
is($h->{body}{status}, 'completed', '... body: status completed');
is($h->{body}{result}{media_buy_id}, 'mb-k-ip-000001', '... body: result');
is($h->{body}{token}, 'tok-' . ('t' x 16), '... body: token echoed');
is($h->{body}{operation_id}, 'op-1', '... body: operation_id echoed');
like($h->{tls}, qr/^TLSv1_[23]$/, "... over $h->{tls}");
is($h->{sni}, '', '... no SNI for an address (RFC 6066)');
ok(wait_for(sub { log_of($t, $by_ip)
    =~ /webhook delivered to 127\.0\.0\.1:$good \(HTTP 200\)/ }),
    '... logged delivered');

# a receiver that speaks only TLS 1.2

my $v12 = task_id(accept_task($t, 'https://127.0.0.1:' . $t->port('tls12')
    . '/v12', 'k-tls12-0001'));
ok(wait_for(sub { hooks_of($t, $v12) >= 1 }, $slow),
    'a receiver that speaks only TLS 1.2: delivered');
is((hooks_of($t, $v12))[0]{tls}, 'TLSv1_2', '... over TLSv1_2');

# a host name: resolved, SNI, the name verified

ok(wait_for(sub { hooks_of($t, $by_name) >= 1 }, $slow),
    'https to a host name: delivered');
($h) = hooks_of($t, $by_name);
is($h->{sni}, 'hooks.buyer.test', '... SNI: the host name');
is($h->{headers}{host}, "hooks.buyer.test:$good", '... Host: name and port');
is($h->{uri}, '/hook/name', '... the path, without the fragment');
ok(!defined $h->{headers}{authorization}, '... no Authorization without '
    . 'credentials');
is($h->{body}{status}, 'completed', '... body: status completed');

# no authentication block: signed (RFC 9421, AdCP's profile), verified by
# a second implementation (Python's cryptography) against the JWKS this
# nginx publishes, over the https request as the receiver got it

like($h->{headers}{'signature-input'} // '', qr/^sig1=\("\@method"
    \ "\@target-uri"\ "\@authority"\ "content-type"\ "content-digest"\);/x,
    '... signed: Signature-Input sig1 with the five components');
like($h->{headers}{'signature-input'} // '',
    qr/;tag="adcp\/webhook-signing\/v1"/, '... the AdCP tag');
SKIP: {
    skip 'python3 with cryptography (python3-cryptography) is not '
        . 'installed', 2 unless $have_py;

    my $jwks = http_get($t->port('http'), 'gw.test',
        '/.well-known/jwks.json')->{body};
    my %req = (jwks => json_decode($jwks), method => 'POST',
        target_uri => "https://hooks.buyer.test:$good$h->{uri}",
        authority => $h->{headers}{host},
        content_type => $h->{headers}{'content-type'},
        content_digest => $h->{headers}{'content-digest'},
        signature_input => $h->{headers}{'signature-input'},
        signature => $h->{headers}{signature}, body => $h->{raw});
    my $v = py_verify($t, \%req);
    is($v, "verified\n",
        '... the signature verifies (Python cryptography, the served JWKS)');
    $req{body} = $h->{raw} . ' ';
    isnt(py_verify($t, \%req), "verified\n",
        '... and not for another body');
}

# two addresses, the first with an untrusted certificate: refused before a
# byte of the request, the second used within the same attempt

my $two = task_id(accept_task($t, "https://two.buyer.test:$good/two",
    'k-two-000001'));
ok($two, 'two addresses, the first with an untrusted certificate: '
    . 'accepted');
ok(wait_for(sub { hooks_of($t, $two) >= 1 }, $slow),
    '... delivered');
($h) = hooks_of($t, $two);
is($h->{receiver}, 'good', '... by the second address');
is($h->{sni}, 'two.buyer.test', '... SNI two.buyer.test');
ok(wait_for(sub { log_of($t, $two) =~ /webhook delivered to / }),
    '... logged');
like(log_of($t, $two), qr/webhook\ attempt\ 1\ to\ 127\.0\.0\.2:$good\b
    .*?\ not\ trusted\ .*?
    webhook\ address\ 127\.0\.0\.2:$good\ failed
    .*?\ webhook\ attempt\ 1\ to\ 127\.0\.0\.1:$good\b
    .*?\ webhook\ delivered\ to\ 127\.0\.0\.1:$good\ \(HTTP\ 200\)/xs,
    '... logged: 127.0.0.2 not trusted, 127.0.0.1 delivered, one attempt');
unlike(log_of($t, $two), qr/webhook attempt (1 failed|2)/, '... no retry');
ok(!grep({ $_->{receiver} eq 'rogue2' } map { json_decode($_) }
    split /\n/, $t->read_file('hook.calls')),
    '... the untrusted receiver never saw a request');

# a fully qualified name, its root dot: the certificate checked for the
# name, SNI (RFC 6066: no trailing dot) and Host without it; delivered

my $fqdn = task_id(accept_task($t, "https://hooks.buyer.test.:$good/fqdn",
    'k-fqdn-00001'));
ok($fqdn, 'a name with its root dot: accepted');
ok(wait_for(sub { hooks_of($t, $fqdn) >= 1 }, $slow), '... delivered')
    or diag(log_of($t, $fqdn));
($h) = hooks_of($t, $fqdn);
is($h->{sni}, 'hooks.buyer.test', '... SNI without the dot');
is($h->{headers}{host}, "hooks.buyer.test:$good", '... Host without it');

# a certificate for another name: refused after the handshake

ok(wait_for(sub { log_of($t, $wrong) =~ /webhook attempt 1 failed/ },
    $slow), 'a certificate for another name: the attempt failed');
my $log = log_of($t, $wrong);
like($log, qr/\[error\] [^\n]*the webhook's certificate is not for "hooks\.buyer\.test", not delivered/,
    '... error.log says why');
like($log, qr/\[warn\] [^\n]*webhook address 127\.0\.0\.1:$other failed/,
    '... the address logged');
ok(scalar(tls_of($t, $other)) >= 1, '... after a handshake with it');
is((tls_of($t, $other))[0]{sni}, 'hooks.buyer.test', '... (SNI sent)');
is(scalar hooks_of($t, $wrong), 0, '... the receiver never saw a request');

# a certificate from an untrusted CA: refused after the handshake

ok(wait_for(sub { log_of($t, $untrusted) =~ /webhook attempt 1 failed/ },
    $slow), 'a certificate from an untrusted CA: the attempt failed');
$log = log_of($t, $untrusted);
like($log, qr/\[error\] [^\n]*the webhook "hooks\.buyer\.test" presented a certificate that is not trusted \(\d+: [^)]+\), not delivered/,
    '... error.log says why');
ok(scalar(tls_of($t, $rogue)) >= 1, '... after a handshake with it');
is(scalar hooks_of($t, $untrusted), 0, '... the receiver never saw a '
    . 'request');

# a handshake never answered: the deadline (10 s), then retried

ok(wait_for(sub { log_of($t, $stalled) =~ /webhook attempt 1 failed/ },
    10 + $slow), 'a receiver that never answers: the attempt failed');
my $took = time() - $t_stall;
like(log_of($t, $stalled), qr/no complete answer in time/,
    '... at the deadline');
ok($took >= 9.5, sprintf('... after %.1f s (10 s)', $took));

# a TERM while the retry's handshake waits: the worker exits at once and
# frees the connection (valgrind mode checks it)

ok(wait_for(sub { $t->count_lines('stall.log') >= 2 }, $slow),
    '... retried: a second connection waits for its handshake');
kill 'TERM', $t->{pid};
ok(wait_for(sub { $t->read_file('error.log') =~ /\[notice\] .*exit$/m },
    $slow), 'TERM mid-handshake: the worker exited');
like(log_of($t, $stalled), qr/abandoned by an exiting worker/,
    '... the task left for reclaiming');

$t->stop();

# --- the URL policy at accept -------------------------------------------------

$t = start(private => 'off', http => 'off');

my $j = accept_task($t, 'http://93.184.216.34/hook', 'k-http-0001');
my $e = $j->{result}{structuredContent}{adcp_error} // {};
is($e->{code}, 'INVALID_REQUEST', 'http:// without adcp_task_webhook_http: '
    . 'INVALID_REQUEST');
is($e->{field}, 'push_notification_config.url', '... field '
    . 'push_notification_config.url');
like($e->{message} // '', qr/https/, "... says https ($e->{message})");

$j = accept_task($t, 'https://93.184.216.34:8443/hook', 'k-https-0001');
like(task_id($j) // '', qr/^adcp_task_/, 'https:// to a public address: '
    . 'accepted');

$j = accept_task($t, "https://127.0.0.1:$dns_port/hook", 'k-https-0002');
$e = $j->{result}{structuredContent}{adcp_error} // {};
like($e->{message} // '', qr/not a public address/, 'https:// to loopback '
    . 'without adcp_task_webhook_private: refused');

$t->stop();

$t = start(private => 'off', http => 'on');

$j = accept_task($t, 'http://93.184.216.34/hook', 'k-http-0002');
like(task_id($j) // '', qr/^adcp_task_/, 'http:// with '
    . 'adcp_task_webhook_http on: accepted');

$j = accept_task($t, 'http://10.1.2.3/hook', 'k-http-0003');
$e = $j->{result}{structuredContent}{adcp_error} // {};
like($e->{message} // '', qr/not a public address/, '... but not to a '
    . 'private address');

$t->stop();

# --- configuration ------------------------------------------------------------

$t = AdcpTest->new;
my ($rc, $out) = $t->test_config(<<"EOF");
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_redis 127.0.0.1:1;
    adcp_task_webhook_trusted_certificate /nonexistent/adcp-ca.pem;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;
        location / {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
        }
    }
}
EOF
isnt($rc, 0, 'a missing trusted certificate file: nginx -t fails');
like($out, qr{adcp_task_webhook_trusted_certificate "/nonexistent/adcp-ca\.pem" cannot be read},
    '... naming it');

$t->write_file('empty.pem', "not a certificate\n");
($rc, $out) = $t->test_config(<<"EOF");
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_redis 127.0.0.1:1;
    adcp_task_webhook_trusted_certificate %%TESTDIR%%/empty.pem;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;
        location / {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
        }
    }
}
EOF
isnt($rc, 0, 'a file without a certificate: nginx -t fails');
like($out, qr/adcp_task_webhook_trusted_certificate "[^"]*empty\.pem" holds no certificate/,
    '... naming it');

$dns->stop();

done_testing();
