#include "server/io/privileges.hpp"

#include "server/obs/log.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kahttpd::server {

namespace {

/// Gives a log file to the account. O_NOFOLLOW and fstat: only the regular file at that very
/// path, never what a symbolic link put there points to, nor /dev/stderr.
void hand_over(const std::string& path, uid_t uid, gid_t gid) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::fchown(fd, uid, gid) != 0) {
        KAHTTPD_LOG(warn, "User: log file %s cannot be given to uid %u: %s", path.c_str(),
                    static_cast<unsigned>(uid), std::strerror(errno));
    }
    ::close(fd);
}

std::string failed(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

} // namespace

std::string drop_privileges(const conf::Config& config, const std::vector<std::string>& log_paths) {
    if (!config.user && !config.group) {
        return "";
    }
    if (::geteuid() != 0) {
        if (const std::string w = account_change_warning(config); !w.empty()) {
            KAHTTPD_LOG(warn, "%s (only a server started as root switches)", w.c_str());
        }
        return "";
    }
    const uid_t uid = config.user ? static_cast<uid_t>(config.user->id) : ::getuid();
    const gid_t gid = config.group ? static_cast<gid_t>(config.group->id) : ::getgid();
    for (const std::string& path : log_paths) {
        hand_over(path, uid, gid);
    }
    // Supplementary groups first (they need root), then the group, then the user.
    const bool named = config.user && !config.user->name.starts_with('#');
    if (named ? ::initgroups(config.user->name.c_str(), gid) != 0 : ::setgroups(1, &gid) != 0) {
        return failed("User: cannot set the supplementary groups");
    }
    if (::setgid(gid) != 0) {
        return failed("Group: setgid");
    }
    if (config.user && ::setuid(uid) != 0) {
        return failed("User: setuid");
    }
    // With a User, root must be gone for good (a setuid that only set the effective id, or a
    // saved set-user-ID of 0, would let it come back).
    if (config.user && uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
        return "User: root could be regained after the switch; not serving";
    }
    KAHTTPD_LOG(info, "running as user %s (uid %u), group %s (gid %u)",
                config.user ? config.user->name.c_str() : "root", static_cast<unsigned>(uid),
                config.group ? config.group->name.c_str() : "root", static_cast<unsigned>(gid));
    return "";
}

std::string account_change_warning(const conf::Config& config) {
    std::string out;
    if (config.user && config.user->id != ::geteuid()) {
        out = "User " + config.user->name + " (uid " + std::to_string(config.user->id) +
              ") is not the user the server runs as (uid " + std::to_string(::geteuid()) + ")";
    }
    if (config.group && config.group->id != ::getegid()) {
        out += out.empty() ? "" : "; ";
        out += "Group " + config.group->name + " (gid " + std::to_string(config.group->id) +
               ") is not the group the server runs as (gid " + std::to_string(::getegid()) + ")";
    }
    return out;
}

} // namespace kahttpd::server
