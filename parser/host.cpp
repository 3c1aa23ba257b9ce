#include "parser/host.hpp"

#include <array>
#include <cstring>

#include <arpa/inet.h>

namespace kahttpd::parser {

namespace {

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// unreserved of RFC 3986 §2.3.
constexpr bool is_unreserved(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/// sub-delims of RFC 3986 §2.2.
constexpr bool is_sub_delim(char c) noexcept {
    switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}

/// The bytes a reg-name takes as they are: unreserved and sub-delims but ',' (a table, so the
/// Host of every request costs one load per byte: issue 16).
constexpr auto kRegNameByte = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        t[static_cast<std::size_t>(c)] = ch != ',' && (is_unreserved(ch) || is_sub_delim(ch));
    }
    return t;
}();

/// reg-name of RFC 3986 §3.2.2, not empty and without a comma (see is_valid_authority).
bool is_reg_name(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (kRegNameByte[static_cast<unsigned char>(c)]) {
            continue;
        }
        if (c == '%') {
            if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
                return false;
            }
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

/// IPv6address of RFC 3986 §3.2.2 (the text between the brackets). inet_pton implements the
/// same grammar (RFC 4291 §2.2, the IPv4 tail included) and refuses zone identifiers, which
/// RFC 9110 does not allow in a Host either.
bool is_ipv6(std::string_view s) noexcept {
    char text[48]; // the longest IPv6 text is 45 bytes ("ffff:...:255.255.255.255")
    if (s.empty() || s.size() >= sizeof text) {
        return false;
    }
    std::memcpy(text, s.data(), s.size());
    text[s.size()] = '\0';
    unsigned char bytes[16];
    return ::inet_pton(AF_INET6, text, bytes) == 1;
}

/// IPvFuture of RFC 3986 §3.2.2: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
bool is_ipvfuture(std::string_view s) noexcept {
    if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) {
        return false;
    }
    std::size_t i = 1;
    while (i < s.size() && is_hex(s[i])) {
        ++i;
    }
    if (i == 1 || i >= s.size() || s[i] != '.' || i + 1 == s.size()) {
        return false;
    }
    for (++i; i < s.size(); ++i) {
        if (!(is_unreserved(s[i]) || is_sub_delim(s[i]) || s[i] == ':')) {
            return false;
        }
    }
    return true;
}

} // namespace

bool is_valid_authority(std::string_view value) noexcept {
    std::string_view rest;
    if (!value.empty() && value.front() == '[') {
        const std::size_t close = value.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        const std::string_view literal = value.substr(1, close - 1);
        if (!is_ipv6(literal) && !is_ipvfuture(literal)) {
            return false;
        }
        rest = value.substr(close + 1);
    } else {
        // A reg-name has no ':', so the first one starts the port.
        const std::size_t colon = value.find(':');
        if (!is_reg_name(value.substr(0, colon))) {
            return false;
        }
        rest = colon == std::string_view::npos ? std::string_view() : value.substr(colon);
    }
    if (rest.empty()) {
        return true;
    }
    if (rest.front() != ':') {
        return false; // "[::1]x", or bytes after the literal's bracket
    }
    for (const char c : rest.substr(1)) {
        if (!is_digit(c)) {
            return false;
        }
    }
    return true;
}

std::optional<std::string_view> absolute_form_authority(std::string_view target) noexcept {
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" (RFC 3986 §3.1; the
    // "//" is what makes an authority follow). Anything else is not absolute-form with an
    // authority, and the target resolution judges it (resolve_target).
    if (target.empty() || !is_alpha(target.front())) {
        return std::nullopt;
    }
    std::size_t i = 1;
    while (i < target.size() && (is_alpha(target[i]) || is_digit(target[i]) || target[i] == '+' ||
                                 target[i] == '-' || target[i] == '.')) {
        ++i;
    }
    if (target.substr(i, 3) != "://") {
        return std::nullopt;
    }
    const std::string_view after = target.substr(i + 3);
    // The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2), as in resolve_target.
    return after.substr(0, after.find_first_of("/?#"));
}

HostCheck check_host(const Request& request) noexcept {
    const std::uint32_t hosts = request.host_fields();
    if (hosts > 1) {
        return {Status::bad_request, "more than one Host field"};
    }
    if (hosts == 0 && request.http_minor() >= 1) {
        return {Status::bad_request, "no Host field in an HTTP/1.1 request"};
    }
    if (hosts == 1 && !is_valid_authority(request.host_field())) {
        return {Status::bad_request, "invalid Host field"};
    }
    if (const auto authority = absolute_form_authority(request.target())) {
        if (!is_valid_authority(*authority)) {
            return {Status::bad_request, "invalid authority in the request target"};
        }
    }
    return {};
}

std::string_view request_host(const Request& request) noexcept {
    if (const auto authority = absolute_form_authority(request.target())) {
        return *authority;
    }
    return request.host_fields() != 0 ? request.host_field() : std::string_view();
}

} // namespace kahttpd::parser
