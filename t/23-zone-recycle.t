#!/usr/bin/perl

# A regex tenant rule facing a stream of distinct tenants (issue 21): the
# smallest zone (adcp_zone_size 256k), a 64-entry cache, 12,000 tenants
# t0.example.com .. t11999.example.com one after another over keep-alive
# connections.  Every request is answered 200 through the adapter with its
# own tenant's platform; recycling the slots of old tenants is normal
# operation: no [crit] or [alert] line (the slab pool's own "no memory"
# message), zone.recycled counts exactly the slots recycled (JSON and
# Prometheus), a notice at most once a minute; a tenant recycled out and
# requested again is built again, correctly.  With 1 worker, then 2 with
# the tenants spread over both.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use AdcpTest qw(http_get json_decode);

my $N = 12000;

sub gateway {
    my ($workers) = @_;

    my $t = AdcpTest->new;
    my $reuseport = $workers > 1 ? 'reuseport' : '';

    # the factory and the adapter are nginx itself: 12,000 builds in a
    # few seconds; the factory's access log counts its calls per tenant

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>t[0-9]+)\\.example\\.com\$   \$t;
    }

    adcp_zone_size 256k;
    adcp_cache_size 64;

    log_format factory '\$who';

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        access_log off;
        location / { return 200 '\$http_x_tenant \$http_x_who\\n'; }
    }

    server {
        listen 127.0.0.1:%%PORT_factory%%;

        location ~ ^/platforms/(?<who>t[0-9]+)\$ {
            access_log %%TESTDIR%%/factory.log factory;
            return 200 '{"upstream":"127.0.0.1:%%PORT_adapter%%",
                         "vars":{"who":"\$who"}}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% $reuseport;
        access_log off;
        keepalive_requests 100000;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            add_header X-Pid \$pid always;
            proxy_set_header X-Tenant \$adcp_tenant;
            proxy_set_header X-Who \$adcp_platform_who;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
    }
}
EOF

    return $t->run();
}

sub connect_to {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp', Timeout => 5) or die "connect $port: $!";
    binmode $s;
    return $s;
}

# one keep-alive connection: the requests pipelined a batch at a time;
# the parsed answers, in order

sub pipeline {
    my ($s, @raws) = @_;
    my (@out, $buf);

    my $sel = IO::Select->new($s);
    my $deadline = time() + 60 * AdcpTest::slow();

    while (my @batch = splice @raws, 0, 32) {
        my $req = join '', @batch;
        my $off = 0;
        while ($off < length $req) {
            my $n = syswrite($s, $req, length($req) - $off, $off);
            die "write: $!" unless defined $n;
            $off += $n;
        }

        $buf //= '';
        my $want = @out + @batch;

        while (@out < $want) {
            if ($buf =~ /\A(.*?\r\n\r\n)/s) {
                my $head = $1;
                my ($len) = $head =~ /^Content-Length: (\d+)\r$/mi;
                die "no Content-Length:\n$head" unless defined $len;
                if (length($buf) >= length($head) + $len) {
                    push @out, AdcpTest::parse_response(substr($buf, 0,
                        length($head) + $len, ''));
                    next;
                }
            }
            die "timed out after " . scalar(@out) . " answers"
                unless $sel->can_read($deadline - time());
            my $n = sysread($s, my $b, 65536);
            die "connection closed after " . scalar(@out) . " answers"
                unless $n;
            $buf .= $b;
        }
    }

    return @out;
}

sub get_ka {
    my ($i) = @_;
    return "GET /mcp HTTP/1.1\r\nHost: t$i.example.com\r\n\r\n";
}

