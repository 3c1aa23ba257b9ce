#include "server/util/address.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include <arpa/inet.h>

using kahttpd::server::ip_text;
using kahttpd::server::IpBytes;

namespace {

IpBytes mapped(const unsigned char (&v4)[4]) {
    IpBytes ip{};
    ip[10] = 0xff;
    ip[11] = 0xff;
    for (int i = 0; i < 4; ++i) {
        ip[static_cast<std::size_t>(12 + i)] = v4[i];
    }
    return ip;
}

std::string ntop(int family, const unsigned char* bytes) {
    char buf[64];
    REQUIRE(inet_ntop(family, bytes, buf, sizeof buf) != nullptr);
    return buf;
}

} // namespace

TEST_SUITE("address") {
    TEST_CASE("ip_text writes an IPv4 client as inet_ntop does, without leading zeros") {
        char buf[64];
        for (const auto& v4 : {std::to_array<unsigned char>({0, 0, 0, 0}),
                               std::to_array<unsigned char>({255, 255, 255, 255}),
                               std::to_array<unsigned char>({127, 0, 0, 1}),
                               std::to_array<unsigned char>({10, 100, 9, 99}),
                               std::to_array<unsigned char>({1, 20, 200, 109})}) {
            const unsigned char bytes[4] = {v4[0], v4[1], v4[2], v4[3]};
            CHECK(std::string(ip_text(mapped(bytes), buf)) == ntop(AF_INET, bytes));
        }
        std::mt19937 rng(7);
        for (int n = 0; n < 10000; ++n) {
            const auto r = rng();
            const unsigned char bytes[4] = {
                static_cast<unsigned char>(r), static_cast<unsigned char>(r >> 8),
                static_cast<unsigned char>(r >> 16), static_cast<unsigned char>(r >> 24)};
            const std::string_view text = ip_text(mapped(bytes), buf);
            REQUIRE(std::string(text) == ntop(AF_INET, bytes));
            REQUIRE(text.size() == std::char_traits<char>::length(buf)); // terminated too
        }
    }

    TEST_CASE("ip_text writes IPv6 in inet_ntop's compressed form") {
        char buf[64];
        IpBytes ip{};
        ip[15] = 1;
        CHECK(ip_text(ip, buf) == "::1");
        const unsigned char doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a};
        for (int i = 0; i < 16; ++i) {
            ip[static_cast<std::size_t>(i)] = doc[i];
        }
        CHECK(ip_text(ip, buf) == "2001:db8::2a");
        CHECK(ip_text(ip, buf) == ntop(AF_INET6, doc));
    }
}
