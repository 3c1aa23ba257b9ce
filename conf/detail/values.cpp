#include "conf/detail/values.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace kahttpd::conf::detail {

using std::chrono::milliseconds;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

std::string in_quotes(std::string_view s) {
    // Built by appends: GCC 12 warns (-Wrestrict, a false positive) on "\"" + std::string.
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution =
                diagonal + (to_lower(a[i - 1]) == to_lower(b[j - 1]) ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
    if (s.empty() ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range) {
        return std::numeric_limits<std::uint64_t>::max();
    }
    if (ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<milliseconds> parse_duration(std::string_view s) {
    // Seconds (Apache's unit), or with nginx's suffixes: ms, s, m, h (any case but m: nginx's
    // M is months, so 1M is refused rather than taken as a minute).
    std::uint64_t scale = 1000;
    if (s.size() > 2 && iequals(s.substr(s.size() - 2), "ms")) {
        scale = 1;
        s.remove_suffix(2);
    } else if (s.size() > 1) {
        switch (s.back()) {
        case 's':
        case 'S':
            s.remove_suffix(1);
            break;
        case 'm': // not 'M': nginx reads that as months
            scale = 60 * 1000;
            s.remove_suffix(1);
            break;
        case 'h':
        case 'H':
            scale = 3600 * 1000;
            s.remove_suffix(1);
            break;
        default:
            break;
        }
    }
    const auto n = parse_uint(s);
    if (!n) {
        return std::nullopt;
    }
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max());
    if (*n > kMax / scale) {
        return milliseconds::max();
    }
    return milliseconds(static_cast<milliseconds::rep>(*n * scale));
}

std::string duration_text(milliseconds d) {
    const auto ms = d.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::filesystem::path normalize(const std::filesystem::path& p) {
    std::filesystem::path n = p.lexically_normal();
    if (!n.has_filename() && n != n.root_path()) {
        n = n.parent_path();
    }
    return n;
}

std::optional<std::string> canonical_ip(std::string_view literal) {
    const std::string text(literal);
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        return text;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        std::array<char, INET6_ADDRSTRLEN> buf{};
        inet_ntop(AF_INET6, &v6, buf.data(), buf.size());
        return std::string(buf.data());
    }
    return std::nullopt;
}

namespace {

/// "10", "10.1" or "10.1.2": the leading bytes of an IPv4 network, each 0 to 255.
std::optional<std::vector<std::uint8_t>> parse_partial_ipv4(std::string_view s) {
    std::vector<std::uint8_t> parts;
    while (true) {
        const std::size_t dot = s.find('.');
        const std::string_view part = s.substr(0, dot);
        const auto n = parse_uint(part);
        if (!n || *n > 255 || part.size() > 3) {
            return std::nullopt;
        }
        parts.push_back(static_cast<std::uint8_t>(*n));
        if (dot == std::string_view::npos) {
            break;
        }
        s.remove_prefix(dot + 1);
    }
    if (parts.size() > 3) {
        return std::nullopt;
    }
    return parts;
}

/// The prefix length of a contiguous IPv4 netmask ("255.255.0.0" -> 16), or nullopt.
std::optional<std::uint8_t> netmask_bits(std::string_view s) {
    const std::string text(s);
    in_addr mask{};
    if (inet_pton(AF_INET, text.c_str(), &mask) != 1) {
        return std::nullopt;
    }
    const std::uint32_t m = ntohl(mask.s_addr);
    const std::uint32_t inverted = ~m;
    // Contiguous means the inverted mask is 2^k - 1.
    if ((inverted & (inverted + 1)) != 0) {
        return std::nullopt;
    }
    std::uint8_t bits = 0;
    for (std::uint32_t v = m; v != 0; v <<= 1) {
        ++bits;
    }
    return bits;
}

void clear_host_bits(IpNetwork& n) {
    for (std::size_t i = 0; i < n.addr.size(); ++i) {
        const int keep = std::clamp(static_cast<int>(n.prefix) - static_cast<int>(i) * 8, 0, 8);
        n.addr[i] &= static_cast<std::uint8_t>(0xff00 >> keep);
    }
}

} // namespace

std::optional<IpNetwork> parse_ip_network(std::string_view text) {
    const std::size_t slash = text.find('/');
    const std::string addr(text.substr(0, slash));
    const std::optional<std::string_view> mask =
        slash == std::string_view::npos ? std::nullopt
                                        : std::optional<std::string_view>(text.substr(slash + 1));
    IpNetwork n;
    if (addr.find(':') != std::string::npos) {
        in6_addr v6{};
        if (inet_pton(AF_INET6, addr.c_str(), &v6) != 1) {
            return std::nullopt;
        }
        std::memcpy(n.addr.data(), &v6, 16);
        n.prefix = 128;
        if (mask) {
            const auto bits = parse_uint(*mask);
            if (!bits || *bits > 128) {
                return std::nullopt;
            }
            n.prefix = static_cast<std::uint8_t>(*bits);
        }
    } else {
        // IPv4, stored mapped (::ffff:a.b.c.d) so that one comparison serves both families.
        n.addr[10] = 0xff;
        n.addr[11] = 0xff;
        in_addr v4{};
        std::uint8_t bits = 32;
        if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
            std::memcpy(n.addr.data() + 12, &v4, 4);
            if (mask) {
                if (const auto b = parse_uint(*mask); b && mask->size() <= 2) {
                    if (*b > 32) {
                        return std::nullopt;
                    }
                    bits = static_cast<std::uint8_t>(*b);
                } else if (const auto nb = netmask_bits(*mask)) {
                    bits = *nb;
                } else {
                    return std::nullopt;
                }
            }
        } else {
            // A partial address takes its prefix from the parts given, so it cannot also
            // carry a mask.
            const auto parts = parse_partial_ipv4(addr);
            if (!parts || mask) {
                return std::nullopt;
            }
            std::copy(parts->begin(), parts->end(), n.addr.begin() + 12);
            bits = static_cast<std::uint8_t>(parts->size() * 8);
        }
        n.prefix = static_cast<std::uint8_t>(bits + 96);
    }
    clear_host_bits(n);
    return n;
}

std::optional<VirtualHost::Address> parse_vhost_address(std::string_view text, std::string& why) {
    const auto is_any = [](std::string_view h) { return h == "*" || iequals(h, "_default_"); };
    if (is_any(text)) {
        return VirtualHost::Address{};
    }
    std::string_view host;
    std::optional<std::string_view> port;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos ||
            (close + 1 < text.size() && text[close + 1] != ':')) {
            why = "expected [IPv6 address] or [IPv6 address]:port as in [::1]:8080, found " +
                  in_quotes(text);
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            port = text.substr(close + 2);
        }
        in6_addr v6{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
            why = "expected an IPv6 address literal in brackets, found " + in_quotes(text);
            return std::nullopt;
        }
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            why = "expected an IPv6 address in brackets as in [::1]:8080, found " + in_quotes(text);
            return std::nullopt;
        }
        host = text.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = text.substr(colon + 1);
        }
    }
    VirtualHost::Address address;
    if (!is_any(host)) {
        const auto ip = canonical_ip(host);
        if (!ip) {
            // Apache resolves a name here at start-up; kahttpd matches vhosts on the local
            // address of the connection, so it takes literals only, as Listen does.
            why = "expected an IP address literal, * or _default_ (kahttpd does not resolve "
                  "host names), found " +
                  in_quotes(host);
            return std::nullopt;
        }
        address.host = *ip;
    }
    // Port 0 means any port, as '*' does: it pairs with `Listen 0` (an ephemeral port, which
    // tests use) the way "*:80" pairs with "Listen 80".
    if (port && *port != "*") {
        const auto n = parse_uint(*port);
        if (!n || *n > 65535) {
            why = "expected a port from 0 to 65535 or *, found " + in_quotes(*port);
            return std::nullopt;
        }
        address.port = static_cast<std::uint16_t>(*n);
    }
    return address;
}

} // namespace kahttpd::conf::detail
