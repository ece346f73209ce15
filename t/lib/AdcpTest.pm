package AdcpTest;

# A small harness in the manner of nginx-tests: each test writes its
# nginx.conf from a heredoc, starts nginx with -p in a temporary directory
# on free ports, talks HTTP over raw sockets, stops nginx and checks that
# error.log holds no [crit], [alert] or [emerg] line.
#
# ADCP_TEST_VALGRIND=1 runs nginx as one process (master_process off) under
# valgrind memcheck and fails on any invalid access or definite leak.
# ADCP_TEST_ASAN=1 runs the nginx built by "make asan" (ASan + UBSan,
# NGX_DEBUG_PALLOC, this module linked in: no load_module) and fails a
# test on any sanitizer report (files under <testdir>/asan/, "runtime
# error" in error.log); ADCP_TEST_NGINX chooses another binary,
# ADCP_TEST_NO_LOAD_MODULE=1 drops load_module for one with the module in.
# ADCP_TEST_KEEP=1 keeps the temporary directory.
# ADCP_TEST_HOSTS=<file> (or new(hosts => <file>, gai => <file>)) starts
# nginx in a mount namespace of its own with that file over /etc/hosts
# (and /etc/gai.conf): what a host name resolves to at start, and in which
# order, without touching the machine's files (root; see hosts_ok()).

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha1_hex);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

use Exporter 'import';
our @EXPORT_OK = qw(http http_get http_post_json json_decode json_encode
    repo_root schema_check free_port http_parallel get_raw post_raw
    append_line wait_for mcp a2a);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');

sub repo_root { $ROOT }

sub valgrind { $ENV{ADCP_TEST_VALGRIND} ? 1 : 0 }

sub asan { $ENV{ADCP_TEST_ASAN} ? 1 : 0 }

# a run under a memory checker is slower: deadlines stretch by this

sub slow { valgrind() ? 6 : asan() ? 2 : 1 }

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('adcp-test-XXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{ADCP_TEST_KEEP});
    chmod 0755, $dir;    # workers run as another user when we are root

    my $self = bless {
        dir     => $dir,
        ports   => {},
        mocks   => [],
        nginx   => $ENV{ADCP_TEST_NGINX} || $ENV{NGINX_BIN}
                   || (asan() ? "$ROOT/build/asan/nginx-1.22.1/objs/nginx"
                              : '/usr/sbin/nginx'),
        module  => $ENV{ADCP_MODULE} || "$ROOT/build/ngx_http_adcp_module.so",
        %opts,
    }, $class;

    if (asan()) {
        mkdir "$dir/asan";
        chmod 0777, "$dir/asan";    # reports of workers running as nobody
    }

    diag("test dir $dir") if $ENV{ADCP_TEST_KEEP};

    return $self;
}

sub testdir { $_[0]{dir} }

# a free TCP port on 127.0.0.1, the same one for the same name

my %TAKEN;

sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => 0, Proto => 'tcp', ReuseAddr => 0) or next;
        my $port = $s->sockport;
        close $s;
        next if $TAKEN{$port}++;
        return $port;
    }
    die "no free port";
}

sub port {
    my ($self, $name) = @_;
    $self->{ports}{$name} //= free_port();
    return $self->{ports}{$name};
}

# %%PORT_name%%, %%TESTDIR%%, %%ROOT%%, %%TEST_GLOBALS%%,
# %%TEST_GLOBALS_HTTP%%, %%FACTORY_LOCATION%%, %%ADCP_ENDPOINTS%% (the
# status and admin locations), %%REDIS_ADCP_USER%% (adcp_redis on the port
# named "redis" as README's user "adcp", see redis_adcp_user()) are
# replaced

