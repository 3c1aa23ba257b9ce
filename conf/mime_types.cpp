#include "conf/mime_types.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <utility>

namespace kahttpd::conf {

namespace {

constexpr std::string_view kDefaultType = MimeTypes::kDefault;

/// JavaScript is text/javascript (RFC 9239 §6), whatever an older mime.types says
/// (application/javascript, application/x-javascript): browsers accept either, but module
/// scripts and strict MIME checking expect the registered type.
constexpr std::string_view kJavaScript = "text/javascript";

/// Lookups lower-case the extension into a std::string; up to this length it stays in the
/// small-string buffer (15 bytes in libstdc++), so lookup() does not allocate. No type in any
/// table has a longer extension than "webmanifest" (11).
constexpr std::size_t kMaxExtension = 15;

constexpr std::array<std::pair<std::string_view, std::string_view>, 76> kBuiltin{{
    // Documents and code.
    {"html", "text/html"},
    {"htm", "text/html"},
    {"xhtml", "application/xhtml+xml"},
    {"css", "text/css"},
    {"js", kJavaScript},
    {"mjs", kJavaScript},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"map", "application/json"}, // source maps
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain"},
    {"text", "text/plain"},
    {"md", "text/markdown"},
    {"markdown", "text/markdown"},
    {"csv", "text/csv"},
    {"tsv", "text/tab-separated-values"},
    {"xml", "application/xml"},
    {"xsl", "application/xml"},
    {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"},
    {"ics", "text/calendar"},
    {"vtt", "text/vtt"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"toml", "application/toml"},
    {"pdf", "application/pdf"},
    {"epub", "application/epub+zip"},
    {"rtf", "application/rtf"},
    {"wasm", "application/wasm"},
    // Images.
    {"svg", "image/svg+xml"},
    {"svgz", "image/svg+xml"},
    {"png", "image/png"},
    {"apng", "image/apng"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpe", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"jxl", "image/jxl"},
    {"ico", "image/vnd.microsoft.icon"},
    {"bmp", "image/bmp"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    // Fonts.
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"},
    // Audio and video.
    {"mp4", "video/mp4"},
    {"m4v", "video/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"m4a", "audio/mp4"},
    {"aac", "audio/aac"},
    {"flac", "audio/flac"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    // Archives and compressed files.
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tgz", "application/gzip"},
    {"br", "application/x-brotli"},
    {"zst", "application/zstd"},
    {"bz2", "application/x-bzip2"},
    {"xz", "application/x-xz"},
    {"7z", "application/x-7z-compressed"},
    {"tar", "application/x-tar"},
    {"jar", "application/java-archive"},
    {"deb", "application/vnd.debian.binary-package"},
    {"iso", "application/x-iso9660-image"},
    {"bin", "application/octet-stream"},
}};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    return out;
}

bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v';
}

} // namespace

MimeTypes MimeTypes::builtin() {
    MimeTypes m;
    for (const auto& [ext, type] : kBuiltin) {
        m.add(ext, type);
    }
    return m;
}

MimeTypes MimeTypes::load(const std::filesystem::path& file, bool* used_fallback) {
    if (used_fallback != nullptr) {
        *used_fallback = false;
    }
    std::ifstream in(file, std::ios::binary);
    std::error_code ec;
    if (!in || std::filesystem::is_directory(file, ec)) {
        if (used_fallback != nullptr) {
            *used_fallback = true;
        }
        return builtin();
    }

    // The format of Debian's /etc/mime.types (and Apache's conf/mime.types): a media type
    // followed by zero or more extensions, blank-separated; `#` starts a comment. When an
    // extension is listed twice the later line wins, as in Apache's mod_mime.
    MimeTypes m;
    std::string line;
    while (std::getline(in, line)) {
        if (const std::size_t hash = line.find('#'); hash != std::string::npos) {
            line.erase(hash);
        }
        std::string type;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && is_blank(line[i])) {
                ++i;
            }
            const std::size_t start = i;
            while (i < line.size() && !is_blank(line[i])) {
                ++i;
            }
            if (start == i) {
                break;
            }
            const std::string_view word = std::string_view(line).substr(start, i - start);
            if (type.empty()) {
                // A first word without a slash is not a media type; skip the whole line
                // rather than map extensions to garbage.
                if (word.find('/') == std::string_view::npos) {
                    break;
                }
                type = lower(word);
            } else {
                m.add(word, type);
            }
        }
    }

    // The built-in table fills only the extensions the file does not mention.
    for (const auto& [ext, type] : kBuiltin) {
        m.map_.try_emplace(std::string(ext), type);
    }
    m.add("js", kJavaScript);
    m.add("mjs", kJavaScript);
    return m;
}

std::string_view MimeTypes::lookup(std::string_view path) const noexcept {
    if (const std::size_t slash = path.rfind('/'); slash != std::string_view::npos) {
        path.remove_prefix(slash + 1);
    }
    const std::size_t dot = path.rfind('.');
    // No dot, a trailing dot ("name."), or a dotfile's only dot (".profile") means no
    // extension.
    if (dot == std::string_view::npos || dot == 0) {
        return kDefaultType;
    }
    const std::string_view type = find_extension(path.substr(dot + 1));
    return type.empty() ? kDefaultType : type;
}

std::string_view MimeTypes::find_extension(std::string_view ext) const noexcept {
    if (ext.empty() || ext.size() > kMaxExtension) {
        return {};
    }
    const auto it = map_.find(lower(ext));
    return it == map_.end() ? std::string_view() : std::string_view(it->second);
}

void MimeTypes::add(std::string_view ext, std::string_view type) {
    if (!ext.empty() && ext.front() == '.') {
        ext.remove_prefix(1);
    }
    if (ext.empty() || type.empty()) {
        return;
    }
    map_.insert_or_assign(lower(ext), std::string(type));
}

} // namespace kahttpd::conf
