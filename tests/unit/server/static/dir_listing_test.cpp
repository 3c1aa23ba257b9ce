#include "server/static/dir_listing.hpp"

#include "server/http/target_path.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using kahttpd::server::DirEntry;
using kahttpd::server::percent_decode;
using kahttpd::server::read_directory;
using kahttpd::server::render_html;
using kahttpd::server::render_json;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT.
constexpr std::time_t kExample = 784111777;

/// A temporary directory, removed with its contents at the end of the scope.
class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kahttpd-dir-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    void write(const std::string& name, std::string_view content) const {
        std::ofstream(path_ / name, std::ios::binary) << content;
    }

  private:
    std::filesystem::path path_;
};

/// Opens a directory the way the server would and closes it at the end of the scope.
class DirFd {
  public:
    explicit DirFd(const std::filesystem::path& p)
        : fd_(open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        REQUIRE(fd_ >= 0);
    }
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
    ~DirFd() { close(fd_); }
    int get() const { return fd_; }

  private:
    int fd_;
};

std::vector<std::string> names(const std::vector<DirEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) {
        out.push_back(e.name);
    }
    return out;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string_view::npos;
         pos = haystack.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

DirEntry file(std::string name, std::uint64_t size = 12) {
    return {std::move(name), false, false, size, kExample};
}

DirEntry dir(std::string name) {
    return {std::move(name), true, false, 4096, kExample};
}

