#include "parser/request_parser.hpp"

#include "tests/unit/parser/golden.hpp"

#include <doctest/doctest.h>
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using kahttpd::parser::code;
using kahttpd::parser::FeedResult;
using kahttpd::parser::ParseEvent;
using kahttpd::parser::ParseLimits;
using kahttpd::parser::Request;
using kahttpd::parser::RequestParser;
using kahttpd::parser::Status;
using kahttpd::parser::status_for;
namespace test = kahttpd::parser::test;

namespace {

std::string version_of(const Request& r) {
    return std::to_string(r.http_major()) + "." + std::to_string(r.http_minor());
}

std::string bool_text(bool b) {
    return b ? "true" : "false";
}

/// Checks one attribute line of an expect block against the request of an event.
void check_attribute(const test::Directive& d, const Request& r) {
    INFO("expect line " << d.line << ": " << d.key << " " << d.value);
    const std::string& k = d.key;
    const std::string& v = d.value;
    if (k == "method") {
        CHECK(r.method() == v);
    } else if (k == "method_id") {
        CHECK(std::to_string(r.method_id()) == v);
    } else if (k == "target") {
        CHECK(r.target() == v);
    } else if (k == "version") {
        CHECK(version_of(r) == v);
    } else if (k == "header") {
        const std::size_t colon = v.find(": ");
        const std::string name = v.substr(0, colon);
        const std::string value = (colon == std::string::npos) ? "" : v.substr(colon + 2);
        const auto found = r.header(name);
        REQUIRE(found.has_value());
        CHECK(*found == value);
    } else if (k == "field") {
        const std::size_t space = v.find(' ');
        const std::size_t index = std::stoul(v.substr(0, space));
        const std::string rest = v.substr(space + 1);
        const std::size_t colon = rest.find(": ");
        REQUIRE(index < r.headers().size());
        CHECK(r.headers()[index].name == rest.substr(0, colon));
        CHECK(r.headers()[index].value ==
              (colon == std::string::npos ? "" : rest.substr(colon + 2)));
    } else if (k == "no_header") {
        CHECK_FALSE(r.header(v).has_value());
    } else if (k == "headers") {
        CHECK(std::to_string(r.headers().size()) == v);
    } else if (k == "keep_alive") {
        CHECK(bool_text(r.keep_alive()) == v);
    } else if (k == "keep_alive_requested") {
        CHECK(bool_text(r.keep_alive_requested()) == v);
    } else if (k == "has_body") {
        CHECK(bool_text(r.has_body()) == v);
    } else if (k == "chunked") {
        CHECK(bool_text(r.chunked()) == v);
    } else if (k == "expect_continue") {
        CHECK(bool_text(r.expect_continue()) == v);
    } else if (k == "content_length") {
        CHECK((r.content_length() ? std::to_string(*r.content_length()) : "none") == v);
    } else if (k == "body_bytes") {
        CHECK(std::to_string(r.body_bytes()) == v);
    } else {
        FAIL("unknown expect directive " << k);
    }
}

/// Checks the events of a run against a case's expect block.
void check_expectations(const test::GoldenCase& c, const test::Run& run) {
    std::size_t next = 0; // index into run.records of the next event
    const test::Record* current = nullptr;
    for (const test::Directive& d : c.expect) {
        INFO("expect line " << d.line << ": " << d.key << " " << d.value);
        if (d.key == "head" || d.key == "message" || d.key == "error") {
            REQUIRE_MESSAGE(next < run.records.size(), "fewer events than expected");
            current = &run.records[next++];
            const ParseEvent want = d.key == "head"      ? ParseEvent::head_complete
                                    : d.key == "message" ? ParseEvent::message_complete
                                                         : ParseEvent::error;
            REQUIRE(current->event == want);
            if (want == ParseEvent::error) {
                CHECK(std::to_string(code(current->status)) == d.value);
            }
        } else if (d.key == "end") {
            CHECK(next == run.records.size());
            REQUIRE_FALSE(run.ended_in_error);
            CHECK(bool_text(run.in_message_at_end) == (d.value == "in_message" ? "true" : "false"));
        } else {
            REQUIRE_MESSAGE(current != nullptr, "attribute before any event");
            if (d.key == "offset") {
                CHECK(std::to_string(current->offset) == d.value);
            } else if (d.key == "reason") {
                CHECK(current->reason.find(d.value) != std::string::npos);
            } else {
                REQUIRE(current->event != ParseEvent::error);
                check_attribute(d, current->request);
            }
        }
    }
    CHECK_MESSAGE(next == run.records.size(), "more events than expected:\n"
                                                  << test::describe(run));
}

/// Feeds `input` whole and returns the single result (the input must hold one event).
FeedResult feed_once(RequestParser& parser, std::string_view input) {
    return parser.feed(input);
}

} // namespace

