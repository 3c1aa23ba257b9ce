#include "server/obs/access_log.hpp"

#include "parser/request_parser.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

using kahttpd::parser::ParseEvent;
using kahttpd::parser::Request;
using kahttpd::parser::RequestParser;
using kahttpd::server::AccessLogFormat;
using kahttpd::server::AccessRecord;
using kahttpd::server::kPendingClose;
using kahttpd::server::kPendingKeepAlive;
using kahttpd::server::resolve_connection_status;

namespace {

/// 2023-11-14 22:13:20 UTC (`date -u -d @1700000000`).
constexpr std::time_t kTime = 1700000000;

/// A request parsed from raw bytes, as the connection hands it to the logger.
Request parsed(std::string_view raw) {
    RequestParser parser;
    const auto result = parser.feed(raw);
    REQUIRE(result.event == ParseEvent::message_complete);
    REQUIRE(result.consumed == raw.size());
    return parser.request();
} // TEST_SUITE

/// A keep-alive response of 1234 bytes to the fourth request of a connection.
AccessRecord record(const Request* request) {
    AccessRecord r;
    r.client = "192.0.2.7";
    r.time = kTime;
    r.request = request;
    r.status = 200;
    r.body_bytes = 1234;
    r.duration_us = 2345678;
    r.previous_requests = 3;
    r.keep_alive = true;
    r.server_name = "www.example.com";
    return r;
} // TEST_SUITE

/// One line as the formatter writes it (%X still a placeholder).
std::string format_line(std::string_view format, const AccessRecord& r) {
    std::string out;
    AccessLogFormat(format).append(out, r);
    return out;
} // TEST_SUITE

/// One line as it reaches the log file: %X resolved, as the worker does on commit.
std::string committed_line(std::string_view format, const AccessRecord& r, bool aborted = false) {
    std::string out = format_line(format, r);
    resolve_connection_status(out.data(), out.size(), aborted);
    return out;
} // TEST_SUITE

constexpr std::string_view kGet = "GET /index.html?a=1&b=2 HTTP/1.1\r\n"
                                  "Host: example.com\r\n"
                                  "User-Agent: curl/8.0\r\n"
                                  "Referer: http://ref.example/\r\n"
                                  "\r\n";

/// Sets TZ for one test and puts the old value back, so %t can be checked against a local
/// time zone that is not UTC.
class TimeZoneGuard {
  public:
    explicit TimeZoneGuard(const char* tz) {
        if (const char* old = std::getenv("TZ")) {
            old_ = old;
        }
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    TimeZoneGuard(const TimeZoneGuard&) = delete;
    TimeZoneGuard& operator=(const TimeZoneGuard&) = delete;
    ~TimeZoneGuard() {
        if (old_) {
            ::setenv("TZ", old_->c_str(), 1);
        } else {
            ::unsetenv("TZ");
        }
        ::tzset();
    }

  private:
    std::optional<std::string> old_;
};

} // namespace

TEST_SUITE("server") {

    TEST_CASE("the common format writes Apache's common log line") {
        const Request req = parsed(kGet);
        CHECK(format_line("%h %l %u %t \"%r\" %>s %b", record(&req)) ==
              "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /index.html?a=1&b=2 HTTP/1.1\" "
              "200 1234\n");
    }

    TEST_CASE("the combined format adds the referer and user agent, or dashes without them") {
        constexpr std::string_view kCombined =
            "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
        SUBCASE("both sent") {
            const Request req = parsed(kGet);
            CHECK(format_line(kCombined, record(&req)) ==
                  "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /index.html?a=1&b=2 "
                  "HTTP/1.1\" 200 1234 \"http://ref.example/\" \"curl/8.0\"\n");
        }
        SUBCASE("neither sent") {
            const Request req = parsed("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
            AccessRecord r = record(&req);
            r.body_bytes = 0;
            CHECK(format_line(kCombined, r) ==
                  "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"HEAD / HTTP/1.1\" 200 - \"-\" "
                  "\"-\"\n");
        }
    }

    TEST_CASE("%h and %a write the client address, %l and %u a dash") {
        const Request req = parsed(kGet);
        CHECK(format_line("%h|%a|%l|%u", record(&req)) == "192.0.2.7|192.0.2.7|-|-\n");
        AccessRecord r = record(&req);
        r.client = "2001:db8::1";
        CHECK(format_line("%h", r) == "2001:db8::1\n");
    }

    TEST_CASE("%A is the address the client reached, %p and %{local}p its port, %{remote}p "
              "the client's port") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        CHECK(format_line("%A", r) == "-\n"); // (no connection)
        kahttpd::server::IpBytes v4{};
        v4[10] = v4[11] = 0xff;
        v4[12] = 198;
        v4[13] = 51;
        v4[14] = 100;
        v4[15] = 9;
        r.local_ip = &v4;
        r.local_port = 8443;
        r.remote_port = 50123;
        CHECK(format_line("%A %p %{local}p %{canonical}p %{remote}p", r) ==
              "198.51.100.9 8443 8443 8443 50123\n");
        kahttpd::server::IpBytes v6{};
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = 0xb8;
        v6[15] = 1;
        r.local_ip = &v6;
        CHECK(format_line("%A", r) == "2001:db8::1\n");
    }

    TEST_CASE("%t is Apache's bracketed time in UTC whatever the local time zone") {
        const TimeZoneGuard tz("EST5EDT");
        AccessRecord r = record(nullptr);
        SUBCASE("an afternoon that is another day in New York") {
            CHECK(format_line("%t", r) == "[14/Nov/2023:22:13:20 +0000]\n");
        }
        SUBCASE("one-digit fields are zero-padded") {
            r.time = 1704070805; // 2024-01-01 01:00:05 UTC, still 2023 in New York
            CHECK(format_line("%t", r) == "[01/Jan/2024:01:00:05 +0000]\n");
        }
        SUBCASE("the epoch") {
            r.time = 0;
            CHECK(format_line("%t", r) == "[01/Jan/1970:00:00:00 +0000]\n");
        }
    }

    TEST_CASE("%t follows the time from one line to the next") {
        // The text is kept per second: a stale copy would repeat the earlier second.
        AccessRecord r = record(nullptr);
        const AccessLogFormat format("%t");
        std::string out;
        for (const std::time_t t : {kTime, kTime, kTime + 1, kTime - 86400, kTime + 1}) {
            r.time = t;
            format.append(out, r);
        }
        CHECK(out == "[14/Nov/2023:22:13:20 +0000]\n[14/Nov/2023:22:13:20 +0000]\n"
                     "[14/Nov/2023:22:13:21 +0000]\n[13/Nov/2023:22:13:20 +0000]\n"
                     "[14/Nov/2023:22:13:21 +0000]\n");
    }

    TEST_CASE("only formats with %X or json leave placeholders to resolve") {
        CHECK(AccessLogFormat("%X").writes_status_marks());
        CHECK(AccessLogFormat("%h %>{X}s %X").writes_status_marks());
        CHECK(AccessLogFormat("json").writes_status_marks());
        CHECK_FALSE(AccessLogFormat("%h %l %u %t \"%r\" %>s %b").writes_status_marks());
        CHECK_FALSE(AccessLogFormat("%{X}i %{close-reason}x %%X").writes_status_marks());
    }

    TEST_CASE("%r is the request line with its query and the version sent") {
        SUBCASE("HTTP/1.1 with a query") {
            const Request req = parsed(kGet);
            CHECK(format_line("%r", record(&req)) == "GET /index.html?a=1&b=2 HTTP/1.1\n");
        }
        SUBCASE("HTTP/1.0") {
            const Request req = parsed("GET /old HTTP/1.0\r\n\r\n");
            CHECK(format_line("%r", record(&req)) == "GET /old HTTP/1.0\n");
        }
        SUBCASE("asterisk-form") {
            const Request req = parsed("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%r", record(&req)) == "OPTIONS * HTTP/1.1\n");
        }
        SUBCASE("absolute-form stays as sent") {
            const Request req = parsed("GET http://example.com/p?x HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%r", record(&req)) == "GET http://example.com/p?x HTTP/1.1\n");
        }
    }

    TEST_CASE("%m, %U, %q and %H split the request line") {
        SUBCASE("a path with a query") {
            const Request req = parsed(kGet);
            CHECK(format_line("%m|%U|%q|%H", record(&req)) ==
                  "GET|/index.html|?a=1&b=2|HTTP/1.1\n");
        }
        SUBCASE("no query makes %q empty, not a dash") {
            const Request req = parsed("POST /form HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
            CHECK(format_line("%m|%U|%q|%H", record(&req)) == "POST|/form||HTTP/1.0\n");
        }
        SUBCASE("an empty query keeps its question mark") {
            const Request req = parsed("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%U|%q", record(&req)) == "/p|?\n");
        }
    }

    TEST_CASE("%U of an absolute-form target is its path, without scheme and authority") {
        // Apache's %U is r->uri, the path; RFC 9112 §3.2.2 requires servers to accept
        // absolute-form, so the authority must not end up in the path column.
        SUBCASE("with a path and a query") {
            const Request req =
                parsed("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%U|%q", record(&req)) == "/a/b|?x=1\n");
        }
        SUBCASE("with a port") {
            const Request req = parsed("GET http://example.com:8080/p HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%U", record(&req)) == "/p\n");
        }
        SUBCASE("without a path") {
            const Request req = parsed("GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%U", record(&req)) == "/\n");
        }
        SUBCASE("without a path but with a query holding a slash") {
            const Request req = parsed("GET http://example.com?u=/etc HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(format_line("%U|%q", record(&req)) == "/|?u=/etc\n");
        }
    }

    TEST_CASE("%s, %>s and %<s all write the one status kahttpd has") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        r.status = 304;
        CHECK(format_line("%s %>s", r) == "304 304\n");
        // Apache's '<' asks for the original request's status; without internal redirects
        // it is the same status, and the modifier must not leak as "-s".
        CHECK(format_line("%<s", r) == "304\n");
        // Modifiers may precede the braces, as in Apache's "%>{Referer}i".
        CHECK(format_line("%>{Host}i %<{Host}i", r) == "example.com example.com\n");
    }

    TEST_CASE("%b writes a dash for no body bytes where %B writes 0") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        SUBCASE("some bytes") {
            CHECK(format_line("%b %B", r) == "1234 1234\n");
        }
        SUBCASE("no bytes") {
            r.body_bytes = 0;
            CHECK(format_line("%b %B", r) == "- 0\n");
        }
        SUBCASE("more than 32 bits") {
            r.body_bytes = 5'000'000'000;
            CHECK(format_line("%b %B", r) == "5000000000 5000000000\n");
        }
    }

    TEST_CASE("%D and %T write the duration, truncated to the unit") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req); // 2.345678 s
        CHECK(format_line("%D %T %{us}T %{ms}T %{s}T", r) == "2345678 2 2345678 2345 2\n");
        r.duration_us = 999;
        CHECK(format_line("%D %T %{ms}T", r) == "999 0 0\n");
    }

    TEST_CASE("%k counts the earlier requests on the connection") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        CHECK(format_line("%k", r) == "3\n");
        r.previous_requests = 0;
        CHECK(format_line("%k", r) == "0\n");
    }

    TEST_CASE("%X is a placeholder until commit resolves it to +, - or X") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        SUBCASE("kept alive") {
            CHECK(format_line("[%X]", r) == std::string("[") + kPendingKeepAlive + "]\n");
            CHECK(committed_line("[%X]", r) == "[+]\n");
            CHECK(committed_line("[%X]", r, true) == "[X]\n");
        }
        SUBCASE("closed after the response") {
            r.keep_alive = false;
            CHECK(format_line("[%X]", r) == std::string("[") + kPendingClose + "]\n");
            CHECK(committed_line("[%X]", r) == "[-]\n");
            CHECK(committed_line("[%X]", r, true) == "[X]\n");
        }
        SUBCASE("every placeholder of a batch of lines is resolved") {
            std::string out;
            const AccessLogFormat format("%X %X");
            format.append(out, r);
            r.keep_alive = false;
            format.append(out, r);
            resolve_connection_status(out.data(), out.size(), false);
            CHECK(out == "+ +\n- -\n");
        }
    }

    TEST_CASE("%{close-reason}x is the reason only when the connection closes") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        r.close_reason = "client_requested";
        CHECK(format_line("%{close-reason}x", r) == "-\n"); // kept alive: no reason yet
        r.keep_alive = false;
        CHECK(format_line("%{close-reason}x", r) == "client_requested\n");
        r.close_reason = {};
        CHECK(format_line("%{close-reason}x", r) == "-\n");
        CHECK(format_line("%{other}x %x", r) == "- -\n");
    }

    TEST_CASE("%v writes the server name, or a dash without one") {
        AccessRecord r = record(nullptr);
        CHECK(format_line("%v", r) == "www.example.com\n");
        r.server_name = {};
        CHECK(format_line("%v", r) == "-\n");
    }

    TEST_CASE("%{Name}i finds the first field whatever its case, or writes a dash") {
        const Request req = parsed("GET / HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nx-dup: two\r\n"
                                   "X-Empty:\r\n\r\n");
        const AccessRecord r = record(&req);
        CHECK(format_line("%{host}i|%{HOST}i", r) == "a|a\n");
        CHECK(format_line("%{X-Dup}i", r) == "one\n");
        CHECK(format_line("%{X-Missing}i", r) == "-\n");
        CHECK(format_line("[%{X-Empty}i]", r) == "[]\n"); // present but empty is not missing
        CHECK(format_line("%{}i", r) == "-\n");
    }

    TEST_CASE("a response to a request that never parsed writes dashes") {
        // A 400 before the request line was complete: the connection logs it without a
        // Request.
        RequestParser parser;
        REQUIRE(parser.feed("G\x01T / HTTP/1.1\r\n\r\n").event == ParseEvent::error);
        AccessRecord r = record(nullptr);
        r.status = static_cast<unsigned>(parser.error_status());
        REQUIRE(r.status == 400);
        r.body_bytes = 0;
        r.keep_alive = false;
        r.close_reason = "parse_error";
        CHECK(committed_line("%h %l %u %t \"%r\" %>s %b %B \"%{User-Agent}i\" %m %U [%q] %H "
                             "%X %{close-reason}x",
                             r) == "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"-\" 400 - 0 \"-\" "
                                   "- - [] - - parse_error\n");
    }

    TEST_CASE("client text is escaped Apache's way so a line cannot be split or forged") {
        SUBCASE("quotes and backslashes get a backslash") {
            const Request req =
                parsed("GET / HTTP/1.1\r\nUser-Agent: a\"b\\c\" \"x\r\nReferer: \\\"\r\n\r\n");
            CHECK(format_line("\"%{User-Agent}i\" \"%{Referer}i\"", record(&req)) ==
                  "\"a\\\"b\\\\c\\\" \\\"x\" \"\\\\\\\"\"\n");
        }
        SUBCASE("control bytes and bytes above 0x7e are \\xNN in lower-case hex") {
            // llhttp refuses raw high bytes in the target, but a field value may carry them
            // (obs-text) and a tab.
            const Request req = parsed("GET /a\"\\?q=\"\\ HTTP/1.1\r\n"
                                       "User-Agent: a\tb\x80\xfe caf\xc3\xa9\r\n\r\n");
            CHECK(format_line("%r|%U|%q|%{User-Agent}i", record(&req)) ==
                  "GET /a\\\"\\\\?q=\\\"\\\\ HTTP/1.1|/a\\\"\\\\|?q=\\\"\\\\|"
                  "a\\x09b\\x80\\xfe caf\\xc3\\xa9\n");
        }
        SUBCASE("a newline or a placeholder byte in logged text stays visible text") {
            // The server name comes from the configuration, not the client, but goes through
            // the same escaper; raw \x01 or \x02 would be taken for %X placeholders.
            AccessRecord r = record(nullptr);
            r.server_name = "a\nb\r\x01\x02\x7f";
            CHECK(committed_line("%v", r) == "a\\x0ab\\x0d\\x01\\x02\\x7f\n");
        }
        SUBCASE("whatever was sent, one line is one line") {
            const Request req =
                parsed("GET /a%0a\"b HTTP/1.1\r\nUser-Agent: \" 200 1 \"x\xc2\x85\r\n\r\n");
            const std::string line = format_line("\"%r\" \"%{User-Agent}i\"", record(&req));
            CHECK(std::count(line.begin(), line.end(), '\n') == 1);
            CHECK(line == "\"GET /a%0a\\\"b HTTP/1.1\" \"\\\" 200 1 \\\"x\\xc2\\x85\"\n");
        }
    }

    TEST_CASE("json writes every field of a parsed request as one object per line") {
        const Request req = parsed(kGet);
        AccessRecord r = record(&req);
        const std::string pending = format_line("json", r);
        CHECK(pending == std::string("{\"time\":1700000000,\"client\":\"192.0.2.7\","
                                     "\"method\":\"GET\",\"target\":\"/index.html?a=1&b=2\","
                                     "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":1234,"
                                     "\"duration_us\":2345678,\"keepalive_requests\":3,"
                                     "\"connection\":\"") +
                             kPendingKeepAlive +
                             "\",\"close_reason\":\"\",\"host\":\"example.com\","
                             "\"user_agent\":\"curl/8.0\"}\n");

        SUBCASE("kept alive") {
            const auto j = nlohmann::json::parse(committed_line("json", r));
            CHECK(j["connection"] == "+");
            CHECK(j["close_reason"] == "");
        }
        SUBCASE("closed, with its reason") {
            r.keep_alive = false;
            r.close_reason = "max_requests";
            const auto j = nlohmann::json::parse(committed_line("json", r));
            CHECK(j["connection"] == "-");
            CHECK(j["close_reason"] == "max_requests");
        }
        SUBCASE("aborted") {
            const auto j = nlohmann::json::parse(committed_line("json", r, true));
            CHECK(j["connection"] == "X");
        }
        SUBCASE("a kept-alive line has no close reason even when one is set") {
            r.close_reason = "client_requested";
            const auto j = nlohmann::json::parse(committed_line("json", r));
            CHECK(j["close_reason"] == "");
        }
    }

    TEST_CASE("json for a request that never parsed has empty strings, not dashes") {
        AccessRecord r = record(nullptr);
        r.status = 400;
        r.body_bytes = 0;
        r.keep_alive = false;
        r.close_reason = "parse_error";
        CHECK(committed_line("json", r) ==
              "{\"time\":1700000000,\"client\":\"192.0.2.7\",\"method\":\"\",\"target\":\"\","
              "\"protocol\":\"\",\"status\":400,\"bytes\":0,\"duration_us\":2345678,"
              "\"keepalive_requests\":3,\"connection\":\"-\",\"close_reason\":\"parse_error\","
              "\"host\":\"\",\"user_agent\":\"\"}\n");
    }

    TEST_CASE("json keeps UTF-8 text and escapes quotes, controls and other bytes as \\u00NN") {
        const Request req = parsed("GET /p?q=\"\\ HTTP/1.1\r\nHost: h\"\r\n"
                                   "User-Agent: a\tb\\\"caf\xc3\xa9\xff\r\n\r\n");
        const std::string line = committed_line("json", record(&req));
        CHECK(line.find(R"("target":"/p?q=\"\\")") != std::string::npos);
        CHECK(line.find(R"("host":"h\"")") != std::string::npos);
        // "é" is well-formed UTF-8 and stays as it is; the lone 0xff is escaped.
        CHECK(line.find("\"user_agent\":\"a\\u0009b\\\\\\\"caf\xc3\xa9\\u00ff\"") !=
              std::string::npos);
        CHECK(std::count(line.begin(), line.end(), '\n') == 1);
        const auto j = nlohmann::json::parse(line);
        CHECK(j["target"] == "/p?q=\"\\");
        CHECK(j["host"] == "h\"");
        CHECK(j["user_agent"] == "a\tb\\\"caf\xc3\xa9\xc3\xbf");
    }

    TEST_CASE("json escapes bytes that are not well-formed UTF-8, and C1 controls") {
        struct Case {
            const char* ua;
            const char* logged;
        };
        for (const Case& c : {
                 Case{"\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok"},       // U+1F600 as it is
                 Case{"\xe2\x82\xac", "\xe2\x82\xac"},                     // U+20AC as it is
                 Case{"\xc0\xaf", "\\u00c0\\u00af"},                       // overlong '/'
                 Case{"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},            // a surrogate
                 Case{"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"}, // above U+10FFFF
                 Case{"x\xe2\x82", "x\\u00e2\\u0082"},                     // cut short
                 Case{"\xc2\x85", "\\u0085"},                              // C1 control (NEL)
             }) {
            CAPTURE(c.ua);
            const Request req = parsed(std::string("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: ") +
                                       c.ua + "\r\n\r\n");
            const std::string line = committed_line("json", record(&req));
            CHECK(line.find(std::string("\"user_agent\":\"") + c.logged + "\"") !=
                  std::string::npos);
            CHECK_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded());
        }
    }

    TEST_CASE("literal text and %% are copied, unknown codes become a dash") {
        const Request req = parsed(kGet);
        const AccessRecord r = record(&req);
        CHECK(format_line("status=%s 100%% done", r) == "status=200 100% done\n");
        CHECK(format_line("%%s %%%s", r) == "%s %200\n");
        CHECK(format_line("%z|%e|%{FOO}e|%P", r) == "-|-|-|-\n");
        CHECK(format_line("no codes at all", r) == "no codes at all\n");
        CHECK(format_line("", r) == "\n");
    }

    TEST_CASE("a format ending in a lone % or an unclosed brace keeps the text") {
        const Request req = parsed(kGet);
        const AccessRecord r = record(&req);
        CHECK(format_line("%s %", r) == "200 %\n");
        CHECK(format_line("%", r) == "%\n");
        CHECK(format_line("%s %{Host", r) == "200 %{Host\n");
        CHECK(format_line("%>{Host", r) == "%>{Host\n");
    }

    TEST_CASE("a compiled format appends to the output and can be reused") {
        const Request req = parsed(kGet);
        const AccessLogFormat format("%s %b");
        std::string out = "earlier\n";
        AccessRecord r = record(&req);
        format.append(out, r);
        r.status = 404;
        r.body_bytes = 0;
        format.append(out, r);
        CHECK(out == "earlier\n200 1234\n404 -\n");
    }
} // TEST_SUITE
