#include "server/io/server.hpp"

#include "conf/mime_types.hpp"
#include "conf/regex.hpp"
#include "server/io/privileges.hpp"
#include "server/io/systemd.hpp"
#include "server/io/upgrade.hpp"
#include "server/io/worker.hpp"
#include "server/obs/log.hpp"
#include "server/static/static_file.hpp"

#include <llhttp.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <brotli/encode.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

namespace kahttpd::server {

namespace {

constexpr int kBacklog = 511;

/// How open_listener binds.
enum class BindMode {
    listen, ///< a listening socket in the address's SO_REUSEPORT group
    probe,  ///< a bind without SO_REUSEPORT, closed at once: does anyone else hold the address?
};

/// A bound, listening, non-blocking socket for `addr`, or -1 with a message in `err`.
/// `port` is the port to bind (the kernel's choice for a ":0" address is passed back so every
/// worker's socket shares it). With BindMode::probe the socket is only bound, then closed, and
/// 0 is returned when the bind succeeded. `group`, when not -1, is an inherited SO_REUSEPORT
/// socket to join: its exact address (and IPV6_V6ONLY) is bound instead of `addr`'s.
int open_listener(const conf::ListenAddr& addr, std::uint16_t& port, BindMode mode,
                  std::string& err, int group = -1) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    bool any6 = false;
    std::string host = addr.host;
    int v6only = -1; // the group's IPV6_V6ONLY, for an IPv6 group
    if (group >= 0) {
        socklen_t glen = sizeof ss;
        socklen_t olen = sizeof v6only;
        if (::getsockname(group, reinterpret_cast<sockaddr*>(&ss), &glen) != 0) {
            err = std::strerror(errno);
            return -1;
        }
        const bool v6 = ss.ss_family == AF_INET6;
        if (!v6 || ::getsockopt(group, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen) != 0) {
            v6only = -1;
        }
        len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    } else if (host.empty()) {
        host = "::"; // every address, both families, as Apache's "Listen 8080"
        any6 = true;
    }
    if (group >= 0) {
        // The address comes from the group's socket.
    } else if (host.find(':') != std::string::npos) {
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
    if (fd < 0 && any6 && group < 0) {
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
    // SO_REUSEADDR in both modes: connections of an earlier run in TIME_WAIT must not make
    // the port look taken.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (mode == BindMode::listen) {
        // One socket per worker on the same address; the kernel spreads connections across
        // them.
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
        // Set before listen(), so that every connection the kernel accepts copies it (Linux
        // clones the listener's TCP options): no setsockopt per connection
        // (Worker::start_listening reads it back).
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    if (any6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    } else if (v6only >= 0) {
        // Joining an inherited IPv6 group: the same family coverage as its socket.
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        (mode == BindMode::listen && ::listen(fd, kBacklog) != 0)) {
        err = std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (mode == BindMode::probe) {
        ::close(fd);
        return 0;
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

/// The most connections open at once: MaxConnections, and what the descriptor limit leaves
/// for connections: three quarters of RLIMIT_NOFILE (the open-file cache may hold the other
/// quarter) less 32 for listeners, logs, epoll and streamed files. At the budget a new
/// connection gets the slot of an idle or a stalled one (Worker::make_room) before libuv would
/// have to refuse it with EMFILE. 0 = no budget.
std::uint32_t connection_budget(const conf::Config& cfg) {
    std::uint64_t budget = cfg.max_connections;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        const std::uint64_t fds = rl.rlim_cur - rl.rlim_cur / 4;
        const std::uint64_t for_connections = fds > 64 ? fds - 32 : fds / 2;
        budget = budget == 0 ? for_connections : std::min(budget, for_connections);
    }
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(budget, UINT32_MAX));
}

/// How many connections may wait for a slot at the budget (Worker::enqueue): a quarter of the
/// budget, at least 16, and no more than an eighth of the descriptor limit (half the quarter
/// the budget leaves to the open-file cache), since each holds a descriptor. 0 = no budget.
std::uint32_t connection_queue(std::uint32_t budget) {
    if (budget == 0) {
        return 0;
    }
    std::uint64_t queue = std::max(16u, budget / 4);
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        queue = std::min<std::uint64_t>(queue, rl.rlim_cur / 8);
    }
    return static_cast<std::uint32_t>(queue);
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

/// Opens a log file for appending (created 0644 when missing), as every log is opened; -1 with
/// errno set when it cannot be.
int open_log_file(const std::string& path) noexcept {
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/// Whether ErrorLog `path` means the process's stderr (unset, or /dev/stderr).
bool error_log_is_stderr(const std::string& path) noexcept {
    return path.empty() || path == "/dev/stderr";
}

/// Opens `path` again and puts it in place of `fd` (dup3), so every thread writing to `fd`
/// writes to the new file from its next write on. False (errno set) when it cannot be opened.
bool reopen_onto(const std::string& path, int fd) noexcept {
    const int fresh = open_log_file(path);
    if (fresh < 0) {
        return false;
    }
    ::dup3(fresh, fd, O_CLOEXEC);
    ::close(fresh);
    return true;
}

/// One configuration load and the workers serving it. A reload builds a new one; the old one
/// stays alive (its Config, hosts and log files) until its last worker has finished.
struct Generation {
    unsigned number = 1;
    std::unique_ptr<conf::Config> config;
    conf::MimeTypes mime;
    SharedState shared;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    std::vector<int> results;
    std::atomic<unsigned> running{0}; ///< workers whose loop has not returned yet
    bool retiring = false;

    ~Generation() {
        for (const LogFile& file : shared.log_files) {
            ::close(file.fd);
        }
    }
};

/// Opens the logs of one generation and resolves each host's (HostContext::access_logs and
/// error_log): every file once, whatever the number of CustomLog and ErrorLog lines, in any
/// scope, that name it; every CustomLog line of the same file and format as one sink. The main
/// ErrorLog is not among them: it is process-wide (g_log_fd, opened by main.cpp and switched
/// by a reload), and a host without an ErrorLog of its own writes there.
class LogOpener {
  public:
    LogOpener(const conf::Config& cfg, SharedState& shared, std::string& err)
        : cfg_(cfg), shared_(shared), err_(err) {}

    /// Sets `h`'s logs: its vhost's own CustomLog lines, else the main server's (Apache's rule:
    /// a vhost with logs of its own does not also write to the main server's); its own
    /// ErrorLog and LogLevel, else the main server's. False, with "FILE:LINE: Directive:
    /// cannot open ..." in err, when a file cannot be opened.
    bool resolve(HostContext& h) {
        const conf::VirtualHost& vh = *h.vhost;
        const bool is_main = &vh == &cfg_.main;
        const auto& logs = !is_main && !vh.custom_logs.empty() ? vh.custom_logs : cfg_.custom_logs;
        for (const conf::CustomLog& log : logs) {
            const auto sink = sink_for(log);
            if (!sink) {
                return false;
            }
            h.access_logs.push_back(*sink);
        }
        h.error_log.level = static_cast<int>(
            server_log_level(!is_main && vh.log_level ? vh.log_level->value : cfg_.log_level));
        const std::string& path = is_main ? cfg_.error_log : vh.error_log.value;
        if (!is_main && !path.empty() && path != cfg_.error_log) {
            h.error_log.fd = open_file(path, vh.error_log.from, "ErrorLog");
            return h.error_log.fd >= 0;
        }
        return true;
    }

  private:
    std::optional<std::uint16_t> sink_for(const conf::CustomLog& log) {
        for (std::size_t i = 0; i < keys_.size(); ++i) {
            if (keys_[i].first == log.target && keys_[i].second == log.format) {
                return static_cast<std::uint16_t>(i);
            }
        }
        if (keys_.size() > UINT16_MAX) {
            err_ = log.from + ": CustomLog: more than 65536 different access logs";
            return std::nullopt;
        }
        const int fd = open_file(log.target, log.from, "CustomLog");
        if (fd < 0) {
            return std::nullopt;
        }
        keys_.emplace_back(log.target, log.format);
        shared_.access_logs.push_back(AccessLogSink{fd, AccessLogFormat(log.format)});
        return static_cast<std::uint16_t>(keys_.size() - 1);
    }

    /// The descriptor of `path`, opened now or by an earlier line; -1 with err set.
    int open_file(const std::string& path, const conf::Source& from, const char* directive) {
        if (path == "/dev/stdout") {
            return STDOUT_FILENO;
        }
        if (path == "/dev/stderr") {
            return STDERR_FILENO;
        }
        for (const LogFile& file : shared_.log_files) {
            if (file.path == path) {
                return file.fd;
            }
        }
        const int fd = open_log_file(path);
        if (fd < 0) {
            err_ = from + ": " + directive + ": cannot open " + path + ": " + std::strerror(errno);
            return -1;
        }
        shared_.log_files.push_back(LogFile{path, fd});
        return fd;
    }

    const conf::Config& cfg_;
    SharedState& shared_;
    std::string& err_;
    std::vector<std::pair<std::string, std::string>> keys_; ///< (file, format) of each sink
};

/// A Listen address and its sockets: one per worker slot, all bound to the same port with
/// SO_REUSEPORT. The main thread keeps these; each worker gets dup()s of its share, so a
/// worker that stops listening (at a reload) never closes a socket: connections waiting in its
/// accept queue are taken by the new workers instead of being reset.
struct Listener {
    std::string key; ///< the address as configured ("127.0.0.1:0"), to match across reloads
    conf::ListenAddr addr;
    std::uint16_t port = 0; ///< the port actually bound (the kernel's choice for :0)
    std::vector<int> fds;
    /// fds[0] came from LISTEN_FDS (socket activation, or the kahttpd this one upgraded).
    bool inherited = false;
    /// Inherited sockets that cannot have companions (no SO_REUSEPORT, or a group this user
    /// may not join): with fewer sockets than workers, worker w gets a dup() of socket
    /// w % size, and workers share accept queues.
    bool shared = false;
};

/// AcceptFilter's TCP_DEFER_ACCEPT: how long the kernel holds a connection that sent nothing
/// before handing it over anyway (Apache's value). Linux counts it in SYN-ACK retransmissions.
constexpr int kDeferAcceptSeconds = 30;

/// The log files the configuration writes (ErrorLog and every CustomLog, the vhosts' too), for
/// User's hand-over.
std::vector<std::string> log_paths(const conf::Config& config) {
    std::vector<std::string> paths;
    if (!config.error_log.empty()) {
        paths.push_back(config.error_log);
    }
    for (const auto& log : config.custom_logs) {
        paths.push_back(log.target);
    }
    for (const conf::VirtualHost& vh : config.vhosts) {
        if (!vh.error_log.value.empty()) {
            paths.push_back(vh.error_log.value);
        }
        for (const auto& log : vh.custom_logs) {
            paths.push_back(log.target);
        }
    }
    return paths;
}

std::string listener_key(const conf::ListenAddr& a) {
    // Every "Listen ...:0" is a port of its own (the kernel's choice), so its directive is part
    // of the key: "Listen 127.0.0.1:0" and "Listen 127.0.0.1:0 https" are two listeners, not
    // one SO_REUSEPORT group that would mix plain and TLS connections.
    return a.host + "|" + std::to_string(a.port) + (a.port == 0 ? "|" + a.where : std::string());
}

/// The address as configured, for messages: "127.0.0.1:8080", "[::1]:8080", "*:8080".
std::string configured_address(const conf::ListenAddr& a) {
    std::string text;
    if (a.host.empty()) {
        text.append("*");
    } else if (a.host.find(':') != std::string::npos) {
        text.append("[").append(a.host).append("]");
    } else {
        text.append(a.host);
    }
    text.append(":").append(std::to_string(a.port));
    return text;
}

/// True when a socket of `held` would receive connections meant for `addr` or the reverse:
/// the same port (the one actually bound, for a ":0" address), and the same address or a
/// wildcard on either side ("Listen 8080" is every address).
bool overlaps(const Listener& held, const conf::ListenAddr& addr) {
    auto wildcard = [](const std::string& host) {
        return host.empty() || host == "0.0.0.0" || host == "::";
    };
    return held.port == addr.port &&
           (held.addr.host == addr.host || wildcard(held.addr.host) || wildcard(addr.host));
}

std::string announced_address(const Listener& l) {
    const std::string& host = l.addr.host;
    const bool v6 = host.find(':') != std::string::npos;
    return (host.empty() ? std::string("*")
            : v6         ? "[" + host + "]"
                         : host) +
           ":" + std::to_string(l.port);
}

/// Requests served by each running worker, as each last reported it (the STATUS= line):
/// workers write their own entry on their thread, the main thread reads. Guarded by `mutex`.
struct RequestTally {
    std::mutex mutex;
    std::vector<std::pair<const Worker*, std::uint64_t>> requests;
};

class Server {
  public:
    Server(ConfigLoader reload, std::vector<std::string> argv)
        : reload_(std::move(reload)), argv_(std::move(argv)) {
        board_.started_ms = uv_hrtime() / 1000000;
        board_.started_unix = static_cast<std::int64_t>(std::time(nullptr));
    }

    int run(conf::Config config);

  private:
    std::unique_ptr<Generation> build(std::unique_ptr<conf::Config> config, std::string& err);
    /// What one bind_listeners() call added, so a failure later in build() can take it back.
    struct BindUndo {
        std::size_t had = 0;                                    // listeners_ before the call
        std::vector<std::pair<std::size_t, std::size_t>> added; // (listener, first new fd)
    };
    void claim_inherited(const conf::Config& config, BindUndo& undo);
    void apply_accept_filters(const conf::Config& cfg);
    const sockaddr_storage& inherited_for(int fd) const;
    bool bind_listeners(const conf::Config& config, unsigned nworkers, BindUndo& undo,
                        std::string& err);
    void undo_bind(const BindUndo& undo);
    void start(Generation& gen);
    void on_signal(int signum);
    void reload();
    void reopen_logs();
    void reap();
    void close_unused_listeners();
    /// The stop itself (after GracefulShutdownDelay, if any): workers drain, listeners close,
    /// the main loop's handles close.
    void stop_now();
    /// SIGUSR2: start the new binary with the listening sockets (upgrade.hpp).
    void start_upgrade();
    void on_upgrade_read(ssize_t nread, const uv_buf_t* buf);
    void end_upgrade_pipe();
    void stop_upgrade_child(const char* signal_name);
    void read_upgrade_pipe_now();
    void reap_children();
    /// "generation N, C connections, R requests served", for STATUS=.
    std::string status_text();
    void on_notify_timer();

    static void on_signal_cb(uv_signal_t* handle, int signum) noexcept {
        static_cast<Server*>(handle->data)->on_signal(signum);
    }
    static void on_reap_cb(uv_async_t* handle) noexcept {
        static_cast<Server*>(handle->data)->reap();
    }
    static void on_delay_cb(uv_timer_t* handle) noexcept {
        auto* self = static_cast<Server*>(handle->data);
        KAHTTPD_LOG(warn, "GracefulShutdownDelay is over, shutting down");
        self->stop_now();
    }
    static void on_notify_timer_cb(uv_timer_t* handle) noexcept {
        static_cast<Server*>(handle->data)->on_notify_timer();
    }
    static void on_upgrade_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) noexcept {
        auto* self = static_cast<Server*>(handle->data);
        *buf = uv_buf_init(self->upgrade_buf_.data(), self->upgrade_buf_.size());
    }
    static void on_upgrade_read_cb(uv_stream_t* stream, ssize_t nread,
                                   const uv_buf_t* buf) noexcept {
        static_cast<Server*>(stream->data)->on_upgrade_read(nread, buf);
    }

    ConfigLoader reload_;
    std::vector<std::string> argv_;          ///< the command line, for the binary upgrade
    std::string exe_;                        ///< the binary, resolved at start (resolve_self_exe)
    std::vector<InheritedSocket> inherited_; ///< LISTEN_FDS, until the first build claims them
    UpgradeParent upgrade_parent_;           ///< set when this process is an upgrade's new one
    UpgradeChild upgrade_child_;             ///< the new process of an upgrade in progress
    bool upgrade_child_reaped_ = false;      ///< upgrade_child_ has exited and been waited for
    pid_t stopped_child_ = -1;               ///< an upgrade's new process stopped with this one
    uv_pipe_t upgrade_pipe_;                 ///< its status pipe, while open
    bool upgrade_pipe_open_ = false;
    std::array<char, 8> upgrade_buf_{};
    std::string upgrade_report_; ///< what the status pipe has said so far
    bool handed_over_ = false;   ///< the new process serves: leave the PidFile alone
    uv_timer_t delay_timer_;     ///< GracefulShutdownDelay
    bool delaying_ = false;
    uv_timer_t notify_timer_; ///< STATUS= refresh, only under a service manager
    std::shared_ptr<RequestTally> tally_ = std::make_shared<RequestTally>();
    StatusBoard board_;
    ClientCounts client_counts_; // outlives every generation, like the board
    /// Session-ticket keys: one secret for the process, keys rotating every hour, shared by
    /// every worker of every generation without a lock (TicketKeys).
    TicketKeys ticket_keys_;
    std::vector<Listener> listeners_;
    std::unique_ptr<Generation> current_;
    std::vector<std::unique_ptr<Generation>> retiring_;
    uv_loop_t loop_;
    uv_async_t reap_async_; // a worker's loop has returned
    std::mutex reap_mutex_;
    bool reap_closed_ = false; // guarded by reap_mutex_
    std::array<uv_signal_t, 6> signals_;
    bool stopping_ = false;
    int exit_status_ = 0; // non-zero when a reaped generation's loop did not close cleanly
    std::string pid_file_;
};

/// Makes sure every Listen address of `config` has at least `nworkers` sockets. New addresses
/// and extra sockets are bound now; on failure everything bound by this call is closed again.
void Server::undo_bind(const BindUndo& undo) {
    for (auto [li, from] : undo.added) {
        auto& fds = listeners_[li].fds;
        for (std::size_t i = from; i < fds.size(); ++i) {
            ::close(fds[i]);
        }
        fds.resize(from);
    }
    listeners_.resize(undo.had);
}

/// Socket activation and the binary upgrade: a Listen address this process does not hold yet
/// takes the inherited sockets that match it (inherited_matches) instead of binding its own,
/// and so skips the "one server per port" probe. A Listen with port 0 takes the sockets of one
/// port (an upgrade passes every socket of a group, in order).
void Server::claim_inherited(const conf::Config& config, BindUndo& undo) {
    for (const auto& addr : config.listen) {
        const std::string key = listener_key(addr);
        if (std::any_of(listeners_.begin(), listeners_.end(),
                        [&](const Listener& l) { return l.key == key; })) {
            continue;
        }
        Listener l{key, addr, addr.port, {}};
        for (InheritedSocket& s : inherited_) {
            if (s.claimed || !inherited_matches(s, addr.host, addr.port) ||
                (!l.fds.empty() && (sockaddr_port(s.addr) != l.port || l.shared || !s.reuseport))) {
                continue;
            }
            s.claimed = true;
            l.port = sockaddr_port(s.addr);
            l.fds.push_back(s.fd);
            l.inherited = true;
            l.shared = !s.reuseport;
        }
        if (l.fds.empty()) {
            continue;
        }
        KAHTTPD_LOG(info, "Listen %s: using %zu inherited socket%s on %s (%s)",
                    configured_address(addr).c_str(), l.fds.size(), l.fds.size() == 1 ? "" : "s",
                    sockaddr_text(inherited_for(l.fds[0])).c_str(),
                    l.shared ? "no SO_REUSEPORT: shared by every worker"
                             : "SO_REUSEPORT: more workers join its group");
        undo.added.emplace_back(listeners_.size(), 0);
        listeners_.push_back(std::move(l));
    }
}

const sockaddr_storage& Server::inherited_for(int fd) const {
    static const sockaddr_storage kNone{};
    for (const InheritedSocket& s : inherited_) {
        if (s.fd == fd) {
            return s.addr;
        }
    }
    return kNone;
}

bool Server::bind_listeners(const conf::Config& config, unsigned nworkers, BindUndo& undo,
                            std::string& err) {
    undo.had = listeners_.size();
    auto& added = undo.added;
    // One server per port (issue 12). SO_REUSEPORT lets any process of the same user join an
    // address's group and take a share of its connections, so a second kahttpd would start
    // "successfully" and steal traffic. Apache and nginx refuse to start instead, and so does
    // kahttpd: before an address this process does not hold yet gets its group, a bind without
    // SO_REUSEPORT asks the kernel whether anyone listens there (EADDRINUSE if so, whatever
    // options the holder used). Every address is probed before any is bound, so addresses of
    // this configuration that overlap ("Listen 8080" and "Listen 127.0.0.1:8080") do not see
    // each other. An address that overlaps one this process already holds (a reload) is not
    // probed: the probe would hit our own sockets, and the port is ours already. Port 0 is a
    // fresh port by definition.
    claim_inherited(config, undo);
    for (const auto& addr : config.listen) {
        const std::string key = listener_key(addr);
        const bool held = std::any_of(listeners_.begin(), listeners_.end(), [&](const Listener& l) {
            return !l.fds.empty() && (l.key == key || overlaps(l, addr));
        });
        if (held || addr.port == 0) {
            continue;
        }
        std::uint16_t port = addr.port;
        std::string why;
        if (open_listener(addr, port, BindMode::probe, why) < 0) {
            err = addr.where;
            err.append(": Listen: cannot listen on ").append(configured_address(addr));
            err.append(": ").append(why);
            return false;
        }
    }
    for (const auto& addr : config.listen) {
        const std::string key = listener_key(addr);
        auto it = std::find_if(listeners_.begin(), listeners_.end(),
                               [&](const Listener& l) { return l.key == key; });
        if (it == listeners_.end()) {
            listeners_.push_back(Listener{key, addr, addr.port, {}});
            it = listeners_.end() - 1;
        }
        const auto li = static_cast<std::size_t>(it - listeners_.begin());
        const std::size_t from = it->fds.size();
        // An inherited SO_REUSEPORT socket gets companions in its group (bound to its exact
        // address); a shared one cannot have any.
        const int group = listeners_[li].inherited ? listeners_[li].fds[0] : -1;
        while (!listeners_[li].shared && listeners_[li].fds.size() < nworkers) {
            std::string why;
            const int fd = open_listener(addr, listeners_[li].port, BindMode::listen, why, group);
            if (fd < 0 && group >= 0) {
                // The kernel lets only the user that created a socket join its group: a socket
                // bound by systemd (root) for a service running as another user cannot get
                // companions. Serving goes on with the inherited sockets, shared.
                KAHTTPD_LOG(warn,
                            "Listen %s: cannot join the inherited socket's SO_REUSEPORT group "
                            "(%s; it was created by another user?); %zu socket%s shared by %u "
                            "workers",
                            configured_address(addr).c_str(), why.c_str(),
                            listeners_[li].fds.size(), listeners_[li].fds.size() == 1 ? "" : "s",
                            nworkers);
                listeners_[li].shared = true;
                break;
            }
            if (fd < 0) {
                err = addr.where;
                err.append(": Listen: cannot listen on ").append(configured_address(addr));
                err.append(": ").append(why);
                added.emplace_back(li, from);
                undo_bind(undo);
                return false;
            }
            listeners_[li].fds.push_back(fd);
        }
        added.emplace_back(li, from);
    }
    return true;
}

/// AcceptFilter on every socket of every Listen address, inherited ones too (the configuration
/// decides, not who made the socket: systemd's DeferAcceptSec= is overridden), and again at
/// each reload, so a changed AcceptFilter reaches the sockets kept across it. A kernel that
/// refuses it only costs the optimisation, as in Apache (AH00076): a warning.
void Server::apply_accept_filters(const conf::Config& cfg) {
    for (const auto& addr : cfg.listen) {
        const std::string key = listener_key(addr);
        const bool on = addr.https ? cfg.accept_filter_https : cfg.accept_filter_http;
        const int seconds = on ? kDeferAcceptSeconds : 0;
        for (const Listener& l : listeners_) {
            if (l.key != key) {
                continue;
            }
            for (const int fd : l.fds) {
                if (::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) !=
                    0) {
                    KAHTTPD_LOG(warn, "Listen %s: AcceptFilter %s: cannot set TCP_DEFER_ACCEPT: %s",
                                configured_address(addr).c_str(), on ? "data" : "none",
                                std::strerror(errno));
                    break;
                }
            }
        }
    }
}

std::unique_ptr<Generation> Server::build(std::unique_ptr<conf::Config> config, std::string& err) {
    auto gen = std::make_unique<Generation>();
    gen->number = current_ ? current_->number + 1 : 1;
    gen->config = std::move(config);
    const conf::Config& cfg = *gen->config;
    bool fallback = false;
    gen->mime = conf::MimeTypes::load(cfg.types_config, &fallback);
    if (fallback) {
        KAHTTPD_LOG(warn, "TypesConfig %s cannot be read; using the built-in media types",
                    cfg.types_config.c_str());
    }
    SharedState& shared = gen->shared;
    shared.board = &board_;
    shared.draining = &board_.draining;
    shared.client_counts = &client_counts_;
    shared.generation = gen->number;
    shared.proxy_protocol = cfg.proxy_protocol_anywhere();
    shared.config = &cfg;
    shared.mime = &gen->mime;
    shared.limits.request_line = cfg.limit_request_line;
    shared.limits.field_size = cfg.limit_request_field_size;
    shared.limits.fields = cfg.limit_request_fields;
    // The parser refuses a Content-Length body at the head against this limit, before the
    // vhost and sections are known: so it is the largest LimitRequestBody anywhere (0 =
    // unlimited wins); the per-section one is checked once the target is resolved.
    shared.limits.body = largest_body_limit(cfg);
    shared.connection_budget = connection_budget(cfg);
    shared.connection_queue = connection_queue(shared.connection_budget);
    shared.server_version = server_version(cfg.server_tokens, false);
    shared.server_header = "Server: " + server_version(cfg.server_tokens, true) + "\r\n";
    // The main server, then each vhost: open its logs and its document root, and merge, once,
    // the settings that apply when no <Directory>/<Location> section does. Logs are opened
    // here, before anything is bound and in the same place for every scope, so a log that
    // cannot be opened stops the start (or the reload) cleanly.
    LogOpener logs(cfg, shared, err);
    auto add_host = [&](const conf::VirtualHost& vh) {
        HostContext h = make_host(cfg, vh);
        if (!logs.resolve(h)) {
            return false;
        }
        if (!h.root->ok()) {
            KAHTTPD_LOG(warn, "DocumentRoot %s cannot be opened (%s); its requests will get 404",
                        h.root->path().c_str(), std::strerror(errno));
        }
        for (const auto& root : h.alias_roots) {
            if (!root->ok()) {
                KAHTTPD_LOG(warn, "Alias folder %s cannot be opened; its requests will get 404",
                            root->path().c_str());
            }
        }
        shared.hosts.push_back(std::move(h));
        return true;
    };
    if (!add_host(cfg.main)) {
        return nullptr;
    }
    for (const auto& vh : cfg.vhosts) {
        if (!add_host(vh)) {
            return nullptr;
        }
    }

    const unsigned nworkers = cfg.worker_count();
    // TLS: every worker gets its own contexts (certificates and keys read again, so a reload
    // picks up renewed files; connections of the old generation keep the old contexts).
    if (cfg.tls_anywhere()) {
        for (unsigned w = 0; w < nworkers; ++w) {
            std::string why;
            auto contexts = TlsContexts::build(cfg, ticket_keys_, why);
            if (!contexts) {
                err = why;
                return nullptr;
            }
            shared.tls.push_back(std::move(contexts));
        }
    }
    // Bind everything before starting anything, so a busy port stops the start (or the
    // reload) cleanly.
    BindUndo bound;
    if (!bind_listeners(cfg, nworkers, bound, err)) {
        return nullptr;
    }
    // Worker w serves socket k of each of its addresses when k % nworkers == w: with fewer
    // workers than before, the extra sockets (and their queued connections) are shared out.
    for (unsigned w = 0; w < nworkers; ++w) {
        std::vector<int> fds;
        std::vector<bool> tls;
        for (const auto& addr : cfg.listen) {
            const std::string key = listener_key(addr);
            for (const Listener& l : listeners_) {
                if (l.key != key) {
                    continue;
                }
                // Fewer sockets than workers (inherited ones that cannot have companions):
                // worker w shares socket w % size.
                const bool fewer = l.fds.size() < nworkers;
                for (std::size_t k = fewer ? w % l.fds.size() : w; k < l.fds.size();
                     k += fewer ? l.fds.size() : nworkers) {
                    const int fd = ::fcntl(l.fds[k], F_DUPFD_CLOEXEC, 0);
                    if (fd < 0) {
                        err = std::string("cannot duplicate a listening socket: ") +
                              std::strerror(errno);
                        for (int f : fds) {
                            ::close(f);
                        }
                        // The workers built so far close their duplicates; sockets bound
                        // for this attempt must not stay in the SO_REUSEPORT group with no
                        // one accepting.
                        gen->workers.clear();
                        undo_bind(bound);
                        return nullptr;
                    }
                    fds.push_back(fd);
                    tls.push_back(addr.https);
                }
            }
        }
        gen->workers.push_back(
            std::make_unique<Worker>(w, gen->shared, std::move(fds), std::move(tls)));
    }
    // Once nothing above can fail: a reload that fails keeps the running settings. (The
    // workers read it back when they start listening.)
    apply_accept_filters(cfg);
    gen->results.assign(nworkers, 0);
    return gen;
}

void Server::start(Generation& gen) {
    {
        std::lock_guard<std::mutex> lock(board_.mutex);
        for (auto& w : gen.workers) {
            board_.workers.push_back(w.get());
        }
    }
    gen.running = static_cast<unsigned>(gen.workers.size());
    for (std::size_t w = 0; w < gen.workers.size(); ++w) {
        gen.threads.emplace_back([this, &gen, w] {
            Worker& worker = *gen.workers[w];
            // (Its final counters went to the board when it finished.)
            gen.results[w] = worker.run();
            std::lock_guard<std::mutex> lock(reap_mutex_);
            gen.running.fetch_sub(1);
            if (!reap_closed_) {
                uv_async_send(&reap_async_);
            }
        });
    }
}

/// Joins the threads of retiring generations whose workers have all finished, and frees them.
void Server::reap() {
    for (auto it = retiring_.begin(); it != retiring_.end();) {
        Generation& gen = **it;
        if (gen.running.load() != 0) {
            ++it;
            continue;
        }
        for (auto& t : gen.threads) {
            t.join();
        }
        for (int r : gen.results) {
            exit_status_ |= r;
        }
        KAHTTPD_LOG(info, "configuration generation %u finished its connections", gen.number);
        it = retiring_.erase(it);
    }
    if (stopping_ && retiring_.empty()) {
        // The last handle of the main loop: once every worker has returned, closing it ends
        // uv_run. Under the lock, so no thread can signal a closed handle.
        std::lock_guard<std::mutex> lock(reap_mutex_);
        if (!reap_closed_ && current_->running.load() == 0) {
            reap_closed_ = true;
            uv_close(reinterpret_cast<uv_handle_t*>(&reap_async_), nullptr);
        }
    }
}

/// Closes the sockets of addresses the current configuration no longer lists. The old
/// workers had their own duplicates, which they close when they stop listening.
void Server::close_unused_listeners() {
    std::erase_if(listeners_, [&](Listener& l) {
        const bool used =
            std::any_of(current_->config->listen.begin(), current_->config->listen.end(),
                        [&](const conf::ListenAddr& a) { return listener_key(a) == l.key; });
        if (!used) {
            KAHTTPD_LOG(warn, "reload: no longer listening on %s", announced_address(l).c_str());
            for (int fd : l.fds) {
                ::close(fd);
            }
        }
        return !used;
    });
}

void Server::reopen_logs() {
    // Every file of every generation still running: the CustomLog files of each scope and the
    // vhosts' ErrorLog files (each once, however many lines name it).
    auto reopen_files = [](const Generation& gen) {
        for (const LogFile& file : gen.shared.log_files) {
            if (!reopen_onto(file.path, file.fd)) {
                KAHTTPD_LOG(error, "SIGUSR1: log file %s cannot be reopened: %s", file.path.c_str(),
                            std::strerror(errno));
            }
        }
    };
    reopen_files(*current_);
    for (const auto& gen : retiring_) {
        reopen_files(*gen);
    }
    const std::string& error_log = current_->config->error_log;
    if (error_log_is_stderr(error_log)) {
        return;
    }
    if (!reopen_onto(error_log, g_log_fd.load())) {
        KAHTTPD_LOG(error,
                    "SIGUSR1: ErrorLog %s cannot be reopened: %s; still writing to the old file",
                    error_log.c_str(), std::strerror(errno));
        return;
    }
    KAHTTPD_LOG(info, "SIGUSR1: ErrorLog %s reopened", error_log.c_str());
}

/// A reload changed ErrorLog, already opened as `fresh` (open_error_log()). A file
/// replaces a file in place (dup3, as for SIGUSR1); going from stderr to a file takes the new
/// descriptor, so stderr itself (where CustomLog /dev/stderr may write) is never taken over.
/// Going back to stderr leaves the old file's descriptor open: another thread may be writing
/// through it at this moment.
void switch_error_log(int fresh) noexcept {
    const int current = g_log_fd.load();
    if (fresh == STDERR_FILENO) {
        g_log_fd.store(STDERR_FILENO);
        return;
    }
    if (current > STDERR_FILENO) {
        ::dup3(fresh, current, O_CLOEXEC);
        ::close(fresh);
        return;
    }
    g_log_fd.store(fresh);
}

/// SIGHUP: read the configuration again. A bad one is reported and changes nothing. A good
/// one gets new workers on the same listening sockets; the old workers stop accepting, finish
/// the requests in flight with "Connection: close", close their idle connections and end.
void Server::reload() {
    std::vector<std::string> messages;
    std::optional<conf::Config> loaded = reload_ ? reload_(messages) : std::nullopt;
    if (!loaded) {
        for (const auto& m : messages) {
            KAHTTPD_LOG(error, "reload: %s", m.c_str());
        }
        KAHTTPD_LOG(error,
                    "reload failed: the configuration has errors; still serving with "
                    "the running one (generation %u)",
                    current_->number);
        return;
    }
    for (const auto& m : messages) {
        KAHTTPD_LOG(warn, "reload: %s", m.c_str());
    }
    // A new main ErrorLog is opened before anything changes: one that cannot be opened fails
    // the reload, as a CustomLog or a vhost's ErrorLog does (and as nginx's reload does), with
    // the same "FILE:LINE: ErrorLog:" message as at start.
    const bool error_log_changed = loaded->error_log != current_->config->error_log;
    std::string log_err;
    const int fresh_error_log =
        error_log_changed ? open_error_log(*loaded, log_err) : STDERR_FILENO;
    if (fresh_error_log < 0) {
        KAHTTPD_LOG(error,
                    "reload failed: %s; still serving with the running configuration "
                    "(generation %u)",
                    log_err.c_str(), current_->number);
        return;
    }
    std::string err;
    auto gen = build(std::make_unique<conf::Config>(std::move(*loaded)), err);
    if (!gen) {
        if (fresh_error_log != STDERR_FILENO) {
            ::close(fresh_error_log);
        }
        KAHTTPD_LOG(error,
                    "reload failed: %s; still serving with the running configuration "
                    "(generation %u)",
                    err.c_str(), current_->number);
        return;
    }
    const conf::Config& cfg = *gen->config;
    apply_log_settings(cfg);
    if (const std::string w = account_change_warning(cfg); !w.empty()) {
        KAHTTPD_LOG(warn, "reload: %s; User and Group take effect at the next start", w.c_str());
    }
    if (error_log_changed) {
        switch_error_log(fresh_error_log);
    }
    if (cfg.pid_file != pid_file_) {
        if (!pid_file_.empty()) {
            ::unlink(pid_file_.c_str());
        }
        pid_file_ = cfg.pid_file;
        write_pid_file(pid_file_);
    }
    start(*gen);
    std::unique_ptr<Generation> old = std::move(current_);
    current_ = std::move(gen);
    board_.generation = current_->number;
    ++board_.reloads;
    old->retiring = true;
    for (auto& w : old->workers) {
        w->request_stop(true);
    }
    retiring_.push_back(std::move(old));
    close_unused_listeners();
    for (const Listener& l : listeners_) {
        KAHTTPD_LOG(info, "reload: listening on %s", announced_address(l).c_str());
    }
    KAHTTPD_LOG(warn,
                "reloaded the configuration: generation %u with %zu workers; the previous "
                "workers finish their requests and close their connections",
                current_->number, current_->workers.size());
}

void Server::on_signal(int signum) {
    switch (signum) {
    case SIGUSR1:
        reopen_logs();
        return;
    case SIGHUP:
        if (!stopping_) {
            KAHTTPD_LOG(warn, "caught SIGHUP, reloading %s", current_->config->config_file.c_str());
            notify("RELOADING=1\nSTATUS=reloading the configuration");
            reload();
            // READY again whether the reload worked or not: either way a configuration serves.
            notify("READY=1\nSTATUS=" + status_text());
        }
        return;
    case SIGUSR2:
        if (!stopping_) {
            start_upgrade();
        }
        return;
    case SIGCHLD:
        reap_children();
        return;
    default:
        break;
    }
    const char* name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (upgrade_pipe_open_) {
        // The new process may have said it serves already, in the pipe but not read yet (the
        // loop took the signal first): then this is a stop of the old process only.
        read_upgrade_pipe_now();
    }
    if (upgrade_pipe_open_) {
        stop_upgrade_child(name);
    }
    if (delaying_) {
        KAHTTPD_LOG(warn, "caught %s during GracefulShutdownDelay, shutting down now", name);
        stop_now();
        return;
    }
    if (stopping_) {
        return;
    }
    stopping_ = true;
    notify("STOPPING=1\nSTATUS=stopping: finishing the requests in progress");
    const auto delay = current_->config->graceful_shutdown_delay;
    if (delay.count() > 0) {
        // GracefulShutdownDelay: still listening and serving, but the health handler answers
        // 503, so a load balancer takes this server out before its listeners close.
        delaying_ = true;
        board_.draining.store(true);
        KAHTTPD_LOG(warn,
                    "caught %s; GracefulShutdownDelay: serving on, health checks answer 503 for "
                    "%lld ms, then shutting down",
                    name, static_cast<long long>(delay.count()));
        notify("STATUS=stopping: health checks answer 503 (GracefulShutdownDelay)");
        uv_timer_start(&delay_timer_, &Server::on_delay_cb,
                       static_cast<std::uint64_t>(delay.count()), 0);
        return;
    }
    KAHTTPD_LOG(warn, "caught %s, shutting down", name);
    stop_now();
}

void Server::stop_now() {
    stopping_ = true;
    delaying_ = false;
    // Health checks answer 503 from now on, but not in an upgrade's old process: the address
    // keeps answering through the new one, and a balancer whose health check is still on a
    // connection of the old process must not take a healthy server out.
    if (!handed_over_) {
        board_.draining.store(true);
    }
    for (auto& w : current_->workers) {
        w->request_stop();
    }
    for (auto& gen : retiring_) {
        for (auto& w : gen->workers) {
            w->request_stop();
        }
    }
    // New connections are refused from now on instead of waiting in a queue that no worker
    // will accept from (each worker closes its own duplicate when it gets the stop). After an
    // upgrade the new process holds the same sockets: closing ours only drops a reference,
    // and connections waiting in the accept queues are the new process's to take.
    for (auto& l : listeners_) {
        for (int fd : l.fds) {
            ::close(fd);
        }
    }
    listeners_.clear();
    // The signal handles stay installed but no longer keep the loop alive: a second SIGTERM
    // or SIGINT during the drain is caught and changes nothing (closing them would give the
    // signal its default action back, and a second Ctrl-C would kill the process mid-drain).
    // The reaper closes itself once every worker has returned, which ends uv_run; run()
    // closes the signal handles after that.
    for (uv_signal_t& h : signals_) {
        uv_unref(reinterpret_cast<uv_handle_t*>(&h));
    }
    for (uv_timer_t* t : {&delay_timer_, &notify_timer_}) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(t))) {
            uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        }
    }
    end_upgrade_pipe();
    reap();
}

