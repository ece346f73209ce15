#!/usr/bin/perl

# adcp_tenants and friends: every configuration error fails nginx -t with
# the file and line; valid configurations pass.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest;

my $head = <<'EOF';
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
EOF

my $tail = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location /mcp { adcp on; proxy_pass http://127.0.0.1:1; }
    }
}
EOF

sub conf_t {
    my ($body, %files) = @_;
    my $t = AdcpTest->new;
    $t->write_file_expand($_, $files{$_}) for keys %files;
    return $t->test_config($head . $body . $tail);
}

sub fails {
    my ($body, $re, $name, %files) = @_;
    my ($rc, $out) = conf_t($body, %files);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: says why, with file and line");
}

my ($rc, $out) = conf_t(<<'EOF');
    adcp_tenants {
        wonderstruck.example.com     wonderstruck;
        *.wonderstruck.example.com   wonderstruck;
        acme.example.*               acme;
        .dot.example.com             dot;
        ~^(?<t>[a-z0-9-]+)\.agents\.example\.com$  $t;
        ~*^(?<u>[a-z]+)\.(?<v>[a-z]+)\.caseless\.example$  $u-$v;
        admin.wonderstruck.example.com  "";
        Upper.Example.COM.           upper;
        default                      "";
    }
EOF
is($rc, 0, 'a valid adcp_tenants block passes nginx -t') or diag($out);

fails(<<'EOF', qr/duplicate host "a\.example\.com" in adcp_tenants in \S+nginx\.conf:8/, 'duplicate host');
    adcp_tenants {
        a.example.com   a;
        b.example.com   b;
        a.example.com   c;
    }
EOF

fails(<<'EOF', qr/duplicate host "a\.example\.com" in adcp_tenants in \S+nginx\.conf:7/, 'duplicate host differing in case');
    adcp_tenants {
        a.example.com   a;
        A.Example.Com   b;
    }
EOF

fails(<<'EOF', qr/duplicate host "a\.example\.com" in adcp_tenants in \S+nginx\.conf:7/, 'duplicate host with a trailing dot');
    adcp_tenants {
        a.example.com   a;
        a.example.com.  b;
    }
EOF

fails(<<'EOF', qr/duplicate host "\.w\.example\.com" in adcp_tenants in \S+nginx\.conf:7/, 'wildcard conflicting with a dot form');
    adcp_tenants {
        *.w.example.com   a;
        .w.example.com    b;
    }
EOF

fails(<<'EOF', qr/invalid tenant id "bad\/id": a tenant id is 1 to 128 characters of A-Z a-z 0-9 \. _ - in \S+nginx\.conf:6/, 'bad id');
    adcp_tenants {
        a.example.com   bad/id;
    }
EOF

my $long = 'x' x 129;
fails(<<"EOF", qr/invalid tenant id "x{129}".* in \S+nginx\.conf:6/, 'id of 129 bytes');
    adcp_tenants {
        a.example.com   $long;
    }
EOF

($rc, $out) = conf_t("    adcp_tenants {\n        a.example.com " . ('y' x 128)
    . ";\n    }\n");
is($rc, 0, 'an id of 128 bytes is fine') or diag($out);

fails(<<'EOF', qr/invalid host or wildcard "a\.\*\.example\.com" in adcp_tenants in \S+nginx\.conf:6/, 'wildcard in the middle');
    adcp_tenants {
        a.*.example.com   a;
    }
EOF

fails(<<'EOF', qr/duplicate default in adcp_tenants in \S+nginx\.conf:7/, 'two defaults');
    adcp_tenants {
        default  a;
        default  b;
    }
EOF

fails(<<'EOF', qr/invalid number of parameters in adcp_tenants.* in \S+nginx\.conf:6/, 'three parameters');
    adcp_tenants {
        a.example.com  a  b;
    }
EOF

fails(<<'EOF', qr/variables are allowed only in the tenant of a regex host in \S+nginx\.conf:6/, 'a variable for an exact host');
    adcp_tenants {
        a.example.com  $http_x;
    }
