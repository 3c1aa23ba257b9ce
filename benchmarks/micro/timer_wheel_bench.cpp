// Timer wheel micro-benchmark (Google Benchmark): the cost of one operation with 1k, 10k, 100k
// and 1M entries already armed, to show that it does not grow with the number armed.
//
//   schedule_cancel/armed:N  arm one more entry at a random deadline in the next 60 s, then
//                      cancel it (a request that arms its connection's timer and finishes before
//                      it fires). The N others are armed at random deadlines in the same 60 s.
//   schedule_expire/armed:N/shuffled:S  N entries share one timeout of 65,536 ms (2^16: every
//                      entry passes through the same levels, whatever N) and are spread evenly
//                      over it; when one fires, its callback re-arms it (a keep-alive connection
//                      idling out, then the next one). Each iteration advances the clock by
//                      max(1, 65536 / N) ms and runs the wheel, so about max(1, N / 65536)
//                      entries fire per run. Time per expiration = real time / entries fired;
//                      it includes the entry's re-arm and its share of cascades between levels.
//                      S=0: entries are armed in the order they sit in memory, so the wheel's
//                      list walks are sequential; S=1: deadlines are dealt in random order, so
//                      each expiration touches a random entry, which at 1M entries (56 MB) is a
//                      cache miss: that difference is memory, not the wheel's algorithm.
//
// Built only with -DKAHTTPD_BUILD_BENCH=ON (make bench); never part of CTest.
//   build/benchmarks/timer_wheel_bench --benchmark_min_time=0.2
#include "server/util/timer_wheel.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <numeric>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

namespace {

using kahttpd::server::TimerEntry;
using kahttpd::server::TimerWheel;

constexpr std::uint64_t kStart = 1'000'000'000; // an arbitrary clock origin, in ms
constexpr std::uint64_t kWindowMs = 60'000;
constexpr std::size_t kOffsets = 4096; // a power of two, so the index wraps with a mask
constexpr std::uint64_t kTimeoutMs = 65'536;

void on_fire_noop(TimerEntry&) noexcept {}

struct ExpireContext {
    TimerWheel* wheel;
    std::uint64_t timeout_ms;
    std::uint64_t fired = 0;
};

// The context of the running schedule_expire (entries carry no data pointer).
ExpireContext* g_expire = nullptr;

void on_fire_rearm(TimerEntry& entry) noexcept {
    ExpireContext* ctx = g_expire;
    ++ctx->fired;
    ctx->wheel->schedule(entry, ctx->wheel->now() + ctx->timeout_ms);
}

std::vector<std::uint64_t> random_offsets(std::size_t n, std::uint64_t window, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint64_t> dist(1, window);
    std::vector<std::uint64_t> out(n);
    for (auto& v : out) {
        v = dist(rng);
    }
    return out;
}

void schedule_cancel(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    TimerWheel wheel(kStart);
    // std::deque never moves its elements, and entries must not move while linked.
    std::deque<TimerEntry> armed;
    const auto deadlines = random_offsets(n, kWindowMs, 1);
    for (std::size_t i = 0; i < n; ++i) {
        wheel.schedule(armed.emplace_back(on_fire_noop), kStart + deadlines[i]);
    }
    const auto offsets = random_offsets(kOffsets, kWindowMs, 2);
    TimerEntry probe(on_fire_noop);
    std::size_t i = 0;
    for (auto _ : state) {
        wheel.schedule(probe, kStart + offsets[i++ & (kOffsets - 1)]);
        wheel.cancel(probe);
    }
    benchmark::DoNotOptimize(wheel.armed());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void schedule_expire(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const bool shuffled = state.range(1) != 0;
    TimerWheel wheel(kStart);
    ExpireContext ctx{&wheel, kTimeoutMs};
    g_expire = &ctx;
    std::deque<TimerEntry> armed;
    // Entry k of the deadline order is first due at kStart + 1 + k * timeout / n.
    std::vector<std::uint64_t> order(n);
    std::iota(order.begin(), order.end(), std::uint64_t{0});
    if (shuffled) {
        std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
    }
    for (std::size_t i = 0; i < n; ++i) {
        wheel.schedule(armed.emplace_back(on_fire_rearm),
                       kStart + 1 + order[i] * kTimeoutMs / n);
    }
    const std::uint64_t step = std::max<std::uint64_t>(1, kTimeoutMs / n);
    std::uint64_t now = kStart;
    for (auto _ : state) {
        now += step;
        wheel.run(now);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(ctx.fired));
    state.counters["fired_per_run"] =
        static_cast<double>(ctx.fired) /
        static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
}

BENCHMARK(schedule_cancel)->ArgName("armed")->RangeMultiplier(10)->Range(1'000, 1'000'000);
BENCHMARK(schedule_expire)
    ->ArgNames({"armed", "shuffled"})
    ->ArgsProduct({{1'000, 10'000, 100'000, 1'000'000}, {0, 1}});

} // namespace

BENCHMARK_MAIN();
