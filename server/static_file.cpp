#include "server/static_file.hpp"

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

int DocumentRoot::open_beneath(const std::string& rel, int flags) const noexcept {
    const char* path = rel.empty() ? "." : rel.c_str();
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, dirfd_, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) {
        return static_cast<int>(fd);
    }
    // Kernels before 5.6 lack openat2: open normally, then check where the descriptor really
    // points. The lexical path is already confined, so only symlinks can lead out.
    const int f = ::openat(dirfd_, path, flags | O_CLOEXEC);
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
                               OpenedFile& out, Status& status) const {
    out.reset();
    if (dirfd_ < 0) {
        status = Status::not_found;
        return OpenOutcome::error;
    }
    // O_NONBLOCK: opening a FIFO must not block the worker; it is refused below anyway.
    const int fd = open_beneath(target.path, O_RDONLY | O_NONBLOCK);
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
    if (S_ISREG(out.st.st_mode)) {
        return OpenOutcome::file;
    }
    if (!S_ISDIR(out.st.st_mode)) {
        status = Status::forbidden;
        return OpenOutcome::error;
    }
    out.reset();
    if (!target.path.empty() && !target.trailing_slash) {
        return OpenOutcome::redirect_to_slash;
    }
    std::string candidate;
    for (const auto& name : index) {
        candidate = target.path.empty() ? name : target.path + "/" + name;
        const int f = open_beneath(candidate, O_RDONLY | O_NONBLOCK);
        if (f < 0) {
            if (errno == ENOENT) {
                continue;
            }
            status = status_for_errno(errno);
            return OpenOutcome::error;
        }
        out.fd = f;
        if (::fstat(f, &out.st) != 0 || !S_ISREG(out.st.st_mode)) {
            out.reset();
            continue;
        }
        out.name = name;
        return OpenOutcome::file;
    }
    status = Status::forbidden; // a directory without an index file, and no listings
    return OpenOutcome::error;
}

} // namespace kahttpd::server
