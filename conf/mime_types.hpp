#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kahttpd::conf {

/// Maps file extensions (lower case, no dot) to media types. Built once at start-up and then
/// read-only, so workers share it without locks.
class MimeTypes {
  public:
    /// The built-in table of common web types (html, css, js, mjs, json, svg, png, jpg, jpeg,
    /// gif, webp, avif, ico, txt, xml, pdf, woff, woff2, ttf, otf, wasm, mp4, webm, mp3, ogg,
    /// zip, gz, map, csv, md ...). js and mjs are text/javascript (RFC 9239).
    static MimeTypes builtin();

    /// Reads a mime.types file ("type ext ext ..." lines, # comments). When the file cannot be
    /// read, returns the built-in table and sets `*used_fallback` (if given) to true. Entries of
    /// the file override nothing built in: the file's table is used whole, and the built-in
    /// table fills only extensions the file does not mention. One exception: js and mjs are
    /// always text/javascript (RFC 9239), even where an older file says application/javascript.
    /// A later line for the same extension wins, as in Apache's mod_mime.
    static MimeTypes load(const std::filesystem::path& file, bool* used_fallback = nullptr);

    /// Media type for a path's extension (case-insensitive); "application/octet-stream" when
    /// unknown or when the name has no extension.
    std::string_view lookup(std::string_view path) const noexcept;

    /// Media type for one extension (no dot, case-insensitive); empty when unknown.
    std::string_view find_extension(std::string_view ext) const noexcept;

    /// The type lookup() gives a name without a known extension.
    static constexpr std::string_view kDefault = "application/octet-stream";

    /// Maps `ext` (case-insensitive, a leading dot ignored) to `type`, replacing any earlier
    /// mapping. Empty arguments are ignored. Not thread-safe: call before sharing.
    void add(std::string_view ext, std::string_view type);
    /// Number of extensions known.
    std::size_t size() const noexcept { return map_.size(); }

  private:
    std::unordered_map<std::string, std::string> map_;
};

} // namespace kahttpd::conf
