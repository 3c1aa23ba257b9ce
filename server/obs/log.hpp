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

} // namespace kahttpd::server

/// Logs when the level is enabled; the arguments are not evaluated otherwise.
#define KAHTTPD_LOG(level, ...)                                                                    \
    do {                                                                                           \
        if (::kahttpd::server::log_enabled(::kahttpd::server::LogLevel::level)) {                  \
            ::kahttpd::server::log_write(::kahttpd::server::LogLevel::level, __VA_ARGS__);         \
        }                                                                                          \
    } while (0)
