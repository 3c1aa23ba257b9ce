#include "conf/config.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <arpa/inet.h>

using kahttpd::conf::AccessRule;
using kahttpd::conf::builtin_module;
using kahttpd::conf::Config;
using kahttpd::conf::dump_json;
using kahttpd::conf::dump_json_text;
using kahttpd::conf::ErrorDocument;
using kahttpd::conf::HeaderRule;
using kahttpd::conf::IpNetwork;
using kahttpd::conf::load_config_text;
using kahttpd::conf::LoadResult;
using kahttpd::conf::OptionsSpec;
using kahttpd::conf::Section;
using kahttpd::conf::Setting;
using kahttpd::conf::vhost_map;
using kahttpd::conf::VirtualHost;
using nlohmann::json;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

namespace {

// Built step by step: GCC 12 reports a false -Wmaybe-uninitialized for the nested brace form.
Setting<ErrorDocument> error_doc(ErrorDocument::Kind kind, std::string target, std::string from) {
    Setting<ErrorDocument> s;
    s.value.kind = kind;
    s.value.target = std::move(target);
    s.from = std::move(from);
    return s;
}

} // namespace

namespace {

const std::string kFile = "/srv/conf/httpd.conf";

std::string at(int line) {
    return kFile + ":" + std::to_string(line);
}

IpNetwork network(const char* addr, int prefix) {
    IpNetwork n;
    if (inet_pton(AF_INET, addr, n.addr.data() + 12) == 1) {
        n.addr[10] = 0xff;
        n.addr[11] = 0xff;
        n.prefix = static_cast<std::uint8_t>(prefix + 96);
    } else {
        REQUIRE(inet_pton(AF_INET6, addr, n.addr.data()) == 1);
        n.prefix = static_cast<std::uint8_t>(prefix);
    }
    return n;
}

VirtualHost vhost(const std::string& address, VirtualHost::Address parsed, const std::string& name,
                  int line) {
    VirtualHost v;
    v.addresses = {address};
    v.parsed_addresses = {std::move(parsed)};
    v.server_name = {name, at(line)};
    v.from = at(line);
    return v;
}

/// A configuration as the loader would build it from a small httpd.conf with three vhosts,
/// sections and a few server-wide directives; line numbers are the sources.
Config sample() {
    Config c;
    c.config_file = kFile;
    c.server_root = "/srv";
    c.listen = {{"127.0.0.1", 8080, at(3)}, {"", 9090, at(4)}, {"::1", 8081, at(5)}};
    c.keep_alive_timeout = 250ms;
    c.sources["KeepAliveTimeout"] = at(6);
    c.request_read_timeout_header = 2s;
    c.request_read_timeout_body = 0ms;
    c.request_read_timeout_header_max = 0ms; // no range and no rate: "header=2s body=0s"
    c.request_read_timeout_header_min_rate = 0;
    c.request_read_timeout_body_min_rate = 0;
    c.sources["RequestReadTimeout"] = at(7);
    c.server_name = "main.example";
    c.document_root = "/srv/www";
    c.main.server_name = {"main.example", at(8)};
    c.main.document_root = {"/srv/www", at(9)};
    c.pid_file = "/run/kahttpd.pid";
    c.sources["PidFile"] = at(10);
    c.defines = {{"TEST", ""}, {"PORT", "8080"}};
    c.log_formats = {{"common", "%h %l %u %t \"%r\" %>s %b"}};
    c.custom_logs = {{"/dev/stdout", "json", at(11)}};

    c.main.base.options = Setting<OptionsSpec>{{false, OptionsSpec::kIndexes, 0}, at(12)};
    c.main.base.headers.push_back({HeaderRule::Action::set, false, "X-Main", "1", at(13)});
    Section www;
    www.match = "/srv/www";
    www.from = at(14);
    AccessRule rule;
    rule.any.push_back({AccessRule::Kind::ip, {network("10.0.0.0", 8), network("2001:db8::", 32)}});
    rule.any.push_back({AccessRule::Kind::local, {}});
    www.settings.require = Setting<AccessRule>{rule, at(15)};
    www.settings.error_documents[404] =
        error_doc(ErrorDocument::Kind::local_url, "/404.html", at(16));
    c.main.directories = {www};

    VirtualHost a = vhost("*:8080", {"", 8080}, "a.example", 20);
    a.aliases = {{"www.a.example", at(21)}};
    a.server_admin = {"admin@a.example", at(22)};
    a.document_root = {"/srv/a", at(23)};
    a.base.headers.push_back({HeaderRule::Action::unset, true, "X-Main", "", at(24)});
    Section status;
    status.match = "/status";
    status.from = at(25);
    status.settings.handler = Setting<std::string>{"server-status", at(26)};
    a.locations = {status};

    VirtualHost b = vhost("*:8080", {"", 8080}, "b.example", 30);
    b.aliases = {{"*.b.example", at(31)}};

    VirtualHost ip = vhost("127.0.0.1:9090", {"127.0.0.1", 9090}, "c.example", 40);
    c.vhosts = {a, b, ip};
    return c;
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("builtin_module knows both spellings of the built-in modules") {
        for (const char* name :
             {"core.c",           "core_module",       "http_core.c",      "http_module",
              "mod_so.c",         "so_module",         "mod_mime.c",       "mime_module",
              "mod_dir.c",        "dir_module",        "mod_headers.c",    "headers_module",
              "mod_authz_core.c", "authz_core_module", "mod_authz_host.c", "authz_host_module",
              "mod_log_config.c", "log_config_module", "mod_reqtimeout.c", "reqtimeout_module",
              "mod_status.c",     "status_module",     "mod_unixd.c",      "unixd_module",
              "event.c",          "mpm_event_module"}) {
            CAPTURE(name);
            CHECK(builtin_module(name));
        }
        for (const char* name : {"mod_autoindex.c", "autoindex_module", "mod_setenvif.c",
                                 "setenvif_module", "mod_rewrite.c",
                                 "MOD_MIME.C", "mime", "mod_mime", "", "mpm_prefork_module"}) {
            CAPTURE(name);
            CHECK_FALSE(builtin_module(name));
        }
    }

    TEST_CASE("vhost_map prints the map in the style of apachectl -S") {
        const Config c = sample();
        CHECK(vhost_map(c) == "VirtualHost configuration:\n"
                              "*:8080                 is a NameVirtualHost\n"
                              "         default server a.example (/srv/conf/httpd.conf:20)\n"
                              "         port 8080 namevhost a.example (/srv/conf/httpd.conf:20)\n"
                              "                 alias www.a.example\n"
                              "         port 8080 namevhost b.example (/srv/conf/httpd.conf:30)\n"
                              "                 wild alias *.b.example\n"
                              "127.0.0.1:9090         c.example (/srv/conf/httpd.conf:40)\n"
                              "ServerRoot: \"/srv\"\n"
                              "Main DocumentRoot: \"/srv/www\"\n"
                              "Main ErrorLog: stderr\n"
                              "PidFile: \"/run/kahttpd.pid\"\n"
                              "Define: PORT=8080\n"
                              "Define: TEST\n");
    }

    TEST_CASE("vhost_map: no vhosts, a vhost without ServerName, any port") {
        Config c;
        c.server_root = "/srv";
        c.document_root = "/srv/www";
        c.error_log = "/var/log/kahttpd/error.log";
        SUBCASE("no vhosts") {
            CHECK(vhost_map(c) == "VirtualHost configuration:\n"
                                  "ServerRoot: \"/srv\"\n"
                                  "Main DocumentRoot: \"/srv/www\"\n"
                                  "Main ErrorLog: \"/var/log/kahttpd/error.log\"\n"
                                  "PidFile: none\n");
        }
        SUBCASE("a nameless vhost shows the main server's name; port 0 prints as *") {
            c.server_name = "main.example";
            VirtualHost first = vhost("*", {"", 0}, "", 5);
            VirtualHost second = vhost("*", {"", 0}, "two.example", 9);
            c.vhosts = {first, second};
            CHECK(vhost_map(c) ==
                  "VirtualHost configuration:\n"
                  "*                      is a NameVirtualHost\n"
                  "         default server main.example (/srv/conf/httpd.conf:5)\n"
                  "         port * namevhost main.example (/srv/conf/httpd.conf:5)\n"
                  "         port * namevhost two.example (/srv/conf/httpd.conf:9)\n"
                  "ServerRoot: \"/srv\"\n"
                  "Main DocumentRoot: \"/srv/www\"\n"
                  "Main ErrorLog: \"/var/log/kahttpd/error.log\"\n"
                  "PidFile: none\n");
        }
    }

    TEST_CASE("dump_json round-trips through the JSON parser") {
        const json j = dump_json(sample());
        const json parsed = json::parse(j.dump(2));
        CHECK(parsed == j);
        CHECK(parsed["config_file"] == kFile);
        CHECK(parsed["server_root"] == "/srv");
        REQUIRE(parsed["vhosts"].size() == 4);
    }

    // kahttpd -T ended in std::terminate (nlohmann::json::type_error 316 while printing) for
    // a configuration value that is not UTF-8. Found by an earlier throwaway fuzzer, and again
    // by config_fuzzer in its first three minutes (DirectoryIndex index.h\xF4ml).
    TEST_CASE("dump_json_text writes bytes that are not UTF-8 as U+FFFD") {
        const LoadResult r = load_config_text("Listen 80\n"
                                              "DirectoryIndex index.h\xF4ml\n"
                                              "Header set X-Name \"caf\xE9 \xC3\xA9\"\n"
                                              "<Directory \"/srv/\xFF\xFE"
                                              "dir\">\n"
                                              "</Directory>\n",
                                              kFile);
        REQUIRE(r.errors.empty());
        CHECK_THROWS_AS(dump_json(r.config).dump(2), json::type_error);
        const std::string text = dump_json_text(r.config);
        const json parsed = json::parse(text);
        CHECK(text.find("caf\xEF\xBF\xBD \xC3\xA9") != std::string::npos); // valid UTF-8 kept
        CHECK(text.find("index.h\xEF\xBF\xBDml") != std::string::npos);
        CHECK(text.find("/srv/\xEF\xBF\xBD\xEF\xBF\xBD"
                        "dir") != std::string::npos);
        CHECK(parsed["vhosts"][0]["directories"][0]["path"] == "/srv/\xEF\xBF\xBD\xEF\xBF\xBD"
                                                               "dir");
    }

    TEST_CASE("dump_json: AllowEncodedSlashes per host, inherited from the main server") {
        const LoadResult r = load_config_text("Listen 80\n"
                                              "AllowEncodedSlashes NoDecode\n"
                                              "<VirtualHost *:80>\n"
                                              "AllowEncodedSlashes On\n"
                                              "</VirtualHost>\n"
                                              "<VirtualHost *:80>\n"
                                              "</VirtualHost>\n",
                                              kFile);
        REQUIRE(r.errors.empty());
        const json v = dump_json(r.config)["vhosts"];
        REQUIRE(v.size() == 3);
        CHECK(v[0]["AllowEncodedSlashes"] == json{{"value", "NoDecode"}, {"from", at(2)}});
        CHECK(v[1]["AllowEncodedSlashes"] == json{{"value", "On"}, {"from", at(4)}});
        CHECK(v[2]["AllowEncodedSlashes"] ==
              json{{"value", "NoDecode"}, {"from", at(2)}, {"inherited", true}});

        const LoadResult plain = load_config_text("Listen 80\n", kFile);
        REQUIRE(plain.errors.empty());
        CHECK(dump_json(plain.config)["vhosts"][0]["AllowEncodedSlashes"] ==
              json{{"value", "Off"}, {"from", "default"}});
    }

    TEST_CASE("dump_json: AddCharset and AddEncoding by extension, with their sources") {
        const LoadResult r = load_config_text("Listen 80\n"
                                              "AddCharset UTF-8 .utf8\n"
                                              "AddEncoding x-gzip .gz\n"
                                              "<VirtualHost *:80>\n"
                                              "AddEncoding br .br\n"
                                              "</VirtualHost>\n",
                                              kFile);
        REQUIRE(r.errors.empty());
        const json v = dump_json(r.config)["vhosts"];
        REQUIRE(v.size() == 2);
        CHECK(v[0]["base"]["AddCharset"] == json{{"utf8", {{"value", "utf-8"}, {"from", at(2)}}}});
        CHECK(v[0]["base"]["AddEncoding"] == json{{"gz", {{"value", "gzip"}, {"from", at(3)}}}});
        CHECK(v[1]["effective_at_root"]["AddEncoding"] ==
              json{{"br", {{"value", "br"}, {"from", at(5)}}},
                   {"gz", {{"value", "gzip"}, {"from", at(3)}}}});
        CHECK(v[1]["effective_at_root"]["AddCharset"]["utf8"]["from"] == at(2));
    }

    TEST_CASE("dump_json_text is dump_json indented by two spaces") {
        const Config c = sample();
        CHECK(dump_json_text(c) == dump_json(c).dump(2));
    }

    TEST_CASE("dump_json: server-wide directives with their values and sources") {
        const json s = dump_json(sample())["server"];
        CHECK(s["Listen"] == json::parse(R"([
            {"value": "127.0.0.1:8080", "from": "/srv/conf/httpd.conf:3"},
            {"value": "*:9090", "from": "/srv/conf/httpd.conf:4"},
            {"value": "[::1]:8081", "from": "/srv/conf/httpd.conf:5"}])"));
        CHECK(s["KeepAliveTimeout"] ==
              json{{"value", "250ms"}, {"value_ms", 250}, {"from", at(6)}});
        CHECK(s["KeepAlive"] == json{{"value", true}, {"from", "default"}});
        CHECK(s["Timeout"] == json{{"value", "60s"}, {"value_ms", 60000}, {"from", "default"}});
        CHECK(s["RequestReadTimeout"]["value"] == "header=2s body=0s");
        CHECK(s["RequestReadTimeout"]["header_ms"] == 2000);
        CHECK(s["RequestReadTimeout"]["body_ms"] == 0);
        CHECK(s["RequestReadTimeout"]["from"] == at(7));
        CHECK(s["MaxKeepAliveRequests"]["value"] == 100);
        CHECK(s["LimitRequestLine"]["value"] == 8190);
        CHECK(s["LimitRequestFieldSize"]["value"] == 8190);
        CHECK(s["LimitRequestFields"]["value"] == 100);
        CHECK(s["LimitRequestBody"]["value"] == 1073741824);
        CHECK(s["TypesConfig"]["value"] == "/etc/mime.types");
        CHECK(s["Workers"]["value"] == "auto");
        CHECK(s["MaxConnections"]["value"] == 0);
        CHECK(s["GracefulShutdownTimeout"]["value"] == "10s");
        CHECK(s["GracefulShutdownDelay"]["value"] == "0s");
        CHECK(s["FileCacheSize"]["value"] == 16 << 20);
        CHECK(s["FileCacheEntries"]["value"] == 4096);
        CHECK(s["FileCacheValid"]["value"] == "1s");
        CHECK(s["FileCacheValid"]["value_ms"] == 1000);
        CHECK(s["ServerTokens"]["value"] == "Full");
        CHECK(s["ServerSignature"]["value"] == "Off");
        CHECK(s["PidFile"] == json{{"value", "/run/kahttpd.pid"}, {"from", at(10)}});
        CHECK(s["ErrorLog"] == json{{"value", "stderr"}, {"from", "default"}});
        CHECK(s["LogLevel"]["value"] == "warn");
        CHECK(s["LogFormat"]["value"]["common"] == "%h %l %u %t \"%r\" %>s %b");
        CHECK(s["CustomLog"] == json::parse(R"([{"target": "/dev/stdout", "format": "json",
                                                  "from": "/srv/conf/httpd.conf:11"}])"));
        CHECK(s["Define"]["value"] == json{{"PORT", "8080"}, {"TEST", ""}});
    }

