#pragma once

#include <cstdint>
#include <string_view>

namespace kahttpd::parser {

/// HTTP status codes kahttpd produces. Steps on the request path return one of these
/// (lwan's habit) instead of throwing.
enum class Status : std::uint16_t {
    ok = 200,
    no_content = 204,
    partial_content = 206,
    multiple_choices = 300,
    moved_permanently = 301,
    found = 302,
    see_other = 303,
    not_modified = 304,
    temporary_redirect = 307,
    permanent_redirect = 308,
    bad_request = 400,
    forbidden = 403,
    not_found = 404,
    method_not_allowed = 405,
    request_timeout = 408,
    gone = 410,
    length_required = 411,
    precondition_failed = 412,
    payload_too_large = 413,
    uri_too_long = 414,
    range_not_satisfiable = 416,
    expectation_failed = 417,
    header_too_large = 431,
    internal_error = 500,
    not_implemented = 501,
    service_unavailable = 503,
    version_not_supported = 505,
};

/// The numeric code, e.g. 404.
constexpr unsigned code(Status s) noexcept {
    return static_cast<unsigned>(s);
}

/// The reason phrase of RFC 9110 §15, e.g. "Not Found". Never empty.
std::string_view reason_phrase(Status s) noexcept;

} // namespace kahttpd::parser
