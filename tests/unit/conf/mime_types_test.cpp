#include "conf/mime_types.hpp"

#include "tests/unit/conf/temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace fs = std::filesystem;
using kahttpd::conf::MimeTypes;
using kahttpd::conf::test::TempDir;

namespace {

const fs::path kFixture = KAHTTPD_TEST_DATA_DIR "/conf/mime.types";
constexpr std::string_view kOctets = "application/octet-stream";

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("the built-in table knows the common web types") {
        const MimeTypes m = MimeTypes::builtin();
        struct Case {
            std::string_view name;
            std::string_view type;
        };
        for (const Case& k : {
                 Case{"a.html", "text/html"},
                 Case{"a.htm", "text/html"},
                 Case{"a.css", "text/css"},
                 Case{"a.js", "text/javascript"},
                 Case{"a.mjs", "text/javascript"},
                 Case{"a.json", "application/json"},
                 Case{"a.txt", "text/plain"},
                 Case{"a.xml", "application/xml"},
                 Case{"a.svg", "image/svg+xml"},
                 Case{"a.png", "image/png"},
                 Case{"a.jpg", "image/jpeg"},
                 Case{"a.jpeg", "image/jpeg"},
                 Case{"a.gif", "image/gif"},
                 Case{"a.webp", "image/webp"},
                 Case{"a.avif", "image/avif"},
                 Case{"a.ico", "image/vnd.microsoft.icon"},
                 Case{"a.bmp", "image/bmp"},
                 Case{"a.pdf", "application/pdf"},
                 Case{"a.woff", "font/woff"},
                 Case{"a.woff2", "font/woff2"},
                 Case{"a.ttf", "font/ttf"},
                 Case{"a.otf", "font/otf"},
                 Case{"a.eot", "application/vnd.ms-fontobject"},
                 Case{"a.wasm", "application/wasm"},
                 Case{"a.mp4", "video/mp4"},
                 Case{"a.webm", "video/webm"},
                 Case{"a.mp3", "audio/mpeg"},
                 Case{"a.ogg", "audio/ogg"},
                 Case{"a.oga", "audio/ogg"},
                 Case{"a.ogv", "video/ogg"},
                 Case{"a.wav", "audio/wav"},
                 Case{"a.zip", "application/zip"},
                 Case{"a.gz", "application/gzip"},
                 Case{"a.br", "application/x-brotli"},
                 Case{"a.tar", "application/x-tar"},
                 Case{"a.js.map", "application/json"},
                 Case{"a.csv", "text/csv"},
                 Case{"a.md", "text/markdown"},
                 Case{"site.webmanifest", "application/manifest+json"},
             }) {
            CAPTURE(k.name);
            CHECK(m.lookup(k.name) == k.type);
        }
    }

    TEST_CASE("find_extension looks one extension up, empty when unknown") {
        const MimeTypes m = MimeTypes::builtin();
        CHECK(m.find_extension("html") == "text/html");
        CHECK(m.find_extension("HTML") == "text/html");
        CHECK(m.find_extension("nosuchext").empty());
        CHECK(m.find_extension("").empty());
        CHECK(m.find_extension("averyveryverylongextension").empty());
        CHECK(MimeTypes::kDefault == kOctets);
    }

    TEST_CASE("lookup uses the extension of the last path segment") {
        const MimeTypes m = MimeTypes::builtin();
        SUBCASE("case-insensitive") {
            CHECK(m.lookup("INDEX.HTML") == "text/html");
            CHECK(m.lookup("/static/App.Css") == "text/css");
        }
        SUBCASE("no extension") {
            CHECK(m.lookup("README") == kOctets);
            CHECK(m.lookup("/srv/www/Makefile") == kOctets);
            CHECK(m.lookup("") == kOctets);
            CHECK(m.lookup("/") == kOctets);
        }
        SUBCASE("a trailing dot is no extension") {
            CHECK(m.lookup("name.") == kOctets);
        }
        SUBCASE("a dotfile's leading dot is not an extension") {
            CHECK(m.lookup(".htaccess") == kOctets);
            CHECK(m.lookup("/a/.css") == kOctets);
            CHECK(m.lookup("/a/.hidden.css") == "text/css");
        }
        SUBCASE("dots in folder names do not count") {
            CHECK(m.lookup("/v1.2/README") == kOctets);
            CHECK(m.lookup("/assets.v2/app.js") == "text/javascript");
            CHECK(m.lookup("/a.html/b") == kOctets);
        }
        SUBCASE("only the last extension counts") {
            CHECK(m.lookup("backup.tar.gz") == "application/gzip");
            CHECK(m.lookup("index.html.bak") == kOctets);
        }
        SUBCASE("unknown and over-long extensions") {
            CHECK(m.lookup("a.nosuchext") == kOctets);
            CHECK(m.lookup("a.averyveryverylongextension") == kOctets);
        }
    }

