#include "server/http/target_path.hpp"

#include <doctest/doctest.h>

#include <string>

using kahttpd::parser::Status;
using kahttpd::server::append_uri_escaped;
using kahttpd::server::is_htaccess_name;
using kahttpd::server::percent_decode;
using kahttpd::server::resolve_target;
using kahttpd::server::TargetPath;

TEST_SUITE("server") {

    TEST_CASE("percent-decoding accepts valid escapes and refuses broken ones") {
        std::string out;
        CHECK(percent_decode("/a%20b%2Fc%7e", out));
        CHECK(out == "/a b/c~");
        CHECK_FALSE(percent_decode("/a%2", out));
        CHECK_FALSE(percent_decode("/a%", out));
        CHECK_FALSE(percent_decode("/a%zz", out));
        CHECK_FALSE(percent_decode("%g0", out));
        // AllowEncodedSlashes NoDecode: an encoded slash stays as sent, everything else decodes.
        CHECK(percent_decode("/a%2Fb%2fc%252F%20", out, true));
        CHECK(out == "/a%2Fb%2fc%2F ");
        CHECK_FALSE(percent_decode("/a%2", out, true));
    }

    TEST_CASE("targets resolve to normalised paths under the root") {
        TargetPath t;
        SUBCASE("plain paths") {
            REQUIRE(resolve_target("/css/style.css", t) == Status::ok);
            CHECK(t.path == "css/style.css");
            CHECK_FALSE(t.trailing_slash);
        }
        SUBCASE("the root") {
            REQUIRE(resolve_target("/", t) == Status::ok);
            CHECK(t.path.empty());
        }
        SUBCASE("query is split off and kept raw") {
            REQUIRE(resolve_target("/a/b/?x=%41&y", t) == Status::ok);
            CHECK(t.path == "a/b");
            CHECK(t.trailing_slash);
            CHECK(t.query == "x=%41&y");
            CHECK(t.raw_path == "/a/b/");
        }
        SUBCASE("dot segments and empty segments are normalised") {
            REQUIRE(resolve_target("/a/./b//c/../d", t) == Status::ok);
            CHECK(t.path == "a/b/d");
        }
        SUBCASE("encoded characters are decoded") {
            REQUIRE(resolve_target("/hello%20world.txt", t) == Status::ok);
            CHECK(t.path == "hello world.txt");
        }
        SUBCASE("absolute-form keeps only the path") {
            REQUIRE(resolve_target("http://example.com/x/y.html?q", t) == Status::ok);
            CHECK(t.path == "x/y.html");
            CHECK(t.query == "q");
            REQUIRE(resolve_target("http://example.com", t) == Status::ok);
            CHECK(t.path.empty());
        }
        SUBCASE("absolute-form: the authority ends at '?' or '#', not at the next '/'") {
            REQUIRE(resolve_target("http://example.com?a=/secret.txt", t) == Status::ok);
            CHECK(t.path.empty());
            CHECK(t.query == "a=/secret.txt");
            REQUIRE(resolve_target("http://example.com#/x/y", t) == Status::ok);
            CHECK(t.path.empty());
            CHECK(t.query.empty());
        }
        SUBCASE(".. inside the tree is fine") {
            REQUIRE(resolve_target("/a/../b", t) == Status::ok);
            CHECK(t.path == "b");
        }
    }

    TEST_CASE("targets that would leave the root or reveal hidden files are refused") {
        TargetPath t;
        CHECK(resolve_target("/../etc/passwd", t) == Status::bad_request);
        CHECK(resolve_target("/a/../../etc/passwd", t) == Status::bad_request);
        CHECK(resolve_target("/%2e%2e/etc/passwd", t) == Status::bad_request);
        CHECK(resolve_target("/%2E%2E/%2e%2E/etc/passwd", t) == Status::bad_request);
        CHECK(resolve_target("/..%2fetc/passwd", t) == Status::not_found);
        CHECK(resolve_target("/a%2Fb", t) == Status::not_found);
        CHECK(resolve_target("/a%00.html", t) == Status::bad_request);
        CHECK(resolve_target("/..\\..\\etc\\passwd", t) == Status::bad_request);
        CHECK(resolve_target("/a%5c..%5c..%5cetc", t) == Status::bad_request);
        CHECK(resolve_target("/.git/config", t) == Status::not_found);
        CHECK(resolve_target("/a/.hidden/b", t) == Status::not_found);
        CHECK(resolve_target("/.well-known/.hidden", t) == Status::not_found);
        CHECK(resolve_target("/a%ZZ", t) == Status::bad_request);
        CHECK(resolve_target("relative/path", t) == Status::bad_request);
        CHECK(resolve_target("*", t) == Status::bad_request);
        // Double encoding decodes once: "%252e%252e" is the literal name "%2e%2e", not "..".
        REQUIRE(resolve_target("/%252e%252e/etc/passwd", t) == Status::ok);
        CHECK(t.path == "%2e%2e/etc/passwd");
    }

    TEST_CASE("AllowEncodedSlashes Off (the default) refuses %2F in the path with 404") {
        using kahttpd::conf::EncodedSlashes;
        TargetPath t;
        for (const char* target : {"/a%2Fb", "/a%2fb", "/%2F", "/..%2F..%2Fsecret",
                                   "/%2e%2e%2fsecret", "/a/..%2F../secret", "/ok/b%2F"}) {
            CAPTURE(target);
            CHECK(resolve_target(target, t) == Status::not_found);
            CHECK(resolve_target(target, t, EncodedSlashes::off) == Status::not_found);
        }
        // Not in the query, and not as the name "%2F" sent as %252F.
        REQUIRE(resolve_target("/a?next=%2Fb", t) == Status::ok);
        CHECK(t.path == "a");
        REQUIRE(resolve_target("/a%252Fb", t) == Status::ok);
        CHECK(t.path == "a%2Fb");
    }

    TEST_CASE("AllowEncodedSlashes On decodes %2F into a separator, dot segments included") {
        using kahttpd::conf::EncodedSlashes;
        constexpr auto on = EncodedSlashes::on;
        TargetPath t;
        REQUIRE(resolve_target("/a%2Fb", t, on) == Status::ok);
        CHECK(t.path == "a/b");
        REQUIRE(resolve_target("/a%2fb%2F", t, on) == Status::ok);
        CHECK(t.path == "a/b");
        CHECK(t.trailing_slash);
        CHECK(t.raw_path == "/a%2fb%2F");
        REQUIRE(resolve_target("/a/b/..%2Fc", t, on) == Status::ok);
        CHECK(t.path == "a/c");
        REQUIRE(resolve_target("/a%2F%2E%2E%2Fb", t, on) == Status::ok);
        CHECK(t.path == "b");
        // A ".." made of encoded slashes and dots climbs no higher than a plain one.
        for (const char* target :
             {"/..%2Fsecret", "/%2e%2e%2fsecret", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
              "/a/..%2F..%2Fsecret", "/a%2F..%2F..%2Fsecret", "/%2F..%2F..%2Fetc"}) {
            CAPTURE(target);
            CHECK(resolve_target(target, t, on) == Status::bad_request);
        }
        // Hidden names and backslashes stay refused.
        CHECK(resolve_target("/a%2F.git%2Fconfig", t, on) == Status::not_found);
        CHECK(resolve_target("/a%2F.htaccess", t, on) == Status::forbidden);
        CHECK(resolve_target("/a%2F..%5C..%5Cetc", t, on) == Status::bad_request);
    }

    TEST_CASE("AllowEncodedSlashes NoDecode keeps %2F as part of a name, never a separator") {
        using kahttpd::conf::EncodedSlashes;
        constexpr auto keep = EncodedSlashes::no_decode;
        TargetPath t;
        REQUIRE(resolve_target("/a%2Fb", t, keep) == Status::ok);
        CHECK(t.path == "a%2Fb");
        REQUIRE(resolve_target("/x/a%2fb%20c", t, keep) == Status::ok);
        CHECK(t.path == "x/a%2fb c"); // as sent, the rest decoded
        REQUIRE(resolve_target("/a%2F..%2F..%2Fsecret", t, keep) == Status::ok);
        CHECK(t.path == "a%2F..%2F..%2Fsecret"); // one name: nothing to climb
        REQUIRE(resolve_target("/%2F", t, keep) == Status::ok);
        CHECK(t.path == "%2F");
        // A segment that starts with a dot is still a dot segment.
        for (const char* target : {"/..%2Fsecret", "/%2e%2e%2fsecret", "/.%2F.%2Fsecret"}) {
            CAPTURE(target);
            CHECK(resolve_target(target, t, keep) == Status::not_found);
        }
        // Plain ".." and "%2e%2e" segments are judged as in every mode.
        CHECK(resolve_target("/a%2F../../../secret", t, keep) == Status::bad_request);
        CHECK(resolve_target("/%2e%2e/%2e%2e%2Fsecret", t, keep) == Status::bad_request);
        REQUIRE(resolve_target("/a/../b%2Fc", t, keep) == Status::ok);
        CHECK(t.path == "b%2Fc");
        CHECK(resolve_target("/a%2F..%5Csecret", t, keep) == Status::bad_request);
    }

    TEST_CASE(".well-known is served, .ht files are 403, other dot segments 404") {
        TargetPath t;
        REQUIRE(resolve_target("/.well-known/acme-challenge/tok-EN_1", t) == Status::ok);
        CHECK(t.path == ".well-known/acme-challenge/tok-EN_1");
        REQUIRE(resolve_target("/%2ewell-known/security.txt", t) == Status::ok);
        CHECK(t.path == ".well-known/security.txt");
        REQUIRE(resolve_target("/a/../.well-known/", t) == Status::ok);
        CHECK(t.path == ".well-known");
        CHECK(t.trailing_slash);
        for (const char* ht : {"/.htaccess", "/a/.htpasswd", "/.HTaccess", "/%2ehtgroup", "/.ht",
                               "/.htdir/x", "/.well-known/.htaccess"}) {
            CAPTURE(ht);
            CHECK(resolve_target(ht, t) == Status::forbidden);
        }
        // The first dot segment decides: a .ht file inside a hidden folder stays hidden.
        CHECK(resolve_target("/.git/.htaccess", t) == Status::not_found);
        CHECK(resolve_target("/.well-knownx/a", t) == Status::not_found);
        CHECK(resolve_target("/.Well-Known/a", t) == Status::not_found);
    }

    TEST_CASE("is_htaccess_name takes .ht in any case and nothing shorter") {
        CHECK(is_htaccess_name(".htaccess"));
        CHECK(is_htaccess_name(".HTPASSWD"));
        CHECK(is_htaccess_name(".ht"));
        CHECK_FALSE(is_htaccess_name(".h"));
        CHECK_FALSE(is_htaccess_name("htaccess"));
        CHECK_FALSE(is_htaccess_name(".hidden"));
    }

    TEST_CASE("append_uri_escaped encodes what may not be in a URI and keeps the rest") {
        std::string out;
        append_uri_escaped("/x/a b\r\nSet-Cookie:\"<>\\^`{|}\x80?q=%20&r#f", out);
        CHECK(out == "/x/a%20b%0D%0ASet-Cookie:%22%3C%3E%5C%5E%60%7B%7C%7D%80?q=%20&r#f");
    }

} // TEST_SUITE
