#!/bin/sh
#
# Start-up cost of declaring tenants: `nginx -t` time and master/worker RSS
# with N tenant hosts in adcp_tenants{}, next to the same hosts in a
# `map $host $t { hostnames; ... }` block (SPEC section 1: within 1.5x).
#
#   sh bench/boot.sh [N ...]        default: 10 1000 100000
#
# Each `nginx -t` is run RUNS times (default 7), alternating the two
# configurations; the median wall time is reported.  RSS is read from
# /proc after a real start (one worker).

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${ADCP_MODULE:-$ROOT/build/ngx_http_adcp_module.so}
RUNS=${RUNS:-7}
WORK=$(mktemp -d /tmp/adcp-boot-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

# hash sizes given to both sides, so that both build the same kind of hash
HASH="max_size 262144; bucket_size 128"

hosts() {
    # $1 = count; $2 = line prefix (map needs none); host -> tenant-<i>
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "        t%d.tenants.example.com tenant-%d;\n", i, i }'
}

conf() {
    # $1 = adcp|map, $2 = N, $3 = port
    dir=$WORK/$1-$2
    mkdir -p "$dir/logs"
    hosts "$2" > "$dir/hosts.conf"

    if [ "$1" = adcp ]; then
        top="load_module $MODULE;"
        block="adcp_tenants_hash_max_size 262144;
    adcp_tenants_hash_bucket_size 128;
    adcp_tenants { include $dir/hosts.conf; }"
    else
        top=""
        block="map_hash_max_size 262144;
    map_hash_bucket_size 128;
    map \$host \$tenant { hostnames; include $dir/hosts.conf; }"
    fi

    cat > "$dir/nginx.conf" <<EOF
$top
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events {}
http {
    access_log off;
    $block
    server { listen 127.0.0.1:$3; location / { return 204; } }
}
EOF
    echo "$dir"
}

now_us() { echo $(( $(date +%s%N) / 1000 )); }

one_t() {
    # wall microseconds of one `nginx -t` of $1
    s=$(now_us)
    "$NGINX" -q -p "$1/" -c "$1/nginx.conf" -e "$1/logs/error.log" -t
    e=$(now_us)
    echo $((e - s))
}

median_ms() {
    sort -n "$1" | awk '{ a[NR] = $1 }
        END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

time_both() {
    # RUNS `nginx -t` of $1 and $2, alternating; "median1 median2" in ms
    : > "$1/times"
    : > "$2/times"
    i=0
    while [ $i -lt "$RUNS" ]; do
        one_t "$1" >> "$1/times"
        one_t "$2" >> "$2/times"
        i=$((i + 1))
    done
    echo "$(median_ms "$1/times") $(median_ms "$2/times")"
}

rss_kb() {
    awk '/^VmRSS/ { print $2 }' "/proc/$1/status"
}

rss() {
    # start, read master and worker RSS, stop
    dir=$1
    port=$2
    "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    i=0
    while [ ! -s "$dir/nginx.pid" ] && [ $i -lt 500 ]; do
        sleep 0.02; i=$((i + 1))
    done
    master=$(cat "$dir/nginx.pid")
    # the worker answers once the configuration is in place
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$port/" || [ $i -ge 500 ]; do
        sleep 0.02; i=$((i + 1))
    done
    worker=$(pgrep -P "$master" | head -n 1)
    echo "$(rss_kb "$master") $(rss_kb "$worker")"
    "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -s quit
    i=0
    while kill -0 "$master" 2>/dev/null && [ $i -lt 500 ]; do
        sleep 0.02; i=$((i + 1))
    done
}

[ $# -gt 0 ] || set -- 10 1000 100000

printf '%-8s | %12s %12s %6s | %14s %14s | %14s %14s\n' \
    tenants "adcp -t ms" "map -t ms" ratio \
    "adcp master KB" "map master KB" "adcp worker KB" "map worker KB"

status=0
free_port() {
    # a port of 127.0.0.1 nothing listens on now (the kernel's choice)
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp")->sockport'
}


for n in "$@"; do
    port=$(free_port)
    port2=$(free_port)
    a=$(conf adcp "$n" "$port")
    m=$(conf map "$n" "$port2")

    # warm the page cache, then alternate
    "$NGINX" -q -p "$a/" -c "$a/nginx.conf" -e "$a/logs/error.log" -t
    "$NGINX" -q -p "$m/" -c "$m/nginx.conf" -e "$m/logs/error.log" -t

    set -- $(time_both "$a" "$m")
    ta=$1 tm=$2
    ratio=$(awk -v a="$ta" -v m="$tm" 'BEGIN { printf "%.2f", (m ? a / m : 0) }')

    set -- $(rss "$a" "$port")
    am=$1 aw=$2
    set -- $(rss "$m" "$port2")
    mm=$1 mw=$2

    printf '%-8s | %12s %12s %6s | %14s %14s | %14s %14s\n' \
        "$n" "$ta" "$tm" "$ratio" "$am" "$mm" "$aw" "$mw"

    echo "RESULT boot $n $ta $tm $ratio $am $mm $aw $mw"

    if [ "$n" -ge 100000 ] && awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }'
    then
        echo "FAIL: adcp_tenants -t is over 1.5x the map at $n hosts" >&2
        status=1
    fi

    for d in "$a" "$m"; do
        if grep -q '\[warn\]\|\[emerg\]' "$d/logs/error.log" 2>/dev/null; then
            echo "note: $d/logs/error.log:" >&2
            grep '\[warn\]\|\[emerg\]' "$d/logs/error.log" | head -3 >&2
        fi
    done

done

exit $status
