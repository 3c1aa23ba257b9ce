#include "parser/proxy_protocol.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

using kahttpd::parser::kProxyHeaderMax;
using kahttpd::parser::parse_proxy_header;
using kahttpd::parser::ProxyHeader;
using Result = ProxyHeader::Result;

namespace {

std::array<std::uint8_t, 16> v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

/// A v2 header: signature, version/command, family/transport, length, then `body`.
std::string v2(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& body) {
    std::string h = kSig;
    h.push_back(static_cast<char>(ver_cmd));
    h.push_back(static_cast<char>(fam));
    h.push_back(static_cast<char>(body.size() >> 8));
    h.push_back(static_cast<char>(body.size() & 0xff));
    return h + body;
}

/// Every strict prefix of a valid header asks for more; the whole header parses the same way
/// whatever follows it.
void check_prefixes(const std::string& header) {
    for (std::size_t n = 0; n < header.size(); ++n) {
        INFO("prefix of " << n << " bytes");
        CHECK(parse_proxy_header(std::string_view(header).substr(0, n)).result ==
              Result::need_more);
    }
    const auto alone = parse_proxy_header(header);
    const auto with_request = parse_proxy_header(header + "GET / HTTP/1.1\r\n\r\n");
    REQUIRE(alone.result == Result::done);
    CHECK(with_request.result == Result::done);
    CHECK(with_request.length == header.size());
    CHECK(with_request.src == alone.src);
    CHECK(with_request.src_port == alone.src_port);
}

} // namespace

