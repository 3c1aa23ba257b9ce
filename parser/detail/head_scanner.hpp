#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kahttpd::parser::detail {

/// What HeadScanner found wrong with the bytes of a request head.
enum class HeadFault : std::uint8_t {
    none,
    bare_cr,  ///< CR not followed by LF (RFC 9112 §2.2)
    bare_lf,  ///< LF not preceded by CR; we do not take the §2.2 "MAY accept LF" leniency
    obs_fold, ///< a line of the head starts with SP or HT: obs-fold (RFC 9112 §5.2) or
              ///< whitespace after the start line (§2.2)
};

/// How an unknown method turned out once its token ended.
enum class MethodVerdict : std::uint8_t {
    pending,       ///< the token has not ended yet: more input is needed
    unknown_token, ///< a well-formed token followed by SP: 501 (RFC 9110 §9.1)
    garbage,       ///< empty, or a byte outside tchar: 400
    too_long,      ///< longer than the request-line limit: 414
};

/// A second look at the bytes of a request head that llhttp has consumed, kept across feeds.
///
/// llhttp 8.1 (even built in strict mode) accepts a bare LF after the request line and after
/// the last field, and accepts obs-fold; RFC 9112 lets a server refuse both, and refusing
/// them makes the head syntax the same whatever the framing of a proxy in front. llhttp also
/// reports HPE_INVALID_METHOD at the first byte that matches none of its methods, before the
/// token has ended, so telling "FOO" (501) from "G@T" (400) needs the raw method bytes.
///
/// Budget: a few bytes of state, one pass over the head bytes, no allocation.
class HeadScanner {
  public:
    struct Finding {
        HeadFault fault = HeadFault::none;
        std::size_t pos = 0; ///< index in the scanned bytes of the offending byte
    };

    /// Scans head bytes in stream order. Only bytes of the head (up to its final CRLF) may be
    /// passed; body bytes are not head syntax.
    Finding scan(std::string_view bytes) noexcept;

    struct MethodDecision {
        MethodVerdict verdict = MethodVerdict::pending;
        std::size_t pos = 0; ///< index in bytes where the verdict was reached
    };

    /// Continues the method token with bytes llhttp refused (from its error position on) and
    /// decides, once the token ends, whether it was a token. Call again with later input
    /// while the verdict is pending.
    MethodDecision decide_method(std::string_view bytes, std::uint32_t max_len) noexcept;

    /// Forgets everything (a new message starts).
    void reset() noexcept { *this = HeadScanner{}; }

  private:
    enum class Phase : std::uint8_t {
        leading, ///< empty lines before the request line (RFC 9112 §2.2)
        method,  ///< inside the method token
        rest,    ///< after the SP that ends the method
    };

    MethodVerdict method_verdict() const noexcept;

    Phase phase_ = Phase::leading;
    char prev_ = 0; ///< previous head byte; 0 at the start of a message
    std::uint32_t method_len_ = 0;
    bool method_is_token_ = true; ///< every method byte so far is a tchar
};

} // namespace kahttpd::parser::detail
