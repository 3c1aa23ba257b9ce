#include "conf/file_metadata.hpp"

#include "conf/mime_types.hpp"
#include "parser/text.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kahttpd::conf {

namespace {

/// The extensions of `name`, lower case, empty ones kept (the type of "a.html." is the empty
/// last one's: none).
std::vector<std::string> extensions_of(std::string_view name) {
    if (const std::size_t slash = name.rfind('/'); slash != std::string_view::npos) {
        name.remove_prefix(slash + 1);
    }
    std::vector<std::string> out;
    // The base name runs to the first dot after the first character: a dotfile's leading dot
    // is part of its name, as MimeTypes::lookup() counts it.
    std::size_t dot = name.empty() ? std::string_view::npos : name.find('.', 1);
    while (dot != std::string_view::npos) {
        const std::size_t next = name.find('.', dot + 1);
        const std::string_view ext = name.substr(dot + 1, next - dot - 1);
        std::string& e = out.emplace_back(ext);
        for (char& c : e) {
            c = text::to_lower(c);
        }
        dot = next;
    }
    return out;
}

/// `type` with its charset parameter set to `charset`: an existing one replaced (later ones
/// dropped), else one appended, as Apache's mod_mime writes it ("; charset=utf-8").
std::string with_charset(std::string_view type, std::string_view charset) {
    std::string out(text::trim_ows(type.substr(0, type.find(';'))));
    bool placed = false;
    std::size_t semi = type.find(';');
    while (semi != std::string_view::npos) {
        const std::size_t next = type.find(';', semi + 1);
        const std::string_view param = text::trim_ows(type.substr(semi + 1, next - semi - 1));
        semi = next;
        if (param.empty()) {
            continue;
        }
        const std::string_view attr = text::trim_ows(param.substr(0, param.find('=')));
        if (!text::iequals(attr, "charset")) {
            out.append("; ").append(param);
        } else if (!placed) {
            out.append("; charset=").append(charset);
            placed = true;
        }
    }
    if (!placed) {
        out.append("; charset=").append(charset);
    }
    return out;
}

/// An extension's value in an AddType/AddCharset/AddEncoding map; empty when absent or removed
/// (RemoveType ... leave an empty value that hides an enclosing scope's).
std::string_view by_extension(const std::map<std::string, std::string>& map,
                              const std::string& ext) {
    const auto it = map.find(ext);
    return it != map.end() ? std::string_view(it->second) : std::string_view();
}

} // namespace

FileMetadata file_metadata(std::string_view name, const Effective& eff, const MimeTypes& mime) {
    FileMetadata meta;
    const std::vector<std::string> exts = extensions_of(name);

    std::string_view charset;
    for (const std::string& ext : exts) {
        if (ext.empty()) {
            continue; // "a..html": no extension between the dots
        }
        if (const std::string_view set = by_extension(eff.add_charsets, ext); !set.empty()) {
            charset = set;
        }
        if (const std::string_view coding = by_extension(eff.add_encodings, ext);
            !coding.empty()) {
            if (!meta.content_encoding.empty()) {
                meta.content_encoding.append(", ");
            }
            meta.content_encoding.append(coding);
        }
    }

    // The media type of one extension: AddType's, else TypesConfig's; empty when neither.
    const auto type_of = [&](const std::string& ext) -> std::string_view {
        if (const std::string_view added = by_extension(eff.add_types, ext); !added.empty()) {
            return added;
        }
        return mime.find_extension(ext);
    };
    // The extension that names the type: the last one, once the trailing extensions that only
    // add an encoding (page.html.gz) or only a charset (index.html.utf8) are set aside. An
    // AddType always names a type; so does an AddCharset extension TypesConfig knows (AddCharset
    // utf-8 .css). When nothing else is left (image.svgz, dump.gz), the last of them that has
    // a type gives it, as in Apache.
    std::string_view type;
    bool found = false;
    for (std::size_t i = exts.size(); i > 0 && !found; --i) {
        const std::string& ext = exts[i - 1];
        const bool typed = !by_extension(eff.add_types, ext).empty();
        const bool encoding_only = !typed && !by_extension(eff.add_encodings, ext).empty();
        const bool charset_only = !ext.empty() && !by_extension(eff.add_charsets, ext).empty() &&
                                  !typed && mime.find_extension(ext).empty();
        if (!encoding_only && !charset_only) {
            type = type_of(ext);
            found = true;
        }
    }
    for (std::size_t i = exts.size(); i > 0 && !found; --i) {
        type = type_of(exts[i - 1]);
        found = !type.empty();
    }
    if (!eff.force_type.empty()) {
        // Apache's ForceType replaces the whole type mod_mime chose, charset included.
        type = eff.force_type;
        charset = {};
    }
    if (type.empty()) {
        meta.content_type.assign(MimeTypes::kDefault); // unknown: no charset either
    } else if (!charset.empty()) {
        meta.content_type = with_charset(type, charset);
    } else {
        meta.content_type.assign(type);
    }

    std::string& t = meta.content_type;
    if (!eff.default_charset.empty() && t.starts_with("text/") &&
        t.find(';') == std::string::npos) {
        t.append("; charset=").append(eff.default_charset);
    }
    return meta;
}

} // namespace kahttpd::conf
