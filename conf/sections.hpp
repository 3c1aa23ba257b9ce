#pragma once

#include "conf/expires.hpp"
#include "conf/regex.hpp"
#include "conf/url_map.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::conf {

/// Where a value came from: "FILE:LINE" of the directive, or "" for a built-in default.
using Source = std::string;

/// A value and the directive that set it (for `kahttpd -T`).
template <typename T> struct Setting {
    T value{};
    Source from;
};

/// `Options` as a delta, so `+Indexes`/`-Indexes` merge over the enclosing section as in
/// Apache. A plain list (no +/-) replaces: `absolute` is true and `on` is the whole set.
struct OptionsSpec {
    static constexpr std::uint8_t kIndexes = 1;
    static constexpr std::uint8_t kFollowSymLinks = 2;
    static constexpr std::uint8_t kSymLinksIfOwnerMatch = 4;
    static constexpr std::uint8_t kAll = kIndexes | kFollowSymLinks | kSymLinksIfOwnerMatch;

    bool absolute = false; ///< no +/- given: replaces the inherited set
    std::uint8_t on = 0;   ///< options added (or the whole set when absolute)
    std::uint8_t off = 0;  ///< options removed (only when !absolute)

    /// The options in effect when this spec is applied over `inherited`.
    std::uint8_t apply(std::uint8_t inherited) const noexcept {
        return absolute ? on : static_cast<std::uint8_t>((inherited | on) & ~off);
    }
};

/// One IPv4 or IPv6 network for `Require ip`. IPv4 is stored as an IPv4-mapped IPv6 address
/// (::ffff:a.b.c.d) with prefix + 96, so one comparison serves both families.
struct IpNetwork {
    std::array<std::uint8_t, 16> addr{};
    std::uint8_t prefix = 128;

    /// True when `ip` (16 bytes, IPv4 mapped as above) is inside the network.
    bool contains(const std::array<std::uint8_t, 16>& ip) const noexcept;

    bool operator==(const IpNetwork&) const = default;
};

/// `Require` lines of one section. Several lines in one section: any may grant (Apache's
/// implicit <RequireAny>). `Require not ...` is not supported.
struct AccessRule {
    enum class Kind : std::uint8_t { all_granted, all_denied, ip, local };
    struct Requirement {
        Kind kind = Kind::all_granted;
        std::vector<IpNetwork> networks; ///< for Kind::ip

        bool operator==(const Requirement&) const = default;
    };
    std::vector<Requirement> any;

    /// Whether a client at `ip` (16 bytes, IPv4 mapped) is allowed. `local` means the client
    /// address is a loopback address (127.0.0.0/8, ::1) or equals the connection's local
    /// address (`server_ip`), as Apache's `Require local`. An empty rule grants.
    bool allows(const std::array<std::uint8_t, 16>& ip,
                const std::array<std::uint8_t, 16>& server_ip) const noexcept;
    /// Whether any line depends on the client's address (`Require ip`, `Require local`).
    bool names_addresses() const noexcept {
        for (const Requirement& r : any) {
            if (r.kind == Kind::ip || r.kind == Kind::local) {
                return true;
            }
        }
        return false;
    }

    bool operator==(const AccessRule&) const = default;
};

/// One `Header [always] set|append|merge|unset|add NAME [VALUE]` directive.
struct HeaderRule {
    enum class Action : std::uint8_t { set, append, merge, add, unset };
    Action action = Action::set;
    bool always = false; ///< `always`: applies to error responses too (Apache's table choice)
    std::string name;
    std::string value; ///< empty for unset
    Source from;

    bool operator==(const HeaderRule&) const = default;
};

/// `ErrorDocument CODE TARGET`: a local URL ("/404.html"), a full URL (redirect), or a text
/// message (quoted in the file, starting with '"' in Apache's syntax).
struct ErrorDocument {
    enum class Kind : std::uint8_t { local_url, redirect, text };
    Kind kind = Kind::local_url;
    std::string target; ///< URL path, full URL, or message text

    bool operator==(const ErrorDocument&) const = default;
};

