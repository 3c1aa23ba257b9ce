#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// Text helpers shared by every layer (parser, conf, server): ASCII for HTTP syntax (RFC 9110
// §5.6) and number formatting. Header-only, in the interface target kahttpd_text, so conf/ can
// use them without linking the parser. Locale-independent on purpose: <cctype> answers depend
// on the C locale, and header names, tokens and directive names are defined over ASCII.
namespace kahttpd::text {

/// ASCII lower case; other bytes unchanged.
constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

/// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) {
            return false;
        }
    }
    return true;
}

namespace detail {

/// The 256-entry form of tchar (RFC 9110 §5.6.2), so a byte costs one load: field names and
/// methods are checked on every request.
struct TcharTable {
    bool is[256] = {};
    constexpr TcharTable() {
        for (int c = '0'; c <= '9'; ++c) {
            is[c] = true;
        }
        for (int c = 'a'; c <= 'z'; ++c) {
            is[c] = true;
            is[c - 32] = true;
        }
        for (const char c : std::string_view("!#$%&'*+-.^_`|~")) {
            is[static_cast<unsigned char>(c)] = true;
        }
    }
};

inline constexpr TcharTable kTchar{};

} // namespace detail

/// tchar of RFC 9110 §5.6.2: the bytes a token (method, field name, coding) may contain.
constexpr bool is_tchar(char c) noexcept {
    return detail::kTchar.is[static_cast<unsigned char>(c)];
}

/// True for a non-empty run of tchar.
constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!is_tchar(c)) {
            return false;
        }
    }
    return true;
}

/// OWS of RFC 9110 §5.6.3.
constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

/// s without leading and trailing OWS.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// Calls f(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1),
/// with OWS trimmed. Empty elements are skipped, as the RFC asks recipients to do.
template <typename F> constexpr void for_each_list_element(std::string_view list, F&& f) {
    while (true) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_ows(list.substr(0, comma));
        if (!element.empty()) {
            f(element);
        }
        if (comma == std::string_view::npos) {
            return;
        }
        list.remove_prefix(comma + 1);
    }
}

/// Appends the decimal digits of `v` (no allocation beyond `out` growing).
inline void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

} // namespace kahttpd::text
