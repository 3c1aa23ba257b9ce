#include "server/util/address.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace kahttpd::server {

namespace {

constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_mapped_v4(const IpBytes& ip) noexcept {
    return std::memcmp(ip.data(), kMapped, sizeof kMapped) == 0;
}

} // namespace

IpBytes ip_bytes(const sockaddr_storage& ss, std::uint16_t* port) noexcept {
    IpBytes out{};
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        std::memcpy(out.data(), &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
    } else {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        std::memcpy(out.data(), kMapped, sizeof kMapped);
        std::memcpy(out.data() + 12, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
    }
    return out;
}

std::string_view ip_text(const IpBytes& ip, char (&buf)[64]) noexcept {
    if (is_mapped_v4(ip)) {
        // Dotted decimal by hand: inet_ntop formats IPv4 with sprintf, about 1,700 instructions
        // a call, and an access log line asks for the client's address on every request.
        char* p = buf;
        for (std::size_t i = 12; i < 16; ++i) {
            p = std::to_chars(p, buf + sizeof buf, ip[i]).ptr;
            *p++ = '.';
        }
        *--p = '\0';
        return std::string_view(buf, static_cast<std::size_t>(p - buf));
    }
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    return buf;
}

std::string_view peer_text(const IpBytes& ip, std::uint16_t port, char (&buf)[80]) noexcept {
    char addr[64];
    ip_text(ip, addr);
    const int n = std::snprintf(buf, sizeof buf, is_mapped_v4(ip) ? "%s:%u" : "[%s]:%u", addr,
                                static_cast<unsigned>(port));
    return std::string_view(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

} // namespace kahttpd::server
