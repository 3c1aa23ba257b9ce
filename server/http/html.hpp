#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kahttpd::server {

/// U+FFFD in UTF-8: what an ill-formed byte sequence becomes in a page or a JSON string.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

/// The length of the well-formed UTF-8 sequence at `s[i]`, or 0 when it is ill-formed; then
/// `bad` is the length of its maximal ill-formed subpart (at least 1), which becomes one
/// U+FFFD. Ranges from the Unicode Standard, table 3-7 (no overlongs, surrogates or values
/// above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& bad) noexcept;

/// Copies `s` into `out` as well-formed UTF-8: each maximal ill-formed subsequence becomes one
/// U+FFFD, multi-byte sequences go through as they are, and each ASCII byte is handed to
/// `ascii(c)`, which appends it in the escaping of the caller's language (HTML, JSON).
template <typename Ascii> void append_utf8(std::string& out, std::string_view s, Ascii&& ascii) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t n = utf8_sequence(s, i, bad);
        if (n == 0) {
            out.append(kReplacement);
            i += bad;
        } else if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            ascii(s[i++]);
        }
    }
}

/// Appends `s` as HTML text or attribute content (inside quotes): & < > " ' escaped, control
/// characters and invalid UTF-8 shown as U+FFFD. For anything from the client or the file system
/// that goes into a page (listings, error pages, the status page).
void append_html(std::string& out, std::string_view s);

} // namespace kahttpd::server
