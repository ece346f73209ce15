#!/bin/sh
#
# Memory as tenants churn: one worker, adcp_cache_size 64, distinct tenants
# sent one after another over keep-alive connections; the worker's RSS
# (from /proc) after start, after 2,000 and after 20,000 tenants.  Every
# request builds a platform (a factory subrequest answering a ~300-byte
# descriptor) and evicts one: the RSS must stay flat.
#
#   sh bench/churn.sh           FIRST=2000 TOTAL=20000

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${ADCP_MODULE:-$ROOT/build/ngx_http_adcp_module.so}
FIRST=${FIRST:-2000}
TOTAL=${TOTAL:-20000}
WORK=$(mktemp -d /tmp/adcp-churn-XXXXXX)
chmod 755 "$WORK"
free_port() {
    # a port of 127.0.0.1 nothing listens on now (the kernel's choice)
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp")->sockport'
}
PORT=$(free_port)

cleanup() {
    [ -s "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" <<EOF
load_module $MODULE;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events {}
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;

    adcp_tenants { ~^(?<t>[a-z0-9-]+)\.test\$ \$t; }
    adcp_cache_size 64;

    server {
        listen 127.0.0.1:$PORT;
        adcp_factory /_factory;

        location /mcp {
            adcp on;
            return 200 'never';
        }

        location /gw {
            adcp on;
            proxy_pass http://127.0.0.1:$PORT/adapter;
        }

        location /adapter {
            return 200 'ok';
        }

        location = /_factory {
            internal;
            return 200 '{"upstream":"127.0.0.1:$PORT","authorization":"Bearer token-of-\$adcp_tenant-0123456789abcdef0123456789abcdef","capabilities":["get_products","create_media_buy","get_media_buy_delivery"],"vars":{"network_code":"\$adcp_tenant","region":"eu-west-1"},"ttl":900}';
        }
    }
}
EOF

"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log"

i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/adapter" || [ $i -ge 250 ]; do
    sleep 0.02; i=$((i + 1))
done

master=$(cat "$WORK/nginx.pid")
worker=$(pgrep -P "$master" | head -n 1)

# VmRSS counts the shared zones' pages this worker touched (the host's
# platform store and the tenants' slots fill as tenants come: bounded by
# adcp_cache_shared and adcp_zone_size); RssAnon is the worker's own
# memory, what must stay flat

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$worker/status"; }
own() { awk '/^RssAnon/ { print $2 }' "/proc/$worker/status"; }
shm() { awk '/^RssShmem/ { print $2 }' "/proc/$worker/status"; }

send() {
    # tenants $1 .. $2 - 1, keep-alive, checking every answer
    perl -MIO::Socket::INET -e '
        my ($port, $from, $to) = @ARGV;
        my $s;
        for my $i ($from .. $to - 1) {
            $s //= IO::Socket::INET->new("127.0.0.1:$port") or die $!;
            print $s "GET /gw HTTP/1.1\r\nHost: churn-$i.test\r\n\r\n";
            my $head = "";
            $head .= getc($s) while $head !~ /\r\n\r\n$/;
            $head =~ m{^HTTP/1.1 200} or die "tenant $i: $head";
            my ($len) = $head =~ /Content-Length: (\d+)/i;
            read($s, my $body, $len);
            undef $s if $head =~ /Connection: close/i;
        }' "$PORT" "$1" "$2"
}

r0=$(rss); p0=$(own)
send 0 "$FIRST"
r1=$(rss); p1=$(own)
send "$FIRST" "$TOTAL"
r2=$(rss); p2=$(own); s2=$(shm)

printf '%-28s %10s\n' "worker RSS" KB
printf '%-28s %10s\n' "after start" "$r0"
printf '%-28s %10s\n' "after $FIRST tenants" "$r1"
printf '%-28s %10s\n' "after $TOTAL tenants" "$r2"
printf '%-28s %10s\n' "growth $FIRST -> $TOTAL" "$((r2 - r1))"
printf '%-28s %10s %10s %10s\n' "worker's own (RssAnon) KB" "$p0" "$p1" "$p2"
printf '%-28s %10s\n' "shared zones touched KB" "$s2"
echo "RESULT churn $FIRST $TOTAL $r0 $r1 $r2 $p0 $p1 $p2 $s2"
