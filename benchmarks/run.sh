#!/usr/bin/env bash
# kahttpd vs nginx, side by side, with wrk.
#
# Both servers serve the same temporary docroot with one worker pinned to CPU 0; wrk runs
# with one thread pinned to CPU 1. Every scenario runs against kahttpd, then nginx, then
# kahttpd ... for BENCH_ROUNDS rounds, and the medians go into a table (stdout) and into
# build/bench/latest.{json,md} (and latest.png when matplotlib is installed).
#
# It never fails on performance; it fails only when a server cannot be started.
#
#   make bench                      # build, install nginx-light/linux-perf if missing, run
#   bash benchmarks/run.sh          # the same, on an existing build
#
# Knobs (environment):
#   BENCH_ROUNDS=3        rounds (each scenario runs once per server per round)
#   BENCH_DURATION=5      seconds per wrk run
#   BENCH_SCENARIOS=...   space-separated subset of scenario names (default: all; see below)
#   BENCH_PAUSE=1         seconds of rest between two runs
#   BENCH_OUT=build/bench where the results go
#   BENCH_SERVER_CPU=0    CPU the servers are pinned to
#   BENCH_CLIENT_CPU=1    CPU wrk is pinned to
#   BENCH_NGINX_TCP_NOPUSH=on   nginx's tcp_nopush (on throttles nginx on pipelined small
#                         responses; see benchmarks/README.md)
#   KAHTTPD=build/server/kahttpd, NGINX=nginx, WRK=wrk   the programs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5}
PAUSE=${BENCH_PAUSE:-1}
OUT=${BENCH_OUT:-$ROOT/build/bench}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
KAHTTPD=${KAHTTPD:-$ROOT/build/server/kahttpd}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
WRK=${WRK:-$(command -v wrk || echo wrk)}
NGINX_TCP_NOPUSH=${BENCH_NGINX_TCP_NOPUSH:-on}
WRK_DIR=$ROOT/benchmarks/wrk

# name | file | connections | mode (plain, close, pipeline) | description
SCENARIOS_ALL=(
    "ka-1k|1k.bin|50|plain|keep-alive, 1 KiB, 50 connections"
    "ka-128b|128b.bin|50|plain|keep-alive, 128 B, 50 connections"
    "close-1k|1k.bin|50|close|Connection: close, 1 KiB, 50 connections"
    "ka-64k|64k.bin|50|plain|keep-alive, 64 KiB, 50 connections"
    "ka-1m|1m.bin|10|plain|keep-alive, 1 MiB, 10 connections"
    "ka-1k-c1000|1k.bin|1000|plain|keep-alive, 1 KiB, 1000 connections"
    "pipe16-1k|1k.bin|50|pipeline|pipelined 16 deep, 1 KiB, 50 connections"
)

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[ -x "$KAHTTPD" ] || die "no kahttpd binary at $KAHTTPD (run 'make build' first)"
command -v "$NGINX" >/dev/null 2>&1 || die "nginx not found (KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)"
command -v "$WRK" >/dev/null 2>&1 || die "wrk not found (bash scripts/install-deps.sh)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"

SCENARIOS=()
if [ -n "${BENCH_SCENARIOS:-}" ]; then
    for want in $BENCH_SCENARIOS; do
        found=0
        for s in "${SCENARIOS_ALL[@]}"; do
            if [ "${s%%|*}" = "$want" ]; then SCENARIOS+=("$s"); found=1; fi
        done
        [ $found = 1 ] || die "unknown scenario '$want' (known: $(printf '%s ' "${SCENARIOS_ALL[@]%%|*}"))"
    done
else
    SCENARIOS=("${SCENARIOS_ALL[@]}")
fi

# 1000 connections need more than the usual 1024 descriptors; the servers inherit this.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    log "warning: ulimit -n is $(ulimit -n); the 1000-connection scenario may see errors"
fi

# ---------------------------------------------------------------------------------------
# Processes we start, by PID, and the cleanup that kills exactly those.
KAHTTPD_PID=""
NGINX_PID=""
PERF_PID=""
WRK_PID=""
WORK=""

