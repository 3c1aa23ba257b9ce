#pragma once

#include "conf/config.hpp"
#include "conf/mime_types.hpp"
#include "parser/request_parser.hpp"
#include "server/http/close_reason.hpp"
#include "server/http/http_date.hpp"
#include "server/io/client_counts.hpp"
#include "server/io/listener_facts.hpp"
#include "server/obs/access_log.hpp"
#include "server/obs/status_page.hpp"
#include "server/static/site.hpp"
#include "server/tls/tls_context.hpp"
#include "server/util/intrusive_list.hpp"
#include "server/util/timer_wheel.hpp"

#include <uv.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kahttpd::server {

class Connection;

/// One CustomLog: its open file (shared by the workers, O_APPEND so their writes never
/// interleave within a line) and its compiled format. Lines naming the same file and format
/// in several scopes share one sink (and so one buffer per worker).
struct AccessLogSink {
    int fd = -1;
    AccessLogFormat format;
};

/// A log file of one configuration generation (a CustomLog or a vhost's ErrorLog), opened once
/// however many lines of any scope name it, as Apache shares it. The generation closes it when
/// its last worker has finished; SIGUSR1 reopens it in place (dup3), so every sink and error
/// log pointing at the descriptor follows. /dev/stdout and /dev/stderr are never listed here.
struct LogFile {
    std::string path;
    int fd = -1;
};

/// What every worker reads and nobody writes while serving: the Site the handlers see, plus
/// what only the transport needs. Built by the main thread before the workers start and
/// outliving them. One per configuration generation (a reload builds a new one while the old
/// one's workers finish).
struct SharedState : Site {
    parser::ParseLimits limits;
    /// One per distinct CustomLog (file and format) of any scope; each HostContext lists the
    /// ones its requests are written to (HostContext::access_logs).
    std::vector<AccessLogSink> access_logs;
    std::vector<LogFile> log_files; ///< every file the sinks and the vhost error logs write to
    StatusBoard* board = nullptr;   ///< process-wide, for the status page
    /// The most connections open at once, over every worker (0 = no limit): MaxConnections,
    /// and what the descriptor limit leaves (server.cpp, connection_budget()).
    std::uint32_t connection_budget = 0;
    /// How many connections may wait for a slot at the budget, over every worker (0 = none
    /// with no budget); beyond it a new connection is closed at once.
    std::uint32_t connection_queue = 0;
    ClientCounts* client_counts = nullptr; ///< process-wide, for MaxConnectionsPerIP
    unsigned generation = 1;               ///< which configuration load this is (1 = the first)
    /// RemoteIPProxyProtocol On somewhere: each new connection asks
    /// Config::proxy_protocol_for() whether its first bytes must be a PROXY header.
    bool proxy_protocol = false;
    /// TLS contexts, one set per worker (indexed by worker id; empty without an https
    /// address), so session caches are per worker and no lock is shared on the request path.
    std::vector<std::unique_ptr<TlsContexts>> tls;
};

/// One event loop on one thread: its listening sockets, its connections, its timer wheel.
/// Nothing on the request path is shared with other workers.
class Worker {
  public:
    /// Size of the per-worker read buffer every read lands in (connections keep only the bytes
    /// of an unfinished request, and only while parsing is paused).
    static constexpr std::size_t kReadBufferSize = 64 * 1024;
    /// How often queued connections look for a slot while none frees by itself.
    static constexpr std::uint64_t kQueueRetryMs = 50;

    /// `listen_fds` are bound, listening, non-blocking sockets this worker now owns;
    /// `listen_tls[i]` says that socket i is an https address (missing: plain).
    Worker(unsigned id, const SharedState& shared, std::vector<int> listen_fds,
           std::vector<bool> listen_tls = {});
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    ~Worker();

    /// The thread body: serves until stopped and every handle is closed. Returns the value of
    /// uv_loop_close() (0 when nothing leaked).
    int run() noexcept;

