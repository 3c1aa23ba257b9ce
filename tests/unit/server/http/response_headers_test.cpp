#include "server/http/response_headers.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using kahttpd::conf::HeaderRule;
using kahttpd::server::apply_header_rules;

namespace {

HeaderRule rule(HeaderRule::Action action, std::string name, std::string value = "",
                bool always = false) {
    HeaderRule r;
    r.action = action;
    r.name = std::move(name);
    r.value = std::move(value);
    r.always = always;
    return r;
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("Header set replaces every field of that name, case-insensitively") {
        std::string block = "Server: kahttpd\r\nX-A: 1\r\nx-a: 2\r\n";
        apply_header_rules(block, {rule(HeaderRule::Action::set, "X-A", "3")}, true);
        CHECK(block == "Server: kahttpd\r\nX-A: 3\r\n");
    }

    TEST_CASE("Header append, merge, add and unset") {
        using A = HeaderRule::Action;
        std::string block = "Cache-Control: public\r\nVary: Accept\r\n";
        apply_header_rules(block,
                           {rule(A::append, "Cache-Control", "max-age=60"),
                            rule(A::merge, "Vary", "accept"), rule(A::merge, "Vary", "Origin"),
                            rule(A::add, "Link", "</a.css>"), rule(A::add, "Link", "</b.js>"),
                            rule(A::append, "X-New", "v"), rule(A::unset, "Server")},
                           true);
        CHECK(block == "Cache-Control: public, max-age=60\r\nVary: Accept, Origin\r\n"
                       "Link: </a.css>\r\nLink: </b.js>\r\nX-New: v\r\n");
    }

    TEST_CASE("rules without always skip error responses; always rules apply to all") {
        using A = HeaderRule::Action;
        const std::vector<HeaderRule> rules = {rule(A::set, "X-Success", "1"),
                                               rule(A::set, "X-Always", "1", true)};
        std::string error_block = "Content-Length: 0\r\n";
        apply_header_rules(error_block, rules, false);
        CHECK(error_block == "Content-Length: 0\r\nX-Always: 1\r\n");
        std::string ok_block;
        apply_header_rules(ok_block, rules, true);
        CHECK(ok_block == "X-Success: 1\r\nX-Always: 1\r\n");
    }

    TEST_CASE("rules never touch the framing fields") {
        using A = HeaderRule::Action;
        std::string block = "Content-Length: 5\r\nConnection: close\r\n";
        apply_header_rules(
            block,
            {rule(A::unset, "content-length", "", true), rule(A::set, "Connection", "x"),
             rule(A::add, "Transfer-Encoding", "chunked"), rule(A::set, "Keep-Alive", "timeout=1")},
            true);
        CHECK(block == "Content-Length: 5\r\nConnection: close\r\n");
    }

} // TEST_SUITE
