#pragma once

#include "parser/request.hpp"
#include "parser/status.hpp"

#include <optional>
#include <string_view>

// The authority a request names (RFC 9110 §7.2, RFC 9112 §3.2): the rules for the Host field
// and for the authority of an absolute-form target. Pure functions, no I/O.
namespace kahttpd::parser {

/// True when `value` is `uri-host [ ":" port ]` of RFC 3986 §3.2.2-3.2.3 with a host that is
/// not empty: a reg-name (unreserved, pct-encoded and sub-delims, which covers IPv4 too), an
/// `[IPv6]` literal or an `[vX.future]` literal, then an optional port of digits. Refused
/// besides the grammar: an empty host (RFC 9110 §4.2.1: an http URI never has one) and a
/// comma, a sub-delim in URIs but, in a field value, the mark of several Host lines combined
/// (RFC 9110 §5.3). An empty port ("a.test:") is the grammar's `*DIGIT` and accepted; it
/// means the default port (RFC 3986 §6.2.3).
bool is_valid_authority(std::string_view value) noexcept;

/// The authority part of an absolute-form target ("http://a.test:8080/x" gives
/// "a.test:8080", "http://a.test?q" gives "a.test"), or nullopt for any other form (origin,
/// asterisk, authority-form). The view points into `target`.
std::optional<std::string_view> absolute_form_authority(std::string_view target) noexcept;

/// What a request says about its host.
struct HostCheck {
    Status status = Status::ok; ///< ok, or bad_request
    const char* reason = "";    ///< a string literal for logs, empty when ok
};

/// RFC 9112 §3.2: 400 for an HTTP/1.1 request without a Host field, for any request with
/// more than one Host field or with an invalid Host value (is_valid_authority), and for an
/// absolute-form target whose authority is invalid (userinfo included: RFC 9110 §4.2.4 asks a
/// recipient to treat it as an error). A valid Host next to an absolute-form target is not
/// compared with it: the target wins (request_host).
HostCheck check_host(const Request& request) noexcept;

/// The host the request is for, as sent (port included): the authority of an absolute-form
/// target, which overrides the Host field (RFC 9112 §3.2.2), else the Host field's value,
/// else empty (HTTP/1.0 without Host). The view points into `request`.
std::string_view request_host(const Request& request) noexcept;

} // namespace kahttpd::parser