sub expand {
    my ($self, $text) = @_;
    my $dir = $self->{dir};

    # one line each, so that line numbers in the heredocs stay as written

    my $load = (asan() || $ENV{ADCP_TEST_NO_LOAD_MODULE}) ? ''
        : "load_module $self->{module}; ";

    my $globals = $load
        . "daemon off; "
        . "pid $dir/nginx.pid; "
        . "error_log $dir/error.log "
        . ($self->{debug_log} ? 'debug' : 'info') . ";";
    $globals .= " master_process off;" if valgrind();

    my $http = "access_log $dir/access.log; "
        . "client_body_temp_path $dir/client_body_temp; "
        . "proxy_temp_path $dir/proxy_temp; "
        . "fastcgi_temp_path $dir/fastcgi_temp; "
        . "uwsgi_temp_path $dir/uwsgi_temp; "
        . "scgi_temp_path $dir/scgi_temp;";

    # the usual factory: AdcpMockFactory on the port named "factory"

    my $factory = 'location = /_factory { internal; '
        . 'proxy_pass_request_headers off; proxy_pass '
        . 'http://127.0.0.1:%%PORT_factory%%/platforms/$adcp_tenant; }';

    my $endpoints = 'location = /adcp/status { adcp_status; } '
        . 'location = /adcp/admin { adcp_admin; }';

    my $redis = 'adcp_redis 127.0.0.1:%%PORT_redis%% user=adcp '
        . 'password=adcp-secret;';

    $text =~ s/%%FACTORY_LOCATION%%/$factory/g;
    $text =~ s/%%ADCP_ENDPOINTS%%/$endpoints/g;
    $text =~ s/%%REDIS_ADCP_USER%%/$redis/g;
    $text =~ s/%%TEST_GLOBALS%%/$globals/g;
    $text =~ s/%%TEST_GLOBALS_HTTP%%/$http/g;
    $text =~ s/%%TESTDIR%%/$dir/g;
    $text =~ s/%%ROOT%%/$ROOT/g;
    $text =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;

    return $text;
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = "$self->{dir}/$name";
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $content;
    close $fh;
    return $path;
}

sub write_file_expand {
    my ($self, $name, $content) = @_;
    $self->write_file($name, $self->expand($content));
    return $self;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

# the sanitizers' options: every report to a file under <testdir>/asan/,
# nginx's own leaks suppressed (t/lsan.supp; its UB is left out when the
# binary is built: t/ubsan.ignore)

sub sanitizer_env {
    my ($self, $leaks) = @_;
    my $dir = $self->{dir};

    return () unless asan();

    $leaks //= 1;

    return (
        ASAN_OPTIONS => "detect_leaks=$leaks:halt_on_error=0:abort_on_error=0"
            . ":detect_stack_use_after_return=1:log_path=$dir/asan/report",
        LSAN_OPTIONS => "suppressions=$ROOT/t/lsan.supp:print_suppressions=0",
        UBSAN_OPTIONS => "print_stacktrace=1:halt_on_error=0"
            . ":log_path=$dir/asan/report",
    );
}

# ok() that no sanitizer reported anything (ASan mode only)

sub sanitizer_check {
    my ($self) = @_;
    my $dir = $self->{dir};

    return unless asan();

    my @reports = glob("$dir/asan/*");
    my $log = $self->read_file('error.log') . $self->read_file('stderr.log');
    my @ub = grep { /runtime error|Sanitizer/ } split /\n/, $log;

    ok(!@reports && !@ub, 'asan/ubsan: no report')
        or diag(join("\n", @ub, map { $self->read_file($_) } @reports));
}

# nginx -t: (exit status, what it printed)

sub test_config {
    my ($self, $conf) = @_;
    $self->write_file_expand('nginx.conf', $conf);
    my $dir = $self->{dir};

    # nginx -t returns from main() on a bad configuration without freeing
    # what it parsed (nginx's way: the process ends): no leak check here.
    # The module's own allocations on that path are checked where they
    # matter, in a master refusing a reload (t/20-lifecycle.t).

    local %ENV = (%ENV, $self->sanitizer_env(0));
    my $cmd = join ' ', map { "'$_'" } $self->namespace($self->{nginx},
        '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', "$dir/error.log", '-t');
    my $out = `$cmd 2>&1`;
    my $rc = $? >> 8;
    $out .= $self->read_file('error.log');
    $self->sanitizer_check();
    return ($rc, $out);
}

sub run {
    my ($self, $conf) = @_;

    $self->write_file_expand('nginx.conf', $conf) if defined $conf;

    my $dir = $self->{dir};
    my @cmd = ($self->{nginx}, '-p', "$dir/", '-c', "$dir/nginx.conf",
        '-e', "$dir/error.log");

    if (valgrind()) {
        unshift @cmd, 'valgrind', '--tool=memcheck', '--leak-check=full',
            '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
            '--num-callers=40', '--trace-children=no',
            "--suppressions=$ROOT/t/valgrind.supp",
            "--log-file=$dir/valgrind.log";
    }

    @cmd = $self->namespace(@cmd);

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        %ENV = (%ENV, $self->sanitizer_env());
        open STDOUT, '>', "$dir/stdout.log";
        open STDERR, '>', "$dir/stderr.log";

        # a process group of its own: a test that dies takes the workers
        # down with the master (DESTROY), none is left behind

        setpgrp(0, 0);
        exec @cmd or POSIX::_exit(127);
    }

    $self->{pid} = $pid;

    my @ports = $self->{wait_ports} ? @{$self->{wait_ports}}
        : $self->listen_ports();
    my $deadline = time() + 15 * slow();

    for my $port (@ports) {
        until (IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Proto => 'tcp'))
        {
            if (waitpid($pid, WNOHANG) == $pid) {
                delete $self->{pid};
                die "nginx exited at start:\n" . $self->read_file('stderr.log')
                    . $self->read_file('error.log');
            }
            die "nginx did not listen on $port in time" if time() > $deadline;
            sleep 0.02;
        }
    }

    return $self;
}

