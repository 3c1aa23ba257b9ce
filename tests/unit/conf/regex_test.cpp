#include "conf/regex.hpp"

#include <doctest/doctest.h>

#include <string>

using kahttpd::conf::Captures;
using kahttpd::conf::Regex;
using kahttpd::conf::substitute_groups;

TEST_SUITE("conf") {

    TEST_CASE("Regex compiles PCRE syntax and matches anywhere unless anchored") {
        std::string why;
        const auto re = Regex::compile(R"(^\.ht)", why);
        REQUIRE(re);
        CHECK(why.empty());
        CHECK(re->pattern() == R"(^\.ht)");
        CHECK(re->match(".htaccess"));
        CHECK_FALSE(re->match("a.htaccess"));
        CHECK_FALSE(re->match(".HTaccess"));
        const auto anywhere = Regex::compile(R"(\.(gif|jpe?g)$)", why);
        REQUIRE(anywhere);
        CHECK(anywhere->match("/img/a.jpeg"));
        CHECK_FALSE(anywhere->match("/img/a.jpeg.txt"));
        const auto caseless = Regex::compile("^/Docs", why, true);
        REQUIRE(caseless);
        CHECK(caseless->match("/docs/x"));
    }

    TEST_CASE("a bad pattern says what and where") {
        std::string why;
        CHECK_FALSE(Regex::compile("^/(a", why));
        CHECK(why == "missing closing parenthesis at offset 4");
        CHECK_FALSE(Regex::compile("*x", why));
        CHECK(why.find("at offset 0") != std::string::npos);
    }

    TEST_CASE("an empty Regex matches nothing") {
        const Regex none;
        CHECK_FALSE(none);
        CHECK_FALSE(none.match(""));
        CHECK_FALSE(none.match("x"));
    }

    TEST_CASE("captures are $0 to $9; groups that did not match are empty") {
        std::string why;
        const auto re = Regex::compile(R"(^/(\w+)/(x)?(.*)$)", why);
        REQUIRE(re);
        Captures m;
        REQUIRE(re->match("/icons/a/b.png", &m));
        CHECK(m.group[0] == "/icons/a/b.png");
        CHECK(m.group[1] == "icons");
        CHECK(m.group[2].empty());
        CHECK(m.group[3] == "a/b.png");
        CHECK(m.group[9].empty());
        // More than ten groups: the first ten are still reported.
        const auto many = Regex::compile("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", why);
        REQUIRE(many);
        REQUIRE(many->match("abcdefghijk", &m));
        CHECK(m.group[9] == "i");
    }

    TEST_CASE("substitute_groups replaces $N and takes a backslashed character as it is") {
        Captures m;
        m.group[0] = "/a/b";
        m.group[1] = "a";
        m.group[2] = "b";
        CHECK(substitute_groups("/srv/$1/x/$2", m) == "/srv/a/x/b");
        CHECK(substitute_groups("$0$0", m) == "/a/b/a/b");
        CHECK(substitute_groups(R"(\$1 costs $$2)", m) == "$1 costs $b");
        CHECK(substitute_groups("$5|$", m) == "|$");
        CHECK(substitute_groups("a=1&b=$1", m) == "a=1&b=a");
        CHECK(substitute_groups(R"(end\)", m) == R"(end\)");
    }

} // TEST_SUITE
