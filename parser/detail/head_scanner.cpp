#include "parser/detail/head_scanner.hpp"

#include "parser/text.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

namespace kahttpd::parser::detail {

namespace {

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

/// The high bit of each byte of `w` equal to `b` (the classic "has zero byte" test on
/// w ^ b...b). Bytes above a match may be flagged too (the borrow), never below it, so the
/// lowest flag is exact.
constexpr std::uint64_t bytes_equal(std::uint64_t w, unsigned char b) noexcept {
    const std::uint64_t x = w ^ (kOnes * b);
    return (x - kOnes) & ~x & kHighs;
}

/// The index of the first CR or LF in `s` from `i`, or s.size(): eight bytes per step.
std::size_t find_cr_or_lf(std::string_view s, std::size_t i) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, sizeof w);
            const std::uint64_t m = bytes_equal(w, '\r') | bytes_equal(w, '\n');
            if (m != 0) {
                return i + static_cast<std::size_t>(std::countr_zero(m) / 8);
            }
        }
    }
    while (i < s.size() && s[i] != '\r' && s[i] != '\n') {
        ++i;
    }
    return i;
}

} // namespace

HeadScanner::Finding HeadScanner::scan(std::string_view bytes) noexcept {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (phase_ == Phase::rest && prev_ != '\r' && prev_ != '\n') {
            // After the method, a byte that is neither CR nor LF and follows neither has no
            // rule of its own: skip to the next CR or LF (this scan is the second walk over
            // the head, after llhttp's, so it must cost little: issue 16).
            const std::size_t j = find_cr_or_lf(bytes, i);
            if (j > i) {
                prev_ = bytes[j - 1];
                i = j;
                if (i == bytes.size()) {
                    break;
                }
            }
        }
        const char c = bytes[i];
        if (prev_ == '\r' && c != '\n') {
            return {HeadFault::bare_cr, i};
        }
        if (c == '\n' && prev_ != '\r') {
            return {HeadFault::bare_lf, i};
        }
        switch (phase_) {
        case Phase::leading:
            if (c == '\r' || c == '\n') {
                break;
            }
            phase_ = Phase::method;
            [[fallthrough]];
        case Phase::method:
            if (c == ' ') {
                phase_ = Phase::rest;
            } else {
                ++method_len_;
                method_is_token_ = method_is_token_ && text::is_tchar(c);
            }
            break;
        case Phase::rest:
            if (prev_ == '\n' && text::is_ows(c)) {
                return {HeadFault::obs_fold, i};
            }
            break;
        }
        prev_ = c;
    }
    return {};
}

MethodVerdict HeadScanner::method_verdict() const noexcept {
    return (method_len_ > 0 && method_is_token_) ? MethodVerdict::unknown_token
                                                 : MethodVerdict::garbage;
}

HeadScanner::MethodDecision HeadScanner::decide_method(std::string_view bytes,
                                                       std::uint32_t max_len) noexcept {
    if (phase_ == Phase::rest) {
        // The token already ended; llhttp refused it late (it knows the name, but not for
        // HTTP). Judge what we have.
        return {method_verdict(), 0};
    }
    phase_ = Phase::method;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c == ' ') {
            phase_ = Phase::rest;
            return {method_verdict(), i};
        }
        if (!text::is_tchar(c)) {
            method_is_token_ = false;
            return {MethodVerdict::garbage, i};
        }
        if (++method_len_ > max_len) {
            return {MethodVerdict::too_long, i};
        }
    }
    return {MethodVerdict::pending, bytes.size()};
}

} // namespace kahttpd::parser::detail
