package AdcpTlsMock;

# An https server for the tests (IO::Socket::SSL, Debian's
# libio-socket-ssl-perl) in child processes, as AdcpTest::Mock is for
# http: the handler gets {method, uri, headers => {lc name => value},
# body, sni, tls} and returns [status, {headers}, body].  Each connection
# is appended to $log as a JSON line {addr, port, handshake => 0|1, sni,
# tls, error}: a client that refuses the certificate after its handshake shows
# as a handshake without a request.
#
#   my $m = AdcpTlsMock->new(port => $p, cert => $crt, key => $key,
#       log => "$dir/tls.log", handler => sub { [200, {}, '{}'] });
#
# (addr => '127.0.0.2': another loopback address than 127.0.0.1;
# version => 'TLSv1_2': IO::Socket::SSL's SSL_version)
#
# AdcpTlsMock->stall(port => $p, log => $log[, addr => $a]): a TCP server
# (on 127.0.0.1 or $a) that accepts and holds every connection, never
# answering (a peer that never completes a handshake); each accept appended
# to $log.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Socket::SSL;
use POSIX ();

use AdcpTest qw(append_line json_encode);

sub new {
    my ($class, %o) = @_;

    my $addr = $o{addr} // '127.0.0.1';
    my $listen = IO::Socket::INET->new(LocalAddr => "$addr:$o{port}",
        Listen => 1024, ReuseAddr => 1, Proto => 'tcp')
        or die "tls mock listen $addr:$o{port}: $!";

    return $class->spawn($listen, sub {
        my ($c) = @_;

        my $ssl = IO::Socket::SSL->start_SSL($c, SSL_server => 1,
            SSL_cert_file => $o{cert}, SSL_key_file => $o{key},
            ($o{version} ? (SSL_version => $o{version}) : ()),
            Timeout => 10);

        unless ($ssl) {
            append_line($o{log}, json_encode({ addr => $addr,
                port => $o{port}, handshake => 0,
                error => "$IO::Socket::SSL::SSL_ERROR" }));
            return;
        }

        my $sni = $ssl->get_servername // '';
        my $tls = $ssl->get_sslversion // '';

        append_line($o{log}, json_encode({ addr => $addr, port => $o{port},
            handshake => 1, sni => $sni, tls => $tls }));

        AdcpTest::Mock::serve($ssl, sub {
            my ($req) = @_;
            $req->{sni} = $sni;
            $req->{tls} = $tls;
            return $o{handler}->($req);
        });

        $ssl->close();
    });
}

sub stall {
    my ($class, %o) = @_;

    my $addr = $o{addr} // '127.0.0.1';
    my $listen = IO::Socket::INET->new(LocalAddr => "$addr:$o{port}",
        Listen => 1024, ReuseAddr => 1, Proto => 'tcp')
        or die "stall listen $addr:$o{port}: $!";

    my @held;

    return $class->spawn($listen, sub {
        my ($c) = @_;
        push @held, $c;
        append_line($o{log}, json_encode({ addr => $addr, port => $o{port},
            held => 1 }));
    }, 1);
}

# $serve->($socket) for each accepted connection, in $kids processes

sub spawn {
    my ($class, $listen, $serve, $kids) = @_;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        my @kids;
        for (1 .. ($kids // 4)) {
            my $kid = fork();
            if (defined $kid && $kid == 0) {
                $SIG{TERM} = 'DEFAULT';
                $SIG{PIPE} = 'IGNORE';
                while (my $c = $listen->accept) {
                    binmode $c;
                    $serve->($c);
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

    POSIX::setpgid($pid, $pid);

    close $listen;

    return bless { pid => $pid }, $class;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;

    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY { $_[0]->stop() }

1;
