#include "server/util/timer_wheel.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

using kahttpd::server::TimerEntry;
using kahttpd::server::TimerWheel;

namespace {

/// A timer owner that records when it fired (the wheel's clock at the time).
struct Probe : TimerEntry {
    Probe() noexcept : TimerEntry(&Probe::on_fire) {}
    TimerWheel* wheel = nullptr;
    std::vector<std::uint64_t> fired_at;
    std::uint64_t rearm_after = 0; // re-arm itself this many ms later, once
    TimerEntry& entry = *this;

    static void on_fire(TimerEntry& e) noexcept {
        auto* self = static_cast<Probe*>(&e);
        self->fired_at.push_back(self->wheel->now());
        if (self->rearm_after != 0) {
            const std::uint64_t after = self->rearm_after;
            self->rearm_after = 0;
            self->wheel->schedule(e, self->wheel->now() + after);
        }
    }
};

} // namespace

TEST_SUITE("server") {

    TEST_CASE("an entry fires at its deadline and not a millisecond before") {
        TimerWheel wheel(1000);
        Probe p;
        p.wheel = &wheel;
        wheel.schedule(p.entry, 1200);
        CHECK(wheel.armed() == 1);
        CHECK(wheel.validate());
        CHECK(wheel.run(1199) == 0);
        CHECK(p.fired_at.empty());
        CHECK(p.entry.armed());
        CHECK(wheel.run(1200) == 1);
        REQUIRE(p.fired_at.size() == 1);
        CHECK(p.fired_at[0] == 1200);
        CHECK_FALSE(p.entry.armed());
        CHECK(wheel.armed() == 0);
        CHECK(wheel.validate());
    }

    TEST_CASE("next_run is never later than the earliest deadline") {
        TimerWheel wheel(0);
        Probe a, b;
        a.wheel = b.wheel = &wheel;
        CHECK_FALSE(wheel.next_run().has_value());
        wheel.schedule(a.entry, 5000);
        wheel.schedule(b.entry, 70);
        REQUIRE(wheel.next_run().has_value());
        CHECK(*wheel.next_run() <= 70);
        wheel.cancel(b.entry);
        REQUIRE(wheel.next_run().has_value());
        CHECK(*wheel.next_run() <= 5000);
        // Stepping to each next_run eventually fires a exactly at its deadline.
        while (a.fired_at.empty()) {
            auto t = wheel.next_run();
            REQUIRE(t.has_value());
            REQUIRE(*t <= 5000);
            wheel.run(*t);
            CHECK(wheel.validate());
        }
        CHECK(a.fired_at[0] == 5000);
    }

    TEST_CASE("cancel and re-arm are O(1) operations that take effect") {
        TimerWheel wheel(0);
        Probe p;
        p.wheel = &wheel;
        SUBCASE("cancelled entries never fire") {
            wheel.schedule(p.entry, 10);
            wheel.cancel(p.entry);
            CHECK(wheel.run(100000) == 0);
            CHECK(p.fired_at.empty());
        }
        SUBCASE("re-arming later moves the deadline") {
            wheel.schedule(p.entry, 10);
            wheel.schedule(p.entry, 300);
            CHECK(wheel.armed() == 1);
            CHECK(wheel.run(299) == 0);
            CHECK(wheel.run(300) == 1);
            CHECK(p.fired_at == std::vector<std::uint64_t>{300});
        }
        SUBCASE("re-arming earlier moves the deadline") {
            wheel.schedule(p.entry, 100000);
            wheel.schedule(p.entry, 5);
            CHECK(wheel.run(5) == 1);
            CHECK(wheel.run(200000) == 0);
        }
        SUBCASE("a deadline in the past fires at the next run") {
            wheel.run(50);
            wheel.schedule(p.entry, 20);
            CHECK(wheel.validate());
            CHECK(wheel.run(50) == 1);
        }
        SUBCASE("destroying an armed entry unlinks it") {
            auto q = std::make_unique<Probe>();
            q->wheel = &wheel;
            wheel.schedule(q->entry, 40);
            q.reset();
            CHECK(wheel.armed() == 0);
            CHECK(wheel.validate());
            CHECK(wheel.run(1000) == 0);
        }
    }

    TEST_CASE("an entry may re-arm itself from its own callback") {
        TimerWheel wheel(0);
        Probe p;
        p.wheel = &wheel;
        p.rearm_after = 250;
        wheel.schedule(p.entry, 100);
        CHECK(wheel.run(100) == 1);
        CHECK(p.entry.armed());
        CHECK(wheel.validate());
        CHECK(wheel.run(349) == 0);
        CHECK(wheel.run(350) == 1);
        CHECK(p.fired_at == std::vector<std::uint64_t>{100, 350});
    }

    TEST_CASE("a callback may cancel another entry that is due in the same run") {
        TimerWheel wheel(0);
        struct Killer : TimerEntry {
            Killer() noexcept : TimerEntry(&Killer::on_fire) {}
            TimerEntry* victim = nullptr;
            int fired = 0;
            TimerEntry& entry = *this;
            static void on_fire(TimerEntry& e) noexcept {
                auto* self = static_cast<Killer*>(&e);
                ++self->fired;
                if (self->victim != nullptr) {
                    self->victim->unlink();
                }
            }
        };
        Killer a, b;
        a.victim = &b.entry;
        b.victim = &a.entry;
        wheel.schedule(a.entry, 10);
        wheel.schedule(b.entry, 10);
        CHECK(wheel.run(10) == 1);
        CHECK(a.fired + b.fired == 1);
        CHECK(wheel.armed() == 0);
        CHECK(wheel.validate());
    }

    TEST_CASE("deadlines beyond the wheel's span and across epochs fire on time") {
        const std::uint64_t start = TimerWheel::kSpan - 3; // just before an epoch boundary
        TimerWheel wheel(start);
        Probe near_boundary, far;
        near_boundary.wheel = far.wheel = &wheel;
        wheel.schedule(near_boundary.entry, start + 5);
        wheel.schedule(far.entry, start + 3 * TimerWheel::kSpan + 17);
        CHECK(wheel.validate());
        CHECK(wheel.run(start + 4) == 0);
        CHECK(wheel.run(start + 5) == 1);
        CHECK(near_boundary.fired_at == std::vector<std::uint64_t>{start + 5});
        CHECK(wheel.run(start + 3 * TimerWheel::kSpan + 16) == 0);
        CHECK(wheel.validate());
        CHECK(wheel.run(start + 3 * TimerWheel::kSpan + 17) == 1);
        CHECK(far.fired_at == std::vector<std::uint64_t>{start + 3 * TimerWheel::kSpan + 17});
    }

    TEST_CASE("many entries fire exactly at their deadlines against a reference model") {
        std::mt19937_64 rng(12345);
        const std::uint64_t t0 = 987654321;
        TimerWheel wheel(t0);
        std::vector<std::unique_ptr<Probe>> probes;
        std::vector<std::uint64_t> expected(2000, 0); // 0 = not armed
        for (int i = 0; i < 2000; ++i) {
            probes.push_back(std::make_unique<Probe>());
            probes.back()->wheel = &wheel;
        }
        std::uint64_t now = t0;
        std::size_t total_fired = 0, total_expected = 0;
        for (int step = 0; step < 4000; ++step) {
            const auto i = static_cast<std::size_t>(rng() % probes.size());
            switch (rng() % 4) {
            case 0:
            case 1: { // schedule or re-arm with a spread of ranges (ms to hours)
                const std::uint64_t range = std::uint64_t{1} << (rng() % 26);
                const std::uint64_t at = now + rng() % range;
                wheel.schedule(probes[i]->entry, at);
                expected[i] = at;
                break;
            }
            case 2:
                wheel.cancel(probes[i]->entry);
                expected[i] = 0;
                break;
            default: { // advance the clock
                now += rng() % (std::uint64_t{1} << (rng() % 22));
                std::size_t due = 0;
                for (auto& at : expected) {
                    if (at != 0 && at <= now) {
                        ++due;
                    }
                }
                const std::size_t fired = wheel.run(now);
                CHECK(fired == due);
                total_fired += fired;
                total_expected += due;
                for (std::size_t k = 0; k < probes.size(); ++k) {
                    if (expected[k] != 0 && expected[k] <= now) {
                        REQUIRE(!probes[k]->fired_at.empty());
                        // The run happens at `now`; the deadline must have passed by then.
                        CHECK(probes[k]->fired_at.back() >= expected[k]);
                        expected[k] = 0;
                    }
                    CHECK(probes[k]->entry.armed() == (expected[k] != 0));
                }
                REQUIRE(wheel.validate());
                break;
            }
            }
        }
        CHECK(total_fired == total_expected);
        CHECK(wheel.stats().expirations == total_fired);
    }

    TEST_CASE("stepping to next_run fires each entry exactly at its deadline") {
        std::mt19937_64 rng(7);
        TimerWheel wheel(5);
        std::vector<std::unique_ptr<Probe>> probes;
        std::vector<std::uint64_t> deadline;
        for (int i = 0; i < 500; ++i) {
            probes.push_back(std::make_unique<Probe>());
            probes.back()->wheel = &wheel;
            deadline.push_back(5 + rng() % 400000);
            wheel.schedule(probes.back()->entry, deadline.back());
        }
        std::size_t runs = 0;
        while (auto t = wheel.next_run()) {
            wheel.run(*t);
            ++runs;
            REQUIRE(runs < 100000);
        }
        for (std::size_t i = 0; i < probes.size(); ++i) {
            REQUIRE(probes[i]->fired_at.size() == 1);
            CHECK(probes[i]->fired_at[0] == deadline[i]);
        }
        // Visiting only occupied slots: far fewer runs than milliseconds elapsed.
        CHECK(runs < 2000);
    }

} // TEST_SUITE
