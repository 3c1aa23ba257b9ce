#pragma once

#include "conf/sections.hpp"
#include "server/http/validators.hpp"
#include "server/static/static_file.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sys/stat.h>

namespace kahttpd::conf {
class MimeTypes;
}

namespace kahttpd::server {

/// Files up to this size are held in memory by the open-file cache (and, cached or not, leave
/// with their header in one write); larger ones keep only their descriptor and stream after the
/// header (sendfile(2) or read/write).
constexpr std::uint64_t kFileInlineMax = 64 * 1024;

/// Where the date of the Last-Modified line sits in FileRep::validators and FileRep::fields,
/// which both begin with that line ("Last-Modified: " and 29 characters).
constexpr std::size_t kLastModifiedDateAt = 15;

/// One representation of a file: the file itself, its `.br` / `.gz` variant beside it, or a
/// variant compressed here (AddOutputFilterByType, SetOutputFilter) when there is none.
struct FileRep {
    bool exists = false;
    /// Made by compressing the file when the entry was built (its bytes in `body`, its `st` the
    /// file's with the compressed size), not read from a file beside it.
    bool generated = false;
    int fd = -1;       ///< open unless the body is held in memory (closed by ~FileEntry)
    struct stat st {}; ///< as found when the entry was built
    bool in_memory = false;
    std::string body; ///< the whole file when in_memory
    std::string etag; ///< the ETag value ("" with FileETag None)
    EntityTag tag;    ///< `etag` parsed (its opaque part points into `etag`)
    /// Header lines of a 304: Last-Modified, ETag, Vary. Last-Modified is the file's time as
    /// found; a time ahead of the clock is replaced per response (serve_representation), never
    /// here, since the entry outlives the second it was built in.
    std::string validators;
    /// Header lines of a 200/206 after Content-Length: validators, Content-Encoding,
    /// Accept-Ranges.
    std::string fields;
    /// The whole head of a 200 up to (not including) the Connection/Keep-Alive lines, with 29
    /// blanks at date_at for the Date; empty when Header rules apply (they may rewrite any
    /// line, so such responses are built field by field).
    std::string head;
    std::size_t date_at = 0;
    std::size_t expires_at = 0; ///< where the Expires date goes in `head` (0 = none)

    std::uint64_t size() const noexcept { return static_cast<std::uint64_t>(st.st_size); }
};

/// Everything needed to answer a GET or HEAD for one request path of one host, without
/// touching the file system: the open file (or its content), its variants, validators, type
/// and precomputed header block. Built by FileEntry::build; shared through FileRef.
///
/// Ownership: while cached, the FileCache owns it; a FileRef pins it (refs) so an entry dropped
/// or evicted while a connection still uses its settings is freed when the last pin goes.
/// Thread: one worker's.
struct FileEntry {
    enum Coding : std::uint8_t { kIdentity = 0, kBr = 1, kGzip = 2 };

    FileEntry() = default;
    FileEntry(const FileEntry&) = delete;
    FileEntry& operator=(const FileEntry&) = delete;
    ~FileEntry();

    /// Fills the entry from `file` (a regular file just opened beneath `root`, whose descriptor
    /// it takes over), for the settings `eff` (which must outlive the entry, or be handed to
    /// `merged`): looks for the variants (PrecompressedFiles, same symlink policy), compresses
    /// the file for each coding its type's output filters ask for and no variant provides
    /// (from CompressMinLength bytes up to kCompressMax, kept only when smaller), formats
    /// validators and type, and with `in_memory` (an entry to be cached) prepares the 200 head
    /// and reads files up to kFileInlineMax into memory (closing their descriptors). A file that
    /// cannot be read whole keeps its descriptor and is read per response (and not compressed).
    void build(const DocumentRoot& root, OpenedFile& file, const conf::Effective& eff,
               SymlinkPolicy links, const conf::MimeTypes& mime, std::string_view server_header,
               bool in_memory);

    /// True when the files are as they were when the entry was built: each representation
    /// (and each variant that was missing) is looked up again beneath the root with the same
    /// symlink policy (openat2 O_PATH, so a path that now leaves the root fails) and compared
    /// by device, inode, size, mtime and ctime. A compressed variant made here counts as
    /// missing: a `.gz` / `.br` appearing beside the file replaces it.
    bool still_valid() const noexcept;

    /// The bytes the cache charges for this entry (bodies, header texts, key, a fixed part).
    std::size_t cost() const noexcept;

    const DocumentRoot* root = nullptr;
    std::string rel;  ///< path beneath the root of the file served (the index file for a dir)
    std::string name; ///< its last segment
    SymlinkPolicy links = SymlinkPolicy::follow;
    const conf::Effective* settings = nullptr; ///< the settings it was built with (`eff`)
    /// The merged <Directory>/<Location> settings `settings` points to, when the cache owns
    /// them (the host's base settings outlive every entry).
    std::unique_ptr<conf::Effective> merged;
    std::string type; ///< Content-Type value, charset included
    /// The file's own Content-Encoding (AddEncoding: foo.html.gz), "" for none. An encoded
    /// file has no variants and is never compressed again.
    std::string encoding;
    /// mod_expires for this file (ExpiresActive, ExpiresByType for `type`, ExpiresDefault).
    conf::ExpiresSpec expires;
    FileRep reps[3];   ///< by Coding
    bool vary = false; ///< a variant exists (found or made): Vary: Accept-Encoding

