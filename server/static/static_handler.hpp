#pragma once

#include "parser/request.hpp"
#include "server/http/response.hpp"
#include "server/static/file_cache.hpp"
#include "server/static/site.hpp"
#include "server/util/address.hpp"

#include <cstdint>
#include <ctime>
#include <memory>

namespace kahttpd::server {

/// What the transport knows about a request that a handler needs besides the request itself.
/// Built by the connection for each request; the handler only reads it.
struct RequestInfo {
    const Site* site = nullptr;
    const HostContext* host = nullptr; ///< the virtual host chosen for the request
    /// The host was chosen from the request's Host field (error pages then name that host);
    /// false for an answer made before a request was understood (a parse error, a timeout).
    bool host_from_request = false;
    /// The client: the one a trusted proxy vouched for (RemoteIPHeader), else the peer.
    const IpBytes& client_ip() const noexcept {
        return useragent != nullptr ? *useragent : peer(owner, nullptr);
    }
    /// The peer's port (the connection's, whoever the client is).
    std::uint16_t client_port() const noexcept {
        std::uint16_t port = 0;
        peer(owner, &port);
        return port;
    }
    const IpBytes* useragent = nullptr; ///< RemoteIPHeader's client, when one was vouched for
    /// The connection's peer (TCP, or the PROXY header's source), through the connection: the
    /// kernel is asked (getpeername) only the first time something reads it, since most
    /// requests need it for nothing (no %h, no Require ip, no log line).
    const void* owner = nullptr;
    const IpBytes& (*peer)(const void* owner, std::uint16_t* port) noexcept = nullptr;
    const IpBytes* local_ip = nullptr; ///< the connection's address (it outlives the call)
    std::uint16_t local_port = 0;
    std::uint64_t now_ms = 0; ///< monotonic milliseconds (the open-file cache's clock)
    /// The wall clock in seconds, taken as the request is answered: the response's Date, and
    /// the latest Last-Modified it may carry (RFC 9110 §8.8.2.1). Must be set (0 is 1970).
    std::time_t now = 0;
    std::uint64_t conn_id = 0; ///< for log lines: conn=ID client=IP:PORT
};

/// Keeps alive what a Response points into until the connection has sent it: the pinned
/// cache entry (whose memory a large body is written from, ConnectionBusy::mem_body_), an entry
/// built for this response only, the merged section settings. Lives beside the Response in the
/// busy connection; reset for the next request, which is not parsed before the body is out.
struct ResponseScope {
    FileRef file;
    std::unique_ptr<FileEntry> uncached;
    std::unique_ptr<conf::Effective> merged;

    void reset() noexcept {
        file.reset();
        uncached.reset();
        merged.reset();
    }
};

/// How a request is answered: now (the Response is filled), or by another handler that needs
/// the transport first (the status page gathers every worker's figures).
enum class Route : std::uint8_t { respond, server_status };

/// The static handler (h2o's lib/handler/file.c, Beast's handle_request): GET, HEAD and OPTIONS
/// for files, directory listings and redirects under the host's DocumentRoot, with Require,
/// preconditions (304/412), ranges (206/416), precompressed variants, ErrorDocument and the
/// built-in error pages. Fills `out` (reset by the caller) and pins in `scope` what `out` points
/// into. No socket I/O: the only system calls are the file system's (through the open-file
/// cache, which is this thread's). The persistence decision is the transport's; the handler
/// only asks for a close (out.close) when framing or a descriptor is at stake.
Route handle_static(const parser::Request& req, const RequestInfo& info, Response& out,
                    ResponseScope& scope) noexcept;

/// An error answer made by the handler or by the transport (a parse error, a 408): the
/// ErrorDocument of `settings` for the status, else the built-in page (Apache's footer when
/// ServerSignature asks). `req` may be null (no request understood). `extra` header lines are
/// kept (Allow, Content-Range); a 405 always gets its Allow. Sets out.error, and out.close when
/// `close` is true; out.settings = &settings.
void error_response(parser::Status status, const parser::Request* req, const RequestInfo& info,
                    const conf::Effective& settings, Response& out, bool close = false,
                    std::string_view extra = {}) noexcept;

/// The virtual host for `req` (Host field, local address and port).
const HostContext& select_vhost(const Site& site, const parser::Request& req,
                                const IpBytes& local_ip, std::uint16_t local_port) noexcept;
inline const HostContext& select_host(const Site& site, const parser::Request& req,
                                      const IpBytes& local_ip, std::uint16_t local_port) noexcept {
    return site.config->vhosts.empty() ? site.hosts[0]
                                       : select_vhost(site, req, local_ip, local_port);
}

/// The host a connection to `local_ip`:`local_port` belongs to before a request names one: the
/// first vhost of that address, else the main server (Apache's default server for an address).
/// Requests refused before a vhost is chosen (a malformed head, a bad Host, a head timeout)
/// are answered and logged as this host's. A look-up: for those rare paths, never per request.
const HostContext& default_host(const Site& site, const IpBytes& local_ip,
                                std::uint16_t local_port) noexcept;

/// LimitRequestBody for the request's target (its vhost, Directory and Location sections), for
/// a body whose length is not known up front.
std::uint64_t body_limit_for(const parser::Request& req, const RequestInfo& info) noexcept;

/// The calling worker's open-file cache, set up for `site` (FileCacheSize, FileCacheEntries,
/// FileCacheValid; a quarter of the descriptor limit shared among the workers).
FileCache& configure_file_cache(const Site& site) noexcept;
inline FileCache& file_cache_for(const Site& site) noexcept {
    FileCache& cache = FileCache::for_this_thread();
    return cache.owner() == &site ? cache : configure_file_cache(site);
}

/// The settings a request for `raw_target` would get (its sections, after Alias), for answers
/// outside the file path (OPTIONS, a chunked body's limit, the type of an ErrorDocument file):
/// the host's base settings when no section applies or the target does not resolve.
conf::Effective settings_for(const RequestInfo& info, std::string_view raw_target);

/// Options FollowSymLinks / SymLinksIfOwnerMatch as an open policy.
SymlinkPolicy symlink_policy(const conf::Effective& eff) noexcept;

/// The methods kahttpd serves, for OPTIONS and 405 answers.
inline constexpr std::string_view kAllowHeader = "Allow: GET, HEAD, OPTIONS\r\n";

} // namespace kahttpd::server