// ---- binary upgrade (SIGUSR2) -----------------------------------------------------------------

void Server::start_upgrade() {
    if (upgrade_pipe_open_) {
        KAHTTPD_LOG(warn, "caught SIGUSR2, but the upgrade to pid %ld is still in progress",
                    static_cast<long>(upgrade_child_.pid));
        return;
    }
    if (exe_.empty()) {
        KAHTTPD_LOG(error, "upgrade failed: the path of this binary is unknown; still serving");
        return;
    }
    // Every socket of every address, in order: the new process takes over each SO_REUSEPORT
    // group whole, so no socket (and no connection waiting in its accept queue) closes when
    // this process exits.
    std::vector<int> fds;
    for (const Listener& l : listeners_) {
        fds.insert(fds.end(), l.fds.begin(), l.fds.end());
    }
    std::string err;
    const UpgradeChild child = spawn_upgrade(exe_, argv_, fds, err);
    if (child.pid < 0) {
        KAHTTPD_LOG(error, "upgrade failed: %s; still serving", err.c_str());
        return;
    }
    upgrade_child_ = child;
    upgrade_child_reaped_ = false;
    upgrade_report_.clear();
    uv_pipe_init(&loop_, &upgrade_pipe_, 0);
    upgrade_pipe_.data = this;
    if (uv_pipe_open(&upgrade_pipe_, child.status_fd) != 0) {
        ::close(child.status_fd);
    }
    upgrade_pipe_open_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&upgrade_pipe_), &Server::on_upgrade_alloc_cb,
                  &Server::on_upgrade_read_cb);
    KAHTTPD_LOG(warn, "caught SIGUSR2, upgrading: started %s (pid %ld) with %zu listening sockets",
                exe_.c_str(), static_cast<long>(child.pid), fds.size());
    notify("STATUS=upgrading: started pid " + std::to_string(child.pid) + "; " + status_text());
}

