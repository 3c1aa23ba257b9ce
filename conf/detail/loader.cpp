#include "conf/detail/loader.hpp"

#include "conf/detail/apache_names.hpp"
#include "conf/lexer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <system_error>

#include <glob.h>

namespace kahttpd::conf::detail {

namespace {

/// Apache has no limit of its own; 16 levels is far more than any real layout needs and stops
/// a cycle that hides behind a glob before it eats the stack.
constexpr std::size_t kMaxIncludeDepth = 16;

std::string count_text(std::size_t n) {
    return n == 0 ? "none" : std::to_string(n);
}

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

bool has_wildcard(std::string_view pattern) {
    return pattern.find_first_of("*?[") != std::string_view::npos;
}

/// The sections that hold directives, as Apache spells them.
constexpr std::array<std::string_view, 7> kDirSections{
    "VirtualHost", "Directory", "DirectoryMatch", "Files",
    "FilesMatch",  "Location",  "LocationMatch"};

bool holds_directives(FrameKind kind) {
    return kind == FrameKind::vhost || kind == FrameKind::directory ||
           kind == FrameKind::location || kind == FrameKind::directory_match ||
           kind == FrameKind::files;
}

} // namespace

/// "<Directory>" for a frame opened as <directory ...>: the tag as Apache spells it.
std::string canonical_tag(const Frame& f) {
    for (const std::string_view name : kDirSections) {
        if (iequals(name, f.tag)) {
            return "<" + std::string(name) + ">";
        }
    }
    return "<" + f.tag + ">";
}

std::string args_text(std::size_t n) {
    return n == 0 ? "none" : std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

std::string not_supported(std::string_view word, std::string_view hint) {
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

fs::path file_identity(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    return ec ? absolute_normal(p) : c;
}

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

const NamedBits* find_named(std::span<const NamedBits> names, std::string_view word) noexcept {
    for (const NamedBits& n : names) {
        if (iequals(n.name, word)) {
            return &n;
        }
    }
    return nullptr;
}

char take_sign(std::string_view& word) noexcept {
    if (word.empty() || (word[0] != '+' && word[0] != '-')) {
        return 0;
    }
    const char sign = word[0];
    word.remove_prefix(1);
    return sign;
}

std::string where(const Context& c) {
    return c.file + ":" + std::to_string(c.line);
}

/// Reads one included file. `includer` is the Include directive, for messages about the
/// file as a whole.
void Loader::read_included(const fs::path& path, const Context& includer) {
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

void Loader::read_text(std::string_view text, const std::string& display,
                       const fs::path& identity) {
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

void Loader::push_frame(Frame f) {
    if (f.kind == FrameKind::skipped) {
        ++skipping_;
    }
    frames_.push_back(std::move(f));
}

void Loader::pop_frame() {
    if (frames_.back().kind == FrameKind::skipped) {
        --skipping_;
    }
    frames_.pop_back();
}

void Loader::on_section_tag(const Context& c, std::size_t base) {
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

void Loader::close_section(const Context& tc, const std::string& tag, std::size_t base) {
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

void Loader::open_section(const Context& tc, const std::string& tag) {
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
    } else if (iequals(tag, "Files")) {
        open_dir_section(sc, tag, FrameKind::files, substituted);
    } else if (iequals(tag, "DirectoryMatch")) {
        open_dir_section(sc, tag, FrameKind::directory_match, substituted, true);
    } else if (iequals(tag, "LocationMatch")) {
        open_dir_section(sc, tag, FrameKind::location, substituted, true);
    } else if (iequals(tag, "FilesMatch")) {
        open_dir_section(sc, tag, FrameKind::files, substituted, true);
    } else {
        if (const auto hint = detail::unsupported_section(tag)) {
            std::string message(kNotSupported);
            if (!hint->empty()) {
                message += "; " + std::string(*hint);
            }
            error(tc, message);
        } else {
            static constexpr std::array<std::string_view, 9> kSections{
                "VirtualHost", "Directory",     "Location", "Files",   "DirectoryMatch",
                "FilesMatch",  "LocationMatch", "IfModule", "IfDefine"};
            const auto near =
                detail::suggestion(tag, kSections, [](std::string_view s) { return s; });
            error(tc, near ? "unknown section, did you mean <" + std::string(*near) + ">?"
                           : std::string("unknown section"));
        }
        push_frame({tag, FrameKind::skipped, tc.line});
    }
}

/// <IfModule [!]name> and <IfDefine [!]NAME>: the contents apply when the test holds.
void Loader::open_condition(const Context& c, const std::string& tag, bool substituted) {
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

void Loader::open_vhost(const Context& c, const std::string& tag, bool substituted) {
    bool ok = substituted;
    if (const Frame* f = innermost_section()) {
        error(c, "not allowed inside " + canonical_tag(*f) + ", only at server level");
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

/// <Directory path>, <Location /prefix>, <Files name> and their regular-expression forms
/// (<DirectoryMatch re>, <LocationMatch re>, <FilesMatch re>, or `~ re` in the plain tag), at
/// server level or in a <VirtualHost>. `regex`: the tag itself takes a regular expression.
void Loader::open_dir_section(const Context& c, const std::string& tag, FrameKind kind,
                              bool substituted, bool regex) {
    bool ok = substituted;
    // <Files> and <FilesMatch> may also sit in a <Directory>, as in Apache: they then apply
    // beneath that directory only (Section::within).
    std::string within;
    if (const Frame* f = innermost_section(); f != nullptr && f->kind != FrameKind::vhost) {
        if (kind == FrameKind::files && f->kind == FrameKind::directory && !f->discard) {
            within = section_list(FrameKind::directory)[f->index].match;
        } else {
            error(c, "not allowed inside " + canonical_tag(*f) +
                         (kind == FrameKind::files
                              ? ", only at server level, in <VirtualHost> or in <Directory>"
                              : ", only at server level or in <VirtualHost>"));
            ok = false;
        }
    }
    std::vector<std::string> args = c.args;
    if (!regex && !args.empty() && args[0] == "~") {
        regex = true;
        args.erase(args.begin());
        if (kind == FrameKind::directory) {
            kind = FrameKind::directory_match;
        }
    }
    const bool directory = kind == FrameKind::directory;
    Section s;
    s.from = where(c);
    s.within = within;
    if (args.empty()) {
        error(c, regex                      ? "expected a regular expression, found none"
                 : directory                ? "expected a directory path, found none"
                 : kind == FrameKind::files ? "expected a file name, found none"
                                            : "expected a URL path, found none");
        ok = false;
    } else if (args.size() > 1) {
        error(c, std::string(regex ? "expected one regular expression" : "expected one path") +
                     ", found " + std::to_string(args.size()));
        ok = false;
    } else if (!substituted) {
        // Reported by substitute().
    } else if (regex) {
        ok = section_regex(c, args[0], s) && ok;
    } else if (kind == FrameKind::files) {
        if (args[0].find('/') != std::string::npos) {
            error(c, "expected a file name without \"/\", found " + in_quotes(args[0]));
            ok = false;
        }
        s.match = args[0];
    } else if (has_wildcard(args[0])) {
        error(c, "wildcard paths are " + std::string(kNotSupported) + ", found " +
                     in_quotes(args[0]) + "; use " +
                     (directory ? "<DirectoryMatch>" : "<LocationMatch>"));
        ok = false;
    } else if (directory) {
        if (const auto path = resolve_path(c, args[0], "a directory path")) {
            s.match = path->string();
        } else {
            ok = false;
        }
    } else {
        if (!args[0].starts_with('/')) {
            error(c, "expected a URL path starting with \"/\", found " + in_quotes(args[0]));
            ok = false;
        }
        s.match = args[0];
    }
    std::size_t index = 0;
    if (ok) {
        auto& list = section_list(kind);
        list.push_back(std::move(s));
        index = list.size() - 1;
    } else {
        discarded_sections_.push_back(std::move(s));
        index = discarded_sections_.size() - 1;
    }
    push_frame({tag, kind, c.line, index, !ok});
}

/// Compiles a section's regular expression into `s`; false (reported) when it is invalid.
bool Loader::section_regex(const Context& c, const std::string& pattern, Section& s) {
    s.match = pattern;
    if (auto re = regex_arg(c, pattern)) {
        s.regex = std::move(*re);
        return true;
    }
    return false;
}

/// The list of the current vhost that a section of `kind` goes to.
std::vector<Section>& Loader::section_list(FrameKind kind) {
    VirtualHost& v = current_vhost();
    switch (kind) {
    case FrameKind::directory:
        return v.directories;
    case FrameKind::directory_match:
        return v.directory_matches;
    case FrameKind::files:
        return v.files;
    default:
        return v.locations;
    }
}

/// The innermost <VirtualHost>, <Directory> or <Location>; nullptr at server level.
const Frame* Loader::innermost_section() const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
        if (holds_directives(it->kind)) {
            return &*it;
        }
    }
    return nullptr;
}

/// The vhost directives apply to: the innermost <VirtualHost>, else the main server.
VirtualHost& Loader::current_vhost() {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
        if (it->kind == FrameKind::vhost) {
            return it->discard ? discarded_vhosts_[it->index] : result_.config.vhosts[it->index];
        }
    }
    return result_.config.main;
}

/// The DirSettings that DirSettings directives fill: the innermost <Directory> or
/// <Location>, else the base of the current vhost (the main server's at server level).
DirSettings& Loader::dir_target() {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
        if (it->kind == FrameKind::vhost) {
            break;
        }
        if (holds_directives(it->kind)) {
            if (it->discard) {
                return discarded_sections_[it->index].settings;
            }
            return section_list(it->kind)[it->index].settings;
        }
    }
    return current_vhost().base;
}

void Loader::dispatch(const Context& raw) {
    const Spec* spec = nullptr;
    for (const Spec& s : directives()) {
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

namespace {

/// Apache directives that, with this one value, only turn off something kahttpd never does:
/// copied from tutorials and Debian's apache2.conf, they are accepted with a warning instead
/// of stopping the start. Any other value is still "not supported".
struct HarmlessSetting {
    std::string_view name;
    std::string_view value;
    std::string_view why;
};
constexpr std::array kHarmless{
    HarmlessSetting{"TraceEnable", "Off", "kahttpd answers TRACE with 405 anyway"},
    HarmlessSetting{"HostnameLookups", "Off", "kahttpd never resolves client addresses"},
    HarmlessSetting{"EnableMMAP", "Off", "kahttpd never maps files into memory"},
    HarmlessSetting{"UseCanonicalName", "Off", "kahttpd never builds a URL from ServerName"},
};

} // namespace

void Loader::unknown_directive(const Context& c) {
    for (const HarmlessSetting& h : kHarmless) {
        if (iequals(c.name, h.name) && c.args.size() == 1 && iequals(c.args[0], h.value)) {
            warning(c, "accepted and ignored: " + std::string(h.why));
            return;
        }
    }
    if (const auto hint = detail::unsupported_directive(c.name)) {
        std::string message(kNotSupported);
        if (!hint->empty()) {
            message += "; " + std::string(*hint);
        }
        error(c, message);
        return;
    }
    const auto near =
        detail::suggestion(c.name, directives(), [](const Spec& s) { return s.name; });
    error(c, near ? "unknown directive, did you mean " + std::string(*near) + "?"
                  : std::string("unknown directive"));
}

bool Loader::allowed_here(const Context& c, Scope scope) {
    const Frame* f = innermost_section();
    const std::string inside = f == nullptr ? "" : "not allowed inside " + canonical_tag(*f);
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
bool Loader::substitute(const Context& c, std::vector<std::string>& out) {
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

void Loader::error(const Context& c, std::string message) {
    result_.errors.push_back({c.file, c.line, c.name, std::move(message)});
}

void Loader::warning(const Context& c, std::string message) {
    result_.warnings.push_back({c.file, c.line, c.name, std::move(message)});
}

bool Loader::expect_one_arg(const Context& c) {
    if (c.args.size() == 1) {
        return true;
    }
    error(c, "expected one argument, found " + count_text(c.args.size()));
    return false;
}

/// Resolves a path argument against the ServerRoot in force now (Apache reads ServerRoot
/// as it goes, which is why it should come first).
std::optional<fs::path> Loader::path_arg(const Context& c, std::string_view what) {
    if (!expect_one_arg(c)) {
        return std::nullopt;
    }
    return resolve_path(c, c.args[0], what);
}

std::optional<fs::path> Loader::resolve_path(const Context& c, const std::string& text,
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
std::optional<std::uint64_t> Loader::uint_arg(const Context& c, std::uint64_t min,
                                              std::uint64_t max) {
    if (!expect_one_arg(c)) {
        return std::nullopt;
    }
    const auto n = parse_uint(c.args[0]);
    if (!n || *n < min || *n > max) {
        error(c, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", found " + in_quotes(c.args[0]));
        return std::nullopt;
    }
    return n;
}

std::optional<milliseconds> Loader::duration_arg(const Context& c) {
    if (!expect_one_arg(c)) {
        return std::nullopt;
    }
    const auto d = parse_duration(c.args[0]);
    if (!d) {
        error(c, "expected a duration (30, 30s, 500ms, 5m, 1h), found " + in_quotes(c.args[0]));
        return std::nullopt;
    }
    if (*d < kMinDuration || *d > kMaxDuration) {
        error(c, "expected a duration from 1ms to 1h, found " + in_quotes(c.args[0]));
        return std::nullopt;
    }
    return d;
}

/// 0 or a duration up to 1h, for the timeouts where 0 has a meaning of its own. `expected`
/// says what 0 means ("expected 0 (close at once) or ..."); the value found is added to it.
std::optional<milliseconds> Loader::zero_or_duration_arg(const Context& c,
                                                         std::string_view expected) {
    if (!expect_one_arg(c)) {
        return std::nullopt;
    }
    const auto d = parse_duration(c.args[0]);
    if (!d || *d > kMaxDuration) {
        error(c, std::string(expected) + ", found " + in_quotes(c.args[0]));
        return std::nullopt;
    }
    return d;
}

/// On or Off in any case.
std::optional<bool> Loader::on_off_arg(const Context& c) {
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
std::optional<std::string> Loader::bad_define_name(std::string_view name) {
    if (name.empty()) {
        return "expected a name, found \"\"";
    }
    if (name.find_first_of(":${} \t") != std::string_view::npos) {
        return "expected a name without \":\", \"$\", braces or blanks, found " + in_quotes(name);
    }
    return std::nullopt;
}

void Loader::include(const Context& c, bool optional) {
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

// A static member function, so that the table may name the private handlers (most of them in
// conf/directives/). Order matters: the first entry at the smallest edit distance is the one
// suggested for an unknown directive.
std::span<const Loader::Spec> Loader::directives() noexcept {
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
        Spec{"KeepAliveMinTimeout", &Loader::on_keep_alive_min_timeout, Scope::server},
        Spec{"MaxKeepAliveTime", &Loader::on_max_keep_alive_time, Scope::server},
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
        Spec{"AllowEncodedSlashes", &Loader::on_allow_encoded_slashes, Scope::vhost},
        Spec{"Options", &Loader::on_options, Scope::anywhere},
        Spec{"Require", &Loader::on_require, Scope::anywhere},
        Spec{"Header", &Loader::on_header, Scope::anywhere},
        Spec{"ErrorDocument", &Loader::on_error_document, Scope::anywhere},
        Spec{"SetHandler", &Loader::on_set_handler, Scope::anywhere},
        Spec{"AddType", &Loader::on_add_type, Scope::anywhere},
        Spec{"AddDefaultCharset", &Loader::on_add_default_charset, Scope::anywhere},
        Spec{"ForceType", &Loader::on_force_type, Scope::anywhere},
        Spec{"AddCharset", &Loader::on_add_charset, Scope::anywhere},
        Spec{"AddEncoding", &Loader::on_add_encoding, Scope::anywhere},
        Spec{"RemoveType", &Loader::on_remove_type, Scope::anywhere},
        Spec{"RemoveCharset", &Loader::on_remove_charset, Scope::anywhere},
        Spec{"RemoveEncoding", &Loader::on_remove_encoding, Scope::anywhere},
        Spec{"RemoveHandler", &Loader::on_remove_nothing, Scope::anywhere},
        Spec{"RemoveLanguage", &Loader::on_remove_nothing, Scope::anywhere},
        Spec{"FileETag", &Loader::on_file_etag, Scope::anywhere},
        Spec{"EnableSendfile", &Loader::on_enable_sendfile, Scope::anywhere},
        Spec{"PrecompressedFiles", &Loader::on_precompressed_files, Scope::anywhere},
        Spec{"MaxRanges", &Loader::on_max_ranges, Scope::anywhere},
        Spec{"AddOutputFilterByType", &Loader::on_add_output_filter_by_type, Scope::anywhere},
        Spec{"SetOutputFilter", &Loader::on_set_output_filter, Scope::anywhere},
        Spec{"CompressMinLength", &Loader::on_compress_min_length, Scope::anywhere},
        Spec{"DeflateCompressionLevel", &Loader::on_deflate_compression_level, Scope::anywhere},
        Spec{"BrotliCompressionQuality", &Loader::on_brotli_compression_quality, Scope::anywhere},
        Spec{"Alias", &Loader::on_alias, Scope::vhost},
        Spec{"AliasMatch", &Loader::on_alias_match, Scope::vhost},
        Spec{"Redirect", &Loader::on_redirect, Scope::anywhere},
        Spec{"RedirectMatch", &Loader::on_redirect_match, Scope::vhost},
        Spec{"RedirectPermanent", &Loader::on_redirect_permanent, Scope::vhost},
        Spec{"RedirectTemp", &Loader::on_redirect_temp, Scope::vhost},
        Spec{"ExpiresActive", &Loader::on_expires_active, Scope::anywhere},
        Spec{"ExpiresDefault", &Loader::on_expires_default, Scope::anywhere},
        Spec{"ExpiresByType", &Loader::on_expires_by_type, Scope::anywhere},
        Spec{"AllowOverride", &Loader::on_allow_override, Scope::anywhere},
        Spec{"AllowOverrideList", &Loader::on_allow_override, Scope::anywhere},
        Spec{"ServerTokens", &Loader::on_server_tokens, Scope::server},
        Spec{"ServerSignature", &Loader::on_server_signature, Scope::server},
        Spec{"PidFile", &Loader::on_pid_file, Scope::server},
        Spec{"User", &Loader::on_user, Scope::server},
        Spec{"Group", &Loader::on_group, Scope::server},
        Spec{"ErrorLog", &Loader::on_error_log, Scope::vhost},
        Spec{"LogLevel", &Loader::on_log_level, Scope::vhost},
        Spec{"LogFormat", &Loader::on_log_format, Scope::server},
        Spec{"CustomLog", &Loader::on_custom_log, Scope::vhost},
        Spec{"MaxConnections", &Loader::on_max_connections, Scope::server},
        Spec{"MaxConnectionsPerIP", &Loader::on_max_connections_per_ip, Scope::server},
        Spec{"TCPKeepAlive", &Loader::on_tcp_keepalive, Scope::server},
        Spec{"TCPKeepAliveIdle", &Loader::on_tcp_keepalive_idle, Scope::server},
        Spec{"TCPKeepAliveInterval", &Loader::on_tcp_keepalive_interval, Scope::server},
        Spec{"TCPKeepAliveCount", &Loader::on_tcp_keepalive_count, Scope::server},
        Spec{"TCPUserTimeout", &Loader::on_tcp_user_timeout, Scope::server},
        Spec{"AcceptFilter", &Loader::on_accept_filter, Scope::server},
        Spec{"GracefulShutdownTimeout", &Loader::on_graceful_shutdown_timeout, Scope::server},
        Spec{"GracefulShutdownDelay", &Loader::on_graceful_shutdown_delay, Scope::server},
        Spec{"FileCacheSize", &Loader::on_file_cache_size, Scope::server},
        Spec{"FileCacheEntries", &Loader::on_file_cache_entries, Scope::server},
        Spec{"FileCacheValid", &Loader::on_file_cache_valid, Scope::server},
        Spec{"RemoteIPProxyProtocol", &Loader::on_remote_ip_proxy_protocol, Scope::vhost},
        Spec{"RemoteIPProxyProtocolExceptions", &Loader::on_remote_ip_proxy_protocol_exceptions,
             Scope::vhost},
        Spec{"RemoteIPHeader", &Loader::on_remote_ip_header, Scope::vhost},
        Spec{"RemoteIPInternalProxy", &Loader::on_remote_ip_internal_proxy, Scope::vhost},
        Spec{"RemoteIPTrustedProxy", &Loader::on_remote_ip_trusted_proxy, Scope::vhost},
        Spec{"SSLEngine", &Loader::on_ssl_engine, Scope::vhost},
        Spec{"SSLCertificateFile", &Loader::on_ssl_certificate_file, Scope::vhost},
        Spec{"SSLCertificateKeyFile", &Loader::on_ssl_certificate_key_file, Scope::vhost},
        Spec{"SSLProtocol", &Loader::on_ssl_protocol, Scope::vhost},
        Spec{"SSLCipherSuite", &Loader::on_ssl_cipher_suite, Scope::vhost},
        Spec{"SSLHonorCipherOrder", &Loader::on_ssl_honor_cipher_order, Scope::vhost},
        Spec{"SSLSessionTickets", &Loader::on_ssl_session_tickets, Scope::vhost},
        Spec{"SSLSessionCacheTimeout", &Loader::on_ssl_session_cache_timeout, Scope::vhost},
        Spec{"LoadModule", &Loader::on_load_module, Scope::server},
        Spec{"NameVirtualHost", &Loader::on_name_virtual_host, Scope::server},
        Spec{"Define", &Loader::on_define, Scope::anywhere},
        Spec{"UnDefine", &Loader::on_undefine, Scope::anywhere},
    };
    return kDirectives;
}

} // namespace kahttpd::conf::detail
