#!/usr/bin/env bash
# kahttpd next to nginx, h2o, lighttpd, Caddy, Apache httpd and a minimal epoll server, with wrk.
#
# Every server serves the same temporary docroot with one worker pinned to CPU 0, each with its
# own generated configuration (benchmarks/servers.py) on a 127.0.0.1 port chosen at run time;
# wrk runs with one thread pinned to CPU 1. Rounds are interleaved: every scenario runs against
# kahttpd, nginx, h2o, lighttpd, caddy, apache (and the minimal server where it takes part),
# then the next scenario, for BENCH_ROUNDS rounds. Results: build/bench/runs.jsonl (one line per
# wrk run), raw/ (wrk's output), meta.json, and unless BENCH_NO_REPORT=1 the report (report.py).
#
# It never fails on performance; it fails only when a server cannot be started (or does not
# serve the docroot's files byte for byte).
#
#   make bench / make bench-quick   everything (benchmarks/bench.sh), with the packages
#   make bench-tls                  the tls-* scenarios (and idle TLS connections)
#   bash benchmarks/run.sh          only the wrk rounds, on an existing build
#
# TLS: when a tls-* scenario is selected, the run makes one self-signed ECDSA P-256 certificate
# (servers.py make-cert, the openssl command) in its temporary directory, and every server that
# takes part in TLS (servers.py's TLS: all but minimal) also listens with TLS on a second port,
# with that certificate and key and its own defaults for protocols, ciphers, session tickets and
# caches. What each server negotiates is probed once (servers.py tls-probe) into OUT/tls.jsonl.
#
# Knobs (environment):
#   BENCH_ROUNDS=3        rounds (each scenario runs once per server per round)
#   BENCH_DURATION=5      seconds per wrk run
#   BENCH_SCENARIOS=...   space-separated scenario names (default: all but ka-128b, gz-*
#                         and tls-*; see below)
#   BENCH_SERVERS=...     space-separated subset of: kahttpd nginx h2o lighttpd caddy apache minimal
#   BENCH_KAHTTPD_DIRECTIVES="EnableSendfile Off; FileCacheSize 0"   extra kahttpd directives
#   BENCH_PAUSE=0.5       seconds of rest between two runs
#   BENCH_OUT=build/bench where the results go
#   BENCH_SERVER_CPU=0    CPU the servers are pinned to
#   BENCH_CLIENT_CPU=1    CPU wrk is pinned to
#   BENCH_NGINX_TCP_NOPUSH=on   nginx's tcp_nopush (on throttles nginx on pipelined small
#                         responses; see benchmarks/README.md)
#   BENCH_GZIP_LEVEL=6    gzip level of kahttpd and Apache (DeflateCompressionLevel), nginx
#                         (gzip_comp_level) and Caddy (encode gzip) for the gz-* scenarios
#                         (make bench-gzip)
#   BENCH_APACHE_THREADS=1024 ThreadsPerChild of Apache's one child process
#   BENCH_ACCESS_LOG=1    every server logs each request (combined format; servers.py)
#   KAHTTPD, NGINX, H2O, LIGHTTPD, CADDY, APACHE, MINIMAL, WRK, BENCH_PYTHON   the programs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5}
PAUSE=${BENCH_PAUSE:-0.5}
OUT=${BENCH_OUT:-$ROOT/build/bench}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
WRK=${WRK:-$(command -v wrk || echo wrk)}
WRK_DIR=$ROOT/benchmarks/wrk
SERVERS_PY=$ROOT/benchmarks/servers.py
# Debian's Python, which has python3-matplotlib for the chart (a python3 earlier in PATH, such as
# a pyenv one, would not).
PYTHON=${BENCH_PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || echo python3)}
read -r -a SERVERS <<<"${BENCH_SERVERS:-kahttpd nginx h2o lighttpd caddy apache minimal}"

