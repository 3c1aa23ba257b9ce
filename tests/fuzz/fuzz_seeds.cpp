// Writes the seed corpora of the fuzz targets into OUT/<target>/ (make fuzz runs it through the
// `fuzzers` build target; nothing it writes is committed):
//
// - request_parser: every golden case of tests/data/parser/*.http with its limits, in the
//   layout of parser_input.hpp, read with the unit tests' own loader (golden.hpp);
// - config: tests/data/conf/apache-style.conf and conf/httpd.conf, adapted to the fuzzer's temp
//   dir (no ${ROOT}, no absolute TypesConfig, which config_fuzzer would skip), and a few
//   hand-written sets of files that Include each other;
// - http: for each helper of http_fuzzer.cpp a few values, with the request targets and the
//   whole requests of the golden cases for resolve_target() and the access log.
//
// Usage: fuzz_seeds OUT

#include "tests/fuzz/parser_input.hpp"
#include "tests/unit/parser/golden.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace test = kahttpd::parser::test;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Corpus {
  public:
    Corpus(const fs::path& out, const std::string& name) : dir_(out / name) {
        fs::create_directories(dir_);
    }
    void add(std::string_view bytes) {
        const fs::path path = dir_ / ("seed-" + std::to_string(++count_));
        std::ofstream out(path, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            throw std::runtime_error("cannot write " + path.string());
        }
    }
    int count() const { return count_; }

  private:
    fs::path dir_;
    int count_ = 0;
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (std::size_t at = s.find(from); at != std::string::npos;
         at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
    }
    return s;
}

/// Files for config_fuzzer: main, a.conf ... in order, separated by NUL bytes.
std::string files(std::initializer_list<std::string_view> texts) {
    std::string out;
    bool first = true;
    for (const std::string_view t : texts) {
        if (!first) {
            out.push_back('\0');
        }
        first = false;
        out.append(t);
    }
    return out;
}

