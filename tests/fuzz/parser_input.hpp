#pragma once

// The layout of request_parser_fuzzer's input, shared with fuzz_seeds (which writes the golden
// cases in it). A 10-byte header of settings, then the bytes a client sent on one connection:
//
//   [0]     flags: bit 0 request_line, bit 1 field_size, bit 2 fields, bit 3 body take the
//           values below (otherwise ParseLimits{}'s defaults); bit 4 sets the body limit of
//           each message at head_complete to [8..9] (a per-directory LimitRequestBody, as
//           the transport does); bit 5 calls release_memory(0) after each message
//   [1..2]  LimitRequestLine        (little-endian)
//   [3..4]  LimitRequestFieldSize   (little-endian)
//   [5]     LimitRequestFields
//   [6..7]  LimitRequestBody        (little-endian; 0 is unlimited)
//   [8..9]  the body limit set at head_complete (little-endian; 0 is unlimited)
//
// Small values are the interesting ones: they put every limit within reach of short inputs.

#include "parser/request_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kahttpd::fuzz {

inline constexpr std::size_t kParserHeaderSize = 10;

struct ParserInput {
    parser::ParseLimits limits;
    std::optional<std::uint64_t> head_body_limit; ///< set_message_body_limit at head_complete
    bool release_between = false;                 ///< release_memory(0) after each message
    std::string_view stream;                      ///< the bytes of the connection
};

/// Decodes an input; nullopt when it is shorter than the header.
inline std::optional<ParserInput> decode_parser_input(std::string_view data) {
    if (data.size() < kParserHeaderSize) {
        return std::nullopt;
    }
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
    const auto u16 = [&](std::size_t i) {
        return static_cast<std::uint32_t>(byte(i) | (byte(i + 1) << 8));
    };
    const unsigned flags = byte(0);
    ParserInput in;
    if ((flags & 1) != 0) {
        in.limits.request_line = u16(1);
    }
    if ((flags & 2) != 0) {
        in.limits.field_size = u16(3);
    }
    if ((flags & 4) != 0) {
        in.limits.fields = byte(5);
    }
    if ((flags & 8) != 0) {
        in.limits.body = u16(6);
    }
    if ((flags & 16) != 0) {
        in.head_body_limit = u16(8);
    }
    in.release_between = (flags & 32) != 0;
    in.stream = data.substr(kParserHeaderSize);
    return in;
}

/// The header for `limits` (the defaults left as flags off), followed by `stream`. Values
/// above 16 bits cannot be written and keep the default.
inline std::string encode_parser_input(const parser::ParseLimits& limits, std::string_view stream) {
    const parser::ParseLimits defaults;
    std::string out(kParserHeaderSize, '\0');
    const auto put16 = [&](std::size_t i, std::uint64_t v) {
        out[i] = static_cast<char>(v & 0xff);
        out[i + 1] = static_cast<char>((v >> 8) & 0xff);
    };
    unsigned flags = 0;
    if (limits.request_line != defaults.request_line && limits.request_line <= 0xffff) {
        flags |= 1;
        put16(1, limits.request_line);
    }
    if (limits.field_size != defaults.field_size && limits.field_size <= 0xffff) {
        flags |= 2;
        put16(3, limits.field_size);
    }
    if (limits.fields != defaults.fields && limits.fields <= 0xff) {
        flags |= 4;
        out[5] = static_cast<char>(limits.fields);
    }
    if (limits.body != defaults.body && limits.body <= 0xffff) {
        flags |= 8;
        put16(6, limits.body);
    }
    out[0] = static_cast<char>(flags);
    out.append(stream);
    return out;
}

} // namespace kahttpd::fuzz
