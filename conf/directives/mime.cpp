#include "conf/detail/loader.hpp"

#include <optional>

// Media types: TypesConfig, AddType, ForceType, AddCharset, AddEncoding, AddDefaultCharset, and
// RemoveType, RemoveCharset, RemoveEncoding (RemoveHandler and RemoveLanguage: nothing to undo).

namespace kahttpd::conf::detail {

void Loader::on_types_config(const Context& c) {
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

namespace {

/// type/subtype, optionally with parameters ("text/html; charset=utf-8"), which are kept as
/// written. The type itself is case-insensitive and stored in lower case. nullopt when `text`
/// is not one.
std::optional<std::string> media_type(const std::string& text) {
    const std::size_t semi = text.find(';');
    const std::string_view essence = std::string_view(text).substr(0, semi);
    const std::size_t slash = essence.find('/');
    if (slash == std::string_view::npos || !detail::is_token(essence.substr(0, slash)) ||
        !detail::is_token(essence.substr(slash + 1))) {
        return std::nullopt;
    }
    return lower(essence) + (semi == std::string::npos ? "" : text.substr(semi));
}

/// AddCharset's charset: a token, in lower case as Apache keeps it.
std::optional<std::string> charset_name(const std::string& text) {
    if (!detail::is_token(text)) {
        return std::nullopt;
    }
    return lower(text);
}

/// AddEncoding's content coding: a token, in lower case as Apache keeps it. The old x-gzip and
/// x-compress become their registered names (RFC 9110 §8.4.1.1, §8.4.1.3), which every client
/// that knows the old ones accepts.
std::optional<std::string> content_coding(const std::string& text) {
    if (!detail::is_token(text)) {
        return std::nullopt;
    }
    std::string coding = lower(text);
    if (coding == "x-gzip" || coding == "x-compress") {
        coding.erase(0, 2);
    }
    return coding;
}

} // namespace

void Loader::on_force_type(const Context& c) {
    // mod_mime's ForceType: every file in the section gets this type, whatever its extension;
    // None goes back to the type by extension.
    if (!expect_one_arg(c)) {
        return;
    }
    std::string type;
    if (!iequals(c.args[0], "None")) {
        const auto parsed = media_type(c.args[0]);
        if (!parsed) {
            error(c,
                  "expected a media type as in text/html, or None, found " + in_quotes(c.args[0]));
            return;
        }
        type = *parsed;
    }
    dir_target().force_type = Setting<std::string>{std::move(type), where(c)};
}

bool Loader::extensions_from(const Context& c, std::size_t first,
                             std::vector<std::string>& out) {
    for (std::size_t i = first; i < c.args.size(); ++i) {
        std::string_view ext = c.args[i];
        if (ext.starts_with('.')) {
            ext.remove_prefix(1);
        }
        if (ext.empty() || ext.find_first_of("/ \t") != std::string_view::npos) {
            error(c, "expected a file name extension as in .html, found " + in_quotes(c.args[i]));
            return false;
        }
        out.push_back(lower(ext));
    }
    return true;
}

void Loader::add_by_extension(const Context& c, std::string_view value_kind,
                              std::string_view expected, ValueParser parse,
                              std::map<std::string, Setting<std::string>>& by_extension) {
    if (c.args.size() < 2) {
        error(c, "expected " + std::string(value_kind) + " and one or more extensions, found " +
                     args_text(c.args.size()));
        return;
    }
    const std::optional<std::string> value = parse(c.args[0]);
    if (!value) {
        error(c, "expected " + std::string(expected) + ", found " + in_quotes(c.args[0]));
        return;
    }
    std::vector<std::string> extensions;
    if (!extensions_from(c, 1, extensions)) {
        return;
    }
    for (const std::string& ext : extensions) {
        Setting<std::string>& slot = by_extension[ext];
        if (!slot.from.empty() && slot.value.empty()) {
            continue; // a Remove* of this section wins, whatever the order (mod_mime)
        }
        slot = {*value, where(c)};
    }
}

void Loader::remove_by_extension(const Context& c,
                                 std::map<std::string, Setting<std::string>>& by_extension) {
    if (c.args.empty()) {
        error(c, "expected one or more extensions, found " + args_text(0));
        return;
    }
    std::vector<std::string> extensions;
    if (!extensions_from(c, 0, extensions)) {
        return;
    }
    // An empty value is a removal: it hides what an enclosing scope (or this section) added
    // for the extension, and a deeper section may add it again, as mod_mime merges them.
    // conf::file_metadata() then goes by TypesConfig, or by nothing.
    for (const std::string& ext : extensions) {
        by_extension[ext] = {std::string(), where(c)};
    }
}

void Loader::on_remove_type(const Context& c) {
    remove_by_extension(c, dir_target().add_types);
}

void Loader::on_remove_charset(const Context& c) {
    remove_by_extension(c, dir_target().add_charsets);
}

void Loader::on_remove_encoding(const Context& c) {
    remove_by_extension(c, dir_target().add_encodings);
}

void Loader::on_remove_nothing(const Context& c) {
    // RemoveHandler and RemoveLanguage undo AddHandler and AddLanguage, which kahttpd does not
    // have: no extension ever selects a handler (every file is sent as it is, never run) or a
    // Content-Language. What such a line asks for already holds; its arguments are still
    // checked, so a typo does not pass.
    std::map<std::string, Setting<std::string>> nothing_to_undo;
    remove_by_extension(c, nothing_to_undo);
}

void Loader::on_add_type(const Context& c) {
    add_by_extension(c, "a media type", "a media type as in text/html", &media_type,
                     dir_target().add_types);
}

void Loader::on_add_charset(const Context& c) {
    // mod_mime's AddCharset: "; charset=" on the type of a file with one of these extensions
    // anywhere after its base name (index.html.utf8, page.utf8.html); conf::file_metadata().
    add_by_extension(c, "a charset", "a charset name as in utf-8", &charset_name,
                     dir_target().add_charsets);
}

void Loader::on_add_encoding(const Context& c) {
    // mod_mime's AddEncoding: the file is sent as it is, with this Content-Encoding
    // (page.html.gz is text/html, gzip-encoded); conf::file_metadata().
    add_by_extension(c, "an encoding", "a content coding as in gzip", &content_coding,
                     dir_target().add_encodings);
}

void Loader::on_add_default_charset(const Context& c) {
    if (!expect_one_arg(c)) {
        return;
    }
    const std::string& a = c.args[0];
    std::string charset;
    if (iequals(a, "on")) {
        charset = "iso-8859-1"; // Apache's On
    } else if (iequals(a, "off")) {
        charset.clear();
    } else if (detail::is_token(a)) {
        charset = a;
    } else {
        error(c, "expected On, Off or a charset name, found " + in_quotes(a));
        return;
    }
    dir_target().default_charset = Setting<std::string>{charset, where(c)};
}

} // namespace kahttpd::conf::detail
