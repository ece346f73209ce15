#!/usr/bin/perl

# /adcp/status?format=prometheus read by three parsers (issue 14): every
# family one group (HELP, TYPE, then all its samples), so Debian's
# python3-prometheus-client (prometheus_client.parser) reads each family
# once with its type, `promtool check metrics` (Debian's prometheus)
# accepts it, and so does the strict reader of t/lib/AdcpProm.pm; every
# family of the module is there (cache, zone, Redis, tasks, tenants) and
# agrees with the JSON.  ?tenants=0 leaves the per-tenant part out of
# both formats and nothing else.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http_get json_decode wait_for);
use AdcpMockFactory;
use AdcpProm;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $PY = '/usr/bin/python3';
my $have_py = system($PY, '-c', 'import prometheus_client.parser') == 0;
my $have_promtool = grep { -x "$_/promtool" } split /:/, $ENV{PATH};

my $t = AdcpTest->new;
$t->redis_start();

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\\.test\$   \$t;
        declared.example            declared;
    }

    adcp_redis             127.0.0.1:%%PORT_redis%%;
    adcp_redis_ping        1s;
    adcp_task_concurrency  0;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            adcp_async create_media_buy;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

$t->run();
my $port = $t->port('http');

ok(wait_for(sub { (json_decode(http_get($port, 'x', '/adcp/status')->{body})
    ->{redis}{state} // '') eq 'subscribed' }), 'Redis: subscribed');

# healthy, disabled, not found (disabled), and the declared one pending

http_get($port, "$_.test", '/mcp') for qw(pa pb pc fail-q nf-r pa pa);

sub status {
    my ($q) = @_;
    return http_get($port, 'x', "/adcp/status$q")->{body};
}

my $text = status('?format=prometheus');
my $json = json_decode(status(''));

# --- the strict reader ----------------------------------------------------

my @err = AdcpProm::errors($text);
ok(!@err, 'the strict reader accepts it') or diag(join "\n", @err);

my ($fam, $order) = AdcpProm::families($text);
my %want = (
    adcp_cache_hits_total => 'counter',
    adcp_builds_total => 'counter',
    adcp_build_duration_seconds => 'histogram',
    adcp_cache_size => 'gauge',
    adcp_cache_capacity => 'gauge',
    adcp_zone_recycled_total => 'counter',
    adcp_zone_full_total => 'counter',
    adcp_redis_connected => 'gauge',
    adcp_redis_messages_total => 'counter',
    adcp_tasks_accepted_total => 'counter',
    adcp_tasks_running => 'gauge',
    adcp_tenant_health => 'gauge',
    adcp_tenant_cached_workers => 'gauge',
    adcp_tenant_builds_total => 'counter',
    adcp_tenant_age_seconds => 'gauge',
);
is_deeply({ map { $_ => $fam->{$_}{type} } keys %want }, \%want,
    'every family of the module, with its type');
ok(!grep({ !defined $fam->{$_}{help} } @$order), 'each with a HELP');

my $tenants = keys %{$json->{tenants}};
is($tenants, 6, 'six tenants in the JSON');
is(scalar @{$fam->{adcp_tenant_health}{samples}}, $tenants,
    'adcp_tenant_health: a sample per tenant, in one group');
is(scalar @{$fam->{adcp_tenant_builds_total}{samples}}, $tenants,
    'adcp_tenant_builds_total: a sample per tenant');
is(scalar @{$fam->{adcp_tenant_age_seconds}{samples}},
    scalar(grep { defined $_->{age} } values %{$json->{tenants}}),
    'adcp_tenant_age_seconds: a sample per tenant built');
my %health = map { $_->[1] =~ /tenant="([^"]+)",state="([^"]+)"/ }
    @{$fam->{adcp_tenant_health}{samples}};
is_deeply(\%health, { map { $_ => $json->{tenants}{$_}{health} }
    keys %{$json->{tenants}} }, 'tenant health agrees with the JSON');
is_deeply([sort values %health],
    [qw(disabled disabled healthy healthy healthy pending)],
    'healthy, disabled and pending tenants');
is($fam->{adcp_cache_hits_total}{samples}[0][2], $json->{cache}{hits},
    'hits agree with the JSON');

# --- python3-prometheus-client --------------------------------------------

SKIP: {
    skip "$PY has no prometheus_client (Debian python3-prometheus-client)", 4
        unless $have_py;

    my $file = $t->write_file('metrics.txt', $text);
    my $out = `$PY - '$file' 2>&1 <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    print(f.name, f.type, len(f.samples))
PY`;
    is($?, 0, 'prometheus_client parses it') or diag($out);

    my @py = map { [split / /] } split /\n/, $out;
    my %seen;
    my @twice = grep { $seen{$_->[0]}++ } @py;
    is(scalar @twice, 0, 'prometheus_client: each family once')
        or diag(join "\n", map { "@$_" } @twice);
    is(scalar(grep { $_->[1] eq 'unknown' } @py), 0,
        'prometheus_client: no untyped family');

    # the Python client names a counter family without _total
    my %py = map { $_->[0] => $_->[2] } @py;
    my %pl = map {
        my $n = $fam->{$_}{type} eq 'counter' ? s/_total$//r : $_;
        ($n => scalar @{$fam->{$_}{samples}})
    } @$order;
    is_deeply(\%py, \%pl,
        'prometheus_client reads the same families and samples');
}

# --- promtool -------------------------------------------------------------

SKIP: {
    skip 'no promtool (Debian prometheus)', 1 unless $have_promtool;

    my $file = $t->write_file('metrics.txt', $text);
    my $out = `promtool check metrics < '$file' 2>&1`;
    ok($? == 0 && $out eq '', 'promtool check metrics: no problem')
        or diag($out);
}

# --- ?tenants=0 -----------------------------------------------------------

my $short = status('?format=prometheus&tenants=0');
@err = AdcpProm::errors($short);
ok(!@err, '?tenants=0: the strict reader accepts it') or diag(join "\n", @err);
unlike($short, qr/^(# \w+ )?adcp_tenant_/m, '?tenants=0: no per-tenant family');
(my $rest = $text) =~ s/^(# \w+ )?adcp_tenant_.*\n//mg;
is($short, $rest, '?tenants=0: everything else as it was');

my $j0 = json_decode(status('?tenants=0'));
ok($j0 && !exists $j0->{tenants}, '?tenants=0: JSON without "tenants"');
delete $json->{tenants};
is_deeply($j0, $json, '?tenants=0: the JSON otherwise the same');

$t->stop();

done_testing();
