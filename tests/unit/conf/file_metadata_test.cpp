#include "conf/file_metadata.hpp"

#include "conf/config.hpp"
#include "conf/mime_types.hpp"
#include "tests/unit/conf/load_helpers.hpp"

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

// RemoveType, RemoveCharset, RemoveEncoding (mod_mime): through the loader and the section
// merge, as a configuration would use them.
TEST_SUITE("conf") {

    kahttpd::conf::FileMetadata meta_at(const kahttpd::conf::Config& c, const std::string& rel) {
        const Effective eff = c.main.effective(c.main, "/srv/site/www/" + rel, "/" + rel);
        return file_metadata(rel, eff, types());
    }

    TEST_CASE("Remove* undo an enclosing scope's Add*, and a deeper section may add again") {
        const auto c = kahttpd::conf::test::config_of(
            "AddType text/plain .php .conf\n"
            "AddCharset utf-8 .txt\n"
            "AddEncoding gzip .gz\n"
            "<Directory /srv/site/www/uploads>\n"
            "    RemoveType .php\n"
            "    RemoveCharset txt\n"
            "    RemoveEncoding .GZ\n"
            "    RemoveHandler .php .cgi\n"
            "    RemoveLanguage .en\n"
            "</Directory>\n"
            "<Directory /srv/site/www/uploads/again>\n"
            "    AddType text/x-again .php\n"
            "</Directory>\n");
        CHECK(meta_at(c, "a.php").content_type == "text/plain");
        CHECK(meta_at(c, "a.txt").content_type == "text/plain; charset=utf-8");
        CHECK(meta_at(c, "a.html.gz").content_encoding == "gzip");
        // Removed: TypesConfig decides again (it knows no .php: the default type).
        CHECK(meta_at(c, "uploads/a.php").content_type == MimeTypes::kDefault);
        CHECK(meta_at(c, "uploads/a.conf").content_type == "text/plain"); // not removed
        CHECK(meta_at(c, "uploads/a.txt").content_type == "text/plain");
        CHECK(meta_at(c, "uploads/a.html.gz").content_encoding.empty());
        CHECK(meta_at(c, "uploads/a.html.gz").content_type == "application/gzip");
        CHECK(meta_at(c, "uploads/again/a.php").content_type == "text/x-again");
        CHECK(meta_at(c, "uploads/again/a.txt").content_type == "text/plain"); // still removed
    }

    TEST_CASE("in one section a Remove* wins over an Add* for the extension, in any order") {
        for (const char* body : {"    AddType text/x-a .foo\n    RemoveType .foo\n",
                                 "    RemoveType .foo\n    AddType text/x-a .foo\n"}) {
            INFO(body);
            const auto c = kahttpd::conf::test::config_of(
                std::string("AddType text/x-top .foo\n<Directory /srv/site/www/d>\n") + body +
                "</Directory>\n");
            CHECK(meta_at(c, "a.foo").content_type == "text/x-top");
            CHECK(meta_at(c, "d/a.foo").content_type == MimeTypes::kDefault);
        }
    }

    TEST_CASE("Remove* lines name extensions, with FILE:LINE errors") {
        using kahttpd::conf::test::error_of;
        using kahttpd::conf::test::kFile;
        CHECK(error_of("RemoveType") ==
              kFile + ":2: RemoveType: expected one or more extensions, found none");
        CHECK(error_of("RemoveEncoding a/b") ==
              kFile + ":2: RemoveEncoding: expected a file name extension as in .html, found "
                      "\"a/b\"");
        CHECK(error_of("RemoveHandler .") ==
              kFile + ":2: RemoveHandler: expected a file name extension as in .html, found "
                      "\".\"");
        CHECK(error_of("RemoveCharset .txt\nRemoveLanguage .en .fr").empty());
    }
}