cleanup() {
    local pid
    for pid in "$WRK_PID" "$PERF_PID"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    for pid in "$KAHTTPD_PID" "$NGINX_PID"; do
        if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                # our own child: reap it so kill -0 stops seeing a zombie
                wait "$pid" 2>/dev/null || true
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"
: >"$OUT/runs.jsonl"
: >"$OUT/kahttpd.stderr.log"
: >"$OUT/nginx.error.log"

WORK=$(mktemp -d /tmp/kahttpd-bench.XXXXXX)
chmod 755 "$WORK"   # nginx's worker runs as nobody when started by root
DOCROOT=$WORK/www
mkdir -p "$DOCROOT" "$WORK/nginx"

# ---------------------------------------------------------------------------------------
# The docroot: the same bytes for both servers.
head -c 128 /dev/urandom >"$DOCROOT/128b.bin"
head -c 1024 /dev/urandom >"$DOCROOT/1k.bin"
head -c 65536 /dev/urandom >"$DOCROOT/64k.bin"
head -c 1048576 /dev/urandom >"$DOCROOT/1m.bin"
cat >"$DOCROOT/index.html" <<'EOF'
<!doctype html>
<html><head><title>bench</title></head><body><p>kahttpd benchmark docroot</p></body></html>
EOF
chmod 755 "$DOCROOT"
chmod 644 "$DOCROOT"/*

# ---------------------------------------------------------------------------------------
# Servers.
cat >"$WORK/kahttpd.conf" <<EOF
Listen 127.0.0.1:0
DocumentRoot "$DOCROOT"
DirectoryIndex index.html
Workers 1
KeepAlive On
KeepAliveTimeout 5
MaxKeepAliveRequests 0
TypesConfig /etc/mime.types
EOF

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_open() {  # port_open PORT: something accepts on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

alive() {  # alive PID: running and not a zombie
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

KAHTTPD_PORT=""
start_kahttpd() {
    local out=$WORK/kahttpd.out
    : >"$out"
    echo "--- kahttpd started $(date -u +%FT%TZ)" >>"$OUT/kahttpd.stderr.log"
    taskset -c "$SERVER_CPU" "$KAHTTPD" -f "$WORK/kahttpd.conf" >"$out" 2>>"$OUT/kahttpd.stderr.log" &
    KAHTTPD_PID=$!
    for _ in $(seq 100); do
        KAHTTPD_PORT=$(sed -n 's/^kahttpd: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$out" | head -n1)
        [ -n "$KAHTTPD_PORT" ] && return 0
        alive "$KAHTTPD_PID" || break
        sleep 0.1
    done
    tail -n 20 "$OUT/kahttpd.stderr.log" >&2 || true
    die "kahttpd did not start (see $OUT/kahttpd.stderr.log)"
}

NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536
NGINX_PORT=""
start_nginx() {
    local attempt
    for attempt in 1 2 3; do
        NGINX_PORT=$(free_port)
        mkdir -p "$WORK/nginx/tmp"
        cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
worker_rlimit_nofile $NOFILE;
events {
    worker_connections $((NOFILE - 32));
    use epoll;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush $NGINX_TCP_NOPUSH;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 5s;
    server_tokens off;
    types {
        text/html html;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $DOCROOT;
        index index.html;
    }
}
EOF
        taskset -c "$SERVER_CPU" "$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" \
            -e "$WORK/nginx/error.log" -g 'daemon off;' >>"$OUT/nginx.error.log" 2>&1 &
        NGINX_PID=$!
        for _ in $(seq 100); do
            if port_open "$NGINX_PORT" && [ -n "$(nginx_workers)" ]; then return 0; fi
            alive "$NGINX_PID" || break
            sleep 0.1
        done
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
        log "nginx did not start on port $NGINX_PORT (attempt $attempt)"
        cat "$WORK/nginx/error.log" >>"$OUT/nginx.error.log" 2>/dev/null || true
    done
    tail -n 20 "$OUT/nginx.error.log" >&2 || true
    die "nginx did not start (see $OUT/nginx.error.log)"
}

nginx_workers() {
    cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null || true
}

PIDS=()
server_pids() {  # server_pids NAME: sets PIDS to the PIDs whose CPU time counts (nginx: master + workers)
    if [ "$1" = kahttpd ]; then
        PIDS=("$KAHTTPD_PID")
    else
        read -r -a PIDS <<<"$NGINX_PID $(nginx_workers)"
    fi
}

cpu_ticks() {  # cpu_ticks PID...: utime + stime, in clock ticks, summed
    local total=0 pid t
    for pid in "$@"; do
        t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# cpu_busy_total N: "busy total" ticks of CPU N from /proc/stat. busy = user + nice + system +
# steal (time some process, or the hypervisor, had); irq and softirq time is left out of busy
# (it is mostly the benchmark's own packets) but counts in total.
cpu_busy_total() {
    awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $9; print busy, busy + $5 + $6 + $7 + $8 }' /proc/stat
}

# tcp_counters: machine-wide TCP counters that explain stalls (a SYN dropped or answered
# badly costs a 1 s retransmission), as "Name=value ..." from /proc/net/netstat.
TCP_COUNTERS="ListenOverflows ListenDrops TCPSynRetrans TCPTimeouts TWRecycled PAWSTimewait PAWSActive TCPChallengeACK TCPAbortOnData"
tcp_counters() {
    awk -v want="$TCP_COUNTERS" '
        BEGIN { n = split(want, w, " ") }
        $1 == "TcpExt:" { if (!hdr) { for (i = 2; i <= NF; i++) name[i] = $i; hdr = 1 }
                          else { for (i = 2; i <= NF; i++) val[name[i]] = $i } }
        END { for (j = 1; j <= n; j++) printf "%s=%s ", w[j], (w[j] in val ? val[w[j]] : 0); print "" }' /proc/net/netstat
}
tcp_delta_json() {  # tcp_delta_json BEFORE AFTER: {"Name": after-before, ...}
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); out = ""
        for (i = 1; i <= n; i++) { split(x[i], p, "="); split(y[i], q, "=")
            out = out (i > 1 ? "," : "") "\"" p[1] "\":" (q[2] - p[2]) }
        print "{" out "}" }'
}

# perf stat -e instructions works only where the PMU is exposed (not in most VMs).
PERF_OK=0
if command -v perf >/dev/null 2>&1; then
    first=$(perf stat -x, -e instructions -- true 2>&1 >/dev/null | grep -m1 'instructions' | cut -d, -f1 || true)
    if [[ "$first" =~ ^[0-9]+$ ]]; then PERF_OK=1; fi
fi
if [ $PERF_OK = 1 ]; then
    log "perf: counting instructions per request"
else
    log "perf: 'perf stat -e instructions' is not supported here; instructions/request skipped"
fi

start_kahttpd
start_nginx
log "kahttpd pid $KAHTTPD_PID on 127.0.0.1:$KAHTTPD_PORT; nginx pid $NGINX_PID (workers $(nginx_workers)) on 127.0.0.1:$NGINX_PORT"

# Both servers must serve the same bytes, or the comparison is meaningless.
for f in 128b.bin 1k.bin 64k.bin 1m.bin index.html; do
    for port in "$KAHTTPD_PORT" "$NGINX_PORT"; do
        if ! curl -sf --max-time 5 "http://127.0.0.1:$port/$f" | cmp -s - "$DOCROOT/$f"; then
            log "warning: 127.0.0.1:$port/$f does not serve the file's bytes"
        fi
    done
done

# ---------------------------------------------------------------------------------------
# One wrk run.
run_one() {  # run_one SERVER SCENARIO-SPEC ROUND
    local server=$1 spec=$2 round=$3
    local name file conns mode
    IFS='|' read -r name file conns mode _ <<<"$spec"

    if [ "$server" = kahttpd ]; then
        if ! alive "$KAHTTPD_PID"; then
            wait "$KAHTTPD_PID" 2>/dev/null && rc=0 || rc=$?
            log "kahttpd (pid $KAHTTPD_PID) is gone (exit status $rc); restarting it"
            echo "--- kahttpd pid $KAHTTPD_PID exited with status $rc before $name round $round" >>"$OUT/kahttpd.stderr.log"
            start_kahttpd
        fi
    else
        if ! alive "$NGINX_PID"; then
            log "nginx (pid $NGINX_PID) is gone; restarting it"
            wait "$NGINX_PID" 2>/dev/null || true
            start_nginx
        fi
    fi
    local port
    if [ "$server" = kahttpd ]; then port=$KAHTTPD_PORT; else port=$NGINX_PORT; fi
    server_pids "$server"
    local url="http://127.0.0.1:$port/$file"
    local args=(-t1 "-c$conns" "-d${DURATION}s" --timeout 5s)
    case $mode in
        plain) args+=(-s "$WRK_DIR/report.lua" "$url") ;;
        close) args+=(-H 'Connection: close' -s "$WRK_DIR/report.lua" "$url") ;;
        pipeline) args+=(-s "$WRK_DIR/pipeline.lua" "$url" -- 16) ;;
    esac
    local raw="$OUT/raw/$name.$server.r$round.txt"
    local perf_out="$OUT/raw/$name.$server.r$round.perf"
    local stderr_before
    stderr_before=$(wc -l <"$OUT/kahttpd.stderr.log")

    local t0 t1 c0 c1 wrk_rc=0
    if [ $PERF_OK = 1 ]; then
        taskset -c "$CLIENT_CPU" perf stat -x, -e instructions -o "$perf_out" -p "$(IFS=,; echo "${PIDS[*]}")" &
        PERF_PID=$!
        sleep 0.2
    fi
    local s0 s1 n0 n1
    n0=$(tcp_counters)
    s0=$(cpu_busy_total "$SERVER_CPU")
    c0=$(cpu_ticks "${PIDS[@]}")
    t0=$(date +%s.%N)
    timeout -k 5 $((DURATION + 60)) taskset -c "$CLIENT_CPU" "$WRK" "${args[@]}" >"$raw" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || wrk_rc=$?
    WRK_PID=""
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${PIDS[@]}")
    s1=$(cpu_busy_total "$SERVER_CPU")
    n1=$(tcp_counters)
    local tcp_json
    tcp_json=$(tcp_delta_json "$n0" "$n1")
    # share of the server CPU that went to the server, and to everything else (noise)
    local server_pct other_pct
    read -r server_pct other_pct < <(awk -v a="$s0" -v b="$s1" -v t=$((c1 - c0)) 'BEGIN {
        split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; total = y[2] - x[2]
        if (total <= 0) { print "null null"; exit }
        o = (busy - t) / total * 100; if (o < 0) o = 0
        printf "%.1f %.1f\n", t / total * 100, o }')
    local instructions=null
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
        local n
        n=$(grep -v '^#' "$perf_out" 2>/dev/null | grep -m1 instructions | cut -d, -f1 || true)
        if [[ "$n" =~ ^[0-9]+$ ]]; then instructions=$n; fi
    fi
    local is_alive=true cpu_delta=$((c1 - c0))
    if [ "$server" = kahttpd ]; then alive "$KAHTTPD_PID" || is_alive=false; else alive "$NGINX_PID" || is_alive=false; fi
    if [ "$is_alive" = false ]; then cpu_delta=null; server_pct=null; other_pct=null; fi
    local stderr_new=0
    if [ "$server" = kahttpd ]; then
        stderr_new=$(( $(wc -l <"$OUT/kahttpd.stderr.log") - stderr_before ))
    fi

    printf '{"server":"%s","scenario":"%s","round":%d,"connections":%d,"mode":"%s","file":"%s","wrk_rc":%d,"cpu_ticks":%s,"clk_tck":%d,"wall_s":%s,"instructions":%s,"server_cpu_pct":%s,"other_cpu_pct":%s,"alive_after":%s,"stderr_lines":%d,"tcp":%s,"raw":"%s"}\n' \
        "$server" "$name" "$round" "$conns" "$mode" "$file" "$wrk_rc" "$cpu_delta" "$(getconf CLK_TCK)" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$instructions" "$server_pct" "$other_pct" "$is_alive" "$stderr_new" "$tcp_json" "$raw" \
        >>"$OUT/runs.jsonl"

    # progress line
    local line
    line=$(grep -m1 '^BENCH_RESULT' "$raw" || true)
    if [ -n "$line" ] && [ "$is_alive" = true ]; then
        awk -v srv="$server" -v sc="$name" -v r="$round" -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
            -v sp="$server_pct" -v op="$other_pct" -v cpu="$SERVER_CPU" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            rps = v["requests"] / (v["duration_us"] / 1e6)
            us = v["requests"] > 0 ? ticks / hz * 1e6 / v["requests"] : 0
            err = v["connect"] + v["read"] + v["write"] + v["timeout"]
            printf "bench: round %s %-12s %-8s %10.0f req/s  %6.2f us/req  CPU%s %3s%% (others %s%%)  socket errors %d  non-2xx %d\n", r, sc, srv, rps, us, cpu, sp, op, err, v["status"]
        }' <<<"$line" >&2
    elif [ -z "$line" ]; then
        log "round $round $name $server: wrk failed (exit $wrk_rc); see $raw"
    fi
    local syn
    syn=$(sed -n 's/.*"TCPSynRetrans":\([0-9-]*\).*/\1/p' <<<"$tcp_json")
    if [ "${syn:-0}" -gt 0 ]; then
        log "round $round $name $server: $syn SYN retransmission(s) on the machine during the run (1 s stalls); TCP counters: $tcp_json"
    fi
    if [ "$is_alive" = false ]; then
        log "round $round $name $server: the server died during the run (run not counted; see $raw)"
    fi
    if [ "$stderr_new" -gt 0 ]; then
        log "round $round $name $server: $stderr_new new line(s) in $OUT/kahttpd.stderr.log"
    fi
}