# the command in a mount namespace with the test's /etc/hosts and
# /etc/gai.conf bound over the machine's (unshare(1) and mount(8) exec in
# place: nginx keeps the pid and the process group)

sub namespace {
    my ($self, @cmd) = @_;
    my @bind;

    my $hosts = $self->{hosts} // $ENV{ADCP_TEST_HOSTS};
    push @bind, $hosts, '/etc/hosts' if $hosts;
    push @bind, $self->{gai}, '/etc/gai.conf' if $self->{gai};

    return @cmd unless @bind;

    my $sh = '';
    for (my $i = 1; $i < @bind; $i += 2) {
        $sh .= "mount --bind \"\$$i\" \"\$" . ($i + 1) . "\" || exit 1; ";
    }

    return ('unshare', '-m', 'sh', '-c',
        $sh . 'shift ' . scalar(@bind) . '; exec "$@"', 'sh', @bind, @cmd);
}

# whether namespace() works here (root, and a kernel or container that
# lets it make a mount namespace); "" or why not

sub hosts_ok {
    return 'not root' if $> != 0;
    my $out = `unshare -m sh -c 'mount --bind /etc/hosts /etc/hosts' 2>&1`;
    return $? == 0 ? '' : "no private mount namespace here: $out";
}

# the ports nginx.conf listens on

sub listen_ports {
    my ($self) = @_;
    my $conf = $self->read_file('nginx.conf');
    my %seen;
    return grep { !$seen{$_}++ } $conf =~ /listen\s+127\.0\.0\.1:(\d+)/g;
}

sub reload {
    my ($self) = @_;
    kill 'HUP', $self->{pid};
}

# a real redis-server on a free port, in the test directory; stopped with
# nginx (or by redis_stop)

sub redis_start {
    my ($self, @extra) = @_;
    my $port = $self->port('redis');
    my $dir = $self->{dir};

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
            '--save', '', '--appendonly', 'no', '--dir', $dir, @extra
            or POSIX::_exit(127);
    }

    $self->{redis_pid} = $pid;

    my $deadline = time() + 10;
    until (IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp'))
    {
        die "redis did not start" if time() > $deadline;
        sleep 0.02;
    }

    return $port;
}

