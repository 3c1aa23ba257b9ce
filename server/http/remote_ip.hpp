#pragma once

#include "conf/sections.hpp"
#include "server/util/address.hpp"

#include <optional>
#include <string_view>

// mod_remoteip's RemoteIPHeader: the client address a trusted proxy reports in a request
// field such as X-Forwarded-For. Pure: no I/O.
namespace kahttpd::server {

/// The settings that apply to one virtual host: its own RemoteIPHeader and proxy lists, or
/// the main server's where it sets none (Apache's merge).
struct RemoteIpRules {
    std::string_view header; ///< lower case; empty = RemoteIPHeader not set
    const std::vector<conf::VirtualHost::RemoteIpProxy>* proxies = nullptr;
};
RemoteIpRules remote_ip_rules(const conf::VirtualHost& main,
                              const conf::VirtualHost& vhost) noexcept;

/// The client address after walking `field` (the RemoteIPHeader value, "a, b, c") from the
/// right, starting at the connection's peer, as Apache's mod_remoteip does:
/// - a hop is believed only when the address that sent it is a listed proxy (with no proxy
///   listed at all, every hop is);
/// - a trusted proxy (RemoteIPTrustedProxy, or no list) cannot vouch for a private address
///   (10/8, 172.16/12, 192.168/16, 169.254/16, 127/8, IPv6 outside 2000::/3): the walk stops
///   there; an internal proxy (RemoteIPInternalProxy) can;
/// - a value that is not an IP address stops the walk.
/// nullopt when the peer is not trusted or the field gives nothing usable (the peer stays the
/// client).
std::optional<IpBytes> useragent_ip(const RemoteIpRules& rules, const IpBytes& peer,
                                    std::string_view field) noexcept;

} // namespace kahttpd::server
