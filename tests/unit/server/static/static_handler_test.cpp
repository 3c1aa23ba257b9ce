#include "server/static/static_handler.hpp"

#include "conf/config.hpp"
#include "conf/mime_types.hpp"
#include "parser/request_parser.hpp"
#include "server/http/byte_ranges.hpp"
#include "server/http/http_date.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using kahttpd::parser::Request;
using kahttpd::parser::Status;
using kahttpd::server::ByteRange;
using kahttpd::server::FileCache;
using kahttpd::server::IpBytes;
using kahttpd::server::RequestInfo;
using kahttpd::server::Response;
using kahttpd::server::ResponseScope;
using kahttpd::server::Route;
namespace conf = kahttpd::conf;
namespace fs = std::filesystem;

namespace {

/// ::ffff:a.b.c.d, the form the handler and AccessRule compare.
IpBytes ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

const IpBytes kLoopback = ip4(127, 0, 0, 1);

/// A fresh temp folder holding the document root (www/) and a file beside it, outside the
/// root, that no request may reach. Removed after.
class TempRoot {
  public:
    TempRoot() {
        std::random_device random;
        base_ = fs::temp_directory_path() / ("kahttpd-handler-test-" + std::to_string(::getpid()) +
                                             "-" + std::to_string(random()));
        fs::create_directories(base_ / "www");
        base_ = fs::canonical(base_);
        write_at(base_ / "secret.txt", kSecret);
    }
    TempRoot(const TempRoot&) = delete;
    TempRoot& operator=(const TempRoot&) = delete;
    ~TempRoot() {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static constexpr std::string_view kSecret = "TOP SECRET, outside the root";

    fs::path base() const { return base_; }
    fs::path root() const { return base_ / "www"; }

    /// Writes `content` to `rel` beneath the root, creating its folders.
    fs::path write(const fs::path& rel, std::string_view content) const {
        const auto full = root() / rel;
        fs::create_directories(full.parent_path());
        write_at(full, content);
        return full;
    }
    void mkdir(const fs::path& rel) const { fs::create_directories(root() / rel); }

    /// Sets the modification time of `rel` (seconds since the epoch).
    void set_mtime(const fs::path& rel, std::time_t t) const {
        const timespec times[2] = {{t, 0}, {t, 0}};
        REQUIRE(::utimensat(AT_FDCWD, (root() / rel).c_str(), times, 0) == 0);
    }

  private:
    static void write_at(const fs::path& full, std::string_view content) {
        std::ofstream(full, std::ios::binary | std::ios::trunc)
            .write(content.data(), static_cast<std::streamsize>(content.size()));
    }

    fs::path base_;
};

/// Where a request comes from.
struct Peer {
    IpBytes client = kLoopback;
    IpBytes local = kLoopback;
    std::uint16_t local_port = 8080;
    bool host_from_request = true;
};

/// One request and everything its answer points into. Not movable: the Response's views point
/// into its own storage strings.
struct Answer {
    Request req;
    Response res;
    ResponseScope scope;
    Route route = Route::respond;

    /// The body's bytes: the text, the cached memory, or the file read through its descriptor.
    std::string body() const {
        switch (res.body) {
        case Response::Body::none:
            return {};
        case Response::Body::text:
            return std::string(res.text);
        case Response::Body::file:
            break;
        }
        if (!res.memory.empty()) {
            return std::string(res.memory);
        }
        REQUIRE(res.fd >= 0);
        std::string out(res.file_size, '\0');
        REQUIRE(::pread(res.fd, out.data(), out.size(), 0) == static_cast<ssize_t>(res.file_size));
        return out;
    }
    bool has_field(std::string_view line) const {
        return res.fields.find(line) != std::string_view::npos;
    }
    /// The value of header line `name` in the fields, or "" when absent.
    std::string field(std::string_view name) const {
        std::string prefix(name);
        prefix.append(": ");
        const auto at = res.fields.find(prefix);
        if (at == std::string_view::npos || (at != 0 && res.fields[at - 1] != '\n')) {
            return {};
        }
        const auto begin = at + prefix.size();
        return std::string(res.fields.substr(begin, res.fields.find("\r\n", begin) - begin));
    }
};

/// Parses a whole request head; the parser must accept it.
Request parse(std::string_view raw) {
    kahttpd::parser::ParseLimits limits;
    limits.body = 0; // the handler, not the parser, is under test for LimitRequestBody
    kahttpd::parser::RequestParser parser(limits);
    const auto r = parser.feed(raw);
    INFO(raw);
    REQUIRE((r.event == kahttpd::parser::ParseEvent::message_complete ||
             r.event == kahttpd::parser::ParseEvent::head_complete));
    return parser.request();
}

/// "METHOD TARGET HTTP/1.1" with Host and the given header lines.
std::string request(std::string_view line, std::initializer_list<std::string_view> headers = {}) {
    std::string raw(line);
    raw.append(" HTTP/1.1\r\nHost: www.example.test\r\n");
    for (const std::string_view h : headers) {
        raw.append(h).append("\r\n");
    }
    raw.append("\r\n");
    return raw;
}

/// A configuration for `root` and the Site built from it, as the server builds them. A fresh
/// Site per test, and the thread's open-file cache emptied on both ends, so no entry of
/// another test (whose Site may have lived at the same address) is ever found.
class Harness {
  public:
    Harness(const TempRoot& root, const std::string& extra) {
        const std::string text = "Listen 127.0.0.1:8080\nServerName www.example.test\n"
                                 "DocumentRoot \"" +
                                 root.root().string() + "\"\n" + extra;
        auto loaded = conf::load_config_text(text, root.base() / "conf" / "httpd.conf");
        std::string errors;
        for (const auto& e : loaded.errors) {
            errors.append(e.to_string()).append("\n");
        }
        INFO(errors);
        REQUIRE(loaded.errors.empty());
        config_ = std::make_unique<conf::Config>(std::move(loaded.config));
        site_.config = config_.get();
        site_.mime = &mime_;
        site_.hosts.push_back(kahttpd::server::make_host(*config_, config_->main));
        REQUIRE(site_.hosts[0].root->ok());
        site_.server_header = "Server: kahttpd/test\r\n";
        site_.server_version = "kahttpd/test";
        forget_cache();
    }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;
    ~Harness() { forget_cache(); }

    /// The process-wide "stopping" flag the server sets (SetHandler server-health reads it).
    void set_draining(bool on) {
        draining_ = on;
        site_.draining = &draining_;
    }

