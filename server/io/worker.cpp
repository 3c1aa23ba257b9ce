#include "server/io/worker.hpp"

#include "server/io/connection.hpp"
#include "server/obs/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace kahttpd::server {

namespace {

std::uint64_t init_loop(uv_loop_t& loop) noexcept {
    uv_loop_init(&loop);
    return uv_now(&loop);
}

} // namespace

Worker::Worker(unsigned id, const SharedState& shared, std::vector<int> listen_fds,
               std::vector<bool> listen_tls)
    : id_(id), shared_(shared), listen_fds_(std::move(listen_fds)),
      listen_tls_(std::move(listen_tls)), wheel_(init_loop(loop_)),
      read_buffer_(kReadBufferSize) {
    loop_.data = this;
    random_state_ ^= (static_cast<std::uint64_t>(id) + 1) * 0xbf58476d1ce4e5b9ull ^ uv_hrtime();
    listeners_.resize(listen_fds_.size());
    uv_async_init(&loop_, &wake_async_, &Worker::on_async_cb);
    wake_async_.data = this;
    uv_timer_init(&loop_, &wheel_timer_);
    wheel_timer_.data = this;
    uv_timer_init(&loop_, &hard_stop_timer_);
    hard_stop_timer_.data = this;
    uv_timer_init(&loop_, &log_timer_);
    log_timer_.data = this;
    uv_timer_init(&loop_, &queue_timer_);
    queue_timer_.data = this;
    log_buffers_.resize(shared_.access_logs.size());
}

Worker::~Worker() {
    if (ran_) {
        return; // run() closed every handle and the loop
    }
    // Built but never started (a reload that failed half-way): give back the descriptors.
    for (int fd : listen_fds_) {
        ::close(fd);
    }
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&wake_async_),
                           reinterpret_cast<uv_handle_t*>(&wheel_timer_),
                           reinterpret_cast<uv_handle_t*>(&hard_stop_timer_),
                           reinterpret_cast<uv_handle_t*>(&log_timer_),
                           reinterpret_cast<uv_handle_t*>(&queue_timer_)}) {
        uv_close(h, nullptr);
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
}

void Worker::request_stop(bool reload) noexcept {
    int none = 0;
    stop_request_.compare_exchange_strong(none, reload ? 2 : 1);
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (inbox_open_) {
        uv_async_send(&wake_async_);
    }
}

bool Worker::post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (!inbox_open_) {
        return false;
    }
    inbox_.push_back(std::move(task));
    uv_async_send(&wake_async_);
    return true;
}

namespace {

/// One status request in flight: the snapshots arrive from the workers' threads.
struct StatusGather {
    StatusBoard* board = nullptr;
    std::mutex mutex;
    StatusReport report; // guarded by mutex until `pending` reaches 0
    unsigned pending = 0;
    Worker* origin = nullptr;
    std::uint64_t conn_id = 0;
    bool json = false;
    unsigned refresh = 0;
};

void contribute(const std::shared_ptr<StatusGather>& q, WorkerSnapshot* snapshot) {
    {
        std::lock_guard<std::mutex> lock(q->mutex);
        if (snapshot != nullptr) {
            q->report.workers.push_back(std::move(*snapshot));
        }
        if (--q->pending != 0) {
            return;
        }
    }
    // The last one in: back to the asking worker's thread. If it has finished (and may be
    // freed by now: a reload), its connection is gone too and there is no one left to answer.
    // The board's lock keeps a registered worker alive while the task is posted.
    Worker* origin = q->origin;
    std::lock_guard<std::mutex> lock(q->board->mutex);
    if (std::find(q->board->workers.begin(), q->board->workers.end(), origin) ==
        q->board->workers.end()) {
        return;
    }
    origin->post([q, origin] {
        std::sort(q->report.workers.begin(), q->report.workers.end(),
                  [](const WorkerSnapshot& a, const WorkerSnapshot& b) {
                      return a.generation != b.generation ? a.generation < b.generation
                                                          : a.id < b.id;
                  });
        if (Connection* c = origin->find(q->conn_id)) {
            c->finish_status(q->report);
        }
    });
}

} // namespace

