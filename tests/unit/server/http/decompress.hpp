#pragma once

// Shared by the unit tests of compression on the fly (compression_test.cpp,
// file_cache_test.cpp): decode what the server's compressors made, with zlib and Brotli's
// decoder (unit_server links both).

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include <brotli/decode.h>
#include <zlib.h>

namespace kahttpd::server::test {

/// Up to 4 MiB of output, enough for every input the tests compress.
constexpr std::size_t kMaxDecoded = 4u << 20;

inline std::string gunzip(const std::string& in) {
    z_stream zs{};
    REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
    std::string out(kMaxDecoded, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    const uInt left = zs.avail_in;
    inflateEnd(&zs);
    CHECK(rc == Z_STREAM_END);
    CHECK(left == 0); // one gzip member, nothing after it
    return out;
}

inline std::string unbrotli(const std::string& in) {
    std::string out(kMaxDecoded, '\0');
    std::size_t size = out.size();
    CHECK(BrotliDecoderDecompress(in.size(), reinterpret_cast<const std::uint8_t*>(in.data()),
                                  &size, reinterpret_cast<std::uint8_t*>(out.data())) ==
          BROTLI_DECODER_RESULT_SUCCESS);
    out.resize(size);
    return out;
}

} // namespace kahttpd::server::test
