// The directives beyond the core (ServerName ... GracefulShutdownTimeout): accepted and
// rejected forms, where each may appear, warnings and sources. Sections themselves are in
// sections_parse_test.cpp.
#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"
#include "tests/unit/conf/temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kahttpd::conf::AccessRule;
using kahttpd::conf::Config;
using kahttpd::conf::ConfigError;
using kahttpd::conf::DirSettings;
using kahttpd::conf::ErrorDocument;
using kahttpd::conf::FileETagSpec;
using kahttpd::conf::HeaderRule;
using kahttpd::conf::IpNetwork;
using kahttpd::conf::load_config_text;
using kahttpd::conf::LoadResult;
using kahttpd::conf::OptionsSpec;
using kahttpd::conf::VirtualHost;
using kahttpd::conf::test::TempDir;
using Strings = std::vector<std::string>;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using kahttpd::conf::test::kName;
using kahttpd::conf::test::load;
using kahttpd::conf::test::messages;

namespace {

/// The main server's DirSettings after loading `text` at server level.
DirSettings base_of(const std::string& text) {
    return config_of(text).main.base;
}

/// "FILE:2: Name: " — the start of a message about line 2.
std::string at(const std::string& directive) {
    return kFile + ":2: " + directive + ": ";
}

IpNetwork v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, int prefix) {
    IpNetwork n;
    n.addr[10] = 0xff;
    n.addr[11] = 0xff;
    n.addr[12] = a;
    n.addr[13] = b;
    n.addr[14] = c;
    n.addr[15] = d;
    n.prefix = static_cast<std::uint8_t>(prefix + 96);
    return n;
}