# name | file | connections | mode (plain, close, pipeline, gzip, tls, tls-close) | who takes
# part | description
# Who: "yes" every server, "no" all but the minimal server (it answers 1 KiB whatever the path,
# so it joins the 1 KiB scenarios only), "gzip" the servers that compress on the fly (servers.py's
# GZIP: kahttpd, nginx, caddy, apache; configured for text/plain; wrk sends Accept-Encoding: gzip),
# "tls" the servers with a TLS listener (servers.py's TLS: all but minimal; wrk on https://).
SCENARIOS_ALL=(
    "ka-1k|1k.bin|50|plain|yes|keep-alive, 1 KiB, 50 connections"
    "close-1k|1k.bin|50|close|yes|Connection: close, 1 KiB, 50 connections"
    "ka-64k|64k.bin|50|plain|no|keep-alive, 64 KiB, 50 connections"
    "ka-1m|1m.bin|10|plain|no|keep-alive, 1 MiB, 10 connections"
    "ka-1k-c1000|1k.bin|1000|plain|yes|keep-alive, 1 KiB, 1000 connections"
    "pipe16-1k|1k.bin|50|pipeline|yes|pipelined 16 deep, 1 KiB, 50 connections"
    "ka-128b|128b.bin|50|plain|no|keep-alive, 128 B, 50 connections"
    "gz-1k|1k.txt|50|gzip|gzip|keep-alive, gzip on the fly, 1 KiB text, 50 connections"
    "gz-64k|64k.txt|50|gzip|gzip|keep-alive, gzip on the fly, 64 KiB text, 50 connections"
    "tls-ka-1k|1k.bin|50|tls|tls|TLS keep-alive, 1 KiB, 50 connections"
    "tls-close-1k|1k.bin|50|tls-close|tls|TLS, Connection: close (a handshake per request), 1 KiB, 50 connections"
)
DEFAULT_SCENARIOS="ka-1k close-1k ka-64k ka-1m ka-1k-c1000 pipe16-1k"

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

command -v "$WRK" >/dev/null 2>&1 || die "wrk not found (bash scripts/install-deps.sh)"
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"
# From servers.py: who compresses on the fly, and who serves from a forked worker process.
read -r -a GZIP_SERVERS <<<"$("$PYTHON" "$SERVERS_PY" list GZIP)"
read -r -a FORKS_WORKER <<<"$("$PYTHON" "$SERVERS_PY" list FORKS_WORKER)"
read -r -a TLS_SERVERS <<<"$("$PYTHON" "$SERVERS_PY" list TLS)"
in_list() {  # in_list WORD LIST...: WORD is one of LIST
    local w=$1 x
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}
forks_worker() { in_list "$1" "${FORKS_WORKER[@]}"; }
# tls_on NAME: NAME has a TLS listener in this run
tls_on() { [ "$TLS" = 1 ] && in_list "$1" "${TLS_SERVERS[@]}"; }
for s in "${SERVERS[@]}"; do
    exe=$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import servers; print(servers.program(sys.argv[2]))' \
        "$ROOT/benchmarks" "$s") || die "unknown server '$s'"
    command -v "$exe" >/dev/null 2>&1 ||
        die "$s not found at $exe (make build / make bench; KAHTTPD_BENCH_DEPS=1 bash scripts/install-deps.sh)"
done

SCENARIOS=()
for want in ${BENCH_SCENARIOS:-$DEFAULT_SCENARIOS}; do
    found=0
    for s in "${SCENARIOS_ALL[@]}"; do
        if [ "${s%%|*}" = "$want" ]; then SCENARIOS+=("$s"); found=1; fi
    done
    [ $found = 1 ] || die "unknown scenario '$want' (known: $(printf '%s ' "${SCENARIOS_ALL[@]%%|*}"))"
done
# TLS listeners only when a tls-* scenario runs: the other scenarios' servers stay as they were.
TLS=0
for spec in "${SCENARIOS[@]}"; do
    IFS='|' read -r _ _ _ _ who _ <<<"$spec"
    [ "$who" = tls ] && TLS=1
