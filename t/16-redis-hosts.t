#!/usr/bin/perl

# Two nginx hosts with two workers each on one Redis (AUTH with a user and
# a password): a PUBLISH, "*" and the admin endpoint reach every worker of
# both hosts, each rebuilding once; a host whose link was down replays the
# log (only the tenants it missed rebuild), expires everything when its
# entry was trimmed or the log was lost, and nothing when Redis restarted
# with its data; a stalled Redis is noticed; 1,000 messages in one read.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);
use AdcpTest qw(http http_get http_parallel get_raw json_decode wait_for);
use AdcpMockFactory;

plan skip_all => 'redis-server not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $W = AdcpTest::valgrind() ? 1 : 2;

# requests until every worker of the host has served the tenant
my %every = (rounds => 60, served => 1);
my $reuseport = AdcpTest::valgrind() ? '' : 'reuseport';
my $script = "$FindBin::Bin/../conf-examples/adcp-invalidate";

my $h1 = AdcpTest->new;
my $h2 = AdcpTest->new;

my $rport = $h1->port('redis');
my $pport = $h2->port('link');        # host 2 reaches Redis through this

sub redis_up {
    $h1->redis_start('--requirepass', 'root-secret');
    $h1->{redis_password} = 'root-secret';
    # the least the module needs, as README gives it
    $h1->redis_adcp_user('hosts:invalidate');
}

redis_up();

# redis-cli as the default user; its output, raw

sub log_tail {
    my $info = $h1->rcli('XINFO', 'STREAM', 'hosts:invalidate:log');
    return $info =~ /^last-generated-id\n(\S+)/m ? $1 : '';
}

# a TCP forwarder: killing it takes host 2's link down, alone

my $proxy;

sub proxy_start {
    my $parent = $$;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$pport",
            Listen => 16, ReuseAddr => 1) or POSIX::_exit(1);
        my $sel = IO::Select->new($l);
        my %peer;
        while (getppid() == $parent) {
            for my $s ($sel->can_read(0.5)) {
                if ($s == $l) {
                    my $c = $l->accept or next;
                    my $u = IO::Socket::INET->new("127.0.0.1:$rport")
                        or do { close $c; next };
                    @peer{$c, $u} = ($u, $c);
                    $sel->add($c, $u);
                    next;
                }
                my $o = $peer{$s} or next;
                my $n = sysread($s, my $buf, 65536);
                if (!$n) {
                    $sel->remove($s, $o);
                    delete @peer{$s, $o};
                    close $s;
                    close $o;
                    next;
                }
                syswrite($o, $buf);
            }
        }
        POSIX::_exit(0);
    }

    $proxy = $pid;
    wait_for(sub { IO::Socket::INET->new("127.0.0.1:$pport") }, 5)
        or die "proxy did not listen";
}

sub proxy_stop {
    kill 'KILL', $proxy;
    waitpid($proxy, 0);
}

END { kill 'KILL', $proxy if $proxy }

proxy_start();

my $conf = <<'EOF';
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        ~^(?<t>[a-z0-9-]+)\.test$   $t;
    }

    adcp_redis          127.0.0.1:REDIS user=adcp password=adcp-secret;
    adcp_redis_channel  hosts:invalidate;
    adcp_redis_ping     1s;

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"ok":true}'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%% REUSEPORT;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            add_header X-Cache $adcp_cache_status always;
            add_header X-Pid $pid always;
            proxy_pass http://$adcp_upstream;
        }

        %%FACTORY_LOCATION%%

        location = /adcp/status { adcp_status; }
        location = /adcp/admin { adcp_admin; }
    }
}
EOF

for ([$h1, $rport], [$h2, $pport]) {
    my ($h, $redis) = @$_;
    my $c = $conf =~ s/REDIS/$redis/r =~ s/REUSEPORT/$reuseport/r;
    $h->write_file_expand('nginx.conf', $c);
    $h->mock($h->port('factory'), AdcpMockFactory::handler(
        counter => $h->testdir . '/factory.calls',
        adapter => $h->port('adapter')));
    $h->run();
}

