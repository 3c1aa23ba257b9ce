#include "server/http/close_reason.hpp"

namespace kahttpd::server {

std::string_view to_string(CloseReason r) noexcept {
    switch (r) {
    case CloseReason::client_closed:
        return "client_closed";
    case CloseReason::idle_timeout:
        return "idle_timeout";
    case CloseReason::max_requests:
        return "max_requests";
    case CloseReason::header_timeout:
        return "header_timeout";
    case CloseReason::body_timeout:
        return "body_timeout";
    case CloseReason::send_timeout:
        return "send_timeout";
    case CloseReason::parse_error:
        return "parse_error";
    case CloseReason::keep_alive_off:
        return "keep_alive_off";
    case CloseReason::client_requested:
        return "client_requested";
    case CloseReason::server_shutdown:
        return "server_shutdown";
    case CloseReason::reload:
        return "reload";
    case CloseReason::io_error:
        return "io_error";
    case CloseReason::overload:
        return "overload";
    case CloseReason::reaped:
        return "reaped";
    case CloseReason::evicted:
        return "evicted";
    case CloseReason::max_lifetime:
        return "max_lifetime";
    case CloseReason::error_body:
        return "error_body";
    case CloseReason::per_ip_limit:
        return "per_ip_limit";
    case CloseReason::proxy_header:
        return "proxy_header";
    case CloseReason::handshake_timeout:
        return "handshake_timeout";
    case CloseReason::tls_error:
        return "tls_error";
    case CloseReason::count_:
        break;
    }
    return "unknown";
}

} // namespace kahttpd::server