EOF

fails(<<'EOF', qr/"adcp_tenants" directive is duplicate in \S+nginx\.conf:8/, 'two adcp_tenants blocks');
    adcp_tenants {
        a.example.com  a;
    }
    adcp_tenants {
        b.example.com  b;
    }
EOF

fails(<<'EOF', qr/pcre2?_compile\(\) failed.* in \S+nginx\.conf:6/, 'a regex that does not compile');
    adcp_tenants {
        ~^(unclosed  a;
    }
EOF

fails(<<'EOF', qr/"adcp_tenants" directive is not allowed here in \S+nginx\.conf:\d+/, 'adcp_tenants in server{}');
    server {
        listen 127.0.0.1:%%PORT_other%%;
        adcp_tenants { a.example.com a; }
    }
EOF

fails(<<'EOF', qr/invalid value "maybe" in "adcp" directive/, 'adcp takes on|off');
    server {
        listen 127.0.0.1:%%PORT_other%%;
        location / { adcp maybe; }
    }
EOF

fails(<<'EOF', qr/"adcp" directive is not allowed here/, 'adcp belongs in a location');
    server {
        listen 127.0.0.1:%%PORT_other%%;
        adcp on;
    }
EOF

# include inside the block, and its errors name the included file

($rc, $out) = conf_t(<<'EOF', 'tenants.conf' => "a.example.com a;\nb.example.com b;\n");
    adcp_tenants {
        include %%TESTDIR%%/tenants.conf;
        c.example.com c;
    }
EOF
is($rc, 0, 'include inside adcp_tenants') or diag($out);

fails(<<'EOF', qr/duplicate host "a\.example\.com" in adcp_tenants in \S+tenants\.conf:2/, 'duplicate inside an included file', 'tenants.conf' => "a.example.com a;\na.example.com b;\n");
    adcp_tenants {
        include %%TESTDIR%%/tenants.conf;
    }
EOF

fails(<<'EOF', qr/invalid tenant id "no way".* in \S+tenants\.conf:3/, 'bad id inside an included file', 'tenants.conf' => "a.example.com a;\nb.example.com b;\nc.example.com \"no way\";\n");
    adcp_tenants {
        include %%TESTDIR%%/tenants.conf;
    }
EOF

# adcp_tenant_key takes any complex value

($rc, $out) = conf_t(<<'EOF');
    adcp_tenant_key $http_x_adcp_tenant;
EOF
is($rc, 0, 'adcp_tenant_key at http level') or diag($out);

fails(<<'EOF', qr/invalid number of arguments in "adcp_tenant_key" directive/, 'adcp_tenant_key without a value');
    adcp_tenant_key;
EOF

fails(<<'EOF', qr/"adcp_tenants_hash_max_size" directive invalid number in \S+nginx\.conf:5/, 'adcp_tenants_hash_max_size takes a number');
    adcp_tenants_hash_max_size lots;
EOF

# the platform cache

($rc, $out) = conf_t(<<'EOF');
    adcp_cache_size      64;
    adcp_cache_ttl       0;
    adcp_failure_ttl     1s 1m;
    adcp_not_found_ttl   30s;
    adcp_build_timeout   2s;
    adcp_factory         /_factory;
EOF
is($rc, 0, 'platform cache directives') or diag($out);

fails(<<'EOF', qr/"adcp_cache_size" directive must be more than 0 \(platforms cached per worker\) in \S+nginx\.conf:5/, 'adcp_cache_size 0');
    adcp_cache_size 0;
EOF

fails(<<'EOF', qr/"adcp_cache_size" directive invalid number/, 'adcp_cache_size not a number');
    adcp_cache_size many;
EOF

fails(<<'EOF', qr/"adcp_cache_ttl" directive invalid value/, 'adcp_cache_ttl not a time');
    adcp_cache_ttl soon;
EOF

fails(<<'EOF', qr/invalid adcp_failure_ttl maximum "1s": it must be at least the minimum in \S+nginx\.conf:5/, 'adcp_failure_ttl max below min');
    adcp_failure_ttl 5s 1s;
EOF

fails(<<'EOF', qr/invalid adcp_failure_ttl "0"/, 'adcp_failure_ttl 0');
    adcp_failure_ttl 0;
EOF

fails(<<'EOF', qr/adcp_factory "_factory" is not a location URI in \S+nginx\.conf:5/, 'adcp_factory not a URI');
    adcp_factory _factory;
EOF

($rc, $out) = conf_t(<<'EOF');
    adcp_stale_if_error  10m;
    adcp_zone_size       1m;
    adcp_factory         /_factory;
EOF
is($rc, 0, 'shared zone directives') or diag($out);

fails(<<'EOF', qr/adcp_zone_size must be at least 256k in \S+nginx\.conf:\d+/, 'adcp_zone_size too small');
    adcp_zone_size 64k;
    adcp_factory /_factory;
EOF

($rc, $out) = conf_t(<<'EOF');
    adcp_cache_shared    1m;
    adcp_cache_refresh   75%;
    adcp_factory         /_factory;
EOF
is($rc, 0, 'adcp_cache_shared, adcp_cache_refresh') or diag($out);

($rc, $out) = conf_t(<<'EOF');
    adcp_cache_shared    off;
    adcp_cache_refresh   off;
    adcp_factory         /_factory;
EOF
is($rc, 0, 'adcp_cache_shared off, adcp_cache_refresh off') or diag($out);

fails(<<'EOF', qr/adcp_cache_shared "16k" is too small: at least 32k, or off in \S+nginx\.conf:\d+/, 'adcp_cache_shared too small');
    adcp_cache_shared 16k;
EOF

fails(<<'EOF', qr/invalid adcp_cache_shared "lots" in \S+nginx\.conf:\d+/, 'adcp_cache_shared not a size');
    adcp_cache_shared lots;
EOF

for my $bad ('100%', '0%', '90', 'x%', '%') {
    fails(<<"EOF", qr/invalid adcp_cache_refresh "\Q$bad\E": a share of the lifetime from 1% to 99%, or off in \S+nginx\.conf:\d+/, "adcp_cache_refresh $bad");
    adcp_cache_refresh $bad;
EOF
}

fails(<<'EOF', qr/"adcp_cache_refresh" directive is duplicate/, 'adcp_cache_refresh twice');
    adcp_cache_refresh 50%;
    adcp_cache_refresh 60%;
EOF

fails(<<'EOF', qr/"adcp_stale_if_error" directive invalid value/, 'adcp_stale_if_error not a time');
    adcp_stale_if_error never;
EOF

fails(<<'EOF', qr/"adcp_status" directive is not allowed here/, 'adcp_status in a server');
    server {
        listen 127.0.0.1:%%PORT_other%%;
        adcp_status;
    }
EOF

($rc, $out) = conf_t(<<'EOF');
    adcp_redis           127.0.0.1:6390 password=x db=2;
    adcp_redis_channel   ops:invalidate;
    adcp_redis_ping      2s;
    adcp_redis_down_ttl  30s;
    adcp_factory         /_factory;
EOF
is($rc, 0, 'redis directives') or diag($out);

# a webhook's retries end with its task's record: a ttl shorter than the
# retry horizon is said at nginx -t (a warning, not an error)

($rc, $out) = conf_t(<<'EOF');
    adcp_redis 127.0.0.1:6379;
    adcp_task_ttl 1h;
    server {
        listen 127.0.0.1:%%PORT_hooks%%;
        adcp_factory /_f;
        location /hooks {
            adcp on;
            adcp_async create_media_buy;
            adcp_task_webhooks on;
            proxy_pass http://127.0.0.1:1;
        }
        location /_f { proxy_pass http://127.0.0.1:1; }
    }
EOF
is($rc, 0, 'adcp_task_ttl 1h with webhooks: nginx -t passes') or diag($out);
my $warn = '"adcp_task_ttl" (3600000 ms) is shorter than '
    . '"adcp_task_webhook_retry_horizon" (86400000 ms) in ';
like($out // '', qr/\[warn\].*\Q$warn\E\S+nginx\.conf:12:/,
    '... and warns that retries end with the record');

fails(<<'EOF', qr/adcp_redis "no-such-host\.invalid:6379": host not found in \S+nginx\.conf:5/, 'adcp_redis with a host that does not resolve');
    adcp_redis no-such-host.invalid:6379;
EOF

($rc, $out) = conf_t(<<'EOF');
    adcp_redis 127.0.0.1:6379 token=s3cr3t;
EOF
isnt($rc, 0, 'adcp_redis with an unknown parameter fails');
like($out, qr/adcp_redis: unknown parameter "token" in \S+nginx\.conf:5/,
    'adcp_redis: names the parameter');
unlike($out, qr/s3cr3t/, 'adcp_redis: never echoes its value');

fails(<<'EOF', qr/adcp_redis: invalid "db=x"/, 'adcp_redis db not a number');
    adcp_redis 127.0.0.1:6379 db=x;
EOF

fails(<<'EOF', qr/"adcp_redis" directive is duplicate/, 'two adcp_redis');
    adcp_redis 127.0.0.1:6379;
    adcp_redis 127.0.0.1:6380;
EOF

# Sentinel (issue 17)

($rc, $out) = conf_t(<<'EOF');
    adcp_redis sentinel=127.0.0.1:26379,127.0.0.1:26380 master=mymaster
               user=adcp password=x db=1 sentinel_password=s3nt;
    adcp_task_durability replicas=1 timeout=250ms;
EOF
is($rc, 0, 'adcp_redis sentinel=... master=... passes nginx -t')
    or diag($out);

fails(<<'EOF', qr/adcp_redis "sentinel=127\.0\.0\.1:26379" has no "master="/, 'sentinel without master=');
    adcp_redis sentinel=127.0.0.1:26379;
EOF

fails(<<'EOF', qr/adcp_redis: invalid sentinel "127\.0\.0\.1" \(host:port\)/, 'a sentinel without its port');
    adcp_redis sentinel=127.0.0.1 master=m;
EOF

fails(<<'EOF', qr/adcp_redis: invalid sentinel "" \(host:port\)/, 'an empty sentinel in the list');
    adcp_redis sentinel=127.0.0.1:26379,,127.0.0.1:26380 master=m;
EOF

fails(<<'EOF', qr/adcp_redis "no-such-host\.invalid:26379": host not found/, 'a sentinel that does not resolve');
    adcp_redis sentinel=no-such-host.invalid:26379 master=m;
EOF

($rc, $out) = conf_t(<<'EOF');
    adcp_redis sentinel=127.0.0.1:26379 master=m sentinel_pass=s3nt;
EOF
isnt($rc, 0, 'sentinel: an unknown parameter fails');
like($out, qr/adcp_redis: unknown parameter "sentinel_pass"/,
    'sentinel: names the parameter');
unlike($out, qr/s3nt/, 'sentinel: never echoes its value');

fails(<<'EOF', qr/adcp_task_durability: invalid "replicas=0"/, 'durability replicas=0');
    adcp_task_durability replicas=0;
EOF

fails(<<'EOF', qr/adcp_task_durability: invalid "timeout=soon"/, 'durability bad timeout');
    adcp_task_durability replicas=1 timeout=soon;
EOF

fails(<<'EOF', qr/adcp_task_durability needs "replicas="/, 'durability without replicas');
    adcp_task_durability timeout=1s;
EOF

fails(<<'EOF', qr/"adcp_cache_size" directive is not allowed here/, 'adcp_cache_size in a server');
    server {
        listen 127.0.0.1:%%PORT_other%%;
        adcp_cache_size 5;
    }
EOF

done_testing();
