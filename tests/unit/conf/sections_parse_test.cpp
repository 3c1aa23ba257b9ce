// How the loader reads sections: <VirtualHost>, <Directory>, <Location>, <IfModule>,
// <IfDefine>, their nesting and errors, ${VAR} substitution, and the shipped Apache-style
// example. What the sections mean for a request is sections_test.cpp's business.
#include "conf/config.hpp"
#include "tests/unit/conf/load_helpers.hpp"
#include "tests/unit/conf/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using kahttpd::conf::Config;
using kahttpd::conf::ConfigError;
using kahttpd::conf::ErrorDocument;
using kahttpd::conf::load_config;
using kahttpd::conf::load_config_text;
using kahttpd::conf::LoadResult;
using kahttpd::conf::Section;
using kahttpd::conf::VirtualHost;
using kahttpd::conf::test::TempDir;
using Strings = std::vector<std::string>;
using kahttpd::conf::test::config_of;
using kahttpd::conf::test::error_of;
using kahttpd::conf::test::kFile;
using kahttpd::conf::test::kName;
using kahttpd::conf::test::load;
using kahttpd::conf::test::messages;

namespace {

std::string line(int n) {
    return kFile + ":" + std::to_string(n);
}

Strings matches(const std::vector<Section>& sections) {
    Strings out;
    for (const Section& s : sections) {
        out.push_back(s.match);
    }
    return out;
}

/// Sets an environment variable for one test and restores the previous state after.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        ::setenv(name, value.c_str(), 1);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("VirtualHost takes the address forms Apache does, as IP literals") {
        struct Case {
            std::string arg;
            std::string host;
            std::uint16_t port;
        };
        for (const Case& k :
             {Case{"*:8080", "", 8080}, Case{"*", "", 0}, Case{"_default_:80", "", 80},
              Case{"_default_", "", 0}, Case{"*:*", "", 0},
              Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"127.0.0.1", "127.0.0.1", 0},
              Case{"[::1]:8080", "::1", 8080}, Case{"[0:0::1]", "::1", 0}, Case{"*:0", "", 0}}) {
            CAPTURE(k.arg);
            const Config c = config_of("<VirtualHost " + k.arg + ">\n</VirtualHost>\n");
            REQUIRE(c.vhosts.size() == 1);
            CHECK(c.vhosts[0].addresses == Strings{k.arg});
            REQUIRE(c.vhosts[0].parsed_addresses.size() == 1);
            CHECK(c.vhosts[0].parsed_addresses[0].host == k.host);
            CHECK(c.vhosts[0].parsed_addresses[0].port == k.port);
            CHECK(c.vhosts[0].from == line(2));
        }
        SUBCASE("several addresses, quoted, in order") {
            const Config c = config_of("<VirtualHost 127.0.0.1:80 \"[::1]:80\">\n</VirtualHost>\n");
            CHECK(c.vhosts[0].addresses == Strings{"127.0.0.1:80", "[::1]:80"});
            CHECK(c.vhosts[0].parsed_addresses.size() == 2);
        }
        SUBCASE("vhosts keep configuration order") {
            const Config c = config_of("<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
                                       "<VirtualHost *:80>\nServerName b\n</VirtualHost>\n");
            REQUIRE(c.vhosts.size() == 2);
            CHECK(c.vhosts[0].server_name.value == "a");
            CHECK(c.vhosts[1].server_name.value == "b");
            CHECK(c.vhosts[1].from == line(5));
        }
    }

    TEST_CASE("VirtualHost address errors; the contents are still checked but not kept") {
        const std::string at = line(2) + ": <VirtualHost>: ";
        CHECK(error_of("<VirtualHost www.example.com:80>\n</VirtualHost>") ==
              at + "expected an IP address literal, * or _default_ (kahttpd does not resolve "
                   "host names), found \"www.example.com\"");
        CHECK(error_of("<VirtualHost *:http>\n</VirtualHost>") ==
              at + "expected a port from 0 to 65535 or *, found \"http\"");
        CHECK(error_of("<VirtualHost *:65536>\n</VirtualHost>") ==
              at + "expected a port from 0 to 65535 or *, found \"65536\"");
        CHECK(error_of("<VirtualHost ::1:80>\n</VirtualHost>") ==
              at + "expected an IPv6 address in brackets as in [::1]:8080, found \"::1:80\"");
        CHECK(error_of("<VirtualHost [::1]80>\n</VirtualHost>") ==
              at + "expected [IPv6 address] or [IPv6 address]:port as in [::1]:8080, found "
                   "\"[::1]80\"");
        CHECK(error_of("<VirtualHost [1.2.3.4]:80>\n</VirtualHost>") ==
              at + "expected an IPv6 address literal in brackets, found \"[1.2.3.4]:80\"");
        CHECK(error_of("<VirtualHost>\n</VirtualHost>") ==
              at + "expected one or more addresses as in *:80, found none");
        CHECK(error_of("<VirtualHost *:80\n</VirtualHost>") ==
              at + "expected \">\" at the end of the line, found \"*:80\"");
        SUBCASE("contents of a bad vhost are checked, then dropped") {
            const LoadResult r = load("<VirtualHost nowhere>\n"
                                      "ServerName a.test\n"
                                      "EnableSendfile sometimes\n"
                                      "Listen 81\n"
                                      "</VirtualHost>\n");
            CHECK(messages(r.errors) ==
                  Strings{at + "expected an IP address literal, * or _default_ (kahttpd does not "
                               "resolve host names), found \"nowhere\"",
                          line(4) + ": EnableSendfile: expected On or Off, found \"sometimes\"",
                          line(5) + ": Listen: not allowed inside <VirtualHost>, only at server "
                                    "level"});
            CHECK(r.config.vhosts.empty());
            CHECK(r.config.main.server_name.value.empty());
        }
    }

    TEST_CASE("a vhost gets its own values; the main server keeps the server-level ones") {
        const TempDir tmp;
        tmp.mkdir("www");
        tmp.mkdir("b");
        const fs::path conf = tmp.path() / "conf/httpd.conf";
        const LoadResult r = load_config_text("Listen 80\n"
                                              "ServerName main.test\n"
                                              "DocumentRoot www\n"
                                              "Header set X-Main 1\n"
                                              "<VirtualHost *:80>\n"
                                              "    ServerName A.test\n"
                                              "    ServerAdmin a@a.test\n"
                                              "</VirtualHost>\n"
                                              "<VirtualHost *:80>\n"
                                              "    ServerName b.test\n"
                                              "    DocumentRoot b\n"
                                              "    Header set X-B 1\n"
                                              "    ErrorDocument 404 /b404.html\n"
                                              "</VirtualHost>\n"
                                              "KeepAlive Off\n",
                                              conf);
        INFO(messages(r.errors));
        REQUIRE(r.errors.empty());
        CHECK(r.warnings.empty());
        const Config& c = r.config;
        CHECK(c.server_name == "main.test");
        CHECK(c.document_root == tmp.path() / "www");
        CHECK(c.main.document_root.value == tmp.path() / "www");
        CHECK(c.main.document_root.from == conf.string() + ":3");
        CHECK(c.main.base.headers.size() == 1);
        CHECK_FALSE(c.keep_alive);
        REQUIRE(c.vhosts.size() == 2);
        const VirtualHost& a = c.vhosts[0];
        CHECK(a.server_name.value == "a.test");
        CHECK(a.server_name.from == conf.string() + ":6");
        CHECK(a.server_admin.value == "a@a.test");
        // No DocumentRoot of its own: the main server's, marked as not set here.
        CHECK(a.document_root.value == tmp.path() / "www");
        CHECK(a.document_root.from.empty());
        CHECK(a.base.headers.empty());
        const VirtualHost& b = c.vhosts[1];
        CHECK(b.document_root.value == tmp.path() / "b");
        CHECK(b.document_root.from == conf.string() + ":11");
        REQUIRE(b.base.headers.size() == 1);
        CHECK(b.base.headers[0].name == "X-B");
        CHECK(b.base.error_documents.at(404).value.target == "/b404.html");
        CHECK(c.main.base.error_documents.empty());
    }

    TEST_CASE("a vhost's DocumentRoot defaults to the main server's, even one set later") {
        const Config c = config_of("<VirtualHost *>\n</VirtualHost>\nDocumentRoot /var/www\n");
        CHECK(c.vhosts[0].document_root.value == "/var/www");
        CHECK(c.vhosts[0].document_root.from.empty());
        const Config d = config_of("<VirtualHost *>\n</VirtualHost>\n");
        CHECK(d.vhosts[0].document_root.value == "/srv/site/www");
    }

    TEST_CASE("a vhost DocumentRoot that does not exist is a warning") {
        const LoadResult r = load("<VirtualHost *>\nDocumentRoot /nonexistent/kahttpd\n"
                                  "</VirtualHost>\n");
        CHECK(r.errors.empty());
        CHECK(messages(r.warnings) ==
              Strings{line(3) + ": DocumentRoot: expected an existing directory, found nothing "
                                "at \"/nonexistent/kahttpd\""});
    }

    TEST_CASE("Directory paths resolve against ServerRoot and are normalised") {
        const Config c = config_of("<Directory htdocs/>\n</Directory>\n"
                                   "<Directory \"/var/www/../www/site b/\">\n</Directory>\n"
                                   "<Directory />\n</Directory>\n"
                                   "<Directory /srv//x/./y>\n</Directory>\n");
        // Sorted by depth, shallow first.
        CHECK(matches(c.main.directories) ==
              Strings{"/", "/srv/site/htdocs", "/var/www/site b", "/srv/x/y"});
        CHECK(c.main.directories[0].from == line(6));
        CHECK(c.main.directories[1].from == line(2));
    }

    TEST_CASE("Directory sections sort by depth, stable, in main and in each vhost") {
        const Config c = config_of("<Directory /a/b/c>\n</Directory>\n"
                                   "<Directory /z>\n</Directory>\n"
                                   "<Directory /a>\n</Directory>\n"
                                   "<Directory /y/x>\n</Directory>\n"
                                   "<Directory /a/b>\n</Directory>\n"
                                   "<VirtualHost *>\n"
                                   "<Directory /v/w>\n</Directory>\n"
                                   "<Directory />\n</Directory>\n"
                                   "<Directory /v>\n</Directory>\n"
                                   "</VirtualHost>\n");
        CHECK(matches(c.main.directories) == Strings{"/z", "/a", "/y/x", "/a/b", "/a/b/c"});
        CHECK(matches(c.vhosts[0].directories) == Strings{"/", "/v", "/v/w"});
    }

    TEST_CASE("Location takes a URL path prefix, kept as written") {
        const Config c = config_of("<Location /private/>\nRequire all denied\n</Location>\n"
                                   "<Location \"/server-status\">\nSetHandler server-status\n"
                                   "</Location>\n"
                                   "<Location />\n</Location>\n");
        CHECK(matches(c.main.locations) == Strings{"/private/", "/server-status", "/"});
        CHECK(c.main.locations[0].from == line(2));
        CHECK(c.main.locations[0].settings.require);
        CHECK(c.main.locations[1].settings.handler->value == "server-status");
    }

    TEST_CASE("Directory and Location argument errors") {
        const std::string d = line(2) + ": <Directory>: ";
        const std::string l = line(2) + ": <Location>: ";
        CHECK(error_of("<Directory>\n</Directory>") == d + "expected a directory path, found none");
        CHECK(error_of("<Directory \"\">\n</Directory>") ==
              d + "expected a directory path, found \"\"");
        CHECK(error_of("<Directory /a /b>\n</Directory>") == d + "expected one path, found 2");
        CHECK(error_of("<Directory /srv/*/htdocs>\n</Directory>") ==
              d + "wildcard paths are not supported by kahttpd, found \"/srv/*/htdocs\"; use "
                  "<DirectoryMatch>");
        CHECK(error_of("<Directory ~ \"^/(srv\">\n</Directory>") ==
              d + "expected a valid regular expression, found \"^/(srv\" (missing closing "
                  "parenthesis at offset 6)");
        CHECK(error_of("<Directory ~>\n</Directory>") ==
              d + "expected a regular expression, found none");
        CHECK(error_of("<Location>\n</Location>") == l + "expected a URL path, found none");
        CHECK(error_of("<Location private>\n</Location>") ==
              l + "expected a URL path starting with \"/\", found \"private\"");
        CHECK(error_of("<Location /img/*.png>\n</Location>") ==
              l + "wildcard paths are not supported by kahttpd, found \"/img/*.png\"; use "
                  "<LocationMatch>");
        SUBCASE("the contents are checked but not kept") {
            const LoadResult r = load("<Directory /a/*>\nRequire all denied\nOptions Bad\n"
                                      "</Directory>\n");
            CHECK(r.errors.size() == 2);
            CHECK(r.config.main.directories.empty());
            CHECK_FALSE(r.config.main.base.require);
        }
    }

    TEST_CASE("regular-expression sections compile at load, each into its own list") {
        const Config c = config_of("<FilesMatch \"^\\.ht\">\n"
                                   "    Require all denied\n"
                                   "</FilesMatch>\n"
                                   "<Files \"*.bak\">\n"
                                   "</Files>\n"
                                   "<Files ~ \"\\.(gif|png)$\">\n"
                                   "</Files>\n"
                                   "<DirectoryMatch \"^/srv/www/[0-9]+/\">\n"
                                   "</DirectoryMatch>\n"
                                   "<Directory ~ \"/cache/\">\n"
                                   "</Directory>\n"
                                   "<Location /a>\n"
                                   "</Location>\n"
                                   "<LocationMatch \"^/b\">\n"
                                   "</LocationMatch>\n"
                                   "<Location ~ \"^/c\">\n"
                                   "</Location>\n"
                                   "<VirtualHost *>\n"
                                   "  <filesmatch \"x\">\n"
                                   "  </filesmatch>\n"
                                   "</VirtualHost>\n");
        CHECK(matches(c.main.files) == Strings{"^\\.ht", "*.bak", "\\.(gif|png)$"});
        CHECK(c.main.files[0].regex);
        CHECK_FALSE(c.main.files[1].regex);
        CHECK(c.main.files[2].regex);
        CHECK(c.main.files[0].settings.require);
        CHECK(c.main.files[0].from == line(2));
        CHECK(matches(c.main.directory_matches) == Strings{"^/srv/www/[0-9]+/", "/cache/"});
        CHECK(c.main.directories.empty());
        CHECK(matches(c.main.locations) == Strings{"/a", "^/b", "^/c"});
        CHECK_FALSE(c.main.locations[0].regex);
        CHECK(c.main.locations[1].regex);
        CHECK(c.main.locations[2].regex);
        REQUIRE(c.vhosts.size() == 1);
        CHECK(matches(c.vhosts[0].files) == Strings{"x"});
        CHECK(c.main.files.size() == 3);
    }

    TEST_CASE("<Files> nested in <Directory> applies beneath that directory only") {
        const Config c = config_of("<Directory /srv/www/private>\n"
                                   "    <Files \"*.txt\">\n"
                                   "        Require all denied\n"
                                   "    </Files>\n"
                                   "</Directory>\n"
                                   "<Files \"*.bak\">\n"
                                   "</Files>\n");
        REQUIRE(c.main.files.size() == 2);
        CHECK(c.main.files[0].within == "/srv/www/private");
        CHECK(c.main.files[0].settings.require);
        CHECK(c.main.files[1].within.empty());
        // The <Directory> itself holds nothing: the Require went to the nested <Files>.
        REQUIRE(c.main.directories.size() == 1);
        CHECK_FALSE(c.main.directories[0].settings.require);
        const auto denied = [&](std::string_view path) {
            return !c.main.effective(c.main, path, "/").require.any.empty();
        };
        CHECK(denied("/srv/www/private/a.txt"));
        CHECK(denied("/srv/www/private/deeper/a.txt"));
        CHECK_FALSE(denied("/srv/www/private/a.html"));
        CHECK_FALSE(denied("/srv/www/a.txt"));
        CHECK_FALSE(denied("/srv/www/private-not/a.txt"));
    }

    TEST_CASE("regular-expression section errors name the tag and line") {
        CHECK(error_of("<FilesMatch \"(\">\n</FilesMatch>") ==
              line(2) + ": <FilesMatch>: expected a valid regular expression, found \"(\" "
                        "(missing closing parenthesis at offset 1)");
        CHECK(error_of("<LocationMatch>\n</LocationMatch>") ==
              line(2) + ": <LocationMatch>: expected a regular expression, found none");
        CHECK(error_of("<DirectoryMatch a b>\n</DirectoryMatch>") ==
              line(2) + ": <DirectoryMatch>: expected one regular expression, found 2");
        CHECK(error_of("<Files a/b>\n</Files>") ==
              line(2) + ": <Files>: expected a file name without \"/\", found \"a/b\"");
        CHECK(error_of("<Files>\n</Files>") ==
              line(2) + ": <Files>: expected a file name, found none");
        // <Files> goes at server level, in a vhost or in a <Directory>; no other nesting.
        CHECK(error_of("<Location /a>\n<Files x>\n</Files>\n</Location>") ==
              line(3) + ": <Files>: not allowed inside <Location>, only at server level, in "
                        "<VirtualHost> or in <Directory>");
        CHECK(error_of("<Directory /srv>\n<Location /a>\n</Location>\n</Directory>") ==
              line(3) + ": <Location>: not allowed inside <Directory>, only at server level or "
                        "in <VirtualHost>");
        CHECK(error_of("<FilesMatch x>\nListen 81\n</FilesMatch>") ==
              line(3) + ": Listen: not allowed inside <FilesMatch>, only at server level");
        SUBCASE("a bad one's contents are checked but not kept") {
            const LoadResult r = load("<FilesMatch \"[\">\nRequire all denied\nOptions Bad\n"
                                      "</FilesMatch>\n");
            CHECK(r.errors.size() == 2);
            CHECK(r.config.main.files.empty());
        }
    }

    TEST_CASE("Debian's stock <FilesMatch \"^\\.ht\"> loads") {
        // As /etc/apache2/apache2.conf has it.
        const Config c = config_of("<FilesMatch \"^\\.ht\">\n"
                                   "\tRequire all denied\n"
                                   "</FilesMatch>\n");
        REQUIRE(c.main.files.size() == 1);
        CHECK(c.main.files[0].regex.match(".htaccess"));
        CHECK_FALSE(c.main.files[0].regex.match("a.ht"));
    }

    TEST_CASE("sections nest as in Apache") {
        SUBCASE("Directory and Location in a vhost belong to it") {
            const Config c = config_of("<VirtualHost *:80>\n"
                                       "  <Directory /srv/a>\n  Options None\n  </Directory>\n"
                                       "  <Location /x>\n  Header set X 1\n  </Location>\n"
                                       "</VirtualHost>\n");
            CHECK(c.main.directories.empty());
            CHECK(c.main.locations.empty());
            CHECK(matches(c.vhosts[0].directories) == Strings{"/srv/a"});
            CHECK(matches(c.vhosts[0].locations) == Strings{"/x"});
            CHECK(c.vhosts[0].directories[0].settings.options);
            CHECK(c.vhosts[0].locations[0].settings.headers.size() == 1);
            CHECK(c.vhosts[0].base.headers.empty());
        }
        SUBCASE("IfModule and IfDefine are transparent wherever they are") {
            const Config c = config_of("<IfModule mod_mime.c>\n"
                                       "<VirtualHost *>\n"
                                       "<IfDefine !NOPE>\n"
                                       "<Directory /d>\n"
                                       "<IfModule headers_module>\n"
                                       "Header set X 1\n"
                                       "</IfModule>\n"
                                       "</Directory>\n"
                                       "</IfDefine>\n"
                                       "</VirtualHost>\n"
                                       "</IfModule>\n");
            REQUIRE(c.vhosts.size() == 1);
            CHECK(c.vhosts[0].directories.at(0).settings.headers.size() == 1);
        }
        SUBCASE("Directory and Location do not nest") {
            CHECK(error_of("<Directory /a>\n<Directory /a/b>\n</Directory>\n</Directory>") ==
                  line(3) + ": <Directory>: not allowed inside <Directory>, only at server level "
                            "or in <VirtualHost>");
            CHECK(error_of("<Directory /a>\n<Location /b>\n</Location>\n</Directory>") ==
                  line(3) + ": <Location>: not allowed inside <Directory>, only at server level "
                            "or in <VirtualHost>");
            CHECK(error_of("<VirtualHost *>\n<Location /a>\n<Directory /b>\n</Directory>\n"
                           "</Location>\n</VirtualHost>") ==
                  line(4) + ": <Directory>: not allowed inside <Location>, only at server level "
                            "or in <VirtualHost>");
        }
        SUBCASE("VirtualHost only at server level") {
            CHECK(error_of("<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n"
                           "</VirtualHost>") ==
                  line(3) + ": <VirtualHost>: not allowed inside <VirtualHost>, only at server "
                            "level");
            CHECK(error_of("<Directory /a>\n<VirtualHost *:81>\n</VirtualHost>\n</Directory>") ==
                  line(3) + ": <VirtualHost>: not allowed inside <Directory>, only at server "
                            "level");
            const LoadResult r = load("<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n"
                                      "</VirtualHost>");
            CHECK(r.config.vhosts.size() == 1);
        }
    }

    TEST_CASE("closing tags: stray, mismatched, forgotten, missing") {
        SUBCASE("a section left open is reported at its opening line") {
            const LoadResult r = load("KeepAlive On\n<VirtualHost *:80>\nServerName a.test\n");
            CHECK(messages(r.errors) ==
                  Strings{line(3) + ": <VirtualHost>: expected </VirtualHost> before the end of "
                                    "the file, found none"});
        }
        SUBCASE("a stray closing tag") {
            CHECK(error_of("</VirtualHost>") ==
                  line(2) + ": </VirtualHost>: expected an open <VirtualHost> section to close, "
                            "found none");
        }
        SUBCASE("a closing tag of another kind closes the open section") {
            const LoadResult r = load("<VirtualHost *:80>\n</Directory>\nKeepAlive Off\n");
            CHECK(messages(r.errors) ==
                  Strings{line(3) + ": </Directory>: expected </VirtualHost> to close "
                                    "<VirtualHost> of line 2, found </Directory>"});
            CHECK_FALSE(r.config.keep_alive); // applied at server level again
        }
        SUBCASE("a forgotten </Directory> does not leave the vhost open too") {
            const LoadResult r = load("<VirtualHost *:80>\n"
                                      "<Directory /a>\n"
                                      "</VirtualHost>\n"
                                      "KeepAlive Off\n");
            CHECK(messages(r.errors) ==
                  Strings{line(4) + ": </VirtualHost>: expected </Directory> to close "
                                    "<Directory> of line 3, found </VirtualHost>"});
            CHECK_FALSE(r.config.keep_alive);
        }
        SUBCASE("closing tags match case-insensitively") {
            CHECK(load("<virtualhost *>\n</VIRTUALHOST>\n").errors.empty());
        }
    }

    TEST_CASE("unsupported sections are skipped without a cascade, also inside vhosts") {
        const LoadResult r = load("<VirtualHost *>\n"
                                  "  <ProxyMatch \"\\.(gif|png)$\">\n"
                                  "    ExpiresActive On\n"
                                  "    Listen 81\n"
                                  "    <If \"true\">\n"
                                  "    </If>\n"
                                  "  </ProxyMatch>\n"
                                  "  <RequireAll>\n"
                                  "    Require ip 10.0.0.0/8\n"
                                  "  </RequireAll>\n"
                                  "  ServerName ok.test\n"
                                  "</VirtualHost>\n");
        CHECK(messages(r.errors) ==
              Strings{line(3) + ": <ProxyMatch>: not supported by kahttpd",
                      line(9) + ": <RequireAll>: not supported by kahttpd; several Require lines "
                                "in one section already mean any of them"});
        REQUIRE(r.config.vhosts.size() == 1);
        CHECK(r.config.vhosts[0].server_name.value == "ok.test");
        CHECK_FALSE(r.config.vhosts[0].base.require);
        for (const std::string& tag : Strings{"If", "ElseIf", "Else", "Proxy", "RequireAny",
                                              "Limit", "LimitExcept", "Macro", "IfVersion"}) {
            CAPTURE(tag);
            CHECK(error_of("<" + tag + " x>\n</" + tag + ">")
                      .starts_with(line(2) + ": <" + tag + ">: not supported by kahttpd"));
        }
    }

    TEST_CASE("an unknown section suggests a near one") {
        CHECK(error_of("<VirtualHots *:80>\nListen 81\n</VirtualHots>") ==
              line(2) + ": <VirtualHots>: unknown section, did you mean <VirtualHost>?");
        CHECK(error_of("<Frobnicate x>\n</Frobnicate>") ==
              line(2) + ": <Frobnicate>: unknown section");
    }

    TEST_CASE("Include inside a VirtualHost adds to that vhost") {
        const TempDir tmp;
        const fs::path conf = tmp.write("conf/httpd.conf", "Listen 80\n"
                                                           "<VirtualHost *:80>\n"
                                                           "Include conf/vhost.d/*.conf\n"
                                                           "</VirtualHost>\n"
                                                           "Include conf/server.conf\n");
        const fs::path inc = tmp.write("conf/vhost.d/a.conf", "ServerName a.test\n"
                                                              "<Location /x>\n"
                                                              "Header set X 1\n"
                                                              "</Location>\n");
        tmp.write("conf/server.conf", "ServerName main.test\n");
        const LoadResult r = load_config(conf);
        INFO(messages(r.errors));
        REQUIRE(r.errors.empty());
        REQUIRE(r.config.vhosts.size() == 1);
        CHECK(r.config.vhosts[0].server_name.value == "a.test");
        CHECK(r.config.vhosts[0].server_name.from == inc.string() + ":1");
        CHECK(matches(r.config.vhosts[0].locations) == Strings{"/x"});
        CHECK(r.config.vhosts[0].locations[0].from == inc.string() + ":2");
        CHECK(r.config.main.server_name.value == "main.test");
        SUBCASE("an included file cannot close the includer's section") {
            const fs::path bad = tmp.write("conf/vhost.d/b.conf", "</VirtualHost>\n");
            const LoadResult e = load_config(conf);
            CHECK(messages(e.errors) ==
                  Strings{bad.string() + ":1: </VirtualHost>: expected an open <VirtualHost> "
                                         "section to close, found none"});
        }
        SUBCASE("and server-wide directives in it are refused there") {
            const fs::path bad = tmp.write("conf/vhost.d/b.conf", "\nKeepAlive Off\n");
            const LoadResult e = load_config(conf);
            CHECK(messages(e.errors) ==
                  Strings{bad.string() + ":2: KeepAlive: not allowed inside <VirtualHost>, only "
                                         "at server level"});
        }
    }

    TEST_CASE("${VAR} takes Define'd values first, then the environment") {
        const ScopedEnv root("KAHTTPD_TEST_ROOT", "/from/env");
        const ScopedEnv both("KAHTTPD_TEST_BOTH", "env");
        SUBCASE("from Define, in the middle of an argument, in several arguments") {
            const Config c =
                config_of("Define site /var/www/site\n"
                          "Define KAHTTPD_TEST_BOTH define\n"
                          "Define index home\n"
                          "DocumentRoot ${site}/htdocs\n"
                          "DirectoryIndex ${KAHTTPD_TEST_BOTH}.html a-${index}.${index}\n");
            CHECK(c.document_root == "/var/www/site/htdocs");
            CHECK(c.directory_index == Strings{"define.html", "a-home.home"});
        }
        SUBCASE("from the environment") {
            const Config c = config_of("DocumentRoot \"${KAHTTPD_TEST_ROOT}/www\"\n"
                                       "ServerName ${KAHTTPD_TEST_BOTH}.test\n");
            CHECK(c.document_root == "/from/env/www");
            CHECK(c.server_name == "env.test");
        }
        SUBCASE("-D NAME=VALUE defines a value too") {
            const Config c = config_of("ServerName ${HOST}\n", {"HOST=d.test", "FLAG"});
            CHECK(c.server_name == "d.test");
            CHECK(c.defines ==
                  std::map<std::string, std::string>{{"FLAG", ""}, {"HOST", "d.test"}});
        }
        SUBCASE("a -D without a usable name is an error at the main file") {
            const LoadResult r = load("", {"=x", "a:b", "OK"});
            CHECK(messages(r.errors) ==
                  Strings{kFile + ": -D: expected a name, found \"\"",
                          kFile + ": -D: expected a name without \":\", \"$\", braces or blanks, "
                                  "found \"a:b\""});
            CHECK(r.config.defines.contains("OK"));
        }
        SUBCASE("in section arguments") {
            const Config c = config_of("Define port 8081\nDefine dir /srv/d\n"
                                       "<VirtualHost *:${port}>\n<Directory ${dir}>\n"
                                       "</Directory>\n</VirtualHost>\n");
            CHECK(c.vhosts[0].addresses == Strings{"*:8081"});
            CHECK(c.vhosts[0].parsed_addresses[0].port == 8081);
            CHECK(matches(c.vhosts[0].directories) == Strings{"/srv/d"});
        }
        SUBCASE("a value is not scanned again, and ${ without } or ${} stays as written") {
            const Config c = config_of("Define a ${b}\n", {"b=${c}"});
            CHECK(c.defines.at("a") == "${c}");
            CHECK(config_of("Header set X a${").main.base.headers[0].value == "a${");
            CHECK(config_of("Header set X ${}x").main.base.headers[0].value == "${}x");
        }
        SUBCASE("Define inside a section applies from its line on, everywhere") {
            const LoadResult r = load("ServerAdmin ${who}\n"
                                      "<VirtualHost *>\n"
                                      "Define who admin@a.test\n"
                                      "ServerAdmin ${who}\n"
                                      "</VirtualHost>\n"
                                      "ServerAdmin ${who}\n");
            CHECK(messages(r.errors) ==
                  Strings{line(2) + ": ServerAdmin: expected a defined variable, found ${who}"});
            CHECK(r.config.vhosts[0].server_admin.value == "admin@a.test");
            CHECK(r.config.main.server_admin.value == "admin@a.test");
            CHECK(r.config.main.server_admin.from == line(7));
        }
    }

    TEST_CASE("an undefined ${VAR} is an error and the directive is not applied") {
        ::unsetenv("KAHTTPD_TEST_UNSET");
        SUBCASE("in a directive") {
            const LoadResult r = load("DocumentRoot ${KAHTTPD_TEST_UNSET}/www\n");
            CHECK(messages(r.errors) ==
                  Strings{line(2) + ": DocumentRoot: expected a defined variable, found "
                                    "${KAHTTPD_TEST_UNSET}"});
            CHECK(r.config.document_root == "/srv/site/www");
        }
        SUBCASE("each name once per line") {
            const LoadResult r = load("DirectoryIndex ${X1} ${X1}.html ${X2}\n");
            CHECK(messages(r.errors) ==
                  Strings{line(2) + ": DirectoryIndex: expected a defined variable, found ${X1}",
                          line(2) + ": DirectoryIndex: expected a defined variable, found ${X2}"});
        }
        SUBCASE("in a section: reported once, the contents checked but not kept") {
            const LoadResult r = load("<VirtualHost *:${NOPORT}>\n"
                                      "ServerName a.test\n"
                                      "</VirtualHost>\n");
            CHECK(messages(r.errors) ==
                  Strings{line(2) + ": <VirtualHost>: expected a defined variable, found "
                                    "${NOPORT}"});
            CHECK(r.config.vhosts.empty());
        }
        SUBCASE("a Define that failed is not reported again at each use") {
            const LoadResult r = load_config_text("Define root ${NOROOT}/srv\n"
                                                  "ServerRoot ${root}\n"
                                                  "Listen 127.0.0.1:${NOPORT}\n"
                                                  "DocumentRoot ${root}/www\n"
                                                  "Define root /x\n"
                                                  "ServerAdmin ${root}\n",
                                                  kName);
            CHECK(messages(r.errors) ==
                  Strings{kFile + ":1: Define: expected a defined variable, found ${NOROOT}",
                          kFile + ":3: Listen: expected a defined variable, found ${NOPORT}"});
            CHECK(r.config.main.server_admin.value == "/x");
        }
        SUBCASE("not reported for an unknown directive, which is the bigger problem") {
            CHECK(error_of("Frob ${NOPE}") == line(2) + ": Frob: unknown directive");
        }
    }

    TEST_CASE("IfDefine tests -D names and Define, with negation") {
        const std::string text = "<IfDefine FAST>\n"
                                 "KeepAliveTimeout 1\n"
                                 "</IfDefine>\n"
                                 "<IfDefine !FAST>\n"
                                 "KeepAliveTimeout 9\n"
                                 "</IfDefine>\n";
        CHECK(config_of(text).keep_alive_timeout == std::chrono::seconds(9));
        CHECK(config_of(text, {"FAST"}).keep_alive_timeout == std::chrono::seconds(1));
        CHECK(config_of("Define FAST\n" + text).keep_alive_timeout == std::chrono::seconds(1));
        CHECK(config_of("Define FAST\nUnDefine FAST\n" + text).keep_alive_timeout ==
              std::chrono::seconds(9));
        SUBCASE("a Define after the test is too late") {
            CHECK(config_of(text + "Define FAST\n").keep_alive_timeout == std::chrono::seconds(9));
        }
        SUBCASE("the contents of a false test are not read at all") {
            const LoadResult r = load("<IfDefine NOPE>\n"
                                      "Bogus directive\n"
                                      "Include /nonexistent.conf\n"
                                      "Define NOPE2\n"
                                      "<Files x>\n"
                                      "</Files>\n"
                                      "</IfDefine>\n"
                                      "<IfDefine NOPE2>\nKeepAlive Off\n</IfDefine>\n");
            CHECK(r.errors.empty());
            CHECK(r.config.keep_alive);
            CHECK_FALSE(r.config.defines.contains("NOPE2"));
        }
        SUBCASE("bad forms") {
            const std::string at = line(2) + ": <IfDefine>: ";
            CHECK(error_of("<IfDefine>\n</IfDefine>") ==
                  at + "expected a parameter name, found none");
            CHECK(error_of("<IfDefine A B>\n</IfDefine>") ==
                  at + "expected one parameter name, found 2");
            CHECK(error_of("<IfDefine !>\n</IfDefine>") ==
                  at + "expected a parameter name after \"!\", found none");
        }
    }

    TEST_CASE("IfModule tests the modules kahttpd has built in") {
        const auto applies = [](const std::string& test) {
            return !config_of("<IfModule " + test + ">\nKeepAlive Off\n</IfModule>\n").keep_alive;
        };
        CHECK(applies("mod_mime.c"));
        CHECK(applies("mime_module"));
        CHECK(applies("headers_module"));
        CHECK(applies("!mod_rewrite.c"));
        CHECK_FALSE(applies("mod_rewrite.c"));
        CHECK(applies("ssl_module")); // TLS is built in
        CHECK_FALSE(applies("!mod_mime.c"));
        SUBCASE("the contents of a missing module are skipped whole") {
            const LoadResult r = load("<IfModule mod_rewrite.c>\nRewriteEngine on\nListen 443\n"
                                      "</IfModule>\n");
            CHECK(r.errors.empty());
            CHECK(r.config.listen.size() == 1);
        }
        CHECK(error_of("<IfModule a b>\n</IfModule>") ==
              line(2) + ": <IfModule>: expected one module name, found 2");
    }

    TEST_CASE("two vhosts with one name on one address draw a warning") {
        SUBCASE("ServerName twice") {
            const LoadResult r = load("<VirtualHost *:80>\nServerName a.test\n</VirtualHost>\n"
                                      "<VirtualHost *:80>\nServerName A.test\n</VirtualHost>\n");
            CHECK(r.errors.empty());
            CHECK(messages(r.warnings) ==
                  Strings{line(6) +
                          ": ServerName: expected each name once per address, found "
                          "\"a.test\" again on *:80 (first at " +
                          line(3) + "); requests for it go to the first vhost"});
        }
        SUBCASE("a ServerAlias repeating another vhost's name") {
            const LoadResult r =
                load("<VirtualHost 127.0.0.1:80 *:81>\nServerAlias www.a.test\n</VirtualHost>\n"
                     "<VirtualHost *:81>\nServerName b.test\nServerAlias x www.a.test\n"
                     "</VirtualHost>\n");
            CHECK(messages(r.warnings) ==
                  Strings{line(7) +
                          ": ServerAlias: expected each name once per address, found "
                          "\"www.a.test\" again on *:81 (first at " +
                          line(3) + "); requests for it go to the first vhost"});
        }
        SUBCASE("not on different addresses or ports") {
            CHECK(load("<VirtualHost *:80>\nServerName a.test\n</VirtualHost>\n"
                       "<VirtualHost *:81>\nServerName a.test\n</VirtualHost>\n"
                       "<VirtualHost 127.0.0.1:80>\nServerName a.test\n</VirtualHost>\n")
                      .warnings.empty());
        }
    }

    TEST_CASE("the Apache-style example loads with only the LoadModule warnings") {
        const TempDir tmp;
        tmp.mkdir("site-a");
        tmp.mkdir("site-b/private");
        const ScopedEnv root("ROOT", tmp.path().string());
        const ScopedEnv port("PORT", "8089");
        const fs::path file = fs::path(KAHTTPD_TEST_DATA_DIR "/conf/apache-style.conf");
        const std::string f = file.string();
        const LoadResult r = load_config(file);
        CHECK(messages(r.errors).empty());
        CHECK(messages(r.warnings) ==
              Strings{f + ":16: LoadModule: modules are built into kahttpd; LoadModule is ignored",
                      f + ":17: LoadModule: modules are built into kahttpd; LoadModule is ignored",
                      f + ":18: LoadModule: modules are built into kahttpd; LoadModule is "
                          "ignored"});
        const Config& c = r.config;
        CHECK(c.server_root == tmp.path());
        CHECK(c.defines.at("SITES") == tmp.path().string());
        REQUIRE(c.listen.size() == 1);
        CHECK(c.listen[0].host == "127.0.0.1");
        CHECK(c.listen[0].port == 8089);
        CHECK(c.server_name == "localhost");
        CHECK(c.server_tokens == Config::ServerTokens::prod);
        CHECK(c.main.base.add_types.at("md").value == "text/markdown");
        CHECK(c.main.base.add_types.at("webmanifest").value == "application/manifest+json");
        CHECK(c.main.base.default_charset->value == "utf-8");
        CHECK(c.directory_index == Strings{"index.html", "index.htm"});
        CHECK(matches(c.main.directories) == Strings{"/"});
        CHECK(c.main.locations.empty()); // <IfDefine STATUS> is off
        REQUIRE(c.vhosts.size() == 2);
        const VirtualHost& a = c.vhosts[0];
        CHECK(a.addresses == Strings{"*:8089"});
        CHECK(a.server_name.value == "site-a.test");
        REQUIRE(a.aliases.size() == 2);
        CHECK(a.aliases[1].value == "*.a.test");
        CHECK(a.document_root.value == tmp.path() / "site-a");
        CHECK(matches(a.directories) == Strings{(tmp.path() / "site-a").string()});
        CHECK(matches(a.locations) == Strings{"/assets"});
        CHECK(a.locations[0].settings.headers.at(0).value == "public, max-age=3600");
        CHECK(a.base.error_documents.at(404).value.kind == ErrorDocument::Kind::local_url);
        const VirtualHost& b = c.vhosts[1];
        CHECK(b.server_name.value == "site-b.test");
        CHECK(matches(b.directories) ==
              Strings{(tmp.path() / "site-b").string(), (tmp.path() / "site-b/private").string()});
        CHECK(b.base.headers.at(0).always);
        CHECK(b.base.error_documents.at(403).value.kind == ErrorDocument::Kind::text);
        SUBCASE("with -D STATUS the status page is published") {
            const LoadResult s = load_config(file, {"STATUS"});
            CHECK(s.errors.empty());
            REQUIRE(s.config.main.locations.size() == 1);
            CHECK(s.config.main.locations[0].settings.handler->value == "server-status");
        }
    }

} // TEST_SUITE
