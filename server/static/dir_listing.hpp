#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::server {

/// One entry of a directory listing.
struct DirEntry {
    std::string name; ///< the file name as stored (raw bytes, never "", "." or "..")
    bool is_dir = false;
    bool is_link = false;   ///< a symbolic link: listed by name only (no type, size or time)
    std::uint64_t size = 0; ///< bytes; meaningless for directories and links
    std::time_t mtime = 0;  ///< seconds since the epoch
};

/// Reads the entries of the open directory `dir_fd` into `out` (cleared first). `dir_fd` is not
/// closed or moved: the directory is reopened with openat(dir_fd, ".") for readdir.
///
/// Skipped: every name starting with '.' (so ".", "..", dotfiles and ".git", matching the
/// resolver, which answers 404 for them), entries fstatat() fails on (a broken or looping
/// symlink, a file removed meanwhile) and entries that are neither regular files nor
/// directories (FIFOs, sockets, devices: the server refuses to serve them anyway). A symbolic
/// link is listed by name only (`is_link`): its target may lie outside the root or be refused
/// by the symlink options, so nothing of the target shows, not even whether it is a folder; a
/// request for it goes through the opener's checks like any other. Names with control
/// characters or invalid UTF-8 are kept; the renderers escape them.
///
/// Sorted directories first, then by name in byte order. Returns false with errno set when the
/// directory cannot be opened or read (`out` then holds whatever was read). Blocking I/O: call
/// it off the event loop or accept the stall for small directories.
bool read_directory(int dir_fd, std::vector<DirEntry>& out);

/// An HTML5 listing page for the URL path `url_path` (decoded, with a trailing slash): title and
/// heading "Index of <path>", then a table with Name (a link), Last modified ("YYYY-MM-DD HH:MM",
/// UTC; "-" for a symbolic link) and Size (bytes, "-" for directories and symbolic links), led
/// by a "../" link unless `url_path` is "/".
/// Directories get a trailing '/'. Every name is percent-encoded in href (prefixed with "./"
/// when it holds a ':' so it cannot read as a URI scheme) and HTML-escaped in text and
/// attributes; bytes that are not valid UTF-8 and control characters become U+FFFD in text,
/// so neither CR, LF nor markup ever appears raw. Serve it as "text/html; charset=utf-8".
std::string render_html(std::string_view url_path, const std::vector<DirEntry>& entries);

/// The same listing as JSON (RFC 8259), escaped by hand (this layer does not use nlohmann_json):
///   {"path":"/url/","entries":[{"name":"a.txt","href":"a.txt","type":"file","size":12,
///    "mtime":"<IMF-fixdate>"},{"name":"sub","href":"sub/","type":"directory","mtime":"..."}]}
/// "size" is left out for directories; a symbolic link is {"name","href","type":"link"} only.
/// Strings escape '"', '\\' and every control character
/// (\b \f \n \r \t, else \u00XX); valid UTF-8 passes through raw, and each maximal ill-formed
/// subsequence becomes U+FFFD (the Unicode/WHATWG practice) since JSON text must be Unicode and
/// "\u00XX" would silently turn a byte into a different character. The name is therefore lossy
/// for non-UTF-8 names; "href" is the percent-encoded relative link and always lossless.
/// Serve it as "application/json".
std::string render_json(std::string_view url_path, const std::vector<DirEntry>& entries);

} // namespace kahttpd::server
