#!/usr/bin/perl

# adcp_balancer: a constant proxy_pass to an upstream{} whose peer is each
# request's platform upstream.  Peers per tenant, routes, keep-alive reuse
# counted at the adapter, delegation to an upstream{} block (round robin,
# a dead server skipped), a dead address, a host name resolved once per
# platform by nginx's resolver (a Perl DNS mock), a host name without a
# resolver, a location without adcp, and the directive's configuration
# errors.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get http_post_json json_decode json_encode mcp
    free_port);
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
        ta      '{"upstream":"127.0.0.1:%%PORT_a%%"}';
        tb      '{"upstream":"127.0.0.1:%%PORT_b%%"}';
        troute  '{"upstream":"127.0.0.1:%%PORT_a%%","routes":{"create_media_buy":"127.0.0.1:%%PORT_b%%"}}';
        tpair   '{"upstream":"pair"}';
        thalf   '{"upstream":"half"}';
        tdead   '{"upstream":"127.0.0.1:%%PORT_dead%%"}';
        tname   '{"upstream":"adapter-b.test:%%PORT_b%%"}';
        tnores  '{"upstream":"adapter-b.test:%%PORT_b%%"}';
        tunk    '{"upstream":"unknown.test:%%PORT_b%%"}';
        tself   '{"upstream":"adcp_adapters"}';
        default '{"upstream":"127.0.0.1:%%PORT_a%%"}';
    }

    upstream adcp_adapters {
        adcp_balancer;
        keepalive 8;
    }

    upstream pair {
        server 127.0.0.1:%%PORT_a%%;
        server 127.0.0.1:%%PORT_b%%;
    }

    upstream half {
        server 127.0.0.1:%%PORT_dead%%;
        server 127.0.0.1:%%PORT_a%%;
        keepalive 4;     # its own pool, inside adcp_adapters' one
    }

    server {
        listen 127.0.0.1:%%PORT_a%%;
        keepalive_requests 1000;
        location / {
            return 200 'A $connection $connection_requests $http_x_tenant\n';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_b%%;
        keepalive_requests 1000;
        location / {
            return 200 'B $connection $connection_requests $http_x_tenant\n';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;

        adcp_factory /_factory;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Tenant $adcp_tenant;

        location /mcp {
            adcp on;
            add_header X-Upstream-Addr $upstream_addr always;
            proxy_pass http://adcp_adapters;
        }

        location /dns {
            adcp on;
            resolver 127.0.0.1:%%PORT_dns%% ipv6=off;
            resolver_timeout 3s;
            proxy_pass http://adcp_adapters;
        }

        location /plain {
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
    'adapter-b.test' => '127.0.0.1');

$t->run();

my $port = $t->port('http');

sub get {
    my ($tenant, $uri) = @_;
    return http_get($port, "$tenant.test", $uri // '/mcp');
}

sub tool {
    my ($tenant, $task) = @_;
    return http_post_json($port, "$tenant.test", '/mcp',
        mcp(1, $task, {}));
}
# peers per tenant

my $r = get('ta');
is($r->{status}, 200, 'tenant a: 200');
like($r->{body}, qr/^A \d+ \d+ ta$/, 'tenant a reaches adapter A');
is($r->{headers}{'x-upstream-addr'}, '127.0.0.1:' . $t->port('a'),
    '$upstream_addr names the peer');

$r = get('tb');
like($r->{body}, qr/^B \d+ \d+ tb$/, 'tenant b reaches adapter B');

$r = get('ta');
like($r->{body}, qr/^A /, 'tenant a again: adapter A');

# routes

like(tool('troute', 'get_products')->{body}, qr/^A /,
    'a task without a route: the upstream');
like(tool('troute', 'create_media_buy')->{body}, qr/^B /,
    'a routed task: its route');
like(get('troute')->{body}, qr/^A /, 'GET: the upstream');

# keep-alive: 20 requests of two tenants over pooled connections

my (%conns, $ok);

for my $i (1 .. 20) {
    my $tenant = $i % 2 ? 'ta' : 'tb';
    my $b = get($tenant)->{body};
    $ok++ if $b =~ /^([AB]) (\d+) \d+ $tenant$/;
    $conns{"$1 $2"}++ if defined $1;
}

is($ok, 20, '20 answers from the right adapters');
my %per = (A => 0, B => 0);
$per{(split / /)[0]}++ for keys %conns;
ok($per{A} <= 2 && $per{B} <= 2,
    "keep-alive: $per{A} connection(s) to A, $per{B} to B for 20 requests")
    or diag(join ', ', sort keys %conns);

# an upstream{} block: its round robin, and a dead server skipped

my %seen;
$seen{substr(get('tpair')->{body}, 0, 1)}++ for 1 .. 6;
is_deeply(\%seen, { A => 3, B => 3 }, 'upstream{} pair: round robin');

my $all = 1;
for (1 .. 4) {
    my $h = get('thalf');
    $all = 0 unless $h->{status} == 200 && $h->{body} =~ /^A /;
}
ok($all, 'upstream{} with a dead server: next upstream reaches the live one');

# a dead address

$r = get('tdead');
is($r->{status}, 502, 'a dead peer: 502');

# a host name, resolved once per platform

$r = get('tname', '/dns');
is($r->{status}, 200, 'host name: 200');
like($r->{body}, qr/^B /, 'host name: resolved to adapter B');
get('tname', '/dns') for 1 .. 3;
is($t->count_lines('dns.log', 'adapter-b.test 1'), 1,
    'host name: resolved once for 4 requests');

$r = get('tunk', '/dns');
is($r->{status}, 503, 'unknown host name: 503');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
    'unknown host name: SERVICE_UNAVAILABLE');

$r = get('tnores', '/mcp');
is($r->{status}, 503, 'host name without a resolver: 503');
is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
    'host name without a resolver: SERVICE_UNAVAILABLE');

# a platform naming the balancer itself; a location without adcp

is(get('tself')->{status}, 502, 'a platform naming adcp_balancer: 502');
is(get('ta', '/plain')->{status}, 502, 'no adcp in the location: 502');

$t->stop();

my $log = $t->read_file('error.log');
like($log, qr/adapter-b\.test:\d+" is a host name and no "resolver"/,
    'no resolver: logged');
like($log, qr/unknown\.test" could not be resolved/, 'NXDOMAIN: logged');
like($log, qr/the request has no platform/, 'no platform: logged');
like($log, qr/names the adcp_balancer upstream "adcp_adapters"/,
    'naming the balancer: logged');

$dns->stop();

# configuration errors

my $c = AdcpTest->new;
my $conf = <<'EOF';
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    upstream u {
        BODY
    }
    server { listen 127.0.0.1:%%PORT_x%%; location / { proxy_pass http://u; } }
}
EOF

my %bad = (
    'keepalive 8; adcp_balancer;' => qr/must be the first balancing/,
    'hash $uri; adcp_balancer;' => qr/must be the first balancing/,
    'adcp_balancer; adcp_balancer;' => qr/must be the first balancing/,
    'adcp_balancer; server 127.0.0.1:1;' => qr/takes no "server"/,
    'adcp_balancer; zone z 64k;' => qr/does not take "zone"/,
    'adcp_balancer x;' => qr/invalid number of arguments/,
);

for my $body (sort keys %bad) {
    (my $text = $conf) =~ s/BODY/$body/;
    my ($rc, $out) = $c->test_config($text);
    isnt($rc, 0, "nginx -t refuses: $body");
    like($out, $bad{$body}, "... saying so: $body");
}

(my $text = $conf) =~ s/BODY/adcp_balancer; keepalive 8;/;
my ($rc, $out) = $c->test_config($text);
is($rc, 0, 'adcp_balancer; keepalive 8; is accepted') or diag($out);

done_testing();
