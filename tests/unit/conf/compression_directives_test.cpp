// Compression on the fly (conf/directives/compression.cpp): AddOutputFilterByType,
// SetOutputFilter, CompressMinLength, DeflateCompressionLevel, BrotliCompressionQuality.
#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using kahttpd::conf::Config;
using kahttpd::conf::DirSettings;
using kahttpd::conf::Effective;
using kahttpd::conf::OutputFilters;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;

namespace {

constexpr std::uint8_t kGzip = OutputFilters::kDeflate;
constexpr std::uint8_t kBr = OutputFilters::kBrotli;

DirSettings base_of(const std::string& text) {
    return config_of(text).main.base;
}

std::string at(const std::string& directive) {
    return kFile + ":2: " + directive + ": ";
}

} // namespace

TEST_SUITE("conf") {
    TEST_CASE("AddOutputFilterByType takes a filter chain and media types") {
        SUBCASE("one filter, several types, stored in lower case") {
            const DirSettings s = base_of("AddOutputFilterByType DEFLATE text/html Text/CSS\n");
            REQUIRE(s.output_filters_by_type.size() == 2);
            CHECK(s.output_filters_by_type.at("text/html").value == kGzip);
            CHECK(s.output_filters_by_type.at("text/css").value == kGzip);
            CHECK(s.output_filters_by_type.at("text/css").from == kFile + ":2");
        }
        SUBCASE("a chain as Apache writes it, names in any case") {
            const DirSettings s =
                base_of("AddOutputFilterByType deflate;Brotli_Compress text/html\n");
            CHECK(s.output_filters_by_type.at("text/html").value == (kGzip | kBr));
        }
        SUBCASE("lines for one type in one section add up, as in Apache") {
            const DirSettings s = base_of("AddOutputFilterByType DEFLATE text/html\n"
                                          "AddOutputFilterByType BROTLI_COMPRESS text/html\n");
            CHECK(s.output_filters_by_type.at("text/html").value == (kGzip | kBr));
            CHECK(s.output_filters_by_type.at("text/html").from == kFile + ":3");
        }
        SUBCASE("errors") {
            CHECK(error_of("AddOutputFilterByType DEFLATE") ==
                  at("AddOutputFilterByType") +
                      "expected a filter (DEFLATE, BROTLI_COMPRESS) and one or more media types, "
                      "found 1 argument");
            CHECK(error_of("AddOutputFilterByType GZIP text/html") ==
                  at("AddOutputFilterByType") +
                      "expected DEFLATE or BROTLI_COMPRESS (several joined by \";\"), found "
                      "\"GZIP\"");
            CHECK(error_of("AddOutputFilterByType DEFLATE; text/html") ==
                  at("AddOutputFilterByType") +
                      "expected DEFLATE or BROTLI_COMPRESS (several joined by \";\"), found "
                      "\"DEFLATE;\"");
            CHECK(error_of("AddOutputFilterByType INCLUDES text/html") ==
                  at("AddOutputFilterByType") +
                      "\"INCLUDES\" is not supported by kahttpd; kahttpd's output filters are "
                      "DEFLATE and BROTLI_COMPRESS");
            CHECK(error_of("AddOutputFilterByType DEFLATE text/html;charset=utf-8") ==
                  at("AddOutputFilterByType") +
                      "expected a media type without parameters as in text/html, found "
                      "\"text/html;charset=utf-8\"");
            CHECK(error_of("AddOutputFilterByType DEFLATE html") ==
                  at("AddOutputFilterByType") +
                      "expected a media type without parameters as in text/html, found "
                      "\"html\"");
        }
    }

    TEST_CASE("SetOutputFilter takes one filter chain") {
        CHECK(base_of("SetOutputFilter DEFLATE").set_output_filter->value == kGzip);
        CHECK(base_of("SetOutputFilter BROTLI_COMPRESS;DEFLATE").set_output_filter->value ==
              (kGzip | kBr));
        CHECK(error_of("SetOutputFilter DEFLATE BROTLI_COMPRESS") ==
              at("SetOutputFilter") + "expected one argument, found 2");
        CHECK(error_of("SetOutputFilter SUBSTITUTE")
                  .starts_with(at("SetOutputFilter") + "\"SUBSTITUTE\" is not supported"));
    }

    TEST_CASE("levels and the threshold take integers in their ranges") {
        CHECK(base_of("DeflateCompressionLevel 1").deflate_level->value == 1);
        CHECK(base_of("BrotliCompressionQuality 0").brotli_quality->value == 0);
        CHECK(base_of("CompressMinLength 0").compress_min_length->value == 0);
        CHECK(error_of("DeflateCompressionLevel 0") ==
              at("DeflateCompressionLevel") + "expected an integer from 1 to 9, found \"0\"");
        CHECK(error_of("BrotliCompressionQuality 12") ==
              at("BrotliCompressionQuality") + "expected an integer from 0 to 11, found \"12\"");
        CHECK(error_of("CompressMinLength -1")
                  .starts_with(at("CompressMinLength") + "expected an integer from 0"));
        const Effective defaults;
        CHECK(defaults.compress_min_length == 256);
        CHECK(defaults.deflate_level == 6);  // zlib's default, as Apache's
        CHECK(defaults.brotli_quality == 5); // mod_brotli's default
        CHECK(defaults.set_output_filter == 0);
        CHECK(defaults.output_filters_by_type.empty());
    }

    TEST_CASE("an inner section replaces the filters of the types it names, others inherit") {
        const Config c = config_of("AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html "
                                   "text/css\n"
                                   "<Directory /srv/site/www/sub>\n"
                                   "    AddOutputFilterByType BROTLI_COMPRESS text/css\n"
                                   "    SetOutputFilter DEFLATE\n"
                                   "</Directory>\n");
        const Effective top = c.main.effective(c.main, "/srv/site/www/a.css", "/a.css");
        CHECK(top.output_filters_by_type.at("text/css") == (kGzip | kBr));
        CHECK(top.set_output_filter == 0);
        const Effective sub = c.main.effective(c.main, "/srv/site/www/sub/a.css", "/sub/a.css");
        CHECK(sub.output_filters_by_type.at("text/css") == kBr);
        CHECK(sub.output_filters_by_type.at("text/html") == (kGzip | kBr));
        CHECK(sub.set_output_filter == kGzip);
    }

    TEST_CASE("-T shows filters as Apache writes them") {
        const Config c = config_of("AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html\n"
                                   "SetOutputFilter BROTLI_COMPRESS\n");
        const auto vhost = kahttpd::conf::dump_json(c)["vhosts"][0];
        CHECK(vhost["base"]["AddOutputFilterByType"]["text/html"]["value"] ==
              "DEFLATE;BROTLI_COMPRESS");
        CHECK(vhost["effective_at_root"]["SetOutputFilter"]["value"] == "BROTLI_COMPRESS");
    }

    TEST_CASE("<IfModule mod_deflate.c> and mod_brotli.c hold") {
        const Config c = config_of("<IfModule mod_deflate.c>\n"
                                   "  AddOutputFilterByType DEFLATE text/html\n"
                                   "</IfModule>\n"
                                   "<IfModule brotli_module>\n"
                                   "  AddOutputFilterByType BROTLI_COMPRESS text/html\n"
                                   "</IfModule>\n"
                                   "<IfModule mod_filter.c>\n"
                                   "  CompressMinLength 10\n"
                                   "</IfModule>\n");
        CHECK(c.main.base.output_filters_by_type.at("text/html").value == (kGzip | kBr));
        CHECK(c.main.base.compress_min_length->value == 10);
    }
}