void Worker::gather_status(std::uint64_t conn_id, bool json, unsigned refresh, unsigned limit) {
    auto q = std::make_shared<StatusGather>();
    q->origin = this;
    q->conn_id = conn_id;
    q->json = json;
    q->refresh = refresh;
    q->report.table_limit = limit;
    StatusBoard& board = *shared_.board;
    q->report.version = shared_.server_version;
    q->report.budget = shared_.connection_budget;
    q->report.open_connections = board.open_connections.load(std::memory_order_relaxed);
    q->report.queued_connections = board.queued_connections.load(std::memory_order_relaxed);
    q->report.idle_timeout_ms = idle_timeout_ms();
    q->report.keep_alive_timeout_ms =
        static_cast<std::uint64_t>(shared_.config->keep_alive_timeout.count());
    q->report.reap_floor_ms = reap_floor_ms();
    q->report.started_unix = board.started_unix;
    q->report.uptime_ms = uv_hrtime() / 1000000 - board.started_ms;
    q->report.generation = board.generation.load();
    q->report.reloads = board.reloads.load();
    q->board = &board;
    unsigned refused = 0;
    {
        // Under the board's lock no worker can be destroyed, so every pointer stays valid
        // while the tasks are posted; a worker that has finished refuses its task and counts
        // as done.
        std::lock_guard<std::mutex> lock(board.mutex);
        q->report.retired = board.retired;
        q->pending = static_cast<unsigned>(board.workers.size()) + 1; // +1: our own hold
        for (Worker* w : board.workers) {
            if (!w->post([q, w, limit] {
                    WorkerSnapshot s = w->snapshot(limit);
                    contribute(q, &s);
                })) {
                ++refused;
            }
        }
    }
    // Outside the lock (contribute takes it to post the completion).
    for (unsigned i = 0; i < refused; ++i) {
        contribute(q, nullptr);
    }
    contribute(q, nullptr); // release the hold: completes now if every worker already answered
}

Connection* Worker::find(std::uint64_t id) noexcept {
    Connection* found = nullptr;
    connections_.for_each([&](Connection& c) {
        if (c.id() == id) {
            found = &c;
        }
    });
    return found;
}

WorkerSnapshot Worker::snapshot(std::size_t max_rows) const {
    WorkerSnapshot s;
    s.id = id_;
    s.generation = shared_.generation;
    s.retiring = retiring_;
    s.stats = stats_;
    const std::uint64_t now = uv_hrtime() / 1000000;
    s.timers_armed = wheel_.armed();
    s.timers_scheduled = wheel_.stats().scheduled;
    s.timer_expirations = wheel_.stats().expirations;
    s.timer_lag = wheel_.stats().lag;
    s.timer_lag_max_ms = wheel_.stats().lag_max_ms;
    // The ten whole seconds before this one.
    const std::uint64_t second = now / 1000;
    std::uint64_t fired = 0;
    for (std::size_t i = 0; i < fired_per_s_.size(); ++i) {
        if (fired_second_[i] + 10 >= second && fired_second_[i] < second) {
            fired += fired_per_s_[i];
        }
    }
    s.expirations_per_s = static_cast<double>(fired) / 10.0;
    s.connections.reserve(std::min(connections_.size(), max_rows));
    const_cast<IntrusiveList<Connection>&>(connections_).for_each([&](Connection& c) {
        ++s.by_state[static_cast<std::size_t>(c.state())];
        if (s.connections.size() < max_rows) {
            s.connections.push_back(c.status_row(now));
        }
    });
    return s;
}

