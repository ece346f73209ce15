#!/bin/sh
#
# Instructions per request on the hit path, under callgrind: nginx as one
# process (master_process off) with instrumentation switched on only around
# a fixed number of keep-alive requests (ab -k -c1) after a warm-up, so the
# count is deterministic on a shared machine.  Same adapter (an nginx on
# another port, keep-alive pool) for every configuration:
#
#   plain      location / { proxy_pass http://adapter; }              the floor
#   adcp       adcp on + a cached platform, proxy_pass http://adapter
#   adcp-var   adcp on + a cached platform, proxy_pass http://$adcp_upstream
#
# for a GET and for a ~400-byte MCP tools/call POST.
#
#   sh bench/hitpath.sh            N=2000 requests per measure (N=...)

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${ADCP_MODULE:-$ROOT/build/ngx_http_adcp_module.so}
N=${N:-2000}
WORK=$(mktemp -d /tmp/adcp-hit-XXXXXX)
chmod 755 "$WORK"
BASE=$(( 21000 + $$ % 20000 ))
APORT=$BASE
GPORT=$((BASE + 1))

cleanup() {
    [ -s "$WORK/adapter/nginx.pid" ] \
        && kill "$(cat "$WORK/adapter/nginx.pid")" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

for tool in valgrind ab callgrind_annotate; do
    command -v $tool >/dev/null || {
        echo "hitpath: $tool is missing (apt-get install valgrind apache2-utils)" >&2
        exit 1
    }
done

# the adapter: a small AdCP-shaped JSON answer

mkdir -p "$WORK/adapter/logs"
cat > "$WORK/adapter/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/adapter/nginx.pid;
error_log $WORK/adapter/logs/error.log;
events {}
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$APORT;
        location / {
            default_type application/json;
            return 200 '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}],"structuredContent":{"products":[]}}}';
        }
    }
}
EOF
"$NGINX" -p "$WORK/adapter/" -c "$WORK/adapter/nginx.conf" \
    -e "$WORK/adapter/logs/error.log"

cat > "$WORK/body.json" <<'EOF'
{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_products","arguments":{"brief":"Premium sports inventory for a spring campaign targeting adults 25-54 in the US","brand":{"name":"Acme Outdoor","url":"https://acme.example.com"},"filters":{"delivery_type":"guaranteed","format_types":["video","display"],"min_exposures":10000},"context":{"request_id":"8d4c2f9a-1b7e-4c3d-9f0a-2e6b5d8c7a1f"}}}}
EOF

gateway() {
    # $1 = plain | adcp | adcp-var
    dir=$WORK/$1
    mkdir -p "$dir/logs"

    case $1 in
    plain)
        top="" ; http="" ; loc="proxy_pass http://adapter;"
        ;;
    adcp)
        top="load_module $MODULE;"
        http="adcp_tenants { t1.test t1; }"
        loc="adcp on; proxy_pass http://adapter;"
        ;;
    adcp-var)
        top="load_module $MODULE;"
        http="adcp_tenants { t1.test t1; }"
        loc="adcp on; proxy_pass http://\$adcp_upstream;"
        ;;
    esac

    cat > "$dir/nginx.conf" <<EOF
$top
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events {}
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    $http

    upstream adapter {
        server 127.0.0.1:$APORT;
        keepalive 16;
    }

    server {
        listen 127.0.0.1:$GPORT;
        $( [ "$1" = plain ] || echo "adcp_factory /_factory;" )

        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            $loc
        }

        location = /_factory {
            internal;
            return 200 '{"upstream":"adapter","authorization":"Bearer x"}';
        }
    }
}
EOF
    echo "$dir"
}

measure() {
    # $1 = config, $2 = get | post; prints instructions per request
    dir=$(gateway "$1")
    out=$dir/callgrind.out

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        > "$dir/logs/valgrind.log" 2>&1 &
    vpid=$!

    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$GPORT/" || [ $i -ge 500 ]; do
        sleep 0.05; i=$((i + 1))
    done

    url="http://127.0.0.1:$GPORT/mcp"

    if [ "$2" = get ]; then
        set -- -q -k -c1 -H "Host: t1.test"
    else
        set -- -q -k -c1 -H "Host: t1.test" -T application/json \
            -p "$WORK/body.json"
    fi

    ab "$@" -n 200 "$url" > /dev/null 2>&1       # warm-up: builds, pools
    callgrind_control -i on "$vpid" > /dev/null 2>&1
    ab "$@" -n "$N" "$url" > "$dir/ab.log" 2>&1
    callgrind_control -i off "$vpid" > /dev/null 2>&1

    kill -QUIT "$vpid"
    wait "$vpid" || true

    if ! grep -q "Failed requests: *0" "$dir/ab.log" \
        || grep -q "Non-2xx responses" "$dir/ab.log"
    then
        echo "hitpath: $1 $2: failed or non-2xx answers" >&2
        cat "$dir/ab.log" >&2
        exit 1
    fi

    callgrind_annotate "$out" 2>/dev/null \
        | awk -v n="$N" '/PROGRAM TOTALS/ { gsub(",", "", $1);
                                            printf "%d", $1 / n }'
}

printf '%-8s %-9s %12s %8s\n' method config "instr/req" "vs plain"

for m in get post; do
    base=""
    for c in plain adcp adcp-var; do
        v=$(measure "$c" "$m")
        [ -n "$base" ] || base=$v
        printf '%-8s %-9s %12s %7.1f%%\n' "$m" "$c" "$v" \
            "$(awk -v v="$v" -v b="$base" 'BEGIN { print (v - b) * 100 / b }')"
    done
done
