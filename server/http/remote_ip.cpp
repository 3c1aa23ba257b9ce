#include "server/http/remote_ip.hpp"

#include <array>
#include <cstring>

#include <arpa/inet.h>

namespace kahttpd::server {

namespace {

/// An IPv4 or IPv6 literal (IPv6 optionally in brackets) in 16 bytes, IPv4 mapped.
bool parse_literal(std::string_view text, IpBytes& out) noexcept {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    std::array<char, 64> buf{};
    if (text.empty() || text.size() >= buf.size()) {
        return false;
    }
    std::memcpy(buf.data(), text.data(), text.size());
    out.fill(0);
    if (inet_pton(AF_INET, buf.data(), out.data() + 12) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        return true;
    }
    return inet_pton(AF_INET6, buf.data(), out.data()) == 1;
}

/// Apache's "looks internal" test for what a trusted (not internal) proxy may not present.
bool is_private(const IpBytes& ip) noexcept {
    static constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.data(), kMapped.data(), kMapped.size()) == 0) {
        const std::uint8_t a = ip[12], b = ip[13];
        return a == 10 || a == 127 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
               (a == 169 && b == 254);
    }
    return (ip[0] & 0xe0) != 0x20; // not global unicast 2000::/3
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

} // namespace

RemoteIpRules remote_ip_rules(const conf::VirtualHost& main,
                              const conf::VirtualHost& vhost) noexcept {
    RemoteIpRules r;
    r.header = !vhost.remote_ip_header.value.empty() ? vhost.remote_ip_header.value
                                                     : main.remote_ip_header.value;
    r.proxies =
        !vhost.remote_ip_proxies.empty() ? &vhost.remote_ip_proxies : &main.remote_ip_proxies;
    return r;
}

std::optional<IpBytes> useragent_ip(const RemoteIpRules& rules, const IpBytes& peer,
                                    std::string_view field) noexcept {
    const bool listed = rules.proxies != nullptr && !rules.proxies->empty();
    IpBytes hop = peer;
    std::optional<IpBytes> found;
    while (true) {
        // Is the address that handed us this field a proxy we believe?
        bool internal = false;
        if (listed) {
            const conf::VirtualHost::RemoteIpProxy* match = nullptr;
            for (const auto& p : *rules.proxies) {
                if (p.network.contains(hop)) {
                    match = &p;
                    break;
                }
            }
            if (match == nullptr) {
                break; // `hop` is the client
            }
            internal = match->internal;
        }
        field = trim(field);
        if (field.empty()) {
            break;
        }
        const std::size_t comma = field.rfind(',');
        const std::string_view value =
            trim(comma == std::string_view::npos ? field : field.substr(comma + 1));
        IpBytes next{};
        if (!parse_literal(value, next) || (!internal && is_private(next))) {
            break;
        }
        hop = next;
        found = next;
        field = comma == std::string_view::npos ? std::string_view() : field.substr(0, comma);
    }
    return found;
}

} // namespace kahttpd::server