void Server::on_upgrade_read(ssize_t nread, const uv_buf_t* buf) {
    if (nread > 0) {
        upgrade_report_.append(buf->base, static_cast<std::size_t>(nread));
    }
    const long pid = static_cast<long>(upgrade_child_.pid);
    if (!upgrade_report_.empty() && upgrade_report_[0] == 'R') {
        end_upgrade_pipe();
        handed_over_ = true;
        KAHTTPD_LOG(warn,
                    "upgrade: pid %ld serves now; finishing the requests in progress and exiting",
                    pid);
        // No STOPPING=1: under systemd the new process is the service's main process now
        // (MAINPID=), and STOPPING from this one would stop the service.
        notify("STATUS=handed over to pid " + std::to_string(pid) +
               "; finishing the requests in progress");
        if (!stopping_) {
            stopping_ = true;
            stop_now();
        }
        return;
    }
    if (upgrade_report_.size() >= 5 && upgrade_report_[0] == 'E') {
        int e = 0;
        std::memcpy(&e, upgrade_report_.data() + 1, sizeof e);
        KAHTTPD_LOG(error, "upgrade failed: cannot execute %s: %s; still serving", exe_.c_str(),
                    std::strerror(e));
        end_upgrade_pipe();
        notify("STATUS=upgrade failed; " + status_text());
        return;
    }
    if (nread < 0) {
        // EOF (or an error) before the new process said it serves: it exited, and said why on
        // the error log it shares with this one.
        KAHTTPD_LOG(error,
                    "upgrade failed: the new process (pid %ld) ended before serving (see its "
                    "messages above); still serving",
                    pid);
        end_upgrade_pipe();
        notify("STATUS=upgrade failed; " + status_text());
    }
}