    TEST_CASE("add maps an extension whatever its case or leading dot") {
        MimeTypes m;
        CHECK(m.size() == 0);
        m.add(".TXT", "text/plain");
        m.add("txt", "text/x-plain");
        m.add("", "ignored/empty");
        CHECK(m.size() == 1);
        CHECK(m.lookup("a.txt") == "text/x-plain");
    }

    TEST_CASE("load reads a mime.types file and fills gaps from the built-in table") {
        bool fallback = true;
        const MimeTypes m = MimeTypes::load(kFixture, &fallback);
        CHECK_FALSE(fallback);
        SUBCASE("entries of the file") {
            CHECK(m.lookup("a.shtml") == "text/html");
            CHECK(m.lookup("a.asc") == "text/plain");
            CHECK(m.lookup("a.ktest") == "application/x-kahttpd-test");
            CHECK(m.lookup("a.ktest2") == "application/x-kahttpd-test");
        }
        SUBCASE("the file's type wins over the built-in one") {
            CHECK(m.lookup("a.md") == "text/x-markdown");
        }
        SUBCASE("media types are stored in lower case") {
            CHECK(m.lookup("a.css") == "text/css");
        }
        SUBCASE("a later line for the same extension wins") {
            CHECK(m.lookup("a.dup") == "application/x-new");
        }
        SUBCASE("a line whose first word is not a media type is skipped") {
            CHECK(m.lookup("a.foo") == kOctets);
        }
        SUBCASE("js and mjs are text/javascript even where the file says otherwise") {
            CHECK(m.lookup("a.js") == "text/javascript");
            CHECK(m.lookup("a.mjs") == "text/javascript");
        }
        SUBCASE("extensions the file does not mention come from the built-in table") {
            CHECK(m.lookup("a.webp") == "image/webp");
            CHECK(m.lookup("a.woff2") == "font/woff2");
        }
        SUBCASE("the text after # is a comment") {
            CHECK(m.lookup("a.comment") == kOctets);
            CHECK(m.lookup("a.a") == kOctets);
        }
    }

    TEST_CASE("load falls back to the built-in table when the file cannot be read") {
        const TempDir tmp;
        SUBCASE("missing") {
            bool fallback = false;
            const MimeTypes m = MimeTypes::load(tmp.path() / "missing.types", &fallback);
            CHECK(fallback);
            CHECK(m.size() == MimeTypes::builtin().size());
            CHECK(m.lookup("index.html") == "text/html");
        }
        SUBCASE("a folder") {
            bool fallback = false;
            MimeTypes::load(tmp.path(), &fallback);
            CHECK(fallback);
        }
        SUBCASE("without the flag") {
            CHECK(MimeTypes::load(tmp.path() / "missing.types").lookup("a.css") == "text/css");
        }
        SUBCASE("an empty file is read, not a fallback") {
            bool fallback = true;
            const MimeTypes m = MimeTypes::load(tmp.write("empty.types", ""), &fallback);
            CHECK_FALSE(fallback);
            CHECK(m.lookup("a.png") == "image/png");
        }
    }

    TEST_CASE("the system mime.types gives the expected web types") {
        const fs::path system = "/etc/mime.types";
        if (!fs::exists(system)) {
            MESSAGE("skipped: /etc/mime.types is missing (install media-types)");
            return;
        }
        bool fallback = true;
        const MimeTypes m = MimeTypes::load(system, &fallback);
        CHECK_FALSE(fallback);
        CHECK(m.size() > MimeTypes::builtin().size());
        CHECK(m.lookup("index.html") == "text/html");
        CHECK(m.lookup("app.js") == "text/javascript");
        CHECK(m.lookup("style.css") == "text/css");
        CHECK(m.lookup("a.js.map") == "application/json");
    }

} // TEST_SUITE
