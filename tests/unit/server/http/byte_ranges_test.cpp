#include "server/http/byte_ranges.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using kahttpd::server::append_closing_delimiter;
using kahttpd::server::append_part_header;
using kahttpd::server::ByteRange;
using kahttpd::server::format_content_range;
using kahttpd::server::format_unsatisfied_range;
using kahttpd::server::kDefaultMaxRanges;
using kahttpd::server::make_boundary;
using kahttpd::server::multipart_length;
using kahttpd::server::parse_ranges;
using kahttpd::server::RangeResult;

namespace {

struct Case {
    std::string_view field;
    std::uint64_t length;
    RangeResult result;
    std::vector<ByteRange> ranges;
};

void check_cases(const std::vector<Case>& cases, std::uint32_t max_ranges = kDefaultMaxRanges) {
    for (const auto& c : cases) {
        CAPTURE(c.field);
        CAPTURE(c.length);
        // Pre-filled so the test also sees that `out` is cleared.
        std::vector<ByteRange> out = {{7, 7}};
        CHECK(parse_ranges(c.field, c.length, max_ranges, out) == c.result);
        CHECK(out == c.ranges);
    }
}

/// "bytes=0-0,2-2,4-4,..." with `n` disjoint one-byte ranges.
std::string many_ranges(std::uint32_t n) {
    std::string field = "bytes=";
    for (std::uint32_t i = 0; i < n; ++i) {
        // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on the chain.
        if (i != 0) {
            field += ',';
        }
        field += std::to_string(2 * i);
        field += '-';
        field += std::to_string(2 * i);
    }
    return field;
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("each range form parses and is clamped to the representation") {
        using R = RangeResult;
        check_cases({
            {"bytes=0-499", 10000, R::satisfiable, {{0, 499}}},
            {"bytes=500-999", 10000, R::satisfiable, {{500, 999}}},
            {"bytes=-500", 10000, R::satisfiable, {{9500, 9999}}},
            {"bytes=9500-", 10000, R::satisfiable, {{9500, 9999}}},
            {"bytes=0-0,-1", 10000, R::satisfiable, {{0, 0}, {9999, 9999}}},
            {"bytes= 0-1 , 4-5", 10, R::satisfiable, {{0, 1}, {4, 5}}},
            {"bytes=\t0-1\t,\t4-5\t", 10, R::satisfiable, {{0, 1}, {4, 5}}},
            {"  bytes=0-1", 10, R::satisfiable, {{0, 1}}},
            {"BYTES=0-1", 10, R::satisfiable, {{0, 1}}},
            {"Bytes=0-1", 10, R::satisfiable, {{0, 1}}},
            {"bytes=,0-1,,", 10, R::satisfiable, {{0, 1}}},
            {"bytes=0-", 100, R::satisfiable, {{0, 99}}},
            {"bytes=0-0", 1, R::satisfiable, {{0, 0}}},
            {"bytes=-1", 1, R::satisfiable, {{0, 0}}},
            {"bytes=007-009", 100, R::satisfiable, {{7, 9}}},
            // Clamping.
            {"bytes=0-99999", 100, R::satisfiable, {{0, 99}}},
            {"bytes=50-100", 100, R::satisfiable, {{50, 99}}},
            {"bytes=-200", 100, R::satisfiable, {{0, 99}}},
            {"bytes=-100", 100, R::satisfiable, {{0, 99}}},
            {"bytes=0-99999999999999999999999", 100, R::satisfiable, {{0, 99}}},
            {"bytes=-99999999999999999999999", 100, R::satisfiable, {{0, 99}}},
            {"bytes=0-18446744073709551615", 100, R::satisfiable, {{0, 99}}},
            // Unsatisfiable elements are dropped when another one is satisfiable.
            {"bytes=0-1,200-300", 100, R::satisfiable, {{0, 1}}},
            {"bytes=-0,5-6", 100, R::satisfiable, {{5, 6}}},
        });
    }

    TEST_CASE("ranges that start past the end are unsatisfiable") {
        using R = RangeResult;
        check_cases({
            {"bytes=100-", 100, R::unsatisfiable, {}},
            {"bytes=100-200", 100, R::unsatisfiable, {}},
            {"bytes=200-300,400-", 100, R::unsatisfiable, {}},
            {"bytes=-0", 100, R::unsatisfiable, {}},
            {"bytes=0-1", 0, R::unsatisfiable, {}},
            {"bytes=0-", 0, R::unsatisfiable, {}},
            {"bytes=-5", 0, R::unsatisfiable, {}},
            {"bytes=99999999999999999999-", 100, R::unsatisfiable, {}},
        });
    }

    TEST_CASE("a Range that is not valid bytes syntax is ignored") {
        using R = RangeResult;
        check_cases({
            {"", 100, R::none, {}},
            {"bytes", 100, R::none, {}},
            {"bytes=", 100, R::none, {}},
            {"bytes= ,, ", 100, R::none, {}},
            {"items=0-1", 100, R::none, {}},
            {"bytes = 0-1", 100, R::none, {}},
            {"bytes:0-1", 100, R::none, {}},
            {"bytes=1", 100, R::none, {}},
            {"bytes=-", 100, R::none, {}},
            {"bytes=a-b", 100, R::none, {}},
            {"bytes=0x10-", 100, R::none, {}},
            {"bytes=+1-2", 100, R::none, {}},
            {"bytes=5-1", 100, R::none, {}},     // first > last
            {"bytes=0-1,5-1", 100, R::none, {}}, // one bad element spoils the field
            {"bytes=0-1;", 100, R::none, {}},
            {"bytes=0-1 2-3", 100, R::none, {}},
            {"bytes=0--1", 100, R::none, {}},
            {"bytes=1-2-3", 100, R::none, {}},
            {"bytes=--1", 100, R::none, {}},
            {"bytes=0 -1", 100, R::none, {}},
            {"bytes=0- 1", 100, R::none, {}},
            {"bytes=5-1", 0, R::none, {}}, // syntax is checked before satisfiability
        });
    }

    TEST_CASE("overlapping and adjacent ranges are coalesced, others sorted") {
        using R = RangeResult;
        check_cases({
            {"bytes=0-1,2-3", 10, R::satisfiable, {{0, 3}}},
            {"bytes=0-5,3-8", 10, R::satisfiable, {{0, 8}}},
            {"bytes=0-9,2-3", 10, R::satisfiable, {{0, 9}}},
            {"bytes=0-0,0-0", 10, R::satisfiable, {{0, 0}}},
            {"bytes=4-5,0-1", 10, R::satisfiable, {{0, 1}, {4, 5}}},
            {"bytes=0-1,3-4", 10, R::satisfiable, {{0, 1}, {3, 4}}}, // a gap is kept
            {"bytes=-1,0-0,5-", 10, R::satisfiable, {{0, 0}, {5, 9}}},
            {"bytes=8-,0-2,3-4,-3", 10, R::satisfiable, {{0, 4}, {7, 9}}},
            {"bytes=6-7,2-3,4-5", 10, R::satisfiable, {{2, 7}}},
            {"bytes=0-,5-6", 10, R::satisfiable, {{0, 9}}},
        });
    }

    TEST_CASE("more ranges than the cap make the Range ignored") {
        std::vector<ByteRange> out;
        SUBCASE("exactly at the cap") {
            REQUIRE(parse_ranges(many_ranges(200), 1000, 200, out) == RangeResult::satisfiable);
            CHECK(out.size() == 200);
            CHECK(out.back() == ByteRange{398, 398});
        }
        SUBCASE("one over the cap") {
            CHECK(parse_ranges(many_ranges(201), 1000, 200, out) == RangeResult::none);
            CHECK(out.empty());
        }
        SUBCASE("counted before coalescing") {
            CHECK(parse_ranges("bytes=0-1,0-1,0-1", 10, 2, out) == RangeResult::none);
        }
        SUBCASE("counted even when unsatisfiable") {
            CHECK(parse_ranges("bytes=50-,60-,70-", 10, 2, out) == RangeResult::none);
        }
        SUBCASE("zero means no cap") {
            REQUIRE(parse_ranges(many_ranges(1000), 5000, 0, out) == RangeResult::satisfiable);
            CHECK(out.size() == 1000);
        }
    }

    TEST_CASE("Content-Range values are appended") {
        std::string out = "Content-Range: ";
        SUBCASE("a satisfied range") {
            format_content_range(out, {0, 99}, 1234);
            CHECK(out == "Content-Range: bytes 0-99/1234");
        }
        SUBCASE("the largest numbers") {
            format_content_range(out, {UINT64_MAX - 1, UINT64_MAX - 1}, UINT64_MAX);
            CHECK(out == "Content-Range: bytes 18446744073709551614-18446744073709551614/"
                         "18446744073709551615");
        }
        SUBCASE("an unsatisfied range") {
            format_unsatisfied_range(out, 1234);
            CHECK(out == "Content-Range: bytes */1234");
        }
    }

    TEST_CASE("multipart parts and the close delimiter have the exact layout") {
        std::string out;
        append_part_header(out, "B0", "text/plain", {0, 1}, 10);
        CHECK(out == "\r\n--B0\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n");
        out.clear();
        append_part_header(out, "B0", "", {0, 1}, 10);
        CHECK(out == "\r\n--B0\r\nContent-Range: bytes 0-1/10\r\n\r\n");
        out.clear();
        append_closing_delimiter(out, "B0");
        CHECK(out == "\r\n--B0--\r\n");
    }

    TEST_CASE("the multipart length equals the length of the assembled body") {
        std::string file;
        for (int i = 0; i < 12345; ++i) {
            file.push_back(static_cast<char>('a' + i % 26));
        }
        const std::string boundary = make_boundary();
        struct Case {
            std::string_view field;
            std::string_view type;
        };
        const Case cases[] = {
            {"bytes=0-0,-1", "text/plain; charset=utf-8"},
            {"bytes=0-9,100-199,1000-9999", "application/octet-stream"},
            {"bytes=0-0,2-2,4-4,6-6,8-8,10-10", ""},
            {"bytes=5-,0-1", "image/png"},
            {"bytes=9-99,9999-", "text/html"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.field);
            std::vector<ByteRange> ranges;
            REQUIRE(parse_ranges(c.field, file.size(), kDefaultMaxRanges, ranges) ==
                    RangeResult::satisfiable);
            REQUIRE(ranges.size() > 1);
            std::string body;
            for (const auto& r : ranges) {
                append_part_header(body, boundary, c.type, r, file.size());
                body.append(file, r.first, r.size());
            }
            append_closing_delimiter(body, boundary);
            CHECK(multipart_length(ranges, boundary, c.type, file.size()) == body.size());
        }
        CHECK(multipart_length({}, "B", "", 10) == std::string_view("\r\n--B--\r\n").size());
    }

    TEST_CASE("boundaries are long hex strings and unique") {
        std::set<std::string> seen;
        for (int i = 0; i < 10000; ++i) {
            const std::string b = make_boundary();
            REQUIRE(b.size() >= 24);
            CHECK(b.find_first_not_of("0123456789abcdef") == std::string::npos);
            seen.insert(b);
        }
        CHECK(seen.size() == 10000);
        std::string other_thread;
        std::thread t([&other_thread] { other_thread = make_boundary(); });
        t.join();
        CHECK(seen.count(other_thread) == 0);
    }
}
