#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kahttpd::server {

/// A histogram with fixed bucket bounds: counts[i] holds values <= bounds[i] (and above the
/// bound before it); the last bucket holds everything above the last bound.
template <std::size_t N> struct Histogram {
    std::array<std::uint64_t, N + 1> counts{};

    void add(const std::array<std::uint64_t, N>& bounds, std::uint64_t v) noexcept {
        std::size_t i = 0;
        while (i < N && v > bounds[i]) {
            ++i;
        }
        ++counts[i];
    }
    void merge(const Histogram& o) noexcept {
        for (std::size_t i = 0; i <= N; ++i) {
            counts[i] += o.counts[i];
        }
    }
    std::uint64_t total() const noexcept {
        std::uint64_t t = 0;
        for (auto c : counts) {
            t += c;
        }
        return t;
    }
};

} // namespace kahttpd::server
