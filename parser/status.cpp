#include "parser/status.hpp"

namespace kahttpd::parser {

std::string_view reason_phrase(Status s) noexcept {
    // RFC 9110 §15; 413 and 431 use the current names ("Content Too Large" replaced
    // "Payload Too Large" in RFC 9110, and 431 comes from RFC 6585 §5).
    switch (s) {
    case Status::ok:
        return "OK";
    case Status::no_content:
        return "No Content";
    case Status::partial_content:
        return "Partial Content";
    case Status::multiple_choices:
        return "Multiple Choices";
    case Status::moved_permanently:
        return "Moved Permanently";
    case Status::found:
        return "Found";
    case Status::see_other:
        return "See Other";
    case Status::not_modified:
        return "Not Modified";
    case Status::temporary_redirect:
        return "Temporary Redirect";
    case Status::permanent_redirect:
        return "Permanent Redirect";
    case Status::bad_request:
        return "Bad Request";
    case Status::forbidden:
        return "Forbidden";
    case Status::not_found:
        return "Not Found";
    case Status::method_not_allowed:
        return "Method Not Allowed";
    case Status::request_timeout:
        return "Request Timeout";
    case Status::gone:
        return "Gone";
    case Status::length_required:
        return "Length Required";
    case Status::precondition_failed:
        return "Precondition Failed";
    case Status::payload_too_large:
        return "Content Too Large";
    case Status::uri_too_long:
        return "URI Too Long";
    case Status::range_not_satisfiable:
        return "Range Not Satisfiable";
    case Status::expectation_failed:
        return "Expectation Failed";
    case Status::header_too_large:
        return "Request Header Fields Too Large";
    case Status::internal_error:
        return "Internal Server Error";
    case Status::not_implemented:
        return "Not Implemented";
    case Status::service_unavailable:
        return "Service Unavailable";
    case Status::version_not_supported:
        return "HTTP Version Not Supported";
    }
    // Only reachable with a value cast from outside the enum.
    return "Unknown";
}

} // namespace kahttpd::parser
