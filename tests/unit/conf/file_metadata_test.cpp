#include "conf/file_metadata.hpp"

#include "conf/mime_types.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using kahttpd::conf::Effective;
using kahttpd::conf::file_metadata;
using kahttpd::conf::MimeTypes;

namespace {

const MimeTypes& types() {
    static const MimeTypes m = MimeTypes::builtin();
    return m;
}

std::string type_of(std::string_view name, const Effective& eff) {
    return file_metadata(name, eff, types()).content_type;
}

std::string encoding_of(std::string_view name, const Effective& eff) {
    return file_metadata(name, eff, types()).content_encoding;
}

/// Settings as after "AddCharset utf-8 .utf8 .u8", "AddCharset iso-8859-1 .latin1",
/// "AddEncoding gzip .gz .svgz", "AddEncoding br .br" and "AddEncoding compress .z".
Effective mod_mime() {
    Effective eff;
    eff.add_charsets = {{"utf8", "utf-8"}, {"u8", "utf-8"}, {"latin1", "iso-8859-1"}};
    eff.add_encodings = {{"gz", "gzip"}, {"br", "br"}, {"z", "compress"}, {"svgz", "gzip"}};
    return eff;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("without mod_mime directives the type is the last extension's, as before") {
        const Effective eff;
        CHECK(type_of("index.html", eff) == "text/html");
        CHECK(type_of("App.CSS", eff) == "text/css");
        CHECK(type_of("backup.tar.gz", eff) == "application/gzip");
        CHECK(type_of("index.html.bak", eff) == MimeTypes::kDefault);
        CHECK(type_of("README", eff) == MimeTypes::kDefault);
        CHECK(type_of("name.", eff) == MimeTypes::kDefault);
        CHECK(type_of(".profile", eff) == MimeTypes::kDefault);
        CHECK(type_of(".hidden.css", eff) == "text/css");
        CHECK(type_of("/a/b/c.js", eff) == "text/javascript");
        CHECK(encoding_of("backup.tar.gz", eff).empty());
    }

    TEST_CASE("AddCharset adds the charset of any extension after the base name") {
        const Effective eff = mod_mime();
        CHECK(type_of("index.html.utf8", eff) == "text/html; charset=utf-8");
        CHECK(type_of("index.utf8.html", eff) == "text/html; charset=utf-8");
        CHECK(type_of("INDEX.HTML.UTF8", eff) == "text/html; charset=utf-8");
        CHECK(type_of("notes.txt.u8", eff) == "text/plain; charset=utf-8");
        CHECK(type_of("data.json.utf8", eff) == "application/json; charset=utf-8");
        // The last charset extension wins; empty extensions are skipped.
        CHECK(type_of("a.latin1.html.utf8", eff) == "text/html; charset=utf-8");
        CHECK(type_of("a.utf8..latin1.html", eff) == "text/html; charset=iso-8859-1");
        // The base name is never an extension.
        CHECK(type_of("utf8.html", eff) == "text/html");
        CHECK(type_of(".utf8", eff) == MimeTypes::kDefault);
        // No type, no charset: the default type goes without one.
        CHECK(type_of("a.utf8", eff) == MimeTypes::kDefault);
        CHECK(type_of("a.unknown.utf8", eff) == MimeTypes::kDefault);
        CHECK(encoding_of("index.html.utf8", eff).empty());
    }

    TEST_CASE("AddCharset replaces a charset the type already has") {
        Effective eff = mod_mime();
        eff.add_types = {{"html", "text/html; charset=iso-8859-1"},
                         {"page", "text/html;level=1;CHARSET=x;charset=y"}};
        CHECK(type_of("a.html.utf8", eff) == "text/html; charset=utf-8");
        CHECK(type_of("a.page.utf8", eff) == "text/html; level=1; charset=utf-8");
        CHECK(type_of("a.html", eff) == "text/html; charset=iso-8859-1"); // as written
    }

    TEST_CASE("AddEncoding gives the encoding, and the type of the extension before it") {
        const Effective eff = mod_mime();
        CHECK(type_of("page.html.gz", eff) == "text/html");
        CHECK(encoding_of("page.html.gz", eff) == "gzip");
        CHECK(type_of("backup.tar.gz", eff) == "application/x-tar");
        CHECK(type_of("style.CSS.BR", eff) == "text/css");
        CHECK(encoding_of("style.CSS.BR", eff) == "br");
        // Only an encoding: its own type, if any (as Apache with Debian's mime.types).
        CHECK(type_of("image.svgz", eff) == "image/svg+xml");
        CHECK(type_of("dump.gz", eff) == "application/gzip");
        CHECK(encoding_of("dump.gz", eff) == "gzip");
        CHECK(type_of("a.unknown.gz", eff) == MimeTypes::kDefault); // not the archive's type
        // Several: in the order they were applied, as the extensions say.
        CHECK(encoding_of("a.txt.gz.z", eff) == "gzip, compress");
        CHECK(type_of("a.txt.gz.z", eff) == "text/plain");
        // With a charset too, in any order.
        CHECK(type_of("a.html.utf8.gz", eff) == "text/html; charset=utf-8");
        CHECK(type_of("a.html.gz.utf8", eff) == "text/html; charset=utf-8");
        CHECK(encoding_of("a.html.utf8.gz", eff) == "gzip");
        // The encoding extension in the middle still counts.
        CHECK(encoding_of("a.gz.html", eff) == "gzip");
        CHECK(type_of("a.gz.html", eff) == "text/html");
        CHECK(encoding_of("gz.html", eff).empty()); // a base name
    }

    TEST_CASE("an AddCharset extension with a type of its own keeps it (h5bp's AddCharset)") {
        Effective eff = mod_mime();
        eff.add_charsets["css"] = "utf-8";
        eff.add_charsets["js"] = "utf-8";
        CHECK(type_of("a.css", eff) == "text/css; charset=utf-8");
        CHECK(type_of("a.min.js", eff) == "text/javascript; charset=utf-8");
        CHECK(type_of("a.js.css", eff) == "text/css; charset=utf-8");
        CHECK(type_of("a.css.gz", eff) == "text/css; charset=utf-8");
        CHECK(encoding_of("a.css.gz", eff) == "gzip");
    }

    TEST_CASE("an AddType for an encoding extension keeps its type, as in Apache") {
        Effective eff = mod_mime();
        eff.add_types = {{"gz", "application/x-gzip"}};
        CHECK(type_of("page.html.gz", eff) == "application/x-gzip");
        CHECK(encoding_of("page.html.gz", eff) == "gzip");
    }

    TEST_CASE("ForceType replaces the type and the AddCharset charset, not the encoding") {
        Effective eff = mod_mime();
        eff.force_type = "text/plain";
        CHECK(type_of("a.html.utf8", eff) == "text/plain");
        CHECK(type_of("a.html.gz", eff) == "text/plain");
        CHECK(encoding_of("a.html.gz", eff) == "gzip");
        eff.default_charset = "utf-8";
        CHECK(type_of("a.bin", eff) == "text/plain; charset=utf-8"); // AddDefaultCharset, after
    }

    TEST_CASE("AddDefaultCharset fills in only where nothing named a charset") {
        Effective eff = mod_mime();
        eff.default_charset = "iso-8859-1";
        CHECK(type_of("a.html", eff) == "text/html; charset=iso-8859-1");
        CHECK(type_of("a.html.utf8", eff) == "text/html; charset=utf-8");
        CHECK(type_of("a.png", eff) == "image/png");
        CHECK(type_of("a.unknown", eff) == MimeTypes::kDefault);
    }
}
