#pragma once

// The configuration loader, shared by the files that implement it (conf/ only, not installed):
// conf/detail/loader.cpp reads files, keeps the section stack, substitutes ${VAR}, checks
// where a directive may appear and dispatches it through the directive table;
// conf/config.cpp starts and finishes a load; conf/directives/*.cpp hold the directive
// handlers, one file per feature. A Loader reads one configuration on one thread and is then
// dropped.

#include "conf/config.hpp"
#include "conf/detail/values.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::conf::detail {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

/// The range of durations most timeouts accept (a few take 0 as well).
constexpr milliseconds kMinDuration{1};
constexpr milliseconds kMaxDuration{3600 * 1000};

constexpr std::string_view kNotSupported = "not supported by kahttpd";

/// "none", "1 argument", "3 arguments".
std::string args_text(std::size_t n);

/// `"word" is not supported by kahttpd`, with a hint after a semicolon when there is one.
std::string not_supported(std::string_view word, std::string_view hint = {});

/// `p` made absolute (against the working directory) and lexically normal.
fs::path absolute_normal(const fs::path& p);

/// The identity of a file for cycle detection: symlinks and `..` resolved where possible.
fs::path file_identity(const fs::path& p);

/// Reads a whole file into `out`; returns the reason on failure.
std::optional<std::string> read_whole_file(const fs::path& path, std::string& out);

/// A keyword and the flag bits it stands for (the words of Options and FileETag).
struct NamedBits {
    std::string_view name;
    std::uint8_t bits;
};

/// The entry of `names` called `word` (ASCII case-insensitive), or nullptr.
const NamedBits* find_named(std::span<const NamedBits> names, std::string_view word) noexcept;

/// Removes a leading '+' or '-' from `word` and returns it; 0 when there is none.
char take_sign(std::string_view& word) noexcept;

/// One directive as the handlers see it.
struct Context {
    const std::string& file; ///< as shown in messages
    int line;
    const std::string& name; ///< as written
    const std::vector<std::string>& args;
};

/// "FILE:LINE" of a directive: the Source of what it sets.
std::string where(const Context& c);

/// Where a directive may appear. Include, IncludeOptional and Define go anywhere; the
/// DirSettings directives too (server, <VirtualHost>, <Directory>, <Location>).
enum class Scope : std::uint8_t {
    anywhere,
    server,     ///< server level only: settings that apply before the Host header is known
    vhost,      ///< server level or <VirtualHost>
    vhost_only, ///< <VirtualHost> only (ServerAlias)
};

/// What an open section is.
enum class FrameKind : std::uint8_t {
    vhost,
    directory,
    location,
    directory_match, ///< <DirectoryMatch> or <Directory ~>
    files,           ///< <Files> or <FilesMatch>
    condition,       ///< an <IfModule>/<IfDefine> that holds: transparent
    skipped,         ///< contents ignored: a false condition, an unsupported section, or inside one
};

/// One open section. Frames form one stack across Include'd files, so a file included inside
/// a <VirtualHost> adds to that vhost; each file may close only the frames it opened itself,
/// as Apache requires.
struct Frame {
    std::string tag; ///< tag name as written, without < and >
    FrameKind kind = FrameKind::skipped;
    int line = 0;
    std::size_t index = 0; ///< into Config::vhosts, or the vhost's directories/locations
    /// A section whose arguments were wrong: its contents are still checked (so every error is
    /// reported in one run) but land in a scratch vhost or section that is thrown away.
    bool discard = false;
};

/// The tag of a section frame as Apache spells it, e.g. "<DirectoryMatch>" for one opened as
/// <directorymatch ...>.
std::string canonical_tag(const Frame& f);

/// Reads one configuration: call load_file() or load_text() once, then drop the Loader. The
/// handlers (on_<directive>) report a problem with error() or warning() and return, so that one
/// run reports every mistake; dispatch() records the source of what they set.
class Loader {
  public:
    explicit Loader(const std::vector<std::string>& defines) : cli_defines_(defines) {}

    // conf/config.cpp: one load from start to finish.
    LoadResult load_file(const fs::path& file);
    LoadResult load_text(const std::string& text, const fs::path& name);

  private:
    using Handler = void (Loader::*)(const Context&);

    struct Spec {
        std::string_view name;
        Handler handler;
        Scope scope;
    };

    /// Where a value was set, for the KeepAliveTimeout/RequestReadTimeout check at the end.
    struct Mark {
        std::string file;
        int line = 0;
        std::string name;
        std::uint64_t order = 0;
    };

    /// Every directive kahttpd knows, with its handler and scope (conf/detail/loader.cpp).
    static std::span<const Spec> directives() noexcept;

    // conf/config.cpp
    void start(const fs::path& file, const std::string& display);
    void finish(const std::string& main_display);
    void warn_keep_alive_timeout();
    void warn_duplicate_names();