void Server::end_upgrade_pipe() {
    if (upgrade_pipe_open_) {
        upgrade_pipe_open_ = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&upgrade_pipe_), nullptr);
    }
}

/// What the upgrade's status pipe holds now, handled as its read callback would (without
/// waiting for the loop to poll it).
void Server::read_upgrade_pipe_now() {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&upgrade_pipe_), &fd) != 0) {
        return;
    }
    ssize_t n;
    do {
        n = ::read(fd, upgrade_buf_.data(), upgrade_buf_.size()); // the pipe is non-blocking
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        const uv_buf_t buf = uv_buf_init(upgrade_buf_.data(), static_cast<unsigned>(n));
        on_upgrade_read(n, &buf);
    }
}

/// SIGTERM or SIGINT while an upgrade's new process has not said it serves: the stop is for
/// the service, so that process is stopped too (it holds the same sockets and would otherwise
/// come up after this one exits), and run() waits for it before returning. Once it serves
/// (handed_over_), a stop of this process is only the end of the old one's drain.
void Server::stop_upgrade_child(const char* signal_name) {
    const pid_t pid = upgrade_child_.pid;
    end_upgrade_pipe();
    // Not once it has been waited for: its pid may belong to another process by now.
    if (!upgrade_child_reaped_ && ::kill(pid, SIGTERM) == 0) {
        KAHTTPD_LOG(warn, "caught %s during the upgrade: stopping the new process (pid %ld) too",
                    signal_name, static_cast<long>(pid));
        stopped_child_ = pid;
    }
}

