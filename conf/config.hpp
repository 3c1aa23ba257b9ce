#pragma once

#include "conf/sections.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kahttpd::conf {

/// One `Listen [addr:]port` directive. An empty host means every address (Apache's
/// `Listen 8080`). Port 0 asks the kernel for a free port (used by tests).
struct ListenAddr {
    std::string host; ///< "127.0.0.1", "::1", or "" for all addresses
    std::uint16_t port = 0;
    std::string where; ///< "file:line" of the directive, for messages
    /// `Listen ... https` (or port 443 without a protocol, as Apache): connections to this
    /// address speak TLS, with the certificate of the virtual host SNI names.
    bool https = false;
};

/// The typed result of reading a configuration. Values are final: relative paths are
/// already resolved against ServerRoot, durations are in milliseconds.
struct Config {
    using LogLevel = conf::LogLevel;
    using CustomLog = conf::CustomLog;

    std::filesystem::path config_file;   ///< the -f file, absolute
    std::filesystem::path server_root;   ///< default: the folder above the config file
    std::vector<ListenAddr> listen;      ///< at least one (a config without Listen is an error)
    std::string server_name;             ///< ServerName as written; "" when not set
    std::filesystem::path document_root; ///< default: ServerRoot/www
    std::vector<std::string> directory_index{"index.html"};
    bool keep_alive = true;
    std::chrono::milliseconds keep_alive_timeout{5000};
    std::uint32_t max_keep_alive_requests = 100; ///< 0 = unlimited
    /// KeepAliveMinTimeout: an idle connection is never reaped, and the idle timeout never
    /// slides, below this (RFC 9112 §9.6: a client sending its next request must not meet a
    /// reset). Clamped to KeepAliveTimeout.
    std::chrono::milliseconds keep_alive_min_timeout{1000};
    /// MaxKeepAliveTime DURATION [JITTER%]: how long a connection may live (0 = no cap), each
    /// connection's cap shortened by a random part of up to JITTER percent.
    std::chrono::milliseconds max_keep_alive_time{0};
    std::uint32_t max_keep_alive_time_jitter = 10;
    std::chrono::milliseconds timeout{60000}; ///< send timeout for a client not reading
    /// RequestReadTimeout header=T[-MAX][,MinRate=R] (Apache's default header=20-40,MinRate=500):
    /// T to receive the whole request head, extended by 1 s per R bytes received up to MAX.
    /// 0 = disabled (the core Timeout then bounds the wait).
    std::chrono::milliseconds request_read_timeout_header{20000};
    std::chrono::milliseconds request_read_timeout_header_max{40000}; ///< 0 = no extension cap
    std::uint32_t request_read_timeout_header_min_rate = 500;         ///< bytes/s; 0 = none
    /// RequestReadTimeout body=T[-MAX][,MinRate=R] (Apache's default body=20,MinRate=500): T to
    /// receive the whole body, extended by 1 s per R bytes received (up to MAX when given).
    std::chrono::milliseconds request_read_timeout_body{20000};
    std::chrono::milliseconds request_read_timeout_body_max{0}; ///< 0 = no cap
    std::uint32_t request_read_timeout_body_min_rate = 500;
    /// RequestReadTimeout handshake=T[-MAX][,MinRate=R] (Apache 2.4.39+; off by default): the
    /// TLS handshake (and a PROXY header) within T, extended by 1 s per R bytes up to MAX.
    /// 0 = the header window applies instead.
    std::chrono::milliseconds request_read_timeout_handshake{0};
    std::chrono::milliseconds request_read_timeout_handshake_max{0}; ///< 0 = no cap
    std::uint32_t request_read_timeout_handshake_min_rate = 0;        ///< bytes/s; 0 = none
    std::uint32_t limit_request_line = 8190;
    std::uint32_t limit_request_field_size = 8190;
    std::uint32_t limit_request_fields = 100;
    std::uint64_t limit_request_body = 1073741824; ///< Apache's default (1 GiB); 0 = unlimited
    std::filesystem::path types_config{"/etc/mime.types"}; ///< may be missing: see warnings
    unsigned workers = 0;                                  ///< 0 = auto (one per CPU)
    /// `workers`, or for auto one per CPU this process may run on (sched_getaffinity: under
    /// `taskset -c 0` or a cgroup's cpuset, only those), at least 1.
    unsigned worker_count() const noexcept;

