#include "server/http/byte_ranges.hpp"

#include "parser/text.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <random>

namespace kahttpd::server {

namespace {

using text::append_number;
using text::iequals;
using text::is_ows;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// Reads 1*DIGIT at `s[i]`, saturating at 2^64-1; false when there is no digit.
bool read_number(std::string_view s, std::size_t& i, std::uint64_t& value) noexcept {
    if (i >= s.size() || !is_digit(s[i])) {
        return false;
    }
    value = 0;
    while (i < s.size() && is_digit(s[i])) {
        const auto d = static_cast<std::uint64_t>(s[i] - '0');
        value = value > (kMax - d) / 10 ? kMax : value * 10 + d;
        ++i;
    }
    return true;
}

std::uint64_t digit_count(std::uint64_t v) noexcept {
    std::uint64_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

/// splitmix64's finaliser: a bijection that spreads a counter over all 64 bits.
std::uint64_t mix(std::uint64_t z) noexcept {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void append_hex64(std::string& out, std::uint64_t v) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4) {
        out.push_back(kHex[(v >> shift) & 15]);
    }
}

} // namespace

RangeResult parse_ranges(std::string_view field, std::uint64_t length, std::uint32_t max_ranges,
                         std::vector<ByteRange>& out) {
    out.clear();
    while (!field.empty() && is_ows(field.front())) {
        field.remove_prefix(1);
    }
    const auto eq = field.find('=');
    if (eq == std::string_view::npos || !iequals(field.substr(0, eq), "bytes")) {
        return RangeResult::none;
    }
    const auto fail = [&out] {
        out.clear();
        return RangeResult::none;
    };
    std::uint32_t count = 0;
    std::size_t i = eq + 1;
    for (;;) {
        while (i < field.size() && (is_ows(field[i]) || field[i] == ',')) {
            ++i; // OWS and empty list elements
        }
        if (i == field.size()) {
            break;
        }
        std::uint64_t first = 0;
        std::uint64_t last = kMax;
        bool suffix = false;
        if (field[i] == '-') {
            ++i;
            suffix = true;
            if (!read_number(field, i, last)) {
                return fail();
            }
        } else {
            if (!read_number(field, i, first) || i >= field.size() || field[i] != '-') {
                return fail();
            }
            ++i;
            if (i < field.size() && is_digit(field[i])) {
                read_number(field, i, last);
                if (first > last) {
                    return fail();
                }
            }
        }
        while (i < field.size() && is_ows(field[i])) {
            ++i;
        }
        if (i < field.size() && field[i] != ',') {
            return fail();
        }
        // Checked per element so a huge list costs no more than max_ranges + 1 elements.
        if (++count > max_ranges && max_ranges != 0) {
            return fail();
        }
        if (suffix) {
            // §14.1.1: a suffix is satisfiable when it is non-zero and the representation is
            // not empty; `last` holds the suffix length here.
            if (last == 0 || length == 0) {
                continue;
            }
            out.push_back({last >= length ? 0 : length - last, length - 1});
        } else if (first < length) {
            out.push_back({first, std::min(last, length - 1)});
        }
    }
    if (count == 0) {
        return fail(); // "bytes=" with no range-spec: 1#range-spec needs one
    }
    if (out.empty()) {
        return RangeResult::unsatisfiable;
    }
    std::sort(out.begin(), out.end(), [](const ByteRange& a, const ByteRange& b) {
        return a.first < b.first || (a.first == b.first && a.last < b.last);
    });
    // Coalesce in place. back.last < length <= 2^64-1, so back.last + 1 cannot overflow.
    std::size_t kept = 0;
    for (std::size_t k = 1; k < out.size(); ++k) {
        if (out[k].first <= out[kept].last + 1) {
            out[kept].last = std::max(out[kept].last, out[k].last);
        } else {
            out[++kept] = out[k];
        }
    }
    out.resize(kept + 1);
    return RangeResult::satisfiable;
}

void format_content_range(std::string& out, const ByteRange& range, std::uint64_t length) {
    out.append("bytes ");
    append_number(out, range.first);
    out.push_back('-');
    append_number(out, range.last);
    out.push_back('/');
    append_number(out, length);
}

void format_unsatisfied_range(std::string& out, std::uint64_t length) {
    out.append("bytes */");
    append_number(out, length);
}

std::string make_boundary() {
    struct State {
        std::uint64_t key = 0;
        std::uint64_t counter = 0;
        bool seeded = false;
    };
    thread_local State state;
    if (!state.seeded) {
        std::random_device rd;
        state.key = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
        state.seeded = true;
    }
    std::string b;
    b.reserve(32);
    append_hex64(b, state.key);
    append_hex64(b, mix(state.key ^ mix(state.counter++)));
    return b;
}

void append_part_header(std::string& out, std::string_view boundary, std::string_view content_type,
                        const ByteRange& range, std::uint64_t length) {
    out.append("\r\n--").append(boundary).append("\r\n");
    if (!content_type.empty()) {
        out.append("Content-Type: ").append(content_type).append("\r\n");
    }
    out.append("Content-Range: ");
    format_content_range(out, range, length);
    out.append("\r\n\r\n");
}

void append_closing_delimiter(std::string& out, std::string_view boundary) {
    out.append("\r\n--").append(boundary).append("--\r\n");
}

std::uint64_t multipart_length(std::span<const ByteRange> ranges, std::string_view boundary,
                               std::string_view content_type, std::uint64_t length) noexcept {
    // Per part: "\r\n--" B "\r\n" ["Content-Type: " T "\r\n"] "Content-Range: bytes "
    // a "-" b "/" len "\r\n\r\n", then the bytes.
    const std::uint64_t fixed = 4 + boundary.size() + 2 +
                                (content_type.empty() ? 0 : 14 + content_type.size() + 2) + 21 + 1 +
                                1 + digit_count(length) + 4;
    std::uint64_t total = 0;
    for (const auto& r : ranges) {
        total += fixed + digit_count(r.first) + digit_count(r.last) + r.size();
    }
    return total + 4 + boundary.size() + 4; // "\r\n--" B "--\r\n"
}

} // namespace kahttpd::server
