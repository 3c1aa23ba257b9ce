#include "parser/detail/head_scanner.hpp"
#include "parser/text.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <random>
#include <string>
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

    // The model: RFC 9112's rules a byte at a time, as the scanner applied them before it
    // read sixteen bytes per step. Random heads over the bytes the rules name, cut at random
    // places, must give the same fault at the same stream offset. (A build without SSE2 runs
    // the byte loop itself; this compares the block scan with it.)
    TEST_CASE("head scanner agrees with a byte-at-a-time model on random heads and splits") {
        struct Model {
            HeadFault fault = HeadFault::none;
            std::size_t pos = 0;
        };
        const auto model = [](std::string_view head) {
            enum { leading, method, rest } phase = leading;
            char prev = 0;
            for (std::size_t i = 0; i < head.size(); ++i) {
                const char c = head[i];
                if (prev == '\r' && c != '\n') {
                    return Model{HeadFault::bare_cr, i};
                }
                if (c == '\n' && prev != '\r') {
                    return Model{HeadFault::bare_lf, i};
                }
                if (phase == rest && prev == '\n' && (c == ' ' || c == '\t')) {
                    return Model{HeadFault::obs_fold, i};
                }
                if (phase == leading && c != '\r' && c != '\n') {
                    phase = method;
                }
                if (phase == method && c == ' ') {
                    phase = rest;
                }
                prev = c;
            }
            return Model{};
        };
        std::mt19937 rng(16);
        constexpr char kAlphabet[] = {'\r', '\n', ' ', '\t', 'a', ':', '\0', '\x80'};
        int faults = 0;
        for (int round = 0; round < 20000; ++round) {
            // Empty lines before the request line (RFC 9112 §2.2), a method of 1 to 8 bytes,
            // so the hand-over to the block scan falls at every offset of a block.
            std::string head;
            for (unsigned n = rng() % 3; n > 0; --n) {
                head += "\r\n";
            }
            for (unsigned n = 1 + rng() % 8; n > 0; --n) {
                head += "GETPOSa-"[rng() % 8];
            }
            head += ' ';
            const std::size_t len = rng() % 70;
            for (std::size_t i = 0; i < len; ++i) {
                // Mostly CRLF-terminated lines of plain bytes, so faults sit at every offset.
                const unsigned pick = rng() % 16;
                if (pick < 8) {
                    head += kAlphabet[pick];
                } else if (pick < 12) {
                    head += "\r\n";
                } else {
                    head += 'x';
                }
            }
            const Model want = model(head);
            faults += want.fault != HeadFault::none ? 1 : 0;
            HeadScanner s;
            Model got;
            std::size_t at = 0;
            while (at < head.size() && got.fault == HeadFault::none) {
                const std::size_t piece = 1 + rng() % (round % 2 == 0 ? 40 : 3);
                const std::string_view part = std::string_view(head).substr(at, piece);
                const auto f = s.scan(part);
                if (f.fault != HeadFault::none) {
                    got = {f.fault, at + f.pos};
                }
                at += part.size();
            }
            INFO("head: " << head);
            REQUIRE(got.fault == want.fault);
            REQUIRE(got.pos == want.pos);
        }
        CHECK(faults > 1000); // the heads did exercise every rule, not only clean input
    }
}

TEST_SUITE("parser") {

    TEST_CASE("tchar is exactly RFC 9110's token bytes") {
        // §5.6.2: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
        // "`" / "|" / "~" / DIGIT / ALPHA.
        const std::string_view listed =
            "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        int count = 0;
        for (int b = 0; b < 256; ++b) {
            const char c = static_cast<char>(b);
            INFO("byte " << b);
            CHECK(kahttpd::text::is_tchar(c) == (listed.find(c) != std::string_view::npos));
            count += kahttpd::text::is_tchar(c) ? 1 : 0;
        }
        CHECK(count == 77);
        CHECK(kahttpd::text::is_token("If-None-Match"));
        CHECK_FALSE(kahttpd::text::is_token("Host "));
        CHECK_FALSE(kahttpd::text::is_token(""));
    }
}
