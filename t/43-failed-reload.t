#!/usr/bin/perl

# A reload that fails after http{} was parsed (a bad directive after the
# block) leaves the master's filter chain as that configuration built it;
# a worker the master respawns later (one that crashed) runs the old
# configuration with that chain.  The factory's capture filter and
# adcp_error_pages' filters must still be there: a new tenant is built
# (the factory's body read), an adapter that is down is still an AdCP
# SERVICE_UNAVAILABLE.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http_get json_decode wait_for);
use AdcpMockFactory;

plan skip_all => 'reloads need a master process (not under valgrind)'
    if AdcpTest::valgrind();

my $t = AdcpTest->new;

my $http = <<'EOF';
    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        %%FACTORY%%

        location /mcp {
            adcp on;
            proxy_pass http://$adcp_upstream;
        }

        location /down {
            adcp on;
            %%ERROR_PAGES%%
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }

        %%FACTORY_LOCATION%%
    }
EOF

sub conf {
    my ($adcp, $after) = @_;
    my $h = $http;
    $h =~ s/%%FACTORY%%/$adcp ? 'adcp_factory \/_factory;' : ''/e;
    $h =~ s/%%ERROR_PAGES%%/$adcp ? 'adcp_error_pages on;' : ''/e;
    return "%%TEST_GLOBALS%%\nworker_processes 1;\nevents {}\n"
        . "http {\n    %%TEST_GLOBALS_HTTP%%\n$h}\n$after\n";
}

$t->write_file_expand('nginx.conf', conf(1, ''));

$t->mock($t->port('factory'), AdcpMockFactory::handler(
    counter => $t->testdir . '/factory.calls',
    adapter => $t->port('adapter')));

$t->run();

my $port = $t->port('http');
my $master = $t->{pid};

sub workers {
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $ppid) = (scalar <$fh> // '') =~ /^(\d+) \(.*\) \S (\d+)/
            or next;
        push @w, $pid if $ppid == $master;
    }
    return @w;
}

sub down_is_adcp {
    my ($name) = @_;
    my $r = http_get($port, 'r-1.test', '/down');
    is($r->{headers}{'x-adcp-error'}, 'SERVICE_UNAVAILABLE',
        "$name: an adapter down is SERVICE_UNAVAILABLE");
}

is(http_get($port, 'r-1.test', '/mcp')->{status}, 200, 'a tenant built');
down_is_adcp('before');

# the same http{} without adcp_factory or adcp_error_pages, a bad
# directive after it: the reload fails once http{} is done

$t->write_file_expand('nginx.conf', conf(0, 'worker_rlimit_nofile x;'));
$t->{expect_alert} = qr/invalid number|exited on signal 9/;

my @old = workers();
is(scalar @old, 1, 'one worker');

$t->reload();
ok(wait_for(sub { $t->read_file('error.log') =~ /invalid number/ }),
    'the reload failed');

is(http_get($port, 'r-1.test', '/mcp')->{status}, 200,
    'the old worker serves on');

# a crash: the master starts a worker of the configuration it runs

kill 'KILL', @old;
ok(wait_for(sub { my @w = workers(); @w == 1 && $w[0] != $old[0] }),
    'a new worker');
ok(wait_for(sub { (http_get($port, 'r-1.test', '/mcp')->{status} // 0)
    == 200 }), 'the new worker serves');

is(http_get($port, 'r-2.test', '/mcp')->{status}, 200,
    'a new tenant built by the respawned worker');
down_is_adcp('respawned worker');

$t->stop();

done_testing();
