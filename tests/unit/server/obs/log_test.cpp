#include "server/obs/log.hpp"

#include <doctest/doctest.h>

#include <string>

#include <fcntl.h>
#include <unistd.h>

using kahttpd::server::ErrorLogTarget;
using kahttpd::server::g_log_fd;
using kahttpd::server::g_log_level;
using kahttpd::server::log_write;
using kahttpd::server::LogLevel;

namespace {

/// A pipe whose read end collects what was written so far (non-blocking: never waits).
struct Pipe {
    int fds[2] = {-1, -1};
    Pipe() { REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0); }
    ~Pipe() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int in() const { return fds[1]; }
    std::string drain() const {
        std::string out;
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
};

/// Points the process-wide error log at `fd` (at `level`) for one test, and back after.
struct MainLogAt {
    int old_fd;
    int old_level;
    MainLogAt(int fd, LogLevel level) : old_fd(g_log_fd.load()), old_level(g_log_level.load()) {
        g_log_fd = fd;
        g_log_level = static_cast<int>(level);
    }
    ~MainLogAt() {
        g_log_fd = old_fd;
        g_log_level = old_level;
    }
};

} // namespace

TEST_SUITE("obs") {
    TEST_CASE("a host's error log gets its lines and the main one none") {
        Pipe main, host;
        const MainLogAt guard(main.in(), LogLevel::warn);
        const ErrorLogTarget target{host.in(), static_cast<int>(LogLevel::info)};
        log_write(target, LogLevel::info, "conn=%d file does not exist: %s", 7, "/srv/a/x");
        const std::string line = host.drain();
        CHECK(line.find("] [info] conn=7 file does not exist: /srv/a/x\n") != std::string::npos);
        CHECK(line.front() == '[');
        CHECK(main.drain().empty());
    }

    TEST_CASE("a host without an ErrorLog of its own writes to the main error log") {
        Pipe main;
        const MainLogAt guard(main.in(), LogLevel::warn);
        const ErrorLogTarget inherits{-1, static_cast<int>(LogLevel::warn)};
        log_write(inherits, LogLevel::warn, "conn=%d timed out", 3);
        CHECK(main.drain().find("] [warn] conn=3 timed out\n") != std::string::npos);
        SUBCASE("the main log is read at each write: a reload may have switched it") {
            Pipe moved;
            g_log_fd = moved.in();
            log_write(inherits, LogLevel::error, "after");
            CHECK(moved.drain().find("[error] after") != std::string::npos);
            CHECK(main.drain().empty());
        }
    }

    TEST_CASE("a host's level decides for its lines, whatever the process-wide level") {
        Pipe main, host;
        const MainLogAt guard(main.in(), LogLevel::error);
        const ErrorLogTarget verbose{host.in(), static_cast<int>(LogLevel::info)};
        const ErrorLogTarget quiet{-1, static_cast<int>(LogLevel::warn)};
        CHECK(verbose.enabled(LogLevel::info));
        CHECK_FALSE(verbose.enabled(LogLevel::debug));
        CHECK(quiet.enabled(LogLevel::warn));
        CHECK_FALSE(quiet.enabled(LogLevel::info));

        int evaluated = 0;
        auto count = [&evaluated] { return ++evaluated; };
        KAHTTPD_LOG_TO(verbose, info, "written %d", count());
        KAHTTPD_LOG_TO(quiet, info, "dropped %d", count());
        KAHTTPD_LOG_TO(quiet, warn, "kept %d", count());
        CHECK(evaluated == 2); // the dropped line's arguments are never evaluated
        CHECK(host.drain().find("[info] written 1") != std::string::npos);
        // The inheriting host's warn line reaches the main log although the process-wide
        // level (error) would drop a process line of that level.
        const std::string main_lines = main.drain();
        CHECK(main_lines.find("[warn] kept 2") != std::string::npos);
        CHECK(main_lines.find("dropped") == std::string::npos);
    }
}
