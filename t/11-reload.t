#!/usr/bin/perl

# 50 reloads with a Redis link, platforms cached and the zone in use: every
# old worker closes its Redis connection and exits, the master's file
# descriptors and memory do not grow, Redis sees one subscriber, and the
# host keeps serving.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http_get json_decode wait_for);
use AdcpMockFactory;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
plan skip_all => 'reloads need a master process (not under valgrind)'
    if AdcpTest::valgrind();

my $t = AdcpTest->new;

$t->redis_start();

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    # a cache manager and loader: they run init_process but hold no link
    proxy_cache_path %%TESTDIR%%/cache keys_zone=c:1m;

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test$ $t; }
    adcp_redis 127.0.0.1:%%PORT_redis%%;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            proxy_pass http://$adcp_upstream;
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
my $master = $t->{pid};

sub fds { my @f = glob("/proc/$master/fd/*"); scalar @f }

sub rss {
    open my $fh, '<', "/proc/$master/status" or return 0;
    my ($kb) = map { /^VmRSS:\s+(\d+)/ ? $1 : () } <$fh>;
    return $kb // 0;
}

sub subscribers {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('redis'),
        Timeout => 5) or return undef;
    print $s "*3\r\n\$6\r\nPUBSUB\r\n\$6\r\nNUMSUB\r\n"
        . "\$15\r\nadcp:invalidate\r\n";
    my @l = map { scalar <$s> } 1 .. 4;    # *2, $15, the channel, :n
    close $s;
    my ($n) = ($l[3] // '') =~ /^:(\d+)/;
    return $n;
}

ok(wait_for(sub { ($t->status->{redis}{state} // '') eq 'subscribed' }),
    'subscribed');
is(http_get($port, 'r-0.test', '/mcp')->{status}, 200, 'serving');

my $exits = sub { my @e = $t->read_file('error.log') =~ /worker process \d+ exited/g;
    scalar @e };

# warm up two reloads before taking the baseline

for my $i (1 .. 2) {
    my $e = $exits->();
    $t->reload();
    wait_for(sub { $exits->() >= $e + 2 }, 20);
}

# the master closes an exited worker's channel when it reaps it, a moment
# after logging the exit: the baseline is the least seen over a second

my ($fd0, $rss0) = (fds(), rss());
wait_for(sub { my $n = fds(); $fd0 = $n if $n < $fd0; 0 }, 1);

for my $i (1 .. 50) {
    my $e = $exits->();
    $t->reload();
    wait_for(sub { $exits->() >= $e + 2 }, 20)
        or diag("reload $i: old workers did not exit");
    http_get($port, "r-$i.test", '/mcp');
}

ok(wait_for(sub { ($t->status->{redis}{state} // '') eq 'subscribed' }),
    'after 50 reloads: subscribed');
is(http_get($port, 'r-last.test', '/mcp')->{status}, 200,
    'after 50 reloads: serving');

my $fd1;
ok(wait_for(sub { ($fd1 = fds()) == $fd0 }, 5),
    "master file descriptors: $fd0 before, after: as many");
my $rss1 = rss();
SKIP: {
    skip 'ASan holds freed memory in quarantine (LeakSanitizer checks the '
        . 'master at exit instead)', 1 if AdcpTest::asan();
    ok($rss1 - $rss0 < 2048, "master RSS: $rss0 KB before, $rss1 KB after");
}
ok(wait_for(sub { (subscribers() // 0) == 1 }),
    'Redis sees one subscriber: every old worker closed its link');

# worker 0's link and its command connection (the log's position), and
# this query: nothing else left open by 50 generations of workers

sub clients {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('redis'),
        Timeout => 5) or return undef;
    print $s "*2\r\n\$4\r\nINFO\r\n\$7\r\nclients\r\n";
    my ($len) = (scalar <$s> // '') =~ /^\$(\d+)/ or return undef;
    read($s, my $info, $len);
    close $s;
    my ($n) = $info =~ /connected_clients:(\d+)/;
    return $n;
}

ok(wait_for(sub { (clients() // 0) == 3 }),
    'Redis sees 3 clients: the link, its command connection, this one');

my @exit = $t->read_file('error.log') =~ /worker process \d+ exited with code (\d+)/g;
ok(!grep({ $_ != 0 } @exit), 'every old worker exited cleanly');

$t->stop();

done_testing();