    /// Asks the worker to drain and stop: on shutdown, or on reload (`reload`: a new
    /// configuration's workers take over; connections close with CloseReason::reload).
    /// Thread-safe.
    void request_stop(bool reload = false) noexcept;

    /// Runs `task` on this worker's thread soon. False when the worker has finished (the task
    /// is dropped). Thread-safe.
    bool post(std::function<void()> task);

    /// Counters, connection states and the live connection table (at most `max_rows` rows;
    /// the states count every connection). Worker thread only.
    WorkerSnapshot snapshot(std::size_t max_rows) const;

    /// Gathers a status report from every worker (this one included, each on its own thread)
    /// and hands it to connection `conn_id` of this worker when complete. Worker thread only.
    void gather_status(std::uint64_t conn_id, bool json, unsigned refresh, unsigned limit);

    /// The open connection with this id, or nullptr. Worker thread only; O(connections).
    Connection* find(std::uint64_t id) noexcept;

    // For connections (worker thread only).
    uv_loop_t* loop() noexcept { return &loop_; }
    const SharedState& shared() const noexcept { return shared_; }
    unsigned id() const noexcept { return id_; }
    WorkerStats& stats() noexcept { return stats_; }
    const WorkerStats& stats() const noexcept { return stats_; }
    DateCache& date() noexcept { return date_; }
    bool draining() const noexcept { return draining_; }
    /// Why connections close when the drain ends them (server_shutdown or reload).
    CloseReason drain_reason() const noexcept {
        return retiring_ ? CloseReason::reload : CloseReason::server_shutdown;
    }
    char* read_buffer() noexcept { return read_buffer_.data(); }
    /// Whether a connection just accepted may read and answer its first request inside the
    /// accept loop (Connection::read_now): at most kEarlyReadsPerTurn per turn of the loop (its
    /// clock), so a burst of connections cannot keep established ones and the timers waiting
    /// while libuv accepts until EAGAIN. The others wait for epoll, as without AcceptFilter.
    bool take_early_read() noexcept {
        const std::uint64_t now = uv_now(&loop_);
        if (now != early_reads_ms_) {
            early_reads_ms_ = now;
            early_reads_left_ = kEarlyReadsPerTurn;
        }
        if (early_reads_left_ == 0) {
            return false;
        }
        --early_reads_left_;
        return true;
    }
    static constexpr std::uint32_t kEarlyReadsPerTurn = 64;
    /// Milliseconds of the loop's clock (uv_now).
    std::uint64_t now_ms() const noexcept { return uv_now(&loop_); }

    /// Arms `entry` to fire `delay_ms` from now (the monotonic clock read now, not the loop's
    /// cached time), never early: the deadline is rounded up by one millisecond to cover the
    /// clock's truncation.
    void schedule(TimerEntry& entry, std::uint64_t delay_ms) noexcept;

    /// Formats one access-log line per CustomLog of `host` (its sinks, resolved with it) into
    /// `pending` (the connection's lines whose response is not yet completely sent).
    /// commit_access_log() moves them to the worker's buffers with %X resolved; those reach the
    /// files when a buffer passes 32 KiB, at least once a second, and when the worker stops: a
    /// clean stop loses none.
    void access_log(const HostContext& host, const AccessRecord& record,
                    std::string& pending) noexcept;
    void commit_access_log(std::string& pending, bool aborted) noexcept;