sub redis_stop {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

# one Redis command over RESP (after AUTH when redis_password is set);
# returns the reply's first line

sub redis_cmd {
    my ($self, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:'
        . $self->port('redis'), Proto => 'tcp', Timeout => 5) or return;
    my $resp = sub {
        '*' . scalar(@_) . "\r\n"
            . join('', map { '$' . length($_) . "\r\n$_\r\n" } @_);
    };
    if (defined $self->{redis_password}) {
        print $s $resp->('AUTH', $self->{redis_password});
        <$s>;
    }
    print $s $resp->(@args);
    my $line = <$s>;
    close $s;
    return $line;
}

# redis-cli on this test's Redis (with its password): the reply's lines,
# or in scalar context the whole text

sub rcli {
    my ($self, @args) = @_;
    my @a = map { "'" . s/'/'\\''/gr . "'" } @args;
    my $auth = defined $self->{redis_password}
        ? "--no-auth-warning -a '$self->{redis_password}' " : '';
    my $cmd = "redis-cli --raw -p " . $self->port('redis') . " $auth@a 2>&1";
    return scalar `$cmd` unless wantarray;
    my @out = `$cmd`;
    chomp @out;
    return @out;
}

# README's least-privilege user "adcp" (password adcp-secret): the
# channel and its log; with tasks => 1 the tasks' keys and commands too;
# evalsha => 0 leaves EVALSHA out (an ACL written before it was needed)

sub redis_adcp_user {
    my ($self, $channel, %o) = @_;
    my @acl = ('ACL', 'SETUSER', 'adcp', 'on', '>adcp-secret',
        'resetchannels', "&$channel", "~$channel:log");
    push @acl, '~adcp:task:*', '~adcp:idem:*', '~adcp:tasks', '~adcp:hooks'
        if $o{tasks};
    push @acl, '+subscribe', '+xinfo', '+xrange', '+xadd';
    push @acl, '+xlen' if $o{tasks};
    push @acl, '+publish', '+multi', '+exec';
    if ($o{tasks}) {
        push @acl, '+eval';
        push @acl, '+evalsha' if $o{evalsha} // 1;
        push @acl, '+get', '+set', '+hset', '+hgetall', '+expire', '+hmget',
            '+hdel', '+exists', '+xgroup', '+xreadgroup', '+xack', '+xdel',
            '+xclaim', '+xautoclaim', '+zadd', '+zrem', '+zrangebyscore';
    }
    return $self->redis_cmd(@acl);
}

# the module's /adcp/status on the port named "http": the JSON decoded,
# or with a format (?format=prometheus) the response

sub status {
    my ($self, $format) = @_;
    my $r = http_get($self->port('http'), 'x',
        '/adcp/status' . ($format ? "?format=$format" : ''));
    return $format ? $r : json_decode($r->{body});
}

# GET /mcp of a tenant, 8 requests at a time, until as many workers
# (X-Pid) answered, or rounds (40) ran out; served => 1 counts only 200s.
# The responses, or in scalar context how many workers answered

sub each_worker {
    my ($self, $tenant, $workers, %o) = @_;
    my (%pids, @all);
    for (1 .. ($o{rounds} // 40)) {
        my @r = http_parallel($self->port('http'),
            map { get_raw("$tenant.test", '/mcp') } 1 .. 8);
        $pids{$_->{headers}{'x-pid'} // '?'}++
            for grep { !$o{served} || $_->{status} == 200 } @r;
        push @all, @r;
        last if keys %pids >= $workers;
    }
    return wantarray ? @all : scalar keys %pids;
}

sub stop {
    my ($self) = @_;

    $_->stop() for @{$self->{mocks}};
    $self->{mocks} = [];
    $self->redis_stop();

    my $pid = delete $self->{pid} or return;

    kill 'QUIT', $pid;

    my $deadline = time() + 15 * slow();
    my $poke = time() + 1;
    my $exited;

    while (time() < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $exited = 1;
            last;
        }

        # under valgrind a signal may land just before nginx blocks in
        # epoll_wait() with no timer; a connection wakes it to see it

        if (time() > $poke) {
            kill 'QUIT', $pid;
            IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_", Proto => 'tcp')
                for $self->listen_ports();
            $poke = time() + 1;
        }

        sleep 0.02;
    }

    unless ($exited) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    ok($exited, 'nginx stopped gracefully');

    # $t->{expect_alert}: a regex of alerts the test itself provokes

    my $log = $self->read_file('error.log');
    my $expect = $self->{expect_alert};
    my @bad = grep { /\[(crit|alert|emerg)\]/ && !($expect && /$expect/) }
        split /\n/, $log;
    ok(!@bad, 'no crit, alert or emerg in error.log')
        or diag(join "\n", @bad);

    if (valgrind()) {
        my $vg = $self->read_file('valgrind.log');
        my ($errors) = $vg =~ /ERROR SUMMARY: (\d+) errors/;
        ok(defined $errors && $errors == 0, 'valgrind: no errors')
            or diag($vg);
        unlike($vg, qr/definitely lost: [1-9]/, 'valgrind: no definite leak');
    }

    $self->sanitizer_check();

    return $self;
}

sub DESTROY {
    my ($self) = @_;
    if (my $pid = delete $self->{pid}) {
        kill 'KILL', -$pid;
        waitpid($pid, 0);
    }
    $_->stop() for grep { defined } @{$self->{mocks} || []};
    $self->redis_stop();
}

# a Perl HTTP server in a child process; handler gets
# {method, uri, headers => {lc name => value}, body} and returns
# [status, {headers}, body]

sub mock {
    my ($self, $port, $handler) = @_;
    my $mock = AdcpTest::Mock->new($port, $handler, $self->{dir});
    push @{$self->{mocks}}, $mock;
    return $mock;
}

# --- HTTP over a raw socket ---------------------------------------------

# sends $raw as is; returns {status, headers => {lc => value}, body, raw}

sub http {
    my ($port, $raw, %opts) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp', Timeout => 5) or die "connect $port: $!";
    binmode $s;

    my $off = 0;
    while ($off < length $raw) {
        my $n = syswrite($s, $raw, 65536, $off);
        die "write: $!" unless defined $n;
        $off += $n;
    }

    my $sel = IO::Select->new($s);
    my $deadline = time() + ($opts{timeout} || (valgrind() ? 60 : 10));
    my $resp = '';

    while (time() < $deadline) {
        last unless $sel->can_read($deadline - time());
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }

    close $s;

    return parse_response($resp);
}

sub parse_response {
    my ($raw) = @_;
    my %r = (raw => $raw, headers => {});

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return \%r unless defined $head;

    my @lines = split /\r\n/, $head;
    my $status_line = shift @lines // '';
    ($r{status}) = $status_line =~ m{^HTTP/\d\.\d (\d+)};

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        if (exists $r{headers}{$k}) {
            $r{headers}{$k} .= ", $v";
        } else {
            $r{headers}{$k} = $v;
        }
    }

    $body //= '';

    if (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }

    $r{body} = $body;
    return \%r;
}

# sends every raw request on its own connection at once, then reads all
# the answers; returns them in order

sub http_parallel {
    my ($port, @raws) = @_;

    my @socks = map {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Proto => 'tcp', Timeout => 5) or die "connect $port: $!";
        binmode $s;
        $s;
    } @raws;

    for my $i (0 .. $#raws) {
        my $off = 0;
        while ($off < length $raws[$i]) {
            my $n = syswrite($socks[$i], $raws[$i], 65536, $off);
            die "write: $!" unless defined $n;
            $off += $n;
        }
    }

    my %buf = map { $_ => '' } 0 .. $#socks;
    my %open = map { fileno($socks[$_]) => $_ } 0 .. $#socks;
    my $sel = IO::Select->new(@socks);
    my $deadline = time() + (valgrind() ? 120 : 20);

    while ($sel->count && time() < $deadline) {
        for my $s ($sel->can_read($deadline - time())) {
            my $i = $open{fileno $s};
            my $n = sysread($s, my $b, 65536);
            if ($n) {
                $buf{$i} .= $b;
            } else {
                $sel->remove($s);
                close $s;
            }
        }
    }

    return map { parse_response($buf{$_}) } 0 .. $#socks;
}

