#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// One satisfiable byte range, inclusive at both ends and already clamped to the
/// representation: first <= last < length.
struct ByteRange {
    std::uint64_t first;
    std::uint64_t last;

    std::uint64_t size() const noexcept { return last - first + 1; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

/// What a Range field asks for.
enum class RangeResult {
    none,          ///< no Range, or one to ignore (other unit, bad syntax, too many): serve 200
    satisfiable,   ///< serve 206 with the ranges in `out`
    unsatisfiable, ///< 416 with "Content-Range: bytes */length"
};

/// The default cap on the number of ranges in one request, Apache's MaxRanges default.
inline constexpr std::uint32_t kDefaultMaxRanges = 200;

/// Parses a Range field value (RFC 9110 §14.2) for a representation of `length` bytes.
///
/// Only the "bytes" unit (case-insensitive) is understood; another unit or any syntax error
/// makes the whole field ignorable (none), which §14.2 allows. Forms: "first-last",
/// "first-" and the suffix "-n", in a comma list with optional whitespace (also right after
/// '='), empty elements skipped. first > last is a syntax error. Numbers too large for 64 bits
/// saturate. A range with first >= length, and a suffix of 0, is unsatisfiable and dropped;
/// when nothing is left (always for length 0) the result is unsatisfiable. last is clamped to
/// length - 1 and a suffix longer than the representation means all of it.
///
/// More than `max_ranges` range-specs (counted before anything is dropped or merged; 0 means
/// no cap) gives none: the whole file, as Apache does with MaxRanges, rather than a 416 a
/// client could not act on.
///
/// The satisfiable ranges are then sorted by first byte and coalesced where they overlap or
/// touch (gap of zero bytes). Ranges separated by a gap are never merged, so the response holds
/// exactly the bytes asked for. Sorting departs from the SHOULD of §14.6 (parts in request
/// order) in exchange for a simple, bounded coalescing pass; each part carries its own
/// Content-Range, so clients do not depend on the order.
///
/// `out` is cleared first and holds the ranges, ascending and disjoint, only when the result is
/// satisfiable. Pure; allocates only in `out`.
RangeResult parse_ranges(std::string_view field, std::uint64_t length, std::uint32_t max_ranges,
                         std::vector<ByteRange>& out);

/// Appends a Content-Range field value, "bytes 0-99/1234".
void format_content_range(std::string& out, const ByteRange& range, std::uint64_t length);

/// Appends the Content-Range field value of a 416 response, "bytes */1234".
void format_unsatisfied_range(std::string& out, std::uint64_t length);

/// A fresh multipart boundary: 32 lowercase hex digits. A per-thread 64-bit key drawn from
/// std::random_device on first use, then a counter mixed through splitmix64, so boundaries
/// differ between calls and threads and are not guessable from a file's bytes. Thread-safe
/// (thread_local state); allocates only the returned string.
std::string make_boundary();

/// Appends the header of one multipart/byteranges part (RFC 9110 §14.6):
/// "\r\n--BOUNDARY\r\nContent-Type: TYPE\r\nContent-Range: bytes a-b/len\r\n\r\n".
/// Every part, the first included, starts with CRLF: before the first one it is an empty
/// preamble, which RFC 2046 §5.1.1 allows (Apache and nginx do the same). The Content-Type line
/// is left out when `content_type` is empty.
void append_part_header(std::string& out, std::string_view boundary, std::string_view content_type,
                        const ByteRange& range, std::uint64_t length);

/// Appends the close delimiter that ends the body, "\r\n--BOUNDARY--\r\n".
void append_closing_delimiter(std::string& out, std::string_view boundary);

/// The Content-Length of the multipart/byteranges body for `ranges`: every part header, every
/// range's bytes and the close delimiter, exactly as the two functions above produce them.
/// Computed arithmetically, without building anything.
std::uint64_t multipart_length(std::span<const ByteRange> ranges, std::string_view boundary,
                               std::string_view content_type, std::uint64_t length) noexcept;

} // namespace kahttpd::server
