#pragma once

#include "server/http/content_coding.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace kahttpd::server {

/// Files larger than this are never compressed on the fly: their compressed form would be held
/// in memory (the open-file cache charges it to FileCacheSize), and compressing them would hold
/// the worker's loop for tens of milliseconds on a miss. 1 MiB covers the usual style sheets,
/// scripts and pages; larger ones can be compressed ahead of time (PrecompressedFiles).
constexpr std::uint64_t kCompressMax = 1024 * 1024;

/// Compresses `in` whole into `out` (replacing its contents) in `coding`:
/// - gzip (RFC 1952, what Apache's DEFLATE filter sends): zlib's deflate at `level` 1..9, with a
///   header that names no file and no time, so the bytes depend on the input and level only
///   (a cached and an uncached response are the same, and so are two workers' copies);
/// - br (RFC 7932, mod_brotli's BROTLI_COMPRESS): quality `level` 0..11, a 4 MiB window
///   (Brotli's default, larger than any input here).
/// False, with `out` empty, for identity or when the library fails. Allocates; thread-safe.
bool compress(std::string_view in, Coding coding, int level, std::string& out);

} // namespace kahttpd::server