    TEST_CASE("dump_json: an empty configuration shows every default") {
        const json s = dump_json(Config{})["server"];
        for (const char* directive : {"ServerRoot",
                                      "KeepAlive",
                                      "KeepAliveTimeout",
                                      "MaxKeepAliveRequests",
                                      "Timeout",
                                      "RequestReadTimeout",
                                      "LimitRequestLine",
                                      "LimitRequestFieldSize",
                                      "LimitRequestFields",
                                      "LimitRequestBody",
                                      "TypesConfig",
                                      "Workers",
                                      "MaxConnections",
                                      "GracefulShutdownTimeout",
                                      "GracefulShutdownDelay",
                                      "FileCacheSize",
                                      "FileCacheEntries",
                                      "FileCacheValid",
                                      "ServerTokens",
                                      "ServerSignature",
                                      "PidFile",
                                      "ErrorLog",
                                      "LogLevel",
                                      "LogFormat",
                                      "Define"}) {
            CAPTURE(directive);
            REQUIRE(s.contains(directive));
            CHECK(s[directive]["from"] == "default");
        }
        CHECK(s["Listen"] == json::array());
        CHECK(s["CustomLog"] == json::array());
        CHECK(s["PidFile"]["value"].is_null());
    }

    TEST_CASE("dump_json: the main server first, with its sections and effective values") {
        const json m = dump_json(sample())["vhosts"][0];
        CHECK(m["name"] == "main server");
        CHECK_FALSE(m.contains("addresses"));
        CHECK(m["ServerName"] == json{{"value", "main.example"}, {"from", at(8)}});
        CHECK(m["ServerAdmin"] == json{{"value", nullptr}, {"from", "default"}});
        CHECK(m["DocumentRoot"] == json{{"value", "/srv/www"}, {"from", at(9)}});
        // "base" holds only what is set at that level.
        CHECK(m["base"] == json::parse(R"({
            "Options": {"value": "+Indexes", "from": "/srv/conf/httpd.conf:12"},
            "Header": [{"action": "set", "always": false, "name": "X-Main", "value": "1",
                        "from": "/srv/conf/httpd.conf:13"}]})"));
        REQUIRE(m["directories"].size() == 1);
        const json& d = m["directories"][0];
        CHECK(d["path"] == "/srv/www");
        CHECK(d["from"] == at(14));
        CHECK(d["settings"]["Require"] ==
              json{{"value", json::array({"ip 10.0.0.0/8 2001:db8::/32", "local"})},
                   {"from", at(15)}});
        CHECK(d["settings"]["ErrorDocument"]["404"] ==
              json{{"value", "/404.html"}, {"kind", "local_url"}, {"from", at(16)}});
        CHECK(m["locations"] == json::array());

        // Effective at DocumentRoot: every directive, set or default, with its source.
        const json& e = m["effective_at_root"];
        CHECK(e["Options"] == json{{"value", "Indexes FollowSymLinks"}, {"from", at(12)}});
        CHECK(e["Require"]["from"] == at(15));
        CHECK(e["ErrorDocument"]["404"]["from"] == at(16));
        CHECK(e["DirectoryIndex"] ==
              json{{"value", json::array({"index.html"})}, {"from", "default"}});
        CHECK(e["SetHandler"] == json{{"value", "none"}, {"from", "default"}});
        CHECK(e["AddDefaultCharset"] == json{{"value", "Off"}, {"from", "default"}});
        CHECK(e["FileETag"] == json{{"value", "MTime Size"}, {"from", "default"}});
        CHECK(e["EnableSendfile"] == json{{"value", true}, {"from", "default"}});
        CHECK(e["LimitRequestBody"] == json{{"value", 1073741824}, {"from", "default"}});
        CHECK(e["AddType"] == json::object());
        CHECK(e["Header"].size() == 1);
    }

