package AdcpDnsMock;

# A minimal DNS server over UDP for nginx's resolver in the tests: A
# queries for a name in %names get that address, or each of a list of them
# (TTL 60), AAAA queries for it an empty answer, anything else NXDOMAIN.  Each query's name and type
# is appended to a log file, so a test can count lookups.
#
#   my $dns = AdcpDnsMock->new($port, "$dir/dns.log",
#       'adapter.test' => '127.0.0.1');

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();

sub new {
    my ($class, $port, $log, %names) = @_;

    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Proto => 'udp') or die "dns mock $port: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        my $test = getppid();
        $SIG{TERM} = sub { POSIX::_exit(0) };

        while (1) {
            # the test went away without stopping us: so do we
            POSIX::_exit(0) if getppid() != $test;

            my $rin = '';
            vec($rin, fileno($s), 1) = 1;
            next unless select(my $rout = $rin, undef, undef, 1);

            my $peer = $s->recv(my $q, 512) or next;
            my $a = answer($q, \%names, $log) or next;
            $s->send($a, 0, $peer);
        }
    }

    close $s;

    return bless { pid => $pid }, $class;
}

sub answer {
    my ($q, $names, $log) = @_;

    return if length $q < 17;

    my ($id) = unpack 'n', $q;
    my $off = 12;
    my @labels;

    while (1) {
        my $len = ord substr($q, $off, 1);
        $off++;
        last if $len == 0;
        return if $len > 63 || $off + $len > length $q;
        push @labels, substr($q, $off, $len);
        $off += $len;
    }

    return if $off + 4 > length $q;

    my ($type) = unpack 'n', substr($q, $off, 2);
    my $question = substr($q, 12, $off + 4 - 12);
    my $name = lc join '.', @labels;

    if (open my $fh, '>>', $log) {
        syswrite $fh, "$name $type\n";
        close $fh;
    }

    my $addr = $names->{$name};
    my ($rcode, $an, $n) = (0, '', 0);

    if (!defined $addr) {
        $rcode = 3;

    } elsif ($type == 1) {
        for (ref $addr ? @$addr : $addr) {
            $an .= pack('n n n N n', 0xc00c, 1, 1, 60, 4)
                . pack('C4', split /\./);
            $n++;
        }
    }

    return pack('n n n n n n', $id, 0x8180 | $rcode, 1, $n, 0, 0)
        . $question . $an;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

sub DESTROY { $_[0]->stop() }

1;
