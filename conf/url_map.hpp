#pragma once

#include "conf/regex.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::conf {

// mod_alias (docs/configuration.md, "Aliases and redirects"): how a URL path becomes a redirect
// or a file outside the DocumentRoot. Pure data and pure functions; the server opens the
// folders (AliasRule::root) and serves beneath them.

/// One Redirect, RedirectMatch, RedirectPermanent or RedirectTemp at server level or in a
/// <VirtualHost>.
struct RedirectRule {
    std::uint16_t status = 302; ///< 300-303, 307, 308, or 410 (gone: no URL)
    std::string url_path;       ///< Redirect: the URL-path prefix; "" with a regex
    Regex regex;                ///< RedirectMatch
    std::string target;         ///< the URL ("" for 410); RedirectMatch: may hold $0..$9
    std::string from;           ///< "FILE:LINE"
};

/// One Alias or AliasMatch (server level or <VirtualHost>).
struct AliasRule {
    std::string url_path; ///< Alias: the URL-path prefix; "" with a regex
    Regex regex;          ///< AliasMatch
    std::string target;   ///< FILE-PATH, absolute; AliasMatch: may hold $0..$9
    /// The folder every file of this alias must lie beneath: the target itself when it is a
    /// folder, else the folder holding it (an Alias of one file); for AliasMatch, the folder
    /// part of the target before its first '$'. The server opens it at start-up and resolves
    /// beneath it as beneath a DocumentRoot (openat2 RESOLVE_BENEATH).
    std::string root;
    std::string from;
};

/// `Redirect [status] URL` or `Redirect gone` inside a <Location>, <Directory> or <Files>:
/// every request the section covers is redirected to URL as written (Apache's form without a
/// URL-path in a section).
struct SectionRedirect {
    std::uint16_t status = 0; ///< 0 = none
    std::string target;

    bool operator==(const SectionRedirect&) const = default;
};

/// What mod_alias makes of a request's URL path.
struct UrlMapping {
    enum class Kind : std::uint8_t { none, redirect, alias };
    Kind kind = Kind::none;
    std::uint16_t status = 0; ///< redirect: its status
    /// redirect: the Location so far. For Redirect, the target; `rest` (the decoded part of the
    /// URL after the prefix) still has to be percent-encoded onto it. For RedirectMatch, the
    /// substituted target, bytes not allowed in a URI still to be escaped. Either way the
    /// request's query is appended when the target has none (Apache).
    std::string location;
    std::string rest;
    bool substituted = false; ///< RedirectMatch: escape `location` rather than append `rest`
    /// alias: which rule (an index into the vhost's rules, then the main server's; see
    /// VirtualHost::map_url) and the file-system path it gives (absolute, not normalised).
    std::size_t alias = 0;
    std::string path;
};

/// Apache's alias_matches(): `prefix` matches the start of `url_path` on a segment boundary
/// (each '/' in the prefix matching one or more in the path), and returns how many characters
/// of the path it took; 0 for no match. "/icons" matches "/icons" and "/icons/a" but not
/// "/iconsx"; "/icons/" does not match "/icons".
std::size_t alias_prefix_length(std::string_view prefix, std::string_view url_path) noexcept;

/// The first rule of `rules` that matches `url_path` (decoded, normalised), as a redirect;
/// false when none does.
bool find_redirect(const std::vector<RedirectRule>& rules, std::string_view url_path,
                   UrlMapping& out);

/// The first rule of `rules` that matches `url_path`, as an alias (out.alias = its index plus
/// `base`); false when none does.
bool find_alias(const std::vector<AliasRule>& rules, std::string_view url_path, std::size_t base,
                UrlMapping& out);

/// The folder an alias target must stay beneath (see AliasRule::root), from the target alone:
/// for AliasMatch the part before the first '$' cut back to its last '/'; for Alias the target
/// when `is_directory`, else its parent.
std::string alias_root(std::string_view target, bool regex, bool is_directory);

} // namespace kahttpd::conf
