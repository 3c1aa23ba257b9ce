#include "conf/config.hpp"

#include "conf/detail/apache_names.hpp"
#include "conf/detail/values.hpp"
#include "conf/lexer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>

#include <glob.h>

namespace kahttpd::conf {

namespace fs = std::filesystem;
using detail::duration_text;
using detail::iequals;
using detail::in_quotes;
using detail::lower;
using detail::normalize;
using detail::parse_duration;
using detail::parse_uint;
using std::chrono::milliseconds;

std::string ConfigError::to_string() const {
    std::string s = file;
    if (line > 0) {
        s += ':';
        s += std::to_string(line);
    }
    s += ": ";
    if (!directive.empty()) {
        s += directive;
        s += ": ";
    }
    s += message;
    return s;
}

namespace {

/// Apache has no limit of its own; 16 levels is far more than any real layout needs and stops
/// a cycle that hides behind a glob before it eats the stack.
constexpr std::size_t kMaxIncludeDepth = 16;

constexpr milliseconds kMinDuration{1};
constexpr milliseconds kMaxDuration{3600 * 1000};

constexpr std::string_view kNotSupported = "not supported by kahttpd";

/// The formats Apache's stock httpd.conf defines; kahttpd has them built in so that
/// `CustomLog logs/access_log combined` works without the LogFormat lines.
constexpr std::string_view kCommonFormat = "%h %l %u %t \"%r\" %>s %b";
constexpr std::string_view kCombinedFormat =
    "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";

std::string count_text(std::size_t n) {
    return n == 0 ? "none" : std::to_string(n);
}

/// "none", "1 argument", "3 arguments".
std::string args_text(std::size_t n) {
    return n == 0 ? "none" : std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

/// `"word" is not supported by kahttpd`, with a hint after a semicolon when there is one.
std::string not_supported(std::string_view word, std::string_view hint = {}) {
    std::string s = in_quotes(word) + " is " + std::string(kNotSupported);
    if (!hint.empty()) {
        s += "; ";
        s += hint;
    }
    return s;
}

fs::path absolute_normal(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    return normalize(ec ? p : a);
}

/// The identity of a file for cycle detection: symlinks and `..` resolved where possible.
fs::path file_identity(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return ec ? absolute_normal(p) : c;
}

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

/// Reads a whole file; returns the reason on failure.
std::optional<std::string> read_whole_file(const fs::path& path, std::string& out) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        return errno_text(EISDIR);
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        return errno_text(errno);
    }
    std::array<char, 8192> buf;
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        out.append(buf.data(), n);
    }
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) {
        return errno_text(err);
    }
    return std::nullopt;
}

bool has_wildcard(std::string_view pattern) {
    return pattern.find_first_of("*?[") != std::string_view::npos;
}

/// A host name or an IP literal as ServerName and ServerAlias take it, after lower-casing.
/// `wildcards` admits '*' and '?' (ServerAlias patterns).
bool is_host_name(std::string_view s, bool wildcards) {
    if (s.empty()) {
        return false;
    }
    if (s.front() == '[') {
        return s.size() > 2 && s.back() == ']' &&
               std::all_of(s.begin() + 1, s.end() - 1, [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
               });
    }
    return std::all_of(s.begin(), s.end(), [wildcards](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' ||
               c == '_' || (wildcards && (c == '*' || c == '?'));
    });
}

/// Splits "FILE:LINE" back into its parts, for warnings about a value found after the fact.
std::pair<std::string, int> split_source(const Source& from) {
    const std::size_t colon = from.rfind(':');
    if (colon == std::string::npos) {
        return {from, 0};
    }
    const auto line = parse_uint(std::string_view(from).substr(colon + 1));
    return {from.substr(0, colon), line ? static_cast<int>(*line) : 0};
}