/// `AllowEncodedSlashes` (core): what an encoded slash (%2F, any case) in a request's path means.
enum class EncodedSlashes : std::uint8_t {
    off,       ///< the request is refused with 404 (Apache's default)
    on,        ///< decoded: a path separator like '/'
    no_decode, ///< accepted and kept as the three characters sent: part of a name
};

/// `FileETag` components.
struct FileETagSpec {
    static constexpr std::uint8_t kINode = 1, kMTime = 2, kSize = 4;
    std::uint8_t parts = kMTime | kSize; ///< Apache 2.4's default: MTime Size; 0 = None

    bool operator==(const FileETagSpec&) const = default;
};

/// The output filters kahttpd implements, as bits (AddOutputFilterByType, SetOutputFilter):
/// on-the-fly compression, made once per file version and kept in the open-file cache.
struct OutputFilters {
    static constexpr std::uint8_t kDeflate = 1; ///< DEFLATE (mod_deflate): gzip
    static constexpr std::uint8_t kBrotli = 2;  ///< BROTLI_COMPRESS (mod_brotli): br
};

/// How a per-directory setting of an inner section combines with the one it inherits. Each
/// kind fixes the member types the setting gets: `stored` in DirSettings (empty = inherit),
/// `value` in Effective, and `source` for where `kahttpd -T` says the effective value came from.
/// The merge itself is conf/detail/dir_merge.hpp's merge_layer().
namespace merge {

/// The inner value replaces the inherited one.
template <typename T> struct Replace {
    using stored = std::optional<Setting<T>>;
    using value = T;
    using source = Source;
};

/// `Options`: the inner spec's +/- (or its absolute set) applied over the inherited option bits
/// (OptionsSpec::apply).
struct Options {
    using stored = std::optional<Setting<OptionsSpec>>;
    using value = std::uint8_t;
    using source = Source;
};

/// Nothing to trace apart from the value: each element carries its own `from`.
struct InElements {};

/// Rules that add up: the inner ones run after the inherited ones, outer first (`Header`).
template <typename T> struct Append {
    using stored = std::vector<T>;
    using value = std::vector<T>;
    using source = InElements;
};

/// A map merged key by key: an inner entry replaces the inherited one for the same key, the
/// other inherited keys stay.
template <typename K, typename V> struct PerKey {
    using stored = std::map<K, Setting<V>>;
    using value = std::map<K, V>;
    using source = std::map<K, Source>;
};
/// By status code (`ErrorDocument`).
template <typename V> using PerStatus = PerKey<int, V>;
/// By file name extension, lower case without the dot (`AddType`).
template <typename V> using PerExtension = PerKey<std::string, V>;
/// By media type, lower case without parameters (`AddOutputFilterByType`, `ExpiresByType`,
/// which also takes "type/*").
template <typename V> using PerMediaType = PerKey<std::string, V>;

} // namespace merge

