#include "server/http/compression.hpp"

#include <algorithm>

#include <brotli/encode.h>
#include <zlib.h>

namespace kahttpd::server {

namespace {

bool gzip(std::string_view in, int level, std::string& out) {
    z_stream zs{};
    // windowBits 15 + 16: a gzip wrapper; memLevel 8 is zlib's default (and Apache's).
    if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return false;
    }
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    // deflateBound is enough for one Z_FINISH call to end the stream.
    const int rc = deflate(&zs, Z_FINISH);
    const std::size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        return false;
    }
    out.resize(produced);
    return true;
}

bool brotli(std::string_view in, int quality, std::string& out) {
    std::size_t size = std::max<std::size_t>(BrotliEncoderMaxCompressedSize(in.size()), 16);
    out.resize(size);
    if (BrotliEncoderCompress(std::clamp(quality, BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY),
                              BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.size(),
                              reinterpret_cast<const std::uint8_t*>(in.data()), &size,
                              reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_FALSE) {
        return false;
    }
    out.resize(size);
    return true;
}

} // namespace

bool compress(std::string_view in, Coding coding, int level, std::string& out) {
    bool ok = false;
    switch (coding) {
    case Coding::gzip:
        ok = gzip(in, level, out);
        break;
    case Coding::br:
        ok = brotli(in, level, out);
        break;
    case Coding::identity:
        break;
    }
    if (!ok) {
        out.clear();
    }
    return ok;
}

} // namespace kahttpd::server
