// kahttpd: command-line parsing only; the server lives in the kahttpd_server library.

#include "conf/config.hpp"
#include "server/log.hpp"
#include "server/server.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

void usage(std::FILE* out) {
    std::fputs("Usage: kahttpd [-f FILE] [-D NAME]... [-t | -T | -S] [-v] [-h]\n"
               "  -f FILE  configuration file (default: conf/httpd.conf)\n"
               "  -D NAME  define NAME for <IfDefine NAME> and ${NAME} (repeatable)\n"
               "  -t       check the configuration and exit: \"Syntax OK\" or every error\n"
               "  -T       print the effective configuration as JSON and exit\n"
               "  -S       print the virtual host map and exit\n"
               "  -v       print the version and exit\n"
               "  -h       print this help and exit\n"
               "Signals: SIGTERM or SIGINT stop the server gracefully.\n",
               out);
}

using kahttpd::server::LogLevel;

LogLevel to_log_level(kahttpd::conf::Config::LogLevel level) {
    using L = kahttpd::conf::Config::LogLevel;
    switch (level) {
    case L::emerg:
    case L::alert:
    case L::crit:
    case L::error:
        return LogLevel::error;
    case L::warn:
        return LogLevel::warn;
    case L::notice:
    case L::info:
        return LogLevel::info;
    case L::debug:
        return LogLevel::debug;
    }
    return LogLevel::warn;
}

} // namespace

int main(int argc, char** argv) {
    std::string file = "conf/httpd.conf";
    std::vector<std::string> defines;
    char mode = 0; // 't', 'T', 'S' or 0 (serve)
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-f" && i + 1 < argc) {
            file = argv[++i];
        } else if (a == "-D" && i + 1 < argc) {
            defines.emplace_back(argv[++i]);
        } else if (a.size() > 2 && a.rfind("-D", 0) == 0) {
            defines.push_back(a.substr(2));
        } else if (a == "-t" || a == "-T" || a == "-S" || a == "--dump-config") {
            mode = a == "--dump-config" ? 'T' : a[1];
        } else if (a == "-v" || a == "--version") {
            std::printf("kahttpd %s\n", KAHTTPD_VERSION_STRING);
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "kahttpd: unknown option or missing argument '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }

    const auto result = kahttpd::conf::load_config(file, defines);
    for (const auto& w : result.warnings) {
        std::fprintf(stderr, "%s (warning)\n", w.to_string().c_str());
    }
    if (!result.errors.empty()) {
        for (const auto& e : result.errors) {
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        }
        if (mode == 0) {
            std::fprintf(stderr, "kahttpd: %zu configuration error%s, not started\n",
                         result.errors.size(), result.errors.size() == 1 ? "" : "s");
        }
        return 1;
    }
    const auto& config = result.config;
    switch (mode) {
    case 't':
        std::printf("Syntax OK\n");
        return 0;
    case 'T':
        std::printf("%s\n", kahttpd::conf::dump_json(config).dump(2).c_str());
        return 0;
    case 'S':
        std::fputs(kahttpd::conf::vhost_map(config).c_str(), stdout);
        return 0;
    default:
        break;
    }

    kahttpd::server::g_log_level = static_cast<int>(to_log_level(config.log_level));
    if (const char* level = std::getenv("KAHTTPD_LOG_LEVEL")) {
        // An override for debugging and tests, above LogLevel.
        const std::string l = level;
        const LogLevel v = l == "debug"   ? LogLevel::debug
                           : l == "info"  ? LogLevel::info
                           : l == "error" ? LogLevel::error
                                          : LogLevel::warn;
        kahttpd::server::g_log_level = static_cast<int>(v);
    }
    if (!config.error_log.empty() && config.error_log != "/dev/stderr") {
        const int fd =
            ::open(config.error_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            std::fprintf(stderr, "kahttpd: ErrorLog %s cannot be opened: %s\n",
                         config.error_log.c_str(), std::strerror(errno));
            return 1;
        }
        kahttpd::server::g_log_fd = fd;
    }
    return kahttpd::server::run_server(config);
}
