#include "conf/sections.hpp"

#include "conf/config.hpp"
#include "conf/detail/dir_merge.hpp"
#include "parser/text.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>

namespace kahttpd::conf {

namespace {

using text::iequals;
using text::to_lower;

using Ip = std::array<std::uint8_t, 16>;

/// Parses an IPv4 or IPv6 literal (IPv6 optionally in brackets) into 16 bytes, IPv4 as
/// ::ffff:a.b.c.d. No allocation: the text is copied into a stack buffer for inet_pton.
bool parse_ip(std::string_view text, Ip& out) noexcept {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    // INET6_ADDRSTRLEN (46) covers the longest literal, "ffff:...:255.255.255.255".
    std::array<char, INET6_ADDRSTRLEN + 1> buf{};
    if (text.empty() || text.size() >= buf.size()) {
        return false;
    }
    std::memcpy(buf.data(), text.data(), text.size());
    in_addr v4{};
    if (inet_pton(AF_INET, buf.data(), &v4) == 1) {
        out = Ip{};
        out[10] = 0xff;
        out[11] = 0xff;
        std::memcpy(out.data() + 12, &v4, 4);
        return true;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf.data(), &v6) == 1) {
        std::memcpy(out.data(), &v6, 16);
        return true;
    }
    return false;
}

bool is_loopback(const Ip& ip) noexcept {
    static constexpr Ip kLoopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip == kLoopback6) {
        return true;
    }
    return std::equal(kMapped.begin(), kMapped.end(), ip.begin()) && ip[12] == 127;
}

/// `prefix` is a path prefix of `path` ending on a segment boundary: "/srv/www" is one of
/// "/srv/www" and "/srv/www/a" but not of "/srv/wwwx". A prefix that ends in '/' (including
/// "/" itself) is a plain string prefix, since the boundary is already in it.
bool is_segment_prefix(std::string_view prefix, std::string_view path) noexcept {
    if (!path.starts_with(prefix)) {
        return false;
    }
    return prefix.empty() || prefix.back() == '/' || path.size() == prefix.size() ||
           path[prefix.size()] == '/';
}

/// A <Location> or <LocationMatch> section's test.
bool location_matches(const Section& s, std::string_view url_path) noexcept {
    return s.regex ? s.regex.match(url_path) : is_segment_prefix(s.match, url_path);
}

/// A <Files> (shell wildcards, as Apache's fnmatch with FNM_PATHNAME) or <FilesMatch>
/// section's test against a file name.
bool files_matches(const Section& s, std::string_view name) noexcept {
    if (s.regex) {
        return s.regex.match(name);
    }
    // fnmatch wants a C string; a name longer than NAME_MAX cannot exist anyway.
    std::array<char, 256> buf{};
    if (name.size() >= buf.size()) {
        return false;
    }
    std::memcpy(buf.data(), name.data(), name.size());
    return ::fnmatch(s.match.c_str(), buf.data(), FNM_PATHNAME) == 0;
}

/// A matching <Directory> section with its sort key.
struct DirMatch {
    const Section* section;
    std::size_t depth;
};

/// Inserts keeping the order stable for equal depths, so that sections collected main first,
/// then in configuration order, stay that way within one depth (Apache's orig_index).
template <typename Buffer> void insert_by_depth(Buffer& buf, std::size_t& count, DirMatch m) {
    std::size_t i = count;
    while (i > 0 && buf[i - 1].depth > m.depth) {
        buf[i] = buf[i - 1];
        --i;
    }
    buf[i] = m;
    ++count;
}

} // namespace

bool IpNetwork::contains(const std::array<std::uint8_t, 16>& ip) const noexcept {
    const unsigned bits = std::min<unsigned>(prefix, 128);
    const unsigned full = bits / 8;
    if (!std::equal(addr.begin(), addr.begin() + full, ip.begin())) {
        return false;
    }
    const unsigned rest = bits % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (addr[full] & mask) == (ip[full] & mask);
}

bool AccessRule::allows(const std::array<std::uint8_t, 16>& ip,
                        const std::array<std::uint8_t, 16>& server_ip) const noexcept {
    if (any.empty()) {
        return true;
    }
    for (const Requirement& r : any) {
        switch (r.kind) {
        case Kind::all_granted:
            return true;
        case Kind::all_denied:
            break;
        case Kind::ip:
            for (const IpNetwork& n : r.networks) {
                if (n.contains(ip)) {
                    return true;
                }
            }
            break;
        case Kind::local:
            if (is_loopback(ip) || ip == server_ip) {
                return true;
            }
            break;
        }
    }
    return false;
}