    // ---- Configuration language, complete (sections and the directives beyond the core) ----

    /// The main server: server-level DirSettings, <Directory>/<Location> sections outside any
    /// vhost, ServerName/ServerAdmin/DocumentRoot at server level. Its document_root mirrors
    /// `document_root` above, its server_name mirrors `server_name`.
    VirtualHost main;
    /// <VirtualHost> sections in configuration order (the first for an address is its default).
    std::vector<VirtualHost> vhosts;

    enum class ServerTokens : std::uint8_t { prod, major, minor, min, os, full };
    ServerTokens server_tokens = ServerTokens::full; ///< Apache's default (Full)
    enum class ServerSignature : std::uint8_t { off, on, email };
    ServerSignature server_signature = ServerSignature::off;
    std::filesystem::path pid_file; ///< "" = none (Apache's default logs/httpd.pid is not used)
    /// User and Group: who the server runs as once it has bound its sockets and opened its
    /// logs, when started as root (server/io/privileges.cpp). Resolved at load, so that -t
    /// catches a name this system does not have.
    struct Account {
        std::string name;    ///< as resolved ("www-data"; "#33" when given by number)
        std::uint32_t id = 0; ///< uid or gid
    };
    std::optional<Account> user;  ///< User; none = keep running as started
    std::optional<Account> group; ///< Group; none with a User = the user's primary group
    /// The main server's logs (a <VirtualHost> may have its own: VirtualHost::custom_logs ...).
    std::string error_log; ///< path, or "" = stderr
    LogLevel log_level = LogLevel::warn;
    /// LogFormat nickname -> format string, for every scope (nicknames are global);
    /// "common" and "combined" predefined.
    std::map<std::string, std::string> log_formats;
    std::vector<CustomLog> custom_logs;
    std::uint32_t max_connections = 0;        ///< MaxConnections, per server; 0 = unlimited
    std::uint32_t max_connections_per_ip = 0; ///< MaxConnectionsPerIP; 0 = off
    std::chrono::milliseconds graceful_shutdown_timeout{10000};
    /// GracefulShutdownDelay: at a stop, how long the server keeps listening and serving while
    /// its health handler (SetHandler server-health) answers 503, before the drain begins.
    std::chrono::milliseconds graceful_shutdown_delay{0};
    /// The open-file cache of each worker (kahttpd's; see docs/configuration.md):
    /// FileCacheSize, bytes per worker (0 disables the cache); FileCacheEntries, entries per
    /// worker; FileCacheValid, how long a cached file is trusted before it is checked again
    /// with stat (0 = on every request).
    std::uint64_t file_cache_size = 16u << 20;
    std::uint32_t file_cache_entries = 4096;
    std::chrono::milliseconds file_cache_valid{1000};
    /// AcceptFilter http|https data|none: TCP_DEFER_ACCEPT on the listening sockets of that
    /// protocol, so the kernel hands over a connection only once its first bytes arrived (a
    /// request, a ClientHello, a PROXY header). On by default for both, as Apache on Linux.
    bool accept_filter_http = true;
    bool accept_filter_https = true;
    /// TCP-level keepalive on accepted sockets (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT): off by
    /// default; when on, the probe starts after 2 h idle, as RFC 1122 asks.
    bool tcp_keepalive = false;
    std::chrono::seconds tcp_keepalive_idle{7200};
    std::chrono::seconds tcp_keepalive_interval{75};
    std::uint32_t tcp_keepalive_count = 9;
    /// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the kernel drops the
    /// connection; 0 = the kernel's default.
    std::chrono::milliseconds tcp_user_timeout{0};
    std::map<std::string, std::string> defines; ///< Define and -D, for ${VAR}

