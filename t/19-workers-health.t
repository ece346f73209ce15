#!/usr/bin/perl

# Health across two workers: a worker that holds an old platform keeps
# serving it whichever worker's rebuild fails; one failed recheck from
# healthy leaves the tenant unverified, whichever worker retries after the
# failure TTL (the recheck is answered once per host, not once per worker).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_parallel get_raw json_decode wait_for
    append_line);
use AdcpMockFactory;

plan skip_all => 'two workers need a master process (not under valgrind)'
    if AdcpTest::valgrind();

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_cache_ttl 1s;
    adcp_failure_ttl 500ms 500ms;
    adcp_stale_if_error 1h;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            add_header X-Pid $pid always;
            proxy_pass http://$adcp_upstream;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }

        location = /adcp/status { adcp_status; }
        location = /adcp/admin { adcp_admin; }
    }
}
EOF

my $counter = $t->testdir . '/factory.calls';
$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $counter, adapter => $t->port('adapter')));
$t->run();

my $port = $t->port('http');

sub health { (json_decode(http_get($port, 'x', '/adcp/status')->{body})
    // {})->{tenants}{$_[0]}{health} // '' }

# a request answered by the worker $pid (or, with $not, by another one)

sub from {
    my ($tenant, $pid, $not) = @_;
    for (1 .. 100) {
        for (http_parallel($port, map { get_raw("$tenant.test", '/mcp') } 1 .. 4)) {
            my $p = $_->{headers}{'x-pid'} // next;
            return $_ if $not ? $p ne $pid : $p eq $pid;
        }
    }
    return {};
}

# --- a rebuild fails in the worker without an old platform ----------------

my $a = http_get($port, 'st-a.test', '/mcp');
is($a->{status}, 200, 'st-a built in one worker');
my $pa = $a->{headers}{'x-pid'};
append_line("$counter.fail-st-a", 'x');
my $t0 = time();
ok(wait_for(sub { time() - $t0 > 1.1 }, 5), 'the cache ttl passes');

my $b = from('st-a', $pa, 1);
is($b->{status}, 503, 'the other worker, nothing to serve: 503');
my $r = from('st-a', $pa);
is($r->{status}, 200, 'the worker with the old platform still serves it');
is($r->{headers}{'x-cache'}, 'STALE', 'STALE');

# --- one failed recheck from healthy, retried in another worker ------------

my %pids;
for (1 .. 60) {
    $pids{$_->{headers}{'x-pid'} // '?'}++
        for grep { $_->{status} == 200 }
            http_parallel($port, map { get_raw('rc-a.test', '/mcp') } 1 .. 8);
    last if keys %pids >= 2;
}
is(scalar keys %pids, 2, 'rc-a cached in both workers');
append_line("$counter.fail-rc-a", 'x');
http($port, "POST /adcp/admin?recheck=rc-a HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 0\r\nConnection: close\r\n\r\n");

$r = http_get($port, 'rc-a.test', '/mcp');
is($r->{status}, 200, 'the failed recheck: served');
is(health('rc-a'), 'unverified', 'healthy -> unverified');

$t0 = time();
ok(wait_for(sub { time() - $t0 > 0.7 }, 5), 'the failure TTL passes');
my $o = from('rc-a', $r->{headers}{'x-pid'}, 1);
is($o->{status}, 200, 'the other worker retries: served');
is($o->{headers}{'x-cache'}, 'STALE', 'by its old platform');
is(health('rc-a'), 'unverified', 'still unverified, not disabled');

$t->stop();

done_testing();