std::string u64le(std::uint64_t v) {
    std::string s;
    for (int i = 0; i < 8; ++i) {
        s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    return s;
}

std::string with_selector(char selector, std::string_view rest) {
    return std::string(1, selector) + std::string(rest);
}

/// The request target of a golden case's first request line, when it has one.
std::string target_of(std::string_view input) {
    const std::size_t sp = input.find(' ');
    if (sp == std::string_view::npos) {
        return {};
    }
    const std::size_t end = input.find_first_of(" \r\n", sp + 1);
    return std::string(input.substr(sp + 1, end == std::string_view::npos ? end : end - sp - 1));
}

void request_parser_seeds(Corpus& c, const std::vector<test::GoldenCase>& cases) {
    for (const test::GoldenCase& g : cases) {
        c.add(kahttpd::fuzz::encode_parser_input(g.limits, g.input));
    }
}

void config_seeds(Corpus& c) {
    const std::string apache_style = replace_all(
        replace_all(read_file(fs::path(KAHTTPD_TEST_DATA_DIR) / "conf" / "apache-style.conf"),
                    "ServerRoot \"${SITES}\"", "ServerRoot \".\""),
        "${PORT}", "8080");
    c.add(apache_style);
    c.add(files({apache_style, "", "", "", "", "Header set X-Conf-D on\n"}));
    const std::string shipped =
        replace_all(read_file(fs::path(KAHTTPD_SOURCE_DIR) / "conf" / "httpd.conf"),
                    "TypesConfig /etc/mime.types", "TypesConfig d.conf");
    const std::string mime = read_file(fs::path(KAHTTPD_TEST_DATA_DIR) / "conf" / "mime.types");
    c.add(files({shipped, "", "", "", mime}));

    // Sections and Includes spread over files, the forms Apache configurations take.
    c.add(files({"Listen 8080\n"
                 "ServerName main.test\n"
                 "Include a.conf\n"
                 "IncludeOptional conf.d/*.conf\n"
                 "<VirtualHost *:8080 [::1]:8081>\n"
                 "    ServerName x.test\n"
                 "    ServerAlias *.x.test y?.test\n"
                 "    DocumentRoot www\n"
                 "    Include b.conf\n"
                 "</VirtualHost>\n"
                 "<VirtualHost 127.0.0.1:8080>\n"
                 "    ServerName x.test\n"
                 "</VirtualHost>\n",
                 "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %{Referer}i\" short\n"
                 "CustomLog logs/access.log short\n"
                 "CustomLog /dev/stdout json\n"
                 "ErrorLog logs/error.log\n"
                 "Header always set X-Frame-Options DENY\n"
                 "ErrorDocument 404 /missing.html\n"
                 "AddType text/markdown .md\n",
                 "<Directory www/sub>\n"
                 "    Options +Indexes -FollowSymLinks\n"
                 "    Require ip 10.0.0.0/8 192.168.1\n"
                 "    FileETag MTime Size\n"
                 "</Directory>\n"
                 "<Location /private>\n"
                 "    Require local\n"
                 "    Header unset Server\n"
                 "    LimitRequestBody 1024\n"
                 "</Location>\n",
                 "", "", "<IfModule mod_headers.c>\n    Header set X-E e\n</IfModule>\n",
                 "<IfModule !mod_rewrite.c>\n    AddDefaultCharset utf-8\n</IfModule>\n"}));
    c.add(files({"Define SITE x.test\n"
                 "Listen 127.0.0.1:0\n"
                 "<IfDefine SITE>\n"
                 "  <VirtualHost *>\n"
                 "    ServerName ${SITE}\n"
                 "    Include c.conf\n"
                 "  </VirtualHost>\n"
                 "</IfDefine>\n"
                 "KeepAliveTimeout 200ms\n"
                 "RequestReadTimeout header=10-20,MinRate=100 body=5\n"
                 "MaxKeepAliveTime 30s 20\n"
                 "FileCacheSize 1048576\n"
                 "ServerTokens Prod\n"
                 "ServerSignature EMail\n",
                 "", "",
                 "<Location />\n"
                 "  SetHandler server-status\n"
                 "  Require all granted\n"
                 "</Location>\n"
                 "Options Indexes\n"
                 "MaxRanges 10\n"
                 "PrecompressedFiles On\n"
                 "EnableSendfile Off\n"}));
    // Errors: a typo, an unknown section, a cycle, a section left open in an included file.
    c.add(
        files({"Listen 8080\nKeepAliveTimout 5\n<VirtualHst *:80>\n</VirtualHst>\nInclude a.conf\n",
               "Include a.conf\n<Directory www>\n"}));
}

void http_seeds(Corpus& c, const std::vector<test::GoldenCase>& cases) {
    // 0: request targets.
    for (const std::string_view t :
         {"/", "/a/b/../c/./d/", "/%7Euser/%41?x=1#f", "http://h.test:8080/a?b", "http://h?a=/b",
          "/a/%2e%2e/b", "/%2F", "/.git/config", "/a\\b", "//x//y/", "/%00"}) {
        c.add(with_selector(0, t));
    }
    for (const test::GoldenCase& g : cases) {
        const std::string t = target_of(g.input);
        if (!t.empty()) {
            c.add(with_selector(0, t));
        }
    }
    // 1: Range values for a representation of 10000 bytes and for an empty one.
    for (const std::string_view r :
         {"bytes=0-499", "bytes=-500", "bytes=9500-", "bytes=0-0,-1", "bytes=500-600,601-999",
          "bytes= 0-1 , , 5-6", "BYTES=1-2", "items=0-1", "bytes=5-1",
          "bytes=0-"
          "18446744073709551616"}) {
        c.add(with_selector(1, u64le(10000) + std::string(1, '\xc8') + std::string(r)));
        c.add(with_selector(1, u64le(0) + std::string(1, '\0') + std::string(r)));
    }
    // 2: validators: now, Last-Modified, flags, then the current tag and the five fields.
    const std::string times = u64le(784111777 + 86400 * 365) + u64le(784111777);
    c.add(with_selector(2, times + "\x03" +
                               "\"abc\"\n\"abc\", W/\"x\"\n*\n"
                               "Sun, 06 Nov 1994 08:49:37 GMT\n"
                               "Sunday, 06-Nov-94 08:49:37 GMT\n"
                               "Sun Nov  6 08:49:37 1994"));
    c.add(with_selector(2, times + "\x07" +
                               "W/\"1-2\"\nW/\"1-2\"\n\"1-2\"\n"
                               "Thu, 29 Feb 2024 23:59:60 GMT\n"
                               " Mon, 01 Jan 2001 00:00:00 GMT \n\"1-2\""));
    // 3: Accept-Encoding.
    for (const std::string_view a :
         {"gzip, deflate, br", "br;q=0.5, gzip;q=0.8", "*;q=0, identity", "x-gzip;q=1.000",
          "identity;q=1, gzip;q=0.5", "gzip;q=1.5", ""}) {
        c.add(with_selector(3, "\x03" + std::string(a)));
    }
    // 4: access log: status, flags, time, then format NUL request NUL ServerName.
    const std::string head = std::string("\xc8\x00\x02", 3) + u64le(1700000000);
    for (const std::string_view f :
         {"%h %l %u %t \"%r\" %>s %b",
          "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"",
          "%v %m %U%q %H %X %k %D %{ms}T %T %B %{close-reason}x %%", "%{unclosed", "json"}) {
        std::string rest = head + std::string(f);
        rest.push_back('\0');
        rest += "GET /a%20b?q=\"x\" HTTP/1.1\r\nHost: h.test\r\nUser-Agent: t\x01\xff\r\n\r\n";
        rest.push_back('\0');
        rest += "h.test";
        c.add(with_selector(4, rest));
    }
    for (const test::GoldenCase& g : cases) {
        c.add(
            with_selector(4, head + "%h \"%r\" %>s \"%{Host}i\"" + std::string(1, '\0') + g.input));
    }
    // 5: PROXY protocol headers, v1 and v2 (PROXY over TCP/IPv4 with a TLV, and LOCAL).
    const std::string sig("\r\n\r\n\0\r\nQUIT\n", 12);
    for (const std::string& h :
         {std::string("PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\n\r\n"),
          std::string("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"), std::string("PROXY UNKNOWN\r\n"),
          sig + std::string("\x21\x11\x00\x12\xc0\x00\x02\x07\x7f\x00\x00\x01\x9c\x40"
                            "\x00\x50\x05\x00\x03"
                            "abc",
                            22),
          sig + std::string("\x20\x00\x00\x00", 4)}) {
        c.add(with_selector(5, h));
    }
    // 6: X-Forwarded-For walks: one internal proxy 127.0.0.0/104 (IPv4 mapped), peer 127.0.0.1.
    std::string walk("\x01", 1);
    walk += std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\0", 16) + "\x68";
    walk += std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01", 16);
    c.add(with_selector(6, walk + "203.0.113.9, 127.0.0.2"));
    c.add(with_selector(6, walk + "[2001:db8::1], unknown, 10.0.0.1"));
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_seeds OUT\n");
        return 2;
    }
    try {
        const fs::path out = argv[1];
        const std::vector<test::GoldenCase> cases = test::load_all_cases();
        Corpus parser(out, "request_parser_fuzzer");
        request_parser_seeds(parser, cases);
        Corpus config(out, "config_fuzzer");
        config_seeds(config);
        Corpus http(out, "http_fuzzer");
        http_seeds(http, cases);
        std::printf("fuzz_seeds: %d request_parser, %d config, %d http seeds in %s\n",
                    parser.count(), config.count(), http.count(), out.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
