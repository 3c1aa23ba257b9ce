#include "server/http/validators.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using kahttpd::server::ConditionalHeaders;
using kahttpd::server::EntityTag;
using kahttpd::server::etag_list_matches;
using kahttpd::server::evaluate_preconditions;
using kahttpd::server::format_etag;
using kahttpd::server::if_range_allows;
using kahttpd::server::parse_entity_tag;
using kahttpd::server::parse_http_date;
using kahttpd::server::Precondition;
using kahttpd::server::strong_match;
using kahttpd::server::weak_match;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 §5.6.7.
constexpr std::time_t kExample = 784111777;
constexpr std::string_view kExampleDate = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view kSecondBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr std::string_view kSecondAfter = "Sun, 06 Nov 1994 08:49:38 GMT";

std::time_t utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return timegm(&tm);
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("entity-tags parse with and without the weak prefix") {
        struct Case {
            std::string_view input;
            std::size_t consumed;
            bool weak;
            std::string_view opaque;
        };
        const Case cases[] = {
            {R"("abc")", 5, false, "abc"},
            {R"(W/"abc")", 7, true, "abc"},
            {R"("")", 2, false, ""},
            {R"(W/"")", 4, true, ""},
            {R"("abc", "def")", 5, false, "abc"},
            {"\"caf\xC3\xA9\"", 7, false, "caf\xC3\xA9"}, // obs-text is allowed
            {R"("x!#~")", 6, false, "x!#~"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.input);
            EntityTag tag;
            REQUIRE(parse_entity_tag(c.input, tag) == c.consumed);
            CHECK(tag.weak == c.weak);
            CHECK(tag.opaque == c.opaque);
        }
    }

    TEST_CASE("malformed entity-tags are refused") {
        for (const std::string_view input :
             {"", "abc", R"("abc)", R"(w/"abc")", R"(W/ "abc")", R"(W/abc)", R"("a b")", "\"a\tb\"",
              "\"a\x01\"", R"( "abc")", "W/", "\""}) {
            CAPTURE(input);
            EntityTag tag{true, "untouched"};
            CHECK(parse_entity_tag(input, tag) == 0);
            CHECK(tag.opaque == "untouched");
        }
    }

    TEST_CASE("strong comparison needs two strong tags, weak comparison only the opaque part") {
        // The table of RFC 9110 §8.8.3.2.
        struct Case {
            EntityTag a, b;
            bool strong, weak;
        };
        const Case cases[] = {
            {{true, "1"}, {true, "1"}, false, true},    {{true, "1"}, {true, "2"}, false, false},
            {{true, "1"}, {false, "1"}, false, true},   {{false, "1"}, {false, "1"}, true, true},
            {{false, "1"}, {false, "2"}, false, false},
        };
        for (const auto& c : cases) {
            CAPTURE(c.a.weak);
            CAPTURE(c.b.weak);
            CAPTURE(c.a.opaque);
            CAPTURE(c.b.opaque);
            CHECK(strong_match(c.a, c.b) == c.strong);
            CHECK(strong_match(c.b, c.a) == c.strong);
            CHECK(weak_match(c.a, c.b) == c.weak);
            CHECK(weak_match(c.b, c.a) == c.weak);
        }
    }

    TEST_CASE("entity-tag lists match with spaces, empty elements and the star") {
        const EntityTag strong_tag{false, "abc"};
        const EntityTag weak_tag{true, "abc"};
        struct Case {
            std::string_view field;
            bool strong_on_strong; // strong comparison against "abc"
            bool weak_on_strong;   // weak comparison against "abc"
            bool strong_on_weak;   // strong comparison against W/"abc"
        };
        const Case cases[] = {
            {R"("abc")", true, true, false},
            {R"(W/"abc")", false, true, false},
            {R"("xyz", "abc")", true, true, false},
            {R"(  "xyz"  ,  "abc"  )", true, true, false},
            {"\"xyz\"\t,\t\"abc\"", true, true, false},
            {R"(,"xyz",, "abc",)", true, true, false},
            {R"("xyz")", false, false, false},
            {R"("ABC")", false, false, false}, // opaque parts are case-sensitive
            {"*", true, true, true},
            {"  *  ", true, true, true},
            {"", false, false, false},
            {" , ", false, false, false},
            // Malformed anywhere: no match as a whole, even after a matching element.
            {R"("abc", junk)", false, false, false},
            {R"("abc" "xyz")", false, false, false},
            {R"(*, "abc")", false, false, false},
            {R"("abc", *)", false, false, false},
            {"abc", false, false, false},
            {R"("abc)", false, false, false},
            {R"("abc";x)", false, false, false},
        };
        for (const auto& c : cases) {
            CAPTURE(c.field);
            CHECK(etag_list_matches(c.field, strong_tag, true) == c.strong_on_strong);
            CHECK(etag_list_matches(c.field, strong_tag, false) == c.weak_on_strong);
            CHECK(etag_list_matches(c.field, weak_tag, true) == c.strong_on_weak);
        }
    }

    TEST_CASE("the star matches only an existing representation") {
        const EntityTag tag{false, "abc"};
        CHECK(etag_list_matches("*", tag, true, true));
        CHECK_FALSE(etag_list_matches("*", tag, true, false));
        CHECK_FALSE(etag_list_matches("*", tag, false, false));
    }

    TEST_CASE("HTTP-dates parse in all three formats") {
        const std::time_t now = utc(2025, 6, 1);
        struct Case {
            std::string_view text;
            std::time_t expected;
        };
        const Case cases[] = {
            {"Sun, 06 Nov 1994 08:49:37 GMT", kExample},     // IMF-fixdate
            {"Sunday, 06-Nov-94 08:49:37 GMT", kExample},    // obsolete RFC 850
            {"Sun Nov  6 08:49:37 1994", kExample},          // obsolete asctime
            {"Sun Nov 06 08:49:37 1994", kExample},          // asctime with 2DIGIT day
            {"  Sun, 06 Nov 1994 08:49:37 GMT\t", kExample}, // OWS around the value
            {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
            {"Thu, 29 Feb 1996 12:00:00 GMT", utc(1996, 2, 29, 12)},
            {"Tue, 29 Feb 2000 00:00:00 GMT", utc(2000, 2, 29)},
            {"Fri, 31 Dec 1999 23:59:59 GMT", utc(1999, 12, 31, 23, 59, 59)},
            {"Fri, 31 Dec 1999 23:59:60 GMT", utc(2000, 1, 1)}, // a leap second rolls over
            {"Wed, 01 Jan 2120 00:00:00 GMT", utc(2120, 1, 1)},
            {"Mon Jan  1 00:00:00 2001", utc(2001, 1, 1)},
            // The day name is not checked against the date, as in Apache and nginx.
            {"Mon, 06 Nov 1994 08:49:37 GMT", kExample},
        };
        for (const auto& c : cases) {
            CAPTURE(c.text);
            const auto t = parse_http_date(c.text, now);
            REQUIRE(t.has_value());
            CHECK(*t == c.expected);
        }
    }

    TEST_CASE("two-digit RFC 850 years are at most 50 years in the future") {
        SUBCASE("in 2025") {
            const std::time_t now = utc(2025, 6, 1);
            CHECK(parse_http_date("Friday, 01-Jan-00 00:00:00 GMT", now) == utc(2000, 1, 1));
            CHECK(parse_http_date("Tuesday, 01-Jan-75 00:00:00 GMT", now) == utc(2075, 1, 1));
            CHECK(parse_http_date("Thursday, 01-Jan-76 00:00:00 GMT", now) == utc(1976, 1, 1));
            CHECK(parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", now) == utc(1999, 1, 1));
        }
        SUBCASE("near the end of a century") {
            const std::time_t now = utc(2090, 1, 1);
            CHECK(parse_http_date("Friday, 01-Jan-05 00:00:00 GMT", now) == utc(2105, 1, 1));
            CHECK(parse_http_date("Friday, 01-Jan-50 00:00:00 GMT", now) == utc(2050, 1, 1));
        }
        SUBCASE("with the wall clock") {
            CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == kExample);
        }
    }

    TEST_CASE("invalid HTTP-dates are refused") {
        for (const std::string_view text : {
                 "",
                 "Sun",
                 "784111777",
                 "1994-11-06T08:49:37Z",
                 "Sun, 06 Nov 1994 08:49:37 UTC",
                 "Sun, 06 Nov 1994 08:49:37 gmt",
                 "Sun, 06 Nov 1994 08:49:37",
                 "Sun, 06 Nov 1994 08:49:37 GMT x",
                 "Sun, 6 Nov 1994 08:49:37 GMT",
                 "Sun, 06 nov 1994 08:49:37 GMT",
                 "Sun, 06 Nov 94 08:49:37 GMT",
                 "Sun 06 Nov 1994 08:49:37 GMT",
                 "sun, 06 Nov 1994 08:49:37 GMT",
                 "Xyz, 06 Nov 1994 08:49:37 GMT",
                 "Sun, 00 Nov 1994 08:49:37 GMT",
                 "Sun, 31 Nov 1994 08:49:37 GMT",
                 "Mon, 29 Feb 1900 00:00:00 GMT",
                 "Sun, 29 Feb 1995 00:00:00 GMT",
                 "Sun, 06 Nov 1994 24:00:00 GMT",
                 "Sun, 06 Nov 1994 08:60:00 GMT",
                 "Sun, 06 Nov 1994 08:49:61 GMT",
                 "Sun, 06 Nov 1994 08-49-37 GMT",
                 "Sun, 06 Nov 1994 8:49:37 GMT ",
                 "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
                 "Sun, 06 Nov 199a 08:49:37 GMT",
                 "Sun, +6 Nov 1994 08:49:37 GMT",
                 "Sunday, 06-Nov-1994 08:49:37 GMT",
                 "Sun, 06-Nov-94 08:49:37 GMT",
                 "Sunday 06-Nov-94 08:49:37 GMT",
                 "Sunday, 06 Nov 94 08:49:37 GMT",
                 "Sun Nov 6 08:49:37 1994",
                 "Sun Nov  6 08:49:37 94",
                 "Sun Nov  6 08:49:37 1994 GMT",
                 "Sun Foo  6 08:49:37 1994",
             }) {
            CAPTURE(text);
            CHECK_FALSE(parse_http_date(text, kExample).has_value());
        }
    }

    TEST_CASE("preconditions are evaluated in the order of RFC 9110 section 13.2.2") {
        using P = Precondition;
        const std::optional<std::string_view> none;
        const std::optional<std::string_view> match = R"("abc")";
        const std::optional<std::string_view> weak_match_value = R"(W/"abc")";
        const std::optional<std::string_view> other = R"("xyz")";
        const std::optional<std::string_view> star = "*";
        const std::optional<std::string_view> before = kSecondBefore;
        const std::optional<std::string_view> same = kExampleDate;
        const std::optional<std::string_view> after = kSecondAfter;
        const std::optional<std::string_view> bad_date = "yesterday";
        struct Case {
            const char* name;
            std::optional<std::string_view> im, inm, ims, ius;
            bool get;
            Precondition expected;
        };
        const Case cases[] = {
            {"no conditional headers", none, none, none, none, true, P::proceed},
            {"no conditional headers, PUT", none, none, none, none, false, P::proceed},
            // Step 1: If-Match, strong comparison.
            {"If-Match matches", match, none, none, none, true, P::proceed},
            {"If-Match in a list matches", R"("xyz", "abc")", none, none, none, true, P::proceed},
            {"If-Match does not match", other, none, none, none, true, P::failed},
            {"If-Match does not match, PUT", other, none, none, none, false, P::failed},
            {"If-Match weak tag never matches", weak_match_value, none, none, none, true,
             P::failed},
            {"If-Match star", star, none, none, none, false, P::proceed},
            {"If-Match malformed", "abc", none, none, none, false, P::failed},
            // Step 2: If-Unmodified-Since, only without If-Match.
            {"If-Unmodified-Since before Last-Modified", none, none, none, before, true, P::failed},
            {"If-Unmodified-Since equal to Last-Modified", none, none, none, same, true,
             P::proceed},
            {"If-Unmodified-Since after Last-Modified", none, none, none, after, false, P::proceed},
            {"If-Unmodified-Since invalid is ignored", none, none, none, bad_date, true,
             P::proceed},
            {"If-Match passing hides a failing If-Unmodified-Since", match, none, none, before,
             true, P::proceed},
            {"If-Match failing beats a passing If-Unmodified-Since", other, none, none, after, true,
             P::failed},
            // Step 3: If-None-Match, weak comparison.
            {"If-None-Match matches, GET", none, match, none, none, true, P::not_modified},
            {"If-None-Match weak tag matches weakly", none, weak_match_value, none, none, true,
             P::not_modified},
            {"If-None-Match matches, PUT", none, match, none, none, false, P::failed},
            {"If-None-Match does not match", none, other, none, none, true, P::proceed},
            {"If-None-Match star, GET", none, star, none, none, true, P::not_modified},
            {"If-None-Match star, PUT", none, star, none, none, false, P::failed},
            {"If-None-Match malformed proceeds", none, "abc", none, none, true, P::proceed},
            // Step 4: If-Modified-Since, GET/HEAD only and only without If-None-Match.
            {"If-Modified-Since after Last-Modified", none, none, after, none, true,
             P::not_modified},
            {"If-Modified-Since equal to Last-Modified", none, none, same, none, true,
             P::not_modified},
            {"If-Modified-Since before Last-Modified", none, none, before, none, true, P::proceed},
            {"If-Modified-Since invalid is ignored", none, none, bad_date, none, true, P::proceed},
            {"If-Modified-Since on PUT is ignored", none, none, after, none, false, P::proceed},
            {"If-None-Match not matching hides If-Modified-Since", none, other, after, none, true,
             P::proceed},
            {"If-None-Match matching wins over a stale If-Modified-Since", none, match, before,
             none, true, P::not_modified},
            // Combinations across the steps.
            {"If-Match failing beats If-None-Match matching", other, match, none, none, true,
             P::failed},
            {"If-Match passing, then If-None-Match matching", match, match, none, none, true,
             P::not_modified},
            {"If-Match passing, then If-None-Match matching, PUT", match, match, none, none, false,
             P::failed},
            {"If-Unmodified-Since failing beats If-None-Match", none, match, none, before, true,
             P::failed},
            {"If-Unmodified-Since failing beats If-Modified-Since", none, none, after, before, true,
             P::failed},
            {"If-Unmodified-Since passing, then If-Modified-Since", none, none, after, after, true,
             P::not_modified},
            {"all four, passing If-Match and missed If-None-Match", match, other, after, before,
             true, P::proceed},
            {"all four, everything matching", match, match, after, after, true, P::not_modified},
            {"all four, If-Match failing", other, match, after, after, true, P::failed},
        };
        const EntityTag current{false, "abc"};
        for (const auto& c : cases) {
            CAPTURE(c.name);
            const ConditionalHeaders h{c.im, c.inm, c.ims, c.ius};
            CHECK(evaluate_preconditions(h, c.get, true, current, kExample) == c.expected);
        }
    }

    TEST_CASE("without an ETag only the star matches") {
        const EntityTag unused{false, "abc"};
        ConditionalHeaders h;
        SUBCASE("If-Match star proceeds") {
            h.if_match = "*";
            CHECK(evaluate_preconditions(h, true, false, unused, kExample) ==
                  Precondition::proceed);
        }
        SUBCASE("If-Match with a list fails") {
            h.if_match = R"("abc")";
            CHECK(evaluate_preconditions(h, true, false, unused, kExample) == Precondition::failed);
        }
        SUBCASE("If-None-Match star is not modified") {
            h.if_none_match = "*";
            CHECK(evaluate_preconditions(h, true, false, unused, kExample) ==
                  Precondition::not_modified);
        }
        SUBCASE("If-None-Match with a list proceeds") {
            h.if_none_match = R"("abc")";
            CHECK(evaluate_preconditions(h, true, false, unused, kExample) ==
                  Precondition::proceed);
        }
        SUBCASE("dates still work") {
            h.if_modified_since = kExampleDate;
            CHECK(evaluate_preconditions(h, true, false, unused, kExample) ==
                  Precondition::not_modified);
        }
    }

    TEST_CASE("If-Range honours the range only for a strong match or the exact date") {
        const EntityTag strong_tag{false, "abc"};
        const EntityTag weak_tag{true, "abc"};
        struct Case {
            std::string_view field;
            bool has_etag;
            const EntityTag* current;
            bool expected;
        };
        const Case cases[] = {
            {R"("abc")", true, &strong_tag, true},
            {R"(  "abc"  )", true, &strong_tag, true},
            {R"("xyz")", true, &strong_tag, false},
            {R"(W/"abc")", true, &strong_tag, false}, // a weak tag never matches
            {R"(W/"abc")", true, &weak_tag, false},
            {R"("abc")", true, &weak_tag, false}, // nor does a weak current tag
            {R"("abc")", false, &strong_tag, false},
            {R"("abc", "xyz")", true, &strong_tag, false}, // one entity-tag, not a list
            {R"("abc)", true, &strong_tag, false},
            {kExampleDate, true, &strong_tag, true},
            {kExampleDate, false, &strong_tag, true},
            {"Sunday, 06-Nov-94 08:49:37 GMT", false, &strong_tag, true},
            {kSecondBefore, true, &strong_tag, false},
            {kSecondAfter, true, &strong_tag, false}, // not "not modified since": exact
            {"", true, &strong_tag, false},
            {"garbage", true, &strong_tag, false},
            {"*", true, &strong_tag, false},
        };
        for (const auto& c : cases) {
            CAPTURE(c.field);
            CAPTURE(c.has_etag);
            CHECK(if_range_allows(c.field, c.has_etag, *c.current, kExample) == c.expected);
            // A weak date (a Last-Modified capped at the Date) validates nothing; entity-tags
            // are judged as before.
            const bool is_date = std::string_view(c.field).find('"') == std::string_view::npos;
            CHECK(if_range_allows(c.field, c.has_etag, *c.current, kExample, false) ==
                  (c.expected && !is_date));
        }
    }

    TEST_CASE("ETags are formatted as quoted lowercase hex parts") {
        std::string out = "ETag: ";
        SUBCASE("a braced list") {
            format_etag(out, {0x2a, 0x5F3E1C00, 0});
            CHECK(out == R"(ETag: "2a-5f3e1c00-0")");
        }
        SUBCASE("one part") {
            format_etag(out, {UINT64_MAX});
            CHECK(out == R"(ETag: "ffffffffffffffff")");
        }
        SUBCASE("a span of a variable number of parts") {
            const std::vector<std::uint64_t> parts = {1, 2};
            format_etag(out, parts);
            CHECK(out == R"(ETag: "1-2")");
        }
        SUBCASE("it parses back as a strong tag") {
            format_etag(out, {0xabc, 0x10});
            EntityTag tag;
            const std::string_view value = std::string_view(out).substr(6);
            REQUIRE(parse_entity_tag(value, tag) == value.size());
            CHECK_FALSE(tag.weak);
            CHECK(tag.opaque == "abc-10");
        }
    }
}