    /// Keep-alive under pressure (docs/architecture.md, "At the budget").
    /// The idle timeout for a connection going idle now: KeepAliveTimeout while at most half
    /// of the connection budget is in use, sliding linearly down to KeepAliveMinTimeout as the
    /// occupancy rises to 100 %.
    std::uint64_t idle_timeout_ms() const noexcept;
    /// KeepAliveMinTimeout, at most KeepAliveTimeout: nothing idle for less is reaped.
    std::uint64_t reap_floor_ms() const noexcept;
    /// The budget is reached and a new connection needs a slot: closes this worker's idle
    /// keep-alive connection that has been idle longest (at least the floor), else the one
    /// that has waited longest for its request head (at least the floor; it gets a 408).
    /// False when there is none.
    bool make_room() noexcept;
    /// The budget's queue (docs/architecture.md, "At the budget"): a new connection that finds
    /// the budget full and nothing that make_room() may close yet waits unread, in order of
    /// arrival, for a slot, as it would in a listen backlog but without losing its turn.
    /// enqueue() takes it off the budget; dequeue() when it closes while waiting.
    void enqueue(Connection& c) noexcept;
    void dequeue(Connection& c) noexcept;
    /// Moves `c` to the back of the connection list, which is kept in order of last activity
    /// (going idle), so make_room() finds the least recently active first.
    void touch(Connection& c) noexcept;
    /// The lifetime of a new connection under MaxKeepAliveTime (0 = none): the cap less a
    /// random part of up to its jitter, so clients that connected together do not all
    /// reconnect together.
    std::uint64_t lifetime_ms() noexcept;

    /// Called by a connection's close callback just before it is freed.
    void on_connection_freed(Connection& c) noexcept;
    void link(Connection& c) noexcept;

  private:
    void start_listening() noexcept;
    void on_connection(uv_stream_t* server, int status) noexcept;
    void on_wake() noexcept;
    /// Gives queued connections the slots that are free or that make_room() can free now,
    /// oldest first.
    void admit_queued() noexcept;
    static void on_queue_timer_cb(uv_timer_t* handle) noexcept;
    void on_stop() noexcept;
    void on_wheel_timer() noexcept;
    void arm_wheel_timer() noexcept;
    void maybe_finish() noexcept;
    void finish() noexcept;

    static void on_connection_cb(uv_stream_t* server, int status) noexcept;
    static void on_async_cb(uv_async_t* handle) noexcept;
    static void on_wheel_timer_cb(uv_timer_t* handle) noexcept;
    static void on_hard_stop_cb(uv_timer_t* handle) noexcept;
    static void on_log_timer_cb(uv_timer_t* handle) noexcept;
    void flush_access_logs() noexcept;

    unsigned id_;
    const SharedState& shared_;
    std::vector<int> listen_fds_;
    std::vector<bool> listen_tls_;
    uv_loop_t loop_;
    std::vector<uv_tcp_t> listeners_;
    std::vector<ListenerFacts> listener_facts_; // one per listeners_ entry
    uv_async_t wake_async_; // tasks in inbox_, or a stop request
    std::mutex inbox_mutex_;
    std::vector<std::function<void()>> inbox_; // guarded by inbox_mutex_
    bool inbox_open_ = true;                   // guarded by inbox_mutex_
    std::atomic<int> stop_request_{0};         // 0 none, 1 shutdown, 2 reload
    uv_timer_t wheel_timer_;
    uv_timer_t hard_stop_timer_;
    uv_timer_t log_timer_;
    uv_timer_t queue_timer_;               // while connections are queued: retries admit_queued()
    std::vector<std::string> log_buffers_; // one per SharedState::access_logs
    std::uint64_t wheel_timer_due_ = UINT64_MAX; // when wheel_timer_ fires, if armed
    TimerWheel wheel_;
    IntrusiveList<Connection> connections_;
    IntrusiveList<Connection> queued_; // waiting for a slot, oldest first (not in connections_)
    std::vector<char> read_buffer_;
    std::uint64_t early_reads_ms_ = 0;   // take_early_read(): the loop time of its budget
    std::uint32_t early_reads_left_ = 0; // ... and what is left of it
    DateCache date_;
    WorkerStats stats_;
    std::uint64_t next_conn_id_ = 1;
    std::uint64_t random_state_ = 0x9e3779b97f4a7c15ull; // xorshift64 state (lifetime jitter)
    // Timer expirations per second over the last 16 seconds (status page).
    std::array<std::uint64_t, 16> fired_per_s_{};
    std::array<std::uint64_t, 16> fired_second_{};
    bool draining_ = false;
    bool retiring_ = false;
    bool finished_ = false;
    bool ran_ = false; // run() was called (it owns the teardown from then on)
};

} // namespace kahttpd::server
