#include "conf/detail/loader.hpp"
#include "conf/detail/values.hpp"
#include "parser/text.hpp"

// mod_remoteip: the client address behind a load balancer, from a PROXY protocol header
// (RemoteIPProxyProtocol, per listening address) or from a request field such as
// X-Forwarded-For (RemoteIPHeader, believed only from the proxies listed).

namespace kahttpd::conf::detail {

namespace {

/// Apache takes host names here too (resolved at start-up); kahttpd does no DNS at start-up
/// and says so.
constexpr std::string_view kNetworkExpected =
    "expected an IP address, a partial IPv4 address as in 10.1 or a network as in "
    "10.0.0.0/8 (host names are not resolved), found ";

/// The field-name token of RFC 9110 §5.1.
bool is_field_name(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                           (c >= 'A' && c <= 'Z') ||
                           std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
        if (!tchar) {
            return false;
        }
    }
    return true;
}

} // namespace

void Loader::on_remote_ip_proxy_protocol(const Context& c) {
    if (const auto on = on_off_arg(c)) {
        VirtualHost& v = current_vhost();
        if (v.proxy_protocol && v.proxy_protocol->value != *on) {
            warning(c, "expected one RemoteIPProxyProtocol per host, found a second one that "
                       "overrides " +
                           v.proxy_protocol->from);
        }
        v.proxy_protocol = Setting<bool>{*on, where(c)};
    }
}

/// `RemoteIPProxyProtocolExceptions`, `RemoteIPInternalProxy` and `RemoteIPTrustedProxy`
/// take one or more addresses or networks.
std::vector<IpNetwork> Loader::networks_arg(const Context& c) {
    std::vector<IpNetwork> out;
    if (c.args.empty()) {
        error(c, std::string(kNetworkExpected) + "none");
        return out;
    }
    for (const std::string& a : c.args) {
        if (const auto n = parse_ip_network(a)) {
            out.push_back(*n);
        } else {
            error(c, std::string(kNetworkExpected) + in_quotes(a));
            return {};
        }
    }
    return out;
}

void Loader::on_remote_ip_proxy_protocol_exceptions(const Context& c) {
    const auto networks = networks_arg(c);
    VirtualHost& v = current_vhost();
    v.proxy_protocol_exceptions.insert(v.proxy_protocol_exceptions.end(), networks.begin(),
                                       networks.end());
    if (!networks.empty()) {
        v.proxy_protocol_exceptions_from = where(c);
    }
}

void Loader::on_remote_ip_header(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    if (!is_field_name(c.args[0])) {
        error(c, "expected a header field name such as X-Forwarded-For, found " +
                     in_quotes(c.args[0]));
        return;
    }
    std::string name = c.args[0];
    for (char& ch : name) {
        ch = text::to_lower(ch);
    }
    current_vhost().remote_ip_header = {std::move(name), where(c)};
}

void Loader::on_remote_ip_proxy(const Context& c, bool internal) {
    const auto networks = networks_arg(c);
    VirtualHost& v = current_vhost();
    for (const IpNetwork& n : networks) {
        v.remote_ip_proxies.push_back({n, internal});
    }
    if (!networks.empty()) {
        v.remote_ip_proxies_from = where(c);
    }
}

} // namespace kahttpd::conf::detail