sub get_raw {
    my ($host, $uri, %h) = @_;
    my $headers = join '', map { "$_: $h{$_}\r\n" } sort keys %h;
    return "GET $uri HTTP/1.1\r\nHost: $host\r\n$headers"
        . "Connection: close\r\n\r\n";
}

sub post_raw {
    my ($host, $uri, $body, %h) = @_;
    $h{'Content-Type'} //= 'application/json';
    my $headers = join '', map { "$_: $h{$_}\r\n" } sort keys %h;
    return "POST $uri HTTP/1.1\r\nHost: $host\r\n$headers"
        . "Content-Length: " . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body";
}

# a counter file a mock appends to: count of lines equal to $what

sub count_lines {
    my ($self, $name, $what) = @_;
    my @l = split /\n/, $self->read_file($name);
    return scalar grep { !defined $what || $_ eq $what } @l;
}

sub append_line {
    my ($path, $line) = @_;
    open my $fh, '>>', $path or die "$path: $!";
    syswrite $fh, "$line\n";
    close $fh;
}

# waits (bounded) until $cond->() is true

sub wait_for {
    my ($cond, $timeout) = @_;
    my $deadline = time() + ($timeout || (valgrind() ? 60 : 10));
    while (time() < $deadline) {
        return 1 if $cond->();
        sleep 0.01;
    }
    return 0;
}