sub st { json_decode(http_get($_[0]->port('http'), 'x', '/adcp/status')->{body}) // {} }
sub calls { $_[0]->count_lines('factory.calls', $_[1]) }

sub subscribed { (st($_[0])->{redis}{state} // '') eq 'subscribed' }

sub caught_up {
    my ($h) = @_;
    my $tail = log_tail();
    return wait_for(sub { (st($h)->{redis}{log_entry} // '') eq $tail
        || ($tail eq '' && defined st($h)->{redis}{log_entry}) }, 10);
}

ok(wait_for(sub { subscribed($h1) && subscribed($h2) }, 20),
    'both hosts subscribed, AUTH with a user and a password');

# --- a PUBLISH: each host rebuilds once (for all its workers) -------------

for my $h ($h1, $h2) {
    is(scalar $h->each_worker('h-a', $W, %every), $W,
        'every worker serves h-a');
    is(calls($h, 'h-a'), 1, 'one build for the host');
}

like(scalar $h1->rcli('PUBLISH', 'hosts:invalidate', 'h-a'), qr/^2$/m,
    'PUBLISH heard by two hosts');
ok(wait_for(sub { (st($h1)->{redis}{messages} // 0) == 1
    && (st($h2)->{redis}{messages} // 0) == 1 }), 'both hosts applied it');

for my $h ($h1, $h2) {
    $h->each_worker('h-a', $W, %every) for 1 .. 2;
    is(calls($h, 'h-a'), 2, 'after PUBLISH: one rebuild for the host');
}

# --- "*" ------------------------------------------------------------------

for my $h ($h1, $h2) { $h->each_worker('h-b', $W, %every) }
$h1->rcli('PUBLISH', 'hosts:invalidate', '*');
ok(wait_for(sub { (st($h1)->{redis}{messages} // 0) == 2
    && (st($h2)->{redis}{messages} // 0) == 2 }), '"*" applied by both');
for my $h ($h1, $h2) {
    $h->each_worker($_, $W, %every) for qw(h-a h-b h-a h-b);
    is(calls($h, 'h-a'), 3, '"*": h-a rebuilt once for the host');
    is(calls($h, 'h-b'), 2, '"*": h-b rebuilt once for the host');
}

# --- the admin endpoint of one host reaches the other ----------------------

my $inv1 = st($h1)->{cache}{invalidations};
my $r = http($h1->port('http'), "POST /adcp/admin?invalidate=h-a HTTP/1.1\r\n"
    . "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
my $j = json_decode($r->{body}) // {};
is($j->{scope}, 'hosts', 'admin: scope "hosts"');
is($j->{subscribers}, 2, 'admin: two hosts heard it');
like($j->{log_entry} // '', qr/^\d+-\d+$/, 'admin: the log entry id');
ok(wait_for(sub { (st($h2)->{redis}{messages} // 0) == 3
    && (st($h1)->{redis}{messages} // 0) == 3 }), 'admin: reached host 2');
is(st($h1)->{cache}{invalidations} - $inv1, 1,
    'admin: applied once on its own host (its echo from Redis dropped)');
for my $h ($h1, $h2) {
    $h->each_worker('h-a', $W, %every) for 1 .. 2;
    is(calls($h, 'h-a'), 4, 'admin: h-a rebuilt once for the host');
}

# --- host 2's link down: what it missed is replayed, nothing more --------

ok(caught_up($h2), 'host 2 knows the last log entry it applied');

for my $t (qw(h-c h-d h-e)) { $h2->each_worker($t, $W, %every) }

proxy_stop();
ok(wait_for(sub { !subscribed($h2) }), 'host 2: link down');

my $t0 = time();
is(http_get($h2->port('http'), 'h-e.test', '/mcp')->{status}, 200,
    'link down: a request is served');
ok(time() - $t0 < 0.5, 'link down: no added latency');

$r = http($h1->port('http'), "POST /adcp/admin?invalidate=h-c HTTP/1.1\r\n"
    . "Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
is((json_decode($r->{body}) // {})->{subscribers}, 1,
    'admin while host 2 is away: one host heard it');

my $out = `sh $script -u redis://adcp:adcp-secret\@127.0.0.1:$rport --channel hosts:invalidate h-d 2>&1`;
like($out, qr/"h-d" logged as \d+-\d+, heard by 1 host/,
    'adcp-invalidate: logged and published');

my %before = map { $_ => calls($h2, $_) } qw(h-c h-d h-e);

proxy_start();
ok(wait_for(sub { subscribed($h2) && (st($h2)->{redis}{replayed} // 0) == 2 },
    20), 'host 2 back: the two messages it missed replayed');
for my $t (qw(h-c h-d h-e)) { $h2->each_worker($t, $W, %every) for 1 .. 2 }
is(calls($h2, 'h-c'), $before{'h-c'} + 1, 'replayed: h-c rebuilt once');
is(calls($h2, 'h-d'), $before{'h-d'} + 1, 'replayed: h-d rebuilt once');
is(calls($h2, 'h-e'), $before{'h-e'}, 'replayed: h-e not rebuilt');
is(st($h2)->{redis}{resyncs}, 0, 'no resync');

# --- its entry trimmed away: everything expires --------------------------

ok(caught_up($h2), 'host 2 caught up');
proxy_stop();
ok(wait_for(sub { !subscribed($h2) }), 'host 2: link down again');
`sh $script -u redis://adcp:adcp-secret\@127.0.0.1:$rport --channel hosts:invalidate h-c` for 1 .. 3;
$h1->rcli('XTRIM', 'hosts:invalidate:log', 'MAXLEN', '1');
%before = map { $_ => calls($h2, $_) } qw(h-c h-e);

proxy_start();
ok(wait_for(sub { subscribed($h2) && (st($h2)->{redis}{resyncs} // 0) == 1 },
    20), 'host 2 back: its entry was trimmed, one resync');
for my $t (qw(h-c h-e)) { $h2->each_worker($t, $W, %every) for 1 .. 2 }
is(calls($h2, 'h-e'), $before{'h-e'} + 1, 'resync: h-e rebuilt once');
is(calls($h2, 'h-c'), $before{'h-c'} + 1, 'resync: h-c rebuilt once');

# --- Redis restarts with its data: nothing rebuilds ----------------------

ok(caught_up($h1) && caught_up($h2), 'both hosts caught up');
for my $h ($h1, $h2) { $h->each_worker($_, $W, %every) for qw(h-a h-e) }
my %c = map { my $h = $_; $h => { map { $_ => calls($h, $_) } qw(h-a h-e) } }
    ($h1, $h2);

$h1->rcli('SAVE');
$h1->redis_stop();
ok(wait_for(sub { !subscribed($h1) && !subscribed($h2) }), 'Redis down');
redis_up();
ok(wait_for(sub { subscribed($h1) && subscribed($h2) }, 30),
    'Redis back with its data: both resubscribed');
ok(caught_up($h1) && caught_up($h2), 'both read the log');
for my $h ($h1, $h2) {
    $h->each_worker($_, $W, %every) for qw(h-a h-e h-a h-e);
    is(calls($h, 'h-a'), $c{$h}{'h-a'}, 'graceful restart: h-a not rebuilt');
    is(calls($h, 'h-e'), $c{$h}{'h-e'}, 'graceful restart: h-e not rebuilt');
    is(st($h)->{redis}{resyncs}, $h == $h2 ? 1 : 0, 'graceful restart: no resync');
}

# --- Redis restarts without its data: everything expires once ------------

unlink $h1->testdir . '/dump.rdb';
$h1->redis_stop();
ok(wait_for(sub { !subscribed($h1) && !subscribed($h2) }), 'Redis down');
redis_up();
ok(wait_for(sub { subscribed($h1) && subscribed($h2)
    && st($h1)->{redis}{resyncs} == 1 && st($h2)->{redis}{resyncs} == 2 }, 30),
    'Redis back without its data: the log is gone, one resync per host');
for my $h ($h1, $h2) {
    $h->each_worker($_, $W, %every) for qw(h-a h-a);
    is(calls($h, 'h-a'), $c{$h}{'h-a'} + 1, 'lost log: h-a rebuilt once');
}

# --- a stalled Redis is noticed by the ping deadline ---------------------

ok(caught_up($h1), 'host 1 caught up');
kill 'STOP', $h1->{redis_pid};
$t0 = time();
ok(wait_for(sub { !subscribed($h1) }, 10), 'SIGSTOP: the link goes down');
my $took = time() - $t0;
ok($took < 4, sprintf('within the ping deadline (%.1f s, ping 1s)', $took));
$t0 = time();
is(http_get($h1->port('http'), 'h-a.test', '/mcp')->{status}, 200,
    'stalled Redis: a request is served');
ok(time() - $t0 < 0.5, 'stalled Redis: no added latency');
kill 'CONT', $h1->{redis_pid};
ok(wait_for(sub { subscribed($h1) }, 30), 'SIGCONT: subscribed again');

# --- 1,000 messages in one read ------------------------------------------

ok(wait_for(sub { subscribed($h1) && subscribed($h2) }, 30), 'both subscribed');
my @m = map { (st($_)->{redis}{messages}) } $h1, $h2;
my $s = IO::Socket::INET->new("127.0.0.1:$rport") or die;
my $resp = sub { '*' . @_ . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @_ };
syswrite $s, join '', $resp->('AUTH', 'root-secret'),
    map { $resp->('PUBLISH', 'hosts:invalidate', "burst-$_") } 1 .. 1000;
ok(wait_for(sub { st($h1)->{redis}{messages} == $m[0] + 1000
    && st($h2)->{redis}{messages} == $m[1] + 1000 }, 30),
    '1,000 messages published at once: all applied on both hosts');
close $s;

is(http_get($h1->port('http'), 'h-a.test', '/mcp')->{status}, 200,
    'serving after the burst');

# --- an error reading the log (here NOPERM) is no lost log ---------------

ok(caught_up($h2), 'host 2 caught up');
$h1->rcli('ACL', 'SETUSER', 'adcp', '-xinfo');
my $rs = st($h2)->{redis}{resyncs};
proxy_stop();
ok(wait_for(sub { !subscribed($h2) }), 'host 2: link down');
`sh $script -u redis://adcp:adcp-secret\@127.0.0.1:$rport --channel hosts:invalidate h-c`;
proxy_start();
ok(wait_for(sub { subscribed($h2)
    && $h2->read_file('error.log') =~ /cannot read "hosts:invalidate:log": NOPERM/ }, 20),
    'XINFO refused: logged');
is(st($h2)->{redis}{resyncs}, $rs, 'XINFO refused: no resync');
$h1->rcli('ACL', 'SETUSER', 'adcp', '+xinfo');
ok(caught_up($h2), 'XINFO allowed again: the next renewal reads the log');
is(st($h2)->{redis}{resyncs}, $rs, 'and still no resync');

$h2->stop();
$h1->stop();

done_testing();
