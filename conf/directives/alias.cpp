#include "conf/detail/loader.hpp"

#include <array>
#include <cctype>
#include <system_error>

// mod_alias: Alias, AliasMatch, Redirect, RedirectMatch, RedirectPermanent and RedirectTemp.
// The rules go to the current vhost's lists in configuration order; `Redirect [status] URL`
// inside a section is that section's setting instead (DirSettings::redirect).

namespace kahttpd::conf::detail {

namespace {

/// Apache's status words, then the codes kahttpd answers a redirect with.
std::optional<std::uint16_t> redirect_status(std::string_view word) {
    static constexpr std::array<std::pair<std::string_view, std::uint16_t>, 4> kWords{
        {{"permanent", 301}, {"temp", 302}, {"seeother", 303}, {"gone", 410}}};
    for (const auto& [name, status] : kWords) {
        if (iequals(name, word)) {
            return status;
        }
    }
    if (word.empty() || word[0] < '0' || word[0] > '9') {
        return std::nullopt;
    }
    // A number that is no status at all ("3d", "99999") is 0, which no check accepts.
    const auto n = parse_uint(word);
    return static_cast<std::uint16_t>(n && *n <= 999 ? *n : 0);
}

bool is_redirect_code(std::uint16_t s) {
    return (s >= 300 && s <= 303) || s == 307 || s == 308;
}

/// Apache's ap_is_url(): a scheme (letters, digits, '+', '-', '.') and a ':'.
bool is_url(std::string_view s) {
    const std::size_t colon = s.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
        return false;
    }
    for (const char ch : s.substr(0, colon)) {
        const auto c = static_cast<unsigned char>(ch);
        if (!(std::isalnum(c) || c == '+' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/// Apache's rule for a redirect target: a full URL or an absolute path.
std::optional<std::string> redirect_target_problem(const std::string& target) {
    if (is_url(target) || target.starts_with('/')) {
        return std::nullopt;
    }
    return "expected a URL or an absolute path to redirect to, found " + in_quotes(target);
}

constexpr std::string_view kStatuses = "permanent, temp, seeother, gone, 300-303, 307, 308 or 410";

} // namespace

std::optional<Regex> Loader::regex_arg(const Context& c, const std::string& pattern) {
    std::string why;
    if (auto re = Regex::compile(pattern, why)) {
        return re;
    }
    error(c, "expected a valid regular expression, found " + in_quotes(pattern) + " (" + why + ")");
    return std::nullopt;
}

/// Alias URL-PATH FILE-PATH and AliasMatch REGEX FILE-PATH share the file-path checks.
void Loader::on_alias(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a URL path and a file-system path, found " + args_text(c.args.size()));
        return;
    }
    AliasRule rule;
    rule.from = where(c);
    rule.url_path = c.args[0];
    if (!rule.url_path.starts_with('/')) {
        error(c, "expected a URL path starting with \"/\", found " + in_quotes(rule.url_path));
        return;
    }
    const auto target = resolve_path(c, c.args[1], "a file-system path");
    if (!target) {
        return;
    }
    // Apache keeps a trailing slash of the target: "Alias /icons/ /usr/share/icons/" appends
    // the rest of the URL to it as written. normalize() drops it, so it is put back.
    rule.target = target->string();
    if (c.args[1].ends_with('/') && rule.target != "/") {
        rule.target.push_back('/');
    }
    std::error_code ec;
    const auto status = fs::status(*target, ec);
    if (!fs::exists(status)) {
        warning(c, "expected an existing file or directory, found nothing at " +
                       in_quotes(target->string()));
    }
    rule.root = alias_root(rule.target, false, !fs::exists(status) || fs::is_directory(status));
    // Apache's warning: an alias inside an earlier one's prefix can never be reached.
    VirtualHost& v = current_vhost();
    for (const AliasRule& earlier : v.url_aliases) {
        if (earlier.regex ? earlier.regex.match(rule.url_path)
                          : alias_prefix_length(earlier.url_path, rule.url_path) > 0) {
            warning(c, "expected an alias that an earlier one does not cover, found " +
                           in_quotes(rule.url_path) + " inside the alias of " + earlier.from +
                           ", which is tried first");
            break;
        }
    }
    v.url_aliases.push_back(std::move(rule));
}

void Loader::on_alias_match(const Context& c) {
    if (c.args.size() != 2) {
        error(c, "expected a regular expression and a file-system path, found " +
                     args_text(c.args.size()));
        return;
    }
    AliasRule rule;
    rule.from = where(c);
    auto re = regex_arg(c, c.args[0]);
    if (!re) {
        return;
    }
    rule.regex = std::move(*re);
    rule.url_path.clear();
    const std::string& target = c.args[1];
    if (!target.starts_with('/')) {
        // A relative target would be resolved after the substitution, against a ServerRoot
        // that may have changed by then; Apache's own "compat bug" note says the same.
        error(c, "expected an absolute file-system path, found " + in_quotes(target));
        return;
    }
    rule.target = target;
    rule.root = normalize(alias_root(target, true, false)).string();
    current_vhost().url_aliases.push_back(std::move(rule));
}

/// Redirect [status] URL-PATH [URL], RedirectMatch [status] REGEX [URL], RedirectPermanent and
/// RedirectTemp URL-PATH URL (`fixed_status`); in a <Directory>, <Location> or <Files>:
/// Redirect [status] URL and Redirect gone (the section is the match).
void Loader::add_redirect(const Context& c, std::optional<std::uint16_t> fixed_status, bool regex) {
    std::vector<std::string> args = c.args;
    std::uint16_t status = 302;
    std::optional<std::uint16_t> given;
    if (fixed_status) {
        status = *fixed_status;
    } else if (!args.empty()) {
        given = redirect_status(args[0]);
        const bool must_be_status = args.size() >= 3;
        if (given) {
            if (!is_redirect_code(*given) && *given != 410) {
                error(c, "expected a status among " + std::string(kStatuses) + ", found " +
                             in_quotes(args[0]));
                return;
            }
            status = *given;
            args.erase(args.begin());
        } else if (must_be_status) {
            error(c, "expected a status among " + std::string(kStatuses) +
                         " before the path and URL, found " + in_quotes(args[0]));
            return;
        }
    }
    const Frame* section = innermost_section();
    const bool in_section = section != nullptr && section->kind != FrameKind::vhost;
    if (in_section) {
        // The section form: no URL-path, the section itself says what is redirected.
        if (regex || fixed_status || args.size() != (status == 410 ? 0u : 1u)) {
            error(c, "expected Redirect [status] URL or Redirect gone inside " +
                         canonical_tag(*section) + ", found " + args_text(c.args.size()) +
                         "; the URL-path forms go at server level or in <VirtualHost>");
            return;
        }
        SectionRedirect r;
        r.status = status;
        if (status != 410) {
            r.target = args[0];
            if (const auto why = redirect_target_problem(r.target)) {
                error(c, *why);
                return;
            }
        }
        dir_target().redirect = Setting<SectionRedirect>{r, where(c)};
        return;
    }
    const std::size_t want = status == 410 ? 1 : 2;
    if (args.size() != want) {
        error(c, status == 410
                     ? "expected a URL path and no URL after gone (410), found " +
                           args_text(args.size())
                     : std::string("expected ") + (regex ? "a regular expression" : "a URL path") +
                           " and a URL, found " + args_text(args.size()));
        return;
    }
    RedirectRule rule;
    rule.from = where(c);
    rule.status = status;
    if (regex) {
        auto re = regex_arg(c, args[0]);
        if (!re) {
            return;
        }
        rule.regex = std::move(*re);
    } else {
        if (!args[0].starts_with('/')) {
            error(c, "expected a URL path starting with \"/\", found " + in_quotes(args[0]));
            return;
        }
        rule.url_path = args[0];
    }
    if (status != 410) {
        rule.target = args[1];
        // A RedirectMatch target may start with $1: it is checked once substituted (escaped).
        if (const auto why = regex ? std::nullopt : redirect_target_problem(rule.target)) {
            error(c, *why);
            return;
        }
    }
    current_vhost().redirects.push_back(std::move(rule));
}

} // namespace kahttpd::conf::detail