    // conf/detail/loader.cpp: files, sections, dispatch, and argument helpers for handlers.
    void read_included(const fs::path& path, const Context& includer);
    void read_text(std::string_view text, const std::string& display, const fs::path& identity);
    void push_frame(Frame f);
    void pop_frame();
    void on_section_tag(const Context& c, std::size_t base);
    void close_section(const Context& tc, const std::string& tag, std::size_t base);
    void open_section(const Context& tc, const std::string& tag);
    void open_condition(const Context& c, const std::string& tag, bool substituted);
    void open_vhost(const Context& c, const std::string& tag, bool substituted);
    void open_dir_section(const Context& c, const std::string& tag, FrameKind kind,
                          bool substituted, bool regex = false);
    bool section_regex(const Context& c, const std::string& pattern, Section& s);
    std::vector<Section>& section_list(FrameKind kind);
    const Frame* innermost_section() const;
    VirtualHost& current_vhost();
    DirSettings& dir_target();
    void dispatch(const Context& raw);
    void unknown_directive(const Context& c);
    bool allowed_here(const Context& c, Scope scope);
    bool substitute(const Context& c, std::vector<std::string>& out);
    void error(const Context& c, std::string message);
    void warning(const Context& c, std::string message);
    bool expect_one_arg(const Context& c);
    std::optional<fs::path> path_arg(const Context& c, std::string_view what);
    std::optional<fs::path> resolve_path(const Context& c, const std::string& text,
                                         std::string_view what);
    std::optional<std::uint64_t> uint_arg(const Context& c, std::uint64_t min, std::uint64_t max);
    std::optional<milliseconds> duration_arg(const Context& c);
    std::optional<milliseconds> zero_or_duration_arg(const Context& c, std::string_view expected);
    std::optional<bool> on_off_arg(const Context& c);
    static std::optional<std::string> bad_define_name(std::string_view name);
    void include(const Context& c, bool optional);
    void on_include(const Context& c) { include(c, false); }
    void on_include_optional(const Context& c) { include(c, true); }
    Mark mark(const Context& c) { return {c.file, c.line, c.name, ++marks_}; }

    // conf/directives/core.cpp: the server, its vhosts and Define.
    void on_server_root(const Context& c);
    void on_listen(const Context& c);
    void on_workers(const Context& c);
    void on_server_name(const Context& c);
    void on_server_alias(const Context& c);
    void on_server_admin(const Context& c);
    void on_document_root(const Context& c);
    void on_server_tokens(const Context& c);
    void on_server_signature(const Context& c);
    void on_allow_encoded_slashes(const Context& c);
    void on_pid_file(const Context& c);
    // conf/directives/process.cpp: who the server runs as.
    void on_user(const Context& c);
    void on_group(const Context& c);
    void on_define(const Context& c);
    void on_undefine(const Context& c);
    void on_load_module(const Context& c);
    void on_name_virtual_host(const Context& c);

    // conf/directives/keepalive.cpp: connection lifetime, keep-alive and timeouts.
    void on_keep_alive(const Context& c);
    void on_keep_alive_timeout(const Context& c);
    void on_max_keep_alive_requests(const Context& c);
    void on_keep_alive_min_timeout(const Context& c);
    void on_max_keep_alive_time(const Context& c);
    void on_timeout(const Context& c);
    void on_request_read_timeout(const Context& c);
    void on_graceful_shutdown_timeout(const Context& c);
    void on_graceful_shutdown_delay(const Context& c);
    void on_tcp_keepalive(const Context& c);
    std::optional<std::chrono::seconds> keepalive_seconds(const Context& c);
    void on_tcp_keepalive_idle(const Context& c);
    void on_tcp_keepalive_interval(const Context& c);
    void on_tcp_keepalive_count(const Context& c);
    void on_tcp_user_timeout(const Context& c);
    void on_accept_filter(const Context& c);

    // conf/directives/limits.cpp: size and count limits.
    void on_limit_request_line(const Context& c);
    void on_limit_request_field_size(const Context& c);
    void on_limit_request_fields(const Context& c);
    void on_limit_request_body(const Context& c);
    void on_max_connections(const Context& c);
    void on_max_connections_per_ip(const Context& c);

    // conf/directives/logging.cpp
    std::optional<std::string> log_target(const Context& c, const std::string& target,
                                          bool syslog_too);
    void on_error_log(const Context& c);
    void on_log_level(const Context& c);
    void on_log_format(const Context& c);
    void on_custom_log(const Context& c);

    // conf/directives/mime.cpp: media types, charsets and encodings.
    /// Turns the first argument into the value stored; nullopt when it is not one.
    using ValueParser = std::optional<std::string> (*)(const std::string&);
    /// One of mod_mime's "Add... VALUE EXTENSION..." lines (AddType, AddCharset, AddEncoding):
    /// the value `parse` makes of the first argument for each extension (lower case, a leading
    /// dot dropped) in `by_extension`. `value_kind` and `expected` word the errors.
    void add_by_extension(const Context& c, std::string_view value_kind, std::string_view expected,
                          ValueParser parse,
                          std::map<std::string, Setting<std::string>>& by_extension);
    /// Remove*: marks the extensions removed in `by_extension` (an empty value).
    void remove_by_extension(const Context& c,
                             std::map<std::string, Setting<std::string>>& by_extension);
    /// The extensions among c.args from `first` on, lower case without the dot; false (and an
    /// error) for one that is not a file name extension.
    bool extensions_from(const Context& c, std::size_t first, std::vector<std::string>& out);
    void on_types_config(const Context& c);
    void on_add_type(const Context& c);
    void on_add_charset(const Context& c);
    void on_add_encoding(const Context& c);
    void on_remove_type(const Context& c);
    void on_remove_charset(const Context& c);
    void on_remove_encoding(const Context& c);
    void on_remove_nothing(const Context& c);
    void on_add_default_charset(const Context& c);
    void on_force_type(const Context& c);