/// SIGCHLD: an upgrade's new process that failed. (One that serves outlives this process.)
void Server::reap_children() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == upgrade_child_.pid) {
            upgrade_child_reaped_ = true;
        }
        if (WIFEXITED(status)) {
            KAHTTPD_LOG(warn, "upgrade: pid %ld exited with status %d", static_cast<long>(pid),
                        WEXITSTATUS(status));
        } else if (WIFSIGNALED(status)) {
            KAHTTPD_LOG(warn, "upgrade: pid %ld was killed by signal %d", static_cast<long>(pid),
                        WTERMSIG(status));
        }
    }
}

// ---- service manager notifications ------------------------------------------------------------

std::string Server::status_text() {
    // The requests of running workers come from the tally, as each last reported them (one
    // refresh behind); finished workers' are in the board's totals.
    std::uint64_t requests = 0;
    {
        std::lock_guard<std::mutex> lock(board_.mutex);
        requests = board_.retired.requests;
        std::lock_guard<std::mutex> tally_lock(tally_->mutex);
        for (const auto& [w, n] : tally_->requests) {
            if (std::find(board_.workers.begin(), board_.workers.end(), w) !=
                board_.workers.end()) {
                requests += n;
            }
        }
    }
    return "generation " + std::to_string(board_.generation.load()) + ", " +
           std::to_string(board_.open_connections.load(std::memory_order_relaxed)) +
           " connections, " + std::to_string(requests) + " requests served" +
           (handed_over_ ? ", handing over"
            : delaying_  ? ", draining"
                         : "");
}

