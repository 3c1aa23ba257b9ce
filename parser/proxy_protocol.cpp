#include "parser/proxy_protocol.hpp"

#include <cstring>

#include <arpa/inet.h>

namespace kahttpd::parser {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
/// v1: "PROXY UNKNOWN" + up to 92 more bytes + CRLF, 107 in all (the specification's bound).
constexpr std::size_t kV1Max = 107;
constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

ProxyHeader invalid(const char* why) noexcept {
    ProxyHeader h;
    h.result = ProxyHeader::Result::invalid;
    h.error = why;
    return h;
}

/// `n` bytes of a prefix match (a header still possible)?
bool prefix_matches(std::string_view input, const void* expected, std::size_t size) noexcept {
    const std::size_t n = input.size() < size ? input.size() : size;
    return std::memcmp(input.data(), expected, n) == 0;
}

bool parse_port(std::string_view text, std::uint16_t& port) noexcept {
    // 1 to 5 digits; a leading zero only for "0" itself (the specification's canonical form).
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
        return false;
    }
    std::uint32_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v > 65535) {
        return false;
    }
    port = static_cast<std::uint16_t>(v);
    return true;
}

bool parse_ip(std::string_view text, bool v6, std::array<std::uint8_t, 16>& out) noexcept {
    char buf[64];
    if (text.empty() || text.size() >= sizeof buf) {
        return false;
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (v6) {
        return inet_pton(AF_INET6, buf, out.data()) == 1;
    }
    out.fill(0);
    out[10] = 0xff;
    out[11] = 0xff;
    return inet_pton(AF_INET, buf, out.data() + 12) == 1;
}

ProxyHeader parse_v1(std::string_view input) noexcept {
    const std::size_t eol = input.substr(0, kV1Max).find("\r\n");
    if (eol == std::string_view::npos) {
        if (input.size() >= kV1Max) {
            return invalid("PROXY v1 header without CRLF within 107 bytes");
        }
        // A bare LF or any control byte can never become a valid line.
        for (char c : input) {
            if (c == '\n' || c == '\0') {
                return invalid("PROXY v1 header with a stray control byte");
            }
        }
        return ProxyHeader{};
    }
    // The same bytes are refused whether or not the CRLF has arrived yet.
    if (input.substr(0, eol).find_first_of(std::string_view("\n\0", 2)) != std::string_view::npos) {
        return invalid("PROXY v1 header with a stray control byte");
    }
    ProxyHeader h;
    h.result = ProxyHeader::Result::done;
    h.version = 1;
    h.length = eol + 2;
    std::string_view rest = input.substr(kV1Prefix.size(), eol - kV1Prefix.size());
    auto next = [&rest]() {
        const std::size_t sp = rest.find(' ');
        std::string_view word = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
        return word;
    };
    const std::string_view proto = next();
    if (proto == "UNKNOWN") {
        // The proxy could not tell (or the connection is its own): the rest of the line is
        // ignored, as the specification asks.
        return h;
    }
    const bool v6 = proto == "TCP6";
    if (!v6 && proto != "TCP4") {
        return invalid("PROXY v1 header with a protocol other than TCP4, TCP6 or UNKNOWN");
    }
    const std::string_view src = next(), dst = next(), sport = next(), dport = rest;
    if (dport.find(' ') != std::string_view::npos) {
        return invalid("PROXY v1 header with extra fields");
    }
    if (!parse_ip(src, v6, h.src) || !parse_ip(dst, v6, h.dst)) {
        return invalid("PROXY v1 header with an address not of its family");
    }
    if (!parse_port(sport, h.src_port) || !parse_port(dport, h.dst_port)) {
        return invalid("PROXY v1 header with a bad port");
    }
    h.has_addresses = true;
    return h;
}

std::uint16_t be16(const unsigned char* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

ProxyHeader parse_v2(std::string_view input) noexcept {
    if (input.size() < 16) {
        return ProxyHeader{};
    }
    const auto* p = reinterpret_cast<const unsigned char*>(input.data());
    const unsigned version = p[12] >> 4, command = p[12] & 0x0F;
    const unsigned family = p[13] >> 4, transport = p[13] & 0x0F;
    const std::size_t len = be16(p + 14);
    if (version != 2) {
        return invalid("PROXY v2 header with a version other than 2");
    }
    if (command > 1) {
        return invalid("PROXY v2 header with a command other than LOCAL or PROXY");
    }
    if (16 + len > kProxyHeaderMax) {
        return invalid("PROXY v2 header longer than 4096 bytes");
    }
    if (input.size() < 16 + len) {
        return ProxyHeader{};
    }
    ProxyHeader h;
    h.result = ProxyHeader::Result::done;
    h.version = 2;
    h.length = 16 + len;
    if (command == 0) {
        return h; // LOCAL: the proxy's own connection (a health check); addresses ignored
    }
    const unsigned char* a = p + 16;
    if (transport != 1 || (family != 1 && family != 2)) {
        // UNSPEC, UDP or UNIX: nothing this server can use as a client address. The
        // specification asks the receiver to accept the connection with its own addresses.
        return h;
    }
    if (family == 1) {
        if (len < 12) {
            return invalid("PROXY v2 header too short for its IPv4 addresses");
        }
        h.src.fill(0);
        h.dst.fill(0);
        h.src[10] = h.src[11] = h.dst[10] = h.dst[11] = 0xff;
        std::memcpy(h.src.data() + 12, a, 4);
        std::memcpy(h.dst.data() + 12, a + 4, 4);
        h.src_port = be16(a + 8);
        h.dst_port = be16(a + 10);
    } else {
        if (len < 36) {
            return invalid("PROXY v2 header too short for its IPv6 addresses");
        }
        std::memcpy(h.src.data(), a, 16);
        std::memcpy(h.dst.data(), a + 16, 16);
        h.src_port = be16(a + 32);
        h.dst_port = be16(a + 34);
    }
    h.has_addresses = true;
    return h;
}

} // namespace

ProxyHeader parse_proxy_header(std::string_view input) noexcept {
    if (input.empty()) {
        return ProxyHeader{};
    }
    if (static_cast<unsigned char>(input[0]) == kV2Signature[0]) {
        if (!prefix_matches(input, kV2Signature, sizeof kV2Signature)) {
            return invalid("not a PROXY protocol header");
        }
        return parse_v2(input);
    }
    if (!prefix_matches(input, kV1Prefix.data(), kV1Prefix.size())) {
        return invalid("not a PROXY protocol header");
    }
    if (input.size() < kV1Prefix.size()) {
        return ProxyHeader{};
    }
    return parse_v1(input);
}

} // namespace kahttpd::parser
