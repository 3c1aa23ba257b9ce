#include "server/static/file_cache.hpp"

#include "conf/mime_types.hpp"
#include "server/http/target_path.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

using kahttpd::conf::Effective;
using kahttpd::conf::MimeTypes;
using kahttpd::parser::Status;
using kahttpd::server::DocumentRoot;
using kahttpd::server::FileCache;
using kahttpd::server::FileEntry;
using kahttpd::server::FileRef;
using kahttpd::server::kFileInlineMax;
using kahttpd::server::OpenedFile;
using kahttpd::server::OpenOutcome;
using kahttpd::server::resolve_target;
using kahttpd::server::SymlinkPolicy;
using kahttpd::server::TargetPath;
namespace fs = std::filesystem;

namespace {

/// A document root in a fresh temp folder (with a sibling folder outside it), removed after.
class Site {
  public:
    Site() {
        std::random_device random;
        base_ = fs::temp_directory_path() / ("kahttpd-cache-test-" + std::to_string(::getpid()) +
                                             "-" + std::to_string(random()));
        fs::create_directories(base_ / "www");
        fs::create_directories(base_ / "outside");
        base_ = fs::canonical(base_);
    }
    Site(const Site&) = delete;
    Site& operator=(const Site&) = delete;
    ~Site() {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    fs::path root() const { return base_ / "www"; }
    fs::path outside() const { return base_ / "outside"; }

    fs::path write(const fs::path& rel, std::string_view content) const {
        const auto full = root() / rel;
        std::ofstream(full, std::ios::binary | std::ios::trunc)
            .write(content.data(), static_cast<std::streamsize>(content.size()));
        return full;
    }

  private:
    fs::path base_;
};

/// Opens `path` (a request path) beneath `root` and builds its entry, as the server does.
std::unique_ptr<FileEntry> make_entry(const DocumentRoot& root, const std::string& path,
                                      const Effective& eff, bool in_memory = true) {
    static const MimeTypes mime = MimeTypes::builtin();
    TargetPath target;
    REQUIRE(resolve_target(path, target) == Status::ok);
    OpenedFile file;
    Status status = Status::ok;
    REQUIRE(root.open(target, eff.directory_index, file, status) == OpenOutcome::file);
    auto entry = std::make_unique<FileEntry>();
    entry->build(root, file, eff, SymlinkPolicy::follow, mime, "Server: t\r\n", in_memory);
    return entry;
}

FileEntry* insert(FileCache& cache, const DocumentRoot& root, const std::string& path,
                  const Effective& eff, std::uint64_t now = 0) {
    auto entry = make_entry(root, path, eff);
    return cache.insert(path, entry, now);
}

/// prefix + i, built without operator+ (GCC 12 warns falsely about it with -Wrestrict).
std::string numbered(std::string prefix, int i) {
    prefix.append(std::to_string(i));
    return prefix;
}

FileCache::Limits limits(std::uint64_t bytes, std::uint32_t entries, std::uint64_t valid_ms,
                         std::uint32_t fds = 100) {
    FileCache::Limits l;
    l.max_bytes = bytes;
    l.max_entries = entries;
    l.valid_ms = valid_ms;
    l.max_fds = fds;
    return l;
}

} // namespace

TEST_SUITE("server") {

    TEST_CASE("an entry holds a small file in memory with its validators and head") {
        Site site;
        site.write("a.txt", "hello\n");
        DocumentRoot root(site.root());
        Effective eff;
        const auto e = make_entry(root, "/a.txt", eff);
        const auto& rep = e->reps[FileEntry::kIdentity];
        CHECK(rep.in_memory);
        CHECK(rep.fd < 0);
        CHECK(rep.body == "hello\n");
        CHECK(e->type == "text/plain");
        CHECK(rep.validators.starts_with("Last-Modified: "));
        CHECK(rep.validators.find("ETag: \"") != std::string::npos);
        CHECK_FALSE(rep.tag.weak);
        CHECK(rep.etag == std::string("\"").append(rep.tag.opaque).append("\""));
        CHECK(rep.fields.ends_with("Accept-Ranges: bytes\r\n"));
        CHECK(rep.head.starts_with("HTTP/1.1 200 OK\r\nServer: t\r\nDate: "));
        CHECK(rep.head.substr(rep.date_at, 29) == std::string(29, ' '));
        CHECK(rep.head.find("Content-Length: 6\r\n") != std::string::npos);
        CHECK_FALSE(e->vary);
    }

    TEST_CASE("a large file keeps its descriptor, and Header rules leave no prepared head") {
        Site site;
        site.write("big.bin", std::string(kFileInlineMax + 1, 'x'));
        DocumentRoot root(site.root());
        Effective eff;
        eff.headers.push_back({});
        const auto e = make_entry(root, "/big.bin", eff);
        CHECK_FALSE(e->reps[FileEntry::kIdentity].in_memory);
        CHECK(e->reps[FileEntry::kIdentity].fd >= 0);
        CHECK(e->reps[FileEntry::kIdentity].head.empty());
    }

    TEST_CASE("precompressed variants are found beside the file and tagged apart") {
        Site site;
        site.write("s.css", "body{}");
        site.write("s.css.gz", "gzipped");
        DocumentRoot root(site.root());
        Effective eff;
        const auto e = make_entry(root, "/s.css", eff);
        CHECK(e->vary);
        CHECK_FALSE(e->reps[FileEntry::kBr].exists);
        REQUIRE(e->reps[FileEntry::kGzip].exists);
        CHECK(e->reps[FileEntry::kGzip].body == "gzipped");
        CHECK(e->reps[FileEntry::kGzip].etag.ends_with("-gz\""));
        CHECK(e->reps[FileEntry::kGzip].fields.find("Content-Encoding: gzip\r\n") !=
              std::string::npos);
        CHECK(e->reps[FileEntry::kIdentity].validators.find("Vary: Accept-Encoding") !=
              std::string::npos);
    }

    TEST_CASE("the cache keeps at most FileCacheEntries entries, least recently used out") {
        Site site;
        for (const char* name : {"a", "b", "c"}) {
            site.write(name, name);
        }
        DocumentRoot root(site.root());
        Effective eff;
        FileCache cache(limits(1 << 20, 2, 1000));
        REQUIRE(insert(cache, root, "/a", eff) != nullptr);
        REQUIRE(insert(cache, root, "/b", eff) != nullptr);
        CHECK(cache.find("/a", 0) != nullptr); // a is now the most recently used
        REQUIRE(insert(cache, root, "/c", eff) != nullptr);
        CHECK(cache.entries() == 2);
        CHECK(cache.find("/b", 0) == nullptr);
        CHECK(cache.find("/a", 0) != nullptr);
        CHECK(cache.find("/c", 0) != nullptr);
        CHECK(cache.stats().evictions == 1);
    }

    TEST_CASE("the cache stays within FileCacheSize bytes") {
        Site site;
        const std::string body(10000, 'z');
        for (int i = 0; i < 10; ++i) {
            site.write(numbered("f", i), body);
        }
        DocumentRoot root(site.root());
        Effective eff;
        const std::uint64_t one = make_entry(root, "/f0", eff)->cost();
        FileCache cache(limits(3 * one + one / 2, 100, 1000));
        for (int i = 0; i < 10; ++i) {
            REQUIRE(insert(cache, root, numbered("/f", i), eff) != nullptr);
            CHECK(cache.bytes() <= cache.limits().max_bytes);
        }
        CHECK(cache.entries() == 3);
        CHECK(cache.find("/f9", 0) != nullptr);
        CHECK(cache.find("/f0", 0) == nullptr);

        SUBCASE("an entry larger than the whole cache is not cached") {
            FileCache tiny(limits(one / 2, 100, 1000));
            auto entry = make_entry(root, "/f1", eff);
            CHECK(tiny.insert("/f1", entry, 0) == nullptr);
            CHECK(entry != nullptr); // handed back to the caller
            CHECK(tiny.entries() == 0);
        }
    }

    TEST_CASE("descriptors held by entries are bounded") {
        Site site;
        const std::string big(kFileInlineMax + 10, 'b');
        site.write("x", big);
        site.write("y", big);
        site.write("small", "s");
        DocumentRoot root(site.root());
        Effective eff;
        FileCache cache(limits(1 << 20, 100, 1000, 1));
        REQUIRE(insert(cache, root, "/x", eff) != nullptr);
        CHECK(cache.fds() == 1);
        REQUIRE(insert(cache, root, "/small", eff) != nullptr);
        REQUIRE(insert(cache, root, "/y", eff) != nullptr);
        CHECK(cache.fds() == 1);
        CHECK(cache.find("/x", 0) == nullptr);
        CHECK(cache.find("/small", 0) != nullptr);
    }

    TEST_CASE("entries are checked again once FileCacheValid has passed") {
        Site site;
        const auto path = site.write("page.html", "<p>one</p>");
        DocumentRoot root(site.root());
        Effective eff;
        FileCache cache(limits(1 << 20, 100, 1000));
        FileEntry* e = insert(cache, root, "/page.html", eff, 5000);
        REQUIRE(e != nullptr);

        SUBCASE("unchanged: kept, and the next check is an interval later") {
            CHECK(cache.find("/page.html", 6000) == e);
            CHECK(cache.stats().revalidations == 1);
            CHECK(cache.find("/page.html", 6999) == e);
            CHECK(cache.stats().revalidations == 1);
        }
        SUBCASE("modified: served as cached within the interval, dropped after it") {
            site.write("page.html", "<p>two, longer</p>");
            CHECK(cache.find("/page.html", 5999) == e);
            CHECK(cache.find("/page.html", 6000) == nullptr);
            CHECK(cache.stats().stale == 1);
            CHECK(cache.entries() == 0);
        }
        SUBCASE("touched with the same size and its mtime set back: the ctime tells") {
            // Same size; wait (bounded) until the file clock has moved past its ctime, so the
            // rewrite gets another one.
            const auto ctime = e->reps[FileEntry::kIdentity].st.st_ctim;
            timespec now{};
            for (int i = 0; i < 10000000; ++i) {
                ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
                if (now.tv_sec > ctime.tv_sec ||
                    (now.tv_sec == ctime.tv_sec && now.tv_nsec > ctime.tv_nsec)) {
                    break;
                }
            }
            site.write("page.html", "<p>ONE</p>");
            const auto mtime = e->reps[FileEntry::kIdentity].st.st_mtim;
            const timespec times[2] = {mtime, mtime};
            REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
        SUBCASE("deleted: dropped") {
            fs::remove(path);
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
        SUBCASE("replaced by a symlink that leaves the root: dropped, never followed") {
            const auto secret = site.outside() / "secret";
            std::ofstream(secret) << "secret";
            fs::remove(path);
            fs::create_symlink(secret, path);
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
        SUBCASE("a precompressed variant appearing is a change") {
            site.write("page.html.br", "brotli");
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
        SUBCASE("FileCacheValid 0 checks on every find") {
            FileCache every(limits(1 << 20, 100, 0));
            REQUIRE(insert(every, root, "/page.html", eff, 100) != nullptr);
            CHECK(every.find("/page.html", 100) != nullptr);
            site.write("page.html", "<p>changed at once</p>");
            CHECK(every.find("/page.html", 100) == nullptr);
        }
    }

    TEST_CASE("a pinned entry outlives its eviction and is freed with the last pin") {
        Site site;
        site.write("a", "aaa");
        DocumentRoot root(site.root());
        Effective eff;
        FileCache cache(limits(1 << 20, 100, 1000));
        FileRef pin(insert(cache, root, "/a", eff));
        REQUIRE(pin);
        CHECK(pin->refs == 1);
        cache.clear();
        CHECK(cache.entries() == 0);
        CHECK_FALSE(pin->in_cache);
        CHECK(pin->reps[FileEntry::kIdentity].body == "aaa");
        FileRef moved(std::move(pin));
        CHECK_FALSE(pin);
        CHECK(moved->refs == 1);
        moved.reset(); // frees the entry
        CHECK_FALSE(moved);
    }

    TEST_CASE("a new configuration empties the cache") {
        Site site;
        site.write("a", "aaa");
        DocumentRoot root(site.root());
        Effective eff;
        FileCache cache(limits(1 << 20, 100, 1000));
        const int owner1 = 0, owner2 = 0;
        cache.configure(limits(1 << 20, 100, 1000), &owner1);
        REQUIRE(insert(cache, root, "/a", eff) != nullptr);
        cache.configure(limits(1 << 20, 100, 1000), &owner1);
        CHECK(cache.entries() == 1);
        cache.configure(limits(1 << 20, 100, 1000), &owner2);
        CHECK(cache.entries() == 0);
        CHECK(cache.owner() == &owner2);
    }
}
