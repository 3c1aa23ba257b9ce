#include "server/http/http_date.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace kahttpd::server {

std::string_view format_http_date(std::time_t t, char (&out)[30]) noexcept {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    // Clamped first: a five-digit year would be cut at 29 bytes ("... 16327 18:44:02 GM"), a
    // year past INT_MAX makes gmtime_r fail, and one just below it overflows tm_year + 1900.
    t = std::clamp(t, kFirstHttpDate, kLastHttpDate);
    std::tm tm{};
    gmtime_r(&t, &tm);
    // Formatted into a roomy buffer: the compiler cannot prove the fields stay two digits wide.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    std::memcpy(out, buf, 29);
    out[29] = '\0';
    return {out, 29};
}

} // namespace kahttpd::server
