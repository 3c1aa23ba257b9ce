#include "server/http/http_date.hpp"

#include "server/http/validators.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <limits>
#include <string>
#include <string_view>

using kahttpd::server::DateCache;
using kahttpd::server::format_http_date;
using kahttpd::server::kFirstHttpDate;
using kahttpd::server::kLastHttpDate;
using kahttpd::server::parse_http_date;

namespace {

std::string formatted(std::time_t t) {
    char buf[30];
    return std::string(format_http_date(t, buf));
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("an HTTP-date is an IMF-fixdate of 29 bytes") {
        CHECK(formatted(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
        CHECK(formatted(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
        CHECK(formatted(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
        CHECK(formatted(kFirstHttpDate) == "Sat, 01 Jan 0000 00:00:00 GMT");
        CHECK(formatted(kLastHttpDate) == "Fri, 31 Dec 9999 23:59:59 GMT");
        DateCache cache;
        CHECK(cache.get(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    // Found by http_fuzzer: 453075101042 (year 16327) came out as "Thu, 19 May 16327 18:44:02
    // GM", a five-digit year cut at 29 bytes, in Last-Modified for a file with such an mtime
    // (tmpfs keeps any). Further out, gmtime_r fails (a year past INT_MAX) or tm_year + 1900
    // overflows (UBSan), as in the listing's short date.
    TEST_CASE("a time beyond the years 0000 to 9999 is written as the nearer end of them") {
        for (const std::time_t t :
             {kLastHttpDate + 1, std::time_t{453075101042}, std::time_t{67767987341548800},
              std::time_t{100000000000000000}, std::numeric_limits<std::time_t>::max()}) {
            CAPTURE(t);
            CHECK(formatted(t) == "Fri, 31 Dec 9999 23:59:59 GMT");
        }
        for (const std::time_t t : {kFirstHttpDate - 1, std::time_t{-100000000000000000},
                                    std::numeric_limits<std::time_t>::min()}) {
            CAPTURE(t);
            CHECK(formatted(t) == "Sat, 01 Jan 0000 00:00:00 GMT");
        }
    }

    TEST_CASE("every formatted date parses back to its time") {
        for (const std::time_t t :
             {kFirstHttpDate, std::time_t{-1}, std::time_t{0}, std::time_t{951782400},
              std::time_t{1709251199}, std::time_t{4102444800}, kLastHttpDate}) {
            CAPTURE(t);
            CHECK(parse_http_date(formatted(t), 0) == t);
        }
    }
}
