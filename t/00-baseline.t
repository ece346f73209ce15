#!/usr/bin/perl

# nginx alone: a configuration without any directive of this module
# (regex server names, a regex map, proxy_pass, an error page, reloads).
# Whatever a memory checker reports here is nginx's own: t/valgrind.supp,
# t/lsan.supp and t/ubsan.ignore may only hold what this test needs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use AdcpTest qw(http_get wait_for);

my $t = AdcpTest->new;

$t->write_file_expand('nginx.conf', <<'EOF')->run();
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%

    map $host $m {
        ~^(?<a>[a-z]+)\.test$   $a;
        ~^([a-z]+)\.num$        num-$1;
        default                 none;
    }

    server {
        listen 127.0.0.1:%%PORT_adapter%%;
        location / { return 200 'm=$http_x_m'; }
    }

    server {
        listen 127.0.0.1:%%PORT_http%%;
        server_name ~^(?<s>[a-z]+)\.test$ plain.test;

        location / {
            proxy_set_header X-M $m;
            proxy_pass http://127.0.0.1:%%PORT_adapter%%;
        }

        location /down {
            proxy_pass http://127.0.0.1:%%PORT_closed%%;
        }
    }
}
EOF

my $port = $t->port('http');

is(http_get($port, 'abc.test', '/')->{body}, 'm=abc', 'a request');
is(http_get($port, 'abc.test', '/down')->{status}, 502, 'an error page');
is(http_get($port, 'abc.num', '/')->{body}, 'm=num-abc',
    'a map value with a numbered capture');

SKIP: {
    skip 'reloads need a master process', 2 if AdcpTest::valgrind();

    for my $i (1 .. 3) {
        $t->reload();
        wait_for(sub {
            my $k = () = $t->read_file('error.log') =~ /signal 1 \(SIGHUP\) received/g;
            $k >= $i;
        });
    }

    my $k = () = $t->read_file('error.log') =~ /signal 1 \(SIGHUP\) received/g;
    is($k, 3, 'three reloads');
    ok(wait_for(sub { http_get($port, 'xyz.test', '/')->{body} eq 'm=xyz' }),
        'served after the reloads');
}

$t->stop();

done_testing();