sub status {
    my ($t, $query) = @_;
    return http_get($t->port('http'), 'x', '/adcp/status' . ($query // ''));
}

for my $workers (1, 2) {
    SKIP: {
    skip 'one process under valgrind', 16
        if $workers > 1 && AdcpTest::valgrind();

    my $t = gateway($workers);
    my $w = "$workers worker" . ($workers > 1 ? 's' : '');
    my $port = $t->port('http');

    # a keep-alive connection to each worker (reuseport hashes each
    # connection to one): tenant i goes to connection i % workers

    my (@conns, %pid);
    for (1 .. 64) {
        last if @conns == $workers;
        my $s = connect_to($port);
        my ($r) = pipeline($s, "GET /mcp HTTP/1.1\r\nHost: x\r\n\r\n");
        my $p = $r->{headers}{'x-pid'};
        next if !defined $p || $pid{$p}++;
        push @conns, $s;
    }
    is(scalar @conns, $workers, "$w: a connection to each worker");

    my $t0 = time();
    my @answers;
    my @per = map { [] } @conns;
    push @{$per[$_ % @conns]}, $_ for 0 .. $N - 1;
    my @got = map { [pipeline($conns[$_], map { get_ka($_) } @{$per[$_]})] }
        0 .. $#conns;
    for my $c (0 .. $#conns) {
        $answers[$per[$c][$_]] = $got[$c][$_] for 0 .. $#{$per[$c]};
    }
    my $elapsed = time() - $t0;

    my @bad = grep { $answers[$_]{status} != 200
        || $answers[$_]{body} ne "t$_ t$_\n"
        || $answers[$_]{headers}{'x-cache'} ne 'MISS' } 0 .. $N - 1;
    is(scalar @bad, 0, "$w: $N distinct tenants: each 200 through the "
        . "adapter with its own platform, a MISS") or diag(join "\n",
        map { "t$_: $answers[$_]{status} $answers[$_]{headers}{'x-cache'} "
            . $answers[$_]{body} } @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    my %by = map { $_->{headers}{'x-pid'} => 1 } @answers;
    is(scalar keys %by, $workers, "$w: served by every worker");
    diag(sprintf "%s: %d requests in %.1f s", $w, $N, $elapsed)
        if $ENV{TEST_VERBOSE};

    my $s = json_decode(status($t)->{body});
    my $slots = keys %{$s->{tenants}};
    ok($slots > 100 && $slots < 2000,
        "$w: the 256k zone holds $slots tenants");
    is($s->{zone}{recycled}, $N - $slots,
        "$w: zone.recycled counts every slot recycled ($s->{zone}{recycled})");
    is($s->{zone}{full}, 0, "$w: no tenant went without a slot");
    ok(!exists $s->{tenants}{t0} && exists $s->{tenants}{'t' . ($N - 1)},
        "$w: the least recently used went first");

    # a tenant recycled out, requested again: built again, correctly

    my ($r) = pipeline($conns[0], get_ka(0));
    is($r->{status}, 200, "$w: t0 again: 200");
    is($r->{body}, "t0 t0\n", "$w: t0 again: its own platform");
    is($r->{headers}{'x-cache'}, 'MISS', "$w: t0 again: built again");
    my @calls = grep { $_ eq 't0' } split /\n/, $t->read_file('factory.log');
    is(scalar @calls, 2, "$w: t0 again: a second factory call");

    $s = json_decode(status($t)->{body});
    is($s->{tenants}{t0}{health}, 'healthy', "$w: t0 again: healthy");
    is($s->{tenants}{t0}{builds}, 1,
        "$w: t0 again: a fresh slot (one build)");
    is($s->{zone}{recycled}, $N + 1 - keys %{$s->{tenants}},
        "$w: t0 again: one more slot recycled");

    my $p = status($t, '?format=prometheus')->{body};
    like($p, qr/^adcp_zone_recycled_total $s->{zone}{recycled}$/m,
        "$w: Prometheus: adcp_zone_recycled_total");

    # the log: a notice with the count, at most once a minute; nothing
    # the slab pool says on its own

    my $log = $t->read_file('error.log');
    my @notices = $log =~ /\[notice\] .*adcp zone is full: (\d+) slots of regex tenants no worker caches were recycled/g;
    ok(@notices >= 1 && @notices <= 1 + int($elapsed / 60),
        "$w: recycling noticed " . scalar(@notices) . " time(s) in "
        . sprintf('%.0f s', $elapsed));
    my @crit = grep { /\[(crit|alert|emerg)\]|ngx_slab_alloc|no memory/ }
        split /\n/, $log;
    ok(!@crit, "$w: no crit, alert or slab message in error.log")
        or diag(join "\n", @crit[0 .. ($#crit < 4 ? $#crit : 4)]);

    close $_ for @conns;
    $t->stop();
    }
}

done_testing();