namespace detail {

std::size_t path_depth(std::string_view path) noexcept {
    std::size_t depth = 0;
    bool in_segment = false;
    for (char c : path) {
        if (c == '/') {
            in_segment = false;
        } else if (!in_segment) {
            in_segment = true;
            ++depth;
        }
    }
    return depth;
}

void visit_layers(const VirtualHost& main, const VirtualHost& vhost, std::string_view fs_path,
                  std::string_view url_path, void (*visit)(void*, const DirSettings&), void* ctx) {
    const bool own = &vhost != &main;
    visit(ctx, main.base);
    if (own) {
        visit(ctx, vhost.base);
    }

    // <Directory>: main's and the vhost's together, shallow first; for equal depth main's
    // before the vhost's, then configuration order. The loader keeps each list sorted, but
    // the order is established here so that it never depends on that. A request matches at
    // most one section per depth and list in a sane configuration, so the stack buffer holds
    // every realistic case; deeper trees fall back to the heap.
    constexpr std::size_t kInline = 32;
    std::array<DirMatch, kInline> inline_buf;
    std::vector<DirMatch> heap_buf;
    std::size_t count = 0;
    auto collect = [&](const std::vector<Section>& sections) {
        for (const Section& s : sections) {
            if (!is_segment_prefix(s.match, fs_path)) {
                continue;
            }
            const DirMatch m{&s, path_depth(s.match)};
            if (heap_buf.empty() && count < kInline) {
                insert_by_depth(inline_buf, count, m);
                continue;
            }
            if (heap_buf.empty()) {
                heap_buf.assign(inline_buf.begin(), inline_buf.begin() + count);
            }
            heap_buf.push_back({});
            insert_by_depth(heap_buf, count, m);
        }
    };
    collect(main.directories);
    if (own) {
        collect(vhost.directories);
    }
    for (std::size_t i = 0; i < count; ++i) {
        visit(ctx, (heap_buf.empty() ? inline_buf[i] : heap_buf[i]).section->settings);
    }

    // Then <DirectoryMatch>, <Files> and <Location>, each group main's first, then the
    // vhost's, in configuration order. A regex directory section sees the folder that holds
    // the file, with its trailing slash ("/srv/www/a/"); <Files> the file name ("" for a
    // folder).
    const std::size_t last_slash = fs_path.rfind('/');
    const std::string_view folder =
        last_slash == std::string_view::npos ? fs_path : fs_path.substr(0, last_slash + 1);
    const std::string_view name =
        last_slash == std::string_view::npos ? fs_path : fs_path.substr(last_slash + 1);
    auto group = [&](const std::vector<Section>& main_sections,
                     const std::vector<Section>& own_sections, auto matches) {
        for (const Section& s : main_sections) {
            if (matches(s)) {
                visit(ctx, s.settings);
            }
        }
        if (own) {
            for (const Section& s : own_sections) {
                if (matches(s)) {
                    visit(ctx, s.settings);
                }
            }
        }
    };
    group(main.directory_matches, vhost.directory_matches,
          [&](const Section& s) { return s.regex.match(folder); });
    group(main.files, vhost.files, [&](const Section& s) {
        return (s.within.empty() || is_segment_prefix(s.within, fs_path)) &&
               files_matches(s, name);
    });
    group(main.locations, vhost.locations,
          [&](const Section& s) { return location_matches(s, url_path); });
}

} // namespace detail

Effective VirtualHost::effective(const VirtualHost& main, std::string_view fs_path,
                                 std::string_view url_path) const {
    Effective e;
    detail::visit_layers(
        main, *this, fs_path, url_path,
        [](void* ctx, const DirSettings& s) {
            detail::merge_layer(*static_cast<Effective*>(ctx), s, nullptr);
        },
        &e);
    return e;
}

bool VirtualHost::location_sets_require(const VirtualHost& main,
                                        std::string_view url_path) const noexcept {
    auto any = [&](const std::vector<Section>& sections) {
        for (const Section& s : sections) {
            if (s.settings.require && location_matches(s, url_path)) {
                return true;
            }
        }
        return false;
    };
    return any(main.locations) || (this != &main && any(locations));
}

UrlMapping VirtualHost::map_url(const VirtualHost& main, std::string_view url_path) const {
    const bool own = this != &main;
    UrlMapping m;
    if ((own && find_redirect(redirects, url_path, m)) ||
        find_redirect(main.redirects, url_path, m)) {
        return m;
    }
    if (own && find_alias(url_aliases, url_path, 0, m)) {
        return m;
    }
    find_alias(main.url_aliases, url_path, own ? url_aliases.size() : 0, m);
    return m;
}

const AliasRule& VirtualHost::alias_at(const VirtualHost& main, std::size_t i) const noexcept {
    if (this != &main && i < url_aliases.size()) {
        return url_aliases[i];
    }
    return main.url_aliases[this != &main ? i - url_aliases.size() : i];
}

