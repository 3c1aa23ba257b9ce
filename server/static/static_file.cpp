#include "server/static/static_file.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kahttpd::server {

using parser::Status;

void OpenedFile::reset() noexcept {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

DocumentRoot::DocumentRoot(const std::filesystem::path& root) : root_(root) {
    dirfd_ = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (char* real = ::realpath(root.c_str(), nullptr)) {
        real_root_ = real;
        std::free(real);
    }
}

DocumentRoot::~DocumentRoot() {
    if (dirfd_ >= 0) {
        ::close(dirfd_);
    }
}

std::string DocumentRoot::full_path(std::string_view rel, bool folder) const {
    std::string out = root_.native();
    if (!rel.empty()) {
        if (!out.ends_with('/')) {
            out.push_back('/');
        }
        out.append(rel);
    }
    if (folder && !out.ends_with('/')) {
        out.push_back('/');
    }
    return out;
}

int DocumentRoot::open_beneath(const std::string& rel, SymlinkPolicy symlinks) const noexcept {
    return open_with(rel, symlinks, O_RDONLY | O_NONBLOCK);
}

bool DocumentRoot::stat_beneath(const std::string& rel, SymlinkPolicy symlinks,
                                struct stat& st) const noexcept {
    const int fd = open_with(rel, symlinks, O_PATH);
    if (fd < 0) {
        return false;
    }
    const bool ok = ::fstat(fd, &st) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return ok;
}

int DocumentRoot::open_with(const std::string& rel, SymlinkPolicy symlinks,
                            int flags) const noexcept {
    constexpr std::uint64_t kBase = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    switch (symlinks) {
    case SymlinkPolicy::follow:
        return open_resolved(rel, kBase, flags);
    case SymlinkPolicy::refuse:
        return open_resolved(rel, kBase | RESOLVE_NO_SYMLINKS, flags);
    case SymlinkPolicy::if_owner_match: {
        const int fd = open_resolved(rel, kBase | RESOLVE_NO_SYMLINKS, flags);
        if (fd >= 0 || errno != ELOOP) {
            return fd;
        }
        // A symlink on the way: allowed when every symlink is owned by the owner of what it
        // points to (Apache's SymLinksIfOwnerMatch). Checked, then opened following links; a
        // link swapped in between can still not leave the root (RESOLVE_BENEATH).
        if (!symlink_owners_match(rel)) {
            errno = EACCES;
            return -1;
        }
        return open_resolved(rel, kBase, flags);
    }
    }
    return -1;
}

bool DocumentRoot::symlink_owners_match(const std::string& rel) const noexcept {
    std::size_t end = 0;
    while (end != std::string::npos) {
        end = rel.find('/', end + 1);
        const std::string prefix = rel.substr(0, end);
        struct stat link_st {};
        if (::fstatat(dirfd_, prefix.c_str(), &link_st, AT_SYMLINK_NOFOLLOW) != 0) {
            return false;
        }
        if (S_ISLNK(link_st.st_mode)) {
            struct stat target_st {};
            if (::fstatat(dirfd_, prefix.c_str(), &target_st, 0) != 0 ||
                target_st.st_uid != link_st.st_uid) {
                return false;
            }
        }
    }
    return true;
}

int DocumentRoot::open_resolved(const std::string& rel, std::uint64_t resolve,
                                int flags) const noexcept {
    // O_PATH (revalidation) admits no other flag but O_CLOEXEC with openat2.
    const char* path = rel.empty() ? "." : rel.c_str();
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.resolve = resolve;
    const long fd = ::syscall(SYS_openat2, dirfd_, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) {
        return static_cast<int>(fd);
    }
    // Kernels before 5.6 lack openat2: open normally (refusing a final symlink when the policy
    // says so), then check where the descriptor really points. The lexical path is already
    // confined, so only symlinks can lead out.
    const int f = ::openat(dirfd_, path,
                           flags | O_CLOEXEC | ((resolve & RESOLVE_NO_SYMLINKS) ? O_NOFOLLOW : 0));
    if (f < 0) {
        return f;
    }
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", f);
    char real[PATH_MAX];
    const ssize_t n = ::readlink(link, real, sizeof real - 1);
    const std::string& root = real_root_;
    if (n < 0 || root.empty() || static_cast<std::size_t>(n) < root.size() ||
        std::string_view(real, static_cast<std::size_t>(n)).substr(0, root.size()) != root ||
        (static_cast<std::size_t>(n) > root.size() && root != "/" && real[root.size()] != '/')) {
        ::close(f);
        errno = EXDEV;
        return -1;
    }
    return f;
}

namespace {

Status status_for_errno(int err) noexcept {
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return Status::not_found;
    case EACCES:
    case EPERM:
    case EXDEV: // a symlink or ".." that would leave the root
    case ELOOP:
        return Status::forbidden;
    default:
        return Status::internal_error;
    }
}

} // namespace

OpenOutcome DocumentRoot::open(const TargetPath& target, const std::vector<std::string>& index,
                               OpenedFile& out, Status& status, SymlinkPolicy symlinks) const {
    out.reset();
    if (dirfd_ < 0) {
        status = Status::not_found;
        return OpenOutcome::error;
    }
    // O_NONBLOCK: opening a FIFO must not block the worker; it is refused below anyway.
    const int fd = open_beneath(target.path, symlinks);
    if (fd < 0) {
        status = status_for_errno(errno);
        return OpenOutcome::error;
    }
    out.fd = fd;
    if (::fstat(fd, &out.st) != 0) {
        status = Status::internal_error;
        return OpenOutcome::error;
    }
    const auto slash = target.path.rfind('/');
    out.name = slash == std::string::npos ? target.path : target.path.substr(slash + 1);
    out.rel = target.path;
    if (S_ISREG(out.st.st_mode)) {
        if (target.trailing_slash) {
            // "/file.txt/" names a directory that does not exist (Apache: 404).
            out.reset();
            status = Status::not_found;
            return OpenOutcome::error;
        }
        return OpenOutcome::file;
    }
    if (!S_ISDIR(out.st.st_mode)) {
        status = Status::forbidden;
        return OpenOutcome::error;
    }
    if (!target.path.empty() && !target.trailing_slash) {
        out.reset();
        return OpenOutcome::redirect_to_slash;
    }
    OpenedFile index_file;
    std::string candidate;
    for (const auto& name : index) {
        candidate = target.path.empty() ? name : target.path + "/" + name;
        const int f = open_beneath(candidate, symlinks);
        if (f < 0) {
            if (errno == ENOENT) {
                continue;
            }
            status = status_for_errno(errno);
            out.reset();
            return OpenOutcome::error;
        }
        index_file.fd = f;
        if (::fstat(f, &index_file.st) != 0 || !S_ISREG(index_file.st.st_mode)) {
            index_file.reset();
            continue;
        }
        out.reset();
        out.fd = index_file.release();
        out.st = index_file.st;
        out.name = name;
        out.rel = candidate;
        return OpenOutcome::file;
    }
    // A directory without an index file: `out` keeps the directory open for a listing.
    return OpenOutcome::directory;
}

} // namespace kahttpd::server
