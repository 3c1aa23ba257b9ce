#pragma once

#include "conf/sections.hpp"

#include <string>
#include <string_view>

namespace kahttpd::conf {

class MimeTypes;

/// What mod_mime (and core's ForceType and AddDefaultCharset) make of a file's name.
struct FileMetadata {
    std::string content_type;     ///< the Content-Type value, parameters and charset included
    std::string content_encoding; ///< the Content-Encoding value; "" when the file has none
};

/// The Content-Type and Content-Encoding of the file called `name` (its last path segment) under
/// the settings `eff`, as docs/configuration.md ("AddCharset", "AddEncoding") describes:
///
/// - The name is split at its dots; the part before the first one is the base name (a leading
///   dot belongs to it: ".profile" has no extension) and every later part is an extension,
///   compared in lower case.
/// - Content-Encoding: the AddEncoding value of each extension that has one, in the order they
///   appear, joined by ", " (page.tar.gz.uu was gzipped, then uuencoded).
/// - Charset: the AddCharset value of the last extension that has one.
/// - Media type: the last extension decides (AddType, then TypesConfig), after the extensions
///   at the end that only add an encoding (AddEncoding, no AddType) or only a charset
///   (AddCharset, no type of their own) are set aside, so index.html.utf8 and page.html.gz are
///   text/html and, with "AddCharset utf-8 .css", a.css stays text/css. When nothing else is
///   left (image.svgz, dump.gz), the last of them that has a type gives it. Apache lets every
///   extension set the type, the last one it knows winning: foo.html.bak is text/html there,
///   application/octet-stream here, and page.html.gz is application/gzip there whenever the
///   types table knows .gz (Debian's does). Unknown: MimeTypes::kDefault, without a charset.
/// - ForceType replaces the type and drops the AddCharset charset, as Apache's fixup does.
/// - The charset goes in as "; charset=X", replacing a charset parameter the type has.
/// - AddDefaultCharset, last: for a text/ type without any parameter.
///
/// Pure: no I/O; allocates (called when a file's cache entry is built).
FileMetadata file_metadata(std::string_view name, const Effective& eff, const MimeTypes& mime);

} // namespace kahttpd::conf