    /// Answers `raw` as the connection would (Answers must be dropped before the Harness).
    std::unique_ptr<Answer> answer(std::string_view raw, const Peer& peer = {}) {
        return answer(parse(raw), peer);
    }
    /// Answers a request parsed beforehand (for a test that changes the process around the
    /// handler alone).
    std::unique_ptr<Answer> answer(Request req, const Peer& peer = {}) {
        auto a = std::make_unique<Answer>();
        a->req = std::move(req);
        RequestInfo info;
        info.site = &site_;
        info.host = &site_.hosts[0];
        info.host_from_request = peer.host_from_request;
        info.owner = &peer;
        info.peer = [](const void* owner, std::uint16_t* port) noexcept -> const IpBytes& {
            if (port != nullptr) {
                *port = 40000;
            }
            return static_cast<const Peer*>(owner)->client;
        };
        info.local_ip = &peer.local;
        info.local_port = peer.local_port;
        info.now_ms = ++now_ms_;
        info.now = clock_ != 0 ? clock_ : std::time(nullptr);
        info.conn_id = 1;
        a->res.reset();
        a->scope.reset();
        a->route = kahttpd::server::handle_static(a->req, info, a->res, a->scope);
        // Every answer names its settings (the transport applies their Header rules).
        CHECK(a->res.settings != nullptr);
        return a;
    }
    std::unique_ptr<Answer> get(std::string_view target,
                                std::initializer_list<std::string_view> headers = {},
                                const Peer& peer = {}) {
        return answer(request("GET " + std::string(target), headers), peer);
    }

    const kahttpd::server::Site& site() const { return site_; }

    /// The wall clock the handler is told, in seconds (0: the real one).
    void set_clock(std::time_t now) { clock_ = now; }

  private:
    static void forget_cache() { FileCache::for_this_thread().configure({}, nullptr); }

    conf::MimeTypes mime_ = conf::MimeTypes::builtin();
    std::unique_ptr<conf::Config> config_;
    kahttpd::server::Site site_;
    std::uint64_t now_ms_ = 0;
    std::time_t clock_ = 0;
    std::atomic<bool> draining_{false};
};

std::string http_date(std::time_t t) {
    char buf[30];
    return std::string(kahttpd::server::format_http_date(t, buf));
}

std::time_t mtime_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mtim.tv_sec;
}

constexpr std::string_view kTwenty = "0123456789abcdefghij";

} // namespace