namespace {

/// Asked once per listener rather than once per connection: its address when it is bound to
/// one, whether it carries TCP_NODELAY for its connections, and whether it defers accepts.
ListenerFacts listener_facts(uv_tcp_t& listener) noexcept {
    ListenerFacts f;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        const bool wildcard =
            ss.ss_family == AF_INET6
                ? IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr)
                : reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr == INADDR_ANY;
        // A transparent socket (TPROXY, systemd's Transparent=yes) accepts connections to
        // addresses other than its own: those ask getsockname per connection.
        int transparent = 0;
        socklen_t tlen = sizeof transparent;
        uv_os_fd_t lfd = -1;
        if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&listener), &lfd) == 0) {
            if (ss.ss_family == AF_INET6) {
                ::getsockopt(lfd, IPPROTO_IPV6, IPV6_TRANSPARENT, &transparent, &tlen);
            } else {
                ::getsockopt(lfd, IPPROTO_IP, IP_TRANSPARENT, &transparent, &tlen);
            }
        }
        if (!wildcard && transparent == 0 &&
            (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
            f.local_known = true;
            f.local_ip = ip_bytes(ss, &f.local_port);
        }
    }
    uv_os_fd_t fd = -1;
    int nodelay = 0;
    socklen_t len_nd = sizeof nodelay;
    f.nodelay = uv_fileno(reinterpret_cast<const uv_handle_t*>(&listener), &fd) == 0 &&
                ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len_nd) == 0 &&
                nodelay != 0;
    int defer = 0;
    socklen_t len_df = sizeof defer;
    f.deferred = fd >= 0 && ::getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, &len_df) == 0 &&
                 defer != 0;
    return f;
}

} // namespace

void Worker::start_listening() noexcept {
    listener_facts_.assign(listen_fds_.size(), ListenerFacts{});
    for (std::size_t i = 0; i < listen_fds_.size(); ++i) {
        uv_tcp_t& l = listeners_[i];
        uv_tcp_init(&loop_, &l);
        l.data = this;
        int rc = uv_tcp_open(&l, listen_fds_[i]);
        if (rc == 0) {
            listener_facts_[i] = listener_facts(l);
        }
        if (rc != 0) {
            ::close(listen_fds_[i]); // not adopted by the handle, so still ours
        } else {
            rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l), 511, &Worker::on_connection_cb);
        }
        if (rc != 0) {
            KAHTTPD_LOG(error, "worker %u: cannot listen: %s", id_, uv_strerror(rc));
        }
    }
}

int Worker::run() noexcept {
    ran_ = true;
    start_listening();
    uv_run(&loop_, UV_RUN_DEFAULT);
    const int rc = uv_loop_close(&loop_);
    if (rc != 0) {
        KAHTTPD_LOG(error, "worker %u: uv_loop_close: %s (a handle was left open)", id_,
                    uv_err_name(rc));
    }
    return rc;
}

void Worker::on_connection_cb(uv_stream_t* server, int status) noexcept {
    static_cast<Worker*>(server->data)->on_connection(server, status);
}

void Worker::on_connection(uv_stream_t* server, int status) noexcept {
    if (status < 0) {
        KAHTTPD_LOG(warn, "worker %u: accept: %s", id_, uv_strerror(status));
        if (status == UV_EMFILE || status == UV_ENFILE) {
            // Out of descriptors despite the budget (another part of the process, or the
            // system, took them): libuv's reserve descriptor let it refuse this connection
            // cleanly; give a descriptor back so that the next one gets in.
            make_room();
        }
        return;
    }
    if (draining_) {
        return;
    }
    // Freed only by its own close callback (Connection::on_close_cb).
    // Unique in the process: generation, worker, then a counter (2^40 per worker).
    const std::uint64_t id = (static_cast<std::uint64_t>(shared_.generation & 0xffff) << 48) |
                             (static_cast<std::uint64_t>(id_ & 0xff) << 40) | next_conn_id_++;
    auto* c = new Connection(*this, id);
    StatusBoard& board = *shared_.board;
    const std::uint32_t budget = shared_.connection_budget;
    // Those already waiting for a slot go first.
    if (!queued_.empty()) {
        admit_queued();
    }
    const std::uint32_t open = board.open_connections.fetch_add(1, std::memory_order_relaxed);
    // At the budget the new connection takes the slot of an idle or a stalled one; the closed
    // one gives its descriptor back within the loop iteration (idle) or the short linger
    // (evicted), which the budget's headroom covers. With none to take yet, it waits for one.
    auto admission = Connection::Admission::serve;
    if (budget != 0 && (!queued_.empty() || (open >= budget && !make_room()))) {
        admission =
            board.queued_connections.load(std::memory_order_relaxed) < shared_.connection_queue
                ? Connection::Admission::queue
                : Connection::Admission::refuse;
    }
    // An https address: the connection starts with a TLS handshake, with this worker's
    // contexts.
    const auto slot = static_cast<std::size_t>(reinterpret_cast<uv_tcp_t*>(server) - listeners_.data());
    const TlsContexts* tls = slot < listen_tls_.size() && listen_tls_[slot] && id_ < shared_.tls.size()
                                 ? shared_.tls[id_].get()
                                 : nullptr;
    c->start(server, admission, tls, listener_facts_[slot]);
}

