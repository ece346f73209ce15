#!/bin/sh
#
# make bench: every benchmark of bench/ in one run, one table with the
# ratios and a MISSED next to each goal missed, bench/RESULTS.md with the
# figures, the machine and the commands, and two plots (bench/*.png).
#
#   make bench                  (or: sh bench/run.sh)
#   BENCH_QUICK=1 make bench    a fast pass (fewer requests, runs and
#                               tenants); writes bench/RESULTS-quick.md
#
# Debian 12, as root: installs what is missing from Debian's archive
# (the build's packages, valgrind, apache2-utils, wrk, gnuplot-nox, and the
# Lua peer's libnginx-mod-http-lua, lua-resty-lrucache, lua-cjson), then
# builds the module.  Takes about 10 minutes; BENCH_QUICK=1 about 3.

set -eu

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)

PKGS="gcc make libc6-dev perl curl procps nginx nginx-dev libyajl-dev
      libhiredis-dev valgrind apache2-utils wrk gnuplot-nox
      libnginx-mod-http-lua lua-resty-lrucache lua-cjson redis-server"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "== installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

make -C "$ROOT" > /dev/null

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    export N=300 RUNS=1 WRK_SECONDS=1 FIRST=2000 TOTAL=6000
    BOOT_N="10 1000 20000"
    LEVELS="1 10 100"
    INV_RUNS=20 INV_TENANTS=100
    RESULTS=$BENCH/RESULTS-quick.md
    MODE="quick pass (BENCH_QUICK=1)"
else
    export N=${N:-2000} RUNS=${RUNS:-3} WRK_SECONDS=${WRK_SECONDS:-3}
    BOOT_N="10 1000 100000"
    LEVELS="1 10 100 1000"
    INV_RUNS=100 INV_TENANTS=500
    RESULTS=$BENCH/RESULTS.md
    MODE="full run"
fi

