#include "server/io/upgrade.hpp"

#include "server/obs/log.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

extern char** environ;

namespace kahttpd::server {

namespace {

/// Writes `v` in decimal at `out` (async-signal-safe: no locale, no allocation); returns the
/// end.
char* put_decimal(char* out, long v) noexcept {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < 24);
    while (n > 0) {
        *out++ = digits[--n];
    }
    *out = '\0';
    return out;
}

bool starts_with_name(const char* entry, std::string_view name) noexcept {
    return std::strncmp(entry, name.data(), name.size()) == 0 && entry[name.size()] == '=';
}

} // namespace

std::string resolve_self_exe() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
}

UpgradeChild spawn_upgrade(const std::string& exe, const std::vector<std::string>& argv,
                           const std::vector<int>& listen_fds, std::string& err) {
    UpgradeChild child;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        err = std::string("pipe: ") + std::strerror(errno);
        return child;
    }
    const int n = static_cast<int>(listen_fds.size());
    const int status_target = 3 + n;
    // Everything the child needs is built before the fork: after it, only async-signal-safe
    // calls are allowed (this process has threads, and another one may hold malloc's lock).
    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
        if (starts_with_name(*e, "LISTEN_FDS") || starts_with_name(*e, "LISTEN_PID") ||
            starts_with_name(*e, "LISTEN_FDNAMES") || starts_with_name(*e, kUpgradeFromEnv) ||
            starts_with_name(*e, kUpgradeFdEnv)) {
            continue;
        }
        env_storage.emplace_back(*e);
    }
    env_storage.push_back("LISTEN_FDS=" + std::to_string(n));
    env_storage.push_back(std::string(kUpgradeFromEnv) + "=" + std::to_string(::getpid()));
    env_storage.push_back(std::string(kUpgradeFdEnv) + "=" + std::to_string(status_target));
    // LISTEN_PID is the child's own pid, known only after the fork: room for it now.
    std::string listen_pid = "LISTEN_PID=";
    const std::size_t pid_at = listen_pid.size();
    listen_pid.resize(pid_at + 24, '\0');
    std::vector<char*> envp;
    for (auto& e : env_storage) {
        envp.push_back(e.data());
    }
    envp.push_back(listen_pid.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) {
        argp.push_back(a.data());
    }
    argp.push_back(nullptr);
    std::vector<int> scratch(listen_fds.size() + 1, -1);

    // Every signal blocked across the fork: until the child has put the default actions back,
    // a signal sent to it (a stop during the upgrade: Server::stop_upgrade_child) would run
    // this process's handlers there (libuv's writes to a pipe this process reads) and be lost
    // to the child. Blocked, it stays pending and takes its default action at the unblock.
    sigset_t all;
    sigset_t saved;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved);
    const pid_t pid = ::fork();
    if (pid != 0) {
        ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    }
    if (pid < 0) {
        err = std::string("fork: ") + std::strerror(errno);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        return child;
    }
    if (pid == 0) {
        // The child: move the sockets to 3.. and the pipe after them. First out of the way
        // (above the target range, so no target overwrites a source), then into place; dup2
        // leaves the targets without close-on-exec, which is what passes them on.
        const int high = status_target + 1;
        for (int i = 0; i < n; ++i) {
            scratch[static_cast<std::size_t>(i)] =
                ::fcntl(listen_fds[static_cast<std::size_t>(i)], F_DUPFD, high);
        }
        scratch[static_cast<std::size_t>(n)] = ::fcntl(pipe_fds[1], F_DUPFD, high);
        for (int i = 0; i <= n; ++i) {
            ::dup2(scratch[static_cast<std::size_t>(i)], 3 + i);
            ::close(scratch[static_cast<std::size_t>(i)]);
        }
        put_decimal(listen_pid.data() + pid_at, static_cast<long>(::getpid()));
        // A clean slate for the new program: every signal's default action (ignored ones, such
        // as SIGPIPE, would survive the exec), then an empty mask (it survives the exec too).
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig) {
            ::sigaction(sig, &dfl, nullptr); // fails, harmlessly, for SIGKILL and SIGSTOP
        }
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(exe.c_str(), argp.data(), envp.data());
        char report[5] = {'E'};
        const int e = errno;
        std::memcpy(report + 1, &e, sizeof e);
        [[maybe_unused]] const ssize_t w = ::write(status_target, report, sizeof report);
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    ::fcntl(pipe_fds[0], F_SETFL, ::fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
    child.pid = pid;
    child.status_fd = pipe_fds[0];
    return child;
}

UpgradeParent take_upgrade_parent() {
    UpgradeParent parent;
    const char* from = std::getenv(kUpgradeFromEnv);
    const char* fd = std::getenv(kUpgradeFdEnv);
    if (from != nullptr && fd != nullptr) {
        parent.pid = static_cast<pid_t>(std::atol(from));
        parent.status_fd = std::atoi(fd);
        if (parent.status_fd > STDERR_FILENO) {
            ::fcntl(parent.status_fd, F_SETFD, FD_CLOEXEC);
        } else {
            parent.status_fd = -1;
        }
    }
    ::unsetenv(kUpgradeFromEnv);
    ::unsetenv(kUpgradeFdEnv);
    return parent;
}

void report_upgrade_ready(UpgradeParent& parent) noexcept {
    if (parent.status_fd < 0) {
        return;
    }
    const char ready = 'R';
    if (::write(parent.status_fd, &ready, 1) != 1) {
        KAHTTPD_LOG(warn, "upgrade: cannot tell pid %ld that this process serves: %s",
                    static_cast<long>(parent.pid), std::strerror(errno));
    }
    ::close(parent.status_fd);
    parent.status_fd = -1;
}

} // namespace kahttpd::server