    // conf/directives/files.cpp: how static files are served and cached.
    void on_file_cache_size(const Context& c);
    void on_file_cache_entries(const Context& c);
    void on_file_cache_valid(const Context& c);
    void on_file_etag(const Context& c);
    void on_precompressed_files(const Context& c);
    void on_max_ranges(const Context& c);
    void on_enable_sendfile(const Context& c);

    // conf/directives/compression.cpp: compression on the fly (mod_deflate, mod_brotli).
    std::optional<std::uint8_t> filter_chain_arg(const Context& c, std::string_view chain);
    void on_add_output_filter_by_type(const Context& c);
    void on_set_output_filter(const Context& c);
    void on_compress_min_length(const Context& c);
    void on_deflate_compression_level(const Context& c);
    void on_brotli_compression_quality(const Context& c);

    // conf/directives/access.cpp: who may get what.
    void on_options(const Context& c);
    void on_require(const Context& c);
    void on_allow_override(const Context& c);

    // conf/directives/remoteip.cpp: the client address behind a load balancer.
    std::vector<IpNetwork> networks_arg(const Context& c);
    void on_remote_ip_proxy_protocol(const Context& c);
    void on_remote_ip_proxy_protocol_exceptions(const Context& c);
    void on_remote_ip_header(const Context& c);
    void on_remote_ip_proxy(const Context& c, bool internal);
    void on_remote_ip_internal_proxy(const Context& c) { on_remote_ip_proxy(c, true); }
    void on_remote_ip_trusted_proxy(const Context& c) { on_remote_ip_proxy(c, false); }
    void warn_proxy_keep_alive();

    // conf/directives/ssl.cpp: mod_ssl (TLS on the Listen ... https addresses).
    void on_ssl_engine(const Context& c);
    void on_ssl_certificate_file(const Context& c);
    void on_ssl_certificate_key_file(const Context& c);
    void on_ssl_protocol(const Context& c);
    void on_ssl_cipher_suite(const Context& c);
    void on_ssl_honor_cipher_order(const Context& c);
    void on_ssl_session_tickets(const Context& c);
    void on_ssl_session_cache_timeout(const Context& c);
    void check_certificate(const TlsSettings& t, std::set<std::string>& seen);
    void check_tls();

    // conf/directives/alias.cpp: mod_alias (aliases and redirects).
    std::optional<Regex> regex_arg(const Context& c, const std::string& pattern);
    void on_alias(const Context& c);
    void on_alias_match(const Context& c);
    void add_redirect(const Context& c, std::optional<std::uint16_t> fixed_status, bool regex);
    void on_redirect(const Context& c) { add_redirect(c, std::nullopt, false); }
    void on_redirect_match(const Context& c) { add_redirect(c, std::nullopt, true); }
    void on_redirect_permanent(const Context& c) { add_redirect(c, 301, false); }
    void on_redirect_temp(const Context& c) { add_redirect(c, 302, false); }

    // conf/directives/expires.cpp: mod_expires.
    std::optional<ExpiresSpec> expires_arg(const Context& c, const std::string& text);
    void on_expires_active(const Context& c);
    void on_expires_default(const Context& c);
    void on_expires_by_type(const Context& c);

    // conf/directives/responses.cpp: what a response carries.
    void on_directory_index(const Context& c);
    void on_header(const Context& c);
    void on_error_document(const Context& c);
    void on_set_handler(const Context& c);

    struct OpenFile {
        fs::path identity;
        std::string display;
    };

    const std::vector<std::string>& cli_defines_;
    LoadResult result_;
    std::vector<OpenFile> stack_; ///< files being read, outermost first, for cycle detection
    std::vector<Frame> frames_;   ///< open sections, outermost first, across files
    std::size_t skipping_ = 0;    ///< skipped frames open; their contents are ignored
    /// Scratch space for the contents of sections whose arguments were wrong.
    std::vector<VirtualHost> discarded_vhosts_;
    std::vector<Section> discarded_sections_;
    /// The first directive that resolved a relative path, for the ServerRoot-order warning.
    std::optional<std::string> first_relative_use_;
    /// Names whose Define failed on an undefined ${VAR}: using them is not reported again.
    std::set<std::string> poisoned_;
    /// A Listen directive was read, valid or not: "found none" would then be untrue.
    bool listen_seen_ = false;
    std::uint64_t marks_ = 0;
    std::optional<Mark> keep_alive_timeout_at_;
    std::optional<Mark> header_timeout_at_;
};

} // namespace kahttpd::conf::detail