OUT=$(mktemp -d /tmp/adcp-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
LOG=$OUT/log
: > "$LOG"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
t_start=$(date +%s)

step() {
    # $1 = title, then the command; its output goes to the log, its
    # RESULT lines to results
    title=$1
    shift
    echo "== $title" | tee -a "$LOG"
    ( cd "$BENCH" && "$@" ) > "$OUT/step" 2>&1 || echo "   (exit $?)" >> "$OUT/step"
    cat "$OUT/step" >> "$LOG"
    grep '^RESULT ' "$OUT/step" >> "$OUT/results" || true
}

: > "$OUT/results"

# shellcheck disable=SC2086
step "hit path: callgrind and wrk (hitpath.sh)" sh ./hitpath.sh
# shellcheck disable=SC2086
step "cold start (boot.sh $BOOT_N)" sh ./boot.sh $BOOT_N
# shellcheck disable=SC2086
step "concurrency (concurrency.pl $LEVELS)" perl ./concurrency.pl $LEVELS
step "churn (churn.sh)" sh ./churn.sh

if [ -x "$BENCH/invalidation.sh" ] || [ -f "$BENCH/invalidation.sh" ]; then
    # its own RUNS: not hitpath.sh's
    step "invalidation (invalidation.sh)" \
        env RUNS="$INV_RUNS" TENANTS="$INV_TENANTS" sh ./invalidation.sh
    cp "$OUT/step" "$OUT/invalidation"
fi

step "long-running tasks (tasks.pl, tasks-exec.pl)" \
    sh -c 'perl ./tasks.pl 2>&1 | grep "^#"; perl ./tasks-exec.pl 2>&1 | grep "^#"'
cp "$OUT/step" "$OUT/tasks"

t_end=$(date +%s)

# --- the table -----------------------------------------------------------

table() {
    awk -v quick="${BENCH_QUICK:-0}" '
    function x(v, b) { return b ? v / b : 0 }
    function c(n,   s) {            # 12345 -> 12,345
        s = sprintf("%d", n)
        while (s ~ /[0-9][0-9][0-9][0-9]/)
            sub(/[0-9][0-9][0-9]([,]|$)/, ",&", s)
        sub(/^,/, "", s)
        return s
    }
    $1 == "RESULT" && $2 == "hitpath" {
        m = $3; k = $4; hi[m, k] = $5; hu[m, k] = $6
        hr[m, k] = $7; hw[m, k] = $8; next
    }
    $1 == "RESULT" && $2 == "boot" { nb++; b[nb] = $0; next }
    $1 == "RESULT" && $2 == "bootcalls" { bootcalls = $3; next }
    $1 == "RESULT" && $2 == "concurrency" { nc++; cc[nc] = $0; next }
    $1 == "RESULT" && $2 == "churn" { churn = $0; next }
    END {
        missed = 0
        print "1. Hit path, one worker, keep-alive client and adapter:"
        print "   instructions per request under callgrind (median of the runs in"
        print "   parentheses) and the worker'"'"'s CPU microseconds per request under"
        print "   wrk (utime+stime from /proc, median; noisy on a shared machine)"
        print "   plain: constant proxy_pass; adcp-var: proxy_pass http://$adcp_upstream;"
        print "   adcp-bal: adcp_balancer; adcp-auth: adcp_balancer + the platform"
        print "   credential as Authorization (as lua, the OpenResty peer, sends it);"
        print "   adcp-real: the descriptor names an upstream{} block, the credential"
        print "   as proxy_set_header Authorization $adcp_authorization, adcp_balancer,"
        print "   against plain-auth: a plain proxy sending it as a constant header"
        printf "   %-5s %-9s %9s %7s %9s %7s  %s\n", "", "config", "instr/req",
            "x plain", "CPU us", "x plain", "goal"
        split("get post", ms, " ")
        nk = split("plain adcp-var adcp-bal adcp-auth lua plain-auth adcp-real", ks, " ")
        goal["get"] = 1.05; goal["post"] = 1.10
        rgoal["get"] = 1.04; rgoal["post"] = 1.08
        for (i = 1; i <= 2; i++) {
            m = ms[i]
            for (j = 1; j <= nk; j++) {
                k = ks[j]
                if (!((m, k) in hi)) continue
                r = x(hi[m, k], hi[m, "plain"])
                g = ""
                if (k == "adcp-bal") {
                    g = sprintf("<= %.2fx", goal[m])
                    if (r > goal[m]) { g = g " MISSED"; missed++ }
                }
                if (k == "adcp-real") {
                    rr = x(hi[m, k], hi[m, "plain-auth"])
                    g = sprintf("%.3fx plain-auth, <= %.2fx", rr, rgoal[m])
                    if (rr > rgoal[m]) { g = g " MISSED"; missed++ }
                }
                printf "   %-5s %-9s %9s %7.3f %9.1f %7.2f  %s\n",
                    toupper(m), k, c(hi[m, k]), r, hu[m, k],
                    x(hu[m, k], hu[m, "plain"]), g
            }
        }
        for (i = 1; i <= 2; i++)
            if (!((ms[i], "adcp-bal") in hi)) {
                printf "   %-5s %-9s not measured  MISSED\n", toupper(ms[i]),
                    "adcp-bal"
                missed++
            }
        print ""
        print "2. Cold start: nginx -t (median) and RSS after start, N declared"
        print "   tenants in adcp_tenants{} next to the same hosts in a"
        print "   map { hostnames; }; the eager alternative = N factory calls"
        printf "   %-8s %9s %9s %6s %9s %9s %9s %9s %12s  %s\n", "tenants",
            "adcp ms", "map ms", "ratio", "adcp mKB", "map mKB",
            "adcp wKB", "map wKB", "eager start", "goal"
        for (i = 1; i <= nb; i++) {
            split(b[i], f, " ")
            n = f[3]
            eager = n * fact / 1000
            es = eager < 120 ? sprintf("%.1f s", eager) \
                 : eager < 7200 ? sprintf("%.1f min", eager / 60) \
                 : sprintf("%.1f h", eager / 3600)
            g = ""
            if (n >= 100000) {
                big = 1
                g = "<= 1.5x map"
                if (f[6] > 1.5) { g = g " MISSED"; missed++ }
            }
            printf "   %-8s %9s %9s %6s %9s %9s %9s %9s %12s  %s\n", c(n),
                f[4], f[5], f[6], c(f[7]), c(f[8]), c(f[9]), c(f[10]),
                fact ? es : "-", g
        }
        if (!big && quick != 1) {
            print "   100,000 tenants: not measured  MISSED"
            missed++
        }
        if (fact)
            printf "   (eager: N x %d ms, the 100 ms mock factory as measured," \
                   " one call at a time)\n", fact
        g = (bootcalls == "") ? "not measured" \
            : (bootcalls == 0) ? "0 (goal: none)" : bootcalls " MISSED"
        if (bootcalls != "" && bootcalls != 0) missed++
        printf "   factory calls at start-up: %s\n", g
        print ""
        print "3. Concurrency: N concurrent cold requests for one tenant, 2 workers,"
        print "   a 100 ms factory"
        printf "   %-10s %-18s %9s %11s  %s\n", "requests", "builds/worker",
            "last ms", "factory ms", "goal"
        for (i = 1; i <= nc; i++) {
            split(cc[i], f, " ")
            nw = split(f[4], w, ",")
            bad = (f[7] != "ok" || nw != 1 || w[1] != 1)
            g = "1 per host" (bad ? " MISSED" : "")
            if (bad) missed++
            printf "   %-10s %-18s %9s %11s  %s\n", c(f[3]), f[4], f[5], f[6], g
        }
        if (nc == 0) {
            print "   not measured  MISSED"
            missed++
        }
        print ""
        print "4. Churn: one worker, adcp_cache_size 64, distinct tenants in a row"
        if (churn != "") {
            split(churn, f, " ")
            gr = x(f[10] - f[9], f[9]) * 100
            g = "within 5 %" (gr > 5 || gr < -5 ? " MISSED" : "")
            if (gr > 5 || gr < -5) missed++
            printf "   the worker, its own memory (RssAnon) KB: start %s, after %s" \
                   " tenants %s, after %s tenants %s (%+.1f %%)  %s\n",
                   c(f[8]), c(f[3]), c(f[9]), c(f[4]), c(f[10]), gr, g
            printf "   worker RSS KB (with the pages of the shared zones it" \
                   " touched, %s KB: the store and the slots, bounded):" \
                   " %s, %s, %s\n", c(f[11]), c(f[5]), c(f[6]), c(f[7])
        }
        if (churn == "") {
            print "   not measured  MISSED"
            missed++
        }
        print ""
        printf "goals missed: %d\n", missed
    }' fact="$FACTORY_MS" "$OUT/results"
}

FACTORY_MS=$(awk '$2 == "concurrency" { print $6; exit }' "$OUT/results")
FACTORY_MS=${FACTORY_MS:-0}

table > "$OUT/table"

{
    echo
    echo "ngx_http_adcp_module bench, $MODE, $started"
    echo
    cat "$OUT/table"
    echo
    echo "5. Invalidation through Redis (bench/invalidation.sh)"
    if [ -f "$OUT/invalidation" ]; then
        sed 's/^/   /' "$OUT/invalidation"
    else
        echo "   bench/invalidation.sh is not in this checkout"
    fi
    echo
    echo "6. Long-running tasks (bench/tasks.pl, bench/tasks-exec.pl)"
    sed 's/^/   /' "$OUT/tasks"
} > "$OUT/printed"

cat "$OUT/printed"

# --- plots ---------------------------------------------------------------

awk '$2 == "hitpath" { v[$4, $3] = $5; k[$4] = 1 }
     END { n = split("plain adcp-var adcp-bal adcp-auth lua", ks, " ")
           for (i = 1; i <= n; i++)
               if (ks[i] in k)
                   print ks[i], v[ks[i], "get"], v[ks[i], "post"] }' \
    "$OUT/results" > "$OUT/hitpath.dat"
awk '$2 == "boot" { print $3, $4, $5 }' "$OUT/results" > "$OUT/boot.dat"

suffix=""
[ "${BENCH_QUICK:-0}" = 1 ] && suffix="-quick"

if command -v gnuplot > /dev/null && [ -s "$OUT/hitpath.dat" ]; then
    gnuplot <<EOF || echo "bench: gnuplot failed" >&2
set terminal png size 820,460 noenhanced
set output "$BENCH/hitpath$suffix.png"
set title "Hit path: instructions per request (callgrind)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "instructions per request"
set yrange [0:*]
set grid ytics
set key top left
plot "$OUT/hitpath.dat" using 2:xtic(1) title "GET", \
     "" using 3 title "MCP tools/call POST (400 B)"
EOF
fi

if command -v gnuplot > /dev/null && [ -s "$OUT/boot.dat" ]; then
    gnuplot <<EOF || echo "bench: gnuplot failed" >&2
set terminal png size 820,460 noenhanced
set output "$BENCH/boot$suffix.png"
set title "Start-up: nginx -t wall time against declared tenants"
set logscale xy
set xlabel "declared tenants"
set ylabel "nginx -t, ms (median)"
set grid
set key top left
plot "$OUT/boot.dat" using 1:2 with linespoints title "adcp_tenants{}", \
     "" using 1:3 with linespoints title "map { hostnames; }"
EOF
fi

# --- RESULTS.md ----------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
ngx=$(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')

{
    echo "# Benchmarks"
    echo
    echo "Generated by \`make bench\` (bench/run.sh), $MODE, on $started;"
    echo "$((t_end - t_start)) s in all."
    echo
    echo "Machine: $cpu, $(nproc) cores, $mem, $os, kernel $(uname -r);"
    echo "$ngx (Debian's), the module built from this checkout"
    echo "($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'))."
    echo "The machine is shared: instruction counts are deterministic, wall"
    echo "and CPU times are not."
    echo
    echo "## The table, as printed"
    echo
    echo '```'
    sed '1d' "$OUT/printed"
    echo '```'
    echo
    echo "![hit path](hitpath$suffix.png)"
    echo
    echo "![start-up](boot$suffix.png)"
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "make bench                     # all of it (BENCH_QUICK=1: a fast pass)"
    echo "N=$N RUNS=$RUNS WRK_SECONDS=$WRK_SECONDS sh bench/hitpath.sh"
    echo "PROFILE=/tmp/prof sh bench/hitpath.sh   # + callgrind_annotate output"
    echo "sh bench/boot.sh $BOOT_N"
    echo "perl bench/concurrency.pl $LEVELS"
    echo "FIRST=${FIRST:-2000} TOTAL=${TOTAL:-20000} sh bench/churn.sh"
    echo "RUNS=$INV_RUNS TENANTS=$INV_TENANTS sh bench/invalidation.sh"
    echo "perl bench/tasks.pl; perl bench/tasks-exec.pl"
    echo '```'
    echo
    echo "Configurations: bench/conf/ (plain-proxy.conf, adcp-var.conf,"
    echo "adcp-balancer.conf, lua-peer.conf, mock-adapter.conf)."
    echo
    if [ -f "$BENCH/notes.md" ]; then
        cat "$BENCH/notes.md"
        echo
    fi
    echo "## Raw output"
    echo
    echo '```'
    grep -v '^RESULT ' "$LOG" | grep -v '^ok \|^1\.\.' || true
    echo '```'
} > "$RESULTS"

echo
echo "wrote $RESULTS"
