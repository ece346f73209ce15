#!/usr/bin/perl

# adcp_balancer with a host name that resolves to several addresses (issue
# 14), through nginx's resolver (a Perl DNS mock): balanced as an
# upstream{} with several servers is by nginx's round robin.  Successive
# requests take the addresses in turn; a request whose connect fails goes
# on to the next address (proxy_next_upstream) and the failed address is
# skipped for 10 s (max_fails=1 fail_timeout=10s), logged once; when every
# address fails, each was tried (502).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http_get);
use AdcpDnsMock;

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\.test$   $t;
    }

    map $adcp_tenant $descriptor {
        spread   '{"upstream":"spread.test:%%PORT_a%%"}';
        dead     '{"upstream":"dead.test:%%PORT_a%%"}';
        alldead  '{"upstream":"alldead.test:%%PORT_a%%"}';
    }

    upstream adcp_adapters {
        adcp_balancer;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:%%PORT_a%%;
        location / { return 200 'A'; }
    }

    server {
        listen 127.0.0.3:%%PORT_a%%;
        location / { return 200 'C'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;
        resolver 127.0.0.1:%%PORT_dns%% ipv6=off;

        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location /mcp {
            adcp on;
            add_header X-Upstream-Addr $upstream_addr always;
            proxy_pass http://adcp_adapters;
        }

        location = /_factory {
            internal;
            return 200 $descriptor;
        }
    }
}
EOF

my $dns = AdcpDnsMock->new($t->port('dns'), $t->testdir . '/dns.log',
    'spread.test' => ['127.0.0.1', '127.0.0.3'],
    'dead.test' => ['127.0.0.2', '127.0.0.1'],
    'alldead.test' => ['127.0.0.2', '127.0.0.4']);

$t->run();

my $port = $t->port('http');
my $ap = $t->port('a');

sub get { http_get($port, "$_[0].test", '/mcp') }

# both answer: in turn

my %by;
for (1 .. 20) {
    my $r = get('spread');
    $by{$r->{status} == 200 ? $r->{body} : "status $r->{status}"}++;
}
is_deeply(\%by, { A => 10, C => 10 },
    'two addresses: successive requests take them in turn (A '
    . ($by{A} // 0) . ', C ' . ($by{C} // 0) . ')');
is($t->count_lines('dns.log', 'spread.test 1'), 1, 'resolved once');

# one refuses: the request goes on to the other; the refusing one is then
# skipped

my @r = map { get('dead') } 1 .. 20;
is(scalar(grep { $_->{status} == 200 && $_->{body} eq 'A' } @r), 20,
    'one address refuses: every request answered by the other');
my @two = grep { ($_->{headers}{'x-upstream-addr'} // '') =~ /,/ } @r;
is(scalar @two, 1, 'one request met the refusing address');
is($two[0]{headers}{'x-upstream-addr'}, "127.0.0.2:$ap, 127.0.0.1:$ap",
    'and went on to the next one')
    if @two;
my $log = $t->read_file('error.log');
my @warn = $log =~ /\[warn\] .*adcp_balancer: tenant "dead": 127\.0\.0\.2:$ap of "dead\.test:$ap" failed, skipped for 10s/g;
is(scalar @warn, 1, 'the failed address is logged once');
my @refused = $log =~ /connect\(\) failed .* upstream: "http:\/\/127\.0\.0\.2:$ap/g;
is(scalar @refused, 1, 'and skipped for the next requests (one connect)');

# none answers: each tried, 502

for my $i (1, 2) {
    my $r = get('alldead');
    is($r->{status}, 502, "every address refuses: 502 ($i)");
    like($r->{headers}{'x-upstream-addr'} // '',
        qr/^127\.0\.0\.[24]:$ap, 127\.0\.0\.[24]:$ap$/,
        "both addresses tried ($i)");
}

$t->stop();
$dns->stop();

done_testing();
