#include "conf/sections.hpp"

#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>

using kahttpd::conf::AccessRule;
using kahttpd::conf::Config;
using kahttpd::conf::DirSettings;
using kahttpd::conf::Effective;
using kahttpd::conf::ErrorDocument;
using kahttpd::conf::HeaderRule;
using kahttpd::conf::IpNetwork;
using kahttpd::conf::normalize_host;
using kahttpd::conf::OptionsSpec;
using kahttpd::conf::Section;
using kahttpd::conf::Setting;
using kahttpd::conf::VirtualHost;
using kahttpd::conf::wildcard_match;
using Ip = std::array<std::uint8_t, 16>;
using Strings = std::vector<std::string>;

namespace {

// Built step by step: GCC 12 reports a false -Wmaybe-uninitialized for the nested brace form.
Setting<ErrorDocument> error_doc(ErrorDocument::Kind kind, std::string target, std::string from) {
    Setting<ErrorDocument> s;
    s.value.kind = kind;
    s.value.target = std::move(target);
    s.from = std::move(from);
    return s;
}

} // namespace

namespace {

/// 16 bytes for an IPv4 (mapped) or IPv6 literal; fails the test on a bad literal.
Ip ip(const std::string& text) {
    Ip out{};
    std::array<std::uint8_t, 4> v4{};
    if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        std::copy(v4.begin(), v4.end(), out.begin() + 12);
        return out;
    }
    REQUIRE(inet_pton(AF_INET6, text.c_str(), out.data()) == 1);
    return out;
}

/// "10.0.0.0/8" or "2001:db8::/32"; IPv4 prefixes are stored + 96 as the contract says.
IpNetwork network(const std::string& cidr) {
    const std::size_t slash = cidr.find('/');
    const std::string addr = cidr.substr(0, slash);
    const bool v4 = addr.find(':') == std::string::npos;
    IpNetwork n;
    n.addr = ip(addr);
    const int bits =
        slash == std::string::npos ? (v4 ? 32 : 128) : std::stoi(cidr.substr(slash + 1));
    n.prefix = static_cast<std::uint8_t>(v4 ? bits + 96 : bits);
    return n;
}

AccessRule::Requirement requirement(AccessRule::Kind kind, std::vector<IpNetwork> networks = {}) {
    AccessRule::Requirement r;
    r.kind = kind;
    r.networks = std::move(networks);
    return r;
}

VirtualHost vhost(std::vector<VirtualHost::Address> addresses, std::string name,
                  std::vector<std::string> aliases = {}) {
    VirtualHost v;
    for (const auto& a : addresses) {
        v.addresses.push_back((a.host.empty() ? "*" : a.host) + ":" +
                              (a.port == 0 ? "*" : std::to_string(a.port)));
    }
    v.parsed_addresses = std::move(addresses);
    v.server_name.value = std::move(name);
    for (std::string& a : aliases) {
        v.aliases.push_back({std::move(a), ""});
    }
    return v;
}

/// Which vhost (by ServerName) serves the request; "main" for the main server.
std::string selected(const Config& c, std::string_view local_ip, std::uint16_t port,
                     std::string_view host) {
    const VirtualHost& v = c.select_vhost(local_ip, port, host);
    return &v == &c.main ? "main" : v.server_name.value;
}

/// A section that sets DirectoryIndex to `marker` and appends an X-Trace header with it, so
/// that the headers of the result list the layers applied, outer first.
Section marked(std::string match, const std::string& marker) {
    Section s;
    s.match = std::move(match);
    s.settings.directory_index = Setting<Strings>{{marker}, marker};
    s.settings.headers.push_back({HeaderRule::Action::append, false, "X-Trace", marker, marker});
    return s;
}

DirSettings marked_settings(const std::string& marker) {
    return marked("", marker).settings;
}

Strings trace(const Effective& e) {
    Strings out;
    for (const HeaderRule& h : e.headers) {
        out.push_back(h.value);
    }
    return out;
}

