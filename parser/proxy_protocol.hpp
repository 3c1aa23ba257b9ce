#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

// HAProxy's PROXY protocol, versions 1 (text) and 2 (binary), as a load balancer sends it at
// the start of a connection to tell the server who the client is
// (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt). A pure function over the
// first bytes of a connection: no sockets, no allocation.
namespace kahttpd::parser {

/// The longest header accepted. Version 1 is at most 107 bytes. Version 2 carries 16 bytes,
/// the addresses (at most 216 for AF_UNIX) and TLVs (HAProxy's unique-id, SSL, ALPN,
/// authority ...); 4 KiB leaves room for those while bounding what a connection may buffer
/// before it is known to come from a proxy.
inline constexpr std::size_t kProxyHeaderMax = 4096;

/// What parse_proxy_header() found.
struct ProxyHeader {
    enum class Result : std::uint8_t {
        need_more, ///< a valid prefix of a header: read more (up to kProxyHeaderMax)
        invalid,   ///< not a PROXY header, or a malformed one: close without a response
        done,      ///< a whole header of `length` bytes
    };
    Result result = Result::need_more;
    std::size_t length = 0; ///< bytes of the header, when done
    /// True when the header carries the client's TCP addresses (v1 TCP4/TCP6, v2 PROXY over
    /// TCP with AF_INET/AF_INET6). False for v2 LOCAL (a health check by the proxy itself), v1
    /// UNKNOWN and v2 UNSPEC/UDP/UNIX: the connection's own addresses then stand.
    bool has_addresses = false;
    std::uint8_t version = 0; ///< 1 or 2, when done
    /// Source (the client) and destination, 16 bytes each, IPv4 as ::ffff:a.b.c.d.
    std::array<std::uint8_t, 16> src{};
    std::array<std::uint8_t, 16> dst{};
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    const char* error = ""; ///< why it is invalid (a string literal, for the log)
};

/// Parses the PROXY header at the start of `input` (the first bytes of a connection, possibly
/// only some of them). Strict: version 1 needs "PROXY TCP4|TCP6|UNKNOWN", addresses of the
/// named family in canonical text, ports of 1 to 5 digits up to 65535, single spaces and
/// CRLF within 107 bytes; version 2 needs the 12-byte signature, version 2, command LOCAL or
/// PROXY and an address block at least as long as its family requires. Anything else is
/// invalid, also an HTTP request sent without the header.
ProxyHeader parse_proxy_header(std::string_view input) noexcept;

} // namespace kahttpd::parser
