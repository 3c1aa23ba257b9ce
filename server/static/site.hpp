#pragma once

#include "conf/config.hpp"
#include "conf/mime_types.hpp"
#include "server/obs/log.hpp"
#include "server/static/static_file.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kahttpd::server {

/// One virtual host (or the main server) ready to serve: its document root opened, and the
/// settings that apply when no <Directory>/<Location> section matches, merged once.
struct HostContext {
    const conf::VirtualHost* vhost = nullptr;
    std::unique_ptr<DocumentRoot> root;
    conf::Effective base;      ///< effective settings at the document root, no sections
    bool has_sections = false; ///< a section may apply: merge per request
    /// One root per Alias/AliasMatch rule that applies to this host, in the order
    /// VirtualHost::map_url counts them (this vhost's, then the main server's): each alias
    /// target is confined like a DocumentRoot (openat2 RESOLVE_BENEATH).
    std::vector<std::unique_ptr<DocumentRoot>> alias_roots;
    bool has_url_map = false; ///< a Redirect or Alias rule may apply: ask map_url
    /// Its logs, resolved with the host once per generation so that a request reaches them
    /// through its host pointer, with no look-up: the access-log sinks its requests are written
    /// to (indexes into the transport's SharedState::access_logs: its own CustomLog lines, else
    /// the main server's), and its error log (its own ErrorLog and LogLevel, else the main
    /// server's). Set by the transport when it builds a generation; empty here.
    std::vector<std::uint16_t> access_logs;
    ErrorLogTarget error_log;
    /// AllowEncodedSlashes for this host (its own or the main server's): resolve_target's.
    conf::EncodedSlashes encoded_slashes = conf::EncodedSlashes::off;
};

/// The context of `vh` (the main server or one of cfg's vhosts): its DocumentRoot opened (check
/// root->ok()), its base settings merged once.
HostContext make_host(const conf::Config& cfg, const conf::VirtualHost& vh);

/// What the handlers read of a configuration generation: built by the main thread before the
/// workers start, read-only while they serve, outliving them. (io/'s SharedState extends it
/// with what only the transport needs.)
struct Site {
    const conf::Config* config = nullptr;
    const conf::MimeTypes* mime = nullptr;
    std::vector<HostContext> hosts; ///< [0] is the main server, then config->vhosts in order
    std::string server_header;      ///< "Server: ...\r\n" as ServerTokens asks
    std::string server_version;     ///< "kahttpd/0.1.0", for ServerSignature
    /// Process-wide, set by the main thread when a stop begins (GracefulShutdownDelay): the
    /// health handler (SetHandler server-health) answers 503 from then on. Null: never.
    const std::atomic<bool>* draining = nullptr;

    /// The context of a vhost returned by Config::select_vhost.
    const HostContext& host_for(const conf::VirtualHost& vh) const noexcept {
        if (&vh == &config->main || config->vhosts.empty()) {
            return hosts[0];
        }
        return hosts[static_cast<std::size_t>(&vh - config->vhosts.data()) + 1];
    }
};

} // namespace kahttpd::server
