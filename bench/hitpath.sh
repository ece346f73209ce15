#!/bin/sh
#
# The hit path, side by side, for a GET and a ~400-byte MCP tools/call
# POST, through the same mock adapter (bench/conf/mock-adapter.conf):
#
#   plain      bench/conf/plain-proxy.conf    constant proxy_pass: the floor
#   adcp-var   bench/conf/adcp-var.conf       adcp on, proxy_pass http://$adcp_upstream
#   adcp-bal   bench/conf/adcp-balancer.conf  adcp on, proxy_pass to adcp_balancer
#   adcp-auth  bench/conf/adcp-balancer-auth.conf   the same + the platform's
#              credential as Authorization (as the Lua peer sends it)
#   lua        bench/conf/lua-peer.conf       the same gateway in OpenResty Lua
#   plain-auth bench/conf/plain-auth.conf     plain + a constant Authorization:
#              the floor of adcp-real
#   adcp-real  bench/conf/adcp-real.conf      the realistic configuration: the
#              descriptor names an upstream{} block, the credential sent as
#              proxy_set_header Authorization $adcp_authorization, through
#              adcp_balancer (goals: GET <= 1.04x, POST <= 1.08x plain-auth)
#
# Two views:
#   - instructions per request under callgrind: nginx as one process
#     (master_process off), instrumentation switched on only around N
#     keep-alive requests (ab -k -c1) after a warm-up; deterministic, the
#     median of RUNS runs;
#   - CPU microseconds per request of the worker under wrk (utime + stime
#     from /proc/<pid>/stat over a WRK_SECONDS run, 4 connections); noisy
#     on a shared machine, the median of RUNS runs.
#
#   sh bench/hitpath.sh            N=2000 RUNS=3 WRK_SECONDS=3
#   PROFILE=dir sh bench/hitpath.sh   also keeps callgrind_annotate output
#
# Prints a table, and "RESULT hitpath <method> <config> <instr> <us>"
# lines for run.sh.

set -eu

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${ADCP_MODULE:-$ROOT/build/ngx_http_adcp_module.so}
N=${N:-2000}
RUNS=${RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-3}
CONFIGS=${CONFIGS:-plain adcp-var adcp-bal adcp-auth lua plain-auth adcp-real}
METHODS=${METHODS:-get post}
WORK=$(mktemp -d /tmp/adcp-hit-XXXXXX)
chmod 755 "$WORK"
free_port() {
    # a port of 127.0.0.1 nothing listens on now (the kernel's choice)
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp")->sockport'
}
APORT=$(free_port)
FPORT=$(free_port)
GPORT=$(free_port)

