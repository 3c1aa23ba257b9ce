#include "server/http/compression.hpp"

#include "tests/unit/server/http/decompress.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using kahttpd::server::Coding;
using kahttpd::server::compress;
using kahttpd::server::test::gunzip;
using kahttpd::server::test::unbrotli;

namespace {

/// Text that compresses the way pages and style sheets do.
std::string page(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; s.size() < n; ++i) {
        s += "<li class=\"item\">entry " + std::to_string(i * 7919 % 1000) + "</li>\n";
    }
    s.resize(n);
    return s;
}

} // namespace

TEST_SUITE("server") {
    TEST_CASE("gzip and br round-trip at every level, and compress text") {
        const std::string in = page(20000);
        for (int level = 1; level <= 9; ++level) {
            CAPTURE(level);
            std::string out = "left over";
            REQUIRE(compress(in, Coding::gzip, level, out));
            CHECK(out.size() < in.size() / 3);
            CHECK(out.substr(0, 2) == "\x1f\x8b"); // a gzip member (RFC 1952)
            CHECK(gunzip(out) == in);
        }
        for (int quality = 0; quality <= 11; ++quality) {
            CAPTURE(quality);
            std::string out;
            REQUIRE(compress(in, Coding::br, quality, out));
            CHECK(out.size() < in.size() / 3);
            CHECK(unbrotli(out) == in);
        }
    }

    TEST_CASE("the bytes depend on the input and level only") {
        const std::string in = page(5000);
        std::string a, b;
        REQUIRE(compress(in, Coding::gzip, 6, a));
        REQUIRE(compress(in, Coding::gzip, 6, b));
        CHECK(a == b);
        // No modification time in the gzip header (bytes 4..7), so nothing depends on when.
        CHECK(a.substr(4, 4) == std::string(4, '\0'));
        std::string fast;
        REQUIRE(compress(in, Coding::gzip, 1, fast));
        CHECK(fast != a);
    }

    TEST_CASE("empty and incompressible inputs still round-trip") {
        std::string out;
        REQUIRE(compress("", Coding::gzip, 6, out));
        CHECK(gunzip(out).empty());
        REQUIRE(compress("", Coding::br, 5, out));
        CHECK(unbrotli(out).empty());
        std::string noise;
        std::uint32_t x = 2463534242u;
        for (int i = 0; i < 4096; ++i) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push_back(static_cast<char>(x));
        }
        REQUIRE(compress(noise, Coding::gzip, 9, out));
        CHECK(gunzip(out) == noise);
        REQUIRE(compress(noise, Coding::br, 11, out));
        CHECK(unbrotli(out) == noise);
    }

    TEST_CASE("identity is not a compression") {
        std::string out = "x";
        CHECK_FALSE(compress("abc", Coding::identity, 6, out));
        CHECK(out.empty());
    }
}
