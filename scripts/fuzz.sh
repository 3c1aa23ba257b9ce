#!/usr/bin/env bash
# Runs every libFuzzer target of a KAHTTPD_FUZZ build (make fuzz; docs/fuzzing.md) for the
# same number of seconds, one after the other, each on its corpus in BUILD/corpus/<target>/
# (kept between runs, so later runs start where earlier ones stopped) and its seeds in
# BUILD/seeds/<target>/. Prints libFuzzer's figures per target and exits 1 when any target
# crashed, timed out, ran out of memory or failed a property; the input that did it is saved
# as BUILD/artifacts/<target>/crash-* (or timeout-*, oom-*, leak-*) and the log is
# BUILD/logs/<target>.log.
#
# Usage: scripts/fuzz.sh BUILD SECONDS [TARGET...]
set -uo pipefail

build=${1:?usage: fuzz.sh BUILD SECONDS [TARGET...]}
seconds=${2:?usage: fuzz.sh BUILD SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_parser_fuzzer config_fuzzer http_fuzzer)
fi
src=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$build/logs"
failed=()
rows=()
for t in "${targets[@]}"; do
    bin="$build/tests/fuzz/$t"
    log="$build/logs/$t.log"
    mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
    echo "fuzz: $t for ${seconds}s (log: $log)"
    # -timeout: a single input that takes 30 s is a hang worth reporting. The first corpus
    # folder receives the new inputs; the seeds are only read.
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
        -dict="$src/tests/fuzz/${t%_fuzzer}.dict" -artifact_prefix="$build/artifacts/$t/" \
        "$build/corpus/$t" "$build/seeds/$t" >"$log" 2>&1
    rc=$?
    # The last status line ("#123 DONE cov: 456 ft: 789 corp: ...") and the final stats.
    status_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status_line")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status_line")
    corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$status_line")
    edges=$(sed -nE 's/.*Loaded [0-9]+ modules +\(([0-9]+) inline 8-bit counters\).*/\1/p' "$log" |
            head -n 1)
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
    rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
    rss=$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+)/\1/p' "$log")
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FAILED (exit $rc)"
        failed+=("$t")
        echo "fuzz: $t failed; the end of its log:"
        tail -n 40 "$log"
        ls -1 "$build/artifacts/$t" | sed "s|^|fuzz:   saved: $build/artifacts/$t/|"
    fi
    rows+=("$(printf '%-22s %12s %8s %7s %7s %9s %11s %7s  %s' "$t" "${execs:--}" "${rate:--}" \
        "${cov:--}" "${ft:--}" "${edges:--}" "${corp:--}" "${rss:--}" "$result")")
done

echo
printf '%-22s %12s %8s %7s %7s %9s %11s %7s  %s\n' target execs exec/s cov ft edges corpus \
    rss_mb result
printf '%s\n' "${rows[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: failed: ${failed[*]} (reproduce: BUILD/tests/fuzz/<target> <artifact>;" \
         "docs/fuzzing.md)"
    exit 1
fi
