#include "server/http/remote_ip.hpp"

#include "conf/detail/values.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using kahttpd::conf::VirtualHost;
using kahttpd::server::IpBytes;
using kahttpd::server::remote_ip_rules;
using kahttpd::server::RemoteIpRules;
using kahttpd::server::useragent_ip;

namespace {

IpBytes ip(const std::string& text) {
    const auto n = kahttpd::conf::detail::parse_ip_network(text);
    REQUIRE(n.has_value());
    return n->addr;
}

VirtualHost::RemoteIpProxy proxy(const std::string& net, bool internal) {
    const auto n = kahttpd::conf::detail::parse_ip_network(net);
    REQUIRE(n.has_value());
    return {*n, internal};
}

/// The client address as text-comparable bytes, or the peer when nothing was believed.
IpBytes client(const std::vector<VirtualHost::RemoteIpProxy>& proxies, const std::string& peer,
               const std::string& field) {
    RemoteIpRules rules{"x-forwarded-for", &proxies};
    return useragent_ip(rules, ip(peer), field).value_or(ip(peer));
}

} // namespace

TEST_SUITE("server") {
    TEST_CASE("RemoteIPHeader is believed only from a listed proxy") {
        const std::vector<VirtualHost::RemoteIpProxy> proxies{proxy("10.0.0.0/8", true)};
        CHECK(client(proxies, "10.1.2.3", "203.0.113.9") == ip("203.0.113.9"));
        // A client that is not a proxy cannot claim another address.
        CHECK(client(proxies, "198.51.100.4", "203.0.113.9") == ip("198.51.100.4"));
    }

    TEST_CASE("the field is walked right to left through the listed proxies") {
        const std::vector<VirtualHost::RemoteIpProxy> proxies{proxy("10.0.0.0/8", true)};
        // The client forged the leftmost value; 10.0.0.2 is the first proxy, 10.0.0.1 the
        // second (the peer): the first address not a proxy is the client.
        CHECK(client(proxies, "10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2") == ip("203.0.113.9"));
        CHECK(client(proxies, "10.0.0.1", " 203.0.113.9 ,10.0.0.2 ") == ip("203.0.113.9"));
        // Every value is a proxy: the leftmost one is the client.
        CHECK(client(proxies, "10.0.0.1", "10.9.9.9, 10.0.0.2") == ip("10.9.9.9"));
        // A value that is not an address stops the walk where it is.
        CHECK(client(proxies, "10.0.0.1", "203.0.113.9, unknown, 10.0.0.2") == ip("10.0.0.2"));
        CHECK(client(proxies, "10.0.0.1", "") == ip("10.0.0.1"));
        CHECK(client(proxies, "10.0.0.1", "[2001:db8::1]") == ip("2001:db8::1"));
    }

    TEST_CASE("a trusted proxy cannot present a private address, an internal one can") {
        const std::vector<VirtualHost::RemoteIpProxy> trusted{proxy("198.51.100.0/24", false)};
        CHECK(client(trusted, "198.51.100.1", "192.168.1.5") == ip("198.51.100.1"));
        CHECK(client(trusted, "198.51.100.1", "127.0.0.2") == ip("198.51.100.1"));
        CHECK(client(trusted, "198.51.100.1", "203.0.113.9") == ip("203.0.113.9"));
        const std::vector<VirtualHost::RemoteIpProxy> internal{proxy("198.51.100.0/24", true)};
        CHECK(client(internal, "198.51.100.1", "192.168.1.5") == ip("192.168.1.5"));
    }

    TEST_CASE("with no proxy listed every peer is trusted, for public addresses only") {
        const std::vector<VirtualHost::RemoteIpProxy> none;
        CHECK(client(none, "127.0.0.1", "203.0.113.9, 198.51.100.7") == ip("203.0.113.9"));
        CHECK(client(none, "127.0.0.1", "10.0.0.5") == ip("127.0.0.1"));
    }

    TEST_CASE("a vhost without RemoteIP settings inherits the main server's") {
        VirtualHost main, vhost;
        main.remote_ip_header.value = "x-forwarded-for";
        main.remote_ip_proxies.push_back(proxy("10.0.0.0/8", true));
        const RemoteIpRules inherited = remote_ip_rules(main, vhost);
        CHECK(inherited.header == "x-forwarded-for");
        CHECK(inherited.proxies == &main.remote_ip_proxies);
        vhost.remote_ip_header.value = "x-real-ip";
        vhost.remote_ip_proxies.push_back(proxy("192.0.2.1", true));
        const RemoteIpRules own = remote_ip_rules(main, vhost);
        CHECK(own.header == "x-real-ip");
        CHECK(own.proxies == &vhost.remote_ip_proxies);
    }
}
