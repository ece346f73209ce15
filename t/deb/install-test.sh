#!/bin/sh
#
# t/deb/install-test.sh DEB: the package on a fresh Debian 12, as an
# operator installs it.  In a scratch root (debootstrap --variant=minbase
# bookworm, chroot): apt installs Debian's nginx, then
# "apt install ./libnginx-mod-http-adcp_*.deb"; the quickstart's http{}
# part goes to /etc/nginx/conf.d/; "nginx -t" must pass and the demo's
# requests answer from Debian's nginx with the packaged module loaded
# through /etc/nginx/modules-enabled/; "apt-get remove" sets the link
# aside (nginx -t then refuses the adcp_ directives), installing again
# puts it back.  Prints "ok N - ..." lines (TAP).
#
# Skipped unless ADCP_TEST_DEB=1 (root, network to deb.debian.org).  The
# debootstrap tree is cached in build/deb/bookworm-base and apt's
# downloads in build/deb/apt-archives: a second run only copies the tree,
# runs apt-get update and installs from the cache.  The chroot shares the
# host's network: every port is a free one, nothing listens on 80.

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$ROOT/build/deb
BASE=$CACHE/bookworm-base
SCRATCH=$CACHE/root
MIRROR=${ADCP_DEB_MIRROR:-http://deb.debian.org/debian}
n=0

if [ "${ADCP_TEST_DEB:-0}" != 1 ]; then
    echo "1..0 # SKIP set ADCP_TEST_DEB=1 (root, debootstrap, network)"
    exit 0
fi

deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -f "$deb" ] || { echo "Bail out! no package $1 (make deb)"; exit 1; }

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}

fail() {
    n=$((n + 1))
    echo "not ok $n - $1"
    shift
    [ $# -eq 0 ] || printf '# %s\n' "$@"
    if [ -s "$SCRATCH/var/log/nginx/error.log" ]; then
        sed 's/^/# error.log: /' "$SCRATCH/var/log/nginx/error.log" | tail -20
    fi
    exit 1
}

in_root() {
    chroot "$SCRATCH" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

free_port() {
    perl -MIO::Socket::INET -e '
        my %seen = map { $_ => 1 } @ARGV;
        for (1 .. 50) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                LocalPort => 0, Proto => "tcp") or next;
            my $p = $s->sockport;
            next if $seen{$p};
            print "$p\n";
            exit 0;
        }
        exit 1;' "$@"
}

stop_nginx() {
    if [ -s "$SCRATCH/run/nginx.pid" ]; then
        kill -QUIT "$(cat "$SCRATCH/run/nginx.pid")" 2>/dev/null || true
        i=0
        while [ -s "$SCRATCH/run/nginx.pid" ] && [ $i -lt 250 ]; do
            sleep 0.02
            i=$((i + 1))
        done
    fi
}

cleanup() {
    stop_nginx

    if [ -s "$SCRATCH/run/adcp-redis.pid" ]; then
        kill "$(cat "$SCRATCH/run/adcp-redis.pid")" 2>/dev/null || true
    fi

    for m in proc var/cache/apt/archives; do
        if mountpoint -q "$SCRATCH/$m"; then
            umount "$SCRATCH/$m"
        fi
    done
}

# --- the cached Debian 12 minbase tree ----------------------------------

if [ ! -x "$BASE/usr/bin/apt-get" ]; then
    rm -rf "$BASE.tmp"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase bookworm "$BASE.tmp" "$MIRROR" \
        > "$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log"; echo "Bail out! debootstrap"
             exit 1; }

    cat > "$BASE.tmp/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    # no service starts in the scratch root (nginx's postinst would bind
    # port 80 of the host)
    printf '#!/bin/sh\nexit 101\n' > "$BASE.tmp/usr/sbin/policy-rc.d"
    chmod 755 "$BASE.tmp/usr/sbin/policy-rc.d"
    rm -f "$BASE.tmp/var/cache/apt/archives/"*.deb
    mv "$BASE.tmp" "$BASE"
fi

# --- a fresh copy of it -------------------------------------------------

if [ -d "$SCRATCH" ]; then
    cleanup
    rm -rf "$SCRATCH"
fi
trap cleanup EXIT INT TERM

