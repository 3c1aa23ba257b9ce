#include "server/server.hpp"

#include "conf/mime_types.hpp"
#include "server/log.hpp"
#include "server/static_file.hpp"
#include "server/worker.hpp"

#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kahttpd::server {

namespace {

constexpr int kBacklog = 511;

/// A bound, listening, non-blocking socket for `addr`, or -1 with a message in `err`.
/// `port` is the port to bind (the kernel's choice for a ":0" address is passed back so every
/// worker's socket shares it).
int open_listener(const conf::ListenAddr& addr, std::uint16_t& port, std::string& err) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    bool any6 = false;
    std::string host = addr.host;
    if (host.empty()) {
        host = "::"; // every address, both families, as Apache's "Listen 8080"
        any6 = true;
    }
    if (host.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
            err = "not an IPv6 address";
            return -1;
        }
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
            err = "not an IPv4 address";
            return -1;
        }
        len = sizeof *a;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && any6) {
        // No IPv6 on this host: fall back to every IPv4 address.
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        std::memset(&ss, 0, sizeof ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof *a;
        any6 = false;
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
        err = std::strerror(errno);
        return -1;
    }
    const int on = 1, off = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // One socket per worker on the same address; the kernel spreads connections across them.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    if (any6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, kBacklog) != 0) {
        err = std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (port == 0) {
        sockaddr_storage bound{};
        socklen_t blen = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
        port =
            ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    return fd;
}

/// The product token for the Server header (`with_os`) or a signature, per ServerTokens.
std::string server_version(conf::Config::ServerTokens tokens, bool with_os) {
    using T = conf::Config::ServerTokens;
    const std::string full = KAHTTPD_VERSION_STRING;
    switch (tokens) {
    case T::prod:
        return "kahttpd";
    case T::major:
        return "kahttpd/" + full.substr(0, full.find('.'));
    case T::minor:
        return "kahttpd/" + full.substr(0, full.rfind('.'));
    case T::min:
        return "kahttpd/" + full;
    case T::os:
    case T::full:
        return with_os ? "kahttpd/" + full + " (Unix)" : "kahttpd/" + full;
    }
    return "kahttpd";
}

std::uint64_t largest_body_limit(const conf::Config& config) {
    std::uint64_t largest = config.limit_request_body;
    bool unlimited = largest == 0;
    auto consider = [&](const conf::DirSettings& d) {
        if (d.limit_request_body) {
            unlimited = unlimited || d.limit_request_body->value == 0;
            largest = std::max(largest, d.limit_request_body->value);
        }
    };
    auto consider_host = [&](const conf::VirtualHost& vh) {
        consider(vh.base);
        for (const auto& sec : vh.directories) {
            consider(sec.settings);
        }
        for (const auto& sec : vh.locations) {
            consider(sec.settings);
        }
    };
    consider_host(config.main);
    for (const auto& vh : config.vhosts) {
        consider_host(vh);
    }
    return unlimited ? 0 : largest;
}

struct SignalContext {
    std::vector<std::unique_ptr<Worker>>* workers;
    const conf::Config* config;
    const std::vector<AccessLogSink>* access_logs;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    uv_signal_t sigusr1;
    bool stopping = false;
};

/// Opens `path` again and puts it in place of `fd` (dup3), so every thread writing to `fd`
/// writes to the new file from its next write on. False (errno set) when it cannot be opened.
bool reopen_onto(const std::string& path, int fd) noexcept {
    const int fresh = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fresh < 0) {
        return false;
    }
    ::dup3(fresh, fd, O_CLOEXEC);
    ::close(fresh);
    return true;
}

/// SIGUSR1: reopen the access logs and the error log (after logrotate moved them).
void reopen_logs(const conf::Config& config,
                 const std::vector<AccessLogSink>& access_logs) noexcept {
    for (std::size_t i = 0; i < access_logs.size() && i < config.custom_logs.size(); ++i) {
        if (access_logs[i].fd > STDERR_FILENO &&
            !reopen_onto(config.custom_logs[i].target, access_logs[i].fd)) {
            KAHTTPD_LOG(error, "SIGUSR1: CustomLog %s cannot be reopened: %s",
                        config.custom_logs[i].target.c_str(), std::strerror(errno));
        }
    }
    if (config.error_log.empty() || config.error_log == "/dev/stderr") {
        return;
    }
    const int fd =
        ::open(config.error_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        KAHTTPD_LOG(error,
                    "SIGUSR1: ErrorLog %s cannot be reopened: %s; still writing to the old file",
                    config.error_log.c_str(), std::strerror(errno));
        return;
    }
    ::dup3(fd, g_log_fd.load(), O_CLOEXEC);
    ::close(fd);
    KAHTTPD_LOG(info, "SIGUSR1: ErrorLog %s reopened", config.error_log.c_str());
}

