#include "conf/config.hpp"

#include "conf/lexer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>

namespace kahttpd::conf {

namespace fs = std::filesystem;
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

char to_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return to_lower(x) == to_lower(y);
           });
}

std::string in_quotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

std::string count_text(std::size_t n) {
    return n == 0 ? "none" : std::to_string(n);
}

/// Case-insensitive Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution =
                diagonal + (to_lower(a[i - 1]) == to_lower(b[j - 1]) ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// A non-negative decimal integer made of digits only: no sign, no blanks, no suffix.
/// Values too large for 64 bits saturate so that the caller's range check rejects them.
std::optional<std::uint64_t> parse_uint(std::string_view s) {
    if (s.empty() ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range) {
        return std::numeric_limits<std::uint64_t>::max();
    }
    if (ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

/// "N" (seconds, as Apache), "Ns" or "Nms" with case-insensitive suffixes. Huge values
/// saturate so that the caller's range check rejects them.
std::optional<milliseconds> parse_duration(std::string_view s) {
    std::uint64_t scale = 1000;
    if (s.size() > 2 && iequals(s.substr(s.size() - 2), "ms")) {
        scale = 1;
        s.remove_suffix(2);
    } else if (s.size() > 1 && iequals(s.substr(s.size() - 1), "s")) {
        s.remove_suffix(1);
    }
    const auto n = parse_uint(s);
    if (!n) {
        return std::nullopt;
    }
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max());
    if (*n > kMax / scale) {
        return milliseconds::max();
    }
    return milliseconds(static_cast<milliseconds::rep>(*n * scale));
}

/// Lexically normal, without a trailing slash (except for "/" itself).
fs::path normalize(const fs::path& p) {
    fs::path n = p.lexically_normal();
    if (!n.has_filename() && n != n.root_path()) {
        n = n.parent_path();
    }
    return n;
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

/// One directive as the handlers see it.
struct Context {
    const std::string& file; ///< as shown in messages
    int line;
    const std::string& name; ///< as written
    const std::vector<std::string>& args;
};

/// An open section while one file is read. Apache requires a section to close in the file
/// that opened it, so the stack is per file.
struct Section {
    std::string name;     ///< tag name as written, without < and >
    int line = 0;         ///< where it was opened
    bool skipped = false; ///< an unsupported section: its contents are not applied
};

class Loader {
  public:
    LoadResult load_file(const fs::path& file) {
        start(file);
        const std::string display = file.string();
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
        start(name);
        const std::string display = name.string();
        read_text(text, display, file_identity(name));
        finish(display);
        return std::move(result_);
    }

  private:
    using Handler = void (Loader::*)(const Context&);

    struct Spec {
        std::string_view name;
        Handler handler;
    };

    void start(const fs::path& file) {
        result_.config.config_file = absolute_normal(file);
        // Apache's layout: /x/conf/httpd.conf has ServerRoot /x.
        result_.config.server_root = result_.config.config_file.parent_path().parent_path();
    }

    void finish(const std::string& main_display) {
        Config& c = result_.config;
        if (c.listen.empty()) {
            // Nothing to point at, so the error names the main file without a line.
            result_.errors.push_back(
                {main_display, 0, "Listen", "expected at least one Listen directive, found none"});
        }
        if (!document_root_set_) {
            // Computed at the end so that the default follows the final ServerRoot.
            c.document_root = c.server_root / "www";
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
        LexResult lexed = lex(text);
        std::vector<Section> sections;
        std::size_t skipping = 0; // open unsupported sections; their contents are ignored

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
                on_section_tag(c, sections, skipping);
            } else if (skipping == 0) {
                dispatch(c);
            }
        }
        flush_lex_errors_before(std::numeric_limits<int>::max());
        for (const Section& s : sections) {
            result_.errors.push_back(
                {display, s.line, "<" + s.name + ">",
                 "expected </" + s.name + "> before the end of the file, found none"});
        }
        stack_.pop_back();
    }

    void on_section_tag(const Context& c, std::vector<Section>& sections, std::size_t& skipping) {
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
            if (sections.empty()) {
                error(tc, "expected an open <" + tag + "> section to close, found none");
                return;
            }
            const Section top = sections.back();
            sections.pop_back();
            if (top.skipped) {
                --skipping;
            }
            if (!iequals(top.name, tag)) {
                error(tc, "expected </" + top.name + "> to close <" + top.name + "> of line " +
                              std::to_string(top.line) + ", found " + shown);
            }
            return;
        }

        // Contents of an unsupported section are skipped wholesale, nested tags included;
        // only the outermost one is reported.
        if (skipping > 0) {
            sections.push_back({tag, c.line, true});
            ++skipping;
            return;
        }
        if (!has_gt) {
            error(tc, "expected \">\" at the end of the line, found " +
                          in_quotes(c.args.empty() ? c.name : c.args.back()));
        }
        if (iequals(tag, "IfModule")) {
            // kahttpd has no modules: everything an Apache module would add is built in or
            // rejected directive by directive, so <IfModule> is transparent whatever it names
            // (negated or not). This lets stock Apache snippets load.
            if (args.empty()) {
                error(tc, "expected a module name, found none");
            }
            sections.push_back({tag, c.line, false});
            return;
        }
        error(tc, "sections are not supported by kahttpd yet");
        sections.push_back({tag, c.line, true});
        ++skipping;
    }

    void dispatch(const Context& c) {
        for (const Spec& spec : kDirectives) {
            if (iequals(spec.name, c.name)) {
                (this->*spec.handler)(c);
                return;
            }
        }
        const Spec* best = nullptr;
        std::size_t best_distance = std::numeric_limits<std::size_t>::max();
        for (const Spec& spec : kDirectives) {
            const std::size_t d = edit_distance(c.name, spec.name);
            if (d < best_distance) {
                best = &spec;
                best_distance = d;
            }
        }
        // Allow one typo per three letters typed, at most three, so that short words are
        // not "corrected" into unrelated directives.
        const std::size_t allowed =
            std::min<std::size_t>(3, std::max<std::size_t>(1, c.name.size() / 3));
        if (best != nullptr && best_distance <= allowed) {
            error(c, "unknown directive, did you mean " + std::string(best->name) + "?");
        } else {
            error(c, "unknown directive");
        }
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

    // ---- directives ----

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
            const std::string literal(a.substr(1, close - 1));
            in6_addr addr{};
            if (inet_pton(AF_INET6, literal.c_str(), &addr) != 1) {
                error(c, "expected an IPv6 address literal in brackets, found " + in_quotes(text));
                return;
            }
            std::array<char, INET6_ADDRSTRLEN> buf{};
            inet_ntop(AF_INET6, &addr, buf.data(), buf.size());
            host = buf.data();
            port_text = a.substr(close + 2);
        } else if (const std::size_t colon = a.rfind(':'); colon != std::string_view::npos) {
            if (a.find(':') != colon) {
                error(c, "expected an IPv6 address in brackets as in [::1]:8080, found " +
                             in_quotes(text));
                return;
            }
            const std::string literal(a.substr(0, colon));
            in_addr addr{};
            if (literal == "*") {
                host.clear(); // Apache's "*:80": every address.
            } else if (inet_pton(AF_INET, literal.c_str(), &addr) == 1) {
                host = literal;
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
        ListenAddr addr{host, static_cast<std::uint16_t>(*port),
                        c.file + ":" + std::to_string(c.line)};
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

    void on_server_name(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (c.args[0].empty()) {
            error(c, "expected a host name, found \"\"");
            return;
        }
        result_.config.server_name = c.args[0];
    }

    void on_document_root(const Context& c) {
        const auto root = path_arg(c, "a directory");
        if (!root) {
            return;
        }
        result_.config.document_root = *root;
        document_root_set_ = true;
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

    void on_directory_index(const Context& c) {
        if (c.args.empty()) {
            error(c, "expected one or more file names, found none");
            return;
        }
        auto& list = result_.config.directory_index;
        if (c.args.size() == 1 && iequals(c.args[0], "disabled")) {
            list.clear();
            directory_index_set_ = true;
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
        // As in Apache 2.4, several DirectoryIndex directives add to the list; the first one
        // replaces the default.
        if (!directory_index_set_) {
            list.clear();
            directory_index_set_ = true;
        }
        list.insert(list.end(), names.begin(), names.end());
    }

    void on_keep_alive(const Context& c) {
        if (!expect_one_arg(c)) {
            return;
        }
        if (iequals(c.args[0], "on")) {
            result_.config.keep_alive = true;
        } else if (iequals(c.args[0], "off")) {
            result_.config.keep_alive = false;
        } else {
            error(c, "expected On or Off, found " + in_quotes(c.args[0]));
        }
    }

    void on_keep_alive_timeout(const Context& c) {
        if (const auto d = duration_arg(c)) {
            result_.config.keep_alive_timeout = *d;
        }
    }

    void on_timeout(const Context& c) {
        if (const auto d = duration_arg(c)) {
            result_.config.timeout = *d;
        }
    }

    void on_max_keep_alive_requests(const Context& c) {
        if (const auto n = uint_arg(c, 0, std::numeric_limits<std::uint32_t>::max())) {
            result_.config.max_keep_alive_requests = static_cast<std::uint32_t>(*n);
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
            (key == "header" ? result_.config.request_read_timeout_header
                             : result_.config.request_read_timeout_body) = *d;
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

    void on_limit_request_body(const Context& c) {
        // 0 means unlimited and 2^31-1 is the maximum, both as in Apache.
        if (const auto n = uint_arg(c, 0, 2147483647)) {
            result_.config.limit_request_body = *n;
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

    // The table comes after the handlers it names (a static member initializer is not a
    // complete-class context). The first entry at the smallest edit distance is the one
    // suggested for an unknown directive.
    static constexpr std::array kDirectives{
        Spec{"ServerRoot", &Loader::on_server_root},
        Spec{"Include", &Loader::on_include},
        Spec{"IncludeOptional", &Loader::on_include_optional},
        Spec{"Listen", &Loader::on_listen},
        Spec{"ServerName", &Loader::on_server_name},
        Spec{"DocumentRoot", &Loader::on_document_root},
        Spec{"DirectoryIndex", &Loader::on_directory_index},
        Spec{"KeepAlive", &Loader::on_keep_alive},
        Spec{"KeepAliveTimeout", &Loader::on_keep_alive_timeout},
        Spec{"MaxKeepAliveRequests", &Loader::on_max_keep_alive_requests},
        Spec{"Timeout", &Loader::on_timeout},
        Spec{"RequestReadTimeout", &Loader::on_request_read_timeout},
        Spec{"LimitRequestLine", &Loader::on_limit_request_line},
        Spec{"LimitRequestFieldSize", &Loader::on_limit_request_field_size},
        Spec{"LimitRequestFields", &Loader::on_limit_request_fields},
        Spec{"LimitRequestBody", &Loader::on_limit_request_body},
        Spec{"TypesConfig", &Loader::on_types_config},
        Spec{"Workers", &Loader::on_workers},
    };

    struct OpenFile {
        fs::path identity;
        std::string display;
    };

    LoadResult result_;
    std::vector<OpenFile> stack_; ///< files being read, outermost first, for cycle detection
    bool document_root_set_ = false;
    bool directory_index_set_ = false;
    /// The first directive that resolved a relative path, for the ServerRoot-order warning.
    std::optional<std::string> first_relative_use_;
};

} // namespace

LoadResult load_config(const fs::path& file) {
    try {
        return Loader().load_file(file);
    } catch (const std::exception& e) {
        // Only resource exhaustion ends up here (the filesystem calls all take error codes);
        // it is still reported rather than thrown, as the contract promises.
        LoadResult r;
        r.errors.push_back({file.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

LoadResult load_config_text(const std::string& text, const fs::path& name) {
    try {
        return Loader().load_text(text, name);
    } catch (const std::exception& e) {
        LoadResult r;
        r.errors.push_back({name.string(), 0, "", std::string("internal error: ") + e.what()});
        return r;
    }
}

} // namespace kahttpd::conf
