#!/bin/sh
#
# The demo gateway: conf-examples/quickstart.conf run by Debian's nginx with
# the module built in build/.
#
#   sh conf-examples/demo.sh start     start (or restart) it, print what to curl
#   sh conf-examples/demo.sh stop
#
# Runtime files go to $ADCP_DEMO_DIR (default /tmp/adcp-demo), which nginx
# workers can read whoever owns the checkout.

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
DIR=${ADCP_DEMO_DIR:-/tmp/adcp-demo}
GW=127.0.0.1:8080
REDIS_PORT=6390

stop() {
    if [ -s "$DIR/logs/nginx.pid" ] && kill -0 "$(cat "$DIR/logs/nginx.pid")" 2>/dev/null
    then
        "$NGINX" -p "$DIR/" -c quickstart.conf -s quit
        i=0
        while [ -s "$DIR/logs/nginx.pid" ] && [ $i -lt 250 ]; do
            sleep 0.02
            i=$((i + 1))
        done
    fi

    redis-cli -p "$REDIS_PORT" shutdown nosave > /dev/null 2>&1 || true
}

redis() {
    # the demo's own Redis, its data in $DIR
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$DIR" --daemonize yes \
        --logfile "$DIR/logs/redis.log" --pidfile "$DIR/redis.pid" > /dev/null
    i=0
    until redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 || [ $i -ge 250 ]
    do
        sleep 0.02
        i=$((i + 1))
    done
}

start() {
    [ -f "$ROOT/build/ngx_http_adcp_module.so" ] || {
        echo "demo: build the module first (make)" >&2
        exit 1
    }

    stop

    mkdir -p "$DIR/logs" "$DIR/temp" "$DIR/modules"
    chmod 755 "$DIR"
    cp "$ROOT/conf-examples/quickstart.conf" "$DIR/"
    rm -rf "$DIR/platforms"
    cp -r "$ROOT/conf-examples/platforms" "$DIR/"
    chmod -R a+rX "$DIR/platforms"
    cp "$ROOT/build/ngx_http_adcp_module.so" "$DIR/modules/"

    redis

    "$NGINX" -p "$DIR/" -c quickstart.conf -t -q
    "$NGINX" -p "$DIR/" -c quickstart.conf

    i=0
    until curl -s -o /dev/null "http://$GW/mcp" || [ $i -ge 250 ]; do
        sleep 0.02
        i=$((i + 1))
    done

    echo
    echo "The demo gateway is up on http://$GW (logs in $DIR/logs)."

    call 'A buyer'"'"'s agent asks tenant "wonderstruck" for products (MCP tools/call):' \
        wonderstruck.localhost \
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_products","arguments":{"brief":"sports"}}}'

    call 'A tenant taken from a regex capture, over A2A 1.0 SendMessage; its
platform (conf-examples/platforms/foo.json) is built on this first request:' \
        foo.agents.localhost \
        '{"jsonrpc":"2.0","id":"a","method":"SendMessage","params":{"message":{"parts":[{"data":{"skill":"get_products","input":{}}}]}}}'

    call 'The same tenant asking for a task its platform does not list:' \
        foo.agents.localhost \
        '{"jsonrpc":"2.0","id":"b","method":"SendMessage","params":{"message":{"parts":[{"data":{"skill":"create_media_buy","input":{}}}]}}}'

    call 'An unknown host gets an AdCP error in its transport form, never HTML:' \
        nobody.localhost \
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_products"}}' \
        -i

    call 'A long-running task: accepted into Redis and answered at once with a
task id; a worker executes it in the background against the adapter:' \
        wonderstruck.localhost \
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_media_buy","arguments":{"idempotency_key":"demo-buy-0001","brief":"q3 sports"}}}' \
        > "$DIR/task.json"
    cat "$DIR/task.json"
    task=$(sed -n 's/.*"task_id":"\([^"]*\)".*/\1/p' "$DIR/task.json")

    i=0
    until curl -s "http://$GW/mcp" -H 'Host: wonderstruck.localhost' \
              -H 'Content-Type: application/json' \
              -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_task_status","arguments":{"task_id":"'"$task"'"}}}' \
          | grep -q '"status":"completed"' || [ $i -ge 100 ]
    do
        sleep 0.05
        i=$((i + 1))
    done

    call 'Its status, answered from Redis (the same from any worker or host):' \
        wonderstruck.localhost \
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_task_status","arguments":{"task_id":"'"$task"'"}}}'

    cat <<EOF


What every worker of the host knows (the same whichever worker answers):

  curl -s http://$GW/adcp/status

EOF
    curl -s "http://$GW/adcp/status"
    cat <<EOF

(and ?format=prometheus). Drop a tenant's platform in every worker and in
the host's store (the next request rebuilds it, once for the host):

  curl -s -X POST 'http://$GW/adcp/admin?invalidate=wonderstruck'

or from any ops machine, through Redis, to every host of the deployment
(logged, so a host that was disconnected replays it):

  sh conf-examples/adcp-invalidate -u redis://127.0.0.1:$REDIS_PORT wonderstruck

Stop it with: sh conf-examples/demo.sh stop
EOF
}

call() {
    # $1 what it shows, $2 host, $3 JSON body, $4 more curl flags:
    # prints the curl command, then runs it
    flags=${4:-}
    printf '\n\n%s\n\n' "$1"
    printf "  curl -s%s http://%s/mcp -H 'Host: %s' \\\\\n" \
        "${flags#-}" "$GW" "$2"
    printf "       -H 'Content-Type: application/json' \\\\\n"
    printf "       -d '%s'\n\n" "$3"
    curl -s $flags "http://$GW/mcp" -H "Host: $2" \
        -H 'Content-Type: application/json' -d "$3" \
        | grep -v '^Date:\|^Server:'
}

case "${1:-start}" in
    start) start ;;
    stop)  stop ;;
    *)     echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