TEST_SUITE("parser") {
    TEST_CASE("PROXY v1 TCP4 gives the client's address and port") {
        const std::string h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
        check_prefixes(h);
        const auto r = parse_proxy_header(h + "GET /");
        CHECK(r.version == 1);
        CHECK(r.has_addresses);
        CHECK(r.length == h.size());
        CHECK(r.src == v4(192, 0, 2, 7));
        CHECK(r.dst == v4(198, 51, 100, 1));
        CHECK(r.src_port == 56324);
        CHECK(r.dst_port == 443);
    }

    TEST_CASE("PROXY v1 TCP6 and UNKNOWN") {
        const auto r = parse_proxy_header("PROXY TCP6 2001:db8::1 ::1 65535 8080\r\n");
        REQUIRE(r.result == Result::done);
        CHECK(r.has_addresses);
        CHECK(r.src[0] == 0x20);
        CHECK(r.src[15] == 1);
        CHECK(r.src_port == 65535);
        const auto u = parse_proxy_header("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
        REQUIRE(u.result == Result::done);
        CHECK_FALSE(u.has_addresses);
        CHECK(parse_proxy_header("PROXY UNKNOWN\r\n").result == Result::done);
    }

    TEST_CASE("a malformed PROXY v1 header is invalid") {
        for (const char* bad : {
                 "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",       // a port missing
                 "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 1\r\n", // a field too many
                 "PROXY TCP4 ::1 ::1 1 2\r\n",                        // IPv6 under TCP4
                 "PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n",                // IPv4 under TCP6
                 "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",            // a port too large
                 "PROXY TCP4 1.2.3.4 1.2.3.4 0080 2\r\n",             // a leading zero
                 "PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n",               // two spaces
                 "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",                // not TCP
                 "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",                  // LF alone
                 "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",                // lower case
                 "GET / HTTP/1.1\r\nHost: a\r\n\r\n",                 // no header at all
             }) {
            INFO(bad);
            const auto r = parse_proxy_header(bad);
            CHECK(r.result == Result::invalid);
            CHECK(std::string_view(r.error).size() > 0);
        }
    }

    TEST_CASE("a NUL in a PROXY v1 line is refused whether or not its CRLF has arrived") {
        const std::string line("PROXY UNKNOWN \0x\r\n", 18);
        CHECK(parse_proxy_header(line).result == Result::invalid);
        CHECK(parse_proxy_header(line.substr(0, 16)).result == Result::invalid);
    }

    TEST_CASE("a PROXY v1 line longer than 107 bytes is invalid, a shorter one waits") {
        std::string line = "PROXY UNKNOWN " + std::string(100, 'x');
        CHECK(parse_proxy_header(line.substr(0, 106)).result == Result::need_more);
        CHECK(parse_proxy_header(line).result == Result::invalid);
    }

    TEST_CASE("PROXY v2 over TCP/IPv4, with a TLV after the addresses") {
        const std::string addrs("\xc0\x00\x02\x07\xc6\x33\x64\x01\xdc\x04\x01\xbb", 12);
        const std::string tlv("\x05\x00\x03"
                              "abc",
                              6); // PP2_TYPE_UNIQUE_ID
        const std::string h = v2(0x21, 0x11, addrs + tlv);
        check_prefixes(h);
        const auto r = parse_proxy_header(h);
        CHECK(r.version == 2);
        CHECK(r.has_addresses);
        CHECK(r.length == 16 + 18);
        CHECK(r.src == v4(192, 0, 2, 7));
        CHECK(r.dst == v4(198, 51, 100, 1));
        CHECK(r.src_port == 56324);
        CHECK(r.dst_port == 443);
    }

    TEST_CASE("PROXY v2 over TCP/IPv6") {
        std::string addrs(36, '\0');
        addrs[0] = '\x20';
        addrs[1] = '\x01';
        addrs[15] = '\x09';
        addrs[31] = '\x01';
        addrs[32] = '\x12';
        addrs[33] = '\x34';
        const auto r = parse_proxy_header(v2(0x21, 0x21, addrs));
        REQUIRE(r.result == Result::done);
        CHECK(r.has_addresses);
        CHECK(r.src[0] == 0x20);
        CHECK(r.src[15] == 9);
        CHECK(r.src_port == 0x1234);
    }

    TEST_CASE("PROXY v2 LOCAL (a health check) and UNSPEC keep the connection's addresses") {
        const auto local = parse_proxy_header(v2(0x20, 0x00, ""));
        REQUIRE(local.result == Result::done);
        CHECK_FALSE(local.has_addresses);
        CHECK(local.length == 16);
        // LOCAL with an address block: skipped, not believed.
        const auto local4 = parse_proxy_header(v2(0x20, 0x11, std::string(12, '\1')));
        REQUIRE(local4.result == Result::done);
        CHECK_FALSE(local4.has_addresses);
        const auto unix_sock = parse_proxy_header(v2(0x21, 0x31, std::string(216, 'p')));
        REQUIRE(unix_sock.result == Result::done);
        CHECK_FALSE(unix_sock.has_addresses);
    }

    TEST_CASE("a malformed PROXY v2 header is invalid") {
        CHECK(parse_proxy_header(v2(0x11, 0x11, std::string(12, '\0'))).result ==
              Result::invalid); // version 1 in a v2 header
        CHECK(parse_proxy_header(v2(0x22, 0x11, std::string(12, '\0'))).result ==
              Result::invalid); // command 2
        CHECK(parse_proxy_header(v2(0x21, 0x11, std::string(8, '\0'))).result ==
              Result::invalid); // too short for IPv4
        CHECK(parse_proxy_header(v2(0x21, 0x21, std::string(12, '\0'))).result ==
              Result::invalid); // too short for IPv6
        std::string sig = kSig;
        sig[7] = 'X';
        CHECK(parse_proxy_header(sig).result == Result::invalid); // a broken signature
        // A length beyond the bound is refused at once, before its bytes arrive.
        std::string big = v2(0x21, 0x11, "");
        big[14] = '\x10';
        big[15] = '\x00';
        CHECK(parse_proxy_header(big).result == Result::invalid);
        CHECK(16 + 0x1000 > kProxyHeaderMax);
    }
}
