#include "server/static/file_cache.hpp"

#include "conf/file_metadata.hpp"
#include "parser/status.hpp"
#include "parser/text.hpp"
#include "server/http/compression.hpp"
#include "server/http/expires.hpp"
#include "server/http/http_date.hpp"
#include "server/http/response_head.hpp"
#include "server/http/validators.hpp"

#include <cerrno>
#include <charconv>
#include <span>

#include <unistd.h>

namespace kahttpd::server {

namespace {

constexpr const char* kSuffixes[3] = {"", ".br", ".gz"};
constexpr std::string_view kCodingNames[3] = {"", "br", "gzip"};
constexpr std::string_view kETagSuffixes[3] = {"", "-br", "-gz"};
/// Apache's suffixes for what its DEFLATE and BROTLI_COMPRESS filters send (DeflateAlterETag and
/// BrotliAlterETag AddSuffix, their default), added to the file's own tag.
constexpr std::string_view kGeneratedETagSuffixes[3] = {"", "-br", "-gzip"};

/// Same file, unchanged: the fields a write, a rename over it or a chmod/chown would change.
/// ctime catches a rewrite whose mtime was set back (utime cannot set ctime).
bool same_file(const struct stat& a, const struct stat& b) noexcept {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
           a.st_mode == b.st_mode && a.st_uid == b.st_uid && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
           a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

/// Reads the whole file into `out`; false on a short read.
bool read_whole(int fd, std::uint64_t size, std::string& out) {
    out.resize(static_cast<std::size_t>(size));
    std::size_t got = 0;
    while (got < size) {
        const ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            out.clear();
            return false;
        }
        got += static_cast<std::size_t>(n);
    }
    return true;
}

/// The output filters for a file of media type `type` (its Content-Type before any
/// parameter): SetOutputFilter's and AddOutputFilterByType's for that type.
std::uint8_t output_filters(const conf::Effective& eff, std::string_view type) {
    std::uint8_t filters = eff.set_output_filter;
    if (!eff.output_filters_by_type.empty()) {
        type = type.substr(0, type.find(';'));
        while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
            type.remove_suffix(1);
        }
        std::string key(type);
        for (auto& c : key) {
            c = text::to_lower(c);
        }
        if (const auto it = eff.output_filters_by_type.find(key);
            it != eff.output_filters_by_type.end()) {
            filters = static_cast<std::uint8_t>(filters | it->second);
        }
    }
    return filters;
}

} // namespace

// ---- FileEntry -------------------------------------------------------------------------------

FileEntry::~FileEntry() {
    for (FileRep& r : reps) {
        if (r.fd >= 0) {
            ::close(r.fd);
        }
    }
}

