#include "server/http/compression.hpp"

#include <doctest/doctest.h>

#include <string>

#include <brotli/decode.h>
#include <zlib.h>

using kahttpd::server::Coding;
using kahttpd::server::compress;

namespace {

std::string gunzip(const std::string& in) {
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
    std::string out(1 << 20, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    CHECK(rc == Z_STREAM_END);
    CHECK(zs.avail_in == 0);
    return out;
}

std::string unbrotli(const std::string& in) {
    std::string out(1 << 20, '\0');
    std::size_t size = out.size();
    CHECK(BrotliDecoderDecompress(in.size(), reinterpret_cast<const std::uint8_t*>(in.data()),
                                  &size, reinterpret_cast<std::uint8_t*>(out.data())) ==
          BROTLI_DECODER_RESULT_SUCCESS);
    out.resize(size);
    return out;
}

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
