#!/usr/bin/perl

# adcp_task_webhook_signing_key and adcp_jwks: the JWKS nginx serves holds
# each configured key's public part (the PEM's, byte for byte) as AdCP's
# request-signing JWK, and a webhook signed by the module's signing code
# with those keys verifies against it in a second implementation
# (Python's cryptography); a reload rotates keys; configuration errors say
# what is wrong.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MIME::Base64 qw(encode_base64url);
use AdcpTest qw(http http_get json_decode schema_check wait_for);

plan(skip_all => 'openssl (the command) is not installed')
    if system('openssl version >/dev/null 2>&1') != 0;

my $root = AdcpTest::repo_root();

sub keygen {
    my ($t, $name, @args) = @_;
    my $path = $t->testdir() . "/$name";
    system("openssl genpkey @args -out $path 2>/dev/null") == 0
        or die "openssl genpkey @args failed";
    return $path;
}

# the public key as openssl sees it: the raw bytes at the end of its DER

sub pub_raw {
    my ($path, $len) = @_;
    my $der = `openssl pkey -in $path -pubout -outform DER 2>/dev/null`;
    return substr($der, -$len);
}

my $head = <<'EOF';
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
EOF

my $tail = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location = /.well-known/jwks.json { adcp_jwks; }
    }
}
EOF

# --- the JWKS served ----------------------------------------------------

my $t = AdcpTest->new;
my $ed = keygen($t, 'ed.pem', '-algorithm', 'ed25519');
my $es = keygen($t, 'es.pem', '-algorithm', 'EC',
    '-pkeyopt', 'ec_paramgen_curve:P-256');

$t->run($head . <<'EOF' . $tail);
    adcp_task_webhook_signing_key ed.pem kid=gw-ed-2026-12;
    adcp_task_webhook_signing_key es.pem kid=gw-es-2026-12;
EOF

my $port = $t->port('http');
my $r = http_get($port, 'gw.test', '/.well-known/jwks.json');

