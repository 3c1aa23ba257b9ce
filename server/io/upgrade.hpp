#pragma once

#include <string>
#include <vector>

#include <sys/types.h>

// The binary upgrade (SIGUSR2, nginx's habit): the running kahttpd starts its own binary again
// with its listening sockets, and hands over once the new process serves. Both sides live here;
// server.cpp decides when (docs/architecture.md, "Socket activation and the binary upgrade").

namespace kahttpd::server {

/// The environment variables of the protocol (besides LISTEN_FDS and LISTEN_PID).
inline constexpr const char* kUpgradeFromEnv = "KAHTTPD_UPGRADE_FROM"; ///< the old pid
inline constexpr const char* kUpgradeFdEnv = "KAHTTPD_UPGRADE_FD";     ///< the status pipe

/// The executable this process runs, resolved now (readlink /proc/self/exe), so that a binary
/// replaced later under the same name is the one an upgrade starts. Empty when unknown.
std::string resolve_self_exe();

/// A new process started by spawn_upgrade(): its pid and the read end of its status pipe
/// (close-on-exec, non-blocking, owned by the caller). The pipe carries 'R' when the new
/// process serves, or 'E' and an errno (4 bytes) when the exec failed; EOF without either
/// means the new process ended before serving (a bad configuration, a busy port ...).
struct UpgradeChild {
    pid_t pid = -1;
    int status_fd = -1;
};

/// fork() and execve(exe, argv) with the environment of this process plus LISTEN_FDS (the
/// size of `listen_fds`), LISTEN_PID (the child's pid, written in the child before the exec),
/// KAHTTPD_UPGRADE_FROM (this pid) and KAHTTPD_UPGRADE_FD; `listen_fds` become fds 3.. in
/// the child, in order, and the status pipe's write end the fd after them. The child calls
/// only async-signal-safe functions between fork and exec. Returns pid -1 and sets `err` when
/// the fork or the pipe fails. Main thread.
UpgradeChild spawn_upgrade(const std::string& exe, const std::vector<std::string>& argv,
                           const std::vector<int>& listen_fds, std::string& err);

/// In a process started by spawn_upgrade(): the old process's pid and the status pipe's write
/// end, taken from the environment (which is cleaned of them). pid 0 when this is no upgrade.
struct UpgradeParent {
    pid_t pid = 0;
    int status_fd = -1;
};
UpgradeParent take_upgrade_parent();

/// Tells the old process that this one serves ('R'), and closes the pipe.
void report_upgrade_ready(UpgradeParent& parent) noexcept;

} // namespace kahttpd::server
