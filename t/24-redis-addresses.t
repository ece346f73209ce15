#!/usr/bin/perl

# adcp_redis with a host name that resolves to several addresses (issue
# 14), nginx started with a /etc/hosts and /etc/gai.conf of the test's own
# (a private mount namespace): the addresses are tried in order, as
# nginx's upstreams do.  First ones that refuse (::1 where the machine has
# IPv6, 127.0.0.2: Redis listens on 127.0.0.1 only): the link subscribes
# on 127.0.0.1, invalidations flow, and every worker's first command is
# carried over to the working address (the admin endpoint reaches Redis
# at once).  Then a first address that accepts and never answers: the
# link moves on after adcp_redis_ping; a command sent there is not sent
# again (it may have run), the next connection uses the next address.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use POSIX ();
use Test::More;
use AdcpTest qw(http http_get json_decode wait_for);
use AdcpMockFactory;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};
my $why = AdcpTest::hosts_ok();
plan skip_all => $why if $why;

my $W = AdcpTest::valgrind() ? 1 : 2;
my $reuseport = AdcpTest::valgrind() ? '' : 'reuseport';

sub gateway {
    my ($name, $extra) = @_;
    $extra //= "";

    my $t = AdcpTest->new;

    # getaddrinfo() sorts what it finds; the precedence table puts the
    # bad addresses first whatever the machine's default

    $t->{hosts} = $t->write_file('hosts', <<'EOF');
127.0.0.1   localhost
::1         redis-multi.test
127.0.0.2   redis-multi.test
127.0.0.1   redis-multi.test
127.0.0.3   redis-silent.test
127.0.0.1   redis-silent.test
EOF
    $t->{gai} = $t->write_file('gai.conf', <<'EOF');
precedence  ::1/128               50
precedence  ::ffff:127.0.0.2/128  46
precedence  ::ffff:127.0.0.3/128  46
precedence  ::/0                  40
precedence  ::ffff:0:0/96         35
EOF

    $t->redis_start();

    $t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $W;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\\.test\$ \$t; }

    adcp_redis       $name:%%PORT_redis%%;
    adcp_redis_ping  1s;
    $extra

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'ok'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% $reuseport;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache \$adcp_cache_status always;
            proxy_pass http://\$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
        location = /adcp/admin {
            adcp_admin;
            add_header X-Pid \$pid always;
        }
    }
}
EOF

    $t->mock($t->port('factory'), AdcpMockFactory::handler(
        counter => $t->testdir . '/factory.calls',
        adapter => $t->port('adapter')));

    return $t;
}

sub status {
    my ($t) = @_;
    return json_decode(http_get($t->port('http'), 'x', '/adcp/status')->{body})
        // {};
}

