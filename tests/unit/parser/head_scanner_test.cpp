#include "parser/detail/head_scanner.hpp"

#include <doctest/doctest.h>

#include <string_view>

using kahttpd::parser::detail::HeadFault;
using kahttpd::parser::detail::HeadScanner;
using kahttpd::parser::detail::MethodVerdict;

TEST_SUITE("parser") {

    TEST_CASE("head scanner accepts CRLF lines and leading empty lines") {
        HeadScanner s;
        CHECK(s.scan("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").fault == HeadFault::none);
    }

    TEST_CASE("head scanner finds bare LF, bare CR and folded lines") {
        HeadScanner s;
        SUBCASE("bare LF") {
            const auto f = s.scan("GET / HTTP/1.1\nHost: a\r\n\r\n");
            CHECK(f.fault == HeadFault::bare_lf);
            CHECK(f.pos == 14);
        }
        SUBCASE("bare CR") {
            const auto f = s.scan("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n");
            CHECK(f.fault == HeadFault::bare_cr);
            CHECK(f.pos == 24);
        }
        SUBCASE("obs-fold") {
            const auto f = s.scan("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n");
            CHECK(f.fault == HeadFault::obs_fold);
            CHECK(f.pos == 22);
        }
    }

    TEST_CASE("head scanner carries its state across pieces") {
        HeadScanner s;
        CHECK(s.scan("GET / HTTP/1.1\r").fault == HeadFault::none);
        const auto f = s.scan("X");
        CHECK(f.fault == HeadFault::bare_cr);
        CHECK(f.pos == 0);
    }

    TEST_CASE("an unknown method is a token or garbage once it ends") {
        HeadScanner s;
        SUBCASE("token followed by SP") {
            REQUIRE(s.scan("BR").fault == HeadFault::none);
            const auto d = s.decide_method("EW /pot", 100);
            CHECK(d.verdict == MethodVerdict::unknown_token);
            CHECK(d.pos == 2);
        }
        SUBCASE("garbage byte") {
            REQUIRE(s.scan("G").fault == HeadFault::none);
            CHECK(s.decide_method("@T / HTTP/1.1", 100).verdict == MethodVerdict::garbage);
        }
        SUBCASE("empty method") {
            CHECK(s.decide_method(" / HTTP/1.1", 100).verdict == MethodVerdict::garbage);
        }
        SUBCASE("pending until the token ends") {
            CHECK(s.decide_method("FO", 100).verdict == MethodVerdict::pending);
            CHECK(s.decide_method("O", 100).verdict == MethodVerdict::pending);
            CHECK(s.decide_method(" ", 100).verdict == MethodVerdict::unknown_token);
        }
        SUBCASE("too long") {
            CHECK(s.decide_method("ABCDEFGHIJ", 4).verdict == MethodVerdict::too_long);
        }
        SUBCASE("refused after the method ended") {
            REQUIRE(s.scan("DESCRIBE / ").fault == HeadFault::none);
            CHECK(s.decide_method("", 100).verdict == MethodVerdict::unknown_token);
        }
    }
}
