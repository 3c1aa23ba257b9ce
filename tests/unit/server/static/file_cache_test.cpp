#include "server/static/file_cache.hpp"

#include "conf/mime_types.hpp"
#include "server/http/compression.hpp"
#include "server/http/target_path.hpp"
#include "tests/unit/server/http/decompress.hpp"

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
using kahttpd::server::kCompressMax;
using kahttpd::server::kFileInlineMax;
using kahttpd::server::OpenedFile;
using kahttpd::server::OpenOutcome;
using kahttpd::server::resolve_target;
using kahttpd::server::SymlinkPolicy;
using kahttpd::server::TargetPath;
using kahttpd::server::test::gunzip;
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

/// Text that compresses as pages do.
std::string page_text(std::size_t n) {
    std::string s;
    for (int i = 0; s.size() < n; ++i) {
        s.append("<li class=\"row\">entry ").append(std::to_string(i % 97)).append("</li>\n");
    }
    s.resize(n);
    return s;
}

/// Settings that compress `type` with the filters `bits` (AddOutputFilterByType).
Effective compressing(std::string type, std::uint8_t bits) {
    Effective eff;
    eff.output_filters_by_type[std::move(type)] = bits;
    return eff;
}

constexpr std::uint8_t kBoth =
    kahttpd::conf::OutputFilters::kDeflate | kahttpd::conf::OutputFilters::kBrotli;

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

    TEST_CASE("a compressible file gets its compressed variants once, tagged as Apache does") {
        Site site;
        const std::string text = page_text(5000);
        site.write("page.html", text);
        DocumentRoot root(site.root());
        const Effective eff = compressing("text/html", kBoth);
        for (const bool in_memory : {true, false}) {
            CAPTURE(in_memory); // cached, or built for one response: the same variants
            const auto e = make_entry(root, "/page.html", eff, in_memory);
            const auto& file = e->reps[FileEntry::kIdentity];
            const auto& gz = e->reps[FileEntry::kGzip];
            const auto& br = e->reps[FileEntry::kBr];
            CHECK(e->vary);
            CHECK(file.in_memory == in_memory);
            REQUIRE(gz.exists);
            REQUIRE(br.exists);
            CHECK(gz.generated);
            CHECK(br.generated);
            CHECK(gz.in_memory);
            CHECK(gz.fd < 0);
            CHECK(gunzip(gz.body) == text);
            CHECK(gz.size() == gz.body.size());
            CHECK(gz.size() < text.size() / 4);
            CHECK(br.size() < text.size() / 4);
            // The file's tag with Apache's suffixes; the same modification time.
            const std::string tag = file.etag.substr(0, file.etag.size() - 1);
            CHECK(gz.etag == tag + "-gzip\"");
            CHECK(br.etag == tag + "-br\"");
            CHECK(gz.tag.opaque == gz.etag.substr(1, gz.etag.size() - 2));
            CHECK(gz.st.st_mtim.tv_sec == file.st.st_mtim.tv_sec);
            CHECK(gz.validators.find("Last-Modified: ") == 0);
            CHECK(gz.fields.find("Content-Encoding: gzip\r\n") != std::string::npos);
            CHECK(br.fields.find("Content-Encoding: br\r\n") != std::string::npos);
            // Vary on every representation, the file's too.
            CHECK(file.validators.find("Vary: Accept-Encoding\r\n") != std::string::npos);
            CHECK(gz.validators.find("Vary: Accept-Encoding\r\n") != std::string::npos);
            if (in_memory) {
                CHECK(file.body == text);
                CHECK(gz.head.find("Content-Length: " + std::to_string(gz.size()) + "\r\n") !=
                      std::string::npos);
            }
        }
    }

    TEST_CASE("compression follows the filters, the type, the threshold and the size limit") {
        Site site;
        DocumentRoot root(site.root());
        SUBCASE("a type without filters is left alone") {
            site.write("a.css", page_text(3000));
            const auto e = make_entry(root, "/a.css", compressing("text/html", kBoth));
            CHECK_FALSE(e->vary);
            CHECK_FALSE(e->reps[FileEntry::kGzip].exists);
            CHECK_FALSE(e->reps[FileEntry::kBr].exists);
        }
        SUBCASE("SetOutputFilter compresses every type, with only the filters it names") {
            site.write("a.bin", page_text(3000));
            Effective eff;
            eff.set_output_filter = kahttpd::conf::OutputFilters::kDeflate;
            const auto e = make_entry(root, "/a.bin", eff);
            CHECK(e->reps[FileEntry::kGzip].generated);
            CHECK_FALSE(e->reps[FileEntry::kBr].exists);
        }
        SUBCASE("the type is matched without its charset") {
            site.write("a.txt", page_text(3000));
            Effective eff = compressing("text/plain", kBoth);
            eff.default_charset = "utf-8";
            const auto e = make_entry(root, "/a.txt", eff);
            CHECK(e->type == "text/plain; charset=utf-8");
            CHECK(e->reps[FileEntry::kGzip].generated);
        }
        SUBCASE("below CompressMinLength the file is sent as it is") {
            site.write("a.html", page_text(255));
            site.write("b.html", page_text(256));
            const Effective eff = compressing("text/html", kBoth);
            CHECK_FALSE(make_entry(root, "/a.html", eff)->vary);
            CHECK(make_entry(root, "/b.html", eff)->vary);
        }
        SUBCASE("above kCompressMax the file is sent as it is") {
            site.write("big.html", page_text(kCompressMax + 1));
            const auto e = make_entry(root, "/big.html", compressing("text/html", kBoth));
            CHECK_FALSE(e->vary);
            CHECK(e->reps[FileEntry::kIdentity].fd >= 0);
        }
        SUBCASE("a file too large for memory is streamed, its compressed form is held") {
            const std::string text = page_text(kFileInlineMax * 4);
            site.write("mid.html", text);
            const auto e = make_entry(root, "/mid.html", compressing("text/html", kBoth));
            CHECK_FALSE(e->reps[FileEntry::kIdentity].in_memory);
            CHECK(e->reps[FileEntry::kIdentity].fd >= 0);
            CHECK(e->reps[FileEntry::kGzip].in_memory);
            CHECK(gunzip(e->reps[FileEntry::kGzip].body) == text);
        }
        SUBCASE("what does not get smaller is not kept") {
            std::string noise(4000, '\0');
            std::mt19937 random(7);
            for (auto& c : noise) {
                c = static_cast<char>(random());
            }
            site.write("noise.html", noise);
            const auto e = make_entry(root, "/noise.html", compressing("text/html", kBoth));
            CHECK_FALSE(e->vary);
            CHECK_FALSE(e->reps[FileEntry::kGzip].exists);
            CHECK(e->reps[FileEntry::kIdentity].body == noise);
        }
        SUBCASE("the level is DeflateCompressionLevel's") {
            site.write("a.html", page_text(20000));
            Effective fast = compressing("text/html", kahttpd::conf::OutputFilters::kDeflate);
            fast.deflate_level = 1;
            Effective best = fast;
            best.deflate_level = 9;
            CHECK(make_entry(root, "/a.html", fast)->reps[FileEntry::kGzip].size() >
                  make_entry(root, "/a.html", best)->reps[FileEntry::kGzip].size());
        }
    }

    TEST_CASE("a precompressed file beside the file wins over compression on the fly") {
        Site site;
        site.write("s.css", page_text(3000));
        site.write("s.css.gz", "gzipped");
        DocumentRoot root(site.root());
        const auto e = make_entry(root, "/s.css", compressing("text/css", kBoth));
        CHECK_FALSE(e->reps[FileEntry::kGzip].generated);
        CHECK(e->reps[FileEntry::kGzip].body == "gzipped");
        CHECK(e->reps[FileEntry::kBr].generated); // none beside it: made here
    }

    TEST_CASE("a file with its own encoding (AddEncoding) is sent as it is, never again") {
        // page.html.gz asked for by name, with "AddEncoding gzip .gz": text/html, gzip, and
        // neither a variant beside it nor one made here, whatever the filters ask for.
        Site site;
        const std::string gzipped = page_text(3000); // its bytes are the client's business
        site.write("page.html.gz", gzipped);
        site.write("page.html.gz.br", "brotli of the gzip");
        site.write("page.html.gz.gz", "gzip of the gzip");
        DocumentRoot root(site.root());
        Effective eff = compressing("text/html", kBoth);
        eff.set_output_filter = kBoth;
        eff.add_encodings["gz"] = "gzip";
        eff.add_charsets["utf8"] = "utf-8";
        const auto e = make_entry(root, "/page.html.gz", eff);
        CHECK(e->type == "text/html");
        CHECK(e->encoding == "gzip");
        CHECK_FALSE(e->vary);
        CHECK_FALSE(e->reps[FileEntry::kGzip].exists);
        CHECK_FALSE(e->reps[FileEntry::kBr].exists);
        const auto& rep = e->reps[FileEntry::kIdentity];
        CHECK(rep.body == gzipped);
        CHECK(rep.fields.find("Content-Encoding: gzip\r\n") != std::string::npos);
        CHECK(rep.validators.find("Content-Encoding") == std::string::npos); // not on a 304
        CHECK(rep.validators.find("Vary") == std::string::npos);
        CHECK(rep.head.find("Content-Type: text/html\r\n") != std::string::npos);
        CHECK(rep.head.find("Content-Encoding: gzip\r\n") != std::string::npos);
        CHECK(rep.etag.size() > 2); // tagged as any file
        CHECK(rep.etag.find("-gz") == std::string::npos);

        // Without AddEncoding the same file is an archive, with its variants as before.
        Effective plain;
        const auto archive = make_entry(root, "/page.html.gz", plain);
        CHECK(archive->type == "application/gzip");
        CHECK(archive->encoding.empty());
        CHECK(archive->reps[FileEntry::kBr].exists);

        // The variants it never looked for do not make it stale.
        FileCache cache(limits(1 << 20, 100, 0));
        FileEntry* cached = insert(cache, root, "/page.html.gz", eff, 5000);
        REQUIRE(cached != nullptr);
        fs::remove(site.root() / "page.html.gz.br");
        CHECK(cache.find("/page.html.gz", 6000) == cached);
        site.write("page.html.gz", page_text(4000));
        CHECK(cache.find("/page.html.gz", 7000) == nullptr);
    }

    TEST_CASE("AddCharset puts the charset on the type of the cached entry") {
        Site site;
        site.write("index.html.utf8", "<p>\xc3\xa9</p>");
        DocumentRoot root(site.root());
        Effective eff;
        eff.add_charsets["utf8"] = "utf-8";
        eff.default_charset = "iso-8859-1";
        const auto e = make_entry(root, "/index.html.utf8", eff);
        CHECK(e->type == "text/html; charset=utf-8");
        CHECK(e->encoding.empty());
        CHECK(e->reps[FileEntry::kIdentity].head.find(
                  "Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
    }

    TEST_CASE("compressed variants count within FileCacheSize and survive revalidation") {
        Site site;
        site.write("page.html", page_text(5000));
        DocumentRoot root(site.root());
        const Effective plain;
        const Effective eff = compressing("text/html", kBoth);
        const auto without = make_entry(root, "/page.html", plain);
        const auto with = make_entry(root, "/page.html", eff);
        CHECK(with->cost() >= without->cost() + with->reps[FileEntry::kGzip].body.size() +
                                  with->reps[FileEntry::kBr].body.size());

        FileCache cache(limits(1 << 20, 100, 1000));
        FileEntry* e = insert(cache, root, "/page.html", eff, 5000);
        REQUIRE(e != nullptr);
        CHECK(cache.bytes() == e->cost());
        SUBCASE("unchanged: the variants made here are not taken for missing files") {
            CHECK(cache.find("/page.html", 6000) == e);
            CHECK(cache.stats().stale == 0);
        }
        SUBCASE("a .gz appearing beside the file replaces the variant made here") {
            site.write("page.html.gz", "precompressed");
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
        SUBCASE("the file changing drops its variants with it") {
            site.write("page.html", page_text(6000));
            CHECK(cache.find("/page.html", 6000) == nullptr);
        }
    }
}