cleanup() {
    for p in "$WORK"/*/nginx.pid; do
        [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

for tool in valgrind ab wrk callgrind_annotate curl; do
    command -v $tool >/dev/null || {
        echo "hitpath: $tool is missing (make bench installs it)" >&2
        exit 1
    }
done

conf() {
    # $1 = template name, $2 = dir, $3 = globals
    mkdir -p "$2/logs"
    sed -e "s|@GLOBALS@|$3|" -e "s|@DIR@|$2|g" -e "s|@MODULE@|$MODULE|g" \
        -e "s|@ADAPTER_PORT@|$APORT|g" -e "s|@FACTORY_PORT@|$FPORT|g" \
        -e "s|@PORT@|$GPORT|g" "$BENCH/conf/$1.conf" > "$2/nginx.conf"
}

template() {
    case $1 in
    plain)    echo plain-proxy ;;
    adcp-var) echo adcp-var ;;
    adcp-bal) echo adcp-balancer ;;
    adcp-auth) echo adcp-balancer-auth ;;
    lua)      echo lua-peer ;;
    plain-auth) echo plain-auth ;;
    adcp-real) echo adcp-real ;;
    esac
}

wait_up() {
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$1/" || [ $i -ge 600 ]; do
        sleep 0.05; i=$((i + 1))
    done
}

# the adapter and factory

d=$WORK/adapter
conf mock-adapter "$d" "worker_processes 1; pid $d/nginx.pid; error_log $d/logs/error.log;"
"$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
wait_up "$APORT"

printf '%s' '{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_products","arguments":{"brief":"Premium sports inventory for a spring campaign targeting adults 25-54 in the US","brand":{"name":"Acme Outdoor","url":"https://acme.example.com"},"filters":{"delivery_type":"guaranteed","format_types":["video","display"],"min_exposures":10000},"context":{"request_id":"8d4c2f9a-1b7e-4c3d-9f0a-2e6b5d8c7a1f"}}}}' \
    > "$WORK/body.json"

cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Host"] = "a.example.com"
local f = io.open("$WORK/body.json", "rb")
wrk.body = f:read("*a")
f:close()
EOF

ab_args() {
    # $1 = get | post
    if [ "$1" = get ]; then
        echo "-q -k -c1 -H Host:a.example.com"
    else
        echo "-q -k -c1 -H Host:a.example.com -T application/json -p $WORK/body.json"
    fi
}

check_ab() {
    if ! grep -q "Failed requests: *0" "$1" || grep -q "Non-2xx" "$1"; then
        echo "hitpath: failed or non-2xx answers:" >&2
        cat "$1" >&2
        exit 1
    fi
}

callgrind_runs() {
    # $1 = config, $2 = method; prints RUNS instruction counts per request,
    # each from its own segment of N requests in one nginx under callgrind
    d=$WORK/$1-$2-cg
    conf "$(template "$1")" "$d" "daemon off; master_process off; worker_processes 1; pid $d/nginx.pid; error_log $d/logs/error.log error;"
    out=$d/callgrind.out

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log" \
        > "$d/logs/valgrind.log" 2>&1 &
    vpid=$!
    wait_up "$GPORT"

    url="http://127.0.0.1:$GPORT/mcp"
    # shellcheck disable=SC2046
    ab $(ab_args "$2") -n 200 "$url" > "$d/warm.log" 2>&1
    check_ab "$d/warm.log"

    r=1
    while [ $r -le "$RUNS" ]; do
        callgrind_control -i on "$vpid" > /dev/null 2>&1
        # shellcheck disable=SC2046
        ab $(ab_args "$2") -n "$N" "$url" > "$d/ab$r.log" 2>&1
        callgrind_control -i off "$vpid" > /dev/null 2>&1
        callgrind_control -d "$vpid" > /dev/null 2>&1
        check_ab "$d/ab$r.log"
        r=$((r + 1))
    done

    kill -QUIT "$vpid"
    wait "$vpid" || true

    if [ -n "${PROFILE:-}" ]; then
        mkdir -p "$PROFILE"
        callgrind_annotate --inclusive=no "$out.1" \
            > "$PROFILE/$1-$2.self.txt" 2>/dev/null || true
        callgrind_annotate --inclusive=yes "$out.1" \
            > "$PROFILE/$1-$2.incl.txt" 2>/dev/null || true
        cp "$out.1" "$PROFILE/$1-$2.callgrind.out"
    fi

    r=1
    while [ $r -le "$RUNS" ]; do
        awk -v n="$N" '/^(totals|summary):/ { t = $2 }
                       END { printf "%d ", t / n }' "$out.$r"
        r=$((r + 1))
    done
    rm -f "$out" "$out".*
}


cpu_ticks() {
    # utime + stime of $1, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

wrk_runs() {
    # $1 = config, $2 = method; prints RUNS figures of the worker's CPU
    # microseconds per request, each over a WRK_SECONDS run of wrk
    d=$WORK/$1-$2-wrk
    conf "$(template "$1")" "$d" "worker_processes 1; pid $d/nginx.pid; error_log $d/logs/error.log error;"
    "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
    wait_up "$GPORT"
    master=$(cat "$d/nginx.pid")
    worker=$(pgrep -P "$master" | head -n 1)
    hz=$(getconf CLK_TCK)

    url="http://127.0.0.1:$GPORT/mcp"
    if [ "$2" = get ]; then
        set -- -H "Host: a.example.com"
    else
        set -- -s "$WORK/post.lua"
    fi

    wrk -t1 -c4 -d1s "$@" "$url" > /dev/null 2>&1    # warm-up

    r=1
    while [ $r -le "$RUNS" ]; do
        t0=$(cpu_ticks "$worker")
        wrk -t1 -c4 -d"${WRK_SECONDS}s" "$@" "$url" > "$d/wrk$r.log" 2>&1
        t1=$(cpu_ticks "$worker")

        if grep -q "Non-2xx" "$d/wrk$r.log"; then
            echo "hitpath: wrk: non-2xx answers:" >&2
            cat "$d/wrk$r.log" >&2
            exit 1
        fi

        reqs=$(awk '/requests in/ { print $1 }' "$d/wrk$r.log")
        awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" \
            'BEGIN { printf "%.1f ", n ? t * 1000000 / hz / n : 0 }'
        r=$((r + 1))
    done

    kill -QUIT "$master"
    i=0
    while kill -0 "$master" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.05; i=$((i + 1))
    done
}


median() {
    tr ' ' '\n' | grep -v '^$' | sort -n \
        | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

printf '%-6s %-9s %10s %7s %22s %10s %7s\n' method config "instr/req" \
    "x plain" "(runs)" "CPU us/req" "x plain"

for m in $METHODS; do
    base_i=""
    base_u=""
    for c in $CONFIGS; do
        runs=$(callgrind_runs "$c" "$m")
        us=$(wrk_runs "$c" "$m")
        i=$(echo "$runs" | median)
        u=$(echo "$us" | median)
        [ -n "$base_i" ] || base_i=$i
        [ -n "$base_u" ] || base_u=$u
        printf '%-6s %-9s %10s %7.3f %22s %10s %7.2f\n' "$m" "$c" "$i" \
            "$(awk -v v="$i" -v b="$base_i" 'BEGIN { print v / b }')" \
            "($(echo $runs | tr ' ' ','))" "$u" \
            "$(awk -v v="$u" -v b="$base_u" 'BEGIN { print b ? v / b : 0 }')"
        echo "RESULT hitpath $m $c $i $u ($(echo $runs | tr ' ' ',')) ($(echo $us | tr ' ' ','))" \
            >> "$WORK/results"
    done
done

cat "$WORK/results"
