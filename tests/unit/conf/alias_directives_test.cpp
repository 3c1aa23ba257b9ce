// mod_alias's directives as the loader reads them: Alias, AliasMatch, Redirect (server and
// section forms), RedirectMatch, RedirectPermanent, RedirectTemp, and their errors.
#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"

#include <doctest/doctest.h>

#include <string>

using kahttpd::conf::Config;
using kahttpd::conf::LoadResult;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using kahttpd::conf::test::load;
using kahttpd::conf::test::messages;
using kahttpd::conf::test::Strings;

namespace {

std::string at(int line, const std::string& directive) {
    return kFile + ":" + std::to_string(line) + ": " + directive + ": ";
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("Alias keeps the URL prefix and the target as written, with its root") {
        const Config c = config_of("Alias /icons/ /usr/share/icons/\n"
                                   "Alias /favicon.ico /srv/www-shared/favicon.ico\n"
                                   "Alias /rel relative/dir\n");
        REQUIRE(c.main.url_aliases.size() == 3);
        CHECK(c.main.url_aliases[0].url_path == "/icons/");
        CHECK(c.main.url_aliases[0].target == "/usr/share/icons/");
        CHECK(c.main.url_aliases[0].root == "/usr/share/icons");
        CHECK(c.main.url_aliases[0].from == kFile + ":2");
        // A target that does not exist is taken for a folder (and warned about).
        CHECK(c.main.url_aliases[1].root == "/srv/www-shared/favicon.ico");
        CHECK(c.main.url_aliases[2].target == "/srv/site/relative/dir");
    }

    TEST_CASE("an Alias of an existing file is confined to its folder") {
        const Config c = config_of("Alias /hosts /etc/hosts\n");
        REQUIRE(c.main.url_aliases.size() == 1);
        CHECK(c.main.url_aliases[0].root == "/etc");
    }

    TEST_CASE("Alias warnings: a missing target, an alias hidden by an earlier one") {
        const LoadResult r = load("Alias /a /nonexistent/kahttpd-test\n"
                                  "Alias /a/b /etc\n");
        CHECK(r.errors.empty());
        CHECK(messages(r.warnings) ==
              Strings{at(2, "Alias") + "expected an existing file or directory, found nothing at "
                                       "\"/nonexistent/kahttpd-test\"",
                      at(3, "Alias") +
                          "expected an alias that an earlier one does not cover, "
                          "found \"/a/b\" inside the alias of " +
                          kFile + ":2, which is tried first"});
    }

    TEST_CASE("AliasMatch compiles its regex; the root is the fixed part of the target") {
        const Config c = config_of("AliasMatch \"^/d/(\\w+)/(.*)$\" \"/srv/data/$1/$2\"\n"
                                   "AliasMatch ^/x(.*) /srv/x/../y$1\n");
        REQUIRE(c.main.url_aliases.size() == 2);
        CHECK(c.main.url_aliases[0].regex);
        CHECK(c.main.url_aliases[0].root == "/srv/data");
        CHECK(c.main.url_aliases[1].root == "/srv");
    }

    TEST_CASE("Alias and AliasMatch errors") {
        CHECK(error_of("Alias /a") == at(2, "Alias") +
                                          "expected a URL path and a file-system path, "
                                          "found 1 argument");
        CHECK(error_of("Alias a /etc") ==
              at(2, "Alias") + "expected a URL path starting with \"/\", found \"a\"");
        CHECK(error_of("AliasMatch \"(\" /srv") ==
              at(2, "AliasMatch") + "expected a valid regular expression, found \"(\" (missing "
                                    "closing parenthesis at offset 1)");
        CHECK(error_of("AliasMatch ^/a srv/$1") ==
              at(2, "AliasMatch") + "expected an absolute file-system path, found \"srv/$1\"");
        CHECK(error_of("<Directory /srv>\nAlias /a /etc\n</Directory>") ==
              at(3, "Alias") + "not allowed inside <Directory>, only at server level or in "
                               "<VirtualHost>");
        CHECK(error_of("<Location /x>\nAliasMatch ^/a /etc\n</Location>") ==
              at(3, "AliasMatch") + "not allowed inside <Location>, only at server level or in "
                                    "<VirtualHost>");
    }

    TEST_CASE("Redirect takes Apache's statuses; the default is 302") {
        const Config c = config_of("Redirect /a http://example.com/a\n"
                                   "Redirect permanent /b /new-b\n"
                                   "Redirect temp /c https://c.example/\n"
                                   "Redirect seeother /d /d2\n"
                                   "Redirect gone /e\n"
                                   "Redirect 308 /f /f2\n"
                                   "Redirect 410 /g\n"
                                   "RedirectPermanent /h /h2\n"
                                   "RedirectTemp /i /i2\n"
                                   "RedirectMatch 301 \"^/j/(.*)\\.html$\" \"/j2/$1.htm\"\n"
                                   "RedirectMatch ^/k http://k.example/\n"
                                   "<VirtualHost *:80>\n"
                                   "  Redirect /v /v2\n"
                                   "</VirtualHost>\n");
        const auto& r = c.main.redirects;
        REQUIRE(r.size() == 11);
        const std::uint16_t statuses[] = {302, 301, 302, 303, 410, 308, 410, 301, 302, 301, 302};
        for (std::size_t i = 0; i < r.size(); ++i) {
            CAPTURE(i);
            CHECK(r[i].status == statuses[i]);
        }
        CHECK(r[0].url_path == "/a");
        CHECK(r[0].target == "http://example.com/a");
        CHECK(r[4].target.empty());
        CHECK(r[9].regex);
        CHECK(r[9].target == "/j2/$1.htm");
        CHECK(r[10].from == kFile + ":12");
        REQUIRE(c.vhosts.size() == 1);
        CHECK(c.vhosts[0].redirects.size() == 1);
    }

    TEST_CASE("Redirect errors say which form was expected") {
        CHECK(error_of("Redirect /a") ==
              at(2, "Redirect") + "expected a URL path and a URL, found 1 argument");
        CHECK(error_of("Redirect permanent /a") ==
              at(2, "Redirect") + "expected a URL path and a URL, found 1 argument");
        CHECK(error_of("Redirect gone /a /b") ==
              at(2, "Redirect") + "expected a URL path and no URL after gone (410), found 2 "
                                  "arguments");
        CHECK(error_of("Redirect 404 /a /b") ==
              at(2, "Redirect") + "expected a status among permanent, temp, seeother, gone, "
                                  "300-303, 307, 308 or 410, found \"404\"");
        CHECK(error_of("Redirect forever /a /b") ==
              at(2, "Redirect") + "expected a status among permanent, temp, seeother, gone, "
                                  "300-303, 307, 308 or 410 before the path and URL, found "
                                  "\"forever\"");
        CHECK(error_of("Redirect a /b") ==
              at(2, "Redirect") + "expected a URL path starting with \"/\", found \"a\"");
        CHECK(error_of("Redirect /a b") ==
              at(2, "Redirect") + "expected a URL or an absolute path to redirect to, found "
                                  "\"b\"");
        CHECK(error_of("RedirectMatch \"[\" /b") ==
              at(2, "RedirectMatch") +
                  "expected a valid regular expression, found \"[\" (missing terminating ] for "
                  "character class at offset 1)");
        CHECK(error_of("RedirectPermanent /a") ==
              at(2, "RedirectPermanent") + "expected a URL path and a URL, found 1 argument");
        CHECK(error_of("<Location /x>\nRedirectMatch ^/a /b\n</Location>") ==
              at(3, "RedirectMatch") + "not allowed inside <Location>, only at server level or "
                                       "in <VirtualHost>");
    }

    TEST_CASE("Redirect in a section takes [status] URL or gone, and merges like a setting") {
        const Config c = config_of("<Location /old>\n"
                                   "  Redirect permanent https://example.com/new\n"
                                   "</Location>\n"
                                   "<Location /old/keep>\n"
                                   "  Redirect /kept\n"
                                   "</Location>\n"
                                   "<Files \"*.tmp\">\n"
                                   "  Redirect gone\n"
                                   "</Files>\n");
        REQUIRE(c.main.locations.size() == 2);
        const auto& r = c.main.locations[0].settings.redirect;
        REQUIRE(r);
        CHECK(r->value.status == 301);
        CHECK(r->value.target == "https://example.com/new");
        CHECK(r->from == kFile + ":3");
        CHECK(c.main.effective(c.main, "/srv/www/old/x", "/old/x").redirect.status == 301);
        const auto kept = c.main.effective(c.main, "/srv/www/old/keep", "/old/keep").redirect;
        CHECK(kept.status == 302);
        CHECK(kept.target == "/kept");
        CHECK(c.main.effective(c.main, "/srv/www/a.tmp", "/a.tmp").redirect.status == 410);
        CHECK(c.main.effective(c.main, "/srv/www/a", "/a").redirect.status == 0);
        CHECK(error_of("<Location /x>\nRedirect /a /b\n</Location>") ==
              at(3, "Redirect") + "expected Redirect [status] URL or Redirect gone inside "
                                  "<Location>, found 2 arguments; the URL-path forms go at "
                                  "server level or in <VirtualHost>");
        CHECK(error_of("<Directory /srv>\nRedirect gone /a\n</Directory>") ==
              at(3, "Redirect") + "expected Redirect [status] URL or Redirect gone inside "
                                  "<Directory>, found 2 arguments; the URL-path forms go at "
                                  "server level or in <VirtualHost>");
    }

    TEST_CASE("mod_alias counts as loaded for <IfModule>") {
        const Config c = config_of("<IfModule mod_alias.c>\n"
                                   "  Alias /a /etc\n"
                                   "</IfModule>\n"
                                   "<IfModule !alias_module>\n"
                                   "  Redirect /b /c\n"
                                   "</IfModule>\n");
        CHECK(c.main.url_aliases.size() == 1);
        CHECK(c.main.redirects.empty());
    }

} // TEST_SUITE