    /// Directives, for `kahttpd -T`: where each server-wide value came from ("" = default),
    /// keyed by directive name as in docs/configuration.md.
    std::map<std::string, Source> sources;

    /// The vhost that serves a request that arrived on local address `local_ip`:`local_port`
    /// with Host `host` (normalised with normalize_host; may be empty). Apache's rule: among
    /// vhosts whose address matches the connection (exact IP first, then '*'), the first whose
    /// name matches, else the first of them; when none matches the address, the main server.
    const VirtualHost& select_vhost(std::string_view local_ip, std::uint16_t local_port,
                                    std::string_view host) const noexcept;

    /// True when a Listen address speaks TLS.
    bool tls_anywhere() const noexcept;
    /// True when vhost address `a` receives connections of listener `l` (a wildcard on either
    /// side, or the same address; port 0 on either side matches any port).
    static bool address_serves(const VirtualHost::Address& a, const ListenAddr& l) noexcept;

    /// True when RemoteIPProxyProtocol On appears anywhere (the server checks each new
    /// connection only then).
    bool proxy_protocol_anywhere() const noexcept;
    /// Whether a connection from `peer` to `local`:`local_port` (16 bytes each, IPv4 mapped)
    /// must start with a PROXY header. Apache's rule: the setting is per address, not per
    /// name; the main server's applies to every address, and each vhost whose address matches
    /// overrides it in configuration order (the last one wins). A peer inside any applicable
    /// RemoteIPProxyProtocolExceptions network is exempt.
    bool proxy_protocol_for(const std::array<std::uint8_t, 16>& local, std::uint16_t local_port,
                            const std::array<std::uint8_t, 16>& peer) const noexcept;
};

/// One problem found while reading a configuration.
struct ConfigError {
    std::string file;      ///< the file the directive is in (an Include'd file's own name)
    int line = 0;          ///< 1-based line of the directive's first line
    std::string directive; ///< directive name as written
    std::string message;   ///< "expected ..., found ..."

    /// "FILE:LINE: Directive: message", the form printed by `kahttpd -t`. A problem that
    /// belongs to no line (a missing Listen, an unreadable -f file) has line 0 and prints as
    /// "FILE: Directive: message"; an empty directive is left out the same way.
    std::string to_string() const;
};

/// Everything found while loading: the config (meaningful only when errors is empty), every
/// error, and warnings that do not stop the start.
struct LoadResult {
    Config config;
    std::vector<ConfigError> errors;
    std::vector<ConfigError> warnings;
};

/// Reads and validates a configuration file and everything it Includes. Never throws for a
/// problem in the file: every problem is collected into errors. `defines` are the -D names
/// (for <IfDefine> and ${VAR}). Thread: any, no shared state.
LoadResult load_config(const std::filesystem::path& file,
                       const std::vector<std::string>& defines = {});

/// The same from text already in memory; `name` is used in messages and to derive the
/// default ServerRoot (its parent's parent). For tests.
LoadResult load_config_text(const std::string& text, const std::filesystem::path& name,
                            const std::vector<std::string>& defines = {});

/// The effective configuration as JSON for `kahttpd -T`: every server-wide directive with its
/// value and source, and every vhost (main server first) with its resolved values, sections
/// and sources.
nlohmann::json dump_json(const Config& config);

/// What `kahttpd -T` prints: dump_json() indented by two spaces. A configuration is bytes, JSON
/// text is UTF-8 (RFC 8259 §8.1): a value that is not UTF-8 (a Latin-1 path or Header value)
/// has each invalid sequence written as U+FFFD, so the text is always valid JSON.
std::string dump_json_text(const Config& config);

/// The virtual host map for `kahttpd -S`, in the style of `apachectl -S`.
std::string vhost_map(const Config& config);

/// Module names kahttpd reports as loaded for <IfModule> (features it has built in), e.g.
/// "mod_mime.c", "mime_module", "mod_headers.c", "headers_module" ...
bool builtin_module(std::string_view name) noexcept;

} // namespace kahttpd::conf
