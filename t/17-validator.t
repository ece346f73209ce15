#!/usr/bin/perl

# adcp_validator: a subrequest after each build, with the fresh
# descriptor in its variables; a refusal disables the tenant; each health
# transition of SPEC section 4 on recheck.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get json_decode wait_for append_line);
use AdcpMockFactory;

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
worker_processes 1;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    log_format validator '$adcp_tenant $adcp_upstream $adcp_platform_build';

    adcp_tenants {
        v-ok.test     v-ok;
        v-bad.test    v-bad;
        v-flip.test   v-flip;
        v-ok2.test    v-ok2;
    }

    adcp_failure_ttl   1h;
    adcp_stale_if_error 1h;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory    /_factory;
        adcp_validator  /_validate;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            add_header X-Health $adcp_health always;
            proxy_pass http://$adcp_upstream;
        }

        location = /_factory {
            internal;
            proxy_pass_request_headers off;
            proxy_pass http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant;
        }

        location = /_validate {
            internal;
            log_subrequest on;
            access_log %%TESTDIR%%/validator.log validator;
            if (-f %%TESTDIR%%/refuse-$adcp_tenant) {
                return 403;
            }
            return 204;
        }

        # a validator that redirects internally (try_files to a named
        # location) still sees the platform it validates

        location /redir {
            adcp on;
            adcp_validator /_validate_redir;
            proxy_pass http://$adcp_upstream;
        }

        location = /_validate_redir {
            internal;
            try_files /nonexistent @validate2;
        }

        location @validate2 {
            log_subrequest on;
            access_log %%TESTDIR%%/validator2.log validator;
            if ($adcp_upstream = "") {
                return 403;
            }
            return 204;
        }

        location = /adcp/status { adcp_status; }
        location = /adcp/admin { adcp_admin; }
    }
}
EOF

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

$t->run();

my $port = $t->port('http');
my $dir = $t->testdir;

sub get { http_get($port, "$_[0].test", '/mcp') }
sub health { (json_decode(http_get($port, 'x', '/adcp/status')->{body})
    // {})->{tenants}{$_[0]}{health} // '' }
sub recheck {
    http($port, "POST /adcp/admin?recheck=$_[0] HTTP/1.1\r\nHost: x\r\n"
        . "Content-Length: 0\r\nConnection: close\r\n\r\n");
}
sub validated { scalar grep { /^\Q$_[0]\E / } split /\n/, $t->read_file('validator.log') }
sub refuse { append_line("$dir/refuse-$_[0]", 'x') }
sub accept_ { unlink "$dir/refuse-$_[0]" }
sub code { my $r = shift; $r->{headers}{'x-adcp-error'} // '' }

# --- pending -> healthy: the validator sees the fresh descriptor ----------

is(health('v-ok'), 'pending', 'v-ok: pending before any request');
my $r = get('v-ok');
is($r->{status}, 200, 'v-ok: served after factory and validator');
is($r->{headers}{'x-health'}, 'healthy', 'v-ok: healthy');
my ($line) = grep { /^v-ok / } split /\n/, $t->read_file('validator.log');
my $adapter = $t->port('adapter');
like($line // '', qr/^v-ok 127\.0\.0\.1:$adapter 1$/,
    'the validator got the tenant, the upstream and the vars of the build');
is(get('v-ok')->{headers}{'x-cache'}, 'HIT', 'then a HIT, no validation');
is(validated('v-ok'), 1, 'validated once');

# --- pending -> disabled: a refusal -------------------------------------

refuse('v-bad');
$r = get('v-bad');
is($r->{status}, 503, 'v-bad: refused by the validator: 503');
is(code($r), 'SERVICE_UNAVAILABLE', 'v-bad: SERVICE_UNAVAILABLE');
ok(($r->{headers}{'retry-after'} // 0) > 0, 'v-bad: Retry-After');
is(health('v-bad'), 'disabled', 'v-bad: disabled');
is(get('v-bad')->{status}, 503, 'v-bad: still refused');
is($t->count_lines('factory.calls', 'v-bad'), 1,
    'v-bad: no second factory call within the failure TTL');
is(validated('v-bad'), 1, 'v-bad: validated once');

# --- recheck: healthy -> healthy -----------------------------------------

is(get('v-flip')->{status}, 200, 'v-flip: built');
is(health('v-flip'), 'healthy', 'v-flip: healthy');
recheck('v-flip');
$r = get('v-flip');
is($r->{status}, 200, 'recheck ok: served');
is(health('v-flip'), 'healthy', 'recheck ok: healthy -> healthy');
is($t->count_lines('factory.calls', 'v-flip'), 2, 'recheck ok: rebuilt');
is(validated('v-flip'), 2, 'recheck ok: validated again');

# --- recheck: healthy -> unverified, the old platform serving ------------

refuse('v-flip');
recheck('v-flip');
$r = get('v-flip');
is($r->{status}, 200, 'recheck refused from healthy: still served');
is($r->{headers}{'x-cache'}, 'STALE', 'recheck refused: STALE');
is(health('v-flip'), 'unverified', 'recheck refused: healthy -> unverified');
is(get('v-flip')->{status}, 200, 'unverified: served');

# --- recheck: unverified -> healthy --------------------------------------

accept_('v-flip');
recheck('v-flip');
$r = get('v-flip');
is($r->{status}, 200, 'recheck ok from unverified: served');
is(health('v-flip'), 'healthy', 'recheck ok: unverified -> healthy');

# --- recheck: unverified -> disabled -------------------------------------

refuse('v-flip');
recheck('v-flip');
is(get('v-flip')->{status}, 200, 'healthy -> unverified again');
is(health('v-flip'), 'unverified', 'unverified');
recheck('v-flip');
$r = get('v-flip');
is($r->{status}, 503, 'recheck refused from unverified: refused');
is(code($r), 'SERVICE_UNAVAILABLE', 'SERVICE_UNAVAILABLE');
is(health('v-flip'), 'disabled', 'recheck refused: unverified -> disabled');
is(get('v-flip')->{status}, 503, 'disabled: the old platform is not served');

# --- recheck: disabled -> healthy ----------------------------------------

accept_('v-flip');
recheck('v-flip');
$r = get('v-flip');
is($r->{status}, 200, 'recheck ok from disabled: served');
is(health('v-flip'), 'healthy', 'recheck ok: disabled -> healthy');

accept_('v-bad');
recheck('v-bad');
is(get('v-bad')->{status}, 200, 'v-bad accepted on recheck: served');
is(health('v-bad'), 'healthy', 'v-bad: disabled -> healthy');

# --- a validator location that redirects internally ----------------------

$r = http_get($port, 'v-ok2.test', '/redir');
is($r->{status}, 200, 'a redirecting validator sees the upstream: served');
like($t->read_file('validator2.log'), qr/^v-ok2 127\.0\.0\.1:$adapter 1$/m,
    'after the redirect: the tenant, the upstream and the vars');

$t->stop();

done_testing();
