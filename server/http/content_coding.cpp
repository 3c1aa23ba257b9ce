#include "server/http/content_coding.hpp"

#include "parser/text.hpp"

#include <algorithm>
#include <cstddef>

namespace kahttpd::server {

namespace {

using text::iequals;
using text::is_ows;
using text::is_tchar;

/// Reads a qvalue (RFC 9110 §12.4.2) at `s[i]` as thousandths, 0..1000; -1 when malformed.
int read_qvalue(std::string_view s, std::size_t& i) noexcept {
    if (i >= s.size() || (s[i] != '0' && s[i] != '1')) {
        return -1;
    }
    const bool one = s[i] == '1';
    int value = one ? 1000 : 0;
    ++i;
    if (i < s.size() && s[i] == '.') {
        ++i;
        int scale = 100;
        for (int n = 0; n < 3 && i < s.size() && s[i] >= '0' && s[i] <= '9'; ++n, ++i) {
            if (one && s[i] != '0') {
                return -1; // above 1
            }
            value += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    return value;
}

/// The q-values found in one Accept-Encoding value, in thousandths; -1 when not listed.
struct Weights {
    int br = -1;
    int gzip = -1;
    int identity = -1;
    int star = -1;
};

void record(Weights& w, std::string_view coding, int q) noexcept {
    int* slot = nullptr;
    if (iequals(coding, "br")) {
        slot = &w.br;
    } else if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
        slot = &w.gzip;
    } else if (iequals(coding, "identity")) {
        slot = &w.identity;
    } else if (coding == "*") {
        slot = &w.star;
    }
    if (slot != nullptr) {
        *slot = std::max(*slot, q);
    }
}

Weights parse_accept_encoding(std::string_view s) noexcept {
    Weights w;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (is_ows(s[i]) || s[i] == ',')) {
            ++i; // OWS and empty elements
        }
        if (i == s.size()) {
            break;
        }
        const std::size_t begin = i;
        while (i < s.size() && is_tchar(s[i])) {
            ++i;
        }
        const auto coding = s.substr(begin, i - begin);
        while (i < s.size() && is_ows(s[i])) {
            ++i;
        }
        int q = coding.empty() ? -1 : 1000;
        if (q >= 0 && i < s.size() && s[i] == ';') {
            ++i;
            while (i < s.size() && is_ows(s[i])) {
                ++i;
            }
            if (i + 1 < s.size() && (s[i] == 'q' || s[i] == 'Q') && s[i + 1] == '=') {
                i += 2;
                q = read_qvalue(s, i);
            } else {
                q = -1;
            }
            while (i < s.size() && is_ows(s[i])) {
                ++i;
            }
        }
        if (q >= 0 && (i == s.size() || s[i] == ',')) {
            record(w, coding, q);
        } else {
            // Malformed element: ignore it and resynchronise at the next comma (nothing in
            // this grammar may contain one).
            while (i < s.size() && s[i] != ',') {
                ++i;
            }
        }
    }
    return w;
}

} // namespace

std::string_view coding_name(Coding c) noexcept {
    switch (c) {
    case Coding::gzip:
        return "gzip";
    case Coding::br:
        return "br";
    case Coding::identity:
        break;
    }
    return {};
}

Coding choose_coding(std::optional<std::string_view> accept_encoding, bool have_br,
                     bool have_gzip) noexcept {
    if (!accept_encoding || (!have_br && !have_gzip)) {
        return Coding::identity;
    }
    const Weights w = parse_accept_encoding(*accept_encoding);
    const auto effective = [&w](int q) { return q >= 0 ? q : std::max(w.star, 0); };
    Coding best = Coding::identity;
    int best_q = 0;
    if (have_gzip && effective(w.gzip) > 0) {
        best = Coding::gzip;
        best_q = effective(w.gzip);
    }
    if (have_br && effective(w.br) > 0 && effective(w.br) >= best_q) {
        best = Coding::br;
        best_q = effective(w.br);
    }
    // identity competes only when named; a tie goes to the compressed coding.
    if (w.identity > best_q) {
        return Coding::identity;
    }
    return best;
}

} // namespace kahttpd::server