void Worker::enqueue(Connection& c) noexcept {
    StatusBoard& board = *shared_.board;
    board.open_connections.fetch_sub(1, std::memory_order_relaxed);
    board.queued_connections.fetch_add(1, std::memory_order_relaxed);
    ++stats_.queued;
    if (queued_.empty()) {
        // Something that make_room() may close comes of age (the floor) without any event
        // here, and a slot freed by another worker tells this one nothing: look again soon.
        uv_timer_start(&queue_timer_, &Worker::on_queue_timer_cb, kQueueRetryMs, kQueueRetryMs);
    }
    queued_.push_back(c.node());
}

void Worker::dequeue(Connection& c) noexcept {
    shared_.board->queued_connections.fetch_sub(1, std::memory_order_relaxed);
    // Closing: tracked with the others until its close callback frees it.
    connections_.push_back(c.node());
    if (queued_.empty()) {
        uv_timer_stop(&queue_timer_);
    }
}

void Worker::admit_queued() noexcept {
    StatusBoard& board = *shared_.board;
    const std::uint32_t budget = shared_.connection_budget;
    while (Connection* c = queued_.front()) {
        if (budget != 0 && board.open_connections.load(std::memory_order_relaxed) >= budget &&
            !make_room()) {
            return;
        }
        board.queued_connections.fetch_sub(1, std::memory_order_relaxed);
        board.open_connections.fetch_add(1, std::memory_order_relaxed);
        connections_.push_back(c->node());
        if (queued_.empty()) {
            uv_timer_stop(&queue_timer_);
        }
        c->admit();
    }
}

void Worker::on_queue_timer_cb(uv_timer_t* handle) noexcept {
    static_cast<Worker*>(handle->data)->admit_queued();
}

std::uint64_t Worker::reap_floor_ms() const noexcept {
    const conf::Config& cfg = *shared_.config;
    return static_cast<std::uint64_t>(
        std::min(cfg.keep_alive_min_timeout, cfg.keep_alive_timeout).count());
}

std::uint64_t Worker::idle_timeout_ms() const noexcept {
    const auto timeout = static_cast<std::uint64_t>(shared_.config->keep_alive_timeout.count());
    const std::uint32_t budget = shared_.connection_budget;
    if (budget == 0) {
        return timeout;
    }
    const std::uint64_t open = shared_.board->open_connections.load(std::memory_order_relaxed);
    if (2 * open <= budget) {
        return timeout;
    }
    // Linear from the timeout at half the budget to the floor at the full budget.
    const std::uint64_t floor = reap_floor_ms();
    const std::uint64_t half = budget - budget / 2;
    const std::uint64_t over = std::min<std::uint64_t>(open - budget / 2, half);
    return timeout - (timeout - floor) * over / half;
}

bool Worker::make_room() noexcept {
    const std::uint64_t now = uv_hrtime() / 1000000;
    const std::uint64_t floor = reap_floor_ms();
    // Oldest activity first: an idle connection, else a request head that has waited longest.
    if (connections_.any_of([&](Connection& c) { return c.make_room(now, floor, false); })) {
        return true;
    }
    return connections_.any_of([&](Connection& c) { return c.make_room(now, floor, true); });
}

void Worker::touch(Connection& c) noexcept {
    c.node().unlink();
    connections_.push_back(c.node());
}

