#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kahttpd::server {

/// Why a connection ended. Connection::close_after() owns the decision (the first reason wins;
/// a loss of framing replaces it). Every close is counted by reason per worker; the status page
/// shows the counts and the access log's %{close-reason}x the reason of each closing response.
enum class CloseReason : std::uint8_t {
    client_closed,    ///< the client closed (EOF), reset the connection, or broke the pipe
    idle_timeout,     ///< KeepAliveTimeout passed with no new request
    max_requests,     ///< MaxKeepAliveRequests reached
    header_timeout,   ///< the request head did not arrive within RequestReadTimeout header=
    body_timeout,     ///< the request body stalled (RequestReadTimeout body=, else Timeout)
    send_timeout,     ///< the client stopped reading the response for longer than Timeout
    parse_error,      ///< malformed or oversized request; framing lost
    keep_alive_off,   ///< KeepAlive Off
    client_requested, ///< "Connection: close", or HTTP/1.0 without keep-alive
    server_shutdown,  ///< SIGTERM/SIGINT drain
    reload,           ///< SIGHUP: a new configuration's workers took over
    io_error,         ///< a read or write failed (other than reset)
    overload,         ///< at the budget with no room to make: closed right after accept
    reaped,           ///< idle keep-alive, closed to make room for a new connection
    evicted,          ///< waited longest for its request head, closed to make room (408)
    max_lifetime,     ///< MaxKeepAliveTime passed: closed after the request that crossed it
    error_body,       ///< an error answer's request body was too large to discard: closed
    per_ip_limit,     ///< MaxConnectionsPerIP reached for its address: closed right after accept
    proxy_header,     ///< RemoteIPProxyProtocol: the PROXY header was missing, broken or late
    handshake_timeout, ///< the TLS handshake did not finish within RequestReadTimeout handshake=
    tls_error,         ///< the TLS handshake failed, or a record could not be decrypted
    count_
};

inline constexpr std::size_t kCloseReasonCount = static_cast<std::size_t>(CloseReason::count_);

/// snake_case name used in logs and JSON, e.g. "idle_timeout".
std::string_view to_string(CloseReason r) noexcept;

/// Per-worker counters of closes, indexed by CloseReason.
using CloseCounters = std::array<std::uint64_t, kCloseReasonCount>;

} // namespace kahttpd::server