bool same(const IpNetwork& x, const IpNetwork& y) {
    return x.addr == y.addr && x.prefix == y.prefix;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("ServerName takes [scheme://]name[:port] and keeps the name only") {
        for (const auto& [arg, name] :
             std::map<std::string, std::string>{{"www.example.com", "www.example.com"},
                                                {"WWW.Example.COM", "www.example.com"},
                                                {"www.example.com.", "www.example.com"},
                                                {"www.example.com:8080", "www.example.com"},
                                                {"http://www.example.com:80", "www.example.com"},
                                                {"127.0.0.1", "127.0.0.1"},
                                                {"[::1]:8080", "[::1]"},
                                                {"localhost", "localhost"}}) {
            // Named for CAPTURE: clang 14 cannot capture a structured binding (C++20 can).
            const std::string& input = arg;
            CAPTURE(input);
            CHECK(config_of("ServerName " + arg).main.server_name.value == name);
        }
        CHECK(error_of("ServerName *.example.com") ==
              at("ServerName") + "expected a host name without wildcards (use ServerAlias for "
                                 "patterns), found \"*.example.com\"");
        CHECK(error_of("ServerName www.example.com/x") ==
              at("ServerName") + "expected a host name, found \"www.example.com/x\"");
        CHECK(error_of("ServerName a b") == at("ServerName") + "expected one argument, found 2");
    }

    TEST_CASE("ServerAlias is for VirtualHost only and keeps wildcards") {
        const Config c = config_of("<VirtualHost *:80>\n"
                                   "ServerAlias WWW.a.test *.A.test.\n"
                                   "ServerAlias ?.b.test\n"
                                   "</VirtualHost>\n");
        REQUIRE(c.vhosts.size() == 1);
        const auto& aliases = c.vhosts[0].aliases;
        REQUIRE(aliases.size() == 3);
        CHECK(aliases[0].value == "www.a.test");
        CHECK(aliases[1].value == "*.a.test");
        CHECK(aliases[2].value == "?.b.test");
        CHECK(aliases[0].from == kFile + ":3");
        CHECK(aliases[2].from == kFile + ":4");
        CHECK(error_of("ServerAlias www.test") ==
              at("ServerAlias") + "not allowed at server level, only in <VirtualHost>");
        CHECK(error_of("<VirtualHost *>\n<Directory /x>\nServerAlias a\n</Directory>\n"
                       "</VirtualHost>") ==
              kFile + ":4: ServerAlias: not allowed inside <Directory>, only in <VirtualHost>");
        CHECK(error_of("<VirtualHost *>\nServerAlias a/b\n</VirtualHost>") ==
              kFile + ":3: ServerAlias: expected a host name or a pattern with * and ?, found "
                      "\"a/b\"");
        CHECK(error_of("<VirtualHost *>\nServerAlias\n</VirtualHost>") ==
              kFile + ":3: ServerAlias: expected one or more host names, found none");
    }

    TEST_CASE("ServerAdmin takes an address or URL as written") {
        const Config c = config_of("ServerAdmin Webmaster@Example.com");
        CHECK(c.main.server_admin.value == "Webmaster@Example.com");
        CHECK(c.main.server_admin.from == kFile + ":2");
        CHECK(error_of("ServerAdmin \"\"") ==
              at("ServerAdmin") + "expected an e-mail address or a URL, found \"\"");
    }

    TEST_CASE("Options: a plain list replaces, +/- adjust what is inherited") {
        using O = OptionsSpec;
        SUBCASE("plain") {
            const auto o = base_of("Options Indexes followsymlinks").options;
            REQUIRE(o);
            CHECK(o->value.absolute);
            CHECK(o->value.on == (O::kIndexes | O::kFollowSymLinks));
            CHECK(o->from == kFile + ":2");
        }
        SUBCASE("All is the three options, None is none") {
            CHECK(base_of("Options All").options->value.on == O::kAll);
            const auto none = base_of("Options None").options->value;
            CHECK(none.absolute);
            CHECK(none.on == 0);
        }
        SUBCASE("signed") {
            const auto o = base_of("Options +Indexes -FollowSymLinks").options->value;
            CHECK_FALSE(o.absolute);
            CHECK(o.on == O::kIndexes);
            CHECK(o.off == O::kFollowSymLinks);
            CHECK(o.apply(O::kFollowSymLinks | O::kSymLinksIfOwnerMatch) ==
                  (O::kIndexes | O::kSymLinksIfOwnerMatch));
        }
        SUBCASE("later lines in one section apply over earlier ones") {
            const auto a = base_of("Options Indexes\nOptions +FollowSymLinks -Indexes").options;
            CHECK(a->value.absolute);
            CHECK(a->value.on == O::kFollowSymLinks);
            CHECK(a->from == kFile + ":3");
            const auto b =
                base_of("Options +Indexes\nOptions -Indexes +SymLinksIfOwnerMatch").options;
            CHECK_FALSE(b->value.absolute);
            CHECK(b->value.on == O::kSymLinksIfOwnerMatch);
            CHECK(b->value.off == O::kIndexes);
            CHECK(base_of("Options +Indexes\nOptions None").options->value.absolute);
        }
        SUBCASE("mixing signed and plain options is an error, as in Apache 2.4") {
            CHECK(error_of("Options +Indexes FollowSymLinks") ==
                  at("Options") + "expected either every option with + or - or none with them, "
                                  "found \"+Indexes\" and \"FollowSymLinks\"");
        }
        SUBCASE("Apache options kahttpd lacks, and unknown ones") {
            CHECK(error_of("Options ExecCGI") ==
                  at("Options") + "\"ExecCGI\" is not supported by kahttpd");
            CHECK(error_of("Options +MultiViews") ==
                  at("Options") + "\"MultiViews\" is not supported by kahttpd");
            CHECK(error_of("Options Indexs") ==
                  at("Options") + "expected Indexes, FollowSymLinks, SymLinksIfOwnerMatch, All or "
                                  "None, found unknown option \"Indexs\"");
            CHECK(error_of("Options -None") ==
                  at("Options") + "expected None without + or -, found \"-None\"");
            CHECK(error_of("Options") ==
                  at("Options") + "expected one or more options, found none");
        }
    }

    TEST_CASE("Require all, ip and local") {
        using K = AccessRule::Kind;
        SUBCASE("all granted and all denied, in any case") {
            const auto r = base_of("Require all Granted").require;
            REQUIRE(r);
            REQUIRE(r->value.any.size() == 1);
            CHECK(r->value.any[0].kind == K::all_granted);
            CHECK(r->from == kFile + ":2");
            CHECK(base_of("require ALL denied").require->value.any[0].kind == K::all_denied);
        }
        SUBCASE("ip: addresses, CIDR, netmask and partial IPv4 as Apache") {
            const auto r = base_of("Require ip 192.0.2.7 10.0.0.0/8 172.16.0.0/255.240.0.0 10.1 "
                                   "192.168 ::1 2001:db8::/32 10.1.2.3/16")
                               .require->value.any;
            REQUIRE(r.size() == 1);
            CHECK(r[0].kind == K::ip);
            const auto& n = r[0].networks;
            REQUIRE(n.size() == 8);
            CHECK(same(n[0], v4(192, 0, 2, 7, 32)));
            CHECK(same(n[1], v4(10, 0, 0, 0, 8)));
            CHECK(same(n[2], v4(172, 16, 0, 0, 12)));
            CHECK(same(n[3], v4(10, 1, 0, 0, 16)));
            CHECK(same(n[4], v4(192, 168, 0, 0, 16)));
            CHECK(n[5].prefix == 128);
            CHECK(n[5].addr[15] == 1);
            CHECK(n[5].addr[11] == 0);
            CHECK(n[6].prefix == 32);
            CHECK(n[6].addr[0] == 0x20);
            CHECK(n[6].addr[1] == 0x01);
            CHECK(n[6].addr[2] == 0x0d);
            CHECK(n[6].addr[3] == 0xb8);
            // Host bits past the prefix are cleared, as APR does.
            CHECK(same(n[7], v4(10, 1, 0, 0, 16)));
        }
        SUBCASE("local") {
            CHECK(base_of("Require local").require->value.any[0].kind == K::local);
        }
        SUBCASE("several lines in one section accumulate: any of them grants") {
            const auto r = base_of("Require ip 10.0.0.1\nRequire local\n").require;
            REQUIRE(r->value.any.size() == 2);
            CHECK(r->value.any[0].kind == K::ip);
            CHECK(r->value.any[1].kind == K::local);
            CHECK(r->from == kFile + ":3");
        }
        SUBCASE("bad forms") {
            const std::string a = at("Require");
            CHECK(error_of("Require") == a + "expected all, ip or local, found none");
            CHECK(error_of("Require all") ==
                  a + "expected all granted or all denied, found 1 word");
            CHECK(error_of("Require all granted now") ==
                  a + "expected all granted or all denied, found 3 words");
            CHECK(error_of("Require all allowed") ==
                  a + "expected granted or denied after all, found \"allowed\"");
            CHECK(error_of("Require ip") ==
                  a + "expected one or more IP addresses or networks after ip, found none");
            CHECK(error_of("Require local 10.0.0.1") ==
                  a + "expected nothing after local, found \"10.0.0.1\"");
            CHECK(error_of("Require everyone") ==
                  a + "expected all, ip or local, found \"everyone\"");
        }
        SUBCASE("a bad address is named, and nothing of the line is kept") {
            for (const std::string& bad :
                 Strings{"10.0.0.256", "10.0.0.0/33", "10.1/16", "example.com", "::1/129",
                         "10.0.0.0/255.0.255.0", "1.2.3.4.5", "10..1"}) {
                CAPTURE(bad);
                const LoadResult r = load("Require ip 10.0.0.1 " + bad);
                CHECK(messages(r.errors) ==
                      Strings{at("Require") +
                              "expected an IP address, a partial IPv4 address as "
                              "in 10.1 or a network as in 10.0.0.0/8, found \"" +
                              bad + "\""});
                CHECK_FALSE(r.config.main.base.require);
            }
        }
        SUBCASE("Apache's other providers and negation are not supported") {
            for (const std::string& kind :
                 Strings{"not", "host", "user", "valid-user", "group", "env", "method", "expr"}) {
                CAPTURE(kind);
                CHECK(error_of("Require " + kind + " x") ==
                      at("Require") + "\"" + kind +
                          "\" is not supported by kahttpd; kahttpd has Require all, ip and local");
            }
        }
    }

    TEST_CASE("Header set, append, merge, add and unset") {
        using A = HeaderRule::Action;
        SUBCASE("each action, in order, with always and onsuccess") {
            const auto h = base_of("Header set X-Frame-Options DENY\n"
                                   "Header always append Cache-Control \"no-transform, public\"\n"
                                   "Header onsuccess MERGE Vary Accept-Encoding\n"
                                   "header add Set-Cookie a=1\n"
                                   "Header always unset Server\n")
                               .headers;
            REQUIRE(h.size() == 5);
            CHECK(h[0].action == A::set);
            CHECK_FALSE(h[0].always);
            CHECK(h[0].name == "X-Frame-Options");
            CHECK(h[0].value == "DENY");
            CHECK(h[0].from == kFile + ":2");
            CHECK(h[1].action == A::append);
            CHECK(h[1].always);
            CHECK(h[1].value == "no-transform, public");
            CHECK(h[2].action == A::merge);
            CHECK_FALSE(h[2].always);
            CHECK(h[3].action == A::add);
            CHECK(h[3].value == "a=1");
            CHECK(h[4].action == A::unset);
            CHECK(h[4].always);
            CHECK(h[4].value.empty());
            CHECK(h[4].from == kFile + ":6");
        }
        SUBCASE("bad forms") {
            const std::string a = at("Header");
            CHECK(error_of("Header") ==
                  a + "expected set, append, merge, add or unset, found none");
            CHECK(error_of("Header always") ==
                  a + "expected set, append, merge, add or unset, found none");
            CHECK(error_of("Header put X y") ==
                  a + "expected set, append, merge, add or unset, found \"put\"");
            CHECK(error_of("Header set") == a + "expected a header name after set, found none");
            CHECK(error_of("Header set \"X Y\" z") ==
                  a + "expected a header name (letters, digits and !#$%&'*+-.^_`|~), found \"X "
                      "Y\"");
            CHECK(error_of("Header set X-A") ==
                  a + "expected a value after the header name, found none");
            CHECK(error_of("Header unset X-A b") ==
                  a + "expected nothing after the header name, found \"b\"");
            CHECK(error_of("Header set X-A b c") ==
                  a + "expected nothing after the value (quote a value with blanks), found \"c\"");
        }
        SUBCASE("Apache features kahttpd lacks") {
            const std::string a = at("Header");
            for (const std::string& action :
                 Strings{"echo", "edit", "edit*", "setifempty", "note"}) {
                CAPTURE(action);
                CHECK(error_of("Header " + action + " X y z") ==
                      a + "\"" + action +
                          "\" is not supported by kahttpd; kahttpd has set, append, merge, add and "
                          "unset");
            }
            CHECK(error_of("Header set X y env=HTTPS") ==
                  a + "conditions (\"env=HTTPS\") are not supported by kahttpd");
            CHECK(error_of("Header unset X \"expr=%{REQUEST_URI} =~ /x/\"") ==
                  a + "conditions (\"expr=%{REQUEST_URI} =~ /x/\") are not supported by kahttpd");
            CHECK(error_of("Header set X y early") == a + "\"early\" is not supported by kahttpd");
        }
    }

    TEST_CASE("ErrorDocument tells local URLs, redirects and messages apart as Apache 2.4") {
        using K = ErrorDocument::Kind;
        const auto docs = base_of("ErrorDocument 404 /errors/404.html\n"
                                  "ErrorDocument 500 https://status.example.com/\n"
                                  "ErrorDocument 403 \"Go away\"\n"
                                  "ErrorDocument 503 Maintenance\n"
                                  "ErrorDocument 401 \"/ is not for you\"\n"
                                  "ErrorDocument 400 \"/bad.html\"\n")
                              .error_documents;
        REQUIRE(docs.size() == 6);
        CHECK(docs.at(404).value.kind == K::local_url);
        CHECK(docs.at(404).value.target == "/errors/404.html");
        CHECK(docs.at(404).from == kFile + ":2");
        CHECK(docs.at(500).value.kind == K::redirect);
        CHECK(docs.at(500).value.target == "https://status.example.com/");
        CHECK(docs.at(403).value.kind == K::text);
        CHECK(docs.at(403).value.target == "Go away");
        CHECK(docs.at(503).value.kind == K::text);
        CHECK(docs.at(401).value.kind == K::text); // a blank makes it a message
        CHECK(docs.at(400).value.kind == K::local_url);
        SUBCASE("a later line for the same code replaces the earlier one") {
            const auto d = base_of("ErrorDocument 404 /a.html\nErrorDocument 404 /b.html")
                               .error_documents.at(404);
            CHECK(d.value.target == "/b.html");
            CHECK(d.from == kFile + ":3");
        }
        SUBCASE("bad forms") {
            const std::string a = at("ErrorDocument");
            for (const std::string& code : Strings{"399", "600", "200", "4o4", "-404"}) {
                CAPTURE(code);
                CHECK(error_of("ErrorDocument " + code + " /x") ==
                      a + "expected a status code from 400 to 599, found \"" + code + "\"");
            }
            CHECK(error_of("ErrorDocument 404") ==
                  a + "expected a status code and a URL or message, found 1 argument");
            CHECK(error_of("ErrorDocument 404 a b") ==
                  a + "expected a status code and a URL or message, found 3 arguments");
            CHECK(error_of("ErrorDocument 404 \"\"") ==
                  a + "expected a URL path, a full URL or a message, found \"\"");
            CHECK(error_of("ErrorDocument 404 default") ==
                  a + "\"default\" is not supported by kahttpd; remove the ErrorDocument that set "
                      "it instead");
        }
    }

    TEST_CASE("SetHandler takes server-status, default-handler and none") {
        const auto h = base_of("SetHandler Server-Status").handler;
        REQUIRE(h);
        CHECK(h->value == "server-status");
        CHECK(h->from == kFile + ":2");
        CHECK(base_of("SetHandler none").handler->value.empty());
        CHECK(base_of("SetHandler default-handler").handler->value.empty());
        CHECK(error_of("SetHandler cgi-script") ==
              at("SetHandler") + "\"cgi-script\" is not supported by kahttpd");
        CHECK(error_of("SetHandler \"proxy:fcgi://127.0.0.1:9000\"") ==
              at("SetHandler") + "\"proxy:fcgi://127.0.0.1:9000\" is not supported by kahttpd");
        CHECK(error_of("SetHandler status") ==
              at("SetHandler") + "expected server-status, server-health, default-handler or "
                                 "none, found unknown handler \"status\"");
        CHECK(base_of("SetHandler Server-Health").handler->value == "server-health");
    }

    TEST_CASE("AddType maps extensions, with or without a dot, to a media type") {
        const auto t = base_of("AddType Text/Markdown .MD markdown\n"
                               "AddType \"text/html; charset=UTF-8\" .xhtml\n")
                           .add_types;
        REQUIRE(t.size() == 3);
        CHECK(t.at("md").value == "text/markdown");
        CHECK(t.at("markdown").value == "text/markdown");
        CHECK(t.at("md").from == kFile + ":2");
        CHECK(t.at("xhtml").value == "text/html; charset=UTF-8");
        const std::string a = at("AddType");
        CHECK(error_of("AddType text/plain") ==
              a + "expected a media type and one or more extensions, found 1 argument");
        CHECK(error_of("AddType text .txt") ==
              a + "expected a media type as in text/html, found \"text\"");
        CHECK(error_of("AddType \"text/ plain\" .txt") ==
              a + "expected a media type as in text/html, found \"text/ plain\"");
        CHECK(error_of("AddType text/plain .") ==
              a + "expected a file name extension as in .html, found \".\"");
        CHECK(error_of("AddType text/plain a/b") ==
              a + "expected a file name extension as in .html, found \"a/b\"");
    }

    TEST_CASE("ForceType takes a media type, or None for the type by extension") {
        CHECK(base_of("ForceType Text/Plain").force_type->value == "text/plain");
        CHECK(base_of("ForceType \"text/html; charset=utf-8\"").force_type->value ==
              "text/html; charset=utf-8");
        CHECK(base_of("ForceType none").force_type->value.empty());
        CHECK(base_of("ForceType text/plain").force_type->from == kFile + ":2");
        CHECK(error_of("ForceType text") ==
              at("ForceType") + "expected a media type as in text/html, or None, found \"text\"");
        CHECK(error_of("ForceType a/b c/d") == at("ForceType") + "expected one argument, found 2");
    }

    TEST_CASE("AddCharset maps extensions to a charset, kept in lower case as Apache") {
        const auto c = base_of("AddCharset UTF-8 .utf8 U8\n"
                               "AddCharset iso-8859-1 .latin1\n"
                               "AddCharset EUC-JP .utf8\n")
                           .add_charsets;
        REQUIRE(c.size() == 3);
        CHECK(c.at("utf8").value == "euc-jp"); // a later line for the same extension wins
        CHECK(c.at("utf8").from == kFile + ":4");
        CHECK(c.at("u8").value == "utf-8");
        CHECK(c.at("u8").from == kFile + ":2");
        CHECK(c.at("latin1").value == "iso-8859-1");
        const std::string a = at("AddCharset");
        CHECK(error_of("AddCharset utf-8") ==
              a + "expected a charset and one or more extensions, found 1 argument");
        CHECK(error_of("AddCharset") ==
              a + "expected a charset and one or more extensions, found none");
        CHECK(error_of("AddCharset \"utf 8\" .u8") ==
              a + "expected a charset name as in utf-8, found \"utf 8\"");
        CHECK(error_of("AddCharset utf-8 .") ==
              a + "expected a file name extension as in .html, found \".\"");
        CHECK(error_of("AddCharset utf-8 .u8 a/b") ==
              a + "expected a file name extension as in .html, found \"a/b\"");
        // Nothing of a line with an error is kept.
        const LoadResult r = load("AddCharset utf-8 .u8 a/b\n");
        CHECK(r.config.main.base.add_charsets.empty());
    }

    TEST_CASE("AddEncoding maps extensions to a content coding; x-gzip is sent as gzip") {
        const auto e = base_of("AddEncoding x-gzip .gz .TGZ\n"
                               "AddEncoding X-Compress .Z\n"
                               "AddEncoding br br\n"
                               "AddEncoding Deflate .zz\n")
                           .add_encodings;
        REQUIRE(e.size() == 5);
        CHECK(e.at("gz").value == "gzip");
        CHECK(e.at("tgz").value == "gzip");
        CHECK(e.at("gz").from == kFile + ":2");
        CHECK(e.at("z").value == "compress");
        CHECK(e.at("br").value == "br");
        CHECK(e.at("zz").value == "deflate");
        const std::string a = at("AddEncoding");
        CHECK(error_of("AddEncoding gzip") ==
              a + "expected an encoding and one or more extensions, found 1 argument");
        CHECK(error_of("AddEncoding \"gzip, br\" .gz") ==
              a + "expected a content coding as in gzip, found \"gzip, br\"");
        CHECK(error_of("AddEncoding gzip \"g z\"") ==
              a + "expected a file name extension as in .html, found \"g z\"");
    }

    TEST_CASE("AllowEncodedSlashes takes On, Off or NoDecode, in the server and vhosts") {
        using kahttpd::conf::EncodedSlashes;
        const Config c = config_of("AllowEncodedSlashes nodecode\n"
                                   "<VirtualHost *:80>\n"
                                   "AllowEncodedSlashes On\n"
                                   "</VirtualHost>\n"
                                   "<VirtualHost *:80>\n"
                                   "ServerName b.test\n"
                                   "</VirtualHost>\n");
        REQUIRE(c.main.allow_encoded_slashes);
        CHECK(c.main.allow_encoded_slashes->value == EncodedSlashes::no_decode);
        CHECK(c.main.allow_encoded_slashes->from == kFile + ":2");
        REQUIRE(c.vhosts.size() == 2);
        CHECK(c.vhosts[0].encoded_slashes(c.main) == EncodedSlashes::on);
        CHECK(c.vhosts[1].encoded_slashes(c.main) == EncodedSlashes::no_decode); // inherited
        const Config none = config_of("");
        CHECK(!none.main.allow_encoded_slashes);
        CHECK(none.main.encoded_slashes(none.main) == EncodedSlashes::off); // Apache's default
        CHECK(config_of("AllowEncodedSlashes OFF").main.allow_encoded_slashes->value ==
              EncodedSlashes::off);
        const std::string a = at("AllowEncodedSlashes");
        CHECK(error_of("AllowEncodedSlashes yes") ==
              a + "expected On, Off or NoDecode, found \"yes\"");
        CHECK(error_of("AllowEncodedSlashes On Off") == a + "expected one argument, found 2");
        CHECK(error_of("<Directory /srv>\nAllowEncodedSlashes On\n</Directory>") ==
              kFile + ":3: AllowEncodedSlashes: not allowed inside <Directory>, only at server "
                      "level or in <VirtualHost>");
    }

    TEST_CASE("AddDefaultCharset takes On (iso-8859-1, as Apache), Off or a name") {
        CHECK(base_of("AddDefaultCharset On").default_charset->value == "iso-8859-1");
        CHECK(base_of("AddDefaultCharset off").default_charset->value.empty());
        CHECK(base_of("AddDefaultCharset UTF-8").default_charset->value == "UTF-8");
        CHECK(base_of("AddDefaultCharset utf-8").default_charset->from == kFile + ":2");
        CHECK(error_of("AddDefaultCharset \"utf 8\"") ==
              at("AddDefaultCharset") + "expected On, Off or a charset name, found \"utf 8\"");
    }

    TEST_CASE("FileETag takes parts, All, None, or +/- changes to the default") {
        using F = FileETagSpec;
        const auto parts = [](const std::string& args) {
            return base_of("FileETag " + args).file_etag->value.parts;
        };
        CHECK(parts("INode MTime Size") == (F::kINode | F::kMTime | F::kSize));
        CHECK(parts("size") == F::kSize);
        CHECK(parts("All") == (F::kINode | F::kMTime | F::kSize));
        CHECK(parts("None") == 0);
        CHECK(parts("-MTime") == F::kSize);
        CHECK(parts("+INode") == (F::kINode | F::kMTime | F::kSize));
        CHECK(parts("+INode -Size") == (F::kINode | F::kMTime));
        CHECK(base_of("FileETag None").file_etag->from == kFile + ":2");
        const std::string a = at("FileETag");
        CHECK(error_of("FileETag") == a + "expected INode, MTime, Size, All or None, found none");
        CHECK(error_of("FileETag Inodes") ==
              a + "expected INode, MTime, Size, All or None, found \"Inodes\"");
        CHECK(error_of("FileETag +INode Size") ==
              a + "expected either every part with + or - or none with them, found \"+INode\" and "
                  "\"Size\"");
        CHECK(error_of("FileETag All Size") ==
              a + "expected All alone, found \"All\" with other parts");
        CHECK(error_of("FileETag -None") ==
              a + "expected None alone, found \"-None\" with other parts");
        CHECK(error_of("FileETag Digest") == a + "\"Digest\" is not supported by kahttpd");
    }

    TEST_CASE("EnableSendfile takes On or Off in any case") {
        CHECK(base_of("EnableSendfile OFF").enable_sendfile->value == false);
        CHECK(base_of("EnableSendfile on").enable_sendfile->value == true);
        CHECK(base_of("EnableSendfile on").enable_sendfile->from == kFile + ":2");
        CHECK(error_of("EnableSendfile yes") ==
              at("EnableSendfile") + "expected On or Off, found \"yes\"");
    }

    TEST_CASE("TCP keepalive directives: defaults, values and ranges") {
        const Config d = config_of("");
        CHECK_FALSE(d.tcp_keepalive);
        CHECK(d.tcp_keepalive_idle.count() == 7200);
        CHECK(d.tcp_keepalive_interval.count() == 75);
        CHECK(d.tcp_keepalive_count == 9);
        CHECK(d.tcp_user_timeout.count() == 0);
        const Config c = config_of("TCPKeepAlive on\nTCPKeepAliveIdle 60\nTCPKeepAliveInterval 5\n"
                                   "TCPKeepAliveCount 4\nTCPUserTimeout 1500ms\n");
        CHECK(c.tcp_keepalive);
        CHECK(c.tcp_keepalive_idle.count() == 60);
        CHECK(c.tcp_keepalive_interval.count() == 5);
        CHECK(c.tcp_keepalive_count == 4);
        CHECK(c.tcp_user_timeout.count() == 1500);
        CHECK(error_of("TCPKeepAliveIdle 0").find("expected an integer from 1 to 32767") !=
              std::string::npos);
        CHECK(error_of("TCPKeepAliveCount 500").find("expected an integer from 1 to 127") !=
              std::string::npos);
        CHECK(error_of("TCPKeepAlive maybe") ==
              at("TCPKeepAlive") + "expected On or Off, found \"maybe\"");
        CHECK(error_of("TCPUserTimeout soon").find("TCPUserTimeout: expected 0") !=
              std::string::npos);
    }

    TEST_CASE("PrecompressedFiles takes On or Off; MaxRanges takes a count") {
        CHECK(base_of("PrecompressedFiles off").precompressed_files->value == false);
        CHECK(base_of("PrecompressedFiles On").precompressed_files->from == kFile + ":2");
        CHECK(error_of("PrecompressedFiles maybe") ==
              at("PrecompressedFiles") + "expected On or Off, found \"maybe\"");
        CHECK(base_of("MaxRanges 0").max_ranges->value == 0);
        CHECK(base_of("MaxRanges 20").max_ranges->value == 20);
        CHECK(error_of("MaxRanges none").find("expected an integer from 0 to 65535") !=
              std::string::npos);
    }

    TEST_CASE("LimitRequestBody and DirectoryIndex at server level also fill the old fields") {
        const Config c = config_of("LimitRequestBody 1000\n"
                                   "DirectoryIndex a.html\n"
                                   "<VirtualHost *>\n"
                                   "LimitRequestBody 5\n"
                                   "DirectoryIndex v.html\n"
                                   "</VirtualHost>\n");
        CHECK(c.limit_request_body == 1000);
        CHECK(c.main.base.limit_request_body->value == 1000);
        CHECK(c.main.base.limit_request_body->from == kFile + ":2");
        CHECK(c.directory_index == Strings{"a.html"});
        CHECK(c.main.base.directory_index->value == Strings{"a.html"});
        CHECK(c.vhosts[0].base.limit_request_body->value == 5);
        CHECK(c.vhosts[0].base.directory_index->value == Strings{"v.html"});
        SUBCASE("set only in a vhost, the old fields keep their defaults") {
            const Config v = config_of("<VirtualHost *>\nLimitRequestBody 5\n</VirtualHost>\n");
            CHECK(v.limit_request_body == 1073741824);
            CHECK(v.directory_index == Strings{"index.html"});
        }
    }

    TEST_CASE("ServerTokens takes Apache's names, long and short") {
        using T = Config::ServerTokens;
        for (const auto& [arg, value] : std::map<std::string, T>{{"Prod", T::prod},
                                                                 {"ProductOnly", T::prod},
                                                                 {"major", T::major},
                                                                 {"Minor", T::minor},
                                                                 {"Min", T::min},
                                                                 {"Minimal", T::min},
                                                                 {"OS", T::os},
                                                                 {"FULL", T::full}}) {
            // Named for CAPTURE: clang 14 cannot capture a structured binding (C++20 can).
            const std::string& input = arg;
            CAPTURE(input);
            CHECK(config_of("ServerTokens " + arg).server_tokens == value);
        }
        CHECK(error_of("ServerTokens None") ==
              at("ServerTokens") + "expected Prod, Major, Minor, Min, OS or Full, found \"None\"");
    }

    TEST_CASE("ServerSignature takes On, Off or EMail") {
        using S = Config::ServerSignature;
        CHECK(config_of("ServerSignature On").server_signature == S::on);
        CHECK(config_of("ServerSignature email").server_signature == S::email);
        CHECK(config_of("ServerSignature On\nServerSignature off").server_signature == S::off);
        CHECK(error_of("ServerSignature yes") ==
              at("ServerSignature") + "expected On, Off or EMail, found \"yes\"");
    }

    TEST_CASE("PidFile and ErrorLog resolve against ServerRoot") {
        CHECK(config_of("PidFile logs/httpd.pid").pid_file == "/srv/site/logs/httpd.pid");
        CHECK(config_of("PidFile /run/kahttpd.pid").pid_file == "/run/kahttpd.pid");
        CHECK(config_of("ErrorLog logs/error_log").error_log == "/srv/site/logs/error_log");
        CHECK(config_of("ErrorLog /dev/stderr").error_log == "/dev/stderr");
        CHECK(error_of("PidFile \"\"") == at("PidFile") + "expected a file, found \"\"");
        CHECK(error_of("ErrorLog \"|/usr/bin/rotatelogs /var/log/e 86400\"") ==
              at("ErrorLog") + "piped logs (\"|/usr/bin/rotatelogs /var/log/e 86400\") are not "
                               "supported by kahttpd");
        CHECK(error_of("ErrorLog syslog:local7") ==
              at("ErrorLog") +
                  "\"syslog:local7\" is not supported by kahttpd; give a file, or /dev/stderr");
        CHECK(error_of("ErrorLog syslog") ==
              at("ErrorLog") +
                  "\"syslog\" is not supported by kahttpd; give a file, or /dev/stderr");
    }

    TEST_CASE("LogLevel takes one level from emerg to debug") {
        using L = Config::LogLevel;
        const Strings names{"emerg", "alert", "crit", "error", "warn", "notice", "info", "DEBUG"};
        for (std::size_t i = 0; i < names.size(); ++i) {
            CAPTURE(names[i]);
            CHECK(config_of("LogLevel " + names[i]).log_level == static_cast<L>(i));
        }
        const std::string a = at("LogLevel");
        CHECK(error_of("LogLevel trace3") ==
              a + "\"trace3\" is not supported by kahttpd; debug is the most detailed level");
        CHECK(error_of("LogLevel core:info") ==
              a + "per-module levels (\"core:info\") are not supported by kahttpd");
        CHECK(error_of("LogLevel verbose") ==
              a + "expected emerg, alert, crit, error, warn, notice, info or debug, found "
                  "\"verbose\"");
        CHECK(error_of("LogLevel info debug") == a + "expected one level, found \"debug\" as well");
        CHECK(error_of("LogLevel") == a + "expected a level from emerg to debug, found none");
        SUBCASE("a level with a bad per-module part is not applied") {
            const LoadResult r = load("LogLevel info ssl:warn");
            CHECK(r.errors.size() == 1);
            CHECK(r.config.log_level == L::warn);
        }
    }

    TEST_CASE("LogFormat defines nicknames; CustomLog resolves them when it is read") {
        SUBCASE("formats, nicknames and the default") {
            const Config c = config_of("LogFormat \"%h %>s\" short\n"
                                       "LogFormat \"%h %r\"\n"
                                       "CustomLog logs/access_log short\n"
                                       "CustomLog /dev/stdout combined\n"
                                       "CustomLog \"/var/log/a b.log\" \"%t %r\"\n"
                                       "CustomLog logs/json.log json\n"
                                       "LogFormat short\n");
            CHECK(c.log_formats.at("short") == "%h %>s");
            // `LogFormat nickname` makes that format the default (nickname "").
            CHECK(c.log_formats.at("") == "%h %>s");
            REQUIRE(c.custom_logs.size() == 4);
            CHECK(c.custom_logs[0].target == "/srv/site/logs/access_log");
            CHECK(c.custom_logs[0].format == "%h %>s");
            CHECK(c.custom_logs[0].from == kFile + ":4");
            CHECK(c.custom_logs[1].target == "/dev/stdout");
            CHECK(c.custom_logs[1].format == c.log_formats.at("combined"));
            CHECK(c.custom_logs[2].target == "/var/log/a b.log");
            CHECK(c.custom_logs[2].format == "%t %r");
            CHECK(c.custom_logs[3].format == "json");
        }
        SUBCASE("bad forms") {
            const std::string f = at("LogFormat");
            const std::string l = at("CustomLog");
            CHECK(error_of("LogFormat") ==
                  f + "expected a format string and an optional nickname, found none");
            CHECK(error_of("LogFormat a b c") ==
                  f + "expected a format string and an optional nickname, found 3 arguments");
            CHECK(error_of("LogFormat \"\" x") == f + "expected a format string, found \"\"");
            CHECK(error_of("LogFormat nosuch") ==
                  f + "expected a format string or a nickname defined before, found \"nosuch\"");
            CHECK(error_of("CustomLog logs/a") ==
                  l + "expected a file and a format or nickname, found 1 argument");
            CHECK(error_of("CustomLog logs/a short") ==
                  l + "expected a format string, json or a nickname defined by LogFormat before "
                      "this line, found \"short\"");
            CHECK(error_of("CustomLog \"|/usr/bin/logger\" common") ==
                  l + "piped logs (\"|/usr/bin/logger\") are not supported by kahttpd");
            CHECK(error_of("CustomLog logs/a common env=!dontlog") ==
                  l + "conditions (\"env=!dontlog\") are not supported by kahttpd");
            CHECK(error_of("CustomLog logs/a common x y") ==
                  l + "expected a file and a format or nickname, found 4 arguments");
        }
        SUBCASE("a nickname defined after the CustomLog is too late") {
            CHECK(error_of("CustomLog logs/a late\nLogFormat \"%h\" late")
                      .find("nickname defined by LogFormat before this line") != std::string::npos);
        }
    }

    TEST_CASE("a VirtualHost gets its own CustomLog, ErrorLog and LogLevel") {
        const Config c = config_of("LogFormat \"%v %>s\" short\n"
                                   "CustomLog logs/main.log common\n"
                                   "ErrorLog logs/main_error.log\n"
                                   "<VirtualHost *:8080>\n"
                                   "  ServerName a.test\n"
                                   "  CustomLog logs/a.log short\n"
                                   "  CustomLog logs/a.json json\n"
                                   "  ErrorLog logs/a_error.log\n"
                                   "  LogLevel info\n"
                                   "</VirtualHost>\n"
                                   "<VirtualHost *:8080>\n"
                                   "  ServerName b.test\n"
                                   "</VirtualHost>\n"
                                   "LogLevel error\n");
        // The main server's stay the Config's, untouched by the vhost's lines.
        REQUIRE(c.custom_logs.size() == 1);
        CHECK(c.custom_logs[0].target == "/srv/site/logs/main.log");
        CHECK(c.error_log == "/srv/site/logs/main_error.log");
        CHECK(c.log_level == Config::LogLevel::error);
        REQUIRE(c.vhosts.size() == 2);
        const VirtualHost& a = c.vhosts[0];
        REQUIRE(a.custom_logs.size() == 2);
        CHECK(a.custom_logs[0].target == "/srv/site/logs/a.log");
        CHECK(a.custom_logs[0].format == "%v %>s"); // a nickname from server level: global
        CHECK(a.custom_logs[0].from == kFile + ":7");
        CHECK(a.custom_logs[1].format == "json");
        CHECK(a.error_log.value == "/srv/site/logs/a_error.log");
        CHECK(a.error_log.from == kFile + ":9");
        REQUIRE(a.log_level);
        CHECK(a.log_level->value == Config::LogLevel::info);
        CHECK(a.log_level->from == kFile + ":10");
        // Nothing set: the main server's apply (the server resolves them).
        const VirtualHost& b = c.vhosts[1];
        CHECK(b.custom_logs.empty());
        CHECK(b.error_log.value.empty());
        CHECK_FALSE(b.log_level);
        // The server-level sources are the main server's lines only.
        CHECK(c.sources.at("ErrorLog") == kFile + ":4");
        CHECK(c.sources.at("LogLevel") == kFile + ":15");
    }

    TEST_CASE("a VirtualHost's logs are checked as the main server's") {
        const std::string v = "<VirtualHost *>\n";
        CHECK(error_of(v + "CustomLog \"|/usr/bin/logger\" common\n</VirtualHost>") ==
              kFile + ":3: CustomLog: piped logs (\"|/usr/bin/logger\") are not supported by "
                      "kahttpd");
        CHECK(error_of(v + "ErrorLog syslog\n</VirtualHost>") ==
              kFile + ":3: ErrorLog: \"syslog\" is not supported by kahttpd; give a file, or "
                      "/dev/stderr");
        CHECK(error_of(v + "CustomLog a.log nosuch\n</VirtualHost>") ==
              kFile + ":3: CustomLog: expected a format string, json or a nickname defined by "
                      "LogFormat before this line, found \"nosuch\"");
        CHECK(error_of(v + "LogLevel trace2\n</VirtualHost>") ==
              kFile + ":3: LogLevel: \"trace2\" is not supported by kahttpd; debug is the most "
                      "detailed level");
        // LogFormat nicknames are global: defined at server level only.
        CHECK(error_of(v + "LogFormat \"%h\" mine\n</VirtualHost>") ==
              kFile + ":3: LogFormat: not allowed inside <VirtualHost>, only at server level");
    }

    TEST_CASE("MaxConnections takes 0 (unlimited) to 1000000") {
        CHECK(config_of("MaxConnections 0").max_connections == 0);
        CHECK(config_of("MaxConnections 1000000").max_connections == 1000000);
        CHECK(error_of("MaxConnections 1000001") ==
              at("MaxConnections") + "expected an integer from 0 to 1000000, found \"1000001\"");
    }

    TEST_CASE("GracefulShutdownTimeout takes 0 (close at once) to 1h") {
        CHECK(config_of("GracefulShutdownTimeout 0").graceful_shutdown_timeout == 0ms);
        CHECK(config_of("GracefulShutdownTimeout 30").graceful_shutdown_timeout == 30s);
        CHECK(config_of("GracefulShutdownTimeout 250ms").graceful_shutdown_timeout == 250ms);
        CHECK(config_of("GracefulShutdownTimeout 3600").graceful_shutdown_timeout == 1h);
        const std::string a = at("GracefulShutdownTimeout");
        CHECK(error_of("GracefulShutdownTimeout 3601") ==
              a + "expected 0 (close at once) or a duration up to 1h, found \"3601\"");
        CHECK(error_of("GracefulShutdownTimeout soon") ==
              a + "expected a duration (30, 30s, 500ms, 5m, 1h), found \"soon\"");
    }

    TEST_CASE("GracefulShutdownDelay takes 0 (no delay, the default) to 1h") {
        CHECK(Config{}.graceful_shutdown_delay == 0ms);
        CHECK(config_of("GracefulShutdownDelay 0").graceful_shutdown_delay == 0ms);
        CHECK(config_of("GracefulShutdownDelay 5").graceful_shutdown_delay == 5s);
        CHECK(config_of("GracefulShutdownDelay 300ms").graceful_shutdown_delay == 300ms);
        const std::string a = at("GracefulShutdownDelay");
        CHECK(error_of("GracefulShutdownDelay 3601") ==
              a + "expected 0 (no delay) or a duration up to 1h, found \"3601\"");
        CHECK(error_of("GracefulShutdownDelay later") ==
              a + "expected 0 (no delay) or a duration up to 1h, found \"later\"");
    }

    TEST_CASE("FileCacheSize takes bytes with K, M or G, 0 to 64G") {
        CHECK(Config{}.file_cache_size == 16u << 20);
        CHECK(config_of("FileCacheSize 0").file_cache_size == 0);
        CHECK(config_of("FileCacheSize 4096").file_cache_size == 4096);
        CHECK(config_of("FileCacheSize 512k").file_cache_size == 512u << 10);
        CHECK(config_of("FileCacheSize 64M").file_cache_size == 64u << 20);
        CHECK(config_of("FileCacheSize 64G").file_cache_size == 64ull << 30);
        const std::string expected =
            "expected 0 (no cache) or bytes with an optional K, M or G suffix, up to 64G, found ";
        const std::string a = at("FileCacheSize");
        CHECK(error_of("FileCacheSize 65G") == a + expected + "\"65G\"");
        CHECK(error_of("FileCacheSize 1T") == a + expected + "\"1T\"");
        CHECK(error_of("FileCacheSize M") == a + expected + "\"M\"");
        CHECK(error_of("FileCacheSize -1") == a + expected + "\"-1\"");
        CHECK(error_of("FileCacheSize") == a + "expected one argument, found none");
        CHECK(config_of("FileCacheSize 1M").sources.at("FileCacheSize") == kFile + ":2");
    }

    TEST_CASE("FileCacheEntries takes 1 to 1000000") {
        CHECK(Config{}.file_cache_entries == 4096);
        CHECK(config_of("FileCacheEntries 1").file_cache_entries == 1);
        CHECK(error_of("FileCacheEntries 0") ==
              at("FileCacheEntries") + "expected an integer from 1 to 1000000, found \"0\"");
    }

    TEST_CASE("FileCacheValid takes 0 (every request) to 1h") {
        CHECK(Config{}.file_cache_valid == 1s);
        CHECK(config_of("FileCacheValid 0").file_cache_valid == 0ms);
        CHECK(config_of("FileCacheValid 250ms").file_cache_valid == 250ms);
        CHECK(config_of("FileCacheValid 3600").file_cache_valid == 1h);
        const std::string a = at("FileCacheValid");
        CHECK(error_of("FileCacheValid 3601") ==
              a + "expected 0 (check on every request) or a duration (30, 30s, 500ms, 5m, 1h) up to 1h, found "
                  "\"3601\"");
        CHECK(error_of("<Directory /x>\nFileCacheValid 1\n</Directory>")
                  .find("FileCacheValid: not allowed inside <Directory>") != std::string::npos);
    }

    TEST_CASE("Define and UnDefine") {
        const Config c = config_of("Define A\nDefine B \"two words\"\nDefine C 3\nUnDefine C\n");
        CHECK(c.defines == std::map<std::string, std::string>{{"A", ""}, {"B", "two words"}});
        CHECK(c.sources.at("Define") == kFile + ":4");
        CHECK(error_of("Define") ==
              at("Define") + "expected a name and an optional value, found none");
        CHECK(error_of("Define a b c") ==
              at("Define") + "expected a name and an optional value, found 3 arguments");
        CHECK(error_of("Define env:X 1") ==
              at("Define") + "expected a name without \":\", \"$\", braces or blanks, found "
                             "\"env:X\"");
        CHECK(error_of("UnDefine") == at("UnDefine") + "expected one argument, found none");
    }

    TEST_CASE("LoadModule is accepted with a warning on each line") {
        const LoadResult r = load("LoadModule mime_module modules/mod_mime.so\n"
                                  "LoadModule headers_module modules/mod_headers.so\n");
        CHECK(r.errors.empty());
        CHECK(messages(r.warnings) ==
              Strings{kFile + ":2: LoadModule: modules are built into kahttpd; LoadModule is "
                              "ignored",
                      kFile + ":3: LoadModule: modules are built into kahttpd; LoadModule is "
                              "ignored"});
        CHECK(error_of("LoadModule mime_module") ==
              at("LoadModule") + "expected a module name and a file, found 1 argument");
    }

    TEST_CASE("NameVirtualHost is accepted with a warning, as Apache 2.4 does") {
        const LoadResult r = load("NameVirtualHost *:80\n");
        CHECK(r.errors.empty());
        CHECK(messages(r.warnings) ==
              Strings{at("NameVirtualHost") + "has no effect: every <VirtualHost> is name-based, "
                                              "as in Apache 2.4; NameVirtualHost is ignored"});
    }

    TEST_CASE("AllowOverride None is accepted, anything else is not") {
        CHECK(load("<Directory />\nAllowOverride none\nAllowOverrideList None\n</Directory>\n")
                  .errors.empty());
        CHECK(error_of("AllowOverride All") ==
              at("AllowOverride") + "\"All\" is not supported by kahttpd; kahttpd reads no "
                                    ".htaccess files, so only None is accepted");
        CHECK(error_of("AllowOverride None FileInfo") ==
              at("AllowOverride") + "\"FileInfo\" is not supported by kahttpd; kahttpd reads no "
                                    ".htaccess files, so only None is accepted");
    }

    TEST_CASE("Apache lines that only turn off what kahttpd never does load with a warning") {
        const LoadResult r = load("TraceEnable Off\nhostnamelookups off\nEnableMMAP Off\n"
                                  "UseCanonicalName Off\n");
        CHECK(r.errors.empty());
        CHECK(messages(r.warnings) ==
              Strings{at("TraceEnable") + "accepted and ignored: kahttpd answers TRACE with 405 "
                                          "anyway",
                      kFile + ":3: hostnamelookups: accepted and ignored: kahttpd never "
                              "resolves client addresses",
                      kFile + ":4: EnableMMAP: accepted and ignored: kahttpd never maps files "
                              "into memory",
                      kFile + ":5: UseCanonicalName: accepted and ignored: kahttpd never "
                              "builds a URL from ServerName"});
        // Turning the feature on is a promise kahttpd cannot keep: still an error.
        CHECK(error_of("HostnameLookups On")
                  .starts_with(at("HostnameLookups") + "not supported by kahttpd"));
        CHECK(error_of("TraceEnable On").starts_with(at("TraceEnable") + "not supported"));
    }

    TEST_CASE("Apache directives kahttpd lacks are unsupported, not unknown") {
        SUBCASE("plain") {
            for (const std::string& name : Strings{
                     "RewriteEngine",     "RewriteRule",     "ProxyPass",       "DeflateWindowSize",
                     "AddHandler",        "AddLanguage",     "IndexOptions",    "DirectorySlash",
                     "FallbackResource",  "ScriptAlias",     "HostnameLookups", "UseCanonicalName",
                     "MaxRequestWorkers", "ThreadsPerChild", "StartServers",    "TransferLog",
                     "SetEnvIf",          "RequestHeader",   "php_value",       "rewriteengine"}) {
                CAPTURE(name);
                CHECK(error_of(name + " x").starts_with(at(name) + "not supported by kahttpd"));
            }
            CHECK(error_of("RewriteEngine On") == at("RewriteEngine") + "not supported by kahttpd");
        }
        SUBCASE("with a hint where there is something to use instead") {
            CHECK(error_of("Order allow,deny") ==
                  at("Order") + "not supported by kahttpd; use Require all granted|denied, "
                                "Require ip or Require local");
            CHECK(error_of("Deny from all")
                      .starts_with(at("Deny") + "not supported by kahttpd; use Require"));
            CHECK(error_of("SSLCompression on") ==
                  at("SSLCompression") +
                      "not supported by kahttpd; kahttpd's TLS takes SSLEngine, "
                      "SSLCertificateFile, SSLCertificateKeyFile, SSLProtocol, SSLCipherSuite, "
                      "SSLHonorCipherOrder, SSLSessionTickets and SSLSessionCacheTimeout");
            // User and Group are implemented (conf/directives/process.cpp): a name this system
            // lacks is the error, not the directive.
            CHECK(error_of("User no-such-user-kahttpd") ==
                  at("User") + "expected a user name of this system or #uid, found "
                               "\"no-such-user-kahttpd\"");
            CHECK(error_of("ScriptAlias /cgi-bin/ /x/") ==
                  at("ScriptAlias") + "not supported by kahttpd; kahttpd serves static files only");
        }
        SUBCASE("they are never suggested for a typo, and a typo of ours still is") {
            CHECK(error_of("ServerNmae x") ==
                  at("ServerNmae") + "unknown directive, did you mean ServerName?");
            CHECK(error_of("Optoins None") ==
                  at("Optoins") + "unknown directive, did you mean Options?");
            CHECK(error_of("ErrorDocumnet 404 /x") ==
                  at("ErrorDocumnet") + "unknown directive, did you mean ErrorDocument?");
        }
    }

    TEST_CASE("server-wide directives are refused inside sections") {
        const Strings server_wide{"ServerRoot /",
                                  "Listen 81",
                                  "KeepAlive On",
                                  "KeepAliveTimeout 5",
                                  "MaxKeepAliveRequests 100",
                                  "Timeout 60",
                                  "RequestReadTimeout header=5",
                                  "LimitRequestLine 100",
                                  "LimitRequestFieldSize 100",
                                  "LimitRequestFields 10",
                                  "TypesConfig /etc/mime.types",
                                  "Workers 2",
                                  "ServerTokens Prod",
                                  "PidFile x.pid",
                                  "LogFormat %h x",
                                  "MaxConnections 5",
                                  "GracefulShutdownTimeout 5",
                                  "LoadModule a b",
                                  "ServerSignature On"};
        for (const std::string& line : server_wide) {
            const std::string name = line.substr(0, line.find(' '));
            CAPTURE(name);
            CHECK(error_of("<VirtualHost *:80>\n" + line + "\n</VirtualHost>") ==
                  kFile + ":3: " + name +
                      ": not allowed inside <VirtualHost>, only at server level");
            CHECK(error_of("<Directory /srv>\n" + line + "\n</Directory>") ==
                  kFile + ":3: " + name + ": not allowed inside <Directory>, only at server level");
            CHECK(error_of("<VirtualHost *>\n<Location />\n" + line +
                           "\n</Location>\n</VirtualHost>") ==
                  kFile + ":4: " + name + ": not allowed inside <Location>, only at server level");
        }
        SUBCASE("and conditions do not hide the section they are in") {
            CHECK(error_of("<VirtualHost *>\n<IfModule mod_mime.c>\nListen 81\n</IfModule>\n"
                           "</VirtualHost>") ==
                  kFile + ":4: Listen: not allowed inside <VirtualHost>, only at server level");
        }
    }

    TEST_CASE("vhost-level directives are refused inside Directory and Location") {
        for (const std::string& line :
             Strings{"ServerName a.test", "ServerAdmin a@b", "DocumentRoot /srv", "ErrorLog e.log",
                     "LogLevel info", "CustomLog a.log common"}) {
            const std::string name = line.substr(0, line.find(' '));
            CAPTURE(name);
            CHECK(error_of("<Location /x>\n" + line + "\n</Location>") ==
                  kFile + ":3: " + name +
                      ": not allowed inside <Location>, only at server level or in <VirtualHost>");
            CHECK(load("<VirtualHost *>\n" + line + "\n</VirtualHost>").errors.empty());
        }
    }

    TEST_CASE("directory-level directives go to the innermost section") {
        const Strings lines{"Options Indexes",      "DirectoryIndex a.html", "Header set X y",
                            "ErrorDocument 404 /x", "Require all denied",    "SetHandler none",
                            "AddType text/x .x",    "AddDefaultCharset Off", "FileETag None",
                            "EnableSendfile Off",   "LimitRequestBody 9"};
        std::string body;
        for (const std::string& line : lines) {
            body += line + "\n";
        }
        const Config c = config_of(
            body + "<Directory /d>\n" + body + "</Directory>\n" + "<Location /l>\n" + body +
            "</Location>\n" + "<VirtualHost *>\n" + body + "<Directory /d>\n" + body +
            "</Directory>\n<Location /l>\n" + body + "</Location>\n</VirtualHost>\n");
        const auto check = [&](const DirSettings& s, int first_line) {
            CAPTURE(first_line);
            CHECK(s.options->from == kFile + ":" + std::to_string(first_line));
            CHECK(s.directory_index->value == Strings{"a.html"});
            CHECK(s.headers.size() == 1);
            CHECK(s.error_documents.size() == 1);
            CHECK(s.require->value.any.size() == 1);
            CHECK(s.handler);
            CHECK(s.add_types.size() == 1);
            CHECK(s.default_charset);
            CHECK(s.file_etag);
            CHECK(s.enable_sendfile);
            CHECK(s.limit_request_body->from == kFile + ":" + std::to_string(first_line + 10));
        };
        const int n = static_cast<int>(lines.size());
        check(c.main.base, 2);
        REQUIRE(c.main.directories.size() == 1);
        check(c.main.directories[0].settings, 2 + n + 1);
        REQUIRE(c.main.locations.size() == 1);
        check(c.main.locations[0].settings, 2 + 2 * n + 3);
        REQUIRE(c.vhosts.size() == 1);
        check(c.vhosts[0].base, 2 + 3 * n + 5);
        check(c.vhosts[0].directories[0].settings, 2 + 4 * n + 6);
        check(c.vhosts[0].locations[0].settings, 2 + 5 * n + 8);
    }

    TEST_CASE("sources name where each server-level directive was set") {
        const Config c = config_of("KeepAliveTimeout 7\n"
                                   "ServerTokens Prod\n"
                                   "ServerTokens Min\n"
                                   "LimitRequestBody 10\n"
                                   "ServerName main.test\n"
                                   "LoadModule a b\n"
                                   "<VirtualHost *>\n"
                                   "ServerName v.test\n"
                                   "Define D 1\n"
                                   "</VirtualHost>\n"
                                   "listen 81\n");
        CHECK(c.sources == std::map<std::string, std::string>{
                               {"Listen", kFile + ":12"},
                               {"KeepAliveTimeout", kFile + ":2"},
                               {"ServerTokens", kFile + ":4"},
                               {"LimitRequestBody", kFile + ":5"},
                               {"ServerName", kFile + ":6"},
                               {"Define", kFile + ":10"},
                           });
    }

    TEST_CASE("sources skip a directive that failed") {
        const LoadResult r = load("Timeout oops\n");
        CHECK_FALSE(r.config.sources.contains("Timeout"));
    }

    TEST_CASE("MaxKeepAliveRequests from 1 to 99 draws a warning") {
        for (const std::string& n : Strings{"1", "50", "99"}) {
            CAPTURE(n);
            const LoadResult r = load("MaxKeepAliveRequests " + n);
            CHECK(r.errors.empty());
            CHECK(messages(r.warnings) == Strings{at("MaxKeepAliveRequests") +
                                                  "expected 0 (unlimited) or at least 100, "
                                                  "found " +
                                                  n + "; pages with many assets pay reconnects"});
        }
        for (const std::string& n : Strings{"0", "100", "1000"}) {
            CAPTURE(n);
            CHECK(load("MaxKeepAliveRequests " + n).warnings.empty());
        }
    }

    TEST_CASE("KeepAliveTimeout longer than RequestReadTimeout header= draws a warning") {
        const std::string why =
            "; idle connections would be held longer than a slow request head is allowed";
        SUBCASE("at KeepAliveTimeout when it comes later") {
            const LoadResult r = load("RequestReadTimeout header=10\nKeepAliveTimeout 15\n");
            CHECK(messages(r.warnings) ==
                  Strings{kFile +
                          ":3: KeepAliveTimeout: expected at most RequestReadTimeout "
                          "header= (10s), found 15s" +
                          why});
        }
        SUBCASE("against the default header timeout") {
            const LoadResult r = load("KeepAliveTimeout 30500ms\n");
            CHECK(messages(r.warnings) == Strings{at("KeepAliveTimeout") +
                                                  "expected at most RequestReadTimeout header= "
                                                  "(20s), found 30500ms" +
                                                  why});
        }
        SUBCASE("at RequestReadTimeout when it comes later") {
            const LoadResult r = load("KeepAliveTimeout 15\nRequestReadTimeout body=5 header=10\n");
            CHECK(messages(r.warnings) ==
                  Strings{kFile +
                          ":3: RequestReadTimeout: expected header= at least "
                          "KeepAliveTimeout (15s), found 10s" +
                          why});
        }
        SUBCASE("not when the header timeout is off, equal or longer") {
            CHECK(load("KeepAliveTimeout 30\nRequestReadTimeout header=0\n").warnings.empty());
            CHECK(load("KeepAliveTimeout 20\n").warnings.empty());
            CHECK(load("KeepAliveTimeout 5\nRequestReadTimeout header=1\nKeepAliveTimeout 1")
                      .warnings.empty());
            CHECK(load("RequestReadTimeout body=1\n").warnings.empty());
        }
    }

} // TEST_SUITE
