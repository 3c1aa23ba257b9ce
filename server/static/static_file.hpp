#pragma once

#include "parser/status.hpp"
#include "server/http/target_path.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>

namespace kahttpd::server {

/// An opened regular file ready to be served. Owns `fd` (closed by the destructor).
struct OpenedFile {
    int fd = -1;
    struct stat st {};
    std::string name; ///< final path segment actually opened (the index file for a directory)
    std::string rel;  ///< its path relative to the root ("" = the root itself)

    OpenedFile() = default;
    OpenedFile(const OpenedFile&) = delete;
    OpenedFile& operator=(const OpenedFile&) = delete;
    ~OpenedFile() { reset(); }
    void reset() noexcept;
    /// Hands the descriptor over to the caller.
    int release() noexcept {
        const int f = fd;
        fd = -1;
        return f;
    }
};

/// What open() decided.
enum class OpenOutcome { file, directory, redirect_to_slash, error };

/// How symlinks beneath the root are treated (Options FollowSymLinks / SymLinksIfOwnerMatch).
/// A symlink leading out of the root is refused in every case.
enum class SymlinkPolicy : std::uint8_t { follow, if_owner_match, refuse };

/// The document root as an open directory, and the rules for opening files beneath it.
/// Created once at start-up and shared read-only by every worker (openat2 is thread-safe).
class DocumentRoot {
  public:
    explicit DocumentRoot(const std::filesystem::path& root);
    DocumentRoot(const DocumentRoot&) = delete;
    DocumentRoot& operator=(const DocumentRoot&) = delete;
    ~DocumentRoot();

    /// False when the directory could not be opened (every request then gets 404).
    bool ok() const noexcept { return dirfd_ >= 0; }
    const std::filesystem::path& path() const noexcept { return root_; }
    /// The absolute file-system path of `rel` beneath the root, ending in '/' when `folder`
    /// (what <Directory> and <Files> sections are matched against).
    std::string full_path(std::string_view rel, bool folder) const;

    /// Opens the file named by `target` beneath the root. Path resolution is done by the kernel
    /// (openat2 with RESOLVE_BENEATH) so neither ".." nor a symlink can leave the root: a
    /// symlink that points outside gives 403. Directories: without a trailing slash the answer is
    /// a redirect; with one, each DirectoryIndex name is tried in order, and when none exists
    /// the answer is `directory` with the directory itself open in `out` (the caller lists it or
    /// refuses). Anything else but a regular file is 403; missing is 404; unreadable 403.
    OpenOutcome open(const TargetPath& target, const std::vector<std::string>& index,
                     OpenedFile& out, parser::Status& status,
                     SymlinkPolicy symlinks = SymlinkPolicy::follow) const;

    /// Opens `rel` (a normalised relative path, "" = the root) beneath the root, read-only and
    /// non-blocking, under the symlink policy. -1 with errno on failure (EXDEV: would leave the
    /// root; ELOOP: a symlink the policy refuses; EACCES: owner mismatch).
    int open_beneath(const std::string& rel, SymlinkPolicy symlinks) const noexcept;

    /// stat(2) of `rel` beneath the root under the symlink policy, resolved exactly as
    /// open_beneath resolves it (openat2 with O_PATH, so nothing is opened for reading and a
    /// path that would leave the root fails). False with errno on failure. For the open-file
    /// cache's revalidation.
    bool stat_beneath(const std::string& rel, SymlinkPolicy symlinks,
                      struct stat& st) const noexcept;

  private:
    int open_with(const std::string& rel, SymlinkPolicy symlinks, int flags) const noexcept;
    int open_resolved(const std::string& rel, std::uint64_t resolve,
                      int flags = O_RDONLY | O_NONBLOCK) const noexcept;
    bool symlink_owners_match(const std::string& rel) const noexcept;

    std::filesystem::path root_;
    std::string real_root_; // root_ with symlinks resolved, for the pre-openat2 fallback
    int dirfd_ = -1;
};

} // namespace kahttpd::server