OptionsSpec options(bool absolute, std::uint8_t on, std::uint8_t off = 0) {
    OptionsSpec o;
    o.absolute = absolute;
    o.on = on;
    o.off = off;
    return o;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("wildcard_match: '*' matches any run, '?' one character") {
        CHECK(wildcard_match("*.example.com", "www.example.com"));
        CHECK(wildcard_match("*.example.com", "a.b.example.com"));
        CHECK_FALSE(wildcard_match("*.example.com", "example.com"));
        CHECK(wildcard_match("*example.com", "example.com"));
        CHECK(wildcard_match("www?.example.com", "www1.example.com"));
        CHECK_FALSE(wildcard_match("www?.example.com", "www.example.com"));
        CHECK_FALSE(wildcard_match("www?.example.com", "www12.example.com"));
        CHECK(wildcard_match("*", ""));
        CHECK(wildcard_match("*", "anything"));
        CHECK(wildcard_match("**", "x"));
        CHECK(wildcard_match("", ""));
        CHECK_FALSE(wildcard_match("", "x"));
        CHECK_FALSE(wildcard_match("?", ""));
        CHECK(wildcard_match("a*b*c", "aXXbYYc"));
        CHECK(wildcard_match("a*b*c", "abc"));
        CHECK_FALSE(wildcard_match("a*b*c", "aXXbYY"));
        CHECK(wildcard_match("a*c", "abcbc"));
        CHECK_FALSE(wildcard_match("a*c", "abcb"));
        CHECK(wildcard_match("exact.example", "exact.example"));
        CHECK_FALSE(wildcard_match("exact.example", "exact.example.org"));
    }

    TEST_CASE("wildcard_match is ASCII case-insensitive") {
        CHECK(wildcard_match("*.Example.COM", "WWW.example.com"));
        CHECK(wildcard_match("A?C", "abc"));
        CHECK_FALSE(wildcard_match("a", "\xc3\xa1")); // no Unicode folding
    }

    TEST_CASE("wildcard_match stays fast on patterns that blow up backtracking matchers") {
        // A recursive matcher takes exponential time here; the two-pointer one is quadratic
        // at worst, which for these sizes is a few million steps.
        const std::string text(2000, 'a');
        CHECK_FALSE(wildcard_match("*a*a*a*a*a*a*a*a*a*a*b", text));
        CHECK(wildcard_match("*a*a*a*a*a*a*a*a*a*a*", text));
    }

    TEST_CASE("normalize_host lower-cases and drops the port and one trailing dot") {
        CHECK(normalize_host("Example.COM.:8080") == "example.com");
        CHECK(normalize_host("example.com") == "example.com");
        CHECK(normalize_host("example.com:80") == "example.com");
        CHECK(normalize_host("example.com.") == "example.com");
        CHECK(normalize_host("example.com..") == "example.com.");
        CHECK(normalize_host("[::1]:8080") == "[::1]");
        CHECK(normalize_host("[::1]") == "[::1]");
        CHECK(normalize_host("[2001:DB8::1]") == "[2001:db8::1]");
        CHECK(normalize_host("127.0.0.1:8080") == "127.0.0.1");
        CHECK(normalize_host("") == "");
        CHECK(normalize_host(":8080") == "");
        CHECK(normalize_host("::1") == "::1"); // bare IPv6 (invalid Host) is not cut
    }

    TEST_CASE("IpNetwork::contains compares the prefix bits") {
        SUBCASE("IPv4, mapped") {
            const IpNetwork n = network("10.0.0.0/8");
            CHECK(n.contains(ip("10.0.0.1")));
            CHECK(n.contains(ip("10.255.255.255")));
            CHECK_FALSE(n.contains(ip("11.0.0.1")));
            CHECK_FALSE(n.contains(ip("::a00:1"))); // 10.0.0.1 as IPv4-compatible, not mapped
        }
        SUBCASE("a prefix that is not a whole number of bytes") {
            const IpNetwork n = network("172.16.0.0/12");
            CHECK(n.contains(ip("172.16.0.1")));
            CHECK(n.contains(ip("172.31.255.255")));
            CHECK_FALSE(n.contains(ip("172.32.0.0")));
            CHECK_FALSE(n.contains(ip("172.15.255.255")));
        }
        SUBCASE("a single address") {
            const IpNetwork n = network("192.0.2.7");
            CHECK(n.contains(ip("192.0.2.7")));
            CHECK_FALSE(n.contains(ip("192.0.2.8")));
        }
        SUBCASE("IPv6") {
            const IpNetwork n = network("2001:db8::/32");
            CHECK(n.contains(ip("2001:db8:1::1")));
            CHECK_FALSE(n.contains(ip("2001:db9::1")));
            CHECK(network("::1").contains(ip("::1")));
            CHECK_FALSE(network("::1").contains(ip("::2")));
        }
        SUBCASE("prefix 0 contains everything") {
            IpNetwork n;
            n.prefix = 0;
            CHECK(n.contains(ip("203.0.113.9")));
            CHECK(n.contains(ip("2001:db8::1")));
        }
    }

    TEST_CASE("AccessRule::allows: any requirement may grant") {
        const Ip server = ip("192.0.2.1");
        AccessRule rule;
        SUBCASE("an empty rule grants") {
            CHECK(rule.allows(ip("203.0.113.9"), server));
        }
        SUBCASE("all granted and all denied") {
            rule.any = {requirement(AccessRule::Kind::all_granted)};
            CHECK(rule.allows(ip("203.0.113.9"), server));
            rule.any = {requirement(AccessRule::Kind::all_denied)};
            CHECK_FALSE(rule.allows(ip("203.0.113.9"), server));
            CHECK_FALSE(rule.allows(ip("127.0.0.1"), server));
        }
        SUBCASE("ip: any of the networks") {
            rule.any = {requirement(AccessRule::Kind::ip,
                                    {network("10.0.0.0/8"), network("2001:db8::/32")})};
            CHECK(rule.allows(ip("10.1.2.3"), server));
            CHECK(rule.allows(ip("2001:db8::5"), server));
            CHECK_FALSE(rule.allows(ip("192.168.0.1"), server));
        }
        SUBCASE("local: loopback or the server's own address") {
            rule.any = {requirement(AccessRule::Kind::local)};
            CHECK(rule.allows(ip("127.0.0.1"), server));
            CHECK(rule.allows(ip("127.255.0.9"), server));
            CHECK(rule.allows(ip("::1"), server));
            CHECK(rule.allows(ip("192.0.2.1"), server));
            CHECK_FALSE(rule.allows(ip("192.0.2.2"), server));
            CHECK_FALSE(rule.allows(ip("128.0.0.1"), server));
        }
        SUBCASE("several lines: a denying line does not stop a later granting one") {
            rule.any = {requirement(AccessRule::Kind::all_denied),
                        requirement(AccessRule::Kind::ip, {network("10.0.0.0/8")}),
                        requirement(AccessRule::Kind::local)};
            CHECK(rule.allows(ip("10.0.0.1"), server));
            CHECK(rule.allows(ip("::1"), server));
            CHECK_FALSE(rule.allows(ip("203.0.113.9"), server));
        }
    }

    TEST_CASE("VirtualHost::matches_name: ServerName exactly or an alias pattern") {
        const VirtualHost v = vhost({{"", 80}}, "a.example", {"www.a.example", "*.a.test"});
        CHECK(v.matches_name("a.example"));
        CHECK(v.matches_name("www.a.example"));
        CHECK(v.matches_name("x.a.test"));
        CHECK_FALSE(v.matches_name("a.test"));
        CHECK_FALSE(v.matches_name("b.example"));
        CHECK_FALSE(v.matches_name("a.example.org"));
        CHECK_FALSE(v.matches_name(""));
        SUBCASE("a vhost without ServerName does not match an empty Host") {
            const VirtualHost nameless = vhost({{"", 80}}, "");
            CHECK_FALSE(nameless.matches_name(""));
        }
    }

    TEST_CASE("select_vhost: name-based vhosts on a wildcard address") {
        Config c;
        c.vhosts = {vhost({{"", 8080}}, "a.example"),
                    vhost({{"", 8080}}, "b.example", {"*.b.example"}),
                    vhost({{"", 8080}}, "b.example")};
        CHECK(selected(c, "127.0.0.1", 8080, "a.example") == "a.example");
        CHECK(selected(c, "127.0.0.1", 8080, "b.example") == "b.example");
        CHECK(&c.select_vhost("127.0.0.1", 8080, "b.example") == &c.vhosts[1]); // first match
        CHECK(selected(c, "127.0.0.1", 8080, "www.b.example") == "b.example");
        SUBCASE("no name matches: the first vhost for the address is the default") {
            CHECK(selected(c, "127.0.0.1", 8080, "other.example") == "a.example");
            CHECK(selected(c, "127.0.0.1", 8080, "") == "a.example");
        }
        SUBCASE("another port: the main server") {
            CHECK(selected(c, "127.0.0.1", 9090, "a.example") == "main");
        }
        SUBCASE("any local address") {
            CHECK(selected(c, "::1", 8080, "b.example") == "b.example");
            CHECK(selected(c, "10.1.1.1", 8080, "") == "a.example");
        }
    }

    TEST_CASE("select_vhost: without vhosts every request goes to the main server") {
        const Config c;
        CHECK(&c.select_vhost("127.0.0.1", 80, "example.com") == &c.main);
    }

    TEST_CASE("select_vhost: vhosts on the exact local address hide the wildcard ones") {
        Config c;
        c.vhosts = {vhost({{"", 8080}}, "wild.example"), vhost({{"127.0.0.1", 8080}}, "ip.example"),
                    vhost({{"127.0.0.1", 0}}, "any-port.example"),
                    vhost({{"::1", 8080}}, "six.example")};
        SUBCASE("a name that only a wildcard vhost has still gets the exact address's default") {
            CHECK(selected(c, "127.0.0.1", 8080, "wild.example") == "ip.example");
        }
        SUBCASE("names among the exact vhosts; port 0 means any port") {
            CHECK(selected(c, "127.0.0.1", 8080, "any-port.example") == "any-port.example");
            CHECK(selected(c, "127.0.0.1", 9090, "ip.example") == "any-port.example");
        }
        SUBCASE("an IPv4-mapped local address is the IPv4 address") {
            CHECK(selected(c, "::ffff:127.0.0.1", 8080, "") == "ip.example");
        }
        SUBCASE("IPv6, compared as addresses, not text") {
            CHECK(selected(c, "::1", 8080, "") == "six.example");
            CHECK(selected(c, "0:0::0001", 8080, "") == "six.example");
        }
        SUBCASE("another local address falls back to the wildcard vhosts") {
            CHECK(selected(c, "10.0.0.1", 8080, "ip.example") == "wild.example");
        }
        SUBCASE("no address matches: the main server") {
            CHECK(selected(c, "10.0.0.1", 9090, "wild.example") == "main");
        }
    }

    TEST_CASE("select_vhost: a vhost with several addresses is a candidate on each") {
        Config c;
        c.vhosts = {vhost({{"", 80}}, "first.example"),
                    vhost({{"192.0.2.1", 80}, {"", 8080}}, "multi.example")};
        CHECK(selected(c, "192.0.2.1", 80, "") == "multi.example");
        CHECK(selected(c, "192.0.2.2", 80, "multi.example") == "first.example");
        CHECK(selected(c, "192.0.2.2", 8080, "") == "multi.example");
    }

    TEST_CASE("select_vhost: bracketed IPv6 in a vhost address") {
        Config c;
        c.vhosts = {vhost({{"[::1]", 80}}, "six.example")};
        CHECK(selected(c, "::1", 80, "") == "six.example");
    }

    TEST_CASE("effective: the defaults when nothing is set") {
        const VirtualHost main;
        const Effective e = main.effective(main, "/srv/www/index.html", "/index.html");
        const Effective d;
        CHECK(e.options == OptionsSpec::kFollowSymLinks);
        CHECK(e.directory_index == Strings{"index.html"});
        CHECK(e.require.any.empty());
        CHECK(e.headers.empty());
        CHECK(e.error_documents.empty());
        CHECK(e.handler.empty());
        CHECK(e.add_types.empty());
        CHECK(e.default_charset.empty());
        CHECK(e.file_etag.parts == d.file_etag.parts);
        CHECK(e.enable_sendfile);
        CHECK(e.limit_request_body == 1073741824);
    }

    TEST_CASE("effective: main server base, then vhost base") {
        VirtualHost main;
        main.base = marked_settings("main");
        main.base.enable_sendfile = Setting<bool>{false, "m:1"};
        main.base.default_charset = Setting<std::string>{"utf-8", "m:2"};
        VirtualHost v;
        v.base = marked_settings("vhost");
        v.base.default_charset = Setting<std::string>{"", "v:1"}; // AddDefaultCharset Off
        const Effective e = v.effective(main, "/srv/a", "/a");
        CHECK(trace(e) == Strings{"main", "vhost"});
        CHECK(e.directory_index == Strings{"vhost"});
        CHECK_FALSE(e.enable_sendfile);
        CHECK(e.default_charset.empty());
        SUBCASE("the main server itself applies its base once") {
            CHECK(trace(main.effective(main, "/srv/a", "/a")) == Strings{"main"});
        }
    }

    TEST_CASE("effective: <Directory> matches on a path segment boundary") {
        VirtualHost main;
        main.directories = {marked("/srv/www", "www")};
        CHECK(trace(main.effective(main, "/srv/www", "/")) == Strings{"www"});
        CHECK(trace(main.effective(main, "/srv/www/a/b.html", "/a/b.html")) == Strings{"www"});
        CHECK(trace(main.effective(main, "/srv/wwwx/a", "/a")).empty());
        CHECK(trace(main.effective(main, "/srv/ww", "/")).empty());
        CHECK(trace(main.effective(main, "/srv", "/")).empty());
        SUBCASE("<Directory /> matches every path") {
            main.directories = {marked("/", "root")};
            CHECK(trace(main.effective(main, "/srv/www/x", "/x")) == Strings{"root"});
        }
    }

    TEST_CASE("effective: <Directory> sections apply shallow first, main's before the vhost's") {
        VirtualHost main;
        VirtualHost v;
        // Deliberately out of depth order: the merge must not depend on the loader's sort.
        main.directories = {marked("/srv/www/a", "main-a"), marked("/", "main-root"),
                            marked("/srv/www", "main-www"), marked("/srv/www", "main-www2"),
                            marked("/srv/other", "main-other")};
        v.directories = {marked("/srv/www/a/b", "v-b"), marked("/srv/www", "v-www"),
                         marked("/srv", "v-srv")};
        v.base = marked_settings("v-base");
        main.base = marked_settings("main-base");
        const Effective e = v.effective(main, "/srv/www/a/b/c.html", "/a/b/c.html");
        CHECK(trace(e) == Strings{"main-base", "v-base", "main-root", "v-srv", "main-www",
                                  "main-www2", "v-www", "main-a", "v-b"});
        CHECK(e.directory_index == Strings{"v-b"});
    }

    TEST_CASE("effective: more matching <Directory> sections than the inline buffer holds") {
        VirtualHost main;
        std::string path;
        Strings expected;
        // 40 nested levels, listed deepest first, plus one sibling that must not match.
        std::vector<Section> sections;
        for (int i = 0; i < 40; ++i) {
            path += "/d" + std::to_string(i);
            sections.insert(sections.begin(), marked(path, std::to_string(i)));
            expected.push_back(std::to_string(i));
        }
        sections.push_back(marked("/d0/x", "sibling"));
        main.directories = sections;
        CHECK(trace(main.effective(main, path + "/file", "/")) == expected);
    }

    TEST_CASE("effective: <Location> is a segment prefix of the URL path, in order") {
        VirtualHost main;
        VirtualHost v;
        main.locations = {marked("/docs", "main-docs"), marked("/", "main-root")};
        v.locations = {marked("/", "v-root"), marked("/docs/", "v-docs-slash"),
                       marked("/docs/api", "v-api")};
        v.directories = {marked("/srv", "v-dir")};
        CHECK(trace(v.effective(main, "/srv/x", "/docs")) ==
              Strings{"v-dir", "main-docs", "main-root", "v-root"});
        CHECK(trace(v.effective(main, "/srv/x", "/docs/")) ==
              Strings{"v-dir", "main-docs", "main-root", "v-root", "v-docs-slash"});
        CHECK(trace(v.effective(main, "/srv/x", "/docs/api/x")) ==
              Strings{"v-dir", "main-docs", "main-root", "v-root", "v-docs-slash", "v-api"});
        CHECK(trace(v.effective(main, "/srv/x", "/docsx")) ==
              Strings{"v-dir", "main-root", "v-root"});
        CHECK(trace(v.effective(main, "/srv/x", "/docs/apix")) ==
              Strings{"v-dir", "main-docs", "main-root", "v-root", "v-docs-slash"});
    }

    TEST_CASE("effective: Options merge with + and -, a plain list replaces") {
        VirtualHost main;
        main.base.options = Setting<OptionsSpec>{options(false, OptionsSpec::kIndexes), "m:1"};
        Section www;
        www.match = "/srv/www";
        www.settings.options = Setting<OptionsSpec>{
            options(false, OptionsSpec::kSymLinksIfOwnerMatch, OptionsSpec::kFollowSymLinks),
            "m:2"};
        Section none;
        none.match = "/srv/www/private";
        none.settings.options = Setting<OptionsSpec>{options(true, 0), "m:3"};
        Section all;
        all.match = "/srv/www/private/open";
        all.settings.options = Setting<OptionsSpec>{options(true, OptionsSpec::kAll), "m:4"};
        main.directories = {www, none, all};
        CHECK(main.effective(main, "/srv", "/").options ==
              (OptionsSpec::kFollowSymLinks | OptionsSpec::kIndexes));
        CHECK(main.effective(main, "/srv/www/a", "/a").options ==
              (OptionsSpec::kIndexes | OptionsSpec::kSymLinksIfOwnerMatch));
        CHECK(main.effective(main, "/srv/www/private/x", "/x").options == 0);
        CHECK(main.effective(main, "/srv/www/private/open/x", "/x").options == OptionsSpec::kAll);
    }

    TEST_CASE("effective: replaced, appended and per-key values") {
        VirtualHost main;
        main.base.error_documents[404] =
            error_doc(ErrorDocument::Kind::local_url, "/404.html", "m:1");
        main.base.error_documents[500] = error_doc(ErrorDocument::Kind::text, "oops", "m:2");
        main.base.add_types["md"] = {"text/markdown", "m:3"};
        main.base.add_types["x"] = {"application/x-one", "m:4"};
        main.base.handler = Setting<std::string>{"server-status", "m:5"};
        main.base.limit_request_body = Setting<std::uint64_t>{100, "m:6"};
        AccessRule deny;
        deny.any = {requirement(AccessRule::Kind::all_denied)};
        main.base.require = Setting<AccessRule>{deny, "m:7"};
        main.base.headers.push_back({HeaderRule::Action::set, true, "X-A", "1", "m:8"});

        Section loc;
        loc.match = "/sub";
        loc.settings.error_documents[404] =
            error_doc(ErrorDocument::Kind::redirect, "http://x/", "m:9");
        loc.settings.add_types["x"] = {"application/x-two", "m:10"};
        loc.settings.handler = Setting<std::string>{"", "m:11"}; // SetHandler none
        loc.settings.limit_request_body = Setting<std::uint64_t>{0, "m:12"};
        AccessRule grant;
        grant.any = {requirement(AccessRule::Kind::all_granted)};
        loc.settings.require = Setting<AccessRule>{grant, "m:13"};
        loc.settings.headers.push_back({HeaderRule::Action::unset, false, "X-A", "", "m:14"});
        loc.settings.file_etag = Setting<kahttpd::conf::FileETagSpec>{{0}, "m:15"};
        main.locations = {loc};

        const Effective outside = main.effective(main, "/srv/a", "/a");
        CHECK(outside.handler == "server-status");
        CHECK(outside.limit_request_body == 100);
        CHECK_FALSE(outside.require.allows(ip("127.0.0.1"), ip("127.0.0.1")));

        const Effective e = main.effective(main, "/srv/sub/a", "/sub/a");
        REQUIRE(e.error_documents.size() == 2);
        CHECK(e.error_documents.at(404).kind == ErrorDocument::Kind::redirect);
        CHECK(e.error_documents.at(404).target == "http://x/");
        CHECK(e.error_documents.at(500).target == "oops");
        CHECK(e.add_types.at("md") == "text/markdown");
        CHECK(e.add_types.at("x") == "application/x-two");
        CHECK(e.handler.empty());
        CHECK(e.limit_request_body == 0);
        CHECK(e.require.allows(ip("203.0.113.1"), ip("127.0.0.1")));
        REQUIRE(e.headers.size() == 2);
        CHECK(e.headers[0].from == "m:8");
        CHECK(e.headers[1].action == HeaderRule::Action::unset);
        CHECK(e.file_etag.parts == 0);
        CHECK(e.enable_sendfile);
    }

    TEST_CASE("effective: Apache's merge order across every kind of section") {
        // Header rules add up in merge order, so their values show which layers applied, and
        // when. The sections are written out of order on purpose.
        const Config c = kahttpd::conf::test::config_of(R"c(Header add X-O base
<LocationMatch "^/a">
    Header add X-O locationmatch
</LocationMatch>
<Location /a>
    Header add X-O location
</Location>
<FilesMatch "\.html$">
    Header add X-O filesmatch
</FilesMatch>
<Files "*.html">
    Header add X-O files
</Files>
<DirectoryMatch "^/srv/www/a/$">
    Header add X-O directorymatch
</DirectoryMatch>
<Directory /srv/www/a>
    Header add X-O directory-deep
</Directory>
<Directory /srv/www>
    Header add X-O directory
</Directory>
<VirtualHost *:80>
    Header add X-O vhost
    <Files "x.html">
        Header add X-O vhost-files
    </Files>
    <Directory /srv>
        Header add X-O vhost-directory
    </Directory>
</VirtualHost>
)c");
        auto order = [](const Effective& e) {
            Strings out;
            for (const HeaderRule& h : e.headers) {
                out.push_back(h.value);
            }
            return out;
        };
        CHECK(order(c.main.effective(c.main, "/srv/www/a/x.html", "/a/x.html")) ==
              Strings{"base", "directory", "directory-deep", "directorymatch", "filesmatch",
                      "files", "locationmatch", "location"});
        REQUIRE(c.vhosts.size() == 1);
        CHECK(order(c.vhosts[0].effective(c.main, "/srv/www/a/x.html", "/a/x.html")) ==
              Strings{"base", "vhost", "vhost-directory", "directory", "directory-deep",
                      "directorymatch", "filesmatch", "files", "vhost-files", "locationmatch",
                      "location"});
        SUBCASE("a folder has no file name, and its regex sections see it with its slash") {
            CHECK(order(c.main.effective(c.main, "/srv/www/a/", "/a/")) ==
                  Strings{"base", "directory", "directory-deep", "directorymatch", "locationmatch",
                          "location"});
        }
        SUBCASE("a deeper file's folder no longer matches an anchored DirectoryMatch") {
            CHECK(order(c.main.effective(c.main, "/srv/www/a/b/x.txt", "/b/x.txt")) ==
                  Strings{"base", "directory", "directory-deep"});
        }
    }

    TEST_CASE("effective: <Files> takes shell wildcards on the file name only") {
        const Config c = kahttpd::conf::test::config_of(R"c(<Files "*.bak">
    Require all denied
</Files>
<Files "[ab]?.txt">
    Require local
</Files>
)c");
        auto rule = [&](std::string_view fs) {
            const Effective e = c.main.effective(c.main, fs, "/");
            if (e.require.any.empty()) {
                return std::string("none");
            }
            return std::string(e.require.any[0].kind == AccessRule::Kind::all_denied ? "denied"
                                                                                     : "local");
        };
        CHECK(rule("/srv/www/x.bak") == "denied");
        CHECK(rule("/srv/www/dir.bak/x") == "none");
        CHECK(rule("/srv/www/a1.txt") == "local");
        CHECK(rule("/srv/www/c1.txt") == "none");
        CHECK(rule("/srv/www/ab1.txt") == "none");
    }

    TEST_CASE("location_sets_require sees <LocationMatch> too") {
        const Config c = kahttpd::conf::test::config_of(R"c(<LocationMatch "^/status$">
    Require ip 10.0.0.0/8
</LocationMatch>
)c");
        CHECK(c.main.location_sets_require(c.main, "/status"));
        CHECK_FALSE(c.main.location_sets_require(c.main, "/status/x"));
    }

    TEST_CASE("map_url: redirects before aliases, the vhost's before the main server's") {
        const Config c = kahttpd::conf::test::config_of(R"c(Redirect /old /main-new
Alias /icons/ /usr/share/icons/
AliasMatch "^/m/(.*)" "/srv/m/$1"
<VirtualHost *:80>
    Redirect permanent /old /vhost-new
    Alias /icons/ /srv/vhost-icons/
    Redirect gone /icons/gone
</VirtualHost>
)c");
        using Kind = kahttpd::conf::UrlMapping::Kind;
        const VirtualHost& v = c.vhosts.at(0);
        auto m = v.map_url(c.main, "/old/x");
        CHECK(m.kind == Kind::redirect);
        CHECK(m.status == 301);
        CHECK(m.location == "/vhost-new");
        CHECK(m.rest == "/x");
        m = c.main.map_url(c.main, "/old/x");
        CHECK(m.location == "/main-new");
        CHECK(m.status == 302);
        m = v.map_url(c.main, "/icons/gone");
        CHECK(m.kind == Kind::redirect);
        CHECK(m.status == 410);
        m = v.map_url(c.main, "/icons/a.png");
        CHECK(m.kind == Kind::alias);
        CHECK(m.path == "/srv/vhost-icons/a.png");
        CHECK(v.alias_at(c.main, m.alias).root == "/srv/vhost-icons");
        m = v.map_url(c.main, "/m/x/y");
        CHECK(m.kind == Kind::alias);
        CHECK(m.path == "/srv/m/x/y");
        CHECK(v.alias_at(c.main, m.alias).root == "/srv/m");
        m = c.main.map_url(c.main, "/icons/a.png");
        CHECK(m.path == "/usr/share/icons/a.png");
        CHECK(c.main.alias_at(c.main, m.alias).root == "/usr/share/icons");
        CHECK(v.map_url(c.main, "/other").kind == Kind::none);
    }
}