void on_signal_cb(uv_signal_t* handle, int signum) noexcept {
    auto* ctx = static_cast<SignalContext*>(handle->data);
    if (signum == SIGUSR1) {
        reopen_logs(*ctx->config, *ctx->access_logs);
        return;
    }
    if (signum == SIGHUP) {
        // Without this handler SIGHUP would end the process, which is not what an Apache user
        // sending it expects. Reloading is not built yet: say so and keep serving.
        KAHTTPD_LOG(warn, "caught SIGHUP: configuration reload is not supported yet; the "
                          "running configuration stays (restart to apply changes)");
        return;
    }
    if (!ctx->stopping) {
        ctx->stopping = true;
        KAHTTPD_LOG(warn, "caught %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
        for (auto& w : *ctx->workers) {
            w->request_stop();
        }
    }
    // The signal handles are the main loop's only handles: closing them ends uv_run.
    for (uv_signal_t* h : {&ctx->sigint, &ctx->sigterm, &ctx->sighup, &ctx->sigusr1}) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) {
            uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
        }
    }
}

} // namespace

int run_server(const conf::Config& config) {
    // A write to a socket the client closed must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);

    bool fallback = false;
    const conf::MimeTypes mime = conf::MimeTypes::load(config.types_config, &fallback);
    if (fallback) {
        KAHTTPD_LOG(warn, "TypesConfig %s cannot be read; using the built-in media types",
                    config.types_config.c_str());
    }
    StatusBoard board;
    board.started_ms = uv_hrtime() / 1000000;
    board.started_unix = static_cast<std::int64_t>(std::time(nullptr));
    SharedState shared;
    shared.board = &board;
    shared.config = &config;
    shared.mime = &mime;
    shared.limits.request_line = config.limit_request_line;
    shared.limits.field_size = config.limit_request_field_size;
    shared.limits.fields = config.limit_request_fields;
    // The parser refuses a Content-Length body at the head against this limit, before the
    // vhost and sections are known: so it is the largest LimitRequestBody anywhere (0 =
    // unlimited wins); the per-section one is checked once the target is resolved.
    shared.limits.body = largest_body_limit(config);
    shared.server_version = server_version(config.server_tokens, false);
    shared.server_header = "Server: " + server_version(config.server_tokens, true) + "\r\n";
    // The main server, then each vhost: open its document root and merge, once, the settings
    // that apply when no <Directory>/<Location> section does.
    auto add_host = [&](const conf::VirtualHost& vh) {
        HostContext h;
        h.vhost = &vh;
        const auto& docroot =
            vh.document_root.value.empty() ? config.document_root : vh.document_root.value;
        h.root = std::make_unique<DocumentRoot>(docroot);
        if (!h.root->ok()) {
            KAHTTPD_LOG(warn, "DocumentRoot %s cannot be opened (%s); its requests will get 404",
                        docroot.c_str(), std::strerror(errno));
        }
        h.base = vh.effective(config.main, docroot.native(), "/");
        h.has_sections = !config.main.directories.empty() || !config.main.locations.empty() ||
                         !vh.directories.empty() || !vh.locations.empty();
        shared.hosts.push_back(std::move(h));
    };
    for (const auto& log : config.custom_logs) {
        int fd = -1;
        if (log.target == "/dev/stdout") {
            fd = STDOUT_FILENO;
        } else if (log.target == "/dev/stderr") {
            fd = STDERR_FILENO;
        } else {
            fd = ::open(log.target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        }
        if (fd < 0) {
            std::fprintf(stderr, "kahttpd: %s: CustomLog: cannot open %s: %s\n", log.from.c_str(),
                         log.target.c_str(), std::strerror(errno));
            return 1;
        }
        shared.access_logs.push_back(AccessLogSink{fd, AccessLogFormat(log.format)});
    }
    add_host(config.main);
    for (const auto& vh : config.vhosts) {
        add_host(vh);
    }

    unsigned nworkers = config.workers;
    if (nworkers == 0) {
        nworkers = std::max(1u, std::thread::hardware_concurrency());
    }

    // Bind everything before starting anything, so a busy port stops the start cleanly.
    std::vector<std::vector<int>> fds(nworkers);
    std::vector<std::string> announced;
    bool failed = false;
    for (const auto& addr : config.listen) {
        std::uint16_t port = addr.port;
        for (unsigned w = 0; w < nworkers && !failed; ++w) {
            std::string err;
            const int fd = open_listener(addr, port, err);
            if (fd < 0) {
                std::fprintf(stderr, "kahttpd: %s: Listen: cannot listen on %s:%u: %s\n",
                             addr.where.c_str(), addr.host.empty() ? "*" : addr.host.c_str(),
                             addr.port, err.c_str());
                failed = true;
                break;
            }
            fds[w].push_back(fd);
        }
        const bool v6 = addr.host.find(':') != std::string::npos;
        announced.push_back((addr.host.empty() ? std::string("*")
                             : v6              ? "[" + addr.host + "]"
                                               : addr.host) +
                            ":" + std::to_string(port));
    }
    if (failed) {
        for (auto& v : fds) {
            for (int fd : v) {
                ::close(fd);
            }
        }
        return 1;
    }

    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned w = 0; w < nworkers; ++w) {
        workers.push_back(std::make_unique<Worker>(w, shared, std::move(fds[w])));
    }

    uv_loop_t main_loop;
    uv_loop_init(&main_loop);
    SignalContext sig;
    sig.workers = &workers;
    sig.config = &config;
    sig.access_logs = &shared.access_logs;
    const std::pair<uv_signal_t*, int> signals[] = {{&sig.sigint, SIGINT},
                                                    {&sig.sigterm, SIGTERM},
                                                    {&sig.sighup, SIGHUP},
                                                    {&sig.sigusr1, SIGUSR1}};
    for (const auto& [handle, signum] : signals) {
        uv_signal_init(&main_loop, handle);
        handle->data = &sig;
        uv_signal_start(handle, &on_signal_cb, signum);
    }

    {
        std::lock_guard<std::mutex> lock(board.mutex);
        for (auto& w : workers) {
            board.workers.push_back(w.get());
        }
    }
    std::vector<int> results(nworkers, 0);
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < nworkers; ++w) {
        threads.emplace_back([&, w] { results[w] = workers[w]->run(); });
    }
    // The PID file exists before the server says it is ready, so whoever waits for the
    // "listening" line can rely on it.
    if (!config.pid_file.empty()) {
        if (std::FILE* f = std::fopen(config.pid_file.c_str(), "w")) {
            std::fprintf(f, "%ld\n", static_cast<long>(::getpid()));
            std::fclose(f);
        } else {
            KAHTTPD_LOG(error, "PidFile %s cannot be written: %s", config.pid_file.c_str(),
                        std::strerror(errno));
        }
    }

    for (const auto& a : announced) {
        std::printf("kahttpd: listening on %s (%u workers, DocumentRoot %s)\n", a.c_str(), nworkers,
                    config.document_root.c_str());
    }
    std::fflush(stdout);

    uv_run(&main_loop, UV_RUN_DEFAULT);
    for (auto& t : threads) {
        t.join();
    }
    int rc = uv_loop_close(&main_loop);
    if (!config.pid_file.empty()) {
        ::unlink(config.pid_file.c_str());
    }
    for (const auto& sink : shared.access_logs) {
        if (sink.fd > STDERR_FILENO) {
            ::close(sink.fd);
        }
    }

    WorkerStats total;
    {
        std::lock_guard<std::mutex> lock(board.mutex);
        board.workers.clear();
    }
    for (const auto& w : workers) {
        total.merge(w->stats());
    }
    KAHTTPD_LOG(info, "stopped: %llu connections, %llu requests",
                static_cast<unsigned long long>(total.accepted),
                static_cast<unsigned long long>(total.requests));
    for (int r : results) {
        rc |= r;
    }
    if (rc != 0) {
        KAHTTPD_LOG(error, "event loops did not close cleanly");
        return 1;
    }
    return 0;
}

} // namespace kahttpd::server