void FileEntry::build(const DocumentRoot& document_root, OpenedFile& file,
                      const conf::Effective& eff, SymlinkPolicy symlinks,
                      const conf::MimeTypes& mime, std::string_view server_header, bool in_memory) {
    root = &document_root;
    rel = file.rel;
    name = file.name;
    links = symlinks;
    settings = &eff;
    reps[kIdentity].exists = true;
    reps[kIdentity].fd = file.release();
    reps[kIdentity].st = file.st;

    // Content-Type and the file's own Content-Encoding (mod_mime: AddType, TypesConfig,
    // AddCharset, AddEncoding; ForceType; AddDefaultCharset). The type of a variant is the
    // original's.
    conf::FileMetadata meta = conf::file_metadata(name, eff, mime);
    type = std::move(meta.content_type);
    encoding = std::move(meta.content_encoding);
    const std::string_view t = type;

    // Precompressed variants beside the file: foo.css.br, foo.css.gz (PrecompressedFiles). A
    // file that is itself encoded (AddEncoding: foo.css.gz asked for by name) has none: it is
    // sent as it is, never encoded twice.
    if (eff.precompressed_files && encoding.empty()) {
        for (int i = kBr; i <= kGzip; ++i) {
            const int fd = root->open_beneath(rel + kSuffixes[i], links);
            if (fd < 0) {
                continue;
            }
            FileRep& r = reps[i];
            if (::fstat(fd, &r.st) != 0 || !S_ISREG(r.st.st_mode)) {
                ::close(fd);
                r.st = {};
                continue;
            }
            r.fd = fd;
            r.exists = true;
            vary = true;
        }
    }

    expires = conf::expires_for(eff.expires_active, eff.expires_default, eff.expires_by_type, t);

    // Compression on the fly, for the codings the filters ask for and no file beside this one
    // provides (a precompressed variant wins). Done once per file version: the entry keeps the
    // result, so a cache hit costs no compression and no allocation.
    std::string content; // the file, when it had to be read for compressing
    // A file with its own encoding is not compressed on the fly either.
    const std::uint8_t filters = encoding.empty() ? output_filters(eff, t) : 0;
    const std::uint64_t file_size = reps[kIdentity].size();
    if (filters != 0 && file_size >= eff.compress_min_length && file_size <= kCompressMax &&
        (((filters & conf::OutputFilters::kBrotli) != 0 && !reps[kBr].exists) ||
         ((filters & conf::OutputFilters::kDeflate) != 0 && !reps[kGzip].exists)) &&
        read_whole(reps[kIdentity].fd, file_size, content)) {
        struct Want {
            int rep;
            std::uint8_t filter;
            ::kahttpd::server::Coding coding;
            std::uint32_t level;
        };
        const Want wants[2] = {
            {kBr, conf::OutputFilters::kBrotli, ::kahttpd::server::Coding::br, eff.brotli_quality},
            {kGzip, conf::OutputFilters::kDeflate, ::kahttpd::server::Coding::gzip,
             eff.deflate_level},
        };
        for (const Want& w : wants) {
            FileRep& r = reps[w.rep];
            if ((filters & w.filter) == 0 || r.exists ||
                !compress(content, w.coding, static_cast<int>(w.level), r.body)) {
                continue;
            }
            if (r.body.size() >= file_size) {
                // Incompressible (already compressed formats, noise): identity is smaller.
                r.body.clear();
                r.body.shrink_to_fit();
                continue;
            }
            r.body.shrink_to_fit();
            r.exists = true;
            r.generated = true;
            r.in_memory = true;
            r.st = reps[kIdentity].st;
            r.st.st_size = static_cast<off_t>(r.body.size());
            vary = true;
        }
    }

    for (int i = kIdentity; i <= kGzip; ++i) {
        FileRep& r = reps[i];
        if (!r.exists) {
            continue;
        }
        const std::uint64_t size = r.size();
        // Validators of this representation. The ETag is strong, from the parts FileETag
        // selects; the modification time in nanoseconds so two writes within one second still
        // differ. Each encoding is its own representation: without a suffix, variants created
        // with the original's times (gzip -k) would share its strong tag.
        char date[30];
        r.validators.assign("Last-Modified: ");
        r.validators.append(format_http_date(r.st.st_mtim.tv_sec, date)).append("\r\n");
        if (r.generated) {
            // The file's tag with Apache's suffix: the same file version always compresses to
            // the same bytes here (compress() is deterministic), so the tag stays strong.
            if (!reps[kIdentity].etag.empty()) {
                r.etag = reps[kIdentity].etag;
                r.etag.insert(r.etag.size() - 1, kGeneratedETagSuffixes[i]);
                r.validators.append("ETag: ").append(r.etag).append("\r\n");
                parse_entity_tag(r.etag, r.tag);
            }
        } else if (eff.file_etag.parts != 0) {
            std::uint64_t parts[3];
            std::size_t n = 0;
            if (eff.file_etag.parts & conf::FileETagSpec::kINode) {
                parts[n++] = static_cast<std::uint64_t>(r.st.st_ino);
            }
            if (eff.file_etag.parts & conf::FileETagSpec::kSize) {
                parts[n++] = size;
            }
            if (eff.file_etag.parts & conf::FileETagSpec::kMTime) {
                parts[n++] = static_cast<std::uint64_t>(r.st.st_mtim.tv_sec) * 1000000000ull +
                             static_cast<std::uint64_t>(r.st.st_mtim.tv_nsec);
            }
            format_etag(r.etag, std::span<const std::uint64_t>(parts, n));
            if (i != kIdentity && r.etag.size() >= 2) {
                r.etag.insert(r.etag.size() - 1, kETagSuffixes[i]);
            }
            r.validators.append("ETag: ").append(r.etag).append("\r\n");
            // The entry never moves and `etag` never changes again, so the view stays valid.
            parse_entity_tag(r.etag, r.tag);
        }
        if (vary) {
            r.validators.append("Vary: Accept-Encoding\r\n");
        }
        r.fields = r.validators;
        if (i != kIdentity) {
            r.fields.append("Content-Encoding: ").append(kCodingNames[i]).append("\r\n");
        } else if (!encoding.empty()) {
            r.fields.append("Content-Encoding: ").append(encoding).append("\r\n");
        }
        r.fields.append("Accept-Ranges: bytes\r\n");

        // A head that depends on the file's time at every request (mod_expires from the
        // modification time: its max-age counts down) is built per response instead.
        if (eff.headers.empty() && in_memory &&
            expires.base != conf::ExpiresSpec::Base::modification) {
            // The head of a 200 from the one serialiser, Date left blank (29 characters, the
            // connection writes the current one in). Only worth it for an entry that is going
            // to be cached; with Header rules every head is built per response. mod_expires
            // from the access time adds its lines with the Expires date blank as well.
            static constexpr std::string_view kNoDate = "                             ";
            r.head.clear();
            std::string_view fields = r.fields;
            std::string with_expires;
            if (expires.base == conf::ExpiresSpec::Base::access) {
                with_expires.assign(r.fields);
                append_access_expires_prefix(with_expires, expires);
                with_expires.append(kNoDate).append("\r\n");
                fields = with_expires;
            }
            r.date_at =
                append_head(r.head, parser::Status::ok, server_header, kNoDate, type, size, fields)
                    .date_at;
            r.expires_at = with_expires.empty() ? 0 : r.head.size() - kNoDate.size() - 2;
        }

        if (in_memory && size <= kFileInlineMax && !r.generated) {
            if (i == kIdentity && content.size() == size) {
                r.body = std::move(content); // read already, for compressing
                r.in_memory = true;
                ::close(r.fd);
                r.fd = -1;
            } else if (read_whole(r.fd, size, r.body)) {
                r.in_memory = true;
                ::close(r.fd);
                r.fd = -1;
            }
        }
    }
}

