#include "server/util/timer_wheel.hpp"

#include <algorithm>
#include <bit>

namespace kahttpd::server {

void TimerEntry::unlink() noexcept {
    if (next_ == nullptr) {
        return;
    }
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
    if (wheel_ != nullptr) {
        wheel_->on_unlink(*this);
    }
}

void TimerWheel::List::push_back(TimerEntry& e) noexcept {
    e.prev_ = head.prev_;
    e.next_ = &head;
    head.prev_->next_ = &e;
    head.prev_ = &e;
}

TimerWheel::TimerWheel(std::uint64_t now) noexcept : now_(now) {}

TimerWheel::~TimerWheel() {
    // Entries may outlive the wheel (their owners are freed later); cut them loose so their
    // destructors do not touch freed memory.
    for (auto& level : slots_) {
        for (auto& slot : level) {
            detach_all(slot);
        }
    }
    detach_all(overflow_);
}

void TimerWheel::detach_all(List& list) noexcept {
    while (!list.empty()) {
        TimerEntry* e = list.head.next_;
        list.head.next_ = e->next_;
        e->prev_ = e->next_ = nullptr;
        e->wheel_ = nullptr;
    }
    list.head.prev_ = &list.head;
}

std::uint64_t TimerWheel::slot_start(unsigned level, unsigned slot) const noexcept {
    // Entries of a level share every bit above the level with now_ (the invariant), so the
    // slot's first millisecond is now_'s upper bits with the slot number in the level's bits.
    const unsigned shift = level * kSlotBits;
    const std::uint64_t epoch_mask = ~((std::uint64_t{1} << (shift + kSlotBits)) - 1);
    return (now_ & epoch_mask) | (std::uint64_t{slot} << shift);
}

void TimerWheel::link(TimerEntry& e) noexcept {
    // A deadline already passed is placed at now_, so it fires at the next run().
    const std::uint64_t at = std::max(e.at_, now_);
    const std::uint64_t diff = at ^ now_;
    const unsigned level = diff == 0 ? 0 : (63 - std::countl_zero(diff)) / kSlotBits;
    e.wheel_ = this;
    if (level >= kLevels) {
        e.level_ = kOverflow;
        overflow_.push_back(e);
        return;
    }
    const unsigned slot = static_cast<unsigned>(at >> (level * kSlotBits)) & (kSlots - 1);
    e.level_ = static_cast<std::uint8_t>(level);
    e.slot_ = static_cast<std::uint8_t>(slot);
    slots_[level][slot].push_back(e);
    occupied_[level] |= std::uint64_t{1} << slot;
}

void TimerWheel::on_unlink(TimerEntry& e) noexcept {
    --armed_;
    if (e.level_ < kLevels && slots_[e.level_][e.slot_].empty()) {
        occupied_[e.level_] &= ~(std::uint64_t{1} << e.slot_);
    }
    e.wheel_ = nullptr;
}

void TimerWheel::schedule(TimerEntry& e, std::uint64_t at) noexcept {
    e.unlink();
    e.at_ = at;
    ++armed_;
    ++stats_.scheduled;
    link(e);
}

std::optional<std::uint64_t> TimerWheel::next_run() const noexcept {
    std::optional<std::uint64_t> best;
    for (unsigned level = 0; level < kLevels; ++level) {
        if (occupied_[level] != 0) {
            const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
            const std::uint64_t t = slot_start(level, slot);
            if (!best || t < *best) {
                best = t;
            }
        }
    }
    if (!overflow_.empty()) {
        const std::uint64_t next_epoch = (now_ | (kSpan - 1)) + 1;
        if (!best || next_epoch < *best) {
            best = next_epoch;
        }
    }
    return best;
}

std::size_t TimerWheel::run(std::uint64_t now) noexcept {
    now = std::max(now, now_);
    List due;
    // Visit occupied slots in time order up to `now`. Each visited slot is emptied: its due
    // entries move to `due`, the others are re-linked relative to the advanced now_, which puts
    // them in a lower level (a cascade). A slot is visited at its start time, so the invariant
    // (entries share their level's epoch with now_) holds for every slot left behind.
    for (auto t = next_run(); t && *t <= now; t = next_run()) {
        now_ = std::max(now_, *t);
        List* source = nullptr;
        for (unsigned level = 0; level < kLevels && source == nullptr; ++level) {
            if (occupied_[level] != 0) {
                const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
                if (slot_start(level, slot) <= now_) {
                    source = &slots_[level][slot];
                    occupied_[level] &= ~(std::uint64_t{1} << slot);
                }
            }
        }
        if (source == nullptr) {
            source = &overflow_; // the next epoch has begun
        }
        List pending;
        if (!source->empty()) {
            pending.head.next_ = source->head.next_;
            pending.head.prev_ = source->head.prev_;
            pending.head.next_->prev_ = &pending.head;
            pending.head.prev_->next_ = &pending.head;
            source->head.next_ = source->head.prev_ = &source->head;
        }
        while (!pending.empty()) {
            TimerEntry* e = pending.head.next_;
            pending.head.next_ = e->next_;
            e->next_->prev_ = &pending.head;
            if (e->at_ <= now) {
                e->level_ = kDue;
                due.push_back(*e);
            } else {
                link(*e);
            }
        }
    }
    now_ = now;

    // Fire. Each entry is unlinked before its callback, so the callback may re-arm it; other
    // due entries may be cancelled by earlier callbacks (unlink handles that).
    std::size_t fired = 0;
    while (!due.empty()) {
        TimerEntry* e = due.head.next_;
        e->unlink();
        const std::uint64_t lag = now - std::min(now, e->at_);
        stats_.lag_total_ms += lag;
        stats_.lag_max_ms = std::max(stats_.lag_max_ms, lag);
        stats_.lag.add(kLagBoundsMs, lag);
        ++stats_.expirations;
        ++fired;
        e->cb_(*e);
    }
    return fired;
}

bool TimerWheel::validate() const noexcept {
    std::size_t count = 0;
    auto check_list = [&](const List& list, auto&& placed_ok) {
        const TimerEntry* prev = &list.head;
        for (const TimerEntry* e = list.head.next_; e != &list.head; e = e->next_) {
            if (e == nullptr || e->prev_ != prev || e->wheel_ != this || !placed_ok(*e)) {
                return false;
            }
            prev = e;
            ++count;
        }
        return list.head.prev_ == prev;
    };
    for (unsigned level = 0; level < kLevels; ++level) {
        for (unsigned slot = 0; slot < kSlots; ++slot) {
            const List& list = slots_[level][slot];
            const bool bit = (occupied_[level] >> slot) & 1;
            if (bit == list.empty()) {
                return false;
            }
            const bool ok = check_list(list, [&](const TimerEntry& e) {
                const std::uint64_t at = std::max(e.at_, now_);
                const std::uint64_t start = slot_start(level, slot);
                const std::uint64_t width = std::uint64_t{1} << (level * kSlotBits);
                return e.level_ == level && e.slot_ == slot && at >= start && at < start + width &&
                       (level == 0 || start > now_);
            });
            if (!ok) {
                return false;
            }
        }
    }
    const bool overflow_ok = check_list(overflow_, [&](const TimerEntry& e) {
        return e.level_ == kOverflow && (e.at_ ^ now_) >= kSpan && e.at_ > now_;
    });
    return overflow_ok && count == armed_;
}

} // namespace kahttpd::server