# ---------------------------------------------------------------------------------------
# Warm-up (not recorded), then the interleaved rounds.
for port in "$KAHTTPD_PORT" "$NGINX_PORT"; do
    timeout 20 taskset -c "$CLIENT_CPU" "$WRK" -t1 -c50 -d1s "http://127.0.0.1:$port/1k.bin" >/dev/null 2>&1 || true
done

total=$((ROUNDS * ${#SCENARIOS[@]} * 2))
log "$total runs of ${DURATION}s (${ROUNDS} rounds x ${#SCENARIOS[@]} scenarios x 2 servers), about $(( total * (DURATION + PAUSE + 1) / 60 + 1 )) min"
for round in $(seq "$ROUNDS"); do
    for spec in "${SCENARIOS[@]}"; do
        for server in kahttpd nginx; do
            run_one "$server" "$spec" "$round"
            sleep "$PAUSE"
        done
    done
done

cat "$WORK/nginx/error.log" >>"$OUT/nginx.error.log" 2>/dev/null || true

# ---------------------------------------------------------------------------------------
# Report.
meta_json=$(python3 - "$NGINX" "$WRK" "$NGINX_TCP_NOPUSH" "$KAHTTPD" <<'EOF'
import datetime, hashlib, json, os, platform, subprocess, sys
def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except Exception:
        return None
cpu = None
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip(); break
except OSError:
    pass
print(json.dumps({
    "nginx": run([sys.argv[1], "-v"]),
    "wrk": run([sys.argv[2], "-v"]),
    "kahttpd_commit": run(["git", "describe", "--always", "--dirty"]),
    "kernel": platform.release(),
    "cpus": os.cpu_count(),
    "cpu_model": cpu,
    "nginx_tcp_nopush": sys.argv[3],
    # the checkout may have moved on since the binary was built: say which binary ran
    "kahttpd_binary_sha256": hashlib.sha256(open(sys.argv[4], "rb").read()).hexdigest()[:16],
    "kahttpd_binary_built": datetime.datetime.fromtimestamp(
        os.path.getmtime(sys.argv[4]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}))
EOF
)
python3 "$ROOT/benchmarks/report.py" \
    --runs "$OUT/runs.jsonl" --out "$OUT" --rounds "$ROUNDS" --duration "$DURATION" \
    --perf "$PERF_OK" --meta "$meta_json" \
    --scenarios "$(printf '%s\n' "${SCENARIOS[@]}")"
