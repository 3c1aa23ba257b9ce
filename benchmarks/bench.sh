#!/usr/bin/env bash
# Every part of the benchmark, one after the other, then one report (make bench, make
# bench-quick). Expects a Release build with -DKAHTTPD_BUILD_BENCH=ON (the make targets do it).
#
#   bash benchmarks/bench.sh full    wrk 3 rounds x 5 s, callgrind 2000/12000 requests,
#                                    10,000 idle connections, timer wheel 0.2 s per case
#   bash benchmarks/bench.sh quick   wrk 1 round x 2 s, callgrind 500/2500, 2,000 idle
#                                    connections, timer wheel 0.02 s per case
#
# Any knob of run.sh, instructions.py and idle_memory.py set in the environment wins over the
# mode's value. It fails only when a server cannot start; numbers never fail it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODE=${1:-full}
OUT=${BENCH_OUT:-$ROOT/build/bench}
TIMER_BENCH=${TIMER_BENCH:-$ROOT/build/benchmarks/timer_wheel_bench}

case $MODE in
    full)
        : "${BENCH_ROUNDS:=3}" "${BENCH_DURATION:=5}" "${BENCH_PAUSE:=0.5}"
        : "${CALLGRIND_N1:=2000}" "${CALLGRIND_N2:=12000}"
        : "${IDLE_CONNECTIONS:=10000}" "${TIMER_MIN_TIME:=0.2}"
        ;;
    quick)
        : "${BENCH_ROUNDS:=1}" "${BENCH_DURATION:=2}" "${BENCH_PAUSE:=0.3}"
        : "${CALLGRIND_N1:=500}" "${CALLGRIND_N2:=2500}"
        : "${IDLE_CONNECTIONS:=2000}" "${TIMER_MIN_TIME:=0.02}"
        ;;
    *)
        echo "usage: $0 [full|quick]" >&2
        exit 2
        ;;
esac
export BENCH_ROUNDS BENCH_DURATION BENCH_PAUSE CALLGRIND_N1 CALLGRIND_N2 IDLE_CONNECTIONS
export BENCH_OUT=$OUT
SERVER_CPU=${BENCH_SERVER_CPU:-0}
# Debian's Python, which has python3-matplotlib for the chart (a python3 earlier in PATH, such as
# a pyenv one, would not).
PYTHON=${BENCH_PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || echo python3)}
export BENCH_PYTHON=$PYTHON

[ -x "$TIMER_BENCH" ] || {
    echo "bench: no $TIMER_BENCH (configure with -DKAHTTPD_BUILD_BENCH=ON, or: make bench)" >&2
    exit 1
}

# The file descriptor limit for everything below (10,000 idle connections, 1000-connection
# runs): as high as the hard limit allows.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Only this run's results in OUT, without removing anything else that may live there.
mkdir -p "$OUT"
rm -rf "$OUT/raw"
rm -f "$OUT"/runs.jsonl "$OUT"/meta.json "$OUT"/scenarios.txt "$OUT"/latest.{json,md,png} \
    "$OUT"/instructions.json "$OUT"/idle.{json,md} "$OUT"/idle.stderr.log \
    "$OUT"/timer_wheel.{json,txt} "$OUT"/*.stderr.log "$OUT"/*.error.log

start=$SECONDS
phase_start=$SECONDS
phase() {
    echo "bench: ---- $1 (at $((SECONDS - start)) s)" >&2
    phase_start=$SECONDS
}

phase "wrk rounds: kahttpd, nginx, h2o, lighttpd, caddy, apache, minimal"
BENCH_NO_REPORT=1 bash benchmarks/run.sh

phase "instructions per request (callgrind)"
timeout -k 10 900 "$PYTHON" benchmarks/instructions.py

phase "idle connections and keep-alive timeout"
timeout -k 10 900 "$PYTHON" benchmarks/idle_memory.py >/dev/null

if [ "$MODE" = full ]; then
    # Keep-alive under pressure (issue 11): kahttpd and nginx at the same budget under idle,
    # slow-head and slow-body attacks; about 90 s, so not in the quick run (make bench-pressure).
    phase "keep-alive under pressure"
    timeout -k 10 600 "$PYTHON" benchmarks/pressure.py >/dev/null || true
fi

phase "timer wheel micro-benchmark"
timeout -k 10 600 taskset -c "$SERVER_CPU" "$TIMER_BENCH" --benchmark_min_time="$TIMER_MIN_TIME" \
    --benchmark_out="$OUT/timer_wheel.json" --benchmark_out_format=json >"$OUT/timer_wheel.txt" 2>&1

phase "report"
"$PYTHON" benchmarks/report.py --out "$OUT" --instructions "$OUT/instructions.json" \
    --idle "$OUT/idle.json" --timer "$OUT/timer_wheel.json"
echo "bench: $MODE run finished in $((SECONDS - start)) s" >&2
