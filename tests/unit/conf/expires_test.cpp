#include "conf/expires.hpp"

#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

using kahttpd::conf::expires_for;
using kahttpd::conf::expires_text;
using kahttpd::conf::ExpiresSpec;
using kahttpd::conf::parse_expires;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using Base = ExpiresSpec::Base;

namespace {

ExpiresSpec parsed(const char* text) {
    std::string why;
    const auto spec = parse_expires(text, why);
    INFO(text << ": " << why);
    REQUIRE(spec);
    return *spec;
}

std::string why_not(const char* text) {
    std::string why;
    CHECK_FALSE(parse_expires(text, why));
    return why;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("parse_expires: the A/M syntax") {
        CHECK(parsed("A2592000") == ExpiresSpec{Base::access, 2592000});
        CHECK(parsed("M604800") == ExpiresSpec{Base::modification, 604800});
        CHECK(parsed("A0") == ExpiresSpec{Base::access, 0});
    }

    TEST_CASE("parse_expires: Apache's words, units added up") {
        CHECK(parsed("access plus 1 month") == ExpiresSpec{Base::access, 30 * 86400});
        CHECK(parsed("now plus 1 year") == ExpiresSpec{Base::access, 365 * 86400});
        CHECK(parsed("modification plus 2 days 3 hours") ==
              ExpiresSpec{Base::modification, 2 * 86400 + 3 * 3600});
        CHECK(parsed("access 10 minutes 5 seconds") == ExpiresSpec{Base::access, 605});
        CHECK(parsed("ACCESS PLUS 1 WEEK") == ExpiresSpec{Base::access, 7 * 86400});
        CHECK(parsed("access plus 1 mo 1 mi 1 y 1 w 1 d 1 h 1 s") ==
              ExpiresSpec{Base::access,
                          30 * 86400 + 60 + 365 * 86400 + 7 * 86400 + 86400 + 3600 + 1});
        CHECK(parsed("access  plus   2   hour") == ExpiresSpec{Base::access, 7200});
    }

    TEST_CASE("parse_expires: what is wrong, said as expected/found") {
        CHECK(why_not("") == "expected A<seconds>, M<seconds> or \"access plus 1 month\", found "
                             "\"\"");
        CHECK(why_not("later plus 1 day") == "expected A<seconds>, M<seconds>, or access, now or "
                                             "modification first, found \"later plus 1 day\"");
        CHECK(why_not("access plus") == "expected a number and a unit after \"plus\", found none");
        CHECK(why_not("access plus one day") == "expected a number, found \"one\"");
        CHECK(why_not("access plus 1") == "expected a unit (years, months, weeks, days, hours, "
                                          "minutes, seconds) after \"1\", found none");
        CHECK(why_not("access plus 1 fortnight") ==
              "expected years, months, weeks, days, hours, minutes or seconds, found "
              "\"fortnight\"");
        // "m" alone could be months or minutes (Apache needs two letters for both).
        CHECK(why_not("access plus 1 m").starts_with("expected years, months"));
        CHECK(why_not("access plus 200 years").starts_with("expected at most 4294967295"));
        CHECK(why_not("A12x").starts_with("expected A<seconds>, M<seconds>, or access"));
    }

    TEST_CASE("expires_text shows the A/M form") {
        CHECK(expires_text({Base::access, 60}) == "A60");
        CHECK(expires_text({Base::modification, 0}) == "M0");
        CHECK(expires_text({}) == "none");
    }

    TEST_CASE("expires_for: off unless active; by type, then major/*, then the default") {
        const ExpiresSpec def{Base::access, 60};
        const std::map<std::string, ExpiresSpec> by_type{{"text/css", {Base::modification, 10}},
                                                         {"image/*", {Base::access, 20}}};
        CHECK(expires_for(false, def, by_type, "text/css") == ExpiresSpec{});
        CHECK(expires_for(true, def, by_type, "text/css") == ExpiresSpec{Base::modification, 10});
        CHECK(expires_for(true, def, by_type, "Text/CSS; charset=utf-8") ==
              ExpiresSpec{Base::modification, 10});
        CHECK(expires_for(true, def, by_type, "image/png") == ExpiresSpec{Base::access, 20});
        CHECK(expires_for(true, def, by_type, "text/html") == def);
        CHECK(expires_for(true, {}, by_type, "text/html") == ExpiresSpec{});
    }

    TEST_CASE("Expires directives: per section, merged as Apache, errors with file:line") {
        const auto c = config_of("ExpiresActive On\n"
                                 "ExpiresDefault \"access plus 1 hour\"\n"
                                 "ExpiresByType Image/PNG A600\n"
                                 "<Directory /srv/site/www/static>\n"
                                 "  ExpiresByType text/css \"modification plus 1 day\"\n"
                                 "</Directory>\n"
                                 "<Location /live>\n"
                                 "  ExpiresActive Off\n"
                                 "</Location>\n");
        const auto e = c.main.effective(c.main, "/srv/site/www/static/a.css", "/static/a.css");
        CHECK(e.expires_active);
        CHECK(e.expires_default == ExpiresSpec{Base::access, 3600});
        CHECK(e.expires_by_type.at("image/png") == ExpiresSpec{Base::access, 600});
        CHECK(e.expires_by_type.at("text/css") == ExpiresSpec{Base::modification, 86400});
        CHECK_FALSE(c.main.effective(c.main, "/srv/site/www/static/a.css", "/live").expires_active);
        CHECK_FALSE(c.main.effective(c.main, "/srv/site/www/a.css", "/a.css")
                        .expires_by_type.contains("text/css"));
        const std::string at = kFile + ":2: ";
        CHECK(error_of("ExpiresDefault access plus 1 day") ==
              at + "ExpiresDefault: expected one argument (quote \"access plus 1 month\"), found "
                   "4 arguments");
        CHECK(error_of("ExpiresDefault \"access plus 1 eon\"") ==
              at + "ExpiresDefault: expected years, months, weeks, days, hours, minutes or "
                   "seconds, found \"eon\"");
        CHECK(error_of("ExpiresByType png A60") ==
              at + "ExpiresByType: expected a media type such as text/html or image/*, found "
                   "\"png\"");
        CHECK(error_of("ExpiresByType text/html") ==
              at + "ExpiresByType: expected a media type and a time (quote \"access plus 1 "
                   "month\"), found 1 argument");
        CHECK(error_of("ExpiresActive maybe") ==
              at + "ExpiresActive: expected On or Off, found \"maybe\"");
    }

} // TEST_SUITE