TEST_SUITE("parser") {

    TEST_CASE("golden cases give the same result whole, byte by byte and split anywhere") {
        const std::vector<test::GoldenCase> cases = test::load_all_cases();
        REQUIRE(cases.size() > 50);
        for (const test::GoldenCase& c : cases) {
            SUBCASE((c.file + ": " + c.name).c_str()) {
                INFO(c.file << ":" << c.line << ": " << c.name);
                REQUIRE_FALSE(c.expect.empty());
                const test::Run whole = test::run_whole(c.input, c.limits);
                const std::string expected = test::describe(whole);
                check_expectations(c, whole);

                const test::Run bytewise = test::run_bytewise(c.input, c.limits);
                CHECK(test::describe(bytewise) == expected);

                for (std::size_t cut = 1; cut < c.input.size(); ++cut) {
                    const test::Run split = test::run_cut(c.input, c.limits, {cut});
                    const std::string got = test::describe(split);
                    if (got != expected) {
                        INFO("split at " << cut);
                        CHECK(got == expected);
                        break; // one failing offset is enough to report
                    }
                }
            }
        }
    }

    TEST_CASE("Host fields are counted, in any case, and the count resets per message") {
        RequestParser parser;
        REQUIRE(parser.feed("GET / HTTP/1.1\r\nhost: a\r\nX: 1\r\nHOST: b\r\n\r\n").event ==
                ParseEvent::message_complete);
        CHECK(parser.request().host_fields() == 2);
        CHECK(parser.request().host_field() == "a"); // the first one
        REQUIRE(parser.feed("GET / HTTP/1.1\r\nX: 1\r\nHost: c\r\n\r\n").event ==
                ParseEvent::message_complete);
        CHECK(parser.request().host_fields() == 1);
        CHECK(parser.request().host_field() == "c");
        REQUIRE(parser.feed("GET / HTTP/1.0\r\nX-Host: a\r\n\r\n").event ==
                ParseEvent::message_complete);
        CHECK(parser.request().host_fields() == 0);
        CHECK(parser.request().host_field().empty());
    }

    TEST_CASE("an empty feed consumes nothing and needs more") {
        RequestParser parser;
        const FeedResult r = parser.feed({});
        CHECK(r.consumed == 0);
        CHECK(r.event == ParseEvent::need_more);
        CHECK_FALSE(parser.in_message());
    }

    TEST_CASE("an empty feed after message_complete keeps the request") {
        RequestParser parser;
        REQUIRE(feed_once(parser, "GET /kept HTTP/1.1\r\n\r\n").event ==
                ParseEvent::message_complete);
        const FeedResult r = parser.feed({});
        CHECK(r.event == ParseEvent::need_more);
        CHECK(parser.request().target() == "/kept");
    }

    TEST_CASE("the next feed after message_complete clears the previous request") {
        RequestParser parser;
        const std::string first = "GET /first HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\n";
        REQUIRE(feed_once(parser, first).event == ParseEvent::message_complete);
        REQUIRE(parser.request().headers().size() == 2);

        SUBCASE("with a complete request") {
            const FeedResult r = parser.feed("POST /second HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
            REQUIRE(r.event == ParseEvent::head_complete);
            CHECK(parser.request().method() == "POST");
            CHECK(parser.request().target() == "/second");
            CHECK(parser.request().headers().size() == 1);
            CHECK_FALSE(parser.request().header("X-One").has_value());
            CHECK(parser.request().body_bytes() == 0);
        }
        SUBCASE("with the first byte of the next request") {
            const FeedResult r = parser.feed("G");
            CHECK(r.event == ParseEvent::need_more);
            CHECK(r.consumed == 1);
            CHECK(parser.in_message());
            CHECK(parser.request().headers().empty());
            CHECK(parser.request().target().empty());
        }
        SUBCASE("with an empty line before the next request") {
            const FeedResult r = parser.feed("\r\n");
            CHECK(r.event == ParseEvent::need_more);
            CHECK_FALSE(parser.in_message());
            CHECK(parser.request().headers().empty());
        }
    }

    TEST_CASE("parsing the same request again does not grow capacity") {
        RequestParser parser;
        const std::string request = "GET /index.html?q=1 HTTP/1.1\r\n"
                                    "Host: example.com\r\n"
                                    "User-Agent: kahttpd-test/1.0 (a longer value here)\r\n"
                                    "Accept: */*\r\n"
                                    "Accept-Encoding: gzip, deflate\r\n"
                                    "Connection: keep-alive\r\n\r\n";
        std::size_t steady = 0;
        for (int i = 0; i < 100; ++i) {
            REQUIRE(parser.feed(request).event == ParseEvent::message_complete);
            REQUIRE(parser.request().headers().size() == 5);
            if (i == 1) {
                steady = parser.request().capacity_bytes();
                REQUIRE(steady > 0);
            } else if (i > 1) {
                CHECK(parser.request().capacity_bytes() == steady);
            }
        }
    }

    TEST_CASE("pipelined requests are handed out one at a time with their consumed counts") {
        RequestParser parser;
        const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        const std::string second = "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        const std::string body = "abc";
        const std::string third = "HEAD /c HTTP/1.1\r\n\r\n";
        std::string_view input;
        const std::string all = first + second + body + third;
        input = all;

        FeedResult r = parser.feed(input);
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(r.consumed == first.size());
        CHECK(parser.request().target() == "/a");
        CHECK_FALSE(parser.in_message());
        input.remove_prefix(r.consumed);

        r = parser.feed(input);
        CHECK(r.event == ParseEvent::head_complete);
        CHECK(r.consumed == second.size());
        CHECK(parser.request().target() == "/b");
        CHECK(parser.in_message());
        input.remove_prefix(r.consumed);

        r = parser.feed(input);
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(r.consumed == body.size());
        CHECK(parser.request().target() == "/b");
        CHECK(parser.request().body_bytes() == 3);
        input.remove_prefix(r.consumed);

        r = parser.feed(input);
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(r.consumed == third.size());
        CHECK(parser.request().method() == "HEAD");
        input.remove_prefix(r.consumed);
        CHECK(input.empty());
    }

    TEST_CASE("header views stay valid while the head arrives in many small pieces") {
        // Many fields force storage to reallocate while the head is parsed; the views are
        // built once the head is complete, so they must all point at the final storage.
        RequestParser parser;
        std::string request = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 60; ++i) {
            request += "X-Field-" + std::to_string(i) + ": value-" + std::to_string(i) + "\r\n";
        }
        request += "\r\n";
        FeedResult r;
        for (char c : request) {
            const std::string one(1, c);
            r = parser.feed(one);
        }
        REQUIRE(r.event == ParseEvent::message_complete);
        REQUIRE(parser.request().headers().size() == 60);
        for (int i = 0; i < 60; ++i) {
            CHECK(parser.request().headers()[i].name == "X-Field-" + std::to_string(i));
            CHECK(parser.request().headers()[i].value == "value-" + std::to_string(i));
        }
    }

    TEST_CASE("a header without an end fails once it passes the limit") {
        // A megabyte of header value with no newline: refused as soon as the field is over
        // the limit, without buffering the rest.
        RequestParser parser; // default limits: 8190 bytes per field
        REQUIRE(parser.feed("GET / HTTP/1.1\r\nX-Big: ").event == ParseEvent::need_more);
        const std::string chunk(4096, 'a');
        std::size_t fed = 0;
        FeedResult r;
        do {
            r = parser.feed(chunk);
            fed += chunk.size();
        } while (r.event == ParseEvent::need_more && fed < (1u << 20));
        CHECK(r.event == ParseEvent::error);
        CHECK(parser.error_status() == Status::header_too_large);
        CHECK(fed <= 8192 + chunk.size());
        CHECK(parser.request().capacity_bytes() < 64 * 1024);
    }

    TEST_CASE("a target without an end fails once it passes the limit") {
        ParseLimits limits;
        limits.request_line = 1000;
        RequestParser parser(limits);
        REQUIRE(parser.feed("GET /").event == ParseEvent::need_more);
        const std::string chunk(100, 'a');
        FeedResult r;
        std::size_t fed = 0;
        do {
            r = parser.feed(chunk);
            fed += chunk.size();
        } while (r.event == ParseEvent::need_more && fed < 100000);
        CHECK(r.event == ParseEvent::error);
        CHECK(parser.error_status() == Status::uri_too_long);
        CHECK(parser.error_reason() == "request line too long");
        CHECK(fed <= 1000 + chunk.size());
    }

    TEST_CASE("a header just under the default limit is accepted") {
        RequestParser parser;
        const std::string value(8190 - 2 - 5, 'v'); // "X-Big" + ": " + value = 8190
        const std::string request = "GET / HTTP/1.1\r\nX-Big: " + value + "\r\n\r\n";
        SUBCASE("whole") {
            REQUIRE(parser.feed(request).event == ParseEvent::message_complete);
            CHECK(parser.request().header("x-big") == value);
        }
        SUBCASE("one byte more is refused") {
            const std::string longer = "GET / HTTP/1.1\r\nX-Big: " + value + "w\r\n\r\n";
            REQUIRE(parser.feed(longer).event == ParseEvent::error);
            CHECK(parser.error_status() == Status::header_too_large);
        }
    }

    TEST_CASE("the body is counted and discarded across feeds") {
        RequestParser parser;
        REQUIRE(parser.feed("PUT /f HTTP/1.1\r\nContent-Length: 10\r\n\r\n").event ==
                ParseEvent::head_complete);
        CHECK(parser.in_message());
        CHECK(parser.request().has_body());
        FeedResult r = parser.feed("0123");
        CHECK(r.event == ParseEvent::need_more);
        CHECK(r.consumed == 4);
        CHECK(parser.request().body_bytes() == 4);
        r = parser.feed("456789GET");
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(r.consumed == 6);
        CHECK(parser.request().body_bytes() == 10);
        CHECK_FALSE(parser.in_message());
    }

    TEST_CASE("the parser stays in error until reset") {
        RequestParser parser;
        REQUIRE(parser.feed("G@T / HTTP/1.1\r\n\r\n").event == ParseEvent::error);
        CHECK(parser.error_status() == Status::bad_request);
        CHECK_FALSE(parser.error_reason().empty());
        const FeedResult again = parser.feed("GET / HTTP/1.1\r\n\r\n");
        CHECK(again.event == ParseEvent::error);
        CHECK(again.consumed == 0);

        parser.reset();
        CHECK_FALSE(parser.in_message());
        const FeedResult r = parser.feed("GET /after HTTP/1.1\r\n\r\n");
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(parser.request().target() == "/after");
    }

    TEST_CASE("reset in the middle of a message starts over") {
        RequestParser parser;
        REQUIRE(parser.feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").event ==
                ParseEvent::head_complete);
        parser.reset();
        const FeedResult r = parser.feed("GET /fresh HTTP/1.1\r\n\r\n");
        CHECK(r.event == ParseEvent::message_complete);
        CHECK(parser.request().target() == "/fresh");
        CHECK(parser.request().body_bytes() == 0);
    }

    TEST_CASE("in_message tells an idle parser from one inside a request") {
        RequestParser parser;
        CHECK_FALSE(parser.in_message());
        parser.feed("\r\n");
        CHECK_FALSE(parser.in_message());
        parser.feed("GET / HT");
        CHECK(parser.in_message());
        parser.feed("TP/1.1\r\n\r\n");
        CHECK_FALSE(parser.in_message());
    }

    TEST_CASE("error reasons are NUL-terminated for printf-style logs") {
        const char* inputs[] = {"G@T / HTTP/1.1\r\n\r\n", "FOO / HTTP/1.1\r\n\r\n",
                                "GET / HTTP/1.2\r\n\r\n", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"};
        for (const char* input : inputs) {
            CAPTURE(input);
            RequestParser parser;
            REQUIRE(parser.feed(input).event == ParseEvent::error);
            const std::string_view reason = parser.error_reason();
            REQUIRE_FALSE(reason.empty());
            CHECK(reason.data()[reason.size()] == '\0');
        }
    }

    TEST_CASE("status_for maps every llhttp error to a 4xx or 5xx") {
        // llhttp 8.1 numbers its errors 0..35 (HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE).
        REQUIRE(HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE == 35);
        for (int e = 0; e <= 35; ++e) {
            const auto err = static_cast<llhttp_errno_t>(e);
            CAPTURE(llhttp_errno_name(err));
            const Status s = status_for(err);
            if (err == HPE_OK) {
                CHECK(s == Status::ok);
            } else {
                CHECK(code(s) >= 400);
                CHECK(code(s) <= 599);
            }
        }
    }

    TEST_CASE("status_for follows the RFC for the errors that are not plain 400") {
        CHECK(status_for(HPE_INVALID_METHOD) == Status::bad_request);
        CHECK(status_for(HPE_INVALID_VERSION) == Status::bad_request);
        // RFC 9112 §6.3: chunked not final in a request is a 400, then close.
        CHECK(status_for(HPE_INVALID_TRANSFER_ENCODING) == Status::bad_request);
        CHECK(status_for(HPE_UNEXPECTED_CONTENT_LENGTH) == Status::bad_request);
        CHECK(status_for(HPE_CLOSED_CONNECTION) == Status::bad_request);
        CHECK(status_for(HPE_INTERNAL) == Status::internal_error);
        CHECK(status_for(HPE_CB_HEADERS_COMPLETE) == Status::internal_error);
        CHECK(status_for(HPE_PAUSED_UPGRADE) == Status::not_implemented);
        CHECK(status_for(HPE_PAUSED_H2_UPGRADE) == Status::version_not_supported);
    }

    TEST_CASE("status_for answers for a number outside llhttp's errors") {
        CHECK(status_for(static_cast<llhttp_errno_t>(99)) == Status::internal_error);
    }
}
