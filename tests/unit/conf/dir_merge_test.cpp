#include "conf/detail/dir_merge.hpp"

#include "conf/config.hpp"
#include "load_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace kahttpd::conf;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::kFile;
using nlohmann::json;

/// One line per per-directory directive that sets it to something other than its default.
/// A directive added to KAHTTPD_DIR_SETTINGS without a line here fails the first test.
const std::map<std::string, std::string> kSamples{
    {"Options", "Options +Indexes"},
    {"DirectoryIndex", "DirectoryIndex home.html"},
    {"Require", "Require local"},
    {"Header", "Header set X-Test 1"},
    {"ErrorDocument", "ErrorDocument 404 /missing.html"},
    {"SetHandler", "SetHandler server-status"},
    {"AddType", "AddType text/x-test .test"},
    {"AddDefaultCharset", "AddDefaultCharset utf-8"},
    {"ForceType", "ForceType text/plain"},
    {"AddCharset", "AddCharset utf-8 .utf8"},
    {"AddEncoding", "AddEncoding gzip .gz"},
    {"FileETag", "FileETag INode"},
    {"EnableSendfile", "EnableSendfile Off"},
    {"LimitRequestBody", "LimitRequestBody 1000"},
    {"PrecompressedFiles", "PrecompressedFiles Off"},
    {"AddOutputFilterByType", "AddOutputFilterByType DEFLATE text/css"},
    {"SetOutputFilter", "SetOutputFilter BROTLI_COMPRESS"},
    {"CompressMinLength", "CompressMinLength 10"},
    {"DeflateCompressionLevel", "DeflateCompressionLevel 9"},
    {"BrotliCompressionQuality", "BrotliCompressionQuality 11"},
    {"MaxRanges", "MaxRanges 3"},
    {"Redirect", "Redirect permanent https://example.com/moved"},
    {"ExpiresActive", "ExpiresActive On"},
    {"ExpiresDefault", "ExpiresDefault A60"},
    {"ExpiresByType", "ExpiresByType image/png \"access plus 1 day\""},
};

/// The directive names of KAHTTPD_DIR_SETTINGS, in list order.
std::vector<std::string> listed_directives() {
    return {
#define KAHTTPD_DIR_NAME(member, directive, kind, init) directive,
        KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_NAME)
#undef KAHTTPD_DIR_NAME
    };
}

/// Built field by field: GCC 12 warns (-Wmaybe-uninitialized, a false positive) on the nested
/// braces.
Setting<ErrorDocument> text_doc(std::string target, std::string from) {
    Setting<ErrorDocument> s;
    s.value.kind = ErrorDocument::Kind::text;
    s.value.target = std::move(target);
    s.from = std::move(from);
    return s;
}

template <typename T> bool is_set(const std::optional<T>& slot) {
    return slot.has_value();
}
template <typename C> bool is_set(const C& container) {
    return !container.empty();
}

/// A <Directory> at the default DocumentRoot with every sample in list order: line 2 opens it
/// (line 1 is load()'s Listen), so the sample of entry i is on line 3 + i.
std::string every_sample_in_a_directory() {
    std::string text = "<Directory /srv/site/www>\n";
    for (const std::string& directive : listed_directives()) {
        text += "    " + kSamples.at(directive) + "\n";
    }
    return text + "</Directory>\n";
}

} // namespace

