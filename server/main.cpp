// kahttpd: command-line parsing only; the server lives in the kahttpd_server library.

#include "conf/config.hpp"
#include "server/io/server.hpp"
#include "server/obs/log.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>


namespace {

void usage(std::FILE* out) {
    std::fputs("Usage: kahttpd [-f FILE] [-D NAME[=VALUE]]... [-t | -T | -S] [-v | -V] [-h]\n"
               "  -f FILE  configuration file (default: conf/httpd.conf when it exists in the\n"
               "           current folder, as in a checkout; otherwise " KAHTTPD_DEFAULT_CONFIG ")\n"
               "  -D NAME  define NAME for <IfDefine NAME> and ${NAME} (repeatable;\n"
               "           -D NAME=VALUE also gives ${NAME} that value)\n"
               "  -t       check the configuration and exit: \"Syntax OK\" or every error\n"
               "  -T       print the effective configuration as JSON and exit\n"
               "  -S       print the virtual host map and exit\n"
               "  -v       print the version and exit\n"
               "  -V       print the version, compiler, libraries and features, and exit\n"
               "  -h       print this help and exit\n"
               "Signals: SIGTERM or SIGINT stop the server gracefully, SIGHUP reloads the\n"
               "configuration, SIGUSR1 reopens the log files, SIGUSR2 starts the binary again\n"
               "(an upgrade: the new process takes the listening sockets over, the old one\n"
               "finishes its requests and exits).\n",
               out);
}

/// Without -f: the checkout's conf/httpd.conf when the current folder has one (make run), or
/// the installed configuration (the package's /etc/kahttpd/httpd.conf), as Apache and nginx
/// fall back to their compiled-in path.
std::string default_config() {
    constexpr const char* kCheckout = "conf/httpd.conf";
    return ::access(kCheckout, F_OK) == 0 ? kCheckout : KAHTTPD_DEFAULT_CONFIG;
}

} // namespace

int main(int argc, char** argv) {
    std::string file;
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
        } else if (a == "-V") {
            std::fputs(kahttpd::server::build_info().c_str(), stdout);
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

    if (file.empty()) {
        file = default_config();
    }
    auto result = kahttpd::conf::load_config(file, defines);
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
        std::printf("%s\n", kahttpd::conf::dump_json_text(config).c_str());
        return 0;
    case 'S':
        std::fputs(kahttpd::conf::vhost_map(config).c_str(), stdout);
        return 0;
    default:
        break;
    }

    kahttpd::server::apply_log_settings(config);
    std::string log_err;
    const int error_log = kahttpd::server::open_error_log(config, log_err);
    if (error_log < 0) {
        // The same "FILE:LINE: Directive:" form as a CustomLog or vhost ErrorLog the server
        // cannot open.
        std::fprintf(stderr, "kahttpd: %s\n", log_err.c_str());
        return 1;
    }
    kahttpd::server::g_log_fd = error_log;
    // SIGHUP reads the same file with the same -D names again.
    auto reload = [file, defines](
                      std::vector<std::string>& messages) -> std::optional<kahttpd::conf::Config> {
        auto again = kahttpd::conf::load_config(file, defines);
        for (const auto& e : again.errors) {
            messages.push_back(e.to_string());
        }
        if (!again.errors.empty()) {
            return std::nullopt;
        }
        for (const auto& w : again.warnings) {
            messages.push_back(w.to_string() + " (warning)");
        }
        return std::move(again.config);
    };
    // SIGUSR2 (the binary upgrade) starts the binary again with the same command line.
    return kahttpd::server::run_server(std::move(result.config), reload,
                                       std::vector<std::string>(argv, argv + argc));
}
