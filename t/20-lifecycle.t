#!/usr/bin/perl

# nginx -s reload under load, with builds in flight: every request is
# answered with a 200 from the tenant's adapter or a well-formed AdCP
# error, nothing crashes.  A worker killed with SIGKILL: the master starts
# another, which builds cold and serves.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http_get json_decode get_raw post_raw wait_for);
use AdcpMockFactory;

plan skip_all => 'reloads and workers need a master process'
    if AdcpTest::valgrind();

my $conf = <<'EOF';
%%TEST_GLOBALS%%
worker_processes %%WORKERS%%;
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"tenant":"$http_x_tenant"}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            proxy_set_header X-Tenant $adcp_tenant;
            proxy_pass http://$adcp_upstream;
        }

        %%FACTORY_LOCATION%%
    }
}
EOF

sub start {
    my ($workers) = @_;
    my $t = AdcpTest->new;
    (my $c = $conf) =~ s/%%WORKERS%%/$workers/;
    $t->write_file_expand('nginx.conf', $c);
    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));
    return $t->run();
}

# requests sent now, answers read later

sub send_all {
    my ($port, @raws) = @_;
    return map {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Proto => 'tcp') or die "connect: $!";
        binmode $s;
        syswrite($s, $_);
        $s;
    } @raws;
}

sub read_all {
    my (@socks) = @_;
    my %buf = map { $_ => '' } 0 .. $#socks;
    my %idx = map { fileno($socks[$_]) => $_ } 0 .. $#socks;
    my $sel = IO::Select->new(@socks);
    my $deadline = time() + 30;
    while ($sel->count && time() < $deadline) {
        for my $s ($sel->can_read($deadline - time())) {
            my $n = sysread($s, my $b, 65536);
            if ($n) {
                $buf{$idx{fileno $s}} .= $b;
            } else {
                $sel->remove($s);
                close $s;
            }
        }
    }
    return map { AdcpTest::parse_response($buf{$_}) } 0 .. $#socks;
}

# a 200 from the tenant's own adapter, or a well-formed AdCP error

sub answered {
    my ($r, $tenant) = @_;
    my $j = json_decode($r->{body} // '') or return 0;
    return 1 if ($r->{status} // 0) == 200 && ($j->{tenant} // '') eq $tenant;
    return 1 if $r->{headers}{'x-adcp-error'}
        && ref $j eq 'HASH' && ref $j->{adcp_error} eq 'HASH'
        && $j->{adcp_error}{code} eq $r->{headers}{'x-adcp-error'};
    return 0;
}

# --- reload under load ----------------------------------------------------------

my $t = start(2);
my $port = $t->port('http');

is(http_get($port, 'hot.test', '/mcp')->{status}, 200, 'a warm tenant');

my ($total, $good, $ok200) = (0, 0, 0);

for my $round (1 .. 3) {
    my @tenants = ((map { "slow-r$round-$_" } 1 .. 6),
        (map { "cold-r$round-$_" } 1 .. 6), ('hot') x 8);
    my @raws = map {
        $_ =~ /^cold/
            ? post_raw("$_.test", '/mcp', '{"jsonrpc":"2.0","id":1,'
                . '"method":"tools/call","params":{"name":"get_products"}}')
            : get_raw("$_.test", '/mcp')
    } @tenants;

    my @socks = send_all($port, @raws);

    # slow builds (1 s) are in flight when the reload comes

    ok(wait_for(sub { $t->count_lines('factory.calls') >= 6 * $round }),
        "round $round: builds in flight");

    $t->reload();

    # and more requests arrive while the workers change

    my @more = map { "after-r$round-$_" } 1 .. 8;
    push @socks, send_all($port, map { get_raw("$_.test", '/mcp') } @more);
    push @tenants, @more;

    my @answers = read_all(@socks);

    for my $i (0 .. $#answers) {
        $total++;
        $good++ if answered($answers[$i], $tenants[$i]);
        $ok200++ if ($answers[$i]{status} // 0) == 200;
        diag("round $round, $tenants[$i]: " . ($answers[$i]{raw} // ''))
            unless answered($answers[$i], $tenants[$i]);
    }

    ok(wait_for(sub { my @r = $t->read_file('error.log')
        =~ /signal 1 \(SIGHUP\) received/g; @r == $round }), "round $round: reloaded");
}

is($good, $total, "reload under load: all $total requests answered well");
is($ok200, $total, "reload under load: all of them 200");
unlike($t->read_file('error.log'), qr/exited on signal|\[crit\]/,
    'no worker crashed');

is(json_decode(http_get($port, 'final.test', '/mcp')->{body})->{tenant},
    'final', 'served after the reloads');

# a reload with a configuration that fails after adcp_tenants was read:
# the old one keeps serving, and nothing of the new one stays allocated in
# the master (checked when it exits, under ASan)

my $good_conf = $t->read_file('nginx.conf');
(my $bad = $good_conf) =~ s/(    server \{\n        listen 127\.0\.0\.1:\d+;\n        adcp_factory)/    no_such_directive;\n\n$1/
    or die 'no place for the bad directive';
$t->write_file('nginx.conf', $bad);
$t->{expect_alert} = qr/unknown directive "no_such_directive"/;

for my $i (1 .. 3) {
    $t->reload();
    ok(wait_for(sub { my @e = $t->read_file('error.log')
        =~ /unknown directive "no_such_directive"/g; @e == $i }),
        "failed reload $i: refused");
}

$t->write_file("nginx.conf", $good_conf);
is(json_decode(http_get($port, 'final.test', '/mcp')->{body})->{tenant},
    'final', 'served after the failed reloads');

$t->stop();

# --- a worker killed -----------------------------------------------------------

$t = start(1);
$t->{expect_alert} = qr/worker process \d+ exited on signal 9/;
$port = $t->port('http');

sub workers {
    my $master = $t->{pid};
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @w, $pid if $ppid == $master && $pid != $master
            && (readlink("/proc/$pid/exe") // '') eq readlink("/proc/$master/exe");
    }
    return @w;
}

my $r = http_get($port, 'k1.test', '/mcp');
is($r->{headers}{'x-cache'}, 'MISS', 'kill: built');
is(http_get($port, 'k1.test', '/mcp')->{headers}{'x-cache'}, 'HIT',
    'kill: cached');

my @before = workers();
is(scalar @before, 1, 'kill: one worker');
kill 'KILL', @before;

ok(wait_for(sub { my @w = workers(); @w == 1 && $w[0] != $before[0] }),
    'kill: the master started another worker');

$r = http_get($port, 'k1.test', '/mcp');
is($r->{status}, 200, 'kill: the new worker serves');
is($r->{headers}{'x-cache'}, 'SHARED',
    'kill: cold, it takes the platform from the host\'s store');
is(json_decode($r->{body})->{tenant}, 'k1', 'kill: by the tenant\'s adapter');
is(http_get($port, 'k1.test', '/mcp')->{headers}{'x-cache'}, 'HIT',
    'kill: then cached');
is($t->count_lines('factory.calls', 'k1'), 1,
    'kill: one build in all (a respawned worker costs no factory call)');

$t->stop();

done_testing();