is($r->{status}, 200, 'GET the JWKS: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'as JSON');
is($r->{headers}{'cache-control'}, 'max-age=300', 'cacheable five minutes');

my $jwks = json_decode($r->{body});
my @keys = $jwks ? @{$jwks->{keys} || []} : ();

is(scalar @keys, 2, 'both keys published, in configuration order')
    or diag($r->{body});

is_deeply($keys[0], {
    kty => 'OKP', crv => 'Ed25519', alg => 'EdDSA', kid => 'gw-ed-2026-12',
    use => 'sig', key_ops => ['verify'], adcp_use => 'request-signing',
    x => encode_base64url(pub_raw($ed, 32)),
}, 'the Ed25519 JWK: its x is the PEM\'s public key');

my $point = pub_raw($es, 65);

is_deeply($keys[1], {
    kty => 'EC', crv => 'P-256', alg => 'ES256', kid => 'gw-es-2026-12',
    use => 'sig', key_ops => ['verify'], adcp_use => 'request-signing',
    x => encode_base64url(substr($point, 1, 32)),
    y => encode_base64url(substr($point, 33, 32)),
}, 'the P-256 JWK: its x and y are the PEM\'s public point');

schema_check($_, 'core/agent-signing-key.json',
    "JWK $_->{kid} valid against core/agent-signing-key.json") for @keys;

$r = http($port, "HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: gw.test\r\n"
    . "Connection: close\r\n\r\n");
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');

$r = http($port, "POST /.well-known/jwks.json HTTP/1.1\r\nHost: gw.test\r\n"
    . "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
is($r->{status}, 405, 'POST: 405');

# --- a webhook signed by the module's code verifies against it ----------

my $signer = "$root/build/unit/test_tasks_sign";
my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';

SKIP: {
    skip 'the signer (make build/unit/test_tasks_sign) is not built', 4
        unless -x $signer;
    skip 'python3 with cryptography (python3-cryptography) is not installed',
        4 if system("$python -c 'import cryptography' >/dev/null 2>&1") != 0;

    my $dir = $t->testdir();
    $t->write_file('jwks.json',
        http_get($port, 'gw.test', '/.well-known/jwks.json')->{body});

    my $body = '{"idempotency_key":"whk_0123456789abcdef","task_id":"t1",'
        . '"status":"completed"}';

    for my $k (['ed.pem', 'gw-ed-2026-12', 'Ed25519'],
               ['es.pem', 'gw-es-2026-12', 'ES256'])
    {
        my $out = `$signer --sign $dir/$k->[0] $k->[1] 'https://Hooks.Buyer.Example:9443/adcp/hook?op=1' application/json '$body'`;
        my $req = json_decode($out) || {};
        $req->{jwks_file} = "$dir/jwks.json";
        $t->write_file('req.json', AdcpTest::json_encode($req));

        my $v = `$python $root/t/lib/adcp_verify_webhook.py $dir/req.json 2>&1`;
        is($v, "verified\n", "$k->[2]: python verifies the module's "
            . 'signature with the JWKS nginx serves') or diag($out);

        $req->{body} =~ s/completed/failed/;
        $t->write_file('req.json', AdcpTest::json_encode($req));
        $v = `$python $root/t/lib/adcp_verify_webhook.py $dir/req.json 2>&1`;
        isnt($v, "verified\n", "$k->[2]: a changed body does not verify");
    }
}

# --- rotation by reload: a new key signs first, the old one still listed

SKIP: {
skip 'reloads need a master process (not under valgrind)', 2
    if AdcpTest::valgrind();

my $ed2 = keygen($t, 'ed2.pem', '-algorithm', 'ed25519');

$t->write_file_expand('nginx.conf', $head . <<'EOF' . $tail);
    adcp_task_webhook_signing_key ed2.pem kid=gw-ed-2027-01;
    adcp_task_webhook_signing_key ed.pem kid=gw-ed-2026-12;
EOF
$t->reload();

# old workers may answer for a moment after the reload: one response read

my $new;
my $kids = sub {
    $new = json_decode(http_get($port, 'gw.test',
        '/.well-known/jwks.json')->{body} // '') || {};
    return join ',', map { $_->{kid} } @{$new->{keys} || []};
};

ok(wait_for(sub { $kids->() eq 'gw-ed-2027-01,gw-ed-2026-12' }),
    'after a reload: the new key first, the old one still published')
    or diag($kids->());

is($new->{keys}[0]{x}, encode_base64url(pub_raw($ed2, 32)),
    'the new key\'s public part');
}

$t->stop();

# --- no key: an empty set -----------------------------------------------

$t = AdcpTest->new;
$t->run($head . $tail);
$r = http_get($t->port('http'), 'gw.test', '/.well-known/jwks.json');
is($r->{status}, 200, 'no key configured: 200');
is_deeply(json_decode($r->{body}), { keys => [] }, 'no key: {"keys":[]}');
$t->stop();

# --- configuration errors -----------------------------------------------

sub fails {
    my ($body, $re, $name) = @_;
    my $c = AdcpTest->new;
    keygen($c, 'ed.pem', '-algorithm', 'ed25519');
    keygen($c, 'p384.pem', '-algorithm', 'EC',
        '-pkeyopt', 'ec_paramgen_curve:P-384');
    keygen($c, 'rsa.pem', '-algorithm', 'RSA',
        '-pkeyopt', 'rsa_keygen_bits:1024');
    keygen($c, 'enc.pem', '-algorithm', 'ed25519', '-aes-128-cbc',
        '-pass', 'pass:secret');
    $c->write_file('junk.pem', "not a key\n");
    my ($rc, $out) = $c->test_config($head . $body . $tail);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: says why, with file and line");
}

fails("    adcp_task_webhook_signing_key ed.pem gw-1;\n",
    qr/invalid parameter "gw-1", kid=<id> expected in \S+nginx\.conf:5/,
    'no kid=');
fails("    adcp_task_webhook_signing_key ed.pem kid=gw/1;\n",
    qr/invalid kid "gw\/1"/, 'a kid outside [A-Za-z0-9_.:-]');
fails("    adcp_task_webhook_signing_key ed.pem kid=a;\n"
    . "    adcp_task_webhook_signing_key ed.pem kid=a;\n",
    qr/duplicate kid "a" in \S+nginx\.conf:6/, 'a kid twice');
fails("    adcp_task_webhook_signing_key none.pem kid=a;\n",
    qr/adcp_task_webhook_signing_key "\S+none\.pem" cannot be opened/,
    'a missing file');
fails("    adcp_task_webhook_signing_key junk.pem kid=a;\n",
    qr/"\S+junk\.pem" is not an unencrypted PEM private key/, 'not a key');
fails("    adcp_task_webhook_signing_key enc.pem kid=a;\n",
    qr/"\S+enc\.pem" is not an unencrypted PEM private key/,
    'an encrypted key (no prompt)');
fails("    adcp_task_webhook_signing_key rsa.pem kid=a;\n",
    qr/"\S+rsa\.pem" is neither an Ed25519 nor an EC P-256 key/, 'RSA');
fails("    adcp_task_webhook_signing_key p384.pem kid=a;\n",
    qr/"\S+p384\.pem" is neither an Ed25519 nor an EC P-256 key/, 'P-384');
fails("    server { adcp_task_webhook_signing_key ed.pem kid=a; }\n",
    qr/"adcp_task_webhook_signing_key" directive is not allowed here/,
    'in a server block');

done_testing();
