#pragma once

#include <atomic>
#include <cstdarg>

namespace kahttpd::server {

/// Error-log levels, most severe first.
enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

/// The process-wide threshold; messages above it cost one relaxed load.
extern std::atomic<int> g_log_level;

inline bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) <= g_log_level.load(std::memory_order_relaxed);
}

/// Where log lines go: stderr unless ErrorLog named a file (set once at start-up).
extern std::atomic<int> g_log_fd;

/// Writes "[time] [level] message" to the error log (g_log_fd) as one write(2), so lines from
/// several workers do not interleave. printf-style. Thread-safe.
void log_write(LogLevel level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

/// The error log of one virtual host (or of the main server): where the lines about its
/// requests go and from which level. Resolved once per configuration generation and held by
/// the host (HostContext::error_log), so a request reaches it through its vhost pointer with
/// no look-up. Read-only while workers serve.
struct ErrorLogTarget {
    /// Its own ErrorLog file (shared by the workers, replaced in place by dup3 at SIGUSR1), or
    /// -1 for the main server's error log (g_log_fd: read at each write, since a reload may
    /// switch it from stderr to a file).
    int fd = -1;
    /// Its LogLevel (the main server's when it has none), as a LogLevel value.
    int level = static_cast<int>(LogLevel::warn);

    bool enabled(LogLevel l) const noexcept { return static_cast<int>(l) <= level; }
};

/// log_write() to `target`'s file. Thread-safe.
void log_write(const ErrorLogTarget& target, LogLevel level, const char* fmt, ...) noexcept
    __attribute__((format(printf, 3, 4)));

} // namespace kahttpd::server

/// Logs when the level is enabled; the arguments are not evaluated otherwise.
#define KAHTTPD_LOG(level, ...)                                                                    \
    do {                                                                                           \
        if (::kahttpd::server::log_enabled(::kahttpd::server::LogLevel::level)) {                  \
            ::kahttpd::server::log_write(::kahttpd::server::LogLevel::level, __VA_ARGS__);         \
        }                                                                                          \
    } while (0)

/// The same to a virtual host's error log (an ErrorLogTarget), at its level.
#define KAHTTPD_LOG_TO(target, level, ...)                                                         \
    do {                                                                                           \
        const ::kahttpd::server::ErrorLogTarget& kahttpd_log_target_ = (target);                   \
        if (kahttpd_log_target_.enabled(::kahttpd::server::LogLevel::level)) {                     \
            ::kahttpd::server::log_write(kahttpd_log_target_, ::kahttpd::server::LogLevel::level,  \
                                         __VA_ARGS__);                                             \
        }                                                                                          \
    } while (0)
