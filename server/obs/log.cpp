#include "server/obs/log.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <sys/time.h>
#include <unistd.h>

namespace kahttpd::server {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::warn)};
std::atomic<int> g_log_fd{STDERR_FILENO};

void log_write(LogLevel level, const char* fmt, ...) noexcept {
    static constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
    char line[2048];
    timeval tv{};
    gettimeofday(&tv, nullptr);
    std::tm tm{};
    localtime_r(&tv.tv_sec, &tm);
    int n = static_cast<int>(std::strftime(line, sizeof line, "[%Y-%m-%d %H:%M:%S", &tm));
    n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), ".%03ld] [%s] ",
                       static_cast<long>(tv.tv_usec / 1000), kNames[static_cast<int>(level)]);
    va_list ap;
    va_start(ap, fmt);
    const int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : std::min<int>(n + m, static_cast<int>(sizeof line) - 2);
    line[n++] = '\n';
    // One write per line keeps lines whole when several workers log at once.
    [[maybe_unused]] auto written =
        ::write(g_log_fd.load(std::memory_order_relaxed), line, static_cast<std::size_t>(n));
}

} // namespace kahttpd::server