    TEST_CASE("dump_json: each vhost with addresses, names, sections and sources") {
        const json v = dump_json(sample())["vhosts"];
        const json& a = v[1];
        CHECK(a["name"] == "<VirtualHost *:8080>");
        CHECK(a["from"] == at(20));
        CHECK(a["addresses"] == json::array({"*:8080"}));
        CHECK(a["ServerName"] == json{{"value", "a.example"}, {"from", at(20)}});
        CHECK(a["ServerAlias"] == json::parse(R"([{"value": "www.a.example",
                                                    "from": "/srv/conf/httpd.conf:21"}])"));
        CHECK(a["ServerAdmin"]["value"] == "admin@a.example");
        CHECK(a["DocumentRoot"] == json{{"value", "/srv/a"}, {"from", at(23)}});
        CHECK(a["base"]["Header"][0]["action"] == "unset");
        CHECK_FALSE(a["base"]["Header"][0].contains("value"));
        CHECK(a["locations"][0]["path"] == "/status");
        CHECK(a["locations"][0]["settings"]["SetHandler"] ==
              json{{"value", "server-status"}, {"from", at(26)}});
        // /srv/a is outside the main server's <Directory /srv/www>; the <Location /status>
        // does not apply at "/"; headers list the main server's first.
        const json& e = a["effective_at_root"];
        CHECK(e["Require"] == json{{"value", json::array({"all granted"})}, {"from", "default"}});
        CHECK(e["SetHandler"]["value"] == "none");
        REQUIRE(e["Header"].size() == 2);
        CHECK(e["Header"][0]["from"] == at(13));
        CHECK(e["Header"][1]["from"] == at(24));