sub admin {
    my ($t, $args) = @_;
    my $r = http($t->port('http'), "POST /adcp/admin?$args HTTP/1.1\r\n"
        . "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return ($r->{headers}{'x-pid'}, json_decode($r->{body}) // {});
}

# --- addresses that refuse first ------------------------------------------

my $t = gateway('redis-multi.test');
$t->run();
my $rp = $t->port('redis');

ok(wait_for(sub { (status($t)->{redis}{state} // '') eq 'subscribed' }),
    'a name whose first addresses refuse: subscribed');
my $log = $t->read_file('error.log');
like($log, qr/\[warn\] .*adcp: redis "redis-multi\.test:$rp": connect to 127\.0\.0\.2:$rp failed: Connection refused, trying 127\.0\.0\.1:$rp/,
    'the refusing address is logged, and the next one tried');
like($log, qr/\[notice\] .*subscribed to "adcp:invalidate" on 127\.0\.0\.1:$rp/,
    'the address the link uses is logged');
unlike($log, qr/connect to 127\.0\.0\.1:$rp failed/,
    'the working address never failed');
my @order = $log =~ /connect to (\S+):$rp failed/g;
ok(!grep({ $_ ne '[::1]' && $_ ne '127.0.0.2' } @order),
    'in order: ::1 (where the machine has IPv6), 127.0.0.2 ('
    . join(' ', @order) . ')');

http_get($t->port('http'), 'ma.test', '/mcp');
$t->redis_cmd('PUBLISH', 'adcp:invalidate', 'ma');
ok(wait_for(sub { (status($t)->{redis}{messages} // 0) == 1 }),
    'a PUBLISH reaches the link');
is(http_get($t->port('http'), 'ma.test', '/mcp')->{headers}{'x-cache'},
    'MISS', 'and invalidates');

# the admin endpoint in every worker: its first command goes to a refusing
# address and is carried over to 127.0.0.1

my (%pids, @scopes);
for my $i (1 .. 40) {
    my ($pid, $j) = admin($t, "invalidate=mb$i");
    push @scopes, $j->{scope} // 'none';
    $pids{$pid}++ if $pid;
    last if keys %pids >= $W;
}
is(scalar keys %pids, $W, "the admin endpoint answered from $W worker(s)");
is(scalar(grep { $_ ne 'hosts' } @scopes), 0,
    'every admin call reached Redis, the first of each worker included ('
    . join(' ', @scopes) . ')');
$log = $t->read_file('error.log');
for my $pid (sort keys %pids) {
    like($log, qr/\[warn\] $pid#\d+: .*connect to 127\.0\.0\.2:$rp failed: Connection refused, trying/,
        "worker $pid: its command connection met the refusing address");
}
unlike($log, qr/every address failed|no answer to a command/,
    'no command failed');

# Redis restarts: the link comes back (the address that worked first)

$t->redis_stop();
ok(wait_for(sub { (status($t)->{redis}{connected} // 1) == 0 }),
    'Redis gone: the link is down');
my $mark = length $t->read_file('error.log');
$t->redis_start();
ok(wait_for(sub { (status($t)->{redis}{state} // '') eq 'subscribed' }, 20),
    'Redis back: subscribed again');
like(substr($t->read_file('error.log'), $mark),
    qr/subscribed to "adcp:invalidate" on 127\.0\.0\.1:$rp/,
    'on 127.0.0.1');

$t->stop();

# --- a first address that accepts and never answers ------------------------

$t = gateway('redis-silent.test');
$rp = $t->port('redis');

my $silent = IO::Socket::INET->new(LocalAddr => "127.0.0.3:$rp",
    Listen => 128, ReuseAddr => 1, Proto => 'tcp')
    or die "listen 127.0.0.3:$rp: $!";
my $hold = fork();
die "fork: $!" unless defined $hold;
if ($hold == 0) {
    my @held;
    while (my $c = $silent->accept) { push @held, $c }
    POSIX::_exit(0);
}
close $silent;

$t->run();

ok(wait_for(sub { (status($t)->{redis}{state} // '') eq 'subscribed' }),
    'a name whose first address never answers: subscribed');
$log = $t->read_file('error.log');
like($log, qr/connect to 127\.0\.0\.3:$rp failed: no subscription in time, trying 127\.0\.0\.1:$rp/,
    'the silent address is given up after adcp_redis_ping');
like($log, qr/subscribed to "adcp:invalidate" on 127\.0\.0\.1:$rp/,
    'the link uses the next one');

# commands: the first connection of each worker goes to the silent
# address (the link's log read in worker 0, or an admin call); what it
# sent is answered NULL after the deadline (never sent twice), and the
# connection after it goes to the next address

my @r;
for (1 .. 2 * $W + 4) {
    my ($pid, $j) = admin($t, 'invalidate=sa');
    push @r, $j->{scope} // 'none';
    last if @r > 1 && $r[-1] eq 'hosts' && $r[-2] eq 'hosts';
}
is(join(' ', @r[-2, -1]), 'hosts hosts',
    'the admin endpoint reaches Redis (' . join(' ', @r) . ')');
is(scalar(grep { $_ ne 'hosts' && $_ ne 'host' } @r), 0,
    'every reply says its scope');
$log = $t->read_file('error.log');
my %silent;
$silent{$_}++ for $log =~ /\[error\] (\d+)#\d+: .*no answer to a command within 1000 ms from 127\.0\.0\.3:$rp/g;
ok(!grep({ $_ > 1 } values %silent),
    'each worker met the silent address once, then moved on ('
    . join(' ', map { "$_: $silent{$_}" } sort keys %silent) . ')');
unlike($log, qr/no answer to a command .* from 127\.0\.0\.1/,
    'the next address answers');

$t->stop();
kill 'KILL', $hold;
waitpid($hold, 0);

done_testing();
