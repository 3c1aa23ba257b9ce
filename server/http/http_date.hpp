#pragma once

#include <ctime>
#include <string_view>

namespace kahttpd::server {

/// The first and the last second an IMF-fixdate can write: its year has four digits
/// (0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z).
inline constexpr std::time_t kFirstHttpDate = -62167219200;
inline constexpr std::time_t kLastHttpDate = 253402300799;

/// Formats an IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
/// Writes exactly 29 bytes into `out` (which must hold 30) and returns them. A time outside
/// [kFirstHttpDate, kLastHttpDate] is written as the nearer of the two: a file's modification
/// time may be anything (tmpfs and btrfs store any 64-bit second).
std::string_view format_http_date(std::time_t t, char (&out)[30]) noexcept;

/// The Date header value, formatted at most once per second. One per worker: not shared.
class DateCache {
  public:
    /// The current date; `now` is the wall clock in seconds (time(nullptr)).
    std::string_view get(std::time_t now) noexcept {
        if (now != second_) {
            second_ = now;
            format_http_date(now, text_);
        }
        return {text_, 29};
    }

  private:
    std::time_t second_ = -1;
    char text_[30] = {};
};

} // namespace kahttpd::server