        SUBCASE("a vhost without DocumentRoot inherits the main server's") {
            const json& b = v[2];
            CHECK(b["DocumentRoot"] ==
                  json{{"value", "/srv/www"}, {"from", at(9)}, {"inherited", true}});
            CHECK(b["effective_at_root"]["Require"]["from"] == at(15));
            CHECK(b["ServerAlias"][0]["value"] == "*.b.example");
        }
        SUBCASE("an address with an IP") {
            CHECK(v[3]["addresses"] == json::array({"127.0.0.1:9090"}));
            CHECK(v[3]["ServerName"]["value"] == "c.example");
        }
    }

    TEST_CASE("dump_json: each vhost's logs, its own or the main server's marked inherited") {
        Config c = sample();
        c.error_log = "/var/log/main_error.log";
        c.sources["ErrorLog"] = at(16);
        VirtualHost& a = c.vhosts[0];
        a.custom_logs = {{"/var/log/a.log", "%v %>s", at(27)}, {"/var/log/a.json", "json", at(28)}};
        a.error_log = {"/var/log/a_error.log", at(29)};
        a.log_level = Setting<Config::LogLevel>{Config::LogLevel::debug, at(30)};
        const json v = dump_json(c)["vhosts"];

        const json& m = v[0]; // the main server: the server-wide values, not inherited
        CHECK(m["ErrorLog"] == json{{"value", "/var/log/main_error.log"}, {"from", at(16)}});
        CHECK(m["LogLevel"] == json{{"value", "warn"}, {"from", "default"}});
        CHECK(m["CustomLog"] == json::parse(R"([{"target": "/dev/stdout", "format": "json",
                                                  "from": "/srv/conf/httpd.conf:11"}])"));

        const json& own = v[1];
        CHECK(own["ErrorLog"] == json{{"value", "/var/log/a_error.log"}, {"from", at(29)}});
        CHECK(own["LogLevel"] == json{{"value", "debug"}, {"from", at(30)}});
        CHECK(own["CustomLog"] == json::parse(R"([
            {"target": "/var/log/a.log", "format": "%v %>s", "from": "/srv/conf/httpd.conf:27"},
            {"target": "/var/log/a.json", "format": "json", "from": "/srv/conf/httpd.conf:28"}])"));

        const json& inherits = v[2];
        CHECK(inherits["ErrorLog"] ==
              json{{"value", "/var/log/main_error.log"}, {"from", at(16)}, {"inherited", true}});
        CHECK(inherits["LogLevel"] ==
              json{{"value", "warn"}, {"from", "default"}, {"inherited", true}});
        CHECK(inherits["CustomLog"] == json::parse(R"([{"target": "/dev/stdout", "format": "json",
                                                        "from": "/srv/conf/httpd.conf:11",
                                                        "inherited": true}])"));
    }

    TEST_CASE("vhost_map lists the logs a vhost has of its own under it") {
        Config c = sample();
        c.vhosts[0].error_log = {"/var/log/a_error.log", at(29)};
        c.vhosts[0].custom_logs = {{"/var/log/a.log", "common", at(27)}};
        c.vhosts[2].log_level = Setting<Config::LogLevel>{Config::LogLevel::info, at(41)};
        CHECK(vhost_map(c) == "VirtualHost configuration:\n"
                              "*:8080                 is a NameVirtualHost\n"
                              "         default server a.example (/srv/conf/httpd.conf:20)\n"
                              "         port 8080 namevhost a.example (/srv/conf/httpd.conf:20)\n"
                              "                 alias www.a.example\n"
                              "                 ErrorLog: \"/var/log/a_error.log\"\n"
                              "                 CustomLog: \"/var/log/a.log\"\n"
                              "         port 8080 namevhost b.example (/srv/conf/httpd.conf:30)\n"
                              "                 wild alias *.b.example\n"
                              "127.0.0.1:9090         c.example (/srv/conf/httpd.conf:40)\n"
                              "                 LogLevel: info\n"
                              "ServerRoot: \"/srv\"\n"
                              "Main DocumentRoot: \"/srv/www\"\n"
                              "Main ErrorLog: stderr\n"
                              "PidFile: \"/run/kahttpd.pid\"\n"
                              "Define: PORT=8080\n"
                              "Define: TEST\n");
    }

    TEST_CASE("dump_json: effective_at_root agrees with VirtualHost::effective") {
        const Config c = sample();
        const json dump = dump_json(c)["vhosts"];
        std::vector<const VirtualHost*> hosts{&c.main};
        for (const VirtualHost& v : c.vhosts) {
            hosts.push_back(&v);
        }
        for (std::size_t i = 0; i < hosts.size(); ++i) {
            CAPTURE(i);
            const VirtualHost& v = *hosts[i];
            const std::string root =
                (v.document_root.value.empty() ? c.main.document_root.value : v.document_root.value)
                    .string();
            const auto e = v.effective(c.main, root, "/");
            const json& j = dump[i]["effective_at_root"];
            CHECK(j["DirectoryIndex"]["value"] == e.directory_index);
            CHECK(j["Header"].size() == e.headers.size());
            CHECK(j["ErrorDocument"].size() == e.error_documents.size());
            CHECK(j["Require"]["value"].size() == std::max<std::size_t>(1, e.require.any.size()));
            CHECK(j["LimitRequestBody"]["value"] == e.limit_request_body);
            CHECK(j["EnableSendfile"]["value"] == e.enable_sendfile);
        }
    }

    TEST_CASE("dump_json: IP networks print as written") {
        Config c;
        AccessRule rule;
        IpNetwork host = network("192.0.2.7", 32);
        IpNetwork six = network("::1", 128);
        IpNetwork all;
        all.prefix = 0;
        rule.any.push_back({AccessRule::Kind::ip, {host, six, network("2001:db8::", 48), all}});
        rule.any.push_back({AccessRule::Kind::all_denied, {}});
        c.main.base.require = Setting<AccessRule>{rule, at(1)};
        CHECK(dump_json(c)["vhosts"][0]["base"]["Require"]["value"] ==
              json::array({"ip 192.0.2.7 ::1 2001:db8::/48 ::/0", "all denied"}));
    }

    TEST_CASE("dump_json: Options, FileETag and charset spellings") {
        Config c;
        c.main.base.options = Setting<OptionsSpec>{{true, 0, 0}, at(1)};
        c.main.base.file_etag = Setting<kahttpd::conf::FileETagSpec>{{0}, at(2)};
        c.main.base.default_charset = Setting<std::string>{"utf-8", at(3)};
        Section s;
        s.match = "/";
        s.settings.options = Setting<OptionsSpec>{
            {false, OptionsSpec::kIndexes, OptionsSpec::kSymLinksIfOwnerMatch}, at(4)};
        s.settings.file_etag = Setting<kahttpd::conf::FileETagSpec>{{7}, at(5)};
        c.main.directories = {s};
        c.main.document_root = {"/srv/www", ""};
        const json m = dump_json(c)["vhosts"][0];
        CHECK(m["base"]["Options"]["value"] == "None");
        CHECK(m["base"]["FileETag"]["value"] == "None");
        CHECK(m["base"]["AddDefaultCharset"]["value"] == "utf-8");
        CHECK(m["directories"][0]["settings"]["Options"]["value"] ==
              "+Indexes -SymLinksIfOwnerMatch");
        CHECK(m["effective_at_root"]["Options"] == json{{"value", "Indexes"}, {"from", at(4)}});
        CHECK(m["effective_at_root"]["FileETag"] ==
              json{{"value", "INode MTime Size"}, {"from", at(5)}});
    }
}