sub http_get {
    my ($port, $host, $uri, %h) = @_;
    my $headers = join '', map { "$_: $h{$_}\r\n" } sort keys %h;
    return http($port, "GET $uri HTTP/1.1\r\nHost: $host\r\n$headers"
        . "Connection: close\r\n\r\n");
}

sub http_post_json {
    my ($port, $host, $uri, $body, %h) = @_;
    $h{'Content-Type'} //= 'application/json';
    my $headers = join '', map { "$_: $h{$_}\r\n" } sort keys %h;
    return http($port, "POST $uri HTTP/1.1\r\nHost: $host\r\n$headers"
        . "Content-Length: " . length($body) . "\r\n"
        . "Connection: close\r\n\r\n$body");
}

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# a JSON-RPC tools/call (MCP) body

sub mcp {
    my ($id, $tool, $args) = @_;
    return json_encode({ jsonrpc => '2.0', id => $id, method => 'tools/call',
        params => { name => $tool, arguments => $args } });
}

# an A2A 0.3 message/send body: one data part naming the skill

sub a2a {
    my ($id, $skill, $params, %o) = @_;
    return json_encode({ jsonrpc => '2.0', id => $id,
        method => $o{method} // 'message/send',
        params => { message => { role => 'user', messageId => "m-$id",
            parts => [ { kind => 'data',
                data => { skill => $skill, parameters => $params } } ],
            ($o{context} ? (contextId => $o{context}) : ()) } } });
}

sub json_decode { my $v = eval { $JSON->decode($_[0]) }; return $v }
sub json_encode { $JSON->encode($_[0]) }

# --- AdCP's JSON Schemas (../shared/adcp-schemas), when present -----------

my $SCHEMAS = $ENV{ADCP_SCHEMAS} || "$ROOT/../shared/adcp-schemas";
my %VALIDATORS;

sub schemas_dir { -d $SCHEMAS ? $SCHEMAS : undef }

# ok() that $data validates against $schema (e.g. 'core/error.json');
# skipped cleanly when the schemas or JSON::Validator are absent

sub schema_check {
    my ($data, $schema, $name) = @_;

    SKIP: {
        skip "AdCP schemas not present ($SCHEMAS)", 1 unless schemas_dir();
        skip 'JSON::Validator not installed', 1
            unless eval { require JSON::Validator; 1 };

        my $jv = $VALIDATORS{$schema} //= do {
            my $v = JSON::Validator->new(store => schema_store($schema));
            $v->schema("file:///schemas/$schema");
            $v;
        };

        my @errors = $jv->validate($data);
        ok(!@errors, $name // "valid against $schema")
            or diag(join "\n", map {"$_"} @errors);
    }
}

# a schema and every schema its $refs reach, each under its "$id"
# (/schemas/...), as file:///schemas/... in one store shared by the
# validators; loaded on first use, only what is needed

my $STORE;

