#include "parser/request.hpp"

#include "parser/request_parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

using kahttpd::parser::HeaderField;
using kahttpd::parser::ParseEvent;
using kahttpd::parser::Request;
using kahttpd::parser::RequestParser;

namespace {

/// A request with a few fields, parsed from a buffer that is gone afterwards.
Request parsed(const std::string& head) {
    RequestParser parser;
    const std::string buffer = head;
    REQUIRE(parser.feed(buffer).event == ParseEvent::message_complete);
    return parser.request();
}

} // namespace

TEST_SUITE("parser") {

    TEST_CASE("a default request is empty") {
        const Request r;
        CHECK(r.method().empty());
        CHECK(r.target().empty());
        CHECK(r.headers().empty());
        CHECK_FALSE(r.header("Host").has_value());
        CHECK_FALSE(r.keep_alive());
        CHECK_FALSE(r.content_length().has_value());
    }

    TEST_CASE("header lookup ignores ASCII case and returns the first field") {
        const Request r = parsed("GET / HTTP/1.1\r\nHOST: a\r\nX-Dup: one\r\nx-dup: two\r\n\r\n");
        CHECK(r.header("host") == "a");
        CHECK(r.header("Host") == "a");
        CHECK(r.header("x-DUP") == "one");
        CHECK_FALSE(r.header("hos").has_value());
        CHECK_FALSE(r.header("hostx").has_value());
        REQUIRE(r.headers().size() == 3);
        CHECK(r.headers()[0].name == "HOST");
        CHECK(r.headers()[2].name == "x-dup");
    }

    TEST_CASE("header lookup finds every field of a browser head and none it lacks") {
        // The look-up first tests a bit per name (length and first byte); names that share a
        // bit with a present field must still be told apart by the walk.
        const Request r = parsed(
            "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nAccept: */*\r\n"
            "Accept-Encoding: gzip\r\nAccept-Language: en\r\nCookie: c=1\r\n"
            "If-None-Match: \"a\"\r\nif-none-match: \"b\"\r\nSec-Fetch-Mode: navigate\r\n\r\n");
        for (const HeaderField& field : r.headers()) {
            CHECK(r.header(field.name).has_value());
        }
        CHECK(r.header("ACCEPT-LANGUAGE") == "en");
        std::string joined;
        CHECK(r.header_list("If-None-Match", joined) == "\"a\", \"b\"");
        for (const char* absent : {"If-Match", "If-Modified-Since", "If-Unmodified-Since", "Range",
                                   "If-Range", "Hosts", "Cookie2", "Accept-Charset", "Referer",
                                   "Sec-Fetch-Site", "Sec-Fetch-User", "X", ""}) {
            INFO(absent);
            CHECK_FALSE(r.header(absent).has_value());
            CHECK_FALSE(r.header_list(absent, joined).has_value());
        }
    }

    TEST_CASE("copies and moves keep the header views on their own storage") {
        // Short values keep std::string in its inline buffer, where a plain member-wise move
        // would leave views pointing into the moved-from object.
        Request original = parsed("GET /p HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n");

        SUBCASE("copy construction") {
            const Request copy(original);
            original.clear();
            CHECK(copy.target() == "/p");
            CHECK(copy.header("A") == "1");
            CHECK(copy.headers()[1].value == "2");
        }
        SUBCASE("copy assignment") {
            Request copy = parsed("GET /other HTTP/1.1\r\nC: 3\r\n\r\n");
            copy = original;
            original.clear();
            CHECK(copy.target() == "/p");
            CHECK(copy.header("B") == "2");
            CHECK_FALSE(copy.header("C").has_value());
        }
        SUBCASE("move construction") {
            const Request moved(std::move(original));
            CHECK(moved.header("A") == "1");
            CHECK(moved.headers()[1].name == "B");
        }
        SUBCASE("move assignment") {
            Request moved;
            moved = std::move(original);
            CHECK(moved.method() == "GET");
            CHECK(moved.header("B") == "2");
        }
    }

    TEST_CASE("clear forgets the message but keeps capacity") {
        Request r = parsed("GET /a-longer-target-than-inline HTTP/1.1\r\nHost: example\r\n\r\n");
        const std::size_t capacity = r.capacity_bytes();
        r.clear();
        CHECK(r.method().empty());
        CHECK(r.headers().empty());
        CHECK(r.capacity_bytes() == capacity);
    }
}
