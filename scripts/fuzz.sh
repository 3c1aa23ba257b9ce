#!/usr/bin/env bash
# Runs every libFuzzer target of a KAHTTPD_FUZZ build (make fuzz; docs/fuzzing.md) for the
# same number of seconds, one after the other, each on its corpus in BUILD/corpus/<target>/
# (kept between runs, so later runs start where earlier ones stopped) and its seeds in
# BUILD/seeds/<target>/. Prints libFuzzer's figures per target and exits 1 when any target
# crashed, timed out, ran out of memory or failed a property; the input that did it is saved
# as BUILD/artifacts/<target>/crash-* (or timeout-*, oom-*, leak-*) and the log is
# BUILD/logs/<target>.log.
#
# With FUZZ_COVERAGE=1 each target then replays its corpus once with -print_coverage=1 and the
# edges covered in the project's own code (parser/, conf/, server/; not tests/, libstdc++ or
# llhttp) are printed per folder: BUILD/logs/<target>.coverage.
#
# With FUZZ_SEED=N every target runs with libFuzzer's -seed=N: the same mutations in the same
# order on every machine, so a run of the same length on the same corpus explores the same
# inputs. CI uses it (.ci/run), so CI replays a run that was checked before it landed; without
# it every run draws its own seed and explores further (docs/fuzzing.md).
#
# FUZZ_RUNS=N also stops each target after N inputs (libFuzzer's -runs), whichever comes first:
# with FUZZ_SEED, a run capped by count is the same run on any machine, however fast.
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

seed_arg=()
if [ -n "${FUZZ_SEED:-}" ]; then
    seed_arg=(-seed="$FUZZ_SEED")
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
    seed_arg+=(-runs="$FUZZ_RUNS")
fi

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
    "$bin" "${seed_arg[@]}" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
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
    if [ "$rc" -eq 0 ] && [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
        # COVERED_FUNC/UNCOVERED_FUNC lines: "... edges: covered/total NAME FILE:LINE".
        "$bin" -runs=0 -print_coverage=1 "$build/corpus/$t" >"$build/logs/$t.replay" 2>&1
        awk -v src="$src/" '
            /^(UN)?COVERED_FUNC/ {
                file = $NF; sub(/:[0-9]+$/, "", file)
                if (index(file, src) != 1 || index(file, src "tests/") == 1) next
                split($5, e, "/"); dir = substr(file, length(src) + 1); sub(/\/[^\/]*$/, "", dir)
                covered[dir] += e[1]; total[dir] += e[2]; all_c += e[1]; all_t += e[2]
            }
            END {
                for (d in covered) printf "  %-16s %5d/%-5d edges\n", d "/", covered[d], total[d]
                printf "  %-16s %5d/%-5d edges (%.0f%%)\n", "all", all_c, all_t, 100 * all_c / all_t
            }' "$build/logs/$t.replay" | sort >"$build/logs/$t.coverage"
        echo "fuzz: $t: edges of the project's code covered by its corpus:"
        cat "$build/logs/$t.coverage"
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
