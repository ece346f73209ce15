#!/usr/bin/perl

# Host -> tenant: each matching rule and its precedence (as server_name),
# the host forms nginx normalises and those it rejects, regex captures,
# adcp_tenant_key, and a known tenant passing through to the upstream.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http http_get json_decode);

my $t = AdcpTest->new;

my $long128 = 'l' x 128;

$t->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    adcp_tenants {
        wonderstruck.example.com        wonderstruck;
        *.wonderstruck.example.com      wonderstruck-sub;
        admin.wonderstruck.example.com  "";
        *.example.com                   generic;
        *.deep.example.com              deep;
        .dot.example.net                dot;
        acme.*                          acme-any;
        acme.example.*                  acme;
        ~^(?<t>[^.]+)\.agents\.test$    $t;
        ~^first\.(?<x>[a-z]+)\.test$    first-$x;
        ~^first\.order\.test$           second;
        ~*^(?<u>[a-z]+)\.(?<v>[a-z]+)\.caseless\.test$  $u-$v;
        ~^static\.regex\.test$          static-regex;
        ~^(\d+)\.num\.test$             num-$1;
        default                         "";
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / {
            default_type application/json;
            return 200 '{"tenant":"$http_x_adcp_tenant","uri":"$uri"}';
        }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        server_name wonderstruck.example.com;

        location /mcp {
            adcp on;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location /keyed {
            adcp on;
            adcp_tenant_key $http_x_tenant;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location ~ ^/cap/(.*)$ {
            adcp on;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%/echo/$1;
        }

        location /plain {
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }
    }
}
EOF

my $port = $t->port('http');

sub tenant_of {
    my ($host, $uri, %h) = @_;
    my $r = http_get($port, $host, $uri // '/mcp', %h);
    return undef unless ($r->{status} // 0) == 200;
    my $j = json_decode($r->{body}) or return undef;
    return $j->{tenant};
}

sub no_tenant {
    my ($host, $name, $uri, %h) = @_;
    my $r = http_get($port, $host, $uri // '/mcp', %h);
    is($r->{status}, 404, "$name: 404");
    is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND',
        "$name: ACCOUNT_NOT_FOUND");
}

# exact, wildcards and their precedence

is(tenant_of('wonderstruck.example.com'), 'wonderstruck', 'exact host');
is(tenant_of('www.wonderstruck.example.com'), 'wonderstruck-sub',
    'leading wildcard');
is(tenant_of('a.b.wonderstruck.example.com'), 'wonderstruck-sub',
    'leading wildcard, two labels deeper');
no_tenant('admin.wonderstruck.example.com', 'exact "" beats a wildcard');
is(tenant_of('other.example.com'), 'generic', 'shorter leading wildcard');
is(tenant_of('x.deep.example.com'), 'deep', 'longest leading wildcard wins');
is(tenant_of('dot.example.net'), 'dot', '.domain matches the domain');
is(tenant_of('x.dot.example.net'), 'dot', '.domain matches subdomains');
is(tenant_of('acme.example.org'), 'acme', 'longest trailing wildcard wins');
is(tenant_of('acme.other.org'), 'acme-any', 'shorter trailing wildcard');
is(tenant_of('acme.example.com'), 'generic',
    'leading wildcard beats trailing wildcard');

# regexes: in order, after every wildcard, captures form the id

is(tenant_of('foo-1.agents.test'), 'foo-1', 'named capture');
is(tenant_of('first.order.test'), 'first-order',
    'the first matching regex wins');
is(tenant_of('ab.cd.caseless.test'), 'ab-cd', 'two captures, caseless');
is(tenant_of('static.regex.test'), 'static-regex', 'regex with a fixed id');
is(tenant_of('42.num.test'), 'num-42', 'numbered capture');
is(tenant_of("$long128.agents.test"), $long128,
    'a capture of 128 bytes is an id');
no_tenant(('l' x 129) . '.agents.test',
    'a capture of 129 bytes is no tenant');
no_tenant('a~b.agents.test', 'a capture with a bad character is no tenant');
no_tenant('unknown.test', 'no rule: the default "" is no tenant');

# host forms nginx normalises

is(tenant_of('WonderStruck.Example.COM'), 'wonderstruck', 'host case');
is(tenant_of('wonderstruck.example.com:8080'), 'wonderstruck', 'host port');
is(tenant_of('wonderstruck.example.com.'), 'wonderstruck',
    'host trailing dot');
is(tenant_of('WWW.Wonderstruck.Example.Com.:443'), 'wonderstruck-sub',
    'all at once, through a wildcard');

my $r = http($port, "GET http://acme.example.org/mcp HTTP/1.1\r\n"
    . "Host: ignored.test\r\nConnection: close\r\n\r\n");
is(json_decode($r->{body})->{tenant}, 'acme',
    'absolute request URI: its host is $host');

$r = http($port, "GET /mcp HTTP/1.0\r\n\r\n");
is($r->{status}, 404, 'HTTP/1.0 without Host: no tenant (never the '
    . 'server_name)');
is($r->{headers}{'x-adcp-error'}, 'ACCOUNT_NOT_FOUND',
    'HTTP/1.0 without Host: ACCOUNT_NOT_FOUND');

# host forms nginx rejects before the module sees them

for my $bad ('wonder..struck.example.com', 'a/b.example.com', '') {
    $r = http($port, "GET /mcp HTTP/1.1\r\nHost: $bad\r\n"
        . "Connection: close\r\n\r\n");
    is($r->{status}, 400, "invalid host \"$bad\": 400 from nginx");
}

$r = http($port, "GET /mcp HTTP/1.1\r\nHost: wonderstruck.example.com\r\n"
    . "Host: acme.example.org\r\nConnection: close\r\n\r\n");
is($r->{status}, 400, 'duplicate Host: 400 from nginx');

# the error a buyer sees for an unknown host

$r = http_get($port, 'nobody.test', '/mcp');
is($r->{status}, 404, 'unknown host: 404');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON');
my $j = json_decode($r->{body});
is($j->{adcp_error}{code}, 'ACCOUNT_NOT_FOUND', 'plain form: adcp_error');
is($j->{adcp_error}{recovery}, 'terminal', 'recovery terminal');

# adcp_tenant_key replaces the host lookup, still validated

is(tenant_of('nobody.test', '/keyed', 'X-Tenant' => 'from-header'),
    'from-header', 'adcp_tenant_key: any host, the key is the id');
no_tenant('wonderstruck.example.com', 'adcp_tenant_key: no key, no tenant',
    '/keyed');
no_tenant('wonderstruck.example.com', 'adcp_tenant_key: invalid id',
    '/keyed', 'X-Tenant' => 'no/way');
no_tenant('wonderstruck.example.com', 'adcp_tenant_key: 129 bytes',
    '/keyed', 'X-Tenant' => 'k' x 129);

# the module's regexes leave the location's captures alone

$r = http_get($port, 'foo.agents.test', '/cap/rest/of/path');
$j = json_decode($r->{body});
is($j->{tenant}, 'foo', 'regex tenant in a regex location');
is($j->{uri}, '/echo/rest/of/path', 'the location capture $1 is intact');

# $adcp_tenant where adcp is off: resolved on demand, no error

is(tenant_of('acme.example.org', '/plain'), 'acme',
    '$adcp_tenant without adcp on');
$r = http_get($port, 'nobody.test', '/plain');
is($r->{status}, 200, 'no tenant and adcp off: passes');
is(json_decode($r->{body})->{tenant}, '', '$adcp_tenant is empty');

$t->stop();

# a non-empty default

my $t2 = AdcpTest->new;
$t2->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    adcp_tenants {
        a.test    a;
        default   fallback;
    }
    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 '{"tenant":"$http_x_adcp_tenant"}'; }
    }
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
            adcp on;
            proxy_set_header X-AdCP-Tenant $adcp_tenant;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }
    }
}
EOF

$r = http_get($t2->port('http'), 'a.test', '/');
is(json_decode($r->{body})->{tenant}, 'a', 'declared host');
$r = http_get($t2->port('http'), 'z.test', '/');
is(json_decode($r->{body})->{tenant}, 'fallback', 'default tenant');

$t2->stop();

done_testing();