sub schema_store {
    my ($rel) = @_;

    require JSON::Validator::Store;
    $STORE //= JSON::Validator::Store->new;

    my $json = JSON::PP->new;
    my @todo = ($rel);

    while (defined(my $r = shift @todo)) {
        next if $STORE->exists("file:///schemas/$r");
        open my $fh, '<', "$SCHEMAS/$r" or next;
        local $/;
        my $d = eval { $json->decode(<$fh>) } or next;
        $STORE->add("file:///schemas/$r", $d);

        my @walk = ($d);
        while (@walk) {
            my $n = shift @walk;
            if (ref $n eq 'HASH') {
                if (defined $n->{'$ref'}
                    && $n->{'$ref'} =~ m{^/schemas/([^#]+)})
                {
                    push @todo, $1;

                    # absolute: a fragment's ref resolves from anywhere
                    $n->{'$ref'} = "file://$n->{'$ref'}";
                }
                push @walk, values %$n;
            } elsif (ref $n eq 'ARRAY') {
                push @walk, @$n;
            }
        }
    }

    return $STORE;
}

# the recovery AdCP's enums/error-code.json gives a code, or undef

my $CODES;

sub error_code_recovery {
    my ($code) = @_;
    return undef unless schemas_dir();
    $CODES //= do {
        open my $fh, '<', "$SCHEMAS/enums/error-code.json" or return undef;
        local $/;
        JSON::PP->new->decode(<$fh>);
    };
    return $CODES->{enumMetadata}{$code}{recovery};
}

package AdcpTest::Mock;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

sub new {
    my ($class, $port, $handler, $dir) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 128, ReuseAddr => 1, Proto => 'tcp')
        or die "mock listen $port: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        # a few processes accepting on the one socket, so that a slow
        # answer delays no other; TERM to this one ends them all
        POSIX::setpgid(0, 0);
        my @kids;
        for (1 .. 12) {
            my $kid = fork();
            if (defined $kid && $kid == 0) {
                $SIG{TERM} = 'DEFAULT';
                while (my $c = $listen->accept) {
                    binmode $c;
                    serve($c, $handler);
                    close $c;
                }
                POSIX::_exit(0);
            }
            push @kids, $kid if $kid;
        }
        $SIG{TERM} = sub { kill 'KILL', @kids; POSIX::_exit(0) };

        # the test went away without stopping us (killed): so do we
        my $test = getppid();
        sleep 1 while getppid() == $test;
        kill 'KILL', @kids;
        POSIX::_exit(0);
    }

    # the group made here too: a stop() that comes before the child ran
    # setpgid() still reaches every process of it
    POSIX::setpgid($pid, $pid);

    close $listen;

    return bless { pid => $pid, port => $port }, $class;
}

sub serve {
    my ($c, $handler) = @_;

    while (1) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $n = sysread($c, my $buf, 1);
            return unless $n;
            $head .= $buf;
        }

        my ($line, @lines) = split /\r\n/, $head;
        my ($method, $uri) = split / /, $line;
        my %h;
        for (@lines) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $h{lc $k} = $v;
        }

        my $body = '';
        if (my $len = $h{'content-length'}) {
            while (length $body < $len) {
                my $n = sysread($c, my $buf, $len - length $body);
                return unless $n;
                $body .= $buf;
            }
        } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $size = '';
                while ($size !~ /\r\n$/) {
                    sysread($c, my $b, 1) or return;
                    $size .= $b;
                }
                my $n = hex $size;
                my $chunk = '';
                while (length $chunk < $n + 2) {
                    my $r = sysread($c, my $buf, $n + 2 - length $chunk);
                    return unless $r;
                    $chunk .= $buf;
                }
                last if $n == 0;
                $body .= substr($chunk, 0, $n);
            }
        }

        my ($status, $rh, $rb, $opts) = @{ $handler->({ method => $method,
            uri => $uri, headers => \%h, body => $body }) };
        $rh //= {};
        $rb //= '';
        $opts //= {};
        $rh->{'Content-Length'} = length $rb;
        $rh->{'Content-Type'} //= 'application/json';

        # {delay => s}: before answering; {chunks => n, pause => s}: the
        # body in n pieces with a pause between them; {reset => 1}: close

        Time::HiRes::sleep($opts->{delay}) if $opts->{delay};
        return if $opts->{reset};

        my $resp = "HTTP/1.1 $status X\r\n"
            . join('', map { "$_: $rh->{$_}\r\n" } sort keys %$rh)
            . "\r\n";
        my @parts = ($resp);
        if (my $n = $opts->{chunks}) {
            my $size = int(length($rb) / $n) + 1;
            push @parts, substr($rb, $_ * $size, $size) for 0 .. $n - 1;
        } else {
            $parts[0] .= $rb;
        }
        for my $i (0 .. $#parts) {
            Time::HiRes::sleep($opts->{pause}) if $i > 1 && $opts->{pause};
            my $part = $parts[$i];
            my $off = 0;
            while ($off < length $part) {
                my $w = syswrite($c, $part, 65536, $off);
                return unless $w;
                $off += $w;
            }
        }

        return if ($h{connection} // '') =~ /close/i;
    }
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;

    # the whole group: a TERM that came while the first process was still
    # forking its accepting kids (before its handler) used to leave them
    # running, holding prove's output open
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY { $_[0]->stop() }

1;
