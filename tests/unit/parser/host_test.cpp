#include "parser/host.hpp"

#include "parser/request_parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using kahttpd::parser::absolute_form_authority;
using kahttpd::parser::check_host;
using kahttpd::parser::is_valid_authority;
using kahttpd::parser::ParseEvent;
using kahttpd::parser::Request;
using kahttpd::parser::request_host;
using kahttpd::parser::RequestParser;
using kahttpd::parser::Status;

namespace {

/// A complete request parsed from `head` (no body).
Request parsed(const std::string& head) {
    RequestParser parser;
    REQUIRE(parser.feed(head).event == ParseEvent::message_complete);
    return parser.request();
}

/// The reason check_host gives for `head`, or "" when the request is valid.
std::string host_fault(const std::string& head) {
    const auto verdict = check_host(parsed(head));
    CHECK((verdict.status == Status::ok) == (std::string_view(verdict.reason).empty()));
    if (verdict.status != Status::ok) {
        CHECK(verdict.status == Status::bad_request);
    }
    return verdict.reason;
}

} // namespace

TEST_SUITE("parser") {

    TEST_CASE("a Host value is a host name or address with an optional port") {
        for (const char* valid : {
                 "a.test", "A.Test",
                 "a.test.", // a fully qualified name
                 "a.test:8080",
                 "a.test:99999", // the port's value plays no part
                 "a.test:",      // RFC 3986's port is *DIGIT; it means the default port
                 "localhost",
                 "my_host-1.a~b", // unreserved
                 "a!$&'()*+;=b",  // sub-delims but the comma
                 "%C3%A9t%C3%A9", // pct-encoded
                 "127.0.0.1", "127.0.0.1:80",
                 "999.1.1.1", // not an IPv4 address, but a reg-name by the grammar
                 "[::1]", "[::1]:8080", "[2001:db8::1]:", "[::ffff:192.0.2.1]",
                 "[v1.fe80::a+en1]", // IPvFuture
             }) {
            CAPTURE(valid);
            CHECK(is_valid_authority(valid));
        }
    }

    TEST_CASE("a Host value with userinfo, a path, a list or bad syntax is invalid") {
        for (const char* invalid : {
                 "", // RFC 9110 §4.2.1: an http URI never has an empty host
                 ":8080",
                 "user@a.test", // userinfo
                 "user:pw@a.test",
                 "a.test/x", // a path
                 "a.test?x",
                 "a.test#x",
                 "a.test, b.test", // a list: several Host lines combined
                 "a.test,b.test",
                 "a test",
                 "a\ttest",
                 "a.test:8x",
                 "a.test:80:81",
                 "a.test:-1",
                 "a.test\\x",
                 "a\"b",
                 "a<b>",
                 "%zz.test",
                 "a%4",
                 "[::1",
                 "[::1]x",
                 "[::1]:x",
                 "[]",
                 "[a.test]",
                 "[::1%25eth0]", // zone identifiers are not allowed in a Host
                 "[1:2:3:4:5:6:7:8:9]",
                 "[v1.]",
                 "[vx.a]",
                 "::1",               // an IPv6 address needs its brackets
                 "\xc3\xa9t\xc3\xa9", // raw UTF-8
             }) {
            CAPTURE(invalid);
            CHECK_FALSE(is_valid_authority(invalid));
        }
    }

    TEST_CASE("the authority of an absolute-form target") {
        CHECK(absolute_form_authority("http://a.test/x") == "a.test");
        CHECK(absolute_form_authority("HTTP://a.test:8080/x?q") == "a.test:8080");
        CHECK(absolute_form_authority("http://a.test") == "a.test");
        CHECK(absolute_form_authority("http://a.test?a=/b") == "a.test");
        CHECK(absolute_form_authority("http://a.test#f") == "a.test");
        CHECK(absolute_form_authority("http://[::1]:80/") == "[::1]:80");
        CHECK(absolute_form_authority("http://u@a.test/") == "u@a.test");
        CHECK(absolute_form_authority("http:///x") == "");
        CHECK(absolute_form_authority("svn+ssh://a.test/") == "a.test");
        SUBCASE("other forms have none") {
            CHECK_FALSE(absolute_form_authority("/x"));
            CHECK_FALSE(absolute_form_authority("//a.test/x"));
            CHECK_FALSE(absolute_form_authority("*"));
            CHECK_FALSE(absolute_form_authority("a.test:443")); // authority-form (CONNECT)
            CHECK_FALSE(absolute_form_authority("http:/x"));
            CHECK_FALSE(absolute_form_authority("1http://a.test/"));
            CHECK_FALSE(absolute_form_authority(""));
        }
    }

    TEST_CASE("an HTTP/1.1 request needs exactly one valid Host field") {
        CHECK(host_fault("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").empty());
        CHECK(host_fault("GET / HTTP/1.1\r\nhost: a.test:8080\r\n\r\n").empty());
        CHECK(host_fault("GET / HTTP/1.1\r\n\r\n") == "no Host field in an HTTP/1.1 request");
        CHECK(host_fault("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n") ==
              "more than one Host field");
        CHECK(host_fault("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") ==
              "more than one Host field");
        SUBCASE("an invalid or empty value") {
            for (const char* head : {
                     "GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost:\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost:   \r\n\r\n",
                     "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
                 }) {
                CAPTURE(head);
                CHECK(host_fault(head) == "invalid Host field");
            }
        }
    }

    TEST_CASE("HTTP/1.0 may leave Host out, but one it sends must be valid") {
        CHECK(host_fault("GET / HTTP/1.0\r\n\r\n").empty());
        CHECK(host_fault("GET / HTTP/1.0\r\nHost: a.test\r\n\r\n").empty());
        CHECK(host_fault("GET / HTTP/1.0\r\nHost: a.test/x\r\n\r\n") == "invalid Host field");
        CHECK(host_fault("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") ==
              "more than one Host field");
    }

    TEST_CASE("an absolute-form target names the host, and its authority must be valid") {
        SUBCASE("the target's authority overrides Host (RFC 9112 §3.2.2)") {
            const Request r = parsed("GET http://x.test:81/a HTTP/1.1\r\nHost: y.test\r\n\r\n");
            CHECK(host_fault("GET http://x.test/a HTTP/1.1\r\nHost: y.test\r\n\r\n").empty());
            CHECK(request_host(r) == "x.test:81");
        }
        SUBCASE("userinfo or an empty host in the target is 400") {
            CHECK(host_fault("GET http://u@x.test/a HTTP/1.1\r\nHost: x.test\r\n\r\n") ==
                  "invalid authority in the request target");
            CHECK(host_fault("GET http:///a HTTP/1.1\r\nHost: x.test\r\n\r\n") ==
                  "invalid authority in the request target");
        }
        SUBCASE("the Host field still has to be there, once, and valid") {
            CHECK(host_fault("GET http://x.test/a HTTP/1.1\r\n\r\n") ==
                  "no Host field in an HTTP/1.1 request");
            CHECK(host_fault("GET http://x.test/a HTTP/1.1\r\nHost: u@x.test\r\n\r\n") ==
                  "invalid Host field");
        }
    }

    TEST_CASE("request_host is the Host value for other targets, or empty") {
        CHECK(request_host(parsed("GET /a HTTP/1.1\r\nX: 1\r\nHost: a.test:80\r\n\r\n")) ==
              "a.test:80");
        CHECK(request_host(parsed("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n")) == "a.test");
        CHECK(request_host(parsed("GET /a HTTP/1.0\r\n\r\n")).empty());
    }
}