cp -a "$BASE" "$SCRATCH"
cp /etc/resolv.conf "$SCRATCH/etc/resolv.conf"
mount -t proc proc "$SCRATCH/proc"
mkdir -p "$CACHE/apt-archives/partial"
mount --bind "$CACHE/apt-archives" "$SCRATCH/var/cache/apt/archives"

in_root apt-get -q update > "$CACHE/apt.log" 2>&1 \
    || fail "apt-get update in the scratch root" "$(tail -5 "$CACHE/apt.log")"

in_root apt-get -q install -y nginx curl redis-server >> "$CACHE/apt.log" 2>&1 \
    || fail "Debian's nginx installed" "$(tail -5 "$CACHE/apt.log")"
ok "Debian's nginx $(in_root dpkg-query -W -f='${Version}' nginx) installed"

cp "$deb" "$SCRATCH/tmp/"
in_root sh -c "cd /tmp && apt install -y ./$(basename "$deb")" \
    >> "$CACHE/apt.log" 2>&1 \
    || fail "apt install ./$(basename "$deb")" "$(tail -5 "$CACHE/apt.log")"
ok "apt install ./$(basename "$deb")"

link=/etc/nginx/modules-enabled/50-mod-http-adcp.conf
[ -L "$SCRATCH$link" ] \
    && in_root grep -qx 'load_module modules/ngx_http_adcp_module.so;' "$link" \
    || fail "load_module enabled in /etc/nginx/modules-enabled"
ok "load_module enabled: $link -> $(readlink "$SCRATCH$link")"

[ -x "$SCRATCH/usr/bin/adcp-invalidate" ] \
    && [ -f "$SCRATCH/usr/share/doc/libnginx-mod-http-adcp/examples/quickstart.conf" ] \
    || fail "adcp-invalidate and the examples installed"
ok "adcp-invalidate in /usr/bin, examples in /usr/share/doc"

# --- the quickstart's http{} part, on free ports ------------------------

gw=$(free_port)
adapter=$(free_port "$gw")
configs=$(free_port "$gw" "$adapter")
redis=$(free_port "$gw" "$adapter" "$configs")
examples=/usr/share/doc/libnginx-mod-http-adcp/examples

# inside http{}; its log and temp paths were relative to demo.sh's -p
# prefix: Debian's nginx.conf sets them; the tenant configs are the
# packaged examples

sed -n '/^http {$/,/^}$/p' "$SCRATCH$examples/quickstart.conf" \
    | sed -e '1d' -e '$d' \
          -e '/^ *access_log logs\//d' -e '/_temp_path temp\//d' \
          -e "s|root \\.;|root $examples;|" \
          -e "s/127\\.0\\.0\\.1:8080/127.0.0.1:$gw/" \
          -e "s/127\\.0\\.0\\.1:8081/127.0.0.1:$adapter/" \
          -e "s/127\\.0\\.0\\.1:8082/127.0.0.1:$configs/" \
          -e "s/127\\.0\\.0\\.1:6390/127.0.0.1:$redis/" \
    > "$SCRATCH/etc/nginx/conf.d/adcp.conf"

# the operator's own site on port 80 is not this test's
rm -f "$SCRATCH/etc/nginx/sites-enabled/default"

in_root redis-server --port "$redis" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize yes --pidfile /run/adcp-redis.pid \
    --logfile /var/log/redis/adcp-test.log --dir /tmp > /dev/null
i=0
until in_root redis-cli -p "$redis" ping > /dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 250 ] || fail "redis-server on $redis"
    sleep 0.02
done

out=$(in_root nginx -t 2>&1) || fail "nginx -t" "$out"
ok "nginx -t: $(echo "$out" | tail -1)"

in_root nginx || fail "nginx starts"

i=0
until curl -s -o /dev/null "http://127.0.0.1:$gw/mcp"; do
    i=$((i + 1))
    [ $i -lt 250 ] || fail "the gateway answers on $gw"
    sleep 0.02
done

# --- the demo's requests ------------------------------------------------

call() {
    # $1 host, $2 JSON body: the reply, status line first
    in_root curl -s -i -m 10 "http://127.0.0.1:$gw/mcp" -H "Host: $1" \
        -H 'Content-Type: application/json' -d "$2" | tr -d '\r'
}

expect() {
    # $1 what, $2 the reply, $3... fixed strings it must hold
    what=$1 reply=$2
    shift 2
    for s in "$@"; do
        case "$reply" in
            *"$s"*) ;;
            *) fail "$what" "expected: $s" "got: $reply" ;;
        esac
    done
    ok "$what"
}

