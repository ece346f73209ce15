package AdcpCerts;

# Keys and certificates the webhook tests make with openssl(1): a webhook
# signing key (genpkey), a test CA, and a server certificate it signs
# (P-256, valid two days), each a file in the given directory.
#
#   AdcpCerts::signing_key("$dir/sign.pem");            Ed25519
#   AdcpCerts::signing_key("$dir/es.pem", 'es256');     ECDSA P-256
#   AdcpCerts::ca($dir, 'ca', 'AdCP test CA');           ca.key, ca.crt
#   AdcpCerts::cert($dir, 'good', 'ca', $cn, 'DNS:a.test,IP:127.0.0.1');

use strict;
use warnings;

my %ALG = (ed25519 => ['-algorithm', 'ed25519'],
    es256 => ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);

sub openssl {
    my ($dir, @args) = @_;
    my $cmd = join ' ', 'cd', "'$dir'", '&&', 'openssl',
        map { "'$_'" } @args;
    my $out = `$cmd 2>&1`;
    die "openssl @args: $out" if $?;
}

sub signing_key {
    my ($path, $alg) = @_;
    my $args = $ALG{$alg // 'ed25519'} or die "no key algorithm $alg";
    openssl('/', 'genpkey', @$args, '-out', $path);
    return $path;
}

sub ca {
    my ($dir, $name, $cn) = @_;
    openssl($dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
        '-keyout', "$name.key", '-out', "$name.crt", '-subj', "/CN=$cn",
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

sub cert {
    my ($dir, $name, $ca, $cn, $san) = @_;
    open my $fh, '>', "$dir/$name.ext" or die "$dir/$name.ext: $!";
    print $fh "subjectAltName=$san\nbasicConstraints=CA:FALSE\n"
        . "extendedKeyUsage=serverAuth\n";
    close $fh;
    openssl($dir, 'req', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-nodes', '-keyout', "$name.key",
        '-out', "$name.csr", '-subj', "/CN=$cn");
    openssl($dir, 'x509', '-req', '-in', "$name.csr", '-CA', "$ca.crt",
        '-CAkey', "$ca.key", '-set_serial', int(rand(1e9)) + 1,
        '-days', '2', '-extfile', "$name.ext", '-out', "$name.crt");
}

1;
