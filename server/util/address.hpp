#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <sys/socket.h>

namespace kahttpd::server {

/// A 16-byte address: IPv6 as is, IPv4 as ::ffff:a.b.c.d (the form AccessRule compares).
using IpBytes = std::array<std::uint8_t, 16>;

/// The address of `ss` (AF_INET or AF_INET6) in 16 bytes; its port in `*port`.
IpBytes ip_bytes(const sockaddr_storage& ss, std::uint16_t* port) noexcept;

/// Text of a 16-byte address into `buf`; IPv4-mapped addresses print as IPv4.
std::string_view ip_text(const IpBytes& ip, char (&buf)[64]) noexcept;

/// "IP:PORT", or "[IPv6]:PORT", into `buf` (for log lines: client=...).
std::string_view peer_text(const IpBytes& ip, std::uint16_t port, char (&buf)[80]) noexcept;

} // namespace kahttpd::server