r=$(call wonderstruck.localhost '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_products","arguments":{"brief":"sports"}}}')
expect "MCP get_products for wonderstruck: its products" "$r" \
    'HTTP/1.1 200' '"product_id":"wonderstruck-display"'

r=$(call foo.agents.localhost '{"jsonrpc":"2.0","id":"a","method":"SendMessage","params":{"message":{"parts":[{"data":{"skill":"get_products","input":{}}}]}}}')
expect "A2A get_products for a regex-captured tenant" "$r" \
    'HTTP/1.1 200' '"product_id":"foo-display"'

r=$(call foo.agents.localhost '{"jsonrpc":"2.0","id":"b","method":"SendMessage","params":{"message":{"parts":[{"data":{"skill":"create_media_buy","input":{}}}]}}}')
expect "a task the platform does not list: UNSUPPORTED_FEATURE" "$r" \
    'UNSUPPORTED_FEATURE'

r=$(call nobody.localhost '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_products"}}')
expect "an unknown host: ACCOUNT_NOT_FOUND in JSON" "$r" \
    'ACCOUNT_NOT_FOUND' 'Content-Type: application/json'

r=$(call wonderstruck.localhost '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_media_buy","arguments":{"idempotency_key":"deb-buy-0001","brief":"q3 sports"}}}')
expect "create_media_buy: submitted into Redis" "$r" \
    '"status":"submitted"' '"task_id":"'
task=$(echo "$r" | sed -n 's/.*"task_id":"\([^"]*\)".*/\1/p' | head -1)

status='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_task_status","arguments":{"task_id":"'"$task"'"}}}'
i=0
until r=$(call wonderstruck.localhost "$status")
      case "$r" in *'"status":"completed"'*) true ;; *) false ;; esac
do
    i=$((i + 1))
    [ $i -lt 200 ] || break
    sleep 0.05
done
expect "its status polled: completed in the background" "$r" \
    '"status":"completed"' "$task"

r=$(in_root curl -s -m 10 "http://127.0.0.1:$gw/adcp/status")
expect "/adcp/status: the tenant healthy, Redis subscribed" "$r" \
    '"wonderstruck":{"health":"healthy"' '"state":"subscribed"'

r=$(in_root adcp-invalidate -u "redis://127.0.0.1:$redis" wonderstruck 2>&1) \
    || fail "adcp-invalidate" "$r"
case "$r" in
    *'"wonderstruck" logged as '*', heard by '[1-9]*) ;;
    *) fail "adcp-invalidate heard by this host" "$r" ;;
esac
ok "adcp-invalidate through Redis: $r"

if grep -E '\[(crit|alert|emerg)\]' "$SCRATCH/var/log/nginx/error.log"; then
    fail "no [crit], [alert] or [emerg] in error.log"
fi
ok "no [crit], [alert] or [emerg] in error.log"

# --- removed, then installed again --------------------------------------

stop_nginx
[ ! -s "$SCRATCH/run/nginx.pid" ] || fail "nginx stops"

in_root apt-get -q remove -y libnginx-mod-http-adcp >> "$CACHE/apt.log" 2>&1 \
    || fail "apt-get remove" "$(tail -5 "$CACHE/apt.log")"
[ ! -e "$SCRATCH$link" ] && [ -L "$SCRATCH$link.removed" ] \
    || fail "apt-get remove sets the modules-enabled link aside"
out=$(in_root nginx -t 2>&1) && fail "nginx -t fails without the module" "$out"
case "$out" in
    *'unknown directive "adcp_tenants"'*) ;;
    *) fail "nginx -t fails without the module" "$out" ;;
esac
ok "apt-get remove: the link set aside, nginx -t: unknown directive adcp_tenants"

in_root sh -c "cd /tmp && apt install -y ./$(basename "$deb")" \
    >> "$CACHE/apt.log" 2>&1 \
    || fail "apt install again" "$(tail -5 "$CACHE/apt.log")"
out=$(in_root nginx -t 2>&1) && [ -L "$SCRATCH$link" ] \
    || fail "installed again: the link back, nginx -t passes" "$out"
ok "installed again: the link back, nginx -t passes"

echo "1..$n"

# passed: the scratch root goes (the base tree and apt's cache stay)
trap - EXIT INT TERM
cleanup
rm -rf "$SCRATCH"