TEST_SUITE("static handler") {

    TEST_CASE("a file is answered 200 with its type, length, bytes and validators") {
        TempRoot root;
        const auto path = root.write("a.txt", "hello, world\n");
        std::string cache;
        bool cached = false;
        SUBCASE("with the open-file cache") {
            cached = true;
        }
        SUBCASE("without the open-file cache") {
            cache = "FileCacheSize 0\n";
        }
        Harness h(root, cache + "AddDefaultCharset utf-8\n");
        const auto a = h.get("/a.txt");
        CHECK(a->route == Route::respond);
        CHECK(a->res.status == Status::ok);
        CHECK(a->res.content_type == "text/plain; charset=utf-8");
        CHECK(a->res.content_length == 13);
        CHECK(a->res.body == Response::Body::file);
        CHECK(a->res.file_size == 13);
        CHECK(a->res.ranges.empty());
        CHECK(a->body() == "hello, world\n");
        CHECK(a->field("Last-Modified") == http_date(mtime_of(path)));
        CHECK(a->field("ETag").starts_with("\""));
        CHECK(a->field("ETag").ends_with("\""));
        CHECK(a->field("ETag").size() > 2);
        CHECK(a->has_field("Accept-Ranges: bytes\r\n"));
        CHECK_FALSE(a->has_field("Vary:"));
        CHECK_FALSE(a->has_field("Content-Encoding:"));
        CHECK_FALSE(a->res.error);
        CHECK_FALSE(a->res.close);
        if (cached) {
            CHECK(a->res.memory == "hello, world\n");
            CHECK(a->scope.file);
        } else {
            // Not cached: the descriptor of an entry built for this response only.
            CHECK(a->res.memory.empty());
            CHECK(a->res.fd >= 0);
            CHECK(a->res.prepared_head.empty());
            CHECK(a->scope.uncached);
        }
    }

    TEST_CASE("a second request for a cached file is a hit with the prepared 200 head") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        Harness h(root, "AddDefaultCharset utf-8\n");
        const auto first = h.get("/a.txt");
        REQUIRE(first->res.status == Status::ok);
        const auto hits = FileCache::for_this_thread().stats().hits;

        const auto a = h.get("/a.txt?query=ignored");
        CHECK(FileCache::for_this_thread().stats().hits == hits + 1);
        CHECK(a->route == Route::respond);
        CHECK(a->res.status == Status::ok);
        CHECK(a->res.content_length == 13);
        CHECK(a->res.memory == "hello, world\n");
        CHECK(a->res.fields == first->res.fields);
        const std::string_view head = a->res.prepared_head;
        REQUIRE_FALSE(head.empty());
        CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(head.find("Server: kahttpd/test\r\n") != std::string_view::npos);
        CHECK(head.find("Content-Length: 13\r\n") != std::string_view::npos);
        CHECK(head.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string_view::npos);
        CHECK(head.find(a->res.fields) != std::string_view::npos);
        CHECK(head.substr(a->res.prepared_date_at, 29) == std::string(29, ' '));
    }

    TEST_CASE("If-None-Match with the current ETag is 304 with the validators") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        Harness h(root, "");
        const std::string etag = h.get("/a.txt")->field("ETag");
        REQUIRE(etag.size() > 2);

        SUBCASE("the tag itself, among others, or \"*\" is 304") {
            for (const std::string& value :
                 {etag, "\"nope\", " + etag, std::string("*"), "W/" + etag}) {
                INFO(value);
                const std::string line = "If-None-Match: " + value;
                const auto a = h.get("/a.txt", {line});
                CHECK(a->res.status == Status::not_modified);
                CHECK(a->field("ETag") == etag);
                CHECK(a->field("Last-Modified").size() == 29);
                CHECK(a->res.body == Response::Body::none);
                CHECK(a->res.prepared_head.empty());
                CHECK_FALSE(a->res.error);
            }
        }
        SUBCASE("another tag is 200") {
            const auto a = h.get("/a.txt", {"If-None-Match: \"other\""});
            CHECK(a->res.status == Status::ok);
            CHECK(a->body() == "hello, world\n");
        }
    }

    TEST_CASE("If-Match that does not match is 412, one that does is 200") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        Harness h(root, "");
        const std::string etag = h.get("/a.txt")->field("ETag");
        REQUIRE(etag.size() > 2);

        const auto failed = h.get("/a.txt", {"If-Match: \"other\""});
        CHECK(failed->res.status == Status::precondition_failed);
        CHECK(failed->res.error);
        CHECK(failed->res.body == Response::Body::text);
        CHECK(failed->body().find("412 Precondition Failed") != std::string::npos);
        CHECK(failed->res.content_length == failed->res.text.size());

        // If-Match compares strongly: a weak tag never matches.
        const auto weak = h.get("/a.txt", {"If-Match: W/" + etag});
        CHECK(weak->res.status == Status::precondition_failed);

        const auto ok = h.get("/a.txt", {"If-Match: " + etag});
        CHECK(ok->res.status == Status::ok);
        CHECK(ok->body() == "hello, world\n");
    }

    TEST_CASE("If-Unmodified-Since before the file's time is 412") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        const std::time_t mtime = 1577836800;
        root.set_mtime("a.txt", mtime);
        Harness h(root, "");
        const auto failed = h.get("/a.txt", {"If-Unmodified-Since: " + http_date(mtime - 1)});
        CHECK(failed->res.status == Status::precondition_failed);
        CHECK(failed->res.error);
        const auto ok = h.get("/a.txt", {"If-Unmodified-Since: " + http_date(mtime)});
        CHECK(ok->res.status == Status::ok);
        // If-Match wins over If-Unmodified-Since.
        const auto matched =
            h.get("/a.txt", {"If-Match: *", "If-Unmodified-Since: " + http_date(mtime - 1)});
        CHECK(matched->res.status == Status::ok);
    }

    TEST_CASE("with FileETag None there is no ETag, and a star still matches the file") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        Harness h(root, "FileETag None\n");
        const auto a = h.get("/a.txt");
        CHECK(a->res.status == Status::ok);
        CHECK_FALSE(a->has_field("ETag:"));
        CHECK(a->has_field("Last-Modified: "));
        CHECK(h.get("/a.txt", {"If-None-Match: *"})->res.status == Status::not_modified);
        CHECK(h.get("/a.txt", {"If-Match: *"})->res.status == Status::ok);
        CHECK(h.get("/a.txt", {"If-Match: \"x\""})->res.status == Status::precondition_failed);
        CHECK(h.get("/a.txt", {"If-None-Match: \"x\""})->res.status == Status::ok);
    }

    TEST_CASE("If-Modified-Since at or after the file's time is 304, before it is 200") {
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        const std::time_t mtime = 1577836800; // 2020-01-01 00:00:00 UTC
        root.set_mtime("a.txt", mtime);
        Harness h(root, "");

        // RFC 9110 §13.1.3 no longer calls a date after the server's clock invalid (RFC 7232
        // did, and Apache ignores such a date): a future date is later than the file, so 304.
        for (const std::time_t t : {mtime, mtime + 1, static_cast<std::time_t>(4102444800)}) {
            const std::string line = "If-Modified-Since: " + http_date(t);
            INFO(line);
            const auto a = h.get("/a.txt", {line});
            CHECK(a->res.status == Status::not_modified);
            CHECK(a->field("Last-Modified") == "Wed, 01 Jan 2020 00:00:00 GMT");
            CHECK(a->res.body == Response::Body::none);
        }
        for (const std::time_t t : {mtime - 1, static_cast<std::time_t>(784111777)}) {
            const std::string line = "If-Modified-Since: " + http_date(t);
            INFO(line);
            const auto a = h.get("/a.txt", {line});
            CHECK(a->res.status == Status::ok);
            CHECK(a->body() == "hello, world\n");
        }
        SUBCASE("an invalid date is ignored") {
            const auto a = h.get("/a.txt", {"If-Modified-Since: yesterday"});
            CHECK(a->res.status == Status::ok);
        }
        SUBCASE("If-None-Match wins over If-Modified-Since") {
            const auto a =
                h.get("/a.txt", {"If-None-Match: \"other\"",
                                 "If-Modified-Since: " + std::string(http_date(mtime + 10))});
            CHECK(a->res.status == Status::ok);
        }
    }

    TEST_CASE("a modification time ahead of the clock is sent and compared as the Date") {
        // RFC 9110 §8.8.2.1, Apache's ap_rationalize_mtime: Last-Modified is never later than
        // the Date, and the conditional fields compare with the value sent.
        TempRoot root;
        root.write("a.txt", "hello, world\n");
        const std::time_t now = 1700000000; // 2023-11-14 22:13:20 UTC
        const std::time_t mtime = now + 86400;
        root.set_mtime("a.txt", mtime);
        std::string extra;
        SUBCASE("with the open-file cache") {}
        SUBCASE("without the open-file cache") {
            extra = "FileCacheSize 0\n";
        }
        SUBCASE("with Header rules (no prepared head)") {
            extra = "Header set X-Test yes\n";
        }
        SUBCASE("with Expires from the access time (an Expires blank in the prepared head)") {
            extra = "ExpiresActive On\nExpiresDefault \"access plus 1 hour\"\n";
        }
        Harness h(root, extra);
        h.set_clock(now);
        const std::string date = http_date(now);

        h.get("/a.txt"); // builds (and caches) the entry
        const auto a = h.get("/a.txt");
        CHECK(a->res.status == Status::ok);
        CHECK(a->res.date == now);
        CHECK(a->res.prepared_head.empty()); // the cached head carries the file's own time
        CHECK(a->field("Last-Modified") == date);
        CHECK(a->has_field("Accept-Ranges: bytes\r\n"));
        CHECK(a->body() == "hello, world\n");
        const std::string etag = a->field("ETag");
        REQUIRE(etag.size() > 2);
        if (extra.starts_with("ExpiresActive")) {
            CHECK(a->field("Expires") == http_date(now + 3600));
        }

        const auto ims = h.get("/a.txt", {"If-Modified-Since: " + date});
        CHECK(ims->res.status == Status::not_modified);
        CHECK(ims->field("Last-Modified") == date);
        CHECK(ims->field("ETag") == etag);
        CHECK(h.get("/a.txt", {"If-Modified-Since: " + http_date(now - 1)})->res.status ==
              Status::ok);
        // The file's own time would be later than this date: 412 if it were compared.
        CHECK(h.get("/a.txt", {"If-Unmodified-Since: " + date})->res.status == Status::ok);
        const auto head = h.answer(request("HEAD /a.txt"));
        CHECK(head->field("Last-Modified") == date);

        // A capped date is weak (RFC 9110 §13.1.5): it never validates a Range, the whole file
        // comes back; the ETag still does.
        const auto ranged = h.get("/a.txt", {"Range: bytes=0-4", "If-Range: " + date});
        CHECK(ranged->res.status == Status::ok);
        CHECK(ranged->field("Last-Modified") == date);
        const auto by_tag = h.get("/a.txt", {"Range: bytes=0-4", "If-Range: " + etag});
        CHECK(by_tag->res.status == Status::partial_content);
        CHECK(by_tag->field("Last-Modified") == date);
        CHECK(by_tag->has_field("Content-Range: bytes 0-4/13\r\n"));
        const auto stale = h.get("/a.txt", {"Range: bytes=0-4", "If-Range: " + http_date(mtime)});
        CHECK(stale->res.status == Status::ok);

        // Once the clock passes the file's time, the entry's own date is sent again: nothing
        // capped was kept. The ETag was the file's all along.
        h.set_clock(mtime + 5);
        const auto later = h.get("/a.txt");
        CHECK(later->res.status == Status::ok);
        CHECK(later->field("Last-Modified") == http_date(mtime));
        CHECK(later->field("ETag") == etag);
        if (extra.empty()) {
            CHECK_FALSE(later->res.prepared_head.empty());
        }
        CHECK(h.get("/a.txt", {"If-Modified-Since: " + date})->res.status == Status::ok);
    }

    TEST_CASE("a variant compressed here has its Last-Modified capped as the file's") {
        TempRoot root;
        std::string text;
        for (int i = 0; i < 200; ++i) {
            text.append("<p>paragraph ").append(std::to_string(i % 13)).append("</p>\n");
        }
        root.write("page.html", text);
        const std::time_t now = 1700000000;
        root.set_mtime("page.html", now + 86400);
        Harness h(root, "AddOutputFilterByType DEFLATE text/html\n");
        h.set_clock(now);
        const auto gz = h.get("/page.html", {"Accept-Encoding: gzip"});
        CHECK(gz->res.status == Status::ok);
        CHECK(gz->has_field("Content-Encoding: gzip\r\n"));
        CHECK(gz->field("Last-Modified") == http_date(now));
        const auto ims =
            h.get("/page.html", {"Accept-Encoding: gzip", "If-Modified-Since: " + http_date(now)});
        CHECK(ims->res.status == Status::not_modified);
        CHECK(ims->has_field("Vary: Accept-Encoding\r\n"));
        CHECK(ims->field("Last-Modified") == http_date(now));
    }

    TEST_CASE("one range is 206 with Content-Range and the range's length") {
        TempRoot root;
        root.write("r.txt", kTwenty);
        Harness h(root, "");
        std::string range, content_range;
        ByteRange expected{0, 0};
        SUBCASE("first-last") {
            range = "Range: bytes=2-5";
            expected = {2, 5};
            content_range = "Content-Range: bytes 2-5/20\r\n";
        }
        SUBCASE("a suffix") {
            range = "Range: bytes=-3";
            expected = {17, 19};
            content_range = "Content-Range: bytes 17-19/20\r\n";
        }
        SUBCASE("open-ended past the end") {
            range = "Range: bytes=15-";
            expected = {15, 19};
            content_range = "Content-Range: bytes 15-19/20\r\n";
        }
        const auto a = h.get("/r.txt", {range});
        CHECK(a->res.status == Status::partial_content);
        CHECK(a->has_field(content_range));
        CHECK(a->has_field("Accept-Ranges: bytes\r\n"));
        CHECK(a->field("ETag").size() > 2);
        CHECK(a->res.content_length == expected.size());
        CHECK(a->res.file_bytes() == expected.size());
        REQUIRE(a->res.ranges.size() == 1);
        CHECK(a->res.ranges[0] == expected);
        CHECK(a->res.file_size == 20);
        CHECK(a->res.body == Response::Body::file);
        CHECK(a->res.content_type == "text/plain");
        CHECK(a->res.prepared_head.empty()); // the prepared head is a 200's
        CHECK(a->body() == kTwenty);         // the whole file is there; ranges pick from it
        CHECK_FALSE(a->res.error);
    }

    TEST_CASE("two ranges are multipart/byteranges with the boundary in the type") {
        TempRoot root;
        root.write("r.txt", kTwenty);
        Harness h(root, "");
        const auto a = h.get("/r.txt", {"Range: bytes=0-1, 5-7"});
        CHECK(a->res.status == Status::partial_content);
        REQUIRE(a->res.ranges.size() == 2);
        CHECK(a->res.ranges[0] == ByteRange{0, 1});
        CHECK(a->res.ranges[1] == ByteRange{5, 7});
        CHECK(a->res.boundary.size() == 32);
        CHECK(a->res.boundary.find_first_not_of("0123456789abcdef") == std::string_view::npos);
        CHECK(a->res.content_type ==
              "multipart/byteranges; boundary=" + std::string(a->res.boundary));
        CHECK(a->res.part_type == "text/plain");
        CHECK_FALSE(a->has_field("Content-Range:"));
        CHECK(a->has_field("ETag: "));

        // The body as the transport writes it, built piece by piece.
        std::string body;
        for (const ByteRange& r : a->res.ranges) {
            kahttpd::server::append_part_header(body, a->res.boundary, a->res.part_type, r, 20);
            body.append(kTwenty.substr(r.first, r.size()));
        }
        kahttpd::server::append_closing_delimiter(body, a->res.boundary);
        CHECK(a->res.content_length == body.size());

        // Another answer gets another boundary.
        const auto b = h.get("/r.txt", {"Range: bytes=0-1, 5-7"});
        CHECK(b->res.boundary != a->res.boundary);
    }

    TEST_CASE("more ranges than MaxRanges, or a range of another unit, get the whole file") {
        TempRoot root;
        root.write("r.txt", kTwenty);
        Harness h(root, "MaxRanges 1\n");
        for (const std::string_view range :
             {"Range: bytes=0-1, 5-7", "Range: items=0-1", "Range: bytes=5-2"}) {
            INFO(range);
            const auto a = h.get("/r.txt", {range});
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.content_length == 20);
            CHECK(a->res.ranges.empty());
            CHECK_FALSE(a->has_field("Content-Range:"));
        }
        CHECK(h.get("/r.txt", {"Range: bytes=0-1"})->res.status == Status::partial_content);
    }

    TEST_CASE("an unsatisfiable range is 416 with bytes */SIZE") {
        TempRoot root;
        root.write("r.txt", kTwenty);
        Harness h(root, "");
        const auto a = h.get("/r.txt", {"Range: bytes=20-30"});
        CHECK(a->res.status == Status::range_not_satisfiable);
        CHECK(a->has_field("Content-Range: bytes */20\r\n"));
        CHECK(a->res.error);
        CHECK(a->res.body == Response::Body::text);
        CHECK(a->res.ranges.empty());
        CHECK(a->body().find("416") != std::string::npos);
        CHECK(a->body().find(kTwenty) == std::string::npos);
    }

    TEST_CASE("a Range whose If-Range does not match is answered with the whole file") {
        TempRoot root;
        root.write("r.txt", kTwenty);
        root.set_mtime("r.txt", 1577836800);
        Harness h(root, "");
        const std::string etag = h.get("/r.txt")->field("ETag");
        REQUIRE(etag.size() > 2);

        for (const std::string& if_range :
             {std::string("\"other\""), "W/" + etag, http_date(1577836801)}) {
            INFO(if_range);
            const auto a = h.get("/r.txt", {"Range: bytes=0-3", "If-Range: " + if_range});
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.content_length == 20);
            CHECK(a->res.ranges.empty());
            CHECK_FALSE(a->has_field("Content-Range:"));
            CHECK(a->body() == kTwenty);
        }
        for (const std::string& if_range : {etag, http_date(1577836800)}) {
            INFO(if_range);
            const auto a = h.get("/r.txt", {"Range: bytes=0-3", "If-Range: " + if_range});
            CHECK(a->res.status == Status::partial_content);
            CHECK(a->res.content_length == 4);
            CHECK(a->has_field("Content-Range: bytes 0-3/20\r\n"));
        }
    }

    TEST_CASE("a precompressed variant is chosen by Accept-Encoding") {
        TempRoot root;
        root.write("foo.css", "body { color: red }\n");
        root.write("foo.css.gz", "GZIP BYTES");
        std::string cache;
        SUBCASE("with the open-file cache") {}
        SUBCASE("without the open-file cache") {
            cache = "FileCacheSize 0\n";
        }
        Harness h(root, cache + "PrecompressedFiles On\n");

        const auto gz = h.get("/foo.css", {"Accept-Encoding: gzip, deflate"});
        CHECK(gz->res.status == Status::ok);
        CHECK(gz->has_field("Content-Encoding: gzip\r\n"));
        CHECK(gz->has_field("Vary: Accept-Encoding\r\n"));
        CHECK(gz->res.content_type == "text/css"); // the original's type
        CHECK(gz->res.content_length == 10);
        CHECK(gz->body() == "GZIP BYTES");

        const auto plain = h.get("/foo.css");
        CHECK(plain->res.status == Status::ok);
        CHECK_FALSE(plain->has_field("Content-Encoding:"));
        CHECK(plain->has_field("Vary: Accept-Encoding\r\n"));
        CHECK(plain->res.content_length == 20);
        CHECK(plain->body() == "body { color: red }\n");
        // Each encoding is its own representation, with its own strong tag.
        CHECK(plain->field("ETag") != gz->field("ETag"));

        const auto refused = h.get("/foo.css", {"Accept-Encoding: gzip;q=0, identity"});
        CHECK_FALSE(refused->has_field("Content-Encoding:"));
        CHECK(refused->body() == "body { color: red }\n");

        // A 304 for the variant names the variant's tag and still varies.
        const auto not_modified =
            h.get("/foo.css", {"Accept-Encoding: gzip", "If-None-Match: " + gz->field("ETag")});
        CHECK(not_modified->res.status == Status::not_modified);
        CHECK(not_modified->field("ETag") == gz->field("ETag"));
        CHECK(not_modified->has_field("Vary: Accept-Encoding\r\n"));
        // The identity tag does not match the gzip representation.
        const auto other =
            h.get("/foo.css", {"Accept-Encoding: gzip", "If-None-Match: " + plain->field("ETag")});
        CHECK(other->res.status == Status::ok);
    }

    TEST_CASE("a file compressed on the fly is chosen by Accept-Encoding, br before gzip") {
        TempRoot root;
        std::string text;
        for (int i = 0; i < 200; ++i) {
            text.append("<p>paragraph ").append(std::to_string(i % 13)).append("</p>\n");
        }
        root.write("page.html", text);
        root.write("small.html", "<p>tiny</p>");
        std::string cache;
        SUBCASE("with the open-file cache") {}
        SUBCASE("without the open-file cache") {
            cache = "FileCacheSize 0\n";
        }
        Harness h(root, cache + "AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html\n");

        const auto br = h.get("/page.html", {"Accept-Encoding: gzip, deflate, br"});
        CHECK(br->res.status == Status::ok);
        CHECK(br->has_field("Content-Encoding: br\r\n"));
        CHECK(br->has_field("Vary: Accept-Encoding\r\n"));
        CHECK(br->res.content_type == "text/html");
        CHECK(br->res.content_length < text.size() / 4);
        CHECK(br->body().size() == br->res.content_length);

        const auto gz = h.get("/page.html", {"Accept-Encoding: br;q=0.5, gzip"});
        CHECK(gz->has_field("Content-Encoding: gzip\r\n"));
        CHECK(gz->body().substr(0, 2) == "\x1f\x8b");

        const auto plain = h.get("/page.html");
        CHECK_FALSE(plain->has_field("Content-Encoding:"));
        CHECK(plain->has_field("Vary: Accept-Encoding\r\n")); // the identity one varies too
        CHECK(plain->body() == text);

        // Apache's tags: the file's, with -gzip or -br.
        const std::string tag = plain->field("ETag");
        REQUIRE(tag.size() > 2);
        CHECK(gz->field("ETag") == tag.substr(0, tag.size() - 1) + "-gzip\"");
        CHECK(br->field("ETag") == tag.substr(0, tag.size() - 1) + "-br\"");
        CHECK(gz->field("Last-Modified") == plain->field("Last-Modified"));

        SUBCASE("HEAD gives the compressed length") {
            const auto head = h.answer(request("HEAD /page.html", {"Accept-Encoding: gzip"}));
            CHECK(head->res.content_length == gz->res.content_length);
            CHECK(head->has_field("Content-Encoding: gzip\r\n"));
        }
        SUBCASE("If-None-Match with the compressed tag or the file's gives a 304") {
            for (const std::string& inm : {gz->field("ETag"), tag, "\"x\", " + tag}) {
                CAPTURE(inm);
                const auto a =
                    h.get("/page.html", {"Accept-Encoding: gzip", "If-None-Match: " + inm});
                CHECK(a->res.status == Status::not_modified);
                CHECK(a->field("ETag") == gz->field("ETag"));
                CHECK(a->has_field("Vary: Accept-Encoding\r\n"));
            }
            const auto changed =
                h.get("/page.html", {"Accept-Encoding: gzip", "If-None-Match: \"other\""});
            CHECK(changed->res.status == Status::ok);
            // The identity response is not matched by a compressed tag.
            const auto identity = h.get("/page.html", {"If-None-Match: " + gz->field("ETag")});
            CHECK(identity->res.status == Status::ok);
        }
        SUBCASE("If-Match with either tag proceeds, with another fails") {
            CHECK(h.get("/page.html", {"Accept-Encoding: gzip", "If-Match: " + tag})->res.status ==
                  Status::ok);
            CHECK(h.get("/page.html", {"Accept-Encoding: gzip", "If-Match: " + gz->field("ETag")})
                      ->res.status == Status::ok);
            CHECK(
                h.get("/page.html", {"Accept-Encoding: gzip", "If-Match: \"nope\""})->res.status ==
                Status::precondition_failed);
        }
        SUBCASE("a Range request gets ranges of the file itself") {
            const auto a = h.get("/page.html", {"Accept-Encoding: gzip, br", "Range: bytes=0-9"});
            CHECK(a->res.status == Status::partial_content);
            CHECK_FALSE(a->has_field("Content-Encoding:"));
            CHECK(a->has_field("Vary: Accept-Encoding\r\n"));
            CHECK(a->field("ETag") == tag);
            CHECK(a->body().substr(0, 10) == text.substr(0, 10));
        }
        SUBCASE("a file under CompressMinLength is not compressed and does not vary") {
            const auto a = h.get("/small.html", {"Accept-Encoding: gzip, br"});
            CHECK_FALSE(a->has_field("Content-Encoding:"));
            CHECK_FALSE(a->has_field("Vary:"));
        }
    }

    TEST_CASE("without PrecompressedFiles a .gz beside the file is never sent") {
        TempRoot root;
        root.write("foo.css", "body { color: red }\n");
        root.write("foo.css.gz", "GZIP BYTES");
        Harness h(root, "PrecompressedFiles Off\n");
        const auto a = h.get("/foo.css", {"Accept-Encoding: gzip"});
        CHECK(a->res.status == Status::ok);
        CHECK_FALSE(a->has_field("Content-Encoding:"));
        CHECK_FALSE(a->has_field("Vary:"));
        CHECK(a->body() == "body { color: red }\n");
    }

    TEST_CASE("a directory without index is listed with Options Indexes") {
        TempRoot root;
        root.write("docs/a.txt", "12345");
        root.write("docs/b <i>.txt", "x");
        root.mkdir("docs/sub");
        Harness h(root, "Options Indexes\n");

        SUBCASE("as HTML") {
            const auto a = h.get("/docs/");
            CHECK(a->route == Route::respond);
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.content_type == "text/html; charset=utf-8");
            CHECK(a->res.body == Response::Body::text);
            CHECK(a->res.content_length == a->res.text.size());
            CHECK(a->has_field("Vary: Accept\r\n"));
            const std::string body = a->body();
            CHECK(body.find("Index of /docs/") != std::string::npos);
            CHECK(body.find("href=\"a.txt\"") != std::string::npos);
            CHECK(body.find("href=\"sub/\"") != std::string::npos);
            CHECK(body.find("href=\"../\"") != std::string::npos);
            // A name with markup is escaped, never raw.
            CHECK(body.find("b &lt;i&gt;.txt") != std::string::npos);
            CHECK(body.find("<i>") == std::string::npos);
        }
        SUBCASE("as JSON for a client that asks for it") {
            const auto a = h.get("/docs/", {"Accept: application/json"});
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.content_type == "application/json");
            CHECK(a->has_field("Vary: Accept\r\n"));
            const auto j = nlohmann::json::parse(a->body());
            CHECK(j["path"] == "/docs/");
            REQUIRE(j["entries"].size() == 3);
            CHECK(j["entries"][0]["name"] == "sub"); // directories first
            CHECK(j["entries"][0]["type"] == "directory");
            CHECK(j["entries"][1]["name"] == "a.txt");
            CHECK(j["entries"][1]["size"] == 5);
            CHECK(j["entries"][2]["name"] == "b <i>.txt");
        }
        SUBCASE("an index file is served instead") {
            root.write("docs/index.html", "<p>index</p>");
            const auto a = h.get("/docs/");
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.body == Response::Body::file);
            CHECK(a->body() == "<p>index</p>");
        }
    }

    TEST_CASE("a directory without index and without Options Indexes is 403") {
        TempRoot root;
        root.write("docs/a.txt", "12345");
        Harness h(root, "Options FollowSymLinks\n");
        const auto a = h.get("/docs/");
        CHECK(a->res.status == Status::forbidden);
        CHECK(a->res.error);
        CHECK(a->res.body == Response::Body::text);
        CHECK(a->body().find("a.txt") == std::string::npos);
    }

    TEST_CASE("a directory without its trailing slash is redirected with 301") {
        TempRoot root;
        root.mkdir("docs");
        root.mkdir("a b");
        Harness h(root, "Options Indexes\n");
        std::string target, location;
        SUBCASE("plain") {
            target = "/docs";
            location = "Location: /docs/\r\n";
        }
        SUBCASE("the query is kept") {
            target = "/docs?x=1&y=2";
            location = "Location: /docs/?x=1&y=2\r\n";
        }
        SUBCASE("the path is percent-encoded again") {
            target = "/a%20b";
            location = "Location: /a%20b/\r\n";
        }
        SUBCASE("a doubled slash cannot make it leave the site") {
            target = "//docs";
            location = "Location: /docs/\r\n";
        }
        const auto a = h.get(target);
        CHECK(a->res.status == Status::moved_permanently);
        CHECK(a->res.fields == location);
        CHECK_FALSE(a->res.error);
    }

    TEST_CASE("out of descriptors, a file is 500 and the handler asks for the close") {
        // EMFILE while opening: the 500 must close its connection, so that the descriptor
        // comes back instead of being held by a client that gets 500 for as long as it stays.
        TempRoot root;
        root.write("page.txt", "hello");
        Harness h(root, "FileCacheSize 0\n");
        // Parsed before the limit: doctest's INFO there makes UBSan's vptr check look at
        // memory through a pipe, which it cannot open without a free descriptor (it would
        // report the INFO scope as a bad object).
        Request req = parse(request("GET /page.txt"));
        rlimit saved{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
        const int probe = ::dup(0); // the lowest free descriptor: the next open would get it
        REQUIRE(probe >= 0);
        ::close(probe);
        rlimit tight = saved;
        tight.rlim_cur = static_cast<rlim_t>(probe);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
        const auto a = h.answer(std::move(req));
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
        CHECK(a->res.status == Status::internal_error);
        CHECK(a->res.error);
        CHECK(a->res.close);
        // With the descriptor back, the same file is served.
        CHECK(h.get("/page.txt")->res.status == Status::ok);
    }

    TEST_CASE("ErrorDocument with a message answers the message") {
        TempRoot root;
        Harness h(root, "ErrorDocument 404 \"Not here\"\n");
        const auto a = h.get("/missing.txt");
        CHECK(a->res.status == Status::not_found);
        CHECK(a->res.error);
        CHECK(a->res.body == Response::Body::text);
        CHECK(a->body() == "Not here");
        CHECK(a->res.content_length == 8);
    }

    TEST_CASE("ErrorDocument with a local path serves that file with the error status") {
        TempRoot root;
        root.write("errors/404.html", "<p>missing, sorry</p>\n");
        Harness h(root, "ErrorDocument 404 /errors/404.html\n");
        const auto a = h.get("/missing.txt");
        CHECK(a->res.status == Status::not_found);
        CHECK(a->res.error);
        CHECK(a->res.body == Response::Body::text);
        CHECK(a->body() == "<p>missing, sorry</p>\n");
        CHECK(a->res.content_length == 22);
        CHECK(a->res.content_type.starts_with("text/html"));

        SUBCASE("a missing error document falls back to the built-in page") {
            fs::remove(root.root() / "errors/404.html");
            const auto b = h.get("/missing.txt");
            CHECK(b->res.status == Status::not_found);
            CHECK(b->body().find("<title>404 Not Found</title>") != std::string::npos);
        }
    }

    TEST_CASE("ErrorDocument with a full URL redirects with 302") {
        TempRoot root;
        root.mkdir("docs");
        Harness h(root, "Options None\nErrorDocument 403 http://elsewhere.example/\n");
        const auto a = h.get("/docs/");
        CHECK(a->res.status == Status::found);
        CHECK(a->has_field("Location: http://elsewhere.example/\r\n"));
        CHECK(a->res.error);
    }

    TEST_CASE("the built-in 404 page names the URL escaped, without its query") {
        TempRoot root;
        Harness h(root, "");
        const auto a = h.answer("GET /a%3Cb/%22x%22?q=<script> HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(a->res.status == Status::not_found);
        const std::string body = a->body();
        CHECK(body.find("<code>/a%3Cb/%22x%22</code>") != std::string::npos);
        CHECK(body.find("<script>") == std::string::npos);
        const auto forbidden = h.answer("GET /.htpasswd HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(forbidden->res.status == Status::forbidden);
        CHECK(forbidden->body().find("You don't have permission to access this resource.") !=
              std::string::npos);
    }

    TEST_CASE("the built-in 404 page names the status, and with ServerSignature the server") {
        TempRoot root;
        SUBCASE("ServerSignature Off has no footer") {
            Harness h(root, "");
            const auto a = h.get("/missing.txt");
            CHECK(a->res.status == Status::not_found);
            CHECK(a->res.error);
            CHECK(a->res.content_type == "text/html; charset=utf-8");
            const std::string body = a->body();
            CHECK(body.find("<title>404 Not Found</title>") != std::string::npos);
            CHECK(body.find("<h1>Not Found</h1>") != std::string::npos);
            CHECK(body.find("<p>The requested URL <code>/missing.txt</code> was not found on this "
                            "server.</p>") != std::string::npos);
            CHECK(body.find("<address>") == std::string::npos);
            CHECK(body.find("kahttpd/test") == std::string::npos);
        }
        SUBCASE("ServerSignature On names the version, the Host asked for and the port") {
            Harness h(root, "ServerSignature On\n");
            const auto a =
                h.answer("GET /missing.txt HTTP/1.1\r\nHost: Asked.Example:8080\r\n\r\n");
            CHECK(a->res.status == Status::not_found);
            CHECK(a->body().find("<address>kahttpd/test Server at asked.example Port 8080"
                                 "</address>") != std::string::npos);
        }
        SUBCASE("a Host holding markup is escaped") {
            Harness h(root, "ServerSignature On\n");
            const auto a =
                h.answer("GET /missing.txt HTTP/1.1\r\nHost: evil<script>x</script>\r\n\r\n");
            CHECK(a->res.status == Status::not_found);
            const std::string body = a->body();
            CHECK(body.find("evil&lt;script&gt;x&lt;/script&gt;") != std::string::npos);
            CHECK(body.find("<script>") == std::string::npos);
        }
        SUBCASE("an answer not made from the request names the ServerName") {
            Harness h(root, "ServerSignature On\n");
            Peer peer;
            peer.host_from_request = false;
            const auto a =
                h.answer("GET /missing.txt HTTP/1.1\r\nHost: asked.example\r\n\r\n", peer);
            const std::string body = a->body();
            CHECK(body.find("Server at www.example.test Port 8080") != std::string::npos);
            CHECK(body.find("asked.example") == std::string::npos);
        }
    }

    TEST_CASE("Require ip in a Directory section refuses a client outside the network") {
        TempRoot root;
        root.write("private/x.txt", "private bytes");
        root.write("public.txt", "public bytes");
        Harness h(root, "<Directory \"" + root.root().string() +
                            "/private\">\n    Require ip 10.0.0.0/8\n</Directory>\n");
        Peer inside;
        inside.client = ip4(10, 1, 2, 3);

        const auto denied = h.get("/private/x.txt");
        CHECK(denied->res.status == Status::forbidden);
        CHECK(denied->res.error);
        CHECK(denied->body().find("private bytes") == std::string::npos);

        const auto allowed = h.get("/private/x.txt", {}, inside);
        CHECK(allowed->res.status == Status::ok);
        CHECK(allowed->body() == "private bytes");

        // The entry is cached now: a cache hit must still apply Require.
        const auto denied_again = h.get("/private/x.txt");
        CHECK(denied_again->res.status == Status::forbidden);
        CHECK(denied_again->res.body == Response::Body::text);

        const auto outside_section = h.get("/public.txt");
        CHECK(outside_section->res.status == Status::ok);
    }

    TEST_CASE("OPTIONS is 200 with the Allow field") {
        TempRoot root;
        root.write("a.txt", "hello");
        Harness h(root, "");
        for (const std::string_view target : {"/a.txt", "*"}) {
            INFO(target);
            const auto a = h.answer(request("OPTIONS " + std::string(target)));
            CHECK(a->route == Route::respond);
            CHECK(a->res.status == Status::ok);
            CHECK(a->res.fields == "Allow: GET, HEAD, OPTIONS\r\n");
            CHECK(a->res.body == Response::Body::none);
            CHECK(a->res.content_length == 0);
            CHECK_FALSE(a->res.error);
        }
    }

    TEST_CASE("POST is 405 with Allow, and 403 where Require denies the client") {
        TempRoot root;
        root.write("a.txt", "hello");
        root.write("private/x.txt", "private bytes");
        Harness h(root, "<Directory \"" + root.root().string() +
                            "/private\">\n    Require ip 10.0.0.0/8\n</Directory>\n");
        const auto post = h.answer(request("POST /a.txt", {"Content-Length: 0"}));
        CHECK(post->res.status == Status::method_not_allowed);
        CHECK(post->res.error);
        CHECK(post->has_field("Allow: GET, HEAD, OPTIONS\r\n"));
        CHECK(post->res.body == Response::Body::text);

        // Access control comes before the method.
        const auto denied = h.answer(request("POST /private/x.txt", {"Content-Length: 0"}));
        CHECK(denied->res.status == Status::forbidden);
        CHECK(denied->res.error);
        CHECK_FALSE(denied->has_field("Allow:"));

        const auto denied_options = h.answer(request("OPTIONS /private/x.txt"));
        CHECK(denied_options->res.status == Status::forbidden);
    }

    TEST_CASE("an HTTP/1.0 request without Host is served") {
        // The Host rules are the transport's (parser::check_host, tests/unit/parser/host_test):
        // it refuses an HTTP/1.1 request without Host before a handler sees it.
        TempRoot root;
        root.write("a.txt", "hello");
        Harness h(root, "");
        const auto a = h.answer("GET /a.txt HTTP/1.0\r\n\r\n");
        CHECK(a->res.status == Status::ok);
        CHECK(a->body() == "hello");
    }

    TEST_CASE("a dot-dot target never reaches a file outside the document root") {
        TempRoot root;
        root.write("sub/a.txt", "inside");
        Harness h(root, "ErrorDocument 404 /../secret.txt\n");
        for (const std::string_view target :
             {"/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
              "/sub/%2E%2E/%2e%2e/secret.txt", "/./../secret.txt"}) {
            INFO(target);
            const auto a = h.get(target);
            CHECK(a->res.status != Status::ok);
            CHECK(a->body().find(TempRoot::kSecret) == std::string::npos);
            CHECK(a->res.body != Response::Body::file);
        }
    }

    TEST_CASE("AllowEncodedSlashes: each mode serves what it means, none leaves the root") {
        TempRoot root;
        root.write("sub/a.txt", "inside");
        root.write("a%2Fb.txt", "literal name");
        root.write("sub/%2F..%2Fx", "odd name");
        struct Mode {
            const char* directive;
            Status sub;     ///< GET /sub%2Fa.txt
            Status literal; ///< GET /a%2Fb.txt
        };
        for (const Mode& m :
             {Mode{"", Status::not_found, Status::not_found},
              Mode{"AllowEncodedSlashes Off\n", Status::not_found, Status::not_found},
              Mode{"AllowEncodedSlashes On\n", Status::ok, Status::not_found},
              Mode{"AllowEncodedSlashes NoDecode\n", Status::not_found, Status::ok}}) {
            CAPTURE(m.directive);
            Harness h(root, m.directive);
            const auto sub = h.get("/sub%2Fa.txt");
            CHECK(sub->res.status == m.sub);
            if (m.sub == Status::ok) {
                CHECK(sub->body() == "inside");
            }
            const auto literal = h.get("/a%2fb.txt");
            CHECK(literal->res.status == Status::not_found); // NoDecode keeps the case sent
            const auto literal_upper = h.get("/a%2Fb.txt");
            CHECK(literal_upper->res.status == m.literal);
            if (m.literal == Status::ok) {
                CHECK(literal_upper->body() == "literal name");
            }
            // NoDecode: "%2F..%2F" is part of a name, not a way up.
            const auto odd = h.get("/sub/%2F..%2Fx");
            const bool keep = std::string_view(m.directive).find("NoDecode") != std::string::npos;
            CHECK(odd->res.status == (keep ? Status::ok : Status::not_found));
            if (keep) {
                CHECK(odd->body() == "odd name");
            }
            // The name "a%2Fb.txt" sent as %25 is that name in every mode.
            const auto escaped = h.get("/a%252Fb.txt");
            CHECK(escaped->res.status == Status::ok);
            CHECK(escaped->body() == "literal name");
            for (const std::string_view target :
                 {"/..%2Fsecret.txt", "/%2e%2e%2fsecret.txt", "/sub/..%2F..%2Fsecret.txt",
                  "/sub%2F..%2F..%2Fsecret.txt", "/%2E%2E%2F%2E%2E%2Fsecret.txt",
                  "/sub/%2F..%2F..%2Fsecret.txt", "/sub%2F%2e%2e/%2e%2e/secret.txt"}) {
                INFO(target);
                const auto a = h.get(target);
                CHECK(a->res.status != Status::ok);
                CHECK(a->body().find(TempRoot::kSecret) == std::string::npos);
                CHECK(a->res.body != Response::Body::file);
            }
        }
    }

    TEST_CASE("a symlink leading out of the document root is refused, even as a variant") {
        TempRoot root;
        root.write("sub/a.txt", "inside");
        root.write("page.txt", "page");
        fs::create_symlink(root.base() / "secret.txt", root.root() / "out.txt");
        fs::create_symlink("../../secret.txt", root.root() / "sub" / "rel.txt");
        fs::create_directory_symlink(root.base(), root.root() / "up");
        fs::create_symlink(root.base() / "secret.txt", root.root() / "page.txt.gz");
        fs::create_symlink("a.txt", root.root() / "sub" / "inside.txt");
        Harness h(root, "Options FollowSymLinks Indexes\nPrecompressedFiles On\n");
        for (const std::string_view target :
             {"/out.txt", "/sub/rel.txt", "/up/secret.txt", "/up/www/../secret.txt"}) {
            INFO(target);
            const auto a = h.get(target);
            CHECK(a->res.status != Status::ok);
            CHECK(a->body().find(TempRoot::kSecret) == std::string::npos);
        }
        const auto variant = h.get("/page.txt", {"Accept-Encoding: gzip"});
        CHECK(variant->res.status == Status::ok);
        CHECK_FALSE(variant->has_field("Content-Encoding:"));
        CHECK(variant->body() == "page");
        // A link that stays beneath the root is followed.
        CHECK(h.get("/sub/inside.txt")->body() == "inside");
    }

    TEST_CASE("SetHandler server-status hands local clients to the status page") {
        TempRoot root;
        Harness h(root, "<Location /server-status>\n    SetHandler server-status\n</Location>\n");
        SUBCASE("loopback") {
            const auto a = h.get("/server-status");
            CHECK(a->route == Route::server_status);
        }
        SUBCASE("a client on the server's own address") {
            Peer peer;
            peer.client = ip4(192, 0, 2, 1);
            peer.local = ip4(192, 0, 2, 1);
            CHECK(h.get("/server-status?json", {}, peer)->route == Route::server_status);
        }
        SUBCASE("a remote client is refused") {
            Peer peer;
            peer.client = ip4(203, 0, 113, 9);
            peer.local = ip4(192, 0, 2, 1);
            const auto a = h.get("/server-status", {}, peer);
            CHECK(a->route == Route::respond);
            CHECK(a->res.status == Status::forbidden);
            CHECK(a->res.error);
        }
    }

    TEST_CASE("SetHandler server-health answers OK, and 503 once the server is stopping") {
        TempRoot root;
        root.write("healthz", "a file that the handler hides");
        Harness h(root, "<Location /healthz>\n    SetHandler server-health\n</Location>\n");
        Peer remote; // a load balancer is not a local client: no local-only rule here
        remote.client = ip4(203, 0, 113, 9);
        remote.local = ip4(192, 0, 2, 1);
        const auto ok = h.get("/healthz", {}, remote);
        CHECK(ok->route == Route::respond);
        CHECK(ok->res.status == Status::ok);
        CHECK(ok->body() == "OK\n");
        CHECK(ok->has_field("Cache-Control: no-store"));
        h.set_draining(false);
        CHECK(h.get("/healthz")->res.status == Status::ok);
        h.set_draining(true);
        const auto draining = h.get("/healthz");
        CHECK(draining->res.status == Status::service_unavailable);
        CHECK(draining->body() == "draining\n");
        CHECK_FALSE(draining->res.close); // the server still serves during the delay
    }

    TEST_CASE("a Require in the health Location applies to it") {
        TempRoot root;
        Harness h(root, "<Location /healthz>\n    SetHandler server-health\n"
                        "    Require ip 10.0.0.0/8\n</Location>\n");
        CHECK(h.get("/healthz")->res.status == Status::forbidden);
    }

    TEST_CASE("a Require in the status Location decides who sees it") {
        TempRoot root;
        Harness h(root, "<Location /server-status>\n    SetHandler server-status\n"
                        "    Require ip 203.0.113.0/24\n</Location>\n");
        Peer remote;
        remote.client = ip4(203, 0, 113, 9);
        remote.local = ip4(192, 0, 2, 1);
        CHECK(h.get("/server-status", {}, remote)->route == Route::server_status);
        Peer other;
        other.client = ip4(198, 51, 100, 7);
        other.local = ip4(192, 0, 2, 1);
        const auto a = h.get("/server-status", {}, other);
        CHECK(a->route == Route::respond);
        CHECK(a->res.status == Status::forbidden);
    }

    TEST_CASE("a Content-Length over LimitRequestBody is 413 and closes") {
        TempRoot root;
        root.write("a.txt", "hello");
        root.write("small/b.txt", "small");
        Harness h(root, "LimitRequestBody 100\n<Directory \"" + root.root().string() +
                            "/small\">\n    LimitRequestBody 10\n</Directory>\n");
        // Cached first: the limit is checked on a cache hit too.
        REQUIRE(h.get("/a.txt")->res.status == Status::ok);
        REQUIRE(h.get("/small/b.txt")->res.status == Status::ok);

        const auto over = h.get("/a.txt", {"Content-Length: 101"});
        CHECK(over->res.status == Status::payload_too_large);
        CHECK(over->res.error);
        CHECK(over->res.close);
        CHECK(over->res.body == Response::Body::text);

        const auto within = h.get("/a.txt", {"Content-Length: 100"});
        CHECK(within->res.status == Status::ok);
        CHECK_FALSE(within->res.close);

        const auto section = h.get("/small/b.txt", {"Content-Length: 11"});
        CHECK(section->res.status == Status::payload_too_large);
        CHECK(section->res.close);

        RequestInfo info;
        info.site = &h.site();
        info.host = &h.site().hosts[0];
        CHECK(kahttpd::server::body_limit_for(parse(request("GET /small/b.txt")), info) == 10);
        CHECK(kahttpd::server::body_limit_for(parse(request("GET /a.txt")), info) == 100);
    }
}
