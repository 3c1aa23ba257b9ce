// kahttpd: command-line parsing only; the server lives in the kahttpd_server library.

#include "conf/config.hpp"
#include "server/log.hpp"
#include "server/server.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void usage(std::FILE* out) {
    std::fputs("Usage: kahttpd [-f FILE] [-t] [-v] [-h]\n"
               "  -f FILE  configuration file (default: conf/httpd.conf)\n"
               "  -t       check the configuration and exit: \"Syntax OK\" or every error\n"
               "  -v       print the version and exit\n"
               "  -h       print this help and exit\n"
               "Signals: SIGTERM or SIGINT stop the server gracefully.\n",
               out);
}

} // namespace

int main(int argc, char** argv) {
    std::string file = "conf/httpd.conf";
    bool test_only = false;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (std::strcmp(a, "-f") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (std::strcmp(a, "-t") == 0) {
            test_only = true;
        } else if (std::strcmp(a, "-v") == 0 || std::strcmp(a, "--version") == 0) {
            std::printf("kahttpd %s\n", KAHTTPD_VERSION);
            return 0;
        } else if (std::strcmp(a, "-h") == 0 || std::strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "kahttpd: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    const auto result = kahttpd::conf::load_config(file);
    for (const auto& w : result.warnings) {
        std::fprintf(stderr, "%s (warning)\n", w.to_string().c_str());
    }
    if (!result.errors.empty()) {
        for (const auto& e : result.errors) {
            std::fprintf(stderr, "%s\n", e.to_string().c_str());
        }
        if (!test_only) {
            std::fprintf(stderr, "kahttpd: %zu configuration error%s, not started\n",
                         result.errors.size(), result.errors.size() == 1 ? "" : "s");
        }
        return 1;
    }
    if (test_only) {
        std::printf("Syntax OK\n");
        return 0;
    }
    if (const char* level = std::getenv("KAHTTPD_LOG_LEVEL")) {
        using kahttpd::server::LogLevel;
        const std::string l = level;
        const LogLevel v = l == "debug"   ? LogLevel::debug
                           : l == "info"  ? LogLevel::info
                           : l == "error" ? LogLevel::error
                                          : LogLevel::warn;
        kahttpd::server::g_log_level = static_cast<int>(v);
    }
    return kahttpd::server::run_server(result.config);
}