std::uint64_t Worker::lifetime_ms() noexcept {
    const auto cap = static_cast<std::uint64_t>(shared_.config->max_keep_alive_time.count());
    if (cap == 0) {
        return 0;
    }
    // xorshift64: per worker, no lock, good enough to spread reconnects.
    random_state_ ^= random_state_ << 13;
    random_state_ ^= random_state_ >> 7;
    random_state_ ^= random_state_ << 17;
    const std::uint64_t spread = cap * shared_.config->max_keep_alive_time_jitter / 100;
    return cap - (spread == 0 ? 0 : random_state_ % (spread + 1));
}

void Worker::link(Connection& c) noexcept {
    connections_.push_back(c.node());
}

void Worker::on_connection_freed(Connection& c) noexcept {
    c.node().unlink();
    if (!c.queued()) {
        shared_.board->open_connections.fetch_sub(1, std::memory_order_relaxed);
        if (!queued_.empty() && !draining_) {
            admit_queued(); // its slot is free
        }
    }
    maybe_finish();
}

// ---- timers ----------------------------------------------------------------------------------

void Worker::schedule(TimerEntry& entry, std::uint64_t delay_ms) noexcept {
    // From the current time, not the loop's cached one: uv_now() is taken when the poll
    // returned, before this request was processed and answered, and a deadline counted from it
    // could fire (by a fraction of a millisecond) before `delay_ms` had passed for the client.
    // The +1 covers the truncation to whole milliseconds.
    const std::uint64_t at = uv_hrtime() / 1000000 + delay_ms + 1;
    wheel_.schedule(entry, at);
    // Lazy re-arm (nginx's habit): the libuv timer moves only when this deadline comes before
    // the one it is already set for. A later wake-up finds nothing due and re-arms itself.
    if (at < wheel_timer_due_) {
        arm_wheel_timer();
    }
}

void Worker::arm_wheel_timer() noexcept {
    const auto next = wheel_.next_run();
    if (!next) {
        uv_timer_stop(&wheel_timer_);
        wheel_timer_due_ = UINT64_MAX;
        return;
    }
    const std::uint64_t now = now_ms();
    const std::uint64_t delay = *next > now ? *next - now : 0;
    wheel_timer_due_ = now + delay;
    uv_timer_start(&wheel_timer_, &Worker::on_wheel_timer_cb, delay, 0);
}

void Worker::on_wheel_timer_cb(uv_timer_t* handle) noexcept {
    static_cast<Worker*>(handle->data)->on_wheel_timer();
}

void Worker::on_wheel_timer() noexcept {
    wheel_timer_due_ = UINT64_MAX;
    const std::uint64_t now = now_ms();
    const std::size_t fired = wheel_.run(now);
    if (fired != 0) {
        // Per-second expiration counts for the status page's rate.
        const std::uint64_t second = uv_hrtime() / 1000000000;
        const std::size_t slot = second % fired_per_s_.size();
        if (fired_second_[slot] != second) {
            fired_second_[slot] = second;
            fired_per_s_[slot] = 0;
        }
        fired_per_s_[slot] += fired;
    }
    if (!finished_) {
        arm_wheel_timer();
    }
}

// ---- stopping --------------------------------------------------------------------------------

void Worker::on_async_cb(uv_async_t* handle) noexcept {
    static_cast<Worker*>(handle->data)->on_wake();
}

void Worker::on_wake() noexcept {
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        tasks.swap(inbox_);
    }
    for (auto& task : tasks) {
        task();
    }
    if (stop_request_.load() != 0) {
        on_stop();
    }
}

void Worker::on_stop() noexcept {
    if (draining_) {
        return;
    }
    draining_ = true;
    retiring_ = stop_request_.load() == 2;
    KAHTTPD_LOG(info, "worker %u: %s, %zu connections open", id_,
                retiring_ ? "handing over to the reloaded configuration" : "stopping",
                connections_.size());
    for (auto& l : listeners_) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l))) {
            uv_close(reinterpret_cast<uv_handle_t*>(&l), nullptr);
        }
    }
    // Queued ones close (each moves to connections_ as it does), then every open one drains.
    queued_.for_each([](Connection& c) { c.on_server_drain(); });
    connections_.for_each([](Connection& c) { c.on_server_drain(); });
    // GracefulShutdownTimeout: the hard deadline of the drain.
    const auto hard_ms = shared_.config->graceful_shutdown_timeout.count();
    uv_timer_start(&hard_stop_timer_, &Worker::on_hard_stop_cb,
                   static_cast<std::uint64_t>(hard_ms > 0 ? hard_ms : 0), 0);
    maybe_finish();
}