bool VirtualHost::matches_name(std::string_view host) const noexcept {
    // An empty Host (HTTP/1.0) names nothing; without this check it would match every vhost
    // that has no ServerName.
    if (host.empty()) {
        return false;
    }
    if (iequals(server_name.value, host)) {
        return true;
    }
    for (const Setting<std::string>& alias : aliases) {
        if (wildcard_match(alias.value, host)) {
            return true;
        }
    }
    return false;
}

std::string normalize_host(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        // An IPv6 literal: keep the brackets, drop what follows them (the port).
        const std::size_t close = host.find(']');
        if (close != std::string_view::npos) {
            host = host.substr(0, close + 1);
        }
    } else if (const std::size_t colon = host.find(':');
               colon != std::string_view::npos && host.find(':', colon + 1) == host.npos) {
        // Exactly one colon: name:port. A bare IPv6 address (several colons, invalid in a
        // Host header) is left whole rather than cut at its last group.
        host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') {
        host.remove_suffix(1);
    }
    std::string out(host);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

bool wildcard_match(std::string_view pattern, std::string_view text) noexcept {
    // Two pointers with one saved position for the last '*': on a mismatch the star absorbs
    // one more character and matching resumes after it. Each star only ever moves forward,
    // so the work is O(pattern * text) at worst, never exponential.
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos; // index of the last '*' seen in pattern
    std::size_t star_t = 0;                    // text position that star currently ends at
    while (t < text.size()) {
        if (p < pattern.size() &&
            (pattern[p] == '?' || to_lower(pattern[p]) == to_lower(text[t]))) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_t = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

const VirtualHost& Config::select_vhost(std::string_view local_ip, std::uint16_t local_port,
                                        std::string_view host) const noexcept {
    Ip local{};
    const bool local_parsed = parse_ip(local_ip, local);

    // Whether an address host written in <VirtualHost> names the local address. Parsing both
    // sides makes "::ffff:127.0.0.1" equal "127.0.0.1" and "::0001" equal "::1".
    auto same_ip = [&](std::string_view address_host) noexcept {
        Ip other{};
        if (local_parsed && parse_ip(address_host, other)) {
            return other == local;
        }
        return iequals(address_host, local_ip);
    };

    const VirtualHost* exact_default = nullptr;
    const VirtualHost* exact_named = nullptr;
    const VirtualHost* wild_default = nullptr;
    const VirtualHost* wild_named = nullptr;
    for (const VirtualHost& v : vhosts) {
        bool exact = false;
        bool wild = false;
        for (const VirtualHost::Address& a : v.parsed_addresses) {
            if (a.port != 0 && a.port != local_port) {
                continue;
            }
            if (a.host.empty()) {
                wild = true;
            } else if (same_ip(a.host)) {
                exact = true;
                break;
            }
        }
        if (exact) {
            if (exact_default == nullptr) {
                exact_default = &v;
            }
            if (exact_named == nullptr && v.matches_name(host)) {
                exact_named = &v;
            }
        } else if (wild && exact_default == nullptr) {
            // Wildcard candidates only count while no exact one exists; once one does,
            // these results are never used.
            if (wild_default == nullptr) {
                wild_default = &v;
            }
            if (wild_named == nullptr && v.matches_name(host)) {
                wild_named = &v;
            }
        }
    }
    if (exact_default != nullptr) {
        return exact_named != nullptr ? *exact_named : *exact_default;
    }
    if (wild_default != nullptr) {
        return wild_named != nullptr ? *wild_named : *wild_default;
    }
    return main;
}

bool Config::proxy_protocol_anywhere() const noexcept {
    if (main.proxy_protocol && main.proxy_protocol->value) {
        return true;
    }
    return std::any_of(vhosts.begin(), vhosts.end(), [](const VirtualHost& v) {
        return v.proxy_protocol && v.proxy_protocol->value;
    });
}

bool Config::proxy_protocol_for(const Ip& local, std::uint16_t local_port,
                                const Ip& peer) const noexcept {
    bool on = main.proxy_protocol && main.proxy_protocol->value;
    bool exempt =
        std::any_of(main.proxy_protocol_exceptions.begin(), main.proxy_protocol_exceptions.end(),
                    [&](const IpNetwork& n) { return n.contains(peer); });
    for (const VirtualHost& v : vhosts) {
        const bool here =
            std::any_of(v.parsed_addresses.begin(), v.parsed_addresses.end(),
                        [&](const VirtualHost::Address& a) {
                            if (a.port != 0 && a.port != local_port) {
                                return false;
                            }
                            Ip ip{};
                            return a.host.empty() || (parse_ip(a.host, ip) && ip == local);
                        });
        if (!here) {
            continue;
        }
        if (v.proxy_protocol) {
            on = v.proxy_protocol->value;
        }
        exempt = exempt ||
                 std::any_of(v.proxy_protocol_exceptions.begin(), v.proxy_protocol_exceptions.end(),
                             [&](const IpNetwork& n) { return n.contains(peer); });
    }
    return on && !exempt;
}

} // namespace kahttpd::conf
