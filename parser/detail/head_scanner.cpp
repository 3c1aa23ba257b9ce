#include "parser/detail/head_scanner.hpp"

#include "parser/text.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kahttpd::parser::detail {

namespace {

/// The fault of byte `c` after byte `prev` anywhere in the head (RFC 9112 §2.2): a CR must
/// be followed by LF, and an LF must follow a CR.
constexpr HeadFault line_end_fault(char prev, char c) noexcept {
    if (prev == '\r' && c != '\n') {
        return HeadFault::bare_cr;
    }
    if (c == '\n' && prev != '\r') {
        return HeadFault::bare_lf;
    }
    return HeadFault::none;
}

/// The same once the method has ended, where a line must also not start with SP or HT
/// (obs-fold, §5.2). The one rule set, which the block scan below applies sixteen bytes at a
/// time.
constexpr HeadFault fault_after(char prev, char c) noexcept {
    if (const HeadFault fault = line_end_fault(prev, c); fault != HeadFault::none) {
        return fault;
    }
    return prev == '\n' && text::is_ows(c) ? HeadFault::obs_fold : HeadFault::none;
}

#if defined(__SSE2__)

/// Bit k set where byte k of the block equals `b`.
inline unsigned bytes_equal(__m128i block, char b) noexcept {
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(b))));
}

/// fault_after() over bytes[i..], sixteen bytes per step: every byte becomes a bit in a CR,
/// an LF and an SP-or-HT mask, and each rule is a shift and an AND of two masks. Head bytes
/// are mostly neither CR nor LF, so this is the cheap way to walk them again after llhttp
/// (issue 16: 633 instructions per request for the byte loop this replaces).
HeadScanner::Finding scan_after_method(std::string_view bytes, std::size_t i,
                                       char& prev) noexcept {
    unsigned after_cr = prev == '\r' ? 1 : 0; // bit 0: the byte before the block
    unsigned after_lf = prev == '\n' ? 1 : 0;
    for (; i < bytes.size(); i += 16) {
        const std::size_t len = std::min<std::size_t>(16, bytes.size() - i);
        __m128i block;
        if (len == 16) {
            block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes.data() + i));
        } else {
            alignas(16) char tail[16] = {}; // zeros match none of the bytes looked for
            std::memcpy(tail, bytes.data() + i, len);
            block = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
        }
        const unsigned cr = bytes_equal(block, '\r');
        const unsigned lf = bytes_equal(block, '\n');
        const unsigned ows = bytes_equal(block, ' ') | bytes_equal(block, '\t');
        const unsigned valid = (1u << len) - 1;
        after_cr = ((cr << 1) | after_cr) & valid;
        after_lf = ((lf << 1) | after_lf) & valid;
        const unsigned bare_cr = after_cr & ~lf;
        const unsigned bare_lf = lf & ~after_cr;
        const unsigned fold = after_lf & ows;
        if (const unsigned bad = bare_cr | bare_lf | fold; bad != 0) {
            // The rules exclude each other at one byte, so the lowest bit has one cause.
            const unsigned first = bad & (~bad + 1);
            const HeadFault fault = (first & bare_cr) != 0   ? HeadFault::bare_cr
                                    : (first & bare_lf) != 0 ? HeadFault::bare_lf
                                                             : HeadFault::obs_fold;
            return {fault, i + static_cast<std::size_t>(std::countr_zero(bad))};
        }
        after_cr = (cr >> (len - 1)) & 1;
        after_lf = (lf >> (len - 1)) & 1;
    }
    prev = bytes.back();
    return {};
}

#else

/// fault_after() over bytes[i..], a byte at a time (builds without SSE2).
HeadScanner::Finding scan_after_method(std::string_view bytes, std::size_t i,
                                       char& prev) noexcept {
    for (; i < bytes.size(); ++i) {
        if (const HeadFault fault = fault_after(prev, bytes[i]); fault != HeadFault::none) {
            return {fault, i};
        }
        prev = bytes[i];
    }
    return {};
}

#endif

} // namespace

HeadScanner::Finding HeadScanner::scan(std::string_view bytes) noexcept {
    std::size_t i = 0;
    for (; i < bytes.size() && phase_ != Phase::rest; ++i) {
        const char c = bytes[i];
        if (const HeadFault fault = line_end_fault(prev_, c); fault != HeadFault::none) {
            return {fault, i};
        }
        if (phase_ == Phase::leading) {
            if (c != '\r' && c != '\n') {
                phase_ = Phase::method;
            }
        }
        if (phase_ == Phase::method) {
            if (c == ' ') {
                phase_ = Phase::rest;
            } else {
                ++method_len_;
                method_is_token_ = method_is_token_ && text::is_tchar(c);
            }
        }
        prev_ = c;
    }
    if (i == bytes.size()) {
        return {};
    }
    return scan_after_method(bytes, i, prev_);
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
