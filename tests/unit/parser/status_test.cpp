#include "parser/status.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>

using kahttpd::parser::code;
using kahttpd::parser::reason_phrase;
using kahttpd::parser::Status;

TEST_SUITE("parser") {

    TEST_CASE("every status has its code and a reason phrase") {
        const Status all[] = {
            Status::ok,
            Status::no_content,
            Status::partial_content,
            Status::multiple_choices,
            Status::moved_permanently,
            Status::found,
            Status::see_other,
            Status::not_modified,
            Status::temporary_redirect,
            Status::permanent_redirect,
            Status::bad_request,
            Status::forbidden,
            Status::not_found,
            Status::method_not_allowed,
            Status::request_timeout,
            Status::gone,
            Status::length_required,
            Status::precondition_failed,
            Status::payload_too_large,
            Status::uri_too_long,
            Status::range_not_satisfiable,
            Status::expectation_failed,
            Status::header_too_large,
            Status::internal_error,
            Status::not_implemented,
            Status::service_unavailable,
            Status::version_not_supported,
        };
        std::set<std::string_view> phrases;
        for (const Status s : all) {
            CAPTURE(code(s));
            CHECK(code(s) >= 200);
            CHECK(code(s) <= 599);
            CHECK_FALSE(reason_phrase(s).empty());
            CHECK(reason_phrase(s) != "Unknown");
            phrases.insert(reason_phrase(s));
        }
        CHECK(phrases.size() == std::size(all));
    }

    TEST_CASE("reason phrases follow RFC 9110") {
        CHECK(reason_phrase(Status::ok) == "OK");
        CHECK(reason_phrase(Status::not_found) == "Not Found");
        CHECK(reason_phrase(Status::bad_request) == "Bad Request");
        CHECK(reason_phrase(Status::uri_too_long) == "URI Too Long");
        CHECK(reason_phrase(Status::payload_too_large) == "Content Too Large");
        CHECK(reason_phrase(Status::header_too_large) == "Request Header Fields Too Large");
        CHECK(reason_phrase(Status::version_not_supported) == "HTTP Version Not Supported");
        CHECK(code(Status::header_too_large) == 431);
    }

    TEST_CASE("a status outside the enum still gets a phrase") {
        CHECK_FALSE(reason_phrase(static_cast<Status>(299)).empty());
    }
}