bool FileEntry::still_valid() const noexcept {
    // Reused, so a check (on every hit with FileCacheValid 0) allocates nothing.
    static thread_local std::string path;
    for (int i = kIdentity; i <= kGzip; ++i) {
        if (i != kIdentity && (!settings->precompressed_files || !encoding.empty())) {
            break; // no variants were looked for
        }
        path.assign(rel).append(kSuffixes[i]);
        struct stat st {};
        const bool found = root->stat_beneath(path, links, st);
        const bool file_missing = !reps[i].exists || reps[i].generated;
        if (!found && i != kIdentity && errno == ENOENT && file_missing) {
            continue; // still no such variant (one made here depends on the file's check)
        }
        if (!found || file_missing || !same_file(st, reps[i].st)) {
            return false;
        }
    }
    return true;
}

std::size_t FileEntry::cost() const noexcept {
    // The merged settings an entry may adopt after it is cached are not counted: the cost must
    // not change while it is cached.
    std::size_t n =
        sizeof(FileEntry) + key.size() + rel.size() + name.size() + type.size() + encoding.size();
    for (const FileRep& r : reps) {
        n += r.body.size() + r.etag.size() + r.validators.size() + r.fields.size() + r.head.size();
    }
    return n;
}

// ---- FileRef ---------------------------------------------------------------------------------