/// Every directive that may appear at server level, in <VirtualHost>, <Directory> and
/// <Location>, declared once: X(member, "Directive", merge kind, Effective's initializer).
/// DirSettings and Effective get one member each, and the merge (VirtualHost::effective), the
/// trace of sources and the `-T` dump (dump.cpp) walk this list. Adding a per-directory
/// directive: one line here, its handler and table row in the loader (conf/directives/), and
/// an overload in dump.cpp when its value is not shown as plain JSON.
///
/// Values: `handler` is SetHandler's ("server-status" ...; "none"/"default-handler" = "", the
/// static-file handler); `default_charset` is AddDefaultCharset's (Off = ""); `force_type` is
/// ForceType's (None = "": the type by extension); `add_charsets` and `add_encodings` are
/// AddCharset's and AddEncoding's, by extension, lower case (an encoding normalised: "gzip" for
/// "x-gzip"; conf::file_metadata() applies them); `options` starts
/// at Apache 2.4's default; `limit_request_body` 0 = unlimited (Apache's default is 1 GiB);
/// `precompressed_files` (kahttpd's) serves foo.br / foo.gz beside foo when accepted;
/// Compression on the fly (docs/configuration.md, "Compression"): `output_filters_by_type`
/// is AddOutputFilterByType's, by media type (lower case, no parameters) to OutputFilters bits;
/// `set_output_filter` SetOutputFilter's bits for every type; `compress_min_length` (kahttpd's)
/// the smallest file compressed; `deflate_level` and `brotli_quality` are
/// DeflateCompressionLevel's and BrotliCompressionQuality's.
/// `max_ranges` 0 = unlimited, and more ranges than that get the whole file (Apache);
/// `redirect` is mod_alias's `Redirect [status] URL` in a section (status 0 = none);
/// `expires_*` are mod_expires' (ExpiresByType keyed by the lower-case media type, "image/*"
/// allowed; conf::expires_for() chooses).
#define KAHTTPD_DIR_SETTINGS(X)                                                                    \
    X(options, "Options", merge::Options, {OptionsSpec::kFollowSymLinks})                          \
    X(directory_index, "DirectoryIndex", merge::Replace<std::vector<std::string>>, {"index.html"}) \
    X(require, "Require", merge::Replace<AccessRule>, {})                                          \
    X(headers, "Header", merge::Append<HeaderRule>, {})                                            \
    X(error_documents, "ErrorDocument", merge::PerStatus<ErrorDocument>, {})                       \
    X(handler, "SetHandler", merge::Replace<std::string>, {})                                      \
    X(add_types, "AddType", merge::PerExtension<std::string>, {})                                  \
    X(default_charset, "AddDefaultCharset", merge::Replace<std::string>, {})                       \
    X(force_type, "ForceType", merge::Replace<std::string>, {})                                    \
    X(add_charsets, "AddCharset", merge::PerExtension<std::string>, {})                            \
    X(add_encodings, "AddEncoding", merge::PerExtension<std::string>, {})                          \
    X(file_etag, "FileETag", merge::Replace<FileETagSpec>, {})                                     \
    X(enable_sendfile, "EnableSendfile", merge::Replace<bool>, {true})                             \
    X(limit_request_body, "LimitRequestBody", merge::Replace<std::uint64_t>, {1073741824})         \
    X(precompressed_files, "PrecompressedFiles", merge::Replace<bool>, {true})                     \
    X(output_filters_by_type, "AddOutputFilterByType", merge::PerMediaType<std::uint8_t>, {})      \
    X(set_output_filter, "SetOutputFilter", merge::Replace<std::uint8_t>, {0})                     \
    X(compress_min_length, "CompressMinLength", merge::Replace<std::uint64_t>, {256})              \
    X(deflate_level, "DeflateCompressionLevel", merge::Replace<std::uint32_t>, {6})                \
    X(brotli_quality, "BrotliCompressionQuality", merge::Replace<std::uint32_t>, {5})              \
    X(max_ranges, "MaxRanges", merge::Replace<std::uint32_t>, {200})                               \
    X(redirect, "Redirect", merge::Replace<SectionRedirect>, {})                                   \
    X(expires_active, "ExpiresActive", merge::Replace<bool>, {false})                              \
    X(expires_default, "ExpiresDefault", merge::Replace<ExpiresSpec>, {})                          \
    X(expires_by_type, "ExpiresByType", merge::PerMediaType<ExpiresSpec>, {})

/// The per-directory directives of one level (server, <VirtualHost>, <Directory> or
/// <Location>), one member per KAHTTPD_DIR_SETTINGS entry. Every member is empty when unset
/// (unset = inherit).
struct DirSettings {
#define KAHTTPD_DIR_MEMBER(member, directive, kind, init) kind::stored member;
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_MEMBER)
#undef KAHTTPD_DIR_MEMBER
};

/// A <Directory path> (absolute, normalised, no trailing slash), <Location /prefix> or
/// <Files name> (shell wildcards), or one of their regular-expression forms (<DirectoryMatch>,
/// <LocationMatch>, <FilesMatch>, and `~` in the plain tags): then `regex` is set and `match`
/// holds the pattern as written.
struct Section {
    std::string match;
    DirSettings settings;
    Source from;
    Regex regex;
    /// A <Files>/<FilesMatch> nested in a <Directory>: that directory's path; the section then
    /// applies only to files beneath it (Apache's rule). "" elsewhere.
    std::string within;
};

/// The settings in effect for one request: every KAHTTPD_DIR_SETTINGS entry resolved, starting
/// from its initializer there. Produced by VirtualHost::effective(); cheap to copy for the
/// common case of no sections. `require` empty = granted.
struct Effective {
#define KAHTTPD_DIR_MEMBER(member, directive, kind, init) kind::value member init;
    KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_MEMBER)