DirEntry link(std::string name) {
    return {std::move(name), false, true, 0, 0};
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("a directory is read without hidden or unservable entries, directories first") {
        TempDir tmp;
        tmp.write("b.txt", "hello world\n");
        tmp.write("a.txt", "");
        tmp.write("Zed", "z");
        tmp.write(".hidden", "secret");
        tmp.write("with space & <tag>", "x");
        std::filesystem::create_directory(tmp.path() / "sub");
        std::filesystem::create_directory(tmp.path() / "adir");
        std::filesystem::create_directory(tmp.path() / ".git");
        std::filesystem::create_symlink("b.txt", tmp.path() / "link");
        std::filesystem::create_symlink("missing", tmp.path() / "broken");
        std::filesystem::create_directory_symlink("sub", tmp.path() / "sublink");
        REQUIRE(mkfifo((tmp.path() / "pipe").c_str(), 0600) == 0);

        DirFd fd(tmp.path());
        std::vector<DirEntry> entries = {file("stale")};
        REQUIRE(read_directory(fd.get(), entries));
        // Byte order: upper case before lower case, ' ' before letters. Symlinks (broken ones
        // too) are listed by name only, among the files: their target may be outside the root.
        CHECK(names(entries) == std::vector<std::string>{"adir", "sub", "Zed", "a.txt", "b.txt",
                                                         "broken", "link", "sublink",
                                                         "with space & <tag>"});
        for (const auto& e : entries) {
            CAPTURE(e.name);
            const bool is_link = e.name == "link" || e.name == "broken" || e.name == "sublink";
            CHECK(e.is_dir == (e.name == "adir" || e.name == "sub"));
            CHECK(e.is_link == is_link);
            CHECK((e.mtime > 0) == !is_link);
            if (is_link) {
                CHECK(e.size == 0); // nothing of the target shows
            }
        }
        CHECK(entries[3].size == 0);
        CHECK(entries[4].size == 12);

        SUBCASE("the caller's descriptor stays open and reusable") {
            struct stat st {};
            CHECK(fstat(fd.get(), &st) == 0);
            std::vector<DirEntry> again;
            REQUIRE(read_directory(fd.get(), again));
            CHECK(names(again) == names(entries));
        }
    }

    TEST_CASE("an empty directory reads as no entries") {
        TempDir tmp;
        tmp.write(".only-hidden", "");
        DirFd fd(tmp.path());
        std::vector<DirEntry> entries = {file("stale")};
        REQUIRE(read_directory(fd.get(), entries));
        CHECK(entries.empty());
    }

    TEST_CASE("reading a bad descriptor fails with errno") {
        std::vector<DirEntry> entries;
        errno = 0;
        CHECK_FALSE(read_directory(-1, entries));
        CHECK(errno == EBADF);
        TempDir tmp;
        tmp.write("f", "");
        const int f = open((tmp.path() / "f").c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(f >= 0);
        errno = 0;
        CHECK_FALSE(read_directory(f, entries));
        CHECK(errno == ENOTDIR);
        close(f);
    }

    TEST_CASE("the HTML listing has a title, a parent link and one row per entry") {
        const std::vector<DirEntry> entries = {dir("sub"), file("a.txt", 1234)};
        const std::string html = render_html("/docs/", entries);
        CHECK(html.starts_with("<!DOCTYPE html>\n"));
        CHECK(html.find("<meta charset=\"utf-8\">") != std::string::npos);
        CHECK(html.find("<title>Index of /docs/</title>") != std::string::npos);
        CHECK(html.find("<h1>Index of /docs/</h1>") != std::string::npos);
        CHECK(html.find("<a href=\"../\">../</a>") != std::string::npos);
        CHECK(html.find("<tr><td><a href=\"sub/\">sub/</a></td><td>1994-11-06 08:49</td>"
                        "<td>-</td></tr>") != std::string::npos);
        CHECK(html.find("<tr><td><a href=\"a.txt\">a.txt</a></td><td>1994-11-06 08:49</td>"
                        "<td>1234</td></tr>") != std::string::npos);
        CHECK(html.find("sub/") < html.find("a.txt")); // the given order is kept
        CHECK(html.ends_with("</html>\n"));

        SUBCASE("the root has no parent link") {
            const std::string root = render_html("/", entries);
            CHECK(root.find("../") == std::string::npos);
            CHECK(root.find("<title>Index of /</title>") != std::string::npos);
        }
        SUBCASE("an empty directory still renders a table") {
            const std::string empty = render_html("/e/", {});
            CHECK(empty.find("<tbody>") != std::string::npos);
            CHECK(count(empty, "<tr>") == 2); // heading and parent
        }
    }

    // The modification time of a file on tmpfs may be any 64-bit second; found for
    // format_http_date() by http_fuzzer, and the listing's own date had the same overflow.
    TEST_CASE("a modification time past year 9999 shows as the end of 9999") {
        DirEntry far = file("far");
        far.mtime = std::time_t{67767987341548800}; // tm_year + 1900 would overflow
        DirEntry farther = file("farther");
        farther.mtime = std::numeric_limits<std::time_t>::max(); // gmtime_r would fail
        const std::string html = render_html("/", {far, farther});
        CHECK(count(html, "<td>9999-12-31 23:59</td>") == 2);
        const auto parsed = nlohmann::json::parse(render_json("/", {far, farther}));
        CHECK(parsed["entries"][0]["mtime"] == "Fri, 31 Dec 9999 23:59:59 GMT");
        CHECK(parsed["entries"][1]["mtime"] == "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    TEST_CASE("names are HTML-escaped in text and percent-encoded in links") {
        struct Case {
            std::string name;
            bool is_dir;
            std::string_view href; // as it appears in the attribute
            std::string_view text; // as it appears between the tags
        };
        const Case cases[] = {
            {R"(<script>"&')", false, "%3Cscript%3E%22&amp;&#39;",
             R"(&lt;script&gt;&quot;&amp;&#39;)"},
            {R"(a b"%#?.txt)", false, "a%20b%22%25%23%3F.txt", "a b&quot;%#?.txt"},
            {"with space", true, "with%20space/", "with space/"},
            {"a:b", false, "./a:b", "a:b"}, // not a URI scheme
            {"caf\xC3\xA9", false, "caf%C3%A9", "caf\xC3\xA9"},
            {"bad\xFF", false, "bad%FF", "bad\xEF\xBF\xBD"},
            {"tab\there", false, "tab%09here", "tab\xEF\xBF\xBDhere"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.name);
            const std::string html = render_html("/", {{c.name, c.is_dir, 1, kExample}});
            const std::string row =
                "<a href=\"" + std::string(c.href) + "\">" + std::string(c.text) + "</a>";
            CHECK(html.find(row) != std::string::npos);
        }
    }

    TEST_CASE("a symbolic link is listed by name, with no date, size or type") {
        const std::vector<DirEntry> entries = {link("to-etc"), file("a.txt", 7)};
        const std::string html = render_html("/d/", entries);
        CHECK(html.find("<tr><td><a href=\"to-etc\">to-etc</a></td><td>-</td><td>-</td></tr>") !=
              std::string::npos);
        CHECK(html.find("1970") == std::string::npos);
        const auto json = nlohmann::json::parse(render_json("/d/", entries));
        CHECK(json["entries"][0] ==
              nlohmann::json{{"name", "to-etc"}, {"href", "to-etc"}, {"type", "link"}});
        CHECK(json["entries"][1]["size"] == 7);
    }

    TEST_CASE("control characters and markup never reach the HTML raw") {
        const std::vector<DirEntry> entries = {
            file("crlf\r\nSet-Cookie: x=1"),
            file("<img src=x onerror=alert(1)>"),
            dir("\"><script>alert(1)</script>"),
            file(std::string("nul\0byte", 8)),
        };
        const std::string html = render_html("/<b>\r\n/", entries);
        CHECK(html.find('\r') == std::string::npos);
        CHECK(html.find('\0') == std::string::npos);
        CHECK(html.find("\nSet-Cookie") == std::string::npos);
        CHECK(html.find("<img") == std::string::npos);
        CHECK(html.find("<script") == std::string::npos);
        CHECK(html.find("<b>") == std::string::npos);
        CHECK(html.find("Index of /&lt;b&gt;\xEF\xBF\xBD\xEF\xBF\xBD/") != std::string::npos);
        CHECK(html.find("href=\"crlf%0D%0ASet-Cookie:%20x=1\"") == std::string::npos); // ':'
        CHECK(html.find("href=\"./crlf%0D%0ASet-Cookie:%20x=1\"") != std::string::npos);
        // Names cannot open rows of their own: the parent row plus one per entry.
        CHECK(count(html, "\n<tr>") == 1 + entries.size());
    }

    TEST_CASE("the JSON listing parses back to the entries") {
        const std::vector<DirEntry> entries = {
            dir("sub"),
            file("a.txt", 12),
            file(R"(quote" back\slash)", 0),
            file("ctl\x01\x1f\x7f\b\f\r\n\t", 1),
            file("caf\xC3\xA9 \xF0\x9F\x98\x80", 2),
            file(std::string("nul\0", 4), 3),
            file("big", 1ull << 40),
        };
        const std::string text = render_json("/dir \"x\"/", entries);
        CHECK(text.find('\r') == std::string::npos);
        CHECK(text.find('\n') == std::string::npos);
        const auto parsed = nlohmann::json::parse(text);
        const nlohmann::json expected = {
            {"path", "/dir \"x\"/"},
            {"entries",
             {
                 {{"name", "sub"},
                  {"href", "sub/"},
                  {"type", "directory"},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", "a.txt"},
                  {"href", "a.txt"},
                  {"type", "file"},
                  {"size", 12},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", "quote\" back\\slash"},
                  {"href", "quote%22%20back%5Cslash"},
                  {"type", "file"},
                  {"size", 0},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", "ctl\x01\x1f\x7f\b\f\r\n\t"},
                  {"href", "ctl%01%1F%7F%08%0C%0D%0A%09"},
                  {"type", "file"},
                  {"size", 1},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
                  {"href", "caf%C3%A9%20%F0%9F%98%80"},
                  {"type", "file"},
                  {"size", 2},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", std::string("nul\0", 4)},
                  {"href", "nul%00"},
                  {"type", "file"},
                  {"size", 3},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                 {{"name", "big"},
                  {"href", "big"},
                  {"type", "file"},
                  {"size", 1ull << 40},
                  {"mtime", "Sun, 06 Nov 1994 08:49:37 GMT"}},
             }},
        };
        CHECK(parsed == expected);
        CHECK(text.find(R"("ctl\u0001\u001f)") != std::string::npos);
        CHECK(text.find(R"(\b\f\r\n\t")") != std::string::npos);
    }

    TEST_CASE("invalid UTF-8 in JSON becomes U+FFFD, one per maximal ill-formed subpart") {
        struct Case {
            std::string name;
            std::string expected;
        };
        const std::string r = "\xEF\xBF\xBD";
        const Case cases[] = {
            {"bad\xFF\xFEx", "bad" + r + r + "x"},
            {"\xE2\x82", r},                          // truncated three-byte sequence
            {"\xE2\x82x", r + "x"},                   // interrupted
            {"\xC0\xAF", r + r},                      // overlong '/'
            {"\xE0\x80\xAF", r + r + r},              // overlong, second byte out of range
            {"\xED\xA0\x80", r + r + r},              // a surrogate
            {"\xF4\x90\x80\x80", r + r + r + r},      // above U+10FFFF
            {"\xF0\x9F\x98", r},                      // truncated four-byte sequence
            {"\x80", r},                              // lone continuation byte
            {"\xE2\x82\xAC", "\xE2\x82\xAC"},         // the euro sign is fine
            {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"}, // U+10FFFF is fine
        };
        for (const auto& c : cases) {
            CAPTURE(c.name);
            const std::string text = render_json("/", {file(c.name)});
            const auto parsed = nlohmann::json::parse(text); // throws on invalid UTF-8
            CHECK(parsed["entries"][0]["name"].get<std::string>() == c.expected);
            // The href keeps the original bytes.
            std::string decoded;
            REQUIRE(percent_decode(parsed["entries"][0]["href"].get<std::string>(), decoded));
            CHECK(decoded == c.name);
        }
    }

    TEST_CASE("an empty JSON listing is an empty array") {
        CHECK(render_json("/", {}) == R"({"path":"/","entries":[]})");
    }
}
