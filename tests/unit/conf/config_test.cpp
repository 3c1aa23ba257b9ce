#include "conf/config.hpp"

#include "tests/unit/conf/load_helpers.hpp"
#include "tests/unit/conf/temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kahttpd::conf::Config;
using kahttpd::conf::ConfigError;
using kahttpd::conf::load_config;
using kahttpd::conf::load_config_text;
using kahttpd::conf::LoadResult;
using kahttpd::conf::test::TempDir;
using Strings = std::vector<std::string>;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using kahttpd::conf::test::kName;
using kahttpd::conf::test::load;
using kahttpd::conf::test::messages;

namespace {} // namespace

TEST_SUITE("conf") {

    TEST_CASE("a config with only Listen gets every default") {
        const LoadResult r = load("");
        REQUIRE(r.errors.empty());
        CHECK(r.warnings.empty());
        const Config& c = r.config;
        CHECK(c.config_file == kName);
        CHECK(c.server_root == "/srv/site");
        REQUIRE(c.listen.size() == 1);
        CHECK(c.listen[0].host.empty());
        CHECK(c.listen[0].port == 8080);
        CHECK(c.listen[0].where == kFile + ":1");
        CHECK(c.server_name.empty());
        CHECK(c.document_root == "/srv/site/www");
        CHECK(c.directory_index == Strings{"index.html"});
        CHECK(c.keep_alive);
        CHECK(c.keep_alive_timeout == 5s);
        CHECK(c.max_keep_alive_requests == 100);
        CHECK(c.timeout == 60s);
        CHECK(c.request_read_timeout_header == 20s);
        CHECK(c.request_read_timeout_body == 20s);
        CHECK(c.limit_request_line == 8190);
        CHECK(c.limit_request_field_size == 8190);
        CHECK(c.limit_request_fields == 100);
        CHECK(c.limit_request_body == 1073741824);
        CHECK(c.types_config == "/etc/mime.types");
        CHECK(c.workers == 0);
        SUBCASE("and the directives beyond the core") {
            CHECK(c.vhosts.empty());
            CHECK(c.main.from.empty());
            CHECK(c.main.addresses.empty());
            CHECK(c.main.document_root.value == "/srv/site/www");
            CHECK(c.main.document_root.from.empty());
            CHECK(c.main.server_name.value.empty());
            CHECK(c.main.aliases.empty());
            CHECK(c.main.directories.empty());
            CHECK(c.main.locations.empty());
            CHECK_FALSE(c.main.base.options);
            CHECK_FALSE(c.main.base.directory_index);
            CHECK_FALSE(c.main.base.require);
            CHECK(c.main.base.headers.empty());
            CHECK(c.server_tokens == Config::ServerTokens::full);
            CHECK(c.server_signature == Config::ServerSignature::off);
            CHECK(c.pid_file.empty());
            CHECK(c.error_log.empty());
            CHECK(c.log_level == Config::LogLevel::warn);
            CHECK(c.log_formats.size() == 2);
            CHECK(c.log_formats.at("common") == "%h %l %u %t \"%r\" %>s %b");
            CHECK(c.log_formats.at("combined") ==
                  "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"");
            CHECK(c.custom_logs.empty());
            CHECK(c.max_connections == 0);
            CHECK(c.graceful_shutdown_timeout == 10s);
            CHECK(c.defines.empty());
            CHECK(c.sources == std::map<std::string, std::string>{{"Listen", kFile + ":1"}});
        }
    }

    TEST_CASE("a config error prints as FILE:LINE: Directive: message") {
        CHECK(ConfigError{"a.conf", 12, "KeepAliveTimeout", "expected x, found y"}.to_string() ==
              "a.conf:12: KeepAliveTimeout: expected x, found y");
        SUBCASE("line 0 and an empty directive are left out") {
            CHECK(ConfigError{"a.conf", 0, "Listen", "m"}.to_string() == "a.conf: Listen: m");
            CHECK(ConfigError{"a.conf", 3, "", "m"}.to_string() == "a.conf:3: m");
        }
    }

    TEST_CASE("a config without Listen is an error at the main file") {
        const LoadResult r = load_config_text("KeepAlive On\n", kName);
        CHECK(messages(r.errors) ==
              Strings{kFile + ": Listen: expected at least one Listen directive, found none"});
    }

    TEST_CASE("directive names are case-insensitive and messages keep their spelling") {
        const Config c = config_of("keepalivetimeout 7\nKEEPALIVE off\nlisten 9090\n");
        CHECK(c.keep_alive_timeout == 7s);
        CHECK_FALSE(c.keep_alive);
        CHECK(c.listen.size() == 2);
        CHECK(error_of("kEePaLiVe maybe") ==
              kFile + ":2: kEePaLiVe: expected On or Off, found \"maybe\"");
    }

    TEST_CASE("a wrong number of arguments is an error") {
        SUBCASE("none") {
            CHECK(error_of("KeepAlive") ==
                  kFile + ":2: KeepAlive: expected one argument, found none");
        }
        SUBCASE("too many") {
            CHECK(error_of("Timeout 1 2") == kFile + ":2: Timeout: expected one argument, found 2");
        }
        SUBCASE("a quoted argument with a blank counts once") {
            CHECK(error_of("DocumentRoot /a b") ==
                  kFile + ":2: DocumentRoot: expected one argument, found 2");
            CHECK(config_of("DocumentRoot \"/a b\"").document_root == "/a b");
        }
    }

    TEST_CASE("Listen takes [addr:]port with IP address literals") {
        struct Case {
            std::string arg;
            std::string host;
            std::uint16_t port;
        };
        for (const Case& k :
             {Case{"8080", "", 8080}, Case{"127.0.0.1:80", "127.0.0.1", 80},
              Case{"0.0.0.0:65535", "0.0.0.0", 65535}, Case{"[::1]:8443", "::1", 8443},
              Case{"[0:0::1]:1", "::1", 1}, Case{"[::]:80", "::", 80}, Case{"*:80", "", 80},
              Case{"0", "", 0}, Case{"127.0.0.1:0", "127.0.0.1", 0}}) {
            CAPTURE(k.arg);
            const LoadResult r = load_config_text("# comment\nListen " + k.arg + "\n", kName);
            REQUIRE(r.errors.empty());
            REQUIRE(r.config.listen.size() == 1);
            CHECK(r.config.listen[0].host == k.host);
            CHECK(r.config.listen[0].port == k.port);
            CHECK(r.config.listen[0].where == kFile + ":2");
        }
        SUBCASE("several addresses, and the protocol http") {
            const Config c = config_of("Listen [::1]:8080 http\nListen 127.0.0.1:8080 HTTP\n");
            CHECK(c.listen.size() == 3);
        }
        SUBCASE("port 0 may repeat: each gets its own ephemeral port") {
            CHECK(config_of("Listen 0\nListen 0\n").listen.size() == 3);
        }
    }

    TEST_CASE("Listen rejects what it cannot bind") {
        const std::string at = kFile + ":2: Listen: ";
        SUBCASE("a host name") {
            CHECK(error_of("Listen localhost:80") ==
                  at + "expected an IP address literal (kahttpd does not resolve host names), "
                       "found \"localhost\"");
        }
        SUBCASE("a name without a port") {
            CHECK(error_of("Listen localhost") == at + "expected [addr:]port, found \"localhost\"");
        }
        SUBCASE("an IPv6 address without brackets") {
            CHECK(error_of("Listen ::1:80") ==
                  at + "expected an IPv6 address in brackets as in [::1]:8080, found \"::1:80\"");
        }
        SUBCASE("brackets without a port") {
            CHECK(error_of("Listen [::1]") ==
                  at + "expected [IPv6 address]:port as in [::1]:8080, found \"[::1]\"");
        }
        SUBCASE("brackets around something else") {
            CHECK(error_of("Listen [1.2.3.4]:80") ==
                  at + "expected an IPv6 address literal in brackets, found \"[1.2.3.4]:80\"");
        }
        SUBCASE("a bad IPv4 address") {
            CHECK(error_of("Listen 1.2.3.256:80") ==
                  at + "expected an IP address literal (kahttpd does not resolve host names), "
                       "found \"1.2.3.256\"");
        }
        SUBCASE("ports out of range or not numbers") {
            CHECK(error_of("Listen 65536") ==
                  at + "expected a port from 0 to 65535, found \"65536\"");
            CHECK(error_of("Listen 127.0.0.1:http") ==
                  at + "expected a port from 0 to 65535, found \"http\"");
            CHECK(error_of("Listen 127.0.0.1:") ==
                  at + "expected a port from 0 to 65535, found \"\"");
            CHECK(error_of("Listen -1") == at + "expected [addr:]port, found \"-1\"");
            CHECK(error_of("Listen [::1]:99999999999999999999999") ==
                  at + "expected a port from 0 to 65535, found \"99999999999999999999999\"");
        }
        SUBCASE("a protocol other than http or https") {
            CHECK(error_of("Listen 443 ftp") ==
                  at + "expected the protocol http or https, found \"ftp\"");
            CHECK(error_of("Listen 443 https") ==
                  at + "expected an SSLCertificateFile for the main server, which answers on "
                       "this https address, found none");
        }
        SUBCASE("argument count") {
            CHECK(error_of("Listen") == at + "expected [addr:]port, found none");
            CHECK(error_of("Listen 1 http x") ==
                  at + "expected [addr:]port and an optional protocol, found 3 arguments");
        }
        SUBCASE("the same address twice") {
            const LoadResult r = load("Listen 127.0.0.1:80\nListen 127.0.0.1:80\nListen 8080\n");
            CHECK(messages(r.errors) ==
                  Strings{kFile +
                              ":3: Listen: expected each address once, found \"127.0.0.1:80\" "
                              "again (first at " +
                              kFile + ":2)",
                          kFile +
                              ":4: Listen: expected each address once, found \"8080\" again "
                              "(first at " +
                              kFile + ":1)"});
            CHECK(r.config.listen.size() == 2);
        }
        SUBCASE("the same IPv6 address written two ways") {
            CHECK(error_of("Listen [0::1]:8080\nListen [::1]:8080")
                      .find(":3: Listen: expected each address once, found \"[::1]:8080\" again") !=
                  std::string::npos);
        }
    }

    TEST_CASE("ServerName is stored in lower case without its port, in main and the old field") {
        const Config c = config_of("ServerName WWW.Example.com.:80");
        CHECK(c.server_name == "www.example.com");
        CHECK(c.main.server_name.value == "www.example.com");
        CHECK(c.main.server_name.from == kFile + ":2");
        CHECK(error_of("ServerName \"\"") ==
              kFile + ":2: ServerName: expected a host name, found \"\"");
    }

    TEST_CASE("DocumentRoot resolves against ServerRoot and is normalised") {
        SUBCASE("relative") {
            CHECK(config_of("DocumentRoot htdocs/").document_root == "/srv/site/htdocs");
        }
        SUBCASE("relative with dots") {
            CHECK(config_of("DocumentRoot ./a/../b/./c//").document_root == "/srv/site/b/c");
        }
        SUBCASE("absolute") {
            CHECK(config_of("DocumentRoot /var/www/../www/html/").document_root == "/var/www/html");
        }
        SUBCASE("quoted, with a blank and UTF-8") {
            CHECK(config_of("DocumentRoot \"/srv/caf\xc3\xa9 site\"").document_root ==
                  "/srv/caf\xc3\xa9 site");
        }
        SUBCASE("the root itself") {
            CHECK(config_of("DocumentRoot /").document_root == "/");
        }
        SUBCASE("empty") {
            CHECK(error_of("DocumentRoot \"\"") ==
                  kFile + ":2: DocumentRoot: expected a directory, found \"\"");
        }
    }

    TEST_CASE("DocumentRoot that does not exist is a warning, a file is an error") {
        const TempDir tmp;
        const fs::path conf = tmp.path() / "conf/httpd.conf";
        tmp.write("site.txt", "x");
        tmp.mkdir("www");
        SUBCASE("existing folder") {
            const LoadResult r = load_config_text("Listen 80\nDocumentRoot www\n", conf);
            CHECK(r.errors.empty());
            CHECK(r.warnings.empty());
            CHECK(r.config.document_root == tmp.path() / "www");
        }
        SUBCASE("missing") {
            const LoadResult r = load_config_text("Listen 80\nDocumentRoot nope\n", conf);
            CHECK(r.errors.empty());
            CHECK(messages(r.warnings) ==
                  Strings{conf.string() +
                          ":2: DocumentRoot: expected an existing directory, found nothing at \"" +
                          (tmp.path() / "nope").string() + "\""});
        }
        SUBCASE("a file") {
            const LoadResult r = load_config_text("Listen 80\nDocumentRoot site.txt\n", conf);
            CHECK(messages(r.errors) ==
                  Strings{conf.string() +
                          ":2: DocumentRoot: expected a directory, found a file at \"" +
                          (tmp.path() / "site.txt").string() + "\""});
        }
    }

    TEST_CASE("ServerRoot defaults to the folder above the config file") {
        SUBCASE("from load_config_text's name") {
            const LoadResult r = load_config_text("Listen 80\n", "/etc/kahttpd/conf/main.conf");
            CHECK(r.config.server_root == "/etc/kahttpd");
            CHECK(r.config.document_root == "/etc/kahttpd/www");
        }
        SUBCASE("from a relative -f path") {
            const TempDir tmp;
            const fs::path old = fs::current_path();
            tmp.write("conf/httpd.conf", "Listen 80\nDocumentRoot www\nListen nope\n");
            tmp.mkdir("www");
            fs::current_path(tmp.path());
            const LoadResult r = load_config("conf/httpd.conf");
            fs::current_path(old);
            CHECK(r.config.config_file == tmp.path() / "conf/httpd.conf");
            CHECK(r.config.server_root == tmp.path());
            CHECK(r.config.document_root == tmp.path() / "www");
            // Messages name the file as it was given.
            CHECK(messages(r.errors) ==
                  Strings{"conf/httpd.conf:3: Listen: expected [addr:]port, found \"nope\""});
        }
    }

    TEST_CASE("ServerRoot changes what later relative paths resolve against") {
        const TempDir tmp;
        const fs::path root = tmp.mkdir("root");
        tmp.mkdir("root/www");
        tmp.write("root/mime.types", "text/html html\n");
        const fs::path conf = tmp.path() / "etc/conf/httpd.conf";

        SUBCASE("absolute ServerRoot first") {
            const LoadResult r = load_config_text(
                "ServerRoot \"" + root.string() + "/\"\nListen 80\nTypesConfig mime.types\n", conf);
            CHECK(r.errors.empty());
            CHECK(r.warnings.empty());
            CHECK(r.config.server_root == root);
            CHECK(r.config.types_config == root / "mime.types");
            // The default DocumentRoot follows the final ServerRoot.
            CHECK(r.config.document_root == root / "www");
        }
        SUBCASE("relative ServerRoot is taken against the default one") {
            const LoadResult r = load_config_text("ServerRoot ../root\nListen 80\n", conf);
            CHECK(r.errors.empty());
            CHECK(r.config.server_root == root);
        }
        SUBCASE("paths read before ServerRoot keep the old root, with a warning") {
            const LoadResult r = load_config_text("Listen 80\nDocumentRoot www\nServerRoot " +
                                                      root.string() + "\nTypesConfig mime.types\n",
                                                  conf);
            CHECK(r.errors.empty());
            CHECK(r.config.document_root == tmp.path() / "etc/www");
            CHECK(r.config.types_config == root / "mime.types");
            REQUIRE(r.warnings.size() == 2);
            CHECK(r.warnings[1].to_string() ==
                  conf.string() +
                      ":3: ServerRoot: expected before any relative path, found after "
                      "DocumentRoot at " +
                      conf.string() + ":2, which was resolved against the previous ServerRoot");
        }
        SUBCASE("a ServerRoot that does not exist") {
            CHECK(messages(load_config_text("ServerRoot /nonexistent/kahttpd\nListen 80\n", conf)
                               .errors) ==
                  Strings{conf.string() + ":1: ServerRoot: expected an existing directory, "
                                          "found nothing at \"/nonexistent/kahttpd\""});
        }
        SUBCASE("a ServerRoot that is a file") {
            CHECK(messages(load_config_text("ServerRoot root/mime.types\nListen 80\n",
                                            tmp.path() / "conf/httpd.conf")
                               .errors) ==
                  Strings{(tmp.path() / "conf/httpd.conf").string() +
                          ":1: ServerRoot: expected a directory, found a file at \"" +
                          (root / "mime.types").string() + "\""});
        }
    }

    TEST_CASE("DirectoryIndex takes file names") {
        SUBCASE("one or more names replace the default") {
            CHECK(config_of("DirectoryIndex index.htm default.html").directory_index ==
                  Strings{"index.htm", "default.html"});
        }
        SUBCASE("several directives add to the list, as in Apache 2.4") {
            CHECK(
                config_of("DirectoryIndex a.html\nDirectoryIndex b.html c.html").directory_index ==
                Strings{"a.html", "b.html", "c.html"});
        }
        SUBCASE("disabled empties the list") {
            CHECK(config_of("DirectoryIndex Disabled").directory_index.empty());
        }
        SUBCASE("disabled with other names") {
            CHECK(error_of("DirectoryIndex index.html disabled") ==
                  kFile +
                      ":2: DirectoryIndex: expected \"disabled\" alone, found it with other names");
        }
        SUBCASE("a URL path") {
            CHECK(error_of("DirectoryIndex /cgi-bin/index.pl") ==
                  kFile + ":2: DirectoryIndex: expected a file name without \"/\", found "
                          "\"/cgi-bin/index.pl\"");
        }
        SUBCASE("no names") {
            CHECK(error_of("DirectoryIndex") ==
                  kFile + ":2: DirectoryIndex: expected one or more file names, found none");
        }
    }

    TEST_CASE("KeepAlive takes On or Off in any case") {
        CHECK(config_of("KeepAlive Off").keep_alive == false);
        CHECK(config_of("KeepAlive OFF").keep_alive == false);
        CHECK(config_of("KeepAlive off\nKeepAlive on").keep_alive == true);
        CHECK(error_of("KeepAlive yes") ==
              kFile + ":2: KeepAlive: expected On or Off, found \"yes\"");
        CHECK(error_of("KeepAlive \"\"") ==
              kFile + ":2: KeepAlive: expected On or Off, found \"\"");
    }

    TEST_CASE("durations are seconds, or ms, s, m or h, from 1ms to 1h") {
        const auto value = [](const std::string& name, const std::string& arg) {
            const Config c = config_of(name + " " + arg);
            return name == "Timeout" ? c.timeout : c.keep_alive_timeout;
        };
        const Strings names{"KeepAliveTimeout", "Timeout"};
        SUBCASE("valid forms") {
            for (const std::string& name : names) {
                CAPTURE(name);
                CHECK(value(name, "5") == 5s);
                CHECK(value(name, "200ms") == 200ms);
                CHECK(value(name, "200MS") == 200ms);
                CHECK(value(name, "2s") == 2s);
                CHECK(value(name, "1ms") == 1ms);
                CHECK(value(name, "3600") == 1h);
                CHECK(value(name, "3600000ms") == 1h);
                CHECK(value(name, "007") == 7s);
                CHECK(value(name, "5m") == 5min);
                CHECK(value(name, "60m") == 1h);
                CHECK(value(name, "1h") == 1h);
                CHECK(value(name, "1H") == 1h);
            }
        }
        SUBCASE("junk") {
            for (const std::string& name : names) {
                for (const std::string& arg :
                     Strings{"abc", "10x", "-1", "", "1.5", "5 ms", "ms", "+5", "5sec", "m", "h",
                             "1h30m", "5mm", "1d", "1M"}) {
                    CAPTURE(name);
                    CAPTURE(arg);
                    CHECK(error_of(name + " \"" + arg + "\"") ==
                          kFile + ":2: " + name + ": expected a duration (30, 30s, 500ms, 5m, 1h), found \"" + arg +
                              "\"");
                }
            }
        }
        SUBCASE("out of range") {
            for (const std::string& name : names) {
                for (const std::string& arg :
                     Strings{"0", "0ms", "3601", "3600001ms", "99999999999999999999", "61m", "2h",
                             "0h", "99999999999999999h"}) {
                    CAPTURE(name);
                    CAPTURE(arg);
                    CHECK(error_of(name + " " + arg) ==
                          kFile + ":2: " + name + ": expected a duration from 1ms to 1h, found \"" +
                              arg + "\"");
                }
            }
        }
    }

    TEST_CASE("MaxKeepAliveRequests takes 0 (unlimited) to 2^32-1") {
        CHECK(config_of("MaxKeepAliveRequests 0").max_keep_alive_requests == 0);
        CHECK(config_of("MaxKeepAliveRequests 4294967295").max_keep_alive_requests == 4294967295u);
        for (const std::string& arg : Strings{"-1", "4294967296", "10x", "1e3", "unlimited"}) {
            CAPTURE(arg);
            CHECK(
                error_of("MaxKeepAliveRequests " + arg) ==
                kFile +
                    ":2: MaxKeepAliveRequests: expected an integer from 0 to 4294967295, found \"" +
                    arg + "\"");
        }
    }

    TEST_CASE("RequestReadTimeout takes header= and body=") {
        const std::string at = kFile + ":2: RequestReadTimeout: ";
        SUBCASE("both, in seconds and milliseconds") {
            const Config c = config_of("RequestReadTimeout header=10 body=250ms");
            CHECK(c.request_read_timeout_header == 10s);
            CHECK(c.request_read_timeout_body == 250ms);
        }
        SUBCASE("keys in any case, one at a time") {
            const Config c = config_of("RequestReadTimeout Header=5s");
            CHECK(c.request_read_timeout_header == 5s);
            CHECK(c.request_read_timeout_body == 20s);
        }
        SUBCASE("0 disables") {
            const Config c = config_of("RequestReadTimeout header=0 body=0");
            CHECK(c.request_read_timeout_header == 0ms);
            CHECK(c.request_read_timeout_body == 0ms);
        }
        SUBCASE("Apache's defaults: header=20-40,MinRate=500 body=20,MinRate=500") {
            const Config c = config_of("");
            CHECK(c.request_read_timeout_header == 20s);
            CHECK(c.request_read_timeout_header_max == 40s);
            CHECK(c.request_read_timeout_header_min_rate == 500);
            CHECK(c.request_read_timeout_body == 20s);
            CHECK(c.request_read_timeout_body_max == 0ms);
            CHECK(c.request_read_timeout_body_min_rate == 500);
        }
        SUBCASE("Apache's ranges and MinRate") {
            const Config c = config_of(
                "RequestReadTimeout handshake=5 header=10-30,MinRate=1000 body=15,minrate=250");
            CHECK(c.request_read_timeout_handshake == 5s);
            CHECK(c.request_read_timeout_header == 10s);
            CHECK(c.request_read_timeout_header_max == 30s);
            CHECK(c.request_read_timeout_header_min_rate == 1000);
            CHECK(c.request_read_timeout_body == 15s);
            CHECK(c.request_read_timeout_body_max == 0ms);
            CHECK(c.request_read_timeout_body_min_rate == 250);
        }
        SUBCASE("naming a type replaces its defaults: no range, no rate unless given") {
            const Config c = config_of("RequestReadTimeout header=5");
            CHECK(c.request_read_timeout_header_max == 0ms);
            CHECK(c.request_read_timeout_header_min_rate == 0);
            CHECK(c.request_read_timeout_body_min_rate == 500); // body= untouched
        }
        SUBCASE("bad ranges and rates") {
            const std::string form =
                "expected <type>=<seconds>[-<max seconds>][,MinRate=<bytes/s>] (type: "
                "handshake, header, body), found ";
            CHECK(error_of("RequestReadTimeout header=20,MinRate=0") ==
                  at + "expected header=<seconds>[,MinRate=<bytes/s>] with a rate from 1, found "
                       "\"header=20,MinRate=0\"");
            CHECK(error_of("RequestReadTimeout body=20,Rate=5") ==
                  at + "expected body=<seconds>[,MinRate=<bytes/s>] with a rate from 1, found "
                       "\"body=20,Rate=5\"");
            CHECK(error_of("RequestReadTimeout header=20-x") ==
                  at + "expected header=<seconds>-<max seconds>, found \"header=20-x\"");
            CHECK(error_of("RequestReadTimeout header=20-10") ==
                  at + "expected the maximum of header= to be at least its timeout, found "
                       "\"header=20-10\"");
            CHECK(error_of("RequestReadTimeout MinRate=500") == at + form + "\"MinRate=500\"");
        }
        SUBCASE("unknown keys and missing =") {
            const std::string form =
                "expected <type>=<seconds>[-<max seconds>][,MinRate=<bytes/s>] (type: "
                "handshake, header, body), found ";
            CHECK(error_of("RequestReadTimeout head=5") == at + form + "\"head=5\"");
            CHECK(error_of("RequestReadTimeout 20") == at + form + "\"20\"");
        }
        SUBCASE("bad values") {
            CHECK(error_of("RequestReadTimeout header=abc") ==
                  at + "expected header=0 (disabled) or a duration from 1ms to 1h, found "
                       "\"header=abc\"");
            CHECK(error_of("RequestReadTimeout body=") ==
                  at + "expected body=0 (disabled) or a duration from 1ms to 1h, found "
                       "\"body=\"");
            CHECK(error_of("RequestReadTimeout header=3601") ==
                  at + "expected header=0 (disabled) or a duration from 1ms to 1h, found "
                       "\"header=3601\"");
        }
        SUBCASE("every bad argument is reported, good ones still apply") {
            const LoadResult r = load("RequestReadTimeout header=x body=7 foo=1");
            CHECK(r.errors.size() == 2);
            CHECK(r.config.request_read_timeout_body == 7s);
        }
        SUBCASE("no arguments") {
            CHECK(error_of("RequestReadTimeout") ==
                  at + "expected <type>=<seconds>[-<max seconds>][,MinRate=<bytes/s>] (type: "
                       "handshake, header, body), found none");
        }
    }

    TEST_CASE("LimitRequest directives take integers in their ranges") {
        struct Case {
            std::string name;
            std::uint64_t min;
            std::uint64_t max;
        };
        const auto get = [](const Config& c, const std::string& name) -> std::uint64_t {
            if (name == "LimitRequestLine") {
                return c.limit_request_line;
            }
            if (name == "LimitRequestFieldSize") {
                return c.limit_request_field_size;
            }
            if (name == "LimitRequestFields") {
                return c.limit_request_fields;
            }
            return c.limit_request_body;
        };
        for (const Case& k :
             {Case{"LimitRequestLine", 1, 65536}, Case{"LimitRequestFieldSize", 1, 65536},
              Case{"LimitRequestFields", 1, 32767}, Case{"LimitRequestBody", 0, 2147483647}}) {
            CAPTURE(k.name);
            CHECK(get(config_of(k.name + " " + std::to_string(k.min)), k.name) == k.min);
            CHECK(get(config_of(k.name + " " + std::to_string(k.max)), k.name) == k.max);
            const std::string expected = kFile + ":2: " + k.name + ": expected an integer from " +
                                         std::to_string(k.min) + " to " + std::to_string(k.max) +
                                         ", found \"";
            for (const std::string& arg : Strings{std::to_string(k.max + 1), "-1", "8k", ""}) {
                CAPTURE(arg);
                CHECK(error_of(k.name + " \"" + arg + "\"") == expected + arg + "\"");
            }
            if (k.min == 1) {
                CHECK(error_of(k.name + " 0") == expected + "0\"");
            }
        }
    }

    TEST_CASE("TypesConfig resolves against ServerRoot and only warns when unreadable") {
        const TempDir tmp;
        const fs::path conf = tmp.path() / "conf/httpd.conf";
        tmp.write("conf/mime.types", "text/html html\n");
        SUBCASE("relative and readable") {
            const LoadResult r = load_config_text("Listen 80\nTypesConfig conf/mime.types\n", conf);
            CHECK(r.errors.empty());
            CHECK(r.warnings.empty());
            CHECK(r.config.types_config == tmp.path() / "conf/mime.types");
        }
        SUBCASE("missing") {
            const LoadResult r = load_config_text("Listen 80\nTypesConfig nope.types\n", conf);
            CHECK(r.errors.empty());
            CHECK(r.config.types_config == tmp.path() / "nope.types");
            CHECK(messages(r.warnings) ==
                  Strings{conf.string() +
                          ":2: TypesConfig: expected a readable mime.types file, found \"" +
                          (tmp.path() / "nope.types").string() +
                          "\" (No such file or directory); the built-in table of media types is "
                          "used"});
        }
    }

    TEST_CASE("Workers takes auto or 1 to 256") {
        CHECK(config_of("Workers 4").workers == 4);
        CHECK(config_of("Workers 256").workers == 256);
        CHECK(config_of("Workers 4\nWorkers AUTO").workers == 0);
        for (const std::string& arg : Strings{"0", "257", "many", "-2"}) {
            CAPTURE(arg);
            CHECK(error_of("Workers " + arg) ==
                  kFile + ":2: Workers: expected auto or an integer from 1 to 256, found \"" + arg +
                      "\"");
        }
    }

    TEST_CASE("an unknown directive is an error that suggests a near one") {
        SUBCASE("one letter missing") {
            CHECK(error_of("KeepAliveTimout 5") ==
                  kFile + ":2: KeepAliveTimout: unknown directive, did you mean KeepAliveTimeout?");
        }
        SUBCASE("case does not count as a typo") {
            CHECK(error_of("documentroute /x") ==
                  kFile + ":2: documentroute: unknown directive, did you mean DocumentRoot?");
        }
        SUBCASE("a short name") {
            CHECK(error_of("Listn 80") ==
                  kFile + ":2: Listn: unknown directive, did you mean Listen?");
        }
        SUBCASE("nothing close") {
            CHECK(error_of("Frobnicate on") == kFile + ":2: Frobnicate: unknown directive");
            CHECK(error_of("Foo") == kFile + ":2: Foo: unknown directive");
        }
    }

    // A huge directive name used to be compared in full with every directive for the
    // suggestion: about a second per megabyte (32 MiB took longer than CTest's 30 s).
    TEST_CASE("a huge unknown directive name is reported at once, without a suggestion") {
        const std::string name(32u << 20, 'K');
        const auto start = std::chrono::steady_clock::now();
        const LoadResult r = load(name + " 5\n");
        const auto elapsed = std::chrono::steady_clock::now() - start;
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].line == 2);
        CHECK(r.errors[0].directive == name);
        CHECK(r.errors[0].message == "unknown directive");
        CHECK(elapsed < std::chrono::seconds(20));
        // Near the limit of three edits the suggestion is unchanged.
        CHECK(error_of("KeepAliveTimeoutXYZ 5") ==
              kFile + ":2: KeepAliveTimeoutXYZ: unknown directive, did you mean KeepAliveTimeout?");
        CHECK(error_of("KeepAliveTimeoutWXYZ 5") ==
              kFile + ":2: KeepAliveTimeoutWXYZ: unknown directive");
    }

    TEST_CASE("every error of a run is collected, in file order") {
        const LoadResult r = load_config_text("KeepAlive maybe\n"
                                              "Listen 80\n"
                                              "Timeout abc\n"
                                              "DocumentRoot \"/unterminated\n"
                                              "Workers 0\n"
                                              "Bogus\n"
                                              "<Proxy x>\n"
                                              "</Proxy>\n"
                                              "Listen 80\n",
                                              kName);
        CHECK(messages(r.errors) ==
              Strings{
                  kFile + ":1: KeepAlive: expected On or Off, found \"maybe\"",
                  kFile + ":3: Timeout: expected a duration (30, 30s, 500ms, 5m, 1h), found \"abc\"",
                  kFile +
                      ":4: DocumentRoot: expected a closing \" for the quoted argument, found the "
                      "end of the line",
                  kFile + ":5: Workers: expected auto or an integer from 1 to 256, found \"0\"",
                  kFile + ":6: Bogus: unknown directive",
                  kFile + ":7: <Proxy>: not supported by kahttpd",
                  kFile + ":9: Listen: expected each address once, found \"80\" again (first at " +
                      kFile + ":2)",
              });
    }

    TEST_CASE("unsupported sections are refused and their contents skipped") {
        SUBCASE("Proxy, with nested sections and junk inside") {
            const LoadResult r = load("<Proxy \"*\">\n"
                                      "    DocumentRoot /elsewhere\n"
                                      "    Bogus\n"
                                      "    <Directory \"/x\">\n"
                                      "    </Directory>\n"
                                      "</Proxy>\n"
                                      "KeepAlive Off\n");
            CHECK(messages(r.errors) == Strings{kFile + ":2: <Proxy>: not supported by kahttpd"});
            CHECK(r.config.document_root == "/srv/site/www");
            CHECK_FALSE(r.config.keep_alive);
        }
        SUBCASE("the tag is shown as written") {
            CHECK(error_of("<proxymatch ^http://x>\n</proxymatch>") ==
                  kFile + ":2: <proxymatch>: not supported by kahttpd");
        }
        SUBCASE("unclosed") {
            const LoadResult r = load("<If \"%{HTTPS} == 'on'\">\nKeepAlive Off\n");
            CHECK(
                messages(r.errors) ==
                Strings{kFile + ":2: <If>: not supported by kahttpd",
                        kFile + ":2: <If>: expected </If> before the end of the file, found none"});
            CHECK(r.config.keep_alive);
        }
    }

    TEST_CASE("IfModule sections apply when the module is built in") {
        SUBCASE("contents apply, negated or not, nested") {
            const Config c = config_of("<IfModule mod_reqtimeout.c>\n"
                                       "  RequestReadTimeout header=7\n"
                                       "  <IfModule !mpm_winnt_module>\n"
                                       "    KeepAlive Off\n"
                                       "  </IfModule>\n"
                                       "</ifmodule>\n");
            CHECK(c.request_read_timeout_header == 7s);
            CHECK_FALSE(c.keep_alive);
        }
        SUBCASE("errors inside still count") {
            CHECK(error_of("<IfModule headers_module>\nTimeout x\n</IfModule>") ==
                  kFile + ":3: Timeout: expected a duration (30, 30s, 500ms, 5m, 1h), found \"x\"");
        }
        SUBCASE("no module name") {
            CHECK(error_of("<IfModule>\n</IfModule>") ==
                  kFile + ":2: <IfModule>: expected a module name, found none");
        }
        SUBCASE("no closing >") {
            CHECK(
                error_of("<IfModule mod_mime.c\n</IfModule>") ==
                kFile +
                    ":2: <IfModule>: expected \">\" at the end of the line, found \"mod_mime.c\"");
        }
        SUBCASE("a closing tag without an opening one") {
            CHECK(error_of("</IfModule>") ==
                  kFile +
                      ":2: </IfModule>: expected an open <IfModule> section to close, found none");
        }
        SUBCASE("a closing tag for another section") {
            CHECK(error_of("<IfModule x>\n</Directory>") ==
                  kFile + ":3: </Directory>: expected </IfModule> to close <IfModule> of line 2, "
                          "found </Directory>");
        }
        SUBCASE("unclosed at the end of the file") {
            CHECK(
                error_of("<IfModule x>\nKeepAlive On") ==
                kFile +
                    ":2: <IfModule>: expected </IfModule> before the end of the file, found none");
        }
    }

    TEST_CASE("Include reads files relative to ServerRoot") {
        const TempDir tmp;
        const fs::path conf = tmp.write("conf/httpd.conf", "");
        const auto load_main = [&](const std::string& text) {
            tmp.write("conf/httpd.conf", text);
            return load_config(conf);
        };

        SUBCASE("a glob, in sorted order, later files overriding earlier ones") {
            tmp.write("conf/conf.d/20-b.conf", "KeepAliveTimeout 2\nListen 8082\n");
            tmp.write("conf/conf.d/10-a.conf", "KeepAliveTimeout 1\nListen 8081\n");
            tmp.write("conf/conf.d/README", "not a config\n");
            tmp.mkdir("conf/conf.d/sub.conf");
            const LoadResult r = load_main("Listen 8080\nInclude conf/conf.d/*.conf\nWorkers 3\n");
            CHECK(messages(r.errors).empty());
            CHECK(r.config.keep_alive_timeout == 2s);
            REQUIRE(r.config.listen.size() == 3);
            CHECK(r.config.listen[1].where ==
                  (tmp.path() / "conf/conf.d/10-a.conf").string() + ":2");
            CHECK(r.config.listen[2].where ==
                  (tmp.path() / "conf/conf.d/20-b.conf").string() + ":2");
            CHECK(r.config.workers == 3);
        }
        SUBCASE("a glob that matches nothing is fine") {
            tmp.mkdir("conf/conf.d");
            const LoadResult r = load_main("Listen 80\nInclude conf/conf.d/*.conf\n");
            CHECK(r.errors.empty());
        }
        SUBCASE("a wildcard in a folder name") {
            tmp.write("sites/a/site.conf", "Listen 1\n");
            tmp.write("sites/b/site.conf", "Listen 2\n");
            const LoadResult r = load_main("Include sites/*/site.conf\n");
            CHECK(r.errors.empty());
            CHECK(r.config.listen.size() == 2);
        }
        SUBCASE("a file name without a wildcard that does not exist is an error") {
            const LoadResult r = load_main("Listen 80\nInclude conf/missing.conf\n");
            CHECK(messages(r.errors) ==
                  Strings{conf.string() +
                          ":2: Include: expected an existing file, found nothing at \"" +
                          (tmp.path() / "conf/missing.conf").string() + "\""});
        }
        SUBCASE("IncludeOptional does not mind a missing file") {
            CHECK(load_main("Listen 80\nIncludeOptional conf/missing.conf\n").errors.empty());
        }
        SUBCASE("an absolute path and a quoted one") {
            const fs::path extra = tmp.write("extra dir/extra.conf", "Listen 81\n");
            CHECK(load_main("Include \"" + extra.string() + "\"\n").errors.empty());
            CHECK(load_main("Include \"extra dir/extra.conf\"\n").errors.empty());
        }
        SUBCASE("a folder means the files in it, dotfiles excluded") {
            tmp.write("conf/d/b.conf", "Listen 2\n");
            tmp.write("conf/d/a.conf", "Listen 1\n");
            tmp.write("conf/d/.a.conf.swp", "garbage\n");
            const LoadResult r = load_main("Include conf/d/\n");
            CHECK(messages(r.errors).empty());
            REQUIRE(r.config.listen.size() == 2);
            CHECK(r.config.listen[0].port == 1);
        }
        SUBCASE("paths inside an included file resolve against ServerRoot, not its folder") {
            tmp.write("conf/conf.d/docs.conf", "DocumentRoot htdocs\n");
            tmp.mkdir("htdocs");
            const LoadResult r = load_main("Listen 80\nInclude conf/conf.d/docs.conf\n");
            CHECK(r.config.document_root == tmp.path() / "htdocs");
        }
        SUBCASE("errors inside an included file carry its own name and line") {
            const fs::path inc = tmp.write("conf/conf.d/bad.conf", "# bad\n\nKeepAlive perhaps\n");
            const LoadResult r = load_main("Listen 80\nInclude conf/conf.d/*.conf\nTimeout x\n");
            CHECK(messages(r.errors) ==
                  Strings{inc.string() + ":3: KeepAlive: expected On or Off, found \"perhaps\"",
                          conf.string() + ":3: Timeout: expected a duration (30, 30s, 500ms, 5m, 1h), found \"x\""});
        }
        SUBCASE("a section left open in an included file is reported there") {
            const fs::path inc = tmp.write("conf/open.conf", "<IfModule x>\n");
            const LoadResult r = load_main("Listen 80\nInclude conf/open.conf\n</IfModule>\n");
            CHECK(messages(r.errors) ==
                  Strings{inc.string() +
                              ":1: <IfModule>: expected </IfModule> before the end of the "
                              "file, found none",
                          conf.string() + ":3: </IfModule>: expected an open <IfModule> section to "
                                          "close, found none"});
        }
        SUBCASE("missing argument") {
            CHECK(messages(load_main("Listen 80\nInclude\n").errors) ==
                  Strings{conf.string() + ":2: Include: expected one argument, found none"});
        }
    }

    TEST_CASE("Include cycles are errors, not endless loops") {
        const TempDir tmp;
        SUBCASE("a file that includes itself") {
            const fs::path conf =
                tmp.write("conf/httpd.conf", "Listen 80\nInclude conf/httpd.conf\n");
            CHECK(messages(load_config(conf).errors) ==
                  Strings{conf.string() + ":2: Include: expected no include cycle, found " +
                          conf.string() + " -> " + conf.string()});
        }
        SUBCASE("through other files, one of them by a glob") {
            const fs::path conf = tmp.write("conf/httpd.conf", "Listen 80\nInclude conf/a.conf\n");
            const fs::path a = tmp.write("conf/a.conf", "\nInclude conf/b*.conf\n");
            const fs::path b = tmp.write("conf/b.conf", "\n\nInclude conf/a.conf\n");
            CHECK(messages(load_config(conf).errors) ==
                  Strings{b.string() + ":3: Include: expected no include cycle, found " +
                          a.string() + " -> " + b.string() + " -> " + a.string()});
        }
        SUBCASE("a file included twice side by side is not a cycle") {
            const fs::path conf = tmp.write(
                "conf/httpd.conf", "Include conf/x.conf\nInclude conf/x.conf\nListen 80\n");
            tmp.write("conf/x.conf", "KeepAlive Off\n");
            CHECK(load_config(conf).errors.empty());
        }
        SUBCASE("nesting deeper than 16 files") {
            const fs::path conf = tmp.write("conf/httpd.conf", "Listen 80\nInclude conf/1.conf\n");
            for (int i = 1; i <= 20; ++i) {
                tmp.write("conf/" + std::to_string(i) + ".conf",
                          "Include conf/" + std::to_string(i + 1) + ".conf\n");
            }
            tmp.write("conf/21.conf", "");
            CHECK(
                messages(load_config(conf).errors) ==
                Strings{(tmp.path() / "conf/15.conf").string() +
                        ":1: Include: expected at most 16 nested Include levels, found more at \"" +
                        (tmp.path() / "conf/16.conf").string() + "\""});
        }
    }

    TEST_CASE("load_config reports a file it cannot read") {
        const LoadResult r = load_config("/nonexistent/kahttpd/httpd.conf");
        CHECK(
            messages(r.errors) ==
            Strings{"/nonexistent/kahttpd/httpd.conf: expected a readable file, found No such file "
                    "or directory"});
    }

    TEST_CASE("a CRLF config with continuations loads") {
        const Config c = config_of("DirectoryIndex index.html \\\r\n"
                                   "    index.htm\r\n"
                                   "KeepAlive Off\r\n");
        CHECK(c.directory_index == Strings{"index.html", "index.htm"});
        CHECK_FALSE(c.keep_alive);
    }

    TEST_CASE("the shipped conf/httpd.conf loads cleanly") {
        const fs::path file =
            fs::path(KAHTTPD_TEST_DATA_DIR "/../../conf/httpd.conf").lexically_normal();
        const fs::path repo = file.parent_path().parent_path();
        const LoadResult r = load_config(file);
        CHECK(messages(r.errors).empty());
        CHECK(messages(r.warnings).empty());
        const Config& c = r.config;
        CHECK(c.server_root == repo);
        REQUIRE(c.listen.size() == 1);
        CHECK(c.listen[0].host == "127.0.0.1");
        CHECK(c.listen[0].port == 8080);
        CHECK(c.document_root == repo / "www");
        CHECK(c.directory_index == Strings{"index.html"});
        CHECK(c.keep_alive);
        CHECK(c.keep_alive_timeout == 5s);
        CHECK(c.max_keep_alive_requests == 100);
        CHECK(c.timeout == 60s);
        CHECK(c.request_read_timeout_header == 20s);
        CHECK(c.limit_request_line == 8190);
        CHECK(c.limit_request_field_size == 8190);
        CHECK(c.limit_request_fields == 100);
        CHECK(c.types_config == "/etc/mime.types");
        CHECK(c.workers == 0);
        CHECK(c.vhosts.empty());
        REQUIRE(c.main.locations.size() == 1);
        CHECK(c.main.locations[0].match == "/server-status");
        CHECK(c.main.locations[0].settings.handler->value == "server-status");
        CHECK(c.main.locations[0].settings.require->value.any.at(0).kind ==
              kahttpd::conf::AccessRule::Kind::local);
        REQUIRE(c.main.directories.size() == 2);
        CHECK(c.main.directories[0].match == "/");
        CHECK(c.main.directories[0].settings.require->value.any.at(0).kind ==
              kahttpd::conf::AccessRule::Kind::all_denied);
        CHECK(c.main.directories[1].match == (repo / "www").string());
        CHECK(c.main.directories[1].settings.require->value.any.at(0).kind ==
              kahttpd::conf::AccessRule::Kind::all_granted);
        CHECK(c.main.directories[1].settings.options->value.on ==
              kahttpd::conf::OptionsSpec::kFollowSymLinks);
        CHECK(c.server_tokens == Config::ServerTokens::full);
        CHECK(c.server_signature == Config::ServerSignature::off);
        CHECK(c.log_level == Config::LogLevel::warn);
        CHECK(c.custom_logs.empty());
        CHECK(c.error_log.empty());
        CHECK(c.pid_file.empty());
    }

} // TEST_SUITE
