#pragma once

#include <array>
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
};

/// `Require` lines of one section. Several lines in one section: any may grant (Apache's
/// implicit <RequireAny>). `Require not ...` is not supported.
struct AccessRule {
    enum class Kind : std::uint8_t { all_granted, all_denied, ip, local };
    struct Requirement {
        Kind kind = Kind::all_granted;
        std::vector<IpNetwork> networks; ///< for Kind::ip
    };
    std::vector<Requirement> any;

    /// Whether a client at `ip` (16 bytes, IPv4 mapped) is allowed. `local` means the client
    /// address is a loopback address (127.0.0.0/8, ::1) or equals the connection's local
    /// address (`server_ip`), as Apache's `Require local`. An empty rule grants.
    bool allows(const std::array<std::uint8_t, 16>& ip,
                const std::array<std::uint8_t, 16>& server_ip) const noexcept;
};

/// One `Header [always] set|append|merge|unset|add NAME [VALUE]` directive.
struct HeaderRule {
    enum class Action : std::uint8_t { set, append, merge, add, unset };
    Action action = Action::set;
    bool always = false; ///< `always`: applies to error responses too (Apache's table choice)
    std::string name;
    std::string value; ///< empty for unset
    Source from;
};

/// `ErrorDocument CODE TARGET`: a local URL ("/404.html"), a full URL (redirect), or a text
/// message (quoted in the file, starting with '"' in Apache's syntax).
struct ErrorDocument {
    enum class Kind : std::uint8_t { local_url, redirect, text };
    Kind kind = Kind::local_url;
    std::string target; ///< URL path, full URL, or message text
};

/// `FileETag` components.
struct FileETagSpec {
    static constexpr std::uint8_t kINode = 1, kMTime = 2, kSize = 4;
    std::uint8_t parts = kMTime | kSize; ///< Apache 2.4's default: MTime Size; 0 = None
};

/// Directives that may appear at server level, in <VirtualHost>, <Directory> and <Location>.
/// Every member is optional (unset = inherit); merge_into() applies one level over another.
struct DirSettings {
    std::optional<Setting<OptionsSpec>> options;
    std::optional<Setting<std::vector<std::string>>> directory_index;
    std::optional<Setting<AccessRule>> require;
    std::vector<HeaderRule> headers;                       ///< applied in order, outer first
    std::map<int, Setting<ErrorDocument>> error_documents; ///< by status code
    std::optional<Setting<std::string>> handler;           ///< SetHandler ("server-status" ...);
                                                           ///< "none"/"default-handler" = ""
    std::map<std::string, Setting<std::string>> add_types; ///< extension (lower case, no dot)
    std::optional<Setting<std::string>> default_charset;   ///< AddDefaultCharset; Off = ""
    std::optional<Setting<FileETagSpec>> file_etag;
    std::optional<Setting<bool>> enable_sendfile;
    std::optional<Setting<std::uint64_t>> limit_request_body; ///< 0 = unlimited
    std::optional<Setting<bool>> precompressed_files;         ///< kahttpd's PrecompressedFiles
    std::optional<Setting<std::uint32_t>> max_ranges;         ///< MaxRanges; 0 = unlimited
};

/// A <Directory path> (absolute, normalised, no trailing slash) or <Location /prefix>.
struct Section {
    std::string match;
    DirSettings settings;
    Source from;
};

/// The settings in effect for one request: every DirSettings member resolved. Produced by
/// VirtualHost::effective(); cheap to copy for the common case of no sections.
struct Effective {
    std::uint8_t options = OptionsSpec::kFollowSymLinks; ///< Apache 2.4 default
    std::vector<std::string> directory_index{"index.html"};
    AccessRule require; ///< empty = granted
    std::vector<HeaderRule> headers;
    std::map<int, ErrorDocument> error_documents;
    std::string handler;
    std::map<std::string, std::string> add_types;
    std::string default_charset; ///< "" = none
    FileETagSpec file_etag;
    bool enable_sendfile = true;
    std::uint64_t limit_request_body = 1073741824;
    bool precompressed_files = true; ///< serve foo.br / foo.gz beside foo when accepted
    std::uint32_t max_ranges = 200;  ///< more ranges than this: the whole file (Apache)
};

/// The main server or one <VirtualHost>. Keep-alive, timeouts and limits of the request head
/// stay server-wide (they apply before the Host header is known).
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
    DirSettings base;                 ///< directives directly in the vhost
    std::vector<Section> directories; ///< sorted by path depth, shallow first
    std::vector<Section> locations;   ///< in configuration order
    Source from;                      ///< the <VirtualHost> line; "" for main server

    /// Effective settings for a request whose file-system path is `fs_path` (absolute) and
    /// URL path is `url_path` (decoded, starting with '/'). Merge order as Apache: the main
    /// server's base and the vhost's base, then matching <Directory> sections by depth
    /// (main server's and this vhost's), then matching <Location> sections in order.
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