TEST_SUITE("conf") {
    TEST_CASE("every per-directory setting in the list has a sample line here") {
        const std::vector<std::string> listed = listed_directives();
        CHECK(listed.size() == kSamples.size());
        for (const std::string& directive : listed) {
            INFO(directive);
            CHECK(kSamples.contains(directive));
        }
    }

    TEST_CASE("a default DirSettings sets nothing and a default Effective is Apache's") {
        const DirSettings none;
#define KAHTTPD_DIR_CHECK(member, directive, kind, init)                                           \
    CHECK_MESSAGE(!is_set(none.member), directive);
        KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_CHECK)
#undef KAHTTPD_DIR_CHECK
        const Effective e;
        CHECK(e.options == OptionsSpec::kFollowSymLinks);
        CHECK(e.directory_index == std::vector<std::string>{"index.html"});
        CHECK(e.enable_sendfile);
        CHECK(e.limit_request_body == 1073741824);
        CHECK(e.max_ranges == 200);
    }

    TEST_CASE("each listed setting set in <Directory> reaches DirSettings, Effective and -T") {
        const Config c = config_of(every_sample_in_a_directory());
        REQUIRE(c.main.directories.size() == 1);
        const DirSettings& set = c.main.directories[0].settings;
        const Effective merged = c.main.effective(c.main, "/srv/site/www/a.html", "/a.html");
        const Effective defaults;
        const json vhost = dump_json(c)["vhosts"][0];
        const json& section = vhost["directories"][0]["settings"];
        const json& effective = vhost["effective_at_root"];
        CHECK(section.size() == kSamples.size());
        CHECK(effective.size() == kSamples.size());

        int line = 3;
#define KAHTTPD_DIR_CHECK(member, directive, kind, init)                                           \
    {                                                                                              \
        INFO(directive);                                                                           \
        const std::string at = "\"" + kFile + ":" + std::to_string(line++) + "\"";                 \
        CHECK(is_set(set.member));                                                                 \
        CHECK(merged.member != defaults.member);                                                   \
        REQUIRE(section.contains(directive));                                                      \
        CHECK(section[directive].dump().find(at) != std::string::npos);                            \
        REQUIRE(effective.contains(directive));                                                    \
        CHECK(effective[directive].dump().find(at) != std::string::npos);                          \
    }
        KAHTTPD_DIR_SETTINGS(KAHTTPD_DIR_CHECK)
#undef KAHTTPD_DIR_CHECK
    }

    TEST_CASE("without any section, -T shows every listed setting with its default") {
        const Config c = config_of("");
        const json vhost = dump_json(c)["vhosts"][0];
        CHECK(vhost["base"] == json::object());
        for (const std::string& directive : listed_directives()) {
            INFO(directive);
            REQUIRE(vhost["effective_at_root"].contains(directive));
            CHECK(vhost["effective_at_root"][directive].dump().find(kFile) == std::string::npos);
        }
    }

    TEST_CASE("merge_layer keeps each merge kind and records sources") {
        DirSettings outer;
        outer.options = Setting<OptionsSpec>{{true, OptionsSpec::kIndexes, 0}, "o:1"};
        outer.handler = Setting<std::string>{"server-status", "o:2"};
        outer.headers.push_back({HeaderRule::Action::set, false, "X-Outer", "1", "o:3"});
        outer.error_documents[404] = text_doc("/404.html", "o:4");
        outer.error_documents[500] = text_doc("outer", "o:5");
        DirSettings inner;
        inner.options = Setting<OptionsSpec>{{false, OptionsSpec::kFollowSymLinks, 0}, "i:1"};
        inner.handler = Setting<std::string>{"", "i:2"};
        inner.headers.push_back({HeaderRule::Action::unset, false, "X-Inner", "", "i:3"});
        inner.error_documents[500] = text_doc("inner", "i:5");

        Effective e;
        detail::EffectiveSources from;
        detail::merge_layer(e, outer, &from);
        detail::merge_layer(e, inner, &from);
        // Options: +FollowSymLinks over the absolute "Indexes".
        CHECK(e.options == (OptionsSpec::kIndexes | OptionsSpec::kFollowSymLinks));
        CHECK(from.options == "i:1");
        // Replace: the inner value wins, even when it is "".
        CHECK(e.handler.empty());
        CHECK(from.handler == "i:2");
        // Append: outer rules first.
        REQUIRE(e.headers.size() == 2);
        CHECK(e.headers[0].name == "X-Outer");
        CHECK(e.headers[1].name == "X-Inner");
        // Per key: 500 replaced, 404 inherited.
        CHECK(e.error_documents.at(404).target == "/404.html");
        CHECK(e.error_documents.at(500).target == "inner");
        CHECK(from.error_documents == std::map<int, Source>{{404, "o:4"}, {500, "i:5"}});
        // Unset settings keep the default and name no source.
        CHECK(e.max_ranges == 200);
        CHECK(from.max_ranges.empty());

        Effective untraced;
        detail::merge_layer(untraced, outer, nullptr);
        detail::merge_layer(untraced, inner, nullptr);
        CHECK(untraced.options == e.options);
        CHECK(untraced.headers == e.headers);
        CHECK(untraced.error_documents == e.error_documents);
    }
}
