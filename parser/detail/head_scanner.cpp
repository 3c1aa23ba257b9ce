#include "parser/detail/head_scanner.hpp"

#include "parser/text.hpp"

namespace kahttpd::parser::detail {

HeadScanner::Finding HeadScanner::scan(std::string_view bytes) noexcept {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
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
