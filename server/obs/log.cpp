#include "server/obs/log.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <sys/time.h>
#include <unistd.h>

namespace kahttpd::server {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::warn)};
std::atomic<int> g_log_fd{STDERR_FILENO};

namespace {

void write_line(int fd, LogLevel level, const char* fmt, va_list ap) noexcept {
    static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
    char line[2048];
    timeval tv{};
    gettimeofday(&tv, nullptr);
    std::tm tm{};
    localtime_r(&tv.tv_sec, &tm);
    int n = static_cast<int>(std::strftime(line, sizeof line, "[%Y-%m-%d %H:%M:%S", &tm));
    n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), ".%03ld] [%s] ",
                       static_cast<long>(tv.tv_usec / 1000), kNames[static_cast<int>(level)]);
    const int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, ap);
    n = m < 0 ? n : std::min<int>(n + m, static_cast<int>(sizeof line) - 2);
    line[n++] = '\n';
    // One write per line keeps lines whole when several workers log at once.
    [[maybe_unused]] auto written = ::write(fd, line, static_cast<std::size_t>(n));
}

} // namespace

void log_write(LogLevel level, const char* fmt, ...) noexcept {
    va_list ap;
    va_start(ap, fmt);
    write_line(g_log_fd.load(std::memory_order_relaxed), level, fmt, ap);
    va_end(ap);
}

void log_write(const ErrorLogTarget& target, LogLevel level, const char* fmt, ...) noexcept {
    va_list ap;
    va_start(ap, fmt);
    write_line(target.fd >= 0 ? target.fd : g_log_fd.load(std::memory_order_relaxed), level, fmt,
               ap);
    va_end(ap);
}

} // namespace kahttpd::server