    // Cache bookkeeping.
    std::string key;
    std::uint64_t checked_ms = 0; ///< when the files were last found unchanged
    std::uint32_t refs = 0;       ///< FileRef pins
    bool in_cache = false;
    FileEntry* lru_prev = nullptr; ///< towards the least recently used
    FileEntry* lru_next = nullptr;
};

/// A pin on a FileEntry (move-only). Releasing the last pin of an entry that is no longer in
/// its cache frees it.
class FileRef {
  public:
    FileRef() noexcept = default;
    explicit FileRef(FileEntry* e) noexcept : e_(e) {
        if (e_ != nullptr) {
            ++e_->refs;
        }
    }
    FileRef(FileRef&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
    FileRef& operator=(FileRef&& o) noexcept {
        if (this != &o) {
            reset();
            e_ = o.e_;
            o.e_ = nullptr;
        }
        return *this;
    }
    FileRef(const FileRef&) = delete;
    FileRef& operator=(const FileRef&) = delete;
    ~FileRef() { reset(); }

    void reset() noexcept {
        if (e_ != nullptr) {
            release();
        }
    }
    FileEntry* get() const noexcept { return e_; }
    FileEntry* operator->() const noexcept { return e_; }
    explicit operator bool() const noexcept { return e_ != nullptr; }

  private:
    void release() noexcept;

    FileEntry* e_ = nullptr;
};

/// The open-file cache of one worker (no locks: one per thread). Maps a key (host and request
/// path, see handle_static) to a FileEntry; bounded in bytes and entries with LRU
/// eviction; an entry is revalidated (FileEntry::still_valid) when it is found and its last
/// check is `valid_ms` old or older, and dropped when its files changed or vanished.
/// Thread: its worker's.
class FileCache {
  public:
    struct Limits {
        std::uint64_t max_bytes = 16u << 20; ///< FileCacheSize; 0 disables the cache
        std::uint32_t max_entries = 4096;    ///< FileCacheEntries
        std::uint64_t valid_ms = 1000;       ///< FileCacheValid; 0 = check on every hit
        std::uint32_t max_fds = 256;         ///< descriptors held by entries at most
    };

    FileCache() = default;
    explicit FileCache(const Limits& limits) : limits_(limits) {}
    FileCache(const FileCache&) = delete;
    FileCache& operator=(const FileCache&) = delete;
    ~FileCache() { clear(); }

    /// Sets the limits and the configuration the entries belong to (`owner`, compared by
    /// address); drops everything when either differs from the current one (a reload).
    void configure(const Limits& limits, const void* owner = nullptr);
    const Limits& limits() const noexcept { return limits_; }
    const void* owner() const noexcept { return owner_; }
    bool enabled() const noexcept { return limits_.max_bytes != 0 && limits_.max_entries != 0; }

    /// The entry for `key`, revalidated first when its last check is valid_ms old (`now_ms`
    /// is a monotonic clock in ms); nullptr when absent or dropped by the check. Moves it to
    /// the front of the LRU order. No allocation.
    FileEntry* find(std::string_view key, std::uint64_t now_ms);

    /// Caches `entry` under `key` (replacing an older one), evicting from the back of the LRU
    /// order to stay within the limits; returns it. An entry that can never fit is not cached
    /// and is handed back to the caller (returned nullptr, `entry` untouched).
    FileEntry* insert(std::string_view key, std::unique_ptr<FileEntry>& entry,
                      std::uint64_t now_ms);

    /// Drops every entry (pinned ones live on until unpinned).
    void clear() noexcept;

    std::size_t entries() const noexcept { return map_.size(); }
    std::uint64_t bytes() const noexcept { return bytes_; }
    std::uint32_t fds() const noexcept { return fds_; }

    /// Counters for tests and the debug log.
    struct Stats {
        std::uint64_t hits = 0, misses = 0, revalidations = 0, stale = 0, evictions = 0;
    };
    const Stats& stats() const noexcept { return stats_; }

    /// The cache of the calling thread (each worker thread has its own).
    static FileCache& for_this_thread() noexcept;

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    void drop(FileEntry* e) noexcept;
    void lru_unlink(FileEntry* e) noexcept;
    void lru_push_back(FileEntry* e) noexcept;
    static std::uint32_t fds_of(const FileEntry& e) noexcept;

    Limits limits_{};
    const void* owner_ = nullptr;
    std::unordered_map<std::string_view, FileEntry*, Hash> map_; // keys point into entries
    FileEntry* lru_front_ = nullptr;                             // least recently used
    FileEntry* lru_back_ = nullptr;                              // most recently used
    std::uint64_t bytes_ = 0;
    std::uint32_t fds_ = 0;
    Stats stats_;
};

} // namespace kahttpd::server
