package AdcpRedisHA;

# Redis with Sentinel for the tests, real processes on 127.0.0.1: a
# master, replicas (--replicaof) and sentinels (redis-server --sentinel
# with a configuration file of their own, down-after 1 s, failover-timeout
# 3 s), each on a free port of the test (AdcpTest::port), logging to
# <testdir>/<name>.log.  SIGKILL one with kill(); every one left is
# stopped with the object.  cmd() speaks RESP and returns the reply as a
# Perl value (arrays as array refs, errors as "ERR..." strings prefixed
# with "-").

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

sub new {
    my ($class, $t, %o) = @_;
    return bless { t => $t, dir => $t->testdir, pids => {},
        down_after => $o{down_after} // 1000,
        failover_timeout => $o{failover_timeout} // 3000 }, $class;
}

sub port { $_[0]{t}->port($_[1]) }

sub spawn {
    my ($self, $name, @cmd) = @_;
    my $dir = $self->{dir};

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>>', "$dir/$name.log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }

    $self->{pids}{$name} = $pid;

    my $port = $self->port($name);
    my $deadline = time() + 10;
    until (IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp'))
    {
        die "$name did not start" if time() > $deadline;
        sleep 0.02;
    }

    return $port;
}

# a data node; replica_of: the name of its master

sub redis {
    my ($self, $name, %o) = @_;
    my @extra = @{$o{extra} || []};

    push @extra, '--replicaof', '127.0.0.1', $self->port($o{replica_of})
        if $o{replica_of};

    return $self->spawn($name, 'redis-server', '--port', $self->port($name),
        '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', $self->{dir}, '--dbfilename', "$name.rdb", @extra);
}

# a sentinel watching the data node named master as "mymaster"

sub sentinel {
    my ($self, $name, $master, %o) = @_;
    my $conf = "$self->{dir}/$name.conf";
    my $mport = $self->port($master);

    open my $fh, '>', $conf or die "$conf: $!";
    print $fh "port " . $self->port($name) . "\n"
        . "bind 127.0.0.1\n"
        . "dir $self->{dir}\n"
        . "sentinel monitor mymaster 127.0.0.1 $mport 2\n"
        . "sentinel down-after-milliseconds mymaster $self->{down_after}\n"
        . "sentinel failover-timeout mymaster $self->{failover_timeout}\n"
        . "sentinel parallel-syncs mymaster 1\n"
        . ($o{conf} // '');
    close $fh;

    return $self->spawn($name, 'redis-server', $conf, '--sentinel');
}

sub kill {
    my ($self, $name, $sig) = @_;
    my $pid = delete $self->{pids}{$name} or return;
    local $?;
    CORE::kill($sig // 'KILL', $pid);
    waitpid($pid, 0);
}

sub stop_all {
    my ($self) = @_;
    $self->kill($_, 'TERM') for keys %{$self->{pids}};
}

# waitpid() sets $?: at global destruction it would become the exit status

sub DESTROY { local $?; $_[0]->stop_all() }

# one command on a new connection; the reply parsed

sub cmd {
    my ($self, $name, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:'
        . $self->port($name), Proto => 'tcp', Timeout => 5) or return;
    print $s '*' . scalar(@args) . "\r\n"
        . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $v = read_reply($s);
    close $s;
    return $v;
}

sub read_reply {
    my ($s) = @_;
    my $line = <$s>;
    return undef unless defined $line;
    $line =~ s/\r\n$//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));

    return $rest if $type eq '+' || $type eq ':';
    return "-$rest" if $type eq '-';

    if ($type eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        read($s, $buf, $rest + 2);
        return substr($buf, 0, $rest);
    }

    if ($type eq '*') {
        return undef if $rest < 0;
        return [map { read_reply($s) } 1 .. $rest];
    }

    return undef;
}

# the master's port as a sentinel names it (undef: none)

sub master_port {
    my ($self, $sentinel) = @_;
    my $r = $self->cmd($sentinel, 'SENTINEL', 'get-master-addr-by-name',
        'mymaster');
    return ref $r eq 'ARRAY' ? $r->[1] : undef;
}

# a sentinel speaking RESP that answers every command with $answer (raw
# RESP text); returns its port; a child process stopped with the object

sub fake_sentinel {
    my ($self, $name, $answer) = @_;
    my $port = $self->port($name);
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 128, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $l->accept) {
            next if fork();
            # one answer per command (a command: one "*<n>" array)
            while (defined(my $line = <$c>)) {
                next unless $line =~ /^\*(\d+)/;
                for (1 .. $1) { <$c>; <$c>; }
                print $c $answer;
            }
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }

    close $l;
    $self->{pids}{$name} = $pid;
    return $port;
}

1;
