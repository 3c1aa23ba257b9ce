#pragma once

#include "server/util/histogram.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace kahttpd::server {

/// One deadline, embedded in its owner (a Connection). Intrusive: linking and unlinking never
/// allocate. The destructor unlinks, so an owner can be freed while armed.
/// Thread: the worker that owns the wheel.
class TimerEntry {
  public:
    /// Called with the entry that fired; its owner derives from TimerEntry and casts (no
    /// data pointer: one word less in every idle connection).
    using Callback = void (*)(TimerEntry& entry) noexcept;

    explicit TimerEntry(Callback cb) noexcept : cb_(cb) {}
    TimerEntry(const TimerEntry&) = delete;
    TimerEntry& operator=(const TimerEntry&) = delete;
    ~TimerEntry() { unlink(); }

    bool armed() const noexcept { return next_ != nullptr; }
    /// The absolute deadline in milliseconds of the wheel's clock (meaningful when armed).
    std::uint64_t deadline() const noexcept { return at_; }
    /// Removes the entry from its wheel, if any. O(1).
    void unlink() noexcept;

  private:
    friend class TimerWheel;

    TimerEntry* prev_ = nullptr;
    TimerEntry* next_ = nullptr; // non-null exactly when linked (lists are circular)
    class TimerWheel* wheel_ = nullptr;
    std::uint64_t at_ = 0;
    Callback cb_;
    std::uint8_t level_ = 0; // where it is linked: a wheel level, kOverflow or kDue
    std::uint8_t slot_ = 0;
};

/// A hierarchical timer wheel with 1 ms resolution (after h2o's lib/common/timerwheel.c).
///
/// Four levels of 64 slots span 2^24 ms (4.6 h); a deadline in a later 2^24 ms epoch waits on
/// an overflow list that is re-inserted when that epoch begins. An entry lives in the level of the
/// highest bit in which its deadline differs from the wheel's current time, so each level's slots
/// only ever hold entries of the current epoch of the level above. schedule() and cancel() are
/// O(1); run() visits only occupied slots (a 64-bit occupancy map per level finds them), so an idle
/// wheel costs nothing and a tick costs only the entries that expire or cascade. Entries never fire
/// before their deadline. Due entries are spliced onto a local list before any callback runs, so
/// callbacks may schedule or cancel any entry, including their own.
///
/// The clock is injected: the caller passes `now` (ms), so tests drive it without sleeping.
/// Thread: single-threaded (one wheel per worker).
class TimerWheel {
  public:
    static constexpr unsigned kSlotBits = 6;
    static constexpr unsigned kSlots = 1u << kSlotBits;
    static constexpr unsigned kLevels = 4;
    static constexpr std::uint64_t kSpan = std::uint64_t{1} << (kSlotBits * kLevels);

    /// Bucket bounds (ms) of the firing-lag histogram: run time minus deadline.
    static constexpr std::array<std::uint64_t, 11> kLagBoundsMs = {0,  1,   2,   5,   10,  20,
                                                                   50, 100, 200, 500, 1000};
    using LagHistogram = Histogram<kLagBoundsMs.size()>;

    /// Counters for the status page and benchmarks.
    struct Stats {
        std::uint64_t scheduled = 0;    ///< schedule() calls
        std::uint64_t expirations = 0;  ///< callbacks fired
        std::uint64_t lag_total_ms = 0; ///< sum over fired entries of (run time - deadline)
        std::uint64_t lag_max_ms = 0;
        Histogram<kLagBoundsMs.size()> lag; ///< fired entries by lag, see kLagBoundsMs
    };

    explicit TimerWheel(std::uint64_t now) noexcept;
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;
    ~TimerWheel();

    /// Arms (or re-arms) `entry` to fire at `at` ms. A deadline at or before the wheel's current
    /// time fires at the next run(). O(1), no allocation.
    void schedule(TimerEntry& entry, std::uint64_t at) noexcept;
    void cancel(TimerEntry& entry) noexcept { entry.unlink(); }

    /// Fires every entry whose deadline is <= now, in no particular order. Returns the number
    /// fired.
    std::size_t run(std::uint64_t now) noexcept;

    /// The earliest time at which run() may have work to do, or nullopt when nothing is armed.
    /// Never later than the earliest deadline; may be earlier when a far entry must cascade.
    std::optional<std::uint64_t> next_run() const noexcept;

    std::uint64_t now() const noexcept { return now_; }
    std::size_t armed() const noexcept { return armed_; }
    const Stats& stats() const noexcept { return stats_; }

    /// Checks every invariant (links, occupancy maps, placement, counts). For tests.
    bool validate() const noexcept;

  private:
    friend class TimerEntry;

    static constexpr std::uint8_t kOverflow = 0xfe; // level_ of an entry on overflow_
    static constexpr std::uint8_t kDue = 0xff;      // level_ of an entry about to fire

    /// Sentinel of a circular doubly-linked list of entries.
    struct List {
        TimerEntry head{nullptr};
        List() noexcept { head.prev_ = head.next_ = &head; }
        bool empty() const noexcept { return head.next_ == &head; }
        void push_back(TimerEntry& e) noexcept;
    };

    void link(TimerEntry& entry) noexcept;
    void on_unlink(TimerEntry& entry) noexcept;
    std::uint64_t slot_start(unsigned level, unsigned slot) const noexcept;
    void detach_all(List& list) noexcept;

    std::uint64_t now_;
    std::size_t armed_ = 0;
    std::array<std::uint64_t, kLevels> occupied_{};
    std::array<std::array<List, kSlots>, kLevels> slots_;
    List overflow_;
    Stats stats_;
};

} // namespace kahttpd::server
