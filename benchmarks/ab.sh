#!/usr/bin/env bash
# A/B of two kahttpd binaries in one interleaved run: the same files, the same wrk settings,
# the servers pinned to CPU 0 and wrk to CPU 1, rounds alternating A and B so that a noisy
# neighbour hits both alike. For "did this change of the hot path cost anything?"; make bench
# compares against the peers.
#
#   benchmarks/ab.sh OLD_BINARY NEW_BINARY
#   ROUNDS=5 SECONDS_PER_RUN=3 CONNECTIONS=50 benchmarks/ab.sh /tmp/kahttpd.old build/server/kahttpd
#   AB_DIRECTIVES='CustomLog "@DIR@/@NAME@.log" common' benchmarks/ab.sh OLD NEW
#       extra directives for both servers (';' between lines); @NAME@ is A or B, @DIR@ the
#       run's temporary folder (removed at the end)
#
# Prints one line per run and, per scenario, the median req/s and server CPU µs per request of
# each, and B ÷ A. Stops both servers (by the PIDs it started) when done. Benchmarks never
# assert.
set -euo pipefail

A=${1:?usage: ab.sh OLD_BINARY NEW_BINARY}
B=${2:?usage: ab.sh OLD_BINARY NEW_BINARY}
ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
CONNECTIONS=${CONNECTIONS:-50}
command -v wrk >/dev/null || { echo "ab.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/kahttpd-ab.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
head -c 65536 /dev/urandom >"$work/www/64k.bin"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME BINARY: a server with Workers 1 on a free port; sets PORT_NAME.
start() {
    local name=$1 bin=$2 port
    port=$(free_port)
    printf 'Listen 127.0.0.1:%s\nDocumentRoot %s\nWorkers 1\nLogLevel warn\n' \
        "$port" "$work/www" >"$work/$name.conf"
    if [ -n "${AB_DIRECTIVES:-}" ]; then
        local extra=${AB_DIRECTIVES//@NAME@/$name}
        extra=${extra//@DIR@/$work}
        tr ';' '\n' <<<"$extra" >>"$work/$name.conf"
    fi
    taskset -c 0 "$bin" -f "$work/$name.conf" >/dev/null 2>"$work/$name.err" &
    pids+=($!)
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf -v "PORT_$name" '%s' "$port"
            return
        fi
        sleep 0.05
    done
    echo "ab.sh: $name ($bin) did not start:" >&2
    cat "$work/$name.err" >&2
    exit 1
}
start A "$A"
start B "$B"
declare -A PID=([A]=${pids[0]} [B]=${pids[1]})
TCK=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks.
# 0 once the process is gone (a server that died mid-run: the run goes on, as wrk's does).
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }

results="$work/results.txt"
for round in $(seq "$ROUNDS"); do
    for scenario in ka-1k close-1k ka-64k; do
        case $scenario in
        ka-1k) path=/1k.bin headers=() ;;
        close-1k) path=/1k.bin headers=(-H "Connection: close") ;;
        ka-64k) path=/64k.bin headers=() ;;
        esac
        for who in A B; do
            port_var=PORT_$who
            before=$(cpu_ticks "${PID[$who]}")
            rps=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" "${headers[@]}" \
                "http://127.0.0.1:${!port_var}$path" 2>/dev/null | awk '/Requests\/sec/ {print $2}')
            after=$(cpu_ticks "${PID[$who]}")
            # The server's CPU per request, in us (wrk's req/s times its duration: the requests).
            us=$(awk -v t=$((after - before)) -v hz="$TCK" -v r="${rps:-0}" -v d="$SECONDS_PER_RUN" \
                'BEGIN { printf "%.2f", (r > 0 ? t / hz * 1e6 / (r * d) : 0) }')
            echo "$round $scenario $who ${rps:-0} $us" | tee -a "$results"
        done
    done
done

python3 - "$results" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
cpu = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, scenario, who, rps, us = line.split()
    runs[(scenario, who)].append(float(rps))
    cpu[(scenario, who)].append(float(us))
print(f"{'scenario':<10} {'A req/s':>10} {'B req/s':>10} {'B / A':>7} "
      f"{'A us/req':>9} {'B us/req':>9} {'B / A':>7}  (medians; us/req: server CPU)")
for scenario in ("ka-1k", "close-1k", "ka-64k"):
    a = statistics.median(runs[(scenario, "A")])
    b = statistics.median(runs[(scenario, "B")])
    ca = statistics.median(cpu[(scenario, "A")])
    cb = statistics.median(cpu[(scenario, "B")])
    print(f"{scenario:<10} {a:>10.0f} {b:>10.0f} {b / a if a else 0:>7.3f} "
          f"{ca:>9.2f} {cb:>9.2f} {cb / ca if ca else 0:>7.3f}")
EOF
