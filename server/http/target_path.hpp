#pragma once

#include "conf/sections.hpp"
#include "parser/status.hpp"

#include <string>
#include <string_view>

namespace kahttpd::server {

/// The file-system side of a request target, after decoding and normalisation.
struct TargetPath {
    std::string path; ///< relative to the document root, no leading '/', "" for the root;
                      ///< segments are never "", "." or ".." and never start with '.',
                      ///< except ".well-known" (RFC 8615)
    bool trailing_slash = false; ///< the decoded path ended in '/' (a directory was asked for)
    std::string_view raw_path;   ///< the path as sent (still encoded), a view into the target;
                                 ///< "/" (static) for an absolute-form target without a path
    std::string_view query;      ///< the raw query (after '?'), a view into the target
};

/// Turns a request target into a path under the document root, or says why it cannot.
///
/// Accepts origin-form ("/a/b?q") and absolute-form ("http://host/a/b"). Percent-decodes once;
/// an invalid escape is 400; a decoded NUL is 400. An encoded '/' (%2F, any case) follows
/// AllowEncodedSlashes (`slashes`): Off, the default, is 404 as in Apache; On decodes it into a
/// separator before the segments are walked (so "..%2F" is a ".." like any other); NoDecode
/// keeps the three characters as sent, part of a segment's name, never a separator. A
/// backslash, raw or encoded, is 400 in every mode (it has no meaning in a URL path and is a
/// classic traversal trick; Apache on Unix takes it as a plain character). "." segments and
/// empty segments are
/// dropped, ".." removes the previous segment and is 400 when nothing is left to remove (an
/// attempt to leave the root). Dot segments (docs/architecture.md, "Requests and paths"):
/// ".well-known" is served (RFC 8615: ACME challenges, security.txt); a segment starting with
/// ".ht" (.htaccess, .htpasswd, any case) is 403 whatever the configuration, as Apache's stock
/// <FilesMatch "^\.ht">; any other segment starting with '.' (".git/", ".env") is 404, so its
/// existence is not revealed. The result never names anything outside the root lexically;
/// symlinks are the opener's job (see StaticFile). Pure function: no I/O, thread-safe.
parser::Status resolve_target(std::string_view target, TargetPath& out,
                              conf::EncodedSlashes slashes = conf::EncodedSlashes::off);

/// The one dot segment every URL may name (RFC 8615).
inline constexpr std::string_view kWellKnown = ".well-known";

/// True for a path segment or file name that starts with ".ht", in any case (.htaccess,
/// .htpasswd, .HTgroup): never served.
bool is_htaccess_name(std::string_view segment) noexcept;

/// Appends `path` to `out`, percent-encoding every byte that is not unreserved, a sub-delim,
/// ':', '@' or '/' (RFC 3986 pchar), so it can go into a Location header.
void percent_encode_path(std::string_view path, std::string& out);

/// Appends `uri` to `out` with every byte that may not appear in a URI at all (controls,
/// space, non-ASCII, and "<>\\^`{|}) percent-encoded, everything else (reserved characters,
/// '%', '?', '#') kept: a redirect target built from configuration text and request captures
/// (Apache's ap_escape_uri), which can then never break a header line.
void append_uri_escaped(std::string_view uri, std::string& out);

/// Percent-decodes `in` into `out`; false on a malformed escape. With `keep_slashes`, an
/// encoded '/' (%2F, %2f) is copied as sent instead (AllowEncodedSlashes NoDecode). For tests
/// and the resolver.
bool percent_decode(std::string_view in, std::string& out, bool keep_slashes = false);

} // namespace kahttpd::server