void Worker::on_hard_stop_cb(uv_timer_t* handle) noexcept {
    auto* self = static_cast<Worker*>(handle->data);
    KAHTTPD_LOG(warn, "worker %u: shutdown deadline passed, closing %zu connections", self->id_,
                self->connections_.size());
    self->connections_.for_each([self](Connection& c) { c.close(self->drain_reason()); });
}

void Worker::maybe_finish() noexcept {
    if (draining_ && !finished_ && connections_.empty() && queued_.empty()) {
        finish();
    }
}

/// The framing of a pending line: the sink's index (two bytes), the line's length (four bytes),
/// then the line.
constexpr std::size_t kPendingHeader = 6;

void Worker::access_log(const HostContext& host, const AccessRecord& record,
                        std::string& pending) noexcept {
    for (const std::uint16_t sink : host.access_logs) {
        const std::size_t at = pending.size();
        pending.append(kPendingHeader, '\0');
        std::memcpy(pending.data() + at, &sink, 2);
        shared_.access_logs[sink].format.append(pending, record);
        const auto len = static_cast<std::uint32_t>(pending.size() - at - kPendingHeader);
        std::memcpy(pending.data() + at + 2, &len, 4);
    }
}

void Worker::commit_access_log(std::string& pending, bool aborted) noexcept {
    bool full = false;
    std::size_t at = 0;
    while (at + kPendingHeader <= pending.size()) {
        std::uint16_t sink = 0;
        std::uint32_t len = 0;
        std::memcpy(&sink, pending.data() + at, 2);
        std::memcpy(&len, pending.data() + at + 2, 4);
        char* line = pending.data() + at + kPendingHeader;
        if (shared_.access_logs[sink].format.writes_status_marks()) {
            resolve_connection_status(line, len, aborted);
        }
        log_buffers_[sink].append(line, len);
        full = full || log_buffers_[sink].size() > 32 * 1024;
        at += kPendingHeader + len;
    }
    pending.clear();
    if (full) {
        flush_access_logs();
    } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&log_timer_))) {
        uv_timer_start(&log_timer_, &Worker::on_log_timer_cb, 1000, 0);
    }
}

void Worker::on_log_timer_cb(uv_timer_t* handle) noexcept {
    static_cast<Worker*>(handle->data)->flush_access_logs();
}

void Worker::flush_access_logs() noexcept {
    // A write to a regular file lands in the page cache without waiting for the disk; one
    // write per buffer keeps lines whole (O_APPEND).
    for (std::size_t i = 0; i < log_buffers_.size(); ++i) {
        std::string& buf = log_buffers_[i];
        std::size_t done = 0;
        while (done < buf.size()) {
            const ssize_t n =
                ::write(shared_.access_logs[i].fd, buf.data() + done, buf.size() - done);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                KAHTTPD_LOG(error, "worker %u: access log write failed: %s", id_,
                            std::strerror(errno));
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        buf.clear();
    }
    uv_timer_stop(&log_timer_);
}

void Worker::finish() noexcept {
    finished_ = true;
    {
        // Final counters go to the board's totals in the same step that takes this worker off
        // the list, so a status page never misses them or counts them twice.
        StatusBoard& board = *shared_.board;
        std::lock_guard<std::mutex> lock(board.mutex);
        board.retired.merge(stats_);
        std::erase(board.workers, this);
    }
    {
        // Tasks posted from now on are refused; those already queued run at the wake-up that
        // is still pending or are dropped with the loop (none of them owns a connection).
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        inbox_open_ = false;
    }
    // Tasks that were queued before the inbox closed still run (a status query waits for
    // this worker's answer).
    on_wake();
    flush_access_logs();
    uv_close(reinterpret_cast<uv_handle_t*>(&log_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&queue_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wheel_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&hard_stop_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_async_), nullptr);
}

} // namespace kahttpd::server
