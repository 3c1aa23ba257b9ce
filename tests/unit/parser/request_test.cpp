#include "parser/request.hpp"

#include "parser/request_parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>

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
