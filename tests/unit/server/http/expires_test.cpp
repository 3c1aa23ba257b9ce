#include "server/http/expires.hpp"

#include <doctest/doctest.h>

#include <string>

using kahttpd::conf::ExpiresSpec;
using kahttpd::server::append_access_expires_prefix;
using kahttpd::server::append_expires_fields;
using kahttpd::server::expiry_time;
using Base = ExpiresSpec::Base;

TEST_SUITE("server") {

    TEST_CASE("expiry_time: access or modification plus seconds, never before now") {
        const std::time_t now = 1'700'000'000;
        CHECK(expiry_time({Base::access, 60}, 0, now) == now + 60);
        CHECK(expiry_time({Base::modification, 60}, now - 10, now) == now + 50);
        CHECK(expiry_time({Base::modification, 60}, now - 3600, now) == now);
    }

    TEST_CASE("append_expires_fields writes max-age and an IMF-fixdate") {
        const std::time_t now = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's)
        std::string out;
        append_expires_fields(out, {Base::access, 3600}, 0, now);
        CHECK(out == "Cache-Control: max-age=3600\r\nExpires: Sun, 06 Nov 1994 09:49:37 GMT\r\n");
        out.clear();
        append_expires_fields(out, {Base::modification, 86400}, now - 86400 - 5, now);
        CHECK(out == "Cache-Control: max-age=0\r\nExpires: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        out.clear();
        append_expires_fields(out, {}, 0, now);
        CHECK(out.empty());
        append_access_expires_prefix(out, {Base::access, 7});
        CHECK(out == "Cache-Control: max-age=7\r\nExpires: ");
    }

} // TEST_SUITE
