#include "conf/url_map.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using kahttpd::conf::alias_prefix_length;
using kahttpd::conf::alias_root;
using kahttpd::conf::AliasRule;
using kahttpd::conf::find_alias;
using kahttpd::conf::find_redirect;
using kahttpd::conf::RedirectRule;
using kahttpd::conf::Regex;
using kahttpd::conf::UrlMapping;

namespace {

Regex re(const char* pattern) {
    std::string why;
    auto r = Regex::compile(pattern, why);
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("alias_prefix_length matches whole segments, as Apache's alias_matches") {
        CHECK(alias_prefix_length("/icons", "/icons") == 6);
        CHECK(alias_prefix_length("/icons", "/icons/a.png") == 6);
        CHECK(alias_prefix_length("/icons", "/iconsx") == 0);
        CHECK(alias_prefix_length("/icons/", "/icons/a.png") == 7);
        CHECK(alias_prefix_length("/icons/", "/icons") == 0);
        CHECK(alias_prefix_length("/", "/anything") == 1);
        CHECK(alias_prefix_length("/a//b", "/a/b/c") == 4);
        CHECK(alias_prefix_length("/a/b", "/a//b") == 5);
        CHECK(alias_prefix_length("/a", "/b") == 0);
        CHECK(alias_prefix_length("/long/prefix", "/long") == 0);
    }

    TEST_CASE("find_redirect: the first rule that matches, the rest of the path kept apart") {
        std::vector<RedirectRule> rules(3);
        rules[0].url_path = "/old";
        rules[0].target = "http://example.com/new";
        rules[1].regex = re(R"(^/rm/(.*)\.html$)");
        rules[1].target = "/moved/$1.htm";
        rules[1].status = 301;
        rules[2].url_path = "/";
        rules[2].status = 410;
        UrlMapping m;
        REQUIRE(find_redirect(rules, "/old/a b", m));
        CHECK(m.kind == UrlMapping::Kind::redirect);
        CHECK(m.status == 302);
        CHECK(m.location == "http://example.com/new");
        CHECK(m.rest == "/a b");
        CHECK_FALSE(m.substituted);
        REQUIRE(find_redirect(rules, "/rm/x/y.html", m));
        CHECK(m.status == 301);
        CHECK(m.location == "/moved/x/y.htm");
        CHECK(m.rest.empty());
        CHECK(m.substituted);
        REQUIRE(find_redirect(rules, "/oldx", m));
        CHECK(m.status == 410);
        rules.pop_back();
        UrlMapping none;
        CHECK_FALSE(find_redirect(rules, "/oldx", none));
        CHECK(none.kind == UrlMapping::Kind::none);
    }

    TEST_CASE("find_alias: prefix rules append the rest, regex rules substitute") {
        std::vector<AliasRule> rules(2);
        rules[0].url_path = "/icons/";
        rules[0].target = "/usr/share/icons/";
        rules[1].regex = re(R"(^/d/(\w+)/(.*)$)");
        rules[1].target = "/srv/data/$1/files/$2";
        UrlMapping m;
        REQUIRE(find_alias(rules, "/icons/a/b.png", 5, m));
        CHECK(m.kind == UrlMapping::Kind::alias);
        CHECK(m.alias == 5);
        CHECK(m.path == "/usr/share/icons/a/b.png");
        REQUIRE(find_alias(rules, "/d/x/y.txt", 5, m));
        CHECK(m.alias == 6);
        CHECK(m.path == "/srv/data/x/files/y.txt");
        UrlMapping none;
        CHECK_FALSE(find_alias(rules, "/icons", 0, none));
        CHECK(none.kind == UrlMapping::Kind::none);
    }

    TEST_CASE("alias_root: the folder an alias's files must stay beneath") {
        CHECK(alias_root("/usr/share/icons/", false, true) == "/usr/share/icons");
        CHECK(alias_root("/usr/share/icons", false, true) == "/usr/share/icons");
        CHECK(alias_root("/srv/f/favicon.ico", false, false) == "/srv/f");
        CHECK(alias_root("/favicon.ico", false, false) == "/");
        CHECK(alias_root("/", false, true) == "/");
        CHECK(alias_root("/srv/data$1", true, false) == "/srv");
        CHECK(alias_root("/srv/data/$1/x", true, false) == "/srv/data");
        CHECK(alias_root("/srv/a\\$b/$1", true, false) == "/srv");
        CHECK(alias_root("$1", true, false) == "/");
    }

} // TEST_SUITE