#undef KAHTTPD_DIR_MEMBER
};

/// LogLevel's levels as Apache names them, most severe first.
enum class LogLevel : std::uint8_t { emerg, alert, crit, error, warn, notice, info, debug };

/// One `CustomLog FILE FORMAT` line.
struct CustomLog {
    std::string target; ///< absolute path, or "/dev/stdout" / "/dev/stderr"
    std::string format; ///< the format string (a nickname is resolved), or "json"
    Source from;
};

/// The main server or one <VirtualHost>. Keep-alive, timeouts and limits of the request head
/// stay server-wide (they apply before the Host header is known).
/// mod_ssl's settings of one host as written (docs/configuration.md, "TLS"). Unset values
/// inherit the main server's, as Apache merges them (TlsSettings::merged()).
struct TlsSettings {
    static constexpr std::uint8_t kTls12 = 1; ///< bit of `protocols`
    static constexpr std::uint8_t kTls13 = 2; ///< bit of `protocols`
    std::optional<Setting<bool>> engine;                           ///< SSLEngine
    std::optional<Setting<std::filesystem::path>> certificate_file; ///< with its chain
    std::optional<Setting<std::filesystem::path>> key_file; ///< none: the key is in the cert file
    std::optional<Setting<std::uint8_t>> protocols;         ///< SSLProtocol, kTls12 | kTls13
    std::optional<Setting<std::string>> cipher_suite;       ///< OpenSSL cipher list, TLS <= 1.2
    std::optional<Setting<std::string>> cipher_suite_tls13; ///< SSLCipherSuite TLSv1.3 ...
    std::optional<Setting<bool>> honor_cipher_order;        ///< SSLHonorCipherOrder
    std::optional<Setting<bool>> session_tickets;           ///< SSLSessionTickets
    std::optional<Setting<std::chrono::milliseconds>> session_cache_timeout;

    /// `own` over `main`: each value of `own` when set, else `main`'s.
    static TlsSettings merged(const TlsSettings& main, const TlsSettings& own);

    // The values in force, defaults filled in (Apache's, except where noted in the docs).
    bool engine_on() const noexcept { return engine && engine->value; }
    std::uint8_t protocols_or_default() const noexcept {
        return protocols ? protocols->value : static_cast<std::uint8_t>(kTls12 | kTls13);
    }
    bool honor_cipher_order_or_default() const noexcept {
        return honor_cipher_order && honor_cipher_order->value;
    }
    bool session_tickets_or_default() const noexcept {
        return !session_tickets || session_tickets->value;
    }
    std::chrono::milliseconds session_cache_timeout_or_default() const noexcept {
        return session_cache_timeout ? session_cache_timeout->value
                                     : std::chrono::milliseconds(300000);
    }
};

