#include "conf/lexer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using kahttpd::conf::lex;
using kahttpd::conf::LexResult;
using Words = std::vector<std::string>;

namespace {

/// The only line of `text`, which must lex without errors.
kahttpd::conf::LexedLine only_line(std::string_view text) {
    const LexResult r = lex(text);
    REQUIRE(r.errors.empty());
    REQUIRE(r.lines.size() == 1);
    return r.lines.front();
}

} // namespace

TEST_SUITE("conf") {

    TEST_CASE("lexer splits a directive into a name and arguments at blanks") {
        const auto l = only_line("  DirectoryIndex\tindex.html   index.htm \n");
        CHECK(l.line == 1);
        CHECK(l.name == "DirectoryIndex");
        CHECK(l.args == Words{"index.html", "index.htm"});
    }

    TEST_CASE("lexer skips blank lines and numbers lines from one") {
        const LexResult r = lex("\n   \n\t\nListen 80\n\nKeepAlive On");
        REQUIRE(r.errors.empty());
        REQUIRE(r.lines.size() == 2);
        CHECK(r.lines[0].line == 4);
        CHECK(r.lines[0].name == "Listen");
        CHECK(r.lines[1].line == 6);
        CHECK(r.lines[1].args == Words{"On"});
    }

    TEST_CASE("lexer skips a UTF-8 byte order mark at the start, and only there") {
        const auto l = only_line("\xEF\xBB\xBFListen 80\n");
        CHECK(l.line == 1);
        CHECK(l.name == "Listen");
        CHECK(l.args == Words{"80"});
        CHECK(only_line("\xEF\xBB\xBF# a comment\nKeepAlive On").line == 2);
        CHECK(only_line("ServerName \xEF\xBB\xBFx").args == Words{"\xEF\xBB\xBFx"});
    }

    TEST_CASE("lexer of empty text gives nothing") {
        const LexResult r = lex("");
        CHECK(r.lines.empty());
        CHECK(r.errors.empty());
    }

    TEST_CASE("lexer treats # as a comment only at the start of a line") {
        SUBCASE("a whole-line comment, indented or not") {
            const LexResult r = lex("# one\n    # two\n\t#three\nListen 80\n");
            REQUIRE(r.errors.empty());
            REQUIRE(r.lines.size() == 1);
            CHECK(r.lines[0].line == 4);
        }
        SUBCASE("a # after a directive is an ordinary byte, as in Apache") {
            const auto l = only_line("Listen 80 # the port\n");
            CHECK(l.args == Words{"80", "#", "the", "port"});
        }
        SUBCASE("a # inside a word is an ordinary byte") {
            CHECK(only_line("DirectoryIndex a#b").args == Words{"a#b"});
        }
    }

    TEST_CASE("lexer joins a line ending in a backslash with the next one") {
        SUBCASE("the backslash is removed and the next line's blanks separate the words") {
            const LexResult r = lex("Foo\n DirectoryIndex a \\\n    b \\\n  c\nListen 80\n");
            REQUIRE(r.errors.empty());
            REQUIRE(r.lines.size() == 3);
            CHECK(r.lines[1].line == 2);
            CHECK(r.lines[1].args == Words{"a", "b", "c"});
            CHECK(r.lines[2].line == 5);
        }
        SUBCASE("nothing is inserted at the join, as in Apache") {
            CHECK(only_line("DirectoryIndex ab\\\ncd\n").args == Words{"abcd"});
        }
        SUBCASE("a continuation may split a quoted argument") {
            CHECK(only_line("DocumentRoot \"/srv/my \\\nsite\"\n").args == Words{"/srv/my site"});
        }
        SUBCASE("a backslash followed by a blank is an ordinary byte") {
            const LexResult r = lex("DirectoryIndex a \\ \nListen 80\n");
            REQUIRE(r.lines.size() == 2);
            CHECK(r.lines[0].args == Words{"a", "\\"});
        }
        SUBCASE("a continuation on the last line ends the text") {
            CHECK(only_line("DirectoryIndex a \\\n").args == Words{"a"});
            CHECK(only_line("DirectoryIndex a \\").args == Words{"a"});
        }
        SUBCASE("a comment ending in a backslash swallows the next line, as in Apache") {
            const LexResult r = lex("# KeepAlive \\\nOff\nListen 80\n");
            REQUIRE(r.lines.size() == 1);
            CHECK(r.lines[0].name == "Listen");
            CHECK(r.lines[0].line == 3);
        }
    }

    TEST_CASE("lexer reads quoted arguments") {
        SUBCASE("double quotes keep blanks") {
            CHECK(only_line("DocumentRoot \"/srv/my site\"").args == Words{"/srv/my site"});
        }
        SUBCASE("single quotes keep blanks") {
            CHECK(only_line("DocumentRoot '/srv/my site'").args == Words{"/srv/my site"});
        }
        SUBCASE("an empty quoted argument is an empty word") {
            CHECK(only_line("DocumentRoot \"\" ''").args == Words{"", ""});
        }
        SUBCASE("escaped quote and backslash inside double quotes") {
            CHECK(only_line(R"(X "say \"hi\" \\o/")").args == Words{R"(say "hi" \o/)"});
        }
        SUBCASE("escaped single quote inside single quotes") {
            CHECK(only_line(R"(X 'it\'s' 'a"b')").args == Words{"it's", "a\"b"});
        }
        SUBCASE("other backslashes are kept") {
            CHECK(only_line(R"(X "C:\dir\n" "\.html$")").args ==
                  Words{R"(C:\dir\n)", R"(\.html$)"});
        }
        SUBCASE("a quote inside an unquoted word is an ordinary byte") {
            CHECK(only_line(R"(X a"b c'd)").args == Words{"a\"b", "c'd"});
        }
        SUBCASE("the > of a section tag may follow a closing quote") {
            const auto l = only_line("<Directory \"/srv/www\">");
            CHECK(l.name == "<Directory");
            CHECK(l.args == Words{"/srv/www", ">"});
        }
    }

    TEST_CASE("lexer leaves section tags and ${VAR} references to the loader") {
        const LexResult r = lex("<VirtualHost *:${PORT} [::1]:80>\r\n"
                                "  <Location '/a b'>\n"
                                "    Header set X-Root \"${ROOT}\\\"\" \\\r\n"
                                "      env=x\n"
                                "  </Location>\n"
                                "</VirtualHost>");
        REQUIRE(r.errors.empty());
        REQUIRE(r.lines.size() == 5);
        CHECK(r.lines[0].name == "<VirtualHost");
        CHECK(r.lines[0].args == Words{"*:${PORT}", "[::1]:80>"});
        CHECK(r.lines[1].args == Words{"/a b", ">"});
        CHECK(r.lines[2].line == 3);
        CHECK(r.lines[2].args == Words{"set", "X-Root", "${ROOT}\"", "env=x"});
        CHECK(r.lines[3].line == 5);
        CHECK(r.lines[3].name == "</Location>");
        CHECK(r.lines[3].args.empty());
        CHECK(r.lines[4].name == "</VirtualHost>");
    }

    TEST_CASE("lexer reports a quote left open at the end of the line") {
        const LexResult r = lex("Listen 80\nDocumentRoot \"/srv/www\nKeepAlive On\n");
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].line == 2);
        CHECK(r.errors[0].name == "DocumentRoot");
        CHECK(r.errors[0].message ==
              "expected a closing \" for the quoted argument, found the end of the line");
        // The broken line is dropped and the lines around it still come through.
        REQUIRE(r.lines.size() == 2);
        CHECK(r.lines[0].name == "Listen");
        CHECK(r.lines[1].name == "KeepAlive");

        SUBCASE("single quotes too, and a quoted name has no name to report") {
            const LexResult s = lex("'Keep Alive\n");
            REQUIRE(s.errors.size() == 1);
            CHECK(s.errors[0].name.empty());
            CHECK(s.errors[0].message ==
                  "expected a closing ' for the quoted argument, found the end of the line");
        }
    }

    TEST_CASE("lexer rejects text glued to a closing quote") {
        const LexResult r = lex("DocumentRoot \"/srv/www\"html\n");
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].message == "expected a blank after the closing \", found \"h\"");
        CHECK(r.lines.empty());
    }

    TEST_CASE("lexer accepts CRLF line ends") {
        const LexResult r = lex("# comment\r\nDirectoryIndex a \\\r\n  b\r\nKeepAlive \"On\"\r\n");
        REQUIRE(r.errors.empty());
        REQUIRE(r.lines.size() == 2);
        CHECK(r.lines[0].line == 2);
        CHECK(r.lines[0].args == Words{"a", "b"});
        CHECK(r.lines[1].line == 4);
        CHECK(r.lines[1].args == Words{"On"});
    }

    TEST_CASE("lexer passes UTF-8 bytes through") {
        const auto l =
            only_line("DocumentRoot \"/srv/caf\xc3\xa9 \xe2\x98\x95\" /srv/\xf0\x9f\x8c\x8d\n");
        CHECK(l.args == Words{"/srv/caf\xc3\xa9 \xe2\x98\x95", "/srv/\xf0\x9f\x8c\x8d"});
    }

    TEST_CASE("lexer rejects a NUL byte") {
        using namespace std::string_view_literals;
        const LexResult r = lex("Listen 80\nDocumentRoot /srv\0x\n"sv);
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].line == 2);
        CHECK(r.errors[0].message == "expected text, found a NUL byte");
        CHECK(r.lines.size() == 1);
    }

} // TEST_SUITE
