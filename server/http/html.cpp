#include "server/http/html.hpp"

namespace kahttpd::server {

std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& bad) noexcept {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
        return 1;
    }
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b == 0xE0) {
        need = 2, lo = 0xA0;
    } else if (b == 0xED) {
        need = 2, hi = 0x9F;
    } else if (b >= 0xE1 && b <= 0xEF) {
        need = 2;
    } else if (b == 0xF0) {
        need = 3, lo = 0x90;
    } else if (b == 0xF4) {
        need = 3, hi = 0x8F;
    } else if (b >= 0xF1 && b <= 0xF3) {
        need = 3;
    } else {
        bad = 1;
        return 0;
    }
    std::size_t j = i + 1;
    for (std::size_t k = 0; k < need; ++k, ++j) {
        const unsigned char min = k == 0 ? lo : 0x80;
        const unsigned char max = k == 0 ? hi : 0xBF;
        const auto c = j < s.size() ? static_cast<unsigned char>(s[j]) : 0;
        if (j >= s.size() || c < min || c > max) {
            bad = j - i;
            return 0;
        }
    }
    return j - i;
}

void append_html(std::string& out, std::string_view s) {
    append_utf8(out, s, [&out](char c) {
        switch (c) {
        case '&':
            out.append("&amp;");
            break;
        case '<':
            out.append("&lt;");
            break;
        case '>':
            out.append("&gt;");
            break;
        case '"':
            out.append("&quot;");
            break;
        case '\'':
            out.append("&#39;");
            break;
        default:
            // C0 controls and DEL would be parse errors (or vanish, for CR); show U+FFFD.
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                out.append(kReplacement);
            } else {
                out.push_back(c);
            }
        }
    });
}

} // namespace kahttpd::server