/// Number of path segments: "/" is 0, "/srv" 1, "/srv/www" 2. <Directory> sections merge in
/// this order, shallow first, as Apache's.
std::size_t depth(const std::string& path) {
    return path == "/" ? 0 : static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

/// One directive as the handlers see it.
struct Context {
    const std::string& file; ///< as shown in messages
    int line;
    const std::string& name; ///< as written
    const std::vector<std::string>& args;
};

std::string where(const Context& c) {
    return c.file + ":" + std::to_string(c.line);
}

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
    condition, ///< an <IfModule>/<IfDefine> that holds: transparent
    skipped,   ///< contents ignored: a false condition, an unsupported section, or inside one
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

std::string_view canonical_tag(FrameKind kind) {
    switch (kind) {
    case FrameKind::vhost:
        return "<VirtualHost>";
    case FrameKind::directory:
        return "<Directory>";
    case FrameKind::location:
        return "<Location>";
    default:
        return "";
    }
}

class Loader {
  public:
    explicit Loader(const std::vector<std::string>& defines) : cli_defines_(defines) {}

    LoadResult load_file(const fs::path& file) {
        const std::string display = file.string();
        start(file, display);
        std::string text;
        if (auto why = read_whole_file(file, text)) {
            result_.errors.push_back({display, 0, "", "expected a readable file, found " + *why});
            return std::move(result_);
        }
        read_text(text, display, file_identity(file));
        finish(display);
        return std::move(result_);
    }

    LoadResult load_text(const std::string& text, const fs::path& name) {
        const std::string display = name.string();
        start(name, display);
        read_text(text, display, file_identity(name));
        finish(display);
        return std::move(result_);
    }

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

    void start(const fs::path& file, const std::string& display) {
        Config& c = result_.config;
        c.config_file = absolute_normal(file);
        // Apache's layout: /x/conf/httpd.conf has ServerRoot /x.
        c.server_root = c.config_file.parent_path().parent_path();
        c.log_formats["common"] = kCommonFormat;
        c.log_formats["combined"] = kCombinedFormat;
        // -D NAME, or -D NAME=VALUE (a kahttpd extension: Apache's -D takes names only).
        for (const std::string& d : cli_defines_) {
            const std::size_t eq = d.find('=');
            const std::string name = d.substr(0, eq);
            if (const auto why = bad_define_name(name)) {
                result_.errors.push_back({display, 0, "-D", *why});
                continue;
            }
            c.defines[name] = eq == std::string::npos ? "" : d.substr(eq + 1);
        }
    }

    void finish(const std::string& main_display) {
        Config& c = result_.config;
        if (c.listen.empty() && !listen_seen_) {
            // Nothing to point at, so the error names the main file without a line.
            result_.errors.push_back(
                {main_display, 0, "Listen", "expected at least one Listen directive, found none"});
        }
        VirtualHost& main = c.main;
        if (main.document_root.from.empty()) {
            // Computed at the end so that the default follows the final ServerRoot.
            main.document_root.value = c.server_root / "www";
        }
        for (VirtualHost& v : c.vhosts) {
            // As in Apache, a vhost without its own DocumentRoot uses the main server's.
            if (v.document_root.from.empty()) {
                v.document_root = {main.document_root.value, ""};
            }
        }
        const auto by_depth = [](const Section& a, const Section& b) {
            return depth(a.match) < depth(b.match);
        };
        std::stable_sort(main.directories.begin(), main.directories.end(), by_depth);
        for (VirtualHost& v : c.vhosts) {
            std::stable_sort(v.directories.begin(), v.directories.end(), by_depth);
        }

        // The fields the server read before sections existed mirror the main server.
        c.document_root = main.document_root.value;
        c.server_name = main.server_name.value;
        c.directory_index = main.base.directory_index ? main.base.directory_index->value
                                                      : std::vector<std::string>{"index.html"};
        if (main.base.limit_request_body) {
            c.limit_request_body = main.base.limit_request_body->value;
        }

        warn_keep_alive_timeout();
        warn_duplicate_names();
    }

    /// An idle keep-alive connection held longer than a client may take to send a request
    /// head lets idle clients hold connections the header timeout is there to reclaim.
    void warn_keep_alive_timeout() {
        const Config& c = result_.config;
        const milliseconds header = c.request_read_timeout_header;
        if (header == milliseconds::zero() || c.keep_alive_timeout <= header ||
            (!keep_alive_timeout_at_ && !header_timeout_at_)) {
            return;
        }
        const bool at_keep_alive =
            !header_timeout_at_ ||
            (keep_alive_timeout_at_ && keep_alive_timeout_at_->order > header_timeout_at_->order);
        const Mark& m = at_keep_alive ? *keep_alive_timeout_at_ : *header_timeout_at_;
        const std::string why =
            "; idle connections would be held longer than a slow request head is allowed";
        result_.warnings.push_back({m.file, m.line, m.name,
                                    at_keep_alive
                                        ? "expected at most RequestReadTimeout header= (" +
                                              duration_text(header) + "), found " +
                                              duration_text(c.keep_alive_timeout) + why
                                        : "expected header= at least KeepAliveTimeout (" +
                                              duration_text(c.keep_alive_timeout) + "), found " +
                                              duration_text(header) + why});
    }

    /// Two vhosts on one address with one name: the second never gets a request for it.
    void warn_duplicate_names() {
        const auto& vhosts = result_.config.vhosts;
        const auto same_address = [](const VirtualHost& a, const VirtualHost& b,
                                     std::string& shown) {
            for (std::size_t i = 0; i < a.parsed_addresses.size(); ++i) {
                for (const VirtualHost::Address& y : b.parsed_addresses) {
                    const VirtualHost::Address& x = a.parsed_addresses[i];
                    if (x.host == y.host && x.port == y.port) {
                        shown = a.addresses[i];
                        return true;
                    }
                }
            }
            return false;
        };
        const auto names_of = [](const VirtualHost& v) {
            std::vector<std::pair<const Setting<std::string>*, std::string_view>> names;
            if (!v.server_name.value.empty()) {
                names.emplace_back(&v.server_name, "ServerName");
            }
            for (const Setting<std::string>& alias : v.aliases) {
                names.emplace_back(&alias, "ServerAlias");
            }
            return names;
        };
        for (std::size_t j = 0; j < vhosts.size(); ++j) {
            for (const auto& [name, directive] : names_of(vhosts[j])) {
                for (std::size_t i = 0; i < j; ++i) {
                    std::string address;
                    if (!same_address(vhosts[i], vhosts[j], address)) {
                        continue;
                    }
                    const auto earlier = names_of(vhosts[i]);
                    const auto hit =
                        std::find_if(earlier.begin(), earlier.end(),
                                     [&](const auto& e) { return e.first->value == name->value; });
                    if (hit == earlier.end()) {
                        continue;
                    }
                    const auto [file, line] = split_source(name->from);
                    result_.warnings.push_back({file, line, std::string(directive),
                                                "expected each name once per address, found " +
                                                    in_quotes(name->value) + " again on " +
                                                    address + " (first at " + hit->first->from +
                                                    "); requests for it go to the first vhost"});
                    break;
                }
            }
        }
    }

    // ---- files, sections, dispatch ----

    /// Reads one included file. `includer` is the Include directive, for messages about the
    /// file as a whole.
    void read_included(const fs::path& path, const Context& includer) {
        const std::string display = path.string();
        if (stack_.size() >= kMaxIncludeDepth) {
            error(includer, "expected at most " + std::to_string(kMaxIncludeDepth) +
                                " nested Include levels, found more at " + in_quotes(display));
            return;
        }
        const fs::path identity = file_identity(path);
        for (std::size_t i = 0; i < stack_.size(); ++i) {
            if (stack_[i].identity == identity) {
                std::string chain;
                for (std::size_t j = i; j < stack_.size(); ++j) {
                    chain += stack_[j].display + " -> ";
                }
                error(includer, "expected no include cycle, found " + chain + display);
                return;
            }
        }
        std::string text;
        if (auto why = read_whole_file(path, text)) {
            error(includer,
                  "expected a readable file, found " + in_quotes(display) + " (" + *why + ")");
            return;
        }
        read_text(text, display, identity);
    }

    void read_text(std::string_view text, const std::string& display, const fs::path& identity) {
        stack_.push_back({identity, display});
        const std::size_t base = frames_.size(); // frames below belong to including files
        LexResult lexed = lex(text);

        // Lexer errors and directive errors are interleaved by line so that messages come
        // out in file order, with an Include'd file's messages at the Include.
        auto next_error = lexed.errors.begin();
        auto flush_lex_errors_before = [&](int line) {
            for (; next_error != lexed.errors.end() && next_error->line < line; ++next_error) {
                result_.errors.push_back(
                    {display, next_error->line, next_error->name, next_error->message});
            }
        };
        for (const LexedLine& l : lexed.lines) {
            flush_lex_errors_before(l.line);
            const Context c{display, l.line, l.name, l.args};
            if (!l.name.empty() && l.name.front() == '<') {
                on_section_tag(c, base);
            } else if (skipping_ == 0) {
                dispatch(c);
            }
        }
        flush_lex_errors_before(std::numeric_limits<int>::max());
        for (std::size_t i = base; i < frames_.size(); ++i) {
            const Frame& f = frames_[i];
            result_.errors.push_back(
                {display, f.line, "<" + f.tag + ">",
                 "expected </" + f.tag + "> before the end of the file, found none"});
        }
        while (frames_.size() > base) {
            pop_frame();
        }
        stack_.pop_back();
    }

    void push_frame(Frame f) {
        if (f.kind == FrameKind::skipped) {
            ++skipping_;
        }
        frames_.push_back(std::move(f));
    }

    void pop_frame() {
        if (frames_.back().kind == FrameKind::skipped) {
            --skipping_;
        }
        frames_.pop_back();
    }

    void on_section_tag(const Context& c, std::size_t base) {
        const bool closing = c.name.size() > 1 && c.name[1] == '/';
        std::string tag = c.name.substr(closing ? 2 : 1);
        std::vector<std::string> args = c.args;
        bool has_gt = false;
        if (!tag.empty() && tag.back() == '>') {
            tag.pop_back();
            has_gt = args.empty();
        } else if (!args.empty() && !args.back().empty() && args.back().back() == '>') {
            args.back().pop_back();
            if (args.back().empty()) {
                args.pop_back();
            }
            has_gt = true;
        }
        const std::string shown = (closing ? "</" : "<") + tag + ">";
        const Context tc{c.file, c.line, shown, args};

        if (closing) {
            close_section(tc, tag, base);
            return;
        }
        // Inside skipped contents tags are only counted, so that the right closing tag ends
        // the skip; only the outermost skipped section was reported.
        if (skipping_ > 0) {
            push_frame({tag, FrameKind::skipped, c.line});
            return;
        }
        if (!has_gt) {
            error(tc, "expected \">\" at the end of the line, found " +
                          in_quotes(c.args.empty() ? c.name : c.args.back()));
        }
        open_section(tc, tag);
    }

    void close_section(const Context& tc, const std::string& tag, std::size_t base) {
        if (frames_.size() == base) {
            error(tc, "expected an open <" + tag + "> section to close, found none");
            return;
        }
        // A closing tag for a section further out closes the ones inside it too (each is
        // reported), so that one forgotten </Directory> does not also leave its <VirtualHost>
        // open. A closing tag that matches nothing open closes the innermost section: most
        // likely it is that one's, misspelled.
        std::size_t match = frames_.size();
        for (std::size_t i = frames_.size(); i > base; --i) {
            if (iequals(frames_[i - 1].tag, tag)) {
                match = i - 1;
                break;
            }
        }
        const std::size_t stop = match == frames_.size() ? frames_.size() - 1 : match;
        while (frames_.size() > stop) {
            const Frame& top = frames_.back();
            if (frames_.size() - 1 != match) {
                error(tc, "expected </" + top.tag + "> to close <" + top.tag + "> of line " +
                              std::to_string(top.line) + ", found " + tc.name);
            }
            pop_frame();
        }
    }

    void open_section(const Context& tc, const std::string& tag) {
        std::vector<std::string> args;
        const bool substituted = substitute(tc, args);
        const Context sc{tc.file, tc.line, tc.name, args};
        if (iequals(tag, "IfModule") || iequals(tag, "IfDefine")) {
            open_condition(sc, tag, substituted);
        } else if (iequals(tag, "VirtualHost")) {
            open_vhost(sc, tag, substituted);
        } else if (iequals(tag, "Directory")) {
            open_dir_section(sc, tag, FrameKind::directory, substituted);
        } else if (iequals(tag, "Location")) {
            open_dir_section(sc, tag, FrameKind::location, substituted);
        } else {
            if (const auto hint = detail::unsupported_section(tag)) {
                std::string message(kNotSupported);
                if (!hint->empty()) {
                    message += "; " + std::string(*hint);
                }
                error(tc, message);
            } else {
                static constexpr std::array<std::string_view, 5> kSections{
                    "VirtualHost", "Directory", "Location", "IfModule", "IfDefine"};
                const auto near =
                    detail::suggestion(tag, kSections, [](std::string_view s) { return s; });
                error(tc, near ? "unknown section, did you mean <" + std::string(*near) + ">?"
                               : std::string("unknown section"));
            }
            push_frame({tag, FrameKind::skipped, tc.line});
        }
    }

    /// <IfModule [!]name> and <IfDefine [!]NAME>: the contents apply when the test holds.
    void open_condition(const Context& c, const std::string& tag, bool substituted) {
        const bool is_module = iequals(tag, "IfModule");
        const std::string what = is_module ? "a module name" : "a parameter name";
        bool holds = false;
        if (!substituted) {
            // Reported by substitute(); the contents are skipped.
        } else if (c.args.size() != 1) {
            error(c, c.args.empty() ? "expected " + what + ", found none"
                                    : "expected one " + what.substr(2) + ", found " +
                                          std::to_string(c.args.size()));
        } else {
            const bool negated = c.args[0].starts_with('!');
            const std::string name = c.args[0].substr(negated ? 1 : 0);
            if (name.empty()) {
                error(c, "expected " + what + " after \"!\", found none");
            } else {
                const bool found =
                    is_module ? builtin_module(name) : result_.config.defines.contains(name);
                holds = found != negated;
            }
        }
        push_frame({tag, holds ? FrameKind::condition : FrameKind::skipped, c.line});
    }

    void open_vhost(const Context& c, const std::string& tag, bool substituted) {
        bool ok = substituted;
        if (const Frame* f = innermost_section()) {
            error(c, "not allowed inside " + std::string(canonical_tag(f->kind)) +
                         ", only at server level");
            ok = false;
        }
        VirtualHost v;
        v.from = where(c);
        v.addresses = c.args;
        if (c.args.empty()) {
            error(c, "expected one or more addresses as in *:80, found none");
            ok = false;
        } else if (substituted) {
            for (const std::string& a : c.args) {
                std::string why;
                if (const auto address = detail::parse_vhost_address(a, why)) {
                    v.parsed_addresses.push_back(*address);
                } else {
                    error(c, why);
                    ok = false;
                }
            }
        }
        auto& list = ok ? result_.config.vhosts : discarded_vhosts_;
        list.push_back(std::move(v));
        push_frame({tag, FrameKind::vhost, c.line, list.size() - 1, !ok});
    }

    /// <Directory path> and <Location /prefix>, at server level or in a <VirtualHost>.
    void open_dir_section(const Context& c, const std::string& tag, FrameKind kind,
                          bool substituted) {
        bool ok = substituted;
        if (const Frame* f = innermost_section(); f != nullptr && f->kind != FrameKind::vhost) {
            error(c, "not allowed inside " + std::string(canonical_tag(f->kind)) +
                         ", only at server level or in <VirtualHost>");
            ok = false;
        }
        const bool directory = kind == FrameKind::directory;
        Section s;
        s.from = where(c);
        if (c.args.empty()) {
            error(c, directory ? "expected a directory path, found none"
                               : "expected a URL path, found none");
            ok = false;
        } else if (c.args[0] == "~") {
            error(c, "regular expressions (~) are " + std::string(kNotSupported));
            ok = false;
        } else if (c.args.size() > 1) {
            error(c, "expected one path, found " + std::to_string(c.args.size()));
            ok = false;
        } else if (substituted && has_wildcard(c.args[0])) {
            error(c, "wildcard paths are " + std::string(kNotSupported) + ", found " +
                         in_quotes(c.args[0]));
            ok = false;
        } else if (substituted && directory) {
            if (const auto path = resolve_path(c, c.args[0], "a directory path")) {
                s.match = path->string();
            } else {
                ok = false;
            }
        } else if (substituted) {
            if (!c.args[0].starts_with('/')) {
                error(c, "expected a URL path starting with \"/\", found " + in_quotes(c.args[0]));
                ok = false;
            }
            s.match = c.args[0];
        }
        std::size_t index = 0;
        if (ok) {
            auto& list = directory ? current_vhost().directories : current_vhost().locations;
            list.push_back(std::move(s));
            index = list.size() - 1;
        } else {
            discarded_sections_.push_back(std::move(s));
            index = discarded_sections_.size() - 1;
        }
        push_frame({tag, kind, c.line, index, !ok});
    }

    /// The innermost <VirtualHost>, <Directory> or <Location>; nullptr at server level.
    const Frame* innermost_section() const {
        for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
            if (it->kind == FrameKind::vhost || it->kind == FrameKind::directory ||
                it->kind == FrameKind::location) {
                return &*it;
            }
        }
        return nullptr;
    }

    /// The vhost directives apply to: the innermost <VirtualHost>, else the main server.
    VirtualHost& current_vhost() {
        for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
            if (it->kind == FrameKind::vhost) {
                return it->discard ? discarded_vhosts_[it->index]
                                   : result_.config.vhosts[it->index];
            }
        }
        return result_.config.main;
    }

    /// The DirSettings that DirSettings directives fill: the innermost <Directory> or
    /// <Location>, else the base of the current vhost (the main server's at server level).
    DirSettings& dir_target() {
        for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
            if (it->kind == FrameKind::vhost) {
                break;
            }
            if (it->kind == FrameKind::directory || it->kind == FrameKind::location) {
                if (it->discard) {
                    return discarded_sections_[it->index].settings;
                }
                VirtualHost& v = current_vhost();
                return (it->kind == FrameKind::directory ? v.directories : v.locations)[it->index]
                    .settings;
            }
        }
        return current_vhost().base;
    }

    void dispatch(const Context& raw) {
        const Spec* spec = nullptr;
        for (const Spec& s : kDirectives) {
            if (iequals(s.name, raw.name)) {
                spec = &s;
                break;
            }
        }
        if (spec == nullptr) {
            unknown_directive(raw);
            return;
        }
        if (spec->handler == &Loader::on_listen) {
            listen_seen_ = true;
        }
        if (!allowed_here(raw, spec->scope)) {
            return;
        }
        std::vector<std::string> args;
        if (!substitute(raw, args)) {
            // A Define that failed leaves its name poisoned rather than undefined, so that
            // its uses do not repeat the one error that matters.
            if (spec->handler == &Loader::on_define && !raw.args.empty() &&
                raw.args[0].find("${") == std::string::npos) {
                poisoned_.insert(raw.args[0]);
            }
            return;
        }
        const Context c{raw.file, raw.line, raw.name, args};
        const std::size_t errors_before = result_.errors.size();
        (this->*spec->handler)(c);
        // Sources for `kahttpd -T`: directives set at server level, under their canonical
        // name. Define is global wherever it is written.
        const bool at_server_level = innermost_section() == nullptr;
        const bool has_value = spec->name != "Include" && spec->name != "IncludeOptional" &&
                               spec->name != "LoadModule" && spec->name != "NameVirtualHost" &&
                               spec->name != "UnDefine" && !spec->name.starts_with("AllowOverride");
        if (result_.errors.size() == errors_before && has_value &&
            (at_server_level || spec->name == "Define")) {
            result_.config.sources[std::string(spec->name)] = where(c);
        }
    }

    void unknown_directive(const Context& c) {
        if (const auto hint = detail::unsupported_directive(c.name)) {
            std::string message(kNotSupported);
            if (!hint->empty()) {
                message += "; " + std::string(*hint);
            }
            error(c, message);
            return;
        }
        const auto near =
            detail::suggestion(c.name, kDirectives, [](const Spec& s) { return s.name; });
        error(c, near ? "unknown directive, did you mean " + std::string(*near) + "?"
                      : std::string("unknown directive"));
    }

    bool allowed_here(const Context& c, Scope scope) {
        const Frame* f = innermost_section();
        const std::string inside =
            f == nullptr ? "" : "not allowed inside " + std::string(canonical_tag(f->kind));
        switch (scope) {
        case Scope::anywhere:
            return true;
        case Scope::server:
            if (f == nullptr) {
                return true;
            }
            error(c, inside + ", only at server level");
            return false;
        case Scope::vhost:
            if (f == nullptr || f->kind == FrameKind::vhost) {
                return true;
            }
            error(c, inside + ", only at server level or in <VirtualHost>");
            return false;
        case Scope::vhost_only:
            if (f != nullptr && f->kind == FrameKind::vhost) {
                return true;
            }
            error(c, f == nullptr ? "not allowed at server level, only in <VirtualHost>"
                                  : inside + ", only in <VirtualHost>");
            return false;
        }
        return false;
    }

    /// Replaces ${NAME} in every argument with a Define'd value or, failing that, an
    /// environment variable, in one pass (a value is not scanned again). Apache only warns
    /// about an undefined name and keeps the text; kahttpd reports an error, because a
    /// literal "${ROOT}/www" is never what was meant. An unterminated "${" or an empty "${}"
    /// stays as written, as in Apache. Returns false when a name was undefined.
    bool substitute(const Context& c, std::vector<std::string>& out) {
        bool ok = true;
        std::vector<std::string> reported;
        out.clear();
        out.reserve(c.args.size());
        for (const std::string& arg : c.args) {
            std::string s;
            std::size_t i = 0;
            while (i < arg.size()) {
                const std::size_t open = arg.find("${", i);
                const std::size_t close =
                    open == std::string::npos ? std::string::npos : arg.find('}', open + 2);
                if (close == std::string::npos) {
                    s.append(arg, i, std::string::npos);
                    break;
                }
                s.append(arg, i, open - i);
                const std::string name = arg.substr(open + 2, close - open - 2);
                i = close + 1;
                if (name.empty()) {
                    s += "${}";
                } else if (const auto it = result_.config.defines.find(name);
                           it != result_.config.defines.end()) {
                    s += it->second;
                } else if (const char* env = std::getenv(name.c_str())) {
                    s += env;
                } else if (poisoned_.contains(name)) {
                    ok = false; // its Define was reported already
                } else {
                    ok = false;
                    s.append(arg, open, close + 1 - open);
                    if (std::find(reported.begin(), reported.end(), name) == reported.end()) {
                        error(c, "expected a defined variable, found ${" + name + "}");
                        reported.push_back(name);
                    }
                }
            }
            out.push_back(std::move(s));
        }
        return ok;
    }

    // ---- helpers for handlers ----

    void error(const Context& c, std::string message) {
        result_.errors.push_back({c.file, c.line, c.name, std::move(message)});
    }

    void warning(const Context& c, std::string message) {
        result_.warnings.push_back({c.file, c.line, c.name, std::move(message)});
    }

    bool expect_one_arg(const Context& c) {
        if (c.args.size() == 1) {
            return true;
        }
        error(c, "expected one argument, found " + count_text(c.args.size()));
        return false;
    }

    /// Resolves a path argument against the ServerRoot in force now (Apache reads ServerRoot
    /// as it goes, which is why it should come first).
    std::optional<fs::path> path_arg(const Context& c, std::string_view what) {
        if (!expect_one_arg(c)) {
            return std::nullopt;
        }
        return resolve_path(c, c.args[0], what);
    }

    std::optional<fs::path> resolve_path(const Context& c, const std::string& text,
                                         std::string_view what) {
        if (text.empty()) {
            error(c, "expected " + std::string(what) + ", found \"\"");
            return std::nullopt;
        }
        const fs::path p(text);
        if (p.is_absolute()) {
            return normalize(p);
        }
        if (!first_relative_use_) {
            first_relative_use_ = c.name + " at " + c.file + ":" + std::to_string(c.line);
        }
        return normalize(result_.config.server_root / p);
    }

    /// A count within [min, max]; anything else (junk, a sign, out of range) gets one message
    /// that states the accepted range.
    std::optional<std::uint64_t> uint_arg(const Context& c, std::uint64_t min, std::uint64_t max) {
        if (!expect_one_arg(c)) {
            return std::nullopt;
        }
        const auto n = parse_uint(c.args[0]);
        if (!n || *n < min || *n > max) {
            error(c, "expected an integer from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", found " + in_quotes(c.args[0]));
            return std::nullopt;
        }
        return n;
    }

    std::optional<milliseconds> duration_arg(const Context& c) {
        if (!expect_one_arg(c)) {
            return std::nullopt;
        }
        const auto d = parse_duration(c.args[0]);
        if (!d) {
            error(c, "expected seconds or <n>ms, found " + in_quotes(c.args[0]));
            return std::nullopt;
        }
        if (*d < kMinDuration || *d > kMaxDuration) {
            error(c, "expected a duration from 1ms to 1h, found " + in_quotes(c.args[0]));
            return std::nullopt;
        }
        return d;
    }

    /// On or Off in any case.
    std::optional<bool> on_off_arg(const Context& c) {
        if (!expect_one_arg(c)) {
            return std::nullopt;
        }
        if (iequals(c.args[0], "on")) {
            return true;
        }
        if (iequals(c.args[0], "off")) {
            return false;
        }
        error(c, "expected On or Off, found " + in_quotes(c.args[0]));
        return std::nullopt;
    }

    /// The reason a Define/-D name is unusable, or nullopt. Apache refuses ':' (it would
    /// clash with its ${env:NAME} forms); blanks and braces could never be referenced.
    static std::optional<std::string> bad_define_name(std::string_view name) {
        if (name.empty()) {
            return "expected a name, found \"\"";
        }
        if (name.find_first_of(":${} \t") != std::string_view::npos) {
            return "expected a name without \":\", \"$\", braces or blanks, found " +
                   in_quotes(name);
        }
        return std::nullopt;
    }

    Mark mark(const Context& c) { return {c.file, c.line, c.name, ++marks_}; }

    // ---- server-wide directives ----

    void on_server_root(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (c.args[0].empty()) {
            error(c, "expected a directory, found \"\"");
            return;
        }
        // A relative ServerRoot is taken relative to the default one (the folder above the
        // config file), as Apache takes it relative to its compiled-in root.
        const fs::path root = normalize(result_.config.server_root / fs::path(c.args[0]));
        if (first_relative_use_) {
            warning(c, "expected before any relative path, found after " + *first_relative_use_ +
                           ", which was resolved against the previous ServerRoot");
            first_relative_use_.reset();
        }
        result_.config.server_root = root;
        std::error_code ec;
        const auto status = fs::status(root, ec);
        if (!fs::exists(status)) {
            error(c,
                  "expected an existing directory, found nothing at " + in_quotes(root.string()));
        } else if (!fs::is_directory(status)) {
            error(c, "expected a directory, found a file at " + in_quotes(root.string()));
        }
    }

    void on_include(const Context& c) { include(c, false); }
    void on_include_optional(const Context& c) { include(c, true); }

    void include(const Context& c, bool optional) {
        const auto pattern = path_arg(c, "a file, a directory or a glob pattern");
        if (!pattern) {
            return;
        }
        std::vector<fs::path> files;
        if (has_wildcard(c.args[0])) {
            // A glob that matches nothing is fine for both Include and IncludeOptional: an
            // empty conf.d/ is normal. Only regular files are read.
            glob_t g{};
            const int rc = ::glob(pattern->c_str(), 0, nullptr, &g);
            if (rc == 0) {
                for (std::size_t i = 0; i < g.gl_pathc; ++i) {
                    files.emplace_back(g.gl_pathv[i]);
                }
            }
            globfree(&g);
            if (rc != 0 && rc != GLOB_NOMATCH) {
                error(c, "expected a readable glob pattern, found " + in_quotes(pattern->string()) +
                             " (glob failed)");
                return;
            }
        } else {
            std::error_code ec;
            const auto status = fs::status(*pattern, ec);
            if (!fs::exists(status)) {
                if (!optional) {
                    error(c, "expected an existing file, found nothing at " +
                                 in_quotes(pattern->string()));
                }
                return;
            }
            if (fs::is_directory(status)) {
                // A directory means dir/*: its regular files, dotfiles (editor leftovers)
                // excluded, not recursive.
                for (const auto& entry : fs::directory_iterator(*pattern, ec)) {
                    if (entry.path().filename().string().front() != '.') {
                        files.push_back(entry.path());
                    }
                }
            } else {
                files.push_back(*pattern);
            }
        }
        std::erase_if(files, [](const fs::path& p) {
            std::error_code ec;
            return !fs::is_regular_file(p, ec);
        });
        // Byte order, whatever the locale, so that 10-x.conf sorts before 20-y.conf everywhere.
        std::sort(files.begin(), files.end(),
                  [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); });
        for (const fs::path& f : files) {
            read_included(normalize(f), c);
        }
    }

    void on_listen(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected [addr:]port, found none");
            return;
        }
        if (c.args.size() > 2) {
            error(c, "expected [addr:]port and an optional protocol, found " +
                         std::to_string(c.args.size()) + " arguments");
            return;
        }
        if (c.args.size() == 2 && !iequals(c.args[1], "http")) {
            error(c, "expected the protocol http (kahttpd does not speak TLS), found " +
                         in_quotes(c.args[1]));
            return;
        }
        const std::string& text = c.args[0];
        std::string host;
        std::string_view port_text;
        const std::string_view a = text;
        if (!a.empty() && a.front() == '[') {
            const std::size_t close = a.find(']');
            if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
                error(c, "expected [IPv6 address]:port as in [::1]:8080, found " + in_quotes(text));
                return;
            }
            const auto literal = detail::canonical_ip(a.substr(1, close - 1));
            if (!literal || literal->find(':') == std::string::npos) {
                error(c, "expected an IPv6 address literal in brackets, found " + in_quotes(text));
                return;
            }
            host = *literal;
            port_text = a.substr(close + 2);
        } else if (const std::size_t colon = a.rfind(':'); colon != std::string_view::npos) {
            if (a.find(':') != colon) {
                error(c, "expected an IPv6 address in brackets as in [::1]:8080, found " +
                             in_quotes(text));
                return;
            }
            const std::string_view literal = a.substr(0, colon);
            if (literal == "*") {
                host.clear(); // Apache's "*:80": every address.
            } else if (const auto ip = detail::canonical_ip(literal);
                       ip && ip->find(':') == std::string::npos) {
                host = *ip;
            } else {
                // Apache resolves names here; kahttpd binds literals only, so that what it
                // binds never depends on DNS or /etc/hosts at start-up.
                error(c, "expected an IP address literal (kahttpd does not resolve host names), "
                         "found " +
                             in_quotes(literal));
                return;
            }
            port_text = a.substr(colon + 1);
        } else {
            if (!parse_uint(a)) {
                error(c, "expected [addr:]port, found " + in_quotes(text));
                return;
            }
            port_text = a;
        }
        const auto port = parse_uint(port_text);
        if (!port || *port > 65535) {
            error(c, "expected a port from 0 to 65535, found " + in_quotes(port_text));
            return;
        }
        ListenAddr addr{host, static_cast<std::uint16_t>(*port), where(c)};
        // Port 0 asks for a fresh ephemeral port each time, so two of them never clash.
        if (addr.port != 0) {
            for (const ListenAddr& other : result_.config.listen) {
                if (other.host == addr.host && other.port == addr.port) {
                    error(c, "expected each address once, found " + in_quotes(text) +
                                 " again (first at " + other.where + ")");
                    return;
                }
            }
        }
        result_.config.listen.push_back(std::move(addr));
    }

    void on_keep_alive(const Context& c) {
        if (const auto on = on_off_arg(c)) {
            result_.config.keep_alive = *on;
        }
    }

    void on_keep_alive_timeout(const Context& c) {
        if (const auto d = duration_arg(c)) {
            result_.config.keep_alive_timeout = *d;
            keep_alive_timeout_at_ = mark(c);
        }
    }

    void on_timeout(const Context& c) {
        if (const auto d = duration_arg(c)) {
            result_.config.timeout = *d;
        }
    }

    void on_max_keep_alive_requests(const Context& c) {
        const auto n = uint_arg(c, 0, std::numeric_limits<std::uint32_t>::max());
        if (!n) {
            return;
        }
        result_.config.max_keep_alive_requests = static_cast<std::uint32_t>(*n);
        // Apache's default is 100, and a page with a few dozen assets already needs that
        // many requests; below it browsers reconnect (a TCP round trip each) mid-page.
        if (*n >= 1 && *n <= 99) {
            warning(c, "expected 0 (unlimited) or at least 100, found " + std::to_string(*n) +
                           "; pages with many assets pay reconnects");
        }
    }

    void on_request_read_timeout(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected header=<seconds> and/or body=<seconds>, found none");
            return;
        }
        for (const std::string& arg : c.args) {
            const std::size_t eq = arg.find('=');
            const std::string key = lower(arg.substr(0, eq));
            if (eq == std::string::npos || (key != "header" && key != "body")) {
                if (key == "handshake") {
                    error(c, "expected header= or body= (kahttpd has no TLS handshake), found " +
                                 in_quotes(arg));
                } else if (key == "minrate") {
                    error(c, "expected header=<seconds> or body=<seconds> (kahttpd does not "
                             "support MinRate), found " +
                                 in_quotes(arg));
                } else {
                    error(c,
                          "expected header=<seconds> or body=<seconds>, found " + in_quotes(arg));
                }
                continue;
            }
            const std::string value = arg.substr(eq + 1);
            if (value.find_first_of("-,") != std::string::npos) {
                error(c, "expected " + key + "=<seconds> or " + key +
                             "=<n>ms (kahttpd does not support timeout ranges or MinRate), "
                             "found " +
                             in_quotes(arg));
                continue;
            }
            const auto d = parse_duration(value);
            if (!d) {
                error(c, "expected " + key + "=<seconds> or " + key + "=<n>ms, found " +
                             in_quotes(arg));
                continue;
            }
            if (*d != milliseconds::zero() && (*d < kMinDuration || *d > kMaxDuration)) {
                error(c, "expected " + key + "=0 (disabled) or a duration from 1ms to 1h, found " +
                             in_quotes(arg));
                continue;
            }
            if (key == "header") {
                result_.config.request_read_timeout_header = *d;
                header_timeout_at_ = mark(c);
            } else {
                result_.config.request_read_timeout_body = *d;
            }
        }
    }

    // The 64 KiB ceiling on the line and field limits keeps a single header line within
    // what the parser buffers for one request; Apache's own compiled-in cap is similar.
    void on_limit_request_line(const Context& c) {
        if (const auto n = uint_arg(c, 1, 65536)) {
            result_.config.limit_request_line = static_cast<std::uint32_t>(*n);
        }
    }

    void on_limit_request_field_size(const Context& c) {
        if (const auto n = uint_arg(c, 1, 65536)) {
            result_.config.limit_request_field_size = static_cast<std::uint32_t>(*n);
        }
    }

    void on_limit_request_fields(const Context& c) {
        // 32767 is Apache's maximum.
        if (const auto n = uint_arg(c, 1, 32767)) {
            result_.config.limit_request_fields = static_cast<std::uint32_t>(*n);
        }
    }

    void on_types_config(const Context& c) {
        const auto path = path_arg(c, "a mime.types file");
        if (!path) {
            return;
        }
        result_.config.types_config = *path;
        // Not fatal: the server falls back to its built-in table. Only the file named here is
        // checked; the default /etc/mime.types is the server's business.
        std::string ignored;
        if (auto why = read_whole_file(*path, ignored)) {
            warning(c, "expected a readable mime.types file, found " + in_quotes(path->string()) +
                           " (" + *why + "); the built-in table of media types is used");
        }
    }

    void on_workers(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (iequals(c.args[0], "auto")) {
            result_.config.workers = 0;
            return;
        }
        const auto n = parse_uint(c.args[0]);
        if (!n || *n < 1 || *n > 256) {
            error(c, "expected auto or an integer from 1 to 256, found " + in_quotes(c.args[0]));
            return;
        }
        result_.config.workers = static_cast<unsigned>(*n);
    }

    void on_server_tokens(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        using T = Config::ServerTokens;
        struct Name {
            std::string_view name;
            T value;
        };
        // Apache's spellings, long and short.
        static constexpr std::array kNames{
            Name{"Prod", T::prod},   Name{"ProductOnly", T::prod}, Name{"Major", T::major},
            Name{"Minor", T::minor}, Name{"Min", T::min},          Name{"Minimal", T::min},
            Name{"OS", T::os},       Name{"Full", T::full},
        };
        for (const Name& n : kNames) {
            if (iequals(n.name, c.args[0])) {
                result_.config.server_tokens = n.value;
                return;
            }
        }
        error(c, "expected Prod, Major, Minor, Min, OS or Full, found " + in_quotes(c.args[0]));
    }

    void on_server_signature(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        using S = Config::ServerSignature;
        const std::string& a = c.args[0];
        if (iequals(a, "on")) {
            result_.config.server_signature = S::on;
        } else if (iequals(a, "off")) {
            result_.config.server_signature = S::off;
        } else if (iequals(a, "email")) {
            result_.config.server_signature = S::email;
        } else {
            error(c, "expected On, Off or EMail, found " + in_quotes(a));
        }
    }

    void on_pid_file(const Context& c) {
        if (const auto path = path_arg(c, "a file")) {
            result_.config.pid_file = *path;
        }
    }

    /// A log target: a file (relative to ServerRoot), never a pipe or syslog.
    std::optional<std::string> log_target(const Context& c, const std::string& target,
                                          bool syslog_too) {
        if (target.starts_with('|')) {
            error(c, "piped logs (" + in_quotes(target) + ") are " + std::string(kNotSupported));
            return std::nullopt;
        }
        if (syslog_too && iequals(target.substr(0, 6), "syslog") &&
            (target.size() == 6 || target[6] == ':')) {
            error(c, not_supported(target, "give a file, or /dev/stderr"));
            return std::nullopt;
        }
        const auto path = resolve_path(c, target, "a file");
        if (!path) {
            return std::nullopt;
        }
        return path->string();
    }

    void on_error_log(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (const auto target = log_target(c, c.args[0], true)) {
            result_.config.error_log = *target;
        }
    }

    void on_log_level(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected a level from emerg to debug, found none");
            return;
        }
        using L = Config::LogLevel;
        static constexpr std::array<std::string_view, 8> kLevels{
            "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"};
        std::optional<L> level;
        bool ok = true;
        for (const std::string& arg : c.args) {
            if (arg.find(':') != std::string::npos) {
                error(c, "per-module levels (" + in_quotes(arg) + ") are " +
                             std::string(kNotSupported));
                ok = false;
                continue;
            }
            const auto it = std::find_if(kLevels.begin(), kLevels.end(),
                                         [&](std::string_view l) { return iequals(l, arg); });
            if (it != kLevels.end()) {
                if (level) {
                    error(c, "expected one level, found " + in_quotes(arg) + " as well");
                    ok = false;
                }
                level = static_cast<L>(it - kLevels.begin());
            } else if (arg.size() == 6 && iequals(arg.substr(0, 5), "trace") && arg[5] >= '1' &&
                       arg[5] <= '8') {
                error(c, not_supported(arg, "debug is the most detailed level"));
                ok = false;
            } else {
                error(c, "expected emerg, alert, crit, error, warn, notice, info or debug, "
                         "found " +
                             in_quotes(arg));
                ok = false;
            }
        }
        if (ok && level) {
            result_.config.log_level = *level;
        }
    }

    void on_log_format(const Context& c) {
        if (c.args.empty() || c.args.size() > 2) {
            error(c, "expected a format string and an optional nickname, found " +
                         args_text(c.args.size()));
            return;
        }
        auto& formats = result_.config.log_formats;
        std::string format = c.args[0];
        if (format.empty()) {
            error(c, "expected a format string, found \"\"");
            return;
        }
        if (c.args.size() == 1 && format.find('%') == std::string::npos) {
            // `LogFormat nickname` makes a defined format the default one, as in Apache.
            const auto it = formats.find(format);
            if (it == formats.end()) {
                error(c, "expected a format string or a nickname defined before, found " +
                             in_quotes(format));
                return;
            }
            format = it->second;
        }
        // Without a nickname the format is the default one, stored under "".
        formats[c.args.size() == 2 ? c.args[1] : ""] = std::move(format);
    }

    void on_custom_log(const Context& c) {
        if (c.args.size() < 2) {
            error(c, "expected a file and a format or nickname, found " + args_text(c.args.size()));
            return;
        }
        if (c.args.size() > 2) {
            const std::string& extra = c.args[2];
            if (c.args.size() == 3 &&
                (iequals(extra.substr(0, 4), "env=") || iequals(extra.substr(0, 5), "expr="))) {
                error(c, "conditions (" + in_quotes(extra) + ") are " + std::string(kNotSupported));
            } else {
                error(c, "expected a file and a format or nickname, found " +
                             std::to_string(c.args.size()) + " arguments");
            }
            return;
        }
        const auto target = log_target(c, c.args[0], false);
        if (!target) {
            return;
        }
        const std::string& spec = c.args[1];
        const auto& formats = result_.config.log_formats;
        std::string format;
        if (spec.find('%') != std::string::npos) {
            format = spec;
        } else if (const auto it = formats.find(spec); it != formats.end()) {
            format = it->second;
        } else if (spec == "json") {
            format = "json"; // kahttpd's own structured format
        } else {
            error(c, "expected a format string, json or a nickname defined by LogFormat before "
                     "this line, found " +
                         in_quotes(spec));
            return;
        }
        result_.config.custom_logs.push_back({*target, std::move(format), where(c)});
    }

    void on_max_connections(const Context& c) {
        if (const auto n = uint_arg(c, 0, 1000000)) {
            result_.config.max_connections = static_cast<std::uint32_t>(*n);
        }
    }

    void on_tcp_keepalive(const Context& c) {
        if (const auto on = on_off_arg(c)) {
            result_.config.tcp_keepalive = *on;
        }
    }

    /// Whole seconds, as the kernel takes them (TCP_KEEPIDLE and TCP_KEEPINTVL: 1..32767).
    std::optional<std::chrono::seconds> keepalive_seconds(const Context& c) {
        if (const auto n = uint_arg(c, 1, 32767)) {
            return std::chrono::seconds(*n);
        }
        return std::nullopt;
    }

    void on_tcp_keepalive_idle(const Context& c) {
        if (const auto s = keepalive_seconds(c)) {
            result_.config.tcp_keepalive_idle = *s;
        }
    }

    void on_tcp_keepalive_interval(const Context& c) {
        if (const auto s = keepalive_seconds(c)) {
            result_.config.tcp_keepalive_interval = *s;
        }
    }

    void on_tcp_keepalive_count(const Context& c) {
        if (const auto n = uint_arg(c, 1, 127)) {
            result_.config.tcp_keepalive_count = static_cast<std::uint32_t>(*n);
        }
    }

    void on_tcp_user_timeout(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        const auto d = parse_duration(c.args[0]);
        if (!d || *d > kMaxDuration) {
            error(c, "expected 0 (the kernel's default) or a duration up to 1h, found " +
                         in_quotes(c.args[0]));
            return;
        }
        result_.config.tcp_user_timeout = *d;
    }

    /// FileCacheSize: bytes with an optional K, M or G suffix (powers of 1024, any case).
    void on_file_cache_size(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        std::string_view text = c.args[0];
        std::uint64_t unit = 1;
        if (!text.empty()) {
            switch (detail::to_lower(text.back())) {
            case 'k':
                unit = 1ull << 10;
                break;
            case 'm':
                unit = 1ull << 20;
                break;
            case 'g':
                unit = 1ull << 30;
                break;
            default:
                break;
            }
            if (unit != 1) {
                text.remove_suffix(1);
            }
        }
        constexpr std::uint64_t kMax = 64ull << 30;
        const auto n = parse_uint(text);
        if (!n || *n > kMax / unit) {
            error(c, "expected 0 (no cache) or bytes with an optional K, M or G suffix, up to "
                     "64G, found " +
                         in_quotes(c.args[0]));
            return;
        }
        result_.config.file_cache_size = *n * unit;
    }

    void on_file_cache_entries(const Context& c) {
        if (const auto n = uint_arg(c, 1, 1000000)) {
            result_.config.file_cache_entries = static_cast<std::uint32_t>(*n);
        }
    }

    void on_file_cache_valid(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        const auto d = parse_duration(c.args[0]);
        if (!d || *d > kMaxDuration) {
            error(c, "expected 0 (check on every request) or seconds or <n>ms up to 1h, found " +
                         in_quotes(c.args[0]));
            return;
        }
        result_.config.file_cache_valid = *d;
    }

    void on_graceful_shutdown_timeout(const Context& c) {
        // 0 means close at once. Apache's 0 waits forever; kahttpd always bounds the wait so
        // that a stuck client cannot hold a restart hostage.
        if (!expect_one_arg(c)) {
            return;
        }
        const auto d = parse_duration(c.args[0]);
        if (!d) {
            error(c, "expected seconds or <n>ms, found " + in_quotes(c.args[0]));
            return;
        }
        if (*d > kMaxDuration) {
            error(c, "expected 0 (close at once) or a duration up to 1h, found " +
                         in_quotes(c.args[0]));
            return;
        }
        result_.config.graceful_shutdown_timeout = *d;
    }

    void on_load_module(const Context& c) {
        if (c.args.size() != 2) {
            error(c, "expected a module name and a file, found " + args_text(c.args.size()));
            return;
        }
        warning(c, "modules are built into kahttpd; LoadModule is ignored");
    }

    void on_name_virtual_host(const Context& c) {
        if (c.args.size() != 1) {
            error(c, "expected one address, found " + args_text(c.args.size()));
            return;
        }
        // Apache 2.4 says the same ("NameVirtualHost has no effect").
        warning(c, "has no effect: every <VirtualHost> is name-based, as in Apache 2.4; "
                   "NameVirtualHost is ignored");
    }

    // ---- anywhere ----

    void on_define(const Context& c) {
        if (c.args.empty() || c.args.size() > 2) {
            error(c, "expected a name and an optional value, found " + args_text(c.args.size()));
            return;
        }
        if (const auto why = bad_define_name(c.args[0])) {
            error(c, *why);
            return;
        }
        result_.config.defines[c.args[0]] = c.args.size() == 2 ? c.args[1] : "";
        poisoned_.erase(c.args[0]);
    }

    void on_undefine(const Context& c) {
        if (expect_one_arg(c)) {
            result_.config.defines.erase(c.args[0]);
            poisoned_.erase(c.args[0]);
        }
    }

    // ---- vhost level ----

    void on_server_name(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        std::string_view text = c.args[0];
        // Apache takes [scheme://]name[:port]; the scheme and port only matter for redirects
        // Apache builds, which kahttpd does not.
        if (const std::size_t scheme = text.find("://"); scheme != std::string_view::npos) {
            text.remove_prefix(scheme + 3);
        }
        const std::string name = normalize_host(text);
        if (name.find_first_of("*?") != std::string::npos) {
            error(c, "expected a host name without wildcards (use ServerAlias for patterns), "
                     "found " +
                         in_quotes(c.args[0]));
            return;
        }
        if (!is_host_name(name, false)) {
            error(c, "expected a host name, found " + in_quotes(c.args[0]));
            return;
        }
        current_vhost().server_name = {name, where(c)};
    }

    void on_server_alias(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected one or more host names, found none");
            return;
        }
        std::vector<Setting<std::string>> aliases;
        for (const std::string& arg : c.args) {
            std::string name = lower(arg);
            if (name.size() > 1 && name.back() == '.') {
                name.pop_back();
            }
            if (!is_host_name(name, true)) {
                error(c, "expected a host name or a pattern with * and ?, found " + in_quotes(arg));
                return;
            }
            aliases.push_back({std::move(name), where(c)});
        }
        auto& list = current_vhost().aliases;
        list.insert(list.end(), aliases.begin(), aliases.end());
    }

    void on_server_admin(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (c.args[0].empty()) {
            error(c, "expected an e-mail address or a URL, found \"\"");
            return;
        }
        current_vhost().server_admin = {c.args[0], where(c)};
    }

    void on_document_root(const Context& c) {
        const auto root = path_arg(c, "a directory");
        if (!root) {
            return;
        }
        current_vhost().document_root = {*root, where(c)};
        // Apache 2.4 only warns about a missing DocumentRoot (it may be created later, by a
        // deployment); a file where a directory should be is a plain mistake.
        std::error_code ec;
        const auto status = fs::status(*root, ec);
        if (!fs::exists(status)) {
            warning(c, "expected an existing directory, found nothing at " +
                           in_quotes(root->string()));
        } else if (!fs::is_directory(status)) {
            error(c, "expected a directory, found a file at " + in_quotes(root->string()));
        }
    }

    // ---- DirSettings: server, <VirtualHost>, <Directory>, <Location> ----

    void on_options(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected one or more options, found none");
            return;
        }
        struct Option {
            std::string_view name;
            std::uint8_t bits;
        };
        static constexpr std::array kOptions{
            Option{"Indexes", OptionsSpec::kIndexes},
            Option{"FollowSymLinks", OptionsSpec::kFollowSymLinks},
            Option{"SymLinksIfOwnerMatch", OptionsSpec::kSymLinksIfOwnerMatch},
            // Apache's All is every option but MultiViews; here that is all three.
            Option{"All", OptionsSpec::kAll},
            Option{"None", 0},
        };
        static constexpr std::array<std::string_view, 5> kApacheOnly{
            "ExecCGI", "Includes", "IncludesNOEXEC", "MultiViews", "RunScripts"};
        OptionsSpec spec;
        std::optional<std::string> first_signed;
        std::optional<std::string> first_plain;
        bool ok = true;
        for (const std::string& arg : c.args) {
            std::string_view word = arg;
            const char action = !word.empty() && (word[0] == '+' || word[0] == '-') ? word[0] : 0;
            if (action != 0) {
                word.remove_prefix(1);
                first_signed = first_signed.value_or(arg);
            } else {
                first_plain = first_plain.value_or(arg);
            }
            const auto it = std::find_if(kOptions.begin(), kOptions.end(),
                                         [&](const Option& o) { return iequals(o.name, word); });
            if (it == kOptions.end()) {
                const bool apache =
                    std::any_of(kApacheOnly.begin(), kApacheOnly.end(),
                                [&](std::string_view a) { return iequals(a, word); });
                error(c, apache ? not_supported(word)
                                : "expected Indexes, FollowSymLinks, SymLinksIfOwnerMatch, All or "
                                  "None, found unknown option " +
                                      in_quotes(arg));
                ok = false;
                continue;
            }
            if (it->name == "None" && action != 0) {
                error(c, "expected None without + or -, found " + in_quotes(arg));
                ok = false;
                continue;
            }
            if (action == '+') {
                spec.on |= it->bits;
                spec.off &= static_cast<std::uint8_t>(~it->bits);
            } else if (action == '-') {
                spec.off |= it->bits;
                spec.on &= static_cast<std::uint8_t>(~it->bits);
            } else {
                spec.on |= it->bits;
            }
        }
        if (first_signed && first_plain) {
            // Apache 2.4's rule: a mix would be ambiguous about what is inherited.
            error(c, "expected either every option with + or - or none with them, found " +
                         in_quotes(*first_signed) + " and " + in_quotes(*first_plain));
            return;
        }
        if (!ok) {
            return;
        }
        spec.absolute = !first_signed;
        // Several Options lines in one section combine, the later ones applied over the
        // earlier ones, as in Apache.
        auto& slot = dir_target().options;
        if (!slot || spec.absolute) {
            slot = Setting<OptionsSpec>{spec, where(c)};
            return;
        }
        OptionsSpec& e = slot->value;
        if (e.absolute) {
            e.on = spec.apply(e.on);
        } else {
            e.on = static_cast<std::uint8_t>((e.on & ~spec.off) | spec.on);
            e.off = static_cast<std::uint8_t>((e.off & ~spec.on) | spec.off);
        }
        slot->from = where(c);
    }

    void on_directory_index(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected one or more file names, found none");
            return;
        }
        auto& slot = dir_target().directory_index;
        if (c.args.size() == 1 && iequals(c.args[0], "disabled")) {
            slot = Setting<std::vector<std::string>>{{}, where(c)};
            return;
        }
        std::vector<std::string> names;
        for (const std::string& name : c.args) {
            if (iequals(name, "disabled")) {
                error(c, "expected \"disabled\" alone, found it with other names");
                return;
            }
            if (name.empty() || name.find('/') != std::string::npos) {
                // Apache also takes local URLs (/cgi-bin/index.pl); kahttpd only looks for
                // files in the requested directory.
                error(c, "expected a file name without \"/\", found " + in_quotes(name));
                return;
            }
            names.push_back(name);
        }
        // As in Apache 2.4, several DirectoryIndex directives in one section add to the list;
        // the first one replaces what the section inherits.
        if (!slot) {
            slot = Setting<std::vector<std::string>>{{}, where(c)};
        }
        slot->value.insert(slot->value.end(), names.begin(), names.end());
        slot->from = where(c);
    }

    void on_require(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected all, ip or local, found none");
            return;
        }
        const std::string& kind = c.args[0];
        AccessRule::Requirement req;
        if (iequals(kind, "all")) {
            if (c.args.size() != 2) {
                error(c, "expected all granted or all denied, found " +
                             std::to_string(c.args.size()) +
                             (c.args.size() == 1 ? " word" : " words"));
                return;
            }
            if (iequals(c.args[1], "granted")) {
                req.kind = AccessRule::Kind::all_granted;
            } else if (iequals(c.args[1], "denied")) {
                req.kind = AccessRule::Kind::all_denied;
            } else {
                error(c, "expected granted or denied after all, found " + in_quotes(c.args[1]));
                return;
            }
        } else if (iequals(kind, "ip")) {
            if (c.args.size() == 1) {
                error(c, "expected one or more IP addresses or networks after ip, found none");
                return;
            }
            req.kind = AccessRule::Kind::ip;
            bool ok = true;
            for (std::size_t i = 1; i < c.args.size(); ++i) {
                if (const auto n = detail::parse_ip_network(c.args[i])) {
                    req.networks.push_back(*n);
                } else {
                    error(c, "expected an IP address, a partial IPv4 address as in 10.1 or a "
                             "network as in 10.0.0.0/8, found " +
                                 in_quotes(c.args[i]));
                    ok = false;
                }
            }
            if (!ok) {
                return;
            }
        } else if (iequals(kind, "local")) {
            if (c.args.size() != 1) {
                error(c, "expected nothing after local, found " + in_quotes(c.args[1]));
                return;
            }
            req.kind = AccessRule::Kind::local;
        } else {
            static constexpr std::array<std::string_view, 10> kApacheOnly{
                "not",   "host", "forward-dns", "user", "valid-user",
                "group", "env",  "method",      "expr", "file-owner"};
            const bool apache = std::any_of(kApacheOnly.begin(), kApacheOnly.end(),
                                            [&](std::string_view a) { return iequals(a, kind); });
            error(c, apache ? not_supported(kind, "kahttpd has Require all, ip and local")
                            : "expected all, ip or local, found " + in_quotes(kind));
            return;
        }
        // Several Require lines in one section: any of them grants (Apache's implicit
        // <RequireAny>).
        auto& slot = dir_target().require;
        if (!slot) {
            slot = Setting<AccessRule>{{}, where(c)};
        }
        slot->value.any.push_back(std::move(req));
        slot->from = where(c);
    }

    void on_header(const Context& c) {
        const auto& a = c.args;
        std::size_t i = 0;
        HeaderRule rule;
        rule.from = where(c);
        // The first word may name Apache's header table: "always" (every response, errors
        // too) or "onsuccess" (the default: 2xx and 3xx only).
        if (!a.empty() && (iequals(a[0], "always") || iequals(a[0], "onsuccess"))) {
            rule.always = iequals(a[0], "always");
            ++i;
        }
        static constexpr std::string_view kActions = "set, append, merge, add or unset";
        if (i == a.size()) {
            error(c, "expected " + std::string(kActions) + ", found none");
            return;
        }
        const std::string& action = a[i++];
        using A = HeaderRule::Action;
        if (iequals(action, "set")) {
            rule.action = A::set;
        } else if (iequals(action, "append")) {
            rule.action = A::append;
        } else if (iequals(action, "merge")) {
            rule.action = A::merge;
        } else if (iequals(action, "add")) {
            rule.action = A::add;
        } else if (iequals(action, "unset")) {
            rule.action = A::unset;
        } else if (iequals(action, "echo") || iequals(action, "edit") || iequals(action, "edit*") ||
                   iequals(action, "setifempty") || iequals(action, "note")) {
            error(c, not_supported(action, "kahttpd has set, append, merge, add and unset"));
            return;
        } else {
            error(c, "expected " + std::string(kActions) + ", found " + in_quotes(action));
            return;
        }
        if (i == a.size()) {
            error(c, "expected a header name after " + lower(action) + ", found none");
            return;
        }
        if (!detail::is_token(a[i])) {
            error(c, "expected a header name (letters, digits and !#$%&'*+-.^_`|~), found " +
                         in_quotes(a[i]));
            return;
        }
        rule.name = a[i++];
        if (rule.action != A::unset) {
            if (i == a.size()) {
                error(c, "expected a value after the header name, found none");
                return;
            }
            rule.value = a[i++];
        }
        if (i < a.size()) {
            const std::string& extra = a[i];
            if (iequals(extra.substr(0, 4), "env=") || iequals(extra.substr(0, 5), "expr=")) {
                error(c, "conditions (" + in_quotes(extra) + ") are " + std::string(kNotSupported));
            } else if (iequals(extra, "early")) {
                error(c, not_supported(extra));
            } else {
                error(c, rule.action == A::unset
                             ? "expected nothing after the header name, found " + in_quotes(extra)
                             : "expected nothing after the value (quote a value with blanks), "
                               "found " +
                                   in_quotes(extra));
            }
            return;
        }
        dir_target().headers.push_back(std::move(rule));
    }

    void on_error_document(const Context& c) {
        if (c.args.size() != 2) {
            error(c,
                  "expected a status code and a URL or message, found " + args_text(c.args.size()));
            return;
        }
        const auto code = parse_uint(c.args[0]);
        if (!code || *code < 400 || *code > 599) {
            error(c, "expected a status code from 400 to 599, found " + in_quotes(c.args[0]));
            return;
        }
        const std::string& target = c.args[1];
        ErrorDocument doc;
        doc.target = target;
        // Apache 2.4's rule: a blank makes it a message, then a leading "/" a local URL, then
        // a scheme a redirect; anything else is a message. The quotes around a message are
        // gone by now, which is why the blank comes first.
        const bool is_url =
            iequals(target.substr(0, 7), "http://") || iequals(target.substr(0, 8), "https://");
        if (target.empty()) {
            error(c, "expected a URL path, a full URL or a message, found \"\"");
            return;
        }
        if (iequals(target, "default")) {
            // The data model has no "built-in page" entry that would override an inherited
            // ErrorDocument, so Apache's reset is refused rather than half-done.
            error(c, not_supported(target, "remove the ErrorDocument that set it instead"));
            return;
        }
        if (target.find(' ') != std::string::npos) {
            doc.kind = ErrorDocument::Kind::text;
        } else if (target.starts_with('/')) {
            doc.kind = ErrorDocument::Kind::local_url;
        } else if (is_url) {
            doc.kind = ErrorDocument::Kind::redirect;
        } else {
            doc.kind = ErrorDocument::Kind::text;
        }
        dir_target().error_documents[static_cast<int>(*code)] = {std::move(doc), where(c)};
    }

    void on_set_handler(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        const std::string name = lower(c.args[0]);
        std::string handler;
        if (name == "server-status") {
            handler = name;
        } else if (name == "none" || name == "default-handler") {
            handler.clear(); // the static-file handler
        } else {
            static constexpr std::array<std::string_view, 9> kApacheOnly{
                "cgi-script",       "server-info", "imap-file",  "send-as-is", "type-map",
                "balancer-manager", "ldap-status", "lua-script", "perl-script"};
            const bool apache =
                name.starts_with("proxy:") || name.starts_with("application/x-httpd-") ||
                std::find(kApacheOnly.begin(), kApacheOnly.end(), name) != kApacheOnly.end();
            error(c, apache ? not_supported(c.args[0])
                            : "expected server-status, default-handler or none, found unknown "
                              "handler " +
                                  in_quotes(c.args[0]));
            return;
        }
        dir_target().handler = Setting<std::string>{handler, where(c)};
    }

    void on_add_type(const Context& c) {
        if (c.args.size() < 2) {
            error(c, "expected a media type and one or more extensions, found " +
                         args_text(c.args.size()));
            return;
        }
        // type/subtype, optionally with parameters ("text/html; charset=utf-8"), which are
        // kept as written. The type itself is case-insensitive and stored in lower case.
        const std::string& text = c.args[0];
        const std::size_t semi = text.find(';');
        const std::string_view essence = std::string_view(text).substr(0, semi);
        const std::size_t slash = essence.find('/');
        if (slash == std::string_view::npos || !detail::is_token(essence.substr(0, slash)) ||
            !detail::is_token(essence.substr(slash + 1))) {
            error(c, "expected a media type as in text/html, found " + in_quotes(text));
            return;
        }
        const std::string type =
            lower(essence) + (semi == std::string::npos ? "" : text.substr(semi));
        std::vector<std::string> extensions;
        for (std::size_t i = 1; i < c.args.size(); ++i) {
            std::string_view ext = c.args[i];
            if (ext.starts_with('.')) {
                ext.remove_prefix(1);
            }
            if (ext.empty() || ext.find_first_of("/ \t") != std::string_view::npos) {
                error(c,
                      "expected a file name extension as in .html, found " + in_quotes(c.args[i]));
                return;
            }
            extensions.push_back(lower(ext));
        }
        auto& types = dir_target().add_types;
        for (const std::string& ext : extensions) {
            types[ext] = {type, where(c)};
        }
    }

    void on_add_default_charset(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        const std::string& a = c.args[0];
        std::string charset;
        if (iequals(a, "on")) {
            charset = "iso-8859-1"; // Apache's On
        } else if (iequals(a, "off")) {
            charset.clear();
        } else if (detail::is_token(a)) {
            charset = a;
        } else {
            error(c, "expected On, Off or a charset name, found " + in_quotes(a));
            return;
        }
        dir_target().default_charset = Setting<std::string>{charset, where(c)};
    }

    void on_file_etag(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected INode, MTime, Size, All or None, found none");
            return;
        }
        struct Part {
            std::string_view name;
            std::uint8_t bits;
        };
        static constexpr std::array kParts{
            Part{"INode", FileETagSpec::kINode},
            Part{"MTime", FileETagSpec::kMTime},
            Part{"Size", FileETagSpec::kSize},
            Part{"All", FileETagSpec::kINode | FileETagSpec::kMTime | FileETagSpec::kSize},
            Part{"None", 0},
        };
        // +/- forms change Apache's default (MTime Size), not the inherited value: the data
        // model keeps one absolute set per section.
        FileETagSpec spec;
        std::uint8_t plain = 0;
        std::optional<std::string> first_signed;
        std::optional<std::string> first_plain;
        for (const std::string& arg : c.args) {
            std::string_view word = arg;
            const char action = !word.empty() && (word[0] == '+' || word[0] == '-') ? word[0] : 0;
            if (action != 0) {
                word.remove_prefix(1);
            }
            const auto it = std::find_if(kParts.begin(), kParts.end(),
                                         [&](const Part& p) { return iequals(p.name, word); });
            if (it == kParts.end()) {
                error(c, iequals(word, "Digest")
                             ? not_supported(word)
                             : "expected INode, MTime, Size, All or None, found " + in_quotes(arg));
                return;
            }
            const bool alone = it->name == "All" || it->name == "None";
            if (alone && (action != 0 || c.args.size() > 1)) {
                error(c, "expected " + std::string(it->name) + " alone, found " + in_quotes(arg) +
                             " with other parts");
                return;
            }
            if (action == '+') {
                spec.parts |= it->bits;
                first_signed = first_signed.value_or(arg);
            } else if (action == '-') {
                spec.parts &= static_cast<std::uint8_t>(~it->bits);
                first_signed = first_signed.value_or(arg);
            } else {
                plain |= it->bits;
                first_plain = first_plain.value_or(arg);
            }
        }
        if (first_signed && first_plain) {
            error(c, "expected either every part with + or - or none with them, found " +
                         in_quotes(*first_signed) + " and " + in_quotes(*first_plain));
            return;
        }
        if (first_plain) {
            spec.parts = plain;
        }
        dir_target().file_etag = Setting<FileETagSpec>{spec, where(c)};
    }

    /// kahttpd's own: serve foo.br / foo.gz beside foo to clients that accept them.
    void on_precompressed_files(const Context& c) {
        if (const auto on = on_off_arg(c)) {
            dir_target().precompressed_files = Setting<bool>{*on, where(c)};
        }
    }

    /// Apache's MaxRanges with a count (unlimited = 0); "none"/"default" forms not supported.
    void on_max_ranges(const Context& c) {
        if (const auto n = uint_arg(c, 0, 65535)) {
            dir_target().max_ranges =
                Setting<std::uint32_t>{static_cast<std::uint32_t>(*n), where(c)};
        }
    }

    void on_enable_sendfile(const Context& c) {
        if (const auto on = on_off_arg(c)) {
            dir_target().enable_sendfile = Setting<bool>{*on, where(c)};
        }
    }

    void on_limit_request_body(const Context& c) {
        // 0 means unlimited and 2^31-1 is the maximum, both as in Apache.
        if (const auto n = uint_arg(c, 0, 2147483647)) {
            dir_target().limit_request_body = Setting<std::uint64_t>{*n, where(c)};
        }
    }

    void on_allow_override(const Context& c) {
        // kahttpd reads no .htaccess files, which is what None says; accepting it lets stock
        // Apache <Directory> blocks load. Anything else would be a promise not kept.
        if (c.args.size() == 1 && iequals(c.args[0], "None")) {
            return;
        }
        const auto hint = detail::unsupported_directive("AllowOverride");
        if (c.args.empty()) {
            error(c, "expected None, found none");
        } else {
            error(c, not_supported(iequals(c.args[0], "None") ? c.args[1] : c.args[0],
                                   std::string(hint.value_or("")) + ", so only None is accepted"));
        }
    }

    // The table comes after the handlers it names (a static member initializer is not a
    // complete-class context). The first entry at the smallest edit distance is the one
    // suggested for an unknown directive.
    static constexpr std::array kDirectives{
        Spec{"ServerRoot", &Loader::on_server_root, Scope::server},
        Spec{"Include", &Loader::on_include, Scope::anywhere},
        Spec{"IncludeOptional", &Loader::on_include_optional, Scope::anywhere},
        Spec{"Listen", &Loader::on_listen, Scope::server},
        Spec{"ServerName", &Loader::on_server_name, Scope::vhost},
        Spec{"DocumentRoot", &Loader::on_document_root, Scope::vhost},
        Spec{"DirectoryIndex", &Loader::on_directory_index, Scope::anywhere},
        Spec{"KeepAlive", &Loader::on_keep_alive, Scope::server},
        Spec{"KeepAliveTimeout", &Loader::on_keep_alive_timeout, Scope::server},
        Spec{"MaxKeepAliveRequests", &Loader::on_max_keep_alive_requests, Scope::server},
        Spec{"Timeout", &Loader::on_timeout, Scope::server},
        Spec{"RequestReadTimeout", &Loader::on_request_read_timeout, Scope::server},
        Spec{"LimitRequestLine", &Loader::on_limit_request_line, Scope::server},
        Spec{"LimitRequestFieldSize", &Loader::on_limit_request_field_size, Scope::server},
        Spec{"LimitRequestFields", &Loader::on_limit_request_fields, Scope::server},
        Spec{"LimitRequestBody", &Loader::on_limit_request_body, Scope::anywhere},
        Spec{"TypesConfig", &Loader::on_types_config, Scope::server},
        Spec{"Workers", &Loader::on_workers, Scope::server},
        Spec{"ServerAlias", &Loader::on_server_alias, Scope::vhost_only},
        Spec{"ServerAdmin", &Loader::on_server_admin, Scope::vhost},
        Spec{"Options", &Loader::on_options, Scope::anywhere},
        Spec{"Require", &Loader::on_require, Scope::anywhere},
        Spec{"Header", &Loader::on_header, Scope::anywhere},
        Spec{"ErrorDocument", &Loader::on_error_document, Scope::anywhere},
        Spec{"SetHandler", &Loader::on_set_handler, Scope::anywhere},
        Spec{"AddType", &Loader::on_add_type, Scope::anywhere},
        Spec{"AddDefaultCharset", &Loader::on_add_default_charset, Scope::anywhere},
        Spec{"FileETag", &Loader::on_file_etag, Scope::anywhere},
        Spec{"EnableSendfile", &Loader::on_enable_sendfile, Scope::anywhere},
        Spec{"PrecompressedFiles", &Loader::on_precompressed_files, Scope::anywhere},
        Spec{"MaxRanges", &Loader::on_max_ranges, Scope::anywhere},
        Spec{"AllowOverride", &Loader::on_allow_override, Scope::anywhere},
        Spec{"AllowOverrideList", &Loader::on_allow_override, Scope::anywhere},
        Spec{"ServerTokens", &Loader::on_server_tokens, Scope::server},
        Spec{"ServerSignature", &Loader::on_server_signature, Scope::server},
        Spec{"PidFile", &Loader::on_pid_file, Scope::server},
        Spec{"ErrorLog", &Loader::on_error_log, Scope::server},
        Spec{"LogLevel", &Loader::on_log_level, Scope::server},
        Spec{"LogFormat", &Loader::on_log_format, Scope::server},
        Spec{"CustomLog", &Loader::on_custom_log, Scope::server},
        Spec{"MaxConnections", &Loader::on_max_connections, Scope::server},
        Spec{"TCPKeepAlive", &Loader::on_tcp_keepalive, Scope::server},
        Spec{"TCPKeepAliveIdle", &Loader::on_tcp_keepalive_idle, Scope::server},
        Spec{"TCPKeepAliveInterval", &Loader::on_tcp_keepalive_interval, Scope::server},
        Spec{"TCPKeepAliveCount", &Loader::on_tcp_keepalive_count, Scope::server},
        Spec{"TCPUserTimeout", &Loader::on_tcp_user_timeout, Scope::server},
        Spec{"GracefulShutdownTimeout", &Loader::on_graceful_shutdown_timeout, Scope::server},
        Spec{"FileCacheSize", &Loader::on_file_cache_size, Scope::server},
        Spec{"FileCacheEntries", &Loader::on_file_cache_entries, Scope::server},
        Spec{"FileCacheValid", &Loader::on_file_cache_valid, Scope::server},
        Spec{"LoadModule", &Loader::on_load_module, Scope::server},
        Spec{"NameVirtualHost", &Loader::on_name_virtual_host, Scope::server},
        Spec{"Define", &Loader::on_define, Scope::anywhere},
        Spec{"UnDefine", &Loader::on_undefine, Scope::anywhere},
    };

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

} // namespace

LoadResult load_config(const fs::path& file, const std::vector<std::string>& defines) {
    try {
        return Loader(defines).load_file(file);
    } catch (const std::exception& e) {
        // Only resource exhaustion ends up here (the filesystem calls all take error codes);
        // it is still reported rather than thrown, as the contract promises.
        LoadResult r;
        r.errors.push_back({file.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

LoadResult load_config_text(const std::string& text, const fs::path& name,
                            const std::vector<std::string>& defines) {
    try {
        return Loader(defines).load_text(text, name);
    } catch (const std::exception& e) {
        LoadResult r;
        r.errors.push_back({name.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

} // namespace kahttpd::conf