void FileRef::release() noexcept {
    if (--e_->refs == 0 && !e_->in_cache) {
        delete e_;
    }
    e_ = nullptr;
}

// ---- FileCache -------------------------------------------------------------------------------

FileCache& FileCache::for_this_thread() noexcept {
    // One per worker thread, so no locks; freed when the thread ends, after its loop closed
    // (and with it every connection that pinned an entry).
    static thread_local FileCache cache;
    return cache;
}

void FileCache::configure(const Limits& limits, const void* owner) {
    if (owner != owner_ || limits.max_bytes != limits_.max_bytes ||
        limits.max_entries != limits_.max_entries || limits.valid_ms != limits_.valid_ms ||
        limits.max_fds != limits_.max_fds) {
        clear();
        limits_ = limits;
        owner_ = owner;
    }
}

std::uint32_t FileCache::fds_of(const FileEntry& e) noexcept {
    std::uint32_t n = 0;
    for (const FileRep& r : e.reps) {
        n += r.fd >= 0 ? 1 : 0;
    }
    return n;
}

FileEntry* FileCache::find(std::string_view key, std::uint64_t now_ms) {
    const auto it = map_.find(key);
    if (it == map_.end()) {
        ++stats_.misses;
        return nullptr;
    }
    FileEntry* e = it->second;
    if (now_ms - e->checked_ms >= limits_.valid_ms || now_ms < e->checked_ms) {
        ++stats_.revalidations;
        if (!e->still_valid()) {
            ++stats_.stale;
            ++stats_.misses;
            drop(e);
            return nullptr;
        }
        e->checked_ms = now_ms;
    }
    ++stats_.hits;
    lru_unlink(e);
    lru_push_back(e);
    return e;
}

FileEntry* FileCache::insert(std::string_view key, std::unique_ptr<FileEntry>& entry,
                             std::uint64_t now_ms) {
    if (!enabled()) {
        return nullptr;
    }
    if (const auto it = map_.find(key); it != map_.end()) {
        drop(it->second);
    }
    entry->key.assign(key);
    const std::size_t cost = entry->cost();
    const std::uint32_t fds = fds_of(*entry);
    if (cost > limits_.max_bytes || fds > limits_.max_fds) {
        return nullptr;
    }
    while (lru_front_ != nullptr &&
           (bytes_ + cost > limits_.max_bytes || map_.size() + 1 > limits_.max_entries ||
            fds_ + fds > limits_.max_fds)) {
        ++stats_.evictions;
        drop(lru_front_);
    }
    FileEntry* e = entry.release();
    e->in_cache = true;
    e->checked_ms = now_ms;
    map_.emplace(std::string_view(e->key), e);
    lru_push_back(e);
    bytes_ += cost;
    fds_ += fds;
    return e;
}

void FileCache::drop(FileEntry* e) noexcept {
    map_.erase(std::string_view(e->key));
    lru_unlink(e);
    bytes_ -= e->cost();
    fds_ -= fds_of(*e);
    e->in_cache = false;
    if (e->refs == 0) {
        delete e;
    }
}

void FileCache::clear() noexcept {
    while (lru_front_ != nullptr) {
        drop(lru_front_);
    }
}

void FileCache::lru_unlink(FileEntry* e) noexcept {
    (e->lru_prev != nullptr ? e->lru_prev->lru_next : lru_front_) = e->lru_next;
    (e->lru_next != nullptr ? e->lru_next->lru_prev : lru_back_) = e->lru_prev;
    e->lru_prev = e->lru_next = nullptr;
}

void FileCache::lru_push_back(FileEntry* e) noexcept {
    e->lru_prev = lru_back_;
    e->lru_next = nullptr;
    (lru_back_ != nullptr ? lru_back_->lru_next : lru_front_) = e;
    lru_back_ = e;
}

} // namespace kahttpd::server