done
if [ "$TLS" = 1 ]; then
    command -v openssl >/dev/null 2>&1 || die "the openssl command is needed for the TLS scenarios"
fi

# 1000 connections need more than the usual 1024 descriptors; the servers inherit this.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    log "warning: ulimit -n is $(ulimit -n); the 1000-connection scenario may see errors"
fi
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536

# ---------------------------------------------------------------------------------------
# Processes we start, by PID, and the cleanup that stops exactly those.
declare -A SPID=() SPORT=() STLSPORT=()
PERF_PID=""
WRK_PID=""
WORK=""

alive() {  # alive PID: running and not a zombie
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL; reaps our child
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

stop_server() {  # stop_server NAME
    local pid=${SPID[$1]:-}
    if [ -n "$pid" ]; then stop_pid "$pid"; fi
    SPID[$1]=""
}

cleanup() {
    local name
    for pid in "$WRK_PID" "$PERF_PID"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    for name in "${!SPID[@]}"; do stop_server "$name"; done
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        for name in "${SERVERS[@]}"; do
            if [ -s "$WORK/$name/error.log" ]; then
                cat "$WORK/$name/error.log" >>"$OUT/$name.error.log" 2>/dev/null || true
            fi
        done
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -rf "$OUT/raw"
mkdir -p "$OUT/raw"
: >"$OUT/runs.jsonl"
for s in "${SERVERS[@]}"; do : >"$OUT/$s.stderr.log"; rm -f "$OUT/$s.error.log"; done

WORK=$(mktemp -d /tmp/kahttpd-bench.XXXXXX)
chmod 755 "$WORK"   # nginx's worker, h2o and apache's child run as nobody when started by root
DOCROOT=$WORK/www
mkdir -p "$DOCROOT"

# ---------------------------------------------------------------------------------------
# The docroot: the same bytes for every server.
head -c 128 /dev/urandom >"$DOCROOT/128b.bin"
head -c 1024 /dev/urandom >"$DOCROOT/1k.bin"
head -c 65536 /dev/urandom >"$DOCROOT/64k.bin"
head -c 1048576 /dev/urandom >"$DOCROOT/1m.bin"
cat >"$DOCROOT/index.html" <<'EOF'
<!doctype html>
<html><head><title>bench</title></head><body><p>kahttpd benchmark docroot</p></body></html>
EOF
# Text for the compression scenarios: English prose (the GPL), which compresses about as well
# as pages and style sheets do (gzip level 6: 1 KiB to 533 bytes, 64 KiB to 21 KiB; the 64 KiB
# file holds the GPL almost twice, which gzip's 32 KiB window cannot exploit).
text_source=/usr/share/common-licenses/GPL-3
[ -r "$text_source" ] || die "$text_source not found (Debian's base-files)"
cat "$text_source" "$text_source" >"$WORK/text"
head -c 1024 "$WORK/text" >"$DOCROOT/1k.txt"
head -c 65536 "$WORK/text" >"$DOCROOT/64k.txt"
rm -f "$WORK/text"
chmod 755 "$DOCROOT"
chmod 644 "$DOCROOT"/*

# One certificate for every server: ECDSA P-256, self-signed, for 127.0.0.1.
CERT="" KEY=""
if [ "$TLS" = 1 ]; then
    { read -r CERT; read -r KEY; } < <("$PYTHON" "$SERVERS_PY" make-cert "$WORK") ||
        die "could not make the certificate"
    [ -s "$CERT" ] && [ -s "$KEY" ] || die "could not make the certificate"
    log "TLS: $(openssl x509 -in "$CERT" -noout -text | sed -n 's/^ *Public Key Algorithm: //p' | head -n1)," \
        "$(openssl x509 -in "$CERT" -noout -text | sed -n 's/^ *NIST CURVE: //p' | head -n1), $CERT"
fi

# ---------------------------------------------------------------------------------------
# Servers.
free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_open() {  # port_open PORT: something accepts on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

descendants() {  # descendants PID: its children, grandchildren ... (nginx, apache: the worker)
    local kids k
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
    for k in $kids; do
        echo "$k"
        descendants "$k"
    done
}

# start_server NAME: starts it pinned to SERVER_CPU, sets SPID[NAME] and SPORT[NAME]. kahttpd
# and minimal bind port 0 and print the port; the others get a port that was just free, and a
# retry with another one if they cannot bind it.
start_server() {
    local name=$1 attempt port tls_port out argv tls_args
    for attempt in 1 2 3; do
        port=0
        case $name in kahttpd | minimal) ;; *) port=$(free_port) ;; esac
        tls_port=0 tls_args=()
        if tls_on "$name"; then
            tls_port=$(free_port)
            tls_args=(--tls-port "$tls_port" --cert "$CERT" --key "$KEY")
        fi
        mapfile -t argv < <("$PYTHON" "$SERVERS_PY" argv "$name" --work "$WORK/$name" \
            --docroot "$DOCROOT" --port "$port" --keepalive 5 --nofile "$NOFILE" "${tls_args[@]}")
        [ ${#argv[@]} -gt 0 ] || die "no command line for $name"
        out=$WORK/$name.out
        : >"$out"
        echo "--- $name started $(date -u +%FT%TZ)" >>"$OUT/$name.stderr.log"
        taskset -c "$SERVER_CPU" "${argv[@]}" >"$out" 2>>"$OUT/$name.stderr.log" </dev/null &
        SPID[$name]=$!
        for _ in $(seq 100); do
            if [ "$port" = 0 ]; then
                port=$(sed -n "s/^$name: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$out" | head -n1)
                port=${port:-0}
            fi
            if [ "$port" != 0 ] && port_open "$port" &&
                { [ "$tls_port" = 0 ] || port_open "$tls_port"; } &&
                { ! forks_worker "$name" || [ -n "$(descendants "${SPID[$name]}")" ]; }; then
                SPORT[$name]=$port
                STLSPORT[$name]=$tls_port
                return 0
            fi
            alive "${SPID[$name]}" || break
            sleep 0.1
        done
        stop_server "$name"
        log "$name did not start (attempt $attempt)"
    done
    tail -n 20 "$OUT/$name.stderr.log" "$WORK/$name/error.log" >&2 2>/dev/null || true
    die "$name did not start (see $OUT/$name.stderr.log)"
}

# children_cpu FILE: user + system seconds of this shell's reaped children so far, from the
# output of bash's `times` builtin written to FILE (its second line: the children). Taken just
# before wrk starts and just after it is reaped, the difference is wrk's own CPU time (and its
# timeout and taskset wrappers'): the client's cost, which bounds the TLS scenarios.
children_cpu() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { v = $i; sub(/s$/, "", v); split(v, p, "m"); t += p[1] * 60 + p[2] } printf "%.3f\n", t }' "$1"
}

PIDS=()
server_pids() {  # server_pids NAME: sets PIDS to the PIDs whose CPU time counts
    read -r -a PIDS <<<"${SPID[$1]} $(descendants "${SPID[$1]}" | tr '\n' ' ')"
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

# perf stat -e instructions works only where the PMU is exposed (not in most VMs); where it does
# not, instructions per request come from callgrind (instructions.py) instead.
PERF_OK=0
if command -v perf >/dev/null 2>&1; then
    first=$(perf stat -x, -e instructions -- true 2>&1 >/dev/null | grep -m1 'instructions' | cut -d, -f1 || true)
    if [[ "$first" =~ ^[0-9]+$ ]]; then PERF_OK=1; fi
fi
if [ $PERF_OK = 1 ]; then
    log "perf: counting instructions per request during the wrk runs"
else
    log "perf: 'perf stat -e instructions' is not supported here; instructions/request come from callgrind"
fi

for s in "${SERVERS[@]}"; do start_server "$s"; done
for s in "${SERVERS[@]}"; do
    kids=$(descendants "${SPID[$s]}" | tr '\n' ' ')
    log "$s: pid ${SPID[$s]}${kids:+ (children: ${kids% })} on 127.0.0.1:${SPORT[$s]}$(tls_on "$s" && echo ", TLS on 127.0.0.1:${STLSPORT[$s]}")"
done

scenario_servers() {  # scenario_servers SPEC: the servers taking part, one per line
    local who s
    IFS='|' read -r _ _ _ _ who _ <<<"$1"
    for s in "${SERVERS[@]}"; do
        case $who in
            yes) echo "$s" ;;
            no) [ "$s" = minimal ] || echo "$s" ;;
            gzip) if in_list "$s" "${GZIP_SERVERS[@]}"; then echo "$s"; fi ;;
            tls) if in_list "$s" "${TLS_SERVERS[@]}"; then echo "$s"; fi ;;
        esac
    done
}

# Every server must serve the same bytes, or the comparison is meaningless; the minimal server
# must at least answer 1 KiB.
for s in "${SERVERS[@]}"; do
    if [ "$s" = minimal ]; then
        n=$(curl -sf --max-time 5 "http://127.0.0.1:${SPORT[$s]}/1k.bin" | wc -c)
        [ "$n" = 1024 ] || die "minimal answered $n bytes instead of 1024"
        continue
    fi
    for f in 128b.bin 1k.bin 64k.bin 1m.bin index.html 1k.txt 64k.txt; do
        curl -sf --max-time 5 "http://127.0.0.1:${SPORT[$s]}/$f" | cmp -s - "$DOCROOT/$f" ||
            die "$s (127.0.0.1:${SPORT[$s]}) does not serve /$f byte for byte"
    done
done
# Over TLS too, with the run's certificate as the only trust anchor; then what each server
# negotiates with OpenSSL's client defaults, and whether it resumes sessions (OUT/tls.jsonl).
rm -f "$OUT/tls.jsonl"
for s in "${SERVERS[@]}"; do
    tls_on "$s" || continue
    for f in 1k.bin 64k.bin index.html; do
        curl -sf --max-time 5 --cacert "$CERT" "https://127.0.0.1:${STLSPORT[$s]}/$f" | cmp -s - "$DOCROOT/$f" ||
            die "$s (https://127.0.0.1:${STLSPORT[$s]}) does not serve /$f byte for byte over TLS"
    done
    probe=$(timeout 30 "$PYTHON" "$SERVERS_PY" tls-probe "${STLSPORT[$s]}" "$CERT") ||
        die "$s: the TLS probe failed"
    printf '{"server":"%s",%s\n' "$s" "${probe#\{}" >>"$OUT/tls.jsonl"
    log "$s TLS: $probe"
done
# The compression scenarios measure compressed responses only if the servers compress.
for spec in "${SCENARIOS[@]}"; do
    IFS='|' read -r name file _ mode _ <<<"$spec"
    [ "$mode" = gzip ] || continue
    for s in $(scenario_servers "$spec"); do
        enc=$(curl -sf --max-time 5 -H 'Accept-Encoding: gzip' -o /dev/null -D - \
            "http://127.0.0.1:${SPORT[$s]}/$file" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ee]ncoding: //p')
        [ "$enc" = gzip ] || die "$s does not gzip /$file (Content-Encoding: '${enc}')"
        curl -sf --max-time 5 --compressed "http://127.0.0.1:${SPORT[$s]}/$file" | cmp -s - "$DOCROOT/$file" ||
            die "$s (127.0.0.1:${SPORT[$s]}) does not serve /$file gzipped to the same bytes"
    done
done

# ---------------------------------------------------------------------------------------
# One wrk run.
run_one() {  # run_one SERVER SCENARIO-SPEC ROUND
    local server=$1 spec=$2 round=$3
    local name file conns mode
    IFS='|' read -r name file conns mode _ <<<"$spec"

    if ! alive "${SPID[$server]}"; then
        local rc=0
        wait "${SPID[$server]}" 2>/dev/null || rc=$?
        log "$server (pid ${SPID[$server]}) is gone (exit status $rc); restarting it"
        echo "--- $server pid ${SPID[$server]} exited with status $rc before $name round $round" >>"$OUT/$server.stderr.log"
        start_server "$server"
    fi
    local port=${SPORT[$server]}
    server_pids "$server"
    local url="http://127.0.0.1:$port/$file"
    case $mode in tls | tls-close) url="https://127.0.0.1:${STLSPORT[$server]}/$file" ;; esac
    local args=(-t1 "-c$conns" "-d${DURATION}s" --timeout 5s)
    case $mode in
        plain | tls) args+=(-s "$WRK_DIR/report.lua" "$url") ;;
        close | tls-close) args+=(-H 'Connection: close' -s "$WRK_DIR/report.lua" "$url") ;;
        gzip) args+=(-H 'Accept-Encoding: gzip' -s "$WRK_DIR/report.lua" "$url") ;;
        pipeline) args+=(-s "$WRK_DIR/pipeline.lua" "$url" -- 16) ;;
    esac
    local raw="$OUT/raw/$name.$server.r$round.txt"
    local perf_out="$OUT/raw/$name.$server.r$round.perf"
    local stderr_before
    stderr_before=$(wc -l <"$OUT/$server.stderr.log")

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
    times >"$WORK/times.before"
    timeout -k 5 $((DURATION + 60)) taskset -c "$CLIENT_CPU" "$WRK" "${args[@]}" >"$raw" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || wrk_rc=$?
    WRK_PID=""
    times >"$WORK/times.after"
    t1=$(date +%s.%N)
    local client_cpu
    client_cpu=$(awk -v a="$(children_cpu "$WORK/times.before")" -v b="$(children_cpu "$WORK/times.after")" \
        'BEGIN { printf "%.3f", b - a }')
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
    alive "${SPID[$server]}" || is_alive=false
    if [ "$is_alive" = false ]; then cpu_delta=null; server_pct=null; other_pct=null; fi
    local stderr_new=$(( $(wc -l <"$OUT/$server.stderr.log") - stderr_before ))

    printf '{"server":"%s","scenario":"%s","round":%d,"connections":%d,"mode":"%s","file":"%s","wrk_rc":%d,"cpu_ticks":%s,"clk_tck":%d,"wall_s":%s,"client_cpu_s":%s,"instructions":%s,"server_cpu_pct":%s,"other_cpu_pct":%s,"alive_after":%s,"stderr_lines":%d,"tcp":%s,"raw":"%s"}\n' \
        "$server" "$name" "$round" "$conns" "$mode" "$file" "$wrk_rc" "$cpu_delta" "$(getconf CLK_TCK)" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$client_cpu" "$instructions" "$server_pct" "$other_pct" "$is_alive" "$stderr_new" "$tcp_json" "$raw" \
        >>"$OUT/runs.jsonl"

    # progress line
    local line
    line=$(grep -m1 '^BENCH_RESULT' "$raw" || true)
    if [ -n "$line" ] && [ "$is_alive" = true ]; then
        awk -v srv="$server" -v sc="$name" -v r="$round" -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
            -v sp="$server_pct" -v op="$other_pct" -v cpu="$SERVER_CPU" -v wc="$client_cpu" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            rps = v["requests"] / (v["duration_us"] / 1e6)
            us = v["requests"] > 0 ? ticks / hz * 1e6 / v["requests"] : 0
            err = v["connect"] + v["read"] + v["write"] + v["timeout"]
            wus = v["requests"] > 0 ? wc * 1e6 / v["requests"] : 0
            printf "bench: round %s %-12s %-8s %10.0f req/s  %6.2f us/req  CPU%s %3s%% (others %s%%)  wrk %.2f us/req  socket errors %d  non-2xx %d\n", r, sc, srv, rps, us, cpu, sp, op, wus, err, v["status"]
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
        log "round $round $name $server: $stderr_new new line(s) in $OUT/$server.stderr.log"
    fi
}


# ---------------------------------------------------------------------------------------
# Warm-up (not recorded), then the interleaved rounds.
for s in "${SERVERS[@]}"; do
    timeout 20 taskset -c "$CLIENT_CPU" "$WRK" -t1 -c50 -d1s "http://127.0.0.1:${SPORT[$s]}/1k.bin" >/dev/null 2>&1 || true
    if tls_on "$s"; then
        timeout 20 taskset -c "$CLIENT_CPU" "$WRK" -t1 -c50 -d1s "https://127.0.0.1:${STLSPORT[$s]}/1k.bin" >/dev/null 2>&1 || true
    fi
done

per_round=0
for spec in "${SCENARIOS[@]}"; do per_round=$((per_round + $(scenario_servers "$spec" | wc -l))); done
total=$((ROUNDS * per_round))
log "$total wrk runs of ${DURATION}s (${ROUNDS} rounds x ${#SCENARIOS[@]} scenarios x up to ${#SERVERS[@]} servers), about $(awk -v t=$total -v d="$DURATION" -v p="$PAUSE" 'BEGIN { printf "%.1f", t * (d + p + 0.4) / 60 }') min"
for round in $(seq "$ROUNDS"); do
    for spec in "${SCENARIOS[@]}"; do
        for server in $(scenario_servers "$spec"); do
            run_one "$server" "$spec" "$round"
            sleep "$PAUSE"
        done
    done
done

# ---------------------------------------------------------------------------------------
# What ran where, for the report.
"$PYTHON" - "$WRK" "$PERF_OK" "$ROUNDS" "$DURATION" "$OUT/meta.json" "$TLS" "${SERVERS[@]}" <<'EOF'
import datetime, hashlib, json, os, platform, subprocess, sys
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import servers
wrk, perf_ok, rounds, duration, out, tls = sys.argv[1:7]
names = sys.argv[7:]
def first_line(cmd):
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
kahttpd = servers.program("kahttpd")
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "servers": names,
    "rounds": int(rounds),
    "duration_s": float(duration),
    "perf_instructions": perf_ok == "1",
    "versions": {n: v for n in names if (v := servers.version(n))},
    "wrk": first_line([wrk, "-v"]),
    "kahttpd_commit": first_line(["git", "describe", "--always", "--dirty"]),
    "kernel": platform.release(),
    "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
    "cpus": os.cpu_count(),
    "cpu_model": cpu,
    "nginx_tcp_nopush": os.environ.get("BENCH_NGINX_TCP_NOPUSH", "on"),
    # the checkout may have moved on since the binary was built: say which binary ran
    "kahttpd_binary_sha256": hashlib.sha256(open(kahttpd, "rb").read()).hexdigest()[:16],
    "kahttpd_binary_built": datetime.datetime.fromtimestamp(
        os.path.getmtime(kahttpd), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
if tls == "1":
    probes = {}
    with open(os.path.join(os.path.dirname(out), "tls.jsonl")) as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                probes[p.pop("server")] = p
    meta["tls"] = {
        "certificate": "self-signed, ECDSA P-256 (prime256v1), made with the openssl command",
        "openssl": first_line(["openssl", "version"]),
        "probe": probes,
    }
with open(out, "w") as f:
    json.dump(meta, f, indent=2)
    f.write("\n")
EOF
printf '%s\n' "${SCENARIOS[@]}" >"$OUT/scenarios.txt"

if [ "${BENCH_NO_REPORT:-0}" != 1 ]; then
    "$PYTHON" "$ROOT/benchmarks/report.py" --out "$OUT"
fi
