#pragma once

#include "parser/request.hpp"
#include "server/util/address.hpp"

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// What one access-log line describes. Views are valid only during the call.
struct AccessRecord {
    std::string_view client; ///< client IP as text (after RemoteIPHeader)
    std::string_view peer;   ///< the connection's peer IP (PROXY protocol applied); "" = client
    std::time_t time = 0;    ///< when the response was produced
    const parser::Request* request = nullptr; ///< null for a request that could not be parsed
    unsigned status = 0;
    std::uint64_t body_bytes = 0;        ///< bytes of body sent (0 for HEAD and 304)
    std::uint64_t duration_us = 0;       ///< from the request's first byte to its response
    std::uint32_t previous_requests = 0; ///< requests on this connection before this one
    bool keep_alive = true;              ///< the connection stays open after this response
    std::string_view close_reason;       ///< why it closes, when it does
    std::string_view server_name;        ///< the vhost's ServerName
    std::string_view tls_protocol;       ///< "TLSv1.3" on an https address, else ""
    std::string_view tls_cipher;         ///< OpenSSL's name of the cipher, else ""
    const IpBytes* local_ip = nullptr;   ///< the address the client reached (%A), as text only
                                         ///< when a format asks for it
    std::uint16_t local_port = 0;        ///< %p, %{local}p
    std::uint16_t remote_port = 0;       ///< %{remote}p: the connection's peer port
};

/// %X is not known when a line is formatted (the response may still be cut off): it is written
/// as one of these bytes and resolved when the response has been sent completely ('+' or '-')
/// or the connection ended first ('X'). Client text never carries them (control bytes are
/// escaped), so a scan finds only placeholders.
inline constexpr char kPendingKeepAlive = '\x01';
inline constexpr char kPendingClose = '\x02';

/// Replaces the %X placeholders in `line`: the decided '+'/'-', or 'X' when `aborted`.
void resolve_connection_status(char* line, std::size_t size, bool aborted) noexcept;

/// A compiled LogFormat: the format string cut into literal text and directives once at
/// start-up, so writing a line is a walk over a small vector. "json" is kahttpd's own format:
/// one JSON object per line.
class AccessLogFormat {
  public:
    /// Compiles Apache's format codes: %h %a %{c}a %l %u %t %r %s %>s %b %B %D %T %{ms}T %{us}T %k
    /// %X %m %U %q %H %v %{NAME}i %A %p %{local|remote|canonical}p and %% plus kahttpd's %{close-reason}x; unknown codes are written
    /// as "-". `format == "json"` selects the JSON lines format.
    explicit AccessLogFormat(std::string_view format);

    /// Appends one line (with its newline) for `r` to `out`.
    void append(std::string& out, const AccessRecord& r) const;

    /// Whether its lines carry %X placeholders (%X, or json's "connection") for
    /// resolve_connection_status(); lines without them need no scan.
    bool writes_status_marks() const noexcept { return status_marks_; }

  private:
    enum class Kind : std::uint8_t {
        text,
        client,
        peer,
        dash,
        time,
        request_line,
        status,
        bytes_clf,
        bytes,
        duration_us,
        duration_s,
        duration_ms,
        keepalive_count,
        connection_status,
        method,
        url_path,
        query,
        protocol,
        server_name,
        request_header,
        close_reason,
        ssl_protocol, ///< %{SSL_PROTOCOL}x (mod_ssl's variable)
        ssl_cipher,   ///< %{SSL_CIPHER}x
        local_ip,     ///< %A
        local_port,   ///< %p, %{local}p, %{canonical}p (the port the client reached)
        remote_port,  ///< %{remote}p
    };
    struct Piece {
        Kind kind;
        std::string text; ///< literal text, or the header name for request_header
    };
    bool json_ = false;
    bool status_marks_ = false;
    std::vector<Piece> pieces_;
};

} // namespace kahttpd::server