struct VirtualHost {
    std::vector<std::string> addresses; ///< "<VirtualHost>" arguments as written, e.g. "*:8080"
    struct Address {
        std::string host;       ///< "" = any address ('*' or '_default_')
        std::uint16_t port = 0; ///< 0 = any port
    };
    std::vector<Address> parsed_addresses;
    Setting<std::string> server_name;          ///< lower case, no trailing dot, no port
    std::vector<Setting<std::string>> aliases; ///< lower case; may hold '*' and '?' wildcards
    Setting<std::string> server_admin;
    Setting<std::filesystem::path> document_root;
    /// AllowEncodedSlashes; unset inherits the main server's (encoded_slashes()).
    std::optional<Setting<EncodedSlashes>> allow_encoded_slashes;
    /// mod_remoteip (docs/configuration.md, "Behind a load balancer"). Unset values inherit
    /// the main server's (VirtualHost::remote_ip()).
    /// RemoteIPProxyProtocol On|Off: connections to this host's addresses start with a PROXY
    /// header. Per address, not per name: conf::proxy_protocol_for() decides.
    std::optional<Setting<bool>> proxy_protocol;
    /// RemoteIPProxyProtocolExceptions: peers that may connect without a PROXY header.
    std::vector<IpNetwork> proxy_protocol_exceptions;
    Source proxy_protocol_exceptions_from;
    /// RemoteIPHeader: the request field holding the client address list ("" = none).
    Setting<std::string> remote_ip_header;
    /// RemoteIPInternalProxy / RemoteIPTrustedProxy, in configuration order.
    struct RemoteIpProxy {
        IpNetwork network;
        bool internal = false; ///< internal: may present private addresses too
        bool operator==(const RemoteIpProxy&) const = default;
    };
    std::vector<RemoteIpProxy> remote_ip_proxies;
    Source remote_ip_proxies_from;
    TlsSettings tls; ///< mod_ssl, as written in this host (see TlsSettings::merged)
    DirSettings base;                 ///< directives directly in the vhost
    std::vector<Section> directories; ///< sorted by path depth, shallow first
    std::vector<Section> locations;   ///< in configuration order (<LocationMatch> among them)
    /// <DirectoryMatch> and <Directory ~>, in configuration order (merged after <Directory>).
    std::vector<Section> directory_matches;
    /// <Files> and <FilesMatch>, in configuration order (merged after the directories).
    std::vector<Section> files;
    Source from; ///< the <VirtualHost> line; "" for main server
    /// mod_alias at this level, in configuration order: Redirect* and Alias* rules.
    std::vector<RedirectRule> redirects;
    std::vector<AliasRule> url_aliases;
    /// The logs of a <VirtualHost> (Apache's rules, docs/configuration.md "Logging"): its own
    /// CustomLog lines replace the main server's for the requests it serves, and an unset
    /// ErrorLog (empty) or LogLevel is the main server's. Unused on Config::main, whose logs are
    /// Config::custom_logs, error_log and log_level.
    std::vector<CustomLog> custom_logs;
    Setting<std::string> error_log; ///< a path or "/dev/stderr"; "" = the main server's
    std::optional<Setting<LogLevel>> log_level;

    /// AllowEncodedSlashes for requests to this host: its own, else the main server's (`main`,
    /// which may be *this), else Off.
    EncodedSlashes encoded_slashes(const VirtualHost& main) const noexcept {
        const auto& own =
            allow_encoded_slashes ? allow_encoded_slashes : main.allow_encoded_slashes;
        return own ? own->value : EncodedSlashes::off;
    }

    /// mod_alias for a request's URL path (decoded, normalised): the first matching redirect of
    /// this vhost, then of the main server; else the first matching alias, this vhost's then
    /// the main server's (Apache's order). An alias index counts this vhost's rules first.
    UrlMapping map_url(const VirtualHost& main, std::string_view url_path) const;
    /// The alias rule of index `i` as map_url counts them.
    const AliasRule& alias_at(const VirtualHost& main, std::size_t i) const noexcept;

    /// Effective settings for a request whose file-system path is `fs_path` (absolute; ending
    /// in '/' when a folder is asked for) and URL path is `url_path` (decoded, starting with
    /// '/'). Merge order as Apache: the main server's base and the vhost's base, then matching
    /// <Directory> sections by depth (main server's and this vhost's), then <DirectoryMatch>,
    /// then <Files>/<FilesMatch> (matched against the file name, "" for a folder), then
    /// <Location>/<LocationMatch>, each group main server's first and in configuration order.
    /// `main` is the main server (may be *this).
    Effective effective(const VirtualHost& main, std::string_view fs_path,
                        std::string_view url_path) const;

    /// True when a <Location> section matching `url_path` (main server's or this vhost's) has
    /// a Require line of its own. The status page is local-only unless one does.
    bool location_sets_require(const VirtualHost& main, std::string_view url_path) const noexcept;

    /// True when `host` (lower case, no port, no trailing dot) is this vhost's ServerName or
    /// matches one of its ServerAlias patterns.
    bool matches_name(std::string_view host) const noexcept;
};

/// Normalises a Host header value for matching: lower case, port and trailing dot removed,
/// IPv6 brackets kept. "Example.COM.:8080" -> "example.com".
std::string normalize_host(std::string_view host);

/// Shell-style wildcard match ('*' any run, '?' one character), ASCII case-insensitive.
bool wildcard_match(std::string_view pattern, std::string_view text) noexcept;

} // namespace kahttpd::conf
