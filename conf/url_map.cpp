#include "conf/url_map.hpp"

namespace kahttpd::conf {

std::size_t alias_prefix_length(std::string_view prefix, std::string_view url_path) noexcept {
    std::size_t a = 0;
    std::size_t u = 0;
    while (a < prefix.size()) {
        if (prefix[a] == '/') {
            // Any number of '/' in the prefix matches any number in the path, at least one.
            if (u == url_path.size() || url_path[u] != '/') {
                return 0;
            }
            while (a < prefix.size() && prefix[a] == '/') {
                ++a;
            }
            while (u < url_path.size() && url_path[u] == '/') {
                ++u;
            }
        } else if (u == url_path.size() || url_path[u++] != prefix[a++]) {
            return 0;
        }
    }
    // The last segment of the prefix must have matched all the way.
    if (!prefix.empty() && prefix.back() != '/' && u < url_path.size() && url_path[u] != '/') {
        return 0;
    }
    return u;
}

bool find_redirect(const std::vector<RedirectRule>& rules, std::string_view url_path,
                   UrlMapping& out) {
    for (const RedirectRule& r : rules) {
        if (r.regex) {
            Captures m;
            if (!r.regex.match(url_path, &m)) {
                continue;
            }
            out.location = substitute_groups(r.target, m);
            out.rest.clear();
            out.substituted = true;
        } else {
            const std::size_t n = alias_prefix_length(r.url_path, url_path);
            if (n == 0) {
                continue;
            }
            out.location = r.target;
            out.rest = std::string(url_path.substr(n));
            out.substituted = false;
        }
        out.kind = UrlMapping::Kind::redirect;
        out.status = r.status;
        return true;
    }
    return false;
}

bool find_alias(const std::vector<AliasRule>& rules, std::string_view url_path, std::size_t base,
                UrlMapping& out) {
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const AliasRule& r = rules[i];
        if (r.regex) {
            Captures m;
            if (!r.regex.match(url_path, &m)) {
                continue;
            }
            out.path = substitute_groups(r.target, m);
        } else {
            const std::size_t n = alias_prefix_length(r.url_path, url_path);
            if (n == 0) {
                continue;
            }
            out.path = r.target;
            out.path.append(url_path.substr(n));
        }
        out.kind = UrlMapping::Kind::alias;
        out.alias = base + i;
        return true;
    }
    return false;
}

std::string alias_root(std::string_view target, bool regex, bool is_directory) {
    std::string_view fixed = target;
    if (regex) {
        fixed = target.substr(0, target.find_first_of("$\\"));
    } else if (is_directory) {
        while (fixed.size() > 1 && fixed.back() == '/') {
            fixed.remove_suffix(1);
        }
        return std::string(fixed);
    }
    // A folder part: up to the last '/' (not the one of "/" itself).
    const std::size_t slash = fixed.rfind('/');
    if (slash == std::string_view::npos || slash == 0) {
        return "/";
    }
    return std::string(fixed.substr(0, slash));
}

} // namespace kahttpd::conf