void Server::on_notify_timer() {
    notify("STATUS=" + status_text());
    // Ask every running worker for its count, for the next refresh; forget finished ones.
    // Under the board's lock no worker can be destroyed while its task is posted.
    std::lock_guard<std::mutex> lock(board_.mutex);
    {
        std::lock_guard<std::mutex> tally_lock(tally_->mutex);
        std::erase_if(tally_->requests, [&](const auto& entry) {
            return std::find(board_.workers.begin(), board_.workers.end(), entry.first) ==
                   board_.workers.end();
        });
    }
    for (Worker* w : board_.workers) {
        w->post([tally = tally_, w] {
            const std::uint64_t n = w->stats().requests;
            std::lock_guard<std::mutex> tally_lock(tally->mutex);
            for (auto& entry : tally->requests) {
                if (entry.first == w) {
                    entry.second = n;
                    return;
                }
            }
            tally->requests.emplace_back(w, n);
        });
    }
}

int Server::run(conf::Config config) {
    // Socket activation, or an upgrade's new process: listening sockets passed in (fds 3..).
    inherited_ = take_inherited_sockets();
    upgrade_parent_ = take_upgrade_parent();
    exe_ = resolve_self_exe();
    std::string err;
    current_ = build(std::make_unique<conf::Config>(std::move(config)), err);
    // Inherited sockets that no Listen took serve nothing; they are not kept for a reload.
    for (const InheritedSocket& s : inherited_) {
        if (!s.claimed) {
            KAHTTPD_LOG(warn, "inherited socket %s (fd %d) matches no Listen address; closing it",
                        sockaddr_text(s.addr).c_str(), s.fd);
            ::close(s.fd);
        }
    }
    inherited_.clear();
    if (!current_) {
        std::fprintf(stderr, "kahttpd: %s\n", err.c_str());
        for (auto& l : listeners_) {
            for (int fd : l.fds) {
                ::close(fd);
            }
        }
        return 1;
    }
    const conf::Config& cfg = *current_->config;
    // The PID file exists before the server says it is ready, so whoever waits for the
    // "listening" line can rely on it; it is written while still root (Apache's parent does
    // the same), so /run works.
    pid_file_ = cfg.pid_file;
    write_pid_file(pid_file_);
    // Sockets bound, logs open: from here on the server runs as User/Group.
    if (const std::string e = drop_privileges(cfg, log_paths(cfg)); !e.empty()) {
        std::fprintf(stderr, "kahttpd: %s\n", e.c_str());
        KAHTTPD_LOG(error, "%s", e.c_str());
        current_.reset();
        for (auto& l : listeners_) {
            for (int fd : l.fds) {
                ::close(fd);
            }
        }
        if (!pid_file_.empty()) {
            ::unlink(pid_file_.c_str());
        }
        return 1;
    }

    uv_loop_init(&loop_);
    uv_async_init(&loop_, &reap_async_, &Server::on_reap_cb);
    reap_async_.data = this;
    uv_timer_init(&loop_, &delay_timer_);
    delay_timer_.data = this;
    uv_timer_init(&loop_, &notify_timer_);
    notify_timer_.data = this;
    const int signums[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD};
    static_assert(std::size(signums) == std::tuple_size_v<decltype(signals_)>);
    for (std::size_t i = 0; i < signals_.size(); ++i) {
        uv_signal_init(&loop_, &signals_[i]);
        signals_[i].data = this;
        uv_signal_start(&signals_[i], &Server::on_signal_cb, signums[i]);
    }
    start(*current_);
    for (const Listener& l : listeners_) {
        std::printf("kahttpd: listening on %s (%zu workers, DocumentRoot %s)\n",
                    announced_address(l).c_str(), current_->workers.size(),
                    cfg.document_root.c_str());
    }
    std::fflush(stdout);
    // Serving: tell the service manager (an upgrade's new process is the main one from now
    // on), then the old process, which drains and exits.
    std::string ready = "READY=1\nSTATUS=" + status_text();
    if (upgrade_parent_.pid != 0) {
        ready = "MAINPID=" + std::to_string(::getpid()) + "\n" + ready;
        KAHTTPD_LOG(warn, "upgrade: serving in place of pid %ld, which finishes its requests",
                    static_cast<long>(upgrade_parent_.pid));
    }
    notify(ready);
    report_upgrade_ready(upgrade_parent_);
    if (notify_enabled()) {
        // STATUS= refresh; only under a service manager. KAHTTPD_NOTIFY_INTERVAL_MS (tests)
        // overrides the 5 s period.
        std::uint64_t period = 5000;
        if (const char* env = std::getenv("KAHTTPD_NOTIFY_INTERVAL_MS")) {
            period = std::max<std::uint64_t>(10, std::strtoull(env, nullptr, 10));
        }
        uv_timer_start(&notify_timer_, &Server::on_notify_timer_cb, period, period);
        on_notify_timer(); // the first counts, for the first refresh
    }

    uv_run(&loop_, UV_RUN_DEFAULT);
    if (stopped_child_ > 0) {
        // Bounded by the new process's own drain (its GracefulShutdownTimeout). ECHILD: the
        // SIGCHLD reaper got it first. Before the signal handles close: until then a second
        // SIGTERM, or logrotate's SIGUSR1 to every process of the unit, only reaches libuv's
        // handler instead of taking its default action and killing this process.
        int status = 0;
        while (::waitpid(stopped_child_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    for (uv_signal_t& h : signals_) {
        uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT); // the close callbacks
    int rc = exit_status_;
    auto join = [&rc](Generation& gen) {
        for (auto& t : gen.threads) {
            t.join();
        }
        for (int r : gen.results) {
            rc |= r;
        }
    };
    join(*current_);
    for (auto& gen : retiring_) {
        join(*gen);
    }
    rc |= uv_loop_close(&loop_);
    // After an upgrade the PidFile holds the new process's pid: it stays.
    if (!pid_file_.empty() && !handed_over_) {
        ::unlink(pid_file_.c_str());
    }
    for (auto& l : listeners_) {
        for (int fd : l.fds) {
            ::close(fd);
        }
    }
    KAHTTPD_LOG(info, "stopped: %llu connections, %llu requests",
                static_cast<unsigned long long>(board_.retired.accepted),
                static_cast<unsigned long long>(board_.retired.requests));
    retiring_.clear();
    current_.reset();
    if (rc != 0) {
        KAHTTPD_LOG(error, "event loops did not close cleanly");
        return 1;
    }
    return 0;
}

} // namespace

std::string build_info() {
    std::string out = "kahttpd " KAHTTPD_VERSION_STRING "\n";
#if defined(__clang__)
    out += "compiler: clang " __clang_version__ "\n";
#elif defined(__GNUC__)
    out += "compiler: g++ " __VERSION__ "\n";
#endif
    out += "C++ standard: " + std::to_string(__cplusplus) + "\n";
    out += std::string("libuv: ") + uv_version_string() + "\n";
    out += "llhttp: " + std::to_string(LLHTTP_VERSION_MAJOR) + "." +
           std::to_string(LLHTTP_VERSION_MINOR) + "." + std::to_string(LLHTTP_VERSION_PATCH) +
           " (strict mode)\n";
    out += std::string("zlib: ") + zlibVersion() + "\n";
    const std::uint32_t br = BrotliEncoderVersion();
    out += "brotli: " + std::to_string(br >> 24) + "." + std::to_string((br >> 12) & 0xfff) + "." +
           std::to_string(br & 0xfff) + "\n";
    out += "tls: " + tls_library_version() + "\n";
    out.append("pcre2: ").append(conf::pcre2_version()).append("\n");
    out += "features: keep-alive timer wheel, open-file cache, sendfile, TLS 1.2/1.3 (SNI, "
           "session tickets and cache), compression on the fly "
           "(gzip, br), PROXY protocol v1/v2, RemoteIPHeader, systemd notify and socket "
           "activation, binary upgrade (SIGUSR2), PCRE2 sections\n";
#if defined(__SANITIZE_ADDRESS__)
    out += "built with: AddressSanitizer\n";
#endif
    return out;
}

void write_pid_file(const std::string& path) {
    if (path.empty()) {
        return;
    }
    if (std::FILE* f = std::fopen(path.c_str(), "w")) {
        std::fprintf(f, "%ld\n", static_cast<long>(::getpid()));
        std::fclose(f);
    } else {
        KAHTTPD_LOG(error, "PidFile %s cannot be written: %s", path.c_str(), std::strerror(errno));
    }
}

LogLevel server_log_level(conf::LogLevel configured) {
    using L = conf::LogLevel;
    LogLevel level = LogLevel::warn;
    switch (configured) {
    case L::emerg:
    case L::alert:
    case L::crit:
    case L::error:
        level = LogLevel::error;
        break;
    case L::warn:
        level = LogLevel::warn;
        break;
    case L::notice:
    case L::info:
        level = LogLevel::info;
        break;
    case L::debug:
        level = LogLevel::debug;
        break;
    }
    if (const char* env = std::getenv("KAHTTPD_LOG_LEVEL"); env != nullptr && *env != '\0') {
        // An override for debugging and tests, above every LogLevel line (a vhost's too).
        const std::string l = env;
        level = l == "debug"   ? LogLevel::debug
                : l == "info"  ? LogLevel::info
                : l == "error" ? LogLevel::error
                               : LogLevel::warn;
    }
    return level;
}

int open_error_log(const conf::Config& config, std::string& err) {
    if (error_log_is_stderr(config.error_log)) {
        return STDERR_FILENO;
    }
    const int fd = open_log_file(config.error_log);
    if (fd < 0) {
        const auto from = config.sources.find("ErrorLog");
        err = (from != config.sources.end() ? from->second + ": " : std::string()) +
              "ErrorLog: cannot open " + config.error_log + ": " + std::strerror(errno);
    }
    return fd;
}

void apply_log_settings(const conf::Config& config) {
    g_log_level = static_cast<int>(server_log_level(config.log_level));
}

int run_server(conf::Config config, ConfigLoader reload, std::vector<std::string> argv) {
    // A write to a socket the client closed must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    Server server(std::move(reload), std::move(argv));
    return server.run(std::move(config));
}

} // namespace kahttpd::server
